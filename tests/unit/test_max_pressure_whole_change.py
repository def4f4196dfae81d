"""[max_pressure] whole_change: leaving the phase in force, the target is the phase with the highest pressure per
second of its whole change (each movement it starts credited with the phase's minimum green against the change's
intergreen and start-up loss, change_useful), not per switch_service_s; whether to leave is decided as before.
From RiLSA_example4 with [timing] pair_intergreens (BENCHMARKS.md, N session 68): from the south's stage the main
stage sits behind an 11 s change, the north's stage (which keeps the south's through) behind 10 s; with T = 2 s the
second more of intergreen and the kept through outweigh a main road queue more than twice the north's, and the
policy serves the north first, then pays the 11 s change anyway."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy, change_useful, intergreen_matrix, switch_useful
from controller.core.safety import SignalView
from controller.errors import ConfigError
from controller.junctions import parse_intersection
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_program_order import paired_decisions

SOUTH, MAIN, NORTH = 0, 1, 2  # the phase in force (S through and left), E/W through, N through with S's through


def _uneven(pair_s: float = 11.0) -> Layout:
    """two_phase's four throughs and a south left S_L (link 4, its own lane eS_1). Stages: SOUTH (S_T, S_L), MAIN
    (E_T, W_T), NORTH (N_T, S_T). Yellow 3 s, all-red 7 s (a uniform change of 10 s); `pair_s` between S_T's link
    and W_T's (the city's program's pair intergreen): SOUTH -> MAIN and NORTH -> MAIN 11 s, SOUTH -> NORTH 10 s
    (S_L stops, N_T starts, S_T keeps its green)."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["all_red_s"] = 7.0
    raw["phases"] = [
        {"state": "rrGrG", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 20.0},
        {"state": "rGrGr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
        {"state": "GrGrr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 20.0},
    ]
    left = {**raw["movements"][2], "id": "S_L", "turn": "left", "lanes": ["eS_1"], "links": [4]}
    left["conflicts"] = ["N_T", "E_T", "W_T"]
    raw["movements"].append(left)
    for m in raw["movements"]:
        if m["id"] in ("N_T", "E_T", "W_T"):
            m["conflicts"] = sorted({*m["conflicts"], "S_L"})
    raw["detectors"] += [
        {"id": "S1_stop", "lane": "eS_1", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
        {"id": "S1_adv", "lane": "eS_1", "kind": "advance", "pos_m": 20.0, "dist_to_stop_m": 80.0},
    ]
    raw["pair_intergreen_s"] = {"2>3": pair_s}
    return Layout.build(parse_intersection(raw, "uneven.toml"), Config())


def _queues(lay: Layout, by_id: dict[str, float]) -> Estimate:
    est = Estimate.empty(lay, 0.0)
    q = np.array([by_id.get(m.id, 0.0) for m in lay.junction.movements])
    return dataclasses.replace(est, queue_pcu=q)


def _wish(lay: Layout, est: Estimate, on: bool) -> int:
    policy = MaxPressurePolicy(MaxPressureParams(whole_change=on))
    view = SignalView(SOUTH, False, 60.0, ())
    _, w = policy.decide(policy.init(lay, 0.0), lay, est, view, 100.0)
    assert w is not None
    return w.phase


def test_the_junction_has_the_uneven_table() -> None:
    lay = _uneven()
    ig = intergreen_matrix(lay)
    assert (ig[SOUTH, MAIN], ig[SOUTH, NORTH], ig[NORTH, MAIN], ig[MAIN, NORTH]) == (11.0, 10.0, 11.0, 10.0)
    # either order pays 21 s of intergreen: the north first avoids nothing
    assert ig[SOUTH, NORTH] + ig[NORTH, MAIN] == ig[SOUTH, MAIN] + ig[MAIN, NORTH]


def test_the_main_stage_behind_the_longer_change_is_served_first_with_the_key() -> None:
    """S's through 1 PCU (kept by NORTH), N 3 PCU, the main road 5 + 5 PCU, 1,800 PCU/h each, no waits: one step
    (T = 2 s, start-up loss 3 s) weighs MAIN 0.5 x 10 x 2 / 16 = 0.625 against NORTH 0.5 + 0.5 x 3 x 2 / 15 = 0.7:
    NORTH. Per second of the whole change (7 s minimum greens): MAIN 0.5 x 10 x 7 / 21 = 1.67, NORTH 0.5 + 0.5 x 3
    x 7 / 20 = 1.03: MAIN. Both above SOUTH's 0.5, so the policy leaves either way."""
    lay = _uneven()
    assert lay.params.startup_lost_s == 3.0
    est = _queues(lay, {"S_T": 1.0, "N_T": 3.0, "E_T": 5.0, "W_T": 5.0})
    assert _wish(lay, est, on=False) == NORTH
    assert _wish(lay, est, on=True) == MAIN


def test_the_key_never_changes_whether_the_policy_leaves() -> None:
    lay = _uneven()
    est = _queues(lay, {"S_T": 1.0, "S_L": 2.0, "N_T": 3.0, "E_T": 5.0, "W_T": 5.0})  # SOUTH 1.5 above both
    assert _wish(lay, est, on=False) == SOUTH == _wish(lay, est, on=True)


def test_change_useful_credits_each_phase_its_minimum_green() -> None:
    lay = _uneven()
    ig = intergreen_matrix(lay)
    u = change_useful(lay, ig, SOUTH, 2.0)
    e_t = [m.id for m in lay.junction.movements].index("E_T")
    s_t = [m.id for m in lay.junction.movements].index("S_T")
    assert u[MAIN, e_t] == pytest.approx(7.0 / 21.0)
    assert u[NORTH, s_t] == 1.0  # kept green: no loss
    assert switch_useful(lay, ig, SOUTH, 2.0)[MAIN, e_t] == pytest.approx(2.0 / 16.0)
    assert change_useful(lay, ig, SOUTH, 9.0)[MAIN, e_t] == pytest.approx(9.0 / 23.0)  # at least switch_service_s


def test_over_random_queues_the_key_moves_only_the_target() -> None:
    """On 4-phase junctions (random queues, phase in force and waits): with the key on the policy leaves exactly
    where it leaves off, never for a phase whose one-step pressure is not above the phase in force's, and the
    targets differ somewhere."""
    differ = 0
    for d in paired_decisions(MaxPressureParams(whole_change=True), 11, 300):
        assert d.w_on is not None and d.w_off is not None
        assert (d.w_on.phase == d.cur) == (d.w_off.phase == d.cur), (d.tick, d.jid, d.cur)
        differ += d.w_on != d.w_off
    assert differ > 0


def test_the_network_pass_is_not_used_with_the_key_on() -> None:
    lay = _uneven()
    assert MaxPressurePolicy(MaxPressureParams(whole_change=True)).network_decision({"J": lay}) is None


def test_config_reads_the_key_off_by_default_and_refuses_a_non_bool(tmp_path: Path) -> None:
    assert not load_config(Path(__file__).resolve().parents[2] / "config.toml").max_pressure.whole_change
    assert not MaxPressureParams().whole_change
    cfg = tmp_path / "c.toml"
    cfg.write_text("[max_pressure]\nwhole_change = true\n")
    assert load_config(cfg).max_pressure.whole_change
    cfg.write_text("[max_pressure]\nwhole_change = 2\n")
    with pytest.raises(ConfigError, match=r"c\.toml.*max_pressure\.whole_change"):
        load_config(cfg)

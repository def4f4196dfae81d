"""[max_pressure] lead_in: leaving the phase in force for a phase whose change holds some of its links longer than
others (pair intergreens, docs/import.md rule 5), the policy enters first a phase of a strict subset of its greens,
entered sooner, through which the rest of the target's green starts exactly when the change straight there starts it:
the city's program's own lead-in (RiLSA_example4: N's stage -> E alone -> E and W; BENCHMARKS.md, N session 68)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy, intergreen_matrix, lead_in
from controller.core.safety import SignalView
from controller.errors import ConfigError
from controller.junctions import parse_intersection
from tests.junction_fixtures import two_phase_raw

NS, LEAD, MAIN = 0, 1, 2  # N and S through; E alone (the lead-in); E and W


def _junction(pair_s: float | None = 6.0, lead_min_s: float = 1.0) -> Layout:
    """two_phase's four throughs in three stages, yellow 3 s and all-red 2 s (5 s uniform); `pair_s` from N's and
    S's links to W's (the program starts W a second after E): NS -> MAIN 6 s, NS -> LEAD 5 s, LEAD -> MAIN 0."""
    raw = two_phase_raw()
    raw["phases"] = [
        {"state": "GrGr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
        {"state": "rGrr", "min_green_s": lead_min_s, "max_green_s": 60.0, "base_green_s": 1.0},
        {"state": "rGrG", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 25.0},
    ]
    if pair_s is not None:
        raw["pair_intergreen_s"] = {"0>3": pair_s, "2>3": pair_s}
    return Layout.build(parse_intersection(raw, "lead.toml"), Config())


def test_the_change_into_main_goes_through_the_lead_in_where_the_pair_holds_w_a_second_longer() -> None:
    lay = _junction()
    ig = intergreen_matrix(lay)
    assert (ig[NS, MAIN], ig[NS, LEAD], ig[LEAD, MAIN]) == (6.0, 5.0, 0.0)
    assert lead_in(lay.junction, ig, NS, MAIN) == LEAD  # E at 5 s, W at 5 + 1 + 0 = 6 s: as straight there
    assert lead_in(lay.junction, ig, NS, LEAD) == LEAD
    assert lead_in(lay.junction, ig, MAIN, NS) == NS  # NS's greens are no subset of another's
    assert lead_in(lay.junction, ig, MAIN, MAIN) == MAIN


def test_no_lead_in_where_it_would_start_the_rest_later_or_sooner() -> None:
    uniform = _junction(pair_s=None)  # straight there 5 s: through LEAD W would start at 6 s, later
    assert lead_in(uniform.junction, intergreen_matrix(uniform), NS, MAIN) == MAIN
    long_lead = _junction(lead_min_s=2.0)  # 5 + 2 s: W later than the 6 s straight there
    assert lead_in(long_lead.junction, intergreen_matrix(long_lead), NS, MAIN) == MAIN
    far = _junction(pair_s=9.0)  # 5 + 1 + 0 = 6 s: W 3 s sooner than the pair keeps it from N and S (LEAD -> MAIN
    # stops nothing, so keeps no clearance of its own)
    assert lead_in(far.junction, intergreen_matrix(far), NS, MAIN) == MAIN


def _wish(lay: Layout, on: bool) -> int:
    est = Estimate.empty(lay, 0.0)
    est = dataclasses.replace(est, queue_pcu=np.array([0.0, 5.0, 0.0, 5.0]))  # N_T, E_T, S_T, W_T
    policy = MaxPressurePolicy(MaxPressureParams(lead_in=on))
    _, w = policy.decide(policy.init(lay, 0.0), lay, est, SignalView(NS, False, 60.0, ()), 100.0)
    assert w is not None
    return w.phase


def test_decide_enters_the_lead_in_with_the_key_and_the_target_without() -> None:
    lay = _junction()
    assert [m.id for m in lay.junction.movements] == ["N_T", "E_T", "S_T", "W_T"]
    assert _wish(lay, on=False) == MAIN
    assert _wish(lay, on=True) == LEAD


def test_the_network_pass_is_not_used_with_the_key_on() -> None:
    lay = _junction()
    assert MaxPressurePolicy(MaxPressureParams(lead_in=True)).network_decision({"J": lay}) is None


def test_config_reads_the_key_off_by_default_and_refuses_a_non_bool(tmp_path: Path) -> None:
    assert not load_config(Path(__file__).resolve().parents[2] / "config.toml").max_pressure.lead_in
    assert not MaxPressureParams().lead_in
    cfg = tmp_path / "c.toml"
    cfg.write_text("[max_pressure]\nlead_in = true\n")
    assert load_config(cfg).max_pressure.lead_in
    cfg.write_text("[max_pressure]\nlead_in = 2\n")
    with pytest.raises(ConfigError, match=r"c\.toml.*max_pressure\.lead_in"):
        load_config(cfg)

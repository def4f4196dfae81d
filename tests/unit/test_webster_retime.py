"""webster: a coordinated junction's plan as the city's, moved as little as the demand requires
(controller/core/policies/webster.py, retimed_greens_s, smoothed_flow_pcu_h and `[webster]
coordinated_retime`; issue 9, RESCO cologne3 / cologne8 and Bologna pasubio)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core import shadow
from controller.core.estimation import Estimate, Layout
from controller.core.params import WebsterParams
from controller.core.policies import make_policy
from controller.core.policies.webster import (
    WebsterPolicy,
    movement_needs_s,
    retimed_greens_s,
    smoothed_flow_pcu_h,
    webster_greens,
)
from controller.errors import ConfigError
from controller.junctions import parse_intersection
from tests.junction_fixtures import flows, four_phase_raw, green, two_phase_raw

CFG = Config()
ROOT = Path(__file__).resolve().parents[2]
LIGHT = {"N_T": 300.0, "S_T": 300.0, "E_T": 300.0, "W_T": 300.0}


def two_phase(coordinated: bool = True) -> Layout:
    """The fixture's junction (the city's 30 / 25 s greens, 65 s cycle), with a signalised neighbour."""
    raw = two_phase_raw()
    if coordinated:
        raw["downstream"] = ["K"]
    return Layout.build(parse_intersection(raw, "two_phase.toml"), CFG)


def test_the_city_plan_is_sent_as_it_is_while_every_movement_is_under_the_bound():
    lay = two_phase()
    q = flows(lay, {"N_T": 600.0, "S_T": 300.0, "E_T": 200.0, "W_T": 200.0})
    assert retimed_greens_s(lay, q, 3.0, 0.9) == (65.0, (30.0, 25.0))
    # Webster's split of the same counts moves green the demand does not ask for
    assert webster_greens(lay, q, 3.0, 0.9, True)[1] != pytest.approx((30.0, 25.0))


@pytest.mark.parametrize("loaded, greens_s", [("N_T", (39.111, 15.889)), ("E_T", (15.889, 39.111))])
def test_the_least_green_moves_to_the_movement_over_the_bound(loaded, greens_s):
    """900 PCU/h at 1,800 needs 65 x 0.5 / 0.9 + 3 = 39.1 s: that much, and no more, from the other stage."""
    lay = two_phase()
    q = flows(lay, {**LIGHT, loaded: 900.0})
    cycle_s, got = retimed_greens_s(lay, q, 3.0, 0.9)
    assert cycle_s == 65.0
    assert got == pytest.approx(greens_s, abs=1e-3)
    need_s = movement_needs_s(lay, q, 65.0, 3.0, 0.9)[0]
    i = [m.id for m in lay.junction.movements].index(loaded)
    assert max(got) == pytest.approx(need_s[i])


def test_where_no_split_serves_the_city_greens_stand():
    """N and E both over the bound: 39.1 + 42.8 s of need against 55 s of green; no split serves, so the
    city's greens (the counts of an oversaturated junction read the split in force back)."""
    lay = two_phase()
    q = flows(lay, {"N_T": 900.0, "S_T": 300.0, "E_T": 1000.0, "W_T": 300.0})
    need_s = movement_needs_s(lay, q, 65.0, 3.0, 0.9)[0]
    assert need_s[0] + need_s[1] > 55.0
    assert retimed_greens_s(lay, q, 3.0, 0.9) == (65.0, (30.0, 25.0))


def test_a_blind_movement_keeps_its_city_green():
    lay = two_phase()
    q = flows(lay, {"N_T": 900.0, "S_T": 300.0})  # E/W read 0: blind, not empty
    blind = np.array([m.id in ("E_T", "W_T") for m in lay.junction.movements])
    assert retimed_greens_s(lay, q, 3.0, 0.9, blind=blind)[1] == pytest.approx((30.0, 25.0))
    assert retimed_greens_s(lay, q, 3.0, 0.9)[1] == pytest.approx((39.111, 15.889), abs=1e-3)


def test_the_flows_are_smoothed_and_a_capped_count_stands():
    past, now = np.array([600.0, 600.0]), np.array([300.0, 300.0])
    weight = 1.0 - np.exp(-0.5)
    got = smoothed_flow_pcu_h(past, now, 300.0, 600.0, np.array([False, False]))
    assert got == pytest.approx(600.0 - 300.0 * weight)
    up = smoothed_flow_pcu_h(now, past, 300.0, 600.0, np.array([True, False]))
    assert up == pytest.approx([600.0, 300.0 + 300.0 * weight])
    assert smoothed_flow_pcu_h(None, now, 300.0, 600.0, np.array([False, False])) is now


@pytest.mark.parametrize("coordinated", [True, False])
@pytest.mark.parametrize("on", [True, False])
def test_the_policy_retimes_only_a_coordinated_junction_and_only_with_the_key(coordinated, on):
    """A period's counts (N_T 600 PCU/h, the rest light) through WebsterPolicy.decide: with the key at a
    junction with a signalised neighbour the city's greens (every movement under the bound); else
    Webster's split of the counts, as without the key."""
    lay = two_phase(coordinated)
    policy = WebsterPolicy(WebsterParams(coordinated_retime=on))
    est = Estimate.empty(lay, 0.0)
    s, _ = policy.decide(policy.init(lay, 0.0), lay, est, None, 0.0)
    q = flows(lay, {"N_T": 600.0, "S_T": 300.0, "E_T": 200.0, "W_T": 200.0})
    s2, wish = policy.decide(s, lay, replace(est, arrivals_pcu=est.arrivals_pcu + q * 300.0 / 3600.0), None, 300.0)
    assert wish is not None
    if on and coordinated:
        assert wish.greens_s == pytest.approx((30.0, 25.0))
        assert s2.smooth_pcu_h == pytest.approx(q)
    else:
        off = WebsterPolicy(WebsterParams()).decide(
            s, lay, replace(est, arrivals_pcu=est.arrivals_pcu + q / 12.0), None, 300.0
        )
        assert off[1] is not None and wish.greens_s == pytest.approx(off[1].greens_s)
        assert wish.greens_s != pytest.approx((30.0, 25.0))
        assert s2.smooth_pcu_h is None


def test_coordinated_retime_is_read_from_config_toml_and_ships_off(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[webster]\ncoordinated_retime = true\nretime_window_s = 900.0\n")
    params = make_policy("webster", load_config(p)).params
    assert params.coordinated_retime and params.retime_window_s == 900.0
    assert not make_policy("webster", load_config(ROOT / "config.toml")).params.coordinated_retime
    assert not WebsterParams().coordinated_retime
    p.write_text("[webster]\nretime_window_s = 0.0\n")
    with pytest.raises(ConfigError, match="webster.retime_window_s"):
        load_config(p)


def test_a_long_stage_gives_a_second_before_a_short_one():
    """retimed_greens_s weighs each phase's change by 1 / its city green: the 11 s E_T needs more
    come all from N/S through's 30 s stage, none from the 6 s left-turn stages (R, session 34;
    with equal weights the solver took 1 s from N/S's lefts)."""
    raw = four_phase_raw()
    raw["downstream"] = ["K"]
    lay = Layout.build(parse_intersection(raw, "four_phase.toml"), CFG)
    assert [p.base_green_s for p in lay.junction.phases] == [30.0, 6.0, 30.0, 6.0]
    q = flows(lay, {m.id: 100.0 for m in lay.junction.movements} | {"E_T": 700.0})
    cycle_s, greens_s = retimed_greens_s(lay, q, 3.0, 0.9)
    assert cycle_s == 88.0
    assert greens_s == pytest.approx((18.975, 6.0, 41.025, 6.0), abs=1e-3)


def _drive(policy: WebsterPolicy, lay: Layout, q: np.ndarray, shown_phase: int | None, until_s: float):
    """WebsterPolicy.decide every second to `until_s`, the loops counting `q` (PCU/h) at the advance
    and the stop-line loops alike, the roadside reporting `shown_phase` green throughout (None: no
    status, which the replay reads as every movement red); the wishes by time and the last state."""
    est = Estimate.empty(lay, 0.0)
    state, _ = policy.decide(policy.init(lay, 0.0), lay, est, None, 0.0)
    wishes = {}
    for t in range(1, int(until_s) + 1):
        counted = q * t / 3600.0
        est_t = replace(est, arrivals_pcu=counted, departures_pcu=counted)
        signal = green(lay, shown_phase, float(t), float(t)) if shown_phase is not None else None
        state, wish = policy.decide(state, lay, est_t, signal, float(t))
        if wish is not None:
            wishes[t] = wish.greens_s
    return wishes, state


def test_on_evidence_the_retime_waits_until_the_replay_finds_the_city_program_better():
    """`retime_on_evidence`: the first period's plan is Webster's own split (the city's program ran
    on both sides of the replay until then); with nothing shown green (no status: the replay's
    controlled side all red) the city's program replays at less delay, and the next period's plan is
    the retime (the city's greens, every movement under the bound), which then stays."""
    lay = two_phase()
    q = flows(lay, {"N_T": 600.0, "S_T": 300.0, "E_T": 200.0, "W_T": 200.0})
    policy = WebsterPolicy(WebsterParams(coordinated_retime=True, retime_on_evidence=True))
    wishes, state = _drive(policy, lay, q, None, 900.0)
    assert wishes[300] != pytest.approx((30.0, 25.0))
    assert wishes[600] == pytest.approx((30.0, 25.0)) and wishes[900] == pytest.approx((30.0, 25.0))
    assert state.retimed
    # without retime_on_evidence the retime plans from the first period on
    always, _ = _drive(WebsterPolicy(WebsterParams(coordinated_retime=True)), lay, q, None, 300.0)
    assert always[300] == pytest.approx((30.0, 25.0))


def test_on_evidence_webster_keeps_its_split_while_the_greens_shown_replay_better():
    """Only N/S loaded and N/S's phase shown green throughout: the replay's controlled side serves
    them without a red, the city's program holds them 35 s of every 65; Webster's split stays."""
    lay = two_phase()
    q = flows(lay, {"N_T": 600.0, "S_T": 600.0})
    policy = WebsterPolicy(WebsterParams(coordinated_retime=True, retime_on_evidence=True))
    wishes, state = _drive(policy, lay, q, 0, 900.0)
    assert not state.retimed and state.replay is not None
    assert all(w != pytest.approx((30.0, 25.0)) for w in wishes.values())
    g = shadow.gains(state.replay)
    assert g.delay_controlled_s < g.delay_fixed_s


def test_the_replay_runs_only_with_both_keys_at_a_coordinated_junction():
    q = flows(two_phase(), {"N_T": 600.0})
    for params, coordinated in [
        (WebsterParams(coordinated_retime=True), True),
        (WebsterParams(retime_on_evidence=True), True),
        (WebsterParams(coordinated_retime=True, retime_on_evidence=True), False),
    ]:
        _, state = _drive(WebsterPolicy(params), two_phase(coordinated), q, None, 10.0)
        assert state.replay is None


def test_retime_on_evidence_is_read_from_config_toml_and_ships_off(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[webster]\ncoordinated_retime = true\nretime_on_evidence = true\n[harm]\nwindow_s = 600.0\n")
    policy = make_policy("webster", load_config(p))
    assert isinstance(policy, WebsterPolicy) and policy.params.retime_on_evidence
    assert policy.replay.harm.window_s == 600.0
    assert not make_policy("webster", load_config(ROOT / "config.toml")).params.retime_on_evidence

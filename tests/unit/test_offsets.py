"""Offset keeping (controller/core/policies/offsets.py): phase 0's green start is brought to the
plan's offset within a bounded number of cycles, never breaking a minimum green."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import WebsterParams
from controller.core.policies.offsets import (
    STEP_RATIO,
    carried_whole_seconds,
    offset_error_s,
    transition_greens_s,
    window_centres_s,
    window_offset_s,
)
from controller.core.policies.webster import WebsterPolicy, WebsterState
from controller.core.safety import SignalView, cycle_length_s, gate_cycle
from controller.junctions import parse_intersection
from controller.model import CyclePlan, CycleWish, Intersection
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase, two_phase_raw

CFG = Config()


def test_offset_error_folds_into_half_a_cycle():
    assert offset_error_s(125.0, 10.0, 60.0) == pytest.approx(-5.0)  # 115 = 55 mod 60: 5 s early
    assert offset_error_s(75.0, 10.0, 60.0) == pytest.approx(5.0)
    assert offset_error_s(40.0, 10.0, 60.0) == pytest.approx(30.0)
    assert offset_error_s(70.0, 10.0, 60.0) == pytest.approx(0.0)


@pytest.mark.parametrize("error_s", [-30.0, -20.0, -5.0, -1.5, 1.5, 5.0, 20.0, 32.0])
def test_a_transition_cycle_moves_toward_the_offset_within_the_limits(error_s):
    j = two_phase()  # greens 7..60 s, intergreens 5 s, cycle 30..120 s
    steady = (30.0, 25.0)
    c_s = cycle_length_s(j, (0, 1), steady)  # 65 s
    g = transition_greens_s(j, steady, error_s)
    change_s = cycle_length_s(j, (0, 1), g) - c_s
    assert all(p.min_green_s - 1e-9 <= x <= p.max_green_s + 1e-9 for x, p in zip(g, j.phases))
    assert abs(change_s) <= STEP_RATIO * c_s + 1e-9
    # the next phase 0 starts closer to the offset (the error folded into half a cycle)
    assert abs(offset_error_s(error_s + change_s, 0.0, c_s)) < abs(error_s) - 1e-9
    assert all(x == int(x) for x in g)  # whole seconds: the roadside shows no fraction of one
    if abs(error_s) <= STEP_RATIO * c_s:  # within one step: reached in this cycle (to the second)
        assert abs(change_s + error_s) <= 0.5 + 1e-9


def test_no_transition_when_aligned_or_when_every_green_is_at_its_limit():
    j = two_phase()
    assert transition_greens_s(j, (30.0, 25.0), 0.8) == (30.0, 25.0)
    tight = parse_intersection({**two_phase_raw(), "cycle_max_s": 24.0, "cycle_min_s": 24.0}, "t.toml")
    assert transition_greens_s(tight, (7.0, 7.0), 5.0) == (7.0, 7.0)  # minimum greens, cycle at its bounds


def program_at(t_s: float) -> tuple[int | None, float]:
    """The city's own program as SUMO shows it: phase 0 green at t = 0 (mod 65) for 30 s, 5 s
    intergreen, phase 1 for 25 s, 5 s intergreen; (phase or None, seconds spent in it)."""
    pos = t_s % 65.0
    for start, end, phase in ((0, 30, 0), (30, 35, None), (35, 60, 1), (60, 65, None)):
        if start <= pos < end:
            return phase, pos - start
    raise AssertionError(pos)


def loaded_pcu_h(j: Intersection, now_s: float) -> np.ndarray:
    """N/S and E/W loaded (Y 0.61: the city's cycle is kept)."""
    return np.array([600.0 if m.id in ("N_T", "S_T") else 500.0 for m in j.movements])


def closed_loop(
    offset_s: float,
    end_s: int,
    raw: dict | None = None,
    flow_pcu_h: Callable[[Intersection, float], np.ndarray] = loaded_pcu_h,
    params: WebsterParams | None = None,
    log: list[tuple[int, float, float]] | None = None,
    states: list[WebsterState] | None = None,
) -> tuple[list[float], list[tuple[int, float]], int]:
    """Webster through the gate and the virtual roadside, one tick per second, the junction
    `two_phase_raw` (with `raw` over it) under the demand `flow_pcu_h(junction, t)`, webster's
    `params` (default: keep_offsets). (phase 0 green starts once plans run, greens shown (phase,
    s), plans sent); `log` gets every green shown as (phase, start, end), `states` the policy's
    state after the last tick."""
    j = parse_intersection({**two_phase_raw(), "base_offset_s": offset_s, **(raw or {})}, "j.toml")
    lay = Layout.build(j, CFG)
    rc = RoadsideController(j, backup_s=400.0)
    policy = WebsterPolicy(params if params is not None else WebsterParams(keep_offsets=True))
    state = policy.init(lay, 0.0)
    counts = np.zeros(len(j.movements))
    last_green = [0.0] * len(j.movements)
    starts, greens, sent = [], [], 0
    plan: CyclePlan | None = None
    prev = ("green", 0, 0.0)
    for t in range(end_s):
        now = float(t)
        rc.tick(now, *program_at(now))
        st = rc.status(now)
        for i, m in enumerate(j.movements):
            if not st.in_intergreen and m.id in j.served_movements(st.phase):
                last_green[i] = now
        elapsed_s = 0.0 if st.in_intergreen else st.time_in_phase_s
        view = SignalView(st.phase, st.in_intergreen, elapsed_s, tuple(last_green))
        cur = (rc.stage.kind, rc.stage.phase, rc.stage.start_s)
        if cur != prev:
            if prev[0] == "green" and rc.mode == "adaptive":
                greens.append((prev[1], now - prev[2]))
                if log is not None:
                    log.append((prev[1], prev[2], now))
            if cur[0] == "green" and cur[1] == 0 and rc.mode == "adaptive":
                starts.append(now)
            prev = cur
        counts = counts + flow_pcu_h(j, now) / 3600.0
        est = replace(Estimate.empty(lay, now), arrivals_pcu=counts, departures_pcu=counts, last_feed_t_s=now)
        state, wish = policy.decide(state, lay, est, view, now)
        if isinstance(wish, CycleWish):
            seq = rc.last_seq + 1
            plan = gate_cycle(j, wish, plan_id=f"p{sent}", seq=seq, now_s=now, ttl_s=60.0, view=view).command
            assert plan is not None
            assert rc.receive(plan, now) == ""
            sent += 1
        elif plan is not None and now - plan.valid_from_s >= 30.0:  # the core refreshes the plan in force
            plan = replace(plan, seq=rc.last_seq + 1, valid_from_s=now, expires_s=now + 60.0)
            assert rc.receive(plan, now) == ""
    if states is not None:
        states.append(state)
    return starts, greens, sent


@pytest.mark.parametrize("offset_s", [20.0, 45.0])
def test_webster_brings_phase_0_to_its_offset_within_a_bounded_number_of_cycles(offset_s):
    """The city's program runs phase 0 at 0 (mod 65) but its model says the offset is 20 s (or
    45 s): once webster's plans run, phase 0 turns green at the offset (to the second) after at
    most ceil(half a cycle / (STEP_RATIO x cycle)) transition cycles, and stays there; every green
    keeps its minimum. Without offset keeping phase 0 stays where the plan happened to start it."""
    starts, greens, sent = closed_loop(offset_s, 1500)
    assert sent >= 4  # one per period at least, plus the transitions
    bound = math.ceil(0.5 / STEP_RATIO)
    errors = [offset_error_s(s, offset_s, 65.0) for s in starts]
    assert len(errors) > bound + 5
    assert all(abs(e) <= 1.0 for e in errors[bound:]), errors
    assert all(g >= two_phase().phases[k].min_green_s - 1e-9 for k, g in greens), greens


def test_webster_ends_double_cycling_at_a_start_in_step_with_the_long_cycle():
    """A light junction (program type not recorded: double cycling allowed) runs half its 70 s base
    cycle, phase 0 at the offset (mod 35 s); when its demand grows the 70 s plan is due, and one
    start in two of the short cycle is half a long cycle off. The plan waits for the other one:
    no transition cycle, so every phase 0 starts at the offset mod 35 s
    (before: three cycles shortened by up to 14 s each, phase 0 starting off that grid)."""
    raw = {
        "phases": [
            {"state": "GrGr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
            {"state": "rGrG", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
        ]
    }

    def demand(j: Intersection, now_s: float) -> np.ndarray:
        light = now_s < 1230.0  # the 70 s plan is due at 1500 s, first seen at a start 35 s off
        return np.array([(50.0 if light else 600.0) if m.id in ("N_T", "E_T") else 0.0 for m in j.movements])

    starts, _, _ = closed_loop(0.0, 2400, raw, demand)
    steps = np.diff(starts)
    assert 35.0 in steps and 70.0 in steps  # both cycles ran
    late = [s for s in starts if s >= 600.0 and abs(offset_error_s(s, 0.0, 35.0)) > 1.0]
    assert late == [], late


def test_window_offset_keeps_the_city_greens_weighted_centres():
    """Phase 0 of a plan that lengthens it by 10 s (5 s each side of its centre) and shortens
    phase 1 by 10 s starts where the two windows' centres, weighted by the city's greens (30 and
    25 s), move least: phase 0's centre 5 s later, phase 1's 5 s earlier, weighted 30 : 25."""
    alone = two_phase()  # the city: greens 30 / 25 s, intergreens 5 s, offset 0, cycle 65 s; no neighbour
    assert window_offset_s(alone, (40.0, 15.0)) == 0.0  # no other light's platoon meets its windows
    j = parse_intersection({**two_phase_raw(), "upstream": ["w"]}, "j.toml")  # a signal upstream
    assert window_offset_s(j, (30.0, 25.0)) == pytest.approx(0.0)  # the city's plan: its own offset
    assert window_centres_s(j, (40.0, 15.0)) - window_centres_s(j, (30.0, 25.0)) == pytest.approx([5.0, 5.0])
    assert offset_error_s(window_offset_s(j, (40.0, 15.0)), 0.0, 65.0) == pytest.approx(-5.0)
    moved = window_centres_s(j, (30.0, 25.0)) - window_centres_s(j, (20.0, 35.0))  # phase 0 -5, phase 1 +5
    want = float(np.average(moved, weights=[30.0, 25.0]))
    assert offset_error_s(window_offset_s(j, (20.0, 35.0)), 0.0, 65.0) == pytest.approx(want)


@pytest.mark.parametrize("windows", [False, True])
def test_webster_keeps_the_citys_green_windows_not_phase_0s_start(windows):
    """Demand on N/S (phase 0) 900 PCU/h against 250 on E/W: webster's split gives phase 0 more
    than the city's 30 s. With `green_window_offsets` phase 0 turns green earlier, so that the two
    windows' centres, weighted by the city's greens, sit where the city's plan put them (to the
    second, once the transitions end); with phase 0 held at the base offset, every window moves
    by half phase 0's extra green or more."""

    def demand(j: Intersection, now_s: float) -> np.ndarray:
        return np.array([900.0 if m.id in ("N_T", "S_T") else 250.0 for m in j.movements])

    params = WebsterParams(keep_offsets=True, green_window_offsets=windows)
    log: list[tuple[int, float, float]] = []
    closed_loop(0.0, 1800, {"downstream": ["e"]}, demand, params, log)  # a signal downstream
    city = {0: 15.0, 1: 47.5}  # the city's green centres in its 65 s cycle from 0
    late = [(k, a, b) for k, a, b in log if a >= 900.0]
    assert late and {b - a for k, a, b in late if k == 0} != {30.0}  # the split moved
    moved = np.array([offset_error_s((a + b) / 2, city[k], 65.0) for k, a, b in late])
    weights = np.array([30.0 if k == 0 else 25.0 for k, _, _ in late])
    shift_s = float(np.average(moved, weights=weights))
    if windows:
        assert abs(shift_s) <= 1.0, moved
    else:
        assert abs(shift_s) >= 3.0, moved


def test_carried_whole_seconds_give_each_phase_its_fractional_green_over_cycles():
    """23.4 / 30.6 s: 23 / 31, then 24 / 30 (0.4 and -0.4 s carried), ...: over ten cycles each
    phase gets its fractional green to a tenth, every cycle the plan's 54 s; a fractional total
    (50.5 s) alternates 50 and 51 s. A minimum green above the plan's is kept, its debt bounded."""
    lo, hi = np.array([7.0, 7.0]), np.array([60.0, 60.0])
    carry, shown = np.zeros(2), []
    for _ in range(10):
        out, carry = carried_whole_seconds((23.4, 30.6), carry, lo, hi)
        shown.append(out)
    assert all(g.sum() == 54.0 and all(x == int(x) for x in g) for g in shown)
    assert np.mean(shown, axis=0) == pytest.approx([23.4, 30.6], abs=0.1 + 1e-9)
    carry, totals = np.zeros(2), []
    for _ in range(10):
        out, carry = carried_whole_seconds((20.25, 30.25), carry, lo, hi)
        totals.append(float(out.sum()))
    assert sorted(set(totals)) == [50.0, 51.0] and np.mean(totals) == pytest.approx(50.5)
    carry = np.zeros(2)
    for _ in range(10):
        out, carry = carried_whole_seconds((6.4, 30.6), carry, np.array([8.0, 7.0]), hi)
        assert out[0] == 8.0 and -1.0 <= carry[0] <= 0.0


@pytest.mark.parametrize("carry", [False, True])
def test_webster_with_carried_remainders_shows_the_plans_fractional_greens_at_the_offset(carry):
    """keep_offsets: phase 0 at its offset (20 s) every 65 s cycle. With `carry_green_remainders`
    each phase shows, over the cycles, the plan's fractional green (29.74 / 25.26 s: 29 or 30 s,
    25 or 26 s); rounded alike every cycle (whole_seconds alone) phase 0 shows 30 s, phase 1 25 s,
    a quarter second each way every cycle."""
    params = WebsterParams(keep_offsets=True, carry_green_remainders=True)
    states: list[WebsterState] = []
    closed_loop(20.0, 600, params=params, states=states)  # the fractional plan of this demand
    plan_s = states[-1].steady_s
    assert plan_s is not None and any(abs(g - round(g)) > 0.2 for g in plan_s)
    log: list[tuple[int, float, float]] = []
    starts, _, _ = closed_loop(20.0, 3000, params=replace(params, carry_green_remainders=carry), log=log)
    assert all(abs(offset_error_s(s, 20.0, 65.0)) <= 1.0 for s in starts if s >= 600.0)
    late = [(k, b - a) for k, a, b in log if a >= 600.0]
    mean_s = [float(np.mean([g for kk, g in late if kk == k])) for k in (0, 1)]
    bias_s = max(abs(m - g) for m, g in zip(mean_s, plan_s))
    if carry:
        assert bias_s <= 0.1, (mean_s, plan_s)
    else:
        assert bias_s >= 0.2, (mean_s, plan_s)


def test_offsets_need_neighbour_a_lone_junction_runs_as_without_keep_offsets():
    """`offsets_need_neighbour`: a junction with no signalised neighbour has no green wave to keep
    and runs exactly as with keep_offsets off (each plan at once, from the phase in force); one
    with a signal upstream keeps phase 0 at its offset."""
    params = WebsterParams(keep_offsets=True, offsets_need_neighbour=True)
    assert closed_loop(20.0, 1500, params=params) == closed_loop(20.0, 1500, params=WebsterParams())
    starts, _, _ = closed_loop(20.0, 1500, {"upstream": ["w"]}, params=params)
    bound = math.ceil(0.5 / STEP_RATIO)
    assert all(abs(offset_error_s(s, 20.0, 65.0)) <= 1.0 for s in starts[bound:]), starts

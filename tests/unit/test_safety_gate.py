"""Property tests of the safety gate: random junctions, random (often absurd) policy outputs.

Whatever a policy asks, no command leaves the gate that violates the junction's minimum or
maximum green, its cycle bounds, its intergreens, conflicting greens or any movement's maximum
red; and every refusal says why. The sequence tests run the whole chain — core step, gate,
the virtual roadside controller — second by second and check the signal actually shown.
"""

from __future__ import annotations

import math
from itertools import combinations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.safety import (SignalView, cycle_length_s, gate_cycle, gate_phase, max_red_s,
                                    phase_conflict)
from controller.core.step import Core
from controller.junctions import parse_intersection
from controller.model import GREEN, CyclePlan, CycleWish, Intersection, PhaseWish, Snapshot
from sim.roadside import RoadsideController

EPS = 1e-3  # the gate rounds plan times to the millisecond
TICK_S = 1.0


# -- random junctions -------------------------------------------------------------------------

@st.composite
def junctions(draw) -> Intersection:
    """2-6 phases; movements served by one or several phases (overlapping phases); conflicts a
    random subset of the pairs no phase serves together; random timing limits, with a maximum
    red that leaves room for one round of minimum greens."""
    n_p = draw(st.integers(2, 6))
    n_m = draw(st.integers(n_p, 10))
    serving = []
    for i in range(n_m):
        if i < n_p:
            extra = draw(st.sets(st.integers(0, n_p - 1), max_size=2))
            serving.append({i} | extra)  # every phase serves at least one movement
        else:
            serving.append(draw(st.sets(st.integers(0, n_p - 1), min_size=1, max_size=3)))
    permitted = [draw(st.booleans()) and len(s) > 1 for s in serving]
    states = []
    for k in range(n_p):
        states.append("".join(("g" if permitted[i] and k != min(serving[i]) else "G") if k in serving[i] else "r"
                              for i in range(n_m)))
    apart = [(a, b) for a, b in combinations(range(n_m), 2) if not serving[a] & serving[b]]
    chosen = draw(st.sets(st.sampled_from(apart), max_size=len(apart))) if apart else set()
    conflicts = {i: sorted(f"m{b if a == i else a}" for a, b in chosen if i in (a, b)) for i in range(n_m)}
    yellow = draw(st.sampled_from([0.0, 2.0, 3.0, 4.0]))
    all_red = draw(st.sampled_from([0.0, 1.0, 2.0]))
    phases = []
    for k in range(n_p):
        lo = float(draw(st.integers(1, 20)))
        hi = lo + float(draw(st.integers(0, 80)))
        phases.append({"state": states[k], "min_green_s": lo, "max_green_s": hi,
                       "base_green_s": float(draw(st.integers(int(lo), int(hi))))})
    # each stage shows for whole seconds, a zero yellow for one (sim/roadside.py)
    stage = lambda p: math.ceil(p["min_green_s"]) + max(math.ceil(yellow), 1) + math.ceil(all_red)  # noqa: E731
    round_s = sum(stage(p) for p in phases)
    widest = max(stage(p) for p in phases)
    max_red = round_s + widest + 2 * TICK_S + float(draw(st.integers(0, 120)))
    cycle_min = float(draw(st.integers(10, 90)))
    cycle_max = cycle_min + float(draw(st.integers(0, 200)))
    raw = {
        "id": "J", "n_links": n_m, "yellow_s": yellow, "all_red_s": all_red, "cycle_min_s": cycle_min,
        "cycle_max_s": cycle_max, "max_red_s": max_red, "base_offset_s": 0.0,
        "phases": phases,
        "movements": [{"id": f"m{i}", "approach": "N", "turn": "through", "from_edge": f"e{i}",
                       "lanes": [f"e{i}_0"], "links": [i], "sat_flow_pcu_h": 1800.0, "storage_pcu": 10.0,
                       "conflicts": conflicts[i]} for i in range(n_m)],
        "detectors": [{"id": f"d{i}", "lane": f"e{i}_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0}
                      for i in range(n_m)],
    }
    return parse_intersection(raw, "random.toml")


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-50, 400),
    st.sampled_from([0.0, -1.0, 1e9, -1e9, float("nan"), float("inf")]),
)
phase_ids = st.one_of(st.integers(-3, 8), st.sampled_from([True, False]))


@st.composite
def cycle_wishes(draw) -> CycleWish:
    order = draw(st.lists(phase_ids, min_size=0, max_size=7))
    greens = draw(st.lists(numbers, min_size=len(order), max_size=len(order))) if draw(st.booleans()) else \
        draw(st.lists(numbers, max_size=7))
    return CycleWish(tuple(order), tuple(greens), draw(numbers))


@st.composite
def phase_wishes(draw) -> PhaseWish:
    return PhaseWish(draw(phase_ids), draw(numbers))


wishes = st.one_of(cycle_wishes(), phase_wishes())


@st.composite
def views(draw, j: Intersection, now_s: float = 1000.0) -> SignalView:
    n = len(j.phases)
    phase = draw(st.integers(0, n - 1))
    inter = draw(st.booleans())
    elapsed = 0.0 if inter else draw(st.floats(0, 300))
    served = set(j.served_movements(phase))
    red_since = tuple(now_s if (m.id in served and not inter) else now_s - draw(st.floats(0, 400))
                      for m in j.movements)
    return SignalView(phase, inter, elapsed, red_since)


# -- the gate, one wish at a time --------------------------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_cycle_plans_respect_every_bound_or_are_refused_with_reason(data):
    j = data.draw(junctions())
    wish = data.draw(cycle_wishes())
    out = gate_cycle(j, wish, plan_id="p", seq=1, now_s=0.0, ttl_s=20.0)
    if out.command is None:
        assert out.refused
        return
    plan = out.command
    assert isinstance(plan, CyclePlan)
    for p, g in zip(plan.phase_order, plan.greens_s):
        assert not phase_conflict(j, p)
        assert j.phases[p].min_green_s - EPS <= g <= j.phases[p].max_green_s + EPS
    assert j.cycle_min_s - EPS <= plan.cycle_s <= j.cycle_max_s + EPS
    assert math.isclose(plan.cycle_s, cycle_length_s(j, plan.phase_order, plan.greens_s), abs_tol=0.01)
    assert all(r <= j.max_red_s + EPS for r in max_red_s(j, plan.phase_order, plan.greens_s).values())
    assert {m for p in plan.phase_order for m in j.served_movements(p)} == {m.id for m in j.movements}
    assert 0.0 <= plan.offset_s < plan.cycle_s + EPS


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_phase_commands_respect_min_max_green_and_intergreens(data):
    j = data.draw(junctions())
    view = data.draw(views(j))
    wish = data.draw(phase_wishes())
    out = gate_phase(j, wish, view, plan_id="p", seq=1, now_s=1000.0, ttl_s=20.0)
    if out.command is None:
        assert out.refused
        return
    cmd = out.command
    assert 0 <= cmd.phase < len(j.phases) and not phase_conflict(j, cmd.phase)
    assert math.isfinite(cmd.hold_s) and cmd.hold_s >= 0
    cur = j.phases[view.phase]
    if view.in_intergreen or view.green_elapsed_s < cur.min_green_s:
        assert cmd.phase == view.phase  # an intergreen runs out; a green lasts its minimum
    elif view.green_elapsed_s >= cur.max_green_s:
        assert cmd.phase != view.phase


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_cycle_plan_that_would_overrun_a_waiting_movements_max_red_is_refused(data):
    j = data.draw(junctions())
    view = data.draw(views(j))
    wish = data.draw(cycle_wishes())
    out = gate_cycle(j, wish, plan_id="p", seq=1, now_s=1000.0, ttl_s=20.0, view=view)
    if out.command is None:
        assert out.refused
        return
    from controller.core.safety import first_green_s

    first = first_green_s(j, out.command.phase_order, out.command.greens_s, view)
    for i, m in enumerate(j.movements):
        if first.get(m.id, 0.0) > 0:
            assert 1000.0 - view.red_since_s[i] + first[m.id] <= j.max_red_s + EPS


# -- the whole chain, second by second ---------------------------------------------------------

class Scripted:
    """A policy that says whatever it was given, each wish for a while."""

    name = "scripted"

    def __init__(self, script: list[tuple[object, int]]) -> None:
        self.script = script

    def init(self, layout, now_s):
        return (0, 0)

    def decide(self, state, layout, est, signal, now_s):
        k, used = state
        wish, hold = self.script[k % len(self.script)]
        used += 1
        if used >= hold:
            k, used = k + 1, 0
        return (k, used), wish


def local_program(j: Intersection, t: float) -> tuple[int, float]:
    """The roadside's own plan while it is local: each phase for its minimum green."""
    greens = [p.min_green_s for p in j.phases]
    c = t % sum(greens)
    for k, g in enumerate(greens):
        if c < g:
            return k, c
        c -= g
    return len(greens) - 1, 0.0


def movement_green(j: Intersection, state: str) -> list[bool]:
    return [any(state[li] in GREEN for li in m.links) for m in j.movements]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_whatever_the_policy_says_the_signal_shown_stays_safe(data):
    j = data.draw(junctions())
    script = data.draw(st.lists(st.tuples(st.one_of(wishes, phase_wishes(), phase_wishes()), st.integers(1, 40)),
                                min_size=1, max_size=30))
    cfg = Config()
    core = Core({"J": Layout.build(j, cfg)}, Scripted(script), cfg)
    state = core.initial_state(0.0)
    rc = RoadsideController(j, backup_s=cfg.roadside.backup_s)
    status = rc.status(0.0)
    shown: list[tuple[str, bool, str, int]] = []  # per second: state, adaptive?, stage kind, stage phase
    for t in range(1, 500):
        now = float(t)
        state, result = core.step(state, [Snapshot("J", now, 1.0, ())], [status], now)
        for r in result.refusals:
            assert r.reason
        for cmd in result.commands:
            assert rc.receive(cmd, now) == ""  # the roadside never has to refuse what the gate let out
        phase, spent = local_program(j, now)
        s = rc.tick(now, phase, spent)
        if s is None:
            shown.append((j.phases[phase].state, False, "green", phase))
        else:
            shown.append((s, True, rc.stage.kind, rc.stage.phase))
        status = rc.status(now)

    # no conflicting greens, ever
    for s, *_ in shown:
        green = [m.id for m, g in zip(j.movements, movement_green(j, s)) if g]
        for a, b in combinations(green, 2):
            assert b not in j.movement(a).conflicts
    # maximum red of every movement (yellow counted as red)
    for i, m in enumerate(j.movements):
        run = 0
        for s, *_ in shown:
            run = 0 if movement_green(j, s)[i] else run + 1
            assert run <= j.max_red_s + TICK_S, f"{m.id} red {run} s > {j.max_red_s}"
    # under the controller's commands: greens within [min, max], intergreens in full
    runs = []  # (kind, phase, first second, seconds, adaptive throughout)
    for k, (_, adaptive, kind, ph) in enumerate(shown):
        key = ("green", ph) if kind == "green" else ("inter", -1)
        if runs and runs[-1][:2] == key:
            kd, p_, first, n, ad = runs[-1]
            runs[-1] = (kd, p_, first, n + 1, ad and adaptive)
        else:
            runs.append((*key, k, 1, adaptive))
    for prev, run, nxt in zip(runs, runs[1:], runs[2:]):
        kind, p, _, n, adaptive = run
        if kind == "green" and adaptive and prev[4] and nxt[4]:
            assert j.phases[p].min_green_s - EPS <= n <= j.phases[p].max_green_s + TICK_S, (p, n)
        if kind == "inter" and adaptive and prev[0] == nxt[0] == "green":
            assert n >= j.intergreen_s(prev[1], nxt[1]) - EPS
        if kind == "green" and nxt[0] == "green" and adaptive and nxt[4]:
            assert j.intergreen_s(p, nxt[1]) == 0.0  # a green follows a green only where no link stops


def test_a_movement_green_in_no_phase_makes_the_gate_refuse_not_crash():
    from dataclasses import replace

    from tests.junction_fixtures import two_phase

    j = two_phase()
    broken = replace(j, phases=(j.phases[0], replace(j.phases[1], state="rrrr")))  # E_T, W_T never green
    view = SignalView(0, False, 30.0, tuple(0.0 for _ in j.movements))
    outcome = gate_phase(broken, PhaseWish(0, 1.0), view, plan_id="p", seq=1, now_s=100.0, ttl_s=20.0)
    assert outcome.command is None and "green in no phase" in outcome.refused
    ok = gate_phase(j, PhaseWish(0, 1.0), view, plan_id="p", seq=1, now_s=100.0, ttl_s=20.0)
    assert ok.command is not None

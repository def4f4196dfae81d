"""webster's due junctions planned as arrays (policies/webster_rows.py) give replan_steps' states and
wishes to the last bit, junction by junction kept as the reference (issue 12, the re-plan tick)."""

from __future__ import annotations

import random
from dataclasses import fields, replace
from types import SimpleNamespace

import numpy as np
import pytest

import controller.core.policies.webster_rows as webster_rows
from controller.core.estimation import Layout
from controller.core.messages import encode_detector_message, encode_status
from controller.core.params import WebsterParams
from controller.core.policies.webster import (
    WebsterPolicy,
    WebsterState,
    common_cycle_s,
    cycle_and_needs_s,
    green_floors_s,
    oversaturated,
    reference_cycle_s,
    solved,
)
from controller.core.policies.webster_net import FloorAnswers, NetWebster
from controller.model import CycleWish, Intersection
from controller.service import ControllerService
from tests.unit.test_webster_net import CFG, city, random_statuses, region, run_region


def bits(value: object) -> object:
    """`value` with every float as its hex and every array as (dtype, shape, bytes): equal only to the bit."""
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, np.ndarray):
        return (str(value.dtype), value.shape, value.tobytes())
    if isinstance(value, tuple | list):
        return tuple(bits(v) for v in value)
    if isinstance(value, WebsterState | CycleWish):
        return tuple((f.name, bits(getattr(value, f.name))) for f in fields(value))
    return value


def kind(policy: WebsterPolicy, lay: Layout, state: WebsterState, flow: np.ndarray) -> set[str]:
    """What a re-plan went through, by the reference's own functions: a divided cycle, the base cycle
    with short phases, an oversaturated lone junction (and its longest cycle), storage needs dropped,
    capacity needs scaled down."""
    p = policy.params
    credit = policy._credit(lay)
    j = lay.junction
    lone = (
        p.lone_cycle_max_s > 0 and not (j.upstream or j.downstream) and oversaturated(state, lay, p.residual_queue_pcu)
    )
    full = bool(state.cut) or webster_rows._any_short(state, len(j.phases), p.residual_queue_pcu) or lone
    fits = (p.fit_capacity, p.platoon_fit)
    lone_s = p.lone_cycle_max_s if lone else 0.0
    cycle_s, cap, sto = cycle_and_needs_s(
        lay, flow, flow, p.lost_time_per_phase_s, p.max_flow_ratio, full, fits, credit, lone_s
    )
    lo, hi = lay.derived(webster_rows._green_range_s)
    total_s = max(cycle_s - lay.derived(webster_rows._cycle_intergreens_s), 0.0)
    out = {"full"} if full else set()
    if lone:
        out.add("lone")
    if cycle_s > reference_cycle_s(lay) + 1e-6:
        out.add("longest cycle")
    if cycle_s < reference_cycle_s(lay) - 1e-6:
        out.add("divided")
    if green_floors_s(lay, np.maximum(cap, sto), lo, hi, credit).sum() > total_s:
        out.add("storage dropped")
        if green_floors_s(lay, cap, lo, hi, credit).sum() > total_s:
            out.add("scaled")
    return out


def checked_plans(monkeypatch) -> dict[str, int]:
    """Every DuePlans.plan call checked row by row against replan_steps (solved), the same flows:
    counts of the rows planned, left, and by kind."""
    seen = {"planned": 0, "left": 0}
    real = webster_rows.DuePlans.plan

    def plan(self, dues, estimates, flows, now_s):
        done, left = real(self, dues, estimates, flows, now_s)
        seen["left"] += len(left)
        for d, ((i, state), flow) in enumerate(zip(dues, flows, strict=True)):
            if d in left:
                assert i not in done
                continue
            lay = self._layouts[i]
            want = solved(self.policy.replan_steps(state, lay, estimates[i], None, now_s, flow))
            assert bits(done[i]) == bits(want), (i, now_s)
            seen["planned"] += 1
            if flow is not None:  # (kinds only where the pass gave the flows)
                for k in kind(self.policy, lay, state, flow):
                    seen[k] = seen.get(k, 0) + 1
        return done, left

    monkeypatch.setattr(webster_rows.DuePlans, "plan", plan)
    return seen


def run_levels(params: WebsterParams, seed: int, ticks: int, js: dict[str, Intersection]) -> int:
    """A service of `js` under webster with `params`, `ticks` seconds: each junction's loops count a
    vehicle a second with a probability of its own (0 to 0.9: light junctions double cycle, loaded
    ones drop their storage needs and scale their floors), with roadside statuses; the commands sent."""
    cfg = replace(CFG, service=replace(CFG.service, policy="webster"), webster=params)
    sent = []
    svc = ControllerService(js, cfg, "webster", publish=lambda c, p: sent.append(c), start_s=1000.0)
    rng = random.Random(seed)
    level = {jid: (0.0, 0.005, 0.03, 0.3, 0.9)[k % 5] for k, jid in enumerate(js)}
    shown: dict[str, tuple[int, bool, float]] = {}
    for r in range(ticks):
        t = 1001.0 + r
        svc.advance_clock(t)
        msgs = []
        for jid, j in js.items():
            rate = level[jid]
            dets = {d.id: ({"car": int(rng.random() < rate)}, round(rate * rng.random(), 2), 1.0) for d in j.detectors}
            msgs.append((jid, encode_detector_message(jid, t, 1.0, dets)))
        svc.on_detector_batch(msgs)
        for st in random_statuses(rng, js, t, shown):
            svc.on_status(encode_status(st), junction=st.junction)
        svc.tick(t)
    return len(sent)


def test_due_junctions_planned_as_arrays_are_replan_steps_to_the_bit(monkeypatch):
    """60 junctions (the city's twice without neighbours, and the city itself) at five loads under roadside statuses,
    60 s at the default keys (a 5 s period spread over the junctions): every re-plan the arrays plan
    equals replan_steps' (state and wish, every float to the bit), through each of their branches,
    the oversaturated lone junctions' searches and longest cycles among them; none is left."""
    seen = checked_plans(monkeypatch)
    params = replace(CFG.webster, period_s=5.0, replan_spread=1.0)
    assert run_levels(params, 3, 60, {**region(2), **city()}) > 100
    assert seen["planned"] > 500 and seen["left"] == 0, seen
    for k in ("full", "divided", "lone", "longest cycle", "storage dropped", "scaled"):
        assert seen.get(k, 0) > 10, seen


def long_cycle(j: Intersection, cycle_min_s: float) -> Intersection:
    """`j` (no neighbours) with base greens three times as long and 30 s more (a reference cycle that
    divides by 3 and more), its minimum cycle `cycle_min_s` and an offset."""
    phases = tuple(replace(ph, base_green_s=3 * ph.base_green_s + 30, max_green_s=300.0) for ph in j.phases)
    return replace(
        j, phases=phases, cycle_min_s=cycle_min_s, cycle_max_s=600.0, upstream=(), downstream=(), base_offset_s=17.0
    )


def cycle_steps(policy: WebsterPolicy, lay: Layout, m: int) -> list[float]:
    """The flows of movement `m` alone (PCU/h): a light one, on both sides of each step of the reference's cycle
    (common_cycle_s: its k falls as the flow grows), each found by bisection to neighbouring floats
    (there a capacity green fits its cycle within the 1e-9 s the reference allows, or C0 just
    divides the reference cycle), and twice the last (Y above max_flow_ratio)."""
    p = policy.params
    n = len(lay.junction.movements)

    def k_of(x: float) -> int:
        q = np.zeros(n)
        q[m] = x
        fits = (p.fit_capacity, False)
        c = common_cycle_s(lay, q, p.lost_time_per_phase_s, p.max_flow_ratio, False, *fits, policy._credit(lay))
        return round(reference_cycle_s(lay) / c)

    out, low = [1e-3], 1e-3
    while k_of(low) > 1:
        high = low
        while k_of(high) == k_of(low):
            high *= 2.0
        while np.nextafter(low, np.inf) < high:
            mid = (low + high) / 2.0
            low, high = (mid, high) if k_of(mid) == k_of(low) else (low, mid)
        out += [low, high]
        low = high
    return [*out, 2 * low]


@pytest.mark.parametrize(
    ("fit_capacity", "spare_above_minimum"),
    [(True, False), (False, False), (True, True)],
    ids=["fit", "no_fit", "fit_spare_above_minimum"],
)
def test_flows_at_each_step_of_the_cycle_plan_as_replan_steps_does(fit_capacity, spare_above_minimum):
    """The city's junction and two long-cycle ones (k up to 6; one with a minimum cycle that binds, one
    credited unopposed seconds in its transitions), each movement loaded alone at both sides of each
    step of the cycle's divisor and beyond: the arrays' plans equal replan_steps' to the bit; with
    fit_capacity some steps are the capacity fit's within its 1e-9 s (C0 alone would divide more);
    with spare_above_minimum the spare's shares are the base greens above the minimums."""
    j = city()["J00"]
    models = [replace(j, upstream=(), downstream=()), long_cycle(j, 30.0), long_cycle(j, 100.0)]
    lays = [Layout.build(m, CFG) for m in models]
    policy = WebsterPolicy(replace(CFG.webster, fit_capacity=fit_capacity, spare_above_minimum=spare_above_minimum))
    credit = policy._credit(lays[1])
    policy._credits[id(lays[1])] = (lays[1], replace(credit, transition_s=np.linspace(0.0, 4.5, len(j.movements))))
    n = len(j.movements)
    zero = np.zeros(n)
    est = SimpleNamespace(arrivals_pcu=zero, departures_pcu=zero, blind=np.zeros(n, dtype=bool))
    rows, flows, fit_decides, most_k = [], [], 0, 0
    p = policy.params
    for lay in lays:
        for m in range(n):
            for x in cycle_steps(policy, lay, m):
                q = np.zeros(n)
                q[m] = x
                rows.append(lay)
                flows.append(q)
                args = (lay, q, p.lost_time_per_phase_s, p.max_flow_ratio)
                no_fit = common_cycle_s(*args, credit=policy._credit(lay))
                with_fit = common_cycle_s(*args, fit_capacity=fit_capacity, credit=policy._credit(lay))
                fit_decides += with_fit > no_fit
                most_k = max(most_k, round(reference_cycle_s(lay) / with_fit))
    plans = webster_rows.DuePlans(policy, rows, FloorAnswers())  # a junction per row, the three models in one group
    dues = [(i, WebsterState(0.0, zero, zero)) for i in range(len(rows))]
    done, left = plans.plan(dues, [est] * len(rows), flows, 300.0)
    assert not left and len(plans._groups) == 1
    for (i, state), lay, q in zip(dues, rows, flows, strict=True):
        want = solved(policy.replan_steps(state, lay, est, None, 300.0, q))
        assert bits(done[i]) == bits(want), (i, q)
    assert most_k >= 4 and (fit_decides > 20 or not fit_capacity), (fit_decides, most_k)


@pytest.mark.parametrize("lone_cycle_max_s", [CFG.webster.lone_cycle_max_s, 0.0], ids=["default", "off"])
def test_oversaturated_lone_junctions_plan_as_replan_steps_does(lone_cycle_max_s):
    """Lone junctions (the city's junction without neighbours: its cycle_max_s 150 s; with 600 s, where
    lone_cycle_max_s binds; with 120 s; one credited unopposed seconds in its transitions), oversaturated
    by a plan in force longer than the reference cycle or by no green to spare, at flows from light (the
    base cycle, not divided) to beyond max_flow_ratio (the longest cycle, the equal-saturation search),
    all rows in one group: the arrays' plans equal replan_steps' to the bit, none left. With
    `lone_cycle_max_s` 0 (off) no row is lone: no longest cycle, no search (R session 53)."""
    j = replace(city()["J00"], upstream=(), downstream=())
    models = [j, replace(j, cycle_max_s=600.0), replace(j, cycle_max_s=120.0), replace(j, cycle_max_s=400.0)]
    lays = [Layout.build(m, CFG) for m in models]
    policy = WebsterPolicy(replace(CFG.webster, lone_cycle_max_s=lone_cycle_max_s))
    credit = policy._credit(lays[3])
    policy._credits[id(lays[3])] = (lays[3], replace(credit, transition_s=np.linspace(0.0, 4.5, len(j.movements))))
    n, ph = len(j.movements), len(j.phases)
    zero = np.zeros(n)
    est = SimpleNamespace(arrivals_pcu=zero, departures_pcu=zero, blind=np.zeros(n, dtype=bool))
    long_plan = WebsterState(0.0, zero, zero, plan_s=tuple(40.0 for _ in range(ph)))  # 160 s + intergreens
    no_spare = WebsterState(0.0, zero, zero, residual_pcu=(5.0,) * ph, green_ends=(1,) * ph, short_run=(1,) * ph)
    rows, flows, states = [], [], []
    for lay in lays:
        for y in (0.05, 0.3, 0.6, 0.85, 0.95, 1.2, 2.0):  # the flow ratio each movement runs at, over its phases
            for state in (long_plan, no_spare):
                rows.append(lay)
                flows.append(y * lay.sat_flow_pcu_h / ph * np.linspace(0.6, 1.4, n))
                states.append(state)
    assert all(oversaturated(s, lay, policy.params.residual_queue_pcu) for s, lay in zip(states, rows, strict=True))
    plans = webster_rows.DuePlans(policy, rows, FloorAnswers())
    dues = list(enumerate(states))
    done, left = plans.plan(dues, [est] * len(rows), flows, 300.0)
    assert not left and len(plans._groups) == 1
    cycles = set()
    for (i, state), lay, q in zip(dues, rows, flows, strict=True):
        want = solved(policy.replan_steps(state, lay, est, None, 300.0, q))
        assert bits(done[i]) == bits(want), (i, q)
        cycles.add(sum(want[1].greens_s) + lay.derived(webster_rows._cycle_intergreens_s))
    if lone_cycle_max_s > 0:
        assert {90.0, 120.0, 150.0} <= {round(c, 6) for c in cycles}, sorted(cycles)
    else:
        assert max(round(c, 6) for c in cycles) <= reference_cycle_s(lays[0]), sorted(cycles)  # none longer


@pytest.mark.parametrize("statuses", [False, True], ids=["counts", "statuses"])
def test_a_region_planned_as_arrays_sends_what_decide_sends(monkeypatch, statuses):
    """The city itself (its neighbours: no lone cycle) at the default keys: the same commands and final
    states with the pass (its re-plans as arrays) as junction by junction (network_decision None)."""
    params = replace(CFG.webster, period_s=6.0, replan_spread=1.0)
    seen = checked_plans(monkeypatch)
    digest, plans, net = run_region(params, 9, 50, city(), statuses=statuses)
    assert isinstance(net, NetWebster) and net._rows is not None and plans > 20
    assert seen["planned"] > 50, seen
    monkeypatch.setattr(WebsterPolicy, "network_decision", lambda self, layouts: None)
    alone, plans_alone, _net = run_region(params, 9, 50, city(), statuses=statuses)
    assert (digest, plans) == (alone, plans_alone)


@pytest.mark.parametrize(
    "change",
    [
        {"keep_offsets": True},
        {"hold_short_phases": True},
        {"city_split": True},
        {"slack_to_city": True},
        {"short_keeps_city": True},
        {"keep_green_residual_pcu": 1.0},
        {"divide_after_periods": 2},
        {"coordinated_retime": True},
        {"platoon_fit": True},
    ],
    ids=lambda c: next(iter(c)),
)
def test_a_key_the_arrays_do_not_compute_leaves_every_re_plan_to_replan_steps(change):
    lays = {j.id: Layout.build(j, CFG) for j in city().values()}
    assert webster_rows.DuePlans.of(WebsterPolicy(CFG.webster), list(lays.values()), FloorAnswers()) is not None
    policy = WebsterPolicy(replace(CFG.webster, **change))
    assert webster_rows.DuePlans.of(policy, list(lays.values()), FloorAnswers()) is None
    assert NetWebster(policy, lays)._rows is None


def test_a_subclass_is_not_planned_as_arrays():
    class Other(WebsterPolicy):
        pass

    lays = [Layout.build(j, CFG) for j in city().values()]
    assert not webster_rows.covers(Other(CFG.webster)) and webster_rows.covers(WebsterPolicy(CFG.webster))
    assert WebsterParams() == CFG.webster or webster_rows.covers(WebsterPolicy(WebsterParams()))
    assert webster_rows.DuePlans.of(Other(CFG.webster), lays, FloorAnswers()) is None


def test_a_divided_cycle_cut_short_plans_as_replan_steps_does():
    """`divided_cycle_ends` is not a key the arrays leave to replan_steps: a junction whose divided
    cycle was cut short (WebsterState.cut) re-plans on the base cycle, however light its flows; the
    arrays give replan_steps' plans there too, and others at the same flows divide (R, session 52)."""
    j = city()["J00"]
    lays = [Layout.build(m, CFG) for m in (replace(j, upstream=(), downstream=()), long_cycle(j, 30.0))]
    policy = WebsterPolicy(replace(CFG.webster, divided_cycle_ends=1))
    n = len(j.movements)
    zero = np.zeros(n)
    est = SimpleNamespace(arrivals_pcu=zero, departures_pcu=zero, blind=np.zeros(n, dtype=bool))
    rows = [lay for lay in lays for _ in range(2)]
    flows = [np.full(n, 20.0) for _ in rows]  # light: the base cycle divides
    dues = [(i, WebsterState(0.0, zero, zero, cut=i % 2 == 1)) for i in range(len(rows))]
    plans = webster_rows.DuePlans(policy, rows, FloorAnswers())
    done, left = plans.plan(dues, [est] * len(rows), flows, 300.0)
    assert not left
    for (i, state), lay, q in zip(dues, rows, flows, strict=True):
        want = solved(policy.replan_steps(state, lay, est, None, 300.0, q))
        assert bits(done[i]) == bits(want), i
        assert want[0].divided is not state.cut, i  # cut: the base cycle; else divided


# WebsterParams' fields by what the arrays do with them: those covers() requires at their defaults
# (test_a_key_the_arrays_do_not_compute_leaves_every_re_plan_to_replan_steps), and the rest: read by the
# arrays as replan_steps reads them, or not read by a re-plan of the covered keys (timing, with keep_offsets,
# with coordinated_retime, at init).
NOT_COVERED = {
    "keep_offsets",
    "hold_short_phases",
    "city_split",
    "slack_to_city",
    "short_keeps_city",
    "keep_green_residual_pcu",
    "divide_after_periods",
    "coordinated_retime",
    "platoon_fit",
}
READ_OR_NOT_A_REPLAN = {
    "period_s",
    "lost_time_per_phase_s",
    "max_flow_ratio",
    "residual_queue_pcu",
    "fit_capacity",
    "divided_cycle_ends",
    "replan_spread",
    "green_window_offsets",
    "carry_green_remainders",
    "offsets_need_neighbour",
    "keep_actuated",
    "spare_above_minimum",
    "credit_unopposed",
    "credit_transition_green",
    "lone_cycle_max_s",
    "retime_window_s",
    "retime_on_evidence",
}


def test_every_webster_key_is_one_the_arrays_were_checked_against():
    """A new [webster] key is not planned as arrays unchecked: it must be added to covers() (and the
    test of the keys left to replan_steps) or to the keys the arrays read as replan_steps does (with a
    test of its plans) (R, session 52)."""
    names = {f.name for f in fields(WebsterParams)}
    assert not NOT_COVERED & READ_OR_NOT_A_REPLAN
    assert names == NOT_COVERED | READ_OR_NOT_A_REPLAN, sorted(names ^ (NOT_COVERED | READ_OR_NOT_A_REPLAN))

"""The tick's cycle wishes gated together (controller/core/safety_rows.py) give gate_cycle's outcomes to
the bit, gate_cycle kept as the reference; the arrays decide exactly the plans gate_cycle accepts
without fitting the cycle, and leave every refusal (each of its reasons) and every fit to it."""

from __future__ import annotations

import contextlib
import math
import random
from dataclasses import fields, replace

import numpy as np
import pytest

from controller.core import safety_rows, step
from controller.core.params import WebsterParams
from controller.core.safety import GateMemo, GateOutcome, SignalView, first_green_at, gate_cycle
from controller.core.safety_rows import CycleRows
from controller.model import CyclePlan, CycleWish, Intersection
from tests.junction_fixtures import two_phase
from tests.unit.test_webster_net import city, region, run_region

NOW_S = 5000.0


def bits(value: object) -> object:
    """`value` with every float as its hex (and its type): equal only to the bit."""
    if isinstance(value, float):
        return (type(value).__name__, value.hex())
    if isinstance(value, tuple | list):
        return tuple(bits(v) for v in value)
    if isinstance(value, GateOutcome | CyclePlan):
        return tuple((f.name, bits(getattr(value, f.name))) for f in fields(value))
    return (type(value).__name__, value)


def models() -> list[Intersection]:
    """Models whose wishes reach each of gate_cycle's rules: the city's junction (4 phases, 12
    movements), two_phase and variants (max red 40 s, cycle 30..100 s, a phase 2 greening N_T alone,
    a phase 2 greening conflicting movements, a phase whose minimum green is below its crossings'
    pedestrian minimum, a minimum cycle the greens cannot reach, N_T green in two phases apart)."""
    j, t = city()["J00"], two_phase()
    alone = replace(t, phases=(*t.phases, replace(t.phases[0], state="Grrr", index=2)))
    conflict = replace(t, phases=(*t.phases, replace(t.phases[0], state="GGrr", index=2)))
    ped = replace(t, phases=(replace(t.phases[0], ped_min_green_s=9.0), t.phases[1]))
    # N_T green in phases 0 and 2, red in 1 and 3: its red after phase 2 starts again from 0
    twice = replace(alone, phases=(*alone.phases, replace(t.phases[1], index=3)))
    return [
        j,
        replace(j, max_red_s=90.0, cycle_max_s=100.0),
        t,
        replace(t, max_red_s=40.0),
        replace(t, cycle_max_s=100.0),
        replace(t, cycle_min_s=131.0, cycle_max_s=200.0),  # 2 x 60 s of greens + 10 s of intergreens at most: no fit
        alone,
        replace(alone, max_red_s=45.0),
        conflict,
        ped,
        replace(twice, cycle_max_s=300.0),
        replace(twice, cycle_max_s=300.0, max_red_s=60.0),
    ]


def wish(rng: random.Random, j: Intersection) -> CycleWish:
    """A cycle wish for `j`: mostly every phase in order, some permuted or leaving one out; greens
    about the bounds (some exactly at one); now and then a malformed one (order, greens, offset)."""
    n = len(j.phases)
    order = list(range(n))
    u = rng.random()
    if u < 0.15:
        rng.shuffle(order)
    elif u < 0.25 and n > 2:
        order.pop(rng.randrange(n))
    greens: list[object] = []
    for p in order:
        ph = j.phases[p]
        v = rng.random()
        g = ph.min_green_s if v < 0.1 else ph.max_green_s if v < 0.15 else rng.uniform(0.0, ph.max_green_s * 1.2)
        u = rng.random()
        greens.append(int(g) if u < 0.04 else np.float64(g) if u < 0.1 else g)
    offset: object = rng.uniform(-200.0, 400.0) if rng.random() > 0.05 else rng.randrange(-100, 100)
    bad = rng.random()
    if bad < 0.02:
        greens[0] = math.nan
    elif bad < 0.03:
        greens[-1] = math.inf
    elif bad < 0.04:
        greens[0] = True
    elif bad < 0.05:
        offset = math.nan
    elif bad < 0.06:
        order = [*order[:-1], order[0]]
    elif bad < 0.07:
        order = [*order, n]
        greens.append(20.0)
    elif bad < 0.08:
        greens.pop()
    elif bad < 0.09:
        order = order[:1]
        greens = greens[:1]
    return CycleWish(tuple(order), tuple(greens), offset)  # type: ignore[arg-type]


def view(rng: random.Random, j: Intersection) -> SignalView | None:
    """None a third of the time; else a status: a phase (now and then one the model has not, or a red
    time too few), in its intergreen or green for up to past its maximum, each movement red for up to
    past max_red_s (0 where green)."""
    if rng.random() < 0.33:
        return None
    n = len(j.phases)
    if n == 3 and rng.random() < 0.2:  # N_T alone green past its plan's green: S_T first green at 0 s (2 -> 0)
        red = (NOW_S, NOW_S - 50.0, NOW_S - j.max_red_s - 5.0, NOW_S - 50.0)
        return SignalView(2, False, 60.0, red)
    cur = rng.randrange(n) if rng.random() > 0.02 else n
    inter = rng.random() < 0.3
    elapsed = 0.0 if inter else rng.choice([rng.uniform(0.0, 70.0), float(rng.randrange(0, 65))])
    green = set(j.served_movements(cur)) if cur < n and not inter else set()
    red = [NOW_S if mv.id in green else NOW_S - rng.uniform(0.0, j.max_red_s * 1.1) for mv in j.movements]
    if rng.random() < 0.02:
        red.pop()
    return SignalView(cur, inter, elapsed, tuple(red))


def at_the_limits(j: Intersection, w: CycleWish, v: SignalView) -> SignalView:
    """`v` with one movement's red time set so that it first turns green under `w` 0.5 ns past
    max_red_s (within gate_cycle's 1e-9 s: accepted) or 2 ns past (refused)."""
    memo = GateMemo()
    order = tuple(w.phase_order)
    greens = tuple(
        min(max(float(g), j.phases[p].min_green_s), j.phases[p].max_green_s) for p, g in zip(order, w.greens_s)
    )
    first = first_green_at(j, order, greens, v, memo)
    later = [i for i, t in enumerate(first) if t is not None and t > 0]
    if not later:
        return v
    i = later[len(later) // 2]
    red = list(v.red_since_s)
    red[i] = NOW_S + first[i] - j.max_red_s - (5e-10 if i % 2 else 2e-9)
    return replace(v, red_since_s=tuple(red))


def edge(rng: random.Random, j: Intersection) -> CycleWish | None:
    """For two_phase with max red 40 s or cycle max 100 s, a fifth of the time: greens whose longest red
    or cycle is 0.5 ns past the bound (within gate_cycle's 1e-9: accepted, not fitted) or 2 ns past
    (refused; fitted), or the longest red at max_red_s + 1e-9 to the bit (accepted)."""
    if len(j.phases) != 2 or rng.random() > 0.2:
        return None
    past = rng.choice([5e-10, 2e-9, 0.0])
    if j.max_red_s == 40.0:  # E/W red 5 + 30 + 5 s; 0.0: red 40 s + 1e-9 exactly (accepted)
        return CycleWish((0, 1), (30.0 + past if past else 30.000000000999997, 30.0), 0.0)
    if j.cycle_max_s == 100.0:
        return CycleWish((0, 1), (45.0 + (past or 5e-10), 45.0), 0.0)  # 90 s of greens + 10 s of intergreens
    return None


def items(seed: int, copies: int) -> list[tuple[Intersection, CycleWish, str, int, SignalView | None]]:
    """`copies` copies of each model (new objects: the rows' forms are the same), a wish and a status
    each (a fifth of the three-phase ones: a plan without phase 2 while phase 2 shows its first 2 s), two
    in five statuses set at the max-red limits."""
    rng = random.Random(seed)
    out = []
    for k, base in enumerate(models()):
        for c in range(copies):
            j = replace(base, id=f"{base.id}_{k}_{c}")
            w = edge(rng, j) or wish(rng, j)
            v = view(rng, j)
            if len(j.phases) == 3 and rng.random() < 0.2:  # phase 2 green 2 s, before its minimum, not in the plan
                w = replace(w, phase_order=(0, 1), greens_s=(20.0, 20.0))
                red = tuple(NOW_S if m.id == "N_T" else NOW_S - rng.uniform(0.0, 30.0) for m in j.movements)
                v = SignalView(2, False, 2.0, red)
            if (
                v is not None
                and rng.random() < 0.4
                and len(v.red_since_s) == len(j.movements)
                and v.phase < len(j.phases)
            ):
                with contextlib.suppress(TypeError, ValueError, IndexError):  # a malformed wish
                    v = at_the_limits(j, w, v)
            out.append((j, w, f"{j.id}-p-{c}", c + 1, v))
    return out


def reason(o: GateOutcome) -> str:
    """The kind of gate_cycle's outcome: its refusal's first words, or accepted (fitted, clipped, plain)."""
    if o.command is None:
        r = o.refused
        if "before the new plan" in r:
            return "first wait"
        if "would wait" in r:
            return "max red"
        for key in (
            "phase order",
            "non-finite",
            "never served",
            "conflicting",
            "pedestrian",
            "signal status",
            "cannot fit",
        ):
            if key in r:
                return key
        return r
    if any(c.startswith("cycle ") for c in o.clipped):
        return "fitted"
    return "clipped" if o.clipped else "plain"


FORM_FAULTS = ("phase order", "non-finite", "never served", "conflicting", "pedestrian", "signal status")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_tick_s_cycle_wishes_gated_together_are_gate_cycle_s_to_the_bit(monkeypatch, seed):
    """Every outcome equals gate_cycle's, each float to the bit; the arrays decide every plan gate_cycle
    accepts without fitting the cycle (with and without a status) and no other: each refusal reason and
    each fit is gate_cycle's own (the items it was called for), and each is seen."""
    its = items(seed, 60)
    left: list[int] = []
    real = safety_rows.gate_cycle

    def spy(j, w, **kw):  # type: ignore[no-untyped-def]
        left.append(next(k for k, it in enumerate(its) if it[0] is j))
        return real(j, w, **kw)

    monkeypatch.setattr(safety_rows, "gate_cycle", spy)
    rows = CycleRows([it[0] for it in its])
    got = rows.gate(its, NOW_S, 20.0, GateMemo())
    memo = GateMemo()
    wants = [real(j, w, plan_id=p, seq=s, now_s=NOW_S, ttl_s=20.0, view=v, memo=memo) for j, w, p, s, v in its]
    kinds = [reason(want) for want in wants]
    # the items of each form (model and order) that pass the form checks: fewer than MIN_ROWS are left whole
    # (and whose greens and offset are floats: a wish with an int is gate_cycle's)
    form_of = [
        None
        if kind in FORM_FAULTS or not {type(g) for g in (*w.greens_s, w.offset_s)} <= {float, np.float64}
        else id(rows.form(j, w.phase_order, memo))
        for (j, w, *_), kind in zip(its, kinds, strict=True)
    ]
    seen: dict[str, int] = {}
    arrays = 0
    for k, ((_j, w, _p, _s, v), o, want, kind) in enumerate(zip(its, got, wants, kinds, strict=True)):
        assert bits(o) == bits(want), (k, w, v, want)
        seen[kind] = seen.get(kind, 0) + 1
        mine = (
            kind in ("plain", "clipped") and form_of[k] is not None and form_of.count(form_of[k]) >= CycleRows.MIN_ROWS
        )
        assert (k not in left) == mine, (k, kind)  # the arrays decide exactly the unfitted plans accepted
        if mine:
            arrays += 1
            also = f"{kind}, {'status' if v is not None else 'none'}"
            seen[also] = seen.get(also, 0) + 1
    for kind in (
        *FORM_FAULTS,
        "cannot fit",
        "max red",
        "first wait",
        "fitted",
        "plain, status",
        "clipped, status",
        "plain, none",
        "clipped, none",
    ):
        assert seen.get(kind, 0) >= 2, (kind, seen)
    assert arrays > len(its) // 10, sorted(seen.items())


def test_a_group_smaller_than_min_rows_is_gated_one_by_one(monkeypatch):
    """Fewer than MIN_ROWS items of one form: gate_cycle gates each (the same outcomes)."""
    its = items(4, CycleRows.MIN_ROWS - 1)
    calls = []
    real = safety_rows.gate_cycle
    monkeypatch.setattr(safety_rows, "gate_cycle", lambda j, w, **kw: calls.append(j) or real(j, w, **kw))
    got = CycleRows().gate(its, NOW_S, 20.0, GateMemo())
    assert len(calls) == len(its)
    want = [real(j, w, plan_id=p, seq=s, now_s=NOW_S, ttl_s=20.0, view=v) for j, w, p, s, v in its]
    assert bits(got) == bits(want)


def test_at_the_limits_moves_a_first_wait_across_max_red():
    """The helper's statuses sit on both sides of the limit: gate_cycle accepts 0.5 ns past max_red_s
    and refuses 2 ns past (so the tests above see both)."""
    j = two_phase()
    w = CycleWish((0, 1), (30.0, 30.0), 0.0)
    v = SignalView(0, False, 10.0, (NOW_S, NOW_S - 50.0, NOW_S, NOW_S - 50.0))
    for i, verdict, past in ((1, "plain", 5e-10), (3, "first wait", 2e-9)):
        red = list(v.red_since_s)
        t = first_green_at(j, (0, 1), (30.0, 30.0), v, GateMemo())[i]
        assert t is not None
        red[i] = NOW_S + t - j.max_red_s - past
        o = gate_cycle(j, w, plan_id="p", seq=1, now_s=NOW_S, ttl_s=20.0, view=replace(v, red_since_s=tuple(red)))
        assert reason(o) == verdict, o


@pytest.mark.parametrize("statuses", [False, True], ids=["counts", "statuses"])
def test_a_region_gated_together_sends_what_the_junctions_gated_one_by_one_send(monkeypatch, statuses):
    """200 junctions (the city's ten times, no neighbours) under webster re-planning every 5 s, 30 s of
    random counts (and statuses): the same commands and final states with the tick's cycle wishes gated
    together (Core._gate_due, each taken by _gate) as with each gated by gate_cycle alone."""
    taken = []
    real = CycleRows._group

    def group(self, form, rows, items, now_s, ttl_s, out):  # type: ignore[no-untyped-def]
        real(self, form, rows, items, now_s, ttl_s, out)
        taken.append(sum(out[r] is not None for r in rows))

    monkeypatch.setattr(CycleRows, "_group", group)
    batched = []  # the items gated together (Core._gate_due)
    real_rows = CycleRows.gate
    monkeypatch.setattr(CycleRows, "gate", lambda self, its, *a: batched.append(len(its)) or real_rows(self, its, *a))
    one_by_one = []  # the core's own gate_cycle calls (_gate)
    real_gate = step.gate_cycle
    monkeypatch.setattr(step, "gate_cycle", lambda *a, **kw: one_by_one.append(1) or real_gate(*a, **kw))
    params = WebsterParams(period_s=5.0, replan_spread=1.0)
    together = run_region(params, 5, 30, region(10), statuses=statuses)
    calls_together = len(one_by_one)
    assert sum(taken) > 50, taken
    monkeypatch.setattr(CycleRows, "MIN_ROWS", 10**9)
    alone = run_region(params, 5, 30, region(10), statuses=statuses)
    assert together[:2] == alone[:2] and together[1] > 100
    # every item gated together was taken by _gate, not gated again: alone, gate_cycle gated each of them
    calls_alone = len(one_by_one) - calls_together
    assert calls_together + sum(batched) == calls_alone, (calls_together, calls_alone, sum(batched))


def test_the_edge_greens_sit_where_gate_cycle_draws_the_line():
    """edge()'s greens: a longest red at max_red_s + 1e-9 to the bit and 0.5 ns past max_red_s are
    accepted, 2 ns past refused; a cycle 0.5 ns past cycle_max_s is not fitted, 2 ns past is."""
    t = two_phase()
    red40, max100 = replace(t, max_red_s=40.0), replace(t, cycle_max_s=100.0)
    for j, greens, kind in (
        (red40, (30.000000000999997, 30.0), "plain"),
        (red40, (30.0 + 5e-10, 30.0), "plain"),
        (red40, (30.0 + 2e-9, 30.0), "max red"),
        (max100, (45.0 + 5e-10, 45.0), "plain"),
        (max100, (45.0 + 2e-9, 45.0), "fitted"),
    ):
        o = gate_cycle(j, CycleWish((0, 1), greens, 0.0), plan_id="p", seq=1, now_s=NOW_S, ttl_s=20.0)
        assert reason(o) == kind, (greens, o)


def test_an_order_equal_to_a_kept_one_but_not_of_ints_is_refused_as_gate_cycle_refuses_it():
    """(0, True) and (0, 1.0) compare and hash equal to (0, 1), which the arrays keep a form for once
    gated: they are still refused for their order, as gate_cycle refuses them."""
    rows, memo = CycleRows(), GateMemo()
    js = [replace(two_phase(), id=f"J{k}") for k in range(CycleRows.MIN_ROWS)]
    first = [(j, CycleWish((0, 1), (30.0, 30.0), 0.0), "p", 1, None) for j in js]
    assert all(o.command is not None for o in rows.gate(first, NOW_S, 20.0, memo))
    for order in ((0, True), (0, 1.0), (1, 1)):
        its = [(j, CycleWish(order, (30.0, 30.0), 0.0), "p", 2, None) for j in js]  # type: ignore[arg-type]
        got = rows.gate(its, NOW_S, 20.0, memo)
        want = [gate_cycle(j, w, plan_id=p, seq=s, now_s=NOW_S, ttl_s=20.0) for j, w, p, s, _v in its]
        assert bits(got) == bits(want) and all(o.command is None for o in got), order

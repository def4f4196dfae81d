"""The re-plan tick's shortcuts give the plans of the code they replace, to the last bit (issue 12,
the re-plan tick at 2,500 junctions a region): webster's green_floors_s on Python floats, its
unopposed credit computed once per layout (WebsterPolicy._credit), and the gate's max_red_s with
each phase's movements and intergreens read once; then (session 39) what webster reads of a layout
alone kept per layout object (Layout.derived: green_floors_s' index, flow_ratio_sum's phases, the
reference cycle, the intergreens, the green ranges) and the gate's max-red walks and form checks kept
in its GateMemo. The references below are the former code, copied as it was."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import WebsterParams
from controller.core.policies.phases import primary_phases
from controller.core.policies.webster import (
    Credit,
    FloorIndex,
    WebsterPolicy,
    WebsterState,
    _cycle_intergreens_s,
    _cycle_terms_s,
    _flow_ratio_sum,
    _green_range_s,
    _reference_cycle_s,
    _summed,
    cycle_intergreens_s,
    flow_ratio_sum,
    green_end,
    green_ended,
    green_floors_s,
    green_range_s,
    lane_shared_layout,
    lane_shared_sat_pcu_h,
    reference_cycle_s_of,
    track_green_ends,
    unopposed_credit,
)
from controller.core.policies.webster_net import green_ends_all
from controller.core.safety import GateMemo, SignalView, _cycle_form_refusal, gate_cycle, max_red_s, phase_conflict
from controller.junctions import load_intersections, parse_intersection
from controller.model import CycleWish, Intersection
from tests.junction_fixtures import two_phase, two_phase_raw

CFG = Config()
ROOT = Path(__file__).resolve().parents[2]


def reference_green_floors_s(
    layout: Layout, needs_s: np.ndarray, lo: np.ndarray, hi: np.ndarray, credit: Credit | None = None
) -> np.ndarray:
    """green_floors_s as it was before the re-plan tick's cut (9be01f9)."""
    serves = layout.serves
    counted = serves if credit is None else serves | credit.phases
    owed_s = needs_s if credit is None else np.maximum(needs_s - credit.transition_s, 0.0)
    base_s = [p.base_green_s for p in layout.junction.phases]
    g = lo.astype(float).copy()
    for m in np.argsort(-owed_s):
        ks = np.flatnonzero(serves[:, m])
        if owed_s[m] <= 0 or counted[:, m].all():
            continue
        deficit = owed_s[m] - float(g[counted[:, m]].sum())
        for k in sorted(ks, key=lambda k: (-base_s[k], k)):
            if deficit <= 1e-9:
                break
            add = min(deficit, hi[k] - g[k])
            g[k] += add
            deficit -= add
    return g


def reference_max_red_s(j: Intersection, order: tuple[int, ...], greens_s: tuple[float, ...]) -> dict[str, float]:
    """safety.max_red_s as it was before the re-plan tick's cut (9be01f9)."""
    n = len(order)
    out = {}
    for m in j.movements:
        served = [m.id in j.served_movements(p) for p in order]
        if not any(served):
            out[m.id] = math.inf
            continue
        start = served.index(True)
        longest = run = 0.0
        for k in range(1, n + 1):
            prev, i = (start + k - 1) % n, (start + k) % n
            if not (served[prev] and served[i]):
                run += j.intergreen_s(order[prev], order[i])
            if served[i]:
                longest, run = max(longest, run), 0.0
            else:
                run += greens_s[i]
        out[m.id] = longest
    return out


def reference_flow_ratio_sum(layout: Layout, flow_pcu_h: np.ndarray) -> float:
    """webster.flow_ratio_sum as it was before session 39 (6555c74)."""
    primary = primary_phases(layout, protected_first=False)
    ratio = flow_pcu_h / layout.sat_flow_pcu_h
    return sum(float(ratio[primary == k].max(initial=0.0)) for k in range(len(layout.junction.phases)))


def reference_cycle_form_refusal(j: Intersection, order: tuple, greens: tuple, offset_s: float) -> str:
    """safety._cycle_form_refusal as it was before session 39 (6555c74)."""
    n = len(j.phases)
    if not order or len(order) != len(greens):
        return "phase order and greens must be non-empty and of equal length"
    bad_index = any(isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < n for p in order)
    if bad_index or len(set(order)) != len(order):
        return f"phase order {list(order)} must list distinct phases of 0..{n - 1}"
    if any(not isinstance(g, (int, float)) or isinstance(g, bool) or not math.isfinite(g) for g in greens) or not (
        math.isfinite(offset_s)
    ):
        return "non-finite green or offset"
    for p in order:
        why = phase_conflict(j, p)
        if why:
            return why
    served = {m for p in order for m in j.served_movements(p)}
    starved = [m.id for m in j.movements if m.id not in served]
    return f"movements never served: {starved}" if starved else ""


def nine_phases() -> Layout:
    """two_phase's junction with nine phases: N+S green in eight of them (odd minimum and base
    greens, base greens that tie), E+W in the last: a movement counted in eight phases, where numpy's sum stops being a
    sum in order (_summed's second branch)."""
    raw = two_phase_raw()
    rng = random.Random(9)
    raw["phases"] = [
        {
            "state": "GrGr" if k < 8 else "rGrG",
            "min_green_s": round(rng.uniform(3.0, 9.0), 3),
            "max_green_s": 60.0,
            "base_green_s": rng.choice((15.0, 20.0, 20.0, 27.5)),  # ties: the phase order breaks them
        }
        for k in range(9)
    ]
    raw["cycle_max_s"] = 600.0
    raw["max_red_s"] = 600.0
    return Layout.build(parse_intersection(raw, "nine_phases.toml"), CFG)


def layouts() -> list[Layout]:
    city = load_intersections(ROOT / "intersections" / "city")
    return [Layout.build(j, CFG) for _, j in sorted(city.items())] + [nine_phases()]


@pytest.mark.parametrize("length", range(13))
def test_summed_is_numpys_sum_to_the_bit(length):
    rng = np.random.default_rng(length)
    for _ in range(400):
        values = (rng.uniform(0.0, 60.0, length) * 10.0 ** rng.integers(-3, 3, length)).tolist()
        assert _summed(values).hex() == float(np.array(values).sum()).hex()


def test_green_floors_are_the_former_code_s_to_the_bit():
    """Random needs (some 0, some above any green), with and without the unopposed credit, on the
    city's 20 junctions and a nine-phase one."""
    rng = np.random.default_rng(12)
    raised = 0
    for lay in layouts():
        lo, hi = green_range_s(lay.junction)
        n_mov = len(lay.junction.movements)
        for credit in (None, unopposed_credit(lay), unopposed_credit(lay, True)):
            for _ in range(60):
                needs = rng.uniform(0.0, 80.0, n_mov) * (rng.random(n_mov) < 0.8)
                got = green_floors_s(lay, needs, lo, hi, credit)
                want = reference_green_floors_s(lay, needs, lo, hi, credit)
                assert got.dtype == want.dtype and got.shape == want.shape
                assert [g.hex() for g in got.tolist()] == [w.hex() for w in want.tolist()]
                raised += bool((got > lo).any())
    assert raised > 1000  # the needs raise floors: the comparison is not of `lo` with itself


def test_max_red_is_the_former_code_s_to_the_bit():
    rng = random.Random(56)
    for lay in layouts():
        j = lay.junction
        n = len(j.phases)
        for _ in range(30):
            order = tuple(rng.sample(range(n), n))
            greens = tuple(rng.uniform(j.phases[k].min_green_s, 60.0) for k in order)
            got, want = max_red_s(j, order, greens), reference_max_red_s(j, order, greens)
            assert list(got) == list(want)
            assert [v.hex() for v in got.values()] == [v.hex() for v in want.values()]


@pytest.mark.parametrize("transition_green", [False, True])
def test_the_credit_is_computed_once_per_layout_and_equals_a_fresh_one(transition_green):
    policy = WebsterPolicy(WebsterParams(credit_unopposed=True, credit_transition_green=transition_green))
    lay = layouts()[0]
    first = policy._credit(lay)
    fresh = unopposed_credit(lay, transition_green)
    assert np.array_equal(first.phases, fresh.phases) and np.array_equal(first.transition_s, fresh.transition_s)
    assert policy._credit(lay) is first  # kept
    with pytest.raises(ValueError):
        first.transition_s[0] = 1.0  # read-only: no caller can change what later re-plans read
    other = Layout.build(lay.junction, CFG)  # another layout object: its own credit
    assert policy._credit(other) is not first


def random_orders(rng: random.Random, n: int, count: int) -> list[tuple[int, ...]]:
    """Whole cycles in random order and parts of them (a phase left out: movements never served)."""
    return [tuple(rng.sample(range(n), rng.randint(1, n) if rng.random() < 0.3 else n)) for _ in range(count)]


def test_max_red_through_the_gate_memo_is_the_former_code_s_to_the_bit():
    """One GateMemo over every junction and order, each asked twice (derived, then kept)."""
    rng = random.Random(39)
    memo = GateMemo()
    never = 0
    for lay in layouts():
        j = lay.junction
        for order in random_orders(rng, len(j.phases), 30):
            for _ in range(2):
                greens = tuple(rng.uniform(j.phases[k].min_green_s, 60.0) for k in order)
                got, want = max_red_s(j, order, greens, memo), reference_max_red_s(j, order, greens)
                assert list(got) == list(want)
                assert [v.hex() for v in got.values()] == [v.hex() for v in want.values()]
                never += math.inf in got.values()
    assert never > 20  # orders that leave a movement unserved are compared too


def test_cycle_form_refusal_through_the_gate_memo_is_the_former_code_s():
    rng = random.Random(40)
    memo = GateMemo()
    reasons: set[str] = set()
    for lay in layouts():
        j = lay.junction
        n = len(j.phases)
        for order in [*random_orders(rng, n, 20), (0, 0), (n,), (), (True,)]:
            for greens in (tuple(20.0 for _ in order), tuple(math.nan for _ in order), (20.0,)):
                for offset_s in (0.0, math.inf):
                    want = reference_cycle_form_refusal(j, order, greens, offset_s)
                    assert _cycle_form_refusal(j, order, greens, offset_s, memo) == want
                    assert _cycle_form_refusal(j, order, greens, offset_s, GateMemo()) == want  # gate_cycle's own
                    reasons.add(want.split(":")[0].split(" ")[0])
    assert {"", "movements", "phase", "non-finite"} <= reasons  # every refusal is compared, and acceptance


def test_gate_cycle_with_a_memo_gives_the_outcomes_of_one_without():
    rng = random.Random(41)
    memo = GateMemo()
    plans = 0
    for lay in layouts():
        j = lay.junction
        for order in random_orders(rng, len(j.phases), 20):
            greens = tuple(rng.uniform(0.0, 70.0) for _ in order)
            wish = CycleWish(order, greens, rng.uniform(0.0, 100.0))
            kept = gate_cycle(j, wish, plan_id="p", seq=1, now_s=10.0, ttl_s=60.0, memo=memo)
            assert kept == gate_cycle(j, wish, plan_id="p", seq=1, now_s=10.0, ttl_s=60.0)
            plans += kept.command is not None
    assert plans > 100  # the gate accepts, not only refuses


def test_flow_ratio_sum_is_the_former_code_s_to_the_bit():
    """Random flows (some 0), on the layouts and on their lane-shared copies (lane_shared_layout:
    another layout object, its own phases charged), and on the layouts with the lane-shared
    saturation flows (lone_cycle_s: no copy)."""
    rng = np.random.default_rng(42)
    for lay in layouts():
        n_mov = len(lay.junction.movements)
        for _ in range(40):
            flow = rng.uniform(0.0, 2500.0, n_mov) * (rng.random(n_mov) < 0.8)
            for one in (lay, lane_shared_layout(lay, flow)):
                assert flow_ratio_sum(one, flow).hex() == reference_flow_ratio_sum(one, flow).hex()
            # lone_cycle_s': the lane-shared saturation flows on the layout itself, without the copy
            shared = reference_flow_ratio_sum(lane_shared_layout(lay, flow), flow)
            assert _flow_ratio_sum(lay, flow, lane_shared_sat_pcu_h(lay, flow)).hex() == shared.hex()


def test_green_floors_with_credits_of_random_phases_are_the_former_code_s():
    """Credits whose phases count beyond the phases serving a movement (the city's junctions have
    none: their unopposed phases all serve the movement), with their index (FloorIndex.build, as
    unopposed_credit builds it) and without (built by hand: green_floors_s builds it at the call)."""
    rng = np.random.default_rng(43)
    changed = 0
    for lay in layouts():
        lo, hi = green_range_s(lay.junction)
        n_ph, n_mov = lay.serves.shape
        for _ in range(30):
            phases = rng.random((n_ph, n_mov)) < 0.3
            transition_s = rng.uniform(0.0, 6.0, n_mov) * (rng.random(n_mov) < 0.3)
            indexed = Credit(phases, transition_s, FloorIndex.build(lay, lay.serves | phases))
            by_hand = Credit(phases, transition_s)
            needs = rng.uniform(0.0, 80.0, n_mov) * (rng.random(n_mov) < 0.8)
            want = reference_green_floors_s(lay, needs, lo, hi, by_hand)
            for credit in (indexed, by_hand):
                got = green_floors_s(lay, needs, lo, hi, credit)
                assert [g.hex() for g in got.tolist()] == [w.hex() for w in want.tolist()]
            no_phases = Credit(np.zeros_like(phases), transition_s)
            changed += not np.array_equal(want, reference_green_floors_s(lay, needs, lo, hi, no_phases))
    assert changed > 50  # the phases counted beyond the serving ones change the floors


def test_what_webster_keeps_per_layout_equals_a_fresh_computation_and_is_kept():
    for lay in layouts():
        j = lay.junction
        n = len(j.phases)
        assert lay.derived(_reference_cycle_s) == reference_cycle_s_of(j)
        assert lay.derived(_cycle_intergreens_s) == cycle_intergreens_s(j)
        intergreens_s = [j.intergreen_s(k, (k + 1) % n) for k in range(n)]
        least_s = sum(p.min_green_s for p in j.phases) + sum(intergreens_s)
        assert lay.derived(_cycle_terms_s) == (tuple(intergreens_s), least_s)
        lo, hi = lay.derived(_green_range_s)
        fresh_lo, fresh_hi = green_range_s(j)
        assert np.array_equal(lo, fresh_lo) and np.array_equal(hi, fresh_hi)
        assert lay.derived(_green_range_s)[0] is lo  # kept
        with pytest.raises(ValueError):
            lo[0] = 0.0  # read-only: no caller can change what later re-plans read


def test_layout_derived_computes_once_per_layout_object():
    lay = layouts()[0]
    calls: list[Layout] = []

    def build(layout: Layout) -> list[int]:
        calls.append(layout)
        return [len(calls)]

    first = lay.derived(build)
    assert lay.derived(build) is first and calls == [lay]
    other = Layout.build(lay.junction, CFG)
    assert other.derived(build) == [2] and calls == [lay, other]  # another object: its own


def test_a_cycle_wish_greening_conflicting_movements_is_refused_through_the_gate_memo():
    """The core gates every cycle wish with its GateMemo (step.py), whose form check reads the conflicts from the
    memo's _Static: a model with a phase greening N_T and E_T together (one the parser refuses; the city's models
    have none, so the comparison above never meets one) is refused for it, with the memo as without."""
    j = two_phase()
    j = replace(j, phases=(*j.phases, replace(j.phases[0], index=2, state="GGrr")))
    why = "phase 2 greens conflicting movements N_T and E_T"
    memo = GateMemo()
    for order in ((0, 1, 2), (2, 0, 1), (2,)):
        greens = tuple(20.0 for _ in order)
        assert reference_cycle_form_refusal(j, order, greens, 0.0) == why
        for _ in range(2):  # derived, then kept
            assert _cycle_form_refusal(j, order, greens, 0.0, memo) == why
            out = gate_cycle(j, CycleWish(order, greens, 0.0), plan_id="p", seq=1, now_s=10.0, ttl_s=60.0, memo=memo)
            assert out.command is None and out.refused == why


def reference_track_green_ends(
    state: WebsterState, layout: Layout, est: Estimate, signal: SignalView | None, residual_queue_pcu: float
) -> WebsterState:
    """webster.track_green_ends as it was before session 48 (E): every change of the green phase
    rebuilt the four per-phase sums."""
    n = len(layout.junction.phases)
    now_green = None if signal is None or signal.in_intergreen else signal.phase
    if now_green == state.green_phase and len(state.residual_pcu) == n:
        return state
    sums = list(state.residual_pcu) if len(state.residual_pcu) == n else [0.0] * n
    counts = list(state.green_ends) if len(state.green_ends) == n else [0] * n
    runs = list(state.short_run) if len(state.short_run) == n else [0] * n
    free = list(state.free_residual_pcu) if len(state.free_residual_pcu) == n else [0.0] * n
    prev = state.green_phase
    if prev is not None and prev != now_green and 0 <= prev < n:
        ended = layout.lane_green[prev] & (est.lanes.green_s <= 0.0)
        if ended.any():
            left_pcu = est.lanes.queue_pcu[ended] + est.lanes.hidden_pcu[ended]
            residual = float(left_pcu.max())
            free[prev] += float((left_pcu * np.clip(1.0 - est.lanes.block[ended], 0.0, 1.0)).max())
            sums[prev] += residual
            runs[prev] = runs[prev] + 1 if residual >= residual_queue_pcu else 0
            counts[prev] += 1
    return replace(
        state,
        green_phase=now_green,
        residual_pcu=tuple(sums),
        green_ends=tuple(counts),
        short_run=tuple(runs),
        free_residual_pcu=tuple(free),
    )


def green_end_case(rng: random.Random, lay: Layout) -> tuple[WebsterState, Estimate, SignalView | None]:
    """A random (state, estimate, view) for track_green_ends on `lay`: a green phase none, one of the
    junction's or out of its range, the four sums sized, empty or one short, a view of every phase,
    an intergreen or none, lanes green or not, queues with zeros (and a nan now and then)."""
    n, n_lanes = len(lay.junction.phases), lay.lane_share.shape[1]
    est = Estimate.empty(lay, 100.0)
    lanes = replace(
        est.lanes,
        green_s=np.array([rng.choice((0.0, 0.0, 3.0, -0.0)) for _ in range(n_lanes)]),
        queue_pcu=np.array([rng.choice((0.0, rng.uniform(0.0, 9.0), 5.0)) for _ in range(n_lanes)]),
        hidden_pcu=np.array(
            [rng.choice((0.0, rng.uniform(0.0, 4.0), math.nan if rng.random() < 0.01 else 0.0)) for _ in range(n_lanes)]
        ),
        block=np.array([rng.uniform(-0.2, 1.2) for _ in range(n_lanes)]),
    )
    est = replace(est, lanes=lanes)
    sized = [rng.random() < 0.85 for _ in range(4)]
    state = WebsterState(
        50.0,
        None,
        None,
        green_phase=rng.choice((None, None, rng.randrange(n), n, -1)),
        residual_pcu=tuple(rng.uniform(0.0, 30.0) for _ in range(n if sized[0] else n - 1)),
        green_ends=tuple(rng.randrange(4) for _ in range(n if sized[1] else 0)),
        short_run=tuple(rng.randrange(3) for _ in range(n if sized[2] else n + 1)),
        free_residual_pcu=tuple(rng.uniform(0.0, 20.0) for _ in range(n if sized[3] else 0)),
    )
    signal = rng.choice(
        (None, SignalView(rng.randrange(n), rng.random() < 0.4, 2.0, (0.0,) * len(lay.junction.movements)))
    )
    return state, est, signal


def test_green_ends_tracked_are_the_former_code_s():
    """track_green_ends, which copies the state with its sums as they are when a green begins (none
    ended), against the former code: every field to the bit (repr), on green_end_case's states."""
    rng = random.Random(48)
    kinds = {"kept": 0, "began": 0, "ended": 0}
    for lay in layouts():
        for _ in range(150):
            state, est, signal = green_end_case(rng, lay)
            got = track_green_ends(state, lay, est, signal, 3.0)
            want = reference_track_green_ends(state, lay, est, signal, 3.0)
            assert repr(got) == repr(want)
            if got is state:
                kinds["kept"] += 1
            elif got.green_ends == state.green_ends:
                kinds["began"] += 1
            else:
                kinds["ended"] += 1
    assert min(kinds.values()) > 200, kinds


def test_green_ends_computed_together_are_track_green_ends_own():
    """The green ends of many junctions computed together (webster_net.green_ends_all, over all their
    lanes at once), given to track_green_ends, against the former code: every field to the bit
    (repr), on green_end_case's states of all the layouts at once, in random order; and each
    GreenEnd as green_end computes it alone. Ends with lanes turned red, without, and with a nan."""
    rng = random.Random(49)
    cases = [(lay, *green_end_case(rng, lay)) for lay in layouts() for _ in range(150)]
    rng.shuffle(cases)
    asked = [(k, green_ended(state, lay, signal)) for k, (lay, state, _e, signal) in enumerate(cases)]
    asked = [(k, phase) for k, phase in asked if phase is not None]
    ends = green_ends_all([(cases[k][0], cases[k][2], phase) for k, phase in asked])
    seen = {"red": 0, "none": 0, "nan": 0}
    for (k, phase), end in zip(asked, ends, strict=True):
        lay, state, est, signal = cases[k]
        assert repr(end) == repr(green_end(lay, est, phase))
        got = track_green_ends(state, lay, est, signal, 3.0, end)
        assert repr(got) == repr(reference_track_green_ends(state, lay, est, signal, 3.0))
        seen["nan" if math.isnan(end.residual_pcu) else "red" if end.ended else "none"] += 1
    assert seen["red"] > 300 and seen["none"] > 10 and seen["nan"] > 5, seen

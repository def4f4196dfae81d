"""`webster`'s decide() over a region's junctions in one pass (Policy.network_decision; issue 12).

Contract: `NetWebster.decide_all(states, estimates, signals, now_s)` gives, per junction of `jids`,
the (state, wish) WebsterPolicy.decide gives, to the last bit. The junctions whose period ends now
re-plan together: their period's flows are computed together (period_flows_all), and each re-plan
is a generator (WebsterPolicy.replan_steps) that yields the calls it waits on (webster.Ask): its
green_floors_s calls (FloorAsk), its movement_needs_s calls (NeedsAsk) and its spare green's split
(SplitAsk, demand_split_s' last step). The asks of one round are answered together: green floors on
one floor index (the same serving and counted phases per movement) as (junctions, movements) arrays
(raised_floors_all), needs per movement count (movement_needs_all), splits per phase count
(spare_split_all), each with the same float operations in the same order per junction as the
function it stands for; every other step runs as decide() runs it. Under the default keys the
re-plans are not generators at all: policies/webster_rows.py plans the due junctions of one floor
index together as arrays (DuePlans), to the same bits, and leaves the few it does not cover here.

Example: `net = policy.network_decision(layouts)`, then every tick
`decided = net.decide_all([states...], [estimates...], [views...], now_s)`, in `net.jids` order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.policies.webster import (
    Ask,
    FloorAsk,
    FloorIndex,
    FloorSteps,
    GreenEnd,
    NeedsAsk,
    SaturationAsk,
    SplitAsk,
    WebsterPolicy,
    WebsterState,
    _cycle_intergreens_s,
    _green_range_s,
    evolved,
    floor_index,
    green_end,
    green_ended,
    owed_needs_s,
    raised_floors_s,
)
from controller.core.safety import SignalView
from controller.core.spillback import upstream_queue_pcu
from controller.model import CycleWish

# green_floors_s sums the counted greens in order below 8 items (webster._summed), as numpy does; an
# index that counts 8 phases or more for a movement is answered junction by junction
_MAX_COUNTED = 7


@dataclass(frozen=True)
class PaddedIndex:
    """A FloorIndex as (movements, k) arrays, each row's phases first and padded with phase 0
    (`*_on` False there): what raised_floors_all gathers per junction by movement."""

    counting: np.ndarray  # (movements, c) int: the counted phases, in index order
    counting_on: np.ndarray  # (movements, c) bool
    serving: np.ndarray  # (movements, s) int: the serving phases, longest base green first
    serving_on: np.ndarray  # (movements, s) bool
    always: np.ndarray  # (movements,) bool: counted in every phase

    @staticmethod
    def build(index: FloorIndex) -> PaddedIndex:
        counting, counting_on = _padded(index.counting)
        serving, serving_on = _padded(index.serving)
        return PaddedIndex(counting, counting_on, serving, serving_on, np.array(index.always, dtype=bool))


def _padded(rows: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, widest) phase indices padded with 0, and where they are real."""
    width = max((len(r) for r in rows), default=0)
    out = np.zeros((len(rows), width), dtype=np.intp)
    on = np.zeros((len(rows), width), dtype=bool)
    for m, r in enumerate(rows):
        out[m, : len(r)] = r
        on[m, : len(r)] = True
    return out, on


def raised_floors_all(
    pad: PaddedIndex, owed_s: np.ndarray, order: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """(junctions, phases) raised_floors_s of each row: `owed_s` (junctions, movements) what each
    movement is owed (owed_needs_s), `order` each row's np.argsort(-owed_s), `lo` and `hi` (junctions,
    phases). Per junction the same IEEE operations in the same order as raised_floors_s (raise_rows,
    compiled)."""
    g = np.array(lo, dtype=float)  # a C-ordered copy, raised in place
    raise_rows = _compiled_raise_rows()
    c = np.ascontiguousarray
    raise_rows(
        pad.counting,
        pad.counting_on,
        pad.serving,
        pad.serving_on,
        pad.always,
        c(owed_s, dtype=float),
        c(order, dtype=np.intp),
        c(hi, dtype=float),
        g,
    )
    return g


def raise_rows(
    counting: np.ndarray,
    counting_on: np.ndarray,
    serving: np.ndarray,
    serving_on: np.ndarray,
    always: np.ndarray,
    owed_s: np.ndarray,
    order: np.ndarray,
    hi: np.ndarray,
    g: np.ndarray,
) -> None:
    """raised_floors_s on each row of `g` (junctions, phases; its `lo`, raised in place), a
    PaddedIndex's arrays given one by one: per row its movements in `order`, each that is owed more
    than 0 and not counted in every phase has its counted greens summed in index order from 0 (fewer
    than 8 phases: _MAX_COUNTED) and its deficit added to its serving phases in turn, `min(deficit,
    room)` each (the room where it is less), until the deficit is at most 1e-9. Scalar IEEE
    additions, subtractions and comparisons only (no sum reordered; numba without fastmath), so
    compiled (_compiled_raise_rows) it gives raised_floors_s's bits (a nan's sign aside: which of two
    nans an addition keeps is the compiler's, and no comparison sees it)."""
    for i in range(g.shape[0]):
        for r in range(order.shape[1]):
            m = order[i, r]
            owed = owed_s[i, m]
            if owed <= 0.0 or always[m]:
                continue
            counted = 0.0
            for c in range(counting.shape[1]):
                if counting_on[m, c]:
                    counted = counted + g[i, counting[m, c]]
            deficit = owed - counted
            for c in range(serving.shape[1]):
                if not serving_on[m, c] or deficit <= 1e-9:
                    break
                k = serving[m, c]
                room = hi[i, k] - g[i, k]
                add = room if room < deficit else deficit
                g[i, k] = g[i, k] + add
                deficit = deficit - add


@functools.cache
def _compiled_raise_rows() -> Callable[..., None]:
    """raise_rows compiled by numba, once per process, at its first call (about a second): numba is
    imported only by a process that answers floors together. A loop per row in place of numpy array
    operations per movement rank, whose cost per call dominated webster's searches under roadside
    statuses (BENCHMARKS.md, issue 12, E, session 49). Kept per process as a module's functions are
    (the cache holds no result, only the compiled form of raise_rows): held by each FloorAnswers it
    would be compiled again for every network pass built (each test's, each region's). No disk
    cache here (I/O): a live service's warm_up gives it numba's (controller/adapters/compile_cache.py)."""
    import numba

    compiled: Callable[..., None] = numba.njit(raise_rows)
    return compiled


def compile_raise_rows() -> None:
    """Compile raise_rows now, for the argument types raised_floors_all gives it (C-ordered intp,
    bool and float arrays), rather than in a process's first floors-together call: at a live
    service's start (controller/adapters/compile_cache.py warm_up), so that its first re-plan tick is not a second
    or more late (BENCHMARKS.md, issue 12, T, session 50). The same compiled code: no answer moves."""
    one, on = _padded(((0,),))  # one movement counted in and served by one phase, as PaddedIndex.build pads it
    pad = PaddedIndex(one, on, one, on, np.zeros(1, dtype=bool))
    zero = np.zeros((1, 1))
    raised_floors_all(pad, zero, np.zeros((1, 1), dtype=np.intp), zero, np.ones((1, 1)))


class FloorAnswers:
    """answer(): green_floors_s for many FloorAsks at once; the padded indices kept per index value."""

    def __init__(self) -> None:
        self._canon: dict[FloorIndex, tuple[FloorIndex, PaddedIndex | None]] = {}
        self._by_id: dict[int, tuple[FloorIndex, FloorIndex, PaddedIndex | None]] = {}

    def _padded(self, index: FloorIndex) -> tuple[FloorIndex, PaddedIndex | None]:
        """(the first index equal to `index`, its PaddedIndex or None: answered one by one)."""
        kept = self._by_id.get(id(index))
        if kept is not None and kept[0] is index:
            return kept[1], kept[2]
        canon = self._canon.get(index)
        if canon is None:
            wide = max((len(c) for c in index.counting), default=0) > _MAX_COUNTED
            canon = self._canon.setdefault(index, (index, None if wide else PaddedIndex.build(index)))
        self._by_id[id(index)] = (index, *canon)  # holds `index`: its id is not reused meanwhile
        return canon

    def answer(self, asks: Sequence[Ask]) -> list[np.ndarray]:
        """Per ask, its answer() to the bit: a FloorAsk's green_floors_s(ask.layout, ask.needs_s,
        ask.lo, ask.hi, ask.credit), a NeedsAsk's movement_needs_s as a (2, movements) array, a
        SplitAsk's spare_split_s."""
        out: list[np.ndarray] = [_NONE] * len(asks)
        floors: list[int] = []
        searches: list[int] = []
        needs: dict[int, list[int]] = {}
        splits: dict[int, list[int]] = {}
        for i, ask in enumerate(asks):
            if isinstance(ask, FloorAsk):
                floors.append(i)
            elif isinstance(ask, SaturationAsk):
                searches.append(i)
            elif isinstance(ask, NeedsAsk):
                needs.setdefault(len(ask.flow_pcu_h), []).append(i)
            elif isinstance(ask, SplitAsk):
                splits.setdefault(len(ask.greens_s), []).append(i)
            else:
                raise TypeError(f"not an ask webster's pass answers: {type(ask).__name__}")
        self._floors(asks, floors, out)
        self._searches(asks, searches, out)
        for members in needs.values():
            _answer_needs([a for i in members if isinstance(a := asks[i], NeedsAsk)], members, out)
        for members in splits.values():
            _answer_splits([a for i in members if isinstance(a := asks[i], SplitAsk)], members, out)
        return out

    def _floors(self, asks: Sequence[Ask], which: list[int], out: list[np.ndarray]) -> None:
        """answer() of the FloorAsks at `which` (into `out`)."""
        groups: dict[int, tuple[FloorIndex, PaddedIndex, list[int]]] = {}
        for i in which:
            ask = asks[i]
            if not isinstance(ask, FloorAsk):
                raise TypeError(f"not a FloorAsk: {type(ask).__name__}")
            index = floor_index(ask.layout, ask.credit)
            canon, pad = self._padded(index)
            if pad is None:
                out[i] = raised_floors_s(index, owed_needs_s(ask.needs_s, ask.credit), ask.lo, ask.hi)
                continue
            groups.setdefault(id(canon), (canon, pad, []))[2].append(i)
        for canon, pad, members in groups.values():
            rows = [ask for i in members if isinstance(ask := asks[i], FloorAsk)]
            if len(rows) == 1:
                one = rows[0]
                out[members[0]] = raised_floors_s(canon, owed_needs_s(one.needs_s, one.credit), one.lo, one.hi)
                continue
            owed_s = owed_needs_all(rows)
            lo = np.array([a.lo for a in rows], dtype=float)
            hi = np.array([a.hi for a in rows], dtype=float)
            floors = raised_floors_all(pad, owed_s, np.argsort(-owed_s, axis=1), lo, hi)
            for row, i in enumerate(members):
                out[i] = floors[row]

    def _searches(self, asks: Sequence[Ask], which: list[int], out: list[np.ndarray]) -> None:
        """answer() of the SaturationAsks at `which` (into `out`): those of one floor index and phase
        count together (saturation_needs_all); one alone, one of a wide index (answered one by one
        in _floors) or whose flows are not of its movements' length, as it is."""
        groups: dict[tuple[int, int], tuple[PaddedIndex, list[int]]] = {}
        for i in which:
            ask = asks[i]
            if not isinstance(ask, SaturationAsk):
                raise TypeError(f"not a SaturationAsk: {type(ask).__name__}")
            canon, pad = self._padded(floor_index(ask.layout, ask.credit))
            lay, n = ask.layout, len(canon.always)
            if pad is None or not len(ask.flow_pcu_h) == len(lay.sat_flow_pcu_h) == n:
                out[i] = ask.answer()
                continue
            groups.setdefault((id(canon), len(lay.junction.phases)), (pad, []))[1].append(i)
        for pad, members in groups.values():
            rows = [ask for i in members if isinstance(ask := asks[i], SaturationAsk)]
            if len(rows) == 1:
                out[members[0]] = rows[0].answer()
                continue
            needs = saturation_needs_all(pad, rows)
            for row, i in enumerate(members):
                out[i] = needs[row]


def saturation_needs_all(pad: PaddedIndex, asks: Sequence[SaturationAsk]) -> np.ndarray:
    """(asks, movements): per ask its answer(), equal_saturation_search's capacity needs, to the bit;
    the asks of one floor index (`pad`) and phase count. The search's rounds run for all rows at
    once: movement_needs_s' capacity needs at each row's x (its elementwise operations in its order,
    the asks' scalars as columns), owed_needs_s, green_floors_s (raised_floors_all) and the fit
    (the floors' row sums against the green time); a row whose first or second round ends its
    search leaves it, the others bisect 40 rounds in step, as the search does."""
    flow_pcu_h = np.array([a.flow_pcu_h for a in asks], dtype=float)
    sat_pcu_h = np.array([a.layout.sat_flow_pcu_h for a in asks], dtype=float)
    cycle_s = np.array([a.cycle_s for a in asks], dtype=float)
    lost_s = np.array([[a.lost_time_per_phase_s] for a in asks], dtype=float)
    max_y = np.array([a.max_flow_ratio for a in asks], dtype=float)
    lo = np.array([a.layout.derived(_green_range_s)[0] for a in asks], dtype=float)
    hi = np.array([a.layout.derived(_green_range_s)[1] for a in asks], dtype=float)
    total_s = cycle_s - np.array([a.layout.derived(_cycle_intergreens_s) for a in asks], dtype=float)
    has = flow_pcu_h / 3600.0 > 0
    demand = cycle_s[:, None] * flow_pcu_h / sat_pcu_h  # movement_needs_s' first two operations
    credited = np.array([a.credit is not None for a in asks])
    zero = np.zeros(flow_pcu_h.shape[1])
    transition_s = np.array([a.credit.transition_s if a.credit is not None else zero for a in asks], dtype=float)

    def needs_s(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        capacity_s = np.where(has[rows], demand[rows] / x[:, None] + lost_s[rows], 0)
        out: np.ndarray = np.maximum(capacity_s, 0.0)
        return out

    def fits(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        need_s = needs_s(rows, x)
        owed_s = np.where(credited[rows][:, None], np.maximum(need_s - transition_s[rows], 0.0), need_s)
        floors_s = raised_floors_all(pad, owed_s, np.argsort(-owed_s, axis=1), lo[rows], hi[rows])
        fit: np.ndarray = floors_s.sum(axis=1) <= total_s[rows] + 1e-9  # a C-ordered row sums as the row alone
        return fit

    every = np.arange(len(asks))
    low_x, high_x = max_y, 64.0 * max_y
    done = fits(every, low_x)  # the needs at max_flow_ratio fit
    rest = every[~done]
    done[rest] = ~fits(rest, high_x[rest])  # no x makes them fit
    out = needs_s(every, max_y)
    search = every[~done]
    if len(search):
        low_x, high_x = low_x[search], high_x[search]
        for _ in range(40):
            mid_x = (low_x + high_x) / 2.0
            fit = fits(search, mid_x)
            low_x, high_x = np.where(fit, low_x, mid_x), np.where(fit, mid_x, high_x)
        out[search] = needs_s(search, high_x)
    return out


def _answer_needs(asks: Sequence[NeedsAsk], members: Sequence[int], out: list[np.ndarray]) -> None:
    """NeedsAsk.answer() of `asks` (one movement count), into `out` at `members`: one alone, or
    whose layout's arrays are not of its flows' length, as it is; the others as (asks, movements)
    arrays by movement_needs_all."""
    n = len(asks[0].flow_pcu_h)
    rows = [k for k, a in enumerate(asks) if len(a.layout.sat_flow_pcu_h) == len(a.layout.storage_pcu) == n]
    if len(rows) < 2:
        rows = []
    for k in sorted(set(range(len(asks))) - set(rows)):
        out[members[k]] = asks[k].answer()
    if rows:
        both = movement_needs_all([asks[k] for k in rows])
        for row, k in enumerate(rows):
            out[members[k]] = both[:, row]


def movement_needs_all(asks: Sequence[NeedsAsk]) -> np.ndarray:
    """(2, asks, movements): per ask movement_needs_s' (capacity, storage) needs to the bit, each
    elementwise operation as movement_needs_s does it, in its order (the asks' scalars as columns)."""
    flow_pcu_h = np.array([a.flow_pcu_h for a in asks], dtype=float)
    sat_pcu_h = np.array([a.layout.sat_flow_pcu_h for a in asks], dtype=float)
    storage_pcu = np.array([a.layout.storage_pcu for a in asks], dtype=float)
    cycle_s = np.array([[a.cycle_s] for a in asks], dtype=float)
    lost_s = np.array([[a.lost_time_per_phase_s] for a in asks], dtype=float)
    max_y = np.array([[a.max_flow_ratio] for a in asks], dtype=float)
    q_pcu_s = flow_pcu_h / 3600.0
    has = q_pcu_s > 0
    capacity_s = np.where(has, cycle_s * flow_pcu_h / sat_pcu_h / max_y + lost_s, 0)
    storage_s = np.where(has, cycle_s - storage_pcu / np.maximum(q_pcu_s, 1e-12), 0.0)
    return np.array([np.maximum(capacity_s, 0.0), np.maximum(storage_s, 0.0)])


def _answer_splits(asks: Sequence[SplitAsk], members: Sequence[int], out: list[np.ndarray]) -> None:
    """SplitAsk.answer() of `asks` (one phase count), into `out` at `members` (one alone as it is)."""
    if len(asks) == 1:
        out[members[0]] = asks[0].answer()
        return
    greens = spare_split_all(asks)
    for row, i in enumerate(members):
        out[i] = greens[row]


def spare_split_all(asks: Sequence[SplitAsk]) -> np.ndarray:
    """(asks, phases): per ask spare_split_s to the bit: the rounds of its loop over all rows at once,
    each row's elementwise operations as spare_split_s does them and its sums as numpy sums a row
    (a row of a C-ordered array sums as the row alone does); a row that would leave the loop keeps
    its greens from then on (np.where), and the loop ends when every row has left it."""
    greens = np.array([a.greens_s for a in asks], dtype=float)
    hi = np.array([a.hi for a in asks], dtype=float)
    share = np.array([a.share for a in asks], dtype=float)
    return spare_split_rows(greens, hi, share, np.array([a.total_s for a in asks], dtype=float))


def spare_split_rows(greens: np.ndarray, hi: np.ndarray, share: np.ndarray, total_s: np.ndarray) -> np.ndarray:
    """(rows, phases) spare_split_s of each row of `greens`, `hi`, `share` (rows, phases) and `total_s`
    (rows,), to the bit (spare_split_all's rounds)."""
    live = np.ones(len(greens), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):  # the rows of the branch not taken
        for _ in range(greens.shape[1]):
            left = total_s - greens.sum(axis=1)
            room = hi - greens
            open_ = room > 1e-9
            live &= ~(left <= 1e-9) & open_.any(axis=1)
            if not live.any():
                break
            w = np.where(open_, share, 0.0)
            w_sum = w.sum(axis=1)[:, None]
            w = np.where(w_sum > 0, w / w_sum, open_ / open_.sum(axis=1)[:, None])
            greens = np.where(live[:, None], greens + np.minimum(w * left[:, None], room), greens)
    return greens


_NONE = np.zeros(0)  # (a place in FloorAnswers.answer's list not yet answered)


def owed_needs_all(asks: Sequence[FloorAsk]) -> np.ndarray:
    """(asks, movements) owed_needs_s of each ask, to the bit: its needs less its credit's unopposed
    seconds, floored at 0 (its needs as they are without a credit)."""
    needs_s = np.array([a.needs_s for a in asks], dtype=float)
    credited = [a.credit is not None for a in asks]
    if not any(credited):
        return needs_s
    zero = np.zeros(needs_s.shape[1])
    transition_s = np.array([a.credit.transition_s if a.credit is not None else zero for a in asks], dtype=float)
    out: np.ndarray = np.where(np.array(credited)[:, None], np.maximum(needs_s - transition_s, 0.0), needs_s)
    return out


def period_flows_all(periods: Sequence[tuple[WebsterState, Layout, Estimate]], now_s: float) -> list[np.ndarray | None]:
    """Per (state, layout, estimate), period_flow_pcu_h(layout, state, est, now_s - state's
    period start) to the bit: the junctions of one movement count as (junctions, movements) arrays,
    each elementwise operation as period_flow_pcu_h does it, in its order (the hidden upstream
    queue's product per junction, as it is; the estimator's float arrays); None (computed by the
    re-plan itself) for a junction alone of its count, or without the period's start sums, or whose
    arrays differ in length."""
    out: list[np.ndarray | None] = [None] * len(periods)
    groups: dict[int, list[int]] = {}
    for k, (state, _lay, est) in enumerate(periods):
        if state.arrivals_pcu is None or state.departures_pcu is None:
            continue
        n = len(est.arrivals_pcu)
        if len(est.departures_pcu) == len(state.arrivals_pcu) == len(state.departures_pcu) == len(est.block) == n:
            groups.setdefault(n, []).append(k)
    for members in groups.values():
        if len(members) < 2:
            continue
        rows = [periods[k] for k in members]
        arrived = np.array([e.arrivals_pcu for _s, _l, e in rows]) - np.array([s.arrivals_pcu for s, _l, _e in rows])
        departed = np.array([e.departures_pcu for _s, _l, e in rows]) - np.array(
            [s.departures_pcu for s, _l, _e in rows]
        )
        hidden_pcu = np.array([upstream_queue_pcu(lay, e) for _s, lay, e in rows])
        elapsed_s = np.array([[now_s - s.period_start_s] for s, _l, _e in rows])
        free = np.clip(1.0 - np.array([e.block for _s, _l, e in rows]), 0.0, 1.0)
        flow_pcu_h = np.maximum(np.maximum(arrived, departed) + hidden_pcu, 0.0) * 3600.0 / elapsed_s * free
        for row, k in enumerate(members):
            out[k] = flow_pcu_h[row]
    return out


def green_ends_all(ends: Sequence[tuple[Layout, Estimate, int]]) -> list[GreenEnd]:
    """Per (layout, estimate, phase): green_end(layout, est, phase) to the bit (a nan's sign aside),
    every junction's lanes in one array: each elementwise operation as green_end does it, and its
    maxima over the lanes that turned red as np.maximum.reduceat over the junction's lanes with the
    others at -inf. A junction without lanes, or whose lane arrays differ in length, as it is."""
    out: list[GreenEnd | None] = [None] * len(ends)
    rows: list[int] = []
    for k, (lay, est, phase) in enumerate(ends):
        n, lane = len(lay.lane_green[phase]), est.lanes
        if n and len(lane.green_s) == len(lane.queue_pcu) == len(lane.hidden_pcu) == len(lane.block) == n:
            rows.append(k)
        else:
            out[k] = green_end(lay, est, phase)
    if rows:
        picked = [ends[k] for k in rows]
        green = np.concatenate([lay.lane_green[phase] for lay, _e, phase in picked])
        lanes = [est.lanes for _l, est, _p in picked]
        ended = green & (np.concatenate([lane.green_s for lane in lanes]) <= 0.0)
        queue_pcu = np.concatenate([lane.queue_pcu for lane in lanes])
        left_pcu = queue_pcu + np.concatenate([lane.hidden_pcu for lane in lanes])
        free_pcu = left_pcu * np.clip(1.0 - np.concatenate([lane.block for lane in lanes]), 0.0, 1.0)
        starts = np.cumsum([0, *(len(lane.green_s) for lane in lanes[:-1])], dtype=np.intp)
        seen = np.logical_or.reduceat(ended, starts).tolist()
        residual = np.maximum.reduceat(np.where(ended, left_pcu, -np.inf), starts).tolist()
        free = np.maximum.reduceat(np.where(ended, free_pcu, -np.inf), starts).tolist()
        for k, any_, r, f in zip(rows, seen, residual, free):
            out[k] = GreenEnd(True, r, f) if any_ else GreenEnd(False, 0.0, 0.0)
    return [end for end in out if end is not None]


class QuietStates:
    """Which junctions' replan_due is known without calling it (NetWebster.decide_all, issue 12).

    A state decide_all returned is kept (`note`) where replan_due, given it again, would only
    compare its period's end with the clock: it has its period's start sums, no steady greens to
    send (keep_offsets: steady_s None, so _send returns it unchanged), its per-phase residual sums
    sized (track_green_ends then changes nothing while the green phase is the one it saw), no
    replay to advance (_observe: not retime_on_evidence at a coordinated junction not yet
    retimed), and no divided cycle to cut (_cut_divided). Given that very object again (`is`: a
    frozen state, held here, so its id is not reused) with the same green phase in its view, its
    replan_due is (state, None) before its period's end (now - period start < the period's
    length, the same float operations as replan_due's, as arrays) and the state itself from it.
    A state whose four per-phase sums are all empty (a period's first tick: a re-plan starts them
    afresh) is kept too, `fresh`: given again with the same green phase before its period's end, its
    replan_due is track_green_ends' copy with the sums sized to zeros and nothing else changed (no
    green ended: the phase is the one it saw), which `sized` makes without the call; that copy is
    then kept in its place. Only for WebsterPolicy itself (a subclass may change any of these steps)."""

    def __init__(self, policy: WebsterPolicy, layouts: Sequence[Layout], jids: Sequence[str]) -> None:
        self.policy = policy
        p = policy.params
        self._jids = tuple(jids)
        self._phases = [len(lay.junction.phases) for lay in layouts]
        replays = p.coordinated_retime and p.retime_on_evidence
        self._observes = [replays and bool(lay.junction.upstream or lay.junction.downstream) for lay in layouts]
        n = len(self._jids)
        self._kept: list[WebsterState | None] = [None] * n
        self._fresh = [False] * n  # the kept state's four sums are empty (a period's first tick)
        self._green: list[int | None] = [None] * n
        self._start_s = np.zeros(n)
        self._period_s = np.zeros(n)

    def still(self, states: Sequence[WebsterState], signals: Sequence[SignalView | None]) -> list[bool]:
        """Per junction: its state is the one kept and its view shows the green phase it saw."""
        greens = [None if v is None or v.in_intergreen else v.phase for v in signals]
        return [s is k and g == h for s, k, g, h in zip(states, self._kept, greens, self._green)]

    def fresh(self, k: int) -> bool:
        """The kept state of junction `k` (by position) has its four per-phase sums empty."""
        return self._fresh[k]

    def sized(self, k: int, state: WebsterState) -> WebsterState:
        """track_green_ends(state, ...) of a fresh state given again with the green phase it saw
        (still): the four sums sized to zeros, the green phase the same."""
        n = self._phases[k]
        zeros, counts = (0.0,) * n, (0,) * n
        return evolved(
            state,
            green_phase=state.green_phase,
            residual_pcu=zeros,
            green_ends=counts,
            short_run=counts,
            free_residual_pcu=zeros,
        )

    def due(self, now_s: float) -> list[bool]:
        """Per junction: the kept state's period has ended (replan_due's elapsed_s >= period_s)."""
        out: list[bool] = ((now_s - self._start_s) >= self._period_s).tolist()
        return out

    def note(
        self,
        states: Sequence[WebsterState],
        decided: Sequence[tuple[WebsterState, CycleWish | None]],
        still: Sequence[bool],
        due: Sequence[bool],
    ) -> None:
        """Keep each junction's decided state where it is quiet (class docstring), else nothing."""
        policy = self.policy
        for i, (state, _wish) in enumerate(decided):
            if still[i] and not due[i] and state is self._kept[i]:
                continue  # the state kept, unchanged
            fresh = state.residual_pcu == state.green_ends == state.short_run == state.free_residual_pcu == ()
            quiet = (
                state.arrivals_pcu is not None
                and state.steady_s is None
                and (len(state.residual_pcu) == self._phases[i] or fresh)
                and (state.retimed or not self._observes[i])
                and not policy._cut_divided(state)
            )
            if not quiet:
                self._kept[i] = None
                continue
            self._kept[i], self._green[i], self._fresh[i] = state, state.green_phase, fresh
            self._start_s[i] = state.period_start_s
            self._period_s[i] = policy._period_s(state, self._jids[i])


class NetWebster:
    """WebsterPolicy.decide over `jids` in one pass (module docstring)."""

    def __init__(self, policy: WebsterPolicy, layouts: Mapping[str, Layout]) -> None:
        self.policy = policy
        self._layouts = tuple(layouts.values())
        self._jids = tuple(layouts)
        self._answers = FloorAnswers()
        self._quiet = QuietStates(policy, self._layouts, self._jids) if type(policy) is WebsterPolicy else None
        from controller.core.policies.webster_rows import DuePlans  # it builds on this module

        self._rows = DuePlans.of(policy, self._layouts, self._answers)

    @property
    def jids(self) -> tuple[str, ...]:
        return self._jids

    def decide_all(
        self,
        states: Sequence[WebsterState],
        estimates: Sequence[Estimate],
        signals: Sequence[SignalView | None],
        now_s: float,
    ) -> list[tuple[WebsterState, CycleWish | None]]:
        policy = self.policy
        out: list[tuple[WebsterState, CycleWish | None] | None] = [None] * len(self._jids)
        running: list[tuple[int, FloorSteps[tuple[WebsterState, CycleWish | None]], Ask]] = []
        dues: list[tuple[int, WebsterState]] = []
        quiet = self._quiet
        still = quiet.still(states, signals) if quiet is not None else [False] * len(states)
        due_now = quiet.due(now_s) if quiet is not None else []
        if quiet is not None:  # a fresh state due now goes through replan_due (its sums sized there)
            still = [s and not (d and quiet.fresh(i)) for i, (s, d) in enumerate(zip(still, due_now))]
        ends = self._green_ends(states, estimates, signals, still)
        for i, (state, lay, est, view) in enumerate(zip(states, self._layouts, estimates, signals)):
            if still[i]:  # replan_due's answer known without calling it (QuietStates)
                if due_now[i]:
                    dues.append((i, state))
                elif quiet is not None and quiet.fresh(i):
                    out[i] = (quiet.sized(i, state), None)
                else:
                    out[i] = (state, None)
                continue
            end = ends.get(i)
            if end is None:  # (always for a subclass: its replan_due may not take one)
                due = policy.replan_due(state, lay, est, view, now_s)
            else:
                due = policy.replan_due(state, lay, est, view, now_s, end)
            if not isinstance(due, WebsterState):
                out[i] = due
                continue
            dues.append((i, due))
        flows = period_flows_all([(due, self._layouts[i], estimates[i]) for i, due in dues], now_s)
        if self._rows is not None and dues:  # the re-plans as arrays; those it leaves as generators below
            planned, left = self._rows.plan(dues, estimates, flows, now_s)
            for i, plan in planned.items():
                out[i] = plan
            dues, flows = [dues[d] for d in left], [flows[d] for d in left]
        for (i, due), flow_pcu_h in zip(dues, flows):
            steps = policy.replan_steps(due, self._layouts[i], estimates[i], signals[i], now_s, flow_pcu_h)
            try:
                running.append((i, steps, next(steps)))
            except StopIteration as done:
                out[i] = done.value
        while running:
            floors = self._answers.answer([ask for _, _, ask in running])
            waiting = []
            for (i, steps, _), floors_s in zip(running, floors):
                try:
                    waiting.append((i, steps, steps.send(floors_s)))
                except StopIteration as done:
                    out[i] = done.value
            running = waiting
        decided = [o for o in out if o is not None]
        if quiet is not None:
            quiet.note(states, decided, still, due_now)
        return decided

    def _green_ends(
        self,
        states: Sequence[WebsterState],
        estimates: Sequence[Estimate],
        signals: Sequence[SignalView | None],
        still: Sequence[bool],
    ) -> dict[int, GreenEnd]:
        """Per junction (by position) whose replan_due counts a green end now, its green_end,
        computed together (green_ends_all); none for a subclass of WebsterPolicy (its replan_due
        may not take them)."""
        if type(self.policy) is not WebsterPolicy:
            return {}
        at: list[int] = []
        asked: list[tuple[Layout, Estimate, int]] = []
        for i, (state, lay, view) in enumerate(zip(states, self._layouts, signals)):
            if still[i] or state.arrivals_pcu is None:
                continue
            phase = green_ended(state, lay, view)
            if phase is not None:
                at.append(i)
                asked.append((lay, estimates[i], phase))
        return dict(zip(at, green_ends_all(asked)))

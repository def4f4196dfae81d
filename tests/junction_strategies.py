"""Hypothesis strategies: random junction models and random detector feeds.

`junctions()` draws what real imports produce and hand-written models may contain: two to four
approaches of one to three lanes, left/through/right movements over one or several lanes (a
lane may carry two movements), one signal link per movement and lane, two to five green
stages with overlapping and permissive greens, conflicts on some or all of the pairs no stage
serves together, stop-line and advance loops (an advance loop may sit upstream, on another
lane), pedestrian minimums, and a maximum red that is either feasible (room for one round of
minimum greens, `starvation_bound_s`) or not.

`feeds()` draws a detector feed: per second, one Snapshot per junction with counts by vehicle
class, occupancy and speed per loop, under a random demand regime (light, heavy, one approach
saturated, a stuck or silent loop, gaps in the feed).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from hypothesis import strategies as st

from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import CycleWish, DetectorReading, Intersection, PhaseWish, Snapshot, Wish

TICK_S = 1.0  # the decision period; roadside stages last whole ticks
_APPROACHES = ("N", "E", "S", "W")
_TURNS = ("right", "through", "left")  # lane 0 is the rightmost lane, as in SUMO
_LANE_M = 100.0


def whole_s(x_s: float) -> float:
    """Seconds rounded up to whole ticks (how long a roadside shows a stage)."""
    return math.ceil(x_s / TICK_S - 1e-9) * TICK_S


def stage_s(j: Intersection, phase: int) -> float:
    """One stage as a roadside shows it: its minimum green, then a yellow of at least one tick
    and the all-red, in whole ticks."""
    return whole_s(j.phases[phase].min_green_s) + max(whole_s(j.yellow_s), TICK_S) + whole_s(j.all_red_s)


def starvation_bound_s(j: Intersection) -> float:
    """The longest red the gate can promise on any signal history: one round of every stage at
    its minimum green, the widest stage (the one that may have just started) and two ticks (a
    decision arrives once a tick). A junction whose max_red_s is below it is infeasible."""
    stages = [stage_s(j, k) for k in range(len(j.phases))]
    return sum(stages) + max(stages) + 2 * TICK_S


@dataclass(frozen=True)
class _Lane:
    id: str
    approach: str
    index: int


@st.composite
def _movements(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Movements over 2-4 approaches of 1-3 lanes; each turn uses a contiguous run of lanes
    (right turns from the right, left from the left), one signal link per movement and lane."""
    approaches = draw(st.lists(st.sampled_from(_APPROACHES), min_size=2, max_size=4, unique=True))
    movements: list[dict[str, Any]] = []
    link = 0
    for ap in sorted(approaches, key=_APPROACHES.index):
        n_lanes = draw(st.integers(1, 3))
        turns = draw(st.lists(st.sampled_from(_TURNS), min_size=1, max_size=3, unique=True))
        for turn in sorted(turns, key=_TURNS.index):
            width = draw(st.integers(1, n_lanes))
            first = {"right": 0, "left": n_lanes - width}.get(turn, draw(st.integers(0, n_lanes - width)))
            lanes = [f"e{ap}_{i}" for i in range(first, first + width)]
            movements.append(
                {
                    "id": f"{ap}_{turn[0].upper()}",
                    "approach": ap,
                    "turn": turn,
                    "from_edge": f"e{ap}",
                    "lanes": lanes,
                    "links": list(range(link, link + width)),
                    "sat_flow_pcu_h": float(draw(st.integers(1400, 1900)) * width),
                    "storage_pcu": float(draw(st.integers(2, 40))),
                }
            )
            link += width
    return movements


@st.composite
def _stages(draw: st.DrawFn, movements: list[dict[str, Any]], n_links: int) -> tuple[list[str], list[set[int]]]:
    """Green stage states, and for each movement the stages serving it. Stage k always serves
    its own primary movement, which no other stage serves (so no two stages show the same
    greens); the other movements are served by one to three stages, permissive ('g') in some."""
    n_m = len(movements)
    n_p = draw(st.integers(2, min(5, n_m)))
    primaries = draw(st.lists(st.integers(0, n_m - 1), min_size=n_p, max_size=n_p, unique=True))
    serving: list[set[int]] = []
    for i in range(n_m):
        if i in primaries:
            serving.append({primaries.index(i)})
        else:
            serving.append(draw(st.sets(st.integers(0, n_p - 1), min_size=1, max_size=3)))
    permitted = [len(s) > 1 and draw(st.booleans()) for s in serving]
    states = []
    for k in range(n_p):
        state = ["r"] * n_links
        for i, m in enumerate(movements):
            if k in serving[i]:
                letter = "g" if permitted[i] and k != min(serving[i]) else "G"
                for li in m["links"]:
                    state[li] = letter
        states.append("".join(state))
    return states, serving


@st.composite
def _detectors(draw: st.DrawFn, movements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stop-line loop on most lanes, an advance loop on many; at least one loop. An advance
    loop farther than the lane is long sits on the lane upstream (`at_lane`)."""
    lanes = sorted({lane for m in movements for lane in m["lanes"]})
    out: list[dict[str, Any]] = []
    for lane in lanes:
        if draw(st.integers(0, 9)) > 0:
            out.append(
                {"id": f"{lane}_stop", "lane": lane, "kind": "stop", "pos_m": _LANE_M - 2.0, "dist_to_stop_m": 2.0}
            )
        if draw(st.integers(0, 9)) > 3:
            dist = float(draw(st.integers(20, 160)))
            adv = {
                "id": f"{lane}_adv",
                "lane": lane,
                "kind": "advance",
                "pos_m": _LANE_M - dist,
                "dist_to_stop_m": dist,
            }
            if dist > _LANE_M:
                adv.update(pos_m=2 * _LANE_M - dist, at_lane=f"{lane}_up")
            out.append(adv)
    if not out:
        out.append(
            {"id": f"{lanes[0]}_stop", "lane": lanes[0], "kind": "stop", "pos_m": _LANE_M - 2.0, "dist_to_stop_m": 2.0}
        )
    return out


@st.composite
def _phases(draw: st.DrawFn, states: list[str]) -> list[dict[str, Any]]:
    """Timing limits per stage; some with a pedestrian minimum (at most the minimum green)."""
    phases = []
    for state in states:
        lo = float(draw(st.integers(2, 40))) / 2
        hi = lo + float(draw(st.integers(0, 80)))
        phase = {
            "state": state,
            "min_green_s": lo,
            "max_green_s": hi,
            "base_green_s": float(draw(st.integers(math.ceil(lo), math.floor(hi))))
            if math.ceil(lo) <= math.floor(hi)
            else lo,
        }
        if draw(st.booleans()):
            phase["ped_min_green_s"] = lo
        phases.append(phase)
    return phases


@st.composite
def junctions(draw: st.DrawFn, feasible: bool | None = None, jid: str = "J") -> Intersection:
    """A random junction model (module doc). `feasible`: True for a maximum red that leaves
    room for one round of minimum greens, False for one that does not, None for either. The
    cycle bounds always admit every stage in index order at its minimum green."""
    movements = draw(_movements())
    n_links = sum(len(m["links"]) for m in movements)
    states, serving = draw(_stages(movements, n_links))
    apart = [(a, b) for a, b in combinations(range(len(movements)), 2) if not serving[a] & serving[b]]
    if apart and draw(st.booleans()):
        chosen = set(apart)  # as import-net writes them: every pair never served together
    else:
        chosen = draw(st.sets(st.sampled_from(apart), max_size=len(apart))) if apart else set()
    for i, m in enumerate(movements):
        m["conflicts"] = sorted(movements[b if a == i else a]["id"] for a, b in chosen if i in (a, b))
    raw: dict[str, Any] = {
        "id": jid,
        "n_links": n_links,
        "yellow_s": draw(st.sampled_from([3.0, 0.0, 2.0, 3.5, 4.0])),
        "all_red_s": draw(st.sampled_from([1.0, 0.0, 1.5, 2.0])),
        "cycle_min_s": 1.0,
        "cycle_max_s": 1.0,
        "max_red_s": 1.0,
        "base_offset_s": 0.0,
        "phases": draw(_phases(states)),
        "movements": movements,
        "detectors": draw(_detectors(movements)),
    }
    draft = parse_intersection(raw, "random.toml")
    n_p = len(states)
    index_cycle = sum(p.min_green_s for p in draft.phases) + sum(
        draft.intergreen_s(k, (k + 1) % n_p) for k in range(n_p)
    )
    raw["cycle_min_s"] = float(draw(st.integers(1, max(1, math.floor(index_cycle)))))
    raw["cycle_max_s"] = math.ceil(index_cycle) + float(draw(st.integers(0, 200)))
    bound = starvation_bound_s(draft)
    if feasible is None:
        feasible = not draw(st.booleans())
    if feasible:
        raw["max_red_s"] = bound + float(draw(st.integers(0, 120)))
    else:
        raw["max_red_s"] = float(draw(st.integers(1, max(1, math.floor(bound) - 1))))
    return parse_intersection(raw, "random.toml")


@dataclass(frozen=True)
class Feed:
    """A detector feed regime; `snapshots(j, t)` gives the messages of second t (none in a gap)."""

    seed: int
    rate_veh_s: float  # mean arrivals per lane and second
    heavy_approach: int  # index into the junction's approaches whose demand is tripled; -1 none
    stuck_loop: int  # index into the junction's detectors of a loop stuck occupied; -1 none
    silent_loop: int  # ... of a loop that never counts; -1 none
    gaps: tuple[tuple[int, int], ...]  # (first second, seconds) without any message

    def snapshots(self, j: Intersection, t_s: float) -> list[Snapshot]:
        return list(self._messages(j, t_s))

    def _messages(self, j: Intersection, t_s: float) -> Iterator[Snapshot]:
        if any(a <= t_s < a + n for a, n in self.gaps):
            return
        rng = np.random.default_rng((self.seed, int(t_s)))
        approaches = sorted({m.approach for m in j.movements})
        heavy = approaches[self.heavy_approach % len(approaches)] if self.heavy_approach >= 0 else ""
        heavy_lanes = {lane for m in j.movements if m.approach == heavy for lane in m.lanes}
        readings = []
        for i, d in enumerate(j.detectors):
            rate = self.rate_veh_s * (3.0 if d.lane in heavy_lanes else 1.0)
            cars, buses = int(rng.poisson(rate)), int(rng.poisson(rate / 20))
            occupancy = min(1.0, 0.12 * (cars + 2 * buses) + float(rng.uniform(0, 0.2)))
            if i == self.stuck_loop % max(len(j.detectors), 1) and self.stuck_loop >= 0:
                cars, buses, occupancy = 0, 0, 1.0
            if i == self.silent_loop % max(len(j.detectors), 1) and self.silent_loop >= 0:
                cars, buses, occupancy = 0, 0, 0.0
            counts = tuple((c, n) for c, n in (("car", cars), ("bus", buses)) if n)
            speed = float(rng.uniform(1.0, 14.0)) if counts else -1.0
            readings.append(DetectorReading(d.id, counts, occupancy, speed))
        yield Snapshot(j.id, t_s, TICK_S, tuple(readings))


@st.composite
def feeds(draw: st.DrawFn, duration_s: int) -> Feed:
    """A random feed regime over `duration_s` seconds (module doc)."""
    gaps = draw(st.lists(st.tuples(st.integers(duration_s // 4, duration_s), st.integers(2, 60)), max_size=2))
    return Feed(
        seed=draw(st.integers(0, 2**32 - 1)),
        rate_veh_s=draw(st.sampled_from([0.2, 0.5, 0.05, 0.9, 0.0])),
        heavy_approach=draw(st.integers(-1, 3)),
        stuck_loop=draw(st.sampled_from([-1, -1, 0, 3])),
        silent_loop=draw(st.sampled_from([-1, -1, 1, 5])),
        gaps=tuple(gaps) if draw(st.integers(0, 3)) == 3 else (),
    )


absurd_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-50, 400),
    st.sampled_from([0.0, -1.0, 1e9, -1e9, float("nan"), float("inf")]),
)


absurd_phases = st.one_of(st.integers(-3, 8), st.sampled_from([True, False]))


@st.composite
def absurd_cycle_wishes(draw: st.DrawFn) -> CycleWish:
    order = draw(st.lists(absurd_phases, min_size=0, max_size=7))
    n = len(order) if draw(st.booleans()) else draw(st.integers(0, 7))
    greens = draw(st.lists(absurd_numbers, min_size=n, max_size=n))
    return CycleWish(tuple(order), tuple(greens), draw(absurd_numbers))


@st.composite
def plausible_cycle_wishes(draw: st.DrawFn, j: Intersection) -> CycleWish:
    """Some or all stages in any order, each green at, near or past its limits."""
    n = len(j.phases)
    order = draw(st.permutations(range(n)))[: draw(st.integers(1, n))] if draw(st.booleans()) else list(range(n))
    greens = []
    for p in (j.phases[k] for k in order):
        greens.append(
            draw(
                st.sampled_from(
                    [
                        p.min_green_s - 1,
                        p.min_green_s,
                        p.base_green_s,
                        p.max_green_s,
                        p.max_green_s + 1,
                        p.max_green_s + 30,
                    ]
                )
                | st.floats(0, 150)
            )
        )
    return CycleWish(tuple(order), tuple(greens), draw(st.floats(-200, 400)))


@st.composite
def absurd_phase_wishes(draw: st.DrawFn) -> PhaseWish:
    return PhaseWish(draw(absurd_phases), draw(absurd_numbers))


@st.composite
def plausible_phase_wishes(draw: st.DrawFn, j: Intersection) -> PhaseWish:
    return PhaseWish(draw(st.integers(0, len(j.phases) - 1)), draw(st.sampled_from([0.0, 1.0, 5.0, 500.0])))


def wishes(j: Intersection) -> st.SearchStrategy[Wish]:
    return st.one_of(absurd_cycle_wishes(), plausible_cycle_wishes(j), absurd_phase_wishes(), plausible_phase_wishes(j))


@st.composite
def views(draw: st.DrawFn, j: Intersection, now_s: float = 1000.0) -> SignalView:
    """A signal state: a green (for any time) or an intergreen, movements red for up to 400 s."""
    phase = draw(st.integers(0, len(j.phases) - 1))
    inter = draw(st.booleans())
    elapsed = 0.0 if inter else draw(st.floats(0, 300))
    served = set(j.served_movements(phase))
    red_since = tuple(now_s if (m.id in served and not inter) else now_s - draw(st.floats(0, 400)) for m in j.movements)
    return SignalView(phase, inter, elapsed, red_since)

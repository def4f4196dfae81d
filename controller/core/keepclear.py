"""Don't block the box: a movement whose exit lanes the next light's loops see full. Pure.

A vehicle that crosses its stop line into a lane already full to its entry stops inside the
junction. There it blocks the streams that cross its path, and on a short link between two
lights the circle closes: each light's entering stream stands in its own junction waiting for
room on a lane the other light's turners fill (BENCHMARKS.md, issue 9, G session 14 and L
session 15: the 12-15 m pairs of ingolstadt21). The rule of the road ("do not enter a box you
cannot leave") applied by the signal: green into a full lane serves nothing.

Reading (the next light's own loops, never the simulator's truth): a lane of a controlled
neighbour is *full to its entry* when its advance loop sits within one vehicle of the lane's
start (or upstream of it) and has stood (occupancy >= `[estimation] standing_occupancy` with
no count or a crawl: the estimator's `adv_standing_s`) for `standing_s` at least, while its
stop-line loop is occupied too, *on its own green*: green for `standing_s` past the start-up
loss. The estimator uses that same reading for "the queue reaches the advance loop"; with the
loop at the entry it means no room is left to enter, and on green that the lane does not drain
(a full short lane at its red is the queue its green clears in seconds: acting on that turned
the upstream light away every cycle and locked the 12 m pair under max-pressure).

Which lanes of the exit edge a movement feeds, the junction model does not say (only the edge,
`Movement.to_edge`), so the blocked share of a movement is the share, by the arrival flow the
next light measures on them, of its exit edge's lanes seen full. For its decision only, the
policy sees that share of the movement's queue and arrival flow as not servable now (its queue,
flow and the queue spilled upstream of its advance loops scaled by 1 - share; on a lane shared
by several movements, by the most blocked one's): a stage whose movements all enter full lanes
gains nothing (max-pressure, schedule, scats; webster times from its counts, and only its
reading of the queue spilled upstream, `upstream_queue_pcu`, is scaled). The queue held at the
light before, waiting to enter a lane seen full, is added to the movement that drains that lane
(as core/spillback.py counts a queue spilled past the advance loop). The maximum red is the
gate's, untouched: a blocked movement is still served by its deadline.

Example: a 15 m link whose left-turn lane (one of its three lanes, 30 % of the flow measured on
the link) is full: every movement at the upstream light that feeds the link is seen 30 % blocked;
with all three lanes full, 100 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from controller.core.estimation import Estimate, Layout


@dataclass(frozen=True)
class ExitLanes:
    """One movement's exit as a neighbour's lanes: the movement's position, the neighbour, and
    the neighbour's lane indices on the exit edge (all of them, and whether each is watched:
    an advance loop at the lane's entry)."""

    movement: int
    junction: str
    lanes: np.ndarray  # (k,) lane indices in the neighbour's Layout
    watched: np.ndarray  # (k,) bool: the advance loop within one vehicle of the lane's start


@dataclass(frozen=True)
class KeepClear:
    """Per junction, the exits of its movements that end on a controlled neighbour's approach
    with at least one watched lane (built once: `build`)."""

    exits: Mapping[str, tuple[ExitLanes, ...]]
    standing_s: float

    @staticmethod
    def build(layouts: Mapping[str, Layout], vehicle_spacing_m: float, standing_s: float) -> KeepClear:
        """The exits of every junction in `layouts` (the network model only: movements' exit
        edges, the neighbours' approach lanes and where their advance loops sit)."""
        approach = {}  # edge -> (junction, lane indices, watched)
        for jid, lay in layouts.items():
            by_edge: dict[str, dict[str, None]] = {}
            for mov in lay.junction.movements:
                by_edge.setdefault(mov.from_edge, {}).update(dict.fromkeys(mov.lanes))
            for edge, lanes in by_edge.items():
                ix = [lay.lanes.index(lane) for lane in lanes]
                watched = [_entry_loop(lay, i, vehicle_spacing_m) for i in ix]
                approach[edge] = (jid, np.array(ix, dtype=int), np.array(watched, dtype=bool))
        exits = {}
        for jid, lay in layouts.items():
            out = []
            for m, mov in enumerate(lay.junction.movements):
                hit = approach.get(mov.to_edge) if mov.to_edge else None
                if hit is not None and hit[0] != jid and hit[2].any():
                    out.append(ExitLanes(m, hit[0], hit[1], hit[2]))
            if out:
                exits[jid] = tuple(out)
        return KeepClear(exits, standing_s)


def _entry_loop(lay: Layout, lane: int, vehicle_spacing_m: float) -> bool:
    """Whether lane `lane`'s advance loop sits upstream of the lane or within one vehicle of its
    start (standing there: no room left to enter the lane)."""
    k = int(lay.lane_adv[lane])
    if k < 0:
        return False
    d = lay.junction.detectors[k]
    return d.at_lane != d.lane or d.pos_m < vehicle_spacing_m


def full_lanes(kc: KeepClear, lay: Layout, est: Estimate) -> np.ndarray:
    """(lanes,) bool: the junction's lanes that stand full on their own green: the advance loop
    has stood for kc.standing_s past the start-up loss of a green still shown, and the stop-line
    loop is occupied (a lane without one counts as occupied). A short lane full at its red is
    a queue its next green clears in seconds; full through its green it is blocked (its turners
    wait for gaps, or its exit is full) and what enters it stands in the box."""
    ls, p = est.lanes, lay.params
    stood = ls.adv_standing_s >= kc.standing_s - 1e-9
    on_green = ls.green_s >= kc.standing_s + p.startup_lost_s - 1e-9
    out: np.ndarray = stood & on_green & (ls.stop_empty_s <= 0.0)
    return out & (lay.lane_adv >= 0)


def touched(
    out: dict[str, tuple[np.ndarray, np.ndarray]], layouts: Mapping[str, Layout], jid: str
) -> tuple[np.ndarray, np.ndarray]:
    """Junction `jid`'s two per-movement arrays in `out` (a share, a PCU held), zeros added at its
    first touch: the shape `blocked_shares` and coupledexit.held_shares return."""
    if jid not in out:
        n = len(layouts[jid].junction.movements)
        out[jid] = (np.zeros(n), np.zeros(n))
    return out[jid]


def blocked_shares(
    kc: KeepClear, layouts: Mapping[str, Layout], estimates: Mapping[str, Estimate]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per junction touched by a watched lane seen full: (movements,) twice. First the share of
    each movement's exit, by the flow measured on its lanes (lanes by count where none is
    measured), seen full; then the PCU held upstream, at the light before, waiting to enter the
    full lanes a movement drains (that light's queue times the share, spread over the full lanes
    by their flow and over their movements by lane share). Junctions untouched are left out."""
    far = {ex.junction for exs in kc.exits.values() for ex in exs}
    full = {jid: full_lanes(kc, layouts[jid], estimates[jid]) for jid in far}
    return exit_shares(kc.exits, layouts, estimates, full)


def exit_shares(
    exits_by_junction: Mapping[str, tuple[ExitLanes, ...]],
    layouts: Mapping[str, Layout],
    estimates: Mapping[str, Estimate],
    full: Mapping[str, np.ndarray],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`blocked_shares` for any reading of the neighbours' lanes: `full[N]` (N's lanes,) bool, the
    lanes that take no vehicle now (a neighbour left out: none). Watched lanes only."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    arrays = partial(touched, out, layouts)
    for jid, exits in exits_by_junction.items():
        for ex in exits:
            if ex.junction not in full:
                continue
            seen = full[ex.junction][ex.lanes] & ex.watched
            if not seen.any():
                continue
            flow_pcu_h = estimates[ex.junction].lanes.flow_pcu_h[ex.lanes]
            weight = flow_pcu_h if flow_pcu_h.sum() > 0 else np.ones(len(flow_pcu_h))
            share = float(weight[seen].sum() / weight.sum())
            arrays(jid)[0][ex.movement] = share
            held_lane = float(estimates[jid].queue_pcu[ex.movement]) * np.where(seen, weight, 0.0) / weight.sum()
            arrays(ex.junction)[1][:] += layouts[ex.junction].lane_share[:, ex.lanes] @ held_lane
    return out


def seen_by_policy(lay: Layout, est: Estimate, seen: tuple[np.ndarray, np.ndarray]) -> Estimate:
    """The estimate a policy decides on: each movement's queue and arrival flow, and the hidden
    queue of its lanes, less the share (`seen[0]`, per movement) whose exit is seen full; and the
    PCU held upstream behind a full lane it drains (`seen[1]`) added to its queue, as
    core/spillback.py counts a queue spilled past the advance loop."""
    blocked, held_pcu = seen
    servable = 1.0 - blocked
    lane_servable = 1.0 - (lay.lane_uses * blocked[:, None]).max(axis=0)
    lanes = replace(est.lanes, hidden_pcu=est.lanes.hidden_pcu * lane_servable)
    queue = est.queue_pcu * servable + held_pcu
    return replace(est, queue_pcu=queue, flow_pcu_h=est.flow_pcu_h * servable, lanes=lanes)


@dataclass(frozen=True)
class ShortLinks:
    """[estimation] short_link_room: no green into a short link with no room left for a whole
    vehicle while the light at its end lets none of it leave.

    A link whose lanes each store fewer vehicles than the sending light's shortest minimum green
    sends into the lane at its saturation flow (the junction models': 7 s at 1,800 PCU/h, 3.5 PCU =
    26.25 m with the import's defaults) fills within one green. A vehicle sent into a lane of it
    whose counted queue leaves less than one vehicle's storage (lane length / vehicle_spacing_m)
    stops with its tail in the junction it left, across that junction's other streams; at
    ingolstadt21's 12.1 m and 15.3 m pairs such a tail, and a left turner standing in the far
    junction's box at its permitted green ('g'), close a circle no signal state releases
    (BENCHMARKS.md, issue 9, K session 23). Reading (the far light's
    loops and its reported stage, never positions): a lane of the link takes no vehicle now when
    the far light's loops see it whole (its advance loop within one vehicle of the lane's start),
    its counted queue (between the loops) leaves less than one vehicle's storage from the advance
    loop to the stop line, and the far light's stage in force gives none of its movements a
    protected green (at red nothing leaves; a permitted turner at its head waits for a gap in the
    stream sent into the link's other direction). The movements into the link see that lane's
    share of their queue and flow as not servable, the queue held before it counts at the far
    light's movement that drains it (`exit_shares`, as keep_clear). A light with no status, or
    whose detector feed is stale, is not read.

    Example: a 15.3 m lane (2.04 PCU) holding a bus (2 PCU) turning left at its permitted green:
    room 0.04 PCU, no whole vehicle fits; the movements into that link see the lane's share of
    the link's measured flow as blocked until the far light's protected stage, or the lane drains.
    """

    exits: Mapping[str, tuple[ExitLanes, ...]]
    storage_pcu: Mapping[str, np.ndarray]  # per far light: (lanes,) from the advance loop to the stop line

    @staticmethod
    def build(kc: KeepClear, layouts: Mapping[str, Layout], vehicle_spacing_m: float) -> ShortLinks:
        """The exits of `kc` whose lanes are all watched and short (the class doc; the network
        model only: loops, minimum greens, the lanes' saturation flows)."""
        storage = {}
        for jid, lay in layouts.items():
            dist_m = np.array([lay.junction.detectors[k].dist_to_stop_m if k >= 0 else np.inf for k in lay.lane_adv])
            storage[jid] = dist_m / vehicle_spacing_m
        exits = {}
        for jid, exs in kc.exits.items():
            min_green_s = min(p.min_green_s for p in layouts[jid].junction.phases)
            short = tuple(
                ex
                for ex in exs
                if ex.watched.all()
                and fills_in_one_green(
                    storage[ex.junction][ex.lanes], layouts[ex.junction].lane_sat_prior_pcu_h[ex.lanes], min_green_s
                ).all()
            )
            if short:
                exits[jid] = short
        far = {ex.junction for exs in exits.values() for ex in exs}
        return ShortLinks(exits, {n: storage[n] for n in far})


def fills_in_one_green(storage_pcu: np.ndarray, sat_pcu_h: np.ndarray, min_green_s: float) -> np.ndarray:
    """(lanes,) bool: the lanes of a short link, each storing fewer PCU (`storage_pcu`) than the
    sending light's shortest minimum green `min_green_s` sends into it at its saturation flow
    `sat_pcu_h` (7 s at 1,800 PCU/h: 3.5 PCU). The one definition of "short" for ShortLinks (all
    of a link's watched lanes, storage from the advance loop) and [max_pressure] pull_upstream
    (phases.upstream_held_pcu: any lane of the approach, storage between its loops)."""
    short: np.ndarray = storage_pcu < min_green_s * sat_pcu_h / 3600.0
    return short


def no_room_lanes(sl: ShortLinks, jid: str, lay: Layout, est: Estimate, phase: int) -> np.ndarray:
    """(lanes,) bool: the far light `jid`'s lanes that take no whole vehicle now (ShortLinks): less
    than one vehicle's storage left by the queue counted on them, and no protected green in
    `phase`, the light's stage in force."""
    room: np.ndarray = (sl.storage_pcu[jid] - est.lanes.queue_pcu < 1.0) & ~lay.lane_protected[phase]
    return room


def room_shares(
    sl: ShortLinks,
    layouts: Mapping[str, Layout],
    estimates: Mapping[str, Estimate],
    phases: Mapping[str, int | None],
    stale: frozenset[str] = frozenset(),
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`blocked_shares`'s arrays for the short links' lanes with no room (ShortLinks); a far light
    without a status (`phases[N]` None) or in `stale` is not read."""
    full = {}
    for n in sl.storage_pcu:
        phase = phases.get(n)
        if phase is not None and n not in stale:
            full[n] = no_room_lanes(sl, n, layouts[n], estimates[n], phase)
    return exit_shares(sl.exits, layouts, estimates, full)

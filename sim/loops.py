"""Where a junction's induction loops go: generated positions, or the city's own loops.

Rules (docs/import.md explains them with figures):
- stop-line loop: `stop_setback_m` upstream of the stop line; on a lane shorter than that, as
  near the stop line as the lane allows, and never longer than the lane. A junction lane
  shorter than one loop holds no halting vehicle (the queue's head stands before it): the loop
  goes to the end of the first lane upstream on the unambiguous chain (below) that can hold one,
  when every such lane of the approach edge can (`stop_loop_before_split`, on as shipped).
- advance loop: `advance_dist_m` upstream of the stop line, measured along the path the
  vehicles drive. When the approach lane is shorter, the loop goes upstream onto the lane that
  feeds it, across edge boundaries, while the chain is unambiguous: exactly one lane feeds the
  current one, that lane feeds nothing else, and the node between them is not a traffic light.
  Where the chain branches, the loop stays at the start of the last lane of the chain (vehicles
  from every branch cross it there). On a lane that starts at a network fringe (nothing
  feeds it, or, with `turn_back_is_fringe`, nothing but a turn back at a dead end: vehicles
  are inserted at its start) a loop is never
  at the very start: it stays at least one vehicle spacing into the lane, so that inserted
  vehicles cross it; where the lane is too short for that upstream of the stop-line loop, the
  junction lane has no advance loop. With `advance_clear_of_start` (config.toml [detectors], off
  as shipped) the same holds on every lane of the chain, fed or not: a real advance loop is never
  inside the first car length of a link (vehicles join there from a driveway, a car park or a
  side street; the upstream junction box ends there); on a fed lane too short for that upstream
  of the stop-line loop, the loop goes as far in as the stop-line loop allows (it is kept).
  Geometric only: the routes are not read.
- advance loop past a split (`advance_past_split`, config.toml [detectors]): where the chain has no
  room for an advance loop and ends at a split (its last lane's one feeder, not at a light, feeds it
  and other lanes of the same edge: one lane that becomes two pockets), the chain goes on upstream
  from the feeder, and the loop sits there as above, counted for each lane the feeder feeds: one row
  per lane at the same place, `shared_by` the number of them (the estimator splits its count between
  them: controller/core/estimation.py own_shares), where the road between it and the stop-line loop holds at
  least one vehicle (`vehicle_spacing_m`) for each of those lanes (_shared_advance), else none.
- a loop therefore measures for a junction lane (`lane`) while it may sit on another SUMO lane
  (`at_lane`, `pos_m` on that lane); `dist_to_stop_m` is along the path.
- the city's loops (e1Detector / inductionLoop in the scenario's additional files; not one that counts
  only some vehicles, `vTypes` or `nextEdges`, or persons, `detectPersons`) found on
  a junction lane's unambiguous chain become its stop-line loop when within one vehicle of the
  stop line, its advance loop otherwise (the one nearest the configured advance distance).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.errors import NetworkError
from sim.xmlfiles import UNREADABLE_XML, open_xml, readable_roots

if TYPE_CHECKING:  # sumolib has no type information: these read as Any, and name what is passed
    from sumolib.net import Net
    from sumolib.net.edge import Edge
    from sumolib.net.lane import Lane
    from sumolib.net.node import Node

_EPS_M = 0.01  # SUMO's lane-end check is strict; keep loops this far inside the lane
_TURN_BACK_DEG = 150.0  # a change of heading this large from one lane to the next is a U-turn


@dataclass(frozen=True)
class Placement:
    """Loop distances: config.toml [detectors]."""

    stop_setback_m: float
    advance_dist_m: float
    loop_length_m: float
    vehicle_spacing_m: float
    stop_loop_before_split: bool  # _stop_hop
    turn_back_is_fringe: bool  # _fringe
    advance_clear_of_start: bool  # _advance: every lane's start kept clear, not only a fringe's
    advance_past_split: bool = False  # _past_split: a lane with no room for one counts the feeder's of a split


@dataclass(frozen=True)
class Hop:
    """One lane of the chain upstream of a junction lane: `offset_m` from the lane's end to
    the junction's stop line (0 for the junction lane itself)."""

    lane: str
    length_m: float
    offset_m: float
    fringe_start: bool  # nothing feeds this lane: vehicles enter the network on it


@dataclass(frozen=True)
class CityLoop:
    id: str
    lane: str
    pos_m: float  # from the lane's start
    source: str


def _is_signalised(node: Node) -> bool:
    return bool(node.getType().startswith("traffic_light"))


def upstream_chain(lane: Lane, max_m: float, turn_back_is_fringe: bool) -> list[Hop]:
    """The junction lane, then the lanes that alone feed it, up to max_m upstream. A lane is a
    fringe start when nothing feeds it (or, with `turn_back_is_fringe`, nothing but a U-turn)."""
    chain = [Hop(lane.getID(), lane.getLength(), 0.0, _fringe(lane, turn_back_is_fringe))]
    seen = {lane.getID()}
    cur, covered = lane, lane.getLength()
    while covered < max_m:
        feeders = _feeders(cur)
        if len(feeders) != 1:
            break
        prev = feeders[0]
        if (
            prev.getID() in seen
            or _is_signalised(prev.getEdge().getToNode())
            or {c.getToLane().getID() for c in prev.getOutgoing()} != {cur.getID()}
        ):
            break
        seen.add(prev.getID())
        chain.append(Hop(prev.getID(), prev.getLength(), covered, _fringe(prev, turn_back_is_fringe)))
        cur, covered = prev, covered + prev.getLength()
    return chain


def _fringe(lane: Lane, turn_back: bool) -> bool:
    """Vehicles enter the network on this lane: nothing feeds it, or (`turn_back`) nothing but a
    turn back (the dead end where a cut-out network's road turns around at its boundary: the
    traffic on the lane comes from outside the network, not from the few that U-turn there)."""
    feeders = _feeders(lane)
    return all(_turns_back(f, lane) for f in feeders) if turn_back else not feeders


def _turns_back(feeder: Lane, lane: Lane) -> bool:
    """The feeder's last heading and the lane's first differ by at least _TURN_BACK_DEG."""
    (ax, ay), (bx, by) = feeder.getShape()[-2:]
    (cx, cy), (dx, dy) = lane.getShape()[:2]
    turn = abs(math.atan2(dy - cy, dx - cx) - math.atan2(by - ay, bx - ax)) % (2 * math.pi)
    return min(turn, 2 * math.pi - turn) >= math.radians(_TURN_BACK_DEG)


# The feeders of each lane asked for within `feeders_memo` (one network's import): sumolib's getIncoming walks every
# connection into the lane's edge on each call, and the loop rules ask for the same lanes' feeders thousands of times.
_FEEDERS_MEMO: ContextVar[dict[object, tuple[Lane, ...]] | None] = ContextVar("feeders_memo", default=None)


@contextmanager
def feeders_memo() -> Iterator[None]:
    """Within it, each lane's feeders are read from sumolib once (the network must not change inside)."""
    token = _FEEDERS_MEMO.set({})
    try:
        yield
    finally:
        _FEEDERS_MEMO.reset(token)


def _feeders(lane: Lane) -> tuple[Lane, ...]:
    memo = _FEEDERS_MEMO.get()
    if memo is None:
        return _feeders_read(lane)
    kept = memo.get(lane)
    if kept is None:
        kept = memo[lane] = _feeders_read(lane)
    return kept


def _feeders_read(lane: Lane) -> tuple[Lane, ...]:
    """The lanes with a connection into `lane`, less internal, crossing and walking-area lanes, in sumolib's order."""
    return tuple(
        ln
        for ln in lane.getIncoming()
        if not ln.getID().startswith(":") and ln.getEdge().getFunction() not in ("crossing", "walkingarea")
    )


def _fit(pos_m: float, length_m: float, lane_m: float) -> tuple[float, float]:
    """(pos, length) clamped so that the loop lies inside the lane."""
    length = max(0.0, min(length_m, lane_m - _EPS_M))
    return min(max(pos_m, 0.0), max(lane_m - length - _EPS_M, 0.0)), length


def generated(tid: str, lane: Lane, p: Placement, taken: set[str]) -> list[dict[str, Any]]:
    """Stop-line and advance loop tables for one junction lane (sumolib Lane)."""
    lane_id = lane.getID()
    chain = upstream_chain(lane, p.advance_dist_m, p.turn_back_is_fringe)
    stop_hop = _stop_hop(lane, chain, p)
    length_m = stop_hop.length_m
    stop_pos, stop_len = _fit(length_m - p.stop_setback_m - p.loop_length_m, p.loop_length_m, length_m)
    stop_dist_m = stop_hop.offset_m + length_m - stop_pos
    out = [
        _table(
            _unique(f"{tid}_{lane_id}_stop", taken),
            lane_id,
            "stop",
            stop_hop.lane,
            stop_pos,
            stop_dist_m,
            stop_len,
            p.loop_length_m,
        )
    ]
    adv, shared_by = _advance(chain, p, stop_dist_m), 1
    if adv is None and p.advance_past_split:
        split = _past_split(lane, chain, p)
        if split is not None:
            adv, shared_by = _shared_advance(split, p, stop_dist_m)
    if adv is not None:
        hop, pos = adv
        pos, adv_len = _fit(pos, p.loop_length_m, hop.length_m)
        out.append(
            _table(
                _unique(f"{tid}_{lane_id}_adv", taken),
                lane_id,
                "advance",
                hop.lane,
                pos,
                hop.offset_m + hop.length_m - pos,
                adv_len,
                p.loop_length_m,
            )
        )
        if shared_by > 1:
            out[-1]["shared_by"] = shared_by  # a split's feeder: each lane it feeds counts its share
        # the loop's lane is on the junction lane's chain of sole feeders: entry fed with it
        elif entry_fed(lane, p.turn_back_is_fringe):
            out[-1]["at_entry"] = True  # a queue past the loop waits to enter the network (Detector.at_entry)
    return out


def entry_fed(lane: Lane, turn_back_is_fringe: bool) -> bool:
    """Vehicles reach `lane` only from a network entry: it is a fringe start, or its one feeder
    feeds only it (not at a signal: the upstream_chain rule) and is, in turn, entry fed. A queue
    standing back past the lane's start then waits to enter the network, holding no one."""
    cur, seen = lane, {lane.getID()}
    while not _fringe(cur, turn_back_is_fringe):
        feeders = _feeders(cur)
        if len(feeders) != 1:
            return False
        prev = feeders[0]
        if (
            prev.getID() in seen
            or _is_signalised(prev.getEdge().getToNode())
            or {c.getToLane().getID() for c in prev.getOutgoing()} != {cur.getID()}
        ):
            return False
        seen.add(prev.getID())
        cur = prev
    return True


def own_road_m(lane: Lane, turn_back_is_fringe: bool) -> float | None:
    """Metres of road upstream of `lane`'s start that still carry only the traffic reaching it
    (the room a queue past an advance loop on `lane` has before it stands across a junction): the
    lanes that alone feed it, one after another (an edge split, a lane added, a turn pocket's
    start: the node between has no other stream), back to the first node where other streams
    merge or cross (another incoming road carrying vehicles, signalised or not) or where the lane
    has several feeders. 0 when `lane`'s own start is such a node; None when the road leads back
    to a network entry (`_fringe`) with no such node: a queue there waits to enter the network.
    The feeder may also feed other lanes of the same road (a pocket's start, a lane added): they
    are the same approach's traffic, held on its own road, and their queues share the feeder's
    length, so each lane counts its share (1 / the lanes the feeder feeds, compounded upstream)."""
    return _own_road(lane, turn_back_is_fringe)[1]


def own_road_from_light(lane: Lane, turn_back_is_fringe: bool) -> bool:
    """Whether `lane`'s own road (own_road_m) starts at a signalised node: a queue standing back past
    its room stands on that light's approaches, held at its stop line, where that light's loops count
    it. False where the road leads back to a network entry or starts at an unsignalised node."""
    end = _own_road(lane, turn_back_is_fringe)[0]
    return end is not None and _is_signalised(end.getEdge().getFromNode())


def room_to_turn_off_m(lane: Lane, turn_back_is_fringe: bool) -> float | None:
    """Metres of road past the node where `lane`'s own road ends upstream (own_road_m) that still
    lead only into that road, before a lane that also turns off it: the lanes feeding it there,
    theirs in turn, by the shortest way (each lane's length shared by the lanes of the road it
    feeds, as own_road_m's). A queue standing back past the room holds only traffic bound for this
    road until it is longer than that; beyond, it stands on a lane that carries traffic bound
    elsewhere and holds it. 0 where a lane feeding the road there also turns off it (turnarounds
    aside), or after MAX_TURN_OFF_HOPS nodes; a lane fed by nothing ends a way (its queue waits to
    enter the network). None where the road leads back to a network entry (own_road_m None)."""
    end = _own_road(lane, turn_back_is_fringe)[0]
    return None if end is None else _to_turn_off_m(end, frozenset([end.getID()]), 0)


MAX_TURN_OFF_HOPS = 6  # nodes followed upstream by room_to_turn_off_m (as sim/netlinks.py's MAX_HOPS)


def _to_turn_off_m(lane: Lane, seen: frozenset[str], hops: int) -> float:
    feeders = _feeders(lane)
    if not feeders or hops >= MAX_TURN_OFF_HOPS:
        return 0.0
    road, ways = lane.getEdge(), list[float]()
    for f in feeders:
        fed = {c.getToLane() for c in f.getOutgoing() if c.getDirection() != "t"}
        if f.getID() in seen or any(ln.getEdge() is not road for ln in fed):
            return 0.0
        ways.append(f.getLength() / max(len(fed), 1) + _to_turn_off_m(f, seen | {f.getID()}, hops + 1))
    return min(ways)


def _own_road(lane: Lane, turn_back_is_fringe: bool) -> tuple[Lane | None, float | None]:
    """(the lane where own_road_m's walk stops, its room); (None, None) at a network entry."""
    cur, seen, room, share = lane, {lane.getID()}, 0.0, 1.0
    while True:
        if _fringe(cur, turn_back_is_fringe):
            return None, None
        feeders = _feeders(cur)
        node = cur.getEdge().getFromNode()
        if len(feeders) != 1 or _is_signalised(node) or feeders[0].getID() in seen:
            return cur, room
        prev = feeders[0]
        fed = {c.getToLane() for c in prev.getOutgoing()}
        if _other_streams(node, prev.getEdge(), cur.getEdge()) or any(ln.getEdge() is not cur.getEdge() for ln in fed):
            return cur, room
        seen.add(prev.getID())
        share /= len(fed)
        room += prev.getLength() * share
        cur = prev


def _other_streams(node: Node, from_edge: Edge, to_edge: Edge) -> bool:
    """Vehicles other than from_edge's reach `node`: an incoming road carrying vehicles that is
    neither `from_edge` nor the opposite direction of `to_edge` (the other half of a two-way road
    through a node that only splits or joins it)."""
    for edge in node.getIncoming():
        if edge is from_edge or edge.getFunction() in ("crossing", "walkingarea", "internal"):
            continue
        if edge.getFromNode() is to_edge.getToNode() and edge.getToNode() is to_edge.getFromNode():
            continue  # to_edge's opposite direction
        if any(_carries_vehicles(ln) for ln in edge.getLanes()):
            return True
    return False


def _carries_vehicles(lane: Lane) -> bool:
    return bool(set(lane.getPermissions()) - {"pedestrian"})


def _stop_hop(lane: Lane, chain: list[Hop], p: Placement) -> Hop:
    """The lane of the junction lane's chain (upstream_chain) the stop-line loop sits on: the
    junction lane itself, unless it is shorter than one loop (`loop_length_m`). Such a lane is a
    node's artefact (an edge split where nothing joins the lane): a vehicle halting for the
    signal stands with its front before it, and a loop there never sees the queue's head. The
    loop then goes to the end of the first lane upstream on the unambiguous chain that can hold
    a standing vehicle (`vehicle_spacing_m`), provided every such short lane of the approach edge
    can do the same: the lanes of one approach then measure at one place (a loop moved on one
    lane only would show that lane's queue and hide its neighbours'). Otherwise the junction lane.
    Only with `stop_loop_before_split` (config.toml [detectors])."""
    if not p.stop_loop_before_split or chain[0].length_m >= p.loop_length_m:
        return chain[0]
    up = _holding(chain, p)
    short = [ln for ln in lane.getEdge().getLanes() if ln.getOutgoing() and ln.getLength() < p.loop_length_m]
    chains = (upstream_chain(ln, p.advance_dist_m, p.turn_back_is_fringe) for ln in short)
    if up is None or not all(_holding(c, p) for c in chains):
        return chain[0]
    return up


def _holding(chain: list[Hop], p: Placement) -> Hop | None:
    """The first lane of the chain long enough to hold a standing vehicle."""
    return next((h for h in chain if h.length_m >= p.vehicle_spacing_m), None)


def _advance(chain: list[Hop], p: Placement, stop_dist_m: float) -> tuple[Hop, float] | None:
    """(lane of the chain, position on it) of the advance loop; None when there is no room
    for one upstream of the stop-line loop (`stop_dist_m` from the stop line)."""
    hop = next((h for h in chain if h.offset_m + h.length_m >= p.advance_dist_m), chain[-1])
    pos = max(hop.offset_m + hop.length_m - p.advance_dist_m, 0.0)
    # vehicles enter the network at a fringe lane's start, behind a loop placed there; with
    # `advance_clear_of_start`, every lane's first vehicle spacing is kept clear (vehicles join
    # a link there from a driveway, a car park or the upstream junction box, unseen by a loop at 0)
    # (there, where no room is left upstream of the stop-line loop, the loop moves as far as the
    # stop-line loop allows: the lane keeps its advance loop)
    if hop.fringe_start or p.advance_clear_of_start:
        pos = max(pos, min(p.vehicle_spacing_m, hop.length_m - p.loop_length_m))
    if hop.offset_m < stop_dist_m:  # on the stop-line loop's lane: upstream of it, a loop apart
        latest = hop.offset_m + hop.length_m - stop_dist_m - 2 * p.loop_length_m
        if pos > latest:
            if latest < 0 or hop.fringe_start:
                return None
            pos = latest
    return hop, pos


def _past_split(lane: Lane, chain: list[Hop], p: Placement) -> tuple[list[Hop], int] | None:
    """(the chain continued upstream past the split that ends it, the lanes the split's feeder
    feeds), or None where the chain does not end at such a split: its last lane (not a fringe)
    has one feeder, not at a light, that feeds it and other lanes of the same edge only (one lane
    becoming two pockets, a lane added). The continuation is the feeder's own upstream_chain, up to
    `advance_dist_m` from the stop line; the feeder's vehicles go on into each lane it feeds."""
    if chain[-1].fringe_start:
        return None
    last = lane
    for _ in chain[1:]:
        last = _feeders(last)[0]
    feeders = _feeders(last)
    if len(feeders) != 1 or _is_signalised(feeders[0].getEdge().getToNode()):
        return None
    feeder = feeders[0]
    fed = {c.getToLane().getID(): c.getToLane() for c in feeder.getOutgoing()}
    elsewhere = any(ln.getEdge() is not last.getEdge() for ln in fed.values())
    if len(fed) < 2 or elsewhere or feeder.getID() in {h.lane for h in chain}:
        return None
    covered = chain[-1].offset_m + chain[-1].length_m
    more = upstream_chain(feeder, p.advance_dist_m - covered, p.turn_back_is_fringe)
    return chain + [replace(h, offset_m=h.offset_m + covered) for h in more], len(fed)


def _shared_advance(
    split: tuple[list[Hop], int], p: Placement, stop_dist_m: float
) -> tuple[tuple[Hop, float] | None, int]:
    """(_advance on the chain continued past the split, the lanes it counts for), or (None, 1) where the road between
    that loop and the stop-line loop (`stop_dist_m` from the stop line) holds less than one vehicle
    (`vehicle_spacing_m`) for each lane it counts for: the estimator gives each lane 1 / shared_by of that road as its
    storage, and with less than one vehicle each the loop is, to each lane, a second stop-line loop whose count it
    takes only in part (rand_short_edges: 3.7 m from the stop-line loops of two lanes, at the exit of a light)."""
    chain, shared_by = split
    adv = _advance(chain, p, stop_dist_m)
    if adv is None:
        return None, 1
    hop, pos = adv
    if hop.offset_m + hop.length_m - pos - stop_dist_m < shared_by * p.vehicle_spacing_m:
        return None, 1
    return adv, shared_by


def _unique(did: str, taken: set[str]) -> str:
    k, out = 2, did
    while out in taken:
        out, k = f"{did}{k}", k + 1
    taken.add(out)
    return out


def _table(
    did: str, lane: str, kind: str, at_lane: str, pos_m: float, dist_m: float, length_m: float, default_length_m: float
) -> dict[str, Any]:
    t: dict[str, Any] = {
        "id": did,
        "lane": lane,
        "kind": kind,
        "pos_m": _down(pos_m),
        "dist_to_stop_m": round(dist_m, 2),
    }
    if at_lane != lane:
        t["at_lane"] = at_lane
    if length_m < default_length_m:
        t["length_m"] = _down(length_m)
    return t


def _down(x: float) -> float:
    """Two decimals, never rounded up (a loop must not grow past the lane's end)."""
    return int(max(x, 0.0) * 100) / 100


def read_city_loops(files: list[Path], net: Net) -> list[CityLoop]:
    """Induction loops (e1Detector, inductionLoop) of additional files on lanes of the net."""
    loops = []
    for fp in files:
        try:
            with open_xml(fp) as source:
                root = ET.parse(source).getroot()
        except UNREADABLE_XML as exc:  # FileNotFoundError among them
            raise NetworkError(str(fp), "-", f"cannot read additional file: {exc}") from None
        for el in root.iter():
            if el.tag not in ("e1Detector", "inductionLoop") or _counts_a_subset(el):
                continue
            did, lane_id = el.get("id", ""), el.get("lane", "")
            try:
                lane = net.getLane(lane_id)
                pos = float(el.get("pos", "0"))
            except (KeyError, ValueError, AttributeError):
                continue  # a loop on an unknown lane or with an unreadable position: not ours to map
            if pos < 0:
                pos += lane.getLength()
            loops.append(CityLoop(did, lane_id, min(max(pos, 0.0), lane.getLength()), str(fp)))
    return loops


def _counts_a_subset(el: ET.Element) -> bool:
    """A loop SUMO lets count only some of the lane's vehicles or none: `vTypes` (those types only, a bus
    loop), `nextEdges` (those whose route goes on there: a turn's loop), `detectPersons` (persons instead of
    vehicles). Not the lane's flow: read as one, a truck-only loop made the lane look empty (H, session 61)."""
    persons = (el.get("detectPersons") or "none").strip()
    return bool((el.get("vTypes") or "").strip() or (el.get("nextEdges") or "").strip() or persons != "none")


# The city's detectors the import does not map onto a junction's loops, by tag, with what they measure.
UNREAD_KINDS = {
    "e2Detector": "e2",
    "laneAreaDetector": "e2",
    "e3Detector": "e3",
    "entryExitDetector": "e3",
    "instantInductionLoop": "instant loop",
}
UNREAD_WHY = 'only induction loops (e1) counting every vehicle are read (docs/import.md, "The city\'s own loops")'


@dataclass(frozen=True)
class UnreadDetector:
    """A detector of the scenario's files the import leaves out (UNREAD_KINDS, or an e1 counting a subset)."""

    id: str
    kind: str  # e2, e3, instant loop, e1 subset
    lanes: tuple[str, ...]  # the lanes it sits on (an e3: its entries' and exits')
    source: str


def read_unread_detectors(files: list[Path]) -> list[UnreadDetector]:
    """The detectors of the additional files the import does not read as the city's loops, in file order.
    Unreadable files are left to read_city_loops, which raises."""
    out = []
    for fp, root in readable_roots(files):
        for el in root.iter():
            kind = UNREAD_KINDS.get(el.tag)
            if kind is None and el.tag in ("e1Detector", "inductionLoop") and _counts_a_subset(el):
                kind = "e1 subset"
            if kind is None:
                continue
            lanes = [x for x in (el.get("lanes") or el.get("lane") or "").split() if x]
            lanes += [c.get("lane", "") for c in el if c.tag in ("detEntry", "detExit") and c.get("lane")]
            out.append(UnreadDetector(el.get("id", ""), kind, tuple(dict.fromkeys(lanes)), str(fp)))
    return out


def unread_lines(found: list[UnreadDetector], lanes_of: dict[str, set[str]]) -> list[str]:
    """One line per junction naming the unread detectors on its lanes (`lanes_of`: by junction id, the lanes its
    loops measure for), and one for those on no junction's lane; each line says why (UNREAD_WHY)."""
    by_tid: dict[str, list[UnreadDetector]] = {}
    for d in found:
        tids = [tid for tid, lanes in sorted(lanes_of.items()) if lanes.intersection(d.lanes)]
        for tid in tids or [""]:
            by_tid.setdefault(tid, []).append(d)

    def names(ds: list[UnreadDetector]) -> str:
        groups: dict[tuple[str, str], list[str]] = {}
        for d in ds:
            groups.setdefault((d.kind, d.source), []).append(d.id)
        return "; ".join(f"{kind} in {Path(src).name}: {', '.join(ids)}" for (kind, src), ids in groups.items())

    lines = [
        f"junction={tid}: the city's detectors on its lanes are not read ({names(ds)}): {UNREAD_WHY}"
        for tid, ds in sorted(by_tid.items())
        if tid
    ]
    if "" in by_tid:
        lines.append(f"the city's detectors on no junction's lane are not read either ({names(by_tid[''])})")
    return lines


def city(lane: Lane, p: Placement, loops_by_lane: dict[str, list[CityLoop]]) -> list[dict[str, Any]]:
    """The city's loops on one junction lane's chain as its stop-line and advance loop."""
    chain = upstream_chain(lane, 3 * p.advance_dist_m, p.turn_back_is_fringe)
    found = []
    for hop in chain:
        for loop in loops_by_lane.get(hop.lane, []):
            found.append((hop.offset_m + hop.length_m - loop.pos_m, hop, loop))
    near = p.stop_setback_m + p.loop_length_m + p.vehicle_spacing_m
    stops = sorted((f for f in found if f[0] <= near), key=lambda f: f[0])
    advs = sorted((f for f in found if f[0] > near), key=lambda f: abs(f[0] - p.advance_dist_m))
    out = []
    for kind, picks in (("stop", stops), ("advance", advs)):
        if picks:
            dist, hop, loop = picks[0]
            t = {
                "id": loop.id,
                "lane": lane.getID(),
                "kind": kind,
                "pos_m": round(loop.pos_m, 2),
                "dist_to_stop_m": round(dist, 2),
                "city": True,
            }
            if hop.lane != lane.getID():
                t["at_lane"] = hop.lane
            out.append(t)
    return out

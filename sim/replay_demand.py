"""The demand of a recorded window, rebuilt with SUMO's own tools.

- Loop counts -> edge counts per `interval_s` (60 s) and vehicle class: an edge is counted by
  the loops of one kind (stop line first, else advance) when every lane of it that cars may use
  has one; its count is their sum. Edges without full coverage are left free.
- Candidate routes: SUMO's randomTrips.py (routed by duarouter for the class's vClass), seeded:
  from the network's entries to its exits (fringe to fringe), and from anywhere (routes of one
  edge dropped when [replay] drop_one_edge_routes says so, routes that turn around where
  drop_turnaround_routes says: at a traffic light by default).
- Routes: SUMO's routeSampler.py, once per vehicle class with counts, each class to a SUMO vType
  of its vClass (car -> passenger, bus, truck, motorcycle), from all candidates at once, or
  ([replay] entries_first) from the entries first and what those routes leave short from
  anywhere.
- The queues at the window's start: the service's own estimator (controller/core/estimation.py)
  is run over the recorded feed and statuses before T; each lane's estimated queue becomes
  standing vehicles on that lane at T, from the stop line back, each on a sampled route that
  goes on from the lane.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import logging
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from controller.config import Config
from controller.core.estimation import Estimate, Layout, update
from controller.errors import AdapterError
from controller.model import VEHICLE_CLASSES, Detector, DetectorReading, Intersection, Snapshot
from sim.field import FEED_CLASS_OF_VCLASS as KNOWN_VCLASSES
from sim.field import vehicle_class
from sim.replay_geh import GEH_OK, counted_once, geh
from sim.sumo import sumo_home

if TYPE_CHECKING:
    from sumolib.net import Net

log = logging.getLogger(__name__)

SAMPLER_VERSION = 5  # how sample_routes chooses; part of the key of a reused sample
SUMO_VCLASS = {"car": "passenger", "bus": "bus", "truck": "truck", "motorcycle": "motorcycle", "bicycle": "bicycle"}


def vtype_id(cls: str) -> str:
    return f"tsc_{cls}"


@dataclass(frozen=True)
class EdgeCounter:
    """Which loops count an edge (their counts summed), and of which kind; with `to_edge`, the
    vehicles that turn from `edge` into `to_edge` (a turning count)."""

    edge: str
    kind: str
    detectors: tuple[str, ...]
    to_edge: str = ""


def edge_counters(junctions: Mapping[str, Intersection], net: Net, vclass: str = "passenger") -> list[EdgeCounter]:
    """The edges that loops of one kind (stop line preferred) count for SUMO vClass `vclass`:
    every lane of the edge the class may use has such a loop. The count is the sum of all the
    edge's loops of that kind, also those on lanes the class may not use (a bus lane's loop
    counts the cars allowed on it: taxis, vClass "ignoring"), as a count station sums its lanes
    (the GEH sites, sim/replay_geh.py, sum them alike)."""
    by_edge: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for j in junctions.values():
        for d in j.detectors:
            try:
                lane = net.getLane(d.at_lane)
            except KeyError:
                continue
            by_edge[lane.getEdge().getID()][d.kind][d.at_lane] = d.id
    out = []
    for edge_id, kinds in sorted(by_edge.items()):
        open_lanes = {ln.getID() for ln in net.getEdge(edge_id).getLanes() if ln.allows(vclass)}
        for kind in ("stop", "advance"):
            loops = kinds.get(kind, {})
            if open_lanes and open_lanes <= set(loops):
                out.append(EdgeCounter(edge_id, kind, tuple(sorted(loops.values()))))
                break
    return out


def turn_counters(junctions: Mapping[str, Intersection], net: Net, vclass: str = "passenger") -> list[EdgeCounter]:
    """Turning counts the stop-line loops give: from an edge into a next edge, when every lane of
    the edge that leads there (for SUMO vClass `vclass`) leads nowhere else and has a stop-line
    loop (a lane of its own for the turn). Edges whose traffic all goes one way are left out: the
    edge count says it already. They pin where counted traffic turns, which candidate routes
    between counting sites otherwise choose freely."""
    stop = {d.lane: d.id for j in junctions.values() for d in j.detectors if d.kind == "stop" and d.at_lane == d.lane}
    edges = set()
    for lane in stop:
        try:
            edges.add(net.getLane(lane).getEdge().getID())
        except KeyError:
            continue
    out = []
    for edge_id in sorted(edges):
        dests: dict[str, set[str]] = {}
        for ln in net.getEdge(edge_id).getLanes():
            if ln.allows(vclass):
                dests[ln.getID()] = {c.getTo().getID() for c in ln.getOutgoing() if c.getToLane().allows(vclass)}
        targets = set().union(*dests.values()) if dests else set()
        if len(targets) < 2:
            continue
        for to_edge in sorted(targets):
            lanes = [ln for ln, ds in dests.items() if to_edge in ds]
            if all(dests[ln] == {to_edge} and ln in stop for ln in lanes):
                out.append(EdgeCounter(edge_id, "stop", tuple(sorted(stop[ln] for ln in lanes)), to_edge))
    return out


# A bound on the walks back from a loop (lanes) and on the chained ways in (edges): the loop
# generator's chains span a few lanes, so a longer walk has met a cycle of single-feeder lanes.
MAX_WAY_IN_EDGES = 16
CAR_VCLASSES = ("taxi", "private", "evehicle")  # SUMO vClasses the feed counts as cars (sim/field.py)
PERMIT_VTYPE = "tsc_car_permit"


def restricted_counters(junctions: Mapping[str, Intersection], net: Net) -> list[EdgeCounter]:
    """The counted edges that no lane of admits cars (SUMO vClass passenger): bus-only streets
    with a loop on every lane. The cars their loops count (taxis, permit holders: vehicles a
    bus lane admits that the feed counts as cars) are not part of the passenger demand, which
    may not use them."""
    return [c for c in edge_counters(junctions, net, "ignoring") if not net.getEdge(c.edge).allows("passenger")]


def permit_vclass(net: Net, edges: list[str]) -> str:
    """The SUMO vClass of the cars counted on `edges` (closed to passenger cars): the first car
    vClass (CAR_VCLASSES) that a lane of each of them admits, else "ignoring" (a vehicle that
    ignores lane permissions: SUMO's own for such traffic)."""
    for vclass in CAR_VCLASSES:
        if all(any(ln.allows(vclass) for ln in net.getEdge(e).getLanes()) for e in edges):
            return vclass
    return "ignoring"


def write_permit_vtypes(path: Path, sources: list[Path], vclass: str) -> Path:
    """The vType (or vTypeDistribution) PERMIT_VTYPE of the cars on lanes closed to cars: the
    recorded scenario's own vTypes of SUMO vClass `vclass`, renamed, with their probabilities,
    where it defines any; else SUMO's defaults for `vclass`."""
    root = ET.Element("routes")
    add_vtype(root, PERMIT_VTYPE, vclass, [el for el in source_vtypes(sources) if el.get("vClass") == vclass])
    return write_xml(path, root)


def window_counts(edgedata: Path) -> dict[str, int]:
    """Counted edge -> vehicles asked over the whole file (edgeData `entered`)."""
    out: dict[str, int] = defaultdict(int)
    for e in ET.parse(edgedata).getroot().iter("edge"):
        out[e.get("id", "")] += int(e.get("entered", 0))
    return dict(out)


def other_permissions(net: Net, vclass: str) -> bool:
    """Whether SUMO vClass `vclass` may use other lanes than cars (bus lanes, bus-only streets,
    streets closed to trucks): then its routes are its own, else the cars' candidates serve."""
    return any(ln.allows(vclass) != ln.allows("passenger") for e in net.getEdges() for ln in e.getLanes())


def interval_counts(det: pa.Table, interval_s: float, begin_s: float) -> dict[str, np.ndarray]:
    """Per loop: (intervals, classes) vehicle counts, interval k = [begin + k*interval_s, ...).
    A reading's period ends at its time t_s; it falls in the interval where its period starts."""
    t = det["t_s"].to_numpy() - det["period_s"].to_numpy().astype(float) - begin_s
    k = np.floor(t / interval_s + 1e-9).astype(int)
    n = int(k.max()) + 1 if len(k) else 0
    names = det["detector"].cast(pa.string()).to_numpy(zero_copy_only=False)
    counts = np.stack([det[c].to_numpy().astype(np.int64) for c in VEHICLE_CLASSES], axis=1)
    keep = (k >= 0) & (counts.sum(axis=1) > 0)
    out: dict[str, np.ndarray] = {}
    for name in np.unique(names):
        out[str(name)] = np.zeros((n, len(VEHICLE_CLASSES)), dtype=np.int64)
    for name, kk, c in zip(names[keep], k[keep], counts[keep]):
        out[name][kk] += c
    return out


def edge_lags_s(net: Net, routes: list[list[str]], edges: list[str]) -> dict[str, float]:
    """Edge -> median free-flow travel time (s) from the start of the candidate routes through it
    to the edge's end (where its loops are): how long before a count its vehicles depart."""
    wanted = set(edges)
    tt = {}
    lags: dict[str, list[float]] = defaultdict(list)
    for r in routes:
        t = 0.0
        for e in r:
            if e not in tt:
                edge = net.getEdge(e)
                tt[e] = edge.getLength() / max(edge.getSpeed(), 1.0)
            t += tt[e]
            if e in wanted:
                lags[e].append(t)
    return {e: float(np.median(v)) for e, v in lags.items()}


def write_edgedata(
    path: Path,
    counters: list[EdgeCounter],
    loop_counts: Mapping[str, np.ndarray],
    cls: str,
    begin_s: float,
    interval_s: float,
    n_intervals: int,
    lags_s: Mapping[str, float],
) -> int:
    """SUMO edgeData (`entered`) of one vehicle class, with an edgeRelation per turning count
    (counters with a `to_edge`); returns the vehicles the edge counts ask for.

    routeSampler puts a vehicle's whole route in the interval it departs in, so each edge's
    counts are moved earlier by its lag (edge_lags_s, whole intervals): the vehicles counted at
    t depart around t - lag. Counts that would move before the window's start stay in its first
    interval."""
    ci = VEHICLE_CLASSES.index(cls)
    per: list[dict[tuple[str, str], int]] = [defaultdict(int) for _ in range(n_intervals)]
    total = 0
    for c in counters:
        shift = round(lags_s.get(c.edge, 0.0) / interval_s)
        for d in c.detectors:
            counts = loop_counts.get(d)
            if counts is None:
                continue
            for k in range(min(n_intervals, len(counts))):
                n = int(counts[k, ci])
                if n:
                    per[max(0, k - shift)][(c.edge, c.to_edge)] += n
                    total += 0 if c.to_edge else n
    root = ET.Element("meandata")
    for k in range(n_intervals):
        iv = ET.SubElement(
            root,
            "interval",
            id=f"{cls}_{k}",
            begin=f"{begin_s + k * interval_s:.0f}",
            end=f"{begin_s + (k + 1) * interval_s:.0f}",
        )
        for c in counters:
            entered = str(per[k].get((c.edge, c.to_edge), 0))
            if c.to_edge:
                ET.SubElement(iv, "edgeRelation", {"from": c.edge, "to": c.to_edge, "entered": entered})
            else:
                ET.SubElement(iv, "edge", id=c.edge, entered=entered)
    write_xml(path, root)
    return total


def renamed(vtype: ET.Element, vtype_id: str) -> ET.Element:
    """A copy of a vType element under another id, with its children (<param>, car-following
    and junction-model elements)."""
    out = copy.deepcopy(vtype)
    out.set("id", vtype_id)
    out.tail = None
    return out


def scenario_vtypes(sources: list[Path]) -> dict[str, list[ET.Element]]:
    """Our vehicle class -> the SUMO vTypes (elements, with their children) the recorded scenario
    defines for it (in its route and additional files), by their vClass as the field classifies
    them (sim/field.py); vClasses the field has no class for are left out."""
    out: dict[str, list[ET.Element]] = defaultdict(list)
    for el in source_vtypes(sources):
        vclass = el.get("vClass", "passenger")
        if vclass in KNOWN_VCLASSES:
            out[vehicle_class(vclass)].append(el)
    return out


def source_vtypes(sources: list[Path]) -> list[ET.Element]:
    """Copies of the vType elements (with their children) of the files in `sources` that exist,
    in file order; a file SUMO's XML cannot be read from is named in a warning (the vTypes
    before the error are kept)."""
    out = []
    for src in (s for s in sources if s.is_file()):
        try:
            for _ev, el in ET.iterparse(src):
                if el.tag == "vType":
                    out.append(copy.deepcopy(el))
                elif el.tag in ("vehicle", "trip", "flow", "route"):
                    el.clear()
        except ET.ParseError as exc:
            log.warning("vTypes of %s not read: %s", src, exc)
    return out


def add_vtype(root: ET.Element, vtype_id: str, vclass: str, found: list[ET.Element]) -> None:
    """Under `root`, the vType `vtype_id`: SUMO's defaults for `vclass` when `found` is empty, else
    a vTypeDistribution of the `found` vTypes renamed `<vtype_id>_<k>`, with their probabilities."""
    if not found:
        ET.SubElement(root, "vType", id=vtype_id, vClass=vclass)
        return
    dist = ET.SubElement(root, "vTypeDistribution", id=vtype_id)
    for k, el in enumerate(found):
        dist.append(renamed(el, f"{vtype_id}_{k}"))


def write_xml(path: Path, root: ET.Element) -> Path:
    """`root` written to `path`, indented, with an XML declaration; returns `path`."""
    ET.indent(root)
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def write_vtypes(path: Path, sources: list[Path]) -> Path:
    """One vType (or vTypeDistribution) `tsc_<class>` per vehicle class: the scenario's own vTypes
    of that class, renamed, with their probabilities, where it defines any (scenario_vtypes);
    else SUMO's defaults for the class's vClass."""
    found = scenario_vtypes(sources)
    root = ET.Element("routes")
    for cls, vclass in SUMO_VCLASS.items():
        add_vtype(root, vtype_id(cls), vclass, found.get(cls, []))
    return write_xml(path, root)


def _tool(args: list[str], what: str) -> str:
    """Run a SUMO tool (Python script); its output, or AdapterError with its last lines."""
    cmd = [sys.executable, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise AdapterError(f"{what} failed: {' | '.join(tail)} (command: {' '.join(cmd)})")
    return proc.stdout + proc.stderr


@dataclass(frozen=True)
class Candidates:
    """Candidate route files of one vehicle class: `entries` start where traffic enters the
    network (its fringe), `anywhere` also inside it (for traffic the loops see appearing between
    counting sites)."""

    entries: tuple[Path, ...]
    anywhere: tuple[Path, ...]


def candidate_sets(
    net_file: Path,
    out_dir: Path,
    seed: int,
    n_routes: int = 3000,
    vclass: str = "passenger",
    drop_one_edge: bool = True,
    ways_in: Mapping[str, tuple[str, ...]] | None = None,
    turnarounds: frozenset[tuple[str, str]] = frozenset(),
) -> Candidates:
    """candidate_routes as Candidates; `drop_one_edge`: without routes of one edge
    (drop_one_edge_routes); `ways_in` (ways_in_past_advance_loops): a route that starts on one
    of its edges starts that way in instead (prefix_routes); `turnarounds` (turnaround_links):
    without routes that take one of them (drop_turnaround_routes)."""
    files = candidate_routes(net_file, out_dir, seed, n_routes, vclass)
    for f in files if drop_one_edge else ():
        drop_one_edge_routes(f)
    if ways_in:
        for f in files:
            prefix_routes(f, ways_in)
    for f in files if turnarounds else ():
        drop_turnaround_routes(f, turnarounds)
    entries = tuple(f for f in files if f.name.endswith("fringe.rou.xml"))
    return Candidates(entries, tuple(f for f in files if f not in entries))


def candidate_routes(
    net_file: Path, out_dir: Path, seed: int, n_routes: int = 3000, vclass: str = "passenger"
) -> list[Path]:
    """Candidate routes of SUMO vClass `vclass` for routeSampler, from randomTrips.py routed by
    duarouter for that vClass (a bus on the lanes buses may use): one set from fringe to fringe
    (`--fringe-factor max`: from the network's entries to its exits, long routes that pass many
    counting sites; first in the list, left out on a network without fringe) and one set from
    anywhere (fringe-biased)."""
    tools = Path(sumo_home()) / "tools"
    files = []
    tag = "" if vclass == "passenger" else f"{vclass}_"
    for name, fringe in (("fringe", "max"), ("inner", "5")):
        out = out_dir / f"candidates_{tag}{name}.rou.xml"
        try:
            _tool(
                [
                    str(tools / "randomTrips.py"),
                    "-n",
                    str(net_file),
                    "-r",
                    str(out),
                    "-o",
                    str(out.with_suffix(".trips.xml")),
                    "-b",
                    "0",
                    "-e",
                    str(n_routes),
                    "-p",
                    "1",
                    "--fringe-factor",
                    fringe,
                    "--min-distance",
                    "50",
                    "--seed",
                    str(seed),
                    "--prefix",
                    f"{tag}{name}_",
                    "--validate",
                    "--vclass",
                    vclass,
                ],
                f"randomTrips.py ({name})",
            )
        except AdapterError as exc:
            if name == "inner":
                raise
            log.warning("no fringe-to-fringe candidates (%s): a network without fringe edges", exc)
            continue
        files.append(out)
    return files


def drop_one_edge_routes(path: Path) -> int:
    """Removes the vehicles of a route file whose route is one edge: a vehicle that appears and
    vanishes on one street is no traffic a loop count asks for (routeSampler would use it to
    meet that street's count alone). Returns how many were removed."""
    tree = ET.parse(path)
    root = tree.getroot()
    gone = [v for v in root.findall("vehicle") if _one_edge(v)]
    for v in gone:
        root.remove(v)
    if gone:
        tree.write(path, xml_declaration=True, encoding="UTF-8")
    return len(gone)


def turnaround_links(net: Net, where: str) -> frozenset[tuple[str, str]]:
    """The (from edge, to edge) pairs of `net` (sumolib, without internal edges) that a
    connection joins by turning around (SUMO's direction "t", or "T" where traffic drives on
    the left): a U-turn. `where` ([replay] drop_turnaround_routes): "all" of them, "signals"
    only those at a traffic light (a junction of a traffic_light type), "none"."""
    if where == "none":
        return frozenset()
    return frozenset(
        (edge.getID(), to.getID())
        for edge in net.getEdges()
        for to, cons in edge.getOutgoing().items()
        if any(c.getDirection() in ("t", "T") for c in cons)
        and (where == "all" or "traffic_light" in edge.getToNode().getType())
    )


def drop_turnaround_routes(path: Path, turnarounds: frozenset[tuple[str, str]]) -> int:
    """Removes the vehicles of a route file whose route turns around (a pair of consecutive
    edges in `turnarounds`, turnaround_links). A random trip routed by shortest path turns
    around where its origin faces away from its destination; city traffic seldom does, and a
    U-turn at a signal stops the lane it waits on and crosses every other stream (docs/replay.md).
    Returns how many were removed."""
    tree = ET.parse(path)
    root = tree.getroot()
    gone = [v for v in root.findall("vehicle") if _turns_around(v, turnarounds)]
    for v in gone:
        root.remove(v)
    if gone:
        tree.write(path, xml_declaration=True, encoding="UTF-8")
    return len(gone)


def _turns_around(vehicle: ET.Element, turnarounds: frozenset[tuple[str, str]]) -> bool:
    route = vehicle.find("route")
    return route is not None and any(p in turnarounds for p in pairwise(route.get("edges", "").split()))


# SUMO's default length (m) of each vClass a rebuilt class runs as (its vType defaults)
DEFAULT_LENGTH_M = {"passenger": 5.0, "bus": 12.0, "truck": 7.1, "motorcycle": 2.2, "bicycle": 1.6, "ignoring": 5.0}


def edges_past_advance_loops(junctions: Mapping[str, Intersection], net: Net, vclass: str = "passenger") -> set[str]:
    """The edges where a vehicle of SUMO vClass `vclass` that departs there (at the edge's start,
    its back on it) has already passed an advance loop of the approach it drives: the approach's
    edge when one of its advance loops sits on an edge upstream (a lane that alone feeds it), the
    edges between, and the loop's own edge when the loop lies within a vehicle length (SUMO's
    default for the vClass) of its start. Such a vehicle is counted at the stop line and not at
    the advance loops, which in the field count what reaches the stop line. An edge that no
    other edge leads into (where the network's traffic enters) is left out, and so is a loop
    reached over a turnaround (it counts the other direction's traffic)."""
    length_m = DEFAULT_LENGTH_M.get(vclass, 5.0)
    out: set[str] = set()
    for d, at, chain in _advance_chains(junctions, net):
        out.update(ln.getEdge().getID() for ln in chain[:-1])
        if d.pos_m < length_m:
            out.add(at.getEdge().getID())
    return {e for e in out if _entered_from(net.getEdge(e), vclass)}


def ways_in_past_advance_loops(
    junctions: Mapping[str, Intersection], net: Net, vclass: str = "passenger", counts: Mapping[str, int] | None = None
) -> dict[str, tuple[str, ...]]:
    """Edge of edges_past_advance_loops -> the edges (upstream first) that lead into it over the
    approach's advance loops: the lanes that alone feed it back to the loop's edge, and the one
    edge before that when the loop lies within a vehicle length of its start (no way in when no
    one lane alone feeds it); the longest where an approach's loops give several; one that
    starts past another approach's advance loops is extended the same way. With `counts` (loop
    -> vehicles over the window), an approach whose stop line counted more than its advance
    loops by GEH >= 5 gets none: traffic does enter between them there (a car park, a street
    without a junction model)."""
    length_m = DEFAULT_LENGTH_M.get(vclass, 5.0)
    past = edges_past_advance_loops(junctions, net, vclass)
    entered = _entered_between(junctions, counts) if counts is not None else set()
    out: dict[str, tuple[str, ...]] = {}
    for d, at, chain in _advance_chains(junctions, net):
        if d.lane.rsplit("_", 1)[0] in entered:
            continue
        if d.pos_m < length_m:
            feeders = [ln for ln in at.getIncoming() if ln.allows(vclass)]
            if len(feeders) != 1:
                continue
            chain = [*chain, feeders[0]]
        edges = [ln.getEdge().getID() for ln in chain]
        for k, e in enumerate(edges[:-1]):
            way = tuple(reversed(edges[k + 1 :]))
            if e in past and len(way) > len(out.get(e, ())):
                out[e] = way
    for e, way in out.items():  # a way in that starts past another approach's loops starts before them
        while way[0] in out and way[0] not in way[1:] and len(way) < MAX_WAY_IN_EDGES and way[0] != e:
            way = (*out[way[0]], *way)
        out[e] = way
    return out


def _advance_chains(junctions: Mapping[str, Intersection], net: Net) -> Iterator[tuple[Detector, Any, list[Any]]]:
    """(advance loop, the lane it sits on, _feeding_chain from its junction lane back to that
    lane) for every advance loop reached that way; loops on lanes the network lacks are skipped."""
    for d in (d for j in junctions.values() for d in j.detectors if d.kind == "advance"):
        try:
            lane, at = net.getLane(d.lane), net.getLane(d.at_lane)
        except KeyError:
            continue
        chain = _feeding_chain(lane, at)
        if chain is not None:
            yield d, at, chain


def _entered_between(junctions: Mapping[str, Intersection], counts: Mapping[str, int]) -> set[str]:
    """The approach edges whose stop-line loops counted more than their advance loops by GEH >= 5
    (`counts`: loop -> vehicles over the window, both summed over the approach's lanes)."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: {"stop": 0, "advance": 0})
    for d in counted_once(d for j in junctions.values() for d in j.detectors):
        sums[d.lane.rsplit("_", 1)[0]][d.kind] += int(counts.get(d.id, 0))
    return {e for e, n in sums.items() if n["stop"] > n["advance"] and geh(n["stop"], n["advance"]) >= GEH_OK}


def prefix_routes(path: Path, ways: Mapping[str, tuple[str, ...]]) -> int:
    """The routes of a route file that start on an edge of `ways` (ways_in_past_advance_loops)
    start that way in instead: a vehicle that entered between an approach's advance loops and
    its stop line enters before the loops, where the recorded traffic did (it passes the same
    counting sites downstream, and the loops'). Returns how many routes were changed."""
    tree = ET.parse(path)
    n = 0
    for v in tree.getroot().findall("vehicle"):
        route = v.find("route")
        first = _first_edge(v)
        if route is not None and first in ways:
            route.set("edges", " ".join([*ways[first], route.get("edges", "")]))
            n += 1
    if n:
        tree.write(path, xml_declaration=True, encoding="UTF-8")
    return n


def _feeding_chain(lane: Any, at: Any) -> list[Any] | None:
    """The lanes from `lane` back to `at` (both included), each the only one feeding the one
    before; None when `at` is not reached that way or over a turnaround."""
    chain = [lane]
    while chain[-1] is not at:
        feeders = chain[-1].getIncoming()
        if len(feeders) != 1 or len(chain) > MAX_WAY_IN_EDGES:
            return None
        conns = [c for c in feeders[0].getOutgoing() if c.getToLane() is chain[-1]]
        if any(c.getDirection() == "t" for c in conns):
            return None
        chain.append(feeders[0])
    return chain


def _entered_from(edge: Any, vclass: str) -> bool:
    """Whether traffic of `vclass` reaches `edge` from another edge (not over a turnaround)."""
    return any(
        c.getDirection() != "t" and c.getToLane().allows(vclass)
        for inc, conns in edge.getIncoming().items()
        if inc.allows(vclass)
        for c in conns
    )


def _first_edge(vehicle: ET.Element) -> str:
    route = vehicle.find("route")
    return route.get("edges", "").split(" ", 1)[0] if route is not None else ""


def _one_edge(vehicle: ET.Element) -> bool:
    route = vehicle.find("route")
    return route is not None and len(route.get("edges", "").split()) <= 1


def covering_routes(
    net: Net,
    candidates: list[Path],
    edges: list[str],
    vclass: str,
    out: Path,
    per_edge: int = 2,
    drop_one_edge: bool = True,
    counts: Mapping[str, int] | None = None,
) -> Path | None:
    """Candidate routes through the counted edges no candidate passes (random shortest paths
    seldom take a bus-only street, say), so that routeSampler can meet their counts: for each,
    the shortest paths (for SUMO vClass `vclass`) from the `per_edge` nearest edges where traffic
    enters the network to it, and on from it to the nearest where it leaves. Written to `out`;
    None when every counted edge has a candidate already (or no entry reaches it). A counted
    edge that no entry reaches and no exit leaves gets a route of itself alone, unless
    `drop_one_edge`.

    With `counts` (counted edge -> the class's vehicles over the window), a way in and a way out
    that share an edge (a loop round a block) make no route (when all do, the routes start on
    the counted edge itself), and each route is also offered cut where it passes a counted edge
    that saw fewer than half the vehicles of the edge it covers (cut_at_low_counts): a stream
    the loops see on a bus-only street does not come from, or go on to, a street where they saw
    a fraction of it (a terminus, a depot, parking in between); the whole route would be capped
    by that edge's count."""
    passed = {e for c in candidates for r in read_routes(c) for e in r}
    missing = [e for e in edges if e not in passed]
    if not missing:
        return None
    sources = [e for e in net.getEdges() if not e.getIncoming() and e.allows(vclass)]
    sinks = [e for e in net.getEdges() if not e.getOutgoing() and e.allows(vclass)]

    def nearest(pairs: Iterable[tuple[Any, Any]]) -> list[list[Any]]:
        paths = [path for path, _cost in (net.getShortestPath(a, b, vClass=vclass) for a, b in pairs) if path]
        return sorted(paths, key=lambda path: sum(e.getLength() for e in path))[:per_edge]

    routes: dict[str, None] = {}
    for edge_id in missing:
        edge = net.getEdge(edge_id)
        ways_to = [[e.getID() for e in p] for p in nearest((a, edge) for a in sources if a is not edge)] or [[edge_id]]
        ways_on = [[e.getID() for e in p] for p in nearest((edge, b) for b in sinks if b is not edge)] or [[edge_id]]
        ins = [tuple(p) for p in ways_to]
        outs = [tuple(p) for p in ways_on]
        if counts is not None:
            ins = list(dict.fromkeys(tuple(p) for q in ways_to for p in (q, cut_at_low_counts(q[::-1], counts)[::-1])))
            outs = list(dict.fromkeys(tuple(p) for q in ways_on for p in (q, cut_at_low_counts(q, counts))))
        pairs = [(a, b) for a in ins for b in outs if counts is None or not set(a[:-1]) & set(b)]
        pairs = pairs or [((edge_id,), b) for b in outs]
        routes.update({" ".join([*a[:-1], *b]): None for a, b in pairs})
    if drop_one_edge:  # as drop_one_edge_routes
        routes = {r: None for r in routes if " " in r}
    if not routes:
        return None
    root = ET.Element("routes")
    for n, edges_text in enumerate(routes):
        ET.SubElement(ET.SubElement(root, "vehicle", id=f"cover_{vclass}_{n}", depart="0"), "route", edges=edges_text)
    log.info("candidate routes: %d through %d counted edges no random route passes", len(routes), len(missing))
    return write_xml(out, root)


def cut_at_low_counts(path: list[str], counts: Mapping[str, int]) -> list[str]:
    """`path` (edge ids, starting at a counted edge) up to before the first counted edge
    (`counts`: edge -> vehicles over the window) that saw fewer than half the first edge's
    vehicles; the whole path when there is none."""
    target = counts.get(path[0], 0)
    for i, e in enumerate(path[1:], start=1):
        if e in counts and 2 * counts[e] < target:
            return path[:i]
    return path


def entry_prefix(net: Net, edge_id: str, counted: set[str], vclass: str) -> list[str]:
    """The shortest way (by length) into edge `edge_id` from an edge where traffic enters the
    network (no incoming edge), over edges open to SUMO vClass `vclass` that no loop counts
    (`counted`: counted edges and the from-edges of turning counts): the edges before
    `edge_id`, [] when `edge_id` is an entry itself or every way in passes a counted edge."""
    start = net.getEdge(edge_id)
    if not start.getIncoming():
        return []
    best: dict[str, float] = {edge_id: 0.0}
    nxt: dict[str, str] = {}
    heap = [(0.0, edge_id)]
    while heap:
        dist, eid = heapq.heappop(heap)
        if dist > best.get(eid, math.inf):
            continue
        edge = net.getEdge(eid)
        if eid != edge_id and not edge.getIncoming():
            path = [eid]
            while path[-1] != edge_id:
                path.append(nxt[path[-1]])
            return path[:-1]
        for up in edge.getIncoming():
            uid = up.getID()
            if uid in counted or not up.allows(vclass):
                continue
            d = dist + up.getLength()
            if d < best.get(uid, math.inf):
                best[uid], nxt[uid] = d, eid
                heapq.heappush(heap, (d, uid))
    return []


def extend_to_entries(net: Net, routes: Path, out: Path, counted: set[str], vclass: str, begin_s: float) -> int:
    """Writes `routes` to `out` with each vehicle that starts inside the network moved back to
    where traffic enters it, when a way in passes no counted edge (entry_prefix): the counts its
    route meets are the same, and it no longer appears from nowhere in the middle of a street
    (real traffic enters at the network's edges; a rebuilt vehicle inserted mid-network takes
    the room of traffic already queued there). It departs earlier by the prefix's free-flow
    travel time (not before `begin_s`); vehicles stay sorted by departure. Returns how many
    vehicles were moved."""
    tree = ET.parse(routes)
    root = tree.getroot()
    prefixes: dict[str, list[str]] = {}
    moved = 0
    for v in root.findall("vehicle"):
        route = v.find("route")
        edges = route.get("edges", "").split() if route is not None else []
        if route is None or not edges:
            continue
        if edges[0] not in prefixes:
            prefixes[edges[0]] = entry_prefix(net, edges[0], counted, vclass)
        prefix = prefixes[edges[0]]
        if not prefix:
            continue
        lead_s = sum(net.getEdge(e).getLength() / max(net.getEdge(e).getSpeed(), 1.0) for e in prefix)
        route.set("edges", " ".join([*prefix, *edges]))
        v.set("depart", f"{max(begin_s, float(v.get('depart', begin_s)) - lead_s):.2f}")
        moved += 1
    vehicles = sorted(root.findall("vehicle"), key=lambda el: float(el.get("depart", 0)))
    for el in vehicles:
        root.remove(el)
    root.extend(vehicles)
    tree.write(out, xml_declaration=True, encoding="UTF-8")
    return moved


def loop_edges(junctions: Mapping[str, Intersection], net: Net) -> set[str]:
    """The edges any loop of the junction models sits on (counted or not, every counting site)."""
    out = set()
    for j in junctions.values():
        for d in j.detectors:
            try:
                out.add(net.getLane(d.at_lane).getEdge().getID())
            except KeyError:
                continue
    return out


def routes_from_entries(net: Net, files: list[Path], loops: set[str], vclass: str, begin_s: float) -> list[Path]:
    """Each route file with its vehicles moved back to the network's entries where no loop is on
    the way (extend_to_entries), as `<name>_entries.rou.xml`."""
    out = []
    for f in files:
        moved = f.with_name(f.name.replace(".rou.xml", "_entries.rou.xml"))
        n = extend_to_entries(net, f, moved, loops, vclass, begin_s)
        log.info("routes of %s: %d vehicles moved back to the network's entries", f.name, n)
        out.append(moved)
    return out


@dataclass(frozen=True)
class RouteFit:
    """How well sampled routes meet the edge counts they were sampled for: the share of
    (edge, hour) counts met with GEH < 5 (hourly flows, a short last hour scaled to its length,
    as sim/replay_geh.py compares loops), and how many vehicles it takes."""

    share_ok: float
    vehicles: int


def route_fit(edgedata: Path, routes: Path | list[Path], period_s: float = 3600.0) -> RouteFit:
    """RouteFit of routeSampler output (one file or several) against its edgeData counts (`entered`). A vehicle
    counts on every counted edge of its route, in the period it departs in (the counts were
    moved by the lag to when their vehicles depart, write_edgedata)."""
    from sim.replay_geh import GEH_OK, geh

    asked: dict[tuple[str, int], int] = defaultdict(int)
    intervals = list(ET.parse(edgedata).getroot())
    begin = float(intervals[0].get("begin", 0)) if intervals else 0.0
    end = max((float(iv.get("end", 0)) for iv in intervals), default=begin)
    for iv in intervals:
        k = int((float(iv.get("begin", 0)) - begin) // period_s)
        for el in iv.iter("edge"):
            asked[(el.get("id", ""), k)] += int(el.get("entered", 0))
    edges = {e for e, _k in asked}
    got: dict[tuple[str, int], int] = defaultdict(int)
    n = 0
    files = [routes] if isinstance(routes, Path) else routes
    for v in (v for f in files for v in ET.parse(f).getroot().iter("vehicle")):
        n += 1
        route = v.find("route")
        k = int((float(v.get("depart", begin)) - begin) // period_s)
        for e in set(route.get("edges", "").split()) if route is not None else ():
            if e in edges:
                got[(e, k)] += 1
    ok = total = 0
    for key, a in asked.items():
        m = got.get(key, 0)
        if a or m:
            scale = 3600.0 / max(1.0, min(period_s, end - begin - key[1] * period_s))
            total += 1
            ok += geh(m * scale, a * scale) < GEH_OK
    return RouteFit(ok / total if total else 1.0, n)


@dataclass(frozen=True)
class Sampling:
    """How routeSampler samples: its random seed, the weight of fewer vehicles against the count
    deviation in its programme (`--minimize-vehicles`, [0, 1)), the counting locations
    (counted edges and turns) a route must pass to be used (`--min-count`, >= 1), and the
    interval (s) it aggregates the count files' intervals into (`--interval`, a whole multiple
    of theirs; 0: theirs). Its programme counts a vehicle on all its edges in the aggregated
    interval it departs in, and departs it uniformly within that interval."""

    seed: int
    minimize_vehicles: float
    min_counts: int = 1
    interval_s: float = 0.0


def sample_routes(
    candidates: list[Path], edgedata: Path, out: Path, cls: str, how: Sampling, prefix: str = "", vtype: str = ""
) -> Path:
    """routeSampler.py: vehicles of one class whose routes match the edge counts.

    Two of its methods are run: random sampling, and its linear programme (`--optimize full`)
    with `--minimize-vehicles`, which weighs fewer vehicles (routes through more counting
    sites) against the deviation. Each is measured by route_fit (hourly GEH per counted edge:
    routeSampler's own figure is per interval, where GEH < 5 holds for almost any count);
    the one with the fewest vehicles among those within 5 points of the best share is kept.
    Sampling alone can multiply short routes into more vehicles than the counts call for (a
    jammed network); the programme can fall short where the candidate routes fit badly."""
    tools = Path(sumo_home()) / "tools"
    base = [
        str(tools / "routeSampler.py"),
        "-r",
        ",".join(str(c) for c in candidates),
        "-d",
        str(edgedata),
        "--prefix",
        prefix or f"{cls}_",
        "-a",
        f'type="{vtype or vtype_id(cls)}" departLane="best" departSpeed="max"',
        "-s",
        str(how.seed),
        "--min-count",
        str(how.min_counts),
        "--edgedata-attribute",
        "entered",
        "--turn-attribute",
        "entered",
    ]
    if b"<edgeRelation" in edgedata.read_bytes():
        base += ["-t", str(edgedata)]
    if how.interval_s > 0:
        base += ["--interval", f"{how.interval_s:g}"]
    tried = []
    for name, extra in (
        ("sampled", []),
        ("optimized", ["--optimize", "full", "--minimize-vehicles", f"{how.minimize_vehicles:g}"]),
    ):
        path = out.with_name(f"{out.stem}.{name}.xml")
        _tool([*base, "-o", str(path), *extra], f"routeSampler.py ({cls}, {name})")
        tried.append((route_fit(edgedata, path), name, path))
    best_share = max(fit.share_ok for fit, _n, _p in tried)
    _fit, name, path = min((t for t in tried if t[0].share_ok >= best_share - 0.05), key=lambda t: t[0].vehicles)
    log.info(
        "routeSampler %s: kept %s (%s)",
        cls,
        name,
        ", ".join(f"{n}: {f.share_ok:.0%} of hourly edge counts GEH < 5, {f.vehicles} vehicles" for f, n, _p in tried),
    )
    path.replace(out)
    return out


def sample_routes_cached(
    candidates: list[Path], edgedata: Path, out: Path, cls: str, how: Sampling, prefix: str = "", vtype: str = ""
) -> Path:
    """sample_routes, skipped when `out` was sampled from the same counts, candidates and
    Sampling (a replay run again into the same folder: routeSampler's programme takes minutes on a
    city)."""
    key = hashlib.sha256(edgedata.read_bytes())
    for c in candidates:  # the routes, not the file: its header carries the date it was made
        key.update("\n".join(" ".join(r) for r in read_routes(c)).encode())
    key.update(f"{how.seed} {how.minimize_vehicles} {SAMPLER_VERSION} {prefix}".encode())
    if how.min_counts != 1:  # routeSampler's default: the samples made before the option stay valid
        key.update(f" min_counts {how.min_counts}".encode())
    if how.interval_s > 0:  # likewise: without it, the count files' own interval
        key.update(f" interval {how.interval_s:g}".encode())
    if vtype:  # likewise: without it, the class's own
        key.update(f" vtype {vtype}".encode())
    stamp = out.with_name(out.name + ".key")
    if out.exists() and stamp.exists() and stamp.read_text() == key.hexdigest():
        log.info("routeSampler %s: reusing %s (same counts and candidates)", cls, out)
        return out
    sample_routes(candidates, edgedata, out, cls, how, prefix, vtype)
    stamp.write_text(key.hexdigest())
    return out


def sample_class(
    candidates: Candidates, edgedata: Path, out: Path, cls: str, how: Sampling, entries: bool
) -> list[Path]:
    """The route files of one class: from the entries first (sample_from_entries), or
    (`entries` false) sampled from all candidates at once."""
    if entries:
        return sample_from_entries(candidates, edgedata, out, cls, how)
    every = list(dict.fromkeys([*candidates.entries, *candidates.anywhere]))
    return [sample_routes_cached(every, edgedata, out, cls, how)]


def sample_from_entries(candidates: Candidates, edgedata: Path, out: Path, cls: str, how: Sampling) -> list[Path]:
    """The routes of one class, in two stages (both sample_routes_cached): the counts met from the
    entries (`candidates.entries`) into `out`; then the counts those routes leave short
    (shortfall_counts) met from anywhere into `<out>_mid`. Without entries, one stage from
    anywhere. Returns the route files."""
    if not candidates.entries:
        return [sample_routes_cached(list(candidates.anywhere), edgedata, out, cls, how)]
    first = sample_routes_cached(list(candidates.entries), edgedata, out, cls, how)
    short = edgedata.with_name(f"{edgedata.stem}_short.xml")
    mid = out.with_name(out.name.replace(".rou.xml", "_mid.rou.xml"))
    missing = shortfall_counts(edgedata, first, short, geh_min=0.0, sampler_interval_s=how.interval_s)
    log.info("routeSampler %s: %d vehicles of counts the entries' routes leave short", cls, missing)
    if not missing:
        mid.unlink(missing_ok=True)
        return [first]
    prefix = f"{cls}_mid_"
    return [first, sample_routes_cached(list(candidates.anywhere), short, mid, cls, how, prefix)]


def _counts_of(edgedata: Path) -> tuple[list[tuple[float, float, dict[tuple[str, str], int]]], ET.Element]:
    """(begin, end, {(edge, to_edge or ""): entered}) per interval of an edgeData count file."""
    root = ET.parse(edgedata).getroot()
    out = []
    for iv in root:
        asked = {(e.get("id", ""), ""): int(e.get("entered", 0)) for e in iv.iter("edge")}
        asked.update({(r.get("from", ""), r.get("to", "")): int(r.get("entered", 0)) for r in iv.iter("edgeRelation")})
        out.append((float(iv.get("begin", 0)), float(iv.get("end", 0)), asked))
    return out, root


def _route_counts(routes: Path, begin_s: float, interval_s: float) -> dict[tuple[str, str, int], int]:
    """(edge, "", k) and (from, to, k) -> vehicles of a route file that pass the edge (turn) and
    depart in interval k (routeSampler's own accounting: a route counts where it departs)."""
    got: dict[tuple[str, str, int], int] = defaultdict(int)
    for v in ET.parse(routes).getroot().iter("vehicle"):
        route = v.find("route")
        edges = (route.get("edges", "") if route is not None else "").split()
        k = int((float(v.get("depart", begin_s)) - begin_s) // interval_s)
        for e in set(edges):
            got[(e, "", k)] += 1
        for a, b in set(pairwise(edges)):
            got[(a, b, k)] += 1
    return got


def shortfall_counts(
    edgedata: Path,
    routes: Path,
    out: Path,
    period_s: float = 3600.0,
    geh_min: float | None = None,
    sampler_interval_s: float = 0.0,
) -> int:
    """The counts of `edgedata` that `routes` leave short, as an edgeData file `out` of the same
    intervals: where a count (edge or turn) gets fewer vehicles than asked in an hour, by GEH >=
    5 on the hourly flows (a short last hour scaled to its length), each interval's shortfall
    is asked again; every other count is asked 0 (met already: more vehicles there would
    overshoot). Shortfalls are per routeSampler's interval (`sampler_interval_s`, 0: the file's
    own), the whole of one asked in the first file interval it holds (routeSampler sums them).
    Returns the vehicles the edges' shortfalls ask for."""
    from sim.replay_geh import GEH_OK, geh

    intervals, root = _counts_of(edgedata)
    if not intervals:
        return 0
    begin, end = intervals[0][0], intervals[-1][1]
    interval_s = max(sampler_interval_s, intervals[0][1] - intervals[0][0])
    got = _route_counts(routes, begin, interval_s)
    asked_per: dict[tuple[str, str, int], int] = defaultdict(int)
    for b, _e, asked in intervals:
        for key, n in asked.items():
            asked_per[(*key, int((b - begin + 1e-6) // interval_s))] += n
    hourly: dict[tuple[tuple[str, str], int], list[int]] = defaultdict(lambda: [0, 0])
    for (e, to, k), n in asked_per.items():
        h = hourly[((e, to), int(k * interval_s // period_s))]
        h[0] += n
        h[1] += got.get((e, to, k), 0)
    short = set()
    for (key, hour), (a, m) in hourly.items():
        scale = 3600.0 / max(1.0, min(period_s, end - begin - hour * period_s))
        if m < a and geh(m * scale, a * scale) >= (GEH_OK if geh_min is None else geh_min):
            short.add((key, hour))
    total = 0
    seen: set[int] = set()
    for iv, (b, _e, _asked) in zip(root, intervals):
        k = int((b - begin + 1e-6) // interval_s)
        first = k not in seen
        seen.add(k)
        hour = int(k * interval_s // period_s)
        for el in iv:
            key = (el.get("id", ""), "") if el.tag == "edge" else (el.get("from", ""), el.get("to", ""))
            short_n = max(0, asked_per.get((*key, k), 0) - got.get((*key, k), 0))
            n = short_n if first and (key, hour) in short else 0
            el.set("entered", str(n))
            total += n if el.tag == "edge" else 0
    out.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return total


def subtract_routes(edgedata: Path, routes: Path, out: Path, sampler_interval_s: float = 0.0) -> int:
    """The counts of `edgedata` less the vehicles of `routes` that pass each counted edge (turn),
    by routeSampler's accounting (a route counts in the interval it departs in, per
    `sampler_interval_s`, 0: the file's own), taken from the file's intervals of that one in
    order, never below 0; written to `out` (same intervals). Returns the vehicles the edges still
    ask for."""
    intervals, root = _counts_of(edgedata)
    if not intervals:
        out.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
        return 0
    begin = intervals[0][0]
    interval_s = max(sampler_interval_s, intervals[0][1] - intervals[0][0])
    left = _route_counts(routes, begin, interval_s)
    total = 0
    for iv, (b, _e, _asked) in zip(root, intervals):
        k = int((b - begin + 1e-6) // interval_s)
        for el in iv:
            key = (el.get("id", ""), "", k) if el.tag == "edge" else (el.get("from", ""), el.get("to", ""), k)
            n = int(el.get("entered", 0))
            take = min(n, left.get(key, 0))
            if take:
                left[key] -= take
            el.set("entered", str(n - take))
            total += n - take if el.tag == "edge" else 0
    out.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return total


# -- the queues at T ---------------------------------------------------------------------------
def snapshots(det: pa.Table) -> dict[str, list[Snapshot]]:
    """The recorded detector messages, rebuilt as Snapshots per junction in time order."""
    out: dict[str, list[Snapshot]] = defaultdict(list)
    cols = {c: det[c].to_pylist() for c in ("t_s", "period_s", "detector", *VEHICLE_CLASSES, "occupancy", "speed_mps")}
    cols["junction"] = det["junction"].cast(pa.string()).to_pylist()
    rows: dict[tuple[str, float], list[DetectorReading]] = defaultdict(list)
    period: dict[tuple[str, float], float] = {}
    for i, jid in enumerate(cols["junction"]):
        key = (jid, cols["t_s"][i])
        counts = tuple((c, cols[c][i]) for c in VEHICLE_CLASSES if cols[c][i])
        rows[key].append(DetectorReading(cols["detector"][i], counts, cols["occupancy"][i], cols["speed_mps"][i]))
        period[key] = cols["period_s"][i]
    for (jid, t_s), readings in sorted(rows.items(), key=lambda kv: kv[0][1]):
        out[jid].append(Snapshot(jid, t_s, period[(jid, t_s)], tuple(readings)))
    return out


def green_phases(status: pa.Table) -> dict[str, list[tuple[float, int | None]]]:
    """Per junction, (time, green phase or None in an intergreen) from the recorded statuses."""
    out: dict[str, list[tuple[float, int | None]]] = defaultdict(list)
    for jid, t, phase, ig in zip(
        status["junction"].cast(pa.string()).to_pylist(),
        status["t_s"].to_pylist(),
        status["phase"].to_pylist(),
        status["in_intergreen"].to_pylist(),
    ):
        out[jid].append((t, None if ig else phase))
    return out


def estimated_queues(
    junctions: Mapping[str, Intersection], det: pa.Table, status: pa.Table, cfg: Config
) -> dict[str, float]:
    """Lane id -> queue (PCU) the service's estimator gives at the end of the recorded feed."""
    greens = green_phases(status)
    queues: dict[str, float] = {}
    for jid, snaps in snapshots(det).items():
        j = junctions.get(jid)
        if j is None or not snaps:
            continue
        layout = Layout.build(j, cfg)
        est = Estimate.empty(layout, snaps[0].t_s - snaps[0].period_s)
        marks = greens.get(jid, [])
        m = 0
        green: int | None = None
        for s in snaps:
            while m < len(marks) and marks[m][0] <= s.t_s:
                green = marks[m][1]
                m += 1
            est = update(layout, est, s, green)
        q = est.lanes.queue_pcu + est.lanes.hidden_pcu
        for lane, v in zip(layout.lanes, q):
            queues[lane] = queues.get(lane, 0.0) + float(v)
    return queues


def write_queue_vehicles(
    path: Path, queues: Mapping[str, float], net: Net, routes: list[list[str]], depart_s: float, spacing_m: float
) -> int:
    """Standing vehicles (type car) on each lane at depart_s, from the stop line back, each on
    the rest of a sampled route that goes on from that lane. Returns how many."""
    through: dict[str, list[list[str]]] = defaultdict(list)
    for r in routes:
        for i, e in enumerate(r):
            through[e].append(r[i:])
    root = ET.Element("routes")
    n = 0
    for lane_id, q in sorted(queues.items()):
        count = math.floor(q + 0.5)
        if count <= 0:
            continue
        try:
            lane = net.getLane(lane_id)
        except KeyError:
            continue
        nexts = {c.getTo().getID() for c in lane.getOutgoing()}
        edge = lane.getEdge().getID()
        options = [r for r in through.get(edge, []) if len(r) == 1 or r[1] in nexts]
        if not options:
            continue
        count = min(count, int(lane.getLength() // spacing_m))
        for k in range(count):
            route = options[(n + k) % len(options)]
            pos = lane.getLength() - 1.0 - k * spacing_m
            v = ET.SubElement(
                root,
                "vehicle",
                id=f"queue_{lane_id}_{k}",
                type=vtype_id("car"),
                depart=f"{depart_s:.0f}",
                departLane=str(lane.getIndex()),
                departPos=f"{pos:.1f}",
                departSpeed="0",
            )
            ET.SubElement(v, "route", edges=" ".join(route))
        n += count
    write_xml(path, root)
    return n


def count_vehicles(path: Path) -> int:
    """The vehicles (and trips) a SUMO route file departs."""
    if not path.exists():
        return 0
    return sum(1 for _ev, el in ET.iterparse(path) if el.tag in ("vehicle", "trip"))


def read_routes(path: Path) -> list[list[str]]:
    """Edge lists of every route in a SUMO route file (vehicles' inline routes and named ones)."""
    if not path.exists():
        return []
    return [r.get("edges", "").split() for r in ET.parse(path).getroot().iter("route") if r.get("edges")]


def counting_signature(edges: list[str], counted: set[str], turns: set[tuple[str, str]]) -> tuple[str, ...]:
    """The counting locations a route passes, in order: its counted edges and its turning counts
    (from, to). Two routes with one signature meet the same counts: only where they come from
    and go to between counting sites differs, which no loop says."""
    sig = [e for e in edges if e in counted]
    sig += [f"{a}>{b}" for a, b in pairwise(edges) if (a, b) in turns]
    return tuple(sig)


def route_capacity(net: Net, edges: list[str], counted: set[str], vclass: str) -> int:
    """How much traffic a route's uncounted ends can take, relative to an equivalent route: the
    fewest lanes (open to SUMO vClass `vclass`) from its start to its first counted edge, times
    the fewest from its last counted edge to its end (a route that passes none: over all its
    edges)."""
    lanes = [sum(1 for ln in net.getEdge(e).getLanes() if ln.allows(vclass)) or 1 for e in edges]
    hits = [i for i, e in enumerate(edges) if e in counted]
    if not hits:
        return min(lanes)
    return min(lanes[: hits[0] + 1]) * min(lanes[hits[-1] :])


def spread_equivalent_routes(
    routes: Path, candidates: list[Path], edgedata: Path, seed: int, net: Net, vclass: str = "passenger"
) -> Path:
    """Spreads each sampled vehicle over the candidate routes equivalent to its own (the same
    counting_signature), in proportion to route_capacity: routeSampler's programme puts a whole
    stream on one of several routes that pass the same loops (a vertex of its linear programme),
    so one uncounted entry or exit (a one-lane street) takes traffic that several share, and
    jams. Which of them real traffic takes no loop says; in proportion to what their ends can
    take is the neutral split. Every count the sample met stays met. Written beside `routes`
    (`<name>.spread.rou.xml`, the sample itself kept for reuse); returns that file."""
    intervals, _root = _counts_of(edgedata)
    counted = {e for _b, _e, asked in intervals for e, to in asked if not to}
    turns = {(e, to) for _b, _e, asked in intervals for e, to in asked if to}
    groups: dict[tuple[str, ...], dict[str, int]] = defaultdict(dict)
    for c in candidates:
        for r in read_routes(c):
            groups[counting_signature(r, counted, turns)][" ".join(r)] = route_capacity(net, r, counted, vclass)
    rng = np.random.default_rng(seed)
    tree = ET.parse(routes)
    moved = 0
    for v in tree.getroot().iter("vehicle"):
        route = v.find("route")
        if route is None:
            continue
        edges = route.get("edges", "").split()
        group = groups.get(counting_signature(edges, counted, turns))
        if not group or len(group) < 2:
            continue
        names = list(group)
        weights = np.array([group[n] for n in names], dtype=float)
        pick = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        if pick != " ".join(edges):
            route.set("edges", pick)
            moved += 1
    out = routes.with_name(routes.name.replace(".rou.xml", "") + ".spread.rou.xml")
    tree.write(out, xml_declaration=True, encoding="UTF-8")
    log.info("%s: %d vehicles moved to an equivalent route", out.name, moved)
    return out

"""The SUMO twin (issue 14): a candidate plan and the plans in force, run over the next horizon
on the city's network, from what the controller knows. It never reads the field's state.

Input (`TwinRequest`): the region (junction models), the city's SUMO network, the last counts the
controller has per loop and vehicle class (`counts` over `window_s`), the estimated queues per
lane, the plans in force (`incumbent`) and the candidate plans. Steps:
1. Scenario (`build_scenario`, once per request, reused by both runs): the counts projected flat
   over the horizon; candidate routes from randomTrips (cached per network and seed in the work
   folder); per vehicle class, vehicles per candidate route by non-negative least squares on the
   counted edges (`route_weights`), departing evenly over the horizon; each lane's estimated
   queue becomes standing vehicles. Optional: the counted flow also on its way at t = 0
   (`en_route`), the city's vehicle types (`vtype_files`), its own signal programs (`programs`).
2. Two SUMO runs in parallel (`sumo` processes, same seed; mesoscopic when the request asks):
   the incumbent plans, then the same with the candidate's junctions on the candidate. A plan is
   a SUMO tlLogic written from the junction model: each green of the phase order, then yellow
   (the links that lose green) and all-red, with the plan's offset; junctions without a plan
   keep the network's program.
3. Prediction per junction (core/validation.py Prediction): SUMO's edgeData over the horizon on
   the approaches only, time loss (vehicle-seconds) and vehicles entered, summed over the edges
   of the junction's approach lanes and of the lanes upstream of them up to APPROACH_REACH_M or
   the next traffic light.

`predict` is what the validation gate (controller/validation.py) runs in its worker process.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sumolib

from controller.config import DetectorConfig
from controller.core.validation import Prediction, ValidationParams
from controller.errors import AdapterError
from controller.model import GREEN, VEHICLE_CLASSES, CycleWish, Intersection
from sim import replay_demand as demand
from sim.sumo import sumo_home

INTERVAL_S = 60.0  # projected counts per interval (projected_counts)
APPROACH_REACH_M = 400.0  # a junction's delay is counted this far upstream (or to the next traffic light)


@dataclass(frozen=True)
class TwinRequest:
    """One validation: the region, what the controller knows, the plans in force and a candidate."""

    net_file: str
    junctions: tuple[Intersection, ...]  # the region
    counts: Mapping[str, tuple[int, ...]]  # loop -> vehicles per class (VEHICLE_CLASSES order) over window_s
    window_s: float
    queues_pcu: Mapping[str, float]  # lane -> estimated queue (PCU)
    incumbent: Mapping[str, CycleWish]  # junction -> plan in force; absent: the network's own program
    candidate: Mapping[str, CycleWish]  # junction -> candidate plan
    work_dir: str
    horizon_s: float = ValidationParams.horizon_s
    seed: int = ValidationParams.seed
    vehicle_spacing_m: float = DetectorConfig.vehicle_spacing_m  # standing vehicles of a seeded queue, front to front
    mesoscopic: bool = False  # SUMO's mesoscopic model (sumo_command)
    programs: tuple[str, ...] = ()  # additional files with the city's own signal programs (tlLogic)
    en_route: bool = False  # the counted flow is also on its way at t = 0 (EnRoute)
    vtype_files: tuple[str, ...] = ()  # the city's vehicle types (vType elements read from these); else SUMO's


@dataclass(frozen=True)
class TwinResult:
    incumbent: Prediction
    candidate: Prediction
    build_s: float  # wall time building the scenario
    run_s: float  # wall time of the two runs (in parallel)
    vehicles_asked: int = 0
    queued_vehicles: int = 0
    files: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        preds: Mapping[str, Prediction],
        t_s: tuple[float, float, float],
        info: Mapping[str, int],
        files: dict[str, str],
    ) -> TwinResult:
        """From the runs' predictions ("incumbent", "candidate"), the monotonic clock at the start,
        after the scenario and after the runs, and build_scenario's info."""
        t0, t1, t2 = t_s
        i, c = preds["incumbent"], preds["candidate"]
        return cls(i, c, t1 - t0, t2 - t1, info["vehicles_asked"], info["queued_vehicles"], files)


def projected_counts(
    counts: Mapping[str, tuple[int, ...]], window_s: float, horizon_s: float, interval_s: float = INTERVAL_S
) -> dict[str, np.ndarray]:
    """Per loop, (intervals, classes) counts over the horizon at the window's rate: interval k
    gets round(rate*(k+1)) - round(rate*k), so the total is the rate times the horizon."""
    if window_s <= 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    n = math.ceil(horizon_s / interval_s)
    edges = np.arange(n + 1) * interval_s
    out: dict[str, np.ndarray] = {}
    for loop, per_class in counts.items():
        if len(per_class) != len(VEHICLE_CLASSES):
            raise ValueError(f"counts of loop {loop}: {len(per_class)} values, want one per class {VEHICLE_CLASSES}")
        rate = np.asarray(per_class, dtype=float) / window_s
        cum = np.rint(np.outer(edges, rate)).astype(np.int64)
        out[loop] = np.diff(cum, axis=0)
    return out


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _candidates(net_file: Path, work: Path, seed: int) -> list[Path]:
    """randomTrips' candidate routes, made once per network and seed in the work folder. They
    are made in a folder of this process's own and renamed into place, so twins started at once
    (the gate's and a policy's) never read each other's half-written files."""
    folder = work / f"candidates_{_key(str(net_file.resolve()), net_file.stat().st_mtime, seed)}"
    done = folder / "done.txt"
    if not done.exists():
        own = folder.with_name(f"{folder.name}.{os.getpid()}")
        own.mkdir(parents=True, exist_ok=True)
        files = demand.candidate_routes(net_file, own, seed, n_routes=2000)
        (own / "done.txt").write_text(" ".join(f.name for f in files))
        try:
            own.rename(folder)
        except OSError:  # another process got there first (or left a folder unfinished)
            if not done.exists():
                return files  # this process's own, left where they are
            shutil.rmtree(own, ignore_errors=True)
    return [folder / n for n in done.read_text().split()]


def route_weights(incidence: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Vehicles per candidate route (>= 0) whose passages over the counted edges best meet the
    target counts: non-negative least squares on the edge-by-route incidence matrix (nnls). A
    basic solution: at most one route per counted edge carries vehicles, so long routes through
    several counted edges are preferred where they fit."""
    if incidence.shape[0] == 0 or not target.any():
        return np.zeros(incidence.shape[1])
    return nnls(incidence, target)


def nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """argmin ||a x - b|| subject to x >= 0, by Lawson and Hanson's active-set method (Solving
    Least Squares Problems, 1974, ch. 23), as scipy.optimize.nnls: numpy only, so the twin's
    worker process does not import scipy.optimize (0.3-0.5 s of its start)."""
    m, n = a.shape
    tol = 10 * np.finfo(float).eps * np.abs(a).sum(axis=0).max(initial=1.0) * max(m, n)
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    w = a.T @ b
    for _ in range(3 * n + 10):
        if passive.all() or w[~passive].max() <= tol:
            return x
        passive[np.flatnonzero(~passive)[np.argmax(w[~passive])]] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > tol).all():
                break
            out = passive & (z <= tol)
            alpha = np.min(x[out] / (x[out] - z[out]))
            x += alpha * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
        x = z
        w = a.T @ (b - a @ x)
    raise AdapterError(f"twin: route weights did not converge ({m} counted edges, {n} routes)")


def whole_vehicles(weights: np.ndarray) -> np.ndarray:
    """Integer vehicles per route, rounded by largest remainder: the total is the weights' sum,
    rounded."""
    base = np.floor(weights + 1e-9).astype(np.int64)
    extra = round(float(weights.sum())) - int(base.sum())
    if extra > 0:
        order = np.argsort(-(weights - base), kind="stable")
        base[order[:extra]] += 1
    return base


@dataclass(frozen=True)
class RouteSet:
    """The candidate routes of a network and the edges counted in a region: `incidence[e, r]`
    is how often route r passes counted edge e."""

    routes: tuple[tuple[str, ...], ...]
    edges: tuple[str, ...]
    incidence: np.ndarray

    @classmethod
    def build(cls, candidates: list[list[str]], edges: list[str]) -> RouteSet:
        row = {e: k for k, e in enumerate(edges)}
        used = [r for r in candidates if any(e in row for e in r)]
        inc = np.zeros((len(edges), len(used)))
        for c, r in enumerate(used):
            for e in r:
                if e in row:
                    inc[row[e], c] += 1.0
        return cls(tuple(tuple(r) for r in used), tuple(edges), inc)


def edge_targets(
    counters: Sequence[demand.EdgeCounter], loop_counts: Mapping[str, np.ndarray], edges: tuple[str, ...]
) -> np.ndarray:
    """(counted edges, classes): vehicles each counted edge is to see over the horizon (its loops'
    projected counts summed)."""
    row = {e: k for k, e in enumerate(edges)}
    out = np.zeros((len(edges), len(VEHICLE_CLASSES)))
    for c in counters:
        for d in c.detectors:
            if d in loop_counts:
                out[row[c.edge]] += loop_counts[d].sum(axis=0)
    return out


@dataclass(frozen=True)
class EnRoute:
    """Where the vehicles already on their way at t = 0 are: each route's flow, continued
    backwards in time, at free-flow speed (`edges`: edge -> (length m, speed m/s)), except on the
    stretch of an edge from its stop line back over its seeded queue (`queued_m`) and one vehicle
    more (`spacing_m`), whose vehicles are the queue's."""

    edges: Mapping[str, tuple[float, float]]
    queued_m: Mapping[str, float]
    spacing_m: float

    def place(self, route: tuple[str, ...], age_s: float) -> tuple[int, float] | None:
        """(index of the edge, position m from its start) after age_s s on the route, or None
        (past its end, or in a seeded queue)."""
        t = 0.0
        for i, e in enumerate(route):
            length_m, speed_mps = self.edges[e]
            dt = length_m / max(speed_mps, 1.0)
            if t + dt > age_s:
                pos_m = (age_s - t) * max(speed_mps, 1.0)
                return None if pos_m > length_m - self.queued_m.get(e, 0.0) - self.spacing_m else (i, pos_m)
            t += dt
        return None


def write_demand(
    path: Path,
    routes: RouteSet,
    per_class: Mapping[str, np.ndarray],
    horizon_s: float,
    seed: int,
    en_route: EnRoute | None = None,
) -> list[list[str]]:
    """A SUMO route file: each route once, and per class its vehicles on it departing evenly over
    the horizon (a random phase per route and class, seeded). With `en_route`, the same flow
    continued before t = 0: those vehicles start at t = 0 where they are (EnRoute.place).
    Returns the routes of the vehicles departing over the horizon."""
    rng = np.random.default_rng(seed)
    root = ET.Element("routes")
    departs: list[tuple[float, str, str, str]] = []
    used: list[tuple[str, ...]] = []
    placed: list[tuple[str, str, tuple[str, ...], float]] = []
    for cls in VEHICLE_CLASSES:
        counts = per_class.get(cls)
        if counts is None:
            continue
        vtype = demand.vtype_id(cls)
        for r in np.flatnonzero(counts):
            n = int(counts[r])
            phase = rng.random()
            departs.extend(((k + phase) * horizon_s / n, f"{cls}_{r}_{k}", vtype, f"r{r}") for k in range(n))
            used.extend([routes.routes[r]] * n)
            k = 0
            while en_route is not None and (k + 1 - phase) * horizon_s / n < horizon_s:
                k += 1  # the k-th vehicle before the first: it left (k - phase) * headway ago
                at = en_route.place(routes.routes[r], (k - phase) * horizon_s / n)
                if at is not None:
                    placed.append((f"{cls}_{r}_early{k}", vtype, routes.routes[r][at[0] :], at[1]))
    for rid in sorted({d[3] for d in departs}, key=lambda x: int(x[1:])):
        ET.SubElement(root, "route", id=rid, edges=" ".join(routes.routes[int(rid[1:])]))
    for vid, vtype, rest, pos_m in placed:
        v = ET.SubElement(root, "vehicle", id=vid, type=vtype, depart="0", departLane="best", departPos=f"{pos_m:.1f}")
        v.set("departSpeed", "max")
        ET.SubElement(v, "route", edges=" ".join(rest))
    for t, vid, vtype, rid in sorted(departs):
        ET.SubElement(
            root, "vehicle", id=vid, type=vtype, route=rid, depart=f"{t:.1f}", departLane="best", departSpeed="max"
        )
    ET.indent(root)
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return [list(r) for r in used]


def car_lanes(queues_pcu: Mapping[str, float], net: sumolib.net.Net) -> dict[str, float]:
    """The queues of lanes that exist and that cars may use (the seeded queue is cars; a bus
    lane's estimate is left out)."""
    out = {}
    for lane_id, q in queues_pcu.items():
        try:
            lane = net.getLane(lane_id)
        except KeyError:
            continue
        if lane.allows("passenger"):
            out[lane_id] = q
    return out


def en_route(req: TwinRequest, net: sumolib.net.Net) -> EnRoute | None:
    """The request's EnRoute (None unless it asks for vehicles en route): free-flow lengths and
    speeds of every edge, and how far back from each stop line its seeded queue reaches."""
    if not req.en_route:
        return None
    edges = {e.getID(): (e.getLength(), e.getSpeed()) for e in net.getEdges()}
    queued_m: dict[str, float] = {}
    for lane, q in req.queues_pcu.items():
        edge = lane.rsplit("_", 1)[0]
        queued_m[edge] = max(queued_m.get(edge, 0.0), math.floor(q + 0.5) * req.vehicle_spacing_m)
    return EnRoute(edges, queued_m, req.vehicle_spacing_m)


def build_scenario(req: TwinRequest, net: sumolib.net.Net) -> tuple[list[Path], dict[str, int]]:
    """The route files of the twin (vTypes, the counted demand, seeded queues). The counts are
    projected flat over the horizon; each class's vehicles go on the candidate routes by
    route_weights, departing evenly; each lane's estimated queue becomes standing vehicles."""
    work = Path(req.work_dir).resolve()  # SUMO reads the files from their own folder
    key = _key(
        req.net_file,
        dict(req.counts),
        req.window_s,
        req.horizon_s,
        req.seed,
        dict(req.queues_pcu),
        req.en_route,
        req.vtype_files,
    )
    out = work / f"scenario_{key}"
    out.mkdir(parents=True, exist_ok=True)
    counters = demand.edge_counters({j.id: j for j in req.junctions}, net)
    loop_counts = projected_counts(req.counts, req.window_s, req.horizon_s)
    candidates = [r for c in _candidates(Path(req.net_file), work, req.seed) for r in demand.read_routes(c)]
    routes = RouteSet.build(candidates, [c.edge for c in counters])
    targets = edge_targets(counters, loop_counts, routes.edges)
    per_class = {
        cls: whole_vehicles(route_weights(routes.incidence, targets[:, ci]))
        for ci, cls in enumerate(VEHICLE_CLASSES)
        if targets[:, ci].any()
    }
    files = [demand.write_vtypes(out / "vtypes.rou.xml", [Path(p) for p in req.vtype_files])]
    files.append(out / "demand.rou.xml")
    sampled = write_demand(files[-1], routes, per_class, req.horizon_s, req.seed, en_route(req, net)) or candidates
    queued = demand.write_queue_vehicles(
        out / "queues.rou.xml", car_lanes(req.queues_pcu, net), net, sampled, 0.0, req.vehicle_spacing_m
    )
    files.append(out / "queues.rou.xml")
    vehicles = int(sum(v.sum() for v in per_class.values()))
    return files, {"vehicles_asked": int(targets.sum()), "queued_vehicles": queued, "vehicles": vehicles}


def plan_phases(j: Intersection, wish: CycleWish) -> list[tuple[str, float]]:
    """(SUMO signal state, duration s) of one cycle of the plan: each green, then its yellow
    (links green now and not in the next green) and all-red (all_red_s, longer where the change keeps a crossing's
    clearance or a conflicting pair's intergreen, as the roadside runs it); links green in both stay green. A
    change with a program transition (Intersection.transitions) runs its states, as the roadside."""
    out: list[tuple[str, float]] = []
    order = wish.phase_order
    for k, (p, g) in enumerate(zip(order, wish.greens_s)):
        q = order[(k + 1) % len(order)]
        cur, nxt = j.phases[p].state, j.phases[q].state
        out.append((cur, float(g)))
        own = j.transition(p, q)
        if own is not None:
            out.extend(zip(own.states, own.durations_s))
            continue
        if nxt == cur or j.intergreen_s(p, q) <= 0:  # no link stops: the roadside goes on
            continue
        keep = [c if c in GREEN and n in GREEN else None for c, n in zip(cur, nxt)]
        yellow = "".join(k_ or ("y" if c in GREEN else "r") for k_, c in zip(keep, cur))
        red = "".join(k_ or "r" for k_ in keep)
        if j.yellow_s > 0:
            out.append((yellow, j.yellow_s))
        red_s = max(j.all_red_s, j.all_red_between_s(p, q))  # longer where the change keeps a pair's intergreen
        if red_s > 0:
            out.append((red, red_s))
    return out


def write_plans(path: Path, junctions: Mapping[str, Intersection], plans: Mapping[str, CycleWish]) -> Path:
    """A SUMO additional with one static tlLogic (programID `twin`, loaded last: it runs) per plan."""
    root = ET.Element("additional")
    for jid, wish in sorted(plans.items()):
        j = junctions.get(jid)
        if j is None:
            raise AdapterError(f"twin: plan for {jid}, which is not in the region")
        tl = ET.SubElement(root, "tlLogic", id=jid, type="static", programID="twin", offset=f"{wish.offset_s:g}")
        for state, dur in plan_phases(j, wish):
            ET.SubElement(tl, "phase", duration=f"{dur:g}", state=state)
    ET.indent(root)
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def sumo_command(req: TwinRequest, routes: list[Path], adds: list[Path]) -> list[str]:
    """The twin's SUMO command line: the horizon from 0, one step per second, the request's seed;
    mesoscopic (queues per edge segment, traffic lights blocking their links: SUMO's
    --meso-junction-control) when the request asks for it."""
    cmd = [
        str(Path(sumo_home()) / "bin" / "sumo"),
        "-n",
        req.net_file,
        "-r",
        ",".join(map(str, routes)),
        "-a",
        ",".join(map(str, adds)),
        "-b",
        "0",
        "-e",
        f"{req.horizon_s:g}",
        "--step-length",
        "1",
        "--seed",
        str(req.seed),
        "--no-step-log",
        "true",
        "--no-warnings",
        "true",
        "--duration-log.disable",
        "true",
    ]
    if req.mesoscopic:
        cmd += ["--mesosim", "true", "--meso-junction-control", "true"]
    return cmd


def write_lanedata(path: Path, output: Path, horizon_s: float, edges: frozenset[str]) -> Path:
    """A SUMO additional: edgeData (time loss, vehicles entered) over [0, horizon_s], on `edges`
    only (edges, not lanes: the mesoscopic model has no lanes)."""
    edge_file = path.with_name("edges.txt")
    edge_file.write_text("\n".join(f"edge:{e}" for e in sorted(edges)))
    path.write_text(
        f'<additional><edgeData id="twin" file="{output}" begin="0" end="{horizon_s:g}" '
        f'excludeEmpty="true" edgesFile="{edge_file}"/></additional>'
    )
    return path


def _start(
    req: TwinRequest, routes: list[Path], plans: Mapping[str, CycleWish], out: Path, edges: frozenset[str]
) -> subprocess.Popen[bytes]:
    out.mkdir(parents=True, exist_ok=True)
    junctions = {j.id: j for j in req.junctions}
    adds = [*map(Path, req.programs), write_plans(out / "plans.add.xml", junctions, plans)]
    adds.append(write_lanedata(out / "lanedata.add.xml", out / "lanedata.xml", req.horizon_s, edges))
    log = open(out / "sumo.log", "w")  # noqa: SIM115 - the child keeps its own descriptor
    try:
        return subprocess.Popen(sumo_command(req, routes, adds), stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


def approach_lanes(net: sumolib.net.Net, j: Intersection, reach_m: float = APPROACH_REACH_M) -> frozenset[str]:
    """The lanes whose time loss is the junction's: its movements' lanes, and upstream of them
    every lane of the edges that lead there, up to reach_m from the stop line or the next
    traffic light (a queue that spills back past the first edge still counts, once)."""
    lanes = {ln for m in j.movements for ln in m.lanes}
    todo = [(net.getEdge(m.from_edge), 0.0) for m in j.movements if net.hasEdge(m.from_edge)]
    seen: set[str] = set()
    while todo:
        edge, dist_m = todo.pop()
        if edge.getID() in seen:
            continue
        seen.add(edge.getID())
        lanes.update(ln.getID() for ln in edge.getLanes())
        dist_m += edge.getLength()
        node = edge.getFromNode()
        if dist_m >= reach_m or node.getType().startswith("traffic_light"):
            continue
        todo.extend((e, dist_m) for e in node.getIncoming() if e.getFromNode() is not edge.getToNode())
    return frozenset(lanes)


def read_prediction(meandata: Path, approaches: Mapping[str, frozenset[str]]) -> Prediction:
    """Per junction: time loss and vehicles entered on its approach lanes (approach_lanes), from
    SUMO laneData, or edgeData (then every edge that carries one of the lanes counts whole)."""
    loss: dict[str, float] = {}
    entered: dict[str, float] = {}
    for iv in meandata_intervals(meandata):
        for item_id, (item_loss, item_entered) in iv.items():
            loss[item_id] = loss.get(item_id, 0.0) + item_loss
            entered[item_id] = entered.get(item_id, 0.0) + item_entered
    delay_s: dict[str, float] = {}
    vehicles: dict[str, int] = {}
    for jid, lanes in approaches.items():
        keys = approach_keys(lanes)
        delay_s[jid] = sum(loss.get(k, 0.0) for k in keys)
        vehicles[jid] = int(sum(entered.get(k, 0.0) for k in keys))
    return Prediction(delay_s, vehicles)


def approach_keys(lanes: frozenset[str]) -> list[str]:
    """The ids a junction's figures are summed over in SUMO meandata: its approach lanes
    (laneData) and their edges (edgeData), sorted."""
    return sorted(lanes | {ln.rsplit("_", 1)[0] for ln in lanes})


def meandata_intervals(meandata: Path) -> list[dict[str, tuple[float, float]]]:
    """Per interval of a SUMO laneData or edgeData file: lane or edge id -> (timeLoss, entered)."""
    out = []
    for iv in ET.parse(meandata).getroot().iter("interval"):
        out.append(
            {
                el.get("id", ""): (float(el.get("timeLoss", 0.0)), float(el.get("entered", 0.0)))
                for el in iv
                if el.tag in ("lane", "edge")
            }
        )
    return out


def run_plans(
    req: TwinRequest, net: sumolib.net.Net, routes: list[Path], runs: Mapping[str, Mapping[str, CycleWish]]
) -> dict[str, Prediction]:
    """One SUMO run per entry of `runs` (name -> plans), all in parallel on the same scenario and
    seed; name -> Prediction per junction of the region."""
    run_dir = Path(req.work_dir).resolve() / f"run_{_key(time.time_ns())}"
    approaches = {j.id: approach_lanes(net, j) for j in req.junctions}
    edges = approach_edges(approaches)
    procs = {name: _start(req, routes, plans, run_dir / name, edges) for name, plans in runs.items()}
    for name, p in procs.items():
        if p.wait() != 0:
            tail = (run_dir / name / "sumo.log").read_text()[-500:]
            raise AdapterError(f"twin run {name} failed ({run_dir / name}): {tail}")
    return {name: read_prediction(run_dir / name / "lanedata.xml", approaches) for name in procs}


def predict(req: TwinRequest) -> TwinResult:
    """Build the scenario once, run the incumbent and the candidate in parallel, read both."""
    t0 = time.monotonic()
    for jid in req.candidate:
        if jid not in {j.id for j in req.junctions}:
            raise AdapterError(f"twin: candidate plan for {jid}, which is not in the region")
    net = sumolib.net.readNet(req.net_file, withInternal=False)
    routes, info = build_scenario(req, net)
    t1 = time.monotonic()
    runs = {"incumbent": dict(req.incumbent), "candidate": {**req.incumbent, **req.candidate}}
    preds = run_plans(req, net, routes, runs)
    return TwinResult.of(preds, (t0, t1, time.monotonic()), info, {"scenario": str(routes[0].parent)})


def region_of(junctions: Mapping[str, Intersection], jid: str) -> tuple[Intersection, ...]:
    """The region a change at `jid` is validated on: jid, then its upstream and downstream
    neighbours that are in `junctions`, each once."""
    j = junctions[jid]
    return tuple(junctions[i] for i in dict.fromkeys([jid, *j.upstream, *j.downstream]) if i in junctions)


def region_counts(recent: object, region: tuple[Intersection, ...], now_s: float) -> dict[str, tuple[int, ...]]:
    """The region's loops' recent counts (`recent`: a controller.validation.RecentCounts;
    totals(now_s) -> loop -> vehicles per class)."""
    loops = {d.id for r in region for d in r.detectors}
    totals = recent.totals(now_s)  # type: ignore[attr-defined]
    return {loop: c for loop, c in totals.items() if loop in loops}


def approach_edges(approaches: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The edges of the approach lanes (approach_lanes) of every junction."""
    return frozenset(ln.rsplit("_", 1)[0] for lanes in approaches.values() for ln in lanes)


@dataclass(frozen=True)
class RequestMaker:
    """The service's side of the gate (controller/validation.py DeskValidation.make_request): a
    TwinRequest for a candidate at one junction, on the region of that junction and its
    upstream and downstream neighbours, from the recent counts the service keeps
    (`recent.totals(now_s)`, a controller.validation.RecentCounts) and the estimated queues."""

    net_file: str
    junctions: Mapping[str, Intersection]
    recent: object  # RecentCounts: totals(now_s) -> loop -> vehicles per class
    window_s: float
    work_dir: str
    horizon_s: float = ValidationParams.horizon_s
    seed: int = ValidationParams.seed
    vehicle_spacing_m: float = DetectorConfig.vehicle_spacing_m  # TwinRequest.vehicle_spacing_m
    mesoscopic: bool = False  # TwinRequest.mesoscopic
    programs: tuple[str, ...] = ()  # TwinRequest.programs
    vtype_files: tuple[str, ...] = ()  # TwinRequest.vtype_files

    def region(self, jid: str) -> tuple[Intersection, ...]:
        return region_of(self.junctions, jid)

    def __call__(
        self,
        j: Intersection,
        candidate: CycleWish,
        incumbent: CycleWish | None,
        queues_pcu: Mapping[str, float],
        now_s: float,
    ) -> TwinRequest:
        region = self.region(j.id)
        return TwinRequest(
            self.net_file,
            region,
            region_counts(self.recent, region, now_s),
            self.window_s,
            dict(queues_pcu),
            {} if incumbent is None else {j.id: incumbent},
            {j.id: candidate},
            self.work_dir,
            horizon_s=self.horizon_s,
            seed=self.seed,
            vehicle_spacing_m=self.vehicle_spacing_m,
            mesoscopic=self.mesoscopic,
            programs=self.programs,
            vtype_files=self.vtype_files,
        )

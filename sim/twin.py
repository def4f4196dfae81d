"""The SUMO twin (issue 14): a candidate plan and the plans in force, run over the next horizon
on the city's network, from what the controller knows. It never reads the field's state.

Input (`TwinRequest`): the region (junction models), the city's SUMO network, the last counts the
controller has per loop and vehicle class (`counts` over `window_s`), the estimated queues per
lane, the plans in force (`incumbent`) and the candidate plans. Steps:
1. Scenario (`build_scenario`, once per request, reused by both runs): the counts projected flat
   over the horizon (per 60 s interval, the window's rate, rounded without drift), routed by
   sim/replay_demand.py's routeSampler path (candidate routes from randomTrips, cached per
   network and seed in the work folder); each lane's estimated queue becomes standing vehicles.
2. Two SUMO runs in parallel (`sumo` processes, same seed): the incumbent plans, then the same
   with the candidate's junctions on the candidate. A plan is a SUMO tlLogic written from the
   junction model: each green of the phase order, then yellow (the links that lose green) and
   all-red, with the plan's offset; junctions without a plan keep the network's program.
3. Prediction per junction (core/validation.py Prediction): SUMO's laneData over the horizon,
   time loss (vehicle-seconds) and vehicles entered, summed over the junction's approach lanes
   and the lanes upstream of them up to APPROACH_REACH_M or the next traffic light.

`predict` is what the validation gate (controller/validation.py) runs in its worker process.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sumolib

from controller.core.validation import Prediction
from controller.errors import AdapterError
from controller.model import GREEN, VEHICLE_CLASSES, CycleWish, Intersection
from sim import replay_demand as demand
from sim.sumo import sumo_home

INTERVAL_S = 60.0  # routeSampler's counting interval
VEHICLE_SPACING_M = 7.5  # standing vehicles of a seeded queue, front to front
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
    horizon_s: float = 900.0
    seed: int = 1
    vehicle_spacing_m: float = VEHICLE_SPACING_M


@dataclass(frozen=True)
class TwinResult:
    incumbent: Prediction
    candidate: Prediction
    build_s: float  # wall time building the scenario
    run_s: float  # wall time of the two runs (in parallel)
    vehicles_asked: int = 0
    queued_vehicles: int = 0
    files: dict[str, str] = field(default_factory=dict)


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
    """randomTrips' candidate routes, made once per network and seed in the work folder."""
    folder = work / f"candidates_{_key(str(net_file.resolve()), net_file.stat().st_mtime, seed)}"
    done = folder / "done.txt"
    if done.exists():
        return [folder / n for n in done.read_text().split()]
    folder.mkdir(parents=True, exist_ok=True)
    files = demand.candidate_routes(net_file, folder, seed, n_routes=2000)
    done.write_text(" ".join(f.name for f in files))
    return files


def build_scenario(req: TwinRequest, net) -> tuple[list[Path], dict[str, int]]:
    """The route files of the twin (vTypes, sampled routes per class, seeded queues)."""
    net_file = Path(req.net_file)
    work = Path(req.work_dir)
    key = _key(req.net_file, dict(req.counts), req.window_s, req.horizon_s, req.seed, dict(req.queues_pcu))
    out = work / f"scenario_{key}"
    out.mkdir(parents=True, exist_ok=True)
    junctions = {j.id: j for j in req.junctions}
    counters = demand.edge_counters(junctions, net)
    loop_counts = projected_counts(req.counts, req.window_s, req.horizon_s)
    n_iv = math.ceil(req.horizon_s / INTERVAL_S)
    candidates = _candidates(net_file, work, req.seed)
    cand_edges = [r for c in candidates for r in demand.read_routes(c)]
    lags = demand.edge_lags_s(net, cand_edges, [c.edge for c in counters])
    files = [demand.write_vtypes(out / "vtypes.rou.xml", [])]
    asked = 0
    for cls in VEHICLE_CLASSES:
        edgedata = out / f"counts_{cls}.xml"
        n = demand.write_edgedata(edgedata, counters, loop_counts, cls, 0.0, INTERVAL_S, n_iv, lags)
        if n:
            asked += n
            files.append(
                demand.sample_routes_cached(candidates, edgedata, out / f"routes_{cls}.rou.xml", cls, req.seed, 0.5)
            )
    sampled = [r for f in files[1:] for r in demand.read_routes(f)] or cand_edges
    queued = demand.write_queue_vehicles(
        out / "queues.rou.xml", req.queues_pcu, net, sampled, 0.0, req.vehicle_spacing_m
    )
    files.append(out / "queues.rou.xml")
    return files, {"vehicles_asked": asked, "queued_vehicles": queued}


def plan_phases(j: Intersection, wish: CycleWish) -> list[tuple[str, float]]:
    """(SUMO signal state, duration s) of one cycle of the plan: each green, then its yellow
    (links green now and not in the next green) and all-red; links green in both stay green."""
    out: list[tuple[str, float]] = []
    order = wish.phase_order
    for k, (p, g) in enumerate(zip(order, wish.greens_s)):
        cur = j.phases[p].state
        nxt = j.phases[order[(k + 1) % len(order)]].state
        out.append((cur, float(g)))
        if nxt == cur:
            continue
        keep = [c if c in GREEN and n in GREEN else None for c, n in zip(cur, nxt)]
        yellow = "".join(k_ or ("y" if c in GREEN else "r") for k_, c in zip(keep, cur))
        red = "".join(k_ or "r" for k_ in keep)
        if j.yellow_s > 0:
            out.append((yellow, j.yellow_s))
        if j.all_red_s > 0:
            out.append((red, j.all_red_s))
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


def _start(req: TwinRequest, routes: list[Path], plans: Mapping[str, CycleWish], out: Path) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    junctions = {j.id: j for j in req.junctions}
    adds = [write_plans(out / "plans.add.xml", junctions, plans)]
    meandata = out / "lanedata.add.xml"
    meandata.write_text(
        f'<additional><laneData id="twin" file="{out / "lanedata.xml"}" begin="0" '
        f'end="{req.horizon_s:g}" excludeEmpty="true"/></additional>'
    )
    adds.append(meandata)
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
        "--seed",
        str(req.seed),
        "--no-step-log",
        "true",
        "--no-warnings",
        "true",
        "--duration-log.disable",
        "true",
    ]
    log = open(out / "sumo.log", "w")  # noqa: SIM115 - the child keeps its own descriptor
    try:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


def approach_lanes(net, j: Intersection, reach_m: float = APPROACH_REACH_M) -> frozenset[str]:
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


def read_prediction(lanedata: Path, approaches: Mapping[str, frozenset[str]]) -> Prediction:
    """Per junction: time loss and vehicles entered on its approach lanes (approach_lanes)."""
    loss: dict[str, float] = {}
    entered: dict[str, float] = {}
    for iv in ET.parse(lanedata).getroot().iter("interval"):
        for lane in iv.iter("lane"):
            lid = lane.get("id", "")
            loss[lid] = loss.get(lid, 0.0) + float(lane.get("timeLoss", 0.0))
            entered[lid] = entered.get(lid, 0.0) + float(lane.get("entered", 0.0))
    delay: dict[str, float] = {}
    vehicles: dict[str, int] = {}
    for jid, lanes in approaches.items():
        delay[jid] = sum(loss.get(ln, 0.0) for ln in sorted(lanes))
        vehicles[jid] = int(sum(entered.get(ln, 0.0) for ln in lanes))
    return Prediction(delay, vehicles)


def predict(req: TwinRequest) -> TwinResult:
    """Build the scenario once, run the incumbent and the candidate in parallel, read both."""
    t0 = time.monotonic()
    for jid in req.candidate:
        if jid not in {j.id for j in req.junctions}:
            raise AdapterError(f"twin: candidate plan for {jid}, which is not in the region")
    net = sumolib.net.readNet(req.net_file, withInternal=False)
    routes, info = build_scenario(req, net)
    t1 = time.monotonic()
    run_dir = Path(req.work_dir) / f"run_{_key(time.time_ns())}"
    runs = {"incumbent": dict(req.incumbent), "candidate": {**req.incumbent, **req.candidate}}
    procs = {name: _start(req, routes, plans, run_dir / name) for name, plans in runs.items()}
    for name, p in procs.items():
        if p.wait() != 0:
            tail = (run_dir / name / "sumo.log").read_text()[-500:]
            raise AdapterError(f"twin run {name} failed ({run_dir / name}): {tail}")
    t2 = time.monotonic()
    approaches = {j.id: approach_lanes(net, j) for j in req.junctions}
    preds = {name: read_prediction(run_dir / name / "lanedata.xml", approaches) for name in procs}
    return TwinResult(
        preds["incumbent"],
        preds["candidate"],
        t1 - t0,
        t2 - t1,
        info["vehicles_asked"],
        info["queued_vehicles"],
        {"runs": str(run_dir)},
    )


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
    horizon_s: float = 900.0
    seed: int = 1

    def region(self, jid: str) -> tuple[Intersection, ...]:
        j = self.junctions[jid]
        ids = [jid, *j.upstream, *j.downstream]
        return tuple(self.junctions[i] for i in dict.fromkeys(ids) if i in self.junctions)

    def __call__(
        self,
        j: Intersection,
        candidate: CycleWish,
        incumbent: CycleWish | None,
        queues_pcu: Mapping[str, float],
        now_s: float,
    ) -> TwinRequest:
        region = self.region(j.id)
        loops = {d.id for r in region for d in r.detectors}
        totals = self.recent.totals(now_s)  # type: ignore[attr-defined]
        counts = {loop: c for loop, c in totals.items() if loop in loops}
        return TwinRequest(
            self.net_file,
            region,
            counts,
            self.window_s,
            dict(queues_pcu),
            {} if incumbent is None else {j.id: incumbent},
            {j.id: candidate},
            self.work_dir,
            horizon_s=self.horizon_s,
            seed=self.seed,
        )

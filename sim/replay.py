"""`replay ARCHIVE`: a recorded window rebuilt as a SUMO scenario, then run under each
requested policy and under the plans that were really in force.

Steps (docs/replay.md has a worked example):
1. The window [--from, --to) of the archive's site (whole archive by default). Times are the
   recording's clock: seconds, or an ISO date-time (UTC). The scenario's clock is the recording's
   minus the midnight (UTC) of the window's first day, so a simulation's recording keeps its times.
2. The demand (sim/replay_demand.py): routeSampler on the loop counts per `interval_s` (60 s; it samples per
   `sampler_interval_s`, 300 s) and class, and the
   queues the service's estimator saw at --from as standing vehicles.
3. Runs, one process each (libsumo: one simulation per process): `recorded` (the recorded plans
   re-sent at their recorded times; where none were sent the junctions run their own programs,
   as they did) and each `--policy`. Each writes the usual outputs in OUT/<policy>/, plus
   edgedata.xml (per edge and minute: time loss, waiting) for the report.
4. Calibration: GEH of the `recorded` run's loop counts (recorded by the same archive code)
   against the recording (sim/replay_geh.py); report.html (sim/replay_report.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sumolib

from controller.adapters.archive import read_archive, read_meta, site_root
from controller.config import Config, ReplayConfig
from controller.core.policies import REGISTRY
from controller.errors import AdapterError, DefinitionError
from controller.junctions import load_intersections
from controller.model import VEHICLE_CLASSES, Intersection
from sim import replay_demand as demand
from sim.baselines import FIELD_POLICIES
from sim.commands import simulate_command
from sim.progress import Progress
from sim.replay_geh import GehResult, compare_counts, count_sites
from sim.replay_programs import PROGRAMS_FILE, write_recorded_programs
from sim.replay_report import edgedata_additional

log = logging.getLogger(__name__)

RECORDED = "recorded"
DAY_S = 86400.0


@dataclass(frozen=True)
class ReplayRequest:
    archive: Path
    out_dir: Path
    t_from: str | None = None
    t_to: str | None = None
    policies: tuple[str, ...] = ()
    net: Path | None = None
    seed: int = 1
    config: str | None = None  # config file passed to the per-policy processes
    turning_counts: bool = True  # stop-line loops on single-exit lanes give routeSampler edgeRelations
    class_routes: bool = True  # a class with lanes of its own (buses) gets candidates routed for it


@dataclass(frozen=True)
class Window:
    """[from_s, to_s) in the recording's clock; scenario time = recording time - offset_s. The
    scenario starts at start_s (the lead before from_s, as far as the recording goes back) and
    is compared with the recording from from_s."""

    from_s: float
    to_s: float
    offset_s: float
    first_s: float  # the archive's first and last reading
    last_s: float
    start_s: float


@dataclass
class ReplayResult:
    scenario: Path
    window: Window
    summaries: list[dict[str, Any]] = field(default_factory=list)
    geh: GehResult | None = None
    demand: dict[str, Any] = field(default_factory=dict)


def parse_time(text: str, option: str) -> float:
    """Seconds (the recording's clock) or an ISO date-time, UTC when no zone is given."""
    try:
        value = float(text)
    except ValueError:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise DefinitionError(option, "T", f"{text!r} is neither seconds nor an ISO date-time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    if not math.isfinite(value):
        raise DefinitionError(option, "T", f"{text!r} is not a finite time")
    return value


def resolve_window(req: ReplayRequest, det: pa.Table, params: ReplayConfig) -> Window:
    """The requested window within the recording (the lead and the counting interval: `params`,
    config.toml [replay]); a clear error when it is empty or outside."""
    if det.num_rows == 0:
        raise AdapterError(f"archive {req.archive}: no detector readings recorded")
    t = det["t_s"]
    first = float(pa.compute.min(t).as_py()) - float(det["period_s"][0].as_py())
    last = float(pa.compute.max(t).as_py())
    t_from = parse_time(req.t_from, "--from") if req.t_from is not None else first
    t_to = parse_time(req.t_to, "--to") if req.t_to is not None else last
    span = f"the recording covers [{first:.0f}, {last:.0f}] s"
    if not first <= t_from < last:
        raise DefinitionError("--from", "T", f"{t_from:.0f} s is outside the recording; {span}")
    if not first < t_to <= last + 1.0:
        raise DefinitionError("--to", "T", f"{t_to:.0f} s is outside the recording; {span}")
    interval_s = max(params.interval_s, params.sampler_interval_s)
    if t_to - t_from < interval_s:
        raise DefinitionError(
            "--to",
            "T",
            f"empty window: [{t_from:.0f}, {t_to:.0f}) is shorter than one {interval_s:.0f} s counting interval",
        )
    start = max(first, t_from - params.lead_s)
    offset = math.floor(start / DAY_S) * DAY_S
    return Window(t_from, t_to, offset, first, last, start)


def policy_names(req: ReplayRequest, recorded_policy: str | None) -> tuple[list[str], str]:
    """The runs (`recorded` first, then the requested policies) and the calibration run: the
    recording's own policy in closed loop when it is a controller policy (recorded plans of an
    adaptive policy, re-sent open loop, no longer answer the queues they meet), else `recorded`."""
    known = set(REGISTRY) | set(FIELD_POLICIES)
    for p in req.policies:
        if p not in known:
            raise DefinitionError("--policy", "policy", f"unknown policy {p!r}; known: {', '.join(sorted(known))}")
    runs = [RECORDED] + [p for p in dict.fromkeys(req.policies) if p != RECORDED]
    calibration = recorded_policy if recorded_policy in known and recorded_policy != "fixed" else RECORDED
    if calibration not in runs:
        runs.append(calibration)
    return runs, calibration


def _progress(line: str) -> None:
    print(f"[replay] {line}", file=sys.stderr, flush=True)


# vClass -> the ways in past an approach's advance loops that its candidate routes take instead (ways_in)
WaysIn = Callable[[str], dict[str, tuple[str, ...]]]


def _no_ways_in(vclass: str) -> dict[str, tuple[str, ...]]:
    """No way in moved (ways_in's reading off)."""
    return {}


def scenario_counters(
    junctions: Mapping[str, Intersection], net: sumolib.net.Net, turning_counts: bool = True
) -> dict[str, list[demand.EdgeCounter]]:
    """Per vehicle class, the edge counts and (`turning_counts`) the turning counts the loops give."""
    return {
        cls: demand.edge_counters(junctions, net, vclass)
        + (demand.turn_counters(junctions, net, vclass) if turning_counts else [])
        for cls, vclass in demand.SUMO_VCLASS.items()
    }


def scenario_net(req: ReplayRequest, meta: Mapping[str, Any]) -> Path:
    """The SUMO network the window is rebuilt on: --net, else the one the recording's meta.json
    names. DefinitionError when there is none that exists."""
    net_file = Path(req.net or meta.get("net_file", ""))
    if not str(net_file) or not net_file.is_file():
        raise DefinitionError(
            "--net",
            "net",
            f"no SUMO network: {net_file or 'none given'} (the recording's "
            f"meta.json names none that exists; pass --net NET.net.xml)",
        )
    return net_file


@dataclass(frozen=True)
class CountTargets:
    """The window's loop counts as routeSampler's targets: per vehicle class the counted edges
    and turns (`counters`), the counts per loop and interval (demand.interval_counts), the
    scenario time of the first interval (s), the number of intervals, and per counted edge the
    lag from where the routes start (s, demand.edge_lags_s)."""

    counters: dict[str, list[demand.EdgeCounter]]
    loop_counts: dict[str, np.ndarray]
    begin_s: float
    intervals: int
    lags_s: dict[str, float]


@dataclass(frozen=True)
class ClassRoutes:
    """The routes rebuilt per vehicle class: their files, the counted passes asked of each class
    and the vehicles sampled, and the permit vTypes and routes of the cars on streets closed to
    cars (permit_cars; none when there are none)."""

    files: list[Path]
    asked: dict[str, int]
    rebuilt: dict[str, int]
    permit: list[Path]


def build_scenario(
    req: ReplayRequest, cfg: Config, site: Path, meta: Mapping[str, Any], window: Window
) -> tuple[Path, dict[str, Any]]:
    """OUT/scenario/replay.sumocfg for the window; returns it and what the demand is made of."""
    net_file = scenario_net(req, meta)
    out = req.out_dir / "scenario"
    out.mkdir(parents=True, exist_ok=True)
    junctions = load_intersections(site / "meta" / "intersections")
    net = sumolib.net.readNet(str(net_file), withInternal=False)
    det = read_archive(site, "detectors", window.start_s, window.to_s)
    params = cfg.replay
    begin = window.start_s - window.offset_s
    n_iv = math.ceil((window.to_s - window.start_s) / params.interval_s)
    counters = scenario_counters(junctions, net, req.turning_counts)
    counted = sum(1 for c in counters["car"] if not c.to_edge)
    loop_counts = demand.interval_counts(det, params.interval_s, window.start_s)
    _progress(
        f"demand: {counted} counted edges, {len(counters['car']) - counted} turning counts, "
        f"{n_iv} intervals of {params.interval_s:.0f} s"
    )
    ways = ways_in(params, junctions, net, loop_counts)
    turns = demand.turnaround_links(net, params.drop_turnaround_routes)
    candidates = demand.candidate_sets(
        net_file,
        out,
        req.seed,
        params.candidate_trips,
        drop_one_edge=params.drop_one_edge_routes,
        ways_in=ways("passenger"),
        turnarounds=turns,
    )
    sources = [Path(f) for f in meta.get("route_files", []) + meta.get("additional_files", [])]
    vtypes = demand.write_vtypes(out / "vtypes.rou.xml", sources)
    every = (*candidates.entries, *candidates.anywhere)  # the lags: from where the routes will start
    starts = candidates.entries if params.entries_first and candidates.entries else every
    candidate_edges = [r for c in starts for r in demand.read_routes(c)]
    lags = demand.edge_lags_s(net, candidate_edges, sorted({c.edge for cs in counters.values() for c in cs}))
    targets = CountTargets(counters, loop_counts, begin, n_iv, lags)
    routes = class_route_files(req, params, junctions, net, net_file, candidates, targets, ways, sources)
    sampled = [r for f in routes.files for r in demand.read_routes(f)] or candidate_edges
    # the permit routes are not for the queued cars: their routes pass lanes closed to cars
    queued, queue_pcu = queued_vehicles(cfg, site, window, junctions, net, sampled, begin, out)
    info = {
        "counted_edges": counted,
        "turning_counts": len(counters["car"]) - counted,
        "counted_passes_by_class": routes.asked,
        "vehicles_by_class": routes.rebuilt,
        "queued_vehicles": queued,
        "queue_pcu_estimated": round(queue_pcu, 1),
        "intervals": n_iv,
        "net_file": str(net_file),
    }
    route_files = [vtypes, *routes.files, *routes.permit, out / "queues.rou.xml"]
    end_s = window.to_s - window.offset_s
    files = list(meta.get("additional_files", []))
    recorded = write_recorded_programs(site, window.start_s, window.to_s, window.offset_s, net_file, files, out)
    info["recorded_programs"] = str(recorded) if recorded else ""
    additional = scenario_additional(meta, req.out_dir)
    return write_sumocfg(out / "replay.sumocfg", net_file, route_files, additional, begin, end_s), info


def scenario_additional(meta: Mapping[str, Any], out_dir: Path) -> list[str]:
    """The scenario's additional files: the recorded scenario's (meta.json), then the WAUTs of the programs the
    recording's statuses name (sim/replay_programs.py), where build_scenario wrote them."""
    programs = out_dir / "scenario" / PROGRAMS_FILE
    return [*meta.get("additional_files", []), *([str(programs)] if programs.is_file() else [])]


def class_route_files(
    req: ReplayRequest,
    params: ReplayConfig,
    junctions: Mapping[str, Intersection],
    net: sumolib.net.Net,
    net_file: Path,
    candidates: demand.Candidates,
    targets: CountTargets,
    ways: WaysIn,
    sources: list[Path],
) -> ClassRoutes:
    """Per vehicle class, OUT/scenario/counts_<class>.xml (the class's counted passes) and the
    routes sampled against it (class_routes, from the entries with `routes_from_entries`); the
    cars counted on streets closed to cars first (`restricted_lane_cars`: permit_cars)."""
    out = req.out_dir / "scenario"
    t = targets
    loops = demand.loop_edges(junctions, net)
    files: list[Path] = []
    permit: list[Path] = []
    asked: dict[str, int] = {}
    rebuilt: dict[str, int] = {}
    for cls in VEHICLE_CLASSES:
        edgedata = out / f"counts_{cls}.xml"
        asked[cls] = demand.write_edgedata(
            edgedata, t.counters[cls], t.loop_counts, cls, t.begin_s, params.interval_s, t.intervals, t.lags_s
        )
        if cls == "car" and params.restricted_lane_cars:
            counts = (demand.restricted_counters(junctions, net), t.loop_counts, t.begin_s, t.intervals, t.lags_s)
            edgedata, permit = permit_cars(req, params, net, t.counters[cls], counts, edgedata, sources)
        if asked[cls]:
            own = class_routes(req, params, net, net_file, candidates, t.counters[cls], edgedata, cls, ways)
            if params.routes_from_entries:
                own = demand.routes_from_entries(net, own, loops, demand.SUMO_VCLASS[cls], t.begin_s)
            files += own
            rebuilt[cls] = sum(demand.count_vehicles(f) for f in own)
    if permit:
        rebuilt["car_permit"] = demand.count_vehicles(permit[-1])
    return ClassRoutes(files, asked, rebuilt, permit)


def queued_vehicles(
    cfg: Config,
    site: Path,
    window: Window,
    junctions: Mapping[str, Intersection],
    net: sumolib.net.Net,
    sampled: list[list[str]],
    begin_s: float,
    out: Path,
) -> tuple[int, float]:
    """The queues the service's estimator saw at the window's start (over the recording's
    `warmup_s` before it) as standing vehicles on routes from `sampled`, in OUT/queues.rou.xml.
    Returns the vehicles written and the queue estimated (PCU)."""
    warm_from_s = max(window.first_s, window.start_s - cfg.replay.warmup_s)
    before = read_archive(site, "detectors", warm_from_s, window.start_s)
    status = read_archive(site, "status", warm_from_s, window.start_s)
    queues = demand.estimated_queues(junctions, before, status, cfg) if before.num_rows else {}
    spacing_m = cfg.detectors.vehicle_spacing_m
    queued = demand.write_queue_vehicles(out / "queues.rou.xml", queues, net, sampled, begin_s, spacing_m)
    return queued, sum(queues.values())


def ways_in(
    params: ReplayConfig,
    junctions: Mapping[str, Intersection],
    net: sumolib.net.Net,
    loop_counts: Mapping[str, np.ndarray],
) -> WaysIn:
    """vClass -> the ways in that candidate routes starting past an approach's advance loops
    take instead (`start_before_advance_loops`: demand.ways_in_past_advance_loops, but where the
    recorded counts (`loop_counts`, demand.interval_counts) show traffic entering between the
    loops and the stop line; none otherwise)."""
    totals = {loop: int(n.sum()) for loop, n in loop_counts.items()}

    def edges(vclass: str) -> dict[str, tuple[str, ...]]:
        if not params.start_before_advance_loops:
            return {}
        found = demand.ways_in_past_advance_loops(junctions, net, vclass, totals)
        if found:
            log.info("candidate routes (%s) on %d edges past advance loops start before them", vclass, len(found))
        return found

    return edges


def class_routes(
    req: ReplayRequest,
    params: ReplayConfig,
    net: sumolib.net.Net,
    net_file: Path,
    candidates: demand.Candidates,
    counters: list[demand.EdgeCounter],
    edgedata: Path,
    cls: str,
    ways: WaysIn = _no_ways_in,
) -> list[Path]:
    """The route files of one vehicle class (demand.sample_class): on the cars' candidates,
    or (`req.class_routes`, a class the network gives other lanes: bus lanes, bus-only streets)
    on its own, routed for its vClass; plus routes from the entries through counted edges that
    no candidate passes (demand.covering_routes)."""
    out = edgedata.parent
    vclass = demand.SUMO_VCLASS[cls]
    turns = demand.turnaround_links(net, params.drop_turnaround_routes)
    own = candidates
    if req.class_routes and demand.other_permissions(net, vclass):
        own = demand.candidate_sets(
            net_file, out, req.seed, params.candidate_trips, vclass, params.drop_one_edge_routes, ways(vclass), turns
        )
    edges = [c.edge for c in counters if not c.to_edge]
    every = [*own.entries, *own.anywhere]
    cover_file = out / f"candidates_{vclass}_cover.rou.xml"
    cut = demand.window_counts(edgedata) if params.cover_routes_cut else None
    cover = demand.covering_routes(
        net, every, edges, vclass, cover_file, drop_one_edge=params.drop_one_edge_routes, counts=cut
    )
    if cover is not None:  # they start at the entries
        own = demand.Candidates((*own.entries, cover), (*own.anywhere, cover))
    routes = out / f"routes_{cls}.rou.xml"
    aggregate_s = params.sampler_interval_s if params.sampler_interval_s != params.interval_s else 0.0
    how = demand.Sampling(req.seed, params.minimize_vehicles, params.route_min_counts, aggregate_s)
    files = demand.sample_class(own, edgedata, routes, cls, how, params.entries_first)
    if not params.spread_routes:
        return files
    pool = list(dict.fromkeys([*own.entries, *own.anywhere]))
    return [demand.spread_equivalent_routes(f, pool, edgedata, req.seed, net, vclass) for f in files]


def permit_cars(
    req: ReplayRequest,
    params: ReplayConfig,
    net: sumolib.net.Net,
    car_counters: list[demand.EdgeCounter],
    counts: tuple[list[demand.EdgeCounter], Mapping[str, np.ndarray], float, int, Mapping[str, float]],
    edgedata: Path,
    sources: list[Path],
) -> tuple[Path, list[Path]]:
    """The cars counted on streets closed to cars (`counts`: their counters, from
    demand.restricted_counters, the loop counts, begin, intervals and lags as write_edgedata
    takes them): routes through those streets, for the vClass they admit (demand.permit_vclass),
    made by demand.covering_routes and sampled by routeSampler against every car count at once
    (more of them on an ordinary street would overshoot it). Returns the car counts those routes
    leave (demand.subtract_routes) for the passenger cars, and the permit vTypes and routes (none
    when no such street counts a car: `edgedata` itself then)."""
    restricted, loop_counts, begin, n_iv, lags = counts
    out = edgedata.parent
    path = out / "counts_car_permit.xml"
    demand.write_edgedata(path, [*car_counters, *restricted], loop_counts, "car", begin, params.interval_s, n_iv, lags)
    window = demand.window_counts(path)
    edges = [c.edge for c in restricted if window.get(c.edge, 0) > 0]
    if not edges:
        return edgedata, []
    vclass = demand.permit_vclass(net, edges)
    cover_file = out / "candidates_car_permit_cover.rou.xml"
    cut = window if params.cover_routes_cut else None
    cover = demand.covering_routes(
        net, [], edges, vclass, cover_file, per_edge=3, drop_one_edge=params.drop_one_edge_routes, counts=cut
    )
    if cover is None:
        return edgedata, []
    aggregate_s = params.sampler_interval_s if params.sampler_interval_s != params.interval_s else 0.0
    how = demand.Sampling(req.seed, params.minimize_vehicles, params.route_min_counts, aggregate_s)
    routes = out / "routes_car_permit.rou.xml"
    demand.sample_routes_cached([cover], path, routes, "car", how, "car_permit_", demand.PERMIT_VTYPE)
    rest = out / "counts_car_rest.xml"
    demand.subtract_routes(edgedata, routes, rest, aggregate_s)
    _progress(f"demand: cars on {len(edges)} streets closed to cars, as vClass {vclass}")
    return rest, [demand.write_permit_vtypes(out / "vtypes_permit.rou.xml", sources, vclass), routes]


DEMAND_TAGS = frozenset({"vehicle", "flow", "trip", "person", "personFlow", "container", "containerFlow"})


def demand_free(additional: list[str]) -> list[str]:
    """The recorded scenario's additional files that exist and define no demand (vehicles,
    flows, trips, persons, containers): signal programs, loops, stops and vTypes stay, while a
    route file given as an additional one (pasubio's buses) would run its vehicles on top of the
    rebuilt demand, which already holds them."""
    out = []
    for a in additional:
        if not Path(a).is_file():
            continue
        try:
            if any(el.tag in DEMAND_TAGS for _ev, el in ET.iterparse(a)):
                log.info("replay: %s left out (it defines vehicles; the rebuilt demand replaces them)", a)
                continue
        except ET.ParseError as exc:
            log.warning("replay: %s not read (%s); kept as it is", a, exc)
        out.append(a)
    return out


def write_sumocfg(
    path: Path, net_file: Path, routes: list[Path], additional: list[str], begin_s: float, end_s: float
) -> Path:
    """The scenario's sumocfg; `additional`: the recorded scenario's additional files (only the
    demand-free ones are named, demand_free). Files are named by absolute path: SUMO reads a
    relative one from the sumocfg's folder, not from where `replay --out` was given."""
    root = ET.Element("configuration")
    inp = ET.SubElement(root, "input")
    ET.SubElement(inp, "net-file", value=str(Path(net_file).resolve()))
    ET.SubElement(inp, "route-files", value=",".join(str(Path(r).resolve()) for r in routes))
    adds = demand_free(additional)
    if adds:
        ET.SubElement(inp, "additional-files", value=",".join(str(Path(a).resolve()) for a in adds))
    t = ET.SubElement(root, "time")
    ET.SubElement(t, "begin", value=f"{begin_s:.0f}")
    ET.SubElement(t, "end", value=f"{end_s:.0f}")
    ET.indent(root)
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def start_run(
    req: ReplayRequest, policy: str, sumocfg: Path, site: Path, window: Window, additional: list[str], record: bool
) -> subprocess.Popen[bytes]:
    """One run in its own process: `simulate` for a policy, sim.replay_recorded for the plans in
    force; `record`: its feeds go to OUT/<policy>/archive (the calibration run)."""
    out = req.out_dir / policy
    out.mkdir(parents=True, exist_ok=True)
    adds = [*demand_free(additional), str(edgedata_additional(out / "edgedata.add.xml"))]
    sumo = ["--", "--seed", str(req.seed), "--additional-files", ",".join(adds)]
    common = ["--out", str(out), "--intersections", str(site / "meta" / "intersections")]
    if policy == RECORDED:
        cmd = [
            sys.executable,
            "-m",
            "sim.replay_recorded",
            str(sumocfg),
            *common,
            "--archive",
            str(site),
            "--from",
            repr(window.start_s),
            "--to",
            repr(window.to_s),
            "--offset",
            repr(window.offset_s),
        ]
    else:
        cmd = simulate_command(sumocfg, out, policy, config=req.config, options=common[2:])
    if record:
        cmd += ["--record", str(out / "archive")]
    if req.config and policy == RECORDED:
        cmd += ["--config", req.config]
    with open(out / "run.log", "w") as log_file:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            cmd + sumo, stdout=log_file, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent
        )


def run_replay(req: ReplayRequest, cfg: Config) -> ReplayResult:
    """Rebuild the window, run every policy, compare counts, write OUT/report.html."""
    from sim.replay_report import write_report

    site = site_root(req.archive)
    meta = read_meta(site)
    if not (site / "meta" / "intersections").is_dir():
        raise AdapterError(f"archive {site}: no meta/intersections (the junction models of the recording)")
    policies, calibration = policy_names(req, meta.get("policy"))
    extent = read_archive(site, "detectors").select(["t_s", "period_s"])
    window = resolve_window(req, extent, cfg.replay)
    req.out_dir.mkdir(parents=True, exist_ok=True)
    _progress(f"window [{window.from_s:.0f}, {window.to_s:.0f}) s of {site}, replayed from {window.start_s:.0f} s")
    sumocfg, info = build_scenario(req, cfg, site, meta, window)
    _progress(f"scenario {sumocfg}: {json.dumps(info)}")
    result = ReplayResult(sumocfg, window, demand=info)
    additional = scenario_additional(meta, req.out_dir)
    t0 = time.monotonic()
    procs = {}
    shown = Progress("replay runs", len(policies), 1, write=lambda line: _progress(line.split("] ", 1)[-1]))
    for k, policy in enumerate(policies):  # two at a time: the machine's cores
        procs[policy] = start_run(req, policy, sumocfg, site, window, additional, record=policy == calibration)
        if len([p for p in procs.values() if p.poll() is None]) >= 2 or k == len(policies) - 1:
            for name, p in procs.items():
                if p.wait() != 0:
                    shown.close()
                    raise AdapterError(f"replay run {name} failed: see {req.out_dir / name / 'run.log'}")
            shown.update(len(procs), lambda: f"runs done: {', '.join(procs)} ({time.monotonic() - t0:.0f} s)")
    shown.close()
    for policy in policies:
        result.summaries.append(json.loads((req.out_dir / policy / "summary.json").read_text()))
    recorded = read_archive(site, "detectors", window.from_s, window.to_s)
    rebuilt = read_archive(site_root(req.out_dir / calibration / "archive"), "detectors")
    rebuilt = rebuilt.set_column(
        rebuilt.schema.get_field_index("t_s"), "t_s", pa.compute.add(rebuilt["t_s"], window.offset_s)
    )
    junctions = load_intersections(site / "meta" / "intersections")
    result.geh = compare_counts(recorded, rebuilt, window.from_s, window.to_s, count_sites(junctions))
    (req.out_dir / "geh.json").write_text(json.dumps(result.geh.as_dict(), indent=1))
    w = result.window
    write_report(
        req.out_dir,
        result.summaries,
        policies,
        junctions,
        result.geh,
        f"Calibration run: {calibration}. Replay of [{w.from_s:.0f}, {w.to_s:.0f}) s of {site}, "
        f"simulated from {w.start_s:.0f} s "
        f"(scenario clock = recording - "
        f"{w.offset_s:.0f} s). Scenario: {result.scenario}. Demand: {json.dumps(result.demand)}.",
    )
    return result

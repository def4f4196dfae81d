"""Traffic benchmark: every policy against fixed-time, Webster and SUMO's own adaptive controllers.

    python -m sim.bench [--scenario city] [--seeds 3] [--policies max_pressure,adaptive]
                        [--jobs 2] [--out runs/bench] [--record]

Each (policy, seed) is one `run_controller.py simulate SCENARIO --policy P -- --seed N` in its
own process (libsumo runs one simulation per process), `--jobs` at a time: the same closed loop
as the live service (feed validation, estimation, policy, safety gate, roadside controllers).
SUMO's `actuated` and `delay_based` run as the network's own controllers, `fixed` is the
network's program. Every run also writes SUMO edge data (`edgedata.xml`, 15-minute bins), from
which the benchmark derives the per-junction figures; the controller never sees them.

A run in which a junction's decision raised (summary.json's `junction_control` counts
`failed_ticks`: the core left that junction on its own program) is named under the tables, its
policy's row is marked "(a decision raised)", and the command exits 1, as for a run that failed.

Reported, as medians over the seeds (the evaluation convention of sim/evaluate.py):

- network: delay (s/veh), speed (km/h), throughput (arrived veh/h), each policy's decision
  cost per junction per tick (wall-clock of the core's step: estimation + policy + gate);
- per junction, in the peak hour (the hour with the most stop-line crossings under fixed-time):
  vehicles over the stop lines per hour at the most loaded junctions, and which of them are
  oversaturated under fixed-time (the vehicles present on one of its approaches rise by at least
  `--oversat-growth-veh` during the peak hour: demand above what is served);
- per junction, over the run: delay (time loss on the approach links per vehicle crossing),
  and the worst ratio to fixed-time.

`--record` writes the tables and the command into BENCHMARKS.md, replacing that scenario's
previous section.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from controller.model import Intersection

ROOT = Path(__file__).resolve().parent.parent
# begin_s -> edge -> {left, entered, timeLoss, waitingTime, sampledSeconds} (read_edgedata)
EdgeData = dict[float, dict[str, dict[str, float]]]
# bin begin_s -> crossed, time_loss_s, waiting_s, sampled_s and on:EDGE of one junction's approaches (junction_bins)
Bins = dict[float, dict[str, float]]


class RunData(TypedDict):
    """One run as collect reads it: its summary.json, its junctions' bins."""

    summary: dict[str, Any]
    bins: dict[str, Bins]


Data = dict[str, dict[int, RunData]]  # policy -> seed -> its run (collect)
SCENARIOS = ROOT / "sim" / "scenarios"
FIELD = ("actuated", "delay_based")


def default_policies() -> list[str]:
    from controller.core.policies import REGISTRY

    return [p for p in REGISTRY if p != "fixed"]


def scenario_config(name: str) -> Path:
    p = Path(name)
    if p.suffix == ".sumocfg" or p.is_file():  # any SUMO configuration file: run.sumo.cfg too
        return p.resolve()
    cfg = SCENARIOS / name / f"{name}.sumocfg"
    if not cfg.is_file():
        raise SystemExit(f"error: no scenario {name!r} (looked for {cfg})")
    return cfg


@dataclass(frozen=True)
class Run:
    policy: str
    seed: int
    out: Path


def _bench_additional(out: Path, bin_s: float) -> Path:
    root = ET.Element("additional")
    ET.SubElement(root, "edgeData", id="bench", period=f"{bin_s:g}", file="edgedata.xml")
    path = out / "bench.add.xml"
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def _command(cfg: Path, run: Run, config: str | None, bin_s: float, end_s: float | None = None) -> list[str]:
    from sim.commands import simulate_command
    from sim.sumo import SumoConfig

    run.out.mkdir(parents=True, exist_ok=True)
    additional = [str(p) for p in SumoConfig(cfg).files("additional-files")]
    additional.append(str(_bench_additional(run.out, bin_s)))
    sumo_args = ["--seed", str(run.seed), "--additional-files", ",".join(additional)]
    sumo_args += ["--end", f"{end_s:g}"] if end_s is not None else []
    return simulate_command(cfg, run.out, run.policy, config=config, sumo_args=sumo_args)


def run_processes(jobs: list[tuple[str, list[str], Path]], parallel: int) -> list[int]:
    """Run (label, command, log file) jobs, `parallel` at a time, from the project root; each
    ending is printed with its label. Returns the indices of the jobs that failed."""
    pending, failed = list(enumerate(jobs)), []
    # job index, label, its process, its log, started (perf_counter)
    active: list[tuple[int, str, subprocess.Popen[bytes], IO[str], float]] = []
    while pending or active:
        while pending and len(active) < parallel:
            k, (label, cmd, log_path) = pending.pop(0)
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "w")  # noqa: SIM115 - closed when its process ends, below
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            active.append((k, label, proc, log, time.perf_counter()))
        time.sleep(0.5)
        for item in list(active):
            k, label, proc, ended_log, t0 = item
            if proc.poll() is None:
                continue
            active.remove(item)
            ended_log.close()
            status = "ok" if proc.returncode == 0 else f"FAILED ({proc.returncode})"
            print(f"  {label}: {status} in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            if proc.returncode != 0:
                failed.append(k)
    return sorted(failed)


def run_all(
    cfg: Path, runs: list[Run], jobs: int, config: str | None, bin_s: float, end_s: float | None = None
) -> list[Run]:
    """Run everything, `jobs` processes at a time; returns the runs that failed."""
    todo = [
        (f"{r.policy:<12} seed {r.seed}", _command(cfg, r, config, bin_s, end_s), r.out.parent / f"{r.out.name}.log")
        for r in runs
    ]
    return [runs[k] for k in run_processes(todo, jobs)]


# -- per-junction figures from SUMO edge data ------------------------------------------------


def approach_edges(net_file: Path, junctions: Mapping[str, Intersection]) -> dict[str, dict[str, list[str]]]:
    """Per junction, per incoming stop-line edge: that edge and the edges upstream of it back to
    the previous signalised junction (through unsignalised nodes such as lane-pocket splits)."""
    from sim.netimport import read_net

    net = read_net(net_file)
    tls_nodes = set()
    for tl in net.getTrafficLights():
        for conn in tl.getConnections():
            tls_nodes.add(conn[0].getEdge().getToNode().getID())
    out: dict[str, dict[str, list[str]]] = {}
    for jid, j in junctions.items():
        chains = {}
        for edge_id in sorted({m.from_edge for m in j.movements}):
            chain, edge = [edge_id], net.getEdge(edge_id)
            node = edge.getFromNode()
            while node.getID() not in tls_nodes and len(node.getIncoming()) == 1 and len(chain) < 10:
                edge = node.getIncoming()[0]
                if edge.getID() in chain:
                    break
                chain.append(edge.getID())
                node = edge.getFromNode()
            chains[edge_id] = chain
        out[jid] = chains
    return out


def read_edgedata(path: Path) -> EdgeData:
    """begin_s -> edge -> {left, entered, timeLoss, waitingTime, sampledSeconds}."""
    out: EdgeData = {}
    for _, el in ET.iterparse(path, events=("end",)):
        if el.tag != "interval":
            continue
        edges: dict[str, dict[str, float]] = {}
        for e in el.findall("edge"):
            edges[e.get("id")] = {
                k: float(e.get(k, 0.0)) for k in ("left", "entered", "timeLoss", "waitingTime", "sampledSeconds")
            }
        out[float(el.get("begin"))] = edges
        el.clear()
    return out


def junction_bins(edgedata: EdgeData, chains: dict[str, dict[str, list[str]]]) -> dict[str, Bins]:
    """junction -> bin begin -> crossings, time loss, waiting and sampled seconds on its approaches."""
    out: dict[str, Bins] = {}
    for jid, by_edge in chains.items():
        per: Bins = {}
        for b, edges in edgedata.items():
            z = {"crossed": 0.0, "time_loss_s": 0.0, "waiting_s": 0.0, "sampled_s": 0.0}
            for stop_edge, chain in by_edge.items():
                z["crossed"] += edges.get(stop_edge, {}).get("left", 0.0)
                z[f"on:{stop_edge}"] = 0.0  # vehicle-seconds on this approach
                for e in chain:
                    d = edges.get(e)
                    if d:
                        z["time_loss_s"] += d["timeLoss"]
                        z["waiting_s"] += d["waitingTime"]
                        z["sampled_s"] += d["sampledSeconds"]
                        z[f"on:{stop_edge}"] += d["sampledSeconds"]
            per[b] = z
        out[jid] = per
    return out


def peak_window(bins_by_junction: dict[str, dict[float, dict[str, float]]], bin_s: float) -> tuple[float, float]:
    """The hour (whole bins) with the most crossings over all junctions."""
    totals: dict[float, float] = defaultdict(float)
    for per in bins_by_junction.values():
        for b, z in per.items():
            totals[b] += z["crossed"]
    starts = sorted(totals)
    n = max(1, round(3600.0 / bin_s))
    best, best_sum = starts[0] if starts else 0.0, -1.0
    for i in range(max(1, len(starts) - n + 1)):
        s = sum(totals[b] for b in starts[i : i + n])
        if s > best_sum:
            best, best_sum = starts[i], s
    return best, best + n * bin_s


def window(per: Bins, lo: float, hi: float) -> dict[str, float]:
    z: dict[str, float] = defaultdict(float)
    for b, d in per.items():
        if lo <= b < hi:
            for k, v in d.items():
                z[k] += v
    return z


# -- report ------------------------------------------------------------------------------------


def med(xs: list[float | None]) -> float:
    known = [x for x in xs if x is not None]
    return statistics.median(known) if known else float("nan")


def collect(runs: list[Run], chains: dict[str, dict[str, list[str]]]) -> Data:
    """policy -> seed -> {summary, bins}."""
    data: Data = defaultdict(dict)
    for r in runs:
        summary_path, ed = r.out / "summary.json", r.out / "edgedata.xml"
        if not summary_path.is_file() or not ed.is_file():
            continue
        data[r.policy][r.seed] = {
            "summary": json.loads(summary_path.read_text()),
            "bins": junction_bins(read_edgedata(ed), chains),
        }
    return data


def decisions_failed(data: Data) -> list[str]:
    """The runs in which a junction's decision raised (summary.json's junction_control counts
    `failed_ticks`: the core left it on its own program those ticks, controller/core/step.py), one
    line each: `policy/seedN: J (T ticks from t s: reason), ...`. Such a run finished, but its
    figures are not the policy's: a bug, to be reported (docs/operators.md)."""
    out = []
    for policy, by_seed in data.items():
        for seed, run in sorted(by_seed.items()):
            control = run["summary"].get("junction_control") or {}
            failing = [(j, c) for j, c in sorted(control.items()) if c.get("failed_ticks")]
            if failing:
                named = ", ".join(
                    f"{j} ({c['failed_ticks']} ticks from {c.get('failed_first_t_s', float('nan')):g} s: "
                    f"{c.get('failed_reason', '?')})"
                    for j, c in failing
                )
                out.append(f"{policy}/seed{seed}: {named}")
    return out


def _raised(runs: dict[int, RunData]) -> bool:
    """A run of these (seed -> {summary, ...}) in which a junction's decision raised (decisions_failed)."""
    return any(
        c.get("failed_ticks") for run in runs.values() for c in (run["summary"].get("junction_control") or {}).values()
    )


def queue_growth_veh(per: Bins, lo: float, hi: float, bin_s: float) -> float:
    """Largest rise, over the junction's approaches, of the vehicles present on the approach from
    the bin before the peak hour to the fullest bin within it: demand above what is served."""
    best = 0.0
    before = per.get(lo - bin_s)
    if before is None:
        return 0.0
    for key in (k for k in before if k.startswith("on:")):
        peak = max((z.get(key, 0.0) for b, z in per.items() if lo <= b < hi), default=0.0)
        best = max(best, (peak - before[key]) / bin_s)
    return best


def report(
    data: Data,
    policies: list[str],
    bin_s: float,
    top: int,
    oversat_growth_veh: float,
    scenario: str,
    seeds: list[int],
    command: str,
) -> str:
    base = "fixed" if "fixed" in data else next(iter(data))
    any_seed = next(iter(data[base].values()))
    # Peak hour: per seed, from the baseline's crossings; the median seed's window.
    lo, hi = peak_window(any_seed["bins"], bin_s)
    figures = junction_figures(data, base, sorted(any_seed["bins"]), (lo, hi), bin_s, oversat_growth_veh)
    loaded = sorted(figures.junctions, key=lambda j: -figures.peak[base][j])[:top]
    order = [p for p in ["fixed", "webster", *policies, *FIELD] if p in data]
    order = list(dict.fromkeys(order + [p for p in data if p not in order]))
    oversat = figures.oversat
    lines = [
        f"### Scenario `{scenario}` — seeds {', '.join(map(str, seeds))}",
        "",
        f"    {command}",
        "",
        "Network (medians over seeds). Decision cost: core step (estimation + policy + gate) per junction "
        "per tick, wall-clock.",
        "",
        "| policy | delay s/veh | speed km/h | arrived veh/h | delay × fixed | delay × best SUMO | "
        "speed Δ km/h | oversat. peak thru × fixed | junctions > 1.1× fixed delay (worst) | "
        "cost µs/junction/tick |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *network_rows(data, order, base, figures),
        "",
        f"Peak hour {lo:.0f}–{hi:.0f} s (most crossings under {base}). Oversaturated under {base} "
        f"(vehicles on an approach rise by ≥ {oversat_growth_veh:g} during the peak hour): "
        f"{', '.join(oversat) if oversat else 'none'}.",
        "",
        f"Peak-hour stop-line crossings (veh/h) at the {len(loaded)} most loaded junctions "
        f"(ratio to {base} in brackets):",
        "",
        "| junction | " + " | ".join(order) + " |",
        "|---|" + "---:|" * len(order),
    ]
    for j in loaded:
        mark = " (oversat.)" if j in oversat else ""
        cells = [
            f"{figures.peak[p][j]:.0f}"
            if p == base
            else f"{figures.peak[p][j]:.0f} ({figures.peak[p][j] / max(figures.peak[base][j], 1e-9):.2f})"
            for p in order
        ]
        lines.append(f"| {j}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class JunctionFigures:
    """Per policy and junction, medians over the seeds: the peak hour's stop-line crossings
    (`peak`, veh/h) and the mean delay of the vehicles that crossed (`delay_s`, s/veh, whole
    run); the junctions whose queues grow by `oversat_growth_veh` or more during the peak hour
    under the baseline (`oversat`)."""

    junctions: list[str]
    peak: dict[str, dict[str, float]]
    delay_s: dict[str, dict[str, float]]
    oversat: list[str]


def junction_figures(
    data: Data, base: str, junctions: list[str], peak_s: tuple[float, float], bin_s: float, oversat_growth_veh: float
) -> JunctionFigures:
    """The per-junction figures of `data` (report's), `peak_s` the peak hour (from, to) in s."""
    lo, hi = peak_s

    def per_junction(policy: str, fn: Callable[[Bins], float]) -> dict[str, float]:
        return {j: med([fn(run["bins"][j]) for run in data[policy].values()]) for j in junctions}

    def delay_s(z: dict[str, float]) -> float:
        return z["time_loss_s"] / z["crossed"] if z["crossed"] else 0.0

    peak = {p: per_junction(p, lambda per: window(per, lo, hi)["crossed"] * 3600.0 / (hi - lo)) for p in data}
    jdelay = {p: per_junction(p, lambda per: delay_s(window(per, float("-inf"), float("inf")))) for p in data}
    oversat = [
        j
        for j in junctions
        if med([queue_growth_veh(run["bins"][j], lo, hi, bin_s) for run in data[base].values()]) >= oversat_growth_veh
    ]
    return JunctionFigures(junctions, peak, jdelay, oversat)


def network_rows(data: Data, order: list[str], base: str, figures: JunctionFigures) -> list[str]:
    """report's network table, a row per policy in `order`: medians over the seeds, ratios to
    `base` and to the best of SUMO's own actuated controllers (FIELD)."""

    def net(p: str, key: str) -> float:
        return med([run["summary"].get(key) for run in data[p].values()])

    def cost(p: str) -> float:
        return med([run["summary"].get("decision_cost", {}).get("us_per_junction_tick") for run in data[p].values()])

    b_delay, b_speed = net(base, "delay_s"), net(base, "speed_kmh")
    field_best = min((net(p, "delay_s") for p in FIELD if p in data), default=float("nan"))
    jdelay, peak, oversat = figures.delay_s, figures.peak, figures.oversat
    rows = []
    for p in order:
        d, s = net(p, "delay_s"), net(p, "speed_kmh")
        ratios = {j: jdelay[p][j] / jdelay[base][j] for j in figures.junctions if jdelay[base][j] > 0}
        worse = [j for j, r in ratios.items() if r > 1.1]
        worst = max(ratios.items(), key=lambda kv: kv[1]) if ratios else ("-", float("nan"))
        thru = (sum(peak[p][j] for j in oversat) / sum(peak[base][j] for j in oversat)) if oversat else float("nan")
        c = cost(p)
        shown = f"{p} (a decision raised)" if _raised(data[p]) else p  # decisions_failed names them
        rows.append(
            f"| {shown} | {d:.1f} | {s:.2f} | {net(p, 'throughput_veh_h'):.0f} | {d / b_delay:.2f} | "
            f"{d / field_best:.2f} | {s - b_speed:+.2f} | {thru:.2f} | {len(worse)} ({worst[0]} "
            f"{worst[1]:.2f}) | {'-' if c != c or p in FIELD or p == 'fixed' else f'{c:.0f}'} |"
        )
    return rows


def record(text: str, scenario: str, path: Path = ROOT / "BENCHMARKS.md") -> None:
    start, end = f"<!-- bench:{scenario} -->", f"<!-- /bench:{scenario} -->"
    block = f"{start}\n{text}{end}\n"
    old = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end) + 1 :]
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new, encoding="utf-8")


def decision_scale(
    junctions: Mapping[str, Intersection], n: int, policies: list[str], ticks: int, config: str | None
) -> str:
    """Core step cost on `n` junctions (the scenario's, replicated) fed synthetic detector
    messages and roadside statuses: can the policy keep 1 Hz for a city of n junctions?"""
    import numpy as np

    from controller.config import load_config
    from controller.core.estimation import Layout
    from controller.core.policies import make_policy
    from controller.core.step import Core
    from controller.model import DetectorReading, SignalStatus, Snapshot

    cfg = load_config(config if config else ROOT / "config.toml")
    base = list(junctions.values())
    layouts = {}
    for k in range(n):
        j = base[k % len(base)]
        jid = f"{j.id}#{k}"
        layouts[jid] = Layout.build(replace(j, id=jid, upstream=(), downstream=()), cfg)
    rng = np.random.default_rng(1)
    lines = [
        f"Decision cost on {n} junctions ({len(base)} of the scenario, replicated), {ticks} ticks of "
        "synthetic feed, one core:",
        "",
        "| policy | ms per tick | µs per junction per tick |",
        "|---|---:|---:|",
    ]
    for name in policies:
        core = Core(layouts, make_policy(name, cfg), cfg)
        state = core.initial_state(0.0)
        phase = dict.fromkeys(layouts, 0)
        spent = 0.0
        for t in range(1, ticks + 1):
            snaps, stats = [], []
            for jid, lay in layouts.items():
                counts = rng.random(len(lay.det_index)) < 0.25
                snaps.append(
                    Snapshot(
                        jid,
                        float(t),
                        1.0,
                        tuple(
                            DetectorReading(d, (("car", 1),) if c else (), 0.3 if c else 0.0, 10.0 if c else -1.0)
                            for d, c in zip(lay.det_index, counts)
                        ),
                    )
                )
                if t % 30 == 0:
                    phase[jid] = (phase[jid] + 1) % len(lay.junction.phases)
                stats.append(SignalStatus(jid, float(t), phase[jid], False, float(t % 30), "p", 0, "adaptive"))
            t0 = time.perf_counter()
            state, _ = core.step(state, snaps, stats, float(t))
            spent += time.perf_counter() - t0
        per_tick = spent / ticks
        lines.append(f"| {name} | {per_tick * 1e3:.0f} | {per_tick / n * 1e6:.0f} |")
    return "\n".join(lines) + "\n"


def get_options(args: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default="city", help="bundled scenario name or a .sumocfg (default: city)")
    p.add_argument("--seeds", type=int, default=3, help="SUMO seeds 1..N (default: 3)")
    p.add_argument(
        "--policies",
        default=None,
        help="controller policies, comma-separated (default: every registered one); fixed, "
        "actuated and delay_based always run",
    )
    p.add_argument("--jobs", type=int, default=2, help="simulations in parallel (default: 2)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: out/bench/<scenario>)")
    p.add_argument("--config", default=None, help="config.toml for the controller (default: ./config.toml)")
    p.add_argument("--bin-s", type=float, default=900.0, help="edge-data aggregation period (default: 900)")
    p.add_argument("--top", type=int, default=6, help="most loaded junctions listed (default: 6)")
    p.add_argument(
        "--oversat-growth-veh",
        type=float,
        default=6.0,
        help="rise of the vehicles on an approach during the peak hour under fixed time that marks "
        "its junction oversaturated (default: 6)",
    )
    p.add_argument(
        "--end-s",
        type=float,
        default=None,
        metavar="T",
        help="stop every run at simulated time T (SUMO --end): a gridlocked run would otherwise never "
        "end; vehicles still on the network count as they stand (default: run until all arrived)",
    )
    p.add_argument(
        "--single-seed",
        default="",
        metavar="P1,P2",
        help="policies run on seed 1 only (their rows are that seed, not a median) to save time",
    )
    p.add_argument("--reuse", action="store_true", help="keep finished runs in --out instead of re-running them")
    p.add_argument("--record", action="store_true", help="write the tables into BENCHMARKS.md")
    p.add_argument(
        "--decision-scale",
        type=int,
        default=0,
        metavar="N",
        help="instead of simulating: time the core step of each policy on N junctions "
        "(the scenario's, replicated) with a synthetic feed",
    )
    p.add_argument("--ticks", type=int, default=60, help="ticks for --decision-scale (default: 60)")
    return p.parse_args(args)


def main(argv: list[str] | None = None) -> int:
    opts = get_options(argv)
    from controller.config import load_config
    from controller.junctions import load_intersections
    from sim.netimport import import_net
    from sim.sumo import SumoConfig

    cfg_path = scenario_config(opts.scenario)
    # A scenario's name: its config's stem, or its folder when the config is a generic run.sumocfg.
    name = cfg_path.parent.name if cfg_path.stem == "run" else cfg_path.stem
    policies = [p for p in (opts.policies.split(",") if opts.policies else default_policies()) if p]
    if opts.decision_scale:
        jdir = (opts.out or ROOT / "out" / "bench" / name) / "_junctions"
        scfg = SumoConfig(cfg_path)
        import_net(
            scfg.net_file, jdir, load_config(opts.config or ROOT / "config.toml"), scfg.files("additional-files")
        )
        print(decision_scale(load_intersections(jdir), opts.decision_scale, policies, opts.ticks, opts.config))
        return 0
    everything = list(dict.fromkeys(["fixed", *policies, *FIELD]))
    out = opts.out or ROOT / "out" / "bench" / name
    seeds = list(range(1, opts.seeds + 1))
    single = set(opts.single_seed.split(",")) if opts.single_seed else set()
    runs = [Run(p, s, out / p / f"seed{s}") for p in everything for s in (seeds[:1] if p in single else seeds)]

    def done(r: Run) -> bool:
        return (r.out / "summary.json").is_file() and (r.out / "edgedata.xml").is_file()

    todo = [r for r in runs if not (opts.reuse and done(r))]
    print(f"bench {name}: {len(todo)} runs ({len(runs) - len(todo)} reused), {opts.jobs} at a time", file=sys.stderr)
    failed = run_all(cfg_path, todo, max(1, opts.jobs), opts.config, opts.bin_s, opts.end_s)

    net_file = SumoConfig(cfg_path).net_file
    jdir = out / "_junctions"
    import_net(
        net_file,
        jdir,
        load_config(opts.config if opts.config else (ROOT / "config.toml")),
        SumoConfig(cfg_path).files("additional-files"),
    )
    chains = approach_edges(net_file, load_intersections(jdir))
    data = collect(runs, chains)
    if not data.get("fixed"):
        print("error: the fixed-time baseline did not run", file=sys.stderr)
        return 1
    shown = [a if " " not in a else repr(a) for a in (argv if argv is not None else sys.argv[1:])]
    command = " ".join(["python -m sim.bench", *[a for a in shown if a not in ("--record", "--reuse")]])
    text = report(data, policies, opts.bin_s, opts.top, opts.oversat_growth_veh, name, seeds, command)
    if failed:
        text += "\nFailed runs: " + ", ".join(f"{r.policy}/seed{r.seed}" for r in failed) + "\n"
    raised = decisions_failed(data)
    if raised:  # the run went on with those junctions on their own program: its figures are not the policy's
        text += "\nA junction's decision raised (left on its own program: a bug) in:\n" + "".join(
            f"- {line}\n" for line in raised
        )
        print(f"error: a junction's decision raised in {len(raised)} run(s): see the table", file=sys.stderr)
    print(text)
    if opts.record:
        record(text, name)
    return 1 if failed or raised else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())

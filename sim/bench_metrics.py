"""Benchmark of the online figures: what the Grafana overview shows against SUMO's truth.

    python -m sim.bench_metrics [--scenarios city,spider,irregular] [--policies adaptive]
                                [--duration-s 1800] [--seed 1] [--jobs 2] [--out out/bench_metrics]
                                [--reuse]

For each scenario, `fixed` and each policy run once on the same seed (`run_controller.py simulate
SCENARIO --policy P -- --end BEGIN+DURATION --seed N`, `--jobs` at a time). Each run's
summary.json holds both sides:

- SUMO's truth (sim/evaluate.py): delay (s/veh, timeLoss + departDelay of every vehicle), speed
  (km/h, route length / duration of arrived vehicles), throughput (arrived veh/h); the gains are
  those of two real runs on the same seed: delay gain = 1 − delay_policy / delay_fixed,
  throughput gain = arrived_policy / arrived_fixed − 1;
- SUMO's truth on the online figures' own ground (lane data of the junction models' approach
  lanes, loops' feeding lanes included): space-mean speed on them (distance / vehicle-seconds)
  and their time loss per stop-line crossing — so that an error splits into what the estimator
  gets wrong and what the definitions differ by;
- the online figures the controller computed from the detector feed only (summary["online_gains"]
  ["run"], controller/adapters/metrics.py; docs/metrics.md defines them): approach (journey)
  speed, the loop spot speed it replaced, measured delay per trip, vehicles leaving the
  controlled network per hour, the shadow's delay gain and the throughput gain (n/a while the
  fixed-time plan is estimated to serve the whole demand).

A scenario is a bundled name (sim/scenarios/NAME/NAME.sumocfg) or a path to a .sumocfg; one in a
read-only folder (../shared/networks) is run from a copy of its folder under --out. The table
goes to stdout; record it with the command in docs/metrics.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.commands import simulate_command

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "sim" / "scenarios"


@dataclass(frozen=True)
class Run:
    scenario: str
    policy: str
    cfg: Path
    out: Path


def scenario_config(name: str, out: Path) -> Path:
    """The .sumocfg of a bundled scenario name or a path; a scenario outside this repository is
    copied (its whole folder) under `out` first, so its folder stays untouched."""
    p = Path(name)
    if p.suffix != ".sumocfg" and not p.is_file():  # any SUMO configuration file: run.sumo.cfg too
        cfg = SCENARIOS / name / f"{name}.sumocfg"
        if not cfg.is_file():
            raise SystemExit(f"error: no scenario {name!r} (looked for {cfg})")
        return cfg
    p = p.resolve()
    if not p.is_file():
        raise SystemExit(f"error: no such file {p}")
    if ROOT in p.parents:
        return p
    copy = out / "_scenarios" / label(name)
    if not copy.is_dir():
        shutil.copytree(p.parent, copy)
    return copy / p.name


def label(name: str) -> str:
    """Short name of a scenario for the table: the bundled name, else the sumocfg's folder."""
    p = Path(name)
    return p.parent.name if p.suffix == ".sumocfg" else name


def begin_s(cfg: Path) -> float:
    """The scenario's begin time (SUMO's default 0 when the config sets none)."""
    node = ET.parse(cfg).getroot().find("./time/begin")
    return float(node.get("value", 0.0)) if node is not None else 0.0


def lane_data_file(out: Path) -> Path:
    """An additional file asking SUMO for lane data (one row per lane and 300 s)."""
    root = ET.Element("additional")
    ET.SubElement(root, "laneData", id="truth", period="300", file="lanedata.xml", excludeEmpty="true")
    path = out / "truth.add.xml"
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def command(run: Run, seed: int, duration_s: float | None, config: str | None) -> list[str]:
    from sim.sumo import SumoConfig

    additional = [str(p) for p in SumoConfig(run.cfg).files("additional-files")] + [str(lane_data_file(run.out))]
    sumo_args = ["--seed", str(seed), "--additional-files", ",".join(additional)]
    if duration_s is not None:
        sumo_args += ["--end", f"{begin_s(run.cfg) + duration_s:g}"]
    return simulate_command(run.cfg, run.out, run.policy, config=config, sumo_args=sumo_args)


def run_all(runs: list[Run], jobs: int, seed: int, duration_s: float | None, config: str | None) -> list[Run]:
    """Run everything, `jobs` processes at a time (sim.bench's pool); returns the runs that failed."""
    from sim.bench import run_processes

    todo = []
    for r in runs:
        r.out.mkdir(parents=True, exist_ok=True)
        todo.append(
            (
                f"{r.scenario:<10} {r.policy:<12}",
                command(r, seed, duration_s, config),
                r.out.parent / f"{r.out.name}.log",
            )
        )
    return [runs[k] for k in run_processes(todo, jobs)]


def error_pct(online: float | None, truth: float | None) -> float | None:
    if online is None or truth is None or truth == 0:
        return None
    return (online / truth - 1.0) * 100.0


def crossings(summary: dict[str, Any]) -> float:
    """SUMO's stop-line crossings of all junctions over the run (vehicles)."""
    veh_h = sum(float(j["veh_h"]) for j in summary.get("junctions", {}).values())
    return veh_h * float(summary["duration_s"]) / 3600.0


def delay_per_passage_s(summary: dict[str, Any]) -> float | None:
    """SUMO's delay (timeLoss + departDelay of every vehicle) per stop-line crossing: the truth on
    the online measured delay's basis (per junction passed, not per trip)."""
    v = summary["vehicles"]
    n = crossings(summary)
    return summary["delay_s"] * (v["inserted"] + v.get("waiting", 0)) / n if n > 0 else None


def approach_lanes(intersections: Path) -> set[str]:
    """The lanes the junction models watch: every movement lane with its loops' feeding lanes."""
    lanes: set[str] = set()
    for path in intersections.glob("*.toml"):
        raw = tomllib.loads(path.read_text())
        for m in raw.get("movements", []):
            lanes.update(m.get("lanes", []))
        lanes.update(d["at_lane"] for d in raw.get("detectors", []) if d.get("at_lane"))
    return lanes


def approach_truth(out: Path, summary: dict[str, Any]) -> dict[str, float | None]:
    """SUMO's lane data summed over the approach lanes: space-mean speed (km/h) and time loss per
    stop-line crossing (s); {} without lane data."""
    path, lanes = out / "lanedata.xml", approach_lanes(out / "intersections")
    if not path.is_file() or not lanes:
        return {}
    seconds = distance = loss = 0.0
    for _, el in ET.iterparse(path):
        if el.tag == "lane" and el.get("id") in lanes:
            t = float(el.get("sampledSeconds", 0.0))
            seconds += t
            distance += float(el.get("speed", 0.0)) * t
            loss += float(el.get("timeLoss", 0.0))
        if el.tag == "interval":
            el.clear()
    n = crossings(summary)
    return {"speed_kmh": distance / seconds * 3.6 if seconds > 0 else None, "delay_s": loss / n if n > 0 else None}


def compare(
    summary: dict[str, Any], fixed: dict[str, Any], lane_truth: dict[str, float | None] | None = None
) -> dict[str, float | None]:
    """One row: SUMO's truth and the online run figures of one run, with the gains of the pair
    (policy run, fixed run) on the same seed."""
    on = summary.get("online_gains", {}).get("run", {})
    on_fixed = fixed.get("online_gains", {}).get("run", {})
    truth_dg = 1.0 - summary["delay_s"] / fixed["delay_s"] if fixed["delay_s"] > 0 else None
    truth_tg = summary["throughput_veh_h"] / fixed["throughput_veh_h"] - 1.0 if fixed["throughput_veh_h"] else None
    d, d_fixed = on.get("measured_delay_s"), on_fixed.get("measured_delay_s")
    lane_truth = lane_truth or {}
    return {
        "speed": summary["speed_kmh"],
        "speed_on": on.get("speed_kmh"),
        "speed_loop": on.get("loop_speed_kmh"),
        "speed_app": lane_truth.get("speed_kmh"),
        "delay_app": lane_truth.get("delay_s"),
        "delay": summary["delay_s"],
        "delay_pass": delay_per_passage_s(summary),
        "delay_on": d,
        "arrived": summary["throughput_veh_h"],
        "cross": crossings(summary) * 3600.0 / summary["duration_s"] if summary["duration_s"] else None,
        "cross_on": on.get("crossings_veh_h"),
        "dgain": truth_dg,
        "dgain_on": on.get("delay_gain"),
        "dgain_meas": 1.0 - d / d_fixed if d is not None and d_fixed else None,
        "tgain": truth_tg,
        "tgain_on": on.get("throughput_gain"),
    }


def _f(value: float | None, fmt: str, none: str = "-") -> str:
    return none if value is None else fmt.format(value)


def _err(online: float | None, truth: float | None, fmt: str) -> str:
    return f"{_f(online, fmt)} ({_f(error_pct(online, truth), '{:+.0f} %')})"


HEAD = (
    "| scenario | policy | speed km/h SUMO trips | SUMO approaches | online (err trips, approaches) "
    "| loop spot speed (err trips) | delay s/veh SUMO | SUMO s/passage all | SUMO s/passage approaches "
    "| online s/passage (err all, approaches) | crossings/h SUMO | online (err) | arrived/h SUMO "
    "| delay gain SUMO | shadow online | measured online | thru gain SUMO | online |"
)


def _err2(online: float | None, a: float | None, b: float | None, fmt: str) -> str:
    def e(truth: float | None) -> str:
        return _f(error_pct(online, truth), "{:+.0f} %")

    return f"{_f(online, fmt)} ({e(a)}, {e(b)})"


def table(rows: list[tuple[str, str, dict[str, float | None]]]) -> str:
    out = [HEAD, "|" + "---|" * 2 + "---:|" * (HEAD.count("|") - 3)]
    for scen, pol, r in rows:
        cells = [
            scen,
            pol,
            _f(r["speed"], "{:.1f}"),
            _f(r["speed_app"], "{:.1f}"),
            _err2(r["speed_on"], r["speed"], r["speed_app"], "{:.1f}"),
            _err(r["speed_loop"], r["speed"], "{:.1f}"),
            _f(r["delay"], "{:.1f}"),
            _f(r["delay_pass"], "{:.1f}"),
            _f(r["delay_app"], "{:.1f}"),
            _err2(r["delay_on"], r["delay_pass"], r["delay_app"], "{:.1f}"),
            _f(r["cross"], "{:.0f}"),
            _err(r["cross_on"], r["cross"], "{:.0f}"),
            _f(r["arrived"], "{:.0f}"),
            _f(r["dgain"], "{:+.1%}"),
            _f(r["dgain_on"], "{:+.1%}"),
            _f(r["dgain_meas"], "{:+.1%}"),
            _f(r["tgain"], "{:+.1%}"),
            _f(r["tgain_on"], "{:+.1%}", "n/a"),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def get_options(args: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sim.bench_metrics", description=__doc__.split("\n")[0])
    p.add_argument(
        "--scenarios",
        default="city,spider,irregular",
        help="bundled names or .sumocfg paths, comma-separated (default: city,spider,irregular)",
    )
    p.add_argument("--policies", default="adaptive", help="policies compared with fixed (default: adaptive)")
    p.add_argument(
        "--duration-s",
        type=float,
        default=1800.0,
        help="simulated seconds from the scenario's begin (default: 1800; 0: the scenario's own end)",
    )
    p.add_argument("--seed", type=int, default=1, help="SUMO seed, the same for every run (default: 1)")
    p.add_argument("--jobs", type=int, default=2, help="simulations in parallel (default: 2)")
    p.add_argument("--out", type=Path, default=ROOT / "out" / "bench_metrics", help="run folder")
    p.add_argument("--config", default=None, help="config.toml for the controller (default: ./config.toml)")
    p.add_argument("--reuse", action="store_true", help="keep finished runs in --out instead of re-running them")
    return p.parse_args(args)


def main(argv: list[str] | None = None) -> int:
    opts = get_options(argv)
    policies = [p for p in opts.policies.split(",") if p and p != "fixed"]
    duration = opts.duration_s if opts.duration_s > 0 else None
    runs: list[Run] = []
    for name in [s for s in opts.scenarios.split(",") if s]:
        cfg = scenario_config(name, opts.out)
        runs += [Run(label(name), p, cfg, opts.out / label(name) / p) for p in ["fixed", *policies]]
    todo = [r for r in runs if not (opts.reuse and (r.out / "summary.json").is_file())]
    print(f"bench_metrics: {len(todo)} runs ({len(runs) - len(todo)} reused), {opts.jobs} at a time", file=sys.stderr)
    failed = run_all(todo, max(1, opts.jobs), opts.seed, duration, opts.config)
    summaries = {
        (r.scenario, r.policy): json.loads((r.out / "summary.json").read_text())
        for r in runs
        if r not in failed and (r.out / "summary.json").is_file()
    }
    rows = []
    for r in runs:
        fixed = summaries.get((r.scenario, "fixed"))
        if (r.scenario, r.policy) in summaries and fixed is not None:
            summary = summaries[(r.scenario, r.policy)]
            rows.append((r.scenario, r.policy, compare(summary, fixed, approach_truth(r.out, summary))))
    span = f"{duration:g} s from each scenario's begin" if duration else "each scenario's full length"
    print(f"Online figures (run means) against SUMO's truth; seed {opts.seed}, {span}.\n")
    print(table(rows))
    if failed:
        print("\nFailed runs: " + ", ".join(f"{r.scenario}/{r.policy} (log: {r.out}.log)" for r in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

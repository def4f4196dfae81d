"""The `simulate` and `validate` commands (argument handling and printing only)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from controller.adapters.metrics import MetricsServer
from controller.config import Config
from controller.junctions import load_intersections
from sim.baselines import FIELD_POLICIES
from sim.commands import simulate_command
from sim.report import gains_table
from sim.simulate import SimulateRequest, run
from sim.sumo import SumoConfig, additional_files, canonical_args, take_option


def simulate(args: argparse.Namespace, cfg: Config) -> int:
    req = SimulateRequest(
        sumocfg=args.sumocfg,
        out_dir=args.out,
        policy=args.policy,
        sumo_args=args.sumo_args,
        intersections=args.intersections,
        prefer_libsumo=not args.traci,
        detectors=getattr(args, "detectors", "generated"),
        record=getattr(args, "record", None),
        import_cache=getattr(args, "import_cache", True),
    )
    port = getattr(args, "metrics_port", None)
    # the metrics' registry, when served; else none: nothing collects them, only their run report is read
    registry = CollectorRegistry() if port is not None else None
    # a policy that sends plans: in a second process with [service] simulate_second_process, not with the
    # validation twin (it runs in the tick, in process: sim/simulate.py _twin)
    apart = cfg.service.simulate_second_process and not cfg.validation.enabled
    server = MetricsServer(registry, port, cfg.metrics.addr) if registry is not None and port is not None else None
    try:
        if server is not None:
            print(f"metrics (simulated time) at {server.url}", file=sys.stderr, flush=True)
        if args.via_mqtt:
            from sim.mqtt_run import run_via_mqtt

            alone = apart and server is None and req.record is None  # nothing reads the controller during the run
            summary = run_via_mqtt(req, cfg, registry=registry, controller_process=alone)
        elif server is None and req.record is None and (req.policy in ("fixed", *FIELD_POLICIES) or apart):
            # nothing reads the service during the run: it runs in a second process, whose work off
            # the plans' path (all of it under the city's own programs) overlaps SUMO's step
            from sim.service_process import ServiceProcessLoop  # multiprocessing: not for a run in process

            summary = run(req, cfg, registry=registry, loop_factory=ServiceProcessLoop)
        else:
            summary = run(req, cfg, registry=registry)
        print(format_table([summary]))
        print()
        print(gains_table([summary]), flush=True)
        linger_s = getattr(args, "metrics_linger_s", 0.0)
        if server is not None and linger_s > 0:
            print(f"metrics still served at {server.url} for {linger_s:g} s", file=sys.stderr, flush=True)
            time.sleep(linger_s)
    finally:
        if server is not None:
            server.close()
    return 0


def format_table(summaries: list[dict[str, Any]], baseline: dict[str, Any] | None = None) -> str:
    """Policy comparison: delay, speed, throughput, and ratios to the baseline when given."""
    head = (
        f"{'policy':<14}{'delay s/veh':>12}{'speed km/h':>12}{'arrived/h':>11}"
        f"{'arrived':>9}{'running':>9}{'waiting':>9}"
    )
    if baseline:
        head += f"{'delay ×':>9}{'speed Δ':>9}{'thru ×':>8}"
    lines = [head, "-" * len(head)]
    for s in summaries:
        v = s["vehicles"]
        row = (
            f"{s['policy']:<14}{s['delay_s']:>12.1f}{s['speed_kmh']:>12.2f}{s['throughput_veh_h']:>11.0f}"
            f"{v['arrived']:>9}{v['running']:>9}{v['waiting']:>9}"
        )
        if baseline:
            row += (
                f"{s['delay_s'] / max(baseline['delay_s'], 1e-9):>9.2f}"
                f"{s['speed_kmh'] - baseline['speed_kmh']:>+9.2f}"
                f"{s['throughput_veh_h'] / max(baseline['throughput_veh_h'], 1e-9):>8.2f}"
            )
        lines.append(row)
    return "\n".join(lines)


def run_in_subprocess(
    sumocfg: Path,
    out: Path,
    policy: str,
    sumo_args: tuple[str, ...] = (),
    config: str | None = None,
    extra: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """libsumo allows one simulation per process: each run gets its own."""
    cmd = simulate_command(sumocfg, out, policy, config=config, options=extra, sumo_args=sumo_args)
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL)


def with_edgedata(sumocfg: Path, sumo_args: tuple[str, ...], out: Path) -> tuple[str, ...]:
    """The user's SUMO arguments plus the report's edgeData file, added to the additional files
    SUMO would load (the config's, then the user's `--additional-files`)."""
    from sim.replay_report import edgedata_additional  # matplotlib: only for the commands that plot

    listed, user = take_option(canonical_args(sumo_args), "--additional-files")
    adds = additional_files(SumoConfig(sumocfg), listed)
    out.mkdir(parents=True, exist_ok=True)
    adds.append(str(edgedata_additional(out / "edgedata.add.xml")))
    return (*user, "--additional-files", ",".join(adds))


def validate(args: argparse.Namespace, cfg: Config) -> int:
    from sim.replay_report import write_report

    runs = {}
    for name in dict.fromkeys([args.baseline, args.policy]):
        runs[name] = run_in_subprocess(
            args.sumocfg,
            args.out / name,
            name,
            with_edgedata(args.sumocfg, args.sumo_args, args.out / name),
            config=args.config,
        )
    failed = [n for n, p in runs.items() if p.wait() != 0]
    if failed:
        print(f"error: simulation failed for {', '.join(failed)}", file=sys.stderr)
        return 1
    summaries = {n: json.loads((args.out / n / "summary.json").read_text()) for n in runs}
    print(format_table(list(summaries.values()), baseline=summaries[args.baseline]))
    names = list(runs)
    report = write_report(
        args.out,
        list(summaries.values()),
        names,
        load_intersections(args.out / names[-1] / "intersections"),
        intro=f"validate {args.sumocfg}: {args.policy} against {args.baseline}.",
    )
    print(f"report: {report}")
    return 0


def replay(args: argparse.Namespace, cfg: Config) -> int:
    """`replay ARCHIVE`: rebuild the window in SUMO and run the policies (sim/replay.py)."""
    from sim.replay import ReplayRequest, run_replay

    req = ReplayRequest(
        archive=args.archive,
        out_dir=args.out,
        t_from=args.t_from,
        t_to=args.t_to,
        policies=tuple(args.policy or ()),
        net=args.net,
        seed=args.seed,
    )
    result = run_replay(req, cfg)
    print(format_table(result.summaries, baseline=result.summaries[0] if result.summaries else None))
    if result.geh is not None:
        print(
            f"GEH < 5: {result.geh.hourly_share:.0%} of hourly loop counts ({result.geh.hourly_n}), "
            f"{result.geh.quarter_share:.0%} of 15-min counts ({result.geh.quarter_n})"
        )
    print(f"report: {args.out / 'report.html'}")
    return 0

#!/usr/bin/env python3
"""Command line of the traffic-signal control service. Parses, loads, wires; no logic here.

run_controller.py run [--config config.toml] [--region NAME]
run_controller.py simulate SUMOCFG --out DIR [--policy NAME] [--via-mqtt] [-- SUMO ARGS...]
run_controller.py import-net NET.xml|SUMOCFG --out intersections/NAME/ [--additional A.xml,B.xml] [--detectors city]
run_controller.py validate SUMOCFG --policy NAME [--baseline fixed] --out DIR [-- SUMO ARGS...]
run_controller.py replay ARCHIVE [--from T] [--to T] --out DIR [--policy NAME ...] [--net NET]
run_controller.py field SUMOCFG [--out DIR] [--speed X] [--broker HOST:PORT] [--credentials DIR]
run_controller.py broker-setup --out DIR [--operators a,b] [--monitors m] [--tls-cert C --tls-key K --tls-ca CA]
run_controller.py ctl status|override|release ...   (docs/operators.md)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from sim.passthrough import split_sumo_args


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run_controller.py", description=__doc__.split("\n")[0])
    p.add_argument("--config", default="config.toml", help="configuration file (default: config.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="the live service over MQTT")
    r.add_argument("--config", dest="config_run", default=None, help="configuration file")
    r.add_argument(
        "--region", default=None, metavar="NAME", help="run one region of [regions] (docs/deployment.md, Sharding)"
    )
    from controller import ctl, liveopts

    liveopts.add_options(r, speed=True)
    liveopts.add_field_parser(sub)
    liveopts.add_broker_setup_parser(sub)
    ctl.add_parser(sub)

    _add_simulate(sub)
    _add_replay(sub)
    _add_import_net(sub)
    _add_validate(sub)
    return p


def _add_simulate(sub: Any) -> None:
    s = sub.add_parser(
        "simulate",
        help="run a SUMO scenario in closed loop and evaluate it",
        description="Run a SUMO scenario in closed loop and evaluate it. Arguments after `--` go to SUMO "
        "(--additional-files adds to the scenario's files; README.md).",
    )
    s.add_argument("sumocfg", type=Path, help="the scenario's SUMO configuration (.sumocfg)")
    s.add_argument("--out", type=Path, required=True, help="output folder")
    s.add_argument("--policy", default="fixed", help="control policy (default: fixed)")
    s.add_argument(
        "--intersections",
        type=Path,
        default=None,
        help="folder of junction TOMLs (default: imported from the scenario's network)",
    )
    s.add_argument("--via-mqtt", action="store_true", help="run controller and field through a Mosquitto broker")
    s.add_argument("--traci", action="store_true", help="use traci even when libsumo is available")
    s.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve the controller's Prometheus metrics (in simulated time) on PORT; 0: any free port",
    )
    s.add_argument(
        "--metrics-linger-s",
        type=float,
        default=0.0,
        metavar="S",
        help="keep serving the metrics this long after the run (for a last scrape)",
    )
    s.add_argument(
        "--detectors",
        choices=("generated", "city"),
        default="generated",
        help="loops of the imported junctions: generated (a stop-line and an advance loop per lane, "
        "the default) or city (the scenario's own induction loops)",
    )
    s.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="DIR",
        help="record the controller's feeds and plans into the archive DIR (docs/replay.md)",
    )
    s.add_argument(
        "--no-import-cache",
        dest="import_cache",
        action="store_false",
        help="import the network's junctions even when the import cache holds them (docs/import.md)",
    )


def _add_replay(sub: Any) -> None:
    rp = sub.add_parser("replay", help="rebuild a recorded window in SUMO and run policies on it (docs/replay.md)")
    rp.add_argument("archive", type=Path, help="archive folder (a site's, or a root with one site)")
    rp.add_argument(
        "--from",
        dest="t_from",
        default=None,
        metavar="T",
        help="window start: seconds of the recording's clock or an ISO date-time (UTC)",
    )
    rp.add_argument("--to", dest="t_to", default=None, metavar="T", help="window end (exclusive), same forms")
    rp.add_argument("--out", type=Path, required=True, help="output folder")
    rp.add_argument(
        "--policy",
        action="append",
        default=None,
        metavar="NAME",
        help="a policy to run on the window (repeatable); the recorded plans always run",
    )
    rp.add_argument(
        "--net", type=Path, default=None, help="SUMO network (default: the one the recording names in its meta.json)"
    )
    rp.add_argument("--seed", type=int, default=1, help="seed of the route sampling and of SUMO")


def _add_import_net(sub: Any) -> None:
    i = sub.add_parser("import-net", help="write one TOML per signalised junction of a SUMO network")
    i.add_argument(
        "net",
        type=Path,
        help="the SUMO network (.net.xml), or a scenario's configuration (.sumocfg): its network, additional "
        "files and begin, as simulate imports them",
    )
    i.add_argument("--out", type=Path, required=True, help="folder of the junction TOMLs (written)")
    i.add_argument(
        "--additional",
        default="",
        metavar="A.xml,B.xml",
        help="additional files SUMO loads with the net, in order: their signal programs replace "
        "the net's (the last loaded runs), their induction loops are the city's",
    )
    i.add_argument(
        "--detectors",
        choices=("generated", "city"),
        default="generated",
        help="generated loops (default) or the city's own loops from the additional files",
    )


def _add_validate(sub: Any) -> None:
    v = sub.add_parser(
        "validate",
        help="compare a policy with a baseline on a SUMO scenario",
        description="Compare a policy with a baseline on a SUMO scenario (DIR/report.html). Arguments after "
        "`--` go to SUMO in both runs.",
    )
    v.add_argument("sumocfg", type=Path, help="the scenario's SUMO configuration (.sumocfg)")
    v.add_argument("--policy", required=True, help="the policy judged")
    v.add_argument("--baseline", default="fixed", help="the policy it is compared with (default: fixed)")
    v.add_argument("--out", type=Path, required=True, help="output folder (a run per policy, the report)")


# the commands whose process ends at once when they return (`exit_now`)
EXIT_AT_ONCE = frozenset({"simulate"})


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (sys.argv's when None); its exit code."""
    return run(argv)[0]


def run(argv: list[str] | None = None) -> tuple[int, str]:
    """Run the command line `argv` (sys.argv's when None): its exit code and the command it ran."""
    argv, sumo_args = split_sumo_args(argv)  # everything after `--` belongs to SUMO, unchanged
    args = build_parser().parse_args(argv)
    args.sumo_args = sumo_args
    return _dispatch(args), args.command


def _dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command: its exit code (2 for an error the service names, 130 when interrupted)."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    from controller.config import load_config
    from controller.errors import TscError

    config_path = getattr(args, "config_run", None) or args.config
    try:
        check_out(getattr(args, "out", None))
        cfg = load_config(config_path if Path(config_path).exists() or config_path != "config.toml" else None)
        if args.command == "import-net":
            from sim.importnet import import_net

            return import_net(args, cfg)
        if args.command == "simulate":
            from sim import cli

            return cli.simulate(args, cfg)
        if args.command == "validate":
            from sim import cli

            return cli.validate(args, cfg)
        if args.command == "replay":
            from sim import cli

            return cli.replay(args, cfg)
        if args.command == "run":
            from controller import live, liveopts

            return live.main(liveopts.apply(cfg, args, user=cfg.broker.username), region=args.region)
        if args.command in ("field", "broker-setup"):
            from sim import field_live

            return field_live.cli(args, cfg)
        if args.command == "ctl":
            from controller import ctl

            return ctl.main(args, cfg)
    except TscError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


def check_out(out: Path | None) -> None:
    """A command's `--out` folder can be made or written in, before anything runs: else a
    DefinitionError naming it (a file in its place was a FileExistsError traceback at the end of
    the import, before SUMO started)."""
    if out is None:
        return
    from controller.errors import DefinitionError

    there = Path(out)
    while not there.exists() and there != there.parent:  # the folder, or its nearest existing parent
        there = there.parent
    if not there.is_dir():
        raise DefinitionError(there, "--out", f"is a file, not a folder (--out {out})")
    if not os.access(there, os.W_OK | os.X_OK):
        raise DefinitionError(there, "--out", f"cannot be written in (--out {out})")


def one_blas_thread() -> None:
    """numpy's BLAS (the OpenBLAS of its wheel) starts a pool of threads, one per core, as numpy
    loads, and they spin a while waiting for work. The controller's passes give them none worth a
    thread: element-wise over arrays of a few hundred entries, and matrix products (spillback, the
    policies' passes) small enough that OpenBLAS runs them on one thread anyway (so the trips are the
    same either way), and the spin is CPU for nothing in every process that imports numpy (a
    `simulate` run, each region's process). Called before numpy loads; a user's own
    OPENBLAS_NUM_THREADS wins (BENCHMARKS.md, issue 12, S session 61; the matrix products: R's review)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def exit_now(code: int) -> None:
    """End the process with `code` without Python's finalisation. When `simulate` returns, its
    files are written and closed, its service process, broker and threads ended; what a normal
    exit adds is freeing every object, module and libsumo's network one by one (its cost:
    BENCHMARKS.md, issue 12, S session 29). The log handlers and the standard streams are flushed first. Not under a
    profiler or a tracer (cProfile, coverage): they write their results when Python finalises."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


if __name__ == "__main__":
    one_blas_thread()  # before numpy loads (build_parser imports it)
    code, command = run()
    if command in EXIT_AT_ONCE and sys.getprofile() is None and sys.gettrace() is None:
        exit_now(code)
    sys.exit(code)

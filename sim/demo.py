"""`make demo`: the bundled city, every policy in closed loop, and a comparison table.

    python -m sim.demo [--policies P1,P2,...] [--jobs 2] [--out out/demo] [-- SUMO ARGS]

By default: fixed-time, Webster, SUMO's actuated control and the service's own policy
(config.toml [service] policy); `--policies all` runs every registered policy.

Each policy runs in its own process (libsumo: one simulation per process), `--jobs` at a time;
their progress lines stream as they run. The service's own policy (config.toml service.policy)
goes through a private Mosquitto broker (`simulate --via-mqtt`), the others in-process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from controller.config import load_config
from sim.cli import format_table
from sim.commands import simulate_command
from sim.passthrough import split_sumo_args
from sim.report import gains_table
from sim.simulate import POLICIES

ROOT = Path(__file__).resolve().parent.parent
CITY = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
CITY_JUNCTIONS = ROOT / "intersections" / "city"


def main(argv: list[str] | None = None) -> int:
    argv, sumo_args = split_sumo_args(argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policies", default="", help="comma-separated, or 'all' (default: see above)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    ap.add_argument("--config", default=str(ROOT / "config.toml"))
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    if args.policies == "all":
        policies = list(POLICIES)
    elif args.policies:
        policies = [p for p in args.policies.split(",") if p]
    else:
        policies = list(dict.fromkeys(["fixed", "webster", "actuated", cfg.service.policy]))
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        print(f"error: unknown policies {unknown}; known: {', '.join(POLICIES)}", file=sys.stderr)
        return 2
    mqtt_policy = cfg.service.policy if _mqtt_available() else None
    print(
        f"city scenario: {CITY.relative_to(ROOT)}  junctions: {len(list(CITY_JUNCTIONS.glob('*.toml')))}"
        f"  policies: {', '.join(policies)}  (via MQTT: {mqtt_policy or 'none'})",
        flush=True,
    )
    queue = list(policies)
    running: dict[str, subprocess.Popen[bytes]] = {}
    failed = []
    t0 = time.perf_counter()
    while queue or running:
        while queue and len(running) < args.jobs:
            p = queue.pop(0)
            options = ["--intersections", str(CITY_JUNCTIONS), *(["--via-mqtt"] if p == mqtt_policy else [])]
            cmd = simulate_command(CITY, args.out / p, p, config=args.config, options=options, sumo_args=sumo_args)
            print(f"[demo] starting {p}", flush=True)
            # progress lines go to stderr, straight through to the terminal
            running[p] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd=ROOT)
        time.sleep(0.5)
        for p, proc in list(running.items()):
            if proc.poll() is not None:
                del running[p]
                if proc.returncode != 0:
                    failed.append(p)
                elapsed_s = time.perf_counter() - t0
                print(f"[demo] {p} finished (exit {proc.returncode}) after {elapsed_s:.0f} s", flush=True)
    summaries = [json.loads((args.out / p / "summary.json").read_text()) for p in policies if p not in failed]
    print(summary_text(summaries, args.out, " ".join(sumo_args), time.perf_counter() - t0))
    if failed:
        print(f"error: runs failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def summary_text(summaries: list[dict[str, Any]], out: Path, sumo_args: str, wall_s: float) -> str:
    """The end of the demo: SUMO's figures against fixed-time, the online ones, where the outputs are,
    and where to watch the online figures in Prometheus and Grafana (the demo starts neither)."""
    base = next((s for s in summaries if s["policy"] == "fixed"), None)
    horizon = sumo_args or "07:00–09:10 (demand 07:00–09:00, then 10 min to empty)"
    return "\n".join(
        [
            f"\nCity, {horizon} (SUMO's figures: delay = timeLoss + departDelay over all vehicles;"
            " ratios vs fixed-time):",
            format_table(summaries, baseline=base),
            "",
            gains_table(summaries),
            f"\noutputs in {out}/<policy>/ (tripinfo.xml, statistics.xml, summary.json); {wall_s:.0f} s of wall time",
            "Prometheus and Grafana: this demo starts neither. `make live` runs the service live with a Prometheus"
            " (it prints its address); grafana/README.md points a Grafana at it, dashboards in grafana/dashboards/.",
        ]
    )


def _mqtt_available() -> bool:
    """Mosquitto is installed by `make setup`; without it the demo still runs, in process."""
    from controller.errors import TscError
    from sim.broker import find_mosquitto

    try:
        find_mosquitto()
        return True
    except TscError as exc:
        print(f"[demo] no MQTT: {exc}", file=sys.stderr)
        return False


if __name__ == "__main__":
    sys.exit(main())

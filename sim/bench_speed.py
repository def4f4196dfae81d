"""Benchmark: `simulate --policy fixed` against plain `sumo` on the same scenario.

    python -m sim.bench_speed [--sumocfg sim/scenarios/city/city.sumocfg] [--runs 3] [--end 7800]

Prints a table of median wall times and ratios: plain sumo, plain sumo with the same induction
loops, and the closed loop (libsumo + field emulator + controller + evaluation). Runs are
interleaved so that a noisy neighbour hurts all of them alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sim.commands import simulate_command
from sim.sumo import sumo_binary

ROOT = Path(__file__).resolve().parent.parent


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sumocfg", type=Path, default=ROOT / "sim/scenarios/city/city.sumocfg")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--end", type=float, default=None, help="simulated seconds (default: the config's end)")
    args = ap.parse_args(argv)
    end = ["--end", f"{args.end:g}"] if args.end else []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        common = ["--time-to-teleport", "-1", "--no-step-log", "true", "--duration-log.disable", "true"]
        # One closed-loop run first: it writes the detector file the second variant reuses.
        closed = simulate_command(args.sumocfg, out / "closed", "fixed", sumo_args=end)
        _timed(closed)
        from sim.sumo import SumoConfig

        adds = ",".join([str(p) for p in SumoConfig(args.sumocfg).files("additional-files")]
                        + [str(out / "closed" / "detectors.add.xml")])
        variants = {
            "sumo (binary)": [sumo_binary(), "-c", str(args.sumocfg), *common, *end],
            "sumo + same loops": [sumo_binary(), "-c", str(args.sumocfg), "--additional-files", adds, *common, *end],
            "simulate --policy fixed": closed,
        }
        times: dict[str, list[float]] = {k: [] for k in variants}
        for i in range(args.runs):
            for name, cmd in variants.items():
                times[name].append(_timed(cmd))
            print(f"run {i + 1}/{args.runs}: " + "  ".join(f"{k}={v[-1]:.1f}s" for k, v in times.items()),
                  file=sys.stderr, flush=True)
    base = statistics.median(times["sumo (binary)"])
    print(f"\nscenario: {args.sumocfg}  runs: {args.runs}  end: {args.end or 'config'}")
    print("| variant | median wall s | runs | ratio to plain sumo |\n|---|---:|---:|---:|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.2f} | {', '.join(f'{t:.1f}' for t in ts)} | {med / base:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

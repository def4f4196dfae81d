"""Wall time of the policy twin (sim/twin_policy.py): a region of the spider network (every
junction, or the first N), the fixed programs against a policy, in closed loop over the horizon.

    .venv/bin/python -m sim.twin_policy_bench [--junctions N] [--horizon-s S] [--per-loop V] [--runs R]

Prints one row per run (scenario build, both closed-loop runs in parallel, the predicted delays)
and the medians. Counts: V vehicles (cars) per stop-line loop over a 300 s window, projected flat.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from controller.config import load_config
from controller.core.validation import PolicyChoice
from controller.junctions import load_intersections
from sim.netimport import import_network
from sim.twin_policy import PolicyTwinRequest, predict_policies

ROOT = Path(__file__).resolve().parents[1]
NET = ROOT / "sim" / "scenarios" / "spider" / "spider.net.xml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--junctions", type=int, default=0, help="the first N junctions (0: all 19)")
    ap.add_argument("--horizon-s", type=float, default=900.0)
    ap.add_argument("--per-loop", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--policy", default="max_pressure")
    args = ap.parse_args()
    cfg = load_config(ROOT / "config.toml")
    work = Path(tempfile.mkdtemp(prefix="twin_policy_bench_"))
    import_network(NET, work / "models", cfg)
    junctions = load_intersections(work / "models")
    region = tuple(junctions[j] for j in sorted(junctions))[: args.junctions or None]
    counts = {d.id: (args.per_loop, 0, 0, 0) for j in region for d in j.detectors if d.kind == "stop"}
    print(f"{len(region)} junctions, horizon {args.horizon_s:g} s, {args.per_loop} cars per stop loop per 300 s")
    print("run  build_s  runs_s  wall_s  fixed_veh_s  policy_veh_s  vehicles")
    rows = []
    for k in range(args.runs):
        t0 = time.monotonic()
        req = PolicyTwinRequest(
            str(NET),
            region,
            counts,
            300.0,
            {},
            PolicyChoice("fixed"),
            PolicyChoice(args.policy),
            cfg,
            str(work),
            horizon_s=args.horizon_s,
        )
        r = predict_policies(req)
        wall = time.monotonic() - t0
        rows.append((r.build_s, r.run_s, wall))
        print(
            f"{k:3d}  {r.build_s:7.1f}  {r.run_s:6.1f}  {wall:6.1f}  {r.incumbent.total_s:11.0f}  "
            f"{r.candidate.total_s:12.0f}  {r.vehicles_asked:8d}",
            flush=True,
        )
    med = [statistics.median(c) for c in zip(*rows)]
    print(f"median  {med[0]:5.1f}  {med[1]:6.1f}  {med[2]:6.1f}")


if __name__ == "__main__":
    main()

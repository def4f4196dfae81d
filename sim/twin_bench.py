"""Wall time of the validation twin (sim/twin.py): one incumbent and one candidate over a region.

    .venv/bin/python -m sim.twin_bench [--net sim/scenarios/city/city.net.xml] [--horizon 900]
        [--per-loop 20] [--runs 3] [--meso] [--gate] [--work out/twin_bench]

Every traffic light the importer can control is in the region; every stop-line loop counted
`--per-loop` cars (plus one bus and one truck) over the last 300 s; the candidate adds 5 s to
every green of the first junction. The first call also makes the network's candidate routes
(randomTrips, once per network and seed, kept in the work folder); each of the `--runs` calls
after it has counts of its own (per-loop + k), so its scenario is built anew, as a live
validation's is. `--gate` also times each call through the validation gate
(controller/validation.py: a spawned worker process running sim.twin.predict). Prints a table
(medians over the runs) and the JSON of every call. Wall times on a shared machine depend on its
load (printed); `cpu_s` (user + system, this process and the SUMO runs and worker it waited
for) does not: on two idle cores the two runs overlap, so the wall time is about the build's
plus half the runs' CPU.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import time
from pathlib import Path

from controller.config import load_config
from controller.core.validation import ValidationParams
from controller.junctions import load_intersections
from controller.model import CycleWish, Intersection
from controller.validation import ValidationGate
from sim.netimport import import_network
from sim.twin import TwinRequest, predict

ROOT = Path(__file__).resolve().parent.parent


def request(args: argparse.Namespace, js: dict[str, Intersection], per_loop: int) -> TwinRequest:
    counts = {d.id: (per_loop, 1, 1, 0) for j in js.values() for d in j.detectors if d.kind == "stop"}
    inc = {
        jid: CycleWish(tuple(p.index for p in j.phases), tuple(p.base_green_s for p in j.phases))
        for jid, j in js.items()
    }
    first = sorted(js)[0]
    cand = {first: CycleWish(inc[first].phase_order, tuple(g + 5.0 for g in inc[first].greens_s))}
    return TwinRequest(
        str(args.net),
        tuple(js.values()),
        counts,
        300.0,
        {},
        inc,
        cand,
        str(args.work),
        horizon_s=args.horizon,
        mesoscopic=args.meso,
    )


def cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its children reaped so far."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def one_call(args: argparse.Namespace, js: dict[str, Intersection], name: str, per_loop: int) -> dict[str, str | float]:
    req = request(args, js, per_loop)
    t0, c0 = time.monotonic(), cpu_s()
    r = predict(req)
    row: dict[str, str | float] = {
        "call": name,
        "total_s": round(time.monotonic() - t0, 2),
        "cpu_s": round(cpu_s() - c0, 2),
        "build_s": round(r.build_s, 2),
        "two_runs_s": round(r.run_s, 2),
        "vehicles": r.vehicles_asked,
        "delay_incumbent_veh_s": round(r.incumbent.total_s),
        "delay_candidate_veh_s": round(r.candidate.total_s),
    }
    if args.gate:
        first = js[sorted(js)[0]]
        gate = ValidationGate(ValidationParams(timeout_s=120.0), predict)
        t0, c0 = time.monotonic(), cpu_s()
        verdict = gate.validate(first, req.candidate[first.id], req.incumbent[first.id], req, "bench", 0.0)
        row["gate_s"] = round(time.monotonic() - t0, 2)
        row["gate_cpu_s"] = round(cpu_s() - c0, 2)
        row["gate_outcome"] = verdict.outcome
    return row


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", type=Path, default=ROOT / "sim" / "scenarios" / "city" / "city.net.xml")
    ap.add_argument("--horizon", type=float, default=900.0)
    ap.add_argument("--per-loop", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--meso", action="store_true", help="mesoscopic twin runs")
    ap.add_argument("--gate", action="store_true", help="also time each call through the validation gate")
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "twin_bench")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    models = args.work / f"intersections-{args.net.name.removesuffix('.net.xml')}"  # one folder per network:
    import_network(args.net, models, load_config(ROOT / "config.toml"))  # another's models must not mix in
    js = load_intersections(models)
    calls = [one_call(args, js, "first", args.per_loop)]
    calls += [one_call(args, js, f"new counts {k}", args.per_loop + k) for k in range(1, args.runs + 1)]
    keys = ["total_s", "cpu_s", "build_s", "two_runs_s"] + (["gate_s", "gate_cpu_s"] if args.gate else [])
    medians = {k: statistics.median(float(c[k]) for c in calls[1:]) for k in keys}  # the timings: floats
    out = {
        "net": str(args.net),
        "junctions": len(js),
        "horizon_s": args.horizon,
        "mesoscopic": args.meso,
        "load_1min_after": os.getloadavg()[0],
        "calls": calls,
        "median_new_counts": medians,
    }
    print(json.dumps(out, indent=1))
    print(f"| call | {' | '.join(keys)} |")
    print("|---|" + "---:|" * len(keys))
    for c in calls:
        print(f"| {c['call']} | {' | '.join(str(c[k]) for k in keys)} |")
    print(f"| median of new counts | {' | '.join(f'{medians[k]:.2f}' for k in keys)} |")
    return out


if __name__ == "__main__":
    main()

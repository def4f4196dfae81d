"""Wall time of the validation twin (sim/twin.py): one incumbent and one candidate over a region.

    .venv/bin/python -m sim.twin_bench [--net sim/scenarios/spider/spider.net.xml] [--horizon 900]
        [--per-loop 20] [--work out/twin_bench]

Every traffic light the importer can control is in the region; every stop-line loop counted
`--per-loop` cars (plus one bus and one truck) over the last 300 s; the candidate adds 5 s to
every green of the first junction. The twin is called twice: cold (scenario built: randomTrips,
routeSampler) and warm (the scenario reused, only the two SUMO runs).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from controller.config import load_config
from controller.junctions import load_intersections
from controller.model import CycleWish
from sim.netimport import import_network
from sim.twin import TwinRequest, predict

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", type=Path, default=ROOT / "sim" / "scenarios" / "spider" / "spider.net.xml")
    ap.add_argument("--horizon", type=float, default=900.0)
    ap.add_argument("--per-loop", type=int, default=20)
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "twin_bench")
    ap.add_argument("--meso", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    import_network(args.net, args.work / "intersections", load_config(ROOT / "config.toml"))
    js = load_intersections(args.work / "intersections")
    counts = {d.id: (args.per_loop, 1, 1, 0) for j in js.values() for d in j.detectors if d.kind == "stop"}
    inc = {
        jid: CycleWish(tuple(p.index for p in j.phases), tuple(p.base_green_s for p in j.phases))
        for jid, j in js.items()
    }
    first = sorted(js)[0]
    cand = {first: CycleWish(inc[first].phase_order, tuple(g + 5.0 for g in inc[first].greens_s))}
    out = {"net": str(args.net), "junctions": len(js), "horizon_s": args.horizon, "runs": []}
    for name in ("cold", "warm"):
        t0 = time.monotonic()
        r = predict(
            TwinRequest(
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
        )
        out["runs"].append(
            {
                "call": name,
                "total_s": round(time.monotonic() - t0, 2),
                "build_s": round(r.build_s, 2),
                "two_runs_s": round(r.run_s, 2),
                "vehicles": r.vehicles_asked,
                "delay_incumbent_veh_s": round(r.incumbent.total_s),
                "delay_candidate_veh_s": round(r.candidate.total_s),
            }
        )
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()

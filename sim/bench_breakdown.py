"""Benchmark: where the wall time of one in-process `simulate` run goes, stage by stage.

    python -m sim.bench_breakdown SUMOCFG [--policy fixed] [--out DIR] [-- SUMO ARGS...]

Runs `simulate` once with a timer around each stage of the closed loop (SUMO's step, the field
reading its loops and actuating, the service checking the feed, the core's estimator, do-no-harm
replay and decision, the metrics) and prints a table of seconds per stage, nested stages
indented under the one that contains them. Timers cost a few microseconds per call; use
bench_speed for the ratios to plain SUMO.
"""

from __future__ import annotations

import argparse
import collections
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGES = (  # (module, attribute, label): nested labels are indented
    ("libsumo", "simulationStep", "SUMO step (libsumo)"),
    ("sim.field:SumoField", "detector_frame", "field: read loops into a frame"),
    ("sim.field:SumoField", "actuate", "field: roadside controllers"),
    ("controller.service:ControllerService", "on_detector_frame", "service: check the frame"),
    ("controller.service:ControllerService", "on_status", "service: statuses"),
    ("controller.core.step:Core", "step", "core step (all junctions)"),
    ("controller.core.netestimate", "fold", "  estimator"),
    ("controller.core.netestimate", "readings_from_frame", "    frame -> network arrays"),
    ("controller.core.netestimate", "_lanes", "    lane update"),
    ("controller.core.netestimate", "_to_movements", "    per junction: borrowing, lanes -> movements"),
    ("controller.core.netshadow", "advance_all", "  do-no-harm replay"),
    ("controller.core.step:Core", "_junction", "  per junction: policy, gate, send"),
    ("controller.adapters.metrics:ServiceMetrics", "tick_done", "metrics (per tick)"),
    ("controller.adapters.metrics:ServiceMetrics", "_update_junction", "  junction gauges"),
    ("controller.adapters.metrics:ServiceMetrics", "_network", "  network figures"),
    ("sim.simulate", "prepare", "start: junction import, loops file"),
    ("sim.simulate", "evaluate", "end: evaluation"),
)


def _target(spec: str) -> Any:
    import importlib

    module, _, cls = spec.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, cls) if cls else obj


def _wrap(obj: Any, name: str, label: str, totals: collections.Counter[str]) -> None:
    f: Callable[..., Any] = getattr(obj, name)

    @functools.wraps(f)
    def timed(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            totals[label] += time.perf_counter() - t0

    setattr(obj, name, timed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sumocfg", type=Path)
    ap.add_argument("--policy", default="fixed")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    ap.add_argument("--config", type=Path, default=Path("config.toml"))
    args, sumo_args = ap.parse_known_args(argv)
    sumo_args = [a for a in sumo_args if a != "--"]
    from controller.config import load_config
    from sim.simulate import SimulateRequest, run

    totals: collections.Counter[str] = collections.Counter()
    for spec, name, label in STAGES:
        _wrap(_target(spec), name, label, totals)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        t0 = time.perf_counter()
        run(
            SimulateRequest(args.sumocfg, out, args.policy, tuple(sumo_args)),
            load_config(args.config),
            progress=lambda line: None,
        )
        total = time.perf_counter() - t0
    print(f"scenario: {args.sumocfg}  policy: {args.policy}  sumo args: {' '.join(sumo_args)}")
    print("| stage | wall s |\n|---|---:|")
    for _spec, _name, label in STAGES:
        print(f"| {label.replace('  ', '&nbsp;&nbsp;')} | {totals[label]:.2f} |")
    print(f"| whole run (after imports) | {total:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How often the virtual roadsides override or refuse the service's own plans on a scenario.

    python -m sim.roadside_overrides POLICY [--sumocfg sim/scenarios/city/city.sumocfg] [--end 1800]
        [--out /tmp/roadside_overrides]

Runs `simulate` in process and counts, over every junction, the roadside's hard-limit
overrides (sim/roadside.py: max green, max red) and its refusals of plans. Both should be 0:
the safety gate keeps the same limits, the roadside is the second line (docs/security.md).
Prints the counts, the first few cases, and the run's delay.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from unittest import mock

from controller.config import load_config
from sim import roadside
from sim.simulate import SimulateRequest, run

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.roadside_overrides", description=__doc__.split("\n")[0])
    p.add_argument("policy")
    p.add_argument("--sumocfg", type=Path, default=ROOT / "sim/scenarios/city/city.sumocfg")
    p.add_argument("--end", default="1800")
    p.add_argument("--out", type=Path, default=Path("/tmp/roadside_overrides"))
    p.add_argument("--config", type=Path, default=ROOT / "config.toml")
    a = p.parse_args(argv)
    counts: Counter[str] = Counter()
    cases: list[str] = []
    limit, refuse = roadside.RoadsideController._limit, roadside.RoadsideController._refuse

    def counted_limit(
        self: roadside.RoadsideController, what: str, now_s: float
    ) -> None:  # measurement: count, then do as before
        counts[what.split(":")[0]] += 1
        cases.append(f"{self.j.id} t={now_s:g} {what}")
        limit(self, what, now_s)

    def counted_refuse(self: roadside.RoadsideController, why: str) -> str:
        counts["refused"] += 1
        cases.append(f"{self.j.id} refused {why}")
        return refuse(self, why)

    with (
        mock.patch.object(roadside.RoadsideController, "_limit", counted_limit),
        mock.patch.object(roadside.RoadsideController, "_refuse", counted_refuse),
    ):
        summary = run(
            SimulateRequest(a.sumocfg, a.out / a.policy, policy=a.policy, sumo_args=("--end", a.end)),
            load_config(a.config),
        )
    print(
        f"{a.policy}: max green {counts['max green']}, max red {counts['max red']}, refused {counts['refused']}, "
        f"delay {summary['delay_s']:.2f} s/veh"
    )
    for c in cases[:5]:
        print("  " + c)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Build the "spider" generalisation scenario (seeded, byte-reproducible).

    python sim/scenarios/spider/build.py [--seed 7]

A netgenerate spider web (6 arms, 3 rings, 150 m apart, 2 lanes + a left-turn pocket), every
junction signalised by netconvert's own guess: a 6-phase centre, 4-phase ring junctions and
3-phase T-junctions on the outer ring. Random demand (randomTrips, most trips from and to the
fringe) with a one-hour peak in the middle of 50 minutes, 8 % trucks. Writes, next to this file:
spider.net.xml, spider.rou.xml, spider.sumocfg. Nothing here is tuned to any policy; what the
generalisation scenarios share (demand, sumocfg) is in sim/scenarios/common.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.scenarios.common import RandomScenario, main

SPIDER = RandomScenario(
    name="spider",
    default_seed=7,
    fringe_factor=10,
    netgenerate_args=(
        "--spider",
        "--spider.arm-number",
        "6",
        "--spider.circle-number",
        "3",
        "--spider.space-radius",
        "150",
        "--default.lanenumber",
        "2",
        "--turn-lanes",
        "1",
        "--turn-lanes.length",
        "40",
    ),
)

if __name__ == "__main__":
    sys.exit(main(SPIDER, Path(__file__).resolve().parent, __doc__.split("\n")[0]))

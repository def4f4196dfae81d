#!/usr/bin/env python3
"""Build the "irregular" generalisation scenario (seeded, byte-reproducible).

    python sim/scenarios/irregular/build.py [--seed 11]

A netgenerate random network (links of 120-300 m at odd angles, 2 lanes + a left-turn pocket),
every junction with three or more arms signalised by netconvert's own guess: T-junctions with
3 phases and 4-arm junctions with permitted-left stages followed by protected-left ones
(phases serving overlapping movements). Random origin-destination demand on such a network is
turn-heavy: most trips turn at most junctions. A peak in the middle of 50 minutes, 8 % trucks.
Writes irregular.net.xml, irregular.rou.xml, irregular.sumocfg next to this file. What the
generalisation scenarios share (demand, sumocfg) is in sim/scenarios/common.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.scenarios.common import RandomScenario, main

IRREGULAR = RandomScenario(
    name="irregular",
    default_seed=11,
    fringe_factor=3,
    netgenerate_args=(
        "--rand",
        "--rand.iterations",
        "60",
        "--rand.min-distance",
        "120",
        "--rand.max-distance",
        "300",
        "--rand.min-angle",
        "60",
        "--rand.neighbor-dist5",
        "2",
        "--rand.neighbor-dist6",
        "1",
        "--default.lanenumber",
        "2",
        "--turn-lanes",
        "1",
        "--turn-lanes.length",
        "30",
    ),
)

if __name__ == "__main__":
    sys.exit(main(IRREGULAR, Path(__file__).resolve().parent, __doc__.split("\n")[0]))

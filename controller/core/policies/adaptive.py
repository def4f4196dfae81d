"""`adaptive`: the default policy — the best measured of the others.

On the bundled city and on the generalisation networks (BENCHMARKS.md, `python -m sim.bench`),
acyclic max-pressure with switching loss (policies/max_pressure.py) had the lowest delay of the
policies here, at about 0.2 ms per junction per tick; `schedule` and `scats` did not beat it.
`adaptive` is therefore max-pressure under its own name, so that deployments keep saying
`policy = "adaptive"` while what it stands for follows the measurements.
"""

from __future__ import annotations

from controller.core.policies.max_pressure import MaxPressurePolicy


class AdaptivePolicy(MaxPressurePolicy):
    name = "adaptive"

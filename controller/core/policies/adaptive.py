"""`adaptive`: the default policy, max-pressure (policies/max_pressure.py) under its own name.

Deployments say `policy = "adaptive"`; what it stands for follows the benchmark (BENCHMARKS.md,
docs/policies.md: max-pressure had the lowest delay of the policies here). Its parameters are
config.toml [max_pressure].
"""

from __future__ import annotations

from controller.core.policies.max_pressure import MaxPressurePolicy


class AdaptivePolicy(MaxPressurePolicy):
    name = "adaptive"

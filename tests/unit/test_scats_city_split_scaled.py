"""`[scats] city_split_at_minimums` keeps the cycle's greens: the city's base greens are scaled to the sum of the
greens in force, not taken as they are (the rule: tests/unit/test_scats_city_split.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.core.estimation import Estimate
from controller.core.params import ScatsParams
from controller.core.policies.scats import ScatsPolicy
from tests.unit.test_scats_city_split import BASE, LAY, measured


def test_the_city_split_is_scaled_to_the_greens_in_force():
    """Greens 20 / 10 / 20 / 10 s (60 s; the city's 30 / 6 / 30 / 6 s make 72 s), every need its minimum: the
    splits move to the city's proportions within those 60 s (25 / 5 / 25 / 5 s), not to the city's own greens."""
    p = ScatsPolicy(ScatsParams(city_split_at_minimums=True))
    s = replace(p.init(LAY, 0.0), greens_s=(20.0, 10.0, 20.0, 10.0))
    for _ in range(6):
        s = p._adapt(measured(s, np.full(4, 0.2)), LAY, Estimate.empty(LAY, 0.0))
    np.testing.assert_allclose(s.greens_s, BASE * 60.0 / BASE.sum())

"""webster's spare green shared above the minimum greens (`[webster] spare_above_minimum`, off)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.core.estimation import Layout
from controller.core.policies.webster import reference_cycle_s, spare_shares, webster_greens
from tests.unit.test_webster_net import CFG, city


def left_stages():
    """The city's J00 with a 27 / 8 / 27 / 8 s program and 7 s minimums (netconvert's lefts with
    `--tls.left-green.time 8` and a red time: the left stages' city greens 1 s above their minimums)."""
    j = replace(city()["J00"], upstream=(), downstream=())
    base = [27.0, 8.0, 27.0, 8.0][: len(j.phases)] + [27.0] * max(len(j.phases) - 4, 0)
    phases = tuple(replace(p, base_green_s=b, min_green_s=7.0) for p, b in zip(j.phases, base, strict=True))
    return Layout.build(replace(j, phases=phases), CFG)


def test_no_need_above_the_minimums_gives_the_city_split_only_above_the_minimum():
    """Light counts (every need below the minimums), the city's cycle: above the minimums the plan is the
    city's own greens; with the base shares the short stages take green from the long ones."""
    lay = left_stages()
    q = np.full(len(lay.junction.movements), 1.0)  # 1 PCU/h a movement: no divided cycle can be refused it
    base = np.array([p.base_green_s for p in lay.junction.phases])
    cycle_s, greens = webster_greens(lay, q, 3.0, 0.9, True, fit_capacity=True, spare_above_minimum=True)
    assert cycle_s == pytest.approx(reference_cycle_s(lay))
    assert np.allclose(greens, base)
    _, greens_off = webster_greens(lay, q, 3.0, 0.9, True, fit_capacity=True)
    assert greens_off[1] > base[1] + 1.0 and greens_off[0] < base[0] - 1.0, greens_off


def test_the_shares_are_the_base_greens_above_the_minimums_or_the_base_shares():
    lay = left_stages()
    above = spare_shares(lay, True)
    assert above == pytest.approx(np.array([20.0, 1.0, 20.0, 1.0]) / 42.0)
    assert spare_shares(lay, False) == pytest.approx(np.array([27.0, 8.0, 27.0, 8.0]) / 70.0)
    at_min = Layout.build(
        replace(lay.junction, phases=tuple(replace(p, base_green_s=p.min_green_s) for p in lay.junction.phases)), CFG
    )
    assert spare_shares(at_min, True) == pytest.approx(spare_shares(at_min, False))  # none above: the base shares

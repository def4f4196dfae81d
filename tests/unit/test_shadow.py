"""The online gain estimate: same model both sides, so equal greens give zero gain."""

import numpy as np
import pytest

from controller.config import Config
from controller.core import shadow
from controller.core.estimation import Layout
from controller.model import SignalStatus
from tests.junction_fixtures import two_phase


def layout() -> Layout:
    return Layout.build(two_phase(), Config())


def test_delay_model_matches_webster_uniform_term_when_undersaturated():
    # C = 60 s, λ = 0.5, s = 1800, q = 360 -> x = 0.4; uniform = 60*0.25/(2*(1-0.2)) = 9.375 s
    d = shadow.movement_delay_s(np.array([360.0]), np.array([1800.0]), np.array([0.5]), np.array([60.0]), 0.25)
    incremental = 900 * 0.25 * ((0.4 - 1) + np.sqrt(0.36 + 4 * 0.4 / (900 * 0.25)))
    assert d[0] == pytest.approx(9.375 + incremental)


def test_no_gain_while_the_signal_runs_the_base_program():
    lay = layout()
    st = shadow.initial(lay, 0.0)
    g = shadow.gains(st, lay, np.array([500.0, 300.0, 500.0, 300.0]))
    assert g.delay_gain == pytest.approx(0.0) and g.throughput_gain == pytest.approx(0.0)


def test_giving_the_loaded_movements_more_green_shows_a_gain():
    lay = layout()
    st = shadow.initial(lay, 0.0)
    # base shares: phase 0 (N/S) 30 s, phase 1 (E/W) 25 s of a 65 s cycle; demand heavy on E/W
    q = np.array([200.0, 700.0, 200.0, 700.0])
    t = 0.0
    for _ in range(20):  # a 60 s cycle: 20 s N/S, 40 s E/W
        for phase, dur in ((0, 20), (1, 40)):
            for _ in range(dur):
                t += 1
                st = shadow.observe(st, lay, SignalStatus("J", t, phase, False, 0.0, "p", 1, "adaptive"), t, 900.0)
    g = shadow.gains(st, lay, q)
    assert g.delay_gain > 0.2
    assert g.throughput_controlled_pcu_h >= g.throughput_fixed_pcu_h
    assert st.cycle_s == pytest.approx(np.full(4, 60.0), rel=0.05)

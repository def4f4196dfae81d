"""webster: a divided cycle only after a lull that lasted (controller/core/policies/webster.py,
`[webster] divide_after_periods`; issue 9)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.policies.webster import WebsterPolicy, divided_flow_pcu_h
from controller.core.safety import cycle_length_s
from controller.model import CycleWish
from tests.junction_fixtures import flows, green, two_phase

CFG = Config()
PERIOD_S = 300.0


def cycles(policy: WebsterPolicy, per_period: list[dict[str, float]]) -> list[float]:
    """The cycle (s) of the plan sent at the end of each period, the period's flows (PCU/h per
    movement) as given."""
    lay = Layout.build(two_phase(), CFG)
    est = Estimate.empty(lay, 0.0)
    s, _ = policy.decide(policy.init(lay, 0.0), lay, est, None, 0.0)
    arrived = np.zeros(len(lay.junction.movements))
    out = []
    for k, q in enumerate(per_period, start=1):
        arrived = arrived + flows(lay, q) * PERIOD_S / 3600.0
        est = replace(est, arrivals_pcu=arrived)
        s, wish = policy.decide(s, lay, est, green(lay, 1, 5.0, k * PERIOD_S), k * PERIOD_S)
        assert isinstance(wish, CycleWish)
        out.append(cycle_length_s(lay.junction, wish.phase_order, wish.greens_s))
    return out


LOADED = {"N_T": 1200, "E_T": 1000}  # the city's 65 s cycle
LIGHT = {"N_T": 100, "E_T": 100}  # its half, 32.5 s, on this period's counts alone


def test_a_one_period_lull_keeps_the_base_cycle():
    """A loaded period, then a light one: with divide_after_periods = 2 the plan after the lull
    still runs the base cycle (the loaded period's flows do not fit the half cycle) and halves
    it only after a second light period; with 1 (before) it halves at once."""
    assert cycles(WebsterPolicy(replace(CFG.webster, divide_after_periods=1)), [LOADED, LIGHT, LIGHT]) == (
        pytest.approx([65.0, 32.5, 32.5])
    )
    two = WebsterPolicy(replace(CFG.webster, divide_after_periods=2))
    assert cycles(two, [LOADED, LIGHT, LIGHT]) == pytest.approx([65.0, 65.0, 32.5])
    # a light start divides as before (the periods there are); a surge ends it at once (its own
    # counts do not fit), and the next lull waits a period again
    assert cycles(two, [LIGHT, LOADED, LIGHT, LIGHT]) == pytest.approx([32.5, 65.0, 65.0, 32.5])


def test_divided_flows_are_the_largest_per_movement():
    now = np.array([10.0, 50.0, 0.0])
    assert divided_flow_pcu_h(now, ()) is now
    got = divided_flow_pcu_h(now, (np.array([30.0, 20.0, 5.0]), np.array([0.0, 60.0, 1.0])))
    assert got == pytest.approx([30.0, 60.0, 5.0])


def test_divide_after_periods_is_read_from_config_toml(tmp_path):
    """`[webster] divide_after_periods` reaches the policy the service builds; config.toml ships
    the dataclass' value."""
    from controller.config import load_config
    from controller.core.policies import make_policy

    p = tmp_path / "c.toml"
    p.write_text("[webster]\ndivide_after_periods = 3\n")
    assert make_policy("webster", load_config(p)).params.divide_after_periods == 3
    root = Path(__file__).resolve().parents[2]
    shipped = make_policy("webster", load_config(root / "config.toml")).params.divide_after_periods
    assert shipped == CFG.webster.divide_after_periods

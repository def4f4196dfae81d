"""webster: a junction runs a divided cycle only where its movements' capacity greens fit it
(controller/core/policies/webster.py, common_cycle_s and capacity_fits; `[webster] fit_capacity`,
on by default since session 20; issue 9)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies.webster import capacity_fits, common_cycle_s, webster_greens
from tests.junction_fixtures import two_phase

CFG = Config()
ROOT = Path(__file__).resolve().parents[2]


def flows(lay: Layout, by_movement: dict[str, float]) -> np.ndarray:
    return np.array([float(by_movement.get(m.id, 0.0)) for m in lay.junction.movements])


def test_a_half_cycle_whose_capacity_greens_do_not_fit_is_not_run():
    """Base cycle 65 s (30 + 25 s greens, two 5 s intergreens, 7 s minimum greens). N_T carries
    650 PCU/h of 1800: Y = 0.36, Webster's C0 = (1.5 x 10 + 5) / (1 - 0.36) = 31.3 s <= 32.5 s,
    so C0 alone allows the half cycle; but there N_T's capacity green is 32.5 x 0.36 / 0.9 + 3 =
    16.0 s, and with E/W at its 7 s minimum 23.0 s > the 22.5 s of green a 32.5 s cycle holds:
    the base cycle runs, and N_T gets at least its capacity green."""
    lay = Layout.build(two_phase(), CFG)
    q = flows(lay, {"N_T": 650.0})
    assert not capacity_fits(lay, q, 32.5, 3.0, 0.9)
    assert common_cycle_s(lay, q, 3.0, 0.9, fit_capacity=True) == pytest.approx(65.0)
    assert common_cycle_s(lay, q, 3.0, 0.9) == pytest.approx(32.5)  # without the fit: C0 alone
    cycle_s, greens = webster_greens(lay, q, 3.0, 0.9, fit_capacity=True)
    assert cycle_s == pytest.approx(65.0)
    assert greens[0] >= 65.0 * 650.0 / 1800.0 / 0.9 + 3.0 - 1e-6


def test_a_half_cycle_whose_capacity_greens_fit_is_still_run():
    """The same junction at 500 PCU/h on N_T: the capacity green at 32.5 s is 13.0 s, 20.0 s
    with E/W's minimum, within 22.5 s: double cycling stays."""
    lay = Layout.build(two_phase(), CFG)
    q = flows(lay, {"N_T": 500.0})
    assert capacity_fits(lay, q, 32.5, 3.0, 0.9)
    assert common_cycle_s(lay, q, 3.0, 0.9, fit_capacity=True) == pytest.approx(32.5)


@pytest.mark.parametrize("on", [False, True])
def test_fit_capacity_is_switched_by_config_toml(tmp_path, on):
    """`[webster] fit_capacity` reaches the params of the policy the service builds (on by default,
    and in the shipped config.toml)."""
    from controller.config import load_config
    from controller.core.policies import make_policy

    p = tmp_path / "c.toml"
    p.write_text(f"[webster]\nfit_capacity = {'true' if on else 'false'}\n")
    assert make_policy("webster", load_config(p)).params.fit_capacity is on
    assert make_policy("webster", CFG).params.fit_capacity is True
    assert make_policy("webster", load_config(ROOT / "config.toml")).params.fit_capacity is True

"""`scats` with `[scats] webster_cycle`: the cycle moves toward Webster's delay-minimising cycle.

Webster (1958): C0 = (1.5 L + 5) / (1 - Y), Y the sum over the phases of their critical flow ratios q / s, L the
cycle's lost time. Without the key the cycle moves toward the one that runs every phase at `ds_target`, whatever
the flows; with it, toward C0 from the flows measured over the cycle (discharge plus the change of the queue left,
at the learnt saturation flows), by at most `cycle_step_s` per cycle and within the junction's cycle bounds.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScatsParams
from controller.core.policies import make_policy
from controller.core.policies.scats import ScatsPolicy, ScatsState, cycle_flow_ratio_sum, webster_cycle_s
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw

CFG = Config()
LAY = Layout.build(parse_intersection(four_phase_raw(left_base_green_s=15.0), "four_phase.toml"), CFG)
LOST_S = sum(LAY.junction.intergreen_s(k, (k + 1) % 4) for k in range(4))


def busy_cycle(state: ScatsState, through_pcu_h: float, left_pcu_h: float) -> ScatsState:
    """`state` after one cycle run at its greens with every stop-line loop occupied all green (DS 1 everywhere:
    a cycle the DS rule lengthens), its through and left movements discharging these flows over the cycle, no
    queue left."""
    greens = np.array(state.greens_s)
    lane_green = (greens[:, None] * LAY.lane_green).sum(axis=0) * (LAY.lane_stop >= 0)
    cycle_s = LOST_S + float(greens.sum())
    left = np.array([m.turn == "left" for m in LAY.junction.movements])
    dep = np.where(left, left_pcu_h, through_pcu_h) * cycle_s / 3600.0
    return replace(
        state, green_given_s=greens, lane_green_s=lane_green, lane_wasted_s=np.zeros_like(lane_green), dep_green_pcu=dep
    )


def cycle_after(webster: bool, through_pcu_h: float, left_pcu_h: float, cycles: int = 1) -> float:
    p = ScatsPolicy(ScatsParams(webster_cycle=webster))
    e = Estimate.empty(LAY, 0.0)
    s = p.init(LAY, 0.0)
    for _ in range(cycles):
        s = p._adapt(busy_cycle(s, through_pcu_h, left_pcu_h), LAY, e)
        s = replace(s, cycle_s=s.desired_cycle_s)
    return s.desired_cycle_s


def test_webster_c0():
    assert webster_cycle_s(0.6, 12.0, 30.0) == pytest.approx((1.5 * 12 + 5) / 0.4)
    assert webster_cycle_s(0.0, 12.0, 30.0) == 30.0  # never below the minimum greens with the intergreens
    assert webster_cycle_s(1.2, 12.0, 30.0) >= 1e6  # oversaturated: the caller's bound


def test_the_cycle_flow_ratio_is_the_critical_movement_of_each_phase_with_the_queue_change():
    s = busy_cycle(ScatsPolicy().init(LAY, 0.0), 720.0, 160.0)  # through 720 / 1800 = 0.4, left 160 / 1600 = 0.1
    e = Estimate.empty(LAY, 0.0)
    cycle_s = LOST_S + sum(s.greens_s)
    assert cycle_flow_ratio_sum(s, LAY, e, cycle_s) == pytest.approx(0.4 + 0.1 + 0.4 + 0.1)
    # a queue of 3.6 PCU more on one through movement at the end of its green: it arrived, and was not served
    grown = replace(s, residual_pcu=np.where(np.arange(len(s.residual_pcu)) == 0, 3.6, 0.0))
    extra = 3.6 * 3600.0 / cycle_s / 1800.0
    assert cycle_flow_ratio_sum(grown, LAY, e, cycle_s) == pytest.approx(1.0 + extra)
    # ... and the same queue left the cycle before: no more arrivals than the discharge
    steady = replace(grown, queued_before_pcu=grown.residual_pcu)
    assert cycle_flow_ratio_sum(steady, LAY, e, cycle_s) == pytest.approx(1.0)


def test_light_flows_shorten_the_cycle_the_ds_rule_lengthens():
    start = ScatsPolicy().init(LAY, 0.0).cycle_s
    step = ScatsParams().cycle_step_s
    assert cycle_after(False, 360.0, 80.0) == pytest.approx(start + step)  # DS 1 at every phase: longer
    assert cycle_after(True, 360.0, 80.0) == pytest.approx(start - step)  # Y = 0.5, C0 far below: one step shorter
    c0 = (1.5 * LOST_S + 5.0) / 0.5
    least = LOST_S + sum(p.min_green_s for p in LAY.junction.phases)
    assert cycle_after(True, 360.0, 80.0, cycles=30) == pytest.approx(max(c0, least, LAY.junction.cycle_min_s))


def test_heavy_flows_run_the_longest_cycle():
    # Y = 0.5 + 0.25 + 0.5 + 0.25 >= 1
    assert cycle_after(True, 900.0, 400.0, cycles=60) == pytest.approx(LAY.junction.cycle_max_s)


def test_the_key_reaches_the_policy(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[scats]\nwebster_cycle = true\n")
    assert make_policy("scats", load_config(f)).params.webster_cycle is True
    assert make_policy("scats", Config()).params.webster_cycle is False


def test_the_queue_left_at_a_cycles_end_is_kept_for_the_next_cycles_flow_ratio():
    """_adapt keeps the queue left of the cycle it measured: the next cycle's arrivals are its
    discharge plus the change of that queue (R, session 37: no test failed with it not kept)."""
    p = ScatsPolicy(ScatsParams(webster_cycle=True))
    s = busy_cycle(p.init(LAY, 0.0), 720.0, 160.0)
    s = replace(s, residual_pcu=np.linspace(0.0, 3.5, len(s.residual_pcu)))
    after = p._adapt(s, LAY, Estimate.empty(LAY, 0.0))
    np.testing.assert_array_equal(after.queued_before_pcu, s.residual_pcu)
    # the same discharge and the same queue left the next cycle: only the discharge arrived (0.4 + 0.1 twice)
    again = busy_cycle(replace(after, residual_pcu=s.residual_pcu), 720.0, 160.0)
    cycle_s = LOST_S + sum(again.greens_s)
    assert cycle_flow_ratio_sum(again, LAY, Estimate.empty(LAY, 0.0), cycle_s) == pytest.approx(1.0)

"""`scats` with `[scats] webster_cycle`: Webster's Y from flows averaged over cycles (`webster_flow_cycles`) and
C0 floored at the cycle holding every phase at DS 1 (`webster_ds_floor`).

Where arrivals come in platoons from signals upstream one cycle's Y swings (0.05-1.00 from cycle to cycle on RESCO
cologne1, C session 37), and C0, convex in Y, with it. With `webster_flow_cycles` above 1 each movement's arrival
flow is an exponential mean over that many cycles (the newest weighing 1 / webster_flow_cycles) before Y is formed;
with `webster_ds_floor` C0 is no shorter than the intergreens plus each phase's green times its DS (at least its
minimum), that need averaged over the same cycles. The first cycle measured (begun part way into the program's)
starts neither mean.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScatsParams
from controller.core.policies import make_policy
from controller.core.policies.scats import ScatsPolicy, ScatsState, webster_cycle_s
from controller.errors import ConfigError
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw

CFG = Config()
LAY = Layout.build(parse_intersection(four_phase_raw(left_base_green_s=15.0), "four_phase.toml"), CFG)
J = LAY.junction
LOST_S = sum(J.intergreen_s(k, (k + 1) % 4) for k in range(4))
LEAST_S = LOST_S + sum(p.min_green_s for p in J.phases)
LEFT = np.array([m.turn == "left" for m in J.movements])


def cycle(state: ScatsState, through_pcu_h: float, left_pcu_h: float, used: float = 1.0) -> ScatsState:
    """`state` after one cycle run at its greens, every stop-line loop occupied for the share `used` of its green
    (the DS of every phase), its through and left movements discharging these flows over the cycle, no queue."""
    greens = np.array(state.greens_s)
    lane_green = (greens[:, None] * LAY.lane_green).sum(axis=0) * (LAY.lane_stop >= 0)
    dep = np.where(LEFT, left_pcu_h, through_pcu_h) * (LOST_S + float(greens.sum())) / 3600.0
    return replace(
        state, green_given_s=greens, lane_green_s=lane_green, lane_wasted_s=lane_green * (1.0 - used), dep_green_pcu=dep
    )


def run(params: ScatsParams, cycles: list[tuple[float, float, float]]) -> ScatsState:
    """The state after `_adapt` at the end of each cycle (through PCU/h, left PCU/h, DS); the greens kept (wide
    cycle steps: the wish is the target itself, within the junction's bounds)."""
    p = ScatsPolicy(replace(params, cycle_step_s=1000.0))
    s = p.init(LAY, 0.0)
    greens = s.greens_s
    for through, left, used in cycles:
        s = replace(p._adapt(cycle(s, through, left, used), LAY, Estimate.empty(LAY, 0.0)), greens_s=greens)
    return s


def bounded(c_s: float) -> float:
    return float(np.clip(c_s, J.cycle_min_s, J.cycle_max_s))


def test_y_is_formed_from_the_flows_averaged_over_cycles():
    # (the first cycle measured: not in the mean) through 540 / 1800 = 0.3, left 120 / 1600 = 0.075: Y 0.75;
    # then a cycle with nothing: Y 0 alone
    seen = [(900.0, 400.0, 0.5), (540.0, 120.0, 0.5), (0.0, 0.0, 0.5)]
    on = ScatsParams(webster_cycle=True, webster_flow_cycles=4.0)
    s = run(on, seen)
    np.testing.assert_allclose(s.flow_mean_pcu_h, np.where(LEFT, 120.0, 540.0) * 0.75)
    assert s.desired_cycle_s == pytest.approx(bounded(webster_cycle_s(0.75 * 0.75, LOST_S, LEAST_S)))
    # 1 cycle: the last cycle alone (Y 0: the shortest cycle)
    assert run(replace(on, webster_flow_cycles=1.0), seen).desired_cycle_s == pytest.approx(bounded(LEAST_S))
    # a steady flow gives the same cycle whatever the mean
    steady = [(540.0, 120.0, 0.5)] * 3
    assert run(on, steady).desired_cycle_s == pytest.approx(
        run(replace(on, webster_flow_cycles=1.0), steady).desired_cycle_s
    )


def test_the_ds_floor_keeps_c0_no_shorter_than_the_greens_at_ds_1():
    # light flows (Y 0.25: C0 short) but every loop occupied all green (DS 1): the greens shown are needed
    on = ScatsParams(webster_cycle=True)
    greens = np.array(ScatsPolicy().init(LAY, 0.0).greens_s)
    shown_s = LOST_S + float(greens.sum())
    c0 = bounded(webster_cycle_s(0.25, LOST_S, LEAST_S))
    assert c0 < shown_s - 1.0  # the case: C0 alone would shorten the cycle
    assert run(on, [(180.0, 40.0, 1.0)]).desired_cycle_s == pytest.approx(c0)
    assert run(replace(on, webster_ds_floor=True), [(180.0, 40.0, 1.0)]).desired_cycle_s == pytest.approx(
        bounded(shown_s)
    )
    # the need averaged over the cycles too: DS 1 then DS 0.2 (at least the minimum green) over 4 cycles
    seen = [(180.0, 40.0, 0.5), (180.0, 40.0, 1.0), (180.0, 40.0, 0.2)]
    s = run(replace(on, webster_ds_floor=True, webster_flow_cycles=4.0), seen)
    mins = np.array([p.min_green_s for p in J.phases])
    first = np.maximum(mins, greens)
    np.testing.assert_allclose(s.need_mean_s, first + (np.maximum(mins, 0.2 * greens) - first) / 4.0)
    assert s.desired_cycle_s == pytest.approx(bounded(max(c0, LOST_S + float(s.need_mean_s.sum()))))


def test_the_first_cycle_measured_starts_neither_mean():
    # RiLSA r1: the first cycle, from the first green seen, read Y 0.11 against 0.41-0.76 after; in the means it
    # held the cycle at 61-79 s where the DS rule wanted 83-100 s
    on = ScatsParams(webster_cycle=True, webster_flow_cycles=4.0, webster_ds_floor=True)
    first = run(on, [(0.0, 0.0, 0.1)])
    assert first.flow_mean_pcu_h is None and first.need_mean_s is None
    assert first.desired_cycle_s == pytest.approx(bounded(LEAST_S))  # its own cycle is still chosen from it
    s = run(on, [(0.0, 0.0, 0.1), (540.0, 120.0, 1.0)])
    np.testing.assert_allclose(s.flow_mean_pcu_h, np.where(LEFT, 120.0, 540.0))
    greens = np.array(s.greens_s)
    np.testing.assert_allclose(s.need_mean_s, np.maximum([p.min_green_s for p in J.phases], greens))


def test_without_webster_cycle_nothing_is_averaged():
    s = run(ScatsParams(webster_flow_cycles=4.0, webster_ds_floor=True), [(540.0, 120.0, 0.5)] * 2)
    assert s.flow_mean_pcu_h is None and s.need_mean_s is None


def test_fewer_than_one_cycle_is_refused_naming_the_file_and_the_field(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[scats]\nwebster_flow_cycles = 0.5\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert str(f) in str(err.value) and "scats.webster_flow_cycles" in str(err.value) and ">= 1" in str(err.value)


def test_the_keys_reach_the_policy(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[scats]\nwebster_flow_cycles = 4.0\nwebster_ds_floor = true\n")
    params = make_policy("scats", load_config(f)).params
    assert params.webster_flow_cycles == 4.0 and params.webster_ds_floor is True
    assert make_policy("scats", Config()).params == ScatsParams()

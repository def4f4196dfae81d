"""`scats` chooses its splits from the DS of more than one cycle (`[scats] ds_mean_cycles`).

A lightly used stage's one-cycle DS swings with the arrivals of that cycle (cross_incoming's stage 1:
0.52, 1.13, 1.76, 0.88, 1.48, 1.00 in consecutive cycles), and the greens followed it each cycle. With
`ds_mean_cycles` above 1 the DS is an exponential mean over that many cycles, the newest weighing
1 / ds_mean_cycles; 1 keeps the last cycle alone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScatsParams
from controller.core.policies import make_policy
from controller.core.policies.scats import ScatsPolicy, ScatsState
from controller.errors import ConfigError
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw

CFG = Config()
LAY = Layout.build(parse_intersection(four_phase_raw(left_base_green_s=15.0), "four_phase.toml"), CFG)


def measured(state: ScatsState, used: tuple[float, ...]) -> ScatsState:
    """`state` after one cycle run at its greens, each phase's lanes' stop-line loops occupied for the
    share `used[k]` of its green (the rest wasted): phase k's DS is used[k], no queue left."""
    greens = np.array(state.greens_s)
    last = len(greens) - 1 - LAY.lane_green[::-1].argmax(axis=0)  # per lane, the last phase showing it green
    lane_green = (greens[:, None] * LAY.lane_green).sum(axis=0) * (LAY.lane_stop >= 0)
    wasted = lane_green * (1.0 - np.array(used)[last])
    return replace(state, green_given_s=greens, lane_green_s=lane_green, lane_wasted_s=wasted)


def greens_after(ds_mean_cycles: float, cycles: list[tuple[float, ...]]) -> tuple[float, ...]:
    """The greens chosen after the cycles measured (wide steps: the split follows the DS it is given)."""
    p = ScatsPolicy(ScatsParams(split_step_s=100.0, cycle_step_s=100.0, ds_mean_cycles=ds_mean_cycles))
    e = Estimate.empty(LAY, 0.0)
    s = p.init(LAY, 0.0)
    for used in cycles:
        s = p._adapt(measured(s, used), LAY, e)
    return s.greens_s


BUSY, QUIET = (0.9, 0.9, 0.9, 0.9), (0.9, 0.3, 0.9, 0.3)  # per phase, the share of its green used


def test_one_quiet_cycle_at_a_lightly_used_stage_moves_its_green_less_with_a_mean_over_cycles():
    last_alone = greens_after(1.0, [BUSY, BUSY, BUSY, QUIET])
    mean_of_3 = greens_after(3.0, [BUSY, BUSY, BUSY, QUIET])
    steady = greens_after(1.0, [BUSY, BUSY, BUSY, BUSY])
    # the left stages (15 s greens): DS 0.9 -> 0.3, the last cycle alone (5 s, their minimum); -> 0.7, the mean
    # over 3 cycles (11.7 s)
    assert last_alone[1] < mean_of_3[1] < steady[1]
    assert steady[1] - mean_of_3[1] < 0.5 * (steady[1] - last_alone[1])


def test_a_steady_demand_gives_the_same_greens_whatever_the_mean():
    assert greens_after(3.0, [BUSY] * 4) == pytest.approx(greens_after(1.0, [BUSY] * 4))


def test_fewer_than_one_cycle_is_refused_naming_the_file_and_the_field(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[scats]\nds_mean_cycles = 0.5\n")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert str(f) in str(err.value) and "scats.ds_mean_cycles" in str(err.value) and ">= 1" in str(err.value)


def test_the_key_reaches_the_policy(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[scats]\nds_mean_cycles = 3.0\n")
    assert make_policy("scats", load_config(f)).params.ds_mean_cycles == 3.0

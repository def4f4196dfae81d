"""webster: a longer cycle at a lone junction whose capacity needs do not fit the city's
(controller/core/policies/webster.py, lone_cycle_s, equal_saturation_needs_s and `[webster]
lone_cycle_max_s`; issue 9, RiLSA_example3)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import WebsterParams
from controller.core.policies.webster import (
    WebsterPolicy,
    capacity_fits,
    demand_split_s,
    equal_saturation_needs_s,
    flow_ratio_sum,
    lane_shared_layout,
    lone_cycle_s,
    movement_needs_s,
    reference_cycle_s,
    webster_greens,
)
from controller.junctions import parse_intersection
from tests.junction_fixtures import flows, two_phase_raw

CFG = Config()
ROOT = Path(__file__).resolve().parents[2]
# N/S at y = 900 / 1800, E/W at 750 / 1800: Y = 0.92, at or above max_flow_ratio (0.9), where no
# cycle serves every movement at x = 0.9; the city's cycle is 65 s (30 + 25 + 2 x 5 s)
HEAVY = {"N_T": 900.0, "S_T": 900.0, "E_T": 750.0, "W_T": 750.0}


def two_phase(**changes: object) -> Layout:
    raw = two_phase_raw()
    raw.update(changes)
    return Layout.build(parse_intersection(raw, "two_phase.toml"), CFG)


def test_a_lone_junction_at_or_above_the_target_flow_ratio_runs_its_longest_cycle():
    lay = two_phase()  # cycle_max_s 120
    q = flows(lay, HEAVY)
    assert reference_cycle_s(lay) == pytest.approx(65.0)
    assert lone_cycle_s(lay, q, 65.0, 0.9, 150.0) == pytest.approx(120.0)
    assert lone_cycle_s(lay, q, 65.0, 0.9, 100.0) == pytest.approx(100.0)
    assert lone_cycle_s(lay, q * 0.9, 65.0, 0.9, 150.0) == pytest.approx(65.0)  # Y = 0.83
    assert lone_cycle_s(lay, q, 65.0, 0.9, 60.0) == pytest.approx(65.0)  # a bound below the cycle


def test_a_junction_with_a_signalised_neighbour_keeps_the_common_cycle():
    raw = two_phase_raw()
    raw["downstream"] = ["K"]
    other = two_phase_raw()
    other.update(id="K", upstream=["J"])
    lay = Layout.build(parse_intersection(raw, "two_phase.toml"), CFG)
    q = flows(lay, HEAVY)
    assert lone_cycle_s(lay, q, 65.0, 0.9, 150.0) == pytest.approx(65.0)
    assert webster_greens(lay, q, 3.0, 0.9, True, fit_capacity=True, lone_cycle_max_s=150.0) == webster_greens(
        lay, q, 3.0, 0.9, True, fit_capacity=True
    )


def test_webster_greens_runs_the_longer_cycle_only_with_the_key_after_a_short_phase():
    """The flow ratios alone do not lengthen the cycle (the counts are a period's, the saturation
    flows priors); a phase that ran short (full_cycle: a queue left at its green ends) says the
    demand exceeds its green."""
    lay = two_phase()
    q = flows(lay, HEAVY)
    cycle_s, greens = webster_greens(lay, q, 3.0, 0.9, True, fit_capacity=True, lone_cycle_max_s=150.0)
    assert cycle_s == pytest.approx(120.0)
    assert sum(greens) == pytest.approx(110.0)
    assert webster_greens(lay, q, 3.0, 0.9, True, fit_capacity=True)[0] == pytest.approx(65.0)
    assert webster_greens(lay, q, 3.0, 0.9, fit_capacity=True, lone_cycle_max_s=150.0)[0] == pytest.approx(65.0)


def test_where_the_needs_do_not_fit_every_movement_runs_at_one_degree_of_saturation():
    """N/S y = 2/3, E/W y = 1/4 at an 80 s bound (70 s of green): each phase's green less its 3 s
    lost time in proportion to its flow ratio (Webster's g = (C - L) y / Y), where scaling the
    needs above the 7 s minimum greens alike gives the light phase more than its share."""
    lay = two_phase()
    q = flows(lay, {"N_T": 1200.0, "S_T": 1200.0, "E_T": 450.0, "W_T": 450.0})
    cycle_s, greens = webster_greens(lay, q, 3.0, 0.9, True, fit_capacity=True, lone_cycle_max_s=80.0)
    assert cycle_s == pytest.approx(80.0)
    assert sum(greens) == pytest.approx(70.0)
    assert (greens[0] - 3.0) / (greens[1] - 3.0) == pytest.approx(8.0 / 3.0)
    needs = equal_saturation_needs_s(lay, q, 80.0, 3.0, 0.9)
    x = (80.0 * q / lay.sat_flow_pcu_h) / (needs - 3.0)
    assert x == pytest.approx(np.full(4, x[0])) and x[0] > 0.9
    lo, hi = np.array([7.0, 7.0]), np.array([60.0, 60.0])
    capacity_s, storage_s = movement_needs_s(lay, q, 80.0, 3.0, 0.9)
    alike = demand_split_s(lay, capacity_s, storage_s, lo, hi, 70.0)  # the needs above the minimums scaled alike
    assert (alike[0] - 3.0) / (alike[1] - 3.0) < 2.6


def test_equal_saturation_changes_nothing_where_the_needs_fit():
    lay = two_phase()
    q = flows(lay, {"N_T": 600.0, "S_T": 600.0, "E_T": 400.0, "W_T": 400.0})
    assert capacity_fits(lay, q, 90.0, 3.0, 0.9)
    assert equal_saturation_needs_s(lay, q, 90.0, 3.0, 0.9) == pytest.approx(
        (90.0 * q / lay.sat_flow_pcu_h / 0.9) + 3.0
    )


@pytest.mark.parametrize("bound_s", [0.0, 150.0])
@pytest.mark.parametrize("residual_pcu", [(0.0, 0.0), (5.0, 0.0), (5.0, 4.0)])
def test_the_policy_sends_the_longer_cycle_only_with_the_key_where_no_phase_cleared_its_queue(bound_s, residual_pcu):
    """A period's counts through WebsterPolicy.decide: with `lone_cycle_max_s`, after a period in
    which both phases ended their greens with a residual queue of at least residual_queue_pcu (3),
    the plan's cycle is lone_cycle_s'; without the key, or where a phase cleared its queue (a split
    can serve the demand), the city's."""
    lay = two_phase()
    policy = WebsterPolicy(WebsterParams(lone_cycle_max_s=bound_s))
    est = Estimate.empty(lay, 0.0)
    s, _ = policy.decide(policy.init(lay, 0.0), lay, est, None, 0.0)
    s = replace(s, residual_pcu=residual_pcu, green_ends=(1, 1))
    counted = est.arrivals_pcu + flows(lay, HEAVY) * 300.0 / 3600.0
    _, wish = policy.decide(s, lay, replace(est, arrivals_pcu=counted), None, 300.0)
    assert wish is not None
    lengthened = bound_s > 0 and min(residual_pcu) >= 3.0
    assert sum(wish.greens_s) + 10.0 == pytest.approx(120.0 if lengthened else 65.0)


@pytest.mark.parametrize("in_force_s", [(30.0, 25.0), (60.0, 50.0)])
@pytest.mark.parametrize("scale", [1.0, 0.8])
def test_a_long_plan_in_force_stays_long_while_the_flow_ratios_hold(in_force_s, scale):
    """No phase left a queue in the period, but the plan in force runs 120 s (a long cycle chosen
    before): the next stays at 120 s while Y holds at 0.9 or more (HEAVY: 0.92), and returns to the
    city's 65 s when Y falls (0.73); a plan in force at the city's cycle stays there."""
    lay = two_phase()
    policy = WebsterPolicy(WebsterParams(lone_cycle_max_s=150.0))
    est = Estimate.empty(lay, 0.0)
    s, _ = policy.decide(policy.init(lay, 0.0), lay, est, None, 0.0)
    s = replace(s, residual_pcu=(0.0, 0.0), green_ends=(1, 1), plan_s=in_force_s)
    counted = est.arrivals_pcu + flows(lay, HEAVY) * scale * 300.0 / 3600.0
    _, wish = policy.decide(s, lay, replace(est, arrivals_pcu=counted), None, 300.0)
    assert wish is not None
    long = sum(in_force_s) > 100.0 and scale == 1.0
    assert sum(wish.greens_s) + 10.0 == pytest.approx(120.0 if long else 65.0)


def test_no_green_to_spare_where_every_phase_that_ended_a_green_left_a_queue():
    from controller.core.policies.webster import WebsterState, no_green_to_spare

    def state(residual_pcu: tuple[float, ...], ends: tuple[int, ...]) -> WebsterState:
        return WebsterState(0.0, None, None, residual_pcu=residual_pcu, green_ends=ends)

    assert no_green_to_spare(state((8.0, 6.0), (2, 2)), 2, 3.0)  # means 4 and 3 PCU
    assert not no_green_to_spare(state((8.0, 4.0), (2, 2)), 2, 3.0)
    assert no_green_to_spare(state((8.0, 0.0), (2, 0)), 2, 3.0)  # phase 1 ended no green
    assert not no_green_to_spare(state((0.0, 0.0), (0, 0)), 2, 3.0)
    assert not no_green_to_spare(WebsterState(0.0, None, None), 2, 3.0)


def test_lone_cycle_max_s_is_read_from_config_toml_and_ships_on_at_150_s(tmp_path):
    from controller.config import load_config
    from controller.core.policies import make_policy

    p = tmp_path / "c.toml"
    p.write_text("[webster]\nlone_cycle_max_s = 0.0\n")
    assert make_policy("webster", load_config(p)).params.lone_cycle_max_s == 0.0
    assert make_policy("webster", load_config(ROOT / "config.toml")).params.lone_cycle_max_s == 150.0
    assert WebsterParams().lone_cycle_max_s == 150.0


def shared_right() -> Layout:
    """two_phase with a right turn E_R from eE sharing E_T's lane (link 4): as the import writes a
    shared lane, each movement its turn's per-lane rate over the lane's two users (1800 / 2 for the
    through, 1550 / 2 for the right)."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["movements"][1]["sat_flow_pcu_h"] = 900.0
    raw["movements"].append(
        {
            "id": "E_R",
            "approach": "E",
            "turn": "right",
            "from_edge": "eE",
            "lanes": ["eE_0"],
            "links": [4],
            "sat_flow_pcu_h": 775.0,
            "storage_pcu": 10.0,
            "conflicts": ["N_T", "S_T"],
        }
    )
    raw["phases"][0]["state"] = "GrGrr"
    raw["phases"][1]["state"] = "rGrGG"
    return Layout.build(parse_intersection(raw, "shared_right.toml"), CFG)


def test_a_shared_lane_s_flow_ratio_is_the_time_its_movements_take_at_their_own_rates():
    """E_T 600 and E_R 100 PCU/h on one lane: the lane is busy 600 / 1800 + 100 / 1550 of the time,
    and both movements read that flow ratio, where the prior reads E_T alone as 600 / 900. N_T, alone
    on its lane, keeps its prior; a movement without flow too."""
    lay = shared_right()
    q = flows(lay, {"N_T": 500.0, "E_T": 600.0, "E_R": 100.0})
    shared = lane_shared_layout(lay, q)
    ids = [m.id for m in lay.junction.movements]
    y = dict(zip(ids, q / shared.sat_flow_pcu_h))
    assert y["E_T"] == pytest.approx(600 / 1800 + 100 / 1550)
    assert y["E_R"] == pytest.approx(y["E_T"])
    assert y["N_T"] == pytest.approx(500 / 1800)
    assert shared.sat_flow_pcu_h[ids.index("S_T")] == lay.sat_flow_pcu_h[ids.index("S_T")]
    assert (q / lay.sat_flow_pcu_h)[ids.index("E_T")] == pytest.approx(600 / 900)


def test_the_flow_ratios_are_the_lanes():
    """E_T 600 on a lane shared with E_R 100, N/S 600: the prior's ratios sum to 600 / 900 + 600 /
    1800 = 1.0, the lanes' to 0.40 + 0.33 = 0.73: below 0.9, the cycle stays."""
    lay = shared_right()
    q = flows(lay, {"N_T": 600.0, "S_T": 600.0, "E_T": 600.0, "E_R": 100.0, "W_T": 400.0})
    assert flow_ratio_sum(lay, q) == pytest.approx(1.0)
    assert flow_ratio_sum(lane_shared_layout(lay, q), q) == pytest.approx(600 / 1800 + 600 / 1800 + 100 / 1550)
    assert lone_cycle_s(lay, q, 65.0, 0.9, 150.0) == pytest.approx(65.0)
    assert lone_cycle_s(lay, q * 1.3, 65.0, 0.9, 150.0) == pytest.approx(120.0)  # 0.95


def test_only_a_lone_junction_is_oversaturated_for_the_long_cycle():
    """After a period in which no phase cleared its queue a lone junction is oversaturated (its plan
    goes to the full cycle, lone_cycle_s'); one with a signalised neighbour is not, whatever its
    queues: it keeps the common cycle, and `full` stays what the other rules made it (R, session 33:
    with hold_short_phases, `full` was forced for every junction)."""
    from controller.core.policies.webster import WebsterState, oversaturated

    state = WebsterState(0.0, None, None, residual_pcu=(8.0, 6.0), green_ends=(2, 2))
    assert oversaturated(state, two_phase(), 3.0)
    assert not oversaturated(state, two_phase(downstream=["K"]), 3.0)
    assert not oversaturated(state, two_phase(upstream=["K"]), 3.0)

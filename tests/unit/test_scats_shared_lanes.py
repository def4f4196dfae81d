"""`scats` reads a stop-line loop as used green only where the lane's every movement is green.

A lane shared by a through movement and a left turn with a protected phase of its own: while the
left's protected phase runs, the through movement is red, so a through vehicle at the head of the
lane stands on the loop without moving. Its occupancy is not green used by the left turn.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScatsParams
from controller.core.policies.scats import ScatsPolicy
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import CycleWish
from tests.junction_fixtures import four_phase_raw

CFG = Config()


def left_lanes(shared: bool):
    """The four-phase junction (tests/junction_fixtures.four_phase_raw) with 8 s protected lefts:
    `shared`: the through movement uses both lanes, its inner one shared with the left turn."""
    raw = four_phase_raw(shared_left_lane=shared, through_sat_pcu_h=3600.0, left_base_green_s=8.0)
    return parse_intersection(raw, "left_lanes.toml")


def view(lay: Layout, phase: int, elapsed: float, now: float) -> SignalView:
    served = set(lay.junction.served_movements(phase))
    return SignalView(
        phase, False, elapsed, tuple(now if m.id in served else now - 20.0 for m in lay.junction.movements)
    )


def one_cycle(lay: Layout, est: Estimate) -> ScatsPolicy:
    """The greens scats plans after one measured cycle of the base program under `est`."""
    p = ScatsPolicy(ScatsParams(cycle_step_s=6.0, split_step_s=4.0, empty_gap_s=1.0))
    s = p.init(lay, 0.0)
    s, _ = p.decide(s, lay, est, view(lay, 0, 1.0, 0.0), 0.0)
    t = 0.0
    for phase, green in ((0, 30), (1, 8), (2, 30), (3, 8)):
        for k in range(green):
            t += 1.0
            s, _ = p.decide(s, lay, est, view(lay, phase, k + 1.0, t), t)
        t += 5.0
        nxt = (phase + 1) % 4
        s, _ = p.decide(s, lay, est, SignalView(nxt, True, 0.0, view(lay, 0, 0.0, t).red_since_s), t)
    s, wish = p.decide(s, lay, est, view(lay, 0, 1.0, t + 1), t + 1)
    assert isinstance(wish, CycleWish)
    return s


def test_a_loop_held_by_a_vehicle_of_a_red_movement_is_not_green_used_by_the_left():
    """Every loop occupied the whole cycle, no left turner crossed in its protected phase and
    none was left queued: the protected-left phases carried nothing, so they shrink toward their
    minimum (before: the shared lane's occupied loop read as a saturated left, which grew)."""
    lay = Layout.build(left_lanes(shared=True), CFG)
    est = Estimate.empty(lay, 0.0)
    est = replace(est, last_feed_t_s=0.0, lanes=replace(est.lanes, stop_empty_s=np.zeros(len(lay.lanes))))
    s = one_cycle(lay, est)
    assert s.greens_s[1] < 8.0 and s.greens_s[3] < 8.0
    assert s.greens_s[0] > 30.0 and s.greens_s[2] > 30.0  # the through phases' lanes are read: busy


def test_a_left_lane_of_its_own_is_still_read():
    """The same cycle with the left turns on a lane of their own: the occupied loop is the left
    turners' own, so the protected-left phases read busy and grow (the rule leaves out only a lane
    shared with a movement held at red)."""
    lay = Layout.build(left_lanes(shared=False), CFG)
    est = Estimate.empty(lay, 0.0)
    est = replace(est, last_feed_t_s=0.0, lanes=replace(est.lanes, stop_empty_s=np.zeros(len(lay.lanes))))
    s = one_cycle(lay, est)
    assert s.greens_s[1] > 8.0 and s.greens_s[3] > 8.0

"""`schedule`, `[schedule] stall_head_on_loop`: stall_s's rule (a queued movement of the green phase
with nobody over its stop line for stall_s no longer holds the green) only where a vehicle stands on
one of the movement's stop-line loops. A queue the estimator counts from the advance loop while its
vehicles are still on their way to an empty stop line is not a blocked head (issue 9: rand_grid_oneway
under the split flip, N session 52)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy, head_on_stop_loop
from tests.estimate_fixtures import signal_view, stop_line_estimate
from tests.junction_fixtures import two_phase

CFG = Config()


def _wish_at_12s(head_on_loop: bool, stop_empty_s: float) -> int:
    """Phase 0 (N/S) green for 12 s with nobody over its stop lines yet; N_T now holds 3 PCU between
    its loops, E_T and W_T 1 PCU each, red for 20 s. Every stop-line loop has read empty for
    `stop_empty_s` (0: occupied). Returns the phase wished."""
    lay = Layout.build(two_phase(), CFG)
    p = SchedulePolicy(ScheduleParams(steady_s=0.0, saturation_floor=False, stall_head_on_loop=head_on_loop))
    s = p.init(lay, 0.0)
    est = stop_line_estimate(lay, {}, {}, stop_empty_s=stop_empty_s)
    s, _ = p.decide(s, lay, est, signal_view(lay, 0, 1.0, 101.0, 20.0), 101.0)  # the green starts, nobody queued
    est = stop_line_estimate(lay, {"N_T": 3.0, "E_T": 1.0, "W_T": 1.0}, {}, stop_empty_s=stop_empty_s)
    _, wish = p.decide(s, lay, est, signal_view(lay, 0, 12.0, 112.0, 20.0), 112.0)
    assert wish is not None
    return wish.phase


def test_a_queue_on_its_way_to_an_empty_stop_line_keeps_the_green():
    # off (the default): N_T queued, nothing crossed for stall_s past the start-up loss: "blocked", so
    # phase 0 holds nothing and the light changes to E/W
    assert _wish_at_12s(head_on_loop=False, stop_empty_s=12.0) == 1
    # on: N_T's stop-line loop has been empty the whole green: its 3 PCU are on their way, not a
    # blocked head; phase 0 serves them first
    assert _wish_at_12s(head_on_loop=True, stop_empty_s=12.0) == 0


def test_a_head_standing_on_its_stop_line_loop_is_still_blocked():
    # a vehicle stands on the stop-line loop (read empty for 0 s) and nobody crosses: blocked with or
    # without the key
    assert _wish_at_12s(head_on_loop=False, stop_empty_s=0.0) == 1
    assert _wish_at_12s(head_on_loop=True, stop_empty_s=0.0) == 1


def test_head_on_stop_loop_reads_the_movement_lanes_stop_loops():
    lay = Layout.build(two_phase(), CFG)
    est = stop_line_estimate(lay, {"N_T": 2.0}, {}, stop_empty_s=3.0)
    assert not head_on_stop_loop(lay, est).any()
    n_lane = lay.lanes.index(lay.junction.movements[0].lanes[0])
    empty = np.full(len(lay.lanes), 3.0)
    empty[n_lane] = 0.0
    got = head_on_stop_loop(lay, replace(est, lanes=replace(est.lanes, stop_empty_s=empty)))
    assert got.tolist() == [m.id == lay.junction.movements[0].id for m in lay.junction.movements]

"""`schedule`, `[schedule] stall_after_travel`: stall_s's rule (a queued movement of the green phase with
nobody over its stop line for stall_s no longer holds the green) waits for a queue on its way. Where every
stop-line loop of the movement reads empty and a vehicle passed its advance loop less than the zone's
travel time ago (distance between the loops / the advance loop's speed), the queue is an arrival due when
that vehicle reaches the stop line, not a blocked head; once that time has passed with the stop line still
empty, it is a stall (issue 9: schedule under the split flip, N sessions 52-53)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy, due_s
from tests.estimate_fixtures import signal_view, stop_line_estimate
from tests.junction_fixtures import two_phase

CFG = Config()


def _passed(lay: Layout, est: Estimate, movement: str, ago_s: list[int], stop_empty_s: float) -> Estimate:
    """`est` where one vehicle passed `movement`'s advance loop each of `ago_s` seconds ago, every stop-line
    loop empty for `stop_empty_s`."""
    lane = lay.lanes.index(lay.junction.movements[[m.id for m in lay.junction.movements].index(movement)].lanes[0])
    recent = np.zeros_like(est.lanes.adv_recent_pcu)
    for a in ago_s:
        recent[a, lane] = 1.0
    empty = np.full(len(lay.lanes), stop_empty_s)
    return replace(est, lanes=replace(est.lanes, adv_recent_pcu=recent, stop_empty_s=empty))


def _wish_at_12s(on: bool, ago_s: list[int], stop_empty_s: float = 12.0) -> int:
    """Phase 0 (N/S) green for 12 s with nobody over its stop lines; N_T holds one PCU per vehicle of `ago_s`
    (each passed its advance loop that many seconds ago; the zone is 78 m, the loop's speed 10 m/s: 7.8 s of
    travel), E_T and W_T 1 PCU each, red for 20 s. Returns the phase wished."""
    lay = Layout.build(two_phase(), CFG)
    p = SchedulePolicy(ScheduleParams(steady_s=0.0, saturation_floor=False, stall_after_travel=on))
    s = p.init(lay, 0.0)
    est = stop_line_estimate(lay, {}, {}, stop_empty_s=stop_empty_s)
    s, _ = p.decide(s, lay, est, signal_view(lay, 0, 1.0, 101.0, 20.0), 101.0)  # the green starts, nobody queued
    est = stop_line_estimate(lay, {"N_T": float(len(ago_s)), "E_T": 1.0, "W_T": 1.0}, {}, stop_empty_s=stop_empty_s)
    est = _passed(lay, est, "N_T", ago_s, stop_empty_s)
    _, wish = p.decide(s, lay, est, signal_view(lay, 0, 12.0, 112.0, 20.0), 112.0)
    assert wish is not None
    return wish.phase


def test_a_queue_on_its_way_to_an_empty_stop_line_keeps_the_green():
    # off (the default): N_T queued, nothing crossed for stall_s past the start-up loss: "blocked", so phase 0
    # holds nothing and the light changes to E/W while N_T's vehicles drive to the stop line
    assert _wish_at_12s(on=False, ago_s=[1, 2, 3]) == 1
    # on: they passed the advance loop 1-3 s ago, 7.8 s from the stop line: due in 4.8 s, phase 0 serves them
    assert _wish_at_12s(on=True, ago_s=[1, 2, 3]) == 0


def test_a_queue_overdue_at_an_empty_stop_line_is_a_stall():
    # they passed 8-10 s ago, more than the 7.8 s of travel, and the stop line is still empty: a stall either way
    assert _wish_at_12s(on=False, ago_s=[8, 9, 10]) == 1
    assert _wish_at_12s(on=True, ago_s=[8, 9, 10]) == 1


def test_a_head_standing_on_its_stop_line_loop_is_still_blocked():
    # a vehicle stands on the stop-line loop (read empty for 0 s): blocked with or without the key
    assert _wish_at_12s(on=False, ago_s=[1, 2, 3], stop_empty_s=0.0) == 1
    assert _wish_at_12s(on=True, ago_s=[1, 2, 3], stop_empty_s=0.0) == 1


def test_due_s_is_the_first_vehicle_s_remaining_travel():
    lay = Layout.build(two_phase(), CFG)
    est = _passed(lay, stop_line_estimate(lay, {"N_T": 2.0}, {}), "N_T", [2, 5], 3.0)
    got = due_s(lay, est)
    ids = [m.id for m in lay.junction.movements]
    assert got[ids.index("N_T")] == pytest.approx(78.0 / 10.0 - 5.0)  # the earlier vehicle, 5 s ago
    assert np.isinf(got[[i for i, m in enumerate(ids) if m != "N_T"]]).all()
    # a faster advance loop: the travel is 3 s and the vehicle 5 s ago came (the stop-line loop saw a vehicle 1 s
    # ago, after it was due); the one 2 s ago is due in 1 s
    fast = _passed(lay, stop_line_estimate(lay, {"N_T": 1.0}, {}), "N_T", [2, 5], 1.0)
    fast = replace(fast, lanes=replace(fast.lanes, adv_speed_mps=np.full(len(lay.lanes), 26.0)))
    assert due_s(lay, fast)[ids.index("N_T")] == pytest.approx(3.0 - 2.0)
    # a faulty advance loop: its counts are not vehicles seen
    n_adv = lay.lane_adv[lay.lanes.index(lay.junction.movements[ids.index("N_T")].lanes[0])]
    faulty = est.health.faulty.copy()
    faulty[n_adv] = True
    assert np.isinf(due_s(lay, replace(est, health=replace(est.health, faulty=faulty)))[ids.index("N_T")])


def test_a_vehicle_overdue_at_an_empty_stop_line_ends_the_wait_for_those_behind_it():
    # the stream behind keeps passing the advance loop, but the vehicle 10 s ago was due 2.2 s ago and the stop
    # line has been empty for 3 s since: it is not coming (it left the lane, or stands between the loops)
    lay = Layout.build(two_phase(), CFG)
    ids = [m.id for m in lay.junction.movements]
    est = _passed(lay, stop_line_estimate(lay, {"N_T": 3.0}, {}), "N_T", [2, 6, 10], 3.0)
    assert np.isinf(due_s(lay, est)[ids.index("N_T")])
    # the stop-line loop saw a vehicle 2 s ago, after the one 10 s ago was due: that one came; the one 6 s ago is due
    est = _passed(lay, stop_line_estimate(lay, {"N_T": 2.0}, {}), "N_T", [2, 6, 10], 2.0)
    assert due_s(lay, est)[ids.index("N_T")] == pytest.approx(7.8 - 6.0)
    assert _wish_at_12s(on=True, ago_s=[1, 2, 3, 12], stop_empty_s=12.0) == 1


# R session 53 (review): what _on_its_way hands the schedule, not only the phase wished.
def test_a_queue_on_its_way_leaves_the_standing_queue_and_arrives_at_its_due_second():
    """N_T's 3 PCU passed the advance loop 1-3 s ago (7.8 s of travel: due in 4.8 s, the arrivals' row 4, the
    second that ends at 5 s); E_T's 1 PCU stands. N_T is no longer stalled; its queue moves from the standing
    queue into the arrivals at its due second, once; E_T's stays."""
    lay = Layout.build(two_phase(), CFG)
    ids = [m.id for m in lay.junction.movements]
    n, e = ids.index("N_T"), ids.index("E_T")
    est = stop_line_estimate(lay, {"N_T": 3.0, "E_T": 1.0}, {}, stop_empty_s=12.0)
    est = _passed(lay, est, "N_T", [1, 2, 3], 12.0)
    p = SchedulePolicy(ScheduleParams(stall_after_travel=True))
    arr = np.zeros((len(ids), 30))
    stalled = np.zeros(len(ids), dtype=bool)
    stalled[[n, e]] = True
    got_stalled, got_est, got_arr = p._on_its_way(lay, est, arr, stalled)
    assert got_stalled.tolist() == [i == e for i in range(len(ids))]
    assert got_est.queue_pcu[n] == 0.0 and got_est.queue_pcu[e] == 1.0
    assert got_arr[n, 4] == 3.0 and got_arr.sum() == 3.0
    assert arr.sum() == 0.0  # the caller's arrivals are not written into

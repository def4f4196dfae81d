"""`schedule`, `[schedule] stall_clock_after_travel`: stall_s's clock (a queued movement of the green phase with
nobody over its stop line for stall_s no longer holds the green) starts no earlier than the movement's queue can
have reached the stop line: when the queue appeared on its lane (counted at the advance loop) plus the zone's
travel time (distance between the loops / the advance loop's speed). A vehicle that has just passed the advance
loop after a quiet start of the green is on its way, not a blocked head (issue 9: the split's loss under
schedule, N session 55). A vehicle seen on the lane's stop-line loop since the queue appeared is at the stop line
whatever the travel time: a head standing there is a stall after stall_s (N session 56)."""

from __future__ import annotations

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy, head_seen_s, queued_since_s, reachable_s
from tests.estimate_fixtures import signal_view, stop_line_estimate
from tests.junction_fixtures import two_phase

CFG = Config()


def _wishes(on: bool, appear_s: float, at_s: list[float], head_s: float = float("inf")) -> list[int]:
    """Phase 0 (N/S) green from 100 s, decided each second, with nobody over its stop lines (all empty since before
    the green until `head_s`, occupied from then on: a head standing there); N_T's lane holds 1 PCU from `appear_s`
    on (the zone is 78 m, the advance loop's speed 10 m/s: 7.8 s of travel), E_T 1 PCU red for 20 s. Returns the
    phase wished at each of `at_s` (the green's start + elapsed)."""
    lay = Layout.build(two_phase(), CFG)
    p = SchedulePolicy(ScheduleParams(steady_s=0.0, saturation_floor=False, stall_clock_after_travel=on))
    s = p.init(lay, 0.0)
    out = []
    for t in sorted({*np.arange(100.0, max(at_s) + 1.0), appear_s, *at_s}):
        q = {"E_T": 1.0} | ({"N_T": 1.0} if t >= appear_s else {})
        est = stop_line_estimate(lay, q, {}, stop_empty_s=0.0 if t >= head_s else t - 99.0)
        s, wish = p.decide(s, lay, est, signal_view(lay, 0, t - 100.0, t, 20.0), t)
        if t in at_s:
            assert wish is not None
            out.append(wish.phase)
    return out


def test_a_queue_that_just_appeared_is_on_its_way_not_blocked():
    # off (the default): at 12 s nothing crossed for stall_s past the start-up loss, so N_T's vehicle, counted at
    # the advance loop at 10 s, is "blocked" the moment it is seen: phase 0 holds nothing and the light changes
    assert _wishes(on=False, appear_s=110.0, at_s=[112.0]) == [1]
    # on: it cannot reach the stop line before 117.8 s; phase 0 serves it
    assert _wishes(on=True, appear_s=110.0, at_s=[112.0]) == [0]


def test_the_clock_runs_once_the_vehicle_could_have_arrived():
    # on: appeared at 110 s, could be at the stop line at 117.8 s; with nobody over it by 122.8 s (stall_s after)
    # it is a stall as without the key
    assert _wishes(on=True, appear_s=110.0, at_s=[117.0, 123.0]) == [0, 1]


def test_a_queue_there_since_the_green_began_stalls_as_without_the_key():
    # queued from the green's start: it could reach the stop line at 107.8 s, past the start-up loss (103 s); the
    # clock runs from 107.8 s, so at 113 s it is a stall with the key, at 108 s (from 103 s) without it
    assert _wishes(on=True, appear_s=100.0, at_s=[112.0, 113.0]) == [0, 1]
    assert _wishes(on=False, appear_s=100.0, at_s=[108.0]) == [1]


def test_a_head_seen_on_the_stop_line_loop_stalls_after_stall_s():
    # on: the queue appeared at 110 s and a vehicle stands on the stop-line loop from 111 s, nobody crossing (a
    # shared lane's head waiting for another phase, or a full exit): the clock runs from 111 s, not 117.8 s, so at
    # 116 s it is a stall (with the travel time alone, at 122.8 s)
    assert _wishes(on=True, appear_s=110.0, at_s=[115.0, 116.0], head_s=111.0) == [0, 1]
    # seen only after the travel time: the clock runs from 117.8 s as before
    assert _wishes(on=True, appear_s=110.0, at_s=[122.0, 123.0], head_s=120.0) == [0, 1]


def test_head_seen_keeps_the_first_time_since_the_queue_appeared():
    lay = Layout.build(two_phase(), CFG)
    ids = [m.id for m in lay.junction.movements]
    lane = lay.lanes.index(lay.junction.movements[ids.index("N_T")].lanes[0])
    est = stop_line_estimate(lay, {"N_T": 1.0}, {}, stop_empty_s=3.0)
    since = queued_since_s(np.zeros(0), est, 50.0)
    assert np.isinf(head_seen_s(np.zeros(0), since, est, 50.0)).all()  # its loop empty: not seen
    occupied = stop_line_estimate(lay, {"N_T": 1.0}, {})
    seen = head_seen_s(np.zeros(0), since, occupied, 52.0)
    assert seen[lane] == 52.0 and np.isinf(np.delete(seen, lane)).all()  # no queue on the others: not tracked
    assert head_seen_s(seen, since, occupied, 53.0)[lane] == 52.0  # the first time kept
    assert head_seen_s(seen, since, est, 54.0)[lane] == 52.0  # kept while the queue stays
    gone = queued_since_s(since, stop_line_estimate(lay, {}, {}), 55.0)
    assert np.isinf(head_seen_s(seen, gone, occupied, 55.0)).all()  # the queue gone: forgotten


def test_queued_since_keeps_the_first_time_and_forgets_an_emptied_lane():
    lay = Layout.build(two_phase(), CFG)
    ids = [m.id for m in lay.junction.movements]
    lane = lay.lanes.index(lay.junction.movements[ids.index("N_T")].lanes[0])
    first = queued_since_s(np.zeros(0), stop_line_estimate(lay, {"N_T": 1.0}, {}), 50.0)
    assert first[lane] == 50.0 and np.isinf(np.delete(first, lane)).all()
    kept = queued_since_s(first, stop_line_estimate(lay, {"N_T": 2.0}, {}), 53.0)
    assert kept[lane] == 50.0
    gone = queued_since_s(kept, stop_line_estimate(lay, {}, {}), 54.0)
    assert np.isinf(gone).all()
    again = queued_since_s(gone, stop_line_estimate(lay, {"N_T": 1.0}, {}), 55.0)
    assert again[lane] == 55.0


def test_reachable_s_adds_the_zone_s_travel_time_at_the_loop_s_speed():
    lay = Layout.build(two_phase(), CFG)
    ids = [m.id for m in lay.junction.movements]
    est = stop_line_estimate(lay, {"N_T": 1.0}, {})
    since = queued_since_s(np.zeros(0), est, 50.0)
    got = reachable_s(lay, est, since, np.full(len(since), np.inf))
    assert got[ids.index("N_T")] == pytest.approx(50.0 + 78.0 / 10.0)
    assert np.isneginf(np.delete(got, ids.index("N_T"))).all()  # no queue: stall_s's clock as without the key
    assert np.isneginf(reachable_s(lay, est, np.zeros(0), np.zeros(0))).all()  # nothing tracked yet
    # a vehicle seen on the stop-line loop at 52 s is at the stop line before the travel time
    seen = np.where(np.isfinite(since), 52.0, np.inf)
    assert reachable_s(lay, est, since, seen)[ids.index("N_T")] == pytest.approx(52.0)

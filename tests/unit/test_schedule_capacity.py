"""`schedule`: a change that leaves a phase whose standing queue fills its approach is charged the
capacity it loses (issue 9: the minimum-green ping-pong on a saturated junction)."""

from __future__ import annotations

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import Cluster, SchedulePolicy, lost_rate_pcu_s
from tests.estimate_fixtures import signal_view, stop_line_estimate
from tests.junction_fixtures import two_phase

CFG = Config()


def _green_s(on: bool, full: bool) -> int:
    """Phase 0 (N/S) green from t = 100 s. N_T: its lane queued to the advance loop and 8 PCU
    beyond it (or half the lane), discharging at 0.5 PCU/s; E/W 5 PCU each, red for 30 s when
    phase 0 began. Returns how long phase 0 is kept (s)."""
    lay = Layout.build(two_phase(), CFG)
    storage = float(lay.lane_storage_pcu[lay.lanes.index("eN_0")])
    p = SchedulePolicy(ScheduleParams(steady_s=0.0, change_loses_capacity=on))
    s = p.init(lay, 0.0)
    for k in range(1, 60):
        queue = {"N_T": storage if full else storage / 2, "E_T": 5.0, "W_T": 5.0}
        est = stop_line_estimate(lay, queue, {"N_T": 0.5 * k}, hidden={"N_T": 8.0} if full else None)
        s, wish = p.decide(s, lay, est, signal_view(lay, 0, float(k), 100.0 + k, 30.0 + k), 100.0 + k)
        if wish.phase != 0:
            return k
    return 60


def test_a_full_approach_is_not_left_at_its_minimum_green_when_the_change_loses_capacity():
    # off (the default): the waited E/W queues take the green at phase 0's minimum (7 s), though
    # N_T's queue stands beyond its loops: the ping-pong
    assert _green_s(on=False, full=True) == 7
    # on: the change would lose 0.5 PCU/s x (intergreen + start-up) for good; N_T is served first
    assert _green_s(on=True, full=True) > 20
    # an approach not queued to its loops loses nothing for good: the rule does not act
    assert _green_s(on=True, full=False) == _green_s(on=False, full=False) == 7


def test_the_programme_charges_leaving_a_full_phase_before_its_standing_queue_is_served():
    lay = Layout.build(two_phase(), CFG)
    p = SchedulePolicy()
    st = p.init(lay, 0.0).statics
    # phase 0 green: a long standing queue (light: it has not waited); phase 1 a short one that waited
    cl = [[Cluster(0.0, 12.0, 24.0)], [Cluster(0.0, 5.0, 10.0, None, 15.0)]]
    assert p.plan(st, cl, cur=0, elapsed_s=7.0, startup_s=2.0)[0] == 1
    assert p.plan(st, cl, cur=0, elapsed_s=7.0, startup_s=2.0, lost_flow_pcu_s=0.5)[0] == 0


def test_the_lost_rate_is_the_full_movements_rate_of_a_phase_with_a_standing_queue():
    lay = Layout.build(two_phase(), CFG)
    storage = float(lay.lane_storage_pcu[lay.lanes.index("eN_0")])
    est = stop_line_estimate(lay, {"N_T": storage, "S_T": 2.0, "E_T": 3.0}, {}, hidden={"E_T": 3.0})
    primary = SchedulePolicy().init(lay, 0.0).statics.primary
    rate = est.sat_flow_pcu_h / 3600.0
    queue = [[Cluster(0.0, 12.0, 20.0)], [Cluster(0.0, 6.0, 12.0)]]
    # N_T full (S_T is not: not counted), E_T beyond its loop; 0.5 PCU/s each
    assert [lost_rate_pcu_s(lay, est, queue[k], k, primary, rate) for k in (0, 1)] == [0.5, 0.5]
    # a phase whose first cluster is an arrival (no standing queue) loses nothing
    arriving = [[Cluster(5.0, 2.0, 4.0, 9.0)], [Cluster(0.0, 6.0, 12.0)]]
    assert [lost_rate_pcu_s(lay, est, arriving[k], k, primary, rate) for k in (0, 1)] == [0.0, 0.5]

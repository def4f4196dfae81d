"""`schedule`: the part of a permitted turn's standing queue left once the green's other movements
have discharged is a job of its own, served after the phase's arrivals (issue 9: on RESCO cologne1,
3 PCU of a shared-lane left filtering through the gaps made the through phase's queue a 150 s job,
past its maximum green; the programme left the through phase at every minimum green)."""

from __future__ import annotations

import numpy as np

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy, standing_clusters
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.estimate_fixtures import estimate_with_queues
from tests.junction_fixtures import four_phase_raw

CFG = Config()


def test_a_permitted_queue_that_outlasts_the_through_queue_is_split_off_as_the_tail():
    # through 8 PCU at 0.5 PCU/s (16 s), right 2 PCU at 0.5 (4 s), permitted left 3 PCU at 0.05 (60 s)
    q, r = np.array([8.0, 2.0, 3.0]), np.array([0.5, 0.5, 0.05])
    w, hidden = np.array([1.0, 1.0, 2.0]), np.array([1.0, 0.0, 0.0])
    head, tail = standing_clusters(q, r, w, hidden, np.array([False, False, True]))
    assert len(head) == 1 and len(tail) == 1
    h, t = head[0], tail[0]
    assert (h.arrival_s, h.service_s, h.end_s) == (0.0, 16.0, None)
    assert np.isclose(h.count_pcu, 8.0 + 2.0 + 0.8)  # the left passes 0.05 x 16 s = 0.8 PCU meanwhile
    assert np.isclose(h.job[3], 9.0 + 2.0 + 1.6)  # the hidden PCU charged in the head, weights kept
    assert np.isclose(t.count_pcu, 2.2) and np.isclose(t.service_s, 44.0) and np.isclose(t.job[3], 4.4)
    # no permitted turn, or one done with the others: one cluster, the whole queue to its last movement
    (one,), none = standing_clusters(q, r, w, hidden, np.zeros(3, dtype=bool))
    assert none == [] and one.service_s == 60.0 and one.count_pcu == 13.0 and one.job[3] == 17.0
    (one,), none = standing_clusters(q, np.array([0.5, 0.5, 0.2]), w, hidden, np.array([False, False, True]))
    assert none == [] and one.service_s == 16.0
    # only permitted turns queued: nothing to split from
    (one,), none = standing_clusters(np.array([0.0, 0.0, 3.0]), r, w, hidden, np.array([False, False, True]))
    assert none == [] and one.service_s == 60.0


def _layout() -> Layout:
    return Layout.build(parse_intersection(four_phase_raw(shared_left_lane=True), "four_phase.toml"), CFG)


def test_the_tail_is_the_phases_last_cluster_after_its_arrivals():
    lay = _layout()
    ids = [m.id for m in lay.junction.movements]
    p = SchedulePolicy(ScheduleParams(permitted_tail=True))
    st = p.init(lay, 0.0).statics
    est = estimate_with_queues(lay, {"N_T": 8.0, "S_T": 8.0, "N_L": 12.0})
    arr = np.zeros((len(ids), int(p.params.horizon_s)))
    arr[ids.index("N_T"), 5:8] = 1.0  # a platoon 6-8 s from now
    rate = est.sat_flow_pcu_h / 3600.0 * np.where(st.permitted[0], p.params.permitted_sat_ratio, 1.0)
    cl = p.clusters(st, lay, est, arr, rate, primary=np.where(lay.serves[0], 0, st.primary))[0]
    assert [c.end_s for c in cl] == [None, 8.0, None]  # head, the platoon, the tail
    assert np.isclose(cl[0].service_s, 16.0) and np.isclose(cl[2].service_s, 67.5 - 16.0)
    assert np.isclose(cl[2].count_pcu, 12.0 - 640.0 / 3600.0 * 16.0)  # N_L: what its gaps do not pass in 16 s


def test_a_permitted_queue_past_the_maximum_green_does_not_end_the_through_green_at_its_minimum():
    """Phase 0 (N/S through, permitted lefts) green for 7 s of its 60 s maximum; N_T and S_T hold
    8 PCU each (16 s at 1,800 PCU/h), N_L 12 PCU that its gaps pass at 640 PCU/h (67.5 s), E/W
    2 PCU each. Phase 0 is extended: its through queue is the head, 16 s; the rest of N_L a later
    job. Whole, the cluster outlasted the maximum green and phase 0 was left at once."""
    lay = _layout()
    ids = [m.id for m in lay.junction.movements]
    est = estimate_with_queues(lay, {"N_T": 8.0, "S_T": 8.0, "N_L": 12.0, "E_T": 2.0, "W_T": 2.0})
    view = SignalView(0, False, 7.0, tuple(93.0 if lay.serves[0, i] else 60.0 for i in range(len(ids))))
    for tail, kept in ((True, True), (False, False)):
        p = SchedulePolicy(ScheduleParams(permitted_tail=tail))
        s, wish = p.decide(p.init(lay, 0.0), lay, est, view, 100.0)
        assert wish is not None and (wish.phase == 0) is kept and (s.next_phase == -1) is kept

"""`schedule`: a permitted turn's queue that the green cannot pass through the gaps before its
maximum waits for the turn's protected phase (issue 9: on RESCO cologne1, a permitted left of
3.8 PCU at 175 PCU/h made the through phase's queue cluster last 78 s, past its 60 s maximum; the
programme may not extend a green for such a cluster, so it left the through phase at every
minimum green)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy, permitted_rest_pcu
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw

CFG = Config()


def _layout() -> Layout:
    return Layout.build(parse_intersection(four_phase_raw(), "four_phase.toml"), CFG)


def _estimate(lay: Layout, queues: dict[str, float]) -> Estimate:
    ids = [m.id for m in lay.junction.movements]
    q = np.array([queues.get(i, 0.0) for i in ids])
    e = Estimate.empty(lay, 0.0)
    return replace(e, queue_pcu=q, departures_pcu=np.zeros(len(ids)), last_feed_t_s=0.0)


def test_the_rest_of_a_permitted_queue_is_charged_to_its_protected_phase():
    lay = _layout()
    ids = [m.id for m in lay.junction.movements]
    st = SchedulePolicy(ScheduleParams(permitted_rest=True)).init(lay, 0.0).statics
    n_l, n_t = ids.index("N_L"), ids.index("N_T")
    assert st.primary[n_l] == 1 and lay.protected[1, n_l] and st.permitted[0, n_l]
    queue = np.zeros(len(ids))
    queue[n_l], queue[n_t] = 12.0, 8.0
    primary = np.where(lay.serves[0], 0, st.primary)
    rate = np.full(len(ids), 0.2)  # PCU/s
    rest = permitted_rest_pcu(st, lay, queue, 0, primary, rate, 40.0)
    assert rest[n_l] == 4.0  # 12 PCU, 0.2 PCU/s over the 40 s left: 8 pass, 4 wait
    assert rest[n_t] == 0.0  # protected in the green phase: stays there
    assert permitted_rest_pcu(st, lay, queue, 0, primary, rate, 80.0)[n_l] == 0.0  # all pass in time
    # not the green phase's movement (phase 2 green): nothing moves
    assert not permitted_rest_pcu(st, lay, queue, 2, np.where(lay.serves[2], 2, st.primary), rate, 40.0).any()


def test_a_long_permitted_queue_does_not_end_the_through_green_at_its_minimum():
    """Phase 0 (N/S through, permitted lefts) green for 7 s of its 60 s maximum; N_T and S_T hold
    8 PCU each (16 s at 1,800 PCU/h), N_L 12 PCU that its gaps pass at 640 PCU/h (67.5 s), E/W
    2 PCU each. The schedule extends phase 0: what N_L cannot pass in 53 s waits for phase 1.
    Charged whole to phase 0, the cluster outlasted the maximum green and phase 0 was left at once."""
    lay = _layout()
    ids = [m.id for m in lay.junction.movements]
    est = _estimate(lay, {"N_T": 8.0, "S_T": 8.0, "N_L": 12.0, "E_T": 2.0, "W_T": 2.0})
    p = SchedulePolicy(ScheduleParams(permitted_rest=True))
    s = p.init(lay, 0.0)
    view = SignalView(0, False, 7.0, tuple(93.0 if lay.serves[0, i] else 60.0 for i in range(len(ids))))
    s, wish = p.decide(s, lay, est, view, 100.0)
    assert wish is not None and wish.phase == 0
    assert s.next_phase == -1
    # the old charge (all of N_L to phase 0) leaves phase 0 at once
    old = SchedulePolicy(ScheduleParams(permitted_rest=False, permitted_tail=False))
    _, wish0 = old.decide(old.init(lay, 0.0), lay, est, view, 100.0)
    assert wish0 is not None and wish0.phase != 0

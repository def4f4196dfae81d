"""`schedule`: a movement whose exit cannot take its standing queue (the room left on the neighbour
approach it feeds is less than that queue) is slowed to that room; the part of its queue left once
the phase's other movements have discharged is a job of its own, as a permitted turn's tail
(`[schedule] exit_tail`; docs/policies.md)."""

from __future__ import annotations

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies import schedule
from controller.core.policies.schedule import SchedulePolicy
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.estimate_fixtures import estimate_with_queues
from tests.junction_fixtures import four_phase_raw

CFG = Config()


def _layout() -> Layout:
    return Layout.build(parse_intersection(four_phase_raw(), "four_phase.toml"), CFG)


def test_an_exit_held_queue_left_after_the_others_is_the_phases_last_cluster():
    lay = _layout()
    ids = [m.id for m in lay.junction.movements]
    est = estimate_with_queues(lay, {"N_T": 8.0, "S_T": 14.0})
    held = np.array([i == "S_T" for i in ids])
    rate = est.sat_flow_pcu_h / 3600.0 * np.where(held, 0.3, 1.0)  # S_T: 540 PCU/h
    arr = np.zeros((len(ids), 90))
    primary = np.where(lay.serves[0], 0, SchedulePolicy().init(lay, 0.0).statics.primary)
    for on in (True, False):
        p = SchedulePolicy(ScheduleParams(exit_tail=on))
        st = p.init(lay, 0.0).statics
        cl = p.clusters(st, lay, est, arr, rate, primary=primary, exit_held=held)[0]
        if on:  # the head: N_T's 16 s, S_T passing 0.15 PCU/s meanwhile; the tail: the rest of S_T
            assert [c.end_s for c in cl] == [None, None]
            assert np.isclose(cl[0].service_s, 16.0) and np.isclose(cl[0].count_pcu, 8.0 + 2.4)
            assert np.isclose(cl[1].count_pcu, 14.0 - 2.4) and np.isclose(cl[1].service_s, 14.0 / 0.15 - 16.0)
        else:  # one job to S_T's last vehicle, past the 60 s maximum green
            assert len(cl) == 1 and np.isclose(cl[0].service_s, 14.0 / 0.15)


def test_an_exit_held_queue_does_not_end_the_green_at_its_minimum(monkeypatch: pytest.MonkeyPatch):
    """Phase 0 (N/S through) green for 7 s of its 60 s maximum; N_T 8 PCU (16 s at 1,800 PCU/h), S_T
    14 PCU whose exit takes 0.3 of it (93 s), E/W 2 PCU each. With the tail phase 0 is extended for
    N_T; whole, its standing queue outlasted the maximum green and phase 0 was left at once."""
    lay = _layout()
    ids = [m.id for m in lay.junction.movements]
    est = estimate_with_queues(lay, {"N_T": 8.0, "S_T": 14.0, "E_T": 2.0, "W_T": 2.0})
    ratio = np.array([0.3 if i == "S_T" else 1.0 for i in ids])
    monkeypatch.setattr(schedule, "exit_rate_ratio", lambda layout, est, network: ratio)
    view = SignalView(0, False, 7.0, tuple(93.0 if lay.serves[0, i] else 60.0 for i in range(len(ids))))
    for on, kept in ((True, True), (False, False)):
        p = SchedulePolicy(ScheduleParams(exit_tail=on))
        s, wish = p.decide(p.init(lay, 0.0), lay, est, view, 100.0)
        assert wish is not None and (wish.phase == 0) is kept and (s.next_phase == -1) is kept

"""`scats`' Webster cycle (`[scats] webster_cycle`) reads a shared lane's flow ratio as HCM does: the time the
lane's movements' flows take at their own per-lane saturation flows (webster.lane_shared_layout), not each
movement's flow over its whole saturation flow (which reads a lane shared by a through and a left as carrying
the through alone). R's review of session 37: no test junction had a shared lane, and the flow ratio without
the shared-lane layout passed every test."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.policies.scats import ScatsPolicy, cycle_flow_ratio_sum
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw

LAY = Layout.build(parse_intersection(four_phase_raw(shared_left_lane=True), "four_phase.toml"), Config())


def test_a_lane_shared_by_a_through_and_a_left_carries_the_time_of_both():
    """Each approach: a through on lanes 0 and 1 (720 PCU/h), a left on lane 1 too (160 PCU/h); the model gives the
    left half of lane 1, so the through's 1,800 PCU/h is over 1.5 lanes (1,200 a lane) and the left's 1,600 over
    half a lane (3,200 a lane). Lane 1 carries 360 / 1,200 + 160 / 3,200 = 0.35 of its time: the flow ratio of
    both movements (each phase: 0.35), not 720 / 1,800 = 0.4 and 160 / 1,600 = 0.1."""
    j = LAY.junction
    assert [m.lanes for m in j.movements[:2]] == [("eN_0", "eN_1"), ("eN_1",)]  # N_T, N_L: lane eN_1 shared
    s = ScatsPolicy().init(LAY, 0.0)
    cycle_s = 90.0
    left = np.array([m.turn == "left" for m in j.movements])
    dep = np.where(left, 160.0, 720.0) * cycle_s / 3600.0
    s = replace(s, dep_green_pcu=dep)
    y = cycle_flow_ratio_sum(s, LAY, Estimate.empty(LAY, 0.0), cycle_s)
    assert sorted(set(s.primary.tolist())) == [0, 1, 2, 3]  # each phase has movements charged to it
    assert y == pytest.approx(4 * (360.0 / 1200.0 + 160.0 / 3200.0))

"""Shared lanes (controller/core/shared_lanes.py): a lane used by k movements weighs as one queue."""

from __future__ import annotations

import numpy as np

from controller.core.shared_lanes import lane_weight
from tests.estimate_fixtures import shared_lane_layout


def test_lane_weight_counts_the_movements_sharing_a_lane():
    lay = shared_lane_layout()
    k = dict(zip((m.id for m in lay.junction.movements), lane_weight(lay)))
    assert k["N_T"] == k["N_L"] == 2.0  # one lane, two movements
    assert k["E_T"] == k["S_T"] == 1.0  # a lane of its own
    assert k["W_L"] == 2.0
    assert np.isclose(k["W_T"], 2.0 / 1.5)  # lanes shared by 1 and 2: harmonic mean 4/3


def test_a_shared_lane_weighs_as_a_lane_of_its_own_with_the_same_queue():
    """Rate x queue with the estimator's equal split: N (shared, Q = 8 on one lane discharging at
    1800) must weigh as E (own lane, Q = 8 at 1800) once the weight is applied; without it, half."""
    lay = shared_lane_layout()
    ids = [m.id for m in lay.junction.movements]
    q_lane = 8.0
    x = np.array(
        [q_lane * lay.lane_share[i].max() if ids[i] in ("N_T", "N_L", "E_T") else 0.0 for i in range(len(ids))]
    )
    s = lay.sat_flow_pcu_h
    n = [ids.index("N_T"), ids.index("N_L")]
    e = ids.index("E_T")
    assert np.isclose((s * x)[n].sum(), (s * x)[e] / 2.0)  # the bias
    w = lane_weight(lay) * s * x
    assert np.isclose(w[n].sum(), w[e]) and np.isclose(w[e], 1800.0 * q_lane)

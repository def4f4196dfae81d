"""Shared lanes (controller/core/shared_lanes.py): a lane used by k movements weighs as one queue."""

from __future__ import annotations

import numpy as np

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.shared_lanes import lane_weight
from controller.junctions import parse_intersection
from tests.junction_fixtures import two_phase_raw


def _shared() -> Layout:
    """two_phase with N's one lane shared by N_T and a new N_L (k = 2), and W_T on two lanes: its
    own eW_0 and eW_1, which it shares with W_L (k = 2 on one lane of two)."""
    raw = two_phase_raw()
    raw["n_links"] = 6
    for p in raw["phases"]:
        p["state"] += p["state"][0] + p["state"][1]  # N_L with N_T, W_L with W_T
    mv = {m["id"]: m for m in raw["movements"]}
    mv["N_T"]["sat_flow_pcu_h"] = 900.0  # the lane's 1800 split in two, as the importer does
    mv["W_T"]["lanes"] = ["eW_0", "eW_1"]
    raw["movements"] += [
        {**mv["N_T"], "id": "N_L", "turn": "left", "links": [4]},
        {**mv["W_T"], "id": "W_L", "turn": "left", "lanes": ["eW_1"], "links": [5], "sat_flow_pcu_h": 900.0},
    ]
    for m in raw["movements"]:
        if m["id"] in ("E_T",):
            m["conflicts"] = m["conflicts"] + ["N_L"]
        if m["id"] in ("N_T", "S_T"):
            m["conflicts"] = m["conflicts"] + ["W_L"]
    raw["movements"][-2]["conflicts"] = ["E_T", "W_T", "W_L"]
    raw["movements"][-1]["conflicts"] = ["N_T", "S_T", "N_L"]
    for m in raw["movements"]:
        if m["id"] == "W_T":
            m["conflicts"] = m["conflicts"] + ["N_L"]
    raw["detectors"] += [{"id": "W1_stop", "lane": "eW_1", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0}]
    return Layout.build(parse_intersection(raw, "shared.toml"), Config())


def test_lane_weight_counts_the_movements_sharing_a_lane():
    lay = _shared()
    k = dict(zip((m.id for m in lay.junction.movements), lane_weight(lay)))
    assert k["N_T"] == k["N_L"] == 2.0  # one lane, two movements
    assert k["E_T"] == k["S_T"] == 1.0  # a lane of its own
    assert k["W_L"] == 2.0
    assert np.isclose(k["W_T"], 2.0 / 1.5)  # lanes shared by 1 and 2: harmonic mean 4/3


def test_a_shared_lane_weighs_as_a_lane_of_its_own_with_the_same_queue():
    """Rate x queue with the estimator's equal split: N (shared, Q = 8 on one lane discharging at
    1800) must weigh as E (own lane, Q = 8 at 1800) once the weight is applied; without it, half."""
    lay = _shared()
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

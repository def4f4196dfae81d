"""`schedule`: a phase that greens only some of a movement's links does not serve it (issue 9:
on ingolstadt7 a four-lane approach whose two left lanes turn elsewhere was charged to the long
stage that greens its two right lanes; the short stage that greens the other two was never
chosen, and their queue locked the junctions upstream)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.policies.schedule import SchedulePolicy, full_service
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import Intersection
from tests.junction_fixtures import two_phase_raw

CFG = Config()


def _split_north() -> Intersection:
    """two_phase with a second north lane (link 4) on N_T: phase 0 greens N_T's first lane only
    (link 0, with S_T), phase 1 is E/W, phase 2 greens both N_T lanes (links 0 and 4)."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["phases"] = [
        {"state": "GrGrr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
        {"state": "rGrGr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 25.0},
        {"state": "GrrrG", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 5.0},
    ]
    north = raw["movements"][0]
    north["lanes"] = ["eN_0", "eN_1"]
    north["links"] = [0, 4]
    raw["detectors"] += [
        {"id": "N1_stop", "lane": "eN_1", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
        {"id": "N1_adv", "lane": "eN_1", "kind": "advance", "pos_m": 20.0, "dist_to_stop_m": 80.0},
    ]
    return parse_intersection(raw, "split_north.toml")


def test_full_service_needs_every_link_of_the_movement_green():
    lay = Layout.build(_split_north(), CFG)
    ids = [m.id for m in lay.junction.movements]
    full = full_service(lay)
    n = ids.index("N_T")
    assert lay.serves[:, n].tolist() == [True, False, True]  # any green link
    assert full[:, n].tolist() == [False, False, True]  # every link green
    # the single-link movements are unchanged
    others = [i for i in range(len(ids)) if i != n]
    assert np.array_equal(full[:, others], lay.serves[:, others])


def test_a_movement_no_phase_greens_whole_keeps_the_phases_that_green_part_of_it():
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["phases"] = [
        {"state": "GrGrr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
        {"state": "rGrGG", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 25.0},
    ]
    raw["movements"][0]["links"] = [0, 4]  # N_T: link 0 in phase 0, link 4 in phase 1
    for m in raw["movements"]:  # N_T no longer conflicts with E/W (link 4 runs beside them)
        m["conflicts"] = [c for c in m["conflicts"] if c != "N_T"] if m["id"] != "N_T" else []
    lay = Layout.build(parse_intersection(raw, "split.toml"), CFG)
    assert np.array_equal(full_service(lay), lay.serves)


def test_the_stage_that_greens_the_whole_movement_is_chosen_once_its_queue_stalls():
    """Phase 0 green from t = 100 s, N_T queued (4 PCU) and nothing crossing (its second lane is
    red), nothing else queued: once N_T has stalled (`stall_s` past the start-up loss) the
    schedule switches to phase 2, which greens both its lanes. With N_T charged to phase 0
    (any green link) its stalled queue was dropped and phase 0 held."""
    lay = Layout.build(_split_north(), CFG)
    ids = [m.id for m in lay.junction.movements]
    e = Estimate.empty(lay, 0.0)
    queue = np.array([4.0 if i == "N_T" else 0.0 for i in ids])
    est = replace(e, queue_pcu=queue, departures_pcu=np.zeros(len(ids)), last_feed_t_s=0.0)
    p = SchedulePolicy()
    s = p.init(lay, 0.0)
    assert s.statics.primary[ids.index("N_T")] == 2
    wishes = []
    for k in range(1, 30):
        view = SignalView(0, False, 7.0 + k, tuple(100.0 + k for _ in ids))
        s, wish = p.decide(s, lay, est, view, 100.0 + k)
        assert wish is not None
        wishes.append(wish.phase)
    assert wishes[:3] == [0, 0, 0]  # N_T's first lane may still be discharging
    assert 2 in wishes

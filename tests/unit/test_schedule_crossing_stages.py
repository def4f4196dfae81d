"""`schedule`, `[schedule] crossing_stages`: a change into a stage whose crossing stage (the same vehicle greens and a
crossing it keeps red) greens a crossing that would reach its maximum red before the stage is green again goes to the
crossing stage (schedule.crossing_stages, crossing_due; docs/policies.md)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy, crossing_stages
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.estimate_fixtures import estimate_with_queues
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_crossings_max_red import MAX_RED_S, scramble

CFG = Config()
NOW_S = 500.0


def test_the_crossing_stage_of_a_stage_shows_its_vehicle_links_as_it_does_and_greens_a_crossing_it_keeps_red():
    """scramble: phase 0 (N/S) and phase 2 (N/S and the crossing, link 4); E/W has none, nor has phase 2 (no stage
    greens more crossings with its vehicles), nor any stage of a junction without crossings, nor a stage whose
    vehicles the crossing's stage shows otherwise (N_T permitted, 'g', there)."""
    assert crossing_stages(scramble([4])).tolist() == [2, -1, -1]
    assert crossing_stages(scramble(None)).tolist() == [-1, -1, -1]
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["phases"] = [{**ph, "state": ph["state"] + "r"} for ph in raw["phases"]]
    raw["phases"].append({**raw["phases"][0], "state": "grGrG", "min_green_s": 10.0})
    raw["crossings"] = [4]
    assert crossing_stages(parse_intersection(raw, "j.toml")).tolist() == [-1, -1, -1]


def _wish(params: ScheduleParams, crossing_red_s: float, crossings: tuple[int, ...] | None = (4,)) -> int:
    """E/W (phase 1) green 20 s; N/S red 40 s with 3 PCU each queued (6 s of service at 1,800 PCU/h with the start-up
    loss: below phase 0's 7 s minimum); the crossing red `crossing_red_s`; the programme has just chosen phase 0
    (N/S). The phase wished."""
    lay = Layout.build(scramble(None if crossings is None else list(crossings)), CFG)
    ids = [m.id for m in lay.junction.movements]
    est = estimate_with_queues(lay, {"N_T": 3.0, "S_T": 3.0})
    red_since = tuple(NOW_S if lay.serves[1, i] else NOW_S - 40.0 for i in range(len(ids)))
    crossing = (NOW_S - crossing_red_s,) if crossings is not None else ()
    view = SignalView(1, False, 20.0, red_since, crossing)
    p = SchedulePolicy(params)
    state, _ = p.decide(p.init(lay, 0.0), lay, est, view, NOW_S)  # the first tick of this green seen
    state = replace(state, planned_s=NOW_S, next_phase=0, switch_at_s=NOW_S, next_green_s=6.0)
    _, wish = p.decide(state, lay, est, view, NOW_S)
    assert wish is not None
    return wish.phase


def test_a_change_into_the_twin_goes_to_the_crossing_stage_when_the_crossing_would_pass_its_maximum_red_first():
    """The crossing red 40 s: 40 + phase 0's minimum 7 + its red so far 40 + two intergreens reach max_red_s 90 s
    before N/S is green again: phase 2, the walk with the N/S vehicles. Red 10 s: there is time for the next N/S
    green: phase 0, as without the key, or without crossings."""
    on = ScheduleParams(crossing_stages=True)
    assert MAX_RED_S == 90.0
    assert _wish(on, crossing_red_s=40.0) == 2
    assert _wish(on, crossing_red_s=10.0) == 0
    assert _wish(ScheduleParams(), crossing_red_s=40.0) == 0
    assert _wish(on, crossing_red_s=40.0, crossings=None) == 0


def test_off_the_statics_have_no_crossing_stage_where_the_model_has_no_crossings():
    st = SchedulePolicy().init(Layout.build(scramble(None), CFG), 0.0).statics
    assert st.crossing_stage.tolist() == [-1, -1, -1] and st.crossing_green.shape == (0, 3)
    st = SchedulePolicy().init(Layout.build(scramble([4]), CFG), 0.0).statics
    assert np.array_equal(st.crossing_green, [[False, False, True]])

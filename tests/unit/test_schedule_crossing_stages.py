"""`schedule`, `[schedule] crossing_stages`: a change into a stage whose crossing stage (the same vehicle greens and a
crossing it keeps red) greens a crossing that would reach its maximum red before the stage is green again goes to the
crossing stage (schedule.crossing_stages, crossing_due; docs/policies.md)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy, crossing_due, crossing_stages
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import Intersection
from tests.estimate_fixtures import estimate_with_queues
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_crossings_max_red import MAX_RED_S, scramble, scramble_raw

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
    j = scramble(None if crossings is None else list(crossings))
    return _wish_at(params, j, (crossing_red_s,) if crossings is not None else ())


def _wish_at(params: ScheduleParams, j: Intersection, crossing_reds_s: tuple[float, ...]) -> int:
    """_wish at junction `j` (scramble's movements and phases 0 and 1), its crossings red `crossing_reds_s`."""
    lay = Layout.build(j, CFG)
    ids = [m.id for m in lay.junction.movements]
    est = estimate_with_queues(lay, {"N_T": 3.0, "S_T": 3.0})
    red_since = tuple(NOW_S if lay.serves[1, i] else NOW_S - 40.0 for i in range(len(ids)))
    crossing = tuple(NOW_S - r_s for r_s in crossing_reds_s)
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


def test_a_crossing_reaching_its_maximum_red_exactly_is_due():
    """The crossing red 33 s: 33 + phase 0's minimum 7 + its red so far 40 + two intergreens of 5 s is max_red_s 90 s
    exactly: due (the crossing may not wait past its maximum red, and the gate would bring it at that very second).
    A tenth less: not due."""
    on = ScheduleParams(crossing_stages=True)
    assert _wish(on, crossing_red_s=33.0) == 2
    assert _wish(on, crossing_red_s=32.9) == 0


def test_the_stages_minimum_green_counts_when_the_standing_queue_takes_less():
    """The queue's service is 6 s, phase 0's minimum 7 s: phase 0 will be green 7 s. The crossing red 33.5 s reaches
    90.5 s with the minimum (due), 89.5 s with the queue's 6 s alone."""
    assert _wish(ScheduleParams(crossing_stages=True), crossing_red_s=33.5) == 2


def two_crossings() -> Intersection:
    """scramble with a second crossing: crossing A (link 4) green with N/S in phase 0 and in phase 2, crossing B
    (link 5) in phase 2 only; phase 2 is phase 0's crossing stage (it greens B besides)."""
    raw = scramble_raw([4, 5])
    raw["n_links"] = 6
    ns, ew, walk = raw["phases"]
    raw["phases"] = [{**ns, "state": "GrGrGr"}, {**ew, "state": "rGrGrr"}, {**walk, "state": "GrGrGG"}]
    return parse_intersection(raw, "two_crossings.toml")


def test_only_a_crossing_the_stage_keeps_red_makes_its_crossing_stage_due():
    """Crossing A red 60 s would pass max_red_s before N/S is green again, but phase 0 greens A itself: not due
    (phase 0). Crossing B, which only phase 2 greens, red 60 s: due (phase 2)."""
    j = two_crossings()
    assert crossing_stages(j).tolist() == [2, -1, -1]
    on = ScheduleParams(crossing_stages=True)
    assert _wish_at(on, j, (60.0, 0.0)) == 0
    assert _wish_at(on, j, (0.0, 60.0)) == 2


def _due(
    j: Intersection, k: int, green_s: float, crossing_reds_s: tuple[float, ...], reds_s: dict[str, float] | None = None
) -> bool:
    """crossing_due for a change into phase `k` at NOW_S with E/W (phase 1) green: `k`'s green `green_s`, the
    crossings red `crossing_reds_s`, N_T and S_T red `reds_s` (40 s each by default), E/W's just greened."""
    lay = Layout.build(j, CFG)
    st = SchedulePolicy(ScheduleParams(crossing_stages=True)).init(lay, 0.0).statics
    reds_s = reds_s or {"N_T": 40.0, "S_T": 40.0}
    red_since = tuple(NOW_S - reds_s.get(m.id, 0.0) for m in j.movements)
    view = SignalView(1, False, 20.0, red_since, tuple(NOW_S - r_s for r_s in crossing_reds_s))
    return crossing_due(st, lay, view, NOW_S, k, green_s)


def test_the_longest_red_of_the_stages_movements_counts():
    """N_T red 40 s, S_T 20 s: N/S has waited 40 s (its longest), so the crossing red 33 s reaches 90 s (due);
    with S_T's 20 s it would not."""
    assert _due(scramble([4]), 0, 6.0, (33.0,), {"N_T": 40.0, "S_T": 20.0})
    assert _due(scramble([4]), 0, 6.0, (33.0,), {"N_T": 20.0, "S_T": 40.0})
    assert not _due(scramble([4]), 0, 6.0, (33.0,), {"N_T": 20.0, "S_T": 20.0})


def test_the_standing_queues_service_counts_when_it_outlasts_the_minimum():
    """Phase 0's queue takes 20 s (above its 7 s minimum): 20 + 40 + 10 = 70 s before N/S is green again, so the
    crossing red 20 s reaches 90 s (due); red 19 s does not."""
    assert _due(scramble([4]), 0, 20.0, (20.0,))
    assert not _due(scramble([4]), 0, 20.0, (19.0,))


def test_a_stage_without_a_crossing_stage_or_a_signal_without_crossing_reds_is_never_due():
    """Phase 1 (E/W) has no crossing stage: whatever the crossing's red, no walk rides on it (not phase 2's, the last
    stage). A roadside that reports no crossing reds (or another count than the model's crossings), or statics with
    the field's default (no crossing stages): not due."""
    assert _due(scramble([4]), 0, 6.0, (80.0,))
    assert not _due(scramble([4]), 1, 6.0, (80.0,))
    assert _due(two_crossings(), 0, 6.0, (0.0, 80.0))
    assert not _due(two_crossings(), 0, 6.0, ())
    assert not _due(two_crossings(), 0, 6.0, (80.0,))
    lay = Layout.build(scramble([4]), CFG)
    st = SchedulePolicy(ScheduleParams(crossing_stages=True)).init(lay, 0.0).statics
    view = SignalView(1, False, 20.0, tuple(NOW_S - 40.0 for _ in lay.junction.movements), (NOW_S - 80.0,))
    assert crossing_due(st, lay, view, NOW_S, 0, 6.0)
    assert not crossing_due(replace(st, crossing_stage=np.zeros(0, dtype=int)), lay, view, NOW_S, 0, 6.0)


def test_the_first_phase_may_be_the_crossing_stage():
    """scramble's phases in another order: the walk stage first (phase 0), N/S without the crossing last (phase 2).
    A change into phase 2 with the crossing red 40 s goes to phase 0."""
    raw = scramble_raw([4])
    ns, ew, walk = raw["phases"]
    raw["phases"] = [walk, ew, ns]
    j = parse_intersection(raw, "walk_first.toml")
    assert crossing_stages(j).tolist() == [-1, -1, 0]
    assert _due(j, 2, 6.0, (40.0,))
    assert not _due(j, 2, 6.0, (10.0,))


def test_a_stage_serving_no_movement_adds_no_red_of_its_own():
    """Phase 3 greens only link 5, which no movement of the model uses (the loader takes it); phase 4 shows the
    same and greens the crossing: phase 3's crossing stage. Its green (its minimum, 7 s) and two intergreens
    (10 s) before it is green again, no red of its own (N/S's 40 s is not its): the crossing red 80 s is due, 50 s is
    not."""
    raw = scramble_raw([4])
    ns, ew, walk = raw["phases"]
    raw["n_links"] = 6
    states = ("GrGrrr", "rGrGrr", "GrGrGr", "rrrrrG", "rrrrGG")
    raw["phases"] = [{**ph, "state": st} for ph, st in zip((ns, ew, walk, ns, ns), states, strict=True)]
    j = parse_intersection(raw, "unmodelled_link.toml")
    assert crossing_stages(j).tolist() == [2, -1, -1, 4, -1]
    assert not Layout.build(j, CFG).serves[3].any()
    assert _due(j, 3, 6.0, (80.0,))
    assert not _due(j, 3, 6.0, (50.0,))


def test_the_junctions_longest_intergreen_counts_twice():
    """A program transition from E/W to the walk stage of 12 s, the junction's longest intergreen (phase 0's own are
    5 s at most): 7 + 40 + 2 x 12 = 71 s before N/S is green again, so the crossing red 19 s reaches 90 s (due)."""
    raw = scramble_raw([4])
    raw["transitions"] = [{"from_phase": 1, "to_phase": 2, "states": ["ryryr", "rrrrr"], "durations_s": [3.0, 9.0]}]
    j = parse_intersection(raw, "long_transition.toml")
    assert max(j.intergreen_s(0, b) for b in range(3)) == 5.0 and j.intergreen_s(1, 2) == 12.0
    assert _due(j, 0, 6.0, (19.0,))
    assert not _due(j, 0, 6.0, (18.0,))


def test_off_the_statics_have_no_crossing_stage_where_the_model_has_no_crossings():
    st = SchedulePolicy().init(Layout.build(scramble(None), CFG), 0.0).statics
    assert st.crossing_stage.tolist() == [-1, -1, -1] and st.crossing_green.shape == (0, 3)
    st = SchedulePolicy().init(Layout.build(scramble([4]), CFG), 0.0).statics
    assert np.array_equal(st.crossing_green, [[False, False, True]])

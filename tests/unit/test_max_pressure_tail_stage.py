"""`[max_pressure] tail_stage`: a stage the city's program ends with a stage of its own (the next phase,
entered without a transition, keeping a strict subset of its greens, left through a transition) is left
through that tail stage while a permitted turn it served may stand in the junction, the target would cut it
off and the tail keeps it green, at a junction whose loops have counted a cyclist (fkk_in_delay's gneJ21: the
crossings stop 5 s before the vehicles' yellow, and a bicycle's left takes 66 m through the box).

The junction: tests/junction_fixtures.py's four-phase one, its phase 1 made the tail of phase 0 (N_T
and N_L only: S_T and S_L stop first), with the program's transition 1 -> 2; no phase serves N_L
protected, so the boxed-turn detour (clearance_detours) has nowhere to go."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy, MaxPressureState, build_statics, tail_stage
from controller.junctions import parse_intersection
from controller.model import Intersection
from tests.junction_fixtures import four_phase_raw


def _junction(transition_in: bool = False) -> Intersection:
    raw = four_phase_raw()
    raw["phases"][1]["state"] = "Ggrrrrrr"  # N_T, N_L: a strict subset of phase 0's greens
    raw["transitions"] = [{"from_phase": 1, "to_phase": 2, "states": ["yyrrrrrr"], "durations_s": [3.0]}]
    if transition_in:  # the program changes 0 -> 1 through a transition of its own: not a tail
        raw["transitions"].append({"from_phase": 0, "to_phase": 1, "states": ["Ggrryyrr"], "durations_s": [3.0]})
    return parse_intersection(raw, "four_phase_tail.toml")


def _switch(j: Intersection, on: bool, boxed: list[str], target: int = 2, cyclists: int = 1) -> int:
    p = MaxPressureParams(tail_stage=on)
    lay = Layout.build(j, Config(max_pressure=p))
    ids = [m.id for m in j.movements]
    box = np.array([m in boxed for m in ids], dtype=bool)
    state = MaxPressureState(statics=build_statics(lay, p.permitted_sat_ratio, p.switch_service_s), phase=0, boxed=box)
    v = np.zeros(len(j.phases))
    est = replace(Estimate.empty(lay, 0.0), crossed_by_class=(("bicycle", cyclists), ("car", 40)))
    return MaxPressurePolicy(p).via_clearance(state, lay, est, 0, target, v)


def test_the_tail_stage_is_the_next_phase_with_a_subset_of_greens_left_through_a_transition() -> None:
    j = _junction()
    assert [tail_stage(j, k) for k in range(4)] == [1, None, None, None]
    assert tail_stage(_junction(transition_in=True), 0) is None


def test_a_boxed_turn_leaves_through_the_tail_stage_only_with_the_key() -> None:
    j = _junction()
    assert _switch(j, on=True, boxed=["N_L"]) == 1
    assert _switch(j, on=False, boxed=["N_L"]) == 2


def test_no_boxed_turn_or_a_target_that_keeps_it_goes_straight() -> None:
    j = _junction()
    assert _switch(j, on=True, boxed=[]) == 2
    assert _switch(j, on=True, boxed=["S_L"]) == 2  # the tail stops S_L too: it would not keep it green
    assert _switch(j, on=True, boxed=["N_L"], target=1) == 1


def test_a_junction_where_no_cyclist_was_counted_goes_straight() -> None:
    assert _switch(_junction(), on=True, boxed=["N_L"], cyclists=0) == 2


def test_the_default_goes_through_the_tail_stage() -> None:
    """On since session 60: config.toml's and the dataclass's default take the tail."""
    j = _junction()
    assert MaxPressureParams().tail_stage and Config().max_pressure.tail_stage
    lay = Layout.build(j, Config())
    box = np.array([m.id == "N_L" for m in j.movements], dtype=bool)
    p = Config().max_pressure
    state = MaxPressureState(statics=build_statics(lay, p.permitted_sat_ratio, p.switch_service_s), phase=0, boxed=box)
    est = replace(Estimate.empty(lay, 0.0), crossed_by_class=(("bicycle", 1),))
    assert MaxPressurePolicy(p).via_clearance(state, lay, est, 0, 2, np.zeros(len(j.phases))) == 1

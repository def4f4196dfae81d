"""sim/restart_check.check_states finds each kind of violation in per-second signal states, and
none in what the virtual roadside shows under a plan."""

from __future__ import annotations

from controller.junctions import parse_intersection
from controller.model import PhaseCommand
from sim.restart_check import check_states
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase, two_phase_raw

# two_phase: phase 0 "GrGr", phase 1 "rGrG", yellow 3 s, all-red 2 s, min green 7, max green 60, max red 120


def kinds(states: list[str]) -> dict[str, int]:
    return {k: len(v) for k, v in check_states(two_phase(), states).items() if v}


def test_a_clean_cycle_has_no_violation():
    cycle = ["GrGr"] * 30 + ["yryr"] * 3 + ["rrrr"] * 2 + ["rGrG"] * 30 + ["ryry"] * 3 + ["rrrr"] * 2
    assert kinds(cycle * 3) == {}


def test_each_violation_is_found():
    assert kinds(["GrGr"] * 10 + ["GGrr"] + ["GrGr"] * 10)["conflict"] == 1
    assert kinds(["GrGr"] * 10 + ["yryr"] * 2 + ["rGrG"] * 10) == {"short_intergreen": 1}  # yellow 2 s < 3 s
    assert kinds(["GrGr"] * 10 + ["rGrG"] * 10) == {"short_intergreen": 1}  # no yellow
    assert kinds(["GrGr"] * 10 + ["yryr"] * 3 + ["rrrr"] + ["rGrG"] * 10) == {"short_intergreen": 1}  # all-red 1 < 2
    # links kept green across a change need no yellow (a protected turn after a permissive phase)
    assert kinds(["GrGr"] * 10 + ["yryr"] * 3 + ["rrrr"] * 2 + ["rGrG"] * 10) == {}
    assert kinds(["GrGr"] * 61) == {"long_green": 1}
    raw = two_phase_raw()
    raw["max_red_s"] = 30.0
    j = parse_intersection(raw, "t.toml")
    found = check_states(j, ["GrGr"] * 40)
    assert len(found["long_red"]) == 2 and not found["long_green"]  # E_T and W_T
    assert kinds(["GrGr"] * 10 + ["yryr"] * 3 + ["rrrr"] * 20 + ["rGrG"] * 10) == {"no_stage": 1}


def test_the_roadside_under_a_resent_hold_shows_no_violation():
    rc = RoadsideController(two_phase(), backup_s=30.0)
    states = []
    for t in range(400):
        if t % 5 == 0:
            rc.receive(PhaseCommand("J", "h", t + 1, 0, 60.0, float(t), t + 20.0), float(t))
        states.append(rc.tick(float(t), 0 if rc.mode == "local" else None, float(t)) or "GrGr")
    assert kinds(states) == {}


def test_a_stage_green_through_the_previous_intergreen_counts_from_the_intergreens_end():
    # A lagging stage (N alone) after N+S: N stays green through S's yellow. The seconds of that
    # yellow are the intergreen, not the lagging stage's green (the roadside counts 58 s, not 61).
    raw = two_phase_raw()
    raw["phases"].append({"state": "Grrr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 10.0})
    j = parse_intersection(raw, "t.toml")
    lagging = ["GrGr"] * 10 + ["Gryr"] * 3 + ["Grrr"] * 58 + ["yrrr"] * 3 + ["rrrr"] * 2 + ["rGrG"] * 10
    assert not check_states(j, lagging)["long_green"]
    too_long = ["GrGr"] * 10 + ["Gryr"] * 3 + ["Grrr"] * 61 + ["yrrr"] * 3 + ["rrrr"] * 2 + ["rGrG"] * 10
    assert len(check_states(j, too_long)["long_green"]) == 1

"""The field's entry into the city's program at a hand-back (sim/field.py program_entry) keeps a crossing's clearance
([timing] ped_min_from_program's `crossing_clearance_s`, J session 64) as the gate does: the links the entry starts
wait the crossing's seconds after its green, not the junction's yellow and all-red alone."""

from __future__ import annotations

from controller.junctions import parse_intersection
from sim.field import ProgramEntry, program_entry
from tests.junction_fixtures import two_phase_raw


def _with_crossing(clearance: dict[str, float]):
    """two_phase (yellow 3 + all-red 2) with a crossing, link 4, green with N/S (phase 0)."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["phases"][0]["state"], raw["phases"][1]["state"] = "GrGrG", "rGrGr"
    if clearance:
        raw["crossing_clearance_s"] = clearance
    return parse_intersection(raw, "J.toml")


def _entry(j) -> ProgramEntry | None:
    """A hand-back in phase 0 after 10 s of green into a program showing E/W (never green with the crossing)."""
    program = [(20.0, "rGrGr"), (3.0, "ryryr")]
    return program_entry(j, 0, 10.0, "evening", [s for _, s in program], [d for d, _ in program], [0, 1])


def test_the_entry_waits_the_crossing_s_clearance():
    j = _with_crossing({"4": 8.0})
    assert j.intergreen_s(0, 1) == 8.0
    assert _entry(j) == ProgramEntry("evening", ((0.0, "yryry"), (3.0, "rrrrr")), 8.0, 0, None)


def test_without_it_the_junction_s_intergreen():
    assert _entry(_with_crossing({})) == ProgramEntry("evening", ((0.0, "yryry"), (3.0, "rrrrr")), 5.0, 0, None)

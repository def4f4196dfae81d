"""A crossing's clearance where the program leaves it to its red part's seconds (docs/import.md rule 7, [timing]
crossing_transitions; game_drt_osm's 15-node cluster, C session 67: 7 s where the city keeps 8).

Link 0 north, link 1 a crossing (green with north, and alone in a scramble), link 2 east (a foe of the crossing).
The city's program: north with its crossing, the crossing's 5 s red part, 3 s of yellow, east, its yellow, the
scramble, 5 s all-red. The crossing's clearance is 5 + 3 = 8 s before east starts. Its end after the scramble is
followed by its own next green, which needs no clearance: the reading took those 5 s of all-red for its clearance
(netprogram.crossing_clearances_s). With the key the junction's changes run yellow_s + all_red_s = 8 s, so no
transition is written; but the way through the red part (the derived 3 s change into it, its minimum, the
program's 3 s yellow after it) ran 3 + 1 + 3 = 7 s: the red part's minimum now holds the rest (_raise_red_parts)."""

from __future__ import annotations

from controller.junctions import parse_intersection
from sim.netimport import _raise_red_parts, _walkers_after_s
from sim.netprogram import Program, ProgramPhase, crossing_clearances_s

PROGRAM = ((18.0, "GGr"), (5.0, "Grr"), (3.0, "yrr"), (19.0, "rrG"), (3.0, "rry"), (5.0, "rGr"), (5.0, "rrr"))


def _program() -> Program:
    return Program("0", "own", 0.0, tuple(ProgramPhase(d, s) for d, s in PROGRAM), "test")


def _movement(mid: str, link: int, conflicts: list[str]) -> dict:
    return {"id": mid, "approach": mid[0], "turn": "through", "from_edge": mid[0].lower(), "to_edge": "x",
            "lanes": [f"{mid[0].lower()}_0"], "links": [link], "sat_flow_pcu_h": 1800.0, "storage_pcu": 10.0,
            "conflicts": conflicts}  # fmt: skip


def _table() -> dict:
    return {
        "id": "J9",
        "n_links": 3,
        "yellow_s": 3.0,
        "all_red_s": 5.0,
        "cycle_min_s": 30.0,
        "cycle_max_s": 150.0,
        "max_red_s": 150.0,
        "phases": [
            {"state": "GGr", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 18.0},
            {"state": "Grr", "min_green_s": 1.0, "max_green_s": 60.0, "base_green_s": 1.0},
            {"state": "rrG", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 19.0},
            {"state": "rGr", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 5.0},
        ],
        "transitions": [{"from_phase": 1, "to_phase": 2, "states": ["yrr"], "durations_s": [3.0]}],
        "movements": [_movement("N_T", 0, ["E_T"]), _movement("E_T", 2, ["N_T"])],
        "detectors": [
            {"id": f"{a}_0_stop", "lane": f"{a}_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0} for a in "ne"
        ],
    }


def test_the_clearance_is_read_to_a_foe_not_to_the_crossings_own_next_green():
    phases = _program().phases
    assert crossing_clearances_s(phases, [1], 0.0) == ((1, 8.0),)  # before: 5.0 (the scramble's all-red)
    assert crossing_clearances_s(phases, [1], 8.0) == ()  # no more than the junction's own change


def test_the_red_part_holds_what_the_clearance_still_needs():
    table = _table()
    assert _walkers_after_s(parse_intersection(table, "j.toml"), 0, 1, frozenset({2})) == 7.0
    _raise_red_parts(table, _program(), {1: 10.0})
    assert table["phases"][1]["min_green_s"] == 2.0  # before: 1.0
    j = parse_intersection(table, "j.toml")
    assert _walkers_after_s(j, 0, 1, frozenset({2})) == 8.0
    assert [ph["min_green_s"] for ph in table["phases"]] == [5.0, 2.0, 5.0, 5.0]

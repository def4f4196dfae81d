"""[timing] crossing_transitions with [timing] pair_intergreens: a transition keeping a crossing's clearance keeps
each conflicting vehicle pair's intergreen too (docs/import.md rules 5 and 7).

Link 0 north through, link 1 the crossing beside it (green with north only), link 2 east, link 3 west (both conflict
with north). The city's program keeps the crossing 9 s from the end of its green to east's or west's start (6 s red
part, then north's 3 s yellow; no all-red), and north -> west 5 s apart (`pair_intergreen_s` "0>3"). The model's
change north -> west skips east's stage, so the importer writes it a transition: before the fix its vehicle change
was the uniform 3 s yellow, west started 3 s after north's green, the loader refused it and the junction's crossing
transitions were dropped without a word."""

from __future__ import annotations

import logging

from controller.junctions import parse_intersection
from sim.netimport import _add_crossing_transitions
from sim.netprogram import Program, ProgramPhase

PROGRAM = ((30.0, "GGrr"), (6.0, "Grrr"), (3.0, "yrrr"), (30.0, "rrGr"), (3.0, "rryr"), (30.0, "rrrG"), (3.0, "rrry"))


def _program() -> Program:
    return Program("0", "own", 0.0, tuple(ProgramPhase(d, s) for d, s in PROGRAM), "test")


def _movement(mid: str, link: int, conflicts: list[str]) -> dict:
    return {"id": mid, "approach": mid[0], "turn": "through", "from_edge": mid[0].lower(), "to_edge": "x",
            "lanes": [f"{mid[0].lower()}_0"], "links": [link], "sat_flow_pcu_h": 1800.0, "storage_pcu": 10.0,
            "conflicts": conflicts}  # fmt: skip


def _table(**extra) -> dict:
    raw = {
        "id": "J7",
        "n_links": 4,
        "yellow_s": 3.0,
        "all_red_s": 0.0,
        "cycle_min_s": 30.0,
        "cycle_max_s": 150.0,
        "max_red_s": 150.0,
        "phases": [
            {"state": "GGrr", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 36.0},
            {"state": "rrGr", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 30.0},
            {"state": "rrrG", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 30.0},
        ],
        "movements": [_movement("N_T", 0, ["E_T", "W_T"]), _movement("E_T", 2, ["N_T"]), _movement("W_T", 3, ["N_T"])],
        "detectors": [
            {"id": f"{a}_0_stop", "lane": f"{a}_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0} for a in "new"
        ],
    }
    raw.update(extra)
    return raw


def _gap_s(tr: dict, i: int, k: int) -> float:
    """From the end of link i's green to the start of link k's in a written transition (k starts at its end)."""
    t, end_s = 0.0, 0.0
    for state, d in zip(tr["states"], tr["durations_s"]):
        t += d
        if state[i] in "Gg":
            end_s = t
    return t - end_s


def test_without_pairs_the_transition_keeps_the_crossing():
    table = _table()
    _add_crossing_transitions(table, _program(), {1: 10.0})
    (tr,) = (tr for tr in table["transitions"] if (tr["from_phase"], tr["to_phase"]) == (0, 2))
    assert tr["states"] == ["Grrr", "yrrr"] and tr["durations_s"] == [6.0, 3.0]
    assert table["crossing_links"] == [1]


def test_the_transition_keeps_a_conflicting_pairs_intergreen():
    table = _table(pair_intergreen_s={"0>3": 5.0})
    _add_crossing_transitions(table, _program(), {1: 10.0})
    assert "transitions" in table, "the crossing transitions were dropped"
    (tr,) = (tr for tr in table["transitions"] if (tr["from_phase"], tr["to_phase"]) == (0, 2))
    assert tr["states"] == ["Grrr", "yrrr", "rrrr"] and tr["durations_s"] == [4.0, 3.0, 2.0]
    assert sum(tr["durations_s"]) == 9.0  # the crossing's clearance, as without the pair
    assert _gap_s(tr, 0, 3) == 5.0
    j = parse_intersection(table, "j.toml")
    assert j.intergreen_s(0, 2) == 9.0 and j.crossing_links == frozenset({1})


def test_a_pair_longer_than_the_crossings_clearance_needs_no_transition():
    table = _table(pair_intergreen_s={"0>3": 10.0})
    _add_crossing_transitions(table, _program(), {1: 10.0})
    assert all((tr["from_phase"], tr["to_phase"]) != (0, 2) for tr in table.get("transitions", []))
    assert parse_intersection(table, "j.toml").intergreen_s(0, 2) == 10.0  # the derived change keeps both


def test_a_refused_transition_is_named_not_dropped_silently(caplog, monkeypatch):
    from sim import netimport

    monkeypatch.setattr(netimport, "derived_intergreen_s", _without_held)
    table = _table(pair_intergreen_s={"0>3": 5.0})
    with caplog.at_level(logging.WARNING, logger="sim.netimport"):
        _add_crossing_transitions(table, _program(), {1: 10.0})
    assert "transitions" not in table and "crossing_links" not in table  # the junction keeps what it had
    assert "J7" in caplog.text and "transitions[" in caplog.text


def _without_held(from_green, to_green, yellow_s, all_red_s, clearance_s=None, held_s=None):
    from controller.model import derived_intergreen_s

    return derived_intergreen_s(from_green, to_green, yellow_s, all_red_s, clearance_s, None)

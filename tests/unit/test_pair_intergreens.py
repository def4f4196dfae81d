"""A pair of conflicting vehicle links keeps the intergreen the city's program keeps between them (junction TOML
`pair_intergreen_s`, docs/import.md rule 5): a signal-group plan that starts its groups one by one keeps some pairs
apart longer than its yellow and all-red, and every change that stops the first link and starts the second runs at
least that, whatever the order a policy takes the stages in."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.errors import JunctionError
from controller.junctions import parse_intersection
from controller.model import derived_intergreen_s
from sim.netprogram import Program, ProgramPhase, aligned_greens_s, pair_intergreens_s, stage_plan

# link 0: north through; links 1 and 2: east left and through, both conflicting with link 0. After north's yellow
# the plan starts east's left at once and east's through 2 s later (a staggered start), with no all-red phase:
# yellow 3 s, all-red 0, so the uniform change is 3 s where the plan keeps 0 -> 2 apart 5 s.
STAGGERED = ((30.0, "Grr"), (3.0, "yrr"), (2.0, "rGr"), (30.0, "rGG"), (3.0, "ryy"))


def _conflict(i: int, k: int) -> bool:
    return 0 in (i, k) and i != k


def _program(phases=STAGGERED) -> Program:
    return Program("0", "own", 0.0, tuple(ProgramPhase(d, s) for d, s in phases), "test")


def test_the_plan_keeps_a_staggered_pair_longer_than_its_yellow_and_all_red():
    plan = stage_plan(_program())
    assert (plan.yellow_s, plan.all_red_s) == (3.0, 0.0)
    pairs = pair_intergreens_s(_program().phases, _conflict, plan.yellow_s, 5.0)
    assert pairs == {(0, 1): 3.0, (0, 2): 5.0, (1, 0): 3.0, (2, 0): 3.0}


def test_without_the_pair_a_change_skipping_the_staggered_stage_starts_link_2_too_soon():
    """The model's stages: north, east left alone (the staggered start), east. A policy may go from north straight to
    east: before the fix 3 s from the end of link 0's green to the start of link 2's, where the plan keeps 5."""
    north, left, east = frozenset({0}), frozenset({1}), frozenset({1, 2})
    assert derived_intergreen_s(north, east, 3.0, 0.0) == (3.0, 0.0)  # unsafe: the plan keeps 5 s
    held = {(0, 2): 5.0}
    assert derived_intergreen_s(north, east, 3.0, 0.0, None, held) == (5.0, 2.0)
    assert derived_intergreen_s(north, left, 3.0, 0.0, None, held) == (3.0, 0.0)  # link 2 does not start
    assert derived_intergreen_s(east, north, 3.0, 0.0, None, held) == (3.0, 0.0)  # the other way: 3 s kept


def test_the_base_greens_follow_the_longer_change_and_the_cycle_stays_the_programs():
    plan = stage_plan(_program())
    pairs = pair_intergreens_s(_program().phases, _conflict, plan.yellow_s, 5.0)
    with_pairs = replace(plan, pair_intergreen_s=tuple((i, k, s) for (i, k), s in pairs.items() if s > 3.0))
    assert with_pairs.pair_intergreen_s == ((0, 2, 5.0),)
    assert aligned_greens_s(plan, 3.0, 0.0) == aligned_greens_s(with_pairs, 3.0, 0.0)  # the plan's own order:
    # north -> left (3 s, link 2 does not start) -> east (nothing stops) -> north (3 s): no change runs 0 -> 2 at once


def test_an_early_cut_off_is_the_plans_structure_not_a_clearance():
    """Link 0 is cut off while link 1, which also conflicts with link 2, keeps its green; link 2 starts 3 s after
    link 1's green: link 2 waited for link 1, so 0 -> 2 (6 s) is the plan's structure, 1 -> 2 the clearance. Where
    link 1 does not conflict with link 2, link 2 waited for link 0 alone: 0 -> 2 counts."""
    cut = ((30.0, "GGr"), (3.0, "yGr"), (3.0, "ryr"), (30.0, "rrG"), (3.0, "rry"))
    phases = _program(cut).phases
    every = pair_intergreens_s(phases, lambda i, k: i != k, 3.0, 5.0)
    assert every[(1, 2)] == 3.0 and (0, 2) not in every
    only_0 = pair_intergreens_s(phases, lambda i, k: i != k and {i, k} != {1, 2}, 3.0, 5.0)
    assert only_0[(0, 2)] == 6.0


def test_a_cut_off_is_structure_where_a_later_link_held_the_group_starting():
    """Links 2 and 3 start together; link 1, green 3 s after link 0's end, conflicts with link 3 only: the group's
    start waited for link 1, so 0 -> 2 (6 s) is the plan's order (a cross whose north ends before its south, the
    east-west stage after both)."""
    cut = ((30.0, "GGrr"), (3.0, "yGrr"), (3.0, "ryrr"), (30.0, "rrGG"), (3.0, "rryy"))
    foes = {(0, 2), (0, 3), (1, 3)}
    pairs = pair_intergreens_s(_program(cut).phases, lambda i, k: (i, k) in foes or (k, i) in foes, 3.0, 5.0)
    assert (0, 2) not in pairs and (0, 3) not in pairs and pairs[(1, 3)] == 3.0


def test_a_pair_the_plan_runs_only_across_a_stage_is_not_listed():
    """North -> west -> east: link 0 to link 2 passes west's green, a stage: no direct change between them."""
    three = ((30.0, "Grr"), (3.0, "yrr"), (30.0, "rGr"), (3.0, "ryr"), (30.0, "rrG"), (3.0, "rry"))
    pairs = pair_intergreens_s(_program(three).phases, lambda i, k: i != k, 3.0, 5.0)
    assert pairs == {(0, 1): 3.0, (1, 2): 3.0, (2, 0): 3.0}


def test_only_conflicting_pairs_count():
    pairs = pair_intergreens_s(_program().phases, lambda i, k: False, 3.0, 5.0)
    assert pairs == {}


def test_a_program_yellow_shorter_than_the_junctions_keeps_its_all_red_whole():
    """2 s of yellow then 3 s of red before link 1 starts: with the junction's 4 s yellow, 4 + 3 = 7 s."""
    short = ((30.0, "Gr"), (2.0, "yr"), (3.0, "rr"), (30.0, "rG"), (4.0, "ry"), (1.0, "rr"))
    pairs = pair_intergreens_s(_program(short).phases, lambda i, k: i != k, 4.0, 5.0)
    assert pairs == {(0, 1): 7.0, (1, 0): 5.0}


def _toml(**extra) -> dict:
    raw = {
        "id": "J",
        "n_links": 3,
        "yellow_s": 3.0,
        "all_red_s": 0.0,
        "cycle_min_s": 30.0,
        "cycle_max_s": 120.0,
        "max_red_s": 120.0,
        "phases": [
            {"state": "Grr", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 30.0},
            {"state": "rGr", "min_green_s": 2.0, "max_green_s": 60.0, "base_green_s": 2.0},
            {"state": "rGG", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 30.0},
        ],
        "movements": [
            {"id": "N_T", "approach": "N", "turn": "through", "from_edge": "n", "to_edge": "s", "lanes": ["n_0"],
             "links": [0], "sat_flow_pcu_h": 1800.0, "storage_pcu": 10.0, "conflicts": ["E_L", "E_T"]},
            {"id": "E_L", "approach": "E", "turn": "left", "from_edge": "e", "to_edge": "s", "lanes": ["e_1"],
             "links": [1], "sat_flow_pcu_h": 1800.0, "storage_pcu": 10.0, "conflicts": ["N_T"]},
            {"id": "E_T", "approach": "E", "turn": "through", "from_edge": "e", "to_edge": "w", "lanes": ["e_0"],
             "links": [2], "sat_flow_pcu_h": 1800.0, "storage_pcu": 10.0, "conflicts": ["N_T"]},
        ],
        "detectors": [
            {"id": "n_0_stop", "lane": "n_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
            {"id": "e_0_stop", "lane": "e_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
            {"id": "e_1_stop", "lane": "e_1", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
        ],
    }  # fmt: skip
    raw.update(extra)
    return raw


def test_every_rule_reads_the_pair_through_the_junctions_intergreens():
    before = parse_intersection(_toml(), "j.toml")
    assert before.intergreen_s(0, 2) == 3.0  # unsafe before the fix: link 2 3 s after link 0
    j = parse_intersection(_toml(pair_intergreen_s={"0>2": 5.0}), "j.toml")
    assert j.pair_intergreen_s == ((0, 2, 5.0),)
    assert (j.intergreen_s(0, 2), j.all_red_between_s(0, 2)) == (5.0, 2.0)
    assert (j.intergreen_s(0, 1), j.intergreen_s(2, 0), j.intergreen_s(1, 2)) == (3.0, 3.0, 0.0)
    assert j.clearance_pairs[1] == {(0, 2): 5.0}


def test_the_loader_refuses_a_transition_shorter_than_a_listed_pair():
    short = {"from_phase": 0, "to_phase": 2, "states": ["yrr", "rGr"], "durations_s": [3.0, 1.0]}
    with pytest.raises(JunctionError, match="transitions\\[0\\]") as err:
        parse_intersection(_toml(pair_intergreen_s={"0>2": 5.0}, transitions=[short]), "j.toml")
    assert "j.toml" in str(err.value) and "starts link 2 4 s after link 0's green, needs 5 s" in str(err.value)
    whole = dict(short, durations_s=[3.0, 2.0])
    j = parse_intersection(_toml(pair_intergreen_s={"0>2": 5.0}, transitions=[whole]), "j.toml")
    assert j.intergreen_s(0, 2) == 5.0


@pytest.mark.parametrize(
    ("table", "why"),
    [
        ({"0>0": 1.0}, "two links"),
        ({"0>3": 1.0}, "two links"),
        ({"a>1": 1.0}, "two links"),
        ({"0>2": -1.0}, "finite number >= 0"),
        ({"0>2": float("inf")}, "finite number >= 0"),
        ({"0>2": True}, "finite number >= 0"),
        ({"0>2": "5"}, "finite number >= 0"),
    ],
)
def test_a_bad_pair_is_refused_naming_the_field(table, why):
    with pytest.raises(JunctionError, match=why) as err:
        parse_intersection(_toml(pair_intergreen_s=table), "j.toml")
    assert "j.toml" in str(err.value) and "pair_intergreen_s." in str(err.value)


def test_pair_intergreen_s_must_be_a_table():
    with pytest.raises(JunctionError, match="pair_intergreen_s"):
        parse_intersection(_toml(pair_intergreen_s=[1, 2]), "j.toml")


def test_a_green_longer_than_the_minimum_before_more_links_join_is_a_stage_of_its_own():
    """The board's rand_sampled light 170: links 0-2 green 30 s, then link 6 joins them. Link 6 starts 33 s after
    links 3-5 end, but across a green a policy runs at its minimum: the plan's order, not a clearance (with it the
    direct change would run 30 s of all-red). A start no longer than the minimum green is part of the change."""
    phases = _program(((30.0, "GGGrrrr"), (27.0, "GGGrrrg"), (3.0, "yyyrrry"), (27.0, "rrrGGGr"), (3.0, "rrryyyr")))
    conflict = lambda i, k: (i in (3, 4, 5)) != (k in (3, 4, 5))  # noqa: E731
    pairs = pair_intergreens_s(phases.phases, conflict, 3.0, 7.0)
    assert (3, 6) not in pairs and pairs[(3, 0)] == 3.0
    assert pair_intergreens_s(phases.phases, conflict, 3.0, 30.0)[(3, 6)] == 33.0


def test_a_phase_green_only_on_a_free_link_is_red_for_the_others():
    """Bologna pasubio 218: after the yellow, 7 s in which only its free right turns (green throughout) are green,
    then the next green: 3 + 7 = 10 s between conflicting links, however long that red (no stage: the model's
    all-red reads no such phase, its change was 3 s)."""
    phases = ((40.0, "GrG"), (3.0, "yrG"), (9.0, "rrG"), (40.0, "rGG"), (3.0, "ryG"), (9.0, "rrG"))
    pairs = pair_intergreens_s(_program(phases).phases, lambda i, k: {i, k} == {0, 1}, 3.0, 7.0)
    assert pairs == {(0, 1): 12.0, (1, 0): 12.0}
    assert stage_plan(_program(phases)).all_red_s == 0.0


def test_a_flash_exit_clears_for_the_longest_pair():
    """Out of flashing operation every link is red for a full intergreen before the first green (a driver may have
    entered on flashing yellow at any moment): the pair's 5 s where the uniform change is 3 s."""
    from controller.roadside_agent import flash_exit_all_red_s

    assert flash_exit_all_red_s(parse_intersection(_toml(), "j.toml")) == 3.0
    assert flash_exit_all_red_s(parse_intersection(_toml(pair_intergreen_s={"0>2": 5.0}), "j.toml")) == 5.0


def test_the_twin_runs_the_pairs_all_red():
    """The validation twin's SUMO program of a cycle plan runs each change as the roadside does: north -> east
    (links 0 -> 1 and 2) with the pair's 2 s of all-red after the yellow, not the uniform 0 s."""
    from controller.model import CycleWish
    from sim.twin import plan_phases

    wish = CycleWish((0, 2), (30.0, 30.0))
    assert plan_phases(parse_intersection(_toml(), "j.toml"), wish)[:2] == [("Grr", 30.0), ("yrr", 3.0)]
    j = parse_intersection(_toml(pair_intergreen_s={"0>2": 5.0}), "j.toml")
    assert plan_phases(j, wish) == [("Grr", 30.0), ("yrr", 3.0), ("rrr", 2.0), ("rGG", 30.0), ("ryy", 3.0)]

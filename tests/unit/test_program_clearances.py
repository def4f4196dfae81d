"""The program's own intergreens (`[timing] program_clearances`, junction TOML `clearance_s`):
a change between two stages keeps the all-red the city's program keeps between the links it
stops and starts, not the junction's longest all-red."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controller.errors import JunctionError
from controller.junctions import parse_intersection
from controller.model import derived_intergreen_s
from sim.netprogram import Program, ProgramPhase, link_clearances_s, merge_runs, stage_plan

# RiLSA_example3 (SUMO's tools/sumolib/scenario/.../RealWorld): A -> B overlaps (B's links start
# with A's yellow), B -> C keeps 3 s yellow + 7 s all-red, C -> A 3 s yellow + 6 s all-red
RILSA3 = (
    (5, "rrrrrorrrrrr"), (28, "rrrrrorrrGGG"), (3, "rrrGGorrryyy"), (2, "rrrGGorrrrrr"), (2, "rrrGGGrrrrrr"),
    (2, "rrrGGGrrrrrr"), (9, "rrrGGGrrrrrr"), (3, "rrryyorrrrrr"), (3, "rrrrrorrrrrr"), (4, "rrrrrorrrrrr"),
    (22, "GGgrroGGgrrr"), (3, "yyyrroyyyrrr"), (1, "rrrrrorrrrrr"),
)  # fmt: skip
A, B1, B, C = (frozenset(s) for s in ({9, 10, 11}, {3, 4}, {3, 4, 5}, {0, 1, 2, 6, 7, 8}))


def _plan():
    return stage_plan(Program("0", "own", 0.0, tuple(ProgramPhase(float(d), s) for d, s in RILSA3), "test"))


def test_the_programs_own_clearances_per_pair_of_links():
    plan = _plan()
    assert (plan.yellow_s, plan.all_red_s) == (3.0, 7.0)
    clear = {(i, j): s for i, j, s in plan.clearance_s}
    assert clear[(9, 3)] == 0.0 and clear[(9, 5)] == 5.0  # B's links start with A's yellow, 5 after it
    assert clear[(0, 9)] == 9.0  # C -> A: 3 s yellow + 6 s all-red
    assert (3, 0) not in clear  # B -> C: the longest, 3 + 7 s, is the junction's uniform intergreen
    y, r = plan.yellow_s, plan.all_red_s
    assert derived_intergreen_s(A, B1, y, r, clear) == (3.0, 0.0)
    assert derived_intergreen_s(B, C, y, r, clear) == (10.0, 7.0)
    assert derived_intergreen_s(C, A, y, r, clear) == (9.0, 6.0)
    assert derived_intergreen_s(A, B1, y, r) == (10.0, 7.0)  # without: the longest everywhere


def test_a_pair_the_program_never_runs_closely_keeps_the_longest():
    """A -> C never happens in the program (B runs between): its links keep yellow + all-red."""
    plan = _plan()
    clear = {(i, j): s for i, j, s in plan.clearance_s}
    assert derived_intergreen_s(A, C, 3.0, 7.0, clear) == (10.0, 7.0)
    phases = merge_runs(tuple(ProgramPhase(float(d), s) for d, s in RILSA3))
    assert all(s < 10.0 for _, _, s in link_clearances_s(phases, 10.0, [A, B1, B, C]))


def _toml(**extra) -> dict:
    raw = {
        "id": "J",
        "n_links": 2,
        "yellow_s": 3.0,
        "all_red_s": 2.0,
        "cycle_min_s": 30.0,
        "cycle_max_s": 120.0,
        "max_red_s": 120.0,
        "phases": [
            {"state": "Gr", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 20.0},
            {"state": "rG", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 20.0},
        ],
        "movements": [
            {"id": "N_T", "approach": "N", "turn": "through", "from_edge": "n", "to_edge": "s", "lanes": ["n_0"],
             "links": [0], "sat_flow_pcu_h": 1800.0, "storage_pcu": 10.0, "conflicts": ["E_T"]},
            {"id": "E_T", "approach": "E", "turn": "through", "from_edge": "e", "to_edge": "w", "lanes": ["e_0"],
             "links": [1], "sat_flow_pcu_h": 1800.0, "storage_pcu": 10.0, "conflicts": ["N_T"]},
        ],
        "detectors": [
            {"id": "n_0_stop", "lane": "n_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
            {"id": "e_0_stop", "lane": "e_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
        ],
    }  # fmt: skip
    raw.update(extra)
    return raw


def test_the_junction_model_uses_its_clearances():
    j = parse_intersection(_toml(clearance_s={"0>1": 3.5}), "j.toml")
    assert j.clearance_s == ((0, 1, 3.5),)
    assert (j.intergreen_s(0, 1), j.all_red_between_s(0, 1)) == (3.5, 0.5)
    assert (j.intergreen_s(1, 0), j.all_red_between_s(1, 0)) == (5.0, 2.0)  # not listed: the longest
    assert replace(j, clearance_s=()).intergreen_s(0, 1) == 5.0


@pytest.mark.parametrize(
    ("table", "why"),
    [
        ({"0>0": 1.0}, "two links"),
        ({"0>2": 1.0}, "two links"),
        ({"a>1": 1.0}, "two links"),
        ({"0-1": 1.0}, "two links"),
        ({"0>1": -1.0}, "in \\[0, yellow_s"),
        ({"0>1": 5.5}, "in \\[0, yellow_s"),
        ({"0>1": float("nan")}, "in \\[0, yellow_s"),
        ({"0>1": True}, "in \\[0, yellow_s"),
        ({"0>1": "3"}, "in \\[0, yellow_s"),
    ],
)
def test_a_bad_clearance_is_refused_naming_the_field(table, why):
    with pytest.raises(JunctionError, match=why) as err:
        parse_intersection(_toml(clearance_s=table), "j.toml")
    assert "j.toml" in str(err.value) and "clearance_s." in str(err.value)


def test_clearance_s_must_be_a_table():
    with pytest.raises(JunctionError, match="clearance_s"):
        parse_intersection(_toml(clearance_s=[1, 2]), "j.toml")


def test_a_link_switched_off_and_protected_in_a_stage_is_controlled():
    """SUMO's RiLSA_example4: the south left turn (link 8) is off ('o', yield) in most phases and
    protected ('G') in a stage of its own. It is never stopped, but its protected stage needs a
    movement whose demand the policies see (it was left out as a free link: 1,071 s/veh on that
    turn under adaptive, 20 under the city's program)."""
    phases = (
        (4, "rrrrrrrrorrr"), (1, "rrrGGGrrorrr"), (35, "rrrGGgrroGGg"), (1, "rrrGGgrroyyy"), (2, "rrryyyrroyyy"),
        (1, "rrryyyrrorrr"), (6, "rrrrrrrrorrr"), (8, "rrrrrrGGGrrr"), (3, "rrrrrrGGorrr"), (13, "GGgrrrGGorrr"),
        (1, "yyyrrryyorrr"), (2, "yyyrrryyorrr"), (3, "rrrrrrrrorrr"),
    )  # fmt: skip
    plan = stage_plan(Program("0", "own", 0.0, tuple(ProgramPhase(float(d), s) for d, s in phases), "test"))
    assert 8 not in plan.free_links
    always = stage_plan(Program("0", "p", 0.0, (ProgramPhase(30, "GGo"), ProgramPhase(30, "rrO")), "test"))
    assert always.free_links == {2}  # off in every phase: not controlled


def test_a_permissive_green_shown_with_a_protected_one_keeps_its_clearance():
    """South and north lefts are protected ('G') in stages A and B, and permissive ('g', yielding)
    beside both throughs in stage C. A -> B keeps 3 s yellow + 3 s all-red in the program: being
    green together in C (one of them yielding) is no reason to drop that all-red (review)."""
    a, b, c = "GGrr", "rrGG", "gGgG"  # links: 0 south left, 1 south through, 2 north left, 3 north through
    phases = ((20, a), (3, "yyrr"), (3, "rrrr"), (20, b), (3, "rryy"), (3, "rrrr"), (30, c), (3, "yyyy"), (3, "rrrr"))
    plan = stage_plan(Program("0", "p", 0.0, tuple(ProgramPhase(float(d), s) for d, s in phases), "test"))
    clear = {(i, j): s for i, j, s in plan.clearance_s}
    sets = [frozenset(i for i, ch in enumerate(s) if ch in "Gg") for s in (a, b)]
    assert derived_intergreen_s(sets[0], sets[1], plan.yellow_s, plan.all_red_s, clear) == (6.0, 3.0)


def test_a_program_of_zero_length_has_no_clearances():
    phases = merge_runs((ProgramPhase(0.0, "Gr"), ProgramPhase(0.0, "rG")))
    assert link_clearances_s(phases, 6.0, [frozenset({0}), frozenset({1})]) == ()


def test_a_digit_that_is_not_ascii_is_refused_naming_the_field():
    with pytest.raises(JunctionError, match="clearance_s"):
        parse_intersection(_toml(clearance_s={"\u00b2>1": 1.0}), "j.toml")


def test_the_import_writes_clearances_only_with_the_key(tmp_path):
    """[timing] program_clearances: off (as shipped), no junction TOML carries clearance_s; on,
    a program whose changes keep different all-reds gets them (review: nothing guarded the key)."""
    from controller.config import load_config
    from sim.netimport import import_network
    from tests.netbuild import additional, cross_net, tl_logic

    shipped = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    assert not shipped.timing.program_clearances
    net = cross_net(tmp_path)
    ns, ew = "GGgrrrGGgrrr", "rrrGGgrrrGGg"
    add = additional(tmp_path, "p.add.xml", tl_logic("C", "x", [(30, ns), (3, ns.replace("G", "y").replace("g", "y")),
        (1, "r" * 12), (20, ew), (3, ew.replace("G", "y").replace("g", "y")), (5, "r" * 12)]))  # fmt: skip
    for key, present in ((False, False), (True, True)):
        cfg = replace(shipped, timing=replace(shipped.timing, program_clearances=key))
        out = tmp_path / f"j{key}"
        import_network(net, out, cfg, [add])
        assert ("clearance_s" in (out / "C.toml").read_text()) is present


def test_a_longer_yellow_does_not_shorten_the_programs_all_red():
    """The model shows every stopped link the junction's yellow_s (5 s here: link 0's). Link 1
    has 3 s of yellow and then 3 s of all-red before link 0 starts: the all-red clears the last
    vehicle that entered on link 1's yellow, so the change keeps 5 + 3 s, not 6 s (5 + 1: the
    green-to-green time read as it stands left 1 s of all-red; Bologna's 210)."""
    phases = ((20, "Gr"), (5, "yr"), (1, "rr"), (20, "rG"), (3, "ry"), (3, "rr"))
    plan = stage_plan(Program("0", "p", 0.0, tuple(ProgramPhase(float(d), s) for d, s in phases), "test"))
    assert (plan.yellow_s, plan.all_red_s) == (5.0, 3.0)
    clear = {(i, j): s for i, j, s in plan.clearance_s}
    assert clear == {(0, 1): 6.0}  # 1 -> 0 is 5 + 3 s as the model runs it: the uniform intergreen
    zero, one = frozenset({0}), frozenset({1})
    assert derived_intergreen_s(one, zero, 5.0, 3.0, clear) == (8.0, 3.0)
    assert derived_intergreen_s(zero, one, 5.0, 3.0, clear) == (6.0, 1.0)  # its own 5 s yellow, 1 s all-red

    # a green that ends into 'o' (the link still goes, yielding) shows no yellow: its 3 s before
    # link 1 starts are the program's whole time, not an all-red after a yellow (RiLSA_example4)
    off = ((20, "Gr"), (3, "or"), (20, "rG"), (3, "ry"), (2, "rr"))
    plan = stage_plan(Program("0", "p", 0.0, tuple(ProgramPhase(float(d), s) for d, s in off), "test"))
    assert {(i, j): s for i, j, s in plan.clearance_s}[(0, 1)] == 3.0


def test_the_clearances_leave_the_minimum_greens_as_they_were(tmp_path):
    """The key shortens intergreens and so lengthens the base greens of the stages before them;
    the minimum greens stay those of the uniform intergreen (here stage 0's 1 s, not its 4 s base:
    on Bologna's joined, the minimum greens the key raised, 230's lagging stage 3 -> 6 s, 219's
    1 -> 3 s and 6 -> 7 s, alone made adaptive 126.4 -> 153.5 s/veh on seed 1, the
    clearances alone 128.0)."""
    import tomllib

    from controller.config import load_config
    from sim.netimport import import_network
    from tests.netbuild import additional, cross_net, tl_logic

    shipped = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    net = cross_net(tmp_path)
    ns, ew = "GGgrrrGGgrrr", "rrrGGgrrrGGg"
    add = additional(tmp_path, "p.add.xml", tl_logic("C", "x", [(4, ns), (3, ns.replace("G", "y").replace("g", "y")),
        (1, "r" * 12), (30, ew), (3, ew.replace("G", "y").replace("g", "y")), (5, "r" * 12)]))  # fmt: skip
    tables = {}
    for key in (False, True):
        cfg = replace(shipped, timing=replace(shipped.timing, program_clearances=key, program_transitions=False))
        import_network(net, tmp_path / f"j{key}", cfg, [add])
        tables[key] = tomllib.loads((tmp_path / f"j{key}" / "C.toml").read_text())["phases"]
    assert [p["base_green_s"] for p in tables[False]] == [1.0, 29.0]
    assert [p["base_green_s"] for p in tables[True]] == [4.0, 30.0]
    assert [p["min_green_s"] for p in tables[True]] == [p["min_green_s"] for p in tables[False]] == [1.0, 7.0]

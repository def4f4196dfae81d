"""Two readings of the pair intergreens (`pair_intergreen_s`, docs/import.md rule 5) no other test held (R, session
67, mutants of f0b37206): the loader times a program transition from the end of the stopped link's last green state,
not its start; and a link still green when the second link starts (a permitted turn green with it, a SUMO foe) did
not hold that start, so it makes no early cut-off of the first link's time."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from types import SimpleNamespace

import pytest

import run_controller
from controller.errors import JunctionError
from controller.junctions import parse_intersection
from sim import netimport
from sim.netprogram import Program, ProgramPhase, StagePlan, aligned_greens_s, pair_intergreens_s, stage_plan
from tests.netbuild import additional, cross_net, tl_logic
from tests.unit.test_pair_intergreens import _toml


def test_a_transition_that_keeps_the_stopped_link_green_is_timed_from_the_end_of_that_green():
    """Link 0 green 2 s into the transition, then 3 s of yellow; link 2 starts at its end, 6 s in: 4 s after link 0's
    green, where the pair needs 5 (from the start of that state it would read 6, and pass)."""
    short = {"from_phase": 0, "to_phase": 2, "states": ["Grr", "yrr", "rGr"], "durations_s": [2.0, 3.0, 1.0]}
    with pytest.raises(JunctionError, match="transitions\\[0\\]") as err:
        parse_intersection(_toml(pair_intergreen_s={"0>2": 5.0}, transitions=[short]), "j.toml")
    assert "starts link 2 4 s after link 0's green, needs 5 s" in str(err.value)
    whole = dict(short, durations_s=[2.0, 3.0, 2.0])
    j = parse_intersection(_toml(pair_intergreen_s={"0>2": 5.0}, transitions=[whole]), "j.toml")
    assert j.intergreen_s(0, 2) == 7.0


def test_a_link_green_with_the_started_one_is_no_early_cut_off():
    """Link 1 (a permitted turn, 'g' beside link 2, a foe of every link) keeps its green from before link 0's end to
    after link 2's start (its 2 s alone a staggered start, under the 5 s minimum green): link 2 did not wait for it,
    so 0 -> 2 (5 s) is link 0's clearance and counts."""
    phases = ((30.0, "GGr"), (3.0, "yGr"), (2.0, "rGr"), (30.0, "rgG"), (3.0, "ryy"))
    pairs = pair_intergreens_s(tuple(ProgramPhase(d, s) for d, s in phases), lambda i, k: i != k, 3.0, 5.0)
    assert pairs[(0, 2)] == 5.0


def test_a_pair_another_program_keeps_longer_than_the_plans_own_clearance_is_kept(monkeypatch):
    """The plan lists 0 -> 1 at 3.5 s (its own program's clearance_s, under yellow 3 + all-red 2); a second program
    of the light (a WAUT's) keeps 4.5 s between them: the pair is kept at 4.5, measured against the plan's 3.5, not
    the whole 5 s change (a change stopping 0 and starting 1 would else run 3.5 s, under the city's 4.5). Session 68,
    R: mutant Nf0b-9 (the kept pairs compared with yellow_s + all_red_s only) survived the other tests."""
    monkeypatch.setattr(netimport, "_foes", lambda tl, links: lambda i, k: i != k)

    def program(red_s: float) -> tuple[ProgramPhase, ...]:
        phases = ((30.0, "Gr"), (3.0, "yr"), (red_s, "rr"), (30.0, "rG"), (3.0, "ry"), (2.0, "rr"))
        return tuple(ProgramPhase(d, s) for d, s in phases)

    plan = StagePlan((), 3.0, 2.0, 70.0, frozenset(), frozenset(), frozenset(), clearance_s=((0, 1, 3.5),))
    conns = SimpleNamespace(vehicle=[SimpleNamespace(link=0), SimpleNamespace(link=1)])
    both = netimport._with_pair_intergreens(plan, None, [program(0.5), program(1.5)], conns, (3.0, 2.0, 5.0))
    assert both.pair_intergreen_s == ((0, 1, 4.5),)
    # its own program alone keeps what the plan lists: nothing to add
    own = netimport._with_pair_intergreens(plan, None, [program(0.5)], conns, (3.0, 2.0, 5.0))
    assert own.pair_intergreen_s == ()


def test_the_base_greens_count_a_pairs_longer_change_and_the_cycle_stays_the_programs():
    """Two stages, 33 s spans (30 s green + 3 s yellow), the model's change derived (no program transitions, all-red
    0): a pair 0 -> 1 kept 5 s makes stage 0's change 5 s, so its base green is 28 s and the base cycle the program's
    66 s (without the pair read, 30 s and a 68 s cycle). Session 68, R: mutant Nf0b-8 (aligned_greens_s' pair loop
    removed) survived the other tests."""
    phases = ((30.0, "Gr"), (3.0, "yr"), (30.0, "rG"), (3.0, "ry"))
    plan = stage_plan(Program("0", "own", 0.0, tuple(ProgramPhase(d, s) for d, s in phases), "test"))
    derived = replace(plan, transitions=())
    assert aligned_greens_s(derived, 3.0, 0.0) == (30.0, 30.0)
    greens = aligned_greens_s(replace(derived, pair_intergreen_s=((0, 1, 5.0),)), 3.0, 0.0)
    assert greens == (28.0, 30.0)
    assert sum(greens) + 5.0 + 3.0 == plan.cycle_s == 66.0


def test_a_pair_only_a_program_the_lights_waut_switches_to_keeps_is_kept(tmp_path, capsys):
    """The model runs program a (uniform 3 s yellows); the light's WAUT switches it to b at 600 s, which starts the
    east and west rights (links 3 and 9) 2 s after the other east-west links: 5 s after the north-south foes' green
    (7 -> 3, 1 -> 9). The junction file keeps those pairs, read from b (session 68, R: mutant Nf0b-10, the pairs of
    the modelled program only, survived)."""
    ns, ew = "GGgrrrGGgrrr", "rrrGGgrrrGGg"  # cross_net's 12 links: 0-2 from N, 3-5 from E, 6-8 from S, 9-11 from W

    def yellow(state: str) -> str:
        return state.replace("G", "y").replace("g", "y")

    cross_net(tmp_path)
    a = tl_logic("C", "a", [(30, ns), (3, yellow(ns)), (30, ew), (3, yellow(ew))])
    b = tl_logic("C", "b", [(30, ns), (3, yellow(ns)), (2, "rrrrGgrrrrGg"), (28, ew), (3, yellow(ew))])
    waut = '<WAUT id="w" startProg="a" refTime="0"><wautSwitch time="600" to="b"/></WAUT>'
    additional(tmp_path, "city.add.xml", f'{b}\n{a}\n{waut}<wautJunction wautID="w" junctionID="C"/>')
    cfg = tmp_path / "s.sumocfg"
    cfg.write_text(
        '<configuration><input><net-file value="cross.net.xml"/><additional-files value="city.add.xml"/></input>'
        "</configuration>"
    )
    assert run_controller.run(["import-net", str(cfg), "--out", str(tmp_path / "out")]) == (0, "import-net")
    capsys.readouterr()
    table = tomllib.loads((tmp_path / "out" / "C.toml").read_text())
    assert [p["id"] for p in table["programs"]] == ["b"]
    assert table["pair_intergreen_s"] == {"1>9": 5.0, "7>3": 5.0}

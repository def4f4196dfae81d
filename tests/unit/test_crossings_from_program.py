"""`[timing] ped_min_from_program`, `crossing_red_is_clearance`: a crossing asked no more than its program gives.

netconvert's signalised mid-block crossing (F's midblock_ped, session 59): the road green 77 s, its yellow 3 s, the
crossing green 5 s, then 5 s with everything red (the crossing's clearance: SUMO's crossings show no yellow). Without
the keys the crossing's stage runs walk + length / speed (15.67 s) of green and every change the derived 3 s yellow and
5 s all-red, both ways; with ped_min_from_program the crossing stage's minimum is the program's 5 s, with
crossing_red_is_clearance the two changes keep the program's transitions (3 s and 5 s), the crossing written as
`crossing_links`."""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from itertools import product
from pathlib import Path

import pytest
import sumolib

from controller.config import load_config
from controller.core.estimation import Layout
from controller.core.policies.phases import primary_phases
from controller.core.safety import stage_intergreen_s
from controller.errors import JunctionError
from controller.junctions import load_intersections, parse_intersection
from controller.model import PhaseCommand
from sim.netimport import _walkers_after_s, import_network
from sim.netprogram import ProgramPhase, shortest_green_s
from sim.roadside import RoadsideController
from tests.netbuild import WALK, cross_net, midblock_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")


def _cfg(ped_min: bool, red_clears: bool, kept: bool = False):
    timing = replace(CFG.timing, ped_min_from_program=ped_min, crossing_red_is_clearance=red_clears)
    return replace(CFG, timing=replace(timing, crossing_transitions=kept))


ON, OFF, KEPT = _cfg(True, True), _cfg(False, False), _cfg(False, False, True)


@pytest.fixture(scope="module")
def midblock(tmp_path_factory) -> Path:
    return midblock_net(tmp_path_factory.mktemp("midblock"))


def _import(net: Path, out: Path, cfg) -> dict:
    import_network(net, out, cfg)
    (junction,) = load_intersections(out).values()
    return {"junction": junction, "table": tomllib.loads((out / f"{junction.id}.toml").read_text())}


@pytest.fixture(scope="module")
def incoming(tmp_path_factory) -> Path:
    """netconvert's `--tls.layout incoming` with crossings (one light, four one-lane approaches): each approach's
    stage is a crossing part (13 s, then 15 s for the others), a 5 s part with the crossings red and every vehicle
    link as before (their clearance), then 3 s of yellow."""
    return cross_net(tmp_path_factory.mktemp("incoming"), "inc", None, *WALK, "--tls.layout", "incoming")


def test_off_the_crossing_stage_runs_the_formula_and_the_derived_intergreens(midblock, tmp_path):
    j = _import(midblock, tmp_path / "off", OFF)["junction"]
    _road, crossing = j.phases
    assert crossing.ped_min_green_s == crossing.min_green_s == 15.67  # 5 s walk + 12.8 m / 1.2 m/s
    assert j.transitions == () and j.intergreen_s(0, 1) == j.intergreen_s(1, 0) == 8.0


def test_on_the_crossing_gets_the_program_green_and_transitions(midblock, tmp_path):
    got = _import(midblock, tmp_path / "on", ON)
    j = got["junction"]
    road, crossing = j.phases
    assert crossing.ped_min_green_s == crossing.min_green_s == 5.0 and crossing.base_green_s == 5.0
    assert got["table"]["crossing_links"] == [4]
    assert j.intergreen_s(0, 1) == 3.0 and j.intergreen_s(1, 0) == 5.0  # the city's yellow, the crossing's clearance
    assert j.base_cycle_s() == 90.0
    assert road.min_green_s == 7.0  # the road's stage as without the key


def test_each_key_alone(midblock, tmp_path):
    """The pedestrian minimum and the transitions are two keys, each changing only its part."""
    ped = _import(midblock, tmp_path / "ped", _cfg(True, False))
    assert ped["junction"].phases[1].min_green_s == 5.0 and ped["junction"].transitions == ()
    assert "crossing_links" not in ped["table"]
    red = _import(midblock, tmp_path / "red", _cfg(False, True))["junction"]
    assert red.phases[1].min_green_s == 15.67 and red.phases[1].base_green_s == 5.0
    assert red.intergreen_s(0, 1) == 3.0 and red.intergreen_s(1, 0) == 5.0


def test_the_loader_reads_a_crossing_red_as_its_clearance_only_when_named(midblock, tmp_path):
    table = _import(midblock, tmp_path / "t", ON)["table"]
    del table["crossing_links"]
    with pytest.raises(JunctionError, match="shows link 4 less than yellow_s"):
        parse_intersection(table, "m.toml")
    table["crossing_links"] = [0]  # a vehicle link always shows its yellow
    with pytest.raises(JunctionError, match="crossing_links"):
        parse_intersection(table, "m.toml")


def test_shortest_green_counts_min_dur_and_wraps_the_cycle():
    phases = (
        ProgramPhase(10.0, "Gr"),
        ProgramPhase(3.0, "yr"),
        ProgramPhase(20.0, "rG", 6.0),
        ProgramPhase(4.0, "rG"),
        ProgramPhase(3.0, "ry"),
        ProgramPhase(2.0, "Gr"),
    )
    assert shortest_green_s(phases, 0) == 12.0  # 2 s at the cycle's end and 10 s at its start: one green
    assert shortest_green_s(phases, 1) == 10.0  # an actuated phase counted at its minDur
    assert shortest_green_s((ProgramPhase(5.0, "G"),), 0) is None


@pytest.fixture(scope="module")
def opposite(tmp_path_factory) -> Path:
    """netconvert's default layout with crossings: each pair of opposite approaches' stage is a crossing part (37 s),
    a 5 s part with the crossings red and every vehicle link as before (their clearance), then 3 s of yellow."""
    return cross_net(tmp_path_factory.mktemp("opposite"), "opp", None, *WALK)


def _program_clearance_s(net: Path, crossing: int) -> float:
    """From the end of the crossing's green in SUMO's program to the next start of a link it is never green with
    (read here from the network file alone): 5 s of its red part + 3 s of yellow on netconvert's layouts."""
    (tl,) = sumolib.net.readNet(str(net), withPrograms=True).getTrafficLights()
    (program,) = tl.getPrograms().values()
    phases = [(p.duration, p.state) for p in program.getPhases()]
    green = [{i for i, c in enumerate(s) if c in "Gg"} for _, s in phases]
    apart = {j for g in green for j in g} - {j for g in green if crossing in g for j in g}
    n, best = len(phases), math.inf
    for k in range(n):
        if crossing in green[k - 1] and crossing not in green[k]:
            t = 0.0
            for step in range(n):
                if apart & (green[(k + step) % n] - green[(k + step - 1) % n]):
                    best = min(best, t)
                    break
                t += phases[(k + step) % n][0]
    return best


KEY_OFF_GAP = pytest.mark.xfail(
    strict=True,
    reason="both keys off, a change from the crossing part straight to the next approach runs the derived 3 s "
    "yellow where the city gives 5 + 3 s (docs/import.md rule 7: the walk and the whole crossing time are in the "
    "green instead)",
)


@pytest.mark.parametrize("layout", ["opposite", "incoming"])
@pytest.mark.parametrize("ped_min, kept", [pytest.param(False, False, marks=KEY_OFF_GAP), (False, True), (True, False)])
def test_every_change_keeps_a_crossing_clearance_after_its_green(layout, ped_min, kept, request, tmp_path):
    """After a crossing's green, every change the gate allows keeps it at least the clearance the city's program
    gives it (its red part + the yellow, 8 s) before a link it is never green with starts: with ped_min_from_program
    a policy that skips the crossings' red part (adaptive from the crossing part straight to the next approach) runs
    it as all-red; with crossing_transitions as the program's red part, then the yellow; with neither, those changes
    run the derived 3 s yellow."""
    net = request.getfixturevalue(layout)
    j = _import(net, tmp_path / layout, _cfg(ped_min, False, kept))["junction"]
    crossings = [m.links[0] for m in j.crossings]
    assert crossings
    checked = 0
    for i in crossings:
        city_s = _program_clearance_s(net, i)
        assert city_s == 8.0
        apart = {k for p in j.phases for k in p.green_links()} - {
            k for p in j.phases if i in p.green_links() for k in p.green_links()
        }
        for a, b in product(j.phases, j.phases):
            started = b.green_links() - a.green_links()
            if i in a.green_links() and i not in b.green_links() and started & apart:
                assert j.intergreen_s(a.index, b.index) >= city_s, (i, a.index, b.index)
                assert j.intergreen_s(a.index, b.index) - j.all_red_between_s(a.index, b.index) == j.yellow_s
                checked += 1
        if not ped_min:  # through the crossing-red part too: the crossing red at once, that stage's minimum, its change
            foes = frozenset(apart) - {i}
            assert min(_walkers_after_s(j, a.index, i, foes) for a in j.phases if i in a.green_links()) >= city_s
    assert checked >= 2 * len(crossings)
    # the city's own order is unchanged: the crossings' red part is a stage of its own, the cycle the program's; key
    # off the change into it is immediate (SUMO's crossings show no yellow: the model's crossing_links)
    assert j.base_cycle_s() == 90.0 and set(j.cycle_intergreens_s()) == ({3.0} if ped_min else {0.0, 3.0})


def test_the_loader_reads_crossing_clearances_naming_a_crossing(incoming, tmp_path):
    assert "crossing_clearance_s" not in _import(incoming, tmp_path / "off", OFF)["table"]
    table = _import(incoming, tmp_path / "t", _cfg(True, False))["table"]
    assert table["crossing_clearance_s"] == {"12": 8.0, "13": 8.0, "14": 8.0, "15": 8.0}
    bad = dict(table, crossing_clearance_s={"3": 8.0})  # link 3 serves a movement: no crossing's
    with pytest.raises(JunctionError, match=r"crossing_clearance_s\.3"):
        parse_intersection(bad, "j.toml")
    bad = dict(table, crossing_clearance_s={"13": -1.0})
    with pytest.raises(JunctionError, match="finite number"):
        parse_intersection(bad, "j.toml")


def test_a_change_stopping_only_crossings_takes_its_yellow_from_their_program_green(incoming, tmp_path):
    """The model shows the crossings 3 s of yellow where the program shows them green (the change to the 5 s part
    stops only them and starts nothing, and it is derived): the model's green for the crossing part is 10 s, not
    13. Off, its pedestrian minimum (walk + length / speed, 10.33 s) is above that green (on W's grid of session 62
    20 s: every cycle at the minimums longer than the city's); with ped_min_from_program the crossing is asked at
    most the green the model's run of the program gives it (13 - 3 s), not the program's 13 s."""
    off = _import(incoming, tmp_path / "off", KEPT)["junction"]
    ped = _import(incoming, tmp_path / "ped", _cfg(True, False))["junction"]
    assert [p.base_green_s for p in ped.phases] == [10.0, 5.0, 12.0, 5.0, 12.0, 5.0, 12.0, 5.0]
    assert ped.intergreen_s(0, 1) == 3.0 and ped.base_cycle_s() == 90.0
    # with crossing_transitions the importer's transitions write the crossings as crossing_links: the change into the
    # crossings' red part is immediate, as the program's (SUMO's crossings show no yellow), so the greens are the
    # program's
    assert [p.base_green_s for p in off.phases] == [13.0, 5.0, 15.0, 5.0, 15.0, 5.0, 15.0, 5.0]
    assert off.intergreen_s(0, 1) == 0.0 and off.base_cycle_s() == 90.0
    # with crossing_transitions the transitions keep 8 s after each crossing's green where yellow_s is 3: 5 s of it
    # credited to the walk and crossing time (10.33 - 5 = 5.33 s), the stage then at the configured 7 s
    # (_credit_crossing_clearances)
    assert [p.ped_min_green_s for p in off.phases][::2] == [5.33] * 4
    assert [p.min_green_s for p in off.phases][::2] == [7.0] * 4
    # the two crossings of stages 0 and 4 get 13 s and 15 s in the program, those of stages 2 and 6 15 s twice
    assert [p.ped_min_green_s for p in ped.phases][::2] == [10.0, 10.33, 10.0, 10.33]
    assert [p.min_green_s for p in ped.phases][1::2] == [5.0] * 4  # the crossings' red part as without the key
    assert ped.min_cycle_s() <= ped.base_cycle_s()


@pytest.mark.parametrize("layout", ["opposite", "incoming"])
def test_the_roadside_keeps_the_crossing_red_part_when_a_policy_skips_it(layout, request, tmp_path):
    """[timing] crossing_transitions: a policy that jumps from a crossing's stage straight to a stage starting links
    never green with the crossing (skipping the stage of the crossings' red part) gets the program's way: the
    crossings red and every other link of the stage still green for 5 s, then the 3 s yellow, so the crossing keeps
    the program's 8 s before a conflicting green (the roadside shows it; the gate's intergreen counts it). Without
    the transitions the importer writes for such changes the roadside shows 3 s."""
    net = request.getfixturevalue(layout)
    j = _import(net, tmp_path / layout, KEPT)["junction"]
    (i, *_) = (m.links[0] for m in j.crossings if m.links[0] in j.phases[0].green_links())
    skip = next(b for b in range(2, len(j.phases)) if i not in j.phases[b].green_links())
    assert stage_intergreen_s(j, 0, skip) == j.intergreen_s(0, skip) == 8.0
    apart = {k for p in j.phases for k in p.green_links()} - {
        k for p in j.phases if i in p.green_links() for k in p.green_links()
    }
    rc = RoadsideController(j, backup_s=1e6, max_validity_s=1e6)
    rc.receive(PhaseCommand(j.id, "p1", 1, 0, 1.0, 0.0, 1e6), 0.0)
    assert {rc.tick(t / 2, 0, t / 2) for t in range(60)} == {j.phases[0].state}
    rc.receive(PhaseCommand(j.id, "p2", 2, skip, 1.0, 30.0, 1e6), 30.0)
    shown = [(t / 2, rc.tick(t / 2, None, 0.0)) for t in range(60, 100)]
    off_s = min(t for t, s in shown if s[i] not in "Gg")
    start_s = min(t for t, s in shown if any(s[k] in "Gg" for k in apart))
    assert start_s - off_s >= 8.0
    held = {s for t, s in shown if off_s <= t < off_s + 5.0}  # the program's crossing-red part, vehicles still green
    assert held == {j.phases[1].state}


def test_the_change_into_the_crossing_red_part_is_immediate_and_the_red_part_holds_the_rest(incoming, tmp_path):
    """[timing] crossing_transitions: the change from a crossing's stage into its red part (the crossings stop, every
    vehicle link keeps its green) shows the crossings red at once, as SUMO's program does (a crossing has no yellow):
    the model's intergreen 0, the gate's too, and the roadside goes straight to the red part. That stage's minimum
    then holds what the crossing's clearance still needs before the yellow to the next approach: the program's red
    part (5 s), so the crossing keeps its 8 s that way too. Without the key the crossings show the derived yellow."""
    j = _import(incoming, tmp_path / "kept", KEPT)["junction"]
    off = _import(incoming, tmp_path / "off", OFF)["junction"]
    assert j.crossing_links and not off.crossing_links
    assert j.intergreen_s(0, 1) == stage_intergreen_s(j, 0, 1) == 0.0 and off.intergreen_s(0, 1) == 3.0
    assert [p.min_green_s for p in j.phases][1::2] == [5.0] * 4
    rc = RoadsideController(j, backup_s=1e6, max_validity_s=1e6)
    rc.receive(PhaseCommand(j.id, "p1", 1, 0, 1.0, 0.0, 1e6), 0.0)
    assert {rc.tick(t / 2, 0, t / 2) for t in range(60)} == {j.phases[0].state}
    rc.receive(PhaseCommand(j.id, "p2", 2, 1, 1.0, 30.0, 1e6), 30.0)
    shown = [rc.tick(t / 2, None, 0.0) for t in range(60, 70)]
    assert shown[0] == shown[-1] == j.phases[1].state  # no yellow on a crossing between them
    assert not any("y" in s for s in shown)


def test_a_movement_is_charged_to_the_crossing_red_twin_on_a_tie(incoming, tmp_path):
    """primary_phases (schedule, scats, webster): where a crossing's stage and its crossing-red twin have the same base
    green (the program's, once the change between them is immediate), a movement both serve is charged to the twin,
    the stage whose minimum is not the walkers'; without crossing_links the lowest index as before."""
    table = _import(incoming, tmp_path / "kept", KEPT)["table"]
    for ph in table["phases"][:2]:
        ph["base_green_s"] = 9.0
    j = parse_intersection(table, "inc.toml")
    bare = parse_intersection({k: v for k, v in table.items() if k not in ("transitions", "crossing_links")}, "i")
    served = [i for i, m in enumerate(j.movements) if j.phases[0].green_links() & frozenset(m.links)]
    for protected in (False, True):
        assert {int(primary_phases(Layout.build(j, CFG), protected_first=protected)[i]) for i in served} == {1}
        assert {int(primary_phases(Layout.build(bare, CFG), protected_first=protected)[i]) for i in served} == {0}

"""Time-of-day programs (SUMO's `<WAUT>`) against the real SUMO: sim/netprogram.py's
Waut.program_at gives the program libsumo runs, second by second, for WAUTs of every shape a
city's export may hold (a reference time, a period, switches out of order, one whose time has
passed, h:m:s times, a begin after the switches); the field's hand-back resumes the program the
WAUT has in force at that time, and with `[timing] waut_program_at_begin` the model of a simulated
run is the program in force at its begin (without it: the one loaded last, which SUMO does not start on)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("sumo")

from controller.config import Config
from controller.model import PhaseCommand
from sim.field import SumoField
from sim.netimport import import_network, read_net
from sim.netprogram import waut_schedules
from sim.simulate import SimulateRequest, prepare
from sim.sumo import load_api
from tests.netbuild import additional, cross_net, tl_logic

END_S = 400


@pytest.fixture(scope="module")
def cross(tmp_path_factory) -> tuple[Path, str, list[tuple[float, str]]]:
    """The cross network, its light's id and its program's phases (programID '0')."""
    cwd = tmp_path_factory.mktemp("waut")
    net = cross_net(cwd)
    tl = read_net(net).getTrafficLights()[0]
    phases = [(float(p.duration), p.state) for p in tl.getPrograms()["0"].getPhases()]
    return net, tl.getID(), phases


def _evening(tid: str, phases: list[tuple[float, str]]) -> str:
    """A second program: every green 20 s longer (another cycle)."""
    return tl_logic(tid, "evening", [(d + 20.0 if "G" in s and "y" not in s else d, s) for d, s in phases])


def _waut_file(cwd: Path, tid: str, phases, waut: str, name: str = "w.add.xml") -> Path:
    body = f'{_evening(tid, phases)}\n  {waut}\n  <wautJunction wautID="w" junctionID="{tid}"/>'
    return additional(cwd, name, body)


def _programs_run(api, net: Path, add: Path, tid: str, begin_s: float) -> list[str]:
    """The program SUMO runs in each second from begin_s to END_S (after each step)."""
    api.start(["sumo", "-n", str(net), "-a", str(add), "-b", f"{begin_s:g}", "-e", str(END_S), "--no-step-log", "true"])
    try:
        out = []
        for t in range(int(begin_s) + 1, END_S):
            api.simulationStep(float(t))
            out.append(api.trafficlight.getProgram(tid))
        return out
    finally:
        api.close()


WAUTS = {
    "in order": '<WAUT id="w" refTime="0" startProg="0"><wautSwitch time="100" to="evening"/>'
    '<wautSwitch time="200" to="0"/></WAUT>',
    "reference time, h:m:s": '<WAUT id="w" refTime="30" startProg="0"><wautSwitch time="0:01:40" to="evening"/>'
    '<wautSwitch time="200" to="0"/></WAUT>',
    "period": '<WAUT id="w" refTime="50" period="150" startProg="0"><wautSwitch time="20" to="evening"/>'
    '<wautSwitch time="130" to="0"/></WAUT>',
    "out of order": '<WAUT id="w" refTime="0" startProg="0"><wautSwitch time="200" to="0"/>'
    '<wautSwitch time="100" to="evening"/></WAUT>',
    "a switch whose time has passed": '<WAUT id="w" refTime="0" startProg="0"><wautSwitch time="100" to="evening"/>'
    '<wautSwitch time="250" to="0"/><wautSwitch time="150" to="evening"/></WAUT>',
}


@pytest.mark.parametrize("shape", sorted(WAUTS))
@pytest.mark.parametrize("begin_s", [0.0, 160.0])
def test_program_at_is_the_program_sumo_runs(cross, tmp_path, shape, begin_s):
    net, tid, phases = cross
    add = _waut_file(tmp_path, tid, phases, WAUTS[shape])
    waut = waut_schedules([add])[tid]
    ran = _programs_run(load_api(prefer_libsumo=True), net, add, tid, begin_s)
    # after the step to t, SUMO has run the switches of the seconds before t
    expected = [waut.program_at(begin_s, float(t - 1)) for t in range(int(begin_s) + 1, END_S)]
    assert ran == expected
    assert len(set(ran)) == 2 or begin_s > 0  # from 0 every shape runs both programs (the check is not vacuous)
    changes = [(begin_s, ran[0])] + [(begin_s + i, p) for i, p in enumerate(ran) if i and p != ran[i - 1]]
    assert list(waut.timetable(begin_s, END_S - 1.0)) == changes  # the run's programs and when each takes over


def test_a_hand_back_resumes_the_program_in_force_then(cross, tmp_path):
    """SUMO does not switch a light TraCI drives; the hand-back after the switch's time resumed
    the program of the start ('0'), not the city's 'evening' in force then."""
    net, tid, phases = cross
    add = _waut_file(tmp_path, tid, phases, WAUTS["in order"])
    cfg = Config()
    junctions = import_network(net, tmp_path / "j", cfg, [add], begin_s=0.0).junctions()
    api = load_api(prefer_libsumo=True)
    api.start(["sumo", "-n", str(net), "-a", str(add), "-e", str(END_S), "--no-step-log", "true"])
    try:
        field = SumoField(api, junctions, 60.0, wauts=waut_schedules([add]), begin_s=0.0)
        api.simulationStep(10.0)
        api.trafficlight.setRedYellowGreenState(tid, phases[0][1])  # the roadside applies a plan
        api.simulationStep(150.0)
        assert api.trafficlight.getProgram(tid) == "online"  # the WAUT's switch at 100 s left it alone
        field._resume_program(tid, 0, 5.0, 150.0)
        api.simulationStep(151.0)
        assert api.trafficlight.getProgram(tid) == "evening"
        field._resume_program(tid, 0, 5.0, 250.0)  # after the switch back at 200 s
        assert api.trafficlight.getProgram(tid) == "0"
    finally:
        api.close()


def test_the_model_is_the_program_in_force_at_the_begin(cross, tmp_path):
    """'evening' is loaded last, the WAUT starts on '0': SUMO runs '0' from the begin (and
    'evening' from 100 s). The model described 'evening' (green 20 s longer) from the start; with
    `[timing] waut_program_at_begin` it describes '0' (off: the program loaded last, as before)."""
    net, tid, phases = cross
    add = _waut_file(tmp_path, tid, phases, WAUTS["in order"])
    sumocfg = tmp_path / "w.sumocfg"
    sumocfg.write_text(f'<c><net value="{net}"/><additional value="{add.name}"/></c>')
    off = Config()
    on = replace(off, timing=replace(off.timing, waut_program_at_begin=True))
    base = [p.base_green_s for p in import_network(net, tmp_path / "plain", off, []).junctions()[tid].phases]
    _, junctions, _ = prepare(SimulateRequest(sumocfg, tmp_path / "o"), on)
    assert [p.base_green_s for p in junctions[tid].phases] == base
    _, later, _ = prepare(SimulateRequest(sumocfg, tmp_path / "o2", sumo_args=("--begin", "150")), on)
    assert [p.base_green_s for p in later[tid].phases] == [g + 20.0 for g in base]
    _, last, _ = prepare(SimulateRequest(sumocfg, tmp_path / "o3"), off)
    assert [p.base_green_s for p in last[tid].phases] == [g + 20.0 for g in base]


# WAUT programs none of whose phases shows the cross's stage 0 (W and E, links 0-2 and 6-8, green)
ENTRIES = {
    # W alone keeps the most of it: E's links clear (yellow 3 s; nothing starts: no all-red), W's
    # green goes on for what is left of the program's 15 s after 21 + 3 s of it (at least 1 s)
    "a split keeping W": (
        [
            (15, "GGgrrrrrrrrr"),
            (3, "yyyrrrrrrrrr"),
            (15, "rrrrrrGGgrrr"),
            (3, "rrrrrryyyrrr"),
            (30, "rrrGGgrrrGGg"),
            (3, "rrryyyrrryyy"),
        ],
        ["GGgrrryyyrrr"] * 3 + ["GGgrrrrrrrrr", "yyyrrrrrrrrr"],
    ),
    # no green of it kept: W and E clear (yellow 3 s, then the model's all-red 2 s), then N starts
    "N and S apart": (
        [(20, "rrrGGgrrrrrr"), (3, "rrryyyrrrrrr"), (20, "rrrrrrrrrGGg"), (3, "rrrrrrrrryyy")],
        ["yyyrrryyyrrr"] * 3 + ["rrrrrrrrrrrr"] * 2 + ["rrrGGgrrrrrr"],
    ),
}


@pytest.mark.parametrize("shape", sorted(ENTRIES))
def test_a_hand_back_enters_a_program_without_its_green_through_an_intergreen(cross, tmp_path, shape):
    """The roadside holds stage 0 from 95 s to its hand-back at 111 s, after the WAUT's switch to
    'evening' at 100 s; no phase of 'evening' shows stage 0's green. The light showed 'evening''s
    phase SUMO held at once (a green ended with no yellow, another started with no all-red); it
    shows the junction model's yellow (3 s) and all-red (2 s here) first, then 'evening' from
    its green keeping the most of stage 0's (sim/field.py program_entry)."""
    net, tid, _ = cross
    evening, expected = ENTRIES[shape]
    waut = '<WAUT id="w" refTime="0" startProg="0"><wautSwitch time="100" to="evening"/></WAUT>'
    add = additional(
        tmp_path,
        "w.add.xml",
        f'{tl_logic(tid, "evening", evening)}\n  {waut}\n  <wautJunction wautID="w" junctionID="{tid}"/>',
    )
    j = import_network(net, tmp_path / "j", Config(), []).junctions()[tid]  # the model: program '0'
    assert (j.phases[0].state, j.yellow_s, j.phases[0].min_green_s) == ("GGgrrrGGgrrr", 3.0, 7.0)
    api = load_api(prefer_libsumo=True)
    api.start(["sumo", "-n", str(net), "-a", str(add), "-e", str(END_S), "--no-step-log", "true"])
    try:
        field = SumoField(api, {tid: replace(j, all_red_s=2.0)}, 60.0, wauts=waut_schedules([add]), begin_s=0.0)
        shown, modes, named = {}, {}, {}
        for t in range(1, 130):
            api.simulationStep(float(t))
            shown[t] = api.trafficlight.getRedYellowGreenState(tid)
            if t == 95:  # program '0' shows stage 0 from 90 s
                assert field.receive(PhaseCommand(tid, "p", 1, 0, 1.0, 95.0, 110.0), 95.0) == ""
            for body in field.actuate_bodies(float(t)):
                named[t] = body["program"]
            modes[t] = field.roadside[tid].mode
    finally:
        api.close()
    assert modes[110] == "adaptive" and modes[111] == "local"  # handed back at 111 s
    # the status names the program in force (sent at the switch, whatever the mode)
    assert named[1] == "0" and named[100] == "evening" and set(named.values()) == {"0", "evening"}
    assert [shown[t] for t in range(105, 112)] == ["GGgrrrGGgrrr"] * 7
    assert [shown[t] for t in range(112, 112 + len(expected))] == expected

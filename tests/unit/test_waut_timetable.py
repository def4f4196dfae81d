"""sim/netprogram.py Waut.timetable: the programs a WAUT puts in force over a run and when, the
changes of Waut.program_at (itself checked second by second against libsumo in
tests/contract/test_waut.py, which checks the timetable too)."""

from __future__ import annotations

import pytest

from sim.netprogram import Waut, WautSwitch


def _changes(waut: Waut, begin_s: float, end_s: float) -> list[tuple[float, str]]:
    out = [(begin_s, waut.program_at(begin_s, begin_s))]
    for t in range(int(begin_s) + 1, int(end_s)):
        program = waut.program_at(begin_s, float(t))
        if program != out[-1][1]:
            out.append((float(t), program))
    return out


WAUTS = {
    "once": Waut("w", "f", "day", (WautSwitch(300.0, "night"),)),
    "back": Waut("w", "f", "day", (WautSwitch(300.0, "night"), WautSwitch(500.0, "day"))),
    "period": Waut("w", "f", "a", (WautSwitch(70.0, "b"), WautSwitch(30.0, "a")), period_s=150.0),
    "to the same": Waut("w", "f", "a", (WautSwitch(100.0, "a"), WautSwitch(200.0, "b"))),
    "none": Waut("w", "f", "a", ()),
}


@pytest.mark.parametrize("shape", sorted(WAUTS))
@pytest.mark.parametrize("begin_s", [0.0, 160.0, 350.0])
def test_the_timetable_is_program_at_s_changes(shape, begin_s):
    waut = WAUTS[shape]
    assert list(waut.timetable(begin_s, 1000.0)) == _changes(waut, begin_s, 1000.0)


def test_the_timetable_lists_the_begin_s_program_and_each_later_change():
    assert WAUTS["back"].timetable(0.0, 1000.0) == ((0.0, "day"), (300.0, "night"), (500.0, "day"))
    assert WAUTS["back"].timetable(400.0, 450.0) == ((400.0, "night"),)  # no change inside the run
    assert WAUTS["to the same"].timetable(0.0, 1000.0) == ((0.0, "a"), (200.0, "b"))


def test_the_start_names_each_program_the_run_sees_beside_the_model(tmp_path, caplog):
    """One line per light a WAUT switches: each program the run sees and from when, with its cycle and
    intergreen beside the model's (one timing per junction: the model cannot follow a switch), and a
    program SUMO has no logic for (`off`) or the model could not take (one green stage) named as such. Before:
    the WAUT's switches alone."""
    import logging

    from controller.config import Config
    from sim.netimport import read_net
    from sim.simulate import SimulateRequest, prepare
    from tests.netbuild import additional, cross_net, tl_logic

    net = cross_net(tmp_path)
    tl = read_net(net).getTrafficLights()[0]
    tid = tl.getID()
    phases = [(float(p.duration), p.state) for p in tl.getPrograms()["0"].getPhases()]
    evening = [(d + 20.0 if "G" in s and "y" not in s else d, s) for d, s in phases]  # every green 20 s longer
    n_links = len(phases[0][1])
    one = tl_logic(tid, "one", [(30.0, "G" * n_links), (3.0, "y" * n_links)])  # one stage: nothing to switch between
    waut = (
        '<WAUT id="w" refTime="0" startProg="0"><wautSwitch time="100" to="evening"/><wautSwitch time="200" to="off"/>'
        '<wautSwitch time="250" to="one"/>'
    )
    add = additional(
        tmp_path,
        "w.add.xml",
        f'{one}\n{tl_logic(tid, "evening", evening)}\n{waut}</WAUT><wautJunction wautID="w" junctionID="{tid}"/>',
    )
    sumocfg = tmp_path / "w.sumocfg"
    sumocfg.write_text(f'<c><net value="{net.name}"/><additional value="{add.name}"/></c>')
    with caplog.at_level(logging.WARNING, logger="sim.simulate"):
        _, junctions, _ = prepare(SimulateRequest(sumocfg, tmp_path / "o", sumo_args=("--end", "300")), Config())
    named = [r.getMessage() for r in caplog.records if f"junction={tid}:" in r.getMessage()]
    cycle_s = sum(d for d, _ in phases)
    j = junctions[tid]
    assert len(named) == 1
    assert f"the run sees '0' from 0 s (the model's stages, cycle {cycle_s:g} s, yellow" in named[0]
    assert f"'evening' from 100 s (the model's stages, cycle {cycle_s + 40:g} s, yellow" in named[0]
    assert "'off' from 200 s (no such program: SUMO's 'off', no signal shown)" in named[0]
    assert "'one' from 250 s (not a program the model can take: program 'one'" in named[0]
    assert f"its model (cycle {j.base_cycle_s():g} s, yellow {j.yellow_s:g} + all-red {j.all_red_s:g} s)" in named[0]
    assert "program 'evening' (loaded last)" in named[0]

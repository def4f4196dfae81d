"""The bounds of simulate's start line on WAUT programs (sim/netprogram_waut.py, sim/simulate.py end_s_of;
the line itself: tests/unit/test_waut_timetable.py): a program whose green stages differ from the model's is
named so, a switch at the run's very end is not one the run sees, and SUMO's `--end -1` (no end) reads as a
day, not as a run that ends before it begins."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from controller.config import Config
from sim.netimport import read_net
from sim.simulate import SimulateRequest, prepare
from tests.netbuild import additional, cross_net, tl_logic


def _start_line(tmp_path: Path, switches: str, extra: str, end: str, caplog: pytest.LogCaptureFixture) -> str:
    """simulate's start line on cross_net's light under a WAUT starting '0' with `switches`."""
    net = cross_net(tmp_path)
    tid = read_net(net).getTrafficLights()[0].getID()
    waut = f'<WAUT id="w" refTime="0" startProg="0">{switches}</WAUT><wautJunction wautID="w" junctionID="{tid}"/>'
    add = additional(tmp_path, "w.add.xml", f"{extra}\n{waut}")
    sumocfg = tmp_path / "w.sumocfg"
    sumocfg.write_text(f'<c><net value="{net.name}"/><additional value="{add.name}"/></c>')
    with caplog.at_level(logging.WARNING, logger="sim.simulate"):
        prepare(SimulateRequest(sumocfg, tmp_path / "o", sumo_args=("--end", end)), Config())
    named = [r.getMessage() for r in caplog.records if f"junction={tid}:" in r.getMessage()]
    assert len(named) == 1
    return named[0]


def _programs(tmp_path: Path) -> str:
    """'more': the network's program with one more stage (every link green), so its green stages are the
    model's and one other; 'same': the network's program with its greens 10 s longer."""
    tl = read_net(cross_net(tmp_path, "probe")).getTrafficLights()[0]
    phases = [(float(p.duration), p.state) for p in tl.getPrograms()["0"].getPhases()]
    n_links = len(phases[0][1])
    more = [*phases, (10.0, "G" * n_links), (3.0, "y" * n_links)]
    same = [(d + 10.0 if "G" in s and "y" not in s else d, s) for d, s in phases]
    return f"{tl_logic(tl.getID(), 'more', more)}\n{tl_logic(tl.getID(), 'same', same)}"


def test_a_program_with_other_green_stages_is_named_so(tmp_path, caplog):
    switches = '<wautSwitch time="100" to="more"/><wautSwitch time="200" to="same"/>'
    line = _start_line(tmp_path, switches, _programs(tmp_path), "300", caplog)
    assert "'more' from 100 s (other stages than the model's, cycle" in line
    assert "'same' from 200 s (the model's stages, cycle" in line


def test_a_switch_at_the_run_s_end_is_not_one_the_run_sees(tmp_path, caplog):
    """SUMO's last step with `--end 300` is the one from 299 s: a switch at 300 s never takes over."""
    switches = '<wautSwitch time="100" to="same"/><wautSwitch time="300" to="more"/>'
    line = _start_line(tmp_path, switches, _programs(tmp_path), "300", caplog)
    assert "'same' from 100 s" in line
    assert "'more'" not in line.split("the run sees")[1].split("; its model")[0]


def test_no_end_reads_as_a_day_after_the_begin(tmp_path, caplog):
    """`--end -1` is SUMO's 'until the last vehicle': the switches of the day after the begin are named."""
    line = _start_line(tmp_path, '<wautSwitch time="100" to="same"/>', _programs(tmp_path), "-1", caplog)
    assert "'same' from 100 s (the model's stages" in line

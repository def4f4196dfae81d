"""`import-net`'s reading of a scenario (sim/importnet.py), the parts test_import_net_scenario leaves open: the
configuration's begin reaches the import (the program a WAUT has in force then, with `[timing]
waut_program_at_begin`), and the note on a bare network names only configurations that run this network with
files the import would read (programs, WAUTs, loops; a file it cannot read counts), skipping files that are not
configurations SUMO reads."""

from __future__ import annotations

import tomllib
from pathlib import Path

import run_controller
from sim.importnet import scenario_notes
from tests.netbuild import additional, cross_net, tl_logic

NS, EW = "GGgrrrGGgrrr", "rrrGGgrrrGGg"  # cross_net's 12 links: 0-2 from N, 3-5 from E, 6-8 from S, 9-11 from W


def _program(name: str, ns_s: float, ew_s: float) -> str:
    y_ns, y_ew = NS.replace("G", "y").replace("g", "y"), EW.replace("G", "y").replace("g", "y")
    return tl_logic("C", name, [(ns_s, NS), (3, y_ns), (ew_s, EW), (3, y_ew)])


def _sumocfg(d: Path, name: str, net: str, adds: str, begin_s: float | None = None) -> Path:
    begin = "" if begin_s is None else f'<time><begin value="{begin_s:g}"/></time>'
    path = d / name
    path.write_text(
        f'<configuration><input><net-file value="{net}"/><additional-files value="{adds}"/></input>{begin}'
        "</configuration>"
    )
    return path


def test_a_configuration_s_begin_picks_the_program_its_waut_has_in_force(tmp_path, capsys):
    """Program b loads last; the WAUT runs b from 0 s and a from 600 s. With `waut_program_at_begin` on, a
    configuration beginning at 900 s models a (41 s / 17 s); one without a begin keeps b (25 s / 33 s)."""
    cross_net(tmp_path)
    waut = '<WAUT id="w" startProg="b" refTime="0"><wautSwitch time="600" to="a"/></WAUT>'
    waut += '<wautJunction wautID="w" junctionID="C"/>'
    additional(tmp_path, "city.add.xml", _program("a", 41, 17) + "\n" + _program("b", 25, 33) + "\n" + waut)
    conf = tmp_path / "at_begin.toml"
    conf.write_text("[timing]\nwaut_program_at_begin = true\n")
    greens = {}
    for name, begin_s in (("late.sumocfg", 900.0), ("plain.sumocfg", None)):
        cfg = _sumocfg(tmp_path, name, "cross.net.xml", "city.add.xml", begin_s)
        out = tmp_path / name.split(".")[0]
        argv = ["--config", str(conf), "import-net", str(cfg), "--out", str(out)]
        assert run_controller.run(argv) == (0, "import-net")
        table = tomllib.loads((out / "C.toml").read_text())
        greens[name] = [p["base_green_s"] for p in table["phases"]]
    capsys.readouterr()
    assert greens == {"late.sumocfg": [41.0, 17.0], "plain.sumocfg": [25.0, 33.0]}


def test_the_note_names_only_configurations_of_this_network_with_files_the_import_reads(tmp_path):
    net = cross_net(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    cross_net(other, "other")
    additional(tmp_path, "city.add.xml", _program("city", 41, 17))
    loops = '  <inductionLoop id="d" lane="E0C_0" pos="10" period="60" file="NUL"/>'
    additional(tmp_path, "loops.add.xml", loops)
    _sumocfg(tmp_path, "a_other.sumocfg", "other/other.net.xml", "city.add.xml")  # another network: no note
    _sumocfg(tmp_path, "b_loops.sumocfg", "cross.net.xml", "loops.add.xml")  # loops only: a note
    _sumocfg(tmp_path, "c_gone.sumocfg", "cross.net.xml", "gone.add.xml")  # a file it cannot read: a note
    (tmp_path / "d_broken.sumocfg").write_text("<configuration><input>")  # not a configuration: skipped
    notes = scenario_notes(net)
    assert [n.split(" runs ")[0] for n in notes] == ["note: b_loops.sumocfg", "note: c_gone.sumocfg"]
    assert "loops.add.xml" in notes[0] and "gone.add.xml" in notes[1]

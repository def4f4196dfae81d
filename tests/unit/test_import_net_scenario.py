"""`import-net` given a scenario's configuration (.sumocfg) imports what SUMO runs: the configuration's network, its
additional files (the city's program loaded last replaces the network's), then `--additional`'s, as `simulate`
imports them. Given the network alone it reads no additional file (SUMO's net has only its own programs) and says so
when a configuration beside the network runs it with some (K, session 60: the program was silently the net's)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import run_controller
from tests.netbuild import additional, cross_net, tl_logic

NS, EW = "GGgrrrGGgrrr", "rrrGGgrrrGGg"  # cross_net's 12 links: 0-2 from N, 3-5 from E, 6-8 from S, 9-11 from W


def _y(state: str) -> str:
    return state.replace("G", "y").replace("g", "y")


def _program(name: str, ns_s: float, ew_s: float) -> str:
    return tl_logic("C", name, [(ns_s, NS), (3, _y(NS)), (ew_s, EW), (3, _y(EW))])


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    """cross_net with a city program (NS 41 s, EW 17 s) in city.add.xml, run by run.sumocfg; stops.sumocfg runs it
    with a bus stop only (nothing the import reads)."""
    d = tmp_path_factory.mktemp("scenario")
    cross_net(d)
    additional(d, "city.add.xml", _program("city", 41, 17))
    additional(d, "stops.add.xml", '  <busStop id="b" lane="E0C_0" startPos="10" endPos="30"/>')
    for name, adds in (("run", "city.add.xml"), ("stops", "stops.add.xml")):
        (d / f"{name}.sumocfg").write_text(
            f'<configuration><input><net-file value="cross.net.xml"/><additional-files value="{adds}"/>'
            "</input></configuration>"
        )
    return d


def _greens(capsys, *argv: str) -> tuple[list[float], str]:
    out = Path(argv[argv.index("--out") + 1])
    assert run_controller.run(["import-net", *argv]) == (0, "import-net")
    table = tomllib.loads((out / "C.toml").read_text())
    return [p["base_green_s"] for p in table["phases"]], capsys.readouterr().out


def test_a_configuration_imports_the_program_its_additional_files_load(scenario, capsys, tmp_path):
    net_s, said = _greens(capsys, str(scenario / "cross.net.xml"), "--out", str(tmp_path / "net"))
    assert 41.0 not in net_s  # the network's own program
    assert "note: run.sumocfg runs this network with signal programs or loops in city.add.xml" in said
    assert "stops" not in said  # a bus stop is nothing the import reads
    cfg_s, said = _greens(capsys, str(scenario / "run.sumocfg"), "--out", str(tmp_path / "cfg"))
    assert cfg_s == [41.0, 17.0] and "note:" not in said
    given, said = _greens(
        capsys,
        str(scenario / "cross.net.xml"),
        "--out",
        str(tmp_path / "add"),
        "--additional",
        str(scenario / "city.add.xml"),
    )
    assert given == cfg_s and "note:" not in said  # the same program as --additional gives


def test_additional_after_a_configuration_loads_after_its_files(scenario, capsys, tmp_path):
    late = additional(tmp_path, "late.add.xml", _program("late", 25, 33))
    got, _ = _greens(capsys, str(scenario / "run.sumocfg"), "--out", str(tmp_path / "o"), "--additional", str(late))
    assert got == [25.0, 33.0]  # the program loaded last runs


def test_a_configuration_whose_network_is_missing_is_named(tmp_path, capsys):
    cfg = tmp_path / "run.sumocfg"
    cfg.write_text('<configuration><input><net-file value="gone.net.xml"/></input></configuration>')
    assert run_controller.run(["import-net", str(cfg), "--out", str(tmp_path / "o")]) == (2, "import-net")
    assert "run.sumocfg: input.net-file:" in capsys.readouterr().err


@pytest.mark.parametrize("root", ["sumoConfiguration", "c"])
def test_a_configuration_under_another_root_imports_as_one(scenario, capsys, tmp_path, root):
    """SUMO reads a configuration's options under any root element: Bologna's run.sumocfg is a
    <sumoConfiguration>, RiLSA's run.sumo.cfg a <c>. import-net took only <configuration> and refused the others
    as "not a SUMO network" (H, session 62)."""
    cfg = scenario / f"{root}.sumocfg"
    cfg.write_text(
        f'<{root}><input><net-file value="cross.net.xml"/><additional-files value="city.add.xml"/></input></{root}>'
    )
    got, _ = _greens(capsys, str(cfg), "--out", str(tmp_path / root))
    assert got == [41.0, 17.0]

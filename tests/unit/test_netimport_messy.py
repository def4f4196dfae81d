"""What session 61's messy networks left (issue 9, "import anything"; sim/scenarios/messy.py): a program of type
`off`, a phase of duration 0, the city's detectors that are not induction loops, a WAUT that starts a light on
another program than the one loaded last."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import NetworkError
from sim.netimport import import_network
from tests.netbuild import additional, cross_net, tl_logic

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")
NS, EW = "GGgrrrGGgrrr", "rrrGGgrrrGGg"  # cross_net's 12 links
Y_NS, Y_EW = "yyyrrryyyrrr", "rrryyyrrryyy"
CITY = [(30, NS), (3, Y_NS), (30, EW), (3, Y_EW)]


@pytest.fixture(scope="module")
def cross(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cross_net(tmp_path_factory.mktemp("cross"))


def test_a_program_of_type_off_loaded_last_leaves_the_light_off_named_in_one_line(cross, tmp_path):
    """SUMO runs a light whose last program is `off` with no signal. The import wrote the network's program as
    its model and the service refused it at start with a paragraph about stages no phase shows."""
    off = additional(tmp_path, "off.add.xml", '<tlLogic id="C" type="off" programID="night"/>')
    result = import_network(cross, tmp_path / "off", CFG, additional=[off])
    assert not result.written
    ((tid, why),) = result.skipped
    assert tid == "C" and "\n" not in why
    assert why == f"program 'night' ({off}): type 'off' (no signal shown: SUMO runs the junction on its right of way)"
    city = additional(tmp_path, "city.add.xml", tl_logic("C", "city", CITY))
    back_on = import_network(cross, tmp_path / "on", CFG, additional=[off, city])  # the last loaded runs
    assert not back_on.skipped and len(back_on.written) == 1


def test_a_phase_of_duration_zero_is_refused_at_import_naming_file_program_and_phase(cross, tmp_path):
    """SUMO refuses such a program at load ("Duration of phase 1 ... is zero"); the import took it and the run
    stopped later on SUMO's error."""
    zero = additional(tmp_path, "zero.add.xml", tl_logic("C", "city", [(30, NS), (0, NS), (3, Y_NS), *CITY[2:]]))
    with pytest.raises(NetworkError, match=r"zero\.add\.xml: tlLogic\[C\] programID 'city' phase\[1\]\.duration: 0:"):
        import_network(cross, tmp_path / "z", CFG, additional=[zero])


DETECTORS = """
  <laneAreaDetector id="area_e" lane="E0C_0" pos="200" length="90" period="60" file="NUL"/>
  <e2Detector id="area_far" lanes="W0W1_0" pos="10" length="50" period="60" file="NUL"/>
  <instantInductionLoop id="instant_n" lane="N0C_0" pos="280" file="NUL"/>
  <entryExitDetector id="box" period="60" file="NUL">
    <detEntry lane="W1C_0" pos="1"/><detExit lane="CE0_0" pos="10"/>
  </entryExitDetector>
  <e1Detector id="bus_only" lane="E0C_0" pos="290" vTypes="bus" period="60" file="NUL"/>
  <e1Detector id="loop_s" lane="S1C_0" pos="-3" period="60" file="NUL"/>
"""


def test_the_citys_detectors_that_are_not_loops_are_named_at_import_and_at_start(cross, tmp_path, caplog, capsys):
    """With `--detectors city` only e1 loops counting every vehicle are read; the others were left out with no
    word (H, session 61: a city of e2, e3 and instant loops ran on generated loops, silently)."""
    import argparse

    from sim.importnet import import_net
    from sim.simulate import SimulateRequest, prepare

    det = additional(tmp_path, "det.add.xml", DETECTORS)
    args = argparse.Namespace(net=str(cross), additional=str(det), detectors="city", out=tmp_path / "imp")
    assert import_net(args, CFG) == 0
    notes = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("note: ")]
    assert notes == [
        "note: junction=C: the city's detectors on its lanes are not read (e2 in det.add.xml: area_e; instant loop "
        "in det.add.xml: instant_n; e3 in det.add.xml: box; e1 subset in det.add.xml: bus_only): only induction "
        'loops (e1) counting every vehicle are read (docs/import.md, "The city\'s own loops")',
        "note: the city's detectors on no junction's lane are not read either (e2 in det.add.xml: area_far)",
    ]
    (table,) = import_network(cross, tmp_path / "t", CFG, additional=[det], detectors="city").tables
    assert [d["id"] for d in table["detectors"] if d.get("city")] == ["loop_s"]  # the one loop read, as before
    cfg_file = tmp_path / "c.sumocfg"
    cfg_file.write_text(
        f'<configuration><input><net-file value="{cross}"/><additional-files value="{det.name}"/></input>'
        "</configuration>"
    )
    with caplog.at_level("WARNING"):
        prepare(SimulateRequest(cfg_file, tmp_path / "out", detectors="city"), CFG)
    logged = [r.getMessage() for r in caplog.records if "are not read" in r.getMessage()]
    assert [m.removeprefix("note: ") for m in notes] == logged
    caplog.clear()
    with caplog.at_level("WARNING"):
        prepare(SimulateRequest(cfg_file, tmp_path / "gen"), CFG)  # generated loops: nothing of the city's read
    assert not [r for r in caplog.records if "are not read" in r.getMessage()]

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

"""SumoConfig reads a SUMO configuration in the forms SUMO itself loads."""

from __future__ import annotations

import pytest

from controller.errors import DefinitionError
from sim.sumo import SumoConfig


def _files(tmp_path, *names: str) -> None:
    for name in names:
        (tmp_path / name).write_text("<x/>")


# The sectioned form, and the flat one SUMO's own examples write
# (tools/sumolib/scenario/.../RiLSA_example1/run.sumo.cfg): options straight under the root, by
# their synonyms <net>, <routes>, <additional>, <e>.
FORMS = {
    "sectioned": (
        '<configuration><input><net-file value="a.net.xml"/><route-files value="r.rou.xml"/>'
        '<additional-files value="v.add.xml"/></input><time><begin value="0:10:00"/></time></configuration>',
        ["v.add.xml"],
        ("begin", 600.0),
    ),
    "flat with synonyms": (
        '<c><net value="a.net.xml"/><routes value="r.rou.xml"/><additional value="v.add.xml,t.add.xml"/>'
        '<e value="3600"/></c>',
        ["v.add.xml", "t.add.xml"],
        ("end", 3600.0),
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_configuration_forms(tmp_path, form):
    text, additional, (option, seconds) = FORMS[form]
    _files(tmp_path, "a.net.xml", "r.rou.xml", "v.add.xml", "t.add.xml")
    cfg = tmp_path / "run.sumo.cfg"
    cfg.write_text(text)
    scfg = SumoConfig(cfg)
    assert scfg.net_file == tmp_path / "a.net.xml"
    assert scfg.files("route-files") == [tmp_path / "r.rou.xml"]
    assert scfg.files("additional-files") == [tmp_path / name for name in additional]
    assert scfg.seconds(option) == seconds


def test_missing_network_is_named(tmp_path):
    cfg = tmp_path / "run.sumocfg"
    cfg.write_text('<configuration><input><route-files value="r.rou.xml"/></input></configuration>')
    with pytest.raises(DefinitionError, match="net-file"):
        SumoConfig(cfg)

"""SumoConfig reads a SUMO configuration in the forms SUMO itself loads."""

from __future__ import annotations

import pytest

from controller.errors import DefinitionError
from sim.sumo import SumoConfig


def _files(tmp_path, *names: str) -> None:
    for name in names:
        (tmp_path / name).write_text("<x/>")


def test_sectioned_configuration(tmp_path):
    _files(tmp_path, "a.net.xml", "r.rou.xml", "x.add.xml")
    cfg = tmp_path / "run.sumocfg"
    cfg.write_text(
        '<configuration><input><net-file value="a.net.xml"/><route-files value="r.rou.xml"/>'
        '<additional-files value="x.add.xml"/></input><time><begin value="0:10:00"/></time></configuration>'
    )
    scfg = SumoConfig(cfg)
    assert scfg.net_file == tmp_path / "a.net.xml"
    assert scfg.files("route-files") == [tmp_path / "r.rou.xml"]
    assert scfg.files("additional-files") == [tmp_path / "x.add.xml"]
    assert scfg.seconds("begin") == 600.0


def test_flat_configuration_with_synonyms(tmp_path):
    """SUMO's own examples (tools/sumolib/scenario/.../RiLSA_example1/run.sumo.cfg) write the
    options straight under the root and by their synonyms: <net>, <routes>, <additional>."""
    _files(tmp_path, "a.net.xml", "r.rou.xml", "v.add.xml", "t.add.xml")
    cfg = tmp_path / "run.sumo.cfg"
    cfg.write_text(
        '<c><net value="a.net.xml"/><routes value="r.rou.xml"/>'
        '<additional value="v.add.xml,t.add.xml"/><e value="3600"/></c>'
    )
    scfg = SumoConfig(cfg)
    assert scfg.net_file == tmp_path / "a.net.xml"
    assert scfg.files("route-files") == [tmp_path / "r.rou.xml"]
    assert scfg.files("additional-files") == [tmp_path / "v.add.xml", tmp_path / "t.add.xml"]
    assert scfg.seconds("end") == 3600.0


def test_missing_network_is_named(tmp_path):
    cfg = tmp_path / "run.sumocfg"
    cfg.write_text('<configuration><input><route-files value="r.rou.xml"/></input></configuration>')
    with pytest.raises(DefinitionError, match="net-file"):
        SumoConfig(cfg)

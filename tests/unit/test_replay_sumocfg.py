"""The rebuilt scenario's sumocfg names its files so that SUMO finds them from any folder."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from sim.replay import write_sumocfg


def test_the_sumocfg_names_files_by_absolute_path_when_out_is_relative(tmp_path, monkeypatch):
    """`replay --out out/replay` (a relative folder, as in docs/replay.md): SUMO reads a relative
    file name from the sumocfg's own folder, where out/replay/scenario/out/replay/... is not."""
    monkeypatch.chdir(tmp_path)
    scenario = Path("out/replay/scenario")
    scenario.mkdir(parents=True)
    (scenario / "routes_car.rou.xml").write_text("<routes/>")
    Path("loops.add.xml").write_text("<additional/>")
    cfg = write_sumocfg(
        scenario / "replay.sumocfg", Path("n.net.xml"), [scenario / "routes_car.rou.xml"], ["loops.add.xml"], 0.0, 600.0
    )
    inp = ET.parse(cfg).getroot().find("input")
    names = [inp.find(k).get("value") for k in ("net-file", "route-files", "additional-files")]
    assert all(os.path.isabs(n) for n in names)
    assert Path(names[1]) == (tmp_path / scenario / "routes_car.rou.xml").resolve()
    assert Path(names[1]).is_file() and Path(names[2]).is_file()

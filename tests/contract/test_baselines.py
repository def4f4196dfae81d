"""SUMO's actuated / delay_based baselines are built on the program SUMO would run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sumolib

from controller.config import load_config
from controller.junctions import load_intersections
from sim.baselines import write_baseline_programs
from sim.netimport import import_net
from sim.simulate import SimulateRequest, prepare
from sim.sumo import SumoConfig

ROOT = Path(__file__).resolve().parents[2]
ACOSTA = ROOT.parent / "shared" / "networks" / "bologna" / "acosta" / "run.sumocfg"


@pytest.mark.skipif(not ACOSTA.is_file(), reason="../shared/networks not present")
def test_baseline_uses_the_additional_files_program_with_sub_phases_merged(tmp_path):
    scfg = SumoConfig(ACOSTA)
    additional = scfg.files("additional-files")
    import_net(scfg.net_file, tmp_path / "j", load_config(ROOT / "config.toml"), additional)
    junctions = load_intersections(tmp_path / "j")
    out = write_baseline_programs(scfg.net_file, junctions, "actuated", tmp_path / "b.xml", additional)
    logics = {tl.get("id"): tl for tl in ET.parse(out).getroot().iter("tlLogic")}
    assert set(logics) == set(junctions)
    tls_file = next(p for p in additional if p.name.endswith("_tls.add.xml"))
    city = {
        tl.get("id"): [ph.get("state") for ph in tl.iter("phase")]
        for tl in ET.parse(tls_file).getroot().iter("tlLogic")
    }
    for tid, tl in logics.items():
        states = [ph.get("state") for ph in tl.iter("phase")]
        assert tl.get("type") == "actuated"
        assert all(a != b for a, b in zip(states, states[1:] + states[:1])), tid  # sub-phases merged
        assert set(states) == set(city[tid]), tid  # the utopia program's states, not the net's own
        # every green stage of the model is actuated between its min and max green
        stages = [ph for ph in tl.iter("phase") if ph.get("minDur") is not None]
        assert len(stages) >= 2, tid


def test_baseline_rejects_an_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="unknown SUMO controller type"):
        write_baseline_programs(Path("x.net.xml"), {}, "nema", tmp_path / "b.xml")


@pytest.mark.skipif(not ACOSTA.is_file(), reason="../shared/networks not present")
def test_simulate_reads_the_network_once_for_a_baseline(tmp_path, monkeypatch):
    """prepare under `actuated` reads the network once for the import and the baseline programs (sumolib's read is
    0.03-0.08 s on the Bologna networks), and writes the same baseline file as a separate read gives."""
    reads: list[str] = []
    read = sumolib.net.readNet

    def counted(path, **kw):
        reads.append(path)
        return read(path, **kw)

    monkeypatch.setattr(sumolib.net, "readNet", counted)
    req = SimulateRequest(sumocfg=ACOSTA, out_dir=tmp_path / "run", policy="actuated", sumo_args=("--end", "1"))
    scfg, junctions, _args = prepare(req, load_config(ROOT / "config.toml"))
    assert len(reads) == 1
    additional = scfg.files("additional-files")
    alone = write_baseline_programs(scfg.net_file, junctions, "actuated", tmp_path / "alone.xml", additional)
    assert (tmp_path / "run" / "baseline.add.xml").read_bytes() == alone.read_bytes()

"""sim.scenarios.messy: a network builds with its feature in its files, the board file reads as `sim.bench_key
--board` reads it (runnable networks only), a build is reproducible, and a tool that fails is named with the
network it was building."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim import bench_key
from sim.scenarios import messy


def test_names_are_unique_and_seeds_follow_the_catalogue():
    names = [m.name for m in messy.MESSY]
    assert len(names) == len(set(names)) >= 25
    assert [messy.seed_of(n) for n in names] == list(range(messy.SEED0, messy.SEED0 + len(names)))


def test_a_network_builds_with_its_feature_and_the_board_lists_the_runnable_ones(tmp_path):
    out = tmp_path / "m"
    stub = messy.cfg_path(out, "zero_phase")  # built or not, a network SUMO refuses is not on the board
    stub.parent.mkdir(parents=True)
    stub.write_text("<configuration/>")
    assert messy.main(["--out", str(out), "off_program"], say=lambda s: None) == 0
    off = ET.parse(out / "off_program" / "off_program_off.add.xml").getroot()
    assert [t.get("type") for t in off.iter("tlLogic")] == ["off"]
    cfg = (out / "off_program" / "off_program.sumocfg").read_text()
    assert "off_program_off.add.xml" in cfg and '<end value="600"/>' in cfg
    scenarios = bench_key.parse_scenarios([], out / "messy.txt")
    assert [(s.name, s.end_s) for s in scenarios] == [("off_program", 600)]  # zero_phase: SUMO refuses it
    first = {p.name: p.read_bytes() for p in (out / "off_program").iterdir()}
    rebuilt = tmp_path / "again"
    messy.build(messy.by_name()["off_program"], rebuilt)
    assert {p.name: p.read_bytes() for p in (rebuilt / "off_program").iterdir()} == first


def test_a_failing_tool_is_named_with_the_network_and_nothing_is_left(tmp_path, monkeypatch):
    bad = messy.MessyNet("broken", "a netgenerate option that does not exist", messy.generated("--no-such-option"))
    monkeypatch.setattr(messy, "MESSY", (*messy.MESSY, bad))
    with pytest.raises(messy.MessyError, match=r"messy network broken: netgenerate failed: .*no-such-option"):
        messy.build(bad, tmp_path)
    assert [p.name for p in Path(tmp_path).iterdir()] == []


def test_an_unknown_name_is_refused(tmp_path, capsys):
    assert messy.main(["--out", str(tmp_path), "nope"], say=lambda s: None) == 1
    assert "unknown messy network(s) nope" in capsys.readouterr().err


def test_depart_flows_start_and_end_at_dead_ends_of_a_grid_with_pockets(tmp_path):
    # --turn-lanes splits every edge at a node of its own: an edge's reverse is no longer the edge between the same
    # two nodes, which left the flows file empty before (session 64)
    messy.generated(*messy.GRID, "-L", "2", "--turn-lanes", "1")(tmp_path, "g", 7)
    assert messy.depart_flows()(tmp_path, "g", random.Random(7)) == ("g_flows.add.xml",)
    root = ET.parse(tmp_path / "g.net.xml").getroot()
    ends = {j.get("id") for j in root.iter("junction") if j.get("type") == "dead_end"}
    node = {e.get("id"): (e.get("from"), e.get("to")) for e in root.iter("edge")}
    flows = list(ET.parse(tmp_path / "g_flows.add.xml").getroot().iter("flow"))
    assert len(flows) == len(ends) == 10
    assert all(node[f.get("from")][0] in ends and node[f.get("to")][1] in ends for f in flows)
    assert {f.get("departLane") for f in flows} == {"best", "free", "random", "allowed"}

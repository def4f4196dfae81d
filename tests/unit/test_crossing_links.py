"""`[timing] crossing_red_is_clearance` and `ped_min_from_program`'s edges the first tests leave open:
a crossing green in two runs of the cycle is asked no more than the shorter, and `crossing_links` naming no link of
the junction is refused naming the file and the field."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import JunctionError
from controller.junctions import parse_intersection
from sim.netimport import import_network
from sim.netprogram import ProgramPhase, shortest_green_s
from tests.netbuild import midblock_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")
ON = replace(CFG, timing=replace(CFG.timing, crossing_red_is_clearance=True))


def test_a_link_green_twice_a_cycle_gets_the_shorter_run() -> None:
    phases = (ProgramPhase(10.0, "Gr"), ProgramPhase(5.0, "rG"), ProgramPhase(4.0, "Gr"), ProgramPhase(5.0, "rG"))
    assert shortest_green_s(phases, 0) == 4.0
    assert shortest_green_s(phases[2:] + phases[:2], 0) == 4.0  # wherever the cycle starts


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("midblock")
    net = midblock_net(d)
    import_network(net, d / "j", ON)
    return tomllib.loads((d / "j" / "m.toml").read_text())


@pytest.mark.parametrize("links", [[4, 99], [-1]], ids=["past_the_last_link", "negative"])
def test_crossing_links_outside_the_junction_s_links_are_refused(table, links) -> None:
    assert table["crossing_links"] == [4]  # the crossing the program's transition stops
    parse_intersection(table, "m.toml")  # as imported: read
    bad = {**table, "crossing_links": links}
    with pytest.raises(JunctionError, match=r"m\.toml.*crossing_links.*link indices in 0\.\."):
        parse_intersection(bad, "m.toml")

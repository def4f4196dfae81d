"""`[timing] ped_min_from_program`, `crossing_red_is_clearance`: a crossing asked no more than its program gives.

netconvert's signalised mid-block crossing (F's midblock_ped, session 59): the road green 77 s, its yellow 3 s, the
crossing green 5 s, then 5 s with everything red (the crossing's clearance: SUMO's crossings show no yellow). Without
the keys the crossing's stage runs walk + length / speed (15.67 s) of green and every change the derived 3 s yellow and
5 s all-red, both ways; with ped_min_from_program the crossing stage's minimum is the program's 5 s, with
crossing_red_is_clearance the two changes keep the program's transitions (3 s and 5 s), the crossing written as
`crossing_links`."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import JunctionError
from controller.junctions import load_intersections, parse_intersection
from sim.netimport import import_network
from sim.netprogram import ProgramPhase, shortest_green_s
from tests.netbuild import midblock_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")


def _cfg(ped_min: bool, red_clears: bool):
    return replace(CFG, timing=replace(CFG.timing, ped_min_from_program=ped_min, crossing_red_is_clearance=red_clears))


ON, OFF = _cfg(True, True), _cfg(False, False)


@pytest.fixture(scope="module")
def midblock(tmp_path_factory) -> Path:
    return midblock_net(tmp_path_factory.mktemp("midblock"))


def _import(net: Path, out: Path, cfg) -> dict:
    import_network(net, out, cfg)
    (junction,) = load_intersections(out).values()
    return {"junction": junction, "table": tomllib.loads((out / "m.toml").read_text())}


def test_off_the_crossing_stage_runs_the_formula_and_the_derived_intergreens(midblock, tmp_path):
    j = _import(midblock, tmp_path / "off", OFF)["junction"]
    _road, crossing = j.phases
    assert crossing.ped_min_green_s == crossing.min_green_s == 15.67  # 5 s walk + 12.8 m / 1.2 m/s
    assert j.transitions == () and j.intergreen_s(0, 1) == j.intergreen_s(1, 0) == 8.0


def test_on_the_crossing_gets_the_program_green_and_transitions(midblock, tmp_path):
    got = _import(midblock, tmp_path / "on", ON)
    j = got["junction"]
    road, crossing = j.phases
    assert crossing.ped_min_green_s == crossing.min_green_s == 5.0 and crossing.base_green_s == 5.0
    assert got["table"]["crossing_links"] == [4]
    assert j.intergreen_s(0, 1) == 3.0 and j.intergreen_s(1, 0) == 5.0  # the city's yellow, the crossing's clearance
    assert j.base_cycle_s() == 90.0
    assert road.min_green_s == 7.0  # the road's stage as without the key


def test_each_key_alone(midblock, tmp_path):
    """The pedestrian minimum and the transitions are two keys, each changing only its part."""
    ped = _import(midblock, tmp_path / "ped", _cfg(True, False))
    assert ped["junction"].phases[1].min_green_s == 5.0 and ped["junction"].transitions == ()
    assert "crossing_links" not in ped["table"]
    red = _import(midblock, tmp_path / "red", _cfg(False, True))["junction"]
    assert red.phases[1].min_green_s == 15.67 and red.phases[1].base_green_s == 5.0
    assert red.intergreen_s(0, 1) == 3.0 and red.intergreen_s(1, 0) == 5.0


def test_the_loader_reads_a_crossing_red_as_its_clearance_only_when_named(midblock, tmp_path):
    table = _import(midblock, tmp_path / "t", ON)["table"]
    del table["crossing_links"]
    with pytest.raises(JunctionError, match="shows link 4 less than yellow_s"):
        parse_intersection(table, "m.toml")
    table["crossing_links"] = [0]  # a vehicle link always shows its yellow
    with pytest.raises(JunctionError, match="crossing_links"):
        parse_intersection(table, "m.toml")


def test_shortest_green_counts_min_dur_and_wraps_the_cycle():
    phases = (
        ProgramPhase(10.0, "Gr"),
        ProgramPhase(3.0, "yr"),
        ProgramPhase(20.0, "rG", 6.0),
        ProgramPhase(4.0, "rG"),
        ProgramPhase(3.0, "ry"),
        ProgramPhase(2.0, "Gr"),
    )
    assert shortest_green_s(phases, 0) == 12.0  # 2 s at the cycle's end and 10 s at its start: one green
    assert shortest_green_s(phases, 1) == 10.0  # an actuated phase counted at its minDur
    assert shortest_green_s((ProgramPhase(5.0, "G"),), 0) is None

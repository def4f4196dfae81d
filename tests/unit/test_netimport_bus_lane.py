"""A bus lane (open to buses, closed to cars) in the import: a known defect, found on the fourth held-out board
(BENCHMARKS.md, "Issue 9, a fourth held-out board", K session 52). sim/netmovements.py knows a lane closed to cars
only when it is a bicycle lane; a bus-only lane joins the car movements of its (edge, turn) group at a car lane's
saturation flow. On arterial_buslane_ch that makes the arterial's stage outweigh its one-lane side roads: 1.038x the
plan at the median of 3 seeds, 0.909x with the bus lanes taken out of the car movements. Strict xfail: the test
passes, and so fails the suite, once the import leaves the bus lane out of the cars' movements."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import load_config
from sim.netimport import junction_tables, read_net
from sim.scenarios.board4 import bus_arterial

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("bus")
    bus_arterial(junctions=1)(out, "bus", 1)
    net = read_net(out / "bus.net.xml")
    tables, skipped = junction_tables(net, CFG, str(out / "bus.net.xml"))
    assert not skipped
    return net, tables


@pytest.fixture(scope="module")
def tables(built):
    return built[1]


def _through_from_west(tables):
    (j0,) = tables
    return next(m for m in j0["movements"] if m["from_edge"] == "w_j0" and m["turn"] == "through")


def test_the_arterial_has_a_bus_lane_and_two_car_lanes(built):
    net, tables = built
    lanes = net.getEdge("w_j0").getLanes()
    assert [(ln.allows("bus"), ln.allows("passenger")) for ln in lanes] == [(True, False), (True, True), (True, True)]
    assert {"w_j0_1", "w_j0_2"} <= set(_through_from_west(tables)["lanes"])


@pytest.mark.xfail(strict=True, reason="the import counts a bus-only lane as a car lane (sim/netmovements.py)")
def test_the_bus_lane_is_not_in_the_cars_through_movement(tables):
    assert "w_j0_0" not in _through_from_west(tables)["lanes"]

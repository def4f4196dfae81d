"""`[timing] bicycle_lane_movements` (sim/netmovements.py): a lane open to bicycles and closed to
cars is a movement of its own, with a bicycle lane's saturation flow ([saturation]
bicycle_lane_veh_h times a bicycle's PCU, [pcu]). Off (as shipped) it joins its (edge, turn)
group's car lanes, as before: fkk_in_delay's gneJ21, where a stage that greens only the car lane
then counts the bicycle lane's queue as served (BENCHMARKS.md, F2 session 48)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load_config
from sim.netimport import read_net
from sim.netmovements import Conn, connections, movements
from tests.netbuild import cross_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")
ON = replace(CFG, timing=replace(CFG.timing, bicycle_lane_movements=True))
# Off as before both keys: with [timing] split_movements_by_green (on since session 50) links 0 and 2,
# green in different stages, would be split apart anyway.
OFF = replace(CFG, timing=replace(CFG.timing, bicycle_lane_movements=False, split_movements_by_green=False))
OWN = replace(ON, pcu=replace(CFG.pcu, bicycle_own=True))

# From S (edge S1C), as gneJ21's S approach: lane 1 bicycles only, straight on (link 0) and left
# (link 1); lane 3 cars, straight on (link 2); stage 0 greens all three, stage 1 the car lane alone.
CONNS = [
    Conn("S1C", "S1C_1", 40.0, "s", 0, bicycle_only=True),
    Conn("S1C", "S1C_1", 40.0, "l", 1, bicycle_only=True),
    Conn("S1C", "S1C_3", 40.0, "s", 2),
]
STATES = ["GgG", "rrG"]
STORAGE_M = {c.lane: 40.0 for c in CONNS}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return read_net(cross_net(tmp_path_factory.mktemp("cross")))


def _by_links(tables):
    return {tuple(m["links"]): m for m in tables}


def test_off_the_bicycle_lane_joins_the_car_lanes_through(net):
    assert CFG.timing.bicycle_lane_movements  # on as shipped (session 49)
    by = _by_links(movements(net, CONNS, OFF, STORAGE_M, STATES))
    assert sorted(by) == [(0, 2), (1,)]
    assert by[(0, 2)]["sat_flow_pcu_h"] == 1.5 * CFG.saturation.through_pcu_h_lane  # half the shared lane


def test_on_the_bicycle_lane_is_a_movement_of_its_own_at_its_own_rate(net):
    by = _by_links(movements(net, CONNS, ON, STORAGE_M, STATES))
    assert sorted(by) == [(0,), (1,), (2,)]
    assert by[(0,)]["lanes"] == by[(1,)]["lanes"] == ["S1C_1"] and by[(2,)]["lanes"] == ["S1C_3"]
    assert by[(2,)]["sat_flow_pcu_h"] == CFG.saturation.through_pcu_h_lane
    bicycles_h = CFG.saturation.bicycle_lane_veh_h
    assert by[(0,)]["sat_flow_pcu_h"] == by[(1,)]["sat_flow_pcu_h"] == bicycles_h / 2  # a bicycle weighs a car's 1.0
    own = _by_links(movements(net, CONNS, OWN, STORAGE_M, STATES))
    assert own[(0,)]["sat_flow_pcu_h"] == pytest.approx(bicycles_h * CFG.pcu.bicycle / 2)  # ... or [pcu] bicycle
    assert own[(2,)]["sat_flow_pcu_h"] == CFG.saturation.through_pcu_h_lane


def test_the_import_reads_which_lanes_are_closed_to_cars(tmp_path):
    """connections marks a lane by SUMO's permissions: cross_net's lanes are open to all, and a
    lane made bicycle-only is marked."""
    net = read_net(cross_net(tmp_path))
    tl = net.getTLSSecure(net.getTrafficLights()[0].getID())
    conns = connections(tl, 1 + max(i for _, _, i in tl.getConnections()), frozenset()).vehicle
    assert conns and not any(c.bicycle_only for c in conns)
    lane = conns[0]
    in_lane = net.getLane(lane.lane)
    in_lane._allowed = {"bicycle"}
    marked = connections(tl, 1 + max(i for _, _, i in tl.getConnections()), frozenset()).vehicle
    assert {c.lane for c in marked if c.bicycle_only} == {lane.lane}

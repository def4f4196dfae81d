"""Two loop-placement rules behind config.toml [detectors] switches (sim/loops.py; off by
default, BENCHMARKS.md "Issue 9, adaptive on the RESCO networks (A, session 10)").

`stop_loop_before_split`: a junction lane shorter than one loop is an edge split just before the
stop line. No vehicle halts on it: the queue's head stands on the lane before. The stop-line loop
goes to the end of that lane when it alone feeds the junction lane (for every such lane of the
approach); otherwise it stays, shortened. `turn_back_is_fringe`: a lane fed only by a U-turn is
where vehicles enter the network.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import ConfigError
from controller.junctions import load_intersections
from sim.netimport import import_network, read_net
from tests.netbuild import EDGES, NODES, cross_net, edge_xml, netconvert, node_xml, split_edge

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = load_config(ROOT / "config.toml")
CFG = replace(SHIPPED, detectors=replace(SHIPPED.detectors, stop_loop_before_split=True, turn_back_is_fringe=True))
DET = CFG.detectors


def _import(tmp_path: Path, lengths: dict[str, float], cfg=CFG):
    net = cross_net(tmp_path, "short", lengths)
    import_network(net, tmp_path / "j", cfg)
    (j,) = load_intersections(tmp_path / "j").values()
    return j, read_net(net)


def _loops(j, lane: str) -> dict:
    return {d.kind: d for d in j.detectors if d.lane == lane}


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """W1C 0.5 m (shorter than a loop, fed by W0W1 alone); S1C 0.5 m fed by two links."""
    return _import(tmp_path_factory.mktemp("split"), {"W1C": 0.5, "S1C": 0.5})


def test_stop_loop_goes_to_the_end_of_the_lane_that_feeds_a_split(split):
    j, net = split
    short, feeder = net.getLane("W1C_0"), net.getLane("W0W1_0")
    assert short.getLength() < DET.loop_length_m
    stop = _loops(j, "W1C_0")["stop"]
    assert stop.lane == "W1C_0" and stop.at_lane == "W0W1_0"
    assert stop.length_m is None  # a whole loop: the feeder has room for it
    assert stop.pos_m == pytest.approx(feeder.getLength() - DET.stop_setback_m - DET.loop_length_m, abs=0.01)
    assert stop.dist_to_stop_m == pytest.approx(short.getLength() + DET.stop_setback_m + DET.loop_length_m, abs=0.01)


def test_advance_loop_stays_upstream_of_the_moved_stop_loop(split):
    j, _ = split
    loops = _loops(j, "W1C_0")
    assert loops["advance"].at_lane == "W0W1_0"
    assert loops["advance"].dist_to_stop_m == pytest.approx(DET.advance_dist_m)
    assert loops["advance"].pos_m + DET.loop_length_m < loops["stop"].pos_m


def test_stop_loop_stays_where_the_chain_branches(split):
    j, net = split
    stop = _loops(j, "S1C_0")["stop"]  # two links feed S1C: no single lane to move it to
    assert stop.at_lane == "S1C_0" and stop.length_m < DET.loop_length_m
    assert stop.pos_m + stop.length_m < net.getLane("S1C_0").getLength()


def test_stop_loop_stays_on_a_short_lane_that_holds_a_loop(tmp_path):
    j, _ = _import(tmp_path, {"W1C": 3.0})
    stop = _loops(j, "W1C_0")["stop"]
    assert stop.at_lane == "W1C_0"
    assert stop.dist_to_stop_m == pytest.approx(DET.stop_setback_m + DET.loop_length_m, abs=0.01)


def test_a_lane_fed_only_by_a_turn_back_is_a_fringe(tmp_path):
    """N0 is a dead end where the road turns around: the one lane out of C turns back into both
    lanes of N0C. Vehicles enter the network on N0C, so its advance loops are not at its very
    start (where a vehicle inserted there stands already past them)."""
    edges = [(eid, *split_edge(eid)) for eid in EDGES]
    con = tmp_path / "uturn.con.xml"
    con.write_text(
        "<connections>\n"
        '  <connection from="CN0" to="N0C" fromLane="0" toLane="0"/>\n'
        '  <connection from="CN0" to="N0C" fromLane="0" toLane="1"/>\n'
        "</connections>\n"
    )
    net = netconvert(tmp_path, "uturn", node_xml(NODES), edge_xml(edges, {}, {"N0C": 2}), "-x", str(con))
    sumo = read_net(net)
    assert {ln.getID() for ln in sumo.getLane("N0C_1").getIncoming() if not ln.getID().startswith(":")} == {"CN0_0"}
    import_network(net, tmp_path / "j", CFG)
    (j,) = load_intersections(tmp_path / "j").values()
    for lane in ("N0C_0", "N0C_1"):
        adv = _loops(j, lane)["advance"]
        assert adv.at_lane == lane and adv.pos_m >= DET.vehicle_spacing_m


def _two_lane_split(tmp_path: Path) -> Path:
    """W0 -> W1 -> C on two lanes, W1C 0.5 m; W1C_0 fed by W0W1_0 alone, W1C_1 by W0W1_1 and by
    a side road from WS (its chain branches); plus approaches from E0 and N0."""
    nodes = {
        "C": (0, 0, "traffic_light"),
        "W0": (-300, 0, "priority"),
        "W1": (-0.5, 0, "priority"),
        "WS": (-100, -200, "priority"),
        "E0": (300, 0, "priority"),
        "N0": (0, 300, "priority"),
    }
    edges = [("W0W1", "W0", "W1"), ("W1C", "W1", "C"), ("WSW1", "WS", "W1"), ("E0C", "E0", "C"), ("N0C", "N0", "C")]
    edges += [("CE0", "C", "E0"), ("CN0", "C", "N0")]
    con = tmp_path / "split.con.xml"
    con.write_text(
        "<connections>\n"
        '  <connection from="W0W1" to="W1C" fromLane="0" toLane="0"/>\n'
        '  <connection from="W0W1" to="W1C" fromLane="1" toLane="1"/>\n'
        '  <connection from="WSW1" to="W1C" fromLane="0" toLane="1"/>\n'
        "</connections>\n"
    )
    lanes = {"W0W1": 2, "W1C": 2}
    return netconvert(tmp_path, "split2", node_xml(nodes), edge_xml(edges, {"W1C": 0.5}, lanes), "-x", str(con))


def test_stop_loops_of_one_approach_move_together_or_not_at_all(tmp_path):
    net = _two_lane_split(tmp_path)
    sumo = read_net(net)
    assert sumo.getLane("W1C_0").getLength() < DET.loop_length_m
    feeders = {ln.getID() for ln in sumo.getLane("W1C_1").getIncoming() if not ln.getID().startswith(":")}
    assert feeders == {"W0W1_1", "WSW1_0"}
    import_network(net, tmp_path / "j", CFG)
    (j,) = load_intersections(tmp_path / "j").values()
    # W1C_0 alone could move to W0W1_0, but W1C_1 cannot: both stay on the short lanes
    assert _loops(j, "W1C_0")["stop"].at_lane == "W1C_0"
    assert _loops(j, "W1C_1")["stop"].at_lane == "W1C_1"


def test_both_rules_are_on_as_shipped(tmp_path):
    """As shipped (BENCHMARKS.md, K session 27), the import moves the loop, and
    with both keys false it stays on the split lane."""
    assert SHIPPED.detectors.stop_loop_before_split and SHIPPED.detectors.turn_back_is_fringe
    for d in ("shipped", "off"):
        (tmp_path / d).mkdir()
    j, _ = _import(tmp_path / "shipped", {"W1C": 0.5}, SHIPPED)
    assert _loops(j, "W1C_0")["stop"].at_lane == "W0W1_0"
    det = replace(SHIPPED.detectors, stop_loop_before_split=False, turn_back_is_fringe=False)
    off = replace(SHIPPED, detectors=det)
    j, _ = _import(tmp_path / "off", {"W1C": 0.5}, off)
    assert _loops(j, "W1C_0")["stop"].at_lane == "W1C_0"


@pytest.mark.parametrize("key", ["stop_loop_before_split", "turn_back_is_fringe"])
def test_a_switch_that_is_not_a_bool_names_the_file_and_the_field(tmp_path, key):
    bad = tmp_path / "c.toml"
    bad.write_text(f"[detectors]\n{key} = 1\n")
    with pytest.raises(ConfigError, match=f"detectors.{key}") as err:
        load_config(bad)
    assert str(bad) in str(err.value)

"""[detectors] advance_past_split where the feeding lane is not a network entry (two edges join upstream of it): the
shared loop sits `advance_dist_m` from the stop line along the path (the pocket's metres counted), and the room past
it is shared between the lanes it feeds as its road is (Detector.room_m, docs/import.md "Past a split")."""

from __future__ import annotations

import pytest
import sumolib

from controller.config import Config
from controller.core.estimation import Layout
from controller.junctions import load_intersections
from controller.model import Intersection
from sim.netimport import import_network
from tests.netbuild import edge_xml, netconvert, node_xml
from tests.unit import test_import_advance_past_split as split

NODES = dict(split.NODES, X0=(-410, 0, "priority"), Y0=(-210, 200, "priority"))
EDGES = [*split.EDGES, ("X0W0", "X0", "W0"), ("Y0W0", "Y0", "W0")]


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> tuple[Intersection, sumolib.net.Net]:
    cwd = tmp_path_factory.mktemp("joined")
    (cwd / "split.con.xml").write_text(split.CONNECTIONS)
    net = netconvert(cwd, "split", node_xml(NODES), edge_xml(EDGES, {"PC": 0.8}, {"PC": 2}), "-x", "split.con.xml")
    import_network(net, cwd / "on", split.ON)
    (j,) = load_intersections(cwd / "on").values()
    return j, sumolib.net.readNet(str(net))


def test_the_shared_loop_counts_the_pocket_in_its_distance(joined):
    j, net = joined
    feeder, pocket = net.getLane("W0P_0").getLength(), net.getLane("PC_0").getLength()
    for lane in split.POCKETS:
        (adv,) = (d for d in j.detectors if d.lane == lane and d.kind == "advance")
        assert adv.at_lane == "W0P_0" and not adv.at_entry
        assert adv.pos_m == pytest.approx(feeder - (split.DET.advance_dist_m - pocket), abs=0.05)


def test_the_room_past_the_shared_loop_is_shared(joined):
    j, _ = joined
    lay = Layout.build(j, Config())
    for lane in split.POCKETS:
        (adv,) = (d for d in j.detectors if d.lane == lane and d.kind == "advance")
        room_m = adv.pos_m if adv.room_m is None else adv.room_m
        want = room_m / 2 / split.DET.vehicle_spacing_m
        assert float(lay.lane_adv_room_pcu[lay.lanes.index(lane)]) == pytest.approx(want)

"""[detectors] advance_past_split (sim/loops.py _past_split; off as shipped): a lane with no room for an advance
loop whose chain ends at a split (one lane becoming two pocket lanes just before the stop line) gets its advance loop
upstream on the feeding lane, one row per lane it feeds at the same place, `shared_by` the number of them; the
estimator counts each lane's share of it (Detector.shared_by), so the two lanes together count each vehicle once.

The net: W0 -> P -> C, W0P one lane of 196 m, PC two lanes of 0.8 m (a pocket edge at the stop line), W0P_0 feeding
both PC_0 (through, right) and PC_1 (left); C's other approaches are plain 200 m links."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core import estimation, netestimate
from controller.core.estimation import Layout
from controller.errors import JunctionError
from controller.junctions import load_intersections
from controller.model import Intersection, Snapshot
from sim.netimport import import_network
from tests.estimate_fixtures import fold_both_ways, reading
from tests.netbuild import edge_xml, netconvert, node_xml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = load_config(ROOT / "config.toml")
ON = replace(SHIPPED, detectors=replace(SHIPPED.detectors, advance_past_split=True))
DET = SHIPPED.detectors

NODES = {
    "C": (0, 0, "traffic_light"),
    "P": (-10, 0, "priority"),
    "W0": (-210, 0, "priority"),
    "E0": (200, 0, "priority"),
    "N0": (0, 200, "priority"),
    "S0": (0, -200, "priority"),
}
EDGES = [("W0P", "W0", "P"), ("PC", "P", "C"), ("CW0", "C", "W0")]
for far in ("E0", "N0", "S0"):
    EDGES += [(f"{far}C", far, "C"), (f"C{far}", "C", far)]
CONNECTIONS = """<connections>
  <connection from="W0P" to="PC" fromLane="0" toLane="0"/>
  <connection from="W0P" to="PC" fromLane="0" toLane="1"/>
  <connection from="PC" to="CE0" fromLane="0" toLane="0"/>
  <connection from="PC" to="CS0" fromLane="0" toLane="0"/>
  <connection from="PC" to="CN0" fromLane="1" toLane="0"/>
</connections>
"""
POCKETS = ("PC_0", "PC_1")


def _split_net(cwd: Path, feeder_m: float | None = None) -> Path:
    """The net; `feeder_m`: W0P that long (W0 a network entry: its loop a vehicle spacing in)."""
    (cwd / "split.con.xml").write_text(CONNECTIONS)
    edges = edge_xml(EDGES, {"PC": 0.8} | ({} if feeder_m is None else {"W0P": feeder_m}), {"PC": 2})
    return netconvert(cwd, "split", node_xml(NODES), edges, "-x", "split.con.xml")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Intersection]:
    cwd = tmp_path_factory.mktemp("split")
    net = _split_net(cwd)
    out = {}
    for name, cfg in (("off", SHIPPED), ("on", ON)):
        import_network(net, cwd / name, cfg)
        (out[name],) = load_intersections(cwd / name).values()
    return out


def _loops(j: Intersection, kind: str) -> dict[str, object]:
    return {d.lane: d for d in j.detectors if d.kind == kind}


def test_off_as_shipped():
    assert SHIPPED.detectors.advance_past_split is False


def test_without_the_key_the_pocket_lanes_have_stop_line_loops_only(imported):
    adv, stop = _loops(imported["off"], "advance"), _loops(imported["off"], "stop")
    assert set(POCKETS) <= set(stop)
    assert not set(POCKETS) & set(adv)


def test_the_feeding_lane_carries_one_advance_loop_per_pocket_lane_it_feeds(imported):
    adv = _loops(imported["on"], "advance")
    a, b = adv["PC_0"], adv["PC_1"]
    assert a.at_lane == b.at_lane == "W0P_0"
    assert a.pos_m == b.pos_m and a.dist_to_stop_m == b.dist_to_stop_m == pytest.approx(DET.advance_dist_m)
    assert a.shared_by == b.shared_by == 2
    assert a.id != b.id
    # the other approaches' loops and every stop-line loop are the same with the key
    off_adv, on_stop = _loops(imported["off"], "advance"), _loops(imported["on"], "stop")
    assert {k: v for k, v in adv.items() if k not in POCKETS} == off_adv
    assert on_stop == _loops(imported["off"], "stop")
    assert all(d.shared_by == 1 for d in imported["on"].detectors if d.lane not in POCKETS)


def test_the_storage_of_the_shared_road_is_split_between_the_lanes(imported):
    lay = Layout.build(imported["on"], Config())
    stop = _loops(imported["on"], "stop")["PC_0"]
    for lane in POCKETS:
        i = lay.lanes.index(lane)
        want = (DET.advance_dist_m - stop.dist_to_stop_m) / 2 / DET.vehicle_spacing_m
        assert float(lay.lane_storage_pcu[i]) == pytest.approx(want)
    left = next(m for m in imported["on"].movements if m.lanes == ("PC_1",))
    assert left.storage_pcu == pytest.approx(DET.advance_dist_m / 2 / DET.vehicle_spacing_m, abs=0.01)


@pytest.mark.parametrize("feeder_m", [12.0, 16.0, 40.0])
def test_a_shared_loop_only_where_the_road_to_the_stop_line_loop_holds_a_vehicle_for_each_lane(tmp_path, feeder_m):
    """On a 12 m entry the loop a vehicle spacing in would be about 4.5 m from the pockets' stop-line loops: under one
    vehicle (vehicle_spacing_m) for each of the two lanes, so none (rand_short_edges: 3.7 m); on a 16 m entry about
    8.5 m: one vehicle, not one for each lane, so none either (R, session 68: mutant D3a5-1, one vehicle for all the
    lanes, survived); on a 40 m entry, 32.5 m (ingolstadt7's 124812856#0: 32.1 m), one shared by the two."""
    import_network(_split_net(tmp_path, feeder_m), tmp_path / "on", ON)
    (j,) = load_intersections(tmp_path / "on").values()
    adv, stop = _loops(j, "advance"), _loops(j, "stop")
    if feeder_m < 2 * DET.vehicle_spacing_m + 2 * DET.loop_length_m:
        assert not set(POCKETS) & set(adv)
    else:
        for lane in POCKETS:
            assert adv[lane].shared_by == 2 and adv[lane].at_lane == "W0P_0"
            assert adv[lane].dist_to_stop_m - stop[lane].dist_to_stop_m >= 2 * DET.vehicle_spacing_m


def _red_counts(j: Intersection, seconds: int, per_s: int, t0: int = 0) -> list[Snapshot]:
    """`per_s` cars a second over the shared loop (its two rows read the same loop), nothing over the stop lines."""
    adv = _loops(j, "advance")
    shared = (adv["PC_0"].id, adv["PC_1"].id)
    others = [d.id for d in j.detectors if d.id not in shared]
    rows = tuple(reading(d, {"car": per_s}) for d in shared) + tuple(reading(d) for d in others)
    return [Snapshot(j.id, float(t0 + t), 1.0, rows) for t in range(1, seconds + 1)]


def _discharges(j: Intersection, seconds: int, per_lane: dict[str, int]) -> list[Snapshot]:
    """Cars a second over the pockets' stop-line loops (`per_lane`), nothing over any other loop."""
    stop = {d.id: per_lane.get(d.lane, 0) for d in j.detectors if d.kind == "stop"}
    rows = tuple(reading(d.id, {"car": stop[d.id]} if stop.get(d.id) else {}) for d in j.detectors)
    return [Snapshot(j.id, float(t), 1.0, rows) for t in range(1, seconds + 1)]


def test_the_estimator_counts_a_shared_loop_once_over_the_lanes_it_feeds(imported):
    j = imported["on"]
    lay = Layout.build(j, Config())
    est = estimation.Estimate.empty(lay, 0.0)
    for s in _red_counts(j, 5, 2):  # 10 cars over the loop in red: they queue in the pockets
        est = estimation.update(lay, est, s, None)
    q = {lane: float(est.lanes.queue_pcu[lay.lanes.index(lane)]) for lane in POCKETS}
    assert sum(q.values()) == pytest.approx(10.0)  # not 20: each car counted once, half on each lane
    assert q["PC_0"] == pytest.approx(q["PC_1"])
    assert np.all(lay.det_group[[lay.det_index[d.id] for d in j.detectors if d.lane not in POCKETS]] == -1)


def test_the_shared_count_splits_as_the_lanes_discharge(imported):
    """Once the pockets' own stop-line loops have counted 2 cars to 1, the shared loop's count splits 2 to 1 (their
    departures' averages, LaneState.dep_flow_pcu_h); the even split stands only while they have counted none."""
    j = imported["on"]
    lay = Layout.build(j, Config())
    est = estimation.Estimate.empty(lay, 0.0)
    for s in _discharges(j, 5, {"PC_0": 2, "PC_1": 1}):
        est = estimation.update(lay, est, s, None)
    before = est.lanes.queue_pcu.copy()
    for s in _red_counts(j, 3, 2, t0=5):  # 6 cars, under either pocket's storage (5.28 PCU)
        est = estimation.update(lay, est, s, None)
    grew = {lane: float(est.lanes.queue_pcu[i] - before[i]) for i, lane in enumerate(lay.lanes) if lane in POCKETS}
    assert grew["PC_0"] == pytest.approx(4.0) and grew["PC_1"] == pytest.approx(2.0)  # each car once, 2 to 1


def test_the_network_fold_reads_a_shared_loop_as_the_junction_does(imported):
    j = imported["on"]
    layouts = {j.id: Layout.build(j, Config())}
    net = netestimate.NetworkLayout.build(layouts)
    ref = {j.id: estimation.Estimate.empty(layouts[j.id], 0.0)}
    got = dict(ref)
    for s in _red_counts(j, 5, 2) + _discharges(j, 3, {"PC_0": 2, "PC_1": 1}) + _red_counts(j, 5, 2, t0=8):
        got = fold_both_ways(net, layouts, ref, got, {j.id: [s]}, {j.id: None})


@pytest.mark.parametrize(
    ("kind", "value", "why"),
    [("advance", 0, "whole number >= 1"), ("advance", 1.5, "whole number >= 1"), ("stop", 2, "only an advance loop")],
)
def test_the_loader_refuses_a_wrong_shared_by(tmp_path, imported, kind, value, why):
    cwd = tmp_path / "bad"
    import_network(_split_net(tmp_path), cwd, ON)
    (path,) = cwd.glob("*.toml")
    text = path.read_text()
    row = next(d for d in imported["on"].detectors if d.kind == kind and d.lane == "PC_1")
    head = f'id = "{row.id}"\n'
    assert head in text
    body = text.replace("shared_by = 2\n", "") if kind == "advance" else text
    path.write_text(body.replace(head, f"{head}shared_by = {value}\n", 1))
    with pytest.raises(JunctionError, match=why) as err:
        load_intersections(cwd)
    assert path.name in str(err.value) and "shared_by" in str(err.value)

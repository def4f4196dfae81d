"""Detector placement by the importer, on small hand-built networks (tests/netbuild.py)."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sumolib

from controller.config import load_config
from controller.junctions import load_intersections
from sim import loops
from sim.field import write_detector_file
from sim.netimport import import_network, read_net
from tests.netbuild import additional, cross_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")
DET = CFG.detectors


def _import(net: Path, out: Path, **kw):
    import_network(net, out, CFG, **kw)
    (j,) = load_intersections(out).values()
    return j, read_net(net)


def _loops(j, lane: str) -> dict:
    return {d.kind: d for d in j.detectors if d.lane == lane}


@pytest.fixture(scope="module")
def cross(tmp_path_factory) -> tuple:
    work = tmp_path_factory.mktemp("cross")
    return _import(cross_net(work), work / "j")


def test_long_lane_loops_at_the_configured_distances(cross):
    j, net = cross
    lane = net.getLane("E0C_0")
    d = _loops(j, "E0C_0")
    assert d["stop"].at_lane == "E0C_0" and d["stop"].dist_to_stop_m == pytest.approx(DET.stop_setback_m + 1.0)
    assert d["advance"].at_lane == "E0C_0" and d["advance"].dist_to_stop_m == pytest.approx(DET.advance_dist_m)
    assert d["advance"].pos_m == pytest.approx(lane.getLength() - DET.advance_dist_m, abs=0.01)


def test_advance_loop_goes_upstream_along_an_unambiguous_chain(cross):
    j, net = cross
    short, feeder = net.getLane("W1C_0"), net.getLane("W0W1_0")
    assert short.getLength() < DET.advance_dist_m
    adv = _loops(j, "W1C_0")["advance"]
    assert adv.lane == "W1C_0" and adv.at_lane == "W0W1_0"
    assert adv.dist_to_stop_m == pytest.approx(DET.advance_dist_m)
    assert adv.pos_m == pytest.approx(feeder.getLength() - (DET.advance_dist_m - short.getLength()), abs=0.01)
    # the queue storage counts the whole distance to the advance loop, shared by the lane's movements
    movs = [m for m in j.movements if "W1C_0" in m.lanes]
    assert sum(m.storage_pcu for m in movs) == pytest.approx(DET.advance_dist_m / DET.vehicle_spacing_m, abs=0.05)


def test_advance_loop_stays_at_the_branch_point(cross):
    j, net = cross
    adv = _loops(j, "S1C_0")["advance"]  # S1C is fed by two links: the chain stops at its start
    assert adv.at_lane == "S1C_0" and adv.pos_m < 0.1
    assert adv.dist_to_stop_m == pytest.approx(net.getLane("S1C_0").getLength(), abs=0.05)


def test_advance_loop_never_at_the_start_of_a_fringe_lane(cross):
    j, net = cross
    adv = _loops(j, "N0C_0")["advance"]  # N0C starts at the network's fringe
    assert adv.at_lane == "N0C_0" and adv.pos_m >= DET.vehicle_spacing_m
    assert adv.dist_to_stop_m == pytest.approx(net.getLane("N0C_0").getLength() - adv.pos_m, abs=0.01)


def test_an_advance_loop_fed_only_from_a_network_entry_is_marked(cross):
    """A queue past such a loop waits to enter the network (Detector.at_entry: no junction's
    streams behind it, [max_pressure] spill_reach); one fed by two links holds theirs."""
    j, _ = cross
    assert _loops(j, "N0C_0")["advance"].at_entry  # N0C starts at the fringe
    assert _loops(j, "W1C_0")["advance"].at_entry  # fed by W0W1 alone, which starts at the fringe
    assert not _loops(j, "S1C_0")["advance"].at_entry  # fed by two links
    assert not any(d.at_entry for d in j.detectors if d.kind == "stop")


def _lane_added_net(work: Path) -> Path:
    """Signalised C with two 30 m two-lane approaches that each start where a one-lane road
    widens (a lane added: the chain of sole feeders stops there, the advance loops sit at the
    lanes' start): S from M, 100 m before, where X and Y merge; E from the network's edge; W
    from node Q, where the side road V joins."""
    from tests.netbuild import edge_xml, netconvert, node_xml

    nodes = {
        "C": (0, 0, "traffic_light"),
        "P": (0, -30, "priority"),
        "M": (0, -130, "priority"),
        "X": (0, -400, "priority"),
        "Y": (100, -130, "priority"),
        "E1": (30, 0, "priority"),
        "E0": (300, 0, "priority"),
        "Q": (-30, 0, "priority"),
        "W0": (-300, 0, "priority"),
        "V": (-30, 200, "priority"),
    }
    pairs = [("X", "M"), ("M", "P"), ("P", "C"), ("E0", "E1"), ("E1", "C"), ("W0", "Q"), ("Q", "C")]
    edges = [(f"{a}{b}", a, b) for a, b in pairs] + [(f"{b}{a}", b, a) for a, b in pairs]
    edges += [("YM", "Y", "M"), ("VQ", "V", "Q")]
    lanes = {"PC": 2, "E1C": 2, "QC": 2}
    return netconvert(work, "added", node_xml(nodes), edge_xml(edges, {}, lanes))


def test_the_room_past_a_loop_reads_up_the_approachs_own_road_to_the_first_merge(tmp_path):
    """A loop at the start of a lane whose road widens there: a queue past it stands on the
    one-lane road before, the approach's own, until the node where other streams merge
    (Detector.room_m: the loop's position plus that road, shared by the lanes it feeds;
    [max_pressure] spill_reach / spill_room count only the spill beyond it); to a network entry
    with no merge: at_entry. A lane that
    starts where another road joins keeps the room of its own lane (no room_m)."""
    net = _lane_added_net(tmp_path)
    j, sumo_net = _import(net, tmp_path / "j")
    mp = sumo_net.getEdge("MP").getLength()
    for lane in ("PC_0", "PC_1"):
        adv = _loops(j, lane)["advance"]
        assert adv.at_lane == lane and adv.pos_m < 0.1 and not adv.at_entry
        assert adv.room_m == pytest.approx(adv.pos_m + mp / 2, abs=0.01)  # MP's one lane holds both lanes' spill
    for lane in ("E1C_0", "E1C_1"):
        adv = _loops(j, lane)["advance"]
        assert adv.at_lane == lane and adv.at_entry  # E0E1 starts at the fringe and feeds both lanes
    for lane in ("QC_0", "QC_1"):
        adv = _loops(j, lane)["advance"]
        assert adv.at_lane == lane and adv.room_m is None and not adv.at_entry  # V joins at Q
    assert all(d.room_m is None for d in j.detectors if d.kind == "stop")


def test_loops_fit_on_lanes_shorter_than_a_loop(tmp_path):
    j, net = _import(cross_net(tmp_path, "tiny", {"W1C": 0.8, "N0C": 0.8, "S1C": 0.8}), tmp_path / "j")
    for d in j.detectors:
        lane_m = net.getLane(d.at_lane).getLength()
        length = DET.loop_length_m if d.length_m is None else d.length_m
        assert d.pos_m >= 0 and d.pos_m + length < lane_m, d
    assert set(_loops(j, "N0C_0")) == {"stop"}  # a 0.8 m fringe lane: no room for an advance loop
    assert _loops(j, "W1C_0")["advance"].at_lane == "W0W1_0"  # still upstream along the chain
    assert _loops(j, "W1C_0")["advance"].dist_to_stop_m == pytest.approx(DET.advance_dist_m)
    assert _loops(j, "S1C_0")["stop"].length_m < DET.loop_length_m


def test_fringe_lane_too_short_for_an_advance_loop(tmp_path):
    j, _ = _import(cross_net(tmp_path, "short", {"N0C": 9.0}), tmp_path / "j")
    assert set(_loops(j, "N0C_0")) == {"stop"}
    # storage: the lane itself (no advance loop), at least one PCU per movement
    assert all(m.storage_pcu >= 1.0 for m in j.movements if "N0C_0" in m.lanes)


def test_detector_file_uses_the_physical_lane_and_length(cross, tmp_path):
    j, _ = cross
    root = ET.parse(write_detector_file({j.id: j}, tmp_path / "d.xml", DET.loop_length_m)).getroot()
    by_id = {e.get("id"): e for e in root}
    adv = _loops(j, "W1C_0")["advance"]
    assert by_id[adv.id].get("lane") == "W0W1_0" and float(by_id[adv.id].get("pos")) == pytest.approx(adv.pos_m)
    assert len(by_id) == len(j.detectors)


def _city_loops(work: Path, net: Path) -> Path:
    return additional(
        work,
        "city_loops.add.xml",
        "\n".join(
            [
                '  <e1Detector id="up_W" lane="W0W1_0" pos="200" freq="60" file="NUL"/>',
                '  <e1Detector id="stop_W" lane="W1C_0" pos="21" freq="60" file="NUL"/>',
                '  <inductionLoop id="stop_E" lane="E0C_0" pos="-5" period="60" file="NUL"/>',
                '  <e1Detector id="side" lane="S2S1_0" pos="50" freq="60" file="NUL"/>',
                '  <e1Detector id="C_N0C_0_stop" lane="CN0_0" pos="5" freq="60" file="NUL"/>',
            ]
        ),
    )


def test_city_loops_mapped_along_the_chain(tmp_path):
    net = cross_net(tmp_path)
    adds = [_city_loops(tmp_path, net)]
    j, sumo_net = _import(net, tmp_path / "j", additional=adds, detectors="city")
    w, e = _loops(j, "W1C_0"), _loops(j, "E0C_0")
    assert w["advance"].id == "up_W" and w["advance"].at_lane == "W0W1_0" and w["advance"].city
    assert w["advance"].dist_to_stop_m == pytest.approx(sumo_net.getLane("W1C_0").getLength() + 70.0, abs=0.01)
    assert w["stop"].id == "stop_W" and w["stop"].at_lane == "W1C_0"
    assert set(e) == {"stop"} and e["stop"].dist_to_stop_m == pytest.approx(5.0)
    # a loop on a side road is not on S1C's chain (two links feed S1C); N0C has no city loop
    assert not _loops(j, "S1C_0") and not _loops(j, "N0C_0")
    assert "side" not in j.detector_ids
    # the city's loops are already in the scenario: the generated file leaves them out
    root = ET.parse(write_detector_file({j.id: j}, tmp_path / "d.xml", DET.loop_length_m)).getroot()
    assert len(root) == 0
    # storage: to the advance loop where there is one
    movs = [m for m in j.movements if "W1C_0" in m.lanes]
    assert sum(m.storage_pcu for m in movs) == pytest.approx(
        w["advance"].dist_to_stop_m / DET.vehicle_spacing_m, abs=0.05
    )


def test_generated_ids_differ_from_the_city_loops(tmp_path):
    net = cross_net(tmp_path)
    j, _ = _import(net, tmp_path / "j", additional=[_city_loops(tmp_path, net)])
    stop = _loops(j, "N0C_0")["stop"]
    assert stop.id != "C_N0C_0_stop" and stop.id.startswith("C_N0C_0_stop") and not stop.city
    assert not any(d.city for d in j.detectors)


def test_junction_without_city_loops_gets_generated_ones(tmp_path):
    net = cross_net(tmp_path)
    side = additional(tmp_path, "side.add.xml", '  <e1Detector id="side" lane="S2S1_0" pos="50" file="NUL"/>')
    j, _ = _import(net, tmp_path / "j", additional=[side], detectors="city")
    assert j.detectors and not any(d.city for d in j.detectors)
    assert {d.lane for d in j.detectors if d.kind == "stop"} == {ln for m in j.movements for ln in m.lanes}


def test_compressed_scenario_files_import_as_the_plain_ones(tmp_path):
    """A city hands over `net.xml.gz` and `add.xml.gz` (SUMO reads gzip by its content): the
    importer read the additional files with a plain XML parser and refused them as malformed
    XML. The network, its program in an additional file and the city's loops, gzipped, import to
    the junction the plain files give."""
    import gzip
    import shutil

    from tests.netbuild import tl_logic

    net = cross_net(tmp_path)
    ns, ew = "GGgrrrGGgrrr", "rrrGGgrrrGGg"
    tls = additional(
        tmp_path, "tls.add.xml", tl_logic("C", "city", [(40, ns), (4, "y" * 12), (20, ew), (4, "y" * 12)], 7)
    )
    plain = [tls, _city_loops(tmp_path, net)]
    packed = []
    for fp in [net, *plain]:
        gz = fp.with_name(fp.name + ".gz")
        with open(fp, "rb") as src, gzip.open(gz, "wb") as dst:
            shutil.copyfileobj(src, dst)
        packed.append(gz)
    j, _ = _import(net, tmp_path / "plain", additional=plain, detectors="city")
    _import(packed[0], tmp_path / "gz", additional=packed[1:], detectors="city")
    assert [p.base_green_s for p in j.phases] == [40.0, 20.0] and j.base_offset_s == 7.0
    assert any(d.city for d in j.detectors)
    body = [(tmp_path / d / "C.toml").read_text().split("\n", 1) for d in ("plain", "gz")]
    assert body[1][0].endswith("from cross.net.xml.gz by import-net.") and body[1][1] == body[0][1]


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_compressed_additional_file_is_named_not_a_traceback(tmp_path, damage):
    """A gzip file cut short raises EOFError and one with damaged data zlib.error, neither an
    OSError: both escaped the readers as a traceback. Each reader names the file instead."""
    import gzip

    from controller.errors import NetworkError
    from sim.loops import read_city_loops
    from sim.netprogram import additional_programs, waut_schedules

    net = cross_net(tmp_path)
    packed = gzip.compress(_city_loops(tmp_path, net).read_bytes() + b"<!--" + b"x" * 4000 + b"-->")
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    else:
        packed = packed[:20] + bytes(b ^ 0xFF for b in packed[20:60]) + packed[60:]
    gz = tmp_path / "loops.add.xml.gz"
    gz.write_bytes(packed)
    with pytest.raises(NetworkError, match=r"loops\.add\.xml\.gz: -: malformed XML"):
        additional_programs([gz])
    with pytest.raises(NetworkError, match=r"loops\.add\.xml\.gz: -: cannot read additional file"):
        read_city_loops([gz], read_net(net))
    assert waut_schedules([gz]) == {}


def _merge_then_approach_net(work: Path, name: str, p_type: str, side: dict[str, tuple]) -> Path:
    """Signalised C with a 30 m two-lane approach PC that starts at P (a node of type `p_type`),
    fed by the one-lane road MP from M, 100 m before, where X and Y merge. A cross road W0-C-E0.
    `side`: extra nodes at P, {node: (x, y, type)}, each joined by a one-way road P -> node."""
    from tests.netbuild import edge_xml, netconvert, node_xml

    nodes = {
        "C": (0, 0, "traffic_light"),
        "P": (0, -30, p_type),
        "M": (0, -130, "priority"),
        "X": (0, -400, "priority"),
        "Y": (100, -130, "priority"),
        "E0": (300, 0, "priority"),
        "W0": (-300, 0, "priority"),
        **side,
    }
    pairs = [("X", "M"), ("M", "P"), ("P", "C"), ("E0", "C"), ("W0", "C")]
    edges = [(f"{a}{b}", a, b) for a, b in pairs] + [(f"{b}{a}", b, a) for a, b in pairs]
    edges += [("YM", "Y", "M")] + [(f"P{n}", "P", n) for n in side]
    return netconvert(work, name, node_xml(nodes), edge_xml(edges, {}, {"PC": 2}))


def _diverge_net(work: Path) -> Path:
    """_merge_then_approach_net where the one-lane road MP also turns off at P onto the one-way
    road PZ (a diverge: no other stream joins at P)."""
    return _merge_then_approach_net(work, "diverge", "priority", {"Z": (200, -30, "priority")})


def test_the_room_past_a_loop_stops_where_its_feeder_also_feeds_another_road(tmp_path):
    """MP feeds PC's lanes and the side road PZ: a queue past PC's loops onto MP stands where PZ's
    traffic passes, not on the approach's own road; the room is the loop's own lane (no room_m).
    (R, session 38: no test failed with own_road_m going on past such a feeder.)"""
    net = _diverge_net(tmp_path)
    j, sumo_net = _import(net, tmp_path / "j")
    fed = {c.getToLane().getID() for c in sumo_net.getLane("MP_0").getOutgoing()}
    assert fed == {"PC_0", "PC_1", "PZ_0"}
    for lane in ("PC_0", "PC_1"):
        adv = _loops(j, lane)["advance"]
        assert adv.at_lane == lane and adv.pos_m < 0.1
        assert adv.room_m is None and not adv.at_entry, lane


def test_the_room_past_a_loop_stops_at_a_traffic_light(tmp_path):
    """PC's lanes start at P, a signal on the road itself (a mid-block light: no other stream joins
    there; the importer controls only C), whose one-lane road MP comes from the merge at M: a queue
    past PC's loops onto MP stands at P's stop line, not on the approach's own road; the room is the
    loop's own lane (no room_m). (R, session 38: no test failed with own_road_m going on past a light.)"""
    net = _merge_then_approach_net(tmp_path, "midblock", "traffic_light", {})
    j, _ = _import(net, tmp_path / "j")
    assert j.id == "C"
    for lane in ("PC_0", "PC_1"):
        adv = _loops(j, lane)["advance"]
        assert adv.at_lane == lane and adv.pos_m < 0.1
        assert adv.room_m is None and not adv.at_entry, lane
        assert adv.room_from_light, lane  # a queue past the room stands at P's stop line
    assert not any(d.room_from_light for d in j.detectors if d.kind == "stop")


def test_a_room_that_ends_at_a_merge_or_an_entry_is_not_from_a_light(tmp_path):
    """The loops whose own road ends at an unsignalised merge (PC's at M, QC's at Q) or leads back to
    the network's edge (E1C's) are not marked room_from_light ([estimation] hidden_room_at_light)."""
    j, _ = _import(_lane_added_net(tmp_path), tmp_path / "j")
    advs = [d for d in j.detectors if d.kind == "advance"]
    assert {d.lane for d in advs} >= {"PC_0", "QC_0", "E1C_0"}
    assert not any(d.room_from_light for d in advs)
    j, _ = _import(_pure_merge_net(tmp_path, False), tmp_path / "j0")
    assert not any(d.room_from_light for d in j.detectors)


def _pure_merge_net(work: Path, turn_off: bool) -> Path:
    """Signalised C with a 30 m two-lane approach PC (one-way) fed by the one-lane road MP from M,
    100 m before, where the one-way roads XM (270 m, from the network's edge) and YM (100 m) merge
    and, with `turn_off`, M's one-way side road MZ also leaves. A cross road W0-C-E0."""
    from tests.netbuild import edge_xml, netconvert, node_xml

    nodes = {
        "C": (0, 0, "traffic_light"),
        "P": (0, -30, "priority"),
        "M": (0, -130, "priority"),
        "X": (0, -400, "priority"),
        "Y": (100, -130, "priority"),
        "E0": (300, 0, "priority"),
        "W0": (-300, 0, "priority"),
    }
    edges = [("XM", "X", "M"), ("YM", "Y", "M"), ("MP", "M", "P"), ("PC", "P", "C")]
    edges += [("E0C", "E0", "C"), ("CE0", "C", "E0"), ("W0C", "W0", "C"), ("CW0", "C", "W0")]
    if turn_off:
        nodes["Z"] = (-100, -130, "priority")
        edges.append(("MZ", "M", "Z"))
    return netconvert(work, f"merge{int(turn_off)}", node_xml(nodes), edge_xml(edges, {}, {"PC": 2}))


def test_the_road_past_the_room_that_leads_only_into_the_approach_is_stored_before_a_turn_off(tmp_path):
    """PC's room ends at M, where XM and YM merge into MP: a queue past it backs onto both, which
    lead only into MP, and holds only PC's traffic until it passes the shorter (YM): the advance
    loops' room_to_turn_off_pcu is YM's length / the jam spacing. Where the side road MZ also
    leaves M, the merging lanes carry traffic that turns off there: 0 (the whole spill past the
    room holds it); likewise where MP itself also feeds the side road PZ (the room ends at P)."""
    j, sumo_net = _import(_pure_merge_net(tmp_path, False), tmp_path / "j0")
    ym = sumo_net.getEdge("YM").getLength()
    assert ym < sumo_net.getEdge("XM").getLength()
    for lane in ("PC_0", "PC_1"):
        adv = _loops(j, lane)["advance"]
        assert adv.room_m == pytest.approx(adv.pos_m + sumo_net.getEdge("MP").getLength() / 2, abs=0.01)
        assert adv.room_to_turn_off_pcu == pytest.approx(ym / DET.vehicle_spacing_m, abs=0.01)
    j, _ = _import(_pure_merge_net(tmp_path, True), tmp_path / "j1")
    assert all(_loops(j, lane)["advance"].room_to_turn_off_pcu == 0.0 for lane in ("PC_0", "PC_1"))
    j, _ = _import(_diverge_net(tmp_path), tmp_path / "j2")
    assert all(_loops(j, lane)["advance"].room_to_turn_off_pcu == 0.0 for lane in ("PC_0", "PC_1"))
    assert all(d.room_to_turn_off_pcu is None for d in j.detectors if d.kind == "stop")


def test_an_import_reads_each_lanes_feeders_from_sumolib_once(tmp_path, monkeypatch):
    """junction_tables asks sumolib for a lane's incoming lanes once (loops.feeders_memo), not at every rule
    that walks up the lane (sumolib's getIncoming walks every connection into the edge), and writes the same
    junction file as without the memo."""
    net = cross_net(tmp_path)
    calls: dict[str, int] = {}
    read = sumolib.net.lane.Lane.getIncoming

    def counted(lane, *args, **kw):
        calls[lane.getID()] = calls.get(lane.getID(), 0) + 1
        return read(lane, *args, **kw)

    monkeypatch.setattr(sumolib.net.lane.Lane, "getIncoming", counted)
    import_network(net, tmp_path / "memo", CFG)
    assert calls and max(calls.values()) == 1
    calls.clear()
    monkeypatch.setattr(loops, "feeders_memo", contextlib.nullcontext)
    import_network(net, tmp_path / "plain", CFG)
    assert max(calls.values()) > 1  # without the memo the rules read the same lanes again
    assert [p.read_bytes() for p in sorted((tmp_path / "memo").glob("*.toml"))] == [
        p.read_bytes() for p in sorted((tmp_path / "plain").glob("*.toml"))
    ]


def test_a_city_loop_that_counts_only_some_vehicles_or_persons_is_not_a_lanes_loop(tmp_path):
    """SUMO's e1 `vTypes` counts those types only (a bus loop), `nextEdges` those whose route goes on there (a
    turn's loop), `detectPersons` persons instead of vehicles. Read as the lane's loop, a truck-only loop made the
    lane look empty: on rand_city_loops with every city loop truck-only, adaptive lost 1.07x fixed (49.44 against
    46.08 s/veh, 900 s, seed 1; 12.26 with them left out) (H, session 61)."""
    net = cross_net(tmp_path)
    rows = [
        '  <e1Detector id="stop_W" lane="W1C_0" pos="21" freq="60" file="NUL" vTypes="bus"/>',
        '  <inductionLoop id="stop_E" lane="E0C_0" pos="-5" period="60" file="NUL" nextEdges="CN0"/>',
        '  <e1Detector id="stop_N" lane="N0C_0" pos="-5" freq="60" file="NUL" detectPersons="walk"/>',
        '  <e1Detector id="up_W" lane="W0W1_0" pos="200" freq="60" file="NUL" vTypes="" detectPersons="none"/>',
    ]
    j, _ = _import(
        net, tmp_path / "j", additional=[additional(tmp_path, "c.add.xml", "\n".join(rows))], detectors="city"
    )
    assert {d.id for d in j.detectors if d.city} == {"up_W"}
    assert not _loops(j, "E0C_0") and not _loops(j, "N0C_0") and set(_loops(j, "W1C_0")) == {"advance"}

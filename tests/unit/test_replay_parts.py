"""The pieces of `replay` that need no SUMO run: GEH, windows and times, counts per interval,
the lag shift of the edge counts, the counts the entries' routes leave short, the [replay]
config, the validate report's edgeData."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from controller.adapters.archive import SCHEMAS, _Columns
from controller.config import ReplayConfig, load_config
from controller.errors import ConfigError, DefinitionError
from controller.model import DetectorReading, Snapshot
from sim.cli import with_edgedata
from sim.replay import ReplayRequest, parse_time, resolve_window, scenario_counters
from sim.replay_demand import (
    EdgeCounter,
    Sampling,
    covering_routes,
    drop_one_edge_routes,
    edge_counters,
    interval_counts,
    other_permissions,
    route_fit,
    sample_routes,
    shortfall_counts,
    turn_counters,
    write_edgedata,
    write_vtypes,
)
from sim.replay_geh import compare_counts, count_sites, geh
from tests.netxml import Edge, Link, net_xml

ROOT = Path(__file__).resolve().parents[2]


def table(rows: list[tuple[float, str, int]]) -> pa.Table:
    """Detector rows (t_s, loop, cars)."""
    cols = _Columns("detectors")
    for t_s, loop, cars in rows:
        reading = DetectorReading(loop, (("car", cars),) if cars else (), 0.0, -1.0)
        cols.add_detectors(Snapshot("J", t_s, 1.0, (reading,)), t_s, 1, 0)
    return pa.Table.from_batches([cols.batch()], schema=SCHEMAS["detectors"])


def test_geh_is_the_textbook_statistic():
    assert geh(100.0, 100.0) == 0.0
    assert geh(0.0, 0.0) == 0.0
    assert geh(150.0, 100.0) == pytest.approx(math.sqrt(2 * 50**2 / 250))  # 4.47: acceptable
    assert geh(1200.0, 1000.0) > 5.0


def test_compare_counts_sums_the_loops_of_a_site_and_scales_to_hourly_flows():
    counted = table([(t, "a", 1) for t in range(1, 901)] + [(t, "b", 0) for t in range(1, 901)])
    modelled = table([(t, "a", 1) for t in range(1, 451)] + [(t, "b", 1) for t in range(451, 901)])
    per_loop = compare_counts(counted, modelled, 0.0, 900.0)
    assert {r.detector for r in per_loop.hourly} == {"a", "b"}
    a = next(r for r in per_loop.hourly if r.detector == "a")
    assert (a.counted_veh_h, a.modelled_veh_h, a.period_s) == (3600.0, 1800.0, 900.0)
    per_site = compare_counts(counted, modelled, 0.0, 900.0, {"a": "e:stop", "b": "e:stop"})
    assert [(r.detector, r.geh) for r in per_site.hourly] == [("e:stop", 0.0)]
    assert per_site.hourly_share == 1.0 and per_site.quarter_n == 1


def test_times_and_windows():
    assert parse_time("3600", "--from") == 3600.0
    assert parse_time("1970-01-01T01:00", "--from") == 3600.0
    with pytest.raises(DefinitionError, match="neither seconds"):
        parse_time("tuesday", "--from")
    det = table([(t, "a", 0) for t in range(1, 601)])
    params = ReplayConfig(lead_s=300.0, interval_s=60.0, sampler_interval_s=60.0)
    w = resolve_window(ReplayRequest(Path("x"), Path("o"), t_from="120"), det, params)
    assert (w.from_s, w.to_s, w.offset_s, w.first_s, w.start_s) == (120.0, 600.0, 0.0, 0.0, 0.0)
    w = resolve_window(ReplayRequest(Path("x"), Path("o"), t_from="420"), det, params)
    assert (w.start_s, w.from_s) == (120.0, 420.0)  # the lead before --from is simulated, not compared
    for t_from, t_to, msg in (("700", None, "outside"), ("0", "30", "empty window"), (None, "9000", "outside")):
        with pytest.raises(DefinitionError, match=msg):
            resolve_window(ReplayRequest(Path("x"), Path("o"), t_from=t_from, t_to=t_to), det, params)
    with pytest.raises(DefinitionError, match="shorter than one 300 s"):  # routeSampler's interval counts too
        resolve_window(ReplayRequest(Path("x"), Path("o"), t_from="420"), det, ReplayConfig(interval_s=60.0))
    day2 = table([(86400.0 + t, "a", 0) for t in range(1, 601)])
    assert resolve_window(ReplayRequest(Path("x"), Path("o")), day2, params).offset_s == 86400.0


def test_the_replay_parameters_come_from_config_toml_and_bad_values_name_the_field(tmp_path):
    assert load_config(ROOT / "config.toml").replay == ReplayConfig()  # the file states the defaults
    for text, field in (
        ("[replay]\nminimize_vehicles = 1.0\n", "replay.minimize_vehicles"),  # routeSampler needs [0, 1)
        ("[replay]\ninterval_s = 0\n", "replay.interval_s"),
        ("[replay]\nlead_s = -60\n", "replay.lead_s"),
        ("[replay]\ncandidate_trips = 10.5\n", "replay.candidate_trips"),
        ('[replay]\ndrop_one_edge_routes = "no"\n', "replay.drop_one_edge_routes"),
        ("[replay]\nroute_min_counts = 0\n", "replay.route_min_counts"),  # routeSampler's --min-count >= 1
        ("[replay]\ninterval_s = 60.0\nsampler_interval_s = 90.0\n", "replay.sampler_interval_s"),  # not whole
        ("[replay]\ninterval_s = 60.0\nsampler_interval_s = 30.0\n", "replay.sampler_interval_s"),  # finer
        ("[replay]\ncover_routes_cut = 3\n", "replay.cover_routes_cut"),
        ('[replay]\nrestricted_lane_cars = "yes"\n', "replay.restricted_lane_cars"),
        ("[replay]\nstart_before_advance_loops = 1\n", "replay.start_before_advance_loops"),
    ):
        path = tmp_path / "c.toml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=f"{path}.*{field}"):
            load_config(path)
    path.write_text("[replay]\ndrop_one_edge_routes = false\nroute_min_counts = 2\n")
    assert (load_config(path).replay.drop_one_edge_routes, load_config(path).replay.route_min_counts) == (False, 2)


def test_counts_fall_in_the_interval_their_period_starts_in_and_move_by_the_lag(tmp_path):
    det = table([(60.0, "a", 2), (61.0, "a", 1), (125.0, "a", 4)])
    counts = interval_counts(det, 60.0, 0.0)
    assert counts["a"][:, 0].tolist() == [2, 1, 4]
    path = tmp_path / "e.xml"
    total = write_edgedata(path, [EdgeCounter("E", "stop", ("a",))], counts, "car", 0.0, 60.0, 3, {"E": 70.0})
    entered = [int(iv.find("edge").get("entered")) for iv in ET.parse(path).getroot()]
    assert total == 7 and entered == [3, 4, 0]  # one interval earlier; the first stays first


def test_validate_adds_the_report_edgedata_to_the_additional_files(tmp_path):
    cfg = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
    args = with_edgedata(cfg, ("--end", "60"), tmp_path / "run")
    adds = args[args.index("--additional-files") + 1].split(",")
    assert adds[0].endswith("city.add.xml") and adds[-1].endswith("edgedata.add.xml")
    assert args[:2] == ("--end", "60")
    mine = with_edgedata(cfg, ("--additional-files", "x.add.xml"), tmp_path / "run")
    assert [Path(a).name for a in mine[1].split(",")] == ["city.add.xml", "x.add.xml", "edgedata.add.xml"]
    edge_data = ET.parse(tmp_path / "run" / "edgedata.add.xml").getroot().find("edgeData")
    assert edge_data.get("period") == "60" and edge_data.get("file").endswith("edgedata.xml")


def test_each_class_gets_the_scenarios_own_vtypes_or_sumos_defaults(tmp_path):
    city = ROOT / "sim" / "scenarios" / "city"
    path = write_vtypes(tmp_path / "v.xml", [city / "city.rou.xml", city / "missing.xml"])
    root = ET.parse(path).getroot()
    car = root.find("vTypeDistribution[@id='tsc_car']")
    assert car is not None and [v.get("length") for v in car] == ["4.6"]  # the city's own car
    assert root.find("vTypeDistribution[@id='tsc_bus']/vType").get("vClass") == "bus"
    plain = ET.parse(write_vtypes(tmp_path / "d.xml", [])).getroot()
    assert {(v.get("id"), v.get("vClass")) for v in plain} == {
        ("tsc_car", "passenger"),
        ("tsc_bus", "bus"),
        ("tsc_truck", "truck"),
        ("tsc_motorcycle", "motorcycle"),
        ("tsc_bicycle", "bicycle"),
    }


# A: lane 0 turns right into R, lane 1 goes through (T) or left (L), lane 2 is a bus lane (T);
# B is a bus-only street.
TINY_NODES = {"w": (0, 100), "c": (100, 100), "s": (100, 0), "e": (200, 100), "n": (100, 200), "n2": (200, 200)}
TINY_LINKS = [Link("A", "R", "r"), Link("A", "T", from_lane=1), Link("A", "L", "l", from_lane=1)]
TINY_LINKS += [Link("A", "T", from_lane=2), Link("B", "T")]


def tiny_net(bus_street_allow: str = "bus") -> str:
    """The tiny net, the bus-only street B admitting `bus_street_allow`."""
    edges = [Edge("A", "w", "c", ("", "", "bus")), Edge("R", "c", "s"), Edge("T", "c", "e"), Edge("L", "c", "n")]
    return net_xml(TINY_NODES, [*edges, Edge("B", "n2", "c", (bus_street_allow,), 100)], TINY_LINKS)


def tiny(tmp_path: Path, loops: dict[str, str]):
    """The tiny net and a junction whose loops are {loop id: lane} (stop line)."""
    import sumolib

    from controller.model import Detector, Intersection

    (tmp_path / "t.net.xml").write_text(tiny_net())
    dets = tuple(Detector(d, lane, "stop", 95.0, 5.0) for d, lane in loops.items())
    j = Intersection("c", 0, (), (), dets, 3.0, 2.0, 30.0, 120.0, 120.0, 0.0)
    return {"c": j}, sumolib.net.readNet(str(tmp_path / "t.net.xml"))


def test_an_edge_is_counted_per_class_when_every_lane_the_class_may_use_has_a_loop(tmp_path):
    junctions, net = tiny(tmp_path, {"a0": "A_0", "a1": "A_1", "a2": "A_2", "b": "B_0"})
    cars = {c.edge: c.detectors for c in edge_counters(junctions, net)}
    assert cars == {"A": ("a0", "a1", "a2")}  # the bus lane's loop counts the cars allowed on it too
    assert {c.edge for c in edge_counters(junctions, net, "bus")} == {"A", "B"}  # a bus-only street
    junctions, net = tiny(tmp_path, {"a0": "A_0", "a1": "A_1", "b": "B_0"})
    assert [c.edge for c in edge_counters(junctions, net)] == ["A"]
    assert [c.edge for c in edge_counters(junctions, net, "bus")] == ["B"]  # the bus lane has no loop
    assert other_permissions(net, "bus") and not other_permissions(net, "motorcycle")  # buses get their own routes


def test_a_lane_of_its_own_gives_a_turning_count(tmp_path):
    junctions, net = tiny(tmp_path, {"a0": "A_0", "a1": "A_1", "a2": "A_2"})
    assert turn_counters(junctions, net) == [EdgeCounter("A", "stop", ("a0",), "R")]  # T and L share lane 1
    junctions, net = tiny(tmp_path, {"a1": "A_1"})
    assert turn_counters(junctions, net) == []  # the right turn's lane has no loop
    counts = {"a0": np.array([[2, 0, 0, 0]]), "a1": np.array([[5, 0, 0, 0]])}
    counters = [EdgeCounter("A", "stop", ("a0", "a1")), EdgeCounter("A", "stop", ("a0",), "R")]
    total = write_edgedata(tmp_path / "c.xml", counters, counts, "car", 0.0, 60.0, 1, {})
    iv = ET.parse(tmp_path / "c.xml").getroot()[0]
    assert total == 7  # the vehicles the edges ask for: a turning count is not more vehicles
    assert iv.find("edge").get("entered") == "7"
    assert (iv.find("edgeRelation").get("from"), iv.find("edgeRelation").get("to")) == ("A", "R")
    assert iv.find("edgeRelation").get("entered") == "2"


def test_turning_counts_can_be_switched_off(tmp_path):
    junctions, net = tiny(tmp_path, {"a0": "A_0", "a1": "A_1", "a2": "A_2"})
    assert [c.to_edge for c in scenario_counters(junctions, net)["car"]] == ["", "R"]
    assert [c.to_edge for c in scenario_counters(junctions, net, turning_counts=False)["car"]] == [""]
    assert ReplayRequest(Path("x"), Path("o")).turning_counts and ReplayRequest(Path("x"), Path("o")).class_routes


def test_route_fit_is_the_hourly_geh_of_the_sampled_routes_against_the_counts(tmp_path):
    counters = [EdgeCounter("A", "stop", ("a",)), EdgeCounter("T", "stop", ("t",))]
    counts = {"a": np.array([[50, 0, 0, 0], [50, 0, 0, 0]]), "t": np.array([[100, 0, 0, 0], [0, 0, 0, 0]])}
    write_edgedata(tmp_path / "c.xml", counters, counts, "car", 0.0, 60.0, 2, {})
    routes = ET.Element("routes")
    for k in range(100):  # A and T as asked; the counts are over 120 s, scaled to hourly flows
        v = ET.SubElement(routes, "vehicle", id=str(k), depart=str(k))
        ET.SubElement(v, "route", edges="A T")
    (tmp_path / "r.xml").write_bytes(ET.tostring(routes))
    assert route_fit(tmp_path / "c.xml", tmp_path / "r.xml").share_ok == 1.0
    for v in list(routes)[60:]:
        v.find("route").set("edges", "T")  # A 60 of 100: 3000 against 1800 veh/h, GEH 24
    (tmp_path / "r.xml").write_bytes(ET.tostring(routes))
    fit = route_fit(tmp_path / "c.xml", tmp_path / "r.xml")
    assert (fit.share_ok, fit.vehicles) == (0.5, 100)


def test_a_counting_site_is_the_approach_a_loop_measures_for(tmp_path):
    """Advance loops of an approach that widens into a turning pocket sit partly on the edge
    before the widening: they are still one site, the approach's."""
    from controller.model import Detector, Intersection

    dets = (
        Detector("a0", "P_0", "advance", 40.0, 80.0, at_lane="U_0"),  # upstream of the widening
        Detector("a1", "P_1", "advance", 0.0, 55.0),  # at its start, on the approach itself
        Detector("s0", "P_0", "stop", 50.0, 2.0),
    )
    sites = count_sites({"J": Intersection("J", 0, (), (), dets, 3.0, 2.0, 30.0, 120.0, 120.0, 0.0)})
    assert sites == {"a0": "P:advance", "a1": "P:advance", "s0": "P:stop"}


def test_a_loop_past_a_split_is_one_loop_of_its_site():
    """A loop past a split ([detectors] advance_past_split) has a row for each pocket it counts for, at one place,
    each counting every vehicle over it (D, session 68): the site counts it once, not once per row."""
    from controller.model import Detector, Intersection

    dets = (
        Detector("a1", "P_1", "advance", 20.0, 60.0, at_lane="U_0", shared_by=2),
        Detector("a2", "P_2", "advance", 20.0, 60.0, at_lane="U_0", shared_by=2),
        Detector("s1", "P_1", "stop", 50.0, 2.0),
        Detector("s2", "P_2", "stop", 50.0, 2.0),
    )
    sites = count_sites({"J": Intersection("J", 0, (), (), dets, 3.0, 2.0, 30.0, 120.0, 120.0, 0.0)})
    assert sites == {"a1": "P:advance", "a2": "", "s1": "P:stop", "s2": "P:stop"}
    counted = table([(t, loop, 1) for t in range(1, 901) for loop in ("a1", "a2")])
    modelled = table([(t, loop, 1 if t <= 450 else 0) for t in range(1, 901) for loop in ("a1", "a2")])
    rows = compare_counts(counted, modelled, 0.0, 900.0, sites).hourly
    assert [(r.detector, r.counted_veh_h, r.modelled_veh_h) for r in rows] == [("P:advance", 3600.0, 1800.0)]


def test_a_counted_edge_no_candidate_passes_gets_routes_through_it(tmp_path):
    _junctions, net = tiny(tmp_path, {})
    out = covering_routes(net, [], ["B", "A"], "bus", tmp_path / "cover.xml")
    routes = {v.find("route").get("edges") for v in ET.parse(out).getroot()}
    assert routes == {"B T", "A R", "A T"}  # the bus-only street, on to the nearest exits
    assert covering_routes(net, [out], ["B"], "bus", tmp_path / "again.xml") is None


def _routes(path: Path, routes: list[tuple[float, str]]) -> Path:
    root = ET.Element("routes")
    for k, (depart, edges) in enumerate(routes):
        ET.SubElement(ET.SubElement(root, "vehicle", id=str(k), depart=str(depart)), "route", edges=edges)
    path.write_bytes(ET.tostring(root))
    return path


def test_only_the_counts_the_entries_routes_leave_short_are_asked_again(tmp_path):
    """Counts the routes from the entries meet within GEH 5 are asked 0 again (more vehicles
    there would overshoot); a count they leave short by GEH >= 5 is asked its shortfall per
    interval: the traffic that appears between counting sites."""
    counters = [EdgeCounter("A", "stop", ("a",)), EdgeCounter("M", "stop", ("m",))]
    counters.append(EdgeCounter("A", "stop", ("a",), "M"))
    counts = {"a": np.array([[30, 0, 0, 0], [30, 0, 0, 0]]), "m": np.array([[50, 0, 0, 0], [40, 0, 0, 0]])}
    write_edgedata(tmp_path / "c.xml", counters, counts, "car", 0.0, 60.0, 2, {})
    entries = [(k * 2.0, "A M") for k in range(30)] + [(60.0 + k * 2.0, "A M") for k in range(29)]
    _routes(tmp_path / "r.xml", entries)  # A 59 of 60 (GEH < 5); M 59 of 90 (GEH 18 hourly)
    assert shortfall_counts(tmp_path / "c.xml", tmp_path / "r.xml", tmp_path / "s.xml") == 31
    short = [
        {(e.get("id") or e.get("from"), e.get("to")): int(e.get("entered")) for e in iv}
        for iv in ET.parse(tmp_path / "s.xml").getroot()
    ]
    assert short == [{("A", None): 0, ("M", None): 20, ("A", "M"): 0}, {("A", None): 0, ("M", None): 11, ("A", "M"): 0}]
    _routes(tmp_path / "all.xml", [*entries, *[(k, "M") for k in range(31)]])
    assert shortfall_counts(tmp_path / "c.xml", tmp_path / "all.xml", tmp_path / "s.xml") == 0


def test_shortfalls_are_per_routesamplers_own_interval(tmp_path):
    """With routeSampler aggregating the 60 s count files per 120 s (its --interval), a count is
    short or met over the aggregate, and its shortfall is asked in the aggregate's first file
    interval (routeSampler sums them)."""
    counters = [EdgeCounter("A", "stop", ("a",)), EdgeCounter("M", "stop", ("m",))]
    counts = {"a": np.array([[30, 0, 0, 0], [30, 0, 0, 0]]), "m": np.array([[50, 0, 0, 0], [40, 0, 0, 0]])}
    write_edgedata(tmp_path / "c.xml", counters, counts, "car", 0.0, 60.0, 2, {})
    _routes(tmp_path / "r.xml", [(k * 2.0, "A M") for k in range(59)])  # all 59 in the first minute
    assert shortfall_counts(tmp_path / "c.xml", tmp_path / "r.xml", tmp_path / "s.xml", sampler_interval_s=120.0) == 31
    short = [[int(e.get("entered")) for e in iv] for iv in ET.parse(tmp_path / "s.xml").getroot()]
    assert short == [[0, 31], [0, 0]]


def test_routesampler_aggregates_the_minute_counts_over_its_own_interval(tmp_path):
    """The count files stay per 60 s; routeSampler's --interval 300 sums them and departs the
    vehicles over the whole 300 s (per 60 s they would all depart in the minute counted)."""
    _junctions, _net = tiny(tmp_path, {})
    counts = {"a": np.array([[0, 0, 0, 0]] * 4 + [[6, 0, 0, 0]])}
    write_edgedata(tmp_path / "c.xml", [EdgeCounter("A", "stop", ("a",))], counts, "car", 0.0, 60.0, 5, {})
    cand = _routes(tmp_path / "cand.xml", [(0.0, "A T"), (0.0, "A R")])
    for interval_s, earliest in ((0.0, 240.0), (300.0, 0.0)):
        out = tmp_path / f"r{interval_s:.0f}.rou.xml"
        sample_routes([cand], tmp_path / "c.xml", out, "car", Sampling(1, 0.5, 1, interval_s))
        departs = [float(v.get("depart")) for v in ET.parse(out).getroot().iter("vehicle")]
        assert len(departs) == 6 and min(departs) >= earliest
    assert min(departs) < 240.0


def test_a_route_of_one_edge_is_no_candidate(tmp_path):
    path = _routes(tmp_path / "r.xml", [(0.0, "A"), (0.0, "A T"), (1.0, "B")])
    assert drop_one_edge_routes(path) == 2
    assert [v.find("route").get("edges") for v in ET.parse(path).getroot()] == ["A T"]
    _junctions, net = tiny(tmp_path, {})
    cover = covering_routes(net, [], ["T", "A"], "passenger", tmp_path / "cover.xml")
    routes = {v.find("route").get("edges") for v in ET.parse(cover).getroot()}
    assert routes == {"A T", "A R"}  # to the exit T from the entry A; never T alone (an exit, no further exit)


def test_an_additional_file_with_vehicles_stays_out_of_the_replay(tmp_path):
    """A recorded scenario's additional file that defines vehicles (pasubio names its buses'
    route file as an additional one) would run them on top of the rebuilt demand; files of
    programs, loops, stops and vTypes stay; a file that does not exist is left out."""
    from sim.replay import demand_free

    (tmp_path / "buses.rou.xml").write_text('<routes><vType id="bus"/><vehicle id="b" depart="0"/></routes>')
    (tmp_path / "flows.xml").write_text('<routes><flow id="f" begin="0" end="9" number="2"/></routes>')
    (tmp_path / "stops.add.xml").write_text('<additional><busStop id="s" lane="A_0" endPos="9"/></additional>')
    files = [str(tmp_path / n) for n in ("buses.rou.xml", "stops.add.xml", "flows.xml", "missing.xml")]
    assert demand_free(files) == [str(tmp_path / "stops.add.xml")]


def test_a_route_starting_inside_is_moved_back_to_the_entries_past_no_loop(tmp_path):
    """A vehicle that starts inside the network starts at the nearest entry instead, along edges
    its class may use that no loop is on, departing earlier by the free-flow time of the way in
    (not before the scenario's begin); the file stays sorted by departure."""
    from sim.replay_demand import extend_to_entries

    _junctions, net = tiny(tmp_path, {})
    src = _routes(tmp_path / "r.xml", [(0.0, "R"), (5.0, "A T"), (10.0, "T")])
    assert extend_to_entries(net, src, tmp_path / "o.xml", set(), "passenger", 0.0) == 2
    got = [(float(v.get("depart")), v.find("route").get("edges")) for v in ET.parse(tmp_path / "o.xml").getroot()]
    assert got == [(0.0, "A R"), (pytest.approx(10.0 - 100 / 13.9, abs=0.01), "A T"), (5.0, "A T")]
    assert extend_to_entries(net, src, tmp_path / "o.xml", {"A"}, "passenger", 0.0) == 0  # a loop on the way in
    assert extend_to_entries(net, src, tmp_path / "o.xml", {"A"}, "bus", 0.0) == 1  # the bus-only street B into T
    assert [v.find("route").get("edges") for v in ET.parse(tmp_path / "o.xml").getroot()] == ["R", "B T", "A T"]


def test_a_sampled_vehicle_is_spread_over_the_routes_that_pass_the_same_counts(tmp_path):
    """routeSampler's programme puts a stream on one of several routes that pass the same
    counting sites; spread_routes shares it out over all of them, in proportion to the lanes of
    their uncounted ends, without changing what any count sees."""
    from sim.replay_demand import counting_signature, route_capacity, spread_equivalent_routes

    _junctions, net = tiny(tmp_path, {})
    counters = [EdgeCounter("A", "stop", ("a",)), EdgeCounter("A", "stop", ("a",), "R")]
    write_edgedata(tmp_path / "c.xml", counters, {"a": np.array([[300, 0, 0, 0]])}, "car", 0.0, 60.0, 1, {})
    assert counting_signature(["A", "R"], {"A"}, {("A", "R")}) == ("A", "A>R")
    assert route_capacity(net, ["A", "T"], {"A"}, "passenger") == 2 * 1  # the two car lanes in, one lane out
    assert route_capacity(net, ["A", "T"], {"A"}, "bus") == 3 * 1
    cands = _routes(tmp_path / "cand.xml", [(0.0, "A R"), (0.0, "A T"), (0.0, "A L"), (0.0, "A T")])
    sample = _routes(tmp_path / "s.rou.xml", [(k / 10, "A T") for k in range(300)] + [(30.0, "A R")] * 50)
    out = spread_equivalent_routes(sample, [cands], tmp_path / "c.xml", 1, net)
    got = [v.find("route").get("edges") for v in ET.parse(out).getroot()]
    assert got.count("A R") == 50  # the turning count A -> R pins its vehicles
    assert 120 < got.count("A T") < 180 and got.count("A T") + got.count("A L") == 300  # T and L alike
    assert [v.find("route").get("edges") for v in ET.parse(sample).getroot()][:3] == ["A T"] * 3  # sample kept


def test_cars_counted_on_a_bus_only_street_get_a_vclass_it_admits(tmp_path):
    """A bus-only street with a loop on every lane counts cars the passenger demand may not
    carry (taxis, permit holders): it is a restricted counter, and those cars are rebuilt as
    the first car vClass its lanes admit, else "ignoring"."""
    from sim.replay_demand import permit_vclass, restricted_counters

    junctions, net = tiny(tmp_path, {"a0": "A_0", "a1": "A_1", "a2": "A_2", "b": "B_0"})
    assert restricted_counters(junctions, net) == [EdgeCounter("B", "stop", ("b",))]  # A admits cars
    assert permit_vclass(net, ["B"]) == "ignoring"
    (tmp_path / "t.net.xml").write_text(tiny_net("bus taxi"))
    import sumolib

    assert permit_vclass(sumolib.net.readNet(str(tmp_path / "t.net.xml")), ["B"]) == "taxi"


def test_the_permit_cars_types_are_the_scenarios_own_of_their_vclass(tmp_path):
    from sim.replay_demand import PERMIT_VTYPE, write_permit_vtypes

    src = tmp_path / "v.add.xml"
    src.write_text(
        '<routes><vTypeDistribution id="ignoring"><vType id="i1" vClass="ignoring" length="5" probability=".4"/>'
        '<vType id="i2" vClass="ignoring" length="4.5" probability=".6"/></vTypeDistribution>'
        '<vType id="p" vClass="passenger"/></routes>'
    )
    dist = ET.parse(write_permit_vtypes(tmp_path / "o.xml", [src], "ignoring")).getroot()[0]
    assert dist.tag == "vTypeDistribution" and dist.get("id") == PERMIT_VTYPE
    assert [(t.get("id"), t.get("length"), t.get("probability")) for t in dist] == [
        (f"{PERMIT_VTYPE}_0", "5", ".4"),
        (f"{PERMIT_VTYPE}_1", "4.5", ".6"),
    ]
    plain = ET.parse(write_permit_vtypes(tmp_path / "d.xml", [src], "taxi")).getroot()[0]
    assert (plain.tag, plain.get("id"), plain.get("vClass")) == ("vType", PERMIT_VTYPE, "taxi")


def test_counts_less_the_vehicles_of_routes_per_samplers_interval(tmp_path):
    """What the permit cars pass is taken off the passenger cars' counts: per routeSampler's
    interval (a route counts where it departs), from the file's intervals in order, never below 0."""
    from sim.replay_demand import subtract_routes

    counters = [EdgeCounter("A", "stop", ("a",)), EdgeCounter("T", "stop", ("t",))]
    counters.append(EdgeCounter("A", "stop", ("a",), "T"))  # the turn A -> T, asked as A's loop counts
    counts = {"a": np.array([[30, 0, 0, 0], [30, 0, 0, 0]]), "t": np.array([[5, 0, 0, 0], [5, 0, 0, 0]])}
    write_edgedata(tmp_path / "c.xml", counters, counts, "car", 0.0, 60.0, 2, {})
    _routes(tmp_path / "r.xml", [(k, "A T") for k in range(8)] + [(61.0, "A R")])
    assert subtract_routes(tmp_path / "c.xml", tmp_path / "r.xml", tmp_path / "s.xml", sampler_interval_s=120.0) == 53
    left = [[int(e.get("entered")) for e in iv] for iv in ET.parse(tmp_path / "s.xml").getroot()]
    assert left == [[21, 0, 22], [30, 2, 30]]  # A 60 less 9, T 10 less 8, the turn 60 less 8
    assert subtract_routes(tmp_path / "c.xml", tmp_path / "r.xml", tmp_path / "p.xml") == 56  # per file interval
    left = [[int(e.get("entered")) for e in iv] for iv in ET.parse(tmp_path / "p.xml").getroot()]
    assert left == [[22, 0, 22], [29, 5, 30]]  # T: 8 in the first minute, 5 asked: never below 0


def test_a_covering_route_is_also_offered_cut_where_the_loops_saw_a_fraction_of_its_stream(tmp_path):
    """A stream of 100 on A cannot go on to T, where the loops saw 10: the route through A is
    also offered ending before T (a terminus, parking in between); R saw 60: no cut there."""
    from sim.replay_demand import cut_at_low_counts

    assert cut_at_low_counts(["A", "T", "X"], {"A": 100, "T": 10}) == ["A"]
    assert cut_at_low_counts(["A", "T", "X"], {"A": 100, "T": 50}) == ["A", "T", "X"]
    _junctions, net = tiny(tmp_path, {})
    plain = covering_routes(net, [], ["A"], "passenger", tmp_path / "p.xml", drop_one_edge=False)
    assert {v.find("route").get("edges") for v in ET.parse(plain).getroot()} == {"A R", "A T"}
    counts = {"A": 100, "T": 10, "R": 60}
    cut = covering_routes(net, [], ["A"], "passenger", tmp_path / "c.xml", drop_one_edge=False, counts=counts)
    assert {v.find("route").get("edges") for v in ET.parse(cut).getroot()} == {"A R", "A T", "A"}


def test_the_cars_of_a_bus_only_street_are_sampled_first_and_taken_off_the_car_counts(tmp_path):
    """routeSampler (real) puts the 6 cars counted on the bus-only street B on routes through it,
    as the permit vType; the 26 counted on T are then asked 20 of the passenger cars."""
    from sim.replay import permit_cars
    from sim.replay_demand import PERMIT_VTYPE, restricted_counters

    junctions, net = tiny(tmp_path, {"a0": "A_0", "a1": "A_1", "a2": "A_2", "b": "B_0", "t": "T_0"})
    loop_counts = {"a0": np.array([[20, 0, 0, 0]]), "b": np.array([[6, 0, 0, 0]]), "t": np.array([[26, 0, 0, 0]])}
    params = ReplayConfig(interval_s=60.0, sampler_interval_s=60.0)
    cars = scenario_counters(junctions, net)["car"]
    write_edgedata(tmp_path / "counts_car.xml", cars, loop_counts, "car", 0.0, 60.0, 1, {})
    counts = (restricted_counters(junctions, net), loop_counts, 0.0, 1, {})
    req = ReplayRequest(Path("x"), tmp_path)
    rest, files = permit_cars(req, params, net, cars, counts, tmp_path / "counts_car.xml", [])
    vehicles = list(ET.parse(files[1]).getroot().iter("vehicle"))
    assert len(vehicles) == 6 and {v.get("type") for v in vehicles} == {PERMIT_VTYPE}
    assert all(v.find("route").get("edges").startswith("B ") for v in vehicles)
    left = {e.get("id"): int(e.get("entered")) for e in ET.parse(rest).getroot().iter("edge")}
    assert left == {"A": 20, "T": 20}
    assert ET.parse(files[0]).getroot()[0].get("vClass") == "ignoring"
    no_cars = {"a0": loop_counts["a0"], "t": loop_counts["t"]}
    counts = (restricted_counters(junctions, net), no_cars, 0.0, 1, {})
    assert permit_cars(req, params, net, cars, counts, tmp_path / "counts_car.xml", []) == (
        tmp_path / "counts_car.xml",
        [],
    )


LOOP_NET = net_xml(
    {"w": (0, 0), "x": (100, 0), "y": (200, 0), "z": (300, 0)},
    [Edge("IN", "w", "x"), Edge("X", "x", "y"), Edge("Y", "y", "x", ("bus",)), Edge("OUT", "y", "z")],
    [Link("IN", "X"), Link("Y", "X", "t"), Link("X", "Y", "t"), Link("X", "OUT")],
)


def test_a_covering_route_makes_no_loop_round_a_block(tmp_path):
    """Into Y only over X, out of Y only over X again: "IN X Y X OUT" would circle the block;
    with counts (cover_routes_cut) the route starts on Y itself instead."""
    import sumolib

    (tmp_path / "l.net.xml").write_text(LOOP_NET)
    net = sumolib.net.readNet(str(tmp_path / "l.net.xml"))
    out = covering_routes(net, [], ["Y"], "bus", tmp_path / "cover.xml", counts={})
    assert [v.find("route").get("edges") for v in ET.parse(out).getroot()] == ["Y X OUT"]
    out = covering_routes(net, [], ["Y"], "bus", tmp_path / "cover.xml")  # without counts: as before
    assert [v.find("route").get("edges") for v in ET.parse(out).getroot()] == ["IN X Y X OUT"]


def test_long_junction_ids_are_cut_for_plot_labels():
    from sim.replay_report import short_label

    cluster = "cluster_306484187_cluster_1200363791_1200363826_1200363834_1200363898_1200363927"
    assert short_label("J12") == "J12"
    assert (
        len(short_label(cluster)) == 24
        and short_label(cluster).startswith("cluster_3064")
        and short_label(cluster)[-1] == "…"
    )


APPROACH_NET = net_xml(
    {"w": (0, 0), "m": (100, 0), "c": (150, 0), "f": (300, 0)},
    [Edge("U", "w", "m"), Edge("A", "m", "c"), Edge("V", "c", "f"), Edge("W", "f", "c")],
    [Link("U", "A"), Link("A", "V"), Link("V", "W", "t")],
)


def approach(tmp_path: Path, advance: dict[str, tuple[str, str, float]]):
    """APPROACH_NET and a junction with advance loops {id: (lane measured, lane it sits on, pos)}:
    U -> A -> junction c -> V -> (turnaround) W -> c; U is the network's entry."""
    import sumolib

    from controller.model import Detector, Intersection

    (tmp_path / "a.net.xml").write_text(APPROACH_NET)
    dets = tuple(Detector(d, lane, "advance", pos, 40.0, at) for d, (lane, at, pos) in advance.items())
    j = Intersection("c", 0, (), (), dets, 3.0, 2.0, 30.0, 120.0, 120.0, 0.0)
    return {"c": j}, sumolib.net.readNet(str(tmp_path / "a.net.xml"))


def stop_loop(loop: str, lane: str):
    from controller.model import Detector

    return Detector(loop, lane, "stop", 45.0, 3.0)


def test_a_candidate_route_starting_past_an_approachs_advance_loops_starts_before_them(tmp_path):
    """A vehicle that departs between an approach's advance loops and its stop line is counted at
    the stop line and not at the advance loops (cologne1: 93 rebuilt cars started on 27115123#3
    past the advance loop on 27115123#2, no real one did). With the advance loop upstream on U,
    a route starting on A starts on U instead; with it on A, only when it lies within a vehicle
    length of A's start (a departing vehicle covers it). The network's entry U, and an approach
    fed only over a turnaround (the loop there counts the other direction), are left out, and so
    is an approach whose stop line counted more than its advance loops by GEH >= 5 (traffic does
    enter between them there: ingolstadt7's 10425609#1, 0 at the advance loop, 207 at the stop
    line)."""
    from sim.replay_demand import edges_past_advance_loops, prefix_routes, ways_in_past_advance_loops

    junctions, net = approach(tmp_path, {"a": ("A_0", "U_0", 60.0)})
    assert edges_past_advance_loops(junctions, net) == {"A"}
    assert ways_in_past_advance_loops(junctions, net) == {"A": ("U",)}
    assert ways_in_past_advance_loops(junctions, net, counts={"a": 300}) == {"A": ("U",)}  # no stop loop
    junctions, net = approach(tmp_path, {"a": ("A_0", "U_0", 60.0), "s": ("A_0", "A_0", 45.0)})
    junctions = {"c": replace(junctions["c"], detectors=(junctions["c"].detectors[0], stop_loop("s", "A_0")))}
    assert ways_in_past_advance_loops(junctions, net, counts={"a": 300, "s": 310}) == {"A": ("U",)}
    assert ways_in_past_advance_loops(junctions, net, counts={"a": 200, "s": 310}) == {}  # traffic enters on A
    a = junctions["c"].detectors[0]
    shared = (replace(a, shared_by=2), replace(a, id="b", shared_by=2))
    junctions = {"c": replace(junctions["c"], detectors=(*shared, stop_loop("s", "A_0")))}  # one loop, two rows
    assert ways_in_past_advance_loops(junctions, net, counts={"a": 200, "b": 200, "s": 310}) == {}  # counted once
    junctions, net = approach(tmp_path, {"a": ("A_0", "A_0", 0.0)})
    assert ways_in_past_advance_loops(junctions, net) == {"A": ("U",)}
    assert edges_past_advance_loops(junctions, net, "motorcycle") == {"A"}
    junctions, net = approach(tmp_path, {"a": ("A_0", "A_0", 10.0)})
    assert ways_in_past_advance_loops(junctions, net) == {}  # a car departs before it
    assert ways_in_past_advance_loops(junctions, net, "bus") == {"A": ("U",)}  # a bus (12 m) covers it
    junctions, net = approach(tmp_path, {"u": ("U_0", "U_0", 0.0), "w": ("W_0", "V_0", 100.0)})
    assert ways_in_past_advance_loops(junctions, net) == {}
    path = _routes(tmp_path / "r.xml", [(0.0, "A V"), (1.0, "U A V"), (2.0, "V")])
    assert prefix_routes(path, {"A": ("U",)}) == 1
    assert [v.find("route").get("edges") for v in ET.parse(path).getroot()] == ["U A V", "U A V", "V"]
    assert prefix_routes(path, {}) == 0


def test_a_scenarios_vtypes_keep_their_children(tmp_path):
    """A vType's <param> and model elements (e.g. the device settings of a taxi) go with it into
    the rebuilt classes' vTypes and the permit cars' vTypes."""
    from sim.replay_demand import write_permit_vtypes

    src = tmp_path / "v.add.xml"
    src.write_text(
        '<routes><vType id="c" vClass="passenger" length="4.6"><param key="has.rerouting.device" value="true"/>'
        '</vType><vType id="t" vClass="taxi"><param key="device.taxi.pickUpDuration" value="30"/></vType></routes>'
    )
    car = ET.parse(write_vtypes(tmp_path / "v.xml", [src])).getroot().find("vTypeDistribution[@id='tsc_car']")
    assert [(p.get("key"), p.get("value")) for p in car.iter("param")] == [
        ("has.rerouting.device", "true"),
        ("device.taxi.pickUpDuration", "30"),  # a taxi is a car to the feed (sim/field.py)
    ]
    permit = ET.parse(write_permit_vtypes(tmp_path / "p.xml", [src], "taxi")).getroot()[0]
    assert [p.get("key") for p in permit.iter("param")] == ["device.taxi.pickUpDuration"]

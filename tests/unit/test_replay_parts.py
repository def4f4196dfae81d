"""The pieces of `replay` that need no SUMO run: GEH, windows and times, counts per interval,
the lag shift of the edge counts, the validate report's edgeData."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pytest

from controller.adapters.archive import SCHEMAS, _Columns
from controller.errors import DefinitionError
from controller.model import DetectorReading, Snapshot
from sim.cli import with_edgedata
from sim.replay import ReplayRequest, parse_time, resolve_window
from sim.replay_demand import EdgeCounter, interval_counts, write_edgedata, write_vtypes
from sim.replay_geh import compare_counts, geh

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
    w = resolve_window(ReplayRequest(Path("x"), Path("o"), t_from="120"), det)
    assert (w.from_s, w.to_s, w.offset_s, w.first_s) == (120.0, 600.0, 0.0, 0.0)
    for t_from, t_to, msg in (("700", None, "outside"), ("0", "30", "empty window"), (None, "9000", "outside")):
        with pytest.raises(DefinitionError, match=msg):
            resolve_window(ReplayRequest(Path("x"), Path("o"), t_from=t_from, t_to=t_to), det)
    day2 = table([(86400.0 + t, "a", 0) for t in range(1, 601)])
    assert resolve_window(ReplayRequest(Path("x"), Path("o")), day2).offset_s == 86400.0


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
    assert [Path(a).name for a in mine[1].split(",")] == ["x.add.xml", "edgedata.add.xml"]
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
    }

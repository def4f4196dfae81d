"""Bicycles are a vehicle class of the feed's own (session 49): the field counts a SUMO `bicycle`
as `bicycle` (tests/unit/test_field_vclass.py), the MQTT message and the array frame carry it,
and `[pcu] bicycle_own` (off) chooses its weight: off, a car's PCU, what the loops sent before
(a bicycle counted as a car, so the same trips); on, `[pcu] bicycle` (0.2, TRRL RR67)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from controller.adapters.archive import SCHEMAS, read_archive
from controller.config import Config, PcuConfig, load_config
from controller.core import feedarrays, feedbatch
from controller.core.feedbatch import BatchLayout
from controller.core.feedrules import CLASSES
from controller.model import VEHICLE_CLASSES
from controller.service import ControllerService
from tests.junction_fixtures import two_phase_as

ROOT = Path(__file__).resolve().parents[2]


def test_a_bicycle_weighs_a_car_unless_bicycle_own():
    cfg = load_config(ROOT / "config.toml")
    assert cfg.pcu.bicycle_own is False and cfg.pcu.bicycle == 0.2
    assert cfg.pcu.factor("bicycle") == cfg.pcu.factor("car") == 1.0
    on = dataclasses.replace(cfg.pcu, bicycle_own=True)
    assert on.factor("bicycle") == 0.2
    assert [on.factor(c) for c in ("car", "bus", "truck", "motorcycle")] == [1.0, 2.0, 2.5, 0.4]
    assert PcuConfig(car=1.5).factor("bicycle") == 1.5  # off: whatever a car weighs


def test_a_non_positive_bicycle_pcu_is_refused(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[pcu]\nbicycle = 0\n")
    with pytest.raises(Exception, match="pcu.bicycle"):
        load_config(path)


def test_the_feed_takes_bicycles_as_their_own_column():
    assert "bicycle" in VEHICLE_CLASSES and "bicycle" in CLASSES
    junctions = {"A": two_phase_as("A")}
    did = junctions["A"].detectors[0].id
    loops = {d.id: {"occupancy": 0.0, "speed_mps": -1.0} for d in junctions["A"].detectors}  # a plain message
    loops[did] = {"counts": {"bicycle": 3, "car": 1}, "occupancy": 0.2, "speed_mps": 4.0}
    payload = json.dumps({"v": 1, "junction": "A", "t": 5.0, "period_s": 1.0, "detectors": loops}).encode()
    layout = BatchLayout.build(junctions)
    typed = feedbatch._read_typed(payload, "A", layout)
    assert typed is not None and typed[1] is not None  # the fast read takes it (before: unknown_class)
    parsed = feedbatch._read_parsed(payload, "A", layout)
    assert typed[0] == parsed[0] and typed[1][:2] == parsed[1][:2]
    one, batch = (ControllerService(junctions, Config(), "fixed", publish=lambda c, b: None, start_s=4.0) for _ in "12")
    for svc in (one, batch):
        svc.advance_clock(5.0)
    one.on_detectors(payload, junction="A")  # message by message
    batch.on_detector_batch([("A", payload)])  # the array frame
    assert not one.rejected and not batch.rejected
    ((frame, _accepted),) = batch._frames
    for snap in (*one._snaps, feedarrays.snapshot(frame, 0)):
        assert dict(next(r for r in snap.readings if r.detector == did).counts) == {"bicycle": 3, "car": 1}


def test_an_archive_written_before_the_bicycle_class_reads_it_as_zero(tmp_path):
    old = pa.schema([f for f in SCHEMAS["detectors"] if f.name != "bicycle"])
    rows = {f.name: [] for f in old}
    for k in range(3):
        for name, v in (("t_s", float(k)), ("recv_s", k + 0.1), ("session", 1), ("seq", k), ("junction", "J1")):
            rows[name].append(v)
        rows["period_s"].append(1.0)
        rows["detector"].append("d0")
        for c in ("car", "bus", "truck", "motorcycle"):
            rows[c].append(k)
        rows["occupancy"].append(0.1)
        rows["speed_mps"].append(3.0)
    day = tmp_path / "detectors" / "day=1970-01-01"
    day.mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                n: pa.array(v).cast(pa.string() if n in ("junction", "detector") else old.field(n).type)
                for n, v in rows.items()
            }
        ),
        day / "part-1.parquet",
    )
    det = read_archive(tmp_path, "detectors")
    assert det.schema.names == SCHEMAS["detectors"].names
    assert det["bicycle"].to_pylist() == [0, 0, 0] and det["car"].to_pylist() == [0, 1, 2]

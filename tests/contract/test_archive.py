"""The feed archive against the real pyarrow and the real file system, and a real kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from prometheus_client import CollectorRegistry

from controller.adapters.archive import (
    JOURNAL_SUFFIX,
    SCHEMAS,
    ArchiveRecorder,
    _Columns,
    _Journal,
    read_archive,
    read_journal,
    recover,
    site_root,
)
from controller.config import ArchiveConfig
from controller.errors import AdapterError, ConfigError
from controller.model import CyclePlan, DetectorReading, SignalStatus, Snapshot

ROOT = Path(__file__).resolve().parents[2]


def snap(t_s: float, junction: str = "J1", n_loops: int = 4) -> Snapshot:
    readings = tuple(
        DetectorReading(f"{junction}_L{k}", (("car", k % 2), ("bus", 1)) if k == 1 else (), 0.1 * k, 5.0 if k else -1.0)
        for k in range(n_loops)
    )
    return Snapshot(junction, t_s, 1.0, readings)


def test_round_trip_of_every_kind(tmp_path: Path) -> None:
    rec = ArchiveRecorder(tmp_path, "site", ArchiveConfig(flush_s=0.05))
    for t in range(10):
        rec.detectors(snap(float(t)), recv_s=t + 0.25)
    rec.status(SignalStatus("J1", 3.0, 1, False, 4.0, "p1", 7, "adaptive", ("stuck",)), recv_s=3.1)
    rec.status(SignalStatus("J1", 6.0, 0, False, 1.0, "local", 0, "local", (), "evening"), recv_s=6.1)
    cmd = CyclePlan("J1", "p1", 7, (0, 1), (20.0, 30.0), 60.0, 0.0, 5.0, 25.0)
    rec.plan(cmd, b'{"plan": 1}', sent_s=5.0)
    stats = rec.close()
    assert (stats.received, stats.dropped, stats.write_errors) == (13, 0, 0)
    site = tmp_path / "site"
    assert not list(site.rglob(f"*{JOURNAL_SUFFIX}")), "close compacts every journal"
    det = read_archive(site, "detectors")
    assert det.num_rows == 40
    row = det.filter(pc.equal(det["detector"].cast(pa.string()), "J1_L1")).slice(4, 1).to_pylist()[0]
    assert (row["t_s"], row["recv_s"], row["car"], row["bus"], row["truck"]) == (4.0, 4.25, 1, 1, 0)
    assert row["occupancy"] == pytest.approx(0.1)
    assert det["seq"].to_pylist() == sorted(det["seq"].to_pylist())
    window = read_archive(site, "detectors", 2.0, 5.0)
    assert sorted(set(window["t_s"].to_pylist())) == [2.0, 3.0, 4.0]
    st, later = read_archive(site, "status").to_pylist()
    assert (st["phase"], st["plan_seq"], st["mode"], st["faults"], st["program"]) == (1, 7, "adaptive", "stuck", "")
    assert (later["t_s"], later["program"]) == (6.0, "evening")  # the city's program in force (session 66)
    plan = read_archive(site, "plans").to_pylist()[0]
    assert (plan["plan_id"], plan["plan_seq"], plan["plan_kind"], plan["payload"]) == ("p1", 7, "cycle", b'{"plan": 1}')
    assert (site / "detectors" / "day=1970-01-01").is_dir()


def test_a_full_queue_drops_and_counts_never_blocks(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    rec = ArchiveRecorder(tmp_path, "site", ArchiveConfig(queue_max=5, flush_s=0.05), registry=registry)
    s = snap(1.0, n_loops=50)
    t0 = time.perf_counter()
    for k in range(20000):
        rec.detectors(Snapshot("J1", float(k), 1.0, s.readings), recv_s=float(k))
    per_call_s = (time.perf_counter() - t0) / 20000
    stats = rec.close()
    assert stats.dropped > 0
    written = read_archive(tmp_path / "site", "detectors").num_rows // 50
    assert written + stats.dropped == 20000
    assert registry.get_sample_value("tsc_archive_dropped_total") == stats.dropped
    assert per_call_s < 1e-3


def test_retention_deletes_old_days_by_the_archive_time(tmp_path: Path) -> None:
    rec = ArchiveRecorder(tmp_path, "s", ArchiveConfig(retention_days=30, flush_s=0.05))
    rec.detectors(snap(0.0), recv_s=0.0)
    time.sleep(0.2)
    rec.detectors(snap(10 * 86400.0), recv_s=0.0)  # 1970-01-11: within 30 days
    rec.detectors(snap(40 * 86400.0), recv_s=0.0)  # 1970-02-10: day 1 is now 40 days behind
    rec.close()
    days = sorted(p.name for p in (tmp_path / "s" / "detectors").iterdir())
    assert days == ["day=1970-01-11", "day=1970-02-10"]


def test_a_torn_journal_reads_up_to_its_last_whole_batch(tmp_path: Path) -> None:
    journal = _Journal(tmp_path / "j" / f"part-1-00001{JOURNAL_SUFFIX}", SCHEMAS["detectors"])
    for t in range(5):  # one batch per message, as a writer flushing every message would
        cols = _Columns("detectors")
        cols.add_detectors(snap(float(t)), float(t), 1, t)
        journal.append(cols.batch())
    data = journal.path.read_bytes()  # not closed: as a killed writer leaves it
    seen = set()
    for cut in range(len(data), 0, -max(1, len(data) // 60)):
        journal.path.write_bytes(data[:cut])
        rows = read_journal(journal.path, SCHEMAS["detectors"]).num_rows
        assert rows % 4 == 0 and rows <= 20
        seen.add(rows)
    assert 20 in seen and len(seen) >= 4  # whole batches kept as the tail is torn off


def test_bad_configuration_and_bad_archives_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="archive.retention_days"):
        ArchiveRecorder(tmp_path, "s", ArchiveConfig(retention_days=0))
    with pytest.raises(ConfigError, match="archive.queue_max"):
        ArchiveRecorder(tmp_path, "s", ArchiveConfig(queue_max=0))
    with pytest.raises(AdapterError, match="no such folder"):
        site_root(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdapterError, match="no recording"):
        site_root(tmp_path / "empty")
    for site in ("a", "b"):
        (tmp_path / "two" / site / "detectors").mkdir(parents=True)
    with pytest.raises(AdapterError, match="several sites"):
        site_root(tmp_path / "two")


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from controller.adapters.archive import ArchiveRecorder
    from controller.config import ArchiveConfig
    from controller.model import DetectorReading, Snapshot
    rec = ArchiveRecorder(Path({out!r}), "site", ArchiveConfig(flush_s=0.2, segment_s=3600.0))
    readings = tuple(DetectorReading(f"L{{k}}", (("car", 1),), 0.5, 3.0) for k in range(20))
    print("ready", flush=True)
    k = 0
    while True:
        k += 1
        rec.detectors(Snapshot("J1", time.time(), 1.0, readings), recv_s=float(k))
        time.sleep(0.002)
""")


def test_kill_9_loses_at_most_the_last_seconds_and_never_corrupts(tmp_path: Path) -> None:
    out = tmp_path / "arch"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(root=str(ROOT), out=str(out))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(2.0)
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    site = out / "site"
    assert list(site.rglob(f"*{JOURNAL_SUFFIX}")), "the killed writer left its journal"
    before = read_archive(site, "detectors")  # readable as it stands, torn tail or not
    assert before.num_rows > 0 and before.num_rows % 20 == 0
    assert killed_at - max(before["t_s"].to_pylist()) < 1.0  # flush_s = 0.2
    seqs = sorted(set(before["recv_s"].to_pylist()))
    assert seqs == [float(k) for k in range(1, len(seqs) + 1)], "no message missing before the last kept"
    recovered = recover(site)
    assert recovered and not list(site.rglob(f"*{JOURNAL_SUFFIX}"))
    after = read_archive(site, "detectors")
    assert after.num_rows == before.num_rows


def test_the_service_archives_every_valid_message_and_every_plan_it_sends(tmp_path: Path) -> None:
    from controller.config import Config
    from controller.core.messages import encode_detector_message, encode_status
    from controller.service import ControllerService
    from tests.junction_fixtures import two_phase

    rec = ArchiveRecorder(tmp_path, "site", ArchiveConfig(flush_s=0.05))
    sent = []
    svc = ControllerService(
        {"J": two_phase()}, Config(), "max_pressure", archive=rec, publish=lambda cmd, payload: sent.append(payload)
    )
    loops = [d.id for d in svc.junctions["J"].detectors]
    for t in range(1, 61):
        svc.advance_clock(float(t))
        svc.on_detectors(encode_detector_message("J", float(t), 1.0, {d: ({"car": t % 3}, 0.2, 5.0) for d in loops}))
        svc.on_detectors(b'{"v": 1, "junction": "nope"}')  # invalid: dropped and counted, not archived
        svc.on_status(encode_status(SignalStatus("J", float(t), 0, False, float(t), "local", 0, "local")))
        svc.tick(float(t))
    rec.close()
    site = tmp_path / "site"
    det = read_archive(site, "detectors")
    assert det.num_rows == 60 * len(loops) and svc.rejected["unknown_junction"] == 60
    assert sorted(set(det["t_s"].to_pylist())) == [float(t) for t in range(1, 61)]
    assert sum(det["car"].to_pylist()) == sum(t % 3 for t in range(1, 61)) * len(loops)
    assert read_archive(site, "status").num_rows == 60
    plans = read_archive(site, "plans")
    assert sent and plans["payload"].to_pylist() == sent

"""The audit store against real SQLite files: append-only, batches, epochs, and a kill -9 while
another process writes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.adapters.audit import AuditStore, boot_epoch

ROOT = Path(__file__).resolve().parents[2]


def test_append_and_query_by_kind_and_junction(tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite")
    store.append("plan", "J1", "controller/ctl-1", {"epoch": 3, "seq": 1}, t_s=10.0)
    store.append("ack", "J1", "roadside/J1", {"epoch": 3, "seq": 1}, t_s=11.0)
    store.append("plan", "J2", "controller/ctl-1", {"epoch": 3, "seq": 1}, t_s=11.0)
    assert [(r.kind, r.junction) for r in store.query()] == [("plan", "J1"), ("ack", "J1"), ("plan", "J2")]
    assert [r.junction for r in store.query(kind="plan")] == ["J1", "J2"]
    assert [r.kind for r in store.query(junction="J1", since_t_s=11.0)] == ["ack"]
    assert store.query(kind="plan", junction="J2")[0].payload == {"epoch": 3, "seq": 1}
    first = store.query()[0].id
    assert len(store.query(since_id=first)) == 2


def test_rows_cannot_be_updated_or_deleted(tmp_path):
    path = tmp_path / "audit.sqlite"
    AuditStore(path).append("operator", "J1", "alice", {"action": "hold"}, t_s=1.0)
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE events SET actor = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM events")
    assert AuditStore(path).query()[0].actor == "alice"


def test_bad_payload_is_refused_with_a_clear_error(tmp_path):
    store = AuditStore(tmp_path / "a.sqlite")
    with pytest.raises(ValueError):
        store.append("plan", "J1", "c", {"green_s": float("nan")}, t_s=0.0)
    with pytest.raises(ValueError, match="kind"):
        store.append("", "J1", "c", {}, t_s=0.0)


def test_a_failed_batch_leaves_nothing(tmp_path):
    store = AuditStore(tmp_path / "a.sqlite")
    with pytest.raises(RuntimeError), store.batch():
        store.append("plan", "J1", "c", {"seq": 1}, t_s=0.0)
        raise RuntimeError("tick failed")
    assert store.query() == []


def test_epochs_grow_across_restarts_and_clock_steps(tmp_path):
    path = tmp_path / "a.sqlite"
    e1 = AuditStore(path).begin_epoch("ctl-1", wall_s=1_000_000.5)
    assert e1 == boot_epoch(1_000_000.5) == 1_000_000
    e2 = AuditStore(path).begin_epoch("ctl-1", wall_s=1_000_000.9)  # same second
    e3 = AuditStore(path).begin_epoch("ctl-1", wall_s=5.0)  # the wall clock stepped back
    assert e1 < e2 < e3
    assert [e for e, _, _ in AuditStore(path).epochs()] == [e1, e2, e3]
    assert [r.payload["epoch"] for r in AuditStore(path).query(kind="epoch")] == [e1, e2, e3]


WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from controller.adapters.audit import AuditStore
store = AuditStore({path!r})
n = 0
print("ready", flush=True)
while True:
    with store.batch():
        for k in range(20):
            store.append("plan", f"J{{k}}", "controller/test", {{"seq": n, "k": k, "pad": "x" * 200}}, t_s=float(n))
    n += 1
"""


def test_store_opens_consistent_after_kill_9_while_writing(tmp_path):
    path = tmp_path / "audit.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.5)  # thousands of transactions in flight
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    store = AuditStore(path)
    assert store.check() == "ok"
    rows = store.query(limit=10**7)
    assert len(rows) >= 20 and len(rows) % 20 == 0  # whole batches only: one per tick, all or nothing
    seqs = [r.payload["seq"] for r in rows]
    assert seqs == sorted(seqs) and set(seqs) == set(range(seqs[-1] + 1))
    store.append("plan", "J0", "controller/test", {"seq": -1}, t_s=0.0)  # and it takes new writes


def test_newest_reads_one_kind_newest_first_in_pages(tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite")
    ids = [store.append("checkpoint", "", "controller/a", {"n": n}, t_s=float(n)) for n in range(5)]
    store.append("plan", "J1", "controller/a", {"n": 99}, t_s=9.0)
    first = store.newest(kind="checkpoint", limit=2)
    assert [r.payload["n"] for r in first] == [4, 3]
    rest = store.newest(kind="checkpoint", before_id=first[-1].id, limit=10)
    assert [r.payload["n"] for r in rest] == [2, 1, 0] and rest[-1].id == ids[0]
    assert store.newest(kind="verdict") == []
    store.close()

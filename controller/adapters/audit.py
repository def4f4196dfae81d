"""The audit trail: one append-only SQLite store (WAL) for everything that touched a junction.

What goes in (`kind`, by convention):
- `plan`      a plan pushed to a junction (epoch, seq, plan id, kind, validity, the plan);
- `ack`       a roadside status acknowledging a plan (epoch, seq, mode);
- `refusal`   a roadside refusing a plan (its reason, from status.faults);
- `mode`      a do-no-harm switch of the service (TickResult.mode_changes) or a roadside mode change;
- `operator`  an operator action (override, release ...), with the operator's identity as actor;
- `verdict`   a validation gate's verdict on a candidate plan;
- `epoch`     a controller start (the epoch it took).
Anyone may add kinds; readers filter by kind.

Guarantees:
- append-only: UPDATE and DELETE are refused by triggers in the database itself;
- durable against a killed process (kill -9): every `append` outside a `batch()` is its own
  transaction, and a `batch()` commits once at its end; SQLite's WAL journal recovers to the last
  committed transaction when the store is opened again (synchronous=NORMAL: a power cut may lose
  the last transactions, never consistency);
- epochs only grow (`begin_epoch`), even if the wall clock steps back.

Example:
    >>> store = AuditStore(":memory:")
    >>> store.append("operator", "J3", "alice", {"action": "release"}, t_s=12.0)
    1
    >>> [r.actor for r in store.query(kind="operator")]
    ['alice']
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.errors import AdapterError

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    t_s REAL NOT NULL,          -- service time of the event
    kind TEXT NOT NULL,
    junction TEXT NOT NULL,     -- '' when it concerns no single junction
    actor TEXT NOT NULL,        -- 'controller/<instance>', 'roadside/<junction>', an operator's user name
    payload TEXT NOT NULL       -- JSON object
);
CREATE INDEX IF NOT EXISTS events_kind_junction ON events (kind, junction, id);
CREATE TABLE IF NOT EXISTS epochs (
    epoch INTEGER PRIMARY KEY,
    instance TEXT NOT NULL,
    wall_s REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS epochs_no_update BEFORE UPDATE ON epochs
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS epochs_no_delete BEFORE DELETE ON epochs
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


@dataclass(frozen=True)
class AuditRecord:
    id: int
    t_s: float
    kind: str
    junction: str
    actor: str
    payload: dict[str, Any]


def boot_epoch(wall_s: float) -> int:
    """The epoch of a controller without a store: its start time in whole Unix seconds (grows
    across restarts as long as the wall clock does)."""
    return math.floor(wall_s)


class AuditStore:
    """One SQLite file (or ":memory:"). Thread-safe: one connection behind a lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise AdapterError(f"audit store {self.path}: {exc}", fatal=True) from None
        self._lock = threading.RLock()
        self._depth = 0  # nesting of batch()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing ---------------------------------------------------------------------------
    def append(self, kind: str, junction: str, actor: str, payload: Mapping[str, Any], t_s: float) -> int:
        """Record one event; returns its id. Committed at once, or at the end of the enclosing
        batch(). payload must be JSON-serialisable (NaN refused)."""
        if not kind or not isinstance(kind, str):
            raise ValueError("audit kind must be a non-empty string")
        body = json.dumps(dict(payload), separators=(",", ":"), sort_keys=True, allow_nan=False)
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO events (t_s, kind, junction, actor, payload) VALUES (?, ?, ?, ?, ?)",
                (float(t_s), kind, junction, actor, body),
            )
            return int(cur.lastrowid or 0)

    @contextmanager
    def batch(self) -> Iterator[AuditStore]:
        """Appends inside are one transaction: all of them, or (on error or kill) none."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    def begin_epoch(self, instance: str, wall_s: float) -> int:
        """A new controller run: an epoch above every one recorded and at least the boot epoch
        of wall_s. Recorded (table epochs and an `epoch` event) before it is returned."""
        with self._lock, self.batch():
            (last,) = self._db.execute("SELECT COALESCE(MAX(epoch), 0) FROM epochs").fetchone()
            epoch = max(int(last) + 1, boot_epoch(wall_s))
            self._db.execute("INSERT INTO epochs (epoch, instance, wall_s) VALUES (?, ?, ?)", (epoch, instance, wall_s))
            self.append("epoch", "", f"controller/{instance}", {"epoch": epoch, "wall_s": wall_s}, t_s=wall_s)
        return epoch

    # -- reading ---------------------------------------------------------------------------
    def query(
        self,
        *,
        kind: str | None = None,
        junction: str | None = None,
        since_id: int = 0,
        since_t_s: float | None = None,
        limit: int = 1000,
    ) -> list[AuditRecord]:
        """Events in the order they were written, filtered; at most `limit` from since_id on."""
        where = [("id > ?", since_id), ("kind = ?", kind), ("junction = ?", junction), ("t_s >= ?", since_t_s)]
        return self._select(where, "id", limit)

    def newest(
        self, *, kind: str, junction: str | None = None, before_id: int | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        """Events of `kind` (and `junction`), newest first: at most `limit`, older than before_id."""
        return self._select([("kind = ?", kind), ("junction = ?", junction), ("id < ?", before_id)], "id DESC", limit)

    def _select(self, where: list[tuple[str, Any]], order: str, limit: int) -> list[AuditRecord]:
        """The events meeting every condition whose value is not None, in `order`, at most `limit`."""
        used = [(cond, value) for cond, value in where if value is not None]
        sql = "SELECT id, t_s, kind, junction, actor, payload FROM events"
        if used:
            sql += " WHERE " + " AND ".join(cond for cond, _ in used)
        sql += f" ORDER BY {order} LIMIT ?"
        args = [value for _, value in used] + [int(limit)]
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [AuditRecord(i, t, k, j, a, json.loads(p)) for i, t, k, j, a, p in rows]

    def epochs(self) -> list[tuple[int, str, float]]:
        """(epoch, instance, wall_s) of every controller run, oldest first."""
        with self._lock:
            return [tuple(r) for r in self._db.execute("SELECT epoch, instance, wall_s FROM epochs ORDER BY epoch")]

    def check(self) -> str:
        """SQLite's integrity check: 'ok' when the file is consistent."""
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

"""The feed archive: every valid detector message and roadside status the service receives,
and every plan it sends, with the receive (or send) time and an arrival sequence number.

Layout (docs/replay.md says why this format)::

    {root}/{site}/{kind}/day=YYYY-MM-DD/part-{session}-{n:05d}.parquet   compacted, read-only
    {root}/{site}/{kind}/day=YYYY-MM-DD/part-{session}-{n:05d}.arrows    live journal (Arrow IPC stream)
    {root}/{site}/meta/                                                  junction models, meta.json

`kind` is `detectors` (one row per loop per message), `status` or `plans` (one row per message).
The day is the UTC date of the message's own time `t_s` (a simulation's seconds from 0 fall on
1970-01-01).

Contract:
- `detectors`, `status` and `plan` never block and never raise: they put the message on a
  bounded queue (`queue_max`); when it is full the message is dropped and counted (`dropped`,
  Prometheus `tsc_archive_dropped_total`).
- A writer thread appends the queued rows to the journal every `flush_s` seconds (one Arrow
  record batch, written through to the operating system). A process killed at any instant loses
  at most the rows of the last `flush_s` and the queue; the reader ignores a torn last batch.
- Every `segment_s`, at a change of day and at `close`, a journal is compacted into one Parquet
  file (sorted by junction, loop and time; zstd), written under a temporary name and renamed,
  then the journal is deleted. Journals left by a crash are compacted when a recorder starts.
- Retention: day partitions more than `retention_days` older than the newest recorded day are
  deleted (the archive's own time, not the clock: a replayed 1970 stays replayable).

    rec = ArchiveRecorder(Path("archive"), "city", cfg.archive)
    rec.detectors(snapshot, recv_s=now_s)     # from the service, after validation
    rec.close()                               # drains the queue, compacts the journals
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from prometheus_client import CollectorRegistry, Counter, Gauge

from controller.config import ArchiveConfig
from controller.errors import AdapterError, ConfigError
from controller.model import VEHICLE_CLASSES, Command, CyclePlan, SignalStatus, Snapshot

log = logging.getLogger(__name__)

KINDS = ("detectors", "status", "plans")
JOURNAL_SUFFIX = ".arrows"
PARQUET_SUFFIX = ".parquet"
_DICT = pa.dictionary(pa.int32(), pa.string())

SCHEMAS: dict[str, pa.Schema] = {
    "detectors": pa.schema(
        [
            ("t_s", pa.float64()),
            ("recv_s", pa.float64()),
            ("session", pa.int64()),
            ("seq", pa.int64()),
            ("junction", _DICT),
            ("period_s", pa.float32()),
            ("detector", _DICT),
        ]
        + [(c, pa.uint16()) for c in VEHICLE_CLASSES]
        + [("occupancy", pa.float32()), ("speed_mps", pa.float32())]
    ),
    "status": pa.schema(
        [
            ("t_s", pa.float64()),
            ("recv_s", pa.float64()),
            ("session", pa.int64()),
            ("seq", pa.int64()),
            ("junction", _DICT),
            ("phase", pa.int16()),
            ("in_intergreen", pa.bool_()),
            ("time_in_phase_s", pa.float32()),
            ("plan_id", pa.string()),
            ("plan_seq", pa.int64()),
            ("mode", _DICT),
            ("faults", pa.string()),
            ("program", _DICT),  # the city's program in force the status names ("": none; since session 66)
        ]
    ),
    "plans": pa.schema(
        [
            ("t_s", pa.float64()),
            ("recv_s", pa.float64()),
            ("session", pa.int64()),
            ("seq", pa.int64()),
            ("junction", _DICT),
            ("plan_id", pa.string()),
            ("plan_seq", pa.int64()),
            ("plan_kind", _DICT),
            ("valid_from_s", pa.float64()),
            ("expires_s", pa.float64()),
            ("payload", pa.binary()),
        ]
    ),
}
# Compacted files are sorted so that each loop's seconds are contiguous: runs of zero counts
# and of equal occupancy then encode to almost nothing.
_SORT = {"detectors": ["junction", "detector", "t_s"], "status": ["junction", "t_s"], "plans": ["junction", "t_s"]}


def day_of(t_s: float) -> str:
    """The UTC date (YYYY-MM-DD) of a message time in seconds since the epoch."""
    return dt.datetime.fromtimestamp(t_s, dt.UTC).strftime("%Y-%m-%d")


# what the caller hands the writer's thread: (kind, the snapshot, status or (command, payload), seconds received)
_Item = tuple[str, Any, float]


class _Columns:
    """Rows of one kind and one day, column by column, until the next flush."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.cols: dict[str, list[Any]] = {name: [] for name in SCHEMAS[kind].names}

    def __len__(self) -> int:
        return len(self.cols["t_s"])

    def add_detectors(self, snap: Snapshot, recv_s: float, session: int, seq: int) -> None:
        c = self.cols
        n = len(snap.readings)
        for name, value in (
            ("t_s", snap.t_s),
            ("recv_s", recv_s),
            ("session", session),
            ("seq", seq),
            ("junction", snap.junction),
            ("period_s", snap.period_s),
        ):
            c[name].extend([value] * n)
        c["detector"].extend([r.detector for r in snap.readings])
        c["occupancy"].extend([r.occupancy for r in snap.readings])
        c["speed_mps"].extend([r.speed_mps for r in snap.readings])
        by_class = {cls: c[cls] for cls in VEHICLE_CLASSES}
        for col in by_class.values():
            col.extend([0] * n)
        start = len(c["t_s"]) - n
        for k, r in enumerate(snap.readings):
            for cls, count in r.counts:
                by_class[cls][start + k] = count

    def add_row(self, row: dict[str, Any]) -> None:
        for name, col in self.cols.items():
            col.append(row[name])

    def batch(self) -> pa.RecordBatch:
        schema = SCHEMAS[self.kind]
        arrays = [pa.array(self.cols[f.name], type=f.type if f.type != _DICT else pa.string()) for f in schema]
        arrays = [a.dictionary_encode() if f.type == _DICT else a for a, f in zip(arrays, schema)]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _status_row(st: SignalStatus, recv_s: float, session: int, seq: int) -> dict[str, Any]:
    return {
        "t_s": st.t_s,
        "recv_s": recv_s,
        "session": session,
        "seq": seq,
        "junction": st.junction,
        "phase": st.phase,
        "in_intergreen": st.in_intergreen,
        "time_in_phase_s": st.time_in_phase_s,
        "plan_id": st.plan_id,
        "plan_seq": st.seq,
        "mode": st.mode,
        "faults": ",".join(st.faults),
        "program": st.program,
    }


def _plan_row(cmd: Command, payload: bytes, sent_s: float, session: int, seq: int) -> dict[str, Any]:
    return {
        "t_s": sent_s,
        "recv_s": sent_s,
        "session": session,
        "seq": seq,
        "junction": cmd.junction,
        "plan_id": cmd.plan_id,
        "plan_seq": cmd.seq,
        "plan_kind": "cycle" if isinstance(cmd, CyclePlan) else "next_phase",
        "valid_from_s": cmd.valid_from_s,
        "expires_s": cmd.expires_s,
        "payload": bytes(payload),
    }


class _Journal:
    """One open Arrow IPC stream: appended batch by batch, each written through to the OS."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = ipc.new_stream(self.sink, schema, options=ipc.IpcWriteOptions(compression="zstd"))
        self.rows = 0

    def append(self, batch: pa.RecordBatch) -> None:
        self.writer.write_batch(batch)
        self.sink.flush()  # in the OS's hands: survives the process (kill -9), not a power cut
        self.rows += batch.num_rows

    def close(self) -> None:
        self.writer.close()
        self.sink.close()


def read_journal(path: Path, schema: pa.Schema | None = None) -> pa.Table:
    """Every complete record batch of a journal; a torn last batch (crash mid-write) is ignored."""
    batches = []
    try:
        with pa.OSFile(str(path), "rb") as f:
            reader = ipc.open_stream(f)
            schema = reader.schema
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
    except (pa.ArrowInvalid, OSError) as exc:
        if schema is None and not batches:
            log.warning("journal %s unreadable (%s): skipped", path, exc)
            return pa.table({})
        log.info("journal %s: torn tail ignored after %d batches (%s)", path, len(batches), exc)
    return pa.Table.from_batches(batches, schema=schema)


# columns added to a kind after archives were written, and what a file without one reads: the archive's
# format grows by whole columns only (no version number), each read back this way
_ADDED = {("status", "program"): ""}  # session 66: the city's program in force (SignalStatus.program)


def _as_schema(table: pa.Table, kind: str) -> pa.Table:
    """A file's table in the kind's schema. Detector files written before a vehicle class was added
    (`bicycle`, session 49) lack its column: it reads as 0 counts; a column added later (_ADDED) reads as its
    value there (status files before session 66: no `program`, "")."""
    schema = SCHEMAS[kind]
    for name in schema.names:
        if name in table.column_names:
            continue
        if name in VEHICLE_CLASSES:
            table = table.append_column(name, pa.array([0] * table.num_rows, type=schema.field(name).type))
        elif (kind, name) in _ADDED:
            filler = pa.array([_ADDED[kind, name]] * table.num_rows, type=pa.string())
            table = table.append_column(name, filler.cast(schema.field(name).type))
    return table.select(schema.names).cast(schema)


def _sort_indices(table: pa.Table, keys: list[str]) -> pa.Array:
    """Arrow sorts no dictionary column: the keys are sorted as plain values."""
    plain = {
        k: (table[k].cast(pa.string()) if pa.types.is_dictionary(table.schema.field(k).type) else table[k])
        for k in keys
    }
    return pc.sort_indices(pa.table(plain), [(k, "ascending") for k in keys])


def compact_journal(journal: Path, kind: str) -> Path | None:
    """Journal -> sorted, zstd-compressed Parquet (temp name, fsync, rename), then the journal is
    deleted. Returns the Parquet path, or None for an empty journal."""
    table = read_journal(journal, SCHEMAS[kind])
    target = journal.with_suffix(PARQUET_SUFFIX)
    if table.num_rows:
        table = table.take(_sort_indices(table, _SORT[kind]))
        tmp = target.with_suffix(".parquet.tmp")
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            compression_level=9,
            use_dictionary=[f.name for f in table.schema if pa.types.is_dictionary(f.type)]
            + ["period_s", "session", "occupancy", "speed_mps", "plan_id", "faults", "phase"],
            write_statistics=["t_s"],
        )
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    journal.unlink(missing_ok=True)
    return target if table.num_rows else None


@dataclass
class ArchiveStats:
    received: int = 0  # messages handed to the recorder
    written_rows: int = 0  # rows appended to journals
    dropped: int = 0  # messages dropped on a full queue
    write_errors: int = 0  # batches lost to a failed write (disk full, permissions)


class ArchiveRecorder:
    """Records into {root}/{site}/ off the caller's thread (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        site: str,
        cfg: ArchiveConfig,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check(cfg)
        if not site or "/" in site or site.startswith("."):
            raise ConfigError("archive", "service.site", f"not usable as a folder name: {site!r}")
        self.root = Path(root) / site
        self.cfg = cfg
        self.stats = ArchiveStats()
        self.session = time.time_ns()
        self._clock = clock
        self._seq = 0
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=cfg.queue_max)
        self._buffers: dict[tuple[str, str], _Columns] = {}
        self._journals: dict[tuple[str, str], _Journal] = {}
        self._parts = 0
        self._newest_day = ""
        self._last_error_log = -1e9
        self._stop = threading.Event()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            recover(self.root)
        except OSError as exc:
            raise AdapterError(f"archive {self.root}: {exc}", fatal=True) from None
        days = [d.name[4:] for k in KINDS for d in (self.root / k).glob("day=*")]
        if days:
            self._newest_day = max(days)
            self._apply_retention()
        self._metrics = _Metrics(registry, self._queue) if registry is not None else None
        self._thread = threading.Thread(target=self._run, name=f"archive-{site}", daemon=True)
        self._thread.start()

    # -- the caller's side: never blocks -------------------------------------------------
    def _put(self, item: _Item) -> None:
        self.stats.received += 1
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.stats.dropped += 1
            if self._metrics is not None:
                self._metrics.dropped.inc()

    def detectors(self, snap: Snapshot, recv_s: float) -> None:
        self._put(("detectors", snap, recv_s))

    def status(self, st: SignalStatus, recv_s: float) -> None:
        self._put(("status", st, recv_s))

    def plan(self, cmd: Command, payload: bytes, sent_s: float) -> None:
        self._put(("plans", (cmd, payload), sent_s))

    def write_meta(self, info: dict[str, Any], intersections: Path | None = None) -> None:
        """meta/meta.json (what the recording is of: network, scenario, policy) and a copy of
        the junction models the feeds were validated against (meta/intersections/)."""
        meta = self.root / "meta"
        meta.mkdir(parents=True, exist_ok=True)
        if intersections is not None and intersections.is_dir():
            dest = meta / "intersections"
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(intersections, dest)
        tmp = meta / "meta.json.tmp"
        tmp.write_text(json.dumps(info, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, meta / "meta.json")

    def close(self, timeout_s: float = 60.0) -> ArchiveStats:
        """Drain the queue, write and compact every journal. Idempotent."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout_s)
        return self.stats

    # -- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        next_flush = self._clock() + self.cfg.flush_s
        next_segment = self._clock() + self.cfg.segment_s
        while True:
            stopping = self._stop.is_set()
            try:
                item = self._queue.get(timeout=min(0.2, self.cfg.flush_s))
                self._add(*item)
                while True:  # drain what is there without waking up per message
                    self._add(*self._queue.get_nowait())
            except queue.Empty:
                pass
            now = self._clock()
            if now >= next_flush or stopping:
                self._flush()
                next_flush = now + self.cfg.flush_s
            if now >= next_segment or stopping:
                self._compact_open()
                next_segment = now + self.cfg.segment_s
            if stopping and self._queue.empty():
                self._flush()
                self._compact_open()
                return

    def _add(self, kind: str, obj: Any, t_recv_s: float) -> None:
        self._seq += 1
        day = day_of(t_recv_s if kind == "plans" else obj.t_s)  # a plan's own time is when it was sent
        key = (kind, day)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = _Columns(kind)
        if kind == "detectors":
            buf.add_detectors(obj, t_recv_s, self.session, self._seq)
        elif kind == "status":
            buf.add_row(_status_row(obj, t_recv_s, self.session, self._seq))
        else:
            buf.add_row(_plan_row(obj[0], obj[1], t_recv_s, self.session, self._seq))
        if day > self._newest_day:
            self._newest_day = day
            self._new_day()

    def _flush(self) -> None:
        buffers, self._buffers = self._buffers, {}
        for (kind, day), buf in buffers.items():
            if not len(buf):
                continue
            try:
                journal = self._journals.get((kind, day))
                if journal is None:
                    self._parts += 1
                    path = self.root / kind / f"day={day}" / f"part-{self.session}-{self._parts:05d}{JOURNAL_SUFFIX}"
                    journal = self._journals[(kind, day)] = _Journal(path, SCHEMAS[kind])
                journal.append(buf.batch())
                self.stats.written_rows += len(buf)
                if self._metrics is not None:
                    self._metrics.rows.labels(kind).inc(len(buf))
            except (OSError, pa.ArrowException) as exc:
                self._write_error(f"{kind} day={day}", exc)

    def _compact_open(self, only_before_day: str | None = None) -> None:
        for key in list(self._journals):
            if only_before_day is not None and key[1] >= only_before_day:
                continue
            journal = self._journals.pop(key)
            try:
                journal.close()
                compact_journal(journal.path, key[0])
            except (OSError, pa.ArrowException) as exc:  # the journal stays: recovered at next start
                self._write_error(f"compacting {journal.path}", exc)

    def _new_day(self) -> None:
        """A newer day appeared: yesterday's journals are complete, and retention moves on."""
        self._flush()
        self._compact_open(only_before_day=self._newest_day)
        self._apply_retention()

    def _apply_retention(self) -> None:
        newest = dt.date.fromisoformat(self._newest_day)
        cutoff = (newest - dt.timedelta(days=self.cfg.retention_days)).isoformat()
        for kind in KINDS:
            for d in (self.root / kind).glob("day=*"):
                if d.name[4:] < cutoff:
                    shutil.rmtree(d, ignore_errors=True)
                    log.info("archive retention: deleted %s (older than %s)", d, cutoff)

    def _write_error(self, what: str, exc: Exception) -> None:
        self.stats.write_errors += 1
        if self._metrics is not None:
            self._metrics.errors.inc()
        now_s = self._clock()
        if now_s - self._last_error_log >= 60.0:
            self._last_error_log = now_s
            log.error("archive write failed (%s): %s; errors so far=%d", what, exc, self.stats.write_errors)


class _Metrics:
    def __init__(self, registry: CollectorRegistry, q: queue.Queue[_Item]) -> None:
        self.dropped = Counter(
            "tsc_archive_dropped", "Messages not archived: the recorder's queue was full", registry=registry
        )
        self.rows = Counter("tsc_archive_rows", "Rows appended to the feed archive", ["kind"], registry=registry)
        self.errors = Counter("tsc_archive_write_errors", "Archive batches lost to a failed write", registry=registry)
        depth = Gauge("tsc_archive_queue_depth", "Messages waiting for the archive writer", registry=registry)
        depth.set_function(q.qsize)


def _check(cfg: ArchiveConfig) -> None:
    where = "config.toml"
    if cfg.retention_days < 1:
        raise ConfigError(where, "archive.retention_days", f"must be >= 1, got {cfg.retention_days}")
    if cfg.queue_max < 1:
        raise ConfigError(where, "archive.queue_max", f"must be >= 1, got {cfg.queue_max}")


def recover(site_root: Path) -> list[Path]:
    """Compact every journal left by a crashed recorder; remove temp files of an interrupted
    compaction. A journal whose Parquet already exists (crash between rename and delete) is
    simply deleted. Returns the Parquet files written."""
    written = []
    for kind in KINDS:
        for tmp in (site_root / kind).glob("day=*/*.parquet.tmp"):
            tmp.unlink(missing_ok=True)
        for journal in sorted((site_root / kind).glob(f"day=*/*{JOURNAL_SUFFIX}")):
            if journal.with_suffix(PARQUET_SUFFIX).exists():
                journal.unlink()
                continue
            out = compact_journal(journal, kind)
            if out is not None:
                written.append(out)
                log.info("archive: recovered journal %s -> %s", journal.name, out.name)
    return written


# -- reading -------------------------------------------------------------------------------
def site_root(path: Path) -> Path:
    """The site folder of an archive: `path` itself, or its only site. Raises AdapterError
    naming what is missing or ambiguous."""
    path = Path(path)
    if not path.is_dir():
        raise AdapterError(f"archive {path}: no such folder")
    if any((path / k).is_dir() for k in KINDS):
        return path
    sites = sorted(p for p in path.iterdir() if p.is_dir() and any((p / k).is_dir() for k in KINDS))
    if not sites:
        raise AdapterError(f"archive {path}: no recording in it (expected {'/'.join(KINDS)} folders)")
    if len(sites) > 1:
        raise AdapterError(f"archive {path}: several sites ({', '.join(s.name for s in sites)}); name one folder")
    return sites[0]


def _files(root: Path, kind: str, day_from: str | None, day_to: str | None) -> list[Path]:
    out = []
    for d in sorted((root / kind).glob("day=*")):
        day = d.name[4:]
        if (day_from and day < day_from) or (day_to and day > day_to):
            continue
        parquet = sorted(d.glob(f"*{PARQUET_SUFFIX}"))
        stems = {p.stem for p in parquet}
        out += parquet + [j for j in sorted(d.glob(f"*{JOURNAL_SUFFIX}")) if j.stem not in stems]
    return out


def read_archive(root: Path, kind: str, t_from_s: float | None = None, t_to_s: float | None = None) -> pa.Table:
    """All rows of one kind with t_from_s <= t_s < t_to_s (either bound optional), sorted by
    time then arrival; compacted files and live journals alike (a torn journal tail is ignored)."""
    if kind not in KINDS:
        raise ValueError(f"unknown archive kind {kind!r}; known: {', '.join(KINDS)}")
    files = _files(
        root, kind, day_of(t_from_s) if t_from_s is not None else None, day_of(t_to_s) if t_to_s is not None else None
    )
    tables = []
    for f in files:
        t = pq.ParquetFile(f).read() if f.suffix == PARQUET_SUFFIX else read_journal(f, SCHEMAS[kind])
        if t.num_rows:
            tables.append(_as_schema(t, kind))
    if not tables:
        return SCHEMAS[kind].empty_table()
    table = pa.concat_tables(tables).unify_dictionaries()
    mask = None
    if t_from_s is not None:
        mask = pc.greater_equal(table["t_s"], t_from_s)
    if t_to_s is not None:
        upper = pc.less(table["t_s"], t_to_s)
        mask = upper if mask is None else pc.and_(mask, upper)
    if mask is not None:
        table = table.filter(mask)
    return table.take(_sort_indices(table, ["t_s", "session", "seq"]))


def read_meta(root: Path) -> dict[str, Any]:
    """meta/meta.json of a site folder ({} when the recorder wrote none)."""
    p = root / "meta" / "meta.json"
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}

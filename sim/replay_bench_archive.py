"""Benchmark of the feed archive: size per junction-day and the writer's CPU cost.

  python -m sim.replay_bench_archive size ARCHIVE        bytes per junction-day of a recording,
                                                         re-compacted in 15-min segments as `run` does
  python -m sim.replay_bench_archive cost [--junctions 2000] [--loops 20] [--seconds 120]
                                                         the writer thread's CPU per second of feed

`cost` feeds synthetic 1 Hz messages (a vehicle on 10 % of the loop-seconds, occupancy and
speed varying) as fast as the recorder takes them, and measures the writer thread's own CPU time (time.thread_time),
compaction included (segment_s = 60 s). Prints a table; the figures and the command
go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.compute as pc

from controller.adapters.archive import (
    JOURNAL_SUFFIX,
    KINDS,
    SCHEMAS,
    ArchiveRecorder,
    _Journal,
    compact_journal,
    read_archive,
    site_root,
)
from controller.config import ArchiveConfig
from controller.model import DetectorReading, Snapshot


class _TimedRecorder(ArchiveRecorder):
    """The recorder, with its writer thread's own CPU time (time.thread_time) kept at its end."""

    writer_cpu_s = 0.0

    def _run(self) -> None:
        t0 = time.thread_time()
        try:
            super()._run()
        finally:
            self.writer_cpu_s = time.thread_time() - t0


def size(archive: Path, segment_s: float = 900.0) -> None:
    site = site_root(archive)
    junctions = len(list((site / "meta" / "intersections").glob("*.toml")))
    work = Path(tempfile.mkdtemp(prefix="archive-size-"))
    try:
        total = 0
        span_s = 0.0
        print(f"{'kind':<10}{'rows':>12}{'bytes':>12}{'bytes/row':>10}")
        for kind in KINDS:
            table = read_archive(site, kind)
            if not table.num_rows:
                continue
            t = table["t_s"]
            t0, t1 = pc.min(t).as_py(), pc.max(t).as_py()
            span_s = max(span_s, t1 - t0 + 1.0)
            nbytes = 0
            k = 0
            start = t0
            while start <= t1:  # one journal per segment, compacted as the recorder does
                part = table.filter(pc.and_(pc.greater_equal(t, start), pc.less(t, start + segment_s)))
                start += segment_s
                if not part.num_rows:
                    continue
                k += 1
                j = _Journal(work / kind / f"part-{k:05d}{JOURNAL_SUFFIX}", SCHEMAS[kind])
                for batch in part.to_batches(max_chunksize=junctions * 40 * 2):
                    j.append(batch)
                j.close()
                parquet = compact_journal(j.path, kind)  # None: an empty journal (none here: part has rows)
                nbytes += parquet.stat().st_size if parquet is not None else 0
            total += nbytes
            print(f"{kind:<10}{table.num_rows:>12}{nbytes:>12}{nbytes / table.num_rows:>10.2f}")
        per_day = total / span_s * 86400.0 / max(junctions, 1)
        print(
            f"recording: {junctions} junctions, {span_s:.0f} s; {total} bytes; "
            f"{per_day / 1e6:.2f} MB per junction-day at this demand"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cost(junctions: int, loops: int, seconds: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    feeds = []
    for j in range(junctions):  # one second of feed per junction, reused with new times
        readings = tuple(
            DetectorReading(
                f"J{j}_L{k}",
                (("car", 1),) if rng.random() < 0.1 else (),
                round(rng.random() * 0.3, 3),
                rng.choice((-1.0, 4.2, 11.0)),
            )
            for k in range(loops)
        )
        feeds.append((f"J{j}", readings))
    root = Path(tempfile.mkdtemp(prefix="archive-cost-"))
    try:
        rec = _TimedRecorder(root, "bench", ArchiveConfig(queue_max=junctions * 4, flush_s=2.0, segment_s=60.0))
        wall0 = time.perf_counter()
        for s in range(seconds):
            for jid, readings in feeds:
                while rec._queue.full():
                    time.sleep(0.001)
                rec.detectors(Snapshot(jid, float(s + 1), 1.0, readings), recv_s=float(s + 1))
        rec.close(timeout_s=600)
        cpu = rec.writer_cpu_s
        wall = time.perf_counter() - wall0
        disk = sum(p.stat().st_size for p in root.rglob("*.parquet"))
        rows = junctions * loops * seconds
        print(
            f"{'junctions':>10}{'loops':>7}{'feed s':>8}{'rows':>12}{'writer CPU s':>14}{'core share':>12}"
            f"{'us/row':>8}{'wall s':>8}{'bytes/row':>10}"
        )
        print(
            f"{junctions:>10}{loops:>7}{seconds:>8}{rows:>12}{cpu:>14.2f}{cpu / seconds:>12.1%}"
            f"{cpu / rows * 1e6:>8.2f}{wall:>8.1f}{disk / rows:>10.2f}"
        )
        print(f"dropped={rec.stats.dropped} write_errors={rec.stats.write_errors}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.replay_bench_archive", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("size")
    s.add_argument("archive", type=Path)
    c = sub.add_parser("cost")
    c.add_argument("--junctions", type=int, default=2000)
    c.add_argument("--loops", type=int, default=20)
    c.add_argument("--seconds", type=int, default=120)
    args = p.parse_args(argv)
    if args.what == "size":
        size(args.archive)
    else:
        cost(args.junctions, args.loops, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark (a script, not a test): reading a second's detector messages, core/feedbatch.py of
another tree against this tree's, interleaved in one process.

    python -m sim.bench_tick_read --base /work/wbase17 [--size 2500] [--rounds 15] [--block 100]

The messages: one second of bench_mqtt's feeder (--size junctions, copies of the bundled city's
junction with the most detectors: 32 loops, about 3 kB a message, as sim/bench_tick.py feeds them).
Each round reads every message with read_message (as a live node reads each on arrival), both
trees interleaved by blocks of --block messages (ABBA), then hands each tree's reads to its
split_batch (the tick's part: grouping, the frames' arrays), the trees in turn. Process CPU
(time.process_time) per message; the heap frozen after set-up and collected before each round (as
bench_mqtt's controllers: live.freeze_heap), so that a collection one tree's garbage triggers is
not charged to the other. The table gives each tree's median over rounds and the median of the
per-round ratios (head / base), with their range.

Only feedbatch.py is the other tree's (loaded from --base by path); the modules it imports are
this tree's. Before timing, both trees' frames are checked to the bit (the same arrays, the same
messages left one by one).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from controller.core import feedbatch


def load_feedbatch(tree: Path) -> ModuleType:
    """core/feedbatch.py of `tree` as a module of its own (its imports: this tree's modules)."""
    spec = importlib.util.spec_from_file_location("base_feedbatch", tree / "controller" / "core" / "feedbatch.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench_tick_read: no controller/core/feedbatch.py under {tree}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (msgspec resolves its Structs' annotations through sys.modules)
    spec.loader.exec_module(module)
    return module


def second_of_messages(size: int) -> tuple[dict[str, Any], list[tuple[str | None, bytes]]]:
    """The junctions and one second's detector messages (topic junction, payload) of bench_mqtt's feeder."""
    from sim.bench_mqtt import bench_cfg, city_junction, message_parts, replicate

    with tempfile.TemporaryDirectory() as work:
        junction = city_junction(Path(work), bench_cfg(1))
    junctions = replicate(junction, size)
    loops = [d.id for d in junction.detectors]
    messages: list[tuple[str | None, bytes]] = []
    for jid in junctions:
        head, tail = message_parts(jid, loops, int(jid[1:]))
        messages.append((jid, head + b"1234.0" + tail))
    return junctions, messages


def frames_bits(module: ModuleType, messages: list[tuple[str | None, bytes]], layout: Any) -> tuple[Any, ...]:
    """The batch's frames as bytes (time, period, arrays, present) and the messages left one by one."""
    reads = [module.read_message(payload, jid, layout) for jid, payload in messages]
    batch = module.split_batch(messages, layout, reads)
    arrays = [(f.counts, f.occupancy, f.speed_mps, p) for f, p in batch.frames]
    times = [(f.t_s, f.period_s) for f, _ in batch.frames]
    return times, [b"".join(a.tobytes() for a in frame) for frame in arrays], batch.rest


def one_round(
    trees: dict[str, tuple[ModuleType, Any]], messages: list[tuple[str | None, bytes]], block: int, first: int
) -> dict[tuple[str, str], float]:
    """One round: {(part, tree): us a message}, part "read" (blocks interleaved, ABBA) and "split"
    (the trees in turn, `first`'s first)."""
    names = list(trees)
    spent = dict.fromkeys(names, 0.0)
    reads: dict[str, list[Any]] = {name: [] for name in names}
    for b, k in enumerate(range(0, len(messages), block)):
        part = messages[k : k + block]
        for name in names if b % 2 == 0 else names[::-1]:
            module, layout = trees[name]
            read, got = module.read_message, reads[name]
            t0 = time.process_time()
            got.extend([read(payload, jid, layout) for jid, payload in part])
            spent[name] += time.process_time() - t0
    out = {("read", name): spent[name] / len(messages) * 1e6 for name in names}
    for name in names if first == 0 else names[::-1]:
        module, layout = trees[name]
        t0 = time.process_time()
        module.split_batch(messages, layout, reads[name])
        out[("split", name)] = (time.process_time() - t0) / len(messages) * 1e6
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="the other tree (its controller/core/feedbatch.py)")
    ap.add_argument("--size", type=int, default=2500, help="junctions: messages a second")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--block", type=int, default=100, help="messages read by one tree before the other's turn")
    args = ap.parse_args(argv)
    base = load_feedbatch(args.base)
    junctions, messages = second_of_messages(args.size)
    trees = {name: (m, m.BatchLayout.build(junctions)) for name, m in (("base", base), ("head", feedbatch))}
    if frames_bits(base, messages, trees["base"][1]) != frames_bits(feedbatch, messages, trees["head"][1]):
        raise SystemExit("bench_tick_read: the trees' frames differ")
    print(f"{len(messages)} messages of {len(messages[0][1])} bytes; the trees' frames the same to the bit")
    gc.collect()
    gc.freeze()
    runs = []
    for r in range(args.rounds):
        gc.collect()
        runs.append(one_round(trees, messages, args.block, r % 2))
    gc.unfreeze()
    print("| part | base us/msg | head us/msg | head / base per round: median (min-max) |\n|---|---:|---:|---:|")
    for part in ("read", "split"):
        b, h = [run[(part, "base")] for run in runs], [run[(part, "head")] for run in runs]
        ratio = [y / x for x, y in zip(b, h, strict=True)]
        print(
            f"| {part} | {statistics.median(b):.2f} | {statistics.median(h):.2f} | "
            f"{statistics.median(ratio):.3f} ({min(ratio):.3f}-{max(ratio):.3f}) |"
        )


if __name__ == "__main__":
    main()

"""Benchmark (a script, not a test): the re-plan tick of one bench_mqtt region, in process, by part.

    python -m sim.bench_tick [--size 5000] [--regions 2] [--warmup 12] [--ticks 12] [--replan-spread 1]
                             [--period-s 5] [--statuses] [--policy webster] [--table] [--tree NAME=PATH ...]
                             [--rounds 3] [--json FILE]

The controller of sim/bench_mqtt.py's first region (--size junctions, copies of the bundled city's
junction with the most detectors, --regions regions: 2,500 junctions at the defaults), webster
re-planning every --period-s (5 s, bench_mqtt's; config.toml ships 300) with [webster] replan_spread
= --replan-spread (1 at 5 s: a fifth of the junctions re-plans each tick), fed in process: each
second, a detector message per junction (bench_mqtt's feeder's, read by on_detector_batch as the
lockstep node reads them), then the tick. No broker, and no statuses (as bench_mqtt's feed) unless
--statuses: then also, each second, a roadside status per junction (its own program's: status_at); --policy
another policy than webster (adaptive: max_pressure's, deciding every second; then webster's parts read 0). After
--warmup seconds (with fewer than about 12 the gate still derives its per-junction statics), --ticks
seconds are measured: the thread CPU (time.thread_time) of each part per tick, the parts' functions
wrapped (the heap frozen once set up, as bench_mqtt's controllers do: live.freeze_heap):

- tick: ControllerService.tick (the service around the core: the plans' JSON, the ledger);
- step: Core.step; observe: Core._observe (the messages folded in, the replays advanced), of which
  fold: netestimate.fold and harm: Core._observe_harm (do no harm's replays);
- webster: Core._decide_network (webster's pass); due: its replan_due calls; answers: the asks'
  answers (webster_net.FloorAnswers.answer); flows: webster_net.period_flows_all;
- gates: Core._gate_due, the pass's cycle wishes gated together (safety_rows.CycleRows), before the loop;
- junctions: the per-junction loop (Core._junction), of which gate: Core._gate and guard: Core._guard;
- with --table, after each tick and not in it: table: the heartbeat's junction table, every page
  (live.ServiceNode.junction_table_pages, which a live node runs on the tick's thread every heartbeat_s),
  of which rows: its rows (operators.junction_table).

Each run prints its plans' digest (sha256 of every tick's commands, the warm-up's too): two trees
that plan alike to the bit give the same digest. A part missing in a tree (no such function) reads
"-". The wrappers cost about a microsecond a call:
`due` (one call per junction and tick where the tree calls replan_due for each) reads a little high.

With --tree (one or more NAME=PATH, e.g. base=/work/wbase head=.), each tree runs in a child
process of its own (this file's harness, the tree's code: cwd and sys.path at PATH), the trees in
turn, --rounds times (ABBA: every other round reversed), and the table gives each part's median over
the rounds of the per-run medians over ticks. Without --tree, this tree, once. Thread CPU is what a
loaded machine disturbs least; compare trees only inside one interleaved run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.timers import Timers

if TYPE_CHECKING:
    from controller.live import TableSnapshot
    from controller.model import SignalStatus
    from controller.operators import OperatorDesk
    from controller.service import ControllerService

HERE = Path(__file__).resolve().parent
ROOT = Path(__file__).resolve().parent.parent

# (label, module path, attribute): the wrapped functions, nested parts after the part they are in
PARTS = (
    ("tick", "controller.service:ControllerService", "tick"),
    ("step", "controller.core.step:Core", "step"),
    ("observe", "controller.core.step:Core", "_observe"),
    ("fold", "controller.core.netestimate", "fold"),
    ("harm", "controller.core.step:Core", "_observe_harm"),
    ("webster", "controller.core.step:Core", "_decide_network"),
    ("due", "controller.core.policies.webster:WebsterPolicy", "replan_due"),
    ("answers", "controller.core.policies.webster_net:FloorAnswers", "answer"),
    ("flows", "controller.core.policies.webster_net", "period_flows_all"),
    ("gates", "controller.core.step:Core", "_gate_due"),  # the pass's cycle wishes gated together (safety_rows)
    ("junctions", "controller.core.step:Core", "_junction"),
    ("gate", "controller.core.step:Core", "_gate"),
    ("guard", "controller.core.step:Core", "_guard"),
    ("table", "", ""),  # with --table: the heartbeat's junction table, all pages (ServiceNode.junction_table_pages)
    ("rows", "controller.live", "junction_table"),  # of which its rows (operators.junction_table, as live calls it)
)


def wrap_parts() -> Timers:
    """Each part's function timed (thread CPU seconds, `timers.totals["cpu"][label]`); the parts this
    tree lacks left out. `timers.unwrap()` puts them back."""
    timers = Timers(cpu=time.thread_time)
    for label, path, attr in PARTS:
        if path:
            timers.wrap(path, attr, label)
    return timers


def run_one(
    size: int,
    regions: int,
    warmup: int,
    ticks: int,
    spread: float,
    period_s: float = 5.0,
    freeze: bool = True,
    statuses: bool = False,
    policy: str = "webster",
    table: bool = False,
) -> dict[str, Any]:
    """This tree's region, in this process: {"parts": labels, "ticks": [{label: ms}], "plans": [n]}
    (`freeze`: the heap frozen once set up, live.freeze_heap: for a process of its own; `statuses`:
    each second a roadside status per junction too, status_at's; `policy`: the service's; `table`: after
    each tick the heartbeat's junction table built too, as a live node does every heartbeat_s, part
    "table", not in "tick")."""
    from controller.core.messages import status_body
    from controller.live import freeze_heap
    from controller.service import ControllerService
    from sim.bench_mqtt import bench_cfg, bench_regions, city_junction, junction_id, message_parts, replicate

    cfg = bench_cfg(spread)
    cfg = replace(cfg, webster=replace(cfg.webster, period_s=period_s))
    with tempfile.TemporaryDirectory() as work:
        base = city_junction(Path(work), cfg)
    junctions = replicate(base, size)
    region = next(iter(bench_regions(junctions, regions)))
    watched = {j: junctions[j] for j in region.watched}
    dets = [d.id for d in base.detectors]
    parts = {jid: message_parts(jid, dets, int(jid[1:])) for jid in watched}
    assert all(junction_id(int(j[1:])) == j for j in watched)
    observed = set(watched) - set(region.owned)  # the region's halo: none here (no neighbours)
    service = ControllerService(watched, cfg, policy, publish=lambda c, p: None, observed=observed)
    if freeze:
        freeze_heap()  # as bench_mqtt's controllers and run_controller.py run do
    timers = wrap_parts()
    cpu = timers.totals["cpu"]
    node = _TableNode(service, policy, cpu) if table else None
    labels = [*timers.labels(), *(["table"] if table else [])]
    out: dict[str, Any] = {"parts": labels, "ticks": [], "plans": [], "junctions": len(watched)}
    digest = hashlib.sha256()  # every command of every tick, warm-up too: trees that plan alike give one digest
    try:
        for t in range(1, warmup + ticks + 1):
            stamp = repr(float(t)).encode()
            service.on_detector_batch([(jid, head + stamp + tail) for jid, (head, tail) in parts.items()])
            if statuses:
                for k, jid in enumerate(watched):
                    service.on_status_body(status_body(status_at(jid, k, t, len(base.phases))))
            before = dict(cpu)
            result = service.tick(float(t))
            digest.update(repr(result.commands).encode())
            if node is not None:
                node.time_pages(float(t))
            if t > warmup:
                out["ticks"].append({k: (cpu[k] - before[k]) * 1e3 for k in cpu})
                out["plans"].append(len(result.commands))
    finally:
        timers.unwrap()
    return {**out, "digest": digest.hexdigest()[:16]}


class _TableNode:
    """What ServiceNode.junction_table_pages reads of its node (live.PagedTableSource), without a
    connection: the service, no operators' desk, the policy, the service time and live's page size;
    `cpu`: the timers' totals, where time_pages adds the table's thread CPU under "table"."""

    def __init__(self, service: ControllerService, policy: str, cpu: dict[str, float]) -> None:
        from controller.live import ServiceNode

        self.service, self.now_s, self.instance = service, 0.0, "bench"
        self.desk: OperatorDesk | None = None
        self.policy, self.cpu = policy, cpu
        self.table_page_bytes: int = ServiceNode.table_page_bytes
        cpu["table"] = 0.0

    def policy_in_force(self) -> str:
        return self.policy

    def table_snapshot(self) -> TableSnapshot:
        """ServiceNode's, on this node (a tree from before session 52 has none, and its pages do not ask)."""
        from controller.live import ServiceNode

        return ServiceNode.table_snapshot(self)

    def time_pages(self, now_s: float) -> list[bytes]:
        """Every page of the table at `now_s`, its thread CPU added to cpu["table"]."""
        from controller.live import ServiceNode

        self.now_s = now_s
        c0 = time.thread_time()
        pages = ServiceNode.junction_table_pages(self)
        self.cpu["table"] += time.thread_time() - c0
        return pages


def status_at(jid: str, k: int, t: int, phases: int) -> SignalStatus:
    """The k-th junction's roadside at second t, on its own program: each phase 10 s (its last an
    intergreen), the junctions' cycles staggered by 3 s."""
    from controller.model import SignalStatus

    at = (t + 3 * k) % (10 * phases)
    return SignalStatus(jid, float(t), at // 10, at % 10 == 9, float(at % 10), "local", 0, "local")


def _child(tree: str, args: argparse.Namespace) -> dict[str, Any]:
    # this file's harness, the tree's code (a tree from before this bench has sim.bench_mqtt, not it)
    # (and this file's timers: a tree from before sim/timers.py has none)
    load = "\n".join(
        (
            "import sys, importlib.util as u",
            f"sys.path.insert(0, {tree!r})",
            "def load(name, path):",
            "    s = u.spec_from_file_location(name, path)",
            "    m = sys.modules[name] = u.module_from_spec(s)",
            "    s.loader.exec_module(m)",
            "    return m",
            f"load('sim.timers', {str(HERE / 'timers.py')!r})",
            f"load('bench_tick_child', {str(HERE / 'bench_tick.py')!r}).child_main()",
        )
    )
    cmd = [
        sys.executable,
        "-c",
        load,
        json.dumps(
            [
                args.size,
                args.regions,
                args.warmup,
                args.ticks,
                args.replan_spread,
                args.period_s,
                args.statuses,
                args.policy,
                args.table,
            ]
        ),
    ]
    done = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench_tick in {tree} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child_main() -> None:
    size, regions, warmup, ticks, spread, period_s, statuses, policy, table = json.loads(sys.argv[1])
    out = run_one(size, regions, warmup, ticks, spread, period_s, statuses=statuses, policy=policy, table=table)
    print(json.dumps(out), flush=True)


def medians(run: dict[str, Any]) -> dict[str, float]:
    """Per part, the median over the run's ticks (ms)."""
    return {k: statistics.median(t[k] for t in run["ticks"]) for k in run["parts"]}


def table(rows: dict[str, list[dict[str, float]]]) -> str:
    """Per tree, each part's median (over runs) of the per-run medians, ms."""
    labels = [label for label, _, _ in PARTS]
    lines = ["| tree | runs | " + " | ".join(labels) + " |", "|---|---:|" + "---:|" * len(labels)]
    for name, runs in rows.items():
        cells = []
        for label in labels:
            got = [r[label] for r in runs if label in r]
            cells.append(f"{statistics.median(got):.1f}" if got else "-")
        lines.append(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=5000, help="junctions in all regions (bench_mqtt --sizes)")
    ap.add_argument("--regions", type=int, default=2, help="regions: the first is measured")
    ap.add_argument("--warmup", type=int, default=12, help="seconds ticked before measuring")
    ap.add_argument("--ticks", type=int, default=12, help="seconds measured")
    ap.add_argument("--replan-spread", type=float, default=1.0, help="[webster] replan_spread")
    ap.add_argument("--period-s", type=float, default=5.0, help="[webster] period_s (5: bench_mqtt's; shipped 300)")
    ap.add_argument("--statuses", action="store_true", help="a roadside status per junction each second too")
    ap.add_argument("--policy", default="webster", help="the service's policy (webster, adaptive, ...)")
    ap.add_argument("--table", action="store_true", help="the heartbeat's junction table built after each tick")
    ap.add_argument("--tree", action="append", default=[], help="NAME=PATH: a source tree to run (repeatable)")
    ap.add_argument("--rounds", type=int, default=3, help="with --tree: runs of each tree, interleaved")
    ap.add_argument("--json", type=Path, help="write every run's per-tick parts here")
    args = ap.parse_args(argv)
    if not args.tree:
        one = run_one(
            args.size,
            args.regions,
            args.warmup,
            args.ticks,
            args.replan_spread,
            args.period_s,
            statuses=args.statuses,
            policy=args.policy,
            table=args.table,
        )
        runs = {"this tree": [one]}
        print(f"plans {one['digest']}")
    else:
        trees = [t.split("=", 1) for t in args.tree]
        runs = {name: [] for name, _ in trees}
        for r in range(args.rounds):
            for name, path in trees if r % 2 == 0 else trees[::-1]:
                t0 = time.strftime("%H:%M:%S", time.gmtime())
                runs[name].append(_child(path, args))
                run = runs[name][-1]
                head = f"round {r + 1} {name} from {t0} UTC, plans {run['digest']}: "
                print(head + json.dumps(medians(run)), flush=True)
    if args.json:
        args.json.write_text(json.dumps(runs))
    print(table({name: [medians(run) for run in rs] for name, rs in runs.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

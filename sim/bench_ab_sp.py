"""Benchmark (issue 12, session 11, SP): A/B in one process of the parts SP changed, on inputs
recorded from one in-process run (default: the city, adaptive, seed 1, 900 s), a base tree's
code against this tree's:

    python -m sim.bench_ab_sp --base /work/wt/SP-base [--rounds 7] [--end 900] [--policy adaptive]
        [--sumocfg sim/scenarios/city/city.sumocfg]

`--base`: a worktree of the start-of-session commit; its sim/roadside.py, sim/field.py and
controller/adapters/metrics.py are loaded beside this tree's. Parts:
(1) the roadside simulator: every junction's plans received and seconds ticked, in the run's
    order, on fresh RoadsideControllers, with what the field reads of each tick (the signal
    state, and the status fields it compares to decide whether to send one: base builds the
    status, this tree reads `status_key`);
(2) the field's entry count (SumoField._count_entries) over every step's loop hits;
(3) ServiceMetrics: every tick_done of the run on a fresh exporter, then the run report and the
    exposition of its registry (wall-clock series and `_created` stamps left out);
(4) the in-process plans: every plan the field received, its message built and read back (base:
    encode_command then decode_command) or handed over as it is (this tree: ControllerService.hand_over).
Blocks alternate base/mine per round; CPU time (process_time); medians over rounds. Every
block's output must equal the first one's (the states, statuses, counts, report and exposition),
else it stops. CPU time in one process is what a loaded machine disturbs least.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest

from controller.adapters import metrics as metrics_mine
from controller.config import Config, load_config
from sim import field as field_mine
from sim import roadside as roadside_mine
from sim.bench_ab_parts import _load, compare, recording

if TYPE_CHECKING:
    from controller.adapters.metrics import ServiceMetrics
    from controller.core.step import CoreState, TickResult
    from controller.model import Command
    from sim.field import SumoField
    from sim.roadside import RoadsideController

ROOT = Path(__file__).resolve().parents[1]
WALL_CLOCK = ("tsc_tick_duration_seconds", "tsc_metrics_update_seconds")


class Recorded:
    """The inputs of one run: per junction the roadside's calls, per step the loop hits and the
    vehicles' classes, every tick_done call."""

    def __init__(self) -> None:
        self.junctions: dict[str, Any] = {}
        self.roadside: dict[str, list[tuple[Any, ...]]] = {}
        self.hits: list[list[tuple[int, tuple[str, ...]]]] = []
        self.loops: tuple[tuple[str, bool, str], ...] = ()
        self.classes: dict[str, str] = {}
        self.ticks: list[tuple[Any, ...]] = []

    def record(self, cfg: Config, sumocfg: Path, policy: str, end_s: int) -> None:
        from sim.simulate import SimulateRequest, run

        rc_cls, sf_cls, sm_cls = roadside_mine.RoadsideController, field_mine.SumoField, metrics_mine.ServiceMetrics
        receive, tick, count = rc_cls.receive, rc_cls.tick, sf_cls._count_entries
        class_of, tick_done = sf_cls._class_of_vehicle, sm_cls.tick_done
        rec = self

        def rec_receive(self: RoadsideController, cmd: Command, now_s: float, epoch: int = 0) -> str:
            rec.roadside.setdefault(self.j.id, []).append(("receive", cmd, now_s, epoch))
            return receive(self, cmd, now_s, epoch)

        def rec_tick(self: RoadsideController, now_s: float, phase: int | None, spent_s: float) -> str | None:
            rec.junctions[self.j.id] = self.j
            rec.roadside.setdefault(self.j.id, []).append(("tick", now_s, phase, spent_s))
            return tick(self, now_s, phase, spent_s)

        def rec_count(self: SumoField, hits: list[tuple[int, tuple[str, ...]]]) -> Any:
            if not rec.loops:
                owner = {id(c): jid for jid, c in self.crossed.items()}
                rec.loops = tuple((did, stop, owner[id(c)]) for did, stop, c in self._loops)
            rec.hits.append(list(hits))
            return count(self, hits)

        def rec_class(self: SumoField, vid: str, detector: str) -> str:
            cls = rec.classes[vid] = class_of(self, vid, detector)
            return cls

        def rec_tick_done(self: ServiceMetrics, state: CoreState, result: TickResult, now_s: float, d_s: float) -> None:
            rec.ticks.append((state, result, now_s, d_s))
            tick_done(self, state, result, now_s, d_s)

        patches = ((rc_cls, "receive", rec_receive), (rc_cls, "tick", rec_tick), (sf_cls, "_count_entries", rec_count))
        with recording(*patches, (sf_cls, "_class_of_vehicle", rec_class), (sm_cls, "tick_done", rec_tick_done)):
            req = SimulateRequest(sumocfg, Path(tempfile.mkdtemp()), policy, ("--seed", "1", "--end", str(end_s)))
            run(req, cfg, progress=lambda _line: None)


def _exposition(reg: CollectorRegistry) -> list[str]:
    text = generate_latest(reg).decode()
    return sorted(
        line for line in text.splitlines() if "_created" not in line and not any(w in line for w in WALL_CLOCK)
    )


def blocks(rec: Recorded, cfg: Config, base: Path) -> dict[str, Callable[[str], tuple[float, Any]]]:
    """Per part, a block that runs it over the recorded inputs with `which` code; (CPU s, output)."""
    rs = {"mine": roadside_mine, "base": _load("roadside_base", base / "sim/roadside.py")}
    fd = {"mine": field_mine, "base": _load("field_base", base / "sim/field.py")}
    mt = {"mine": metrics_mine, "base": _load("metrics_base", base / "controller/adapters/metrics.py")}

    def roadside(which: str) -> tuple[float, Any]:
        controllers = {jid: rs[which].RoadsideController(j, cfg.roadside.backup_s) for jid, j in rec.junctions.items()}
        keyed = which == "mine"
        out = []
        t0 = time.process_time()
        for jid, calls in rec.roadside.items():
            rc = controllers[jid]
            for call in calls:
                if call[0] == "receive":
                    out.append(rc.receive(call[1], call[2], call[3]))
                    continue
                state = rc.tick(call[1], call[2], call[3])
                if keyed:
                    key = rc.status_key()
                else:
                    st = rc.status(call[1])
                    key = (st.phase, st.in_intergreen, st.mode, st.plan_id, st.seq, st.faults, st.program)
                out.append((state, key))
        return time.process_time() - t0, out

    def entries(which: str) -> tuple[float, Any]:
        f = object.__new__(fd[which].SumoField)
        f.crossed = {jid: {} for _did, _stop, jid in rec.loops}
        f._loops = tuple((did, stop, f.crossed[jid]) for did, stop, jid in rec.loops)
        f._on_loop = {}
        classes = rec.classes
        f._class_of_vehicle = lambda vid, _did: classes[vid]
        t0 = time.process_time()
        out = [f._count_entries(hits) for hits in rec.hits]
        return time.process_time() - t0, (out, f.crossed)

    def plans(which: str) -> tuple[float, Any]:
        from controller.core.messages import decode_command, encode_command

        cmds = [c[1] for calls in rec.roadside.values() for c in calls if c[0] == "receive"]
        t0 = time.process_time()
        out = [decode_command(encode_command(c, 0)) for c in cmds] if which == "base" else list(cmds)
        return time.process_time() - t0, out

    def metrics(which: str) -> tuple[float, Any]:
        reg = CollectorRegistry()
        m = mt[which].ServiceMetrics(reg, rec.junctions, cfg)
        t0 = time.process_time()
        for state, result, now_s, duration_s in rec.ticks:
            m.tick_done(state, result, now_s, duration_s)
        dt = time.process_time() - t0
        return dt, (repr(m.report()), _exposition(reg))

    return {
        "roadside: ticks, plans, status key": roadside,
        "field: entry count": entries,
        "metrics: tick_done": metrics,
        "in-process plans: message built and read / handed over": plans,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="worktree of the start-of-session commit")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--end", type=int, default=900, help="simulated seconds of the recorded run")
    ap.add_argument("--policy", default="adaptive")
    ap.add_argument("--sumocfg", type=Path, default=ROOT / "sim/scenarios/city/city.sumocfg")
    args = ap.parse_args(argv)
    cfg = load_config(ROOT / "config.toml")
    rec = Recorded()
    rec.record(cfg, args.sumocfg, args.policy, args.end)
    calls = sum(len(c) for c in rec.roadside.values())
    print(
        f"recorded ({args.sumocfg.name}, {args.policy}, {args.end} s): {calls} roadside calls, "
        f"{len(rec.hits)} steps of loop hits, {len(rec.ticks)} metric ticks"
    )
    compare(blocks(rec, cfg, args.base), args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark (issue 12, session 8): A/B in one process of the parts S changed, on inputs recorded
from one city adaptive run (seed 1, 900 s), the start-of-session code against this tree's:

    python -m sim.bench_ab_parts --base /tmp/S8-base [--rounds 7]

`--base`: a worktree of c67ca0b (`git worktree add --detach /tmp/S8-base c67ca0b`); its
controller/core/safety.py, step.py and controller/adapters/metrics.py are loaded beside this
tree's. Parts: (1) step.Core._gate + _send per junction tick, (2) step._red_since per junction
tick (c67ca0b's per-phase masks rebuilt from the positions), (3) ServiceMetrics.tick_done per
tick, and the same with the junction refreshes left out. Blocks alternate base/mine per round;
CPU time (process_time); medians over rounds. Every block's output must equal the first one's
(the commands, sequence numbers, refusals and clips; the red times; the metrics' run report;
the per-junction mode state), else it stops. Tied to c67ca0b's signatures (Core._gate's, ServiceMetrics'); the
red times' input is given in either form, c67ca0b's masks or the positions of later trees (session 61).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from unittest import mock

from prometheus_client import CollectorRegistry

from controller.adapters import metrics as metrics_mine
from controller.config import Config, load_config
from controller.core import safety as safety_mine
from controller.core import step as step_mine
from controller.core.policies import make_policy

if TYPE_CHECKING:
    from controller.adapters.metrics import ServiceMetrics
    from controller.core.estimation import Layout
    from controller.core.safety import GateOutcome
    from controller.core.step import Core, CoreState, JunctionState, TickResult
    from controller.model import Intersection, SignalStatus

ROOT = Path(__file__).resolve().parents[1]
Junctions = Mapping[str, "Intersection"]


@contextmanager
def recording(*patches: tuple[object, str, object]) -> Iterator[None]:
    """Each (owner: a class or module, name, new function) patched in for the block and put back on
    the way out, whatever happens (unittest.mock.patch.object): the A/B scripts record a run's calls so."""
    with ExitStack() as stack:
        for owner, name, new in patches:
            stack.enter_context(mock.patch.object(owner, name, new))
        yield


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: cannot load")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


class Recorded:
    """The inputs of one run: every _gate call, every _red_since call, every tick_done call."""

    def __init__(self) -> None:
        self.gate: list[tuple[Any, ...]] = []
        self.red: list[tuple[Any, ...]] = []
        self.ticks: list[tuple[Any, ...]] = []
        self.junctions: Junctions = {}

    def record(self, cfg: Config) -> None:
        from sim.simulate import SimulateRequest, run

        core, metrics, red = step_mine.Core, metrics_mine.ServiceMetrics, step_mine._red_since
        gate, tick, init = core._gate, metrics.tick_done, metrics.__init__
        rec = self

        def rec_gate(self: Core, jid: str, lay: Layout, js: JunctionState, *rest: Any) -> GateOutcome | None:
            rec.gate.append((jid, lay, step_mine._evolve(js, estimate=None, harm=None, policy_state=None), *rest[:3]))
            return gate(self, jid, lay, js, *rest)

        def rec_red(
            served: tuple[tuple[int, ...], ...], status: SignalStatus | None, prev: tuple[float, ...], now_s: float
        ) -> tuple[float, ...]:
            rec.red.append((served, status, prev, now_s))
            return red(served, status, prev, now_s)

        def rec_tick(self: ServiceMetrics, state: CoreState, result: TickResult, now_s: float, dur_s: float) -> None:
            rec.ticks.append((state, result, now_s, dur_s))
            tick(self, state, result, now_s, dur_s)

        def rec_init(self: ServiceMetrics, reg: CollectorRegistry, js: Junctions, cfg: Config, **kw: Any) -> None:
            rec.junctions = js
            init(self, reg, js, cfg, **kw)

        patches = ((core, "_gate", rec_gate), (step_mine, "_red_since", rec_red), (metrics, "tick_done", rec_tick))
        with recording(*patches, (metrics, "__init__", rec_init)):
            sumocfg = ROOT / "sim/scenarios/city/city.sumocfg"
            req = SimulateRequest(sumocfg, Path(tempfile.mkdtemp()), "adaptive", ("--seed", "1", "--end", "900"))
            run(req, cfg, progress=lambda _line: None)


def _core(mod: ModuleType, memo: type, cfg: Config) -> Any:
    c = object.__new__(mod.Core)
    c.policy, c.plan_ttl_s, c.refresh_s = make_policy("adaptive", cfg), cfg.roadside.plan_ttl_s, cfg.roadside.refresh_s
    c.gate_memo = memo()
    return c


def _takes_positions(red_since: Callable[..., Any], calls: list[tuple[Any, ...]]) -> bool:
    """Whether a base's _red_since reads the served movements as this tree's does (per phase, their positions),
    not as c67ca0b's (per phase, a mask over the movements): it gives this tree's red times on the recorded calls."""
    try:
        return all(red_since(*a) == step_mine._red_since(*a) for a in calls[:200])
    except Exception:  # the other form may not even read
        return False


def blocks(rec: Recorded, cfg: Config, base: Path) -> dict[str, Callable[[str], tuple[float, Any]]]:
    """Per part, a block that runs it over the recorded inputs with `which` code; (CPU s, output)."""
    safety_base = _load("safety_base", base / "controller/core/safety.py")
    step_base = _load("step_base", base / "controller/core/step.py")
    vars(step_base).update(gate_phase=safety_base.gate_phase, gate_cycle=safety_base.gate_cycle)  # the base's gate
    metrics_base = _load("metrics_base", base / "controller/adapters/metrics.py")
    steps = {"base": step_base, "mine": step_mine}
    cores = {"base": _core(step_base, safety_base.GateMemo, cfg), "mine": _core(step_mine, safety_mine.GateMemo, cfg)}
    masks = {}  # c67ca0b's form of the served movements: per phase, per movement, served
    for served, _status, prev, _now_s in rec.red:
        masks[served] = tuple(tuple(i in set(pos) for i in range(len(prev))) for pos in served)
    if _takes_positions(step_base._red_since, rec.red):  # a base after c67ca0b: the served positions, as this tree
        masks = {served: served for served in masks}

    def gate(which: str) -> tuple[float, Any]:
        mod, core, out = steps[which], cores[which], []
        t0 = time.process_time()
        for jid, lay, js, wish, view, now_s in rec.gate:
            log = mod._TickLog()
            new = core._send(jid, js, core._gate(jid, lay, js, wish, view, now_s, log.refusals), now_s, log)
            out.append((new.command, new.seq, new.plans, new.sent_s, tuple(log.commands), log.refusals, log.clips))
        return time.process_time() - t0, out

    def red(which: str) -> tuple[float, Any]:
        f, mine = steps[which]._red_since, which == "mine"
        t0 = time.process_time()
        out = [f(served if mine else masks[served], status, prev, now_s) for served, status, prev, now_s in rec.red]
        return time.process_time() - t0, out

    def tick_done(which: str, refresh: bool = True) -> tuple[float, Any]:
        mod = metrics_base if which == "base" else metrics_mine
        m = mod.ServiceMetrics(CollectorRegistry(), rec.junctions, cfg)
        if not refresh:  # the refresh's bookkeeping only, the same for both

            def bookkeeping(due: list[tuple[Any, Any, Any]], now_s: float) -> None:
                for _i, j, _s in due:
                    j.next_update_s = max(j.next_update_s + m.params.update_s, now_s + 1e-9)

            m._refresh, m._network = bookkeeping, lambda now_s: None
        t0 = time.process_time()
        for a in rec.ticks:
            m.tick_done(*a)
        dt = time.process_time() - t0
        if refresh:
            return dt, m.report()
        return dt, [(j.mode, j.harm_switches, j.held_key, j.held_keep, len(j.pending)) for j in m._j.values()]

    return {
        "step: _gate + _send": gate,
        "step: red times": red,
        "metrics: tick_done": tick_done,
        "metrics: tick_done, refreshes left out": lambda which: tick_done(which, refresh=False),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="worktree of the start-of-session commit")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    cfg = load_config(ROOT / "config.toml")
    rec = Recorded()
    rec.record(cfg)
    print(f"recorded: {len(rec.gate)} gate calls, {len(rec.red)} red-time calls, {len(rec.ticks)} metric ticks")
    parts = blocks(rec, cfg, args.base)
    compare(parts, args.rounds)
    return 0


def compare(parts: dict[str, Any], rounds: int) -> None:
    """Each block run `rounds` times per side, the sides' order alternating; stops when a block's
    output differs between the sides; prints the table of median CPU seconds and ratios."""
    res: dict[str, dict[str, list[float]]] = {}
    ref: dict[str, Any] = {}
    for r in range(rounds):
        for which in ("base", "mine") if r % 2 == 0 else ("mine", "base"):
            for name, block in parts.items():
                gc.collect()
                dt, out = block(which)
                res.setdefault(name, {}).setdefault(which, []).append(dt)
                if ref.setdefault(name, out) != out:
                    raise SystemExit(f"{name}: {which}'s output differs")
    print(f"rounds: {rounds}; base and mine gave the same output in every block")
    print("| part (CPU s over the run) | base | mine | mine/base (median of per-round ratios) |")
    print("|---|---:|---:|---:|")
    for name, d in res.items():
        ratio = statistics.median(m / b for b, m in zip(d["base"], d["mine"]))
        print(f"| {name} | {statistics.median(d['base']):.4f} | {statistics.median(d['mine']):.4f} | {ratio:.2f} |")


if __name__ == "__main__":
    sys.exit(main())

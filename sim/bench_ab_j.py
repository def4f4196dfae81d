"""Benchmark (issue 12, session 9, J; session 61, M: timed where the work is): A/B in one process of max-pressure's
decision and step._view, on inputs recorded from one city adaptive run (seed 1, 900 s), a base tree's code against
this tree's:

    python -m sim.bench_ab_j --base /work/wt/J-base [--rounds 7] [--end 900]

`--base`: a worktree of the start-of-session commit; its max_pressure.py and max_pressure_net.py (the latter bound
to the former: the pass builds on it) and step.py are loaded beside this tree's. Parts: (1) max_pressure's network
pass (NetPressure.decide_all), every tick of the run in order, on the states, estimates and signal views the run
gave it; (2) max_pressure's decide, per junction on the same inputs (what a junction the pass leaves out runs, and
every junction with a key the pass does not apply: Policy.network_decision); (3) step._view per junction tick.
Until session 61 the run was recorded at decide() and at the in-process plan decode, which the core's network pass
and the in-process hand-over bypass: the two parts timed nothing ("0 decide calls"). The recording must replay:
this tree's pass given the recorded inputs gives the run's wishes, and so does its decide(), else it stops.
Blocks alternate base/mine per round; CPU time (process_time); medians over rounds. Every block's output must
equal the first one's, else it stops. CPU time in one process is what a loaded machine disturbs least: both sides
share the same load.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from controller.config import Config, load_config
from controller.core import step as step_mine
from controller.core.policies import max_pressure as mp_mine
from controller.core.policies import max_pressure_net as net_mine
from sim.bench_ab_parts import _load, compare, recording

if TYPE_CHECKING:
    from controller.core.estimation import Estimate, Layout
    from controller.core.policies.max_pressure import MaxPressureState
    from controller.core.policies.max_pressure_net import NetPressure
    from controller.core.safety import SignalView
    from controller.model import PhaseWish, SignalStatus

ROOT = Path(__file__).resolve().parents[1]
Tick = tuple[list[Any], list[Any], list[Any], float]  # the pass's states, estimates, signal views, now_s


class Recorded:
    """The inputs of one run: every network pass call (its states, estimates, views, time) and what it gave, the
    junctions' layouts in the pass's order, every _view call."""

    def __init__(self) -> None:
        self.jids: tuple[str, ...] = ()
        self.layouts: list[Layout] = []
        self.ticks: list[Tick] = []
        self.wishes: list[list[PhaseWish | None]] = []
        self.views: list[tuple[Any, ...]] = []

    def record(self, cfg: Config, end_s: int) -> None:
        from sim.simulate import SimulateRequest, run

        decide_all, view = net_mine.NetPressure.decide_all, step_mine._view
        rec = self

        def rec_decide_all(
            self: NetPressure,
            states: Sequence[MaxPressureState],
            estimates: Sequence[Estimate],
            signals: Sequence[SignalView | None],
            now_s: float,
        ) -> list[tuple[MaxPressureState, PhaseWish | None]]:
            rec.jids, rec.layouts = self.jids, list(self.layouts)
            out = decide_all(self, states, estimates, signals, now_s)
            rec.ticks.append((list(states), list(estimates), list(signals), now_s))
            rec.wishes.append([wish for _state, wish in out])
            return out

        def rec_view(
            status: SignalStatus | None, red_since: tuple[float, ...], now_s: float, *rest: Any
        ) -> SignalView | None:
            rec.views.append((status, red_since, now_s, *rest))
            return view(status, red_since, now_s, *rest)

        with recording((net_mine.NetPressure, "decide_all", rec_decide_all), (step_mine, "_view", rec_view)):
            sumocfg = ROOT / "sim/scenarios/city/city.sumocfg"
            req = SimulateRequest(sumocfg, Path(tempfile.mkdtemp()), "adaptive", ("--seed", "1", "--end", str(end_s)))
            run(req, cfg, progress=lambda _line: None)
        if not self.ticks:
            raise SystemExit("recorded no network pass: adaptive decided junction by junction (a [max_pressure] key)")


def base_modules(base: Path) -> tuple[ModuleType, ModuleType]:
    """The base tree's max_pressure.py and its max_pressure_net.py, the latter importing the former (not this
    tree's: the pass builds on the policy's module)."""
    mp_base = _load("max_pressure_base", base / "controller/core/policies/max_pressure.py")
    name = mp_mine.__name__
    sys.modules[name] = mp_base
    try:
        net_base = _load("max_pressure_net_base", base / "controller/core/policies/max_pressure_net.py")
    finally:
        sys.modules[name] = mp_mine
    return mp_base, net_base


def _passes(rec: Recorded, cfg: Config, base: Path) -> dict[str, Callable[[], NetPressure]]:
    """Per side, a builder of its network pass over the recorded junctions."""
    mp_base, net_base = base_modules(base)
    lays = dict(zip(rec.jids, rec.layouts))
    mods = {"mine": (mp_mine, net_mine), "base": (mp_base, net_base)}

    def build(which: str) -> Callable[[], NetPressure]:
        mp, net = mods[which]
        return lambda: net.NetPressure.build(mp.MaxPressurePolicy(cfg.max_pressure), lays)

    return {which: build(which) for which in mods}


def blocks(rec: Recorded, cfg: Config, base: Path) -> dict[str, Callable[[str], tuple[float, Any]]]:
    """Per part, a block that runs it over the recorded inputs with `which` code; (CPU s, output)."""
    passes = _passes(rec, cfg, base)
    mp = {"mine": mp_mine, "base": sys.modules["max_pressure_base"]}
    stp = {"mine": step_mine, "base": _load("step_base", base / "controller/core/step.py")}

    def network_pass(which: str) -> tuple[float, Any]:
        net = passes[which]()
        t0 = time.process_time()
        out = [[wish for _state, wish in net.decide_all(*tick)] for tick in rec.ticks]
        return time.process_time() - t0, out

    def decide(which: str) -> tuple[float, Any]:
        policy = mp[which].MaxPressurePolicy(cfg.max_pressure)
        t0 = time.process_time()
        out = []
        for states, estimates, signals, now_s in rec.ticks:
            row = zip(states, rec.layouts, estimates, signals)
            out.append([policy.decide(st, lay, est, sig, now_s)[1] for st, lay, est, sig in row])
        return time.process_time() - t0, out

    def view(which: str) -> tuple[float, Any]:
        f = stp[which]._view
        arity = len(inspect.signature(f).parameters)  # a base before crossing_red_since (session 61) takes three
        t0 = time.process_time()
        out = [f(*a[:arity]) for a in rec.views]
        return time.process_time() - t0, out

    return {"max_pressure's pass (decide_all)": network_pass, "max_pressure decide": decide, "step _view": view}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="worktree of the start-of-session commit")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--end", type=int, default=900, help="simulated seconds of the recorded run")
    args = ap.parse_args(argv)
    cfg = load_config(ROOT / "config.toml")
    rec = Recorded()
    rec.record(cfg, args.end)
    print(f"recorded: {len(rec.ticks)} network passes over {len(rec.jids)} junctions, {len(rec.views)} views")
    parts = blocks(rec, cfg, args.base)
    if parts["max_pressure's pass (decide_all)"]("mine")[1] != rec.wishes:
        raise SystemExit("the recorded inputs do not replay the run: this tree's pass gives other wishes")
    if parts["max_pressure decide"]("mine")[1] != rec.wishes:
        raise SystemExit("this tree's decide() gives other wishes than its pass (Policy.network_decision's contract)")
    compare(parts, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

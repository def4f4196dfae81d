"""Benchmark (issue 12, session 9, J): A/B in one process of the parts J changed, on inputs
recorded from one city adaptive run (seed 1, 900 s), a base tree's code against this tree's:

    python -m sim.bench_ab_j --base /work/wt/J-base [--rounds 7] [--end 900]

`--base`: a worktree of the start-of-session commit; its max_pressure.py and step.py are loaded
beside this tree's. Parts: (1) max_pressure's decide, every junction tick of the run in order,
each junction from its policy's initial state (the wishes and the last state's box are the
output); (2) step._view per junction tick; (3) messages.decode_command on every plan the
service encodes (the same code on both sides: what decoding them in process cost until session
11, when the in-process loop started handing the command itself to the field). Blocks
alternate base/mine per round; CPU time (process_time); medians over rounds. Every block's
output must equal the first one's, else it stops. CPU time in one process is what a loaded
machine disturbs least: both sides share the same load.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.config import Config, load_config
from controller.core import step as step_mine
from controller.core.policies import max_pressure as mp_mine
from sim.bench_ab_parts import _load, compare, recording

if TYPE_CHECKING:
    from controller.core.estimation import Estimate, Layout
    from controller.core.messages import Signer
    from controller.core.network import NetworkView
    from controller.core.policies.max_pressure import MaxPressurePolicy, MaxPressureState
    from controller.core.safety import SignalView
    from controller.model import Command, PhaseWish, SignalStatus

ROOT = Path(__file__).resolve().parents[1]


class Recorded:
    """The inputs of one run: every decide call (by junction), every _view call, every plan decoded."""

    def __init__(self) -> None:
        self.decide: dict[str, list[tuple[Any, ...]]] = {}
        self.layouts: dict[str, Layout] = {}
        self.views: list[tuple[Any, ...]] = []
        self.plans: list[bytes] = []

    def record(self, cfg: Config, end_s: int) -> None:
        import controller.service as service_mod
        from controller.core.messages import encode_command as encode  # as controller.service imports it
        from sim.simulate import SimulateRequest, run

        pol, decide, view = mp_mine.MaxPressurePolicy, mp_mine.MaxPressurePolicy.decide, step_mine._view
        rec = self

        def rec_decide(
            self: MaxPressurePolicy,
            state: MaxPressureState,
            lay: Layout,
            est: Estimate,
            signal: SignalView | None,
            now_s: float,
            net: NetworkView | None = None,
        ) -> tuple[MaxPressureState, PhaseWish | None]:
            jid = lay.junction.id
            rec.layouts[jid] = lay
            rec.decide.setdefault(jid, []).append((est, signal, now_s))
            return decide(self, state, lay, est, signal, now_s, net)

        def rec_encode(cmd: Command, epoch: int = 0, signer: Signer | None = None) -> bytes:
            payload = encode(cmd, epoch, signer)  # the in-process loop no longer decodes: the payloads encoded
            rec.plans.append(payload)
            return payload

        def rec_view(status: SignalStatus | None, red_since: tuple[float, ...], now_s: float) -> SignalView | None:
            rec.views.append((status, red_since, now_s))
            return view(status, red_since, now_s)

        patches = (
            (pol, "decide", rec_decide),
            (service_mod, "encode_command", rec_encode),
            (step_mine, "_view", rec_view),
        )
        with recording(*patches):
            sumocfg = ROOT / "sim/scenarios/city/city.sumocfg"
            req = SimulateRequest(sumocfg, Path(tempfile.mkdtemp()), "adaptive", ("--seed", "1", "--end", str(end_s)))
            run(req, cfg, progress=lambda _line: None)


def blocks(rec: Recorded, cfg: Config, base: Path) -> dict[str, Callable[[str], tuple[float, Any]]]:
    """Per part, a block that runs it over the recorded inputs with `which` code; (CPU s, output)."""
    mp = {"mine": mp_mine, "base": _load("max_pressure_base", base / "controller/core/policies/max_pressure.py")}
    stp = {"mine": step_mine, "base": _load("step_base", base / "controller/core/step.py")}

    def decide(which: str) -> tuple[float, Any]:
        policy = mp[which].MaxPressurePolicy(cfg.max_pressure)
        states = {jid: policy.init(rec.layouts[jid], 0.0) for jid in rec.decide}
        out = []
        t0 = time.process_time()
        for jid, calls in rec.decide.items():
            lay, st = rec.layouts[jid], states[jid]
            wishes = []
            for est, signal, now_s in calls:
                st, wish = policy.decide(st, lay, est, signal, now_s)
                wishes.append(wish)
            out.append((wishes, st.phase, st.boxed.tolist()))
        return time.process_time() - t0, out

    def plans(which: str) -> tuple[float, Any]:
        from controller.core.messages import decode_command

        t0 = time.process_time()
        out = [decode_command(p) for p in rec.plans]
        return time.process_time() - t0, out

    def view(which: str) -> tuple[float, Any]:
        f = stp[which]._view
        t0 = time.process_time()
        out = [f(*a) for a in rec.views]
        return time.process_time() - t0, out

    return {"max_pressure decide": decide, "step _view": view, "in-process plans: decode_command (same code)": plans}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="worktree of the start-of-session commit")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--end", type=int, default=900, help="simulated seconds of the recorded run")
    args = ap.parse_args(argv)
    cfg = load_config(ROOT / "config.toml")
    rec = Recorded()
    rec.record(cfg, args.end)
    calls = sum(len(c) for c in rec.decide.values())
    print(f"recorded: {calls} decide calls, {len(rec.views)} views, {len(rec.plans)} plans decoded")
    parts = blocks(rec, cfg, args.base)
    compare(parts, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

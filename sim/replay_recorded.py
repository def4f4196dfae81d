"""The plans that were really in force, re-sent to SUMO's roadside controllers at their
recorded times (one process per run: `python -m sim.replay_recorded SUMOCFG --out DIR ...`).

The controller still runs (policy `fixed`, its own plans discarded) so that the rebuilt feeds
are validated and recorded exactly as the live service records them (`--record`). Where the
recording has no plan for a junction, its roadside runs its own program, as it did.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller.adapters.archive import read_archive
from controller.adapters.metrics import ServiceMetrics
from controller.config import Config, load_config
from controller.core.messages import decode_command
from controller.errors import FeedError, TscError
from controller.model import Command, Intersection
from controller.service import Recorder
from sim.field import SumoField
from sim.simulate import InProcessLoop, SimulateRequest, run

log = logging.getLogger(__name__)


def recorded_plans(site: Path, from_s: float, to_s: float, offset_s: float) -> list[tuple[float, Command]]:
    """(scenario time, command) of every plan sent in the window, times shifted by -offset_s."""
    table = read_archive(site, "plans", from_s, to_s)
    out = []
    for t_s, payload in zip(table["t_s"].to_pylist(), table["payload"].to_pylist()):
        try:
            cmd = decode_command(payload)
        except FeedError as exc:
            log.warning("recorded plan at t=%.0f unreadable (%s): skipped", t_s, exc)
            continue
        if offset_s:
            cmd = dataclasses.replace(cmd, valid_from_s=cmd.valid_from_s - offset_s, expires_s=cmd.expires_s - offset_s)
        out.append((t_s - offset_s, cmd))
    return out


class RecordedPlansLoop:
    """A ClosedLoop (sim/simulate.py) whose plans come from the recording, not from a policy."""

    def __init__(
        self,
        field: SumoField,
        junctions: dict[str, Intersection],
        cfg: Config,
        policy: str,
        begin_s: float,
        *,
        plans: list[tuple[float, Command]],
        metrics: ServiceMetrics | None = None,
        archive: Recorder | None = None,
    ) -> None:
        # the recorded plans replace the policy's
        self.inner = InProcessLoop(
            field, junctions, cfg, "fixed", begin_s, metrics=metrics, archive=archive, plans_to_field=False
        )
        self.field = field
        self.plans = [(t, c) for t, c in plans if c.junction in junctions]
        self._next = 0
        self.plans_sent = 0

    @property
    def rejected(self) -> Mapping[str, int]:
        return self.inner.rejected

    def start(self, begin_s: float) -> None:
        self._send(begin_s)
        self.inner.start(begin_s)

    def _send(self, t_s: float) -> None:
        while self._next < len(self.plans) and self.plans[self._next][0] <= t_s:
            self.field.receive(self.plans[self._next][1], t_s)
            self._next += 1
            self.plans_sent += 1

    def second(self, t_s: float) -> None:
        self._send(t_s)
        self.inner.second(t_s)

    def close(self) -> None:
        self.inner.close()

    def summary(self) -> dict[str, Any]:
        return {"recorded_plans": len(self.plans)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.replay_recorded", description=__doc__.split("\n")[0])
    p.add_argument("sumocfg", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--intersections", type=Path, required=True)
    p.add_argument("--archive", type=Path, required=True, help="the recording's site folder")
    p.add_argument("--from", dest="t_from", type=float, required=True)
    p.add_argument("--to", dest="t_to", type=float, required=True)
    p.add_argument("--offset", type=float, default=0.0)
    p.add_argument("--record", type=Path, default=None)
    p.add_argument("--config", default=None)
    argv = list(sys.argv[1:] if argv is None else argv)
    sumo_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        cfg = load_config(args.config)
        plans = recorded_plans(args.archive, args.t_from, args.t_to, args.offset)

        def factory(
            field: SumoField,
            junctions: dict[str, Intersection],
            cfg: Config,
            policy: str,
            begin_s: float,
            *,
            metrics: ServiceMetrics | None = None,
            archive: Recorder | None = None,
        ) -> RecordedPlansLoop:
            return RecordedPlansLoop(
                field, junctions, cfg, policy, begin_s, plans=plans, metrics=metrics, archive=archive
            )

        req = SimulateRequest(
            sumocfg=args.sumocfg,
            out_dir=args.out,
            policy="fixed",
            sumo_args=tuple(sumo_args),
            intersections=args.intersections,
            record=args.record,
        )
        summary = run(req, cfg, loop_factory=factory)
    except TscError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary["policy"] = "recorded"
    (args.out / "summary.json").write_text(__import__("json").dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

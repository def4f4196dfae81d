"""The validation gate in a simulated run: `simulate` with `[validation] enabled` (docs/validation.md).

The live service runs the twin beside its 1 Hz loop and takes the verdict when the twin is done,
seconds to a minute of wall time later. A simulated run goes 30-100x faster than real time: a
twin left running beside it would answer tens of simulated minutes late. Here the gate waits for
the twin when it starts one (the simulation stands still meanwhile), so its verdict is taken one
simulated second after it was asked: the live service's verdict without its latency (the live
one comes later by the twin's wall time, at most `policy_timeout_s`). The timeouts stay the
gate's, in wall seconds, as live.

The twin runs the scenario's own network with the signal programs and vehicle types of the
files SUMO loads (`[validation] network` names the live city's network; a simulated run is its
own city). Everything the desk validates live is validated here: do no harm's returns (`[harm]
validate_return`), a cyclic policy's plans above the thresholds, the policy in force again
(`revalidate_s`, `revalidate_shift`). What each verdict was is kept (`WaitingGate.verdicts`) and
summed into summary.json's `validation`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.config import Config
from controller.core.validation import Verdict
from controller.model import VEHICLE_CLASSES, Intersection
from controller.operators import OperatorDesk
from controller.validation import Candidate, DeskValidation, Pending, RecentCounts, ValidationGate


@dataclass(frozen=True)
class Judged:
    """One verdict of the gate in a simulated run."""

    t_s: float  # simulated time it was given
    junction: str
    who: str  # who asked: do_no_harm's return, revalidation, the policy's plans
    outcome: str  # passed, rejected, unvalidated
    twin_s: float  # the twin's own wall time (0: never ran)


class WaitingGate(ValidationGate):
    """The validation gate that waits for each twin it starts (up to its timeout): the next poll
    gives the verdict. Keeps every verdict given (`verdicts`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verdicts: list[Judged] = []

    def start_checked(
        self,
        junction: str,
        candidate: Candidate,
        incumbent: Candidate | None,
        request: Any,
        who: str,
        now_s: float,
        safety: str,
    ) -> Pending | Verdict:
        out = super().start_checked(junction, candidate, incumbent, request, who, now_s, safety)
        if isinstance(out, Pending):
            limit_s, _ = self.timeout(out.candidate)
            out.conn.poll(max(0.0, limit_s - (self.clock() - out.started)))  # the answer, or the timeout
        return out

    def _done(
        self,
        verdict: Verdict,
        junction: str,
        who: str,
        candidate: Candidate,
        incumbent: Candidate | None,
        twin_s: float,
        now_s: float,
    ) -> Verdict:
        self.verdicts.append(Judged(now_s, junction, who, verdict.outcome, twin_s))
        return super()._done(verdict, junction, who, candidate, incumbent, twin_s, now_s)

    def report(self) -> dict[str, Any]:
        """Verdicts by who asked and outcome, and the twins' summed wall time (s)."""
        counts: dict[str, dict[str, int]] = {}
        for v in self.verdicts:
            per = counts.setdefault(v.who, {})
            per[v.outcome] = per.get(v.outcome, 0) + 1
        return {
            "verdicts": counts,
            "twin_wall_s": round(sum(v.twin_s for v in self.verdicts), 1),
            "log": [[v.t_s, v.junction, v.who, v.outcome, round(v.twin_s, 1)] for v in self.verdicts],
        }


def scenario_files(paths: Sequence[Path]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Of the files SUMO loads, those with signal programs (tlLogic) and those with vehicle types
    (vType), as the twin's `programs` and `vtype_files`."""
    programs, vtypes = [], []
    for p in paths:
        text = Path(p).read_text(errors="replace")
        if "<tlLogic" in text:
            programs.append(str(Path(p).resolve()))
        if "<vType" in text:
            vtypes.append(str(Path(p).resolve()))
    return tuple(programs), tuple(vtypes)


@dataclass(frozen=True)
class SimTwin:
    """What `simulate` hands its loop: the recent counts the service keeps, the desk that runs
    the gate after each tick, and the gate (its verdicts)."""

    recent: RecentCounts
    desk: OperatorDesk
    gate: WaitingGate


def wire(
    cfg: Config, junctions: Mapping[str, Intersection], net_file: str, files: Sequence[Path], work_dir: Path
) -> SimTwin:
    """The validation gate of `cfg.validation` on the scenario's network (`net_file`, with the
    programs and vehicle types of `files`), its twins working in `work_dir`."""
    from sim.twin import RequestMaker, predict  # SUMO's tools load only when the twin is wanted
    from sim.twin_policy import PolicyRequestMaker, predict_policies

    v = cfg.validation
    recent = RecentCounts(v.window_s, VEHICLE_CLASSES)
    gate = WaitingGate(v, predict, predict_policy=predict_policies)
    programs, vtypes = scenario_files(files)
    work = str(work_dir.resolve())
    spacing_m = cfg.detectors.vehicle_spacing_m
    maker = RequestMaker(
        net_file,
        dict(junctions),
        recent,
        v.window_s,
        work,
        horizon_s=v.horizon_s,
        seed=v.seed,
        programs=programs,
        vtype_files=vtypes,
        mesoscopic=v.mesoscopic,
        vehicle_spacing_m=spacing_m,
    )
    policy_maker = PolicyRequestMaker(
        net_file,
        dict(junctions),
        recent,
        v.window_s,
        work,
        cfg,
        horizon_s=v.horizon_s,
        seed=v.seed,
        programs=programs,
        vtype_files=vtypes,
    )
    desk = OperatorDesk(
        cfg.operators,
        ttl_s=cfg.roadside.plan_ttl_s,
        refresh_s=cfg.roadside.refresh_s,
        validation=DeskValidation(gate, maker, policy_maker),
    )
    return SimTwin(recent, desk, gate)

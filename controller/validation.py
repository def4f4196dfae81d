"""The validation gate (issue 14): a candidate cycle plan is checked by the safety gate, then run
against the plans in force in the SUMO twin, in a worker process of its own, before it may go out.

`ValidationGate.start` checks the candidate with the safety gate (core/validation.py
safety_refusal): a refused candidate gets its verdict at once and the twin never runs. Otherwise
it starts the twin's `predict(request)` in a new process (multiprocessing, spawn; the process
leads its own process group, so a timeout kills the twin's SUMO children too) and returns a
`Pending`. `poll` (non-blocking, from the tick's thread) gives the verdict once the twin is done,
or `unvalidated` once `timeout_s` (`policy_timeout_s` for a policy) has passed (the worker is
killed). `validate` does both, blocking (tools, tests). A policy change (`PolicyChoice`, checked
by `policy_refusal`) goes through `start_checked` and the gate's `predict_policy`.

Every verdict is appended to the audit store (kind `verdict`, actor: who asked): junction,
candidate, incumbent, outcome, reasons, predicted figures, twin wall time. Passed and rejected
verdicts count in the metrics plans_validated / plans_rejected_by_twin (a rejection by the
safety gate or a timeout is not the twin's); every twin started reports the wall time from its
start to its verdict (`twin_ran`: worker start, scenario, both runs; or up to its failure or
timeout). An operator's force of a rejected plan is recorded by `record_force` (kind `verdict`,
outcome `forced`, with the stated reason).

`predict` is a picklable function (sim/twin.py predict): the controller never imports SUMO.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol

from controller.config import Config, with_section
from controller.core.estimation import Layout
from controller.core.policies import REGISTRY, make_policy
from controller.core.validation import PolicyChoice, ValidationParams, Verdict, judge, safety_refusal
from controller.errors import ConfigError
from controller.model import CyclePlan, CycleWish, Intersection, Snapshot

log = logging.getLogger(__name__)

AUDIT_KIND = "verdict"


class AuditSink(Protocol):
    def append(self, kind: str, junction: str, actor: str, payload: Mapping[str, Any], t_s: float) -> int: ...


class TwinAnswer(Protocol):
    """What a twin's `predict` returns (sim/twin.py TwinResult): the two plans' predictions, and the
    wall time of its runs (s), audited as the verdict's twin_s."""

    @property
    def incumbent(self) -> Any: ...

    @property
    def candidate(self) -> Any: ...

    @property
    def run_s(self) -> float: ...


class TwinMetrics(Protocol):
    def plan_validated(self, junction: str) -> None: ...

    def plan_rejected_by_twin(self, junction: str) -> None: ...

    def twin_ran(self, seconds: float) -> None: ...


Candidate = CycleWish | PolicyChoice  # a cycle plan, or a policy with its parameters


def plan_dict(wish: Candidate | None) -> dict[str, Any] | None:
    """A cycle plan (or a policy with its parameters), JSON-ready."""
    if wish is None:
        return None
    if isinstance(wish, PolicyChoice):
        return wish.to_dict()
    return {"phase_order": list(wish.phase_order), "greens_s": list(wish.greens_s), "offset_s": wish.offset_s}


def _worker(predict: Callable[[Any], TwinAnswer], request: Any, conn: Connection) -> None:
    os.setpgrp()  # its own process group: a timeout kills it and the SUMO runs it started
    try:
        result = predict(request)
        conn.send(("ok", result.incumbent, result.candidate, float(result.run_s)))
    except Exception as exc:  # the gate reports it as `unvalidated`, naming it
        conn.send(("error", f"{type(exc).__name__}: {exc}", None, 0.0))
    finally:
        conn.close()


@dataclass
class Pending:
    """A twin run under way for one candidate."""

    junction: str
    who: str
    candidate: Candidate
    incumbent: Candidate | None
    process: Any  # multiprocessing.Process
    conn: Connection
    started: float  # the gate's monotonic clock
    context: dict[str, Any] = field(default_factory=dict)


class ValidationGate:
    """Not thread-safe: one thread starts and polls."""

    def __init__(
        self,
        params: ValidationParams,
        predict: Callable[[Any], TwinAnswer],
        *,
        audit: AuditSink | None = None,
        metrics: TwinMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        predict_policy: Callable[[Any], TwinAnswer] | None = None,
    ) -> None:
        """predict: the twin of a cycle plan (sim/twin.py predict); predict_policy: the twin of a
        policy change (sim/twin_policy.py predict_policies), None: policy changes unvalidated."""
        self.params = params
        self.predict = predict
        self.predict_policy = predict_policy
        self.audit = audit
        self.metrics = metrics
        self.clock = clock
        self._mp = mp.get_context("spawn")

    def start(
        self, j: Intersection, candidate: CycleWish, incumbent: CycleWish | None, request: Any, who: str, now_s: float
    ) -> Pending | Verdict:
        """The safety gate's verdict at once when it refuses the candidate, else the twin started."""
        return self.start_checked(j.id, candidate, incumbent, request, who, now_s, safety_refusal(j, candidate, now_s))

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
        """As start, for a candidate already checked (`safety`: '' or the rule it breaks): a
        policy change (PolicyChoice, checked by policy_refusal) runs the gate's `predict_policy`."""
        if safety:
            return self._done(judge(safety, None, None, self.params), junction, who, candidate, incumbent, 0.0, now_s)
        predict = self.predict_policy if isinstance(candidate, PolicyChoice) else self.predict
        if predict is None:
            return self.fail(junction, who, candidate, incumbent, "no twin for policy changes", now_s)
        parent, child = self._mp.Pipe(duplex=False)
        proc = self._mp.Process(target=_worker, args=(predict, request, child), daemon=True)
        proc.start()
        child.close()
        return Pending(junction, who, candidate, incumbent, proc, parent, self.clock())

    def poll(self, pending: Pending, now_s: float) -> Verdict | None:
        """The verdict once the twin is done or timed out; None while it runs."""
        waited = self.clock() - pending.started
        if pending.conn.poll():
            try:
                status, a, b, run_s = pending.conn.recv()
            except EOFError:
                status, a, b, run_s = "error", "the twin's worker died without an answer", None, 0.0
            self._reap(pending)
            if status == "ok":
                verdict = judge("", a, b, self.params)
            else:
                verdict = judge("", None, None, self.params, failure=str(a))
            return self._ran(verdict, pending, run_s or waited, now_s)
        if not pending.process.is_alive():
            self._reap(pending)
            verdict = judge("", None, None, self.params, failure="the twin's worker died without an answer")
            return self._ran(verdict, pending, waited, now_s)
        limit_s, key = self.timeout(pending.candidate)
        if waited < limit_s:
            return None
        self._kill(pending)
        verdict = judge("", None, None, self.params, failure=f"no prediction within {limit_s:g} s (validation.{key})")
        return self._ran(verdict, pending, waited, now_s)

    def timeout(self, candidate: Candidate) -> tuple[float, str]:
        """How long the twin of this candidate may take, and the config key that says so."""
        if isinstance(candidate, PolicyChoice):
            return self.params.policy_timeout_s, "policy_timeout_s"
        return self.params.timeout_s, "timeout_s"

    def _ran(self, verdict: Verdict, pending: Pending, twin_s: float, now_s: float) -> Verdict:
        """A verdict after the twin was started: the wall time from its start to this verdict is
        measured (metrics), then as _done (twin_s, the twin's own run time, is audited)."""
        if self.metrics is not None:
            self.metrics.twin_ran(self.clock() - pending.started)
        return self._done(verdict, pending.junction, pending.who, pending.candidate, pending.incumbent, twin_s, now_s)

    def validate(
        self,
        j: Intersection,
        candidate: CycleWish,
        incumbent: CycleWish | None,
        request: Any,
        who: str,
        now_s: float,
        poll_s: float = 0.05,
    ) -> Verdict:
        """start, then poll until the verdict (blocking: not for the tick's thread)."""
        return self.wait(self.start(j, candidate, incumbent, request, who, now_s), now_s, poll_s)

    def wait(self, out: Pending | Verdict, now_s: float, poll_s: float = 0.05) -> Verdict:
        """Poll a started twin until its verdict (blocking: not for the tick's thread)."""
        while isinstance(out, Pending):
            out.conn.poll(poll_s)
            out = self.poll(out, now_s) or out
        return out

    def cancel(self, pending: Pending) -> None:
        """Stop a twin run whose verdict is no longer wanted (its candidate was superseded)."""
        self._kill(pending)

    def _kill(self, pending: Pending) -> None:
        with contextlib.suppress(ProcessLookupError):  # its group: the SUMO runs it started
            os.killpg(pending.process.pid, signal.SIGKILL)
        pending.process.kill()  # itself, even before it made its group
        self._reap(pending)

    @staticmethod
    def _reap(pending: Pending) -> None:
        pending.process.join(timeout=5.0)
        pending.conn.close()

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
        log.warning(
            "validation junction=%s asked_by=%s outcome=%s reasons=%s",
            junction,
            who,
            verdict.outcome,
            " | ".join(verdict.reasons),
        )
        if self.metrics is not None and verdict.incumbent is not None and verdict.candidate is not None:
            if verdict.passed:
                self.metrics.plan_validated(junction)
            elif verdict.outcome == "rejected":
                self.metrics.plan_rejected_by_twin(junction)
        self._audit(
            junction,
            who,
            {
                "candidate": plan_dict(candidate),
                "incumbent": plan_dict(incumbent),
                "outcome": verdict.outcome,
                "reasons": list(verdict.reasons),
                "predicted": verdict.figures(),
                "twin_s": round(twin_s, 3),
            },
            now_s,
        )
        return verdict

    def fail(
        self, junction: str, who: str, candidate: Candidate, incumbent: Candidate | None, why: str, now_s: float
    ) -> Verdict:
        """`unvalidated`, recorded: the twin could not even be asked (its request failed)."""
        verdict = judge("", None, None, self.params, failure=why)
        return self._done(verdict, junction, who, candidate, incumbent, 0.0, now_s)

    def record_force(
        self, junction: str, who: str, candidate: Candidate, verdict: Verdict, reason: str, now_s: float
    ) -> None:
        """An operator puts a rejected candidate in force anyway: recorded with the stated reason."""
        if not reason.strip():
            raise ValueError("forcing a rejected plan needs a stated reason")
        self._audit(
            junction,
            who,
            {
                "candidate": plan_dict(candidate),
                "outcome": "forced",
                "force_reason": reason,
                "overrides": verdict.outcome,
                "reasons": list(verdict.reasons),
                "predicted": verdict.figures(),
            },
            now_s,
        )

    def _audit(self, junction: str, who: str, payload: dict[str, Any], now_s: float) -> None:
        if self.audit is None:
            return
        try:
            self.audit.append(AUDIT_KIND, junction, who, payload, now_s)
        except Exception:  # an audit failure must not stop the service; it is logged loudly
            log.exception("audit store refused a validation verdict junction=%s", junction)


# -- what the service hands the gate ---------------------------------------------------------
class RecentCounts:
    """The last `window_s` of loop counts by vehicle class, kept by the service from the valid
    detector messages (`add`), for the twin's demand (`totals`)."""

    def __init__(self, window_s: float, classes: tuple[str, ...]) -> None:
        if window_s <= 0:
            raise ValueError(f"RecentCounts window_s must be > 0, got {window_s}")
        self.window_s = window_s
        self.classes = classes
        self._rows: deque[tuple[float, str, tuple[int, ...]]] = deque()

    def add(self, snapshot: Snapshot) -> None:
        for r in snapshot.readings:
            if r.counts:
                per = dict(r.counts)
                self._rows.append((snapshot.t_s, r.detector, tuple(int(per.get(c, 0)) for c in self.classes)))
        self._trim(snapshot.t_s)

    def _trim(self, now_s: float) -> None:
        while self._rows and self._rows[0][0] <= now_s - self.window_s:
            self._rows.popleft()

    def totals(self, now_s: float) -> dict[str, tuple[int, ...]]:
        """Loop -> vehicles per class over (now_s - window_s, now_s]."""
        self._trim(now_s)
        out: dict[str, list[int]] = {}
        for t_s, loop, counts in self._rows:
            if t_s <= now_s:
                acc = out.setdefault(loop, [0] * len(self.classes))
                for k, n in enumerate(counts):
                    acc[k] += n
        return {loop: tuple(v) for loop, v in out.items()}


RequestMaker = Callable[[Intersection, CycleWish, "CycleWish | None", Mapping[str, float], float], Any]


# (junction id, candidate, incumbent, queues_pcu per lane of every junction, now_s) -> request
PolicyRequestMaker = Callable[[str, PolicyChoice, PolicyChoice, Mapping[str, float], float], Any]


@dataclass(frozen=True)
class DeskValidation:
    """What the operators' desk (controller/operators.py) needs to validate a manual plan: the
    gate, and `make_request(junction, candidate, incumbent, queues_pcu per lane, now_s)`, the
    twin's request from what the service knows (recent counts, the region around the junction);
    for a change of policy or parameters, `make_policy_request` (None: such a change is
    `unvalidated`, not put in force, unless forced)."""

    gate: ValidationGate
    make_request: RequestMaker
    make_policy_request: PolicyRequestMaker | None = None


# which config section holds each policy's parameters (none for `fixed`)
POLICY_SECTION = {
    "fixed": None,
    "webster": "webster",
    "max_pressure": "max_pressure",
    "adaptive": "max_pressure",
    "schedule": "schedule",
    "scats": "scats",
}


def policy_config(cfg: Config, choice: PolicyChoice) -> Config:
    """The service's config with the choice's parameters in its policy's section. ConfigError
    naming the field for an unknown policy, a parameter it does not have, or a value the config
    file would refuse."""
    if choice.name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError("policy change", "policy", f"unknown policy {choice.name!r}; known: {known}")
    section = POLICY_SECTION.get(choice.name)
    if not choice.params:
        return cfg
    if section is None:
        raise ConfigError("policy change", choice.name, "this policy has no parameters")
    return with_section(cfg, section, dict(choice.params), "policy change")


def policy_refusal(cfg: Config, choice: PolicyChoice, layouts: Mapping[str, Layout]) -> str:
    """'' when the policy with its parameters can run every junction of `layouts` (the service's
    junctions); else why not: an unknown policy or parameter, a refused value, or a junction the
    policy cannot serve (it would be left on its own program)."""
    try:
        policy = make_policy(choice.name, policy_config(cfg, choice))
    except ConfigError as exc:
        return str(exc)
    for jid, lay in sorted(layouts.items()):
        why = policy.cannot_serve(lay)
        if why:
            return f"{jid}: policy {choice.name} cannot serve it: {why}"
    return ""


def incumbent_wish(cmd: Any) -> CycleWish | None:
    """The cycle plan in force as the twin's incumbent; None (the junction's own program) when
    the last command was no cycle plan."""
    if isinstance(cmd, CyclePlan):
        return CycleWish(cmd.phase_order, cmd.greens_s, cmd.offset_s)
    return None


def lane_queues(layout: Any, estimate: Any) -> dict[str, float]:
    """Lane -> estimated queue (PCU, standing and hidden) of one junction (core/estimation.py)."""
    q = estimate.lanes.queue_pcu + estimate.lanes.hidden_pcu
    return {lane: float(v) for lane, v in zip(layout.lanes, q)}


def all_queues(core: Any, state: Any) -> dict[str, float]:
    """Lane -> estimated queue (PCU) of every junction the core serves (core/step.py Core, CoreState)."""
    return {
        ln: q for jid, lay in core.layouts.items() for ln, q in lane_queues(lay, state.junctions[jid].estimate).items()
    }

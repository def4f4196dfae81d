"""The service's record of plans pushed and acknowledged, and its audit trail.

A plan is acknowledged when its junction's roadside reports, in its status, the epoch of this
controller run and a `seq` at least the plan's. `unacknowledged(now_s)` names the junctions
with a plan older than `ack_timeout_s` still waiting (the heartbeat reports them: a restart
whose plans the roadsides drop, a forged or refused plan, a lost link, all show there).

With an audit sink (controller/adapters/audit.py) every plan pushed, every acknowledgement,
every roadside refusal or mode change, and every do-no-harm switch is appended to it, one
transaction per tick (`tick()`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any, Protocol

from controller.core.feed import RoadsideReport
from controller.model import Command, CyclePlan, PhaseCommand

MAX_PENDING = 1024  # unacknowledged plans remembered per junction


class AuditSink(Protocol):
    """The audit store's writing side (controller/adapters/audit.AuditStore)."""

    def append(self, kind: str, junction: str, actor: str, payload: Mapping[str, Any], t_s: float) -> int: ...

    def batch(self) -> Any: ...


def plan_record(cmd: Command, epoch: int) -> dict[str, Any]:
    """What the audit keeps of a plan: its identity, validity and content."""
    rec: dict[str, Any] = {
        "epoch": epoch,
        "seq": cmd.seq,
        "plan_id": cmd.plan_id,
        "valid_from": cmd.valid_from_s,
        "expires": cmd.expires_s,
    }
    if isinstance(cmd, CyclePlan):
        rec.update(
            kind="cycle",
            phase_order=list(cmd.phase_order),
            greens_s=list(cmd.greens_s),
            cycle_s=cmd.cycle_s,
            offset_s=cmd.offset_s,
        )
    elif isinstance(cmd, PhaseCommand):
        rec.update(kind="next_phase", phase=cmd.phase, hold_s=cmd.hold_s)
    else:
        rec.update(kind="flash")
    return rec


class PlanLedger:
    def __init__(self, epoch: int, actor: str, ack_timeout_s: float, audit: AuditSink | None = None) -> None:
        self.epoch = epoch
        self.actor = actor  # "controller/<instance>"
        self.ack_timeout_s = ack_timeout_s
        self.audit = audit
        self.acked = 0
        # junction -> (seq, when pushed) of plans not yet acknowledged, in push order
        self._pending: dict[str, deque[tuple[int, float]]] = {}
        self._acked_seq: dict[str, int] = {}
        self._roadside: dict[str, tuple[str, tuple[str, ...]]] = {}  # junction -> (mode, refusals) last reported

    @contextmanager
    def tick(self) -> Iterator[None]:
        """One audit transaction around a tick's records."""
        with self.audit.batch() if self.audit is not None else nullcontext():
            yield

    def _append(self, kind: str, junction: str, actor: str, payload: Mapping[str, Any], t_s: float) -> None:
        if self.audit is not None:
            self.audit.append(kind, junction, actor, payload, t_s)

    def pushed(self, cmd: Command, now_s: float) -> None:
        pending = self._pending.setdefault(cmd.junction, deque())
        if len(pending) >= MAX_PENDING:  # a roadside silent for long: keep the oldest, drop the next
            del pending[1]
        pending.append((cmd.seq, now_s))
        self._append("plan", cmd.junction, self.actor, plan_record(cmd, self.epoch), now_s)

    def reported(self, report: RoadsideReport, now_s: float) -> None:
        """A validated roadside status: acknowledgements, refusals and mode changes it shows."""
        st = report.status
        jid, who = st.junction, f"roadside/{st.junction}"
        if report.epoch == self.epoch and st.seq > self._acked_seq.get(jid, -1):
            self._acked_seq[jid] = st.seq
            pending = self._pending.get(jid, deque())
            covered = 0
            while pending and pending[0][0] <= st.seq:
                pending.popleft()
                covered += 1
            if covered:
                self.acked += 1
                self._append(
                    "ack",
                    jid,
                    who,
                    {"epoch": report.epoch, "seq": st.seq, "plan_id": st.plan_id, "mode": st.mode},
                    now_s,
                )
        refusals = tuple(f for f in st.faults if f.startswith("refused"))
        last_mode, last_refusals = self._roadside.get(jid, ("", ()))
        if refusals and refusals != last_refusals:
            self._append("refusal", jid, who, {"faults": list(refusals), "epoch": report.epoch, "seq": st.seq}, now_s)
        if st.mode != last_mode:
            self._append("mode", jid, who, {"mode": st.mode, "plan_id": st.plan_id}, now_s)
        self._roadside[jid] = (st.mode, refusals)

    def mode_changed(self, junction: str, mode: str, reason: str, now_s: float) -> None:
        """A do-no-harm switch of the service (TickResult.mode_changes)."""
        self._append("mode", junction, self.actor, {"mode": mode, "reason": reason}, now_s)

    def unacknowledged(self, now_s: float) -> list[str]:
        """Junctions with a plan pushed at least ack_timeout_s ago and not acknowledged since."""
        cutoff_s = now_s - self.ack_timeout_s
        return sorted(j for j, pending in self._pending.items() if pending and pending[0][1] <= cutoff_s)

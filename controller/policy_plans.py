"""The validation gate in front of a cyclic policy's plans (issue 14): a cycle, split or offset
change above the thresholds of [validation] is simulated in the twin before it is pushed.

A cyclic policy (webster, scats) issues a new cycle plan now and then (webster once a period,
scats cycle by cycle). `PolicyPlanGate.apply`, in the service's tick after the core (called by
the operators' desk, controller/operators.py), looks at each new policy plan (a CyclePlan whose
plan id is new, not a refresh):

- Below every threshold (core/validation.py needs_validation against the last plan pushed to
  that junction) it goes out directly. Why: a small change is inside what the twin can tell apart
  (the margin and slack of the verdict are of that order), and cycle-by-cycle adaptation (scats)
  would otherwise keep the twin busy without end; the safety gate has already checked it.
- Above one, it is held back: the command is taken out of the tick's result and the junction's
  command in force goes back to the last plan pushed (re-sent at the next tick; none: the
  roadside keeps its own program). The twin runs the candidate against that plan (the gate's
  worker process, at most `max_twins` at a time; the others wait their turn, newest per
  junction). Passed: the plan is pushed then (new seq, a full validity from now). Rejected or
  unvalidated: it is dropped, and the same plan proposed again is dropped without a new twin run
  (the policy's next different plan is validated afresh). A newer plan of the policy for the
  same junction replaces one still waiting for a twin; one proposed while a twin runs is judged
  when that verdict is in, against what it left in force (so a policy that replans faster than
  the twin still gets its plans through, one verdict at a time).

Overrides in force, junctions in do-no-harm fixed mode and acyclic commands are left alone.
Every verdict is audited (kind `verdict`, actor `policy <name>`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from controller.core.feed import make_plan_id
from controller.core.step import Core, CoreState, TickResult
from controller.core.validation import Verdict, needs_validation
from controller.model import CyclePlan, CycleWish
from controller.validation import DeskValidation, Pending, lane_queues

log = logging.getLogger(__name__)


def wish_of(cmd: CyclePlan) -> CycleWish:
    return CycleWish(cmd.phase_order, cmd.greens_s, cmd.offset_s)


@dataclass
class _Held:
    """A policy plan held back for its verdict."""

    cmd: CyclePlan
    incumbent: CyclePlan | None
    why: str  # the threshold it crossed
    pending: Pending | None = None  # None: waiting for a free twin


class PolicyPlanGate:
    """Not thread-safe: the service's tick thread calls apply."""

    def __init__(self, validation: DeskValidation, max_twins: int) -> None:
        self.validation = validation
        self.max_twins = max_twins
        self.pushed: dict[str, CyclePlan] = {}  # junction -> last policy plan pushed (its incumbent)
        self.held: dict[str, _Held] = {}
        self.next: dict[str, CyclePlan] = {}  # junction -> the policy's newest plan, proposed while a twin ran
        self.rejected: dict[str, CycleWish] = {}  # junction -> last plan the gate refused
        self.verdicts: list[tuple[str, str, Verdict]] = []  # (junction, plan id, verdict), newest last, bounded
        self.policy_name = ""  # the policy whose plans are held

    def apply(
        self, core: Core, state: CoreState, result: TickResult, now_s: float, skip: frozenset[str] = frozenset()
    ) -> tuple[CoreState, TickResult]:
        """Hold back this tick's new policy plans above the thresholds; push those the twin passed.
        `skip`: junctions under an operator's override. Another policy in force (an operator's
        change): the plans of the former one still held are dropped, their twins stopped."""
        if core.policy.name != self.policy_name:
            self.cancel_all()
            self.policy_name = core.policy.name
        prefix = {jid: make_plan_id(jid, core.policy.name, "") for jid in core.layouts}
        kept = []
        for cmd in result.commands:
            ours = isinstance(cmd, CyclePlan) and cmd.plan_id.startswith(prefix.get(cmd.junction, "\0"))
            if not isinstance(cmd, CyclePlan) or not ours or cmd.junction in skip:
                kept.append(cmd)
                continue
            last = self.pushed.get(cmd.junction)
            if last is not None and last.plan_id == cmd.plan_id:  # a refresh of the plan pushed
                kept.append(cmd)
                continue
            if self._admit(cmd, last):
                self.pushed[cmd.junction] = cmd
                kept.append(cmd)
            else:
                state = _revert(state, cmd.junction, last)
        state, pushed = self._poll(core, state, now_s)
        self._start(core, state, now_s)
        if len(kept) == len(result.commands) and not pushed:
            return state, result
        return state, replace(result, commands=(*kept, *pushed))

    def _admit(self, cmd: CyclePlan, last: CyclePlan | None) -> bool:
        """True: the plan goes out now (below every threshold); False: held or dropped."""
        jid = cmd.junction
        params = self.validation.gate.params
        why = needs_validation(wish_of(last) if last is not None else None, wish_of(cmd), params)
        if not why:
            return True
        if self.rejected.get(jid) == wish_of(cmd):
            return False
        old = self.held.get(jid)
        if old is not None and wish_of(old.cmd) == wish_of(cmd):
            return False  # the same plan proposed again while its twin runs
        if old is not None and old.pending is not None:
            self.next[jid] = cmd  # its twin goes on; this one is judged after it, against what it left in force
            return False
        self.held[jid] = _Held(cmd, last, why)
        return False

    def _start(self, core: Core, state: CoreState, now_s: float) -> None:
        running = sum(h.pending is not None for h in self.held.values())
        for jid, h in sorted(self.held.items()):
            if running >= self.max_twins:
                return
            if h.pending is not None:
                continue
            lay, js = core.layouts[jid], state.junctions[jid]
            cand, inc = wish_of(h.cmd), wish_of(h.incumbent) if h.incumbent is not None else None
            gate, who = self.validation.gate, f"policy {core.policy.name}"
            try:
                request = self.validation.make_request(lay.junction, cand, inc, lane_queues(lay, js.estimate), now_s)
            except Exception as exc:  # no twin: never pushed unvalidated
                log.exception("policy plan validation request failed junction=%s", jid)
                self._verdict(jid, h, gate.fail(jid, who, cand, inc, f"no twin request: {exc}", now_s))
                continue
            out = gate.start(lay.junction, cand, inc, request, who, now_s)
            if isinstance(out, Pending):
                h.pending = out
                running += 1
            else:
                self._verdict(jid, h, out)

    def _poll(self, core: Core, state: CoreState, now_s: float) -> tuple[CoreState, list[CyclePlan]]:
        pushed: list[CyclePlan] = []
        for jid, h in list(self.held.items()):
            if h.pending is None:
                continue
            verdict = self.validation.gate.poll(h.pending, now_s)
            if verdict is None:
                continue
            self._verdict(jid, h, verdict)
            if verdict.passed:
                state = self._push(state, h.cmd, now_s, pushed)
            newer = self.next.pop(jid, None)
            if newer is not None and self._admit(newer, self.pushed.get(jid)):
                state = self._push(state, newer, now_s, pushed)
        return state, pushed

    def _push(self, state: CoreState, plan: CyclePlan, now_s: float, pushed: list[CyclePlan]) -> CoreState:
        """A plan goes out now (fresh seq and validity) and is the junction's command in force;
        not to a junction in do-no-harm fixed mode."""
        js = state.junctions.get(plan.junction)
        if js is None or (js.harm is not None and js.harm.mode == "fixed"):
            return state
        ttl_s = plan.expires_s - plan.valid_from_s
        cmd = replace(plan, seq=js.seq + 1, valid_from_s=now_s, expires_s=now_s + ttl_s)
        self.pushed[plan.junction] = cmd
        pushed.append(cmd)
        return replace(
            state, junctions={**state.junctions, plan.junction: replace(js, command=cmd, sent_s=now_s, seq=js.seq + 1)}
        )

    def _verdict(self, jid: str, h: _Held, verdict: Verdict) -> None:
        self.held.pop(jid, None)
        self.verdicts = [*self.verdicts[-99:], (jid, h.cmd.plan_id, verdict)]
        if verdict.passed:
            self.rejected.pop(jid, None)
        else:
            self.rejected[jid] = wish_of(h.cmd)
            log.warning("junction=%s policy plan %s %s (%s): not pushed", jid, h.cmd.plan_id, verdict.outcome, h.why)

    def cancel_all(self) -> None:
        for h in self.held.values():
            if h.pending is not None:
                self.validation.gate.cancel(h.pending)
        self.held.clear()
        self.next.clear()


def _revert(state: CoreState, jid: str, last: CyclePlan | None) -> CoreState:
    """The junction's command in force back to the last plan pushed, re-sent at the next tick."""
    js = state.junctions[jid]
    back: Any = replace(js, command=last, sent_s=float("-inf"))
    return replace(state, junctions={**state.junctions, jid: back})

"""The operators' desk of the service: overrides in, replies out, the overrides in force.

`OperatorDesk.submit` takes an override message (its operator is the broker user of the topic
it came on: docs/mqtt.md, "Override"), admits or refuses it with the rules of
controller/core/override.py, records the action with the operator's identity (audit store,
log) and answers the operator with a reply. `OperatorDesk.apply` runs inside the service's
tick, after the policy (controller/service.py): expired overrides end, and the overrides in
force replace the policy's commands for their junctions, through the same safety gate.

Not thread-safe: the thread that ticks the service calls both.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from controller.config import Config
from controller.core import override as rules
from controller.core.estimation import Layout
from controller.core.jsonread import read_json
from controller.core.messages import MESSAGE_VERSION
from controller.core.override import OperatorParams, Override
from controller.core.step import Core, CoreState, JunctionState, ShownMode, TickResult
from controller.core.validation import PolicyChange, PolicyChoice, Verdict, decode_policy_change, judge
from controller.errors import ConfigError, FeedError
from controller.model import Command, CycleWish, Intersection, PhaseWish
from controller.policy_plans import PolicyPlanGate
from controller.revalidation import Revalidation
from controller.validation import (
    DeskValidation,
    Pending,
    all_queues,
    incumbent_wish,
    lane_queues,
    policy_config,
    policy_refusal,
)

log = logging.getLogger(__name__)

Reply = Callable[[str, bytes], None]  # (operator, reply message)


class AuditRecordLike(Protocol):
    """An audit record as controller/adapters/audit.py returns it (read only)."""

    @property
    def junction(self) -> str: ...

    @property
    def actor(self) -> str: ...

    @property
    def payload(self) -> dict[str, Any]: ...


class OverridesInForce(Protocol):
    """What junction_table reads of the operators' desk: the overrides in force, by junction."""

    @property
    def active(self) -> Mapping[str, Override]: ...


class AuditReader(Protocol):
    """What newest_first reads of the audit store (controller/adapters/audit.py AuditStore)."""

    def newest(self, *, kind: str, before_id: int | None = None, limit: int = 100) -> list[Any]: ...


class AuditSink(Protocol):
    """What the desk needs of the audit store (controller/adapters/audit.py AuditStore)."""

    def append(self, kind: str, junction: str, actor: str, payload: Mapping[str, Any], t_s: float) -> int: ...


@dataclass(frozen=True)
class Answer:
    """The desk's reply to one override message."""

    request_id: str
    junction: str
    action: str
    accepted: bool
    reason: str  # the rule that refused it, or what was done
    until_s: float | None = None
    validating: bool = False  # not yet: the verdict of the validation gate follows with the same id

    def encode(self, now_s: float) -> bytes:
        body = {
            "v": MESSAGE_VERSION,
            "id": self.request_id,
            "junction": self.junction,
            "action": self.action,
            "accepted": self.accepted,
            "reason": self.reason,
            "until": self.until_s,
            "t": now_s,
        }
        if self.validating:
            body["validating"] = True
        return json.dumps(body, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Validating:
    """A manual plan admitted by the rules, waiting for the validation gate's verdict."""

    req: rules.OverrideRequest
    ov: Override
    pending: Pending | None = None  # None: the twin not started yet (at the next tick)


@dataclass(frozen=True)
class _PolicyValidating:
    """A change of policy or parameters, waiting for the validation gate's verdict."""

    change: PolicyChange
    incumbent: PolicyChoice
    pending: Pending | None = None  # None: the twin not started yet (at the next tick)


RETURN_ACTOR = "do-no-harm"  # who asks for a junction's return to the policy (audit store)


def _predicted(verdict: Verdict) -> str:
    figures = verdict.figures()
    if figures["candidate"] is None:
        return ""
    return (
        f" (predicted delay {figures['candidate']['total_delay_s']:g} veh-s, "
        f"incumbent {figures['incumbent']['total_delay_s']:g} veh-s)"
    )


class OperatorDesk:
    def __init__(
        self,
        params: OperatorParams,
        *,
        ttl_s: float,
        refresh_s: float,
        reply: Reply | None = None,
        audit: AuditSink | None = None,
        validation: DeskValidation | None = None,
    ) -> None:
        """validation: manual plans go through the validation gate (controller/validation.py,
        config [validation] enabled) before they are put in force; None: they go in at once."""
        self.params = params
        self.ttl_s = ttl_s
        self.refresh_s = refresh_s
        self.reply = reply
        self.audit = audit
        self.active: dict[str, Override] = {}  # junction -> override in force
        self._ended: dict[str, Override] = {}  # released since the last tick
        self._sent: dict[str, tuple[Command, float]] = {}  # the overrides' last commands and when sent
        self.rejected: dict[str, int] = {}  # malformed override messages by reason
        self.answers: list[Answer] = []  # the last answers given (newest last, bounded)
        self.answers_total = 0
        self.validation = validation
        self.validating: dict[str, _Validating] = {}  # junction -> manual plan awaiting its verdict
        self.verdicts: dict[str, tuple[CycleWish, Verdict]] = {}  # junction -> last verdict on a manual plan
        self._switch: Callable[[str, Config], None] | None = None  # bind_policy: the service's set_policy
        self._cfg: Config | None = None
        self.policy: PolicyChoice | None = None  # the policy in force (bind_policy, then each change)
        self.configured: PolicyChoice | None = None  # the policy of the service's config (bind_policy)
        self.policy_validating: _PolicyValidating | None = None  # a policy change awaiting its verdict
        self.policy_verdicts: dict[PolicyChoice, Verdict] = {}  # the last verdict on each policy change asked
        self.return_validating: Pending | None = None  # a do-no-harm return to the policy being validated
        self.plan_gate: PolicyPlanGate | None = None  # a cyclic policy's plans (controller/policy_plans.py)
        self.revalidation: Revalidation | None = None  # the policy in force checked again (controller/revalidation.py)

    # -- requests --------------------------------------------------------------------------
    def submit(self, payload: bytes, operator: str, junction: str | None, core: Core, now_s: float) -> Answer:
        """Validate, admit and answer one override message from `operator` (the broker user)."""
        if _peek(payload, "action") == "policy":
            return self._submit_policy(payload, operator, junction, core, now_s)
        try:
            req = rules.decode_override(
                payload, operator, junction, now_s, max_future_s=self.params.console_clock_skew_s
            )
        except FeedError as exc:
            self.rejected[exc.reason] = self.rejected.get(exc.reason, 0) + 1
            action = _peek(payload, "action")
            answer = Answer(
                _peek(payload, "id"),
                junction or "",
                action if action in rules.ACTIONS else "?",
                False,
                f"malformed override ({exc.reason}): {exc.detail}",
            )
            return self._answer(operator, answer, now_s)
        lay = core.layouts.get(req.junction)
        ov, why = rules.admit(req, lay.junction if lay is not None else None, self.params, now_s)
        if ov is not None or (req.action == "release" and not why):
            self._drop_validation(req.junction)  # a newer override (or a release) supersedes a plan being validated
        if req.action == "release" and not why:
            answer = self._release(req.junction, operator)
            answer = Answer(req.request_id, req.junction, "release", answer.accepted, answer.reason)
        elif ov is None:
            answer = Answer(req.request_id, req.junction, req.action, False, why)
        elif self.validation is not None and isinstance(ov.wish, CycleWish) and not req.force_reason:
            self.validating[req.junction] = _Validating(req, ov)
            answer = Answer(
                req.request_id,
                req.junction,
                req.action,
                False,
                f"validating in the SUMO twin (at most {self.validation.gate.params.timeout_s:g} s): "
                f"the verdict follows with id {req.request_id}",
                validating=True,
            )
        else:
            answer = self._put_in_force(req, ov, operator, lay, now_s)
        self._record(operator, answer, req, now_s)
        return self._answer(operator, answer, now_s)

    def _put_in_force(
        self, req: rules.OverrideRequest, ov: Override, operator: str, lay: Layout | None, now_s: float
    ) -> Answer:
        """An admitted override goes in force (a force is recorded first); the answer says whether
        it renews the operator's own or replaces another's."""
        self._forced(ov, req.force_reason, now_s)
        previous = self.active.get(req.junction)
        self.active[req.junction] = ov
        self._ended.pop(req.junction, None)
        same = previous is not None and (previous.operator, previous.action, previous.wish) == (
            operator,
            ov.action,
            ov.wish,
        )
        done = "renewed" if same else "in force"
        if previous is not None and previous.operator != operator:
            done += f" (replaces {previous.operator}'s {previous.action})"
        note = _hold_note(lay.junction, ov) if lay is not None else ""
        text = f"{req.action} {done} for {ov.until_s - now_s:.0f} s{note}"
        return Answer(req.request_id, req.junction, req.action, True, text, ov.until_s)

    def _drop_validation(self, junction: str) -> None:
        v = self.validating.pop(junction, None)
        if v is not None and v.pending is not None and self.validation is not None:
            self.validation.gate.cancel(v.pending)
            log.warning(
                "operator=%s junction=%s plan %s superseded while validating",
                v.req.operator,
                junction,
                v.req.request_id,
            )

    def _forced(self, ov: Override, reason: str, now_s: float) -> None:
        """A manual plan sent with `force` and a reason past the validation gate (never past the
        safety gate: it was admitted): recorded against the last verdict on it."""
        if self.validation is None or not reason or not isinstance(ov.wish, CycleWish):
            return
        wish, last = self.verdicts.get(ov.junction, (None, None))
        if last is None or wish != ov.wish:
            last = judge("", None, None, self.validation.gate.params, failure="forced before any verdict")
        self.validation.gate.record_force(ov.junction, ov.operator, ov.wish, last, reason, now_s)

    def _validate(self, core: Core, state: CoreState, now_s: float) -> None:
        """Each tick: start the twin for manual plans waiting, put in force those it passes,
        answer the operator either way (controller/validation.py)."""
        assert self.validation is not None
        gate = self.validation.gate
        for jid, v in list(self.validating.items()):
            lay, js = core.layouts.get(jid), state.junctions.get(jid)
            if lay is None or js is None or not isinstance(v.ov.wish, CycleWish):
                del self.validating[jid]
                continue
            verdict: Verdict | None = None
            if v.pending is None:
                inc = incumbent_wish(js.command)
                try:
                    request = self.validation.make_request(
                        lay.junction, v.ov.wish, inc, lane_queues(lay, js.estimate), now_s
                    )
                except Exception as exc:  # no twin for this junction: never in force unvalidated
                    log.exception("validation request failed junction=%s", jid)
                    verdict = gate.fail(jid, v.req.operator, v.ov.wish, inc, f"no twin request: {exc}", now_s)
                else:
                    out = gate.start(lay.junction, v.ov.wish, inc, request, v.req.operator, now_s)
                    if isinstance(out, Pending):
                        self.validating[jid] = v = replace(v, pending=out)
                    else:
                        verdict = out
            if verdict is None and v.pending is not None:
                verdict = gate.poll(v.pending, now_s)
            if verdict is not None:
                self._verdict(jid, v, verdict, now_s)

    def _verdict(self, jid: str, v: _Validating, verdict: Verdict, now_s: float) -> None:
        del self.validating[jid]
        assert isinstance(v.ov.wish, CycleWish)
        self.verdicts[jid] = (v.ov.wish, verdict)
        figures = verdict.figures()
        predicted = (
            ""
            if figures["candidate"] is None
            else (
                f" (predicted delay {figures['candidate']['total_delay_s']:g} veh-s, "
                f"incumbent {figures['incumbent']['total_delay_s']:g} veh-s)"
            )
        )
        if verdict.passed:
            ov = replace(v.ov, since_s=now_s, until_s=now_s + (v.ov.until_s - v.ov.since_s))
            self.active[jid] = ov
            self._ended.pop(jid, None)
            answer = Answer(
                v.req.request_id,
                jid,
                v.req.action,
                True,
                f"plan validated in the twin{predicted}: in force for {ov.until_s - now_s:.0f} s",
                ov.until_s,
            )
        else:
            answer = Answer(
                v.req.request_id,
                jid,
                v.req.action,
                False,
                f"plan {verdict.outcome} by the validation gate: {'; '.join(verdict.reasons)}"
                f"{predicted}; to run it anyway send it again with force and a reason",
            )
        self._record(v.req.operator, answer, v.req, now_s)
        self._answer(v.req.operator, answer, now_s)

    def _release(self, junction: str, operator: str) -> Answer:
        ov = self.active.pop(junction, None)
        if ov is None:
            return Answer("", junction, "release", True, "no override in force: nothing to release")
        self._ended[junction] = ov
        return Answer("", junction, "release", True, f"{ov.operator}'s {ov.action} released: back to the policy")

    def _record(self, operator: str, answer: Answer, req: rules.OverrideRequest, now_s: float) -> None:
        log.warning(
            "operator=%s junction=%s action=%s accepted=%s reason=%s",
            operator,
            answer.junction,
            answer.action,
            answer.accepted,
            answer.reason,
        )
        if self.audit is not None:
            payload = {
                "action": req.action,
                "id": req.request_id,
                "accepted": answer.accepted,
                "reason": answer.reason,
                "for_s": req.for_s,
                "phase": req.phase,
                "phase_order": list(req.phase_order),
                "greens_s": list(req.greens_s),
                "until": answer.until_s,
            }
            try:
                self.audit.append("operator", answer.junction, operator, payload, now_s)
            except Exception:  # an audit failure must not stop the junction being served
                log.exception("audit store refused operator action junction=%s operator=%s", answer.junction, operator)

    def _answer(self, operator: str, answer: Answer, now_s: float) -> Answer:
        self.answers = [*self.answers[-99:], answer]
        self.answers_total += 1
        if self.reply is not None:
            self.reply(operator, answer.encode(now_s))
        return answer

    def restore(self, records: Iterable[AuditRecordLike], core: Core, now_s: float) -> list[str]:
        """After a restart: put back the overrides the audit trail says are still in force
        (accepted, neither released nor expired, `until` ahead of now), each re-admitted under
        today's rules for the time it has left. Returns the junctions restored."""
        last: dict[str, AuditRecordLike] = {}
        for r in records:  # in the order they were written
            action = r.payload.get("action")
            if action in ("hold", "plan", "flash") and r.payload.get("accepted"):
                last[r.junction] = r
            elif action == "expired" or (action == "release" and r.payload.get("accepted")):
                last.pop(r.junction, None)
        restored = []
        for jid, r in last.items():
            p, until = r.payload, r.payload.get("until")
            if not isinstance(until, (int, float)) or until <= now_s:
                continue
            req = rules.OverrideRequest(
                jid,
                r.actor,
                p["action"],
                str(p.get("id", "")),
                now_s,
                for_s=until - now_s,
                phase=p.get("phase"),
                phase_order=tuple(p.get("phase_order") or ()),
                greens_s=tuple(p.get("greens_s") or ()),
            )
            lay = core.layouts.get(jid)
            ov, why = rules.admit(req, lay.junction if lay is not None else None, self.params, now_s)
            if ov is None:
                log.warning("operator=%s junction=%s override not restored: %s", r.actor, jid, why)
                continue
            self.active[jid] = ov
            restored.append(jid)
            log.warning(
                "operator=%s junction=%s action=%s restored after a restart, %.0f s left",
                r.actor,
                jid,
                ov.action,
                ov.until_s - now_s,
            )
        return restored

    # -- a change of policy or of its parameters -------------------------------------------
    def bind_policy(self, switch: Callable[[str, Config], None], cfg: Config, name: str) -> None:
        """The service's `set_policy(name, cfg)` (from the next tick), its config and the policy it
        runs (the configured one): operators may then change policy or parameters (`policy`
        messages)."""
        self._switch, self._cfg = switch, cfg
        self.policy = self.configured = PolicyChoice(name)

    def restore_policy(
        self, records: Iterable[AuditRecordLike], core: Core, owned: Collection[str] | None = None
    ) -> PolicyChoice | None:
        """After a restart: the policy an operator put in force last (the newest accepted `policy`
        record of a junction this service runs: `owned`, default all of core's; records newest
        first) is in force again from the first tick, unless
        - it was put in force over another configured policy, or the record does not say over
          which (written before policies were restored): the configuration changed since, and wins;
        - it is the configured policy (the operator went back to it);
        - today's rules refuse it (policy_refusal: e.g. a junction it cannot serve).
        Returns the policy restored, or None (the configured policy runs); logged either way."""
        if self._switch is None or self._cfg is None or self.configured is None:
            return None
        served = set(core.layouts if owned is None else owned)
        last = next((r for r in records if _accepted_policy(r) and r.junction in served), None)
        if last is None:
            return None
        p, configured = last.payload, self.configured
        choice = PolicyChoice(str(p.get("policy")), tuple(sorted(dict(p.get("params") or {}).items())))
        was = f"{last.actor}'s change at {last.junction} (request {p.get('id')})"
        if p.get("configured") != configured.to_dict():
            why = f"made over {p.get('configured')}, {configured.describe()} is configured now"
        elif choice == configured:
            return None
        else:
            why = policy_refusal(self._cfg, choice, core.layouts)
        if not why:
            try:
                self._switch(choice.name, policy_config(self._cfg, choice))
            except (ValueError, ConfigError) as exc:
                why = str(exc)
        if why:
            log.warning("policy %s not restored (%s): %s; %s runs", choice.describe(), was, why, configured.describe())
            return None
        self.policy = choice
        log.warning("policy %s restored after a restart: %s", choice.describe(), was)
        return choice

    def _submit_policy(self, payload: bytes, operator: str, junction: str | None, core: Core, now_s: float) -> Answer:
        """A policy change: refused when malformed or unsafe to run (policy_refusal); put in force
        at once without a gate, or when forced with a reason; else validated in the twin first
        (the verdict follows, like a manual plan's)."""
        try:
            skew_s = self.params.console_clock_skew_s
            change = decode_policy_change(payload, operator, junction, now_s, max_future_s=skew_s)
        except FeedError as exc:
            self.rejected[exc.reason] = self.rejected.get(exc.reason, 0) + 1
            why = f"malformed policy change ({exc.reason}): {exc.detail}"
            return self._answer(operator, Answer(_peek(payload, "id"), junction or "", "policy", False, why), now_s)
        answer = self._admit_policy(change, core, now_s)
        self._record_policy(operator, answer, change, now_s)
        return self._answer(operator, answer, now_s)

    def _admit_policy(self, change: PolicyChange, core: Core, now_s: float) -> Answer:
        def refused(why: str) -> Answer:
            return Answer(change.request_id, change.junction, "policy", False, why)

        if self._switch is None or self._cfg is None or self.policy is None:
            return refused("this service does not change policy at run time")
        if change.junction not in core.layouts:
            return refused(f"{change.junction} is not a junction this service controls")
        if change.choice == self.policy:
            return refused(f"policy {self.policy.describe()} is already in force")
        why = policy_refusal(self._cfg, change.choice, core.layouts)
        gate = self.validation.gate if self.validation is not None else None
        if why:
            if gate is not None:  # audited as a verdict: refused before any twin ran
                gate.start_checked(change.junction, change.choice, self.policy, None, change.operator, now_s, why)
            return refused(f"policy {change.choice.describe()} refused: {why}")
        self._drop_policy_validation()  # the newest admitted change supersedes one being validated
        if gate is not None and not change.force_reason:
            self.policy_validating = _PolicyValidating(change, self.policy)
            text = (
                f"validating policy {change.choice.describe()} against {self.policy.describe()} in the SUMO twin "
                f"(at most {gate.params.policy_timeout_s:g} s): the verdict follows with id {change.request_id}"
            )
            return Answer(change.request_id, change.junction, "policy", False, text, validating=True)
        if gate is not None:
            last = self.policy_verdicts.get(change.choice)
            if last is None:
                last = judge("", None, None, gate.params, failure="forced before any verdict")
            gate.record_force(change.junction, change.operator, change.choice, last, change.force_reason, now_s)
        return self._switch_policy(change)

    def _switch_policy(self, change: PolicyChange) -> Answer:
        assert self._switch is not None and self._cfg is not None
        try:
            self._switch(change.choice.name, policy_config(self._cfg, change.choice))
        except (ValueError, ConfigError) as exc:
            return Answer(change.request_id, change.junction, "policy", False, f"policy change refused: {exc}")
        previous, self.policy = self.policy, change.choice
        was = previous.describe() if previous is not None else "?"
        text = f"policy {change.choice.describe()} in force from the next tick (was {was})"
        return Answer(change.request_id, change.junction, "policy", True, text)

    def _drop_policy_validation(self) -> None:
        v, self.policy_validating = self.policy_validating, None
        if v is not None and v.pending is not None and self.validation is not None:
            self.validation.gate.cancel(v.pending)
            log.warning(
                "operator=%s policy change %s superseded while validating", v.change.operator, v.change.request_id
            )

    def _validate_policy(self, core: Core, state: CoreState, now_s: float) -> None:
        """Each tick: start the twin for the policy change waiting, switch when it passes, answer
        the operator either way."""
        v = self.policy_validating
        assert v is not None and self.validation is not None
        gate, change = self.validation.gate, v.change
        verdict: Verdict | None = None
        if v.pending is None:
            make = self.validation.make_policy_request
            try:
                if make is None:
                    raise ValueError("no twin for policy changes is configured")
                request = make(change.junction, change.choice, v.incumbent, all_queues(core, state), now_s)
            except Exception as exc:  # no twin: never in force unvalidated
                log.exception("policy validation request failed junction=%s", change.junction)
                why = f"no twin request: {exc}"
                verdict = gate.fail(change.junction, change.operator, change.choice, v.incumbent, why, now_s)
            else:
                who = change.operator
                out = gate.start_checked(change.junction, change.choice, v.incumbent, request, who, now_s, "")
                if isinstance(out, Pending):
                    self.policy_validating = v = replace(v, pending=out)
                else:
                    verdict = out
        if verdict is None and v.pending is not None:
            verdict = gate.poll(v.pending, now_s)
        if verdict is not None:
            self._policy_verdict(v, verdict, now_s)

    def _policy_verdict(self, v: _PolicyValidating, verdict: Verdict, now_s: float) -> None:
        self.policy_validating = None
        change = v.change
        self.policy_verdicts[change.choice] = verdict
        if verdict.passed:
            answer = self._switch_policy(change)
            answer = replace(answer, reason=f"validated in the twin{_predicted(verdict)}: {answer.reason}")
        else:
            answer = Answer(
                change.request_id,
                change.junction,
                "policy",
                False,
                f"policy {change.choice.describe()} {verdict.outcome} by the validation gate: "
                f"{'; '.join(verdict.reasons)}{_predicted(verdict)}; "
                "to run it anyway send it again with force and a reason",
            )
        self._record_policy(change.operator, answer, change, now_s)
        self._answer(change.operator, answer, now_s)

    def _record_policy(self, operator: str, answer: Answer, change: PolicyChange, now_s: float) -> None:
        log.warning(
            "operator=%s policy=%s accepted=%s reason=%s",
            operator,
            change.choice.describe(),
            answer.accepted,
            answer.reason,
        )
        if self.audit is None:
            return
        payload = {
            "action": "policy",
            "id": change.request_id,
            "accepted": answer.accepted,
            "reason": answer.reason,
            **change.choice.to_dict(),
            "forced": bool(change.force_reason),
            # the configured policy it was made over: a restart restores the change only over the same
            "configured": self.configured.to_dict() if self.configured is not None else None,
        }
        try:
            self.audit.append("operator", answer.junction, operator, payload, now_s)
        except Exception:  # an audit failure must not stop the junctions being served
            log.exception("audit store refused a policy change operator=%s", operator)

    # -- do no harm: a junction's return to the policy ---------------------------------------
    def _validate_returns(self, core: Core, state: CoreState, now_s: float) -> CoreState:
        """`[harm] validate_return`: a junction whose return to the policy is due (harm
        JunctionReport.return_due) has it validated in the twin, "policy" (the policy in force
        with its parameters) against "fixed plan" on the junction's region, one junction at a
        time; passed: Core.approve_return, otherwise (rejected or unvalidated) Core.reject_return
        with the reasons (the junction stays on its fixed plan for a doubled hold)."""
        assert self.validation is not None
        pending = self.return_validating
        if pending is not None:
            js = state.junctions.get(pending.junction)
            policy = self.policy if self.policy is not None else PolicyChoice(core.policy.name)
            if js is None or js.harm is None or not js.harm.return_due or pending.candidate != policy:
                # no longer due, or another policy in force since: this verdict is not wanted
                self.validation.gate.cancel(pending)
                self.return_validating = None
                return state
            verdict = self.validation.gate.poll(pending, now_s)
            if verdict is None:
                return state
            self.return_validating = None
            return self._return_verdict(core, state, pending.junction, verdict)
        due = sorted(jid for jid, js in state.junctions.items() if js.harm is not None and js.harm.return_due)
        if not due:
            return state
        return self._start_return(core, state, due[0], now_s)

    def _start_return(self, core: Core, state: CoreState, jid: str, now_s: float) -> CoreState:
        assert self.validation is not None
        gate, make = self.validation.gate, self.validation.make_policy_request
        policy = self.policy if self.policy is not None else PolicyChoice(core.policy.name)
        fixed = PolicyChoice("fixed")
        try:
            if make is None:
                raise ValueError("no twin for policy changes is configured")
            request = make(jid, policy, fixed, all_queues(core, state), now_s)
        except Exception as exc:  # no twin: the return is not approved unvalidated
            log.exception("return validation request failed junction=%s", jid)
            verdict = gate.fail(jid, RETURN_ACTOR, policy, fixed, f"no twin request: {exc}", now_s)
            return self._return_verdict(core, state, jid, verdict)
        out = gate.start_checked(jid, policy, fixed, request, RETURN_ACTOR, now_s, "")
        if isinstance(out, Pending):
            self.return_validating = out
            return state
        return self._return_verdict(core, state, jid, out)

    @staticmethod
    def _return_verdict(core: Core, state: CoreState, jid: str, verdict: Verdict) -> CoreState:
        try:
            if verdict.passed:
                return core.approve_return(state, jid)
            return core.reject_return(state, jid, f"validation {verdict.outcome}: {'; '.join(verdict.reasons)}")
        except ValueError as exc:  # no longer due (the state moved on): nothing to decide
            log.warning("return validation junction=%s: %s", jid, exc)
            return state

    def _policy_plans(self) -> PolicyPlanGate:
        assert self.validation is not None
        if self.plan_gate is None or self.plan_gate.validation is not self.validation:
            self.plan_gate = PolicyPlanGate(self.validation, self.validation.gate.params.max_twins)
        return self.plan_gate

    def _revalidate(self, core: Core, state: CoreState, now_s: float) -> None:
        """The policy in force checked again on a schedule and on a demand shift
        (controller/revalidation.py): a rejection puts the region on its fixed plan."""
        assert self.validation is not None
        if self.revalidation is None or self.revalidation.validation is not self.validation:
            self.revalidation = Revalidation(self.validation)
        policy = self.policy if self.policy is not None else PolicyChoice(core.policy.name)
        start, end = self.revalidation.tick(core, state, now_s, policy, self.active)
        for ov in start:
            self.active[ov.junction] = ov
            self._ended.pop(ov.junction, None)
        for jid in end:
            self._ended[jid] = self.active.pop(jid)

    # -- the tick --------------------------------------------------------------------------
    def _expire(self, jid: str, ov: Override, now_s: float) -> None:
        del self.active[jid]
        self._ended[jid] = ov
        log.warning("operator=%s junction=%s action=%s expired: back to the policy", ov.operator, jid, ov.action)
        if self.audit is None:
            return
        try:
            self.audit.append("operator", jid, ov.operator, {"action": "expired", "id": ov.request_id}, now_s)
        except Exception:  # an audit failure must not stop the junction being served
            log.exception("audit store refused an expiry junction=%s", jid)

    def apply(self, core: Core, state: CoreState, result: TickResult, now_s: float) -> tuple[CoreState, TickResult]:
        """Called by the service after core.step: end expired overrides, put the others in force."""
        for jid, ov in list(self.active.items()):
            if now_s >= ov.until_s:
                self._expire(jid, ov, now_s)
        if self.validating and self.validation is not None:
            self._validate(core, state, now_s)
        if self.policy_validating is not None and self.validation is not None:
            self._validate_policy(core, state, now_s)
        if self.validation is not None and core.harm.validate_return:
            state = self._validate_returns(core, state, now_s)
        if self.validation is not None:  # a cyclic policy's plans above the thresholds; the policy checked again
            state, result = self._policy_plans().apply(core, state, result, now_s, frozenset(self.active))
            self._revalidate(core, state, now_s)
        if not self.active and not self._ended:
            return state, result
        junctions = {jid: lay.junction for jid, lay in core.layouts.items()}
        ended, self._ended = self._ended, {}
        state, result, self._sent = rules.apply(
            self.active,
            ended,
            self._sent,
            state,
            junctions,
            result,
            now_s,
            ttl_s=self.ttl_s,
            refresh_s=self.refresh_s,
            memo=core.gate_memo,
        )
        return state, result


def _peek(payload: bytes, key: str) -> str:
    """A string field of a message that failed validation (to address the answer), else ''."""
    try:
        obj = read_json(payload)
    except FeedError:
        return ""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value[:64] if isinstance(value, str) else ""


def _hold_note(j: Intersection, ov: Override) -> str:
    """What the gate will do to a hold longer than the phase's maximum green."""
    if not isinstance(ov.wish, PhaseWish):
        return ""
    max_g = j.phases[ov.wish.phase].max_green_s
    if ov.until_s - ov.since_s <= max_g:
        return ""
    return (
        f" (phase {ov.wish.phase} green at most {max_g:g} s at a time, max red {j.max_red_s:g} s: the other "
        "movements are served in between)"
    )


def junction_table(
    core: Core,
    state: CoreState,
    desk: OverridesInForce | None,
    refused: Mapping[str, str],
    now_s: float,
    failed: Mapping[str, str] | None = None,
    jids: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per junction, what an operator's console shows (`ctl status`; docs/operators.md, "Modes"):

    mode (model.JUNCTION_MODES, and `refused`) with `why`: `manual` (an operator's override in
    force), `failed` (its decision raised in the last tick, `failed`: junction -> the reason,
    TickResult.failed; its plan withdrawn, it runs its own program), `adaptive` (the policy's
    plans), `fixed` (do no harm: back on the city's program), `fallback` (no fresh detector feed,
    no roadside status yet, or the roadside says it runs its local plan), `refused` (the policy
    cannot serve it: it stays on its own program). Then the
    roadside's own report (its mode, plan in force, phase, faults), the estimates (queue in PCU,
    delay per PCU over the do-no-harm window) and the ages of the last detector message and status.
    jids: the rows of those served junctions alone, in that order, then the refused ones' (the
    heartbeat's table built a share at a time: controller/live.py table_build)."""
    out: dict[str, dict[str, Any]] = {}
    active = desk.active if desk is not None else {}
    # Core.report's mode, reason, delay (a light held by its group reads fixed)
    reports = core.shown_modes(state, jids)
    layouts = core.layouts
    for jid in layouts if jids is None else jids:
        js, lay = state.junctions[jid], layouts[jid]
        est, st, ov = js.estimate, js.status, active.get(jid)
        report = reports.get(jid)
        mode, why = _mode(core, js, ov, report, now_s)
        if failed and jid in failed and mode != "manual":  # its plan withdrawn this tick (Core._failed)
            mode, why = "failed", failed[jid]
        faults = list(st.faults) if st is not None else []
        faults += [f"detector {d} faulty" for d in est.faulty_detectors(lay)]
        out[jid] = {
            "mode": mode,
            "why": why,
            "override": None
            if ov is None
            else {"operator": ov.operator, "action": ov.action, "until": ov.until_s, "plan_id": ov.plan_id},
            "plan_sent": js.command.plan_id if js.command is not None else None,
            "roadside_mode": st.mode if st is not None else None,
            "plan": st.plan_id if st is not None else None,
            "phase": st.phase if st is not None else None,
            "in_intergreen": st.in_intergreen if st is not None else None,
            "time_in_phase_s": round(st.time_in_phase_s + max(0.0, now_s - st.t_s), 1) if st is not None else None,
            "queue_pcu": round(float(est.queue_pcu.sum()), 1),
            "delay_s_pcu": _finite_or_none(report.delay_controlled_s) if report is not None else None,
            "faults": faults,
            "feed_age_s": round(now_s - est.last_feed_t_s, 1) if est.last_feed_t_s is not None else None,
            "status_age_s": round(now_s - st.t_s, 1) if st is not None else None,
        }
    for jid, why in refused.items():
        out[jid] = {"mode": "refused", "why": why}
    return out


def _mode(
    core: Core, js: JunctionState, ov: Override | None, report: ShownMode | None, now_s: float
) -> tuple[str, str]:
    est, st = js.estimate, js.status
    if ov is not None:
        return "manual", f"{ov.operator}'s {ov.action}, {max(0.0, ov.until_s - now_s):.0f} s left"
    if est.last_feed_t_s is None or now_s - est.last_feed_t_s > core.feed_stale_s:
        return "fallback", "no fresh detector feed"
    if report is not None and report.mode == "fixed":
        return "fixed", report.reason
    if st is None:
        return "fallback", "no roadside status yet"
    if st.mode == "local":
        return "fallback", "the roadside runs its local plan"
    return "adaptive", ""


def _finite_or_none(x: float) -> float | None:
    return round(x, 1) if math.isfinite(x) else None


def _accepted_policy(r: AuditRecordLike) -> bool:
    return r.payload.get("action") == "policy" and bool(r.payload.get("accepted"))


def newest_first(audit: AuditReader, kind: str, page: int = 1000) -> Iterator[AuditRecordLike]:
    """The audit store's records of `kind`, newest first, read a page at a time."""
    before: int | None = None
    while True:
        rows = audit.newest(kind=kind, before_id=before, limit=page)
        yield from rows
        if len(rows) < page:
            return
        before = rows[-1].id

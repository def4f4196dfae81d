"""Operator overrides: a traffic officer holds a phase, imposes a plan, or releases a junction.

Pure: requests in (bytes, the operator the broker vouched for, the time), decisions out. An
override is a wish like a policy's, and only the safety gate (core/safety.py) turns it into a
command, every tick, exactly as it does for the policy:

- `hold` phase N for S seconds: PhaseWish(N) each tick. The gate keeps minimum greens,
  intergreens, the maximum green (past it the most starved phase is served, then N again) and
  the maximum red of every movement: a hold never starves a movement.
- `plan` (phase order, greens, offset) for S seconds: a cycle plan. It is refused, naming the
  rule, when a green is below the phase's minimum (pedestrians included) or above its maximum,
  the cycle leaves the junction's bounds, or a movement would wait longer than max_red_s: the
  gate may clip a policy's wish, but an operator's plan runs as written or not at all.
- `flash` for S seconds: a FlashCommand (model.py), refreshed like a plan. It carries no timing
  for the gate to check: the roadside runs the intergreens into and out of flashing operation
  itself (controller/roadside_agent.py: the green's minimum, yellow, all-red; out of it a full
  intergreen of all-red before the next green).
- `release`: the junction goes back to the service's policy at the next tick.

An override expires `for_s` after it was accepted (default OperatorParams.default_s, at most
max_s) unless the operator renews it by sending it again. A new override replaces the one in
force, whoever sent it. When an override ends (release or expiry) the command in force is
withdrawn (re-sent once, expiring at the next tick) and the policy decides again.

    >>> req = OverrideRequest("J3", "alice", "hold", "r1", 0.0, for_s=120.0, phase=1)
    >>> ov, why = admit(req, junction_j3, OperatorParams(), now_s=0.0)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from controller.core.feed import make_plan_id
from controller.core.jsonread import read_json
from controller.core.messages import MESSAGE_VERSION
from controller.core.safety import (
    DECISION_PERIOD_S,
    GateMemo,
    GateOutcome,
    SignalView,
    gate_cycle,
    gate_phase,
    phase_conflict,
)
from controller.core.step import CoreState, JunctionState, TickResult
from controller.errors import FeedError
from controller.model import Command, CycleWish, FlashCommand, Intersection, PhaseCommand, PhaseWish, Refusal

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_AGE_S = 60.0  # an override older than this (queued while the service was away) is refused
MAX_REASON_CHARS = 200  # a force's stated reason (recorded in the audit store)
ACTIONS = ("hold", "plan", "flash", "release")


@dataclass(frozen=True)
class OperatorParams:
    """Operator overrides, config.toml [operators]."""

    default_s: float = 120.0  # an override lasts this long when the operator gives no duration
    max_s: float = 1800.0  # and never longer: keeping a junction on manual is a renewed, deliberate act
    console_clock_skew_s: float = 5.0  # how far an operator console's clock may run ahead of the service's:
    # an override stamped further ahead is refused (future_timestamp)


@dataclass(frozen=True)
class OverrideRequest:
    """One operator message, validated for form (not yet for safety)."""

    junction: str
    operator: str  # the broker user: only that user may publish on its override topic
    action: str  # one of ACTIONS
    request_id: str
    t_s: float  # when the operator sent it (service clock)
    for_s: float | None = None  # None: OperatorParams.default_s
    phase: int | None = None  # hold
    phase_order: tuple[int, ...] = ()  # plan
    greens_s: tuple[float, ...] = ()  # plan
    offset_s: float = 0.0  # plan
    force_reason: str = ""  # plan sent with "force": true and this stated reason: past the validation
    # gate (never past the safety gate); '' when not forced, or forced without a reason (no force)


@dataclass(frozen=True)
class FlashWish:
    """An operator's flash: every link flashing yellow (model.FlashCommand)."""


@dataclass(frozen=True)
class Override:
    """An accepted override in force at one junction until `until_s`."""

    junction: str
    operator: str
    action: str  # hold | plan | flash
    request_id: str
    since_s: float
    until_s: float
    wish: PhaseWish | CycleWish | FlashWish

    @property
    def plan_id(self) -> str:
        return make_plan_id(self.junction, "manual", self.operator, self.request_id)


def _number(obj: Mapping[str, Any], key: str, *, integer: bool = False) -> float:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int if integer else (int, float)):
        raise FeedError("wrong_type", f"override.{key} must be {'an integer' if integer else 'a number'}")
    if not math.isfinite(v):
        raise FeedError("not_finite", f"override.{key}")
    return v


def _plan_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    plan = obj.get("plan")
    if not isinstance(plan, dict):
        raise FeedError("wrong_type", "override.plan must be an object")
    order, greens = plan.get("phase_order"), plan.get("greens_s")
    if not isinstance(order, list) or not isinstance(greens, list):
        raise FeedError("wrong_type", "override.plan.phase_order and greens_s must be lists")
    if not order or len(order) != len(greens) or len(order) > 64:
        raise FeedError("out_of_range", "override.plan: phase_order and greens_s: same non-empty length")
    order_t = tuple(int(_number({"p": p}, "p", integer=True)) for p in order)
    greens_t = tuple(float(_number({"g": g}, "g")) for g in greens)
    offset_s = float(_number(plan, "offset_s")) if "offset_s" in plan else 0.0
    return {"phase_order": order_t, "greens_s": greens_t, "offset_s": offset_s}


def decode_override(
    payload: bytes,
    operator: str,
    junction: str | None,
    now_s: float,
    *,
    max_future_s: float = OperatorParams.console_clock_skew_s,
) -> OverrideRequest:
    """An operator message (docs/mqtt.md, "Override") into a request. `junction`: the junction
    of the topic it came on; the body must name the same. FeedError(reason) when malformed, or
    stamped more than `max_future_s` ahead of `now_s` or more than MAX_AGE_S behind it."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise FeedError("oversize", f"{len(payload)} bytes")
    obj = read_json(payload, parse_constant=_raise_not_finite)
    if not isinstance(obj, dict):
        raise FeedError("wrong_type", "override is not a JSON object")
    if obj.get("v") != MESSAGE_VERSION:
        raise FeedError("bad_version", f"v={obj.get('v')!r}")
    jid, action, rid = obj.get("junction"), obj.get("action"), obj.get("id")
    if not isinstance(jid, str) or not isinstance(rid, str) or not 0 < len(rid) <= 64:
        raise FeedError("wrong_type", "override.junction and override.id must be strings (id: 1..64 characters)")
    if junction is not None and jid != junction:
        raise FeedError("topic_mismatch", f"{jid[:40]} on {junction[:40]}'s topic")
    if action not in ACTIONS:
        raise FeedError("out_of_range", f"override.action={str(action)[:20]!r}, known: {', '.join(ACTIONS)}")
    t_s = float(_number(obj, "t"))
    if t_s > now_s + max_future_s:
        raise FeedError("future_timestamp", f"t={t_s:.1f} is {t_s - now_s:.1f} s ahead")
    if t_s < now_s - MAX_AGE_S:
        raise FeedError("stale_timestamp", f"t={t_s:.1f} is {now_s - t_s:.0f} s old")
    fields: dict[str, Any] = {}
    if obj.get("for_s") is not None:
        fields["for_s"] = float(_number(obj, "for_s"))
    if action == "hold":
        fields["phase"] = int(_number(obj, "phase", integer=True))
    elif action == "plan":
        fields.update(_plan_fields(obj))
        fields["force_reason"] = _force_reason(obj)
    return OverrideRequest(jid, operator, action, rid, t_s, **fields)


def _force_reason(obj: Mapping[str, Any]) -> str:
    """The stated reason of a plan sent with "force": true; '' without force or without a reason.
    FeedError when `force` is no boolean or `reason` no string of at most MAX_REASON_CHARS."""
    force, reason = obj.get("force", False), obj.get("reason", "")
    if not isinstance(force, bool):
        raise FeedError("wrong_type", "override.force must be true or false")
    if not isinstance(reason, str):
        raise FeedError("wrong_type", "override.reason must be a string")
    if len(reason) > MAX_REASON_CHARS:
        raise FeedError("out_of_range", f"override.reason: {len(reason)} characters > {MAX_REASON_CHARS}")
    return reason.strip() if force else ""


def _raise_not_finite(name: str) -> float:
    raise FeedError("not_finite", name)


def encode_override(req: OverrideRequest) -> bytes:
    """The operator's side of decode_override (controller/ctl.py)."""
    body: dict[str, Any] = {
        "v": MESSAGE_VERSION,
        "id": req.request_id,
        "junction": req.junction,
        "action": req.action,
        "t": req.t_s,
    }
    if req.for_s is not None:
        body["for_s"] = req.for_s
    if req.action == "hold":
        body["phase"] = req.phase
    if req.action == "plan":
        body["plan"] = {"phase_order": list(req.phase_order), "greens_s": list(req.greens_s), "offset_s": req.offset_s}
        if req.force_reason:
            body.update(force=True, reason=req.force_reason)
    return json.dumps(body, separators=(",", ":")).encode()


def _movements(j: Intersection, phase: int) -> str:
    return ", ".join(j.served_movements(phase)) or "none"


def plan_rules(j: Intersection, order: tuple[int, ...], greens_s: tuple[float, ...]) -> str:
    """'' when an operator's plan keeps the junction's limits as written; else the first rule it
    breaks, named with the junction, phase and movements (the gate would clip it: we refuse)."""
    n = len(j.phases)
    for p, g in zip(order, greens_s):
        if not 0 <= p < n:
            return f"phase {p} is not a phase of {j.id} (0..{n - 1})"
        ph = j.phases[p]
        if g < ph.min_green_s - 1e-9:
            return (
                f"min green {g:g} s < {ph.min_green_s:g} s required for {j.id} phase {p} (movements {_movements(j, p)})"
            )
        if g > ph.max_green_s + 1e-9:
            return (
                f"max green {g:g} s > {ph.max_green_s:g} s allowed for {j.id} phase {p} (movements {_movements(j, p)})"
            )
    return ""


def admit(
    req: OverrideRequest, j: Intersection | None, params: OperatorParams, now_s: float
) -> tuple[Override | None, str]:
    """(the override to put in force, '') or (None, the rule that refuses it). `j` is None for a
    junction the service does not control. A release is admitted as None with reason ''."""
    if j is None:
        return None, f"junction {req.junction} is not under this service's control"
    if req.action == "release":
        return None, ""
    for_s = params.default_s if req.for_s is None else req.for_s
    if not 0 < for_s <= params.max_s:
        return None, f"duration {for_s:g} s outside (0, {params.max_s:g}] s (config operators.max_s)"
    wish: PhaseWish | CycleWish | FlashWish
    if req.action == "flash":
        wish = FlashWish()
    elif req.action == "hold":
        if req.phase is None or not 0 <= req.phase < len(j.phases):
            return None, f"phase {req.phase} is not a phase of {j.id} (0..{len(j.phases) - 1})"
        why = phase_conflict(j, req.phase)
        if why:
            return None, f"{j.id}: {why}"
        wish = PhaseWish(req.phase, for_s)
    else:
        why = plan_rules(j, req.phase_order, req.greens_s)
        wish = CycleWish(req.phase_order, req.greens_s, req.offset_s)
        if not why:
            out = gate_cycle(j, wish, plan_id="check", seq=0, now_s=now_s, ttl_s=1.0)
            why = (
                f"{j.id}: {out.refused}"
                if out.command is None
                else (f"{j.id}: {'; '.join(out.clipped)}" if out.clipped else "")
            )
        if why:
            return None, why
    return Override(req.junction, req.operator, req.action, req.request_id, now_s, now_s + for_s, wish), ""


def signal_view(js: JunctionState, now_s: float) -> SignalView | None:
    """The signal as the gate sees it, from the junction's last roadside status."""
    st = js.status
    if st is None:
        return None
    elapsed_s = 0.0 if st.in_intergreen else st.time_in_phase_s + max(0.0, now_s - st.t_s)
    return SignalView(st.phase, st.in_intergreen, elapsed_s, js.red_since_s, js.crossing_red_since_s)


def gate(
    ov: Override, j: Intersection, js: JunctionState, now_s: float, ttl_s: float, memo: GateMemo | None = None
) -> GateOutcome:
    """The override's wish through the same safety gate as the policy's, for this tick. A flash
    is not for the gate (it has no timing: see _command). `memo`: the gate's memo of the core
    (Core.gate_memo), which only saves work."""
    view = signal_view(js, now_s)
    seq = js.seq + 1
    if isinstance(ov.wish, FlashWish):
        return GateOutcome(None, "a flash has no timing for the gate: the roadside sequences it")
    if isinstance(ov.wish, CycleWish):
        return gate_cycle(j, ov.wish, plan_id=ov.plan_id, seq=seq, now_s=now_s, ttl_s=ttl_s, view=view, memo=memo)
    if view is None:
        return GateOutcome(None, "no roadside status yet: the hold waits for one")
    wish = PhaseWish(ov.wish.phase, max(1.0, ov.until_s - now_s))
    return gate_phase(j, wish, view, plan_id=ov.plan_id, seq=seq, now_s=now_s, ttl_s=ttl_s, memo=memo)


Sent = Mapping[str, tuple[Command, float]]  # junction -> the override's last command sent, and when


def _command(
    ov: Override,
    j: Intersection,
    js: JunctionState,
    last: tuple[Command, float] | None,
    now_s: float,
    ttl_s: float,
    refresh_s: float,
    memo: GateMemo | None,
) -> tuple[Command | None, str]:
    """This tick's command for an overridden junction (None: the roadside has it), and a refusal.
    `last`: the override's own last command and when it was sent (the policy's commands, made
    and dropped meanwhile, do not count)."""
    cur, sent_s = last if last is not None else (None, float("-inf"))
    mine = cur is not None and cur.plan_id == ov.plan_id
    if cur is not None and mine and isinstance(ov.wish, (CycleWish, FlashWish)):
        if now_s - sent_s < refresh_s:
            return None, ""
        return replace(cur, seq=js.seq + 1, valid_from_s=now_s, expires_s=now_s + ttl_s), ""
    if isinstance(ov.wish, FlashWish):  # nothing to gate: the roadside runs the intergreens itself
        return FlashCommand(j.id, ov.plan_id, js.seq + 1, now_s, now_s + ttl_s), ""
    out = gate(ov, j, js, now_s, ttl_s, memo)
    if out.command is None:
        return None, out.refused
    if (
        mine
        and isinstance(cur, PhaseCommand)
        and isinstance(out.command, PhaseCommand)
        and out.command.phase == cur.phase
        and now_s - sent_s < refresh_s
    ):
        return None, ""
    return out.command, ""


def apply(
    overrides: Mapping[str, Override],
    ended: Mapping[str, Override],
    sent: Sent,
    state: CoreState,
    junctions: Mapping[str, Intersection],
    result: TickResult,
    now_s: float,
    *,
    ttl_s: float,
    refresh_s: float,
    memo: GateMemo | None = None,
) -> tuple[CoreState, TickResult, dict[str, tuple[Command, float]]]:
    """After core.step: the policy's commands for overridden junctions are dropped and the
    overrides' gated commands take their place. A junction whose override `ended` this tick
    keeps the policy's new command if it made one; otherwise the override's last command is
    withdrawn (re-sent once, expiring at the next decision, DECISION_PERIOD_S later). Sequence
    numbers continue the junction's. `memo`: the core's gate memo (Core.gate_memo). Returns the
    new state and result (its `manual`: the junctions under an override in force), and `sent`
    for the overrides still in force."""
    commands = [c for c in result.commands if c.junction not in overrides]
    refusals = list(result.refusals)
    states = dict(state.junctions)
    out_sent = {jid: v for jid, v in sent.items() if jid in overrides}
    for jid, ov in overrides.items():
        js = states.get(jid)
        if js is None:
            continue
        cmd, why = _command(ov, junctions[jid], js, sent.get(jid), now_s, ttl_s, refresh_s, memo)
        if why:
            refusals.append(Refusal(jid, f"override by {ov.operator}: {why}"))
        if cmd is not None:
            commands.append(cmd)
            states[jid] = replace(js, command=cmd, sent_s=now_s, seq=cmd.seq)
            out_sent[jid] = (cmd, now_s)
    for jid, ov in ended.items():
        js, last = states.get(jid), sent.get(jid)
        if js is None or any(c.junction == jid and c.plan_id != ov.plan_id for c in commands):
            continue  # the policy decided: its command supersedes the override's
        commands = [c for c in commands if c.junction != jid]  # at most a refresh of the override's
        if last is None:
            states[jid] = replace(js, command=None)
            continue
        cmd = replace(last[0], seq=js.seq + 1, valid_from_s=now_s, expires_s=now_s + DECISION_PERIOD_S)
        commands.append(cmd)
        states[jid] = replace(js, command=None, sent_s=now_s, seq=cmd.seq)
    new_state = replace(state, junctions=states)
    manual = tuple(sorted(jid for jid in overrides if jid in states))
    return new_state, replace(result, commands=tuple(commands), refusals=tuple(refusals), manual=manual), out_sent

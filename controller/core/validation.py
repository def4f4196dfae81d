"""The validation gate's rules (issue 14): which candidate plans go to the SUMO twin, and the
verdict on the twin's prediction. Pure: no I/O, no clock, no SUMO.

A candidate goes out only if
1. it passes the safety gate (`safety_refusal` is ''): the same rules an operator's plan meets
   in core/override.py (minimum and maximum greens, cycle bounds, max red of every movement);
   a candidate refused here never reaches the twin;
2. the twin predicted both runs (`Prediction` of the incumbent and of the candidate, same
   demand, same seed); a twin that failed or timed out gives `unvalidated`, never `passed`;
3. the candidate's predicted delay is no worse than the incumbent's by more than the margin,
   over the region and at every junction of it:
   candidate_s <= incumbent_s * (1 + margin) + slack_s.

`needs_validation` says whether a change of cycle plan is large enough to be simulated
(thresholds on cycle, split and offset); an operator's manual plan always is.

A change of policy or of its parameters (`PolicyChoice`, asked by an operator in a `PolicyChange`
message) cannot be judged plan by plan: the twin runs each policy in closed loop over the
horizon (sim/twin_policy.py) and the same margin judges the two predictions.

    >>> p = ValidationParams(margin=0.1, slack_s=0.0)
    >>> judge("", Prediction({"J": 100.0}), Prediction({"J": 130.0}), p).outcome
    'rejected'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from controller.core.jsonread import read_json
from controller.core.messages import MESSAGE_VERSION
from controller.core.override import MAX_AGE_S, MAX_PAYLOAD_BYTES, MAX_REASON_CHARS, plan_rules
from controller.core.safety import gate_cycle
from controller.errors import FeedError
from controller.model import CycleWish, Intersection

Outcome = Literal["passed", "rejected", "unvalidated"]


@dataclass(frozen=True)
class ValidationParams:
    """The validation gate, config.toml [validation] (docs/validation.md)."""

    enabled: bool = False  # operators' manual plans go through the twin before they are put in force
    network: str = ""  # the city's SUMO network (.net.xml) the twin runs, relative to the config file
    # the city's additional files (relative to the config file): the signal programs (tlLogic)
    # and vehicle types (vType) they hold are the twin's, as SUMO loads them
    additional_files: tuple[str, ...] = ()
    horizon_s: float = 900.0  # each twin run simulates this long
    window_s: float = 900.0  # the recent counts projected (flat) over the horizon
    mesoscopic: bool = False  # the twin runs SUMO's mesoscopic model: ~3x cheaper, slightly weaker prediction
    margin: float = 0.1  # fraction: the candidate's predicted delay may exceed the incumbent's by this much
    slack_s: float = 60.0  # and by this many vehicle-seconds more (noise of near-empty junctions)
    cycle_change_s: float = 10.0  # a cycle change above this is validated
    split_change_s: float = 5.0  # a change of any phase's green above this is validated
    offset_change_s: float = 10.0  # an offset change above this (around the cycle) is validated
    timeout_s: float = 30.0  # a twin not done after this long: verdict `unvalidated`, nothing pushed
    policy_timeout_s: float = 120.0  # the same for a policy's twin (two closed-loop runs of the controller)
    seed: int = 1  # SUMO's seed, the same for the incumbent's and the candidate's run
    max_twins: int = 2  # twins (each two SUMO runs) at a time for a cyclic policy's plans; the others wait
    revalidate_s: float = 3600.0  # the policy in force is validated again against the fixed plan this often (0: never)
    revalidate_shift: float = 0.3  # ... and when a region's measured demand moved by this share since its last check


@dataclass(frozen=True)
class Prediction:
    """What the twin predicts for one plan set over the horizon: per junction, the total time
    lost (vehicle-seconds) by the vehicles on its approach lanes."""

    delay_s: Mapping[str, float]
    vehicles: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return float(sum(self.delay_s.values()))


@dataclass(frozen=True)
class Verdict:
    """The gate's decision on one candidate, with its reasons and the predicted figures."""

    outcome: Outcome
    reasons: tuple[str, ...]
    incumbent: Prediction | None = None
    candidate: Prediction | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def figures(self) -> dict[str, Any]:
        """The predicted figures, JSON-ready (audit store, operator replies)."""

        def one(p: Prediction | None) -> dict[str, Any] | None:
            if p is None:
                return None
            return {
                "total_delay_s": round(p.total_s, 1),
                "delay_s": {j: round(v, 1) for j, v in sorted(p.delay_s.items())},
                "vehicles": dict(sorted(p.vehicles.items())),
            }

        return {"incumbent": one(self.incumbent), "candidate": one(self.candidate)}


def safety_refusal(j: Intersection, wish: CycleWish, now_s: float = 0.0) -> str:
    """'' when the cycle plan passes the safety gate as written (nothing clipped), else the rule
    it breaks, naming the junction."""
    why = plan_rules(j, wish.phase_order, wish.greens_s)
    if why:
        return f"{j.id}: {why}"
    out = gate_cycle(j, wish, plan_id="validation", seq=0, now_s=now_s, ttl_s=1.0)
    if out.command is None:
        return f"{j.id}: {out.refused}"
    return f"{j.id}: {'; '.join(out.clipped)}" if out.clipped else ""


def _worse(name: str, inc_s: float, cand_s: float, params: ValidationParams) -> str:
    limit_s = inc_s * (1.0 + params.margin) + params.slack_s
    if cand_s <= limit_s:
        return ""
    return (
        f"{name}: predicted delay {cand_s:.0f} veh-s > {limit_s:.0f} veh-s allowed "
        f"(incumbent {inc_s:.0f} veh-s, margin {params.margin:.0%} + {params.slack_s:g} veh-s)"
    )


def judge(
    safety: str, incumbent: Prediction | None, candidate: Prediction | None, params: ValidationParams, failure: str = ""
) -> Verdict:
    """The verdict. `safety`: safety_refusal's answer ('' = safe); `failure`: why the twin gave
    no prediction (timeout, error), '' when it did."""
    if safety:
        return Verdict("rejected", (f"safety gate: {safety}",), incumbent, candidate)
    if failure or incumbent is None or candidate is None:
        return Verdict("unvalidated", (f"twin: {failure or 'no prediction'}",), incumbent, candidate)
    reasons = []
    total = _worse("region", incumbent.total_s, candidate.total_s, params)
    if total:
        reasons.append(total)
    for jid in sorted(candidate.delay_s):
        why = _worse(jid, float(incumbent.delay_s.get(jid, 0.0)), float(candidate.delay_s[jid]), params)
        if why:
            reasons.append(why)
    if reasons:
        return Verdict("rejected", tuple(reasons), incumbent, candidate)
    return Verdict(
        "passed",
        (f"predicted delay {candidate.total_s:.0f} veh-s against the incumbent's {incumbent.total_s:.0f} veh-s",),
        incumbent,
        candidate,
    )


def _cycle_s(w: CycleWish) -> float:
    return float(sum(w.greens_s))


def needs_validation(incumbent: CycleWish | None, candidate: CycleWish, params: ValidationParams) -> str:
    """Why the change from `incumbent` to `candidate` must be simulated ('' when it is below
    every threshold). Greens are compared phase by phase; no incumbent plan: always."""
    if incumbent is None:
        return "no cycle plan in force"
    if set(incumbent.phase_order) != set(candidate.phase_order):
        return "other phases"
    d_cycle = abs(_cycle_s(candidate) - _cycle_s(incumbent))
    if d_cycle > params.cycle_change_s:
        return f"cycle changes by {d_cycle:g} s > {params.cycle_change_s:g} s"
    old = dict(zip(incumbent.phase_order, incumbent.greens_s))
    for p, g in zip(candidate.phase_order, candidate.greens_s):
        if abs(g - old[p]) > params.split_change_s:
            return f"phase {p} green changes by {abs(g - old[p]):g} s > {params.split_change_s:g} s"
    cycle_s = max(_cycle_s(candidate), 1e-9)
    d_off = abs(candidate.offset_s - incumbent.offset_s) % cycle_s
    d_off = min(d_off, cycle_s - d_off)
    if d_off > params.offset_change_s:
        return f"offset changes by {d_off:g} s > {params.offset_change_s:g} s"
    return ""


# -- a change of policy or of its parameters ---------------------------------------------------
ParamValue = float | int | bool | str


@dataclass(frozen=True)
class PolicyChoice:
    """A policy by name (controller/core/policies REGISTRY) and the parameters of its config
    section that differ from the service's config (name -> value)."""

    name: str
    params: tuple[tuple[str, ParamValue], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.name, "params": dict(self.params)}

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.name}({args})" if args else self.name


@dataclass(frozen=True)
class PolicyChange:
    """An operator's request to run another policy, or other parameters (action `policy` on the
    override topic of `junction`: the twin checks that junction's region; the service runs one
    policy, so the change applies to every junction it serves)."""

    junction: str
    operator: str
    request_id: str
    t_s: float
    choice: PolicyChoice
    force_reason: str = ""  # sent with "force": true and a reason: put in force past the twin


def _param(key: Any, value: Any) -> tuple[str, ParamValue]:
    if not isinstance(key, str) or not 0 < len(key) <= 64:
        raise FeedError("wrong_type", "policy.params: keys must be strings of 1..64 characters")
    if isinstance(value, float) and not math.isfinite(value):
        raise FeedError("not_finite", f"policy.params.{key}")
    if not isinstance(value, (bool, int, float, str)) or (isinstance(value, str) and len(value) > 64):
        raise FeedError("wrong_type", f"policy.params.{key} must be a number, a boolean or a short string")
    return key, value


def decode_policy_change(
    payload: bytes, operator: str, junction: str | None, now_s: float, *, max_future_s: float
) -> PolicyChange:
    """An operator's policy message (docs/validation.md, "A change of policy") into a request.
    FeedError(reason) when malformed, on another junction's topic, or stamped more than
    max_future_s ahead of now_s or MAX_AGE_S behind it. The policy name and the parameters are
    checked against the config when the change is admitted (controller/validation.py)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise FeedError("oversize", f"{len(payload)} bytes")
    obj = read_json(payload)
    if not isinstance(obj, dict) or obj.get("v") != MESSAGE_VERSION or obj.get("action") != "policy":
        raise FeedError("wrong_type", "a policy change is a JSON object with v and action 'policy'")
    jid, rid, name = obj.get("junction"), obj.get("id"), obj.get("policy")
    if not isinstance(jid, str) or not isinstance(rid, str) or not 0 < len(rid) <= 64:
        raise FeedError("wrong_type", "policy.junction and policy.id must be strings (id: 1..64 characters)")
    if junction is not None and jid != junction:
        raise FeedError("topic_mismatch", f"{jid[:40]} on {junction[:40]}'s topic")
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        raise FeedError("wrong_type", "policy.policy must be a policy name")
    t_s = obj.get("t")
    if isinstance(t_s, bool) or not isinstance(t_s, (int, float)) or not math.isfinite(t_s):
        raise FeedError("wrong_type", "policy.t must be a number")
    if t_s > now_s + max_future_s:
        raise FeedError("future_timestamp", f"t={t_s:.1f} is {t_s - now_s:.1f} s ahead")
    if t_s < now_s - MAX_AGE_S:
        raise FeedError("stale_timestamp", f"t={t_s:.1f} is {now_s - t_s:.0f} s old")
    raw = obj.get("params", {})
    if not isinstance(raw, dict) or len(raw) > 32:
        raise FeedError("wrong_type", "policy.params must be an object of at most 32 entries")
    params = tuple(sorted(_param(k, v) for k, v in raw.items()))
    force, reason = obj.get("force", False), obj.get("reason", "")
    if not isinstance(force, bool) or not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
        raise FeedError("wrong_type", f"policy.force: a boolean; policy.reason: at most {MAX_REASON_CHARS} characters")
    return PolicyChange(jid, operator, rid, float(t_s), PolicyChoice(name, params), reason.strip() if force else "")


def encode_policy_change(change: PolicyChange) -> bytes:
    """The operator's side of decode_policy_change (controller/ctl.py)."""
    body: dict[str, Any] = {
        "v": MESSAGE_VERSION,
        "id": change.request_id,
        "junction": change.junction,
        "action": "policy",
        "t": change.t_s,
        "policy": change.choice.name,
        "params": dict(change.choice.params),
    }
    if change.force_reason:
        body.update(force=True, reason=change.force_reason)
    return json.dumps(body, separators=(",", ":")).encode()

"""Encoders for the versioned MQTT contract (docs/mqtt.md) and the plan decoder.

The controller encodes plans and decodes feeds (core/feed.py); the field — a real roadside
unit or sim/field.py — does the opposite. Both sides use these functions so the wire format
lives in one place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.errors import FeedError
from controller.model import Command, CyclePlan, FlashCommand, PhaseCommand, SignalStatus

MESSAGE_VERSION = 1

Signer = Callable[[bytes, str], bytes]  # (plan body, junction) -> signed payload (core/signing.Keyring.sign)


def encode_detector_message(
    junction: str, t_s: float, period_s: float, detectors: Mapping[str, tuple[Mapping[str, int], float, float]]
) -> bytes:
    """detectors: id -> (counts by class, occupancy 0..1, mean speed m/s or -1)."""
    body = {
        "v": MESSAGE_VERSION,
        "junction": junction,
        "t": t_s,
        "period_s": period_s,
        "detectors": {d: {"counts": c, "occupancy": o, "speed_mps": s} for d, (c, o, s) in detectors.items()},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def status_body(status: SignalStatus, epoch: int | None = None) -> dict[str, Any]:
    """The status message's JSON object, before encoding: what `encode_status` sends and what
    core/feed.py's `check_status` checks (the in-process field hands it over as it is).
    `epoch`: the epoch of the plan `seq` belongs to (omitted when None: a v1 roadside without
    plan epochs)."""
    body = {
        "v": MESSAGE_VERSION,
        "junction": status.junction,
        "t": status.t_s,
        "phase": status.phase,
        "in_intergreen": status.in_intergreen,
        "time_in_phase_s": status.time_in_phase_s,
        "plan_id": status.plan_id,
        "seq": status.seq,
        "mode": status.mode,
        "faults": list(status.faults),
    }
    if epoch is not None:
        body["epoch"] = epoch
    return body


def encode_body(body: Mapping[str, Any]) -> bytes:
    """A message's JSON object on the wire (compact separators, as every encoder here)."""
    return json.dumps(body, separators=(",", ":")).encode()


def encode_status(status: SignalStatus, epoch: int | None = None) -> bytes:
    """The status message: `status_body` encoded."""
    return encode_body(status_body(status, epoch))


def encode_command(cmd: Command, epoch: int = 0, signer: Signer | None = None) -> bytes:
    """The plan message. Its identity is (epoch, seq): `epoch` is the controller's run number
    (it grows at every start, docs/security.md), seq grows within it. With `signer` the body
    ends with the key id and the HMAC signature (core/signing.py). Kinds: "cycle" (CyclePlan),
    "next_phase" (PhaseCommand), "flash" (FlashCommand: the identity and window alone)."""
    common = {
        "v": MESSAGE_VERSION,
        "junction": cmd.junction,
        "plan_id": cmd.plan_id,
        "epoch": epoch,
        "seq": cmd.seq,
        "valid_from": cmd.valid_from_s,
        "expires": cmd.expires_s,
    }
    if isinstance(cmd, CyclePlan):
        body = {
            **common,
            "kind": "cycle",
            "phase_order": list(cmd.phase_order),
            "greens_s": list(cmd.greens_s),
            "cycle_s": cmd.cycle_s,
            "offset_s": cmd.offset_s,
        }
    elif isinstance(cmd, PhaseCommand):
        body = {**common, "kind": "next_phase", "phase": cmd.phase, "hold_s": cmd.hold_s}
    else:
        body = {**common, "kind": "flash"}
    raw = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    return signer(raw, cmd.junction) if signer is not None else raw


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, kind):
        raise FeedError("wrong_type", f"plan.{key}")
    return v


_NUM = (int, float)


def _as_finite(v: int | float, what: str) -> float:
    try:
        x = float(v)
    except OverflowError:  # an integer beyond the float range
        raise FeedError("not_finite", what) from None
    if not math.isfinite(x):
        raise FeedError("not_finite", what)
    return x


def _finite(obj: dict[str, Any], key: str) -> float:
    return _as_finite(_field(obj, key, _NUM), f"plan.{key}")


def _reject_constant(name: str) -> float:
    raise FeedError("not_finite", f"plan contains {name}")


@dataclass(frozen=True)
class PlanMessage:
    """A decoded plan and its identity: (epoch, seq) orders plans across controller restarts."""

    command: Command
    epoch: int


def decode_plan(payload: bytes) -> PlanMessage:
    """Plan message -> PlanMessage. Refuses (FeedError) malformed JSON, another version, a field
    of the wrong type, NaN/Infinity anywhere, a negative epoch or seq. It does not check the
    signature (core/signing.py) nor the junction's limits (controller/roadside_agent.py)."""
    try:
        obj = json.loads(payload, parse_constant=_reject_constant)
    except FeedError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise FeedError("malformed_json", str(exc)[:80]) from None
    if not isinstance(obj, dict) or obj.get("v") != MESSAGE_VERSION:
        raise FeedError("bad_version", "plan message")
    epoch = obj.get("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise FeedError("wrong_type", "plan.epoch must be an integer >= 0")
    seq = _field(obj, "seq", int)
    if seq < 0:
        raise FeedError("out_of_range", f"plan.seq={seq}")
    common = {
        "junction": _field(obj, "junction", str),
        "plan_id": _field(obj, "plan_id", str),
        "seq": seq,
        "valid_from_s": _finite(obj, "valid_from"),
        "expires_s": _finite(obj, "expires"),
    }
    kind = obj.get("kind")
    if kind == "cycle":
        order = _field(obj, "phase_order", list)
        greens = _field(obj, "greens_s", list)
        if not all(type(i) is int for i in order) or not all(type(g) in _NUM for g in greens):
            raise FeedError("wrong_type", "plan.phase_order/greens_s")
        cmd: Command = CyclePlan(
            **common,
            phase_order=tuple(order),
            greens_s=tuple(_as_finite(g, "plan.greens_s") for g in greens),
            cycle_s=_finite(obj, "cycle_s"),
            offset_s=_finite(obj, "offset_s"),
        )
    elif kind == "next_phase":
        cmd = PhaseCommand(**common, phase=_field(obj, "phase", int), hold_s=_finite(obj, "hold_s"))
    elif kind == "flash":
        cmd = FlashCommand(**common)
    else:
        raise FeedError("wrong_type", f"plan.kind={str(kind)[:20]!r}")
    return PlanMessage(cmd, epoch)


def decode_command(payload: bytes) -> Command:
    """decode_plan without the epoch (in-process replays, where there is one controller run)."""
    return decode_plan(payload).command

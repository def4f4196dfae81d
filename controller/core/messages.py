"""Encoders for the versioned MQTT contract (docs/mqtt.md) and the plan decoder.

The controller encodes plans and decodes feeds (core/feed.py); the field — a real roadside
unit or sim/field.py — does the opposite. Both sides use these functions so the wire format
lives in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from controller.errors import FeedError
from controller.model import Command, CyclePlan, PhaseCommand, SignalStatus

MESSAGE_VERSION = 1


def topic(site: str, junction: str, kind: str) -> str:
    return f"tsc/v{MESSAGE_VERSION}/{site}/{junction}/{kind}"


def encode_detector_message(junction: str, t_s: float, period_s: float,
                            detectors: Mapping[str, tuple[Mapping[str, int], float, float]]) -> bytes:
    """detectors: id -> (counts by class, occupancy 0..1, mean speed m/s or -1)."""
    body = {
        "v": MESSAGE_VERSION, "junction": junction, "t": t_s, "period_s": period_s,
        "detectors": {d: {"counts": c, "occupancy": o, "speed_mps": s}
                      for d, (c, o, s) in detectors.items()},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def encode_status(status: SignalStatus) -> bytes:
    return json.dumps({
        "v": MESSAGE_VERSION, "junction": status.junction, "t": status.t_s, "phase": status.phase,
        "in_intergreen": status.in_intergreen, "time_in_phase_s": status.time_in_phase_s,
        "plan_id": status.plan_id, "seq": status.seq, "mode": status.mode, "faults": list(status.faults),
    }, separators=(",", ":")).encode()


def encode_command(cmd: Command) -> bytes:
    common = {"v": MESSAGE_VERSION, "junction": cmd.junction, "plan_id": cmd.plan_id, "seq": cmd.seq,
              "valid_from": cmd.valid_from_s, "expires": cmd.expires_s}
    if isinstance(cmd, CyclePlan):
        body = {**common, "kind": "cycle", "phase_order": list(cmd.phase_order),
                "greens_s": list(cmd.greens_s), "cycle_s": cmd.cycle_s, "offset_s": cmd.offset_s}
    else:
        body = {**common, "kind": "next_phase", "phase": cmd.phase, "hold_s": cmd.hold_s}
    return json.dumps(body, separators=(",", ":")).encode()


def _field(obj: dict, key: str, kind: type | tuple[type, ...]):
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, kind):
        raise FeedError("wrong_type", f"plan.{key}")
    return v


def decode_command(payload: bytes) -> Command:
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError("malformed_json", str(exc)[:80]) from None
    if not isinstance(obj, dict) or obj.get("v") != MESSAGE_VERSION:
        raise FeedError("bad_version", "plan message")
    num = (int, float)
    common = dict(junction=_field(obj, "junction", str), plan_id=_field(obj, "plan_id", str),
                  seq=_field(obj, "seq", int), valid_from_s=float(_field(obj, "valid_from", num)),
                  expires_s=float(_field(obj, "expires", num)))
    kind = obj.get("kind")
    if kind == "cycle":
        order = _field(obj, "phase_order", list)
        greens = _field(obj, "greens_s", list)
        if not all(isinstance(i, int) for i in order) or not all(isinstance(g, num) for g in greens):
            raise FeedError("wrong_type", "plan.phase_order/greens_s")
        return CyclePlan(**common, phase_order=tuple(order), greens_s=tuple(float(g) for g in greens),
                         cycle_s=float(_field(obj, "cycle_s", num)), offset_s=float(_field(obj, "offset_s", num)))
    if kind == "next_phase":
        return PhaseCommand(**common, phase=_field(obj, "phase", int), hold_s=float(_field(obj, "hold_s", num)))
    raise FeedError("wrong_type", f"plan.kind={kind!r}")

"""A roadside status message read typed (ControllerService.on_status's read).

`decode_status_report` gives what feed.decode_status_report gives, the same report or the same
refusal, faster on the messages a roadside sends. It first tries msgspec's decoder typed with the
status's shape (`_Status`: every field with its JSON type, checked in C while parsing, other
keys ignored as the general read ignores them), then checks in Python what the types do not say
(the version, the junction, the clock, the ranges, the faults' sizes). It takes only a
subset of what the general read accepts: an ASCII message under the size limit that msgspec reads
into that shape and that passes every check. Anything else (a refusal, a form it does not take: a
byte above 127, an integer past 64 bits, a float where an integer belongs, a boolean `v`) goes to
the general read (core/feed.py: the json module, then check_status), which decides it and names
the refusal's reason. On the messages both take, both give the same report
(tests/unit/test_statusread.py).

Pure (msgspec is a parser).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import msgspec

from controller.core import feed
from controller.core.feed import MAX_PAYLOAD_BYTES, RoadsideReport
from controller.core.messages import MESSAGE_VERSION
from controller.model import Intersection, SignalStatus

_RoadsideMode = Literal["local", "adaptive"]  # feed.ROADSIDE_MODES (tests/unit/test_statusread.py)


class _Status(msgspec.Struct, gc=False):
    """A status message as the typed read decodes it (docs/mqtt.md, "Roadside status")."""

    v: int
    junction: str
    t: float
    phase: int
    in_intergreen: bool
    time_in_phase_s: float
    plan_id: str
    seq: int
    mode: _RoadsideMode  # manual (the service's) and any other: not this shape
    faults: list[str]
    epoch: int = 0


_DECODE = msgspec.json.Decoder(_Status).decode
_ISFINITE = math.isfinite


def decode_status_report(
    payload: bytes,
    junctions: Mapping[str, Intersection],
    now_s: float,
    last_t_s: Mapping[str, float],
    max_future_s: float,
) -> RoadsideReport:
    """feed.decode_status_report (the same arguments, report and FeedError), typed where it can be."""
    report = _read_typed(payload, junctions, now_s, last_t_s, max_future_s)
    if report is None:
        report = feed.decode_status_report(payload, junctions, now_s, last_t_s, max_future_s)
    return report


def _read_typed(
    payload: bytes,
    junctions: Mapping[str, Intersection],
    now_s: float,
    last_t_s: Mapping[str, float],
    max_future_s: float,
) -> RoadsideReport | None:
    """The report of a status the typed read takes (module docstring); None for any other."""
    if len(payload) > MAX_PAYLOAD_BYTES or not payload.isascii():
        return None
    try:
        msg = _DECODE(payload)
    except (msgspec.DecodeError, RecursionError):  # (a ValidationError is a DecodeError; deep nesting recurses)
        return None
    jid, t_s, in_phase_s, faults = msg.junction, msg.t, msg.time_in_phase_s, msg.faults
    junction = junctions.get(jid)
    last = last_t_s.get(jid)
    if (
        msg.v != MESSAGE_VERSION
        or junction is None
        or not _ISFINITE(t_s)
        or t_s > now_s + max_future_s
        or (last is not None and t_s < last)
        or not 0 <= msg.phase < len(junction.phases)
        or not 0.0 <= in_phase_s <= feed.MAX_TIME_IN_PHASE_S
        or len(msg.plan_id) > feed.MAX_PLAN_ID_CHARS
        or not 0 <= msg.seq <= feed.MAX_SEQ
        or not 0 <= msg.epoch <= feed.MAX_SEQ
        or len(faults) > feed.MAX_FAULTS
        or any(len(f) > feed.MAX_FAULT_CHARS for f in faults)
    ):
        return None
    status = SignalStatus(
        junction=jid,
        t_s=t_s,
        phase=msg.phase,
        in_intergreen=msg.in_intergreen,
        time_in_phase_s=in_phase_s,
        plan_id=msg.plan_id,
        seq=msg.seq,
        mode=msg.mode,
        faults=tuple(faults),
    )
    return RoadsideReport(status, msg.epoch)

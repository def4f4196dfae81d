"""A roadside status message read typed (ControllerService.on_status's read).

`decode_status_report` gives what feed.decode_status_report gives, the same report or the same
refusal, faster on the messages a roadside sends. It first tries msgspec's decoder typed with the
status's shape (`_Status`: every field with its JSON type, checked in C while parsing, other
keys ignored as the general read ignores them), then feed.status_report on the struct: the rules
the types do not say (the version, the junction, the clock, the ranges, the faults' sizes), the
very function the general read walks on the JSON object. It takes only a
subset of what the general read accepts: an ASCII message under the size limit that msgspec reads
into that shape and that passes every check. Anything else (a refusal, a form it does not take: a
byte above 127, an integer past 64 bits, a float where an integer belongs, a boolean `v`) goes to
the general read (core/feed.py: the json module, then check_status), which decides it and names
the refusal's reason. On the messages both take, both give the same report
(tests/unit/test_statusread.py).

Pure (msgspec is a parser).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec

from controller.core import feed
from controller.core.feed import MAX_PAYLOAD_BYTES, RoadsideReport
from controller.errors import FeedError
from controller.model import Intersection

_RoadsideMode = Literal["local", "adaptive"]  # feed.ROADSIDE_MODES (tests/unit/test_statusread.py)


class _Status(msgspec.Struct, gc=False):
    """A status message as the typed read decodes it (docs/mqtt.md, "Roadside status"): the JSON
    types of feed.StatusFields (msgspec reads no float that is not finite: 1e400 and NaN are refused)."""

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
    program: str = ""


_DECODE = msgspec.json.Decoder(_Status).decode


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
        return feed.status_report(_DECODE(payload), junctions, now_s, last_t_s, max_future_s)
    except (msgspec.DecodeError, RecursionError, FeedError):  # (a ValidationError is a DecodeError)
        return None  # (deep nesting recurses; a refusal is the general read's to name)

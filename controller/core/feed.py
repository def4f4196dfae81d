"""Validation of field messages (detector feeds, roadside status) into model objects.

Pure: bytes in (or a status's fields, `check_status`, handed over in process), Snapshot or
SignalStatus out, or FeedError with a short machine-readable reason
(used as a metrics label) and a human detail. Nothing here keeps state; the caller passes the
service clock and the last accepted timestamps for the skew and monotonicity checks. The rules
of a detector reading live in core/feedrules.py, shared with the in-process array feed; the rules
of a roadside status are `status_report`, walked by check_status and by the typed read
(core/statusread.py).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from controller.core import feedrules as rules
from controller.core.jsonread import read_json
from controller.core.messages import MESSAGE_VERSION
from controller.errors import FeedError
from controller.model import DetectorReading, Intersection, SignalStatus, Snapshot

MAX_PAYLOAD_BYTES = 256 * 1024


def _decode(payload: bytes) -> dict[str, Any]:
    obj = _parse(payload)
    _check_version(obj)
    return obj


def _parse(payload: bytes) -> dict[str, Any]:
    """The wire's part of a message's checks: its size, its JSON (core/jsonread.py: nesting deeper
    than the reader can go is malformed_json too), an object."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise FeedError("oversize", f"{len(payload)} bytes")
    obj = read_json(payload, parse_constant=_reject_constant)
    if not isinstance(obj, dict):
        raise FeedError("wrong_type", "message is not a JSON object")
    return obj


def _check_version(obj: dict[str, Any]) -> None:
    if obj.get("v") != MESSAGE_VERSION:
        raise FeedError("bad_version", f"v={obj.get('v')!r}")


def _reject_constant(name: str) -> float:
    raise FeedError("not_finite", name)


def _number(obj: dict[str, Any], key: str, *, lo: float = -math.inf, hi: float = math.inf) -> float:
    return rules.check_number(key, obj.get(key), lo, hi)


_EMPTY: dict[str, Any] = {}
_NUM = (int, float)
_CLASSES = rules.CLASSES
_OCC_LO, _OCC_HI = rules.OCCUPANCY_RANGE
_SPEED_LO, _SPEED_HI = rules.SPEED_RANGE_MPS


def decode_detector_message(
    payload: bytes,
    junctions: Mapping[str, Intersection],
    last_t_s: Mapping[str, float],
    now_s: float,
    max_future_s: float,
) -> Snapshot:
    """One junction's detector message -> Snapshot. Unknown detectors or junctions, negative
    or implausible counts, non-monotonic timestamps or ones more than max_future_s ahead of the
    service clock are all refused."""
    obj = _decode(payload)
    jid = obj.get("junction")
    if not isinstance(jid, str):
        raise FeedError("wrong_type", "junction must be a string")
    junction = junctions.get(jid)
    if junction is None:
        raise FeedError("unknown_junction", jid[:40])
    t_s = _number(obj, "t")
    rules.check_time(t_s, last_t_s.get(jid), now_s, max_future_s)
    period_s = rules.check_period(obj.get("period_s"))
    dets = obj.get("detectors")
    if not isinstance(dets, dict):
        raise FeedError("wrong_type", "detectors must be an object")
    known = junction.detector_ids
    max_count = rules.max_count(period_s)
    readings = []
    for did, d in dets.items():
        if did not in known:
            raise FeedError("unknown_detector", str(did)[:60])
        if type(d) is not dict:
            raise FeedError("wrong_type", f"{did} must be an object")
        counts = d.get("counts", _EMPTY)
        if type(counts) is not dict:
            raise FeedError("wrong_type", f"{did}.counts must be an object")
        pairs: tuple[tuple[str, int], ...] = ()
        if counts:
            for cls, n in counts.items():
                if type(n) is not int or not 0 <= n <= max_count or cls not in _CLASSES:
                    rules.count_error(did, cls, n, max_count)
            pairs = tuple(sorted((c, n) for c, n in counts.items() if n))
        occupancy: Any = d.get("occupancy")
        speed: Any = d.get("speed_mps")
        # Fast path: plain numbers in range (JSON cannot carry NaN here: parse_constant refuses it).
        if type(occupancy) not in _NUM or not _OCC_LO <= occupancy <= _OCC_HI:
            occupancy = rules.check_occupancy(occupancy)
        if type(speed) not in _NUM or not _SPEED_LO <= speed <= _SPEED_HI:
            speed = rules.check_speed(speed)
        readings.append(DetectorReading(did, pairs, float(occupancy), float(speed)))
    return Snapshot(jid, t_s, period_s, tuple(readings))


ROADSIDE_MODES = ("local", "adaptive")  # what a roadside may say it is in
SERVICE_MODES = ("manual",)  # set by the service (operator control): a field device cannot claim it
MAX_TIME_IN_PHASE_S = 86_400.0
MAX_PLAN_ID_CHARS = 128
_JUNCTION_IN_PLAN_ID_CHARS = 64  # a longer junction id is cut and tagged with its hash


def make_plan_id(junction: str, *parts: str) -> str:
    """The plan id `junction-part-part...` a roadside echoes in its status, at most
    MAX_PLAN_ID_CHARS long and distinct for distinct inputs whatever their length: SUMO names a
    joined cluster after every node in it (ids of 150+ characters), so a longer junction id keeps
    its first characters and a hash of the whole id; a joined id still over the limit (long
    operator or request ids) keeps its first characters and a hash of the whole joined id."""
    if len(junction) > _JUNCTION_IN_PLAN_ID_CHARS:
        junction = _cut(junction, _JUNCTION_IN_PLAN_ID_CHARS)
    joined = "-".join((junction, *parts))
    return joined if len(joined) <= MAX_PLAN_ID_CHARS else _cut(joined, MAX_PLAN_ID_CHARS)


def _cut(text: str, max_chars: int) -> str:
    """`text` cut to `max_chars`, its last 13 characters `~` and 12 hex digits of its sha256."""
    return f"{text[: max_chars - 13]}~{hashlib.sha256(text.encode()).hexdigest()[:12]}"


MAX_FAULTS = 32
MAX_FAULT_CHARS = 256
MAX_SEQ = 2**53  # integers a JSON number carries exactly everywhere


@dataclass(frozen=True)
class RoadsideReport:
    """A validated roadside status and the epoch of the plan its `seq` belongs to (0 when the
    roadside does not report epochs)."""

    status: SignalStatus
    epoch: int


def _wrong_type(key: str, kind: type, v: object) -> FeedError:
    return FeedError("wrong_type", f"{key} must be {kind.__name__}, got {type(v).__name__}")


def _bad_faults() -> FeedError:
    return FeedError("wrong_type", f"faults must be a list of at most {MAX_FAULTS} short strings")


class StatusFields(Protocol):
    """A roadside status's fields as `status_report` reads them: a JSON object's (`_JsonStatus`, each
    field checked for its JSON type as it is read) or the typed read's struct, whose types msgspec
    checked (core/statusread.py). `v`, `junction` and `mode` are not typed: their rules say what they
    may be."""

    @property
    def v(self) -> Any: ...
    @property
    def junction(self) -> Any: ...
    @property
    def t(self) -> float: ...
    @property
    def phase(self) -> int: ...
    @property
    def in_intergreen(self) -> bool: ...
    @property
    def time_in_phase_s(self) -> float: ...
    @property
    def plan_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def epoch(self) -> int: ...
    @property
    def mode(self) -> Any: ...
    @property
    def faults(self) -> Sequence[Any]: ...
    @property
    def program(self) -> str: ...


class _JsonStatus:
    """A status's JSON object as StatusFields. A field's JSON type is checked when status_report reads
    it, so a refusal names the first rule broken in status_report's order, of a type or of a value."""

    __slots__ = ("_obj",)

    def __init__(self, obj: dict[str, Any]) -> None:
        self._obj = obj

    @property
    def v(self) -> Any:
        return self._obj.get("v")

    @property
    def junction(self) -> Any:
        return self._obj.get("junction")

    @property
    def t(self) -> float:
        return rules.check_number("t", self._obj.get("t"))

    @property
    def phase(self) -> int:
        v = self._obj.get("phase")
        if type(v) is int:
            return v
        raise _wrong_type("phase", int, v)

    @property
    def in_intergreen(self) -> bool:
        v = self._obj.get("in_intergreen")
        if type(v) is bool:
            return v
        raise _wrong_type("in_intergreen", bool, v)

    @property
    def time_in_phase_s(self) -> float:
        # as sent (an integer stays one): the range's refusal names the value as sent
        return rules.check_json_number("time_in_phase_s", self._obj.get("time_in_phase_s"))

    @property
    def plan_id(self) -> str:
        v = self._obj.get("plan_id")
        if type(v) is str:
            return v
        raise _wrong_type("plan_id", str, v)

    @property
    def seq(self) -> int:
        v = self._obj.get("seq")
        if type(v) is int:
            return v
        raise _wrong_type("seq", int, v)

    @property
    def epoch(self) -> int:
        epoch = self._obj.get("epoch", 0)
        if type(epoch) is not int:
            raise FeedError("wrong_type", "epoch must be an integer")
        return epoch

    @property
    def mode(self) -> Any:
        return self._obj.get("mode")

    @property
    def faults(self) -> Sequence[Any]:
        v = self._obj.get("faults")
        if type(v) is list:
            return v
        raise _wrong_type("faults", list, v)

    @property
    def program(self) -> str:
        v = self._obj.get("program", "")
        if type(v) is str:
            return v
        raise _wrong_type("program", str, v)


def decode_status_report(
    payload: bytes,
    junctions: Mapping[str, Intersection],
    now_s: float,
    last_t_s: Mapping[str, float],
    max_future_s: float,
) -> RoadsideReport:
    """One roadside status message -> RoadsideReport: its size and JSON (as a detector
    message's), then `check_status` on the object."""
    return check_status(_parse(payload), junctions, now_s, last_t_s, max_future_s)


def check_status(
    obj: dict[str, Any],
    junctions: Mapping[str, Intersection],
    now_s: float,
    last_t_s: Mapping[str, float],
    max_future_s: float,
) -> RoadsideReport:
    """A roadside status's fields (the JSON object of the message, or messages.status_body
    handed over in process) -> RoadsideReport: `status_report` on the object, with the rigour of
    the detector feed: every field present with its JSON type (in_intergreen a boolean, seq and
    phase integers, t and time_in_phase_s finite numbers, plan_id a string, faults a list; epoch,
    when present, an integer; program, when present, a string)."""
    return status_report(_JsonStatus(obj), junctions, now_s, last_t_s, max_future_s)


def status_report(
    fields: StatusFields,
    junctions: Mapping[str, Intersection],
    now_s: float,
    last_t_s: Mapping[str, float],
    max_future_s: float,
) -> RoadsideReport:
    """The rules of a roadside status, written once for both reads (check_status's and the typed
    read, core/statusread.py), in the order a refusal names the first one broken: the contract's
    version; a known junction; t at most max_future_s ahead of the service clock `now_s` and not
    before the junction's last accepted status (`last_t_s`; the caller records accepted ones, a
    refused one moves nothing); a phase of the junction; time_in_phase_s, plan_id, seq and epoch in
    range; a mode a roadside may claim (ROADSIDE_MODES; `manual` is the service's); at most
    MAX_FAULTS short faults; the optional program id as short as a plan_id. Each field is read once,
    in that order (so a JSON object's type checks come in that order too)."""
    v = fields.v
    if v != MESSAGE_VERSION:
        raise FeedError("bad_version", f"v={v!r}")
    jid = fields.junction
    junction = junctions.get(jid) if isinstance(jid, str) else None
    if junction is None:
        raise FeedError("unknown_junction", str(jid)[:40])
    t_s = fields.t
    if t_s > now_s + max_future_s:
        raise FeedError("future_timestamp", f"status t={t_s} now={now_s}")
    last = last_t_s.get(jid)
    if last is not None and t_s < last:
        raise FeedError("stale_timestamp", f"status t={t_s} last={last}")
    phase = fields.phase
    if not 0 <= phase < len(junction.phases):
        raise FeedError("out_of_range", f"phase={phase!r}")
    in_intergreen = fields.in_intergreen
    in_phase_s = fields.time_in_phase_s
    if not 0.0 <= in_phase_s <= MAX_TIME_IN_PHASE_S:
        raise FeedError("out_of_range", f"time_in_phase_s={str(in_phase_s)[:40]}")
    plan_id = fields.plan_id
    if len(plan_id) > MAX_PLAN_ID_CHARS:
        raise FeedError("out_of_range", f"plan_id of {len(plan_id)} characters")
    seq = fields.seq
    epoch = fields.epoch
    if not 0 <= seq <= MAX_SEQ or not 0 <= epoch <= MAX_SEQ:
        raise FeedError("out_of_range", f"seq={seq} epoch={epoch}")
    mode = fields.mode
    if mode in SERVICE_MODES:
        raise FeedError("forbidden_mode", f"mode={mode!r} is set by the service, not claimed by a roadside")
    if mode not in ROADSIDE_MODES:
        raise FeedError("out_of_range", f"mode={str(mode)[:20]!r}")
    faults = fields.faults
    if len(faults) > MAX_FAULTS:
        raise _bad_faults()
    for fault in faults:
        if type(fault) is not str or len(fault) > MAX_FAULT_CHARS:
            raise _bad_faults()
    program = fields.program
    if len(program) > MAX_PLAN_ID_CHARS:
        raise FeedError("out_of_range", f"program of {len(program)} characters")
    status = SignalStatus(jid, t_s, phase, in_intergreen, float(in_phase_s), plan_id, seq, mode, tuple(faults), program)
    return RoadsideReport(status, epoch)


def decode_status_message(
    payload: bytes,
    junctions: Mapping[str, Intersection],
    now_s: float,
    last_t_s: Mapping[str, float],
    max_future_s: float,
) -> SignalStatus:
    """decode_status_report without the epoch."""
    return decode_status_report(payload, junctions, now_s, last_t_s, max_future_s).status

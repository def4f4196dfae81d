"""Validation of field messages (detector feeds, roadside status) into model objects.

Pure: bytes in, Snapshot/SignalStatus out, or FeedError with a short machine-readable reason
(used as a metrics label) and a human detail. Nothing here keeps state; the caller passes the
last accepted timestamp for the monotonicity check.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from controller.errors import FeedError
from controller.model import VEHICLE_CLASSES, DetectorReading, Intersection, SignalStatus, Snapshot

MESSAGE_VERSION = 1
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_FUTURE_S = 5.0  # a feed may run this far ahead of the controller's clock
MAX_COUNT_PER_S = 20  # more vehicles than this over one loop in one second is implausible


def _decode(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise FeedError("oversize", f"{len(payload)} bytes")
    try:
        obj = json.loads(payload, parse_constant=_reject_constant)
    except FeedError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeedError("malformed_json", str(exc)[:80]) from None
    if not isinstance(obj, dict):
        raise FeedError("wrong_type", "message is not a JSON object")
    if obj.get("v") != MESSAGE_VERSION:
        raise FeedError("bad_version", f"v={obj.get('v')!r}")
    return obj


def _reject_constant(name: str) -> float:
    raise FeedError("not_finite", name)


def _number(obj: dict, key: str, *, lo: float = -math.inf, hi: float = math.inf) -> float:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise FeedError("wrong_type", f"{key} must be a number")
    if not math.isfinite(v):
        raise FeedError("not_finite", key)
    if not lo <= v <= hi:
        raise FeedError("out_of_range", f"{key}={v}")
    return float(v)


_EMPTY: dict = {}
_NUM = (int, float)
_CLASSES = frozenset(VEHICLE_CLASSES)


def _count_error(did: str, cls: object, n: object, max_count: float) -> None:
    if cls not in _CLASSES:
        raise FeedError("unknown_class", str(cls)[:20])
    if type(n) is not int:
        raise FeedError("wrong_type", f"{did}.counts.{cls} must be an integer")
    if n < 0:
        raise FeedError("negative_count", f"{did}.counts.{cls}={n}")
    raise FeedError("implausible_count", f"{did}.counts.{cls}={n}")


def decode_detector_message(payload: bytes, junctions: Mapping[str, Intersection],
                            last_t_s: Mapping[str, float], now_s: float) -> Snapshot:
    """One junction's detector message -> Snapshot. Unknown detectors or junctions, negative
    or implausible counts, non-monotonic or far-future timestamps are all refused."""
    obj = _decode(payload)
    jid = obj.get("junction")
    if not isinstance(jid, str):
        raise FeedError("wrong_type", "junction must be a string")
    junction = junctions.get(jid)
    if junction is None:
        raise FeedError("unknown_junction", jid[:40])
    t_s = _number(obj, "t")
    if t_s > now_s + MAX_FUTURE_S:
        raise FeedError("future_timestamp", f"t={t_s} now={now_s}")
    last = last_t_s.get(jid)
    if last is not None and t_s <= last:
        raise FeedError("stale_timestamp", f"t={t_s} last={last}")
    period_s = _number(obj, "period_s", lo=0.1, hi=60.0)
    dets = obj.get("detectors")
    if not isinstance(dets, dict):
        raise FeedError("wrong_type", "detectors must be an object")
    known = junction.detector_ids
    max_count = MAX_COUNT_PER_S * period_s
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
                    _count_error(did, cls, n, max_count)
            pairs = tuple(sorted((c, n) for c, n in counts.items() if n))
        occupancy, speed = d.get("occupancy"), d.get("speed_mps")
        # Fast path: plain numbers in range (JSON cannot carry NaN here: parse_constant refuses it).
        if type(occupancy) not in _NUM or not 0.0 <= occupancy <= 1.0:
            occupancy = _number(d, "occupancy", lo=0.0, hi=1.0)
        if type(speed) not in _NUM or not -1.0 <= speed <= 100.0:
            speed = _number(d, "speed_mps", lo=-1.0, hi=100.0)
        readings.append(DetectorReading(did, pairs, float(occupancy), float(speed)))
    return Snapshot(jid, t_s, period_s, tuple(readings))


def decode_status_message(payload: bytes, junctions: Mapping[str, Intersection]) -> SignalStatus:
    obj = _decode(payload)
    jid = obj.get("junction")
    junction = junctions.get(jid) if isinstance(jid, str) else None
    if junction is None:
        raise FeedError("unknown_junction", str(jid)[:40])
    phase = obj.get("phase")
    if isinstance(phase, bool) or not isinstance(phase, int) or not 0 <= phase < len(junction.phases):
        raise FeedError("out_of_range", f"phase={phase!r}")
    mode = obj.get("mode")
    if mode not in ("local", "adaptive", "manual"):
        raise FeedError("out_of_range", f"mode={mode!r}")
    faults = obj.get("faults", [])
    if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
        raise FeedError("wrong_type", "faults must be a list of strings")
    seq = obj.get("seq", 0)
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise FeedError("wrong_type", "seq must be an integer")
    return SignalStatus(
        junction=jid, t_s=_number(obj, "t"), phase=phase, in_intergreen=bool(obj.get("in_intergreen", False)),
        time_in_phase_s=_number(obj, "time_in_phase_s", lo=0.0), plan_id=str(obj.get("plan_id", "")),
        seq=seq, mode=mode, faults=tuple(faults),
    )

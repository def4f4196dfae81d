"""The validation rules of a detector reading, for the JSON feed (core/feed.py) and the
in-process array feed (core/feedarrays.py): both refuse the same readings for the same reason
(tests/unit/test_feedarrays.py checks it rule by rule against decode_detector_message).

Pure. Each check raises FeedError with the machine-readable reason used as a metrics label:
`wrong_type`, `not_finite`, `out_of_range`, `future_timestamp`, `stale_timestamp`,
`unknown_class`, `negative_count`, `implausible_count`.
"""

from __future__ import annotations

import math
from typing import NoReturn

from controller.errors import FeedError
from controller.model import VEHICLE_CLASSES

MAX_COUNT_PER_S = 20  # more vehicles than this over one loop in one second is implausible
PERIOD_RANGE_S = (0.1, 60.0)  # a message's period_s
OCCUPANCY_RANGE = (0.0, 1.0)  # share of the period the loop was covered
SPEED_RANGE_MPS = (-1.0, 100.0)  # mean speed over the loop; -1 when no vehicle passed
CLASSES = frozenset(VEHICLE_CLASSES)


def check_json_number(key: str, v: object) -> int | float:
    """v as it is, when it is a JSON-like number (not a boolean) and finite: check_number's first
    two checks, for a value whose range is checked after (feed.status_report names it as sent)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise FeedError("wrong_type", f"{key} must be a number")
    if isinstance(v, float) and not math.isfinite(v):
        raise FeedError("not_finite", key)
    return v


def check_number(key: str, v: object, lo: float = -math.inf, hi: float = math.inf) -> float:
    """v as a float: a JSON-like number (not a boolean), finite, within [lo, hi]. An integer
    beyond the float range (JSON allows any number of digits) is out of range."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise FeedError("wrong_type", f"{key} must be a number")
    if isinstance(v, float) and not math.isfinite(v):
        raise FeedError("not_finite", key)
    if not lo <= v <= hi:
        raise FeedError("out_of_range", f"{key}={str(v)[:40]}")
    try:
        return float(v)
    except OverflowError:
        raise FeedError("out_of_range", f"{key} has {len(str(v))} digits") from None


def check_period(period_s: object) -> float:
    return check_number("period_s", period_s, *PERIOD_RANGE_S)


def max_count(period_s: float) -> float:
    """The most vehicles one loop may plausibly count in a period of period_s seconds."""
    return MAX_COUNT_PER_S * period_s


def check_time(t_s: float, last_t_s: float | None, now_s: float, max_future_s: float) -> None:
    """A junction's reading time: at most max_future_s ahead of the service clock now_s, and
    after the last accepted one (last_t_s, None when none yet)."""
    if t_s > now_s + max_future_s:
        raise FeedError("future_timestamp", f"t={t_s} now={now_s}")
    if last_t_s is not None and t_s <= last_t_s:
        raise FeedError("stale_timestamp", f"t={t_s} last={last_t_s}")


def count_error(did: str, cls: object, n: object, max_count: float) -> NoReturn:
    """The reason a (class, count) entry of loop `did` is refused (call only for a bad one:
    an unknown class, a non-integer, a negative or an implausible count)."""
    if cls not in CLASSES:
        raise FeedError("unknown_class", str(cls)[:20])
    if type(n) is not int:
        raise FeedError("wrong_type", f"{did}.counts.{cls} must be an integer")
    if n < 0:
        raise FeedError("negative_count", f"{did}.counts.{cls}={n}")
    raise FeedError("implausible_count", f"{did}.counts.{cls}={n}")


def check_count(did: str, cls: object, n: object, max_count: float) -> None:
    if type(n) is not int or not 0 <= n <= max_count or cls not in CLASSES:
        count_error(did, cls, n, max_count)


def check_occupancy(occupancy: object) -> float:
    return check_number("occupancy", occupancy, *OCCUPANCY_RANGE)


def check_speed(speed_mps: object) -> float:
    return check_number("speed_mps", speed_mps, *SPEED_RANGE_MPS)

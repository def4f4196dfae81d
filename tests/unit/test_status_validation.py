"""Roadside statuses are validated with the rigour of the detector feed (controller/core/feed.py),
and through the service: a refused status moves no clock and changes nothing."""

from __future__ import annotations

import json

import pytest

from controller.config import Config
from controller.core.feed import decode_status_report
from controller.errors import FeedError
from controller.service import ControllerService
from tests.junction_fixtures import GOOD_STATUS, STATUS_JUNCTIONS


def body(**changes) -> bytes:
    obj = {**GOOD_STATUS, **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()


def reason(payload: bytes, now_s: float = 100.0, last: dict | None = None) -> str:
    with pytest.raises(FeedError) as exc:
        decode_status_report(payload, STATUS_JUNCTIONS, now_s, last or {}, 1.0)
    return exc.value.reason


def test_a_good_status_decodes_with_its_epoch():
    rep = decode_status_report(body(), STATUS_JUNCTIONS, 100.0, {}, 1.0)
    assert (rep.epoch, rep.status.seq, rep.status.phase, rep.status.mode) == (17, 3, 1, "adaptive")
    assert decode_status_report(body(epoch=...), STATUS_JUNCTIONS, 100.0, {}, 1.0).epoch == 0  # epoch is optional


@pytest.mark.parametrize(
    "changes, why",
    [
        ({"in_intergreen": "no"}, "wrong_type"),
        ({"in_intergreen": 0}, "wrong_type"),
        ({"in_intergreen": ...}, "wrong_type"),
        ({"phase": 1.0}, "wrong_type"),
        ({"phase": True}, "wrong_type"),
        ({"phase": 2}, "out_of_range"),
        ({"phase": -1}, "out_of_range"),
        ({"seq": "3"}, "wrong_type"),
        ({"seq": -1}, "out_of_range"),
        ({"seq": 2**60}, "out_of_range"),
        ({"epoch": 1.5}, "wrong_type"),
        ({"time_in_phase_s": -1.0}, "out_of_range"),
        ({"time_in_phase_s": 1e9}, "out_of_range"),
        ({"time_in_phase_s": "4"}, "wrong_type"),
        ({"plan_id": 3}, "wrong_type"),
        ({"plan_id": "x" * 500}, "out_of_range"),
        ({"faults": "none"}, "wrong_type"),
        ({"faults": [1]}, "wrong_type"),
        ({"faults": ["f"] * 100}, "wrong_type"),
        ({"mode": "flashing"}, "out_of_range"),
        ({"mode": "manual"}, "forbidden_mode"),
        ({"t": "100"}, "wrong_type"),
        ({"junction": "K"}, "unknown_junction"),
        ({"v": 2}, "bad_version"),
    ],
)
def test_hostile_statuses_are_refused_by_reason(changes, why):
    assert reason(body(**changes)) == why


@pytest.mark.parametrize(
    "changes, why",
    [  # several rules broken: the first in feed.status_report's order, of a type or of a value
        ({"phase": 2, "in_intergreen": "no"}, "out_of_range"),
        ({"phase": 2.0, "in_intergreen": "no"}, "wrong_type"),
        ({"t": 101.5, "phase": "1"}, "future_timestamp"),
        ({"time_in_phase_s": -1, "plan_id": 3}, "out_of_range"),
        ({"seq": -1, "epoch": "17"}, "wrong_type"),  # both types before the pair's range
        ({"mode": "manual", "faults": None}, "forbidden_mode"),
        ({"v": 2, "junction": "K"}, "bad_version"),
    ],
)
def test_the_first_rule_broken_names_the_refusal(changes, why):
    assert reason(body(**changes)) == why


def test_an_out_of_range_time_in_phase_is_named_as_sent():
    with pytest.raises(FeedError) as exc:
        decode_status_report(body(time_in_phase_s=10**400), STATUS_JUNCTIONS, 100.0, {}, 1.0)
    assert (exc.value.reason, exc.value.detail) == ("out_of_range", "time_in_phase_s=" + "1" + "0" * 39)
    with pytest.raises(FeedError) as exc:
        decode_status_report(body(time_in_phase_s=86_401), STATUS_JUNCTIONS, 100.0, {}, 1.0)
    assert exc.value.detail == "time_in_phase_s=86401"


def test_non_finite_status_is_refused():
    assert reason(body().replace(b'"time_in_phase_s": 4.0', b'"time_in_phase_s": NaN')) == "not_finite"


def test_status_from_the_future_or_the_past_is_refused():
    assert reason(body(t=100.0 + 1e9)) == "future_timestamp"
    assert reason(body(t=101.5)) == "future_timestamp"  # beyond the 1 s skew allowed
    decode_status_report(body(t=100.9), STATUS_JUNCTIONS, 100.0, {}, 1.0)  # within it
    assert reason(body(t=95.0), last={"J": 99.0}) == "stale_timestamp"


def _service() -> ControllerService:
    return ControllerService(STATUS_JUNCTIONS, Config(), "fixed", publish=lambda cmd, payload: None, start_s=100.0)


def test_a_future_status_does_not_move_the_services_clock():
    """Issue 11: messages stamped ahead made genuine ones refused as stale. A refused one must
    leave the last accepted time where it was."""
    svc = _service()
    svc.advance_clock(100.0)
    for k in range(5):
        svc.on_status(body(t=100.0 + 1e9 + k), "J")
    assert svc.rejected["future_timestamp"] == 5
    svc.on_status(body(t=100.0), "J")
    svc.on_status(body(t=100.5), "J")
    assert svc.rejected.get("stale_timestamp", 0) == 0 and len(svc._statuses) == 2


def test_detectors_from_within_the_skew_do_not_lock_out_the_genuine_feed():
    """With the clock skew bound at 1 s, a device that stamps ahead can shadow at most one
    genuine message, not five."""
    svc = _service()
    svc.advance_clock(100.0)
    det = lambda t: json.dumps({"v": 1, "junction": "J", "t": t, "period_s": 1.0, "detectors": {}}).encode()  # noqa: E731
    svc.on_detectors(det(104.9), "J")
    assert svc.rejected["future_timestamp"] == 1
    for k in range(5):
        svc.advance_clock(101.0 + k)
        svc.on_detectors(det(101.0 + k), "J")
    assert svc.rejected.get("stale_timestamp", 0) == 0


@pytest.mark.parametrize("read", ["general", "typed_or_general", "typed_only"])
def test_every_range_holds_its_limit_and_refuses_one_past_it_in_both_reads(read):
    """R, session 50: the rules are written once (feed.status_report), so the reads' equality cannot
    catch a bound moved there; each bound is pinned here, in each read. At the limit the status is
    read (by the typed read itself too), its faults carried whole; one past it is refused (the typed
    read leaves it to the general read: None)."""
    from controller.core import statusread
    from controller.core.feed import MAX_FAULT_CHARS, MAX_FAULTS, MAX_PLAN_ID_CHARS, MAX_SEQ, MAX_TIME_IN_PHASE_S

    decode = {
        "general": decode_status_report,
        "typed_or_general": statusread.decode_status_report,
        "typed_only": statusread._read_typed,
    }[read]
    faults = [f"f{i}".ljust(MAX_FAULT_CHARS, "x") for i in range(MAX_FAULTS)]
    limit = {
        "plan_id": "p" * MAX_PLAN_ID_CHARS,
        "seq": MAX_SEQ,
        "epoch": MAX_SEQ,
        "time_in_phase_s": MAX_TIME_IN_PHASE_S,
    }
    rep = decode(body(faults=faults, **limit), STATUS_JUNCTIONS, 100.0, {}, 1.0)
    assert rep is not None and rep.status.faults == tuple(faults) and rep.epoch == MAX_SEQ
    status = rep.status
    assert (status.plan_id, status.seq, status.time_in_phase_s) == (limit["plan_id"], MAX_SEQ, MAX_TIME_IN_PHASE_S)
    past = [
        ({"plan_id": "p" * (MAX_PLAN_ID_CHARS + 1)}, "out_of_range"),
        ({"seq": MAX_SEQ + 1}, "out_of_range"),
        ({"epoch": MAX_SEQ + 1}, "out_of_range"),
        ({"time_in_phase_s": MAX_TIME_IN_PHASE_S + 0.5}, "out_of_range"),
        ({"faults": [*faults, "f"]}, "wrong_type"),
        ({"faults": [*faults[:-1], "x" * (MAX_FAULT_CHARS + 1)]}, "wrong_type"),
    ]
    for changes, why in past:
        if read == "typed_only":
            assert decode(body(**changes), STATUS_JUNCTIONS, 100.0, {}, 1.0) is None, changes
            continue
        with pytest.raises(FeedError) as exc:
            decode(body(**changes), STATUS_JUNCTIONS, 100.0, {}, 1.0)
        assert exc.value.reason == why, changes

"""The in-process loop (sim/simulate.py) hands the service each roadside status as its message's
JSON object (messages.status_body), checked by feed.check_status, instead of encoding it and
decoding it back: the same report, field by field and type by type, for any status, and the
same refusal, reason by reason, for any hostile field; the service moves alike either way."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.config import Config
from controller.core.feed import check_status, decode_status_report
from controller.core.messages import encode_status, status_body
from controller.errors import FeedError
from controller.model import SignalStatus
from controller.service import ControllerService
from tests.junction_fixtures import GOOD_STATUS, STATUS_JUNCTIONS, two_phase

T = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)
IN_PHASE = st.floats(min_value=0.0, max_value=86_400.0, allow_nan=False, allow_infinity=False)
TEXT = st.text(alphabet="abcJ0123456789_-:.~", max_size=30)


@st.composite
def statuses(draw: st.DrawFn) -> SignalStatus:
    t_s = draw(T | st.integers(0, 10**7))
    return SignalStatus(
        "J",
        t_s,
        draw(st.integers(0, 1)),
        draw(st.booleans()),
        draw(IN_PHASE | st.integers(0, 86_400)),
        draw(TEXT),
        draw(st.integers(0, 2**53)),
        draw(st.sampled_from(["local", "adaptive"])),
        tuple(draw(st.lists(TEXT, max_size=3))),
    )


@settings(max_examples=300, deadline=None)
@given(status=statuses(), epoch=st.none() | st.integers(0, 2**53))
def test_a_status_checked_from_its_body_is_the_status_decoded_from_its_message(status, epoch) -> None:
    now_s = float(status.t_s)
    wire = decode_status_report(encode_status(status, epoch), STATUS_JUNCTIONS, now_s, {}, 1.0)
    body = check_status(status_body(status, epoch), STATUS_JUNCTIONS, now_s, {}, 1.0)
    assert body == wire
    assert repr(body) == repr(wire)  # the same types too (int and float, tuple and list)


HOSTILE = [
    {"in_intergreen": "no"},
    {"in_intergreen": 0},
    {"in_intergreen": ...},
    {"phase": 1.0},
    {"phase": True},
    {"phase": 2},
    {"seq": "3"},
    {"seq": -1},
    {"seq": 2**60},
    {"epoch": 1.5},
    {"time_in_phase_s": -1.0},
    {"time_in_phase_s": 1e9},
    {"time_in_phase_s": "4"},
    {"plan_id": 3},
    {"plan_id": "x" * 500},
    {"faults": "none"},
    {"faults": [1]},
    {"faults": ["f"] * 100},
    {"mode": "flashing"},
    {"mode": "manual"},
    {"t": "100"},
    {"t": 100.0 + 1e9},
    {"junction": "K"},
    {"junction": 7},
    {"v": 2},
    {"v": ...},
]


def _reason(check, arg) -> str:
    with pytest.raises(FeedError) as exc:
        check(arg, STATUS_JUNCTIONS, 100.0, {"J": 99.0}, 1.0)
    return exc.value.reason


@pytest.mark.parametrize("changes", HOSTILE, ids=[str(sorted(c))[:40] for c in HOSTILE])
def test_a_hostile_body_is_refused_for_the_reason_its_message_is(changes) -> None:
    obj = {k: v for k, v in {**GOOD_STATUS, **changes}.items() if v is not ...}
    assert _reason(check_status, obj) == _reason(decode_status_report, json.dumps(obj).encode())


def _service() -> ControllerService:
    return ControllerService({"J": two_phase()}, Config(), "fixed", publish=lambda c, p: None, start_s=100.0)


def test_the_service_takes_a_body_as_it_takes_the_message() -> None:
    """Accepted, refused (a stale one, another junction's topic), recorded in the ledger: alike."""
    by_wire, by_body = _service(), _service()
    sends = [(100.0, None), (99.0, None), (100.5, "K"), (100.5, "J"), (101.0, None)]
    for svc, hand in ((by_wire, by_wire.on_status), (by_body, by_body.on_status_body)):
        for t_s, topic in sends:
            svc.advance_clock(t_s)
            st_ = SignalStatus("J", t_s, 1, False, 4.0, "J-adaptive-3", 3, "adaptive")
            body = status_body(st_, 17)
            hand(encode_status(st_, 17) if hand == svc.on_status else body, topic)
    assert by_body._statuses == by_wire._statuses and len(by_wire._statuses) == 3
    assert by_body.rejected == by_wire.rejected == {"stale_timestamp": 1, "topic_mismatch": 1}
    assert by_body._status_t == by_wire._status_t

"""The typed status read (core/statusread.py) gives what the general read (core/feed.py
decode_status_report) gives: the same report, or a refusal with the same reason and detail, on
plain, hostile and random statuses; and it does take a roadside's plain status itself."""

from __future__ import annotations

import json
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import feed, statusread
from controller.core.messages import encode_status
from controller.errors import FeedError
from controller.model import SignalStatus
from tests.junction_fixtures import GOOD_STATUS, STATUS_JUNCTIONS

NOW_S = 100.0
LAST = {"J": 99.0}


def body(**changes) -> bytes:
    obj = {**GOOD_STATUS, **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()


def outcome(decode, payload: bytes, last: dict | None = None):
    try:
        return decode(payload, STATUS_JUNCTIONS, NOW_S, LAST if last is None else last, 1.0)
    except FeedError as exc:
        return ("refused", exc.reason, exc.detail)


def same(payload: bytes, last: dict | None = None):
    """Both reads' outcome, asserted equal (a report compares by value: its status's fields and epoch)."""
    general = outcome(feed.decode_status_report, payload, last)
    typed = outcome(statusread.decode_status_report, payload, last)
    assert typed == general, payload[:200]
    if not isinstance(general, tuple):  # a report: the same types too (an int t is read as a float by both)
        assert [type(v) for v in vars(typed.status).values()] == [type(v) for v in vars(general.status).values()]
    return general


PLAIN = [
    body(),
    body(epoch=...),  # epoch is optional: 0
    body(t=100, time_in_phase_s=4),  # integers where numbers belong
    body(t=100.9),  # within the skew
    body(faults=["loop J_N_stop stuck-on", "x" * 256]),
    body(mode="local", in_intergreen=True, phase=0, seq=0, epoch=0, plan_id=""),
    body(extra={"a": [1, 2, {"b": None}]}, more="ignored"),
    body(plan_id="J-\u00e9t\u00e9"),  # escaped non-ASCII in an ASCII message
    body(t=99.0),  # the last accepted time again: not stale
    body(seq=2**53, epoch=2**53),
    json.dumps(GOOD_STATUS, indent=2).encode(),
]


@pytest.mark.parametrize("payload", PLAIN)
def test_a_plain_status_is_read_typed_to_the_general_reads_report(payload):
    general = same(payload)
    assert not isinstance(general, tuple)
    assert statusread._read_typed(payload, STATUS_JUNCTIONS, NOW_S, LAST, 1.0) == general  # taken by the typed read


def test_the_service_read_takes_a_plain_status_without_the_general_read(monkeypatch):
    def general(*args):
        raise AssertionError("the general read")

    monkeypatch.setattr(feed, "decode_status_report", general)
    assert statusread.decode_status_report(body(), STATUS_JUNCTIONS, NOW_S, LAST, 1.0).status.seq == 3


def test_a_roadsides_own_message_is_read_typed():
    status = SignalStatus("J", 100.0, 1, False, 4.0, "J-adaptive-3", 3, "adaptive", ("f",))
    for payload in (encode_status(status), encode_status(status, epoch=17)):
        report = statusread._read_typed(payload, STATUS_JUNCTIONS, NOW_S, {}, 1.0)
        assert report is not None and report.status == status
        assert report == feed.decode_status_report(payload, STATUS_JUNCTIONS, NOW_S, {}, 1.0)


HOSTILE = [
    b'{"v": 1, "junction": "J", "t": 1',
    b"[1, 2]",
    b"null",
    b"\xef\xbb\xbf" + body(),  # a byte-order mark: the json module reads it, msgspec not
    body(plan_id="J-\u00e9").replace(b"\\u00e9", "\u00e9".encode()),  # raw UTF-8: left to the general read
    body(plan_id="J").replace(b'"J"', b'"\\ud800"', 1),  # a lone surrogate escape
    b"[" * 5000 + b"]" * 5000,
    b'{"v": 1, ' + b'"x": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    body(v=2),
    body(v=True),  # True == 1 to the general read
    body(v=1.0),
    body(v=...),
    body(junction="K"),
    body(junction=3),
    body(t="100"),
    body(t=True),
    body(t=...),
    body(t=NOW_S + 1.5),
    body(t=NOW_S + 1e9),
    body(t=95.0),  # before the last accepted one (LAST)
    body(t=10**400),
    body().replace(b'"t": 100.0', b'"t": 1e999'),
    body().replace(b'"t": 100.0', b'"t": NaN'),
    body().replace(b'"t": 100.0', b'"t": -Infinity'),
    body().replace(b'"time_in_phase_s": 4.0', b'"time_in_phase_s": NaN'),
    body(time_in_phase_s=-1.0),
    body(time_in_phase_s=1e9),
    body(time_in_phase_s=86_400),
    body(time_in_phase_s="4"),
    body(phase=1.0),
    body(phase=True),
    body(phase=2),
    body(phase=-1),
    body(phase=2**64),
    body(phase=-(2**64)),
    body(in_intergreen=0),
    body(in_intergreen="no"),
    body(in_intergreen=None),
    body(seq="3"),
    body(seq=-1),
    body(seq=2**53 + 1),
    body(seq=2**60),
    body(seq=2**70),
    body(seq=3.0),
    body(epoch=1.5),
    body(epoch=None),
    body(epoch=True),
    body(epoch=-1),
    body(epoch=2**64 + 1),
    body(plan_id=3),
    body(plan_id="x" * 129),
    body(plan_id=None),
    body(faults="none"),
    body(faults=[1]),
    body(faults=["f"] * 33),
    body(faults=["x" * 257]),
    body(faults=None),
    body(mode="flashing"),
    body(mode="manual"),
    body(mode=None),
    body(mode=...),
    body().replace(b'"phase": 1', b'"phase": 1, "phase": 2'),  # duplicate keys: the last one, in both
    body().replace(b'"phase": 1', b'"phase": 0, "phase": 1'),
    body().replace(b'"seq": 3', b'"seq": "3", "seq": 3'),
    b'{"v": 1}' + b" " * (feed.MAX_PAYLOAD_BYTES),  # oversize
    body(extra="x" * feed.MAX_PAYLOAD_BYTES),
    body(extra="zz").replace(b'"zz"', b'"\xff\xfe"'),  # invalid UTF-8 in a key msgspec skips
    body(plan_id="zz").replace(b'"zz"', b'"\xc3"'),
]


@pytest.mark.parametrize("payload", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_status_is_read_as_the_general_read(payload):
    same(payload)


def test_a_status_refused_by_its_clock_alone_is_refused_for_that_reason():
    assert same(body(t=95.0))[1] == "stale_timestamp"
    assert same(body(t=101.5), last={})[1] == "future_timestamp"
    assert same(body(t=95.0), last={}) == feed.decode_status_report(body(t=95.0), STATUS_JUNCTIONS, NOW_S, {}, 1.0)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
FIELD_VALUES = {
    "v": st.sampled_from([1, 2, True, 1.0]),
    "junction": st.sampled_from(["J", "K", ""]),
    "t": st.floats(95.0, 102.0) | st.integers(95, 102),
    "phase": st.integers(-1, 2),
    "in_intergreen": st.booleans(),
    "time_in_phase_s": st.floats(-1.0, 1e5) | st.integers(-1, 10**5),
    "plan_id": st.text(max_size=130),
    "seq": st.integers(-1, 2**54),
    "epoch": st.integers(-1, 2**54),
    "mode": st.sampled_from(["local", "adaptive", "manual", "flash"]),
    "faults": st.lists(st.text(max_size=3), max_size=34),
}


@st.composite
def statuses(draw) -> bytes:
    obj = dict(GOOD_STATUS)
    for key, values in FIELD_VALUES.items():
        choice = draw(st.integers(0, 9))
        if choice < 5:
            continue
        if choice < 8:
            obj[key] = draw(values)
        elif choice < 9:
            obj[key] = draw(JSON_VALUES)
        else:
            del obj[key]
    text = json.dumps(obj, ensure_ascii=draw(st.booleans())).encode()
    if draw(st.integers(0, 3)) == 0:  # random bytes written over it
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.binary(max_size=4)) + text[at:]
    return text


@settings(max_examples=400, deadline=None)
@given(statuses())
def test_random_statuses_are_read_as_the_general_read(payload):
    same(payload)


def test_a_rule_added_to_the_status_rules_reaches_both_reads(monkeypatch):
    """feed.status_report is the one place a status rule is written: a rule added there (here, an even
    seq) refuses in the general read, in check_status and in the typed read, which leaves it to the
    general read to name; a status that keeps it is still read typed."""
    rules = feed.status_report

    def with_even_seq(fields, *args):
        report = rules(fields, *args)
        if report.status.seq % 2:
            raise FeedError("odd_seq", f"seq={report.status.seq}")
        return report

    monkeypatch.setattr(feed, "status_report", with_even_seq)
    odd = body(seq=3)
    assert statusread._read_typed(odd, STATUS_JUNCTIONS, NOW_S, LAST, 1.0) is None
    assert same(odd)[:2] == ("refused", "odd_seq")
    with pytest.raises(FeedError, match="odd_seq"):
        feed.check_status(json.loads(odd), STATUS_JUNCTIONS, NOW_S, LAST, 1.0)
    even = body(seq=4)
    assert statusread._read_typed(even, STATUS_JUNCTIONS, NOW_S, LAST, 1.0) == same(even)


def test_both_reads_give_the_status_rules_the_same_fields():
    """The typed struct, the JSON object's view and the rules' protocol name the same fields."""
    protocol = {name for name, v in vars(feed.StatusFields).items() if isinstance(v, property)}
    view = {name for name, v in vars(feed._JsonStatus).items() if isinstance(v, property)}
    # program: optional, sent only when known (tests/unit/test_status_program.py)
    assert set(statusread._Status.__struct_fields__) == protocol == view == set(GOOD_STATUS) | {"program"}


def test_the_typed_read_takes_the_modes_a_roadside_may_claim():
    assert typing.get_args(statusread._RoadsideMode) == feed.ROADSIDE_MODES


def test_the_service_reads_a_status_typed(monkeypatch):
    """ControllerService.on_status goes through the typed read (and still keeps the status)."""
    from controller.config import Config
    from controller.service import ControllerService

    taken = []
    read = statusread._read_typed
    monkeypatch.setattr(statusread, "_read_typed", lambda *args: taken.append(args[0]) or read(*args))
    svc = ControllerService(STATUS_JUNCTIONS, Config(), "fixed", publish=lambda cmd, payload: None, start_s=NOW_S)
    svc.advance_clock(NOW_S)
    svc.on_status(body(), "J")
    assert taken == [body()] and len(svc._statuses) == 1 and not svc.rejected

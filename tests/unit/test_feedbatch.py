"""A tick's detector messages decoded as a batch (core/feedbatch.py, ControllerService.on_detector_batch)
accept, refuse and read exactly what on_detectors does message by message: same reasons, same
readings, same last timestamps; the plain messages go through the array frame."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.config import Config
from controller.core import feedarrays, feedbatch
from controller.core.feedbatch import BatchLayout, read_message, split_batch
from controller.model import VEHICLE_CLASSES
from controller.service import ControllerService
from tests.junction_fixtures import two_phase_as

ROOT = Path(__file__).resolve().parents[2]
JS = {jid: two_phase_as(jid) for jid in ("A", "B", "C", "D", "E", "F", "G", "H")}
NOW_S = 100.0


def body(jid: str, t: float = NOW_S, **over: object) -> dict:
    """A plain message of junction jid: its loops in model order, varied readings."""
    dets = {
        d.id: {"counts": {"car": k % 3, "bus": (k + 1) % 2}, "occupancy": 0.1 * (k % 5), "speed_mps": 3.5 + k}
        for k, d in enumerate(JS[jid].detectors)
    }
    msg = {"v": 1, "junction": jid, "t": t, "period_s": 1.0, "detectors": dets}
    msg.update(over)
    return msg


def enc(msg: dict) -> bytes:
    return json.dumps(msg).encode()


def with_loop(jid: str, k: int, **loop: object) -> bytes:
    msg = body(jid)
    did = JS[jid].detectors[k].id
    msg["detectors"][did] = {**msg["detectors"][did], **loop}
    return enc(msg)


def service() -> ControllerService:
    svc = ControllerService(JS, Config(), "fixed", publish=lambda cmd, payload: None, start_s=NOW_S - 1)
    svc.advance_clock(NOW_S)
    return svc


def readings(svc: ControllerService) -> dict[str, list]:
    """Each junction's accepted snapshots in the order the core folds them (frames, then snapshots)."""
    out: dict[str, list] = {}
    for frame, accepted in svc._frames:
        for k, jid in enumerate(frame.layout.junctions):
            if accepted[k]:
                out.setdefault(jid, []).append(feedarrays.snapshot(frame, k))
    for snap in svc._snaps:
        out.setdefault(snap.junction, []).append(snap)
    return out


def both(messages: list[tuple[str | None, bytes]], last_t: dict | None = None):
    """The batch, and the batch with each message read ahead (as it arrived: read_detector_message),
    against on_detectors message by message: the same refusals, last times and readings."""
    one, batch, ahead = service(), service(), service()
    for svc in (one, batch, ahead):
        svc._last_t.update(last_t or {})
    for jid, payload in messages:
        one.on_detectors(payload, junction=jid)
    batch.on_detector_batch(messages)
    ahead.on_detector_batch(messages, [ahead.read_detector_message(payload, jid) for jid, payload in messages])
    for svc in (batch, ahead):
        assert svc.rejected == one.rejected
        assert svc.received == one.received == len(messages)
        assert svc._last_t == one._last_t
        assert readings(svc) == readings(one)
    assert [f[1].tolist() for f in ahead._frames] == [f[1].tolist() for f in batch._frames]
    return one, batch


def test_plain_messages_go_through_one_frame_and_read_as_the_json_path():
    msgs = [(jid, enc(body(jid))) for jid in reversed(list(JS))]  # arrival order is not the layout's
    one, batch = both(msgs)
    assert not one.rejected
    assert len(batch._frames) == 1 and not batch._snaps
    assert batch._frames[0][1].sum() == len(JS)


HOSTILE = [
    (b'{"v": 1, "junction": "A", "t": 1', "malformed_json"),
    (enc(body("A", v=2)), "bad_version"),
    (enc(body("A")).replace(b"3.5", b"NaN", 1), "not_finite"),
    (enc(body("A")).replace(b'"speed_mps": 3.5', b'"speed_mps": 1e999', 1), "not_finite"),
    (enc(body("A", t=NOW_S + 60)), "future_timestamp"),
    (enc(body("A", t=NOW_S - 50)), "stale_timestamp"),
    (enc(body("A", t=True)), "wrong_type"),
    (enc(body("A", period_s=0)), "out_of_range"),
    (enc(body("A", junction="Z")), "unknown_junction"),
    (enc(body("B", t=NOW_S + 1)), "topic_mismatch"),
    (with_loop("A", 0, counts={"car": -1}), "negative_count"),
    (with_loop("A", 1, counts={"bus": 999, "car": -1}), "implausible_count"),  # the message's own order
    (with_loop("A", 1, counts={"car": 18446744073709551617}), "implausible_count"),
    (with_loop("A", 0, counts={"car": True}), "wrong_type"),
    (with_loop("A", 0, counts={"tank": 1}), "unknown_class"),
    (with_loop("A", 0, counts=None), "wrong_type"),
    (with_loop("A", 2, occupancy=1.5), "out_of_range"),
    (with_loop("A", 2, occupancy=True), "wrong_type"),
    (with_loop("A", 2, occupancy="0.3"), "wrong_type"),
    (enc(body("A")).replace(b'"occupancy": 0.2', b'"occupancy": 1' + b"0" * 400, 1), "out_of_range"),
    (with_loop("A", 3, speed_mps=-5), "out_of_range"),
    (enc(body("A", detectors={"ghost": {"counts": {}, "occupancy": 0, "speed_mps": 0}})), "unknown_detector"),
    (enc(body("A", detectors=[])), "wrong_type"),
]


@pytest.mark.parametrize("payload, reason", HOSTILE, ids=[r for _, r in HOSTILE])
def test_a_hostile_message_in_a_batch_is_refused_for_the_json_paths_reason(payload, reason):
    msgs = [(jid, enc(body(jid))) for jid in JS if jid != "A"]
    msgs.insert(3, ("A", payload))
    one, batch = both(msgs, last_t={"A": NOW_S - 10})
    assert one.rejected == Counter({reason: 1})
    assert batch._frames and batch._frames[0][1].sum() == len(JS) - 1  # the others still in a frame


def test_messages_json_reads_and_orjson_does_not_are_read_one_by_one():
    bom = b"\xef\xbb\xbf" + enc(body("A"))  # the json module reads a byte-order mark; orjson refuses it
    one, batch = both([("A", bom), *[(jid, enc(body(jid))) for jid in JS if jid != "A"]])
    assert not one.rejected and [s.junction for s in batch._snaps] == ["A"]


def test_a_junctions_later_messages_keep_their_order():
    msgs = [(jid, enc(body(jid))) for jid in JS]
    msgs += [("B", enc(body("B", t=NOW_S + 1))), ("B", enc(body("B", t=NOW_S + 1))), ("C", enc(body("C", t=NOW_S - 3)))]
    msgs.insert(0, ("D", b"\xef\xbb\xbf" + enc(body("D", t=NOW_S - 1))))  # read one by one: D's next follows it
    one, batch = both(msgs)
    assert one.rejected == Counter({"stale_timestamp": 2})
    assert {jid: len(v) for jid, v in readings(batch).items()} == {jid: 1 + (jid in "BD") for jid in JS}


def test_messages_with_another_timestamp_form_their_own_frame_or_go_one_by_one():
    msgs = [(jid, enc(body(jid, t=NOW_S - (k % 2)))) for k, jid in enumerate(JS)]
    _, batch = both(msgs)
    assert len(batch._frames) == 2  # 4 and 4 junctions: each at least 1/64 of 8
    layout = BatchLayout.build({f"X{k}": JS["A"] for k in range(200)})
    split = split_batch([(None, enc(body("A")))], layout)  # 1 of 200 junctions: cheaper alone
    assert not split.frames and split.rest == (0,)


def test_loops_in_another_order_are_read_one_by_one():
    msg = body("A")
    msg["detectors"] = dict(reversed(msg["detectors"].items()))
    one, batch = both([("A", enc(msg)), ("B", enc(body("B")))])
    assert not one.rejected and [s.junction for s in batch._snaps] == ["A"]


def test_reads_made_ahead_are_one_per_message():
    layout = BatchLayout.build(JS)
    msgs = [(jid, enc(body(jid))) for jid in JS]
    reads = [read_message(payload, jid, layout) for jid, payload in msgs]
    with pytest.raises(ValueError, match="7 reads for 8 messages"):
        split_batch(msgs, layout, reads[1:])


def test_a_read_made_ahead_is_the_one_the_batch_takes():
    """The batch takes each message's read as given, without reading the message again: a read
    of another message in its place shows (A's read of a second later makes a frame of its own)."""
    layout = BatchLayout.build(JS)
    msgs = [(jid, enc(body(jid))) for jid in JS]
    reads = [read_message(payload, jid, layout) for jid, payload in msgs]
    assert [frame.t_s for frame, _ in split_batch(msgs, layout, reads).frames] == [NOW_S]
    later = read_message(enc(body("A", t=NOW_S + 1)), "A", layout)
    split = split_batch(msgs, layout, [later, *reads[1:]])
    assert sorted(frame.t_s for frame, _ in split.frames) == [NOW_S, NOW_S + 1]


@pytest.mark.parametrize(
    "speed", [0, 1, 7, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 5e-324, 1.7976931348623157e308]
)
def test_integer_and_extreme_readings_read_as_the_json_path(speed):
    """Occupancy and speed as JSON integers (the frame holds them as floats) and at the ends of what
    orjson reads: the frame's floats are the JSON path's, and a refusal is for its reason."""
    msgs = [(jid, with_loop(jid, 1, occupancy=1, speed_mps=speed)) for jid in JS]
    one, _ = both(msgs)
    assert sum(one.rejected.values()) in (0, len(JS))


def without(jid: str, k: int, key: str, **loop: object) -> bytes:
    msg = body(jid)
    did = JS[jid].detectors[k].id
    msg["detectors"][did] = {f: v for f, v in {**msg["detectors"][did], **loop}.items() if f != key}
    return enc(msg)


LOOP_FORMS = [
    (lambda jid: without(jid, 1, "counts"), True),  # no counts: none counted, still plain
    (lambda jid: with_loop(jid, 2, extra={"x": 1}, note="n"), True),  # keys the reading does not use
    (
        lambda jid: enc(body(jid, detectors={d: dict(reversed(v.items())) for d, v in body(jid)["detectors"].items()})),
        True,
    ),
    (lambda jid: without(jid, 0, "occupancy"), False),
    (lambda jid: without(jid, 3, "speed_mps"), False),
    (lambda jid: without(jid, 0, "counts", occupancy=None), False),
]


@pytest.mark.parametrize(
    "form, plain",
    LOOP_FORMS,
    ids=["no_counts", "extra_keys", "keys_reversed", "no_occupancy", "no_speed", "no_counts_bad_occupancy"],
)
def test_a_loop_without_a_reading_or_with_more_reads_as_the_json_path(form, plain):
    """A loop's readings are taken by key, all three at once when all are there: a loop without
    counts, with other keys or with its keys in another order reads as the JSON path's, in the frame;
    a loop without occupancy or speed is refused for the JSON path's reason."""
    one, batch = both([(jid, form(jid)) for jid in JS])
    assert bool(one.rejected) is not plain
    if plain:
        assert batch._frames[0][1].sum() == len(JS)


def test_a_junction_without_loops_reads_as_the_json_path(monkeypatch):
    """A junction modelled without loops (Intersection.detectors empty: the model allows it, a
    junction file does not) sends `detectors: {}`: no loop to read (feedbatch._columns' fallback,
    not the three readings at once), accepted in the frame with the others as the JSON path does."""
    monkeypatch.setitem(JS, "Z", replace(two_phase_as("Z"), detectors=()))
    one, batch = both([(jid, enc(body(jid))) for jid in JS])
    assert not one.rejected and body("Z")["detectors"] == {}
    assert len(batch._frames) == 1 and batch._frames[0][1].sum() == len(JS)


# -- the typed read (msgspec) against the general read (orjson and the columns per loop) -------
def _frame_bytes(read, layout: BatchLayout) -> tuple:
    """The frame a plain read makes alone: its time, period and arrays to the bit (-0.0 is not 0.0)."""
    jid = read[0]
    ((frame, present),) = split_batch([(jid, b"")], layout, [read]).frames
    arrays = (frame.counts, frame.occupancy, frame.speed_mps, present)
    return (frame.t_s, frame.period_s, *(a.dtype.str + ":" + a.tobytes().hex() for a in arrays))


def _typed_is_the_general_read(payload: bytes, jid: str | None) -> bool:
    """A message the typed read takes is plain to the general read, with the same junction and the
    same frame to the bit. Returns whether the typed read took it."""
    layout = BatchLayout.build(JS)
    typed = feedbatch._read_typed(payload, jid, layout)
    if typed is None:
        return False
    parsed = feedbatch._read_parsed(payload, jid, layout)
    assert parsed[1] is not None, payload
    assert typed[0] == parsed[0] and typed[1][:2] == parsed[1][:2]
    assert _frame_bytes(typed, layout) == _frame_bytes(parsed, layout)
    return True


def test_a_plain_message_is_read_typed_to_the_general_reads_frame():
    payloads = [enc(body(jid)) for jid in JS] + [form("A") for form, plain in LOOP_FORMS if plain]
    payloads.append(with_loop("A", 1, counts={"motorcycle": 2, "car": 0, "truck": 3, "bus": 1}))
    assert all(_typed_is_the_general_read(p, json.loads(p)["junction"]) for p in payloads)
    assert _typed_is_the_general_read(enc(body("A")), None)  # no topic: the body's junction
    layout = BatchLayout.build(JS)
    typed = feedbatch._read_typed(payloads[0], "A", layout)
    assert read_message(payloads[0], "A", layout) == typed != feedbatch._read_parsed(payloads[0], "A", layout)


def test_junctions_with_other_numbers_of_loops_read_typed_to_the_general_reads_frame():
    """The typed read takes each junction's per-loop and class columns from the layout
    (BatchLayout.every_class, one pair per number of loops): with 1 to 4 loops at junctions side by
    side, each message's frame is the general read's to the bit, every class counted."""
    js = {jid: replace(JS[jid], detectors=JS[jid].detectors[:k]) for k, jid in enumerate("ABCD", start=1)}
    js["E"] = JS["E"]
    layout = BatchLayout.build(js)
    every = {c: k + 1 for k, c in enumerate(VEHICLE_CLASSES)}
    for jid, j in js.items():
        dets = {d.id: {"counts": every, "occupancy": 0.25, "speed_mps": 4.0 + k} for k, d in enumerate(j.detectors)}
        payload = enc({"v": 1, "junction": jid, "t": NOW_S, "period_s": 1.0, "detectors": dets})
        typed = feedbatch._read_typed(payload, jid, layout)
        assert typed is not None
        assert typed == feedbatch._read_parsed(payload, jid, layout)
        assert _frame_bytes(typed, layout) == _frame_bytes(feedbatch._read_parsed(payload, jid, layout), layout)
    assert len({id(pair) for pair in layout.every_class}) == len({len(j.detectors) for j in js.values()})


def test_a_group_whose_loops_count_every_class_out_of_order_frames_as_the_typed_read():
    """_frame lays a group's counts by rows when every loop counts every class in VEHICLE_CLASSES' order (the typed
    read's columns), else entry by entry: the general read of loops that count all five classes in another order takes
    the second way, and its frame is the typed read's to the bit."""
    every = {c: k + 1 for k, c in enumerate(VEHICLE_CLASSES)}
    backwards = dict(reversed(every.items()))
    layout = BatchLayout.build(JS)
    messages, typed, parsed = [], [], []
    for jid in JS:
        dets = {d.id: {"counts": backwards, "occupancy": 0.25, "speed_mps": 4.0} for d in JS[jid].detectors}
        payload = enc({"v": 1, "junction": jid, "t": NOW_S, "period_s": 1.0, "detectors": dets})
        messages.append((jid, payload))
        typed.append(feedbatch._read_typed(payload, jid, layout))
        parsed.append(feedbatch._read_parsed(payload, jid, layout))
    assert all(r is not None and r[1] is not None for r in typed + parsed)
    assert list(parsed[0][1][2][1][: len(every)]) == list(range(len(every)))[::-1]  # the general read: as written
    ((by_rows, present_t),) = split_batch(messages, layout, typed).frames
    ((by_entries, present_p),) = split_batch(messages, layout, parsed).frames
    assert (by_rows.counts == by_entries.counts).all() and (present_t == present_p).all()
    assert by_rows.counts[0].tolist() == list(every.values())


def test_counts_not_in_the_classes_order_are_refused_at_import_under_python_O():
    """feedbatch's typed counts (_Counts) must be the classes in VEHICLE_CLASSES' order: checked
    at import by a raise, not an assert, so that `python -O` checks it too."""
    code = "import controller.model as m; m.VEHICLE_CLASSES = m.VEHICLE_CLASSES[::-1]; import controller.core.feedbatch"
    done = subprocess.run([sys.executable, "-O", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert (
        f"TypeError: feedbatch._Counts's fields {VEHICLE_CLASSES} are not VEHICLE_CLASSES {VEHICLE_CLASSES[::-1]}"
        in (done.stderr)
    )
    ok = subprocess.run([sys.executable, "-O", "-c", "import controller.core.feedbatch"], cwd=ROOT, timeout=120)
    assert ok.returncode == 0


@pytest.mark.parametrize("payload, reason", HOSTILE, ids=[r for _, r in HOSTILE])
def test_a_hostile_message_read_typed_is_read_as_the_general_read(payload, reason):
    _typed_is_the_general_read(payload, "A")


@pytest.mark.parametrize(
    "payload",
    [
        enc(body("A")).replace(b'"period_s"', b'"note": "\xc3\xa9", "period_s"'),  # valid UTF-8, not ASCII
        enc(body("A")).replace(b'"period_s"', b'"x": "\xff", "period_s"'),  # invalid UTF-8 in a key both skip
        enc(body("A", v=1.0)),  # the general read takes 1.0 for version 1; msgspec's integer does not
        enc(body("A", t=True)),
        with_loop("A", 0, counts={"car": 1.0}),
        with_loop("A", 0, counts={"car": 1, "tank": 0}),
        with_loop("A", 0, counts={"car": 2**64}),
        with_loop("A", 0, counts={"car": 21}),  # above max_count(1 s)
        enc(body("A", period_s=1e30)).replace(b'"car": 0', b'"car": 9223372036854775808', 1),  # 2**63: beyond int64
        enc(body("A", detectors={})),
    ],
    ids=[
        "utf8",
        "invalid_utf8_skipped",
        "v_float",
        "t_bool",
        "count_float",
        "unknown_class",
        "count_huge",
        "count_high",
        "count_past_int64",  # under a max_count beyond int64 (a period of 1e30 s): the column's bound holds
        "no_loops",
    ],
)
def test_the_typed_read_leaves_to_the_general_read_what_it_does_not_read_as_it(payload):
    """A non-ASCII message (msgspec does not check the UTF-8 of what it skips), and forms the two
    readers read apart (a version 1.0, a count 1.0) or that are not plain: left to the general read."""
    assert feedbatch._read_typed(payload, "A", BatchLayout.build(JS)) is None


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=25),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 5e-324, 1.7976931348623157e308]),
    st.text(max_size=3),
    st.just({}),
)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_whatever_the_typed_read_takes_reads_as_the_general_read(data):
    """Random loops (counts of any class and value, readings of any JSON type, keys missing or added),
    and random bytes written over the message: what the typed read takes, the general read reads the
    same to the bit."""
    msg = body("A", t=data.draw(JSON_VALUES | st.floats(0, 1e9)), period_s=data.draw(JSON_VALUES | st.just(1.0)))
    for did, loop in msg["detectors"].items():
        if data.draw(st.booleans()):
            classes = st.sampled_from([*VEHICLE_CLASSES, "tank"])
            loop["counts"] = data.draw(st.dictionaries(classes, JSON_VALUES, max_size=5))
        for key in ("occupancy", "speed_mps"):
            if data.draw(st.integers(0, 3)) == 0:
                loop[key] = data.draw(JSON_VALUES)
        if data.draw(st.integers(0, 7)) == 0:
            del loop[data.draw(st.sampled_from(sorted(loop)))]
        if data.draw(st.integers(0, 7)) == 0:
            loop["extra"] = data.draw(JSON_VALUES)
        msg["detectors"][did] = loop
    payload = bytearray(json.dumps(msg).encode())
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(payload) - 1))
        payload[at : at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3) | st.sampled_from(JSON_BYTES))
    _typed_is_the_general_read(bytes(payload), "A")


JSON_BYTES = [b"0", b"-", b"1e5", b".", b",", b'"', b"\\", b"}", b"{", b"]", b"[", b"true", b"null", b" ", b"9" * 20]


# -- the typed read's small counts (one byte a count) against the wide read (64-bit counts) -----
def _typed_is_the_wide_read(payload: bytes, jid: str | None) -> bool:
    """The typed read (small counts first) reads as the wide read alone (the typed read before the
    small counts): the same read (columns equal value by value) and the same frame to the bit.
    Returns whether the small counts were taken (a column of bytes)."""
    layout = BatchLayout.build(JS)
    typed, wide = feedbatch._read_typed(payload, jid, layout), feedbatch._read_typed_wide(payload, jid, layout)
    assert typed == wide, payload
    if typed is None:
        return False
    assert _frame_bytes(typed, layout) == _frame_bytes(wide, layout)
    return typed[1][2][2].typecode == "B"


PERIODS_S = [0.1, 0.5, 0.95, 1.0, 1.0000000000000002, 2.5, 60.0, 0.99999999999999989]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_small_counts_read_as_the_wide_read(data):
    """Counts of any class from 0 to past SMALL_COUNT and past int64, periods about a second and
    others, random bytes written over the message: the typed read reads as the wide read, value by
    value and frame to the bit."""
    period = data.draw(st.sampled_from(PERIODS_S) | st.floats(0, 100) | st.integers(-2, 70))
    msg = body("A", period_s=period)
    counts = st.integers(0, feedbatch.SMALL_COUNT + 2) | st.integers(0, 2**64) | JSON_VALUES
    for loop in msg["detectors"].values():
        loop["counts"] = data.draw(st.dictionaries(st.sampled_from(VEHICLE_CLASSES), counts, max_size=5))
    payload = bytearray(json.dumps(msg).encode())
    for _ in range(data.draw(st.integers(0, 1))):
        at = data.draw(st.integers(0, len(payload) - 1))
        payload[at : at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3) | st.sampled_from(JSON_BYTES))
    _typed_is_the_wide_read(bytes(payload), "A")


def test_small_counts_are_taken_up_to_their_periods_bound():
    """A count of SMALL_COUNT at a period of a second and more is read small; past it, wide; under a
    second, a count past the period's bound is refused by both, one within it read small. (Fails if
    the small read skips the bound of a period under a second, or takes nothing.)"""
    top = feedbatch.SMALL_COUNT
    cases = [
        (1.0, top, "B"),
        (60.0, top, "B"),
        (2.0, top + 1, "q"),
        (1.0, top + 1, None),
        (0.5, top // 2, "B"),
        (0.5, top // 2 + 1, None),
        (0.95, top, None),
    ]
    layout = BatchLayout.build(JS)
    for period_s, count, kind in cases:
        payload = enc(body("A", period_s=period_s)).replace(b'"car": 1', b'"car": %d' % count, 1)
        assert _typed_is_the_wide_read(payload, "A") is (kind == "B")
        read = read_message(payload, "A", layout)[1]
        assert (read[2][2].typecode if read is not None else None) == kind, (period_s, count)


def test_a_group_of_small_and_wide_counts_frames_as_the_general_read():
    """A (t, period_s) group whose messages have counts of bytes (small) and of 64-bit integers
    (wide, the general read's) in any mix: the frame is the general read's to the bit, and the
    service accepts and reads as message by message."""
    layout = BatchLayout.build(JS)
    msgs = []
    for k, jid in enumerate(JS):
        payload = enc(body(jid, period_s=2.0))
        msgs.append((jid, payload.replace(b'"car": 1', b'"car": 40', 1) if k % 3 == 1 else payload))
    reads = [read_message(payload, jid, layout) for jid, payload in msgs]
    assert {r[1][2][2].typecode for r in reads} == {"B", "q"}
    parsed = [feedbatch._read_parsed(payload, jid, layout) for jid, payload in msgs]
    for mixed in (reads, [r if k % 2 else parsed[k] for k, r in enumerate(reads)]):
        ((frame, present),) = split_batch(msgs, layout, mixed).frames
        ((general, present_g),) = split_batch(msgs, layout, parsed).frames
        assert frame.counts.tobytes() == general.counts.tobytes() and (present == present_g).all()
        assert frame.counts.max() == 40
    one, _ = both(msgs)
    assert not one.rejected

"""controller/core/feedpack.py: a lockstep second's detector messages in one MQTT message. The
junctions' messages come out byte for byte as they went in, in order; anything that is not a pack
(bad header, sizes that do not add up, a wrong version) is refused whole."""

from __future__ import annotations

import orjson
import pytest

from controller.core import feedpack
from controller.core.messages import encode_detector_message

MSGS = [
    ("J1", encode_detector_message("J1", 12.0, 1.0, {"J1_N_stop": ({"car": 2}, 0.4, 4.2)})),
    ("J/2 #x", b'{"v":1,"junction":"J/2 #x",\n"t":12.0}'),  # any bytes, a newline included
    ("J3", b""),
]


def test_a_pack_gives_back_the_messages_byte_for_byte_in_order():
    t, out = feedpack.unpack(feedpack.pack(12.0, MSGS))
    assert t == 12.0 and out == MSGS
    assert feedpack.unpack(feedpack.pack(7, [])) == (7.0, [])


def test_a_second_past_the_budget_goes_in_several_packs_each_within_it():
    messages = [(f"J{i}", bytes([65 + i % 26]) * (100 + 37 * i)) for i in range(40)]
    budget = 2_000
    payloads = feedpack.packs(30.0, messages, max_bytes=budget)
    assert len(payloads) > 5 and all(len(p) <= budget for p in payloads)
    unpacked = [feedpack.unpack(p) for p in payloads]
    assert {t for t, _ in unpacked} == {30.0}
    assert [m for _, ms in unpacked for m in ms] == messages  # every message, once, in order
    assert feedpack.packs(30.0, messages) == [feedpack.pack(30.0, messages)]  # the default: one pack
    (big,) = feedpack.packs(30.0, [("J1", b"x" * 5_000)], max_bytes=budget)  # too long: alone
    assert feedpack.unpack(big) == (30.0, [("J1", b"x" * 5_000)])
    assert feedpack.packs(30.0, []) == []


def _header(payload: bytes) -> tuple[dict, bytes]:
    head, _, rest = payload.partition(b"\n")
    return orjson.loads(head), rest


def _with(change: dict) -> bytes:
    header, rest = _header(feedpack.pack(12.0, MSGS))
    header.update(change)
    return orjson.dumps(header) + b"\n" + rest


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"no header line",
        b"{not json}\n",
        b"[1, 2]\n",
        _with({"v": 2}),
        _with({"t": "12"}),
        _with({"t": True}),
        _with({"junctions": ["J1", "J2"]}),  # fewer ids than sizes
        _with({"junctions": ["J1", 2, "J3"]}),
        _with({"sizes": [1, 2, -3]}),
        _with({"sizes": [1.0, 2, 3]}),
        feedpack.pack(12.0, MSGS)[:-1],  # one byte short
        feedpack.pack(12.0, MSGS) + b" ",  # one byte more
    ],
)
def test_anything_else_is_refused_whole(payload):
    assert feedpack.unpack(payload) is None

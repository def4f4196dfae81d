"""The field's detector messages built from per-junction templates
(controller/core/messages.py, DetectorMessageFormat) are byte for byte what
encode_detector_message writes for each junction: ids that need JSON escaping or hold braces,
junctions without loops or listing a loop twice, every float json.dumps writes (exponents,
-0.0, NaN and infinities go the slow way), counts of any class name, and numbers that are not
floats."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.messages import DetectorMessageFormat, encode_detector_message

CHARS = st.sampled_from(["a", "Z", "_", "{", "}", '"', "\\", "é", "\n", "0", " "])
IDS = st.text(alphabet=CHARS, min_size=1, max_size=4)
PLAIN = st.floats(allow_nan=False, allow_infinity=False)
ANY_FLOAT = st.floats() | st.sampled_from([0.0, -0.0, 1e-05, 1e16, -1.0, 1.0, math.inf, -math.inf, math.nan])
COUNTS = st.dictionaries(IDS, st.integers(min_value=0, max_value=10**20) | st.booleans(), max_size=3)


def _reference(loops: dict[str, list[str]], t_s, period_s, counts, occ, speed) -> list[tuple[str, bytes]]:
    out, i = [], 0
    for jid, dids in loops.items():
        dets = {d: (counts.get(i + k, {}), occ[i + k], speed[i + k]) for k, d in enumerate(dids)}
        out.append((jid, encode_detector_message(jid, t_s, period_s, dets)))
        i += len(dids)
    return out


@st.composite
def fields(draw, numbers=PLAIN, head=PLAIN):
    loops = draw(st.dictionaries(IDS, st.lists(IDS, max_size=4), min_size=1, max_size=4))
    n = sum(map(len, loops.values()))
    occ = draw(st.lists(numbers, min_size=n, max_size=n))
    speed = draw(st.lists(numbers, min_size=n, max_size=n))
    counts = draw(st.dictionaries(st.integers(0, max(n - 1, 0)), COUNTS, max_size=n)) if n else {}
    return loops, draw(head), draw(head), counts, occ, speed


@settings(max_examples=300, deadline=None)
@given(fields())
def test_plain_readings_give_the_same_bytes(case) -> None:
    loops, t_s, period_s, counts, occ, speed = case
    fmt = DetectorMessageFormat.build(loops)
    assert fmt.encode(t_s, period_s, counts, occ, speed) == _reference(loops, t_s, period_s, counts, occ, speed)


@settings(max_examples=300, deadline=None)
@given(fields(numbers=ANY_FLOAT | st.integers(-5, 5) | st.booleans(), head=ANY_FLOAT | st.integers() | st.booleans()))
def test_any_readings_give_the_same_bytes(case) -> None:
    loops, t_s, period_s, counts, occ, speed = case
    fmt = DetectorMessageFormat.build(loops)
    assert fmt.encode(t_s, period_s, counts, occ, speed) == _reference(loops, t_s, period_s, counts, occ, speed)


@settings(max_examples=300, deadline=None)
@given(fields(numbers=ANY_FLOAT, head=ANY_FLOAT))
def test_floats_of_any_value_give_the_same_bytes(case) -> None:
    loops, t_s, period_s, counts, occ, speed = case
    fmt = DetectorMessageFormat.build(loops)
    assert fmt.encode(t_s, period_s, counts, occ, speed) == _reference(loops, t_s, period_s, counts, occ, speed)


def test_a_field_second() -> None:
    loops = {"J1": ["J1_N_1_stop", "J1_N_1_adv"], "J2": []}
    fmt = DetectorMessageFormat.build(loops)
    got = fmt.encode(12.0, 1.0, {0: {"car": 2, "bus": 1}}, [0.41, 0.08], [4.2, -1.0])
    assert got == [
        (
            "J1",
            b'{"v":1,"junction":"J1","t":12.0,"period_s":1.0,"detectors":{"J1_N_1_stop":{"counts":{"car":2,"bus":1},'
            b'"occupancy":0.41,"speed_mps":4.2},"J1_N_1_adv":{"counts":{},"occupancy":0.08,"speed_mps":-1.0}}}',
        ),
        ("J2", b'{"v":1,"junction":"J2","t":12.0,"period_s":1.0,"detectors":{}}'),
    ]


def test_a_counts_key_beyond_the_loops_is_refused_by_name_on_either_path() -> None:
    """The template path (plain floats) and the general one (a NaN speed) refuse alike: a count
    under no loop, or under a negative index (which would land on another loop), never a
    message."""
    fmt = DetectorMessageFormat.build({"J1": ["a", "b"]})
    for speed in ([4.2, -1.0], [math.nan, -1.0]):
        for key in (2, -1, "0", True):
            with pytest.raises(ValueError, match=f"counts key {key!r} is no loop index in 0..1"):
                fmt.encode(12.0, 1.0, {key: {"car": 1}}, [0.4, 0.1], speed)
        with pytest.raises(ValueError, match="1 occupancy and 2 speed_mps readings for 2 loops"):
            fmt.encode(12.0, 1.0, {}, [0.4], speed)

"""core/jsonread.py: every way a message's body can fail to read with the json module is one refusal,
FeedError("malformed_json"); and no message is parsed anywhere else under controller/ but where a
reason is given below."""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import jsonread
from controller.core.jsonread import NOT_READ, read_json
from controller.errors import FeedError

ROOT = Path(__file__).resolve().parents[2]
DEEP = b"[" * 1100 + b"]" * 1100  # past the json module's depth (Python's recursion limit), orjson's 1,024


def refusal(payload: bytes | str) -> FeedError:
    with pytest.raises(FeedError) as refused:
        read_json(payload)
    assert refused.value.reason == "malformed_json"
    return refused.value


def test_reads_any_json_value():
    assert read_json(b'{"v":1,"t":2.5}') == {"v": 1, "t": 2.5}
    assert read_json("[1, null]") == [1, None]
    assert read_json(b"null") is None


def test_not_json_is_malformed():  # ValueError (json.JSONDecodeError)
    assert refusal(b"{not json").detail.startswith("Expecting property name")
    assert refusal(b"").detail


def test_bytes_that_are_not_utf8_are_malformed():  # UnicodeDecodeError: a ValueError
    assert issubclass(UnicodeDecodeError, NOT_READ)
    refusal(b'{"v":"\xff\xfe\xfd"}')


def test_nesting_past_the_json_module_s_depth_is_malformed():  # RecursionError
    assert refusal(DEEP).detail == "nested too deep"
    assert refusal(b'{"v":1,"deep":' + DEEP + b"}").detail == "nested too deep"


def test_a_refusal_of_parse_constant_passes_through():
    def not_finite(name: str) -> float:
        raise FeedError("not_finite", name)

    with pytest.raises(FeedError) as refused:
        read_json(b'{"t":NaN}', parse_constant=not_finite)
    assert (refused.value.reason, refused.value.detail) == ("not_finite", "NaN")
    assert read_json(b'{"t":1}', parse_constant=not_finite) == {"t": 1}


def test_the_other_readers_refuse_the_same_bodies_with_their_own_decode_error():
    """Why the orjson and msgspec readers below may keep their own catch: orjson refuses deep nesting
    and bad UTF-8 with orjson.JSONDecodeError (no RecursionError); msgspec's catch in feedbatch
    names RecursionError itself."""
    for body in (DEEP, b'{"v":"\xff"}', b"{not json"):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(body)
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(b'{"v":"\xff"}')


# Where a JSON reader other than read_json may stand under controller/, and why (path -> count).
ALLOWED = {
    "controller/core/jsonread.py": (2, "the helper itself: msgspec first, the json module for what msgspec refuses"),
    "controller/core/feedbatch.py": (
        3,
        "the hot detector read: msgspec, small counts then wide (each catch names RecursionError), then orjson",
    ),
    "controller/core/feedpack.py": (1, "a pack's header by orjson (see the test above)"),
    "controller/core/statusread.py": (1, "the typed status read: msgspec (its catch names RecursionError), then feed"),
    "controller/live.py": (1, "_t_of: orjson first, read_json when orjson does not read it"),
    "controller/adapters/audit.py": (1, "the audit store's own column, written by json.dumps"),
    "controller/adapters/archive.py": (1, "the recorder's own meta.json, a file it wrote"),
}
READER = re.compile(r"\b(?:json|orjson)\.loads?\(|msgspec\.json\.(?:decode|Decoder)\b|from (?:json|orjson) import")


def test_every_message_is_read_through_read_json():
    """A json.loads (or orjson / msgspec reader) added under controller/ outside ALLOWED fails here:
    call read_json, or add the site to ALLOWED with the reason its catch is complete. (sim/ is not
    checked: the bench reads files and messages the project itself wrote, where a body that does
    not read is a bug to raise.)"""
    found: dict[str, int] = {}
    for path in sorted((ROOT / "controller").rglob("*.py")):
        n = len(READER.findall(path.read_text(encoding="utf-8")))
        if n:
            found[path.relative_to(ROOT).as_posix()] = n
    assert found == {path: n for path, (n, _why) in ALLOWED.items()}


def _json_module(payload: bytes | str, parse_constant=None) -> tuple[str, object]:
    """What read_json gave before its fast reader: the json module's value, or its refusal (reason, detail)."""
    try:
        return "value", json.loads(payload, parse_constant=parse_constant)
    except NOT_READ as exc:
        return "refused", ("malformed_json", "nested too deep" if isinstance(exc, RecursionError) else str(exc)[:80])
    except FeedError as exc:
        return "refused", (exc.reason, exc.detail)


def _read(payload: bytes | str, parse_constant=None) -> tuple[str, object]:
    try:
        return "value", read_json(payload, parse_constant=parse_constant)
    except FeedError as exc:
        return "refused", (exc.reason, exc.detail)


def _same(a: object, b: object) -> bool:
    """Equal, with the same types all the way down (1 is not 1.0, -0.0 is not 0.0) and NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))  # type: ignore[arg-type]
    return a == b


def _not_finite(name: str) -> float:
    raise FeedError("not_finite", name)


EDGES = [
    b'{"a":1,"a":2}',  # the last wins in both
    b"123456789012345678901234567890",  # an int past 64 bits stays an int
    b"-9223372036854775809",
    b"1" * 4300,  # the json module's longest int
    b"1" * 4301,  # past it: refused
    b"1e400",  # past the float range: inf to the json module (then not_finite)
    b"-1e400",
    b"1.7976931348623159e308",
    b"2.4703282292062328e-324",  # the smallest subnormal, rounded up
    b"2.4703282292062327e-324",  # rounded to 0.0
    b"-0.0",
    b"-0",
    b"NaN",
    b'{"t":Infinity}',
    b'"\\ud800"',  # a lone surrogate
    b'"\\udc00\\ud800"',
    b'"\\ud83d\\ude00"',
    b"\xef\xbb\xbf{}",  # a byte order mark
    '{"v":1}'.encode("utf-16"),  # another encoding the json module detects
    b'"\\u0000"',
    b'"a\x01"',  # a control character
    b"[1,]",
    b"01",
    b"1.",
    b".5",
    b'{"a":1}x',
    b'  {"a" : [1, 2.5, true, null] }  ',
    b"",
    b"\x00",
    DEEP,
    b"[" * 200 + b"]" * 200,  # nested, within both readers' depth
]


@pytest.mark.parametrize("payload", EDGES, ids=range(len(EDGES)))
@pytest.mark.parametrize("constant", [None, _not_finite], ids=["plain", "parse_constant"])
def test_the_fast_reader_gives_the_json_module_s_value_or_refusal(payload, constant):
    got, want = _read(payload, constant), _json_module(payload, constant)
    assert got[0] == want[0]
    assert _same(got[1], want[1]) if got[0] == "value" else got[1] == want[1]


def test_bodies_other_than_bytes_go_to_the_json_module_as_before():
    assert read_json('{"a":1}') == {"a": 1}
    assert read_json(bytearray(b"[1]")) == [1]
    with pytest.raises(TypeError):  # the json module's own answer, not the fast reader's (it reads buffers)
        read_json(memoryview(b"[1]"))  # type: ignore[arg-type]


def test_the_fast_reader_takes_what_the_service_sends():
    """A plan and a status as the service encodes them are read by msgspec, not handed to the json module."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return json.loads(*args, **kwargs)

    body = b'{"v":1,"junction":"J1","t":12.5,"phase":2,"in_intergreen":false,"faults":[],"seq":-1,"plan_id":null}'
    real = jsonread.json.loads
    jsonread.json.loads = spy  # type: ignore[assignment]
    try:
        assert read_json(body)["t"] == 12.5
    finally:
        jsonread.json.loads = real  # type: ignore[assignment]
    assert calls == []


NUMBER = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers().map(str),
    st.tuples(st.integers(0, 10**30), st.integers(0, 10**30), st.integers(-400, 400)).map(
        lambda t: f"{t[0]}.{t[1]}e{t[2]}"
    ),
    st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
)
JSON_TEXT = st.recursive(
    st.one_of(NUMBER, st.sampled_from(["true", "false", "null"]), st.text(max_size=8).map(json.dumps)),
    lambda kids: st.one_of(
        st.lists(kids, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(st.text(max_size=4).map(json.dumps), kids), max_size=4).map(
            lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}"
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(JSON_TEXT, st.sampled_from(["utf-8", "utf-8-ascii"]))
def test_any_json_text_reads_to_the_json_module_s_value(text, how):
    payload = text.encode("utf-8") if how == "utf-8" else json.dumps(json.loads(text)).encode()
    got, want = _read(payload), _json_module(payload)
    assert got[0] == want[0] == "value"
    assert _same(got[1], want[1])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=24))
def test_any_bytes_read_or_refused_as_the_json_module_does(payload):
    got, want = _read(payload), _json_module(payload)
    assert got[0] == want[0]
    assert _same(got[1], want[1]) if got[0] == "value" else got[1] == want[1]

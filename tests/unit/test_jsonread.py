"""core/jsonread.py: every way a message's body can fail to read with the json module is one refusal,
FeedError("malformed_json"); and no message is parsed anywhere else under controller/ but where a
reason is given below."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import orjson
import pytest

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
    "controller/core/jsonread.py": (1, "the helper itself"),
    "controller/core/feedbatch.py": (2, "the hot detector read: msgspec (its catch names RecursionError), then orjson"),
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

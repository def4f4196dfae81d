"""A message's JSON: the parsed value, or FeedError("malformed_json"), as the json module reads it.

Every message the service, its operators' tools and its peers parse as plain JSON goes through
`read_json`, so one catch covers every way a body can fail to read:
- not JSON, or not UTF-8 (ValueError; UnicodeDecodeError is one);
- nested deeper than the json module's recursion goes (RecursionError: about 1,000 brackets, a
  message of 2 kB), which would otherwise escape the caller's catch and end its loop.
A FeedError raised by `parse_constant` (NaN, Infinity: "not_finite") passes through as it is.

A body of `bytes` is read by msgspec first (a plan, a status, a clock message: several times
faster than the json module): msgspec reads exactly the strict JSON of RFC 8259 into the values
the json module gives it (the same ints of any size, the same correctly rounded floats), and
refuses what the json module reads otherwise or refuses (NaN and Infinity, numbers past the
float range, lone surrogates, a byte order mark, another encoding than UTF-8, deep nesting).
Whatever it refuses goes to the json module, which decides as before; so the value, and every
refusal with its reason and detail, are the json module's (tests/unit/test_jsonread.py).

The parsed value may be any JSON value: the caller checks its shape. The readers that use orjson or
msgspec on their own (core/feedbatch.py, core/feedpack.py, live.py's `_t_of`) are not here: both refuse
every such body with their own decode error, deep nesting included (orjson at depth 1,024, msgspec
at its own), and tests/unit/test_jsonread.py checks it. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec

from controller.errors import FeedError

#: What the json module raises for a body that does not read. UnicodeDecodeError is a ValueError.
NOT_READ = (ValueError, RecursionError)

_STRICT = msgspec.json.Decoder()  # untyped: JSON objects, arrays, str, int, float, bool, None
# what the fast reader may raise for a body it does not take (the json module then reads it)
_NOT_TAKEN = (msgspec.DecodeError, ValueError, RecursionError)


def read_json(payload: bytes | str, *, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """The message's parsed JSON, the json module's value; FeedError("malformed_json", detail) when
    it does not read (the detail: the json module's message, or "nested too deep")."""
    if type(payload) is bytes:
        try:
            return _STRICT.decode(payload)
        except _NOT_TAKEN:
            pass  # the json module decides (module docstring)
    try:
        return json.loads(payload, parse_constant=parse_constant)
    except NOT_READ as exc:
        detail = "nested too deep" if isinstance(exc, RecursionError) else str(exc)[:80]
        raise FeedError("malformed_json", detail) from None

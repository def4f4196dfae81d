"""A message's JSON, read with the json module: the parsed value, or FeedError("malformed_json").

Every message the service, its operators' tools and its peers parse with the json module goes
through `read_json`, so one catch covers every way a body can fail to read:
- not JSON, or not UTF-8 (ValueError; UnicodeDecodeError is one);
- nested deeper than the json module's recursion goes (RecursionError: about 1,000 brackets, a
  message of 2 kB), which would otherwise escape the caller's catch and end its loop.
A FeedError raised by `parse_constant` (NaN, Infinity: "not_finite") passes through as it is.

The parsed value may be any JSON value: the caller checks its shape. The readers that use orjson or
msgspec instead (core/feedbatch.py, core/feedpack.py, live.py's `_t_of`) are not here: both refuse
every such body with their own decode error, deep nesting included (orjson at depth 1,024, msgspec
at its own), and tests/unit/test_jsonread.py checks it. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from controller.errors import FeedError

#: What the json module raises for a body that does not read. UnicodeDecodeError is a ValueError.
NOT_READ = (ValueError, RecursionError)


def read_json(payload: bytes | str, *, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """The message's parsed JSON; FeedError("malformed_json", detail) when it does not read (the
    detail: the reader's message, or "nested too deep")."""
    try:
        return json.loads(payload, parse_constant=parse_constant)
    except NOT_READ as exc:
        detail = "nested too deep" if isinstance(exc, RecursionError) else str(exc)[:80]
        raise FeedError("malformed_json", detail) from None

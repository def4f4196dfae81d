"""A message nested deeper than the JSON readers go (a few kB of brackets) is refused as
malformed_json by the service, read alone or in a batch, detector message, status or an operator's
override or policy change: the readers' RecursionError never escapes into the tick."""

from __future__ import annotations

from collections import Counter

import pytest

from controller import live, operators
from controller.core.feedbatch import BatchLayout, read_message
from controller.core.override import decode_override
from controller.core.validation import decode_policy_change
from controller.errors import FeedError
from tests.unit.test_feedbatch import JS, body, enc, service

DEPTH = 1100  # past the json module's (Python's recursion limit, 1,000), orjson's (1,024) and msgspec's


def nested(**at: object) -> bytes:
    return enc({**at, "deep": 0}).replace(b'"deep": 0', b'"deep": ' + b"[" * DEPTH + b"]" * DEPTH)


def test_a_message_nested_past_the_readers_depth_is_refused_not_raised():
    svc = service()
    svc.on_status(nested(v=1, junction="A"), junction="A")
    svc.on_detectors(nested(v=1, junction="A"), junction="A")
    svc.on_detector_batch([("A", nested(**body("A")))])
    svc.on_detector_batch([("A", nested(**body("A")))], [svc.read_detector_message(nested(**body("A")), "A")])
    assert svc.rejected == Counter({"malformed_json": 4})


def test_the_batch_read_of_a_message_nested_too_deep_is_not_plain():
    assert read_message(nested(**body("A")), "A", BatchLayout.build(JS)) == ("A", None)


def test_lockstep_leaves_a_message_nested_too_deep_to_the_service():
    """run_lockstep's inbox reads a message's `t` to buffer it: none here, so the service is handed it."""
    assert live._t_of(nested(v=1, junction="A", t=1.0)) is None


@pytest.mark.parametrize("decode", [decode_override, decode_policy_change])
def test_an_operators_message_nested_too_deep_is_refused_not_raised(decode):
    with pytest.raises(FeedError) as refused:
        decode(nested(v=1, junction="A"), "alice", "A", 100.0, max_future_s=1.0)
    assert refused.value.reason == "malformed_json"
    assert operators._peek(nested(v=1, action="policy"), "action") == ""  # the answer's address: none

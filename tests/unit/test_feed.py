"""Feed validation: every hostile message is refused with a reason, never raises anything else."""

import json

import pytest

from controller.core.feed import (
    MAX_PLAN_ID_CHARS,
    MAX_SEQ,
    decode_detector_message,
    decode_status_message,
    make_plan_id,
)
from controller.core.messages import encode_detector_message, encode_status
from controller.errors import FeedError
from controller.model import SignalStatus
from tests.junction_fixtures import two_phase, two_phase_as

J = {"J": two_phase()}


def good(**over) -> dict:
    msg = {
        "v": 1,
        "junction": "J",
        "t": 100.0,
        "period_s": 1.0,
        "detectors": {"N_stop": {"counts": {"car": 2, "bus": 1}, "occupancy": 0.4, "speed_mps": 4.2}},
    }
    msg.update(over)
    return msg


def test_valid_message_round_trips_through_the_encoder():
    payload = encode_detector_message("J", 100.0, 1.0, {"N_stop": ({"car": 2, "bus": 1}, 0.4, 4.2)})
    snap = decode_detector_message(payload, J, {}, now_s=100.0, max_future_s=1.0)
    assert snap.junction == "J" and snap.t_s == 100.0
    assert snap.readings[0].counts == (("bus", 1), ("car", 2))


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"v": 1, "junction": "J", "t": 1', "malformed_json"),
        (b"x" * (300 * 1024), "oversize"),
        (b"[1, 2]", "wrong_type"),
        (json.dumps(good(v=2)).encode(), "bad_version"),
        (json.dumps(good()).replace("4.2", "NaN").encode(), "not_finite"),
        (json.dumps(good(junction="K")).encode(), "unknown_junction"),
        (json.dumps(good(junction=7)).encode(), "wrong_type"),
        (json.dumps(good(t=1e12)).encode(), "future_timestamp"),
        (json.dumps(good(t=50.0)).encode(), "stale_timestamp"),
        (json.dumps(good(period_s=0)).encode(), "out_of_range"),
        (
            json.dumps(good(detectors={"ghost": {"counts": {}, "occupancy": 0, "speed_mps": 0}})).encode(),
            "unknown_detector",
        ),
        (
            json.dumps(good(detectors={"N_stop": {"counts": {"car": -1}, "occupancy": 0, "speed_mps": 0}})).encode(),
            "negative_count",
        ),
        (
            json.dumps(good(detectors={"N_stop": {"counts": {"car": 500}, "occupancy": 0, "speed_mps": 0}})).encode(),
            "implausible_count",
        ),
        (
            json.dumps(good(detectors={"N_stop": {"counts": {"car": "2"}, "occupancy": 0, "speed_mps": 0}})).encode(),
            "wrong_type",
        ),
        (
            json.dumps(good(detectors={"N_stop": {"counts": {"tank": 1}, "occupancy": 0, "speed_mps": 0}})).encode(),
            "unknown_class",
        ),
        (
            json.dumps(good(detectors={"N_stop": {"counts": {}, "occupancy": 1.5, "speed_mps": 0}})).encode(),
            "out_of_range",
        ),
        (b"\xff\xfe", "malformed_json"),
    ],
)
def test_hostile_messages_are_refused_by_reason(payload, reason):
    with pytest.raises(FeedError) as err:
        decode_detector_message(payload, J, {"J": 60.0}, now_s=100.0, max_future_s=1.0)
    assert err.value.reason == reason


def test_status_round_trip_and_bad_phase():
    st = SignalStatus("J", 5.0, 1, False, 12.0, "p1", 3, "adaptive", ("refused: x",))
    assert decode_status_message(encode_status(st), J, 5.0, {}, 1.0) == st
    bad = json.loads(encode_status(st))
    bad["phase"] = 9
    with pytest.raises(FeedError) as err:
        decode_status_message(json.dumps(bad).encode(), J, 5.0, {}, 1.0)
    assert err.value.reason == "out_of_range"


LONG_ID = "cluster_" + "_".join(str(1200363791 + i) for i in range(16))  # a joined cluster's id, 183 chars


def test_plan_ids_of_long_junction_ids_stay_within_the_status_limit():
    pid = make_plan_id(LONG_ID, "adaptive", str(MAX_SEQ))
    assert len(LONG_ID) > MAX_PLAN_ID_CHARS >= len(pid)
    assert pid.endswith(f"-adaptive-{MAX_SEQ}")
    assert make_plan_id(LONG_ID + "x", "adaptive", "1") != make_plan_id(LONG_ID, "adaptive", "1")  # same prefix
    assert make_plan_id("J", "adaptive", "3") == "J-adaptive-3"  # a short id is kept whole


def test_a_status_echoing_a_long_junctions_plan_id_is_accepted():
    j = two_phase_as(LONG_ID)
    st = SignalStatus(LONG_ID, 5.0, 1, False, 12.0, make_plan_id(LONG_ID, "adaptive", "12"), 3, "adaptive", ())
    assert decode_status_message(encode_status(st), {LONG_ID: j}, 5.0, {}, 1.0) == st


def test_plan_ids_cut_to_the_limit_stay_distinct():
    operator, base = "police-console-district-04b", "request-" + "x" * 50
    a = make_plan_id(LONG_ID, "manual", operator, base + "-0001")
    b = make_plan_id(LONG_ID, "manual", operator, base + "-0002")
    assert a != b and len(a) <= MAX_PLAN_ID_CHARS and len(b) <= MAX_PLAN_ID_CHARS

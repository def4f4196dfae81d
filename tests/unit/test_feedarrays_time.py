"""feedarrays.check_frame checks the rules on t and period_s once per frame: each junction still
gets the reason decode_detector_message gives its JSON message (the helpers of
test_feedarrays compare the two paths junction by junction)."""

from __future__ import annotations

from tests.frame_fixtures import bad_frame, make_frame, refusal_reasons


def test_stale_comes_before_a_bad_period_junction_by_junction():
    assert refusal_reasons(make_frame(period_s=0.0), last={"B": 10.0}) == ["out_of_range", "stale_timestamp"]


def test_future_comes_before_stale():
    assert refusal_reasons(make_frame(t_s=16.0), last={"A": 20.0}) == ["future_timestamp"] * 2


def test_stale_comes_before_a_bad_loop():
    assert refusal_reasons(bad_frame("counts", -1), last={"B": 10.0}) == [None, "stale_timestamp"]
    assert refusal_reasons(bad_frame("counts", -1), last={"A": 10.0}) == ["stale_timestamp", "negative_count"]

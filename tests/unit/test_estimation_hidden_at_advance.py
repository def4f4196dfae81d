"""An empty stop-line loop clears the queue between the loops only ([estimation] hidden_clear_at_advance): the queue
past the advance loop may be held behind it while the zone empties; it is gone at a gap over the advance loop after
the queue over it moved in the lane's green, or once neither loop has seen anybody for a minute."""

from __future__ import annotations

from controller.config import Config
from controller.core.estimation import TRANSIT_HISTORY_TICKS, EstimationParams
from tests.estimate_fixtures import Feed, reading


def _feed(on: bool) -> Feed:
    return Feed(cfg=Config(estimation=EstimationParams(flow_window_s=60.0, hidden_clear_at_advance=on)))


def _jam(f: Feed) -> None:
    """Free flow learns the demand (a car every 6 s), then 60 s of red with the queue standing over both loops."""
    for _ in range(300):
        car = {"car": 1} if int(f.t) % 6 == 0 else {}
        f.step(reading("N_adv", car, 0.2, 12.0), reading("N_stop", car, 0.2, 10.0), green=0)
    for _ in range(60):
        f.step(reading("N_adv", {}, 1.0, 0.0), reading("N_stop", {}, 1.0, 0.0), green=1)


def _quiet(det: str) -> dict:
    return reading(det, {}, 0.0, -1.0)


def _hidden(f: Feed) -> float:
    return float(f.est.lanes.hidden_pcu[0])


def test_an_empty_stop_line_keeps_the_queue_past_the_advance_loop():
    """Green: the zone empties (nobody over either loop for 4 s) while what stands past the advance loop waits."""
    hidden, queue = {}, {}
    for on in (False, True):
        f = _feed(on)
        _jam(f)
        before = _hidden(f)
        for _ in range(4):
            f.step(_quiet("N_adv"), _quiet("N_stop"), green=0)
        hidden[on], queue[on] = _hidden(f), float(f.est.lanes.queue_pcu[0])
        assert before > 5.0
    assert hidden[False] == 0.0
    assert hidden[True] > 5.0
    assert queue[True] == queue[False] == 0.0  # the zone between the loops is cleared either way


def test_a_gap_over_the_advance_loop_after_the_queue_moved_ends_it():
    f = _feed(True)
    _jam(f)
    for k in range(4):  # green: the queue over the advance loop moves, a car every 2 s, the stop line busy
        car = {"car": 1} if k % 2 == 0 else {}
        f.step(reading("N_adv", car, 0.5, 5.0), reading("N_stop", {"car": 1}, 0.5, 6.0), green=0)
    assert _hidden(f) > 5.0
    for _ in range(4):  # then nobody over the advance loop
        f.step(_quiet("N_adv"), _quiet("N_stop"), green=0)
    assert _hidden(f) == 0.0


def test_both_loops_idle_a_minute_ends_it():
    f = _feed(True)
    _jam(f)
    for _ in range(TRANSIT_HISTORY_TICKS - 1):  # nobody over either loop, at red (the gap rule reads only green)
        f.step(_quiet("N_adv"), _quiet("N_stop"), green=1)
    assert _hidden(f) > 5.0
    f.step(_quiet("N_adv"), _quiet("N_stop"), green=1)
    assert _hidden(f) == 0.0


def test_a_count_over_the_advance_loop_within_the_minute_keeps_it():
    """Idle means nobody over the advance loop in the whole minute: one car counted over it within it (something still
    feeds the zone) keeps the queue past it, though the stop-line loop stayed empty."""
    f = _feed(True)
    _jam(f)
    for k in range(TRANSIT_HISTORY_TICKS):
        adv = reading("N_adv", {"car": 1}, 0.2, 12.0) if k == TRANSIT_HISTORY_TICKS // 2 else _quiet("N_adv")
        f.step(adv, _quiet("N_stop"), green=1)
    assert _hidden(f) > 5.0


def test_a_vehicle_standing_over_the_advance_loop_keeps_it():
    """Idle means nobody over the advance loop now either: one standing over it (counted nothing for the minute, the
    stop-line loop empty) is the queue past the loop, not its end."""
    f = _feed(True)
    _jam(f)
    for _ in range(TRANSIT_HISTORY_TICKS):
        f.step(reading("N_adv", {}, 1.0, 0.0), _quiet("N_stop"), green=1)
    assert _hidden(f) > 5.0


def test_with_the_count_balance_an_empty_stop_line_still_keeps_it():
    """With `hidden_queue_balance` too, the empty stop-line loop's clear of the queue past the advance loop is the
    advance loop's reading (the balance only stops a clear while that loop stands), not the stop line's."""
    f = Feed(
        cfg=Config(
            estimation=EstimationParams(flow_window_s=60.0, hidden_clear_at_advance=True, hidden_queue_balance=True)
        )
    )
    _jam(f)
    assert _hidden(f) > 5.0
    for _ in range(4):
        f.step(_quiet("N_adv"), _quiet("N_stop"), green=0)
    assert _hidden(f) > 5.0


def test_without_a_working_advance_loop_the_empty_stop_line_clears_it_as_before():
    """The advance loop's readings need the loop: one gone faulty (missing since the jam) leaves the clear to the
    stop-line loop empty for `clear_gap_s`, as with the key off."""
    f = _feed(True)
    _jam(f)
    for _ in range(320):  # the advance loop sends nothing: faulty
        f.step(reading("N_stop", {}, 1.0, 0.0), green=1, drop=("N_adv",))
    assert _hidden(f) > 5.0 and bool(f.est.health.faulty[0])
    for _ in range(4):
        f.step(_quiet("N_stop"), green=0, drop=("N_adv",))
    assert _hidden(f) == 0.0

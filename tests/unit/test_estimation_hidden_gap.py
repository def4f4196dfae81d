"""The queue upstream of the advance loop ends with a gap over the loop in the lane's green
([estimation] hidden_clear_gap): once the queue over the advance loop has moved, a gap of
clear_gap_s there (no count, no occupancy) means what stood beyond it has passed, even while the
stop-line loop stays busy; a gap before the queue over the loop moved, or at red, says nothing."""

from __future__ import annotations

from controller.config import Config
from controller.core.estimation import EstimationParams
from tests.estimate_fixtures import Feed, reading

DEMAND_EVERY_S = 6  # one car every 6 s: 600 PCU/h


def _feed(clear_gap: bool) -> Feed:
    return Feed(cfg=Config(estimation=EstimationParams(flow_window_s=60.0, hidden_clear_gap=clear_gap)))


def _jam(f: Feed) -> None:
    """Free flow learns the demand, then 60 s of red with the queue standing over both loops."""
    for _ in range(300):
        car = {"car": 1} if int(f.t) % DEMAND_EVERY_S == 0 else {}
        f.step(reading("N_adv", car, 0.2, 12.0), reading("N_stop", car, 0.2, 10.0), green=0)
    for _ in range(60):
        f.step(reading("N_adv", {}, 1.0, 0.0), reading("N_stop", {}, 1.0, 0.0), green=1)


def _busy_stop() -> dict:
    return reading("N_stop", {"car": 1}, 0.5, 6.0)  # the stop line never empties: no clear by it


def _hidden(f: Feed) -> float:
    return float(f.est.lanes.hidden_pcu[0])


def test_a_gap_over_the_advance_loop_after_the_queue_moved_ends_the_hidden_queue():
    hidden = {}
    for clear_gap in (False, True):
        f = _feed(clear_gap)
        _jam(f)
        for k in range(4):  # green: the queue over the advance loop moves, a car every 2 s
            f.step(reading("N_adv", {"car": 1} if k % 2 == 0 else {}, 0.5, 5.0), _busy_stop(), green=0)
        for _ in range(4):  # then nothing over the advance loop, the stop line still busy
            f.step(reading("N_adv", {}, 0.0, -1.0), _busy_stop(), green=0)
        hidden[clear_gap] = _hidden(f)
    assert hidden[False] > 5.0  # 60 s of 600 PCU/h held, 2 cars counted out
    assert hidden[True] == 0.0


def test_a_gap_before_the_queue_over_the_advance_loop_moved_keeps_the_hidden_queue():
    f = _feed(True)
    _jam(f)
    before = _hidden(f)
    for _ in range(6):  # green, but the start-up has not reached the advance loop: nothing counted there
        f.step(reading("N_adv", {}, 0.0, -1.0), _busy_stop(), green=0)
    assert before > 5.0
    assert _hidden(f) == before


def test_a_gap_over_the_advance_loop_at_red_keeps_the_hidden_queue():
    f = _feed(True)
    _jam(f)
    for k in range(4):  # green: the queue moves over the advance loop
        f.step(reading("N_adv", {"car": 1} if k % 2 == 0 else {}, 0.5, 5.0), _busy_stop(), green=0)
    before = _hidden(f)
    for _ in range(6):  # red: the queue stands again, the advance loop in a gap between two cars
        f.step(reading("N_adv", {}, 0.0, -1.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    assert before > 5.0
    assert _hidden(f) == before


def test_a_vehicle_over_the_advance_loop_without_a_count_is_no_gap():
    f = _feed(True)
    _jam(f)
    for k in range(4):  # green: the queue moves over the advance loop
        f.step(reading("N_adv", {"car": 1} if k % 2 == 0 else {}, 0.5, 5.0), _busy_stop(), green=0)
    before = _hidden(f)
    for _ in range(6):  # a slow vehicle over the loop, not yet counted (occupied, moving)
        f.step(reading("N_adv", {}, 0.6, 2.0), _busy_stop(), green=0)
    assert before > 5.0
    assert _hidden(f) == before


def test_the_gap_must_last_clear_gap_s():
    """clear_gap_s (3 s at 1 s ticks): two quiet seconds over the advance loop after the queue moved keep the
    hidden queue, the third ends it (a shorter gap is the spacing of a queue discharging over the loop)."""
    f = _feed(True)
    _jam(f)
    for k in range(3):  # green: the queue moves over the advance loop, its last car counted now
        f.step(reading("N_adv", {"car": 1} if k % 2 == 0 else {}, 0.5, 5.0), _busy_stop(), green=0)
    f.step(reading("N_adv", {}, 0.0, -1.0), _busy_stop(), green=0)
    f.step(reading("N_adv", {}, 0.0, -1.0), _busy_stop(), green=0)
    assert _hidden(f) > 5.0
    f.step(reading("N_adv", {}, 0.0, -1.0), _busy_stop(), green=0)
    assert _hidden(f) == 0.0

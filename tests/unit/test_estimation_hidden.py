"""The queue upstream of the advance loop as a balance of counts ([estimation] hidden_queue_balance):
the arrival flow held while that queue discharges over the advance loop, the queue grown by the
held flow and drained by what crosses the loop, kept while the loop stands."""

from __future__ import annotations

import pytest

from controller.config import Config
from controller.core.estimation import EstimationParams
from tests.estimate_fixtures import Feed, N, named_junction, reading
from tests.junction_fixtures import two_phase_raw

DEMAND_EVERY_S = 6  # one car every 6 s: 600 PCU/h


def _feed(balance: bool) -> Feed:
    return Feed(cfg=Config(estimation=EstimationParams(flow_window_s=60.0, hidden_queue_balance=balance)))


def _free_flow(f: Feed, seconds: int) -> None:
    """Green, one car every DEMAND_EVERY_S s over both loops: the flow learns the demand."""
    for _ in range(seconds):
        car = {"car": 1} if int(f.t) % DEMAND_EVERY_S == 0 else {}
        f.step(reading("N_adv", car, 0.2, 12.0), reading("N_stop", car, 0.2, 10.0), green=0)


def _red_standing(f: Feed, seconds: int) -> None:
    """Red, the queue stands over both loops."""
    for _ in range(seconds):
        f.step(reading("N_adv", {}, 1.0, 0.0), reading("N_stop", {}, 1.0, 0.0), green=1)


def _discharge(f: Feed, seconds: int, every_s: int) -> None:
    """Green, the queue discharges over both loops, one car every `every_s` s."""
    for _ in range(seconds):
        car = {"car": 1} if int(f.t) % every_s == 0 else {}
        f.step(reading("N_adv", car, 0.5, 5.0), reading("N_stop", car, 0.5, 6.0), green=0)


def _hidden(f: Feed) -> float:
    return float(f.est.lanes.hidden_pcu[0])


def test_the_flow_is_held_while_a_hidden_queue_discharges_over_the_advance_loop():
    flows = {}
    for balance in (False, True):
        f = _feed(balance)
        _free_flow(f, 300)
        _red_standing(f, 60)
        _discharge(f, 24, every_s=2)  # the hidden queue crosses the loop at 1,800 PCU/h
        flows[balance] = float(f.est.flow_pcu_h[N])
    assert flows[True] == pytest.approx(600.0, rel=0.15)  # the demand
    assert flows[False] > 900.0  # without the balance the discharge is read as demand


def test_the_hidden_queue_grows_by_the_demand_while_traffic_stops_and_goes_over_the_loop():
    hidden = {}
    for balance in (False, True):
        f = _feed(balance)
        _free_flow(f, 300)
        _red_standing(f, 60)
        before = _hidden(f)
        # stop-and-go over the advance loop (standing 2 s of every 3, never the 3 s that count as
        # standing), one car every 12 s leaving the hidden queue while the demand adds one every
        # 6 s; red at the stop line, the queue standing over it
        for k in range(120):
            stand = k % 3 != 0
            car = {"car": 1} if k % 12 == 0 else {}
            adv = reading("N_adv", car, 1.0 if stand else 0.5, 0.0 if stand else 2.0)
            f.step(adv, reading("N_stop", {}, 1.0, 0.0), green=1)
        hidden[balance] = _hidden(f) - before
    assert hidden[True] == pytest.approx(120 / 6 - 120 / 12, rel=0.2)  # +10 PCU: in 20, out 10
    assert hidden[False] < 0.0  # without the balance it only drains


def test_an_empty_stop_line_keeps_the_hidden_queue_while_the_advance_loop_stands():
    hidden = {}
    for balance in (False, True):
        f = _feed(balance)
        _free_flow(f, 300)
        _red_standing(f, 60)
        # a short green empties the stop line; the vehicle over the advance loop has not moved
        for _ in range(5):
            f.step(reading("N_adv", {}, 1.0, 0.0), reading("N_stop", {}, 0.0, -1.0), green=0)
        hidden[balance] = _hidden(f)
    assert hidden[True] > 9.0  # 60 s of demand at 600 PCU/h, less the 3 s to see the loop stand
    assert hidden[False] == 0.0


def test_a_hidden_queue_ends_on_a_lane_without_a_stop_line_loop_when_the_demand_falls():
    raw = two_phase_raw()
    raw["detectors"] = [d for d in raw["detectors"] if d["id"] != "N_stop"]
    f = Feed(
        named_junction("J", raw), Config(estimation=EstimationParams(flow_window_s=60.0, hidden_queue_balance=True))
    )
    for _ in range(300):  # a car every 6 s over the advance loop: 600 PCU/h learnt
        car = {"car": 1} if int(f.t) % DEMAND_EVERY_S == 0 else {}
        f.step(reading("N_adv", car, 0.2, 12.0), green=0)
    for _ in range(60):  # red: the queue stands over the advance loop, a hidden queue grows
        f.step(reading("N_adv", {}, 1.0, 0.0), green=1)
    for _ in range(20):  # green: it discharges over the loop, a car every 2 s
        f.step(reading("N_adv", {"car": 1} if int(f.t) % 2 == 0 else {}, 0.5, 5.0), green=0)
    for _ in range(1800):  # then half the demand flows freely, a car every 12 s
        car = {"car": 1} if int(f.t) % 12 == 0 else {}
        f.step(reading("N_adv", car, 0.2 if car else 0.0, 12.0 if car else -1.0), green=0)
    assert _hidden(f) == 0.0
    assert float(f.est.flow_pcu_h[N]) == pytest.approx(300.0, rel=0.15)

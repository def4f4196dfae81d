"""Estimation from the detector feed only: flows, queues, saturation flow, faults (hand-built junctions)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core import estimation
from controller.core.estimation import Estimate, EstimationParams, LaneState, Layout
from controller.junctions import parse_intersection
from tests.estimate_fixtures import Feed, N, reading
from tests.junction_fixtures import two_lane_north_raw, two_phase, two_phase_raw


def test_arrival_flow_is_pcu_weighted_and_averaged():
    f = Feed(cfg=Config(estimation=EstimationParams(flow_window_s=60.0)))
    for k in range(600):  # one bus (2 PCU) every 4 s at the N advance loop, served as it comes
        f.step(
            reading("N_adv", {"bus": 1} if k % 4 == 0 else {}, 0.1, 12.0),
            reading("N_stop", {"bus": 1} if k % 4 == 2 else {}, 0.1, 10.0),
            green=0,
        )
    assert f.est.flow_pcu_h[N] == pytest.approx(2.0 * 3600 / 4, rel=0.1)
    assert f.est.flow_pcu_h[1] == 0.0  # E_T saw nothing
    assert f.est.arrivals_pcu[N] == pytest.approx(300.0)
    assert dict(f.est.crossed_by_class)["bus"] == 150


def test_queue_by_input_output_counting_during_red_then_discharge():
    f = Feed()
    for _ in range(5):  # five cars pass the advance loop while N/S is red (phase 1 green)
        f.step(reading("N_adv", {"car": 1}, 0.3, 12.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    assert f.q() == pytest.approx(5.0)
    for _ in range(3):  # green: three leave
        f.step(reading("N_stop", {"car": 1}, 0.5, 4.0), green=0)
    assert f.q() == pytest.approx(2.0)


def test_queue_is_bounded_by_storage_between_the_loops():
    f = Feed()
    storage = (80.0 - 2.0) / 7.5
    for _ in range(30):
        f.step(reading("N_adv", {"car": 1}, 0.3, 8.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    assert f.lay.lane_storage_pcu[0] == pytest.approx(storage)
    assert f.q() == pytest.approx(storage)


def test_empty_stop_loop_resets_a_drifted_count():
    f = Feed()
    for _ in range(8):  # counts drifted: 8 arrivals, the stop loop missed the departures
        f.step(reading("N_adv", {"car": 1}, 0.3, 12.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    assert f.q() == pytest.approx(8.0)
    for _ in range(8):  # yet the stop line stays empty longer than the 78 m take at 12 m/s: nothing is queued
        f.step(green=0)
    assert f.q() < 0.5


def test_empty_stop_loop_keeps_a_platoon_still_in_transit():
    f = Feed()
    for _ in range(60):  # a quiet minute: the average arrival flow is ~0
        f.step(reading("N_adv", {}, 0.0, 0.0), reading("N_stop", {}, 0.0, 0.0), green=0)
    for _ in range(3):  # a platoon of 6 crosses the advance loop at 12 m/s (78 m: 7 s to the stop line)
        f.step(reading("N_adv", {"car": 2}, 0.4, 12.0), reading("N_stop", {}, 0.0, 0.0), green=0)
    f.step(reading("N_adv", {}, 0.0, 12.0), reading("N_stop", {}, 0.0, 0.0), green=0)
    assert f.q() == pytest.approx(6.0)  # the stop line has been empty for over clear_gap_s: still there


def test_standing_advance_loop_means_full_storage_and_a_hidden_queue():
    f = Feed(cfg=Config(estimation=EstimationParams(flow_window_s=30.0)))
    for _ in range(120):  # demand of one car every 2 s, served: the flow estimate learns 1800 PCU/h
        f.step(
            reading("N_adv", {"car": 1} if int(f.t) % 2 == 0 else {}, 0.3, 12.0),
            reading("N_stop", {"car": 1} if int(f.t) % 2 == 1 else {}, 0.3, 10.0),
            green=0,
        )
    flow = float(f.est.flow_pcu_h[N])
    for _ in range(40):  # red; the queue reaches the advance loop: it stands, counts stop
        f.step(reading("N_adv", {}, 1.0, 0.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    storage = float(f.lay.lane_storage_pcu[0])
    hidden = float(f.est.lanes.hidden_pcu[0])
    assert hidden > 0 and f.q() == pytest.approx(storage + hidden)
    # vehicles kept arriving at the held demand rate while the loop stood (3 s to detect it)
    assert hidden == pytest.approx(flow / 3600 * 37, rel=0.05)
    assert float(f.est.flow_pcu_h[N]) == pytest.approx(flow)  # demand held, not read as zero


def test_saturation_flow_learnt_from_saturated_green_and_bounded():
    f = Feed()
    # a standing queue, then 10 minutes of saturated green discharging one car every 2.4 s
    for _ in range(12):
        f.step(reading("N_adv", {"car": 1}, 0.5, 5.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    for k in range(600):
        car = {"car": 1} if k % 12 in (0, 2, 5, 7, 10) else {}
        f.step(reading("N_adv", car, 0.6, 5.0), reading("N_stop", car, 0.6, 6.0), green=0)
        if k % 60 == 59:  # keep the queue up: it would otherwise be counted down
            f.est = f.est.__class__(
                **{
                    **f.est.__dict__,
                    "lanes": f.est.lanes.__class__(**{**f.est.lanes.__dict__, "queue_pcu": np.full(4, 8.0)}),
                }
            )
    s = float(f.est.sat_flow_pcu_h[N])
    assert 1500 < s < 1800  # moved from the 1800 prior toward the observed 1500 PCU/h
    assert f.est.sat_flow_pcu_h[1] == pytest.approx(1800.0)  # E_T never saturated: prior kept
    p = f.lay.params
    assert s >= 1800 * p.sat_min_ratio


def test_saturation_flow_never_leaves_its_bounds():
    f = Feed()
    for _ in range(12):
        f.step(reading("N_adv", {"car": 1}, 0.5, 5.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    for _k in range(300):  # a miscounting loop: 2 vehicles a second
        f.step(reading("N_adv", {"car": 2}, 0.6, 5.0), reading("N_stop", {"car": 2}, 0.6, 6.0), green=0)
    assert float(f.est.sat_flow_pcu_h[N]) == pytest.approx(1800.0 * f.lay.params.sat_max_ratio)


def test_exit_blockage_seen_as_a_standing_head_vehicle_during_green():
    f = Feed()
    for _ in range(10):
        f.step(reading("N_adv", {"car": 1}, 0.5, 5.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    for _ in range(60):  # green, queue present, nothing moves: the exit is full
        f.step(reading("N_stop", {}, 1.0, 0.0), green=0)
    assert f.est.block[N] > 0.8 and f.est.block[1] == 0.0


def test_the_blockage_of_the_last_second_does_not_lag():
    # Estimate.block_now ([harm] block_now reads it): at a queued protected green, whether the stop-line loop stood
    # this second; elsewhere (red, no queue) the average Estimate.block, which lags a blockage that starts or ends
    f = Feed()
    for _ in range(10):
        f.step(reading("N_adv", {"car": 1}, 0.5, 5.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    assert f.est.block_now[N] == 0.0 == f.est.block[N]  # red: nothing measured yet
    for _ in range(6):  # green, a queue, the head stands past the start-up loss: the exit is full
        f.step(reading("N_stop", {}, 1.0, 0.0), green=0)
    assert f.est.block_now[N] == 1.0 and 0.0 < f.est.block[N] < 0.2
    f.step(reading("N_stop", {"car": 1}, 0.5, 4.0), green=0)  # the head moves: not blocked this second
    assert f.est.block_now[N] == 0.0 and f.est.block[N] > 0.0
    f.step(reading("N_stop", {}, 1.0, 0.0), green=1)  # red: a vehicle standing at its red is no blockage
    assert f.est.block_now[N] == f.est.block[N] > 0.0
    assert f.est.block_now[1] == 0.0  # E_T saw nothing


def test_stuck_on_loop_is_flagged_and_the_lane_degrades_to_the_model():
    f = Feed()
    for _ in range(301):
        f.step(reading("N_stop", {}, 1.0, 0.0), reading("N_adv", {}, 0.0, -1.0), green=1)
    assert "N_stop" in f.est.faulty_detectors(f.lay)
    assert not f.est.blind[N]  # the advance loop still works
    # arrivals keep counting; departures now come from the saturation flow while green
    q0 = f.q()
    for _ in range(5):
        f.step(reading("N_stop", {}, 1.0, 0.0), reading("N_adv", {"car": 1}, 0.3, 12.0), green=1)
    assert f.q() == pytest.approx(q0 + 5.0)
    for _ in range(10):  # 1800 PCU/h: half a PCU a second
        f.step(reading("N_stop", {}, 1.0, 0.0), green=0)
    assert f.q() == pytest.approx(q0 + 5.0 - 5.0)


def test_stuck_off_loop_is_flagged_when_its_pair_keeps_counting():
    f = Feed()
    for k in range(901):
        f.step(reading("N_adv", {"car": 1} if k % 10 == 0 else {}, 0.2, 12.0), green=0)
    assert "N_stop" in f.est.faulty_detectors(f.lay)
    # a loop that is silent because nothing comes (E) is not faulty
    assert "E_stop" not in f.est.faulty_detectors(f.lay) and "E_adv" not in f.est.faulty_detectors(f.lay)
    f.step(reading("N_stop", {"car": 1}, 0.4, 8.0), green=0)  # it counts again: healthy again
    assert "N_stop" not in f.est.faulty_detectors(f.lay)


def test_implausible_counts_are_ignored_and_repeated_ones_fault_the_loop():
    f = Feed()
    f.step(reading("N_adv", {"car": 9}, 0.3, 12.0), green=1)
    assert f.q() == 0.0  # one implausible reading: dropped
    for _ in range(3):
        f.step(reading("N_adv", {"car": 9}, 0.3, 12.0), green=1)
    assert "N_adv" in f.est.faulty_detectors(f.lay)


def test_missing_loops_make_the_movement_blind_and_its_queue_a_model():
    f = Feed(cfg=Config(estimation=EstimationParams(flow_window_s=60.0)))
    for k in range(120):  # learn a demand of 900 PCU/h
        f.step(
            reading("N_adv", {"car": 1} if k % 4 == 0 else {}, 0.1, 12.0),
            reading("N_stop", {"car": 1} if k % 4 == 1 else {}, 0.1, 10.0),
            green=0,
        )
    flow = float(f.est.flow_pcu_h[N])
    for _ in range(900):
        f.step(green=0, drop=("N_adv", "N_stop"))
    assert f.est.blind[N] and not f.est.blind[1]
    q0 = f.q()
    for _ in range(40):  # red: the model queue grows with the last known demand
        f.step(green=1, drop=("N_adv", "N_stop"))
    assert f.q() - q0 == pytest.approx(flow / 3600 * 40, rel=0.05)


def test_shared_lane_counts_split_between_its_movements():
    raw = two_phase_raw()
    raw = copy.deepcopy(raw)
    n_right = {
        "id": "N_R",
        "approach": "N",
        "turn": "right",
        "from_edge": "eN",
        "lanes": ["eN_0"],
        "links": [0],
        "sat_flow_pcu_h": 1550.0,
        "storage_pcu": 5.0,
        "conflicts": ["E_T", "W_T"],
    }
    raw["movements"].append(n_right)
    f = Feed(parse_intersection(raw, "shared.toml"))
    for _ in range(4):
        f.step(reading("N_adv", {"car": 1}, 0.3, 12.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    assert f.est.queue_pcu[0] == pytest.approx(2.0) and f.est.queue_pcu[4] == pytest.approx(2.0)


def test_same_messages_give_the_same_estimate():
    def run() -> Estimate:
        f = Feed()
        rng = np.random.default_rng(3)
        for _ in range(200):
            c = rng.integers(0, 2, size=4)
            f.step(
                *(reading(f"{ap}_adv", {"car": int(n)}, 0.2, 10.0) for ap, n in zip("NESW", c)),
                green=int(f.t // 30) % 2,
            )
        return f.est

    a, b = run(), run()
    for field in ("queue_pcu", "flow_pcu_h", "sat_flow_pcu_h", "block"):
        assert np.array_equal(getattr(a, field), getattr(b, field))


def test_coupling_learns_which_neighbour_approach_an_exit_feeds_and_the_travel_time():
    from controller.core.estimation import EstimationParams, LinkLayout, LinkState, update_links

    def junction(jid: str, up: list[str], down: list[str]):
        raw = two_phase_raw()
        raw.update(id=jid, upstream=up, downstream=down)
        for m in raw["movements"]:
            m["from_edge"] = f"{jid}_{m['from_edge']}"
            m["lanes"] = [f"{jid}_{lane}" for lane in m["lanes"]]
        for d in raw["detectors"]:
            d["id"], d["lane"] = f"{jid}_{d['id']}", f"{jid}_{d['lane']}"
        return parse_intersection(raw, f"{jid}.toml")

    cfg = Config()
    layouts = {"A": Layout.build(junction("A", [], ["B"]), cfg), "B": Layout.build(junction("B", ["A"], []), cfg)}
    links = LinkLayout.build(layouts, EstimationParams(link_min_samples_s=300.0, link_remap_s=10.0))
    state = LinkState.empty(links, layouts, 0.0)
    rng = np.random.default_rng(5)
    travel = 7
    dep_a = np.zeros(4)
    arr_b = np.zeros(4)
    history = []
    for t in range(1, 901):
        # A releases southbound platoons (N_T, index 0) at random times; B's N approach sees them later
        d = np.zeros(4)
        d[0] = rng.integers(0, 3) if (t // 20) % 2 == 0 and rng.random() < 0.7 else 0
        d[1] = rng.integers(0, 2)  # E_T leaves westward: not toward B's N approach
        history.append(d[0])
        a = rng.integers(0, 2, size=4).astype(float) * 0.3
        a[0] = history[-1 - travel] if len(history) > travel else 0.0
        dep_a, arr_b = dep_a + d, arr_b + a
        ests = {
            "A": replace(Estimate.empty(layouts["A"], t), departures_pcu=dep_a.copy()),
            "B": replace(Estimate.empty(layouts["B"], t), arrivals_pcu=arr_b.copy()),
        }
        state = update_links(links, state, ests, 1.0, float(t))
    c = state.mapping["A"][0]
    assert c is not None and (c.junction, c.edge, c.travel_s) == ("B", "B_eN", travel)
    assert state.mapping["A"][1] is None  # nothing downstream faces west


def _without(*dets: str, raw: dict | None = None):
    raw = raw or two_phase_raw()
    raw["detectors"] = [d for d in raw["detectors"] if d["id"] not in dets]
    return parse_intersection(raw, "fewer.toml")


def test_stop_line_only_lane_is_cut_by_an_empty_stop_loop():
    f = Feed(_without("N_adv"))
    for _ in range(20):  # red: vehicles queue and stand on the stop line; the model grows by the held demand
        f.step(reading("N_stop", {}, 1.0, 0.0), green=1)
    f.est = replace(f.est, lanes=replace(f.est.lanes, queue_pcu=np.array([6.0, 0.0, 0.0, 0.0])))  # a drifted model
    f.step(reading("N_stop", {}, 1.0, 0.0), green=1)
    assert f.q() == pytest.approx(6.0)
    for _ in range(3):  # the stop line stays empty clear_gap_s: nothing waits there
        f.step(reading("N_stop", {}, 0.0, -1.0), green=0)
    assert f.q() < 0.5


def test_stop_line_only_lane_holds_one_pcu_under_a_standing_head_vehicle():
    f = Feed(_without("N_adv"))
    assert f.q() == 0.0
    f.step(reading("N_stop", {}, 1.0, 0.0), green=1)  # no demand learnt, but a vehicle stands on the stop line
    assert f.q() == pytest.approx(1.0)


def test_junction_without_loops_stays_empty_and_blind():
    f = Feed(replace(two_phase(), detectors=()))  # a TOML needs loops; a model built otherwise may have none
    assert f.est.blind.all()
    est = f.step(green=0)
    assert est.t_s == 1.0 and est.blind.all() and not est.queue_pcu.any() and not est.flow_pcu_h.any()


@pytest.mark.parametrize("movement", ["N_T", "N_L"])
def test_lane_without_loop_borrows_from_measured_lanes_of_its_movement_or_edge(movement):
    f = Feed(
        parse_intersection(two_lane_north_raw(movement), "two_lane.toml"),
        cfg=Config(estimation=EstimationParams(flow_window_s=60.0)),
    )
    lanes = f.lay.lanes
    i0, i1 = lanes.index("eN_0"), lanes.index("eN_1")
    for _ in range(5):  # five cars pass eN_0's advance loop during red
        f.step(reading("N_adv", {"car": 1}, 0.3, 12.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    ls = f.est.lanes
    assert ls.queue_pcu[i0] == pytest.approx(5.0) and ls.queue_pcu[i1] == pytest.approx(5.0)
    assert ls.flow_pcu_h[i1] == pytest.approx(ls.flow_pcu_h[i0]) and ls.flow_pcu_h[i0] > 0
    m = [mv.id for mv in f.j.movements].index(movement)
    assert f.est.blind[m]  # borrowed, not measured
    expected = 10.0 if movement == "N_T" else 5.0  # N_T sums its two lanes; N_L has the borrowed one
    assert f.q(m) == pytest.approx(expected)
    assert f.q(1) == 0.0  # E_T measured nothing


def test_lane_without_loop_prefers_its_own_movement_and_keeps_its_model_when_nothing_is_near():
    raw = two_lane_north_raw("N_L")
    raw["movements"][0]["lanes"].append("eN_2")  # a third N lane, of N_T, measured
    raw["detectors"].append({"id": "N2_adv", "lane": "eN_2", "kind": "advance", "pos_m": 20.0, "dist_to_stop_m": 80.0})
    lay = Layout.build(parse_intersection(raw, "three_lane.toml"), Config())
    measured = np.array([(s >= 0) or (a >= 0) for s, a in zip(lay.lane_stop, lay.lane_adv)])
    i = {lane: k for k, lane in enumerate(lay.lanes)}
    flow = np.arange(1.0, len(lay.lanes) + 1.0) * 100.0
    lanes = replace(LaneState.empty(len(lay.lanes)), flow_pcu_h=flow)
    zero = np.zeros(len(lay.lanes))
    got, _, _ = estimation._borrow(lay.maps, lay.lane_storage_pcu, lanes, zero, zero, measured)
    assert got.flow_pcu_h[i["eN_1"]] == pytest.approx((flow[i["eN_0"]] + flow[i["eN_2"]]) / 2)  # its movement's
    measured[i["eN_0"]] = measured[i["eN_2"]] = False  # their loops fail
    got, _, _ = estimation._borrow(lay.maps, lay.lane_storage_pcu, lanes, zero, zero, measured)
    for lane in ("eN_0", "eN_2"):  # nothing measured on eN: a lane whose loops failed keeps its model
        assert got.flow_pcu_h[i[lane]] == flow[i[lane]]
    # the lane without any loop takes the junction's measured mean (a prior), not its neighbours'
    assert got.flow_pcu_h[i["eN_1"]] == pytest.approx(flow[measured].mean())


def test_approach_without_any_loop_takes_the_junctions_mean_demand_and_a_modelled_queue():
    f = Feed(_without("E_stop", "E_adv"), cfg=Config(estimation=EstimationParams(flow_window_s=60.0)))
    for k in range(120):  # N carries 900 PCU/h, served; S and W carry nothing
        f.step(
            reading("N_adv", {"car": 1} if k % 4 == 0 else {}, 0.1, 12.0),
            reading("N_stop", {"car": 1} if k % 4 == 1 else {}, 0.1, 10.0),
            green=0,
        )
    ls, e = f.est.lanes, f.lay.lanes.index("eE_0")
    measured_flow = [ls.flow_pcu_h[f.lay.lanes.index(f"e{ap}_0")] for ap in "NSW"]
    assert ls.flow_pcu_h[e] == pytest.approx(np.mean(measured_flow)) and ls.flow_pcu_h[e] > 0
    assert f.est.blind[1] and f.q(1) > 0  # E is red in phase 0: its modelled queue grows
    q_red = f.q(1)
    for _ in range(30):  # E's green: the saturation flow empties it
        f.step(green=1)
    assert f.q(1) < q_red

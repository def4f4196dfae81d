"""The fixed-time shadow: a point-queue replay, same arrivals and discharge on both sides.

Hand-computed cases on the two-phase junction of tests/junction_fixtures.py: saturation flow
1800 PCU/h (0.5 PCU/s), start-up lost time 2 s, extension into the intergreen 2 s, base program
N/S 30 s, intergreen 5 s, E/W 25 s, intergreen 5 s (cycle 65 s). A window of 1e9 s makes the
forgetting sums plain sums. Unless a test says otherwise, the replay has no transit between the
loops (arrivals counted are at the stop line at once).
"""

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core import shadow
from controller.core.estimation import Estimate, Layout
from controller.junctions import parse_intersection
from controller.model import SignalStatus
from tests.junction_fixtures import four_phase_raw, shared_left_raw, two_lane_north_raw, two_phase, two_phase_raw

LONG = 1e9  # window: no forgetting
N_T = 0  # movement index of N_T (N/S phase 0); E_T is 1


def layout(raw: dict | None = None) -> Layout:
    return Layout.build(parse_intersection(raw, "j.toml") if raw else two_phase(), Config())


def program(lay: Layout, ratio: float = 0.4, transit: bool = False) -> shadow.Program:
    prog = shadow.Program.build(lay, ratio, 2.0, 2.0)
    return prog if transit else replace(prog, zone_m=np.zeros_like(prog.zone_m))


def status(phase: int, t: float, intergreen: bool = False) -> SignalStatus:
    return SignalStatus("J", t, phase, intergreen, 0.0, "p", 1, "adaptive")


def estimate(lay: Layout, arrived: dict[int, float]) -> Estimate:
    """An estimate whose cumulative arrivals (departures + queue) are `arrived` per movement."""
    a = np.zeros(len(lay.junction.movements))
    for i, v in arrived.items():
        a[i] = v
    e = Estimate.empty(lay, 0.0)
    return replace(e, departures_pcu=np.zeros_like(a), queue_pcu=a)


def run(lay, prog, phases, arrivals_at, t0=0.0):
    """Replay one tick per entry of `phases` (the controlled side's phase, -1 intergreen);
    arrivals_at: tick index -> {movement: cumulative arrivals}."""
    rp = shadow.start(prog, len(lay.junction.movements), t0)
    cum: dict[int, float] = {}
    for k, ph in enumerate(phases):
        cum = {**cum, **arrivals_at.get(k, {})}
        st = status(max(ph, 0), t0 + k + 1, intergreen=ph < 0)
        rp = shadow.advance(prog, rp, estimate(lay, cum), st, t0 + k + 1, LONG)
    return rp


def test_the_base_program_as_segments_of_one_cycle():
    prog = program(layout())
    assert prog.cycle_s == 65.0
    assert prog.ends_s == (30.0, 35.0, 60.0, 65.0) and prog.phases == (0, -1, 1, -1)
    assert [prog.phase_at(t) for t in (0, 29.5, 30, 34.9, 35, 59, 60, 64.9, 65, 130 + 36)] == [
        0,
        0,
        -1,
        -1,
        1,
        1,
        -1,
        -1,
        0,
        1,
    ]


def test_a_positive_offset_delays_the_program():
    raw = two_phase_raw()
    raw["base_offset_s"] = 10.0
    prog = program(layout(raw))
    assert prog.phase_at(10.0) == 0 and prog.phase_at(9.0) == -1 and prog.phase_at(40.0) == -1


def test_the_fixed_side_runs_the_program_timeline_with_the_key():
    """[harm] program_timeline: the junction's program_timeline (the city's own transitions:
    here 3 s after N/S, 7 s after E/W, where the base program derives 5 s each) replaces the base
    program, from base_offset_s; without the key, or without a timeline, the base program."""
    raw = two_phase_raw()
    raw["base_offset_s"] = 10.0
    raw["program_timeline"] = {"phases": [0, -1, 1, -1], "durations_s": [32.0, 3.0, 23.0, 7.0]}
    lay = layout(raw)
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0, program_timeline=True)
    assert prog.cycle_s == 65.0 and prog.offset_s == 10.0
    assert prog.ends_s == (32.0, 35.0, 58.0, 65.0) and prog.phases == (0, -1, 1, -1)
    assert [prog.phase_at(10.0 + t) for t in (0, 31, 32, 34, 35, 57, 58, 64, 65)] == [0, 0, -1, -1, 1, 1, -1, -1, 0]
    base = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    assert base.ends_s == (30.0, 35.0, 60.0, 65.0) and base.phases == (0, -1, 1, -1)
    assert shadow.Program.build(layout(), 0.4, 2.0, 2.0, program_timeline=True).ends_s == base.ends_s
    assert shadow.Program.base_segments(lay.junction) == ((0, 30.0), (-1, 5.0), (1, 25.0), (-1, 5.0))


def test_ten_pcu_arriving_at_red_wait_the_red_the_lost_time_then_discharge():
    # 10 PCU at the first second of a 30 s red; then 2 s lost; then 0.5 PCU/s for 20 s.
    # Queue integral: 10 x 30 + 10 x 2 + sum_{k=1..20} (10 - 0.5 k) = 300 + 20 + 95 = 415 PCU s.
    lay = layout()
    rp = run(lay, program(lay), [1] * 30 + [0] * 30, {0: {N_T: 10.0}})
    c = rp.controlled
    assert c.delay_pcu_s[N_T] == pytest.approx(415.0)
    assert c.served_pcu[N_T] == pytest.approx(10.0) and c.queue_pcu[N_T] == pytest.approx(0.0)
    g = shadow.gains(rp)
    assert g.delay_controlled_s == pytest.approx(41.5)
    assert g.demand_pcu_h == pytest.approx(10.0 * 3600 / 60)


def test_a_permissive_green_discharges_at_the_permitted_ratio():
    raw = two_phase_raw()
    raw["phases"][0]["state"] = "grgr"  # N/S permissive
    lay = layout(raw)
    rp = run(lay, program(lay, ratio=0.4), [0] * 13, {0: {N_T: 10.0}})
    # 2 s lost (the arrival tick counts as green's first second), then 11 s at 0.4 x 0.5 PCU/s
    assert rp.controlled.served_pcu[N_T] == pytest.approx(2.2)
    assert rp.controlled.queue_pcu[N_T] == pytest.approx(7.8)


def test_discharge_goes_on_into_the_intergreen_and_restarts_after_the_lost_time():
    lay = layout()
    rp = run(lay, program(lay), [0] * 5 + [-1] * 5 + [0] * 5, {0: {N_T: 20.0}})
    # green: s 3-5 served (1.5) ; intergreen: s 6-7 (1.0) ; green again: s 13-15 (1.5)
    assert rp.controlled.served_pcu[N_T] == pytest.approx(4.0)


def test_arrivals_reach_the_stop_line_a_travel_time_after_the_advance_loop():
    # the fixture's zone is 78 m; at the estimator's default 10 m/s: 7.8 s -> 8 ticks
    lay = layout()
    prog = program(lay, transit=True)
    assert prog.zone_m[N_T] == pytest.approx(78.0)
    rp = shadow.start(prog, 4, 0.0)
    at_stop = []
    for k in range(12):
        before = rp.arrived_pcu[N_T]
        rp = shadow.advance(prog, rp, estimate(lay, {N_T: 1.0}), status(1, k + 1.0), k + 1.0, LONG)
        at_stop.append(rp.arrived_pcu[N_T] - before)
    assert int(np.argmax(at_stop)) == 8 and sum(at_stop) == pytest.approx(1.0)


def test_oversaturation_grows_the_queue_not_a_formula():
    # 1 PCU/s against 0.5 PCU/s of capacity, always green: the queue grows by 0.5 PCU/s
    # after the lost time; the delay stays the finite integral of that queue.
    lay = layout()
    rp = run(lay, program(lay), [0] * 100, {k: {N_T: float(k + 1)} for k in range(100)})
    assert rp.controlled.queue_pcu[N_T] == pytest.approx(100 - 0.5 * 98)
    assert np.isfinite(shadow.gains(rp).delay_controlled_s)


def test_arrivals_are_the_rise_of_departures_plus_queue_never_fed_twice():
    lay = layout()
    prog = program(lay)
    rp = shadow.start(prog, 4, 0.0)
    fed = []
    for k, a in enumerate((5.0, 3.0, 4.0, 7.0)):  # the queue estimate stepped back from 5 to 3
        before = rp.fed_pcu[N_T]
        rp = shadow.advance(prog, rp, estimate(lay, {N_T: a}), status(1, k + 1.0), k + 1.0, LONG)
        fed.append(rp.fed_pcu[N_T] - before)
    assert fed == [5.0, 0.0, 0.0, 2.0]
    assert rp.arrived_pcu[N_T] == pytest.approx(7.0)


def test_no_gain_while_the_signal_runs_the_base_program():
    lay = layout()
    prog = program(lay)
    rp = shadow.start(prog, 4, 0.0)
    rng = np.random.default_rng(1)
    cum = np.zeros(4)
    for t in range(1, 400):
        cum = cum + rng.poisson([0.15, 0.1, 0.15, 0.1])
        ph = prog.phase_at(t - 2.0)  # what the status reports at t under the base program
        est = replace(Estimate.empty(lay, 0.0), departures_pcu=np.zeros(4), queue_pcu=cum)
        rp = shadow.advance(prog, rp, est, status(max(ph, 0), t, ph < 0), float(t), 300.0)
    g = shadow.gains(rp)
    assert g.delay_fixed_s > 0 and g.delay_gain == pytest.approx(0.0) and rp.agreement == pytest.approx(1.0)


def test_giving_the_loaded_movements_more_green_shows_a_gain():
    # Demand heavy on E/W (0.2 PCU/s each), light on N/S (0.05): the base program gives E/W
    # 25 of 65 s; the controlled side a 60 s cycle of 20 s N/S, 30 s E/W with 5 s intergreens.
    lay = layout()
    prog = program(lay)
    rp = shadow.start(prog, 4, 0.0)
    cum = np.zeros(4)
    cycle = [0] * 20 + [-1] * 5 + [1] * 30 + [-1] * 5
    for t in range(1, 1801):
        cum = cum + np.array([0.05, 0.2, 0.05, 0.2])
        ph = cycle[(t - 1) % 60]
        est = replace(Estimate.empty(lay, 0.0), departures_pcu=np.zeros(4), queue_pcu=cum)
        rp = shadow.advance(prog, rp, est, status(max(ph, 0), t, ph < 0), float(t), 900.0)
    g = shadow.gains(rp)
    assert g.delay_gain > 0.2
    assert g.throughput_controlled_pcu_h > g.throughput_fixed_pcu_h
    assert g.queue_controlled_pcu < g.queue_fixed_pcu


def test_restarting_the_evidence_forgets_the_sums_and_aligns_the_queues():
    lay = layout()
    rp = run(lay, program(lay), [0] * 40, {0: {N_T: 30.0}})
    assert rp.fixed.queue_pcu[N_T] != rp.controlled.queue_pcu[N_T]
    r2 = shadow.restart_evidence(rp)
    assert r2.span_s == 0.0 and r2.arrived_pcu.sum() == 0.0 and r2.controlled.delay_pcu_s.sum() == 0.0
    assert np.array_equal(r2.fixed.queue_pcu, rp.controlled.queue_pcu)
    assert np.array_equal(r2.fed_pcu, rp.fed_pcu)  # arrivals are never fed twice


def test_a_queue_standing_through_a_restart_counts_among_the_windows_pcu():
    # 40 PCU queued at red; the evidence restarts (a change of mode); the light stays red for
    # 300 s (a lock) and a trace of 1e-6 PCU arrives. The sums hold the 40 PCU's wait
    # (12,000 PCU s on each side); divided by the arrivals alone that read 1.2e10 s/PCU. No PCU
    # can have waited longer than the window has lasted since the restart.
    lay = layout()
    prog = program(lay)
    rp = shadow.restart_evidence(run(lay, prog, [1] * 10, {0: {N_T: 40.0}}))
    for k in range(300):
        t = 10.0 + k + 1
        rp = shadow.advance(prog, rp, estimate(lay, {N_T: 40.0 + 1e-6}), status(1, t), t, LONG)
    assert rp.controlled.delay_pcu_s[N_T] == pytest.approx(40.0 * 300.0, rel=1e-6)
    g = shadow.gains(rp)
    assert g.delay_controlled_s == pytest.approx(rp.span_s, rel=1e-6)  # each PCU waited the whole window
    assert g.delay_fixed_s < g.delay_controlled_s  # the fixed side's green came
    assert g.demand_pcu_h == pytest.approx(1e-6 * 3600 / 300)  # the demand: arrivals alone


def test_without_a_restart_the_delay_is_per_arrived_pcu():
    rp = run(layout(), program(layout()), [1] * 30 + [0] * 30, {0: {N_T: 10.0}})
    assert shadow.gains(rp).delay_controlled_s == rp.controlled.delay_pcu_s.sum() / rp.arrived_pcu.sum()


def test_a_lock_longer_than_the_window_reads_no_more_than_the_window():
    # 40 PCU stand at red for 3,000 s under a 300 s window, nothing arrives after them: the
    # forgetting sum of their arrival decays (e^-10) while the queue integral stays at 40 x 300
    # PCU s; the 40 PCU standing now bound the count from below.
    lay = layout()
    prog = program(lay)
    rp = shadow.start(prog, len(lay.junction.movements), 0.0)
    for k in range(3000):
        rp = shadow.advance(prog, rp, estimate(lay, {N_T: 40.0}), status(1, k + 1.0), k + 1.0, 300.0)
    g = shadow.gains(rp)
    assert rp.controlled.queue_pcu[N_T] == pytest.approx(40.0)
    assert g.delay_controlled_s <= rp.span_s


def test_network_total_weighs_delays_by_demand():
    a = shadow.Gains(10.0, 5.0, 100.0, 100.0, 100.0)
    b = shadow.Gains(40.0, 50.0, 300.0, 300.0, 300.0)
    t = shadow.total([a, b])
    assert t.delay_fixed_s == pytest.approx(32.5) and t.delay_controlled_s == pytest.approx(38.75)
    assert t.demand_pcu_h == 400.0 and t.throughput_fixed_pcu_h == 400.0


def test_exit_blockage_slows_the_discharge_on_both_sides():
    lay = layout()
    prog = program(lay)
    rp = shadow.start(prog, 4, 0.0)
    est = replace(estimate(lay, {N_T: 10.0}), block=np.array([0.5, 0.0, 0.0, 0.0]))
    for k in range(12):  # 2 s lost, then 10 s at half of 0.5 PCU/s
        rp = shadow.advance(prog, rp, est, status(0, k + 1.0), k + 1.0, LONG)
    assert rp.controlled.served_pcu[N_T] == pytest.approx(2.5)


@pytest.mark.parametrize("now", [False, True])
def test_the_blockage_of_the_last_second_with_the_key(now: bool):
    # [harm] block_now: both sides discharge with Estimate.block_now (here 1: the stop-line loop stood this
    # second) instead of the average Estimate.block (0.5); without the key the average, as before
    lay = layout()
    prog = program(lay)
    rp = shadow.start(prog, 4, 0.0)
    est = replace(
        estimate(lay, {N_T: 10.0}), block=np.array([0.5, 0.0, 0.0, 0.0]), block_now=np.array([1.0, 0.0, 0.0, 0.0])
    )
    for k in range(12):  # both sides at N/S: 2 s lost, then 10 s at 0.5 PCU/s x (1 - the blockage)
        rp = shadow.advance(prog, rp, est, status(0, k + 1.0), k + 1.0, LONG, block_now=now)
    assert rp.controlled.served_pcu[N_T] == pytest.approx(0.0 if now else 2.5)
    assert (rp.fixed.served_pcu[N_T] == 0.0) == now  # the fixed side's green too


def test_spill_by_approach_is_each_rows_own_bincount_bit_for_bit():
    """One bincount over stacked rows gives, row by row, the same floats as a bincount per row:
    per approach its movements' queues summed in movement order, less the storage, at least 0."""
    rng = np.random.default_rng(7)
    approach = np.array([0, 0, 1, 2, 2, 2, 1, 3])
    storage = np.array([10.0, 4.5, 12.25, 1.0])
    q = rng.uniform(0.0, 9.0, (3, len(approach)))
    got = shadow.spill_by_approach(q, approach, storage)
    for row in range(3):
        want = np.maximum(np.bincount(approach, q[row], minlength=4) - storage, 0.0)
        assert np.array_equal(got[row], want)
        assert shadow.spill_pcu(q[row], approach, storage) == float(want.sum())


def test_a_shared_lane_discharges_as_one_queue():
    """shared_lanes ([harm] shared_lane_queue): N_T and N_L share eN_0, 10 PCU of each counted
    there, 13 s of N/S green (11 s usable). Apart, N_L leaves at 0.4 of its 900 PCU/h (1.1 PCU)
    while N_T leaves at 900 (2.75): N_L's queue grows apart from the through traffic in its own
    lane, which a lane cannot do. As one queue they leave at the summed 0.35 PCU/s, each in
    proportion to what waits of it: 3.85 PCU, the two queues equal."""
    lay = layout(shared_left_raw())
    n_l = len(lay.junction.movements) - 1
    apart = run(lay, program(lay), [0] * 13, {0: {N_T: 10.0, n_l: 10.0}})
    assert apart.controlled.queue_pcu[[N_T, n_l]] == pytest.approx([7.25, 8.9])
    prog = replace(shadow.Program.build(lay, 0.4, 2.0, 2.0, shared_lanes=True), zone_m=np.zeros(n_l + 1))
    assert prog.lane_group is not None and prog.lane_group[N_T] == prog.lane_group[n_l]
    one = run(lay, prog, [0] * 13, {0: {N_T: 10.0, n_l: 10.0}})
    assert one.controlled.queue_pcu[[N_T, n_l]] == pytest.approx([10.0 - 3.85 / 2] * 2)
    assert one.fixed.queue_pcu[N_T] == pytest.approx(one.fixed.queue_pcu[n_l])  # the fixed side alike
    # no lane shared: no group, the replay as before
    assert shadow.Program.build(layout(), 0.4, 2.0, 2.0, shared_lanes=True).lane_group is None


def test_pooled_served_by_hand():
    """Movements 0, 1 share a lane, 2, 3 another. Row 0: 0 and 1 green, 6 PCU waiting, 0.6 of
    capacity: 0.5 and 0.1 leave (5:1); 3 is red (capacity 0): nothing leaves it, and 2 alone
    leaves min(2, 0.3). Row 1: 0 and 1 have nothing; 2 and 3 leave 2 of their 4, 1.5 and 0.5."""
    assert shadow.lane_groups(np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0.5]])).tolist() == [0, 0, 1, 1]
    waiting = np.array([[5.0, 1.0, 2.0, 2.0], [0.0, 0.0, 3.0, 1.0]])
    capacity = np.array([[0.1, 0.5, 0.3, 0.0], [0.2, 0.2, 1.0, 1.0]])
    served = shadow.pooled_served(waiting, capacity, np.array([0, 0, 1, 1]), np.full(4, 10.0))
    assert served == pytest.approx(np.array([[0.5, 0.1, 0.3, 0.0], [0.0, 0.0, 1.5, 0.5]]))


def _chained_raw() -> dict:
    """two_phase with N on two lanes: the through N_T on eN_0 and eN_1 (1,800 PCU/h a lane, its
    shares 0.5 + 0.5), a right N_R sharing the kerb lane eN_0 and a left N_L sharing eN_1 (900
    PCU/h each, their half lanes), all three protected in phase 0: one group by transitivity,
    though N_R and N_L share no lane."""
    raw = two_phase_raw()
    raw["n_links"] = 7
    raw["phases"][0]["state"] += "GGG"
    raw["phases"][1]["state"] += "rrr"
    raw["movements"][0].update(lanes=["eN_0", "eN_1"], links=[0, 4])
    for mid, turn, lane, link in (("N_R", "right", "eN_0", 5), ("N_L", "left", "eN_1", 6)):
        raw["movements"].append(
            {
                "id": mid,
                "approach": "N",
                "turn": turn,
                "from_edge": "eN",
                "lanes": [lane],
                "links": [link],
                "sat_flow_pcu_h": 900.0,
                "storage_pcu": 10.0,
                "conflicts": ["E_T", "W_T"],
            }
        )
    return raw


def test_a_pooled_movement_discharges_no_more_than_its_own_lanes():
    """The chained group (_chained_raw), 13 s of N/S green (11 s usable). 10 PCU on the right N_R
    alone: its own lane eN_0 passes 0.5 PCU/s (at its own rate, the lane whole), 5.5 PCU; not the
    group's 1.0 PCU/s over both lanes (the through's lane eN_1 included), which would empty it.
    Apart (the key off) it leaves at its half lane, 2.75. Everyone waiting: the group leaves at
    most what its two lanes give, 11 PCU, in proportion to what waits."""
    lay = layout(_chained_raw())
    n_r, n_l = len(lay.junction.movements) - 2, len(lay.junction.movements) - 1
    pooled = replace(shadow.Program.build(lay, 0.4, 2.0, 2.0, shared_lanes=True), zone_m=np.zeros(n_l + 1))
    assert pooled.lane_group is not None and len(set(pooled.lane_group[[N_T, n_r, n_l]].tolist())) == 1
    assert pooled.own_lanes_ratio is not None and pooled.own_lanes_ratio[[N_T, n_r, n_l]] == pytest.approx([2.0] * 3)
    apart = run(lay, program(lay), [0] * 13, {0: {n_r: 10.0}})
    assert apart.controlled.queue_pcu[n_r] == pytest.approx(7.25)
    one = run(lay, pooled, [0] * 13, {0: {n_r: 10.0}})
    assert one.controlled.queue_pcu[n_r] == pytest.approx(4.5)
    full = run(lay, pooled, [0] * 13, {0: {N_T: 20.0, n_r: 10.0, n_l: 10.0}})
    assert full.controlled.queue_pcu[[N_T, n_r, n_l]] == pytest.approx([14.5, 7.25, 7.25])


def test_pooled_served_gives_what_a_capped_movement_leaves_to_the_others():
    """One group, 11 PCU of capacity this interval: the through (0) 5.5 of it, its own lanes 11;
    the right (1) 2.75, its own lane 5.5; the left (2) 2.75, its lane 5.5. 10 waiting on the right,
    2 on the through: in proportion the right would take 9.17, but its lane gives 5.5; the through
    takes the rest of what waits of it, 2 (its other lane is free). Each movement within its own
    lanes and what waits of it, the group within its capacity."""
    capacity = np.array([[5.5, 2.75, 2.75]])
    served = shadow.pooled_served(np.array([[2.0, 10.0, 0.0]]), capacity, np.zeros(3, dtype=int), np.full(3, 2.0))
    assert served == pytest.approx(np.array([[2.0, 5.5, 0.0]]))
    rng = np.random.default_rng(5)
    for _ in range(200):
        waiting = rng.exponential(5.0, (2, 3)) * (rng.random((2, 3)) < 0.8)
        cap = rng.uniform(0.0, 3.0, (2, 3)) * (rng.random((2, 3)) < 0.8)
        got = shadow.pooled_served(waiting, cap, np.zeros(3, dtype=int), np.full(3, 2.0))
        assert (got <= np.minimum(waiting, 2.0 * cap) + 1e-9).all() and (got >= -1e-12).all()
        assert (got.sum(axis=1) <= cap.sum(axis=1) + 1e-9).all()
        # work-conserving: the group leaves what waits or what its capacity gives, whichever binds first
        room = np.minimum(waiting, 2.0 * cap).sum(axis=1)
        assert got.sum(axis=1) == pytest.approx(np.minimum(room, cap.sum(axis=1)), abs=1e-9)


def test_a_lanes_own_head_of_line_is_no_exit_blockage_with_the_key():
    """four_phase_raw(shared_left_lane=True): N_T on eN_0 and eN_1, N_L on eN_1, protected in the
    left stage (1) where N_T is red. The estimator learns eN_1's blockage only in that stage, where
    the head vehicle that stands is an N_T at its red (0.5 measured), eN_0's in the through stage
    (0.1). Estimate.block: N_T 0.3 (the mean of its lanes), N_L 0.5. With head_of_line the replay
    leaves eN_1 out: N_T 0.05 (eN_0's 0.1 over its two lanes), N_L 0; in 12 s of the through stage
    N_T (1,800 PCU/h, 10 PCU waiting) then leaves 10 s x 0.5 PCU/s x 0.95 = 4.75 PCU, not 3.5."""
    lay = layout(four_phase_raw(shared_left_lane=True))
    ids = [m.id for m in lay.junction.movements]
    n_t, n_l = ids.index("N_T"), ids.index("N_L")
    lane_block = np.zeros(len(lay.lanes))
    lane_block[lay.lanes.index("eN_0")], lane_block[lay.lanes.index("eN_1")] = 0.1, 0.5
    block = np.zeros(len(ids))
    block[n_t], block[n_l] = 0.3, 0.5
    base = estimate(lay, {n_t: 10.0})
    est = replace(base, block=block, lanes=replace(base.lanes, block=lane_block))
    off = program(lay)
    on = replace(shadow.Program.build(lay, 0.4, 2.0, 2.0, head_of_line=True), zone_m=np.zeros(len(ids)))
    assert off.block_lanes is None and on.block_lanes is not None
    assert shadow.replay_block(off, est)[[n_t, n_l]] == pytest.approx([0.3, 0.5])
    assert shadow.replay_block(on, est)[[n_t, n_l]] == pytest.approx([0.05, 0.0])
    served = {}
    for name, prog in (("off", off), ("on", on)):
        rp = shadow.start(prog, len(ids), 0.0)
        for k in range(12):
            rp = shadow.advance(prog, rp, est, status(0, k + 1.0), k + 1.0, LONG)
        served[name] = rp.controlled.served_pcu[n_t]
    assert served == pytest.approx({"off": 3.5, "on": 4.75})
    # a lane whose movements every phase that learns on it serves all: nothing left out
    assert shadow.Program.build(layout(), 0.4, 2.0, 2.0, head_of_line=True).block_lanes is None
    assert shadow.Program.build(layout(four_phase_raw()), 0.4, 2.0, 2.0, head_of_line=True).block_lanes is None


def _standing(lay: Layout, queue_pcu: float, departed_pcu: float = 0.0, blind: bool = False) -> Estimate:
    """N_T: `departed_pcu` over the stop line and `queue_pcu` measured still standing."""
    e = estimate(lay, {N_T: departed_pcu + queue_pcu})
    dep = np.zeros_like(e.queue_pcu)
    dep[N_T] = departed_pcu
    q = e.queue_pcu - dep
    return replace(e, departures_pcu=dep, queue_pcu=q, blind=np.full_like(e.blind, blind))


@pytest.mark.parametrize("floor", [False, True])
def test_the_loops_floor_the_controlled_side_a_queue_they_measure_standing(floor: bool):
    # [harm] measured_queue_floor. 10 PCU reach N_T's stop line and stand there 12 s of green:
    # the replay discharges 5 (2 s lost, then 10 s at 0.5 PCU/s) where the loops count none over
    # the stop line (a blocked exit). With the floor the controlled side holds the 10 the loops
    # measure (delay 10 x 12 PCU s, nothing served; without it 10 + 10 + 9.5 + ... + 5); the
    # fixed side (the city's N/S green) is the replay's either way.
    lay = layout()
    prog = program(lay)
    rp = shadow.start(prog, 4, 0.0)
    for k in range(12):
        rp = shadow.advance(prog, rp, _standing(lay, 10.0), status(0, k + 1.0), k + 1.0, LONG, queue_floor=floor)
    assert rp.fixed.queue_pcu[N_T] == pytest.approx(5.5)  # the program's green shown from its second tick
    assert rp.controlled.queue_pcu[N_T] == pytest.approx(10.0 if floor else 5.0)
    assert rp.controlled.delay_pcu_s[N_T] == pytest.approx(120.0 if floor else 10.0 + 10.0 + 72.5)
    assert rp.controlled.served_pcu[N_T] == pytest.approx(0.0 if floor else 5.0)
    # the loops then count 8 over the stop line, 2 still standing: the replay is above the floor
    # and discharges on at the saturation flow (0.5 PCU/s) down to the measured queue and below
    for k in range(12, 24):
        rp = shadow.advance(prog, rp, _standing(lay, 2.0, 8.0), status(0, k + 1.0), k + 1.0, LONG, queue_floor=floor)
    assert rp.controlled.queue_pcu[N_T] == pytest.approx(4.0 if floor else 0.0)


def test_the_floor_leaves_a_movement_without_loops_and_what_is_in_transit():
    # a blind movement's queue is a prior: no floor; a PCU counted at the advance loop and still
    # on its way to the stop line (the transit ring) is not standing there yet
    lay = layout()
    prog = program(lay)
    rp = shadow.start(prog, 4, 0.0)
    for k in range(12):
        est = _standing(lay, 10.0, blind=True)
        rp = shadow.advance(prog, rp, est, status(0, k + 1.0), k + 1.0, LONG, queue_floor=True)
    assert rp.controlled.queue_pcu[N_T] == pytest.approx(5.0)
    pending = np.zeros((shadow.TRANSIT_MAX_TICKS, 4))
    pending[3, N_T] = 4.0
    floor_pcu = shadow.measured_floor_pcu(np.array([10.0, 0, 0, 0]), np.zeros(4, dtype=bool), pending)
    assert floor_pcu[N_T] == pytest.approx(6.0) and (floor_pcu[1:] <= 0).all()


def _blocked(lay: Layout, departed_pcu: float, block: float) -> Estimate:
    """N_T: 40 PCU standing, `departed_pcu` over the stop line since 0, its exit measured blocked
    `block` of its queued green."""
    e = _standing(lay, 40.0, departed_pcu)
    b = np.zeros_like(e.block)
    b[N_T] = block
    return replace(e, block=b)


BOUNDS = shadow.BlockedFit(2.0, 60.0, 2.0, 0.99)
BLOCKS = (0.0, 0.2, 0.4, 0.6)  # N_T's measured exit blockage, a second each in turn


@pytest.mark.parametrize("blocked", [False, True])
def test_the_loops_calibrate_the_blocked_discharge_on_both_sides(blocked: bool):
    # [harm] blocked_discharge. N_T green on the controlled side, a queue standing, its exit measured
    # blocked 0-60 % of its queued green in turn; the stop-line loop counts 0.5 x (1 - 1.5 b) PCU each
    # usable second: beta = 1.5 (no noise: the fit is exact). At b = 0.5 the side discharges 0.5 x
    # (1 - 0.75) = 0.125, where the model alone would 0.25. The fixed side, with the same blockage
    # explained, gets the same correction; with none explained, none.
    lay = layout()
    prog = program(lay)
    bounds = BOUNDS if blocked else None
    rp = shadow.start(prog, 4, 0.0)
    dep = 0.0
    for k in range(1, 241):
        b = BLOCKS[k % len(BLOCKS)]
        dep += 0.5 * (1.0 - 1.5 * b) if k >= 3 else 0.0  # usable from the third second (2 s start-up loss)
        rp = shadow.advance(prog, rp, _blocked(lay, dep, b), status(0, float(k)), float(k), LONG, blocked=bounds)
    served = rp.sides.served_pcu.copy()
    rp = shadow.advance(prog, rp, _blocked(lay, dep + 0.125, 0.5), status(0, 241.0), 241.0, LONG, blocked=bounds)
    step = rp.sides.served_pcu - served
    assert step[shadow.CONTROLLED, N_T] == pytest.approx(0.125 if blocked else 0.25)
    sat, block = np.full(4, 1800.0), np.array([0.5, 0.0, 0.0, 0.0])
    for block_fixed, fixed_rate in ((0.5, 0.125), (0.0, 0.5)):
        bf = np.array([block_fixed, 0.0, 0.0, 0.0])
        rate = shadow.discharge_rates(sat, block, bf, rp.blocked_fit, bounds)
        assert rate[shadow.FIXED, N_T] == pytest.approx(fixed_rate if blocked else 0.5 * (1.0 - block_fixed))
    if not blocked:
        assert rp.blocked_fit is None
        return
    beta = shadow.blocked_ratio(rp.blocked_fit, bounds)
    assert beta is not None and beta[N_T] == pytest.approx(1.5) and (beta[1:] == 1.0).all()


def test_the_blocked_discharge_learns_nothing_without_a_blockage_a_queue_or_loops():
    # beta stays 1 (the replay is the key off's to the bit) where nothing is blocked, where the loops
    # see no queue standing (the count is the arrivals, not the discharge) or on a blind movement
    lay = layout()
    prog = program(lay)
    for blocks, queue, blind in (((0.0,), 10.0, False), (BLOCKS, 0.5, False), (BLOCKS, 10.0, True)):
        off = on = shadow.start(prog, 4, 0.0)
        dep = 0.0
        for k in range(1, 241):
            b = blocks[k % len(blocks)]
            dep += 0.5 * (1.0 - 1.5 * b) if k >= 3 else 0.0
            est = _blocked(lay, dep, b)
            est = replace(est, queue_pcu=np.where(np.arange(4) == N_T, queue, 0.0), blind=np.full(4, blind))
            off = shadow.advance(prog, off, est, status(0, float(k)), float(k), LONG)
            on = shadow.advance(prog, on, est, status(0, float(k)), float(k), LONG, blocked=BOUNDS)
        beta = shadow.blocked_ratio(on.blocked_fit, BOUNDS)
        assert beta is not None and (beta == 1.0).all()
        assert np.array_equal(on.sides.queue_pcu, off.sides.queue_pcu)
        assert np.array_equal(on.sides.delay_pcu_s, off.sides.delay_pcu_s)


def test_an_approachs_own_road_counts_each_of_its_lanes_once():
    """shadow.approach_room_pcu ([harm] spill_room): an approach's room is Layout.lane_adv_room_pcu
    summed over its lanes, each lane once: N_T and a left N_L sharing the lane eN_0 count its room
    once, not once per movement; a second lane eN_1 without an advance loop adds none."""
    for raw in (shared_left_raw(), two_lane_north_raw("N_L")):
        lay = Layout.build(parse_intersection(raw, "room.toml"), Config())
        approach, _ = shadow.approaches(lay)
        room = shadow.approach_room_pcu(lay, approach)
        lane_room = dict(zip(lay.lanes, lay.lane_adv_room_pcu))
        ids = [m.id for m in lay.junction.movements]
        assert approach[ids.index("N_L")] == approach[ids.index("N_T")]  # one approach, N
        assert lane_room["eN_0"] > 0.0 and lane_room.get("eN_1", 0.0) == 0.0
        assert room[approach[ids.index("N_T")]] == lane_room["eN_0"]
        assert room[approach[ids.index("E_T")]] == lane_room["eE_0"]

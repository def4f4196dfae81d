"""[max_pressure] inner_link_room: a link inside one light (to an approach of the same light, directly or over
unsignalised nodes) read as an exit: in a stage that does not drain it, a movement into it keeps only the share of
its rate the room left on it takes (held-out rand_tight_clusters_hw, BENCHMARKS.md K sessions 53-54)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.inner_links import (
    in_transit_pcu,
    inner_link_ratio,
    inner_links,
    sent_lag_s,
    track_sent,
    unseen_links,
    unseen_step,
)
from controller.core.policies.max_pressure import MaxPressurePolicy
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_max_pressure_net import mixed_junctions


def _layout(reach: str = "eE", direct: bool = False, adv_on_e: bool = True, entry_loop: bool = False) -> Layout:
    """two_phase (phase 0: N, S; phase 1: E, W) where N_T's exit leads over an unsignalised node onto the
    junction's own approach eE (`reach`; with `direct`, its exit edge is `reach` itself); with `entry_loop`,
    eE's advance loop stands at the link's entry (no road of its own upstream: `room_m` 0)."""
    raw = two_phase_raw()
    if entry_loop:
        next(d for d in raw["detectors"] if d["id"] == "E_adv")["room_m"] = 0.0
    n = raw["movements"][0]
    if direct:
        n["to_edge"] = reach
    else:
        n.update(to_edge="x", reach_edge=reach, reach_storage_pcu=8.0)
    if not adv_on_e:
        raw["detectors"] = [d for d in raw["detectors"] if d["id"] != "E_adv"]
    return Layout.build(parse_intersection(raw, "inner.toml"), Config())


def _est(lay: Layout, queue_pcu: list[float], e_lane_pcu: float, e_adv_standing_s: float = 0.0) -> Estimate:
    """Movements' queues (N_T, E_T, S_T, W_T); eE's lane holds `e_lane_pcu` between its loops, its advance loop
    standing for `e_adv_standing_s`."""
    est = Estimate.empty(lay, 0.0)
    e = lay.lanes.index("eE_0")
    lane_q, stand = np.zeros(len(lay.lanes)), np.zeros(len(lay.lanes))
    lane_q[e], stand[e] = e_lane_pcu, e_adv_standing_s
    lanes = dataclasses.replace(est.lanes, queue_pcu=lane_q, adv_standing_s=stand)
    return dataclasses.replace(est, queue_pcu=np.array(queue_pcu, dtype=float), lanes=lanes)


def test_a_movement_reaching_its_own_lights_approach_is_an_inner_link_drained_by_the_stage_serving_it() -> None:
    lay = _layout()
    links = inner_links(lay)
    assert links.movements.tolist() == [0]  # N_T
    assert links.drains[:, 0].tolist() == [False, True]  # phase 1 serves E_T, the approach's one movement
    e = lay.lanes.index("eE_0")  # 78 m between the loops and 20 m before the advance loop: more than 8 PCU
    assert links.storage_pcu[0] == lay.lane_storage_pcu[e] + lay.lane_adv_room_pcu[e] > 8.0
    assert inner_links(_layout(direct=True)).movements.tolist() == [0]  # its exit edge is the approach itself
    assert not len(inner_links(_layout(reach="elsewhere")).movements)  # another light's approach: not inner
    assert inner_link_ratio(_layout(reach="elsewhere"), Estimate.empty(_layout(reach="elsewhere"), 0.0)) is None


def test_the_rate_kept_is_the_room_left_over_the_queue_in_a_stage_that_does_not_drain_the_link() -> None:
    lay = _layout()
    storage = float(inner_links(lay).storage_pcu[0])
    ratio = inner_link_ratio(lay, _est(lay, [3.2, 1.0, 2.0, 0.0], storage - 1.6))
    assert ratio is not None
    assert ratio[0].tolist() == pytest.approx([0.5, 1.0, 1.0, 1.0])  # room 1.6 over N_T's 3.2 (7 s sends 3.5)
    assert ratio[1].tolist() == [1.0, 1.0, 1.0, 1.0]  # phase 1 drains eE
    entry = _layout(entry_loop=True)
    full = inner_link_ratio(entry, _est(entry, [4.0, 1.0, 2.0, 0.0], 1.0, e_adv_standing_s=3.0))
    assert full is not None and full[0, 0] == 0.0  # the advance loop at the entry stood standing_s: no room
    roomy = inner_link_ratio(lay, _est(lay, [4.0, 1.0, 2.0, 0.0], 0.0))
    assert roomy is not None and (roomy == 1.0).all()


def test_a_queue_longer_than_a_minimum_green_sends_weighs_the_room_over_what_that_green_sends() -> None:
    """N_T (1,800 PCU/h) holds 12 PCU, but phase 0's 7 s minimum green sends 3.5 PCU of it: with 1.75 PCU of room
    it keeps half its rate, and with 3.5 PCU all of it (Bologna pasubio's node 230, K session 56: 15 PCU queued
    over 12 PCU of room cut a 4 s stage whose green sends 4)."""
    lay = _layout()
    storage = float(inner_links(lay).storage_pcu[0])
    assert lay.junction.phases[0].min_green_s == 7.0 and lay.sat_flow_pcu_h[0] == 1800.0
    half = inner_link_ratio(lay, _est(lay, [12.0, 1.0, 2.0, 0.0], storage - 1.75))
    assert half is not None and half[0, 0] == pytest.approx(0.5)
    whole = inner_link_ratio(lay, _est(lay, [12.0, 1.0, 2.0, 0.0], storage - 3.5))
    assert whole is not None and whole[0, 0] == 1.0


def test_an_advance_loop_with_road_behind_it_that_stood_leaves_the_room_the_queue_does_not_fill() -> None:
    """eE's advance loop has 20 m of its own road upstream (more than one car): its standing says the queue passed
    it, not that the link is full; the room is the storage less the queue (Bologna pasubio's node 232, K session
    56: a 79 PCU link read full with 15 PCU on it)."""
    lay = _layout()
    e = lay.lanes.index("eE_0")
    assert lay.lane_adv_room_pcu[e] >= 1.0 and _layout(entry_loop=True).lane_adv_room_pcu[e] < 1.0
    storage = float(inner_links(lay).storage_pcu[0])
    stood = inner_link_ratio(lay, _est(lay, [3.2, 1.0, 2.0, 0.0], storage - 1.6, e_adv_standing_s=3.0))
    assert stood is not None and stood[0, 0] == pytest.approx(0.5)  # room 1.6 over N_T's 3.2, as if not stood


def test_an_approach_without_advance_loop_is_full_while_its_stop_line_loop_is_occupied() -> None:
    lay = _layout(adv_on_e=False)
    est = _est(lay, [4.0, 1.0, 2.0, 0.0], 0.0)
    e = lay.lanes.index("eE_0")
    occupied = dataclasses.replace(est, lanes=dataclasses.replace(est.lanes, stop_empty_s=np.zeros(len(lay.lanes))))
    empty_s = np.zeros(len(lay.lanes))
    empty_s[e] = 5.0
    clear = dataclasses.replace(est, lanes=dataclasses.replace(est.lanes, stop_empty_s=empty_s))
    assert inner_link_ratio(lay, occupied)[0, 0] == 0.0  # type: ignore[index]
    assert inner_link_ratio(lay, clear)[0, 0] > 0.0  # type: ignore[index]


def _wish(on: bool, lay: Layout, est: Estimate) -> int:
    policy = MaxPressurePolicy(MaxPressureParams(inner_link_room=on, stall_s=0.0, head_block_s=0.0))
    signal = SignalView(0, False, 20.0, (100.0, 80.0, 100.0, 80.0))  # phase 0 green 20 s; E and W red 20 s
    _, w = policy.decide(policy.init(lay, 0.0), lay, est, signal, 100.0)
    assert w is not None
    return w.phase


def test_decide_leaves_a_green_into_a_full_inner_link_for_the_stage_that_drains_it() -> None:
    """N_T holds 6 PCU, E_T 2 PCU (red 20 s): the switch's loss keeps phase 0 on the pressures. With eE's
    advance loop (at the link's entry) standing, N_T's green sends into a full link: with the key on phase 1 is
    served."""
    lay = _layout(entry_loop=True)
    est = _est(lay, [6.0, 2.0, 0.0, 0.0], 10.0, e_adv_standing_s=5.0)
    assert _wish(False, lay, est) == 0
    assert _wish(True, lay, est) == 1
    assert _wish(True, lay, _est(lay, [6.0, 2.0, 0.0, 0.0], 0.0)) == 0  # room on the link: as key off


def test_the_network_pass_is_not_used_with_the_key_on_and_it_ships_off() -> None:
    layouts = {jid: Layout.build(j, Config()) for jid, j in mixed_junctions(2).items()}
    assert MaxPressurePolicy(MaxPressureParams(inner_link_room=True)).network_decision(layouts) is None
    assert MaxPressurePolicy(MaxPressureParams()).network_decision(layouts) is not None
    assert load_config(Path(__file__).resolve().parents[2] / "config.toml").max_pressure.inner_link_room is False


def test_a_movement_sharing_a_lane_with_one_into_a_full_inner_link_keeps_its_share_too() -> None:
    """First in, first out: N_L on N_T's lane, its exit not inner, waits behind a head bound for the full link."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["phases"][0]["state"], raw["phases"][1]["state"] = "GrGrG", "rGrGr"
    raw["movements"][0].update(to_edge="x", reach_edge="eE", reach_storage_pcu=8.0)
    next(d for d in raw["detectors"] if d["id"] == "E_adv")["room_m"] = 0.0  # the loop at the link's entry
    left = dict(raw["movements"][0], id="N_L", turn="left", links=[4], to_edge="y")
    for key in ("reach_edge", "reach_storage_pcu"):
        left.pop(key)
    raw["movements"].append(left)
    for m in raw["movements"]:
        if m["id"] in ("E_T", "W_T"):
            m["conflicts"] = [*m["conflicts"], "N_L"]
    lay = Layout.build(parse_intersection(raw, "inner.toml"), Config())
    est = _est(lay, [4.0, 1.0, 2.0, 0.0], 1.0, e_adv_standing_s=3.0)
    est = dataclasses.replace(est, queue_pcu=np.array([4.0, 1.0, 2.0, 0.0, 1.0]))
    ratio = inner_link_ratio(lay, est)
    assert ratio is not None
    assert ratio[0].tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_the_links_queue_counts_its_hidden_part_and_a_short_queue_counts_as_one_pcu() -> None:
    """The room left is the storage less the approach's queue between its loops *and* past its advance loop; the
    share is that room over the movement's queue, at least 1 PCU (R, session 54: the hidden part dropped, and the
    1 PCU floor dropped, each passed the tests)."""
    lay = _layout()
    e = lay.lanes.index("eE_0")
    storage = float(inner_links(lay).storage_pcu[0])
    est = _est(lay, [2.0, 1.0, 2.0, 0.0], storage - 2.0)
    hidden = np.zeros(len(lay.lanes))
    hidden[e] = 1.0
    est = dataclasses.replace(est, lanes=dataclasses.replace(est.lanes, hidden_pcu=hidden))
    ratio = inner_link_ratio(lay, est)
    assert ratio is not None and ratio[0, 0] == 0.5  # room 1 PCU over N_T's 2
    short = inner_link_ratio(lay, _est(lay, [0.5, 1.0, 2.0, 0.0], storage - 0.25))
    assert short is not None and short[0, 0] == 0.25  # room 0.25 PCU over 1 PCU, not over N_T's 0.5


def test_a_chains_storage_is_at_least_reach_storage_pcu() -> None:
    """A chain over unsignalised nodes stores at least its `reach_storage_pcu`, where the approach's own lanes
    store less (R, session 54: the floor dropped passed the tests)."""
    raw = two_phase_raw()
    raw["movements"][0].update(to_edge="x", reach_edge="eE", reach_storage_pcu=40.0)
    lay = Layout.build(parse_intersection(raw, "inner.toml"), Config())
    assert inner_links(lay).storage_pcu.tolist() == [40.0]


def test_a_stage_serving_fewer_of_the_approachs_movements_than_another_does_not_drain_it() -> None:
    """eE carries E_T (phase 1) and E_R (phases 0 and 1): phase 1 serves both, phase 0 only E_R, so only phase 1
    drains the link N_T reaches (R, session 54: `served > 0` for the most served passed the tests)."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["phases"][0]["state"], raw["phases"][1]["state"] = "GrGrG", "rGrGG"
    raw["movements"][0].update(to_edge="x", reach_edge="eE", reach_storage_pcu=8.0)
    e_t = next(m for m in raw["movements"] if m["id"] == "E_T")
    raw["movements"].append(dict(e_t, id="E_R", turn="right", links=[4], to_edge="z", conflicts=[]))
    lay = Layout.build(parse_intersection(raw, "inner.toml"), Config())
    assert inner_links(lay).drains[:, 0].tolist() == [False, True]


def _sent(lay: Layout, n_t_sent_pcu: float, e_t_crossed_pcu: float, e_empty_s: float = 0.0) -> Estimate:
    """N_T sent `n_t_sent_pcu` over its stop line onto eE, E_T sent `e_t_crossed_pcu` over eE's; eE's stop-line
    loop empty for `e_empty_s`; no queue seen anywhere."""
    est = _est(lay, [0.0, 0.0, 0.0, 0.0], 0.0)
    empty = np.zeros(len(lay.lanes))
    empty[lay.lanes.index("eE_0")] = e_empty_s
    return dataclasses.replace(
        est,
        departures_pcu=np.array([n_t_sent_pcu, e_t_crossed_pcu, 0.0, 0.0]),
        lanes=dataclasses.replace(est.lanes, stop_empty_s=empty),
    )


def test_what_the_light_sent_onto_an_approach_without_advance_loop_and_no_loop_counted_is_its_queue() -> None:
    """N_T's exit is eE, watched by its stop-line loop alone: 3 PCU sent, 1 counted over eE's stop line, 2 wait
    unseen (in the box short of the loop) and are E_T's queue (K, session 55)."""
    lay = _layout(direct=True, adv_on_e=False)
    assert unseen_links(lay).outs.tolist() == [[False, True, False, False]]
    assert not len(unseen_links(_layout(direct=True)).outs)  # an advance loop sees what comes in
    base, unseen = unseen_step(None, lay, _sent(lay, 3.0, 1.0), 0)
    assert base is not None and base.tolist() == [0.0]
    assert unseen is not None and unseen.tolist() == [0.0, 2.0, 0.0, 0.0]
    est = _sent(lay, 3.0, 1.0)
    seen = np.zeros(len(lay.lanes))
    seen[lay.lanes.index("eE_0")] = 1.5  # one of them stands on eE's stop-line loop: seen, not counted again
    _, less = unseen_step(None, lay, dataclasses.replace(est, lanes=dataclasses.replace(est.lanes, queue_pcu=seen)), 0)
    assert less is not None and less[1] == 0.5


def test_the_unseen_count_restarts_below_none_and_when_the_approach_is_served_with_its_loop_empty() -> None:
    lay = _layout(direct=True, adv_on_e=False)
    base, unseen = unseen_step(None, lay, _sent(lay, 3.0, 1.0, e_empty_s=3.0), 1)  # phase 1 serves E_T, loop empty
    assert base is not None and base.tolist() == [2.0] and unseen is None
    _, later = unseen_step(base, lay, _sent(lay, 4.0, 1.0), 0)
    assert later is not None and later[1] == 1.0  # counted from the restart: 1 PCU sent since
    _, red = unseen_step(None, lay, _sent(lay, 3.0, 1.0, e_empty_s=3.0), 0)
    assert red is not None and red[1] == 2.0  # a stage leaving E_T red: they still wait
    low, none = unseen_step(None, lay, _sent(lay, 1.0, 2.0), 0)
    assert low is not None and low.tolist() == [-1.0] and none is None  # the shares' error: restarted at none


def test_decide_serves_the_approach_where_the_light_sent_vehicles_no_loop_sees() -> None:
    """Phase 0 green 20 s, N_T 2 PCU queued; E_T's loops see nothing, but N_T sent 4 PCU onto eE and none crossed
    its stop line: with the key on phase 1 is served (key off: phase 0 stays)."""
    lay = _layout(direct=True, adv_on_e=False)
    est = dataclasses.replace(_sent(lay, 4.0, 0.0), queue_pcu=np.array([2.0, 0.0, 0.0, 0.0]))
    assert _wish(False, lay, est) == 0
    assert _wish(True, lay, est) == 1
    assert _wish(True, lay, dataclasses.replace(est, departures_pcu=np.array([4.0, 4.0, 0.0, 0.0]))) == 0


def test_what_was_sent_within_the_lights_clearance_is_on_its_way_not_waiting() -> None:
    """N_T sent 3 PCU onto eE, 1 crossed its stop line: 2 counted, but 1 of them was sent within the clearance
    (yellow 3 s + all-red 2 s): still crossing the box, so 1 waits unseen (held-out rand_tight_clusters_hc seed 1,
    a car read as waiting 3 s before it crossed road 78's loop; K session 57)."""
    lay = _layout(direct=True, adv_on_e=False)
    assert sent_lag_s(lay) == 5.0
    _, unseen = unseen_step(None, lay, _sent(lay, 3.0, 1.0), 0, np.array([1.0]))
    assert unseen is not None and unseen.tolist() == [0.0, 1.0, 0.0, 0.0]
    _, none = unseen_step(None, lay, _sent(lay, 3.0, 1.0), 0, np.array([2.5]))
    assert none is None  # more on its way than counted: none waits
    log = None
    for t_s, sent in ((100.0, 0.0), (102.0, 1.0), (104.0, 3.0), (107.0, 4.0)):
        log = track_sent(log, lay, _sent(lay, sent, 0.0), t_s)
    assert log is not None and log.t_s.tolist() == [102.0, 104.0, 107.0]  # back to the newest 5 s old
    transit = in_transit_pcu(log, lay, 107.0)
    assert transit is not None and transit.tolist() == [3.0]  # sent since 102 s


def test_decide_waits_the_clearance_before_it_counts_a_send_as_waiting() -> None:
    """Phase 0 green, N_T 2 PCU queued; N_T sent 4 PCU onto eE between 100 s and 103 s, none crossed: until 5 s
    after the last tick that saw none of them sent (108 s) they may be crossing the box and phase 0 stays; then
    they wait unseen and phase 1 is served (without the clearance: at 103 s)."""
    lay = _layout(direct=True, adv_on_e=False)
    policy = MaxPressurePolicy(MaxPressureParams(inner_link_room=True, stall_s=0.0, head_block_s=0.0))
    state, phases = policy.init(lay, 0.0), []
    for t_s, sent in ((100.0, 0.0), (103.0, 4.0), (106.0, 4.0), (108.0, 4.0)):
        est = dataclasses.replace(_sent(lay, sent, 0.0), queue_pcu=np.array([2.0, 0.0, 0.0, 0.0]))
        signal = SignalView(0, False, t_s - 80.0, (t_s, 80.0, t_s, 80.0))
        state, wish = policy.decide(state, lay, est, signal, t_s)
        assert wish is not None
        phases.append(wish.phase)
    assert phases == [0, 0, 0, 1]


def test_the_unseen_count_keeps_its_restart_across_ticks_and_stages() -> None:
    """Tick 1, phase 1 (E_T) green, eE's loop empty 3 s: the 2 PCU counted are taken as gone. Tick 2, phase 0: the
    same counts, nothing sent since, so nothing unseen and phase 0 stays (with the restart lost: phase 1)."""
    lay = _layout(direct=True, adv_on_e=False)
    policy = MaxPressurePolicy(MaxPressureParams(inner_link_room=True, stall_s=0.0, head_block_s=0.0))
    served = SignalView(1, False, 20.0, (80.0, 100.0, 80.0, 100.0))
    state, _ = policy.decide(policy.init(lay, 0.0), lay, _sent(lay, 3.0, 1.0, e_empty_s=3.0), served, 100.0)
    assert state.unseen_base_pcu is not None and state.unseen_base_pcu.tolist() == [2.0]
    est = dataclasses.replace(_sent(lay, 3.0, 1.0), queue_pcu=np.array([2.0, 0.0, 0.0, 0.0]))
    starting = SignalView(0, False, 2.0, (102.0, 92.0, 102.0, 92.0))  # phase 0 in its minimum green
    state, _ = policy.decide(state, lay, est, starting, 102.0)
    assert state.unseen_base_pcu is not None and state.unseen_base_pcu.tolist() == [2.0]
    signal = SignalView(0, False, 20.0, (110.0, 90.0, 110.0, 90.0))
    _, wish = policy.decide(state, lay, est, signal, 110.0)
    assert wish is not None and wish.phase == 0
    _, lost = policy.decide(policy.init(lay, 0.0), lay, est, signal, 110.0)
    assert lost is not None and lost.phase == 1


def test_the_unseen_count_restarts_only_once_the_served_loop_stood_empty_standing_s() -> None:
    """Phase 1 serves E_T with eE's stop-line loop empty 2.5 s, under `[estimation] standing_s` (3 s): a vehicle may
    still be on its way over, so the 2 PCU stay counted (R, session 55: any empty loop restarting survived)."""
    lay = _layout(direct=True, adv_on_e=False)
    assert lay.params.standing_s == 3.0
    base, unseen = unseen_step(None, lay, _sent(lay, 3.0, 1.0, e_empty_s=2.5), 1)
    assert base is not None and base.tolist() == [0.0]
    assert unseen is not None and unseen.tolist() == [0.0, 2.0, 0.0, 0.0]


def test_a_restart_moves_the_counts_zero_by_what_it_counted_since_the_last() -> None:
    """The zero at 2 PCU: 5 sent, 1 crossed, so 2 counted since; served with its loop empty 3 s, the zero moves to
    4 PCU, not to the 2 counted (R, session 55: `base + count` -> `count` survived)."""
    lay = _layout(direct=True, adv_on_e=False)
    base, unseen = unseen_step(np.array([2.0]), lay, _sent(lay, 5.0, 1.0, e_empty_s=3.0), 1)
    assert base is not None and base.tolist() == [4.0] and unseen is None


def test_the_unseen_vehicles_are_shared_evenly_by_the_approachs_movements() -> None:
    """eE carries E_T and a right turn E_R on its one lane: N_T sent 3 PCU onto it, 1 crossed, 2 unseen, 1 each
    (R, session 55: each movement given the whole count survived)."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["phases"][0]["state"], raw["phases"][1]["state"] = "GrGrr", "rGrGG"
    raw["movements"][0]["to_edge"] = "eE"
    e_t = next(m for m in raw["movements"] if m["id"] == "E_T")
    raw["movements"].append(dict(e_t, id="E_R", turn="right", links=[4], to_edge="z", conflicts=[]))
    raw["detectors"] = [d for d in raw["detectors"] if d["id"] != "E_adv"]
    lay = Layout.build(parse_intersection(raw, "inner.toml"), Config())
    assert unseen_links(lay).outs.tolist() == [[False, True, False, False, True]]
    est = dataclasses.replace(Estimate.empty(lay, 0.0), departures_pcu=np.array([3.0, 1.0, 0.0, 0.0, 0.0]))
    _, unseen = unseen_step(None, lay, est, 0)
    assert unseen is not None and unseen.tolist() == [0.0, 1.0, 0.0, 0.0, 1.0]


def test_an_advance_loop_with_less_than_a_car_of_road_behind_it_stands_at_the_link_s_entry() -> None:
    """Half a car of road behind eE's advance loop stores no queue of its own: its standing says the link is full,
    as a loop at the entry's (a car, 1 PCU, is the least a road holds)."""
    lay = _layout()
    e = lay.lanes.index("eE_0")
    room = lay.lane_adv_room_pcu.copy()
    room[e] = 0.5
    half = dataclasses.replace(lay, lane_adv_room_pcu=room)
    storage = float(inner_links(half).storage_pcu[0])
    ratio = inner_link_ratio(half, _est(half, [3.2, 1.0, 2.0, 0.0], storage - 1.6, e_adv_standing_s=3.0))
    assert ratio is not None and ratio[0, 0] == 0.0


def test_each_stage_weighs_the_room_over_what_its_own_minimum_green_sends() -> None:
    """A third stage like phase 0 (N, S) with a 14 s minimum green: N_T (1,800 PCU/h, 12 PCU queued) sends 3.5 PCU
    in phase 0's 7 s and 7 PCU in its 14 s; 1.75 PCU of room keeps half its rate in phase 0, a quarter in phase 2."""
    raw = two_phase_raw()
    raw["phases"].append({"state": "GrGr", "min_green_s": 14.0, "max_green_s": 60.0, "base_green_s": 20.0})
    raw["movements"][0].update(to_edge="x", reach_edge="eE", reach_storage_pcu=8.0)
    lay = Layout.build(parse_intersection(raw, "inner3.toml"), Config())
    storage = float(inner_links(lay).storage_pcu[0])
    ratio = inner_link_ratio(lay, _est(lay, [12.0, 1.0, 2.0, 0.0], storage - 1.75))
    assert ratio is not None and ratio[:, 0].tolist() == pytest.approx([0.5, 1.0, 0.25])


def test_a_link_of_several_lanes_is_full_only_when_every_lane_of_it_reads_full() -> None:
    """eE has two lanes, each with an advance loop at the link's entry: with one of them standing the other still
    takes N_T's vehicles (the room is the sum over both lanes); with both standing the link is full (ingolstadt21,
    K session 56: a three-lane link read full by one lane's loop with nothing stored)."""
    raw = two_phase_raw()
    raw["movements"][0].update(to_edge="x", reach_edge="eE", reach_storage_pcu=8.0)
    next(m for m in raw["movements"] if m["id"] == "E_T")["lanes"] = ["eE_0", "eE_1"]
    next(d for d in raw["detectors"] if d["id"] == "E_adv")["room_m"] = 0.0
    raw["detectors"] += [
        {"id": "E1_stop", "lane": "eE_1", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
        {"id": "E1_adv", "lane": "eE_1", "kind": "advance", "pos_m": 20.0, "dist_to_stop_m": 80.0, "room_m": 0.0},
    ]
    lay = Layout.build(parse_intersection(raw, "inner.toml"), Config())
    est = dataclasses.replace(Estimate.empty(lay, 0.0), queue_pcu=np.array([2.0, 1.0, 0.0, 0.0]))

    def standing(*lanes: str) -> Estimate:
        stand = np.zeros(len(lay.lanes))
        for lane in lanes:
            stand[lay.lanes.index(lane)] = 3.0
        return dataclasses.replace(est, lanes=dataclasses.replace(est.lanes, adv_standing_s=stand))

    one = inner_link_ratio(lay, standing("eE_0"))
    assert one is not None and one[0, 0] == 1.0
    both = inner_link_ratio(lay, standing("eE_0", "eE_1"))
    assert both is not None and both[0, 0] == 0.0

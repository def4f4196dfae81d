"""max_pressure's stall rule (`[max_pressure] stall_s`, `stalled_movements`) one condition at a time: a
movement of the phase in force is stalled only when it is served protected, queued, not blind, its head on
the stop-line loop, and nothing of it crossed for `stall_s` past the green's start-up loss; each condition
unmet alone leaves it not stalled. (Review of a3ae167, R session 39: the decision test,
test_policies.py's test_max_pressure_stall_lets_a_green_into_a_full_link_go, still passed with the
protected service read as any service or with the blind movements stalled.) And `phases.exit_red`, the
exit's own light read from the stage the next light reports (G session 41), and how long it will stay red
(`phases.red_left_s`) against the way out of the stage here and back (`switch_back_s`) (G session 42)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.network import NetworkView
from controller.core.policies.max_pressure import (
    full_green_lanes,
    intergreen_matrix,
    stage_clear_s,
    stalled_movements,
    switch_back_s,
)
from controller.core.policies.phases import exit_red_left_s, red_left_s
from controller.core.policies.spill_red import plan_red_s
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.junction_fixtures import two_phase_raw

CFG = Config()
NOW_S = 100.0
STALL_S = 5.0


def _layout(permitted: bool = False) -> Layout:
    """two_phase: phase 0 serves N_T and S_T protected ('G'), or permitted only ('g') with `permitted`."""
    raw = two_phase_raw()
    if permitted:
        raw["phases"][0]["state"] = "grgr"
    return Layout.build(parse_intersection(raw, "j.toml"), CFG)


def _stalled(
    lay: Layout,
    queue_pcu: float = 10.0,
    blind: bool = False,
    stop_empty_s: float = 0.0,
    green_elapsed_s: float = 20.0,
    last_dep_s: float = NOW_S - 20.0,
) -> list[bool]:
    """stalled_movements for phase 0 at NOW_S, every movement and lane alike."""
    n_mov, n_lanes = len(lay.junction.movements), len(lay.lanes)
    est = Estimate.empty(lay, 0.0)
    est = replace(
        est,
        queue_pcu=np.full(n_mov, queue_pcu),
        blind=np.full(n_mov, blind),
        lanes=replace(est.lanes, stop_empty_s=np.full(n_lanes, stop_empty_s)),
    )
    out = stalled_movements(lay, est, 0, green_elapsed_s, np.full(n_mov, last_dep_s), NOW_S, STALL_S)
    return [bool(x) for x in out]


def test_a_protected_queued_seen_movement_standing_at_its_line_past_stall_s_is_stalled():
    lay = _layout()
    assert [m.id for m in lay.junction.movements] == ["N_T", "E_T", "S_T", "W_T"]
    assert _stalled(lay) == [True, False, True, False]  # phase 0's two movements; E_T and W_T are red


def test_each_condition_unmet_alone_leaves_the_movement_not_stalled():
    lay = _layout()
    startup_s = lay.params.startup_lost_s
    none = [False] * 4
    assert _stalled(_layout(permitted=True)) == none  # served permitted only: it yields, it may stand for a gap
    assert _stalled(lay, blind=True) == none  # a lane without a working loop: its loops do not see it cross
    assert _stalled(lay, queue_pcu=0.0) == none  # nothing queued
    assert _stalled(lay, stop_empty_s=1.0) == none  # its stop-line loop empty: a gap, not a head standing
    assert _stalled(lay, last_dep_s=NOW_S - STALL_S + 1.0) == none  # a vehicle crossed 4 s ago
    assert _stalled(lay, green_elapsed_s=startup_s + STALL_S - 1.0) == none  # 4 s past the start-up loss
    assert _stalled(lay, green_elapsed_s=startup_s + STALL_S) == [True, False, True, False]  # 5 s past it


def test_a_head_on_a_lane_with_a_red_or_yielding_link_is_not_stalled():
    """N's lane also carries N_L (link 4), red or yielding ('g') in phase 0 and green in phase 1, while
    N_T keeps its protected green: a head standing on that lane may be an N_L vehicle waiting for
    its own signal or a gap, not for room on the link (rand_vclasses' junction 58,
    rand_unsignalised_mix's 104: BENCHMARKS.md, issue 9, G session 40). S_T's lane shows 'G' on
    every link: it still stalls."""
    for letter in "rg":
        raw = two_phase_raw()
        raw["n_links"] = 5
        raw["phases"][0]["state"] = "GrGr" + letter
        raw["phases"][1]["state"] = "rGrGG"
        raw["movements"].append({**raw["movements"][0], "id": "N_L", "turn": "left", "links": [4], "conflicts": []})
        lay = Layout.build(parse_intersection(raw, "j.toml"), CFG)
        assert [m.id for m in lay.junction.movements] == ["N_T", "E_T", "S_T", "W_T", "N_L"]
        assert lay.protected[0].tolist() == [True, False, True, False, False]
        assert _stalled(lay) == [False, False, True, False, False], letter
        lanes = list(lay.lanes)
        full = full_green_lanes(lay)
        assert dict(zip(lanes, full[0].tolist())) == {"eN_0": False, "eE_0": False, "eS_0": True, "eW_0": False}
        assert dict(zip(lanes, full[1].tolist())) == {"eN_0": False, "eE_0": True, "eS_0": False, "eW_0": True}


def _exit_red(k_phase: int | None, full_lane: str | None) -> bool:
    """phases.exit_red for J's N_T, whose exit is K's W approach (lanes eW_0: W_T, eW_1: a left W_L of
    its own); K reports stage `k_phase` (0: N/S, 1: E_T and W_T, 2: W_L alone; None: no status) and its
    loops see `full_lane` standing to its storage (None: no lane full)."""
    from controller.core.policies.phases import exit_red

    lay_j, net = _j_into_k(k_phase, full_lane)
    return bool(exit_red(lay_j, net, direct=True)[0])


def _j_into_k(
    k_phase: int | None, full_lane: str | None, k_view: SignalView | None = None
) -> tuple[Layout, NetworkView]:
    """J (two_phase) whose N_T leads onto K's W approach (_exit_red); `k_view`: K's SignalView in the
    NetworkView (None: none)."""
    from controller.core.estimation import LinkLayout, LinkState

    raw_j, raw_k = two_phase_raw(), two_phase_raw()
    raw_j["downstream"], raw_j["movements"][0]["to_edge"] = ["K"], "eW"
    raw_k.update(id="K", upstream=["J"], n_links=5)
    raw_k["phases"] = [
        {"state": s, "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 20.0} for s in ("GrGrr", "rGrGr", "rrrrG")
    ]
    left = dict(raw_k["movements"][3], id="W_L", turn="left", lanes=["eW_1"], links=[4], conflicts=["E_T"])
    raw_k["movements"].append(left)
    raw_k["movements"][1]["conflicts"] = [*raw_k["movements"][1]["conflicts"], "W_L"]
    raw_k["detectors"] += [
        {"id": "W1_stop", "lane": "eW_1", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
        {"id": "W1_adv", "lane": "eW_1", "kind": "advance", "pos_m": 20.0, "dist_to_stop_m": 80.0},
    ]
    for d in raw_k["detectors"]:
        d["id"] = "K" + d["id"]
    lay_j = Layout.build(parse_intersection(raw_j, "j.toml"), CFG)
    lay_k = Layout.build(parse_intersection(raw_k, "k.toml"), CFG)
    layouts = {"J": lay_j, "K": lay_k}
    est_k = Estimate.empty(lay_k, 0.0)
    lanes = list(lay_k.lanes)
    queue = np.zeros(len(lanes))
    if full_lane is not None:
        queue[lanes.index(full_lane)] = lay_k.lane_storage_pcu[lanes.index(full_lane)]
    est_k = replace(est_k, lanes=replace(est_k.lanes, queue_pcu=queue))
    links = LinkLayout.build(layouts)
    ests = {"J": Estimate.empty(lay_j, 0.0), "K": est_k}
    net = NetworkView(
        links, LinkState.empty(links, layouts, 0.0), ests, layouts, phases={"K": k_phase}, signals={"K": k_view}
    )
    return lay_j, net


def test_the_exit_is_red_only_where_the_next_light_serves_none_of_the_lanes_a_head_may_wait_for():
    """The next light's reported stage against its approach's lanes: with no lane seen full, red when it
    serves none of the approach; with a lane seen full, red when it serves none of that lane's movements
    (a head waits for room there, whatever else the stage drains); never red without a status."""
    assert _exit_red(0, None)  # N/S: the approach all red
    assert not _exit_red(1, None)  # W_T served: the link drains
    assert not _exit_red(2, None)  # W_L served
    assert _exit_red(1, "eW_1")  # W_T served, but the full lane is W_L's, red
    assert not _exit_red(1, "eW_0")  # the full lane's W_T served
    assert _exit_red(2, "eW_0")  # W_L served, the full lane W_T's red
    assert not _exit_red(None, "eW_0")  # no status: not read


def _k_view(phase: int, elapsed_s: float, red_for_s: float, lay_k: Layout, in_intergreen: bool = False) -> SignalView:
    """K's SignalView at NOW_S: stage `phase` green for `elapsed_s`, every movement it does not serve red
    for `red_for_s`."""
    served = set(lay_k.junction.served_movements(phase))
    since = tuple(NOW_S if m.id in served else NOW_S - red_for_s for m in lay_k.junction.movements)
    return SignalView(phase, in_intergreen, elapsed_s, since)


def test_the_far_light_stays_red_its_minimum_green_and_intergreen_or_what_its_program_holds_the_red_longer():
    """red_left_s on K's W_T (served by stage 1 only; the program holds it red through stages 2 and 0:
    its longest red, spill_red.plan_red_s): K in stage 0 for 2 s, W_T red 2 s: the program's red less
    2 s (more than stage 0's 5 s of minimum green left and the intergreen into 1); red 1,000 s, past
    anything the program holds: the lower bound only, the rest of the minimum green (none) and the
    intergreen; in an intergreen, all of stage 0's minimum green and the intergreen; with W_L waited
    for too (stage 2 serves it), the least over the two."""
    lay_k = _j_into_k(0, None)[1].layouts["K"]
    j = lay_k.junction
    w_t, w_l = 3, 4
    assert [m.id for m in j.movements][w_t] == "W_T" and [m.id for m in j.movements][w_l] == "W_L"
    plan = plan_red_s(j)
    ig = intergreen_matrix(lay_k)
    one = np.array([w_t])
    assert red_left_s(lay_k, _k_view(0, 2.0, 2.0, lay_k), one, NOW_S) == plan[w_t] - 2.0
    assert plan[w_t] - 2.0 > 5.0 + ig[0, 1]
    assert red_left_s(lay_k, _k_view(0, 30.0, 1000.0, lay_k), one, NOW_S) == ig[0, 1]
    assert red_left_s(lay_k, _k_view(0, 30.0, 1000.0, lay_k, in_intergreen=True), one, NOW_S) == 7.0 + ig[0, 1]
    both = np.array([w_t, w_l])
    assert red_left_s(lay_k, _k_view(0, 2.0, 2.0, lay_k), both, NOW_S) == min(plan[w_t], plan[w_l]) - 2.0
    low = 5.0 + min(ig[0, 1], ig[0, 2])
    assert red_left_s(lay_k, _k_view(0, 2.0, 1000.0, lay_k), both, NOW_S) == low


def test_the_exit_red_left_is_read_only_from_a_reported_light_red_to_the_approach():
    """exit_red_left_s for J's N_T: K's stage 0 red to W: its red_left_s; K serving W_T (stage 1): 0; K
    with no SignalView in the NetworkView: 0 (not read, the rule does not stall)."""
    lay_j, net = _j_into_k(0, None, _k_view(0, 2.0, 2.0, _j_into_k(0, None)[1].layouts["K"]))
    lay_k = net.layouts["K"]
    expect = red_left_s(lay_k, _k_view(0, 2.0, 2.0, lay_k), np.array([3, 4]), NOW_S)
    assert exit_red_left_s(lay_j, net, NOW_S, direct=True)[0] == expect > 0.0
    _, serving = _j_into_k(1, None, _k_view(1, 2.0, 2.0, lay_k))
    assert exit_red_left_s(lay_j, serving, NOW_S, direct=True)[0] == 0.0
    _, silent = _j_into_k(0, None, None)
    assert exit_red_left_s(lay_j, silent, NOW_S, direct=True)[0] == 0.0


def test_the_way_back_goes_through_the_stage_served_instead_held_its_minimum_green_or_until_its_queue_clears():
    """switch_back_s on two_phase (5 s intergreens, 7 s minimum greens), from N/S through E/W: with E/W's
    queue clearing within its minimum green (3 PCU at 1,800 PCU/h: 6 s), 5 + 7 + 5 = 17 s; with 9 PCU (18 s
    at that flow), 5 + 18 + 5 = 28 s; no stage named: the least over the others; stage_clear_s counts
    only the movements a stage serves protected, at their own learnt saturation flow."""
    lay = _layout()
    ig = intergreen_matrix(lay)
    assert ig[0, 1] == ig[1, 0] == 5.0 and lay.junction.phases[1].min_green_s == 7.0
    ids = [m.id for m in lay.junction.movements]

    def est(queue: dict[str, float]) -> Estimate:
        e = Estimate.empty(lay, NOW_S)
        q = np.array([queue.get(i, 0.0) for i in ids])
        return replace(e, queue_pcu=q, sat_flow_pcu_h=np.full(len(ids), 1800.0))

    assert switch_back_s(lay, ig, 0, est({"E_T": 3.0, "N_T": 40.0}), 1) == 17.0
    assert switch_back_s(lay, ig, 0, est({"E_T": 3.0, "W_T": 9.0, "N_T": 40.0}), 1) == 28.0
    assert switch_back_s(lay, ig, 0, est({"W_T": 9.0}), None) == 28.0
    assert switch_back_s(lay, ig, 1, est({"W_T": 9.0, "S_T": 1.0}), 0) == 17.0
    clear = stage_clear_s(lay, est({"W_T": 9.0, "S_T": 1.0}))
    assert clear.tolist() == [2.0, 18.0]


def test_an_adaptive_far_light_holds_its_stage_until_the_waited_pressure_beats_it():
    """overtake_s (`stall_red_forecast`) on two_phase as the far light, stage 0 (N/S) in force with 12 PCU on
    N_T, E_T waited for with 8 PCU red 60 s, all at 1,800 PCU/h, no arrivals, T 2 s, 5 s intergreen, 3 s
    start-up loss: 8 x (2 + t / 60) x 2 / 10 beats 12 - 0.5 t from t = 17 s (the docstring's example); the
    waited arriving at 0.1 PCU/s beat it sooner; nothing waited: never, the starvation bound less the red so
    far; nothing in force: at once."""
    from controller.core.params import MaxPressureParams
    from controller.core.policies.phases import overtake_s

    lay = _layout()
    ids = [m.id for m in lay.junction.movements]
    assert lay.params.startup_lost_s == 3.0 and lay.junction.intergreen_s(0, 1) == 5.0

    def est(queue: dict[str, float], flow: dict[str, float] | None = None) -> Estimate:
        e = Estimate.empty(lay, NOW_S)
        q = np.array([queue.get(i, 0.0) for i in ids])
        f = np.array([(flow or {}).get(i, 0.0) for i in ids])
        return replace(e, queue_pcu=q, sat_flow_pcu_h=np.full(len(ids), 1800.0), flow_pcu_h=f)

    mp = MaxPressureParams()
    assert (mp.switch_service_s, mp.wait_scale_s) == (2.0, 60.0)
    e_t, red = np.array([ids.index("E_T")]), np.array([60.0])
    assert overtake_s(lay, est({"N_T": 12.0, "E_T": 8.0}), 0, e_t, red, 5.0, mp) == 17.0
    assert overtake_s(lay, est({"N_T": 12.0, "E_T": 8.0}, {"E_T": 360.0}), 0, e_t, red, 5.0, mp) < 17.0
    # the stage's own arrivals, 0.1 PCU/s on N_T: its queue falls at 0.4 PCU/s, 12 - 0.4 t, beaten from t = 21 s
    assert overtake_s(lay, est({"N_T": 12.0, "E_T": 8.0}, {"N_T": 360.0}), 0, e_t, red, 5.0, mp) == 21.0
    bound = lay.junction.max_red_s - 60.0
    assert overtake_s(lay, est({"N_T": 12.0}), 0, e_t, red, 5.0, mp) == bound
    assert overtake_s(lay, est({"E_T": 8.0}), 0, e_t, red, 5.0, mp) == 0.0


def test_with_the_forecast_the_far_light_stays_red_until_the_waited_pressure_beats_its_stage():
    """red_left_s and exit_red_left_s with the max_pressure parameters (`stall_red_forecast`): K in stage 0
    for 10 s (its 7 s minimum green done), W_T red 10 s: without them the program's red less 10 s; with them
    and K's N/S queues 30 PCU each against W's 2 the stage is held until W's pressure beats it
    (overtake_s), then the intergreen, more than the program's red left; with N/S empty the lower bound
    and the program as before; with W not seen queued either, until K's starvation bound (max_red_s).
    exit_red_left_s reads K's estimate from the NetworkView."""
    from controller.core.params import MaxPressureParams
    from controller.core.policies.phases import overtake_s

    lay_j, net = _j_into_k(0, None)
    lay_k = net.layouts["K"]
    ids = [m.id for m in lay_k.junction.movements]
    ig = intergreen_matrix(lay_k)
    w_t = np.array([ids.index("W_T")])
    k_view = _k_view(0, 10.0, 10.0, lay_k)
    mp = MaxPressureParams()
    est_k = replace(
        net.estimates["K"], queue_pcu=np.array([{"N_T": 30.0, "S_T": 30.0, "W_T": 2.0}.get(i, 0.0) for i in ids])
    )
    program = red_left_s(lay_k, k_view, w_t, NOW_S)
    assert program == plan_red_s(lay_k.junction)[w_t[0]] - 10.0
    held = overtake_s(lay_k, est_k, 0, w_t, np.array([10.0]), ig[0, 1], mp)
    assert red_left_s(lay_k, k_view, w_t, NOW_S, est_k, mp) == held + ig[0, 1] > program
    empty = replace(est_k, queue_pcu=np.array([{"W_T": 2.0}.get(i, 0.0) for i in ids]))
    assert red_left_s(lay_k, k_view, w_t, NOW_S, empty, mp) == program
    unseen = replace(est_k, queue_pcu=np.zeros(len(ids)))  # W not seen queued: it never weighs more; the gate's bound
    assert red_left_s(lay_k, k_view, w_t, NOW_S, unseen, mp) == lay_k.junction.max_red_s - 10.0 + ig[0, 1]
    assert red_left_s(lay_k, k_view, w_t, NOW_S, est_k, None) == program  # the parameters not given: off
    lay_j, net = _j_into_k(0, None, k_view)
    net = replace(net, estimates={**net.estimates, "K": replace(net.estimates["K"], queue_pcu=est_k.queue_pcu)})
    waited = red_left_s(lay_k, k_view, np.array([ids.index("W_T"), ids.index("W_L")]), NOW_S, est_k, mp)
    assert exit_red_left_s(lay_j, net, NOW_S, direct=True, pressures=mp)[0] == waited > program
    assert exit_red_left_s(lay_j, net, NOW_S, direct=True)[0] < waited

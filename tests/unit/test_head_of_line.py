"""max_pressure's shared-lane head-of-line rule (`[max_pressure] head_block_s`, policies/head_of_line.py):
which lanes it reads, each condition of a block one at a time, the memory of a block, the queue it drops
from the movements the green serves on the lane, and the decision it changes. The junction: two_phase with
N's one lane eN_0 also carrying N_L (link 4), red in phase 0 (N/S through) and green in phase 1 (E/W
through), as rand_unsignalised_mix's light 64's lane 65_0 (BENCHMARKS.md, issue 9, B session 40)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.head_of_line import (
    blocked_heads,
    head_drop_pcu,
    mixed_lanes,
    unshared_lanes,
    update_head_waits,
)
from controller.core.policies.max_pressure import MaxPressurePolicy
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.junction_fixtures import two_phase_raw

CFG = Config()
NOW_S = 100.0
HOL_S = 4.0
MOVES = ["N_T", "E_T", "S_T", "W_T", "N_L"]
LANES = ["eN_0", "eE_0", "eS_0", "eW_0"]


def _raw(left_in_phase0: str = "r") -> dict:
    """two_phase plus N_L on eN_0 (link 4): `left_in_phase0` its letter in phase 0, 'G' in phase 1;
    minimum greens of 2 s (below the start-up loss and the rule's 4 s: only the rule holds the green)."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    for ph in raw["phases"]:
        ph["min_green_s"] = 2.0
    raw["phases"][0]["state"] = "GrGr" + left_in_phase0
    raw["phases"][1]["state"] = "rGrGG"
    raw["movements"].append({**raw["movements"][0], "id": "N_L", "turn": "left", "links": [4], "conflicts": []})
    return raw


def _layout(left_in_phase0: str = "r") -> Layout:
    lay = Layout.build(parse_intersection(_raw(left_in_phase0), "j.toml"), CFG)
    assert [m.id for m in lay.junction.movements] == MOVES
    assert list(lay.lanes) == LANES
    return lay


def _est(
    lay: Layout,
    queue: dict[str, float] | None = None,
    lane_queue: dict[str, float] | None = None,
    stop_empty_s: float = 0.0,
    blind: bool = False,
    departed: dict[str, float] | None = None,
) -> Estimate:
    vec = lambda d, ids: np.array([float((d or {}).get(i, 0.0)) for i in ids])  # noqa: E731
    e = Estimate.empty(lay, 0.0)
    return replace(
        e,
        queue_pcu=vec(queue, MOVES),
        departures_pcu=vec(departed, MOVES),
        blind=np.full(len(MOVES), blind),
        last_feed_t_s=0.0,
        lanes=replace(e.lanes, queue_pcu=vec(lane_queue, LANES), stop_empty_s=np.full(len(LANES), stop_empty_s)),
    )


def _blocked(lay: Layout, est: Estimate, green_elapsed_s: float = 20.0, last_dep_s: float = NOW_S - 20.0) -> dict:
    """blocked_heads for phase 0 at NOW_S: per lane found blocked, the movements its head waits for."""
    out = blocked_heads(lay, est, 0, green_elapsed_s, np.full(len(MOVES), last_dep_s), NOW_S, HOL_S)
    return {LANES[j]: [MOVES[i] for i in np.flatnonzero(out[:, j])] for j in np.flatnonzero(out.any(axis=0))}


def test_a_lane_is_mixed_where_the_phase_serves_one_movement_protected_and_leaves_another_red():
    mixed = _layout().derived(mixed_lanes)
    assert dict(zip(LANES, mixed[0].tolist())) == {"eN_0": True, "eE_0": False, "eS_0": False, "eW_0": False}
    assert dict(zip(LANES, mixed[1].tolist())) == {"eN_0": True, "eE_0": False, "eS_0": False, "eW_0": False}
    # N_L yielding ('g') in phase 0: a head there may wait for a gap; in phase 1 N_T is red, N_L protected
    mixed_g = _layout("g").derived(mixed_lanes)
    assert mixed_g[0].tolist() == [False] * 4
    assert mixed_g[1].tolist() == [True, False, False, False]


def test_a_lane_with_a_yielding_movement_in_the_phase_is_not_mixed():
    """eN_0 also carries N_U (link 5), red in phase 0: with N_L yielding ('g') there, a head standing
    through N_T's green may be an N_L waiting for a gap, not a vehicle waiting for its signal."""
    raw = two_phase_raw()
    raw["n_links"] = 6
    raw["phases"][0]["state"] = "GrGrgr"
    raw["phases"][1]["state"] = "rGrGGG"
    for mid, link in (("N_L", 4), ("N_U", 5)):
        raw["movements"].append({**raw["movements"][0], "id": mid, "turn": "left", "links": [link], "conflicts": []})
    lay = Layout.build(parse_intersection(raw, "j.toml"), CFG)
    assert lay.derived(mixed_lanes)[0].tolist() == [False] * 4
    raw["phases"][0]["state"] = "GrGrrr"  # N_L red as well: mixed
    lay = Layout.build(parse_intersection(raw, "j.toml"), CFG)
    assert lay.derived(mixed_lanes)[0].tolist() == [True, False, False, False]


def _shared_raw(left_with_through: str = "G") -> dict:
    """_raw() plus phase 2, N/S through with N_L (`left_with_through` its letter): a stage that serves
    eN_0 whole, as RESCO ingolstadt7's gneJ143 serves its S approach's left lane (S_L yielding with S_T
    in the main stage, alone with N_L in a short protected stage)."""
    raw = _raw()
    raw["phases"].append({**raw["phases"][0], "state": "GrGr" + left_with_through})
    return raw


def test_a_lane_is_unshared_where_no_stage_serves_it_whole():
    unshared = _layout().derived(unshared_lanes)  # N_T alone in phase 0, N_L alone in phase 1
    assert unshared[0].tolist() == [True, False, False, False]
    assert unshared[1].tolist() == [True, False, False, False]
    for letter in ("G", "g"):  # a stage serving N_T and N_L together, N_L protected or yielding
        lay = Layout.build(parse_intersection(_shared_raw(letter), "j.toml"), CFG)
        assert lay.derived(mixed_lanes)[:2, 0].tolist() == [True, True]
        assert not lay.derived(unshared_lanes).any(), letter


def test_with_unshared_only_a_lane_a_stage_serves_whole_is_not_read():
    last = np.full(len(MOVES), NOW_S - 20.0)
    for raw, found_unshared in ((_raw(), True), (_shared_raw(), False)):
        lay = Layout.build(parse_intersection(raw, "j.toml"), CFG)
        est = _est(lay)
        assert blocked_heads(lay, est, 0, 20.0, last, NOW_S, HOL_S)[MOVES.index("N_L"), 0]
        out = blocked_heads(lay, est, 0, 20.0, last, NOW_S, HOL_S, unshared_only=True)
        assert bool(out[MOVES.index("N_L"), 0]) == found_unshared and out.sum() == int(found_unshared)


def test_a_standing_head_with_nobody_crossing_past_head_block_s_waits_for_the_red_movement():
    lay = _layout()
    assert _blocked(lay, _est(lay)) == {"eN_0": ["N_L"]}


def test_each_condition_unmet_alone_finds_no_block():
    lay = _layout()
    startup_s = lay.params.startup_lost_s
    assert _blocked(lay, _est(lay, stop_empty_s=1.0)) == {}  # the stop-line loop empty: nobody at the head
    assert _blocked(lay, _est(lay, blind=True)) == {}  # its loops do not see it cross
    assert _blocked(lay, _est(lay), last_dep_s=NOW_S - HOL_S + 1.0) == {}  # N_T crossed 3 s ago
    assert _blocked(lay, _est(lay), green_elapsed_s=startup_s + HOL_S - 1.0) == {}  # 3 s past the start-up loss
    assert _blocked(lay, _est(lay), green_elapsed_s=startup_s + HOL_S) == {"eN_0": ["N_L"]}  # 4 s past it
    g = _layout("g")  # N_L yields in phase 0: its head may wait for a gap
    assert _blocked(g, _est(g)) == {}


def test_a_served_movement_standing_at_another_of_its_lanes_is_held_by_its_exit_not_by_the_head():
    """N_T also uses a lane of its own, eN_1 (loops on it): nobody of N_T crossing while a vehicle stands
    at eN_1's stop line means N_T's exit holds it (the whole movement stands), not N_L's head on eN_0;
    with eN_1's stop line showing a gap, eN_0 is blocked at its head."""
    raw = _raw()
    raw["movements"][0]["lanes"] = ["eN_0", "eN_1"]
    raw["detectors"] += [
        {"id": "N1_stop", "lane": "eN_1", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
        {"id": "N1_adv", "lane": "eN_1", "kind": "advance", "pos_m": 20.0, "dist_to_stop_m": 80.0},
    ]
    lay = Layout.build(parse_intersection(raw, "j.toml"), CFG)
    lanes = list(lay.lanes)
    assert lanes == ["eN_0", "eN_1", "eE_0", "eS_0", "eW_0"]
    e = Estimate.empty(lay, 0.0)
    last = np.full(len(MOVES), NOW_S - 20.0)
    for gap_s, found in ((0.0, False), (1.0, True)):
        stop_empty_s = np.array([0.0, gap_s, 0.0, 0.0, 0.0])
        est = replace(e, lanes=replace(e.lanes, stop_empty_s=stop_empty_s))
        out = blocked_heads(lay, est, 0, 20.0, last, NOW_S, HOL_S)
        assert bool(out[MOVES.index("N_L"), 0]) == found and not out[:, 1:].any(), gap_s


def test_a_block_is_kept_until_the_lane_empties_or_a_movement_on_it_crosses():
    lay = _layout()
    none = np.zeros(len(MOVES), dtype=bool)
    found = blocked_heads(lay, _est(lay), 0, 20.0, np.full(len(MOVES), NOW_S - 20.0), NOW_S, HOL_S)
    waits = update_head_waits(None, lay, _est(lay), none, found)
    assert waits[:, 0].tolist() == [False, False, False, False, True] and not waits[:, 1:].any()
    # phase 1 green, nothing found, the head still there: kept
    assert (update_head_waits(waits, lay, _est(lay), none, None) == waits).all()
    # N_L (or N_T) crossed: cleared; the stop-line loop empty: cleared; S_T crossing elsewhere: kept
    for mid in ("N_L", "N_T"):
        assert not update_head_waits(waits, lay, _est(lay), np.array([m == mid for m in MOVES]), None).any()
    assert not update_head_waits(waits, lay, _est(lay, stop_empty_s=1.0), none, None).any()
    assert (update_head_waits(waits, lay, _est(lay), np.array([m == "S_T" for m in MOVES]), None) == waits).all()


def test_the_blocked_lane_s_queue_is_dropped_from_the_movements_the_green_serves_on_it():
    """N_T's half of eN_0 (3 of 6 PCU) is dropped from N_T's queue; N_L keeps its own half (session 41
    moved N_T's half to N_L, which then counted the whole lane); the other lanes are untouched; the
    part standing beyond the advance loop (hidden) is shared the same way."""
    lay = _layout()
    waits = np.zeros((len(MOVES), len(LANES)), dtype=bool)
    assert head_drop_pcu(lay, _est(lay), waits) is None
    waits[MOVES.index("N_L"), 0] = True
    est = _est(lay, lane_queue={"eN_0": 6.0, "eS_0": 2.0})
    drop = dict(zip(MOVES, head_drop_pcu(lay, est, waits).tolist()))  # type: ignore[union-attr]
    assert drop == {"N_T": -3.0, "E_T": 0.0, "S_T": 0.0, "W_T": 0.0, "N_L": 0.0}
    hidden = replace(est, lanes=replace(est.lanes, hidden_pcu=np.array([2.0, 0.0, 0.0, 0.0])))
    assert head_drop_pcu(lay, hidden, waits)[MOVES.index("N_T")] == -4.0  # type: ignore[index]


def _decide(
    head_block_s: float,
    ticks: int,
    departing: bool = False,
    line_empty: bool = False,
    left: str = "r",
    unshared_only: bool = False,
    raw: dict | None = None,
) -> int:
    """Phase 0 green from t = 100 (minimum 2 s); 6 PCU on eN_0 (N_T 3, N_L 3), S_T 2, E_T 2; the red
    movements red for 20 s. Without the rule phase 0 keeps its green (4 against 1.18 PCU^2/s)."""
    lay = _layout(left) if raw is None else Layout.build(parse_intersection(raw, "j.toml"), CFG)
    p = MaxPressurePolicy(MaxPressureParams(head_block_s=head_block_s, head_block_unshared_only=unshared_only))
    s = p.init(lay, 0.0)
    served = set(lay.junction.served_movements(0))
    wish = None
    for k in range(ticks + 1):
        est = _est(
            lay,
            queue={"N_T": 3.0, "N_L": 3.0, "S_T": 2.0, "E_T": 2.0},
            lane_queue={"eN_0": 6.0, "eS_0": 2.0, "eE_0": 2.0},
            stop_empty_s=float(k) if line_empty else 0.0,
            departed={"N_T": float(k)} if departing else {},
        )
        now = NOW_S + k
        red_since = tuple(now if m.id in served else NOW_S - 20.0 for m in lay.junction.movements)
        s, wish = p.decide(s, lay, est, SignalView(0, False, float(k), red_since), now)
    assert wish is not None
    return wish.phase


def test_max_pressure_leaves_a_green_its_shared_lane_cannot_use_for_the_stage_its_head_waits_for():
    """N's head, an N_L vehicle, stands at the stop line through N/S's green: with `head_block_s` 4 s,
    once nobody on eN_0 crossed for 4 s past the start-up loss, N_T's part of the lane no longer
    counts and phase 1 (E/W and N_L) is served. It keeps N/S: off; with N_T crossing every second; with the stop
    line seen empty; before the 4 s; with N_L yielding in phase 0 (its head may wait for a gap)."""
    startup_s = _layout().params.startup_lost_s
    assert _decide(0.0, 20) == 0
    assert _decide(HOL_S, 20) == 1
    assert _decide(HOL_S, 20, departing=True) == 0
    assert _decide(HOL_S, 20, line_empty=True) == 0
    assert _decide(HOL_S, int(startup_s + HOL_S) - 1) == 0
    assert _decide(HOL_S, 20, left="g") == 0


def test_with_unshared_only_the_policy_reads_only_lanes_no_stage_serves_whole():
    """`head_block_unshared_only`: N's lane with no stage serving N_T and N_L together: phase 1, as
    without it; with phase 2 serving both (N_L yielding there) the policy keeps no block on eN_0."""
    assert _decide(HOL_S, 20, unshared_only=True) == 1
    lay = Layout.build(parse_intersection(_shared_raw("g"), "j.toml"), CFG)
    for unshared_only in (False, True):
        p = MaxPressurePolicy(MaxPressureParams(head_block_s=HOL_S, head_block_unshared_only=unshared_only))
        s = p.init(lay, 0.0)
        for k in range(21):
            red_since = tuple(NOW_S if m.id in ("N_T", "S_T") else NOW_S - 20.0 for m in lay.junction.movements)
            s, _ = p.decide(
                s, lay, _est(lay, lane_queue={"eN_0": 6.0}), SignalView(0, False, float(k), red_since), NOW_S + k
            )
        assert s.head_waits is not None
        assert bool(s.head_waits[MOVES.index("N_L"), 0]) != unshared_only


def test_the_one_pass_decision_is_not_used_with_the_rule_on():
    lay = _layout()
    every_lane = MaxPressureParams(head_block_s=HOL_S, head_block_unshared_only=False)
    assert MaxPressurePolicy(every_lane).network_decision({"J": lay}) is None


def test_with_unshared_only_the_one_pass_decision_is_used_where_no_lane_is_unshared():
    """With `head_block_unshared_only` the rule can find a block only on a lane no stage serves whole:
    a network without one keeps the one-pass decision; one junction with one is enough to leave it."""
    unshared, shared = _layout(), Layout.build(parse_intersection(_shared_raw(), "j.toml"), CFG)
    p = MaxPressurePolicy(MaxPressureParams(head_block_s=HOL_S, head_block_unshared_only=True))
    assert p.network_decision({"J": shared}) is not None
    assert p.network_decision({"J": shared, "K": unshared}) is None
    every_lane = MaxPressureParams(head_block_s=HOL_S, head_block_unshared_only=False)
    assert MaxPressurePolicy(every_lane).network_decision({"J": shared}) is None


def test_past_the_city_green_a_lane_a_stage_serves_whole_is_read_too():
    """`head_block_past_city_green`: with `head_block_unshared_only`, eN_0 (served whole by phase 2) is
    not read in phase 0 while it runs within the city's green for it (base_green_s 30 s), and is read once
    it runs longer: a policy holding the stage on breaks unshared_lanes' premise (F, session 59)."""
    lay = Layout.build(parse_intersection(_shared_raw(), "j.toml"), CFG)
    base_s = lay.junction.phases[0].base_green_s
    est, last = _est(lay), np.full(len(MOVES), NOW_S - 60.0)
    n_l = MOVES.index("N_L")
    for elapsed_s, past, found in ((base_s, True, False), (base_s + 1.0, True, True), (base_s + 1.0, False, False)):
        out = blocked_heads(lay, est, 0, elapsed_s, last, NOW_S, HOL_S, unshared_only=True, past_city_green=past)
        assert bool(out[n_l, 0]) == found and out.sum() == int(found), (elapsed_s, past)


def test_past_the_city_green_the_policy_reads_the_lane_and_leaves_the_one_pass_decision():
    lay = Layout.build(parse_intersection(_shared_raw("g"), "j.toml"), CFG)
    base_s = lay.junction.phases[0].base_green_s
    for past, found in ((False, False), (True, True)):
        params = MaxPressureParams(head_block_s=HOL_S, head_block_unshared_only=True, head_block_past_city_green=past)
        p = MaxPressurePolicy(params)
        s = p.init(lay, 0.0)
        for k in range(int(base_s) + 3):
            red_since = tuple(NOW_S if m.id in ("N_T", "S_T") else NOW_S - 60.0 for m in lay.junction.movements)
            s, _ = p.decide(
                s, lay, _est(lay, lane_queue={"eN_0": 6.0}), SignalView(0, False, float(k), red_since), NOW_S + k
            )
        assert s.head_waits is not None
        assert bool(s.head_waits[MOVES.index("N_L"), 0]) == found, past
        assert (p.network_decision({"J": lay}) is None) == past, past


def test_past_the_city_green_the_one_pass_decision_is_used_where_no_lane_is_mixed():
    """With `head_block_past_city_green` the rule reads every mixed lane once a phase outlasts the city's
    green, so only a network with one leaves the one-pass decision; two_phase alone (one movement a lane)
    keeps it, as with the key off (the key costs nothing there)."""
    plain = Layout.build(parse_intersection(two_phase_raw(), "j.toml"), CFG)
    shared = Layout.build(parse_intersection(_shared_raw(), "j.toml"), CFG)
    assert not mixed_lanes(plain).any() and mixed_lanes(shared).any() and not unshared_lanes(shared).any()
    params = MaxPressureParams(head_block_s=HOL_S, head_block_unshared_only=True, head_block_past_city_green=True)
    p = MaxPressurePolicy(params)
    assert p.network_decision({"J": plain}) is not None
    assert p.network_decision({"J": plain, "K": shared}) is None

"""[max_pressure] spill_plan_green (controller/core/policies/spill_red.py): a protected movement whose spill
reaches its link's head keeps its green as long as the city's program gives it in one cycle."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.core.estimation import Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy
from controller.core.policies.spill_red import (
    GreenHold,
    _longest_run_s,
    held_green,
    keep_phases,
    plan_green_s,
    track_green_from,
    whole_spill_pcu,
)
from controller.core.safety import SignalView
from controller.core.spillback import blocking_queue_pcu
from controller.junctions import parse_intersection
from controller.model import PhaseWish
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_policies import CFG, estimate, ring_exit_and_long_entry

NO_LOSS = MaxPressureParams(switch_service_s=1e9)  # the switch's loss aside: the pressures alone
KEY = replace(NO_LOSS, spill_plan_green=True)


def _phases(*phases: tuple[str, float]) -> dict:
    """two_phase's junction (N_T, E_T, S_T, W_T on links 0-3; yellow 3 s, all-red 2 s) with these phases."""
    raw = two_phase_raw()
    raw["phases"] = [{"state": s, "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": g} for s, g in phases]
    return raw


def _plan(raw: dict) -> list[float]:
    """plan_green_s of the junction `raw` over its protected service (Layout.protected), as a list."""
    lay = Layout.build(parse_intersection(raw, "t.toml"), CFG)
    return list(plan_green_s(lay.junction, lay.protected).tolist())


def test_the_plan_green_is_the_programs_longest_run_of_green_per_movement():
    """two_phase: N/S 30 s, E/W 25 s. With N alone 10 s after N/S 30 s, N stays green across the 3 s
    yellow of S: 30 + 3 + 10 = 43 s, wherever the run lies in the program's order (around the cycle too)."""
    assert _plan(two_phase_raw()) == [30.0, 25.0, 30.0, 25.0]
    in_order = parse_intersection(_phases(("GrGr", 30.0), ("Grrr", 10.0), ("rGrG", 25.0)), "t.toml")
    assert in_order.intergreen_s(0, 1) == 3.0
    assert _plan(_phases(("GrGr", 30.0), ("Grrr", 10.0), ("rGrG", 25.0))) == [43.0, 25.0, 30.0, 25.0]
    assert _plan(_phases(("Grrr", 10.0), ("rGrG", 25.0), ("GrGr", 30.0))) == [43.0, 25.0, 30.0, 25.0]
    # a run around the cycle's end: 10 + ig(2, 0) 5 + 30; one phase: its green; none: 0; every phase: no end
    assert _longest_run_s(in_order, [True, False, True], [30.0, 25.0, 10.0]) == 45.0
    assert _longest_run_s(in_order, [True, False, False], [30.0, 25.0, 10.0]) == 30.0
    assert _longest_run_s(in_order, [False, False, False], [30.0, 25.0, 10.0]) == 0.0
    assert _longest_run_s(in_order, [True, True, True], [30.0, 25.0, 10.0]) == float("inf")


def test_the_plan_green_counts_only_the_phases_serving_the_movement_protected():
    """N permitted ('g') in N/S's 30 s, then protected alone 10 s: its plan green is the 10 s the hold may keep
    (the hold keeps only phases serving it protected), not 30 + 3 + 10 = 43 s; S, permitted only: 0 (cologne3's
    and ingolstadt21's lefts, permitted in a 33 s stage and protected in the next 6 s one, held up to 42 s)."""
    assert _plan(_phases(("grgr", 30.0), ("Grrr", 10.0), ("rGrG", 25.0))) == [10.0, 25.0, 0.0, 25.0]
    assert _plan(_phases(("Grgr", 30.0), ("Grrr", 10.0), ("rGrG", 25.0))) == [43.0, 25.0, 0.0, 25.0]


def test_the_policy_holds_a_movement_for_its_protected_plan_green_only():
    """MaxPressurePolicy.init takes the plan green over the protected service: N permitted in N/S's 30 s, then
    protected alone 10 s, is held 10 s at most (R, session 55: init reading every green, permitted too, survived)."""
    lay = Layout.build(parse_intersection(_phases(("grgr", 30.0), ("Grrr", 10.0), ("rGrG", 25.0)), "t.toml"), CFG)
    hold = MaxPressurePolicy(KEY).init(lay, 0.0).hold
    assert hold is not None and hold.plan_s.tolist() == [10.0, 25.0, 0.0, 25.0]


def test_track_green_from_keeps_a_greens_start_until_it_ends():
    hold = GreenHold(np.array([30.0, 25.0]), np.full(2, np.nan))
    hold = track_green_from(hold, np.array([True, False]), 70.0)
    assert hold.from_s[0] == 70.0 and np.isnan(hold.from_s[1])
    hold = track_green_from(hold, np.array([True, False]), 75.0)  # the same green, another phase or not
    assert hold.from_s[0] == 70.0
    hold = track_green_from(hold, np.array([False, True]), 80.0)
    assert np.isnan(hold.from_s[0]) and hold.from_s[1] == 80.0
    assert track_green_from(hold, np.array([True, True]), 90.0).from_s.tolist() == [90.0, 80.0]
    assert hold.plan_s.tolist() == [30.0, 25.0]


def test_held_green_needs_protection_a_spill_and_less_than_the_plans_green():
    hold = GreenHold(np.array([30.0, 30.0, 30.0, 30.0]), np.array([70.0, 70.0, 70.0, np.nan]))
    protected, spill = np.array([True, True, False, True]), np.array([2.0, 0.0, 2.0, 2.0])
    assert held_green(hold, protected, spill, 99.0).tolist() == [True, False, False, False]
    assert not held_green(hold, protected, spill, 100.0).any()  # green 30 s: the plan's green lasted
    # seen green a tick late (from 71 s): the phase in force has been green 30 s, so has the movement; unseen: not held
    late = GreenHold(hold.plan_s, np.array([71.0, 71.0, 71.0, np.nan]))
    assert late.from_s[0] + 29.0 == 100.0 and held_green(late, protected, spill, 100.0).tolist()[0]
    assert not held_green(late, protected, spill, 100.0, 30.0).any()
    assert held_green(late, protected, spill, 100.0, 29.0).tolist() == [True, False, False, False]
    protected_phases = np.array([[True, False, True], [True, True, False], [False, True, True]])
    assert keep_phases(protected_phases, np.array([True, False, True])).tolist() == [True, False, False]
    assert keep_phases(protected_phases, np.array([True, False, False])).tolist() == [True, True, False]


def _ns_green_from(lay: Layout, start_s: float, now_s: float) -> SignalView:
    """N/S (phase 0) green since `start_s`, E/W red since 5 s before."""
    ns = set(lay.junction.served_movements(0))
    reds = tuple(now_s if m.id in ns else start_s - 5.0 for m in lay.junction.movements)
    return SignalView(0, False, now_s - start_s, reds)


def _wish_after(policy: MaxPressurePolicy, lay: Layout, est, green_s: float) -> PhaseWish | None:
    """Ticks from N/S's green start at 70 s to `green_s` into it: the policy records the start itself."""
    state, wish = policy.init(lay, 0.0), None
    for t in np.arange(70.0, 70.0 + green_s + 0.5, 1.0):
        state, wish = policy.decide(state, lay, est, _ns_green_from(lay, 70.0, float(t)), float(t))
    return wish


def test_max_pressure_spill_plan_green_keeps_the_ring_exits_green_for_the_plans_green():
    """N's 2 PCU past its loop (at its lane's start: room 0) stand at the link's head; E's 10 PCU past its loop on
    its own 250 m entry outweigh them: past the minimum green the pressures leave N/S for E/W. With the key N/S
    keeps its green until it has lasted the program's 30 s, not after; not without N's spill, nor where N/S serves
    N permitted only."""
    lay, est, _ = ring_exit_and_long_entry(2.0, 10.0)
    plain, key = MaxPressurePolicy(NO_LOSS), MaxPressurePolicy(KEY)
    assert key.network_decision({"J": lay}) is None  # the one-pass decision does not apply it
    assert _wish_after(plain, lay, est, 19.0) == PhaseWish(1)
    assert _wish_after(key, lay, est, 19.0) == PhaseWish(0)
    assert _wish_after(key, lay, est, 29.0) == PhaseWish(0)
    assert _wish_after(key, lay, est, 30.0) == PhaseWish(1)  # the plan's green lasted
    _, no_spill, _ = ring_exit_and_long_entry(0.0, 10.0)
    assert _wish_after(key, lay, no_spill, 19.0) == PhaseWish(1)
    permitted = replace(lay, protected=np.zeros_like(lay.protected))
    assert _wish_after(key, permitted, est, 19.0) == PhaseWish(1)


def test_max_pressure_spill_plan_green_holds_for_a_whole_vehicle_past_the_room_not_a_fraction():
    """The hidden queue grows by the learnt flow while the advance loop stands and drains by what crosses it: it
    leaves fractions that count no vehicle (ingolstadt21's 0.78 PCU held a green where SUMO showed no one past the
    loop; cologne3's 0.005-0.63 PCU, F session 56). 0.9 PCU past N's room holds nothing, 1 PCU holds N/S's green."""
    key = MaxPressurePolicy(KEY)
    lay, fraction, _ = ring_exit_and_long_entry(0.9, 10.0)
    assert _wish_after(MaxPressurePolicy(NO_LOSS), lay, fraction, 19.0) == PhaseWish(1)
    assert _wish_after(key, lay, fraction, 19.0) == PhaseWish(1)
    _, whole, _ = ring_exit_and_long_entry(1.0, 10.0)
    assert _wish_after(key, lay, whole, 19.0) == PhaseWish(0)


def test_whole_spill_counts_a_lanes_spill_from_one_pcu_then_splits_it_between_its_movements():
    """Per lane, not per movement: 1.2 PCU past the room of a lane N_T and S_T share counts 0.6 for each; 0.9 PCU
    counts none; a lane whose room holds its hidden queue counts none (E's 10 PCU on its 250 m entry)."""
    lay, est, _ = ring_exit_and_long_entry(1.2, 10.0)
    n = lay.lanes.index("eN_0")
    ids = [m.id for m in lay.junction.movements]
    share = lay.lane_share.copy()
    share[:, n] = 0.0
    share[ids.index("N_T"), n] = share[ids.index("S_T"), n] = 0.5
    out = whole_spill_pcu(replace(lay, lane_share=share), est)
    assert np.allclose(out, [0.6 if i in ("N_T", "S_T") else 0.0 for i in ids])
    _, fraction, _ = ring_exit_and_long_entry(0.9, 10.0)
    assert not whole_spill_pcu(lay, fraction).any()


def test_max_pressure_spill_plan_green_holds_no_longer_than_the_phase_in_force_has_been_green():
    """The policy first sees N green a tick after N/S's green began (70 s; first tick 71 s): at 100 s N/S has been
    green the plan's 30 s, so has N, though its recorded start says 29 s: the pressures go on to E/W."""
    lay, est, _ = ring_exit_and_long_entry(2.0, 10.0)
    key = MaxPressurePolicy(KEY)
    state, wishes = key.init(lay, 0.0), {}
    for t in np.arange(71.0, 100.5, 1.0):
        state, wishes[float(t)] = key.decide(state, lay, est, _ns_green_from(lay, 70.0, float(t)), float(t))
    assert wishes[99.0] == PhaseWish(0) and wishes[100.0] == PhaseWish(1)


def test_max_pressure_spill_plan_green_goes_on_only_into_a_phase_that_keeps_it_green():
    """N alone 10 s, then N/S 30 s, then E/W (N's plan green 40 s: no intergreen N alone -> N/S). N's ring exit
    spills, N alone has run 8 s; E/W's pressure is the highest, N/S's above N alone's: the pressures go to E/W, the
    key to N/S, which keeps N green."""
    raw = _phases(("Grrr", 10.0), ("GrGr", 30.0), ("rGrG", 25.0))
    for d in raw["detectors"]:
        d["pos_m"] = 0.0 if d["id"] == "N_adv" else (250.0 if d["id"] == "E_adv" else d["pos_m"])
    lay = Layout.build(parse_intersection(raw, "ring_exit.toml"), CFG)
    assert plan_green_s(lay.junction, lay.protected).tolist() == [40.0, 25.0, 30.0, 25.0]
    n, e = lay.lanes.index("eN_0"), lay.lanes.index("eE_0")
    storage = float(lay.lane_storage_pcu[n])
    hidden, queue = np.zeros(len(lay.lanes)), np.zeros(len(lay.lanes))
    hidden[n], hidden[e] = 2.0, 20.0
    queue[n] = queue[e] = storage
    est = estimate(lay, queue={"N_T": storage + 2.0, "E_T": storage + 20.0, "S_T": 5.0})
    est = replace(est, lanes=replace(est.lanes, hidden_pcu=hidden, queue_pcu=queue))
    sig = SignalView(0, False, 8.0, tuple(100.0 if m.id == "N_T" else 80.0 for m in lay.junction.movements))
    plain, key = MaxPressurePolicy(NO_LOSS), MaxPressurePolicy(KEY)
    assert plain.decide(plain.init(lay, 0.0), lay, est, sig, 100.0)[1] == PhaseWish(2)
    assert key.decide(key.init(lay, 0.0), lay, est, sig, 100.0)[1] == PhaseWish(1)


def test_the_plan_green_is_the_longest_of_two_runs_not_their_sum():
    """A movement served by phases 0 and 2 of four, red in 1 and 3: two runs of 10 s and 15 s, the longest 15 s,
    not 25 s (R, session 54: a run not reset at a red phase survived)."""
    j = parse_intersection(_phases(("GrGr", 30.0), ("rGrG", 25.0)), "t.toml")
    assert _longest_run_s(j, [True, False, True, False], [10.0, 20.0, 15.0, 20.0]) == 15.0


def test_max_pressure_spill_plan_green_stays_on_a_tie_between_phases_that_keep_it_green():
    """N alone (0), N/S (1), E/W (2), N/S in force 8 s with N's ring exit spilling and S empty: phases 0 and 1 keep
    N green with the same pressure, E/W's higher. The key stays on N/S rather than switch to N alone for nothing
    (R, session 54: the tie's guard dropped moved to phase 0 unseen)."""
    raw = _phases(("Grrr", 10.0), ("GrGr", 30.0), ("rGrG", 25.0))
    for d in raw["detectors"]:
        d["pos_m"] = 0.0 if d["id"] == "N_adv" else (250.0 if d["id"] == "E_adv" else d["pos_m"])
    lay = Layout.build(parse_intersection(raw, "ring_exit.toml"), CFG)
    n, e = lay.lanes.index("eN_0"), lay.lanes.index("eE_0")
    storage = float(lay.lane_storage_pcu[n])
    hidden, queue = np.zeros(len(lay.lanes)), np.zeros(len(lay.lanes))
    hidden[n], hidden[e] = 2.0, 20.0
    queue[n] = queue[e] = storage
    est = estimate(lay, queue={"N_T": storage + 2.0, "E_T": storage + 20.0})
    est = replace(est, lanes=replace(est.lanes, hidden_pcu=hidden, queue_pcu=queue))
    served = set(lay.junction.served_movements(1))
    sig = SignalView(1, False, 8.0, tuple(100.0 if m.id in served else 80.0 for m in lay.junction.movements))
    plain, key = MaxPressurePolicy(NO_LOSS), MaxPressurePolicy(KEY)
    assert plain.decide(plain.init(lay, 0.0), lay, est, sig, 100.0)[1] == PhaseWish(2)
    assert key.decide(key.init(lay, 0.0), lay, est, sig, 100.0)[1] == PhaseWish(1)


def test_whole_spill_reads_the_room_past_the_link_s_head_as_the_blocking_queue_does():
    """One reading of the spill past a lane's room (spillback.lane_spill_pcu): where every lane's spill reaches a
    whole PCU, whole_spill_pcu is blocking_queue_pcu to the bit, on the ring exit and with the entry's room cut."""
    lay, est, _ = ring_exit_and_long_entry(1.2, 40.0)
    tight = replace(lay, lane_adv_room_pcu=np.minimum(lay.lane_adv_room_pcu, 3.0))
    for layout in (lay, tight):
        spill = blocking_queue_pcu(layout, est)
        assert spill.any() and np.array_equal(whole_spill_pcu(layout, est), spill)

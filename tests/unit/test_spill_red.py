"""[max_pressure] spill_plan_red (controller/core/policies/spill_red.py): a spill that reaches its link's head
is red no longer than the city's program holds it red."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy
from controller.core.policies.spill_red import (
    GreenDischarge,
    due_phase,
    plan_red_s,
    served,
    track_greens,
    turn_off_room_pcu,
)
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import PhaseWish
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_policies import ring_exit_and_long_entry

NO_LOSS = MaxPressureParams(switch_service_s=1e9)  # the switch's loss aside: the pressures alone


def test_the_plan_red_is_the_programs_longest_red_per_movement():
    """two_phase: N/S green 30 s, E/W 25 s, 5 s intergreens: N/S red 25 + 2 x 5 = 35 s, E/W 40 s."""
    j = parse_intersection(two_phase_raw(), "two_phase.toml")
    assert plan_red_s(j).tolist() == [35.0, 40.0, 35.0, 40.0]


def test_due_phase_serves_only_a_red_spill_past_its_room_held_as_long_as_the_plan():
    service = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # phase 2 serves both
    plan = np.array([35.0, 40.0])
    pressures = np.array([5.0, 9.0, 7.0])
    assert due_phase(service, 1, np.array([2.0, 0.0]), np.array([35.0, 0.0]), plan, pressures) == 2
    assert due_phase(service, 1, np.array([2.0, 0.0]), np.array([34.0, 0.0]), plan, pressures) == -1  # not yet
    assert due_phase(service, 1, np.array([0.0, 0.0]), np.array([90.0, 0.0]), plan, pressures) == -1  # no spill
    assert due_phase(service, 2, np.array([2.0, 0.0]), np.array([90.0, 0.0]), plan, pressures) == -1  # served


def test_due_phase_with_served_chooses_a_phase_serving_the_spill_protected_among_the_eligible():
    """spill_plan_red_served's part of due_phase: only `eligible` movements may be due, and only a phase
    serving a due movement protected is chosen: phase 2 serves movement 0 permitted only, so phase 0
    is chosen though phase 2's pressure is higher."""
    service = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    protected = np.array([[True, False], [False, True], [False, True]])
    plan, pressures = np.array([35.0, 40.0]), np.array([5.0, 9.0, 7.0])
    spill, red = np.array([2.0, 0.0]), np.array([35.0, 0.0])
    assert due_phase(service, 1, spill, red, plan, pressures) == 2  # any phase serving it: the highest pressure
    assert due_phase(service, 1, spill, red, plan, pressures, np.array([True, True]), protected) == 0
    assert due_phase(service, 1, spill, red, plan, pressures, np.array([False, True]), protected) == -1


def test_max_pressure_spill_plan_red_serves_the_ring_exit_after_the_plans_red():
    """N's 2 PCU past its loop (at its lane's start: room 0) stand at the link's head; E's 10 PCU past
    its loop stand on its own 250 m entry. E/W keeps the green on the pressures (10.67 + 20 against
    10.67 + 4). N/S has been red 20 s: kept with the key too; once red 35 s (the program's N/S red)
    the key serves N/S. Without the key, or with N's spill on its own road, E/W keeps it."""
    lay, est, sig = ring_exit_and_long_entry(2.0, 10.0)
    plain = MaxPressurePolicy(NO_LOSS)
    key = MaxPressurePolicy(replace(NO_LOSS, spill_plan_red=True))
    assert key.network_decision({"J": lay}) is None  # the one-pass decision does not apply it

    def red_for(now: float, red_s: float) -> SignalView:  # E/W green 30 s, N/S red `red_s`
        served = set(lay.junction.served_movements(1))
        reds = tuple(now if m.id in served else now - red_s for m in lay.junction.movements)
        return SignalView(1, False, 30.0, reds)

    for policy, red_s, phase in ((plain, 20.0, 1), (key, 20.0, 1), (plain, 35.0, 1), (key, 35.0, 0), (plain, 60.0, 1)):
        state = policy.init(lay, 0.0)
        for t in (99.0, 100.0):  # two ticks: the key survives the state the policy rebuilds every tick
            state, wish = policy.decide(state, lay, est, red_for(t, red_s - (100.0 - t)), t)
        assert wish == PhaseWish(phase), (policy is key, red_s)
    _, entry_only, _ = ring_exit_and_long_entry(0.0, 10.0)  # nothing past N's room: the pressures decide
    _, wish = key.decide(key.init(lay, 0.0), lay, entry_only, red_for(100.0, 60.0), 100.0)
    assert wish == PhaseWish(1)
    assert sig.phase == 1  # the fixture's E/W green


@pytest.mark.parametrize(("key", "kept"), [("spill_plan_red", "plan_red_s"), ("spill_plan_green", "hold")])
def test_every_path_of_the_tick_keeps_what_the_key_tracks(key: str, kept: str) -> None:
    """MaxPressurePolicy._track_box rebuilds the state every tick by one of three paths (a new green; the same
    green of a phase without a permitted-only movement; the same green, its box updated), and _track_heads once
    more: each carries `plan_red_s` (spill_plan_red) and `hold` (spill_plan_green) over, or the key stops acting
    after one tick (R, session 41: the third path dropping it passed a test whose junction takes the first two
    only). Key off: nothing tracked."""
    lay, est, _ = ring_exit_and_long_entry(2.0, 10.0)
    policy = MaxPressurePolicy(replace(NO_LOSS, **{key: True}))
    state = policy.init(lay, 0.0)
    tracked = getattr(state, kept)
    assert tracked is not None
    new_green = policy._track_box(state, lay, est, 1, 99.0)
    assert getattr(new_green, kept) is tracked
    assert state.statics.has_permitted is not None and not state.statics.has_permitted[1]
    assert getattr(policy._track_box(new_green, lay, est, 1, 100.0), kept) is tracked
    boxed = replace(new_green, statics=replace(new_green.statics, has_permitted=None))  # the box updated
    assert getattr(policy._track_box(boxed, lay, est, 1, 100.0), kept) is tracked
    heads = policy._track_heads(boxed, lay, est, SignalView(1, False, 30.0, (100.0,) * 4), 100.0, None)
    assert getattr(heads, kept) is tracked
    assert getattr(MaxPressurePolicy(NO_LOSS).init(lay, 0.0), kept) is None


SERVED = replace(NO_LOSS, spill_plan_red=True, spill_plan_red_served=True)


def test_track_greens_closes_each_green_with_what_left_over_its_stop_line():
    """Two movements: the first green from 10 PCU departed, 3 more by its end; the second red throughout."""
    g = track_greens(None, np.array([10.0, 4.0]), np.array([True, False]))
    assert np.isnan(g.last_pcu).all() and g.start_pcu[0] == 10.0 and np.isnan(g.start_pcu[1])
    g = track_greens(g, np.array([12.0, 4.0]), np.array([True, False]))
    assert g.start_pcu[0] == 10.0  # the green in force keeps its start
    g = track_greens(g, np.array([13.0, 4.0]), np.array([False, False]))
    assert g.last_pcu[0] == 3.0 and np.isnan(g.last_pcu[1]) and np.isnan(g.start_pcu).all()
    g = track_greens(g, np.array([13.0, 4.0]), np.array([True, False]))
    g = track_greens(g, np.array([13.0, 4.0]), np.array([False, False]))
    assert g.last_pcu[0] == 0.0  # a green that passed no one


def test_served_needs_the_stop_line_standing_a_green_that_moved_and_a_protected_phase():
    lay, est, _ = ring_exit_and_long_entry(2.0, 10.0)
    n = len(lay.junction.movements)
    assert served(lay, est, None).all()  # loops standing at every stop line, no green seen: no evidence against
    moved = GreenDischarge(np.full(n, np.nan), np.full(n, 1.0))
    none = GreenDischarge(np.full(n, np.nan), np.zeros(n))
    assert served(lay, est, moved).all() and not served(lay, est, none).any()
    north = [m.id for m in lay.junction.movements].index("N_T")
    empty = np.zeros(len(lay.lanes))
    empty[lay.lanes.index("eN_0")] = 10.0  # N's stop-line loop empty these 10 s
    line_empty = replace(est, lanes=replace(est.lanes, stop_empty_s=empty))
    assert served(lay, line_empty, None).tolist() == [i != north for i in range(n)]
    permitted = replace(lay, protected=np.zeros_like(lay.protected))  # every phase serves them permitted only
    assert not served(permitted, est, None).any()


def test_spill_plan_red_served_leaves_a_spill_whose_last_green_moved_no_one_to_the_pressures():
    """The ring exit N red 35 s (the program's N/S red) with 2 PCU past its room: served with `spill_plan_red`.
    With `spill_plan_red_served`, served too while its last green passed 1 PCU over its stop line, but not
    after a green that passed none (its exit took no one), nor while its stop-line loop stands empty."""
    lay, est, _ = ring_exit_and_long_entry(2.0, 10.0)
    n = len(lay.junction.movements)
    served_movements = set(lay.junction.served_movements(1))
    sig = SignalView(1, False, 30.0, tuple(100.0 if m.id in served_movements else 65.0 for m in lay.junction.movements))
    key = MaxPressurePolicy(replace(NO_LOSS, spill_plan_red=True))
    narrow = MaxPressurePolicy(SERVED)

    def wish(policy: MaxPressurePolicy, last_pcu: float, e=est) -> PhaseWish | None:
        state = replace(policy.init(lay, 0.0), greens=GreenDischarge(np.full(n, np.nan), np.full(n, last_pcu)))
        return policy.decide(state, lay, e, sig, 100.0)[1]

    assert wish(key, 0.0) == PhaseWish(0)  # the rule alone serves it whatever its last green did
    assert wish(narrow, 1.0) == PhaseWish(0)
    assert wish(narrow, 0.0) == PhaseWish(1)
    empty = np.zeros(len(lay.lanes))
    empty[lay.lanes.index("eN_0")] = 10.0
    assert wish(narrow, 1.0, replace(est, lanes=replace(est.lanes, stop_empty_s=empty))) == PhaseWish(1)
    assert narrow.network_decision({"J": lay}) is None


def test_spill_plan_red_served_tracks_the_greens_through_the_ticks():
    """The policy itself records the last green: N/S green 20 s passing no one, then red 35 s: kept on E/W;
    the same with 2 PCU over N's stop line in that green: N/S served."""
    lay, est, _ = ring_exit_and_long_entry(2.0, 10.0)
    ns = set(lay.junction.served_movements(0))
    ew = set(lay.junction.served_movements(1))
    north = [m.id for m in lay.junction.movements].index("N_T")

    def run(passed_pcu: float) -> PhaseWish | None:
        policy = MaxPressurePolicy(SERVED)
        state = policy.init(lay, 0.0)
        wish = None
        for t in range(40, 101):
            if t <= 60:  # N/S green from 40 s to 60 s, E/W red
                sig = SignalView(
                    0, False, t - 40.0, tuple(float(t) if m.id in ns else 30.0 for m in lay.junction.movements)
                )
            else:  # E/W green from 65 s (5 s intergreen aside), N/S red since 60 s
                sig = SignalView(
                    1,
                    False,
                    max(t - 65.0, 0.0),
                    tuple(float(t) if m.id in ew else 60.0 for m in lay.junction.movements),
                )
            dep = np.zeros(len(lay.junction.movements))
            dep[north] = passed_pcu if t >= 50 else 0.0
            state, wish = policy.decide(state, lay, replace(est, departures_pcu=dep), sig, float(t))
        return wish

    assert run(0.0) == PhaseWish(1)
    assert run(2.0) == PhaseWish(0)


def _beyond(lay, room_to_turn_off_pcu):
    """The ring exit's layout with N's advance loop's room_to_turn_off_pcu set (None: not known)."""
    dets = tuple(
        replace(d, room_to_turn_off_pcu=room_to_turn_off_pcu) if d.id == "N_adv" else d for d in lay.junction.detectors
    )
    return replace(lay, junction=replace(lay.junction, detectors=dets))


def test_spill_plan_red_turns_off_waits_for_the_spill_past_the_roads_that_lead_only_into_the_approach():
    """N's 2 PCU past its room, red 35 s (the program's N/S red): `spill_plan_red` serves N/S. With
    `spill_plan_red_turns_off`, where the roads past N's room store 3 PCU more that lead only into N
    (Detector.room_to_turn_off_pcu), the 2 PCU hold no one else: the pressures keep E/W. Where they
    store 1.5 PCU, or none (a feeder there also turns off), or it is not known, N/S is served."""
    lay, est, _ = ring_exit_and_long_entry(2.0, 10.0)
    served_ns = {m.id for m in lay.junction.movements if m.id in set(lay.junction.served_movements(1))}
    reds = tuple(100.0 if m.id in served_ns else 65.0 for m in lay.junction.movements)
    sig = SignalView(1, False, 30.0, reds)  # E/W green 30 s, N/S red 35 s
    plain = MaxPressurePolicy(replace(NO_LOSS, spill_plan_red=True))
    key = MaxPressurePolicy(replace(NO_LOSS, spill_plan_red=True, spill_plan_red_turns_off=True))
    for beyond, policy, phase in ((3.0, plain, 0), (3.0, key, 1), (1.5, key, 0), (0.0, key, 0), (None, key, 0)):
        lay_b = _beyond(lay, beyond)
        _, wish = policy.decide(policy.init(lay_b, 0.0), lay_b, est, sig, 100.0)
        assert wish == PhaseWish(phase), (beyond, policy is key)


def test_turn_off_room_pcu_reads_each_lanes_advance_loop():
    lay, _, _ = ring_exit_and_long_entry(2.0, 10.0)
    beyond = turn_off_room_pcu(_beyond(lay, 4.5).junction, lay.lanes)
    n = lay.lanes.index("eN_0")
    assert beyond[n] == 4.5 and np.count_nonzero(beyond) == 1
    assert not turn_off_room_pcu(_beyond(lay, None).junction, lay.lanes).any()

"""[max_pressure] spill_plan_red (controller/core/policies/spill_red.py): a spill that reaches its link's head
is red no longer than the city's program holds it red."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy
from controller.core.policies.spill_red import due_phase, plan_red_s
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


def test_every_path_of_the_tick_keeps_the_plans_reds():
    """MaxPressurePolicy._track_box rebuilds the state every tick by one of three paths (a new green; the same
    green of a phase without a permitted-only movement; the same green, its box updated): each carries
    `plan_red_s` over, or the key stops acting after one tick (R, session 41: the third path dropping it passed
    the test above, whose junction takes the first two only)."""
    lay, est, _ = ring_exit_and_long_entry(2.0, 10.0)
    policy = MaxPressurePolicy(replace(NO_LOSS, spill_plan_red=True))
    state = policy.init(lay, 0.0)
    plan = state.plan_red_s
    assert plan is not None
    new_green = policy._track_box(state, lay, est, 1, 99.0)
    assert new_green.plan_red_s is plan
    assert state.statics.has_permitted is not None and not state.statics.has_permitted[1]
    assert policy._track_box(new_green, lay, est, 1, 100.0).plan_red_s is plan
    boxed = replace(new_green, statics=replace(new_green.statics, has_permitted=None))  # the box updated
    assert policy._track_box(boxed, lay, est, 1, 100.0).plan_red_s is plan

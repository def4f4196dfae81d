"""MaxPressurePolicy rebuilds its state every tick (_track_box's three paths, then _track_heads with
`head_block_s`): what a key keeps from tick to tick must come through each path, or the key stops acting
after one tick. R, session 41: `head_waits` dropped on any of _track_box's paths, and `plan_red_s` dropped
by _track_heads, passed every other test."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy
from tests.unit.test_policies import ring_exit_and_long_entry

BOTH = MaxPressureParams(switch_service_s=1e9, spill_plan_red=True, head_block_s=4.0, head_block_unshared_only=False)


def test_every_path_of_the_tick_keeps_the_heads_waits():
    """A new green; the same green of a phase without a permitted-only movement; the same green, its box
    updated: each keeps the shared lanes' blocks (`head_waits`) as they were."""
    lay, est, _ = ring_exit_and_long_entry(2.0, 10.0)
    policy = MaxPressurePolicy(BOTH)
    waits = np.ones((len(lay.junction.movements), len(lay.lanes)), dtype=bool)
    state = replace(policy.init(lay, 0.0), head_waits=waits)
    new_green = policy._track_box(state, lay, est, 1, 99.0)
    assert new_green.head_waits is waits
    assert not new_green.statics.has_permitted[1]
    assert policy._track_box(new_green, lay, est, 1, 100.0).head_waits is waits
    boxed = replace(new_green, statics=replace(new_green.statics, has_permitted=None))  # the box updated
    assert policy._track_box(boxed, lay, est, 1, 100.0).head_waits is waits


def test_the_heads_tick_keeps_the_plans_reds():
    """_track_heads rebuilds the state too: with both keys on, `spill_plan_red`'s reds come through it."""
    lay, est, sig = ring_exit_and_long_entry(2.0, 10.0)
    policy = MaxPressurePolicy(BOTH)
    state = policy._track_box(policy.init(lay, 0.0), lay, est, sig.phase, 100.0)
    plan = state.plan_red_s
    assert plan is not None
    assert policy._track_heads(state, lay, est, sig, 100.0, est.departures_pcu).plan_red_s is plan


def test_every_path_of_the_tick_keeps_the_greens_discharge():
    """`spill_plan_red_served`'s record of each movement's last green comes through _track_box's three paths
    and _track_heads."""
    from controller.core.policies.spill_red import GreenDischarge

    lay, est, sig = ring_exit_and_long_entry(2.0, 10.0)
    policy = MaxPressurePolicy(replace(BOTH, spill_plan_red_served=True))
    n = len(lay.junction.movements)
    greens = GreenDischarge(np.full(n, np.nan), np.ones(n))
    state = replace(policy.init(lay, 0.0), greens=greens)
    new_green = policy._track_box(state, lay, est, 1, 99.0)
    assert new_green.greens is greens
    assert policy._track_box(new_green, lay, est, 1, 100.0).greens is greens
    boxed = replace(new_green, statics=replace(new_green.statics, has_permitted=None))  # the box updated
    assert policy._track_box(boxed, lay, est, 1, 100.0).greens is greens
    assert policy._track_heads(new_green, lay, est, sig, 100.0, est.departures_pcu).greens is greens

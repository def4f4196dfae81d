"""Property tests of the safety gate: random junctions (tests/junction_strategies.py: several
approaches and lanes, advance loops, feasible and infeasible maximum red) and random policy
outputs, from plausible (greens around the junction's limits) to absurd (NaN, negative, wrong
phases).

Whatever a policy asks, no command leaves the gate that violates the junction's minimum or
maximum green, its cycle bounds, its intergreens, conflicting greens or any movement's maximum
red, and every refusal says why. The gate may not buy that by refusing: a well-formed acyclic
wish always gets a command, every stage in index order at its minimum green is accepted on a
feasible junction, and a minimum share of the plausible cycle wishes is accepted. The last
test runs a policy that says anything through the whole chain (tests/safety_chain.py).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core.estimation import Layout
from controller.core.policies import Policy
from controller.core.safety import (
    SignalView,
    cycle_length_s,
    first_green_s,
    gate_cycle,
    gate_phase,
    max_red_s,
    phase_conflict,
)
from controller.model import CyclePlan, CycleWish, Intersection, PhaseWish, Wish
from tests.junction_strategies import (
    Feed,
    absurd_cycle_wishes,
    absurd_phase_wishes,
    feeds,
    junctions,
    plausible_cycle_wishes,
    plausible_phase_wishes,
    starvation_bound_s,
    views,
    wishes,
)
from tests.safety_chain import chain_settings, check_sequence, run_chain

EPS = 1e-3  # the gate rounds plan times to the millisecond
SCALE = int(os.environ.get("TSC_SAFETY_EXAMPLES_X", "1"))  # more examples: TSC_SAFETY_EXAMPLES_X=10
MIN_PLAUSIBLE_CYCLE_ACCEPTED = 0.25  # measured: 0.47 of the derandomized examples
GATE = settings(
    max_examples=200 * SCALE,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def feasible(j: Intersection) -> bool:
    return j.max_red_s >= starvation_bound_s(j)


def assert_plan_within_bounds(j: Intersection, plan: CyclePlan) -> None:
    for p, g in zip(plan.phase_order, plan.greens_s):
        assert not phase_conflict(j, p)
        assert j.phases[p].min_green_s - EPS <= g <= j.phases[p].max_green_s + EPS, (p, g)
    assert j.cycle_min_s - EPS <= plan.cycle_s <= j.cycle_max_s + EPS
    assert math.isclose(plan.cycle_s, cycle_length_s(j, plan.phase_order, plan.greens_s), abs_tol=0.01)
    assert all(r <= j.max_red_s + EPS for r in max_red_s(j, plan.phase_order, plan.greens_s).values())
    assert {m for p in plan.phase_order for m in j.served_movements(p)} == {m.id for m in j.movements}
    assert 0.0 <= plan.offset_s < plan.cycle_s + EPS


# -- the gate, one wish at a time --------------------------------------------------------------


def test_cycle_plans_respect_every_bound_or_are_refused_with_reason():
    stats: Counter[str] = Counter()

    @GATE
    @given(st.data())
    def one(data: st.DataObject) -> None:
        j = data.draw(junctions())
        plausible = not data.draw(st.booleans())
        wish = data.draw(plausible_cycle_wishes(j) if plausible else absurd_cycle_wishes())
        out = gate_cycle(j, wish, plan_id="p", seq=1, now_s=0.0, ttl_s=20.0)
        stats[f"{plausible}-wishes"] += 1
        if out.command is None:
            assert out.refused
            return
        stats[f"{plausible}-accepted"] += 1
        assert isinstance(out.command, CyclePlan)
        assert_plan_within_bounds(j, out.command)

    one()
    rate = stats["True-accepted"] / stats["True-wishes"]
    assert rate >= MIN_PLAUSIBLE_CYCLE_ACCEPTED, f"{rate:.0%} of plausible cycle wishes accepted: {dict(stats)}"


@GATE
@given(junctions(feasible=True))
def test_every_stage_in_index_order_at_its_minimum_green_is_accepted_on_a_feasible_junction(j):
    wish = CycleWish(tuple(range(len(j.phases))), tuple(p.min_green_s for p in j.phases), 0.0)
    out = gate_cycle(j, wish, plan_id="p", seq=1, now_s=0.0, ttl_s=20.0)
    assert out.command is not None, out.refused
    assert out.command.greens_s == wish.greens_s and not out.clipped


@GATE
@given(st.data())
def test_phase_commands_respect_min_max_green_and_intergreens_and_are_never_refused_when_well_formed(data):
    j = data.draw(junctions())
    view = data.draw(views(j))
    wish = data.draw(st.one_of(absurd_phase_wishes(), plausible_phase_wishes(j)))
    out = gate_phase(j, wish, view, plan_id="p", seq=1, now_s=1000.0, ttl_s=20.0)
    well_formed = (
        type(wish.phase) is int and 0 <= wish.phase < len(j.phases) and math.isfinite(wish.hold_s) and wish.hold_s >= 0
    )
    if out.command is None:
        assert out.refused and not well_formed, out.refused
        return
    cmd = out.command
    assert 0 <= cmd.phase < len(j.phases) and not phase_conflict(j, cmd.phase)
    assert math.isfinite(cmd.hold_s) and cmd.hold_s >= 0
    cur = j.phases[view.phase]
    if view.in_intergreen or view.green_elapsed_s < cur.min_green_s:
        assert cmd.phase == view.phase  # an intergreen runs out; a green lasts its minimum
    elif view.green_elapsed_s >= cur.max_green_s:
        assert cmd.phase != view.phase


def test_a_cycle_plan_that_would_overrun_a_waiting_movements_max_red_is_refused():
    stats: Counter[str] = Counter()

    @GATE
    @given(st.data())
    def one(data: st.DataObject) -> None:
        j = data.draw(junctions())
        view = data.draw(views(j))
        wish = data.draw(plausible_cycle_wishes(j))
        out = gate_cycle(j, wish, plan_id="p", seq=1, now_s=1000.0, ttl_s=20.0, view=view)
        stats["wishes"] += 1
        if out.command is None:
            assert out.refused
            return
        stats["accepted"] += 1
        assert_plan_within_bounds(j, out.command)
        first = first_green_s(j, out.command.phase_order, out.command.greens_s, view)
        for i, m in enumerate(j.movements):
            if first.get(m.id, 0.0) > 0:
                assert 1000.0 - view.red_since_s[i] + first[m.id] <= j.max_red_s + EPS

    one()
    assert stats["accepted"] >= 0.05 * stats["wishes"], dict(stats)  # most views have a movement past its max red


# -- the whole chain, second by second ---------------------------------------------------------


class Scripted(Policy):
    """A policy that says whatever it was given, each wish for a while."""

    name = "scripted"

    def __init__(self, script: list[tuple[Wish, int]]) -> None:
        self.script = script

    def cannot_serve(self, layout: Layout) -> str:
        return ""

    def init(self, layout: Layout, now_s: float) -> tuple[int, int]:
        return (0, 0)

    def decide(
        self, state: Any, layout: Layout, est: Any, signal: SignalView | None, now_s: float, network: Any = None
    ) -> tuple[Any, Wish | None]:
        k, used = state
        wish, hold = self.script[k % len(self.script)]
        used += 1
        if used >= hold:
            k, used = k + 1, 0
        return (k, used), wish


def test_whatever_the_policy_says_the_signal_shown_stays_safe():
    stats: Counter[str] = Counter()

    @chain_settings(25 * SCALE)
    @given(st.data())
    def one(data: st.DataObject) -> None:
        j = data.draw(junctions())
        script = data.draw(st.lists(st.tuples(wishes(j), st.integers(1, 40)), min_size=1, max_size=30))
        feed: Feed = data.draw(feeds(300))
        run = run_chain(j, Scripted(script), feed, 300)
        check_sequence(j, run, max_red=feasible(j) and not feed.gaps)  # why: tests/safety_chain.py
        stats["seconds"] += len(run.central)
        stats["central"] += sum(run.central)

    one()
    # not vacuous: a gate that refuses everything leaves the roadside on its own program (0 central).
    # Over random sets of 25 examples the share spreads 0.28-0.64 (median 0.47): 0.2 keeps a margin
    assert stats["central"] >= 0.2 * stats["seconds"], dict(stats)


def test_a_movement_green_in_no_phase_makes_the_gate_refuse_not_crash():
    from dataclasses import replace

    from tests.junction_fixtures import two_phase

    j = two_phase()
    broken = replace(j, phases=(j.phases[0], replace(j.phases[1], state="rrrr")))  # E_T, W_T never green
    view = SignalView(0, False, 30.0, tuple(0.0 for _ in j.movements))
    outcome = gate_phase(broken, PhaseWish(0, 1.0), view, plan_id="p", seq=1, now_s=100.0, ttl_s=20.0)
    assert outcome.command is None and "green in no phase" in outcome.refused
    ok = gate_phase(j, PhaseWish(0, 1.0), view, plan_id="p", seq=1, now_s=100.0, ttl_s=20.0)
    assert ok.command is not None

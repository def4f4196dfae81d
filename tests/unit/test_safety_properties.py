"""Every registered policy, on random junctions and random detector feeds, through the whole
chain: core step -> safety gate -> the virtual roadside controller (sim/roadside.py), second by
second, with the roadside's own program (as SUMO runs it) while it is local.

On the signal sequence the roadside produces, whatever the policy wants:
- no movement is ever green together with a conflicting one green or yellow;
- every change between green stages shows at least the model's intergreen (yellow, then
  all-red), local or central;
- a green ended under central control lasted its minimum green; a green under central control
  throughout lasted at most its maximum green (plus the tick the decision takes);
- no movement waits longer than max_red_s (plus a tick) on a junction whose maximum red is
  feasible (tests/junction_strategies.py, starvation_bound_s), nor longer than that bound on
  one whose maximum red is not;
- the roadside never has to refuse what the gate let out.
And the gate does not buy safety by refusing: every policy but `fixed` accepts every feasible
junction, and keeps it under central control for most of the run.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

from controller.core.estimation import Layout
from controller.core.policies import REGISTRY, make_policy
from controller.model import Intersection
from tests.junction_strategies import Feed, feeds, junctions, starvation_bound_s
from tests.safety_chain import CFG, check_sequence, run_chain

DURATION_S = 300
WARM_UP_S = 60  # not counted in the share under central control: the first plans take a while
MIN_CENTRAL_SHARE = 0.5  # of the seconds after the warm-up, over all examples of a policy


@pytest.mark.parametrize("policy", sorted(REGISTRY))
def test_every_policy_through_gate_and_roadside_shows_a_safe_signal(policy):
    stats: Counter[str] = Counter()

    @settings(max_examples=12, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(j=junctions(), feed=feeds(DURATION_S))
    def run_one(j: Intersection, feed: Feed) -> None:
        lay = Layout.build(j, CFG)
        why = make_policy(policy, CFG).cannot_serve(lay)
        feasible = j.max_red_s >= starvation_bound_s(j)
        if feasible:
            assert why == "", f"{policy} refuses a feasible junction: {why}"
        if why:
            stats["refused"] += 1
            return
        run = run_chain(j, make_policy(policy, CFG), feed, DURATION_S)
        check_sequence(j, run)
        if not feed.gaps:  # with a fresh feed the gate keeps the limits: the roadside never has to
            assert not run.overrides, f"the roadside overrode the gate's commands: {run.overrides}"
        stats["runs"] += 1
        stats["seconds"] += len(run.central) - WARM_UP_S
        stats["central"] += sum(run.central[WARM_UP_S:])
        stats["commands"] += run.commands

    run_one()
    assert stats["runs"] >= 6, f"only {stats['runs']} junctions run: {dict(stats)}"
    if policy == "fixed":
        assert stats["commands"] == 0 and stats["central"] == 0
    else:
        share = stats["central"] / stats["seconds"]
        assert share >= MIN_CENTRAL_SHARE, f"{policy}: under central control {share:.0%} of the time: {dict(stats)}"

"""`scats` runs the cycle it wants now, not the one it wanted a cycle ago.

The network's advice (`coordinate`, every `coordinate_period_s`) is computed from the junctions'
states before the tick in which a junction ends its cycle and adapts; its own wish in that advice is
the previous cycle's. Taken as it is, a lone junction's cycle moves by `cycle_step_s` only every
second cycle. With `[scats] own_cycle_now` the cycle starting is the longest of its fresh wish and
the other junctions' of its married subsystem.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, Layout, LinkLayout, LinkState
from controller.core.network import NetworkView
from controller.core.params import ScatsParams
from controller.core.policies.scats import ScatsPolicy, _subsystem_cycles
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import CycleWish
from tests.junction_fixtures import four_phase_raw

CFG = Config()


def view(lay: Layout, phase: int, elapsed: float, now: float) -> SignalView:
    served = set(lay.junction.served_movements(phase))
    return SignalView(
        phase, False, elapsed, tuple(now if m.id in served else now - 20.0 for m in lay.junction.movements)
    )


def one_idle_cycle(own_cycle_now: bool, others_s: float = 0.0) -> tuple[float, float, float]:
    """A lone junction runs its base cycle with its through lanes' loops empty (the summed needs fall);
    at the next cycle's start the advice is coordinated first, as core/step.py does. `others_s`: the
    advice says the other junctions of a married subsystem want that cycle (0: alone). Returns the
    cycle before, the cycle wished at that start and the cycle of the plan sent."""
    lay = Layout.build(parse_intersection(four_phase_raw(), "four_phase.toml"), CFG)
    layouts = {lay.junction.id: lay}
    links = LinkLayout.build(layouts)
    p = ScatsPolicy(ScatsParams(cycle_step_s=6.0, empty_gap_s=1.0, gap_out_s=0.0, own_cycle_now=own_cycle_now))
    e = Estimate.empty(lay, 0.0)
    left_lane = np.array([name.endswith("_1") for name in lay.lanes])
    e = replace(e, last_feed_t_s=0.0, lanes=replace(e.lanes, stop_empty_s=np.where(left_lane, 0.0, 10.0)))
    net = NetworkView(links, LinkState.empty(links, layouts, 0.0), {lay.junction.id: e}, layouts)

    def tick(s, sig: SignalView, t: float):
        advice = p.coordinate(net, {lay.junction.id: s}, t)
        if others_s:
            advice = {
                j: replace(a, cycle_s=max(a.cycle_s, others_s), others_cycle_s=others_s) for j, a in advice.items()
            }
        advised = replace(net, advice=advice)
        return p.decide(s, lay, e, sig, t, network=advised)

    s, _ = tick(p.init(lay, 0.0), view(lay, 0, 1.0, 0.0), 0.0)
    c0 = s.cycle_s
    t = 0.0
    for phase, green in ((0, 30), (1, 6), (2, 30), (3, 6)):
        for k in range(green):
            t += 1.0
            s, _ = tick(s, view(lay, phase, k + 1.0, t), t)
        t += 5.0
        s, _ = tick(s, SignalView((phase + 1) % 4, True, 0.0, view(lay, 0, 0.0, t).red_since_s), t)
    s, wish = tick(s, view(lay, 0, 1.0, t + 1), t + 1)
    assert isinstance(wish, CycleWish)
    return c0, s.desired_cycle_s, s.cycle_s


def test_a_lone_junction_runs_the_cycle_it_wants_at_this_cycle_start():
    c0, wanted, sent = one_idle_cycle(own_cycle_now=True)
    assert wanted == pytest.approx(c0 - 6.0)  # the idle cycle: one step shorter
    assert sent == pytest.approx(wanted)


def test_without_the_key_the_advice_of_the_last_coordination_holds_the_cycle_a_cycle_longer():
    c0, wanted, sent = one_idle_cycle(own_cycle_now=False)
    assert wanted == pytest.approx(c0 - 6.0)
    assert sent == pytest.approx(c0)  # its own wish of a cycle ago (as shipped)


def test_a_married_junction_runs_the_longest_of_its_own_wish_and_the_others():
    root = {"a": "a", "b": "a", "c": "a", "d": "d"}
    cycles, others = _subsystem_cycles({"a": 60.0, "b": 70.0, "c": 50.0, "d": 80.0}, root)
    assert cycles == {"a": 70.0, "d": 80.0}
    assert others == {"a": 70.0, "b": 60.0, "c": 70.0, "d": 0.0}


def test_a_married_junction_runs_the_longer_cycle_its_partners_want_over_its_own_fresh_wish():
    c0, wanted, sent = one_idle_cycle(own_cycle_now=True, others_s=100.0)
    assert wanted == pytest.approx(c0 - 6.0)
    assert sent == pytest.approx(100.0)  # the others' wish, longer than its own

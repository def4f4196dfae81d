"""`scats` adapts once per cycle: a cycle start seen again within half the shortest cycle the junction can run
(`Intersection.min_cycle_s`: every stage at its minimum green with the intergreens) is the same cycle seen again
(a late status), not a new one; a start later than that is a new cycle, adapted and planned, however much shorter
than the city's program (`base_cycle_s`) it is."""

from __future__ import annotations

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScatsParams
from controller.core.policies.scats import ScatsPolicy, ScatsState
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import CycleWish
from tests.junction_fixtures import four_phase_raw

CFG = Config()
T0_S = 100.0


def _layout() -> Layout:
    """four_phase with its through stages' program greens 50 s: the city's cycle is more than twice the shortest."""
    raw = four_phase_raw()
    for k in (0, 2):
        raw["phases"][k]["base_green_s"] = 50.0
    return Layout.build(parse_intersection(raw, "four_phase_long.toml"), CFG)


def _starts(seen_again_s: float) -> tuple[ScatsState, CycleWish | None]:
    """Phase 0 turns green at T0_S (the first cycle seen: planned), phase 2 is green 20 s later, and phase 0 is
    reported turning green again `seen_again_s` after T0_S: (the state after that tick, the wish it gave)."""
    lay = _layout()
    p = ScatsPolicy(ScatsParams())
    est = Estimate.empty(lay, 0.0)

    def view(phase: int, now_s: float) -> SignalView:
        return SignalView(phase, False, 0.0, tuple(now_s - 20.0 for _ in lay.junction.movements))

    s = p.init(lay, 0.0)
    s, first = p.decide(s, lay, est, view(0, T0_S), T0_S)
    assert isinstance(first, CycleWish)
    s, _ = p.decide(s, lay, est, view(2, T0_S + 20.0), T0_S + 20.0)
    return p.decide(s, lay, est, view(0, T0_S + seen_again_s), T0_S + seen_again_s)


def test_a_cycle_start_seen_again_within_half_the_shortest_cycle_is_the_same_cycle():
    j = _layout().junction
    assert 0.5 * j.min_cycle_s() > 10.0
    state, wish = _starts(10.0)
    assert wish is None
    assert state.cycle_start_s == T0_S + 10.0


def test_a_new_cycle_shorter_than_half_the_citys_is_adapted_and_planned():
    """The second start 5 s past the shortest cycle: a new cycle (the threshold is the shortest cycle's half, not
    the city's program's, which is longer than this cycle)."""
    j = _layout().junction
    seen_s = j.min_cycle_s() + 5.0
    assert seen_s < 0.5 * j.base_cycle_s()
    _, wish = _starts(seen_s)
    assert isinstance(wish, CycleWish)

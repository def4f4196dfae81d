"""Core._gate takes the outcome of a cycle wish gated with the tick's others (Core._gate_due, a
step.Gated) only for the very wish and view it was gated for, with the same seq and plan id. Any other
cycle wish (an equal copy, another view, a later seq, another plan id) goes through gate_cycle: an
outcome planted in the Gated is returned in the first case and in no other."""

from __future__ import annotations

import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.safety import GateMemo, GateOutcome, SignalView, gate_cycle
from controller.core.step import Core, Gated, JunctionState
from controller.model import CycleWish, Intersection
from tests.junction_fixtures import two_phase

NOW_S = 100.0
PLANTED = GateOutcome(None, "planted: not gate_cycle's")


def _core() -> tuple[Core, Intersection, JunctionState]:
    cfg = Config()
    j = two_phase()
    core = Core({j.id: Layout.build(j, cfg)}, make_policy("webster", cfg), cfg)
    return core, j, core.initial_state(0.0).junctions[j.id]


def _gate(core: Core, j: Intersection, js: JunctionState, wish: CycleWish, view: SignalView | None, g: Gated):
    refusals: list = []
    return core._gate(j.id, core.layouts[j.id], js, wish, view, NOW_S, refusals, g)


def _wish() -> CycleWish:
    return CycleWish((0, 1), (30.0, 30.0), 0.0)


def _view() -> SignalView:
    return SignalView(0, False, 5.0, (NOW_S, NOW_S - 40.0, NOW_S, NOW_S - 40.0))


def test_the_outcome_gated_together_is_taken_for_the_very_wish_view_seq_and_plan_id():
    core, j, js = _core()
    wish, view = _wish(), _view()
    g = Gated(wish, view, js.seq + 1, core._plan_id(j.id, js), PLANTED)
    assert _gate(core, j, js, wish, view, g) is PLANTED
    assert _gate(core, j, js, wish, None, g._replace(view=None)) is PLANTED


@pytest.mark.parametrize("other", ["an equal wish", "an equal view", "no view", "the next seq", "another plan id"])
def test_any_other_cycle_wish_is_gated_by_gate_cycle(other: str):
    core, j, js = _core()
    wish, view = _wish(), _view()
    seq, plan_id = js.seq + 1, core._plan_id(j.id, js)
    g = {
        "an equal wish": Gated(_wish(), view, seq, plan_id, PLANTED),
        "an equal view": Gated(wish, _view(), seq, plan_id, PLANTED),
        "no view": Gated(wish, None, seq, plan_id, PLANTED),
        "the next seq": Gated(wish, view, seq + 1, plan_id, PLANTED),
        "another plan id": Gated(wish, view, seq, plan_id + "x", PLANTED),
    }[other]
    assert g.wish == wish and (g.view is None or g.view == view)  # equal, not the same objects
    got = _gate(core, j, js, wish, view, g)
    want = gate_cycle(j, wish, plan_id=plan_id, seq=seq, now_s=NOW_S, ttl_s=core.plan_ttl_s, view=view, memo=GateMemo())
    assert got is not PLANTED and got == want and got.command is not None

"""The safety gate refuses a junction model whose phase's minimum green is shorter than its crossings'
pedestrian minimum (`Phase.ped_min_green_s`). The loader refuses such a file (test_junctions.py); a model
built in code could reach the gate, which read `min_green_s` alone and would clip a green to it."""

from __future__ import annotations

from dataclasses import replace

from controller.core.safety import GateMemo, SignalView, gate_cycle, gate_phase, pedestrian_refusal
from controller.model import CycleWish, Intersection, PhaseWish
from tests.junction_fixtures import two_phase

NOW_S = 1000.0
WHY = "phase 1: min_green_s 7 s is below the pedestrian minimum of its crossings (ped_min_green_s 12 s)"


def with_crossing(ped_min_green_s: float) -> Intersection:
    """two_phase (minimum greens 7 s) with phase 1 greening a crossing of pedestrian minimum `ped_min_green_s`."""
    j = two_phase()
    return replace(j, phases=(j.phases[0], replace(j.phases[1], ped_min_green_s=ped_min_green_s)))


def test_a_model_whose_minimum_green_is_below_its_pedestrian_minimum_is_refused():
    """Phase 1's minimum 7 s against its crossing's 12 s: a cycle plan (even one giving phase 1 its 12 s) and
    every acyclic wish, for either phase, from any signal, with or without the caller's memo, are refused
    with the phase and both minimums named."""
    j = with_crossing(12.0)
    assert pedestrian_refusal(j) == WHY
    for greens_s in ((30.0, 5.0), (30.0, 12.0)):
        for memo in (None, GateMemo()):
            wish = CycleWish((0, 1), greens_s, 0.0)
            out = gate_cycle(j, wish, plan_id="p", seq=1, now_s=NOW_S, ttl_s=120.0, memo=memo)
            assert out.command is None and out.refused == WHY
    for view in (SignalView(0, False, 30.0, (NOW_S,) * 4), SignalView(1, True, 0.0, (NOW_S - 3.0,) * 4)):
        for phase in (0, 1):
            for memo in (None, GateMemo()):
                out = gate_phase(j, PhaseWish(phase, 5.0), view, plan_id="p", seq=1, now_s=NOW_S, ttl_s=20.0, memo=memo)
                assert out.command is None and out.refused == WHY


def test_a_model_whose_minimum_green_holds_its_pedestrian_minimum_is_gated_as_before():
    """The crossing's minimum equal to phase 1's 7 s (the loader's bound): the same wishes go out, a short green
    clipped to the minimum as for a phase without crossings."""
    j = with_crossing(7.0)
    assert pedestrian_refusal(j) == ""
    for memo in (None, GateMemo()):
        wish = CycleWish((0, 1), (30.0, 5.0), 0.0)
        out = gate_cycle(j, wish, plan_id="p", seq=1, now_s=NOW_S, ttl_s=120.0, memo=memo)
        assert out.command is not None and out.command.greens_s == (30.0, 7.0)
    view = SignalView(0, False, 30.0, (NOW_S,) * 4)
    out = gate_phase(j, PhaseWish(1, 5.0), view, plan_id="p", seq=1, now_s=NOW_S, ttl_s=20.0, memo=GateMemo())
    assert out.command is not None and out.command.phase == 1

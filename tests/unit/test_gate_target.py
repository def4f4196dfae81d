"""safety.phase_target is gate_phase's decision without its command: for random junctions,
signal states and wishes (plausible and absurd), phase_outcome(phase_target(...)) is the
GateOutcome gate_phase returns, and phase_target's (phase, hold_s, clipped) or refusal is the
one gate_phase's command or refusal carries. core/step.py relies on it to skip building a
command that repeats the one in force."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import safety
from controller.model import Intersection, PhaseCommand
from tests.junction_strategies import absurd_phase_wishes, junctions, plausible_phase_wishes, views


@settings(max_examples=150, deadline=None)
@given(j=junctions(), data=st.data())
def test_phase_target_is_gate_phases_decision(j: Intersection, data: st.DataObject) -> None:
    memo = safety.GateMemo()
    now_s = 1000.0
    for _ in range(data.draw(st.integers(1, 6), label="calls")):
        now_s += data.draw(st.sampled_from([0.0, 1.0, 4.0]), label="advance")
        view = data.draw(views(j, now_s), label="view")
        wish = data.draw(st.one_of(plausible_phase_wishes(j), absurd_phase_wishes()), label="wish")
        full = safety.gate_phase(j, wish, view, plan_id="p-7", seq=3, now_s=now_s, ttl_s=20.0)
        target = safety.phase_target(j, wish, view, now_s=now_s, memo=memo)
        outcome = safety.phase_outcome(j, target, plan_id="p-7", seq=3, now_s=now_s, ttl_s=20.0)
        assert outcome == full
        if isinstance(target, str):
            assert full.command is None and full.refused == target and target
        else:
            assert isinstance(full.command, PhaseCommand)
            assert target == (full.command.phase, full.command.hold_s, full.clipped)

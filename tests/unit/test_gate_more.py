"""The safety gate's rules under mutation, session 38 (BENCHMARKS.md, "code health ... (T, session 38)"): each
rule broken in a copy of the tree, the tests run; what no test caught gets its test here.

- gate_phase refusing a wished phase that greens conflicting movements: the parser refuses such a model, so the
  gate's own check (the acyclic side of `phase_conflict`) was never reached by a test; gate_cycle's was
  (test_safety_gate_exact.py);
- Core._gate gating the hold of the acyclic phase in force when the policy is silent or its wish refused;
- Core._gate giving gate_cycle the signal view (the wait a movement already has, before the plan first serves it);
- Core._gate withholding an acyclic command until the roadside has reported its signal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies import Policy
from controller.core.safety import GateMemo, SignalView, gate_phase, phase_target
from controller.core.step import Core, TickResult
from controller.model import CyclePlan, CycleWish, PhaseCommand, PhaseWish, SignalStatus, Snapshot
from tests.junction_fixtures import two_phase

NOW_S = 1000.0


def test_an_acyclic_wish_for_a_phase_greening_conflicting_movements_is_refused():
    """A third phase greening N_T and E_T together (a model the parser refuses): the wish for it is refused with
    the movements named, from any signal, with or without the caller's memo; the other phases are not refused."""
    j = two_phase()
    j = replace(j, phases=(*j.phases, replace(j.phases[0], index=2, state="GGrr")))
    why = "phase 2 greens conflicting movements N_T and E_T"
    for view in (SignalView(0, False, 30.0, (NOW_S,) * 4), SignalView(1, True, 0.0, (NOW_S - 3.0,) * 4)):
        for memo in (None, GateMemo()):
            assert phase_target(j, PhaseWish(2, 5.0), view, now_s=NOW_S, memo=memo) == why
            out = gate_phase(j, PhaseWish(2, 5.0), view, plan_id="p", seq=1, now_s=NOW_S, ttl_s=20.0, memo=memo)
            assert out.command is None and out.refused == why
    assert not isinstance(
        phase_target(j, PhaseWish(1, 5.0), SignalView(0, False, 30.0, (NOW_S,) * 4), now_s=NOW_S), str
    )


# -- Core._gate: the gate as the core calls it -------------------------------------------------------------


class _Wishes(Policy):
    """A policy wishing `wishes[t]` at tick t (None: nothing)."""

    name = "stub"
    runs_own_program = False
    uses_network = False
    coordinate_period_s = None

    def __init__(self, wishes: dict[float, PhaseWish | CycleWish]) -> None:
        self.wishes = wishes

    def cannot_serve(self, layout: Layout) -> str:
        return ""

    def init(self, layout: Layout, now_s: float) -> None:
        return None

    def decide(self, state, layout, est, signal, now_s, network=None):  # type: ignore[no-untyped-def]
        return state, self.wishes.get(now_s)


def _run(wishes: dict[float, PhaseWish | CycleWish], end_s: int) -> list[tuple[float, TickResult]]:
    """The core over two_phase with the policy's `wishes`, the roadside showing phase 0 green since 0 s (the
    city's program holding it: nothing the core sends is applied), E_T and W_T red since 0 s; per tick the result."""
    cfg = Config()
    core = Core({"J": Layout.build(two_phase(), cfg)}, _Wishes(wishes), cfg)  # type: ignore[arg-type]
    state, out = core.initial_state(0.0), []
    for t in range(1, end_s + 1):
        status = SignalStatus("J", float(t), 0, False, float(t), "", 0, "local")
        state, result = core.step(state, [Snapshot("J", float(t), 1.0, ())], [status], float(t))
        out.append((float(t), result))
    return out


@pytest.mark.parametrize("later", ["silent", "refused"])
def test_the_core_gates_the_hold_of_the_phase_in_force_when_the_policy_is_silent_or_refused(later: str):
    """The roadside holds an acyclic phase until told otherwise: with a PhaseCommand in force and no wish
    accepted (the policy silent, or its wish refused), the core still gates holding it, and ends it at its maximum
    green (60 s) at the latest; a refused wish is recorded. (No test failed with that check removed from
    Core._gate.)"""
    after = {} if later == "silent" else {float(t): PhaseWish(7, 1.0) for t in range(2, 80)}  # no phase 7
    ticks = _run({1.0: PhaseWish(0, 90.0), **after}, 70)
    sent = [(t, c) for t, r in ticks for c in r.commands if isinstance(c, PhaseCommand)]
    assert sent[0][0] == 1.0 and sent[0][1].phase == 0
    switched = [t for t, c in sent if c.phase != 0]
    assert switched and switched[0] <= 61.0, sent
    refused = [t for t, r in ticks if any("phase 7" in x.reason for x in r.refusals)]
    assert (later == "refused") == bool(refused)
    # the wish refused at the tick the switch is forced is recorded too (R, session 38: no test failed without it)
    assert (later == "refused") == (switched[0] in refused)


def test_a_cycle_plan_counts_the_wait_the_status_shows_before_it_first_serves_a_movement():
    """The city's program has held phase 0 for 118 s (E_T red since 0 s, max red 120 s): a cycle (0, 1) would first
    green E_T after phase 0's 7 s minimum is past and the 5 s intergreen, at 123 s of red: refused, with the
    movement named. Wished at 60 s, E_T's first green comes at 65 s: sent. (No test failed with the core calling
    gate_cycle without the signal view.)"""
    wish = CycleWish((0, 1), (30.0, 30.0), 0.0)
    late = _run({118.0: wish}, 118)[-1][1]
    assert not late.commands and len(late.refusals) == 1
    assert (
        "movement E_T would wait" in late.refusals[0].reason
        and "before the new plan serves it" in late.refusals[0].reason
    )
    early = _run({60.0: wish}, 60)[-1][1]
    assert [type(c) for c in early.commands] == [CyclePlan] and not early.refusals


def test_no_acyclic_command_goes_out_before_the_roadside_reports_its_signal():
    """The acyclic gate needs the signal as it stands (intergreen, minimum green, waits): with no status yet the
    core sends nothing and records why; once a status arrives the wish is gated and sent. (No test failed with the
    wish sent ungated there.)"""
    cfg = Config()
    core = Core({"J": Layout.build(two_phase(), cfg)}, _Wishes({1.0: PhaseWish(1, 5.0), 2.0: PhaseWish(1, 5.0)}), cfg)  # type: ignore[arg-type]
    state = core.initial_state(0.0)
    state, first = core.step(state, [Snapshot("J", 1.0, 1.0, ())], [], 1.0)
    assert not first.commands and [r.reason for r in first.refusals] == [
        "no roadside status yet: acyclic command withheld"
    ]
    status = SignalStatus("J", 2.0, 0, False, 30.0, "", 0, "local")
    state, second = core.step(state, [Snapshot("J", 2.0, 1.0, ())], [status], 2.0)
    assert [(type(c), c.phase) for c in second.commands] == [(PhaseCommand, 1)] and not second.refusals  # type: ignore[union-attr]

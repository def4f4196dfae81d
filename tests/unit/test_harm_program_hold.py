"""[harm] follow_program_in_force, a hold across a change of the city's program (H, session 68). r1_waut, schedule,
seeds 1-2: judged worse against 'own' at 1,058 / 946 s, before any change; the WAUT put 'evening' in force at
1,201 s and the hold (900 s) ran on through it, on a program under which the city's plan loses to the policy by
far (fixed 67.6-116.0 s/veh per 300 s of departures after 1,500 s, schedule key off 42.2-51.0); the queues it left
kept the policy's delays up to the end (48.63 / 47.23 s/veh against 40.70 / 32.16 key off). The verdict was against
a plan the city no longer runs: once the replay follows a program the policy was not judged worse against in this
streak of losses, the hold ends (through the twin with validate_return, as any return). A status returning to a
program the policy lost against ends none, so each program ends at most one hold per streak (R, session 65: a
status alternating names must not end every hold)."""

from __future__ import annotations

from dataclasses import replace

from controller.core import harm
from tests.unit.test_harm import FAST
from tests.unit.test_harm_program_change import _core, _held, _run
from tests.unit.test_harm_program_followed import _status
from tests.unit.test_harm_program_window import _losing

NIGHT_CYCLE = 71  # seconds of statuses naming 'night' before the replay follows it (its cycle, 70 s)


def _day_then_held(core, **changes):
    """A light held on the city's plan from 1 s (600 s, a repeat offender) while the status names 'day'."""
    state = core.step(core.initial_state(0.0), [], [_status(1.0, "day")], 1.0)[0]
    return _held(state, relapses=1, **changes)


def test_a_hold_earned_against_one_program_ends_when_the_replay_follows_another() -> None:
    core = _core()
    state = _day_then_held(core, lost_to=("",))  # judged worse against the static program ('day')
    state, changes = _run(core, state, ["night"] * NIGHT_CYCLE, 2.0)
    hs = state.junctions["J"].harm
    assert state.junctions["J"].program.replayed == "night" and hs.program == "night"
    assert changes == [] and hs.mode == "fixed"
    # the feedless test's light is not judged by the Core (stale): its next decide, 1 s into a hold of 600 s
    back, why = harm.decide(hs, 73.0, core.harm)
    assert why == "the city's program 'night' in force, the policy judged worse against the static program only"
    assert back.mode == "policy" and back.relapses == 1 and back.lost_to == ("",)  # a loss on 'night' doubles
    assert harm.decide(replace(hs, program_shift=""), 73.0, core.harm)[1] is None  # no program followed: held


def test_a_hold_stays_where_the_policy_lost_against_the_program_followed() -> None:
    core = _core()
    state = _day_then_held(core, lost_to=("", "night"))
    state, changes = _run(core, state, ["night"] * NIGHT_CYCLE, 2.0)
    hs = state.junctions["J"].harm
    assert state.junctions["J"].program.replayed == "night" and hs.mode == "fixed" and changes == []
    params = replace(core.harm, demand_shift=10.0)  # the feedless test's demand (0 PCU/h) is no shift of 500
    assert harm.decide(hs, 73.0, params)[1] is None
    assert harm.decide(replace(hs, demand_ref_pcu_h=500.0), 700.0, params)[1] is None  # after the hold too


def test_with_validate_return_the_hold_ends_through_the_twin() -> None:
    core = _core(validate_return=True)
    state = _day_then_held(core, lost_to=("",))
    state, _ = _run(core, state, ["night"] * NIGHT_CYCLE, 2.0)
    due, why = harm.decide(state.junctions["J"].harm, 73.0, core.harm)
    assert why is None and due.mode == "fixed" and due.return_due
    assert due.return_reason.startswith("the city's program 'night' in force")
    rejected = harm.reject(due, "worse under night", 80.0, core.harm)
    assert rejected.lost_to == ("", "night") and harm.decide(rejected, 81.0, core.harm)[1] is None


def test_a_verdict_records_the_programs_its_evidence_ran() -> None:
    before, t_s = _losing()
    state = replace(before, excess_s=before.excess_s + 10 * FAST.excess_budget_s, program="night", evidence_of="")
    fixed, why = harm.decide(state, t_s, FAST)
    assert why is not None and fixed.mode == "fixed" and fixed.lost_to == ("", "night")
    again = replace(fixed, mode="policy", since_s=t_s + 400.0, program="dawn", evidence_of="dawn")
    relapse = harm._to_fixed(again, t_s + 400.0 + FAST.min_policy_s, "worse", FAST)
    assert relapse.relapses == 2 and relapse.lost_to == ("", "night", "dawn")  # the same streak of losses
    forgiven = harm._to_fixed(again, t_s + 400.0 + FAST.hold_max_s, "worse", FAST)
    assert forgiven.relapses == 1 and forgiven.lost_to == ("dawn",)  # in force hold_max_s: a new streak

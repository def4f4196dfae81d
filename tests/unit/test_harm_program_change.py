"""[harm] follow_program_in_force, R's first two design issues (session 65): a change of the program in force does
not defeat do no harm. It keeps the mode (a hold on the city's plan stays and ends by its own rules, through the twin
with validate_return), the replay's fixed side follows a program only once the status has named it for one cycle of
it (a status that alternates names faster moves nothing), and a name that is neither the light's static program nor
one of its `programs` is ignored, reported once."""

from __future__ import annotations

from dataclasses import replace

from controller.config import Config
from controller.core import harm
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.step import Core, CoreState, program_replayed
from controller.junctions import parse_intersection
from tests.unit.test_harm_program_followed import _status
from tests.unit.test_harm_program_in_force import _raw


def _core(**harm_keys) -> Core:
    cfg = Config()
    cfg = replace(cfg, harm=replace(cfg.harm, follow_program_in_force=True, **harm_keys))
    raw = _raw(base_greens_s=[20.0, 40.0], base_offset_s=7.0)
    raw["program_id"] = "day"
    j = parse_intersection(raw, "J.toml")
    return Core({j.id: Layout.build(j, cfg)}, make_policy("adaptive", cfg), cfg)


def _held(state: CoreState, **changes) -> CoreState:
    changes = {"mode": "fixed", "reason": "worse", "since_s": state.t_s, "hold_s": 600.0, **changes}
    hs = replace(state.junctions["J"].harm, **changes)
    return replace(state, junctions={"J": replace(state.junctions["J"], harm=hs)})


def _run(core: Core, state: CoreState, names: list[str], t0_s: float) -> tuple[CoreState, list]:
    changes = []
    for k, name in enumerate(names):
        state, result = core.step(state, [], [_status(t0_s + k, name)], t0_s + k)
        changes += result.mode_changes
    return state, changes


def test_a_status_alternating_programs_ends_no_hold_and_moves_no_replay() -> None:
    core = _core()
    static = core.programs["J"]
    state = _held(core.step(core.initial_state(0.0), [], [_status(1.0, "day")], 1.0)[0])
    state, changes = _run(core, state, ["night", "day"] * 60, 2.0)  # faster than a cycle of either
    assert changes == [] and state.junctions["J"].harm.mode == "fixed"
    assert state.junctions["J"].program.replayed == "" and core.programs["J"] is static


def test_a_program_named_for_its_cycle_is_followed_and_the_hold_stays() -> None:
    core = _core()
    state = _held(core.step(core.initial_state(0.0), [], [_status(1.0, "day")], 1.0)[0])
    cycle_s = 20.0 + 40.0 + 2 * 5.0  # night's base greens and the junction's intergreens
    state, changes = _run(core, state, ["night"] * int(cycle_s), 2.0)  # named from 2 s to 71 s
    assert state.junctions["J"].program.replayed == ""
    state, result = core.step(state, [], [_status(72.0, "night")], 72.0)  # named for 70 s: followed
    assert state.junctions["J"].program.replayed == "night" and core.programs["J"].cycle_s == cycle_s
    assert changes == [] and not result.mode_changes and state.junctions["J"].harm.mode == "fixed"
    assert result.programs == (("J", "the replay follows the city's program 'night' (named in force since 2 s)"),)


def test_under_the_policy_the_evidence_goes_on_through_a_change() -> None:
    core = _core()
    state, _ = _run(core, core.initial_state(0.0), ["day"] * 5, 1.0)
    hs0 = state.junctions["J"].harm
    state, changes = _run(core, state, ["night"] * 80, 6.0)
    hs = state.junctions["J"].harm
    assert state.junctions["J"].program.replayed == "night" and changes == []
    assert hs.mode == "policy" and hs.since_s == hs0.since_s and hs.named_until_s == 76.0
    # followed at 76 s: the evidence re-based on 'night' (H, session 67: test_harm_program_window.py)
    assert 8.0 <= hs.replay.span_s <= 9.0 and hs.excess_s == 0.0


def test_with_validate_return_a_change_returns_nothing_without_the_twin() -> None:
    core = _core(validate_return=True)
    state = core.step(core.initial_state(0.0), [], [_status(1.0, "day")], 1.0)[0]
    state = _held(state, return_due=True, return_reason="hold of 60 s over")  # waiting for the twin's approval
    state, changes = _run(core, state, ["night"] * 80, 2.0)
    hs = state.junctions["J"].harm
    assert state.junctions["J"].program.replayed == "night"
    assert changes == [] and hs.mode == "fixed" and hs.return_due and not hs.approved


def test_a_name_not_the_lights_is_ignored_and_reported_once() -> None:
    core = _core()
    state = core.initial_state(0.0)
    reported = []
    for k, name in enumerate(["noon"] * 100 + ["night"] * 3 + ["noon"] * 3):
        state, result = core.step(state, [], [_status(1.0 + k, name)], 1.0 + k)
        reported += result.programs
    assert reported == [("J", "the status names a program 'noon' that is not the light's: ignored")]
    assert state.junctions["J"].program.replayed == ""
    j = core.layouts["J"].junction
    assert [program_replayed(j, p) for p in ("night", "day", "noon", "")] == ["night", "", None, None]
    unnamed = replace(j, program_id="")  # a file from before session 66 names no static program: any other name
    assert program_replayed(unnamed, "noon") == ""


def test_follow_named_is_pure() -> None:
    f = harm.FollowedProgram()
    assert harm.follow_named(f, "", None, 70.0, 5.0) is f
    waiting = harm.follow_named(f, "night", "night", 70.0, 5.0)
    assert waiting == harm.FollowedProgram("", "night", 5.0)
    assert harm.follow_named(waiting, "night", "night", 70.0, 74.0) is waiting
    assert harm.follow_named(waiting, "night", "night", 70.0, 75.0) == harm.FollowedProgram("night")
    assert harm.follow_named(waiting, "day", "", 70.0, 75.0) == f  # the one replayed named again: none waits


def test_after_its_hold_a_light_held_through_a_change_of_program_returns_without_a_demand_shift() -> None:
    """A repeat offender (relapses > timed_returns) waits after its hold for its demand to move; held through a
    change of the city's program, the verdict was against another program: its return is due once the hold is
    over (r1_waut: schedule held on 'own' at 1,124 s stayed on 'evening' to the end). Not sooner: the hold stays."""
    core = _core()
    state = core.step(core.initial_state(0.0), [], [_status(1.0, "day")], 1.0)[0]
    state = _held(state, relapses=1, hold_s=600.0, demand_ref_pcu_h=500.0)
    state, changes = _run(core, state, ["night"] * 80, 2.0)
    hs = state.junctions["J"].harm
    assert hs.mode == "fixed" and hs.program_shift == "night" and changes == []
    params = replace(core.harm, demand_shift=10.0)  # the feedless test's demand (0 PCU/h) is no shift of 500
    assert harm.decide(hs, 500.0, params)[1] is None  # the hold (600 s from 1 s) is not over
    same = replace(hs, program_shift="")  # no change of program: no demand shift either, it stays
    assert harm.decide(same, 700.0, params)[1] is None
    back, why = harm.decide(hs, 700.0, params)
    assert back.mode == "policy" and why == "hold of 600 s over, the city's program 'night' in force since the verdict"
    due, why = harm.decide(hs, 700.0, replace(params, validate_return=True))  # through the twin, as any return
    assert why is None and due.mode == "fixed" and due.return_due
    assert harm.reject(due, "worse", 700.0, params).program_shift == ""  # the twin judged it under 'night'
    assert back.program_shift == ""

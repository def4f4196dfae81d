"""[harm] follow_program_in_force, the window around a change of the city's program (H, session 67): between the
status naming a program the replay does not run yet and the replay following it (one cycle of it), the fixed side
runs the program before, which the city no longer runs. No verdict is taken on it there (r1_waut, schedule, seed 3:
judged worse at 1,260 s, after 'evening' came in force at 1,201 s and before the replay followed it at ~1,283 s),
and once the replay follows the new program the evidence is re-based on it, as at a change of mode (the evidence
against a program no longer in force is none against the plan the light would go to: with the window's evidence
alone discarded, the sum gathered against 'own' before 1,201 s judged schedule worse 7 s after the follow). A window
that ends otherwise (the status names the program replayed again, or a cycle passes while it changes names) is
counted; a window opens at most once per window_s after the last one's end, so a status changing programs every
cycle cannot keep the policy from being judged."""

from __future__ import annotations

from dataclasses import replace

from controller.core import harm
from tests.unit.test_harm import FAST, NS_HEAVY, WrongPhase, changes, closed_loop
from tests.unit.test_harm_program_change import _core, _run


def _losing() -> tuple[harm.HarmState, float]:
    """A junction's state the tick before do no harm judges its policy worse (WrongPhase, test_harm's loop), and
    that tick's time."""
    log, _, _ = closed_loop(WrongPhase(), NS_HEAVY, 400)
    t_verdict = changes(log)[0][0]
    return log[t_verdict - 2][2], float(t_verdict)


def test_no_verdict_while_a_program_named_waits_to_be_followed() -> None:
    before, t_s = _losing()
    state = replace(before, excess_s=before.excess_s + 10 * FAST.excess_budget_s)
    assert harm.decide(state, t_s, FAST)[0].mode == "fixed"  # judged worse against the program replayed
    waiting = harm.program_window(state, True, False, 70.0, t_s - 1.0, FAST)
    assert waiting.named_s == t_s - 1.0 and waiting.named_until_s == t_s + 69.0
    kept, why = harm.decide(waiting, t_s, FAST)
    assert why is None and kept.mode == "policy"  # the city no longer runs it: the verdict waits
    counted = harm.program_window(waiting, False, False, 70.0, t_s, FAST)  # the status names it again
    assert counted.named_s is None and counted.excess_s == state.excess_s
    assert harm.decide(counted, t_s, FAST)[0].mode == "fixed"  # the window counted: judged at once


def test_once_the_program_is_followed_the_evidence_is_re_based_on_it() -> None:
    before, t_s = _losing()
    state = replace(before, excess_s=before.excess_s + 10 * FAST.excess_budget_s, spill_pcu_s=(1.0, 2.0))
    opened = harm.program_window(state, True, False, 70.0, t_s - 1.0, FAST)
    night = harm.program_followed(opened, "night", "night")  # step: the program first, then the window
    followed = harm.program_window(night, False, True, 70.0, t_s + 69.0, FAST)
    assert followed.named_s is None and followed.named_until_s == t_s + 69.0
    assert followed.excess_s == 0.0 and followed.spill_pcu_s == (0.0, 0.0) and followed.replay.span_s == 0.0
    assert followed.parked == (("", state.excess_s),) and followed.evidence_of == "night"  # kept for the static one
    assert opened.named_excess_s == state.excess_s  # the test as the window opened: its own evidence is for neither
    fixed_q, controlled_q = followed.replay.sides.queue_pcu
    assert (fixed_q == controlled_q).all()  # the fixed side from the controlled side's queues, as at a switch
    assert followed.mode == "policy" and followed.since_s == state.since_s and followed.paused_s == state.paused_s
    assert harm.decide(followed, t_s + 69.0, FAST)[1] is None  # judged again on the new program's evidence alone


def test_a_window_ends_counted_after_a_cycle_and_opens_once_per_evidence_window() -> None:
    before, _ = _losing()
    t0 = before.replay.t_s
    opened = harm.program_window(before, True, False, 70.0, t0, FAST)
    assert harm.program_window(opened, True, False, 70.0, t0 + 70.0, FAST) is opened  # the cycle's last second
    over = harm.program_window(opened, True, False, 70.0, t0 + 71.0, FAST)  # the status changed names meanwhile
    assert over.named_s is None and over.excess_s == opened.excess_s
    assert harm.program_window(over, True, False, 70.0, t0 + 71.0 + FAST.window_s - 2.0, FAST) is over
    again = harm.program_window(over, True, False, 70.0, t0 + 70.0 + FAST.window_s, FAST)
    assert again.named_s == t0 + 70.0 + FAST.window_s
    assert harm.program_window(over, False, True, 70.0, t0 + 100.0, FAST) is over  # followed, no window: counted


def test_in_fixed_mode_no_window_opens_and_a_change_of_mode_closes_one() -> None:
    before, t_s = _losing()
    held = replace(before, mode="fixed")
    assert harm.program_window(held, True, False, 70.0, t_s, FAST) is held
    opened = harm.program_window(before, True, False, 70.0, before.replay.t_s, FAST)
    locked = replace(opened, excess_s=opened.excess_s + 100.0)
    fixed = harm.network_verdict({"J": locked, "K": held}, t_s, replace(FAST, network_share=0.5))["J"][0]
    assert fixed.mode == "fixed" and fixed.named_s is None  # the evidence restarts at a change of mode
    assert harm.program_window(fixed, False, True, 70.0, t_s, FAST) is fixed


def test_through_the_core_the_evidence_is_re_based_at_the_follow_and_counted_when_the_name_returns() -> None:
    core = _core()
    state, _ = _run(core, core.initial_state(0.0), ["day"] * 5, 1.0)
    state, _ = _run(core, state, ["night"] * 60, 6.0)  # named from 6 s: waiting (a cycle of night: 70 s)
    waiting = state.junctions["J"].harm
    assert waiting.named_s == 6.0 and waiting.replay.span_s > 60.0
    state, changes_ = _run(core, state, ["night"] * 20, 66.0)  # followed at 76 s
    hs = state.junctions["J"].harm
    assert state.junctions["J"].program.replayed == "night" and changes_ == []
    assert hs.mode == "policy" and hs.since_s == waiting.since_s and hs.named_s is None
    assert 8.0 <= hs.replay.span_s <= 9.0  # the seconds since 76 s
    back, _ = _run(core, state, ["day"] * 30 + ["night"] * 30, 86.0)  # named, then the one replayed again
    hb = back.junctions["J"].harm
    assert hb.named_s is None and hb.replay.span_s > hs.replay.span_s + 50.0  # no window within window_s: counted

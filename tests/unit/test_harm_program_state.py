"""[harm] follow_program_in_force: the program a light's replay follows is the core's state (JunctionState.program),
not the Core object's (R's third design issue, session 65): a tick that fails after a switch keeps the program with
the state it returns, and a checkpoint carries it, so a restart resumes it without a new status."""

from __future__ import annotations

import json

import pytest

from controller.core import checkpoint, harm
from controller.core.step import Core
from tests.unit.test_harm_program_followed import _status
from tests.unit.test_harm_program_in_force import _core, _named


def _night(core: Core):
    state = _named(core, core.initial_state(0.0), "night", 1.0, 70)  # followed after a cycle of it
    assert state.junctions["J"].program.replayed == "night"
    return state


def test_a_restart_mid_program_resumes_the_followed_program_without_a_new_status() -> None:
    before = _core(True)
    state = _night(before)
    night = before.programs["J"]
    data = json.loads(json.dumps(checkpoint.learnt(before, state)))
    assert data["junctions"]["J"]["program"] == "night"
    after = _core(True)
    static = after.programs["J"]
    restored = checkpoint.restore(after, after.initial_state(72.0), data)
    assert restored.skipped == () and restored.state.junctions["J"].program.replayed == "night"
    state, _ = after.step(restored.state, [], [], 73.0)  # no status yet
    assert state.junctions["J"].program.replayed == "night"
    assert after.programs["J"] is not static and after.programs["J"].cycle_s == night.cycle_s
    assert after.shadow_net.programs[0] is after.programs["J"]


def test_a_tick_that_fails_after_the_switch_keeps_the_program_of_its_state(monkeypatch) -> None:
    core = _core(True)
    static = core.programs["J"]

    def fail(*args, **kwargs):
        raise RuntimeError("a stage after the guard")

    state = _named(core, core.initial_state(0.0), "night", 1.0, 69)  # a second short of its cycle
    monkeypatch.setattr(core, "_exits_full", fail)
    state, result = core.step(state, [], [_status(71.0, "night")], 71.0)
    assert result.failed and state.junctions["J"].program.replayed == ""  # the failed tick's state: no switch
    assert core.programs["J"] is not static  # the Core switched before the stage raised
    monkeypatch.undo()
    advance, replayed = harm.observe_all, []

    def spy(net, *args, **kwargs):
        replayed.append((core.programs["J"], net.programs[0]))
        return advance(net, *args, **kwargs)

    monkeypatch.setattr(harm, "observe_all", spy)
    state, _ = core.step(state, [], [], 72.0)
    assert replayed == [(static, static)]  # the next tick replays the state's program, not the Core's last
    assert state.junctions["J"].program.replayed == "night"  # then follows the status the state holds again


def test_a_checkpoint_names_the_static_program_by_nothing_and_skips_what_it_cannot_follow() -> None:
    core = _core(True)
    fresh = core.initial_state(0.0)
    assert "program" not in checkpoint.learnt(core, fresh)["junctions"]["J"]  # the static one: the same bytes
    data = checkpoint.learnt(core, fresh)
    data["junctions"]["J"]["program"] = "noon"  # not a program of the file with base greens
    restored = checkpoint.restore(core, fresh, data)
    assert restored.state.junctions["J"].program.replayed == ""
    assert restored.skipped == ("junction J program noon: no such program with base greens in its file",)
    off = _core(False)
    data["junctions"]["J"]["program"] = "night"
    restored = checkpoint.restore(off, off.initial_state(0.0), data)
    assert restored.state.junctions["J"].program.replayed == ""
    assert restored.skipped == ("junction J program night: [harm] follow_program_in_force is off",)
    data["junctions"]["J"]["program"] = 3
    with pytest.raises(checkpoint.CheckpointError, match="junctions.J.program must be a program id"):
        checkpoint.restore(core, fresh, data)

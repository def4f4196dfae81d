"""[harm] follow_program_in_force (H, session 65), what tests/unit/test_harm_program_in_force.py leaves open: the
network replay (step.Core.shadow_net, which do no harm's replays advance on) runs the program in force, a status
that names no program keeps the one followed, and a return waiting for the twin is not left due (R, session 65)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.errors import JunctionError
from controller.junctions import parse_intersection
from controller.model import SignalStatus
from tests.unit.test_harm_program_in_force import _core, _named, _raw


def _status(t_s: float, program: str) -> SignalStatus:
    return SignalStatus("J", t_s, 0, False, 5.0, "local", 0, "local", (), program)


def test_the_network_replay_runs_the_program_in_force() -> None:
    core = _core(True)
    assert core.shadow_net.programs[0] is core.programs["J"]
    state = _named(core, core.initial_state(0.0), "night", 1.0, 70)
    night = core.programs["J"]
    assert state.junctions["J"].program.replayed == "night" and core.shadow_net.programs[0] is night
    state = _named(core, state, "day", 72.0, 65)  # back to the static program
    assert state.junctions["J"].program.replayed == ""
    assert core.shadow_net.programs[0] is core.programs["J"] is not night


def test_a_status_naming_no_program_keeps_the_one_followed() -> None:
    core = _core(True)
    state = _named(core, core.initial_state(0.0), "night", 1.0, 70)
    night = core.programs["J"]
    state = _named(core, state, "", 72.0, 100)  # a roadside that does not say
    assert state.junctions["J"].program.replayed == "night" and core.programs["J"] is night


def test_a_change_of_program_leaves_a_due_return_to_the_twin() -> None:
    core = _core(True)
    state, _ = core.step(core.initial_state(0.0), [], [_status(1.0, "day")], 1.0)
    due = replace(state.junctions["J"].harm, mode="fixed", return_due=True, return_reason="better")
    state = replace(state, junctions={"J": replace(state.junctions["J"], harm=due)})
    state = _named(core, state, "night", 2.0, 70)
    hs = state.junctions["J"].harm
    assert state.junctions["J"].program.replayed == "night"
    assert hs is not None and hs.mode == "fixed" and hs.return_due and not hs.approved  # the twin still decides


def test_the_loader_refuses_an_infinite_base_green() -> None:
    """The loader's rule is finite numbers >= 0 (tests/unit/test_waut_program_greens.py has no inf): an infinite
    base green would hold the replay's fixed side, and a short pair's light on its plan, on one stage."""
    with pytest.raises(JunctionError) as e:
        parse_intersection(_raw(base_greens_s=[20.0, float("inf")]), "J.toml")
    assert e.value.field == "programs[0].base_greens_s" and e.value.path == "J.toml"

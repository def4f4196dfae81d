"""[harm] follow_program_in_force (H, session 65; docs/harm.md, docs/import.md "Time-of-day programs"): where a
light's status names the city's program in force and the junction file gives its base greens, the replay's fixed
side runs it from that status on and a hold on the city's plan ends at the change. Key off: nothing follows."""

from __future__ import annotations

import copy
from dataclasses import replace

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.step import Core, CoreState, _with_program, program_replayed
from controller.junctions import parse_intersection
from controller.model import SignalStatus
from tests.junction_fixtures import two_phase_raw


def _raw(**night) -> dict:
    raw = copy.deepcopy(two_phase_raw())
    raw["programs"] = [{"id": "night", "yellow_s": 3.0, "all_red_s": 2.0, **night}]
    return raw


def _core(follow: bool) -> Core:
    cfg = Config()
    cfg = replace(cfg, harm=replace(cfg.harm, follow_program_in_force=follow))
    j = parse_intersection(_raw(base_greens_s=[20.0, 40.0], base_offset_s=7.0), "J.toml")
    return Core({j.id: Layout.build(j, cfg)}, make_policy("adaptive", cfg), cfg)


def _status(t_s: float, program: str) -> SignalStatus:
    return SignalStatus("J", t_s, 0, False, 5.0, "local", 0, "local", (), program)


def _named(core: Core, state: CoreState, program: str, t0_s: float, seconds: int) -> CoreState:
    """`program` named in force by a status every second from t0_s to t0_s + seconds."""
    for k in range(seconds + 1):
        state, _ = core.step(state, [], [_status(t0_s + k, program)], t0_s + k)
    return state


def test_the_replay_follows_the_program_in_force_once_named_for_a_cycle_of_it():
    core = _core(True)
    static = core.programs["J"]
    state, _ = core.step(core.initial_state(0.0), [], [_status(1.0, "day")], 1.0)  # the static program: no change
    assert core.programs["J"] is static and state.junctions["J"].program.replayed == ""
    state = _named(core, state, "night", 2.0, 69)  # night's cycle: 20 + 40 s of greens, two 5 s intergreens
    assert state.junctions["J"].program.replayed == "" and core.programs["J"] is static
    state, result = core.step(state, [], [_status(72.0, "night")], 72.0)
    assert state.junctions["J"].program.replayed == "night" and core.programs["J"].cycle_s == 70.0
    assert result.programs == (("J", "the replay follows the city's program 'night' (named in force since 2 s)"),)
    state = _named(core, state, "day", 73.0, 65)  # back to the static program after one of its cycles (65 s)
    assert state.junctions["J"].program.replayed == "" and core.programs["J"] is static


def test_key_off_nothing_follows():
    core = _core(False)
    static = core.programs["J"]
    state, _ = core.step(core.initial_state(0.0), [], [_status(2.0, "night")], 2.0)
    assert core.programs["J"] is static and core.follows == () and state.junctions["J"].harm.reason == ""


def test_the_replayed_program_is_the_named_one_only_with_base_greens():
    j = parse_intersection(_raw(base_greens_s=[20.0, 40.0], base_offset_s=7.0), "J.toml")
    assert [program_replayed(j, p) for p in ("night", "day", "")] == ["night", "", None]  # no program_id: "day" static
    bare = parse_intersection(_raw(), "J.toml")
    assert program_replayed(bare, "night") == ""
    lay = Layout.build(j, Config())
    assert _with_program(lay, "") is lay
    run = _with_program(lay, "night").junction
    assert [p.base_green_s for p in run.phases] == [20.0, 40.0] and run.base_offset_s == 7.0

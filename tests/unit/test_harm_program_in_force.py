"""[harm] follow_program_in_force (H, session 65; docs/harm.md, docs/import.md "Time-of-day programs"): where a
light's status names the city's program in force and the junction file gives its base greens, the replay's fixed
side runs it from that status on and a hold on the city's plan ends at the change. Key off: nothing follows."""

from __future__ import annotations

import copy
from dataclasses import replace

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.step import Core, _with_program, program_replayed
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


def test_the_replay_follows_the_program_in_force_and_a_hold_ends_at_the_change():
    core = _core(True)
    static = core.programs["J"]
    state, _ = core.step(core.initial_state(0.0), [], [_status(1.0, "day")], 1.0)  # the static program: no change
    assert core.programs["J"] is static and state.junctions["J"].program.replayed == ""
    state, _ = core.step(state, [], [_status(2.0, "night")], 2.0)
    assert state.junctions["J"].program.replayed == "night" and core.programs["J"] is not static
    assert state.junctions["J"].harm.reason == "the city's program 'night' in force"
    held = replace(state.junctions["J"].harm, mode="fixed", reason="worse")  # a hold on the city's plan
    state = replace(state, junctions={"J": replace(state.junctions["J"], harm=held)})
    state, result = core.step(state, [], [_status(3.0, "night")], 3.0)  # the same program: the hold stays
    assert state.junctions["J"].harm.mode == "fixed" and not result.mode_changes
    state, result = core.step(state, [], [_status(4.0, "day")], 4.0)  # back to the static program: it ends
    assert state.junctions["J"].program.replayed == "" and state.junctions["J"].harm.mode == "policy"
    assert [(m.mode, m.reason) for m in result.mode_changes] == [("policy", "the city's program 'day' in force")]


def test_key_off_nothing_follows():
    core = _core(False)
    static = core.programs["J"]
    state, _ = core.step(core.initial_state(0.0), [], [_status(2.0, "night")], 2.0)
    assert core.programs["J"] is static and core.follows == () and state.junctions["J"].harm.reason == ""


def test_the_replayed_program_is_the_named_one_only_with_base_greens():
    j = parse_intersection(_raw(base_greens_s=[20.0, 40.0], base_offset_s=7.0), "J.toml")
    assert [program_replayed(j, p) for p in ("night", "day", "")] == ["night", "", ""]
    bare = parse_intersection(_raw(), "J.toml")
    assert program_replayed(bare, "night") == ""
    lay = Layout.build(j, Config())
    assert _with_program(lay, "") is lay
    run = _with_program(lay, "night").junction
    assert [p.base_green_s for p in run.phases] == [20.0, 40.0] and run.base_offset_s == 7.0

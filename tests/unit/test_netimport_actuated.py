"""Actuated programs (sim/netprogram.py, sim/netstages.py): a phase's minDur is the city's own
minimum green, which lowers the model's minimum green and shortest cycle so that the gate accepts
what the city runs; a static program's minDur is ignored, as SUMO ignores it."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import load_config
from controller.core.estimation import Layout
from controller.core.params import ScatsParams, WebsterParams
from controller.core.policies.max_pressure import MaxPressurePolicy
from controller.core.policies.scats import ScatsPolicy
from controller.core.policies.schedule import SchedulePolicy
from controller.core.policies.webster import WebsterPolicy
from controller.junctions import load_intersections
from sim.netimport import import_network
from sim.netprogram import Program, ProgramPhase, stage_plan
from tests.netbuild import additional, cross_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")
NS, EW = "GGgrrrGGgrrr", "rrrGGgrrrGGg"


def _y(state: str) -> str:
    return state.replace("G", "y").replace("g", "y")


def _logic(kind: str, ns_min: float, ew_min: float) -> str:
    rows = [(30, NS, ns_min), (3, _y(NS), 3), (30, EW, ew_min), (3, _y(EW), 3)]
    body = "\n".join(f'    <phase duration="{d}" state="{s}" minDur="{m}" maxDur="50"/>' for d, s, m in rows)
    return f'  <tlLogic id="C" type="{kind}" programID="city" offset="0">\n{body}\n  </tlLogic>'


def test_sub_phases_add_their_minimums_and_a_stage_served_twice_keeps_the_shorter():
    phases = (
        ProgramPhase(10, NS, 2.0),
        ProgramPhase(5, NS, None),  # no minimum: it runs its 5 s
        ProgramPhase(3, _y(NS)),
        ProgramPhase(20, EW, 4.0),
        ProgramPhase(3, _y(EW)),
        ProgramPhase(8, NS, 6.0),
        ProgramPhase(3, _y(NS)),
    )
    plan = stage_plan(Program("C", "p", 0.0, phases, "test"))
    assert [(s.state, s.min_green_s) for s in plan.stages] == [(NS, 6.0), (EW, 4.0)]
    fixed = stage_plan(Program("C", "p", 0.0, tuple(ProgramPhase(p.duration_s, p.state) for p in phases), "test"))
    assert all(s.min_green_s is None for s in fixed.stages)


# SUMO's self-organising programs switch between minDur and maxDur from their own detectors: on H's sotl_types (session
# 61) every one of sotl_phase, sotl_platoon, sotl_request, sotl_wave, swarm and deterministic ran greens of 5-25 s where
# the program wrote 27 s; read as static, webster replaced them with a fixed cycle (1.16x the city's delay)
SELF_ORGANISING = ["sotl_phase", "sotl_platoon", "sotl_request", "sotl_wave", "sotl_marching", "swarm", "deterministic"]


@pytest.mark.parametrize("kind", ["actuated", "delay_based", *SELF_ORGANISING])
def test_an_actuated_programs_minimum_green_and_cycle_are_the_models(tmp_path, kind):
    net = cross_net(tmp_path)
    add = additional(tmp_path, "city.add.xml", _logic(kind, 4, 12))
    import_network(net, tmp_path / "j", CFG, additional=[add])
    (j,) = load_intersections(tmp_path / "j").values()
    mins = {p.state: p.min_green_s for p in j.phases}
    assert mins[NS] == 4.0  # below the configured minimum: the city runs it
    assert mins[EW] == min(CFG.timing.min_green_s, 12.0)  # never above the configured minimum
    assert j.cycle_min_s == min(CFG.timing.cycle_min_s, 4.0 + mins[EW] + 2 * (3.0 + j.all_red_s))


def test_a_static_programs_min_dur_is_ignored(tmp_path):
    net = cross_net(tmp_path)
    add = additional(tmp_path, "city.add.xml", _logic("static", 4, 4))
    import_network(net, tmp_path / "j", CFG, additional=[add])
    (j,) = load_intersections(tmp_path / "j").values()
    assert {p.min_green_s for p in j.phases} == {CFG.timing.min_green_s}
    assert j.cycle_min_s == CFG.timing.cycle_min_s


@pytest.mark.parametrize(
    ("kind", "actuated"),
    [("actuated", True), ("delay_based", True), ("sotl_platoon", True), ("swarm", True), ("static", False)],
)
def test_a_cyclic_policy_with_keep_actuated_leaves_an_actuated_light_on_its_program(tmp_path, kind, actuated):
    """SUMO ends an actuated program's green at a gap; a fixed cycle from webster or scats would
    replace that, so with their keep_actuated they refuse the light up front, naming why (as
    shipped: webster on, scats off); the acyclic policies serve it, and a static program's light
    is served by all."""
    net = cross_net(tmp_path)
    add = additional(tmp_path, "city.add.xml", _logic(kind, 4, 12))
    import_network(net, tmp_path / "j", CFG, additional=[add])
    (j,) = load_intersections(tmp_path / "j").values()
    assert j.actuated is actuated
    layout = Layout.build(j)
    assert CFG.webster.keep_actuated and not CFG.scats.keep_actuated
    for policy in (WebsterPolicy(CFG.webster), ScatsPolicy(ScatsParams(keep_actuated=True))):
        why = policy.cannot_serve(layout)
        assert ("vehicle-actuated (gap-out)" in why) is actuated, why
        assert ("it keeps its own program" in why) is actuated, why
    for policy in (ScatsPolicy(CFG.scats), WebsterPolicy(WebsterParams(keep_actuated=False))):
        assert policy.cannot_serve(layout) == ""
    assert MaxPressurePolicy().cannot_serve(layout) == "" and SchedulePolicy().cannot_serve(layout) == ""


def test_a_nema_program_is_vehicle_actuated(tmp_path):
    from sim.netprogram import additional_programs

    add = tmp_path / "nema.add.xml"
    rows = [(1, NS), (2, EW)]
    body = "\n".join(
        f'<phase duration="30" state="{s}" minDur="5" maxDur="40" yellow="3" red="2" name="{n}"/>' for n, s in rows
    )
    params = '<param key="ring1" value="1,2"/><param key="ring2" value="0,0"/><param key="barrierPhases" value="2,0"/>'
    add.write_text(
        f'<additional><tlLogic id="C" type="NEMA" programID="0" offset="0">{body}{params}</tlLogic></additional>'
    )
    assert additional_programs([add])["C"].actuated


@pytest.mark.parametrize(
    ("actuated", "ped_min_green_s", "min_green_s", "refused"),
    [
        (True, 12.0, 12.0, True),  # the crossings' minimum is the stage's: the cycle runs it every time
        (True, 0.0, 7.0, False),  # no crossing: the key leaves it (scats beats the corpus' actuated grids)
        (True, 6.0, 9.0, False),  # a longer minimum of its own: the crossings add nothing to the cycle
        (False, 12.0, 12.0, False),  # a fixed-time program: nothing to keep
    ],
)
def test_scats_keep_actuated_crossings_refuses_an_actuated_light_whose_stage_minimum_is_a_crossings(
    actuated, ped_min_green_s, min_green_s, refused
):
    """SUMO's DRT (OSM Braunschweig, 15 actuated lights with crossings): the city's programs end a green
    at a gap and clear the crossings in 5 s intervals of their own; a cycle runs every stage at least
    at its pedestrian minimum (walk + crossing length / speed), 1.4-2.0x the city's shortest cycle
    (BENCHMARKS.md, D session 34). With [scats] keep_actuated_crossings scats leaves such a light on
    its program, naming the stages; keep_actuated (every actuated light) is not needed for it. With
    watch_actuated_crossings (on since C session 36) it is watched instead, kept while those minimums bind."""
    from controller.junctions import parse_intersection
    from tests.junction_fixtures import two_phase_raw

    raw = two_phase_raw()
    raw["actuated"] = actuated
    raw["phases"][0].update(min_green_s=min_green_s)
    if ped_min_green_s:
        raw["phases"][0].update(ped_min_green_s=ped_min_green_s)
    layout = Layout.build(parse_intersection(raw, "j.toml"))
    why = ScatsPolicy(ScatsParams(keep_actuated_crossings=True, watch_actuated_crossings=False)).cannot_serve(layout)
    assert ("stage(s) 0 carry pedestrian minimum greens" in why) is refused, why
    assert ("it keeps its own program" in why) is refused, why
    assert CFG.scats.keep_actuated_crossings and not CFG.scats.keep_actuated  # as shipped
    assert CFG.scats.watch_actuated_crossings  # as shipped: such a light is watched on its program, not refused
    assert ScatsPolicy(CFG.scats).cannot_serve(layout) == ""  # (tests/unit/test_scats_watch_crossings.py)
    assert ScatsPolicy(ScatsParams(keep_actuated_crossings=False)).cannot_serve(layout) == ""  # the key off

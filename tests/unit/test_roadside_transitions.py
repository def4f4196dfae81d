"""`[timing] program_transitions`: a change between two stages that the city's program itself
runs keeps the program's own transition states (docs/import.md, rule 11). A cycle plan equal to
the base program then shows, second by second, the states SUMO shows under `fixed`: on programs
shaped like Bologna pasubio's 230 (a green kept 3 s into the next transition, no all-red where
the model puts one) and 218 (a stage served twice: its second service, 2 s, sits inside the
transition 3 -> 0, where the model's uniform intergreen moved it to stage 2's first service)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from controller.core.safety import stage_intergreen_s
from controller.errors import JunctionError
from controller.junctions import parse_intersection
from controller.model import CyclePlan, CycleWish, Intersection, PhaseCommand
from sim.netprogram import Program, ProgramPhase, aligned_greens_s, stage_plan
from sim.roadside import RoadsideController
from sim.twin import plan_phases
from tests.junction_fixtures import RILSA_3

PASUBIO_230 = (
    (21, "GGGrrrrrrrrrrrrGGG"),
    (3, "yyyrrrrrrrrrrrrGGG"),
    (3, "rrrrrrrrrrrrrrryyy"),
    (2, "rrrrrrrrrrrrrrrrrr"),
    (24, "rrrrrrrGGGGrrrrrrr"),
    (3, "rrrrrrryyyyrrrrrrr"),
    (3, "rrrrrrrrrrrrrrrrrr"),
    (59, "rrrGGGgrrrrGGGgrrr"),
    (3, "rrryyyyrrrryyyyrrr"),
    (4, "GGGrrrrrrrrrrrrrrr"),
)
PASUBIO_218 = (
    (44, "rrrGGGgrrrrGGGGgrGGG"),
    (3, "rrrGGGgrrrryyyyyrGGG"),
    (2, "rrrGGGGrrrrrrrrrrGGG"),
    (3, "rrryyyyrrrrrrrrrrGGG"),
    (7, "rrrrrrrrrrrrrrrrrGGG"),
    (26, "GGgrrrrGGGgrrrrrgGGG"),
    (3, "yyyrrrryyyyrrrrryGGG"),
    (2, "rrrrrrrrrrrrrrrrrGGG"),
)


def _raw(phases: tuple[tuple[int, str], ...], transitions: bool = True) -> dict[str, Any]:
    """The junction file the importer writes for a program (its pieces: stage_plan,
    aligned_greens_s), one movement per link a stage greens, conflicting where no stage greens both."""
    program = Program("J", "0", 0.0, tuple(ProgramPhase(float(d), s) for d, s in phases), "test")
    plan = replace(stage_plan(program), clearance_s=())  # [timing] program_clearances off
    plan = plan if transitions else replace(plan, transitions=())
    greens = aligned_greens_s(plan, plan.yellow_s, plan.all_red_s)
    sets = [frozenset(i for i, c in enumerate(st.state) if c in "Gg") for st in plan.stages]
    links = sorted(set().union(*sets))
    together = {(i, k) for g in sets for i in g for k in g}
    movements = [
        {
            "id": f"m{i}",
            "approach": "N",
            "turn": "through",
            "from_edge": f"e{i}",
            "lanes": [f"e{i}_0"],
            "links": [i],
            "sat_flow_pcu_h": 1800.0,
            "storage_pcu": 10.0,
            "conflicts": [f"m{k}" for k in links if k != i and (i, k) not in together],
        }
        for i in links
    ]
    raw: dict[str, Any] = {
        "id": "J",
        "n_links": len(phases[0][1]),
        "yellow_s": plan.yellow_s,
        "all_red_s": plan.all_red_s,
        "cycle_min_s": 30.0,
        "cycle_max_s": max(150.0, plan.cycle_s),
        "max_red_s": max(150.0, plan.cycle_s),
        "phases": [
            {"state": st.state, "min_green_s": min(7.0, g), "max_green_s": max(60.0, g), "base_green_s": g}
            for st, g in zip(plan.stages, greens)
        ],
        "movements": movements,
        "detectors": [
            {"id": f"d{i}", "lane": f"e{i}_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0} for i in links
        ],
    }
    if plan.transitions:
        raw["transitions"] = [
            {
                "from_phase": a,
                "to_phase": b,
                "states": [p.state for p in run],
                "durations_s": [p.duration_s for p in run],
            }
            for a, b, run in plan.transitions
        ]
    return raw


def _program_seconds(phases: tuple[tuple[int, str], ...], n: int) -> list[str]:
    """The state SUMO shows in each second of the program (from its start), for n seconds."""
    one = [s for d, s in phases for _ in range(d)]
    return [one[t % len(one)] for t in range(n)]


def _city_plan_seconds(j: Intersection, n: int) -> list[str]:
    """The roadside's state in each second under a cycle plan equal to the base program."""
    order = tuple(range(len(j.phases)))
    greens = tuple(p.base_green_s for p in j.phases)
    plan = CyclePlan("J", "city", 1, order, greens, j.base_cycle_s(), 0.0, 0.0, 1e6)
    rc = RoadsideController(j, backup_s=1e6, max_validity_s=1e6)
    assert rc.receive(plan, 0.0) == ""
    out = []
    for t in range(n):
        state = rc.tick(float(t), 0, float(t))
        assert state is not None  # the roadside runs the plan from the first second
        out.append(state)
    return out


@pytest.mark.parametrize("program", [PASUBIO_230, PASUBIO_218], ids=["230", "218"])
def test_the_city_plan_through_the_roadside_shows_the_programs_states(program):
    j = parse_intersection(_raw(program), "J.toml")
    cycle_s = sum(d for d, _ in program)
    assert math.isclose(j.base_cycle_s(), cycle_s)
    assert _city_plan_seconds(j, 3 * cycle_s) == _program_seconds(program, 3 * cycle_s)


@pytest.mark.parametrize("program", [PASUBIO_230, PASUBIO_218], ids=["230", "218"])
def test_without_the_transitions_the_model_runs_other_states(program):
    """What the key changes: the derived intergreens (a uniform yellow, one all-red) are not the
    program's at 230 and 218 (W, session 22), though the base cycle is the program's."""
    j = parse_intersection(_raw(program, transitions=False), "J.toml")
    cycle_s = sum(d for d, _ in program)
    assert not j.transitions and math.isclose(j.base_cycle_s(), cycle_s)
    assert _city_plan_seconds(j, 3 * cycle_s) != _program_seconds(program, 3 * cycle_s)


def test_the_gate_counts_a_transition_at_its_own_length():
    j = parse_intersection(_raw(PASUBIO_218), "J.toml")
    three_to_zero = j.transition(3, 0)
    assert three_to_zero is not None and three_to_zero.states[-1] == "rrrrrrrrrrrrrrrrrGGG"
    assert j.intergreen_s(3, 0) == stage_intergreen_s(j, 3, 0) == 5.0  # the model's uniform one: 3.0
    assert j.transition(0, 3) is None and j.intergreen_s(0, 3) == 3.0  # a change the program never makes
    j230 = parse_intersection(_raw(PASUBIO_230), "J.toml")
    assert [j230.intergreen_s(k, (k + 1) % 4) for k in range(4)] == [8.0, 6.0, 3.0, 0.0]


def test_an_acyclic_change_the_program_makes_runs_its_transition():
    j = parse_intersection(_raw(PASUBIO_218), "J.toml")
    rc = RoadsideController(j, backup_s=1e6, max_validity_s=1e6)
    rc.receive(PhaseCommand("J", "p1", 1, 3, 1.0, 0.0, 1e6), 0.0)
    assert {rc.tick(float(t), 3, float(t)) for t in range(30)} == {j.phases[3].state}
    rc.receive(PhaseCommand("J", "p2", 2, 0, 1.0, 30.0, 1e6), 30.0)
    states = [rc.tick(float(t), None, 0.0) for t in range(30, 36)]
    assert states == ["yyyrrrryyyyrrrrryGGG"] * 3 + ["rrrrrrrrrrrrrrrrrGGG"] * 2 + [j.phases[0].state]


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda t: t.update(states=["GrryyyyrrrrrrrrrrGGG"]), "states[0]"),  # link 0: neither 1's nor 2's
        (lambda t: t.update(states=["rrrGyyyrrrrrrrrrrGGG"]), "states"),  # link 3, stopped, green at the end
        (lambda t: t.update(durations_s=[3.0, 1.0]), "durations_s"),
        (lambda t: t.update(to_phase=1), "to_phase"),
    ],
)
def test_a_transition_the_gate_could_not_trust_is_refused(edit, field):
    raw = _raw(PASUBIO_218)
    tr = next(t for t in raw["transitions"] if (t["from_phase"], t["to_phase"]) == (1, 2))
    assert tr["states"] == ["rrryyyyrrrrrrrrrrGGG"]
    edit(tr)
    with pytest.raises(JunctionError) as exc:
        parse_intersection(raw, "J.toml")
    assert exc.value.field.endswith(field)


def test_a_transition_greening_conflicting_movements_is_refused():
    raw = _raw(PASUBIO_230)
    tr = next(t for t in raw["transitions"] if (t["from_phase"], t["to_phase"]) == (0, 1))
    # 0-2 (stage 0) and 7-10 (stage 1) green together: no stage greens them both
    tr["states"][0] = "GGGrrrrGGGGrrrrrrr"
    tr["states"][1] = "yyyrrrrrrrrrrrryyy"  # 0-2's yellow after that green
    tr["states"][-1] = "rrrrrrrrrrrrrrrrrr"
    with pytest.raises(JunctionError, match="conflicting greens"):
        parse_intersection(raw, "J.toml")


def test_the_twin_runs_the_same_transitions():
    """The twin's SUMO program of a cycle plan (sim/twin.py plan_phases) shows what the roadside shows."""
    j = parse_intersection(_raw(PASUBIO_218), "J.toml")
    wish = CycleWish(tuple(range(len(j.phases))), tuple(p.base_green_s for p in j.phases))
    seconds = [s for s, d in plan_phases(j, wish) for _ in range(round(d))]
    assert seconds == _program_seconds(PASUBIO_218, 90)


@pytest.mark.parametrize(
    "states, durations_s",
    [
        (["rrrrrrrrrrrrrrrrrr"], [0.5]),  # straight from green to red: no yellow at all
        (["yyyrrrrrrrrrrrrGGG", "rrrrrrrrrrrrrrrrrr"], [1.0, 3.0]),  # a yellow shorter than yellow_s
    ],
)
def test_a_transition_stopping_a_link_without_its_yellow_is_refused(states, durations_s):
    """A link the change stops shows yellow for at least the junction's yellow_s after its last
    green (the intergreen every other change runs), else the gate would allow a shorter one."""
    raw = _raw(PASUBIO_230)
    tr = next(t for t in raw["transitions"] if (t["from_phase"], t["to_phase"]) == (0, 1))
    tr.update(states=states, durations_s=durations_s)
    with pytest.raises(JunctionError, match="yellow") as exc:
        parse_intersection(raw, "J.toml")
    assert exc.value.field.endswith("states")


def test_a_link_switched_off_by_the_change_clears_on_off_as_on_yellow():
    """A link the next stage switches off ('o') yields from then on: the transition's states that
    show it off after its green clear it as its yellow would, so the program's transitions stand
    (before 17d64ba, the loader refused E2 -> NS for link 5's missing yellow and the importer
    dropped all three: every change ran the derived 3 s + 7 s). It is still stopped: green up to
    the next stage, or off for less than yellow_s, is refused."""
    j = parse_intersection(_raw(RILSA_3), "J.toml")
    assert [j.intergreen_s(k, (k + 1) % 4) for k in range(4)] == [3.0, 0.0, 10.0, 9.0]
    assert _city_plan_seconds(j, 3 * 87) == _program_seconds(RILSA_3, 3 * 87)
    refused = {
        "link 5 to red with no yellow": (["rrryyrrrrrrr", "rrrrrrrrrrrr"], [3.0, 7.0]),
        "link 5's protected green up to the NS green": (["rrryyGrrrrrr"], [3.0]),
        "link 5 off for 1 s before the NS green": (["rrryyGrrrrrr", "rrryyorrrrrr"], [2.0, 1.0]),
    }
    for why, (states, durations) in refused.items():
        raw = _raw(RILSA_3)
        tr = next(t for t in raw["transitions"] if (t["from_phase"], t["to_phase"]) == (2, 3))
        tr["states"], tr["durations_s"] = states, durations
        with pytest.raises(JunctionError, match="yellow"):
            parse_intersection(raw, "J.toml")
            pytest.fail(why)


def test_the_twin_shows_no_intergreen_where_no_link_stops():
    """Without program transitions, a change that stops no link (the next stage greens every link
    of this one) runs no yellow and no all-red in the twin, as on the roadside."""
    program = ((30, "GGrr"), (20, "GGGG"), (3, "yyyy"), (2, "rrrr"))
    j = parse_intersection(_raw(program, transitions=False), "J.toml")
    assert not j.transitions and len(j.phases) == 2
    stops = [bool(j.phases[a].green_links() - j.phases[b].green_links()) for a, b in ((0, 1), (1, 0))]
    assert stops == [False, True]
    wish = CycleWish((0, 1), (30.0, 20.0))
    states = [s for s, _d in plan_phases(j, wish)]
    first = states.index(j.phases[0].state)
    assert states[first + 1] == j.phases[1].state  # 0 -> 1 stops nothing: straight on
    assert any("y" in s for s in states[first + 2 :])  # 1 -> 0 stops links 2-3: their yellow


# The corpus' rand_short_edges light 8 (netconvert's program): both transitions yellow links 0 and 6,
# green in both stages, which the model keeps green through the change. With them kept, adaptive
# seed 3 at full length tipped the coupled ring 20-26-28-56 into a lock (40.5 -> 228.0 s/veh).
SHORT_EDGES_8 = (
    (30, "GggrrrGG"),
    (3, "yyyrrryy"),
    (1, "rrrrrrrr"),
    (30, "GrrGGGGr"),
    (4, "GrryyyGr"),  # 1 -> 0 edited: links 0 and 6 kept green, as the model keeps them
)


def test_a_transition_stopping_a_link_green_in_both_stages_is_left_to_the_model():
    """The importer keeps a program transition only where it shows green, in every state, each link
    green in both stages: the model serves such a link through the change (the estimator, the
    coupled-road rules, the twin), so a transition stopping it would run what no rule reads."""
    j = parse_intersection(_raw(SHORT_EDGES_8), "J.toml")
    assert j.transition(0, 1) is None  # netconvert's: links 0 and 6 yellow, then red
    assert j.transition(1, 0) is not None and j.transition(1, 0).states == ("GrryyyGr",)
    rc = RoadsideController(j, backup_s=1e6, max_validity_s=1e6)
    rc.receive(PhaseCommand("J", "p1", 1, 1, 1.0, 0.0, 1e6), 0.0)
    states = [rc.tick(float(t), 0, float(t)) for t in range(40)]
    assert "GyyrrrGy" in states and j.phases[1].state in states  # the derived yellow, then stage 1
    assert all(s is not None and s[0] in "Gg" and s[6] in "Gg" for s in states)  # 0 and 6 never stopped


def test_the_loader_refuses_a_transition_stopping_a_link_green_in_both_phases():
    raw = _raw(PASUBIO_218)
    tr = next(t for t in raw["transitions"] if (t["from_phase"], t["to_phase"]) == (1, 2))
    assert tr["states"] == ["rrryyyyrrrrrrrrrrGGG"]  # links 17-19 green in every stage
    tr["states"] = ["rrryyyyrrrrrrrrrryGG"]  # link 17's yellow: the model keeps it green
    with pytest.raises(JunctionError, match="green in both phases") as exc:
        parse_intersection(raw, "J.toml")
    assert exc.value.field.endswith("states")

"""WAUTs part 2 (H, session 65; docs/import.md "Time-of-day programs"): the junction file gives each other
program's base greens in the junction's stages (`programs[].base_greens_s`, `base_offset_s`) where its stages
are the model's in the same cyclic order (the replay follows them: tests/unit/test_harm_program_in_force.py)."""

from __future__ import annotations

import copy

import pytest

from controller.errors import JunctionError
from controller.junctions import parse_intersection
from sim.netprogram import Stage, StagePlan
from sim.netprogram_waut import program_greens
from tests.junction_fixtures import two_phase_raw


def _raw(**night) -> dict:
    raw = copy.deepcopy(two_phase_raw())
    raw["programs"] = [{"id": "night", "yellow_s": 3.0, "all_red_s": 2.0, **night}]
    return raw


def test_the_loader_reads_a_program_s_base_greens_and_names_a_wrong_list():
    j = parse_intersection(_raw(base_greens_s=[20, 40.5], base_offset_s=7.0), "J.toml")
    assert (j.programs[0].greens_s, j.programs[0].offset_s) == ((20.0, 40.5), 7.0)
    assert parse_intersection(_raw(), "J.toml").programs[0].greens_s == ()  # optional: the static program's
    for bad in ([20.0], [20.0, -1.0], [20.0, float("nan")], [True, 3.0], "20"):
        with pytest.raises(JunctionError) as e:
            parse_intersection(_raw(base_greens_s=bad), "J.toml")
        assert e.value.field == "programs[0].base_greens_s" and e.value.path == "J.toml"
    with pytest.raises(JunctionError) as e:
        parse_intersection(_raw(base_greens_s=[20, 40], base_ofset_s=3.0), "J.toml")
    assert e.value.field == "programs[0].base_ofset_s"


def _plan(states: list[str], spans: list[float], first_s: float = 0.0) -> StagePlan:
    stages = tuple(Stage(s, 10.0) for s in states)
    return StagePlan(stages, 3.0, 2.0, sum(spans), frozenset(), frozenset(), frozenset(), tuple(spans), first_s)


def test_a_program_maps_to_the_model_s_stages_in_their_cyclic_order():
    model = _plan(["GGrrrr", "rrGGrr", "rrrrGG"], [30.0, 20.0, 40.0])
    # the same stages started one later: its greens come back in the model's order, the offset where stage 0 starts
    other = _plan(["rrGGrr", "rrrrGG", "GGrrrr"], [25.0, 35.0, 30.0], first_s=4.0)
    greens, offset_s = program_greens(other, 10.0, model, 3.0, 2.0)
    assert greens == (25.0, 20.0, 30.0) and offset_s == pytest.approx((10.0 + 4.0 + 60.0) % 90.0)
    assert "another order" in program_greens(_plan(["GGrrrr", "rrrrGG", "rrGGrr"], [30.0] * 3), 0.0, model, 3, 2)
    assert "do not show" in program_greens(_plan(["GGrrrr", "rrGGGG"], [30.0] * 2), 0.0, model, 3.0, 2.0)

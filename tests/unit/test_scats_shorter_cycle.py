"""scats refuses a fixed-time light whose cycle is shorter than its stages at their minimum greens
(`[scats] keep_shorter_city_cycle`, on since session 62; requirements.shorter_city_cycle_refusal)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load_config
from controller.core.estimation import Layout
from controller.core.params import ScatsParams
from controller.core.policies.requirements import shorter_city_cycle_refusal
from controller.core.policies.scats import ScatsPolicy
from controller.model import Intersection
from tests.unit.test_webster_net import CFG, city

ROOT = Path(__file__).resolve().parents[2]


def with_minimums(j: Intersection, raise_s: float, actuated: bool = False) -> Intersection:
    """`j` with its first stage's minimum green `raise_s` above its base green (a crossing's pedestrian
    minimum above the program's green), the others at most their base greens."""
    phases = tuple(
        replace(p, min_green_s=p.base_green_s + raise_s if k == 0 else min(p.min_green_s, p.base_green_s))
        for k, p in enumerate(j.phases)
    )
    return replace(j, phases=phases, actuated=actuated)


@pytest.fixture
def junction() -> Intersection:
    return replace(city()["J00"], upstream=(), downstream=(), coupled=())


def test_a_light_whose_stages_at_their_minimums_outlast_the_city_cycle_is_refused_named(junction):
    j = with_minimums(junction, 2.0 * junction.base_cycle_s())
    assert j.min_cycle_s() > j.base_cycle_s()
    lay = Layout.build(j, CFG)
    why = ScatsPolicy(replace(ScatsParams(), keep_shorter_city_cycle=True)).cannot_serve(lay)
    assert why == shorter_city_cycle_refusal(lay)
    assert "stage(s) 0 have minimum greens above the program's" in why and "keeps its own program" in why
    assert f"({j.base_cycle_s():.1f} s;" in why
    assert ScatsPolicy(ScatsParams()).cannot_serve(lay) == why  # the default: on
    assert ScatsPolicy(replace(ScatsParams(), keep_shorter_city_cycle=False)).cannot_serve(lay) == ""  # off: served


def test_the_shipped_config_refuses_such_a_light():
    assert load_config(ROOT / "config.toml").scats.keep_shorter_city_cycle is True


def test_a_light_that_can_run_the_city_cycle_or_an_actuated_one_is_not_refused(junction):
    fits = with_minimums(junction, 0.0)
    assert fits.min_cycle_s() <= fits.base_cycle_s()
    assert shorter_city_cycle_refusal(Layout.build(fits, CFG)) == ""
    actuated = with_minimums(junction, 2.0 * junction.base_cycle_s(), actuated=True)
    assert shorter_city_cycle_refusal(Layout.build(actuated, CFG)) == ""

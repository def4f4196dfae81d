"""webster: the city's plan as the prior (controller/core/policies/webster.py, webster_greens'
`city_split` and `blind`, common_cycle_s' `platoon_fit`; issue 9)."""

from __future__ import annotations

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies.webster import city_split_s, common_cycle_s, webster_greens
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw, two_phase, two_phase_as

CFG = Config()


def flows(lay: Layout, by_movement: dict[str, float]) -> np.ndarray:
    return np.array([float(by_movement.get(m.id, 0.0)) for m in lay.junction.movements])


def lagging_left() -> Layout:
    """Four stages 30 / 5 / 30 / 5 s (the lefts' city green is their 5 s minimum), intergreens
    3 / 5 / 3 / 5 s: base cycle 86 s, 70 s of green."""
    return Layout.build(parse_intersection(four_phase_raw(left_base_green_s=5.0), "four.toml"), CFG)


LIGHT = {"N_T": 300.0, "S_T": 300.0, "E_T": 300.0, "W_T": 300.0, "N_L": 30.0, "S_L": 30.0, "E_L": 30.0, "W_L": 30.0}


def test_city_split_scales_the_base_greens_above_the_minimums():
    lay = lagging_left()
    lo = np.array([7.0, 5.0, 7.0, 5.0])
    hi = np.array([60.0, 20.0, 60.0, 20.0])
    assert city_split_s(lay, 70.0, lo, hi).tolist() == pytest.approx([30.0, 5.0, 30.0, 5.0])
    assert city_split_s(lay, 25.0, lo, hi).tolist() == pytest.approx([7.5, 5.0, 7.5, 5.0])


def test_the_city_split_is_kept_while_it_serves_every_movement():
    """300 PCU/h per through lane, 30 per left: each through needs 86 x 300 / 1800 / 0.9 + 3 =
    18.9 s of its stage's 30, each left 4.8 s of its protected 5 s. The city's split serves
    them: it is sent as it is. The old split raised the stages from their minimums and shared
    the 22 s left in the base ratio, so each 5 s left stage got 6.6 s, taken from the throughs."""
    lay = lagging_left()
    q = flows(lay, LIGHT)
    cycle_s, greens = webster_greens(lay, q, 3.0, 0.9, platoon_fit=True, city_split=True)
    assert cycle_s == pytest.approx(86.0)
    assert greens == pytest.approx((30.0, 5.0, 30.0, 5.0))
    _, old = webster_greens(lay, q, 3.0, 0.9, platoon_fit=True)
    assert old[1] > 6.0 and old[0] < 29.0  # the over-served left stage


def test_a_protected_left_is_served_by_its_protected_green_alone():
    """At 50 PCU/h a left needs 86 x 50 / 1600 / 0.9 + 3 = 6.0 s: more than its protected 5 s,
    though its permitted green in the through stage (30 s) would cover it: Webster's split."""
    lay = lagging_left()
    q = flows(lay, {**LIGHT, "N_L": 50.0})
    assert webster_greens(lay, q, 3.0, 0.9, platoon_fit=True, city_split=True) == webster_greens(
        lay, q, 3.0, 0.9, platoon_fit=True
    )


def test_a_short_phase_is_evidence_against_the_city_split():
    """A phase ended its greens with a residual queue (full_cycle): Webster's split, as without
    the prior."""
    lay = lagging_left()
    q = flows(lay, LIGHT)
    with_prior = webster_greens(lay, q, 3.0, 0.9, True, city_split=True)
    assert with_prior == webster_greens(lay, q, 3.0, 0.9, True)
    assert with_prior[1] != pytest.approx((30.0, 5.0, 30.0, 5.0))


def test_demand_beyond_the_city_split_moves_the_green():
    """N_T at 700 PCU/h needs 86 x 700 / 1800 / 0.9 + 3 = 40.2 s, more than the city's 30:
    Webster's split."""
    lay = lagging_left()
    q = flows(lay, {**LIGHT, "N_T": 700.0})
    cycle_s, greens = webster_greens(lay, q, 3.0, 0.9, True, city_split=False)
    assert webster_greens(lay, q, 3.0, 0.9, platoon_fit=True, city_split=True) == (cycle_s, greens)
    assert greens[0] >= 86.0 * 700.0 / 1800.0 / 0.9 + 3.0 - 1e-6


def test_a_blind_movement_keeps_its_city_green():
    """E_T's lane has no working loop (its flow reads 0). N_T's demand moves the split; E_T's
    stage keeps the city's green for it (scaled down with the others where all do not fit),
    not the minimum its unmeasured flow would give."""
    lay = lagging_left()
    q = flows(lay, {"N_T": 700.0})
    blind = np.array([m.id == "E_T" for m in lay.junction.movements])
    _, seen = webster_greens(lay, q, 3.0, 0.9, True, city_split=True)
    _, kept = webster_greens(lay, q, 3.0, 0.9, True, city_split=True, blind=blind)
    assert seen[2] < 13.0
    assert kept[2] > 25.0
    assert sum(kept) == pytest.approx(70.0)
    _, off = webster_greens(lay, q, 3.0, 0.9, True, blind=blind)  # without the prior: not read
    assert off == pytest.approx(seen)


def test_a_divided_cycle_must_serve_a_common_cycles_platoon():
    """two_phase (base cycle 65 s, 7 s minimums, 10 s of intergreens) fed by a signal upstream.
    N_T at 500 PCU/h: its arrivals of one 65 s cycle need 65 x 500 / 1800 / 0.9 + 3 = 23.1 s of
    green, and with E/W's 7 s minimum 30.1 s do not fit a 32.5 s cycle's 22.5 s: the base cycle,
    where fit_capacity (the mean flow over the short cycle) keeps the half. At 100 PCU/h (7.0 s)
    the half stays. Without a signal upstream (random arrivals) the half stays too."""
    lay = Layout.build(two_phase_as("K", upstream=["J"]), CFG)
    q = flows(lay, {"N_T": 500.0})
    assert common_cycle_s(lay, q, 3.0, 0.9, fit_capacity=True) == pytest.approx(32.5)
    assert common_cycle_s(lay, q, 3.0, 0.9, platoon_fit=True) == pytest.approx(65.0)
    light = flows(lay, {"N_T": 100.0})
    assert common_cycle_s(lay, light, 3.0, 0.9, platoon_fit=True) == pytest.approx(32.5)
    isolated = Layout.build(two_phase(), CFG)
    assert common_cycle_s(isolated, flows(isolated, {"N_T": 500.0}), 3.0, 0.9, platoon_fit=True) == pytest.approx(32.5)


def test_a_blind_protected_left_is_floored_by_its_protected_city_green():
    """N_L (protected in its 5 s stage, permitted in the 30 s through stage) has no working loop.
    Its floor is the green it is credited with in the city's split, its protected 5 s, not the
    35 s of every green serving it (which no split can give, so the prior was always refused):
    the city's split is kept."""
    lay = lagging_left()
    q = flows(lay, {**LIGHT, "N_L": 0.0})
    blind = np.array([m.id == "N_L" for m in lay.junction.movements])
    _, greens = webster_greens(lay, q, 3.0, 0.9, platoon_fit=True, city_split=True, blind=blind)
    assert greens == pytest.approx((30.0, 5.0, 30.0, 5.0))


def test_the_city_split_holds_under_hold_short_phases_when_no_phase_is_held():
    """hold_short_phases passes a `held` array every period; none held is no evidence against
    the city's split."""
    lay = lagging_left()
    q = flows(lay, LIGHT)
    held = np.zeros(len(lay.junction.phases), dtype=bool)
    _, greens = webster_greens(lay, q, 3.0, 0.9, False, held, platoon_fit=True, city_split=True)
    assert greens == pytest.approx((30.0, 5.0, 30.0, 5.0))


def test_spare_green_goes_to_the_city_split_first():
    """N/S through at 100 PCU/h need 86 x 100 / 1800 / 0.9 + 3 = 8.3 s, E/W at 450 need 26.9 s,
    each left 4.8 s; the half cycle would not hold them (fit_capacity): the base cycle, 86 s.
    Every need fits the city's plan. Without
    `slack_to_city` the 70 s of green are the needs plus the spare in the city's proportions,
    so stage 0 falls to 18.9 s of its city 30 (a period's low count, and the next period's
    demand meets a short green); with it the spare first raises each stage toward its city
    green: the city's plan."""
    lay = lagging_left()
    q = flows(lay, {**LIGHT, "N_T": 100.0, "S_T": 100.0, "E_T": 450.0, "W_T": 450.0})
    cycle_s, old = webster_greens(lay, q, 3.0, 0.9, fit_capacity=True)
    assert cycle_s == pytest.approx(86.0)
    assert old[0] < 20.0 and old[2] > 37.0
    cycle_s, greens = webster_greens(lay, q, 3.0, 0.9, fit_capacity=True, slack_to_city=True)
    assert cycle_s == pytest.approx(86.0)
    assert greens == pytest.approx((30.0, 5.0, 30.0, 5.0))


def test_a_need_beyond_the_city_split_takes_only_what_it_needs():
    """N_T at 700 PCU/h needs 40.2 s of stage 0 (the city gives 30): it gets it, and the green
    comes from E/W's stage (30 s, which needs 18.9 s), the left stages keeping their city 5 s."""
    lay = lagging_left()
    q = flows(lay, {**LIGHT, "N_T": 700.0})
    cycle_s, greens = webster_greens(lay, q, 3.0, 0.9, slack_to_city=True)
    need_s = 86.0 * 700.0 / 1800.0 / 0.9 + 3.0
    assert cycle_s == pytest.approx(86.0)
    assert greens == pytest.approx((need_s, 5.0, 70.0 - 10.0 - need_s, 5.0))


def test_no_city_prior_after_a_short_phase_nor_in_a_divided_cycle():
    """After a period in which a phase ran short (`full_cycle`), its flow is capped by its own
    green: the split by the needs, as without the key. At 100 PCU/h per through the junction
    double-cycles (43 s): the city runs no plan at that cycle, so no prior either."""
    lay = lagging_left()
    q = flows(lay, {**LIGHT, "N_T": 100.0, "S_T": 100.0, "E_T": 450.0, "W_T": 450.0})
    short = webster_greens(lay, q, 3.0, 0.9, True, fit_capacity=True, slack_to_city=True)
    assert short == webster_greens(lay, q, 3.0, 0.9, True, fit_capacity=True)
    assert short[1][0] < 20.0
    light = flows(lay, {"N_T": 100.0, "S_T": 100.0, "E_T": 100.0, "W_T": 100.0})
    divided = webster_greens(lay, light, 3.0, 0.9, fit_capacity=True, slack_to_city=True)
    assert divided[0] == pytest.approx(43.0)
    assert divided == webster_greens(lay, light, 3.0, 0.9, fit_capacity=True)

"""The gate's cycle check reads each phase's own green bounds and the order's own intergreens from
the GateMemo's CycleForm, kept per (model, phase order): a model whose phases differ in both, gated
in many orders through one memo, against the bounds and intergreens read from the model directly."""

from __future__ import annotations

import random

from controller.core.safety import GateMemo, gate_cycle, max_red_s
from controller.junctions import parse_intersection
from controller.model import CycleWish, Intersection
from tests.junction_fixtures import two_phase_raw

STATES = ("GrGr", "rGrG", "Grrr", "rGrr", "rrGr")  # no conflicting greens; intergreens that differ by pair


def five_phases() -> Intersection:
    raw = two_phase_raw()
    raw["phases"] = [
        {"state": s, "min_green_s": 4.0 + 1.25 * k, "max_green_s": 30.0 + 7.5 * k, "base_green_s": 20.0}
        for k, s in enumerate(STATES)
    ]
    raw["cycle_min_s"], raw["cycle_max_s"], raw["max_red_s"] = 1.0, 10_000.0, 10_000.0
    return parse_intersection(raw, "five_phases.toml")


def test_greens_clipped_to_each_phase_s_bounds_and_the_cycle_of_the_order_s_intergreens():
    j = five_phases()
    rng = random.Random(42)
    memo = GateMemo([j])
    seen_orders, moved = set(), 0
    for _ in range(300):
        order = tuple(rng.sample(range(len(STATES)), len(STATES)))
        greens = tuple(rng.uniform(0.0, 70.0) for _ in order)
        plan = gate_cycle(j, CycleWish(order, greens, 0.0), plan_id="p", seq=1, now_s=0.0, ttl_s=60.0, memo=memo)
        assert plan.command is not None, plan.refused
        want = [min(j.phases[p].max_green_s, max(j.phases[p].min_green_s, g)) for p, g in zip(order, greens)]
        n = len(order)
        intergreens_s = sum(j.intergreen_s(order[i], order[(i + 1) % n]) for i in range(n))
        assert plan.command.greens_s == tuple(round(g, 3) for g in want)
        assert plan.command.cycle_s == round(sum(want) + intergreens_s, 3)
        assert max_red_s(j, order, tuple(want), memo) == max_red_s(j, order, tuple(want))
        seen_orders.add(order)
        moved += want != list(greens)
    assert len(seen_orders) > 50 and moved > 200  # many orders through one memo; greens clipped
    sums = {sum(j.intergreen_s(o[i], o[(i + 1) % len(o)]) for i in range(len(o))) for o in seen_orders}
    assert len(sums) > 1  # the orders' intergreens differ: a form of another order would show

"""The gate's bound on an intergreen in progress covers the junction's longest change: a plan arriving while the
signal is between two greens is judged as if that change still had all of its time to run (safety.first_green_at,
safety_rows.Form.intergreen_start_s). A pair intergreen (`pair_intergreen_s`, [timing] pair_intergreens) makes a
change longer than yellow_s + all_red_s: the bound was the latter, so a plan keeping a movement red past max_red_s
by up to the difference was admitted (R, session 67: 3 s counted where the roadside runs 5)."""

from __future__ import annotations

from controller.core.safety import GateMemo, SignalView, first_green_s, gate_cycle
from controller.core.safety_rows import CycleRows
from controller.junctions import parse_intersection
from controller.model import CycleWish
from tests.unit.test_pair_intergreens import _toml

NOW_S = 1000.0


def _junction(**pairs: float):
    return parse_intersection(_toml(max_red_s=40.0, pair_intergreen_s=pairs), "j.toml")


def test_a_plan_in_an_intergreen_counts_the_longest_change_before_its_first_green():
    j = _junction(**{"0>2": 5.0})
    assert j.intergreen_s(0, 2) == 5.0  # the roadside runs 3 s of yellow, then 2 s of all-red
    view = SignalView(2, True, 0.0, (NOW_S, NOW_S, NOW_S))
    first = first_green_s(j, (2, 0), (30.0, 30.0), view, GateMemo())
    assert first["E_T"] >= 5.0 and first["E_L"] >= 5.0


def test_the_gate_refuses_a_plan_that_keeps_a_movement_red_past_max_red_in_the_longer_change():
    """East red 36 s when the change 0 -> 2 began: 36 + 5 > 40 (max_red_s) before its green; 36 + 3 was admitted."""
    j = _junction(**{"0>2": 5.0})
    view = SignalView(2, True, 0.0, (NOW_S, NOW_S - 36.0, NOW_S - 36.0))
    wish = CycleWish((2, 0), (30.0, 30.0))
    one = gate_cycle(j, wish, plan_id="p", seq=1, now_s=NOW_S, ttl_s=60.0, view=view, memo=GateMemo())
    assert one.command is None and "would wait 41.0 s > max_red_s 40.0" in one.refused
    rows = CycleRows([j]).gate([(j, wish, "p", 1, view)], NOW_S, 60.0, GateMemo())
    assert rows[0].command is None and rows[0].refused == one.refused


def test_without_a_pair_the_bound_is_the_uniform_change_as_before():
    j = _junction()
    view = SignalView(2, True, 0.0, (NOW_S, NOW_S - 36.0, NOW_S - 36.0))
    assert first_green_s(j, (2, 0), (30.0, 30.0), view, GateMemo())["E_T"] == 3.0
    wish = CycleWish((2, 0), (30.0, 30.0))
    one = gate_cycle(j, wish, plan_id="p", seq=1, now_s=NOW_S, ttl_s=60.0, view=view, memo=GateMemo())
    assert one.command is not None
    rows = CycleRows([j]).gate([(j, wish, "p", 1, view)], NOW_S, 60.0, GateMemo())
    assert rows[0].command == one.command

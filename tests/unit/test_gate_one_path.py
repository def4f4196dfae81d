"""The gate's checks of a cycle wish's form have one code path (safety._cycle_form_refusal reads the
model's checks from a GateMemo, the caller's or a new one), so a check cannot be in one path and
missing from the other: each fault of a model is refused with the same reason without a memo, with
a new one and with one kept over calls. And the GateMemo is sized from the models it serves: a core
of more junctions than MEMO_MAX keeps every one's derived data over its passes (issue 12's 5,000
junctions in one process), where a memo of MEMO_MAX entries started again at every pass."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.config import Config
from controller.core import safety
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.safety import GateMemo, SignalView, gate_cycle
from controller.core.step import Core
from controller.model import CyclePlan, CycleWish, Intersection
from tests.junction_fixtures import two_phase

NOW_S = 1000.0
KEPT: dict[str, GateMemo] = {}  # one memo kept over every case's calls
PED_WHY = "phase 1: min_green_s 7 s is below the pedestrian minimum of its crossings (ped_min_green_s 12 s)"


def with_conflict() -> Intersection:
    """two_phase and a phase 2 greening N_T and E_T together (a model the parser refuses)."""
    j = two_phase()
    return replace(j, phases=(*j.phases, replace(j.phases[0], index=2, state="GGrr")))


def with_crossing() -> Intersection:
    """two_phase with phase 1's crossings needing 12 s against its 7 s minimum (the loader refuses it)."""
    j = two_phase()
    return replace(j, phases=(j.phases[0], replace(j.phases[1], ped_min_green_s=12.0)))


def with_unserved() -> Intersection:
    """two_phase with phase 1 greening nothing: E_T and W_T green in no phase."""
    j = two_phase()
    return replace(j, phases=(j.phases[0], replace(j.phases[1], state="rrrr")))


CASES = [
    (two_phase, (0, 1), ""),
    (two_phase, (0,), "movements never served: ['E_T', 'W_T']"),
    (with_unserved, (0, 1), "movements never served: ['E_T', 'W_T']"),
    (with_conflict, (0, 1, 2), "phase 2 greens conflicting movements N_T and E_T"),
    (with_conflict, (2, 0, 1), "phase 2 greens conflicting movements N_T and E_T"),
    (with_conflict, (0, 1), ""),  # the conflicting phase not in the order: the wish is gated
    (with_crossing, (0, 1), PED_WHY),
]


@pytest.mark.parametrize(("model", "order", "why"), CASES)
def test_each_fault_of_a_model_is_refused_alike_with_and_without_a_memo(model, order, why):
    """The same outcome (refusal and reason, or the same plan) without a memo, with a new one and with one
    kept over every case's calls, and the reason named; the view given or not."""
    j = model()
    kept = KEPT.setdefault("memo", GateMemo())
    wish = CycleWish(order, tuple(20.0 for _ in order), 5.0)
    view = SignalView(0, False, 10.0, tuple(NOW_S - 10.0 for _ in j.movements))
    for v in (None, view):
        outs = [
            gate_cycle(j, wish, plan_id="p", seq=2, now_s=NOW_S, ttl_s=20.0, view=v, memo=memo)
            for memo in (None, GateMemo(), kept, kept)
        ]
        assert all(out == outs[0] for out in outs), outs
        assert outs[0].refused == why
        assert (outs[0].command is None) == bool(why)
        if not why:
            assert isinstance(outs[0].command, CyclePlan)


def many(n: int) -> list[Intersection]:
    """n junction models (two_phase under n ids), each its own object."""
    j = two_phase()
    return [replace(j, id=f"J{i}") for i in range(n)]


def test_a_memo_sized_for_more_models_than_memo_max_keeps_each_ones_data_over_passes():
    """5,000 models, each asked for its static data, its cycle's walks and a plan per (phase left, first
    phase or none), twice over: the second pass derives nothing and finds every plan kept. A memo sized
    without them (MEMO_MAX of each) has lost the first models' by the end of the first pass."""
    models = many(5000)
    assert len(models) > GateMemo.MEMO_MAX
    sized, unsized = GateMemo(models), GateMemo()
    first = [sized.static(j) for j in models]
    walks = [sized.walks(j, (0, 1)) for j in models]
    keys = [(cur, first_phase) for cur in (0, 1) for first_phase in (None, 0, 1)]
    for j in models:
        for cur, first_phase in keys:
            sized.keep(cur, first_phase, found_for(j, sized))
    assert all(sized.static(j) is st for j, st in zip(models, first))
    assert all(sized.walks(j, (0, 1)) is w for j, w in zip(models, walks))
    assert all(sized.found(j, cur, first_phase) is not None for j in models for cur, first_phase in keys)
    unsized_first = [unsized.static(j) for j in models]
    assert unsized.static(models[0]) is not unsized_first[0]  # the unsized memo started again


def found_for(j: Intersection, memo: GateMemo) -> safety._Found:
    """A plan of `j` as _feasible keeps it (phase 0 left at 0 s, E_T and W_T due at 100 s)."""
    st = memo.static(j)
    view = SignalView(0, False, 10.0, (0.0, 0.0, 0.0, 0.0))
    deadlines = safety._deadlines(j, view, 0, st)
    return safety._Found.of(j, st, st.red_of[0](view.red_since_s), deadlines, 0, 0.0, [1])


def test_the_memo_bound_counts_the_models_phases():
    """One static and one order per model, n (n + 1) plans for n phases, and MEMO_MAX more of each."""
    memo = GateMemo(many(3))
    assert (memo.statics_max, memo.walks_max, memo.found_max) == (GateMemo.MEMO_MAX + 3,) * 2 + (
        GateMemo.MEMO_MAX + 3 * 6,
    )
    assert (GateMemo().statics_max, GateMemo().found_max) == (GateMemo.MEMO_MAX, GateMemo.MEMO_MAX)


def test_a_core_sizes_its_gate_memo_from_its_junctions():
    cfg = Config()
    models = many(3)
    core = Core({j.id: Layout.build(j, cfg) for j in models}, make_policy("fixed", cfg), cfg)
    assert core.gate_memo.statics_max == GateMemo.MEMO_MAX + 3
    assert core.gate_memo.found_max == GateMemo.MEMO_MAX + 3 * 6

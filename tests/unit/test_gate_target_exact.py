"""The gate's acyclic decision (safety.phase_target) as it was before session 50 is kept here, the
reference its leaner form must equal (E, session 50; issue 12): the same (phase, hold_s, clipped) or
the same refusal, to the bit, on every call.

What changed: phase_target reads a model's checks, green bounds and red movements from one record
per model (GateMemo.lean) and the plans kept for it from a list in that record (_Lean.found), and the
max-red search reads what each phase serves and its green in whole periods from the model's _Static;
the former code reads them from the model and from GateMemo's dict by (id(model), phase, first
phase). The former code runs here with a memo kept over the calls, as the core keeps one, and
without (a search at every call: what the memo must not change).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as hst

from controller.core import safety
from controller.core.safety import (
    DECISION_PERIOD_S,
    LATEST_MARGIN_S,
    PLAN_SEARCH_NODES,
    GateMemo,
    SignalView,
    _accepts,
    _deadlines,
    _finite,
    _most_starved_phase,
    _slack_s,
    _Static,
    _view_mismatch,
    _whole,
    gate_phase,
    phase_target,
)
from controller.junctions import load_intersections, parse_intersection
from controller.model import Intersection, PhaseWish
from tests.junction_fixtures import two_phase, two_phase_raw
from tests.junction_strategies import junctions

# -- the former code (controller/core/safety.py at 20c53dd), its memo of plans a dict of its own ----------------


class FormerMemo:
    """The former GateMemo's statics and plans: the statics from GateMemo (the fields the former code
    reads are derived as they were), the plans in a dict by (id(model), phase left, first phase)."""

    def __init__(self) -> None:
        self.statics = GateMemo()
        self.plans: dict[tuple[int, int, int | None], safety._Found] = {}

    def static(self, j: Intersection) -> _Static:
        return self.statics.static(j)

    def found(self, j: Intersection, cur: int, first: int | None) -> safety._Found | None:
        known = self.plans.get((id(j), cur, first))
        return known if known is not None and known.model is j else None

    def keep(self, cur: int, first: int | None, found: safety._Found) -> None:
        self.plans[(id(found.model), cur, first)] = found


def former_phase_target(
    j: Intersection, wish: PhaseWish, view: SignalView, *, now_s: float, memo: FormerMemo | None = None
) -> tuple[int, float, tuple[str, ...]] | str:
    n = len(j.phases)
    if isinstance(wish.phase, bool) or not isinstance(wish.phase, int) or not 0 <= wish.phase < n:
        return f"phase {wish.phase!r} not in 0..{n - 1}"
    if not _finite(wish.hold_s) or wish.hold_s < 0:
        return f"hold_s {wish.hold_s!r} must be finite and >= 0"
    why = _view_mismatch(j, view)
    if why:
        return why
    memo = memo if memo is not None else FormerMemo()
    st = memo.static(j)
    why = st.conflict[wish.phase] or st.unserved or st.pedestrian
    if why:
        return why
    clipped: list[str] = []
    target = former_green_target(j, wish.phase, view, now_s, memo, st, clipped)
    hold = min(float(wish.hold_s), j.phases[target].max_green_s) if target == wish.phase else 1.0
    return target, hold, tuple(clipped)


def former_green_target(
    j: Intersection, target: int, view: SignalView, now_s: float, memo: FormerMemo, st: _Static, clipped: list[str]
) -> int:
    cur, n = view.phase, len(j.phases)
    if view.in_intergreen:
        if target != cur:
            clipped.append("intergreen in progress: target kept")
        return cur
    elapsed = view.green_elapsed_s
    min_g, max_g = j.phases[cur].min_green_s, j.phases[cur].max_green_s
    if target != cur and elapsed < min_g:
        clipped.append("min green not yet served")
        target = cur
    if target == cur and elapsed >= max_g and n > 1:
        target = _most_starved_phase(j, view, now_s, exclude=cur)
        clipped.append("max green reached")
    if st.red_when[cur]:
        if target == cur:
            ok = former_feasible(j, view, cur, now_s + max(min_g - elapsed, DECISION_PERIOD_S), None, memo, st)
        else:
            ok = former_feasible(j, view, cur, now_s, target, memo, st)
        if not ok and elapsed >= min_g:
            deadlines = _deadlines(j, view, cur, st)
            plan = former_plan(j, deadlines, cur, now_s, None, st)
            urgent = plan[0] if plan else former_edf_candidates(j, deadlines, st)[0]
            if urgent != target:
                clipped.append(f"max red: movement {min(deadlines, key=lambda m: deadlines[m])} served next")
                target = urgent
    return target


def former_edf_candidates(j: Intersection, pending: dict[str, float], st: _Static) -> list[int]:
    first = min(pending, key=lambda m: (pending[m], m))
    cands = []
    for k in st.serving.get(first, ()):
        served = [pending[m] for m in j.served_movements(k) if m in pending]
        cands.append((-len(served), sorted(served), k))
    return [k for *_, k in sorted(cands)]


def former_plan(
    j: Intersection, deadlines: dict[str, float], cur: int, leave_s: float, first: int | None, st: _Static
) -> list[int] | None:
    budget = [PLAN_SEARCH_NODES]
    intergreens = st.intergreen_s

    def intergreen_s(a: int, b: int) -> float:
        return intergreens[a][b]

    def search(pending: dict[str, float], t: float, prev: int, forced: int | None, depth: int) -> list[int] | None:
        if not pending:
            return []
        budget[0] -= 1
        if budget[0] < 0 or depth > len(j.phases) + len(deadlines) or min(pending.values()) < t - 1e-9:
            return None
        for p in [forced] if forced is not None else former_edf_candidates(j, pending, st):
            start = t + intergreen_s(prev, p)
            served = [m for m in j.served_movements(p) if m in pending]
            if (not served and forced is None) or any(start > pending[m] + 1e-9 for m in served):
                continue
            rest = {m: d for m, d in pending.items() if m not in served}
            tail = search(rest, start + _whole(j.phases[p].min_green_s), p, None, depth + 1)
            if tail is not None:
                return [p, *tail]
        return None

    return search(dict(deadlines), leave_s, cur, first, 0)


def former_feasible(
    j: Intersection, view: SignalView, cur: int, leave_s: float, first: int | None, memo: FormerMemo, st: _Static
) -> bool:
    red_since_s = st.red_of[cur](view.red_since_s)
    known = memo.found(j, cur, first)
    if known is not None and known.red_since_s == red_since_s and known.meets(leave_s):
        return True
    deadlines = _deadlines(j, view, cur, st)
    plan = former_plan(j, deadlines, cur, leave_s, first, st)
    if plan is not None:
        memo.keep(cur, first, former_found_of(j, st, red_since_s, deadlines, cur, leave_s, plan))
    return plan is not None


def former_found_of(
    j: Intersection,
    st: _Static,
    red_since_s: object,
    deadlines: dict[str, float],
    cur: int,
    leave_s: float,
    plan: list[int],
) -> safety._Found:
    intergreens = st.intergreen_s
    pending, prev, steps = dict(deadlines), cur, []
    for p in plan:
        served = [m for m in j.served_movements(p) if m in pending]
        serve_by = min((pending[m] + 1e-9 for m in served), default=math.inf)
        steps.append((intergreens[prev][p], serve_by, min(pending.values()), _whole(j.phases[p].min_green_s)))
        pending = {m: d for m, d in pending.items() if m not in served}
        prev = p
    checked = tuple(steps)
    latest_s = _slack_s(checked) - LATEST_MARGIN_S
    kept = latest_s >= leave_s and _accepts(checked, latest_s)
    return safety._Found(j, red_since_s, leave_s, checked, latest_s if kept else -math.inf)


# -- the comparison -----------------------------------------------------------------------------------------------


def same(got: object, want: object) -> bool:
    """Equal, and each float the same bits (repr: 0.0 against -0.0, and a float against an int)."""
    return got == want and repr(got) == repr(want)


def city() -> list[Intersection]:
    root = Path(__file__).resolve().parents[2]
    return list(load_intersections(root / "intersections" / "city").values())


def tight(j: Intersection, max_red_s: float, greens: tuple[float, ...]) -> Intersection:
    """`j` with minimum greens of fractions of a second, unlike phase to phase (max greens kept above
    them), and a maximum red that binds: plans several phases deep, their greens in whole periods."""
    phases = tuple(
        replace(p, min_green_s=g, max_green_s=max(p.max_green_s, g + 10.0), ped_min_green_s=min(p.ped_min_green_s, g))
        for p, g in zip(j.phases, greens)
    )
    return replace(j, id=f"{j.id}_{max_red_s:g}", phases=phases, max_red_s=max_red_s)


def one_red() -> Intersection:
    """Four movements in no conflict: phase 0 leaves W_T alone red, phase 1 greens W_T alone, phase 2
    is N/S; a maximum red of 25 s."""
    raw = two_phase_raw()
    for m in raw["movements"]:
        m["conflicts"] = []
    raw["phases"] = [
        {"state": "GGGr", "min_green_s": 5.5, "max_green_s": 40.0, "base_green_s": 20.0},
        {"state": "rrrG", "min_green_s": 8.0, "max_green_s": 40.0, "base_green_s": 10.0},
        {"state": "GrGr", "min_green_s": 6.25, "max_green_s": 40.0, "base_green_s": 10.0},
    ]
    raw["max_red_s"] = 25.0
    return parse_intersection(raw, "one_red.toml")


def run_signals(models: list[Intersection], rng: Random, ticks: int, memo: GateMemo) -> dict[str, int]:
    """Each model's signal for `ticks` seconds (some ticks a fraction of a second late), as a roadside
    moves it (a phase for some seconds, its intergreen, the next; red times following the greens) with
    now and then a jump (red times drawn anew, an elapsed time past max green); each second a wish
    (mostly the phase shown or another, a few malformed) gated by phase_target with `memo` and by the
    former code with a memo of its own and with none: the outcomes the same. Counts of what the calls
    came to."""
    former = FormerMemo()
    seen = {"refused": 0, "clipped": 0, "kept": 0, "max red": 0, "calls": 0}
    states = []
    for j in models:
        states.append([rng.randrange(len(j.phases)), False, 0.0, [0.0] * len(j.movements)])
    holds = (1.0, 5.0, 0.0, 3, 120.0, 1e9, -1.0, math.nan, math.inf, True, -0.0)
    for t in range(ticks):
        now_s = 1000.0 + t + rng.choice((0.0, 0.0, 0.3, 0.55))  # a tick late by a fraction now and then
        for j, state in zip(models, states):
            cur, inter, elapsed = state[0], state[1], state[2]
            n = len(j.phases)
            if inter:
                state[0], state[1], state[2] = rng.randrange(n), False, 0.0
            elif elapsed >= rng.choice((j.phases[cur].min_green_s, 5.0, 30.0, 200.0)):
                state[1] = True
            else:
                state[2] = elapsed + 1.0
            if rng.random() < 0.03:  # a jump: times drawn anew
                state[3] = [
                    now_s - rng.choice((rng.uniform(0.0, 1.3 * j.max_red_s), float(rng.randint(0, 200))))
                    for _ in j.movements
                ]
                state[2] = rng.choice((0.0, float(rng.randint(0, 200)), rng.uniform(0.0, 90.0)))
            cur, inter = state[0], state[1]
            if not inter:
                for i in memo.static(j).served_at[cur]:
                    state[3][i] = now_s
            view = SignalView(cur, inter, 0.0 if inter else state[2], tuple(state[3]))
            r = rng.random()
            if r < 0.02:
                view = SignalView(rng.choice((-1, n, cur)), inter, view.green_elapsed_s, view.red_since_s[:-1])
            phase = cur if r < 0.6 else rng.randrange(n) if r < 0.97 else rng.choice((-1, n, True, 1.0, None))
            wish = PhaseWish(phase, rng.choice(holds) if rng.random() < 0.1 else rng.choice((1.0, 5.0)))
            got = phase_target(j, wish, view, now_s=now_s, memo=memo)
            want = former_phase_target(j, wish, view, now_s=now_s, memo=former)
            assert same(got, want), (j.id, wish, view, now_s, got, want)
            if t % 7 == 0:
                assert same(former_phase_target(j, wish, view, now_s=now_s), want)
            seen["calls"] += 1
            if isinstance(got, str):
                seen["refused"] += 1
            else:
                seen["clipped"] += bool(got[2])
                seen["kept"] += got[0] == wish.phase
                seen["max red"] += any(c.startswith("max red") for c in got[2])
    return seen


def test_phase_target_on_the_city_over_a_thousand_seconds_is_the_former_code_s():
    """The city's 20 junctions, the two-phase fixture, one whose phase 1 is too short for its
    pedestrians (every wish refused), one with a phase leaving a single movement red, and a city
    junction with minimum greens of fractions of a second and a maximum red of 35 to 90 s, 1,000
    seconds each: every outcome the former code's. The calls meet every rule: refusals, clips,
    wishes kept, and movements at their max red served first."""
    odd = two_phase()
    weak = replace(odd, id="weak", phases=(odd.phases[0], replace(odd.phases[1], ped_min_green_s=99.0)))
    junction = city()[0]
    tights = [tight(junction, r, (7.5, 4.2, 12.7, 6.0)) for r in (35.0, 50.0, 90.0)]
    models = [*city(), odd, weak, one_red(), *tights]
    seen = run_signals(models, Random(50), 1000, GateMemo(models))
    assert seen["calls"] == 26_000
    assert seen["refused"] > 1000 and seen["clipped"] > 2000 and seen["kept"] > 5000 and seen["max red"] > 50, seen


def test_phase_target_with_a_memo_that_starts_again_is_the_former_code_s(monkeypatch):
    """The same with a memo bounded to a few entries (MEMO_MAX 2, sized for no models): its records and
    kept plans are dropped again and again, and nothing changes but the work."""
    monkeypatch.setattr(GateMemo, "MEMO_MAX", 2)
    models = city()[:6]
    memo = GateMemo()
    seen = run_signals(models, Random(7), 300, memo)
    assert seen["calls"] == 1800 and seen["max red"] > 0, seen
    assert len(memo._leans) <= 2


@settings(max_examples=200, deadline=None)
@given(j=junctions(), data=hst.data())
def test_phase_target_on_random_junctions_is_the_former_code_s(j: Intersection, data: hst.DataObject) -> None:
    """Random junction models (tests/junction_strategies.py, feasible or not), a random signal and a
    few seconds of wishes on it: phase_target with a memo kept over them equals the former code."""
    memo, former = GateMemo(), FormerMemo()
    n, m = len(j.phases), len(j.movements)
    cur = data.draw(hst.integers(0, n - 1), label="cur")
    inter = data.draw(hst.booleans(), label="inter")
    seconds = hst.floats(0.0, 1.5 * j.max_red_s, allow_nan=False)
    red_since = [1000.0 - data.draw(seconds, label="red") for _ in range(m)]
    elapsed = data.draw(hst.floats(0.0, 200.0, allow_nan=False), label="elapsed")
    for t in range(data.draw(hst.integers(1, 8), label="ticks")):
        now_s = 1000.0 + t
        for i in memo.static(j).served_at[cur]:
            red_since[i] = now_s if not inter else red_since[i]
        view = SignalView(cur, inter, 0.0 if inter else elapsed + t, tuple(red_since))
        wish = PhaseWish(data.draw(hst.integers(-1, n), label="wish"), data.draw(hst.sampled_from((1.0, 7.0, 0.0))))
        got = phase_target(j, wish, view, now_s=now_s, memo=memo)
        assert same(got, former_phase_target(j, wish, view, now_s=now_s, memo=former))
        assert same(got, former_phase_target(j, wish, view, now_s=now_s))
        out = gate_phase(j, wish, view, plan_id="p", seq=1, now_s=now_s, ttl_s=20.0, memo=memo)
        assert out.refused == (got if isinstance(got, str) else "")


def test_a_record_kept_under_an_id_another_model_held_is_not_read():
    """R, session 50: GateMemo keys its records by id(model), and an id comes back once its model is
    collected (a junction model replaced on a reload). A record whose model is not the one asked about
    must not be read: not its checks (here, `weak`'s refusal for its pedestrians) and not its plans."""
    odd = two_phase()
    weak = replace(odd, id="weak", phases=(odd.phases[0], replace(odd.phases[1], ped_min_green_s=99.0)))
    memo = GateMemo()
    lean = memo.lean(odd)
    lean.found[lean.found_at(0, None)] = safety._Found(odd, (), 1000.0, (), math.inf)
    memo._leans[id(weak)] = lean  # as if `weak` had been given the id of a model collected since
    view = SignalView(0, False, 10.0, (1000.0,) * len(weak.movements))
    wish = PhaseWish(1, 5.0)
    assert memo.found(weak, 0, None) is None
    got = phase_target(weak, wish, view, now_s=1000.0, memo=memo)
    assert isinstance(got, str) and "pedestrian" in got
    assert same(got, former_phase_target(weak, wish, view, now_s=1000.0))


def test_a_one_phase_junction_past_its_max_green_keeps_its_phase_unclipped():
    """R, session 50: with one phase there is no other to hand the green to; the former code says
    nothing of the max green then, and neither may phase_target."""
    raw = two_phase_raw()
    raw["phases"] = [{"state": "GGGG", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0}]
    for m in raw["movements"]:
        m["conflicts"] = []
    j = parse_intersection(raw, "one_phase.toml")
    view = SignalView(0, False, 90.0, (1000.0,) * len(j.movements))
    got = phase_target(j, PhaseWish(0, 5.0), view, now_s=1000.0, memo=GateMemo([j]))
    assert same(got, former_phase_target(j, PhaseWish(0, 5.0), view, now_s=1000.0)) and got == (0, 5.0, ())

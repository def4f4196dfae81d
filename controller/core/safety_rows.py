"""The safety gate's cycle plans of one tick checked together (issue 12, the re-plan tick).

`CycleRows.gate(items, now_s, ttl_s, memo)` gives, per (model, CycleWish, plan id, seq, view) item,
the GateOutcome safety.gate_cycle gives it, to the last bit. It decides only the plans gate_cycle
accepts without fitting the cycle; every other item (a malformed wish or one of another model's
status, a cycle outside its bounds, a movement that would wait past max_red_s in the cycle or before
the plan first serves it, a model without movements) is gated by gate_cycle itself, one by one, and
so refused for gate_cycle's reason. No rule is left out: the arrays compute each of gate_cycle's
checks, in its order and with its float operations, and accept only where every one passes.

Per item, in Python: gate_cycle's form checks (_cycle_form_refusal, _view_mismatch: the reference's
own functions), the cycle's sum and the plan. As arrays, over the items whose model and phase order
have the same form (the same red walks, green bounds, intergreens, max_red_s and cycle bounds: the
copies of one junction model share it): the greens clipped to [min, max], each distinct red walk's
longest red (worst_red), and with a status each movement's first green under the plan and its wait
(first_green_at, _first_wait_refusal), per phase in force and intergreen. Python's min / max as
np.where of the same comparison, its int ceil as np.ceil with +0.0 (no -0.0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controller.core.safety import (
    DECISION_PERIOD_S,
    GateMemo,
    GateOutcome,
    SignalView,
    _cycle_form_refusal,
    _view_mismatch,
    _whole,
    bounded_view,
    gate_cycle,
)
from controller.model import CyclePlan, CycleWish, Intersection

CLIPPED = "greens clipped to [min_green_s, max_green_s]"  # gate_cycle's words
_INT = {int}
_FLOATS = {float, np.float64}  # (np.float64 is a float: gate_cycle's float() of it is its value)


@dataclass(frozen=True)
class Form:
    """What the arrays read of a model and a valid phase order (constants of a group of items)."""

    order: tuple[int, ...]
    walks: tuple[tuple[tuple[float | None, int, bool], ...], ...]  # CycleForm.alike's distinct walks
    intergreens_s: float  # the cycle's intergreens (CycleForm)
    lo: tuple[float, ...]  # per position of order: min_green_s
    hi: tuple[float, ...]  # per position of order: max_green_s
    max_red_s: float
    cycle_min_s: float
    cycle_max_s: float
    served_at: tuple[tuple[int, ...], ...]  # per phase: the positions of the movements it serves
    stage_s: tuple[tuple[float, ...], ...]  # stage_intergreen_s of every pair of phases
    min_green_s: tuple[float, ...]  # per phase
    intergreen_start_s: float  # first_green_at's first time during an intergreen
    movements: int


def _bounded(
    item: tuple[Intersection, CycleWish, str, int, SignalView | None],
) -> tuple[Intersection, CycleWish, str, int, SignalView | None]:
    """An item as gate_cycle reads it: its model's crossings as movements (Intersection.red_bounded)."""
    j, wish, pid, seq, view = item
    if not j.crossings:
        return item
    return j.red_bounded, wish, pid, seq, None if view is None else bounded_view(j, view)


def form_of(j: Intersection, order: tuple[int, ...], memo: GateMemo) -> Form | None:
    """The Form of `j` and `order` (one _cycle_form_refusal accepts), None where the arrays do not
    decide (a movement served in no phase, none at all)."""
    cf = memo.cycle_form(j, order)
    walks = cf.alike[0]
    if not walks or any(w is None for w in walks):
        return None
    st = memo.static(j)
    start_s = st.intergreen_left_s  # first_green_at's bound
    return Form(
        order,
        walks,  # type: ignore[arg-type]
        cf.intergreens_s,
        cf.min_green_s,
        cf.max_green_s,
        j.max_red_s,
        j.cycle_min_s,
        j.cycle_max_s,
        st.served_at,
        st.intergreen_s,
        st.min_green_s,
        start_s,
        len(j.movements),
    )


class CycleRows:
    """The forms of the models gated, per (model object, order), kept while the model is the same
    object (bounded as GateMemo: MEMO_MAX more than the models given, then it starts again)."""

    MIN_ROWS = 8  # fewer items of one form are gated by gate_cycle, one by one (the arrays' overhead)

    def __init__(self, models: Sequence[Intersection] = ()) -> None:
        self._forms: dict[tuple[int, tuple[int, ...]], tuple[Intersection, Form | None]] = {}
        self._same: dict[str, Form] = {}  # repr(form) -> the one Form object of its value (groups by identity)
        self.max = GateMemo.MEMO_MAX + len(models)

    def form(self, j: Intersection, order: tuple[int, ...], memo: GateMemo) -> Form | None:
        """The Form of `j` and `order` (a tuple of ints), None where _cycle_form_refusal refuses the
        order for `j` whatever the greens (out of range, repeated, a conflict, a movement never
        served, a pedestrian minimum) or form_of does not give one."""
        known = self._forms.get((id(j), order))
        if known is not None and known[0] is j:
            return known[1]
        why = _cycle_form_refusal(j, order, tuple(0.0 for _ in order), 0.0, memo)
        out = None if why else form_of(j, order, memo)
        if len(self._forms) >= self.max:
            self._forms.clear()
            self._same.clear()
        if out is not None:  # equal forms (to the bit: repr) share one object
            out = self._same.setdefault(repr(out), out)
        self._forms[(id(j), order)] = (j, out)
        return out

    def gate(
        self,
        items: Sequence[tuple[Intersection, CycleWish, str, int, SignalView | None]],
        now_s: float,
        ttl_s: float,
        memo: GateMemo,
    ) -> list[GateOutcome]:
        """Per item (model, wish, plan_id, seq, view), gate_cycle(model, wish, plan_id=, seq=, now_s=,
        ttl_s=, view=, memo=)'s outcome (a model's crossings bounded as movements: safety.bounded_view)."""
        items = [_bounded(item) for item in items]
        out: list[GateOutcome | None] = [None] * len(items)
        groups: dict[int, tuple[Form, list[int]]] = {}  # id(form) -> (form, its items)
        for r, (j, wish, _pid, _seq, view) in enumerate(items):
            # gate_cycle's form checks: here only ints for the order, floats for the greens and the
            # offset (finite: the offset here, the greens in _group), the order's own checks kept
            # per model and order (form); anything else is gated by gate_cycle below
            order, greens, offset_s = tuple(wish.phase_order), wish.greens_s, wish.offset_s
            if (
                len(greens) != len(order)
                or set(map(type, order)) != _INT
                or not set(map(type, greens)) <= _FLOATS
                or type(offset_s) not in _FLOATS
                or not math.isfinite(offset_s)
                or (view is not None and _view_mismatch(j, view))
            ):
                continue
            form = self.form(j, order, memo)
            if form is None:
                continue
            groups.setdefault(id(form), (form, []))[1].append(r)
        for form, rows in groups.values():
            if len(rows) < self.MIN_ROWS:
                continue
            self._group(form, rows, items, now_s, ttl_s, out)
        return [
            o
            if o is not None
            else gate_cycle(j, w, plan_id=pid, seq=seq, now_s=now_s, ttl_s=ttl_s, view=view, memo=memo)
            for o, (j, w, pid, seq, view) in zip(out, items, strict=True)
        ]

    def _group(
        self,
        form: Form,
        rows: list[int],
        items: Sequence[tuple[Intersection, CycleWish, str, int, SignalView | None]],
        now_s: float,
        ttl_s: float,
        out: list[GateOutcome | None],
    ) -> None:
        """The items `rows` of one form: their outcomes into `out` where gate_cycle would accept them
        without a fit; the others left None."""
        x = np.array([items[r][1].greens_s for r in rows], dtype=float)
        lo, hi = np.array(form.lo), np.array(form.hi)
        g = np.where(x > lo, x, lo)  # max(low, x)
        g = np.where(g < hi, g, hi)  # min(h, .)
        clipped = (g != x).any(axis=1).tolist()
        greens = g.tolist()
        ig = form.intergreens_s
        cycles = [sum(row) + ig for row in greens]
        ok = np.isfinite(x).all(axis=1)  # (gate_cycle refuses a green not finite)
        ok &= np.array([not (c > form.cycle_max_s + 1e-9 or c < form.cycle_min_s - 1e-9) for c in cycles])
        ok &= longest_red_s(form, g) <= form.max_red_s + 1e-9
        seen = [n for n, r in enumerate(rows) if items[r][4] is not None]
        if seen:
            views = [items[rows[n]][4] for n in seen]
            ok[seen] &= ~first_wait_over(form, g[seen], views, now_s)  # type: ignore[arg-type]
        for n in np.flatnonzero(ok).tolist():
            j, wish, plan_id, seq, _view = items[rows[n]]
            cycle = cycles[n]
            plan = CyclePlan(
                junction=j.id,
                plan_id=plan_id,
                seq=seq,
                phase_order=tuple(wish.phase_order),
                greens_s=tuple(round(v, 3) for v in greens[n]),
                cycle_s=round(cycle, 3),
                offset_s=round(wish.offset_s % cycle, 3),
                valid_from_s=now_s,
                expires_s=now_s + ttl_s,
            )
            out[rows[n]] = GateOutcome(plan, clipped=(CLIPPED,) if clipped[n] else ())


def longest_red_s(form: Form, g: np.ndarray) -> np.ndarray:
    """(rows,) worst_red's longest red under the greens `g` (rows, positions of the order): each
    distinct walk's (safety._longest_red_s: its run and max, the same additions in order), the
    largest of them."""
    worst = None
    for walk in form.walks:
        longest = np.zeros(len(g))
        run = np.zeros(len(g))
        for into_s, i, served in walk:
            if into_s is not None:
                run = run + into_s
            if served:
                longest = np.where(run > longest, run, longest)  # max(longest, run)
                run = np.zeros(len(g))
            else:
                run = run + g[:, i]
        worst = longest if worst is None else np.where(longest > worst, longest, worst)
    assert worst is not None
    return worst


def _whole_rows(x: np.ndarray) -> np.ndarray:
    """safety._whole of each element (math.ceil's int has no -0.0: +0.0 makes np.ceil's -0.0 0.0)."""
    return (np.ceil(x / DECISION_PERIOD_S - 1e-9) + 0.0) * DECISION_PERIOD_S


def first_wait_over(form: Form, g: np.ndarray, views: Sequence[SignalView], now_s: float) -> np.ndarray:
    """(rows,) whether _first_wait_refusal would refuse: some movement not green now, first green
    under the plan (first_green_at, the greens `g`) after it has waited past max_red_s."""
    over = np.zeros(len(views), dtype=bool)
    by: dict[tuple[int, bool], list[int]] = {}
    for n, v in enumerate(views):
        by.setdefault((v.phase, v.in_intergreen), []).append(n)
    limit_s = form.max_red_s + 1e-9
    for (cur, inter), at in by.items():
        first = first_green_rows(form, g[at], [views[n] for n in at], cur, inter)
        red = np.array([views[n].red_since_s for n in at], dtype=float)
        hit = np.zeros(len(at), dtype=bool)
        for m, t in first.items():
            if isinstance(t, float):  # a constant: the same for every row
                if t > 0:
                    hit |= (now_s - red[:, m]) + t > limit_s
            else:
                hit |= (t > 0) & ((now_s - red[:, m]) + t > limit_s)
        over[at] = hit
    return over


def first_green_rows(
    form: Form, g: np.ndarray, views: Sequence[SignalView], cur: int, inter: bool
) -> dict[int, float | np.ndarray]:
    """first_green_at for rows of one phase in force `cur` and intergreen `inter`: per movement it
    serves (position in the model's movements), its time (a float where the same for every row)."""
    order, served = form.order, form.served_at
    out: dict[int, float | np.ndarray] = {}
    t: float | np.ndarray
    elapsed: float | np.ndarray
    if inter:
        t, elapsed = form.intergreen_start_s, 0.0
    else:
        t = 0.0
        elapsed = np.array([v.green_elapsed_s for v in views], dtype=float)
        for i in served[cur]:
            out[i] = 0.0
    if cur in order:
        k = order.index(cur)
        for i in served[cur]:
            out.setdefault(i, t)
        mg = form.min_green_s[cur]
        col = g[:, k]
        t = t + (_whole_rows(np.where(mg > col, mg, col)) - elapsed)  # max(greens[k], min_green)
    else:
        k = -1
        left = _whole(form.min_green_s[cur]) - elapsed
        t = t + (np.where(left > 0.0, left, 0.0) if isinstance(left, np.ndarray) else max(0.0, left))
    t = np.where(t < 0.0, 0.0, t) if isinstance(t, np.ndarray) else max(t, 0.0)
    prev = cur
    for step in range(1, len(order) + 1):
        i = (k + step) % len(order)
        p = order[i]
        t = t + form.stage_s[prev][p]
        for m in served[p]:
            out.setdefault(m, t)
        t = t + _whole_rows(g[:, i])
        prev = p
    return out

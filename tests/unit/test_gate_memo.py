"""The safety gate's memo of found max-red plans (safety._feasible) answers what the search
(safety._plan) answers: on random junctions (tests/junction_strategies.py), random deadlines
from tight to loose and leave times moving forward, `_feasible` is `_plan(...) is not None` at
every call, whether the memo answered or the search ran. And the memo does answer (else it
would cost a search and a check)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import safety
from controller.model import Intersection
from tests.junction_strategies import junctions

HITS = {"memo": 0, "calls": 0}


@settings(max_examples=150, deadline=None)
@given(j=junctions(), data=st.data())
def test_feasible_equals_search(j: Intersection, data: st.DataObject) -> None:
    memo = safety.GateMemo()
    cur = data.draw(st.integers(0, len(j.phases) - 1), label="cur")
    static = memo.static(j)
    red = static.red_when[cur]
    if not red:
        return
    slack = st.floats(-5.0 - j.max_red_s, j.max_red_s, allow_nan=False)
    red_since = tuple(float(round(data.draw(slack, label=m.id))) for m in j.movements)
    first = data.draw(st.one_of(st.none(), st.integers(0, len(j.phases) - 1)), label="first")
    leave_s, found_before = 0.0, False
    for _ in range(data.draw(st.integers(1, 12), label="ticks")):
        leave_s += data.draw(st.sampled_from([0.0, 0.5, 1.0, 1.0, 3.0]), label="advance")
        # green movements' red_since follow the clock; the red ones' (the deadlines) stay, or
        # now and then one moves (the same phase again after a round: other deadlines)
        red_since = tuple(leave_s if i not in {k for k, _m in red} else r for i, r in enumerate(red_since))
        if data.draw(st.integers(0, 4), label="moved") == 0:
            i = data.draw(st.sampled_from([k for k, _m in red]), label="which")
            moved = red_since[i] + data.draw(st.sampled_from([-20.0, 1.0, 30.0]), label="by")
            red_since = (*red_since[:i], moved, *red_since[i + 1 :])
        view = safety.SignalView(cur, False, 0.0, red_since)
        searched = _count_searches(safety._feasible, j, view, cur, leave_s, first, memo, static)
        deadlines = safety._deadlines(j, view, cur, static)
        expected = safety._plan(j, deadlines, cur, leave_s, first, static) is not None
        assert searched[0] == expected, (deadlines, cur, leave_s, first)
        if expected and found_before:
            HITS["calls"] += 1
            HITS["memo"] += searched[1] == 0
        found_before = found_before or expected


def _count_searches(call, *args):  # type: ignore[no-untyped-def]
    """(call(*args), how many times it ran _plan)."""
    real, n = safety._plan, [0]

    def counted(*a):  # type: ignore[no-untyped-def]
        n[0] += 1
        return real(*a)

    safety._plan = counted
    try:
        return call(*args), n[0]
    finally:
        safety._plan = real


def test_memo_answers_often() -> None:
    """Once a plan was found, most later calls on the same deadlines that have one are
    answered without a search (run after the property test: same module, file order)."""
    if HITS["calls"] == 0:
        test_feasible_equals_search()
    assert HITS["calls"] > 0 and HITS["memo"] >= 0.5 * HITS["calls"], HITS

"""The gate's kept plans (safety._Found) answer `meets` from `latest_s`, a leave time checked when
the plan was kept, without the search's checks: exact, since the checks are monotone in the leave
time. Random junctions (tests/junction_strategies.py) and deadlines; `meets` against `_accepts`
(the search's checks) near latest_s and far past it; and latest_s set on most plans (else the
shortcut would only add work)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import safety
from controller.model import Intersection
from tests.junction_strategies import junctions


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(j=junctions(), data=st.data())
def test_a_kept_plan_meets_as_its_check(j: Intersection, data: st.DataObject) -> None:
    """_Found.meets (latest_s first) is _accepts (the search's checks) at any later leave
    time, near latest_s and far past it; and latest_s is set on most plans."""
    memo = safety.GateMemo()
    cur = data.draw(st.integers(0, len(j.phases) - 1), label="cur")
    static = memo.static(j)
    if not static.red_when[cur]:
        return
    red_since = tuple(float(data.draw(st.floats(-5.0 - j.max_red_s, j.max_red_s), label="r")) for _ in j.movements)
    view = safety.SignalView(cur, False, 0.0, red_since)
    deadlines = safety._deadlines(j, view, cur, static)
    plan = safety._plan(j, deadlines, cur, 0.0, None, static)
    if plan is None:
        return
    found = safety._Found.of(j, static, static.red_of[cur](red_since), deadlines, cur, 0.0, plan)
    LATEST["plans"] += 1
    LATEST["set"] += found.latest_s >= found.leave_s
    near = [found.latest_s + d for d in (-1e-6, -1e-9, 0.0, 1e-9, 1e-6, 0.5)] if found.latest_s > 0 else []
    for x in [*near, *data.draw(st.lists(st.floats(0.0, 2 * j.max_red_s), max_size=8), label="x")]:
        assert found.meets(x) == safety._accepts(found.steps, x), (x, found)


LATEST = {"plans": 0, "set": 0}


def test_latest_s_is_set_on_most_plans() -> None:
    if LATEST["plans"] == 0:
        test_a_kept_plan_meets_as_its_check()
    assert LATEST["plans"] > 30 and LATEST["set"] > 0.8 * LATEST["plans"], LATEST

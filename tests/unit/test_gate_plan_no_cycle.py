"""The gate's plan search (controller/core/safety.py `_plan`) leaves no garbage in a reference cycle: its
recursive closure is emptied on the way out, so what it built is freed by reference counting. Each call
used to leave one (the closure, its cells and what they held: about 4,000 objects a tick at 2,500 junctions
with roadside statuses), for the garbage collector to find (BENCHMARKS.md, issue 12, T, session 53)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import safety
from controller.model import Intersection
from tests.junction_strategies import junctions


@pytest.fixture(autouse=True)
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    yield
    gc.enable()


CALLS = {"plans": 0, "none": 0}


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(j=junctions(), data=st.data())
def test_a_plan_search_leaves_nothing_for_the_collector(j: Intersection, data: st.DataObject) -> None:
    """Whether it finds a plan or not (the search's early returns, a dead end)."""
    memo = safety.GateMemo()
    cur = data.draw(st.integers(0, len(j.phases) - 1), label="cur")
    static = memo.static(j)
    red_since = tuple(float(data.draw(st.floats(-5.0 - j.max_red_s, j.max_red_s), label="r")) for _ in j.movements)
    deadlines = safety._deadlines(j, safety.SignalView(cur, False, 0.0, red_since), cur, static)
    gc.collect(0)  # the collector is off: what this example made is in the youngest generation, now older
    plan = safety._plan(j, deadlines, cur, 0.0, None, static)
    CALLS["plans" if plan is not None else "none"] += 1
    assert gc.collect(0) == 0  # a cycle the search left is young: found here without walking the whole heap


def test_both_ends_of_the_search_were_seen() -> None:
    if CALLS["plans"] == 0:
        test_a_plan_search_leaves_nothing_for_the_collector()
    assert CALLS["plans"] > 5 and CALLS["none"] > 0, CALLS

"""step._red_since: per movement, when it was last green. With the status green in a phase,
the movements that phase serves (Intersection.served_movements) read now and the others keep
their time; during an intergreen, or without a status, every time is kept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import step
from controller.model import Intersection, SignalStatus
from tests.junction_strategies import junctions


def _status(j: Intersection, phase: int, in_intergreen: bool) -> SignalStatus:
    return SignalStatus(j.id, 100.0, phase, in_intergreen, 3.0, "p", 1, "adaptive")


@settings(max_examples=80, deadline=None)
@given(j=junctions(), data=st.data())
def test_red_since_marks_the_served_movements_green(j: Intersection, data: st.DataObject) -> None:
    served = step._served_positions(j)
    prev = tuple(data.draw(st.floats(0.0, 99.0), label=m.id) for m in j.movements)
    now_s = 100.0
    phase = data.draw(st.integers(0, len(j.phases) - 1), label="phase")
    green = set(j.served_movements(phase))
    got = step._red_since(served, _status(j, phase, False), prev, now_s)
    assert got == tuple(now_s if m.id in green else t for m, t in zip(j.movements, prev))
    assert isinstance(got, tuple) and any(t == now_s for t in got) == bool(green)
    assert step._red_since(served, _status(j, phase, True), prev, now_s) == prev
    assert step._red_since(served, None, prev, now_s) == prev

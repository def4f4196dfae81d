"""step._red_since: per movement, when it was last green. With the status green in a phase,
the movements that phase serves (Intersection.served_movements) read now and the others keep
their time; during an intergreen, or without a status, every time is kept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import step
from controller.core.step import Core
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


def test_a_tick_s_status_moves_the_red_times_of_what_it_shows_green() -> None:
    """Core.step's observe: a status green in phase 0 sets its movements' red times to the tick's
    time; an intergreen status, or none, keeps every time."""
    from controller.config import Config
    from controller.core.estimation import Layout
    from controller.core.policies import make_policy
    from tests.junction_fixtures import two_phase

    cfg, j = Config(), two_phase()
    core = Core({j.id: Layout.build(j, cfg)}, make_policy("webster", cfg), cfg)
    state = core.initial_state(0.0)
    green = {m.id for m in j.movements} & set(j.served_movements(0))
    state, _ = core.step(state, [], [SignalStatus(j.id, 10.0, 0, False, 3.0, "p", 1, "local")], 10.0)
    at_10 = state.junctions[j.id].red_since_s
    assert at_10 == tuple(10.0 if m.id in green else 0.0 for m in j.movements) and 0 < len(green) < len(j.movements)
    state, _ = core.step(state, [], [SignalStatus(j.id, 11.0, 0, True, 0.0, "p", 1, "local")], 11.0)
    assert state.junctions[j.id].red_since_s == at_10  # an intergreen
    state, _ = core.step(state, [], [], 12.0)
    assert state.junctions[j.id].red_since_s == at_10  # no new status: the intergreen's kept

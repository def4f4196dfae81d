"""The gate's memory is its caller's (safety.GateMemo), not the module's: a GateMemo kept over a
run of calls gives every outcome that a fresh one, or none, gives (gate_phase over random
junctions and signal states, gate_cycle, stage_intergreen_s), and the safety module holds no
mutable state after gating."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core import safety
from controller.model import Intersection, PhaseWish
from tests.junction_strategies import junctions, plausible_cycle_wishes, plausible_phase_wishes, views


@settings(max_examples=120, deadline=None)
@given(j=junctions(), data=st.data())
def test_a_kept_memo_gives_the_outcomes_of_none(j: Intersection, data: st.DataObject) -> None:
    kept = safety.GateMemo()
    now_s = 1000.0
    for _ in range(data.draw(st.integers(1, 8), label="calls")):
        now_s += data.draw(st.sampled_from([0.0, 1.0, 1.0, 4.0]), label="advance")
        view = data.draw(views(j, now_s), label="view")
        wish = data.draw(plausible_phase_wishes(j), label="wish")
        cycle = data.draw(plausible_cycle_wishes(j), label="cycle")
        for memo in (None, kept):  # the memo's outcome right after the fresh one's
            phase_out = safety.gate_phase(j, wish, view, plan_id="p", seq=1, now_s=now_s, ttl_s=20.0, memo=memo)
            cycle_out = safety.gate_cycle(j, cycle, plan_id="p", seq=1, now_s=now_s, ttl_s=20.0, view=view, memo=memo)
            if memo is None:
                fresh = (phase_out, cycle_out)
        assert (phase_out, cycle_out) == fresh
    n = len(j.phases)
    for a in range(-1, n):  # -1: an index the model reads from the end, as without a memo
        for b in range(-1, n):
            assert safety.stage_intergreen_s(j, a, b, kept) == safety.stage_intergreen_s(j, a, b)


def test_the_safety_module_keeps_no_state() -> None:
    """No module-level dict, list or set (a memo) in controller/core/safety.py, before or after
    gating (DESIGN: no module-level state)."""
    from tests.junction_fixtures import two_phase

    j = two_phase()
    view = safety.SignalView(0, False, 30.0, tuple(900.0 for _ in j.movements))
    safety.gate_phase(j, PhaseWish(1, 5.0), view, plan_id="p", seq=1, now_s=1000.0, ttl_s=20.0)
    mutable = {k for k, v in vars(safety).items() if isinstance(v, (dict, list, set)) and not k.startswith("__")}
    assert not mutable, mutable

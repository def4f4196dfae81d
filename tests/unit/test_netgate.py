"""netgate: the gate's acyclic decision for a tick's junctions in one pass answers, per junction,
what safety.phase_target answers (the reference), with the pass's memo and with a new one: random
junctions (tests/junction_strategies.py) whose signals hold a phase for a while, switch and run
intergreens, under wishes to hold, to switch and absurd ones; and the pass does answer most holds
itself (else it would only add a call). The memo's kept plans answer from `latest_s` what their
check answers. The core with the pass decides as the core junction by junction."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.config import Config
from controller.core import netgate, safety
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.step import Core
from controller.model import Intersection, PhaseWish
from tests.junction_strategies import junctions
from tests.unit.test_max_pressure_net import _junctions, _same_state, _Signals, _status
from tests.unit.test_netestimate import _snapshot
from tests.unit.test_safety_gate import absurd_phase_wishes, feasible

COUNTS = {"rows": 0, "reference": 0}
_PASS = netgate.phase_targets
FIELDS = ("command", "sent_s", "seq", "plans", "stale", "status", "red_since_s")


class _Signal:
    """One junction's signal as a roadside runs it: the phase the gate answered (after an
    intergreen), now and then another; red_since_s follows (the green movements' is now)."""

    def __init__(self, j: Intersection, data: st.DataObject, now_s: float) -> None:
        self.j, self.phase, self.inter, self.since = j, 0, False, now_s
        self.commanded: int | None = None  # the phase the gate answered last
        slack = st.floats(0.0, j.max_red_s / 2, allow_nan=False)  # most deadlines reachable, some not
        self.red = [now_s - float(round(data.draw(slack, label="red"))) for _ in j.movements]

    def tick(self, data: st.DataObject, now_s: float) -> safety.SignalView:
        if self.inter:
            self.inter, self.since = False, now_s
        elif data.draw(st.integers(0, 19), label="switch") == 0:  # now and then whatever the gate said
            self.phase, self.inter = data.draw(st.integers(0, len(self.j.phases) - 1), label="to"), True
        elif self.commanded is not None and self.commanded != self.phase:
            self.phase, self.inter = self.commanded, True
        if not self.inter:
            green = set(self.j.served_movements(self.phase))
            self.red = [now_s if m.id in green else r for m, r in zip(self.j.movements, self.red)]
        elapsed = 0.0 if self.inter else now_s - self.since
        return safety.SignalView(self.phase, self.inter, elapsed, tuple(self.red))


@settings(
    max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(js=st.lists(junctions(), min_size=1, max_size=3), data=st.data())
def test_the_pass_answers_as_phase_target(js: list[Intersection], data: st.DataObject) -> None:
    memo, reference_memo, now_s = safety.GateMemo(), safety.GateMemo(), 1000.0
    signals = [_Signal(j, data, now_s) for j in js]
    for _ in range(data.draw(st.integers(1, 40), label="ticks")):
        now_s += data.draw(st.sampled_from([1.0, 1.0, 1.0, 0.5, 3.0]), label="advance")
        calls = []
        for j, sig in zip(js, signals):
            view = sig.tick(data, now_s)
            kind = data.draw(st.integers(0, 9), label="wish")
            if kind < 7:  # hold what is shown, as max-pressure mostly wishes
                wish = PhaseWish(view.phase, data.draw(st.sampled_from([1.0, 5.0, 500.0]), label="hold"))
            elif kind < 9:
                wish = PhaseWish(data.draw(st.integers(0, len(j.phases) - 1), label="phase"))
            else:
                wish = data.draw(absurd_phase_wishes(), label="absurd")
            calls.append((j, wish, view))
        got = _counted(calls, now_s, memo)
        for sig, answer in zip(signals, got):
            sig.commanded = None if isinstance(answer, str) else answer[0]
        for (j, wish, view), answer in zip(calls, got, strict=True):
            assert answer == safety.phase_target(j, wish, view, now_s=now_s, memo=reference_memo)
            assert answer == safety.phase_target(j, wish, view, now_s=now_s, memo=safety.GateMemo())
            if not isinstance(answer, str):
                assert type(answer[1]) is type(safety.phase_target(j, wish, view, now_s=now_s)[1])


def _counted(calls: list, now_s: float, memo: safety.GateMemo) -> list[netgate.Target]:  # type: ignore[type-arg]
    """netgate.phase_targets, counting the rows of junctions whose maximum red leaves room for a
    round of minimum greens (feasible: the others search every tick), and those of them it left
    to the reference."""
    real = netgate.phase_target

    def reference(j, *args, **kwargs):  # type: ignore[no-untyped-def]
        COUNTS["reference"] += feasible(j)
        return real(j, *args, **kwargs)

    netgate.phase_target = reference  # type: ignore[assignment]
    try:
        out = _PASS(calls, now_s, memo)
    finally:
        netgate.phase_target = real
    COUNTS["rows"] += sum(feasible(j) for j, _w, _v in calls)
    return out


def test_the_pass_answers_most_rows_itself() -> None:
    """Run after the property test (same module, file order): the pass answers more than half of
    its rows without the reference (measured: see the assertion message when it fails)."""
    if COUNTS["rows"] == 0:
        test_the_pass_answers_as_phase_target()
    assert COUNTS["rows"] > 1000 and COUNTS["reference"] < 0.5 * COUNTS["rows"], COUNTS


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(j=junctions(), data=st.data())
def test_a_kept_plan_meets_as_its_check(j: Intersection, data: st.DataObject) -> None:
    """_Found.meets (latest_s first) is _Found.accepts (the search's checks) at any later leave
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
        assert found.meets(x) == found.accepts(x), (x, found)


LATEST = {"plans": 0, "set": 0}


def test_latest_s_is_set_on_most_plans() -> None:
    if LATEST["plans"] == 0:
        test_a_kept_plan_meets_as_its_check()
    assert LATEST["plans"] > 30 and LATEST["set"] > 0.8 * LATEST["plans"], LATEST


@pytest.mark.parametrize("policy", ["adaptive", "schedule"])
def test_the_core_gates_in_one_pass_as_junction_by_junction(policy: str) -> None:
    """Core.step with the gate's pass and without it (every wish gated in its junction's turn):
    the same commands, refusals, clips, states every tick; the pass took most rows itself."""
    rng = random.Random(23)
    js = _junctions(6)
    cfg = Config()
    layouts = {jid: Layout.build(j, cfg) for jid, j in js.items()}
    one_pass = Core(layouts, make_policy(policy, cfg), cfg)
    alone = Core(layouts, make_policy(policy, cfg), cfg)
    alone.gate_in_one_pass = False
    a, b = one_pass.initial_state(0.0), alone.initial_state(0.0)
    signals = _Signals(rng, js)
    new_plans = rows = 0
    for tick in range(1, 300):
        t = float(tick)
        snaps = [_snapshot(rng, j, t) for j in js.values()]
        shown = signals.tick(t)
        statuses = [s for jid in js if (s := _status(jid, t, shown[jid])) is not None]
        before = COUNTS["rows"]
        netgate.phase_targets = _counted  # type: ignore[assignment]
        try:
            a, ra = one_pass.step(a, snaps, statuses, t)
        finally:
            netgate.phase_targets = _PASS
        rows += COUNTS["rows"] - before
        b, rb = alone.step(b, snaps, statuses, t)
        assert ra == rb, tick
        for jid in js:
            x, y = a.junctions[jid], b.junctions[jid]
            assert [getattr(x, f) for f in FIELDS] == [getattr(y, f) for f in FIELDS], (tick, jid)
            assert x.harm is not None and y.harm is not None
            assert (x.harm.mode, x.harm.since_s, x.harm.switches) == (y.harm.mode, y.harm.since_s, y.harm.switches)
            if policy == "adaptive":
                _same_state(x.policy_state, y.policy_state, one_init=False)
        new_plans += ra.new_plans
    assert new_plans > 50 and rows > 1000, (new_plans, rows)

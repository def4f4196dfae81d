"""sim/timers.py, the benchmarks' clocks round named functions (sim/bench_tick.py, sim/bench_breakdown.py):
each label adds up each clock over its calls, a nested call of the same label counts once, a function the
tree lacks is left out, and unwrap puts every function back as it stood."""

from __future__ import annotations

import sys
import types

import pytest

from sim import timers as timers_mod
from sim.timers import Timers


class _Clock:
    """A clock that moves only when told to: each call's seconds known exactly."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> tuple[types.ModuleType, _Clock]:
    clock = _Clock()
    mod = types.ModuleType("timers_fake")

    def work(s: float, inner: float = 0.0) -> float:
        clock.t += s
        if inner:
            mod.work(inner)  # a nested call of the same label
        return s

    class Base:
        def own(self, s: float) -> float:
            clock.t += s
            return s

    class Kind(Base):
        @staticmethod
        def static(s: float) -> float:
            clock.t += s
            return s

        @classmethod
        def made(cls, s: float) -> type:
            clock.t += s
            return cls

    mod.work, mod.Kind = work, Kind  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "timers_fake", mod)
    return mod, clock


def test_each_label_adds_up_its_calls_and_a_nested_one_counts_once(fake) -> None:
    mod, clock = fake
    t = Timers(cpu=clock, twice=lambda: 2 * clock.t)
    assert t.wrap("timers_fake", "work", "work") and t.wrap("timers_fake:Kind", "static", "static")
    assert t.wrap("timers_fake:Kind", "made", "made")
    assert t.totals == {
        "cpu": dict.fromkeys(("work", "static", "made"), 0.0),
        "twice": dict.fromkeys(("work", "static", "made"), 0.0),
    }
    assert mod.work(1.5) == 1.5 and mod.work(2.0, inner=0.25) == 2.0
    assert mod.Kind.static(4.0) == 4.0 and mod.Kind().static(1.0) == 1.0  # still a staticmethod
    assert mod.Kind.made(0.5) is mod.Kind and mod.Kind().made(0.5) is mod.Kind  # still a classmethod
    assert t.totals["cpu"] == {"work": 3.75, "static": 5.0, "made": 1.0}  # work: 1.5 + (2.0 + 0.25 once)
    assert t.totals["twice"] == {"work": 7.5, "static": 10.0, "made": 2.0}
    assert t.labels() == ["work", "static", "made"]
    assert t.calls == {"work": 2, "static": 2, "made": 2}  # the nested work call not counted
    t.reset()
    assert t.totals["cpu"] == {"work": 0.0, "static": 0.0, "made": 0.0}
    assert t.calls == {"work": 0, "static": 0, "made": 0}


def test_a_label_whose_function_the_run_never_calls_reads_zero_calls(fake) -> None:
    mod, clock = fake
    t = Timers(cpu=clock)
    t.wrap("timers_fake", "work", "work")
    t.wrap("timers_fake:Kind", "static", "static")
    mod.work(0.0)  # no time passes: the seconds cannot tell this call from none
    assert t.totals["cpu"] == {"work": 0.0, "static": 0.0}
    assert t.calls == {"work": 1, "static": 0}


def test_two_functions_under_one_label_count_the_outer_call(fake) -> None:
    mod, clock = fake
    t = Timers(cpu=clock)
    t.wrap("timers_fake", "work", "both")
    t.wrap("timers_fake:Kind", "static", "both")
    mod.work(1.0)
    mod.Kind.static(2.0)
    assert t.totals["cpu"]["both"] == 3.0


def test_what_the_tree_lacks_is_left_out(fake) -> None:
    t = Timers(cpu=fake[1])
    assert not t.wrap("timers_fake", "nothing", "a")
    assert not t.wrap("timers_fake:NoClass", "static", "b")
    assert not t.wrap("no_such_module_here", "f", "c")
    assert t.totals == {"cpu": {}} and t.labels() == []
    assert timers_mod.target("no_such_module_here:X") is None


def test_unwrap_puts_every_function_back_as_it_stood(fake) -> None:
    mod, clock = fake
    work, static, made = mod.work, vars(mod.Kind)["static"], vars(mod.Kind)["made"]
    t = Timers(cpu=clock)
    t.wrap("timers_fake", "work", "work")
    t.wrap("timers_fake:Kind", "static", "static")
    t.wrap("timers_fake:Kind", "made", "made")
    t.wrap("timers_fake:Kind", "own", "own")  # inherited from Base: the wrapper goes, Base's stays
    assert mod.work is not work and "own" in vars(mod.Kind)
    assert mod.Kind().own(1.0) == 1.0 and t.totals["cpu"]["own"] == 1.0
    t.unwrap()
    assert mod.work is work and vars(mod.Kind)["static"] is static and vars(mod.Kind)["made"] is made
    assert "own" not in vars(mod.Kind)
    assert mod.Kind().own(1.0) == 1.0
    mod.work(1.0)
    assert t.totals["cpu"]["work"] == 0.0  # no longer timed


def test_a_timer_needs_a_clock() -> None:
    with pytest.raises(ValueError, match="at least one clock"):
        Timers()

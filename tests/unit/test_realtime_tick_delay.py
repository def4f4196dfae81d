"""run_realtime's [service] tick_delay_s: the tick on second t starts at t + the delay on the
service clock, is still the tick at t, and its feed is validated against the clock's reading;
0 ticks at t, as before."""

from __future__ import annotations

import threading

import pytest

from controller.live import run_realtime


class FakeClock:
    """A clock that jumps to whatever time is waited for (and `lag_s` past it)."""

    def __init__(self, start_s: float, lag_s: float = 0.0) -> None:
        self.t, self.lag_s, self.waits = start_s, lag_s, []

    def now(self) -> float:
        return self.t

    def wait_until(self, t_s: float, stop: threading.Event) -> bool:
        self.waits.append(t_s)
        self.t = max(self.t, t_s + self.lag_s)
        return True


class Node:
    def __init__(self) -> None:
        self.ticks: list[tuple[float, float]] = []

    def tick(self, now_s: float, clock_s: float | None = None) -> None:
        self.ticks.append((now_s, clock_s))


@pytest.mark.parametrize("delay, first", [(0.0, 101.0), (0.25, 101.0), (0.9, 100.0)])
def test_the_tick_on_second_t_starts_at_t_plus_the_delay(delay, first):
    """From 100.4: second 100's tick is past with a delay of 0 or 0.25, still due with 0.9."""
    clock, node = FakeClock(100.4), Node()
    run_realtime(node, clock, threading.Event(), until_s=103.0, tick_delay_s=delay)
    seconds = [first + k for k in range(int(104.0 - first))]
    assert [now for now, _ in node.ticks] == seconds
    assert clock.waits == [t + delay for t in seconds]
    assert [clock_s for _, clock_s in node.ticks] == clock.waits  # the feed is checked against the clock


def test_a_start_inside_the_delay_ticks_on_the_second_just_ended():
    """At 100.1 with a delay of 0.25, second 100's messages are still coming in: its tick is next."""
    clock, node = FakeClock(100.1), Node()
    run_realtime(node, clock, threading.Event(), until_s=101.0, tick_delay_s=0.25)
    assert node.ticks == [(100.0, 100.25), (101.0, 101.25)]


@pytest.mark.parametrize("lag", [2.6, 2.8])
def test_an_overrun_skips_to_the_next_whole_second_with_its_delay(lag):
    """Every tick ends `lag` s late. With 2.8 the clock reads 104.05 after the first: second 104's
    tick starts at 104.25, still ahead, so it is not skipped (the overrun is judged on the clock less
    the delay; read on the clock itself, the run would skip to 105)."""
    clock, node = FakeClock(100.5, lag_s=lag), Node()
    run_realtime(node, clock, threading.Event(), until_s=110.0, tick_delay_s=0.25)
    assert [now for now, _ in node.ticks][:3] == [101.0, 104.0, 107.0]
    assert clock.waits[:3] == [101.25, 104.25, 107.25]

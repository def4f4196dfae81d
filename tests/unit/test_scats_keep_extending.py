"""`scats` leaves a vehicle-actuated program that extends its greens with the demand on its program.

Traced on F's fuzz inputs (SUMO actuated programs, BENCHMARKS.md, C session 35): where the program's
greens run beyond their minimums, it tracks its demand and scats' planned cycle loses to it
(1.11-1.34x); where the program is held at its minimums (the corpus' grid_actuated and grid_nema,
light demand), scats' longer planned greens, ended early by its gap-out, beat it. With `[scats]
keep_extending_actuated` the program is watched for `actuated_watch_s` first and kept if its greens
ran `actuated_extension_s` or more beyond their minimums on average.
"""

from __future__ import annotations

from dataclasses import replace

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScatsParams
from controller.core.policies.scats import ProgramWatch, ScatsPolicy
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw

CFG = Config()
MIN_S = (7, 5, 7, 5)  # the fixture's stages' minimum greens


def view(lay: Layout, phase: int, elapsed: float, now: float) -> SignalView:
    served = set(lay.junction.served_movements(phase))
    return SignalView(
        phase, False, elapsed, tuple(now if m.id in served else now - 20.0 for m in lay.junction.movements)
    )


def plan_times(greens_s: tuple[int, ...], keep: bool, actuated: bool = True) -> list[float]:
    """The program runs `greens_s` (3 s yellows) cycle after cycle for 200 s; when scats sends plans."""
    lay = Layout.build(replace(parse_intersection(four_phase_raw(), "four_phase.toml"), actuated=actuated), CFG)
    p = ScatsPolicy(ScatsParams(keep_extending_actuated=keep, actuated_watch_s=120.0, actuated_extension_s=1.0))
    e = replace(Estimate.empty(lay, 0.0), last_feed_t_s=0.0)
    s, t, sent = p.init(lay, 0.0), 0.0, []
    while t < 200.0:
        for phase, green in enumerate(greens_s):
            for k in range(green):
                s, wish = p.decide(s, lay, e, view(lay, phase, k + 1.0, t), t)
                sent += [t] if wish is not None else []
                t += 1.0
            for _ in range(3):
                red = view(lay, 0, 0.0, t).red_since_s
                s, wish = p.decide(s, lay, e, SignalView((phase + 1) % 4, True, 0.0, red), t)
                sent += [t] if wish is not None else []
                t += 1.0
    return sent


def test_a_program_extending_its_greens_keeps_running():
    assert plan_times((12, 5, 14, 6), keep=True) == []  # 3 s beyond the minimums on average


def test_a_program_held_at_its_minimums_is_taken_over_after_the_watch():
    sent = plan_times(MIN_S, keep=True)
    assert sent and 120.0 <= sent[0] < 150.0


def test_without_the_key_or_on_a_fixed_time_program_scats_takes_over_at_once():
    assert plan_times((12, 5, 14, 6), keep=False)[0] == 0.0
    assert plan_times((12, 5, 14, 6), keep=True, actuated=False)[0] == 0.0


def test_the_watch_counts_each_green_once_and_its_seconds():
    lay = Layout.build(parse_intersection(four_phase_raw(), "four_phase.toml"), CFG)
    w = ProgramWatch(0.0).seen(SignalView(3, True, 0.0, view(lay, 0, 0.0, 0.0).red_since_s), 0.0, 0.0)
    t = 1.0
    for phase, green in ((0, 12), (1, 5), (2, 9)):
        for k in range(green):
            w = w.seen(view(lay, phase, k + 1.0, t), float(MIN_S[phase]), t)
            t += 1.0
        w = w.seen(SignalView(phase, True, 0.0, view(lay, 0, 0.0, t).red_since_s), 0.0, t)
        t += 1.0
    assert (w.greens, w.green_s, w.min_green_s) == (3, 26.0, 19.0)
    assert abs(w.extension_s() - 7.0 / 3.0) < 1e-9


def test_the_watch_counts_only_greens_seen_from_their_start_to_their_end():
    """The program runs every green 1 s beyond its minimum; the watch starts 3 s into a green and
    ends 4 s into one. Counting those parts against their whole minimums read 0.42 s, not 1 s."""
    lay = Layout.build(parse_intersection(four_phase_raw(), "four_phase.toml"), CFG)
    red = view(lay, 0, 0.0, 0.0).red_since_s
    ticks = []  # (phase, in intergreen) per second: 3 cycles of greens min + 1 s, 3 s yellows
    for _ in range(3):
        for phase, min_s in enumerate(MIN_S):
            ticks += [(phase, False)] * (min_s + 1) + [((phase + 1) % 4, True)] * 3
    w = ProgramWatch(0.0)
    for t, (phase, yellow) in enumerate(ticks[5:-5]):  # from 3 s before phase 0's green ends to 4 s into the last one
        w = w.seen(SignalView(phase, yellow, 0.0, red), float(MIN_S[phase]), float(t))
    assert abs(w.extension_s() - 1.0) < 1e-9
    assert w.greens == 10


def test_the_watch_counts_seconds_whatever_the_tick_period():
    """The service may tick every 2 s (or 0.5 s): a green of 12 s is 12 s, not 6 (or 24) ticks. The program
    runs 3 cycles of greens 12, 6, 10 and 8 s (4 s yellows), 5, 1, 3 and 3 s past their minimums; the watch
    reads the 11 greens it saw whole (not the first) 31 s past them, whatever the period."""
    lay = Layout.build(parse_intersection(four_phase_raw(), "four_phase.toml"), CFG)
    greens = (12, 6, 10, 8)
    for period_s in (0.5, 1.0, 2.0):
        w, t = ProgramWatch(0.0), 0.0
        for _ in range(3):
            for phase, green in enumerate(greens):
                for yellow, span_s in ((False, green), (True, 4)):
                    for _ in range(round(span_s / period_s)):
                        red = view(lay, 0, 0.0, t).red_since_s
                        w = w.seen(SignalView(phase, yellow, 0.0, red), float(MIN_S[phase]), t)
                        t += period_s
        assert w.greens == 11, period_s  # the first green is not seen from its start
        assert abs(w.extension_s() - 31.0 / 11.0) < 1e-9, (period_s, w.extension_s())

"""`scats` measures a cycle's greens in seconds, whatever the tick's period.

The service decides once per second (DECISION_PERIOD_S), but the core is handed `now_s` at each tick:
a green of 30 s is 30 s of green and of lane green, not 60 (or 15) ticks. A measurement in ticks at
0.5 s ticks doubled every green the cycle's DS rule needs (`need = g x DS / ds_target`), so the cycle
grew; at 2 s ticks it halved them, and the cycle shrank.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScatsParams
from controller.core.policies.scats import ScatsPolicy, ScatsState
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import CycleWish
from tests.junction_fixtures import four_phase_raw

CFG = Config()
GREENS_S = (30, 8, 30, 8)  # the program the roadside runs, per phase
WASTED_S = (10, 2, 10, 2)  # the last seconds of each green with every stop-line loop empty
YELLOW_S = 4


def run_cycle(period_s: float) -> tuple[ScatsState, ScatsState]:
    """The program runs one cycle, ticks `period_s` apart, from an intergreen before phase 0 to phase
    0's next green; (the state at the last tick before that green, the state after it)."""
    lay = Layout.build(parse_intersection(four_phase_raw(), "four_phase.toml"), CFG)
    p = ScatsPolicy(ScatsParams(cycle_step_s=30.0, split_step_s=10.0, empty_gap_s=1.0, gap_out_s=0.0))
    base = replace(Estimate.empty(lay, 0.0), last_feed_t_s=0.0)
    busy = replace(base, lanes=replace(base.lanes, stop_empty_s=np.zeros(len(lay.lanes))))
    empty = replace(base, lanes=replace(base.lanes, stop_empty_s=np.full(len(lay.lanes), 5.0)))

    def red(t: float) -> tuple[float, ...]:
        return tuple(t - 20.0 for _ in lay.junction.movements)

    s, t = p.init(lay, 0.0), 0.0
    s, _ = p.decide(s, lay, busy, SignalView(0, True, 0.0, red(t)), t)  # the first tick: an intergreen
    for phase, (green_s, wasted_s) in enumerate(zip(GREENS_S, WASTED_S)):
        for i in range(round(green_s / period_s)):
            t += period_s
            elapsed_s = (i + 1) * period_s
            est = empty if elapsed_s > green_s - wasted_s else busy
            s, _ = p.decide(s, lay, est, SignalView(phase, False, elapsed_s, red(t)), t)
        for _ in range(round(YELLOW_S / period_s)):
            t += period_s
            s, _ = p.decide(s, lay, busy, SignalView((phase + 1) % 4, True, 0.0, red(t)), t)
    before = s
    t += period_s
    s, wish = p.decide(s, lay, busy, SignalView(0, False, period_s, red(t)), t)
    assert isinstance(wish, CycleWish)
    return before, s


def test_the_cycle_is_measured_in_seconds_at_any_tick_period():
    """Ticks 0.5, 1 and 2 s apart measure the same greens, lane greens and wasted seconds over the
    cycle, and so nearly the same DS and cycle. Not exactly: the tick that starts the next cycle (phase
    0's first, busy) is still folded into the cycle it ends, one tick of `period_s` seconds, so phase 0's
    lanes read (20 + p) / (30 + p) on the through lane and (26 + p) / (38 + p) on the left's lane (green
    in both phases of its approach). In ticks the cycle planned was 118 s at 0.5 s ticks, 73.8 s at 1 s
    and 58 s at 2 s (the DS rule's need doubled or halved, clipped by `cycle_step_s` from 88 s)."""
    runs = {period_s: run_cycle(period_s) for period_s in (0.5, 1.0, 2.0)}
    for period_s, (before, after) in runs.items():
        assert np.allclose(before.green_given_s, [30.0, 8.0, 30.0, 8.0]), (period_s, before.green_given_s)
        # per approach: the through lane green in its through phase, the left's lane in both phases
        assert np.allclose(before.lane_green_s, [30.0, 38.0] * 4), (period_s, before.lane_green_s)
        assert np.allclose(before.lane_wasted_s, [10.0, 12.0] * 4), (period_s, before.lane_wasted_s)
        p = period_s
        ds = [(20 + p) / (30 + p), (26 + p) / (38 + p), 20 / 30, 26 / 38]
        assert after.ds_mean is not None
        assert np.allclose(after.ds_mean, ds), (period_s, after.ds_mean)
    one = runs[1.0][1].desired_cycle_s
    for period_s in (0.5, 2.0):
        assert abs(runs[period_s][1].desired_cycle_s - one) < 1.5, (period_s, runs[period_s][1].desired_cycle_s, one)


def test_a_gap_in_the_ticks_is_charged_no_further_back_than_the_green_seen_began():
    """A gap of 30 s in the measured ticks (a stale feed: the core does not decide) ending in phase 2's
    green, 5 s on: phase 2 and its lanes are charged 6 s (its 5 s and one decision period), not the 30 s
    of the gap, seconds in which other phases were green. Ticks 1 s apart are charged 1 s as before."""
    lay = Layout.build(parse_intersection(four_phase_raw(), "four_phase.toml"), CFG)
    p = ScatsPolicy(ScatsParams(gap_out_s=0.0))
    base = replace(Estimate.empty(lay, 0.0), last_feed_t_s=0.0)
    red = tuple(0.0 for _ in lay.junction.movements)
    s = p.init(lay, 0.0)
    s, _ = p.decide(s, lay, base, SignalView(0, True, 0.0, red), 0.0)
    for t in range(1, 11):  # phase 0 green, ticks 1 s apart
        s, _ = p.decide(s, lay, base, SignalView(0, False, float(t), red), float(t))
    assert np.allclose(s.green_given_s, [10.0, 0.0, 0.0, 0.0]), s.green_given_s
    lane_before = s.lane_green_s.copy()
    s, _ = p.decide(s, lay, base, SignalView(2, False, 5.0, red), 40.0)  # the gap: 10 s -> 40 s
    assert np.allclose(s.green_given_s, [10.0, 0.0, 6.0, 0.0]), s.green_given_s
    on = lay.lane_green[2] & (lay.lane_stop >= 0)
    assert on.any() and np.allclose(s.lane_green_s - lane_before, on * 6.0)
    s, _ = p.decide(s, lay, base, SignalView(2, False, 6.0, red), 41.0)
    assert np.allclose(s.green_given_s, [10.0, 0.0, 7.0, 0.0]), s.green_given_s

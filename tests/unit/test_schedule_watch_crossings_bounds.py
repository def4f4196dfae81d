"""`[schedule] watch_actuated_crossings`' two bounds (tests/unit/test_schedule_watch_crossings.py has the rule): a
light is taken over once its crossing stages' greens ran, on average, at least their minimums (exactly the minimum
counts), and taken over for good (the program's greens turning short again later never hand it back)."""

from __future__ import annotations

from dataclasses import replace

from controller.core.estimation import Estimate
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy
from controller.core.safety import SignalView
from tests.unit.test_scats_watch_crossings import crossing_layout, view
from tests.unit.test_schedule_watch_crossings import first_wish_s


def test_greens_exactly_at_the_minimum_are_taken_over_one_second_short_are_not():
    """The crossing stages' minimum is 12 s: greens of 12 s ran at least their minimum (taken over at the end of
    the first seen whole), greens of 11 s did not (kept, window after window)."""
    assert first_wish_s(lambda t: 12) is not None
    assert first_wish_s(lambda t: 11) is None


def test_a_light_taken_over_stays_taken_when_the_programs_greens_turn_short_again():
    """The program runs 20 s crossing greens until 60 s (taken over at 51 s), then 7 s ones: the watch, had it still
    judged, would read the last 180 s short from about 250 s on. The policy still decides past 300 s."""
    lay = crossing_layout(True)
    p = SchedulePolicy(ScheduleParams(watch_actuated_crossings=True))
    e = replace(Estimate.empty(lay, 0.0), last_feed_t_s=0.0)
    s, t = p.init(lay, 0.0), 0.0
    wished: list[float] = []
    while t < 400.0:
        for phase in range(4):
            green_s = (20 if t <= 60.0 else 7) if phase in (0, 2) else 5
            for k in range(green_s):
                s, wish = p.decide(s, lay, e, view(lay, phase, k + 1.0, t), t)
                wished += [t] if wish is not None else []
                t += 1.0
            for _ in range(3):
                yellow = SignalView((phase + 1) % 4, True, 0.0, view(lay, 0, 0.0, t).red_since_s)
                s, wish = p.decide(s, lay, e, yellow, t)
                wished += [t] if wish is not None else []
                t += 1.0
    assert wished[0] == 51.0
    assert s.taken and any(w > 300.0 for w in wished)

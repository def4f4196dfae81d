"""`schedule` with `[schedule] watch_actuated_crossings`: a vehicle-actuated light whose stages carry their
crossings' pedestrian minimum greens keeps its program while that minimum binds, as the roadside's status shows
(scats' watch, `tests/unit/test_scats_watch_crossings.py`, for an acyclic policy).

The messy networks' nema_cross (six NEMA lights, crossings with a 15.67 s pedestrian minimum, the program's
greens 5 s): schedule held every green at least 15.67 s and lost 1.04-1.16x the city's delay (BENCHMARKS.md,
T session 63)."""

from __future__ import annotations

from dataclasses import replace

from controller.core.estimation import Estimate
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy
from controller.core.safety import SignalView
from tests.unit.test_scats_watch_crossings import CFG, crossing_layout, view


def first_wish_s(crossing_green_s, watch: bool = True, actuated: bool = True, end_s: float = 600.0) -> float | None:
    """The program runs its crossing stages (0, 2) for `crossing_green_s(t)` s, the others 5 s, 3 s yellows, the
    policy deciding every second; when schedule first wishes a phase (None: never)."""
    lay = crossing_layout(actuated)
    p = SchedulePolicy(ScheduleParams(watch_actuated_crossings=watch))
    assert p.cannot_serve(lay) == ""
    e = replace(Estimate.empty(lay, 0.0), last_feed_t_s=0.0)
    s, t = p.init(lay, 0.0), 0.0
    while t < end_s:
        for phase in range(4):
            green_s = int(crossing_green_s(t)) if phase in (0, 2) else 5
            for k in range(green_s):
                s, wish = p.decide(s, lay, e, view(lay, phase, k + 1.0, t), t)
                if wish is not None:
                    return t
                t += 1.0
            for _ in range(3):
                yellow = SignalView((phase + 1) % 4, True, 0.0, view(lay, 0, 0.0, t).red_since_s)
                s, wish = p.decide(s, lay, e, yellow, t)
                if wish is not None:
                    return t
                t += 1.0
    return None


def test_a_program_running_its_crossing_stages_below_their_minimum_keeps_running():
    assert first_wish_s(lambda t: 7) is None  # 5 s short of the crossings' minimum: window after window


def test_a_program_running_them_past_their_minimum_is_taken_over_at_the_end_of_the_first_seen_whole():
    """The crossing stage green at the start is not seen from its start; stage 2's, 5 + 3 + 20 + 3 s later, is:
    it ends at 51 s, 8 s past its minimum."""
    assert first_wish_s(lambda t: 20) == 51.0


def test_a_program_whose_crossing_stages_lengthen_later_is_taken_over_once_the_window_reads_long():
    """7 s greens (5 s short) until 200 s, then 25 s (13 s past): taken over at the end of the first long green
    after which the greens of the last 180 s ran at least their minimums on average, not at the first long one."""
    sent = first_wish_s(lambda t: 7 if t < 200.0 else 25)
    assert sent is not None and 260.0 <= sent < 360.0


def test_the_greens_older_than_the_window_are_forgotten():
    """Short greens for 400 s, then long ones: judged over the last 180 s only, the light is taken over as soon
    after 400 s as the first window (the same pattern from its start) was."""
    late = first_wish_s(lambda t: 7 if t < 400.0 else 25, end_s=900.0)
    assert late is not None and 400.0 < late < 560.0


def test_without_the_key_or_on_a_fixed_time_program_schedule_acts_at_once():
    assert first_wish_s(lambda t: 7, watch=False) == 0.0
    assert first_wish_s(lambda t: 7, actuated=False) == 0.0


def test_the_watched_light_is_named_at_start_and_the_key_ships_off():
    lay = crossing_layout()
    why = SchedulePolicy(ScheduleParams(watch_actuated_crossings=True)).watches_first(lay)
    assert "stages 0, 2" in why and "[schedule] watch_actuated_crossings" in why
    assert SchedulePolicy(ScheduleParams()).watches_first(lay) == ""
    assert SchedulePolicy(ScheduleParams(watch_actuated_crossings=True)).watches_first(crossing_layout(False)) == ""
    assert not CFG.schedule.watch_actuated_crossings

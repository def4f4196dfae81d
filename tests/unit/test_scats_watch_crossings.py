"""`scats` with `[scats] watch_actuated_crossings`: an actuated light whose stages carry their crossings'
pedestrian minimum greens keeps its program only while that minimum binds, as the roadside's status shows.

SUMO's DRT (15 such lights): the city's programs run those stages 3-9 s shorter than the crossings' minimums,
which a cycle must give every cycle; scats there was 1.37x the plan (D, session 34). F's fkk_in_delay (2 such
lights): the programs run them to 50 s, past their minimums, and scats serving them was 0.64x the plan (lead,
session 35). `keep_actuated_crossings` alone refuses both (BENCHMARKS.md, C session 36)."""

from __future__ import annotations

from dataclasses import replace

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScatsParams
from controller.core.policies.scats import ScatsPolicy
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw

CFG = Config()
PED_MIN_S = 12.0  # stages 0 and 2 green crossings: walk + length / speed


def crossing_layout(actuated: bool = True) -> Layout:
    """four_phase with stages 0 and 2 holding their crossings' pedestrian minimum (PED_MIN_S); vehicle-actuated
    unless `actuated` is False (also tests/unit/test_schedule_watch_crossings.py)."""
    raw = four_phase_raw()
    for k in (0, 2):
        raw["phases"][k].update(min_green_s=PED_MIN_S, ped_min_green_s=PED_MIN_S)
    return Layout.build(replace(parse_intersection(raw, "four_phase.toml"), actuated=actuated), CFG)


def view(lay: Layout, phase: int, elapsed: float, now: float) -> SignalView:
    served = set(lay.junction.served_movements(phase))
    return SignalView(
        phase, False, elapsed, tuple(now if m.id in served else now - 20.0 for m in lay.junction.movements)
    )


def first_plan_s(
    crossing_green_s,
    crossings: bool = True,
    other_green_s: int = 5,
    watch_s: float = 180.0,
    end_s: float = 600.0,
    tick_s: float = 1.0,
    yellow_s: int = 3,
) -> float | None:
    """The program runs its crossing stages (0, 2) for `crossing_green_s(t)` s, the others `other_green_s`,
    `yellow_s` yellows, the policy deciding every `tick_s`; when scats sends its first plan (None: never).
    `crossings`: keep_actuated_crossings."""
    lay = crossing_layout()
    p = ScatsPolicy(
        ScatsParams(keep_actuated_crossings=crossings, watch_actuated_crossings=True, actuated_watch_s=watch_s)
    )
    assert p.cannot_serve(lay) == ""
    e = replace(Estimate.empty(lay, 0.0), last_feed_t_s=0.0)
    s, t = p.init(lay, 0.0), 0.0
    while t < end_s:
        for phase in range(4):
            green_s = int(crossing_green_s(t)) if phase in (0, 2) else other_green_s
            for k in range(round(green_s / tick_s)):
                s, wish = p.decide(s, lay, e, view(lay, phase, (k + 1) * tick_s, t), t)
                if wish is not None:
                    return t
                t += tick_s
            for _ in range(round(yellow_s / tick_s)):
                red = view(lay, 0, 0.0, t).red_since_s
                s, wish = p.decide(s, lay, e, SignalView((phase + 1) % 4, True, 0.0, red), t)
                if wish is not None:
                    return t
                t += tick_s
    return None


def test_a_program_running_its_crossing_stages_below_their_minimum_keeps_running():
    assert first_plan_s(lambda t: 7) is None  # 5 s short of the crossings' minimum: window after window


def test_a_program_running_them_past_their_minimum_is_taken_over_after_the_first_window():
    sent = first_plan_s(lambda t: 20)
    assert sent is not None and 180.0 <= sent < 240.0


def test_a_light_released_in_an_intergreen_is_taken_over_at_the_next_green():
    """The first window ends at 180 s in a yellow (15 s crossing greens, 3 s past their minimum): scats takes
    over at the next green, 2 s later, not a window later: the watch that released the light reads so at every
    later tick until scats' first cycle starts (the test fails with the watch restarted on the release; R,
    session 38)."""
    sent = first_plan_s(lambda t: 15)
    assert sent is not None and 180.0 < sent < 190.0


def test_a_program_whose_crossing_stages_lengthen_later_is_taken_over_then():
    sent = first_plan_s(lambda t: 7 if t < 200.0 else 25)  # the demand grows: the second window reads long
    assert sent is not None and 360.0 <= sent < 430.0


def test_the_watch_reads_seconds_at_any_tick_period():
    """Decided every 2 s (or 0.5 s), the crossing stages' greens of 14 s are 14 s, past their 12 s minimum: taken
    over after the first window; and 10 s greens are short of it: kept. (Counted in ticks, the 14 s greens read 7 s
    at 2 s ticks, short, and the program would keep the light; the 10 s, 20 s at 0.5 s ticks, and it would not.)"""
    for tick_s in (0.5, 1.0, 2.0):
        sent = first_plan_s(lambda t: 14, other_green_s=6, yellow_s=4, tick_s=tick_s)
        assert sent is not None and 180.0 <= sent < 240.0, tick_s
        assert first_plan_s(lambda t: 10, other_green_s=6, yellow_s=4, tick_s=tick_s) is None, tick_s


def test_without_the_watch_the_light_is_refused_at_start():
    lay = crossing_layout()
    params = ScatsParams(keep_actuated_crossings=True, watch_actuated_crossings=False)
    assert "pedestrian" in ScatsPolicy(params).cannot_serve(lay)


def test_only_the_crossing_stages_greens_are_read():
    """The other stages run 20 s past their 5 s minimums; the crossing stages still run 5 s short of theirs."""
    assert first_plan_s(lambda t: 7, other_green_s=25) is None


def test_each_window_is_read_on_its_own():
    """Short greens for 200 s, then 3 s past the minimum: the second window reads long (read together from
    the start, the windows' greens would read short until 702 s)."""
    sent = first_plan_s(lambda t: 7 if t < 200.0 else 15)
    assert sent is not None and 360.0 <= sent < 430.0


def test_a_window_without_a_whole_crossing_green_keeps_the_program():
    """Windows of 15 s never see a 20 s green from its start to its end: no evidence, the program runs on."""
    assert first_plan_s(lambda t: 20, watch_s=15.0) is None


def test_without_keep_actuated_crossings_the_light_is_taken_over_at_once():
    """The watch is keep_actuated_crossings' (as the refusal was): with that key off scats plans from the
    first green it sees, whatever the program does."""
    sent = first_plan_s(lambda t: 7, crossings=False)
    assert sent is not None and sent < 30.0


def test_a_watched_light_is_named_at_start_and_a_plain_light_is_not(caplog):
    """The operator is told which lights scats leaves on their programs to watch them (they are not refused)."""
    import logging

    from controller.service import ControllerService

    lay = crossing_layout()
    policy = ScatsPolicy(ScatsParams())
    assert "stages 0, 2" in policy.watches_first(lay) and "watch_actuated_crossings" in policy.watches_first(lay)
    plain = Layout.build(replace(lay.junction, actuated=False), CFG)
    assert policy.watches_first(plain) == ""
    assert ScatsPolicy(replace(ScatsParams(), watch_actuated_crossings=False)).watches_first(lay) == ""
    junctions = {"A": replace(lay.junction, id="A"), "P": replace(lay.junction, id="P", actuated=False)}
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        svc = ControllerService(junctions, CFG, "scats", publish=lambda cmd, payload: None)
    lines = [r.getMessage() for r in caplog.records if "watches" in r.getMessage()]
    assert len(lines) == 1 and "junction=A" in lines[0] and "policy=scats" in lines[0]
    assert svc.refused == {} and set(svc.core.layouts) == {"A", "P"}

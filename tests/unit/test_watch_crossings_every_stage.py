"""`watch_actuated_crossings` (scats and schedule) judges every stage carrying its crossings' pedestrian minimum,
not the first alone: stage 0 running 2 s past its minimum does not hand over a light whose stage 2 runs 5 s short
of its own (the rule: tests/unit/test_scats_watch_crossings.py, tests/unit/test_schedule_watch_crossings.py)."""

from __future__ import annotations

from itertools import cycle

from tests.unit.test_scats_watch_crossings import PED_MIN_S, first_plan_s
from tests.unit.test_schedule_watch_crossings import first_wish_s


def _stage_0_long_stage_2_short():
    """Greens for the crossing stages in the order the helpers ask (stage 0, then stage 2, cycle after cycle)."""
    greens = cycle([PED_MIN_S + 2.0, PED_MIN_S - 5.0])
    return lambda t: next(greens)


def test_scats_keeps_a_light_whose_other_crossing_stage_runs_short():
    assert first_plan_s(_stage_0_long_stage_2_short()) is None


def test_schedule_keeps_a_light_whose_other_crossing_stage_runs_short():
    assert first_wish_s(_stage_0_long_stage_2_short()) is None


def test_both_take_it_over_when_both_stages_run_long():
    assert first_plan_s(lambda t: PED_MIN_S + 2.0) is not None
    assert first_wish_s(lambda t: PED_MIN_S + 2.0) is not None


def test_scats_counts_only_the_crossing_stages():
    """The other stages (minimum 5 s) running 20 s greens do not make up for crossing stages 5 s short."""
    assert first_plan_s(lambda t: PED_MIN_S - 5.0, other_green_s=20) is None

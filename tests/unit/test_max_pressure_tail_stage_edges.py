"""`[max_pressure] tail_stage`'s "strict subset": a next phase that keeps every green of the phase in force (no stream
stopped first) is no tail stage; nothing clears the box in it (tests/unit/test_max_pressure_tail_stage.py: the rest)."""

from __future__ import annotations

from controller.core.policies.max_pressure import tail_stage
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw


def test_a_next_phase_with_the_same_greens_is_no_tail_stage() -> None:
    raw = four_phase_raw()
    raw["transitions"] = [{"from_phase": 1, "to_phase": 2, "states": ["yyrryyrr"], "durations_s": [3.0]}]
    raw["phases"][1]["state"] = "GgrrGgrr"  # phase 0's greens, all of them
    assert tail_stage(parse_intersection(raw, "same_greens.toml"), 0) is None
    raw["phases"][1]["state"] = "GgrrGrrr"  # S_L stops first: a tail
    assert tail_stage(parse_intersection(raw, "tail.toml"), 0) == 1

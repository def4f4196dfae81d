"""summary.json's `decision_cost` over a sharded run's regions (sim/junction_control.py): the regions'
core seconds and junctions summed, the ticks of the node that ticked most, and the microseconds per
junction per tick over those sums; one node's cost is its own."""

from __future__ import annotations

from sim.junction_control import merged_decision_cost


def _cost(core_s: float, ticks: int, junctions: int) -> dict[str, float | int]:
    return {"core_step_s": core_s, "ticks": ticks, "junctions": junctions, "us_per_junction_tick": -1.0}


def test_two_regions_costs_are_summed_over_the_longest_run() -> None:
    merged = merged_decision_cost([_cost(1.5, 100, 3), _cost(0.5, 99, 2)])
    assert merged == {"core_step_s": 2.0, "ticks": 100, "junctions": 5, "us_per_junction_tick": 4000.0}


def test_one_nodes_cost_is_its_own() -> None:
    one = _cost(1.5, 100, 3)
    assert merged_decision_cost([one]) == one  # its own per-junction figure, not recomputed


def test_no_tick_costs_nothing_per_junction() -> None:
    assert merged_decision_cost([_cost(0.0, 0, 3), _cost(0.0, 0, 2)])["us_per_junction_tick"] == 0.0

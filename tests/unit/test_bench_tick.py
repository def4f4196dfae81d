"""sim/bench_tick.py, the re-plan tick by part (issue 12): it ticks a bench region, times each part it
finds, leaves the wrapped functions as they were, and runs a tree in a child process of its own."""

from __future__ import annotations

import json
from pathlib import Path

import controller.core.step as step
import sim.bench_tick as bench_tick

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_region_is_ticked_and_timed_by_part():
    real = step.Core._decide_network
    run = bench_tick.run_one(60, 2, 3, 5, 1.0, freeze=False)
    assert step.Core._decide_network is real  # unwrapped
    assert run["junctions"] == 30 and len(run["ticks"]) == 5 and len(run["plans"]) == 5
    assert {"tick", "step", "webster", "due", "answers", "gate"} <= set(run["parts"])
    assert all(t["tick"] >= t["step"] >= t["webster"] >= 0.0 for t in run["ticks"])
    assert sum(run["plans"]) > 0  # webster re-plans every 5 s: a fifth of the region each tick
    medians = bench_tick.medians(run)
    assert bench_tick.table({"x": [medians]}).splitlines()[2].startswith("| x | 1 | ")


def test_a_tree_runs_in_a_child_process(tmp_path):
    out = tmp_path / "runs.json"
    argv = ["--size", "20", "--regions", "1", "--warmup", "2", "--ticks", "2", "--rounds", "1"]
    assert bench_tick.main([*argv, "--tree", f"here={ROOT}", "--json", str(out)]) == 0
    runs = json.loads(out.read_text())
    assert list(runs) == ["here"] and runs["here"][0]["junctions"] == 20


def test_statuses_cycle_each_phase_with_an_intergreen_and_the_region_ticks_with_them():
    seen = [bench_tick.status_at("J7", 7, t, 3) for t in range(30)]
    assert {s.phase for s in seen} == {0, 1, 2} and sum(s.in_intergreen for s in seen) == 3
    assert all(s.junction == "J7" and s.t_s == float(t) for t, s in enumerate(seen))
    run = bench_tick.run_one(20, 1, 2, 2, 1.0, freeze=False, statuses=True)
    assert len(run["ticks"]) == 2 and "observe" in run["parts"]


def test_the_heartbeats_table_is_timed_after_each_tick_and_not_in_it():
    import controller.live as live

    real = live.junction_table
    run = bench_tick.run_one(20, 1, 2, 3, 1.0, freeze=False, statuses=True, table=True)
    assert live.junction_table is real  # unwrapped
    assert {"table", "rows"} <= set(run["parts"])
    assert all(t["table"] >= t["rows"] > 0.0 for t in run["ticks"])
    plain = bench_tick.run_one(20, 1, 2, 2, 1.0, freeze=False)
    assert "table" not in plain["parts"] and all(t["rows"] == 0.0 for t in plain["ticks"])

"""Every policy in closed loop on small SUMO networks: it controls, stays safe, and the default
beats fixed-time. A grid with left-turn pockets (4-phase programs with permitted lefts) and a
spider web (a 6-phase centre, 3-phase T-junctions); two policies run at a time."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.scenarios import scenario, spider_net

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("fixed", "max_pressure", "schedule", "scats", "adaptive")


def simulate(cfg: Path, out: Path, policy: str) -> dict:
    cmd = [sys.executable, str(ROOT / "run_controller.py"), "simulate", str(cfg), "--out", str(out),
           "--policy", policy]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def grid_runs(small_grid, tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("policies_grid")
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(POLICIES, pool.map(lambda p: simulate(small_grid, out / p, p), POLICIES)))


@pytest.fixture(scope="module")
def spider_runs(tmp_path_factory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("spider")
    cfg = scenario(work, spider_net(work), end_s=600, period_s=1.0)
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(("fixed", "adaptive"), pool.map(lambda p: simulate(cfg, work / p, p), ("fixed", "adaptive"))))


@pytest.mark.parametrize("policy", [p for p in POLICIES if p != "fixed"])
def test_policy_controls_the_grid_without_refusals(grid_runs, policy):
    s = grid_runs[policy]
    assert s["controller"]["plans_sent"] > 0
    assert s["controller"]["plans_refused_by_roadside"] == 0
    assert s["vehicles"]["arrived"] > 100 and s["vehicles"]["waiting"] == 0
    assert 0 < s["decision_cost"]["us_per_junction_tick"] < 5000


def test_default_beats_fixed_time_on_the_grid(grid_runs):
    assert grid_runs["adaptive"]["delay_s"] < grid_runs["fixed"]["delay_s"]


def test_default_handles_six_and_three_phase_junctions(spider_runs):
    s = spider_runs["adaptive"]
    assert s["controller"]["plans_sent"] > 0 and s["controller"]["plans_refused_by_roadside"] == 0
    assert s["delay_s"] < spider_runs["fixed"]["delay_s"] * 1.1

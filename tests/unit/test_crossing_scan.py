"""sim/crossing_scan.py: a crossing's clearance, the city's program against the junction model (C, session 67)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from controller.config import load_config
from sim.crossing_scan import program_clearance_s, scan_network
from sim.netprogram import ProgramPhase
from tests.netbuild import WALK, cross_net

ROOT = Path(__file__).resolve().parents[2]

# links 0 (north-south), 1 (east-west), 2 (a crossing of the east-west road, green with 0)
PLAN = (
    ProgramPhase(13.0, "GrG"),
    ProgramPhase(5.0, "Grr"),  # the crossing's red part: the vehicles keep their green
    ProgramPhase(3.0, "yrr"),
    ProgramPhase(30.0, "rGr"),
    ProgramPhase(3.0, "ryr"),
)


def test_the_program_keeps_the_red_part_and_the_yellow_before_a_conflicting_green():
    assert program_clearance_s(PLAN, 2, frozenset({1})) == 8.0
    assert program_clearance_s(PLAN, 2, frozenset(), direct=False) == math.inf  # no foe: never
    short = (replace(PLAN[0], min_dur_s=5.0), replace(PLAN[1], min_dur_s=2.0), *PLAN[2:])
    assert program_clearance_s(short, 2, frozenset({1})) == 5.0  # an actuated phase at its minDur


def test_a_foe_started_only_after_another_stage_is_the_plans_order():
    """A left-turn stage (link 3) between the crossing's red part and the conflicting approach: the city keeps 5 + 3
    s to the left stage, 17 s across it (a policy may skip it, as the model does: the clearance is the 8 s)."""
    plan = (
        ProgramPhase(28.0, "GrGr"),
        ProgramPhase(5.0, "Grrr"),
        ProgramPhase(3.0, "yrrr"),
        ProgramPhase(6.0, "rrrG"),
        ProgramPhase(3.0, "rrry"),
        ProgramPhase(28.0, "rGrr"),
        ProgramPhase(3.0, "ryrr"),
    )
    assert program_clearance_s(plan, 2, frozenset({1})) == 8.0
    assert program_clearance_s(plan, 2, frozenset({1}), direct=False) == 17.0
    assert program_clearance_s(plan, 2, frozenset()) == 8.0  # read to the next stage without a foe too


def test_netconverts_crossings_run_shorter_than_the_city_without_the_key(tmp_path):
    """netconvert's incoming layout: the crossing part, then 5 s with the crossings red, then the yellow. Key off a
    policy may go from the crossing part straight to the conflicting approach (the derived yellow); key on the
    transition keeps the program's clearance."""
    net = cross_net(tmp_path, "inc", None, *WALK, "--tls.layout", "incoming")
    cfg = load_config(ROOT / "config.toml")
    off, on = (replace(cfg, timing=replace(cfg.timing, crossing_transitions=v)) for v in (False, True))
    rec = scan_network("inc", net, (off, on))
    rows = rec["rows"]
    assert rec["crossing_lights"] == 1 and len(rows) == 4
    for r in rows:  # 3 s yellow, no all-red: key off 3 s where the city keeps 5 + 3 s
        assert r["imported"] and r["foes"] == 4 and r["yellow_all_red"] == [3.0, 0.0], r
        assert (r["city_s"], r["import_s"], r["off_s"], r["on_s"]) == (8.0, 8.0, 3.0, 8.0), r

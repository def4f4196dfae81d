"""`[timing] cyclist_clearance`, the parts tests/unit/test_cyclist_clearance.py leaves open (R, session 61): the core's
gate puts the extension on the command it sends (Core._gate), only a stop-line loop times a cyclist (an advance loop
counts it 80 m before the box), a frame the service refused times nobody, and after a program transition the
roadside adds only what the plan asks beyond the transition's own all-red."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Layout
from controller.core.feedarrays import DetectorFrame, FrameLayout, counted_by_class
from controller.core.policies import make_policy
from controller.core.step import Core
from controller.errors import ConfigError
from controller.junctions import parse_intersection
from controller.model import VEHICLE_CLASSES, DetectorReading, PhaseCommand, PhaseWish, Snapshot
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_cyclist_clearance import _junction, _view


def _core() -> tuple[Core, str]:
    cfg, j = Config(), _junction()
    return Core({j.id: Layout.build(j, cfg)}, make_policy("adaptive", cfg), cfg), j.id


def test_the_core_s_gate_puts_the_cyclist_s_all_red_on_the_change_it_commands() -> None:
    core, jid = _core()
    lay, now_s = core.layouts[jid], 100.0
    js = core.initial_state(0.0).junctions[jid]
    seen = replace(js, cyclist_seen_s=(99.0, -math.inf, -math.inf, -math.inf))  # N_T's bicycle at 99 s
    view = _view(lay.junction, now_s)
    outcome = core._gate(jid, lay, seen, PhaseWish(1), view, now_s, [])
    assert outcome is not None and isinstance(outcome.command, PhaseCommand)
    assert outcome.command.phase == 1 and outcome.command.all_red_s == 12.0
    plain = core._gate(jid, lay, js, PhaseWish(1), view, now_s, [])
    assert plain is not None and isinstance(plain.command, PhaseCommand) and plain.command.all_red_s == 0.0


def test_an_advance_loop_s_bicycle_is_not_timed() -> None:
    core, jid = _core()
    ids = [d.id for d in core.layouts[jid].junction.detectors]
    state = core.initial_state(0.0)
    readings = tuple(DetectorReading(d, (("bicycle", 1),) if d == "N_adv" else (), 0.0, -1.0) for d in ids)
    state, _ = core.step(state, [Snapshot(jid, 10.0, 1.0, readings)], [], 10.0)
    assert state.junctions[jid].cyclist_seen_s == (-math.inf,) * 4


def test_a_refused_frame_times_nobody() -> None:
    ids = [d.id for d in _junction().detectors]
    grid = np.zeros((len(ids), len(VEHICLE_CLASSES)), dtype=int)
    grid[ids.index("N_stop"), VEHICLE_CLASSES.index("bicycle")] = 1
    frame = DetectorFrame(FrameLayout.build({"J": ids}), 10.0, 1.0, grid, np.zeros(len(ids)), -np.ones(len(ids)))
    assert counted_by_class(frame, np.ones(1, dtype=bool), "J", "bicycle") == ["N_stop"]
    assert counted_by_class(frame, np.zeros(1, dtype=bool), "J", "bicycle") == []


@pytest.mark.parametrize(("asked_s", "red_s"), [(3.0, 3), (10.0, 10), (1.0, 2)])
def test_after_a_program_transition_the_plan_s_all_red_counts_the_transition_s_own(asked_s: float, red_s: int) -> None:
    """The transition ends with 2 s of all-red: a plan asking 3 s gets 1 s more (3 in all), 10 s gets 8 more, and
    1 s none (the transition's 2)."""
    raw = two_phase_raw()
    raw["transitions"] = [{"from_phase": 0, "to_phase": 1, "states": ["yryr", "rrrr"], "durations_s": [3.0, 2.0]}]
    j = parse_intersection(raw, "transition.toml")
    rc = RoadsideController(j, backup_s=1e6, max_validity_s=1e6)
    assert rc.receive(PhaseCommand("J", "p1", 1, 0, 1.0, 0.0, 1e6), 0.0) == ""
    for t in range(20):
        rc.tick(float(t), 0, float(t))
    assert rc.receive(PhaseCommand("J", "p2", 2, 1, 1.0, 20.0, 1e6, all_red_s=asked_s), 20.0) == ""
    states = [rc.tick(float(t), None, 0.0) or "" for t in range(20, 40)]
    assert states[:3] == ["yryr"] * 3
    assert states[3 : 3 + red_s] == ["rrrr"] * red_s
    assert states[3 + red_s] == "rGrG"


@pytest.mark.parametrize("speed", [0.0, -4.0])
def test_a_cyclist_speed_that_is_not_positive_is_refused_naming_the_key(tmp_path, speed: float) -> None:
    """The import divides each path by it (sim/netmovements.py add_cyclist_clear)."""
    path = tmp_path / "c.toml"
    path.write_text(f"[timing]\ncyclist_clearance = true\ncyclist_speed_mps = {speed}\n")
    with pytest.raises(ConfigError, match="cyclist_speed_mps"):
        load_config(path)

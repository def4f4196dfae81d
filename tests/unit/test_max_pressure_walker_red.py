"""A crossing handed to its red part waits no longer than the city's program makes it wait
(controller/core/policies/walker_red.py): where max_pressure may hand a crossing stage to its red part (the walker
tail, [timing] crossing_transitions), a crossing whose red plus the intergreen to a stage greening it reaches its
longest red in the program is served next, past the minimum green of the stage in force, by decide and by the
network pass alike; and a crossing stage is handed to its red part only once it has given the walk the program
gives (its base green). netconvert's `--tls.layout incoming` with crossings: four approaches, each a crossing part
then its red part (5 s), 3 s yellow; each crossing red 31 s a cycle (5 + 3 + 15 + 5 + 3: ped13 and ped15 green in
phases 0 and 4, ped12 and ped14 in phases 2 and 6). Before the rule the policy stayed in the red part (no pressure
anywhere), however long the crossings had been red."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy
from controller.core.policies.max_pressure_net import NetPressure
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import Intersection
from sim.netimport import import_network
from tests.netbuild import WALK, cross_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")
ON = replace(CFG, timing=replace(CFG.timing, ped_min_from_program=False, crossing_transitions=True))
NOW = 1000.0


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("incoming")
    import_network(cross_net(d, "inc", None, *WALK, "--tls.layout", "incoming"), d / "out", ON)
    (path,) = (d / "out").glob("*.toml")
    return tomllib.loads(path.read_text())


def _wishes(j: Intersection, phase: int, elapsed_s: float, red_s: dict[str, float]) -> tuple[int, int]:
    """decide's wish and the network pass's, no queue anywhere, `phase` green `elapsed_s`, each crossing red
    `red_s` (0: green) and every vehicle movement green now."""
    p = MaxPressureParams()
    lay = Layout.build(j, Config(max_pressure=p))
    policy = MaxPressurePolicy(p)
    crossing = tuple(NOW - red_s[c.id] for c in j.crossings)
    view = SignalView(phase, False, elapsed_s, tuple(NOW for _ in j.movements), crossing)
    est = Estimate.empty(lay, NOW)
    _, alone = policy.decide(policy.init(lay, 0.0), lay, est, view, NOW)
    net = NetPressure.build(policy, {j.id: lay})
    assert net is not None
    ((_, together),) = net.decide_all([policy.init(lay, 0.0)], [est], [view], NOW)
    assert alone is not None and together is not None
    return alone.phase, together.phase


def test_the_program_red_of_each_crossing_is_read(table):
    j = parse_intersection(table, "inc.toml")
    p = MaxPressureParams()
    st = MaxPressurePolicy(p).init(Layout.build(j, Config(max_pressure=p)), 0.0).statics
    assert st.walker_tails == (1, -1, 3, -1, 5, -1, 7, -1)
    assert st.walker_plan_s is not None and st.walker_phases is not None
    assert [c.id for c in j.crossings] == ["ped12", "ped13", "ped14", "ped15"]
    assert st.walker_plan_s.tolist() == [31.0] * 4
    assert np.flatnonzero(st.walker_phases[:, 1]).tolist() == [0, 4]


def test_a_crossing_red_for_its_program_red_takes_the_red_part_back_to_its_stage(table):
    j = parse_intersection(table, "inc.toml")
    # in phase 0's red part (its walker tail): ped13 / ped15 red 31 s, the change back starts no vehicle (0 s)
    red = {"ped12": 10.0, "ped13": 31.0, "ped14": 10.0, "ped15": 31.0}
    assert _wishes(j, 1, 26.0, red) == (0, 0)  # before: 1 (no pressure anywhere, the red part kept)
    red |= {"ped13": 30.0, "ped15": 30.0}
    assert _wishes(j, 1, 25.0, red) == (1, 1)


def test_the_other_approachs_crossing_is_due_with_the_change_to_its_stage(table):
    j = parse_intersection(table, "inc.toml")
    # in phase 0's red part: ped12 / ped14 red 28 s, the 3 s yellow to phase 2 still to run: 31
    red = {"ped12": 28.0, "ped13": 6.0, "ped14": 28.0, "ped15": 6.0}
    assert _wishes(j, 1, 6.0, red) == (2, 2)
    red |= {"ped12": 27.0, "ped14": 27.0}
    assert _wishes(j, 1, 6.0, red) == (1, 1)


def test_nothing_is_due_before_the_minimum_green(table):
    j = parse_intersection(table, "inc.toml")
    red = {"ped12": 40.0, "ped13": 0.0, "ped14": 40.0, "ped15": 0.0}
    assert _wishes(j, 0, 3.0, red) == (0, 0)  # phase 0's minimum is 7 s
    assert _wishes(j, 0, 7.0, red) == (2, 2)


def test_no_rule_without_a_walker_tail(table):
    """Without the transitions that keep the clearance (the key off) no stage has a walker tail: the crossing's
    green follows its vehicles' and nothing changes."""
    bare = {k: v for k, v in table.items() if k not in ("transitions", "crossing_links")}
    j = parse_intersection(bare, "inc.toml")
    p = MaxPressureParams()
    st = MaxPressurePolicy(p).init(Layout.build(j, Config(max_pressure=p)), 0.0).statics
    assert st.walker_plan_s is None and st.walker_phases is None
    red = {"ped12": 80.0, "ped13": 80.0, "ped14": 80.0, "ped15": 80.0}
    assert _wishes(j, 1, 26.0, red) == (1, 1)


def test_the_tail_waits_for_the_walk_the_program_gives(table):
    """Phase 0 (ped13 / ped15 green) holds its crossings green the program's 13 s before its tail, past its 7 s
    minimum (before: the tail at the minimum)."""
    j = parse_intersection(table, "inc.toml")
    assert [ph.base_green_s for ph in j.phases][:2] == [13.0, 5.0] and j.phases[0].min_green_s == 7.0
    red = {"ped12": 10.0, "ped13": 0.0, "ped14": 10.0, "ped15": 0.0}
    assert _wishes(j, 0, 8.0, red) == (0, 0)  # before: 1
    assert _wishes(j, 0, 13.0, red) == (1, 1)

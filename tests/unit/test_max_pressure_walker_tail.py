"""max_pressure's walker tail (walker_tail, Statics.walker_tails): a crossing stage whose every change to another
approach keeps the crossing's clearance with the vehicles still green (the importer's transitions with [timing]
crossing_transitions, docs/import.md rule 7) is handed over to its tail stage (the program's crossing-red part) once
its minimum green has run and no other phase's pressure is higher, so the clearance runs while its vehicles are
served. netconvert's
`--tls.layout incoming` with crossings: four approaches, each a crossing part then the red part (5 s), 3 s yellow."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import Config, load_config
from controller.core.estimation import Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import build_statics, walker_tail
from controller.junctions import parse_intersection
from sim.netimport import import_network
from tests.netbuild import WALK, cross_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")
OFF = replace(CFG, timing=replace(CFG.timing, ped_min_from_program=False, crossing_transitions=True))


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("incoming")
    import_network(cross_net(d, "inc", None, *WALK, "--tls.layout", "incoming"), d / "out", OFF)
    (path,) = (d / "out").glob("*.toml")
    return tomllib.loads(path.read_text())


def _tails(table: dict) -> tuple[int, ...]:
    j = parse_intersection(table, "inc.toml")
    p = MaxPressureParams()
    return build_statics(Layout.build(j, Config(max_pressure=p)), p.permitted_sat_ratio).walker_tails


def test_each_crossing_part_hands_over_to_its_red_part(table):
    assert _tails(table) == (1, -1, 3, -1, 5, -1, 7, -1)


def test_no_tail_where_the_change_from_the_crossing_part_is_no_longer(table):
    """Without the transitions that keep the clearance, leaving the crossing part is as quick as leaving its red part
    (both the derived 3 s yellow): the policy keeps the crossing green as before (every network without them)."""
    bare = {k: v for k, v in table.items() if k not in ("transitions", "crossing_links")}
    assert _tails(bare) == (-1,) * 8


def test_a_tail_that_stops_a_vehicle_link_is_none(table):
    j = parse_intersection(table, "inc.toml")
    p = MaxPressureParams()
    ig = build_statics(Layout.build(j, Config(max_pressure=p)), p.permitted_sat_ratio).intergreen_s
    states = [ph["state"] for ph in table["phases"]]
    vehicle = next(link for m in j.movements for link in m.links if states[0][link] in "Gg")
    raw = dict(table, phases=[dict(ph) for ph in table["phases"]])
    raw["phases"][1]["state"] = states[1][:vehicle] + "r" + states[1][vehicle + 1 :]
    try:
        cut = parse_intersection(raw, "inc.toml")
    except Exception:  # the loader refuses the cut model: nothing to hand over to either
        return
    assert walker_tail(cut, 0, ig) == -1

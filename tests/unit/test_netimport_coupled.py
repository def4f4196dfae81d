"""Coupled lights (sim/netneighbours.py): two traffic lights joined by a road shorter than one
vehicle are listed in each other's `coupled`, and `scats` refuses them at start, naming the
other light; lights a normal road apart are not coupled."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import load_config
from controller.core.estimation import Layout
from controller.core.policies.scats import ScatsPolicy
from controller.junctions import load_intersections
from sim.netimport import import_network
from tests.netbuild import pair_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")


@pytest.mark.parametrize(("link_m", "coupled"), [(0.2, True), (5.0, True), (40.0, False)])
def test_lights_a_road_shorter_than_a_vehicle_apart_are_coupled(tmp_path, link_m, coupled):
    assert CFG.detectors.vehicle_spacing_m == 7.5  # the threshold the cases straddle
    import_network(pair_net(tmp_path, link_m), tmp_path / "j", CFG)
    js = load_intersections(tmp_path / "j")
    assert set(js) == {"A", "B"}
    assert js["A"].coupled == (("B",) if coupled else ())
    assert js["B"].coupled == (("A",) if coupled else ())
    why = ScatsPolicy().cannot_serve(Layout.build(js["A"]))
    if coupled:
        assert "joined to light(s) B by a road shorter than one vehicle" in why
    else:
        assert why == ""

"""Coupled lights by the shortest green ([detectors] coupled_by_min_green, sim/netneighbours.py):
two lights joined by a road whose lanes store fewer vehicles than one minimum green sends into a
lane at saturation (26.25 m with the shipped [timing] and [saturation]) are coupled, and the
policies that time each light on its own refuse them; off, only a road shorter than one vehicle
couples them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load_config
from controller.core.estimation import Layout
from controller.core.policies.schedule import SchedulePolicy
from controller.core.policies.webster import WebsterPolicy
from controller.junctions import load_intersections
from sim.netimport import import_network
from sim.netneighbours import coupling_length_m
from tests.netbuild import pair_net

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = load_config(ROOT / "config.toml")
ON = replace(SHIPPED, detectors=replace(SHIPPED.detectors, coupled_by_min_green=True))


def test_the_coupling_length_is_one_vehicle_or_the_queue_of_a_min_green():
    assert coupling_length_m(7.5, 7.0, 1800.0, False) == 7.5
    assert coupling_length_m(7.5, 7.0, 1800.0, True) == pytest.approx(26.25)  # 3.5 PCU of 7.5 m
    assert coupling_length_m(7.5, 1.0, 1800.0, True) == 7.5  # never shorter than one vehicle


@pytest.mark.parametrize(
    ("link_m", "coupled_off", "coupled_on"), [(5.0, True, True), (15.0, False, True), (40.0, False, False)]
)
def test_lights_a_min_green_queue_apart_are_coupled_only_with_the_key(tmp_path, link_m, coupled_off, coupled_on):
    assert not SHIPPED.detectors.coupled_by_min_green  # shipped off
    for cfg, coupled, name in ((SHIPPED, coupled_off, "off"), (ON, coupled_on, "on")):
        (tmp_path / name).mkdir()
        import_network(pair_net(tmp_path / name, link_m), tmp_path / name / "j", cfg)
        js = load_intersections(tmp_path / name / "j")
        assert js["A"].coupled == (("B",) if coupled else ())
        assert js["B"].coupled == (("A",) if coupled else ())
        for policy in (WebsterPolicy(), SchedulePolicy()):
            why = policy.cannot_serve(Layout.build(js["A"]))
            assert ("joined to light(s) B" in why) == coupled, (name, policy.name, why)

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
from tests.netbuild import _edge_xml, _node_xml, netconvert

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")


def _pair_net(cwd: Path, link_m: float) -> Path:
    """Lights A and B on one road, each its own traffic light, joined by edges A_B and B_A of
    `link_m` metres, each with a side road."""
    nodes = {
        "A": (0, 0, "traffic_light"),
        "B": (60, 0, "traffic_light"),
        "W": (-300, 0, "priority"),
        "E": (360, 0, "priority"),
        "AN": (0, 300, "priority"),
        "AS": (0, -300, "priority"),
        "BN": (60, 300, "priority"),
        "BS": (60, -300, "priority"),
    }
    pairs = [("W", "A"), ("A", "B"), ("B", "E"), ("AN", "A"), ("A", "AS"), ("BN", "B"), ("B", "BS")]
    edges = []
    for a, b in pairs:
        edges += [(f"{a}_{b}", a, b), (f"{b}_{a}", b, a)]
    lengths = {"A_B": link_m, "B_A": link_m}
    return netconvert(cwd, f"pair{link_m:g}", _node_xml(nodes, {"A": "A", "B": "B"}), _edge_xml(edges, lengths, {}))


@pytest.mark.parametrize(("link_m", "coupled"), [(0.2, True), (5.0, True), (40.0, False)])
def test_lights_a_road_shorter_than_a_vehicle_apart_are_coupled(tmp_path, link_m, coupled):
    assert CFG.detectors.vehicle_spacing_m == 7.5  # the threshold the cases straddle
    import_network(_pair_net(tmp_path, link_m), tmp_path / "j", CFG)
    js = load_intersections(tmp_path / "j")
    assert set(js) == {"A", "B"}
    assert js["A"].coupled == (("B",) if coupled else ())
    assert js["B"].coupled == (("A",) if coupled else ())
    why = ScatsPolicy().cannot_serve(Layout.build(js["A"]))
    if coupled:
        assert "joined to light(s) B by a road shorter than one vehicle" in why
    else:
        assert why == ""

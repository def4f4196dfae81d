"""import-net follows a movement's exit over unsignalised edges to the next light's approach
(sim/netlinks.py): `reach_edge`, the whole chain's storage, the streams joining and leaving it."""

from __future__ import annotations

from pathlib import Path

from controller.config import load_config
from controller.junctions import load_intersections
from sim.netimport import import_net, read_net
from tests.netbuild import edge_xml, netconvert, node_xml

ROOT = Path(__file__).resolve().parents[2]

# Lights A and B; A's exit east (AM1) runs through M1 (a side road S joins, a side exit N leaves)
# and M2 (the road widens to two lanes at M1, a plain split at M2) to B's approach M2B.
NODES = {
    "A": (0, 0, "traffic_light"),
    "B": (400, 0, "traffic_light"),
    "W0": (-200, 0, "priority"),
    "AN": (0, 200, "priority"),
    "AS": (0, -200, "priority"),
    "M1": (150, 0, "priority"),
    "M2": (250, 0, "priority"),
    "S": (150, -200, "priority"),
    "N": (150, 200, "priority"),
    "E0": (600, 0, "priority"),
    "BN": (400, 200, "priority"),
    "BS": (400, -200, "priority"),
}
EDGES = [
    ("W0A", "W0", "A"),
    ("ANA", "AN", "A"),
    ("AM1", "A", "M1"),
    ("AAS", "A", "AS"),
    ("M1M2", "M1", "M2"),
    ("SM1", "S", "M1"),
    ("M1N", "M1", "N"),
    ("M2B", "M2", "B"),
    ("BNB", "BN", "B"),
    ("BE0", "B", "E0"),
    ("BBS", "B", "BS"),
]


def test_a_movements_exit_is_followed_through_unsignalised_nodes_to_the_next_lights_approach(tmp_path):
    net_path = netconvert(tmp_path, "chain", node_xml(NODES), edge_xml(EDGES, {}, {"M1M2": 2, "M2B": 2}))
    import_net(net_path, tmp_path / "models", load_config(ROOT / "config.toml"))
    js = load_intersections(tmp_path / "models")
    net = read_net(net_path)
    whole_m = sum(ln.getLength() for e in ("AM1", "M1M2", "M2B") for ln in net.getEdge(e).getLanes())
    east = [m for m in js["A"].movements if m.to_edge == "AM1"]
    assert {m.from_edge for m in east} == {"W0A", "ANA"}
    for m in east:
        assert m.reach_edge == "M2B", m.id
        assert abs(m.reach_storage_pcu - round(whole_m / 7.5, 2)) < 0.01, m.id
        assert m.reach_merges == 1 and m.reach_diverges == 1, m.id  # S joins at M1, N leaves
    # an exit to the fringe, and B's exits, lead to no light
    rest = [m for m in js["A"].movements if m.to_edge != "AM1"] + list(js["B"].movements)
    assert rest and all(not m.reach_edge and m.reach_storage_pcu == 0.0 for m in rest)
    assert js["A"].downstream == ("B",) and js["B"].upstream == ("A",)


def test_an_exit_onto_a_lights_approach_keeps_the_direct_link_alone(tmp_path):
    """AM1 straight into B (no node between): `to_edge` is B's approach, no reach fields."""
    nodes = {k: v for k, v in NODES.items() if k not in ("M1", "M2", "S", "N")}
    edges = [e for e in EDGES if e[0] in ("W0A", "ANA", "AAS", "BNB", "BE0", "BBS")] + [("AB", "A", "B")]
    net_path = netconvert(tmp_path, "direct", node_xml(nodes), edge_xml(edges, {}, {}))
    import_net(net_path, tmp_path / "models", load_config(ROOT / "config.toml"))
    js = load_intersections(tmp_path / "models")
    assert [m for m in js["A"].movements if m.to_edge == "AB"]
    assert all(not m.reach_edge for j in js.values() for m in j.movements)

"""import-net writes each movement's exit edge (`to_edge`): the edge SUMO's connections of its
signal links lead to (netshadow.Spill links the movement to that approach)."""

from __future__ import annotations

from pathlib import Path

from controller.config import load_config
from controller.junctions import load_intersections
from sim.netimport import import_net, read_net

ROOT = Path(__file__).resolve().parents[2]
CITY_NET = ROOT / "sim" / "scenarios" / "city" / "city.net.xml"


def test_each_movement_names_the_edge_its_links_lead_to(tmp_path):
    import_net(CITY_NET, tmp_path, load_config(ROOT / "config.toml"))
    junctions = load_intersections(tmp_path)
    net = read_net(CITY_NET)
    checked = 0
    for jid, j in junctions.items():
        exits: dict[tuple[str, int], set[str]] = {}
        for in_lane, out_lane, link in net.getTLS(jid).getConnections():
            exits.setdefault((in_lane.getEdge().getID(), link), set()).add(out_lane.getEdge().getID())
        for m in j.movements:
            reached = set().union(*(exits.get((m.from_edge, k), set()) for k in m.links))
            assert m.to_edge, (jid, m.id)
            assert reached == {m.to_edge}, (jid, m.id, reached)
            checked += 1
    assert checked > 20

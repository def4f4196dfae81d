"""Import, links over unsignalised edges: where a movement's exit leads when it is no light's approach.

A movement's exit edge (`to_edge`) is often not the next light's approach itself: the road runs on
through unsignalised nodes (a priority junction, an edge split where the lane count changes)
before it reaches the next traffic light. For each such movement the importer follows the exit,
lane by lane, to the next light's approach (`reach_edge`), and writes the storage of the whole
chain and what joins and leaves it on the way:

- from the lanes the movement's connections lead to, at each unsignalised node the chain goes on
  to the one next edge those lanes continue to: their only next edge, else the one their
  straight-on connections (SUMO's direction `s`) lead to; where neither is one edge (the road
  forks) or the node is a dead end, there is no link. U-turns are never followed;
- it ends at the first edge whose end node a traffic light controls (`reach_edge`, that light's
  approach; whether the light was imported is the reader's concern), or after MAX_HOPS
  unsignalised nodes without one (no link);
- `reach_storage_pcu`: the PCU the whole chain stores, the movement's exit edge to the approach's
  stop line: every lane cars may use on each edge of it, each lane's length / [detectors]
  vehicle_spacing_m (vehicles change lanes on the way: the chain's storage is its edges', the
  same for every movement that enters it);
- `reach_merges`: the streams that join the chain on the way (other edges connected into a
  chain edge at its start node, cars only), `reach_diverges`: the turns that leave it (connections of the
  followed lanes to other edges). Vehicles of the chain are not all the movement's, nor all bound
  for the light.

Only a movement whose exit edge ends at an unsignalised node gets these fields; one exiting
straight onto a light's approach (or leaving the network) keeps `to_edge` alone, the link every
other reader of links uses (docs/import.md). [max_pressure] pull_chains reads them.
"""

from __future__ import annotations

from typing import Any

import sumolib

MAX_HOPS = 6  # unsignalised nodes followed before giving up (as sim/netneighbours.py)


def add_reach(
    tables: list[dict[str, Any]], net: sumolib.net.Net, tls_of_node: dict[str, str], spacing_m: float
) -> None:
    """Set `reach_edge`, `reach_storage_pcu`, `reach_merges` and `reach_diverges` on every movement
    table of `tables` whose exit leads over unsignalised nodes to a light's approach (module doc).
    `tls_of_node`: traffic light id by controlled node id (netneighbours.tls_of_nodes)."""
    for t in tables:
        for m in t["movements"]:
            if "to_edge" not in m:
                continue
            reach = follow(net, exit_lanes(net, m), tls_of_node, spacing_m)
            if reach is not None:
                m["reach_edge"], m["reach_storage_pcu"], m["reach_merges"], m["reach_diverges"] = reach


def exit_lanes(net: sumolib.net.Net, movement: dict[str, Any]) -> list[sumolib.net.lane.Lane]:
    """The lanes of the movement table's exit edge its controlled connections lead to."""
    edge = net.getEdge(movement["from_edge"])
    to = net.getEdge(movement["to_edge"])
    lanes, links = set(movement["lanes"]), set(movement["links"])
    out = {
        c.getToLane().getID(): c.getToLane()
        for c in edge.getOutgoing().get(to, [])
        if c.getFromLane().getID() in lanes and c.getTLLinkIndex() in links
    }
    return [out[k] for k in sorted(out)]


def follow(
    net: sumolib.net.Net, lanes: list[sumolib.net.lane.Lane], tls_of_node: dict[str, str], spacing_m: float
) -> tuple[str, float, int, int] | None:
    """(reach_edge, reach_storage_pcu, reach_merges, reach_diverges) of a chain starting on
    `lanes` (one edge), or None where the edge ends at a light or the chain does not reach one
    (module doc)."""
    if not lanes:
        return None
    edge = lanes[0].getEdge()
    storage_m, merges, diverges = 0.0, 0, 0
    for _ in range(MAX_HOPS + 1):
        node = edge.getToNode()
        if node.getID() in tls_of_node:
            if storage_m == 0.0:
                return None  # the exit edge is the light's approach: the direct link
            whole_m = storage_m + sum(ln.getLength() for ln in edge.getLanes() if ln.allows("passenger"))
            return edge.getID(), round(whole_m / spacing_m, 2), merges, diverges
        storage_m += sum(ln.getLength() for ln in edge.getLanes() if ln.allows("passenger"))
        conns = [
            c for ln in lanes for c in ln.getOutgoing() if c.getDirection() != "t" and c.getToLane().allows("passenger")
        ]
        nxt = {c.getTo().getID() for c in conns}
        if len(nxt) != 1:
            nxt = {c.getTo().getID() for c in conns if c.getDirection() == "s"}
        if len(nxt) != 1:
            return None
        (nxt_id,) = nxt
        on = sorted({c.getToLane().getID() for c in conns if c.getTo().getID() == nxt_id})
        diverges += len({c.getTo().getID() for c in conns}) - 1
        nxt_edge = net.getEdge(nxt_id)
        merges += sum(1 for e in node.getIncoming() if e is not edge and _drives_into(e, nxt_edge))
        edge = nxt_edge
        lanes = [net.getLane(k) for k in on]
    return None


def _drives_into(edge: sumolib.net.edge.Edge, to: sumolib.net.edge.Edge) -> bool:
    """Whether cars can drive from `edge` into `to` (not a footpath's or walking area's connection)."""
    if edge.getFunction():  # an internal edge: a walking area, a crossing
        return False
    return any(c.getFromLane().allows("passenger") for c in edge.getOutgoing().get(to, []))

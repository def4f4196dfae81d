"""Import, neighbours: each junction's nearest imported junctions up- and downstream.

A neighbour is the nearest signalised junction reached along the road graph through
unsignalised nodes (up to MAX_HOPS of them), in either direction; only junctions that were
imported (not skipped) are listed.

Coupled junctions (`coupled`): two traffic lights joined by a road (either way) shorter than one
vehicle's jam spacing ([detectors] vehicle_spacing_m), such as the 0.2 m edges netconvert leaves
between junctions whose shapes touch. A vehicle stopped at one's stop line stands inside the
other's junction, so the two work only as one program: a policy that runs its own cycle at each
(docs/policies.md) locks them. Listed whether or not the other light was imported: one left on
its own program is coupled all the same.

With [detectors] coupled_by_min_green, also two lights joined by a road whose lanes store fewer
vehicles (length / vehicle_spacing_m) than the shortest green ([timing] min_green_s) sends into
a lane at saturation ([saturation] through_pcu_h_lane): 26.25 m with the defaults
(coupling_length_m). Timed apart, the second light may be red through the whole of the first's
green, and the queue that green sends stands back inside the first junction, as in the case
above; the city's own programs run such a pair as one (a common cycle, fixed offsets).

With [detectors] pair_one_program (`paired`): two lights joined by such a road (26.25 m with the
defaults, whatever coupled_by_min_green says), each with no other light that close, whose
programs run one timeline (controller/core/pairs.py stage_map: the same cycle, every stage green
from the same second to the same second at both). The core then decides the pair once, the
follower on the leader's stages. A pair whose programs do not line up is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sumolib

MAX_HOPS = 6  # unsignalised nodes walked through before giving up


def tls_of_nodes(net: sumolib.net.Net) -> dict[str, str]:
    """Traffic light id by the id of each node it controls."""
    tls_of_node: dict[str, str] = {}
    for tl in net.getTrafficLights():
        for conn in tl.getConnections():
            tls_of_node[conn[0].getEdge().getToNode().getID()] = tl.getID()
    return tls_of_node


def signalised_neighbours(
    node: sumolib.net.node.Node, tls_of_node: dict[str, str], upstream: bool, own: str
) -> set[str]:
    """Nearest signalised junctions other than `own`, walking through unsignalised nodes."""
    found: set[str] = set()
    frontier = [(node, 0)]
    seen = {node.getID()}
    while frontier:
        n, hops = frontier.pop()
        edges = n.getIncoming() if upstream else n.getOutgoing()
        for e in edges:
            nxt = e.getFromNode() if upstream else e.getToNode()
            if nxt.getID() in seen:
                continue
            seen.add(nxt.getID())
            tls = tls_of_node.get(nxt.getID())
            if tls and tls != own:
                found.add(tls)
            elif not tls and hops < MAX_HOPS:
                frontier.append((nxt, hops + 1))
    return found


def add_neighbours(
    tables: list[dict[str, Any]], nodes_of: dict[str, set[sumolib.net.node.Node]], tls_of_node: dict[str, str]
) -> None:
    """Set `upstream` and `downstream` of every junction table: the neighbours among `tables`,
    sorted. `nodes_of`: the nodes each junction controls."""
    kept = {t["id"] for t in tables}
    for t in tables:
        up: set[str] = set()
        down: set[str] = set()
        for n in nodes_of[t["id"]]:
            up |= signalised_neighbours(n, tls_of_node, True, t["id"])
            down |= signalised_neighbours(n, tls_of_node, False, t["id"])
        t["upstream"], t["downstream"] = sorted(up & kept), sorted(down & kept)


def coupling_length_m(vehicle_spacing_m: float, min_green_s: float, sat_pcu_h_lane: float, by_min_green: bool) -> float:
    """The length (m) below which a road joining two lights couples them (module doc): one jam
    spacing, or with `by_min_green` the jam spacings of the PCU one lane receives at
    `sat_pcu_h_lane` over `min_green_s`, when that is longer."""
    if not by_min_green:
        return vehicle_spacing_m
    return max(vehicle_spacing_m, vehicle_spacing_m * min_green_s * sat_pcu_h_lane / 3600.0)


def add_coupled(
    tables: list[dict[str, Any]],
    nodes_of: dict[str, set[sumolib.net.node.Node]],
    tls_of_node: dict[str, str],
    link_m: float,
) -> None:
    """Set `coupled` of every junction table: the traffic lights joined to it, either way, by an
    edge shorter than `link_m` (coupling_length_m; module doc), sorted."""
    pairs: set[tuple[str, str]] = set()
    for t in tables:
        for n in nodes_of[t["id"]]:
            for e in n.getIncoming():
                other = tls_of_node.get(e.getFromNode().getID())
                if other and other != t["id"] and min(ln.getLength() for ln in e.getLanes()) < link_m:
                    pairs |= {(t["id"], other), (other, t["id"])}
    for t in tables:
        t["coupled"] = sorted(b for a, b in pairs if a == t["id"])


def add_paired(
    tables: list[dict[str, Any]],
    nodes_of: dict[str, set[sumolib.net.node.Node]],
    tls_of_node: dict[str, str],
    link_m: float,
    one_timeline: Callable[[dict[str, Any], dict[str, Any]], bool],
) -> None:
    """Set `paired` (after `coupled`) of the junction tables joined, either way, by an edge shorter
    than `link_m` to exactly one other imported light, and it to them alone, when
    `one_timeline(a, b)` (module doc); the other tables are left without it."""
    by_id = {t["id"]: t for t in tables}
    near: dict[str, set[str]] = {tid: set() for tid in by_id}
    for t in tables:
        for n in nodes_of[t["id"]]:
            for e in n.getIncoming():
                other = tls_of_node.get(e.getFromNode().getID())
                if (
                    other is not None
                    and other in by_id
                    and other != t["id"]
                    and min(ln.getLength() for ln in e.getLanes()) < link_m
                ):
                    near[t["id"]].add(other)
                    near[other].add(t["id"])
    for tid, t in by_id.items():
        (other,) = near[tid] if len(near[tid]) == 1 else (None,)
        if other is None or near[other] != {tid} or not one_timeline(t, by_id[other]):
            continue
        rebuilt = dict(t)
        t.clear()
        for k, v in rebuilt.items():
            t[k] = v
            if k == "coupled":
                t["paired"] = [other]

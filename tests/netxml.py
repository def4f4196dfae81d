"""Tiny SUMO networks written as .net.xml from an edge list, for the tests that read one with
sumolib or hand it to SUMO's tools: straight lanes between the nodes, no internal lanes, no
netconvert (tests/netbuild.py builds networks through netconvert).

    net_xml({"w": (0, 0), "c": (100, 0)}, [Edge("in", "w", "c")], [])

is one 100 m lane from w to c. A node is a dead end when no edge leaves it or none enters it,
a priority junction otherwise (`types` overrides); a junction's incoming lanes are listed in
the order of the edge list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LANE_WIDTH_M = 3.0  # the offset between the drawn lanes of an edge; lengths are what counts
SPEED_MPS = 13.9


@dataclass(frozen=True)
class Edge:
    """An edge from node `start` to node `end`, one lane per entry of `allow` ("" admits every
    class, else SUMO's allow list), lane 0 first; `length_m` None: the nodes' distance."""

    id: str
    start: str
    end: str
    allow: tuple[str, ...] = ("",)
    length_m: float | None = None


@dataclass(frozen=True)
class Link:
    """A connection from lane `from_lane` of edge `start` to lane `to_lane` of edge `end`;
    `dir` and `state` as SUMO writes them (s, r, l, t; M major, m minor)."""

    start: str
    end: str
    dir: str = "s"
    from_lane: int = 0
    to_lane: int = 0
    state: str = "M"


def _lanes(edge: Edge, nodes: Mapping[str, tuple[float, float]]) -> list[str]:
    (x0, y0), (x1, y1) = nodes[edge.start], nodes[edge.end]
    length_m = edge.length_m if edge.length_m is not None else math.hypot(x1 - x0, y1 - y0)
    lanes = []
    for k, allow in enumerate(edge.allow):
        dy = k * LANE_WIDTH_M
        shape = f"{x0:g},{y0 + dy:g} {x1:g},{y1 + dy:g}"
        admits = f' allow="{allow}"' if allow else ""
        lanes.append(
            f'        <lane id="{edge.id}_{k}" index="{k}" speed="{SPEED_MPS}" length="{length_m:g}"{admits}'
            f' shape="{shape}"/>'
        )
    return lanes


def net_xml(
    nodes: Mapping[str, tuple[float, float]],
    edges: Sequence[Edge],
    links: Sequence[Link],
    types: Mapping[str, str] | None = None,
) -> str:
    """The .net.xml text of the network: `nodes` {id: (x, y) in m}, its edges and connections;
    `types` {node: SUMO junction type} where the default (dead_end / priority) is not wanted."""
    xs, ys = [x for x, _ in nodes.values()], [y for _, y in nodes.values()]
    box = f"{min(xs):g},{min(ys):g},{max(xs):g},{max(ys):g}"
    out = [
        '<net version="1.20" junctionCornerDetail="5" limitTurnSpeed="5.50">',
        f'    <location netOffset="0.00,0.00" convBoundary="{box}" origBoundary="{box}" projParameter="!"/>',
    ]
    for edge in edges:
        out += [f'    <edge id="{edge.id}" from="{edge.start}" to="{edge.end}" priority="1">', *_lanes(edge, nodes)]
        out.append("    </edge>")
    for node, (x, y) in nodes.items():
        inc = [f"{e.id}_{k}" for e in edges if e.end == node for k in range(len(e.allow))]
        both = inc and any(e.start == node for e in edges)
        kind = (types or {}).get(node, "priority" if both else "dead_end")
        out.append(
            f'    <junction id="{node}" type="{kind}" x="{x:g}" y="{y:g}" incLanes="{" ".join(inc)}" intLanes=""'
            f' shape="{x:g},{y:g}"/>'
        )
    for c in links:
        out.append(
            f'    <connection from="{c.start}" to="{c.end}" fromLane="{c.from_lane}" toLane="{c.to_lane}"'
            f' dir="{c.dir}" state="{c.state}"/>'
        )
    return "\n".join([*out, "</net>", ""])

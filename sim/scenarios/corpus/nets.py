"""Network builders of the corpus: netgenerate with options, or hand-written nodes and edges
through netconvert. Each returns a `NetBuilder`: called with (out_dir, name, seed) it writes
out_dir/{name}.net.xml (timestamp header stripped, so the file is byte-reproducible) and
returns the names of the additional files it wrote (none here; see programs.py).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sim.scenarios.common import run, strip_header, sumo_home

NetBuilder = Callable[[Path, str, int], tuple[str, ...]]

# every signalised junction signalised, however little traffic netconvert expects there
SIGNAL_ALL = ("--tls.guess", "--tls.guess.threshold", "0")


def netgenerate(*args: str) -> NetBuilder:
    """A netgenerate network; `args` give its shape and options, the seed and output are added."""

    def build(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        net = out_dir / f"{name}.net.xml"
        run([str(sumo_home() / "bin" / "netgenerate"), *args, "--seed", str(seed), "-o", str(net)])
        strip_header(net)
        return ()

    return build


@dataclass(frozen=True)
class Node:
    id: str
    x_m: float
    y_m: float
    type: str = "priority"  # SUMO node type: priority, traffic_light, ...


@dataclass(frozen=True)
class Road:
    """A two-way road (one edge each way, ids "a_b" and "b_a") unless `one_way`."""

    a: str
    b: str
    lanes: int = 1
    speed_ms: float = 13.89
    one_way: bool = False


def handmade(nodes: tuple[Node, ...], roads: tuple[Road, ...], *netconvert_args: str) -> NetBuilder:
    """A network from hand-written nodes and roads, built by netconvert with `netconvert_args`."""

    def build(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        net = out_dir / f"{name}.net.xml"
        with tempfile.TemporaryDirectory() as tmp:
            nod, edg = Path(tmp) / "n.nod.xml", Path(tmp) / "e.edg.xml"
            nod.write_text(_nodes_xml(nodes), encoding="utf-8")
            edg.write_text(_edges_xml(roads), encoding="utf-8")
            run(
                [
                    str(sumo_home() / "bin" / "netconvert"),
                    "--node-files",
                    str(nod),
                    "--edge-files",
                    str(edg),
                    "--seed",
                    str(seed),
                    *netconvert_args,
                    "-o",
                    str(net),
                ]
            )
        strip_header(net)
        return ()

    return build


def _nodes_xml(nodes: tuple[Node, ...]) -> str:
    rows = "".join(f'    <node id="{n.id}" x="{n.x_m:.2f}" y="{n.y_m:.2f}" type="{n.type}"/>\n' for n in nodes)
    return f"<nodes>\n{rows}</nodes>\n"


def _edges_xml(roads: tuple[Road, ...]) -> str:
    rows = []
    for r in roads:
        ends = ((r.a, r.b),) if r.one_way else ((r.a, r.b), (r.b, r.a))
        rows += [
            f'    <edge id="{f}_{t}" from="{f}" to="{t}" numLanes="{r.lanes}" speed="{r.speed_ms}"/>\n' for f, t in ends
        ]
    return "<edges>\n" + "".join(rows) + "</edges>\n"


def t_corridor() -> NetBuilder:
    """A main road (2 lanes) with side roads alternately north and south: signalised T-junctions
    60-250 m apart, one four-arm junction, and an unsignalised junction 9 m upstream of a
    signalised one (a queue that forms before a very short approach)."""
    tl = "traffic_light"
    nodes = (
        Node("w", 0, 0),
        Node("j1", 200, 0, tl),
        Node("u", 440, 0),
        Node("j2", 449, 0, tl),
        Node("j3", 509, 0, tl),
        Node("j4", 759, 0, tl),
        Node("e", 959, 0),
        Node("n1", 200, 150),
        Node("un", 440, 150),
        Node("s2", 449, -150),
        Node("n3", 509, 150),
        Node("s3", 509, -150),
        Node("s4", 759, -150),
    )
    main = (
        Road("w", "j1", 2),
        Road("j1", "u", 2),
        Road("u", "j2", 2),
        Road("j2", "j3", 2),
        Road("j3", "j4", 2),
        Road("j4", "e", 2),
    )
    sides = (Road("n1", "j1"), Road("un", "u"), Road("s2", "j2"), Road("n3", "j3"), Road("s3", "j3"), Road("s4", "j4"))
    return handmade(nodes, main + sides, "--no-turnarounds", "--tls.guess.threshold", "0")


def roundabout(radius_m: float = 30.0, arms: int = 4, *netconvert_args: str) -> NetBuilder:
    """A one-way ring with `arms` two-way approaches; the ring nodes where an arm enters are
    signalised (traffic_light nodes), so the entries have signals and the ring has priority
    elsewhere. `--roundabouts.guess` marks the ring as a roundabout."""
    tl = "traffic_light"
    nodes, roads = [], []
    for k in range(arms):
        ang = 2 * math.pi * k / arms
        nodes += [
            Node(f"r{k}", radius_m * math.cos(ang), radius_m * math.sin(ang), tl),
            Node(f"a{k}", (radius_m + 160) * math.cos(ang), (radius_m + 160) * math.sin(ang)),
        ]
        roads.append(Road(f"a{k}", f"r{k}", 2 if k % 2 == 0 else 1))
    # anticlockwise ring (right-hand traffic), two lanes
    roads += [Road(f"r{k}", f"r{(k + 1) % arms}", 2, 8.33, one_way=True) for k in range(arms)]
    return handmade(tuple(nodes), tuple(roads), "--roundabouts.guess", "--no-turnarounds", *netconvert_args)


def single_cross(pocket_m: float = 50.0) -> NetBuilder:
    """One four-arm junction: a 2-lane main road east-west that widens to 3 lanes `pocket_m`
    before the junction (the left lane a turn pocket, as a separate short edge, as OSM imports
    have it), a 1-lane side road north-south."""
    tl = "traffic_light"
    nodes = (
        Node("c", 0, 0, tl),
        Node("w", -300, 0),
        Node("wp", -pocket_m, 0),
        Node("e", 300, 0),
        Node("ep", pocket_m, 0),
        Node("n", 0, 250),
        Node("s", 0, -250),
    )
    roads = (
        Road("w", "wp", 2),
        Road("c", "wp", 2, one_way=True),
        Road("wp", "c", 3, one_way=True),
        Road("e", "ep", 2),
        Road("c", "ep", 2, one_way=True),
        Road("ep", "c", 3, one_way=True),
        Road("n", "c", 1),
        Road("s", "c", 1),
    )
    return handmade(nodes, roads, "--no-turnarounds")

#!/usr/bin/env python3
"""Build the bundled SUMO "city" scenario (seeded, byte-reproducible).

    python sim/scenarios/city/build.py [--seed 42]

Writes, next to this file:
    city.net.xml   network (netconvert from plain XML nodes/edges)
    city.add.xml   bus stops
    city.rou.xml   vehicle types, bus lines, 07:00-09:00 morning-peak flows
    city.sumocfg   minimal SUMO configuration referencing the three above

Only SUMO's own binaries (netconvert), sumolib, the Python standard
library and sim/scenarios/common.py (shared with the other scenarios) are
used.  The same seed always gives byte-identical files: the timestamped
header comment netconvert writes is stripped and everything else is
generated in a fixed order.
"""

from __future__ import annotations

import argparse
import itertools
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TypedDict
from xml.sax.saxutils import quoteattr

from sim.scenarios.common import strip_header, sumo_home, write_sumocfg

HERE = Path(__file__).resolve().parent

sumo_home()  # sumolib + netconvert type maps / XSDs need SUMO_HOME before the import

import sumolib  # noqa: E402  (needs SUMO_HOME first)

# --------------------------------------------------------------------------
# Scenario parameters
# --------------------------------------------------------------------------
N_COLS = 5  # signalised junction columns (west -> east)
N_ROWS = 4  # signalised junction rows (south -> north)
BLOCK_MIN, BLOCK_MAX = 160.0, 420.0  # block lengths between junctions (m)
FRINGE_MIN, FRINGE_MAX = 220.0, 320.0  # entry/exit link lengths (m)
ART_FRINGE_EXTRA = (150.0, 200.0)  # arterial entry links are longer (queue storage)
ART_ROW = 1  # row index of the east-west main arterial
ART_COL = 2  # column index of the north-south main arterial
ART_LANES, STREET_LANES = 3, 2  # lanes per direction (before the left pocket)
ART_SPEED, STREET_SPEED = 16.67, 13.89  # 60 km/h, 50 km/h
POCKET_ART, POCKET_STREET = (45, 60), (35, 50)  # usable left-pocket length range (m)

# street names (rows south->north, columns west->east)
ROW_NAMES = ["Jianshe Lu", "Renmin Lu", "Zhongshan Lu", "Beijing Lu"]
COL_NAMES = ["Xinhua Jie", "Wenhua Jie", "Jiefang Lu", "Heping Jie", "Dongfeng Jie"]
SIDE_NAMES = {"W": "West", "E": "East", "S": "South", "N": "North"}

SIM_BEGIN, DEMAND_END, SIM_END = 0, 7200, 7800
INTERVAL = 900  # 15-minute demand slices, 07:00-09:00
PROFILE = [0.60, 0.75, 0.90, 1.00, 1.00, 1.00, 0.85, 0.75]  # share of peak rate
PEAK_TOTAL_VPH = 8600.0  # general traffic entering the network at the peak
ART_ENTRY_WEIGHT = 4.0  # generation/attraction weight of an arterial end vs a street end
INBOUND = 1.35  # W/S ends generate x1.35, E/N ends attract x1.35 -> ~1.8x W->E vs E->W
SAME_SIDE = 0.3  # weight of OD pairs entering and leaving on the same side
CORRIDOR = 3.0  # extra weight of end-to-end trips along a main arterial
# general-traffic mix (vTypeDistribution "general"): id -> (share, vType attributes)
VTYPES = {
    "car": (
        0.78,
        'vClass="passenger" length="4.6" minGap="2.5" accel="2.6" decel="4.5" sigma="0.5" '
        'maxSpeed="33.3" speedDev="0.1" color="200,200,200"',
    ),
    "truck": (
        0.08,
        'vClass="truck" length="9.0" minGap="2.5" accel="1.3" decel="4.0" sigma="0.5" '
        'maxSpeed="25.0" speedDev="0.05" color="90,120,200"',
    ),
    "motorcycle": (
        0.14,
        'vClass="motorcycle" length="2.2" minGap="1.5" accel="3.0" decel="5.0" sigma="0.5" '
        'maxSpeed="16.7" speedDev="0.1" color="230,160,40"',
    ),
}
BUS_VTYPE = (
    'vClass="bus" length="12.0" minGap="3.0" accel="1.2" decel="4.0" sigma="0.5" '
    'maxSpeed="16.7" personCapacity="85" color="40,170,80"'
)

BUS_HEADWAY = 300  # s
BUS_DWELL = 20  # s
BUS_STOP_LEN = 25.0  # m
BUS_STOP_OFFSET = 25.0  # m from the start of the edge (far-side stop)


# --------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------
def spacing(rng: random.Random, n: int, lo: float, hi: float, min_spread: float) -> list[float]:
    """n seeded lengths in [lo, hi], rounded to 5 m, visibly unequal."""
    while True:
        vals = [5.0 * round(rng.uniform(lo, hi) / 5.0) for _ in range(n)]
        if n < 2 or max(vals) - min(vals) >= min_spread:
            return vals


def jid(c: int, r: int) -> str:
    return f"J{c}{r}"


Node = tuple[float, float, str]  # x, y (m), netconvert's node type
Fringe = dict[str, tuple[str, str, int]]  # fringe node -> (side, the junction it joins, road index)
Road = tuple[str, str, bool, str]  # an undirected road: its ends, arterial or not, street name
# a flow of the route file: (begin s, 0 a bus line or 1 general traffic, index, its XML, buses)
Flow = tuple[int, int, int, str, int]


class Layout(TypedDict):
    """build_layout's drawing: block and fringe lengths (m), the nodes, the fringe's ends, the roads."""

    dx: list[float]
    dy: list[float]
    fringe_len: dict[str, float]
    art_fringe_len: dict[str, float]
    nodes: dict[str, Node]
    fringe: Fringe
    roads: list[Road]


class BusLine(TypedDict):
    """One direction of a bus line: its number and street, route id, edges and the edges with a stop."""

    line: str
    name: str
    id: str
    edges: list[str]
    stops: list[str]


class RoutesInfo(TypedDict):
    """write_routes': the general vehicles expected, the buses, the OD weights and their scale (veh/h per weight)."""

    expected_general: float
    buses: int
    weights: dict[tuple[str, str], float]
    scale: float


def build_layout(rng: random.Random) -> Layout:
    dx = spacing(rng, N_COLS - 1, BLOCK_MIN, BLOCK_MAX, 100.0)
    dy = spacing(rng, N_ROWS - 1, BLOCK_MIN, BLOCK_MAX, 80.0)
    fr = {side: spacing(rng, 1, FRINGE_MIN, FRINGE_MAX, 0)[0] for side in "WESN"}
    extra = {side: spacing(rng, 1, *ART_FRINGE_EXTRA, 0)[0] for side in "WESN"}
    xs = [fr["W"]]
    for d in dx:
        xs.append(xs[-1] + d)
    ys = [fr["S"]]
    for d in dy:
        ys.append(ys[-1] + d)

    nodes: dict[str, Node] = {}  # id -> (x, y, type)
    for c in range(N_COLS):
        for r in range(N_ROWS):
            nodes[jid(c, r)] = (xs[c], ys[r], "traffic_light")
    fringe: Fringe = {}  # fringe id -> (side, attached junction, road index)
    for c in range(N_COLS):
        art = c == ART_COL
        nodes[f"S{c}"] = (xs[c], -extra["S"] if art else 0.0, "priority")
        nodes[f"N{c}"] = (xs[c], ys[-1] + fr["N"] + (extra["N"] if art else 0.0), "priority")
        fringe[f"S{c}"] = ("S", jid(c, 0), c)
        fringe[f"N{c}"] = ("N", jid(c, N_ROWS - 1), c)
    for r in range(N_ROWS):
        art = r == ART_ROW
        nodes[f"W{r}"] = (-extra["W"] if art else 0.0, ys[r], "priority")
        nodes[f"E{r}"] = (xs[-1] + fr["E"] + (extra["E"] if art else 0.0), ys[r], "priority")
        fringe[f"W{r}"] = ("W", jid(0, r), r)
        fringe[f"E{r}"] = ("E", jid(N_COLS - 1, r), r)

    # undirected roads: (a, b, is_arterial, name)
    roads: list[Road] = []
    for r in range(N_ROWS):
        art = r == ART_ROW
        chain = [f"W{r}"] + [jid(c, r) for c in range(N_COLS)] + [f"E{r}"]
        roads += [(a, b, art, ROW_NAMES[r]) for a, b in itertools.pairwise(chain)]
    for c in range(N_COLS):
        art = c == ART_COL
        chain = [f"S{c}"] + [jid(c, r) for r in range(N_ROWS)] + [f"N{c}"]
        roads += [(a, b, art, COL_NAMES[c]) for a, b in itertools.pairwise(chain)]
    return {
        "dx": dx,
        "dy": dy,
        "fringe_len": fr,
        "art_fringe_len": {k: fr[k] + extra[k] for k in fr},
        "nodes": nodes,
        "fringe": fringe,
        "roads": roads,
    }


def draw_pockets(layout: Layout, rng: random.Random) -> dict[str, float]:
    """Usable left-pocket length (stop line to taper) for every signalised approach."""
    pockets = {}
    for a, b, art, _ in layout["roads"]:
        lo, hi = POCKET_ART if art else POCKET_STREET
        for frm, to in ((a, b), (b, a)):
            if layout["nodes"][to][2] == "traffic_light":
                pockets[f"{frm}_{to}"] = 5.0 * round(rng.uniform(lo, hi) / 5.0)
    return pockets


def write_plain(layout: Layout, split_pos: dict[str, float], tmp: Path) -> tuple[Path, Path]:
    nodes = layout["nodes"]
    nod = ["<nodes>"]
    for nid, (x, y, typ) in nodes.items():
        nod.append(f'    <node id="{nid}" x="{x:.2f}" y="{y:.2f}" type="{typ}"/>')
    nod.append("</nodes>\n")
    edg = ["<edges>"]
    for a, b, art, name in layout["roads"]:
        lanes = ART_LANES if art else STREET_LANES
        speed = ART_SPEED if art else STREET_SPEED
        prio = 3 if art else 2
        for frm, to in ((a, b), (b, a)):
            eid = f"{frm}_{to}"
            attrs = (
                f'id="{eid}" from="{frm}" to="{to}" numLanes="{lanes}" speed="{speed}" '
                f'priority="{prio}" name={quoteattr(name)}'
            )
            if eid in split_pos:
                # dedicated left-turn pocket: one extra (leftmost) lane before the stop line
                keep = " ".join(str(i) for i in range(lanes + 1))
                edg.append(f"    <edge {attrs}>")
                edg.append(
                    f'        <split pos="-{split_pos[eid]:.1f}" lanes="{keep}" id="{eid}_p" '
                    f'idBefore="{eid}" idAfter="{eid}_t"/>'
                )
                edg.append("    </edge>")
            else:
                edg.append(f"    <edge {attrs}/>")
    edg.append("</edges>\n")
    nod_f, edg_f = tmp / "city.nod.xml", tmp / "city.edg.xml"
    nod_f.write_text("\n".join(nod), encoding="utf-8")
    edg_f.write_text("\n".join(edg), encoding="utf-8")
    return nod_f, edg_f


def build_net(layout: Layout, pockets: dict[str, float], out: Path) -> None:
    """Two netconvert passes: the second moves each split so that the usable
    pocket (after the junction area is cut off) has exactly the drawn length."""
    split_pos = {eid: p + 12.0 for eid, p in pockets.items()}  # first guess of the cut
    with tempfile.TemporaryDirectory(prefix="city-build-") as tmp:
        for _ in range(2):
            run_netconvert(*write_plain(layout, split_pos, Path(tmp)), out)
            net = sumolib.net.readNet(str(out))
            for eid, p in pockets.items():
                usable = net.getEdge(f"{eid}_t").getLane(0).getLength()
                split_pos[eid] = round(split_pos[eid] + p - usable, 1)


def run_netconvert(nod_f: Path, edg_f: Path, out: Path) -> None:
    netconvert = sumolib.checkBinary("netconvert")
    cmd = [
        netconvert,
        "--node-files",
        str(nod_f),
        "--edge-files",
        str(edg_f),
        "--output-file",
        str(out),
        "--no-turnarounds",
        "--tls.default-type",
        "static",
        "--tls.yellow.time",
        "3",
        "--tls.allred.time",
        "2",
        "--junctions.corner-detail",
        "5",
        "--output.street-names",
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    strip_header(out)


# --------------------------------------------------------------------------
# Demand
# --------------------------------------------------------------------------
def entry_edge(f: str, fringe: Fringe) -> str:
    return f"{f}_{fringe[f][1]}"


def exit_edge(f: str, fringe: Fringe) -> str:
    return f"{fringe[f][1]}_{f}"


def is_art_end(f: str) -> bool:
    side, idx = f[0], int(f[1:])
    return (side in "WE" and idx == ART_ROW) or (side in "SN" and idx == ART_COL)


def od_weights(fringe: Fringe) -> dict[tuple[str, str], float]:
    w: dict[tuple[str, str], float] = {}
    for o in fringe:
        for d in fringe:
            if o == d:
                continue
            g = (ART_ENTRY_WEIGHT if is_art_end(o) else 1.0) * (INBOUND if o[0] in "WS" else 1.0)
            a = (ART_ENTRY_WEIGHT if is_art_end(d) else 1.0) * (INBOUND if d[0] in "EN" else 1.0)
            w[(o, d)] = g * a * (SAME_SIDE if o[0] == d[0] else 1.0)
            if is_art_end(o) and is_art_end(d) and {o[0], d[0]} in ({"W", "E"}, {"S", "N"}):
                w[(o, d)] *= CORRIDOR
    return w


def route_edges(net: sumolib.net.Net, frm: str, to: str, vclass: str = "passenger") -> list[str]:
    path, _ = net.getShortestPath(net.getEdge(frm), net.getEdge(to), vClass=vclass)
    if not path:
        raise RuntimeError(f"no route {frm} -> {to}")
    return [e.getID() for e in path]


def bus_lines(layout: Layout, net: sumolib.net.Net) -> list[BusLine]:
    fringe = layout["fringe"]
    lines: list[BusLine] = []
    for line, a, b, name in (
        ("1", f"W{ART_ROW}", f"E{ART_ROW}", ROW_NAMES[ART_ROW]),
        ("2", f"S{ART_COL}", f"N{ART_COL}", COL_NAMES[ART_COL]),
    ):
        for _direction, o, d in (("fwd", a, b), ("rev", b, a)):
            edges = route_edges(net, entry_edge(o, fringe), exit_edge(d, fringe), "bus")
            # one far-side stop on every block plus one on the entry link
            stop_edges = [e for e in edges if not e.endswith("_t") and e != exit_edge(d, fringe)]
            lines.append({"line": line, "name": name, "id": f"L{line}_{o}_{d}", "edges": edges, "stops": stop_edges})
    return lines


def write_additional(lines: list[BusLine], net: sumolib.net.Net, path: Path, seed: int) -> None:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<!-- city scenario bus stops; generated by build.py, seed {seed} -->",
        '<additional xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:noNamespaceSchemaLocation="http://sumo.dlr.de/xsd/additional_file.xsd">',
    ]
    for ln in lines:
        for e in ln["stops"]:
            lane = net.getEdge(e).getLane(0)
            start = min(BUS_STOP_OFFSET, lane.getLength() - BUS_STOP_LEN - 5.0)
            if e.startswith(("W", "E", "S", "N")):  # entry link: stop mid-link
                start = round(lane.getLength() / 2 - BUS_STOP_LEN / 2, 2)
            frm = e.split("_")[0]
            if frm.startswith("J"):  # far-side stop just past the junction with a cross street
                c, r = int(frm[1]), int(frm[2])
                cross = COL_NAMES[c] if ln["name"] in ROW_NAMES else ROW_NAMES[r]
                name = f"{ln['name']} / {cross}"
            else:
                name = f"{ln['name']} {SIDE_NAMES[frm[0]]}"
            out.append(
                f'    <busStop id="bs_{e}" lane="{lane.getID()}" startPos="{start:.2f}" '
                f'endPos="{start + BUS_STOP_LEN:.2f}" lines="{ln["line"]}" '
                f"name={quoteattr(name)}/>"
            )
    out.append("</additional>\n")
    path.write_text("\n".join(out), encoding="utf-8")


def write_routes(layout: Layout, lines: list[BusLine], net: sumolib.net.Net, path: Path, seed: int) -> RoutesInfo:
    fringe = layout["fringe"]
    weights = od_weights(fringe)
    scale = PEAK_TOTAL_VPH / sum(weights.values())
    # every OD pair must be routable for passenger cars (and thus trucks/motorcycles)
    for o, d in weights:
        route_edges(net, entry_edge(o, fringe), exit_edge(d, fringe))

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<!-- city scenario demand 07:00-09:00 (t=0 is 07:00); generated by build.py, seed {seed} -->",
        '<routes xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:noNamespaceSchemaLocation="http://sumo.dlr.de/xsd/routes_file.xsd">',
        '    <vTypeDistribution id="general">',
    ]
    for vid, (share, attrs) in VTYPES.items():
        out.append(f'        <vType id="{vid}" {attrs} probability="{share}"/>')
    out += ["    </vTypeDistribution>", f'    <vType id="bus" {BUS_VTYPE}/>']
    for ln in lines:
        out.append(f'    <route id="{ln["id"]}" edges="{" ".join(ln["edges"])}">')
        for e in ln["stops"]:
            out.append(f'        <stop busStop="bs_{e}" duration="{BUS_DWELL}"/>')
        out.append("    </route>")
    cars, expected = car_flows(weights, scale, fringe)
    elems = [*bus_flows(lines), *cars]
    elems.sort(key=lambda t: t[:3])
    out += [t[3] for t in elems]
    out.append("</routes>\n")
    path.write_text("\n".join(out), encoding="utf-8")
    return {"expected_general": expected, "buses": sum(t[4] for t in elems), "weights": weights, "scale": scale}


def bus_flows(lines: list[BusLine]) -> list[Flow]:
    """A flow per bus line: (begin s, 0, line index, xml, buses)."""
    elems: list[Flow] = []
    for i, ln in enumerate(lines):
        begin = 30 + 75 * i  # stagger the four directional services
        n = len(range(begin, DEMAND_END, BUS_HEADWAY))
        elems.append(
            (
                begin,
                0,
                i,
                f'    <flow id="bus_{ln["id"]}" type="bus" route="{ln["id"]}" '
                f'begin="{begin}" end="{DEMAND_END}" period="{BUS_HEADWAY}" line="{ln["line"]}" '
                f'departLane="best" departSpeed="max"/>',
                n,
            )
        )
    return elems


def car_flows(weights: dict[tuple[str, str], float], scale: float, fringe: Fringe) -> tuple[list[Flow], float]:
    """The general traffic's flows, one per OD pair and PROFILE interval, as (begin s, 1, pair
    index, xml, 0), and the vehicles they are expected to bring."""
    elems: list[Flow] = []
    expected = 0.0
    for k, share in enumerate(PROFILE):
        b, e = k * INTERVAL, (k + 1) * INTERVAL
        for j, ((o, d), w) in enumerate(sorted(weights.items())):
            vph = w * scale * share
            prob = vph / 3600.0
            expected += prob * INTERVAL
            elems.append(
                (
                    b,
                    1,
                    j,
                    f'    <flow id="{o}-{d}.{k}" type="general" begin="{b}" end="{e}" '
                    f'from="{entry_edge(o, fringe)}" to="{exit_edge(d, fringe)}" '
                    f'probability="{prob:.5f}" departLane="best" departSpeed="max"/>',
                    0,
                )
            )
    return elems, expected


def summary(layout: Layout, net: sumolib.net.Net, info: RoutesInfo) -> str:
    tls = net.getTrafficLights()
    lines = [
        f"blocks x (m): {layout['dx']}",
        f"blocks y (m): {layout['dy']}",
        f"fringe links (m): {layout['fringe_len']}, arterial ends: {layout['art_fringe_len']}",
        f"signalised junctions: {len(tls)}",
    ]
    for t in tls:
        progs = t.getPrograms()
        for p in progs.values():
            greens = [ph for ph in p.getPhases() if "G" in ph.state and "y" not in ph.state]
            cycle = sum(ph.duration for ph in p.getPhases())
            lines.append(f"  {t.getID()}: {len(p.getPhases())} phases, {len(greens)} green, cycle {cycle:.0f}s")
    for k, share in enumerate(PROFILE):
        hh, mm = divmod(7 * 60 + k * INTERVAL // 60, 60)
        lines.append(
            f"  {hh:02d}:{mm:02d} x{share:.2f} -> {PEAK_TOTAL_VPH * share:.0f} veh/h "
            f"({PEAK_TOTAL_VPH * share * INTERVAL / 3600:.0f} veh)"
        )
    lines.append(f"expected general vehicles: {info['expected_general']:.0f}, buses: {info['buses']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=42, help="RNG seed for block lengths and pockets")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    layout = build_layout(rng)
    net_f = HERE / "city.net.xml"
    pockets = draw_pockets(layout, rng)
    build_net(layout, pockets, net_f)
    net = sumolib.net.readNet(str(net_f), withPrograms=True)
    lines = bus_lines(layout, net)
    write_additional(lines, net, HERE / "city.add.xml", args.seed)
    info = write_routes(layout, lines, net, HERE / "city.rou.xml", args.seed)
    # SUMO's seed stays 42 whatever the geometry seed: the demand draws are the same
    write_sumocfg(HERE / "city.sumocfg", "city", args.seed, 42, SIM_END, SIM_BEGIN, additional="city.add.xml", xsd=True)
    if not args.quiet:
        print(summary(layout, net, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())

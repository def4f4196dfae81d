"""A fourth held-out board (86 networks): generator options and network features the other three do not use
(issue 9; K, session 52).

    python -m sim.scenarios.board4 --out DIR [--board FILE] [NAME ...]

The board (48), the held-out board (84: the corpus drawn again) and the coordinated board (26) have been
looked at for many sessions. These networks are recipes none of them has: a spider with its centre,
random networks of other densities and angles, long and short cycles, 6 s yellows and 4 s all-reds,
protected lefts, `--tls.no-mixed`, delay-based, actuated-incoming and NEMA programs on random networks,
joined clusters of 60 m and `--tls.uncontrolled-within`, quarter offsets, roundabouts of 3 and 6 arms,
one-way couplets, an OSM-like junction built from signal nodes on its approaches
(`--tls.guess-signals`), bicycle lanes and a bus lane, truck- and bus-heavy mixes, left-hand traffic,
right-before-left junctions among the lights, no left turns, demand that rises and falls or surges within the run, very
low and near-saturated demand, a 0.5 s step.

Each network is a corpus recipe (`CorpusNet`: the network, the demand, additional files) built by
`sim.scenarios.corpus.build.build`, with two additions here: a demand `profile` (the hourly rate of each
equal slice of the demand period, as multiples of `veh_h`) and a step length. Seeds 5001-5036, so none is
a corpus, _h, _h2, _hw or _hc draw. netconvert's default programs (90 s cycles) are easy to beat, so 25 of
the 36 are drawn again with the same seed and trips and a city's coordinated plan (name + "_c"): Webster's
on the routes with tlsCoordinator's offsets, as `sim.scenarios.coordinated` makes them. Left out: the 8
whose programs are their point, and 3 where Webster's plan greens some link never (tlsCoordinator stops).
At this demand (200-1,800 veh/h) every light has slack, so the 25 are drawn a third time at 2.5x the demand
(name + "_ch"), Webster's plan made for that demand.
Every network runs 900 s (600 s of demand and 300 s to empty). Nothing here is tuned to any policy; the
networks go outside the repo.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import random
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sim.scenarios.common import merge_routes, run, strip_header, sumo_home
from sim.scenarios.coordinated import with_coordinated_plan
from sim.scenarios.corpus.build import build
from sim.scenarios.corpus.catalogue import CorpusNet, rand
from sim.scenarios.corpus.demand import Demand
from sim.scenarios.corpus.nets import NetBuilder, Node, Road, handmade, netgenerate, roundabout

NO_UTURN = ("--no-turnarounds",)
HEAVY = (("passenger", 0.6), ("truck", 0.2), ("trailer", 0.1), ("bus", 0.1))
DELIVERY = (("passenger", 0.7), ("delivery", 0.15), ("coach", 0.05), ("truck", 0.1))
CYCLISTS = (("passenger", 0.75), ("bicycle", 0.25))
BUSES = (("passenger", 0.85), ("bus", 0.15))
RISE_FALL = (0.3, 0.8, 1.6, 1.6, 0.8, 0.3)  # a peak in the middle of the 600 s
SURGE = (0.2, 0.2, 2.5, 0.2, 0.2, 0.2)  # a surge 200-300 s in, then little


@dataclass(frozen=True)
class Board4Net:
    """A corpus recipe, its demand's `profile` (empty: flat), its step length and the city's plan: netconvert's
    own programs (""), or "coordinated": Webster's on the routes with tlsCoordinator's offsets (as
    `sim.scenarios.coordinated` makes them)."""

    net: CorpusNet
    profile: tuple[float, ...] = ()
    step_s: str = "1"
    plan: str = ""


def grid(nx: int, ny: int, *args: str, length_m: int = 200) -> NetBuilder:
    return netgenerate(
        "--grid",
        "--grid.x-number",
        str(nx),
        "--grid.y-number",
        str(ny),
        "--grid.length",
        str(length_m),
        "--grid.attach-length",
        "150",
        *args,
    )


def couplet(blocks: int = 4, block_m: float = 160.0) -> NetBuilder:
    """Two parallel one-way streets 90 m apart, opposite directions (a one-way pair), two lanes each,
    crossed by `blocks` two-way side streets: every crossing signalised."""
    tl = "traffic_light"
    nodes, roads = [Node("wn", 0, 90), Node("ws", 0, 0)], []
    prev_n, prev_s = "wn", "ws"
    for k in range(blocks):
        x = 200 + k * block_m
        n, s = f"n{k}", f"s{k}"
        nodes += [Node(n, x, 90, tl), Node(s, x, 0, tl), Node(f"tn{k}", x, 260), Node(f"ts{k}", x, -170)]
        roads += [
            Road(prev_n, n, 2, one_way=True),  # the north street runs east
            Road(s, prev_s, 2, one_way=True),  # the south street runs west
            Road(f"tn{k}", n),
            Road(n, s),
            Road(s, f"ts{k}"),
        ]
        prev_n, prev_s = n, s
    nodes += [Node("en", 200 + blocks * block_m, 90), Node("es", 200 + blocks * block_m, 0)]
    roads += [Road(prev_n, "en", 2, one_way=True), Road("es", prev_s, 2, one_way=True)]
    return handmade(tuple(nodes), tuple(roads), *NO_UTURN, "--tls.guess.threshold", "0")


def osm_signals(cols: int = 3, rows: int = 2, block_m: float = 220.0, before_m: float = 14.0) -> NetBuilder:
    """As OSM maps a signalised crossing: the junction itself a priority node, a `traffic_signals` node
    on every road `before_m` from it; netconvert's `--tls.guess-signals` makes them one light at the
    junction (the short edges between stay, as in imported cities). Junctions jittered by up to 25 m."""

    def build_net(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        rng = random.Random(seed)
        inner = [(i, j) for i in range(cols) for j in range(rows)]
        pos = {p: (p[0] * block_m + rng.uniform(-25, 25), p[1] * block_m + rng.uniform(-25, 25)) for p in inner}
        nodes = [Node(f"j{i}_{j}", *pos[i, j]) for i, j in inner]
        roads: list[Road] = []

        def signal(a: tuple[int, int], toward: tuple[float, float], lanes: int) -> str:
            (xa, ya), (xb, yb) = pos[a], toward
            f = before_m / ((xb - xa) ** 2 + (yb - ya) ** 2) ** 0.5
            sid = f"s{a[0]}_{a[1]}_{len(nodes)}"
            nodes.append(Node(sid, xa + (xb - xa) * f, ya + (yb - ya) * f, "traffic_light"))
            roads.append(Road(f"j{a[0]}_{a[1]}", sid, lanes))
            return sid

        for i, j in inner:
            for di, dj in ((1, 0), (0, 1), (-1, 0), (0, -1)):
                b = (i + di, j + dj)
                lanes = 2 if dj == 0 else 1
                if b in pos:
                    if (di, dj) in ((1, 0), (0, 1)):  # each inner link once: junction, signal, signal, junction
                        sa, sb = signal((i, j), pos[b], lanes), signal(b, pos[i, j], lanes)
                        roads.append(Road(sa, sb, lanes))
                    continue
                x, y = pos[i, j]
                fid = f"f{i}_{j}_{di}_{dj}"
                nodes.append(Node(fid, x + di * 200, y + dj * 200))
                roads.append(Road(signal((i, j), (x + di * 200, y + dj * 200), lanes), fid, lanes))
        return handmade(
            tuple(nodes), tuple(roads), *NO_UTURN, "--tls.guess-signals", "--tls.guess-signals.dist", str(before_m + 6)
        )(out_dir, name, seed)

    return build_net


def bus_arterial(junctions: int = 5, gap_m: float = 240.0) -> NetBuilder:
    """A three-lane main road whose right lane is for buses only (a bus lane), through `junctions`
    signalised crossings of two-way one-lane side roads."""

    def build_net(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        net = out_dir / f"{name}.net.xml"
        xs = [0.0, *(250 + k * gap_m for k in range(junctions)), 500 + (junctions - 1) * gap_m]
        ids = ["w", *(f"j{k}" for k in range(junctions)), "e"]
        nodes = [
            f'    <node id="{i}" x="{x:.1f}" y="0" type="{"traffic_light" if i[0] == "j" else "priority"}"/>'
            for i, x in zip(ids, xs)
        ]
        edges = []
        for a, b in itertools.pairwise(ids):
            for f, t in ((a, b), (b, a)):
                edges.append(
                    f'    <edge id="{f}_{t}" from="{f}" to="{t}" numLanes="3" speed="13.89">'
                    '<lane index="0" allow="bus"/></edge>'
                )
        for k, x in enumerate(xs[1:-1]):
            for side, y in (("n", 200), ("s", -200)):
                nodes.append(f'    <node id="{side}{k}" x="{x:.1f}" y="{y}" type="priority"/>')
                edges += [
                    f'    <edge id="{side}{k}_j{k}" from="{side}{k}" to="j{k}" numLanes="1" speed="13.89"/>',
                    f'    <edge id="j{k}_{side}{k}" from="j{k}" to="{side}{k}" numLanes="1" speed="13.89"/>',
                ]
        with tempfile.TemporaryDirectory() as tmp:
            nod, edg = Path(tmp) / "n.nod.xml", Path(tmp) / "e.edg.xml"
            nod.write_text("<nodes>\n" + "\n".join(nodes) + "\n</nodes>\n", encoding="utf-8")
            edg.write_text("<edges>\n" + "\n".join(edges) + "\n</edges>\n", encoding="utf-8")
            netconvert = str(sumo_home() / "bin" / "netconvert")
            run([netconvert, "-n", str(nod), "-e", str(edg), "--seed", str(seed), *NO_UTURN, "-o", str(net)])
        strip_header(net)
        return ()

    return build_net


S = "--tls.guess --tls.guess.threshold 0 --no-turnarounds"  # every junction signalised, no U-turns
P = "--turn-lanes 1 --turn-lanes.length 45"  # a left pocket on every approach
INCOMING = "--tls.layout incoming"


def b4(
    name: str,
    seed: int,
    exercises: str,
    network: NetBuilder,
    demand: Demand,
    profile: tuple[float, ...] = (),
    step_s: str = "1",
) -> Board4Net:
    return Board4Net(CorpusNet(name, seed, exercises, network, demand), profile, step_s)


def ng(options: str) -> NetBuilder:
    return netgenerate(*options.split())


def g(nx: int, ny: int, options: str, length_m: int = 200) -> NetBuilder:
    return grid(nx, ny, *options.split(), length_m=length_m)


def r(iterations: int, min_m: int, max_m: int, options: str) -> NetBuilder:
    return rand(iterations, min_m, max_m, *options.split())


BOARD4: tuple[Board4Net, ...] = (
    b4(
        "spider_centre7",
        5001,
        "spider with its 7-arm centre, 3 rings 100 m apart, two lanes and left pockets",
        ng(f"--spider --spider.arm-number 7 --spider.circle-number 3 --spider.space-radius 100 -L 2 {P} {S}"),
        Demand(1100, min_distance_m=250),
    ),
    b4(
        "spider_tri_incoming",
        5002,
        "spider of 3 arms and 4 rings, one lane, one stage per approach (--tls.layout incoming)",
        ng(f"--spider --spider.arm-number 3 --spider.circle-number 4 --spider.space-radius 90 -L 1 {INCOMING} {S}"),
        Demand(600, min_distance_m=150),
    ),
    b4(
        "rand_dense4",
        5003,
        "dense random network: four-arm nodes likely (--rand.neighbor-dist4 3), connectivity 0.95",
        r(34, 60, 150, f"--rand.connectivity 0.95 --rand.neighbor-dist4 3 -L 2 {S}"),
        Demand(1000, min_distance_m=150),
    ),
    b4(
        "rand_t_sparse",
        5004,
        "sparse random network of T-junctions (--rand.neighbor-dist3 4), sharp angles (min 25 degrees)",
        r(26, 80, 240, f"--rand.neighbor-dist3 4 --rand.min-angle 25 -L 2 {S}"),
        Demand(800),
    ),
    b4(
        "rand_slow_1lane",
        5005,
        "random network of one-lane 30 km/h streets, 50-120 m",
        r(30, 50, 120, f"-L 1 --default.speed 8.33 {S}"),
        Demand(500, min_distance_m=120),
    ),
    b4(
        "rand_fast_3lane",
        5006,
        "random network of three-lane 70 km/h roads, 220-420 m, left pockets",
        r(18, 220, 420, f"-L 3 --default.speed 19.4 {P} {S}"),
        Demand(1800, min_distance_m=500),
    ),
    b4(
        "grid_cycle_long",
        5007,
        "3x3 grid, long programs: 60 s greens (--tls.green.time 60, cycle about 130 s)",
        g(3, 3, f"-L 2 --tls.green.time 60 {S}"),
        Demand(1000),
    ),
    b4(
        "grid_cycle_short",
        5008,
        "3x3 grid, short programs: 10 s greens, 3 s yellows (cycle about 30 s)",
        g(3, 3, f"-L 2 --tls.green.time 10 --tls.yellow.time 3 {S}"),
        Demand(1000),
    ),
    b4(
        "grid_yellow6_allred4",
        5009,
        "3x2 grid with pockets, 6 s yellows and 4 s all-reds between every stage",
        g(3, 2, f"-L 2 {P} --tls.yellow.time 6 --tls.allred.time 4 {S}"),
        Demand(1100),
    ),
    b4(
        "grid_protected_left",
        5010,
        "3x3 grid with pockets, every left protected (--tls.minor-left.max-speed 0), 14 s left greens",
        g(3, 3, f"-L 2 {P} --tls.minor-left.max-speed 0 --tls.left-green.time 14 {S}"),
        Demand(1100),
    ),
    b4(
        "rand_no_mixed",
        5011,
        "random network, shared lanes, no phase shows green and red from one lane (--tls.no-mixed)",
        r(24, 70, 200, f"-L 2 --tls.no-mixed {S}"),
        Demand(900),
    ),
    b4(
        "grid_delay_based",
        5012,
        "3x3 grid with pockets, the city's programs delay-based (--tls.default-type delay_based)",
        g(3, 3, f"-L 2 {P} --tls.default-type delay_based {S}"),
        Demand(1100),
    ),
    b4(
        "rand_actuated_incoming",
        5013,
        "random network, actuated programs with one stage per approach, min 8 s / max 45 s",
        r(24, 70, 200, f"-L 2 --tls.default-type actuated --tls.layout incoming --tls.min-dur 8 --tls.max-dur 45 {S}"),
        Demand(900),
    ),
    b4(
        "rand_nema",
        5014,
        "random network with left pockets, NEMA programs (T-junctions and irregular crossings)",
        r(24, 80, 220, f"-L 2 {P} --tls.default-type NEMA {S}"),
        Demand(900),
    ),
    b4(
        "rand_big_clusters",
        5015,
        "random network of 50-150 m links, lights within 60 m one program (--tls.join-dist 60)",
        r(28, 50, 150, f"-L 2 --tls.join --tls.join-dist 60 {S}"),
        Demand(800, min_distance_m=120),
    ),
    b4(
        "rand_uncontrolled_within",
        5016,
        "random network, lights within 50 m joined, the edges inside a cluster left "
        "uncontrolled (--tls.uncontrolled-within)",
        r(28, 25, 120, f"-L 2 --tls.join --tls.join-dist 50 --tls.uncontrolled-within {S}"),
        Demand(800, min_distance_m=120),
    ),
    b4(
        "grid_quarter_offsets",
        5017,
        "4x2 grid, 250 m blocks, quarter and half offsets on the programs (a crude green wave)",
        g(4, 2, f"-L 2 --tls.quarter-offset B0,B1,D0,D1 --tls.half-offset C0,C1 {S}", length_m=250),
        Demand(1100, min_distance_m=400),
    ),
    b4(
        "roundabout3_big",
        5018,
        "3-arm two-lane roundabout of radius 45 m, a signal at each entry (--tls.layout incoming)",
        roundabout(45.0, 3, "--tls.layout", "incoming"),
        Demand(900, min_distance_m=100),
    ),
    b4(
        "roundabout6_small",
        5019,
        "6-arm roundabout of radius 22 m, entry signals joined into one light",
        roundabout(22.0, 6, "--tls.join", "--tls.join-dist", "50"),
        Demand(1000, min_distance_m=100),
    ),
    b4(
        "oneway_couplet",
        5020,
        "a one-way pair: two parallel two-lane one-way streets 90 m apart, crossed by 4 side streets",
        couplet(),
        Demand(1000, min_distance_m=200),
    ),
    b4(
        "osm_guess_signals",
        5021,
        "OSM-like: signal nodes 14 m before each crossing, made one light by --tls.guess-signals",
        osm_signals(),
        Demand(900, min_distance_m=200),
    ),
    b4(
        "grid_bikelanes",
        5022,
        "3x3 grid, bicycle lanes beside the car lanes (--bikelanes.guess), a quarter of trips by bicycle",
        g(3, 3, f"-L 2 --bikelanes.guess {S}"),
        Demand(900, classes=CYCLISTS, min_distance_m=150),
    ),
    b4(
        "arterial_buslane",
        5023,
        "three-lane arterial, its right lane a bus lane, 5 signalised crossings, 15 % buses",
        bus_arterial(),
        Demand(1200, classes=BUSES, min_distance_m=300),
    ),
    b4(
        "rand_heavy_mix",
        5024,
        "random network, 40 % heavy vehicles: trucks, trailers and buses",
        r(24, 80, 220, f"-L 2 {S}"),
        Demand(800, classes=HEAVY),
    ),
    b4(
        "grid_delivery_mix",
        5025,
        "3x2 grid with pockets, delivery vans, coaches and trucks among the cars",
        g(3, 2, f"-L 2 {P} {S}"),
        Demand(1000, classes=DELIVERY),
    ),
    b4(
        "grid_lefthand",
        5026,
        "left-hand traffic (--lefthand): 3x3 grid with pockets, rights across the oncoming flow",
        g(3, 3, f"-L 2 {P} --lefthand {S}"),
        Demand(1000),
    ),
    b4(
        "rand_lefthand",
        5027,
        "left-hand traffic on a random network",
        r(24, 70, 200, f"-L 2 --lefthand {S}"),
        Demand(900),
    ),
    b4(
        "grid_rbl_mix",
        5028,
        "4x3 grid of right-before-left junctions, only 4 of them signalised (--tls.set)",
        g(4, 3, "-L 1 --default-junction-type right_before_left --tls.set A0,B1,C2,D1 --no-turnarounds", length_m=150),
        Demand(600, min_distance_m=200),
    ),
    b4(
        "grid_rise_fall",
        5029,
        "3x3 grid, demand rising to 1.6x and falling again within the 600 s",
        g(3, 3, f"-L 2 {P} {S}"),
        Demand(1100),
        profile=RISE_FALL,
    ),
    b4(
        "rand_surge",
        5030,
        "random network, a surge of 2.5x for 100 s, little demand before and after",
        r(24, 70, 200, f"-L 2 {S}"),
        Demand(1000),
        profile=SURGE,
    ),
    b4(
        "grid_saturated",
        5031,
        "3x3 grid, one lane, demand near saturation (1,500 veh/h)",
        g(3, 3, f"-L 1 {S}"),
        Demand(1500),
    ),
    b4(
        "rand_sparse_demand",
        5032,
        "random network, very light demand (200 veh/h): most greens serve nobody",
        r(24, 70, 200, f"-L 2 {S}"),
        Demand(200),
    ),
    b4(
        "rand_sampled",
        5033,
        "random grid, mostly one-way (bidi 0.3), three lanes, demand fitted to counts by routeSampler",
        ng(
            "--rand --rand.grid --rand.iterations 30 --rand.min-distance 130 --rand.bidi-probability 0.3 "
            "-L 3 --tls.guess --tls.guess.threshold 0"
        ),
        Demand(1200, sampled=True),
    ),
    b4(
        "grid_half_step",
        5034,
        "3x2 grid with pockets run at a 0.5 s step",
        g(3, 2, f"-L 2 {P} {S}"),
        Demand(1000),
        step_s="0.5",
    ),
    b4(
        "grid_crossings_actuated",
        5035,
        "3x3 grid with signalised pedestrian crossings and actuated programs, 500 pedestrians an hour",
        g(3, 3, f"-L 2 --sidewalks.guess --crossings.guess --tls.default-type actuated {S}", length_m=170),
        Demand(800, pedestrians_h=500),
    ),
    b4(
        "grid_no_left",
        5036,
        "3x3 grid where no left turn is built (--no-left-connections): trips go round the block",
        g(3, 3, f"-L 2 --no-left-connections {S}"),
        Demand(1000),
    ),
)


# the networks drawn again (same seed, same trips, name + "_c") with a coordinated plan as the city's: all but those
# whose point is their own programs (cycles, intergreens, offsets, actuated, delay-based and NEMA ones)
OWN_PROGRAMS = (
    "grid_cycle_long",
    "grid_cycle_short",
    "grid_yellow6_allred4",
    "grid_delay_based",
    "rand_actuated_incoming",
    "rand_nema",
    "grid_quarter_offsets",
    "grid_crossings_actuated",
)
# tlsCoordinator stops there ("No green light for tlIndex ..."): Webster's plan gives some link no green at all
NO_PLAN = ("spider_centre7", "rand_big_clusters", "rand_uncontrolled_within")


HEAVY_FACTOR = 2.5  # the coordinated drawn again at this many times the demand (name + "_ch"): near what lights carry


def by_name() -> dict[str, Board4Net]:
    """Every network of the board: the 36 recipes, the 25 coordinated draws, then those 25 at 2.5x the demand."""
    out = {b.net.name: b for b in BOARD4}
    drawn = [b for b in BOARD4 if b.net.name not in OWN_PROGRAMS + NO_PLAN]
    for b in drawn:
        c = dataclasses.replace(b, net=dataclasses.replace(b.net, name=f"{b.net.name}_c"), plan="coordinated")
        out[c.net.name] = c
    for b in drawn:
        d = dataclasses.replace(b.net.demand, veh_h=round(b.net.demand.veh_h * HEAVY_FACTOR))
        h = dataclasses.replace(
            b, net=dataclasses.replace(b.net, name=f"{b.net.name}_ch", demand=d), plan="coordinated"
        )
        out[h.net.name] = h
    return out


def _profiled_trips(b: Board4Net, out_dir: Path, end_s: int) -> None:
    """{name}.rou.xml from randomTrips with one insertion rate per equal slice of the demand period."""
    d, name = b.net.demand, b.net.name
    net = (out_dir / f"{name}.net.xml").resolve()
    parts = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        for k, (vclass, share) in enumerate(d.classes):
            f = Path(tmp_dir) / f"{vclass}.rou.xml"
            run(
                [
                    sys.executable,
                    str(sumo_home() / "tools" / "randomTrips.py"),
                    "-n",
                    str(net),
                    "-o",
                    str(Path(tmp_dir) / f"{vclass}.trips.xml"),
                    "-r",
                    str(f),
                    "-b",
                    str(b.net.begin_s),
                    "-e",
                    str(end_s),
                    "--seed",
                    str(b.net.seed + k),
                    "--insertion-rate",
                    *[f"{d.veh_h * share * m:.1f}" for m in b.profile],
                    "--fringe-factor",
                    str(d.fringe_factor),
                    "--min-distance",
                    str(d.min_distance_m),
                    "--vehicle-class",
                    vclass,
                    "--prefix",
                    vclass[:3],
                    "--random-depart",
                    "--validate",
                    "--remove-loops",
                ],
                cwd=Path(tmp_dir),
            )
            parts.append(f.read_text(encoding="utf-8"))
    merge_routes(parts, out_dir / f"{name}.rou.xml")


def build4(b: Board4Net, out_dir: Path) -> Path:
    """Build one network into out_dir; returns its .sumocfg."""
    cfg = build(b.net, out_dir)
    if b.profile:
        _profiled_trips(b, out_dir, b.net.begin_s + b.net.demand_s)
    if b.step_s != "1":
        text = cfg.read_text(encoding="utf-8")
        cfg.write_text(text.replace('<step-length value="1"/>', f'<step-length value="{b.step_s}"/>'), encoding="utf-8")
    if b.plan == "coordinated":
        with_coordinated_plan(cfg, out_dir, b.net)
    return cfg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the fourth held-out board.")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--board", type=Path, help="write `name cfg end_s` lines here")
    p.add_argument("names", nargs="*", help="networks to build (default: all)")
    args = p.parse_args(argv)
    known = by_name()
    lines, failed = [], 0
    for name in args.names or list(known):
        if name not in known:
            sys.exit(f"unknown network {name!r}; known: {', '.join(known)}")
        b = known[name]
        d = args.out / name
        cfg = d / f"{name}.sumocfg"
        if not cfg.exists():  # built in a sibling and moved whole: a folder that is there is complete
            tmp = d.with_name(f"{name}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                build4(b, tmp)
            except (Exception, SystemExit) as e:  # a tool's failure is reported and the network left out
                print(f"{name}: FAILED: {e}", flush=True)
                failed += 1
                continue
            tmp.replace(d)
            print(f"{name}: built", flush=True)
        lines.append(f"{name} {cfg.resolve()} {b.net.begin_s + b.net.demand_s + 300}")
    if args.board:
        args.board.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

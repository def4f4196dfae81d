"""The corpus: small, seeded networks with the irregularities real cities have.

Each entry says what it exercises (docs/corpus.md is the table of these). Nothing here is tuned
to any policy: the options are chosen to break assumptions, the demand to load each network
moderately (a few hundred to ~1500 vehicles per hour), and everything is drawn from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenarios.corpus.demand import Demand
from sim.scenarios.corpus.nets import SIGNAL_ALL, NetBuilder, netgenerate, roundabout, single_cross, t_corridor
from sim.scenarios.corpus.programs import (
    PostStep,
    city_detectors,
    lagging_left_program,
    letter_programs,
    subphase_programs,
)

MIXED = (("passenger", 0.75), ("truck", 0.1), ("bus", 0.05), ("motorcycle", 0.1))
NO_UTURN = ("--no-turnarounds",)


def rand(iterations: int, min_m: int, max_m: int, *args: str) -> NetBuilder:
    """netgenerate --rand: `iterations` edges added, nodes min_m..max_m apart, then `args`."""
    return netgenerate(
        "--rand",
        "--rand.iterations",
        str(iterations),
        "--rand.min-distance",
        str(min_m),
        "--rand.max-distance",
        str(max_m),
        *args,
    )


@dataclass(frozen=True)
class CorpusNet:
    """One scenario: {name}.net.xml, {name}.rou.xml, additional files and {name}.sumocfg."""

    name: str
    seed: int
    exercises: str  # one line: what this network puts to the test
    network: NetBuilder
    demand: Demand
    extras: tuple[PostStep, ...] = ()  # additional files written after the network
    begin_s: int = 0  # simulated time of the first step (demand starts there too)
    demand_s: int = 600  # demand period; the sumocfg's end is begin_s + demand_s + 300


CORPUS: tuple[CorpusNet, ...] = (
    CorpusNet(
        "rand_plain",
        11,
        "random network (--rand, 22 iterations), 2 lanes, every junction signalised by guess",
        rand(22, 90, 220, "-L", "2", *SIGNAL_ALL, *NO_UTURN),
        Demand(900),
    ),
    CorpusNet(
        "rand_short_edges",
        12,
        "random network of short edges (15-60 m), 1-3 lanes drawn at random",
        rand(22, 15, 60, "-L", "3", "--random-lanenumber", *SIGNAL_ALL, *NO_UTURN),
        Demand(600, min_distance_m=60),
    ),
    CorpusNet(
        "rand_joined",
        13,
        "random network with close junctions joined (--junctions.join) and traffic lights "
        "clustered (--tls.join): one program for several nodes",
        rand(
            28,
            20,
            140,
            "-L",
            "2",
            "--junctions.join",
            "--junctions.join-dist",
            "18",
            "--tls.join",
            "--tls.join-dist",
            "45",
            "--tls.guess.joining",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(900, min_distance_m=100),
    ),
    CorpusNet(
        "rand_grid_oneway",
        14,
        "random grid (--rand.grid) with one-way streets (bidi probability 0.6), turnarounds allowed",
        netgenerate(
            "--rand",
            "--rand.grid",
            "--rand.iterations",
            "25",
            "--rand.min-distance",
            "110",
            "--rand.bidi-probability",
            "0.6",
            "-L",
            "2",
            *SIGNAL_ALL,
        ),
        Demand(1000),
    ),
    CorpusNet(
        "grid_pockets",
        15,
        "grid with two left-turn pockets of 60 m per approach (--turn-lanes 2)",
        netgenerate(
            "--grid",
            "--grid.x-number",
            "3",
            "--grid.y-number",
            "2",
            "--grid.length",
            "220",
            "--grid.attach-length",
            "150",
            "-L",
            "2",
            "--turn-lanes",
            "2",
            "--turn-lanes.length",
            "60",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(1400),
    ),
    CorpusNet(
        "grid_joined_pairs",
        16,
        "pairs of signalised junctions 30 m apart, each pair one clustered traffic "
        "light (--tls.join), the short links inside it",
        netgenerate(
            "--grid",
            "--grid.x-number",
            "3",
            "--grid.y-number",
            "2",
            "--grid.x-length",
            "180",
            "--grid.y-length",
            "30",
            "--grid.attach-length",
            "120",
            "-L",
            "2",
            "--tls.join",
            "--tls.join-dist",
            "40",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(900),
    ),
    CorpusNet(
        "grid_tiny_lanes",
        17,
        "signalised junctions 22 m apart on one-lane roads: lanes of 7.6 m, shorter "
        "than a loop's advance distance and than 10 m",
        netgenerate(
            "--grid",
            "--grid.x-number",
            "3",
            "--grid.y-number",
            "2",
            "--grid.x-length",
            "150",
            "--grid.y-length",
            "22",
            "--grid.attach-length",
            "100",
            "-L",
            "1",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(500, min_distance_m=100),
    ),
    CorpusNet(
        "spider_no_centre",
        18,
        "spider web without its centre (--spider.omit-center): T-junctions on the inner ring, one lane",
        netgenerate(
            "--spider",
            "--spider.arm-number",
            "5",
            "--spider.circle-number",
            "2",
            "--spider.space-radius",
            "120",
            "--spider.omit-center",
            "-L",
            "1",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(700),
    ),
    CorpusNet(
        "t_corridor",
        19,
        "hand-written corridor of signalised T-junctions 60-250 m apart, an unsignalised "
        "junction 9 m upstream of a signal",
        t_corridor(),
        Demand(900, min_distance_m=200),
    ),
    CorpusNet(
        "roundabout_signals",
        20,
        "hand-written two-lane roundabout (--roundabouts.guess), a signal at each "
        "of its 4 entries: entry and ring served in turn (--tls.layout incoming)",
        roundabout(30.0, 4, "--tls.layout", "incoming"),
        Demand(1100, min_distance_m=100),
    ),
    CorpusNet(
        "roundabout_merges",
        35,
        "the same roundabout with netconvert's own guess: every signal has a single "
        "green stage (entry and ring merge), so no junction can be controlled; the run must go on",
        roundabout(),
        Demand(1100, min_distance_m=100),
    ),
    CorpusNet(
        "roundabout_one_tls",
        21,
        "hand-written 5-arm roundabout whose entry signals form one traffic light (--tls.join over the ring)",
        roundabout(25.0, 5, "--tls.join", "--tls.join-dist", "60"),
        Demand(1000, min_distance_m=100),
    ),
    CorpusNet(
        "pocket_lagging_left",
        22,
        "one junction, left-turn pocket on its own 50 m edge, a program in an "
        "additional file with a lagging protected left (kept green through the through's yellow)",
        single_cross(),
        Demand(900, min_distance_m=100),
        extras=(lagging_left_program(("wp_c", "ep_c")),),
    ),
    CorpusNet(
        "grid_subphases",
        23,
        "programs in a separate tlLogic file (programID 'city', random offsets) whose "
        "phases are cut into 1-10 s sub-phases sharing a state, as in Bologna",
        netgenerate(
            "--grid",
            "--grid.number",
            "3",
            "--grid.length",
            "200",
            "--grid.attach-length",
            "120",
            "-L",
            "2",
            "--turn-lanes",
            "1",
            "--turn-lanes.length",
            "40",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(1200),
        extras=(subphase_programs(),),
    ),
    CorpusNet(
        "rand_stage_twice",
        24,
        "random network, programs in an additional file serving their first stage twice a cycle, in sub-phases",
        rand(
            22,
            80,
            200,
            "-L",
            "2",
            "--turn-lanes",
            "1",
            "--turn-lanes.length",
            "30",
            "--tls.layout",
            "incoming",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(900),
        extras=(subphase_programs("stagetwice", twice=True),),
    ),
    CorpusNet(
        "grid_letters",
        25,
        "hand-edited programs with every signal letter: u (red-amber), s, o, O, Y, g; "
        "a junction flashing (one phase, all 'o'), one dark (all 'O'), a link never green",
        netgenerate(
            "--grid",
            "--grid.x-number",
            "3",
            "--grid.y-number",
            "2",
            "--grid.length",
            "180",
            "--grid.attach-length",
            "120",
            "-L",
            "2",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(800),
        extras=(letter_programs(),),
    ),
    CorpusNet(
        "rand_city_loops",
        26,
        "the city's own e1 loops in an additional file: on 3/4 of the approach lanes, "
        "at the stop line, 15-120 m upstream or both, clamped on short lanes",
        rand(22, 30, 180, "-L", "2", *SIGNAL_ALL, *NO_UTURN),
        Demand(900, min_distance_m=100),
        extras=(city_detectors(),),
    ),
    CorpusNet(
        "grid_crossings",
        27,
        "sidewalks and signalised pedestrian crossings (--crossings.guess), walking "
        "pedestrians, crossing minimum green",
        netgenerate(
            "--grid",
            "--grid.number",
            "3",
            "--grid.length",
            "160",
            "--grid.attach-length",
            "100",
            "-L",
            "2",
            "--sidewalks.guess",
            "--crossings.guess",
            "--tls.crossing-min.time",
            "6",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(700, pedestrians_h=600),
    ),
    CorpusNet(
        "single_scramble",
        28,
        "one junction with a pedestrian scramble phase (--tls.scramble.time) and walking areas",
        netgenerate(
            "--grid",
            "--grid.x-number",
            "1",
            "--grid.y-number",
            "1",
            "--grid.attach-length",
            "200",
            "-L",
            "2",
            "--sidewalks.guess",
            "--crossings.guess",
            "--tls.scramble.time",
            "8",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(600, pedestrians_h=400, min_distance_m=100),
    ),
    CorpusNet(
        "rand_vclasses",
        29,
        "vehicle types of several vClasses: cars, trucks, buses, motorcycles",
        rand(22, 80, 200, "-L", "2", *SIGNAL_ALL, *NO_UTURN),
        Demand(1000, classes=MIXED),
    ),
    CorpusNet(
        "grid_actuated",
        30,
        "the city's own programs are actuated (--tls.default-type actuated): the fixed baseline is not fixed-time",
        netgenerate(
            "--grid",
            "--grid.number",
            "3",
            "--grid.length",
            "200",
            "--grid.attach-length",
            "120",
            "-L",
            "2",
            "--tls.default-type",
            "actuated",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(1000),
    ),
    CorpusNet(
        "grid_nema",
        31,
        "NEMA dual-ring programs on the four-arm junctions (--tls.default-type NEMA)",
        netgenerate(
            "--grid",
            "--grid.number",
            "3",
            "--grid.length",
            "200",
            "--grid.attach-length",
            "120",
            "-L",
            "2",
            "--turn-lanes",
            "1",
            "--turn-lanes.length",
            "40",
            "--tls.default-type",
            "NEMA",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(1000),
    ),
    CorpusNet(
        "rand_allred_grouped",
        32,
        "all-red intervals, 4 s yellow, separate left-green phases, links "
        "grouped on one signal index (--tls.group-signals)",
        rand(
            22,
            70,
            200,
            "-L",
            "2",
            "--turn-lanes",
            "1",
            "--turn-lanes.length",
            "35",
            "--tls.allred.time",
            "2",
            "--tls.yellow.time",
            "4",
            "--tls.left-green.time",
            "8",
            "--tls.group-signals",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(900),
    ),
    CorpusNet(
        "grid_late_start",
        33,
        "a scenario that starts at 07:00 (begin 25200 s), offsets on half the "
        "signals, demand fitted to edge counts by routeSampler",
        netgenerate(
            "--grid",
            "--grid.number",
            "3",
            "--grid.length",
            "200",
            "--grid.attach-length",
            "120",
            "-L",
            "2",
            "--tls.half-offset",
            "A1,B0,B2,C1",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(1000, sampled=True),
        begin_s=25200,
    ),
    CorpusNet(
        "rand_unsignalised_mix",
        34,
        "random network where only the four-arm junctions are signalised "
        "(default --tls.guess threshold at 72 km/h): signals next to priority junctions, left-yield 'g' links",
        rand(
            30,
            40,
            160,
            "-L",
            "2",
            "--random-lanenumber",
            "--default.speed",
            "20",
            "--tls.guess",
            "--tls.discard-simple",
            *NO_UTURN,
        ),
        Demand(1000, min_distance_m=120),
    ),
)


CORPUS += (
    CorpusNet(
        "grid_touching_lights",
        36,
        "junctions 16 m apart on two-lane roads, each its own traffic light: edges of a few metres "
        "between lights, shorter than one vehicle, so a queue at one stands inside the other (coupled)",
        netgenerate(
            "--grid",
            "--grid.x-number",
            "3",
            "--grid.y-number",
            "2",
            "--grid.x-length",
            "160",
            "--grid.y-length",
            "16",
            "--grid.attach-length",
            "120",
            "-L",
            "2",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(800, min_distance_m=120),
    ),
    CorpusNet(
        "rand_tight_clusters",
        37,
        "random network of 12-70 m edges, lights within 30 m clustered into one program (--tls.join, "
        "no --junctions.join): clusters with internal edges of a few metres, next to single lights",
        rand(
            24, 12, 70, "-L", "2", "--random-lanenumber", "--tls.join", "--tls.join-dist", "30", *SIGNAL_ALL, *NO_UTURN
        ),
        Demand(700, min_distance_m=80),
    ),
    CorpusNet(
        "grid_coupled_incoming",
        38,
        "3x3 grid of one-lane roads 20 x 25 m apart, NEMA requested (netgenerate builds actuated), one "
        "stage per approach (--tls.layout incoming): links of 5-11 m between lights, one or two vehicles, "
        "every light coupled to its neighbours (session 29's fuzz v1006)",
        netgenerate(
            "--grid",
            "--grid.number",
            "3",
            "--grid.x-length",
            "20",
            "--grid.y-length",
            "25",
            "--grid.attach-length",
            "120",
            "-L",
            "1",
            "--tls.layout",
            "incoming",
            "--tls.default-type",
            "NEMA",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(600, min_distance_m=100),
    ),
)


def by_name() -> dict[str, CorpusNet]:
    return {c.name: c for c in CORPUS}

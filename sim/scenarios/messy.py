"""Messy networks: SUMO features real imports bring that neither the corpus nor the board has (issue 9,
"import anything"; docs/corpus.md, "Messy networks").

    python -m sim.scenarios.messy --out DIR [NAME ...]

Builds each network into DIR/NAME (its .net.xml, route files, additional files and NAME.sumocfg; what is
already there is left as is) and writes DIR/messy.txt, one network a line, `name cfg end_s`, as
`sim.bench_key --board` reads it. Each network is small (1-15 lights, 300 s of demand, 600 s runs) and drawn
from its seed (6200 + its index), so a build is reproducible; nothing is committed. A network SUMO itself
refuses to run (`runs=False`: a probe of the importer, e.g. a phase of duration 0) is built but left out of
the board file.

The features (each entry's `exercises` says which): left-hand traffic with pockets, crossings and a
signalised roundabout; NEMA programs, alone and switched by a WAUT; actuated and delay_based programs with
phase names, `next` lists and earliestEnd/latestEnd; WAUTs over several programs; the tls layouts;
grouped and ungrouped signals; red, all-red and left-green times; rail signals and a rail crossing near a
light; zipper and all-way-stop neighbours; right-on-red; the `o`, `O`, `u` and `s` states; a left turn's
internal stop with its own signal (`linkIndex2`); six-lane approaches with per-lane permissions; a
single-track tram line; a program of type `off`; the city's e2 / e3 / instant detectors; SUMO's game
networks as they are (old netconvert versions, one-stage game programs, a real city plan of 1 s sub-phases,
an OSM city of actuated lights); programs without yellow; offsets past the cycle; static programs with
minDur / maxDur; no internal links; departLane best / free / random / allowed; a mid-block pedestrian light;
unregulated lights.

Progress goes to stdout; a tool that fails raises MessyError naming the network and the tool's error
line, which the CLI prints before exiting 1.
"""

from __future__ import annotations

import argparse
import gzip
import math
import random
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from controller.errors import AdapterError
from sim.scenarios.common import run, staged, strip_header, sumo_home, sumo_tool, tool_failure
from sim.scenarios.corpus.build import build as build_scenario
from sim.scenarios.corpus.catalogue import CorpusNet
from sim.scenarios.corpus.demand import Demand
from sim.scenarios.corpus.nets import NetBuilder
from sim.scenarios.corpus.programs import Phase, PostStep, read_links, read_programs

RUN_S = 600  # each board line's end: 300 s of demand, then 300 s to empty
DEMAND_S = 300
SEED0 = 6200
SIGNAL_ALL = ("--tls.guess", "--tls.guess.threshold", "0")
GRID = ("--grid", "--grid.x-number", "3", "--grid.y-number", "2", "--grid.length", "150", "--grid.attach-length", "150")
WALK = ("--sidewalks.guess", "--crossings.guess")
BIKES = ("passenger", 0.8), ("bicycle", 0.1), ("bus", 0.05), ("truck", 0.05)
CARS = ("passenger", 0.92), ("truck", 0.08)


class MessyError(AdapterError):
    """A messy network could not be built; the message names it, the tool and the tool's error line."""


# ---------------------------------------------------------------------------------------------- networks


def generated(*args: str, then: tuple[str, ...] = ()) -> NetBuilder:
    """A netgenerate network (`args`, seed and output added); with `then`, converted once more by
    netconvert with those options (what netgenerate cannot do: crossings, ungrouping, ...)."""

    def build(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        net = out_dir / f"{name}.net.xml"
        first = net.with_suffix(".gen.xml") if then else net
        run([sumo_tool("netgenerate"), *args, "--no-turnarounds", "--seed", str(seed), "-o", str(first)])
        if then:
            run([sumo_tool("netconvert"), "-s", str(first), *then, "--seed", str(seed), "-o", str(net)])
            first.unlink()
        strip_header(net)
        return ()

    return build


def plain(nodes: str, edges: str, *args: str, connections: str = "") -> NetBuilder:
    """A network from plain XML rows (`<node .../>`, `<edge ...>`, `<connection .../>`) by netconvert."""

    def build(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        net = out_dir / f"{name}.net.xml"
        with tempfile.TemporaryDirectory() as tmp:
            files = {"node": ("nodes", nodes), "edge": ("edges", edges), "connection": ("connections", connections)}
            cmd = [sumo_tool("netconvert")]
            for kind, (root, rows) in files.items():
                if rows:
                    f = Path(tmp) / f"{kind}.xml"
                    f.write_text(f"<{root}>\n{rows}</{root}>\n", encoding="utf-8")
                    cmd += [f"--{kind}-files", str(f)]
            run([*cmd, "--no-turnarounds", "--seed", str(seed), *args, "-o", str(net)])
        strip_header(net)
        return ()

    return build


def linked_left_stops(*args: str) -> NetBuilder:
    """A netgenerate grid whose left turns stop inside the box with a signal of their own: the plain
    output's connections given `linkIndex2` (a new index per left turn, showing what its approach shows)
    and rebuilt by netconvert."""

    def build(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        net = out_dir / f"{name}.net.xml"
        with tempfile.TemporaryDirectory() as tmp:
            gen = Path(tmp) / "gen.net.xml"
            run([sumo_tool("netgenerate"), *args, "--no-turnarounds", "--seed", str(seed), "-o", str(gen)])
            run([sumo_tool("netconvert"), "-s", str(gen), "--plain-output-prefix", str(Path(tmp) / "p")])
            tll = Path(tmp) / "p.tll.xml"
            root = ET.parse(tll).getroot()
            extra: dict[str, list[int]] = {}
            lefts = {(c.get("from"), c.get("to"), c.get("fromLane")) for c in _left_turns(gen)}
            for c in root.iter("connection"):
                tl = c.get("tl", "")
                if (c.get("from"), c.get("to"), c.get("fromLane")) in lefts:
                    n = _link_count(root, tl) + len(extra.get(tl, []))
                    c.set("linkIndex2", str(n))
                    extra.setdefault(tl, []).append(int(c.get("linkIndex", "0")))
            for logic in root.iter("tlLogic"):
                for ph in logic.iter("phase"):
                    st = ph.get("state", "")
                    ph.set("state", st + "".join(st[k] for k in extra.get(logic.get("id", ""), [])))
            ET.ElementTree(root).write(tll, encoding="unicode")
            run(
                [
                    sumo_tool("netconvert"),
                    "--sumo-net-file",
                    str(gen),
                    "--tllogic-files",
                    str(tll),
                    "--seed",
                    str(seed),
                    "-o",
                    str(net),
                ]
            )
        strip_header(net)
        return ()

    return build


def _left_turns(net: Path) -> list[ET.Element]:
    """The signalised left turns of a .net.xml (its connections carry `dir`; the plain output's do not)."""
    return [c for c in ET.parse(net).getroot().iter("connection") if c.get("dir") == "l" and c.get("tl")]


def _link_count(root: ET.Element, tl: str) -> int:
    return 1 + max(int(c.get("linkIndex", "-1")) for c in root.iter("connection") if c.get("tl") == tl)


def with_static_copy(args: tuple[str, ...], copy_id: str = "static") -> NetBuilder:
    """A netgenerate network of NEMA lights (`args` plus `--tls.default-type NEMA`) and
    `{name}_static.add.xml`: each light's static program of the same network under `copy_id` (the same
    links: the same generator, options and seed), for a WAUT to switch between."""

    def build(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        generated(*args, "--tls.default-type", "NEMA")(out_dir, name, seed)
        with tempfile.TemporaryDirectory() as tmp:
            generated(*args)(Path(tmp), "static", seed)
            static = read_programs(Path(tmp) / "static.net.xml")
        _write_programs(out_dir / f"{name}_static.add.xml", static, copy_id, "static")
        return (f"{name}_static.add.xml",)

    return build


# --------------------------------------------------------------------------------- additional files


def _write_programs(path: Path, programs: dict[str, list[Phase]], program_id: str, kind: str, extra: str = "") -> None:
    rows = ["<additional>"]
    for tl, phases in sorted(programs.items()):
        rows.append(f'    <tlLogic id="{tl}" type="{kind}" programID="{program_id}" offset="0">')
        rows += [f'        <phase duration="{p.duration_s}" state="{p.state}"/>' for p in phases]
        rows.append("    </tlLogic>")
    path.write_text("\n".join([*rows, *([extra] if extra else []), "</additional>", ""]), encoding="utf-8")


def _is_green(state: str) -> bool:
    return any(c in "Gg" for c in state) and not any(c in "yY" for c in state)


def waut(program_ids: tuple[str, ...], at_s: tuple[int, ...], period_s: int = 0, lights: int = 0) -> PostStep:
    """`{name}_waut.add.xml`: a WAUT starting on program_ids[0], switching to program_ids[k] at at_s[k - 1]
    (refTime 0, `period_s` when > 0), over the first `lights` lights (all: 0)."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        tls = sorted(read_programs(out_dir / f"{name}.net.xml"))
        tls = tls[:lights] if lights else tls
        every = f' period="{period_s}"' if period_s else ""
        rows = [f'<additional>\n    <WAUT id="w" refTime="0" startProg="{program_ids[0]}"{every}>']
        rows += [f'        <wautSwitch time="{t}" to="{p}"/>' for t, p in zip(at_s, program_ids[1:], strict=True)]
        rows.append("    </WAUT>")
        rows += [f'    <wautJunction wautID="w" junctionID="{tl}"/>' for tl in tls]
        (out_dir / f"{name}_waut.add.xml").write_text("\n".join([*rows, "</additional>", ""]), encoding="utf-8")
        return (f"{name}_waut.add.xml",)

    return step


def actuated_program(kind: str, program_id: str, names_next: bool) -> PostStep:
    """`{name}_{program_id}.add.xml`: each light's own phases as a `kind` program (actuated, delay_based),
    greens 5-45 s; with `names_next`, each phase named, the last phase's `next` a list of two (the first
    stage, or the second), greens with earliestEnd / latestEnd and the light `coordinated` with an offset."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        rows = ["<additional>"]
        for tl, phases in sorted(read_programs(out_dir / f"{name}.net.xml").items()):
            cycle_s = sum(p.duration_s for p in phases)
            offset = rng.randint(0, cycle_s - 1) if names_next else 0
            rows.append(f'    <tlLogic id="{tl}" type="{kind}" programID="{program_id}" offset="{offset}">')
            if names_next:
                rows.append('        <param key="coordinated" value="true"/>')
            greens = [k for k, p in enumerate(phases) if _is_green(p.state)]
            start_s = 0
            for k, p in enumerate(phases):
                attrs = f'duration="{p.duration_s}" state="{p.state}"'
                if _is_green(p.state):
                    attrs += ' minDur="5" maxDur="45"'
                if names_next:
                    attrs += f' name="{"go" if _is_green(p.state) else "clear"}{k}"'
                    if k == len(phases) - 1 and len(greens) > 1:
                        attrs += f' next="{greens[0]} {greens[1]}"'
                    if _is_green(p.state):
                        attrs += f' earliestEnd="{start_s + 5}" latestEnd="{start_s + p.duration_s + 10}"'
                rows.append(f"        <phase {attrs}/>")
                start_s += p.duration_s
            rows.append("    </tlLogic>")
        path = out_dir / f"{name}_{program_id}.add.xml"
        path.write_text("\n".join([*rows, "</additional>", ""]), encoding="utf-8")
        return (path.name,)

    return step


def short_program(program_id: str = "short", factor: float = 0.6) -> PostStep:
    """`{name}_{program_id}.add.xml`: each light's static program with its greens scaled by `factor`."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        programs = {
            tl: [
                Phase(max(5, round(p.duration_s * factor)) if _is_green(p.state) else p.duration_s, p.state) for p in ph
            ]
            for tl, ph in read_programs(out_dir / f"{name}.net.xml").items()
        }
        _write_programs(out_dir / f"{name}_{program_id}.add.xml", programs, program_id, "static")
        return (f"{name}_{program_id}.add.xml",)

    return step


def states_program(program_id: str = "city") -> PostStep:
    """`{name}_states.add.xml`: each light's program with `s` (stop, then go) on every red right turn, `O`
    (off, no signal) on one right turn in every other phase, a 1 s red-amber `u` before each green, and one
    link of the first light `o` (blinking, yield) in its first all-red or yellow phase."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        net = out_dir / f"{name}.net.xml"
        links = read_links(net)
        out: dict[str, list[Phase]] = {}
        for t, (tl, phases) in enumerate(sorted(read_programs(net).items())):
            rights = [k.index for k in links.get(tl, []) if k.direction == "r"]
            new: list[Phase] = []
            for j, p in enumerate(phases):
                st = list(p.state)
                for r in rights:
                    if st[r] == "r":
                        st[r] = "s"
                if rights and j % 2 == 1:
                    st[rights[0]] = "O"
                if _is_green(p.state) and new:
                    prev = new[-1].state
                    amber = "".join("u" if c in "Gg" and prev[k] in "rs" else prev[k] for k, c in enumerate(st))
                    new.append(Phase(1, amber))
                if t == 0 and "y" in p.state and not any("o" in q.state for q in new):
                    st[next(k for k, c in enumerate(st) if c in "yr")] = "o"
                new.append(Phase(p.duration_s, "".join(st)))
            out[tl] = new
        _write_programs(out_dir / f"{name}_states.add.xml", out, program_id, "static")
        return (f"{name}_states.add.xml",)

    return step


def zero_phase(program_id: str = "city") -> PostStep:
    """`{name}_zero.add.xml`: each light's program with a phase of duration 0 after its first green (its
    state: that green's). SUMO refuses such a program at load."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        programs = {}
        for tl, phases in read_programs(out_dir / f"{name}.net.xml").items():
            first = next(k for k, p in enumerate(phases) if _is_green(p.state))
            programs[tl] = [*phases[: first + 1], Phase(0, phases[first].state), *phases[first + 1 :]]
        _write_programs(out_dir / f"{name}_zero.add.xml", programs, program_id, "static")
        return (f"{name}_zero.add.xml",)

    return step


def off_program(lights: int = 1) -> PostStep:
    """`{name}_off.add.xml`: the first `lights` lights given a program of type `off`, loaded last (SUMO runs
    it: no signal, the junction's right of way)."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        tls = sorted(read_programs(out_dir / f"{name}.net.xml"))[:lights]
        rows = [f'    <tlLogic id="{tl}" type="off" programID="off" offset="0"/>' for tl in tls]
        (out_dir / f"{name}_off.add.xml").write_text("\n".join(["<additional>", *rows, "</additional>", ""]))
        return (f"{name}_off.add.xml",)

    return step


def area_detectors() -> PostStep:
    """`{name}_det.add.xml`: the city's detectors, none of them an e1 loop: an e2 (laneAreaDetector) over the
    last 60 m of every signalised approach lane of the first half of the lights, an instantInductionLoop 2 m
    before the stop line of the others' lanes, and one e3 (entryExitDetector) over each approach edge of the
    first light."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        net = out_dir / f"{name}.net.xml"
        lengths = _lane_lengths(net)
        links = read_links(net)
        tls = sorted(links)
        rows = ["<additional>"]
        for t, tl in enumerate(tls):
            lanes = sorted({k.from_lane for k in links[tl]})
            for lane in lanes:
                length = lengths[lane]
                if t < max(1, len(tls) // 2):
                    start = max(0.1, length - 60)
                    rows.append(
                        f'    <laneAreaDetector id="e2_{lane}" lane="{lane}" pos="{start:.2f}" '
                        f'length="{length - start - 0.1:.2f}" period="60" file="NUL"/>'
                    )
                else:
                    rows.append(
                        f'    <instantInductionLoop id="ii_{lane}" lane="{lane}" pos="{max(0.1, length - 2):.2f}" '
                        'file="NUL"/>'
                    )
        first = sorted({k.from_lane for k in links[tls[0]]})
        rows.append('    <entryExitDetector id="e3_first" period="60" file="NUL">')
        rows += [f'        <detEntry lane="{lane}" pos="{max(0.0, lengths[lane] - 80):.2f}"/>' for lane in first]
        rows += [f'        <detExit lane="{lane}" pos="{lengths[lane] - 0.5:.2f}"/>' for lane in first]
        rows.append("    </entryExitDetector>")
        (out_dir / f"{name}_det.add.xml").write_text("\n".join([*rows, "</additional>", ""]), encoding="utf-8")
        return (f"{name}_det.add.xml",)

    return step


def _lane_lengths(net: Path) -> dict[str, float]:
    return {
        lane.get("id", ""): float(lane.get("length", "0"))
        for e in ET.parse(net).getroot().iter("edge")
        if e.get("function") != "internal"
        for lane in e.iter("lane")
    }


# ------------------------------------------------------------------------------------ hand-written nets


def _cross_nodes(centre: str = "traffic_light", arm_m: int = 200) -> str:
    return (
        f'  <node id="c" x="0" y="0" type="{centre}"/>\n'
        f'  <node id="n" x="0" y="{arm_m}"/>\n  <node id="s" x="0" y="-{arm_m}"/>\n'
        f'  <node id="e" x="{arm_m}" y="0"/>\n  <node id="w" x="-{arm_m}" y="0"/>\n'
    )


def _two_way(a: str, b: str, extra: str = "", lanes: int = 1) -> str:
    return (
        f'  <edge id="{a}_{b}" from="{a}" to="{b}" numLanes="{lanes}" speed="13.89"{extra}/>\n'
        f'  <edge id="{b}_{a}" from="{b}" to="{a}" numLanes="{lanes}" speed="13.89"{extra}/>\n'
    )


def lanes6() -> NetBuilder:
    """One light, four arms of six lanes each way: lane 0 bus only, lane 1 bicycles only, lane 5 taxis only."""
    perms = (
        '<lane index="0" allow="bus"/><lane index="1" allow="bicycle"/><lane index="5" allow="taxi"/>'
        '<lane index="2" disallow="bicycle pedestrian"/><lane index="3" disallow="bicycle pedestrian"/>'
        '<lane index="4" disallow="bicycle pedestrian"/>'
    )
    edges = ""
    for arm in "nsew":
        for a, b in ((arm, "c"), ("c", arm)):
            edges += f'  <edge id="{a}_{b}" from="{a}" to="{b}" numLanes="6" speed="13.89">{perms}</edge>\n'
    return plain(_cross_nodes(), edges)


def tram_single_track() -> NetBuilder:
    """A two-way road crossing at a light, and a tram line through the same light (north-south) on one
    bidirectional track (spreadType center, --railway.topology.all-bidi), no rail signal."""
    nodes = _cross_nodes() + '  <node id="tn" x="8" y="300"/>\n  <node id="ts" x="8" y="-300"/>\n'
    edges = _two_way("e", "c") + _two_way("w", "c") + _two_way("n", "c") + _two_way("s", "c")
    edges += (
        '  <edge id="tn_c" from="tn" to="c" numLanes="1" speed="13.89" allow="tram" spreadType="center"/>\n'
        '  <edge id="c_ts" from="c" to="ts" numLanes="1" speed="13.89" allow="tram" spreadType="center"/>\n'
    )
    return plain(nodes, edges, "--railway.topology.all-bidi")


def rail_near() -> NetBuilder:
    """A light on a road that a railway crosses 40 m east of it (a rail_crossing node), with rail_signals
    on the line 150 m either side; trains only on the rail edges."""
    nodes = (
        _cross_nodes()
        + '  <node id="x" x="40" y="0" type="rail_crossing"/>\n'
        + '  <node id="rn" x="40" y="400"/>\n  <node id="sn" x="40" y="150" type="rail_signal"/>\n'
        + '  <node id="ss" x="40" y="-150" type="rail_signal"/>\n  <node id="rs" x="40" y="-400"/>\n'
    )
    rail = ' allow="rail"'
    edges = _two_way("n", "c") + _two_way("s", "c") + _two_way("w", "c") + _two_way("c", "x") + _two_way("x", "e")
    edges += "".join(
        f'  <edge id="{a}_{b}" from="{a}" to="{b}" numLanes="1" speed="25"{rail}/>\n'
        for a, b in (
            ("rn", "sn"),
            ("sn", "x"),
            ("x", "ss"),
            ("ss", "rs"),
            ("rs", "ss"),
            ("ss", "x"),
            ("x", "sn"),
            ("sn", "rn"),
        )
    )
    return plain(nodes, edges)


def stop_neighbours() -> NetBuilder:
    """A light with an all-way stop 60 m west, a zipper merge 60 m east (two lanes into one) and a
    priority_stop 60 m north."""
    nodes = (
        _cross_nodes()
        + '  <node id="aw" x="-60" y="0" type="allway_stop"/>\n  <node id="z" x="60" y="0" type="zipper"/>\n'
        + '  <node id="ps" x="0" y="60" type="priority_stop"/>\n'
        + '  <node id="awn" x="-60" y="200"/>\n  <node id="aws" x="-60" y="-200"/>\n'
        + '  <node id="psw" x="-150" y="60"/>\n  <node id="pse" x="150" y="60"/>\n'
        + '  <node id="ze" x="200" y="0"/>\n'
    )
    edges = _two_way("w", "aw") + _two_way("aw", "c") + _two_way("awn", "aw") + _two_way("aws", "aw")
    edges += _two_way("n", "ps") + _two_way("ps", "c") + _two_way("psw", "ps") + _two_way("pse", "ps")
    edges += _two_way("s", "c")
    edges += '  <edge id="c_z" from="c" to="z" numLanes="2" speed="13.89"/>\n'
    edges += '  <edge id="z_ze" from="z" to="ze" numLanes="1" speed="13.89"/>\n'
    edges += '  <edge id="ze_c" from="ze" to="c" numLanes="1" speed="13.89"/>\n'
    return plain(
        nodes,
        edges,
        connections='  <connection from="c_z" to="z_ze" fromLane="0" toLane="0"/>\n'
        '  <connection from="c_z" to="z_ze" fromLane="1" toLane="0"/>\n',
    )


def roundabout_lefthand() -> NetBuilder:
    """A left-hand signalised roundabout: a clockwise two-lane ring of radius 30 m, every entry node a
    traffic light, four two-way arms (`--lefthand --roundabouts.guess`; netconvert writes no `<roundabout>` for a
    ring of lights, as for the corpus' roundabout_signals)."""

    nodes, edges = "", ""
    for k in range(4):
        ang = 2 * math.pi * k / 4
        nodes += f'  <node id="r{k}" x="{30 * math.cos(ang):.2f}" y="{30 * math.sin(ang):.2f}" type="traffic_light"/>\n'
        nodes += f'  <node id="a{k}" x="{190 * math.cos(ang):.2f}" y="{190 * math.sin(ang):.2f}"/>\n'
        edges += _two_way(f"a{k}", f"r{k}")
        edges += f'  <edge id="r{k}_r{(k - 1) % 4}" from="r{k}" to="r{(k - 1) % 4}" numLanes="2" speed="8.33"/>\n'
    return plain(nodes, edges, "--lefthand", "--roundabouts.guess")


# ------------------------------------------------------------------------- game networks, as they are


def game_net(net: str, *adds: str) -> NetBuilder:
    """A network of SUMO's game (tools/game; `net` under it, gzipped or not) copied as it is, with its own
    programs, and `adds` (under tools/game too: the game's program files) copied beside it as
    `{name}_{file}`, loaded as additional files."""

    def build(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        game = sumo_home() / "tools" / "game"
        src = game / net
        data = gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes()
        (out_dir / f"{name}.net.xml").write_bytes(data)
        names = []
        for add in adds:
            names.append(f"{name}_{Path(add).name}")
            shutil.copyfile(game / add, out_dir / names[-1])
        return tuple(names)

    return build


def no_yellow(program_id: str = "city") -> PostStep:
    """`{name}_noyellow.add.xml`: each light's program with every yellow shown as red (`y`, `Y` -> `r`): greens
    go straight to red, as some cities' plans with an all-red instead of an amber."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        programs = {
            tl: [Phase(p.duration_s, p.state.replace("y", "r").replace("Y", "r")) for p in phases]
            for tl, phases in read_programs(out_dir / f"{name}.net.xml").items()
        }
        _write_programs(out_dir / f"{name}_noyellow.add.xml", programs, program_id, "static")
        return (f"{name}_noyellow.add.xml",)

    return step


def offset_past_cycle(program_id: str = "city") -> PostStep:
    """`{name}_offset.add.xml`: each light's static program with an offset of two to four cycles plus a
    random part (SUMO takes it modulo the cycle)."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        rows = ["<additional>"]
        for tl, phases in sorted(read_programs(out_dir / f"{name}.net.xml").items()):
            cycle_s = sum(p.duration_s for p in phases)
            offset = rng.randint(2, 4) * cycle_s + rng.randint(1, cycle_s - 1)
            rows.append(f'    <tlLogic id="{tl}" type="static" programID="{program_id}" offset="{offset}">')
            rows += [f'        <phase duration="{p.duration_s}" state="{p.state}"/>' for p in phases]
            rows.append("    </tlLogic>")
        (out_dir / f"{name}_offset.add.xml").write_text("\n".join([*rows, "</additional>", ""]), encoding="utf-8")
        return (f"{name}_offset.add.xml",)

    return step


DEPARTS = (
    ('departLane="best"', 'departSpeed="max"'),
    ('departLane="free"', 'departSpeed="desired"'),
    ('departLane="random"', 'departPos="random_free"'),
    ('departLane="allowed"', 'departPos="last"'),
)


def depart_flows(veh_h: int = 400) -> PostStep:
    """`{name}_flows.add.xml`: flows (vehicles in an additional file, routed by SUMO at insertion) from each
    edge leaving a dead end into the network to an edge into another dead end, `veh_h` in all over the demand
    period, with departLane best / free / random / allowed, departSpeed max / desired, departPos random_free /
    last."""

    def step(out_dir: Path, name: str, rng: random.Random) -> tuple[str, ...]:
        ins, outs = _fringe_edges(out_dir / f"{name}.net.xml")
        if not ins or not outs:
            raise ValueError(f"{name}.net.xml: no edge from or to a dead end for the flows")
        rows = ["<additional>"]
        for k, (src, start) in enumerate(ins):
            dst = rng.choice([e for e, end in outs if end != start])
            attrs = " ".join(DEPARTS[k % len(DEPARTS)])
            rows.append(
                f'    <flow id="f{k}" begin="0" end="{DEMAND_S}" vehsPerHour="{veh_h / len(ins):.1f}" '
                f'from="{src}" to="{dst}" {attrs}/>'
            )
        (out_dir / f"{name}_flows.add.xml").write_text("\n".join([*rows, "</additional>", ""]), encoding="utf-8")
        return (f"{name}_flows.add.xml",)

    return step


def _fringe_edges(net: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The normal edges (id, dead end) that start at a dead end (a junction of type dead_end) and those that end
    at one, sorted by id."""
    root = ET.parse(net).getroot()
    ends = {j.get("id") for j in root.iter("junction") if j.get("type") == "dead_end"}
    edges = sorted(
        (e.get("id", ""), e.get("from", ""), e.get("to", "")) for e in root.iter("edge") if e.get("function") is None
    )
    return [(e, a) for e, a, _ in edges if a in ends], [(e, b) for e, _, b in edges if b in ends]


def midblock_crossing() -> NetBuilder:
    """A four-arm light and, 100 m west of it on the same road, a mid-block pedestrian light (a node of type
    traffic_light with a crossing over the road and no turn): sidewalks on every edge."""
    nodes = _cross_nodes() + '  <node id="m" x="-100" y="0" type="traffic_light"/>\n'
    walk = ' sidewalkWidth="2"'
    edges = _two_way("w", "m", walk) + _two_way("m", "c", walk) + _two_way("n", "c", walk) + _two_way("s", "c", walk)
    edges += _two_way("e", "c", walk)
    return plain(nodes, edges, connections='  <crossing node="m" edges="m_c c_m" priority="true"/>\n')


def unregulated_static() -> NetBuilder:
    """A netgenerate grid of `traffic_light_unregulated` lights (no foe checks between their links) given the
    static programs of the same grid built with ordinary lights (an additional file, programID `city`)."""

    def build(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        generated(*GRID, "-L", "2", "-j", "traffic_light_unregulated")(out_dir, name, seed)
        with tempfile.TemporaryDirectory() as tmp:
            generated(*GRID, "-L", "2", *SIGNAL_ALL)(Path(tmp), "regular", seed)
            programs = read_programs(Path(tmp) / "regular.net.xml")
        _write_programs(out_dir / f"{name}_city.add.xml", programs, "city", "static")
        return (f"{name}_city.add.xml",)

    return build


# -------------------------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class MessyNet:
    """One messy network; `runs` False: SUMO refuses it (an importer probe), left out of the board file."""

    name: str
    exercises: str
    network: NetBuilder
    demand: Demand = field(default_factory=lambda: Demand(900, CARS))
    extras: tuple[PostStep, ...] = ()
    runs: bool = True


def _lh(*more: str) -> tuple[str, ...]:
    return (*GRID, "--lefthand", "-L", "2", *SIGNAL_ALL, *more)


MESSY: tuple[MessyNet, ...] = (
    MessyNet(
        "lh_pockets_cross",
        "left-hand traffic, left-turn pockets, crossings and walkers, bicycles",
        generated(*_lh("--turn-lanes", "1", "--turn-lanes.length", "40"), then=(*WALK, "--lefthand")),
        Demand(900, BIKES, pedestrians_h=300),
    ),
    MessyNet(
        "lh_nema",
        "left-hand traffic with NEMA programs",
        generated(*_lh("--turn-lanes", "1", "--tls.default-type", "NEMA")),
    ),
    MessyNet(
        "lh_rtor",
        "left-hand traffic, lights of type traffic_light_right_on_red (turns on red after a stop)",
        generated(*GRID, "--lefthand", "-L", "2", "-j", "traffic_light_right_on_red"),
    ),
    MessyNet(
        "lh_roundabout_tls",
        "a left-hand roundabout signalised at every entry (four lights on one ring)",
        roundabout_lefthand(),
        Demand(900, CARS, fringe_factor=10),
    ),
    MessyNet(
        "nema_grid",
        "NEMA programs on a grid with pockets",
        generated(*GRID, "-L", "2", *SIGNAL_ALL, "--turn-lanes", "1", "--tls.default-type", "NEMA"),
    ),
    MessyNet(
        "nema_cross",
        "NEMA programs with crossings and walkers",
        generated(*GRID, "-L", "2", *SIGNAL_ALL, then=(*WALK, "--tls.rebuild", "--tls.default-type", "NEMA")),
        Demand(900, CARS, pedestrians_h=300),
    ),
    MessyNet(
        "nema_waut",
        "a WAUT starting every light on its NEMA program, to a static copy (loaded last) at 300 s",
        with_static_copy((*GRID, "-L", "2", *SIGNAL_ALL, "--turn-lanes", "1")),
        extras=(waut(("0", "static"), (300,)),),
    ),
    MessyNet(
        "act_next_names",
        "actuated programs with phase names, a next list of two, earliestEnd / latestEnd, coordinated, offsets",
        generated(*GRID, "-L", "2", *SIGNAL_ALL),
        extras=(actuated_program("actuated", "city", names_next=True),),
    ),
    MessyNet(
        "delay_named",
        "delay_based programs with phase names and a next list of two",
        generated(*GRID, "-L", "2", *SIGNAL_ALL),
        extras=(actuated_program("delay_based", "city", names_next=True),),
    ),
    MessyNet(
        "waut3",
        "three programs per light (static, actuated, short) and a WAUT with a period over two lights",
        generated(*GRID, "-L", "2", *SIGNAL_ALL),
        extras=(
            actuated_program("actuated", "act", names_next=False),
            short_program("short"),
            waut(("0", "act", "short"), (150, 300), period_s=400, lights=2),
        ),
    ),
    MessyNet(
        "layout_incoming",
        "--tls.layout incoming (one approach at a time) with pockets",
        generated(*GRID, "-L", "2", *SIGNAL_ALL, "--turn-lanes", "1", "--tls.layout", "incoming"),
    ),
    MessyNet(
        "layout_alternate",
        "--tls.layout alternateOneWay on a random network of one-way and two-way streets",
        generated(
            "--rand",
            "--rand.iterations",
            "25",
            "--rand.min-distance",
            "100",
            "--rand.max-distance",
            "200",
            "--rand.bidi-probability",
            "0.5",
            "-L",
            "2",
            *SIGNAL_ALL,
            "--tls.layout",
            "alternateOneWay",
        ),
    ),
    MessyNet(
        "group_sig",
        "--tls.group-signals: one link index for several links (pockets, crossings)",
        generated(*GRID, "-L", "2", *SIGNAL_ALL, "--turn-lanes", "1", then=(*WALK, "--tls.group-signals")),
        Demand(900, CARS, pedestrians_h=200),
    ),
    MessyNet(
        "ungroup_sig",
        "--tls.ungroup-signals on a grouped network",
        generated(
            *GRID, "-L", "2", *SIGNAL_ALL, "--turn-lanes", "1", "--tls.group-signals", then=("--tls.ungroup-signals",)
        ),
    ),
    MessyNet(
        "allred_red_lg",
        "--tls.red.time 8 --tls.allred.time 4 --tls.left-green.time 8",
        generated(
            *GRID,
            "-L",
            "2",
            *SIGNAL_ALL,
            "--turn-lanes",
            "1",
            "--tls.red.time",
            "8",
            "--tls.allred.time",
            "4",
            "--tls.left-green.time",
            "8",
        ),
    ),
    MessyNet(
        "cross_clear",
        "crossings with --tls.crossing-clearance.time 10 --tls.crossing-min.time 12",
        generated(
            *GRID,
            "-L",
            "2",
            *SIGNAL_ALL,
            then=(*WALK, "--tls.rebuild", "--tls.crossing-clearance.time", "10", "--tls.crossing-min.time", "12"),
        ),
        Demand(900, CARS, pedestrians_h=300),
    ),
    MessyNet(
        "join_far",
        "--tls.join with a 200 m distance: neighbouring lights one program",
        generated(*GRID, "-L", "2", *SIGNAL_ALL, "--tls.join", "--tls.join-dist", "200"),
    ),
    MessyNet(
        "rail_signal_near",
        "rail signals and a rail crossing 40 m from a light, trains",
        rail_near(),
        Demand(700, (("passenger", 0.9), ("rail", 0.1)), min_distance_m=100),
    ),
    MessyNet(
        "stop_neighbours",
        "an all-way stop, a zipper merge and a priority_stop 60 m from a light",
        stop_neighbours(),
        Demand(700, CARS, min_distance_m=100),
    ),
    MessyNet(
        "states_Os",
        "programs with `s` on red right turns, `O` on a right turn in every other phase, `u`, and an `o`",
        generated(*GRID, "-L", "2", *SIGNAL_ALL),
        extras=(states_program(),),
    ),
    MessyNet(
        "link_index2",
        "a left turn's internal stop with its own signal (linkIndex2)",
        linked_left_stops(*GRID, "-L", "2", *SIGNAL_ALL),
    ),
    MessyNet(
        "lanes6_perm",
        "six-lane approaches whose lanes 0 / 1 / 5 are bus / bicycle / taxi only",
        lanes6(),
        Demand(900, (("passenger", 0.75), ("bus", 0.1), ("bicycle", 0.1), ("taxi", 0.05)), min_distance_m=100),
    ),
    MessyNet(
        "tram_bidi",
        "a single-track tram line (one bidirectional track) through a light, trams both ways",
        tram_single_track(),
        Demand(800, (("passenger", 0.9), ("tram", 0.1)), min_distance_m=100),
    ),
    MessyNet(
        "off_program",
        "one light's program of type `off` loaded last (SUMO shows no signal there)",
        generated(*GRID, "-L", "2", *SIGNAL_ALL),
        extras=(off_program(),),
    ),
    MessyNet(
        "city_e2e3",
        "the city's detectors are e2 (laneAreaDetector), e3 (entryExitDetector) and instantInductionLoop only",
        generated(*GRID, "-L", "2", *SIGNAL_ALL),
        extras=(area_detectors(),),
    ),
    MessyNet(
        "zero_phase",
        "a phase of duration 0 in the programs of an additional file (SUMO refuses it: not on the board)",
        generated(*GRID, "-L", "2", *SIGNAL_ALL),
        extras=(zero_phase(),),
        runs=False,
    ),
    MessyNet(
        "game_bs3d",
        "SUMO's game bs3d network as it is: written by netconvert 0.13, its four lights' own programs",
        game_net("bs3d/bs.net.xml"),
        Demand(700, CARS, min_distance_m=100),
    ),
    MessyNet(
        "game_a10kw",
        "SUMO's game A10KW network as it is: an OSM motorway junction written by netconvert 0.27, two lights",
        game_net("A10KW/osm.net.xml"),
        Demand(900, CARS, min_distance_m=300),
    ),
    MessyNet(
        "game_corridor",
        "SUMO's game corridor network as it is: three lights along a road, their own programs",
        game_net("corridor/corridor.net.xml"),
        Demand(700, CARS, min_distance_m=100),
    ),
    MessyNet(
        "game_ramp",
        "SUMO's game ramp network as it is: one light on a motorway ramp, its own program",
        game_net("ramp/ramp.net.xml"),
        Demand(700, CARS, min_distance_m=100),
    ),
    MessyNet(
        "game_square",
        "SUMO's game square network as it is: twelve lights of a grid, their own programs",
        game_net("square/square.net.xml"),
        Demand(900, CARS),
    ),
    MessyNet(
        "game_fokr_bs",
        "SUMO's game fokr_bs junction (a real Braunschweig light, 46 links) with its city plan of 1 s "
        "sub-phases from signalPlan.add.xml, bicycles and walkers",
        game_net("fokr_bs_demo/fokr_bs.net.xml.gz", "fokr_bs_demo/signalPlan.add.xml"),
        Demand(900, BIKES, pedestrians_h=200, min_distance_m=50),
    ),
    MessyNet(
        "game_drt_osm",
        "SUMO's game DRT network as it is: an OSM city of fifteen actuated lights",
        game_net("DRT/osm.net.xml"),
        Demand(1200, CARS, min_distance_m=300),
    ),
    MessyNet(
        "no_yellow",
        "programs with no yellow: every green goes straight to red (the yellows shown as red)",
        generated(*GRID, "-L", "2", *SIGNAL_ALL, "--turn-lanes", "1"),
        extras=(no_yellow(),),
    ),
    MessyNet(
        "offset_past_cycle",
        "static programs whose offsets are two to four cycles and more",
        generated(*GRID, "-L", "2", *SIGNAL_ALL),
        extras=(offset_past_cycle(),),
    ),
    MessyNet(
        "static_mindur",
        "static programs whose greens carry minDur / maxDur (SUMO ignores them on a static program)",
        generated(*GRID, "-L", "2", *SIGNAL_ALL),
        extras=(actuated_program("static", "city", names_next=False),),
    ),
    MessyNet(
        "no_internal",
        "a network without internal links (--no-internal-links): vehicles jump the junction",
        generated(*GRID, "-L", "2", *SIGNAL_ALL, "--turn-lanes", "1", "--no-internal-links"),
    ),
    MessyNet(
        "depart_lanes",
        "flows in an additional file with departLane best / free / random / allowed, departSpeed max, "
        "departPos random_free / last, beside the routed demand",
        generated(*GRID, "-L", "3", *SIGNAL_ALL, "--turn-lanes", "1"),
        Demand(500, CARS),
        extras=(depart_flows(),),
    ),
    MessyNet(
        "midblock_crossing",
        "a mid-block pedestrian light (a crossing over the road, no junction) 100 m from a four-arm light",
        midblock_crossing(),
        Demand(700, CARS, pedestrians_h=300, min_distance_m=100),
    ),
    MessyNet(
        "unregulated_static",
        "lights of type traffic_light_unregulated (no foes between links) running ordinary static programs",
        unregulated_static(),
    ),
)


def by_name() -> dict[str, MessyNet]:
    return {m.name: m for m in MESSY}


def seed_of(name: str) -> int:
    return SEED0 + [m.name for m in MESSY].index(name)


def cfg_path(out: Path, name: str) -> Path:
    return out / name / f"{name}.sumocfg"


def build(net: MessyNet, out: Path) -> Path:
    """out/NAME (built in a temporary sibling, moved into place whole; already there: left as is); its
    .sumocfg. A failing tool raises MessyError naming the network, the tool and its error line."""
    cfg = cfg_path(out, net.name)
    if cfg.is_file():
        return cfg
    scenario = CorpusNet(net.name, seed_of(net.name), net.exercises, net.network, net.demand, net.extras, 0, DEMAND_S)

    def make(d: Path) -> None:
        try:
            build_scenario(scenario, d)
        except SystemExit as e:
            raise MessyError(f"messy network {net.name}: {tool_failure(e)}") from e
        except (OSError, ValueError, StopIteration, ET.ParseError) as e:
            raise MessyError(f"messy network {net.name}: {type(e).__name__}: {e}") from e

    staged(cfg.parent, make)
    return cfg


def write_board(out: Path) -> Path:
    """out/messy.txt: `name cfg end_s` for each runnable network of the catalogue built in `out`, in its order."""
    lines = [
        f"{m.name} {cfg_path(out, m.name).resolve()} {RUN_S}"
        for m in MESSY
        if m.runs and cfg_path(out, m.name).is_file()
    ]
    path = out / "messy.txt"
    head = f"# messy networks: {len(lines)}, name cfg end_s (python -m sim.scenarios.messy --out {out.resolve()})\n"
    path.write_text(head + "".join(ln + "\n" for ln in lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None, say: Callable[[str], None] = print) -> int:
    p = argparse.ArgumentParser(description="Build the messy networks (issue 9) and their board file.")
    p.add_argument("--out", type=Path, required=True, help="destination folder (what is built there is kept)")
    p.add_argument("names", nargs="*", help="networks to build (default: all)")
    args = p.parse_args(argv)
    known = by_name()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"error: unknown messy network(s) {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 1
    names = args.names or list(known)
    try:
        for name in names:
            cfg = cfg_path(args.out, name)
            if cfg.is_file():
                say(f"{name}: built ({cfg})")
                continue
            say(f"{name}: building ...")
            say(f"{name}: {build(known[name], args.out)}")
    except MessyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    say(f"board: {write_board(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(say=lambda s: print(s, flush=True)))

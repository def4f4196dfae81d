"""SUMO network -> one editable TOML per signalised junction (offline: sumolib, no SUMO process).

What is derived, and how (docs/import.md has the rules with their reasons):
- the program: the one SUMO runs, the last loaded for the traffic light (the additional files,
  in order, after the network's own); its stages, intergreens and link classes come from
  sim/netprogram.py (sub-phases merged, one phase per green link set, every signal letter);
- phases (sim/netstages.py): the green stages, with min/max green from config.toml widened to
  include the program's own greens, and pedestrian minimums from the crossings they serve;
- movements and conflicts (sim/netmovements.py): incoming lanes grouped by (incoming edge,
  turn direction of SUMO's connection). Links the program never stops (green or off in every
  phase) and links never green in a stage are no movement. One traffic light over several
  nodes (a joined cluster) is one junction with the movements of all its nodes. Two movements
  conflict when no green stage of the program serves both;
- detectors (sim/netdetectors.py, sim/loops.py): a stop-line and an advance loop per incoming
  lane, or the city's own loops; a movement's storage is the distance to its lanes' advance loops;
- neighbours (sim/netneighbours.py): the nearest imported junctions up- and downstream, through
  unsignalised nodes.
- links over unsignalised edges (sim/netlinks.py): where a movement's exit edge ends at no light,
  the next light's approach it leads to, with the chain's storage and the streams joining it.

A traffic light that cannot be controlled safely (no program, fewer than two green stages, a
program that does not fit the network's links, stages whose minimum greens alone exceed the
longest cycle, a model that does not validate) is skipped with
the reason: it stays on its own program, and skipped.txt in the output folder lists it (when
no light can be controlled, no junction file is written and the scenario runs on its own
programs).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import replace
from itertools import product
from pathlib import Path
from typing import Any

import sumolib

from controller.config import Config, TimingConfig
from controller.core import pairs, shadow
from controller.errors import JunctionError, NetworkError
from controller.junctions import parse_intersection
from controller.model import Intersection, ProgramTiming, crossing_pairs_s, derived_intergreen_s
from sim import loops, netdetectors, netlinks, netmovements, netneighbours, netprogram, netstages, xmlfiles
from sim.importfiles import SKIPPED_FILE, ImportResult, NoTrafficLights, file_texts, read_skipped, write_import
from sim.netdetectors import DETECTOR_SOURCES
from sim.netprogram_waut import OtherPrograms

log = logging.getLogger(__name__)

__all__ = [
    "DETECTOR_SOURCES",
    "SKIPPED_FILE",
    "ImportResult",
    "NoTrafficLights",
    "file_texts",
    "import_net",
    "import_network",
    "junction_tables",
    "read_net",
    "read_skipped",
    "write_import",
]


def read_net(path: str | Path) -> sumolib.net.Net:
    """The SUMO network at `path`, with its programs and pedestrian connections. Raises
    NetworkError naming the file when it is missing, unreadable or not a network."""
    p = Path(path)
    if not p.is_file():
        raise NetworkError(str(p), "-", "file not found")
    try:
        tag = xmlfiles.root_tag(p)
        if tag == "net":  # sumolib reads any XML as an empty network: the root tells
            return sumolib.net.readNet(str(p), withPrograms=True, withPedestrianConnections=True)
    except Exception as exc:  # sumolib raises plain SAX/parse errors
        raise NetworkError(str(p), "-", f"not a readable SUMO network: {exc}") from None
    hint = (
        ": a SUMO configuration (simulate and import-net take one; a network goes here)"
        if tag == "configuration"
        else ""
    )
    raise NetworkError(str(p), "-", f"not a SUMO network: its root element is <{tag}>, not <net>{hint}")


def junction_tables(
    net: sumolib.net.Net,
    cfg: Config,
    net_path: str,
    additional: list[Path] | None = None,
    detectors: str = "generated",
    begin_s: float | None = None,
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The TOML tables of every signalised junction that can be controlled, sorted by id, and
    the (id, reason) of those that cannot. Raises NetworkError for an unknown `detectors`, an
    unreadable additional file, or a network without traffic lights."""
    with loops.feeders_memo():  # the loop rules read the same lanes' feeders again and again
        return _junction_tables(net, cfg, net_path, additional, detectors, begin_s)


def _junction_tables(
    net: sumolib.net.Net,
    cfg: Config,
    net_path: str,
    additional: list[Path] | None,
    detectors: str,
    begin_s: float | None,
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    netdetectors.check_source(net_path, detectors)
    files = list(additional or [])
    at_begin_s = begin_s if cfg.timing.waut_program_at_begin else None
    programs = netprogram.active_programs(net, net_path, files, at_begin_s)
    src = netdetectors.loop_source(net, cfg, files, detectors)
    responses = netmovements.right_of_way(net_path)  # one pass over the file for every light's yields
    paths_m = netmovements.internal_paths_m(net_path) if cfg.timing.cyclist_clearance else {}
    others = OtherPrograms(net_path, files)  # the programs a WAUT may switch a light to
    tables, skipped, nodes_of = [], [], {}
    for tl in sorted(net.getTrafficLights(), key=lambda t: t.getID()):
        try:
            table, nodes, derived_phases = _junction_table(net, tl, programs[tl.getID()], cfg, src, responses, others)
            if paths_m:  # [timing] cyclist_clearance: each movement's crossing time for a cyclist
                netmovements.add_cyclist_clear(table["movements"], tl, paths_m, cfg.timing.cyclist_speed_mps)
            junction = _loaded(table, derived_phases, f"{net_path}#{tl.getID()}")
            _drop_timeline_if_base(table, junction)
        except (netstages.NotControllable, JunctionError) as exc:
            skipped.append((tl.getID(), str(exc)))
            continue
        except Exception as exc:  # never a crash: the junction stays on its own program
            skipped.append((tl.getID(), f"import failed: {type(exc).__name__}: {exc}"))
            continue
        tables.append(table)
        nodes_of[tl.getID()] = nodes
    if not tables and not skipped:
        raise NoTrafficLights(net_path, "tlLogic", "the network has no traffic lights to control")
    tls_of_node = netneighbours.tls_of_nodes(net)
    netneighbours.add_neighbours(tables, nodes_of, tls_of_node)
    netlinks.add_reach(tables, net, tls_of_node, cfg.detectors.vehicle_spacing_m)
    d = cfg.detectors
    link_m = netneighbours.coupling_length_m(
        d.vehicle_spacing_m, cfg.timing.min_green_s, cfg.saturation.through_pcu_h_lane, d.coupled_by_min_green
    )
    netneighbours.add_coupled(tables, nodes_of, tls_of_node, link_m)
    if d.pair_one_program:
        pair_m = netneighbours.coupling_length_m(
            d.vehicle_spacing_m, cfg.timing.min_green_s, cfg.saturation.through_pcu_h_lane, True
        )
        netneighbours.add_paired(tables, nodes_of, tls_of_node, pair_m, _one_timeline)
    return tables, skipped


def _loaded(table: dict[str, Any], derived_phases: list[dict[str, Any]] | None, where: str) -> Intersection:
    """The junction as the loader reads the table (_parsed); where it refused the program's transitions, the
    table's greens as without them (`derived_phases`, _junction_table's)."""
    junction = _parsed(table, where)
    if "transitions" not in table and derived_phases is not None:  # refused: greens as without them
        table["phases"] = derived_phases
        table.pop("crossing_links", None)
        junction = _parsed(table, where)
    return junction


def _one_timeline(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The two junction tables' programs run one timeline (controller/core/pairs.py stage_map)."""
    try:
        ja, jb = parse_intersection(a, a["id"]), parse_intersection(b, b["id"])
    except JunctionError:
        return False
    return pairs.stage_map(ja, jb) is not None


def _cycle_min_s(
    plan: netprogram.StagePlan, phases: list[dict[str, Any]], yellow_s: float, all_red_s: float, config_s: float
) -> float:
    """The configured shortest cycle, or the actuated program's own when shorter: its stages at
    their minimum greens, each followed by a yellow and an all-red (the city runs that cycle, so
    the gate must accept it)."""
    if all(st.min_green_s is None for st in plan.stages):
        return config_s
    own_s: float = sum(p["min_green_s"] for p in phases) + len(phases) * (yellow_s + all_red_s)
    return round(min(config_s, own_s), 3)


def _no_program_reason(tl: sumolib.net.TLS) -> str:
    """Why a traffic light without a program is left alone: a rail signal (SUMO switches it from
    the occupancy of the track blocks, it has no tlLogic) is named as one."""
    types = {c[0].getEdge().getToNode().getType() for c in tl.getConnections()}
    if types and types <= {"rail_signal", "rail_crossing"}:
        return f"a {' and '.join(sorted(t.replace('_', ' ') for t in types))}: SUMO drives it, it has no signal program"
    return "traffic light without a program"


_Table = tuple[dict[str, Any], set[sumolib.net.node.Node], list[dict[str, Any]] | None]


def _junction_table(
    net: sumolib.net.Net,
    tl: sumolib.net.TLS,
    program: netprogram.Program | None,
    cfg: Config,
    src: netdetectors.LoopSource,
    responses: dict[str, dict[int, str]],
    others: OtherPrograms,
) -> _Table:
    """One junction's TOML table (neighbours still empty), the nodes it controls, and, where the table has the
    program's own transitions, its phases as without them (their base greens follow the derived intergreens: the
    phases to write if the loader refuses the transitions). `responses`: the network file's right of way (for
    add_yields); `others`: _stage_plan's. Raises NotControllable when the light cannot be controlled safely.
    Where its stages at their minimum greens take longer than the longest cycle (netstages.CycleTooLong), the
    model with the program's staggered starts merged (netprogram.staggered_starts; docs/import.md rule 12)."""
    if program is None:
        raise netstages.NotControllable(_no_program_reason(tl))
    try:
        return _table_of(net, tl, program, cfg, src, responses, others, False)
    except netstages.CycleTooLong as exc:
        if not netprogram.staggered_starts(netprogram.merge_runs(program.phases)):
            raise
        try:
            out = _table_of(net, tl, program, cfg, src, responses, others, True)
        except netstages.NotControllable as merged:
            raise netstages.NotControllable(f"{exc}; with its staggered starts merged: {merged}") from None
        try:
            junction = _loaded(out[0], out[2], f"{tl.getID()}")
        except JunctionError as refused:
            raise netstages.NotControllable(f"{exc}; with its staggered starts merged: {refused}") from None
        try:
            netstages.check_staggered_clearances(junction, program)
        except netstages.NotControllable as short:
            raise netstages.NotControllable(f"{exc}; {short}") from None
        return out


def _table_of(
    net: sumolib.net.Net,
    tl: sumolib.net.TLS,
    program: netprogram.Program,
    cfg: Config,
    src: netdetectors.LoopSource,
    responses: dict[str, dict[int, str]],
    others: OtherPrograms,
    merge_staggered: bool,
) -> _Table:
    """_junction_table's, from the program's stage plan (`merge_staggered`: netprogram.stage_plan's)."""
    plan, n_links, timings = _stage_plan(tl, program, cfg, others, merge_staggered)
    conns = netmovements.connections(tl, n_links, plan.never_green | plan.free_links)
    if not conns.vehicle:
        raise netstages.NotControllable("controls no vehicle link that its program ever stops and lets go")
    t = cfg.timing
    lanes = sorted({c.lane for c in conns.vehicle})
    detectors, storage_m = netdetectors.junction_loops(net, tl.getID(), lanes, src)
    yellow_s, all_red_s, timings = _covering_programs(tl, plan, t, timings, others)
    plan = _with_crossing_clearances(plan, program, conns, t, yellow_s + all_red_s)
    if t.pair_intergreens:  # each conflicting pair's intergreen in the city's programs (docs/import.md rule 5)
        programs = [program.phases, *others.phases_of(tl.getID())]
        plan = _with_pair_intergreens(plan, tl, programs, conns, (yellow_s, all_red_s, t.min_green_s))
    # the program's clearances and transitions change intergreens and base greens, not minimum greens
    floors = netprogram.aligned_greens_s(replace(plan, clearance_s=(), transitions=()), yellow_s, all_red_s)
    city_s = _crossing_greens_s(program, conns.crossing_m) if t.ped_min_from_program else None

    def phase_tables(p: netprogram.StagePlan) -> list[dict[str, Any]]:
        stages, caps = _aligned_stages(p, yellow_s, all_red_s, city_s)
        return [netstages.phase_table(st, conns.crossing_m, t, f, c) for st, f, c in zip(stages, floors, caps)]

    phases = phase_tables(plan)
    movements = netmovements.movements(net, conns.vehicle, cfg, storage_m, [ph["state"] for ph in phases])
    if t.car_movements_skip_restricted_lanes:  # the loops of a lane left out of every movement go with it
        used = {lane for m in movements for lane in m["lanes"]}
        detectors = [d for d in detectors if d["lane"] in used]
    derived = phase_tables(replace(plan, transitions=())) if plan.transitions else None
    cycle_max_s = max(t.cycle_max_s, plan.cycle_s)
    netstages.check_minimum_cycle(phases, cycle_max_s)
    netmovements.add_conflicts(movements, phases)
    netmovements.add_yields(tl, movements, responses)
    table = {
        "id": tl.getID(),
        "n_links": n_links,
        "yellow_s": yellow_s,
        "all_red_s": all_red_s,
        "cycle_min_s": _cycle_min_s(plan, phases, yellow_s, all_red_s, t.cycle_min_s),
        "cycle_max_s": cycle_max_s,
        "max_red_s": max(t.max_red_s, plan.cycle_s),
        "base_offset_s": round((program.offset_s + plan.first_green_s) % max(plan.cycle_s, 1e-9), 3),
        "upstream": [],
        "downstream": [],
        "coupled": [],
        "phases": phases,
        "movements": movements,
        "detectors": detectors,
    }
    _add_program_fields(table, program, plan, conns.crossing_m, t, timings)
    return table, conns.nodes, derived


def _covering_programs(
    tl: sumolib.net.TLS,
    plan: netprogram.StagePlan,
    t: TimingConfig,
    timings: tuple[ProgramTiming, ...],
    others: OtherPrograms,
) -> tuple[float, float, tuple[ProgramTiming, ...]]:
    """_covering's yellow and all-red, and `timings` with each program's base greens in the model's stages (the
    plan's; OtherPrograms.with_greens) under them."""
    yellow_s, all_red_s = _covering(plan, t, timings)
    return yellow_s, all_red_s, others.with_greens(tl.getID(), timings, plan, yellow_s, all_red_s)


def _covering(plan: netprogram.StagePlan, t: TimingConfig, timings: tuple[ProgramTiming, ...]) -> tuple[float, float]:
    """The junction's yellow and all-red: the longest of its program's (the configured ones where it shows none)
    and of the other programs a WAUT may switch the light to (`timings`, the file's `programs`), which the model's
    intergreens must cover (docs/import.md, "Time-of-day programs"). A program with no yellow but an all-red (its
    greens go straight to red) clears with that red: the model's change, the configured yellow and then the all-red,
    is the longer of the two, not their sum (docs/import.md rule 5)."""
    own_yellow_s = plan.yellow_s or t.yellow_s
    own_red_s = plan.all_red_s or t.all_red_s
    if not plan.yellow_s and plan.all_red_s:
        own_red_s = max(plan.all_red_s - own_yellow_s, 0.0)
    yellow_s = max([own_yellow_s, *(p.yellow_s for p in timings)])
    all_red_s = max([own_red_s, *(p.all_red_s for p in timings)])
    return yellow_s, all_red_s


def _with_crossing_clearances(
    plan: netprogram.StagePlan,
    program: netprogram.Program,
    conns: netmovements.Connections,
    t: TimingConfig,
    limit_s: float,
) -> netprogram.StagePlan:
    """The plan with its crossings' clearances ([timing] ped_min_from_program; netprogram.crossing_clearances_s): the
    program's time from the end of a crossing's green to the end of the intergreen after it where longer than
    `limit_s`, kept after the crossing's green at every change that stops it and starts a link never green with it
    (docs/import.md rule 7): the program's walk in green, then its clearance. The plan itself without the key."""
    if not t.ped_min_from_program:
        return plan
    clear = netprogram.crossing_clearances_s(program.phases, conns.crossing_m, limit_s)
    return replace(plan, crossing_clearance_s=clear)


def _add_crossings(table: dict[str, Any], crossing_m: dict[int, float]) -> None:
    """[timing] crossings_max_red (`crossing_m`: the crossings' links, none without the key): the crossings some
    stage greens, as `crossings` (the loader makes each a movement, its red at most max_red_s); no key without one."""
    served = {i for ph in table["phases"] for i, c in enumerate(ph["state"]) if c in "Gg"}
    crossings = sorted(i for i in crossing_m if i in served)
    if crossings:
        table["crossings"] = crossings


def _aligned_stages(
    plan: netprogram.StagePlan, yellow_s: float, all_red_s: float, city_s: dict[int, float] | None
) -> tuple[list[netprogram.Stage], list[dict[int, float] | None]]:
    """The plan's stages with the base greens that run SUMO's timeline (netprogram.aligned_greens_s), and per stage
    its crossings' caps ([timing] ped_min_from_program, _crossing_caps_s)."""
    greens = netprogram.aligned_greens_s(plan, yellow_s, all_red_s)
    stages = [replace(st, base_green_s=g) for st, g in zip(plan.stages, greens)]
    return stages, _crossing_caps_s(plan, greens, city_s)


def _crossing_caps_s(
    plan: netprogram.StagePlan, greens_s: tuple[float, ...], city_s: dict[int, float] | None
) -> list[dict[int, float] | None]:
    """Per stage, by crossing link, the most its pedestrian minimum may be ([timing] ped_min_from_program; None
    without): the crossing's shortest program green (`city_s`), less, where the change to the next stage stops
    only crossings and starts no link (no program transition), the seconds of the stage's program green that
    change takes. The model shows the crossings yellow there (controller/model.py derived_intergreen_s) while the
    program shows them green and every vehicle link keeps its green: netconvert's crossing part of 13 s is the
    model's 10 s green and 3 s yellow, then the part with the crossings red (their clearance). Without it the
    minimum (13 s) is above the base green (10 s), so the model's own run of the city's program breaks it and
    every cycle at the minimums is longer than the city's (docs/import.md rule 7)."""
    if city_s is None:
        return [None] * len(plan.stages)
    n, kept = len(plan.stages), {(a, b) for a, b, _ in plan.transitions}
    green = [{i for i, c in enumerate(st.state) if c in "Gg"} for st in plan.stages]
    out: list[dict[int, float] | None] = []
    for k, (stage, green_s) in enumerate(zip(plan.stages, greens_s)):
        after = green[(k + 1) % n]
        stopped, started = green[k] - after, after - green[k]
        only_crossings = bool(stopped) and stopped <= city_s.keys() and not started and (k, (k + 1) % n) not in kept
        taken_s = max(0.0, stage.base_green_s - green_s) if only_crossings else 0.0
        out.append({i: max(0.0, s - taken_s) if i in stopped else s for i, s in city_s.items()})
    return out


def _crossing_greens_s(program: netprogram.Program, crossing_m: dict[int, float]) -> dict[int, float]:
    """By crossing link, the shortest green the program gives it ([timing] ped_min_from_program)."""
    greens = {i: netprogram.shortest_green_s(program.phases, i) for i in crossing_m}
    return {i: g for i, g in greens.items() if g is not None}


def _with_pair_intergreens(
    plan: netprogram.StagePlan,
    tl: sumolib.net.TLS,
    programs: list[tuple[netprogram.ProgramPhase, ...]],
    conns: netmovements.Connections,
    timing: tuple[float, float, float],
) -> netprogram.StagePlan:
    """The plan with its pairs of conflicting vehicle links whose intergreen in the city's programs (the longest
    over the light's programs, netprogram.pair_intergreens_s; SUMO's foes the conflict) is longer than the change
    the model would run without it (the junction's yellow_s + all_red_s, or the plan's clearance_s where it lists
    the pair): every change that stops the first and starts the second keeps it (docs/import.md rule 5). `timing`:
    the junction's yellow_s and all_red_s, and the configured minimum green (the longest staggered start read as
    part of a change)."""
    yellow_s, all_red_s, lead_max_s = timing
    vehicle = {c.link for c in conns.vehicle}
    conflict = _foes(tl, vehicle)
    longest: dict[tuple[int, int], float] = {}
    for phases in programs:
        for pair, s in netprogram.pair_intergreens_s(phases, conflict, yellow_s, lead_max_s).items():
            longest[pair] = max(s, longest.get(pair, 0.0))
    short = {(i, k): s for i, k, s in plan.clearance_s}
    whole_s = yellow_s + all_red_s
    keep = tuple((i, k, s) for (i, k), s in sorted(longest.items()) if s > short.get((i, k), whole_s) + 1e-9)
    return replace(plan, pair_intergreen_s=keep)


def _foes(tl: sumolib.net.TLS, links: set[int]) -> Callable[[int, int], bool]:
    """Whether two of the light's `links` (signal link indices) conflict: some connection of one and some of the
    other cross or merge at the same node (SUMO's foes in the network's right-of-way requests)."""
    at: dict[int, list[tuple[sumolib.net.node.Node, int]]] = {}
    for in_lane, out_lane, link in tl.getConnections():
        if link not in links:
            continue
        for c in in_lane.getOutgoing():
            if c.getToLane() is out_lane and c.getTLLinkIndex() == link:
                at.setdefault(link, []).append((c.getJunction(), c.getJunctionIndex()))

    def conflict(i: int, k: int) -> bool:
        return any(
            n is m and x >= 0 and y >= 0 and (_foe(n, x, y) or _foe(n, y, x))
            for n, x in at.get(i, [])
            for m, y in at.get(k, [])
        )

    return conflict


def _foe(node: sumolib.net.node.Node, x: int, y: int) -> bool:
    """Request x of the node lists y among its foes (a node without requests read: none)."""
    foes = node._foes.get(x, "")  # sumolib keeps them unexposed; areFoes fails on a missing row
    return len(foes) > y and foes[len(foes) - y - 1] == "1"


def _stage_plan(
    tl: sumolib.net.TLS, program: netprogram.Program, cfg: Config, others: OtherPrograms, merge_staggered: bool = False
) -> tuple[netprogram.StagePlan, int, tuple[ProgramTiming, ...]]:
    """The light's stage plan from its program, its number of links and the other programs a WAUT may switch it
    to (others.of), without the program's own clearances or transitions where [timing] program_clearances /
    program_transitions are off, and without its clearances where there are such programs (they would shorten
    changes those programs need whole). Raises NotControllable (netstages.checked_stage_plan) when its stages
    cannot be run safely, or when a program its WAUT may switch it to cannot be read."""
    plan, n_links = netstages.checked_stage_plan(tl, program, merge_staggered)
    try:
        timings = others.of(tl, program.program_id)
    except ValueError as exc:
        raise netstages.NotControllable(f"a program its WAUT may switch it to: {exc}") from None
    if timings or not cfg.timing.program_clearances:
        plan = replace(plan, clearance_s=())
    if not cfg.timing.program_transitions:
        plan = replace(plan, transitions=())
    return plan, n_links, timings


def _add_program_fields(
    table: dict[str, Any],
    program: netprogram.Program,
    plan: netprogram.StagePlan,
    crossing_m: dict[int, float],
    t: TimingConfig,
    timings: tuple[ProgramTiming, ...] = (),
) -> None:
    """The keys of a junction's table that only some programs give it, added to `table` in this order: actuated,
    the program's own clearances, the crossings its transitions stop (of `crossing_m`'s, with [timing]
    crossing_red_is_clearance; none without), its transitions, its roadside timeline, with [timing]
    crossings_max_red its crossings (_add_crossings), the other programs a WAUT may switch it to (`timings`) and,
    with [timing] crossing_transitions (ped_min_from_program off), the transitions keeping a crossing's clearance
    (_add_crossing_transitions) with the crossing-red parts and minimums that go with them."""
    crossings = set(crossing_m) if t.crossing_red_is_clearance else set()
    if program.actuated:  # [webster]/[scats] keep_actuated refuse it (requirements.actuated_refusal)
        table["actuated"] = True
    if plan.clearance_s:  # the program's own intergreens where shorter than the uniform one
        table["clearance_s"] = {f"{i}>{j}": s for i, j, s in plan.clearance_s}
    if plan.crossing_clearance_s:  # a crossing's clearance where longer than the uniform intergreen (rule 7)
        table["crossing_clearance_s"] = {str(i): s for i, s in plan.crossing_clearance_s}
    if plan.pair_intergreen_s:  # conflicting vehicle links the program keeps apart longer (rule 5)
        table["pair_intergreen_s"] = {f"{i}>{k}": s for i, k, s in plan.pair_intergreen_s}
    stopped = {i for a, b, _ in plan.transitions for i in crossings if _stops(plan, a, b, i)}
    if stopped:  # a crossing shows no yellow: the loader reads the red after its green as its clearance
        table["crossing_links"] = sorted(stopped)
    if plan.transitions:  # the program's own transitions between stages (docs/import.md rule 11)
        table["transitions"] = [
            {
                "from_phase": a,
                "to_phase": b,
                "states": [p.state for p in run],
                "durations_s": [round(p.duration_s, 3) for p in run],
            }
            for a, b, run in plan.transitions
        ]
    timeline = netprogram.roadside_timeline(program, plan)
    if timeline:  # kept only where the base program does not run it (_drop_timeline_if_base)
        table["program_timeline"] = {"phases": [k for k, _ in timeline], "durations_s": [d for _, d in timeline]}
    _add_crossings(table, crossing_m if t.crossings_max_red else {})
    if timings:  # the intergreens cover them (controller/junctions.py); the modelled one named beside them
        table["program_id"] = program.program_id
        table["programs"] = [_program_row(p) for p in timings]
    kept = t.crossing_transitions and not t.ped_min_from_program  # with it, as all-red (crossing_clearance_s)
    if kept:
        _add_crossing_transitions(table, program, crossing_m)
    if "crossing_links" in table:
        _crossings_red_at_once(table, plan, program, crossing_m)
    elif kept:  # no transition written: the red parts entered through the derived change keep the clearance
        _raise_red_parts(table, program, crossing_m)
    if kept:
        _credit_crossing_clearances(table, crossing_m, t)


def _crossings_red_at_once(
    table: dict[str, Any], plan: netprogram.StagePlan, program: netprogram.Program, crossing_m: dict[int, float]
) -> None:
    """With `crossing_links` a change that stops only crossings and starts nothing is immediate (the program's
    change into its crossing-red part: SUMO's crossings show no yellow; controller/model.py stops_crossings_only):
    the base greens are aligned again with it (the seconds the derived yellow took go back to the crossing stage),
    and each stage such a change enters (the crossing-red part) holds at least the crossing's clearance in the
    program less the shortest way from it to a link the crossing is never green with (_walkers_after_s): the
    program's red part, not a pedestrian minimum (docs/import.md rule 7)."""
    phases, links = table["phases"], frozenset(table["crossing_links"])
    y, r = table["yellow_s"], table["all_red_s"]
    for ph, g in zip(phases, netprogram.aligned_greens_s(plan, y, r, links)):
        ph["base_green_s"] = g
        ph["max_green_s"] = max(ph["max_green_s"], g)
    _raise_red_parts(table, program, crossing_m)


def _raise_red_parts(table: dict[str, Any], program: netprogram.Program, crossing_m: dict[int, float]) -> None:
    """Each stage a change that stops only crossings and starts nothing enters (the crossing-red part) held at least
    the crossing's clearance in the program (netprogram.crossing_clearances_s, else yellow_s + all_red_s) less the
    shortest way from the crossing's stage through it to a link the crossing is never green with (_walkers_after_s):
    where the program leaves the clearance to its red part's seconds and its own change after it is short
    (game_drt_osm: a 5 s red part, then 3 s of yellow), the red part's minimum holds the rest."""
    phases, y, r = table["phases"], table["yellow_s"], table["all_red_s"]
    clear = dict(netprogram.crossing_clearances_s(program.phases, crossing_m, y + r))
    for _ in phases:  # each pass raises the short red parts; a raised one may shorten no other's way
        try:
            j = parse_intersection(table, "")
        except JunctionError:  # the import drops what the loader refuses (_parsed): no way to count on
            return
        short = _short_red_parts_s(j, clear, y + r, frozenset(crossing_m))
        if not short:
            return
        for k, more_s in short.items():
            phases[k]["min_green_s"] = round(phases[k]["min_green_s"] + more_s, 2)
            phases[k]["max_green_s"] = max(phases[k]["max_green_s"], phases[k]["min_green_s"])


def _short_red_parts_s(
    j: Intersection, clear: dict[int, float], whole_s: float, crossings: frozenset[int]
) -> dict[int, float]:
    """Per stage entered from a crossing's stage by a change that stops only `crossings` and starts nothing (at
    once with crossing_links: stops_crossings_only; else through the derived change), the seconds its minimum green
    is short of keeping that crossing's clearance (`clear`, else `whole_s`) before a link it is never green with."""
    greens = [ph.green_links() for ph in j.phases]
    every = frozenset().union(*greens)
    out: dict[int, float] = {}
    for a, b in product(range(len(greens)), range(len(greens))):
        stopped = greens[a] - greens[b]
        if a == b or not stopped or greens[b] - greens[a] or not stopped <= crossings:
            continue
        for i in greens[a] - greens[b]:
            foes = every - frozenset().union(*(g for g in greens if i in g))
            after_s = _walkers_after_s(j, a, i, foes)
            if math.isfinite(after_s) and after_s < clear.get(i, whole_s) - 1e-9:
                out[b] = max(out.get(b, 0.0), clear.get(i, whole_s) - after_s)
    return out


def _add_crossing_transitions(table: dict[str, Any], program: netprogram.Program, crossing_m: dict[int, float]) -> None:
    """A crossing's clearance after its green, the program's way ([timing] crossing_transitions; docs/import.md
    rule 7): each change that stops a crossing and starts a link never green with it, where its intergreen is shorter
    than the crossing's clearance in the program (netprogram.crossing_clearances_s), gets a transition: the crossings
    it stops red and every other link as before (the program's crossing-red part), then the derived yellow and
    all-red, at least that clearance in all, and each pair of vehicle links the change stops and starts kept apart at
    least its `pair_intergreen_s` ([timing] pair_intergreens) as the derived change keeps it. The program's own
    changes (a stage to the next) and transitions are left as they are; the crossings those transitions stop are
    written as `crossing_links` (they show no yellow). Where the loader refuses them, the junction keeps what it had
    and the import's log names it (_keep_if_loaded)."""
    y, r, states = table["yellow_s"], table["all_red_s"], [ph["state"] for ph in table["phases"]]
    clear = netprogram.crossing_clearances_s(program.phases, crossing_m, y + r)
    if not clear or len(states) < 3:
        return
    greens = [frozenset(i for i, c in enumerate(s) if c in netprogram.STAGE_GREEN) for s in states]
    walkers = crossing_pairs_s(greens, clear)
    program_s, held_s = _pair_tables(table)
    own = table.get("transitions", [])
    kept = {(tr["from_phase"], tr["to_phase"]) for tr in own}
    added: list[dict[str, Any]] = []
    stopped_all: set[int] = set()
    for (a, ga), (b, gb) in product(enumerate(greens), enumerate(greens)):
        if a == b or b == (a + 1) % len(greens) or (a, b) in kept:
            continue
        crossings = (ga - gb) & crossing_m.keys()
        need_s = max((walkers.get((i, k), 0.0) for i in crossings for k in gb - ga), default=0.0)
        if need_s <= derived_intergreen_s(ga, gb, y, r, program_s, held_s)[0] + 1e-9:
            continue
        held = "".join("r" if i in crossings else c for i, c in enumerate(states[a]))
        ig_s, all_red_s = derived_intergreen_s(ga - crossings, gb, y, r, program_s, held_s)
        run = [(held, round(need_s - ig_s, 3))]
        if ig_s > 0:
            run += _derived_change(held, states[b], gb, ig_s - all_red_s, all_red_s)
        added.append(
            {"from_phase": a, "to_phase": b, "states": [s for s, _ in run], "durations_s": [d for _, d in run]}
        )
        stopped_all |= crossings
    if added:
        _keep_if_loaded(table, own + added, sorted(stopped_all | set(table.get("crossing_links", []))))


def _pair_tables(table: dict[str, Any]) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], float]]:
    """A junction table's `clearance_s` and `pair_intergreen_s` by pair of links, as derived_intergreen_s reads them
    (its `clearance_s` and `held_s`; Intersection.clearance_pairs, without crossing_clearance_s: not written with
    [timing] crossing_transitions)."""

    def by_pair(field: str) -> dict[tuple[int, int], float]:
        return {(int(k.split(">")[0]), int(k.split(">")[1])): s for k, s in table.get(field, {}).items()}

    return by_pair("clearance_s"), by_pair("pair_intergreen_s")


def _keep_if_loaded(table: dict[str, Any], transitions: list[dict[str, Any]], crossing_links: list[int]) -> None:
    """`table` with these transitions and crossing_links where the loader takes it; where it refuses it, the table as
    it was, and a warning naming the junction and the loader's reason (_add_crossing_transitions)."""
    before: dict[str, Any] = {key: table[key] for key in ("transitions", "crossing_links") if key in table}
    table["transitions"], table["crossing_links"] = transitions, crossing_links
    try:
        parse_intersection(table, "")
    except JunctionError as exc:
        table.pop("transitions")
        table.pop("crossing_links")
        table.update(before)
        log.warning("junction %s: its crossing transitions left out, the loader refuses them (%s)", table["id"], exc)


def _credit_crossing_clearances(table: dict[str, Any], crossing_m: dict[int, float], t: TimingConfig) -> None:
    """A crossing stage's pedestrian minimum less the clearance the model keeps after its green beyond yellow_s +
    all_red_s ([timing] crossing_transitions; docs/import.md rule 7). The minimum holds the walk and the whole
    crossing time in green, then every change runs at least yellow_s + all_red_s before a link the crossing is never
    green with starts; where every way out of the stage keeps the crossing longer than that (the transitions of
    _add_crossing_transitions: the program's crossing-red part), the walker who starts at the end of the walk has
    the same time to the far kerb before those links start with the green that much shorter. The way out is the
    shortest over the model's changes (_walkers_after_s: a stage entered that keeps the crossing red is held at
    least its minimum green); a stage whose minimum would shorten another crossing's way keeps its own."""
    phases = table["phases"]
    crossed = [k for k, ph in enumerate(phases) if ph.get("ped_min_green_s", 0.0) > 0.0]
    if not crossed or not table.get("transitions"):
        return
    try:
        j = parse_intersection(table, "")
    except JunctionError:  # the import drops what the loader refuses (_parsed): no clearance to count on
        return
    old = {k: (phases[k]["min_green_s"], phases[k]["ped_min_green_s"]) for k in crossed}
    for k in crossed:
        ped = _credited_ped_min_s(j, k, crossing_m, t)
        if ped < old[k][1] - 1e-9:
            floor = min(t.min_green_s, phases[k]["base_green_s"])  # at least the stage's own vehicle minimum
            phases[k]["min_green_s"] = min(old[k][0], max(floor, ped))
            phases[k]["ped_min_green_s"] = ped
    j = parse_intersection(table, "")
    for k in crossed:  # a stage the others' ways pass through now shorter: keep what is no longer covered
        if _credited_ped_min_s(j, k, crossing_m, t) > phases[k]["ped_min_green_s"] + 1e-9:
            phases[k]["min_green_s"], phases[k]["ped_min_green_s"] = old[k]


def _credited_ped_min_s(j: Intersection, k: int, crossing_m: dict[int, float], t: TimingConfig) -> float:
    """Stage k's pedestrian minimum with the clearance after its green beyond yellow_s + all_red_s taken off each
    crossing's walk and crossing time (_credit_crossing_clearances); never below the walk."""
    greens = [ph.green_links() for ph in j.phases]
    every = frozenset().union(*greens)
    whole_s = j.yellow_s + j.all_red_s
    walk = [t.ped_walk_s]
    for i, length in crossing_m.items():
        if i in greens[k]:
            foes = every - frozenset().union(*(g for g in greens if i in g))
            after_s = _walkers_after_s(j, k, i, foes)
            extra_s = max(0.0, after_s - whole_s) if math.isfinite(after_s) else 0.0
            walk.append(t.ped_walk_s + length / t.ped_speed_mps - extra_s)
    return round(max(walk), 2)


def _walkers_after_s(j: Intersection, k: int, crossing: int, foes: frozenset[int]) -> float:
    """The least time from the end of stage k's green to the start of a link of `foes` (never green with
    `crossing`), over every run of changes the model allows: each change its intergreen (a transition up to its
    first state showing such a link green), each stage entered that shows neither the crossing nor a foe green held
    at least its minimum green. A stage that greens the crossing again ends that run (its walkers start anew)."""
    n = len(j.phases)
    greens = [ph.green_links() for ph in j.phases]
    best = {k: 0.0}
    todo, out = [(0.0, k)], math.inf
    while todo:
        todo.sort()
        at_s, a = todo.pop(0)
        held_s = 0.0 if a == k else j.phases[a].min_green_s
        for b in range(n):
            if b == a or crossing in greens[b]:
                continue
            change_s = _foe_start_s(j, a, b, foes)
            if greens[b] & foes or change_s < j.intergreen_s(a, b) - 1e-9:
                out = min(out, at_s + held_s + change_s)
            elif at_s + held_s + change_s < best.get(b, math.inf) - 1e-9:
                best[b] = at_s + held_s + change_s
                todo.append((best[b], b))
    return out


def _foe_start_s(j: Intersection, a: int, b: int, foes: frozenset[int]) -> float:
    """Seconds from the end of stage a's green to the first link of `foes` green in the change to b: the start of
    the first transition state showing one, else the change's intergreen."""
    tr = j.transition(a, b)
    if tr is None:
        return j.intergreen_s(a, b)
    t_s = 0.0
    for state, d_s in zip(tr.states, tr.durations_s):
        if any(state[i] in netprogram.STAGE_GREEN for i in foes if i < len(state)):
            return t_s
        t_s += d_s
    return tr.total_s


def _derived_change(
    held: str, entered: str, to_green: frozenset[int], yellow_s: float, all_red_s: float
) -> list[tuple[str, float]]:
    """The yellow and all-red (state, seconds) from `held` to `entered` as the roadside derives them: a link green in
    both stays green, one off ('o', 'O') in both stays off, one stopped shows yellow then red, every other red."""

    def state(stopped: str) -> str:
        return "".join(
            c
            if (c in netprogram.STAGE_GREEN and i in to_green) or (c in "oO" and entered[i] == c)
            else stopped
            if c in netprogram.STAGE_GREEN
            else "r"
            for i, c in enumerate(held)
        )

    run = [(state("y"), round(yellow_s, 3))]
    return [*run, (state("r"), round(all_red_s, 3))] if all_red_s > 0 else run


def _program_row(p: ProgramTiming) -> dict[str, Any]:
    """One row of the junction file's `programs` (controller/junctions.py _programs)."""
    row: dict[str, Any] = {"id": p.program_id, "yellow_s": p.yellow_s, "all_red_s": p.all_red_s}
    if p.greens_s:  # its stages are the model's (netprogram_waut.program_greens)
        row["base_greens_s"] = list(p.greens_s)
        row["base_offset_s"] = p.offset_s
    return row


def _stops(plan: netprogram.StagePlan, a: int, b: int, link: int) -> bool:
    """The change from stage a to stage b stops `link` (green in a, not in b)."""
    return plan.stages[a].state[link] in "Gg" and plan.stages[b].state[link] not in "Gg"


def _parsed(table: dict[str, Any], where: str) -> Intersection:
    """The junction the table describes. A program_timeline or program transitions the junction
    file would refuse are dropped (the replay's fixed side then runs the base program, the
    roadside the derived intergreens), never the junction itself."""
    for _ in range(2):
        try:
            return parse_intersection(table, where)
        except JunctionError as exc:
            # the field named (a transition's conflict is found once movements are known), else the timeline
            key = "transitions" if exc.field.startswith("transitions") else "program_timeline"
            if table.pop(key, None) is None:
                raise
    return parse_intersection(table, where)


def _drop_timeline_if_base(table: dict[str, Any], junction: Intersection) -> None:
    """Remove the table's program_timeline where the junction's base program (shadow.Program.base_segments)
    shows the same phases for the same seconds (to the millisecond): a program with uniform
    transitions keeps the junction file it had."""
    timeline, base = junction.program_timeline, shadow.Program.base_segments(junction)
    same = len(timeline) == len(base) and all(
        k == kb and abs(s - sb) < 1e-3 for (k, s), (kb, sb) in zip(timeline, base)
    )
    if same:
        table.pop("program_timeline", None)


def import_network(
    net_path: str | Path,
    out_dir: str | Path,
    cfg: Config,
    additional: list[Path] | None = None,
    detectors: str = "generated",
    begin_s: float | None = None,
    net: sumolib.net.Net | None = None,
) -> ImportResult:
    """Write one <tls>.toml per controllable traffic light into out_dir, and skipped.txt (one
    `id: reason` line per traffic light left on its own program) when any is left out. When
    none can be controlled, no TOML is written (and the scenario runs on its own programs).

    `additional`: the scenario's additional files, in SUMO's loading order: their programs
    replace the network's (the last loaded runs), their induction loops are the city's.
    `detectors`: "generated" (a stop-line and an advance loop per lane) or "city".
    `begin_s`: the run's begin; with `[timing] waut_program_at_begin` a light a WAUT switches is
    modelled on the program in force then (netprogram.active_programs), not on the one loaded last.
    `net`: the network at net_path already read (read_net), else read here."""
    net = net if net is not None else read_net(net_path)
    tables, skipped = junction_tables(net, cfg, str(net_path), additional, detectors, begin_s)
    return write_import(out_dir, file_texts(tables, net_path), tables, skipped)


def import_net(
    net_path: str | Path,
    out_dir: str | Path,
    cfg: Config,
    additional: list[Path] | None = None,
    detectors: str = "generated",
) -> list[Path]:
    """import_network, returning the junction files written."""
    return list(import_network(net_path, out_dir, cfg, additional, detectors).written)

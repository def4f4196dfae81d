"""SUMO network -> one editable TOML per signalised junction (offline: sumolib, no SUMO process).

What is derived, and how (docs/import.md has the rules with their reasons):
- the program: the one SUMO runs, the last loaded for the traffic light (the additional files,
  in order, after the network's own); its stages, intergreens and link classes come from
  sim/netprogram.py (sub-phases merged, one phase per green link set, every signal letter);
- movements: incoming lanes grouped by (incoming edge, turn direction of SUMO's connection);
  the approach is the compass point the vehicles come from, from the edge's last segment.
  Links the program never stops (green or off in every phase) and links never green in a
  stage are no movement. One traffic light over several nodes (a joined cluster) is one
  junction with the movements of all its nodes;
- phases: the green stages, with min/max green from config.toml widened to include the
  program's own greens, and pedestrian minimums from the crossings they serve;
- conflicts: two movements conflict when no green stage of the program serves both. This is
  the most conservative reading of the program: any combination it never shows is forbidden;
- detectors: a stop-line and an advance loop per incoming lane, or the city's own loops
  (sim/loops.py); a movement's storage is the distance to its lanes' advance loops;
- neighbours: the nearest imported junctions up- and downstream, through unsignalised nodes.

A traffic light that cannot be controlled safely (no program, fewer than two green stages, a
program that does not fit the network's links, a model that does not validate) is skipped with
the reason: it stays on its own program, and skipped.txt in the output folder lists it (when
no light can be controlled, no junction file is written and the scenario runs on its own
programs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import sumolib
import tomli_w

from controller.config import Config
from controller.errors import JunctionError, NetworkError
from controller.junctions import parse_intersection
from sim import loops, netprogram

_TURN = {"s": "through", "l": "left", "L": "left", "r": "right", "R": "right", "t": "uturn"}
_TURN_LETTER = {"through": "T", "left": "L", "right": "R", "uturn": "U"}
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
DETECTOR_SOURCES = ("generated", "city")


@dataclass(frozen=True)
class _Conn:
    edge: str
    lane: str
    lane_length_m: float
    direction: str
    link: int


def read_net(path: str | Path) -> sumolib.net.Net:
    p = Path(path)
    if not p.is_file():
        raise NetworkError(str(p), "-", "file not found")
    try:
        return sumolib.net.readNet(str(p), withPrograms=True, withPedestrianConnections=True)
    except Exception as exc:  # sumolib raises plain SAX/parse errors
        raise NetworkError(str(p), "-", f"not a readable SUMO network: {exc}") from None


def _approach(edge: sumolib.net.edge.Edge) -> str:
    """Compass point the traffic comes FROM, by the direction of travel on the edge's end."""
    shape = edge.getShape()
    (x0, y0), (x1, y1) = shape[-2], shape[-1]
    heading = math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360  # 0 = travelling north
    from_deg = (heading + 180) % 360
    return _COMPASS[int((from_deg + 22.5) // 45) % 8]


def _signalised_neighbour(node, tls_of_node: dict[str, str], upstream: bool, own: str) -> set[str]:
    """Nearest signalised junctions, walking through unsignalised nodes (up to 6 hops)."""
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
            elif not tls and hops < 6:
                frontier.append((nxt, hops + 1))
    return found


@dataclass(frozen=True)
class ImportResult:
    """Files written, and the traffic lights left on their own program with the reason."""

    written: tuple[Path, ...]
    skipped: tuple[tuple[str, str], ...]  # (traffic light id, reason)


class _Skip(Exception):
    """This traffic light cannot be controlled safely; the message says why."""


def _placement(cfg: Config) -> loops.Placement:
    d = cfg.detectors
    return loops.Placement(d.stop_setback_m, d.advance_dist_m, d.loop_length_m, d.vehicle_spacing_m)


def junction_tables(net: sumolib.net.Net, cfg: Config, net_path: str, additional: list[Path] | None = None,
                    detectors: str = "generated") -> tuple[list[dict], list[tuple[str, str]]]:
    """The TOML tables of every signalised junction that can be controlled, sorted by id, and
    the (id, reason) of those that cannot."""
    if detectors not in DETECTOR_SOURCES:
        raise NetworkError(net_path, "detectors", f"must be one of {DETECTOR_SOURCES}, got {detectors!r}")
    files = list(additional or [])
    programs = netprogram.active_programs(net, net_path, files)
    city = loops.read_city_loops(files, net)
    by_lane: dict[str, list[loops.CityLoop]] = {}
    for loop in city:
        by_lane.setdefault(loop.lane, []).append(loop)
    ctx = _Context(cfg, net_path, _placement(cfg), detectors, by_lane, {loop.id for loop in city})
    tls_of_node: dict[str, str] = {}
    for tl in net.getTrafficLights():
        for conn in tl.getConnections():
            tls_of_node[conn[0].getEdge().getToNode().getID()] = tl.getID()
    tables, skipped, nodes_of = [], [], {}
    for tl in sorted(net.getTrafficLights(), key=lambda t: t.getID()):
        program = programs[tl.getID()]
        try:
            table, nodes = _junction_table(net, tl, program, ctx)
            parse_intersection(table, f"{net_path}#{tl.getID()}")
        except (_Skip, JunctionError) as exc:
            skipped.append((tl.getID(), str(exc)))
            continue
        except Exception as exc:  # never a crash: the junction stays on its own program
            skipped.append((tl.getID(), f"import failed: {type(exc).__name__}: {exc}"))
            continue
        tables.append(table)
        nodes_of[tl.getID()] = nodes
    if not tables and not skipped:
        raise NetworkError(net_path, "tlLogic", "the network has no traffic lights to control")
    kept = {t["id"] for t in tables}
    for t in tables:
        up, down = set(), set()
        for n in nodes_of[t["id"]]:
            up |= _signalised_neighbour(n, tls_of_node, True, t["id"])
            down |= _signalised_neighbour(n, tls_of_node, False, t["id"])
        t["upstream"], t["downstream"] = sorted(up & kept), sorted(down & kept)
    return tables, skipped


@dataclass(frozen=True)
class _Context:
    cfg: Config
    net_path: str
    placement: loops.Placement
    detectors: str
    city_by_lane: dict
    taken_ids: set  # detector ids in use (the city's loops first): ours must differ


def _connections(tl, n_links: int, excluded: frozenset[int]) -> tuple[list[_Conn], dict[int, float], set]:
    """Vehicle connections of the controlled links, crossing lengths by link, and the nodes."""
    conns: list[_Conn] = []
    crossing_m: dict[int, float] = {}
    nodes = set()
    for in_lane, out_lane, link in tl.getConnections():
        if not 0 <= link < n_links:
            raise _Skip(f"connection {in_lane.getID()}->{out_lane.getID()} has link index {link}")
        edge = in_lane.getEdge()
        if _pedestrian(in_lane, out_lane):
            crossing_m[link] = max(crossing_m.get(link, 0.0), out_lane.getLength())
            continue
        nodes.add(edge.getToNode())
        if link in excluded:
            continue
        direction = "s"
        for c in edge.getOutgoing().get(out_lane.getEdge(), []):
            if c.getFromLane() is in_lane and c.getTLLinkIndex() == link:
                direction = c.getDirection()
        conns.append(_Conn(edge.getID(), in_lane.getID(), in_lane.getLength(), direction, link))
    return conns, crossing_m, nodes


def _pedestrian(in_lane, out_lane) -> bool:
    return (in_lane.getEdge().getFunction() in ("crossing", "walkingarea")
            or out_lane.getEdge().getFunction() == "crossing")


def _junction_table(net, tl, program: netprogram.Program | None, ctx: _Context) -> tuple[dict, set]:
    tid = tl.getID()
    if program is None:
        raise _Skip("traffic light without a program")
    try:
        plan = netprogram.stage_plan(program)
    except ValueError as exc:
        raise _Skip(f"program {program.program_id!r} ({program.source}): {exc}") from None
    n_links = len(program.phases[0].state)
    top = max((link for _, _, link in tl.getConnections()), default=-1)
    if top >= n_links:
        raise _Skip(f"program {program.program_id!r} ({program.source}) has {n_links} links, "
                    f"the network's connections use link {top}")
    stranded = plan.transition_only & {link for a, b, link in tl.getConnections() if not _pedestrian(a, b)}
    if stranded:
        raise _Skip(f"program {program.program_id!r} ({program.source}) shows links {sorted(stranded)} "
                    "green only beside yellows, in no green stage: the junction model could never serve them")
    if len(plan.stages) < 2:
        raise _Skip(f"program {program.program_id!r} ({program.source}) has {len(plan.stages)} green stage(s): "
                    "nothing to switch between")
    conns, crossing_m, nodes = _connections(tl, n_links, plan.never_green | plan.free_links)
    if not conns:
        raise _Skip("controls no vehicle link that its program ever stops and lets go")
    t = ctx.cfg.timing
    detectors, storage_m = _detectors(net, tid, sorted({c.lane for c in conns}), ctx)
    movements = _movements(net, conns, ctx.cfg, storage_m)
    phases = [_phase(st, crossing_m, t) for st in plan.stages]
    _conflicts(movements, phases)
    table = {
        "id": tid, "n_links": n_links,
        "yellow_s": plan.yellow_s or t.yellow_s, "all_red_s": plan.all_red_s or t.all_red_s,
        "cycle_min_s": t.cycle_min_s, "cycle_max_s": max(t.cycle_max_s, plan.cycle_s),
        "max_red_s": max(t.max_red_s, plan.cycle_s), "base_offset_s": program.offset_s,
        "upstream": [], "downstream": [],
        "phases": phases, "movements": movements, "detectors": detectors,
    }
    return table, nodes


def _movements(net, conns: list[_Conn], cfg: Config, storage_m: dict[str, float]) -> list[dict]:
    """(edge, turn) groups, named by approach + turn letter; clashes get a suffix."""
    groups: dict[tuple[str, str], list[_Conn]] = {}
    for c in conns:
        groups.setdefault((c.edge, _TURN.get(c.direction, "through")), []).append(c)
    lane_users: dict[str, int] = {}
    for cs in groups.values():
        for lane in {c.lane for c in cs}:
            lane_users[lane] = lane_users.get(lane, 0) + 1
    sat_per_lane = {"through": cfg.saturation.through_pcu_h_lane, "left": cfg.saturation.left_pcu_h_lane,
                    "right": cfg.saturation.right_pcu_h_lane, "uturn": cfg.saturation.left_pcu_h_lane}
    movements, used_ids = [], set()
    for (edge_id, turn), cs in sorted(groups.items()):
        approach = _approach(net.getEdge(edge_id))
        mid, k = f"{approach}_{_TURN_LETTER[turn]}", 2
        while mid in used_ids:
            mid, k = f"{approach}{k}_{_TURN_LETTER[turn]}", k + 1
        used_ids.add(mid)
        lanes = sorted({c.lane for c in cs})
        share = {lane: 1.0 / lane_users[lane] for lane in lanes}
        sat = sum(sat_per_lane[turn] * share[lane] for lane in lanes)
        storage = sum(storage_m[lane] / cfg.detectors.vehicle_spacing_m * share[lane] for lane in lanes)
        movements.append({
            "id": mid, "approach": approach, "turn": turn, "from_edge": edge_id, "lanes": lanes,
            "links": sorted({c.link for c in cs}), "sat_flow_pcu_h": round(sat, 1),
            "storage_pcu": round(max(storage, 1.0), 2),
        })
    return movements


def _phase(stage: netprogram.Stage, crossing_m: dict[int, float], t) -> dict:
    """A green stage with its limits; the network's own program must stay valid under the
    gate, so the limits widen to include it."""
    base = stage.base_green_s
    walk = [t.ped_walk_s + length / t.ped_speed_mps for i, length in crossing_m.items() if stage.state[i] in "Gg"]
    ped_min = round(max(walk, default=0.0), 2)
    phase = {"state": stage.state, "min_green_s": max(min(t.min_green_s, base), ped_min),
             "max_green_s": max(t.max_green_s, base, ped_min), "base_green_s": base}
    if ped_min:
        phase["ped_min_green_s"] = ped_min
    return phase


def _conflicts(movements: list[dict], phases: list[dict]) -> None:
    """Two movements conflict when no green stage of the program serves both."""
    served = []
    for ph in phases:
        green = {i for i, ch in enumerate(ph["state"]) if ch in "Gg"}
        served.append({m["id"] for m in movements if green.intersection(m["links"])})
    for m in movements:
        m["conflicts"] = sorted(o["id"] for o in movements if o["id"] != m["id"]
                                and not any(m["id"] in s and o["id"] in s for s in served))


def _detectors(net, tid: str, lanes: list[str], ctx: _Context) -> tuple[list[dict], dict[str, float]]:
    """Loop tables for the junction's lanes, and each lane's queue storage length: up to its
    advance loop, or along its upstream chain up to the advance distance when it has none.
    With the city's loops, a junction the city has no loop for gets generated ones (the
    estimator needs at least one loop per junction)."""
    p = ctx.placement
    per_lane = {}
    if ctx.detectors == "city":
        per_lane = {lane_id: loops.city(net.getLane(lane_id), p, ctx.city_by_lane) for lane_id in lanes}
    if not any(per_lane.values()):
        per_lane = {lane_id: loops.generated(tid, net.getLane(lane_id), p, ctx.taken_ids) for lane_id in lanes}
    out, storage_m = [], {}
    for lane_id, tables in per_lane.items():
        out.extend(tables)
        adv = [d["dist_to_stop_m"] for d in tables if d["kind"] == "advance"]
        chain = loops.upstream_chain(net.getLane(lane_id), p.advance_dist_m)
        storage_m[lane_id] = adv[0] if adv else min(chain[-1].offset_m + chain[-1].length_m, p.advance_dist_m)
    return out, storage_m


def _file_name(tid: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in tid)
    return f"{safe}.toml"


SKIPPED_FILE = "skipped.txt"


def import_network(net_path: str | Path, out_dir: str | Path, cfg: Config, additional: list[Path] | None = None,
                   detectors: str = "generated") -> ImportResult:
    """Write one <tls>.toml per controllable traffic light into out_dir, and skipped.txt (one
    `id: reason` line per traffic light left on its own program) when any is left out. When
    none can be controlled, no TOML is written (and the scenario runs on its own programs).

    `additional`: the scenario's additional files, in SUMO's loading order: their programs
    replace the network's (the last loaded runs), their induction loops are the city's.
    `detectors`: "generated" (a stop-line and an advance loop per lane) or "city"."""
    net = read_net(net_path)
    tables, skipped = junction_tables(net, cfg, str(net_path), additional, detectors)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        fp = out / _file_name(table["id"])
        header = (f"# Junction {table['id']}, imported from {Path(net_path).name} by import-net.\n"
                  "# Edit freely: timing limits, detector positions, conflicts. Loading validates it.\n\n")
        fp.write_text(header + tomli_w.dumps(table), encoding="utf-8")
        written.append(fp)
    for tid, _ in skipped:  # a previous import's model of a light skipped now must not linger
        (out / _file_name(tid)).unlink(missing_ok=True)
    (out / SKIPPED_FILE).unlink(missing_ok=True)
    if skipped:
        (out / SKIPPED_FILE).write_text(
            "# Traffic lights left on their own program by import-net, with the reason.\n"
            + "".join(f"{tid}: {why}\n" for tid, why in skipped), encoding="utf-8")
    return ImportResult(tuple(written), tuple(skipped))


def read_skipped(folder: str | Path) -> list[tuple[str, str]]:
    """The (id, reason) lines of a folder's skipped.txt; [] when there is none."""
    fp = Path(folder) / SKIPPED_FILE
    if not fp.is_file():
        return []
    out = []
    for line in fp.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            tid, _, why = line.partition(": ")
            out.append((tid, why))
    return out


def import_net(net_path: str | Path, out_dir: str | Path, cfg: Config, additional: list[Path] | None = None,
               detectors: str = "generated") -> list[Path]:
    """import_network, returning the junction files written."""
    return list(import_network(net_path, out_dir, cfg, additional, detectors).written)

"""SUMO network -> one editable TOML per signalised junction (offline: sumolib, no SUMO process).

What is derived, and how:
- movements: incoming lanes grouped by (incoming edge, turn direction of SUMO's connection);
  the approach is the compass point the vehicles come from, from the edge's last segment;
- phases: the program's green stages (phases with a green link and no yellow); yellow_s is the
  longest yellow phase, all_red_s the longest all-red phase of the program (config defaults when
  the program has none);
- conflicts: two movements conflict when no green stage of the program serves both. This is
  the most conservative reading of the program: any combination it never shows is forbidden;
- detectors: a stop-line loop and an advance loop per incoming lane, placed from config.toml;
- neighbours: the nearest signalised junctions up- and downstream, through unsignalised nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import sumolib
import tomli_w

from controller.config import Config
from controller.errors import NetworkError

_TURN = {"s": "through", "l": "left", "L": "left", "r": "right", "R": "right", "t": "uturn"}
_TURN_LETTER = {"through": "T", "left": "L", "right": "R", "uturn": "U"}
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


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


def junction_tables(net: sumolib.net.Net, cfg: Config, net_path: str) -> list[dict]:
    """The TOML tables of every signalised junction in the network, sorted by id."""
    tls_of_node: dict[str, str] = {}
    for tl in net.getTrafficLights():
        for conn in tl.getConnections():
            tls_of_node[conn[0].getEdge().getToNode().getID()] = tl.getID()
    tables = []
    for tl in sorted(net.getTrafficLights(), key=lambda t: t.getID()):
        tables.append(_junction_table(net, tl, cfg, net_path, tls_of_node))
    if not tables:
        raise NetworkError(net_path, "tlLogic", "the network has no traffic lights to control")
    return tables


def _junction_table(net, tl, cfg: Config, net_path: str, tls_of_node: dict[str, str]) -> dict:
    tid = tl.getID()
    programs = tl.getPrograms()
    if not programs:
        raise NetworkError(net_path, f"tlLogic[{tid}]", "traffic light without a program")
    program = programs[sorted(programs)[0]]
    states = [ph.state for ph in program.getPhases()]
    n_links = len(states[0])
    if any(len(s) != n_links for s in states):
        raise NetworkError(net_path, f"tlLogic[{tid}]", "phases have different numbers of links")

    conns: list[_Conn] = []
    crossing_m: dict[int, float] = {}  # pedestrian link -> crossing length
    nodes = set()
    for in_lane, _out_lane, link in tl.getConnections():
        edge = in_lane.getEdge()
        if edge.getFunction() in ("crossing", "walkingarea"):
            crossing_m[link] = max(crossing_m.get(link, 0.0), _out_lane.getLength())
            continue
        nodes.add(edge.getToNode())
        direction = "s"
        for c in edge.getOutgoing().get(_out_lane.getEdge(), []):
            if c.getFromLane() is in_lane and c.getTLLinkIndex() == link:
                direction = c.getDirection()
        conns.append(_Conn(edge.getID(), in_lane.getID(), in_lane.getLength(), direction, link))
    if not conns:
        raise NetworkError(net_path, f"tlLogic[{tid}]", "controls no vehicle lanes")

    # Movements: (edge, turn) groups, named by approach + turn letter; clashes get a suffix.
    groups: dict[tuple[str, str], list[_Conn]] = {}
    for c in conns:
        groups.setdefault((c.edge, _TURN.get(c.direction, "through")), []).append(c)
    lane_users: dict[str, int] = {}
    for (_, _), cs in groups.items():
        for lane in {c.lane for c in cs}:
            lane_users[lane] = lane_users.get(lane, 0) + 1
    sat_per_lane = {"through": cfg.saturation.through_pcu_h_lane, "left": cfg.saturation.left_pcu_h_lane,
                    "right": cfg.saturation.right_pcu_h_lane, "uturn": cfg.saturation.left_pcu_h_lane}
    det = cfg.detectors
    movements = []
    used_ids: set[str] = set()
    for (edge_id, turn), cs in sorted(groups.items()):
        approach = _approach(net.getEdge(edge_id))
        base = f"{approach}_{_TURN_LETTER[turn]}"
        mid, k = base, 2
        while mid in used_ids:
            mid, k = f"{approach}{k}_{_TURN_LETTER[turn]}", k + 1
        used_ids.add(mid)
        lanes = sorted({c.lane for c in cs})
        lengths = {c.lane: c.lane_length_m for c in cs}
        share = {lane: 1.0 / lane_users[lane] for lane in lanes}
        sat = sum(sat_per_lane[turn] * share[lane] for lane in lanes)
        storage = sum(min(lengths[lane], det.advance_dist_m) / det.vehicle_spacing_m * share[lane] for lane in lanes)
        movements.append({
            "id": mid, "approach": approach, "turn": turn, "from_edge": edge_id, "lanes": lanes,
            "links": sorted({c.link for c in cs}), "sat_flow_pcu_h": round(sat, 1),
            "storage_pcu": round(max(storage, 1.0), 2),
        })

    # Green stages and intergreens from the program.
    greens, yellow_s, all_red_s = [], 0.0, 0.0
    for ph in program.getPhases():
        has_green = any(ch in "Gg" for ch in ph.state)
        if "y" in ph.state or "Y" in ph.state:
            yellow_s = max(yellow_s, float(ph.duration))
        elif not has_green:
            all_red_s = max(all_red_s, float(ph.duration))
        else:
            greens.append(ph)
    if not greens:
        raise NetworkError(net_path, f"tlLogic[{tid}]", "program has no green stage")
    yellow_s = yellow_s or cfg.timing.yellow_s
    all_red_s = all_red_s or cfg.timing.all_red_s
    t = cfg.timing
    phases = []
    for ph in greens:
        state = "".join(ch if ch in "Gg" else "r" for ch in ph.state)
        base = float(ph.duration)
        walk = [t.ped_walk_s + length / t.ped_speed_mps for i, length in crossing_m.items() if state[i] in "Gg"]
        ped_min = round(max(walk, default=0.0), 2)
        # The network's own program must stay valid under the gate: limits widen to include it.
        phase = {"state": state, "min_green_s": max(min(t.min_green_s, base), ped_min),
                 "max_green_s": max(t.max_green_s, base), "base_green_s": base}
        if ped_min:
            phase["ped_min_green_s"] = ped_min
        phases.append(phase)

    served = []
    for ph in phases:
        green = {i for i, ch in enumerate(ph["state"]) if ch in "Gg"}
        served.append({m["id"] for m in movements if green.intersection(m["links"])})
    for m in movements:
        m["conflicts"] = sorted(o["id"] for o in movements if o["id"] != m["id"]
                                and not any(m["id"] in s and o["id"] in s for s in served))

    detectors = []
    for lane in sorted({c.lane for c in conns}):
        length = next(c.lane_length_m for c in conns if c.lane == lane)
        stop_pos = max(0.0, length - det.stop_setback_m - det.loop_length_m)
        adv_pos = max(0.0, length - det.advance_dist_m)
        if adv_pos >= stop_pos - det.loop_length_m:
            adv_pos = 0.0
        for kind, pos in (("stop", stop_pos), ("advance", adv_pos)):
            detectors.append({"id": f"{tid}_{lane}_{'stop' if kind == 'stop' else 'adv'}", "lane": lane,
                              "kind": kind, "pos_m": round(pos, 2), "dist_to_stop_m": round(length - pos, 2)})

    upstream, downstream = set(), set()
    for n in nodes:
        upstream |= _signalised_neighbour(n, tls_of_node, True, tid)
        downstream |= _signalised_neighbour(n, tls_of_node, False, tid)
    return {
        "id": tid, "n_links": n_links, "yellow_s": yellow_s, "all_red_s": all_red_s,
        "cycle_min_s": t.cycle_min_s, "cycle_max_s": max(t.cycle_max_s, sum(float(p.duration) for p in program.getPhases())),
        "max_red_s": max(t.max_red_s, sum(float(p.duration) for p in program.getPhases())),
        "base_offset_s": float(program.getOffset() or 0.0),
        "upstream": sorted(upstream), "downstream": sorted(downstream),
        "phases": phases, "movements": movements, "detectors": detectors,
    }


def _file_name(tid: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in tid)
    return f"{safe}.toml"


def import_net(net_path: str | Path, out_dir: str | Path, cfg: Config) -> list[Path]:
    """Write intersections/<name>/<tls>.toml for every traffic light. Returns the files."""
    net = read_net(net_path)
    tables = junction_tables(net, cfg, str(net_path))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        fp = out / _file_name(table["id"])
        header = (f"# Junction {table['id']}, imported from {Path(net_path).name} by import-net.\n"
                  "# Edit freely: timing limits, detector positions, conflicts. Loading validates it.\n\n")
        fp.write_text(header + tomli_w.dumps(table), encoding="utf-8")
        written.append(fp)
    return written

"""Import, movements: a traffic light's vehicle connections -> the junction model's movements.

- movements: incoming lanes grouped by (incoming edge, turn direction of SUMO's connection),
  named by approach + turn letter (`N_T`; a second group with the same name gets `N2_T`); with
  `[timing] split_movements_by_green`, also by the set of stages that green each link, so that every
  link of a movement is green in the same stages (a stage then serves all of a movement or none);
  with `[timing] bicycle_lane_movements`, a lane open to bicycles and closed to cars apart from the
  others: it discharges at its own rate and whichever stage greens it serves it, not a car lane's stage;
  with `[timing] bus_lane_movements`, a lane open to buses and closed to cars (a bus lane) apart from the
  others: its own lanes, loops and queue (the loops weigh a bus [pcu] bus), at a lane's saturation flow by
  turn, served by whichever stage greens it (precedence over `bicycle_lane_movements`: a bus-and-bicycle lane is a
  bus lane), marked `bus_lane = true` (a permitted turn that gives way to such movements only is served protected:
  controller/core/estimation.py `_phase_service`);
  with `[timing] car_movements_skip_restricted_lanes`, a lane closed to passenger cars (a bus lane) is
  left out of a group that has a lane cars may use: not in its lanes, saturation flow or queue;
- approach: the compass point the vehicles come from, from the edge's last segment;
- saturation flow: config.toml [saturation] per lane by turn, a lane shared by several
  movements counted as a share of it (a bicycle lane's, with `bicycle_lane_movements`:
  `bicycle_lane_veh_h` times a bicycle's PCU);
- storage: the lanes' queue storage (sim/netdetectors.py) / [detectors] vehicle_spacing_m;
- conflicts: two movements conflict when no green stage of the program serves both, the most
  conservative reading of the program (any combination it never shows is forbidden).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sumolib

from controller.config import Config
from sim.netstages import NotControllable, is_pedestrian
from sim.xmlfiles import open_xml

_TURN = {"s": "through", "l": "left", "L": "left", "r": "right", "R": "right", "t": "uturn"}
_TURN_LETTER = {"through": "T", "left": "L", "right": "R", "uturn": "U"}
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


@dataclass(frozen=True)
class Conn:
    """One controlled vehicle connection: its incoming edge and lane, SUMO's turn direction
    letter and its signal link index."""

    edge: str
    lane: str
    lane_length_m: float
    direction: str
    link: int
    to_edge: str = ""  # the edge the link leads to
    bicycle_only: bool = False  # the lane is open to bicycles and closed to cars
    car_closed: bool = False  # the lane is closed to passenger cars (a bus, bicycle or tram lane)
    bus_lane: bool = False  # the lane is open to buses and closed to passenger cars


@dataclass(frozen=True)
class Connections:
    """A traffic light's controlled links, read from the network."""

    vehicle: list[Conn]  # controlled vehicle connections (links in `excluded` left out)
    crossing_m: dict[int, float]  # pedestrian crossing length by link index
    nodes: set[sumolib.net.node.Node]  # the nodes the traffic light controls


def connections(tl: sumolib.net.TLS, n_links: int, excluded: frozenset[int]) -> Connections:
    """Vehicle connections of the controlled links, crossing lengths by link, and the nodes.
    Raises NotControllable for a link index outside the program's `n_links`."""
    conns: list[Conn] = []
    crossing_m: dict[int, float] = {}
    nodes = set()
    for in_lane, out_lane, link in tl.getConnections():
        if not 0 <= link < n_links:
            raise NotControllable(f"connection {in_lane.getID()}->{out_lane.getID()} has link index {link}")
        edge = in_lane.getEdge()
        if is_pedestrian(in_lane, out_lane):
            crossing_m[link] = max(crossing_m.get(link, 0.0), out_lane.getLength())
            continue
        nodes.add(edge.getToNode())
        if link in excluded:
            continue
        direction = "s"
        for c in edge.getOutgoing().get(out_lane.getEdge(), []):
            if c.getFromLane() is in_lane and c.getTLLinkIndex() == link:
                direction = c.getDirection()
        bicycle_only = in_lane.allows("bicycle") and not in_lane.allows("passenger")
        conns.append(
            Conn(
                edge.getID(),
                in_lane.getID(),
                in_lane.getLength(),
                direction,
                link,
                out_lane.getEdge().getID(),
                bicycle_only,
                not in_lane.allows("passenger"),
                in_lane.allows("bus") and not in_lane.allows("passenger"),
            )
        )
    return Connections(conns, crossing_m, nodes)


def approach(edge: sumolib.net.edge.Edge) -> str:
    """Compass point the traffic comes FROM, by the direction of travel on the edge's end."""
    shape = edge.getShape()
    (x0, y0), (x1, y1) = shape[-2], shape[-1]
    heading = math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360  # 0 = travelling north
    from_deg = (heading + 180) % 360
    return _COMPASS[int((from_deg + 22.5) // 45) % 8]


_CAR, _BICYCLE, _BUS = "", "bicycle", "bus"  # a group's lane class: car lanes, a bicycle lane's, a bus lane's


def lane_class(c: Conn, cfg: Config) -> str:
    """The class of the connection's lane for grouping: a bus lane's with `bus_lane_movements` (before a bicycle
    lane's: a lane open to buses and bicycles discharges buses), a bicycle lane's with `bicycle_lane_movements`,
    else the cars' (a lane closed to cars that is neither joins its car group)."""
    if cfg.timing.bus_lane_movements and c.bus_lane:
        return _BUS
    if cfg.timing.bicycle_lane_movements and c.bicycle_only:
        return _BICYCLE
    return _CAR


def _groups(
    conns: list[Conn], cfg: Config, phase_states: list[str] | None
) -> dict[tuple[str, str, frozenset[int], str], list[Conn]]:
    """The connections by (edge, turn), split by the stages that green each link
    (`split_movements_by_green`) and by the lane's class (lane_class: `bus_lane_movements`,
    `bicycle_lane_movements`). With `car_movements_skip_restricted_lanes`, a group with a lane cars may use
    leaves out its lanes closed to cars."""
    greens: dict[int, frozenset[int]] = {}
    if cfg.timing.split_movements_by_green and phase_states:
        links = {c.link for c in conns}
        greens = {k: frozenset(i for i, st in enumerate(phase_states) if st[k] in "Gg") for k in links}
    groups: dict[tuple[str, str, frozenset[int], str], list[Conn]] = {}
    for c in conns:
        key = (c.edge, _TURN.get(c.direction, "through"), greens.get(c.link, frozenset()), lane_class(c, cfg))
        groups.setdefault(key, []).append(c)
    if cfg.timing.car_movements_skip_restricted_lanes:
        for key, cs in groups.items():
            cars = [c for c in cs if not c.car_closed]
            if cars:  # a group of closed lanes only (a bus-only street, a bicycle lane's own) stays whole
                groups[key] = cars
    return groups


def movements(
    net: sumolib.net.Net,
    conns: list[Conn],
    cfg: Config,
    storage_m: dict[str, float],
    phase_states: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Movement tables (without conflicts): (edge, turn) groups, named by approach + turn
    letter; clashes get a suffix. `storage_m`: queue storage length by lane. With
    `[timing] split_movements_by_green`, `phase_states` (the stages' signal states) splits a group
    by the stages that green each of its links."""
    groups = _groups(conns, cfg, phase_states)
    lane_users: dict[str, int] = {}
    for cs in groups.values():
        for lane in {c.lane for c in cs}:
            lane_users[lane] = lane_users.get(lane, 0) + 1
    sat_per_lane = {
        "through": cfg.saturation.through_pcu_h_lane,
        "left": cfg.saturation.left_pcu_h_lane,
        "right": cfg.saturation.right_pcu_h_lane,
        "uturn": cfg.saturation.left_pcu_h_lane,
    }
    bicycle_sat = cfg.saturation.bicycle_lane_veh_h * cfg.pcu.factor("bicycle")  # PCU/h, as the loops weigh them
    out, used_ids = [], set()
    for (edge_id, turn, _, cls), cs in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], sorted(kv[0][2]), kv[0][3])
    ):
        where = approach(net.getEdge(edge_id))
        mid, k = f"{where}_{_TURN_LETTER[turn]}", 2
        while mid in used_ids:
            mid, k = f"{where}{k}_{_TURN_LETTER[turn]}", k + 1
        used_ids.add(mid)
        lanes = sorted({c.lane for c in cs})
        share = {lane: 1.0 / lane_users[lane] for lane in lanes}
        sat = sum((bicycle_sat if cls == _BICYCLE else sat_per_lane[turn]) * share[lane] for lane in lanes)
        storage = sum(storage_m[lane] / cfg.detectors.vehicle_spacing_m * share[lane] for lane in lanes)
        table: dict[str, Any] = {"id": mid, "approach": where, "turn": turn, "from_edge": edge_id}
        exits = {c.to_edge for c in cs}
        if len(exits) == 1:  # the exit edge, when all the movement's links lead to one
            table["to_edge"] = exits.pop()
        table.update(
            {
                "lanes": lanes,
                "links": sorted({c.link for c in cs}),
                "sat_flow_pcu_h": round(sat, 1),
                "storage_pcu": round(max(storage, 1.0), 2),
            }
        )
        if cls == _BUS:  # its lanes closed to cars: a stream of buses only (the core's Movement.bus_lane)
            table["bus_lane"] = True
        out.append(table)
    return out


def add_conflicts(movement_tables: list[dict[str, Any]], phase_tables: list[dict[str, Any]]) -> None:
    """Set each movement's `conflicts`: the movements no green stage serves together with it."""
    served = []
    for ph in phase_tables:
        green = {i for i, ch in enumerate(ph["state"]) if ch in "Gg"}
        served.append({m["id"] for m in movement_tables if green.intersection(m["links"])})
    for m in movement_tables:
        m["conflicts"] = sorted(
            o["id"]
            for o in movement_tables
            if o["id"] != m["id"] and not any(m["id"] in s and o["id"] in s for s in served)
        )


def add_yields(
    tl: sumolib.net.TLS, movement_tables: list[dict[str, Any]], responses: dict[str, dict[int, str]]
) -> None:
    """Set each movement's `yields_to`: the movements some link of it gives way to by the network's right of way
    (`responses`: the `response` of SUMO's `<request>` by junction and index, right_of_way of the network file),
    such as a permitted left to the oncoming through, and not a right turn to it (in right-hand traffic a right turn
    crosses no oncoming stream; it gives way to the pedestrians it crosses, which are no movement). Left unset (not
    known) on every movement when the network carries no right of way for one of the light's vehicle links."""
    movement_of: dict[int, set[str]] = {}
    for m in movement_tables:
        for link in m["links"]:
            movement_of.setdefault(link, set()).add(m["id"])
    gives: dict[int, set[int]] = {}  # signal link -> the signal links it gives way to
    for node, conns in _node_links(tl, set(movement_of)).items():
        # sumolib's getLinkIndex walks the node's links: -1 for a signal link from inside the box (an internal stop's
        # own signal, a connection's linkIndex2), which has no request of its own
        at = [(k, link) for c, link in conns if (k := node.getLinkIndex(c)) >= 0]
        index = dict(at)
        requests = responses.get(node.getID(), {})
        for k_c, link in at:
            response = requests.get(k_c)
            if response is None:
                return
            n = len(response)
            gives.setdefault(link, set()).update(index[k] for k in index if k < n and response[n - 1 - k] == "1")
    for m in movement_tables:
        others = {o for link in m["links"] for g in gives.get(link, ()) for o in movement_of.get(g, ())}
        m["yields_to"] = sorted(others - {m["id"]})


def right_of_way(net_path: str | Path) -> dict[str, dict[int, str]]:
    """Per junction of the network file at `net_path` (gzip or not), its `<request>` elements' `response` by
    `index`: SUMO's right of way, read from the file (not from sumolib's private node fields, whose renaming would
    silently leave every `yields_to` unset). One pass over the file as it is now; the import reads it once per network
    and hands it to add_yields. Example: `<junction id="A0" ...><request index="0" response="0100" .../>` gives
    {"A0": {0: "0100"}}."""
    out: dict[str, dict[int, str]] = {}
    current: dict[int, str] | None = None
    with open_xml(net_path) as source:
        for event, elem in ET.iterparse(source, events=("start", "end")):
            if event == "start":
                if elem.tag == "junction":
                    current = out.setdefault(elem.get("id", ""), {})
                continue
            if elem.tag == "request" and current is not None:
                current[int(elem.get("index", "-1"))] = elem.get("response", "")
            elif elem.tag == "junction":
                current = None
            elem.clear()
    return out


def internal_paths_m(net_path: str | Path) -> dict[str, float]:
    """Per internal lane of the network file at `net_path`, the length of the path through the junction from it: its
    own length plus, where SUMO splits the path at an internal junction (a left turn waiting inside the box), the
    internal lanes after it. One pass over the file. Example: fkk_in_delay's gneJ21 link 1 (a bicycle turning left) has
    via ":gneJ21_2_0" (35 m) and then ":gneJ21_27_0" (31 m): {":gneJ21_2_0": 66.0, ...}."""
    length: dict[str, float] = {}
    then: dict[str, str] = {}  # internal lane -> the internal lane its path goes on to
    with open_xml(net_path) as source:
        for _, elem in ET.iterparse(source, events=("end",)):
            if elem.tag == "lane" and elem.get("id", "").startswith(":"):
                length[elem.get("id", "")] = float(elem.get("length", "0"))
            elif elem.tag == "connection" and elem.get("from", "").startswith(":") and elem.get("via"):
                then[f"{elem.get('from')}_{elem.get('fromLane', '0')}"] = elem.get("via", "")
            elem.clear()
    out: dict[str, float] = {}
    for lane in length:
        total, at, seen = 0.0, lane, set()
        while at in length and at not in seen:
            seen.add(at)
            total += length[at]
            at = then.get(at, "")
        out[lane] = round(total, 2)
    return out


def add_cyclist_clear(
    movement_tables: list[dict[str, Any]], tl: sumolib.net.TLS, paths_m: dict[str, float], speed_mps: float
) -> None:
    """[timing] cyclist_clearance: set `cyclist_clear_s` on each movement with a link a bicycle may take (its lane open
    to bicycles): the longest such link's path through the junction (`paths_m`, internal_paths_m) at `speed_mps`."""
    path_m: dict[tuple[str, int], float] = {}  # (lane, link) -> its path, for lanes open to bicycles
    for in_lane, out_lane, link in tl.getConnections():
        if not in_lane.allows("bicycle"):
            continue
        for c in in_lane.getOutgoing():
            if c.getToLane() is out_lane and c.getTLLinkIndex() == link:
                key = (in_lane.getID(), link)
                path_m[key] = max(path_m.get(key, 0.0), paths_m.get(c.getViaLaneID() or "", 0.0))
    for m in movement_tables:
        links, lanes = set(m["links"]), set(m["lanes"])
        most_m = max((p for (lane, link), p in path_m.items() if link in links and lane in lanes), default=0.0)
        if most_m > 0:
            m["cyclist_clear_s"] = round(most_m / speed_mps, 2)


def _node_links(
    tl: sumolib.net.TLS, links: set[int]
) -> dict[sumolib.net.node.Node, list[tuple[sumolib.net.connection.Connection, int]]]:
    """The light's vehicle connections whose signal link is in `links`, by the junction (node) they cross."""
    out: dict[sumolib.net.node.Node, list[tuple[sumolib.net.connection.Connection, int]]] = {}
    for in_lane, out_lane, link in tl.getConnections():
        if link not in links:
            continue
        for c in in_lane.getOutgoing():
            if c.getToLane() is out_lane and c.getTLLinkIndex() == link:
                out.setdefault(in_lane.getEdge().getToNode(), []).append((c, link))
    return out

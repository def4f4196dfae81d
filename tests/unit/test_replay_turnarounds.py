"""Candidate routes that turn around (`[replay] drop_turnaround_routes`): which links are
U-turns, and that such routes leave the candidate sets routeSampler picks from."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import ConfigError
from sim.replay_demand import candidate_sets, drop_turnaround_routes, turnaround_links
from tests.netxml import Edge, Link, net_xml

# A two-way street W-C and a street C-E: from "in" (W->C) a vehicle goes on to "out" (C->E)
# or turns around into "back" (C->W); from "ret" (E->C) it goes on to "back"; "back" goes on
# to "away" (W->Z), far west: the way from "in" to "away" is the U-turn.
TURN_NODES = {"w": (0, 0), "c": (100, 0), "e": (200, 0), "z": (-300, 0)}
TURN_EDGES = [Edge("in", "w", "c"), Edge("back", "c", "w"), Edge("out", "c", "e"), Edge("ret", "e", "c")]
TURN_EDGES.append(Edge("away", "w", "z"))
TURN_LINKS = [Link("in", "out"), Link("in", "back", "t", state="m"), Link("ret", "back"), Link("back", "away")]


def turn_net(tmp_path: Path, junction_type: str = "priority"):
    """The net with junction C of `junction_type`."""
    import sumolib

    path = tmp_path / f"turn_{junction_type}.net.xml"
    path.write_text(net_xml(TURN_NODES, TURN_EDGES, TURN_LINKS, {"c": junction_type, "e": "dead_end"}))
    return path, sumolib.net.readNet(str(path), withInternal=False)


def routes_file(path: Path, routes: list[str]) -> Path:
    root = ET.Element("routes")
    for k, edges in enumerate(routes):
        ET.SubElement(ET.SubElement(root, "vehicle", id=str(k), depart="0"), "route", edges=edges)
    path.write_bytes(ET.tostring(root))
    return path


def edges_of(path: Path) -> list[str]:
    return [v.find("route").get("edges") for v in ET.parse(path).getroot().iter("vehicle")]


def test_a_turnaround_link_is_a_u_turn_connection(tmp_path):
    _path, net = turn_net(tmp_path)
    assert turnaround_links(net, "all") == frozenset({("in", "back")})
    assert turnaround_links(net, "signals") == turnaround_links(net, "none") == frozenset()  # C has no signal
    _path, net = turn_net(tmp_path, "traffic_light")
    assert turnaround_links(net, "signals") == frozenset({("in", "back")})


def test_a_route_that_turns_around_is_no_candidate(tmp_path):
    _path, net = turn_net(tmp_path)
    path = routes_file(tmp_path / "r.xml", ["in out", "in back", "ret back", "back", "in"])
    assert drop_turnaround_routes(path, turnaround_links(net, "all")) == 1
    assert edges_of(path) == ["in out", "ret back", "back", "in"]  # "back" after "ret" is no U-turn
    assert drop_turnaround_routes(path, frozenset()) == 0


@pytest.mark.slow  # randomTrips.py and duarouter, twice
def test_the_candidate_sets_hold_no_u_turn_when_asked(tmp_path):
    """randomTrips routes a trip from "in" to "away" by its U-turn (the only way): a candidate
    set has such routes unless turnarounds are dropped."""
    net_file, net = turn_net(tmp_path)
    turns = turnaround_links(net, "all")

    def u_turns(out: Path, drop: frozenset) -> int:
        out.mkdir()
        sets = candidate_sets(net_file, out, 1, 200, drop_one_edge=True, turnarounds=drop)
        routes = [r.split() for f in (*sets.entries, *sets.anywhere) for r in edges_of(f)]
        assert routes  # the other routes stay
        return sum(1 for r in routes if any(p in turns for p in pairwise(r)))

    assert u_turns(tmp_path / "kept", frozenset()) > 0
    assert u_turns(tmp_path / "dropped", turns) == 0


def test_the_switch_names_where_u_turns_are_dropped(tmp_path):
    path = tmp_path / "c.toml"
    for where in ("none", "signals", "all"):
        path.write_text(f'[replay]\ndrop_turnaround_routes = "{where}"\n')
        assert load_config(path).replay.drop_turnaround_routes == where
    for bad in ('"yes"', "true"):
        path.write_text(f"[replay]\ndrop_turnaround_routes = {bad}\n")
        with pytest.raises(ConfigError, match="replay.drop_turnaround_routes"):
            load_config(path)

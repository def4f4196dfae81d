"""A light whose left turns also wait at an internal stop in the box with their own signal (a connection's `linkIndex2`
in a .tll.xml): SUMO then lists, besides each approach's links, a signal link from the internal lane, which is none of
the node's incoming lanes (sumolib's getLinkIndex: -1). The import read the right of way at index -1 and failed
(IndexError): the light stayed on its own program under every policy (H, session 61; issue 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import load_config
from controller.junctions import load_intersections
from sim.netimport import import_network
from tests import netbuild
from tests.scenarios import HOME, run_tool

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")

ARMS = {"N": (0, 200), "S": (0, -200), "E": (200, 0), "W": (-200, 0)}
# each approach's right, straight and left exit
TURNS = {"W": ("S", "E", "N"), "E": ("N", "W", "S"), "N": ("W", "S", "E"), "S": ("E", "N", "W")}


def _tll() -> str:
    rows, k = [], 0
    for arm, exits in TURNS.items():
        for turn, to in zip("rsl", exits, strict=True):
            second = f' linkIndex2="{12 + "WENS".index(arm)}"' if turn == "l" else ""
            ends = f'from="{arm}_C" to="C_{to}" fromLane="0" toLane="0"'
            rows.append(f'  <connection {ends} tl="C" linkIndex="{k}"{second}/>')
            k += 1

    def state(arms: str, letter: str) -> str:  # 12 approach links (r, s, l per arm), then the 4 internal stops
        left = "g" if letter == "G" else letter
        links = "".join(letter * 2 + left if a in arms else "rrr" for a in "WENS")
        return links + "".join(left if a in arms else "r" for a in "WENS")

    phases = [(30, state("WE", "G")), (3, state("WE", "y")), (30, state("NS", "G")), (3, state("NS", "y"))]
    logic = netbuild.tl_logic("C", "0", phases)
    return "<tlLogics>\n" + logic + "\n" + "\n".join(rows) + "\n</tlLogics>\n"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("li2")
    nodes = {"C": (0, 0, "traffic_light"), **{a: (x, y, "priority") for a, (x, y) in ARMS.items()}}
    edges = [e for a in ARMS for e in ((f"{a}_C", a, "C"), (f"C_{a}", "C", a))]
    plain = netbuild.netconvert(work, "plain", netbuild.node_xml(nodes), netbuild.edge_xml(edges, {}, {}))
    (work / "li2.tll.xml").write_text(_tll())  # the connections exist once netconvert has built them: a second pass
    cmd = ["-s", plain.name, "--tllogic-files", "li2.tll.xml", "-o", "li2.net.xml"]
    run_tool([str(HOME / "bin" / "netconvert"), *cmd], work)
    return work / "li2.net.xml"


def test_the_network_carries_signal_links_from_inside_the_box(net: Path) -> None:
    text = net.read_text()
    assert 'linkIndex2="12"' in text and 'tl="C" linkIndex="12"' in text


def test_a_light_with_internal_stop_signals_is_imported_and_its_lefts_yield(net: Path, tmp_path: Path) -> None:
    result = import_network(net, tmp_path, CFG)
    assert result.skipped == ()
    junction = load_intersections(tmp_path)["C"]
    left = next(m for m in junction.movements if m.from_edge == "W_C" and m.turn == "left")
    oncoming = next(m for m in junction.movements if m.from_edge == "E_C" and m.turn == "through")
    assert left.yields_to is not None and oncoming.id in left.yields_to
    served = {k for m in junction.movements for k in m.links}
    assert served == set(range(16))

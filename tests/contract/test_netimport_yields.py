"""import-net writes each movement's `yields_to`: the movements some link of it gives way to by the network's own
right of way (SUMO's `<request response>`), which `[max_pressure] yield_block_s` reads (given_way_lanes). On a grid
with signalised crossings a right turn is permitted ('g') for the walkers only (single_scramble_h, A session 56)."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import sumolib

from controller.config import load_config
from controller.core.estimation import Layout
from controller.core.policies.max_pressure import given_way_lanes, yield_lanes
from controller.junctions import load_intersections
from sim import netmovements
from sim.netimport import import_net, read_net
from sim.netmovements import right_of_way
from tests.scenarios import pedestrian_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("ped")
    net = pedestrian_net(work)
    import_net(net, work / "j", CFG)
    return net, load_intersections(work / "j")


def test_yields_to_is_the_right_of_way_sumo_reads(imported: tuple[Path, dict]) -> None:
    """Movement m yields to o when SUMO's node forbids some link of m while a link of o passes (sumolib's forbids)."""
    path, junctions = imported
    net = read_net(path)
    checked = 0
    for jid, j in junctions.items():
        conns: dict[int, list] = {}
        for in_lane, out_lane, link in net.getTLS(jid).getConnections():
            conns.setdefault(link, []).extend(
                c for c in in_lane.getOutgoing() if c.getToLane() is out_lane and c.getTLLinkIndex() == link
            )
        node = next(iter(conns[j.movements[0].links[0]])).getFrom().getToNode()
        for m in j.movements:
            want = {
                o.id
                for o in j.movements
                if o.id != m.id
                and any(node.forbids(b, a) for k in m.links for a in conns[k] for q in o.links for b in conns[q])
            }
            assert m.yields_to is not None and set(m.yields_to) == want, (jid, m.id)
            checked += 1
    assert checked > 40


def test_a_permitted_right_turn_gives_way_to_no_stream_and_a_permitted_left_to_the_oncoming(
    imported: tuple[Path, dict],
) -> None:
    _, junctions = imported
    rights = lefts = 0
    for j in junctions.values():
        lay = Layout.build(j, CFG)
        old, new = yield_lanes(lay), given_way_lanes(lay)
        for c in range(len(j.phases)):
            for m in np.flatnonzero(lay.serves[c] & ~lay.protected[c]):
                mv = j.movements[m]
                if mv.turn == "right":
                    assert old[c, m].any() and not new[c, m].any(), (j.id, c, mv.id)
                    rights += 1
                elif mv.turn == "left":
                    oncoming = [
                        o
                        for o in j.movements
                        if o.turn == "through"
                        and o.to_edge
                        and o.from_edge != mv.from_edge
                        and lay.protected[c][j.movements.index(o)]
                        and o.approach != mv.approach
                        and {o.approach, mv.approach} in ({"N", "S"}, {"E", "W"})
                    ]
                    assert oncoming, (j.id, c, mv.id)
                    for o in oncoming:
                        assert new[c, m][[lay.lanes.index(lane) for lane in o.lanes]].all(), (j.id, c, mv.id, o.id)
                    lefts += 1
    assert rights > 4 and lefts > 4


def test_yields_to_is_read_from_the_network_file_not_from_sumolib_s_node_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The right of way comes from the file's `<request>` elements (netmovements.right_of_way): with sumolib keeping
    none of it on its nodes (as after a rename of its private fields), import-net writes the same files, every
    movement's `yields_to` included."""
    net = pedestrian_net(tmp_path)
    import_net(net, tmp_path / "a", CFG)
    monkeypatch.setattr(sumolib.net.node.Node, "setFoes", lambda self, index, foes, prohibits: None)
    assert not any(n._prohibits for n in read_net(net).getNodes())
    import_net(net, tmp_path / "b", CFG)
    a, b = sorted((tmp_path / "a").glob("*.toml")), sorted((tmp_path / "b").glob("*.toml"))
    assert a and [p.name for p in a] == [p.name for p in b]
    assert all("yields_to" in p.read_text() and p.read_text() == q.read_text() for p, q in zip(a, b))


def test_right_of_way_reads_each_junction_s_requests_from_a_plain_or_gzip_file(tmp_path: Path) -> None:
    net = pedestrian_net(tmp_path)
    gz = tmp_path / "ped.net.xml.gz"
    with open(net, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    plain = right_of_way(net)
    node = next(n for n in read_net(net).getNodes() if n.getType() == "traffic_light")
    assert plain[node.getID()] and plain[node.getID()] == node._prohibits
    assert right_of_way(gz) == plain


def test_right_of_way_reads_the_file_as_it_is_now_even_at_the_same_modification_time(tmp_path: Path) -> None:
    """right_of_way keeps no reading between calls (no module-level cache): a network written again at the same path
    within the file system's clock step (netconvert run anew over a scenario) is read anew, not served the reading of
    the file it replaced."""
    net = pedestrian_net(tmp_path)
    before = right_of_way(net)
    text, mtime_ns = net.read_text(), net.stat().st_mtime_ns
    assert 'response="' in text
    net.write_text(text.replace('response="', 'response="1', 1).replace('foes="', 'foes="1', 1))
    os.utime(net, ns=(net.stat().st_atime_ns, mtime_ns))
    assert right_of_way(net) != before


def test_the_import_reads_the_right_of_way_once_for_all_the_lights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The network file's `<request>` elements are read in one pass per import and handed to every light's
    add_yields, not read again for each light."""
    net = pedestrian_net(tmp_path)
    calls: list[str] = []

    def counted(path: str | Path) -> dict[str, dict[int, str]]:
        calls.append(str(path))
        return right_of_way(path)

    monkeypatch.setattr(netmovements, "right_of_way", counted)
    written = import_net(net, tmp_path / "j", CFG)
    assert len(written) > 1 and calls == [str(net)]
    assert all("yields_to" in p.read_text() for p in written)

"""Hand-built SUMO networks for importer tests: plain .nod/.edg XML through netconvert.

`cross_net` is one signalised node C with four approaches, each a different case of detector
placement (lengths in metres can be overridden per edge):
- W: W0 -> W1 -> C, the short link W1C fed by W0W1 alone, which feeds nothing else (a chain);
- E: E0 -> C, a long link from the fringe;
- N: N0 -> C, a short link starting at the fringe (vehicles are inserted at its start);
- S: S0 -> S1 <- S2, then S1 -> C: the short link S1C fed by two links (the chain branches).

`midblock_net` is netconvert's signalised mid-block pedestrian crossing (F's midblock_ped, session 59).
"""

from __future__ import annotations

from pathlib import Path

from tests.scenarios import HOME, run_tool

NODES = {
    "C": (0, 0, "traffic_light"),
    "W0": (-300, 0, "priority"),
    "W1": (-30, 0, "priority"),
    "E0": (300, 0, "priority"),
    "N0": (0, 30, "priority"),
    "S0": (0, -300, "priority"),
    "S1": (0, -30, "priority"),
    "S2": (100, -30, "priority"),
}
EDGES = ("W0W1", "W1C", "CW1", "W1W0", "E0C", "CE0", "N0C", "CN0", "S0S1", "S2S1", "S1C", "CS1", "S1S0")


def node_xml(nodes: dict[str, tuple], tl: dict[str, str] | None = None) -> str:
    rows = []
    for nid, (x, y, kind) in nodes.items():
        extra = f' tl="{tl[nid]}"' if tl and nid in tl else ""
        rows.append(f'  <node id="{nid}" x="{x}" y="{y}" type="{kind}"{extra}/>')
    return "<nodes>\n" + "\n".join(rows) + "\n</nodes>\n"


def edge_xml(edges: list[tuple[str, str, str]], lengths: dict[str, float], lanes: dict[str, int]) -> str:
    rows = []
    for eid, a, b in edges:
        length = f' length="{lengths[eid]}"' if eid in lengths else ""
        rows.append(f'  <edge id="{eid}" from="{a}" to="{b}" numLanes="{lanes.get(eid, 1)}" speed="13.9"{length}/>')
    return "<edges>\n" + "\n".join(rows) + "\n</edges>\n"


def netconvert(cwd: Path, name: str, nodes_xml: str, edges_xml: str, *args: str) -> Path:
    (cwd / f"{name}.nod.xml").write_text(nodes_xml)
    (cwd / f"{name}.edg.xml").write_text(edges_xml)
    out = cwd / f"{name}.net.xml"
    run_tool(
        [
            str(HOME / "bin" / "netconvert"),
            "-n",
            f"{name}.nod.xml",
            "-e",
            f"{name}.edg.xml",
            "--no-turnarounds",
            "-o",
            out.name,
            *args,
        ],
        cwd,
    )
    return out


def cross_net(cwd: Path, name: str = "cross", lengths: dict[str, float] | None = None, *args: str) -> Path:
    edges = []
    for eid in EDGES:
        a, b = split_edge(eid)
        edges.append((eid, a, b))
    return netconvert(cwd, name, node_xml(NODES), edge_xml(edges, lengths or {}, {}), *args)


def split_edge(eid: str) -> tuple[str, str]:
    """'W0W1' -> ('W0', 'W1'), 'W1C' -> ('W1', 'C'), 'CW1' -> ('C', 'W1')."""
    if eid.startswith("C"):
        return "C", eid[1:]
    if eid.endswith("C"):
        return eid[:-1], "C"
    return eid[:2], eid[2:]


def cluster_net(cwd: Path, name: str = "cluster") -> Path:
    """Two signalised nodes A and B 40 m apart, one traffic light 'J' for both (a joined
    cluster), each with a side road; the link A -> B is internal to the cluster."""
    nodes = {
        "A": (0, 0, "traffic_light"),
        "B": (40, 0, "traffic_light"),
        "W": (-300, 0, "priority"),
        "E": (340, 0, "priority"),
        "AN": (0, 300, "priority"),
        "AS": (0, -300, "priority"),
        "BN": (40, 300, "priority"),
        "BS": (40, -300, "priority"),
    }
    pairs = [("W", "A"), ("A", "B"), ("B", "E"), ("AN", "A"), ("A", "AS"), ("BS", "B"), ("B", "BN")]
    edges = []
    for a, b in pairs:
        edges += [(f"{a}_{b}", a, b), (f"{b}_{a}", b, a)]
    return netconvert(cwd, name, node_xml(nodes, {"A": "J", "B": "J"}), edge_xml(edges, {}, {}))


WALK = ("--sidewalks.guess", "--sidewalks.guess.max-speed", "20", "--crossings.guess")  # sidewalks, crossings


def midblock_net(cwd: Path, name: str = "mb") -> Path:
    """One signalised node m on a two-lane road a - m - b (200 m each side), sidewalks guessed and one
    crossing over the road at m (link 4: the road's links first): netconvert's mid-block crossing."""
    nodes = {"a": (-200, 0, "priority"), "m": (0, 0, "traffic_light"), "b": (200, 0, "priority")}
    edges = [("a_m", "a", "m"), ("m_a", "m", "a"), ("m_b", "m", "b"), ("b_m", "b", "m")]
    return netconvert(cwd, name, node_xml(nodes), edge_xml(edges, {}, {e: 2 for e, _, _ in edges}), *WALK)


def additional(cwd: Path, name: str, body: str) -> Path:
    fp = cwd / name
    fp.write_text(f"<additional>\n{body}\n</additional>\n")
    return fp


def tl_logic(tls: str, program_id: str, phases: list[tuple[float, str]], offset_s: float = 0.0) -> str:
    rows = "\n".join(f'    <phase duration="{d:g}" state="{s}"/>' for d, s in phases)
    return f'  <tlLogic id="{tls}" type="static" programID="{program_id}" offset="{offset_s:g}">\n{rows}\n  </tlLogic>'


def pair_net(cwd: Path, link_m: float) -> Path:
    """Lights A and B on one road, each its own traffic light, joined by edges A_B and B_A of
    `link_m` metres, each with a side road."""
    nodes = {
        "A": (0, 0, "traffic_light"),
        "B": (60, 0, "traffic_light"),
        "W": (-300, 0, "priority"),
        "E": (360, 0, "priority"),
        "AN": (0, 300, "priority"),
        "AS": (0, -300, "priority"),
        "BN": (60, 300, "priority"),
        "BS": (60, -300, "priority"),
    }
    pairs = [("W", "A"), ("A", "B"), ("B", "E"), ("AN", "A"), ("A", "AS"), ("BN", "B"), ("B", "BS")]
    edges = []
    for a, b in pairs:
        edges += [(f"{a}_{b}", a, b), (f"{b}_{a}", b, a)]
    lengths = {"A_B": link_m, "B_A": link_m}
    return netconvert(cwd, f"pair{link_m:g}", node_xml(nodes, {"A": "A", "B": "B"}), edge_xml(edges, lengths, {}))

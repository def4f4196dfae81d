"""Does a run ever give a conflicting pair of links less clearance than the city's program? (issue 9, safety)

    python -m sim.clearance_audit additional NET.net.xml STATES.xml OUT.add.xml
        # a SaveTLSStates timed event per traffic light of the network, written to STATES.xml
    python -m sim.clearance_audit audit STATES.xml INTERSECTIONS_DIR [--json OUT.json] [--reference FIXED.json]

A run: `run_controller.py simulate CFG --out D --policy P -- --seed 1 --end 900 --additional-files OUT.add.xml`
(simulate adds the user's additional files to the scenario's), then `audit` on STATES.xml and D/intersections.

For each junction file, each ordered pair (i, k) of vehicle links whose movements conflict (a movement's
`conflicts`) and each end of i's green ('G' or 'g'), the clearance is the time from that end (the first
record without green) to k's next green start (the first record with green). The shortest per pair is
compared with two floors:

- `table`: the pair's `[pair_intergreen_s]` seconds (the city's program's intergreen where it is longer
  than the change; docs/import.md, stages and intergreens, rule 5);
- `change`: the junction's `yellow_s + all_red_s`, for every conflicting pair.

A pair under a floor is listed with the seconds short, the times, and the stage path between (the model's
phase indices of the records from i's last green to k's first, a record in no stage left out). `--reference`:
the `--json` of the same network under policy fixed (the city's program); only the shortfalls shorter than that
run's shortest of the same pair are listed (the city's own program runs some pairs under yellow + all-red: a
staggered start, a link that keeps 'o' through a change). The controller is not touched: the states are
SUMO's, the floors the junction files'."""

from __future__ import annotations

import argparse
import bisect
import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from controller.errors import DefinitionError
from controller.junctions import load_intersections
from controller.model import Intersection

GREEN_LETTERS = frozenset("Gg")
CHANGE_LETTERS = frozenset("yYu")
TOLERANCE_S = 1e-6  # a record time is read from text: a clearance equal to the floor is not short


@dataclass(frozen=True)
class Record:
    time_s: float
    state: str


@dataclass(frozen=True)
class Clearance:
    """The shortest clearance seen for one ordered pair: i's green ended at end_s, k's began at start_s."""

    junction: str
    link_ended: int
    link_started: int
    clearance_s: float
    end_s: float
    start_s: float
    path: tuple[int, ...]


@dataclass(frozen=True)
class Shortfall:
    floor: str  # "table" or "change"
    floor_s: float
    short_s: float
    seen: Clearance


def read_states(path: Path) -> dict[str, list[Record]]:
    """SaveTLSStates output -> light id -> its records in time order."""
    by_light: dict[str, dict[float, str]] = {}
    try:
        for _event, el in ET.iterparse(path):
            if el.tag == "tlsState":
                light, time_text, state = el.get("id"), el.get("time"), el.get("state")
                if light is None or time_text is None or state is None:
                    raise DefinitionError(str(path), "tlsState", "needs id, time and state")
                by_light.setdefault(light, {})[float(time_text)] = state
                el.clear()
    except (ET.ParseError, OSError, ValueError) as exc:
        raise DefinitionError(str(path), "tlsState", f"not a readable tls-states file: {exc}") from exc
    return {light: [Record(t, s) for t, s in sorted(seen.items())] for light, seen in by_light.items()}


def conflicting_link_pairs(j: Intersection) -> set[tuple[int, int]]:
    """Every ordered pair of links of two movements one of which lists the other in its conflicts."""
    pairs: set[tuple[int, int]] = set()
    for m in j.movements:
        for other_id in m.conflicts:
            other = j.movement(other_id)
            for i in m.links:
                for k in other.links:
                    if i != k:
                        pairs.update({(i, k), (k, i)})
    return pairs


def green_edges(records: Sequence[Record], link: int) -> tuple[list[float], list[float]]:
    """(starts, ends) of the link's greens: the first record green, the first record after a green not green."""
    starts: list[float] = []
    ends: list[float] = []
    was_green = False
    for r in records:
        green = r.state[link] in GREEN_LETTERS
        if green and not was_green:
            starts.append(r.time_s)
        elif was_green and not green:
            ends.append(r.time_s)
        was_green = green
    return starts, ends


def stage_labels(j: Intersection, records: Sequence[Record]) -> list[int | None]:
    """Per record the model's phase whose green links it shows exactly (no link yellow), else None."""
    phase_of = {p.green_links(): p.index for p in j.phases}
    out: list[int | None] = []
    for r in records:
        if any(c in CHANGE_LETTERS for c in r.state):
            out.append(None)
        else:
            out.append(phase_of.get(frozenset(i for i, c in enumerate(r.state) if c in GREEN_LETTERS)))
    return out


def stage_path(times_s: Sequence[float], labels: Sequence[int | None], end_s: float, start_s: float) -> tuple[int, ...]:
    """The stages from the record before end_s (i's last green) to the one at start_s, repeats and None left out."""
    first = max(0, bisect.bisect_left(times_s, end_s) - 1)
    last = bisect.bisect_right(times_s, start_s)
    path: list[int] = []
    for label in labels[first:last]:
        if label is not None and (not path or path[-1] != label):
            path.append(label)
    return tuple(path)


def shortest_clearances(j: Intersection, records: Sequence[Record], source: str) -> list[Clearance]:
    """Per conflicting pair the shortest clearance from an end of i's green to k's next green start."""
    if any(len(r.state) != j.n_links for r in records):
        raise DefinitionError(source, f"light {j.id}", f"a state is not {j.n_links} links long ({j.source})")
    edges = {link: green_edges(records, link) for link in range(j.n_links)}
    times_s = [r.time_s for r in records]
    labels = stage_labels(j, records)
    out = []
    for i, k in sorted(conflicting_link_pairs(j)):
        starts = edges[k][0]
        best: tuple[float, float, float] | None = None
        for end_s in edges[i][1]:
            n = bisect.bisect_right(starts, end_s - TOLERANCE_S)
            if n < len(starts) and (best is None or starts[n] - end_s < best[0]):
                best = (starts[n] - end_s, end_s, starts[n])
        if best is not None:
            path = stage_path(times_s, labels, best[1], best[2])
            out.append(Clearance(j.id, i, k, best[0], best[1], best[2], path))
    return out


def shortfalls(j: Intersection, seen: Iterable[Clearance]) -> list[Shortfall]:
    """The pairs under the table's seconds (`table`) and under yellow_s + all_red_s (`change`)."""
    table_s = {(i, k): s for i, k, s in j.pair_intergreen_s}
    change_s = j.yellow_s + j.all_red_s
    out = []
    for c in seen:
        floors = [("change", change_s)]
        if (c.link_ended, c.link_started) in table_s:
            floors.append(("table", table_s[(c.link_ended, c.link_started)]))
        for name, floor_s in floors:
            if c.clearance_s < floor_s - TOLERANCE_S:
                out.append(Shortfall(name, floor_s, floor_s - c.clearance_s, c))
    return out


def audit(states_path: Path, folder: Path) -> tuple[list[Clearance], list[Shortfall]]:
    """Every junction file of the folder against its light's records (a light with none: an error)."""
    states = read_states(states_path)
    seen: list[Clearance] = []
    short: list[Shortfall] = []
    for jid, j in sorted(load_intersections(folder).items()):
        if jid not in states:
            raise DefinitionError(str(states_path), f"light {jid}", f"no tlsState records ({j.source})")
        pairs = shortest_clearances(j, states[jid], str(states_path))
        seen.extend(pairs)
        short.extend(shortfalls(j, pairs))
    return seen, short


def light_ids(net_file: Path) -> list[str]:
    """The traffic lights' ids (tlLogic) of a SUMO network, in file order, once each."""
    ids: dict[str, None] = {}
    try:
        for _event, el in ET.iterparse(net_file):
            if el.tag == "tlLogic":
                ids[el.get("id", "")] = None
            el.clear()
    except (ET.ParseError, OSError) as exc:
        raise DefinitionError(str(net_file), "tlLogic", f"not a readable network: {exc}") from exc
    return list(ids)


def write_additional(net_file: Path, states_path: Path, out: Path) -> Path:
    root = ET.Element("additional")
    for light in light_ids(net_file):
        ET.SubElement(root, "timedEvent", type="SaveTLSStates", source=light, dest=str(states_path.resolve()))
    out.write_bytes(ET.tostring(root))
    return out


def shorter_than_reference(short: Iterable[Shortfall], reference_json: Path) -> list[Shortfall]:
    """The shortfalls shorter than the reference run's (`audit --json` of the city's program, policy fixed)
    shortest clearance of the same pair: the ones the city's own program does not run (a pair it never
    ended and started: no reference, listed)."""
    try:
        rows = json.loads(reference_json.read_text())["seen"]
        ref_s = {(r["junction"], r["link_ended"], r["link_started"]): float(r["clearance_s"]) for r in rows}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DefinitionError(str(reference_json), "seen", f"not an audit --json file: {exc}") from exc
    return [s for s in short if s.seen.clearance_s < ref_s.get(_pair(s.seen), float("inf")) - TOLERANCE_S]


def _pair(c: Clearance) -> tuple[str, int, int]:
    return c.junction, c.link_ended, c.link_started


def describe(s: Shortfall) -> str:
    c = s.seen
    path = " -> ".join(str(p) for p in c.path) or "-"
    return (
        f"{c.junction} {c.link_ended}>{c.link_started} {s.floor} floor {s.floor_s:g} s seen {c.clearance_s:g} s "
        f"({s.short_s:g} s short) green end {c.end_s:g} start {c.start_s:g} stages {path}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.clearance_audit", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("additional", help="the SaveTLSStates additional file for a network")
    add.add_argument("net", type=Path)
    add.add_argument("states", type=Path)
    add.add_argument("out", type=Path)
    run = sub.add_parser("audit", help="shortest clearances of a run against the junction files")
    run.add_argument("states", type=Path)
    run.add_argument("intersections", type=Path)
    run.add_argument("--json", type=Path, help="write every pair's shortest clearance and the shortfalls")
    run.add_argument("--reference", type=Path, help="the city's program's run (--json): list only shorter ones")
    args = ap.parse_args(argv)
    if args.cmd == "additional":
        print(write_additional(args.net, args.states, args.out))
        return 0
    seen, short = audit(args.states, args.intersections)
    if args.json:
        args.json.write_text(json.dumps({"seen": [asdict(c) for c in seen], "short": [asdict(s) for s in short]}))
    if args.reference:
        short = shorter_than_reference(short, args.reference)
        print(f"shorter than the reference run {args.reference}:")
    for name in ("table", "change"):
        listed = [s for s in short if s.floor == name]
        print(f"{name}: {len(listed)} pairs under the floor (of {len(seen)} conflicting pairs seen)")
        for s in sorted(listed, key=lambda s: -s.short_s):
            print("  " + describe(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())

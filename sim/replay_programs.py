"""The city's programs in force a recording's statuses name, for its replay (sim/replay.py).

A roadside's status names the program in force (`program`, docs/mqtt.md; a `<WAUT>` of the city switches it by the
time of day), and the feed archive records it (the status rows' `program` column, since session 66; "" where the
status names none, and in every row of a file written before). A replay runs the scenario's lights on the programs
the recording names, switched when it names them: each light whose statuses name a program SUMO would not otherwise
run then gets a SUMO `<WAUT>` of its own (OUT/scenario/programs.add.xml, one of the scenario's additional files),
which SUMO runs where the light runs its own program and the field (sim/field.py) reads as any WAUT: its status
names the program in force, a hand-back resumes it, and [harm] follow_program_in_force follows it as it did live.

- The program in force at the scenario's begin is the last one named at or before it, else the first one named
  (the first status of a recording names what already runs); then each change the statuses name, at its time on the
  scenario's clock. A status naming no program ("") changes nothing.
- A light a WAUT of the scenario's own files already switches is left to it (a simulation's recording replays its
  WAUT on its own clock); a light whose statuses name a program SUMO has not loaded for it (neither in the network nor
  in the additional files) is left on what SUMO runs, named in the log; a light whose statuses name only the program
  SUMO runs anyway gets nothing.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import sumolib

from controller.adapters.archive import read_archive
from sim.netprogram import read_additional, waut_schedules

log = logging.getLogger(__name__)

PROGRAMS_FILE = "programs.add.xml"


def program_timelines(
    rows: Iterable[tuple[str, float, str]], start_s: float, to_s: float
) -> dict[str, tuple[str, tuple[tuple[float, str], ...]]]:
    """Per light, the program in force at start_s and each change after it before to_s, (time, program), from the
    statuses' (junction, t_s, program) in the archive's order (time, then arrival). "" names nothing; a light whose
    statuses name nothing is not in the result."""
    named: dict[str, list[tuple[float, str]]] = {}
    for jid, t_s, program in rows:
        if program and t_s < to_s:
            named.setdefault(jid, []).append((t_s, program))
    out = {}
    for jid, seq in named.items():
        before = [p for t, p in seq if t <= start_s]
        first = current = before[-1] if before else seq[0][1]
        changes = []
        for t, p in seq:
            if t > start_s and p != current:
                changes.append((t, p))
                current = p
        out[jid] = (first, tuple(changes))
    return out


def _sumo_programs(net_file: Path, files: list[Path]) -> dict[str, tuple[str, frozenset[str]]]:
    """Per light, the program SUMO runs at the begin and every program it has loaded for it (the network's and the
    additional files')."""
    active, loaded, _ = read_additional(files)
    net = sumolib.net.readNet(str(net_file), withInternal=False, withPrograms=True)
    out: dict[str, tuple[str, frozenset[str]]] = {}
    for tl in net.getTrafficLights():
        first = next(iter(tl.getPrograms()), "")
        out[tl.getID()] = (first, frozenset(tl.getPrograms()))
    for tid, pid in loaded:
        runs, ids = out.get(tid, ("", frozenset()))
        out[tid] = (runs, ids | {pid})
    for tid, program in active.items():
        out[tid] = (program.program_id, out[tid][1])
    return out


def write_recorded_programs(
    site: Path, start_s: float, to_s: float, offset_s: float, net_file: Path, additional: list[str], out: Path
) -> Path | None:
    """OUT/programs.add.xml: a `<WAUT>` per light the recording's statuses switch (module doc), times on the
    scenario's clock (recording time - offset_s); None (and no file) where no light needs one."""
    path = out / PROGRAMS_FILE
    path.unlink(missing_ok=True)
    status = read_archive(site, "status", None, to_s).select(["junction", "t_s", "program"])
    rows = zip(
        status["junction"].cast(pa.string()).to_pylist(),
        status["t_s"].to_pylist(),
        status["program"].cast(pa.string()).to_pylist(),
    )
    timelines = program_timelines(rows, start_s, to_s)
    if not timelines:
        return None
    files = [Path(a) for a in additional if Path(a).is_file()]
    own = waut_schedules(files)
    root = _wauts(timelines, own, _sumo_programs(net_file, files), offset_s)
    if not len(root):
        return None
    ET.indent(root)
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def _wauts(
    timelines: Mapping[str, tuple[str, tuple[tuple[float, str], ...]]],
    own: Mapping[str, object],
    sumo: Mapping[str, tuple[str, frozenset[str]]],
    offset_s: float,
) -> ET.Element:
    """The `<additional>` of write_recorded_programs: a WAUT and its wautJunction per light that needs one."""
    root = ET.Element("additional")
    for jid, (first, changes) in sorted(timelines.items()):
        runs, loaded = sumo.get(jid, ("", frozenset()))
        if jid in own or (not changes and first == runs):
            continue
        unknown = sorted({first, *(p for _, p in changes)} - loaded)
        if unknown:
            log.warning(
                "replay: junction %s: the recording names programs SUMO has not loaded (%s): left on its own",
                jid,
                ", ".join(unknown),
            )
            continue
        wid = f"tsc_recorded_{jid}"
        waut = ET.SubElement(root, "WAUT", id=wid, refTime="0", startProg=first)
        for t_s, program in changes:
            ET.SubElement(waut, "wautSwitch", time=f"{t_s - offset_s:.3f}", to=program)
        ET.SubElement(root, "wautJunction", wautID=wid, junctionID=jid)
    return root

"""The `import-net` command (argument handling and printing only): what it reads, as SUMO would load it.

Kept apart from sim/cli.py, which loads the simulation's modules: an import needs none of them."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from controller.config import Config
from controller.errors import TscError
from sim.sumo import SumoConfig, additional_files, begin_s_of
from sim.xmlfiles import UNREADABLE_XML, open_xml, root_tag, with_includes

IMPORT_TAGS = frozenset({"tlLogic", "WAUT", "e1Detector", "inductionLoop"})  # what the import reads of a file


def import_net(args: argparse.Namespace, cfg: Config) -> int:
    """`import-net NET.xml|SCENARIO.sumocfg --out DIR [--additional A,B]`: one TOML per signalised junction."""
    from sim.netimport import SKIPPED_FILE, import_network

    net, additional, begin_s = import_sources(Path(args.net), args.additional)
    if not additional:
        for note in scenario_notes(net):
            print(note)
    result = import_network(net, args.out, cfg, additional, args.detectors, begin_s)
    print(f"wrote {len(result.written)} junction files to {args.out}")
    for tid, why in result.skipped:
        print(f"skipped {tid}: {why}")
    if result.skipped:
        print(f"{len(result.skipped)} traffic lights stay on their own program (listed in {args.out / SKIPPED_FILE})")
    if args.detectors == "city":
        for line in unread_city_detectors(additional, result.tables):
            print(f"note: {line}")
    return 0


def unread_city_detectors(files: list[Path], tables: Iterable[Mapping[str, Any]]) -> list[str]:
    """Lines naming the city's detectors the import does not read (sim/loops.py read_unread_detectors), by the
    junction (a table of the import) on whose lanes they sit: its movements' lanes and those its loops are on."""
    from sim.loops import read_unread_detectors, unread_lines

    found = read_unread_detectors(files)
    if not found:
        return []
    lanes_of = {
        str(t["id"]): {lane for m in t["movements"] for lane in m["lanes"]}
        | {d.get("at_lane", d["lane"]) for d in t["detectors"]}
        for t in tables
    }
    return unread_lines(found, lanes_of)


def import_sources(path: Path, listed: str) -> tuple[Path, list[Path], float | None]:
    """What import-net reads, as SUMO would load it: the network, the additional files in loading order, the
    run's begin. Given a scenario's configuration (.sumocfg): its net-file, its additional files then the
    `--additional` list (`listed`, added as `simulate` adds `--additional-files`: sim/sumo.py additional_files)
    and its begin, as `simulate` imports it. Given a network: the network, `listed`, no begin."""
    if not _is_config(path):
        return path, with_includes([Path(a) for a in listed.replace(";", ",").split(",") if a.strip()]), None
    scfg = SumoConfig(path)
    additional = additional_files(scfg, listed if listed.strip() else None)
    return scfg.net_file, with_includes([Path(a) for a in additional]), begin_s_of(scfg, [])


def _is_config(path: Path) -> bool:
    """Whether `path` is a SUMO configuration: its root is <configuration>, or another root that is not a
    network's and that holds a net-file option (SUMO reads a configuration's options under any root: Bologna's
    run.sumocfg is a <sumoConfiguration>, RiLSA's run.sumo.cfg a <c>)."""
    if not path.is_file():
        return False
    try:
        tag = root_tag(path)
    except UNREADABLE_XML:
        return False  # the import names what is wrong with the file
    if tag == "net":
        return False
    if tag == "configuration":
        return True
    try:
        SumoConfig(path)
    except TscError:
        return False  # not one: read as a network, the import names its root
    return True


def scenario_notes(net: Path) -> list[str]:
    """A line per SUMO configuration beside `net` that runs it with additional files, which import-net given
    the network alone does not read: its junction files then describe the network's own programs, not those
    the scenario runs, and generated loops, not the scenario's."""
    notes = []
    for path in sorted(net.resolve().parent.glob("*.sumocfg")):
        try:
            scfg = SumoConfig(path)
        except TscError:
            continue  # not a configuration SUMO reads: nothing to say of this import
        adds = [a for a in scfg.files("additional-files") if scfg.net_file == net.resolve() and import_reads(a)]
        if adds:
            names = ", ".join(a.name for a in adds)
            notes.append(
                f"note: {path.name} runs this network with signal programs or loops in {names}, not read here: "
                f"`import-net {path.name}` (or --additional) imports what that scenario runs"
            )
    return notes


def import_reads(path: Path) -> bool:
    """Whether the additional file holds anything the import reads: a signal program, a WAUT, an induction loop
    (not bus stops, rerouters...). A file that cannot be read counts as one: the note names it."""
    try:
        with open_xml(path) as stream:
            for _event, element in ET.iterparse(stream):
                if element.tag in IMPORT_TAGS:
                    return True
                element.clear()
    except UNREADABLE_XML:
        return True
    return False

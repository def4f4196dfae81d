"""SUMO's own adaptive controllers as baselines: `actuated` (gap-based) and `delay_based`.

Each junction's program is re-issued with the chosen type, its green phases given the
junction TOML's min/max green as minDur/maxDur; SUMO builds the detectors it needs itself.
The last program loaded becomes active, so adding this file switches the whole network.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from controller.model import GREEN, Intersection
from sim.netimport import read_net

FIELD_POLICIES = ("actuated", "delay_based")


def write_baseline_programs(net_file: Path, junctions: Mapping[str, Intersection], kind: str, path: Path) -> Path:
    if kind not in FIELD_POLICIES:
        raise ValueError(f"unknown SUMO controller type {kind!r}")
    net = read_net(net_file)
    root = ET.Element("additional")
    for tl in sorted(net.getTrafficLights(), key=lambda t: t.getID()):
        j = junctions.get(tl.getID())
        if j is None:
            continue
        programs = tl.getPrograms()
        program = programs[sorted(programs)[0]]
        logic = ET.SubElement(root, "tlLogic", id=tl.getID(), programID=kind, offset="0", type=kind)
        for ph in program.getPhases():
            greens = frozenset(i for i, c in enumerate(ph.state) if c in GREEN)
            match = next((p for p in j.phases if "y" not in ph.state and p.green_links() == greens and greens), None)
            attrs = {"duration": f"{float(ph.duration):g}", "state": ph.state}
            if match is not None:
                attrs.update(minDur=f"{match.min_green_s:g}", maxDur=f"{match.max_green_s:g}")
            ET.SubElement(logic, "phase", attrs)
    ET.indent(root)
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path

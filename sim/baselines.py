"""SUMO's own adaptive controllers as baselines: `actuated` (gap-based) and `delay_based`.

Each junction's program — the one SUMO would run (sim/netprogram.py: the last loaded, from the
scenario's additional files or the network) — is re-issued with the chosen type, its sub-phases
that share one state merged into one stage, and its green stages given the junction TOML's
min/max green as minDur/maxDur; SUMO builds the detectors it needs itself. The last program
loaded becomes active, so adding this file switches the whole network.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from controller.model import GREEN, Intersection
from sim.netprogram import active_programs, merge_runs

if TYPE_CHECKING:  # the import's modules loaded where a run reads the network (sim/importfiles.py)
    import sumolib

FIELD_POLICIES = ("actuated", "delay_based")


def write_baseline_programs(
    net_file: Path,
    junctions: Mapping[str, Intersection],
    kind: str,
    path: Path,
    additional: Sequence[Path] = (),
    net: sumolib.net.Net | None = None,
) -> Path:
    """`additional`: the scenario's additional files in SUMO's loading order (their programs
    replace the network's). `net`: the network at net_file already read (read_net), else read here."""
    if kind not in FIELD_POLICIES:
        raise ValueError(f"unknown SUMO controller type {kind!r}")
    from sim.netimport import read_net

    net = net if net is not None else read_net(net_file)
    programs = active_programs(net, str(net_file), list(additional))
    root = ET.Element("additional")
    for tid in sorted(programs):
        j, program = junctions.get(tid), programs[tid]
        if j is None or program is None:
            continue
        logic = ET.SubElement(root, "tlLogic", id=tid, programID=kind, offset="0", type=kind)
        for ph in merge_runs(program.phases):
            greens = frozenset(i for i, c in enumerate(ph.state) if c in GREEN)
            match = next((p for p in j.phases if "y" not in ph.state and p.green_links() == greens and greens), None)
            attrs = {"duration": f"{ph.duration_s:g}", "state": ph.state}
            if match is not None:
                attrs.update(minDur=f"{match.min_green_s:g}", maxDur=f"{match.max_green_s:g}")
            ET.SubElement(logic, "phase", attrs)
    ET.indent(root)
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path

"""Where a policy's loss against the city's plan accrues: per junction, in time, and by what do no
harm was doing there (a diagnosis; SUMO's truth, never the controller's input).

    python -m sim.loss_split --net NET.xml --junctions DIR/intersections \
        --policy-edges P.xml --fixed-edges F.xml --harm P/harm_check.json \
        [--policy-trips P/tripinfo.xml --fixed-trips F/tripinfo.xml] [--bin-s 900]

Inputs: SUMO edgeData (time loss per edge and interval; the same intervals in both runs) of a run
of the policy (with sim/harm_check.py, whose harm_check.json lists every switch of mode) and of
the fixed plan, same seed. Each edge is given to the junction whose approach it is (the stop-line
edge and the edges upstream of it back to the previous signal, sim/bench.py approach_edges);
other edges lead to no signal. The excess time loss (policy - fixed, vehicle-seconds) of each
edge and interval goes to one share:
- `no signal`: an edge that is no junction's approach (spill into the network, exits);
- `never judged`: the approaches of a junction do no harm never sent to its fixed plan;
- `before first verdict`: a judged junction's approaches before its first switch to fixed;
- `fixed mode`: while the junction runs its fixed plan (the jam the policy left, or the
  neighbours' spill);
- `later policy spells`: back under the policy after a return.
With the trip files, `insertion` is the excess depart delay (vehicles that could not enter).
Prints the shares, per junction, and per time bin.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import TypedDict

from controller.junctions import load_intersections
from sim.bench import approach_edges, read_edgedata

SHARES = ("before first verdict", "later policy spells", "fixed mode", "never judged", "no signal", "insertion")


class Change(TypedDict):
    """A switch of mode in harm_check.json's `changes`."""

    t_s: float
    junction: str
    mode: str


class Split(TypedDict):
    """split's result: excess veh-s by share, per junction and per time bin; each junction's first verdict."""

    shares: dict[str, float]
    junctions: dict[str, dict[str, float]]
    bins: dict[float, dict[str, float]]
    first_verdict_s: dict[str, float | None]


def edge_owner(net_file: Path, junctions_dir: Path) -> dict[str, str]:
    """Edge -> the junction whose approach it is (the first one that claims it)."""
    owner: dict[str, str] = {}
    for jid, chains in sorted(approach_edges(net_file, load_intersections(junctions_dir)).items()):
        for chain in chains.values():
            for e in chain:
                owner.setdefault(e, jid)
    return owner


def spells(changes: list[Change]) -> dict[str, list[tuple[float, str]]]:
    """Junction -> [(t_s, mode)] in time order (mode after the change)."""
    out: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for c in sorted(changes, key=lambda c: c["t_s"]):
        out[c["junction"]].append((float(c["t_s"]), c["mode"]))
    return out


def share_of(jid: str | None, t_s: float, modes: dict[str, list[tuple[float, str]]]) -> str:
    if jid is None:
        return "no signal"
    seq = modes.get(jid, [])
    if not any(m == "fixed" for _, m in seq):
        return "never judged"
    mode, judged = "policy", False
    for t, m in seq:
        if t > t_s:
            break
        mode, judged = m, judged or m == "fixed"
    if mode == "fixed":
        return "fixed mode"
    return "later policy spells" if judged else "before first verdict"


def depart_delay(path: Path) -> float:
    total = 0.0
    for _, el in ET.iterparse(path, events=("end",)):
        if el.tag == "tripinfo":
            total += float(el.get("departDelay", 0.0))
            el.clear()
    return total


def split(args: argparse.Namespace) -> Split:
    owner = edge_owner(args.net, args.junctions)
    modes = spells(json.loads(args.harm.read_text())["changes"])
    pol, fix = read_edgedata(args.policy_edges), read_edgedata(args.fixed_edges)
    shares: dict[str, float] = dict.fromkeys(SHARES, 0.0)
    per_j: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(SHARES, 0.0))
    per_bin: dict[float, dict[str, float]] = defaultdict(lambda: dict.fromkeys(SHARES, 0.0))
    for b in sorted(set(pol) | set(fix)):
        p, f = pol.get(b, {}), fix.get(b, {})
        for e in set(p) | set(f):
            d = p.get(e, {}).get("timeLoss", 0.0) - f.get(e, {}).get("timeLoss", 0.0)
            jid = owner.get(e)
            s = share_of(jid, b + 30.0, modes)
            shares[s] += d
            per_j[jid or "-"][s] += d
            per_bin[b // args.bin_s * args.bin_s][s] += d
    if args.policy_trips and args.fixed_trips:
        shares["insertion"] = depart_delay(args.policy_trips) - depart_delay(args.fixed_trips)
    first = {j: next((t for t, m in seq if m == "fixed"), None) for j, seq in modes.items()}
    return {"shares": shares, "junctions": per_j, "bins": per_bin, "first_verdict_s": first}


def show(out: Split) -> str:
    total = sum(out["shares"].values())
    lines = [f"excess delay, policy - fixed: {total:,.0f} veh-s"]
    lines += [f"  {s:<22}{v:>12,.0f}  {v / total:6.1%}" for s, v in out["shares"].items()] if total else []
    lines.append("per junction (veh-s; first verdict s): " + " | ".join(SHARES[:5]))
    for jid, row in sorted(out["junctions"].items(), key=lambda kv: -sum(kv[1].values())):
        first = out["first_verdict_s"].get(jid)
        cells = " ".join(f"{row[s]:>10,.0f}" for s in SHARES[:5])
        lines.append(f"  {jid:<28}{first if first is not None else '-':>8}  {cells}")
    lines.append("per bin (begin s): " + " | ".join(SHARES[:5]))
    for b, row in sorted(out["bins"].items()):
        lines.append(f"  {b:>6.0f}  " + " ".join(f"{row[s]:>10,.0f}" for s in SHARES[:5]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", type=Path, required=True)
    ap.add_argument("--junctions", type=Path, required=True, help="the run's junction models (DIR/intersections)")
    ap.add_argument("--policy-edges", type=Path, required=True)
    ap.add_argument("--fixed-edges", type=Path, required=True)
    ap.add_argument("--harm", type=Path, required=True, help="the policy run's harm_check.json")
    ap.add_argument("--policy-trips", type=Path)
    ap.add_argument("--fixed-trips", type=Path)
    ap.add_argument("--bin-s", type=float, default=900.0)
    args = ap.parse_args(argv)
    print(show(split(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A held-out board whose `fixed` baseline is a city's coordinated plan (issue 9; N, session 50).

    python -m sim.scenarios.coordinated --out DIR [--board FILE] [NAME ...]

Issue 9's acceptance runs real cities with their real programs, often coordinated (a green wave
set by offsets). Here every network is one nobody tuned on: corpus recipes (catalogue.py) drawn
with seed + 4000 (name + "_hc") and demand x1.3, and a few recipes not in the catalogue
(arterials, long grids, a spider and random networks with priority junctions mixed in and short
links). The city's program is one of:

- `coordinated`: SUMO's tools/tlsCycleAdaptation.py (Webster on the scenario's own routes, one
  cycle for every light: `-u`) writes {name}_webster.add.xml (programID 'webster'), then
  tools/tlsCoordinator.py sets offsets for the main flows of the routes and writes
  {name}_offsets.add.xml (`<tlLogic id programID offset/>`, no phases: SUMO sets the offset of the
  program already loaded). Both are appended to the sumocfg's additional files, so SUMO runs the
  coordinated plan and `fixed` is that plan.
- `actuated` (or `own NEMA`): netconvert's actuated (NEMA) programs, left as they are.

Everything is drawn from the seed; the networks go outside the repo.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from sim.scenarios.common import sumo_home
from sim.scenarios.corpus.build import build
from sim.scenarios.corpus.catalogue import CORPUS, CorpusNet, rand
from sim.scenarios.corpus.demand import Demand
from sim.scenarios.corpus.nets import SIGNAL_ALL, NetBuilder, Node, Road, handmade, netgenerate

SEED_SHIFT = 4000
DEMAND_FACTOR = 1.3
NO_UTURN = ("--no-turnarounds",)

# corpus recipes drawn again; those whose point is their own programs (sub-phases, letters, the
# lagging left, coupled and merging lights) are left out: Webster's plan would replace them
DRAWN = (
    "rand_plain",
    "rand_short_edges",
    "rand_joined",
    "rand_grid_oneway",
    "grid_pockets",
    "grid_joined_pairs",
    "spider_no_centre",
    "t_corridor",
    "roundabout_signals",
    "rand_city_loops",
    "grid_crossings",
    "rand_vclasses",
    "grid_actuated",
    "grid_nema",
    "rand_allred_grouped",
    "grid_late_start",
    "rand_unsignalised_mix",
    "rand_tight_clusters",
)
# the city runs its own programs there: netconvert's actuated ones, or NEMA (tlsCycleAdaptation copies
# a NEMA program's ring phases one after the other, without its yellows: not a plan)
OWN = {"grid_actuated": "actuated", "grid_nema": "own NEMA"}


def arterial(junctions: int, *netconvert_args: str) -> NetBuilder:
    """A two-lane main road through `junctions` signalised junctions 110-420 m apart (drawn from
    the seed), one-lane side roads of 120-250 m north and south (a T where one is missing), and
    long ends, so that trips of more than 600 m run along the main road."""

    def build_net(out_dir: Path, name: str, seed: int) -> tuple[str, ...]:
        rng = random.Random(seed)
        tl = "traffic_light"
        nodes, roads = [Node("w", 0, 0)], []
        x, prev = 350.0, "w"
        for k in range(junctions):
            j = f"j{k}"
            nodes.append(Node(j, x, 0, tl))
            roads.append(Road(prev, j, 2))
            sides = rng.choice(("ns", "ns", "n", "s"))
            for side in sides:
                y = rng.uniform(120, 250) * (1 if side == "n" else -1)
                nodes.append(Node(f"{side}{k}", x + rng.uniform(-20, 20), y))
                roads.append(Road(f"{side}{k}", j))
            prev = j
            x += rng.uniform(110, 420)
        nodes.append(Node("e", x + 250, 0))
        roads.append(Road(prev, "e", 2))
        return handmade(tuple(nodes), tuple(roads), *NO_UTURN, "--tls.guess.threshold", "0", *netconvert_args)(
            out_dir, name, seed
        )

    return build_net


NEW: tuple[CorpusNet, ...] = (
    CorpusNet(
        "arterial8",
        1,
        "arterial of 8 signalised junctions 110-420 m apart, side roads, through trips",
        arterial(8),
        Demand(1300, min_distance_m=700),
    ),
    CorpusNet(
        "arterial12",
        2,
        "arterial of 12 signalised junctions 110-420 m apart, side roads, through trips",
        arterial(12),
        Demand(1400, min_distance_m=1000),
    ),
    CorpusNet(
        "arterial8_actuated",
        3,
        "the arterial of 8 with netconvert's actuated programs as the city's",
        arterial(8, "--tls.default-type", "actuated"),
        Demand(1300, min_distance_m=700),
    ),
    CorpusNet(
        "grid_long",
        4,
        "grid of 8 x 3 junctions, blocks of 260 x 120 m, two lanes with left-turn pockets",
        netgenerate(
            "--grid",
            "--grid.x-number",
            "8",
            "--grid.y-number",
            "3",
            "--grid.x-length",
            "260",
            "--grid.y-length",
            "120",
            "--grid.attach-length",
            "150",
            "-L",
            "2",
            "--turn-lanes",
            "1",
            "--turn-lanes.length",
            "40",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(1500, min_distance_m=600),
    ),
    CorpusNet(
        "grid_long_actuated",
        5,
        "the long grid (7 x 2, blocks of 240 x 110 m) with netconvert's actuated programs as the city's",
        netgenerate(
            "--grid",
            "--grid.x-number",
            "7",
            "--grid.y-number",
            "2",
            "--grid.x-length",
            "240",
            "--grid.y-length",
            "110",
            "--grid.attach-length",
            "150",
            "-L",
            "2",
            "--tls.default-type",
            "actuated",
            *SIGNAL_ALL,
            *NO_UTURN,
        ),
        Demand(1300, min_distance_m=500),
    ),
    CorpusNet(
        "spider_mixed",
        6,
        "spider of 6 arms and 4 rings, two lanes; netconvert's own guess signals some junctions and "
        "leaves the rest to priority",
        netgenerate(
            "--spider",
            "--spider.arm-number",
            "6",
            "--spider.circle-number",
            "4",
            "--spider.space-radius",
            "110",
            "--spider.omit-center",
            "-L",
            "2",
            "--tls.guess",
            "--tls.guess.threshold",
            "30",
            *NO_UTURN,
        ),
        Demand(1300, min_distance_m=300),
    ),
    CorpusNet(
        "rand_short_mixed",
        7,
        "random network of 40-130 m links, junctions within 15 m joined, priority junctions mixed in "
        "(netconvert's guess at 50 km/h)",
        rand(
            40,
            40,
            130,
            "-L",
            "2",
            "--junctions.join",
            "--junctions.join-dist",
            "15",
            "--tls.guess",
            "--tls.guess.threshold",
            "50",
            *NO_UTURN,
        ),
        Demand(1100, min_distance_m=200),
    ),
    CorpusNet(
        "rand_large",
        8,
        "random network of 50 iterations, links of 100-300 m, every junction signalised",
        rand(50, 100, 300, "-L", "2", *SIGNAL_ALL, *NO_UTURN),
        Demand(1400, min_distance_m=400),
    ),
)


def recipes() -> dict[str, tuple[CorpusNet, str]]:
    """name -> (the recipe with its held-out seed and demand, the city's program kind)."""
    corpus = {n.name: n for n in CORPUS}
    out: dict[str, tuple[CorpusNet, str]] = {}
    for name in DRAWN:
        n = corpus[name]
        h = dataclasses.replace(
            n,
            name=f"{name}_hc",
            seed=n.seed + SEED_SHIFT,
            demand=dataclasses.replace(n.demand, veh_h=int(n.demand.veh_h * DEMAND_FACTOR)),
        )
        out[h.name] = (h, OWN.get(name, "coordinated"))
    for n in NEW:
        h = dataclasses.replace(n, name=f"{n.name}_hc", seed=n.seed + SEED_SHIFT)
        out[h.name] = (h, "actuated" if n.name.endswith("_actuated") else "coordinated")
    return out


def _tool(args: list[str], cwd: Path, what: str) -> None:
    r = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{cwd.name}: {what} failed (exit {r.returncode}): {' | '.join(tail)}")


def _drop_zero_greens(text: str) -> str:
    """Webster gives a green no flow uses 0 s, which SUMO refuses ("Duration of phase ... is zero"):
    as a city would, the stage is left out, with the yellow after it (a phase showing 'y' only where
    the dropped one showed green); a link the yellow before it kept green, and red after, turns yellow
    there (SUMO warns of a missing yellow otherwise)."""
    root = ET.fromstring(text)
    for tl in root.iter("tlLogic"):
        phases = list(tl.iter("phase"))
        drop: set[int] = set()
        for k, ph in enumerate(phases):
            if float(ph.get("duration", "1")) > 0:
                continue
            drop.add(k)
            green, after = ph.get("state", ""), phases[(k + 1) % len(phases)].get("state", "")
            if "y" in after.lower() and all(b not in "yY" or a in "Gg" for a, b in zip(green, after)):
                drop.add((k + 1) % len(phases))
        for k in sorted(drop):  # a yellow before the dropped stage that kept a link green yellows it
            before_k, after_k = (
                (k - 1) % len(phases),
                next((j % len(phases) for j in range(k + 1, k + len(phases)) if j % len(phases) not in drop), k),
            )
            if before_k in drop or "y" not in phases[before_k].get("state", "").lower():
                continue
            state, nxt = phases[before_k].get("state", ""), phases[after_k].get("state", "")
            phases[before_k].set("state", "".join("y" if a in "Gg" and b in "rR" else a for a, b in zip(state, nxt)))
        for k in sorted(drop, reverse=True):
            tl.remove(phases[k])
    return ET.tostring(root, encoding="unicode") + "\n"


def coordinate(out_dir: Path, net: CorpusNet) -> tuple[str, str]:
    """Write Webster's plans (one cycle) and tlsCoordinator's offsets for `net` built in out_dir;
    returns the two additional files' names."""
    tools = sumo_home() / "tools"
    cfg = (out_dir / f"{net.name}.sumocfg").read_text(encoding="utf-8")
    m = re.search(r'<route-files value="([^"]+)"', cfg)
    if m is None:
        raise RuntimeError(f"{out_dir / net.name}.sumocfg: no route-files")
    routes = m.group(1)
    webster, offsets = f"{net.name}_webster.add.xml", f"{net.name}_offsets.add.xml"
    netfile = f"{net.name}.net.xml"
    adapt = [str(tools / "tlsCycleAdaptation.py"), "-n", netfile, "-r", routes, "-b", str(net.begin_s), "-u"]
    _tool([*adapt, "-o", webster, "-p", "webster"], out_dir, "tlsCycleAdaptation")
    w = out_dir / webster
    w.write_text(_drop_zero_greens(w.read_text(encoding="utf-8")), encoding="utf-8")
    _tool(
        [str(tools / "tlsCoordinator.py"), "-n", netfile, "-r", routes, "-a", webster, "-o", offsets],
        out_dir,
        "tlsCoordinator",
    )
    for f in (w, out_dir / offsets):
        f.write_text(re.sub(r"<!--.*?-->\s*", "", f.read_text(encoding="utf-8"), flags=re.S), encoding="utf-8")
    return webster, offsets


def with_coordinated_plan(cfg: Path, out_dir: Path, net: CorpusNet) -> None:
    """The network's coordinated plan (`coordinate`) added to its .sumocfg's additional files."""
    added = ",".join(coordinate(out_dir, net))
    text = cfg.read_text(encoding="utf-8")
    m = re.search(r'<additional-files value="([^"]+)"', text)
    if m:
        text = text.replace(m.group(0), f'<additional-files value="{m.group(1)},{added}"')
    else:
        text = text.replace("</input>", f'    <additional-files value="{added}"/>\n    </input>')
    cfg.write_text(text, encoding="utf-8")


def build_hc(net: CorpusNet, kind: str, out_dir: Path) -> Path:
    """Build one network of the board into out_dir; returns its .sumocfg."""
    cfg = build(net, out_dir)
    if kind == "coordinated":
        with_coordinated_plan(cfg, out_dir, net)
    return cfg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the held-out board with coordinated city plans.")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--board", type=Path, help="write `name cfg end_s` lines here")
    p.add_argument("names", nargs="*", help="networks to build (default: all)")
    args = p.parse_args(argv)
    known = recipes()
    lines = []
    for name in args.names or list(known):
        if name not in known:
            sys.exit(f"unknown network {name!r}; known: {', '.join(known)}")
        net, kind = known[name]
        d = args.out / name
        cfg = d / f"{name}.sumocfg"
        if not cfg.exists():  # built in a sibling and moved whole: a folder that is there is complete
            tmp = d.with_name(f"{name}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                build_hc(net, kind, tmp)
            except Exception as e:  # a tool's failure is reported and the network left out
                print(f"{name}: FAILED: {e}", flush=True)
                continue
            tmp.replace(d)
            print(f"{name}: built ({kind})", flush=True)
        lines.append(f"{name} {cfg.resolve()} {net.begin_s + net.demand_s + 300}")
    if args.board:
        args.board.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

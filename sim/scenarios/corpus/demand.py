"""Demand of the corpus networks, from SUMO's own tools (seeded, reproducible).

- `random_demand`: randomTrips per vehicle class (routes validated for that class by duarouter),
  merged into one route file sorted by departure (sim.scenarios.common.merge_routes);
  pedestrians, if any, in a separate file (persons walking from edge to edge).
- `sampled_demand`: routeSampler picks, among randomTrips' candidate routes, the vehicles that
  match counts drawn for a few edges, as a city fits its demand to measured counts.
"""

from __future__ import annotations

import random
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from sim.scenarios.common import merge_routes, run, strip_header, sumo_home


@dataclass(frozen=True)
class Demand:
    """Vehicles per hour entering over [begin_s, end_s), split by vClass share."""

    veh_h: int
    classes: tuple[tuple[str, float], ...] = (("passenger", 0.92), ("truck", 0.08))
    pedestrians_h: int = 0
    fringe_factor: float = 5.0
    min_distance_m: float = 150.0
    sampled: bool = False  # routeSampler on counts instead of randomTrips' own draw


def _random_trips(net: Path, out: Path, tmp: Path, seed: int, begin_s: int, end_s: int, *args: str) -> None:
    run(
        [
            sys.executable,
            str(sumo_home() / "tools" / "randomTrips.py"),
            "-n",
            str(Path(net).resolve()),
            "-o",
            str(tmp / f"{out.stem}.trips.xml"),
            "-b",
            str(begin_s),
            "-e",
            str(end_s),
            "--seed",
            str(seed),
            *args,
        ],
        cwd=tmp,  # randomTrips leaves routes.rou.xml in its working directory when routing pedestrians
    )


def random_demand(
    net: Path, out_dir: Path, name: str, d: Demand, seed: int, begin_s: int, end_s: int
) -> tuple[str, ...]:
    """Write {name}.rou.xml (and {name}_ped.rou.xml if d.pedestrians_h); returns the extra
    route files to load as additional files (the pedestrians')."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        parts = []
        for k, (vclass, share) in enumerate(d.classes):
            f = tmp / f"{vclass}.rou.xml"
            _random_trips(
                net,
                f,
                tmp,
                seed + k,
                begin_s,
                end_s,
                "-r",
                str(f),
                "--insertion-rate",
                f"{d.veh_h * share:.1f}",
                "--fringe-factor",
                str(d.fringe_factor),
                "--min-distance",
                str(d.min_distance_m),
                "--vehicle-class",
                vclass,
                "--prefix",
                vclass[:3],
                "--random-depart",
                "--validate",
                "--remove-loops",
            )
            parts.append(f.read_text(encoding="utf-8"))
        merge_routes(parts, out_dir / f"{name}.rou.xml")
        if not d.pedestrians_h:
            return ()
        ped = out_dir / f"{name}_ped.rou.xml"
        _random_trips(
            net,
            ped,
            tmp,
            seed + 100,
            begin_s,
            end_s,
            "--pedestrians",
            "--max-distance",
            "800",
            "--insertion-rate",
            str(d.pedestrians_h),
            "--prefix",
            "ped",
            "--random-depart",
        )
        (tmp / f"{ped.stem}.trips.xml").replace(ped)
        strip_header(ped)
        return (ped.name,)


def sampled_demand(
    net: Path, out_dir: Path, name: str, d: Demand, seed: int, begin_s: int, end_s: int
) -> tuple[str, ...]:
    """Write {name}.rou.xml: routeSampler's choice of candidate routes matching edge counts
    drawn (seeded) for a third of the edges the candidates use, scaled so that about d.veh_h
    vehicles per hour enter."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        cand = tmp / "candidates.rou.xml"
        _random_trips(
            net,
            cand,
            tmp,
            seed,
            begin_s,
            end_s,
            "-r",
            str(cand),
            "--insertion-rate",
            "3000",
            "--fringe-factor",
            str(d.fringe_factor),
            "--min-distance",
            str(d.min_distance_m),
            "--validate",
            "--remove-loops",
        )
        edges = sorted({e for r in ET.parse(cand).getroot().iter("route") for e in r.get("edges", "").split()})
        hours = (end_s - begin_s) / 3600
        counted = rng.sample(edges, max(1, len(edges) // 3))
        counts = {e: rng.randint(d.veh_h // 10, d.veh_h // 4) * hours for e in counted}
        data = tmp / "counts.xml"
        data.write_text(
            f'<data>\n    <interval id="counts" begin="{begin_s}" end="{end_s}">\n'
            + "".join(f'        <edge id="{e}" entered="{n:.0f}"/>\n' for e, n in sorted(counts.items()))
            + "    </interval>\n</data>\n",
            encoding="utf-8",
        )
        run(
            [
                sys.executable,
                str(sumo_home() / "tools" / "routeSampler.py"),
                "-r",
                str(cand),
                "-d",
                str(data),
                "-o",
                str(out_dir / f"{name}.rou.xml"),
                "--seed",
                str(seed),
                "--write-flows",
                "poisson",
                "--prefix",
                "rs",
            ]
        )
    strip_header(out_dir / f"{name}.rou.xml")
    return ()

"""Calibration over SUMO seeds: build a recording's replay scenario once (or take a built one),
run its calibration run (the recording's policy in closed loop, as `replay` does) with each
seed, and print the GEH of each run's loop counts against the recording, with the median (one
seed can gridlock a network or not: one run is no figure).

    python -m sim.replay_rerun ARCHIVE OUT [--scenario OUT0/scenario/replay.sumocfg] [--seeds 1,2,3,4,5]
        [--from T --to T] [--config CONFIG]

Without --scenario the scenario is built into OUT/scenario by the current method (routeSampler's
output is reused when the counts and candidates are the same). Each seed's run: OUT/seed-N/.

With --original, no rebuild: the recorded scenario itself (meta.json's sumocfg, the recording's
policy and SUMO arguments) is run again with each seed and compared with the recording the same
way. That is the ceiling of a calibration: how far the city's own demand, driven again, stays
from one draw of itself.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from controller.adapters.archive import read_archive, read_meta, site_root
from controller.config import load_config
from controller.junctions import load_intersections
from sim.commands import simulate_command
from sim.replay import ReplayRequest, Window, build_scenario, policy_names, resolve_window, start_run
from sim.replay_geh import GehResult, compare_counts, count_sites


def rerun(req: ReplayRequest, sumocfg: Path, site: Path, window: Window, sites: dict[str, str]) -> GehResult:
    """The calibration run of `sumocfg` (the recording's own policy in closed loop, or its
    recorded plans: sim.replay policy_names) with req.seed into req.out_dir, its GEH against the
    recording."""
    meta = read_meta(site)
    _runs, policy = policy_names(req, meta.get("policy"))
    run = start_run(req, policy, sumocfg, site, window, list(meta.get("additional_files", [])), record=True)
    if run.wait() != 0:
        raise RuntimeError(f"run failed: see {req.out_dir / policy / 'run.log'}")
    recorded = read_archive(site, "detectors", window.from_s, window.to_s)
    rebuilt = read_archive(site_root(req.out_dir / policy / "archive"), "detectors")
    t = rebuilt.schema.get_field_index("t_s")
    rebuilt = rebuilt.set_column(t, "t_s", pa.compute.add(rebuilt["t_s"], window.offset_s))
    return compare_counts(recorded, rebuilt, window.from_s, window.to_s, sites)


def rerun_original(
    meta: dict[str, Any], out: Path, seed: int, site: Path, window: Window, sites: dict[str, str]
) -> GehResult:
    """The recorded scenario (meta.json: sumocfg, policy, SUMO arguments) run again with `seed`
    into `out`, recording its feeds; its GEH against the recording over `window`."""
    sumocfg = meta.get("sumocfg")
    if not sumocfg or not Path(sumocfg).is_file():
        raise RuntimeError(f"--original: the recording's meta.json names no scenario that exists ({sumocfg!r})")
    out.mkdir(parents=True, exist_ok=True)
    sumo_args = [*meta.get("sumo_args", []), "--seed", str(seed)]
    options = ["--record", str(out / "archive")]
    cmd = simulate_command(sumocfg, out, meta.get("policy"), options=options, sumo_args=sumo_args)
    with open(out / "run.log", "w") as log_file:
        if subprocess.run(cmd, stdout=log_file, stderr=subprocess.STDOUT).returncode != 0:
            raise RuntimeError(f"run failed: see {out / 'run.log'}")
    recorded = read_archive(site, "detectors", window.from_s, window.to_s)
    again = read_archive(site_root(out / "archive"), "detectors", window.from_s, window.to_s)
    return compare_counts(recorded, again, window.from_s, window.to_s, sites)


def vehicles(sumocfg: Path) -> int:
    """Vehicles the scenario's route files define (the rebuilt demand, queued ones included)."""
    routes = ET.parse(sumocfg).getroot().find("input/route-files")
    if routes is None:
        raise RuntimeError(f"{sumocfg}: no input/route-files")
    files = routes.get("value", "").split(",")
    return sum(1 for f in files if f for _ in ET.parse(f).getroot().iter("vehicle"))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.replay_rerun", description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--scenario", type=Path, help="a built replay.sumocfg (default: build OUT/scenario)")
    ap.add_argument("--seeds", default="1,2,3,4,5", help="SUMO seeds, comma-separated")
    ap.add_argument("--from", dest="t_from", help="window start (the recording's clock), as `replay --from`")
    ap.add_argument("--to", dest="t_to", help="window end, as `replay --to`")
    ap.add_argument("--config", help="config file ([replay]: how the scenario is built); default: the built-in")
    ap.add_argument("--original", action="store_true", help="run the recorded scenario itself, not a rebuild")
    ap.add_argument("--build-seed", type=int, default=1, help="seed of the scenario's build (candidates, routeSampler)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    site = site_root(args.archive)
    meta = read_meta(site)
    seeds = [int(s) for s in args.seeds.split(",")]
    base = ReplayRequest(args.archive, args.out, args.t_from, args.t_to, seed=args.build_seed)
    window = resolve_window(base, read_archive(site, "detectors").select(["t_s", "period_s"]), cfg.replay)
    sites = count_sites(load_intersections(site / "meta" / "intersections"))
    if args.original:
        return _table(seeds, lambda seed: rerun_original(meta, args.out / f"seed-{seed}", seed, site, window, sites))
    sumocfg = args.scenario
    if sumocfg is None:
        sumocfg, info = build_scenario(base, cfg, site, meta, window)
        print(f"built {sumocfg}: {info}", file=sys.stderr)
    print(f"{sumocfg}: {vehicles(sumocfg)} vehicles")

    def one(seed: int) -> GehResult:
        req = ReplayRequest(args.archive, args.out / f"seed-{seed}", args.t_from, args.t_to, seed=seed)
        return rerun(req, sumocfg, site, window, sites)

    return _table(seeds, one)


def _table(seeds: list[int], run: Callable[[int], GehResult]) -> int:
    """Runs `run(seed)` for each seed, printing a table row each and the median."""
    print("| seed | GEH < 5 hourly | sites | 15 min |\n|---:|---:|---:|---:|")
    shares = []
    for seed in seeds:
        geh = run(seed)
        shares.append(geh.hourly_share)
        print(f"| {seed} | {geh.hourly_share:.1%} | {geh.hourly_n} | {geh.quarter_share:.1%} |", flush=True)
    print(f"median over {len(shares)} seeds: {statistics.median(shares):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run a built replay scenario again under `adaptive` with another SUMO seed, and print the GEH of
its loop counts against the recording (how much of a calibration figure is the seed):

    python -m sim.replay_rerun ARCHIVE OUT/scenario/replay.sumocfg RERUN_DIR [SEED]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

from controller.adapters.archive import read_archive, read_meta, site_root
from controller.config import load_config
from controller.junctions import load_intersections
from sim.replay import ReplayRequest, resolve_window, start_run
from sim.replay_geh import compare_counts, count_sites


def main(argv: list[str]) -> int:
    archive, sumocfg, out = Path(argv[0]), Path(argv[1]), Path(argv[2])
    seed = int(argv[3]) if len(argv) > 3 else 1
    site = site_root(archive)
    meta = read_meta(site)
    req = ReplayRequest(archive=archive, out_dir=out, seed=seed)
    window = resolve_window(req, read_archive(site, "detectors").select(["t_s", "period_s"]), load_config(None).replay)
    run = start_run(req, "adaptive", sumocfg, site, window, list(meta.get("additional_files", [])), record=True)
    if run.wait() != 0:
        print(f"run failed: see {out / 'adaptive' / 'run.log'}", file=sys.stderr)
        return 1
    recorded = read_archive(site, "detectors", window.from_s, window.to_s)
    rebuilt = read_archive(site_root(out / "adaptive" / "archive"), "detectors")
    t = rebuilt.schema.get_field_index("t_s")
    rebuilt = rebuilt.set_column(t, "t_s", pa.compute.add(rebuilt["t_s"], window.offset_s))
    sites = count_sites(load_intersections(site / "meta" / "intersections"))
    geh = compare_counts(recorded, rebuilt, window.from_s, window.to_s, sites)
    print(
        f"{sumocfg} seed {seed}: GEH < 5 {geh.hourly_share:.1%} of hourly sites ({geh.hourly_n}), "
        f"{geh.quarter_share:.1%} of 15 min ({geh.quarter_n})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The replay's acceptance figure on the bundled city (issue 13's GEH target): record the city under
its own programs (`fixed`) for 900 s, rebuild the window [300, 900) from the recording alone with
`replay`, and print the calibration run's GEH: GEH < 5 for at least 85 % of the counting sites'
hourly flows (docs/replay.md, "Calibration: GEH"). It was a test of tests/integration/test_replay.py
(about 73 s of CPU, the slow pass's longest test); the test suite now proves the same path on the
spider (tests/integration/test_replay_geh.py, test_a_replayed_window_meets_the_geh_target).

    python -m sim.bench_replay_geh [--out DIR] [--seed S] [--record-s 900] [--from-s 300]

Without --seed neither command is given one (as the test ran).

Prints one JSON line: the sites compared, the hourly and 15-min shares, the counted and modelled
flows' ratio, whether the target is met, and each step's wall and CPU (its subprocesses') time.
Exit status 1 when the target is missed.

The record and replay commands (`record_args`, `replay_args`), the target (TARGET) and the flows'
ratio (`modelled_over_counted`) are the ones tests/integration/test_replay_geh.py runs on the spider:
one source for both.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CITY = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
TARGET = 0.85  # GEH < 5 for at least this share of the hourly counts (docs/replay.md)


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _step(args: list[str], timing: dict[str, Any], name: str) -> None:
    """Run `run_controller.py ARGS`; its wall and CPU into timing[name]; raises on a failure."""
    wall0, cpu0 = time.monotonic(), _children_cpu_s()
    done = subprocess.run(
        [sys.executable, str(ROOT / "run_controller.py"), *args], capture_output=True, text=True, cwd=ROOT
    )
    timing[name] = {"wall_s": round(time.monotonic() - wall0, 1), "cpu_s": round(_children_cpu_s() - cpu0, 1)}
    if done.returncode != 0:
        raise SystemExit(f"{name} failed (exit {done.returncode}): {done.stderr[-2000:]}")


def record_args(cfg: Path, out: Path, record_s: int, seed: int | None = None) -> list[str]:
    """`run_controller.py` arguments recording `cfg` under its own programs (`fixed`) from 0 to
    record_s into out/archive (the run's outputs in out/sim). seed None: none given."""
    seeded = [] if seed is None else ["--seed", str(seed)]
    record = ["simulate", str(cfg), "--out", str(out / "sim"), "--policy", "fixed", "--record", str(out / "archive")]
    return [*record, "--", "--end", str(record_s), *seeded]


def replay_args(out: Path, from_s: int, to_s: int, seed: int | None = None) -> list[str]:
    """`run_controller.py` arguments replaying [from_s, to_s) of record_args' out/archive into
    out/replay (its geh.json and report.html). seed None: none given."""
    seeded = [] if seed is None else ["--seed", str(seed)]
    window = ["--from", str(from_s), "--to", str(to_s)]
    return ["replay", str(out / "archive"), *window, "--out", str(out / "replay"), *seeded]


def modelled_over_counted(geh: dict[str, Any]) -> float | None:
    """The replay's hourly flows summed over the sites against the counted ones (geh.json's
    "hourly" rows); None when nothing was counted."""
    counted = sum(r["counted_veh_h"] for r in geh["hourly"])
    modelled = sum(r["modelled_veh_h"] for r in geh["hourly"])
    return modelled / counted if counted else None


def city_geh(out: Path, seed: int | None, record_s: int, from_s: int) -> dict[str, Any]:
    """Record the city under `fixed` for record_s, replay [from_s, record_s); the GEH figures.
    seed None: no seed given to either (the city's sumocfg's and replay's own, as the test ran)."""
    timing: dict[str, Any] = {}
    _step(record_args(CITY, out, record_s, seed), timing, "record")
    _step(replay_args(out, from_s, record_s, seed), timing, "replay")
    geh = json.loads((out / "replay" / "geh.json").read_text())
    ratio = modelled_over_counted(geh)
    return {
        "network": str(CITY.relative_to(ROOT)),
        "seed": seed,
        "window_s": [from_s, record_s],
        "hourly_n": geh["hourly_n"],
        "hourly_share": round(geh["hourly_share"], 4),
        "quarter_share": round(geh["quarter_share"], 4),
        "modelled_over_counted": None if ratio is None else round(ratio, 4),
        "periods_s": sorted({r["period_s"] for r in geh["hourly"]}),
        "target_met": geh["hourly_share"] >= TARGET,
        "timing": timing,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.bench_replay_geh", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="working folder (default: a temporary one, removed)")
    ap.add_argument("--seed", type=int, help="seed of the recording's SUMO and of the replay (default: none given)")
    ap.add_argument("--record-s", type=int, default=900, help="recorded seconds from 0 (default 900)")
    ap.add_argument("--from-s", type=int, default=300, help="the replayed window's start (default 300)")
    a = ap.parse_args(argv)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        result = city_geh(a.out, a.seed, a.record_s, a.from_s)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_replay_geh.") as tmp:
            result = city_geh(Path(tmp), a.seed, a.record_s, a.from_s)
    print(json.dumps(result))
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())

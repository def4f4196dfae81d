"""The `simulate` command line, built in one place for every script that runs it in a subprocess.

libsumo allows one simulation per process, so benchmarks, the demo and tests run each policy as
its own `run_controller.py simulate` (DESIGN.md, CLI; a fixed contract):

    simulate_command(Path("city.sumocfg"), Path("out/fixed"), "fixed", sumo_args=("--end", "600"))
    -> [python, ROOT/run_controller.py, "simulate", "city.sumocfg", "--out", "out/fixed",
        "--policy", "fixed", "--", "--end", "600"]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_CONTROLLER = ROOT / "run_controller.py"


def simulate_command(
    sumocfg: str | Path,
    out: str | Path,
    policy: str | None = None,
    *,
    config: str | Path | None = None,
    options: Sequence[str] = (),
    sumo_args: Sequence[str] = (),
) -> list[str]:
    """The argv of `run_controller.py [--config CONFIG] simulate SUMOCFG --out OUT [--policy
    POLICY] [OPTIONS...] [-- SUMO_ARGS...]`, run by this interpreter. `options` are simulate's
    own (e.g. `--via-mqtt`, `--intersections DIR`); `sumo_args` go to SUMO and win over the
    command's defaults."""
    cmd = [sys.executable, str(RUN_CONTROLLER)]
    if config:
        cmd += ["--config", str(config)]
    cmd += ["simulate", str(sumocfg), "--out", str(out)]
    if policy is not None:
        cmd += ["--policy", policy]
    cmd += list(options)
    if sumo_args:
        cmd += ["--", *sumo_args]
    return cmd

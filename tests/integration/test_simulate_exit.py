"""`run_controller.py simulate` ends its process at once when the command returns (run_controller.exit_now:
no finalisation of every object, module and libsumo's network), with everything written: the tables
on stdout, summary.json, a closed tripinfo.xml and statistics.xml, and the command's exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.scenarios import ROOT

CITY = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"


def _simulate(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # run as `python run_controller.py ...` would, with an exit handler that says whether Python finalised
    code = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print('FINALISED', flush=True))\n"
        f"sys.argv = ['run_controller.py', 'simulate', {str(CITY)!r}, '--out', {str(out)!r}, *{list(args)!r}]\n"
        "runpy.run_path('run_controller.py', run_name='__main__')\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_simulate_ends_at_once_with_its_outputs_written(tmp_path: Path) -> None:
    done = _simulate(tmp_path, "--policy", "fixed", "--", "--seed", "1", "--end", "30")
    assert done.returncode == 0, done.stderr
    assert "FINALISED" not in done.stdout
    assert "delay s/veh" in done.stdout  # the tables, flushed
    assert json.loads((tmp_path / "summary.json").read_text())["duration_s"] == 30.0
    assert (tmp_path / "tripinfo.xml").read_text().rstrip().endswith("</tripinfos>")
    assert (tmp_path / "statistics.xml").read_text().rstrip().endswith("</statistics>")


def test_a_refused_simulate_keeps_its_exit_code(tmp_path: Path) -> None:
    done = _simulate(tmp_path, "--policy", "no_such_policy")
    assert done.returncode == 2 and "unknown policy" in done.stderr
    assert "FINALISED" not in done.stdout


def test_under_a_profiler_simulate_lets_python_finalise(tmp_path: Path) -> None:
    """cProfile (and coverage) write their results when Python finalises: under one, no early end."""
    prof = tmp_path / "run.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "run_controller.py", "simulate", str(CITY)]
    cmd += ["--out", str(tmp_path / "out"), "--", "--end", "5"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert prof.stat().st_size > 0

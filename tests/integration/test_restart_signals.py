"""Issue 11: kill -9 the live controller in the middle of a SUMO run, restart it, and read SUMO's
own per-second signal states (sim/restart_check.py): no conflicting greens, no intergreen
shorter than the model's, no green past its maximum, no red past the starvation bound, every
junction on a valid stage, and every junction acknowledging the new instance's plans."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_fixtures import skip_without_mosquitto
from tests.procwait import finish

ROOT = Path(__file__).resolve().parents[2]
SPEEDS = (10.0, 5.0, 2.5)  # times real time: the next one when the machine could not keep the last
END_S, KILL_AT_S, DOWN_S = 260.0, 100.0, 30.0
UP_BEFORE_END_S = 30.0  # simulated seconds the new service needs from "service up" to acknowledged plans

skip_without_mosquitto()


def too_fast(r: dict) -> str | None:
    """Why a run whose new service was not acknowledged everywhere says nothing of the restart (the pace was
    more than the machine could keep), or None: it sent plans, or it could have. SUMO behind the clock by more
    than feed_stale_s: every detector message is stale when it comes and the service commands nobody, by
    design (at load 35 on two cores the field ran the city at 5-7 times real time when asked for 10); the new
    service up too late: its start-up (imports, warm-up: 15 s of wall time at load 35) took the whole window."""
    if r["plans_after_restart"]:
        return None  # it could act: its plans were refused or not acknowledged
    if (r["field_behind_max_s"] or 0.0) > r["feed_stale_s"]:
        return f"SUMO {r['field_behind_max_s']:.0f} s behind the clock (feeds stale past {r['feed_stale_s']:g} s)"
    if r["restart_up_at_s"] is None or r["restart_up_at_s"] > END_S - UP_BEFORE_END_S:
        return f"the new service up at simulated second {r['restart_up_at_s']} of {END_S:g}"
    return None


def restart_check(out: Path, speed: float) -> tuple[dict, str]:
    """sim.restart_check on the bundled city at `speed` times real time: its report and its output. Waited on
    while its processes work, not for a flat time (tests/procwait.py)."""
    cmd = [sys.executable, "-m", "sim.restart_check", "--out", str(out), "--end", f"{END_S:g}"]
    cmd += ["--speed", f"{speed:g}", "--kill-at", f"{KILL_AT_S:g}", "--down", f"{DOWN_S:g}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = finish({"restart_check": proc})["restart_check"]
    report = out / "restart_check.json"
    assert report.is_file(), stdout[-2000:] + stderr[-2000:]
    assert proc.returncode in (0, 1), stdout[-2000:] + stderr[-2000:]  # 1: violations, asserted below
    return json.loads(report.read_text()), stdout


@pytest.mark.wallclock  # real time (10x, slower on a loaded machine): make test-slow runs it alone
@pytest.mark.timeout(1200)  # a backstop: three runs at load 35, each waited on while it works
def test_kill_9_mid_sumo_run_keeps_every_signal_safe(tmp_path):
    # the bundled city in real time: the service is killed at 100 s and down for 30 s
    missed = []
    for speed in SPEEDS:
        r, stdout = restart_check(tmp_path / f"x{speed:g}", speed)
        assert r["violations"] and not any(r["violations"].values()), r["examples"]
        assert r["seconds"] >= END_S - 10 and r["junctions"] == 20
        assert len(r["epochs"]) == 2 and r["epochs"][1] > r["epochs"][0]
        assert r["audit_check"] == "ok"
        why = too_fast(r) if r["acknowledged_after_restart"] < r["junctions"] else None
        if why is None:
            break
        missed.append(f"at {speed:g}x: {why}")
    assert r["acknowledged_after_restart"] == r["junctions"], (missed, stdout[-2000:])

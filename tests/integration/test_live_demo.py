"""`make live` (sim/live_demo.py) on a small grid at 20x: it prints where to look, the console it
prints works against it (a monitor's status, an operator's hold), Prometheus scrapes the
operator metrics, and stopping it leaves no process behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from controller.config import Config
from sim.netimport import import_network
from tests.live_fixtures import skip_without_mosquitto

pytest.importorskip("sumo")
skip_without_mosquitto()

# The waits end at events the demo signals, not at wall-clock windows: its service's heartbeat says "online"
# from its first tick on ("starting" through its warm-up: controller/live.py _serve), and the demo ends on its
# own when the field's 600 s are over (30 s at 20x). START_MAX_S is only a backstop for a demo that hangs.
START_MAX_S = 120.0
pytestmark = [pytest.mark.timeout(3 * START_MAX_S), pytest.mark.wallclock]  # 20x real time: run alone
ROOT = Path(__file__).resolve().parents[2]


def test_live_demo_comes_up_answers_the_console_and_stops_cleanly(small_grid, tmp_path):
    work = tmp_path / "live"
    demo = _start_demo(small_grid, tmp_path, work)
    try:
        banner = _banner(demo)
        assert "metrics     http://127.0.0.1:" in banner
        console = _console(banner)
        status = _while_up(
            demo,
            lambda: subprocess.run(
                [*console, "--user", "wall", "status"], cwd=ROOT, capture_output=True, text=True, timeout=30
            ),
            _serving,
        )
        assert _serving(status), status.stdout + status.stderr + _ended(demo)
        junction = status.stdout.splitlines()[2].split()[0]
        hold = subprocess.run(
            [*console, "--user", "alice", "override", junction, "--hold-phase", "0", "--for", "1800"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert hold.returncode == 0 and "accepted" in hold.stdout, hold.stdout + hold.stderr
        prom = re.search(r"prometheus  (http://127\.0\.0\.1:\d+)/", banner)
        if prom:
            q = urllib.parse.quote('tsc_junction_override_seconds{operator="alice"}')
            found = _while_up(demo, lambda: _query(f"{prom.group(1)}/api/v1/query?query={q}"), bool)
            assert found, "prometheus never scraped the override" + _ended(demo)
        demo.send_signal(signal.SIGINT)
        out, _ = demo.communicate(timeout=START_MAX_S)  # its own stop: 10 s per process at most, then a kill
        assert "live demo stopped" in out
    finally:
        if demo.poll() is None:
            demo.kill()
    left = subprocess.run(["pgrep", "-f", str(work)], capture_output=True, text=True).stdout.split()
    assert [p for p in left if int(p) != os.getpid()] == [], "processes left running"


def _start_demo(small_grid: Path, tmp_path: Path, work: Path) -> subprocess.Popen[str]:
    """sim.live_demo at 20x for 60 s on the grid (its junctions imported into tmp_path/intersections), in `work`."""
    inter = tmp_path / "intersections"
    import_network(Path(str(small_grid).replace(".sumocfg", ".net.xml")), inter, Config(), [])
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim.live_demo",
            "--speed",
            "20",
            "--dir",
            str(work),
            "--sumocfg",
            str(small_grid),
            "--intersections",
            str(inter),
            "--for",
            "60",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _banner(demo: subprocess.Popen[str]) -> str:
    """What the demo prints until it is up (its last line: how to stop it)."""
    banner = ""
    while "Ctrl-C stops everything" not in banner:
        line = demo.stdout.readline()
        assert line, f"live demo ended early:\n{banner}"
        banner += line
    return banner


def _console(banner: str) -> list[str]:
    """The operators' console command the banner prints (before its --user)."""
    return (
        re.search(r"^\s+(\S+ run_controller\.py --config \S+ ctl --credentials \S+) --user wall status", banner, re.M)
        .group(1)
        .split()
    )


def _serving(status: subprocess.CompletedProcess[str]) -> bool:
    """`ctl status` of a service that ticks (its heartbeat "online") and lists a junction."""
    lines = status.stdout.splitlines()
    return status.returncode == 0 and bool(lines) and lines[0].startswith("service ctl-1: online") and len(lines) > 2


def _while_up(demo: subprocess.Popen[str], call, ok):
    """call() once a second until ok(its result), while the demo runs; START_MAX_S a backstop."""
    deadline = time.monotonic() + START_MAX_S
    result = call()
    while not ok(result) and demo.poll() is None and time.monotonic() < deadline:
        time.sleep(1.0)
        result = call()
    return result


def _ended(demo: subprocess.Popen[str]) -> str:
    """The rest of what the demo printed, when it ended (the field's end, a process that died)."""
    return "" if demo.poll() is None else f"\nthe demo ended ({demo.returncode}):\n{demo.stdout.read()}"


def _query(url: str) -> list:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())["data"]["result"]
    except OSError:
        return []

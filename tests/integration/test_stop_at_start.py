"""`run` stopped by SIGTERM during its start-up compile ends at once (controller/live.py warm_up_until; DESIGN.md,
restart safety). The compile (warm_up: webster's numba loop) takes a second near idle and 20 s or more on a loaded
machine; run in the main thread, it held a SIGTERM until it ended. That is how tests/integration/test_restart.py's
controller took 7-8 s to stop when it was stopped before its first tick (session 55). Here the compile is made to
last a minute: `run` must still end within the 10 s test_restart gives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.adapters.keys import new_keyring
from sim.broker import CONTROLLER, Broker
from tests.integration.test_restart import SITE, write_config
from tests.live_fixtures import cross, skip_without_mosquitto

skip_without_mosquitto()

ROOT = Path(__file__).resolve().parents[2]

# `run` as run_controller.py runs it, its start-up compile a minute long
RUN = """
import logging, sys, time
from controller import live
from controller.config import load_config
logging.basicConfig(level=logging.INFO)
live.warm_up = lambda policy: time.sleep(60)
sys.exit(live.main(load_config(sys.argv[1])))
"""


@pytest.mark.timeout(90)
def test_a_sigterm_during_the_start_up_compile_stops_run(tmp_path: Path) -> None:
    junctions = {"J1": cross("J1")}
    ring = new_keyring("k1")
    with Broker(tmp_path / "broker", SITE, tuple(junctions)) as broker:
        write_config(tmp_path, broker, junctions)
        env = {
            **os.environ,
            "TSC_BROKER_PASSWORD": broker.users[CONTROLLER],
            "TSC_PLAN_KEYS": f"k1:{ring.masters['k1'].hex()}",
            "PYTHONPATH": str(ROOT),
        }
        log = tmp_path / "controller.log"
        with open(log, "wb") as err:
            cmd = [sys.executable, "-c", RUN, str(tmp_path / "config.toml")]
            proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            while "service up" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "service up" in log.read_text(), log.read_text()[-2000:]
            time.sleep(0.2)  # in warm_up's minute
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0, log.read_text()[-2000:]
            assert "service stopped" in log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

"""`run` stopped by SIGTERM during its start-up compile ends at once (controller/live.py warm_up_until; DESIGN.md,
restart safety). The compile (warm_up: webster's numba loop) takes a second near idle and 20 s or more on a loaded
machine; run in the main thread, it held a SIGTERM until it ended. That is how tests/integration/test_restart.py's
controller took 7-8 s to stop when it was stopped before its first tick (session 55). Here the compile is made to
last a minute: `run` must still end within the 10 s test_restart gives it. And `run` stopped while it waits for a
broker that answers nothing (MqttClient.wait_connected, up to connect_timeout_s) ends at once too."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

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


@contextlib.contextmanager
def silent_broker() -> Iterator[tuple[str, int, threading.Event]]:
    """A TCP port that takes connections and answers nothing (no CONNACK): a broker that hangs.
    Yields (host, port, an event set once a client connected)."""
    listener = socket.create_server(("127.0.0.1", 0))
    reached = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the listener closed
            while True:
                held.append(listener.accept()[0])
                reached.set()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield "127.0.0.1", listener.getsockname()[1], reached
    finally:
        listener.close()
        for conn in held:
            conn.close()


@pytest.mark.timeout(90)
def test_a_sigterm_while_no_broker_answers_stops_run(tmp_path: Path) -> None:
    """`run` waits up to connect_timeout_s (10 s) for a broker's answer before it ticks anyway; a
    SIGTERM meanwhile ends the wait (MqttClient.wait_connected's stop): `run` ends within 5 s of it,
    not when the 10 s are out, and never logs "service up"."""
    with silent_broker() as (host, port, reached):
        write_config(tmp_path, SimpleNamespace(host=host, port=port), {"J1": cross("J1")})  # type: ignore[arg-type]
        env = {**os.environ, "TSC_BROKER_PASSWORD": "x", "TSC_PLAN_KEYS": "k1:" + "00" * 32, "PYTHONPATH": str(ROOT)}
        log = tmp_path / "controller.log"
        with open(log, "wb") as err:
            cmd = [sys.executable, str(ROOT / "run_controller.py"), "run", "--config", str(tmp_path / "config.toml")]
            proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            assert reached.wait(60), log.read_text()[-2000:]  # `run` connected: waiting for an answer
            time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            sent_s = time.monotonic()
            assert proc.wait(10) == 0, log.read_text()[-2000:]
            assert time.monotonic() - sent_s < 5, log.read_text()[-2000:]
            assert "service stopped" in log.read_text() and "service up" not in log.read_text(), log.read_text()[-2000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

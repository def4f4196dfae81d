"""`run` stopped by SIGTERM during its start-up compile ends at once (controller/live.py warm_up_until; DESIGN.md,
restart safety). The compile (warm_up: webster's numba loop) takes a second near idle and 20 s or more on a loaded
machine; run in the main thread, it held a SIGTERM until it ended. That is how tests/integration/test_restart.py's
controller took 7-8 s to stop when it was stopped before its first tick (session 55). Here the compile is made to
last a minute: `run` must still end within the 10 s test_restart gives it. And `run` stopped while it waits for a
broker that answers nothing (MqttClient.wait_connected, up to connect_timeout_s) ends at once too. Through the
start-up compile the service's heartbeat says "starting", never "online"."""

from __future__ import annotations

import contextlib
import json
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
from controller.adapters.mqtt import MqttClient
from controller.core.signing import Keyring
from sim.broker import CONTROLLER, Broker
from tests.integration.test_restart import SITE, write_config
from tests.live_fixtures import cross, skip_without_mosquitto

skip_without_mosquitto()

ROOT = Path(__file__).resolve().parents[2]


# `run` as run_controller.py runs it, its start-up compile a minute long
def _controller_env(broker: Broker, ring: Keyring) -> dict[str, str]:
    """The environment `run` reads its broker password and plan keys from."""
    return {
        **os.environ,
        "TSC_BROKER_PASSWORD": broker.users[CONTROLLER],
        "TSC_PLAN_KEYS": f"k1:{ring.masters['k1'].hex()}",
        "PYTHONPATH": str(ROOT),
    }


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
        env = _controller_env(broker, ring)
        log = tmp_path / "controller.log"
        with open(log, "wb") as err:
            cmd = [sys.executable, "-c", RUN, str(tmp_path / "config.toml")]
            proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            while "service starting" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "service starting" in log.read_text(), log.read_text()[-2000:]
            time.sleep(0.2)  # in warm_up's minute
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0, log.read_text()[-2000:]
            assert "service stopped" in log.read_text() and "service up" not in log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# `run` whose warm_up lasts argv[3] seconds and then touches the file argv[2]
RUN_MARKED = """
import logging, pathlib, sys, time
from controller import live
from controller.config import load_config
logging.basicConfig(level=logging.INFO)
def warm_up(policy):
    time.sleep(float(sys.argv[3]))
    pathlib.Path(sys.argv[2]).touch()
live.warm_up = warm_up
sys.exit(live.main(load_config(sys.argv[1])))
"""
WARM_UP_S = 3.0
START_MAX_S = 120.0  # a backstop: the wait ends at the service's "online" (imports take 10 s and more under load)


@pytest.mark.timeout(START_MAX_S + 30)
def test_the_heartbeat_says_online_only_once_warm_up_is_done(tmp_path: Path) -> None:
    """`run`'s retained heartbeat says "starting" from the connect through warm_up, and "online" from its
    first tick on (controller/live.py _serve, docs/mqtt.md): a monitor, or the taker of a region
    (controller/takeover.py reads "online" as alive), never reads "online" from a service that cannot tick
    yet. warm_up here lasts WARM_UP_S and touches a file as it ends; each heartbeat is matched, as it
    arrives, with whether the file was there. Then a SIGTERM: "offline", as before."""
    junctions = {"J1": cross("J1")}
    ring = new_keyring("k1")
    mark = tmp_path / "warmed-up"
    seen: list[tuple[str, bool]] = []
    with Broker(tmp_path / "broker", SITE, tuple(junctions)) as broker:
        write_config(tmp_path, broker, junctions)
        monitor = MqttClient(
            broker.settings("monitor"), lambda t, p: seen.append((json.loads(p)["state"], mark.exists()))
        )
        monitor.subscribe([broker.topics.heartbeat("ctl-rs")], qos=1)
        monitor.start()
        env = _controller_env(broker, ring)
        log = tmp_path / "controller.log"
        with open(log, "wb") as err:
            cmd = [sys.executable, "-c", RUN_MARKED, str(tmp_path / "config.toml"), str(mark), str(WARM_UP_S)]
            proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + START_MAX_S
            while ("online", True) not in seen and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ("online", True) in seen, f"{seen} {log.read_text()[-2000:]}"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0, log.read_text()[-2000:]
            deadline = time.monotonic() + 10
            while seen[-1][0] != "offline" and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            monitor.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert ("starting", False) in seen, seen  # said while it warmed up
    assert ("online", False) not in seen, seen  # never "online" before warm_up ended
    assert seen[-1] == ("offline", True), seen
    text = log.read_text()
    assert text.index("service starting") < text.index("service up"), text[-2000:]


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

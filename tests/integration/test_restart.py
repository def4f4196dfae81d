"""A controller restart never locks the junctions out (issue 11).

A real `run_controller.py run` process against a real Mosquitto, and virtual roadside
controllers (sim/roadside.py) in this process, each with its own derived plan key. The
controller is killed with SIGKILL mid-run; the roadsides run out its plans and fall back to their
local programs; a new process starts with the same audit store. Every junction must be back
under adaptive control within 2 ticks of the new run's first plan reaching it, though the new
run's sequence numbers restart far below the old ones: the new run has a newer epoch. A plan of
the old run replayed afterwards is refused. A roadside with the wrong key refuses every plan,
and the heartbeat names it as unacknowledged. The audit store, open in the killed process,
opens consistent and holds both runs' plans and acknowledgements.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tomli_w

from controller.adapters.audit import AuditStore
from controller.adapters.keys import new_keyring
from controller.adapters.mqtt import MqttClient
from controller.core.messages import decode_plan, encode_detector_message, encode_status
from sim.broker import CONTROLLER, Broker, field_user
from sim.roadside import RoadsideController
from tests.live_fixtures import Stopped, cross, cross_toml, skip_without_mosquitto
from tests.procwait import until

skip_without_mosquitto()

ROOT = Path(__file__).resolve().parents[2]
SITE = "rs"
TICK_S = 1.0  # the service decides once per second (safety.DECISION_PERIOD_S)
GOOD = ("J1", "J2", "J3")
WRONG_KEY = "J4"


class Field:
    """Virtual roadsides and detector stations: every 0.1 s each roadside takes the plans that
    arrived, runs a step and reports its status; every second each station sends a feed."""

    def __init__(self, broker: Broker, junctions: dict, keys: dict) -> None:
        self.broker = broker
        self.rc = {j: RoadsideController(junctions[j], backup_s=30.0, keys=keys[j]) for j in junctions}
        self.arrivals: dict[str, list[tuple[float, bytes, str]]] = {j: [] for j in junctions}  # (t, payload, refusal)
        self.adaptive_since: dict[str, float | None] = dict.fromkeys(junctions)
        self._inbox: dict[str, list[bytes]] = {j: [] for j in junctions}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.clients = {}
        for j in junctions:
            c = MqttClient(
                broker.settings(field_user(j), client_id=f"{field_user(j)}-rs"),
                lambda topic, payload, j=j: self._got(j, payload),
            )
            c.subscribe([broker.topics.plan(j)], qos=1)
            self.clients[j] = c.start()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _got(self, j: str, payload: bytes) -> None:
        with self._lock:
            self._inbox[j].append(payload)

    def replay(self, j: str, payload: bytes) -> str:
        with self._lock:
            return self.rc[j].receive_message(payload, time.time())

    def _run(self) -> None:
        next_feed = 0.0
        while not self._stop.wait(0.1):
            now = time.time()
            with self._lock:
                for j, rc in self.rc.items():
                    for payload in self._inbox[j]:
                        self.arrivals[j].append((now, payload, rc.receive_message(payload, now)))
                    self._inbox[j].clear()
                    rc.tick(now, 0 if rc.mode == "local" else None, 5.0)
                    if rc.mode == "adaptive" and self.adaptive_since[j] is None:
                        self.adaptive_since[j] = now
                    elif rc.mode != "adaptive":
                        self.adaptive_since[j] = None
                    status = encode_status(rc.status(now), rc.status_epoch())
                    self.clients[j].publish(self.broker.topics.status(j), status, qos=1, retain=True)
            if now >= next_feed:
                next_feed = now + 1.0
                for j, c in self.clients.items():
                    dets = {d.id: ({"car": 1}, 0.1, 8.0) for d in self.rc[j].j.detectors}
                    c.publish(self.broker.topics.detectors(j), encode_detector_message(j, now, 1.0, dets), qos=0)

    def modes(self) -> dict[str, str]:
        with self._lock:
            return {j: rc.mode for j, rc in self.rc.items()}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self.clients.values():
            c.close()


def wait_for(pred, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def ups(log: Path) -> int:
    """How many runs have said "service up" in the log they share: their ticks begin (after imports and warm-up,
    15-20 s of wall time at load 25-35, waited on while the run works: tests/procwait.until; the flat waits
    after it count ticks)."""
    return log.read_bytes().count(b"service up") if log.exists() else 0


def start_controller(tmp_path: Path, broker: Broker, master_hex: str) -> subprocess.Popen:
    env = {**os.environ, "TSC_BROKER_PASSWORD": broker.users[CONTROLLER], "TSC_PLAN_KEYS": f"k1:{master_hex}"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run_controller.py"), "run", "--config", str(tmp_path / "config.toml")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "controller.log", "ab"),
    )


def write_config(tmp_path: Path, broker: Broker, junctions: dict) -> None:
    inter = tmp_path / "intersections"
    inter.mkdir()
    for j in junctions:
        (inter / f"{j}.toml").write_text(tomli_w.dumps(cross_toml(j)))
    (tmp_path / "config.toml").write_text(
        tomli_w.dumps(
            {
                # webster: a cycle plan goes out without waiting for a roadside status
                "service": {"site": SITE, "instance": "ctl-rs", "intersections": "intersections", "policy": "webster"},
                "broker": {"host": broker.host, "port": broker.port, "username": CONTROLLER},
                "webster": {"period_s": 1.0},
                "roadside": {"plan_ttl_s": 3.0, "refresh_s": TICK_S},  # a new seq every tick
                "security": {"ack_timeout_s": 2.0},
                "audit": {"path": "audit.sqlite"},  # tmp_path/audit.sqlite, read below
                "metrics": {"port": 0},
            }
        )
    )


@pytest.mark.wallclock  # roadsides on the wall clock, back within 2 ticks: run alone
@pytest.mark.timeout(300)  # a backstop: the runs' start-ups are waited on while they work
def test_kill_9_and_restart_every_junction_back_within_2_ticks(tmp_path):
    names = (*GOOD, WRONG_KEY)
    junctions = {j: cross(j) for j in names}
    ring = new_keyring("k1")
    keys = {j: ring.for_junction(j) for j in GOOD}
    keys[WRONG_KEY] = new_keyring("k1").for_junction(WRONG_KEY)  # provisioned with another master
    with Broker(tmp_path / "broker", SITE, names) as broker:
        write_config(tmp_path, broker, junctions)
        heartbeats: list[dict] = []
        monitor = MqttClient(broker.settings("monitor"), lambda t, p: heartbeats.append(json.loads(p)))
        monitor.subscribe([broker.topics.heartbeat("ctl-rs")], qos=1)
        monitor.start()
        field = Field(broker, junctions, keys)
        log = tmp_path / "controller.log"
        with Stopped() as procs:  # a run that ignores SIGTERM fails the test, and an error above it stays the failure
            try:
                first = procs.add("the first run", start_controller(tmp_path, broker, ring.masters["k1"].hex()), log)
                until(lambda: ups(log) >= 1, {"the first run": first}, "its ticks to begin")  # while it starts
                wait_for(
                    lambda: all(m == "adaptive" for j, m in field.modes().items() if j in GOOD),
                    30,
                    "the first run to control every junction",
                )
                wait_for(lambda: all(field.rc[j].last_seq >= 8 for j in GOOD), 20, "seq to grow")
                old_epoch = field.rc["J1"].epoch
                old_plan = field.arrivals["J1"][-1][1]
                first.send_signal(signal.SIGKILL)
                first.wait(10)
                wait_for(lambda: all(m == "local" for m in field.modes().values()), 15, "the plans to run out")
                old_seq = {j: field.rc[j].last_seq for j in GOOD}
                restart_t = time.time()

                second = procs.add("the second run", start_controller(tmp_path, broker, ring.masters["k1"].hex()), log)
                until(lambda: ups(log) >= 2, {"the second run": second}, "its ticks to begin")
                wait_for(
                    lambda: all(field.adaptive_since[j] is not None for j in GOOD),
                    30,
                    "the second run to control every junction",
                )
                new_epoch = check_second_run(field, heartbeats, restart_t, old_epoch, old_seq, old_plan)
            finally:
                field.close()
                monitor.close()
        assert second.returncode == 0, log.read_text()[-2000:]
    check_audit(tmp_path, old_epoch, new_epoch)


def check_second_run(
    field: Field, heartbeats: list[dict], restart_t: float, old_epoch: int, old_seq: dict[str, int], old_plan: bytes
) -> int:
    """After the restart (at restart_t): every good junction's first plan accepted, of a newer epoch and a lower
    seq, and adaptive within 2 ticks of it; the first run's last plan replayed is refused; the junction with the
    wrong key refuses every plan, and the heartbeat names it. Returns the new epoch."""
    for j in GOOD:
        first_t, first, refusal = next(a for a in field.arrivals[j] if a[0] >= restart_t)
        msg = decode_plan(first)
        assert refusal == "" and msg.epoch > old_epoch and msg.command.seq < old_seq[j], (j, refusal)
        assert field.adaptive_since[j] - first_t <= 2 * TICK_S, j
    assert field.replay("J1", old_plan).startswith("replayed: epoch")
    assert field.rc[WRONG_KEY].mode == "local"
    assert {r for _, _, r in field.arrivals[WRONG_KEY]} == {"bad signature"}
    new_epoch = field.rc["J1"].epoch
    wait_for(
        lambda: any(h.get("epoch") == new_epoch and h.get("unacknowledged") == [WRONG_KEY] for h in heartbeats),
        15,
        "the heartbeat to name the junction that refuses",
    )
    return new_epoch


def check_audit(tmp_path: Path, old_epoch: int, new_epoch: int) -> None:
    """The audit store: intact, both epochs, plans and acknowledgements of J1 in each; the wrong key's junction
    acknowledged nothing and its refusal is recorded."""
    store = AuditStore(tmp_path / "audit.sqlite")
    assert store.check() == "ok"
    assert [e for e, _, _ in store.epochs()] == [old_epoch, new_epoch]
    for epoch in (old_epoch, new_epoch):
        plans = [r for r in store.query(kind="plan", junction="J1", limit=10**6) if r.payload["epoch"] == epoch]
        acks = [r for r in store.query(kind="ack", junction="J1", limit=10**6) if r.payload["epoch"] == epoch]
        assert plans and acks, epoch
    assert store.query(kind="ack", junction=WRONG_KEY) == []
    assert store.query(kind="refusal", junction=WRONG_KEY)[0].payload["faults"] == ["refused: bad signature"]

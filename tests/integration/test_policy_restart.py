"""An operator's policy change survives a restart of the service (docs/operators.md, "After a
restart"), through a real Mosquitto: `ctl policy J1 --set max_pressure` over the configured
webster; the service stops and a new one starts on the same audit store: it runs max_pressure
from its first tick, publishes max_pressure's plans, and its retained heartbeat (what `ctl
status` reads) names it. A service whose configuration names another policy since runs the
configured one; so does one after the operator went back to the configured policy."""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import replace

import pytest

from controller import ctl
from controller.adapters.audit import AuditStore
from controller.adapters.mqtt import MqttClient
from controller.adapters.trust import Trust
from controller.core.messages import decode_command, encode_status
from controller.core.validation import PolicyChoice
from controller.live import ServiceNode
from controller.model import SignalStatus
from sim.broker import CONTROLLER, Broker, field_user
from tests.live_fixtures import skip_without_mosquitto
from tests.service_fixtures import CFG, JUNCTIONS, SITE, feed

skip_without_mosquitto()

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow, pytest.mark.wallclock]  # broker, 5-10 s deadlines


class Service:
    """One run of the service (a ServiceNode on the audit store at `path`) ticking on the wall
    clock, with J1's field (feed and status) and J1's plan topic collected."""

    def __init__(self, broker: Broker, path, epoch: int, cfg=CFG) -> None:
        self.audit = AuditStore(path)
        settings = broker.settings(CONTROLLER)
        self.node = ServiceNode(cfg, JUNCTIONS, settings, start_s=time.time(), trust=Trust(epoch, None, self.audit))
        self.plans: list[str] = []
        self._lock = threading.Lock()
        self._broker, self._stop = broker, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Service:
        self.node.start()
        self._thread.start()
        return self

    def _on_plan(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.plans.append(decode_command(payload).plan_id)

    def _run(self) -> None:
        b = self._broker
        dev = MqttClient(b.settings(field_user("J1")), self._on_plan)
        dev.subscribe([b.topics.plan("J1")], qos=1)
        dev.start()
        try:
            while not self._stop.is_set():
                t = time.time()
                dev.publish(b.topics.detectors("J1"), feed("J1", t, cars=2), qos=1)
                st = SignalStatus("J1", t, 0, False, 5.0, "adaptive", 0, "adaptive")
                dev.publish(b.topics.status("J1"), encode_status(st), qos=1, retain=True)
                time.sleep(0.1)
                self.node.tick(time.time())
                time.sleep(0.1)
        finally:
            dev.close(flush_s=0.2)

    def wait_plan(self, part: str, timeout_s: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if any(part in p for p in self.plans):
                    return list(self.plans)
            time.sleep(0.1)
        return list(self.plans)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.node.close()
        self.audit.close()


def ctl_policy(broker: Broker, creds, name: str) -> int:
    parser = argparse.ArgumentParser()
    ctl.add_parser(parser.add_subparsers(dest="command"))
    head = ["ctl", "--user", "alice", "--timeout", "5", "--broker", f"{broker.host}:{broker.port}"]
    args = parser.parse_args([*head, "--credentials", str(creds), "policy", "J1", "--set", name])
    return ctl.main(args, CFG)


def heartbeat_policy(broker: Broker, instance: str) -> str | None:
    """The policy named by the instance's retained heartbeat, read as `ctl status` reads it."""
    got: list[dict] = []
    mon = MqttClient(broker.settings("monitor"), lambda _t, p: got.append(json.loads(p)))
    mon.subscribe([broker.topics.heartbeat(instance)], qos=1)
    mon.start()
    try:
        deadline = time.monotonic() + 5.0
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        mon.close()
    return got[-1].get("policy") if got else None


def test_an_operators_policy_is_kept_across_a_restart(tmp_path, capsys):
    path = tmp_path / "audit.sqlite"
    with Broker(tmp_path / "broker", SITE, JUNCTIONS, operators=("alice",)) as broker:
        creds = broker.write_credentials()
        first = Service(broker, path, epoch=1).start()
        try:
            assert "J1-webster" in " ".join(first.wait_plan("J1-webster"))
            assert ctl_policy(broker, creds, "max_pressure") == 0, capsys.readouterr()
            assert "J1-max_pressure" in " ".join(first.wait_plan("J1-max_pressure"))
        finally:
            first.stop()

        second = Service(broker, path, epoch=2)  # the restart: a new run on the same audit store
        assert second.node.desk.policy == PolicyChoice("max_pressure")  # before its first tick
        second.start()
        try:
            plans = second.wait_plan("J1-max_pressure")
            assert plans and all("max_pressure" in p for p in plans), plans  # from its first plan on
            assert second.node.service.core.policy.name == "max_pressure"
            assert heartbeat_policy(broker, CFG.service.instance) == "max_pressure"
            assert ctl_policy(broker, creds, "webster") == 0  # back to the configured policy
            assert "J1-webster" in " ".join(second.wait_plan("J1-webster"))
        finally:
            second.stop()

        third = Service(broker, path, epoch=3)  # the operator's last change was back to webster
        assert third.node.desk.policy == PolicyChoice("webster")
        third.node.close()
        third.audit.close()

    # a change made over another configured policy is not restored: the configuration wins
    audit = AuditStore(path)
    change = {"action": "policy", "accepted": True, "policy": "max_pressure", "params": {}}
    audit.append("operator", "J1", "alice", {**change, "configured": {"policy": "webster", "params": {}}}, 1.0)
    audit.close()
    fixed = replace(CFG, service=replace(CFG.service, policy="fixed"))
    with Broker(tmp_path / "broker2", SITE, JUNCTIONS) as broker:
        fourth = Service(broker, path, epoch=4, cfg=fixed)
        assert fourth.node.desk.policy == PolicyChoice("fixed")
        assert fourth.node.service.core.policy.name == "fixed"
        fourth.node.close()
        fourth.audit.close()

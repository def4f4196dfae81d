"""`ctl policy` with the validation gate on, gate + audit + MQTT together through a real
Mosquitto: a policy change the twin predicts worse is refused (exit 1, the figures), the service
keeps its policy and no plan of the candidate reaches the junction's plan topic; a change it
passes is accepted (exit 0) and the new policy's plans are published; both verdicts and the
operator's actions are in the audit store. The twin is the stand-in of tests/twin_fakes.py in the
gate's real worker process (tests/integration/test_twin_policy.py runs the real SUMO twin)."""

from __future__ import annotations

import argparse
import threading
import time

import pytest

from controller import ctl
from controller.adapters.audit import AuditStore
from controller.adapters.mqtt import MqttClient
from controller.core.messages import decode_command, encode_status
from controller.core.validation import PolicyChoice, ValidationParams
from controller.live import ServiceNode
from controller.model import SignalStatus
from controller.validation import AUDIT_KIND, DeskValidation, ValidationGate
from sim.broker import CONTROLLER, Broker, field_user
from tests import twin_fakes
from tests.live_fixtures import skip_without_mosquitto
from tests.service_fixtures import CFG, JUNCTIONS, SITE, feed

skip_without_mosquitto()

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow, pytest.mark.wallclock]  # broker, 10 s deadlines

BAD = PolicyChoice("max_pressure", (("switch_service_s", 0.01),))


def make_request(j, candidate, incumbent, queues_pcu, now_s):
    """Webster's own plans (the policy in force) pass the gate."""
    return {"incumbent": {j.id: 1000.0}, "candidate": {j.id: 900.0}}


def make_policy_request(jid, candidate, incumbent, queues_pcu, now_s):
    assert incumbent == PolicyChoice("webster")
    return {"incumbent": {jid: 1000.0}, "candidate": {jid: 3000.0 if candidate == BAD else 900.0}}


def run_service(broker, node, plans: list, stop: threading.Event) -> None:
    """The field (J1) and the service on the wall clock; J1's plan topic collected."""
    lock = threading.Lock()

    def on_plan(topic: str, payload: bytes) -> None:
        with lock:
            plans.append(decode_command(payload).plan_id)

    dev = MqttClient(broker.settings(field_user("J1")), on_plan)
    dev.subscribe([broker.topics.plan("J1")], qos=1)
    dev.start()
    try:
        while not stop.is_set():
            t = time.time()
            dev.publish(broker.topics.detectors("J1"), feed("J1", t, cars=2), qos=1)
            st = SignalStatus("J1", t, 0, False, 5.0, "adaptive", 0, "adaptive")
            dev.publish(broker.topics.status("J1"), encode_status(st), qos=1, retain=True)
            time.sleep(0.1)
            node.tick(time.time())
            time.sleep(0.1)
    finally:
        dev.close(flush_s=0.2)


def ctl_policy(broker, creds, *extra: str) -> int:
    parser = argparse.ArgumentParser()
    ctl.add_parser(parser.add_subparsers(dest="command"))
    head = ["ctl", "--user", "alice", "--timeout", "5", "--broker", f"{broker.host}:{broker.port}"]
    args = parser.parse_args([*head, "--credentials", str(creds), "policy", "J1", *extra, "--verdict-timeout", "15"])
    return ctl.main(args, CFG)


def test_ctl_policy_rejected_never_publishes_the_candidates_plans_and_a_passed_one_does(tmp_path, capsys):
    audit = AuditStore(tmp_path / "audit.sqlite")
    gate = ValidationGate(
        ValidationParams(enabled=True, timeout_s=20.0),
        twin_fakes.predict_from_request,
        audit=audit,
        predict_policy=twin_fakes.predict_from_request,
    )
    plans: list[str] = []
    with Broker(tmp_path / "broker", SITE, JUNCTIONS, operators=("alice",)) as broker:
        creds = broker.write_credentials()
        node = ServiceNode(CFG, JUNCTIONS, broker.settings(CONTROLLER), start_s=time.time(), audit=audit).start()
        node.desk.validation = DeskValidation(gate, make_request, make_policy_request)
        stop = threading.Event()
        service = threading.Thread(target=run_service, args=(broker, node, plans, stop), daemon=True)
        service.start()
        try:
            assert ctl_policy(broker, creds, "--set", "max_pressure", "--param", "switch_service_s=0.01") == 1
            out = capsys.readouterr().out
            assert "policy REFUSED" in out and "rejected by the validation gate" in out and "3000 veh-s" in out
            deadline = time.monotonic() + 10.0  # webster's own plans pass the gate and go out
            while not any("J1-webster" in p for p in plans) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert node.service.core.policy.name == "webster"
            assert any("J1-webster" in p for p in plans) and not any("max_pressure" in p for p in plans), plans
            assert ctl_policy(broker, creds, "--set", "max_pressure") == 0
            assert "policy accepted" in capsys.readouterr().out
            deadline = time.monotonic() + 10.0
            while not any("max_pressure" in p for p in plans) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert any("J1-max_pressure" in p for p in plans), plans
            assert node.service.core.policy.name == "max_pressure"
        finally:
            stop.set()
            service.join(timeout=10)
            node.close()
    records = audit.query(kind=AUDIT_KIND)
    verdicts = [(r.actor, r.payload["outcome"], r.payload["candidate"]) for r in records if r.actor == "alice"]
    assert verdicts == [
        ("alice", "rejected", {"policy": "max_pressure", "params": {"switch_service_s": 0.01}}),
        ("alice", "passed", {"policy": "max_pressure", "params": {}}),
    ]
    ops = [(r.payload["action"], r.payload["accepted"]) for r in audit.query(kind="operator")]
    assert ops == [("policy", False), ("policy", False), ("policy", False), ("policy", True)]

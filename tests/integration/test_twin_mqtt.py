"""Gate, audit and MQTT together, through a real Mosquitto: an operator's manual plan sent on its
override topic is answered `validating`, then with the gate's verdict; a plan the twin predicts
worse is never published to the junction's plan topic, a plan it passes is; a rejected plan
forced with a reason is published and the force is in the audit store. The twin is the
stand-in of tests/twin_fakes.py in the gate's real worker process (tests/integration/test_twin.py
runs the real SUMO twin)."""

from __future__ import annotations

import json
import time

import pytest

from controller.adapters.audit import AuditStore
from controller.adapters.mqtt import MqttClient
from controller.core.messages import decode_command, encode_status
from controller.core.override import OverrideRequest, encode_override
from controller.core.validation import ValidationParams
from controller.live import ServiceNode
from controller.model import CyclePlan, SignalStatus
from controller.validation import AUDIT_KIND, DeskValidation, ValidationGate
from sim.broker import CONTROLLER, Broker, field_user
from tests import twin_fakes
from tests.live_fixtures import Inbox, skip_without_mosquitto
from tests.service_fixtures import CFG, JUNCTIONS, SITE, feed

skip_without_mosquitto()

BAD = (7.0, 50.0)


def make_request(j, candidate, incumbent, queues_pcu, now_s):
    return {"incumbent": {j.id: 1000.0}, "candidate": {j.id: 3000.0 if candidate.greens_s == BAD else 900.0}}


@pytest.mark.wallclock  # broker, 30 s deadlines: make test-slow runs it alone
def test_a_plan_the_twin_rejects_never_reaches_the_plan_topic_unless_forced(tmp_path):
    audit = AuditStore(tmp_path / "audit.sqlite")
    gate = ValidationGate(ValidationParams(enabled=True, timeout_s=20.0), twin_fakes.predict_from_request, audit=audit)
    with Broker(tmp_path / "broker", SITE, JUNCTIONS, operators=("alice",)) as broker:
        node = ServiceNode(CFG, JUNCTIONS, broker.settings(CONTROLLER), start_s=0.0, audit=audit).start()
        node.desk.validation = DeskValidation(gate, make_request)
        desk = _Desk(broker, node)
        try:
            for _ in range(3):
                desk.second()
            desk.send(BAD, "b1")
            assert desk.answer("b1", 1)["reason"].startswith("validating in the SUMO twin")
            rejected = desk.answer("b1", 2)
            assert not rejected["accepted"] and "rejected by the validation gate" in rejected["reason"]
            for _ in range(5):
                desk.second()
            assert desk.manual(BAD) == []
            desk.send((25.0, 30.0), "g1")
            assert desk.answer("g1", 2)["accepted"]
            desk.send(BAD, "f1", force=True, reason="stadium exit")
            assert desk.answer("f1", 1)["accepted"]
            for _ in range(5):
                desk.second()
            time.sleep(0.3)
            assert desk.manual((25.0, 30.0)) and desk.manual(BAD)
        finally:
            desk.close()
            node.close()
    records = audit.query(kind=AUDIT_KIND)
    outcomes = [(r.actor, r.payload["outcome"]) for r in records if r.actor == "alice"]
    assert outcomes == [("alice", "rejected"), ("alice", "passed"), ("alice", "forced")]
    assert {r.payload["outcome"] for r in records if r.actor == "policy webster"} <= {"passed"}  # its own plans
    assert audit.query(kind=AUDIT_KIND)[-1].payload["force_reason"] == "stadium exit"


class _Desk:
    """J1's field device (feed, status, the plans it receives) and the operator alice (overrides, the
    answers on her reply topic) on the broker, the node ticked one second at a time."""

    def __init__(self, broker: Broker, node: ServiceNode) -> None:
        self.broker, self.node, self.t = broker, node, 0.0
        self.plans, self.replies = Inbox(), Inbox()
        self.dev = MqttClient(broker.settings(field_user("J1")), self.plans)
        self.dev.subscribe([broker.topics.plan("J1")], qos=1)
        self.ops = MqttClient(broker.settings("alice", session_expiry_s=0.0), self.replies)
        self.ops.subscribe([broker.topics.reply("alice")], qos=1)
        self.dev.start()
        self.ops.start()

    def second(self) -> None:
        self.t += 1.0
        t, topics = self.t, self.broker.topics
        self.dev.publish(topics.detectors("J1"), feed("J1", t, cars=2), qos=1)
        st = SignalStatus("J1", t, 0, False, t, "local", 0, "local")
        self.dev.publish(topics.status("J1"), encode_status(st), qos=1, retain=True)
        time.sleep(0.05)
        self.node.tick(t)

    def answers(self, rid: str) -> list[dict]:
        return [b for _, p in self.replies.snapshot() if (b := json.loads(p)).get("id") == rid]

    def send(self, greens, rid: str, **extra) -> None:
        req = OverrideRequest("J1", "alice", "plan", rid, self.t, for_s=120.0, phase_order=(0, 1), greens_s=greens)
        self.ops.publish(
            self.broker.topics.override("J1", "alice"),
            json.dumps({**json.loads(encode_override(req)), **extra}).encode(),
            qos=1,
        )

    def answer(self, rid: str, n: int) -> dict:
        """The n-th answer to request rid (1: at once, 2: the verdict), ticking meanwhile."""
        deadline = time.monotonic() + 30.0
        while len(self.answers(rid)) < n and time.monotonic() < deadline:
            self.second()
        assert len(self.answers(rid)) >= n, (rid, self.answers(rid))
        return self.answers(rid)[n - 1]

    def manual(self, greens) -> list:
        cmds = [decode_command(p) for _, p in self.plans.snapshot()]
        return [c for c in cmds if isinstance(c, CyclePlan) and "manual" in c.plan_id and c.greens_s == greens]

    def close(self) -> None:
        self.ops.close(flush_s=0.2)
        self.dev.close(flush_s=0.2)

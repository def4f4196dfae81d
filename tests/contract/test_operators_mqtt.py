"""Operators over a real Mosquitto: `ctl` (controller/ctl.py) against a ServiceNode. An override
travels with the operator's credentials, passes the service's safety gate, reaches the
junction's device as a plan, and is answered on the operator's reply topic; a refusal names the
rule; a monitor may look but not act; the junction table is retained for `ctl status`; a flash
puts a virtual roadside (sim/roadside.py) into flashing yellow and a release takes it out."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from controller import ctl
from controller.adapters.mqtt import MqttClient
from controller.core.messages import decode_command, encode_status
from controller.core.override import OverrideRequest
from controller.errors import AdapterError
from controller.live import ServiceNode
from controller.model import PhaseCommand, SignalStatus
from sim.broker import CONTROLLER, Broker, field_user
from sim.roadside import RoadsideController
from tests.live_fixtures import skip_without_mosquitto, wait_until
from tests.service_fixtures import CFG, JUNCTIONS, SITE, feed

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(40)


class Plans:
    def __init__(self) -> None:
        self.got: list = []
        self.lock = threading.Lock()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.got.append(decode_command(payload))


@pytest.fixture
def rig(tmp_path):
    with Broker(tmp_path / "broker", SITE, JUNCTIONS, operators=("alice", "bob"), monitors=("wall",)) as broker:
        node = ServiceNode(CFG, JUNCTIONS, broker.settings(CONTROLLER), start_s=0.0).start()
        plans = Plans()
        dev = MqttClient(broker.settings(field_user("J1")), plans)
        dev.subscribe([broker.topics.plan("J1")], qos=1)
        dev.start()
        try:
            yield broker, node, dev, plans
        finally:
            dev.close(flush_s=0.2)
            node.close()


def second(broker, node, dev, t: float, phase: int = 0, since: float = 0.0) -> None:
    """One second of the field (J1 only) and a tick of the service."""
    dev.publish(broker.topics.detectors("J1"), feed("J1", t, cars=2), qos=1)
    st = SignalStatus("J1", t, phase, False, t - since, "local", 0, "local")
    dev.publish(broker.topics.status("J1"), encode_status(st), qos=1, retain=True)
    time.sleep(0.05)
    node.tick(t)


def settings(broker, user: str):
    return broker.settings(user, session_expiry_s=0.0, connect_timeout_s=5.0)


def ask(broker, node, dev, req: OverrideRequest, t0: float) -> tuple[dict | None, float]:
    """ctl.send on a thread while the service keeps ticking (it answers at its next tick)."""
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(ctl.send, settings(broker, req.operator), broker.topics, req, 8.0)
        t = t0
        while not fut.done() and t < t0 + 40:
            t += 1.0
            second(broker, node, dev, t)
            time.sleep(0.1)
        return fut.result(), t


def test_a_hold_travels_with_the_operators_identity_and_reaches_the_field(rig):
    broker, node, dev, plans = rig
    for t in range(1, 4):
        second(broker, node, dev, float(t))
    answer, t = ask(broker, node, dev, OverrideRequest("J1", "alice", "hold", "a1", 3.0, for_s=60.0, phase=1), 3.0)
    assert answer is not None and answer["accepted"], answer
    assert answer["id"] == "a1" and "hold in force for 60 s" in answer["reason"]
    for k in range(1, 10):
        second(broker, node, dev, t + k)

    def manual() -> list:
        with plans.lock:
            return [c for c in plans.got if c.plan_id.startswith("J1-manual-alice-a1")]

    assert wait_until(lambda: bool(manual()), 10), "no manual plan reached the roadside"
    assert isinstance(manual()[-1], PhaseCommand) and manual()[-1].phase == 1
    assert node.desk.active["J1"].operator == "alice"

    snap = ctl.snapshot(settings(broker, "wall"), broker.topics, CFG.service.instance)  # a monitor may look
    row = snap["table"]["junctions"]["J1"]
    assert row["mode"] == "manual" and row["override"]["operator"] == "alice"
    text = ctl.format_status(snap, t + 10, "J1")
    assert "manual (alice's hold" in text


def test_a_refused_plan_names_the_rule_and_changes_nothing(rig):
    broker, node, dev, plans = rig
    second(broker, node, dev, 1.0)
    j = JUNCTIONS["J1"]
    short = j.phases[0].min_green_s - 2
    req = OverrideRequest("J1", "bob", "plan", "b1", 1.0, for_s=60.0, phase_order=(0, 1), greens_s=(short, 20.0))
    answer, _ = ask(broker, node, dev, req, 1.0)
    assert answer is not None and not answer["accepted"]
    assert answer["reason"].startswith(f"min green {short:g} s < {j.phases[0].min_green_s:g} s required for J1 phase 0")
    assert not node.desk.active and not any("manual" in c.plan_id for c in plans.got)


def test_a_monitor_cannot_override_and_another_operator_cannot_sign_as_alice(rig):
    broker, node, _dev, _ = rig
    with pytest.raises(AdapterError, match="refused user 'wall'"):
        ctl.send(settings(broker, "wall"), broker.topics, OverrideRequest("J1", "wall", "release", "w1", 1.0), 3.0)
    # bob's connection publishing on alice's override topic: refused by the broker
    bob = MqttClient(settings(broker, "bob")).start()
    try:
        code = bob.wait_ack(bob.publish(broker.topics.override("J1", "alice"), b"{}", qos=1))
    finally:
        bob.close(flush_s=0.2)
    assert code == 135
    node.tick(2.0)
    assert not node.desk.active and node.desk.answers_total == 0


def test_release_gives_the_junction_back(rig):
    broker, node, dev, _plans = rig
    second(broker, node, dev, 1.0)
    answer, t = ask(broker, node, dev, OverrideRequest("J1", "alice", "hold", "a2", 1.0, for_s=300.0, phase=1), 1.0)
    assert answer["accepted"]
    answer, t = ask(broker, node, dev, OverrideRequest("J1", "bob", "release", "b2", t), t)
    assert answer["accepted"] and "alice's hold released" in answer["reason"]
    assert "J1" not in node.desk.active
    beat = ctl.snapshot(settings(broker, "alice"), broker.topics, CFG.service.instance)
    assert beat["table"]["junctions"]["J1"]["mode"] != "manual"
    assert json.loads(json.dumps(beat["heartbeat"]))["state"] == "online"


def test_an_override_survives_a_crash_of_the_service(tmp_path):
    """kill -9 stand-in: the first node's connection is cut without a goodbye and its store is
    left as it was; a new node on the same audit store puts the override back."""
    from dataclasses import replace

    from controller.adapters.audit import AuditStore
    from controller.adapters.trust import Trust

    with Broker(tmp_path / "broker", SITE, JUNCTIONS, operators=("alice",)) as broker:
        path = tmp_path / "audit.sqlite"
        first = ServiceNode(
            CFG, JUNCTIONS, broker.settings(CONTROLLER), start_s=0.0, trust=Trust(1, None, AuditStore(path))
        ).start()
        dev = MqttClient(broker.settings(field_user("J1"))).start()
        try:
            second(broker, first, dev, 1.0)
            answer, t = ask(
                broker, first, dev, OverrideRequest("J1", "alice", "hold", "c1", 1.0, for_s=600.0, phase=1), 1.0
            )
            assert answer["accepted"]
            first.client._client.socket().close()  # gone without a DISCONNECT
            first.client._client.loop_stop()
            again = ServiceNode(
                replace(CFG),
                JUNCTIONS,
                broker.settings(CONTROLLER),
                start_s=t + 5,
                trust=Trust(2, None, AuditStore(path)),
            ).start()
            try:
                ov = again.desk.active["J1"]
                assert (ov.operator, ov.action, ov.request_id) == ("alice", "hold", "c1")
                assert ov.until_s == pytest.approx(answer["until"])  # the time it had left, no more
            finally:
                again.close()
        finally:
            dev.close(flush_s=0.2)


class Cabinet:
    """J1's roadside over the broker: plan messages in as received, a virtual roadside
    controller, its detector feed and status out; its signal state each second in `states`."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.rc = RoadsideController(JUNCTIONS["J1"], backup_s=CFG.roadside.backup_s)
        self.states: list[str] = []
        self._inbox: list[bytes] = []
        self._lock = threading.Lock()
        self.client = MqttClient(broker.settings(field_user("J1")), self._got)
        self.client.subscribe([broker.topics.plan("J1")], qos=1)
        self.client.start()

    def _got(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self._inbox.append(payload)

    def second(self, node: ServiceNode, t: float) -> None:
        with self._lock:
            got, self._inbox = self._inbox, []
        for payload in got:
            self.rc.receive_message(payload, t)
        self.states.append(self.rc.tick(t, 0 if self.rc.mode == "local" else None, t) or "local")
        topics = self.broker.topics
        self.client.publish(topics.detectors("J1"), feed("J1", t, cars=2), qos=1)
        self.client.publish(
            topics.status("J1"), encode_status(self.rc.status(t), self.rc.status_epoch()), qos=1, retain=True
        )
        time.sleep(0.05)
        node.tick(t)

    def ask(self, node: ServiceNode, req: OverrideRequest, t0: float) -> tuple[dict | None, float]:
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(ctl.send, settings(self.broker, req.operator), self.broker.topics, req, 8.0)
            t = t0
            while not fut.done() and t < t0 + 40:
                t += 1.0
                self.second(node, t)
                time.sleep(0.1)
            return fut.result(), t


def test_an_operators_flash_reaches_the_roadside_and_a_release_ends_it(tmp_path):
    with Broker(tmp_path / "broker", SITE, JUNCTIONS, operators=("alice", "bob")) as broker:
        node = ServiceNode(CFG, JUNCTIONS, broker.settings(CONTROLLER), start_s=0.0).start()
        cab = Cabinet(broker)
        try:
            for t in range(1, 4):
                cab.second(node, float(t))
            answer, t = cab.ask(node, OverrideRequest("J1", "alice", "flash", "f1", 3.0, for_s=60.0), 3.0)
            assert answer is not None and answer["accepted"] and "flash in force for 60 s" in answer["reason"]
            for k in range(1, 16):
                cab.second(node, t + k)
            assert "oooo" in cab.states, cab.states
            i = cab.states.index("oooo")
            # out of a green through its yellow (3 s) and all-red (1 s): no green next to the flash
            assert cab.states[i - 1] == "rrrr" and all("y" in s and "G" not in s for s in cab.states[i - 4 : i - 1])
            assert cab.rc.status(t + 15).plan_id == "J1-manual-alice-f1"
            answer, t = cab.ask(node, OverrideRequest("J1", "bob", "release", "b1", t + 15), t + 15)
            assert answer is not None and answer["accepted"] and "alice's flash released" in answer["reason"]
            for k in range(1, 10):
                cab.second(node, t + k)
            last = len(cab.states) - 1 - cab.states[::-1].index("oooo")
            after = cab.states[last + 1 :]
            # out of flash through a full intergreen of all-red (4 s), then a green of the policy's plan
            assert after[:4] == ["rrrr"] * 4 and after[4] in ("GGrr", "rrGG"), after
            assert "J1" not in node.desk.active
        finally:
            cab.client.close(flush_s=0.2)
            node.close()

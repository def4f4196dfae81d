"""The probes of issue 11 through a real Mosquitto: with the controller's broker credentials,
forged, expired, future, replayed and non-finite plans reach a virtual roadside, which refuses
each with its reason and applies only the genuine plan; hostile statuses (from the future, a
mode only the service sets, a string boolean) reach the service, which refuses each by reason
and keeps its clock."""

from __future__ import annotations

import json
import queue
import time

import pytest

from controller.adapters.keys import new_keyring
from controller.adapters.mqtt import MqttClient
from controller.config import Config, ServiceConfig
from controller.core.messages import encode_command, encode_status
from controller.live import ServiceNode
from controller.model import PhaseCommand, SignalStatus
from sim.broker import CONTROLLER, Broker, field_user
from sim.roadside import RoadsideController
from tests.live_fixtures import cross, skip_without_mosquitto

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(30)
SITE = "tm"


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", SITE, ["J1"]) as b:
        yield b


def test_forged_plans_over_the_broker_are_refused_by_reason(broker):
    ring = new_keyring("k1")
    rc = RoadsideController(cross("J1"), backup_s=30.0, keys=ring.for_junction("J1"))
    got: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    dev = MqttClient(broker.settings(field_user("J1")), lambda t, p: got.put(p))
    dev.subscribe([broker.topics.plan("J1")], qos=1)
    ctl = MqttClient(broker.settings(CONTROLLER))  # the controller's credentials, not its key
    try:
        dev.start()
        ctl.start()
        now = time.time()

        def plan(seq: int, t: float, *, ttl: float = 20.0, epoch: int = 5, signer=ring.sign) -> bytes:
            return encode_command(PhaseCommand("J1", f"p{seq}", seq, 1, 5.0, t, t + ttl), epoch, signer)

        body = encode_command(PhaseCommand("J1", "n", 3, 1, 5.0, now, now + 20), 5)
        # hold_s, the last field, made NaN (a replace of "5.0" also hit the clock when `now` held it)
        nan_body = body.replace(b'"hold_s":5.0}', b'"hold_s":NaN}')
        assert nan_body != body
        probes = [
            (plan(1, now, signer=None), "unsigned plan"),
            (plan(1, now, signer=new_keyring("k1").sign), "bad signature"),
            (plan(10**9, now - 100.0), "expired"),
            (plan(2, now + 11 * 86400.0), "not valid before"),
            (ring.sign(nan_body, "J1"), "malformed plan (not_finite"),
            (plan(4, now), ""),  # the genuine one
            (plan(4, now), "replayed: seq 4"),
            (plan(9, now, epoch=4), "replayed: epoch 4"),
        ]
        for payload, _ in probes:
            ctl.publish(broker.topics.plan("J1"), payload, qos=1)
        for payload, expected in probes:
            received = got.get(timeout=5)
            assert received == payload  # in order, unchanged
            why = rc.receive_message(received, time.time())
            assert why.startswith(expected) if expected else why == "", (expected, why)
            if expected:
                assert rc.status(now).faults[-1] == f"refused: {why}"
        assert (rc.epoch, rc.last_seq, rc.plan.plan_id) == (5, 4, "p4")
    finally:
        ctl.close()
        dev.close()


def test_hostile_statuses_over_the_broker_are_refused_and_the_clock_kept(broker):
    junctions = {"J1": cross("J1")}
    cfg = Config(service=ServiceConfig(site=SITE, policy="fixed"))
    node = ServiceNode(cfg, junctions, broker.settings(CONTROLLER, client_id="tsc-tm-ctl"), start_s=1000.0)
    dev = MqttClient(broker.settings(field_user("J1")))
    try:
        node.start()
        dev.start()
        good = json.loads(encode_status(SignalStatus("J1", 1000.0, 0, False, 5.0, "local", 0, "local")))
        hostile = [
            {**good, "t": 1000.0 + 1e9},
            {**good, "mode": "manual"},
            {**good, "in_intergreen": "no"},
            {**good, "t": 1004.9},
        ]  # ahead by more than the 1 s skew
        for body in [*hostile, {**good, "t": 1000.5}]:
            dev.publish(broker.topics.status("J1"), json.dumps(body).encode(), qos=1, retain=True)
        deadline = time.monotonic() + 5

        def status_t() -> float | None:
            st = node.service.state.junctions["J1"].status
            return None if st is None else st.t_s

        while time.monotonic() < deadline and not (sum(node.service.rejected.values()) == 4 and status_t()):
            node.tick(1000.0)  # the service clock stands still: only the skew bound lets a message in
            time.sleep(0.05)
        assert dict(node.service.rejected) == {"future_timestamp": 2, "forbidden_mode": 1, "wrong_type": 1}
        assert status_t() == 1000.5  # the genuine status, after the future ones
    finally:
        dev.close()
        node.close()

"""controller/adapters/paho_acks.py against a real Mosquitto: plans published at once, QoS 1, beyond the in-flight
limit and within it, by a client whose walk after each PUBACK is skipped when nothing waits queued and by one with
paho's own walk: every plan is acknowledged and reaches the subscriber, in order, the same for both."""

from __future__ import annotations

import pytest

from controller.adapters import paho_acks
from controller.adapters.mqtt import MqttClient
from sim.broker import CONTROLLER, Broker, field_user
from tests.live_fixtures import skip_without_mosquitto, wait_until

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", "t", ["J1"]) as b:
        yield b


@pytest.mark.parametrize("limit", [5, 1000])
@pytest.mark.parametrize("lean", [True, False])
def test_every_plan_is_acknowledged_and_arrives_in_order(broker, clients, limit, lean):
    got: list[bytes] = []
    dev = MqttClient(broker.settings(field_user("J1")), lambda topic, payload: got.append(payload))
    clients.append(dev)
    dev.subscribe([broker.topics.plan("J1")], qos=1)
    dev.start()
    ctl = MqttClient(broker.settings(CONTROLLER, max_inflight=limit))
    clients.append(ctl)
    if not lean:
        del ctl._client.__dict__["_update_inflight"]  # paho's own walk
    assert ("_update_inflight" in ctl._client.__dict__) == (lean and paho_acks.exact_here())
    ctl.start()
    plans = [b'{"seq":%d}' % k for k in range(400)]
    for payload in plans:
        ctl.publish(broker.topics.plan("J1"), payload, qos=1)
    assert wait_until(lambda: ctl.pending() == 0 and len(got) == len(plans), 20.0)
    assert got == plans
    assert ctl._client._inflight_messages == 0

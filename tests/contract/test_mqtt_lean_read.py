"""controller/adapters/paho_read.py against a real Mosquitto: a subscriber reading with the lean
reader and one reading with paho's own get the same messages (topic, payload, QoS, retain, dup,
properties) for the same publishes: a retained message, a burst of QoS 0 feeds, QoS 1 and 2, a
message longer than a read's buffer; and an idle lean client keeps its connection by the
keepalive (its PINGRESPs read)."""

from __future__ import annotations

import time

import pytest

from controller.adapters import paho_read
from controller.adapters.mqtt import MqttClient
from sim.broker import CONTROLLER, Broker, field_user
from tests.live_fixtures import skip_without_mosquitto, wait_until

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", "t", ["J1"]) as b:
        yield b


def _subscriber(broker: Broker, user: str, lean: bool, got: list, clients: list) -> MqttClient:
    sub = MqttClient(broker.settings(user))
    clients.append(sub)
    if not lean:
        del sub._client.__dict__["_packet_read"]  # paho's own reader
    assert ("_packet_read" in sub._client.__dict__) == (lean and paho_read.exact_here())
    if lean:
        paho_read.install(sub._client)  # no raw handler: every message an MQTTMessage, its fields compared
    sub._client.on_message = lambda client, userdata, m: got.append(
        (m.topic, m.payload, m.qos, m.retain, m.dup, m.properties.json() if m.properties else None)
    )
    sub.subscribe([f"{broker.topics.root}/#"], qos=2)
    return sub.start()


def test_a_lean_and_a_paho_subscriber_get_the_same_messages(broker, clients):
    dev = MqttClient(broker.settings(field_user("J1"))).start()
    clients.append(dev)
    status, detectors = broker.topics.status("J1"), broker.topics.detectors("J1")
    dev.wait_ack(dev.publish(status, b'{"retained":1}', qos=1, retain=True))
    got: dict[bool, list] = {True: [], False: []}
    _subscriber(broker, CONTROLLER, True, got[True], clients)
    _subscriber(broker, "monitor", False, got[False], clients)
    sent = [b'{"k":%d}' % k for k in range(300)] + [b"x" * 200_000, b"qos1", b"qos2", b"last"]
    for k, payload in enumerate(sent):
        qos = {301: 1, 302: 2}.get(k, 0)
        dev.publish(detectors, payload, qos=qos)
    assert wait_until(lambda: len(got[True]) == len(got[False]) == 1 + len(sent), 20.0)
    assert got[True] == got[False]
    assert got[True][0] == (status, b'{"retained":1}', 1, True, False, {})
    assert [m[1] for m in got[True][1:301]] == sent[:300]  # the feeds in order (QoS 2 arrives on its PUBREL)
    assert sorted(m[1] for m in got[True][1:]) == sorted(sent)
    assert {m[1]: m[2] for m in got[True][-4:]} == {b"x" * 200_000: 0, b"qos1": 1, b"qos2": 2, b"last": 0}


def test_an_idle_lean_client_keeps_its_connection(broker, clients):
    sub = MqttClient(broker.settings(CONTROLLER, keepalive_s=1.0))
    clients.append(sub)
    sub.start()
    pings = []
    real = sub._client._handle_pingresp
    sub._client._handle_pingresp = lambda: pings.append(time.monotonic()) or real()
    time.sleep(3.5)
    assert len(pings) >= 2 and sub._client._ping_t == 0
    assert sub.connected.is_set() and sub.disconnects == 0

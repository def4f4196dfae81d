"""sim/broker.py and controller/adapters/mqtt.py against a real Mosquitto: authentication, the
ACL of the contract, and persistence of QoS 1 queues across a broker restart."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace

import pytest

from controller.adapters.mqtt import MqttClient, Topics, topic_level
from controller.errors import AdapterError
from sim.broker import CONTROLLER, Broker, field_user
from tests.live_fixtures import Inbox, skip_without_mosquitto

skip_without_mosquitto()
if shutil.which("mosquitto_passwd") is None:
    pytest.skip("mosquitto_passwd is not installed", allow_module_level=True)

pytestmark = pytest.mark.timeout(30)

SITE = "t"


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", SITE, ["J1", "J2"]) as b:
        yield b


def connect(clients, broker, user, on_message=None, subscribe=(), **kw) -> MqttClient:
    c = MqttClient(broker.settings(user, **kw), on_message)
    clients.append(c)
    if subscribe:
        c.subscribe(subscribe, qos=1)
    return c.start()


def test_wrong_password_is_refused_at_connack(broker, clients):
    bad = MqttClient(replace(broker.settings(CONTROLLER), password="not-the-password"))
    clients.append(bad)
    with pytest.raises(AdapterError) as err:
        bad.start()
    assert err.value.fatal
    assert "authori" in bad.refused.lower() or "password" in bad.refused.lower()
    assert not bad.connected.is_set()


def test_unknown_user_and_anonymous_are_refused(broker, clients):
    for settings in (
        replace(broker.settings(CONTROLLER), username="mallory"),
        replace(broker.settings(CONTROLLER), username="", password=""),
    ):
        c = MqttClient(settings)
        clients.append(c)
        with pytest.raises(AdapterError):
            c.start()


def test_field_device_cannot_publish_plans_or_other_junctions(broker, clients):
    t = broker.topics
    seen = Inbox()
    connect(clients, broker, "operator", seen, subscribe=[f"{t.root}/#"])
    j1 = connect(clients, broker, field_user("J1"))

    forged_plan = j1.publish(t.plan("J1"), b'{"forged":"plan"}', qos=1)
    forged_feed = j1.publish(t.detectors("J2"), b'{"forged":"feed"}', qos=1)
    forged_override = j1.publish(t.override("J1", field_user("J1")), b'{"forged":"override"}', qos=1)
    own_feed = j1.publish(t.detectors("J1"), b'{"own":"feed"}', qos=1)

    # Mosquitto answers a refused QoS 1 publish with PUBACK reason 135 (not authorised).
    assert j1.wait_ack(forged_plan) == 135
    assert j1.wait_ack(forged_feed) == 135
    assert j1.wait_ack(forged_override) == 135
    assert j1.wait_ack(own_feed) == 0
    got = seen.wait_for(1)
    time.sleep(0.3)  # anything forged would have arrived by now, behind or before the own feed
    assert [topic for topic, _ in seen.messages] == [t.detectors("J1")]
    assert got[0][1] == b'{"own":"feed"}'


def test_only_controller_publishes_plans_and_only_operators_overrides(broker, clients):
    t = broker.topics
    plans = Inbox()
    connect(clients, broker, field_user("J1"), plans, subscribe=[t.plan("J1"), t.plan("J2")])
    ctl = connect(clients, broker, CONTROLLER)
    op = connect(clients, broker, "operator")
    assert ctl.wait_ack(ctl.publish(t.plan("J1"), b"plan-1", qos=1)) == 0
    assert ctl.wait_ack(ctl.publish(t.override("J1", CONTROLLER), b"x", qos=1)) == 135
    assert op.wait_ack(op.publish(t.plan("J1"), b"op-plan", qos=1)) == 135
    assert op.wait_ack(op.publish(t.override("J1", "operator"), b"override", qos=1)) == 16  # accepted; no subscriber
    assert ctl.wait_ack(ctl.publish(t.plan("J2"), b"plan-for-J2", qos=1)) == 0
    time.sleep(0.3)
    # J1's device reads its own plans only, even though it asked for J2's as well.
    assert plans.messages == [(t.plan("J1"), b"plan-1")]


def test_queued_qos1_plans_survive_a_broker_restart(broker, clients):
    t = broker.topics
    plans = Inbox()
    device_settings = broker.settings(field_user("J1"), client_id="field-J1-persistent")
    device = MqttClient(device_settings, plans)
    device.subscribe([t.plan("J1")], qos=1)
    device.start()
    device.close()  # away, with a persistent session holding its subscription
    ctl = connect(clients, broker, CONTROLLER)
    mids = [ctl.publish(t.plan("J1"), f"plan-{k}".encode(), qos=1) for k in range(5)]
    assert [ctl.wait_ack(m) for m in mids] == [0] * 5

    broker.restart()
    ctl.wait_connected(10)
    back = MqttClient(device_settings, plans)
    clients.append(back)
    back.start()
    got = plans.wait_for(5)
    assert [p for _, p in got] == [f"plan-{k}".encode() for k in range(5)]


def test_topic_levels_escape_wildcards_and_refuse_reserved_names():
    assert topic_level("cluster_1_2_#3more") == "cluster_1_2_%233more"
    assert topic_level("a/b+c%") == "a%2Fb%2Bc%25"
    with pytest.raises(AdapterError):
        topic_level("service")
    t = Topics("city")
    assert t.detectors("J1") == "tsc/v1/city/J1/detectors"
    assert t.split("tsc/v1/city/J1/status") == ("J1", "status")
    assert t.split("tsc/v1/city/service/ctl-1") is None
    assert t.split("tsc/v1/other/J1/status") is None

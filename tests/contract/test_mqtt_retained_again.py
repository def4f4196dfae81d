"""MqttClient.subscribe(retained_again=True) against a real Mosquitto: a topic already subscribed
gets its retained message again (what a taker's node needs for the border statuses its instance
subscribed before, controller/takeover.py); a plain re-subscribe does not replay it."""

from __future__ import annotations

import threading
import time

import pytest

from controller.adapters.mqtt import MqttClient
from sim.broker import CONTROLLER, Broker, field_user
from tests.live_fixtures import skip_without_mosquitto

skip_without_mosquitto()

pytestmark = [pytest.mark.slow, pytest.mark.timeout(30), pytest.mark.wallclock]  # broker, 0.3 s waits


def test_retained_again_replays_a_retained_message_of_a_topic_already_subscribed(tmp_path):
    with Broker(tmp_path / "broker", "t", ["J1"]) as broker:
        topic = broker.topics.status("J1")
        device = MqttClient(broker.settings(field_user("J1"))).start()
        # 16: accepted, no subscriber yet
        assert device.wait_ack(device.publish(topic, b'{"retained": 1}', qos=1, retain=True)) in (0, 16)
        device.close()
        got: list[bytes] = []
        cv = threading.Condition()

        def on(_topic: str, payload: bytes) -> None:
            with cv:
                got.append(payload)
                cv.notify_all()

        c = MqttClient(broker.settings(CONTROLLER), on)
        c.subscribe([topic])
        c.start()
        try:
            with cv:
                assert cv.wait_for(lambda: len(got) == 1, 5.0)
            c.subscribe([topic])  # already subscribed: nothing again
            c.wait_connected(5.0)
            time.sleep(0.3)
            assert len(got) == 1
            c.subscribe([topic], retained_again=True)
            with cv:
                assert cv.wait_for(lambda: len(got) == 2, 5.0), got
            assert got[1] == b'{"retained": 1}'
        finally:
            c.close()

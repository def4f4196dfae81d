"""The two-junction service the MQTT contract tests run (site, junctions, config), its detector
messages, and delivery of one message through a live node."""

from __future__ import annotations

from controller.adapters.mqtt import MqttClient
from controller.config import Config, ServiceConfig
from controller.core.messages import encode_detector_message
from controller.core.params import WebsterParams
from controller.live import ServiceNode
from tests.live_fixtures import cross, wait_until

SITE = "t"


JUNCTIONS = {j: cross(j) for j in ("J1", "J2")}


CFG = Config(service=ServiceConfig(site=SITE, policy="webster"), webster=WebsterParams(period_s=2.0))


def feed(jid: str, t_s: float, cars: int = 1) -> bytes:
    dets = {d.id: ({"car": cars} if cars else {}, 0.1, 8.0) for d in JUNCTIONS[jid].detectors}
    return encode_detector_message(jid, t_s, 1.0, dets)


def deliver(node: ServiceNode, client: MqttClient, topic: str, payload: bytes, qos: int = 1) -> None:
    """Publish and wait until the node's inbox has it (the broker delivered it)."""
    before = node.client.received
    client.publish(topic, payload, qos=qos)
    assert wait_until(lambda: node.client.received > before), f"not delivered: {topic}"

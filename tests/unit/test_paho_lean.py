"""controller/adapters/paho_lean.py: paho's MQTT 5 packets decode to the same values with
LeanProperties and LeanReasonCode as with paho's own classes, and an MQTT 5 client installs them."""

from __future__ import annotations

import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from controller.adapters import paho_lean
from controller.adapters.mqtt import MqttClient, MqttSettings

V5 = MQTTProtocolVersion.MQTTv5


def _publish_props() -> Properties:
    p = Properties(PacketTypes.PUBLISH)
    p.ContentType = "application/json"
    p.UserProperty = ("site", "city")
    p.UserProperty = ("k", "v")
    p.MessageExpiryInterval = 30
    p.CorrelationData = b"\x01\x02"
    return p


def _publish_packet(props: Properties | None, qos: int = 1) -> tuple[int, bytes]:
    topic = b"tsc/v1/city/J1/detectors"
    body = len(topic).to_bytes(2, "big") + topic + ((7).to_bytes(2, "big") if qos else b"")
    body += props.pack() if props is not None else b"\x00"
    return 0x30 | (qos << 1), body + b'{"v":1}'


def _puback_props() -> Properties:
    p = Properties(PacketTypes.PUBACK)
    p.ReasonString = "not authorised"
    p.UserProperty = ("why", "acl")
    return p


def _decoded() -> list[tuple]:
    """Every value paho hands its callbacks, for publishes and PUBACKs with and without properties."""
    out: list[tuple] = []
    for props in (None, _publish_props()):
        for qos in (0, 1):
            pkt = _packet.decode_publish(*_publish_packet(props, qos), V5)
            out.append((qos, pkt.topic, pkt.mid, pkt.payload, pkt.properties.json(), pkt.properties.isEmpty()))
    for tail in (b"", b"\x00", b"\x87", b"\x87" + _puback_props().pack()):
        mid, reason, props = _packet._decode_mid_reason_prop(PacketTypes.PUBACK, b"\x00\x07" + tail, V5)
        out.append((mid, reason.value, str(reason), repr(reason), reason.is_failure, props.json(), props.isEmpty()))
    for code in (0, 128, 135, 151):
        reason = _packet.ReasonCode(PacketTypes.PUBACK, identifier=code)
        out.append((reason.value, str(reason), reason == code, reason < 200, reason == ReasonCode(PacketTypes.PUBACK)))
    out.append(tuple(str(r) for r in _packet.decode_suback(0x90, b"\x00\x07\x00\x00\x01\x87", V5).reason_codes))
    return out


def test_the_same_values_as_paho(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_packet, "Properties", Properties)
    monkeypatch.setattr(_packet, "ReasonCode", ReasonCode)
    own = _decoded()
    monkeypatch.setattr(_packet, "Properties", paho_lean.LeanProperties)
    monkeypatch.setattr(_packet, "ReasonCode", paho_lean.LeanReasonCode)
    assert type(_packet.decode_publish(*_publish_packet(None), V5).properties) is paho_lean.LeanProperties
    assert type(_packet._decode_mid_reason_prop(PacketTypes.PUBACK, b"\x00\x07", V5)[1]) is paho_lean.LeanReasonCode
    assert _decoded() == own
    assert own[3][4] == {
        "MessageExpiryInterval": 30,
        "ContentType": "application/json",
        "CorrelationData": "0102",
        "UserProperty": [("site", "city"), ("k", "v")],
    }
    assert own[7][1:3] == (0x87, "Not authorized")
    assert own[7][5] == {"ReasonString": "not authorised", "UserProperty": [("why", "acl")]}
    assert own[-1] == ("Granted QoS 0", "Granted QoS 1", "Not authorized")


def test_reused_instance_is_cleared_and_packs_the_same() -> None:
    lean = paho_lean.LeanProperties(PacketTypes.PUBLISH)
    lean.unpack(_publish_props().pack())
    assert not lean.isEmpty()
    assert lean.pack() == _publish_props().pack()
    lean.unpack(b"\x00")
    assert lean.isEmpty() and lean.json() == {} and lean.pack() == b"\x00"
    assert lean.packetType == PacketTypes.PUBLISH


def test_an_mqtt5_client_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from paho.mqtt import client

    for module in (_packet, client):
        monkeypatch.setattr(module, "Properties", Properties)
        monkeypatch.setattr(module, "ReasonCode", ReasonCode)
    MqttClient(MqttSettings("localhost", 1883, "u", "", "lean-test"), on_message=lambda topic, payload: None)
    for module in (_packet, client):
        assert module.Properties is paho_lean.LeanProperties
        assert module.ReasonCode is paho_lean.LeanReasonCode


def test_another_paho_release_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lean classes were read against paho 2.2: on another release (e.g. 2.1, which has no
    paho.mqtt._packet) install() patches nothing and paho runs its own classes."""
    import paho.mqtt
    from paho.mqtt import client

    for module in (_packet, client):
        monkeypatch.setattr(module, "Properties", Properties)
        monkeypatch.setattr(module, "ReasonCode", ReasonCode)
    monkeypatch.setattr(paho.mqtt, "__version__", "2.1.0")
    assert paho_lean.install() is False
    for module in (_packet, client):
        assert module.Properties is Properties and module.ReasonCode is ReasonCode
    monkeypatch.setattr(paho.mqtt, "__version__", "2.2.0")
    assert paho_lean.install() is True
    assert client.Properties is paho_lean.LeanProperties

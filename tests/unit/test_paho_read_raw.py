"""controller/adapters/paho_read.py's raw handler: the fast path's PUBLISHes handed on as
(topic's bytes, payload), without paho's MQTTMessage, in the same order among the other packets and with the
same packets sent back as paho's own reader; MqttClient's `on_raw`; a live node's `_on_raw` puts in its inbox
what `_on_message` puts for every topic."""

from __future__ import annotations

import logging
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from controller.adapters import paho_read
from controller.adapters.mqtt import MqttClient, MqttSettings, Topics
from controller.config import Config
from controller.live import ServiceNode
from tests.live_fixtures import cross
from tests.unit.test_paho_read import (
    AGAIN,
    V5,
    V311,
    ScriptedSocket,
    _publish,
    _splits,
    read_all,
    read_past_a_handler_bug,
    stream,
)


def _pairs(messages: list) -> list:
    """(topic's bytes, payload) of each message, ('suback', ...) as it is."""
    return [m if m[0] == "suback" else (m[1], m[3]) for m in messages]


def read_raw(protocol: int, chunks: list[bytes]) -> dict:
    """read_all's figures with a raw handler: every message, raw or not, in the order handed on."""
    got: list = []

    def setup(c: mqtt.Client) -> None:
        c.on_message = lambda client, userdata, m: got.append(("message", m._topic, m.payload))
        assert paho_read.install(c, raw=lambda topic, payload: got.append(("raw", topic, payload)))

    out = read_all(protocol, True, chunks, ping_t=5.0, setup=setup)
    suback = [m for m in out["messages"] if m[0] == "suback"]
    return out | {"got": got, "suback": suback}


@pytest.mark.parametrize("protocol", [V5, V311])
@pytest.mark.parametrize("how", ["whole", "bytes", "seed1", "seed2"])
def test_the_same_messages_in_the_same_order_and_the_same_replies(protocol: int, how: str) -> None:
    chunks = _splits(stream(protocol == V5), how)
    own = read_all(protocol, False, chunks, ping_t=5.0)
    raw = read_raw(protocol, chunks)
    assert [(topic, payload) for _, topic, payload in raw["got"]] == [
        p for p in _pairs(own["messages"]) if p[0] != "suback"
    ]
    assert raw["sent"] == own["sent"] != b""  # the PUBACKs of the raw QoS 1 messages too
    assert (raw["errors"], raw["ping_t"], raw["heard"]) == (own["errors"], 0, True)
    kinds = [k for k, *_ in raw["got"]]
    # the QoS 0 and 1 messages without properties went raw; QoS 2 (on its PUBREL) and those with properties did not
    assert kinds.count("raw") == 13 and kinds.count("message") == (3 if protocol == V5 else 1)
    assert all(type(topic) is bytes and type(payload) is bytes for _, topic, payload in raw["got"])


def test_without_a_raw_handler_every_message_is_an_mqtt_message() -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=V5)
    got: list = []
    c.on_message = lambda client, userdata, m: got.append(m)
    assert paho_read.install(c, raw=lambda topic, payload: None) and paho_read.install(c)  # None again: no raw
    c._sock = ScriptedSocket([_publish(b"a/b", b"1", True)])  # type: ignore[assignment]
    c._packet_read()
    assert [(m.topic, m.payload) for m in got] == [("a/b", b"1")]


def test_a_per_topic_callback_takes_every_message_through_paho() -> None:
    """With message_callback_add, paho's matcher decides (as paho_read's on_message path): nothing goes raw."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=V5)
    got: list = []
    c.message_callback_add("x/+", lambda client, userdata, m: got.append(("cb", m.payload)))
    c.on_message = lambda client, userdata, m: got.append(("on", m.payload))
    paho_read.install(c, raw=lambda topic, payload: got.append(("raw", payload)))
    c._sock = ScriptedSocket([_publish(b"x/1", b"1", True) + _publish(b"a/b", b"2", True)])  # type: ignore[assignment]
    c._packet_read()
    assert got == [("cb", b"1"), ("on", b"2")]


def test_a_raw_handler_error_is_paho_own(caplog: pytest.LogCaptureFixture) -> None:
    """Raised unless suppress_exceptions (then logged by paho, when it logs); the next call reads on; held
    under paho's _in_callback_mutex (a pumped client's publish inside it is not written from there)."""
    for suppress in (False, True):
        c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=V5)
        c.suppress_exceptions = suppress
        got: list = []

        def boom(topic: bytes, payload: bytes, c=c, got=got) -> None:
            got.append((payload, c._in_callback_mutex.locked()))
            if payload == b"1":
                raise ValueError("handler bug")

        paho_read.install(c, raw=boom)
        read_past_a_handler_bug(c, suppress)
        assert got == [(b"0", True), (b"1", True), (b"2", True)]


def test_an_mqtt_client_hands_on_raw_or_decoded(caplog: pytest.LogCaptureFixture) -> None:
    settings = MqttSettings("localhost", 1883, "u", "", "raw-test")
    seen: list = []
    raw = MqttClient(settings, lambda t, p: seen.append(("str", t, p)), on_raw=lambda t, p: seen.append(("raw", t, p)))
    plain = MqttClient(settings, lambda t, p: seen.append(("str", t, p)))
    for client in (raw, plain):
        client._client._sock = ScriptedSocket([_publish("tsc/v1/s/Jé/detectors".encode(), b"{}", True)])  # type: ignore[assignment]
        client._client._packet_read()
    assert seen == [("raw", "tsc/v1/s/Jé/detectors".encode(), b"{}"), ("str", "tsc/v1/s/Jé/detectors", b"{}")]
    assert raw.received == plain.received == 1

    def bug(topic: bytes, payload: bytes) -> None:
        raise RuntimeError("bug")

    broken = MqttClient(settings, None, on_raw=bug)
    broken._client._sock = ScriptedSocket([_publish(b"a/\xff", b"", True) + _publish(b"a/b", b"", True)])  # type: ignore[assignment]
    with caplog.at_level(logging.ERROR):
        broken._client._packet_read()
    assert (broken.received, broken.callback_errors) == (2, 2)
    assert "topic=a/\ufffd" in caplog.text
    silent = MqttClient(settings, None)
    silent._client._sock = ScriptedSocket([_publish(b"a/b", b"", True)])  # type: ignore[assignment]
    silent._client._packet_read()
    assert (silent.received, silent.callback_errors) == (1, 0)


def _node(junctions) -> ServiceNode:
    settings = MqttSettings(host="127.0.0.1", port=1, username="c", password="", client_id="c")
    return ServiceNode(Config(), junctions, settings, start_s=time.time())


def _taken(node: ServiceNode) -> list:
    out = []
    while not node.inbox.empty():
        out.append(node.inbox.get_nowait())
    while not node.overrides.empty():
        out.append(("override", *node.overrides.get_nowait()))
    return out


def test_a_live_node_routes_raw_topics_as_on_message() -> None:
    """Every kind of topic a node may hear: a junction's detectors and status by the look-up (an id whose topic
    level is percent-encoded too), the rest (clock, packed, overrides, plans, another site's, unknown junctions)
    as _on_message takes them; unrouted counted."""
    junctions = {j: cross(j) for j in ("J1", "J#2", "J3")}
    site = Topics(Config().service.site)
    j = next(iter(junctions))
    topics = [site.detectors(jj) for jj in junctions] + [site.status(j), site.plan(j), site.clock]
    topics += [site.packed_detectors, site.override(j, "alice"), site.detectors("nobody"), "tsc/v1/other/x/detectors"]
    result = {}
    for way in ("raw", "str"):
        node = _node(junctions)
        for k, topic in enumerate(topics):
            if way == "raw":
                node.client._handle_raw(topic.encode(), b"%d" % k)
            else:
                node._on_message(topic, b"%d" % k)
        result[way] = (_taken(node), node.unrouted, node.client.received)
    assert result["raw"][:2] == result["str"][:2]
    assert [kind for kind, *_ in result["raw"][0]][:5] == ["detectors"] * 3 + ["status", "clock"]
    assert result["raw"][1] == 3 and result["raw"][2] == len(topics)


def test_a_live_node_with_a_route_gives_it_every_message() -> None:
    """takeover.py's route sees each message first, a junction's feed too."""
    junctions = {j: cross(j) for j in ("J1", "J2")}
    node = _node(junctions)
    routed: list = []
    node.route = lambda topic, payload: routed.append((topic, payload)) or True
    topic = Topics(Config().service.site).detectors(next(iter(junctions)))
    node.client._handle_raw(topic.encode(), b"x")
    assert routed == [(topic, b"x")] and node.inbox.empty()


def test_the_flags_do_not_change_the_raw_pairs() -> None:
    """retain, dup and QoS 1 (its mid) are read past, not into the topic or payload."""
    chunks = [
        _publish(b"a/b", b"r", True, flags=0x01)
        + _publish(b"a/b", b"d", True, flags=0x08)
        + _publish(b"a/b", b"q", True, qos=1, mid=9)
    ]
    raw = read_raw(V5, chunks)
    assert raw["got"] == [("raw", b"a/b", b"r"), ("raw", b"a/b", b"d"), ("raw", b"a/b", b"q")]
    assert raw["sent"] == b"\x40\x02\x00\x09"  # PUBACK of mid 9 (MQTT 5, success: the short form)
    assert raw["errors"] == [] and MQTTErrorCode.MQTT_ERR_SUCCESS == 0 and AGAIN != 0


def test_a_junction_feed_topic_skips_on_message() -> None:
    """The look-up is what routes a junction's detectors and status (no topic decoded, no split); any other
    topic is left to _on_message."""
    junctions = {j: cross(j) for j in ("J1", "J#2")}
    node = _node(junctions)
    site = Topics(Config().service.site)
    general: list = []
    node._on_message = lambda topic, payload: general.append(topic)  # type: ignore[method-assign]
    for topic in (site.detectors("J#2"), site.status("J1"), site.clock, site.plan("J1")):
        node.client._handle_raw(topic.encode(), b"")
    assert general == [site.clock, site.plan("J1")]
    assert _taken(node) == [("detectors", "J#2", b""), ("status", "J1", b"")]

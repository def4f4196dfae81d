"""controller/adapters/paho_acks.py: a client with the shortcut and one with paho's own walk, given the same
publishes, acknowledgements, reconnects and drops, keep the same messages in the same states, count the same
messages in flight and queue the same packets to send, in the same order; and the walk is skipped when nothing
waits queued."""

from __future__ import annotations

import random

import paho.mqtt
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from controller.adapters import paho_acks
from controller.adapters.mqtt import MqttClient, MqttSettings

IN_FLIGHT = (mqtt.mqtt_ms_wait_for_puback, mqtt.mqtt_ms_wait_for_pubrec, mqtt.mqtt_ms_wait_for_pubcomp)


class _Unsent:
    """A socket nothing is written to (the packets stay queued: the event loop above never writes)."""

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


def _client(limit: int, lean: bool, protocol: int = mqtt.MQTTv5) -> mqtt.Client:
    """A client whose packets stay queued in _out_packet (a socket never written to, an event loop of its own
    that writes nothing): what paho would send, in order."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=protocol)
    c.max_inflight_messages_set(limit)
    c.max_queued_messages_set(0)
    c.on_socket_register_write = lambda *_: None
    c._sock = _Unsent()  # type: ignore[assignment]  # connected, as far as publishing asks
    if lean:
        assert paho_acks.install(c)
    return c


def _ack(c: mqtt.Client, mid: int) -> None:
    """A PUBACK (or PUBCOMP) for `mid`, as paho's _handle_pubackcomp hands it over."""
    rc = ReasonCode(PacketTypes.PUBACK, identifier=0)
    with c._out_message_mutex:
        if mid in c._out_messages:
            c._do_on_publish(mid, rc, None)


def _seen(c: mqtt.Client) -> tuple[object, ...]:
    """What the two clients must agree on: each message kept and its state, the count in flight, the packets
    queued to send."""
    kept = tuple((m.mid, int(m.state), m.dup, m.qos) for m in c._out_messages.values())
    packets = tuple((p["command"], p["mid"], bytes(p["packet"])) for p in c._out_packet)
    return kept, c._inflight_messages, packets


@pytest.mark.parametrize("seed", range(40))
def test_the_same_states_counts_and_packets_as_paho(seed: int) -> None:
    rng = random.Random(seed)
    limit = rng.choice([1, 2, 3, 5, 8, 20])
    protocol = rng.choice([mqtt.MQTTv5, mqtt.MQTTv311])
    paho_own, lean = _client(limit, False, protocol), _client(limit, True, protocol)
    for step in range(rng.randint(20, 120)):
        what, qos = rng.random(), rng.choice([1, 1, 2])
        in_flight = [m.mid for m in paho_own._out_messages.values() if m.state in IN_FLIGHT]
        pick = rng.randrange(len(in_flight)) if in_flight else 0
        for c in (paho_own, lean):
            if what < 0.45:
                c.publish(f"site/plan/J{step}", f"p{step}".encode(), qos=qos)
            elif what < 0.9 and in_flight:
                _ack(c, in_flight[pick])
            elif what < 0.95:
                c._messages_reconnect_reset()
            elif what < 0.97:
                c.drop_out_messages()
        assert _seen(paho_own) == _seen(lean), (seed, step)


def test_no_walk_while_nothing_is_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    """500 plans within the in-flight limit, acknowledged in order: no walk (paho walks 499 + 498 + ...
    messages); 500 plans beyond a limit of 20: the queued ones are walked to and every plan is sent."""
    walks = {"n": 0}
    paho_walk = paho_acks._paho_walk

    def counted(self: mqtt.Client) -> object:
        walks["n"] += 1
        return paho_walk(self)

    monkeypatch.setattr(paho_acks, "_paho_walk", counted)
    c = _client(1000, True)
    infos = [c.publish(f"site/plan/J{k}", b"{}", qos=1) for k in range(500)]
    for info in infos:
        _ack(c, info.mid)
    assert walks["n"] == 0 and not c._out_messages and c._inflight_messages == 0
    c = _client(20, True)
    infos = [c.publish(f"site/plan/J{k}", b"{}", qos=1) for k in range(500)]
    assert len(c._out_packet) == 20  # the rest queued behind the limit
    for info in infos:
        _ack(c, info.mid)
    assert walks["n"] == 480  # each ack while plans waited queued sent the next one
    assert len(c._out_packet) == 500 and not c._out_messages


def test_after_a_drop_the_walk_is_paho_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """drop_out_messages leaves paho's count of messages in flight behind: from then on every ack walks."""
    walks = {"n": 0}
    paho_walk = paho_acks._paho_walk

    def counted(self: mqtt.Client) -> object:
        walks["n"] += 1
        return paho_walk(self)

    monkeypatch.setattr(paho_acks, "_paho_walk", counted)
    c = _client(1000, True)
    c.publish("site/plan/J", b"{}", qos=1)
    assert len(c.drop_out_messages()) == 1
    info = c.publish("site/plan/J", b"{}", qos=1)
    _ack(c, info.mid)
    assert walks["n"] == 1


def test_install_is_idempotent_and_version_gated(monkeypatch: pytest.MonkeyPatch) -> None:
    c = _client(20, False)
    assert paho_acks.install(c) and paho_acks.install(c)
    assert c._update_inflight.__func__ is paho_acks.lean_update_inflight  # type: ignore[attr-defined]
    monkeypatch.setattr(paho.mqtt, "__version__", "2.1.0")
    other = _client(20, False)
    assert not paho_acks.install(other)
    assert "_update_inflight" not in vars(other)


def test_an_mqtt_client_has_it() -> None:
    s = MqttSettings(host="127.0.0.1", port=1, username="u", password="p", client_id="c")
    c = MqttClient(s)
    assert c._client._update_inflight.__func__ is paho_acks.lean_update_inflight  # type: ignore[attr-defined]

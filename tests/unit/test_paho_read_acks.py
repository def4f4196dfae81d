"""controller/adapters/paho_read.py's acknowledgement handler: the PUBACKs of QoS 1 messages a client sent,
read by the lean reader with `acked` and by paho's own reader, give the same acknowledgements (message id and
reason code's value, in order), leave the same messages kept and in flight, mark the same infos published, send
the same queued messages (paho's walk) and end in the same errors, however the bytes are split across reads.
No broker: a scripted socket."""

from __future__ import annotations

import pytest
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from controller.adapters import paho_read
from controller.adapters.mqtt import MqttClient, MqttSettings
from tests.unit.test_paho_read import AGAIN, V5, V311, ScriptedSocket, _packet, _splits, read_to_end

pytestmark = pytest.mark.skipif(not paho_read.exact_here(), reason="the lean reader acts on paho 2.2 only")

PUBACK = 0x40


def _ack(mid: int, rest: bytes = b"", command: int = PUBACK) -> bytes:
    return _packet(command, mid.to_bytes(2, "big") + rest)


def _with_reason_string() -> bytes:
    props = Properties(PacketTypes.PUBACK)
    props.ReasonString = "no one listens"
    return b"\x10" + props.pack()


def acks(v5: bool) -> bytes:
    """PUBACKs of every form a broker sends: the short one, with a reason code (success, no subscribers, refused),
    with an empty property list, with properties, with flags set, for a message no longer kept, twice."""
    if not v5:
        return b"".join([_ack(1), _ack(2), _ack(9), _ack(3), _ack(3), _ack(4, command=0x42), _ack(5), _ack(6)])
    return b"".join(
        [
            _ack(1),
            _ack(2, b"\x00"),
            _ack(3, b"\x10"),
            _ack(4, b"\x87"),
            _ack(5, b"\x10\x00"),
            _ack(6, _with_reason_string()),
            _ack(9, b"\x10"),  # no such message in flight
            _ack(6, b"\x00"),  # twice
            _ack(7, b"\x80", command=0x42),
            _ack(8, b"\x97\x00"),
        ]
    )


def _client(protocol: int, lean: bool, inflight: int) -> tuple[mqtt.Client, list, ScriptedSocket, list]:
    """A client as if connected, that has published eight QoS 1 messages (mids 1-8), `inflight` of them sent."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="acks-test", protocol=protocol)
    heard: list = []
    c.on_publish = lambda client, userdata, mid, code, props: heard.append((mid, code.value, "on_publish"))
    if lean:
        assert paho_read.install(c, acked=lambda mid, value: heard.append((mid, value, "on_publish")))
    c.max_inflight_messages_set(inflight)
    sock = ScriptedSocket([])
    c._sock = sock  # type: ignore[assignment]
    c._state = mqtt._ConnectionState.MQTT_CS_CONNECTED
    infos = [c.publish(f"tsc/v1/city/J{k}/plan", b"plan %d" % k, qos=1) for k in range(1, 9)]
    return c, heard, sock, infos


def read_acks(protocol: int, lean: bool, chunks: list[bytes], inflight: int = 20) -> dict:
    c, heard, sock, infos = _client(protocol, lean, inflight)
    sent_before = sock.sent
    sock.chunks = [x for x in chunks if x]
    errors = read_to_end(c, sock, 1000)
    return {
        "heard": heard,
        "kept": [(m.mid, m.state) for m in c._out_messages.values()],
        "inflight": c._inflight_messages,
        "published": [i.is_published() for i in infos],
        "sent": (sent_before, sock.sent[len(sent_before) :]),
        "errors": errors,
        "in_packet": c._in_packet["command"],
    }


@pytest.mark.parametrize("protocol", [V5, V311])
@pytest.mark.parametrize("how", ["whole", "bytes", "seed1", "seed2"])
@pytest.mark.parametrize("inflight", [20, 3])
def test_the_same_acknowledgements_as_paho(protocol: int, how: str, inflight: int) -> None:
    chunks = _splits(acks(protocol == V5), how)
    lean, paho = read_acks(protocol, True, chunks, inflight), read_acks(protocol, False, chunks, inflight)
    assert lean == paho
    assert lean["heard"] and not lean["errors"]
    if inflight == 3:  # the queued messages went out as the acknowledgements came (paho's walk)
        assert b"plan 8" in lean["sent"][1]


@pytest.mark.parametrize(
    ("protocol", "bad"),
    [
        (V5, _ack(1, b"\x05")),
        (V5, _ack(1, b"\x00\x05")),
        (V5, _packet(PUBACK, b"\x00")),
        (V5, _packet(PUBACK, b"")),
        (V311, _ack(1, b"\x00")),
        (V311, _packet(PUBACK, b"")),
    ],
)
def test_a_malformed_acknowledgement_is_the_same_error(protocol: int, bad: bytes) -> None:
    chunks = [_ack(2) + bad + _ack(3)]
    lean, paho = read_acks(protocol, True, chunks), read_acks(protocol, False, chunks)
    assert lean == paho
    assert lean["errors"] == [MQTTErrorCode.MQTT_ERR_PROTOCOL]


@pytest.mark.parametrize("body", [b"", b"\x00"])
@pytest.mark.parametrize("after", [b"", b"\x05\x00"])
def test_a_puback_too_short_for_its_message_id_never_reads_the_next_packets_bytes(body: bytes, after: bytes) -> None:
    """An MQTT 5 PUBACK with a remaining length below 2 (no whole message id): paho's protocol error, as paho's
    reader gives. Read as a PUBACK, the next packet's bytes (here a reserved packet type 0x05 with length 0)
    made message 5 acknowledged and dropped from paho's queue, never sent again; at the end of the read, an
    IndexError out of the network thread's read."""
    chunks = [_ack(2) + _packet(PUBACK, body) + after]
    lean, paho = read_acks(V5, True, chunks), read_acks(V5, False, chunks)
    assert lean == paho
    assert lean["heard"] == [(2, 0, "on_publish")] and lean["errors"] == [MQTTErrorCode.MQTT_ERR_PROTOCOL]


def test_the_fast_path_skips_paho_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The common forms do not reach paho's handler; the others do."""
    handled: list[int] = []
    real = mqtt.Client._handle_pubackcomp

    def spy(self: mqtt.Client, cmd: str) -> MQTTErrorCode:
        handled.append(self._in_packet["command"])
        return real(self, cmd)  # type: ignore[arg-type]

    monkeypatch.setattr(mqtt.Client, "_handle_pubackcomp", spy)
    read_acks(V5, True, [acks(True)])
    assert handled == [0x40, 0x42]  # the one with properties, the one with flags


def test_with_paho_logging_on_every_acknowledgement_is_paho_own() -> None:
    c, heard, sock, _infos = _client(V5, True, 20)
    c.enable_logger()
    sock.chunks = [_ack(1, b"\x10")]
    c._packet_read()
    assert heard == [(1, 0x10, "on_publish")]  # through paho's on_publish (the same figures)


def test_a_failing_acknowledgement_handler_is_paho_own() -> None:
    c, _heard, sock, _infos = _client(V5, True, 20)

    def boom(mid: int, value: int) -> None:
        raise RuntimeError("handler bug")

    c._lean_acked = boom  # type: ignore[attr-defined]
    sock.chunks = [_ack(1)]
    with pytest.raises(RuntimeError):
        c._packet_read()
    c.suppress_exceptions = True
    sock.chunks, sock.at, sock.off = [_ack(2)], 0, 0
    assert c._packet_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert 2 not in c._out_messages and c._in_callback_mutex.acquire(blocking=False)


def test_an_mqtt_client_counts_the_acknowledgements() -> None:
    """MqttClient's acks (what wait_ack reads) from the fast path: the reason code's value by message id."""
    client = MqttClient(MqttSettings("127.0.0.1", 1, "u", "p", "acks-test"))
    c = client._client
    sock = ScriptedSocket([])
    c._sock = sock  # type: ignore[assignment]
    c._state = mqtt._ConnectionState.MQTT_CS_CONNECTED
    mids = [client.publish("tsc/v1/city/J1/plan", b"{}", qos=1) for _ in range(3)]
    assert client.pending() == 3
    sock.chunks = [_ack(mids[0]) + _ack(mids[1], b"\x10") + _ack(mids[2], b"\x87")]
    while c._packet_read() != AGAIN or not sock.done:
        pass
    assert [client.wait_ack(m, 0.0) for m in mids] == [0, 0x10, 0x87]
    assert client.pending() == 0

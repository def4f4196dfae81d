"""controller/adapters/paho_read.py: the same bytes read by paho's own packet reader and by the lean
one give the same messages (every field of each MQTTMessage), the same packets sent back (PUBACK,
PUBREC, PUBCOMP) and the same errors, however the bytes are split across reads."""

from __future__ import annotations

import logging
import random

import paho.mqtt
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from controller.adapters import paho_read
from controller.adapters.mqtt import MqttClient, MqttSettings

V5, V311 = mqtt.MQTTv5, mqtt.MQTTv311
AGAIN = MQTTErrorCode.MQTT_ERR_AGAIN


class ScriptedSocket:
    """A non-blocking socket whose bytes arrive in `chunks`: a recv reads from the current chunk
    only; once it is spent the next recv says "would block" and the next chunk arrives."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = [c for c in chunks if c]
        self.at = 0
        self.off = 0
        self.recvs = 0
        self.sent = b""

    @property
    def done(self) -> bool:
        return self.at >= len(self.chunks)

    def recv(self, n: int) -> bytes:
        self.recvs += 1
        if self.done:
            raise BlockingIOError
        chunk = self.chunks[self.at]
        if self.off >= len(chunk):
            self.at, self.off = self.at + 1, 0
            raise BlockingIOError
        data = chunk[self.off : self.off + n]
        self.off += len(data)
        return data

    def send(self, data: bytes) -> int:
        self.sent += bytes(data)
        return len(data)

    def close(self) -> None:
        pass


def _vbi(n: int) -> bytes:
    out = b""
    while True:
        n, byte = divmod(n, 128)
        out += bytes([byte | (128 if n else 0)])
        if not n:
            return out


def _packet(command: int, body: bytes) -> bytes:
    return bytes([command]) + _vbi(len(body)) + body


def _publish(topic: bytes, payload: bytes, v5: bool, qos: int = 0, mid: int = 0, flags: int = 0, props=None) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    if v5:
        body += props.pack() if props is not None else b"\x00"
    return _packet(0x30 | (qos << 1) | flags, body + payload)


def _props() -> Properties:
    p = Properties(PacketTypes.PUBLISH)
    p.ContentType = "application/json"
    p.UserProperty = ("site", "city")
    return p


def stream(v5: bool) -> bytes:
    """Every kind of packet a subscriber of the contract reads, with the feeds' QoS 0 PUBLISH the most."""
    t = b"tsc/v1/city/J1/detectors"
    out = [_publish(t, b'{"v":1,"k":%d}' % k, v5) for k in range(5)]
    out += [
        _publish("tsc/v1/city/Jé%2F/detectors".encode(), b"", v5),  # UTF-8 topic, empty payload
        _publish(b"tsc/v1/city/J2/status", b"retained", v5, flags=0x01),
        _publish(t, b"dup", v5, flags=0x08),
        _publish(t, b"qos1", v5, qos=1, mid=7),
        _publish(t, b"qos2", v5, qos=2, mid=8),
        _packet(0x62, b"\x00\x08"),  # PUBREL of mid 8: the QoS 2 message delivered now
        _publish(t, b"x" * 200_000, v5),  # longer than a read's buffer (a 3-byte remaining length)
        _packet(0xD0, b""),  # PINGRESP
        _packet(0x90, b"\x00\x05" + (b"\x00" if v5 else b"") + b"\x00\x01"),  # SUBACK
        _packet(0x40, b"\x00\x09"),  # PUBACK of a mid not in flight
    ]
    if v5:
        out.append(_publish(t, b"with properties", v5, props=_props()))
        out.append(_publish(t, b"qos1 with properties", v5, qos=1, mid=10, props=_props()))
    out += [_publish(t, b'{"v":1,"last":%d}' % k, v5) for k in range(3)]
    return b"".join(out)


def _client(protocol: int, lean: bool) -> tuple[mqtt.Client, list]:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="reader-test", protocol=protocol)
    got: list = []
    c.on_message = lambda client, userdata, message: got.append(message)
    c.on_subscribe = lambda client, userdata, mid, codes, props: got.append(("suback", mid, [str(r) for r in codes]))
    if lean:
        assert paho_read.install(c)
    return c, got


def _fields(m) -> tuple:
    if isinstance(m, tuple):
        return m
    props = m.properties
    return (
        type(m),
        m._topic,
        type(m._topic),
        m.payload,
        type(m.payload),
        m.qos,
        m.retain,
        m.dup,
        m.mid,
        m.state,
        (m.info.mid, m.info.rc, m.info._published, type(m.info)),
        None if props is None else (type(props), props.packetType, props.json(), props.pack()),
        type(m.timestamp),
    )


def read_to_end(c: mqtt.Client, sock: ScriptedSocket, spare_reads: int) -> list[int]:
    """The client's reads, as its loop makes them, until the socket's script is done (or
    10 x its chunks + `spare_reads` reads): the first error's code, or none."""
    for _ in range(10 * len(sock.chunks) + spare_reads):
        rc = c._packet_read()
        if rc > 0:
            return [rc]
        if rc == AGAIN and sock.done:
            break
    return []


def read_all(protocol: int, lean: bool, chunks: list[bytes], ping_t: float = 0.0, setup=None) -> dict:
    """Everything a client hands its callbacks and sends back for `chunks`, read as its loop does;
    setup(client) first, when given."""
    c, got = _client(protocol, lean)
    if setup is not None:
        setup(c)
    sock = ScriptedSocket(chunks)
    c._sock = sock  # type: ignore[assignment]
    c._ping_t = ping_t
    c._last_bytes_received = -1.0
    errors = read_to_end(c, sock, 10_000)
    return {
        "messages": [_fields(m) for m in got],
        "sent": sock.sent,
        "errors": errors,
        "ping_t": c._ping_t,
        "heard": c._last_bytes_received > 0,
        "recvs": sock.recvs,
        "in_packet": c._in_packet["command"],
    }


def _splits(data: bytes, how: str) -> list[bytes]:
    if how == "whole":
        return [data]
    if how == "bytes":
        return [data[k : k + 1] for k in range(len(data))]
    rng = random.Random(how)
    out, k = [], 0
    while k < len(data):
        n = rng.randint(1, 3000)
        out.append(data[k : k + n])
        k += n
    return out


@pytest.mark.parametrize("protocol", [V5, V311])
@pytest.mark.parametrize("how", ["whole", "bytes", "seed1", "seed2", "seed3"])
def test_the_same_messages_and_replies_as_paho(protocol: int, how: str) -> None:
    chunks = _splits(stream(protocol == V5), how)
    own = read_all(protocol, False, chunks, ping_t=5.0)
    lean = read_all(protocol, True, chunks, ping_t=5.0)
    n = 16 if protocol == V5 else 14  # the publishes delivered (QoS 2 on its PUBREL), and the SUBACK
    assert len(own["messages"]) == n + 1 and own["errors"] == []
    for k, (a, b) in enumerate(zip(own["messages"], lean["messages"], strict=True)):
        assert a == b, k
    assert lean["sent"] == own["sent"] != b""  # PUBACK 7 (and 10), PUBREC 8, PUBCOMP 8, in order
    assert lean["errors"] == own["errors"]
    assert lean["ping_t"] == own["ping_t"] == 0  # the PINGRESP was read: the keepalive is satisfied
    assert lean["heard"] and own["heard"]
    assert lean["in_packet"] == own["in_packet"] == 0
    if how == "whole":
        assert lean["recvs"] < 10 < own["recvs"]


def test_retain_dup_and_qos_are_read_from_the_header() -> None:
    """A check that the comparison above sees these fields (they differ between the messages)."""
    msgs = read_all(V5, True, [stream(True)])["messages"]
    assert [m[6] for m in msgs[:8]] == [False] * 6 + [True, False]  # retain
    assert [m[7] for m in msgs[:8]] == [False] * 7 + [True]  # dup
    assert msgs[8][5] == 1 and msgs[8][8] == 7  # the QoS 1 message and its mid
    assert msgs[5][1] == "tsc/v1/city/Jé%2F/detectors".encode() and msgs[5][3] == b""
    assert msgs[10][3] == b"x" * 200_000
    assert msgs[-4][11][2] == {"ContentType": "application/json", "UserProperty": [("site", "city")]}


@pytest.mark.parametrize("protocol", [V5, V311])
def test_a_malformed_packet_is_the_same_error(protocol: int) -> None:
    """An empty topic (MQTT 3.1.1 forbids it), a topic longer than its packet, a remaining length
    over four bytes: paho's reader's error (MQTT_ERR_PROTOCOL), after the same messages."""
    good = _publish(b"a/b", b"1", protocol == V5)
    for bad in (_publish(b"", b"p", protocol == V5), _packet(0x30, b"\x00\x09ab"), b"\x30\xff\xff\xff\xff\x01"):
        chunks = [good + bad + good]
        own, lean = read_all(protocol, False, chunks), read_all(protocol, True, chunks)
        assert lean["messages"] == own["messages"]
        assert lean["errors"] == own["errors"]
    assert read_all(V311, True, [good + _publish(b"", b"p", False)])["errors"] == [MQTTErrorCode.MQTT_ERR_PROTOCOL]
    for cut in range(1, 6):  # a bad remaining length split across two reads
        chunks = [good + b"\x30\xff\xff\xff\xff\x01"[:cut], b"\x30\xff\xff\xff\xff\x01"[cut:] + good]
        own, lean = read_all(protocol, False, chunks), read_all(protocol, True, chunks)
        assert (lean["messages"], lean["errors"]) == (own["messages"], own["errors"]) != ([], [])


def test_a_partial_packet_of_a_replaced_socket_is_dropped() -> None:
    """Bytes of a lost connection are not read as the start of the next connection's packet."""
    c, got = _client(V5, True)
    whole = _publish(b"a/b", b"first", True)
    c._sock = ScriptedSocket([whole[:5]])  # type: ignore[assignment]
    assert c._packet_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert c._packet_read() == AGAIN and got == []
    c._sock = ScriptedSocket([_publish(b"c/d", b"second", True)])  # type: ignore[assignment]
    c._packet_read()
    assert [(m.topic, m.payload) for m in got] == [("c/d", b"second")]


def test_a_closed_socket_is_a_lost_connection() -> None:
    c, _ = _client(V5, True)

    class Closed(ScriptedSocket):
        def recv(self, n: int) -> bytes:
            return b""

    c._sock = Closed([])  # type: ignore[assignment]
    assert c._packet_read() == MQTTErrorCode.MQTT_ERR_CONN_LOST
    c._sock = None
    assert c._packet_read() == MQTTErrorCode.MQTT_ERR_CONN_LOST


def test_a_callback_that_closes_the_connection_stops_the_reading() -> None:
    """A message whose callback closes the connection (paho's disconnect drops `_sock`): the packets
    after it in the same read are not handed on (paho's reader reads one packet a call and stops with
    the socket), and the buffer goes with the socket."""
    c, got = _client(V5, True)

    def close_on_first(client, userdata, message) -> None:
        got.append(message)
        client._sock = None

    c.on_message = close_on_first
    two = _publish(b"a/b", b"first", True) + _publish(b"a/b", b"second", True)
    c._sock = ScriptedSocket([two])  # type: ignore[assignment]
    assert c._packet_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert [m.payload for m in got] == [b"first"] and c._lean_buf == b""


def test_with_paho_logging_on_its_debug_lines_are_paho_own(caplog: pytest.LogCaptureFixture) -> None:
    chunks = [stream(True)]
    lines = {}
    for lean in (False, True):
        c, got = _client(V5, lean)
        c.enable_logger(logging.getLogger(f"paho-test-{lean}"))
        c._sock = ScriptedSocket(chunks)  # type: ignore[assignment]
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            while c._packet_read() != AGAIN or not c._sock.done:  # type: ignore[union-attr]
                pass
        lines[lean] = ([r.getMessage() for r in caplog.records], [_fields(m)[1:4] for m in got])
    assert lines[True] == lines[False]
    assert any(m.startswith("Received PUBLISH") for m in lines[True][0])


def test_per_topic_callbacks_are_paho_own() -> None:
    """message_callback_add: paho's matcher picks the callback; on_message gets the rest."""
    seen: dict[bool, list] = {}
    for lean in (False, True):
        c, got = _client(V5, lean)
        status = "tsc/v1/city/+/status"
        c.message_callback_add(status, lambda client, userdata, m, got=got: got.append(("status", m.payload)))
        c._sock = ScriptedSocket([stream(True)])  # type: ignore[assignment]
        while c._packet_read() != AGAIN or not c._sock.done:  # type: ignore[union-attr]
            pass
        seen[lean] = [m if isinstance(m, tuple) else m.payload for m in got]
    assert seen[True] == seen[False]
    assert ("status", b"retained") in seen[True]


def test_a_callback_error_is_paho_own() -> None:
    """An exception in on_message: logged by paho's words and raised (suppress_exceptions off), or
    swallowed (on); the packets after it are still read by the next call."""
    for suppress in (False, True):
        c, got = _client(V5, True)
        c.suppress_exceptions = suppress

        def boom(client, userdata, message, got=got):
            got.append(message.payload)
            if message.payload == b"1":
                raise ValueError("handler bug")

        c.on_message = boom
        read_past_a_handler_bug(c, suppress)
        assert got == [b"0", b"1", b"2"]


def read_past_a_handler_bug(c: mqtt.Client, suppress: bool) -> None:
    """c reads three PUBLISHes (payloads b"0", b"1", b"2") whose handler raises ValueError("handler bug")
    at b"1": with `suppress` one call reads all three; without, the first call raises and the next reads on."""
    c._sock = ScriptedSocket([b"".join(_publish(b"a/b", b"%d" % k, True) for k in range(3))])  # type: ignore[assignment]
    if suppress:
        c._packet_read()
    else:
        with pytest.raises(ValueError, match="handler bug"):
            c._packet_read()
        c._packet_read()


def test_install_is_idempotent_and_version_gated(monkeypatch: pytest.MonkeyPatch) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=V5)
    assert paho_read.install(c) and paho_read.install(c)
    assert c._packet_read.__func__ is paho_read.lean_packet_read  # type: ignore[attr-defined]
    monkeypatch.setattr(paho.mqtt, "__version__", "2.1.0")
    other = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=V5)
    assert paho_read.install(other) is False
    assert "_packet_read" not in other.__dict__


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_an_mqtt_client_reads_with_it(protocol: str) -> None:
    client = MqttClient(MqttSettings("localhost", 1883, "u", "", "reader-test", protocol=protocol))
    assert "_packet_read" in client._client.__dict__


def statuses(v5: bool) -> bytes:
    """Roadside statuses as the field sends them (QoS 1, retained), among detector messages (QoS 0): message ids
    1 to 65,535 and 0, a redelivery (dup), an empty payload, and (MQTT 5) one with properties (paho's handler)."""
    out = []
    for k, mid in enumerate((1, 2, 65535, 0, 300)):
        out.append(_publish(b"tsc/v1/city/J%d/detectors" % k, b'{"v":1,"k":%d}' % k, v5))
        out.append(_publish(b"tsc/v1/city/J%d/status" % k, b'{"v":1,"s":%d}' % k, v5, qos=1, mid=mid, flags=0x01))
    out.append(_publish(b"tsc/v1/city/J1/status", b'{"v":1,"s":1}', v5, qos=1, mid=1, flags=0x09))  # dup, retained
    out.append(_publish(b"tsc/v1/city/J9/status", b"", v5, qos=1, mid=9))
    if v5:
        out.append(_publish(b"tsc/v1/city/J8/status", b"props", v5, qos=1, mid=8, props=_props()))
    return b"".join(out)


@pytest.mark.parametrize("protocol", [V5, V311])
@pytest.mark.parametrize("how", ["whole", "bytes", "seed1"])
def test_qos1_messages_the_same_as_paho_and_acknowledged_the_same(protocol: int, how: str) -> None:
    """The QoS 1 fast path (session 51): every field of each message and every PUBACK sent back, in order, as
    paho's own reader and handler give them, however the bytes are split."""
    chunks = _splits(statuses(protocol == V5), how)
    own, lean = read_all(protocol, False, chunks), read_all(protocol, True, chunks)
    n_qos1 = 8 if protocol == V5 else 7
    assert [m[5] for m in own["messages"]].count(1) == n_qos1 and own["errors"] == []
    for k, (a, b) in enumerate(zip(own["messages"], lean["messages"], strict=True)):
        assert a == b, k
    assert lean["sent"] == own["sent"] and len(own["sent"]) == 4 * n_qos1  # a PUBACK (4 bytes) each
    assert lean["errors"] == own["errors"] and lean["in_packet"] == own["in_packet"] == 0


def test_qos1_statuses_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A status of the contract's form (QoS 1, no properties) no longer goes through paho's handler: of the
    MQTT 5 stream's 13 publishes, only the one with properties does."""
    handled: list[int] = []
    paho_handle = paho_read._handle

    def counted(self, command, *args):
        handled.append(command)
        return paho_handle(self, command, *args)

    monkeypatch.setattr(paho_read, "_handle", counted)
    lean = read_all(V5, True, [statuses(True)])
    assert len(lean["messages"]) == 13 and handled == [0x32]


def _read_statuses(raise_on: bytes) -> tuple:
    """statuses(True) read to the end by the lean reader, on_message raising on the payload `raise_on`: the
    payloads handed over and the bytes sent back."""
    c, _ = _client(V5, True)
    got: list = []

    def on_message(client, userdata, message) -> None:
        got.append(message.payload)
        if message.payload == raise_on:
            raise ValueError("handler bug")

    c.on_message = on_message
    sock = ScriptedSocket([statuses(True)])
    c._sock = sock  # type: ignore[assignment]
    for _ in range(50):
        try:
            if c._packet_read() == AGAIN and sock.done:
                break
        except ValueError:
            continue
    return got, sock.sent


def test_qos1_by_hand_or_with_a_failing_callback() -> None:
    """manual_ack: the messages, and no PUBACK sent (the application acks), as paho. A callback that raises, with
    suppress_exceptions: logged, and the message acknowledged, as paho. Without: the message is not acknowledged
    (paho's handler raises before its PUBACK too) and the reading goes on with the next packets, as for a QoS 0
    message (paho's own reader would hand the same packet to the callback again, and again)."""
    status2 = b'{"v":1,"s":2}'

    def manual(c) -> None:
        c.manual_ack_set(True)

    def suppressed(c) -> None:
        c.suppress_exceptions = True
        deliver = c.on_message

        def on_message(client, userdata, message) -> None:
            deliver(client, userdata, message)
            if message.payload == status2:
                raise ValueError("handler bug")

        c.on_message = on_message

    for setup in (manual, suppressed):
        own, lean = (read_all(V5, lean, [statuses(True)], setup=setup) for lean in (False, True))
        assert lean["messages"] == own["messages"] and lean["sent"] == own["sent"], setup
        assert len(lean["messages"]) == 13 and (lean["sent"] == b"") == (setup is manual), setup
    got, sent = _read_statuses(raise_on=status2)
    every, acked = _read_statuses(raise_on=b"none")
    assert got == every and len(got) == 13
    assert sent == acked.replace(b"\x40\x02\xff\xff", b"", 1) != acked  # all but its PUBACK (id 65,535)


@pytest.mark.parametrize("protocol", [V5, V311])
def test_a_qos1_packet_without_room_for_its_id_is_paho_own(protocol: int) -> None:
    """A QoS 1 PUBLISH whose topic fills its packet (no message id): paho's handler reads it, with its outcome."""
    bad = _packet(0x32, b"\x00\x03a/b")
    outcome = {}
    for lean in (False, True):
        c, got = _client(protocol, lean)
        c._sock = ScriptedSocket([bad])  # type: ignore[assignment]
        try:
            outcome[lean] = ("rc", c._packet_read(), len(got))
        except Exception as exc:  # whatever paho raises, the lean reader must raise the same
            outcome[lean] = ("raised", type(exc), len(got))
    assert outcome[True] == outcome[False]


@pytest.mark.parametrize("protocol", [V5, V311])
def test_a_failed_puback_is_the_reads_outcome_as_paho(protocol: int) -> None:
    """The PUBACK's own code (the connection gone as it is sent, say) is what the read returns, as paho's handler
    returns it, so the caller drops the connection (R, session 51: a fast path that dropped the code passed)."""
    status = _publish(b"tsc/v1/city/J1/status", b'{"v":1}', protocol == V5, qos=1, mid=7)
    outcome = {}
    for lean in (False, True):
        c, got = _client(protocol, lean)
        c._send_puback = lambda mid: MQTTErrorCode.MQTT_ERR_NO_CONN  # type: ignore[method-assign]
        c._sock = ScriptedSocket([status])  # type: ignore[assignment]
        outcome[lean] = (c._packet_read(), len(got))
    assert outcome[True] == outcome[False] == (MQTTErrorCode.MQTT_ERR_NO_CONN, 1)

"""paho-mqtt's packet reader, buffered, with a fast path for QoS 0 and 1 PUBLISH, exactly.

paho 2.2 reads each packet with several `recv` calls on the socket (its command byte, each byte
of its remaining length, then its body), and its threaded loop (`loop_start`) runs a `select`
before each packet read: a subscriber that receives 2,500 messages a second makes about five
system calls for each, and builds a `PublishPacket`, a logging string and its `MQTTMessage`
through `_handle_publish`, then asks its matcher of per-topic callbacks, empty, for each one.
`lean_packet_read` replaces the client's `_packet_read` (on the instance, by `install`): when no
whole packet waits in its buffer, one `recv` of up to READ_BYTES (more when a longer packet is
under way); then every whole packet in the buffer is cut from it and handled in order; the bytes
of a packet not yet whole stay buffered until the next read (the socket says when they come).

A QoS 0 or QoS 1 PUBLISH with a topic of 1+ bytes (and, QoS 1, its message id) within the packet
and, with MQTT 5, no properties (the feeds of the contract: detector messages at QoS 0, roadside
statuses at QoS 1) becomes here the same `MQTTMessage` paho's `_handle_publish` builds (every
slot: topic, payload, qos, retain, dup, mid, state, info, properties, timestamp), handed over as
paho's `_handle_on_message` does: with no per-topic callback (`message_callback_add`) on_message
is called as paho calls it (under its locks, its error logged and raised unless
`suppress_exceptions`); with one, paho's own `_handle_on_message`. A QoS 1 message is then
acknowledged as paho's handler does it: paho's own `_send_puback`, unless `manual_ack`. Every
other packet (QoS 2, with properties, CONNACK, SUBACK, PUBACK, PUBREL, PINGRESP, a malformed
one) is put where paho's reader puts it (`_in_packet`) and handled by paho's `_packet_handle`:
its callbacks, acknowledgements and errors are paho's. Reading stops at the first packet whose
handling fails (the caller drops the connection) or whose callback closed or replaced the socket
(the rest of the buffer goes with the socket); what a raising callback leaves is handled by the
next call.

A client may also be given a raw handler (`install(client, raw)`, MqttClient does): then such a
PUBLISH is not built into an `MQTTMessage` at all, and with no per-topic callback the handler is
called with the topic's bytes and the payload (under paho's `_in_callback_mutex`, as on_message
is; its error logged and raised unless `suppress_exceptions`), in the same order among the other
packets; a QoS 1 message is then acknowledged as above. Its topic, payload and order are the
message's; its flags (retain, dup, QoS, mid) are not handed on (building an MQTTMessage, its
MQTTMessageInfo with a Condition and a Properties, and decoding the topic, was most of a
subscriber's network thread's work per detector message: BENCHMARKS.md).

A client may also be given an acknowledgement handler (`install(client, raw, acked)`, MqttClient
does): then a PUBACK of the common form (its message id alone; with MQTT 5 also a reason code paho
reads, and at most an empty property list) for a message the client still keeps is handled as paho's
handler does it, except that acked(mid, the reason code's value) is called where paho calls
on_publish with a ReasonCode and a Properties it builds for each (two ReasonCodes and a Properties
per PUBACK in paho's decoder: most of a controller's network thread's work per QoS 1 plan,
BENCHMARKS.md); the message is then dropped, marked published and its place in flight given back,
paho's walk of the queued messages run, as paho does. Any other PUBACK goes to paho's handler.

What changes is only when the reads happen: a burst is handled in one call, and the time of the
last bytes received (the keepalive's) is taken once per `recv`, not once per packet. With paho's
logging on (`on_log` or `enable_logger`) every packet goes through paho's handler (its debug lines
are paho's). `install` acts only on the paho releases this was read against (paho_lean.EXACT_FOR,
2.2: the reader, `_in_packet`, `_packet_handle`, `_handle_on_message` and the matcher's root);
elsewhere the client keeps paho's reader. TLS sockets are read the same way (paho's `_sock_recv`).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import paho.mqtt
from paho.mqtt import _packet
from paho.mqtt import client as paho_client
from paho.mqtt.client import MQTTMessage, MQTTMessageInfo, MQTTv5
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from controller.adapters.paho_lean import EXACT_FOR

READ_BYTES = 65536  # one recv asks for this much (or the rest of a longer packet)
_PUBLISH = 0x30
_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS
_AGAIN = MQTTErrorCode.MQTT_ERR_AGAIN
_CONN_LOST = MQTTErrorCode.MQTT_ERR_CONN_LOST
_PROTOCOL = MQTTErrorCode.MQTT_ERR_PROTOCOL
_PUBACK = 0x40
_new_message = object.__new__
RawHandler = Callable[[bytes, bytes], None]  # (topic's bytes, payload): a PUBLISH without its MQTTMessage
AckHandler = Callable[[int, int], None]  # (message id, reason code's value): a PUBACK without its objects


def _puback_values() -> dict[int, int]:
    """Reason code byte -> the value paho's decoder gives a PUBACK carrying it (ReasonCode.unpack), for every
    byte paho reads without error in a PUBACK; the others are left to paho's handler."""
    values = {}
    for byte in range(256):
        code = ReasonCode(PacketTypes.PUBACK)
        try:
            code.unpack(bytes([byte]))
        except (KeyError, ValueError):
            continue
        values[byte] = code.value
    return values


_PUBACK_VALUES = _puback_values()


def _empty_in_packet() -> Any:
    """paho's `_in_packet` between packets (as its reader resets it)."""
    return {
        "command": 0,
        "have_remaining": 0,
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": 0,
        "packet": bytearray(b""),
        "to_process": 0,
        "pos": 0,
    }


def exact_here() -> bool:
    """Whether this paho is a release the reader was read against (paho_lean.EXACT_FOR)."""
    return str(getattr(paho.mqtt, "__version__", "")).startswith(EXACT_FOR)


def install(client: paho_client.Client, raw: RawHandler | None = None, acked: AckHandler | None = None) -> bool:
    """The client reads with lean_packet_read from now on (idempotent); raw: its fast path's
    PUBLISHes go to raw(topic's bytes, payload) instead of on_message (the module's docstring),
    None: to on_message; acked: its fast path's PUBACKs call acked(mid, reason code's value) instead of
    on_publish (the module's docstring), None: every PUBACK read by paho's handler. Only on a paho release of
    EXACT_FOR: elsewhere nothing changes (and on_message gets every message). Returns whether it is installed."""
    if not exact_here():
        return False
    client._lean_raw = raw  # type: ignore[attr-defined]
    client._lean_acked = acked  # type: ignore[attr-defined]
    if getattr(client, "_lean_read", False):
        return True
    client._lean_buf = b""  # type: ignore[attr-defined]  # bytes read and not yet handled
    client._lean_sock = None  # type: ignore[attr-defined]  # the socket they came from
    client._packet_read = types.MethodType(lean_packet_read, client)  # type: ignore[method-assign]
    client._lean_read = True  # type: ignore[attr-defined]
    return True


def _header(buf: bytes, pos: int, end: int) -> tuple[int, int, int, list[int]] | None:
    """(body start, body length, multiplier, length bytes) of the packet at pos, None while its
    fixed header is not whole; body start -1 on a remaining length longer than 4 bytes."""
    k, length, mult = pos + 1, 0, 1
    count: list[int] = []
    while True:
        if k >= end:
            return None
        byte = buf[k]
        count.append(byte)
        if len(count) > 4:
            return -1, 0, mult, count
        length += (byte & 127) * mult
        mult *= 128
        k += 1
        if not byte & 128:
            return k, length, mult, count


def lean_packet_read(self: paho_client.Client) -> MQTTErrorCode:
    """paho's `_packet_read`, buffered (see the module's docstring); returns what paho's does:
    MQTT_ERR_AGAIN when the socket has nothing to read, MQTT_ERR_CONN_LOST when it is closed or
    fails, else the first failing packet's code or MQTT_ERR_SUCCESS."""
    if self._in_packet["command"] != 0:  # a packet paho's own reader began: it ends it
        return paho_client.Client._packet_read(self)
    sock = self._sock
    buf: bytes = self._lean_buf  # type: ignore[attr-defined]
    if sock is None or sock is not self._lean_sock:  # type: ignore[attr-defined]
        buf = b""  # bytes of another connection are not this one's
        self._lean_sock = sock  # type: ignore[attr-defined]
    head = _header(buf, 0, len(buf)) if len(buf) > 1 else None
    if head is not None and head[0] < 0:
        return _PROTOCOL  # paho's reader: a remaining length over 4 bytes (the caller drops the connection)
    if head is None or head[0] + head[1] > len(buf):  # no whole packet waits: read
        want = READ_BYTES if head is None else max(READ_BYTES, head[0] + head[1] - len(buf))
        try:
            data = self._sock_recv(want)
        except BlockingIOError:
            self._lean_buf = buf  # type: ignore[attr-defined]
            return _AGAIN
        except TimeoutError as err:
            self._easy_log(paho_client.MQTT_LOG_ERR, "timeout on socket: %s", err)
            return _CONN_LOST
        except OSError as err:
            self._easy_log(paho_client.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return _CONN_LOST
        if not data:
            return _CONN_LOST
        with self._msgtime_mutex:
            self._last_bytes_received = paho_client.time_func()
        buf = buf + data if buf else data
    end, pos, rc = len(buf), 0, _SUCCESS
    fast = self.on_log is None and self._logger is None
    v5 = self._protocol == MQTTv5
    acked = self._lean_acked if fast else None  # type: ignore[attr-defined]
    try:
        while end - pos >= 2:
            head = _header(buf, pos, end)
            if head is None:
                break
            start, length, mult, count = head
            if start < 0:
                return _PROTOCOL  # paho's reader: a remaining length over 4 bytes
            stop = start + length
            if stop > end:
                break
            command = buf[pos]
            pos = stop
            done = _fast(self, command, buf, start, stop, v5, acked) if fast else None
            rc = _handle(self, command, buf[start:stop], length, mult, count) if done is None else done
            if rc > 0:  # the caller drops the connection
                break
            rc = _SUCCESS  # MQTT_ERR_AGAIN from a handler: paho's next read goes on, so does this one
            if self._sock is not sock:  # a callback closed or replaced the connection
                break
    finally:  # what is left, also when a callback raised (paho's suppress_exceptions off)
        self._lean_buf = buf[pos:] if self._sock is sock else b""  # type: ignore[attr-defined]
    return rc


def _fast(
    self: paho_client.Client, command: int, buf: bytes, start: int, stop: int, v5: bool, acked: AckHandler | None
) -> MQTTErrorCode | None:
    """The packet at buf[start:stop] on a fast path (a QoS 0 or 1 PUBLISH; a PUBACK, given `acked`): what paho's
    handler returns; None, having done nothing, for any other (paho's handler reads it)."""
    if command & 0xF4 == _PUBLISH:
        return _fast_publish(self, command, buf, start, stop, v5)
    if command == _PUBACK and acked is not None:
        return _fast_puback(self, acked, buf, start, stop - start, v5)
    return None


def _handle(
    self: paho_client.Client, command: int, body: bytes, length: int, mult: int, count: list[int]
) -> MQTTErrorCode:
    """A whole packet handled by paho's own handler, from where paho's reader leaves it."""
    self._in_packet = {
        "command": command,
        "have_remaining": 1,
        "remaining_count": count,
        "remaining_mult": mult,
        "remaining_length": length,
        "packet": bytearray(body),
        "to_process": 0,
        "pos": 0,
    }
    try:
        rc = self._packet_handle()
    except MalformedPacket as exc:
        self._easy_log(paho_client.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
        rc = _PROTOCOL
    self._in_packet = _empty_in_packet()
    return rc


def _fast_publish(
    self: paho_client.Client, command: int, buf: bytes, start: int, stop: int, v5: bool
) -> MQTTErrorCode | None:
    """A QoS 0 or 1 PUBLISH (command & 0xF4 == 0x30) handed to on_message as paho's _handle_publish
    does, when it is of the common form: a topic of 1+ bytes and (QoS 1) its message id within the
    packet, and with MQTT 5 an empty property list (its length byte 0); then, for QoS 1, its PUBACK
    sent by paho's own `_send_puback` unless the client acknowledges by hand (`manual_ack`), as
    paho's handler does after on_message. Returns what paho's handler returns (success, or the
    PUBACK's code); None, having done nothing, for any other form (paho's handler reads it). QoS 1
    too, because paho's own path made a roadside status (QoS 1, retained) cost several times a
    detector message (BENCHMARKS.md, issue 12)."""
    if stop - start < 2:
        return None
    topic_end = start + 2 + ((buf[start] << 8) | buf[start + 1])
    if topic_end == start + 2 or topic_end > stop:
        return None
    qos = (command >> 1) & 1
    payload_at = topic_end + 2 * qos
    if payload_at > stop:  # no room for the message id: paho's handler says what that is
        return None
    mid = (buf[topic_end] << 8) | buf[topic_end + 1] if qos else 0
    if v5:
        if payload_at >= stop or buf[payload_at] != 0:
            return None
        payload_at += 1
    raw = getattr(self, "_lean_raw", None)
    if raw is not None and not self._on_message_filtered._root._children:
        _deliver_raw(self, raw, buf[start + 2 : topic_end], buf[payload_at:stop])
    else:
        _deliver(self, _message(command, buf, start, topic_end, payload_at, stop, mid, v5))
    if not qos or self._manual_ack:
        return _SUCCESS
    return self._send_puback(mid)


def _fast_puback(
    self: paho_client.Client, acked: AckHandler, buf: bytes, start: int, length: int, v5: bool
) -> MQTTErrorCode | None:
    """A PUBACK (command 0x40) handled as paho's _handle_pubackcomp and _do_on_publish handle it, when it
    is of the common form: its message id alone, or with MQTT 5 also a reason code paho reads (and at most
    an empty property list: its length byte 0). Its message still kept (`_out_messages`): acked(mid, the
    reason code's value) where paho calls on_publish with a ReasonCode and a Properties (under its locks,
    its error logged and raised unless `suppress_exceptions`), then the message dropped, its info marked
    published, its in-flight count taken back and paho's walk of the queued messages (`_update_inflight`),
    as paho does; for a message no longer kept nothing. Returns what paho's handler returns; None, having
    done nothing, for any other form (paho's handler reads it). A controller's plans are QoS 1, one PUBACK
    each: paho's decoder built two ReasonCodes and a Properties for each (BENCHMARKS.md, issue 12)."""
    if length == 2:
        value = 0
    elif not v5 or length < 2 or length > 4 or (length == 4 and buf[start + 3] != 0):
        return None
    else:
        got = _PUBACK_VALUES.get(buf[start + 2])
        if got is None:
            return None
        value = got
    mid = (buf[start] << 8) | buf[start + 1]
    with self._out_message_mutex:
        if mid not in self._out_messages:
            return _SUCCESS
        _called(self, "on_publish", acked, mid, value)
        message = self._out_messages.pop(mid)
        message.info._set_as_published()
        if message.qos > 0:
            self._inflight_messages -= 1
            if self._max_inflight_messages > 0:
                return self._update_inflight()
    return _SUCCESS


def _message(
    command: int, buf: bytes, start: int, topic_end: int, payload_at: int, stop: int, mid: int, v5: bool
) -> MQTTMessage:
    """The MQTTMessage paho's _handle_publish builds of the PUBLISH at buf[start:stop]."""
    qos = (command >> 1) & 1
    message = _new_message(MQTTMessage)  # the fields paho's __init__ and _handle_publish set, once each
    message.timestamp = paho_client.time_func()
    message.state = paho_client.mqtt_ms_invalid
    message.dup = (command & 0x08) != 0
    message.mid = mid
    message._topic = buf[start + 2 : topic_end]
    message.payload = buf[payload_at:stop]
    message.qos = qos
    message.retain = (command & 0x01) != 0
    message.info = MQTTMessageInfo(mid)
    message.properties = _packet.Properties(PacketTypes.PUBLISH) if v5 else None  # type: ignore[attr-defined,no-untyped-call]
    return message


def _deliver_raw(self: paho_client.Client, raw: RawHandler, topic: bytes, payload: bytes) -> None:
    """A PUBLISH handed to the raw handler, as _deliver hands on_message its message (_called)."""
    _called(self, "on_message", raw, topic, payload)


def _called(self: paho_client.Client, name: str, callback: Callable[..., object], *args: object) -> None:
    """callback(*args) as paho calls its user callback `name`: under `_in_callback_mutex`, its error
    logged ("Caught exception in NAME: ...") and raised unless `suppress_exceptions`."""
    with self._in_callback_mutex:
        try:
            callback(*args)
        except Exception as err:
            self._easy_log(paho_client.MQTT_LOG_ERR, "Caught exception in %s: %s", name, err)
            if not self.suppress_exceptions:
                raise


def _deliver(self: paho_client.Client, message: MQTTMessage) -> None:
    """paho's _handle_on_message: with no per-topic callbacks (message_callback_add), whose
    matcher finds nothing for any topic then, on_message called as it calls it; else paho's own."""
    with self._callback_mutex:
        filtered = bool(self._on_message_filtered._root._children)
        on_message = self.on_message
    if filtered:
        self._handle_on_message(message)
        return
    if on_message:
        _called(self, "on_message", on_message, self, self._userdata, message)

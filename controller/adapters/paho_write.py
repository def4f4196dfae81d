"""paho-mqtt's packet writer, gathered: the packets queued on a connection go out in one `send`, exactly.

paho 2.2 writes every packet with a `send` of its own, and, with no network thread and no external
loop registered, writes each packet as it is queued (`_packet_queue` calls `loop_write`). A lockstep
replay's pumped connections (controller/adapters/mqtt_pump.py) queue several packets in a row: the
controller a tick's plans and its `ticked`, the clock its detector pack and clock message, a burst
read its PUBACKs. On loopback each `send` is a trip through the kernel's TCP stack that also wakes
the broker: about 21,000 of them in a city run of 900 s (BENCHMARKS.md, issue 12, S session 62).

`install(client)` does two things, on the paho releases this was read against only (EXACT_FOR, 2.2:
`_packet_queue`, `_packet_write`, `_sock_send`; elsewhere the client keeps paho's writer):
- it registers `on_socket_register_write` (paho's public hook for an external event loop): paho then
  queues each packet instead of writing it at once, and calls the hook when a packet comes to an
  empty queue; the pump writes such a connection's queue at the start of its next round (and, as
  before, after a read, and when its poll finds the socket writable while bytes still wait);
- `gathered_packet_write` replaces the client's `_packet_write`: the bytes of the packets queued, up
  to and including a DISCONNECT and at most GATHER_BYTES (at least one packet), are joined and sent
  with one call of paho's own `_sock_send`; then paho's own `_packet_write` walks the queue as it
  always does, its `_sock_send` answering from what that one call took: each packet whose bytes all
  went is done (a QoS 0 PUBLISH's `on_publish` and its info marked published, a DISCONNECT closing
  the socket, all paho's code), a packet cut short keeps its position and waits at the head of the
  queue, as after a full socket, and so does any packet queued after the gathering. A `send` that
  fails or would block fails for the first packet, as paho's own first `send` would.

What changes is only when the bytes are written and in how many calls: the same bytes in the same
order on each connection, each packet's completion handled by paho. A message reaches the broker
when its thread next runs the pump, not when it is published.
"""

from __future__ import annotations

import types
from collections.abc import Callable

from paho.mqtt import client as paho_client
from paho.mqtt.enums import MQTTErrorCode

from controller.adapters.paho_read import exact_here  # the same releases (paho_lean.EXACT_FOR)

GATHER_BYTES = 256 * 1024  # one send takes at most this much (a packed second's detectors: one pack)
_DISCONNECT = 0xE0
_paho_write = paho_client.Client._packet_write
_paho_send = paho_client.Client._sock_send


def install(client: paho_client.Client, queued: Callable[[], None]) -> bool:
    """The client queues its packets and writes each queue in one `send` from now on (idempotent):
    for a client served by a pump only (the pump writes the queue; a client with a network thread
    or none must not be given this). queued(): called when a packet is queued on an empty queue
    (paho's hook), so that the pump writes it in its next round. Only on a paho release of
    EXACT_FOR: elsewhere nothing changes. Returns whether it is installed."""
    if not exact_here():
        return False
    if getattr(client, "_gathered", False):
        return True
    client.on_socket_register_write = lambda _client, _userdata, _sock: queued()
    client._packet_write = types.MethodType(gathered_packet_write, client)  # type: ignore[method-assign]
    client._gathered = True  # type: ignore[attr-defined]
    return True


def gathered_packet_write(self: paho_client.Client) -> MQTTErrorCode:
    """paho's `_packet_write` with one `send` for the packets queued (the module's docstring); returns
    what paho's returns."""
    queue = self._out_packet
    if len(queue) < 2:
        return _paho_write(self)
    parts: list[bytes | bytearray] = []
    size = 0
    for packet in queue:
        part = packet["packet"][packet["pos"] :]
        parts.append(part)
        size += len(part)
        if packet["command"] & 0xF0 == _DISCONNECT or size >= GATHER_BYTES:
            break
    taken = _Taken(self, b"".join(parts))
    self._sock_send = taken.send  # type: ignore[method-assign]
    try:
        return _paho_write(self)
    finally:
        del self._sock_send  # paho's own again


class _Taken:
    """What paho's walk of the queue hears from `_sock_send`: the first call sends the gathered bytes
    (paho's `_sock_send`: its errors are the first packet's), the next ones take their share of what
    went; once it is all taken, a packet would block (it waits at the queue's head)."""

    def __init__(self, client: paho_client.Client, data: bytes) -> None:
        self.client, self.data = client, data
        self.left: int | None = None  # bytes sent and not yet taken by a packet; None before the send

    def send(self, buf: bytes | bytearray) -> int:
        if self.left is None:
            self.left = _paho_send(self.client, self.data)
            if self.left <= 0:
                return self.left  # as paho's own send of nothing: the walk stops
        if self.left <= 0:
            raise BlockingIOError
        n = min(len(buf), self.left)
        self.left -= n
        return n

"""paho-mqtt's packet writer, gathered: the packets queued on a connection go out in one `send`, exactly.

paho 2.2 writes every packet with a `send` of its own, and, with no network thread and no external
loop registered, writes each packet as it is queued (`_packet_queue` calls `loop_write`). A lockstep
replay's pumped connections (controller/adapters/mqtt_pump.py) queue several packets in a row: the
controller a tick's plans and its `ticked`, the clock its detector pack and clock message, a burst
read its PUBACKs. On loopback each `send` is a trip through the kernel's TCP stack that also wakes
the broker: about 21,000 of them in a city run of 900 s (BENCHMARKS.md, issue 12, S session 62).

`install(client)` does two things, on the paho releases this was read against only (EXACT_FOR, 2.2:
`_packet_queue`, `_packet_write`, `_sock_send`; elsewhere the client keeps paho's writer):
- for a pumped client it registers `on_socket_register_write` (paho's public hook for an external event loop): paho then
  queues each packet instead of writing it at once, and calls the hook when a packet comes to an
  empty queue; the pump writes such a connection's queue at the start of its next round (also what
  a read queued: a burst's PUBACKs go with the connection's next packets), and after a read when its
  poll finds the socket writable while bytes still wait;
- `gathered_packet_write` replaces the client's `_packet_write`: the bytes of the packets queued, up
  to and including a DISCONNECT and at most GATHER_BYTES (at least one packet), are joined and sent
  with one call of paho's own `_sock_send`; then paho's own `_packet_write` walks the queue as it
  always does, its `_sock_send` answering from what that one call took: each packet whose bytes all
  went is done (a QoS 0 PUBLISH's `on_publish` and its info marked published, a DISCONNECT closing
  the socket, all paho's code), a packet cut short keeps its position and waits at the head of the
  queue, as after a full socket, and so does any packet queued after the gathering. A `send` that
  fails or would block fails for the first packet, as paho's own first `send` would.

A client with its own network thread (`install(client, None)`: every MqttClient without a pump) already
has each packet queued and its thread woken to write the queue; only the writer is replaced, so a
live controller's tick of plans (QoS 1, published one after another by the tick's thread) goes out in
a few sends, not one each (BENCHMARKS.md, issue 12, S session 63). The walk takes a copy of the queue
(made in C, whole), since the publishing thread may queue more meanwhile: those wait for the next write.

What changes is only when the bytes are written and in how many calls: the same bytes in the same
order on each connection, each packet's completion handled by paho. A message reaches the broker
when its thread next runs the pump, not when it is published.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator

from paho.mqtt import client as paho_client
from paho.mqtt.enums import MQTTErrorCode

from controller.adapters.paho_read import exact_here  # the same releases (paho_lean.EXACT_FOR)

GATHER_BYTES = 256 * 1024  # one send takes at most this much (a packed second's detectors: one pack)
_DISCONNECT = 0xE0
_paho_write = paho_client.Client._packet_write
_paho_send = paho_client.Client._sock_send


def install(client: paho_client.Client, queued: Callable[[], None] | None) -> bool:
    """The client writes each queue in one `send` from now on (idempotent). queued: for a client
    served by a pump (the pump writes the queue; a client without a network thread or a pump must not
    be given this): it queues its packets, and queued() is called when a packet is queued on an
    empty queue (paho's hook), so that the pump writes it in its next round. None: for a client with
    its own network thread (paho's loop_start), which queues every packet anyway and writes the queue
    when woken: only the writer is replaced. Only on a paho release of EXACT_FOR: elsewhere nothing
    changes. Returns whether it is installed."""
    if not exact_here():
        return False
    if getattr(client, "_gathered", False):
        return True
    if queued is not None:
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
    for packet in queue.copy():  # (in C, whole: another thread may queue while this one writes)
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


class _HeldWake:
    """Stands in for paho's wake-up socket (`_sockpairW`) while a thread publishes a run of packets: a wake
    asked of it is noted, not sent (held_wakes sends one at the end)."""

    def __init__(self) -> None:
        self.asked = False

    def send(self, data: bytes) -> int:
        self.asked = True
        return len(data)

    def close(self) -> None:  # paho's loop_stop closes what it finds there
        pass


@contextlib.contextmanager
def held_wakes(client: paho_client.Client) -> Iterator[None]:
    """The packets queued within, on a client with its own network thread (paho's loop_start), wake that
    thread once, at the end, not once each: paho writes a byte to its wake-up socket for every packet
    queued, and each such `send` handed the interpreter's lock to the network thread, which woke to
    write what was queued so far (a live controller's tick of ~500 plans a region: BENCHMARKS.md, issue
    12, S session 63). The network thread still writes whatever is queued whenever it runs for another
    reason (a read; its own packets, which it writes in its next round without a wake), so nothing waits
    longer than the run of publishes. A wake asked within by another thread waits for the end too. For
    the thread that publishes (not while another stops the client's loop; if one did, the client's new
    wake-up socket is left as it is). Elsewhere (no network thread, a paho release not of EXACT_FOR, held
    already) nothing changes."""
    pair = getattr(client, "_sockpairW", None)
    if pair is None or client._thread is None or isinstance(pair, _HeldWake) or not exact_here():
        yield
        return
    held = _HeldWake()
    client._sockpairW = held  # type: ignore[assignment]
    try:
        yield
    finally:
        now: object = client._sockpairW
        if now is held:
            client._sockpairW = pair
            if held.asked:
                with contextlib.suppress(BlockingIOError):
                    pair.send(paho_client.sockpair_data)
        else:  # the loop was stopped meanwhile (and maybe started again): this wake-up socket is no one's
            pair.close()

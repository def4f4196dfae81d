"""controller/adapters/paho_write.py: a client whose packets are gathered writes the same bytes, in the same
order, as paho's own writer, completes the same packets (a QoS 0 PUBLISH's on_publish, its info published, a
DISCONNECT closing the socket) and leaves the same queue whatever the socket takes; in fewer sends. No broker:
a socket double that takes at most a given number of bytes, then would block."""

from __future__ import annotations

import pytest
from paho.mqtt import client as paho_client
from paho.mqtt.client import MQTTMessageInfo
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from controller.adapters import paho_write
from controller.adapters.paho_read import exact_here

pytestmark = pytest.mark.skipif(not exact_here(), reason="paho_write acts on paho 2.2 only")

PUBLISH, DISCONNECT = 0x30, 0xE0


class Socket:
    """Takes at most `budget` bytes in all (None: any), then raises BlockingIOError; or `fail` on every send."""

    def __init__(self, budget: int | None = None, fail: OSError | None = None) -> None:
        self.budget, self.fail = budget, fail
        self.sent = bytearray()
        self.sends = 0
        self.closed = False

    def send(self, buf: bytes) -> int:
        self.sends += 1
        if self.fail is not None:
            raise self.fail
        n = len(buf) if self.budget is None else min(len(buf), self.budget)
        if n == 0 and len(buf) > 0:
            raise BlockingIOError
        if self.budget is not None:
            self.budget -= n
        self.sent += buf[:n]
        return n

    def close(self) -> None:
        self.closed = True

    def fileno(self) -> int:
        return -1


def _client(gathered: bool, sock: Socket, queued: list[int] | None = None) -> tuple[paho_client.Client, list[int]]:
    """A client as if connected to `sock` (no network), its on_publish calls recorded (mids); `queued`
    gets a 1 whenever the gathered client says a packet came to an empty queue."""
    c = paho_client.Client(CallbackAPIVersion.VERSION2, client_id="t")
    done: list[int] = []
    c.on_publish = lambda _c, _u, mid, _rc, _p: done.append(mid)
    if gathered:
        assert paho_write.install(c, lambda: (queued if queued is not None else []).append(1))
    else:
        c.on_socket_register_write = lambda *_: None  # paho's external loop: queued, as the gathered one
    c._sock = sock  # type: ignore[assignment]
    c._state = paho_client._ConnectionState.MQTT_CS_CONNECTED
    return c, done


def _queue(c: paho_client.Client, packets: list[tuple[int, bytes]]) -> list[MQTTMessageInfo]:
    infos = []
    for mid, (command, body) in enumerate(packets, start=1):
        info = MQTTMessageInfo(mid)
        infos.append(info)
        assert c._packet_queue(command, body, mid, 0, info) == MQTTErrorCode.MQTT_ERR_SUCCESS
    return infos


def _state(c: paho_client.Client, sock: Socket, done: list[int], infos: list[MQTTMessageInfo], rc: object) -> tuple:
    queue = [(p["mid"], p["pos"], p["to_process"]) for p in c._out_packet]
    return (bytes(sock.sent), list(done), [i.is_published() for i in infos], queue, sock.closed, rc)


PACKETS = [(PUBLISH, b"\x30\x05\x00\x01ab1"), (PUBLISH, b"\x30\x06\x00\x01abcd"), (PUBLISH, b"\x30\x03\x00\x01x")]
TOTAL = sum(len(body) for _c, body in PACKETS)


@pytest.mark.parametrize("budget", [None, *range(TOTAL + 1)])
def test_the_same_bytes_completions_and_queue_as_paho_whatever_the_socket_takes(budget):
    states, sends = [], []
    for gathered in (False, True):
        sock = Socket(budget)
        c, done = _client(gathered, sock)
        infos = _queue(c, PACKETS)
        assert not sock.sent  # queued, not written
        rc = c.loop_write()
        states.append(_state(c, sock, done, infos, rc))
        sends.append(sock.sends)
        if budget is not None:  # the rest, once the socket takes it
            sock.budget = None
            c.loop_write()
            assert bytes(sock.sent) == b"".join(body for _c, body in PACKETS)
            assert done == [1, 2, 3] and not c._out_packet
    assert states[0] == states[1]
    if budget is None:
        assert sends == [3, 1]


def test_a_disconnect_ends_the_gathering_as_it_ends_paho_s_walk():
    packets = [PACKETS[0], (DISCONNECT, b"\xe0\x00"), PACKETS[1]]
    states = []
    for gathered in (False, True):
        sock = Socket()
        c, done = _client(gathered, sock)
        infos = _queue(c, packets)
        rc = c.loop_write()
        states.append(_state(c, sock, done, infos, rc))
    assert states[0] == states[1]
    sent, done, _published, queue, closed, _rc = states[1]
    assert sent == PACKETS[0][1] + b"\xe0\x00" and closed and done == [1] and [m for m, _p, _n in queue] == [3]


def test_a_failing_send_fails_for_the_first_packet_as_paho_s():
    states = []
    for gathered in (False, True):
        sock = Socket(fail=ConnectionResetError("reset"))
        c, done = _client(gathered, sock)
        infos = _queue(c, PACKETS)
        rc = c.loop_write()
        states.append(_state(c, sock, done, infos, rc))
    assert states[0] == states[1]
    assert states[1][3] == [(1, 0, 7), (2, 0, 8), (3, 0, 5)]  # nothing taken


def test_a_long_queue_goes_in_sends_of_at_most_gather_bytes(monkeypatch):
    monkeypatch.setattr(paho_write, "GATHER_BYTES", 12)
    sock = Socket()
    c, done = _client(True, sock)
    _queue(c, PACKETS)
    c.loop_write()  # 7 + 8 bytes reach the cap: the third packet waits for the next round
    assert (sock.sends, done, len(c._out_packet)) == (1, [1, 2], 1)
    c.loop_write()
    assert (sock.sends, done, bytes(sock.sent)) == (2, [1, 2, 3], b"".join(body for _c, body in PACKETS))


def test_install_is_idempotent_and_paho_s_send_is_back_after_a_write():
    c, _done = _client(True, Socket())
    assert paho_write.install(c, lambda: None)
    _queue(c, PACKETS)
    c.loop_write()
    assert "_sock_send" not in vars(c)  # the walk's stand-in is gone


def test_the_pump_hears_once_per_queue_that_fills_from_empty():
    queued: list[int] = []
    sock = Socket(budget=4)
    c, _done = _client(True, sock, queued)
    _queue(c, PACKETS)
    assert queued == [1]  # three packets, one queue that filled
    c.loop_write()  # 4 bytes went: the rest waits (the pump polls for writing while it does)
    _queue(c, PACKETS[:1])
    assert queued == [1]
    sock.budget = None
    c.loop_write()
    assert not c._out_packet
    _queue(c, PACKETS[:1])
    assert queued == [1, 1]


class QueuingSocket(Socket):
    """A Socket whose first send lets another thread queue a packet meanwhile (as a tick's thread publishing
    while the network thread writes)."""

    def __init__(self, client_box: list[paho_client.Client], packet: tuple[int, bytes]) -> None:
        super().__init__()
        self.box, self.packet = client_box, packet

    def send(self, buf: bytes) -> int:
        if self.sends == 0:
            c = self.box[0]
            c._out_packet.append(
                {
                    "command": self.packet[0],
                    "mid": 9,
                    "qos": 0,
                    "pos": 0,
                    "to_process": len(self.packet[1]),
                    "packet": self.packet[1],
                    "info": MQTTMessageInfo(9),
                }
            )
        return super().send(buf)


def test_a_network_thread_s_writer_keeps_what_was_queued_during_its_send():
    """install(client, None), a client with its own network thread: no hook registered, the queue gathered; a
    packet queued during the send (the publishing thread) waits at the queue's head for the next write."""
    box: list[paho_client.Client] = []
    extra = (PUBLISH, b"\x30\x03\x00\x01y")
    sock = QueuingSocket(box, extra)
    c = paho_client.Client(CallbackAPIVersion.VERSION2, client_id="t")
    assert paho_write.install(c, None) and c.on_socket_register_write is None
    c._sock = sock  # type: ignore[assignment]
    c._state = paho_client._ConnectionState.MQTT_CS_CONNECTED
    box.append(c)
    c.on_socket_register_write = None
    for command, body in PACKETS:  # queued as a threaded client queues them (no write at once)
        c._out_packet.append(
            {
                "command": command,
                "mid": 1,
                "qos": 0,
                "pos": 0,
                "to_process": len(body),
                "packet": body,
                "info": MQTTMessageInfo(1),
            }
        )
    c.loop_write()
    assert sock.sends == 1 and bytes(sock.sent) == b"".join(body for _c, body in PACKETS)
    assert [p["mid"] for p in c._out_packet] == [9]
    c.loop_write()
    assert bytes(sock.sent).endswith(extra[1]) and not c._out_packet


class _Thread:
    """Stands for paho's network thread (loop_start's): only its presence matters to held_wakes."""


def _threaded(pair: tuple) -> paho_client.Client:
    c = paho_client.Client(CallbackAPIVersion.VERSION2, client_id="t")
    c._sock = Socket()  # type: ignore[assignment]
    c._state = paho_client._ConnectionState.MQTT_CS_CONNECTED
    c._sockpairR, c._sockpairW = pair
    c._thread = _Thread()  # type: ignore[assignment]
    return c


def _wakes(r) -> bytes:
    r.setblocking(False)
    try:
        return r.recv(100)
    except BlockingIOError:
        return b""


def test_held_wakes_wake_the_network_thread_once_for_a_run_of_publishes():
    import socket

    pair = socket.socketpair()
    try:
        c = _threaded(pair)
        c.publish("a/plan", b"1", qos=1)
        assert _wakes(pair[0]) == b"0"  # paho's: one wake a packet
        with paho_write.held_wakes(c):
            infos = [c.publish("a/plan", b"%d" % k, qos=1) for k in range(5)]
            assert _wakes(pair[0]) == b""
            assert len(c._out_packet) == 6  # queued as they come, in order
        assert _wakes(pair[0]) == b"0" and c._sockpairW is pair[1]
        assert [p["mid"] for p in c._out_packet] == [1] + [i.mid for i in infos]
        with paho_write.held_wakes(c):
            pass
        assert _wakes(pair[0]) == b""  # nothing published: no wake
    finally:
        for s in pair:
            s.close()


def test_held_wakes_leave_a_stopped_loop_s_sockets_alone_and_do_nothing_without_a_thread():
    import socket

    pair = socket.socketpair()
    new = socket.socketpair()
    try:
        c = _threaded(pair)
        with paho_write.held_wakes(c):
            c._reset_sockets(sockpair_only=True)  # loop_stop meanwhile, then loop_start's new pair
            c._sockpairR, c._sockpairW = new
            c.publish("a/plan", b"1", qos=0)
        assert c._sockpairW is new[1] and _wakes(new[0]) == b"0"
        assert pair[1].fileno() == -1  # the displaced one closed
        c._thread = None
        with paho_write.held_wakes(c):
            assert c._sockpairW is new[1]
    finally:
        for s in (*pair, *new):
            s.close()

"""Several MQTT connections served by one thread: paho's external loop over all their sockets.

`MqttClient.start(pump=...)` gives a client no network thread of its own. Whoever calls
`MqttPump.run_until` serves every client of the pump: one `poll` over their sockets, then each
readable one read (its callbacks run there and then), each one with bytes queued written, due
reconnects made and keepalives sent. A publish from that thread writes to the socket at once.

It is for one thread that owns many connections and waits on them in turn, as the lockstep
field of a replay does (sim/mqtt_run.py: twenty field devices publish, then wait for their
plans): no hand-off between threads, where a network thread per client costs a wake-up for each
message in and out. Every call on a pumped client (publish, subscribe, close) must come from the
pump's thread, and nothing moves between `run_until` calls (the broker's socket buffers hold
what arrives; keepalives wait), so a pump does not suit a service that idles on other work.

With `gather_writes` a publish (and every other packet) is queued, not written: the pump's next
round starts by writing each connection's queue in one `send` (controller/adapters/paho_write.py),
so the packets a thread queues in a row (a tick's plans and `ticked`, the clock's pack and clock
message) cost one system call and one wake-up of the broker. What a read queues (the PUBACKs of a
burst, a CONNACK's subscriptions) waits for that round's start too, with whatever the connection
queues meanwhile: a field device's PUBACK of its plan goes with its next status, the controller's
PUBACKs of the clock and the statuses with its tick's plans, the clock's PUBACK of `ticked` with the
next pack (a lockstep replay: a third fewer sends; BENCHMARKS.md, issue 12, S session 68). Only a
queue the poll found the socket ready to take while bytes still waited is written after the read.
The publisher must run the pump after publishing (as a lockstep field does, waiting for the
answer); without it a publish from the pump's thread is written at once.

Example (one thread, two devices, each with its own credentials)::

    pump = MqttPump()
    a = MqttClient(settings_a, on_plan).start(wait=False, pump=pump)
    b = MqttClient(settings_b, on_plan).start(wait=False, pump=pump)
    pump.run_until(lambda: a.ready() and b.ready(), timeout_s=10)
    a.publish(topic, payload, qos=1)
    pump.run_until(lambda: got_the_answer, timeout_s=5)
"""

from __future__ import annotations

import math
import select
import time
from collections.abc import Callable

from controller.adapters.mqtt import POLL_READ, MqttClient


class MqttPump:
    """The network loop of several MqttClients, run by the thread that calls run_until."""

    def __init__(self, misc_every_s: float = 1.0, *, gather_writes: bool = False) -> None:
        """misc_every_s: how often keepalives are checked (far below any keepalive_s). gather_writes:
        the clients started on this pump from now on queue their packets for the pump's rounds (above)."""
        self.misc_every_s = misc_every_s
        self.gather_writes = gather_writes
        self._queued: list[MqttClient] = []  # gather_writes: clients with packets queued since the last round
        self.clients: list[MqttClient] = []
        self._misc_due_s = 0.0
        self._loop_read_said = False  # a client of this pump fell back to loop_read, logged (first_loop_read)

    def first_loop_read(self) -> bool:
        """True the first time one of this pump's clients falls back to paho's loop_read (its
        paho lacks what MqttClient.pump_read's burst read calls), so that it is logged once."""
        first, self._loop_read_said = not self._loop_read_said, True
        return first

    def queued(self, client: MqttClient) -> None:
        """gather_writes: `client` queued a packet on an empty queue; written at the next round's start."""
        self._queued.append(client)

    def add(self, client: MqttClient) -> None:
        if client not in self.clients:
            self.clients.append(client)

    def remove(self, client: MqttClient) -> None:
        if client in self.clients:
            self.clients.remove(client)

    def run_until(
        self,
        done: Callable[[], bool],
        timeout_s: float,
        *,
        idle: Callable[[], None] | None = None,
        idle_every_s: float = 0.2,
    ) -> bool:
        """Serve every client until done() (checked after each round) or timeout_s; True when
        done. idle() runs whenever idle_every_s passes with nothing done (a liveness check that
        may raise)."""
        now_s = time.monotonic()
        deadline_s = now_s + timeout_s
        idle_at_s = now_s + idle_every_s if idle is not None else math.inf  # without idle(): wait to the deadline
        while not done():
            now_s = time.monotonic()
            if now_s >= deadline_s:
                return False
            if idle is not None and now_s >= idle_at_s:
                idle()
                idle_at_s = now_s + idle_every_s
            self.run_once(min(deadline_s, idle_at_s) - now_s)
        return True

    def run_once(self, timeout_s: float) -> None:
        """One poll over every client's socket (at most timeout_s, less when a reconnect falls
        due), then the reads and writes it allows, and the keepalives when due."""
        while self._queued:  # what was published since the last round, each connection's queue in one send
            client = self._queued.pop(0)
            if client.wants_write():
                client.pump_write()
        now_s = time.monotonic()
        poller = select.poll()
        by_fd: dict[int, MqttClient] = {}
        decrypted: list[int] = []  # TLS bytes already read from the socket: a poll does not see them
        wait_s = max(0.0, timeout_s)
        for client in self.clients:
            fd, events = client.pump_poll(now_s)
            if fd < 0:
                wait_s = min(wait_s, client.pump_wait_s(now_s))
                continue
            by_fd[fd] = client
            poller.register(fd, events)
            if client.tls_pending():
                decrypted.append(fd)
        ready = dict(poller.poll(0.0 if decrypted else wait_s * 1000.0))
        for fd in decrypted:
            ready[fd] = ready.get(fd, 0) | select.POLLIN
        for fd, events in ready.items():
            client = by_fd[fd]
            if client.pump_fd() != fd:
                continue  # lost while another client was served
            if events & POLL_READ:
                client.pump_read()
            # what did not fit (the poll found the socket writable); without gather_writes also what the reads queued
            # (a CONNACK's subscriptions); gathered, that waits for the next round's start (queued())
            if (events & select.POLLOUT or not self.gather_writes) and client.wants_write():
                client.pump_write()
        if now_s >= self._misc_due_s:
            self._misc_due_s = now_s + self.misc_every_s
            for client in self.clients:
                client.pump_misc()

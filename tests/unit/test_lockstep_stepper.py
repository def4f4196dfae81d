"""controller.live.LockstepStepper: run_lockstep for a caller that owns the loop (the via-MQTT
field's thread). It ticks only once a clock message and every message it announced are in,
whatever the order they arrive in, skips a redelivered clock, and stops at the clock's end.
The field's packed second (core/feedpack.py, `sim/detectors`) stands for its junctions' messages.
No broker: messages are put in the node's inbox as its connection would."""

from __future__ import annotations

import json
import threading
import time

from controller import live
from controller.adapters.mqtt import MqttSettings
from controller.config import Config, ServiceConfig
from controller.core import feedbatch, feedpack
from controller.core.messages import encode_detector_message, encode_status
from controller.live import LockstepStepper, ServiceNode, _LockstepInbox
from controller.model import SignalStatus
from tests.live_fixtures import cross

JUNCTIONS = {j: cross(j) for j in ("J1", "J2")}
CFG = Config(service=ServiceConfig(site="t", policy="webster"))


def _node() -> ServiceNode:
    settings = MqttSettings(host="127.0.0.1", port=1, username="controller", password="", client_id="c")
    return ServiceNode(CFG, JUNCTIONS, settings, start_s=0.0, lockstep=True)  # never connected


def _detectors(jid: str, t_s: float) -> tuple[str, str, bytes]:
    dets = {d.id: ({"car": 1}, 0.1, 8.0) for d in JUNCTIONS[jid].detectors}
    return ("detectors", jid, encode_detector_message(jid, t_s, 1.0, dets))


def _status(jid: str, t_s: float) -> tuple[str, str, bytes]:
    body = SignalStatus(jid, t_s, 0, False, time_in_phase_s=5.0, plan_id="local", seq=0, mode="local")
    return ("status", jid, encode_status(body))


def _clock(t_s: float, detectors: int, status: int = 0, status_t: float | None = None) -> tuple[str, str, bytes]:
    body = {"v": 1, "t": t_s, "detectors": detectors, "status": status, "status_t": status_t}
    return ("clock", "", json.dumps(body).encode())


def test_ticks_once_everything_the_clock_announced_is_in():
    node = _node()
    stepper = LockstepStepper(node)
    node.inbox.put(_status("J1", 0.0))
    node.inbox.put(_clock(1.0, detectors=2, status=2, status_t=0.0))
    node.inbox.put(_detectors("J2", 1.0))
    node.inbox.put(_detectors("J1", 1.0))
    assert stepper.step() == 0  # J2's status is missing
    assert node.ticks == 0
    node.inbox.put(_status("J2", 0.0))
    assert stepper.step() == 1
    assert node.ticks == 1 and node.now_s == 1.0
    assert node.service.received == 2  # detector messages (the statuses are counted apart)


def test_messages_before_their_clock_wait_and_a_redelivered_clock_is_skipped():
    node = _node()
    stepper = LockstepStepper(node)
    node.inbox.put(_detectors("J1", 1.0))
    node.inbox.put(_detectors("J2", 1.0))
    node.inbox.put(_detectors("J1", 2.0))  # the next second's, early
    assert stepper.step() == 0  # no clock yet
    node.inbox.put(_clock(1.0, detectors=2))
    node.inbox.put(_clock(1.0, detectors=2))  # a QoS 1 redelivery after a reconnect
    node.inbox.put(_clock(2.0, detectors=2))
    assert stepper.step() == 1  # t=1; t=2 waits for J2
    node.inbox.put(_detectors("J2", 2.0))
    assert stepper.step() == 1
    assert node.ticks == 2 and node.now_s == 2.0


def test_a_malformed_clock_is_logged_and_skipped(caplog):
    """A clock message that does not read (not JSON; nested past the json module's depth, about
    2 kB of brackets) is logged and skipped; the next clock ticks as usual."""
    node = _node()
    stepper = LockstepStepper(node)
    node.inbox.put(("clock", "", b"{not json"))
    node.inbox.put(("clock", "", b"[" * 1100 + b"]" * 1100))
    node.inbox.put(_clock(1.0, detectors=2))
    node.inbox.put(_detectors("J1", 1.0))
    node.inbox.put(_detectors("J2", 1.0))
    assert stepper.step() == 1
    assert node.ticks == 1 and node.now_s == 1.0
    assert sum("malformed clock message" in r.getMessage() for r in caplog.records) == 2


def test_stops_at_the_clocks_end():
    node = _node()
    stepper = LockstepStepper(node)
    node.inbox.put(_clock(1.0, detectors=0))
    node.inbox.put(("clock", "", b'{"v":1,"end":true}'))
    node.inbox.put(_clock(2.0, detectors=0))
    assert stepper.step() == 1
    assert stepper.ended
    assert stepper.step() == 0 and node.ticks == 1


def _packed(t_s: float, *jids: str) -> tuple[str, str, bytes]:
    other = b'{"v":1,"junction":"J9"}'  # a junction of another region's node
    return ("packed", "", feedpack.pack(t_s, [(j, _detectors(j, t_s)[2] if j in JUNCTIONS else other) for j in jids]))


def test_a_packed_second_stands_for_its_junctions_messages():
    ref, node = _node(), _node()
    ref_stepper, stepper = LockstepStepper(ref), LockstepStepper(node)
    for t in (1.0, 2.0):
        ref.inbox.put(_clock(t, detectors=2))
        node.inbox.put(_clock(t, detectors=2))
        ref.inbox.put(_detectors("J2", t))
        ref.inbox.put(_detectors("J1", t))
        node.inbox.put(_packed(t, "J2", "J1", "J9"))  # J9: not this node's (another region's)
        assert ref_stepper.step() == stepper.step() == 1
    node.inbox.put(_packed(1.0, "J1", "J2"))  # a copy of a second already fed
    node.inbox.put(_clock(3.0, detectors=2))
    node.inbox.put(_packed(3.0, "J1"))
    assert stepper.step() == 0  # J2's message for t=3 is missing
    assert node.ticks == 2 and node.service.received == ref.service.received == 4
    assert node.service.state.junctions.keys() == ref.service.state.junctions.keys()
    for jid in JUNCTIONS:
        a, b = node.service.state.junctions[jid].estimate, ref.service.state.junctions[jid].estimate
        assert a.t_s == b.t_s and list(a.arrivals_pcu) == list(b.arrivals_pcu)
    node.inbox.put(_packed(3.0, "J2"))  # it comes in a second pack of the same second (feedpack.packs)
    assert stepper.step() == 1 and node.ticks == 3


def test_a_pack_that_does_not_read_is_counted_and_fed_nothing():
    node = _node()
    stepper = LockstepStepper(node)
    node.inbox.put(_clock(1.0, detectors=2))
    node.inbox.put(("packed", "", b'{"v":1,"t":1.0}'))
    assert stepper.step() == 0
    assert node.unrouted == 1 and node.service.received == 0


def test_detector_messages_are_read_as_they_are_taken_and_their_tick_takes_the_reads():
    """Each detector message is read when taken (ControllerService.read_detector_message), before
    its clock; the tick's batch gets those reads. One the read leaves to the one-by-one path (a
    byte-order mark: orjson refuses it, the json module reads it) waits under the `t` the json
    module reads, and is read as before."""
    node = _node()
    stepper = LockstepStepper(node)
    batches = []
    handle = node.handle_detectors
    node.handle_detectors = lambda messages, reads=None: (batches.append(reads), handle(messages, reads))
    kind, jid, bom = _detectors("J2", 3.0)
    node.inbox.put(_detectors("J1", 3.0))
    node.inbox.put((kind, jid, b"\xef\xbb\xbf" + bom))
    assert stepper.step() == 0
    layout = node.service._layout()
    assert batches == []  # nothing handed over before the clock
    node.inbox.put(_clock(3.0, detectors=2))
    assert stepper.step() == 1
    (reads,) = batches
    assert [(r[0], r[1] is not None) for r in reads] == [("J1", True), ("J2", False)]
    assert reads[0] == feedbatch.read_message(_detectors("J1", 3.0)[2], "J1", layout)
    assert node.service.received == 2 and not node.service.rejected
    assert node.service._last_t == {"J1": 3.0, "J2": 3.0}


def test_a_packed_seconds_messages_are_read_as_they_are_taken():
    node = _node()
    stepper = LockstepStepper(node)
    batches = []
    handle = node.handle_detectors
    node.handle_detectors = lambda messages, reads=None: (batches.append(reads), handle(messages, reads))
    messages = [(jid, _detectors(jid, 1.0)[2]) for jid in ("J2", "J1")]
    node.inbox.put(("packed", "", feedpack.pack(1.0, messages)))
    node.inbox.put(_clock(1.0, detectors=2))
    assert stepper.step() == 1
    (reads,) = batches
    assert [r[0] for r in reads] == ["J1", "J2"] and all(r[1] is not None for r in reads)  # junction order
    assert node.service.received == 2 and not node.service.rejected


def _counting_reads(node: ServiceNode) -> list[str]:
    """The junctions whose detector messages the node read ahead, in the order read."""
    read, seen = node.service.read_detector_message, []

    def counted(payload, junction=None):
        seen.append(junction)
        return read(payload, junction)

    node.service.read_detector_message = counted
    return seen


def test_a_message_is_read_ahead_only_while_nothing_else_waits():
    """run_lockstep's inbox (session 45): a detector message taken while others wait in the inbox is
    kept unread; the oldest unread one is read when the inbox is empty; a clock message first
    reads every message before it. The tick then gets every read, in junction order."""
    node = _node()
    box = _LockstepInbox(node, 5.0)
    seen = _counting_reads(node)
    batches = []
    handle = node.handle_detectors
    node.handle_detectors = lambda messages, reads=None: (batches.append(reads), handle(messages, reads))
    node.inbox.put(_detectors("J2", 1.0))
    node.inbox.put(_detectors("J1", 1.0))
    deadline = time.monotonic() + 5.0
    box.pull(deadline)  # J2: J1 waits behind it
    assert seen == [] and len(box.unread) == 1
    box.pull(deadline)  # J1: after an unread one
    assert seen == [] and len(box.unread) == 2
    box.pull(deadline)  # the inbox is empty: the oldest unread is read
    assert seen == ["J2"] and len(box.unread) == 1
    node.inbox.put(_clock(1.0, detectors=2))
    clock = box.next_clock(threading.Event())  # the clock reads the rest first
    assert seen == ["J2", "J1"] and not box.unread
    need = box.needs(clock)
    assert box.complete(need)
    box.tick(need, 1.0)
    (reads,) = batches
    assert [r[0] for r in reads] == ["J1", "J2"] and all(r[1] is not None for r in reads)
    assert node.service.received == 2 and not node.service.rejected


def test_a_pumped_inbox_serves_the_connection_before_reading_ahead(monkeypatch):
    """Pumped (no network thread), an unread message is read only when the connection has
    nothing more: the pump is served without waiting first, and what it brings is received
    (kept unread) before any read. (Every pull looks at the connection here: READ_AHEAD_LOOK_S 0.)"""
    monkeypatch.setattr(live, "READ_AHEAD_LOOK_S", 0.0)
    node = _node()
    calls = []

    class Pump:
        def run_once(self, timeout_s):
            calls.append(timeout_s)
            if len(calls) == 1:  # the connection held J1's message
                node.inbox.put(_detectors("J1", 1.0))

        def run_until(self, done, timeout_s):
            return done()

    node.pump = Pump()
    box = _LockstepInbox(node, 5.0)
    seen = _counting_reads(node)
    node.inbox.put(_detectors("J2", 1.0))
    node.inbox.put(_status("J1", 0.0))
    deadline = time.monotonic() + 5.0
    box.pull(deadline)  # J2 kept: the status waits
    box.pull(deadline)  # the status kept behind it
    assert seen == [] and len(box.unread) == 2
    box.pull(deadline)  # the pump first: J1's message came, kept unread
    assert calls == [0.0] and seen == [] and len(box.unread) == 3
    box.pull(deadline)  # the pump had nothing more: J2 read
    assert calls == [0.0, 0.0] and seen == ["J2"]
    box.drain()  # takes the rest in arrival order
    assert seen == ["J2", "J1"] and not box.unread
    assert set(box.buffered) == {("detectors", 1.0), ("status", 0.0)}


def test_a_pumped_inbox_looks_at_the_connection_at_most_every_read_ahead_look_s(monkeypatch):
    monkeypatch.setattr(live, "READ_AHEAD_LOOK_S", 60.0)
    node = _node()
    calls = []

    class Pump:
        def run_once(self, timeout_s):
            calls.append(timeout_s)

        def run_until(self, done, timeout_s):
            return done()

    node.pump = Pump()
    box = _LockstepInbox(node, 5.0)
    seen = _counting_reads(node)
    for jid in ("J1", "J2"):
        node.inbox.put(_detectors(jid, 1.0))
    node.inbox.put(_status("J1", 0.0))
    deadline = time.monotonic() + 5.0
    for _ in range(3):
        box.pull(deadline)
    assert seen == [] and len(box.unread) == 3
    box.pull(deadline)
    box.pull(deadline)
    assert calls == [0.0] and seen == ["J1", "J2"]  # one look, then reads until the next is due


def test_messages_kept_unread_after_their_clock_are_read_before_they_are_counted():
    """A clock taken first, then its two detector messages, both kept unread (each taken while
    another waited): complete() reads them (catch_up) before it counts, so the second is
    complete at once, not one pull at a time (R, session 45: no test failed without it)."""
    node = _node()
    box = _LockstepInbox(node, 5.0)
    seen = _counting_reads(node)
    node.inbox.put(_clock(1.0, detectors=2))
    clock = box.next_clock(threading.Event())
    node.inbox.put(_detectors("J2", 1.0))
    node.inbox.put(_detectors("J1", 1.0))
    deadline = time.monotonic() + 5.0
    box.pull(deadline)  # J2: J1 waits behind it
    box.pull(deadline)  # J1: after an unread one
    assert seen == [] and len(box.unread) == 2 and node.inbox.empty()
    assert box.complete(box.needs(clock))
    assert seen == ["J2", "J1"] and not box.unread

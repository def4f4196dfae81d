"""`run`'s live tick with [service] tick_wait_max_s (controller/live.py run_realtime, ServiceNode.gather):
the tick on second t starts once every junction's detector message of t is in, not before t and at
the latest at t + tick_wait_max_s; a junction not in by then is counted late and its message goes to
the next tick; a junction silent for feed_stale_s is not waited for. No broker: a scripted feed is
both the clock and the node's inbox, messages arriving at set times."""

from __future__ import annotations

import queue
import threading
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from controller.adapters.metrics import ServiceMetrics
from controller.adapters.mqtt import MqttSettings
from controller.config import Config, ServiceConfig
from controller.core.messages import encode_detector_message
from controller.live import ServiceNode, run_realtime
from controller.service import Observer
from controller.takeover import Failover
from tests.live_fixtures import cross

JUNCTIONS = {j: cross(j) for j in ("J1", "J2", "J3")}
CFG = Config(service=ServiceConfig(site="t", policy="webster", tick_wait_max_s=0.5))
CAP_S = CFG.service.tick_wait_max_s


class Feed:
    """The clock and the inbox: `arrivals` (wall = service time, item) come in at their time; a
    wait on the inbox moves the clock to the next arrival, or to the end of the wait."""

    def __init__(
        self, start_s: float, arrivals: list[tuple[float, tuple[str, str, bytes]]], take_s: float = 0.0
    ) -> None:
        self.t, self.arrivals = start_s, sorted(arrivals, key=lambda a: a[0])
        self.take_s = take_s  # the clock moves this much with each message taken (a starved CPU)

    def now(self) -> float:
        return self.t

    def wall_until(self, t_s: float) -> float:
        return t_s - self.t

    def wait_until(self, t_s: float, stop: threading.Event) -> bool:
        self.t = max(self.t, t_s)
        return True

    def get(self, timeout: float) -> tuple[str, str, bytes]:
        if self.arrivals and self.arrivals[0][0] <= self.t + timeout:
            self.t = max(self.t, self.arrivals[0][0]) + self.take_s
            return self.arrivals.pop(0)[1]
        self.t += timeout
        raise queue.Empty

    def get_nowait(self) -> tuple[str, str, bytes]:
        if self.arrivals and self.arrivals[0][0] <= self.t:
            self.t += self.take_s
            return self.arrivals.pop(0)[1]
        raise queue.Empty

    def empty(self) -> bool:
        return not (self.arrivals and self.arrivals[0][0] <= self.t)

    def qsize(self) -> int:
        return sum(1 for at, _ in self.arrivals if at <= self.t)


def message(jid: str, t_s: float) -> tuple[str, str, bytes]:
    dets = {d.id: ({"car": 1}, 0.1, 8.0) for d in JUNCTIONS[jid].detectors}
    return ("detectors", jid, encode_detector_message(jid, t_s, 1.0, dets))


def rig(feed: Feed, metrics: ServiceMetrics | None = None) -> tuple[ServiceNode, list]:
    """A node (never connected) on `feed`; each tick's (second, clock at its start, the (junction,
    second) of every detector message it validated)."""
    settings = MqttSettings(host="127.0.0.1", port=1, username="controller", password="", client_id="c")
    node = ServiceNode(CFG, JUNCTIONS, settings, start_s=0.0, metrics=metrics)
    node.inbox = feed  # type: ignore[assignment]
    ticks: list = []
    batch: list = []
    handle = node.handle_detectors

    def handle_detectors(messages, reads=None):
        if node.reads_ahead:  # each read as it was taken
            assert reads is not None and len(reads) == len(messages)
        batch.extend((j, float(p.split(b'"t":')[1].split(b",")[0])) for j, p in messages)
        handle(messages, reads)

    def tick(now_s):
        ticks.append((now_s, feed.t, sorted(batch)))
        batch.clear()

    node.handle_detectors, node._tick = handle_detectors, tick  # type: ignore[method-assign]
    return node, ticks


def run(feed: Feed, until_s: float, metrics: ServiceMetrics | None = None) -> tuple[ServiceNode, list]:
    node, ticks = rig(feed, metrics)
    run_realtime(node, feed, threading.Event(), until_s=until_s, tick_wait_max_s=CAP_S)
    return node, ticks


def test_the_tick_waits_for_its_seconds_last_message_and_not_beyond_the_cap():
    """Second 100 is in before the start (100.5). Second 101: J3's message comes 0.25 s after the
    others, inside the cap: the tick starts with it, at 101.25. Second 102: J3's comes at 102.75,
    past the cap: the tick starts at 102.5 without it (one late), which goes to the next tick."""
    arrivals = [(100.0625, message(j, 100.0)) for j in JUNCTIONS]
    arrivals += [(101.0625, message("J1", 101.0)), (101.125, message("J2", 101.0)), (101.25, message("J3", 101.0))]
    arrivals += [(102.0625, message("J1", 102.0)), (102.125, message("J2", 102.0)), (102.75, message("J3", 102.0))]
    arrivals += [(103.0625, message(j, 103.0)) for j in JUNCTIONS]
    registry = CollectorRegistry()
    node, ticks = run(Feed(100.5, arrivals), 103.0, ServiceMetrics(registry, JUNCTIONS, CFG))
    assert [(t, start) for t, start, _ in ticks] == [(101.0, 101.25), (102.0, 102.5), (103.0, 103.0625)]
    assert ticks[0][2] == sorted([(j, 100.0) for j in JUNCTIONS] + [(j, 101.0) for j in JUNCTIONS])
    assert ticks[1][2] == [("J1", 102.0), ("J2", 102.0)]
    assert ticks[2][2] == sorted([("J3", 102.0)] + [(j, 103.0) for j in JUNCTIONS])
    assert node.late_junctions == 1
    assert registry.get_sample_value("tsc_feed_late_junctions_total") == 1.0
    assert node.service.received == 12 and not node.service.rejected


def test_a_tick_whose_messages_are_all_in_starts_at_its_second_not_before():
    """Second 101's messages all in at 100.75 (a field clock ahead of the service's): the tick
    on 101 still starts at 101."""
    arrivals = [(100.0625, message(j, 100.0)) for j in JUNCTIONS] + [(100.75, message(j, 101.0)) for j in JUNCTIONS]
    _, ticks = run(Feed(100.5, arrivals), 101.0)
    assert [(t, start) for t, start, _ in ticks] == [(101.0, 101.0)]


def test_messages_in_before_the_wait_starts_are_not_waited_for():
    """Second 101's messages all in at 100.75 and the node's wait starting at 100.9, after them: the
    tick on 101 starts at 101, nobody late (a junction whose second is already in is not awaited)
    (R, session 49)."""
    arrivals = [(100.0625, message(j, 100.0)) for j in JUNCTIONS] + [(100.75, message(j, 101.0)) for j in JUNCTIONS]
    node, ticks = run(Feed(100.9, arrivals), 101.0)
    assert [(t, start) for t, start, _ in ticks] == [(101.0, 101.0)]
    assert node.late_junctions == 0


def test_every_junction_not_in_is_counted_late():
    """Second 101: only J1's message comes; J2 and J3 are both late at the cap, counted two (R,
    session 49)."""
    arrivals = [(100.0625, message(j, 100.0)) for j in JUNCTIONS] + [(101.0625, message("J1", 101.0))]
    registry = CollectorRegistry()
    node, ticks = run(Feed(100.5, arrivals), 101.0, ServiceMetrics(registry, JUNCTIONS, CFG))
    assert [(t, start) for t, start, _ in ticks] == [(101.0, 101.0 + CAP_S)]
    assert node.late_junctions == 2
    assert registry.get_sample_value("tsc_feed_late_junctions_total") == 2.0


def test_a_junction_silent_for_feed_stale_s_is_no_longer_waited_for():
    """J3 sends up to second 101 and then nothing: the ticks on 102-106 wait for it to their cap
    (its last message within feed_stale_s, 5 s, of the second), from 107 on they start with the
    others' messages."""
    stale_s = CFG.service.feed_stale_s
    arrivals = [(100.0625, message(j, 100.0)) for j in JUNCTIONS] + [(101.0625, message(j, 101.0)) for j in JUNCTIONS]
    for t in range(102, 110):
        arrivals += [(t + 0.0625, message("J1", float(t))), (t + 0.125, message("J2", float(t)))]
    node, ticks = run(Feed(100.5, arrivals), 109.0)
    waited = [t for t, start, _ in ticks if start == t + CAP_S]
    assert waited == [float(t) for t in range(102, 102 + int(stale_s))]
    assert all(start == t + 0.125 for t, start, _ in ticks if t > 101 + stale_s)
    assert node.late_junctions == stale_s


def test_without_the_wait_the_same_feed_ticks_on_the_second():
    """The rule off (tick_delay_s 0): the tick on 101 starts at 101 and takes none of 101's messages."""
    arrivals = [(100.0625, message(j, 100.0)) for j in JUNCTIONS] + [(101.25, message(j, 101.0)) for j in JUNCTIONS]
    feed = Feed(100.5, arrivals)
    node, ticks = rig(feed)
    run_realtime(node, feed, threading.Event(), until_s=101.0)
    assert ticks == [(101.0, 101.0, [(j, 100.0) for j in JUNCTIONS])]
    assert not node.reads_ahead


def test_a_message_stamped_far_ahead_stops_its_junctions_waits_for_one_skew_only():
    """J3's message of second 101 is followed at once by one stamped 1,101 (refused by the
    service: ahead of its clock by more than clock_skew_s, 1 s), taken as the wait for 102
    starts. What the node records of J3 is capped at that tick's second + clock_skew_s (103):
    the ticks on 102 and 103 do not wait for J3 (as for a field clock a second ahead, whose
    message of 103 would be in), the ticks from 104 on do again (J3's messages at t + 0.25,
    inside the cap). Without the cap, J3 would never be waited for again until restart: every
    tick from 102 on would start at t + 0.125 without J3's message of its second (R, session 49)."""
    skew_s = CFG.security.clock_skew_s
    arrivals = [(100.0625, message(j, 100.0)) for j in JUNCTIONS]
    arrivals += [(101.0625, message(j, 101.0)) for j in JUNCTIONS] + [(101.07, message("J3", 1101.0))]
    for t in range(102, 107):
        arrivals += [(t + 0.0625, message("J1", float(t))), (t + 0.125, message("J2", float(t)))]
        arrivals.append((t + 0.25, message("J3", float(t))))
    node, ticks = run(Feed(100.5, arrivals), 106.0)
    starts = {t: start - t for t, start, _ in ticks}
    assert skew_s == 1.0 and starts[102.0] == starts[103.0] == 0.125  # not waited for up to 102 + the skew
    assert [starts[float(t)] for t in range(104, 107)] == [0.25] * 3  # J3 waited for again
    assert all(("J3", t) in batch for t, _, batch in ticks if t >= 104.0)  # each tick with J3's own second
    assert node.service.rejected == {"future_timestamp": 1} and node.late_junctions == 0


def test_the_observer_protocol_declares_junctions_late():
    """A late junction reaches any Observer (controller/service.py) by the protocol's own method,
    not found by probing the object (STYLE: a capability is declared, not discovered): an observer
    built from exactly the protocol's declared methods hears junctions_late(2)."""
    heard: list = []
    declared = [name for name, v in vars(Observer).items() if callable(v) and not name.startswith("_")]

    def recorder(name: str):
        return lambda self, *args, **kwargs: heard.append((name, args))

    ObserverOnly = type("ObserverOnly", (), {name: recorder(name) for name in declared})
    arrivals = [(100.0625, message(j, 100.0)) for j in JUNCTIONS] + [(101.0625, message("J1", 101.0))]
    node, _ = run(Feed(100.5, arrivals), 101.0, ObserverOnly())  # type: ignore[arg-type]
    assert "junctions_late" in declared
    assert ("junctions_late", (2,)) in heard and node.late_junctions == 2


def test_a_failover_gathers_for_its_own_node_then_each_taken_one():
    calls = []

    class Node:
        def __init__(self, name: str, ok: bool) -> None:
            self.name, self.ok = name, ok

        def gather(self, t_s, until_s, clock, stop):
            calls.append((self.name, t_s, until_s))
            return self.ok

    own = SimpleNamespace(own=Node("own", True), taken={"r2": Node("r2", True), "r3": Node("r3", True)})
    assert Failover.gather(own, 5.0, 5.5, None, threading.Event())  # type: ignore[arg-type]
    assert calls == [("own", 5.0, 5.5), ("r2", 5.0, 5.5), ("r3", 5.0, 5.5)]
    calls.clear()
    stopped = SimpleNamespace(own=Node("own", False), taken={"r2": Node("r2", True)})
    assert not Failover.gather(stopped, 5.0, 5.5, None, threading.Event())  # type: ignore[arg-type]
    assert calls == [("own", 5.0, 5.5)]  # stopped: nobody else waits


@pytest.mark.parametrize("wait_s", [CAP_S, 0.0])
def test_a_drain_takes_only_what_was_in_when_its_tick_started(wait_s):
    """After an overrun (the tick on 102 stalls 3 s) on a starved CPU (each message taken costs 0.3 s
    of clock, while three arrive a second), a tick's drain takes the messages received by the
    tick's start and leaves the rest to the next tick; a wait (tick_wait_max_s) takes first what was
    received when it began. Before (T, session 50's note), both took until the inbox was empty, so
    they chased the feed: with the wait off, the tick on 101 validated seconds 100-109 against its
    start clock and refused 30 as future_timestamp; with the wait, the wait on 101 went on taking
    seconds 100-104 and its tick started at 105.0. Now the wait on 101 takes second 100 (in when it
    began, 100.5: 0.9 s), then J1's message of 101, and the tick starts at 101.7, past its latest
    (101.5); every message in by the last tick's start is validated, none refused, and none by a
    tick that started before it came in."""
    arrivals = [(t + 0.0625, message(j, float(t))) for t in range(100, 116) for j in JUNCTIONS]
    feed = Feed(100.5, arrivals, take_s=0.3)
    node, ticks = rig(feed)
    starts: dict[float, float] = {}
    tick, inner = node.tick, node._tick

    def noted_tick(now_s, clock_s=None):
        starts[now_s] = feed.t
        tick(now_s, clock_s)

    def stalling(now_s):
        inner(now_s)
        if now_s == 102.0:
            feed.t += 3.0

    node.tick, node._tick = noted_tick, stalling  # type: ignore[method-assign]
    run_realtime(node, feed, threading.Event(), until_s=115.0, tick_wait_max_s=wait_s)
    assert len(ticks) < 15  # it overran: ticks were skipped
    if wait_s:
        assert starts[101.0] == pytest.approx(100.5 + 4 * 0.3)
    in_by_the_last_start = sum(1 for at, _ in arrivals if at <= max(starts.values()))
    assert not node.service.rejected and node.service.received == in_by_the_last_start
    for t, _, batch in ticks:
        assert all(second + 0.0625 <= starts[t] for _, second in batch), (t, starts[t], batch)

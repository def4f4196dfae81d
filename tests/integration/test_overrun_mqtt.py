"""The live loop (controller/live.py: run_realtime ticking a ServiceNode) against a real Mosquitto, with one tick
forced to overrun: the ticks it skips are logged, their seconds' detector messages are validated by the next tick
(delayed, none lost) and every plan the service sends reaches its roadside, in sequence. A node stopped while it is
behind counts and logs the messages it received and never ticked (ServiceNode.left_at_stop). At 5,000 junctions the
bench counted those as dropped when its run ended 1.5 s after the feed (BENCHMARKS.md, issue 12, S, session 66)."""

from __future__ import annotations

import logging
import math
import threading
import time

import pytest

from controller.adapters.compile_cache import warm_up
from controller.adapters.mqtt import MqttClient
from controller.core.messages import decode_command, encode_detector_message
from controller.live import ScaledClock, ServiceNode, run_realtime
from sim.broker import CONTROLLER, Broker, field_user
from tests.live_fixtures import Inbox, skip_without_mosquitto, wait_until
from tests.service_fixtures import CFG, JUNCTIONS, SITE

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(60)

FACTOR = 0.5  # service time runs at twice the wall clock
SECONDS = 10  # seconds fed, each with both junctions' detector messages


class Loop:
    """A live node on the broker, ticked by run_realtime on a thread of its own; its tick on second `slow_at` sleeps
    `slow_s` wall seconds after it ran (an overrun); the roadsides J1 and J2 keep the plans they receive."""

    def __init__(self, broker: Broker, slow_at: float, slow_s: float) -> None:
        warm_up(CFG.service.policy)  # as `run` does: no compilation in the ticks timed here
        self.clock, self.stop = ScaledClock(FACTOR), threading.Event()
        self.t0 = math.ceil(self.clock.now()) + 2
        settings = broker.settings(CONTROLLER, client_id="tsc-t-overrun")
        self.node = ServiceNode(CFG, JUNCTIONS, settings, start_s=self.clock.now()).start()
        self.plans = {j: Inbox() for j in JUNCTIONS}
        self.devices = {j: MqttClient(broker.settings(field_user(j)), self.plans[j]) for j in JUNCTIONS}
        for j, device in self.devices.items():
            device.subscribe([broker.topics.plan(j)], qos=1)
            device.start()
        self.ticked: list[float] = []
        self.sent: list[tuple[str, int, float]] = []  # every plan the node handed to its client: junction, seq, tick
        tick = self.node.tick

        def slow_tick(now_s: float, clock_s: float | None = None) -> None:
            tick(now_s, clock_s)
            self.sent += [(j, seq, now_s) for j, seq in self.node.sent]
            self.ticked.append(now_s)
            if now_s == self.t0 + slow_at:
                time.sleep(slow_s)

        self.node.tick = slow_tick  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        run_realtime(self.node, self.clock, self.stop, tick_wait_max_s=CFG.service.tick_wait_max_s)

    def feed(self, topics) -> None:
        """SECONDS seconds of the roadsides' detector messages, each sent at its second (no status: webster sends
        each period's plan at once)."""
        self.thread.start()
        for t in range(self.t0, self.t0 + SECONDS):
            self.clock.wait_until(t, threading.Event())
            for j, device in self.devices.items():
                device.publish(topics.detectors(j), _detectors(j, float(t), "NS" if t < self.t0 + 4 else "EW"), qos=1)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.node.close()
        for device in self.devices.values():
            device.close()


def _detectors(jid: str, t_s: float, busy: str) -> bytes:
    """A detector message of second t_s: a car a second on each loop of the `busy` arms, none on the others (the
    busy arms change with the overrun: webster's greens, and so its plans, change after it)."""
    dets = {d.id: ({"car": 1} if d.id.split("_")[1] in busy else {}, 0.1, 8.0) for d in JUNCTIONS[jid].detectors}
    return encode_detector_message(jid, t_s, 1.0, dets)


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", SITE, JUNCTIONS) as b:
        yield b


def test_an_overrun_delays_the_feed_and_plans_and_loses_none(broker, caplog):
    loop = Loop(broker, slow_at=3, slow_s=1.3)  # 2.6 service seconds: the ticks on t0+4 and t0+5 skipped
    with caplog.at_level(logging.WARNING, logger="controller.live"):
        try:
            loop.feed(broker.topics)
            assert wait_until(lambda: loop.ticked and loop.ticked[-1] >= loop.t0 + SECONDS - 1, timeout_s=20)
        finally:
            loop.close()
    skipped = {loop.t0 + 4, loop.t0 + 5}
    assert skipped.isdisjoint(loop.ticked), loop.ticked  # the overrun skipped ticks ...
    assert any("ticks t=" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)  # ... said so
    service = loop.node.service
    assert service.received == len(JUNCTIONS) * SECONDS and not service.rejected  # every message validated
    assert sum(loop.node.left_at_stop.values()) == 0
    for j in JUNCTIONS:  # every plan sent reached its roadside, in sequence, and plans went on after the overrun
        sent = [seq for jid, seq, _t in loop.sent if jid == j]
        assert sent == list(range(1, len(sent) + 1)), (j, sent)
        assert any(jid == j and t > loop.t0 + 3 for jid, _seq, t in loop.sent), (j, loop.sent)
        assert [decode_command(payload).seq for _topic, payload in loop.plans[j].wait_for(len(sent))] == sent


def test_a_node_stopped_behind_counts_and_logs_what_it_never_ticked(broker, caplog):
    loop = Loop(broker, slow_at=SECONDS - 3, slow_s=3.0)  # still asleep when the feed ends
    with caplog.at_level(logging.WARNING, logger="controller.live"):
        try:
            loop.feed(broker.topics)
            time.sleep(0.3)  # the last messages in the node's inbox
            assert max(loop.ticked) < loop.t0 + SECONDS - 1
        finally:
            loop.close()
    service, left = loop.node.service, loop.node.left_at_stop["detectors"]
    assert left >= len(JUNCTIONS) and service.received + left == len(JUNCTIONS) * SECONDS, (service.received, left)
    assert any("not validated" in r.getMessage() for r in caplog.records)

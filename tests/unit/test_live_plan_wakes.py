"""A live node's tick of plans wakes paho's network thread once (controller/live.py, MqttClient.held_wakes): held
from the tick's first plan, released once the service says its plans are out (handed_over) or the tick raised;
the plans are published as before, each on its junction's plan topic, in order."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from controller.adapters.mqtt import MqttSettings, Topics
from controller.config import Config
from controller.live import ServiceNode
from tests.live_fixtures import cross


def _node(events: list) -> ServiceNode:
    settings = MqttSettings(host="127.0.0.1", port=1, username="c", password="", client_id="c")
    node = ServiceNode(Config(), {j: cross(j) for j in ("J1", "J#2")}, settings, start_s=time.time())

    @contextlib.contextmanager
    def held() -> Iterator[None]:
        events.append("hold")
        yield
        events.append("wake")

    node.client.held_wakes = held  # type: ignore[method-assign]
    node.client.publish = lambda topic, payload, qos=0, retain=False: events.append((topic, payload, qos)) or 1  # type: ignore[method-assign]
    return node


def _tick_publishing(node: ServiceNode, junctions: list[str], fail: bool = False):
    def tick(now_s: float) -> None:
        for k, j in enumerate(junctions):
            node.service.publish(SimpleNamespace(junction=j, seq=k), b"plan %d" % k)  # type: ignore[misc]
        if fail:
            raise RuntimeError("after the plans")
        node.service._handed_over()  # type: ignore[misc]

    return tick


def test_a_tick_s_plans_wake_the_network_thread_once_after_the_last():
    events: list = []
    node = _node(events)
    site = Topics(Config().service.site)
    node.service.tick = _tick_publishing(node, ["J1", "J#2", "J1"])  # type: ignore[method-assign]
    node._tick(10.0)
    plans = [(site.plan(j), b"plan %d" % k, 1) for k, j in enumerate(["J1", "J#2", "J1"])]
    assert events[:5] == ["hold", *plans, "wake"]
    assert node.sent == [("J1", 0), ("J#2", 1), ("J1", 2)]
    events.clear()
    node.service.tick = _tick_publishing(node, [])  # type: ignore[method-assign]
    node._tick(11.0)
    assert "hold" not in events and "wake" not in events  # no plan: nothing held


def test_a_tick_that_raises_after_its_plans_wakes_it_too():
    events: list = []
    node = _node(events)
    node.service.tick = _tick_publishing(node, ["J1"], fail=True)  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        node._tick(10.0)
    assert events[0] == "hold" and events[-1] == "wake" and node._held is None

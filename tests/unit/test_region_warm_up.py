"""A sharded real-time replay's region process (sim/mqtt_regions.py) warms its controller up
before it reports "ready" (the replay's field steps only after every region is ready) and before
its clock starts, as `run` and the unsharded real-time replay do (068fa9d): otherwise its first
re-plan tick compiles webster's loop (about a second of CPU) and, at 10x real time, its plans
expire before they arrive. In lockstep too since session 67: the field waits for that tick's `ticked` no longer
than its timeout (a minute), and at load 35 the compile took longer (docs/mqtt.md, Lockstep)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from controller.config import Config
from controller.core.signing import Keyring
from sim import mqtt_regions
from sim.mqtt_regions import RegionSpec


class Node:
    """ServiceNode's part a region process uses, writing what happens into `events`."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.client = type("Client", (), {"_subs": {"tsc/v1/x/J/detectors"}})()
        self.service = None  # summary_parts' (faked in region_events)

    def start(self) -> None:
        self.events.append("start")

    def close(self) -> None:
        self.events.append("close")

    def stats(self) -> dict[str, Any]:
        return {}


class Conn:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def send(self, message: tuple[str, Any]) -> None:
        self.events.append(message[0])


def region_events(monkeypatch: pytest.MonkeyPatch, realtime_factor: float | None, warmed: bool = True) -> list[str]:
    events: list[str] = []

    def warm(policy: str, stop: threading.Event) -> bool:
        events.append(f"warm_up {policy}")
        return warmed

    monkeypatch.setattr(mqtt_regions, "ServiceNode", lambda *args, **kwargs: Node(events))
    monkeypatch.setattr(mqtt_regions, "warm_up_until", warm)
    monkeypatch.setattr(mqtt_regions, "summary_parts", lambda service: {})
    monkeypatch.setattr(mqtt_regions, "run_realtime", lambda node, clock, stop: events.append("clock"))
    monkeypatch.setattr(mqtt_regions, "run_lockstep", lambda node, stop, timeout_s: events.append("lockstep"))
    spec = RegionSpec(
        cfg=Config(),
        junctions={},
        owned=(),
        region="r0",
        settings=None,  # type: ignore[arg-type]  # the stand-in node does not connect
        policy="webster",
        start_s=0.0,
        keyring=Keyring.from_masters({"k1": b"\x01" * 32}),
        realtime_factor=realtime_factor,
    )
    mqtt_regions._run_region(spec, Conn(events), threading.Event())
    return events


def test_a_real_time_region_warms_up_before_it_is_ready_and_its_clock_starts(monkeypatch):
    assert region_events(monkeypatch, 0.1) == ["warm_up webster", "start", "ready", "clock", "close", "done"]


def test_a_region_stopped_while_it_warms_up_never_starts_its_clock(monkeypatch):
    assert region_events(monkeypatch, 0.1, warmed=False) == ["warm_up webster", "close", "done"]


def test_a_lockstep_region_warms_up_before_it_is_ready(monkeypatch):
    assert region_events(monkeypatch, None) == ["warm_up webster", "start", "ready", "lockstep", "close", "done"]

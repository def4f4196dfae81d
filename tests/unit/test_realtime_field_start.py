"""A real-time `simulate --via-mqtt` (sim/mqtt_run.py) maps SUMO's first second to one clock second
after its controllers are up, not after the loop began: a sharded replay's region processes take
seconds to spawn and warm up (tests/unit/test_region_warm_up.py), and the field started that far
behind the clock, its first seconds' feed stale on arrival (session 59, U)."""

from __future__ import annotations

from types import SimpleNamespace

from controller.adapters.mqtt import Topics
from controller.config import Config
from sim import mqtt_run
from sim.mqtt_run import MqttLoop


class Clock:
    factor = 0.1

    def __init__(self) -> None:
        self.t_s = 1_000.0

    def now(self) -> float:
        return self.t_s


def test_the_field_clock_starts_once_the_controllers_are_up(monkeypatch):
    clock = Clock()

    def connect(self: MqttLoop, junctions: object, timeout_s: float) -> None:
        clock.t_s += 40.0  # the controllers come up: 4 wall seconds at 10x

    monkeypatch.setattr(mqtt_run, "ScaledClock", lambda factor: clock)
    monkeypatch.setattr(mqtt_run, "warm_up", lambda policy: None)
    monkeypatch.setattr(MqttLoop, "_controllers", lambda self, *args: None)
    monkeypatch.setattr(MqttLoop, "_connect", connect)
    monkeypatch.setattr(MqttLoop, "_connected", lambda self, cfg: None)
    field = SimpleNamespace(roadside={})
    broker = SimpleNamespace(topics=Topics("city"))
    loop = MqttLoop(field, {}, Config(), "webster", 0.0, broker=broker, realtime_factor=0.1)  # type: ignore[arg-type]
    assert loop.offset_s == 1_041.0  # SUMO's 0 s one clock second after the controllers are up


def test_lockstep_has_no_clock_offset(monkeypatch):
    monkeypatch.setattr(mqtt_run, "warm_up", lambda policy: None)  # (a lockstep replay warms up too: not here)
    monkeypatch.setattr(MqttLoop, "_controllers", lambda self, *args: None)
    monkeypatch.setattr(MqttLoop, "_connect", lambda self, junctions, timeout_s: None)
    monkeypatch.setattr(MqttLoop, "_connected", lambda self, cfg: None)
    field = SimpleNamespace(roadside={})
    broker = SimpleNamespace(topics=Topics("city"))
    loop = MqttLoop(field, {}, Config(), "webster", 0.0, broker=broker)  # type: ignore[arg-type]
    assert (loop.clock, loop.offset_s) == (None, 0.0)

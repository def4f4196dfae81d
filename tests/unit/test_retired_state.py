"""The state a tick replaces is freed after the tick's plans are out (controller/service.py `retired`,
controller/live.py `_idle_share`; issue 12): freeing a region's per-junction records is milliseconds of
reference counting, which no plan waits for any more. A service frees it as its tick ends (after the
commands are handed over or published); a live node that gathers keeps it until its next idle moment
(nothing in its inbox, nothing left to write), as the garbage collector's owed collection, and frees it
before that collection. A tick that finds it still held (no idle moment: an overrun) frees it first. No
broker."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from controller.live import TABLE_LOOK_S
from controller.model import Command
from controller.service import ControllerService
from tests.unit.test_table_idle_time import CFG, CITY, detectors, rig


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield


def _service() -> tuple[ControllerService, list[bool]]:
    """The city under webster in process; `alive`: per command handed over and per tick's end of sending
    (handed_over), whether the state the tick replaced was still alive then."""
    alive: list[bool] = []
    holder: dict[str, weakref.ref] = {}

    def seen(_cmd: Command | None = None) -> None:
        alive.append(holder["old"]() is not None)

    svc = ControllerService(CITY, CFG, "webster", hand_over=seen, handed_over=seen)
    svc.holder = holder  # type: ignore[attr-defined]
    return svc, alive


def _feed(svc: ControllerService, t_s: float) -> None:
    for jid in CITY:
        _kind, junction, payload = detectors(jid, t_s)
        svc.on_detectors(payload, junction=junction)


def test_the_replaced_state_lives_until_the_plans_are_out_and_is_freed_as_the_tick_ends() -> None:
    svc, alive = _service()
    for t in range(100, 106):
        _feed(svc, float(t))
        old = weakref.ref(svc.state)
        svc.holder["old"] = old  # type: ignore[attr-defined]
        svc.tick(float(t))
        assert old() is None and svc.retired is None  # freed as the tick ended
    assert alive and all(alive)  # every command handed over, and every tick's end of sending, before it


def test_retire_in_idle_keeps_it_until_freed_and_a_tick_that_finds_it_held_frees_it_first() -> None:
    svc, _alive = _service()
    svc.retire_in_idle = True
    _feed(svc, 100.0)
    first = svc.state
    svc.holder["old"] = weakref.ref(first)  # type: ignore[attr-defined]
    svc.tick(100.0)
    assert svc.retired is first
    old = weakref.ref(first)
    del first
    _feed(svc, 101.0)
    second = svc.state
    svc.holder["old"] = weakref.ref(second)  # type: ignore[attr-defined]
    svc.tick(101.0)  # no idle moment in between: the first freed at this tick's start
    assert old() is None and svc.retired is second
    svc.retired = None
    assert svc.retired is None


def test_a_gathering_node_frees_it_in_an_idle_moment_before_the_collection() -> None:
    node, _sent = rig()
    node.reads_ahead = True  # as after gather
    node._next_heartbeat = float("inf")  # no table to build
    node.inbox.put(detectors("J00", 100.0))
    replaced = weakref.ref(node.service.state)
    node.tick(100.0)
    assert node.service.retire_in_idle and node.service.retired is not None and replaced() is not None
    assert node._idle_owed() and node._look_s() == TABLE_LOOK_S
    node.inbox.put(detectors("J00", 101.0))
    assert not node._idle_share() and replaced() is not None  # a message waits
    node.inbox.get_nowait()
    node.client.wants_write = lambda: True  # type: ignore[method-assign]
    assert not node._idle_share() and replaced() is not None  # the connection still writes
    node.client.wants_write = lambda: False  # type: ignore[method-assign]
    held_at_collect: list[bool] = []
    collect = node.collector.collect

    def watched() -> None:
        held_at_collect.append(node.service.retired is not None)
        collect()

    node.collector.collect = watched  # type: ignore[method-assign]
    assert node._idle_share() and replaced() is None and node.service.retired is None
    assert held_at_collect == [False]  # freed before the collection
    assert not node._idle_owed() and node._look_s() == 0.5
    node.inbox.put(detectors("J00", 101.0))
    node.tick(101.0)
    assert node.service.retired is not None
    node.close()
    assert node.service.retired is None


def test_a_node_that_does_not_gather_frees_it_in_the_tick() -> None:
    node, _sent = rig()
    node.inbox.put(detectors("J00", 100.0))
    replaced = weakref.ref(node.service.state)
    node.tick(100.0)
    assert not node.service.retire_in_idle and node.service.retired is None and replaced() is None


def test_an_overrun_tick_frees_the_held_state_before_its_own_commands_go_out() -> None:
    """R's review (session 62): the tick that finds the last state still held frees it at its start, before its
    commands are handed over, not only when it files its own at the end (the freeing at the start dropped passed
    every test: a third state kept through the step)."""
    svc, alive = _service()
    svc.retire_in_idle = True
    _feed(svc, 100.0)
    svc.holder["old"] = weakref.ref(svc.state)  # type: ignore[attr-defined]
    svc.tick(100.0)
    first = weakref.ref(svc.retired)  # type: ignore[arg-type]
    svc.holder["old"] = first  # type: ignore[attr-defined]
    alive.clear()
    _feed(svc, 101.0)
    svc.tick(101.0)
    assert alive and not any(alive) and first() is None


def test_a_gathering_node_frees_it_in_idle_time_where_the_collector_was_off_already() -> None:
    """With the collector off before the node starts (IdleCollector leaves it so: nothing owed), the replaced state
    is still owed to the idle time and freed there (R's review, session 62: _idle_owed reading the collector alone
    passed every test; it left the state to the next tick's start, on its path)."""
    gc.disable()
    try:
        node, _sent = rig()
        node.reads_ahead = True
        node._next_heartbeat = float("inf")
        node.inbox.put(detectors("J00", 100.0))
        replaced = weakref.ref(node.service.state)
        node.tick(100.0)
        assert not node.collector.owed and node.service.retired is not None
        assert node._idle_owed() and node._look_s() == TABLE_LOOK_S
        node.client.wants_write = lambda: False  # type: ignore[method-assign]
        assert node._idle_share() and replaced() is None and node.service.retired is None
        node.close()
    finally:
        gc.enable()

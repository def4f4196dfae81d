"""The garbage collector kept off a live node's ticks (controller/live.py IdleCollector; issue 12): a node
that waits for its seconds' messages (gather, [service] tick_wait_max_s) turns CPython's automatic
collections off at its first tick; after each tick, in its next idle moment (nothing in its inbox,
nothing left to write), it runs the one collection CPython's own rule asks for then, if any, the young
generation's threshold at least YOUNG_COUNT_IN_IDLE (a young collection walks the state a tick built). A tick that
finds that still owed does it first. A node that does not gather, or whose process has the collector
off already, leaves it as it is; the node closing turns it on again. No broker."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from controller.live import TABLE_LOOK_S, YOUNG_COUNT_IN_IDLE, IdleCollector, ServiceNode, run_realtime
from tests.unit.test_table_idle_time import CFG, CITY, detectors, rig
from tests.unit.test_tick_wait import Feed


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    """Each test starts with the collector on (tests/conftest.py turns it on again after each)."""
    gc.enable()
    yield


@pytest.fixture
def collections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The generations gc.collect is asked for (recorded, not run); generation 0 over its threshold in idle time."""
    asked: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: asked.append(generation) or 0)
    monkeypatch.setattr(gc, "get_threshold", lambda: (700, 10, 1000))
    monkeypatch.setattr(gc, "get_count", lambda: (YOUNG_COUNT_IN_IDLE + 1, 0, 0))
    return asked


YOUNG = YOUNG_COUNT_IN_IDLE


@pytest.mark.parametrize(
    ("counts", "want"),
    [
        ((YOUNG + 1, 0, 0), [0]),  # generation 0 over YOUNG_COUNT_IN_IDLE
        ((701, 0, 0), []),  # over CPython's 700 only: a young collection would walk the tick's state for nothing
        ((YOUNG, 10, 1000), []),  # none over (a count equal to its threshold is not)
        ((5, 11, 0), [1]),  # generation 1 over its 10, whatever generation 0 reads
        ((YOUNG + 200, 11, 1001), [2]),  # the oldest over its threshold only
        ((0, 0, 1001), [2]),
    ],
)
def test_collect_runs_the_oldest_generation_over_its_threshold_once_after_a_tick(
    monkeypatch: pytest.MonkeyPatch, collections: list[int], counts: tuple[int, int, int], want: list[int]
) -> None:
    monkeypatch.setattr(gc, "get_count", lambda: counts)
    c = IdleCollector()
    c.collect()  # no tick yet: nothing owed
    assert collections == [] and c.in_idle_time == 0 and gc.isenabled()
    c.hold()
    assert not gc.isenabled() and c.held and c.owed
    c.collect()
    assert not gc.isenabled() and not c.owed  # automatic collections still off
    assert collections == want and c.in_idle_time == 1 and c.at_once == 0
    assert c.collections == [want.count(g) for g in range(3)]
    c.collect()  # nothing owed: nothing run
    assert collections == want and c.in_idle_time == 1
    c.hold()
    c.collect()
    assert collections == want * 2 and c.in_idle_time == 2
    c.release()
    assert gc.isenabled() and not c.held and not c.owed


def test_a_young_threshold_above_the_idle_one_is_kept(monkeypatch: pytest.MonkeyPatch, collections: list[int]) -> None:
    """A process that set a young threshold above YOUNG_COUNT_IN_IDLE (gc.set_threshold) keeps its own."""
    monkeypatch.setattr(gc, "get_threshold", lambda: (5 * YOUNG, 10, 1000))
    c = IdleCollector()
    for count, want in ((YOUNG + 1, []), (5 * YOUNG + 1, [0])):
        monkeypatch.setattr(gc, "get_count", lambda count=count: (count, 0, 0))
        c.hold()
        c.collect()
        assert collections == want
    c.release()


def test_a_hold_that_finds_a_collection_owed_runs_it_first(collections: list[int]) -> None:
    c = IdleCollector()
    c.hold()
    c.hold()  # no idle moment in between
    assert (c.at_once, c.in_idle_time, c.owed, gc.isenabled()) == (1, 1, True, False)
    assert len(collections) == 1
    c.release()
    assert gc.isenabled() and not c.owed


def test_a_process_with_the_collector_off_is_left_so(collections: list[int]) -> None:
    gc.disable()
    c = IdleCollector()
    c.hold()
    assert not c.owed and not c.held and not gc.isenabled()
    c.collect()
    c.release()
    assert not gc.isenabled() and collections == [] and c.in_idle_time == 0


def test_a_gathering_nodes_ticks_hold_it_and_it_runs_in_an_idle_moment(collections: list[int]) -> None:
    node, _sent = rig()
    node.reads_ahead = True  # as after gather
    node.inbox.put(detectors("J00", 100.0))
    node.tick(100.0)
    assert not gc.isenabled() and node.collector.owed and node._table is not None
    node.client.wants_write = lambda: False  # type: ignore[method-assign]
    assert node._idle_share() and len(collections) == 1  # the collection first
    while node._idle_share():  # then the heartbeat's table
        pass
    assert len(collections) == 1 and node._table is None
    node.inbox.put(detectors("J00", 101.0))
    node.tick(101.0)
    assert node.collector.owed and len(collections) == 1
    node.inbox.put(detectors("J00", 102.0))
    assert not node._idle_share()  # a message waits: no collection, no share
    node.inbox.get_nowait()
    node.client.wants_write = lambda: True  # type: ignore[method-assign]
    assert not node._idle_share()  # the connection still writes
    node.client.wants_write = lambda: False  # type: ignore[method-assign]
    assert node._idle_share() and len(collections) == 2
    assert not gc.isenabled() and not node.collector.owed and node.collector.in_idle_time == 2
    node.close()
    assert gc.isenabled() and not node.collector.held


@pytest.mark.parametrize("gathers", [False, True])
def test_a_node_that_does_not_gather_or_is_told_not_to_leaves_it_on(gathers: bool) -> None:
    node, _sent = rig()
    node.reads_ahead = gathers
    node.gc_in_idle_time = False if gathers else node.gc_in_idle_time
    node.inbox.put(detectors("J00", 100.0))
    node.tick(100.0)
    assert gc.isenabled() and not node.collector.held


def _city_seconds() -> Feed:
    """The city's messages of seconds 100-102 arriving 10 ms apart from 5 ms after each, the clock at 100.5."""
    jids = sorted(CITY)
    return Feed(
        100.5, [(t + 0.005 + 0.01 * k, detectors(j, t)) for t in (100.0, 101.0, 102.0) for k, j in enumerate(jids)]
    )


def _watched(feed: Feed) -> tuple[ServiceNode, list[tuple[str, float]]]:
    """A node reading `feed` with its own IdleCollector, and the events on the feed's clock: each tick's start
    ("tick", with "gc on" after it if the automatic collections are on then) and end ("ended"), and each
    collection owed when it runs ("collect")."""
    node, _sent = rig()
    node.collector = IdleCollector()
    node.inbox = feed  # type: ignore[assignment]
    events: list[tuple[str, float]] = []
    tick, collect = node._tick, node.collector.collect

    def timed_tick(now_s: float) -> None:
        events.append(("tick", feed.t))
        if gc.isenabled():
            events.append(("gc on", feed.t))
        tick(now_s)
        events.append(("ended", feed.t))

    def timed_collect() -> None:
        if node.collector.owed:
            events.append(("collect", feed.t))
        collect()

    node._tick, node.collector.collect = timed_tick, timed_collect  # type: ignore[method-assign]
    return node, events


def _run(node: ServiceNode, feed: Feed) -> None:
    run_realtime(node, feed, threading.Event(), until_s=102.0, tick_wait_max_s=CFG.service.tick_wait_max_s)


def test_run_realtime_ticks_with_it_off_and_collects_between_the_ticks(collections: list[int]) -> None:
    """The city's messages of each second arriving 10 ms apart from 5 ms after it: every tick runs with
    the automatic collections off; the collection owed after the first runs in the idle time before the
    next second's first message; the one owed after the last is left, and the automatic collections are
    on again when the node closes."""
    feed = _city_seconds()
    node, events = _watched(feed)
    _run(node, feed)
    assert [kind for kind, _ in events] == ["tick", "ended", "collect", "tick", "ended"]
    assert events[1][1] <= events[2][1] < 102.005  # after the first tick, before 102's messages
    assert len(collections) == 1 and node.collector.at_once == 0
    assert not gc.isenabled() and node.collector.owed
    node.close()
    assert gc.isenabled() and not node.collector.held


def test_a_second_all_in_before_it_begins_collects_before_it_without_a_table(collections: list[int]) -> None:
    """Each second's messages all in a second before it (nothing awaited when a tick ends), no heartbeat
    table to build: the collection owed after the tick on 101 runs before second 102 begins, not at its
    tick."""
    feed = Feed(100.5, [(t - 1.0, detectors(j, t)) for t in (101.0, 102.0) for j in sorted(CITY)])
    node, events = _watched(feed)
    node._next_heartbeat = float("inf")  # no table
    _run(node, feed)
    assert [kind for kind, _ in events] == ["tick", "ended", "collect", "tick", "ended"]
    assert events[2][1] < 102.0 and node.collector.at_once == 0 and node._table is None


def test_the_collection_runs_once_the_plans_are_written_not_half_a_second_later(collections: list[int]) -> None:
    """The connection writes the tick's plans for 50 ms after each tick (wants_write): the collection owed runs
    as soon as it is done, gather looking again every TABLE_LOOK_S meanwhile. Before, gather then waited up to
    0.5 s for a message and collected after it: here half a second after the tick (at 5,000 junctions a tick
    ends about half a second after its second, so the collection fell at the next second's first messages, in
    their burst; BENCHMARKS.md, issue 12, T, session 54)."""
    feed = _city_seconds()
    node, events = _watched(feed)
    node._next_heartbeat = float("inf")  # no table: the collection alone waits for the writing

    def writing() -> bool:  # for 50 ms after each tick's end
        ends = [t for kind, t in events if kind == "ended"]
        return bool(ends) and feed.t < ends[-1] + 0.05

    node.client.wants_write = writing  # type: ignore[method-assign]
    _run(node, feed)
    ended = [t for kind, t in events if kind == "ended"]
    collected = [t for kind, t in events if kind == "collect"]
    assert len(ended) == 2 and len(collected) == 1 and node.collector.at_once == 0
    assert ended[0] + 0.05 <= collected[0] <= ended[0] + 0.05 + 2 * TABLE_LOOK_S, (ended, collected)


def test_gather_looks_again_often_only_while_idle_work_waits_for_the_writing() -> None:
    """A collection owed or a table being built: gather's wait for a message lasts TABLE_LOOK_S (the work runs
    once the plans are written); neither: 0.5 s (no polling while there is nothing to do)."""
    node, _sent = rig()
    assert node._look_s() == 0.5
    node.collector.owed = True
    assert node._look_s() == TABLE_LOOK_S
    node.collector.owed = False
    node._table = iter([])
    assert node._look_s() == TABLE_LOOK_S
    node._table = None
    assert node._look_s() == 0.5

"""The heartbeat's junction table built in a live node's idle time (controller/live.py; issue 12):
a node that waits for its seconds' messages (gather, [service] tick_wait_max_s) takes the table's
snapshot at the heartbeat's tick and builds it a share of junctions at a time while nothing is in
its inbox and its connection has nothing left to write (the tick's plans), then publishes it. Its
pages equal, byte for byte, those the former code built at once in the tick (kept here), however
the service moved on before they were built. A heartbeat that finds the last table not yet built
builds its own at once, as a node that does not gather always does. No broker: the node is never
connected, its publishes are recorded."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from controller.adapters.mqtt import MqttSettings
from controller.config import Config, ServiceConfig
from controller.core.messages import MESSAGE_VERSION, encode_detector_message
from controller.core.override import Override
from controller.junctions import load_intersections
from controller.live import ServiceNode, TableSnapshot, run_realtime, table_build, table_pages
from controller.model import PhaseWish
from controller.operators import junction_table
from tests.unit.test_junction_table_exact import JUNCTIONS as EXACT_JUNCTIONS
from tests.unit.test_junction_table_exact import _former_table, _states
from tests.unit.test_tick_wait import Feed

ROOT = Path(__file__).resolve().parents[2]
CITY = load_intersections(ROOT / "intersections" / "city")
CFG = Config(service=ServiceConfig(site="t", policy="webster", tick_wait_max_s=0.5))


def former_pages(node: ServiceNode) -> list[bytes]:
    """ServiceNode.junction_table_pages as it was before the table left the tick (main 6a871e2)."""
    svc = node.service
    failed = dict(svc.last_result.failed)
    table = junction_table(svc.core, svc.state, node.desk, svc.refused, node.now_s, failed)
    head = {"v": MESSAGE_VERSION, "instance": node.instance, "t": node.now_s, "policy": node.policy_in_force()}
    return paged(table, head, node.service.observed, node.table_page_bytes)


def paged(table: dict, head: dict, observed, page_bytes: int) -> list[bytes]:
    """The former junction_table_pages' pages of a table's rows."""
    sep = (",", ":")
    items = [f"{json.dumps(j)}:{json.dumps(row, separators=sep)}" for j, row in table.items() if j not in observed]
    prefix = json.dumps(head, separators=sep)[:-1]
    budget = page_bytes - len(prefix) - 64
    pages: list[list[str]] = [[]]
    size = 0
    for item in items:
        if pages[-1] and size + len(item) + 1 > budget:
            pages.append([])
            size = 0
        pages[-1].append(item)
        size += len(item) + 1
    n = len(pages)
    body = '{},"page":{},"pages":{},"junctions":{{{}}}}}'
    return [body.format(prefix, k, n, ",".join(c)).encode() for k, c in enumerate(pages)]


@pytest.mark.parametrize("policy", ["adaptive", "webster"])
def test_pages_built_in_shares_equal_the_former_codes_in_every_mode(policy: str) -> None:
    """test_junction_table_exact's states (every mode a row shows; B held on the plan by A, in
    another share; faulty loops; an override, failed and refused junctions), a halo junction: the
    pages built 3 junctions a share equal those of the former code's rows (Core.report's)."""
    jids = list(EXACT_JUNCTIONS)
    ov = Override(jids[5], "alice", "hold", "r1", 10.0, 400.0, PhaseWish(1, 30.0))
    failed = {jids[7]: "policy x failed: ValueError at y.py:1: injected", jids[5]: "also failed"}
    refused, observed = {"Z9": "no cycle"}, {jids[4]}
    for core, state, now_s in _states(policy):
        head = {"v": MESSAGE_VERSION, "instance": "i", "t": now_s, "policy": policy}
        snap = TableSnapshot(core, state, {ov.junction: ov}, refused, failed, now_s, head, observed)
        *shares, pages = table_build(snap, 1500, 3)
        assert len(shares) > 2 * (len(jids) // 3) and not any(shares)
        want = _former_table(core, state, SimpleNamespace(active={ov.junction: ov}), refused, now_s, failed)
        assert pages == paged(want, head, observed, 1500) and len(pages) > 2
        assert table_pages(snap, 1500) == pages


def detectors(jid: str, t_s: float) -> tuple[str, str, bytes]:
    dets = {d.id: ({"car": 1}, 0.1, 8.0) for d in CITY[jid].detectors}
    return ("detectors", jid, encode_detector_message(jid, t_s, 1.0, dets))


def rig() -> tuple[ServiceNode, list[tuple[str, bytes]]]:
    """A node (never connected) of the city but J43 (its halo: read, not shown) whose publishes are
    recorded, (topic, payload); the table's pages 3 junctions a share, and small enough that the
    city's table takes several; one junction it refuses (ZZ)."""
    settings = MqttSettings(host="127.0.0.1", port=1, username="controller", password="", client_id="c")
    node = ServiceNode(CFG, CITY, settings, start_s=99.0, owned=set(CITY) - {"J43"})
    node.service.refused = {"ZZ": "a stage its program never shows"}
    node.table_share_junctions = 3
    node.table_page_bytes = 2000
    sent: list[tuple[str, bytes]] = []

    def publish(topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> int:
        sent.append((topic, payload))
        return 0

    node.client.publish = publish  # type: ignore[method-assign]
    return node, sent


def table_of(node: ServiceNode, sent: list[tuple[str, bytes]]) -> list[bytes]:
    """The table's pages among what was sent, in page order."""
    topic = node.topics.junction_table(node.instance)
    pages = {0 if t == topic else int(t.rsplit("/", 1)[1]): p for t, p in sent if t.startswith(topic)}
    return [pages[k] for k in sorted(pages)]


def test_a_table_built_after_the_service_moved_on_is_its_heartbeats():
    """The heartbeat at second 100 (the node's first tick) leaves its table to the idle time; the
    node ticks on to 103 first (J00 silent from 101: its row's feed age would read 3 s older; the
    others' feed read later; an override taken at J01 meanwhile): the pages built then are those
    the former code built at 100, byte for byte, in several shares."""
    node, sent = rig()
    node.reads_ahead = True  # as after gather
    for t in (100.0, 101.0, 102.0, 103.0):
        for jid in CITY:
            if t == 100.0 or jid != "J00":
                node.inbox.put(detectors(jid, t))
        node.tick(t)
        if t == 100.0:
            want = former_pages(node)
            assert node._table is not None and not table_of(node, sent)  # left to the idle time
            assert node.desk is not None
            node.desk.active["J01"] = Override("J01", "alice", "hold", "r1", 100.0, 400.0, PhaseWish(0, 60.0))
    assert len(want) > 1  # pages
    rows = {j: r for p in want for j, r in json.loads(p)["junctions"].items()}
    assert "J43" not in rows and rows["ZZ"]["mode"] == "refused" and len(rows) == len(CITY)
    assert former_pages(node) != want and json.loads(former_pages(node)[0])["t"] == 103.0  # it moved on
    shares = 0
    while node._table is not None:
        assert node._table_share()
        shares += 1
    assert shares > len(CITY) // 3
    assert table_of(node, sent) == want
    assert not node._table_share()  # nothing left to build
    assert (node.tables_in_idle_time, node.tables_at_once) == (1, 0)


def test_no_share_while_a_message_waits_or_the_plans_are_being_written():
    node, _sent = rig()
    node.reads_ahead = True
    node.inbox.put(detectors("J00", 100.0))
    node.tick(100.0)
    assert node._table is not None
    node.inbox.put(detectors("J00", 101.0))
    assert not node._table_share()  # a message waits
    node.inbox.get_nowait()
    node.client.wants_write = lambda: True  # type: ignore[method-assign]
    assert not node._table_share()  # the connection still writes
    node.client.wants_write = lambda: False  # type: ignore[method-assign]
    assert node._table_share()


def test_a_heartbeat_that_finds_the_last_table_unbuilt_builds_its_own_at_once():
    node, sent = rig()
    node.reads_ahead = True
    node.inbox.put(detectors("J00", 100.0))
    node.tick(100.0)
    assert node._table is not None and not table_of(node, sent)
    node.inbox.put(detectors("J00", 101.0))
    node._next_heartbeat = 0.0  # the next heartbeat is due (no idle time in between)
    node.tick(101.0)
    assert node._table is None and (node.tables_in_idle_time, node.tables_at_once) == (0, 1)
    assert table_of(node, sent) == former_pages(node)  # the second's table, at once
    node.table_in_idle_time = False  # a taken region's node (takeover.py): at once
    sent.clear()
    node.heartbeat()
    assert node._table is None and table_of(node, sent) == former_pages(node)


def test_gather_builds_it_between_the_messages_and_before_the_next_tick():
    """run_realtime with the wait, the city's junctions' messages of each second arriving 10 ms
    apart from 5 ms after it: the first tick's heartbeat table is built in shares taken only while
    the inbox is empty, and is out, equal to the former code's at that tick, before the next tick
    starts; the ticks take the same messages as they would without it."""
    jids = sorted(CITY)
    arrivals = [(t + 0.005 + 0.01 * k, detectors(j, t)) for t in (100.0, 101.0, 102.0) for k, j in enumerate(jids)]
    feed = Feed(100.5, arrivals)
    node, sent = rig()
    node.inbox = feed  # type: ignore[assignment]
    events: list[tuple] = []
    tick, share = node._tick, node._table_share

    def timed_tick(now_s: float) -> None:
        events.append(("tick", now_s, feed.t, len(sent)))
        tick(now_s)
        if node._table is not None:
            events.append(("want", former_pages(node)))

    def timed_share() -> bool:
        empty = feed.empty()
        built = share()
        if built:
            events.append(("share", feed.t, empty))
        return built

    node._tick, node._table_share = timed_tick, timed_share  # type: ignore[method-assign]
    run_realtime(node, feed, threading.Event(), until_s=102.0, tick_wait_max_s=CFG.service.tick_wait_max_s)
    ticks = [e for e in events if e[0] == "tick"]
    assert [(t, start) for _, t, start, _ in ticks] == [(101.0, 101.005 + 0.01 * (len(jids) - 1)), (102.0, 102.195)]
    wants = [e[1] for e in events if e[0] == "want"]
    assert len(wants) == 1  # the first tick's heartbeat
    shares = [e for e in events if e[0] == "share"]
    assert len(shares) > len(CITY) // 3 and all(empty for _, _, empty in shares)
    assert all(ticks[0][2] <= at < ticks[1][2] for _, at, _ in shares), shares
    assert table_of(node, sent[: ticks[1][3]]) == wants[0]  # out before the next tick


@pytest.mark.parametrize("share_s", [0.05, 0.1])
def test_a_second_all_in_before_it_begins_builds_the_table_until_then_and_no_longer(share_s: float) -> None:
    """Each second's messages all in before it begins (second 102's at 101.0, as the tick on 101
    starts: nothing is awaited then), each share of the table taking `share_s` of the clock: at
    0.05 s the whole table (15 shares) is built in the idle time before second 102 and out before
    its tick; at 0.1 s it is not done by 102.0, and the tick on 102 starts when the share under way
    at 102.0 ends, not when the table is done (R, session 52)."""
    jids = sorted(CITY)
    arrivals = [(t - 1.0, detectors(j, t)) for t in (101.0, 102.0) for j in jids]
    feed = Feed(100.5, arrivals)
    node, sent = rig()
    node.inbox = feed  # type: ignore[assignment]
    ticks: list[tuple[float, float, int]] = []
    tick, share = node._tick, node._table_share

    def timed_tick(now_s: float) -> None:
        ticks.append((now_s, feed.t, len(sent)))
        tick(now_s)

    def costly_share() -> bool:
        built = share()
        if built:
            feed.t += share_s
        return built

    node._tick, node._table_share = timed_tick, costly_share  # type: ignore[method-assign]
    run_realtime(node, feed, threading.Event(), until_s=102.0, tick_wait_max_s=CFG.service.tick_wait_max_s)
    assert [t for t, _, _ in ticks] == [101.0, 102.0]
    assert ticks[1][1] < 102.0 + share_s + 1e-9  # the table never holds the tick back
    if share_s == 0.05:
        assert node._table is None and table_of(node, sent[: ticks[1][2]])  # out before the tick on 102
    else:
        assert node._table is not None  # the rest after the tick on 102

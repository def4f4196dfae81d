"""The retained junction table (controller/live.py, docs/mqtt.md) in pages: a table larger than
the broker's message limit (5,000 junctions: 1.3 MB, over Mosquitto's 1 MiB) goes out as several
retained messages, each under the node's page size, that together hold every row; a table that
shrinks clears the pages it no longer has. Here the city's 20 junctions (about 5.4 kB) against a
broker that drops anything over 4,000 bytes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from controller.adapters.mqtt import MqttClient, MqttSettings
from controller.config import Config, ServiceConfig
from controller.junctions import load_intersections
from controller.live import ServiceNode
from sim.broker import CONTROLLER, Broker
from tests.live_fixtures import skip_without_mosquitto

skip_without_mosquitto()

pytestmark = [pytest.mark.slow, pytest.mark.timeout(30), pytest.mark.wallclock]  # broker, 0.3 s waits

ROOT = Path(__file__).resolve().parents[2]
SITE = "t"
CITY = load_intersections(ROOT / "intersections" / "city")
LIMIT_BYTES = 4000


class Retained:
    """A monitor's view of the table's retained topics."""

    def __init__(self, broker: Broker, table_topic: str) -> None:
        self.got: dict[str, bytes] = {}
        self.cv = threading.Condition()
        self.client = MqttClient(broker.settings("monitor"), self._on)
        self.client.subscribe([table_topic, f"{table_topic}/+"], qos=1)
        self.client.start()

    def _on(self, topic: str, payload: bytes) -> None:
        with self.cv:
            self.got[topic] = payload
            self.cv.notify_all()

    def pages(self, n: int) -> list[dict]:
        """The retained pages, once n of them are in (the client closed: one connection per user)."""
        with self.cv:
            ok = self.cv.wait_for(lambda: len(self.got) >= n, 5.0)
        time.sleep(0.3)  # anything retained beyond n would be in by now
        self.client.close()
        assert ok, sorted(self.got)
        return [json.loads(p) for p in self.got.values() if p]


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", SITE, CITY, message_size_limit=LIMIT_BYTES) as b:
        yield b


def test_a_table_over_the_brokers_limit_goes_out_in_retained_pages(broker):
    node = ServiceNode(Config(service=ServiceConfig(site=SITE)), CITY, broker.settings(CONTROLLER))
    assert len(node.junction_table_pages()) == 1 and len(node.junction_table()) > LIMIT_BYTES
    node.table_page_bytes = 2000
    node.start()
    try:
        pages = node.junction_table_pages()
        assert len(pages) >= 3 and all(len(p) <= 2000 for p in pages)
        table_topic = node.topics.junction_table(node.instance)
        seen = Retained(broker, table_topic).pages(len(pages))
        assert sorted(p["page"] for p in seen) == list(range(len(pages)))
        assert {p["pages"] for p in seen} == {len(pages)}
        rows = [j for p in seen for j in p["junctions"]]
        assert sorted(rows) == sorted(CITY)  # every row once
        assert set(seen[0]["junctions"]["J00"]) >= {"mode", "phase", "queue_pcu"}

        node.table_page_bytes = 3000  # fewer, larger pages: the extra ones are cleared
        fewer = node.junction_table_pages()
        assert len(fewer) < len(pages)
        node.heartbeat()
        deadline = time.monotonic() + 5.0
        while node.client.pending() and time.monotonic() < deadline:  # the broker has them
            time.sleep(0.01)
        later = Retained(broker, table_topic).pages(len(fewer))  # a new subscriber: retained ones only
        assert sorted(p["page"] for p in later) == list(range(len(fewer)))  # the old last page is gone
        assert sorted(j for p in later for j in p["junctions"]) == sorted(CITY)
    finally:
        node.close()


def test_a_row_larger_than_a_page_gets_a_page_of_its_own():
    node = ServiceNode(Config(service=ServiceConfig(site=SITE)), CITY, MqttSettings("127.0.0.1", 1, "u", "", "c"))
    node.table_page_bytes = 10
    pages = [json.loads(p) for p in node.junction_table_pages()]
    assert [len(p["junctions"]) for p in pages] == [1] * len(CITY)
    assert [p["page"] for p in pages] == list(range(len(CITY)))


def test_ctl_status_reads_every_page_of_the_table(broker):
    from controller.ctl import rows, snapshot

    node = ServiceNode(Config(service=ServiceConfig(site=SITE)), CITY, broker.settings(CONTROLLER))
    node.table_page_bytes = 2000
    node.start()
    try:
        assert len(node.junction_table_pages()) >= 3
        snap = snapshot(broker.settings("monitor"), node.topics, node.instance, collect_s=5.0)
        assert sorted(snap["table"]["junctions"]) == sorted(CITY)  # not page 0's rows only
        assert sorted(r[0] for r in rows(snap, now_s=0.0)) == sorted(CITY)
    finally:
        node.close()

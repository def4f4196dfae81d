"""Failover between region instances (controller/takeover.py): who takes a region over, when,
and the hand-back, driven by heartbeats on a fake connection and a fake wall clock."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from controller.adapters.mqtt import MqttSettings, Topics
from controller.adapters.trust import Trust
from controller.config import Config, RegionsConfig
from controller.junctions import load_intersections
from controller.live import ServiceNode
from controller.regions import plan_regions, region_instance, select
from controller.takeover import Failover

ROOT = Path(__file__).resolve().parents[2]


class FakeClient:
    def __init__(self) -> None:
        self.subscribed: list[str] = []

    def subscribe(self, topics, qos=1) -> None:
        self.subscribed += list(topics)

    def unsubscribe(self, topics) -> None:
        gone = set(topics)
        self.subscribed = [t for t in self.subscribed if t not in gone]


class FakeNode:
    """What Failover uses of a ServiceNode: topics, client, tick, close."""

    def __init__(self, region: str = "") -> None:
        self.topics = Topics("city")
        self.client = FakeClient()
        self.region = region
        self.ticks: list[float] = []
        self.closed = False

    def tick(self, now_s, clock_s=None) -> None:
        self.ticks.append(now_s)

    def close(self) -> None:
        self.closed = True

    def subscriptions(self) -> list[str]:
        return []


@pytest.fixture
def setup(monkeypatch):
    city = load_intersections(ROOT / "intersections" / "city")
    cfg = replace(Config(), regions=RegionsConfig(count=3, lease_s=15.0))
    clock = {"t": 0.0}
    made: list[str] = []

    def fake_node(self, name, now_s):
        made.append(name)
        return FakeNode(name)

    monkeypatch.setattr(Failover, "_node", fake_node)
    own = FakeNode("r1")
    f = Failover(own, cfg, city, "r1", Trust(1, None, None), wall=lambda: clock["t"])
    return f, own, clock, made


def beat(f: Failover, region: str, state: str) -> None:
    f._heard(f"tsc/v1/city/service/ctl-1-{region}", json.dumps({"v": 1, "state": state}).encode())


def settle(f: Failover, now_s: float) -> None:
    """Tick until the takeover threads have handed their nodes over."""
    for _ in range(100):
        f.tick(now_s)
        if not f._building:
            return
        time.sleep(0.01)


def test_watches_the_other_instances_heartbeats(setup):
    f, own, _clock, _made = setup
    assert sorted(own.client.subscribed) == ["tsc/v1/city/service/ctl-1-r0", "tsc/v1/city/service/ctl-1-r2"]
    assert own.route == f._route


def test_nothing_is_taken_during_the_first_lease(setup):
    f, _own, clock, made = setup
    clock["t"] = 14.0
    settle(f, 14.0)
    assert made == [] and f.taken == {}


def test_an_offline_region_goes_to_its_successor_only(setup):
    f, own, clock, made = setup
    clock["t"] = 20.0
    beat(f, "r0", "online")
    beat(f, "r2", "offline")  # r2's successor is r0 (alive): not ours
    settle(f, 20.0)
    assert made == []
    beat(f, "r0", "offline")  # r0's successor is r1 (us), and r2's successor is now r1 as well
    settle(f, 21.0)
    assert sorted(made) == ["r0", "r2"] and sorted(f.taken) == ["r0", "r2"]
    f.tick(22.0)
    assert f.taken["r0"].ticks[-1] == 22.0 and own.ticks[-1] == 22.0


def test_a_heartbeat_nested_past_the_json_reader_s_depth_is_not_a_beat(setup):
    """A beat of 2 kB of brackets (1,100 deep: the json module's RecursionError) is ignored as malformed
    JSON is, not raised into the connection's callback; the region is still taken after its lease."""
    f, _own, clock, made = setup
    clock["t"] = 16.0
    beat(f, "r0", "online")
    beat(f, "r2", "online")
    clock["t"] = 16.0 + 15.5
    f._heard("tsc/v1/city/service/ctl-1-r0", b"[" * 1100 + b"]" * 1100)
    beat(f, "r2", "online")
    settle(f, 32.0)
    assert made == ["r0"]


def test_a_heartbeat_that_is_json_but_not_an_object_is_not_a_beat(setup):
    """A beat that reads as JSON but is no object (a list, a string, a number) is ignored, not raised
    into the connection's callback; the region is still taken after its lease (R, session 49)."""
    f, _own, clock, made = setup
    clock["t"] = 16.0
    beat(f, "r0", "online")
    beat(f, "r2", "online")
    clock["t"] = 16.0 + 15.5
    for body in (b'[{"v": 1, "state": "online"}]', b'"online"', b"1"):
        f._heard("tsc/v1/city/service/ctl-1-r0", body)
    beat(f, "r2", "online")
    settle(f, 32.0)
    assert made == ["r0"]


def test_a_silent_region_is_taken_after_its_lease_and_handed_back(setup):
    f, _own, clock, made = setup
    clock["t"] = 16.0
    beat(f, "r0", "online")
    beat(f, "r2", "online")
    settle(f, 16.0)
    assert made == []
    clock["t"] = 16.0 + 15.5  # r0 silent past its lease; r2 beats on
    beat(f, "r2", "online")
    settle(f, 32.0)
    assert made == ["r0"]
    node = f.taken["r0"]
    beat(f, "r0", "online")  # back: handed back, its node closed
    settle(f, 33.0)
    assert "r0" not in f.taken and node.closed
    assert made == ["r0"]


def test_the_taker_runs_the_lost_region_on_its_own_connection():
    """One connection per broker user: the taken region's node subscribes and publishes on the
    instance's client, gets the messages of the junctions it watches (a border junction goes to
    both nodes, an override to its owner only), and its own topics go when it is handed back."""
    city = load_intersections(ROOT / "intersections" / "city")
    cfg = replace(Config(), regions=RegionsConfig(count=2, lease_s=15.0))
    rcfg, watched, owned = select(cfg, city, "r1")
    settings = MqttSettings("127.0.0.1", 1, "controller", "", "tsc-city-ctl-r1")
    own = ServiceNode(rcfg, watched, settings, region="r1", owned=owned)
    own.client.subscribe(own.subscriptions())  # what start() does, without a broker
    f = Failover(own, cfg, city, "r1", Trust(1, None, None))
    f._take("r0", 0.0)
    node = f._built["r0"]
    assert node.client is own.client and node.instance == f"{rcfg.service.instance}-for-r0"
    lost = plan_regions(cfg, city).region("r0")
    mine_only = sorted(owned - set(lost.watched))[0]
    border = sorted(set(lost.owned) & set(watched))[0]  # r0's junction in r1's halo
    theirs_only = sorted(set(lost.owned) - set(watched))[0]
    subs = own.client._subs
    assert own.topics.detectors(theirs_only) in subs and own.topics.overrides_of(theirs_only) in subs

    def inboxes(topic: str) -> tuple[int, int]:
        own._on_message(topic, b"{}")
        counts = (own.inbox.qsize() + own.overrides.qsize(), node.inbox.qsize() + node.overrides.qsize())
        for q in (own.inbox, own.overrides, node.inbox, node.overrides):
            while not q.empty():
                q.get_nowait()
        return counts

    assert inboxes(own.topics.detectors(mine_only)) == (1, 0)
    assert inboxes(own.topics.detectors(theirs_only)) == (0, 1)
    assert inboxes(own.topics.status(border)) == (1, 1)
    assert inboxes(own.topics.override(border, "alice")) == (0, 1)  # r0 owns it
    assert inboxes(own.topics.override(mine_only, "alice")) == (1, 0)
    f.taken.update(f._built)
    f._hand_back("r0")
    assert own.topics.detectors(theirs_only) not in subs and own.topics.overrides_of(theirs_only) not in subs
    assert own.topics.detectors(border) in subs and own.topics.detectors(mine_only) in subs
    assert inboxes(own.topics.detectors(theirs_only)) == (0, 0) and own.unrouted == 1


def test_the_failover_report_knows_an_epoch_by_who_began_it(tmp_path):
    """sim/failover_check.py tells the lost instance's, the taker's and the returned instance's
    epochs apart by who began them (the audit store's `epochs` table), not by when the roadsides'
    statuses are dated: here their clock runs 12 s behind, and the returned instance's first
    statuses are dated before its start; every junction still ends "returned"."""
    from controller.adapters.audit import AuditStore
    from sim.failover_check import _report, region_epochs

    cfg = Config()
    r0, r1 = region_instance(cfg, "r0"), region_instance(cfg, "r1")
    store = AuditStore(tmp_path / "audit.sqlite")
    first = store.begin_epoch(r0, 1000.0)
    store.begin_epoch(r1, 1000.5)
    taker = store.begin_epoch(f"{r1}-for-r0", 1016.0)
    back = store.begin_epoch(r0, 1030.0)
    store.close()
    killed_wall, back_wall, speed = 1015.0, 1030.0, 5.0
    epochs = region_epochs(tmp_path / "audit.sqlite", cfg, "r0", killed_wall)
    assert (epochs.before, epochs.taker, epochs.back) == ({first}, {taker}, {back})
    lag_s = 12.0  # the roadsides' clock 12 service seconds behind Unix time x speed
    rows = []
    for wall, epoch in ((1010.0, first), (1017.0, taker), (1025.0, taker), (1031.0, back), (1040.0, back)):
        for j in ("J00", "J01"):
            rows.append((j, wall * speed - lag_s, "adaptive", epoch, f"{j}-p", wall))
    assert rows[6][1] < back_wall * speed  # the returned epoch's first status dated before the return
    r = _report({}, {}, rows, ["J00", "J01"], epochs, (killed_wall, back_wall, speed), cfg, tmp_path)
    assert r["epochs_taker"] == [taker] and r["epochs_back"] == [back]
    for row in r["junctions"].values():
        assert row["ended_under"] == "returned" and row["epoch_at_end"] == back
        assert row["adaptive_again_after_s"] == (1017.0 - killed_wall) * speed - lag_s
    assert r["status_lag_s"] == [lag_s, lag_s]
    assert epochs.of(taker) == "taker" and epochs.of(first) == "lost" and epochs.of(7) is None


def test_a_taken_region_reports_on_the_instance_s_metrics_until_handed_back():
    """After a takeover the lost region's junctions are on the taker's /metrics (the registry passed
    in), in the families and labels of its own junctions (no family twice), its ticks counted with the
    instance's; handed back, its junctions' series go and the own region's stay."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from controller.adapters.metrics import ServiceMetrics

    city = load_intersections(ROOT / "intersections" / "city")
    cfg = replace(Config(), regions=RegionsConfig(count=2, lease_s=15.0))
    rcfg, watched, owned = select(cfg, city, "r1")
    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry, {j: city[j] for j in owned}, rcfg)
    settings = MqttSettings("127.0.0.1", 1, "controller", "", "tsc-city-ctl-r1")
    own = ServiceNode(rcfg, watched, settings, region="r1", owned=owned, metrics=metrics)
    f = Failover(own, cfg, city, "r1", Trust(1, None, None), metrics=metrics)
    lost = set(plan_regions(cfg, city).region("r0").owned)

    def scrape() -> dict[str, dict[str, float]]:
        """Family -> {junction: the sum of its samples} (and the tick count)."""
        fams = list(text_string_to_metric_families(generate_latest(registry).decode()))
        assert len({fam.name for fam in fams}) == len(fams)  # each family once
        out: dict[str, dict[str, float]] = {}
        for fam in fams:
            for s in fam.samples:
                row = out.setdefault(s.name, {})
                key = s.labels.get("junction", "")
                row[key] = row.get(key, 0.0) + s.value
        return out

    before = scrape()
    assert set(before["tsc_junction_mode"]) == set(owned)
    f._take("r0", 0.0)
    f.tick(1.0)  # the tick's thread takes the node over and ticks it beside its own
    assert set(f.taken) == {"r0"}
    taken = scrape()
    for family in (
        "tsc_junction_mode",
        "tsc_junction_queue_pcu",
        "tsc_plans_pushed_total",
        "tsc_junction_cycle_seconds",
    ):
        assert set(taken[family]) == set(owned) | lost, family
    assert all(taken["tsc_junction_mode"][j] == 1.0 for j in lost)  # one mode each (fallback: no feed yet)
    assert taken["tsc_tick_duration_seconds_count"][""] == 2.0  # the own node's tick and the taken one's
    f._hand_back("r0")
    back = scrape()
    for family in (
        "tsc_junction_mode",
        "tsc_junction_queue_pcu",
        "tsc_plans_pushed_total",
        "tsc_junction_cycle_seconds",
    ):
        assert set(back[family]) == set(owned), family
    f._take("r0", 2.0)  # taken again: its series back, once each
    f.tick(3.0)
    assert set(scrape()["tsc_junction_mode"]) == set(owned) | lost


def test_a_takeover_that_fails_leaves_no_series_behind(monkeypatch):
    """A taken region's node that cannot be built (retried at the next tick) takes its junctions'
    series out again: the retry's would otherwise be exported twice."""
    from prometheus_client import CollectorRegistry

    from controller import takeover
    from controller.adapters.metrics import ServiceMetrics

    city = load_intersections(ROOT / "intersections" / "city")
    cfg = replace(Config(), regions=RegionsConfig(count=2, lease_s=15.0))
    rcfg, _watched, owned = select(cfg, city, "r1")
    metrics = ServiceMetrics(CollectorRegistry(), {j: city[j] for j in owned}, rcfg)
    f = Failover(FakeNode("r1"), cfg, city, "r1", Trust(1, None, None), metrics=metrics)

    def broken(*args, **kwargs):
        raise RuntimeError("no node")

    monkeypatch.setattr(takeover, "ServiceNode", broken)
    f._take("r0", 0.0)
    assert f._built == {} and metrics._shares == ()
    junctions = {s.labels["junction"] for m in metrics.registry.collect() for s in m.samples if "junction" in s.labels}
    assert junctions == set(owned)
    with pytest.raises(ValueError, match="only a shared exporter"):
        metrics.leave()


def test_a_taken_region_s_node_builds_its_junction_table_at_once():
    """A taken region's node waits for its second's messages after the own node (Failover.gather):
    no idle time of its own, so its heartbeat's junction table is built and published at once, in
    its tick (live.ServiceNode.table_in_idle_time), not left for an idle time that does not come."""
    city = load_intersections(ROOT / "intersections" / "city")
    cfg = replace(Config(), regions=RegionsConfig(count=2, lease_s=15.0))
    rcfg, watched, owned = select(cfg, city, "r1")
    settings = MqttSettings("127.0.0.1", 1, "controller", "", "tsc-city-ctl-r1")
    own = ServiceNode(rcfg, watched, settings, region="r1", owned=owned)
    f = Failover(own, cfg, city, "r1", Trust(1, None, None))
    f._take("r0", 0.0)
    node = f._built["r0"]
    sent: list[str] = []
    own.client.publish = lambda topic, payload, qos=0, retain=False: sent.append(topic) or 0  # type: ignore[method-assign]
    node.reads_ahead = True  # as after its gather
    node.heartbeat()
    assert node.topics.junction_table(node.instance) in sent and node._table is None
    own.reads_ahead = True
    sent.clear()
    own.heartbeat()  # the own node's is left to its idle time
    assert own.topics.junction_table(own.instance) not in sent and own._table is not None


def test_the_taker_s_node_says_online_from_its_first_tick_only():
    """The node built for a lost region (on a thread of its own) says "starting" until the instance's next tick
    runs it: "online" means it ticks (docs/mqtt.md), as for an instance that warms up."""
    city = load_intersections(ROOT / "intersections" / "city")
    cfg = replace(Config(), regions=RegionsConfig(count=2, lease_s=15.0))
    rcfg, watched, owned = select(cfg, city, "r1")
    own = ServiceNode(
        rcfg, watched, MqttSettings("127.0.0.1", 1, "controller", "", "tsc-ctl-r1"), region="r1", owned=owned
    )
    said: list[tuple[str, str]] = []
    own.client.publish = lambda topic, payload, qos=0, retain=False: said.append((topic, payload))
    f = Failover(own, cfg, city, "r1", Trust(1, None, None))
    f._take("r0", 0.0)
    node = f._built["r0"]
    topic = node.topics.heartbeat(node.instance)
    states = lambda: [json.loads(p)["state"] for t, p in said if t == topic]  # noqa: E731
    assert states() == ["starting"]
    f.tick(1.0)  # the instance's next tick takes the node and ticks it
    assert states() == ["starting", "online"] and json.loads([p for t, p in said if t == topic][-1])["t"] == 1.0

"""Failover between region instances (controller/regions.py, docs/deployment.md).

`run --region NAME` ticks a `Failover` instead of a bare ServiceNode. It watches the retained
heartbeats (docs/mqtt.md) of the other regions' instances through its own node's connection:

- an instance is alive while its last heartbeat says "online" and arrived less than
  [regions] lease_s (wall seconds) ago; its Last Will ("offline") ends that at once; one that
  says "starting" (warming up before its first tick: live._serve) is not alive yet;
- a region whose instance is not alive is taken over by the first live region after it in the
  plan's order (RegionPlan.successor), so exactly one survivor takes it, whatever the order in
  which they notice; nobody takes anything over during its first lease_s (the others' retained
  heartbeats arrive first);
- the taker runs the region with a node of its own (instance `{own instance}-for-{region}`, a
  new plan epoch, above the lost instance's, so the roadsides accept its plans from seq 1), from
  the region's feed and statuses: the roadsides are back under adaptive control as soon as its
  estimates are fresh (service.feed_stale_s). Its heartbeat says "starting" from its build (on a
  thread of its own) and "online" from its first tick, the instance's next;
- that node shares its instance's MQTT connection (a broker that binds client ids to user names,
  as broker-setup writes, admits one connection per user, and a second one would kick the
  first): it subscribes the region's topics on it, publishes its plans and heartbeat through it,
  and `_route` hands it, on the network thread, the messages of the junctions it watches (and
  the overrides of those it owns); a junction both nodes watch (a border) goes to both. Its
  statuses arrive retained; those of the border, already subscribed, are subscribed again with
  retain handling 0 so the broker sends them again (the own node sees them twice: the same
  status, harmless);
- its junctions report on the instance's /metrics, in the families and labels of the own
  region's (ServiceMetrics.share: tsc_junction_mode, the plans, the ticks...; the tsc_network_*
  gauges cover them with the own region's), until it is handed back;
- it hands the region back when the region's own instance is alive again (its new epoch is above
  the taker's, the roadsides follow it): the node says "offline" and its topics that nobody
  else of the instance needs are unsubscribed.

A killed instance's Last Will ("offline", published by the broker as soon as its TCP connection
closes) makes the takeover immediate; lease_s bounds it when the host vanishes silently.

Until the taker's first plans, the lost region's roadsides keep the plans they hold and fall
back to their local programs at expiry (roadside.plan_ttl_s, roadside.backup_s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from controller.adapters.audit import boot_epoch
from controller.adapters.metrics import ServiceMetrics
from controller.adapters.mqtt import topic_level
from controller.adapters.trust import Trust
from controller.config import Config
from controller.core.jsonread import read_json
from controller.errors import FeedError
from controller.live import Clock, ServiceNode
from controller.model import Intersection
from controller.regions import plan_regions, region_instance

log = logging.getLogger(__name__)


class Failover:
    """One instance's nodes: its own region's, and those of the regions it took over. Ticked by
    controller.live.run_realtime like a single node."""

    def __init__(
        self,
        own: ServiceNode,
        cfg: Config,
        city: Mapping[str, Intersection],
        region: str,
        trust: Trust,
        *,
        metrics: ServiceMetrics | None = None,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        """cfg: the city's configuration (not the region's); city: every junction. metrics: the
        own node's exporter: a taken region's junctions join its families (ServiceMetrics.share)
        while it is taken, so the region does not go dark on the instance's /metrics."""
        self.own, self.cfg, self.city, self.region = own, cfg, city, region
        self.trust, self._wall, self.metrics = trust, wall, metrics
        self._exporters: dict[str, ServiceMetrics] = {}  # the taken regions' nodes' (ServiceMetrics.share)
        self.plan = plan_regions(cfg, city)
        self.lease_s = cfg.regions.lease_s
        self.taken: dict[str, ServiceNode] = {}
        self._building: set[str] = set()  # regions whose node is being built off the tick's thread
        self._built: dict[str, ServiceNode] = {}
        self._beats: dict[str, tuple[str, float]] = {}  # region -> (state, wall time heard)
        self._lock = threading.Lock()
        self._started = wall()
        self._region_of = {own.topics.heartbeat(region_instance(cfg, r)): r for r in self.plan.names if r != region}
        mine = self.plan.region(region)
        self._levels = ({topic_level(j) for j in mine.watched}, {topic_level(j) for j in mine.owned})
        # the taken regions' nodes with the topic levels of the junctions they watch and own,
        # replaced whole (the network thread reads it without the lock)
        self._routes: tuple[tuple[ServiceNode, frozenset[str], frozenset[str]], ...] = ()
        own.route = self._route
        own.client.subscribe(list(self._region_of), qos=1)

    # -- messages (network thread) --------------------------------------------------------
    def _route(self, topic: str, payload: bytes) -> bool:
        """Heartbeats to `_heard`; a junction's messages to the taken regions' nodes that watch
        it (overrides: to the one that owns it). True: the own node must not see it."""
        if topic in self._region_of:
            self._heard(topic, payload)
            return True
        routes = self._routes
        if not routes:
            return False
        topics = self.own.topics
        parts = topics.split(topic)
        if parts is not None:
            for node, watched, _owned in routes:
                if parts[0] in watched:
                    node._on_message(topic, payload)
            return parts[0] not in self._levels[0]
        who = topics.split_override(topic)
        if who is None:
            return False
        for node, _watched, owned in routes:
            if who[0] in owned:
                node._on_message(topic, payload)
                return True
        return who[0] not in self._levels[1]

    def _heard(self, topic: str, payload: bytes) -> None:
        region = self._region_of.get(topic)
        if region is None:
            return
        try:
            beat = read_json(payload)
        except FeedError:  # (not JSON, nested past the json module's depth: core/jsonread.py)
            return
        if not isinstance(beat, dict):
            return
        state = beat.get("state")
        with self._lock:
            self._beats[region] = (str(state), self._wall())

    def alive(self) -> set[str]:
        """Regions whose instance is alive (this one included)."""
        now = self._wall()
        with self._lock:
            beats = dict(self._beats)
        return {self.region} | {r for r, (state, at) in beats.items() if state == "online" and now - at <= self.lease_s}

    # -- ticks ----------------------------------------------------------------------------
    def gather(self, t_s: float, until_s: float, clock: Clock, stop: threading.Event) -> bool:
        """run_realtime's wait for second t_s's messages ([service] tick_wait_max_s): the own
        node's, then each taken region's node's, all by the same latest start."""
        return all(node.gather(t_s, until_s, clock, stop) for node in (self.own, *self.taken.values()))

    def tick(self, now_s: float, clock_s: float | None = None) -> None:
        self.own.tick(now_s, clock_s)
        with self._lock:
            built, self._built = self._built, {}
            self._building -= set(built)
        self.taken.update(built)
        for node in list(self.taken.values()):
            node.tick(now_s, clock_s)
        self.review(now_s)

    def review(self, now_s: float) -> None:
        """Take over the regions this instance is the successor of (their node is built on a
        thread of its own: the own region's ticks go on meanwhile); hand back the live ones."""
        if self._wall() - self._started < self.lease_s:
            return
        alive = self.alive()
        with self._lock:
            busy = set(self._building)
        for r in self.plan.names:
            if r in alive and r in self.taken:
                log.warning("region=%s its instance is back: handing it back", r)
                self._hand_back(r)
            elif r in alive or r in self.taken or r in busy:
                continue
            elif self.plan.successor(r, alive) == self.region:
                with self._lock:
                    self._building.add(r)
                threading.Thread(target=self._take, args=(r, now_s), name=f"takeover-{r}", daemon=True).start()

    def _hand_back(self, name: str) -> None:
        """Stop routing to the region's node, close it ("offline" on the shared connection) and
        unsubscribe the topics that neither the own node nor another taken one needs."""
        node = self.taken.pop(name)
        with self._lock:
            self._routes = tuple(r for r in self._routes if r[0] is not node)
            others = [r[0] for r in self._routes]
        node.close()
        with self._lock:
            exporter = self._exporters.pop(name, None)
        if exporter is not None:
            exporter.leave()
        keep = set(self.own.subscriptions()).union(*(n.subscriptions() for n in others))
        self.own.client.unsubscribe(t for t in node.subscriptions() if t not in keep)

    def _take(self, name: str, now_s: float) -> None:
        try:
            node = self._node(name, now_s)
        except Exception:
            log.exception("region=%s takeover failed; retried at the next tick", name)
            with self._lock:
                self._building.discard(name)
                exporter = self._exporters.pop(name, None)
            if exporter is not None:
                exporter.leave()
            return
        with self._lock:  # still in _building until the tick's thread takes it
            self._built[name] = node

    def _node(self, name: str, now_s: float) -> ServiceNode:
        region = self.plan.region(name)
        instance = f"{region_instance(self.cfg, self.region)}-for-{name}"
        cfg = replace(self.cfg, service=replace(self.cfg.service, instance=instance))
        wall_s = time.time()
        audit = self.trust.audit
        epoch = audit.begin_epoch(instance, wall_s) if audit is not None else boot_epoch(wall_s)
        client = self.own.client
        exporter = None if self.metrics is None else self.metrics.share({j: self.city[j] for j in region.owned}, cfg)
        if exporter is not None:
            with self._lock:  # a failed takeover takes its series out (_take): the retry shares them again
                self._exporters[name] = exporter
        node = ServiceNode(
            cfg,
            {j: self.city[j] for j in region.watched},
            client.settings,
            start_s=now_s,
            metrics=exporter,
            trust=Trust(epoch, self.trust.signer, audit),
            region=name,
            owned=region.owned,
            client=client,
        )
        # its wait for a second's messages comes after the own node's (gather): no idle time of its own
        node.table_in_idle_time = False
        levels = (frozenset(topic_level(j) for j in region.watched), frozenset(topic_level(j) for j in region.owned))
        with self._lock:  # routed before it subscribes: the retained statuses reach it
            self._routes = (*self._routes, (node, *levels))
        node.start(wait=False, serving=False)  # "starting" until its first tick (with the region's next) says "online"
        # the border's statuses were subscribed already (the own node's halo): sent again
        border = set(region.watched) & set(self.plan.region(self.region).watched)
        client.subscribe([node.topics.status(j) for j in sorted(border)], qos=1, retained_again=True)
        log.warning(
            "region=%s its instance is gone: taken over by instance=%s junctions=%d epoch=%d",
            name,
            instance,
            len(region.owned),
            epoch,
        )
        return node

    def close(self) -> None:
        with self._lock:
            self.taken.update(self._built)
            self._built = {}
            self._routes = ()
        for node in self.taken.values():
            node.close()
        self.taken.clear()
        self.own.close()

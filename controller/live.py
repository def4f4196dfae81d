"""`run`: the controller service on MQTT, and the clocks that drive it.

`ServiceNode` binds a ControllerService to a broker. Messages arrive on paho's network thread
and only go into an inbox; the thread that owns the node drains the inbox, validates (in the
service), ticks and publishes plans — the service itself is never shared between threads.

Two ways to drive a node:

- `run_realtime`: a tick every decision period of a clock (core/safety.py DECISION_PERIOD_S,
  1 s: the feed is 1 Hz by contract; `realtime_factor` < 1 runs a faster clock for demos);
- `run_lockstep`: replays. The field publishes every junction's detector message and status for
  second t, then a clock message saying how many of each it sent; the node ticks at t once all
  of them are in, and answers with a `ticked` message listing the plans it published
  (docs/mqtt.md, "Lockstep"). QoS 1 redeliveries are recognised and dropped here, so a replay
  through a broker sees exactly the inputs of an in-process replay.
"""

from __future__ import annotations

import gc
import heapq
import json
import logging
import math
import os
import queue
import signal
import statistics
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

import orjson
from prometheus_client import CollectorRegistry

from controller.adapters import checkpoints
from controller.adapters.audit import AuditStore
from controller.adapters.compile_cache import warm_up
from controller.adapters.metrics import MetricsServer, ServiceMetrics
from controller.adapters.mqtt import MqttClient, MqttSettings, Topics, topic_level
from controller.adapters.mqtt_pump import MqttPump
from controller.adapters.operator_metrics import OperatorMetrics
from controller.adapters.trust import Trust, open_trust
from controller.config import Config, ServiceConfig, beside_config
from controller.core import feedbatch, feedpack
from controller.core.jsonread import read_json
from controller.core.messages import MESSAGE_VERSION
from controller.core.override import Override
from controller.core.policies import UnknownPolicyError
from controller.core.safety import DECISION_PERIOD_S
from controller.core.step import Core, CoreState
from controller.errors import AdapterError, ConfigError, FeedError
from controller.junctions import load_intersections
from controller.model import VEHICLE_CLASSES, Command, Intersection
from controller.operators import AuditSink, OperatorDesk, junction_table, newest_first
from controller.service import ControllerService, Observer, Recorder
from controller.validation import DeskValidation, RecentCounts, TwinMetrics, ValidationGate

if TYPE_CHECKING:  # pyarrow loads with it: only where a run records
    from controller.adapters.archive import ArchiveRecorder

log = logging.getLogger(__name__)

SUMMARY_EVERY_S = 60.0  # wall seconds between summary log lines
LOCKSTEP_TIMEOUT_S = 60.0  # wall seconds a lockstep party waits for the other side before giving up
# pumped lockstep node reading ahead: its connection is looked at (a poll, ~10-50 µs) at most this often, so
# a message arriving meanwhile waits in the socket at most about this long plus one read (~50 µs)
READ_AHEAD_LOOK_S = 0.001
# The junction table's retained messages stay under this size: the service's own limit on what
# it reads (256 KiB, docs/mqtt.md) and well under brokers' message limits (Mosquitto's
# message_size_limit, 1 MiB in sim/broker.py); a larger table goes out in pages.
TABLE_PAGE_BYTES = 256 * 1024
# A live node (gather: [service] tick_wait_max_s) builds the heartbeat's junction table from the tick's
# snapshot in the tick thread's idle time, this many rows a share (~5 ms): between shares it takes
# the messages that came in (BENCHMARKS.md, issue 12, T, session 52)
TABLE_SHARE_JUNCTIONS = 200
# ... and while the connection still writes (the tick's plans), it looks again this often (s)
TABLE_LOOK_S = 0.002
# Second-generation garbage collections per full one once the heap is frozen (freeze_heap;
# CPython's default 10). A tick's garbage is freed by reference counting: full passes over a
# 2,500-junction region's state found nothing to collect, and one came every tick at that size, a
# share of the tick thread's CPU no decision needs (BENCHMARKS.md, S session 28). Cycles are still collected,
# a hundred times more rarely.
FULL_GC_AFTER_GEN1 = 1000
# A live node's young collections in its idle time (IdleCollector) come only once the young generation's count
# (container objects allocated less those freed since its last collection) passes this, not at CPython's
# threshold (700). A young collection walks every young object still alive: at a region's size the whole state
# the last tick built, ~25-60 ms at 2,500 junctions, and it found nothing to collect (a tick's garbage is freed
# by reference counting); at 700 it came every other tick, about a tenth of the node's CPU (BENCHMARKS.md,
# issue 12, S, session 65). Garbage in a cycle, if any, waits until at most this many such objects.
YOUNG_COUNT_IN_IDLE = 10_000


class IdleCollector:
    """The garbage collector kept off a live node's ticks (gather): `hold`, at a tick's start, turns
    CPython's automatic collections off (from then on, while the node runs); `collect`, in the node's next
    idle moment after a tick, runs the one collection CPython's rule asks for then, if any (the oldest
    generation whose count is over its threshold; FULL_GC_AFTER_GEN1 for the oldest, YOUNG_COUNT_IN_IDLE at
    least for the young one). A tick's garbage is freed by reference counting. Inside the tick, the young
    generation's count (allocations less deallocations) passed its 700 dozens of times a tick at a region's
    size, as the new state was built before the old was freed, and each time a collection walked the young
    objects alive (a tick's time measured in BENCHMARKS.md, issue 12, T, session 53); read once a tick, in
    idle time, it passed 700 every other tick without roadside statuses at 2,500 junctions (with them, every
    tick), each collection walking the state the tick built and finding nothing: hence YOUNG_COUNT_IN_IDLE.
    Garbage in a cycle adds to the count until it is collected, as before. A collection
    still owed when a tick starts (no idle moment since the last tick: an overrun) is run then
    (`at_once`). A process whose collector is off already (gc.disable) is left so. `release`: the
    automatic collections on again (the node closes: ServiceNode.close)."""

    def __init__(self) -> None:
        self.held = False  # automatic collections off since the first hold, until release
        self.owed = False  # a tick since the last collect
        self.in_idle_time = 0  # collect calls after a tick
        self.at_once = 0  # ticks that found the last tick's collect not done, and did it first
        self.collections = [0, 0, 0]  # collections run, per generation

    def hold(self) -> None:
        if self.owed:
            self.at_once += 1
            self.collect()
        if not self.held and gc.isenabled():
            gc.disable()
            self.held = True
        self.owed = self.held

    def collect(self) -> None:
        if not self.owed:
            return
        self.owed = False
        self.in_idle_time += 1
        counts, (young, middle, oldest) = gc.get_count(), gc.get_threshold()
        limits = (max(young, YOUNG_COUNT_IN_IDLE), middle, oldest)
        for generation in (2, 1, 0):
            if counts[generation] > limits[generation]:
                gc.collect(generation)
                self.collections[generation] += 1
                return

    def release(self) -> None:
        if self.held:
            self.held = self.owed = False
            gc.enable()


class Clock(Protocol):
    def now(self) -> float:
        """Service time, seconds."""

    def wait_until(self, t_s: float, stop: threading.Event) -> bool:
        """Block until service time t_s; False if `stop` was set first."""

    def wall_until(self, t_s: float) -> float:
        """Wall seconds from now until service time t_s (<= 0 once it has passed)."""


class ScaledClock:
    """Service time = Unix time / factor. At factor 1 it is the wall clock; below 1 it runs
    faster, and every process on the machine computes the same value, so a demo's SUMO field
    and the service agree on the time without exchanging it."""

    def __init__(self, factor: float = 1.0) -> None:
        if not factor > 0:
            raise ValueError(f"realtime factor must be > 0, got {factor}")
        self.factor = factor

    def now(self) -> float:
        return time.time() / self.factor

    def wall_until(self, t_s: float) -> float:
        return t_s * self.factor - time.time()

    def wait_until(self, t_s: float, stop: threading.Event) -> bool:
        while True:
            wait_s = t_s * self.factor - time.time()
            if wait_s <= 0:
                return not stop.is_set()
            if stop.wait(min(wait_s, 0.5)):
                return False


@contextmanager
def stop_on_signals(stop: threading.Event, signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """While inside: `stop` set at SIGINT or SIGTERM, by a thread of its own; the signal's handler only writes a
    byte to a pipe that thread reads. Python runs a handler in the main thread between two of its bytecodes, also
    inside `stop.wait()` while that holds the event's lock: a handler that called `stop.set()` there waited for the
    lock for ever, and the process ignored SIGTERM (about half the signals with the main thread in and out of
    `stop.wait(0)`: tests/unit/test_stop_on_signals.py). A live node waits on `stop` between ticks
    (ScaledClock.wait_until)."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    pid, leaving = os.getpid(), threading.Event()

    def watch() -> None:
        while os.read(read_fd, 64) and not leaving.is_set():
            stop.set()

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != pid:  # a child forked inside: its own copy of `stop`, as before
            stop.set()
            return
        with suppress(OSError):  # the pipe full: a signal already waits to be read
            os.write(write_fd, b"s")

    watcher = threading.Thread(target=watch, name="stop-on-signals", daemon=True)
    watcher.start()
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        leaving.set()
        with suppress(OSError):  # wakes the watcher (a forked child may hold the pipe open: no end-of-file)
            os.write(write_fd, b"x")
        watcher.join()
        os.close(write_fd)
        os.close(read_fd)


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, math.ceil(q / 100 * len(v)) - 1))]


def _trust_kwargs(trust: Trust | None) -> dict[str, Any]:
    if trust is None:  # lockstep replays and tests: epoch 0, unsigned, no audit trail
        return {}
    return {"epoch": trust.epoch, "signer": trust.signer, "audit": trust.audit}


class NodeMetrics(Observer, TwinMetrics, Protocol):
    """What a live node reports (the Prometheus exporter, ServiceMetrics, implements it): its
    service's run (Observer) and its operators' desk's twin verdicts (TwinMetrics)."""


def desk_validation(
    cfg: Config, junctions: Mapping[str, Intersection], audit: AuditSink | None, metrics: TwinMetrics | None = None
) -> tuple[RecentCounts | None, DeskValidation | None]:
    """[validation] enabled (docs/validation.md): the recent-counts window the service feeds, and
    the operators' desk's gate (the SUMO twin of sim/twin.py in a worker process, the audit
    store, `metrics` counting its verdicts) with a request maker for the configured
    network. Disabled: (None, None). The twin's work folder (its cached candidate routes) is
    per site and instance under the system's temporary folder."""
    v = cfg.validation
    if not v.enabled:
        return None, None
    from sim.twin import RequestMaker, predict  # SUMO's tools load only when the twin is wanted
    from sim.twin_policy import PolicyRequestMaker, predict_policies
    from sim.twin_sim import scenario_files

    recent = RecentCounts(v.window_s, VEHICLE_CLASSES)
    gate = ValidationGate(v, predict, audit=audit, metrics=metrics, predict_policy=predict_policies)
    work = str(Path(tempfile.gettempdir()) / f"tsc-twin-{cfg.service.site}-{cfg.service.instance}")
    net = str(beside_config(cfg.source, v.network))
    programs, vtypes = scenario_files([beside_config(cfg.source, f) for f in v.additional_files])
    shared: dict[str, Any] = {"horizon_s": v.horizon_s, "seed": v.seed, "programs": programs, "vtype_files": vtypes}
    spacing_m = cfg.detectors.vehicle_spacing_m
    maker = RequestMaker(
        net, dict(junctions), recent, v.window_s, work, mesoscopic=v.mesoscopic, vehicle_spacing_m=spacing_m, **shared
    )
    policy_maker = PolicyRequestMaker(net, dict(junctions), recent, v.window_s, work, cfg, **shared)
    return recent, DeskValidation(gate, maker, policy_maker)


class MetricsTail(Protocol):
    """Where a node's ticks leave their metrics (sim/simulate.py MetricsThread): `submit` one
    tick's, `wait` until they are done (raising what they raised)."""

    def submit(self, work: Callable[[], None]) -> None: ...

    def wait(self) -> None: ...


@dataclass(frozen=True)
class TableSnapshot:
    """What the heartbeat's junction table shows, as of one tick (ServiceNode.table_snapshot): the
    core and its state (immutable: a tick makes a new one), the operators' overrides in force
    (`active`, copied), the refused junctions, the last tick's failed ones, the service time, the
    table's head and the halo's junctions (not shown). Its pages (`table_build`) are the same
    whenever they are built."""

    core: Core
    state: CoreState
    active: Mapping[str, Override]
    refused: Mapping[str, str]
    failed: Mapping[str, str]
    now_s: float
    head: Mapping[str, Any]
    observed: Collection[str]


def table_build(
    snap: TableSnapshot, page_bytes: int, share: int = TABLE_SHARE_JUNCTIONS
) -> Iterator[list[bytes] | None]:
    """The junction table of `snap` as messages of at most page_bytes each (a single row larger
    than that gets a page of its own): each {"v", "instance", "t", "policy", "page": k, "pages": N,
    "junctions": {id: row, ...}} with a share of the rows, page 0 for .../junctions and page k for
    .../junctions/k. Built `share` junctions' rows at a time: yields None after each share, then
    the pages (ServiceNode's idle time builds it a share at a time; table_pages all at once)."""
    core, desk, sep = snap.core, _Overrides(snap.active), (",", ":")
    served = list(core.layouts)
    rows: dict[str, dict[str, Any]] = {}
    for k in range(0, len(served), share):
        rows.update(junction_table(core, snap.state, desk, {}, snap.now_s, snap.failed, served[k : k + share]))
        yield None
    rows.update(junction_table(core, snap.state, desk, snap.refused, snap.now_s, jids=()))  # the refused
    items: list[str] = []
    shown = [(j, row) for j, row in rows.items() if j not in snap.observed]
    for k in range(0, len(shown), share):
        items += [f"{json.dumps(j)}:{json.dumps(row, separators=sep)}" for j, row in shown[k : k + share]]
        yield None
    prefix = json.dumps(snap.head, separators=sep)[:-1]
    budget = page_bytes - len(prefix) - 64  # "page", "pages", braces
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
    yield [body.format(prefix, k, n, ",".join(c)).encode() for k, c in enumerate(pages)]


def table_pages(snap: TableSnapshot, page_bytes: int) -> list[bytes]:
    """table_build's pages, built at once."""
    *_, pages = table_build(snap, page_bytes, max(1, len(snap.core.layouts)))
    assert pages is not None
    return pages


@dataclass(frozen=True)
class _Overrides:
    """What operators.junction_table reads of the operators' desk: the overrides in force."""

    active: Mapping[str, Override]


def feed_routes(topics: Topics, junctions: Iterable[str]) -> dict[bytes, tuple[str, str]]:
    """Each junction's detectors and status topics, as bytes -> (kind, junction): what ServiceNode._on_message
    puts in the inbox for a message on that topic."""
    return {topics.junction(j, kind).encode(): (kind, j) for j in junctions for kind in ("detectors", "status")}


Received = tuple[str, str, bytes]  # an inbox's item: (kind, junction, payload)


class Inbox(Protocol):
    """A node's inbox: the network thread puts what came in, the tick's thread takes it (a
    queue.SimpleQueue; sim/bench_mqtt.py puts one in front of it that notes arrivals)."""

    def put(self, item: Received) -> None: ...

    def get(self, block: bool = True, timeout: float | None = None) -> Received: ...

    def get_nowait(self) -> Received: ...

    def empty(self) -> bool: ...

    def qsize(self) -> int: ...


class ServiceNode:
    """ControllerService + one MQTT client: feeds and statuses in, QoS 1 plans and a retained
    heartbeat (with a Last Will saying "offline") out: "starting" until it serves, then "online".

    trust: this run's plan epoch, signer and audit store (controller/adapters/trust.py); its
    store also takes the operators' actions. region: the name of this node's region
    (controller/regions.py), whose `owned` junctions it runs; the other junctions given are its
    halo, read from the feed and never sent a plan. Default (owned None): it runs them all.
    client: another node's connection to share (controller/takeover.py: one connection per
    broker user): this node subscribes and publishes on it, but neither connects nor closes it,
    and the connection's owner hands it its messages (`route`). `route`, when set, sees every
    message first, on the network thread; True: it took the message. pump: the connection has
    no network thread; run_lockstep's thread serves it while it waits (controller/adapters/
    mqtt_pump.py), so a message reaches the tick without a hand-off between threads. tail: the
    ticks' metrics go there (a lockstep replay's: they run while the field steps SUMO); the node
    waits for them before its service hears anything new (`settle`). Default: in the tick."""

    route: Callable[[str, bytes], bool] | None = None
    reads_ahead = False  # gather has run ([service] tick_wait_max_s): the tick's drain reads what it takes the same way
    late_junctions = 0  # junctions not in when their second's tick started at its latest (gather)
    _awaited_t = -math.inf
    _next_late_log = 0.0  # wall (monotonic) time the next late tick is logged as a warning
    table_page_bytes = TABLE_PAGE_BYTES
    _table_pages = 0  # pages of the junction table published last
    _table: Iterator[list[bytes] | None] | None = None  # the heartbeat's table being built in idle time (gather)
    tables_at_once = 0  # heartbeats that found the last table not yet built in idle time, and built theirs at once
    tables_in_idle_time = 0  # tables built in idle time and published
    table_share_junctions = TABLE_SHARE_JUNCTIONS
    table_in_idle_time = True  # False: the table built at once even after gather (a taken region's node: takeover.py)
    gc_in_idle_time = True  # False: the garbage collector as CPython runs it, in the ticks too (IdleCollector)
    serving = False  # its heartbeat says "online" (start(serving=True), or the first tick's heartbeat)
    _held: AbstractContextManager[None] | None = None  # a tick's plans' wakes held (_publish_plan)

    def __init__(
        self,
        cfg: Config,
        junctions: Mapping[str, Intersection],
        settings: MqttSettings,
        *,
        policy: str | None = None,
        start_s: float = 0.0,
        lockstep: bool = False,
        metrics: NodeMetrics | None = None,
        archive: Recorder | None = None,
        audit: AuditSink | None = None,
        trust: Trust | None = None,
        region: str | None = None,
        owned: Collection[str] | None = None,
        client: MqttClient | None = None,
        pump: MqttPump | None = None,
        programs: Mapping[str, Sequence[str]] | None = None,
        tail: MetricsTail | None = None,
    ) -> None:
        if trust is not None and audit is None:
            audit = trust.audit
        self.cfg, self.topics = cfg, Topics(cfg.service.site)
        self.instance, self.tail = cfg.service.instance, tail
        self.policy = policy or cfg.service.policy
        # Operators' overrides (docs/operators.md): not in replays, which have no operators.
        recent, validation = (None, None) if lockstep else desk_validation(cfg, junctions, audit, metrics)
        self.desk = None if lockstep else self._desk(audit, validation)
        self.overrides: queue.SimpleQueue[tuple[str | None, str, str, bytes]] = queue.SimpleQueue()
        self.ops_metrics: OperatorMetrics | None = None
        try:
            hooks: dict[str, Any] = {"metrics": metrics, "archive": archive, "desk": self.desk, "recent": recent}
            hooks |= {"programs": programs, "start_s": start_s, "defer": tail.submit if tail is not None else None}
            hooks["handed_over"] = self._plans_out
            hooks |= _trust_kwargs(trust)
            hooks["observed"] = set(junctions) - set(owned) if owned is not None else ()
            self.service = ControllerService(junctions, cfg, self.policy, publish=self._publish_plan, **hooks)
        except UnknownPolicyError as exc:  # any other error is not the config's: it propagates as it is
            raise ConfigError(cfg.source, "service.policy", str(exc)) from None
        self._started(trust, start_s)
        self._junction_of_level = {topic_level(j): j for j in junctions}
        self._topic_routes = feed_routes(self.topics, junctions)  # the network thread's look-up (_on_raw)
        self._plan_topics: dict[str, str] = {}  # junction -> its plan topic, as each is first published
        self.lockstep, self.region = lockstep, region
        # lockstep: the field's packed seconds; a region's node reads its region's pack alone (sim/mqtt_run.py)
        self._packed_topic = self.topics.packed_detectors if region is None else self.topics.packed_detectors_of(region)
        self.inbox: Inbox = queue.SimpleQueue[Received]()
        self.sent: list[tuple[str, int]] = []  # (junction, seq) of the plans of the last tick
        self.unrouted = 0  # messages on topics we did not ask for
        self.tick_durations_s, self.drain_durations_s = deque[float](maxlen=3600), deque[float](maxlen=3600)
        self.ticks, self.now_s, self.collector = 0, start_s, IdleCollector()  # (its collections: tick, _idle_share)
        self._next_heartbeat, self._next_summary = 0.0, time.monotonic() + SUMMARY_EVERY_S
        # gather: the messages taken before the tick (arrival order), each junction's latest second, those awaited
        self.early: list[tuple[str, str, bytes, feedbatch.Read | None]] = []
        self.left_at_stop = Counter[str]()  # the field's messages received after the last tick (close)
        self._heard: dict[str, float] = {}
        self._awaited: set[str] = set()  # junctions whose detector message of second _awaited_t is not in yet
        self._owns_client, self.pump = client is None, pump
        self.client = client or self._own_client(settings)

    # -- connection -----------------------------------------------------------------------
    def _own_client(self, settings: MqttSettings) -> MqttClient:
        """This node's connection: its messages to _on_raw (the feed's fast path) and _on_message, a Last Will
        saying "offline"."""
        will = (self.topics.heartbeat(self.instance), self._heartbeat_payload("offline"))
        return MqttClient(settings, self._on_message, will=will, on_connected=self._on_connected, on_raw=self._on_raw)

    def _desk(self, audit: AuditSink | None, validation: DeskValidation | None) -> OperatorDesk:
        ops, roadside = self.cfg.operators, self.cfg.roadside
        return OperatorDesk(
            ops,
            ttl_s=roadside.plan_ttl_s,
            refresh_s=roadside.refresh_s,
            reply=self._reply,
            audit=audit,
            validation=validation,
        )

    def _started(self, trust: Trust | None, start_s: float) -> None:
        """The service built: operators may change its policy or parameters (docs/validation.md),
        and a restart resumes from the audit store."""
        if self.desk is not None:
            self.desk.bind_policy(self.service.set_policy, self.cfg, self.service.core.policy.name)
        if trust is not None and trust.audit is not None:
            self._resume(trust.audit, start_s)

    def _resume(self, audit: AuditStore, start_s: float) -> None:
        """After a restart: the operators' overrides still in force and the learnt state of the
        last checkpoint (docs/operators.md) come back from the audit store."""
        if self.desk is not None:
            since_s = start_s - self.cfg.operators.max_s
            self.desk.restore(audit.query(kind="operator", since_t_s=since_s, limit=100000), self.service.core, start_s)
            owned = set(self.service.junctions) - set(self.service.observed)  # an operator's policy change
            self.desk.restore_policy(newest_first(audit, "operator"), self.service.core, owned)
        last = checkpoints.latest(audit, self.cfg.service.site)
        if last is not None:
            self.service.resume(last[1], f"{audit.path} checkpoint #{last[0]}")

    def start(self, wait: bool = True, serving: bool = True) -> ServiceNode:
        """Connect (unless the connection is shared) and subscribe to `subscriptions()`. serving: the
        heartbeat says "online" at once; False: "starting" (the node warms up before its first tick,
        `_serve`), and the first tick's heartbeat says "online" (docs/mqtt.md)."""
        self.serving = serving  # before the connect: _on_connected reads it
        self.client.subscribe(self.subscriptions(), qos=1)
        if self._owns_client:
            self.client.start(wait=wait, pump=self.pump)
        if serving:
            self.heartbeat()
        else:
            self._say_starting()
            if not self.lockstep:  # the operators' console reads this run's junctions, not the last run's
                self._publish_table()
        return self

    def _say_starting(self) -> None:
        self.client.publish(
            self.topics.heartbeat(self.instance), self._heartbeat_payload("starting"), qos=1, retain=True
        )

    def subscriptions(self) -> list[str]:
        """Every junction's detectors and status (subscribed at QoS 1: a field that publishes at
        QoS 1, like a lockstep replay, keeps it; QoS 0 feeds stay QoS 0), the overrides (a
        region: of its own junctions) or, in lockstep, the clock."""
        topics = [self.topics.detectors(j) for j in self.service.junctions]
        topics += [self.topics.status(j) for j in self.service.junctions]
        if self.lockstep:
            topics += [self.topics.clock, self._packed_topic]
        elif self.service.observed:  # a region: its own junctions' overrides only
            topics += [self.topics.overrides_of(j) for j in self.service.junctions if j not in self.service.observed]
        else:
            topics.append(self.topics.overrides)
        return topics

    def close(self) -> None:
        """Clean stop: the learnt state checkpointed (when there is an audit store), "offline";
        the connection closed when it is this node's own; the garbage collector on again (IdleCollector)."""
        self.collector.release()
        self.service.retired = None
        self.settle()
        if self.cfg.audit.checkpoint_s > 0:
            self.service.checkpoint(self.now_s)
        if self.client.connected.is_set():
            self.client.publish(
                self.topics.heartbeat(self.instance), self._heartbeat_payload("offline"), qos=1, retain=True
            )
        if self._owns_client:
            self.client.close()
        self._count_left()

    def _count_left(self) -> None:
        """A live node stopping: the field's messages it received after its last tick (taken by gather, or still
        in the inbox) are counted by kind (`left_at_stop`) and logged: no tick validated them and no plan came of
        them. A replay's node (lockstep) ends on its field's last second and has none."""
        if self.lockstep:
            return
        left = [kind for kind, *_ in self.early]
        self.early = []
        while True:
            try:
                left.append(self.inbox.get_nowait()[0])
            except queue.Empty:
                break
        for kind in ("detectors", "status"):
            self.left_at_stop[kind] += left.count(kind)
        if any(self.left_at_stop.values()):
            msg = "stopping: %d detector messages and %d statuses received after the last tick, not validated"
            log.warning(msg, self.left_at_stop["detectors"], self.left_at_stop["status"])

    # -- messages in (network thread) -----------------------------------------------------
    def _on_connected(self, session_present: bool) -> None:
        # The broker may have published our Last Will while we were away: say "online" again
        # at the next tick (the heartbeat reads the service, which belongs to the tick thread),
        # "starting" at once before the first one. A first tick's "online" that this "starting"
        # overtakes is said again by the next tick: _next_heartbeat is reset after it.
        if not self.serving:
            self._say_starting()
        self._next_heartbeat = 0.0

    def _on_raw(self, topic: bytes, payload: bytes) -> None:
        """_on_message for a message read on paho_read's fast path (most of the feed), its topic as bytes: a
        junction's detectors or status topic goes to the inbox by one look-up, as _on_message puts it; any
        other, or every one while `route` is set, to _on_message."""
        hit = self._topic_routes.get(topic)
        if hit is None or self.route is not None:
            self._on_message(topic.decode(), payload)
            return
        self.inbox.put((hit[0], hit[1], payload))

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self.topics.clock:
            self.inbox.put(("clock", "", payload))
            return
        if topic == self._packed_topic:  # lockstep: a second's detector messages in one
            self.inbox.put(("packed", "", payload))
            return
        if self.route is not None and self.route(topic, payload):
            return
        parts = self.topics.split(topic)
        if parts is None and self.desk is not None:
            who = self.topics.split_override(topic)
            if who is not None:  # the broker let only that user publish there (sim/broker.py)
                self.overrides.put((self._junction_of_level.get(who[0]), unquote(who[1]), topic, payload))
                return
        junction = self._junction_of_level.get(parts[0]) if parts else None
        if parts is None or junction is None or parts[1] not in ("detectors", "status"):
            self.unrouted += 1
            return
        self.inbox.put((parts[1], junction, payload))

    def settle(self) -> None:
        """The last tick's metrics done (`tail`): before the service hears or tells anything new."""
        if self.tail is not None:
            self.tail.wait()

    def handle(self, kind: str, junction: str, payload: bytes) -> None:
        self.settle()
        if kind == "detectors":
            self.service.on_detectors(payload, junction=junction)
        elif kind == "status":
            self.service.on_status(payload, junction=junction)

    def handle_detectors(
        self, messages: Sequence[tuple[str | None, bytes]], reads: Sequence[feedbatch.Read] | None = None
    ) -> None:
        """A batch of detector messages, (junction of the topic, payload) in arrival order: as
        `handle` on each, decoded together (ControllerService.on_detector_batch); `reads`: each
        one read as it arrived (ControllerService.read_detector_message), or None."""
        self.settle()
        self.service.on_detector_batch(messages, reads)

    def drain(self, limit: int | None = None) -> int:
        """Validate everything that arrived (clock messages are ignored outside lockstep): the
        detector messages as one batch, the others one by one. limit: take at most that many
        from the inbox (a tick: what was received by its start, `tick`); None: until it is empty."""
        if self.reads_ahead:
            return self._drain_early(limit)
        n = 0
        get = self.inbox.get_nowait
        detectors: list[tuple[str | None, bytes]] = []
        while limit is None or n < limit:
            try:
                kind, junction, payload = get()
            except queue.Empty:
                break
            if kind == "detectors":
                detectors.append((junction, payload))
            else:
                self.handle(kind, junction, payload)
            n += 1
        if detectors:
            self.handle_detectors(detectors)
        return n

    # -- a live tick's start: its second's messages in ([service] tick_wait_max_s) ----------
    def gather(self, t_s: float, until_s: float, clock: Clock, stop: threading.Event) -> bool:
        """Take the field's messages as they come in, until every awaited junction's detector
        message of second t_s is in, or until service time until_s; False when stopped. Awaited:
        the junctions heard from in the feed_stale_s before t_s (one silent that long is not
        waited for). Those still missing at until_s are counted late (logged; the metric
        junctions_late) and their messages go to the next tick. A message is taken in arrival
        order, the detector messages read then (ControllerService.read_detector_message: its
        second, and its read for the tick's batch); the tick validates them all (`drain`). A
        message's second only ends a wait: one the service refuses (a second ahead of the clock,
        say) at most ends its junction's waits early: the second it records is capped at t_s +
        [security] clock_skew_s (`_take_early`), so a junction whose message runs far ahead is
        waited for again from the tick after that. While nothing is in (and until second t_s once
        all are), the heartbeat's junction table is built a share at a time (_table_share)."""
        self.reads_ahead = True
        get = self.inbox.get
        if t_s != self._awaited_t:
            self._awaited_t, self._awaited = t_s, set()  # (the cap of what _take_early records reads _awaited_t)
            self._take_received(self.inbox.qsize())  # what came in by now first: a junction heard then is awaited
            lo = t_s - self.cfg.service.feed_stale_s
            self._awaited = {j for j, heard in self._heard.items() if lo <= heard < t_s}
        while self._awaited:
            if stop.is_set():
                return False
            left = clock.wall_until(until_s)
            if left <= 0:
                self._late(t_s)
                break
            if self._idle_share():  # nothing in: the collector's turn, or a share of the heartbeat's table
                continue
            try:
                kind, junction, payload = get(timeout=min(left, self._look_s()))
            except queue.Empty:
                continue
            self._take_early(kind, junction, payload)
        while (self._table is not None or self._idle_owed()) and clock.wall_until(t_s) > 0:  # all in, not yet t_s
            self._take_received(self.inbox.qsize())
            if not self._idle_share() and not clock.wait_until(min(t_s, clock.now() + TABLE_LOOK_S), stop):
                return False
        return True

    def _look_s(self) -> float:
        """How long gather's wait for the next message may last: TABLE_LOOK_S while idle work waits for the
        connection to finish writing (the collection owed, a table being built), so that it runs as soon as the
        tick's plans are written; else 0.5 s. (With 0.5 s for the collection, it ran at the next second's first
        message, in its burst, or half a second after the tick: BENCHMARKS.md, issue 12, T, session 54.)"""
        return TABLE_LOOK_S if self._table is not None or self._idle_owed() else 0.5

    def _idle_owed(self) -> bool:
        """The idle time owes the last tick's state freed (ControllerService.retired) or a collection."""
        return self.collector.owed or self.service.retired is not None

    def _take_early(self, kind: str, junction: str, payload: bytes) -> None:
        """A message taken before its tick (arrival order kept); a detector message's second raises
        its junction's heard second, up to the tick's second + clock_skew_s: the service refuses a
        message stamped further ahead of its clock, and one such (a field clock gone wrong, a forged
        `t`) must not stop the junction being waited for until restart (R, session 49)."""
        read = None
        if kind == "detectors":
            read = self.service.read_detector_message(payload, junction)
            t = read[1][0][0] if read[1] is not None else _t_of(payload)
            if t is not None:
                t = min(t, self._awaited_t + self.cfg.security.clock_skew_s)
            if t is not None and t > self._heard.get(junction, -math.inf):
                self._heard[junction] = t
                if t >= self._awaited_t:
                    self._awaited.discard(junction)
        self.early.append((kind, junction, payload, read))

    def _take_received(self, limit: int | None = None) -> None:
        """Take everything received so far (at most `limit` messages), as gather does, without waiting."""
        get = self.inbox.get_nowait
        left = -1 if limit is None else limit
        while left != 0:
            try:
                kind, junction, payload = get()
            except queue.Empty:
                return
            self._take_early(kind, junction, payload)
            left -= 1

    def _late(self, t_s: float) -> None:
        """The tick on second t_s starts at its latest without the awaited junctions' messages."""
        n, first = len(self._awaited), heapq.nsmallest(3, self._awaited)
        self._awaited = set()
        self.late_junctions += n
        if self.service.metrics is not None:
            self.service.metrics.junctions_late(n)
        wall = time.monotonic()
        level = logging.WARNING if wall >= self._next_late_log else logging.DEBUG  # one warning a minute
        if level == logging.WARNING:
            self._next_late_log = wall + SUMMARY_EVERY_S
        names = ", ".join(first) + (", ..." if n > len(first) else "")
        msg = "tick t=%.0f started at its latest without the detector messages of %d junctions (%s); late so far %d"
        log.log(level, msg, t_s, n, names, self.late_junctions)

    def _drain_early(self, limit: int | None = None) -> int:
        """drain, after gather: what is still received (at most `limit` messages) taken as gather
        takes it, then everything taken (in arrival order) validated, the detector messages as one
        batch with their reads."""
        self._take_received(limit)
        early, self.early = self.early, []
        detectors: list[tuple[str | None, bytes]] = []
        reads: list[feedbatch.Read] = []
        for kind, junction, payload, read in early:
            if read is not None:
                detectors.append((junction, payload))
                reads.append(read)
            else:
                self.handle(kind, junction, payload)
        if detectors:
            self.handle_detectors(detectors, reads)
        return len(early)

    # -- ticks ----------------------------------------------------------------------------
    def tick(self, now_s: float, clock_s: float | None = None) -> None:
        """Real-time tick at the scheduled time now_s: drain the inbox, run the core, publish plans.
        The feed is validated against clock_s, the clock's reading when the tick starts (default
        now_s): a tick that starts late must not make the messages it drains look as if they came
        from the future. The drain takes what was received by the tick's start and no more: one that
        runs long (a starved CPU after an overrun) would otherwise chase the feed, and validate the
        next seconds' messages against this tick's clock, refusing them as future_timestamp
        (BENCHMARKS.md, issue 12, T, session 51); they go to the next tick. A node that gathers runs the
        garbage collector in its idle time only (IdleCollector)."""
        received = self.inbox.qsize()
        t0 = time.perf_counter()
        if self.reads_ahead and self.gc_in_idle_time:  # collections in idle time only (gather)
            self.collector.hold()
            self.service.retire_in_idle = True  # and the state a tick replaces freed then too (_idle_share)
        self.settle()
        self.service.advance_clock(now_s if clock_s is None else max(now_s, clock_s))
        self.drain(received)
        t1 = time.perf_counter()
        self._tick(now_s)
        self.drain_durations_s.append(t1 - t0)
        self.tick_durations_s.append(time.perf_counter() - t0)

    def _tick(self, now_s: float) -> None:
        self.settle()
        self.now_s = now_s
        self.sent = []
        answered = self.desk.answers_total if self.desk is not None else 0
        self._take_overrides(now_s)
        try:
            self.service.tick(now_s)
        finally:
            self._plans_out()  # (done already, unless the tick raised between its plans)
        if self.desk is not None and self.desk.answers_total != answered:  # consoles see an override at once
            self._publish_table()
        if self.ops_metrics is not None:
            self.ops_metrics.update(self.service, now_s)
        self.ticks += 1
        wall = time.monotonic()
        if wall >= self._next_heartbeat:
            self.heartbeat()
        if wall >= self._next_summary:
            self._next_summary = wall + SUMMARY_EVERY_S
            log.info(
                "service t=%.0f received=%d rejected=%s plans_sent=%d stale=%d tick_p99_ms=%.1f",
                now_s,
                self.service.received,
                dict(self.service.rejected),
                self.service.plans_sent,
                len(self.service.last_result.stale),
                1000 * percentile(self.tick_durations_s or [0.0], 99),
            )

    def _publish_plan(self, cmd: Command, payload: bytes) -> None:
        if self._held is None:  # a tick's first plan: its plans wake the network thread once, after the last
            self._held = self.client.held_wakes()
            self._held.__enter__()
        topic = self._plan_topics.get(cmd.junction)
        if topic is None:
            topic = self._plan_topics[cmd.junction] = self.topics.plan(cmd.junction)
        self.client.publish(topic, payload, qos=1)
        self.sent.append((cmd.junction, cmd.seq))

    def _plans_out(self) -> None:
        """The tick's plans all published (ControllerService's handed_over): the network thread woken once for them
        (MqttClient.held_wakes, from the tick's first plan: the same packets in the same order, one wake-up of
        paho's network thread for the tick, not one a plan: BENCHMARKS.md, issue 12, S session 63)."""
        held, self._held = self._held, None
        if held is not None:
            held.__exit__(None, None, None)

    # -- operators ------------------------------------------------------------------------
    def _take_overrides(self, now_s: float) -> None:
        while self.desk is not None:
            try:
                junction, user, topic, payload = self.overrides.get_nowait()
            except queue.Empty:
                return
            if junction is None:  # a junction this service does not run: say so, by its topic level
                junction = topic.split("/")[-3]
            self.desk.submit(payload, user, junction, self.service.core, now_s)

    def _reply(self, operator: str, payload: bytes) -> None:
        self.client.publish(self.topics.reply(operator), payload, qos=1)

    def junction_table(self) -> bytes:
        """The first (usually the only) page of junction_table_pages()."""
        return self.junction_table_pages()[0]

    def junction_table_pages(self: PagedTableSource) -> list[bytes]:
        """The table of this node's junctions now (docs/mqtt.md), in pages (table_build)."""
        return table_pages(self.table_snapshot(), self.table_page_bytes)

    def table_snapshot(self: TableSource) -> TableSnapshot:
        """What the junction table shows now: the table of a later build is this one's."""
        svc = self.service
        head = {"v": MESSAGE_VERSION, "instance": self.instance, "t": self.now_s, "policy": self.policy_in_force()}
        active = dict(self.desk.active) if self.desk is not None else {}
        failed = dict(svc.last_result.failed)  # the last tick's junctions whose decision raised
        return TableSnapshot(svc.core, svc.state, active, svc.refused, failed, self.now_s, head, svc.observed)

    def _publish_table(self) -> None:
        """The table as it is now. A live node that waits for its seconds' messages (gather)
        builds it in its idle time, a share at a time (_table_share), and publishes it once built:
        the tick's path does not wait for it. A table asked for while the last is still being built
        (no idle time in between: an overrun) is built at once, as any other node builds it."""
        snap = self.table_snapshot()
        if self.reads_ahead and self.table_in_idle_time and self._table is None:
            self._table = table_build(snap, self.table_page_bytes, self.table_share_junctions)
            return
        if self._table is not None:
            self._table = None
            self.tables_at_once += 1
        self._send_table(table_pages(snap, self.table_page_bytes))

    def _idle_share(self) -> bool:
        """When nothing waits in the inbox and the connection has nothing left to write: the state the last
        tick replaced freed (ControllerService.retire_in_idle) and the collection owed (IdleCollector), else a
        share of the heartbeat's table (_table_share). True: one was done."""
        if self._idle_owed() and self.inbox.empty() and not self.client.wants_write():
            self.service.retired = None  # first: what it frees no collection needs to walk
            self.collector.collect()
            return True
        return self._table_share()

    def _table_share(self) -> bool:
        """One share of the table being built, when nothing waits in the inbox and the connection
        has nothing left to write (the tick's plans first); the last share publishes it. True: a
        share was built."""
        build = self._table
        if build is None or not self.inbox.empty() or self.client.wants_write():
            return False
        pages = next(build)
        if pages is not None:
            self._table = None
            self.tables_in_idle_time += 1
            self._send_table(pages)
        return True

    def _send_table(self, pages: list[bytes]) -> None:
        """Every page, retained; the pages a shrunk table no longer has are cleared (an empty
        retained message deletes the retained one)."""
        topic = self.topics.junction_table(self.instance)
        for k, page in enumerate(pages):
            self.client.publish(topic if k == 0 else f"{topic}/{k}", page, qos=1, retain=True)
        for k in range(len(pages), self._table_pages):
            self.client.publish(f"{topic}/{k}", b"", qos=1, retain=True)
        self._table_pages = len(pages)

    def policy_in_force(self) -> str:
        """The policy the service runs (an operator's change included: PolicyChoice.describe())."""
        choice = self.desk.policy if self.desk is not None else None
        return choice.describe() if choice is not None else self.policy

    # -- heartbeat ------------------------------------------------------------------------
    def _heartbeat_payload(self, state: str) -> bytes:
        body: dict[str, Any] = {"v": MESSAGE_VERSION, "instance": self.instance, "state": state}
        if state == "online":
            s = self.service
            body.update(
                t=self.now_s,
                policy=self.policy_in_force(),
                junctions=len(s.junctions),
                stale=len(s.last_result.stale),
                received=s.received,
                plans_sent=s.plans_sent,
                rejected=dict(s.rejected),
                epoch=s.epoch,
                unacknowledged=s.unacknowledged(),
                manual=sorted(self.desk.active) if self.desk is not None else [],
                tick_p99_ms=round(1000 * percentile(self.tick_durations_s, 99), 2) if self.tick_durations_s else None,
            )
        return json.dumps(body, separators=(",", ":")).encode()

    def heartbeat(self) -> None:
        self.serving = True
        self._next_heartbeat = time.monotonic() + self.cfg.regions.heartbeat_s  # wall seconds
        self.client.publish(self.topics.heartbeat(self.instance), self._heartbeat_payload("online"), qos=1, retain=True)
        if not self.lockstep:  # the operators' console reads it (ctl status)
            self._publish_table()

    def stats(self) -> dict[str, Any]:
        self.settle()
        ticks = list(self.tick_durations_s)
        return {
            "received": self.service.received,
            "rejected": dict(self.service.rejected),
            "plans_sent": self.service.plans_sent,
            "unrouted": self.unrouted,
            "ticks": self.ticks,
            "reconnects": max(0, self.client.connects - 1),
            "refused": dict(self.service.refused),
            "tick_p50_ms": round(1000 * statistics.median(ticks), 2) if ticks else None,
            "tick_p99_ms": round(1000 * percentile(ticks, 99), 2) if ticks else None,
        }


class TableSource(Protocol):
    """What ServiceNode.table_snapshot reads of its node (a stand-in without a connection passes for
    one: sim/bench_tick.py times the table that way)."""

    service: ControllerService
    desk: OperatorDesk | None
    instance: str
    now_s: float

    def policy_in_force(self) -> str: ...


class PagedTableSource(TableSource, Protocol):
    """What ServiceNode.junction_table_pages reads of its node: its snapshot and its page size."""

    table_page_bytes: int

    def table_snapshot(self: TableSource) -> TableSnapshot: ...


class Ticked(Protocol):
    """What run_realtime ticks: a ServiceNode, or an instance's nodes (takeover.Failover)."""

    def gather(self, t_s: float, until_s: float, clock: Clock, stop: threading.Event) -> bool: ...

    def tick(self, now_s: float, clock_s: float | None = None) -> None: ...


def run_realtime(
    node: Ticked,
    clock: Clock,
    stop: threading.Event,
    *,
    until_s: float | None = None,
    tick_delay_s: float = 0.0,
    tick_wait_max_s: float = 0.0,
) -> None:
    """Tick every DECISION_PERIOD_S (1 s) of `clock` until `stop` is set (or service time
    until_s). An overrun skips the ticks it missed rather than bunching them: their seconds' messages
    go to the next tick (its plans come later, none is lost), and the overrun is logged with the
    ticks it skipped (the first, then every 100th). tick_delay_s
    ([service] tick_delay_s, < 1 s): the tick on second t starts at t + tick_delay_s on the clock
    (the field's messages of t, sent at t, have come in by then); it is still the tick at t, its
    feed validated against the clock's reading. tick_wait_max_s ([service], > 0, < 1 s; instead
    of tick_delay_s): the tick on second t starts once the node has every junction's detector
    message of t (ServiceNode.gather), not before t and at the latest at t + tick_wait_max_s."""
    tick_s = DECISION_PERIOD_S
    latest_s = tick_wait_max_s if tick_wait_max_s > 0 else tick_delay_s  # the latest a tick starts after its second
    next_s = math.floor((clock.now() - latest_s) / tick_s + 1) * tick_s
    overruns = skipped = 0
    while not stop.is_set() and (until_s is None or next_s <= until_s):
        if tick_wait_max_s > 0:
            if not node.gather(next_s, next_s + tick_wait_max_s, clock, stop) or not clock.wait_until(next_s, stop):
                break
        elif not clock.wait_until(next_s + tick_delay_s, stop):
            break
        node.tick(next_s, clock.now())
        next_s += tick_s
        now = clock.now() - latest_s
        if now > next_s + tick_s:
            overruns += 1
            due_s, next_s = next_s, math.floor(now / tick_s + 1) * tick_s
            skipped += round((next_s - due_s) / tick_s)
            if overruns == 1 or overruns % 100 == 0:
                msg = "tick overran: %.1f s behind, ticks t=%.0f-%.0f skipped; their messages go to the tick at t=%.0f"
                log.warning(
                    msg + " (overruns=%d, ticks skipped=%d)", now - due_s, due_s, next_s - 1, next_s, overruns, skipped
                )


def tick_start(service: ServiceConfig) -> dict[str, float]:
    """run_realtime's tick_delay_s and tick_wait_max_s from [service]."""
    return {"tick_delay_s": service.tick_delay_s, "tick_wait_max_s": service.tick_wait_max_s}


class LockstepError(AdapterError):
    """A replay partner did not deliver what its barrier message announced in time."""


def _t_of(payload: bytes) -> float | None:
    """A field message's `t`, None when it has none (orjson first: the json module reads what
    orjson does not, a byte-order mark or NaN, the same as the service)."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            obj = read_json(payload)
        except FeedError:  # the service refuses it (malformed_json)
            return None
    t = obj.get("t") if isinstance(obj, dict) else None
    return float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else None


class _LockstepInbox:
    """run_lockstep's bookkeeping: clock messages in order, field messages buffered by (kind, t)
    until their clock asks for them, copies of consumed ones dropped. A detector message is read
    (ControllerService.read_detector_message: parsed, its readings as columns) while the second's
    other messages are still on their way, but only while nothing else waits: a message taken
    while others wait in the inbox (or, pumped, on the connection) is kept unread (`unread`, in
    arrival order, with everything taken after it), and read when the inbox is empty, one message
    at a time, the connection (pumped) looked at first at most every READ_AHEAD_LOOK_S; the rest
    are read at the clock (before a clock or packed message is taken, and before a clock's
    messages are counted). So receiving comes first and reading fills the gaps between messages.
    The service checks the reads with its batch. Every message is taken (`_take`) in arrival
    order, as before: only the moment it is taken changes."""

    def __init__(self, node: ServiceNode, timeout_s: float) -> None:
        self.node = node
        self.timeout_s = timeout_s
        self.order = {j: k for k, j in enumerate(node.service.junctions)}
        # (kind, t) -> junction -> (payload, its read: detectors only)
        self.buffered: dict[tuple[str, float], dict[str, tuple[bytes, feedbatch.Read | None]]] = {}
        self.done_t = {"detectors": -math.inf, "status": -math.inf}  # consumed up to here: later copies are duplicates
        self.clocks: deque[dict[str, Any]] = deque()
        # field messages received but not taken yet: they arrived while others waited
        self.unread: deque[tuple[str, str, bytes]] = deque()
        self._look_at_s = -math.inf  # pumped: the connection is looked at again from then while reading ahead

    def pull(self, deadline: float) -> None:
        """Take one message: the next received, or, when nothing else is received (the inbox
        empty; pumped, the connection too), the oldest unread one."""
        inbox, pump = self.node.inbox, self.node.pump
        if self.unread:
            if pump is not None and inbox.empty() and time.monotonic() >= self._look_at_s:
                pump.run_once(0.0)  # what the connection holds first, without waiting
                self._look_at_s = time.monotonic() + READ_AHEAD_LOOK_S
            if inbox.empty():
                self._take(*self.unread.popleft())
                return
            wait_s = 0.0
        else:
            wait_s = max(0.0, min(0.5, deadline - time.monotonic()))
            if pump is not None:  # nobody else reads the connection: serve it until a message is in
                pump.run_until(lambda: not inbox.empty(), wait_s)
                wait_s = 0.0
        try:
            kind, junction, payload = inbox.get(timeout=wait_s)
        except queue.Empty:
            return
        self._arrive(kind, junction, payload)

    def drain(self) -> None:
        """Take everything received so far, without waiting."""
        get = self.node.inbox.get_nowait
        while True:
            try:
                kind, junction, payload = get()
            except queue.Empty:
                break
            self._arrive(kind, junction, payload)
        self.catch_up()

    def _arrive(self, kind: str, junction: str, payload: bytes) -> None:
        """A message received: a clock or pack after every message before it; a field message
        kept unread while others wait behind it or before it, taken otherwise."""
        if kind in ("clock", "packed"):
            self.catch_up()
        elif self.unread or not self.node.inbox.empty():
            self.unread.append((kind, junction, payload))
            return
        self._take(kind, junction, payload)

    def catch_up(self) -> None:
        """Take the unread messages, in arrival order."""
        unread, take = self.unread, self._take
        while unread:
            take(*unread.popleft())

    def _take(self, kind: str, junction: str, payload: bytes) -> None:
        if kind == "clock":
            try:
                self.clocks.append(read_json(payload))
            except FeedError:  # (not JSON, or nested past the json module's depth: core/jsonread.py)
                log.error("lockstep: malformed clock message %r", payload[:80])
            return
        if kind == "packed":
            self._take_packed(payload)
            return
        read = self.node.service.read_detector_message(payload, junction) if kind == "detectors" else None
        # a plain message's t is the one _t_of reads (its float)
        t = read[1][0][0] if read is not None and read[1] is not None else _t_of(payload)
        if t is None:  # let the service count it
            self.node.handle(kind, junction, payload)
        elif t > self.done_t[kind]:
            self.buffered.setdefault((kind, t), {})[junction] = (payload, read)

    def _take_packed(self, payload: bytes) -> None:
        """A second's detector messages packed in one or more packs (core/feedpack.py): those of
        this node's junctions (a region's node reads its own and its halo) buffered under the
        pack's `t`, which the field writes into each of them; unlike a message on its own topic,
        a message's own `t` is not read here (the service checks the messages themselves). A pack
        that does not read is counted unrouted; its second then times out."""
        unpacked = feedpack.unpack(payload)
        if unpacked is None:
            self.node.unrouted += 1
            log.error("lockstep: malformed packed detector message %r", payload[:80])
            return
        t, messages = unpacked
        if t <= self.done_t["detectors"]:  # a copy of a second already fed
            return
        buffered = self.buffered.setdefault(("detectors", t), {})
        order, read = self.order, self.node.service.read_detector_message
        for junction, body in messages:
            if junction in order:
                buffered[junction] = (body, read(body, junction))

    def next_clock(self, stop: threading.Event) -> dict[str, Any] | None:
        """The next clock message; None when stopped."""
        deadline = time.monotonic() + self.timeout_s
        while not self.clocks:
            if stop.is_set():
                return None
            if time.monotonic() > deadline:
                raise LockstepError(f"lockstep: no clock message for {self.timeout_s:g} s")
            self.pull(deadline)
        return self.clocks.popleft()

    def collect(self, need: dict[tuple[str, float], int], t: float, stop: threading.Event) -> bool:
        """Wait until every announced message is buffered; False when stopped."""
        deadline = time.monotonic() + self.timeout_s
        while not self.complete(need):
            if stop.is_set():
                return False
            if time.monotonic() > deadline:
                have = {f"{k[0]}@{k[1]:g}": len(self.buffered.get(k, ())) for k in need}
                raise LockstepError(f"lockstep t={t:g}: announced {need}, received {have} after {self.timeout_s:g} s")
            self.pull(deadline)
        return True

    def feed(self, need: dict[tuple[str, float], int]) -> None:
        """Hand the announced messages to the service in junction order; drop late duplicates."""
        for kind, kt in need:
            msgs = self.buffered.pop((kind, kt), {})
            self.done_t[kind] = kt
            in_order = sorted(msgs, key=lambda j: self.order.get(j, len(self.order)))
            if kind == "detectors":
                batch = [(junction, msgs[junction][0]) for junction in in_order]
                reads = [read for junction in in_order if (read := msgs[junction][1]) is not None]
                self.node.handle_detectors(batch, reads if len(reads) == len(batch) else None)
                continue
            for junction in in_order:
                self.node.handle(kind, junction, msgs[junction][0])
        for key in [k for k in self.buffered if k[1] <= self.done_t[k[0]]]:
            del self.buffered[key]

    def needs(self, clock: dict[str, Any]) -> dict[tuple[str, float], int] | None:
        """What a clock message announces for this node, (kind, t) -> count; None for a QoS 1
        redelivery (after a reconnect) of a clock already ticked."""
        t, status_t = float(clock["t"]), clock.get("status_t")
        if t <= self.done_t["detectors"]:
            return None
        counts = clock.get("regions", {}).get(self.node.region, clock) if self.node.region else clock
        need = {("detectors", t): int(counts.get("detectors", 0))}
        if status_t is not None:
            need[("status", float(status_t))] = int(counts.get("status", 0))
        return need

    def complete(self, need: dict[tuple[str, float], int]) -> bool:
        self.catch_up()
        return all(len(self.buffered.get(key, ())) >= n for key, n in need.items())

    def tick(self, need: dict[tuple[str, float], int], t: float) -> None:
        """Feed what the clock announced, tick at t, say which plans went out (`ticked`)."""
        node = self.node
        node.settle()
        node.service.advance_clock(t)
        self.feed(need)
        t0 = time.perf_counter()
        node._tick(t)
        node.tick_durations_s.append(time.perf_counter() - t0)
        body = {"v": MESSAGE_VERSION, "t": t, "plans": [[j, seq] for j, seq in node.sent]}
        if node.region:
            body["region"] = node.region
        node.client.publish(node.topics.ticked, json.dumps(body, separators=(",", ":")).encode(), qos=1)


def run_lockstep(node: ServiceNode, stop: threading.Event, *, timeout_s: float = LOCKSTEP_TIMEOUT_S) -> None:
    """Tick when the field's clock message says so, once every message it announced is in.

    Clock message: {"v":1,"t":T,"detectors":N,"status":M,"status_t":S} (or {"v":1,"end":true}).
    The node waits for N detector messages stamped T and M statuses stamped S (one per
    junction, duplicates dropped), feeds them to the service in junction order, ticks at T and
    publishes {"v":1,"t":T,"plans":[[junction, seq], ...]} on the ticked topic. A region's node
    (several share the field) takes N and M from the clock's "regions": {NAME: {"detectors": N,
    "status": M}} (its owned and halo junctions) and adds "region": NAME to its ticked message."""
    box = _LockstepInbox(node, timeout_s)
    while not stop.is_set():
        clock = box.next_clock(stop)
        if clock is None or clock.get("end"):
            return
        need = box.needs(clock)
        if need is None:
            continue
        if not box.collect(need, float(clock["t"]), stop):
            return
        box.tick(need, float(clock["t"]))


class LockstepStepper:
    """run_lockstep for a caller that owns the loop and serves the node's connection itself
    (sim/mqtt_run.py: the field's thread runs the pump of the field's and the node's clients):
    `step` never waits, and the node needs no thread of its own."""

    def __init__(self, node: ServiceNode) -> None:
        self._box = _LockstepInbox(node, LOCKSTEP_TIMEOUT_S)
        self.ended = False  # the clock said "end"

    def step(self) -> int:
        """Take what the node received; tick for each clock message whose announced messages
        are all in, in order. Returns the number of ticks made."""
        box = self._box
        box.drain()
        ticks = 0
        while box.clocks and not self.ended:
            clock = box.clocks[0]
            if clock.get("end"):
                self.ended = True
                break
            need = box.needs(clock)
            if need is not None:
                if not box.complete(need):
                    break
                box.tick(need, float(clock["t"]))
                ticks += 1
            box.clocks.popleft()
        return ticks


def warm_up_until(policy: str, stop: threading.Event, look_s: float = 0.1) -> bool:
    """warm_up in a thread of its own, waited for until it ends or `stop` is set (looked at every `look_s`);
    False: stopped first (the thread, a daemon, ends with the process). The compile can take many seconds on a
    loaded machine; run in the main thread it would hold a SIGTERM until it ended. An error of warm_up is raised
    here."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            warm_up(policy)
        except BaseException as exc:  # raised in the caller's thread, below
            failed.append(exc)

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    while thread.is_alive():
        if stop.wait(look_s):
            return False
    if failed:
        raise failed[0]
    return True


def freeze_heap() -> None:
    """Take every object built so far (junction models, layouts, the service's start state) out
    of the garbage collector's passes: they live as long as the process, and at a city's size
    each full pass over them costs (BENCHMARKS.md, "MQTT ingestion"). Then full passes (the
    oldest generation) come FULL_GC_AFTER_GEN1 second-generation passes apart, not CPython's
    10. For a process's entry point, once set up; what is frozen is never collected."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_GC_AFTER_GEN1)


def resolve_intersections(cfg: Config) -> Path:
    """cfg.service.intersections, relative to the config file's folder when not absolute."""
    p = Path(cfg.service.intersections)
    if not p.is_absolute() and cfg.source != "<defaults>":
        candidate = Path(cfg.source).resolve().parent / p
        if candidate.exists() or not p.exists():
            return candidate
    return p


def _open_archive(cfg: Config, registry: CollectorRegistry) -> ArchiveRecorder:
    """The feed archive (docs/replay.md), written off the tick's thread."""
    from controller.adapters.archive import ArchiveRecorder

    folder = beside_config(cfg.source, cfg.archive.dir)
    recorder = ArchiveRecorder(folder, cfg.service.site, cfg.archive, registry=registry)
    recorder.write_meta({"source": "run", "policy": cfg.service.policy}, resolve_intersections(cfg))
    return recorder


def _serve(
    node: ServiceNode, driver: Ticked, settings: MqttSettings, clock: Clock, stop: threading.Event, trust: Trust
) -> None:
    """`run` from the connect: the heartbeat says "starting" through warm_up (numba's load or
    compile: seconds, more on a loaded machine), and the first tick's says "online" (docs/mqtt.md):
    a monitor, or a taker of this region (controller/takeover.py), never reads "online" from a
    service that cannot tick yet. "service up" is logged after warm_up, when the ticks begin."""
    node.start(wait=False, serving=False)
    try:
        node.client.wait_connected(settings.connect_timeout_s, stop)  # a SIGTERM ends the wait
    except AdapterError as exc:
        if exc.fatal:
            raise
        log.warning("%s; ticking anyway and retrying in the background", exc)
    if stop.is_set():  # stopped during the broker wait: never up
        return
    cfg, started = node.cfg, time.monotonic()
    log.info("service starting site=%s instance=%s: warming up", cfg.service.site, node.instance)
    if not warm_up_until(node.policy, stop):  # not warm_up(): a SIGTERM would wait for it
        return
    freeze_heap()
    log.info(
        "service up site=%s instance=%s junctions=%d policy=%s broker=%s:%d epoch=%d signed=%s warm_up_s=%.1f",
        *(cfg.service.site, node.instance, len(node.service.junctions), node.policy, settings.host, settings.port),
        trust.epoch,
        trust.signer is not None,
        time.monotonic() - started,
    )
    run_realtime(driver, clock, stop, **tick_start(cfg.service))


def main(cfg: Config, region: str | None = None) -> int:
    """The live service: connect, then tick in real time until SIGINT or SIGTERM. With `region`
    (`run --region NAME`): that region's junctions and halo only (controller/regions.py), and
    the failover of controller/takeover.py."""
    from controller import regions, takeover

    city = load_intersections(resolve_intersections(cfg))
    city_cfg, (cfg, junctions, owned) = cfg, regions.select(cfg, city, region) if region else (cfg, city, None)
    shard: dict[str, Any] = {"region": region, "owned": owned}
    settings = MqttSettings.from_config(cfg.broker, f"tsc-{cfg.service.site}-{cfg.service.instance}")
    clock = ScaledClock(cfg.service.realtime_factor)
    stop = threading.Event()
    registry = CollectorRegistry()  # this service's own: no global registry
    metrics_server = MetricsServer(registry, cfg.metrics.port, cfg.metrics.addr)
    recorder, trust = None, None
    try:
        trust = open_trust(cfg, time.time())  # plan keys, audit store, this run's epoch (docs/security.md)
        recorder = _open_archive(cfg, registry) if cfg.archive.enabled else None
        metrics = ServiceMetrics(registry, junctions if owned is None else {j: city[j] for j in owned}, cfg)
        node = ServiceNode(
            cfg, junctions, settings, start_s=clock.now(), metrics=metrics, archive=recorder, trust=trust, **shard
        )
        driver = takeover.Failover(node, city_cfg, city, region, trust, metrics=metrics) if region else node
        node.ops_metrics = OperatorMetrics(registry, cfg.metrics.update_s)
    except BaseException:
        if recorder is not None:
            recorder.close()
        if trust is not None:
            trust.close()
        metrics_server.close()
        raise
    try:
        with stop_on_signals(stop):  # not stop.set() in a handler: stop_on_signals
            _serve(node, driver, settings, clock, stop, trust)
    finally:
        driver.close()
        if recorder is not None:
            recorder.close()
        trust.close()
        metrics_server.close()
    log.info("service stopped %s", json.dumps(node.stats()))
    return 0

"""`simulate ... --via-mqtt`: the same closed loop as sim/simulate.py, but the controller and
the field only talk through a private Mosquitto (sim/broker.py).

Who is who on the broker:
- the controller: a ServiceNode (controller/live.py) with its own client, user `controller` —
  the same code as `run_controller.py run`;
- the field: SUMO on the calling thread (SumoField), one client per junction with that
  junction's field-device user (the ACL lets it publish only its own detectors and status);
- `sim`: the replay's clock.
In lockstep one thread, the caller's, does it all: it serves every connection (the field's and
the controller's, each its own user; controller/adapters/mqtt_pump.py) while it waits, and ticks
the controller (controller.live.LockstepStepper) when the clock's messages are in, so no message
wakes another thread of this process. With `controller_process` (simulate, when nothing reads the
controller's metrics or archive during the run) the controller is the same ServiceNode in a forked
process of its own (sim/mqtt_regions.py, region None), which keeps its run report: its MQTT work
and its tick's bookkeeping overlap the field's. In real time the controller has a thread and every
client its own network thread.

Lockstep (the default; for replays): at each simulated second t the field publishes every junction's
detector message (with `[service] simulate_feed_pack`, the default, all of them in one message of
the clock's user on `sim/detectors`, or several of at most 256 KiB each:
controller/core/feedpack.py) and then the clock message; the controller ticks once it holds
everything the clock announced and answers `ticked` with the plans it published; the field waits for
those plans, applies them and actuates. The controller therefore sees exactly the inputs of the
in-process run, and the tripinfo is identical. A replay must not lose a second: with the controller
in this process the detector messages go at the contract's QoS 0 (no PUBACK either way: a third
fewer packets) and the field publishes the second's messages again once every connection it serves,
the controller's included, is back after a reconnect (a broker restart loses what was in flight; the
controller drops the copies it already holds); with the controller in other processes, whose
reconnects the field cannot see, they go at QoS 1.

Sharded ([regions] count or named in the config, controller/regions.py): one ServiceNode per
region, each in a process of its own (sim/mqtt_regions.py), sharing nothing but the broker. Each
subscribes to its owned and halo junctions only (with the packed feed: its region's pack on
`sim/detectors/{region}`, those junctions' messages only) and publishes plans for its owned ones; the clock
message carries per-region counts ("regions": {name: {"detectors": n, "status": m}}) and the
field waits for every region's `ticked`. The Prometheus metrics and the archive are not kept in
a sharded replay (each instance would need its own).

Real-time (`realtime_factor`, for demos): one simulated second every `realtime_factor` wall
seconds; feeds at QoS 0, no clock messages, plans applied when they arrive, the controller
ticking on its own clock (controller.live.ScaledClock), warmed up first as `run` is. A cabinet
checks a plan's validity window on the clock when the plan came (SUMO may run behind the clock on a
loaded machine: `lag_max_s`), as sim/field_live.py's do. Not reproducible bit for bit.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from controller.adapters.compile_cache import warm_up
from controller.adapters.keys import new_keyring
from controller.adapters.metrics import ServiceMetrics
from controller.adapters.mqtt import MqttClient, MqttSettings, Topics, topic_level
from controller.adapters.mqtt_pump import MqttPump
from controller.adapters.trust import Trust
from controller.config import Config
from controller.core import feedpack
from controller.core.messages import MESSAGE_VERSION, decode_command, encode_body
from controller.core.signing import Keyring
from controller.errors import AdapterError, FeedError, TscError
from controller.live import LOCKSTEP_TIMEOUT_S, LockstepStepper, ScaledClock, ServiceNode, run_realtime
from controller.model import Intersection
from controller.regions import Region, plan_regions, region_instance
from controller.service import Recorder
from sim.broker import CONTROLLER, SIM, Broker, field_user
from sim.field import SumoField
from sim.field_live import shift_t
from sim.junction_control import merged_decision_cost, summary_parts
from sim.mqtt_regions import RegionProcess, RegionSpec, region_user, region_users
from sim.simulate import MetricsThread, SimulateRequest, run

log = logging.getLogger(__name__)

AfterSecond = Callable[["MqttLoop", float], None]


class BrokerSide(Protocol):
    """What MqttLoop uses of its broker, the clients' side: sim.broker.Broker (a private Mosquitto) or
    sim.rabbit.ClusterSplit (a RabbitMQ cluster's nodes, the service on one and the field on another)."""

    @property
    def topics(self) -> Topics: ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    def settings(self, user: str, client_id: str | None = None, **overrides: Any) -> MqttSettings: ...

    def controller_config(self, cfg: Config) -> Config: ...

    def log_tail(self, n: int = 20) -> str: ...


class MqttLoop:
    """sim.simulate.ClosedLoop through a broker: controller thread + per-junction field clients."""

    def __init__(
        self,
        field: SumoField,
        junctions: dict[str, Intersection],
        cfg: Config,
        policy: str,
        begin_s: float,
        *,
        broker: BrokerSide,
        realtime_factor: float | None = None,
        timeout_s: float = LOCKSTEP_TIMEOUT_S,
        after_second: AfterSecond | None = None,
        metrics: ServiceMetrics | None = None,
        archive: Recorder | None = None,
        controller_process: bool = False,
    ) -> None:
        """archive: where the controller records what it received and sent (docs/replay.md), as the in-process
        loop does (`simulate --record`). controller_process: in lockstep and not sharded, the controller in a process
        of its own, with its own metrics (their run report in summary()): `metrics` and `archive` are then not fed."""
        if controller_process and archive is not None:
            raise ValueError("MqttLoop: a controller process keeps no archive (its writer is a thread)")
        self.field = field
        self.broker = broker
        self.topics = broker.topics
        self.lockstep = realtime_factor is None
        self.timeout_s = timeout_s
        self.after_second = after_second
        self._field_books(begin_s)
        self.regions = sharded_regions(cfg, junctions)
        if realtime_factor is not None or not self.regions:  # a region's process warms up itself (mqtt_regions)
            # as `run` does: else the first re-plan tick compiles webster's loop, late in real time, waited for by
            # the field in lockstep (docs/mqtt.md, Lockstep); a forked controller inherits it
            warm_up(policy)
        # the service's start: the simulated begin in lockstep, its scaled wall clock in real time
        self.clock = None if realtime_factor is None else ScaledClock(realtime_factor)
        self.offset_s = 0.0 if self.clock is None else self.clock.now() + 1.0 - begin_s  # first second in 1 s
        start_s = begin_s if self.clock is None else self.clock.now()
        self.nodes: list[ServiceNode] = []
        self.procs: list[RegionProcess] = []
        self._watched = [(r, frozenset(r.watched)) for r in self.regions]
        # lockstep: this thread serves the field's and the controller's connections (none has a thread); what it
        # publishes in a row on one (clock, plans and `ticked`, a burst's acknowledgements) goes in one send
        self.pump = MqttPump(gather_writes=True)
        self.apart = controller_process and self.lockstep and not self.regions
        # [service] simulate_metrics_thread: a lockstep controller's tick metrics in a thread while the
        # field applies the plans and SUMO steps, as in process (not beside a recorder, which reports
        # between ticks); the node waits for them before its service hears anything new (ServiceNode.settle)
        threaded = cfg.service.simulate_metrics_thread and metrics is not None and archive is None
        self._tail = MetricsThread() if threaded and self.lockstep and not self.apart and not self.regions else None
        self._controllers(cfg, junctions, policy, start_s, realtime_factor, metrics, archive, self.apart)
        self.devices: dict[str, MqttClient] = {}
        self.sim: MqttClient | None = None
        try:
            self._connect(junctions, timeout_s)
        except BaseException:
            self.close()
            raise
        if self.clock is not None:  # SUMO's first second one clock second after the controllers are up (regions spawn)
            self.offset_s = self.clock.now() + 1.0 - begin_s
        self._connected(cfg)

    def _field_books(self, begin_s: float) -> None:
        """The field side's inbox, stop flag, kept statuses and plans, and counters, all empty."""
        # (kind, junction, payload, real time: the clock when it came, in SUMO's time; None in lockstep)
        self._inbox: queue.SimpleQueue[tuple[str, str, bytes, float | None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._statuses: list[tuple[str, bytes]] = []
        self._status_t: float | None = None
        self._plans: dict[tuple[str, int], bytes] = {}
        self._arrived_s: dict[tuple[str, int], float] = {}  # real time: each kept plan's arrival on the clock
        self._applied_seq: dict[str, int] = {}
        self._feed: list[tuple[str, bytes]] = []  # this second's detector messages (sent again after a reconnect)
        self._feed_t = begin_s  # the second they are for
        self._feed_events = 0  # connection events when _feed last went out with every connection ready
        self.feed_resent = 0  # seconds whose detector messages were published again after a reconnect
        self.plans_received = 0
        self.plans_bad = 0
        self.plans_applied = 0
        self.lag_max_s = 0.0  # real time: how far SUMO's time was behind the clock when a plan came
        self.seconds = 0

    def _connected(self, cfg: Config) -> None:
        """Once every client is connected: the lockstep steppers, how the feed goes out (QoS, packed), the
        connections this thread serves, and in real time the controller threads, started."""
        self._steppers = [LockstepStepper(node) for node in self.nodes] if self.lockstep else []
        # lockstep with every controller node here: feeds at QoS 0, sent again after a reconnect (_resend_feed)
        self.feed_qos = 1 if self.lockstep and self.procs else 0
        # [service] simulate_feed_pack: in lockstep, a second's detector messages in one message of the
        # replay's clock user (core/feedpack.py) instead of one per junction's device
        self.feed_packed = self.lockstep and cfg.service.simulate_feed_pack
        packer = [self.sim] if self.feed_packed and self.sim is not None else []
        self._served = [*self.devices.values(), *packer, *(node.client for node in self.nodes)]
        self._feed_events = self._connection_events()  # all connected and subscribed (_connect waited)
        self._threads = [
            threading.Thread(target=self._controller_main, args=(node,), name=f"controller-{k}", daemon=True)
            for k, node in enumerate(self.nodes)
            if not self.lockstep
        ]
        for th in self._threads:
            th.start()

    def _controllers(
        self,
        cfg: Config,
        junctions: dict[str, Intersection],
        policy: str,
        start_s: float,
        realtime_factor: float | None,
        metrics: ServiceMetrics | None,
        archive: Recorder | None,
        apart: bool,
    ) -> None:
        """The controller: in this process, on a thread (not sharded: self.nodes), or one process
        per region of self.regions (self.procs), or, `apart`, one forked process running every
        junction. Plans cross the broker signed with a throw-away key the roadsides are
        provisioned with here."""
        keyring = new_keyring("replay")
        for jid, rc in self.field.roadside.items():
            rc.set_keys(keyring.for_junction(jid))
        if apart:
            settings = self.broker.settings("controller", client_id=f"tsc-{self.topics.site}-replay")
            spec = RegionSpec(
                cfg=self.broker.controller_config(cfg),
                junctions=junctions,
                owned=tuple(junctions),
                region=None,
                settings=settings,
                policy=policy,
                start_s=start_s,
                keyring=keyring,
                timeout_s=self.timeout_s,
                programs=self.field.program_states(),  # as in process: a stage its program never shows is refused
                metrics=True,
            )
            self.procs = [RegionProcess(spec, start_method="fork")]
        elif self.regions:
            programs = self.field.program_states()  # as in process: a stage its program never shows is refused
            self.procs = []
            for r in self.regions:
                spec = _region_spec(self.broker, cfg, junctions, r, policy, start_s, keyring, realtime_factor)
                self.procs.append(RegionProcess(replace(spec, programs={j: programs[j] for j in spec.junctions})))
        else:
            self.nodes = [self._node(cfg, junctions, policy, start_s, keyring, metrics, archive)]

    def _node(
        self,
        cfg: Config,
        junctions: dict[str, Intersection],
        policy: str,
        start_s: float,
        keyring: Keyring,
        metrics: ServiceMetrics | None,
        archive: Recorder | None,
    ) -> ServiceNode:
        """The controller of an unsharded run (not started): user `controller`, signing with keyring."""
        settings = self.broker.settings("controller", client_id=f"tsc-{self.topics.site}-replay")
        trust = Trust(epoch=1, signer=keyring.sign, audit=None)
        return ServiceNode(
            self.broker.controller_config(cfg),
            junctions,
            settings,
            policy=policy,
            start_s=start_s,
            lockstep=self.lockstep,
            metrics=metrics,
            archive=archive,
            trust=trust,
            pump=self.pump if self.lockstep else None,  # served and ticked by the field's thread
            programs=self.field.program_states(),  # as in process: a stage its program never shows is refused
            tail=self._tail,
        )

    def _connect(self, junctions: dict[str, Intersection], timeout_s: float) -> None:
        """Start the controller(s), then connect one field device per junction (and the replay's
        clock in lockstep); returns once every client is connected."""
        site = self.topics.site
        for node in self.nodes:
            node.start()
        for proc in self.procs:  # spawned together: each takes a few seconds to import and subscribe
            proc.start()
        for proc in self.procs:
            proc.wait_ready(timeout_s)
        for jid in junctions:
            user = field_user(jid)
            dev = MqttClient(
                self.broker.settings(user, client_id=f"{user}-{site}"), functools.partial(self._plan_message, jid)
            )
            dev.subscribe([self.topics.plan(jid)], qos=1)
            self.devices[jid] = dev.start(wait=False, pump=self.pump if self.lockstep else None)
        if self.lockstep:
            self.sim = MqttClient(
                self.broker.settings(SIM, client_id=f"sim-{site}"),
                lambda topic, payload: self._inbox.put(("ticked", "", payload, None)),
            )
            self.sim.subscribe([self.topics.ticked], qos=1)
            self.sim.start(wait=False, pump=self.pump)
        for c in [*self.devices.values(), *([self.sim] if self.sim else [])]:
            c.wait_connected(c.settings.connect_timeout_s)

    def _plan_message(self, jid: str, topic: str, payload: bytes) -> None:
        """A plan message on junction `jid`'s device: to the field's inbox (in real time with the
        clock's reading as it came, in SUMO's time: the cabinet's own when it received it)."""
        arrived_s = None if self.clock is None else self.clock.now() - self.offset_s
        self._inbox.put(("plan", jid, payload, arrived_s))

    def _realtime_clock(self) -> ScaledClock:
        """The clock of a real-time run (none in lockstep)."""
        if self.clock is None:
            raise AdapterError("a lockstep replay has no real-time clock", fatal=True)
        return self.clock

    def _sim_client(self) -> MqttClient:
        """The replay clock's client of a lockstep run (connected by _connect)."""
        if self.sim is None:
            raise AdapterError("lockstep replay: the clock's client is not connected", fatal=True)
        return self.sim

    @property
    def node(self) -> ServiceNode:
        """The controller node of an unsharded run."""
        return self.nodes[0]

    # -- controller threads ---------------------------------------------------------------
    def _controller_main(self, node: ServiceNode) -> None:
        """A real-time run's controller thread."""
        try:
            run_realtime(node, self._realtime_clock(), self._stop)
        except BaseException as exc:  # reported by the field side
            self._error = exc
            log.error("controller thread failed: %s", exc)

    def _check_controller(self) -> None:
        if self._error is not None:
            raise AdapterError(f"controller failed: {self._error}", fatal=True) from self._error
        if not all(th.is_alive() for th in self._threads):
            raise AdapterError("controller thread ended early", fatal=True)
        for proc in self.procs:
            if not proc.proc.is_alive():
                why = proc.finish(0.5).get("error")
                raise AdapterError(f"region {proc.region}: controller process ended early: {why}", fatal=True)

    # -- ClosedLoop -----------------------------------------------------------------------
    @property
    def plans_sent(self) -> int:
        """Plans the controller sent (a sharded run's: known once its processes have stopped; an
        unsharded one's in a process: those applied so far, each once in lockstep, until then)."""
        if self.apart and self.procs[0].final is None:
            return self.plans_applied
        return sum(s.get("plans_sent", 0) for s in self._stats())

    @property
    def rejected(self) -> Counter[str]:
        return sum((Counter(s.get("rejected", {})) for s in self._stats()), Counter())

    def _stats(self) -> list[dict[str, Any]]:
        """Every node's stats (a process's once it has stopped; an unsharded one's as a node's)."""
        parts = ("online_gains", "junction_control", "decision_cost")  # summary.json's own keys (_controller_parts)
        own = (*parts, "subscriptions", "error") if not self.regions else parts
        ended = [{k: v for k, v in p.final.items() if k not in own} for p in self.procs if p.final is not None]
        return [n.stats() for n in self.nodes] + ended

    def start(self, begin_s: float) -> None:
        self._publish_statuses(begin_s)

    def second(self, t_s: float) -> None:
        if self.lockstep:
            self._second_lockstep(t_s)
        else:
            self._second_realtime(t_s)
        self.seconds += 1
        if self.after_second is not None:
            for node in self.nodes:  # the hook may read what the controller counts
                node.settle()
            self.after_second(self, t_s)

    def _publish_statuses(self, t_s: float) -> None:
        bodies = self.field.actuate_bodies(t_s)
        for body in bodies:  # the field may report only the junctions whose status changed
            jid = body["junction"]
            if self.offset_s:
                body = {**body, "t": body["t"] + self.offset_s}
            self.devices[jid].publish(self.topics.status(jid), encode_body(body), qos=1, retain=True)
        self._status_t = t_s
        self._status_junctions = [body["junction"] for body in bodies]

    def _connection_events(self) -> int:
        """Connects and disconnects so far of the field's devices and this process's controller nodes."""
        return sum(c.connects + c.disconnects for c in self._served)

    def _publish_feed(self) -> None:
        """This second's detector messages. At QoS 0 they go out again after a connection event
        (_resend_feed), also when a connection was not ready (connected and subscribed) as they
        went; `_feed_events`: the events counted when they last went out with every one ready."""
        events = self._connection_events()
        if events != self._feed_events and self.feed_qos == 0 and not all(c.ready() for c in self._served):
            events = -1
        self._feed_events = events
        if self.feed_packed and self.sim is not None:
            for topic, messages in self._packed_routes():
                for payload in feedpack.packs(self._feed_t, messages):
                    self.sim.publish(topic, payload, qos=self.feed_qos)
            return
        for jid, payload in self._feed:
            self.devices[jid].publish(self.topics.detectors(jid), payload, qos=self.feed_qos)

    def _packed_routes(self) -> list[tuple[str, list[tuple[str, bytes]]]]:
        """This second's detector messages by packed topic: all on `sim/detectors`, or, sharded, each
        region's owned and halo junctions' (in the field's order) on its own, which its node alone reads."""
        if not self.regions:
            return [(self.topics.packed_detectors, self._feed)]
        return [
            (self.topics.packed_detectors_of(r.name), [m for m in self._feed if m[0] in watched])
            for r, watched in self._watched
        ]

    def _resend_feed(self) -> None:
        """At QoS 0 a broker restart loses the messages in flight: once every connection served
        here is back (connected and subscribed again), this second's detector messages go out again."""
        if self.feed_qos != 0 or self._connection_events() == self._feed_events:
            return
        if all(c.ready() for c in self._served):
            self.feed_resent += 1
            log.info("lockstep: a connection came back; this second's detector messages sent again")
            self._publish_feed()

    def _second_lockstep(self, t_s: float) -> None:
        msgs = self._feed = self.field.detector_messages(t_s)
        self._feed_t = t_s
        self._publish_feed()
        clock: dict[str, Any] = {
            "v": MESSAGE_VERSION,
            "t": t_s,
            "detectors": len(msgs),
            "status": len(self._status_junctions),
            "status_t": self._status_t,
        }
        if self.regions:
            clock["regions"] = region_counts(self.regions, [jid for jid, _ in msgs], self._status_junctions)
        self._sim_client().publish(self.topics.clock, json.dumps(clock, separators=(",", ":")).encode(), qos=1)
        plans = self._wait_ticked(t_s)
        for jid, seq in plans:
            self._apply(jid, seq, self._plans.pop((jid, seq)), t_s)
        self._publish_statuses(t_s)

    def _wait_ticked(self, t_s: float) -> list[tuple[str, int]]:
        """Serve the field's connections until every controller node's `ticked` for t_s and
        every plan they list are in; those plans, in the nodes' order. timeout_s bounds a wait for
        the other side: a tick of a controller on this thread is not waiting, and the wait starts
        again after one (at load its tick may take longer than timeout_s, and its `ticked` goes out
        in the pump's next round, after done() said no)."""
        ticked: dict[str | None, list[tuple[str, int]]] = {}
        nodes = len(self.nodes) + len(self.procs)
        made = [0]  # ticks of this thread's controllers during this wait

        def all_in() -> bool:
            self._resend_feed()
            for stepper in self._steppers:  # the controller ticks once the clock's messages are in
                try:
                    made[0] += stepper.step()
                except TscError:
                    raise
                except Exception as exc:  # a failed tick stops the run with its reason, not a traceback
                    raise AdapterError(f"controller failed: {exc}", fatal=True) from exc
            self._drain_inbox(t_s, ticked)
            return len(ticked) == nodes and all(key in self._plans for plans in ticked.values() for key in plans)

        waited_from = 0  # ticks made when the wait last started
        while not self.pump.run_until(all_in, self.timeout_s, idle=self._check_controller):
            if made[0] > waited_from:  # this thread ticked meanwhile: wait for the answer from there
                waited_from = made[0]
                continue
            missing = [k for ps in ticked.values() for k in ps if k not in self._plans] if ticked else "ticked"
            raise AdapterError(
                f"lockstep t={t_s:g}: still waiting for {missing} after {self.timeout_s:g} s "
                f"(broker log: {self.broker.log_tail(5)})",
                fatal=True,
            )
        order = [n.region for n in self.nodes] + [p.region for p in self.procs]
        return [p for region in order for p in ticked.get(region, [])]

    def _drain_inbox(self, t_s: float, ticked: dict[str | None, list[tuple[str, int]]]) -> None:
        """Take what the field's clients received: plans kept by junction and seq, `ticked`
        messages for t_s by region (a redelivered one of an earlier second is dropped)."""
        while True:
            try:
                kind, jid, payload, _arrived_s = self._inbox.get_nowait()
            except queue.Empty:
                return
            if kind != "ticked":
                self._collect_plan(jid, payload)
                continue
            body = json.loads(payload)
            if body.get("t") == t_s:
                ticked[body.get("region")] = [(j, int(s)) for j, s in body["plans"]]

    def _collect_plan(self, jid: str, payload: bytes, arrived_s: float | None = None) -> None:
        try:
            cmd = decode_command(payload)
        except FeedError as exc:
            self.plans_bad += 1
            log.warning("field %s: unreadable plan dropped: %s", jid, exc)
            return
        if cmd.junction != jid:
            self.plans_bad += 1
            return
        self.plans_received += 1
        if cmd.seq > self._applied_seq.get(jid, -1):  # else a QoS 1 redelivery of an applied plan
            self._plans[(jid, cmd.seq)] = payload
            if arrived_s is not None:
                self._arrived_s[(jid, cmd.seq)] = arrived_s

    def _apply(self, jid: str, seq: int, payload: bytes, t_s: float) -> None:
        """The junction's roadside checks the message itself (signature, identity, limits);
        `seq`: the plan's, as _collect_plan decoded it (its key in _plans). In real time the
        cabinet checks the plan's validity window on the clock when the plan came (a real cabinet
        takes it as it comes), and applies it at SUMO's t_s: on a loaded machine SUMO falls behind
        the clock, and a plan stamped on the clock would otherwise be refused as not yet valid, or
        as expired after it waited for SUMO's second (sim/field_live.py's cabinets, on the clock too)."""
        self._applied_seq[jid] = max(seq, self._applied_seq.get(jid, -1))
        self.plans_applied += 1
        clock_s = self._arrived_s.pop((jid, seq), None)
        if clock_s is not None:
            clock_s = max(t_s, clock_s)
            self.lag_max_s = max(self.lag_max_s, clock_s - t_s)
        if self.field.roadside[jid].receive_message(payload, t_s, self.offset_s, clock_s=clock_s):
            self.field.refusals += 1

    def _second_realtime(self, t_s: float) -> None:
        if not self._realtime_clock().wait_until(self.offset_s + t_s, self._stop):
            raise AdapterError("real-time replay stopped", fatal=True)
        self._check_controller()
        for jid, payload in self.field.detector_messages(t_s):
            self.devices[jid].publish(self.topics.detectors(jid), shift_t(payload, self.offset_s), qos=0)
        while True:
            try:
                _kind, jid, payload, arrived_s = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._collect_plan(jid, payload, arrived_s)
        for jid, seq in sorted(self._plans, key=lambda k: k[1]):
            self._apply(jid, seq, self._plans.pop((jid, seq)), t_s)
        self._publish_statuses(t_s)

    def close(self) -> None:
        if self.lockstep and self.sim is not None and self.sim.connected.is_set():
            # the region processes stop at the clock's end (a stepped node needs none)
            self.sim.publish(self.topics.clock, json.dumps({"v": MESSAGE_VERSION, "end": True}).encode(), qos=1)
            self.sim.close()  # flushed: the pump is served only here
        self._stop.set()
        for th in getattr(self, "_threads", []):
            th.join(timeout=15)
        for node in self.nodes:
            node.close()
        if self._tail is not None:
            self._tail.close()
        for proc in self.procs:
            if proc.proc.pid is not None:
                proc.finish(terminate=not self.lockstep)
        for c in [*self.devices.values(), *([self.sim] if self.sim else [])]:
            c.close()

    def _controller_parts(self) -> dict[str, Any]:
        """summary.json's `junction_control` and `decision_cost`, as an in-process run writes them, over
        every node (this process's, or each process's final report; a region's own junctions)."""
        finals = [summary_parts(n.service) for n in self.nodes] + [p.final for p in self.procs if p.final is not None]
        costs = [f["decision_cost"] for f in finals if "decision_cost" in f]
        control = {jid: entry for f in finals for jid, entry in f.get("junction_control", {}).items()}
        return {"decision_cost": merged_decision_cost(costs) if costs else {}, "junction_control": control}

    def summary(self) -> dict[str, Any]:
        devices = list(self.devices.values())
        controller = merged_stats(self._stats())
        reports = [p.final["online_gains"] for p in self.procs if p.final and "online_gains" in p.final]
        return (
            ({"online_gains": reports[0]} if reports else {})
            | self._controller_parts()
            | {
                "refused": controller.get("refused", {}),  # as in process: junctions named at start, with the reason
                "transport": {
                    "mode": "mqtt-lockstep" if self.lockstep else "mqtt-realtime",
                    "realtime_factor": None if self.lockstep else self._realtime_clock().factor,
                    "controller_process": self.apart,  # an unsharded controller in a process of its own
                    "metrics_thread": self._tail is not None,  # its tick metrics beside the field's step
                    "metrics_works": 0 if self._tail is None else self._tail.submitted,  # one per tick when on
                    "broker": f"{self.broker.host}:{self.broker.port}",
                    "controller": controller,
                    "regions": {p.region: p.final for p in self.procs} if self.regions else {},
                    "field": {
                        "plans_received": self.plans_received,
                        "plans_unreadable": self.plans_bad,
                        "plans_applied": self.plans_applied,  # handed to the roadsides (each checks it itself)
                        "lag_max_s": round(self.lag_max_s, 3),  # real time: SUMO behind the clock at a plan
                        "reconnects": sum(max(0, c.connects - 1) for c in devices),
                        "feed_qos": self.feed_qos,
                        "feed_packed": self.feed_packed,  # a second's detector messages in one (sim/detectors)
                        "feed_resent": self.feed_resent,  # seconds whose detector messages went out again
                    },
                },
            }
        )


def sharded_regions(cfg: Config, junctions: dict[str, Intersection]) -> list[Region]:
    """The regions of a sharded replay ([regions] named or count in cfg); [] when not sharded."""
    if not cfg.regions.named and cfg.regions.count <= 0:
        return []
    return list(plan_regions(cfg, junctions).regions)


def _region_spec(
    broker: BrokerSide,
    cfg: Config,
    junctions: dict[str, Intersection],
    region: Region,
    policy: str,
    start_s: float,
    keyring: Keyring,
    realtime_factor: float | None,
) -> RegionSpec:
    """What the process of one region's controller node needs."""
    site = broker.topics.site
    cfg = replace(cfg, service=replace(cfg.service, instance=region_instance(cfg, region.name)))
    # the region's own user where the broker has one (a Broker of run_via_mqtt); else `controller` (a cluster)
    user = region_user(region.name) if region_user(region.name) in getattr(broker, "users", {}) else CONTROLLER
    return RegionSpec(
        cfg=broker.controller_config(cfg),
        junctions={j: junctions[j] for j in region.watched},
        owned=region.owned,
        region=region.name,
        settings=broker.settings(user, client_id=f"tsc-{site}-replay-{region.name}"),
        policy=policy,
        start_s=start_s,
        keyring=keyring,
        realtime_factor=realtime_factor,
    )


def region_counts(regions: list[Region], detectors: list[str], statuses: list[str]) -> dict[str, dict[str, int]]:
    """Per region, how many of this second's detector messages and statuses its node reads."""
    out = {}
    for r in regions:
        watched = set(r.watched)
        out[r.name] = {
            "detectors": sum(1 for j in detectors if j in watched),
            "status": sum(1 for j in statuses if j in watched),
        }
    return out


def merged_stats(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """The controller figures of summary.json over every node's stats (the latencies of the slowest)."""
    if len(stats) == 1:
        return stats[0]
    out: dict[str, Any] = {k: sum(s[k] for s in stats) for k in ("received", "plans_sent", "unrouted", "reconnects")}
    out["rejected"] = dict(sum((Counter(s["rejected"]) for s in stats), Counter()))
    out["refused"] = {j: why for s in stats for j, why in s.get("refused", {}).items()}
    out["ticks"] = min(s["ticks"] for s in stats)
    for k in ("tick_p50_ms", "tick_p99_ms"):
        values = [s[k] for s in stats if s[k] is not None]
        out[k] = max(values) if values else None
    return out


def _private_broker(folder: Path, cfg: Config, junctions: dict[str, Intersection], *, lockstep: bool) -> Broker:
    """run_via_mqtt's broker for `junctions` (not started), junction ids the topic tree cannot carry refused first:
    a user per region process of a sharded replay (client ids bound to user names); a lockstep replay's broker
    yields to its clients' bursts (Broker's `yields`)."""
    for jid in junctions:
        topic_level(jid)  # refuse ids the topic tree cannot carry before starting anything
    site = cfg.service.site
    users = region_users(Topics(site), [r.name for r in sharded_regions(cfg, junctions)])
    return Broker(folder, site, junctions, extra_users=users, bind_client_ids=True, yields=lockstep)


def run_via_mqtt(
    req: SimulateRequest,
    cfg: Config,
    *,
    realtime_factor: float | None = None,
    after_second: AfterSecond | None = None,
    timeout_s: float = LOCKSTEP_TIMEOUT_S,
    progress: Callable[[str], None] | None = None,
    registry: CollectorRegistry | None = None,
    controller_process: bool = False,
) -> dict[str, Any]:
    """sim.simulate.run with controller and field talking through a private Mosquitto.
    Same outputs (tripinfo.xml, statistics.xml, summary.json) plus summary["transport"].
    controller_process: see MqttLoop (nothing reads `registry` during the run then)."""
    with tempfile.TemporaryDirectory(prefix="tsc-mqtt-") as workdir:
        brokers: list[Broker] = []

        def factory(
            field: SumoField,
            junctions: dict[str, Intersection],
            cfg: Config,
            policy: str,
            begin_s: float,
            *,
            metrics: ServiceMetrics | None = None,
            archive: Recorder | None = None,
        ) -> MqttLoop:
            """A LoopFactory (sim/simulate.py): a private broker for `junctions`, then the loop."""
            broker = _private_broker(Path(workdir) / "broker", cfg, junctions, lockstep=realtime_factor is None)
            brokers.append(broker.start())
            return MqttLoop(
                field,
                junctions,
                cfg,
                policy,
                begin_s,
                broker=broker,
                realtime_factor=realtime_factor,
                timeout_s=timeout_s,
                after_second=after_second,
                metrics=metrics,
                archive=archive,
                controller_process=controller_process,
            )

        try:
            return run(req, cfg, progress=progress, loop_factory=factory, registry=registry)
        except AdapterError as exc:
            if brokers:
                log.error("broker log:\n%s", brokers[0].log_tail())
            raise exc
        finally:
            for b in brokers:
                b.stop()

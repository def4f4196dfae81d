"""`simulate ... --via-mqtt`: the same closed loop as sim/simulate.py, but the controller and
the field only talk through a private Mosquitto (sim/broker.py).

Who is who on the broker:
- the controller: a ServiceNode (controller/live.py) with its own client, user `controller`,
  on its own thread — the same code as `run_controller.py run`;
- the field: SUMO on the calling thread (SumoField), one client per junction with that
  junction's field-device user (the ACL lets it publish only its own detectors and status);
- `sim`: the replay's clock.

Lockstep (the default; for replays): at each simulated second t the field publishes every
junction's detector message (QoS 1: a replay must not lose a second) and then the clock message;
the controller ticks once it holds everything the clock announced and answers `ticked` with the
plans it published; the field waits for those plans, applies them and actuates. The controller
therefore sees exactly the inputs of the in-process run, and the tripinfo is identical.

Real-time (`realtime_factor`, for demos): one simulated second every `realtime_factor` wall
seconds; feeds at QoS 0, no clock messages, plans applied when they arrive, the controller
ticking on its own clock (controller.live.ScaledClock). Not reproducible bit for bit.
"""

from __future__ import annotations

import json
import logging
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from controller.adapters.keys import new_keyring
from controller.adapters.metrics import ServiceMetrics
from controller.adapters.mqtt import MqttClient, topic_level
from controller.adapters.trust import Trust
from controller.config import Config
from controller.core.messages import MESSAGE_VERSION, decode_command
from controller.errors import AdapterError, FeedError
from controller.live import ScaledClock, ServiceNode, run_lockstep, run_realtime
from controller.service import Recorder
from sim.broker import SIM, Broker, field_user
from sim.field import SumoField
from sim.simulate import SimulateRequest, run

log = logging.getLogger(__name__)

AfterSecond = Callable[["MqttLoop", float], None]


def _shift_t(payload: bytes, offset_s: float) -> bytes:
    """The same message with its "t" moved into service time."""
    obj = json.loads(payload)
    obj["t"] = obj["t"] + offset_s
    return json.dumps(obj, separators=(",", ":")).encode()


class MqttLoop:
    """sim.simulate.ClosedLoop through a broker: controller thread + per-junction field clients."""

    def __init__(
        self,
        field: SumoField,
        junctions: dict,
        cfg: Config,
        policy: str,
        begin_s: float,
        *,
        broker: Broker,
        realtime_factor: float | None = None,
        timeout_s: float = 60.0,
        after_second: AfterSecond | None = None,
        metrics: ServiceMetrics | None = None,
        archive: Recorder | None = None,
    ) -> None:
        """archive: where the controller records what it received and sent (docs/replay.md),
        as the in-process loop does (`simulate --record`)."""
        self.field = field
        self.broker = broker
        self.topics = broker.topics
        self.lockstep = realtime_factor is None
        self.timeout_s = timeout_s
        self.after_second = after_second
        site = self.topics.site
        self._inbox: queue.SimpleQueue[tuple[str, str, bytes]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._statuses: list[tuple[str, bytes]] = []
        self._status_t: float | None = None
        self._plans: dict[tuple[str, int], bytes] = {}
        self._applied_seq: dict[str, int] = {}
        self.plans_received = 0
        self.plans_bad = 0
        self.seconds = 0

        if self.lockstep:
            self.clock = None
            self.offset_s = 0.0
            start_s = begin_s
        else:
            self.clock = ScaledClock(realtime_factor)
            self.offset_s = self.clock.now() + 1.0 - begin_s  # first second one second from now
            start_s = self.clock.now()
        ctl_cfg = broker.controller_config(cfg)
        # Plans cross the broker signed with a throw-away key the roadsides are provisioned with.
        keyring = new_keyring("replay")
        for jid, rc in field.roadside.items():
            rc.set_keys(keyring.for_junction(jid))
        self.node = ServiceNode(
            ctl_cfg,
            junctions,
            broker.settings("controller", client_id=f"tsc-{site}-replay"),
            policy=policy,
            start_s=start_s,
            lockstep=self.lockstep,
            metrics=metrics,
            archive=archive,
            trust=Trust(epoch=1, signer=keyring.sign, audit=None),
        )
        self.devices: dict[str, MqttClient] = {}
        self.sim: MqttClient | None = None
        try:
            self.node.start()
            for jid in junctions:
                user = field_user(jid)
                dev = MqttClient(
                    broker.settings(user, client_id=f"{user}-{site}"),
                    lambda topic, payload, jid=jid: self._inbox.put(("plan", jid, payload)),
                )
                dev.subscribe([self.topics.plan(jid)], qos=1)
                self.devices[jid] = dev.start(wait=False)
            if self.lockstep:
                self.sim = MqttClient(
                    broker.settings(SIM, client_id=f"sim-{site}"),
                    lambda topic, payload: self._inbox.put(("ticked", "", payload)),
                )
                self.sim.subscribe([self.topics.ticked], qos=1)
                self.sim.start(wait=False)
            for c in [*self.devices.values(), *([self.sim] if self.sim else [])]:
                c.wait_connected(c.settings.connect_timeout_s)
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._controller_main, name="controller", daemon=True)
        self._thread.start()

    # -- controller thread ----------------------------------------------------------------
    def _controller_main(self) -> None:
        try:
            if self.lockstep:
                run_lockstep(self.node, self._stop, timeout_s=self.timeout_s)
            else:
                run_realtime(self.node, self.clock, self._stop)
        except BaseException as exc:  # reported by the field side
            self._error = exc
            log.error("controller thread failed: %s", exc)

    def _check_controller(self) -> None:
        if self._error is not None:
            raise AdapterError(f"controller failed: {self._error}", fatal=True) from self._error
        if not self._thread.is_alive():
            raise AdapterError("controller thread ended early", fatal=True)

    # -- ClosedLoop -----------------------------------------------------------------------
    @property
    def plans_sent(self) -> int:
        return self.node.service.plans_sent

    @property
    def rejected(self):
        return self.node.service.rejected

    def start(self, begin_s: float) -> None:
        self._publish_statuses(begin_s)

    def second(self, t_s: float) -> None:
        if self.lockstep:
            self._second_lockstep(t_s)
        else:
            self._second_realtime(t_s)
        self.seconds += 1
        if self.after_second is not None:
            self.after_second(self, t_s)

    def _publish_statuses(self, t_s: float) -> None:
        statuses = self.field.actuate(t_s)
        for payload in statuses:  # the field may report only the junctions whose status changed
            jid = json.loads(payload)["junction"]
            if self.offset_s:
                payload = _shift_t(payload, self.offset_s)
            self.devices[jid].publish(self.topics.status(jid), payload, qos=1, retain=True)
        self._status_t = t_s
        self._n_statuses = len(statuses)

    def _second_lockstep(self, t_s: float) -> None:
        msgs = self.field.detector_messages(t_s)
        for jid, payload in msgs:
            self.devices[jid].publish(self.topics.detectors(jid), payload, qos=1)
        clock = {
            "v": MESSAGE_VERSION,
            "t": t_s,
            "detectors": len(msgs),
            "status": self._n_statuses,
            "status_t": self._status_t,
        }
        self.sim.publish(self.topics.clock, json.dumps(clock, separators=(",", ":")).encode(), qos=1)
        plans = self._wait_ticked(t_s)
        for jid, seq in plans:
            self._apply(jid, self._plans.pop((jid, seq)), t_s)
        self._publish_statuses(t_s)

    def _wait_ticked(self, t_s: float) -> list[tuple[str, int]]:
        """Block until the controller's `ticked` for t_s and every plan it lists are in."""
        deadline = time.monotonic() + self.timeout_s
        plans: list[tuple[str, int]] | None = None
        while plans is None or any(key not in self._plans for key in plans):
            if time.monotonic() > deadline:
                missing = [k for k in plans if k not in self._plans] if plans is not None else "ticked"
                raise AdapterError(
                    f"lockstep t={t_s:g}: still waiting for {missing} after {self.timeout_s:g} s "
                    f"(broker log: {self.broker.log_tail(5)})",
                    fatal=True,
                )
            try:
                kind, jid, payload = self._inbox.get(timeout=0.2)
            except queue.Empty:
                self._check_controller()
                continue
            if kind == "ticked":
                body = json.loads(payload)
                if body.get("t") == t_s:
                    plans = [(j, int(s)) for j, s in body["plans"]]
            else:
                self._collect_plan(jid, payload)
        return plans

    def _collect_plan(self, jid: str, payload: bytes) -> None:
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

    def _apply(self, jid: str, payload: bytes, t_s: float) -> None:
        """The junction's roadside checks the message itself (signature, identity, limits)."""
        cmd = decode_command(payload)
        self._applied_seq[jid] = max(cmd.seq, self._applied_seq.get(jid, -1))
        if self.field.roadside[jid].receive_message(payload, t_s, self.offset_s):
            self.field.refusals += 1

    def _second_realtime(self, t_s: float) -> None:
        if not self.clock.wait_until(self.offset_s + t_s, self._stop):
            raise AdapterError("real-time replay stopped", fatal=True)
        self._check_controller()
        for jid, payload in self.field.detector_messages(t_s):
            self.devices[jid].publish(self.topics.detectors(jid), _shift_t(payload, self.offset_s), qos=0)
        while True:
            try:
                _kind, jid, payload = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._collect_plan(jid, payload)
        for jid, seq in sorted(self._plans, key=lambda k: k[1]):
            self._apply(jid, self._plans.pop((jid, seq)), t_s)
        self._publish_statuses(t_s)

    def close(self) -> None:
        thread = getattr(self, "_thread", None)
        if thread is not None:
            if self.lockstep and self.sim is not None and self.sim.connected.is_set():
                self.sim.publish(self.topics.clock, json.dumps({"v": MESSAGE_VERSION, "end": True}).encode(), qos=1)
            else:
                self._stop.set()
            thread.join(timeout=10)
            self._stop.set()
            thread.join(timeout=5)
        self.node.close()
        for c in [*self.devices.values(), *([self.sim] if self.sim else [])]:
            c.close()

    def summary(self) -> dict:
        devices = list(self.devices.values())
        return {
            "transport": {
                "mode": "mqtt-lockstep" if self.lockstep else "mqtt-realtime",
                "realtime_factor": None if self.lockstep else self.clock.factor,
                "broker": f"{self.broker.host}:{self.broker.port}",
                "controller": self.node.stats(),
                "field": {
                    "plans_received": self.plans_received,
                    "plans_unreadable": self.plans_bad,
                    "reconnects": sum(max(0, c.connects - 1) for c in devices),
                },
            }
        }


def run_via_mqtt(
    req: SimulateRequest,
    cfg: Config,
    *,
    realtime_factor: float | None = None,
    after_second: AfterSecond | None = None,
    timeout_s: float = 60.0,
    progress: Callable[[str], None] | None = None,
    registry: CollectorRegistry | None = None,
) -> dict:
    """sim.simulate.run with controller and field talking through a private Mosquitto.
    Same outputs (tripinfo.xml, statistics.xml, summary.json) plus summary["transport"]."""
    with tempfile.TemporaryDirectory(prefix="tsc-mqtt-") as workdir:
        brokers: list[Broker] = []

        def factory(
            field: SumoField,
            junctions: dict,
            cfg_: Config,
            policy: str,
            begin_s: float,
            *,
            metrics: ServiceMetrics | None = None,
            archive: Recorder | None = None,
        ) -> MqttLoop:
            for jid in junctions:
                topic_level(jid)  # refuse ids the topic tree cannot carry before starting anything
            broker = Broker(Path(workdir) / "broker", cfg_.service.site, junctions)
            brokers.append(broker.start())
            return MqttLoop(
                field,
                junctions,
                cfg_,
                policy,
                begin_s,
                broker=broker,
                realtime_factor=realtime_factor,
                timeout_s=timeout_s,
                after_second=after_second,
                metrics=metrics,
                archive=archive,
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

"""`run_controller.py field SUMOCFG`: SUMO as a live city, in real time, against any broker.

The field side only: every junction's field device (its own broker user `field-{junction}`,
sim/broker.py) publishes its detector message each second (QoS 0) and its roadside status
when it changes (QoS 1, retained); the virtual roadside controllers (sim/roadside.py) apply
the plans their device receives, with their own checks (signature when plan keys are
configured, epoch and sequence, validity window, hard limits). The controller is whatever
service listens on the broker (`run_controller.py run`), on the same clock: Unix time divided
by `realtime_factor` (1 / `--speed`), so both sides must run at the same speed.

SUMO's time t maps to service time `offset_s + t`, with offset_s set at the start so that the
first simulated second is one clock second away. The cabinets check a plan's validity window on
the clock when the plan came (not when SUMO's next second takes it from the inbox), as a real
cabinet would, and apply it at SUMO's time: on a loaded machine SUMO falls
behind the clock (the largest lag when a plan arrived is `lag_max_s` in the summary), and a plan
stamped on the clock would otherwise be refused as not yet valid. Once admitted, the roadside
judges the plan's expiry and its backup time at SUMO's time (its tick): while SUMO lags the clock,
a plan may stay in force up to `lag_max_s` beyond its expiry on the clock. The largest lag at any
second is `behind_max_s`: the age of its detector messages on the service's clock when sent; past
[service] feed_stale_s the service commands none of those junctions (they run their local plans). When
the scenario ends, the evaluation is written as for `simulate` (tripinfo.xml, statistics.xml,
summary.json); Ctrl-C stops without it.

Credentials: one password per device user, from `{credentials}/{user}.password` (the folder
`broker-setup` writes) or the environment variable TSC_MQTT_PASSWORD_{USER} (user upper-cased,
other characters than letters and digits as `_`).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.adapters.credentials import password_for
from controller.adapters.mqtt import MqttClient, MqttSettings, Topics
from controller.config import Config
from controller.errors import AdapterError
from controller.live import ScaledClock, stop_on_signals
from sim.broker import field_user
from sim.field import SumoField
from sim.simulate import SimulateRequest, run

if TYPE_CHECKING:
    from controller.adapters.metrics import ServiceMetrics
    from controller.core.signing import Keyring
    from controller.model import Intersection
    from controller.service import Recorder

log = logging.getLogger(__name__)


def shift_t(payload: bytes, offset_s: float) -> bytes:
    """The same message with its "t" moved by offset_s (SUMO time -> service time)."""
    obj = json.loads(payload)
    obj["t"] = obj["t"] + offset_s
    return json.dumps(obj, separators=(",", ":")).encode()


class LiveFieldLoop:
    """sim.simulate.ClosedLoop for a field alone: one MQTT client per junction device, SUMO
    stepped on the clock, plans applied when they arrive."""

    def __init__(
        self,
        field: SumoField,
        junctions: Mapping[str, object],
        cfg: Config,
        begin_s: float,
        *,
        settings_for: Callable[[str], MqttSettings],
        clock: ScaledClock,
        stop: threading.Event,
        keyring: Keyring | None = None,
    ) -> None:
        self.field = field
        self.topics = Topics(cfg.service.site)
        self.clock = clock
        self.stop = stop
        self.offset_s = clock.now() + 1.0 - begin_s  # the first simulated second, one clock second from now
        self.plans_received = 0
        self.plans_refused = 0
        self.lag_max_s = 0.0  # how far SUMO's time fell behind the clock when a plan arrived
        self.behind_max_s = 0.0  # how far SUMO's time fell behind the clock at any second (its detector messages' age)
        self.seconds = 0
        # (junction, payload, the clock when it came in SUMO's time: the cabinet's own when it received it)
        self._inbox: queue.SimpleQueue[tuple[str, bytes, float]] = queue.SimpleQueue()
        self.devices: dict[str, MqttClient] = {}
        if keyring is not None:  # the cabinets hold their derived keys: only signed plans pass
            for jid, rc in field.roadside.items():
                rc.set_keys(keyring.for_junction(jid))
        try:
            for jid in junctions:
                dev = MqttClient(settings_for(field_user(jid)), functools.partial(self._plan_message, jid))
                dev.subscribe([self.topics.plan(jid)], qos=1)
                self.devices[jid] = dev.start(wait=False)
            for dev in self.devices.values():
                dev.wait_connected(dev.settings.connect_timeout_s)
        except BaseException:
            self.close()
            raise

    # -- ClosedLoop ---------------------------------------------------------------------------
    plans_sent = 0  # the field sends no plans
    rejected: Mapping[str, int] = {}

    def start(self, begin_s: float) -> None:
        self._publish_statuses(begin_s)

    def second(self, t_s: float) -> None:
        if not self.clock.wait_until(self.offset_s + t_s, self.stop):
            raise KeyboardInterrupt  # stopped (SIGINT/SIGTERM): run() closes SUMO and this loop
        self.behind_max_s = max(self.behind_max_s, self.clock.now() - self.offset_s - t_s)
        for jid, payload in self.field.detector_messages(t_s):
            self.devices[jid].publish(self.topics.detectors(jid), shift_t(payload, self.offset_s), qos=0)
        while True:
            try:
                jid, payload, arrived_s = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._apply(jid, payload, t_s, arrived_s)
        self._publish_statuses(t_s)
        self.seconds += 1

    def _apply(self, jid: str, payload: bytes, t_s: float, arrived_s: float) -> None:
        """The plan to junction `jid`'s roadside at SUMO's t_s, its validity window checked on the
        clock when it came (`arrived_s`, in SUMO's time), not when SUMO's second took it: a plan
        that waited through a slow SUMO second would otherwise expire in the inbox."""
        self.plans_received += 1
        rc = self.field.roadside[jid]
        self.lag_max_s = max(self.lag_max_s, arrived_s - t_s)
        why = rc.receive_message(payload, t_s, self.offset_s, clock_s=max(t_s, arrived_s))
        if why:
            self.plans_refused += 1
            log.warning("roadside junction=%s refused a plan: %s", jid, why)

    def _publish_statuses(self, t_s: float) -> None:
        for payload in self.field.actuate(t_s):
            jid = json.loads(payload)["junction"]
            self.devices[jid].publish(self.topics.status(jid), shift_t(payload, self.offset_s), qos=1, retain=True)

    def _plan_message(self, jid: str, topic: str, payload: bytes) -> None:
        """A plan message on junction `jid`'s device: to the inbox the field's second reads, with the
        clock's reading as it came, in SUMO's time (the cabinet's own when it received it)."""
        self._inbox.put((jid, payload, self.clock.now() - self.offset_s))

    def close(self) -> None:
        for dev in self.devices.values():
            dev.close(flush_s=0.5)

    def summary(self) -> dict[str, Any]:
        return {
            "transport": {
                "mode": "field-realtime",
                "realtime_factor": self.clock.factor,
                "offset_s": self.offset_s,
                "field": {
                    "plans_received": self.plans_received,
                    "plans_refused": self.plans_refused,
                    "lag_max_s": round(self.lag_max_s, 3),
                    "behind_max_s": round(self.behind_max_s, 3),
                    "reconnects": sum(max(0, c.connects - 1) for c in self.devices.values()),
                },
            }
        }


def run_field(
    sumocfg: Path,
    out_dir: Path,
    cfg: Config,
    *,
    intersections: Path,
    credentials: Path | None,
    speed: float,
    stop: threading.Event,
    sumo_args: tuple[str, ...] = (),
    keyring: Keyring | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run SUMO as the field until the scenario ends or `stop` is set; returns the summary."""
    if not speed > 0:
        raise AdapterError(f"--speed must be > 0, got {speed}", fatal=True)
    clock = ScaledClock(1.0 / speed)
    b = cfg.broker

    def settings_for(user: str) -> MqttSettings:  # a clean session: a field device's plans are only good now
        return MqttSettings.for_user(b, user, password_for(user, credentials))

    def factory(
        field: SumoField,
        junctions: dict[str, Intersection],
        cfg: Config,
        policy: str,
        begin_s: float,
        *,
        metrics: ServiceMetrics | None = None,
        archive: Recorder | None = None,
    ) -> LiveFieldLoop:
        """A LoopFactory for `run`: the field's devices (no controller here: `metrics` and `archive` unused)."""
        log.info("field up junctions=%d broker=%s:%d speed=%g", len(junctions), b.host, b.port, speed)
        return LiveFieldLoop(
            field, junctions, cfg, begin_s, settings_for=settings_for, clock=clock, stop=stop, keyring=keyring
        )

    req = SimulateRequest(
        sumocfg=sumocfg,
        out_dir=out_dir,
        policy="fixed",
        sumo_args=sumo_args,
        intersections=intersections,
        progress_every_s=300.0,
    )
    return run(req, replace(cfg), progress=progress, loop_factory=factory)


def cli(args: argparse.Namespace, cfg: Config) -> int:
    """`field` and `broker-setup` of run_controller.py."""
    from controller.junctions import load_intersections
    from controller.live import resolve_intersections

    intersections = args.intersections or resolve_intersections(cfg)
    if args.command == "broker-setup":
        return broker_setup(args, cfg, sorted(load_intersections(intersections)))
    from controller import liveopts

    cfg = liveopts.apply(cfg, args)
    stop = threading.Event()
    try:
        keyring = _keyring(cfg)
        with stop_on_signals(stop):  # not stop.set() in a handler: stop_on_signals
            summary = run_field(
                args.sumocfg,
                args.out,
                cfg,
                intersections=intersections,
                credentials=args.credentials,
                speed=1.0 / cfg.service.realtime_factor,
                stop=stop,
                sumo_args=args.sumo_args,
                keyring=keyring,
            )
    except KeyboardInterrupt:
        print("field stopped", file=__import__("sys").stderr)
        return 0
    t = summary.get("transport", {}).get("field", {})
    print(
        f"field done: {summary.get('arrived', '?')} vehicles arrived, plans received {t.get('plans_received')}, "
        f"refused {t.get('plans_refused')}; evaluation in {args.out}"
    )
    return 0


def _keyring(cfg: Config) -> Keyring | None:
    """The plan keys the virtual cabinets verify with (config [security]); None: unsigned plans."""
    try:
        from controller.adapters.keys import load_keyring
    except ImportError:
        return None
    return load_keyring(cfg)


def broker_setup(args: argparse.Namespace, cfg: Config, junctions: list[str]) -> int:
    """Write passwd, acl, mosquitto.conf and credentials/ into args.out (sim/broker.py provision)."""
    from sim.broker import CREDENTIALS_DIR, TlsFiles, provision

    tls_parts = (args.tls_ca, args.tls_cert, args.tls_key)
    if any(tls_parts) and not all(tls_parts):
        from controller.errors import ConfigError

        raise ConfigError("--tls-*", "broker-setup", "give --tls-ca, --tls-cert and --tls-key together")
    tls = TlsFiles(*(p.resolve() for p in tls_parts)) if all(tls_parts) else None
    root = Path(__file__).resolve().parent.parent
    b = provision(
        args.out,
        cfg,
        junctions,
        operators=_names(args.operators),
        monitors=_names(args.monitors),
        host=args.listen or cfg.broker.host,
        port=args.port or cfg.broker.port,
        tls=tls,
        log_denied=args.log_denied,
        repo_root=root,
    )
    out = Path(args.out).resolve()
    print(f"wrote {out}/mosquitto.conf, passwd ({len(b.users)} users), acl, {CREDENTIALS_DIR}/ (one file per user)")
    print(
        f"  roles: controller; operators {', '.join(b.operators) or '-'}; monitors {', '.join(b.monitors) or '-'}; "
        f"{len(junctions)} field devices (field-<junction>)"
    )
    print(f"start it:     mosquitto -c {out}/mosquitto.conf")
    print(f"the service:  run_controller.py run --credentials {out}/{CREDENTIALS_DIR}")
    print(f"the field:    run_controller.py field SUMOCFG --credentials {out}/{CREDENTIALS_DIR}")
    print(
        f"an operator:  run_controller.py ctl --user {b.operators[0] if b.operators else 'USER'} "
        f"--credentials {out}/{CREDENTIALS_DIR} status"
    )
    print("give each user only its own file; never commit them")
    return 0


def _names(listed: str) -> list[str]:
    """The names of a comma-separated option (`--operators a,b`), blanks dropped."""
    return [x.strip() for x in listed.split(",") if x.strip()]

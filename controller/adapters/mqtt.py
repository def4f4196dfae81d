"""MQTT adapter: a paho-mqtt 2.x client that moves bytes between the broker and callables.

It decides nothing. It connects (MQTT 5, persistent session: clean_start=False with a session
expiry, so QoS 1 messages queued while it is away are delivered when it comes back), keeps its
subscriptions across reconnects, reconnects with exponential backoff, and hands every message
to one `on_message(topic, payload)` callable. That callable runs on paho's network thread:
it should only queue the message for the thread that owns the service. A client may also be given
`on_raw(topic's bytes, payload)`: the messages paho_read.py reads on its fast path (the feeds:
QoS 0 and 1 PUBLISHes without properties) go there, the topic not decoded (a live node routes a
junction's topics by their bytes); every other message, and all of them without the lean reader,
still goes to on_message. A client started with
a pump (controller/adapters/mqtt_pump.py) has no network thread of its own: the pump's caller
serves it, with its other clients, and the callable runs there.

The topic layout of the contract (docs/mqtt.md) lives in `Topics`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from controller.adapters import paho_acks, paho_lean, paho_read, paho_write
from controller.config import BrokerConfig
from controller.core.messages import MESSAGE_VERSION
from controller.errors import AdapterError

if TYPE_CHECKING:
    from controller.adapters.mqtt_pump import MqttPump

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], None]
OnRaw = Callable[[bytes, bytes], None]  # (the topic's bytes, payload)

# Topic levels of the contract that can never be junction ids.
RESERVED_LEVELS = frozenset({"service", "sim", "ops"})
JUNCTION_KINDS = ("detectors", "status", "plan")
# CONNACK reason codes that retrying cannot fix (MQTT 5: 0x86, 0x87, 0x8A, 0x8C; MQTT 3: 4, 5).
_AUTH_REFUSED = frozenset({134, 135, 138, 140, 4, 5})
MQTT_PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}
# poll events that mean "read" for a pumped connection (controller/adapters/mqtt_pump.py)
POLL_READ = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP
# what a pumped client's burst read (MqttClient.pump_read) calls of paho's private client: the socket
# (None once lost), the packet reader (MQTT_ERR_AGAIN when the socket would block) and its error
# handling, as paho 2.0-2.2's own loop_read does. A release without them is read by loop_read.
PAHO_BURST_READ = ("_sock", "_packet_read", "_loop_rc_handle")
# MqttClient.wait_connected given a stop event looks at it this often
STOP_LOOK_S = 0.1


def burst_read_missing(client: object) -> list[str]:
    """What of PAHO_BURST_READ the paho client lacks (a callable for the two calls); empty where
    pump_read's burst read can run (MqttClient.start says the rest once per pump: the pump then
    reads by paho's public loop_read, the same packets, a poll round for each read)."""
    missing = [n for n in PAHO_BURST_READ if not hasattr(client, n)]
    return missing + [n for n in PAHO_BURST_READ[1:] if n not in missing and not callable(getattr(client, n))]


def _wait_or_stop(wait: Callable[[float], bool], deadline_s: float, stop: threading.Event) -> bool:
    """wait(seconds) in turns of at most STOP_LOOK_S: True once a turn returns True; False at
    deadline_s (monotonic) or once `stop` is set."""
    while not stop.is_set():
        left_s = deadline_s - time.monotonic()
        if wait(max(0.0, min(left_s, STOP_LOOK_S))):
            return True
        if left_s <= STOP_LOOK_S:
            return False
    return False


def topic_level(name: str) -> str:
    """A junction id as one topic level: '%', '/', '+', '#' and control characters are
    percent-encoded (SUMO ids such as 'cluster_1_2_#3more' are legal junction ids)."""
    if not name:
        raise AdapterError("empty name cannot be an MQTT topic level")
    out = "".join(f"%{ord(c):02X}" if c in "%/+#" or ord(c) < 32 else c for c in name)
    if out in RESERVED_LEVELS:
        raise AdapterError(f"junction id {name!r} is reserved in the MQTT topic tree (docs/mqtt.md)")
    return out


@dataclass(frozen=True)
class Topics:
    """tsc/v1/{site}/{junction}/{detectors|status|plan}, operators' overrides
    tsc/v1/{site}/{junction}/override/{user} and the replies tsc/v1/{site}/ops/{user}, the service's
    heartbeat tsc/v1/{site}/service/{instance} and junction table .../service/{instance}/junctions,
    and the lockstep topics of replays, tsc/v1/{site}/sim/{clock|ticked|detectors}, a sharded
    replay's packed detector messages per region tsc/v1/{site}/sim/detectors/{region}."""

    site: str

    def __post_init__(self) -> None:
        if not self.site or any(c in self.site for c in "/+#"):
            raise AdapterError(f"site {self.site!r} is not a valid single MQTT topic level")

    @property
    def root(self) -> str:
        return f"tsc/v{MESSAGE_VERSION}/{self.site}"

    def junction(self, junction: str, kind: str) -> str:
        return f"{self.root}/{topic_level(junction)}/{kind}"

    def detectors(self, junction: str) -> str:
        return self.junction(junction, "detectors")

    def status(self, junction: str) -> str:
        return self.junction(junction, "status")

    def plan(self, junction: str) -> str:
        return self.junction(junction, "plan")

    def override(self, junction: str, user: str) -> str:
        """Where operator `user` sends overrides for `junction` (the ACL lets only that user publish here)."""
        return f"{self.junction(junction, 'override')}/{topic_level(user)}"

    @property
    def overrides(self) -> str:
        """Filter: every operator's overrides for every junction."""
        return f"{self.root}/+/override/+"

    def overrides_of(self, junction: str) -> str:
        """Filter: every operator's overrides for one junction (a region's instance, controller/regions.py)."""
        return f"{self.junction(junction, 'override')}/+"

    def reply(self, user: str) -> str:
        """The service's answers to operator `user`'s overrides."""
        return f"{self.root}/ops/{topic_level(user)}"

    def junction_table(self, instance: str) -> str:
        """The service's retained per-junction table (mode, plan, phase, queue, delay, faults)."""
        return f"{self.heartbeat(instance)}/junctions"

    def heartbeat(self, instance: str) -> str:
        return f"{self.root}/service/{topic_level(instance)}"

    @property
    def clock(self) -> str:
        return f"{self.root}/sim/clock"

    @property
    def ticked(self) -> str:
        return f"{self.root}/sim/ticked"

    @property
    def packed_detectors(self) -> str:
        """A lockstep replay's second of detector messages in one message (core/feedpack.py)."""
        return f"{self.root}/sim/detectors"

    def packed_detectors_of(self, region: str) -> str:
        """A sharded lockstep replay's second of detector messages of one region's junctions, its
        owned and its halo (controller/regions.py), for that region's node alone."""
        return f"{self.packed_detectors}/{topic_level(region)}"

    @property
    def packed_detectors_regions(self) -> str:
        """Filter: every region's packed detector messages."""
        return f"{self.packed_detectors}/+"

    def split(self, topic: str) -> tuple[str, str] | None:
        """(junction topic level, kind) of a junction topic, else None."""
        prefix = self.root + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if len(parts) != 2 or parts[1] not in JUNCTION_KINDS or parts[0] in RESERVED_LEVELS:
            return None
        return parts[0], parts[1]

    def split_override(self, topic: str) -> tuple[str, str] | None:
        """(junction topic level, user topic level) of an override topic, else None."""
        prefix = self.root + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if len(parts) != 3 or parts[1] != "override" or parts[0] in RESERVED_LEVELS or not parts[2]:
            return None
        return parts[0], parts[2]


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    username: str
    password: str
    client_id: str
    tls: bool = False
    ca_file: str = ""  # empty: the system's CA store (when tls)
    keepalive_s: float = BrokerConfig.keepalive_s  # config.toml [broker]'s default, one source
    session_expiry_s: float = BrokerConfig.session_expiry_s  # 0: a clean session every time (nothing queued while away)
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    # QoS 1 messages awaiting PUBACK at once (config.toml [broker]'s default, one source); a broker's lower MQTT 5
    # receive maximum lowers it at each connect (_handle_connect)
    max_inflight: int = BrokerConfig.max_inflight
    connect_timeout_s: float = 10.0
    # "5", or "3.1.1" for a broker without MQTT 5 (RabbitMQ 3.10): clean_session = not
    # session_expiry_s, the broker's own expiry, retained messages on every subscribe (docs/deployment.md)
    protocol: str = "5"

    def __post_init__(self) -> None:
        if self.protocol not in MQTT_PROTOCOLS:
            raise AdapterError(f"MQTT protocol {self.protocol!r} is not one of {sorted(MQTT_PROTOCOLS)}", fatal=True)

    @staticmethod
    def from_config(broker: BrokerConfig, client_id: str, *, password: str | None = None) -> MqttSettings:
        """From config.toml's [broker] (controller.config.BrokerConfig)."""
        return MqttSettings(
            host=broker.host,
            port=broker.port,
            username=broker.username,
            password=broker.resolved_password() if password is None else password,
            client_id=broker.client_id or client_id,
            tls=broker.tls,
            ca_file=broker.ca_file,
            keepalive_s=broker.keepalive_s,
            session_expiry_s=broker.session_expiry_s,
            max_inflight=broker.max_inflight,
            protocol=broker.mqtt_version,
        )

    @staticmethod
    def for_user(broker: BrokerConfig, user: str, password: str, **overrides: Any) -> MqttSettings:
        """A named user of config.toml's [broker] (a field device, an operator's console): its
        client id is its user name (the broker binds them), and a clean session every time."""
        settings = MqttSettings(
            host=broker.host,
            port=broker.port,
            username=user,
            password=password,
            client_id=user,
            tls=broker.tls,
            ca_file=broker.ca_file,
            keepalive_s=broker.keepalive_s,
            session_expiry_s=0.0,
            protocol=broker.mqtt_version,
        )
        return replace(settings, **overrides)


class _WarnOnce:
    """At most one warning per key per `every_s` (rate-limited logs)."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self._last: dict[str, float] = {}

    def __call__(self, key: str, msg: str, *args: object) -> None:
        now_s = time.monotonic()
        if now_s - self._last.get(key, -1e18) >= self.every_s:
            self._last[key] = now_s
            log.warning(msg, *args)


class MqttClient:
    """One broker connection. Thread-safe `publish`; `on_message` runs on the network thread
    (its own, or the thread that runs its pump: then every call comes from that thread)."""

    def __init__(
        self,
        settings: MqttSettings,
        on_message: OnMessage | None = None,
        *,
        will: tuple[str, bytes] | None = None,
        on_connected: Callable[[bool], None] | None = None,
        on_raw: OnRaw | None = None,
    ) -> None:
        """on_connected(session_present) runs on the network thread after every (re)connect,
        before `connected` is set. on_raw: see the module's docstring (default: on_message for all)."""
        self.settings = settings
        self._on_message, self._on_raw = on_message, on_raw
        self._on_connected = on_connected
        self.connected = threading.Event()
        self.refused: str = ""  # CONNACK reason when the broker refused us for good (auth, ACL)
        self.connects, self.disconnects, self.received, self.published, self.callback_errors = 0, 0, 0, 0, 0
        self.acks: dict[int, int] = {}  # mid -> PUBACK reason code (0 success, 135 not authorised, ...)
        self._acks_cv = threading.Condition()
        self._subs: dict[str, int] = {}  # topic filter -> QoS, re-sent on every (re)connect
        self._subs_lock = threading.Lock()
        self._sub_cv = threading.Condition()
        self._sub_pending: set[int] = set()  # SUBSCRIBE mids awaiting their SUBACK
        self._sub_early: set[int] = set()  # SUBACKs that beat the bookkeeping of their SUBSCRIBE
        self._first = threading.Event()  # first CONNACK (success or refusal) seen
        self._warn = _WarnOnce()
        self._started = False
        self._pump: MqttPump | None = None
        self._reconnect_delay_s = 0.0  # pumped: the backoff's current delay (0: connect at once)
        self._reconnect_at_s: float | None = None  # pumped: monotonic time of the next attempt
        self._burst_read = False  # pumped: pump_read reads a burst through paho's packet reader (start)
        self._v5 = settings.protocol == "5"
        if self._v5:
            paho_lean.install()  # paho's per-packet Properties and ReasonCode without their set-up (exact)
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=MQTT_PROTOCOLS[settings.protocol],
            clean_session=None if self._v5 else settings.session_expiry_s <= 0,
        )
        c.username_pw_set(settings.username, settings.password or None)
        if settings.tls:
            c.tls_set(ca_certs=settings.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        if will is not None:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)  # type: ignore[arg-type]
        c.max_inflight_messages_set(settings.max_inflight)
        c.max_queued_messages_set(0)  # unbounded: QoS 1 plans wait here while the broker is away
        c.on_connect = self._handle_connect
        c.on_disconnect = self._handle_disconnect
        c.on_message = self._handle_message
        c.on_publish = self._handle_publish
        c.on_connect_fail = self._handle_connect_fail
        c.on_subscribe = self._handle_subscribe
        # paho's packet reader buffered, a QoS 0 or 1 PUBLISH handed on at once without paho's MQTTMessage (exact)
        paho_read.install(c, raw=self._handle_raw, acked=self._handle_acked)
        paho_acks.install(c)  # no walk of the messages in flight after an ack when none is queued (exact)
        self._client = c

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, wait: bool = True, *, pump: MqttPump | None = None) -> MqttClient:
        """Connect in the background (retrying with backoff). With `wait`, block until the first
        CONNACK: raise AdapterError(fatal) if the broker refused the credentials, AdapterError
        if no broker answered within connect_timeout_s. With a pump, no network thread: the
        connection is made, kept and served by whoever runs the pump (waiting runs it)."""
        s = self.settings
        keepalive = max(1, round(s.keepalive_s))
        if self._v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho's __init__
            if s.session_expiry_s > 0:
                props.SessionExpiryInterval = int(s.session_expiry_s)
            self._client.connect_async(
                s.host, s.port, keepalive=keepalive, clean_start=s.session_expiry_s <= 0, properties=props
            )
        else:  # MQTT 3.1.1: clean_session was set on the client; the broker decides the expiry
            self._client.connect_async(s.host, s.port, keepalive=keepalive)
        if pump is None:
            paho_write.install(self._client, None)  # the network thread writes its queue in one send (exact)
            self._client.loop_start()
        else:
            missing = burst_read_missing(self._client)
            self._burst_read = not missing
            if missing and pump.first_loop_read():
                log.warning(
                    "paho-mqtt %s: the client has no callable %s; pumped clients read with loop_read",
                    getattr(mqtt, "__version__", "?"),
                    ", ".join(missing),
                )
            if pump.gather_writes:  # queued, then each connection's queue in one send (exact)
                paho_write.install(self._client, functools.partial(pump.queued, self))
            self._pump = pump
            pump.add(self)
        self._started = True
        if wait:
            self.wait_connected(s.connect_timeout_s)
        return self

    def wait_connected(self, timeout_s: float, stop: threading.Event | None = None) -> None:
        """Until connected and the subscriptions acknowledged (messages published by others from
        then on reach us). With `stop`: returns, connected or not, once it is set (looked at every
        STOP_LOOK_S): a SIGTERM to `run` does not wait out connect_timeout_s while no broker answers."""
        halt = stop if stop is not None else threading.Event()  # never set
        deadline_s = time.monotonic() + timeout_s
        if self._pump is not None:  # nobody else serves the socket: serve it until answered
            done = lambda: halt.is_set() or bool(self.refused) or self.ready()  # noqa: E731
            self._pump.run_until(done, timeout_s, idle=lambda: None, idle_every_s=STOP_LOOK_S)
        first = _wait_or_stop(self._first.wait, deadline_s, halt)
        if halt.is_set():
            return
        if not first and not self.connected.is_set():
            raise AdapterError(
                f"no MQTT broker answered at {self.settings.host}:{self.settings.port} "
                f"within {timeout_s:g} s (client {self.settings.client_id})"
            )
        if self.refused:
            raise AdapterError(
                f"broker {self.settings.host}:{self.settings.port} refused "
                f"user {self.settings.username!r}: {self.refused}",
                fatal=True,
            )
        with self._sub_cv:
            acked = _wait_or_stop(lambda s: self._sub_cv.wait_for(lambda: not self._sub_pending, s), deadline_s, halt)
        if not acked and not halt.is_set():
            raise AdapterError(f"broker did not acknowledge the subscriptions of {self.settings.client_id}")

    def ready(self) -> bool:
        """Connected, and every subscription acknowledged."""
        with self._sub_cv:
            return self.connected.is_set() and not self._sub_pending

    def close(self, flush_s: float = 2.0) -> None:
        """Wait up to flush_s for QoS 1 messages in flight, then disconnect cleanly."""
        if not self._started:
            self._client.loop_stop()
            return
        if self._pump is not None:
            self._close_pumped(self._pump, flush_s)
            return
        deadline = time.monotonic() + flush_s
        while self.connected.is_set() and self._client.want_write() and time.monotonic() < deadline:
            time.sleep(0.01)
        while self.connected.is_set() and self.pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._started = False  # a disconnect from here on is ours: no warning
        self._client.disconnect()
        self._client.loop_stop()

    def _close_pumped(self, pump: MqttPump, flush_s: float) -> None:
        """close() of a pumped client: its pump runs while QoS 1 messages are in flight."""

        def settled() -> bool:
            return not self.connected.is_set() or not (self._client.want_write() or self.pending() > 0)

        pump.run_until(settled, flush_s)
        self._started = False  # a disconnect from here on is ours: no warning
        self._client.disconnect()
        self._client.loop_write()  # now: paho wrote it already, or only queued it (a pump that gathers writes)
        pump.remove(self)
        self._pump = None

    # -- served by a pump (controller/adapters/mqtt_pump.py), on the pump's thread ------------
    def pump_socket(self, now_s: float) -> socket.socket | None:
        """The connection's socket, after a (re)connect attempt when one is due (at once the
        first time, then after reconnect_min_s doubling up to reconnect_max_s, as paho's own loop
        does); None while there is none. now_s: time.monotonic()."""
        sock = self._client.socket()
        if sock is not None or not self._started or self.refused:
            return sock  # type: ignore[return-value]  # paho's SocketLike is a socket here
        if self._reconnect_at_s is None:
            self._reconnect_at_s = now_s + self._reconnect_delay_s
        if now_s < self._reconnect_at_s:
            return None
        s = self.settings
        self._reconnect_delay_s = min(max(2 * self._reconnect_delay_s, s.reconnect_min_s), s.reconnect_max_s)
        self._reconnect_at_s = None
        try:
            self._client.reconnect()
        except OSError:
            self._handle_connect_fail(self._client, None)
            self._reconnect_at_s = now_s + self._reconnect_delay_s
            return None
        return self._client.socket()  # type: ignore[return-value]

    def pump_wait_s(self, now_s: float) -> float:
        """Seconds until this client's next connection attempt (inf when connected or none due)."""
        return float("inf") if self._reconnect_at_s is None else max(0.0, self._reconnect_at_s - now_s)

    def pump_poll(self, now_s: float) -> tuple[int, int]:
        """(file descriptor, poll events) of the connection for the pump, after a (re)connect
        attempt when one is due; fd -1 while there is none. Events: POLL_READ, and POLLOUT while
        bytes wait to be written."""
        sock = self.pump_socket(now_s)
        if sock is None:
            return -1, 0
        return sock.fileno(), POLL_READ | (select.POLLOUT if self._client.want_write() else 0)

    def pump_fd(self) -> int:
        """The socket's file descriptor, -1 without one."""
        sock = self._client.socket()
        return -1 if sock is None else sock.fileno()

    def tls_pending(self) -> bool:
        """TLS bytes read from the socket and not yet processed (a poll does not see them)."""
        if not self.settings.tls:
            return False
        sock = self._client.socket()
        return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0

    def wants_write(self) -> bool:
        """Bytes queued for the socket (the pump polls it for writing)."""
        return self._client.want_write()

    def pump_read(self, max_packets: int = 256) -> None:
        """Read what the socket holds, packet after packet, until it would block (at most
        max_packets, then the pump's next round goes on): callbacks (messages, acknowledgements)
        run here. paho's own loop_read stops after as many packets as it has messages in flight
        (one for a subscriber), so a burst took a poll per packet to tell whether more waited; its
        packet reader says it itself, by a non-blocking read that finds nothing (MQTT_ERR_AGAIN,
        also mid-packet: the rest is read next time), and an error is handled as loop_read does.
        Those are paho's private calls (PAHO_BURST_READ), checked when the client starts: without
        them, one public loop_read (what it reads, the pump's next poll round reads the rest). With
        the lean reader (paho_read.py, paho 2.2) each call handles every whole packet its recv brought,
        so max_packets bounds the reads."""
        client = self._client
        if not self._burst_read:
            client.loop_read()
            return
        for _ in range(max_packets):
            if client._sock is None:
                return
            rc = client._packet_read()
            if rc == mqtt.MQTT_ERR_AGAIN:
                return
            if rc > 0:
                client._loop_rc_handle(rc)
                return

    def pump_write(self) -> None:
        self._client.loop_write()

    def pump_misc(self) -> None:
        """Keepalive: a PINGREQ when due; the connection dropped when the broker stopped answering."""
        self._client.loop_misc()

    def pending(self) -> int:
        """QoS 1 messages not yet acknowledged by the broker (queued while disconnected included).
        paho has no public accessor: its private `_out_messages` (2.0-2.2); a paho without it
        reads 0, so stop() waits only while paho still wants to write."""
        out = getattr(self._client, "_out_messages", None)
        return len(out) if out is not None else 0

    # -- traffic ---------------------------------------------------------------------------
    def subscribe(self, topics: Iterable[str], qos: int = 1, *, retained_again: bool = False) -> None:
        """Subscribe now (when connected) and after every reconnect. Retained messages are sent
        only for new subscriptions (retain handling 1), so a reconnect does not replay them;
        with retained_again (and connected), this once also for topics already subscribed
        (retain handling 0: a second user of the connection wants them, controller/takeover.py)."""
        new = list(topics)
        with self._subs_lock:
            for t in new:
                self._subs[t] = qos
        if self.connected.is_set():
            self._send_subscriptions([(t, qos) for t in new], always=retained_again)

    def unsubscribe(self, topics: Iterable[str]) -> None:
        """Unsubscribe now (when connected) and no longer after reconnects."""
        gone = list(topics)
        with self._subs_lock:
            for t in gone:
                self._subs.pop(t, None)
        if gone and self.connected.is_set():
            for k in range(0, len(gone), 500):  # keep UNSUBSCRIBE packets small
                self._client.unsubscribe(gone[k : k + 500])

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> int:
        """Returns the message id. QoS 1 messages published while disconnected are kept and sent
        after the reconnect; QoS 0 ones are dropped (feeds are periodic: the next one replaces it)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        self.published += 1
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            self._warn(
                f"publish{info.rc}",
                "mqtt publish failed client=%s topic=%s rc=%s",
                self.settings.client_id,
                topic,
                mqtt.error_string(info.rc),
            )
        return info.mid

    def held_wakes(self) -> contextlib.AbstractContextManager[None]:
        """Within, the packets this thread publishes wake the network thread once, at the end, not once each
        (paho_write.held_wakes: the same packets in the same order); a pumped client as it is."""
        return paho_write.held_wakes(self._client)

    def wait_ack(self, mid: int, timeout_s: float = 5.0) -> int | None:
        """PUBACK reason code of a QoS 1 publish (0 = accepted, 135 = not authorised), or None."""
        with self._acks_cv:
            self._acks_cv.wait_for(lambda: mid in self.acks, timeout_s)
            return self.acks.get(mid)

    # -- paho callbacks (network thread) ----------------------------------------------------
    def _send_subscriptions(self, subs: list[tuple[str, int]], always: bool = False) -> None:
        retain = SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE if always else SubscribeOptions.RETAIN_SEND_IF_NEW_SUB
        for k in range(0, len(subs), 500):  # keep SUBSCRIBE packets small
            chunk = subs[k : k + 500]
            if self._v5:
                rc, mid = self._client.subscribe(
                    [(t, SubscribeOptions(qos=q, retainHandling=retain)) for t, q in chunk]
                )
            else:
                rc, mid = self._client.subscribe(chunk)
            if rc == mqtt.MQTT_ERR_SUCCESS and mid is not None:
                with self._sub_cv:
                    if mid in self._sub_early:
                        self._sub_early.discard(mid)
                    else:
                        self._sub_pending.add(mid)

    def _handle_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, reason_codes: object, properties: object
    ) -> None:
        with self._sub_cv:
            if mid in self._sub_pending:
                self._sub_pending.discard(mid)
            else:
                self._sub_early.add(mid)
            self._sub_cv.notify_all()

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            code = reason_code.value
            if code in _AUTH_REFUSED:
                self.refused = str(reason_code)
                log.error(
                    "mqtt connection refused client=%s user=%s reason=%s",
                    self.settings.client_id,
                    self.settings.username,
                    reason_code,
                )
                client.disconnect()  # retrying with the same credentials cannot help
            else:
                self._warn(
                    "connack", "mqtt connection refused client=%s reason=%s", self.settings.client_id, reason_code
                )
            self._first.set()
            return
        self.connects += 1
        self._reconnect_delay_s = self.settings.reconnect_min_s  # pumped: the backoff starts again
        self._honour_receive_maximum(client, getattr(properties, "ReceiveMaximum", None))
        sock = client.socket()
        if isinstance(sock, socket.socket):  # TLS too (ssl.SSLSocket); not a websocket's wrapper
            with contextlib.suppress(OSError):  # small messages, latency matters: no Nagle delay
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._subs_lock:
            subs = list(self._subs.items())
        if subs:
            self._send_subscriptions(subs)
        if self.connects > 1:
            log.info("mqtt reconnected client=%s session_present=%s", self.settings.client_id, flags.session_present)
        if self._on_connected is not None:  # before `connected` is set: whoever waits on it sees its effect
            try:
                self._on_connected(bool(flags.session_present))
            except Exception:
                self.callback_errors += 1
                log.exception("mqtt on_connected handler failed client=%s", self.settings.client_id)
        self.connected.set()
        self._first.set()

    def _honour_receive_maximum(self, client: mqtt.Client, receive_max: int | None) -> None:
        """The in-flight window of this connection: settings.max_inflight, lowered to the broker's MQTT 5 receive
        maximum when that is lower (a client must not have more QoS 1 messages unacknowledged; paho does not honour
        it by itself); the messages past it wait in the client, in order. Set at every connect (before paho sends
        what waited)."""
        mine = self.settings.max_inflight
        window = min(mine, receive_max) if receive_max and mine > 0 else (receive_max or mine)
        if window != mine:
            self._warn(
                "receive_max",
                "mqtt client=%s max_inflight=%d above the broker's receive maximum %d: %d in flight at most",
                self.settings.client_id,
                mine,
                receive_max,
                window,
            )
        client._max_inflight_messages = window  # paho's own field: its setter refuses a connected client

    def _handle_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason_code: ReasonCode, properties: object
    ) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        with self._sub_cv:  # re-sent, and re-counted, on the next connect
            self._sub_pending.clear()
            self._sub_early.clear()
        if was:
            self.disconnects += 1
            if self._started:
                self._warn(
                    "disconnect",
                    "mqtt connection lost client=%s reason=%s; reconnecting",
                    self.settings.client_id,
                    reason_code,
                )

    def _handle_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        self._warn(
            "connect_fail",
            "mqtt broker %s:%d unreachable client=%s; retrying",
            self.settings.host,
            self.settings.port,
            self.settings.client_id,
        )

    def _handle_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.received += 1
        if self._on_message is None:
            return
        try:
            self._on_message(message.topic, bytes(message.payload))  # paho's bytes: the same object
        except Exception:  # a handler bug must not kill the network thread
            self.callback_errors += 1
            log.exception("mqtt message handler failed client=%s topic=%s", self.settings.client_id, message.topic)

    def _handle_raw(self, topic: bytes, payload: bytes) -> None:
        """_handle_message for a message of paho_read's fast path: its topic's bytes, no MQTTMessage."""
        self.received += 1
        try:
            if self._on_raw is not None:
                self._on_raw(topic, payload)
            elif self._on_message is not None:
                self._on_message(topic.decode(), payload)
        except Exception:  # a handler bug must not kill the network thread
            self.callback_errors += 1
            name = topic.decode(errors="replace")
            log.exception("mqtt message handler failed client=%s topic=%s", self.settings.client_id, name)

    def _handle_publish(
        self, client: mqtt.Client, userdata: object, mid: int, reason_code: ReasonCode | None, properties: object
    ) -> None:
        self._handle_acked(mid, reason_code.value if reason_code is not None else 0)

    def _handle_acked(self, mid: int, code: int) -> None:
        """_handle_publish for a PUBACK of paho_read's fast path: its message id and its reason code's value."""
        with self._acks_cv:
            self.acks[mid] = code
            if len(self.acks) > 10000:  # keep the newest only; callers wait for fresh mids
                for old in list(self.acks)[:5000]:
                    del self.acks[old]
            self._acks_cv.notify_all()

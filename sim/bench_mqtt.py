"""Benchmark (a script, not a test): the controller's MQTT feed ingestion and end-to-end latency
with N synthetic junctions, next to Mosquitto's own raw loopback rate measured in the same run.

    python -m sim.bench_mqtt [--sizes 1000 2000 5000] [--regions 1 2] [--seconds 15]
                             [--per-message no|yes|both] [--repeat R]

One private Mosquitto (sim/broker.py). The field is a separate process (this module with
--feeder) so it does not share the controller's interpreter lock. Every junction is a copy of
the bundled city's junction with the most detectors (ids made unique).

- raw: a paho publisher (feeder process) -> Mosquitto -> a paho subscriber (this process) that
  only counts, QoS 0, payloads the size of one detector message: the transport's ceiling.
- ingest: the feeder sends 4 x N detector messages as fast as it can; the controller's
  ServiceNode receives and validates them (ControllerService.on_detectors). Messages/s.
- 1 Hz: every wall second the feeder publishes N detector messages, then a lockstep clock
  message; the controller validates them all, ticks (estimation, Webster with a 5 s period so
  every junction re-plans together every 5th tick, safety gate), publishes the plans (QoS 1) and
  answers. Per second: validate = time spent validating the N messages; tick = core step +
  plan publishing; e2e = first detector message of the second leaving the feeder -> last plan
  of that tick handed to the socket. p50/p99 over the run after a 2 s warm-up.
- 1 Hz, K regions (controller/regions.py): the same, with K controller processes (this module
  with --controller), each owning N/K junctions, subscribing to their topics only and ticking in
  lockstep on its own share of the clock message. Per second: e2e = first detector message
  leaving the feeder -> the last plan of the slowest region handed to the socket; validate and
  tick are the slowest region's. Each controller serves its connection from the thread that
  ticks (--network pump, the default: controller/adapters/mqtt_pump.py, as sim/mqtt_regions.py
  runs a region's node in lockstep), or has paho's network thread hand it the messages
  (--network thread, the bench before session 45; live controllers always, as `run`).
  `dropped`: detector messages the feeder sent that no controller validated (a live controller's run ends once
  it has ticked the feed's last second, at most END_WAIT_S after the feed's end; those it received and had not
  ticked by its stop are named on a line of their own, "left unread"). CPU s/s: process
  CPU seconds per second of feed of the busiest controller process, and of everything in the
  loop (controllers, feeder, Mosquitto): on a machine shared with other work, the latencies
  measure the contention; the CPU figures say whether the loop fits the machine's cores (all <=
  cores, ctl max <= 1).
- the controllers connect as `run` does (MqttSettings.from_config of [broker], config.toml's defaults: above all
  its in-flight window `max_inflight`, 1,000 here before session 64 where `run` had 20), unless --max-inflight W.
- each plan's own latency (the line under the table): its junction's detector message of the
  second handed to the feeder's client -> the plan handed to the controller's, over every plan;
  and (the next line, since session 64) -> the plan's PUBACK in (the broker has it): a QoS 1 plan past the
  client's in-flight window waits in the client, which the hand-over does not see;
  e2e above runs from the second's first message, so it holds the feeder's whole publishing. With
  the feeder's hand-off span (its first message to its last) and how many of the slowest region's
  messages were still unread when their clock came in (lockstep: read then, the `wait`). Live with
  --dump, also by part (_own_parts): the wait for the region's last message of the second, the tick
  thread's reads until the tick starts, and the tick until the plan is handed.
- --service live: the controllers tick as `run` does (controller.live.run_realtime), not in
  lockstep, by the service's own start rule (ServiceConfig's defaults, config.toml's: [service]
  tick_wait_max_s 0.6, a tick once every junction's message of the second is in, at the latest
  0.6 s after it, each message read as it comes in) unless --tick-wait W (0: off) or --tick-delay D
  (with --tick-wait 0: every wall second after D, draining what came in, no read ahead) says
  otherwise; a pair the service would refuse is refused here too (the config's check). A tick
  then takes the messages that came in before it, so a plan's own latency is measured from the
  message of the second its tick took (e2e and the timeline's parts assume the lockstep's pairing
  of a tick with its own second's messages).
- --statuses: the 1 Hz feeder also sends each junction's roadside status every second (docs/mqtt.md:
  QoS 1, retained; sim/bench_tick.py's status_at, its own program), right after its detector
  message, and the clock messages announce them, so a lockstep tick waits for them too. The
  controllers validate them (ControllerService.on_status) in the drain or the feed, which the
  figures count under validate; the tick then runs with the junctions' signal states. Without it
  the feed has no status at all (as before): no signal state reaches the tick.
- --feeder-write joined (a diagnostic): the feeder writes a second's detector messages as
  ready-made packets on a connection of its own, ~64 KB a write, not one paho publish each:
  against the default it shows what the feeder's own publishing costs the loop's two cores.
- the feeder (since session 50): one connection per 1,000 junctions (--feeder-connections C;
  junction k on connection k mod C), all served by the feeder's one thread (--feeder-network
  pump: each publish written to the socket at once, the QoS 1 acknowledgements read between
  publishes and while it waits for the next second), as a field's roadside units each publish on
  their own connection. Before: one connection with a paho network thread (--feeder-connections 1
  --feeder-network thread), whose one QoS 1 window and 65,535 message ids a second's 5,000
  statuses and 5,000 detector messages outran ("Message queue full", the lead, session 49).
- --pin ROLE=CPUS (repeatable; roles controllers, feeder, broker, bench): those processes run on those CPUs only
  (sched_setaffinity, every thread). A field's roadside units are not on the controllers' machine; on two cores
  `--pin controllers=0 --pin feeder=1 --pin broker=1 --pin bench=1` gives the controllers one core of their own
  and the field, the broker and the bench's subscribers the other (T, session 51). Default: unpinned, as before.
- the paced feeder's own work after the feed (each message's send offset, built and printed: about 0.3 s of CPU at
  5,000 junctions for 60 s) waits until 2 s after the last second (FEEDER_END_AFTER_S): before session 51 it fell
  on the last second's ticks, the slowest 1 % of a 60 s live run's plans at 5,000 junctions near idle.
- --dump FOLDER: each 1 Hz run's timeline of every plan as JSON (its message handed to the
  feeder's client, received by the controller, its tick's start, the core's step's start, the
  plan handed, and heard by a subscriber through the broker: this process, QoS 0); since session 55
  also each controller's socket reads (`recvs`: wall before and after, bytes, its network thread's
  CPU so far), when its tick's thread read each message (`read_at`), and every TAP_EVERY-th
  junction's detector messages as this process's subscriber hears them (`taps`): a message's
  transport by part, the feeder's hand-off, the broker, the controller's socket and its thread.
- decode: "batch", the service's MQTT path (a tick's detector messages decoded together,
  core/feedbatch.py), or "1-by-1" (--per-message yes/both): each message decoded alone by
  ControllerService.on_detectors, the path before the batch decoder, for comparison on one tree.
- metrics (--metrics idle|scraped|both): each controller process with the service's
  ServiceMetrics of its owned junctions and their GET /metrics endpoint, as `run` has them;
  never scraped (idle), or scraped (an HTTP GET loop from this process, not a Prometheus: every
  --scrape-every seconds from the feed's third second, each controller in turn, the whole body
  read); `both` runs each row both ways, one after the other. Without --statuses the feed has no
  roadside statuses, so the exporter notes no signal state and a scrape folds nothing: it
  measures the refreshes' and the exposition's cost. Default none: no metrics, the figures of the
  tables before.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from controller.adapters.compile_cache import warm_up
from controller.adapters.mqtt import MqttClient, MqttSettings, Topics
from controller.adapters.mqtt_pump import MqttPump
from controller.config import Config, RegionsConfig, ServiceConfig, with_section
from controller.core.feedbatch import Read
from controller.core.messages import encode_detector_message
from controller.core.params import WebsterParams
from controller.errors import ConfigError
from controller.junctions import load_intersections
from controller.live import (
    Inbox,
    Received,
    ScaledClock,
    ServiceNode,
    freeze_heap,
    percentile,
    run_lockstep,
    run_realtime,
    tick_start,
)
from controller.model import Intersection
from controller.regions import Region, plan_regions
from sim.msg_rate import END, receive_rate

if TYPE_CHECKING:
    from sim.broker import Broker

SITE = "bench"
NETWORK_HELP = (
    "each 1 Hz controller serves its connection from its ticking thread (pump, as sim/mqtt_regions.py runs a "
    "region in lockstep) or has paho's network thread hand it the messages (thread, the bench before session 45)"
)
FEEDER_WRITE_HELP = (
    "the 1 Hz feeder publishes each detector message through paho (the default), or writes a second's messages "
    "as ready-made packets on a connection of their own (joined: a diagnostic of what the feeder's publishing costs)"
)
SERVICE_HELP = (
    "the 1 Hz controllers tick when the feeder's clock message says a second's messages are all sent (lockstep, as "
    "replays do), or every wall second as `run` does, after --tick-delay (live; the clock messages are ignored)"
)
STATUSES_HELP = (
    "the 1 Hz feeder also publishes each junction's roadside status every second, as a roadside sends it "
    "(QoS 1, retained), right after its detector message; lockstep clock messages announce them"
)
MAX_INFLIGHT_HELP = "[broker] max_inflight of the controllers (QoS 1 messages awaiting their PUBACK; default: run's)"
GC_HELP = (
    "the controllers' garbage collector: as the service runs it (idle: a live node that gathers collects in its "
    "idle time only, IdleCollector) or as CPython runs it, in the ticks too (cpython: a diagnostic, the rule "
    "before session 53)"
)
BENCH_USER = "bench"
ROOT = Path(__file__).resolve().parent.parent


# -- synthetic junctions ----------------------------------------------------------------------
def city_junction(workdir: Path, cfg: Config) -> Intersection:
    """The bundled city's junction with the most detectors."""
    from sim.netimport import import_net

    folder = ROOT / "intersections" / "city"
    if not any(folder.glob("*.toml")):
        folder = workdir / "city"
        import_net(ROOT / "sim" / "scenarios" / "city" / "city.net.xml", folder, cfg)
    return max(load_intersections(folder).values(), key=lambda j: (len(j.detectors), j.id))


def junction_id(k: int) -> str:
    return f"S{k:05d}"


def replicate(base: Intersection, n: int) -> dict[str, Intersection]:
    out = {}
    for k in range(n):
        jid = junction_id(k)
        out[jid] = replace(
            base,
            id=jid,
            upstream=(),
            downstream=(),
            detectors=tuple(replace(d, id=f"{jid}.{d.id}") for d in base.detectors),
        )
    return out


def message_parts(jid: str, detector_ids: list[str], k: int) -> tuple[bytes, bytes]:
    """A detector message split around its timestamp: head + b"%t" + tail."""
    dets = {f"{jid}.{d}": ({"car": (k + i) % 3, "bus": (k + i) % 2}, 0.12, 7.5) for i, d in enumerate(detector_ids)}
    body = encode_detector_message(jid, 123456789.0, 1.0, dets)
    head, tail = body.split(b"123456789.0", 1)
    return head, tail


# -- the field process ------------------------------------------------------------------------
def spawned_settings(spec: dict[str, Any], client_id: str) -> MqttSettings:
    """The bench user's connection in the feeder's process (the field's; a controller's is `run`'s:
    service_settings): the broker's host, port and password from `spec`, a clean session, up to 1,000 QoS 1
    messages in flight."""
    return MqttSettings(
        host=spec["host"],
        port=spec["port"],
        username=BENCH_USER,
        password=spec["password"],
        client_id=client_id,
        session_expiry_s=0,
        max_inflight=1000,
    )


def service_settings(spec: dict[str, Any], cfg: Config, client_id: str) -> MqttSettings:
    """A controller's connection as `run` makes it (MqttSettings.from_config of the config's [broker]: its in-flight
    window, session expiry, keep-alive, protocol), only to the bench's broker as its user."""
    broker = replace(cfg.broker, host=spec["host"], port=spec["port"], username=BENCH_USER, client_id=client_id)
    return MqttSettings.from_config(broker, client_id, password=spec["password"])


def feeder(spec: dict[str, Any]) -> None:
    """Runs in its own process: publishes what `spec` says, prints JSON lines of send times. The
    paced feed goes out on spec["connections"] connections (junction k on connection k mod C, the
    clock messages on the first), each with its own QoS 1 window, served by the feeder's one
    thread (spec["pump"], the default: controller/adapters/mqtt_pump.py; a publish is written to
    the socket at once, the acknowledgements read between publishes and while waiting for the
    next second) or each by a paho network thread (as before session 50: each publish wakes it)."""
    pin(0, spec.get("cpus"))
    pump = MqttPump() if mode_pumped(spec) else None
    clients = [
        MqttClient(spawned_settings(spec, f"feeder-{os.getpid()}-{c}")).start(pump=pump)
        for c in range(int(spec.get("connections", 1)) if spec["mode"] == "paced" else 1)
    ]
    client = clients[0]
    topics = Topics(SITE)
    mode = spec["mode"]
    if mode == "raw":
        _raw(client, spec, topics)
    else:
        n, dets = spec["n"], spec["detectors"]
        parts = [message_parts(junction_id(k), dets, k) for k in range(n)]
        det_topics = [topics.detectors(junction_id(k)) for k in range(n)]
        handed: dict[
            str, tuple[float, array[float]]
        ] = {}  # t -> (sent_wall, when each message was handed to the client)
        joined = _JoinedWriter(spec) if spec.get("write") == "joined" else None
        statuses = _Statuses(spec, topics) if spec.get("statuses") else None
        t0 = _first_second(spec)
        for r in range(spec["rounds"]):
            t = t0 + r
            if mode == "paced":
                _until(t, pump)
            sent_wall = time.time()
            stamp = repr(t).encode()
            at = array("d")
            if joined is not None:
                joined.send([(topic, head + stamp + tail) for (head, tail), topic in zip(parts, det_topics)], at)
            for k, ((head, tail), topic) in enumerate(zip(parts, det_topics) if joined is None else ()):
                via = clients[k % len(clients)]
                via.publish(topic, head + stamp + tail, qos=0)
                at.append(time.time())
                if statuses is not None:  # the junction's roadside sends its status with its detector message
                    statuses.publish(via, k, t)
                    if pump is not None and k % 100 == 99:  # the acknowledgements in: QoS 1 windows open
                        pump.run_once(0.0)
            handed[repr(t)] = (sent_wall, at)
            if mode == "paced":
                client.publish(topics.clock, _clock(spec, t, statuses is not None), qos=1)
            row = {"t": t, "sent_wall": sent_wall, "done_wall": time.time(), "cpu_s": time.process_time()}
            print(json.dumps(row), flush=True)
        if mode == "paced":
            _feed_end(client, topics.clock, t0 + spec["rounds"] - 1, handed, pump)
    if pump is not None:
        pump.run_until(lambda: not any(c.pending() for c in clients), 60.0)
    for c in clients:
        while c.pending():
            time.sleep(0.01)
        c.close()


def _first_second(spec: dict[str, Any]) -> float:
    """The feed's first second: spec["t0"], or when it has none (start_paced_feeder), the one the bench sends once
    this feeder says it is ready."""
    if spec.get("t0") is not None:
        return float(spec["t0"])
    print(json.dumps({"ready": True}), flush=True)
    return float(json.loads(sys.stdin.readline())["t0"])


def _feed_end(
    client: MqttClient,
    clock_topic: str,
    last_t: float,
    handed: dict[str, tuple[float, array[float]]],
    pump: MqttPump | None,
) -> None:
    """The paced feed's end: its end clock message, then each message's send offset (ms from its second's sent_wall)
    printed, after the feed (not to delay its clock messages) and FEEDER_END_AFTER_S after the last second: built and
    printed at once, these offsets (60 x 5,000: about 0.2 s of CPU here and in the bench's process reading them) fell
    on the last second's ticks (T, session 51)."""
    client.publish(clock_topic, b'{"v":1,"end":true,"last":%r}' % last_t, qos=1)  # live: the last second to tick
    _until(last_t + FEEDER_END_AFTER_S, pump)
    offsets = {t: [round(1000 * (a - sent), 3) for a in at] for t, (sent, at) in handed.items()}
    print(json.dumps({"handed": offsets}), flush=True)


def _raw(client: MqttClient, spec: dict[str, Any], topics: Topics) -> None:
    """The raw rate's feed: spec["count"] QoS 0 messages of spec["size"] bytes as fast as paho takes them, then END."""
    payload, topic = b"x" * spec["size"], f"{topics.root}/raw"
    for _ in range(spec["count"]):
        client.publish(topic, payload, qos=0)
    client.publish(topic, END, qos=1)


# the paced feeder's work after the feed (its send offsets, built and printed) waits this long after the last
# second: past that second's tick (live: its latest start, tick_wait_max_s <= 1 s, and the tick itself)
FEEDER_END_AFTER_S = 2.0
# live: how long a controller may still tick after the feed's end message before its run ends anyway (its messages
# not ticked by then are counted under dropped and "left unread")
END_WAIT_S = 15.0


def pin(pid: int, cpus: list[int] | None) -> None:
    """--pin: every thread of process pid (0: this one) on `cpus` only (Linux sched_setaffinity); None: as it was."""
    if cpus is None:
        return
    tasks = Path(f"/proc/{pid or os.getpid()}/task")
    for tid in [int(p.name) for p in tasks.iterdir()] if tasks.exists() else [pid]:
        try:
            os.sched_setaffinity(tid, cpus)
        except ProcessLookupError:  # a thread that ended meanwhile
            continue


def pin_roles(given: list[str], cpus: int) -> dict[str, list[int]]:
    """--pin ROLE=CPUS (repeatable): ROLE one of PIN_ROLES, CPUS a comma list of CPU numbers below `cpus`."""
    out: dict[str, list[int]] = {}
    for item in given:
        role, _, text = item.partition("=")
        if role not in PIN_ROLES:
            raise ValueError(f"--pin {item}: the role must be one of {', '.join(PIN_ROLES)}")
        try:
            listed = sorted({int(c) for c in text.split(",")})
        except ValueError:
            raise ValueError(f"--pin {item}: CPUS must be CPU numbers separated by commas") from None
        if not listed or not all(0 <= c < cpus for c in listed):
            raise ValueError(f"--pin {item}: CPU numbers from 0 to {cpus - 1}")
        out[role] = listed
    return out


PIN_ROLES = ("controllers", "feeder", "broker", "bench")
PIN_HELP = (
    "run a role's processes on those CPUs only (sched_setaffinity), e.g. --pin controllers=0 --pin feeder=1; "
    f"roles: {', '.join(PIN_ROLES)} (bench: this process, the raw and --dump subscribers; the broker inherits it "
    "unless pinned itself); default: unpinned"
)


def mode_pumped(spec: dict[str, Any]) -> bool:
    """The feeder's connections served by its own thread: the paced feed, unless spec["pump"] is False."""
    return spec["mode"] == "paced" and bool(spec.get("pump", True))


def _until(t: float, pump: MqttPump | None) -> None:
    """Until wall time t; pumped, the feeder's connections served meanwhile (their acknowledgements read)."""
    if pump is not None:
        pump.run_until(lambda: time.time() >= t, max(0.0, t - time.time()))
        return
    while time.time() < t:
        time.sleep(min(0.01, t - time.time()) if t > time.time() else 0)


def _clock(spec: dict[str, Any], t: float, statuses: bool) -> bytes:
    """The lockstep clock message of second t: the detector messages (and statuses) sent, per region too."""
    n = spec["n"]
    m = n if statuses else 0
    clock = {"v": 1, "t": t, "detectors": n, "status": m, "status_t": t if m else None}
    if spec.get("regions"):
        clock["regions"] = {r: {"detectors": k, "status": k if m else 0} for r, k in spec["regions"].items()}
    return json.dumps(clock).encode()


class _Statuses:
    """--statuses: each junction's roadside status of the second, as a roadside sends it
    (docs/mqtt.md: QoS 1, retained), right after its detector message: sim/bench_tick.py's
    `status_at` (its own program, each phase 10 s, the last second an intergreen, the junctions
    staggered by 3 s), encoded by controller/core/messages.py's `encode_status`."""

    def __init__(self, spec: dict[str, Any], topics: Topics) -> None:
        from controller.core.messages import encode_status
        from sim.bench_tick import status_at

        self.encode, self.status_at, self.phases = encode_status, status_at, int(spec["phases"])
        self.topics = [topics.status(junction_id(k)) for k in range(spec["n"])]

    def publish(self, client: MqttClient, k: int, t: float) -> None:
        status = self.status_at(junction_id(k), k, int(t), self.phases)
        client.publish(self.topics[k], self.encode(status), qos=1, retain=True)


class _JoinedWriter:
    """The feeder's detector messages without paho (--feeder-write joined, a diagnostic): a second
    connection (MQTT 3.1.1, the bench user, no keepalive) on which a second's messages go out as
    ready-made QoS 0 PUBLISH packets, about 64 KB per `sendall`. What the feeder's own publishing
    costs the loop shows against the default (paho, one publish per message). The clock messages
    stay on the paho connection, so they may reach the broker before the last detector messages:
    the controllers wait for what the clock announces either way."""

    CHUNK_BYTES = 65536

    def __init__(self, spec: dict[str, Any]) -> None:
        import socket

        self.sock = socket.create_connection((spec["host"], spec["port"]))
        user, password = BENCH_USER.encode(), spec["password"].encode()
        client_id = f"feeder-joined-{os.getpid()}".encode()
        body = b"\x00\x04MQTT\x04\xc2\x00\x00" + b"".join(
            len(x).to_bytes(2, "big") + x for x in (client_id, user, password)
        )
        self.sock.sendall(b"\x10" + _remaining(len(body)) + body)
        ack = self.sock.recv(4)
        if ack[:2] != b"\x20\x02" or ack[3:4] != b"\x00":
            raise RuntimeError(f"bench feeder: the broker refused the joined connection: {ack!r}")

    def send(self, messages: list[tuple[str, bytes]], at: array[float]) -> None:
        """Write the messages as QoS 0 PUBLISH packets; `at` gets, for each, when its chunk was written."""
        chunk: list[bytes] = []
        size = 0
        for topic, payload in messages:
            name = topic.encode()
            body = len(name).to_bytes(2, "big") + name + payload
            chunk.append(b"\x30" + _remaining(len(body)) + body)
            size += len(body) + 5
            if size >= self.CHUNK_BYTES:
                self._flush(chunk, at)
                chunk, size = [], 0
        self._flush(chunk, at)

    def _flush(self, chunk: list[bytes], at: array[float]) -> None:
        if chunk:
            self.sock.sendall(b"".join(chunk))
            at.extend([time.time()] * len(chunk))


def _remaining(n: int) -> bytes:
    """MQTT's remaining length: 7 bits a byte, low bits first."""
    out = bytearray()
    while True:
        n, byte = n >> 7, n & 127
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def start_feeder(broker: Broker, spec: dict[str, Any], more: bool = False) -> subprocess.Popen[str]:
    return _spawn(
        "--feeder", {"host": broker.host, "port": broker.port, "password": broker.users[BENCH_USER], **spec}, more
    )


def start_paced_feeder(broker: Broker, spec: dict[str, Any]) -> tuple[subprocess.Popen[str], float]:
    """The paced feeder started and, once it is ready (connected, its messages built), told its first second t0,
    the next whole second but one; returns it and t0. Before session 54 t0 was set before the feeder started,
    and its start (Python, 5,000 junctions' messages built, the connections: 1-3 s at load) could pass t0: its
    first seconds then went out late and together, and a controller validated them in one tick, which the run's
    window (from t0 + 2) could take in: that tick was the whole run's validate p99 (T, session 54)."""
    feed = start_feeder(broker, spec, more=True)
    ready = _pipe(feed.stdout).readline()
    if "ready" not in ready:
        raise RuntimeError(f"the feeder did not start: {ready!r}")
    t0 = float(int(time.time()) + 2)
    stdin = _pipe(feed.stdin)
    stdin.write(json.dumps({"t0": t0}) + "\n")
    stdin.close()
    return feed, t0


# -- measurements -----------------------------------------------------------------------------
def raw_rate(broker: Broker, size: int, count: int, cpus: list[int] | None = None) -> dict[str, Any]:
    """Mosquitto's loopback rate: `count` QoS 0 messages of `size` bytes from the feeder process (on `cpus`)."""
    sub = MqttSettings(broker.host, broker.port, BENCH_USER, broker.users[BENCH_USER], "raw-sub", session_expiry_s=0)
    spec = {"mode": "raw", "size": size, "count": count, "cpus": cpus}
    return receive_rate(sub, f"{broker.topics.root}/raw", lambda: start_feeder(broker, spec), wait_s=120, sent=count)


def bench_cfg(
    replan_spread: float = 0.0, service: Mapping[str, float] | None = None, broker: Mapping[str, int] | None = None
) -> Config:
    """webster re-planning every 5 s; replan_spread: [webster]'s (0, the default: every junction
    re-plans on the same tick); service: the [service] values given (--tick-delay, --tick-wait: live
    controllers only), the others the service's own defaults (ServiceConfig, as config.toml: a tick
    waits for its second's messages up to tick_wait_max_s 0.6), checked as a config file's are
    (ConfigError: tick_delay_s given while tick_wait_max_s is on, say); broker: the [broker] values given
    (--max-inflight), the others `run`'s defaults (BrokerConfig, as config.toml), checked the same way."""
    webster = WebsterParams(period_s=5.0, replan_spread=replan_spread)
    cfg = Config(service=ServiceConfig(site=SITE, policy="webster"), webster=webster)
    cfg = with_section(cfg, "broker", dict(broker or {}), "sim.bench_mqtt --max-inflight")
    return with_section(cfg, "service", dict(service or {}), "sim.bench_mqtt --tick-delay/--tick-wait")


def broker_given(max_inflight: int | None) -> dict[str, int]:
    """The controllers' [broker] values given on the command line (None: not given, `run`'s default)."""
    return {} if max_inflight is None else {"max_inflight": max_inflight}


def service_given(tick_delay_s: float | None, tick_wait_max_s: float | None) -> dict[str, float]:
    """The [service] start rule's values given on the command line (None: not given, the service's default)."""
    given = {"tick_delay_s": tick_delay_s, "tick_wait_max_s": tick_wait_max_s}
    return {key: value for key, value in given.items() if value is not None}


def new_node(broker: Broker, junctions: dict[str, Intersection], start_s: float, lockstep: bool) -> ServiceNode:
    settings = broker.settings("controller", client_id=f"ctl-{len(junctions)}-{lockstep}", session_expiry_s=0)
    return ServiceNode(bench_cfg(), junctions, settings, start_s=start_s, lockstep=lockstep).start()


def ingest_rate(
    broker: Broker,
    junctions: dict[str, Any],
    detectors: list[str],
    rounds: int = 4,
    per_message: bool = False,
    cpus: list[int] | None = None,
) -> dict[str, Any]:
    n = len(junctions)
    # a lockstep node (never ticked here): no operators' desk, no retained junction table (over
    # the broker's 1 MiB message limit at 5,000 junctions: the broker drops the client)
    node = new_node(broker, junctions, 0.0, lockstep=True)
    if per_message:
        one_by_one(node)
    node.service.advance_clock(1e9)
    total = n * rounds
    spec = {"mode": "burst", "n": n, "detectors": detectors, "rounds": rounds, "t0": 1.0, "cpus": cpus}
    proc = start_feeder(broker, spec)
    deadline = time.monotonic() + 120
    while node.inbox.empty() and time.monotonic() < deadline:
        time.sleep(0.0005)
    first = time.perf_counter()
    while node.service.received < total and time.monotonic() < deadline:
        if not node.drain():
            time.sleep(0.0005)
    span = time.perf_counter() - first
    proc.wait(60)
    stats = {
        "validated": node.service.received,
        "rejected": dict(node.service.rejected),
        "msg_s": node.service.received / span,
    }
    node.close()
    return stats


# -- K controller processes ------------------------------------------------------------------
def bench_regions(junctions: dict[str, Any], k: int) -> list[Region]:
    cfg = replace(bench_cfg(), regions=RegionsConfig(count=k))  # the partition does not read [webster]
    return list(plan_regions(cfg, junctions).regions)


def controller_process(spec: dict[str, Any]) -> None:
    """Runs in its own process: one region's node, in lockstep or live (spec["service"]); prints
    "ready", then its timings."""
    pin(0, spec.get("cpus"))
    live = spec.get("service") == "live"
    base = city_junction(Path(spec["workdir"]), Config())
    junctions = replicate(base, spec["n"])
    region = next(r for r in bench_regions(junctions, spec["k"]) if r.name == spec["region"])
    watched = {j: junctions[j] for j in region.watched}
    server, metrics = None, None
    if spec.get("metrics"):  # as `run` does: the owned junctions' metrics, GET /metrics on a port of its own
        from prometheus_client import CollectorRegistry

        from controller.adapters.metrics import MetricsServer, ServiceMetrics

        registry = CollectorRegistry()
        server = MetricsServer(registry, 0)
        cfg = bench_cfg(spec.get("replan_spread", 0.0))
        metrics = ServiceMetrics(registry, {j: junctions[j] for j in region.owned}, cfg)
    cfg = bench_cfg(spec.get("replan_spread", 0.0), spec.get("service_given"), spec.get("broker_given"))
    node = ServiceNode(
        cfg,
        watched,
        service_settings(spec, cfg, f"ctl-{spec['n']}-{spec['k']}-{region.name}"),
        start_s=time.time(),
        lockstep=not live,
        region=region.name,
        owned=region.owned,
        metrics=metrics,
        pump=MqttPump() if spec.get("pump", True) and not live else None,  # lockstep: run_lockstep serves it
    ).start()
    _as_told(node, spec, live)
    warm_up(cfg.service.policy)  # as run_controller.py run does
    freeze_heap()
    validate_s, ticks, plans, begun, inbox = _instrument(node)
    acks = _StampedAcks.install(node.client)
    notes = (_note_collections(), _note_recvs(node)) if spec.get("dump") else ([], [])
    print(json.dumps({"ready": region.name, "port": server.port if server else None}), flush=True)
    error = ""
    try:
        if live:  # as `run` does: a tick every wall second (after the delay), what came in drained
            run_realtime(node, ScaledClock(), inbox.ended, **tick_start(cfg.service))
        else:
            run_lockstep(node, threading.Event(), timeout_s=30)
    except Exception as exc:  # report, do not crash the table
        error = str(exc)
    node.close()
    if server is not None:
        server.close()
    acks.resolve(plans)  # each plan's message id -> the wall time of its PUBACK (None: never acknowledged)
    body: dict[str, Any] = {"ticks": ticks, "validate_s": validate_s, "plans": plans, "error": error}
    body |= {"received": node.service.received, "late_junctions": node.late_junctions}
    body["left"] = node.left_at_stop["detectors"]  # received after the last tick, never validated (ServiceNode.close)
    # the heartbeat's junction tables built in the node's idle time, and those built at once in a tick (live.py)
    body["tables"] = [node.tables_in_idle_time, node.tables_at_once]
    body["gc"] = [node.collector.in_idle_time, node.collector.at_once, *node.collector.collections]  # IdleCollector
    if spec.get("dump"):  # each junction's message received and read, each tick's start (live: its wait's end)
        body |= {"arrived": inbox.by_junction, "begun": begun, "read_at": inbox.read_at}
        body["collections"], body["recvs"] = notes
    print(json.dumps({**body, "rejected": dict(node.service.rejected)}), flush=True)


def _as_told(node: ServiceNode, spec: dict[str, Any], live: bool) -> None:
    """A controller's node as the bench's spec says: live, it hears the feed's end (the clock topic); its
    detector messages decoded one by one (--per-message); its garbage collector (--gc)."""
    if live:
        node.client.subscribe([node.topics.clock], qos=1)
    if spec.get("per_message"):
        one_by_one(node)
    node.gc_in_idle_time = spec.get("gc", "idle") == "idle"


def _note_collections() -> list[list[float]]:
    """--dump: every garbage collection of this process from now on, [wall start, wall end, generation, objects
    collected, 1 if on the main (ticking) thread else 0] (gc.callbacks)."""
    out: list[list[float]] = []
    main = threading.main_thread()

    def noted(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            out.append([time.time(), 0.0, info["generation"], 0, int(threading.current_thread() is main)])
        elif out:
            out[-1][1], out[-1][3] = time.time(), info["collected"]

    gc.callbacks.append(noted)
    return out


def _note_recvs(node: ServiceNode) -> list[list[float]]:
    """--dump: each read of the connection's socket by its network thread from now on, [wall before, wall after,
    bytes, the network thread's CPU seconds so far] (paho's `_sock_recv`, which the lean reader calls once per
    burst): a message put in the inbox after a read and before the next came with it (or was left over from an
    earlier one), so its transport splits into the socket's side (before the read) and the thread's (after)."""
    out: list[list[float]] = []
    client = node.client._client
    recv = client._sock_recv

    def noted(bufsize: int) -> bytes:
        a = time.time()
        data = recv(bufsize)
        out.append([a, time.time(), len(data), time.thread_time()])
        return data

    _patch(client, "_sock_recv", noted)
    return out


# t -> [[junction number, wall handed, second fed, its PUBACK's wall (its message id until _StampedAcks.resolve)], ...]
Plans = dict[float, list[list[float | None]]]
Messages = Sequence[tuple[str | None, bytes]]  # a batch of detector messages: (junction of the topic, payload)
# _instrument's: per t the seconds validating, the tick's figures, the plans, when the tick began; the inbox
Instruments = tuple[dict[float, float], dict[float, list[float]], Plans, dict[float, float], "_StampedInbox"]


def _patch(obj: object, name: str, new: Callable[..., Any]) -> None:
    """`obj`'s method `name` replaced on the instance by `new` (the bench's timer round it); AttributeError
    naming it where `obj` has no such method: a method renamed would otherwise leave the timer uncalled and
    its figures silently empty."""
    if not callable(getattr(obj, name, None)):
        raise AttributeError(f"{type(obj).__name__} has no method {name!r} to time")
    setattr(obj, name, new)


def _instrument(node: ServiceNode) -> Instruments:
    """Time the node's validation per second and its ticks: (t -> seconds validating, t -> [wall start, wall end,
    plans sent, and at the end: process CPU seconds, CPU seconds of the tick's thread validating so far, and ticking
    so far, ..., reading detector messages as they arrived so far (ControllerService.read_detector_message,
    run_lockstep's thread), and of the second's messages, how many were read after its clock message came in and
    that reading's CPU seconds], Plans, t -> wall time its tick began (live), the inbox noting arrivals)."""
    validate_s, ticks, plans = dict[float, float](), dict[float, list[float]](), Plans()
    fed_t: dict[str | None, float | None] = {}  # live: each junction's second its last message was fed
    handle, handle_detectors, tick, live_tick = node.handle, node.handle_detectors, node._tick, node.tick
    live_t = [0.0]  # live: the second of the tick under way (its clock reading lies up to a second after it)
    node.inbox = inbox = _StampedInbox(node.inbox)
    cpu = {"validate": 0.0, "tick": 0.0, "publish": 0.0, "read": 0.0}
    late, plan_walls = _time_reads_and_plans(node, cpu, inbox)

    def timed(validate: Callable[..., None], *args: Any) -> None:
        a, c, w = time.perf_counter(), time.thread_time(), time.time()
        validate(*args)
        t = node.service._now_s if node.lockstep else live_t[0]
        validate_s[t] = validate_s.get(t, 0.0) + time.perf_counter() - a
        validate_wall.setdefault(t, [w, 0.0])[1] = time.time()
        cpu["validate"] += time.thread_time() - c

    def timed_handle(kind: str, junction: str, payload: bytes) -> None:
        timed(handle, kind, junction, payload)

    def timed_handle_detectors(messages: Messages, reads: Sequence[Read] | None = None) -> None:
        if not node.lockstep:  # live: which second of each junction a tick takes (lockstep: the tick's own)
            fed_t.update((j, _stamp(payload)) for j, payload in messages)
        timed(handle_detectors, messages, reads)

    def timed_tick(now_s: float) -> None:
        a, c, step0, pub0 = time.time(), time.thread_time(), node.service.core_step_s, cpu["publish"]
        plan_walls.clear()
        tick(now_s)
        tick_cpu = time.thread_time() - c
        step_s, pub_s = node.service.core_step_s - step0, cpu["publish"] - pub0
        cpu["tick"] += tick_cpu
        arrived = inbox.arrivals.get(now_s, [a, a, a, 0])
        v = validate_wall.get(now_s, [a, a])
        ticks[now_s] = [a, time.time(), len(node.sent), time.process_time(), cpu["validate"], cpu["tick"]]
        # the second's timeline: first and last arrival, mean arrival, validation start and end, tick CPU
        ticks[now_s] += [arrived[0], arrived[1], arrived[2] / max(arrived[3], 1), v[0], v[1], tick_cpu, step_s, pub_s]
        ticks[now_s].append(cpu["read"])  # CPU seconds reading detector messages as they arrived, so far
        ticks[now_s] += late.pop(now_s, [0, 0.0])
        plans[now_s] = [[int(j[1:]), w, fed_t.get(j, now_s), mid] for (j, _), (w, mid) in zip(node.sent, plan_walls)]
        plan_walls.clear()

    def noted_tick(now_s: float, clock_s: float | None = None) -> None:
        live_t[0] = now_s
        begun[now_s] = time.time()
        live_tick(now_s, clock_s)
        inbox.ticked(now_s)

    validate_wall: dict[float, list[float]] = {}
    begun: dict[float, float] = {}  # live: t -> wall time its tick started (the wait's end)
    for name, fn in (("handle", timed_handle), ("handle_detectors", timed_handle_detectors), ("_tick", timed_tick)):
        _patch(node, name, fn)
    _patch(node, "tick", noted_tick)
    return validate_s, ticks, plans, begun, inbox


def _time_reads_and_plans(
    node: ServiceNode, cpu: dict[str, float], inbox: _StampedInbox
) -> tuple[dict[float, list[float]], list[tuple[float, int]]]:
    """Wrap the node's reads on arrival and its publishing: their CPU seconds into `cpu`; returns
    (t -> [messages of t read after t's clock message came in, their CPU seconds], the wall time
    each plan of the tick under way was handed to the client and its message id, in order)."""
    late: dict[float, list[float]] = {}
    plan_walls: list[tuple[float, int]] = []
    read, publish, clocks_in = node.service.read_detector_message, node.client.publish, inbox.clocks_in

    def timed_read(payload: bytes, junction: str | None = None) -> Read:
        c = time.thread_time()
        out = read(payload, junction)
        dt = time.thread_time() - c
        cpu["read"] += dt
        if out[1] is not None and junction is not None and junction[1:].isdigit():  # --dump: when each was read
            inbox.read_at.setdefault(out[1][0][0], {})[int(junction[1:])] = time.time()
        if out[1] is not None and out[1][0][0] in clocks_in:
            n_s = late.setdefault(out[1][0][0], [0, 0.0])
            n_s[0], n_s[1] = n_s[0] + 1, n_s[1] + dt
        return out

    def timed_publish(topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> int:
        a = time.perf_counter()
        mid = publish(topic, payload, qos, retain)
        cpu["publish"] += time.perf_counter() - a
        if topic.endswith("/plan"):
            plan_walls.append((time.time(), mid))
        return mid

    _patch(node.client, "publish", timed_publish)
    _patch(node.service, "read_detector_message", timed_read)
    return late, plan_walls


class _StampedAcks(dict[int, int]):
    """A client's `acks` (message id -> PUBACK reason code, set by its network thread) noting when each PUBACK came
    in: a plan's PUBACK says the broker has it, after the client's in-flight window let it out (a QoS 1 message past
    the window waits in the client: the hand-over to the client does not see that wait)."""

    def __init__(self) -> None:
        super().__init__()
        self.walls: dict[int, list[float]] = {}  # message id -> wall times its PUBACKs came in, in order

    @staticmethod
    def install(client: MqttClient) -> _StampedAcks:
        stamped = _StampedAcks()
        stamped.update(client.acks)
        client.acks = stamped
        return stamped

    def __setitem__(self, mid: int, code: int) -> None:
        self.walls.setdefault(mid, []).append(time.time())
        super().__setitem__(mid, code)

    def resolve(self, plans: Plans) -> None:
        """Each plan's message id (its entry's last field) replaced by the wall time of the first PUBACK of that id
        after the plan was handed (ids come round again after 65,535), None when none came."""
        for t in sorted(plans):
            for entry in plans[t]:
                walls, handed = self.walls.get(int(entry[3] or 0), []), entry[1] or 0.0
                while walls and walls[0] < handed:
                    walls.pop(0)
                entry[3] = walls.pop(0) if walls else None


class _StampedInbox:
    """The node's inbox, noting when each second's detector messages arrive (network thread):
    t -> [first, last, sum of arrival times, count], t read from the bench's message text."""

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox
        self.arrivals: dict[float, list[float]] = {}  # t -> [first, last, sum of arrival times, count]
        self.by_junction: dict[float, dict[int, float]] = {}  # t -> junction number -> wall time received
        self.read_at: dict[float, dict[int, float]] = {}  # t -> junction number -> wall time read (the tick's thread)
        self.clocks_in: set[float] = set()  # the seconds whose clock message has come in
        self.ended = threading.Event()  # live: the node has ticked the feed's last second (or END_WAIT_S passed)
        self.last_s: float | None = None  # the feed's last second, from its end clock message
        self.ticked_s = -math.inf  # the second of the node's last tick

    def get(self, block: bool = True, timeout: float | None = None) -> Received:
        return self._inbox.get(block, timeout)

    def get_nowait(self) -> Received:
        return self._inbox.get_nowait()

    def empty(self) -> bool:
        return self._inbox.empty()

    def qsize(self) -> int:
        return self._inbox.qsize()

    def put(self, item: Received) -> None:
        if item[0] == "detectors":
            self._note(time.time(), item[2], item[1])
        elif item[0] == "clock":
            t = _stamp(item[2])
            if t is not None:
                self.clocks_in.add(t)
            elif b'"end"' in item[2]:  # live: the run ends once the last second is ticked (`ticked`)
                last = json.loads(item[2]).get("last")
                self.last_s = float(last) if isinstance(last, (int, float)) else -math.inf
                timer = threading.Timer(END_WAIT_S, self.ended.set)
                timer.daemon = True
                timer.start()
                self._end_if_ticked()
        self._inbox.put(item)

    def ticked(self, t_s: float) -> None:
        """The node ticked second t_s (live): the run ends once it has ticked the feed's last second. Before
        session 66 it ended 1.5 s after the end message: a node that an overrun had left behind stopped with its
        last second's messages unread, counted as dropped (2,500 or 5,000 at 5,000 junctions; S, session 66)."""
        self.ticked_s = max(self.ticked_s, t_s)
        self._end_if_ticked()

    def _end_if_ticked(self) -> None:
        if self.last_s is not None and self.ticked_s >= self.last_s:
            self.ended.set()

    def _note(self, now: float, payload: bytes, junction: str = "") -> None:
        """Time the message under its second; one without a plain `"t":` number is passed on
        untimed (the service refuses or reads it, not this bench's network thread)."""
        t = _stamp(payload)
        if t is None:
            return
        if junction[1:].isdigit():
            self.by_junction.setdefault(t, {})[int(junction[1:])] = now
        a = self.arrivals.get(t)
        if a is None:
            self.arrivals[t] = [now, now, now, 1]
        else:
            a[1], a[2], a[3] = now, a[2] + now, a[3] + 1


def _stamp(payload: bytes) -> float | None:
    """A bench message's `t` (a plain `"t":` number followed by a comma), else None."""
    k = payload.find(b'"t":')
    end = payload.find(b",", k + 4)
    try:
        return float(payload[k + 4 : end]) if k >= 0 and end > 0 else None
    except ValueError:
        return None


def one_by_one(node: ServiceNode) -> None:
    """The node decodes its detector messages one by one (ControllerService.on_detectors), as
    before the batch decoder: the comparison run of --per-message."""

    def handle_detectors(messages: Sequence[tuple[str | None, bytes]], reads: Sequence[Read] | None = None) -> None:
        for junction, payload in messages:
            node.service.on_detectors(payload, junction=junction)

    _patch(node, "handle_detectors", handle_detectors)


def _spawn(flag: str, spec: dict[str, Any], more: bool = False) -> subprocess.Popen[str]:
    """A feeder or controller process told `spec` (a JSON line on its stdin; more: stdin left open for more)."""
    cmd = [sys.executable, "-m", "sim.bench_mqtt", flag]
    p = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    stdin = _pipe(p.stdin)
    stdin.write(json.dumps(spec) + "\n")
    if more:
        stdin.flush()
    else:
        stdin.close()
    return p


def _pipe(stream: IO[str] | None) -> IO[str]:
    """A bench process's stdin or stdout, which _spawn opens as pipes (RuntimeError where one is missing)."""
    if stream is None:
        raise RuntimeError("a bench process started without its pipe")
    return stream


def one_hz_regions(
    broker: Broker,
    work: Path,
    junctions: dict[str, Any],
    k: int,
    detectors: list[str],
    seconds: int,
    per_message: bool = False,
    replan_spread: float = 0.0,
    metrics: str = "none",
    scrape_every_s: float = 15.0,
    network: str = "pump",
    feeder_write: str = "paho",
    live: tuple[str, Mapping[str, float]] = ("lockstep", {}),
    statuses: bool = False,
    feeder: Mapping[str, int | bool] | None = None,
    dump: Path | None = None,
    controller_cpus: list[int] | None = None,
    gc: str = "idle",
    broker_given: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The 1 Hz run with k controller processes (module docstring); feeder: its "connections", "pump" and "cpus"
    (feeder()'s); dump: each plan's timeline (its message handed, received, its tick's start, the core's step started,
    the plan handed, heard through the broker) as JSON; controller_cpus: theirs (--pin); gc: their collector (--gc);
    broker_given: their [broker] values given (--max-inflight), else `run`'s defaults."""
    n, regions = len(junctions), bench_regions(junctions, k)
    common = _controllers_spec(broker, work, network, live, metrics, controller_cpus)
    common |= {"per_message": per_message, "replan_spread": replan_spread, "dump": bool(dump), "gc": gc}
    common["broker_given"] = dict(broker_given or {})
    procs = [_spawn("--controller", {**common, "n": n, "k": k, "region": r.name}) for r in regions]
    ports = [json.loads(_pipe(p.stdout).readline())["port"] for p in procs]  # each built its junctions, subscribed
    spec = {"mode": "paced", "n": n, "detectors": detectors, "rounds": seconds, "write": feeder_write}
    spec |= dict(feeder or {})
    if statuses:
        spec |= {"statuses": True, "phases": len(next(iter(junctions.values())).phases)}
    heard = _PlansHeard(broker, n) if dump is not None else None
    broker_cpu0 = cpu_seconds(broker.pid)
    feed, t0 = start_paced_feeder(broker, {**spec, "regions": {r.name: len(r.watched) for r in regions}})
    stop, scrapes, scraper = _scraper(ports, t0, scrape_every_s, metrics == "scraped")
    lines = [json.loads(line) for line in _pipe(feed.stdout)]
    rows = [r for r in lines if "t" in r]
    handed: dict[str, list[float]] = next((r["handed"] for r in lines if "handed" in r), {})
    stop.set()
    if scraper.is_alive():
        scraper.join(60)
    broker_cpu = cpu_seconds(broker.pid) - broker_cpu0
    feed.wait(60)
    results = [json.loads(_pipe(p.stdout).read().strip().splitlines()[-1]) for p in procs]
    for p in procs:
        p.wait(60)
    sent = {r["t"]: r["sent_wall"] for r in rows}
    out = _summarise(results, sent, t0 + 2, n * seconds)
    out["late_junctions"] = sum(r.get("late_junctions", 0) for r in results)
    out["feeder_connections"] = spec.get("connections", 1)
    if dump is not None and heard is not None:
        heard.dump(dump, {"sent": sent, "handed": handed, "from_t": t0 + 2, "results": results})
    if "tick_p50" in out:
        out |= _own_latencies(results, sent, handed, t0 + 2) | _scraped(results, sent, t0 + 2, scrapes)
        out |= _own_parts(results, sent, handed, t0 + 2)
    return out | _loop_cpu(out, rows, t0 + 2, broker_cpu)


def _scraper(
    ports: list[int], t0: float, every_s: float, scraped: bool
) -> tuple[threading.Event, list[tuple[float, float, int]], threading.Thread]:
    """--metrics scraped: the scrape loop (_scrape) from the feed's third second, started; else not started."""
    stop, scrapes = threading.Event(), list[tuple[float, float, int]]()
    scraper = threading.Thread(target=_scrape, args=(ports, t0 + 2, every_s, stop, scrapes), daemon=True)
    if scraped:
        scraper.start()
    return stop, scrapes, scraper


def _controllers_spec(
    broker: Broker,
    work: Path,
    network: str,
    live: tuple[str, Mapping[str, float]],
    metrics: str,
    cpus: list[int] | None,
) -> dict[str, Any]:
    """What every controller process of a 1 Hz run is told (controller_process's spec), but its region's and the
    run's decode, re-plan spread and dump."""
    common = {"pump": network == "pump", "service": live[0], "service_given": live[1], "cpus": cpus}
    common["metrics"] = metrics != "none"
    return common | {
        "host": broker.host,
        "port": broker.port,
        "password": broker.users[BENCH_USER],
        "workdir": str(work),
    }


class _PlansHeard:
    """--dump: every plan as a subscriber hears it through the broker (QoS 0 subscription, this
    process): junction number -> wall times heard, in order (a junction's plans keep their order)."""

    def __init__(self, broker: Broker, n: int = 0) -> None:
        self.walls: dict[int, list[float]] = {}
        self.taps: dict[float, dict[int, float]] = {}  # t -> junction number -> wall time its message was heard
        settings = MqttSettings(
            broker.host, broker.port, BENCH_USER, broker.users[BENCH_USER], "plans-heard", session_expiry_s=0
        )
        self.client = MqttClient(settings, self._on_message)
        topics = Topics(SITE)
        self.client.subscribe([f"{topics.root}/+/plan"], qos=0)
        # a sample of the detector messages as the broker hands them to a subscriber with little else to do
        self.client.subscribe([topics.detectors(junction_id(k)) for k in range(0, n, TAP_EVERY)], qos=0)
        self.client.start()

    def _on_message(self, topic: str, payload: bytes) -> None:
        now = time.time()
        level, kind = topic.rsplit("/", 2)[-2:]
        if not level[1:].isdigit():
            return
        if kind == "plan":
            self.walls.setdefault(int(level[1:]), []).append(now)
            return
        t = _stamp(payload)
        if t is not None:
            self.taps.setdefault(t, {})[int(level[1:])] = now

    def dump(self, path: Path, body: dict[str, Any]) -> None:
        """Stop listening (a second after the feed's end: the last plans' way through the broker) and
        write `body` with what was heard."""
        time.sleep(1.0)
        self.client.close()
        path.write_text(json.dumps(body | {"heard": self.walls, "taps": self.taps}))


def _loop_cpu(out: dict[str, Any], rows: list[dict[str, Any]], from_t: float, broker_cpu: float) -> dict[str, Any]:
    """The feeder's and Mosquitto's CPU seconds per second of feed, and the whole loop's."""
    kept = [r for r in rows if r["t"] >= from_t]
    if len(kept) < 2 or "tick_p50" not in out:
        return {}
    cpu = {"cpu_feeder": (kept[-1]["cpu_s"] - kept[0]["cpu_s"]) / (kept[-1]["t"] - kept[0]["t"])}
    cpu["cpu_broker"] = broker_cpu / (rows[-1]["done_wall"] - rows[0]["sent_wall"])
    return cpu | {"cpu_all": out["cpu_ctl_sum"] + cpu["cpu_feeder"] + cpu["cpu_broker"]}


def _scrape(
    ports: list[int], start: float, every_s: float, stop: threading.Event, out: list[tuple[float, float, int]]
) -> None:
    """A Prometheus-like scraper (an HTTP GET loop, not a Prometheus): from `start` (wall), every
    `every_s` seconds, GET every controller's /metrics one after the other, reading the whole body;
    notes (wall start, wall end, bytes) of each GET."""
    import urllib.request

    k = 0
    while not stop.wait(max(0.0, start + k * every_s - time.time())):
        for port in ports:
            a = time.time()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
                size = len(r.read())
            out.append((a, time.time(), size))
        k += 1


def _scraped(
    results: list[dict[str, Any]], sent: dict[float, float], from_t: float, scrapes: list[tuple[float, float, int]]
) -> dict[str, Any]:
    """The scrapes' count, duration and size, and the e2e of the seconds whose tick (in any
    region) overlapped a scrape, against the others'."""
    ticks = [{float(t): v for t, v in r["ticks"].items()} for r in results]
    keep = [t for t in sorted(sent) if t >= from_t and all(t in tk for tk in ticks)]
    e2e = {t: 1000 * (max(tk[t][1] for tk in ticks) - sent[t]) for t in keep}
    # a second is "hit" when a scrape ran between its first message sent and its last plan out
    hit = [t for t in keep if any(a < max(tk[t][1] for tk in ticks) and b > sent[t] for a, b, _ in scrapes)]
    rest = [e2e[t] for t in keep if t not in hit]
    return {
        "scrapes": len(scrapes),
        "scrape_ms_p50": statistics.median([1000 * (b - a) for a, b, _ in scrapes]) if scrapes else 0.0,
        "scrape_ms_max": max([1000 * (b - a) for a, b, _ in scrapes], default=0.0),
        "scrape_mb": statistics.median([s / 1e6 for *_, s in scrapes]) if scrapes else 0.0,
        "hit_seconds": len(hit),
        "e2e_hit_max": max([e2e[t] for t in hit], default=float("nan")),
        "e2e_rest_p50": statistics.median(rest) if rest else float("nan"),
        "e2e_rest_max": max(rest, default=float("nan")),
    }


def _own_latencies(
    results: list[dict[str, Any]], sent: dict[float, float], handed: dict[str, list[float]], from_t: float
) -> dict[str, Any]:
    """_own_latency to the plans' hand-over, and its figures to their PUBACKs as `acked_...`."""
    acked = _own_latency(results, sent, handed, from_t, to="acked")
    out = {f"acked_{key}": value for key, value in acked.items() if key.startswith(("own_", "steady_"))}
    return _own_latency(results, sent, handed, from_t) | out


def _own_latency(
    results: list[dict[str, Any]],
    sent: dict[float, float],
    handed: dict[str, list[float]],
    from_t: float,
    to: str = "handed",
) -> dict[str, Any]:
    """Each plan's own latency: its junction's detector message of that second handed to the
    feeder's client -> the plan handed to the controller's (ms; to="acked": -> the plan's PUBACK in, a plan
    never acknowledged left out and counted as `own_unacked`), over every plan of the ticks on
    the seconds from from_t to the feed's last (a live tick after it took no message: its plans
    would count from the junction's last one); and the feeder's publishing of a second: its first
    message to its last handed. Steady: the same from from_t + STEADY_AFTER_S, once every junction's
    first plan (all in one tick: a tenth of a 60 s run's plans, so its whole p99) and first re-plan
    (webster's first periods, spread) are out."""
    own: list[float] = []
    steady: list[float] = []
    by_tick: dict[float, list[float]] = {}  # the steady plans by their tick's second (every region's)
    last_s, unacked = max(sent, default=from_t), 0
    for r in results:
        for t_text, plans in r.get("plans", {}).items():
            if not from_t <= float(t_text) <= last_s:
                continue
            for k, handed_at, t, *more in plans:  # t: the second of the junction's message the plan's tick took
                at, wall = handed.get(repr(t)), handed_at if to == "handed" else (more or [None])[0]
                unacked += wall is None
                if at is not None and t in sent and wall is not None:
                    own.append(1000 * (wall - sent[t]) - at[k])
                    if float(t_text) >= from_t + STEADY_AFTER_S:
                        steady.append(own[-1])
                        by_tick.setdefault(float(t_text), []).append(own[-1])
    spans = [at[-1] for t_text, at in handed.items() if float(t_text) >= from_t and at]
    if not own or not spans:
        return {}
    out = {"own_p50": statistics.median(own), "own_p99": percentile(own, 99), "own_max": max(own), "own_n": len(own)}
    out["own_unacked"] = unacked
    if steady:
        out |= {"steady_p50": statistics.median(steady), "steady_p99": percentile(steady, 99), "steady_n": len(steady)}
        out |= _without_slowest_tick(by_tick, from_t)
    return out | {"feed_p50": statistics.median(spans), "feed_p99": percentile(spans, 99)}


def _own_parts(
    results: list[dict[str, Any]], sent: dict[float, float], handed: dict[str, list[float]], from_t: float
) -> dict[str, Any]:
    """--dump (the controllers' `arrived` and `begun`), live: each steady plan's own latency (_own_latency's, from
    from_t + STEADY_AFTER_S) in three parts, ms p50 / p99: `region`, its message handed -> the last of its region's
    messages of that second received (the network thread's put: the wait for the region's other junctions);
    `reads`, that receipt -> its tick's start (gather's end: the tick's thread still reading what came in, or
    still on the second before); `tick`, the tick's start -> the plan handed (validation, the core's step, the
    plans published before it). The three add up to the own latency, plan by plan."""
    parts: dict[str, list[float]] = {"region": [], "reads": [], "tick": []}
    last_s = max(sent, default=from_t)
    for r in results:
        arrived, begun = r.get("arrived") or {}, r.get("begun") or {}
        last_in = {float(t): max(v.values()) for t, v in arrived.items() if v}
        for t_text, plans in r.get("plans", {}).items():
            start = begun.get(t_text)
            if start is None or not from_t + STEADY_AFTER_S <= float(t_text) <= last_s:
                continue
            for k, wall, t, *_ in plans:
                at, got = handed.get(repr(t)), last_in.get(t)
                if at is None or got is None or t not in sent:
                    continue
                own_at = sent[t] + at[k] / 1000
                parts["region"].append(1000 * (got - own_at))
                parts["reads"].append(1000 * (start - got))
                parts["tick"].append(1000 * (wall - start))
    if not parts["tick"]:
        return {}
    out = {f"own_{k}_p50": statistics.median(v) for k, v in parts.items()}
    return out | {f"own_{k}_p99": percentile(v, 99) for k, v in parts.items()}


def _without_slowest_tick(by_tick: dict[float, list[float]], from_t: float) -> dict[str, Any]:
    """The steady p99 without the plans of its slowest second (the second whose plans' p99 is the
    highest, every region's ticks on it): one tick of a 60 s run is 1/50 of its plans, twice the 1 %
    the p99 leaves out, so a single slow second (one second's work of the machine, not the service's:
    a 5,000-junction run's p99 was one tick about 30 s in, both regions; T, session 52) sets the p99
    alone. Both figures are reported; this one says whether one second set the other."""
    if len(by_tick) < 2:
        return {}
    worst = max(by_tick, key=lambda t: (percentile(by_tick[t], 99), t))
    rest = [ms for t, v in by_tick.items() if t != worst for ms in v]
    return {"steady_p99_but1": percentile(rest, 99), "steady_worst_s": worst - from_t}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _summarise(results: list[dict[str, Any]], sent: dict[float, float], from_t: float, expected: int) -> dict[str, Any]:
    """The table's figures over the seconds from from_t that every region ticked."""
    ticks = [{float(t): v for t, v in r["ticks"].items()} for r in results]
    vals = [{float(t): v for t, v in r["validate_s"].items()} for r in results]
    keep = [t for t in sorted(sent) if t >= from_t and all(t in tk for tk in ticks)]
    errors = "; ".join(r["error"] for r in results if r["error"])
    if not keep:
        return {"error": errors or "no ticks"}
    val_ms = [1000 * max(v.get(t, 0.0) for v in vals) for t in keep]
    tick_ms = [1000 * max(tk[t][1] - tk[t][0] for tk in ticks) for t in keep]
    e2e_ms = [1000 * (max(tk[t][1] for tk in ticks) - sent[t]) for t in keep]
    rejected: dict[str, int] = {}
    for r in results:
        for reason, c in r["rejected"].items():
            rejected[reason] = rejected.get(reason, 0) + c
    return (
        {
            "seconds": len(keep),
            "error": errors,
            "rejected": rejected,
            "dropped": expected - sum(r["received"] for r in results),
            "left": sum(r.get("left", 0) for r in results),
            "plans_per_s": sum(tk[t][2] for t in keep for tk in ticks) / len(keep),
            "validate_p50": statistics.median(val_ms),
            "validate_p99": percentile(val_ms, 99),
            "tick_p50": statistics.median(tick_ms),
            "tick_p99": percentile(tick_ms, 99),
            "e2e_p50": statistics.median(e2e_ms),
            "e2e_p99": percentile(e2e_ms, 99),
            "late": sum(1 for ms in e2e_ms if ms > 1000.0),
        }
        | _cpu(ticks, keep)
        | _timeline(ticks, sent, keep)
    )


def _timeline(ticks: list[dict[float, list[float]]], sent: dict[float, float], keep: list[float]) -> dict[str, Any]:
    """Where each second's e2e goes, in the region whose plans went out last (ms): the feed's
    transport (sent -> the region's last message in), the wait before validation (last message
    in -> validation starts: the clock message, the previous tick), the mean message's queueing
    (mean arrival -> validation starts), validation, and the tick; and each region's tick CPU
    (ms of the tick thread) by tick kind: re-plan (plans sent) or other."""
    if not all(len(tk[t]) >= 12 for tk in ticks for t in keep):
        return {}
    parts: dict[str, list[float]] = {k: [] for k in ("transport", "wait", "queued", "validate", "tick")}
    late: dict[str, list[float]] = {"late_reads": [], "late_read_ms": []}
    cpu: dict[str, list[float]] = {"replan": [], "other": []}
    wall: dict[str, list[float]] = {"replan_step": [], "replan_publish": [], "replan_tick": []}
    for t in keep:
        r = max(ticks, key=lambda tk: tk[t][1])[t]
        parts["transport"].append(r[7] - sent[t])
        parts["wait"].append(r[9] - r[7])
        parts["queued"].append(r[9] - r[8])
        parts["validate"].append(r[10] - r[9])
        parts["tick"].append(r[1] - r[0])
        if len(r) >= 17:
            late["late_reads"].append(r[15])
            late["late_read_ms"].append(1000 * r[16])
        for tk in ticks:
            cpu["replan" if tk[t][2] else "other"].append(tk[t][11])
            if tk[t][2] and len(tk[t]) >= 14:
                wall["replan_step"].append(tk[t][12])
                wall["replan_publish"].append(tk[t][13])
                wall["replan_tick"].append(tk[t][1] - tk[t][0])
    out = {f"{k}_p50": 1000 * statistics.median(v) for k, v in parts.items()}
    out |= {f"{k}_p99": 1000 * percentile(v, 99) for k, v in parts.items()}
    out |= {f"cpu_{k}_p50": 1000 * statistics.median(v) if v else float("nan") for k, v in cpu.items()}
    every = cpu["replan"] + cpu["other"]
    out |= {"cpu_tick_p50": 1000 * statistics.median(every), "cpu_tick_p99": 1000 * percentile(every, 99)}
    out |= {f"{k}_p50": 1000 * statistics.median(v) if v else float("nan") for k, v in wall.items()}
    out |= {f"{k}_p50": statistics.median(v) for k, v in late.items() if v}
    return out | {f"n_{k}": len(v) for k, v in cpu.items()}


def _cpu(ticks: list[dict[float, list[float]]], keep: list[float]) -> dict[str, Any]:
    """Process CPU seconds per second of feed, from the first to the last kept tick: the busiest
    controller process's and all of them together."""
    span = max(keep[-1] - keep[0], 1.0)
    per = [(tk[keep[-1]][3] - tk[keep[0]][3]) / span for tk in ticks]
    validate = sum(tk[keep[-1]][4] - tk[keep[0]][4] for tk in ticks) / span
    tick = sum(tk[keep[-1]][5] - tk[keep[0]][5] for tk in ticks) / span
    read = sum(tk[keep[-1]][14] - tk[keep[0]][14] for tk in ticks if len(tk[keep[0]]) > 14) / span
    out = {"cpu_ctl_max": max(per), "cpu_ctl_sum": sum(per), "cpu_validate": validate, "cpu_tick": tick}
    return out | {"cpu_read": read}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000])
    p.add_argument("--regions", type=int, nargs="+", default=[1, 2], help="controller processes (regions) per size")
    p.add_argument("--seconds", type=int, default=15, help="length of each 1 Hz run")
    p.add_argument("--raw-count", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=1, help="runs of every row (interleaved), then their medians")
    p.add_argument(
        "--per-message",
        choices=["no", "yes", "both"],
        default="no",
        help="decode detector messages one by one as before the batch decoder (yes), or run each row both ways",
    )
    p.add_argument(
        "--replan-spread",
        type=float,
        default=0.0,
        help="[webster] replan_spread of the 1 Hz runs' controllers (0: every junction re-plans on one tick)",
    )
    p.add_argument(
        "--metrics",
        choices=["none", "idle", "scraped", "both"],
        default="none",
        help="the controllers' ServiceMetrics: none (as before), attached and never scraped (idle), attached "
        "and scraped by an HTTP GET loop every --scrape-every seconds (scraped), or each row both ways (interleaved)",
    )
    p.add_argument("--scrape-every", type=float, default=15.0, help="seconds between scrapes")
    p.add_argument("--network", choices=["pump", "thread"], default="pump", help=NETWORK_HELP)
    p.add_argument("--feeder-write", choices=["paho", "joined"], default="paho", help=FEEDER_WRITE_HELP)
    p.add_argument("--service", choices=["lockstep", "live"], default="lockstep", help=SERVICE_HELP)
    p.add_argument(
        "--tick-delay",
        type=float,
        help="live: [service] tick_delay_s of the controllers (default: the service's, 0; > 0 needs --tick-wait 0)",
    )
    p.add_argument(
        "--tick-wait",
        type=float,
        help="live: [service] tick_wait_max_s of the controllers (default: the service's, config.toml's; 0: off)",
    )
    p.add_argument("--statuses", action="store_true", help=STATUSES_HELP)
    p.add_argument(
        "--feeder-connections",
        type=int,
        help="the 1 Hz feeder's connections, junction k on k mod C (default: one per 1,000 junctions)",
    )
    p.add_argument(
        "--feeder-network",
        choices=["pump", "thread"],
        default="pump",
        help="the 1 Hz feeder's connections served by its one thread (pump: each publish written at once) or each "
        "by a paho network thread (thread: as before session 50)",
    )
    p.add_argument("--gc", choices=["idle", "cpython"], default="idle", help=GC_HELP)
    p.add_argument("--max-inflight", type=int, help=MAX_INFLIGHT_HELP)
    p.add_argument("--dump", help="a folder: each 1 Hz run's per-plan timeline as JSON (for analysis)")
    p.add_argument("--pin", action="append", default=[], metavar="ROLE=CPUS", help=PIN_HELP)
    p.add_argument("--feeder", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--controller", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    if args.statuses and args.feeder_write == "joined":
        p.error("--statuses: the statuses go through paho (QoS 1, retained); not with --feeder-write joined")
    if args.feeder or args.controller:
        (feeder if args.feeder else controller_process)(json.loads(sys.stdin.readline()))
        return 0
    given = service_given(args.tick_delay, args.tick_wait)
    try:
        service = bench_cfg(args.replan_spread, given).service
        window = bench_cfg(broker=broker_given(args.max_inflight)).broker.max_inflight
        pins = pin_roles(args.pin, os.cpu_count() or 1)
    except (ConfigError, ValueError) as exc:
        p.error(str(exc))
    from sim.broker import Broker

    pin(0, pins.get("bench"))  # before the broker starts: it inherits this process's CPUs unless pinned itself
    with tempfile.TemporaryDirectory(prefix="tsc-bench-") as work:
        base = city_junction(Path(work), Config())
        detectors = [d.id for d in base.detectors]
        size = len(b"".join(message_parts(junction_id(0), detectors, 0))) + 12
        root = Topics(SITE).root
        with Broker(Path(work) / "broker", SITE, (), extra_users={BENCH_USER: [("readwrite", f"{root}/#")]}) as broker:
            pin(broker.pid, pins.get("broker"))
            args.pins = pins
            print(
                f"# junction model: {base.id} of the city ({len(base.detectors)} detectors, "
                f"{len(base.phases)} phases); detector message {size} bytes; {os.cpu_count()} CPUs",
                flush=True,
            )
            if pins:
                print(
                    "# pinned (CPUs): " + ", ".join(f"{r} {','.join(map(str, c))}" for r, c in pins.items()), flush=True
                )
            raw = raw_rate(broker, size, args.raw_count, pins.get("feeder"))
            print(
                f"# Mosquitto raw loopback, paho QoS 0 pub -> sub, {size} B: {raw['msg_s']:,.0f} msg/s "
                f"({raw['received']}/{raw['sent']} received)",
                flush=True,
            )
            print(
                f"# controllers' [broker] max_inflight {window} (QoS 1 messages awaiting their PUBACK; the bench's "
                f"Mosquitto: max_inflight_messages {broker.max_inflight}, its receive maximum)",
                flush=True,
            )
            if args.service == "live":  # the rule the live ticks start by: the service's own unless given
                rule = f"tick_wait_max_s {service.tick_wait_max_s:g}, tick_delay_s {service.tick_delay_s:g}"
                print(f"# live controllers' [service] {rule}", flush=True)
            _table(broker, Path(work), base, detectors, raw["msg_s"], args)
    return 0


def _table(
    broker: Broker, work: Path, base: Intersection, detectors: list[str], raw_msg_s: float, args: argparse.Namespace
) -> None:
    head = (
        f"{'N':>6} {'K':>2} {'decode':>6} {'ingest msg/s':>13} {'raw ×':>6} | {'validate p50/p99 ms':>20} "
        f"{'tick p50/p99 ms':>17} {'e2e p50/p99 ms':>16} {'plans/s':>8} {'dropped':>8} {'late':>5} | "
        f"{'CPU s/s: ctl max, all':>22}"
    )
    print(head)
    print("-" * len(head), flush=True)
    modes = {"no": [False], "yes": [True], "both": [True, False]}[args.per_message]
    kinds = ["idle", "scraped"] if args.metrics == "both" else [args.metrics]
    rows: dict[tuple[int, int, bool, str], list[dict[str, Any]]] = {}
    for _ in range(args.repeat):
        for n in args.sizes:
            junctions = replicate(base, n)
            for per_message in modes:
                # one in-process node, as fast as it can
                ing = ingest_rate(broker, junctions, detectors, per_message=per_message, cpus=args.pins.get("feeder"))
                for k in args.regions:
                    for kind in kinds:
                        hz = one_hz_regions(
                            broker,
                            work,
                            junctions,
                            k,
                            detectors,
                            args.seconds,
                            per_message,
                            args.replan_spread,
                            kind,
                            args.scrape_every,
                            args.network,
                            args.feeder_write,
                            (args.service, service_given(args.tick_delay, args.tick_wait)),
                            args.statuses,
                            {
                                "connections": feeder_connections(args.feeder_connections, n),
                                "pump": args.feeder_network == "pump",
                                "cpus": args.pins.get("feeder"),
                            },
                            _dump_path(args.dump, n, k, kind),
                            args.pins.get("controllers"),
                            args.gc,
                            broker_given(args.max_inflight),
                        )
                        hz["ingest"] = ing
                        _row(n, k, per_message, hz, raw_msg_s, kind)
                        if "tick_p50" in hz:
                            rows.setdefault((n, k, per_message, kind), []).append(hz)
    if args.repeat > 1:
        print(f"# medians over {args.repeat} runs (run by run above)")
        for (n, k, per_message, kind), runs in rows.items():
            keys = [key for key, v in runs[0].items() if isinstance(v, (int, float))]
            med = {key: statistics.median(r[key] for r in runs if key in r) for key in keys}
            med["ingest"] = {"msg_s": statistics.median(r["ingest"]["msg_s"] for r in runs), "rejected": {}}
            _row(n, k, per_message, med | {"error": "", "rejected": {}}, raw_msg_s, kind)


TAP_EVERY = 50  # --dump: every 50th junction's detector messages also heard by the bench's own subscriber
_TIMELINE = ("transport", "wait", "queued", "validate", "tick")
STEADY_AFTER_S = 10.0  # each plan's own latency also from the kept window's start + this (bench_cfg: period_s 5)
# sim/broker.py's max_inflight: a connection's QoS 1 window holds a second's statuses of its junctions
JUNCTIONS_PER_FEEDER_CONNECTION = 1000


def feeder_connections(given: int | None, n: int) -> int:
    """The 1 Hz feeder's connections: as given, else one per JUNCTIONS_PER_FEEDER_CONNECTION junctions (a
    field's roadside units each have their own; one connection for 5,000 collapsed under statuses, session 49)."""
    return given if given is not None else max(1, -(-n // JUNCTIONS_PER_FEEDER_CONNECTION))


def _dump_path(folder: str | None, n: int, k: int, kind: str) -> Path | None:
    """--dump FOLDER: each 1 Hz run's plans' timelines in FOLDER/{UTC time}_{n}_{k}_{kind}.json."""
    if folder is None:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) / f"{time.strftime('%H%M%S', time.gmtime())}_{n}_{k}_{kind}.json"


def _row(n: int, k: int, per_message: bool, hz: dict[str, Any], raw_msg_s: float, metrics: str = "none") -> None:
    ing = hz["ingest"]
    decode = "1-by-1" if per_message else "batch"
    lead = f"{n:>6} {k:>2} {decode:>6} {ing['msg_s']:>13,.0f} {ing['msg_s'] / raw_msg_s:>6.2f} | "
    if "tick_p50" not in hz:
        print(f"{lead} 1 Hz run failed: {hz.get('error')}", flush=True)
        return
    print(
        f"{lead}{hz['validate_p50']:>9.1f} / {hz['validate_p99']:>7.1f} "
        f"{hz['tick_p50']:>7.1f} / {hz['tick_p99']:>7.1f} "
        f"{hz['e2e_p50']:>7.1f} / {hz['e2e_p99']:>6.1f} {hz['plans_per_s']:>8.0f} {hz['dropped']:>8g} "
        f"{hz['late']:>3g}/{hz['seconds']:g} | {hz['cpu_ctl_max']:>10.2f} {hz.get('cpu_all', float('nan')):>11.2f}"
        + (f"  ({hz['error']})" if hz["error"] else ""),
        flush=True,
    )
    val_us, tick_us = 1e6 * hz["cpu_validate"] / n, 1e6 * hz["cpu_tick"] / n
    read_us = 1e6 * hz.get("cpu_read", 0.0) / n
    other_us = 1e6 * hz["cpu_ctl_sum"] / n - val_us - tick_us - read_us
    print(
        f"#   controllers' CPU µs per junction-second: receive and other {other_us:.0f}, read on arrival "
        f"{read_us:.0f}, validate {val_us:.0f}, tick {tick_us:.0f}; "
        f"feeder {hz.get('cpu_feeder', float('nan')):.2f} s/s, "
        f"Mosquitto {hz.get('cpu_broker', float('nan')):.2f} s/s",
        flush=True,
    )
    if "transport_p50" in hz:
        line = ", ".join(f"{k} {hz[k + '_p50']:.0f}/{hz[k + '_p99']:.0f}" for k in _TIMELINE)
        print(
            f"#   e2e by part (slowest region), ms p50/p99: {line}; tick thread CPU ms p50/p99 "
            f"{hz['cpu_tick_p50']:.0f}/{hz['cpu_tick_p99']:.0f}, p50 by kind: "
            f"re-plan {hz['cpu_replan_p50']:.0f} ({hz['n_replan']:g} ticks), other {hz['cpu_other_p50']:.0f} "
            f"({hz['n_other']:g}); re-plan tick wall ms p50 {hz['replan_tick_p50']:.0f}: core step "
            f"{hz['replan_step_p50']:.0f}, plans published {hz['replan_publish_p50']:.0f}",
            flush=True,
        )
    if "own_p50" in hz:
        print(_own_line(hz), flush=True)
    if "acked_own_p50" in hz:
        print(_acked_line(hz), flush=True)
    if metrics != "none":
        line = f"#   metrics {metrics}"
        if hz.get("scrapes"):
            line += (
                f": {hz['scrapes']:g} scrapes, ms p50/max {hz['scrape_ms_p50']:.0f}/{hz['scrape_ms_max']:.0f}, "
                f"{hz['scrape_mb']:.1f} MB; e2e ms of the {hz['hit_seconds']:g} seconds a scrape overlapped: "
                f"max {hz['e2e_hit_max']:.0f}; of the others: p50 {hz['e2e_rest_p50']:.0f}, "
                f"max {hz['e2e_rest_max']:.0f}"
            )
        print(line, flush=True)
    if hz.get("left"):
        print(f"#   of the dropped, left unread at the controllers' stop: {hz['left']:g}", flush=True)
    if ing["rejected"] or hz["rejected"]:
        print(f"#   rejected: ingest {ing['rejected']} 1Hz {hz['rejected']}", flush=True)


def _own_line(hz: dict[str, Any]) -> str:
    """The live row's line of each plan's own latency (_own_latency) and the feeder's hand-off."""
    return (
        f"#   each plan from its own junction's message, ms p50/p99/max: {hz['own_p50']:.0f}/{hz['own_p99']:.0f}/"
        f"{hz['own_max']:.0f} ({hz['own_n']:g} plans), from +{STEADY_AFTER_S:g} s "
        f"{hz.get('steady_p50', float('nan')):.0f}/{hz.get('steady_p99', float('nan')):.0f} "
        f"({hz.get('steady_n', 0):g}), p99 without its slowest second "
        f"(+{hz.get('steady_worst_s', float('nan')):.0f} s) {hz.get('steady_p99_but1', float('nan')):.0f}; "
        f"the feeder handing a second's messages to its client, ms p50/p99: "
        f"{hz['feed_p50']:.0f}/{hz['feed_p99']:.0f}; messages read after their clock came in "
        f"(slowest region), p50: {hz.get('late_reads_p50', float('nan')):.0f}, "
        f"{hz.get('late_read_ms_p50', float('nan')):.0f} ms of CPU; junction-seconds not in at the tick's latest "
        f"start (live, --tick-wait): {hz.get('late_junctions', 0):g}; feeder connections "
        f"{hz.get('feeder_connections', 1):g}" + _own_parts_text(hz)
    )


def _acked_line(hz: dict[str, Any]) -> str:
    """The live row's line of each plan's own latency to its PUBACK (_own_latency to="acked")."""
    return (
        f"#   each plan from its own junction's message to its PUBACK (the broker has it), ms p50/p99/max: "
        f"{hz['acked_own_p50']:.0f}/{hz['acked_own_p99']:.0f}/{hz['acked_own_max']:.0f} ({hz['acked_own_n']:g} "
        f"plans, {hz.get('acked_own_unacked', 0):g} never acknowledged), from +{STEADY_AFTER_S:g} s "
        f"{hz.get('acked_steady_p50', float('nan')):.0f}/{hz.get('acked_steady_p99', float('nan')):.0f}, "
        f"p99 without its slowest second {hz.get('acked_steady_p99_but1', float('nan')):.0f}"
    )


def _own_parts_text(hz: dict[str, Any]) -> str:
    """_own_parts' figures for _own_line ("" without them: no --dump)."""
    if "own_tick_p50" not in hz:
        return ""
    line = ", ".join(f"{k} {hz[f'own_{k}_p50']:.0f}/{hz[f'own_{k}_p99']:.0f}" for k in ("region", "reads", "tick"))
    return f"; from +{STEADY_AFTER_S:g} s by part, ms p50/p99: {line}"


if __name__ == "__main__":
    sys.exit(main())

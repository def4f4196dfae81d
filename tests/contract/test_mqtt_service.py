"""controller/live.py's ServiceNode against a real Mosquitto: a feed -> plan round trip, hostile
messages counted by reason, the heartbeat and its Last Will, and a broker restart with no plan
lost. Ticks are driven by the test (service time is just a number here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import tomli_w

from controller.adapters.mqtt import MqttClient
from controller.core.messages import decode_command, encode_status
from controller.live import ScaledClock, ServiceNode
from controller.model import CyclePlan, SignalStatus
from sim.broker import CONTROLLER, Broker, field_user, free_port
from tests.live_fixtures import Inbox, cross_toml, skip_without_mosquitto, wait_until
from tests.service_fixtures import CFG, JUNCTIONS, SITE, deliver, feed

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(30)


def status(jid: str, t_s: float, phase: int = 0, time_in_phase_s: float = 5.0) -> bytes:
    return encode_status(
        SignalStatus(jid, t_s, phase, False, time_in_phase_s=time_in_phase_s, plan_id="local", seq=0, mode="local")
    )


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", SITE, JUNCTIONS) as b:
        yield b


@pytest.fixture
def made():
    clients: list = []
    yield clients
    for c in reversed(clients):
        c.close()


def start_node(made, broker, **kw) -> ServiceNode:
    node = ServiceNode(CFG, JUNCTIONS, broker.settings(CONTROLLER, client_id="tsc-t-ctl"), start_s=0.0, **kw)
    made.append(node)
    return node.start()


def device(made, broker, jid: str, on_message=None, **kw) -> MqttClient:
    c = MqttClient(broker.settings(field_user(jid), **kw), on_message)
    made.append(c)
    if on_message is not None:
        c.subscribe([broker.topics.plan(jid)], qos=1)
    return c.start()


def test_feed_to_plan_round_trip(broker, made):
    node = start_node(made, broker)
    plans = Inbox()
    j1 = device(made, broker, "J1", plans)
    t = broker.topics
    deliver(node, j1, t.status("J1"), status("J1", 0.0))
    sent = []
    for now in (1.0, 2.0, 3.0, 4.0):
        deliver(node, j1, t.detectors("J1"), feed("J1", now, cars=2), qos=0)
        node.tick(now)
        sent += node.sent
    assert node.service.received == 4 and not node.service.rejected
    assert sent, "webster with a 2 s period should have decided a plan by t=4"
    assert plans.wait_until(lambda m: len(m) >= 1)
    topic, payload = plans.messages[0]
    cmd = decode_command(payload)
    assert topic == t.plan("J1")
    assert isinstance(cmd, CyclePlan) and cmd.junction == "J1" and cmd.seq == 1
    assert (cmd.junction, cmd.seq) == sent[0]
    assert sum(cmd.greens_s) + 2 * 4.0 == pytest.approx(cmd.cycle_s)  # greens + two 3+1 s intergreens
    # J2 sent nothing: its feed is stale, it gets no plan (its roadside keeps its local plan).
    assert "J2" in node.service.last_result.stale
    assert all(c.junction == "J1" for c in map(decode_command, (p for _, p in plans.messages)))
    # J1's feed stops: once it is older than feed_stale_s the service stops commanding J1, so
    # its roadside falls back to its local plan after its backup time.
    for now in range(5, 5 + int(CFG.service.feed_stale_s) + 2):
        node.tick(float(now))
    assert "J1" in node.service.last_result.stale and node.sent == []


def test_hostile_messages_are_counted_by_reason_and_the_service_carries_on(broker, made):
    node = start_node(made, broker)
    plans = Inbox()
    j1 = device(made, broker, "J1", plans)
    t = broker.topics
    deliver(node, j1, t.status("J1"), status("J1", 0.0))
    deliver(node, j1, t.detectors("J1"), feed("J1", 1.0))
    node.tick(1.0)

    hostile = hostile_feeds()
    for payloads in hostile.values():
        for p in payloads:
            deliver(node, j1, t.detectors("J1"), p)
    # 10 MB: over the broker's message_size_limit, so Mosquitto drops it before the service.
    before = node.client.received
    j1.publish(t.detectors("J1"), b"{" + b" " * (10 * 1024 * 1024) + b"}", qos=0)
    deliver(node, j1, t.status("J1"), b'{"v":1,"junction":"J1","t":1.5,"phase":7,"mode":"local"}')
    assert node.client.received == before + 1  # only the status after it came through
    node.tick(2.0)  # everything is validated on the tick thread

    expected = Counter({reason: len(p) for reason, p in hostile.items()})
    expected["out_of_range"] += 1  # the status with phase 7 on a two-phase junction
    assert node.service.rejected == expected
    assert node.client.callback_errors == 0

    # Still running, state intact: good feeds are accepted and plans flow.
    for now in (3.0, 4.0, 5.0):
        deliver(node, j1, t.detectors("J1"), feed("J1", now, cars=2), qos=0)
        node.tick(now)
    assert node.service.received == 1 + sum(expected.values()) - 1 + 3  # statuses are not counted as received
    assert node.service.rejected == expected
    assert plans.wait_until(lambda m: any(decode_command(p).junction == "J1" for _, p in m))


def hostile_feeds() -> dict[str, list[bytes]]:
    """J1's detector messages at t = 2 s, each broken one way, by the reason the service counts it under."""
    good = json.loads(feed("J1", 2.0))
    det = next(iter(good["detectors"]))

    def variant(**changes) -> bytes:
        body = json.loads(json.dumps(good))
        for key, value in changes.items():
            if key == "counts":
                body["detectors"][det]["counts"] = value
            elif key == "det":
                body["detectors"][value] = body["detectors"].pop(det)
            else:
                body[key] = value
        return json.dumps(body).encode()

    return {
        "malformed_json": [feed("J1", 2.0)[:40], b"\xff\xfe\x00garbage", b""],
        "not_finite": [
            feed("J1", 2.0).replace(b'"t":2.0', b'"t":NaN'),
            feed("J1", 2.0).replace(b'"occupancy":0.1', b'"occupancy":Infinity', 1),
        ],
        "negative_count": [variant(counts={"car": -3})],
        "wrong_type": [
            variant(t="soon"),
            variant(counts={"car": "many"}),
            variant(detectors=[1, 2]),
            b"[1,2,3]",
            b'"just a string"',
        ],
        "unknown_junction": [variant(junction="J99")],
        "unknown_detector": [variant(det="J1_X_stop")],
        "unknown_class": [variant(counts={"spaceship": 1})],
        "future_timestamp": [variant(t=1e9)],
        "bad_version": [variant(v=2)],
        "topic_mismatch": [feed("J2", 2.0)],  # J1's device speaking for J2
        # over 256 KiB, under the broker limit
        "oversize": [b'{"v":1,"junction":"J1","pad":"' + b"x" * 300_000 + b'"}'],
    }


def test_heartbeat_is_retained_and_the_last_will_says_offline(broker, made):
    node = start_node(made, broker)
    beats = Inbox()
    watcher = MqttClient(broker.settings("operator"), beats)
    made.append(watcher)
    watcher.subscribe([broker.topics.heartbeat(CFG.service.instance)], qos=1)
    watcher.start()  # subscribes after the node said hello: the retained heartbeat is delivered
    assert beats.wait_until(lambda m: m and json.loads(m[-1][1])["state"] == "online")
    hello = json.loads(beats.messages[-1][1])
    assert hello["instance"] == CFG.service.instance and hello["junctions"] == 2

    node.client._client.socket().close()  # the process "dies": no DISCONNECT, the broker sends the will
    assert beats.wait_until(lambda m: json.loads(m[-1][1])["state"] == "offline", timeout_s=10)
    # back: the first tick after the reconnect says online again. The node's own client may not
    # have noticed the dead socket yet when the will arrives (a tick then publishes into it), so
    # tick once a second, as the service does, until the watcher reads "online".
    online = False
    for now_s in range(1, 11):
        assert wait_until(lambda: node.client.connected.is_set(), 10)
        node.tick(float(now_s))
        online = beats.wait_until(lambda m: json.loads(m[-1][1])["state"] == "online", timeout_s=1.0)
        if online:
            break
    assert online


@pytest.mark.timeout(60)
def test_a_node_that_warms_up_says_starting_until_its_first_tick(broker, made):
    """start(serving=False), as `run` starts (live._serve: warm_up comes before the first tick): the
    heartbeat says "starting", never "online", until a tick; a reconnect before the first tick says
    "starting" again over the Last Will the broker published; the first tick says "online", and from then
    on a reconnect says "online" (at the next tick), not "starting"."""
    node = ServiceNode(CFG, JUNCTIONS, broker.settings(CONTROLLER, client_id="tsc-t-ctl"), start_s=0.0)
    made.append(node)
    node.start(serving=False)
    beats = Inbox()
    watcher = MqttClient(broker.settings("operator"), beats)
    made.append(watcher)
    table = broker.topics.junction_table(CFG.service.instance)
    watcher.subscribe([broker.topics.heartbeat(CFG.service.instance), table], qos=1)
    watcher.start()
    heartbeats = lambda m: [p for t, p in m if t != table]  # noqa: E731
    states = lambda m: [json.loads(p)["state"] for p in heartbeats(m)]  # noqa: E731
    assert beats.wait_until(lambda m: states(m)[-1:] == ["starting"])
    assert json.loads(heartbeats(beats.snapshot())[-1]) == {
        "v": 1,
        "instance": CFG.service.instance,
        "state": "starting",
    }
    # this run's junction table, for the operators' console (ctl status), before any tick
    assert beats.wait_until(lambda m: any(t == table for t, _p in m))

    node.client._client.socket().close()  # the connection lost while it warms up: the broker sends the will
    assert beats.wait_until(lambda m: states(m)[-1] == "offline", timeout_s=10)
    assert beats.wait_until(lambda m: states(m)[-1] == "starting", timeout_s=30)  # reconnected, not ticked
    assert "online" not in states(beats.snapshot())
    node.tick(1.0)
    assert beats.wait_until(lambda m: states(m)[-1] == "online", timeout_s=10)

    # once it serves, a reconnect says "online" again at the next tick, never "starting"
    node.client._client.socket().close()
    assert beats.wait_until(lambda m: states(m)[-1] == "offline", timeout_s=10)
    for now_s in range(2, 12):  # as test_heartbeat_is_retained_and_the_last_will_says_offline
        assert wait_until(lambda: node.client.connected.is_set(), 10)
        node.tick(float(now_s))
        if beats.wait_until(lambda m: states(m)[-1] == "online", timeout_s=1.0):
            break
    after = states(beats.snapshot())
    assert after[-1] == "online" and "starting" not in after[len(after) - after[::-1].index("offline") :], after


def test_the_on_connected_handler_has_run_when_connected_is_set(broker, made):
    """A node that sees `connected` and ticks must find the handler's effect (the heartbeat due at
    once after a reconnect): the handler runs before the event is set."""
    ran: list[bool] = []

    def slow_handler(session_present: bool) -> None:
        time.sleep(0.3)
        ran.append(session_present)

    client = MqttClient(broker.settings("operator"), lambda topic, payload: None, on_connected=slow_handler)
    made.append(client)
    client.start()
    assert client.connected.wait(10) and len(ran) == 1


@pytest.mark.timeout(90)  # each wait below has its own deadline; together they may exceed the module's 30 s
def test_broker_restart_mid_run_loses_no_plan(broker, made):
    """Plans published before the broker goes down, while it is down (queued by the controller's
    client) and after it is back all reach their roadside. The outage follows events, not wall
    time (a loaded machine stretches the reconnect): the broker stops right after a tick, the
    outage's ticks run once every client has seen it go, and the ticks after it once every client
    is back, each on that second's feeds and statuses."""
    node = start_node(made, broker)
    got: set[tuple[str, int]] = set()
    lock = threading.Lock()

    def on_plan(topic: str, payload: bytes) -> None:
        cmd = decode_command(payload)
        with lock:
            got.add((cmd.junction, cmd.seq))

    def received() -> set[tuple[str, int]]:
        with lock:
            return set(got)

    t = broker.topics
    devices = {j: device(made, broker, j, on_plan, client_id=f"dev-{j}") for j in JUNCTIONS}
    clients = [node.client, *devices.values()]
    for j, dev in devices.items():
        deliver(node, dev, t.status(j), status(j, 0.0))
    published: dict[str, list[tuple[str, int]]] = {"before": [], "during": [], "after": []}

    def tick(k: int, part: str) -> None:
        now = float(k)
        for j, dev in devices.items():  # QoS 1 feeds: queued by the device while the broker is down
            dev.publish(t.detectors(j), feed(j, now, cars=1 + k % 3), qos=1)
            # phase 0 starts every other second: webster sends its plans at a start of phase 0
            dev.publish(t.status(j), status(j, now, phase=k % 2, time_in_phase_s=0.0), qos=1)
        if part != "during":  # this second's feeds and statuses (the first ticks after the outage
            # may take the outage's queued ones instead: any will do)
            assert wait_until(lambda: node.inbox.qsize() >= 2 * len(devices), 10), f"tick {k}: no feeds"
        node.tick(now)
        published[part] += node.sent

    for k in range(1, 16):
        tick(k, "before")
    broker.stop()  # right after tick 15, which publishes plans (every odd tick does here): in flight
    assert wait_until(lambda: not any(c.connected.is_set() for c in clients), 10), "the outage went unseen"
    for k in range(16, 21):
        tick(k, "during")
    broker.start()
    assert wait_until(lambda: all(c.connects >= 2 and c.connected.is_set() for c in clients), 20), (
        "every client should have reconnected"
    )
    for k in range(21, 41):
        tick(k, "after")
    sent = [p for part in published.values() for p in part]
    assert all(len(part) >= 2 for part in published.values()), published
    assert wait_until(lambda: received() >= set(sent), 10), f"lost: {sorted(set(sent) - received())}"
    # Every plan the controller published, before, during and after the outage, reached its
    # roadside device; QoS 1 may deliver one twice, which the roadside ignores by seq.
    assert received() == set(sent)
    for j in JUNCTIONS:
        seqs = [s for jj, s in sent if jj == j]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
RUN_FACTOR = 0.2  # wall seconds per service second of the `run` subprocess


def _run_service(tmp_path, broker, password: str) -> subprocess.Popen:
    inter = tmp_path / "intersections"
    inter.mkdir(exist_ok=True)
    for j in JUNCTIONS:
        (inter / f"{j}.toml").write_text(tomli_w.dumps(cross_toml(j)))
    conf = tmp_path / "config.toml"
    conf.write_text(
        tomli_w.dumps(
            {
                # webster: a cyclic plan needs no roadside status first (acyclic policies wait for one)
                # a service clock 5 times real time: a tick (one service second) every 0.2 wall seconds
                "service": {
                    "site": SITE,
                    "instance": "ctl-run",
                    "intersections": "intersections",
                    "realtime_factor": RUN_FACTOR,
                    "policy": "webster",
                },
                "broker": {"host": broker.host, "port": broker.port, "username": CONTROLLER},
                "webster": {"period_s": 1.0},
                "metrics": {"port": free_port()},
            }
        )
    )
    # a throw-away plan key (docs/security.md): `run` refuses to start without one
    env = {**os.environ, "TSC_BROKER_PASSWORD": password, "TSC_PLAN_KEYS": "test:" + "ab" * 32}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run_controller.py"), "--config", str(conf), "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# The `run` subprocess's waits end at events the service signals, not at wall-clock windows. Its
# heartbeat says "starting" from the connect through warm_up (numba's load or compile), and "online"
# from its first tick on (live._serve): at load 13-16 the first tick came 3-5 s after the connect, and
# at load ~20 a 10 s window for a plan after the connect was missed (twice in a suite, session 60).
# START_MAX_S is only a backstop for a service that never signals.
START_MAX_S = 120.0
PLAN_WITHIN_BEATS = 3  # no plan after this many more heartbeats of a ticking service: 3 x heartbeat_s (15 s) of ticks


def _beats(seen: Inbox, topic: str) -> list[dict]:
    """The service's "online" heartbeats so far, one per service second `t` (a QoS 1 copy counted once),
    each a tick's ("starting" ones are not counted)."""
    bodies = {b["t"]: b for tp, p in seen.snapshot() if tp == topic and (b := json.loads(p))["state"] == "online"}
    return [bodies[t] for t in sorted(bodies)]


def _wait_ticking(seen: Inbox, proc: subprocess.Popen, topic: str) -> float:
    """Wall seconds until the service ticks: its first "online" heartbeat, which its first tick sends."""
    started = time.monotonic()
    ticking = wait_until(lambda: len(_beats(seen, topic)) >= 1 or proc.poll() is not None, START_MAX_S)
    assert ticking and proc.poll() is None, proc.stderr.read() if proc.poll() is not None else "no tick's heartbeat"
    return time.monotonic() - started


def _feed_until_planned(seen: Inbox, proc: subprocess.Popen, j1: MqttClient, t) -> None:
    """J1's feed, live, until a plan for J1 comes back; the service's own heartbeats bound the wait."""
    beats = lambda: _beats(seen, t.heartbeat("ctl-run"))  # noqa: E731
    planned = lambda: any(tp == t.plan("J1") for tp, _ in seen.snapshot())  # noqa: E731
    last, deadline = len(beats()) + PLAN_WITHIN_BEATS, time.monotonic() + START_MAX_S
    while not planned() and len(beats()) < last and proc.poll() is None:
        assert time.monotonic() < deadline, "the service stopped its heartbeats"
        # live: stamped with the service's clock (every process computes the same ScaledClock)
        j1.publish(t.detectors("J1"), feed("J1", ScaledClock(RUN_FACTOR).now(), cars=2), qos=0)
        time.sleep(0.1)
    assert planned(), f"no plan from the running service; its last heartbeat: {beats()[-1]}"


@pytest.mark.timeout(4 * START_MAX_S)  # a backstop: every wait below ends at its event
def test_run_command_serves_feeds_and_stops_cleanly_on_sigterm(broker, made, tmp_path):
    t = broker.topics
    seen = Inbox()
    op = MqttClient(broker.settings("operator"), seen)
    made.append(op)
    op.subscribe([t.plan("J1"), t.heartbeat("ctl-run")], qos=1)
    op.start()
    proc = _run_service(tmp_path, broker, broker.users[CONTROLLER])
    try:
        start_up_s = _wait_ticking(seen, proc, t.heartbeat("ctl-run"))
        _feed_until_planned(seen, proc, device(made, broker, "J1"), t)
        proc.send_signal(signal.SIGTERM)
        # a stop does far less than the start-up (no imports, no compile): as long as that took, at least 10 s
        stop_s = max(10.0, start_up_s)
        _out, err = proc.communicate(timeout=stop_s)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert seen.wait_until(lambda m: json.loads(m[-1][1]).get("state") == "offline", stop_s)
    assert "service stopped" in err


@pytest.mark.timeout(2 * START_MAX_S)
def test_run_command_exits_with_a_reason_on_bad_credentials(broker, tmp_path):
    proc = _run_service(tmp_path, broker, "wrong-password")
    try:
        _out, err = proc.communicate(timeout=START_MAX_S)  # its start-up, then the broker's refusal
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2
    assert "refused" in err and "controller" in err

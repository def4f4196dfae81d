"""The service on a two-node RabbitMQ 3.10 cluster with its MQTT plugin on TLS (sim/rabbit.py):
the roles of the contract hold across nodes, and where RabbitMQ 3.10 lacks a feature the contract
uses, the degradation docs/deployment.md describes ("RabbitMQ 3.10 against the contract") is
what happens. One cluster for the module: it takes 25-70 s to boot here."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from controller.adapters.mqtt import MqttClient
from controller.config import RegionsConfig, load_config
from controller.errors import AdapterError
from sim.broker import CONTROLLER, field_user
from sim.rabbit import RabbitCluster, find_rabbitmq, run_via_cluster
from sim.simulate import SimulateRequest, run
from tests.live_fixtures import Inbox, throwaway_certs

try:
    find_rabbitmq()
except AdapterError:
    pytest.skip("rabbitmq-server is not installed (make system-deps)", allow_module_level=True)
if shutil.which("openssl") is None:
    pytest.skip("openssl is not installed (the cluster listens on TLS)", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180), pytest.mark.wallclock]  # brokers' deadlines

SLOW_RETRY = {"reconnect_min_s": 10.0, "reconnect_max_s": 10.0}  # a refused client stays away while we look
ROOT = Path(__file__).resolve().parents[2]
CITY = ROOT / "sim/scenarios/city/city.sumocfg"
SITE = "city"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One cluster for the module, on TLS listeners (every client of the module speaks TLS):
    users for J1, J2 and every traffic light of the bundled city."""
    work = tmp_path_factory.mktemp("rabbit")
    city = [tl.get("id") for tl in ET.parse(CITY.with_suffix(".net.xml")).getroot().iter("tlLogic")]
    with RabbitCluster(work / "cluster", SITE, ["J1", "J2", *city], tls=throwaway_certs(work / "pki")) as c:
        yield c


def connect(clients, cluster, user, node, on_message=None, subscribe=(), **kw) -> MqttClient:
    c = MqttClient(cluster.settings(user, node=node, **kw), on_message)
    clients.append(c)
    c.subscribe(subscribe, qos=1)
    return c.start()


def test_the_cluster_runs_both_nodes(cluster):
    assert cluster.running_nodes() == sorted(n.name for n in cluster.nodes)
    assert "guest" not in cluster.ctl(cluster.nodes[1], "list_users")  # only the service's roles


def test_tls_only(cluster):
    """The MQTT listeners speak TLS only: a client speaking plain MQTT gets no CONNACK."""
    assert cluster.tls is not None
    plain = MqttClient(cluster.settings(CONTROLLER, node=1, tls=False, connect_timeout_s=3.0))
    try:
        with pytest.raises(AdapterError, match="no MQTT broker answered"):
            plain.start()
    finally:
        plain.close(flush_s=0)


def test_mqtt_5_is_refused_so_clients_speak_3_1_1(cluster):
    """RabbitMQ 3.10's plugin speaks MQTT 3.1 and 3.1.1 only: an MQTT 5 CONNECT gets no CONNACK."""
    v5 = MqttClient(cluster.settings(CONTROLLER, protocol="5", connect_timeout_s=3.0))
    try:
        with pytest.raises(AdapterError, match="no MQTT broker answered"):
            v5.start()
    finally:
        v5.close(flush_s=0)


def test_roles_hold_across_nodes(cluster, clients):
    t = cluster.topics
    inbox = Inbox()
    connect(clients, cluster, CONTROLLER, 0, inbox, [t.root + "/+/detectors", t.root + "/+/status"])
    dotted = connect(clients, cluster, field_user("J2"), 1)
    assert dotted.wait_ack(dotted.publish(t.detectors("J2"), b"d", qos=1)) == 0
    got = inbox.wait_for(1)
    assert got == [(t.detectors("J2"), b"d")]  # through node 2 to node 1

    # A device speaking for another junction is cut off by the broker (MQTT 3.1.1 has no
    # refusal code in PUBACK: RabbitMQ closes the connection); nothing reaches the service.
    j1 = connect(clients, cluster, field_user("J1"), 1, **SLOW_RETRY)
    j1.publish(t.status("J2"), b"spoof", qos=1)
    assert _cut_off(j1)
    time.sleep(0.5)
    assert inbox.messages == got
    # Nor may it read another junction's plans: the subscription closes the connection too.
    spy = connect(clients, cluster, field_user("J1"), 0, subscribe=[t.plan("J2")], **SLOW_RETRY)
    assert _cut_off(spy)


def _cut_off(client: MqttClient, timeout_s: float = 5.0) -> bool:
    """Whether the broker closed the client's connection within timeout_s."""
    deadline = time.monotonic() + timeout_s
    while client.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    return client.disconnects >= 1


def test_another_user_cannot_take_a_session_over(cluster, clients):
    """RabbitMQ cannot bind client ids to user names: a user asking for another's client id
    disconnects that client (as a second connection of the same client does), but it cannot read
    the session: its queue is named after the client id, and a user may only declare and read
    the queues of client ids made of its own name. The session's messages wait for their owner."""
    t = cluster.topics
    session = {"client_id": "tsc-city-own", "session_expiry_s": 3600.0}
    owner = MqttClient(cluster.settings(CONTROLLER, node=0, **session), Inbox())
    owner.subscribe([t.root + "/+/status"], qos=1)
    owner.start()
    owner.close()
    dev = connect(clients, cluster, field_user("J1"), 1)
    assert dev.wait_ack(dev.publish(t.status("J1"), b"for the owner", qos=1)) == 0
    stolen = Inbox()
    thief = MqttClient(cluster.settings("monitor", node=0, **session, **SLOW_RETRY), stolen)
    clients.append(thief)
    thief.subscribe([t.root + "/+/status"], qos=1)
    thief.start(wait=False)
    assert _cut_off(thief) or thief.refused or not thief.connected.is_set()
    time.sleep(1.0)
    assert stolen.messages == []
    mine = Inbox()
    connect(clients, cluster, CONTROLLER, 1, mine, [t.root + "/+/status"], **session)
    assert mine.wait_for(1) == [(t.status("J1"), b"for the owner")]


def test_retained_status_stays_on_its_node(cluster, clients):
    """RabbitMQ 3.10 keeps retained messages per node and sends them only to a subscription to
    that exact topic: the contract's retained status degrades to its periodic re-sending
    (sim/field.py: on change and every status_every_s), which a new subscriber waits for."""
    t = cluster.topics
    dev = connect(clients, cluster, field_user("J1"), 1)
    dev.wait_ack(dev.publish(t.status("J1"), b"s1", qos=1, retain=True))
    time.sleep(0.3)
    same_exact, other_exact, same_wild = Inbox(), Inbox(), Inbox()
    connect(clients, cluster, "monitor", 1, same_exact, [t.status("J1")])
    connect(clients, cluster, "monitor", 0, other_exact, [t.status("J1")])
    connect(clients, cluster, CONTROLLER, 1, same_wild, [t.root + "/+/status"])
    assert same_exact.wait_for(1) == [(t.status("J1"), b"s1")]
    time.sleep(1.0)
    assert other_exact.messages == []  # published through node 2, not retained on node 1
    assert same_wild.messages == []  # the service's wildcard subscription gets no retained message
    dev.wait_ack(dev.publish(t.status("J1"), b"s2", qos=1, retain=True))  # the next periodic status
    for box in (other_exact, same_wild):
        assert box.wait_for(1) == [(t.status("J1"), b"s2")]


def test_a_persistent_session_follows_its_client_to_another_node(cluster, clients):
    """clean_session false: the broker keeps the subscription and queues QoS 1 messages while the
    client is away, for mqtt.subscription_ttl (one broker-wide value instead of the client's own
    session expiry), and on whichever node it comes back to."""
    t = cluster.topics
    inbox = Inbox()
    sessions: list[bool] = []
    first = MqttClient(cluster.settings(CONTROLLER, "tsc-city-s", node=0, session_expiry_s=3600.0), inbox)
    first.subscribe([t.root + "/+/status"], qos=1)
    first.start()
    first.close()
    dev = connect(clients, cluster, field_user("J2"), 1)
    assert dev.wait_ack(dev.publish(t.status("J2"), b"while away", qos=1)) == 0
    back = MqttClient(
        cluster.settings(CONTROLLER, "tsc-city-s", node=1, session_expiry_s=3600.0), inbox, on_connected=sessions.append
    )
    clients.append(back)
    back.start()
    assert sessions == [True]
    assert inbox.wait_for(1) == [(t.status("J2"), b"while away")]


_INSTANCE = """
import sys, time
from controller.adapters.mqtt import MqttClient, MqttSettings
settings = MqttSettings(**eval(sys.argv[1]))
topic = sys.argv[2]
client = MqttClient(settings, will=(topic, b'{"v":1,"state":"offline"}')).start()
client.wait_ack(client.publish(topic, b'{"v":1,"state":"online"}', qos=1, retain=True))
print("up", flush=True)
time.sleep(60)
"""


def test_an_instances_last_will_reaches_the_other_node(cluster, clients):
    """What region failover (controller/takeover.py) hears of a dead instance: its heartbeat, then
    its Last Will when its process is killed, published by node 1, heard by an instance on node 2."""
    topic = cluster.topics.heartbeat("ctl-1-r0")
    watcher = Inbox()
    connect(clients, cluster, CONTROLLER, 1, watcher, [topic])
    settings = cluster.settings(CONTROLLER, "tsc-city-ctl-1-r0", node=0, keepalive_s=5.0)
    proc = subprocess.Popen(
        [sys.executable, "-c", _INSTANCE, repr(settings.__dict__), topic], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        assert watcher.wait_for(1)[0] == (topic, b'{"v":1,"state":"online"}')
        proc.kill()  # no DISCONNECT: the broker publishes the will
        assert watcher.wait_for(2)[1] == (topic, b'{"v":1,"state":"offline"}')
    finally:
        proc.kill()
        proc.wait()


def _trips(path: Path) -> list[dict]:
    return [{**t.attrib, "children": [(c.tag, sorted(c.attrib.items())) for c in t]} for t in ET.parse(path).getroot()]


def test_two_region_instances_on_two_nodes_reproduce_the_in_process_run(cluster, tmp_path):
    """Sharding on the clustered broker: the bundled city in two regions (controller/regions.py),
    region r0's instance on node 1, r1's on node 2, the field on node 2, so r0's detector messages,
    statuses, plans and lockstep clock all cross the cluster. Lockstep makes the run exact: the
    same trips as the single in-process service (adaptive, 200 s: nothing crosses the region border)."""
    defaults = load_config(None)
    assert defaults.service.site == SITE
    ref_req = SimulateRequest(CITY, tmp_path / "in_process", "adaptive", sumo_args=("--end", "200"))
    ref_summary = run(ref_req, defaults, progress=lambda line: None)
    split = cluster.split(controller_node=0, field_node=1, spread=True)
    sharded = replace(defaults, regions=RegionsConfig(count=2))
    req = replace(ref_req, out_dir=tmp_path / "rabbit_run")
    summary = run_via_cluster(req, sharded, split, progress=lambda line: None)
    ref = _trips(tmp_path / "in_process" / "tripinfo.xml")
    assert len(ref) > 50
    assert _trips(tmp_path / "rabbit_run" / "tripinfo.xml") == ref
    assert sorted(split.placed.values()) == [0, 1]  # one instance on each node
    transport = summary["transport"]
    assert transport["mode"] == "mqtt-lockstep"
    assert summary["controller"]["plans_sent"] == ref_summary["controller"]["plans_sent"] > 20
    assert transport["field"]["plans_received"] == summary["controller"]["plans_sent"]
    for stats in transport["regions"].values():
        assert stats["plans_sent"] > 0 and stats["rejected"] == {}


def test_losing_a_node_blinds_the_persistent_sessions_it_held(cluster, clients):
    """Last in the module: it stops node 1. A persistent session lives in a classic queue on the
    node where its client first subscribed. With that node gone, the client reconnecting through
    the other node cannot subscribe again (the queue's node is down: the broker closes the
    connection, again and again) until the node returns. A client with a clean session
    (`session_expiry_s = 0`) goes on through the surviving node. Replicated sessions need quorum
    queues and a majority of nodes (docs/deployment.md; sim/rabbit_node_loss.py on three nodes)."""
    t = cluster.topics
    session = {"client_id": "tsc-city-nodeloss", "session_expiry_s": 3600.0}
    first = MqttClient(cluster.settings(CONTROLLER, node=0, **session))
    first.subscribe([t.detectors("J1")], qos=1)
    first.start()
    first.close()
    cluster.stop_node(cluster.nodes[0])
    dev = connect(clients, cluster, field_user("J1"), 1)
    blind, clean = Inbox(), Inbox()
    back = MqttClient(cluster.settings(CONTROLLER, node=1, reconnect_min_s=0.5, reconnect_max_s=0.5, **session), blind)
    clients.append(back)
    back.subscribe([t.detectors("J1")], qos=1)
    back.start(wait=False)
    fresh = {"client_id": "tsc-city-clean", "session_expiry_s": 0.0}
    connect(clients, cluster, CONTROLLER, 1, clean, [t.detectors("J1")], **fresh)
    assert dev.wait_ack(dev.publish(t.detectors("J1"), b"after the loss", qos=1)) == 0
    assert clean.wait_for(1) == [(t.detectors("J1"), b"after the loss")]
    time.sleep(2.0)
    assert back.disconnects >= 2  # cut off at every attempt to subscribe
    assert blind.messages == []

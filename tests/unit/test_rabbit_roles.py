"""sim/rabbit.py's translation of the four roles (sim.broker.acl_rules) into RabbitMQ permissions,
checked with Python's re against the routing keys RabbitMQ 3.10's MQTT plugin produces (the
cluster itself: tests/integration/test_rabbitmq_cluster.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from controller.adapters.mqtt import Topics
from controller.errors import AdapterError, ConfigError
from sim.broker import CONTROLLER, SIM, acl_rules, field_user
from sim.rabbit import amqp_key, check_junction_ids, definitions, password_hash, topic_regex

T = Topics("city")


def _defs(bind_client_ids: bool = False) -> dict:
    rules = acl_rules(T, ["J1", "J2"], ["alice"], ["wall"])
    return definitions(rules, {u: "pw-" + u for u in rules}, bind_client_ids=bind_client_ids)


def _topic_perm(defs: dict, user: str) -> dict:
    return next(p for p in defs["topic_permissions"] if p["user"] == user)


def _may(pattern: str, mqtt_topic: str) -> bool:
    """Whether a permission pattern lets a routing or binding key through (RabbitMQ: re:run)."""
    return re.search(pattern, amqp_key(mqtt_topic)) is not None


def test_password_hash_is_rabbitmqs_salted_sha256():
    salt = b"\x01\x02\x03\x04"
    raw = base64.b64decode(password_hash("secret", salt))
    assert raw == salt + hashlib.sha256(salt + b"secret").digest()
    assert password_hash("secret") != password_hash("secret")  # a fresh salt each time


def test_topic_regex_matches_topics_and_subscriptions_of_its_filter():
    one = topic_regex("tsc/v1/city/+/status")
    assert re.fullmatch(one, amqp_key(T.status("J1")))
    assert re.fullmatch(one, amqp_key("tsc/v1/city/*/status"))  # the binding key of a `+` subscription
    assert not re.fullmatch(one, amqp_key("tsc/v1/city/J1/plan"))
    assert not re.fullmatch(one, amqp_key("tsc/v1/city/a/b/status"))
    many = topic_regex("tsc/v1/city/#")
    assert re.fullmatch(many, "tsc.v1.city") and re.fullmatch(many, "tsc.v1.city.#")
    assert not re.fullmatch(many, "tsc.v1.cityx.J1")


def test_field_device_writes_and_reads_only_its_own_topics():
    perm = _topic_perm(_defs(), field_user("J1"))
    assert _may(perm["write"], T.detectors("J1")) and _may(perm["write"], T.status("J1"))
    assert not _may(perm["write"], T.detectors("J2"))
    assert not _may(perm["write"], T.plan("J1"))
    assert _may(perm["read"], T.plan("J1")) and _may(perm["read"], T.heartbeat("ctl-1"))
    assert not _may(perm["read"], T.plan("J2"))
    assert not _may(perm["read"], "tsc/v1/city/*/plan")  # no wildcard over other junctions' plans


def test_controller_operator_monitor_and_sim():
    d = _defs()
    ctl, alice, wall, sim = (_topic_perm(d, u) for u in (CONTROLLER, "alice", "wall", SIM))
    assert _may(ctl["write"], T.plan("J2")) and _may(ctl["write"], T.heartbeat("ctl-1"))
    assert _may(ctl["read"], "tsc/v1/city/*/detectors") and _may(ctl["read"], T.heartbeat("ctl-2"))
    assert not _may(ctl["write"], T.detectors("J1"))
    assert _may(alice["write"], T.override("J1", "alice")) and not _may(alice["write"], T.override("J1", "bob"))
    assert _may(alice["read"], "tsc/v1/city/#")
    assert wall["write"] == "^$" and _may(wall["read"], T.status("J2"))
    assert _may(sim["write"], T.clock) and _may(sim["read"], T.ticked) and not _may(sim["write"], T.plan("J1"))


def test_session_queues_are_bound_to_the_users_name():
    loose, bound = _defs(), _defs(bind_client_ids=True)

    def queues(defs: dict, user: str) -> str:
        return next(p for p in defs["permissions"] if p["user"] == user)["configure"]

    dev = field_user("J1")
    assert re.search(queues(bound, dev), f"mqtt-subscription-{dev}qos1")
    assert not re.search(queues(bound, dev), f"mqtt-subscription-{dev}-cityqos1")
    assert re.search(queues(loose, dev), f"mqtt-subscription-{dev}-cityqos1")
    for defs in (loose, bound):
        assert not re.search(queues(defs, "wall"), "mqtt-subscription-tsc-city-ctl-1qos1")
        assert re.search(queues(defs, CONTROLLER), "mqtt-subscription-tsc-city-ctl-1qos1")
    users = {u["name"]: u for u in loose["users"]}
    assert users[dev]["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    assert "password" not in users[dev]  # only the salted hash leaves the process


@pytest.mark.parametrize("jid", ["J.1", "*"])
def test_junction_ids_rabbitmq_cannot_route_are_refused(jid):
    with pytest.raises(AdapterError, match=re.escape(repr(jid))):
        check_junction_ids(["J0", jid])


def test_ordinary_junction_ids_pass():
    check_junction_ids(["J1", "cluster_1_2_#3more", "a/b", "-170"])


def test_region_instance_heartbeats_are_one_rabbitmq_level():
    """A region's instance name is one level for RabbitMQ too (no '.'), so the controller's
    `service/+` read covers the heartbeats the failover watches (controller/takeover.py)."""
    from controller.config import load_config
    from controller.regions import region_instance

    heartbeat = T.heartbeat(region_instance(load_config(None), "r1"))
    assert _may(_topic_perm(_defs(), CONTROLLER)["read"], heartbeat)


def test_provision_writes_a_production_clusters_files(tmp_path):
    from controller.config import load_config
    from sim.broker import TlsFiles
    from sim.rabbit import provision

    cfg = load_config(None)
    tls = TlsFiles(tmp_path / "ca.crt", tmp_path / "server.crt", tmp_path / "server.key")
    out = tmp_path / "rabbit"
    kw = {"operators": ["alice"], "monitors": ["wall"], "host": "0.0.0.0", "port": 8883, "tls": tls}
    users = provision(out, cfg, ["J1", "J2"], **kw)
    assert sorted(users) == sorted([CONTROLLER, "alice", "wall", field_user("J1"), field_user("J2")])  # no `sim`
    defs = json.loads((out / "definitions.json").read_text())
    assert {u["name"] for u in defs["users"]} == set(users)
    assert not any(users[u["name"]] in json.dumps(u) for u in defs["users"])  # hashes only
    perms = {p["user"]: p["configure"] for p in defs["permissions"]}
    assert not re.search(perms[field_user("J1")], f"mqtt-subscription-{field_user('J1')}-xqos1")  # bound
    conf = (out / "rabbitmq.conf").read_text()
    assert "mqtt.listeners.ssl.default = 0.0.0.0:8883" in conf and "mqtt.listeners.tcp = none" in conf
    assert f"mqtt.subscription_ttl = {round(cfg.broker.session_expiry_s * 1000)}" in conf
    assert "mqtt.durable_queue_type = quorum" in conf and f"load_definitions = {out / 'definitions.json'}" in conf
    assert (out / "credentials" / "alice.password").read_text().strip() == users["alice"]
    again = provision(out, cfg, ["J1", "J2", "J3"], **kw)  # a junction added: the others keep their passwords
    assert again["alice"] == users["alice"] and field_user("J3") in again
    repo = Path(__file__).resolve().parents[2]
    with pytest.raises(ConfigError, match="inside the repository"):
        provision(repo / "out" / "rabbit", cfg, ["J1"], **kw, repo_root=repo)
    with pytest.raises(AdapterError, match="cannot be one topic level"):
        provision(tmp_path / "dotted", cfg, ["J.1"], **kw)

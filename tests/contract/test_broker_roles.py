"""The four broker roles against a real Mosquitto (sim/broker.py): what each may not publish is
refused and logged, no user can take over another user's session by its client id, TLS with
throw-away certificates, and `broker-setup`'s provisioning."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from controller.adapters.mqtt import MqttClient
from controller.config import Config
from controller.errors import AdapterError, ConfigError
from sim.broker import CONTROLLER, Broker, field_user, provision, read_credentials
from tests.live_fixtures import skip_without_mosquitto, throwaway_certs, wait_until

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(30)

SITE = "t"
NOT_AUTHORISED = 135


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", SITE, ["J1", "J2"], operators=("alice", "bob")) as b:
        yield b


def connect(clients, broker, user, **kw) -> MqttClient:
    c = MqttClient(broker.settings(user, **kw))
    clients.append(c)
    return c.start()


def acks(client: MqttClient, topics: list[str]) -> list[int | None]:
    return [client.wait_ack(client.publish(t, b"{}", qos=1)) for t in topics]


def test_each_role_may_publish_only_its_own_topics(broker, clients):
    t = broker.topics
    beat = t.heartbeat("ctl-1")
    forbidden = {
        field_user("J1"): [
            t.plan("J1"),
            t.detectors("J2"),
            t.status("J2"),
            t.override("J1", field_user("J1")),
            beat,
            t.reply("alice"),
        ],
        CONTROLLER: [t.detectors("J1"), t.status("J1"), t.override("J1", CONTROLLER), t.override("J1", "alice")],
        "alice": [t.plan("J1"), t.detectors("J1"), t.status("J1"), beat, t.override("J1", "bob"), t.reply("alice")],
        "monitor": [
            t.plan("J1"),
            t.detectors("J1"),
            t.status("J1"),
            beat,
            t.override("J1", "monitor"),
            t.override("J1", "alice"),
        ],
    }
    allowed = {
        field_user("J1"): [t.detectors("J1"), t.status("J1")],
        CONTROLLER: [t.plan("J1"), beat, t.junction_table("ctl-1"), t.reply("alice")],
        "alice": [t.override("J1", "alice"), t.override("J2", "alice")],
        "monitor": [],
    }
    for user in forbidden:
        c = connect(clients, broker, user)
        assert acks(c, forbidden[user]) == [NOT_AUTHORISED] * len(forbidden[user]), user
        # 0: delivered, 16: accepted with no subscriber
        assert all(code in (0, 16) for code in acks(c, allowed[user])), user

    def denied() -> bool:  # Mosquitto writes its log in its own time: wait for the line, not 0.3 s
        log = broker.log_tail(400)
        return "Denied PUBLISH" in log and f"'{t.plan('J1')}'" in log

    assert wait_until(denied, 10)


def test_a_client_id_cannot_take_over_another_users_session(broker, clients):
    ctl = connect(clients, broker, CONTROLLER, client_id="tsc-t-ctl-1")
    intruder = connect(clients, broker, field_user("J1"), client_id="tsc-t-ctl-1")
    time.sleep(1.0)
    assert ctl.connected.is_set() and ctl.disconnects == 0
    assert intruder.connected.is_set()
    assert f"as {field_user('J1')} " in broker.log_tail(100)  # the broker named the session after the user


def test_without_the_binding_the_same_client_id_takes_the_session_over(tmp_path, clients):
    """The contrast that shows the test above can fail."""
    with Broker(tmp_path / "loose", SITE, ["J1"], bind_client_ids=False) as loose:
        ctl = connect(clients, loose, CONTROLLER, client_id="tsc-t-ctl-1", reconnect_min_s=5, reconnect_max_s=5)
        connect(clients, loose, field_user("J1"), client_id="tsc-t-ctl-1")
        deadline = time.monotonic() + 3
        while ctl.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ctl.disconnects == 1
        assert "already connected, closing old connection" in loose.log_tail(50)


def test_bad_credentials_are_refused_and_logged(broker, clients):
    from dataclasses import replace

    bad = MqttClient(replace(broker.settings(CONTROLLER), password="guess"))
    clients.append(bad)
    with pytest.raises(AdapterError):
        bad.start()
    assert wait_until(lambda: "not authorised" in broker.log_tail(50), 10)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_listener_with_throwaway_certificates(tmp_path, clients):
    tls = throwaway_certs(tmp_path / "pki")
    with Broker(tmp_path / "tls", SITE, ["J1"], tls=tls) as b:
        ctl = connect(clients, b, CONTROLLER)
        assert ctl.wait_ack(ctl.publish(b.topics.plan("J1"), b"{}", qos=1)) in (0, 16)
        # A client that does not trust the broker's CA does not connect.
        other = throwaway_certs(tmp_path / "other-pki")
        stranger = MqttClient(b.settings(CONTROLLER, ca_file=str(other.ca_file), connect_timeout_s=2))
        clients.append(stranger)
        with pytest.raises(AdapterError):
            stranger.start()
        assert not stranger.connected.is_set()
        # Nor does a client speaking plain MQTT to the TLS port.
        plain = MqttClient(b.settings(CONTROLLER, tls=False, connect_timeout_s=2))
        clients.append(plain)
        with pytest.raises(AdapterError):
            plain.start()


def test_provision_writes_files_outside_the_repo_and_keeps_passwords(tmp_path):
    repo = Path(__file__).resolve().parents[2]

    def setup(out: Path, junctions: list[str], operators: list[str], monitors: list[str]) -> Broker:
        where = {"host": "127.0.0.1", "port": 1883, "repo_root": repo}
        return provision(out, Config(), junctions, operators=operators, monitors=monitors, **where)

    with pytest.raises(ConfigError, match="inside the repository"):
        setup(repo / "out" / "broker", ["J1"], ["alice"], ["wall"])
    with pytest.raises(ConfigError, match="reserved"):
        setup(tmp_path / "b", ["J1"], ["controller"], [])
    b = setup(tmp_path / "b", ["J1"], ["alice"], ["wall"])
    creds = read_credentials(tmp_path / "b" / "credentials")
    assert set(creds) == {CONTROLLER, "alice", "wall", field_user("J1")}  # no replay clock user
    assert "user sim" not in (tmp_path / "b" / "acl").read_text()
    assert (tmp_path / "b" / "credentials" / "alice.password").stat().st_mode & 0o077 == 0
    passwd = (tmp_path / "b" / "passwd").read_text()
    assert "alice:" in passwd and creds["alice"] not in passwd  # hashed
    assert "use_username_as_clientid true" in b.conf_path.read_text()
    again = setup(tmp_path / "b", ["J1", "J2"], ["alice"], ["wall"])
    assert again.users["alice"] == creds["alice"] and field_user("J2") in again.users

"""sim/broker.py private_settings: the connection settings both private brokers (Mosquitto,
RabbitMQ) give their users, and what a caller may override. Pure: no broker process."""

from __future__ import annotations

from pathlib import Path

from sim.broker import TlsFiles, new_password, private_settings


def test_defaults_fast_reconnects_and_a_random_client_id_per_call():
    a = private_settings("127.0.0.1", 1883, "alice", "pw", None, None, {})
    b = private_settings("127.0.0.1", 1883, "alice", "pw", None, None, {})
    assert (a.host, a.port, a.username, a.password, a.tls) == ("127.0.0.1", 1883, "alice", "pw", False)
    assert (a.reconnect_min_s, a.reconnect_max_s) == (0.2, 2.0)
    assert a.client_id.startswith("alice-") and a.client_id != b.client_id
    assert private_settings("h", 1, "alice", "pw", "mine", None, {}).client_id == "mine"


def test_tls_uses_the_brokers_ca_and_overrides_win():
    tls = TlsFiles(Path("/x/ca.pem"), Path("/x/cert.pem"), Path("/x/key.pem"))
    s = private_settings("h", 8883, "u", "pw", None, tls, {"reconnect_min_s": 10.0, "protocol": "3.1.1"})
    assert (s.tls, s.ca_file, s.reconnect_min_s, s.protocol) == (True, "/x/ca.pem", 10.0, "3.1.1")
    assert private_settings("h", 8883, "u", "pw", None, tls, {"tls": False}).tls is False


def test_passwords_are_fresh_and_long():
    pws = {new_password() for _ in range(50)}
    assert len(pws) == 50 and min(len(p) for p in pws) >= 24

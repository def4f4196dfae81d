"""The operators' console offline: plan files, the status table, command-line options and
credentials (controller/ctl.py, controller/liveopts.py, controller/adapters/credentials.py)."""

from __future__ import annotations

import argparse
import json

import pytest

from controller import ctl, liveopts
from controller.adapters.credentials import env_name, password_for
from controller.config import Config
from controller.core.override import encode_override
from controller.errors import ConfigError


def test_plan_files_in_toml_or_json_and_errors_name_file_and_field(tmp_path):
    toml = tmp_path / "p.toml"
    toml.write_text("phase_order = [0, 2]\ngreens_s = [20, 25.5]\noffset_s = 4\n")
    assert ctl.read_plan(toml) == ((0, 2), (20.0, 25.5), 4.0)
    js = tmp_path / "p.json"
    js.write_text('{"phase_order": [1, 0], "greens_s": [10, 12]}')
    assert ctl.read_plan(js) == ((1, 0), (10.0, 12.0), 0.0)
    for text, field in [
        ("phase_order = [0, 1]\ngreens_s = [20]\n", "greens_s"),
        ('phase_order = ["a"]\ngreens_s = [20]\n', "phase_order"),
        ("phase_order = [0]\ngreens_s = [true]\n", "greens_s"),
        ("phase_order = [0]\ngreens_s = [9]\noffset_s = 'x'\n", "offset_s"),
        ("phase_order = [0\n", "-"),
    ]:
        toml.write_text(text)
        with pytest.raises(ConfigError) as err:
            ctl.read_plan(toml)
        assert err.value.path == str(toml) and err.value.field == field
    with pytest.raises(ConfigError, match="cannot read"):
        ctl.read_plan(tmp_path / "missing.toml")


def test_a_json_plan_file_or_message_that_does_not_read_is_named_not_raised(tmp_path):
    """Not JSON, or nested past the json module's depth (core/jsonread.py): a ConfigError naming the
    file; a message on the broker that does not read is None, as any malformed one is."""
    js = tmp_path / "p.json"
    for text, detail in [
        ("{not json", "malformed: Expecting"),
        ("[" * 1100 + "]" * 1100, "malformed: nested too deep"),
    ]:
        js.write_text(text)
        with pytest.raises(ConfigError, match=detail) as err:
            ctl.read_plan(js)
        assert err.value.path == str(js) and err.value.field == "-"
    for text in ("[1, 2]", "7", "null"):  # JSON, not an object
        js.write_text(text)
        with pytest.raises(ConfigError, match="must be an object") as err:
            ctl.read_plan(js)
        assert err.value.path == str(js) and err.value.field == "-"
    assert ctl._json(b"[" * 1100 + b"]" * 1100) is None and ctl._json(b"{x") is None
    assert ctl._json(b'{"a":1}') == {"a": 1}


def test_status_table_merges_service_table_and_roadside_statuses():
    snap = {
        "heartbeat": {"instance": "ctl-1", "state": "online", "policy": "adaptive", "stale": 1},
        "table": {
            "junctions": {
                "J1": {
                    "mode": "manual",
                    "why": "x",
                    "override": {"operator": "alice", "action": "hold", "until": 150.0},
                    "queue_pcu": 3.25,
                    "delay_s_pcu": 12.0,
                    "feed_age_s": 0.5,
                    "faults": [],
                },
                "J2": {
                    "mode": "fallback",
                    "why": "no fresh detector feed",
                    "queue_pcu": 0.0,
                    "delay_s_pcu": None,
                    "feed_age_s": 31.0,
                    "faults": ["detector J2_N_stop faulty"],
                },
                "J3": {"mode": "refused", "why": "one distinct green stage"},
            }
        },
        "statuses": {
            "J1": {
                "junction": "J1",
                "phase": 2,
                "in_intergreen": True,
                "plan_id": "J1-manual-alice-r",
                "mode": "adaptive",
                "faults": [],
            }
        },
    }
    text = ctl.format_status(snap, now_s=100.0)
    lines = text.splitlines()
    assert lines[0] == "service ctl-1: online, policy adaptive, 1 stale"
    j1 = next(line for line in lines if line.startswith("J1"))
    assert "manual (alice's hold, 50 s left)" in j1 and "J1-manual-alice-r [adaptive]" in j1 and "2 (intergreen)" in j1
    j2 = next(line for line in lines if line.startswith("J2"))
    assert "fallback (no fresh detector feed)" in j2 and "detector J2_N_stop faulty" in j2 and "31.0" in j2
    assert "refused (one distinct green stage)" in text
    assert "(no junction J9)" in ctl.format_status(snap, 100.0, junction="J9")
    offline = ctl.format_status({"heartbeat": None, "table": None, "statuses": snap["statuses"]}, 100.0)
    assert "is the service running?" in offline and "J1" in offline


def test_command_line_overrides_and_their_errors(tmp_path, monkeypatch):
    (tmp_path / "controller.password").write_text("s3cret\n")
    args = argparse.Namespace(broker="10.0.0.5:8883", credentials=tmp_path, speed=4.0)
    cfg = liveopts.apply(Config(), args, user="controller")
    assert (cfg.broker.host, cfg.broker.port, cfg.broker.password) == ("10.0.0.5", 8883, "s3cret")
    assert cfg.service.realtime_factor == pytest.approx(0.25)
    for bad in ("nohost", "h:0", "h:x", ":1883"):
        with pytest.raises(ConfigError, match="HOST:PORT"):
            liveopts.apply(Config(), argparse.Namespace(broker=bad))
    with pytest.raises(ConfigError, match="must be > 0"):
        liveopts.apply(Config(), argparse.Namespace(speed=0.0))


def test_passwords_from_a_file_then_the_environment_never_silently_empty(tmp_path, monkeypatch):
    assert env_name("field-J12") == "TSC_MQTT_PASSWORD_FIELD_J12"
    monkeypatch.setenv("TSC_MQTT_PASSWORD_ALICE", "from-env")
    assert password_for("alice", None) == "from-env"
    (tmp_path / "alice.password").write_text("from-file\n")
    assert password_for("alice", tmp_path) == "from-file"
    monkeypatch.delenv("TSC_MQTT_PASSWORD_ALICE")
    with pytest.raises(ConfigError) as err:
        password_for("bob", tmp_path)
    assert "bob.password" in str(err.value) and "TSC_MQTT_PASSWORD_BOB" in str(err.value)
    with pytest.raises(ConfigError) as err:  # no folder: says what to set, not "neither $X is set"
        password_for("bob", None)
    assert str(err.value) == (
        "<environment>: bob: no password: $TSC_MQTT_PASSWORD_BOB is not set (or give --credentials DIR)"
    )


def _override_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ctl.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["ctl", "override", *argv])


def test_a_forced_plan_carries_its_reason_and_force_needs_one(tmp_path):
    plan = tmp_path / "p.toml"
    plan.write_text("phase_order = [0, 1]\ngreens_s = [25, 30]\n")
    req = ctl.request(_override_args("J1", "--plan", str(plan), "--force", "--reason", " stadium exit "), 5.0)
    assert req.force_reason == "stadium exit" and req.greens_s == (25.0, 30.0)
    body = json.loads(encode_override(req))
    assert body["force"] is True and body["reason"] == "stadium exit"
    plain = ctl.request(_override_args("J1", "--plan", str(plan)), 5.0)
    assert plain.force_reason == "" and "force" not in json.loads(encode_override(plain))
    for argv, rule in (
        (("--force",), "needs a stated reason"),
        (("--force", "--reason", "  "), "needs a stated"),
        (("--reason", "why"), "goes with --force"),
        (("--force", "--reason", "x" * 201), "201 characters"),
    ):
        with pytest.raises(ConfigError, match=rule) as err:
            ctl.request(_override_args("J1", "--plan", str(plan), *argv), 5.0)
        assert "--reason" in str(err.value)
    with pytest.raises(ConfigError, match="go with --plan only"):
        ctl.request(_override_args("J1", "--hold-phase", "1", "--force", "--reason", "why"), 5.0)

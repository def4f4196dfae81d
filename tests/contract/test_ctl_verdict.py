"""`ctl override --plan` with the validation gate on, through a real Mosquitto: ctl waits past
the service's `validating` answer for the verdict with the same id (exit 1 and the figures when
rejected), gives up with exit 3 "no verdict" after --verdict-timeout, and `--force --reason`
puts a rejected plan in force with the reason in the audit store. The twin is the stand-in of
tests/twin_fakes.py in the gate's real worker process."""

from __future__ import annotations

import argparse
import threading
import time

import pytest

from controller import ctl
from controller.adapters.audit import AuditStore
from controller.adapters.mqtt import MqttClient
from controller.core.messages import encode_status
from controller.core.validation import ValidationParams
from controller.live import ServiceNode
from controller.model import SignalStatus
from controller.validation import AUDIT_KIND, DeskValidation, ValidationGate
from sim.broker import CONTROLLER, Broker, field_user
from tests import twin_fakes
from tests.live_fixtures import skip_without_mosquitto
from tests.service_fixtures import CFG, JUNCTIONS, SITE, feed

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(60)

BAD, SLOW = (7.0, 50.0), (30.0, 30.0)


def make_request(j, candidate, incumbent, queues_pcu, now_s):
    worse = candidate.greens_s == BAD
    return {
        "incumbent": {j.id: 1000.0},
        "candidate": {j.id: 3000.0 if worse else 900.0},
        "sleep_s": 5.0 if candidate.greens_s == SLOW else 0.0,
    }


def run_service(broker, node, stop: threading.Event) -> None:
    """The field (J1) and the service on the wall clock, as ctl stamps its overrides."""
    dev = MqttClient(broker.settings(field_user("J1")), lambda topic, payload: None)
    dev.start()
    try:
        while not stop.is_set():
            t = time.time()
            dev.publish(broker.topics.detectors("J1"), feed("J1", t, cars=2), qos=1)
            dev.publish(
                broker.topics.status("J1"),
                encode_status(SignalStatus("J1", t, 0, False, 5.0, "local", 0, "local")),
                qos=1,
                retain=True,
            )
            time.sleep(0.1)
            node.tick(time.time())
            time.sleep(0.1)
    finally:
        dev.close(flush_s=0.2)


def ctl_main(broker, creds, plan, *extra: str) -> int:
    parser = argparse.ArgumentParser()
    ctl.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "ctl",
            "--user",
            "alice",
            "--timeout",
            "5",
            "--broker",
            f"{broker.host}:{broker.port}",
            "--credentials",
            str(creds),
            "override",
            "J1",
            "--plan",
            str(plan),
            *extra,
        ]
    )
    return ctl.main(args, CFG)


def test_ctl_waits_for_the_verdict_gives_up_after_its_timeout_and_forces_with_a_reason(tmp_path, capsys):
    audit = AuditStore(tmp_path / "audit.sqlite")
    gate = ValidationGate(ValidationParams(enabled=True, timeout_s=20.0), twin_fakes.predict_slowly, audit=audit)
    plans = {}
    for name, greens in (("bad", BAD), ("good", (25.0, 30.0)), ("slow", SLOW)):
        plans[name] = tmp_path / f"{name}.toml"
        plans[name].write_text(f"phase_order = [0, 1]\ngreens_s = [{greens[0]}, {greens[1]}]\n")
    with Broker(tmp_path / "broker", SITE, JUNCTIONS, operators=("alice",)) as broker:
        creds = broker.write_credentials()
        node = ServiceNode(CFG, JUNCTIONS, broker.settings(CONTROLLER), start_s=time.time(), audit=audit).start()
        node.desk.validation = DeskValidation(gate, make_request)
        stop = threading.Event()
        service = threading.Thread(target=run_service, args=(broker, node, stop), daemon=True)
        service.start()
        try:
            assert ctl_main(broker, creds, plans["bad"], "--verdict-timeout", "15") == 1
            out = capsys.readouterr().out
            assert "REFUSED" in out and "rejected by the validation gate" in out and "3000 veh-s" in out
            assert ctl_main(broker, creds, plans["good"], "--verdict-timeout", "15") == 0
            assert "accepted" in capsys.readouterr().out
            assert ctl_main(broker, creds, plans["slow"], "--verdict-timeout", "1") == 3
            assert "no verdict within 1 s" in capsys.readouterr().err
            assert ctl_main(broker, creds, plans["bad"], "--force", "--reason", "stadium exit") == 0
            assert "accepted" in capsys.readouterr().out
        finally:
            stop.set()
            service.join(timeout=10)
            node.close()
    forced = [r for r in audit.query(kind=AUDIT_KIND) if r.payload["outcome"] == "forced"]
    assert [r.payload["force_reason"] for r in forced] == ["stadium exit"]

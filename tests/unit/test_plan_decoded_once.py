"""A replay's field reads each plan message once (sim/mqtt_run.py `_collect_plan`): the roadside
gets that decode with the bytes (PlanGuard.admit `decoded`) and checks the signature on the bytes
itself; an unreadable plan, or another junction's, is still counted and named as before."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

import controller.roadside_agent as roadside_agent
import sim.mqtt_run as mqtt_run
from controller.core.messages import decode_plan, encode_command
from controller.core.signing import Keyring
from controller.model import PhaseCommand
from sim.mqtt_run import MqttLoop
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase

RING = Keyring.from_masters({"k1": b"\x01" * 32})


def signed(seq: int, t: float = 0.0) -> bytes:
    return encode_command(PhaseCommand("J", f"p{seq}", seq, 1, 5.0, t, t + 20.0), 7, RING.sign)


def field_loop() -> tuple[MqttLoop, RoadsideController]:
    """The field's side of a lockstep MqttLoop (no broker): its books, one roadside `J`."""
    rc = RoadsideController(two_phase(), backup_s=30.0, keys=RING.for_junction("J"))
    loop = MqttLoop.__new__(MqttLoop)
    loop._field_books(0.0)
    loop.field = SimpleNamespace(roadside={"J": rc}, refusals=0)  # type: ignore[assignment]
    loop.offset_s = 0.0
    return loop, rc


def counting(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every decode_plan call of the field and the roadside, by payload."""
    calls: list[bytes] = []

    def counted(payload: bytes):
        calls.append(payload)
        return decode_plan(payload)

    monkeypatch.setattr(mqtt_run, "decode_plan", counted)
    monkeypatch.setattr(roadside_agent, "decode_plan", counted)
    return calls


def test_a_plan_is_decoded_once_between_the_field_and_its_roadside(monkeypatch):
    calls = counting(monkeypatch)
    loop, rc = field_loop()
    payload = signed(3)
    loop._collect_plan("J", payload)
    loop._apply("J", 3, loop._plans.pop(("J", 3)), 0.0)
    assert calls == [payload]
    assert (rc.epoch, rc.last_seq, rc.plan.phase, loop.plans_applied, loop.field.refusals) == (7, 3, 1, 1, 0)


def test_the_roadside_checks_the_bytes_not_the_decode_it_is_handed():
    rc = RoadsideController(two_phase(), backup_s=30.0, keys=RING.for_junction("J"))
    good = signed(3)
    tampered = good.replace(b'"hold_s":5.0', b'"hold_s":9.0')
    assert tampered != good
    assert rc.receive_message(tampered, 0.0, decoded=decode_plan(good)) == "bad signature"
    assert rc.plan is None or rc.last_seq != 3


def test_an_unreadable_plan_is_counted_and_named_and_never_reaches_the_roadside(caplog):
    loop, rc = field_loop()
    with caplog.at_level(logging.WARNING, logger="sim.mqtt_run"):
        loop._collect_plan("J", b'{"v":1,"junction":"J"')
    assert (loop.plans_bad, loop.plans_received, loop._plans) == (1, 0, {})
    assert "field J: unreadable plan dropped: " in caplog.text
    loop._collect_plan("K", signed(4))  # J's plan on K's device
    assert (loop.plans_bad, loop.plans_received, loop._plans) == (2, 0, {})
    assert (rc.plan, rc.last_seq) == (None, -1)

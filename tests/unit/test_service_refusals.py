"""The service asks the policy, junction by junction, whether it can serve it, before the run."""

from __future__ import annotations

import logging
from dataclasses import replace

from controller.config import Config
from controller.core.messages import encode_detector_message, encode_status
from controller.model import SignalStatus
from controller.service import ControllerService
from tests.junction_fixtures import one_stage, two_phase

CFG = Config()


def junctions():
    return {"J": two_phase(), "S": replace(one_stage(), id="S")}


def feed(svc: ControllerService, jid: str, t: float) -> None:
    dets = {d.id: ({"car": 1}, 0.2, 5.0) for d in svc.junctions[jid].detectors}
    svc.on_detectors(encode_detector_message(jid, t, 1.0, dets))
    svc.on_status(encode_status(SignalStatus(jid, t, 0, False, t, "local", 0, "local")))


def test_a_refused_junction_is_named_logged_and_left_on_its_own_program(caplog):
    sent = []
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        svc = ControllerService(junctions(), CFG, "adaptive", publish=lambda cmd, payload: sent.append(cmd))
    assert set(svc.refused) == {"S"} and "one distinct green stage" in svc.refused["S"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "junction=S" in lines[0] and "policy=adaptive" in lines[0]
    assert set(svc.core.layouts) == {"J"}
    for t in range(1, 40):
        feed(svc, "J", float(t))
        feed(svc, "S", float(t))  # its feed is still valid: not rejected
        svc.tick(float(t))
    assert not svc.rejected
    assert sent and {c.junction for c in sent} == {"J"}


def test_fixed_refuses_nothing():
    svc = ControllerService(junctions(), CFG, "fixed", publish=lambda cmd, payload: None)
    assert svc.refused == {} and set(svc.core.layouts) == {"J", "S"}


def test_a_served_junction_without_roadside_status_is_named_once(caplog):
    svc = ControllerService(
        {"J": two_phase(), "K": replace(two_phase(), id="K")}, CFG, "adaptive", publish=lambda cmd, payload: None
    )
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        for t in range(1, 80):
            feed(svc, "J", float(t))
            svc.tick(float(t))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "junction=K no roadside status" in lines[0]


def test_a_roadside_stuck_outside_the_models_stages_is_named_once(caplog):
    svc = ControllerService({"J": two_phase()}, CFG, "scats", publish=lambda cmd, payload: None)
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        for t in range(1, 200):
            dets = {d.id: ({}, 0.0, -1.0) for d in svc.junctions["J"].detectors}
            svc.on_detectors(encode_detector_message("J", float(t), 1.0, dets))
            svc.on_status(encode_status(SignalStatus("J", float(t), 0, True, float(t), "local", 0, "local")))
            svc.tick(float(t))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "junction=J roadside in an intergreen" in lines[0]


def test_many_junctions_without_roadside_status_are_counted_in_one_line(caplog):
    models = {f"J{i:02d}": replace(two_phase(), id=f"J{i:02d}") for i in range(12)}
    svc = ControllerService(models, CFG, "adaptive", publish=lambda cmd, payload: None)
    with caplog.at_level(logging.DEBUG, logger="controller.service"):
        for t in range(1, 80):
            svc.tick(float(t))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    debugs = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG and "no roadside" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("12 junctions have no roadside status 30 s after start")
    assert len(debugs) == 12 and debugs[0].startswith("junction=J00 no roadside status")

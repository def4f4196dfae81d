"""Learnt state survives a restart (issue 11): a ServiceNode fed over a real Mosquitto learns a
saturation flow, checkpoints it to its audit store (periodically and at a clean close); a new
node on the same store starts with that learnt saturation flow before its first tick. A
checkpoint it cannot read is logged and the run starts fresh."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest

from controller.adapters import checkpoints
from controller.adapters.audit import AuditStore
from controller.adapters.mqtt import MqttClient
from controller.adapters.trust import Trust
from controller.config import AuditConfig, Config, ServiceConfig
from controller.core.messages import encode_detector_message, encode_status
from controller.live import ServiceNode
from controller.model import SignalStatus
from sim.broker import CONTROLLER, Broker, field_user
from tests.live_fixtures import cross, skip_without_mosquitto
from tests.service_fixtures import deliver

skip_without_mosquitto()

pytestmark = pytest.mark.timeout(40)
SITE = "ck"
JUNCTIONS = {"J1": cross("J1")}
CFG = Config(service=ServiceConfig(site=SITE, policy="webster"), audit=AuditConfig(path="", checkpoint_s=20.0))


def _saturated_feed(t_s: float) -> bytes:
    """Twice as many cars over the advance loops as over the stop lines: a queue builds, and the
    stop lines discharge at 3600 veh/h, above the prior (the estimate is capped at 1.25 x prior)."""
    dets = {d.id: ({"car": 2 if d.kind == "advance" else 1}, 0.3, 8.0) for d in JUNCTIONS["J1"].detectors}
    return encode_detector_message("J1", t_s, 1.0, dets)


def _green_ns(t_s: float) -> bytes:
    return encode_status(
        SignalStatus("J1", t_s, phase=0, in_intergreen=False, time_in_phase_s=t_s, plan_id="local", seq=0, mode="local")
    )


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", SITE, JUNCTIONS) as b:
        yield b


def _node(broker: Broker, path, epoch: int, start_s: float) -> ServiceNode:
    return ServiceNode(
        CFG, JUNCTIONS, broker.settings(CONTROLLER), start_s=start_s, trust=Trust(epoch, None, AuditStore(path))
    ).start()


def test_a_new_node_on_the_same_store_resumes_the_learnt_saturation_flow(broker, tmp_path):
    path = tmp_path / "audit.sqlite"
    field = MqttClient(broker.settings(field_user("J1"))).start()
    first = _node(broker, path, 1, 0.0)
    try:
        prior = first.service.state.junctions["J1"].estimate.sat_flow_pcu_h.copy()
        for t in range(1, 31):
            deliver(first, field, broker.topics.status("J1"), _green_ns(float(t)))
            deliver(first, field, broker.topics.detectors("J1"), _saturated_feed(float(t)))
            first.tick(float(t))
        learnt = first.service.state.junctions["J1"].estimate.sat_flow_pcu_h.copy()
        assert learnt[0] > prior[0] * 1.1  # N/S green: learnt above the prior
        periodic = AuditStore(path).query(kind="checkpoint")
        assert [r.t_s for r in periodic] == [20.0]  # every checkpoint_s (20 s) of service time
        assert periodic[0].actor == "controller/ctl-1" and periodic[0].payload["site"] == SITE
        first.close()  # clean stop: one more checkpoint, of the state at t = 30
        assert [r.t_s for r in AuditStore(path).query(kind="checkpoint")] == [20.0, 30.0]
        second = _node(broker, path, 2, 31.0)
        try:
            resumed = second.service.state.junctions["J1"].estimate
            np.testing.assert_allclose(resumed.sat_flow_pcu_h, learnt)
            old_lanes = first.service.state.junctions["J1"].estimate.lanes
            np.testing.assert_allclose(resumed.lanes.sat_s, old_lanes.sat_s)
            np.testing.assert_allclose(resumed.lanes.sat_pcu, old_lanes.sat_pcu)
        finally:
            second.close()
    finally:
        field.close()


def test_an_unreadable_checkpoint_is_logged_and_the_run_starts_fresh(broker, tmp_path, caplog):
    path = tmp_path / "audit.sqlite"
    store = AuditStore(path)
    checkpoints.save(store, SITE, "ctl-0", {"format": "tsc-learnt-state", "version": 99}, 5.0)
    checkpoints.save(store, "elsewhere", "ctl-9", {"garbage": True}, 6.0)  # another site's: not read
    store.close()
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        node = _node(broker, path, 1, 0.0)
    try:
        est = node.service.state.junctions["J1"].estimate
        np.testing.assert_array_equal(est.sat_flow_pcu_h, node.service.core.layouts["J1"].sat_flow_pcu_h)
        assert "version 99 is not supported" in caplog.text and "starts fresh" in caplog.text
    finally:
        node.close()


def test_checkpoint_s_zero_writes_none(broker, tmp_path):
    path = tmp_path / "audit.sqlite"
    cfg = replace(CFG, audit=AuditConfig(path="", checkpoint_s=0.0))
    node = ServiceNode(
        cfg, JUNCTIONS, broker.settings(CONTROLLER), start_s=0.0, trust=Trust(1, None, AuditStore(path))
    ).start()
    for t in range(1, 26):  # past the 20 s that CFG would checkpoint at
        node.tick(float(t))
    node.close()
    assert AuditStore(path).query(kind="checkpoint") == []

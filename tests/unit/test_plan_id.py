"""A junction whose SUMO id is longer than a plan id may be (a joined cluster) is controlled:
the plans the service sends carry ids the roadside can echo, and the echoed status is accepted."""

from __future__ import annotations

import logging

from controller.config import Config
from controller.core.feed import MAX_PLAN_ID_CHARS
from controller.core.messages import encode_detector_message, encode_status
from controller.model import SignalStatus
from controller.service import ControllerService
from tests.junction_fixtures import two_phase_as

LONG_ID = "cluster_" + "_".join(str(1200363791 + i) for i in range(16))


def test_a_long_junction_id_gets_plans_whose_echo_is_accepted(caplog):
    j = two_phase_as(LONG_ID)
    sent: list = []
    svc = ControllerService({LONG_ID: j}, Config(), "adaptive", publish=lambda cmd, p: sent.append(cmd))
    plan_id = "local"
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        for t in range(1, 40):
            svc.advance_clock(float(t))
            loops = {d.id: ({"car": 1}, 0.3, 5.0) for d in j.detectors}
            svc.on_detectors(encode_detector_message(LONG_ID, float(t), 1.0, loops))
            svc.on_status(encode_status(SignalStatus(LONG_ID, float(t), 0, False, float(t), plan_id, 0, "adaptive")))
            svc.tick(float(t))
            plan_id = sent[-1].plan_id if sent else plan_id
    assert len(LONG_ID) > MAX_PLAN_ID_CHARS
    assert sent and all(len(c.plan_id) <= MAX_PLAN_ID_CHARS for c in sent)
    assert plan_id != "local"
    assert not [r for r in caplog.records if "dropped" in r.getMessage()], caplog.text

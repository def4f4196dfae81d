"""The policy in force validated again (controller/revalidation.py through the operators' desk):
on the schedule of [validation] revalidate_s and on a demand shift; a rejection puts the region
on its fixed plan (the base program, through the safety gate), a later pass gives it back to the
policy. The twin is the stand-in of tests/twin_fakes.py in the gate's real worker process."""

from __future__ import annotations

import json
import time

import pytest

from controller.adapters.audit import AuditStore
from controller.config import Config
from controller.core.messages import encode_detector_message, encode_status
from controller.core.validation import PolicyChoice, ValidationParams
from controller.model import CyclePlan, SignalStatus
from controller.operators import OperatorDesk
from controller.revalidation import Revalidation, base_plan
from controller.service import ControllerService
from controller.validation import AUDIT_KIND, DeskValidation, ValidationGate
from tests import twin_fakes
from tests.junction_fixtures import two_phase

pytestmark = pytest.mark.slow  # the gate's real worker process, a spawn per verdict

CFG = Config()


class Rig:
    def __init__(self, revalidate_s: float, shift: float = 0.0) -> None:
        self.sent: list = []
        self.bad = True
        self.asked: list[tuple[PolicyChoice, PolicyChoice]] = []
        self.audit = AuditStore(":memory:")
        params = ValidationParams(enabled=True, timeout_s=20.0, revalidate_s=revalidate_s, revalidate_shift=shift)
        gate = ValidationGate(
            params, twin_fakes.predict_from_request, audit=self.audit, predict_policy=twin_fakes.predict_from_request
        )
        self.desk = OperatorDesk(
            CFG.operators,
            ttl_s=CFG.roadside.plan_ttl_s,
            refresh_s=CFG.roadside.refresh_s,
            audit=self.audit,
            reply=lambda op, p: json.loads(p),
            validation=DeskValidation(gate, lambda *a: None, self.make_policy_request),
        )
        self.svc = ControllerService(
            {"J": two_phase()}, CFG, "max_pressure", publish=lambda c, p: self.sent.append(c), desk=self.desk
        )
        self.desk.bind_policy(self.svc.set_policy, CFG, "max_pressure")
        self.t = 0.0

    def make_policy_request(self, jid, candidate, incumbent, queues_pcu, now_s):
        self.asked.append((candidate, incumbent))
        return {"incumbent": {jid: 1000.0}, "candidate": {jid: 3000.0 if self.bad else 900.0}}

    def tick(self, cars: int = 1) -> None:
        self.t += 1.0
        j = self.svc.junctions["J"]
        self.svc.advance_clock(self.t)
        self.svc.on_detectors(
            encode_detector_message("J", self.t, 1.0, {d.id: ({"car": cars}, 0.3, 5.0) for d in j.detectors})
        )
        self.svc.on_status(encode_status(SignalStatus("J", self.t, 0, False, self.t, "p", 0, "adaptive")))
        self.svc.tick(self.t)

    def until(self, pred, cars: int = 1) -> None:
        deadline = time.monotonic() + 30.0
        while not pred() and time.monotonic() < deadline:
            self.tick(cars)
            time.sleep(0.02)
        assert pred()

    def verdicts(self) -> list[str]:
        return [r.payload["outcome"] for r in self.audit.query(kind=AUDIT_KIND) if r.actor == "revalidation"]


def test_a_scheduled_check_that_fails_puts_the_fixed_plan_in_force_and_a_pass_gives_it_back():
    rig = Rig(revalidate_s=5.0)
    for _ in range(4):
        rig.tick()
    assert rig.verdicts() == []  # not due before revalidate_s
    rig.until(lambda: rig.verdicts() == ["rejected"])
    rig.bad = False  # the next check (due at once: the twin took longer than revalidate_s) passes
    assert rig.asked[0] == (PolicyChoice("max_pressure"), PolicyChoice("fixed"))
    ov = rig.desk.active["J"]
    assert ov.operator == "revalidation" and ov.wish == base_plan(rig.svc.junctions["J"])
    assert ov.until_s - ov.since_s == 5.0
    fixed = [c for c in rig.sent if isinstance(c, CyclePlan) and "manual-revalidation" in c.plan_id]
    assert fixed and fixed[-1].greens_s == (30.0, 25.0)  # the base program, sent to the roadside
    rig.until(lambda: rig.verdicts()[:2] == ["rejected", "passed"])
    assert "J" not in rig.desk.active


class Measured(Revalidation):
    """The region's measured demand set by the test (the do-no-harm replay's, in the service)."""

    pcu_h = 0.0

    def demand_pcu_h(self, core, state, jid) -> float:
        return self.pcu_h


def test_a_demand_shift_is_due_before_the_schedule():
    rig = Rig(revalidate_s=0.0, shift=0.3)
    reval = Measured(rig.desk.validation)
    core, state, window_s = rig.svc.core, rig.svc.state, rig.svc.core.harm.window_s

    def due(pcu_h: float, now_s: float):
        reval.pcu_h = pcu_h
        return reval.due(core, state, now_s)

    assert due(50.0, 0.0) is None
    assert due(1000.0, 100.0) is None  # the replay's window is still filling
    assert due(1000.0, window_s) is None  # the reference is taken here
    assert due(1250.0, window_s + 10.0) is None  # +25 %: below the threshold
    assert due(1400.0, window_s + 20.0) == ("J", "demand 1000 -> 1400 PCU/h since the last check")
    assert due(700.0, window_s + 20.0) is None and due(650.0, window_s + 20.0) is not None  # -35 %

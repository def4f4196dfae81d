"""The validation gate in front of an operator's manual plan (controller/operators.py with a
DeskValidation): the plan goes in force only once the twin passes it; a rejected one is never
sent to the roadside unless the operator forces it with a reason, which is recorded. The twin is
a stand-in (tests/twin_fakes.py) run in the gate's real worker process."""

from __future__ import annotations

import json

from controller.config import Config
from controller.core.override import OverrideRequest, encode_override
from controller.core.validation import ValidationParams
from controller.model import CyclePlan
from controller.validation import AUDIT_KIND, DeskValidation, ValidationGate
from tests import twin_fakes
from tests.desk_rig import OPERATOR, DeskRig

CFG = Config()
BAD = (7.0, 50.0)  # the stand-in twin predicts these greens far worse than the plan in force


def make_request(j, candidate, incumbent, queues_pcu, now_s):
    assert set(queues_pcu) == {"eN_0", "eE_0", "eS_0", "eW_0"}
    worse = candidate.greens_s == BAD
    return {"incumbent": {j.id: 1000.0}, "candidate": {j.id: 2000.0 if worse else 950.0}}


class Rig(DeskRig):
    def __init__(self) -> None:
        super().__init__(lambda gate: DeskValidation(gate, make_request), CFG)

    def submit(self, greens, rid: str, **extra) -> dict:
        req = OverrideRequest("J", OPERATOR, "plan", rid, self.t, for_s=300.0, phase_order=(0, 1), greens_s=greens)
        return self.submit_body({**json.loads(encode_override(req)), **extra})

    def manual_plans(self, greens) -> list:
        return [c for c in self.sent if isinstance(c, CyclePlan) and c.greens_s == greens and "manual" in c.plan_id]


def test_a_plan_the_twin_rejects_is_answered_with_figures_and_never_sent():
    rig = Rig()
    rig.tick()
    first = rig.submit(BAD, "r1")
    assert not first["accepted"] and first["reason"].startswith("validating in the SUMO twin")
    assert first["validating"] is True  # ctl waits for the verdict that follows
    final = rig.verdict("r1")
    assert not final["accepted"] and "rejected by the validation gate" in final["reason"]
    assert "validating" not in final
    assert "2000 veh-s" in final["reason"] and "force" in final["reason"]
    for _ in range(5):
        rig.tick()
    assert rig.manual_plans(BAD) == [] and "J" not in rig.desk.active
    (rec,) = rig.audit.query(kind=AUDIT_KIND)
    assert (rec.actor, rec.payload["outcome"]) == ("alice", "rejected")


def test_a_plan_the_twin_passes_goes_in_force():
    rig = Rig()
    rig.tick()
    rig.submit((25.0, 30.0), "r2")
    assert rig.manual_plans((25.0, 30.0)) == []  # not before the verdict
    final = rig.verdict("r2")
    assert final["accepted"] and "validated in the twin" in final["reason"]
    rig.tick()
    assert rig.manual_plans((25.0, 30.0)) and rig.desk.active["J"].until_s > rig.t + 290
    ops = [r.payload["accepted"] for r in rig.audit.query(kind="operator")]
    assert ops == [False, True]  # the 'validating' answer, then the plan in force


def test_a_rejected_plan_forced_with_a_reason_goes_in_force_and_is_recorded():
    rig = Rig()
    rig.tick()
    rig.submit(BAD, "r1")
    rig.verdict("r1")
    no_reason = rig.submit(BAD, "r3", force=True)  # force without a reason is no force
    assert no_reason["reason"].startswith("validating")
    rig.verdict("r3")
    forced = rig.submit(BAD, "r4", force=True, reason="stadium exit, police directing")
    assert forced["accepted"]
    rig.tick()
    assert rig.manual_plans(BAD)
    rec = rig.audit.query(kind=AUDIT_KIND)[-1]
    assert rec.payload["outcome"] == "forced" and rec.payload["overrides"] == "rejected"
    assert rec.payload["force_reason"] == "stadium exit, police directing"


def test_a_junction_the_twin_cannot_model_stays_off_manual():
    rig = Rig()
    rig.tick()
    rig.submit((99.0, 99.0), "r5")  # the override rules (the safety gate) come before the twin
    assert "max green" in rig.replies[-1]["reason"] and not rig.desk.validating
    rig.desk.validation = DeskValidation(rig.desk.validation.gate, lambda *a: (_ for _ in ()).throw(OSError("x")))
    rig.submit((25.0, 30.0), "r6")
    final = rig.verdict("r6")
    assert not final["accepted"] and "unvalidated" in final["reason"] and "no twin request" in final["reason"]
    assert "J" not in rig.desk.active


def test_a_newer_override_supersedes_a_plan_being_validated_and_stops_its_twin():
    rig = Rig()
    rig.desk.validation = DeskValidation(
        ValidationGate(ValidationParams(timeout_s=20.0), twin_fakes.predict_slowly, audit=rig.audit),
        lambda j, c, i, q, now: {"sleep_s": 60, "incumbent": {}, "candidate": {}},
    )
    rig.tick()
    rig.submit((25.0, 30.0), "r7")
    rig.tick()  # the twin starts
    pending = rig.desk.validating["J"].pending
    assert pending is not None and pending.process.is_alive()
    rig.desk.submit(
        encode_override(OverrideRequest("J", "alice", "release", "r8", rig.t)), "alice", "J", rig.svc.core, rig.t
    )
    assert not rig.desk.validating and not pending.process.is_alive()
    for _ in range(3):
        rig.tick()
    assert rig.manual_plans((25.0, 30.0)) == []

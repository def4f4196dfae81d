"""The validation gate in front of an operator's change of policy or parameters
(controller/operators.py `policy` messages with a DeskValidation): the service switches only
once the twin passes the change; a rejected one never runs (its plans are never sent) unless
forced with a reason, which is recorded; a change the config refuses is refused at once. The
twin is a stand-in (tests/twin_fakes.py) run in the gate's real worker process."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from controller.config import Config
from controller.core.validation import PolicyChange, PolicyChoice, encode_policy_change
from controller.validation import AUDIT_KIND, DeskValidation, ValidationGate
from tests import twin_fakes
from tests.desk_rig import OPERATOR, DeskRig

pytestmark = pytest.mark.slow  # the gate's real worker process, a spawn per verdict

CFG = Config()
BAD = PolicyChoice("webster", (("lost_time_per_phase_s", 40.0), ("period_s", 60.0)))
GOOD = PolicyChoice("max_pressure", (("wait_scale_s", 30.0),))


def make_policy_request(jid, candidate, incumbent, queues_pcu, now_s):
    assert {"eN_0", "eE_0", "eS_0", "eW_0"} <= set(queues_pcu)
    assert incumbent.name in ("adaptive", "webster", "max_pressure")
    return {"incumbent": {jid: 1000.0}, "candidate": {jid: 2000.0 if candidate == BAD else 950.0}}


def no_plan_request(*args):
    raise AssertionError("a policy change must not ask for a cycle plan's twin")


class Rig(DeskRig):
    def __init__(self, validation: bool = True, cfg: Config = CFG) -> None:
        def desk_validation(gate: ValidationGate) -> DeskValidation:
            return DeskValidation(gate, no_plan_request, make_policy_request)

        super().__init__(desk_validation if validation else None, cfg, twin_fakes.predict_from_request)
        self.desk.bind_policy(self.svc.set_policy, cfg, self.svc.core.policy.name)

    def submit(self, choice: PolicyChoice, rid: str, force: str = "", **extra) -> dict:
        body = json.loads(encode_policy_change(PolicyChange("J", OPERATOR, rid, self.t, choice, force)))
        return self.submit_body({**body, **extra})


def test_a_bad_policy_change_is_rejected_with_figures_and_never_runs():
    rig = Rig()
    for _ in range(3):
        rig.tick()
    first = rig.submit(BAD, "p1")
    assert first["validating"] is True and first["accepted"] is False and first["action"] == "policy"
    v = rig.verdict("p1")
    assert v["accepted"] is False and "rejected by the validation gate" in v["reason"]
    assert "2000" in v["reason"] and "1000" in v["reason"]
    for _ in range(3):
        rig.tick()
    assert rig.svc.core.policy.name == "adaptive" and rig.desk.policy == PolicyChoice("adaptive")
    assert not any("webster" in c.plan_id for c in rig.sent)
    (rec,) = rig.audit.query(kind=AUDIT_KIND)
    assert rec.payload["outcome"] == "rejected" and rec.actor == "alice"
    assert rec.payload["candidate"] == {"policy": "webster", "params": dict(BAD.params)}
    assert rec.payload["incumbent"] == {"policy": "adaptive", "params": {}}
    assert rec.payload["predicted"]["candidate"]["total_delay_s"] == 2000.0


def test_a_good_policy_change_passes_and_runs_from_the_next_tick():
    rig = Rig()
    rig.tick()
    rig.submit(GOOD, "p2")
    v = rig.verdict("p2")
    assert v["accepted"] is True and "validated in the twin" in v["reason"]
    rig.tick()
    assert rig.svc.core.policy.name == "max_pressure"
    assert rig.svc.cfg.max_pressure.wait_scale_s == 30.0
    assert rig.desk.policy == GOOD
    assert [r.payload["outcome"] for r in rig.audit.query(kind=AUDIT_KIND)] == ["passed"]
    ops = [r.payload for r in rig.audit.query(kind="operator")]
    assert [(p["action"], p["accepted"]) for p in ops] == [("policy", False), ("policy", True)]


def test_a_rejected_policy_change_can_be_forced_with_a_reason_which_is_recorded():
    rig = Rig()
    rig.tick()
    rig.submit(BAD, "p3")
    rig.verdict("p3")
    forced = rig.submit(BAD, "p4", force="storm evacuation: long greens on the way out")
    assert forced["accepted"] is True
    rig.tick()
    assert rig.svc.core.policy.name == "webster"
    outcomes = [(r.payload["outcome"], r.payload.get("force_reason")) for r in rig.audit.query(kind=AUDIT_KIND)]
    assert outcomes == [("rejected", None), ("forced", "storm evacuation: long greens on the way out")]


def test_a_change_the_config_refuses_is_refused_at_once_and_audited():
    rig = Rig()
    rig.tick()
    a = rig.submit(PolicyChoice("max_pressure", (("wait_scale_s", -1.0),)), "p5")
    assert a["accepted"] is False and "max_pressure.wait_scale_s: must be > 0" in a["reason"]
    assert rig.submit(PolicyChoice("nope"), "p6")["reason"].count("unknown policy") == 1
    assert rig.submit(PolicyChoice("adaptive"), "p7")["reason"] == "policy adaptive is already in force"
    assert "malformed policy change" in rig.submit(GOOD, "p8", params=[1])["reason"]
    assert [r.payload["outcome"] for r in rig.audit.query(kind=AUDIT_KIND)] == ["rejected", "rejected"]
    assert rig.desk.policy_validating is None and rig.svc.core.policy.name == "adaptive"


def test_without_the_gate_a_policy_change_goes_in_at_once():
    rig = Rig(validation=False)
    rig.tick()
    assert rig.submit(GOOD, "p9")["accepted"] is True
    rig.tick()
    assert rig.svc.core.policy.name == "max_pressure" and rig.audit.query(kind=AUDIT_KIND) == []


class ReturnRig(Rig):
    """[harm] validate_return on; the stand-in twin predicts `policy_s` for the policy (against
    1000 for the fixed plan)."""

    def __init__(self, policy_s: float) -> None:
        super().__init__(cfg=replace(CFG, harm=replace(CFG.harm, validate_return=True)))
        self.policy_s = policy_s
        self.desk.validation = DeskValidation(self.desk.validation.gate, no_plan_request, self.make_return_request)

    def make_return_request(self, jid, candidate, incumbent, queues_pcu, now_s):
        assert candidate == PolicyChoice("adaptive") and incumbent == PolicyChoice("fixed")
        return {"incumbent": {jid: 1000.0}, "candidate": {jid: self.policy_s}}

    def make_due(self) -> None:
        """J's do-no-harm state: held on its fixed plan, its return to the policy due."""
        js = self.svc.state.junctions["J"]
        hs = replace(js.harm, mode="fixed", return_due=True, return_reason="hold over")
        self.svc.state = replace(self.svc.state, junctions={"J": replace(js, harm=hs)})

    def until(self, pred) -> None:
        deadline = time.monotonic() + 30.0
        while not pred() and time.monotonic() < deadline:
            self.tick()
            time.sleep(0.05)
        assert pred()


def test_a_due_return_to_the_policy_is_approved_when_the_twin_passes_it():
    rig = ReturnRig(policy_s=800.0)
    rig.tick()
    rig.make_due()
    rig.until(lambda: rig.svc.state.junctions["J"].harm.mode == "policy")
    (rec,) = rig.audit.query(kind=AUDIT_KIND)
    assert rec.actor == "do-no-harm" and rec.payload["outcome"] == "passed"
    assert rec.payload["incumbent"] == {"policy": "fixed", "params": {}}


def test_a_due_return_the_twin_predicts_worse_is_rejected_and_the_junction_stays_fixed():
    rig = ReturnRig(policy_s=3000.0)
    rig.tick()
    rig.make_due()
    rig.until(lambda: rig.audit.query(kind=AUDIT_KIND) != [])
    rig.tick()
    hs = rig.svc.state.junctions["J"].harm
    assert hs.mode == "fixed" and not hs.return_due and hs.relapses == 1
    assert hs.reason.startswith("return rejected: validation rejected: region: predicted delay 3000 veh-s")
    assert rig.audit.query(kind=AUDIT_KIND)[0].payload["outcome"] == "rejected"

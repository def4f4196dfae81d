"""A cyclic policy's plans behind the validation gate (controller/policy_plans.py): a change above
the [validation] thresholds is held back until the twin passes it, then pushed with a fresh seq
and validity; one below them goes out at once; a rejected plan never goes out (the junction keeps
the last plan pushed) and is not simulated again when proposed again. The twin is the stand-in
of tests/twin_fakes.py in the gate's real worker process."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from controller.adapters.audit import AuditStore
from controller.config import Config
from controller.core.step import TickResult
from controller.core.validation import ValidationParams
from controller.model import CyclePlan
from controller.policy_plans import PolicyPlanGate
from controller.service import ControllerService
from controller.validation import AUDIT_KIND, DeskValidation, ValidationGate
from tests import twin_fakes
from tests.junction_fixtures import two_phase

pytestmark = pytest.mark.slow  # the gate's real worker process, a spawn per verdict

CFG = Config()
WORSE = (40.0, 20.0)  # the stand-in twin predicts these greens far worse


def make_request(j, candidate, incumbent, queues_pcu, now_s):
    return {"incumbent": {j.id: 1000.0}, "candidate": {j.id: 3000.0 if candidate.greens_s == WORSE else 950.0}}


def plan(n: int, greens: tuple[float, float], now_s: float) -> CyclePlan:
    return CyclePlan("J", f"J-webster-{n}", n, (0, 1), greens, sum(greens), 0.0, now_s, now_s + 60.0)


class Rig:
    def __init__(self) -> None:
        self.audit = AuditStore(":memory:")
        params = ValidationParams(enabled=True, timeout_s=20.0)
        gate = ValidationGate(params, twin_fakes.predict_from_request, audit=self.audit)
        self.gate = PolicyPlanGate(DeskValidation(gate, make_request), max_twins=1)
        self.svc = ControllerService({"J": two_phase()}, CFG, "webster", publish=lambda c, p: None)
        self.state = self.svc.state
        self.t = 0.0

    def apply(self, *cmds: CyclePlan) -> tuple[CyclePlan, ...]:
        self.t += 1.0
        for c in cmds:  # as the core leaves it: the new plan in force
            js = replace(self.state.junctions["J"], command=c, seq=c.seq, sent_s=self.t)
            self.state = replace(self.state, junctions={"J": js})
        self.state, result = self.gate.apply(self.svc.core, self.state, TickResult(commands=cmds), self.t)
        return result.commands

    def until_verdict(self, n: int) -> tuple[CyclePlan, ...]:
        deadline = time.monotonic() + 20.0
        out: tuple[CyclePlan, ...] = ()
        while len(self.audit.query(kind=AUDIT_KIND)) < n and time.monotonic() < deadline:
            out += self.apply()
            time.sleep(0.05)
        return out + self.apply()


def test_changes_above_the_thresholds_wait_for_the_twin_and_small_ones_go_out_at_once():
    rig = Rig()
    first = plan(1, (30.0, 25.0), rig.t)
    assert rig.apply(first) == ()  # no plan pushed yet: always validated
    assert rig.state.junctions["J"].command is None  # the roadside keeps its own program meanwhile
    pushed = rig.until_verdict(1)
    assert [c.greens_s for c in pushed] == [(30.0, 25.0)] and pushed[0].valid_from_s > first.valid_from_s
    assert rig.state.junctions["J"].command == pushed[0]
    small = plan(5, (33.0, 23.0), rig.t)  # split changes of 3 and 2 s, cycle +1 s: below the thresholds
    assert rig.apply(small) == (small,)
    assert rig.apply(plan(6, WORSE, rig.t)) == ()  # a green +7 s, the cycle +4 s: validated
    assert rig.until_verdict(2) == ()
    assert rig.state.junctions["J"].command.plan_id == "J-webster-5"  # back to the last plan pushed
    assert rig.apply(plan(7, WORSE, rig.t)) == ()  # proposed again: dropped without a new twin
    time.sleep(0.3)
    rig.apply()
    outcomes = [(r.actor, r.payload["outcome"]) for r in rig.audit.query(kind=AUDIT_KIND)]
    assert outcomes == [("policy webster", "passed"), ("policy webster", "rejected")]
    assert rig.gate.held == {}


def test_a_plan_proposed_while_a_twin_runs_is_judged_after_it_against_what_it_left():
    rig = Rig()
    rig.apply(plan(1, (30.0, 25.0), rig.t))
    rig.apply(plan(2, (45.0, 25.0), rig.t))  # while plan 1's twin runs
    rig.apply(plan(3, (32.0, 26.0), rig.t))  # newer still: replaces plan 2, which never ran
    pushed = rig.until_verdict(1)
    assert [c.plan_id for c in pushed] == ["J-webster-1", "J-webster-3"]  # 3 is a small change of 1: at once
    assert len(rig.audit.query(kind=AUDIT_KIND)) == 1


def test_another_policy_in_force_drops_the_plans_held_of_the_former_one():
    rig = Rig()
    rig.apply(plan(1, (30.0, 25.0), rig.t))
    assert set(rig.gate.held) == {"J"}
    rig.svc.set_policy("max_pressure", CFG)
    rig.svc.tick(rig.t + 1.0)  # the swap happens at the service's next tick
    assert rig.apply() == () and rig.gate.held == {} and rig.gate.next == {}
    time.sleep(0.5)
    assert rig.apply() == () and rig.audit.query(kind=AUDIT_KIND) == []  # its twin was stopped: no verdict

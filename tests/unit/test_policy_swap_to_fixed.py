"""A change of policy to `fixed` while the service runs: the commands the former policy left in
force are withdrawn (each re-sent once, expiring at the next decision) and nothing is sent after,
so the roadside goes back to the city's own program; an operator's override in force stays."""

from __future__ import annotations

import json

from controller.config import Config
from controller.core.override import OverrideRequest, encode_override
from controller.core.safety import DECISION_PERIOD_S
from tests.desk_rig import OPERATOR, DeskRig

CFG = Config()


def _adaptive_in_force(rig: DeskRig) -> None:
    for _ in range(30):
        rig.tick()
    assert rig.svc.state.junctions["J"].command is not None  # the policy has a command in force


def test_a_change_to_fixed_withdraws_the_former_policys_command():
    rig = DeskRig(None, CFG)
    _adaptive_in_force(rig)
    held = rig.svc.state.junctions["J"].command
    rig.svc.set_policy("fixed", CFG)
    before = len(rig.sent)
    rig.tick()
    (withdraw,) = rig.sent[before:]
    assert withdraw.plan_id == held.plan_id and withdraw.seq > held.seq
    assert withdraw.expires_s == rig.t + DECISION_PERIOD_S  # the roadside hands back at its next green
    assert rig.svc.state.junctions["J"].command is None
    for _ in range(60):  # several refresh periods: nothing more is sent
        rig.tick()
    assert rig.sent[before + 1 :] == []


def test_an_override_in_force_stays_through_a_change_to_fixed():
    rig = DeskRig(None, CFG)
    _adaptive_in_force(rig)
    req = OverrideRequest("J", OPERATOR, "plan", "r1", rig.t, for_s=300.0, phase_order=(0, 1), greens_s=(25.0, 30.0))
    assert rig.submit_body(json.loads(encode_override(req)))["accepted"]
    rig.tick()
    rig.svc.set_policy("fixed", CFG)
    before = len(rig.sent)
    rig.tick()  # the change: the override's command stays in force (not withdrawn, then put back)
    assert rig.svc.state.junctions["J"].command.greens_s == (25.0, 30.0)
    for _ in range(19):
        rig.tick()
    sent = rig.sent[before:]
    assert sent and all("manual" in c.plan_id and c.greens_s == (25.0, 30.0) for c in sent)  # refreshed, not withdrawn
    assert rig.svc.state.junctions["J"].command.greens_s == (25.0, 30.0)

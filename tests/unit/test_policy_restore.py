"""An operator's policy change comes back at a restart (controller/operators.py restore_policy,
called by ServiceNode when it resumes from its audit store): the newest accepted change of a
junction the service runs, made over the policy configured today, and still allowed by today's
rules. tests/integration/test_policy_restart.py does it through a real Mosquitto."""

from __future__ import annotations

from dataclasses import replace

from controller.adapters.audit import AuditStore
from controller.adapters.mqtt import MqttSettings
from controller.adapters.trust import Trust
from controller.config import Config, ServiceConfig
from controller.core.validation import PolicyChoice
from controller.live import ServiceNode
from tests.live_fixtures import cross

CFG = Config(service=ServiceConfig(site="t", policy="webster"))
JUNCTIONS = {j: cross(j) for j in ("J1", "J2")}
SETTINGS = MqttSettings("127.0.0.1", 1, "controller", "", "tsc-t-ctl")
WEBSTER = {"policy": "webster", "params": {}}


def change(junction: str, policy: str, *, accepted: bool = True, configured=WEBSTER, **params) -> tuple:
    payload = {"action": "policy", "id": "r", "accepted": accepted, "policy": policy, "params": params}
    if configured is not None:
        payload["configured"] = configured
    return junction, payload


def restarted(tmp_path, records, cfg: Config = CFG) -> ServiceNode:
    """A service started on an audit store holding `records` (oldest first)."""
    audit = AuditStore(tmp_path / "audit.sqlite")
    for k, (junction, payload) in enumerate(records):
        audit.append("operator", junction, "alice", payload, float(k))
    return ServiceNode(cfg, JUNCTIONS, SETTINGS, start_s=100.0, trust=Trust(2, None, audit))


def test_the_newest_accepted_change_of_a_served_junction_is_restored(tmp_path):
    records = [
        change("J1", "max_pressure"),
        change("J2", "max_pressure", wait_scale_s=30.0),
        change("J1", "fixed", accepted=False),  # refused: not in force
        change("J9", "fixed"),  # a junction of another instance
    ]
    node = restarted(tmp_path, records)
    assert node.desk.policy == PolicyChoice("max_pressure", (("wait_scale_s", 30.0),))
    assert node.policy_in_force() == "max_pressure(wait_scale_s=30.0)"
    node.tick(101.0)  # swapped in before the first step
    assert node.service.core.policy.name == "max_pressure"


def test_the_configured_policy_runs_when_the_change_cannot_be_kept(tmp_path):
    cases = {
        "back to the configured policy": [change("J1", "max_pressure"), change("J1", "webster")],
        "made over another configured policy": [change("J1", "max_pressure", configured={"policy": "fixed"})],
        "a record that does not say over which": [change("J1", "max_pressure", configured=None)],
        "refused by today's rules": [change("J1", "max_pressure", no_such_parameter=1.0)],
        "no change at all": [],
    }
    for k, (why, records) in enumerate(cases.items()):
        folder = tmp_path / str(k)
        folder.mkdir()
        node = restarted(folder, records)
        assert node.desk.policy == PolicyChoice("webster"), why
        assert node.service._policy_due is None, why


def test_a_change_is_restored_over_the_same_configured_policy_only(tmp_path):
    fixed = replace(CFG, service=replace(CFG.service, policy="fixed"))
    node = restarted(tmp_path, [change("J1", "max_pressure")], cfg=fixed)
    assert node.desk.policy == PolicyChoice("fixed") and node.policy_in_force() == "fixed"

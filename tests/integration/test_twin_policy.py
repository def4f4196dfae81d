"""A change of policy or of its parameters in the SUMO twin (sim/twin_policy.py): each policy runs
in closed loop with the project's own core, safety gate and virtual roadside controllers, on the
spider network (junction A1, 300 s horizon), real SUMO, real worker process, real audit store.
Deliberately bad parameters (Webster replanning every minute with 40 s of lost time per phase)
are rejected; the return from the network's fixed program to max_pressure passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.adapters.audit import AuditStore
from controller.config import load_config
from controller.core.estimation import Layout
from controller.core.validation import PolicyChoice, ValidationParams
from controller.junctions import load_intersections
from controller.model import Intersection
from controller.validation import AUDIT_KIND, ValidationGate, policy_refusal
from sim.netimport import import_network
from sim.twin import predict
from sim.twin_policy import PolicyTwinRequest, predict_policies

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NET = ROOT / "sim" / "scenarios" / "spider" / "spider.net.xml"
CFG = load_config(ROOT / "config.toml")
BAD = PolicyChoice("webster", (("lost_time_per_phase_s", 40.0), ("period_s", 60.0)))


@pytest.fixture(scope="module")
def a1(tmp_path_factory) -> Intersection:
    folder = tmp_path_factory.mktemp("spider_models")
    import_network(NET, folder, CFG)
    return load_intersections(folder)["A1"]


def request(j: Intersection, incumbent: PolicyChoice, candidate: PolicyChoice, work: Path) -> PolicyTwinRequest:
    heavy = j.movements[0].from_edge
    counts = {d.id: (30 if d.lane.startswith(heavy) else 10, 0, 0, 0, 0) for d in j.detectors if d.kind == "stop"}
    queues = {ln: 4.0 for m in j.movements if m.from_edge == heavy for ln in m.lanes}
    return PolicyTwinRequest(
        str(NET), (j,), counts, 300.0, queues, incumbent, candidate, CFG, str(work), horizon_s=300.0, seed=1
    )


def test_bad_policy_parameters_are_rejected_and_the_return_to_max_pressure_passes(a1, tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite")
    params = ValidationParams(margin=0.1, slack_s=60.0, timeout_s=90.0)
    gate = ValidationGate(params, predict, audit=store, predict_policy=predict_policies)
    cases = {"bad": (PolicyChoice("max_pressure"), BAD), "good": (PolicyChoice("fixed"), PolicyChoice("max_pressure"))}
    verdicts = {}
    for name, (inc, cand) in cases.items():
        safety = policy_refusal(CFG, cand, {a1.id: Layout.build(a1, CFG)})
        assert safety == ""
        out = gate.start_checked(a1.id, cand, inc, request(a1, inc, cand, tmp_path), "alice", 10.0, safety)
        verdicts[name] = gate.wait(out, 10.0)
    bad, good = verdicts["bad"], verdicts["good"]
    assert bad.outcome == "rejected", bad.reasons
    assert bad.candidate.delay_s["A1"] > 1.5 * bad.incumbent.delay_s["A1"]  # measured 4436 vs 1949 veh-s
    assert good.outcome == "passed", good.reasons
    assert good.candidate.delay_s["A1"] < 0.7 * good.incumbent.delay_s["A1"]  # measured 1949 vs 4590 veh-s
    records = store.query(kind=AUDIT_KIND)
    assert [r.payload["outcome"] for r in records] == ["rejected", "passed"]
    assert records[0].payload["candidate"] == {"policy": "webster", "params": dict(BAD.params)}
    assert records[1].payload["incumbent"] == {"policy": "fixed", "params": {}}
    assert records[0].payload["predicted"]["candidate"]["delay_s"]["A1"] > 0

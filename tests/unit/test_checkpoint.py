"""controller/core/checkpoint.py: the learnt state (lane saturation evidence, coupling) survives a
JSON round trip into a fresh state; an edited junction model drops only what changed; garbage and
other versions are refused with a message naming what is wrong."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core import checkpoint
from controller.core.checkpoint import CheckpointError
from controller.core.estimation import Coupling, Layout
from controller.core.policies import make_policy
from controller.core.step import Core, CoreState
from controller.junctions import parse_intersection
from controller.model import Intersection
from tests.junction_fixtures import two_phase_raw


def _junction(jid: str, downstream: list[str], rename_lane: str | None = None) -> Intersection:
    raw = two_phase_raw()
    raw["id"], raw["downstream"] = jid, downstream
    raw["upstream"] = [] if downstream else ["A"]
    if rename_lane is not None:  # the N approach's lane gets another id (a remapped network)
        raw["movements"][0]["lanes"] = [rename_lane]
        for d in raw["detectors"]:
            if d["lane"] == "eN_0":
                d["lane"] = rename_lane
    return parse_intersection(raw, f"{jid}.toml")


def _core(rename_lane: str | None = None, with_b: bool = True, policy: str = "scats") -> Core:
    # max_pressure without its rules that read the network ([max_pressure] stall_s and exit_room_held read the
    # far lights' signals, so the core keeps link state for them): a policy that learns no coupling
    cfg = Config(max_pressure=replace(Config().max_pressure, stall_s=0.0, exit_room_held=False))
    js = [_junction("A", ["B"] if with_b else [], rename_lane)] + ([_junction("B", [])] if with_b else [])
    return Core({j.id: Layout.build(j, cfg) for j in js}, make_policy(policy, cfg), cfg)


def _learnt_state(core: Core) -> CoreState:
    """A fresh state with some learning in it: saturation evidence on every lane, and A's N and S
    through movements coupled to B's approaches."""
    state = core.initial_state(0.0)
    junctions = {}
    for k, (jid, js) in enumerate(state.junctions.items()):
        n = len(core.layouts[jid].lanes)
        lanes = replace(js.estimate.lanes, sat_pcu=np.arange(1.0, n + 1) * (10 + k), sat_s=np.full(n, 40.0 + k))
        junctions[jid] = replace(js, estimate=replace(js.estimate, lanes=lanes))
    mapping = dict(state.links.mapping)
    mapping["A"] = (Coupling("B", "eS", 12, 0.4), None, Coupling("B", "eN", 15, 0.3), None)
    return replace(state, t_s=600.0, junctions=junctions, links=replace(state.links, mapping=mapping))


def _round_trip(core: Core, data: dict) -> checkpoint.Restored:
    return checkpoint.restore(core, core.initial_state(0.0), json.loads(json.dumps(data, allow_nan=False)))


def test_round_trip_restores_saturation_evidence_flows_and_coupling():
    core = _core()
    old = _learnt_state(core)
    got = _round_trip(core, checkpoint.learnt(core, old))
    assert got.skipped == ()
    assert got.lanes == 8 and got.couplings == 2
    for jid in core.layouts:
        a, b = old.junctions[jid].estimate.lanes, got.state.junctions[jid].estimate.lanes
        np.testing.assert_array_equal(a.sat_pcu, b.sat_pcu)
        np.testing.assert_array_equal(a.sat_s, b.sat_s)
        # the movements' saturation flow is the learnt one at once, not the prior until the first feed
        sat = got.state.junctions[jid].estimate.sat_flow_pcu_h
        assert not np.allclose(sat, core.layouts[jid].sat_flow_pcu_h)
    assert got.state.links.mapping["A"] == old.links.mapping["A"]
    assert got.state.links.samples_s == 0.0  # the covariances start afresh: only the mapping is kept


def test_saturation_flow_matches_the_estimators_own_after_a_tick():
    """The restored movements' saturation flow is what the estimator derives from the same lanes."""
    core = _core()
    got = _round_trip(core, checkpoint.learnt(core, _learnt_state(core))).state
    ticked, _ = core.step(got, [], [], 1.0)
    restored_sat = got.junctions["A"].estimate.sat_flow_pcu_h
    np.testing.assert_allclose(ticked.junctions["A"].estimate.sat_flow_pcu_h, restored_sat)


def test_an_edited_model_skips_only_what_changed():
    old_core = _core()
    data = checkpoint.learnt(old_core, _learnt_state(old_core))
    core = _core(rename_lane="eN_9")
    got = _round_trip(core, data)
    assert got.skipped == ("junction A lane eN_0: not in the junction model",)
    assert got.lanes == 7 and got.couplings == 2
    lanes = got.state.junctions["A"].estimate.lanes
    i = core.layouts["A"].lanes.index("eN_9")
    assert lanes.sat_pcu[i] == 0.0 and lanes.sat_s[i] == 0.0  # the renamed lane learns afresh
    others = [k for k in range(len(lanes.sat_s)) if k != i]
    assert (lanes.sat_s[others] == 40.0).all()


def test_a_junction_and_couplings_gone_are_skipped_and_named():
    old_core = _core()
    data = checkpoint.learnt(old_core, _learnt_state(old_core))
    core = _core(with_b=False)
    got = _round_trip(core, data)
    assert "junction B: not in the junction models" in got.skipped
    assert "coupling of junction A movement N_T: B/eS at 12 s is no longer a candidate" in got.skipped
    assert got.couplings == 0 and got.lanes == 4
    assert got.state.links.mapping["A"] == (None,) * 4


def test_a_policy_without_coupling_restores_the_lanes_and_says_it_drops_the_coupling():
    old_core = _core()
    data = checkpoint.learnt(old_core, _learnt_state(old_core))
    core = _core(policy="max_pressure")
    got = _round_trip(core, data)
    assert got.state.links is None
    assert got.lanes == 8
    assert got.skipped == ("coupling of 2 movement(s): the policy does not learn it",)


@pytest.mark.parametrize(
    "data, message",
    [
        ("not a checkpoint", "must be a JSON object"),
        ({"format": "other", "version": 1}, "format is 'other'"),
        ({"format": checkpoint.FORMAT, "version": 0, "junctions": {}, "links": {}}, "version 0 is not supported"),
        ({"format": checkpoint.FORMAT, "version": 1, "junctions": [], "links": {}}, "junctions must be a JSON object"),
        (
            {"format": checkpoint.FORMAT, "version": 1, "junctions": {"A": {"lanes": {"eN_0": [1.0]}}}, "links": {}},
            r"junctions.A.lanes.eN_0 must be \[sat_pcu, sat_s\]",
        ),
        (
            {
                "format": checkpoint.FORMAT,
                "version": 1,
                "junctions": {"A": {"lanes": {"eN_0": [1.0, -2.0]}}},
                "links": {},
            },
            r"junctions.A.lanes.eN_0\[1\] must be a finite number >= 0",
        ),
        (
            {
                "format": checkpoint.FORMAT,
                "version": 1,
                "junctions": {},
                "links": {"A": {"N_T": {"junction": "B", "edge": "eS", "travel_s": 1.5, "corr": 0.2}}},
            },
            "links.A.N_T.travel_s must be an integer",
        ),
    ],
)
def test_garbage_and_other_versions_are_refused_with_what_is_wrong(data, message):
    core = _core()
    with pytest.raises(CheckpointError, match=message):
        checkpoint.restore(core, core.initial_state(0.0), data)

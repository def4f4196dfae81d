"""A change of policy or of its parameters: the operator's message (core/validation.py
decode_policy_change / encode_policy_change) and the checks before the twin runs
(controller/validation.py policy_config, policy_refusal)."""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

import pytest

from controller import ctl
from controller.config import Config, load_config
from controller.core.estimation import Layout
from controller.core.validation import PolicyChange, PolicyChoice, decode_policy_change, encode_policy_change
from controller.errors import ConfigError, FeedError
from controller.validation import plan_dict, policy_config, policy_refusal
from tests.junction_fixtures import two_phase

CFG = Config()


def msg(**over) -> bytes:
    body = {"v": 1, "id": "r1", "junction": "J", "action": "policy", "t": 100.0, "policy": "max_pressure"}
    body.update(over)
    return json.dumps(body).encode()


def test_a_policy_change_round_trips_with_its_parameters_and_force():
    change = PolicyChange("J", "alice", "r1", 100.0, PolicyChoice("max_pressure", (("wait_scale_s", 30.0),)), "storm")
    back = decode_policy_change(encode_policy_change(change), "alice", "J", 100.0, max_future_s=5.0)
    assert back == change
    plain = decode_policy_change(msg(reason="ignored without force"), "bob", "J", 100.0, max_future_s=5.0)
    assert plain.force_reason == "" and plain.choice == PolicyChoice("max_pressure")


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"junction": "K"}, "topic_mismatch"),
        ({"policy": 3}, "wrong_type"),
        ({"params": [1]}, "wrong_type"),
        ({"params": {"wait_scale_s": [1]}}, "wrong_type"),
        ({"t": 200.0}, "future_timestamp"),
        ({"t": 0.0}, "stale_timestamp"),
        ({"force": "yes"}, "wrong_type"),
        ({"v": 2}, "wrong_type"),
    ],
)
def test_a_malformed_policy_change_is_refused_by_reason(over, reason):
    with pytest.raises(FeedError) as err:
        decode_policy_change(msg(**over), "alice", "J", 100.0, max_future_s=5.0)
    assert err.value.reason == reason


def test_parameters_go_into_the_policys_section_and_bad_ones_are_named():
    cfg = policy_config(CFG, PolicyChoice("adaptive", (("wait_scale_s", 30.0),)))
    assert cfg.max_pressure.wait_scale_s == 30.0 and CFG.max_pressure.wait_scale_s != 30.0
    with pytest.raises(ConfigError, match="max_pressure.nope: unknown key"):
        policy_config(CFG, PolicyChoice("max_pressure", (("nope", 1.0),)))
    with pytest.raises(ConfigError, match=r"max_pressure.wait_scale_s: must be > 0"):
        policy_config(CFG, PolicyChoice("max_pressure", (("wait_scale_s", 0.0),)))
    with pytest.raises(ConfigError, match="webster.max_flow_ratio"):
        policy_config(CFG, PolicyChoice("webster", (("max_flow_ratio", 1.5),)))
    with pytest.raises(ConfigError, match="unknown policy 'nope'"):
        policy_config(CFG, PolicyChoice("nope"))
    with pytest.raises(ConfigError, match="no parameters"):
        policy_config(CFG, PolicyChoice("fixed", (("x", 1),)))


def test_policy_refusal_names_what_is_wrong_before_any_twin_runs():
    layouts = {"J": Layout.build(two_phase(), CFG)}
    assert policy_refusal(CFG, PolicyChoice("max_pressure", (("wait_scale_s", 30.0),)), layouts) == ""
    assert "unknown key" in policy_refusal(CFG, PolicyChoice("max_pressure", (("nope", 1.0),)), layouts)
    assert "unknown policy" in policy_refusal(CFG, PolicyChoice("nope"), layouts)
    assert plan_dict(PolicyChoice("scats", (("ds_target", 0.8),))) == {"policy": "scats", "params": {"ds_target": 0.8}}


def test_ctl_policy_reads_its_parameters_and_refuses_a_malformed_one():
    parser = argparse.ArgumentParser()
    ctl.add_parser(parser.add_subparsers(dest="command"))

    def change(*extra: str) -> PolicyChange:
        return ctl.request(parser.parse_args(["ctl", "--user", "alice", "policy", "J", *extra]), 5.0)

    c = change("--set", "webster", "--param", "period_s=60", "--param", "max_flow_ratio=0.8", "--param", "x=true")
    assert c.choice == PolicyChoice("webster", (("max_flow_ratio", 0.8), ("period_s", 60), ("x", True)))
    assert c.junction == "J" and c.operator == "alice" and c.force_reason == ""
    assert change("--set", "fixed", "--force", "--reason", "works on A4").force_reason == "works on A4"
    with pytest.raises(ConfigError, match="want NAME=VALUE"):
        change("--set", "webster", "--param", "period_s")
    with pytest.raises(ConfigError, match="--force needs a stated reason"):
        change("--set", "webster", "--force")


def test_validate_return_without_the_gate_is_refused_naming_the_field(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[harm]\nvalidate_return = true\n")
    with pytest.raises(ConfigError, match="harm.validate_return: needs validation.enabled"):
        load_config(path)


def test_the_policy_twin_runs_its_own_field_never_the_citys():
    """sim/twin_policy.py drives its own SUMO run with sim/field.py's loops and roadsides; it
    never imports the live field, an archive or a replay (where the field's state is)."""
    root = Path(__file__).resolve().parents[2]
    tree = ast.parse((root / "sim" / "twin_policy.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "sim.field" in names and "sim.simulate" in names  # the twin's own field, stepped like simulate
    assert not {n for n in names if n.startswith(("sim.field_live", "sim.replay", "controller.adapters"))}, names


def test_the_policy_request_covers_the_region_with_its_counts_queues_and_config():
    from controller.model import VEHICLE_CLASSES, DetectorReading, Snapshot
    from controller.validation import RecentCounts
    from sim.twin_policy import PolicyRequestMaker
    from tests.junction_fixtures import two_phase_as

    k = two_phase_as("K")
    j = two_phase()
    recent = RecentCounts(300.0, VEHICLE_CLASSES)
    for t in (10.0, 200.0, 400.0):
        mine = DetectorReading("N_stop", (("car", 2),), 0.2, 5.0)
        theirs = DetectorReading("KN_stop", (("car", 9),), 0.2, 5.0)
        recent.add(Snapshot("J", t, 1.0, (mine, theirs)))
    maker = PolicyRequestMaker("net.xml", {"J": j, "K": k}, recent, 300.0, "/tmp/w", CFG, horizon_s=600.0)
    cand, inc = PolicyChoice("max_pressure", (("wait_scale_s", 30.0),)), PolicyChoice("fixed")
    req = maker("J", cand, inc, {"eN_0": 3.0, "K_lane_0": 5.0}, 400.0)
    assert [r.id for r in req.junctions] == ["J"]  # no neighbours declared
    assert req.counts == {"N_stop": (4, 0, 0, 0, 0)}  # 200 s and 400 s: within (100, 400]; K's loop is not J's
    assert req.queues_pcu == {"eN_0": 3.0}  # lanes of the region only
    assert (req.candidate, req.incumbent, req.cfg, req.horizon_s) == (cand, inc, CFG, 600.0)

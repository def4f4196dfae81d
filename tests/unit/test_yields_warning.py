"""The service names, at start, the junctions whose files give no movement's `yields_to` while
[max_pressure] yield_block_s is on under a policy that reads it (controller/service.py, asking the policy:
Policy.lacks_yields_to)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies import REGISTRY, make_policy
from controller.junctions import load_intersections
from controller.service import ControllerService

CITY = Path(__file__).resolve().parents[2] / "intersections" / "city"


def _junctions(without: str) -> dict:
    js = load_intersections(CITY)
    j = js[without]
    js[without] = replace(j, movements=tuple(replace(m, yields_to=None) for m in j.movements))
    return js


def _warned(caplog: pytest.LogCaptureFixture, policy: str, block_s: float) -> list[str]:
    js = _junctions("J00")
    cfg = Config()
    cfg = replace(cfg, max_pressure=replace(cfg.max_pressure, yield_block_s=block_s))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        ControllerService(js, cfg, policy, publish=lambda c, p: None, start_s=0.0)
    return [r.getMessage() for r in caplog.records if "yields_to" in r.getMessage()]


def test_a_junction_file_without_yields_to_is_named_under_a_policy_that_reads_the_rule(caplog):
    assert all(m.yields_to is not None for j in load_intersections(CITY).values() for m in j.movements)
    for policy in ("adaptive", "max_pressure"):
        warned = _warned(caplog, policy, 10.0)
        assert len(warned) == 1 and warned[0].startswith("junction=J00 has movements without `yields_to`"), warned
        assert "run import-net again" in warned[0]


def test_no_such_warning_with_the_rule_off_or_under_a_policy_that_does_not_read_it(caplog):
    assert _warned(caplog, "adaptive", 0.0) == []
    assert _warned(caplog, "webster", 10.0) == []


def test_each_policy_says_itself_whether_it_would_read_a_missing_yields_to():
    """The service asks the policy (Policy.lacks_yields_to), not the module it comes from: only max_pressure's
    family reads `yields_to`, and only with yield_block_s on."""
    js = _junctions("J00")
    for block_s in (0.0, 10.0):
        cfg = Config()
        cfg = replace(cfg, max_pressure=replace(cfg.max_pressure, yield_block_s=block_s))
        for name in REGISTRY:
            policy = make_policy(name, cfg)
            said = {jid: policy.lacks_yields_to(Layout.build(j, cfg)) for jid, j in js.items()}
            reads = block_s > 0 and name in ("adaptive", "max_pressure")
            assert [jid for jid, why in said.items() if why] == (["J00"] if reads else []), (name, block_s)
            assert not reads or said["J00"].startswith("[max_pressure] yield_block_s reads them"), said["J00"]


def test_a_movement_the_rule_cannot_read_as_waiting_is_not_named_without_its_yields_to():
    """Only a movement yield_lanes gives some lane to counts (R's review, session 62: the check without that
    condition passed every test): one served protected, or never waiting on another approach's stream, is not
    read by the rule, so its missing `yields_to` changes nothing and is not named."""
    from controller.core.policies.max_pressure import yield_lanes

    cfg = Config()
    cfg = replace(cfg, max_pressure=replace(cfg.max_pressure, yield_block_s=10.0))
    policy = make_policy("adaptive", cfg)
    cleared = 0
    for j in load_intersections(CITY).values():
        reads = np.asarray(yield_lanes(Layout.build(j, cfg)).any(axis=(0, 2)))
        unread = replace(
            j, movements=tuple(m if reads[i] else replace(m, yields_to=None) for i, m in enumerate(j.movements))
        )
        cleared += int((~reads).sum())
        assert policy.lacks_yields_to(Layout.build(unread, cfg)) == "", j.id
    assert cleared > 0  # the city has such movements: the check above can fail

"""A policy switched in while the service runs (ControllerService.set_policy: an operator's command) is named as
it goes in force as at start: the junctions it watches on their own program first (Policy.watches_first) and the
movements without `yields_to` it would read (Policy.lacks_yields_to), once, at the tick it goes in force."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from controller.config import Config
from controller.service import ControllerService
from tests.unit.test_scats_watch_crossings import crossing_layout
from tests.unit.test_yields_warning import _junctions

CFG = Config()
READS_YIELDS = replace(CFG, max_pressure=replace(CFG.max_pressure, yield_block_s=10.0))


def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "controller.service"]
    caplog.clear()
    return [ln for ln in lines if "in force from" not in ln]


def _switched(caplog: pytest.LogCaptureFixture, junctions: dict, start: str, to: str, cfg: Config) -> list[list[str]]:
    """What the service warns at start under `start`, at set_policy(to), at the tick after and at the five ticks
    after that."""
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        caplog.clear()
        svc = ControllerService(junctions, cfg, start, publish=lambda cmd, payload: None, start_s=0.0)
        said = [_said(caplog)]
        svc.set_policy(to, cfg)
        said.append(_said(caplog))
        svc.tick(1.0)
        said.append(_said(caplog))
        for t_s in range(2, 7):
            svc.tick(float(t_s))
        said.append(_said(caplog))
    return said


def _at_start(caplog: pytest.LogCaptureFixture, junctions: dict, policy: str, cfg: Config) -> list[str]:
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        caplog.clear()
        ControllerService(junctions, cfg, policy, publish=lambda cmd, payload: None, start_s=0.0)
        return _said(caplog)


def test_a_switch_to_a_policy_that_reads_yields_to_names_the_junction_without_it_once(caplog):
    js = _junctions("J00")
    start, asked, in_force, after = _switched(caplog, js, "webster", "adaptive", READS_YIELDS)
    assert not any("yields_to" in ln for ln in start)  # webster does not read it
    assert asked == [] and after == []
    assert len(in_force) == 1 and in_force[0].startswith("junction=J00 has movements without `yields_to`")
    assert in_force == _at_start(caplog, js, "adaptive", READS_YIELDS)  # what the start says


def test_a_switch_to_a_policy_that_watches_a_light_first_names_it_once(caplog):
    lay = crossing_layout()
    js = {"A": replace(lay.junction, id="A"), "P": replace(lay.junction, id="P", actuated=False)}
    start, asked, in_force, after = _switched(caplog, js, "fixed", "scats", CFG)
    assert start == [] and asked == [] and after == []
    assert len(in_force) == 1 and "policy=scats watches junction=A" in in_force[0]
    assert in_force == _at_start(caplog, js, "scats", CFG)

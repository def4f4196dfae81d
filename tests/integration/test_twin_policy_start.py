"""A policy twin whose SUMO refuses to start names SUMO's own reason (sim/sumo.py start_sumo, as
`simulate` does): on the 2x2 grid, a program 'off' with phases, loaded last, for one light."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from controller.config import load_config
from controller.core.validation import PolicyChoice
from controller.errors import AdapterError
from sim.netimport import import_network
from sim.twin_policy import PolicyTwinRequest, predict_policies
from tests.scenarios import grid_net

CFG = load_config(Path(__file__).resolve().parents[2] / "config.toml")


def test_a_twin_whose_sumo_refuses_to_start_names_sumos_reason(tmp_path):
    net = grid_net(tmp_path, "g", n=2)
    junctions = import_network(net, tmp_path / "models", CFG).junctions()
    tls = ET.parse(net).getroot().find("tlLogic")
    width = len(tls.find("phase").get("state"))
    off = tmp_path / "off.add.xml"
    off.write_text(
        f'<additional><tlLogic id="{tls.get("id")}" programID="off" type="static" offset="0">'
        f'<phase duration="60" state="{"O" * width}"/></tlLogic></additional>'
    )
    req = PolicyTwinRequest(
        str(net),
        (junctions[tls.get("id")],),
        {},
        300.0,
        {},
        PolicyChoice("fixed"),
        PolicyChoice("max_pressure"),
        CFG,
        str(tmp_path / "work"),
        horizon_s=60.0,
        programs=(str(off),),
    )
    with pytest.raises(AdapterError) as err:
        predict_policies(req)
    assert (
        f"twin policy run incumbent failed: controller.errors.AdapterError: the twin's SUMO did not start:"
        f" The off program for TLS '{tls.get('id')}' has phases." in str(err.value)
    )


def test_a_failed_twin_run_ends_and_reaps_the_other(tmp_path, monkeypatch):
    """When one of the two runs fails, the other is ended and reaped before the error is raised:
    before, predict_policies raised at the first failure and left the second child running to
    its horizon, unreaped. Here the incumbent's run fails at once and the candidate's would sleep
    a minute (both forked from this process, so the patched run is theirs)."""
    import os
    import time

    import sim.twin_policy as tp

    def run(spec):
        if spec.policy == "fixed":
            raise RuntimeError("the incumbent's run broke")
        time.sleep(60.0)
        return 0

    launched: list[int] = []
    real_launch = tp._launch

    def launch(spec, out):
        launched.append(real_launch(spec, out))
        return launched[-1]

    monkeypatch.setattr(tp, "run_closed_loop", run)
    monkeypatch.setattr(tp, "_launch", launch)
    net = grid_net(tmp_path, "g", n=2)
    junctions = import_network(net, tmp_path / "models", CFG).junctions()
    req = PolicyTwinRequest(
        str(net),
        tuple(junctions.values()),
        {},
        300.0,
        {},
        PolicyChoice("fixed"),
        PolicyChoice("max_pressure"),
        CFG,
        str(tmp_path / "work"),
        horizon_s=60.0,
    )
    try:
        with pytest.raises(
            AdapterError, match="twin policy run incumbent failed: RuntimeError: the incumbent's run broke"
        ):
            predict_policies(req)
        assert len(launched) == 2
        for pid in launched:  # reaped: no longer this process's child
            with pytest.raises(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
    finally:
        for pid in launched:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, 9)
                os.waitpid(pid, 0)

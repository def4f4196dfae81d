"""A policy twin's two runs, when they do not end well (sim/twin_policy.py predict_policies): a SUMO
that refuses to start is named with SUMO's own reason (sim/sumo.py start_sumo, as `simulate`
does: on the 2x2 grid, a program 'off' with phases, loaded last, for one light); a run that
fails, an error while launching and an interrupt leave no child running or unreaped."""

from __future__ import annotations

import contextlib
import os
import re
import time
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from controller.config import load_config
from controller.core.validation import PolicyChoice
from controller.errors import AdapterError
from sim import twin_policy as tp
from sim.netimport import import_network
from sim.twin_policy import PolicyTwinRequest, predict_policies
from tests.scenarios import grid_net

CFG = load_config(Path(__file__).resolve().parents[2] / "config.toml")


def _request(
    tmp_path: Path, net: Path | None = None, junctions: tuple | None = None, **kw: object
) -> PolicyTwinRequest:
    """fixed against max_pressure over 60 s on `net` (the 2x2 grid) and `junctions` (all its own)."""
    net = net or grid_net(tmp_path, "g", n=2)
    junctions = junctions or tuple(import_network(net, tmp_path / "models", CFG).junctions().values())
    return PolicyTwinRequest(
        str(net),
        junctions,
        {},
        300.0,
        {},
        PolicyChoice("fixed"),
        PolicyChoice("max_pressure"),
        CFG,
        str(tmp_path / "work"),
        horizon_s=60.0,
        **kw,
    )


def _recorded_launches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the runs predict_policies forks from here on (tp._launch patched to note them)."""
    launched: list[int] = []
    real_launch = tp._launch

    def launch(spec: tp.RunSpec, out: Path) -> int:
        launched.append(real_launch(spec, out))
        return launched[-1]

    monkeypatch.setattr(tp, "_launch", launch)
    return launched


def _fails_leaving_no_child(
    req: PolicyTwinRequest, launched: list[int], n: int, error: type[BaseException], match: str | None = None
) -> None:
    """predict_policies(req) raises `error` after launching `n` runs, and none is left running or
    unreaped: no longer this process's child (the test kills any it left, whatever happens)."""
    try:
        with pytest.raises(error, match=match):
            predict_policies(req)
        assert len(launched) == n
        for pid in launched:
            with pytest.raises(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
    finally:
        for pid in launched:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, 9)
                os.waitpid(pid, 0)


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
    req = _request(tmp_path, net, (junctions[tls.get("id")],), programs=(str(off),))
    # both runs load the program: the error names whichever failed first (ended and reaped, the
    # other killed; the order is the processes', not fixed)
    with pytest.raises(AdapterError) as err:
        predict_policies(req)
    assert re.search(
        r"twin policy run (incumbent|candidate) failed: controller\.errors\.AdapterError: the twin's SUMO did"
        rf" not start: The off program for TLS '{tls.get('id')}' has phases\.",
        str(err.value),
    )


def test_a_failed_twin_run_ends_and_reaps_the_other(tmp_path, monkeypatch):
    """When one of the two runs fails, the other is ended and reaped before the error is raised:
    before, predict_policies raised at the first failure and left the second child running to
    its horizon, unreaped. Here the incumbent's run fails at once and the candidate's would sleep
    a minute (both forked from this process, so the patched run is theirs)."""

    def run(spec):
        if spec.policy == "fixed":
            raise RuntimeError("the incumbent's run broke")
        time.sleep(60.0)
        return 0

    launched = _recorded_launches(monkeypatch)
    monkeypatch.setattr(tp, "run_closed_loop", run)
    match = "twin policy run incumbent failed: RuntimeError: the incumbent's run broke"
    _fails_leaving_no_child(_request(tmp_path), launched, 2, AdapterError, match)


def test_an_error_while_launching_ends_and_reaps_the_runs_started(tmp_path, monkeypatch):
    """The candidate's fork fails (here: OSError, as when no process can be made) after the
    incumbent's run started: that run is ended and reaped, and the error raised as it is."""
    launched: list[int] = []
    real_launch = tp._launch

    def launch(spec, out):
        if launched:
            raise OSError("no process for the candidate")
        launched.append(real_launch(spec, out))
        return launched[-1]

    monkeypatch.setattr(tp, "run_closed_loop", lambda spec: time.sleep(60.0) or 0)
    monkeypatch.setattr(tp, "_launch", launch)
    _fails_leaving_no_child(_request(tmp_path), launched, 1, OSError, "no process for the candidate")


def test_an_interrupt_while_waiting_ends_and_reaps_both_runs(tmp_path, monkeypatch):
    """An interrupt (KeyboardInterrupt, raised here by the wait's first poll) while both runs
    go: neither is left running or unreaped. The incumbent's run ends at once, the candidate's
    would sleep 20 s."""
    launched = _recorded_launches(monkeypatch)

    def interrupt(_s: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tp, "run_closed_loop", lambda spec: 0 if spec.policy == "fixed" else time.sleep(20.0) or 0)
    monkeypatch.setattr(
        tp, "time", types.SimpleNamespace(monotonic=time.monotonic, time_ns=time.time_ns, sleep=interrupt)
    )
    _fails_leaving_no_child(_request(tmp_path), launched, 2, KeyboardInterrupt)

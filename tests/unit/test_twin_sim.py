"""`simulate`'s validation gate (sim/twin_sim.py): it waits for the twin it starts, so a verdict
is taken one simulated second after it was asked; the scenario's own programs and vehicle types
go to the twin."""

from __future__ import annotations

import time

from controller.core.validation import PolicyChoice, ValidationParams
from controller.model import CycleWish
from controller.validation import Pending, ValidationGate
from sim.twin_policy import PolicyTwinRequest
from sim.twin_sim import WaitingGate, scenario_files
from tests import twin_fakes
from tests.junction_fixtures import two_phase

P = ValidationParams(margin=0.1, slack_s=10.0, timeout_s=20.0)
SLOW = {"sleep_s": 1.0, "incumbent": {"J": 100.0}, "candidate": {"J": 300.0}}


def _start(gate: ValidationGate, request: dict) -> Pending:
    out = gate.start(two_phase(), CycleWish((0, 1), (30.0, 25.0)), None, request, "do_no_harm", 7.0)
    assert isinstance(out, Pending)
    return out


def test_the_verdict_is_there_at_the_next_poll():
    gate = WaitingGate(P, twin_fakes.predict_slowly)
    pending = _start(gate, SLOW)
    v = gate.poll(pending, 8.0)
    assert v is not None and v.outcome == "rejected"
    assert [(j.t_s, j.junction, j.who, j.outcome) for j in gate.verdicts] == [(8.0, "J", "do_no_harm", "rejected")]
    assert gate.report()["verdicts"] == {"do_no_harm": {"rejected": 1}}


def test_the_live_gate_does_not_wait():  # the contrast: a live tick is never held
    gate = ValidationGate(P, twin_fakes.predict_slowly)
    pending = _start(gate, SLOW)
    assert gate.poll(pending, 8.0) is None
    gate.cancel(pending)


def test_a_twin_past_its_timeout_is_unvalidated_at_the_next_poll():
    gate = WaitingGate(ValidationParams(timeout_s=1.0), twin_fakes.predict_slowly)
    t0 = time.monotonic()
    pending = _start(gate, {**SLOW, "sleep_s": 60.0})
    v = gate.poll(pending, 8.0)
    assert v is not None and v.outcome == "unvalidated" and "timeout_s" in v.reasons[0]
    assert time.monotonic() - t0 < 20.0


def test_the_scenario_files_with_programs_and_vehicle_types(tmp_path):
    tls, vt, loops = tmp_path / "tls.add.xml", tmp_path / "vt.add.xml", tmp_path / "loops.add.xml"
    tls.write_text('<additional><tlLogic id="A" type="static" programID="city" offset="0"/></additional>')
    vt.write_text('<routes><vType id="car"/></routes>')
    loops.write_text('<additional><inductionLoop id="d" lane="e_0" pos="1" file="NUL"/></additional>')
    programs, vtypes = scenario_files([tls, vt, loops])
    assert programs == (str(tls.resolve()),) and vtypes == (str(vt.resolve()),)


def test_the_policy_twin_runs_the_city_programs():
    from controller.config import Config

    req = PolicyTwinRequest(
        "net.xml",
        (two_phase(),),
        {},
        900.0,
        {},
        PolicyChoice("fixed"),
        PolicyChoice("webster"),
        Config(),
        "w",
        programs=("tls.add.xml",),
        vtype_files=("vt.add.xml",),
    )
    scen = req.scenario()
    assert scen.programs == ("tls.add.xml",) and scen.vtype_files == ("vt.add.xml",)

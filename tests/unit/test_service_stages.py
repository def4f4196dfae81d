"""A junction whose stages the roadside's own program does not all show is named at start and
left on its program (controller/stagecheck.py); a junction whose plans the gate keeps refusing
for the same reason is named once, not every tick (controller/service.py)."""

from __future__ import annotations

import logging
from dataclasses import replace

from controller.config import Config
from controller.core.messages import encode_detector_message, encode_status
from controller.core.step import TickResult
from controller.junctions import parse_intersection
from controller.model import Refusal, SignalStatus
from controller.service import ControllerService, _reason_key
from controller.stagecheck import shown_stage, unshown_stages
from tests.junction_fixtures import two_phase, two_phase_raw

CFG = Config()
PROGRAM = ("GrGr", "yryr", "rrrr", "rGrG", "ryry", "rrrr")  # the roadside's program: both stages shown


def edited() -> object:
    """two_phase with stage 0's green set changed by hand: link 2 no longer green in it."""
    raw = two_phase_raw()
    raw["phases"][0]["state"] = "Grrr"
    raw["movements"][2]["conflicts"] = ["E_T", "W_T"]
    raw["phases"].append({"state": "rrGr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 5.0})
    return parse_intersection(raw, "intersections/J.toml")


def test_a_stage_the_program_never_shows_is_named_by_field():
    j = edited()
    assert shown_stage(j, "GrGr") is None and shown_stage(j, "rGrG") == 1 and shown_stage(j, "yryr") is None
    named = unshown_stages(j, PROGRAM)
    assert [field for field, _ in named] == ["phases[0].state", "phases[2].state"]
    assert "'Grrr'" in named[0][1]
    assert unshown_stages(two_phase(), PROGRAM) == ()
    assert unshown_stages(j, ()) == () and unshown_stages(j, ("GrG",)) == ()  # no program known: nothing said


def test_a_program_that_shows_no_green_is_named_as_off():
    """SUMO's tls.all-off (or a flashing program): every stage unshown, and the reason says why."""
    named = unshown_stages(two_phase(), ("OOOO", "oooo"))
    assert [field for field, _ in named] == ["phases[0].state", "phases[1].state"]
    assert all("shows no green at all" in why for _, why in named)


def feed(svc: ControllerService, jid: str, t: float, phase: int = 0, intergreen: bool = False) -> None:
    dets = {d.id: ({"car": 1}, 0.2, 5.0) for d in svc.junctions[jid].detectors}
    svc.on_detectors(encode_detector_message(jid, t, 1.0, dets))
    svc.on_status(encode_status(SignalStatus(jid, t, phase, intergreen, t, "local", 0, "local")))


def test_a_junction_with_an_unshown_stage_is_refused_at_start_and_the_others_run(caplog):
    sent = []
    junctions = {"J": edited(), "K": replace(two_phase(), id="K")}
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        svc = ControllerService(
            junctions,
            CFG,
            "adaptive",
            publish=lambda cmd, payload: sent.append(cmd),
            programs={"J": PROGRAM, "K": PROGRAM},
        )
    assert set(svc.refused) == {"J"} and set(svc.core.layouts) == {"K"}
    why = svc.refused["J"]
    assert "intersections/J.toml" in why and "phases[0].state" in why and "phases[2].state" in why
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "junction=J" in lines[0] and "phases[0].state" in lines[0]
    for t in range(1, 40):
        feed(svc, "J", float(t))
        feed(svc, "K", float(t))
        svc.tick(float(t))
    assert not svc.rejected  # the refused junction's feed is still valid
    assert sent and {c.junction for c in sent} == {"K"}


def test_without_programs_nothing_is_refused_for_its_stages():
    svc = ControllerService({"J": edited()}, CFG, "adaptive", publish=lambda cmd, payload: None)
    assert svc.refused == {}


def test_plans_refused_for_one_reason_longer_than_a_cycle_are_named_once(caplog):
    """The roadside shows stage 1 only (its program never shows stage 0, no program given): the
    movements of stage 0 pass max_red_s and every cycle plan is refused for that reason."""
    svc = ControllerService({"J": two_phase()}, CFG, "webster", publish=lambda cmd, payload: None)
    refusals = 0
    with caplog.at_level(logging.INFO, logger="controller.service"):
        for t in range(1, 1000):
            feed(svc, "J", float(t), phase=1)
            refusals += len(svc.tick(float(t)).refusals)
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO and "gate refused" in r.getMessage()]
    warned = [r.getMessage() for r in caplog.records if "the safety gate refused every one" in r.getMessage()]
    assert refusals >= 3 and len(info) < refusals
    assert len(warned) == 1 and "junction=J" in warned[0] and "max_red_s" in warned[0]


def test_a_reason_keeps_the_digits_of_a_name_and_drops_its_figures():
    """W_R2 and W_R3 are two reasons; the same movement at another wait is one."""
    assert _reason_key("movement W_R2 waits 3.0 s") != _reason_key("movement W_R3 waits 3.0 s")
    waits = [f"movement W_R2 waits {w} s > max_red_s 150.0" for w in ("3.0", "41.5")]
    assert _reason_key(waits[0]) == _reason_key(waits[1])


def test_a_spell_of_refusals_ends_when_the_policy_lets_the_junction_go(caplog):
    """Refusals for one reason more than a cycle apart are one spell (a cyclic policy asks once
    per period) and warn; with a tick between them where the junction was on its fixed plan, stale
    or under an operator's override (the policy did not hold it), they are two spells: no warning."""
    refused = TickResult(refusals=(Refusal("J", "movement N_T waits 151.0 s > max_red_s 150.0"),))
    for let_go in ("fixed", "stale", "manual", None):
        svc = ControllerService({"J": two_phase()}, CFG, "webster", publish=lambda cmd, payload: None)
        cycle_max_s = svc.core.layouts["J"].junction.cycle_max_s
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="controller.service"):
            svc._log_refusals(refused, 1.0)
            if let_go is not None:
                svc._log_refusals(TickResult(**{let_go: ("J",)}), 2.0)
            svc._log_refusals(refused, 3.0 + 2.0 * cycle_max_s)
        warned = [r.getMessage() for r in caplog.records if "the safety gate refused every one" in r.getMessage()]
        assert len(warned) == (1 if let_go is None else 0), let_go

"""The validation gate: its pure verdict rules (core/validation.py) and the gate that runs the
twin in a worker process, times it out and records every verdict (controller/validation.py)."""

from __future__ import annotations

import time

import pytest

from controller.adapters.audit import AuditStore
from controller.config import load_config
from controller.core.validation import Prediction, ValidationParams, judge, needs_validation, safety_refusal
from controller.errors import ConfigError
from controller.junctions import parse_intersection
from controller.model import CycleWish
from controller.validation import AUDIT_KIND, Pending, ValidationGate
from tests import twin_fakes
from tests.junction_fixtures import two_phase, two_phase_raw

P = ValidationParams(margin=0.1, slack_s=10.0, timeout_s=20.0)


class Counts:
    def __init__(self) -> None:
        self.validated: list[str] = []
        self.rejected: list[str] = []
        self.twin_s: list[float] = []

    def twin_ran(self, seconds: float) -> None:
        self.twin_s.append(seconds)

    def plan_validated(self, junction: str) -> None:
        self.validated.append(junction)

    def plan_rejected_by_twin(self, junction: str) -> None:
        self.rejected.append(junction)


def test_a_candidate_within_the_margin_passes_with_its_figures():
    v = judge("", Prediction({"J": 1000.0, "K": 500.0}), Prediction({"J": 1105.0, "K": 400.0}), P)
    assert v.outcome == "passed" and v.passed
    assert v.figures()["candidate"]["total_delay_s"] == 1505.0
    assert v.figures()["incumbent"]["delay_s"] == {"J": 1000.0, "K": 500.0}


def test_a_candidate_worse_than_the_margin_is_rejected_naming_the_figures():
    v = judge("", Prediction({"J": 1000.0}), Prediction({"J": 1200.0}), P)
    assert v.outcome == "rejected"
    assert any("region" in r and "1200" in r and "1110" in r for r in v.reasons), v.reasons
    assert any(r.startswith("J:") for r in v.reasons)


def test_one_junction_made_worse_is_rejected_even_when_the_region_gains():
    v = judge("", Prediction({"J": 1000.0, "K": 5000.0}), Prediction({"J": 1500.0, "K": 3000.0}), P)
    assert v.outcome == "rejected"
    assert [r.split(":")[0] for r in v.reasons] == ["J"]


def test_the_slack_keeps_near_empty_junctions_from_flapping():
    assert judge("", Prediction({"J": 2.0}), Prediction({"J": 11.0}), P).passed
    assert not judge("", Prediction({"J": 2.0}), Prediction({"J": 13.0}), P).passed


def test_no_prediction_is_unvalidated_never_passed():
    v = judge("", None, None, P, failure="timeout")
    assert v.outcome == "unvalidated" and not v.passed and "timeout" in v.reasons[0]


def test_the_safety_gate_comes_first():
    v = judge("J: max red", Prediction({"J": 1.0}), Prediction({"J": 1.0}), P)
    assert v.outcome == "rejected" and v.reasons[0].startswith("safety gate: J: max red")


def test_a_starved_movement_is_caught_by_the_safety_gate():
    raw = two_phase_raw()
    raw["max_red_s"] = 50.0
    j = parse_intersection(raw, "J.toml")
    assert safety_refusal(j, CycleWish((0, 1), (30.0, 25.0))) == ""
    starved = safety_refusal(j, CycleWish((0, 1), (55.0, 7.0)))  # E/W red 55 + 2 intergreens > 50 s
    assert starved.startswith("J:") and "red" in starved, starved
    assert "min" in safety_refusal(j, CycleWish((0, 1), (3.0, 25.0)))


def test_changes_below_every_threshold_need_no_twin():
    old = CycleWish((0, 1), (30.0, 25.0), 0.0)
    assert needs_validation(old, CycleWish((0, 1), (33.0, 22.0), 4.0), P) == ""
    assert needs_validation(None, old, P) == "no cycle plan in force"
    assert "cycle" in needs_validation(old, CycleWish((0, 1), (38.0, 30.0)), P)
    assert "phase 0 green" in needs_validation(old, CycleWish((0, 1), (36.0, 19.0)), P)
    assert "offset" in needs_validation(old, CycleWish((0, 1), (30.0, 25.0), 20.0), P)
    assert needs_validation(old, CycleWish((0, 1), (30.0, 25.0), 53.0), P) == ""  # 2 s around the cycle


def test_the_section_is_off_by_default_and_its_margin_is_a_fraction(tmp_path):
    cfg = load_config("config.toml")
    assert cfg.validation.enabled is False and cfg.validation.horizon_s == 900.0
    bad = tmp_path / "c.toml"
    bad.write_text("[validation]\nmargin = 1.5\n")
    with pytest.raises(ConfigError, match=r"c.toml.*validation.margin"):
        load_config(bad)
    bad.write_text("[validation]\ntimeout_s = 0\n")
    with pytest.raises(ConfigError, match=r"validation.timeout_s"):
        load_config(bad)


def _gate(predict, timeout_s: float = 20.0) -> tuple[ValidationGate, AuditStore, Counts]:
    store, counts = AuditStore(":memory:"), Counts()
    params = ValidationParams(margin=0.1, slack_s=10.0, timeout_s=timeout_s)
    return ValidationGate(params, predict, audit=store, metrics=counts), store, counts


def test_the_gate_rejects_what_the_twin_predicts_worse_and_records_it():
    gate, store, counts = _gate(twin_fakes.predict_from_request)
    cand, inc = CycleWish((0, 1), (20.0, 35.0)), CycleWish((0, 1), (30.0, 25.0))
    v = gate.validate(two_phase(), cand, inc, {"incumbent": {"J": 100.0}, "candidate": {"J": 300.0}}, "alice", 5.0)
    assert v.outcome == "rejected" and counts.rejected == ["J"] and counts.validated == []
    (rec,) = store.query(kind=AUDIT_KIND)
    assert (rec.junction, rec.actor, rec.t_s) == ("J", "alice", 5.0)
    assert rec.payload["outcome"] == "rejected" and rec.payload["candidate"]["greens_s"] == [20.0, 35.0]
    assert rec.payload["incumbent"]["greens_s"] == [30.0, 25.0]
    assert rec.payload["predicted"]["candidate"]["total_delay_s"] == 300.0
    ok = gate.validate(two_phase(), cand, inc, {"incumbent": {"J": 100.0}, "candidate": {"J": 90.0}}, "alice", 6.0)
    assert ok.passed and counts.validated == ["J"]
    assert len(counts.twin_s) == 2 and all(0 < s < 20 for s in counts.twin_s)  # each twin run's wall time


def test_the_twin_s_own_run_time_is_audited_not_the_wait_for_it():
    """The verdict's twin_s is the wall time the twin reports for its runs (TwinResult.run_s), here
    7.5 s, not the gate's wait for its answer (under a second), which the metrics measure."""
    gate, store, counts = _gate(twin_fakes.predict_timed)
    request = {"incumbent": {"J": 100.0}, "candidate": {"J": 90.0}, "run_s": 7.5}
    assert gate.validate(two_phase(), CycleWish((0, 1), (20.0, 35.0)), None, request, "alice", 5.0).passed
    (rec,) = store.query(kind=AUDIT_KIND)
    assert rec.payload["twin_s"] == 7.5
    assert len(counts.twin_s) == 1 and counts.twin_s[0] != 7.5


def test_a_candidate_the_safety_gate_refuses_never_starts_the_twin():
    gate, store, counts = _gate(twin_fakes.predict_fails)
    out = gate.start(two_phase(), CycleWish((0, 1), (2.0, 25.0)), None, {}, "bob", 1.0)
    assert not isinstance(out, Pending) and out.outcome == "rejected" and "safety gate" in out.reasons[0]
    assert counts.rejected == [] and counts.twin_s == []  # not the twin's rejection: it never ran
    assert store.query(kind=AUDIT_KIND)[0].payload["outcome"] == "rejected"


def test_a_twin_that_fails_or_overruns_gives_unvalidated_and_is_killed():
    gate, store, _ = _gate(twin_fakes.predict_fails)
    v = gate.validate(two_phase(), CycleWish((0, 1), (30.0, 25.0)), None, {}, "bob", 1.0)
    assert v.outcome == "unvalidated" and "no network" in v.reasons[0]
    gate, store, counts = _gate(twin_fakes.predict_slowly, timeout_s=1.0)
    t0 = time.monotonic()
    pending = gate.start(
        two_phase(),
        CycleWish((0, 1), (30.0, 25.0)),
        None,
        {"sleep_s": 60, "incumbent": {}, "candidate": {}},
        "bob",
        2.0,
    )
    assert isinstance(pending, Pending) and gate.poll(pending, 2.0) is None  # the caller's thread is not held
    v = gate.validate(
        two_phase(),
        CycleWish((0, 1), (30.0, 25.0)),
        None,
        {"sleep_s": 60, "incumbent": {}, "candidate": {}},
        "bob",
        2.0,
    )
    assert v.outcome == "unvalidated" and "within 1 s" in v.reasons[0]
    while gate.poll(pending, 3.0) is None:
        time.sleep(0.05)
    assert time.monotonic() - t0 < 10 and not pending.process.is_alive()
    assert len(counts.twin_s) == 2 and all(s >= 1.0 for s in counts.twin_s)  # timeouts are measured too
    assert [r.payload["outcome"] for r in store.query(kind=AUDIT_KIND)] == ["unvalidated", "unvalidated"]


def test_forcing_a_rejected_plan_needs_a_reason_and_is_recorded():
    gate, store, _ = _gate(twin_fakes.predict_from_request)
    v = judge("", Prediction({"J": 1.0}), Prediction({"J": 900.0}), gate.params)
    with pytest.raises(ValueError, match="reason"):
        gate.record_force("J", "alice", CycleWish((0, 1), (20.0, 35.0)), v, "  ", 3.0)
    gate.record_force("J", "alice", CycleWish((0, 1), (20.0, 35.0)), v, "stadium exit, police on site", 3.0)
    (rec,) = store.query(kind=AUDIT_KIND)
    assert rec.payload["outcome"] == "forced" and rec.payload["overrides"] == "rejected"
    assert rec.payload["force_reason"] == "stadium exit, police on site"

"""Operator overrides (controller/core/override.py, controller/operators.py) in the service's tick:
they pass the same safety gate as the policy, refusals name the rule, they expire and release."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import pytest

from controller.config import Config, load_config
from controller.core.messages import encode_detector_message, encode_status
from controller.core.override import OperatorParams, OverrideRequest, decode_override, encode_override
from controller.core.safety import DECISION_PERIOD_S
from controller.errors import ConfigError, FeedError
from controller.model import CyclePlan, FlashCommand, PhaseCommand, SignalStatus
from controller.operators import OperatorDesk
from controller.service import ControllerService
from tests.junction_fixtures import two_phase

CFG = Config()


class Rig:
    """A service with a desk; the roadside's status is whatever the test says."""

    def __init__(
        self, policy: str = "adaptive", params: OperatorParams | None = None, audit=None, metrics=None
    ) -> None:
        params = params or OperatorParams()
        self.sent: list = []
        self.replies: list[tuple[str, dict]] = []
        self.desk = OperatorDesk(
            params,
            ttl_s=CFG.roadside.plan_ttl_s,
            refresh_s=CFG.roadside.refresh_s,
            audit=audit,
            reply=lambda op, payload: self.replies.append((op, json.loads(payload))),
        )
        self.svc = ControllerService(
            {"J": two_phase()},
            CFG,
            policy,
            publish=lambda cmd, p: self.sent.append(cmd),
            desk=self.desk,
            metrics=metrics,
        )
        self.phase, self.since, self.t = 0, 0.0, 0.0

    def tick(self, t: float) -> list:
        """One second: feed, the status of the signal as commanded so far, tick."""
        self.t = t
        j = self.svc.junctions["J"]
        self.svc.advance_clock(t)
        self.svc.on_detectors(encode_detector_message("J", t, 1.0, {d.id: ({"car": 1}, 0.3, 5.0) for d in j.detectors}))
        self.svc.on_status(encode_status(SignalStatus("J", t, self.phase, False, t - self.since, "p", 0, "adaptive")))
        before = len(self.sent)
        self.svc.tick(t)
        return self.sent[before:]

    def follow(self, cmds: list) -> None:
        """The roadside switches at once to the phase commanded (the test's simplification)."""
        for c in cmds:
            if isinstance(c, PhaseCommand) and c.phase != self.phase:
                self.phase, self.since = c.phase, self.t

    def submit(self, req: OverrideRequest, operator: str = "alice"):
        return self.desk.submit(encode_override(req), operator, req.junction, self.svc.core, self.t)


def hold(phase: int, for_s: float | None = 120.0, t: float = 0.0, rid: str = "r1") -> OverrideRequest:
    return OverrideRequest("J", "alice", "hold", rid, t, for_s=for_s, phase=phase)


def plan(greens, order=(0, 1), for_s: float | None = 300.0, t: float = 0.0) -> OverrideRequest:
    return OverrideRequest("J", "alice", "plan", "p1", t, for_s=for_s, phase_order=tuple(order), greens_s=tuple(greens))


def test_hold_goes_through_the_gate_min_green_then_max_green_then_back():
    rig = Rig()
    for t in range(1, 4):
        rig.follow(rig.tick(float(t)))
    rig.phase, rig.since = 0, 3.0  # phase 0 just began
    ans = rig.submit(hold(1, for_s=300.0, t=4.0))
    assert "phase 1 green at most 60 s at a time, max red 120 s" in ans.reason
    assert ans.accepted and rig.replies[-1] == ("alice", rig.replies[-1][1]) and rig.replies[-1][1]["accepted"]
    held = []
    for t in range(4, 200):
        cmds = rig.tick(float(t))
        rig.follow(cmds)
        assert all(c.plan_id.startswith("J-manual-alice") for c in cmds), cmds  # the policy is silenced
        held.append(rig.phase)
    first_switch = held.index(1)
    assert first_switch + 4 >= 7  # phase 0 kept its 7 s minimum green before the hold took it
    # max green 60 s: the hold gives phase 0 its turn (max red), then comes back to phase 1
    runs, k = [], 0
    while k < len(held):
        n = 1
        while k + n < len(held) and held[k + n] == held[k]:
            n += 1
        runs.append((held[k], n))
        k += n
    assert all(n <= 61 for p, n in runs if p == 1)
    assert [p for p, _ in runs[:4]] == [0, 1, 0, 1]
    assert sum(n for p, n in runs if p == 1) > 0.75 * sum(n for _, n in runs[1:])


def test_an_operator_plan_below_min_green_is_refused_naming_the_rule():
    rig = Rig()
    rig.tick(1.0)
    ans = rig.submit(plan((5.0, 30.0)))
    assert not ans.accepted
    assert ans.reason == "min green 5 s < 7 s required for J phase 0 (movements N_T, S_T)"
    assert rig.replies[-1][1]["reason"] == ans.reason and not rig.desk.active
    assert "max green 90 s > 60 s allowed for J phase 1" in rig.submit(plan((30.0, 90.0))).reason
    assert "cycle" in rig.submit(plan((60.0, 60.0))).reason  # 130 s > cycle_max_s 120 s


def test_an_operator_plan_runs_as_written_and_is_refreshed():
    rig = Rig()
    rig.tick(1.0)
    assert rig.submit(plan((20.0, 40.0), t=1.0)).accepted
    cmds = [c for t in range(2, 20) for c in rig.tick(float(t))]
    assert cmds and all(isinstance(c, CyclePlan) and c.greens_s == (20.0, 40.0) for c in cmds)
    assert len({c.plan_id for c in cmds}) == 1
    seqs = [c.seq for c in cmds]
    assert seqs == sorted(set(seqs)) and 3 <= len(cmds) <= 5  # re-sent every refresh_s (5 s)


def test_durations_default_and_maximum_from_config():
    rig = Rig(params=OperatorParams(default_s=30.0, max_s=100.0))
    rig.tick(1.0)
    ans = rig.submit(hold(1, for_s=None, t=1.0))
    assert ans.accepted and ans.until_s == pytest.approx(31.0)
    refused = rig.submit(hold(1, for_s=101.0, t=1.0))
    assert not refused.accepted and "operators.max_s" in refused.reason


def test_an_override_expires_and_the_policy_takes_over_again():
    rig = Rig()
    rig.tick(1.0)
    assert rig.submit(hold(1, for_s=20.0, t=1.0)).accepted
    manual = [c for t in range(2, 21) for c in rig.tick(float(t))]
    assert manual and all("manual" in c.plan_id for c in manual)
    after = [c for t in range(21, 40) for c in rig.tick(float(t))]
    assert not rig.desk.active
    assert after and "manual" not in after[-1].plan_id
    assert all(b.seq > a.seq for a, b in zip(manual + after, (manual + after)[1:]))


def test_the_mode_gauge_says_manual_while_an_override_is_in_force():
    from prometheus_client import CollectorRegistry

    from controller.adapters.metrics import ServiceMetrics

    reg = CollectorRegistry()
    rig = Rig(metrics=ServiceMetrics(reg, {"J": two_phase()}, CFG))

    def mode():
        return {
            m
            for m in ("adaptive", "fallback", "manual", "fixed")
            if reg.get_sample_value("tsc_junction_mode", {"junction": "J", "mode": m}) == 1
        }

    for t in range(1, 4):
        rig.follow(rig.tick(float(t)))
    assert mode() == {"adaptive"} and rig.svc.last_result.manual == ()
    assert rig.submit(hold(1, for_s=20.0, t=3.0)).accepted
    for t in range(4, 20):
        rig.follow(rig.tick(float(t)))
        assert mode() == {"manual"} and rig.svc.last_result.manual == ("J",)
    for t in range(24, 30):  # expired at 23 s: back to the policy
        rig.follow(rig.tick(float(t)))
    assert mode() == {"adaptive"} and rig.svc.last_result.manual == ()


def test_ctl_status_reads_manual_not_failed_while_an_override_is_in_force():
    """operators.junction_table: a junction of the last tick's TickResult.failed reads `failed` with
    the reason, unless an operator's override is in force there: its commands replace the policy's,
    so it reads `manual` (as the mode gauge does, adapters/metrics.junction_mode)."""
    from controller.operators import junction_table

    rig = Rig()
    for t in range(1, 4):
        rig.follow(rig.tick(float(t)))
    reason = "policy adaptive failed: ValueError at x.py:1: injected"

    def row() -> dict:
        return junction_table(rig.svc.core, rig.svc.state, rig.desk, {}, rig.t, {"J": reason})["J"]

    assert (row()["mode"], row()["why"]) == ("failed", reason)
    assert rig.submit(hold(1, for_s=20.0, t=3.0)).accepted
    rig.follow(rig.tick(4.0))
    assert row()["mode"] == "manual" and row()["why"].startswith("alice's hold"), row()


def test_release_withdraws_the_override_and_is_recorded_with_the_operator():
    from controller.adapters.audit import AuditStore

    store = AuditStore(":memory:")
    rig = Rig(policy="webster", audit=store)
    rig.tick(1.0)
    assert rig.submit(plan((20.0, 40.0), t=1.0), operator="bob").accepted
    rig.tick(2.0)
    rel = rig.submit(OverrideRequest("J", "bob", "release", "r9", 2.0))
    assert rel.accepted and "released" in rel.reason
    cmds = rig.tick(3.0)
    assert cmds and cmds[-1].plan_id.startswith("J-manual") and cmds[-1].expires_s <= 3.0 + DECISION_PERIOD_S
    actions = [(r.actor, r.payload["action"]) for r in store.query(kind="operator")]
    assert actions == [("bob", "plan"), ("alice", "release")]


def test_a_flash_goes_out_refreshed_expires_and_hands_back_to_the_policy():
    rig = Rig(params=OperatorParams(default_s=30.0))
    rig.tick(1.0)
    ans = rig.submit(OverrideRequest("J", "alice", "flash", "f1", 1.0))
    assert ans.accepted and ans.until_s == 31.0 and "flash in force for 30 s" in ans.reason
    sent = [c for t in range(2, 31) for c in rig.tick(float(t))]
    flashes = [c for c in sent if c.junction == "J"]
    assert flashes and all(isinstance(c, FlashCommand) and c.plan_id == "J-manual-alice-f1" for c in flashes)
    assert flashes[0].valid_from_s == 2.0 and flashes[0].expires_s == 2.0 + CFG.roadside.plan_ttl_s
    assert len(flashes) >= 2 and all(b.seq > a.seq for a, b in itertools.pairwise(flashes))  # refreshed
    after = [c for t in range(31, 34) for c in rig.tick(float(t))]
    assert not rig.desk.active
    # withdrawn (re-sent once, expiring at the next decision), then the policy's plan again
    assert isinstance(after[0], FlashCommand) and after[0].expires_s <= 32.0
    assert isinstance(after[-1], PhaseCommand) and after[-1].plan_id.startswith("J-adaptive")


def test_unknown_junctions_and_phases_are_refused_with_a_reason():
    rig = Rig()
    rig.tick(1.0)
    other = rig.desk.submit(
        encode_override(OverrideRequest("K", "alice", "hold", "k1", 1.0, phase=0)), "alice", "K", rig.svc.core, 1.0
    )
    assert not other.accepted and "not under this service's control" in other.reason
    bad_phase = rig.submit(hold(7, t=1.0))
    assert not bad_phase.accepted and "phase 7 is not a phase of J" in bad_phase.reason


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda b: b.replace(b'"t":1.0', b'"t":1000.0'), "future_timestamp"),
        (lambda b: b.replace(b'"greens_s":[20.0,40.0]', b'"greens_s":[NaN,40.0]'), "not_finite"),
        (lambda b: b.replace(b'"junction":"J"', b'"junction":"K"'), "topic_mismatch"),
        (lambda b: b.replace(b'"action":"plan"', b'"action":"boom"'), "out_of_range"),
        (lambda b: b[:20], "malformed_json"),
        (lambda b: b"[" + b + b"]", "wrong_type"),  # JSON, not an object: the desk's answer has no id
    ],
)
def test_malformed_overrides_are_refused_by_reason(mutate, reason):
    payload = mutate(encode_override(plan((20.0, 40.0), t=1.0)))
    with pytest.raises(FeedError) as err:
        decode_override(payload, "alice", "J", now_s=1.0)
    assert err.value.reason == reason
    rig = Rig()
    rig.tick(1.0)
    ans = rig.desk.submit(payload, "alice", "J", rig.svc.core, 1.0)
    assert not ans.accepted and reason in ans.reason and rig.desk.rejected == {reason: 1}


def test_the_reply_round_trips():
    req = plan((20.0, 40.0), t=1.0)
    back = decode_override(encode_override(req), "alice", "J", now_s=1.0)
    assert back == req
    assert math.isfinite(back.greens_s[0])


def test_overrides_in_force_are_restored_from_the_audit_trail_after_a_restart():
    from controller.adapters.audit import AuditStore

    store = AuditStore(":memory:")
    first = Rig(audit=store)
    first.tick(1.0)
    assert first.submit(hold(1, for_s=100.0, t=1.0)).accepted
    assert first.submit(plan((20.0, 40.0), t=1.0)).accepted  # replaces the hold
    assert first.submit(hold(0, for_s=5.0, t=1.0, rid="short")).accepted  # ... and this one, which will expire
    assert not first.submit(plan((2.0, 40.0), t=1.0)).accepted  # refused: changes nothing

    again = Rig(audit=store)  # a new service process on the same audit store
    assert again.desk.restore(store.query(kind="operator"), again.svc.core, now_s=3.0) == ["J"]
    assert again.desk.active["J"].action == "hold" and again.desk.active["J"].until_s == pytest.approx(6.0)
    assert again.desk.restore(store.query(kind="operator"), again.svc.core, now_s=7.0) == []  # past its end

    store.append("operator", "J", "bob", {"action": "release", "accepted": True}, 2.0)
    third = Rig(audit=store)
    assert third.desk.restore(store.query(kind="operator"), third.svc.core, now_s=3.0) == []

    assert third.submit(OverrideRequest("J", "carol", "flash", "f1", 3.0, for_s=60.0), "carol").accepted
    fourth = Rig(audit=store)
    assert fourth.desk.restore(store.query(kind="operator"), fourth.svc.core, now_s=10.0) == ["J"]
    assert fourth.desk.active["J"].action == "flash" and fourth.desk.active["J"].operator == "carol"


def test_the_operator_console_clock_skew_is_a_parameter(tmp_path):
    """config.toml [operators] console_clock_skew_s: how far ahead an override may be stamped."""
    (tmp_path / "c.toml").write_text("[operators]\nconsole_clock_skew_s = 2.0\n")
    params = load_config(tmp_path / "c.toml").operators
    assert params.console_clock_skew_s == 2.0
    strict = Rig(params=params)
    strict.tick(10.0)
    ahead = strict.submit(hold(0, t=13.0))  # the console's clock 3 s ahead
    assert not ahead.accepted and "future_timestamp" in ahead.reason
    assert strict.submit(hold(0, t=11.5, rid="r2")).accepted
    default = Rig()
    default.tick(10.0)
    assert default.submit(hold(0, t=13.0)).accepted  # 5 s by default
    (tmp_path / "bad.toml").write_text("[operators]\nconsole_clock_skew_s = -1.0\n")
    with pytest.raises(ConfigError, match="operators.console_clock_skew_s"):
        load_config(tmp_path / "bad.toml")


def test_a_forced_plan_carries_its_stated_reason_in_the_request():
    req = dataclasses.replace(plan((20.0, 40.0), t=1.0), force_reason="stadium exit, police directing")
    body = json.loads(encode_override(req))
    assert body["force"] is True and body["reason"] == "stadium exit, police directing"
    assert decode_override(encode_override(req), "alice", "J", now_s=1.0) == req
    unforced = json.loads(encode_override(plan((20.0, 40.0), t=1.0)))
    assert "force" not in unforced and "reason" not in unforced
    for extra in ({"force": True}, {"force": True, "reason": "  "}, {"force": False, "reason": "why not"}):
        payload = json.dumps({**unforced, **extra}).encode()  # force without a reason is no force
        assert decode_override(payload, "alice", "J", now_s=1.0).force_reason == ""


@pytest.mark.parametrize(
    "extra, reason",
    [
        ({"force": "yes", "reason": "x"}, "wrong_type"),
        ({"force": True, "reason": 5}, "wrong_type"),
        ({"force": True, "reason": "x" * 201}, "out_of_range"),
    ],
)
def test_a_malformed_force_is_refused_by_reason(extra, reason):
    payload = json.dumps({**json.loads(encode_override(plan((20.0, 40.0), t=1.0))), **extra}).encode()
    with pytest.raises(FeedError) as err:
        decode_override(payload, "alice", "J", now_s=1.0)
    assert err.value.reason == reason

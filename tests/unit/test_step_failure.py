"""step.Core's per-junction loop when one junction's decision raises (DESIGN.md, safety: a junction
that cannot be controlled safely stays on its own program, named with the reason; the run goes on).
The junction's command in force is withdrawn as in fixed mode, it is named in TickResult.failed, and
the other junctions get what they would have got; once its policy decides again, so does the core."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from controller.config import Config
from controller.core import harm
from controller.core.estimation import Estimate, Layout
from controller.core.policies import NetworkDecision, Policy, make_policy
from controller.core.safety import SignalView
from controller.core.step import DECISION_PERIOD_S, Core, CoreState, TickResult
from controller.model import SignalStatus, Wish
from controller.service import ControllerService
from sim.junction_control import junction_summary
from tests.estimate_fixtures import mixed_junctions, random_snapshot, ring_chained

BAD = "a credit from a foreign layout"  # webster's ValueError in the control path (green_floors_s), or any


class _Faulty:
    """`inner` whose decide() raises ValueError at junction `bad` while `armed`; its network pass
    (if it has one) raises too when `bad` is among its junctions."""

    def __init__(self, inner: Policy, bad: str) -> None:
        self.inner, self.bad, self.armed = inner, bad, False
        self.coordinate_armed = False  # coordinate() raises (a network-wide stage)
        self.name, self.runs_own_program = inner.name, inner.runs_own_program
        self.uses_network, self.reads_links = inner.uses_network, inner.reads_links
        self.reads_signals = inner.reads_signals
        self.coordinate_period_s = inner.coordinate_period_s

    def _check(self, jid: str) -> None:
        if self.armed and jid == self.bad:
            raise ValueError(f"junction {jid}: {BAD}")

    def cannot_serve(self, layout: Layout) -> str:
        return self.inner.cannot_serve(layout)

    def watches_first(self, layout: Layout) -> str:
        return self.inner.watches_first(layout)

    def init(self, layout: Layout, now_s: float) -> Any:
        return self.inner.init(layout, now_s)

    def decide(self, state: Any, layout: Layout, est: Estimate, signal: SignalView | None, now_s: float, **kw: Any):
        self._check(layout.junction.id)
        return self.inner.decide(state, layout, est, signal, now_s, **kw)

    def stage_view(self, *args: Any, **kw: Any) -> Any:
        return self.inner.stage_view(*args, **kw)

    def decide_paired(self, *args: Any, **kw: Any) -> Any:
        return self.inner.decide_paired(*args, **kw)

    def with_short_groups(self, groups: Mapping[str, tuple[str, ...]]) -> _Faulty:
        assert not groups
        return self

    def network_decision(self, layouts: Mapping[str, Layout]) -> NetworkDecision | None:
        nd = self.inner.network_decision(layouts)
        return None if nd is None else _FaultyPass(nd, self)

    def coordinate(self, network: Any, states: Mapping[str, Any], now_s: float) -> Mapping[str, Any]:
        if self.coordinate_armed:
            raise ValueError(f"coordinate: {BAD}")
        return self.inner.coordinate(network, states, now_s)


class _FaultyPass:
    def __init__(self, inner: NetworkDecision, policy: _Faulty) -> None:
        self.inner, self.policy = inner, policy

    @property
    def jids(self) -> tuple[str, ...]:
        return self.inner.jids

    def decide_all(
        self, states: Sequence[Any], estimates: Sequence[Estimate], signals: Sequence[SignalView | None], now_s: float
    ) -> Sequence[tuple[Any, Wish | None]]:
        for jid in self.jids:
            self.policy._check(jid)
        return self.inner.decide_all(states, estimates, signals, now_s)


def _cores(policy: str) -> tuple[tuple[Core, _Faulty], tuple[Core, _Faulty], dict]:
    """Two cores on five junctions in a ring: one to break, one to compare with."""
    cfg = Config()
    js = ring_chained(mixed_junctions())
    out = []
    for _ in range(2):
        faulty = _Faulty(make_policy(policy, cfg), "")
        out.append((Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, faulty, cfg), faulty))
    return out[0], out[1], js


def _inputs(js: dict, rng: random.Random, t: int) -> tuple[list, list]:
    snaps = [random_snapshot(rng, j, float(t)) for j in js.values()]
    statuses = [
        SignalStatus(jid, float(t), (t // 15 + k) % 2, t % 15 < 3, float(t % 15), "", 0, "local")
        for k, jid in enumerate(js)
    ]
    return snaps, statuses


def _both(cores, states, js, rng, t) -> tuple[list[CoreState], list[TickResult]]:
    snaps, statuses = _inputs(js, rng, t)
    out = [core.step(state, snaps, statuses, float(t)) for (core, _), state in zip(cores, states)]
    return [s for s, _ in out], [r for _, r in out]


def _others(result: TickResult, bad: str) -> list:
    return [c for c in result.commands if c.junction != bad]


@pytest.mark.parametrize("policy", ["adaptive", "scats", "webster", "schedule", "max_pressure"])
def test_a_junction_whose_decision_raises_is_left_on_its_program_and_the_tick_goes_on(policy: str) -> None:
    broken, sound, js = _cores(policy)
    rng = random.Random(5)
    states = [broken[0].initial_state(0.0), sound[0].initial_state(0.0)]
    in_force: list[str] = []
    t = 0
    while t < 60 or (not in_force and t < 1200):  # webster plans once per period (300 s)
        t += 1
        states, _ = _both((broken, sound), states, js, rng, t)
        in_force = sorted(jid for jid, s in states[0].junctions.items() if s.command is not None)
    assert in_force, policy  # a command in force to withdraw
    bad = in_force[0]
    before = states[0].junctions[bad]
    assert before.command is not None
    broken[1].bad, broken[1].armed = bad, True

    t += 1
    states, (res, ref) = _both((broken, sound), states, js, rng, t)
    assert res.failed == ((bad, res.failed[0][1]),), policy
    reason = res.failed[0][1]
    assert reason.startswith(f"policy {policy} failed: ValueError at test_step_failure.py:") and BAD in reason
    mine = [c for c in res.commands if c.junction == bad]
    assert len(mine) == 1, (policy, mine)  # the command in force, re-sent once to expire: withdrawn
    assert mine[0].seq == before.seq + 1 and mine[0].expires_s == t + DECISION_PERIOD_S
    assert dataclasses.replace(mine[0], seq=0, valid_from_s=0.0, expires_s=0.0) == dataclasses.replace(
        before.command, seq=0, valid_from_s=0.0, expires_s=0.0
    )
    assert states[0].junctions[bad].command is None
    assert states[0].junctions[bad].policy_state is before.policy_state  # the last good state kept
    assert _others(res, bad) == _others(ref, bad), policy  # the others as if nothing had failed
    assert not ref.failed and not any(j == bad for j, _ in res.refusals)

    start = t + 1
    for t in range(start, start + 30):  # nothing sent while it raises; named every tick
        states, (res, ref) = _both((broken, sound), states, js, rng, t)
        assert [j for j, _ in res.failed] == [bad], (policy, t)
        assert all(c.junction != bad for c in res.commands), (policy, t)
        assert _others(res, bad) == _others(ref, bad), (policy, t)
    broken[1].armed = False
    sent, state = False, states[0]
    for t in range(start + 30, start + 700):  # decided again: a command again (the sound core no longer read)
        state, res = broken[0].step(state, *_inputs(js, rng, t), float(t))
        assert not res.failed
        sent = sent or any(c.junction == bad for c in res.commands)
    assert sent, policy


def test_the_service_names_a_failing_junction_once_per_reason(caplog: pytest.LogCaptureFixture) -> None:
    svc = ControllerService(mixed_junctions(), Config(), "webster", publish=lambda cmd, payload: None)
    reason = f"policy webster failed: ValueError: junction A: {BAD}"
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        for t in range(3):
            svc._log_failures(TickResult(failed=(("A", reason),)), float(t))
        svc._log_failures(TickResult(), 3.0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"junction=A left on its own program t=0: {reason}", "junction=A decided again t=3"]
    assert svc.failures == {"A": (3, 0.0, reason)}
    entry = junction_summary(svc)["A"]  # summary.json's junction_control
    assert (entry["failed_ticks"], entry["failed_first_t_s"], entry["failed_reason"]) == (3, 0.0, reason)
    assert all("failed_ticks" not in e for j, e in junction_summary(svc).items() if j != "A")


def test_the_service_names_a_failing_network_pass_once(caplog: pytest.LogCaptureFixture) -> None:
    svc = ControllerService(mixed_junctions(), Config(), "webster", publish=lambda cmd, payload: None)
    reason = "policy webster failed: ValueError: a pass"
    with caplog.at_level(logging.WARNING, logger="controller.service"):
        for t in range(3):
            svc._log_failures(TickResult(network_failed=reason), float(t))
        svc._log_failures(TickResult(), 3.0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"network pass failed t=0, junctions decided one by one: {reason}",
        "network pass decides again t=3",
    ]
    assert svc.failures == {}  # no junction was left on its own program


def test_a_network_pass_that_raises_is_named_in_the_tick() -> None:
    broken, _, js = _cores("webster")
    state = broken[0].initial_state(0.0)
    rng = random.Random(3)
    bad = next(iter(js))
    broken[1].bad, broken[1].armed = bad, True
    snaps, statuses = _inputs(js, rng, 1)
    _, res = broken[0].step(state, snaps, statuses, 1.0)
    assert res.network_failed.startswith("policy webster failed: ValueError") and BAD in res.network_failed
    assert [j for j, _ in res.failed] == [bad]  # decided one by one: the junction at fault named
    broken[1].armed = False
    _, res = broken[0].step(state, *_inputs(js, rng, 2), 2.0)
    assert res.network_failed == "" and not res.failed


def test_what_a_failing_junction_logged_before_it_raised_is_dropped() -> None:
    """Its do-no-harm guard ran before its policy raised (here a return approved, which it logs as a
    mode change): the change is not reported, as the state keeps the mode it had (decided next tick)."""
    broken, sound, js = _cores("adaptive")
    rng = random.Random(5)
    states = [broken[0].initial_state(0.0), sound[0].initial_state(0.0)]
    for t in range(1, 61):
        states, _ = _both((broken, sound), states, js, rng, t)
    bad = sorted(jid for jid, s in states[0].junctions.items() if s.command is not None)[0]
    hs = states[0].junctions[bad].harm
    assert hs is not None
    hs = dataclasses.replace(hs, mode="fixed", since_s=0.0, hold_s=1e9, reason="test", approved=True)
    states = [
        dataclasses.replace(s, junctions={**s.junctions, bad: dataclasses.replace(s.junctions[bad], harm=hs)})
        for s in states
    ]
    broken[1].bad, broken[1].armed = bad, True
    states, (res, ref) = _both((broken, sound), states, js, rng, 61)
    assert [c.junction for c in ref.mode_changes] == [bad] and ref.mode_changes[0].mode == "policy"  # unbroken
    assert [j for j, _ in res.failed] == [bad] and not res.mode_changes
    assert states[0].junctions[bad].harm.mode == "fixed"
    broken[1].armed = False
    states, (res, ref) = _both((broken, sound), states, js, rng, 62)
    assert [c.junction for c in res.mode_changes] == [bad] and not res.failed


def _raise_when(armed: list[bool], real: Any) -> Any:
    """`real`, raising ValueError(BAD) while armed[0]."""

    def call(*args: Any, **kw: Any) -> Any:
        if armed[0]:
            raise ValueError(BAD)
        return real(*args, **kw)

    return call


@pytest.mark.parametrize(
    "policy, stage, patched",
    [
        ("adaptive", "the estimator", "netestimate.fold"),
        ("webster", "the estimator", "netestimate.fold"),
        ("scats", "policy scats's coordination", None),  # its coordinate() raises
        ("max_pressure", "do no harm's network guard", "harm.network_verdict"),
        ("schedule", "the exits' reading", "keepclear.blocked_shares"),
    ],
)
def test_a_network_stage_that_raises_leaves_every_junction_on_its_program(
    policy: str, stage: str, patched: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stage of the tick before any decision that raises (DESIGN.md, safety): no junction can be
    decided, so every one is left on its own program as if its decision had raised: its command in
    force re-sent once to expire, nothing else sent, named in TickResult.failed with the stage's
    reason; its policy state kept, and the learnt links and advice. The tick goes on, and the core
    decides again and sends commands once the stage works."""
    from controller.core import step as step_module

    armed = [False]
    if patched is not None:
        module, name = patched.split(".")
        target = getattr(step_module, module)
        monkeypatch.setattr(target, name, _raise_when(armed, getattr(target, name)))
    cfg = Config()
    if patched == "harm.network_verdict":
        assert cfg.harm.network_share > 0  # the guard runs
    if patched == "keepclear.blocked_shares":
        cfg = dataclasses.replace(cfg, estimation=dataclasses.replace(cfg.estimation, keep_clear=True))
    js = ring_chained(mixed_junctions())
    faulty = _Faulty(make_policy(policy, cfg), "")
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, faulty, cfg)
    rng = random.Random(5)
    state = core.initial_state(0.0)
    t = 0
    while t < 60 or (not any(s.command for s in state.junctions.values()) and t < 1200):
        t += 1
        state, res = core.step(state, *_inputs(js, rng, t), float(t))
        assert not res.failed
    before = state
    in_force = {jid: s.command for jid, s in before.junctions.items() if s.command is not None}
    assert in_force, policy
    armed[0] = faulty.coordinate_armed = True
    if patched is None:  # scats coordinates every coordinate_period_s: due now
        state = dataclasses.replace(state, advice_t_s=float("-inf"))
    t += 1
    state, res = core.step(state, *_inputs(js, rng, t), float(t))
    assert sorted(j for j, _ in res.failed) == sorted(js), policy
    reasons = {r for _, r in res.failed}
    assert len(reasons) == 1 and next(iter(reasons)).startswith(f"{stage} failed: ValueError at "), reasons
    assert BAD in next(iter(reasons))
    assert sorted(c.junction for c in res.commands) == sorted(in_force)  # each withdrawn once
    for c in res.commands:
        assert c.expires_s == t + DECISION_PERIOD_S and c.plan_id == in_force[c.junction].plan_id
    assert not res.refusals and not res.mode_changes and res.new_plans == 0
    assert all(s.command is None for s in state.junctions.values())
    for jid, s in state.junctions.items():
        assert s.policy_state is before.junctions[jid].policy_state, jid
        # a stage after the estimator raised: this tick's readings are folded in all the same (not lost)
        assert (s.estimate is before.junctions[jid].estimate) == (stage == "the estimator"), (stage, jid)
    assert (state.links, state.advice) == (before.links, before.advice)
    t += 1
    state, res = core.step(state, *_inputs(js, rng, t), float(t))  # still raising: nothing sent
    assert sorted(j for j, _ in res.failed) == sorted(js) and not res.commands
    armed[0] = faulty.coordinate_armed = False
    sent, start = False, t + 1
    for t in range(start, start + 700):  # decided again: commands again
        state, res = core.step(state, *_inputs(js, rng, t), float(t))
        assert not res.failed, (policy, t)
        sent = sent or bool(res.commands)
        if sent:
            break
    assert sent, policy


def test_ctl_status_shows_a_failing_junction_as_failed_with_its_reason() -> None:
    """The operators' table (`ctl status`, operators.junction_table through live.ServiceNode): a
    junction of the last tick's TickResult.failed reads mode `failed`, `why` the reason; the others
    what they read before."""
    import json

    from controller.adapters.mqtt import MqttSettings
    from controller.live import ServiceNode

    js = mixed_junctions()
    settings = MqttSettings(host="127.0.0.1", port=1, username="controller", password="", client_id="c")
    node = ServiceNode(Config(), js, settings, start_s=0.0, lockstep=True)  # never connected
    before = json.loads(node.junction_table())["junctions"]
    bad = sorted(js)[0]
    reason = f"policy adaptive failed: ValueError at x.py:1: {BAD}"
    node.service.last_result = TickResult(failed=((bad, reason),))
    rows = json.loads(node.junction_table())["junctions"]
    assert (rows[bad]["mode"], rows[bad]["why"]) == ("failed", reason)
    assert {j: r["mode"] for j, r in rows.items() if j != bad} == {j: r["mode"] for j, r in before.items() if j != bad}


def test_a_stage_that_raises_after_do_no_harm_switched_a_junction_keeps_no_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The network guard switches a junction to the fixed plan, then a later stage (the exits' reading)
    raises: the tick's switch is not reported, so the state keeps the mode the junction had (the guards
    switch modes in a copy of the observed states; Core._all_failed takes those)."""
    from controller.core import step as step_module

    cfg = Config()
    cfg = dataclasses.replace(cfg, estimation=dataclasses.replace(cfg.estimation, keep_clear=True))
    js = ring_chained(mixed_junctions())
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, make_policy("max_pressure", cfg), cfg)
    rng = random.Random(5)
    state = core.initial_state(0.0)
    for t in range(1, 31):
        state, _ = core.step(state, *_inputs(js, rng, t), float(t))
    victim = sorted(js)[0]
    assert state.junctions[victim].harm is not None and state.junctions[victim].harm.mode == "policy"

    def verdict(states: Mapping[str, Any], now_s: float, params: Any) -> dict[str, Any]:
        return {victim: (dataclasses.replace(states[victim], mode="fixed"), "the network's share")}

    def blocked(*args: Any, **kw: Any) -> Any:
        raise ValueError(BAD)

    monkeypatch.setattr(step_module.harm, "network_verdict", verdict)
    monkeypatch.setattr(step_module.keepclear, "blocked_shares", blocked)
    state, res = core.step(state, *_inputs(js, rng, 31), 31.0)
    assert sorted(j for j, _ in res.failed) == sorted(js)
    assert res.failed[0][1].startswith("the exits' reading failed: ValueError")
    assert not res.mode_changes
    assert state.junctions[victim].harm.mode == "policy"


@pytest.mark.parametrize("stage", ["the estimator", "one junction's decision"])
def test_after_a_failure_do_no_harm_judges_only_the_seconds_after_it(
    stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a failure leaves a junction on its own program its roadside runs the city's program, not the
    policy's, and after an estimator's outage the replay crosses the outage in one interval: at the first
    tick it is decided again, a junction in policy mode has its evidence paused over the outage
    (harm.resume, session 44: the test and the replay's sums as before it, the outage's seconds in
    paused_s, left out of its time under the policy; since_s the mode's start); one in fixed mode keeps
    its hold. The junctions that did not fail keep theirs."""
    from controller.core import step as step_module

    armed = [False]
    if stage == "the estimator":
        monkeypatch.setattr(step_module.netestimate, "fold", _raise_when(armed, step_module.netestimate.fold))
    broken, _, js = _cores("adaptive")
    core, faulty = broken
    rng = random.Random(5)
    state = core.initial_state(0.0)
    for t in range(1, 121):
        state, res = core.step(state, *_inputs(js, rng, t), float(t))
    ids = sorted(js)
    held = ids[1]  # in fixed mode through the failure: its hold stands
    hs = dataclasses.replace(state.junctions[held].harm, mode="fixed", since_s=100.0, hold_s=1e6, reason="test")
    state = dataclasses.replace(
        state, junctions={**state.junctions, held: dataclasses.replace(state.junctions[held], harm=hs)}
    )
    failing = set(ids) if stage == "the estimator" else {ids[0]}
    armed[0], faulty.bad, faulty.armed = True, ids[0], stage != "the estimator"
    for t in range(121, 321):
        state, res = core.step(state, *_inputs(js, rng, t), float(t))
        assert {j for j, _ in res.failed} == failing
    before = {jid: s.harm for jid, s in state.junctions.items()}
    assert all(h is not None and h.excess_t_s < 321 for h in before.values())
    armed[0] = faulty.armed = False
    state, res = core.step(state, *_inputs(js, rng, 321), 321.0)
    assert not res.failed and not res.mode_changes
    for jid, s in state.junctions.items():
        h = s.harm
        assert h is not None and not s.failed
        if jid == held:
            assert (h.mode, h.since_s, h.hold_s) == ("fixed", 100.0, 1e6)
        elif jid in failing:
            b = before[jid]
            assert (h.mode, h.since_s, h.excess_t_s) == ("policy", 0.0, h.replay.t_s), jid
            # the estimator's outage: the replay last advanced at 120, crossed 120-321 at once; a decision
            # that raised at 121-320: the replay advanced each tick, each second after it paused
            assert h.paused_s == (201.0 if stage == "the estimator" else 200.0), jid
            assert harm.policy_s(h, 321.0) == 321.0 - h.paused_s
            assert h.reason == b.reason and h.switches == b.switches
            if stage == "the estimator":  # nothing added to the evidence since 120, nothing forgotten
                assert h.excess_s == b.excess_s
                np.testing.assert_array_equal(h.replay.sides.delay_pcu_s, b.replay.sides.delay_pcu_s)
                assert (h.replay.span_s, h.replay.agree_s) == (b.replay.span_s, b.replay.agree_s)
                assert h.replay.t_s == 321.0 and b.replay.t_s == 120.0
        else:
            assert h.since_s == 0.0, jid  # decided all along: its evidence goes on


def test_a_network_wide_failure_is_one_warning_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    """A stage run for the whole network that raises names every junction with one reason: one warning
    with the count and the reason (not one per junction: 5,000 lines at 5,000 junctions), each junction at
    debug level; the same when they are decided again. A pair's two lights are named in one line."""
    svc = ControllerService(mixed_junctions(), Config(), "webster", publish=lambda cmd, payload: None)
    reason = f"the estimator failed: ValueError at netestimate.py:1: {BAD}"
    ids = [f"J{k:04d}" for k in range(5000)]
    with caplog.at_level(logging.DEBUG, logger="controller.service"):
        for t in (250, 251):
            svc._log_failures(TickResult(failed=tuple((j, reason) for j in ids)), float(t))
        svc._log_failures(
            TickResult(failed=(("A", "policy webster failed: x"), ("B", "policy webster failed: x"))), 252
        )
        svc._log_failures(TickResult(), 253.0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"5000 junctions left on their own programs t=250: {reason} (each at debug level)",
        "junctions=A,B left on their own programs t=252: policy webster failed: x",
        "5000 junctions decided again t=252 (each at debug level)",
        "junctions=A,B decided again t=253",
    ]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 10000 and debug[0] == f"junction=J0000 left on its own program t=250: {reason}"
    assert debug[-1] == "junction=J4999 decided again t=252"
    assert svc.failures["J0001"] == (2, 250.0, reason) and svc.failures["A"] == (1, 252.0, "policy webster failed: x")


def test_summary_json_reads_mode_failed_for_a_junction_failing_at_the_end() -> None:
    """summary.json's junction_control: a junction whose decision raised at the last tick (the service's
    last_result) reads mode `failed`, as in the metrics and `ctl status`, not do no harm's mode; one that
    failed earlier and was decided again reads do no harm's mode, its failed ticks kept."""
    svc = ControllerService(mixed_junctions(), Config(), "webster", publish=lambda cmd, payload: None)
    reason = f"policy webster failed: ValueError: junction A: {BAD}"
    other = sorted(j for j in svc.junctions if j != "A")[0]
    svc._log_failures(TickResult(failed=(("A", reason), (other, reason))), 0.0)
    svc._log_failures(TickResult(failed=(("A", reason),)), 1.0)
    svc.last_result = TickResult(failed=(("A", reason),))  # as ControllerService._tick leaves it
    summary = junction_summary(svc)
    assert summary["A"]["mode"] == "failed" and summary["A"]["failed_ticks"] == 2
    assert summary[other]["mode"] == "policy" and summary[other]["failed_ticks"] == 1
    assert {e["mode"] for j, e in summary.items() if j not in ("A", other)} == {"policy"}


def test_a_junction_failing_every_other_tick_is_still_judged() -> None:
    """R's finding (session 43): harm.resume restarted since_s, so a junction whose decision raised every
    other tick was never judged (min_policy_s never reached), not even by network_verdict. With the
    evidence paused over each outage, its seconds under the policy add up (half of them here), its
    evidence is kept, since_s stays the mode's start, and network_verdict takes it once they reach
    min_policy_s."""
    broken, _, js = _cores("adaptive")
    core, faulty = broken
    rng = random.Random(5)
    state = core.initial_state(0.0)
    bad = sorted(js)[0]
    faulty.bad = bad
    for t in range(1, 801):
        faulty.armed = t > 100 and t % 2 == 0
        state, res = core.step(state, *_inputs(js, rng, t), float(t))
        assert ({j for j, _ in res.failed} == {bad}) == faulty.armed
    h = state.junctions[bad].harm
    assert h is not None and h.mode == "policy" and h.since_s == 0.0
    # the second after each failure (ticks 102, 104, ..., 798) paused when decided again (103, ..., 799);
    # the one at 800 is not decided again yet
    assert h.paused_s == 349.0
    assert harm.policy_s(h, 800.0) == 451.0 >= core.harm.min_policy_s
    others = {jid: dataclasses.replace(s.harm, mode="fixed") for jid, s in state.junctions.items() if jid != bad}
    switched = harm.network_verdict({**others, bad: h}, 800.0, core.harm)
    assert bad in switched and switched[bad][0].mode == "fixed"
    assert switched[bad][0].paused_s == 0.0  # a change of mode: the new mode's seconds from 0

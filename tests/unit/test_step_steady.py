"""step.Core._steady: under a policy with a network pass, a junction whose tick changes nothing but
its policy state (the pass wished nothing, the feed fresh, no phase held, no refresh due, do no
harm's verdict unchanged) takes its state from one pass and never enters Core._junction. The
exceptions (a stale feed, a refresh, a re-plan, fixed mode, a pair) still do, and every state and
result equals the per-junction path's to the bit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core import harm
from controller.core.estimation import Layout
from controller.core.harm import HarmParams, HarmState
from controller.core.policies import make_policy
from controller.core.step import Core, CoreState, TickResult
from controller.junctions import load_intersections
from controller.model import PhaseCommand, PhaseWish
from tests.junction_fixtures import timed_junction
from tests.unit.test_step_views_once import _same_runs, _snapshot, _status

ROOT = Path(__file__).resolve().parents[2]
# the city's 20 junctions and a pair (A and B name each other: decided together, never steady)
CITY = {
    **load_intersections(ROOT / "intersections" / "city"),
    "A": timed_junction("A", paired=("B",)),
    "B": timed_junction("B", paired=("A",)),
}
FIELDS = ("command", "sent_s", "seq", "plans", "stale", "policy_state", "status", "red_since_s", "harm", "estimate")
GAP = range(20, 32)  # the first junction's feed missing: stale past feed_stale_s, then fresh again
FIXED_AT, HOLD_S = 40, 4.0  # the second junction put in do no harm's fixed mode for a hold, as a verdict would
HELD_AT = 27  # an operator's phase put in force at the fourth junction
VERDICT_AT = 54  # do no harm's verdict sends every junction to fixed mode (harm.decide patched)


def _run(
    policy: str,
    seconds: int,
    steady: bool,
    monkeypatch: pytest.MonkeyPatch,
    guarded: bool = True,
    cores: list[Core] | None = None,
) -> list[tuple[CoreState, TickResult]]:
    """`seconds` ticks of the city and the pair; `steady` False: the per-junction path for every
    junction; `guarded` False: do no harm off ([harm] enabled), its verdict never stops a junction;
    `cores`: the core run is added to it."""
    cfg = Config()
    cfg = replace(cfg, webster=replace(cfg.webster, period_s=10.0, replan_spread=1.0))
    cfg = replace(cfg, harm=replace(cfg.harm, enabled=guarded))
    core = Core({j: Layout.build(x, cfg) for j, x in CITY.items()}, make_policy(policy, cfg), cfg)
    assert core.net_decision is not None and core.pairs and not core.silent
    if not steady:
        monkeypatch.setattr(core, "_steady", lambda *a: {})
    if cores is not None:
        cores.append(core)
    jids = list(CITY)
    monkeypatch.setattr(harm, "decide", functools.partial(_verdict, harm.decide))
    state, out = core.initial_state(0.0), []
    for t in range(1, seconds + 1):
        snaps = [
            _snapshot(j, [d.id for d in x.detectors], float(t), k)
            for k, (j, x) in enumerate(CITY.items())
            if not (k == 0 and t in GAP)
        ]
        statuses = [_status(j, len(x.phases), t, k) for k, (j, x) in enumerate(CITY.items())]
        state, result = core.step(state, snaps, statuses, float(t))
        if t == FIXED_AT:
            js = state.junctions[jids[1]]
            fixed = replace(js, harm=replace(js.harm, mode="fixed", since_s=float(t), hold_s=HOLD_S))
            state = replace(state, junctions={**state.junctions, jids[1]: fixed})
        if t == HELD_AT:  # an operator's phase put in force, as override.apply does: the gate watches its hold
            js = state.junctions[jids[3]]
            cmd = PhaseCommand(jids[3], "op-1", js.seq + 1, 0, 10.0, float(t), float(t) + 20.0)
            state = replace(state, junctions={**state.junctions, jids[3]: replace(js, command=cmd, sent_s=float(t))})
        out.append((state, result))
    return out


def _verdict(
    decide: Callable[..., tuple[HarmState, str | None]], state: HarmState, now_s: float, params: HarmParams
) -> tuple[HarmState, str | None]:
    """harm.decide, except that at VERDICT_AT every junction in policy mode is judged worse."""
    if now_s == VERDICT_AT and state.mode == "policy":
        return replace(state, mode="fixed", since_s=now_s, hold_s=HOLD_S), "judged worse (test)"
    return decide(state, now_s, params)


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str]]:
    seen: list[tuple[float, str]] = []
    through = Core._junction

    def counted(self, jid, lay, updated, network, now_s, *rest, **kw):
        seen.append((now_s, jid))
        return through(self, jid, lay, updated, network, now_s, *rest, **kw)

    monkeypatch.setattr(Core, "_junction", counted)
    return seen


@pytest.mark.parametrize(("policy", "guarded"), [("webster", True), ("adaptive", True), ("webster", False)])
def test_steady_junctions_give_the_per_junction_paths_states_and_results(
    policy: str, guarded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _calls(monkeypatch)
    fast = _run(policy, 60, True, monkeypatch, guarded)
    took = len(seen)
    full = _run(policy, 60, False, monkeypatch, guarded)
    plans = _same_runs(fast, full, FIELDS)
    assert plans > 20  # the policy decided: not a comparison of empty ticks
    if policy == "webster":  # a cycle plan stands between re-plans: most junction-ticks are steady
        assert took < 0.5 * (len(seen) - took)


def test_only_junctions_with_something_to_do_enter_the_per_junction_path(monkeypatch: pytest.MonkeyPatch) -> None:
    seen, passed = _calls(monkeypatch), []
    steady = Core._steady

    def spied(self, updated, decided, now_s, *rest):
        out = steady(self, updated, decided, now_s, *rest)
        passed.extend((int(now_s), j) for j in out)
        return out

    monkeypatch.setattr(Core, "_steady", spied)
    out = _run("webster", 60, True, monkeypatch)
    jids, ran, took = list(CITY), {(int(t), j) for t, j in seen}, set(passed)
    assert not ran & took  # a steady junction never enters _junction
    assert not {j for _, j in took} & {"A", "B"}  # a pair: decided together (_pair)
    stale = {t for t in GAP if t > GAP[0] + Config().service.feed_stale_s}
    assert stale and {(t, jids[0]) for t in stale} <= ran  # a stale feed
    fixed = {(t, j) for t, (s, _) in enumerate(out[:-1], 2) for j, js in s.junctions.items() if js.harm.mode == "fixed"}
    assert (FIXED_AT + 1, jids[1]) in fixed and not fixed & took  # do no harm's fixed mode
    switched = {(int(c.t_s), c.junction) for _, r in out for c in r.mode_changes}
    assert (VERDICT_AT, jids[2]) in switched and not switched & took  # a verdict of do no harm's
    sent = {(int(c.valid_from_s), c.junction) for _, r in out for c in r.commands}
    assert sent and not sent & took  # every command sent (new or refreshed) went through _junction
    assert len(took) > 0.5 * 60 * (len(jids) - 4)  # the rest: most ticks of most junctions


def test_a_junction_blocked_held_or_holding_a_phase_is_not_steady(monkeypatch: pytest.MonkeyPatch) -> None:
    """A junction the exits' reading blocks (keep_clear and its kin: its estimate changes for the policy),
    that its group holds on the city's plan, or with a phase in force (the gate watches its maximum green
    and red) goes through _junction even when the pass wished nothing; so does one the pass wished
    something for while keeping its policy state."""
    cores: list[Core] = []
    state = _run("webster", 15, True, monkeypatch, cores=cores)[-1][0]
    core, now_s = cores[0], 15.0
    decided = core._decide_network(state.junctions, now_s)
    steady = core._steady(state.junctions, decided, now_s, {}, {})
    jid = next(iter(steady))
    none = (np.zeros(0), np.zeros(0))
    assert jid not in core._steady(state.junctions, decided, now_s, {jid: none}, {})
    assert jid not in core._steady(state.junctions, decided, now_s, {}, {jid: "a group"})
    pstate, _, view = decided[jid]
    wished = {**decided, jid: (pstate, PhaseWish(0), view)}  # a wish with the policy state kept: to be gated
    assert jid not in core._steady(state.junctions, wished, now_s, {}, {})
    js = state.junctions[jid]
    cmd = PhaseCommand(jid, "op-1", js.seq + 1, 0, 10.0, now_s, now_s + 20.0)
    holding = {**state.junctions, jid: replace(js, command=cmd, sent_s=now_s)}
    assert jid not in core._steady(holding, decided, now_s, {}, {})
    assert set(core._steady(state.junctions, decided, now_s, {}, {})) == set(steady)


def test_a_new_policy_state_without_a_wish_is_steady_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tick after a re-plan webster's pass gives a new policy state (its sums of the new period) and
    no wish: the junction is steady, with that state and every other field as it was (_decide's copy)."""
    cores: list[Core] = []
    state = _run("webster", 15, True, monkeypatch, cores=cores)[-1][0]
    core, now_s = cores[0], 16.0
    decided = core._decide_network(state.junctions, now_s)
    new = [j for j, (p, w, _) in decided.items() if w is None and p is not state.junctions[j].policy_state]
    steady = core._steady(state.junctions, decided, now_s, {}, {})
    taken = [j for j in new if j in steady]
    assert taken  # the junctions webster's pass re-planned a tick ago, whose sums it restarted
    for jid in taken:
        js, got = state.junctions[jid], steady[jid]
        assert got.policy_state is decided[jid][0]
        assert all(getattr(got, f) is getattr(js, f) for f in FIELDS if f != "policy_state")

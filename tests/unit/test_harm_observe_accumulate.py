"""harm.observe_all brings each judged junction's cumulative-sum test up to the replay's time in
the record it builds (Core passes `judged`: the junctions whose feed is not stale), where decide's
accumulate did it before, one record copy later: the same floats and the same verdicts, tick by
tick, stale feeds, relapses and network verdicts included (BENCHMARKS.md, issue 12, session 25)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from controller.config import Config
from controller.core import harm
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.step import Core
from controller.model import SignalStatus
from tests.estimate_fixtures import mixed_junctions, random_snapshot, ring_chained

STALE = ("B", 10, 40)  # this junction's feed stops for 40 s (stale after feed_stale_s)


def _run(early: bool) -> tuple[list, list, int]:
    """240 s of random feeds and statuses at five junctions in a ring under max-pressure, do no harm
    quick to judge; per tick the TickResult and every junction's HarmState, and how many tests
    observe_all brought up itself (harm._excess_all, over the junctions at once)."""
    cfg = Config()
    cfg = dataclasses.replace(
        cfg,
        harm=dataclasses.replace(
            cfg.harm, min_policy_s=20.0, excess_budget_s=0.0, margin=0.0, margin_s=0.0, hold_s=30.0, network_share=0.6
        ),
    )
    js = ring_chained(mixed_junctions())
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, make_policy("adaptive", cfg), cfg)
    assert core.guarded
    rng = random.Random(5)
    state, results, states = core.initial_state(0.0), [], []
    early_tests = 0
    excess_all = harm._excess_all

    def counted(*a: object, **k: object) -> list[dict[str, object] | None]:
        nonlocal early_tests
        rows = excess_all(*a, **k)  # type: ignore[arg-type]
        early_tests += sum(r is not None for r in rows)
        return rows

    observe = harm.observe_all
    with pytest.MonkeyPatch.context() as mp:
        if early:
            mp.setattr(harm, "observe_all", lambda *a, **k: _counting(mp, counted, observe, *a, **k))
        else:  # the reference: no junction judged in observe_all, every test brought up by decide
            mp.setattr(harm, "observe_all", lambda *a: observe(*a[:7]))
        for t in range(1, 241):
            jid_off, t0, t1 = STALE
            snaps = [
                random_snapshot(rng, j, float(t)) for jid, j in js.items() if not (jid == jid_off and t0 <= t < t1)
            ]
            statuses = [
                SignalStatus(jid, float(t), (t // (9 + k) + k) % 2, t % (9 + k) < 3, float(t % 9), "", 0, "adaptive")
                for k, jid in enumerate(js)
            ]
            state, result = core.step(state, snaps, statuses, float(t))
            results.append(result)
            states.append({jid: s.harm for jid, s in state.junctions.items()})
    return results, states, early_tests


def _counting(mp: pytest.MonkeyPatch, counted: object, observe: object, *a: object, **k: object) -> list:
    with pytest.MonkeyPatch.context() as inner:
        inner.setattr(harm, "_excess_all", counted)
        return observe(*a, **k)  # type: ignore[operator]


def test_the_test_brought_up_in_observe_all_is_decides() -> None:
    ref_results, ref_states, none = _run(early=False)
    results, states, early = _run(early=True)
    assert none == 0 and early > 0
    changes = [c for r in results for c in r.mode_changes]
    assert {c.mode for c in changes} == {"fixed", "policy"}  # verdicts, returns, and a network verdict
    assert any("network_share" in c.reason for c in changes)
    # the stale junction is left out while under the policy (its test waits for its feed)
    assert any(STALE[0] in r.stale and s[STALE[0]].mode == "policy" for r, s in zip(results, states))
    for a, b in zip(ref_results, results, strict=True):
        assert a == b
    for a_tick, b_tick in zip(ref_states, states, strict=True):
        for jid, a in a_tick.items():
            b = b_tick[jid]
            assert (a.mode, a.excess_s, a.excess_t_s, a.spill_pcu_s, a.switches, a.since_s) == (
                b.mode,
                b.excess_s,
                b.excess_t_s,
                b.spill_pcu_s,
                b.switches,
                b.since_s,
            )

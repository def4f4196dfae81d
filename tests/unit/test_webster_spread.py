"""webster: the junctions' re-plans spread over the period (controller/core/policies/webster.py,
`[webster] replan_spread`; issue 12: a region's tick computing every junction's plan at once)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from itertools import pairwise

import pytest

from controller.config import Config, with_section
from controller.core.estimation import Estimate, Layout
from controller.core.policies.webster import WebsterPolicy, first_period_s
from controller.errors import ConfigError
from tests.junction_fixtures import flows, green, two_phase_as

CFG = Config()
PERIOD_S = 10.0
IDS = [f"J{k}" for k in range(40)]
LOADED = {"N_T": 1200, "E_T": 1000}  # PCU/h, steady


def plans(spread: float, horizon_s: int = 30) -> dict[str, list[tuple[int, tuple[float, ...]]]]:
    """Per junction (two_phase under each id of IDS), the ticks (1 s apart from t = 0) at which
    webster sent a plan and its greens, the flows LOADED throughout."""
    policy = WebsterPolicy(replace(CFG.webster, period_s=PERIOD_S, replan_spread=spread))
    out = {}
    for jid in IDS:
        lay = Layout.build(two_phase_as(jid), CFG)
        est = Estimate.empty(lay, 0.0)
        state, _ = policy.decide(policy.init(lay, 0.0), lay, est, None, 0.0)
        sent = []
        for t in range(1, horizon_s + 1):
            est = replace(est, arrivals_pcu=flows(lay, LOADED) * t / 3600.0)
            state, wish = policy.decide(state, lay, est, green(lay, 1, 5.0, float(t)), float(t))
            if wish is not None:
                sent.append((t, wish.greens_s))
        out[jid] = sent
    return out


def test_off_every_junction_replans_on_the_same_ticks():
    assert all([t for t, _ in sent] == [10, 20, 30] for sent in plans(0.0).values())


def test_spread_replans_fall_on_different_ticks_a_period_apart():
    """With replan_spread = 1 each junction's first period lasts 5-15 s (by its id), the later
    ones 10 s; no tick re-plans more than a quarter of the junctions (off: all of them), and a
    steady flow gives the same plan whatever the length of the period it was counted over."""
    spread, steady = plans(1.0), plans(0.0)["J0"][0][1]
    for jid, sent in spread.items():
        ticks = [t for t, _ in sent]
        assert 5 <= ticks[0] <= 15, jid
        assert [b - a for a, b in pairwise(ticks)] == [10] * (len(ticks) - 1), jid
        assert all(greens == pytest.approx(steady) for _, greens in sent), jid
    per_tick = Counter(t for sent in spread.values() for t, _ in sent)
    assert max(per_tick.values()) <= len(IDS) // 4
    assert len({t % 10 for t in per_tick}) == 10  # every tick of a period re-plans some junction


def test_first_period_spans_the_spread_share():
    params = replace(CFG.webster, period_s=300.0, replan_spread=0.5)
    firsts = [first_period_s(params, f"S{k:05d}") for k in range(2000)]
    assert 225.0 <= min(firsts) < 230.0 and 370.0 < max(firsts) < 375.0
    assert first_period_s(replace(params, replan_spread=0.0), "S00001") == 300.0


def test_spread_beyond_the_period_refused():
    with pytest.raises(ConfigError, match="webster.replan_spread"):
        with_section(CFG, "webster", {"replan_spread": 1.5}, "operator")

"""webster: the junctions' re-plans spread over the period (controller/core/policies/webster.py,
`[webster] replan_spread`; issue 12: a region's tick computing every junction's plan at once)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from controller.config import Config, with_section
from controller.core.estimation import Estimate, Layout
from controller.core.policies.webster import WebsterPolicy, first_period_s
from controller.core.step import Core
from controller.errors import ConfigError
from tests.estimate_fixtures import short_link_layouts
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


def test_a_short_link_group_replans_on_one_tick():
    """The lights of a short-link group (pairs.short_groups) take their first period from the
    group's first id, so they change plan on the same ticks: each plan starts from the phase in
    force, and two lights the city runs on one timeline, re-planned on different ticks, leave it
    (RESCO ingolstadt21's 15.3 m pair locked at seeds 1-3). Lights of no group keep their own."""
    params = replace(CFG.webster, period_s=300.0, replan_spread=1.0)
    alone = {jid: first_period_s(params, jid) for jid in ("J0", "J1", "J2")}
    assert len(set(alone.values())) == 3  # by their own ids, three different first periods
    groups = {"J1": ("J0", "J1"), "J0": ("J0", "J1")}
    policy = WebsterPolicy(params).with_short_groups(groups)
    sent: dict[str, list[int]] = {}
    for jid in ("J0", "J1", "J2"):
        lay = Layout.build(two_phase_as(jid), CFG)
        est = Estimate.empty(lay, 0.0)
        state, _ = policy.decide(policy.init(lay, 0.0), lay, est, None, 0.0)
        sent[jid] = []
        for t in range(1, 460):
            est = replace(est, arrivals_pcu=flows(lay, LOADED) * t / 3600.0)
            state, wish = policy.decide(state, lay, est, green(lay, 1, 5.0, float(t)), float(t))
            if wish is not None:
                sent[jid].append(t)
    assert sent["J0"] == sent["J1"] and sent["J0"][0] == int(np.ceil(alone["J0"]))
    assert sent["J2"][0] == int(np.ceil(alone["J2"])) != sent["J0"][0]


def test_the_core_gives_webster_its_short_link_groups():
    """Core passes the lights on short links whose programs run one cycle to the policy
    (Policy.with_short_groups): J and K, joined by a 15 m link, re-plan on one tick."""
    lays = short_link_layouts()
    core = Core(lays, WebsterPolicy(replace(CFG.webster, replan_spread=1.0)), CFG)
    assert isinstance(core.policy, WebsterPolicy)
    assert core.policy.groups == {"J": ("J", "K"), "K": ("J", "K")}
    assert first_period_s(core.policy.params, "K", core.policy.groups["K"]) == first_period_s(core.policy.params, "J")

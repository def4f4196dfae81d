"""webster: a divided cycle that leaves queues at its green ends ends at once, not at the period's
end (controller/core/policies/webster.py, `[webster] divided_cycle_ends`; issue 9)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.policies.webster import WebsterPolicy, WebsterState
from controller.core.safety import SignalView, cycle_length_s
from controller.model import CycleWish
from tests.junction_fixtures import flows, green, two_phase

CFG = Config()
PERIOD_S = 300.0


def green_end(
    policy: WebsterPolicy, s: WebsterState, lay: Layout, est: Estimate, t_s: float, residual_pcu: float
) -> tuple[WebsterState, CycleWish | None]:
    """Phase 0 green at `t_s`, then its green ends a second later with `residual_pcu` standing on
    each of its lanes; returns the plan the policy sent at either, if any."""
    lanes0 = lay.lane_green[0].astype(float)
    on = replace(est, lanes=replace(est.lanes, green_s=lanes0 * 10.0))
    s, first = policy.decide(s, lay, on, green(lay, 0, 10.0, t_s), t_s)
    red = replace(est.lanes, green_s=np.zeros(len(lay.lanes)), queue_pcu=lanes0 * residual_pcu)
    yellow = SignalView(0, True, 0.0, tuple(t_s + 1.0 for _ in lay.junction.movements))
    s, then = policy.decide(s, lay, replace(est, lanes=red), yellow, t_s + 1.0)
    return s, first if first is not None else then


def divided(policy: WebsterPolicy, lay: Layout) -> tuple[WebsterState, Estimate]:
    """The policy after one light period: it runs the half cycle (32.5 s of the city's 65 s)."""
    j = lay.junction
    light = flows(lay, {"N_T": 100, "E_T": 100})
    est = Estimate.empty(lay, 0.0)
    s = policy.init(lay, 0.0)
    s, _ = policy.decide(s, lay, est, None, 0.0)
    est = replace(est, arrivals_pcu=light * PERIOD_S / 3600.0)
    s, wish = policy.decide(s, lay, est, green(lay, 1, 5.0, PERIOD_S), PERIOD_S)
    assert isinstance(wish, CycleWish)
    assert cycle_length_s(j, wish.phase_order, wish.greens_s) == pytest.approx(32.5)
    return s, est


def test_a_divided_cycle_that_leaves_queues_ends_at_once():
    """The half cycle is in force; phase 0 ends four greens in a row with 4 PCU left (over
    residual_queue_pcu = 3): with divided_cycle_ends = 4 the city's plan (30 / 25 s, its 65 s
    cycle) is sent then (before, and with the key at 0: nothing until the period's end, a period
    of queues later), and the period's own plan, at its end, runs the base cycle. Fewer such
    ends in a row end nothing."""
    lay = Layout.build(two_phase(), CFG)
    j = lay.junction
    assert CFG.webster.residual_queue_pcu == 3.0 and [p.base_green_s for p in j.phases] == [30.0, 25.0]
    policy = WebsterPolicy(replace(CFG.webster, divided_cycle_ends=4))
    s, est = divided(policy, lay)
    assert s.divided

    t_s = PERIOD_S
    for left_pcu in (4.0, 4.0, 4.0, 0.0, 4.0, 4.0, 4.0):  # three in a row, a clean end, three
        t_s += 25.0
        s, wish = green_end(policy, s, lay, est, t_s, residual_pcu=left_pcu)
        assert wish is None
    t_s += 25.0
    s, wish = green_end(policy, s, lay, est, t_s, residual_pcu=4.0)  # the fourth in a row
    assert isinstance(wish, CycleWish) and wish.greens_s == pytest.approx((30.0, 25.0))
    assert not s.divided and s.period_start_s == pytest.approx(PERIOD_S)  # the period goes on
    # the city's plan in force: nothing more is sent before the period's end
    for left_pcu in (0.0, 0.0, 0.0, 0.0, 0.0):
        t_s += 18.0
        s, wish = green_end(policy, s, lay, est, t_s, residual_pcu=left_pcu)
        assert wish is None
    # the period's end: its mean residual (28 / 13 = 2.2 PCU) and light flows would halve the
    # cycle again; the period was cut, so its plan runs the base cycle
    end = replace(est, arrivals_pcu=est.arrivals_pcu * 2.0)
    s, wish = policy.decide(s, lay, end, green(lay, 1, 5.0, 2 * PERIOD_S), 2 * PERIOD_S)
    assert isinstance(wish, CycleWish)
    assert cycle_length_s(j, wish.phase_order, wish.greens_s) == pytest.approx(65.0)
    assert not s.cut and not s.divided


def test_off_the_divided_cycle_runs_to_the_period_end():
    """`divided_cycle_ends = 0`: the same queues end nothing before the period's end."""
    lay = Layout.build(two_phase(), CFG)
    policy = WebsterPolicy(replace(CFG.webster, divided_cycle_ends=0))
    s, est = divided(policy, lay)
    for k in range(1, 8):
        s, wish = green_end(policy, s, lay, est, PERIOD_S + 25.0 * k, residual_pcu=4.0)
        assert wish is None


def test_divided_cycle_ends_is_read_from_config_toml(tmp_path):
    """`[webster] divided_cycle_ends` reaches the params of the policy the service builds; config.toml
    ships 0 (off: it loses Bologna pasubio, BENCHMARKS.md W session 21), as the dataclass."""
    from controller.config import load_config
    from controller.core.policies import make_policy

    p = tmp_path / "c.toml"
    p.write_text("[webster]\ndivided_cycle_ends = 3\n")
    assert make_policy("webster", load_config(p)).params.divided_cycle_ends == 3
    root = Path(__file__).resolve().parents[2]
    assert make_policy("webster", load_config(root / "config.toml")).params.divided_cycle_ends == 0
    assert CFG.webster.divided_cycle_ends == 0


def test_with_keep_offsets_the_cut_sends_the_citys_plan_in_whole_seconds():
    """keep_offsets: plans go out at phase 0's start in whole seconds, the city's plan of a cut
    too (a city program of 30.4 / 24.6 s runs 30 / 25)."""
    from controller.junctions import parse_intersection
    from tests.junction_fixtures import two_phase_raw

    raw = two_phase_raw()
    raw["phases"][0]["base_green_s"], raw["phases"][1]["base_green_s"] = 30.4, 24.6
    lay = Layout.build(parse_intersection(raw, "test"), CFG)
    policy = WebsterPolicy(replace(CFG.webster, divided_cycle_ends=1, keep_offsets=True))
    est = Estimate.empty(lay, 0.0)
    s, _ = policy.decide(policy.init(lay, 0.0), lay, est, None, 0.0)
    s = replace(s, divided=True)  # a divided plan in force
    s, _ = green_end(policy, s, lay, est, 30.0, residual_pcu=4.0)
    assert s.cut and s.steady_s == (30.0, 25.0)

"""webster: a phase short of green is not cut below its share of the plan in force
(controller/core/policies/webster.py, `[webster] keep_green_residual_pcu`; issue 9)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.policies.webster import WebsterPolicy, WebsterState, keep_short_greens, plan_shares
from controller.core.safety import SignalView, cycle_length_s
from controller.model import CycleWish
from tests.junction_fixtures import flows, green, two_phase

CFG = Config()
PERIOD_S = 300.0


def period(
    policy: WebsterPolicy,
    s: WebsterState,
    lay: Layout,
    t0_s: float,
    q: dict[str, float],
    residual_pcu: tuple,
    block: tuple = (0.0, 0.0),
) -> tuple[WebsterState, CycleWish]:
    """One period from `t0_s`: phases 0 and 1 each end a green with residual_pcu[k] PCU on their
    lanes, whose exit blockage is block[k], then the flows `q` (PCU/h) are counted over the period;
    the plan sent at its end."""
    est = Estimate.empty(lay, t0_s)
    for k in (0, 1):
        lanes_k = lay.lane_green[k].astype(float)
        on = replace(est, lanes=replace(est.lanes, green_s=lanes_k * 20.0))
        s, _ = policy.decide(s, lay, on, green(lay, k, 20.0, t0_s + 20.0 + 40 * k), t0_s + 20.0 + 40 * k)
        red = replace(
            est.lanes, green_s=np.zeros(len(lay.lanes)), queue_pcu=lanes_k * residual_pcu[k], block=lanes_k * block[k]
        )
        yellow = SignalView(k, True, 0.0, tuple(t0_s + 21.0 + 40 * k for _ in lay.junction.movements))
        s, _ = policy.decide(s, lay, replace(est, lanes=red), yellow, t0_s + 21.0 + 40 * k)
    assert s.arrivals_pcu is not None
    counted = s.arrivals_pcu + flows(lay, q) * PERIOD_S / 3600.0
    end_s = t0_s + PERIOD_S
    s, wish = policy.decide(s, lay, replace(est, arrivals_pcu=counted), green(lay, 0, 5.0, end_s), end_s)
    assert isinstance(wish, CycleWish)
    return replace(s, arrivals_pcu=counted), wish


LOADED = {"N_T": 300, "E_T": 900}  # phase 0's count capped by its green


KEEP_PCU = 10.0


def run(keep_pcu: float, residuals: list[tuple], block: tuple = (0.0, 0.0)) -> list[tuple[float, ...]]:
    lay = Layout.build(two_phase(), CFG)
    policy = WebsterPolicy(replace(CFG.webster, keep_green_residual_pcu=keep_pcu))
    s, _ = policy.decide(policy.init(lay, 0.0), lay, Estimate.empty(lay, 0.0), None, 0.0)
    out = []
    for i, r in enumerate(residuals):
        s, wish = period(policy, s, lay, i * PERIOD_S, LOADED, r, block)
        assert cycle_length_s(lay.junction, wish.phase_order, wish.greens_s) == pytest.approx(65.0)
        out.append(wish.greens_s)
    return out


def test_a_short_phase_is_not_cut_below_its_share_of_the_plan_in_force():
    """Phase 0 (N/S; the city's 30 s of 55 s of green at 65 s) ends its green with 12 PCU left
    (>= keep_green_residual_pcu, 10) under the city's plan: its 300 PCU/h is what that green let
    through, a floor of its demand. Webster's split of the counts cuts it under 20 s (before: it
    did, and again the period after). With the key it keeps 30 s: the green comes back from
    phase 1, which cleared its queue (no spare is added on top: not 30 s plus a share). A
    residual of 4 PCU (short for the base cycle, under 10) keeps nothing."""
    assert [p.base_green_s for p in two_phase().phases] == [30.0, 25.0]
    off = run(0.0, [(12.0, 0.0), (12.0, 0.0)])
    assert off[0][0] < 20.0 and off[1][0] < 20.0
    kept = run(KEEP_PCU, [(12.0, 0.0), (12.0, 0.0), (0.0, 0.0)])
    assert kept[0] == pytest.approx((30.0, 25.0))
    assert kept[1] == pytest.approx((30.0, 25.0))  # the plan in force is now webster's own: 30 s again
    assert kept[2] == pytest.approx(off[0])  # no residual: Webster's split, no memory
    assert run(KEEP_PCU, [(4.0, 0.0)])[0] == pytest.approx(run(0.0, [(4.0, 0.0)])[0])


def test_a_short_phase_that_won_green_keeps_it_and_gives_none_to_another_short_phase():
    """Phase 1 short (12 PCU) after a plan that gave it 40.6 s (Webster's split of the counts):
    kept at that share. Both short: neither gives green to the other, Webster's split stands."""
    off = run(0.0, [(0.0, 0.0), (0.0, 12.0), (12.0, 12.0)])
    kept = run(KEEP_PCU, [(0.0, 0.0), (0.0, 12.0), (12.0, 12.0)])
    assert kept[0] == pytest.approx(off[0]) and kept[0][1] > 35.0
    assert kept[1][1] == pytest.approx(kept[0][1]) and kept[1][1] >= off[1][1] - 1e-9
    assert kept[2] == pytest.approx(off[2])


def test_a_queue_behind_a_full_exit_keeps_no_green():
    """Phase 0 ends its green with 12 PCU left, but its lanes' exit blockage is 0.5 (the head
    of the queue stood on half its queued green: the exit was full): 6 PCU of it a longer green
    would have let through, under keep_green_residual_pcu (10). More green serves no queue that
    stands behind a full exit and fills the junction downstream: Webster's split stands (before:
    phase 0 kept 30 s, the green taken from phase 1). With a blockage of 0.1 (10.8 PCU free) it
    keeps its 30 s."""
    off = run(0.0, [(12.0, 0.0)])
    assert run(KEEP_PCU, [(12.0, 0.0)], block=(0.5, 0.0))[0] == pytest.approx(off[0])
    assert off[0][0] < 20.0
    assert run(KEEP_PCU, [(12.0, 0.0)], block=(0.1, 0.0))[0] == pytest.approx((30.0, 25.0))


def test_keep_short_greens_takes_from_the_cleared_phases_above_their_floors():
    floors = np.array([7.0, 7.0, 7.0])
    g = keep_short_greens(np.array([10.0, 30.0, 20.0]), np.array([20.0, 0.0, 0.0]), floors)
    assert g == pytest.approx([20.0, 30.0 - 10.0 * 23 / 36, 20.0 - 10.0 * 13 / 36]) and g.sum() == pytest.approx(60.0)
    # not enough room above the floors: the raise is scaled down, the sum kept
    g = keep_short_greens(np.array([10.0, 9.0, 9.0]), np.array([20.0, 0.0, 0.0]), floors)
    assert g == pytest.approx([14.0, 7.0, 7.0])
    # a short phase above its kept green gives none to another short phase
    g = keep_short_greens(np.array([10.0, 40.0]), np.array([20.0, 30.0]), np.array([7.0, 7.0]))
    assert g == pytest.approx([10.0, 40.0])
    g = keep_short_greens(np.array([10.0, 40.0, 20.0]), np.array([20.0, 30.0, 0.0]), np.array([7.0, 7.0, 7.0]))
    assert g == pytest.approx([20.0, 40.0, 10.0])


def test_plan_shares_are_the_city_plans_before_the_first():
    lay = Layout.build(two_phase(), CFG)
    assert plan_shares(WebsterState(0.0, None, None), lay) == pytest.approx([30.0 / 55.0, 25.0 / 55.0])
    assert plan_shares(WebsterState(0.0, None, None, plan_s=(10.0, 30.0)), lay) == pytest.approx([0.25, 0.75])


def test_keep_green_residual_pcu_is_read_from_config_toml(tmp_path):
    """`[webster] keep_green_residual_pcu` reaches the policy the service builds; config.toml ships the
    dataclass' value."""
    from controller.config import load_config
    from controller.core.policies import make_policy

    p = tmp_path / "c.toml"
    p.write_text("[webster]\nkeep_green_residual_pcu = 12.5\n")
    policy = make_policy("webster", load_config(p))
    assert isinstance(policy, WebsterPolicy) and policy.params.keep_green_residual_pcu == 12.5
    root = Path(__file__).resolve().parents[2]
    shipped = make_policy("webster", load_config(root / "config.toml"))
    assert isinstance(shipped, WebsterPolicy)
    assert shipped.params.keep_green_residual_pcu == CFG.webster.keep_green_residual_pcu

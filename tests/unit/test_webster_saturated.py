"""webster: a phase that runs short of green keeps the city's green while its demand stands
(controller/core/policies/webster.py, module docstring, saturated phases; issue 9)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.policies.webster import WebsterPolicy, WebsterState, webster_greens
from controller.core.safety import SignalView, cycle_length_s
from controller.junctions import parse_intersection
from controller.model import CycleWish
from tests.junction_fixtures import flows, green, two_phase, two_phase_raw

CFG = Config()
PERIOD_S = 300.0


def period(
    policy: WebsterPolicy, s: WebsterState, lay: Layout, t0_s: float, arrived: np.ndarray, residual_pcu: float
) -> tuple[WebsterState, CycleWish, np.ndarray]:
    """One webster period from `t0_s`: phase 0 ends its green once with `residual_pcu` standing on
    each of its lanes, then `arrived` (PCU/h per movement) is counted over the period; returns
    the state, the plan sent at the period's end and the cumulative arrivals."""
    est = Estimate.empty(lay, t0_s)
    lanes0 = lay.lane_green[0].astype(float)
    on = replace(est, lanes=replace(est.lanes, green_s=lanes0 * 20.0))
    s, _ = policy.decide(s, lay, on, green(lay, 0, 20.0, t0_s + 20.0), t0_s + 20.0)
    red = replace(est.lanes, green_s=np.zeros(len(lay.lanes)), queue_pcu=lanes0 * residual_pcu)
    yellow = SignalView(0, True, 0.0, tuple(t0_s + 21.0 for _ in lay.junction.movements))
    s, _ = policy.decide(s, lay, replace(est, lanes=red), yellow, t0_s + 21.0)
    total = s.arrivals_pcu + arrived * PERIOD_S / 3600.0
    end_s = t0_s + PERIOD_S
    s, wish = policy.decide(s, lay, replace(est, arrivals_pcu=total), green(lay, 1, 5.0, end_s), end_s)
    assert isinstance(wish, CycleWish)
    return s, wish, total


def test_webster_keeps_the_city_green_of_a_phase_short_of_green_while_its_demand_stands():
    """Phase 0 (N/S, the city's 30 s) ends its green with 4 PCU left (>= residual_queue_pcu):
    it discharged at saturation, so the 300 PCU/h it served is a floor of its demand, not its
    demand. Webster's split of the measured flows (E/W 900 PCU/h) would cut it to about 15 s
    (before: it was); it keeps its base green, and the plans run the base cycle (65 s). The next
    period it clears its queue under that green at the same demand: it stays held (before: cut
    again, the queue back the period after). Once its flow falls below the flow at which it ran
    short, it is released and Webster's split applies."""
    lay = Layout.build(two_phase(), CFG)
    j = lay.junction
    assert CFG.webster.residual_queue_pcu == 3.0 and [p.base_green_s for p in j.phases] == [30.0, 25.0]
    loaded = flows(lay, {"N_T": 300, "E_T": 900})
    free_cycle_s, free = webster_greens(lay, loaded, 3.0, 0.9)
    assert free_cycle_s == pytest.approx(65.0) and free[0] < 20.0  # what the measured flows alone give
    policy = WebsterPolicy(replace(CFG.webster, hold_short_phases=True))
    s = policy.init(lay, 0.0)
    s, _ = policy.decide(s, lay, Estimate.empty(lay, 0.0), None, 0.0)
    cycle = lambda w: cycle_length_s(j, w.phase_order, w.greens_s)  # noqa: E731

    s, short, total = period(policy, s, lay, 0.0, loaded, residual_pcu=4.0)
    assert short.greens_s[0] >= 30.0 - 1e-9 and cycle(short) == pytest.approx(65.0)
    assert s.held_y[0] > 0.0 and s.held_y[1] == 0.0

    s, cleared, total = period(policy, replace(s, arrivals_pcu=total), lay, PERIOD_S, loaded, residual_pcu=0.0)
    assert cleared.greens_s[0] >= 30.0 - 1e-9 and cycle(cleared) == pytest.approx(65.0)

    lighter = flows(lay, {"N_T": 200, "E_T": 900})
    s, released, _ = period(policy, replace(s, arrivals_pcu=total), lay, 2 * PERIOD_S, lighter, residual_pcu=0.0)
    assert released.greens_s[0] < 20.0 and s.held_y == (0.0, 0.0)

    # off (the default): the short phase only makes the next plan run the base cycle
    off = WebsterPolicy(CFG.webster)
    s = off.init(lay, 0.0)
    s, _ = off.decide(s, lay, Estimate.empty(lay, 0.0), None, 0.0)
    s, short, _ = period(off, s, lay, 0.0, loaded, residual_pcu=4.0)
    assert short.greens_s[0] < 20.0 and cycle(short) == pytest.approx(65.0) and s.held_y == ()


def test_webster_held_greens_are_scaled_down_alike_when_they_do_not_fit_the_cycle():
    """A held phase's floor is its base green; where the base greens do not fit the cycle (the
    base program longer than the junction's maximum cycle), the raises above the minimum greens
    are scaled down alike and the greens fill the cycle exactly."""
    raw = two_phase_raw()
    raw.update(cycle_max_s=45.0)  # the base program runs 65 s
    lay = Layout.build(parse_intersection(raw, "t.toml"), CFG)
    q = flows(lay, {"N_T": 300, "E_T": 300})
    cycle_s, greens = webster_greens(lay, q, 3.0, 0.9, True, np.array([True, True]))
    assert cycle_s == pytest.approx(45.0)
    assert sum(greens) == pytest.approx(35.0)
    # raises 23 and 18 above the 7 s minimum, scaled by 21 / 41 alike
    assert greens[0] - 7.0 == pytest.approx(23.0 * 21.0 / 41.0)
    assert greens[1] - 7.0 == pytest.approx(18.0 * 21.0 / 41.0)


@pytest.mark.parametrize("on", [False, True])
def test_the_hold_is_switched_by_config_toml(tmp_path, on):
    """`[webster] hold_short_phases` reaches the policy the service builds (off by default)."""
    from controller.config import load_config
    from controller.core.policies import make_policy

    p = tmp_path / "c.toml"
    p.write_text(f"[webster]\nhold_short_phases = {'true' if on else 'false'}\n")
    policy = make_policy("webster", load_config(p))
    assert isinstance(policy, WebsterPolicy)
    assert policy.hold_short_phases is on
    assert make_policy("webster", CFG).hold_short_phases is False


def test_a_short_phase_keeps_its_city_green_for_the_next_plan_only():
    """`short_keeps_city`: phase 0 ends its green with 4 PCU left, so the 300 PCU/h it served is a
    floor of its demand; the next plan gives it at least its city green (30 s at the base cycle,
    65 s), where the measured flows alone give it under 20 s. No memory: the period after, with
    no residual at the same counts, Webster's split applies again."""
    lay = Layout.build(two_phase(), CFG)
    loaded = flows(lay, {"N_T": 300, "E_T": 900})
    policy = WebsterPolicy(replace(CFG.webster, short_keeps_city=True))
    s = policy.init(lay, 0.0)
    s, _ = policy.decide(s, lay, Estimate.empty(lay, 0.0), None, 0.0)
    s, short, total = period(policy, s, lay, 0.0, loaded, residual_pcu=4.0)
    assert short.greens_s[0] == pytest.approx(30.0)
    assert cycle_length_s(lay.junction, short.phase_order, short.greens_s) == pytest.approx(65.0)
    s, cleared, _ = period(policy, replace(s, arrivals_pcu=total), lay, PERIOD_S, loaded, residual_pcu=0.0)
    assert cleared.greens_s[0] < 20.0


@pytest.mark.parametrize(("key", "default"), [("slack_to_city", False), ("short_keeps_city", False)])
def test_the_city_split_keys_are_read_from_config_toml(tmp_path, key, default):
    """`[webster] slack_to_city` and `short_keeps_city` (off by default) reach the policy the service
    builds."""
    from controller.config import load_config
    from controller.core.policies import make_policy

    p = tmp_path / "c.toml"
    p.write_text(f"[webster]\n{key} = {'false' if default else 'true'}\n")
    policy = make_policy("webster", load_config(p))
    assert isinstance(policy, WebsterPolicy)
    assert getattr(policy.params, key) is not default
    assert getattr(CFG.webster, key) is default

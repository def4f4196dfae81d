"""[harm] blocked_discharge's fit (shadow.learn_blocked, blocked_ratio) on its own: it separates the saturation
flow's own error from the blockage's, holds beta at 1 without strong evidence (too few seconds of blockage, a
blockage that never varies, counts too noisy), bounds it, learns only under the controlled side's protected green
and after the start-up loss, forgets at the rate it is given; a scaled blockage is capped (BlockedFit.share_max);
and do no harm's two calls pass the key to the replay."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core import harm, netshadow, shadow
from controller.core.estimation import Estimate, Layout
from controller.core.harm import HarmParams
from controller.model import SignalStatus
from tests.junction_fixtures import two_phase

SAT_PCU_H = 1800.0  # 0.5 PCU/s
STARTUP_S = 2.0
BOUNDS = HarmParams(blocked_discharge=True).blocked_fit  # config.toml's defaults
BLOCKS = (0.0, 0.2, 0.4, 0.6)  # the measured exit blockage, one second each in turn


def _fit(
    street: list[tuple[float, float]],
    service: list[float] | None = None,
    idle_s: float = 0.0,
    ticks: int = 400,
    noise_pcu: float = 0.0,
    blocks: tuple[float, ...] = BLOCKS,
) -> np.ndarray:
    """learn_blocked after `ticks` one-second intervals of a green that began at 0 s, every movement queued
    (10 PCU), its blockage b cycling through `blocks`; movement i's stop-line loop counts a s (1 - beta b) each
    second after the first `idle_s` ((a, beta) = street[i]: a the street's unblocked discharge over the model's),
    plus a seeded noise of `noise_pcu`; the controlled side's service per movement `service` (1: protected)."""
    n = len(street)
    a, beta = (np.array(v) for v in zip(*street))
    service_c = np.ones(n) if service is None else np.array(service)
    rng = np.random.default_rng(3)
    fit, dep = None, np.zeros(n)
    for k in range(ticks + 1):  # the call at 0 s only reads the count (the first interval has none)
        b = blocks[k % len(blocks)]
        if k > idle_s:
            dep = dep + a * SAT_PCU_H / 3600.0 * (1.0 - beta * b) + noise_pcu * rng.standard_normal(n)
        args = (np.full(n, SAT_PCU_H), np.full(n, 10.0), np.zeros(n, dtype=bool), np.full(n, b), service_c)
        fit = shadow.learn_blocked(fit, dep, *args, np.full(n, max(k - 1.0, 0.0)), STARTUP_S, 1.0, 1.0)
    assert fit is not None
    return fit


def _beta(fit: np.ndarray, bounds: shadow.BlockedFit | None = BOUNDS) -> np.ndarray:
    beta = shadow.blocked_ratio(fit, bounds)
    assert beta is not None
    return beta


def test_the_fit_tells_the_saturation_flow_s_error_from_the_blockage_s():
    # a street that discharges 60 % of the model's saturation flow whatever the blockage, and one unit of
    # blockage taking its own share (beta 1): the shortfall is the saturation flow's, beta stays 1 (session 39's
    # slope through 0 read it as the blockage's: 1 + 0.4 / b, about 2.7 here). A street whose blockage takes 1.5x
    # the measured share, with its saturation flow 0.8 of the model's: beta 1.5
    beta = _beta(_fit([(0.6, 1.0), (0.8, 1.5), (1.0, 1.0)]))
    assert beta == pytest.approx([1.0, 1.5, 1.0])


def test_beta_stays_1_without_strong_evidence():
    # a blockage that never varies cannot be told from the saturation flow's error; 60 s of blockage are not
    # yet min_blocked_s's (0.3 x 4/4 x 50 s < 60 s); counts as noisy as the shortfall leave beta at 1
    with np.errstate(all="raise"):  # (and without dividing by the collinear fit's zero determinant)
        assert _beta(_fit([(0.6, 1.5)], blocks=(0.5,)))[0] == 1.0
    short = _fit([(1.0, 1.5)], ticks=50)
    assert short[shadow.FIT_BLOCKED_S][0] < BOUNDS.min_blocked_s
    assert _beta(short)[0] == 1.0
    assert _beta(short, replace(BOUNDS, min_blocked_s=0.0))[0] == pytest.approx(1.5)  # the fit itself knew
    noisy = _fit([(1.0, 1.3)], noise_pcu=0.5)  # a count's noise 0.5 PCU a second, the blockage's effect <= 0.09
    raw = _beta(noisy, shadow.BlockedFit(0.0, 0.0, 10.0, 0.99))[0]
    assert raw > 1.1  # the unshrunk estimate moved ...
    assert _beta(noisy)[0] == 1.0  # ... within its z standard errors: held at the prior


def test_beta_is_shrunk_toward_1_as_far_as_the_evidence_is_weak():
    # counts with some noise: beta lies between 1 and the fit's own estimate, nearer it with less noise
    raw_bounds = shadow.BlockedFit(0.0, 0.0, 10.0, 0.99)
    betas = []
    for noise in (0.02, 0.1):
        fit = _fit([(1.0, 1.5)], noise_pcu=noise, ticks=400)
        raw, beta = _beta(fit, raw_bounds)[0], _beta(fit)[0]
        assert 1.0 < beta < raw
        betas.append((raw - beta) / (raw - 1.0))
    assert betas[0] < betas[1]


def test_beta_is_bounded_to_a_physical_range():
    # one unit of blockage taking 1.6x its share is read 1.6, and bounded to ratio_max; a blockage that
    # would add flow (beta < 0) is bounded to 0
    fit = _fit([(1.0, 1.6), (1.0, -0.5)])
    assert _beta(fit) == pytest.approx([1.6, 0.0])
    assert _beta(fit, replace(BOUNDS, ratio_max=1.2)) == pytest.approx([1.2, 0.0])


def test_a_fit_whose_unblocked_discharge_is_not_positive_leaves_beta_at_1():
    # counts that rise with the blockage (a street of a = -0.2, beta 5: nothing would cross an unblocked green)
    # fit exactly, but a <= 0 is no saturation flow to take a share of: beta stays 1 (blocked_fit_terms' a > 0),
    # not 5 bounded to ratio_max
    fit = _fit([(-0.2, 5.0)], blocks=(0.2, 0.4, 0.6))
    a, raw, _ = shadow.blocked_fit_terms(fit)
    assert a[0] == 1.0 and raw[0] == 1.0
    assert _beta(fit)[0] == 1.0


def test_the_fit_learns_under_the_controlled_side_s_protected_green_only():
    # a movement the controlled side holds red crosses nothing, and that is no evidence
    beta = _beta(_fit([(1.0, 1.5), (0.0, 1.0)], service=[1.0, 0.0]))
    assert beta == pytest.approx([1.5, 1.0])


def test_the_fit_leaves_out_the_green_s_start_up_loss():
    # nothing crosses during the first STARTUP_S seconds of the green (the start-up), then the street's
    # discharge: the start-up is not the blockage's, so beta is 1.5 as with a count from the green's start
    fit = _fit([(1.0, 1.5)], idle_s=STARTUP_S)
    assert _beta(fit)[0] == pytest.approx(1.5)


def test_the_fit_forgets_old_evidence_at_the_rate_it_is_given():
    # 200 s of a street with beta 1.5, then 200 s with beta 1: with keep 0.9 a second the first half is forgotten
    # (beta back to 1 within 1e-6); kept whole (keep 1) the estimate lies between
    def after(keep: float) -> float:
        fit, dep = None, 0.0
        for k in range(401):
            b = BLOCKS[k % len(BLOCKS)]
            dep += 0.0 if k == 0 else 0.5 * (1.0 - (1.5 if k <= 200 else 1.0) * b)
            args = (np.array([SAT_PCU_H]), np.array([10.0]), np.zeros(1, dtype=bool), np.array([b]), np.ones(1))
            fit = shadow.learn_blocked(fit, np.array([dep]), *args, np.array([k + 10.0]), STARTUP_S, 1.0, keep)
        assert fit is not None
        return float(_beta(fit, shadow.BlockedFit(0.0, 0.0, 10.0, 0.99))[0])

    assert after(0.9) == pytest.approx(1.0, abs=1e-6)
    assert 1.1 < after(1.0) < 1.4


def test_a_scaled_blockage_leaves_a_green_some_discharge():
    # beta x b above share_max is capped there (serve reads a rate of 0 as red); a measured b above the
    # cap is kept as it is; beta None (the key off) leaves b as it is
    block = np.array([0.2, 0.5, 0.995])
    beta = np.array([3.0, 3.0, 3.0])
    assert shadow.scaled_block(block, beta, 0.9) == pytest.approx([0.6, 0.9, 0.995])
    assert shadow.scaled_block(block, None, 0.9) is block


def test_the_bounds_are_checked_when_the_config_is_read():
    with pytest.raises(ValueError, match="blocked_ratio_max"):
        HarmParams(blocked_ratio_max=0.5)
    with pytest.raises(ValueError, match="blocked_share_max"):
        HarmParams(blocked_share_max=1.0)
    assert HarmParams().blocked_fit is None  # the key off
    assert shadow.BlockedFit(2.0, 60.0, 2.0, 0.99) == BOUNDS


def _replays(params: HarmParams, observe: bool) -> harm.HarmState:
    """One two-phase junction, 60 s, every movement's loops measuring 6 PCU standing and nothing counted
    over the stop line, its exits measured half blocked; the roadside on phase 0. `observe`: observe_all
    (guarded policies), else advance_replays (`fixed`)."""
    lay = Layout.build(two_phase(), Config())
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    net = netshadow.NetworkProgram.build([prog])
    hs = harm.initial(prog, 4, 0.0)
    for k in range(1, 61):
        t = float(k)
        e = replace(
            Estimate.empty(lay, t), departures_pcu=np.zeros(4), queue_pcu=np.full(4, 6.0), block=np.full(4, 0.5)
        )
        status = SignalStatus("J", t, 0, False, 0.0, "p", 1, "policy")
        step = harm.observe_all if observe else harm.advance_replays
        (hs,) = step(net, [hs], [e], [status], t, params)
    return hs


@pytest.mark.parametrize("observe", [True, False])
def test_the_key_reaches_the_replay_from_both_calls(observe: bool):
    params = HarmParams(window_s=300.0, spill_back=False)
    on = _replays(replace(params, blocked_discharge=True), observe).replay.blocked_fit
    assert on is not None and (on[shadow.FIT_XX] > 0).any()  # evidence gathered under phase 0's protected green
    assert _replays(params, observe).replay.blocked_fit is None

"""[harm] blocked_discharge's fit (shadow.learn_blocked, blocked_ratio) on its own: it learns only under the
controlled side's protected green, only from the green's usable part, after the start-up loss, and it forgets
at the rate it is given; a scaled blockage is capped (SCALED_BLOCK_MAX); and do no harm's two calls pass the key
to the replay. (Review of b7bf476, R session 39: test_shadow's, test_netshadow's and test_harm's tests still passed
with the service condition dropped, the start-up loss ignored, nothing forgotten, the cap dropped, or
harm.observe_all passing the key off.)"""

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
BLOCK = 0.5  # the measured exit blockage: the model discharges 0.5 x (1 - 0.5) = 0.25 PCU/s
STARTUP_S = 2.0


def _beta(service: list[float], counted_pcu_s: list[float], idle_s: float = 0.0, ticks: int = 30) -> np.ndarray:
    """blocked_ratio after `ticks` one-second intervals of a green that began at 0 s, every movement
    queued (10 PCU) and measured blocked BLOCK, the controlled side's service per movement `service`,
    each movement counted over its stop line at its `counted_pcu_s` after the first `idle_s` seconds."""
    n = len(service)
    fit = None
    for k in range(ticks + 1):  # the call at 0 s only reads the count (the first interval has none)
        departures = np.array(counted_pcu_s) * max(k - idle_s, 0.0)
        fit = shadow.learn_blocked(
            fit,
            departures,
            np.full(n, SAT_PCU_H),
            np.full(n, 10.0),
            np.zeros(n, dtype=bool),
            np.full(n, BLOCK),
            np.array(service),
            np.full(n, max(k - 1.0, 0.0)),  # the green's time since its onset before this interval
            STARTUP_S,
            1.0,
            1.0,
        )
    beta = shadow.blocked_ratio(fit)
    assert beta is not None
    return beta


def test_the_fit_learns_under_the_controlled_side_s_protected_green_only():
    # the loops count 0.125 PCU/s where the model discharges 0.25: beta = 1 + 0.125 / 0.25 = 1.5 under the
    # protected green; a movement the controlled side holds red crosses nothing, and that is no evidence
    beta = _beta([1.0, 0.0], [0.125, 0.0])
    assert beta[0] == pytest.approx(1.5)
    assert beta[1] == 1.0


def test_the_fit_leaves_out_the_green_s_start_up_loss():
    # nothing crosses during the first STARTUP_S seconds of the green (the start-up), then 0.125 PCU/s: the
    # start-up is not the blockage's, so beta is 1.5 as with a count from the green's start
    assert _beta([1.0], [0.125], idle_s=STARTUP_S)[0] == pytest.approx(1.5)
    assert _beta([1.0], [0.125])[0] == pytest.approx(1.5)


def test_the_fit_forgets_old_evidence_at_the_rate_it_is_given():
    # 30 s counted at 0.125 PCU/s (beta 1.5), then 30 s at the model's own 0.25 (beta 1): with keep 0.5 a
    # second the first half is forgotten (beta back to 1 within 1e-6); kept whole (keep 1), the two halves weigh alike
    def after(keep: float) -> float:
        fit, dep = None, 0.0
        for k in range(61):
            dep += 0.0 if k == 0 else (0.125 if k <= 30 else 0.25)
            args = (np.array([SAT_PCU_H]), np.array([10.0]), np.zeros(1, dtype=bool), np.array([BLOCK]), np.ones(1))
            fit = shadow.learn_blocked(fit, np.array([dep]), *args, np.array([k + 10.0]), STARTUP_S, 1.0, keep)
        beta = shadow.blocked_ratio(fit)
        assert beta is not None
        return float(beta[0])

    assert after(0.5) == pytest.approx(1.0, abs=1e-6)
    assert after(1.0) == pytest.approx(1.25)


def test_a_scaled_blockage_leaves_a_green_some_discharge():
    # beta x b above SCALED_BLOCK_MAX is capped there (serve reads a rate of 0 as red); a measured b above the
    # cap is kept as it is; beta None (the key off) leaves b as it is
    block = np.array([0.2, 0.5, 0.995])
    beta = np.array([3.0, 3.0, 3.0])
    assert shadow.scaled_block(block, beta) == pytest.approx([0.6, shadow.SCALED_BLOCK_MAX, 0.995])
    assert shadow.scaled_block(block, None) is block


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
    assert on is not None and (on[2] > 0).any()  # evidence gathered under phase 0's protected green
    assert _replays(params, observe).replay.blocked_fit is None

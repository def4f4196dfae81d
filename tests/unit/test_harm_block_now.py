"""[harm] block_now as do no harm reads it: harm.observe_all (guarded policies) and harm.advance_replays
(`fixed`) pass the key to the replay (shadow.replay_block: Estimate.block_now in place of Estimate.block)."""

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

PARAMS = HarmParams(window_s=300.0, spill_back=False)


def _run(params: HarmParams, observe: bool) -> harm.HarmState:
    """One two-phase junction, 120 s: 30 PCU counted on every movement at the start, none over the stop line;
    the estimator's average blockage 0, the last second's 1 (every stop-line loop stands at its queued green);
    the roadside runs a 65 s cycle. `observe`: observe_all, else advance_replays."""
    lay = Layout.build(two_phase(), Config())
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    net = netshadow.NetworkProgram.build([prog])
    hs = harm.initial(prog, 4, 0.0)
    for k in range(1, 121):
        t = float(k)
        e = replace(Estimate.empty(lay, t), queue_pcu=np.full(4, 30.0), block_now=np.ones(4))
        pos = (t - 2.0) % 65.0
        phase, ig = (0, pos >= 28.0) if pos < 33.0 else (1, pos >= 60.0)
        status = SignalStatus("J", t, phase, ig, 0.0, "p", 1, "policy")
        step = harm.observe_all if observe else harm.advance_replays
        (hs,) = step(net, [hs], [e], [status], t, params)
    return hs


@pytest.mark.parametrize("observe", [True, False])
def test_the_key_reaches_the_replay_from_both_calls(observe: bool):
    on = _run(replace(PARAMS, block_now=True), observe)
    off = _run(PARAMS, observe)
    assert (on.replay.sides.served_pcu == 0.0).all()  # blocked every second: nothing discharged on either side
    assert (off.replay.sides.served_pcu > 1.0).all()  # the average (0): every green discharged

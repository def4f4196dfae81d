"""[harm] measured_queue_floor as do no harm reads it: harm.observe_all (guarded policies) and
harm.advance_replays (`fixed`) pass the key to the replay (shadow.floor_controlled). R's review of
session 38: with either call passing no floor, no test failed."""

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
    """One two-phase junction, 300 s: every movement's loops measure 6 PCU standing and count
    nothing arriving or over the stop line (a blocked exit); the roadside runs a 65 s cycle.
    `observe`: observe_all, else advance_replays."""
    lay = Layout.build(two_phase(), Config())
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    net = netshadow.NetworkProgram.build([prog])
    hs = harm.initial(prog, 4, 0.0)
    for k in range(1, 301):
        t = float(k)
        e = replace(Estimate.empty(lay, t), departures_pcu=np.zeros(4), queue_pcu=np.full(4, 6.0))
        pos = (t - 2.0) % 65.0
        phase, ig = (0, pos >= 28.0) if pos < 33.0 else (1, pos >= 60.0)
        status = SignalStatus("J", t, phase, ig, 0.0, "p", 1, "policy")
        step = harm.observe_all if observe else harm.advance_replays
        (hs,) = step(net, [hs], [e], [status], t, params)
    return hs


@pytest.mark.parametrize("observe", [True, False])
def test_the_key_reaches_the_replay_from_both_calls(observe: bool):
    on = _run(replace(PARAMS, measured_queue_floor=True), observe)
    off = _run(PARAMS, observe)
    c_on, c_off = (s.replay.sides.queue_pcu[shadow.CONTROLLED] for s in (on, off))
    assert c_on == pytest.approx(np.full(4, 6.0))  # the replay holds nothing of its own: the loops' queue
    assert c_off == pytest.approx(np.zeros(4))
    f_on, f_off = (s.replay.sides.queue_pcu[shadow.FIXED] for s in (on, off))
    assert np.array_equal(f_on, f_off)  # the fixed side as it is

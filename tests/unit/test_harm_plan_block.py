"""[harm] plan_block: the fixed side's exit blockage from what the loops measured while the city's
program ran at the junction (harm.plan_evidence, harm.plan_blocks, netshadow.plan_block)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core import harm, netshadow, shadow
from controller.core.estimation import Estimate, Layout
from controller.core.harm import HarmParams
from controller.model import SignalStatus
from tests.junction_fixtures import two_phase

PARAMS = HarmParams(window_s=300.0, spill_back=False)
BLOCK_WINDOW_S = 30.0


def _run(params: HarmParams, block_under_policy: float, fixed_until_s: float = 600.0) -> harm.HarmState:
    """One two-phase junction, every movement with 3 PCU queued and 0.2 PCU/s arriving, its signal
    the policy's 65 s cycle all along. Until `fixed_until_s` it is in fixed mode (the city's program
    runs) and the loops measure no exit blockage; then it is back on the policy, whose greens meet
    `block_under_policy`. Returns the state at 900 s."""
    lay = Layout.build(two_phase(), Config())
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    net = netshadow.NetworkProgram.build([prog])
    hs = replace(harm.initial(prog, 4, 0.0), mode="fixed")
    cum = np.zeros(4)
    for k in range(1, 901):
        t = float(k)
        if t > fixed_until_s and hs.mode == "fixed":
            hs = replace(hs, mode="policy")
        cum = cum + 0.2
        block = np.full(4, block_under_policy if hs.mode == "policy" else 0.0)
        e = replace(Estimate.empty(lay, t), departures_pcu=cum - 3.0, queue_pcu=np.full(4, 3.0), block=block)
        pos = (t - 2.0) % 65.0  # N/S 28 s, intergreen 5, E/W 27 s, intergreen 5
        phase, ig = (0, pos >= 28.0) if pos < 33.0 else (1, pos >= 60.0)
        status = SignalStatus("J", t, phase, ig, 0.0, "p", 1, "policy")
        (hs,) = harm.observe_all(net, [hs], [e], [status], t, params, None, None, BLOCK_WINDOW_S)
    return hs


def test_the_fixed_side_keeps_the_blockage_measured_under_the_city_program_not_the_policys():
    """The city's program ran 600 s and met no blockage; the policy's greens then meet 0.8 (its
    queues fill the exits). Without the key both sides discharge at 0.2 of the saturation flow; with
    it the fixed side discharges with the blockage measured under the program (none): its replay is
    the one of a run where the loops measured none under the policy either, bit for bit, and the
    controlled side is untouched."""
    on = _run(replace(PARAMS, plan_block=True), 0.8)
    off = _run(PARAMS, 0.8)
    unblocked = _run(PARAMS, 0.0)
    q_on, q_off = on.replay.sides.queue_pcu, off.replay.sides.queue_pcu
    assert np.array_equal(q_on[shadow.CONTROLLED], q_off[shadow.CONTROLLED])
    assert q_on[shadow.FIXED].sum() < q_off[shadow.FIXED].sum() - 10.0
    assert np.array_equal(q_on[shadow.FIXED], unblocked.replay.sides.queue_pcu[shadow.FIXED])
    assert on.gains.delay_gain < off.gains.delay_gain


def test_without_a_spell_on_the_city_program_the_key_changes_nothing():
    """A junction the policy has held all along has no evidence of the program's blockage: the
    fixed side keeps the rule's (here, without spill_back, the blockage measured under the policy),
    bit for bit."""
    on = _run(replace(PARAMS, plan_block=True), 0.8, fixed_until_s=0.0)
    off = _run(PARAMS, 0.8, fixed_until_s=0.0)
    assert on.plan_green_s is None
    assert np.array_equal(on.replay.sides.queue_pcu, off.replay.sides.queue_pcu)


def test_the_first_block_window_of_queued_green_on_the_program_is_not_counted():
    """The estimator's blockage is an average over block_window_s of queued green: just after a
    hand-back it still carries the policy's. A movement counts its blockage only after that much
    queued protected green under the program; at red, or without a queue, nothing counts."""
    lay = Layout.build(two_phase(), Config())
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    hs = replace(harm.initial(prog, 4, 0.0), mode="fixed")
    e = replace(Estimate.empty(lay, 1.0), queue_pcu=np.array([3.0, 3.0, 0.0, 3.0]), block=np.full(4, 0.9))
    served = prog.service_or_red[0] >= 1.0
    status = SignalStatus("J", 1.0, 0, False, 0.0, "p", 1, "policy")
    green = np.zeros(4)
    for k in range(1, 41):
        t = float(k)
        hs = replace(hs, replay=replace(hs.replay, t_s=t), **harm.plan_evidence(hs, prog, e, status, t, 1e9, 30.0))
        green = hs.plan_green_s
    queued = served & (e.queue_pcu >= 1.0)
    assert queued.any() and (~queued).any()
    assert np.allclose(green[queued], 10.0) and np.all(green[~queued] == 0.0)
    assert np.allclose(hs.plan_block_s[queued], 9.0)
    observed, share = harm.plan_blocks([hs], 30.0)
    assert np.allclose(observed[queued], 0.9) and np.allclose(share[queued], 1.0 / 3.0)
    assert np.all(share[~queued] == 0.0)

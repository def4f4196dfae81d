"""step.Core under the fixed policy (not guarded): the do-no-harm replays advance, both sides, bit
for bit as harm.observe_all advances them for a guarded core, and what observe_all adds only for
a verdict (the charges, the measured hidden queue) is not computed (no verdict is taken)."""

from __future__ import annotations

import dataclasses
import random

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.step import Core
from controller.model import SignalStatus
from tests.unit.test_netestimate import _junctions, _snapshot
from tests.unit.test_netshadow import _chained, _same


def _run(guarded: bool, spill_back: bool) -> list[dict]:
    """90 s of random feeds and statuses at five junctions in a ring; the harm states per tick."""
    cfg = Config()
    cfg = dataclasses.replace(cfg, harm=dataclasses.replace(cfg.harm, spill_back=spill_back))
    js = _chained(_junctions())
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, make_policy("fixed", cfg), cfg)
    assert not core.guarded
    core.guarded = guarded  # True: harm.observe_all's full pass (and harm.decide) as for a policy
    rng = random.Random(7)
    state, out = core.initial_state(0.0), []
    for t in range(1, 91):
        snaps = [_snapshot(rng, j, float(t)) for j in js.values() if rng.random() > 0.05]
        statuses = [
            SignalStatus(jid, float(t), (t // 15 + k) % 2, t % 15 < 3, float(t % 15), "", 0, "local")
            for k, jid in enumerate(js)
        ]
        state, result = core.step(state, snaps, statuses, float(t))
        assert not result.mode_changes  # the comparison holds while no verdict restarts a replay
        out.append({jid: s.harm for jid, s in state.junctions.items()})
    return out


def test_the_fixed_policys_replays_are_the_guarded_pass_replays_without_the_charges() -> None:
    for spill_back in (True, False):
        unguarded, guarded = _run(False, spill_back), _run(True, spill_back)
        for a_tick, b_tick in zip(unguarded, guarded, strict=True):
            for jid, b in b_tick.items():
                a = a_tick[jid]
                _same(a.replay, b.replay)
                assert a.gains == b.gains
                assert a.mode == b.mode == "policy"
                assert b.charge is not None and b.measured_hidden_pcu is not None  # the guarded pass
                assert a.charge is None and a.measured_hidden_pcu is None  # nothing computed for a verdict

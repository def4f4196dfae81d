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
from tests.estimate_fixtures import assert_same_replay, mixed_junctions, random_snapshot, ring_chained


def _run(guarded: bool, spill_back: bool) -> list[dict]:
    """90 s of random feeds and statuses at five junctions in a ring; the harm states per tick."""
    cfg = Config()
    cfg = dataclasses.replace(cfg, harm=dataclasses.replace(cfg.harm, spill_back=spill_back))
    js = ring_chained(mixed_junctions())
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, make_policy("fixed", cfg), cfg)
    assert not core.guarded
    core.guarded = guarded  # True: harm.observe_all's full pass (and harm.decide) as for a policy
    rng = random.Random(7)
    state, out = core.initial_state(0.0), []
    for t in range(1, 91):
        snaps = [random_snapshot(rng, j, float(t)) for j in js.values() if rng.random() > 0.05]
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
                assert_same_replay(a.replay, b.replay)
                assert a.gains == b.gains
                assert a.mode == b.mode == "policy"
                assert b.measured_hidden_pcu is not None  # the guarded pass ...
                # ... its Charge left out where its test was brought up to its replay (harm._charges' `needed`)
                assert b.charge is not None or b.excess_t_s == b.replay.t_s
                assert a.charge is None and a.measured_hidden_pcu is None  # nothing computed for a verdict


def _report_under_fixed(shift_s: float) -> tuple[dict, tuple]:
    """Core.report and Core.network after 300 s of the fixed policy at five junctions in a ring, each
    roadside showing its model's base program as the replay's fixed side reads it (phase_at of the
    second two ticks back), shifted by `shift_s`."""
    cfg = Config()
    js = ring_chained(mixed_junctions())
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, make_policy("fixed", cfg), cfg)
    rng = random.Random(11)
    state = core.initial_state(0.0)
    for t in range(1, 301):
        snaps = [random_snapshot(rng, j, float(t)) for j in js.values()]
        statuses = []
        for jid in js:
            p = core.programs[jid].phase_at(float(t) - 2.0 + shift_s)
            statuses.append(SignalStatus(jid, float(t), max(p, 0), p < 0, 0.0, "", 0, "local"))
        state, _ = core.step(state, snaps, statuses, float(t))
    return core.report(state), core.network(state)


def test_under_the_fixed_policy_the_plan_over_itself_gains_exactly_nothing() -> None:
    """What the run report says under `fixed` (docs/metrics.md): where the roadside runs the model's
    program, both replays are the same floats, the gain is 0 and the agreement 1, per junction and
    for the network; a roadside one second off its model's program shows a gain (the model's check)."""
    reports, (net, fixed_mode) = _report_under_fixed(0.0)
    assert fixed_mode == 0 and len(reports) == 5
    for r in reports.values():
        assert r.delay_fixed_s == r.delay_controlled_s and r.delay_gain == 0.0 and r.agreement == 1.0
    assert net.delay_fixed_s == net.delay_controlled_s and net.demand_pcu_h > 0
    shifted, _ = _report_under_fixed(1.0)
    assert any(r.agreement < 1.0 and r.delay_gain != 0.0 for r in shifted.values())

"""step.Core's per-junction loop with one junction in do no harm's fixed mode (controller/core/harm.py,
docs/harm.md): its command in force is re-sent once, expiring at the next decision, and then nothing
is sent for it, while the policy keeps deciding and the other junctions keep their commands."""

from __future__ import annotations

import dataclasses
import itertools
import random

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.step import DECISION_PERIOD_S, Core, CoreState
from controller.model import SignalStatus
from tests.estimate_fixtures import mixed_junctions, random_snapshot, ring_chained

HOLD_S = 1e9  # a fixed mode that does not end within the test


def _tick(core: Core, state: CoreState, js: dict, rng: random.Random, t: int):
    snaps = [random_snapshot(rng, j, float(t)) for j in js.values()]
    statuses = [
        SignalStatus(jid, float(t), (t // 15 + k) % 2, t % 15 < 3, float(t % 15), "", 0, "local")
        for k, jid in enumerate(js)
    ]
    return core.step(state, snaps, statuses, float(t))


def _policy_run(policy: str) -> tuple[Core, CoreState, dict, random.Random, int]:
    """60 s of random feeds at five junctions in a ring under `policy`, do no harm on."""
    cfg = Config()
    js = ring_chained(mixed_junctions())
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, make_policy(policy, cfg), cfg)
    assert core.guarded
    rng = random.Random(11)
    state = core.initial_state(0.0)
    for t in range(1, 61):
        state, _ = _tick(core, state, js, rng, t)
    return core, state, js, rng, 61


def _to_fixed(state: CoreState, jid: str, now_s: float) -> CoreState:
    js = state.junctions[jid]
    assert js.harm is not None
    hs = dataclasses.replace(js.harm, mode="fixed", since_s=now_s, hold_s=HOLD_S, reason="test")
    return dataclasses.replace(state, junctions={**state.junctions, jid: dataclasses.replace(js, harm=hs)})


def test_a_junction_in_fixed_mode_is_withdrawn_once_then_left_to_its_program() -> None:
    for policy in ("adaptive", "scats", "schedule"):  # acyclic and cyclic plans
        core, state, js, rng, t = _policy_run(policy)
        in_force = sorted(jid for jid, s in state.junctions.items() if s.command is not None)
        assert len(in_force) >= 2, (policy, in_force)  # the policy has plans in force to withdraw
        target, others = in_force[0], in_force[1:]
        before = state.junctions[target]
        assert before.command is not None
        state = _to_fixed(state, target, float(t - 1))

        state, result = _tick(core, state, js, rng, t)
        assert target in result.fixed and not set(others) & set(result.fixed), policy
        mine = [c for c in result.commands if c.junction == target]
        assert len(mine) == 1, (policy, mine)  # the command in force, re-sent once ...
        withdrawn = mine[0]
        assert withdrawn.seq == before.seq + 1
        assert (withdrawn.valid_from_s, withdrawn.expires_s) == (float(t), t + DECISION_PERIOD_S)  # ... to expire
        assert dataclasses.replace(withdrawn, seq=0, valid_from_s=0.0, expires_s=0.0) == dataclasses.replace(
            before.command, seq=0, valid_from_s=0.0, expires_s=0.0
        )  # the same decision, not a new one from the policy
        assert state.junctions[target].command is None

        for k in range(1, 31):  # then nothing for it, while the others keep theirs
            state, result = _tick(core, state, js, rng, t + k)
            assert target in result.fixed, (policy, k)
            assert all(c.junction != target for c in result.commands), (policy, k)
            assert state.junctions[target].command is None
            assert state.junctions[target].harm.mode == "fixed"
        assert any(state.junctions[o].command is not None for o in others), policy


def test_the_policy_keeps_deciding_in_fixed_mode() -> None:
    """Its state moves on at the junction in fixed mode (a return starts from a policy that saw
    the whole hold), as in policy mode."""
    core, state, js, rng, t = _policy_run("adaptive")
    target = sorted(jid for jid, s in state.junctions.items() if s.command is not None)[0]
    state = _to_fixed(state, target, float(t - 1))
    seen = [state.junctions[target].policy_state]
    for k in range(30):
        state, _ = _tick(core, state, js, rng, t + k)
        seen.append(state.junctions[target].policy_state)
    assert any(a != b for a, b in itertools.pairwise(seen)), "the policy's state never moved in fixed mode"

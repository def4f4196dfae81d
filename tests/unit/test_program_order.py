"""[max_pressure] program_order_share: leaving a phase, the program's next phase is chosen over the
highest pressure while it keeps that share of it (RiLSA_example3's rotation, BENCHMARKS.md Q session 30)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy, program_successor
from controller.core.safety import SignalView
from controller.model import PhaseWish
from tests.unit.test_max_pressure_net import _estimate, mixed_junctions


class Paired(NamedTuple):
    """One decision of paired_decisions: where, when, the phase in force and the two wishes."""

    jid: str
    tick: int
    lay: Layout
    est: Estimate
    cur: int
    w_off: PhaseWish | None
    w_on: PhaseWish | None


def test_off_takes_the_highest_pressure() -> None:
    assert program_successor(np.array([1.0, 2.0, 5.0]), 0, 2, 0.0) == 2


def test_the_next_phase_within_the_share_is_chosen() -> None:
    # phase 0 in force; phase 1 (the program's next) has 3 against phase 2's 5
    v = np.array([1.0, 3.0, 5.0])
    assert program_successor(v, 0, 2, 0.5) == 1
    assert program_successor(v, 0, 2, 0.7) == 2  # 3 < 0.7 x 5
    assert program_successor(v, 0, 1, 0.5) == 1  # the best is the next phase


def test_the_next_phase_must_beat_the_phase_in_force() -> None:
    assert program_successor(np.array([3.0, 2.0, 4.0]), 0, 2, 0.25) == 2


def test_a_next_phase_without_pressure_is_skipped() -> None:
    assert program_successor(np.array([3.0, 0.0, 4.0]), 0, 2, 0.05) == 2
    assert program_successor(np.array([3.0, 0.0, 4.0]), 0, 2, 0.0) == 2


def test_the_program_wraps_round() -> None:
    assert program_successor(np.array([2.0, 9.0, 1.0]), 2, 1, 0.1) == 0


def test_the_network_pass_is_not_used_with_the_key_on() -> None:
    """The one-pass decision (max_pressure_net) computes the rule without the key: on, each
    junction decides alone."""
    js = mixed_junctions(2)
    layouts = {jid: Layout.build(j, Config()) for jid, j in js.items()}
    assert MaxPressurePolicy(MaxPressureParams()).network_decision(layouts) is not None
    assert MaxPressurePolicy(MaxPressureParams(program_order_share=0.5)).network_decision(layouts) is None


def paired_decisions(on: MaxPressureParams, seed: int, ticks: int) -> Iterator[Paired]:
    """max_pressure as shipped and with `on`, side by side: per tick (t = 100 + tick s) and per
    4-phase junction of mixed_junctions(2), random queues (test_max_pressure_net._estimate), a
    random phase in force and random waits, and the two policies' wishes."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    js = {jid: j for jid, j in mixed_junctions(2).items() if len(j.phases) == 4}
    layouts = {jid: Layout.build(j, Config()) for jid, j in js.items()}
    off_policy, on_policy = MaxPressurePolicy(MaxPressureParams()), MaxPressurePolicy(on)
    for tick in range(1, ticks):
        t = 100.0 + tick
        for jid, lay in layouts.items():
            est = _estimate(nrng, lay, None, t)
            cur = rng.randrange(len(lay.junction.phases))
            view = SignalView(cur, False, 60.0, tuple(rng.uniform(0.0, t) for _ in lay.junction.movements))
            _, w_off = off_policy.decide(off_policy.init(lay, 0.0), lay, est, view, t)
            _, w_on = on_policy.decide(on_policy.init(lay, 0.0), lay, est, view, t)
            yield Paired(jid, tick, lay, est, cur, w_off, w_on)


def test_decide_applies_the_share() -> None:
    """decide() itself takes the program's next phase with the key on (the helper's tests above
    pass whether decide calls it or not): over random queues on 4-phase junctions, the wishes
    with 0.5 differ from those with the key off, each time for the phase after the one in force."""
    differ = 0
    for d in paired_decisions(MaxPressureParams(program_order_share=0.5), 5, 300):
        if d.w_on != d.w_off:
            differ += 1
            n = len(d.lay.junction.phases)
            assert d.w_on is not None and d.w_on.phase == (d.cur + 1) % n, (d.tick, d.jid, d.cur, d.w_on, d.w_off)
    assert differ > 10, differ

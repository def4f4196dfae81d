"""[max_pressure] program_order_share: leaving a phase, the program's next phase is chosen over the
highest pressure while it keeps that share of it (RiLSA_example3's rotation, BENCHMARKS.md Q session 30)."""

from __future__ import annotations

import numpy as np

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy, program_successor
from tests.unit.test_max_pressure_net import mixed_junctions


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

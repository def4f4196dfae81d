"""[max_pressure] program_order_saturated_disjoint: with program_order_saturated, a phase is served before the
highest only where neither it nor a phase it leads into without an intergreen serves protected a movement the
highest serves protected (RiLSA_example2, BENCHMARKS.md A session 46)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from controller.config import load_config
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import saturated_successor, shares_ahead
from controller.errors import ConfigError

# RiLSA_example2's five phases (a T): M the main road (E, W through, W right), L E's left alone (a lead-in),
# LR E's left with S's right, R S's right alone, S both of S's turns; movements E_L, E_T, S_R, S_T, W_R, W_T
R2_SERVICE = np.array(
    [
        [0, 1, 0, 0, 1, 1],  # M
        [1, 0, 0, 0, 0, 0],  # L
        [1, 0, 1, 0, 0, 0],  # LR
        [0, 0, 1, 0, 0, 0],  # R
        [0, 0, 1, 1, 0, 0],  # S
    ],
    dtype=float,
)
# the intergreens the model derives (Statics.intergreen_s): 0 where the next phase only adds greens (L -> LR, R -> LR,
# R -> S)
R2_IG = np.array([[0, 5, 6, 6, 6], [6, 0, 0, 6, 6], [6, 3, 0, 3, 6], [6, 6, 0, 0, 0], [7, 6, 6, 3, 0]], dtype=float)
# RiLSA_example3: W, E1 (E through and right alone, a lead-in), E2 (with E's left), NS (its lefts permitted);
# movements E_L, E_R, E_T, N_L, N_R, N_T, S_L, S_R, S_T, W_L, W_R, W_T
R3_SERVICE = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
        [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0.4, 1, 1, 0.4, 1, 1, 0, 0, 0],
    ],
    dtype=float,
)
R3_IG = np.array([[0, 3, 10, 10], [10, 0, 0, 10], [10, 3, 0, 10], [9, 10, 10, 0]], dtype=float)
ALL5 = np.ones(5, dtype=bool)
ALL4 = np.ones(4, dtype=bool)


def test_a_lead_in_to_a_stage_sharing_a_movement_with_the_highest_shares_ahead() -> None:
    assert shares_ahead(R2_SERVICE, R2_IG, 1, 4)  # L leads into LR, which serves S's right, as S does
    assert shares_ahead(R2_SERVICE, R2_IG, 2, 4)  # LR itself serves S's right
    assert not shares_ahead(R2_SERVICE, R2_IG, 1, 0)  # L, LR share nothing with M
    assert not shares_ahead(R3_SERVICE, R3_IG, 1, 3)  # r3: E1 and E2 share nothing with NS
    assert not shares_ahead(R3_SERVICE, R3_IG, 0, 2)  # W (3 s into E1: not a lead-in) and E2
    assert not shares_ahead(None, R2_IG, 1, 4) and not shares_ahead(R2_SERVICE, None, 1, 4)


def test_the_condition_keeps_r3s_order_and_drops_r2s_tour() -> None:
    v2 = np.array([6.0, 3.0, 2.0, 1.0, 8.0])
    # r2: leaving M for S (the highest), the rule serves L first (the program's next saturated stage); with the
    # condition L and LR are skipped (S's right ahead), R is covered by S: S
    assert saturated_successor(v2, ALL5, 0, 4, R2_SERVICE, 0.0, R2_IG) == 1
    assert saturated_successor(v2, ALL5, 0, 4, R2_SERVICE, 0.0, R2_IG, disjoint=True) == 4
    # r3: leaving W for NS, E1 first with or without it; leaving NS for E2, W first with or without it
    v3 = np.array([5.0, 3.0, 4.0, 9.0])
    assert saturated_successor(v3, ALL4, 0, 3, R3_SERVICE, 0.0, R3_IG) == 1
    assert saturated_successor(v3, ALL4, 0, 3, R3_SERVICE, 0.0, R3_IG, disjoint=True) == 1
    v3b = np.array([5.0, 3.0, 9.0, 4.0])
    assert saturated_successor(v3b, ALL4, 3, 2, R3_SERVICE, 0.0, R3_IG, disjoint=True) == 0


def test_config_reads_the_key_off_by_default_and_refuses_a_non_bool(tmp_path: Path) -> None:
    assert not load_config(
        Path(__file__).resolve().parents[2] / "config.toml"
    ).max_pressure.program_order_saturated_disjoint
    assert not MaxPressureParams().program_order_saturated_disjoint
    cfg = tmp_path / "c.toml"
    cfg.write_text("[max_pressure]\nprogram_order_saturated_disjoint = true\n")
    assert load_config(cfg).max_pressure.program_order_saturated_disjoint
    cfg.write_text("[max_pressure]\nprogram_order_saturated_disjoint = 2\n")
    with pytest.raises(ConfigError, match=r"c\.toml.*max_pressure\.program_order_saturated_disjoint"):
        load_config(cfg)


@pytest.mark.parametrize("disjoint", [False, True])
def test_decide_hands_the_key_to_saturated_successor(monkeypatch: pytest.MonkeyPatch, disjoint: bool) -> None:
    from controller.core.policies import max_pressure
    from controller.core.policies.max_pressure import MaxPressurePolicy
    from controller.core.safety import SignalView
    from tests.unit.test_program_order_saturated import _all_saturated, _four_phase

    seen: list[bool] = []
    real = max_pressure.saturated_successor

    def spy(*args: object, **kwargs: object) -> int:
        seen.append(bool(args[7]) if len(args) > 7 else bool(kwargs.get("disjoint", False)))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(max_pressure, "saturated_successor", spy)
    lay, _ = _four_phase()
    p = MaxPressureParams(program_order_saturated=True, program_order_saturated_disjoint=disjoint)
    policy = MaxPressurePolicy(p)
    policy.decide(policy.init(lay, 0.0), lay, _all_saturated(lay, 2), SignalView(0, False, 60.0, ()), 100.0)
    assert seen == [disjoint]

"""[max_pressure] gap_out_s: at a junction without a signalised neighbour, a movement the phase in
force serves protected whose every lane's stop-line loop has been empty that long holds no pressure
(SUMO actuated's gap-out; RiLSA_example3, BENCHMARKS.md A session 46)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy, gapped_out
from controller.core.safety import SignalView
from controller.errors import ConfigError
from controller.junctions import parse_intersection
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_max_pressure_net import mixed_junctions


def _layout(upstream: tuple[str, ...] = (), stop_loops: bool = True) -> Layout:
    raw = two_phase_raw()
    raw["upstream"] = list(upstream)
    if not stop_loops:  # N's lane loses its stop-line loop
        raw["detectors"] = [d for d in raw["detectors"] if d["id"] != "N_stop"]
    return Layout.build(parse_intersection(raw, "gap.toml"), Config())


def _est(lay: Layout, queue_pcu: list[float], empty_s: list[float]) -> Estimate:
    """Movements' queues (N_T, E_T, S_T, W_T) and each lane's stop-line loop empty for `empty_s`."""
    est = Estimate.empty(lay, 0.0)
    order = [lay.lanes.index(f"e{ap}_0") for ap in "NESW"]
    empty = np.zeros(len(lay.lanes))
    empty[order] = empty_s
    lanes = dataclasses.replace(est.lanes, stop_empty_s=empty)
    return dataclasses.replace(est, queue_pcu=np.array(queue_pcu, dtype=float), lanes=lanes)


def test_a_movement_in_green_with_every_stop_line_loop_empty_that_long_gaps_out() -> None:
    lay = _layout()
    assert [m.id for m in lay.junction.movements] == ["N_T", "E_T", "S_T", "W_T"]
    est = _est(lay, [2.0, 5.0, 2.0, 5.0], [3.0, 9.0, 2.9, 0.0])
    # phase 0 (N, S) in force: N's loop empty 3 s gaps out at 3, S's 2.9 s does not; E and W are red
    assert gapped_out(lay, est, 0, 3.0).tolist() == [True, False, False, False]
    assert gapped_out(lay, est, 0, 2.5).tolist() == [True, False, True, False]
    # phase 1 (E, W) in force: E's loop empty 9 s, W's occupied
    assert gapped_out(lay, est, 1, 3.0).tolist() == [False, True, False, False]


def test_no_gap_out_at_a_junction_with_a_signalised_neighbour_or_on_a_lane_without_stop_line_loop() -> None:
    est_of = lambda lay: _est(lay, [2.0, 5.0, 2.0, 5.0], [9.0, 9.0, 9.0, 9.0])  # noqa: E731
    coupled = _layout(upstream=("K",))
    assert not gapped_out(coupled, est_of(coupled), 0, 3.0).any()
    blind = _layout(stop_loops=False)
    assert gapped_out(blind, est_of(blind), 0, 3.0).tolist() == [False, False, True, False]


def _wish(gap_s: float, lay: Layout, est: Estimate) -> int:
    policy = MaxPressurePolicy(MaxPressureParams(gap_out_s=gap_s, stall_s=0.0, head_block_s=0.0))
    # phase 0 green 20 s (past its 7 s minimum); E and W red for 20 s
    signal = SignalView(0, False, 20.0, (100.0, 80.0, 100.0, 80.0))
    _, w = policy.decide(policy.init(lay, 0.0), lay, est, signal, 100.0)
    assert w is not None
    return w.phase


def test_decide_leaves_a_green_whose_queue_gapped_out_for_a_waiting_queue() -> None:
    """N and S hold 3 PCU each in the estimate (in transit), E and W 4 PCU each, red 20 s: the
    switch's loss (5 s intergreen and the start-up) keeps phase 0 on the pressures. With N's and S's
    stop-line loops empty 4 s the green gaps out at 3 s and phase 1 is served; at 2 s empty, not
    yet; with the key off, never."""
    lay = _layout()
    gapped = _est(lay, [3.0, 4.0, 3.0, 4.0], [4.0, 0.0, 4.0, 0.0])
    assert _wish(0.0, lay, gapped) == 0
    assert _wish(3.0, lay, gapped) == 1
    assert _wish(3.0, lay, _est(lay, [3.0, 4.0, 3.0, 4.0], [2.0, 0.0, 2.0, 0.0])) == 0
    # one lane of the green still discharging (S's loop occupied): S keeps the green
    assert _wish(3.0, lay, _est(lay, [3.0, 4.0, 3.0, 4.0], [4.0, 0.0, 0.0, 0.0])) == 0
    # coupled to a signalised neighbour: no gap-out
    coupled = _layout(upstream=("K",))
    assert _wish(3.0, coupled, _est(coupled, [3.0, 4.0, 3.0, 4.0], [4.0, 0.0, 4.0, 0.0])) == 0


def test_the_network_pass_is_not_used_with_the_key_on() -> None:
    layouts = {jid: Layout.build(j, Config()) for jid, j in mixed_junctions(2).items()}
    assert MaxPressurePolicy(MaxPressureParams(gap_out_s=3.0)).network_decision(layouts) is None
    assert MaxPressurePolicy(MaxPressureParams(gap_out_s=0.0)).network_decision(layouts) is not None


def test_config_reads_the_key_and_refuses_a_negative_gap_naming_the_file_and_key(tmp_path: Path) -> None:
    assert load_config(Path(__file__).resolve().parents[2] / "config.toml").max_pressure.gap_out_s == 0.0  # shipped off
    cfg = tmp_path / "c.toml"
    cfg.write_text("[max_pressure]\ngap_out_s = 3.0\n")
    assert load_config(cfg).max_pressure.gap_out_s == 3.0
    cfg.write_text("[max_pressure]\ngap_out_s = -1.0\n")
    with pytest.raises(ConfigError, match=r"c\.toml.*max_pressure\.gap_out_s"):
        load_config(cfg)


def test_no_gap_out_for_a_blind_movement_or_at_a_junction_with_a_signalised_neighbour_downstream() -> None:
    lay = _layout()
    est = _est(lay, [2.0, 5.0, 2.0, 5.0], [9.0, 9.0, 9.0, 9.0])
    assert gapped_out(lay, est, 0, 3.0).tolist() == [True, False, True, False]
    blind_n = dataclasses.replace(est, blind=np.array([True, False, False, False]))
    assert gapped_out(lay, blind_n, 0, 3.0).tolist() == [False, False, True, False]  # nothing read: no gap seen
    raw = two_phase_raw()
    raw["downstream"] = ["K"]
    fed = Layout.build(parse_intersection(raw, "gap.toml"), Config())
    assert not gapped_out(fed, _est(fed, [2.0, 5.0, 2.0, 5.0], [9.0, 9.0, 9.0, 9.0]), 0, 3.0).any()


class _NoQueues:
    """A network view whose neighbours queue nothing (downstream_weight 0 reads it times 0)."""

    def __init__(self, lay: Layout) -> None:
        self.n = len(lay.junction.movements)

    def downstream_queue_pcu(self, jid: str) -> np.ndarray:
        return np.zeros(self.n)


def test_the_gap_out_joins_the_stalled_movements_where_stall_s_runs_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """With stall_s on (the shipped 5 s) and a network, decide() has an array of stalled movements (here none
    stalled): the gapped-out movements are added to it, and the green gaps out as with stall_s 0."""
    import controller.core.policies.max_pressure as mp

    monkeypatch.setattr(mp, "stalled_movements", lambda lay, *a, **k: np.zeros(len(lay.junction.movements), bool))
    lay = _layout()
    signal = SignalView(0, False, 20.0, (100.0, 80.0, 100.0, 80.0))

    def wish(gap_s: float) -> int:
        policy = MaxPressurePolicy(MaxPressureParams(gap_out_s=gap_s, head_block_s=0.0, exit_room_held=False))
        assert policy.params.stall_s > 0
        state = dataclasses.replace(policy.init(lay, 0.0), last_dep_s=np.full(len(lay.junction.movements), 95.0))
        est = _est(lay, [3.0, 4.0, 3.0, 4.0], [4.0, 0.0, 4.0, 0.0])
        _, w = policy.decide(state, lay, est, signal, 100.0, network=_NoQueues(lay))  # type: ignore[arg-type]
        assert w is not None
        return w.phase

    assert wish(0.0) == 0
    assert wish(3.0) == 1

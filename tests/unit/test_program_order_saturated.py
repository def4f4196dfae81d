"""[max_pressure] program_order_saturated: leaving the phase in force for a phase whose queue
reaches past its advance loop, the first such phase in the program's order is served instead
(RiLSA_example3's rotation, BENCHMARKS.md Q session 32)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import (
    MaxPressurePolicy,
    intergreen_matrix,
    saturated_phases,
    saturated_successor,
)
from controller.core.safety import SignalView
from controller.errors import ConfigError
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_max_pressure_net import mixed_junctions, named_junction
from tests.unit.test_program_order import paired_decisions

ALL = np.array([True, True, True])


def test_the_next_saturated_phase_is_served_whatever_its_pressure() -> None:
    # phase 0 in force; phase 2 has the highest pressure, phase 1 (the program's next) less than phase 0
    assert saturated_successor(np.array([5.0, 3.0, 9.0]), ALL, 0, 2) == 1


def test_a_best_phase_not_saturated_is_taken_on_its_pressure() -> None:
    assert saturated_successor(np.array([5.0, 3.0, 9.0]), np.array([True, True, False]), 0, 2) == 2


def test_phases_not_saturated_or_without_pressure_are_skipped_and_the_program_wraps_round() -> None:
    v = np.array([4.0, 8.0, 0.0, 6.0])
    sat = np.array([True, False, True, True])
    assert saturated_successor(v, sat, 0, 3) == 3  # 1 not saturated, 2 without pressure
    assert saturated_successor(np.array([4.0, 8.0, 1.0, 9.0]), np.array([True, True, True, False]), 2, 1) == 0


def test_a_phase_best_covers_is_skipped() -> None:
    # pasubio's 232: leaving phase 0 for phase 2, phase 1 (the program's next, saturated) serves only
    # movements phase 2 serves as well: phase 2 is served, not its subset (which would cut movement 0)
    service = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    v = np.array([5.0, 3.0, 9.0])
    assert saturated_successor(v, ALL, 0, 2, service) == 2
    # a phase serving one movement better than best (protected, not permitted) is not covered
    permitted = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.4, 1.0]])
    assert saturated_successor(v, ALL, 0, 2, permitted) == 1


def test_a_phase_below_the_share_of_the_highest_is_skipped() -> None:
    # pasubio's 219: the program's next saturated stage had a median 0.41 of the highest pressure
    v = np.array([5.0, 3.0, 5.0, 9.0])
    sat = np.array([True, True, True, True])
    assert saturated_successor(v, sat, 0, 3, None, 0.5) == 2  # 3 < 0.5 x 9 skipped, 5 kept
    assert saturated_successor(v, sat, 0, 3, None, 0.3) == 1
    assert saturated_successor(v, sat, 0, 3, None, 0.0) == 1


def test_a_phase_is_served_first_only_where_that_order_loses_less_to_intergreens() -> None:
    # leaving phase 0 for phase 2 (the highest), phase 1 (the program's next, saturated) goes first
    # only where 0 -> 1 -> 2 loses less time to intergreens than 0 -> 2 -> 1
    v = np.array([5.0, 3.0, 9.0])
    rilsa3 = np.array([[0.0, 3.0, 10.0], [10.0, 0.0, 10.0], [9.0, 10.0, 0.0]])  # 3 + 10 s against 10 + 10 s
    assert saturated_successor(v, ALL, 0, 2, None, 0.0, rilsa3) == 1
    joined231 = np.array([[0.0, 3.0, 3.0], [3.0, 0.0, 3.0], [3.0, 0.0, 0.0]])  # 3 + 3 s against 3 + 0 s
    assert saturated_successor(v, ALL, 0, 2, None, 0.0, joined231) == 2
    even = np.full((3, 3), 3.0) - np.diag([3.0, 3.0, 3.0])  # every order loses the same: nothing to gain
    assert saturated_successor(v, ALL, 0, 2, None, 0.0, even) == 2
    assert saturated_successor(v, ALL, 0, 2, None, 0.0, None) == 1  # no matrix: no condition


@pytest.mark.parametrize("key", ["program_order_share", "program_order_saturated_share"])
def test_a_share_above_1_is_refused_naming_the_file_and_key(tmp_path: Path, key: str) -> None:
    """Above 1 no phase but the highest can hold the share of the highest pressure: the key would
    be off while it reads on. Refused naming the file and the key; 1 is accepted."""
    bad = tmp_path / "c.toml"
    bad.write_text(f"[max_pressure]\n{key} = 1.5\n")
    with pytest.raises(ConfigError, match=rf"c\.toml: max_pressure\.{key}: a share .* 1\.5"):
        load_config(bad)
    bad.write_text(f"[max_pressure]\n{key} = 1.0\n")
    assert getattr(load_config(bad).max_pressure, key) == 1.0


def _four_phase() -> tuple[Layout, Estimate]:
    js = {jid: j for jid, j in mixed_junctions(2).items() if len(j.phases) == 4}
    lay = Layout.build(next(iter(js.values())), Config())
    return lay, Estimate.empty(lay, 0.0)


def _with(est: Estimate, lane: int, m: int, hidden_pcu: float, lane_queue_pcu: float, queue_pcu: float) -> Estimate:
    """`est` with lane `lane`'s hidden queue and queue between the loops, movement `m`'s queue."""
    hidden, lane_q, q = est.lanes.hidden_pcu.copy(), est.lanes.queue_pcu.copy(), est.queue_pcu.copy()
    hidden[lane], lane_q[lane], q[m] = hidden_pcu, lane_queue_pcu, queue_pcu
    lanes = dataclasses.replace(est.lanes, hidden_pcu=hidden, queue_pcu=lane_q)
    return dataclasses.replace(est, queue_pcu=q, lanes=lanes)


def test_a_phase_is_saturated_by_a_queue_past_the_advance_loop_it_starts_serving_that_fills_a_green() -> None:
    lay, est = _four_phase()
    n = len(lay.junction.phases)
    # a phase k and a movement m it serves protected, one the phase in force (cur) does not
    k, m, cur = next(
        (k, int(m), c)
        for k in range(n)
        for m in np.flatnonzero(lay.protected[k])
        for c in range(n)
        if c != k and not lay.serves[c, m]
    )
    lane = int(np.flatnonzero(lay.lane_share[m] > 0)[0])
    storage = float(lay.lane_storage_pcu[lane])
    green_pcu = lay.junction.phases[k].min_green_s * float(est.sat_flow_pcu_h[m]) / 3600.0
    assert not saturated_phases(lay, est, cur).any()
    assert saturated_phases(lay, _with(est, lane, m, 0.5, storage, green_pcu + 1.0), cur)[k]  # a hidden queue
    assert saturated_phases(lay, _with(est, lane, m, 0.0, storage, green_pcu + 1.0), cur)[k]  # the storage full
    assert not saturated_phases(lay, _with(est, lane, m, 0.0, 0.9 * storage, green_pcu + 1.0), cur)[k]
    assert not saturated_phases(lay, _with(est, lane, m, 0.5, storage, green_pcu - 0.5), cur)[k]  # a short queue
    assert not saturated_phases(lay, _with(est, lane, m, 0.5, storage, green_pcu + 1.0), k).any()  # served now
    # nor one the phase in force serves permitted (a left: the stage would only protect it)
    k, m, cur = next(
        (k, int(m), c)
        for k in range(n)
        for m in np.flatnonzero(lay.protected[k])
        for c in range(n)
        if lay.serves[c, m] and not lay.protected[c, m]
    )
    lane = int(np.flatnonzero(lay.lane_share[m] > 0)[0])
    full = _with(est, lane, m, 0.5, float(lay.lane_storage_pcu[lane]), 100.0)
    assert not saturated_phases(lay, full, cur)[k]
    assert saturated_phases(lay, full, next(c for c in range(n) if not lay.serves[c, m]))[k]


def test_the_network_pass_is_not_used_with_the_key_on() -> None:
    js = mixed_junctions(2)
    layouts = {jid: Layout.build(j, Config()) for jid, j in js.items()}
    assert MaxPressurePolicy(MaxPressureParams(program_order_saturated=True)).network_decision(layouts) is None


def test_decide_serves_the_next_saturated_phase() -> None:
    """Over random queues (some hidden upstream) on 4-phase junctions: with the key on, decide()
    wishes the same phase as off unless the highest pressure is saturated, and then the first
    saturated phase with pressure after the one in force that the highest does not cover and whose
    order before the highest loses less to intergreens (no share asked:
    test_a_phase_below_the_share_of_the_highest_is_skipped); it also leaves the phase in force
    where off does, and only there."""
    differ = kept = 0
    on = MaxPressureParams(program_order_saturated=True, program_order_saturated_share=0.0)
    for d in paired_decisions(on, 7, 800):
        assert d.w_on is not None and d.w_off is not None
        assert (d.w_on.phase == d.cur) == (d.w_off.phase == d.cur)
        if d.w_on != d.w_off:
            differ += 1
            n = len(d.lay.junction.phases)
            sat = saturated_phases(d.lay, d.est, d.cur)
            assert sat[d.w_on.phase] and sat[d.w_off.phase], (d.tick, d.cur, d.w_on, d.w_off)
            service = d.lay.protected + np.where(d.lay.serves & ~d.lay.protected, 0.4, 0.0)
            assert not (service[d.w_on.phase] <= service[d.w_off.phase]).all(), (d.tick, d.cur, d.w_on)
            ig, cur, on, off = intergreen_matrix(d.lay), d.cur, d.w_on.phase, d.w_off.phase
            assert ig[cur, on] + ig[on, off] < ig[cur, off] + ig[off, on], (d.tick, cur, on, off)
            between = [(cur + k) % n for k in range(1, (on - cur) % n)]
            free = [
                k
                for k in between
                if sat[k]
                and not (service[k] <= service[off]).all()
                and ig[cur, k] + ig[k, off] < ig[cur, off] + ig[off, k]
            ]
            assert not free, (d.tick, cur, d.w_on, between)
        elif d.w_off.phase != d.cur and saturated_phases(d.lay, d.est, d.cur)[d.w_off.phase]:
            kept += 1  # the rule looked at this decision and kept the highest
    assert differ + kept > 10, (differ, kept)


def _all_saturated(lay: Layout, heavy_phase: int) -> Estimate:
    """Every lane's queue past its advance loop (hidden 5 PCU, the storage full), 20 PCU per
    movement, 200 PCU on the movements `heavy_phase` serves protected (the highest pressure)."""
    est = Estimate.empty(lay, 0.0)
    lanes = dataclasses.replace(est.lanes, hidden_pcu=np.full(len(lay.lanes), 5.0), queue_pcu=lay.lane_storage_pcu)
    return dataclasses.replace(est, queue_pcu=np.where(lay.protected[heavy_phase], 200.0, 20.0), lanes=lanes)


def _wish(on: bool, lay: Layout, est: Estimate, cur: int) -> int | None:
    p = MaxPressureParams(program_order_saturated=on, program_order_saturated_share=0.0)
    policy = MaxPressurePolicy(p)
    _, w = policy.decide(policy.init(lay, 0.0), lay, est, SignalView(cur, False, 60.0, ()), 100.0)
    return None if w is None else w.phase


def test_decide_serves_a_saturated_phase_first_where_its_order_loses_less_to_intergreens() -> None:
    """Program N alone (0), N and S (1), E and W (2): 0 -> 1 keeps N green (no intergreen), so
    leaving 0 for 2 (the highest) through 1 loses 0 + 5 s, 2 then 1 5 + 5 s: 1 is served first
    (RiLSA_example3's W -> E1 -> NS, where E1 starts in W's yellow)."""
    raw = two_phase_raw()
    base = raw["phases"][0]
    raw["phases"] = [{**base, "state": "Grrr"}, {**base, "state": "GrGr"}, {**base, "state": "rGrG"}]
    lay = Layout.build(named_junction("T", raw), Config())
    assert intergreen_matrix(lay).tolist() == [[0, 0, 5], [3, 0, 5], [5, 5, 0]]
    est = _all_saturated(lay, 2)
    assert _wish(False, lay, est, 0) == 2
    assert _wish(True, lay, est, 0) == 1


def test_decide_keeps_the_highest_where_the_order_saves_no_intergreen_or_the_stage_starts_no_green() -> None:
    """A 4-phase junction (through 0 with its left permitted, the left protected 1, through 2,
    its left 3; 3 s from a through to its left, 0 back, 5 s across), every lane's queue past its
    advance loop and phase 2's the highest pressure. From phase 3 the program's next, 0, would
    lose 5 + 5 s before 2 against 0 + 5 s for 2 then 0 (Bologna joined's 231); from phase 0 its
    next, 1, only protects a left 0 serves permitted (pasubio's 230, BENCHMARKS.md Q session 34).
    Both keep the highest, 2."""
    lay, _ = _four_phase()
    assert intergreen_matrix(lay).tolist() == [[0, 3, 5, 5], [0, 0, 5, 5], [5, 5, 0, 3], [5, 5, 0, 0]]
    est = _all_saturated(lay, 2)
    assert _wish(False, lay, est, 0) == _wish(False, lay, est, 3) == 2
    assert saturated_phases(lay, est, 3)[0]  # phase 0 would come first in the program's order
    assert _wish(True, lay, est, 3) == 2
    assert _wish(True, lay, est, 0) == 2

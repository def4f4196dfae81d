"""`schedule`: a phase whose queue fills its approach is held to the city's green while its
stop lines are occupied (issue 9: the minimum-green ping-pong under saturation)."""

from __future__ import annotations

import numpy as np

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy, full_floors_s, update_overflow
from controller.junctions import parse_intersection
from tests.estimate_fixtures import signal_view, stop_line_estimate
from tests.junction_fixtures import two_phase, two_phase_raw

CFG = Config()


def test_full_floors_are_the_base_greens_of_the_phases_whose_approach_is_full():
    lay = Layout.build(two_phase(), CFG)
    storage = float(lay.lane_storage_pcu[lay.lanes.index("eN_0")])
    assert full_floors_s(lay, stop_line_estimate(lay, {"N_T": storage - 2.0, "E_T": 3.0}, {})).tolist() == [0.0, 0.0]
    assert full_floors_s(lay, stop_line_estimate(lay, {"N_T": storage}, {})).tolist() == [30.0, 0.0]
    # beyond the advance loop (the hidden queue) counts as full too
    assert full_floors_s(lay, stop_line_estimate(lay, {"E_T": 4.0}, {}, hidden={"E_T": 3.0})).tolist() == [0.0, 25.0]
    # ... but not a queue the minimum green discharges (a lane full with one vehicle)
    assert full_floors_s(lay, stop_line_estimate(lay, {}, {}, hidden={"E_T": 1.0})).tolist() == [0.0, 0.0]


def _run(p: SchedulePolicy, lay: Layout, full: bool, moving: bool, stop_empty_s: float = 0.0) -> list[int]:
    """Phase 0 (N/S) green from t = 100 s: N_T's queue at the lane's storage (or half of it),
    E/W with 10 PCU each that have waited 60 s; N_T discharges 0.5 PCU/s (or nothing crosses);
    the stop-line loops empty for `stop_empty_s`. Returns the phase wished each second."""
    storage = float(lay.lane_storage_pcu[lay.lanes.index("eN_0")])
    s = p.init(lay, 0.0)
    wishes = []
    for k in range(1, 40):
        dep = 0.5 * k if moving else 0.0
        queue = {"N_T": storage if full else storage / 2, "E_T": 10.0, "W_T": 10.0}
        est = stop_line_estimate(lay, queue, {"N_T": dep}, stop_empty_s=stop_empty_s)
        s, wish = p.decide(s, lay, est, signal_view(lay, 0, float(k), 100.0 + k, 60.0 + k), 100.0 + k)
        wishes.append(wish.phase)
        if wish.phase != 0:
            break
    return wishes


def test_a_full_approach_keeps_its_green_to_the_base_green_while_its_stop_line_is_occupied():
    lay = Layout.build(two_phase(), CFG)
    p = SchedulePolicy(ScheduleParams(steady_s=0.0, saturation_floor=True, floor_after_overflow=False))
    # off: a full approach is not held to the city's green
    assert (
        len(_run(SchedulePolicy(ScheduleParams(steady_s=0.0, saturation_floor=False)), lay, full=True, moving=True))
        < 30
    )
    # not full: the waited E/W queues take the green well before the city's 30 s
    assert len(_run(p, lay, full=False, moving=True)) < 30
    # full and discharging: held to the base green (30 s), free after it
    held = _run(p, lay, full=True, moving=True)
    assert held[:29] == [0] * 29
    # full, nothing crosses but its head vehicle stands on the loop (a blocked exit): held, as
    # the city's plan holds it
    assert _run(p, lay, full=True, moving=False)[:29] == [0] * 29
    # full but its stop-line loops empty for stall_s: the floor is released
    assert len(_run(p, lay, full=True, moving=True, stop_empty_s=10.0)) < 30


def test_with_floor_after_overflow_only_a_lane_its_last_green_left_full_makes_a_floor():
    lay = Layout.build(two_phase(), CFG)
    storage = float(lay.lane_storage_pcu[lay.lanes.index("eN_0")])
    full = stop_line_estimate(lay, {"N_T": storage, "S_T": storage}, {})
    none = np.zeros(len(lay.lanes), dtype=bool)
    assert full_floors_s(lay, full).tolist() == [30.0, 0.0]
    assert full_floors_s(lay, full, overflow=none).tolist() == [0.0, 0.0]
    # N/S's green (phase 0) ends with N still full to its advance loop, S cleared: N overflowed
    s_cleared = stop_line_estimate(lay, {"N_T": storage}, {})
    over = update_overflow(none, lay, s_cleared, ended=0, started=1)
    assert [lay.lanes[i] for i in np.flatnonzero(over)] == ["eN_0"]
    assert full_floors_s(lay, full, overflow=over).tolist() == [30.0, 0.0]
    # a green that ends with the lane cleared takes the overflow back; other lanes keep theirs
    cleared = update_overflow(over, lay, stop_line_estimate(lay, {}, {}), ended=0, started=1)
    assert not cleared.any()
    assert update_overflow(over, lay, stop_line_estimate(lay, {}, {}), ended=1, started=0).tolist() == over.tolist()


def test_floor_after_overflow_holds_a_green_only_once_a_green_has_left_its_lane_full():
    lay = Layout.build(two_phase(), CFG)
    p = SchedulePolicy(ScheduleParams(steady_s=0.0, saturation_floor=True, floor_after_overflow=True))
    # the first green of a full approach: no overflow seen yet, no floor
    assert len(_run(p, lay, full=True, moving=True)) < 30
    # N/S's previous green ended with N still full: held to the city's green
    storage = float(lay.lane_storage_pcu[lay.lanes.index("eN_0")])
    s = p.init(lay, 0.0)
    est = stop_line_estimate(lay, {"N_T": storage, "E_T": 10.0, "W_T": 10.0}, {})
    s, _ = p.decide(s, lay, est, signal_view(lay, 0, 1.0, 50.0, 30.0), 50.0)
    s, _ = p.decide(s, lay, est, signal_view(lay, 1, 1.0, 80.0, 30.0), 80.0)  # N/S's green ended, N full
    assert s.overflow[lay.lanes.index("eN_0")]
    wishes = []
    for k in range(1, 40):
        e = stop_line_estimate(lay, {"N_T": storage, "E_T": 10.0, "W_T": 10.0}, {"N_T": 0.5 * k})
        s, wish = p.decide(s, lay, e, signal_view(lay, 0, float(k), 100.0 + k, 60.0 + k), 100.0 + k)
        wishes.append(wish.phase)
        if wish.phase != 0:
            break
    assert wishes[:29] == [0] * 29


def test_a_storage_the_minimum_green_empties_never_overflows():
    raw = two_phase_raw()
    for d in raw["detectors"]:
        if d["id"] == "N_adv":  # 8 m from the stop line: one vehicle fills it
            d["pos_m"], d["dist_to_stop_m"] = 92.0, 8.0
    lay = Layout.build(parse_intersection(raw, "short.toml"), CFG)
    n, s = lay.lanes.index("eN_0"), lay.lanes.index("eS_0")
    assert lay.lane_storage_pcu[n] * 3600.0 / lay.lane_sat_prior_pcu_h[n] < 7.0
    # both still full (N with 5 PCU estimated beyond its loop) when N/S's green ends: only S overflowed
    est = stop_line_estimate(lay, {"N_T": 1.0, "S_T": float(lay.lane_storage_pcu[s])}, {}, hidden={"N_T": 5.0})
    over = update_overflow(np.zeros(len(lay.lanes), dtype=bool), lay, est, ended=0, started=1)
    assert [lay.lanes[i] for i in np.flatnonzero(over)] == ["eS_0"]

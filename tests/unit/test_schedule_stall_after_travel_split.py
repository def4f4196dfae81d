"""`schedule`, `[schedule] stall_after_travel_split`: stall_after_travel's rule (a queue still on its way to an empty
stop line is an arrival due at its travel time, not a stall) on the parts `[timing] split_movements_by_green` made
only (`split_parts`: a movement sharing its approach edge and turn with another that other stages green); elsewhere
stall_s's rule as without the key (issue 9: schedule under the split flip, N sessions 52-54)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy, split_parts
from controller.junctions import parse_intersection
from controller.model import Intersection
from tests.estimate_fixtures import signal_view, stop_line_estimate
from tests.junction_fixtures import four_phase_raw, two_phase_raw

CFG = Config()


def _junction(split: bool) -> Intersection:
    """two_phase; with `split`, W_T comes from N_T's edge and turn (eN, through) and greens in phase 1, N_T in
    phase 0: the two parts the split makes of one (edge, turn) group whose links green in different stages.
    Without, S_T comes from eN, through, and greens in phase 0 as N_T: no split part (two groups the split left
    whole, e.g. a lane class's own movement beside the cars')."""
    raw = two_phase_raw()
    by_id = {m["id"]: m for m in raw["movements"]}
    by_id["W_T" if split else "S_T"]["from_edge"] = "eN"
    return parse_intersection(raw, "split.toml")


def test_split_parts_are_the_movements_sharing_edge_and_turn_with_other_stages():
    ids = [m.id for m in _junction(True).movements]
    marked = split_parts(Layout.build(_junction(True), CFG))
    assert [ids[i] for i in np.flatnonzero(marked)] == ["N_T", "W_T"]
    assert not split_parts(Layout.build(_junction(False), CFG)).any()  # S_T shares N_T's stages: no split part


def _on_its_way(lay: Layout, est: Estimate) -> Estimate:
    """`est` where N_T's 3 vehicles passed its advance loop 1-3 s ago (the zone is 78 m, the loop's speed 10 m/s:
    7.8 s of travel), every stop-line loop empty for 12 s."""
    lane = lay.lanes.index(lay.junction.movements[0].lanes[0])
    recent = np.zeros_like(est.lanes.adv_recent_pcu)
    recent[[1, 2, 3], lane] = 1.0
    empty = np.full(len(lay.lanes), 12.0)
    return replace(est, lanes=replace(est.lanes, adv_recent_pcu=recent, stop_empty_s=empty))


def _wish_at_12s(split: bool, **keys: bool) -> int:
    """Phase 0 green for 12 s with nobody over its stop lines; N_T holds 3 PCU on their way (_on_its_way), E_T
    1 PCU, red for 20 s. Returns the phase wished."""
    lay = Layout.build(_junction(split), CFG)
    p = SchedulePolicy(ScheduleParams(steady_s=0.0, saturation_floor=False, **keys))
    s = p.init(lay, 0.0)
    est = stop_line_estimate(lay, {}, {}, stop_empty_s=12.0)
    s, _ = p.decide(s, lay, est, signal_view(lay, 0, 1.0, 101.0, 20.0), 101.0)
    est = _on_its_way(lay, stop_line_estimate(lay, {"N_T": 3.0, "E_T": 1.0}, {}, stop_empty_s=12.0))
    _, wish = p.decide(s, lay, est, signal_view(lay, 0, 12.0, 112.0, 20.0), 112.0)
    assert wish is not None
    return wish.phase


def test_a_split_part_on_its_way_keeps_the_green_with_the_key():
    assert _wish_at_12s(split=True) == 1  # off: N_T "blocked", the light changes
    assert _wish_at_12s(split=True, stall_after_travel_split=True) == 0


def test_a_movement_the_split_did_not_make_stalls_as_without_the_key():
    assert _wish_at_12s(split=False, stall_after_travel_split=True) == 1
    assert _wish_at_12s(split=False, stall_after_travel=True) == 0  # stall_after_travel: every movement


def test_only_the_parts_leave_the_stalled_set():
    """N_T (a part) and S_T (not one) both stalled, both on their way: only N_T's queue becomes an arrival."""
    lay = Layout.build(_junction(True), CFG)
    ids = [m.id for m in lay.junction.movements]
    n, s_ = ids.index("N_T"), ids.index("S_T")
    est = stop_line_estimate(lay, {"N_T": 3.0, "S_T": 2.0}, {}, stop_empty_s=12.0)
    est = _on_its_way(lay, est)
    lane_s = lay.lanes.index(lay.junction.movements[s_].lanes[0])
    recent = est.lanes.adv_recent_pcu.copy()
    recent[[1, 2], lane_s] = 1.0
    est = replace(est, lanes=replace(est.lanes, adv_recent_pcu=recent))
    stalled = np.zeros(len(ids), dtype=bool)
    stalled[[n, s_]] = True
    p = SchedulePolicy(ScheduleParams(stall_after_travel_split=True))
    got, got_est, got_arr = p._on_its_way(lay, est, np.zeros((len(ids), 30)), stalled, split_parts(lay))
    assert got.tolist() == [i == s_ for i in range(len(ids))]
    assert got_est.queue_pcu[n] == 0.0 and got_est.queue_pcu[s_] == 2.0
    assert got_arr[n].sum() == 3.0 and got_arr.sum() == 3.0


def test_a_protected_left_from_a_through_edge_is_no_split_part():
    """four_phase: each edge's through (phase 0) and left (phases 0 permitted and 1) green in different stages,
    but they turn differently: the split made neither, so neither is marked (R, session 54: the turn's
    comparison dropped marked them)."""
    assert not split_parts(Layout.build(parse_intersection(four_phase_raw(), "four.toml"), CFG)).any()


def test_parts_that_share_a_stage_and_differ_in_another_are_split_parts():
    """four_phase with N's inner-lane left turned into a through: N_T (phase 0) and that part (phases 0 and 1)
    share an edge and turn and phase 0, and differ in phase 1; both red in phases 2-3. Both are parts (R,
    session 54: a difference in every stage asked for marked none)."""
    raw = four_phase_raw()
    next(m for m in raw["movements"] if m["id"] == "N_L")["turn"] = "through"
    lay = Layout.build(parse_intersection(raw, "four.toml"), CFG)
    ids = [m.id for m in lay.junction.movements]
    assert [ids[i] for i in np.flatnonzero(split_parts(lay))] == ["N_T", "N_L"]

"""`schedule`, `[schedule] stall_after_travel_split_junction`: stall_after_travel's rule (a queue still on its way to
an empty stop line is an arrival due at its travel time, not a stall), on every movement of a junction where
`[timing] split_movements_by_green` made parts (`split_parts`: a movement sharing its approach edge and turn with
another that other stages green); at the other junctions stall_s's rule as without the key (issue 9: schedule under
the split flip, N sessions 52-54)."""

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


def _on_its_way(lay: Layout, est: Estimate, movement: str = "N_T") -> Estimate:
    """`est` where `movement`'s 3 vehicles passed its advance loop 1-3 s ago (the zone is 78 m, the loop's speed
    10 m/s: 7.8 s of travel), every stop-line loop empty for 12 s."""
    ids = [m.id for m in lay.junction.movements]
    lane = lay.lanes.index(lay.junction.movements[ids.index(movement)].lanes[0])
    recent = np.zeros_like(est.lanes.adv_recent_pcu)
    recent[[1, 2, 3], lane] = 1.0
    empty = np.full(len(lay.lanes), 12.0)
    return replace(est, lanes=replace(est.lanes, adv_recent_pcu=recent, stop_empty_s=empty))


def _wish_at_12s(split: bool, movement: str = "N_T", **keys: bool) -> int:
    """Phase 0 green for 12 s with nobody over its stop lines; `movement` (of phase 0) holds 3 PCU on their way
    (_on_its_way), E_T 1 PCU, red for 20 s. Returns the phase wished."""
    lay = Layout.build(_junction(split), CFG)
    p = SchedulePolicy(ScheduleParams(steady_s=0.0, saturation_floor=False, **keys))
    s = p.init(lay, 0.0)
    est = stop_line_estimate(lay, {}, {}, stop_empty_s=12.0)
    s, _ = p.decide(s, lay, est, signal_view(lay, 0, 1.0, 101.0, 20.0), 101.0)
    est = _on_its_way(lay, stop_line_estimate(lay, {movement: 3.0, "E_T": 1.0}, {}, stop_empty_s=12.0), movement)
    _, wish = p.decide(s, lay, est, signal_view(lay, 0, 12.0, 112.0, 20.0), 112.0)
    assert wish is not None
    return wish.phase


def test_at_a_junction_with_split_parts_a_queue_on_its_way_keeps_the_green():
    assert _wish_at_12s(split=True) == 1  # off: N_T "blocked", the light changes
    assert _wish_at_12s(split=True, stall_after_travel_split_junction=True) == 0
    # S_T is no part, but its junction has parts (N_T, W_T): every movement there waits for its vehicles
    assert _wish_at_12s(split=True, movement="S_T", stall_after_travel_split_junction=True) == 0


def test_at_a_junction_without_split_parts_a_queue_on_its_way_stalls_as_without_the_key():
    assert _wish_at_12s(split=False, stall_after_travel_split_junction=True) == 1
    assert _wish_at_12s(split=False, movement="S_T", stall_after_travel_split_junction=True) == 1
    assert _wish_at_12s(split=False, stall_after_travel=True) == 0  # stall_after_travel: at every junction


# R session 54 (review): split_parts' turn comparison and a part differing in one stage only.
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

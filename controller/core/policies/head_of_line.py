"""A shared lane blocked at its head: max-pressure's queue moved to the movement the head waits for. Pure.

Contract. A lane used by movements green in different phases (a left, green only in its own short
stage, sharing the lane with the through and right of another stage) is one first-in first-out
queue: while a left-turner stands at its head, the through and right behind it cannot leave,
however long their green lasts. The estimator splits the lane's queue equally among its movements
(core/shared_lanes.py), so max-pressure counts two thirds of it for the through-and-right stage
and keeps that green while nothing crosses. From the loops alone (`[max_pressure] head_block_s`):

    the phase in force serves some movements of the lane protected ('G'), some not at all (red),
    none permitted only (a head there may wait for a gap, not for its signal),
    its stop-line loop is occupied now (a vehicle stands at the line), the loops of the lane's
    movements work, and none of the movements the phase serves on the lane sent a vehicle over
    its stop line for `head_block_s` past the green's start-up loss, and none of them has a
    vehicle standing at the stop line of another of its lanes (there, nobody crossing means its
    exit is full: the whole movement stands, not a lane behind its head)
        -> the head waits for one of the lane's red movements (blocked_heads)

The lane then stays blocked (update_head_waits) until its stop-line loop is empty or a movement
using it crosses its stop line (the head left). While it is blocked, the part of the lane's queue
the estimator gives the lane's other movements (those the phase in force serves) is dropped from
their queues (head_drop_pcu): the green that cannot use the lane gets none of it (a gap-out on the
lane, as a vehicle-actuated controller's). It is dropped in every phase's pressure, also in a phase
that serves the waiting movement too, where the lane does discharge once the head leaves (RESCO
ingolstadt21's light gneJ207, seed 2: the green went to a third stage before the through's own).
Of the forms measured (that part moved to the waiting movements instead; this one; the part dropped only
in the phases serving none of the waiting movements), this one gave the best figures (BENCHMARKS.md,
"the shared lane's head-of-line block: the drop form", K session 42).

Example: lane E_0 used by E_L (red in phase 0, green in phase 1) and E_T (green in phase 0), 4 PCU
on the lane (2 each), phase 0 green for 20 s, E_0's stop-line loop occupied and no E_T crossing
for 5 s with `head_block_s` 4: E_T counts 0 PCU of E_0, E_L its 2; phase 0 loses the lane's pressure.
"""

from __future__ import annotations

import numpy as np

from controller.core.estimation import Estimate, Layout


def mixed_lanes(layout: Layout) -> np.ndarray:
    """(phases, lanes) bool: in the phase, some movement using the lane is served protected, some
    is not served at all (red), and none is served permitted only. A function of the layout alone
    (Layout.derived keeps it)."""
    uses = layout.lane_uses.astype(float)
    permitted = layout.serves & ~layout.protected
    has_protected = layout.protected.astype(float) @ uses > 0
    has_red = (~layout.serves).astype(float) @ uses > 0
    has_permitted = permitted.astype(float) @ uses > 0
    out: np.ndarray = has_protected & has_red & ~has_permitted
    return out


def unshared_lanes(layout: Layout) -> np.ndarray:
    """(phases, lanes) bool: mixed in the phase (mixed_lanes), and no phase serves both a movement
    the phase leaves red on the lane (one its head may wait for) and every movement the phase serves
    on it: no stage discharges the lane whole, so a head of the wrong movement holds the lane in
    every stage that serves it. Where such a stage exists (a left sharing the through's lane, green
    with it in the main stage and alone in a short protected stage), the lane empties in it and a
    head holds only the rest of the partial stage. A function of the layout alone (Layout.derived)."""
    uses = layout.lane_uses
    mixed = layout.derived(mixed_lanes)
    out = np.zeros_like(mixed)
    for p, lane in zip(*np.nonzero(mixed), strict=True):
        waiting = uses[:, lane] & ~layout.serves[p]
        served = uses[:, lane] & layout.serves[p]
        whole = (layout.serves & waiting[None, :]).any(axis=1) & (layout.serves | ~served[None, :]).all(axis=1)
        out[p, lane] = not whole.any()
    return out


def read_lanes(
    layout: Layout, cur: int, green_elapsed_s: float, unshared_only: bool, past_city_green: bool
) -> np.ndarray:
    """(lanes,) bool: the lanes blocked_heads reads in phase `cur`: mixed_lanes, or with `unshared_only`
    unshared_lanes; with `past_city_green` too, mixed_lanes again once `cur` has been green longer than
    the city's program gives it (its base_green_s), where a stage that serves the lane whole no longer
    empties it in time (a short protected stage held on by the policy)."""
    past = past_city_green and green_elapsed_s > layout.junction.phases[cur].base_green_s
    out: np.ndarray = layout.derived(unshared_lanes if unshared_only and not past else mixed_lanes)[cur]
    return out


def blocked_heads(
    layout: Layout,
    est: Estimate,
    cur: int,
    green_elapsed_s: float,
    last_dep_s: np.ndarray,
    now_s: float,
    head_block_s: float,
    unshared_only: bool = False,
    past_city_green: bool = False,
) -> np.ndarray:
    """(movements, lanes) bool: per lane found blocked at its head now, the movements using it
    that phase `cur` (green for `green_elapsed_s`) leaves red: the movements its head may wait for.
    A lane is blocked when it is mixed in `cur` (mixed_lanes; with `unshared_only`, only where no
    stage serves the lane whole: unshared_lanes), it has a stop-line loop and every
    movement using it is seen (not blind), that loop is occupied now (`stop_empty_s` 0), none of
    the movements `cur` serves on it sent a vehicle over its stop line (`last_dep_s`, s, when each
    last did) for `head_block_s` past the green's start-up loss, and the stop-line loop of every
    other lane of those movements shows a gap (`stop_empty_s` > 0: a vehicle standing there, or a
    loop that does not work, leaves the lane unblocked; the movement's exit may hold it). With
    `unshared_only` and `past_city_green`, every mixed lane once `cur` has run longer than the city's
    green for it (base_green_s): unshared_lanes' premise, a head holding only the rest of a short
    stage, no longer holds (read_lanes)."""
    uses = layout.lane_uses
    mixed = read_lanes(layout, cur, green_elapsed_s, unshared_only, past_city_green)
    since_s = now_s - np.maximum(last_dep_s, now_s - green_elapsed_s + layout.params.startup_lost_s)
    served = layout.protected[cur]
    moving = served & (since_s < head_block_s)
    seen = ~est.blind
    lane_moving = (uses & moving[:, None]).any(axis=0)
    lane_seen = ~(uses & ~seen[:, None]).any(axis=0)
    standing = (layout.lane_stop >= 0) & (est.lanes.stop_empty_s <= 0.0)
    blocked = mixed & standing & lane_seen & ~lane_moving
    if blocked.any():
        on_lane = (uses & served[:, None]).astype(float)  # (movements, lanes)
        sibling = (on_lane.T @ on_lane > 0) & ~np.eye(len(standing), dtype=bool)  # (lanes, lanes)
        held = (sibling & (est.lanes.stop_empty_s <= 0.0)[None, :]).any(axis=1)
        blocked = blocked & ~held
    out: np.ndarray = uses & blocked[None, :] & ~layout.serves[cur][:, None]
    return out


def update_head_waits(
    waits: np.ndarray | None, layout: Layout, est: Estimate, departed: np.ndarray, found: np.ndarray | None
) -> np.ndarray:
    """(movements, lanes) bool: the blocked lanes' waiting movements after one tick. A lane's
    entry (`waits`, None: none yet) is cleared when its stop-line loop is empty or a movement using
    it crossed its stop line this tick (`departed`, per movement: its head left, or a lane of the
    movement discharged); a lane found blocked this tick (`found`, blocked_heads; None: not
    looked for) takes the new entry."""
    uses = layout.lane_uses
    if waits is None or waits.shape != uses.shape:
        waits = np.zeros(uses.shape, dtype=bool)
    cleared = (est.lanes.stop_empty_s > 0.0) | (uses & departed[:, None]).any(axis=0)
    out: np.ndarray = waits & ~cleared[None, :]
    if found is not None:
        hit = np.asarray(found.any(axis=0), dtype=bool)
        out = np.where(hit[None, :], found, out)
    return out


def head_drop_pcu(layout: Layout, est: Estimate, waits: np.ndarray) -> np.ndarray | None:
    """(movements,) PCU to add to each movement's queue: on every blocked lane (a column of `waits`
    with a waiting movement), the part of the lane's queue (between the loops and beyond the advance
    loop) the estimator gives its other movements (their lane share), taken from them; the waiting
    movements keep their own share. None where no lane is blocked."""
    blocked = np.asarray(waits.any(axis=0), dtype=bool)
    if not blocked.any():
        return None
    lane_pcu = est.lanes.queue_pcu + est.lanes.hidden_pcu
    others = layout.lane_uses & ~waits & blocked[None, :]
    taken = np.where(others, layout.lane_share * lane_pcu[None, :], 0.0)  # (movements, lanes)
    out: np.ndarray = -taken.sum(axis=1)
    return out

"""A spill that reaches its link's head waits no longer than the city's plan makes it wait. Pure.

`[max_pressure] spill_plan_red`. Max-pressure weighs a movement by the queue its loops and the
estimator see. Past an advance loop that stands, the queue's length is a guess
(estimation.py's hidden queue), and beyond the room its own road stores
(`spillback.blocking_queue_pcu`) it stands across the junction at the link's head: there it holds
streams this light never serves (a merge, a diverge, a ring), a cost no loop of this light
measures. Where the policy cannot see what such a queue costs, it keeps one promise the city's own
program made: the movement is red no longer than the longest red that program gives it in one
cycle (`safety.max_red_s` over the program's base greens, in the program's order). Once the phase in
force has had its minimum green, the policy leaves it for the highest-pressure phase serving such a
movement. A queue that stands on its own road (an entry fed from the network's edge: unbounded
room) never qualifies; nor does one that the phase in force serves.

Example: a 34 m exit of a ring (advance loop at the lane's start, room 0) with 6 PCU past its loop,
red for 72 s where the city's program holds it red 72 s per cycle, against a long entry green with a
larger pressure: the policy switches to the exit's phase, where the pressures alone would keep the
entry's green.

`[max_pressure] spill_plan_red_served` narrows the rule to a spill that a green is seen to serve
(`served`): the queue stands from the stop line (every
lane's stop-line loop occupied now: a loop standing at the approach's start while its stop line is
empty stands for another reason), the
movement's last green sent someone over its stop line (`GreenDischarge`; an exit that took no one
then, blocked, takes no one now), and a phase serves it protected (a permitted turn's green serves it
only in the gaps of the streams it yields to); only such a phase is chosen.
Example: the ring exit above whose last 7 s green passed 1 PCU qualifies; a 21 s green that passed
none, or a lane whose stop-line loop has been empty these 10 s, does not.

`[max_pressure] spill_plan_red_turns_off` counts only the spill past the road beyond the room that
still leads only into the approach (`turn_off_room_pcu`): roads that merge and all go on into it
store a queue that holds only this light's traffic, which its pressure already weighs; past them
it stands on a lane that also carries traffic turning off elsewhere, and holds it.
Example: the ring exit above, whose one feeding lane also turns left and right off it, counts its
whole spill past the room; a lane whose road starts where two 24 m roads merge, each fed by a lane
that turns off too, counts only what stands past 3.2 PCU more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.safety import max_red_s
from controller.model import Intersection


@dataclass(frozen=True)
class GreenDischarge:
    """Per movement (arrays indexed like junction.movements), PCU over the stop line in its last green
    seen to its end (`last_pcu`; nan: none yet) and the cumulative departures at the start of the green
    in force (`start_pcu`; nan while red)."""

    start_pcu: np.ndarray
    last_pcu: np.ndarray


def track_greens(prev: GreenDischarge | None, departures_pcu: np.ndarray, green: np.ndarray) -> GreenDischarge:
    """One tick: `departures_pcu` the estimate's cumulative departures (PCU), `green` (movements,) bool
    the movements green now. A green that ends closes with what left since its start (departures
    counted until the first tick it is red, its yellow included); None: no tick seen yet."""
    if prev is None or len(prev.start_pcu) != len(departures_pcu):
        nan = np.full(len(departures_pcu), np.nan)
        return GreenDischarge(np.where(green, departures_pcu, np.nan), nan)
    running = ~np.isnan(prev.start_pcu)
    ended = running & ~green
    last = np.where(ended, departures_pcu - prev.start_pcu, prev.last_pcu)
    start = np.where(green, np.where(running, prev.start_pcu, departures_pcu), np.nan)
    return GreenDischarge(start, last)


def served(layout: Layout, est: Estimate, greens: GreenDischarge | None) -> np.ndarray:
    """(movements,) bool: a green is seen to serve the movement's queue (`spill_plan_red_served`): every
    lane of it has its stop-line loop occupied now (`stop_empty_s` 0), its last green passed someone
    over its stop line or none has been seen to its end (`greens`; None: none), and some phase serves
    it protected (`layout.protected`)."""
    line_empty = est.lanes.stop_empty_s > 0.0
    standing = np.logical_not((layout.lane_uses & line_empty[None, :]).any(axis=1))
    moved: np.ndarray = ~(greens.last_pcu <= 0.0) if greens is not None else np.ones(standing.shape, dtype=np.bool_)
    out: np.ndarray = standing & moved & layout.protected.any(axis=0)
    return out


def turn_off_room_pcu(junction: Intersection, lanes: tuple[str, ...]) -> np.ndarray:
    """(lanes,) PCU, indexed like `lanes`: the room the road past each lane's advance loop's room
    stores before a lane that also turns off it (`Detector.room_to_turn_off_pcu`; 0 where that is not
    known or there is no such loop)."""
    out = np.zeros(len(lanes))
    index = {lane: i for i, lane in enumerate(lanes)}
    for d in junction.detectors:
        if d.kind == "advance" and d.room_to_turn_off_pcu is not None and d.lane in index:
            out[index[d.lane]] = d.room_to_turn_off_pcu
    return out


def plan_red_s(junction: Intersection) -> np.ndarray:
    """(movements,) s: the longest red of each movement in one cycle of the junction's own program
    (its phases in order at their base greens, intergreens counted red); inf for a movement the
    program never serves."""
    order = tuple(range(len(junction.phases)))
    reds = max_red_s(junction, order, tuple(p.base_green_s for p in junction.phases))
    return np.array([reds.get(m.id, np.inf) for m in junction.movements], dtype=float)


def due_phase(
    service: np.ndarray,
    cur: int,
    blocking_pcu: np.ndarray,
    red_s: np.ndarray,
    plan_red_s: np.ndarray,
    pressures: np.ndarray,
    eligible: np.ndarray | None = None,
    protected: np.ndarray | None = None,
) -> int:
    """The phase to serve next under the rule, or -1 if no movement is due.

    `service` (phases, movements): > 0 where a phase serves a movement; `blocking_pcu` (movements,):
    the queue past each movement's room (spillback.blocking_queue_pcu); `red_s` (movements,): how
    long each has been red (0 if green); `plan_red_s` (movements,): the longest red of the city's
    program (spill_red.plan_red_s); `pressures` (phases,); `eligible` (movements,) bool, only these may
    be due (`served`; None: all); `protected` (phases, movements) bool, only a phase serving a due
    movement protected is chosen (None: any serving it).
    Due: red, its spill past the room, red at least the plan's red, and not served by `cur`. Returns
    the highest-pressure phase serving a due movement."""
    due = (blocking_pcu > 0.0) & (red_s > 0.0) & (red_s >= plan_red_s) & ~(service[cur] > 0.0)
    if eligible is not None:
        due &= eligible
    if not due.any():
        return -1
    serves = (service[:, due] > 0.0).any(axis=1) if protected is None else protected[:, due].any(axis=1)
    return int(np.where(serves, pressures, -np.inf).argmax())

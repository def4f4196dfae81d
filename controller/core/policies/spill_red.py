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

`[max_pressure] spill_plan_green` is the green half of the same promise: a movement whose queue stands
past its room (`spillback.blocking_queue_pcu` > 0, a lane's counted once it reaches a whole vehicle:
`whole_spill_pcu`), once green and served protected by the phase in force, keeps its green until it
has lasted the program's longest green for it in one cycle (`plan_green_s`: its run of consecutive
phases serving it protected at their base greens, the intergreens between them counted, as it stays
green across them), or until its spill clears. Past the
minimum green only the phases that keep every such movement green protected are chosen, by their
pressures (`keep_phases`); a phase giving it a permitted green only ends the plan's run, as the hold
keeps no such phase (a left turn permitted in a 33 s stage and protected in the next 6 s one: 6 s).
Example: junction 219's ring exit S, served by the program's stages 4, 5 and 6 (33 s in all), green
7 s in stage 4 with its file still standing past its room: the policy goes on into stage 5 or 6, or
stays, where the pressures alone would end S's green for the entry W.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.safety import max_red_s
from controller.core.spillback import lane_spill_pcu
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


@dataclass(frozen=True)
class GreenHold:
    """`spill_plan_green`, per movement (arrays indexed like junction.movements): the program's longest
    green in one cycle (`plan_s`, plan_green_s) and when the green in force began (`from_s`; nan while
    red or not yet seen)."""

    plan_s: np.ndarray
    from_s: np.ndarray


def plan_green_s(junction: Intersection, protected: np.ndarray) -> np.ndarray:
    """(movements,) s: the longest protected green of each movement in one cycle of the junction's own
    program: its run of consecutive phases (in order, around the cycle) serving it protected
    (`protected` (phases, movements) bool, Layout.protected: the only phases the hold keeps) at their
    base greens, with the intergreens between two phases of the run (it stays green across them); a
    phase giving it a permitted green only ('g') ends the run; 0 for a movement the program never
    serves protected, inf for one every phase serves protected."""
    greens = [p.base_green_s for p in junction.phases]
    out = [_longest_run_s(junction, [bool(x) for x in protected[:, i]], greens) for i in range(len(junction.movements))]
    return np.array(out, dtype=float)


def _longest_run_s(junction: Intersection, served: list[bool], greens_s: list[float]) -> float:
    """The longest run of `served` phases around the cycle, in seconds (plan_green_s)."""
    if all(served):
        return float("inf")
    n, longest, run = len(served), 0.0, 0.0
    start = served.index(False)  # from a phase that does not serve it, once around: the last step closes the run
    for k in range(1, n + 1):
        i = (start + k) % n
        if not served[i]:
            longest, run = max(longest, run), 0.0
            continue
        prev = (i - 1) % n
        run += greens_s[i] + (junction.intergreen_s(prev, i) if served[prev] else 0.0)
    return longest


def track_green_from(prev: GreenHold, green: np.ndarray, now_s: float) -> GreenHold:
    """One tick: `green` (movements,) bool the movements green now. A green in force keeps its start
    across phases (a movement green in two phases in a row stays green); a red one reads nan."""
    start = np.where(green, np.where(np.isnan(prev.from_s), now_s, prev.from_s), np.nan)
    return GreenHold(prev.plan_s, start)


def held_green(
    hold: GreenHold, protected_now: np.ndarray, blocking_pcu: np.ndarray, now_s: float, green_elapsed_s: float = 0.0
) -> np.ndarray:
    """(movements,) bool: held green under the rule: served protected by the phase in force
    (`protected_now`), its spill past the room (`blocking_pcu` > 0), green for less than the plan's
    longest green (`hold.from_s` known). A movement the phase in force serves has been green at least
    as long as that phase (`green_elapsed_s`): its status is seen green a tick after the phase's
    green starts, which alone would hold it a tick past its plan green."""
    lasted_s = np.maximum(now_s - hold.from_s, green_elapsed_s)
    out: np.ndarray = protected_now & (blocking_pcu > 0.0) & (lasted_s < hold.plan_s)
    return out


def whole_spill_pcu(layout: Layout, est: Estimate) -> np.ndarray:
    """(movements,) spillback.blocking_queue_pcu counted in whole vehicles (`spill_plan_green`): a lane's queue
    past its room counts once it reaches 1 PCU, split between the movements as the estimator splits it. The
    hidden queue grows by the learnt flow while the advance loop stands and drains by what crosses it, so it
    leaves fractions that count no vehicle (docs/policies.md, `spill_plan_green`: what SUMO showed)."""
    spill = lane_spill_pcu(layout, est)
    out: np.ndarray = layout.lane_share @ np.where(spill >= 1.0, spill, 0.0)
    return out


def keep_phases(protected: np.ndarray, held: np.ndarray) -> np.ndarray:
    """(phases,) bool: the phases that serve every `held` movement protected (`protected` (phases,
    movements) bool)."""
    out: np.ndarray = np.asarray(protected[:, held].all(axis=1), dtype=np.bool_)
    return out

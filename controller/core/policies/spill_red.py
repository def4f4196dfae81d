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
"""

from __future__ import annotations

import numpy as np

from controller.core.safety import max_red_s
from controller.model import Intersection


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
) -> int:
    """The phase to serve next under the rule, or -1 if no movement is due.

    `service` (phases, movements): > 0 where a phase serves a movement; `blocking_pcu` (movements,):
    the queue past each movement's room (spillback.blocking_queue_pcu); `red_s` (movements,): how
    long each has been red (0 if green); `plan_red_s` (movements,): the longest red of the city's
    program (spill_red.plan_red_s); `pressures` (phases,).
    Due: red, its spill past the room, red at least the plan's red, and not served by `cur`. Returns
    the highest-pressure phase serving a due movement."""
    due = (blocking_pcu > 0.0) & (red_s > 0.0) & (red_s >= plan_red_s) & ~(service[cur] > 0.0)
    if not due.any():
        return -1
    serves = (service[:, due] > 0.0).any(axis=1)
    return int(np.where(serves, pressures, -np.inf).argmax())

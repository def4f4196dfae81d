"""A crossing handed to its red part waits no longer than the city's program makes it wait. Pure.

max_pressure's walker tail (max_pressure.walker_tail, docs/import.md rule 7) hands a crossing stage past its
minimum to its crossing-red part, where the crossing is red while its vehicles keep their green. The controller
sees no walker (no push button, no pedestrian detector), so it cannot tell a crossing kept red for nobody from
one where walkers wait. The city's program, which sees none either, serves each crossing every cycle: it keeps
the crossing red at most its longest red in one cycle (`safety.max_red_s` over the program's phases in order at
their base greens, the crossings counted as movements: `Intersection.red_bounded`). Where the policy may hand a
crossing to its red part, it keeps that promise to the walkers: once the phase in force has had its minimum
green, a crossing whose red would reach the program's longest red by the time a phase greening it could start
(its red so far plus the shortest intergreen to such a phase) is due, and the policy goes to the highest-pressure phase
greening a due crossing.

Example: grid_crossings_hw's program, 4 s crossing part, 4 s red part, 4 s yellow per approach: each crossing red
at most 20 s. The policy in the first approach's red part (the walker tail), its crossing red 16 s: going back to
the crossing part takes no intergreen (it starts the crossing alone), 16 < 20, not due; the other approach's
crossing, red 16 s with the 4 s yellow to its stage still to run: due, the policy asks for that stage.
"""

from __future__ import annotations

import numpy as np

from controller.core.safety import SignalView, max_red_s
from controller.model import Intersection


def walker_plan_red(j: Intersection, tails: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """((crossings,) s, (phases, crossings) bool): each crossing's longest red in one cycle of the junction's
    own program (its phases in order at their base greens, intergreens counted red; inf for one no phase
    greens) and the phases greening it, for `j.crossings` ([timing] crossings_max_red); None where no phase
    has a walker tail (`tails`: Statics.walker_tails, -1 for none) or the model names no crossing."""
    if not j.crossings or all(t < 0 for t in tails):
        return None
    order = tuple(range(len(j.phases)))
    reds = max_red_s(j.red_bounded, order, tuple(p.base_green_s for p in j.phases))
    plan_s = np.array([reds.get(c.id, np.inf) for c in j.crossings], dtype=float)
    greens = [p.green_links() for p in j.phases]
    phases = np.array([[bool(g.intersection(c.links)) for c in j.crossings] for g in greens], dtype=bool)
    return plan_s, phases


def walker_due(
    plan_s: np.ndarray, phases: np.ndarray, intergreen_s: np.ndarray, view: SignalView, now_s: float, v: np.ndarray
) -> int:
    """The phase to serve next under the rule, or -1 if no crossing is due. `plan_s`, `phases`:
    walker_plan_red's; `intergreen_s` (phases, phases) s (Statics.intergreen_s); `view`: the signal as reported
    (its `crossing_red_since_s`: when each crossing was last green; () where not reported: none due); `v`
    (phases,) the pressures. Due: red (not greened by the phase in force) and its red so far plus the
    shortest intergreen to a phase greening it at least `plan_s`. Returns the highest-pressure phase greening a
    due crossing."""
    if len(view.crossing_red_since_s) != len(plan_s):
        return -1
    cur = view.phase
    red_s = now_s - np.asarray(view.crossing_red_since_s, dtype=float)
    soonest_s = np.where(phases, intergreen_s[cur][:, None], np.inf).min(axis=0)  # (crossings,)
    due = (red_s + soonest_s >= plan_s - 1e-9) & ~phases[cur]
    if not due.any():
        return -1
    cand = phases[:, due].any(axis=1)
    return int(np.where(cand, v, -np.inf).argmax())

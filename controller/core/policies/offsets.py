"""Offset keeping for cycle plans: phase 0's green starts at the plan's offset, against the
common time reference, and a bounded transition brings it there.

Contract. A coordinated cycle plan of cycle C and offset O wants its first phase (index 0 of the
phase order) to turn green at the times t = O (mod C) of the common clock: the roadside clock,
which is SUMO's time in simulation, as in NTCIP 1202 coordination. The roadside runs a cycle plan
from the phase in force when it arrives and keeps no offset of its own (sim/roadside.py), so the
policy keeps it, as SCATS does: when phase 0 turns green at S, the error is S - O folded into
(-C/2, C/2] (> 0: late); outside the decision period (1 s, the status' resolution) that cycle
runs shortened or lengthened (`transition_greens_s`), so the next phase 0 starts closer to O:

- the way needing fewer cycles (shorten by the lateness, or lengthen by C less it; ties: the
  smaller change), with at most `step_ratio` x C per cycle (NTCIP 1202's smooth transition),
  greens within [min, max], the cycle within the junction's bounds and no movement red longer
  than `max_red_s`: it never breaks a minimum green, an intergreen or a maximum red;
- shortening takes from each green in proportion to what it has above its minimum; lengthening
  gives in proportion to the splits (within each maximum), so the phases that carry the traffic
  get it, not the short ones furthest from their maximum.

The offset itself may be the plan's base offset or, for a plan whose split differs from the
city's, the one that keeps the green windows where the city's plan put them (window_offset_s).

Example: C = 60 s, O = 10 s, phase 0 turned green at 125 s: 5 s early (125 - 10 = 115 = 55 mod
60, i.e. -5). With `step_ratio` 0.2 (12 s per cycle) this cycle runs 5 s longer, and the next
phase 0 turns green at 190 = 10 (mod 60). An offset off by half a cycle (30 s) is reached in at
most ceil(30 / 12) = 3 cycles.
"""

from __future__ import annotations

import math

import numpy as np

from controller.core.safety import DECISION_PERIOD_S, cycle_length_s, max_red_s
from controller.model import Intersection

STEP_RATIO = 0.2  # the most one cycle moves toward the offset, as a share of the cycle (NTCIP 1202 smooth)


def offset_error_s(start_s: float, offset_s: float, cycle_s: float) -> float:
    """Phase 0's green start `start_s` against the wanted `offset_s` (both on the common clock),
    in (-C/2, C/2]: > 0 it started late, < 0 early."""
    late = (start_s - offset_s) % cycle_s
    return late if late <= cycle_s / 2 else late - cycle_s


def aligned(error_s: float) -> bool:
    """Within the status' resolution: no transition."""
    return abs(error_s) <= DECISION_PERIOD_S + 1e-9


def _shifted(greens: np.ndarray, lo: np.ndarray, hi: np.ndarray, shift_s: float) -> np.ndarray:
    """`greens` with `shift_s` seconds added (> 0) or taken (< 0), as the module says."""
    room_s = (greens - lo) if shift_s < 0 else np.minimum(greens, hi - greens)
    room_s = np.maximum(room_s, 0.0)
    if room_s.sum() <= 1e-9:
        return greens
    out: np.ndarray = np.clip(greens + shift_s * room_s / room_s.sum(), lo, hi)
    return out


def whole_seconds(greens_s: tuple[float, ...] | np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """`greens_s` in whole seconds with the same total, rounded (largest remainders first; within
    [ceil(lo), floor(hi)] where those leave room): the roadside changes stage on whole seconds, so
    a green of 23.4 s shows for 24 and a cycle of fractional greens runs longer than planned."""
    g = np.asarray(greens_s, dtype=float)
    lo_i, hi_i = np.ceil(lo - 1e-9), np.maximum(np.floor(hi + 1e-9), np.ceil(lo - 1e-9))
    out = np.clip(np.floor(g + 1e-9), lo_i, hi_i)
    left = round(float(g.sum()) - float(out.sum()))
    for k in np.argsort(-(g - np.floor(g + 1e-9)), kind="stable"):
        if left == 0:
            break
        step = 1 if left > 0 else -1
        if lo_i[k] <= out[k] + step <= hi_i[k]:
            out[k] += step
            left -= step
    return out


def carried_whole_seconds(
    greens_s: tuple[float, ...] | np.ndarray, carry_s: tuple[float, ...] | np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(this cycle's greens in whole seconds, the carry to the next cycle): `greens_s` plus the
    `carry_s` owed from the cycles before, rounded by whole_seconds (the total to the nearest
    second, largest remainders first), and what that rounding took (> 0) or gave (< 0) per
    phase, bounded to a second either way (a minimum green above the plan's cannot be repaid).
    Over cycles each phase gets its fractional green and the cycle its fractional length: a
    plan of 23.4 / 30.6 s runs 23 / 31, then 24 / 30, ... (on average 23.4 / 30.6), where
    whole_seconds alone would run 23 / 31 every cycle, and the roadside, given 23.4 / 30.6,
    24 / 31 (a cycle a second longer than planned, the offset drifting by it)."""
    want = np.asarray(greens_s, dtype=float) + np.asarray(carry_s, dtype=float)
    out = whole_seconds(want, lo, hi)
    carry: np.ndarray = np.clip(want - out, -1.0, 1.0)
    return out, carry


def _reds_ok(j: Intersection, greens: np.ndarray) -> bool:
    order = tuple(range(len(j.phases)))
    reds = max_red_s(j, order, tuple(float(g) for g in greens))
    return max(reds.values(), default=0.0) <= j.max_red_s + 1e-9


def _feasible_shift_s(j: Intersection, greens: np.ndarray, lo: np.ndarray, hi: np.ndarray, want_s: float) -> float:
    """The largest part of `want_s` (same sign) the junction's limits allow in one cycle: the
    green room, the cycle bounds, max red (halved until it holds)."""
    order = tuple(range(len(j.phases)))
    cycle_s = cycle_length_s(j, order, tuple(float(g) for g in greens))
    if want_s < 0:
        cap = min(float((greens - lo).clip(min=0).sum()), max(cycle_s - j.cycle_min_s, 0.0))
        shift = -min(-want_s, cap)
    else:
        room = np.minimum(greens, hi - greens).clip(min=0)  # as _shifted gives it
        cap = min(float(room.sum()), max(j.cycle_max_s - cycle_s, 0.0))
        shift = min(want_s, cap)
    for _ in range(8):
        if abs(shift) < 1e-6 or _reds_ok(j, _shifted(greens, lo, hi, shift)):
            return shift
        shift /= 2
    return 0.0


def transition_greens_s(
    j: Intersection, greens_s: tuple[float, ...], error_s: float, step_ratio: float = STEP_RATIO
) -> tuple[float, ...]:
    """The greens (phases in index order) of the cycle starting now, when phase 0 turned green
    `error_s` late (offset_error_s): the steady `greens_s` shortened or lengthened toward the
    offset, the way needing fewer cycles, by at most `step_ratio` x the cycle and within the
    junction's limits (module docstring). The steady greens when aligned or when no change fits."""
    if aligned(error_s):
        return tuple(greens_s)
    g = np.array(greens_s, dtype=float)
    lo = np.array([p.min_green_s for p in j.phases])
    hi = np.maximum(np.array([p.max_green_s for p in j.phases]), lo)
    cycle_s = cycle_length_s(j, tuple(range(len(g))), tuple(float(x) for x in g))
    step_s = step_ratio * cycle_s
    late_s = error_s % cycle_s  # shorten by this, or lengthen by cycle_s - late_s
    options = []
    for want in (-late_s, cycle_s - late_s):
        per_cycle = abs(_feasible_shift_s(j, g, lo, hi, math.copysign(min(abs(want), step_s), want)))
        if per_cycle > 1e-6:
            options.append((math.ceil(abs(want) / per_cycle - 1e-9), abs(want), math.copysign(per_cycle, want)))
    if not options:
        return tuple(greens_s)
    _, _, shift = min(options)
    return tuple(float(x) for x in whole_seconds(_shifted(g, lo, hi, shift), lo, hi))


def window_centres_s(j: Intersection, greens_s: tuple[float, ...] | np.ndarray) -> np.ndarray:
    """(phases,) each phase's green centre, seconds after phase 0 turns green, in a cycle of
    `greens_s` (phases in index order, each followed by its intergreen to the next)."""
    n = len(j.phases)
    g = np.asarray(greens_s, dtype=float)
    ig = np.array([j.intergreen_s(k, (k + 1) % n) for k in range(n)])
    starts = np.concatenate(([0.0], np.cumsum(g + ig)[:-1]))
    out: np.ndarray = starts + g / 2
    return out


def window_offset_s(j: Intersection, greens_s: tuple[float, ...]) -> float:
    """The offset (common clock, mod the plan's cycle C') for phase 0's green start that keeps
    the plan's green windows where the city's plan put them: the circular mean, weighted by the
    city's greens, of how far each phase's green centre moves (the city's program, phase 0 at
    the base offset, against `greens_s` with phase 0 at it). The city's offsets between
    neighbours are designed for the windows of their main stages (the coordinated phase of NTCIP
    1202, SCOOT's and TRANSYT's green windows), which hold its long greens, not for phase 0's
    start: a split that gives phase 0 more green moves every later window, and a platoon timed
    for the city's window meets a red. The city's greens as weights, not the period's counts:
    they name the stages the offsets were set for, and do not move with a period's noise. With
    the city's greens, the base offset itself; the base offset too at a junction without a
    signalised neighbour (Intersection.upstream and .downstream empty): no platoon of another
    light meets its windows, and a target moved with each period's split costs a transition
    cycle each period for nothing (RESCO cologne1 and ingolstadt1, BENCHMARKS.md W session 28)."""
    n = len(j.phases)
    order = tuple(range(n))
    cycle_s = cycle_length_s(j, order, tuple(float(x) for x in greens_s))
    city = np.array([p.base_green_s for p in j.phases], dtype=float)
    if cycle_s <= 1e-9 or city.sum() <= 1e-9 or not (j.upstream or j.downstream):
        return j.base_offset_s
    moved = window_centres_s(j, city) - window_centres_s(j, greens_s)
    angle = 2.0 * math.pi * moved / cycle_s
    shift = math.atan2(float(city @ np.sin(angle)), float(city @ np.cos(angle))) * cycle_s / (2.0 * math.pi)
    return (j.base_offset_s + shift) % cycle_s

"""`max_pressure`: acyclic control by maximum pressure (Varaiya 2013), with switching loss.

Contract: every tick, given the junction's estimate and the reported signal state, the policy
restates a PhaseWish: the phase in force, or the phase k maximising

    P_k = sum over movements m served by k of  s_mk * k_m * w_m * x_m * T / (T + L_mk)

where (parameters: config.toml [max_pressure], core/params.py MaxPressureParams)
- x_m is the queue present (estimator: between the loops plus spilled over the advance loop),
  with the part spilled upstream of the advance loop counted once more (it also blocks the link
  before the approach: core/spillback.py; with `spill_room`, only the part beyond what the lane's
  link stores upstream of its advance loop: spillback.blocking_queue_pcu; with `spill_reach`, that
  part beyond the link's room once more again), plus half of what the
  measured arrival flow brings in `arrival_s` seconds, minus `downstream_weight` x Varaiya's
  downstream queue (core NetworkView; used only when > 0); with `pull_upstream`, plus what the
  upstream lights hold for m's approach beyond the room left on it (phases.upstream_held_pcu: a
  full link's green frees them; none over a short link);
- k_m is the number of movements sharing m's lanes (core/shared_lanes.py): a lane shared by k
  movements, whose queue and saturation flow the estimator splits k ways, weighs as one queue;
- s_mk is the learnt saturation flow x (1 - the exit blockage b_m the estimator measures), x
  `permitted_sat_ratio` where k serves m only as a permitted (yielding, 'g') movement (with
  [estimation] `permitted_gap_acceptance`, the share the flow it gives way to leaves it:
  policies/gap_acceptance.py); with
  `exit_room`, x min(1 - b_m, r_m) instead of (1 - b_m), r_m the share of m's queue the room left on
  the neighbour approach its exit feeds can take (phases.exit_rate_ratio: the learnt exit, else the
  neighbour approach m's exit edge is; core NetworkView), lowered to the lowest r of the movements
  sharing a lane with m (phases.lane_fifo_ratio: first in, first out): a movement whose exit is
  full, or queued behind one, has no pressure before its green shows the blockage; with
  `exit_room_held` (exit_room off), r_m only where that exit is held (held_exit_ratio: its far
  light shows m red, by the stage it reports, and it is not a short link), else 1, the room read
  to the link's head (held_link_room_pcu: also what it stores upstream of its advance loop); with
  `exit_room_held_direct`, only where m's exit edge is that approach itself (no learnt exit read);
- w_m = 1 + (time m has been red) / `wait_scale_s`;
- T = `switch_service_s`, the service a switch buys; L_mk is the loss of starting m: the
  intergreen from the current phase (derived per link pair) plus the start-up lost time; 0 for
  a movement green in both phases (T / (T + L) = 1).
With `stall_s`, x_m is 0 for a movement of the phase in force that stands in its green
(stalled_movements: served protected, queued, its head on the stop-line loop of a lane showing
'G' on every link (full_green_lanes) with nobody crossing for `stall_s` past the start-up loss,
on a lane whose exits include a controlled neighbour's approach that is not a short link and
whose light shows red to it, by the stage that neighbour reports, exits_held, for longer than
leaving the phase here and coming back takes, _held_stalls): its head waits for room on a link
its far light is not draining, the green moves no one.
With `stage_stall_s`, x_m is 0 for every movement of the phase in force when every stop-line loop of the lanes
they use has been either fully occupied without a count or empty for `stage_stall_s` in the green, at least one
occupied (stage_stalled): the stage moves nobody, whatever holds its heads.
With `head_block_s`, on a lane shared by movements green in different phases whose head stands at
the stop line through the green of the phase in force with none of its served movements on the
lane crossing (policies/head_of_line.py), x_m drops those movements' part of the lane's queue (a
gap-out on the lane), until the lane discharges or its stop-line loop empties.
The current phase is kept unless another phase's pressure is higher, and is never left before
its minimum green; with `program_order_share` > 0 the switch goes to the phase the junction's
program runs next instead while that one keeps the share of the highest pressure
(program_successor); with `program_order_saturated`, where the highest pressure is a phase
whose queue reaches past its advance loop, the switch goes to the first such phase in the
program's order where that order loses less to intergreens (saturated_phases,
saturated_successor); with `whole_change` the target is the phase with the highest pressure per second of its
whole change among those above the phase in force (change_useful: T its minimum green); with `lead_in` the switch
enters first the program's lead-in of the target where a pair intergreen holds part of it longer (lead_in).
Example, one movement per phase, equal saturation flows, T = 2 s, a 5 s
intergreen and a 3 s start-up loss: phase 0 green past its minimum with 3 PCU queued (w = 1),
phase 1's movement red for 30 s (w = 1.5 with `wait_scale_s` 60) with 9 PCU: phase 1 weighs
9 x 1.5 x 2 / 10 = 2.7 < 3, phase 0 is kept; with 12 PCU (3.6) the policy asks for phase 1.

Permitted-turn clearance. A permitted turn that crossed its stop line may stand inside the
junction waiting for a gap in the streams it yields to; cutting it off can lock the junction.
Per permitted movement of the green phase, from the loops (`update_boxed`):

    a tick in which it discharged over its stop-line loop        -> it may be in the box
    every stream it yields to (the other approaches' movements     -> it has crossed
    green protected in the phase) with its stop-line loops empty
    for `clearance_gap_s` at once, or no such stream, and its
    own stop-line loops empty (no one held at the line)

Leaving the phase for one that would stop a movement that may be in the box goes through a
phase that serves it protected, when the junction has one that keeps its green without an
all-red (the lagging-left pattern): a yellow and that phase's minimum green.

Min/max green, intergreens and the maximum red are enforced by the safety gate. The measured
effect of each term and of its default: docs/policies.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, NamedTuple

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.network import NetworkView
from controller.core.pairs import StageView
from controller.core.params import MaxPressureParams
from controller.core.policies import NetworkDecision, Policy
from controller.core.policies.gap_acceptance import YieldFoes, permitted_service
from controller.core.policies.head_of_line import (
    blocked_heads,
    head_drop_pcu,
    mixed_lanes,
    unshared_lanes,
    update_head_waits,
)
from controller.core.policies.inner_links import SentLog, in_transit_pcu, inner_link_ratio, track_sent, unseen_step
from controller.core.policies.phases import (
    direct_exits,
    exit_rate_ratio,
    exit_red_left_s,
    exit_room_pcu,
    exit_targets,
    held_feeds,
    lane_fifo_ratio,
    short_exits,
    upstream_held_pcu,
)
from controller.core.policies.requirements import acyclic_refusal
from controller.core.policies.spill_red import (
    GreenDischarge,
    GreenHold,
    due_phase,
    held_green,
    keep_phases,
    plan_green_s,
    plan_red_s,
    served,
    track_green_from,
    track_greens,
    turn_off_room_pcu,
    whole_spill_pcu,
)
from controller.core.policies.walker_red import walker_due, walker_plan_red
from controller.core.safety import SignalView
from controller.core.shared_lanes import lane_weight
from controller.core.spillback import blocking_queue_pcu, upstream_queue_pcu
from controller.model import Intersection, PhaseWish


@dataclass(frozen=True)
class Statics:
    """Per-junction constants the policy derives once from the junction model."""

    intergreen_s: np.ndarray  # (phases, phases)
    service: np.ndarray  # (phases, movements): 1 protected, permitted ratio, 0 not served
    clearance: tuple[tuple[int, ...], ...]  # per phase: phases that serve its permitted movements protected
    yield_lanes: np.ndarray  # (phases, movements, lanes): for a permitted movement, the lanes of the
    # streams it yields to (other approaches' movements green protected in the phase)
    lane_weight: np.ndarray  # (movements,) movements sharing the movement's lanes (core/shared_lanes.py):
    # a lane shared by k movements weighs S x Q, as a lane of its own with the same queue
    # (phase in force, phases, movements): T / (T + L_mk) for T = useful_switch_s (switch_useful);
    # None: phase_pressures derives the row of the phase in force on each call
    useful: np.ndarray | None = None
    useful_switch_s: float = float("nan")
    permitted: np.ndarray | None = None  # (phases, movements) served permitted ('g') only; None: derived per call
    # per phase: whether it serves any movement permitted only (None: not known, update_boxed every tick)
    has_permitted: tuple[bool, ...] | None = None
    # (phases, lanes) every link of every movement on the lane 'G' (full_green_lanes; None: derived per call)
    full_green: np.ndarray | None = None
    # (phases, movements, lanes) yield_lanes, none for a movement that by the network's right of way gives way to
    # none of them (given_way_lanes; `yield_block_s` reads it; None: yield_lanes)
    given_way: np.ndarray | None = None
    # with [estimation] permitted_gap_acceptance: whom each permitted movement gives way to (None: key off, `service`)
    gap_foes: YieldFoes | None = None
    # per phase: the stage its vehicles keep their green in once it has run its minimum (walker_tail), or -1
    walker_tails: tuple[int, ...] = ()
    # where a phase has a walker tail: each crossing's longest red in the program (crossings,) and the phases greening
    # it (phases, crossings) (walker_red.walker_plan_red); None: none
    walker_plan_s: np.ndarray | None = None
    walker_phases: np.ndarray | None = None


@dataclass(frozen=True)
class MaxPressureState:
    statics: Statics
    phase: int = -1  # the green phase seen last tick
    last_dep_pcu: np.ndarray | None = None  # cumulative departures seen last tick (None: none yet)
    # (movements,) a permitted turn that may stand in the junction; set at the first green seen
    boxed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # (movements,) with `stall_s` or `head_block_s`: when each last sent a vehicle over its stop line
    # (None: not tracked)
    last_dep_s: np.ndarray | None = None
    # (movements,) with `spill_plan_red`: the longest red of the city's program per movement (None: key off)
    plan_red_s: np.ndarray | None = None
    # (movements, lanes) with `head_block_s`: per lane blocked at its head, the movements its head waits for
    # (head_of_line.update_head_waits; None: none)
    head_waits: np.ndarray | None = None
    # with `spill_plan_red_served`: what each movement's last green passed over its stop line (None: not tracked)
    greens: GreenDischarge | None = None
    # (lanes,) with `stage_stall_lanes`: when each stuck lane's head began standing (stuck_lanes; nan: not stuck;
    # None: not tracked)
    stuck_from_s: np.ndarray | None = None
    # with `spill_plan_green`: the program's longest green per movement and when each green began (None: key off)
    hold: GreenHold | None = None
    # with `inner_link_room`: per approach of inner_links.unseen_links, the zero of its unseen count (None: 0)
    unseen_base_pcu: np.ndarray | None = None
    # with `inner_link_room`: what the movements feeding those approaches sent, the clearance back (None: nothing yet)
    unseen_sent: SentLog | None = None


def intergreen_matrix(layout: Layout) -> np.ndarray:
    j = layout.junction
    n = len(j.phases)
    return np.array([[j.intergreen_s(a, b) for b in range(n)] for a in range(n)])


def build_statics(layout: Layout, permitted_sat_ratio: float, switch_service_s: float | None = None) -> Statics:
    """The policy's constants of one junction; with `switch_service_s` (T), also the factor
    T / (T + L_mk) of every phase in force (switch_useful), which depends on nothing else."""
    j = layout.junction
    ig = intergreen_matrix(layout)
    service = np.where(layout.protected, 1.0, np.where(layout.serves, permitted_sat_ratio, 0.0))
    clearance = []
    for c, ph in enumerate(j.phases):
        permitted = layout.serves[c] & ~layout.protected[c]
        options = []
        if permitted.any():
            for p in range(len(j.phases)):
                keeps_green = not (j.phases[p].green_links() - ph.green_links())  # no new link: no all-red
                if p != c and keeps_green and layout.protected[p][permitted].any():
                    options.append(p)
        clearance.append(tuple(options))
    useful = None
    if switch_service_s is not None:
        useful = np.stack([switch_useful(layout, ig, cur, switch_service_s) for cur in range(len(j.phases))])
    kept_s = math.nan if switch_service_s is None else switch_service_s
    permitted_only = layout.serves & ~layout.protected
    has_permitted = tuple(bool(row.any()) for row in permitted_only)
    tails = tuple(walker_tail(j, c, ig) for c in range(len(j.phases)))
    walkers = walker_plan_red(j, tails)
    return Statics(
        ig,
        service,
        tuple(clearance),
        yield_lanes(layout),
        lane_weight(layout),
        useful,
        kept_s,
        permitted_only,
        has_permitted,
        full_green_lanes(layout),
        given_way_lanes(layout),
        YieldFoes.build(layout) if layout.params.permitted_gap_acceptance else None,
        tails,
        *(walkers or (None, None)),
    )


def walker_tail(j: Intersection, cur: int, intergreen_s: np.ndarray) -> int:
    """The stage the policy hands `cur` over to once `cur` has run its minimum green and still holds the highest
    pressure, or -1: `cur`'s tail stage (tail_stage: the program's next phase, a strict subset of its greens) where
    it stops links of `crossing_links` alone (a crossing's walkers; there are none without [timing]
    crossing_transitions or crossing_red_is_clearance), no other phase is entered from it later than from `cur` and
    some sooner (`intergreen_s`: Statics.intergreen_s). That is a crossing whose clearance after its green a change
    from `cur` keeps with the crossing red and the vehicles still green (the importer's transitions with
    crossing_transitions, docs/import.md rule 7): handed over when its minimum (the walk and the crossing time) has
    run, the crossing's clearance runs while the vehicles are still served, and the switch to another approach, when
    its demand comes, waits for the vehicles' yellow alone, as from the city's program's crossing-red stage. The
    vehicles see the same service in both stages, so the policy stays in the tail stage until another phase's
    pressure is higher."""
    tail = tail_stage(j, cur)
    if tail is None or not j.phases[cur].green_links() - j.phases[tail].green_links() <= j.crossing_links:
        return -1
    others = [k for k in range(len(j.phases)) if k not in (cur, tail)]
    if any(intergreen_s[tail, k] > intergreen_s[cur, k] + 1e-9 for k in others):
        return -1
    return tail if any(intergreen_s[tail, k] < intergreen_s[cur, k] - 1e-9 for k in others) else -1


def walkers_due(st: Statics, signal: SignalView, now_s: float, v: np.ndarray) -> int:
    """The phase greening a crossing due under walker_red.walker_due (its red at the program's longest), or -1;
    -1 at a junction whose stages have no walker tail. `v` (phases,) the pressures; read past the minimum green."""
    if st.walker_plan_s is None or st.walker_phases is None:
        return -1
    return walker_due(st.walker_plan_s, st.walker_phases, st.intergreen_s, signal, now_s, v)


def stay_phase(st: Statics, j: Intersection, signal: SignalView) -> int:
    """The phase the policy stays in where no other phase's pressure is higher (past the minimum green): the phase
    in force, or its walker tail (walker_tail) once it has shown its crossings the green the city's program gives
    them (its base green): the walkers get the program's walk before the crossing turns red beside its vehicles."""
    cur, tails = signal.phase, st.walker_tails
    walked = signal.green_elapsed_s >= j.phases[cur].base_green_s
    return tails[cur] if tails and tails[cur] >= 0 and walked else cur


def switch_useful(
    layout: Layout, intergreen_s: np.ndarray, cur: int, switch_service_s: float | np.ndarray
) -> np.ndarray:
    """(phases, movements) T / (T + L_mk) with phase `cur` in force: L_mk = the intergreen
    cur -> k plus the start-up lost time for a movement k starts, 0 for one green in both (a
    link switched off, 'o', shows red through the intergreen: it starts again) and for every
    movement of `cur` itself. `switch_service_s` T: one figure, or (phases, 1) one per phase k (change_useful)."""
    green = layout.serves_green
    keeps = green[cur][None, :] & green
    keeps[cur] = layout.serves[cur]
    loss = np.where(keeps, 0.0, intergreen_s[cur][:, None] + layout.params.startup_lost_s)
    out: np.ndarray = switch_service_s / (switch_service_s + loss)
    return out


def change_useful(layout: Layout, intergreen_s: np.ndarray, cur: int, switch_service_s: float) -> np.ndarray:
    """(phases, movements) `[max_pressure] whole_change`'s factor: switch_useful with each phase k's T its minimum
    green (at least `switch_service_s`), G_k / (G_k + L_mk). A switch buys at least the target's minimum green, and
    its whole change lasts its intergreen and start-up loss more: the pressure per second of that whole change. With
    T = switch_service_s alone (2 s) a second more of intergreen weighs as much as a second of service, so a target
    behind a change 1 s longer loses to a short stage that pays the same change after its minimum green (RiLSA_example4
    with [timing] pair_intergreens: from stage 2 the main stage behind 11 s against N's stage behind 10 s, then 11 s
    to the main stage; BENCHMARKS.md, N session 68). Example: from phase 0, phase 1 starts m behind an 11 s change and
    3 s start-up loss, minimum green 7 s: 7 / 21 = 0.333 (switch_useful, T 2 s: 2 / 16 = 0.125)."""
    min_green_s = np.array([ph.min_green_s for ph in layout.junction.phases], dtype=float)
    return switch_useful(layout, intergreen_s, cur, np.maximum(min_green_s, switch_service_s)[:, None])


def lead_in(j: Intersection, intergreen_s: np.ndarray, cur: int, target: int) -> int:
    """`[max_pressure] lead_in`: the phase to enter on the way from `cur` to `target`: a phase p whose greens are a
    strict subset of `target`'s (p -> `target` starts links and stops none), entered sooner than `target`
    (intergreen_s[cur, p] below intergreen_s[cur, target]) and through which the rest of `target`'s green starts
    exactly when the change straight there starts it (intergreen_s[cur, p] + p's minimum green + intergreen_s[p,
    target] equal to intergreen_s[cur, target]: no later, and never sooner than the clearance that change keeps from
    `cur`'s links, as p -> `target` itself keeps none); the one entered soonest, else `target`. The city's program's
    own lead-in: a change whose pair intergreens (docs/import.md rule 5) hold some of `target`'s links longer than
    others starts the others first, where the model's change into `target` starts them all together after the
    longest. RiLSA_example4 with [timing] pair_intergreens: from N's stage to the main stage 11 s for every link;
    through E's stage (10 s, its minimum 1 s) E starts at 10 s and W at 11 s, as the program runs it (BENCHMARKS.md,
    N session 68)."""
    if target == cur:
        return target
    want = j.phases[target].green_links()
    direct_s = intergreen_s[cur, target]
    best, best_s = target, direct_s
    for p, ph in enumerate(j.phases):
        if p in (cur, target) or not ph.green_links() < want:
            continue
        via_s = intergreen_s[cur, p] + ph.min_green_s + intergreen_s[p, target]
        if intergreen_s[cur, p] < best_s - 1e-9 and abs(via_s - direct_s) <= 1e-9:
            best, best_s = p, intergreen_s[cur, p]
    return best


def yield_lanes(layout: Layout) -> np.ndarray:
    """(phases, movements, lanes) bool: for each movement a phase serves permitted ('g'), the
    incoming lanes of the streams it gives way to, taken as every movement of another approach
    the phase serves protected (the model has no conflict points inside the junction)."""
    j = layout.junction
    approach = np.array([m.approach for m in j.movements])
    share = layout.lane_share > 0
    out = np.zeros((len(j.phases), len(j.movements), len(layout.lanes)), dtype=bool)
    for c in range(len(j.phases)):
        for m in np.flatnonzero(layout.serves[c] & ~layout.protected[c]):
            out[c, m] = share[layout.protected[c] & (approach != approach[m])].any(axis=0)
    return out


def given_way_lanes(layout: Layout) -> np.ndarray:
    """(phases, movements, lanes) bool: yield_lanes, emptied for a movement that by the network's right of way
    (Movement.yields_to, written by import-net) gives way to none of the streams of another approach the phase
    serves protected; as yield_lanes where `yields_to` is not known. Such a movement waits for nothing the loops
    see: a right turn in right-hand traffic crosses no oncoming stream; it gives way to the walkers on the crossing
    it turns over, whom no loop counts. A movement that gives way to some of those streams keeps them all, as
    yield_lanes reads them (reading only those it gives way to measured worse: BENCHMARKS.md, issue 9,
    "single_scramble_h traced"). Example: phase 0 serves N_T and S_T protected, N_R and N_L permitted; N_R's
    `yields_to` empty: no lane in phase 0; N_L's ("S_T",): every lane of S's protected movements."""
    out = yield_lanes(layout)
    ms = layout.junction.movements
    approach = np.array([m.approach for m in ms])
    for m, mv in enumerate(ms):
        if mv.yields_to is None:
            continue
        gives = np.array([o.id in mv.yields_to for o in ms]) & (approach != approach[m])
        for c in np.flatnonzero(out[:, m].any(axis=1)):
            if not (layout.protected[c] & gives).any():
                out[c, m] = False
    return out


def update_boxed(
    boxed: np.ndarray,
    layout: Layout,
    yield_lanes_c: np.ndarray,
    permitted_c: np.ndarray,
    discharged: np.ndarray,
    est: Estimate,
    gap_s: float,
) -> np.ndarray:
    """Permitted turns that may stand inside the junction, after one more tick of phase c's green.

    A permitted movement that discharged over its stop-line loop (`discharged`) may be waiting in
    the junction for a gap in the streams it yields to (`yield_lanes_c`, Statics.yield_lanes[c]).
    It is taken to have crossed once each of their stop-line loops has been empty for `gap_s`
    at once (a gap it could take; also when it yields to no stream) while the stop-line loops
    of its own lanes are empty (no one held at the line through the gap: the box empties). A
    lane without a working stop-line loop shows no gap and is never empty.

    The streams are Statics.yield_lanes (every protected stream of another approach), not the network's right of
    way (given_way_lanes, which `yield_block_s` reads): here they guard the reading, so more is the safe side. A
    movement that gives way to none of them (a right turn) still gives way to the walkers on its crossing, whom no
    loop counts; given_way_lanes would read it out of the box as soon as its own stop line is clear (where that
    moves a decision on the boards: BENCHMARKS.md, issue 9, A session 57)."""
    boxed = boxed | (permitted_c & discharged)
    # (np.count_nonzero and the ufuncs' reduce below are what ndarray.any calls, without its
    # Python-level wrapper: a few microseconds a call, every tick per junction)
    if not np.count_nonzero(boxed):
        return boxed
    gap = est.lanes.stop_empty_s >= gap_s - 1e-9
    clear = ~_any_row(yield_lanes_c & ~gap[None, :])  # every yielded-to lane shows the gap
    # ... and no one waits at its own stop line: turners held there through a gap mean the box
    # does not empty (its exit is full, or it is still occupied)
    own = (layout.lane_share > 0) & ~(est.lanes.stop_empty_s > 0)[None, :]
    out: np.ndarray = boxed & ~(clear & ~_any_row(own))
    return out


def _any_row(a: np.ndarray) -> np.ndarray:
    """a.any(axis=1) for a bool array: the reduction ndarray.any calls, without its wrapper."""
    out: np.ndarray = np.logical_or.reduce(a, axis=1)
    return out


def tail_stage(j: Intersection, cur: int) -> int | None:
    """The stage the city's program ends `cur` with, or None: the phase after `cur` in the program's order,
    entered without a transition of the program's own, keeping a strict subset of `cur`'s greens (the streams
    the program stops first, as a crossing's clearance before the vehicles' yellow) and left through a
    transition of the program. `[max_pressure] tail_stage`: a policy leaving `cur` goes through it, so what
    turned across the stopped streams clears the junction before a conflicting green."""
    n = len(j.phases)
    nxt = (cur + 1) % n
    if n < 3 or j.transition(cur, nxt) is not None or j.transition(nxt, (nxt + 1) % n) is None:
        return None
    return nxt if j.phases[nxt].green_links() < j.phases[cur].green_links() else None


def _cyclists(est: Estimate) -> bool:
    """Whether the junction's stop-line loops have counted a bicycle (Estimate.crossed_by_class)."""
    return any(c == "bicycle" and n > 0 for c, n in est.crossed_by_class)


def cut_off(layout: Layout, cur: int, target: int, waiting: np.ndarray) -> np.ndarray:
    """The movements `cur` serves permitted that `target` does not serve, of those that may wait inside the
    junction (`waiting`: update_boxed)."""
    out: np.ndarray = layout.serves[cur] & ~layout.protected[cur] & ~layout.serves[target] & waiting
    return out


def clearance_detours(
    clearance: tuple[int, ...], layout: Layout, cur: int, target: int, waiting: np.ndarray
) -> list[int]:
    """Phases serving protected the permitted movements of `cur` that `target` would cut off while
    some of them may wait inside the junction (`waiting`): [] when none is needed, else those
    that protect all of them (or, if none does, every option). `clearance` is Statics.clearance[cur]."""
    if not clearance or cur == target:
        return []
    cut = cut_off(layout, cur, target, waiting)
    if not cut.any():
        return []
    return [p for p in clearance if layout.protected[p][cut].all()] or list(clearance)


def phase_pressures(
    statics: Statics,
    layout: Layout,
    est: Estimate,
    signal: SignalView,
    now_s: float,
    switch_service_s: float,
    wait_scale_s: float,
    down_pcu: np.ndarray | None = None,
    arrival_s: float = 0.0,
    exit_ratio: np.ndarray | None = None,
    held_pcu: np.ndarray | None = None,
    spill_room: bool = False,
    spill_reach: bool = False,
    stalled: np.ndarray | None = None,
    head_shift: np.ndarray | None = None,
    once_lanes: np.ndarray | None = None,
    phase_ratio: np.ndarray | None = None,
    useful: np.ndarray | None = None,
) -> np.ndarray:
    """Discounted pressure of every phase (PCU^2/s): the current phase as it stands, the others
    with each newly started movement scaled by T / (T + loss). `exit_ratio`: per movement, the
    share of its rate its exit takes (0..1), the lower of it and 1 - the blockage; None: 1.
    `held_pcu`: per movement, the queue the upstream lights hold for its approach beyond the room
    left on it (phases.upstream_held_pcu), added to its own; None: none. `spill_room`: the queue past
    the advance loops counts once more only where it reaches the link's head (blocking_queue_pcu);
    `spill_reach`: that part counts once more again. `stalled`: per movement, True where it holds
    no pressure (stalled_movements: it stands in its green); None: none. `head_shift`: per movement, PCU
    added to its queue (head_of_line.head_drop_pcu: a blocked shared lane's queue taken from the
    movements the phase in force serves on it); None: none. `once_lanes`: (lanes,) bool, lanes whose queue
    past the advance loop counts once (entry_once_lanes, `spill_entry_once`; without spill_room / spill_reach);
    None: none. `phase_ratio`: (phases, movements) share of its rate each movement keeps in each phase
    (inner_links.inner_link_ratio, `inner_link_room`); None: 1. With Statics.gap_foes ([estimation]
    permitted_gap_acceptance) the permitted shares follow the opposing flow (gap_acceptance.permitted_service).
    `useful`: (phases, movements) the switch factor to weigh with instead of T / (T + L_mk) (change_useful); None:
    switch_useful's with T = `switch_service_s`."""
    cur = signal.phase
    x = _counted_pcu(layout, est, arrival_s, spill_room, spill_reach, once_lanes)
    if held_pcu is not None:
        x = x + held_pcu
    if down_pcu is not None:
        x = x - down_pcu
    if head_shift is not None:
        x = np.maximum(x + head_shift, 0.0)
    if stalled is not None:
        x = np.where(stalled, 0.0, x)
    free = 1.0 - est.block if exit_ratio is None else np.minimum(1.0 - est.block, exit_ratio)
    rate = est.sat_flow_pcu_h * free / 3600.0
    red_s = now_s - np.asarray(signal.red_since_s, dtype=float) if signal.red_since_s else np.zeros(len(x))
    weight = rate * x * statics.lane_weight * (1.0 + np.maximum(red_s, 0.0) / wait_scale_s)
    if useful is None:
        useful = _useful_row(statics, layout, cur, switch_service_s)
    base = statics.service
    if statics.gap_foes is not None:
        base = permitted_service(layout, est, statics.gap_foes, base)
    service = base if phase_ratio is None else base * phase_ratio
    out: np.ndarray = np.add.reduce(service * weight * useful, axis=1)  # = .sum(axis=1), its reduction
    return out


def _useful_row(statics: Statics, layout: Layout, cur: int, switch_service_s: float) -> np.ndarray:
    """switch_useful with phase `cur` in force: Statics.useful's row where it was built with `switch_service_s`."""
    if statics.useful is not None and statics.useful_switch_s == switch_service_s:
        out: np.ndarray = statics.useful[cur]
        return out
    return switch_useful(layout, statics.intergreen_s, cur, switch_service_s)


def _counted_pcu(
    layout: Layout, est: Estimate, arrival_s: float, spill_room: bool, spill_reach: bool, once_lanes: np.ndarray | None
) -> np.ndarray:
    """phase_pressures' x_m before the held, downstream, head and stall terms: the queue present, the arrivals of
    `arrival_s`, and the part standing upstream of the advance loop once more (see phase_pressures)."""
    x = est.queue_pcu + est.flow_pcu_h / 3600.0 * arrival_s / 2.0 if arrival_s > 0 else est.queue_pcu
    # the part standing upstream of the advance loop counts once more: it also holds, on the link
    # before the approach, traffic this signal never serves (core/spillback.py)
    if spill_room or spill_reach:
        blocking = blocking_queue_pcu(layout, est)
        up = blocking if spill_room else upstream_queue_pcu(layout, est)
        x = x + (up + blocking if spill_reach else up)
    elif once_lanes is not None:
        x = x + layout.lane_share @ np.where(once_lanes, 0.0, est.lanes.hidden_pcu)
    else:
        x = x + upstream_queue_pcu(layout, est)
    out: np.ndarray = x
    return out


def program_successor(v: np.ndarray, cur: int, best: int, share: float) -> int:
    """The phase to switch to, once the policy leaves `cur` for `best` (the highest pressure):
    the program's next phase after `cur` (the phases are in the order of the junction's own
    program, docs/import.md) when its pressure `v` is above the phase in force's and at least
    `share` x `best`'s, else `best`. share 0: always `best`.

    Why: where max-pressure serves every stage in turn (all saturated, the wait weight rising),
    the rotation it falls into at the start persists, and the program's rotation is the one
    whose transitions the city made short (a stage starting during the last one's yellow). The
    next phase must itself be worth the switch (above the phase in force): without that the
    policy turns cyclic and loses where it skips stages (BENCHMARKS.md, Q session 30)."""
    if share <= 0.0 or len(v) < 2:
        return best
    nxt = (cur + 1) % len(v)
    if nxt != best and v[nxt] > v[cur] and v[nxt] >= share * v[best]:
        return nxt
    return best


def saturated_phases(layout: Layout, est: Estimate, cur: int) -> np.ndarray:
    """(phases,) bool: the phase starts a protected green (protected in it, red in `cur`, the
    phase in force) for a movement whose queue reaches past its advance loop (on some lane of
    it the estimator's hidden queue stands upstream, or the queue between the loops fills the
    lane's storage) and is at least what the phase's minimum green discharges at the movement's
    saturation flow: a stage that will use its green. A movement the phase in force already
    serves, protected or permitted, does not count (a stage that only extends it or protects it,
    a lagging left's stage, is not needed for it: Bologna's 230, BENCHMARKS.md Q session 34), nor
    a full lane's short queue (a zone storing 1 PCU is full with one vehicle)."""
    lanes = est.lanes
    storage = layout.lane_storage_pcu
    full = (lanes.hidden_pcu > 0.0) | ((storage > 0.0) & (lanes.queue_pcu >= storage - 1e-9))
    reaches = ((layout.lane_share > 0.0) @ full > 0) & ~layout.serves[cur]
    min_green_s = np.array([ph.min_green_s for ph in layout.junction.phases])
    one_green_pcu = np.outer(min_green_s, est.sat_flow_pcu_h / 3600.0)
    uses_green = est.queue_pcu[None, :] >= one_green_pcu
    return np.asarray((layout.protected & reaches[None, :] & uses_green).any(axis=1))


def gapped_out(layout: Layout, est: Estimate, cur: int, gap_s: float) -> np.ndarray:
    """(movements,) bool, with `gap_out_s` (`gap_s`): at a junction without a signalised neighbour
    (Intersection.upstream and downstream empty), served protected by phase `cur`, not blind, and on every lane it
    uses a stop-line loop empty for `gap_s` or longer (LaneState.stop_empty_s): nobody stands at its stop line and
    nobody crossed it for that long. Such a movement holds no pressure (its queue counts 0, as a stalled one's).

    Why: its standing queue has been served; what the estimate still counts (vehicles in transit between the loops,
    a hidden queue the estimate has not yet drained) reaches the line at the arrival rate, and a green kept for it
    is used at that rate, not at the saturation flow, while the other stages' queues wait: SUMO's `actuated` ends a
    green on such a gap. At RiLSA_example3 `adaptive` kept greens serving arrivals in the first cycles, where
    `actuated` gapped out; the queues built then are never worked off at an oversaturated junction (BENCHMARKS.md,
    A session 46). Not at a junction with a signalised neighbour: there a gap is often the one between two
    platoons of the upstream light, and the next arrives at the saturation flow."""
    j = layout.junction
    if j.upstream or j.downstream:
        return np.zeros(len(j.movements), dtype=bool)
    empty = (layout.lane_stop >= 0) & (est.lanes.stop_empty_s >= gap_s - 1e-9)
    occupied_lane = (layout.lane_share > 0.0) & ~empty[None, :]
    out: np.ndarray = layout.protected[cur] & ~est.blind & ~occupied_lane.any(axis=1)
    return out


def saturated_successor(
    v: np.ndarray,
    saturated: np.ndarray,
    cur: int,
    best: int,
    service: np.ndarray | None = None,
    share: float = 0.0,
    intergreen_s: np.ndarray | None = None,
    disjoint: bool = False,
) -> int:
    """The phase to switch to, once the policy leaves `cur` for `best` (the highest pressure
    `v`), with `program_order_saturated`: where `best` is saturated (saturated_phases), the
    first saturated phase after `cur` and before `best` in the program's order (the phases are in the order of the
    junction's own program, docs/import.md) whose pressure is at least `share` x `best`'s (and
    above 0) and that `best` does not cover, else `best`. `service` (phases, movements;
    Statics.service: 1 protected, the permitted ratio, 0): a phase serving no movement better than
    `best` does is skipped, `best` gives all it gives and more; None: none skipped. `intergreen_s`
    (phases, phases; Statics.intergreen_s): a phase k is served before `best` only where that order
    loses less time to intergreens, intergreen(cur, k) + intergreen(k, best) below intergreen(cur,
    best) + intergreen(best, k) (the order is all the rule changes); None: no such condition. The
    share and the cover come from
    Bologna pasubio (BENCHMARKS.md, Q session 33): at 232, leaving stage 2 for stage 0, its subset
    stage 4 cut the main through for 4's minimum green and an intergreen; at 219 (nine stages)
    the stage chosen often had under half of the highest pressure, a stage the queues do not make long.
    The intergreens' condition comes from Bologna joined (Q session 34):
    at 231 (nine stages, every intergreen 3 s or 0) the program's order 0 -> 5 -> 6 loses 6 s where
    the greedy 0 -> 6 -> 5 loses 3 s (6 -> 5 keeps its greens). With `disjoint`
    (`program_order_saturated_disjoint`), a phase is also skipped where it, or a phase it leads into without an
    intergreen, serves protected a movement `best` serves protected (shares_ahead; needs `service` and
    `intergreen_s`): from RiLSA_example2 (BENCHMARKS.md, A session 46), where leaving the main road's stage for
    S's through E's left-turn lead-in (L, then LR with S's right) served S's right first, so S's own stage came
    with its left's queue alone and ended at its minimum while the main road had waited through the tour.

    Why: phases whose queues reach past their advance loops are each served in turn, at the
    saturation flow, whatever the order: the greedy choice among them saves nothing, while the
    order decides the transitions lost each cycle, and the program's rotation is the one whose
    transitions the city made short (RiLSA_example3: W -> E -> NS loses 3 + 10 + 9 s, the reverse
    10 + 10 + 10; BENCHMARKS.md, Q sessions 30 and 32). A phase not saturated is chosen on its
    pressure alone, as before."""
    if not saturated[best]:
        return best
    n = len(v)
    for step in range(1, n):
        k = (cur + step) % n
        if k == best:
            return k
        if (
            saturated[k]
            and v[k] > 0.0
            and v[k] >= share * v[best]
            and not _covered(service, k, best)
            and _shorter_via(intergreen_s, cur, k, best)
            and not (disjoint and shares_ahead(service, intergreen_s, k, best))
        ):
            return k
    return best


def shares_ahead(service: np.ndarray | None, intergreen_s: np.ndarray | None, k: int, best: int) -> bool:
    """Phase `k`, or a phase other than `best` that `k` leads into without an intergreen (`intergreen_s`[k, j]
    0: the program's lead-in of it, as RiLSA_example2's E left alone before E left with S's right), serves
    protected (`service` 1, Statics.service) a movement `best` also serves protected. Serving it before `best`
    discharges part of `best`'s own queue first: when `best`'s turn comes its pressure is the rest's alone and
    its green ends early, so the order buys `best` no longer a green and the phase in force's movements wait
    through the detour. False without `service` or `intergreen_s`."""
    if service is None or intergreen_s is None:
        return False
    ahead = [k] + [j for j in range(len(service)) if j not in (k, best) and intergreen_s[k, j] <= 1e-9]
    protected_best = service[best] >= 1.0
    return any(bool(((service[j] >= 1.0) & protected_best).any()) for j in ahead)


def _shorter_via(intergreen_s: np.ndarray | None, cur: int, k: int, best: int) -> bool:
    """From `cur`, serving `k` then `best` loses less time to intergreens (s) than `best` then `k`
    (`intergreen_s`: Statics.intergreen_s; None: True)."""
    if intergreen_s is None:
        return True
    ig = intergreen_s
    return bool(ig[cur, k] + ig[k, best] < ig[cur, best] + ig[best, k] - 1e-9)


def _covered(service: np.ndarray | None, k: int, best: int) -> bool:
    """Phase `best` serves every movement phase `k` serves, at least as well (`service`: Statics.service)."""
    return service is not None and bool((service[k] <= service[best]).all())


_STATE_FIELDS = frozenset(f.name for f in fields(MaxPressureState))


def _ticked(state: MaxPressureState, **changes: Any) -> MaxPressureState:
    """`dataclasses.replace(state, **changes)`: every field not named is `state`'s, so a field added
    to the class is carried without being named here. Built every tick per junction, without
    replace's per-call look-up of the fields and the frozen class's per-field __setattr__: the copy of
    the `__dict__` is the object replace builds, as the class has no __post_init__ and no init=False
    field (frozen.copier's reasoning; copier refuses `boxed`'s default_factory, which replace never
    calls: it passes every field's value). An unknown field raises TypeError, as replace does."""
    if not changes.keys() <= _STATE_FIELDS:
        raise TypeError(f"MaxPressureState has no field {sorted(changes.keys() - _STATE_FIELDS)}")
    out: MaxPressureState = object.__new__(MaxPressureState)
    out.__dict__.update(state.__dict__, **changes)
    return out


def _with_unseen(
    state: MaxPressureState,
    layout: Layout,
    est: Estimate,
    now_s: float,
    cur: int,
    base_pcu: np.ndarray | None,
    drop: np.ndarray | None,
) -> tuple[MaxPressureState, np.ndarray | None]:
    """`inner_link_room`'s unseen count, one tick (inner_links.unseen_step): its zero kept in the state, the PCU
    no loop sees added to `drop` (per movement; None: none)."""
    transit = in_transit_pcu(state.unseen_sent, layout, now_s)
    base, unseen = unseen_step(base_pcu, layout, est, cur, transit)
    state = replace(state, unseen_base_pcu=base)
    if unseen is None:
        return state, drop
    return state, unseen if drop is None else drop + unseen


def _green_now(signal: SignalView, now_s: float) -> np.ndarray:
    """(movements,) bool: green now (SignalView.red_since_s is now for a movement green now)."""
    return np.asarray(signal.red_since_s, dtype=float) >= now_s


def exits_held(
    layout: Layout, network: NetworkView, now_s: float, switch_s: float, pressures: MaxPressureParams | None = None
) -> np.ndarray:
    """(movements,) bool: the movement's exit feeds an approach of a controlled neighbour (the
    learnt exit, else the approach its exit edge is; phases.exit_room_pcu) that is not a short link,
    and that neighbour's light shows red to it (phases.exit_red: its reported stage serves none of
    the approach's movements on a lane its loops see full, or of the approach's movements when none
    is) and will keep it red longer than `switch_s`, what leaving the stage here and coming back
    costs (switch_back_s; phases.exit_red_left_s: from its reported stage, how long it has been
    green and the program's red there), or a movement sharing a lane with it has such an exit
    (first in, first out: its head may be bound there; phases.lane_fifo_ratio): a link between
    two lights that its far light is not draining, where a queue standing back to the stop line
    holds the head until that light turns, and turns too late for a switch here to lose the
    head's restart (with `switch_s` 0: whenever it shows red with some of its red left by that
    estimate: not where it is due to end now). With `pressures` (`stall_red_forecast`), the far light
    is taken to run these pressures too: its stage is held until the waited movements' pressure there
    beats its own (phases.overtake_s).
    False where every exit on its lanes leaves the controlled network, feeds a short link
    (phases.short_exits: a lane of it stores less than this junction's shortest minimum green
    sends; a head stands at the line at every green there, and the link's own rules,
    keepclear.ShortLinks, own it: ingolstadt21's 12.1 m pair), or feeds a light that serves it or
    has reported no stage (the link drains: a head standing for room moves within the green,
    Bologna pasubio; BENCHMARKS.md, issue 9, G sessions 40-41)."""
    room = exit_room_pcu(layout, network, direct=True)
    red = exit_red_left_s(layout, network, now_s, direct=True, pressures=pressures) > switch_s
    held = np.isfinite(room) & ~short_exits(layout, network, direct=True) & red
    out: np.ndarray = lane_fifo_ratio(layout, np.where(held, 0.0, 1.0)) < 1.0
    return out


def held_link_room_pcu(layout: Layout, network: NetworkView) -> np.ndarray:
    """(movements,) PCU of room left on the link each movement's exit feeds (exit_targets, direct: the
    learnt exit, else the neighbour approach its exit edge is): the approach's storage between its loops
    plus what its own road stores upstream of its advance loop (Layout.lane_adv_room_pcu: back to the first
    node where other streams merge or cross, the link's head; the loop's position without room_m), less its
    queue between the loops and past the advance loop, never below 0, over the approach's lanes; +inf where
    there is no such neighbour or that road is unbounded (a network entry). The link is full when its queue
    reaches the junction at its head (spillback.blocking_queue_pcu's reading), not when the storage between
    the loops is: on a long link with its loops near the stop line most of its room is upstream of them."""
    out = np.full(len(layout.junction.movements), np.inf)
    for i, target in enumerate(exit_targets(layout, network, direct=True)):
        if target is None:
            continue
        down = network.layouts[target[0]]
        lanes = down.lane_uses[network.links.edge_movements[target[0]][target[1]]].any(axis=0)
        ls = network.estimates[target[0]].lanes
        stored = float((ls.queue_pcu[lanes] + ls.hidden_pcu[lanes]).sum())
        cap = float((down.lane_storage_pcu[lanes] + down.lane_adv_room_pcu[lanes]).sum())
        out[i] = max(cap - stored, 0.0)
    return out


def held_exit_ratio(
    layout: Layout, est: Estimate, network: NetworkView, now_s: float, direct_only: bool = False
) -> np.ndarray:
    """(movements,) share of its saturation flow each movement's queue can discharge into its exit while
    that exit is held (`[max_pressure] exit_room_held`): the room left on the link its exit feeds
    (held_link_room_pcu: to the link's head) over its queue (at least 1 PCU), at most 1, where the light of
    that link's approach shows red to it with some of its red left (exit_red_left_s > 0: by the stage it
    reports, the movements a vehicle from here would wait for are not served) and the approach is not a
    short link (short_exits: its own rules own it); 1 elsewhere: an exit its far light serves drains as it
    fills, and one whose light reported no stage is not judged. Lowered to the lowest of the movements
    sharing a lane (lane_fifo_ratio: first in, first out). The green's worth is what the link takes before
    its far light turns: on a link of a few vehicles between two lights, the room left, not the queue
    behind the line (grid6_incoming_left, BENCHMARKS.md, issue 9, G session 45). `direct_only`
    (`exit_room_held_direct`): only where the exit edge is that approach itself (direct_exits; a learnt exit
    naming another approach is not judged): a learnt exit reached over roads that merge and diverge takes
    only part of the movement, whose other vehicles leave by the other roads (Bologna pasubio, G session 46)."""
    room = held_link_room_pcu(layout, network)
    ratio = np.clip(np.where(np.isfinite(room), room / np.maximum(est.queue_pcu, 1.0), 1.0), 0.0, 1.0)
    red = exit_red_left_s(layout, network, now_s, direct=True) > 0.0
    held = red & ~short_exits(layout, network, direct=True)
    if direct_only:
        targets = exit_targets(layout, network, direct=True)
        held &= np.array([d is not None and t == d for t, d in zip(targets, direct_exits(layout, network))], dtype=bool)
    out: np.ndarray = lane_fifo_ratio(layout, np.where(held, ratio, 1.0))
    return out


def entry_once_lanes(layout: Layout, network: NetworkView) -> np.ndarray | None:
    """(lanes,) bool, the lanes whose queue past the advance loop counts once (`[max_pressure] spill_entry_once`):
    those whose advance loop stands on a network entry (Detector.at_entry, Layout.lane_adv_room_pcu inf: beyond
    it only vehicles waiting to enter the network stand, no junction and no other stream to hold), at a junction
    a controlled neighbour feeds directly over a link that is not short (phases.held_feeds). There a link's
    backlog waits at the light before it (a driver does not enter a full link) and is never seen past the
    link's advance loop, while the entry's, seen there, would weigh twice: new arrivals over the vehicles
    already inside (grid6_incoming_left, BENCHMARKS.md, issue 9, G session 47). None where no lane qualifies
    or no neighbour feeds the junction (a lone junction keeps the second count: RiLSA r3, A session 37)."""
    entry: np.ndarray = np.isinf(layout.lane_adv_room_pcu)
    if not entry.any() or not held_feeds(layout, network.layouts, network.links.edge_movements):
        return None
    return entry


def entry_once_held(once: np.ndarray, layout: Layout, est: Estimate, network: NetworkView | None) -> np.ndarray | None:
    """`once` (entry_once_lanes) while a controlled neighbour holds a queue for one of the junction's links beyond
    the room left on it (phases.upstream_held_pcu, direct feeds: some movement's above 0), None otherwise
    (`[max_pressure] spill_entry_once_held`): the entry's spill counts once only while the backlog it is weighed
    against, the one no loop of this light sees, stands at the light before the link. While every link has room,
    nothing waits unseen, and the entry's second count is the only sign of the vehicles held outside."""
    if network is None or not (upstream_held_pcu(layout, est, network) > 0.0).any():
        return None
    return once


def switch_back_s(layout: Layout, intergreen_s: np.ndarray, cur: int, est: Estimate, via: int | None = None) -> float:
    """s from leaving phase `cur` now to its green again, through phase `via`: the intergreen into it
    (yellow and all-red; `intergreen_s`, intergreen_matrix), the longer of its minimum green and the
    time its queue takes to clear (stage_clear_s) and the intergreen back. `via` None: the least of
    that over the other phases. inf for a junction of one phase."""
    phases = layout.junction.phases
    others = [via] if via is not None else [k for k in range(len(phases)) if k != cur]
    clear_s = stage_clear_s(layout, est)
    ways = [intergreen_s[cur, k] + max(phases[k].min_green_s, clear_s[k]) + intergreen_s[k, cur] for k in others]
    return float(min(ways)) if ways else math.inf


def stage_clear_s(layout: Layout, est: Estimate) -> np.ndarray:
    """(phases,) s each phase takes to discharge the queue of the movements it serves protected at
    their saturation flow (the estimate's queue and learnt saturation flow; the longest of them):
    roughly how long the policy holds that phase once it switches there. 0 where none is queued."""
    per_s = est.queue_pcu * 3600.0 / np.maximum(est.sat_flow_pcu_h, 1.0)
    out: np.ndarray = np.where(layout.protected, per_s[None, :], 0.0).max(axis=1, initial=0.0)
    return out


def _any_head_read(layouts: Mapping[str, Layout], past_city_green: bool) -> bool:
    """Some junction has a lane head_block_s reads with `head_block_unshared_only`: one no stage serves
    whole (head_of_line.unshared_lanes), or with `past_city_green` any mixed one (mixed_lanes, which
    read_lanes reads once a phase outlasts the city's green)."""
    read = mixed_lanes if past_city_green else unshared_lanes
    return any(bool(lay.derived(read).any()) for lay in layouts.values())


def full_green_lanes(layout: Layout) -> np.ndarray:
    """(phases, lanes) bool: in the phase, every link of every movement using the lane shows 'G'
    (and some movement uses it): nothing but the room past the junction holds a vehicle at its
    stop line there. False where a movement on the lane has a red, yielding ('g') or switched-off
    link: its head may stand for its own signal or for a gap."""
    j = layout.junction
    full = np.array([[all(ph.state[li] == "G" for li in m.links) for m in j.movements] for ph in j.phases], dtype=bool)
    uses = layout.lane_uses
    used = np.asarray(uses.any(axis=0), dtype=bool)
    out: np.ndarray = used[None, :] & ~((~full).astype(float) @ uses.astype(float) > 0)
    return out


def stalled_movements(
    layout: Layout,
    est: Estimate,
    cur: int,
    green_elapsed_s: float,
    last_dep_s: np.ndarray,
    now_s: float,
    stall_s: float,
    full_green: np.ndarray | None = None,
) -> np.ndarray:
    """(movements,) bool: served protected by phase `cur`, which has been green `green_elapsed_s`,
    queued (the estimate), not blind (a stop-line loop on each of its lanes counts what crosses),
    a vehicle standing on the stop-line loop of one of its lanes now, a lane on which every
    movement shows 'G' on every link (`full_green`, full_green_lanes(layout); None: derived), and
    nothing of it crossed its stop line for `stall_s` past the green's start-up loss (`last_dep_s`:
    when each last did): its head stands at the line in green, waiting for room downstream; the
    green it holds moves no one (schedule's stall, policies/schedule.py, read at the line: an empty
    stop line is a gap, not a stall; a head on a lane shared with a red or yielding link may be
    waiting for its own signal or a gap, BENCHMARKS.md, issue 9, G session 40)."""
    since = now_s - np.maximum(last_dep_s, now_s - green_elapsed_s + layout.params.startup_lost_s)
    full = (full_green if full_green is not None else full_green_lanes(layout))[cur]
    standing = ((layout.lane_share > 0.0) & ((est.lanes.stop_empty_s <= 0.0) & full)[None, :]).any(axis=1)
    out: np.ndarray = layout.protected[cur] & (est.queue_pcu > 0.0) & ~est.blind & standing & (since >= stall_s)
    return out


def stage_stalled(layout: Layout, est: Estimate, cur: int, green_elapsed_s: float, stall_s: float) -> np.ndarray:
    """(movements,) bool, `[max_pressure] stage_stall_s` (`stall_s`): every movement phase `cur` serves
    (protected or permitted) where, with the phase green `green_elapsed_s` >= the start-up loss + `stall_s`,
    the stop-line loop of every lane they use has, for `stall_s` at least, either been fully occupied
    without a count (DetectorHealth.on_s: a head standing on it, nobody crossing) or shown neither count
    nor occupancy (silent_s: nobody there), and at least one is standing; all False otherwise, and where a
    lane of the stage has no stop-line loop or its loop's reading is missing (it counts neither).

    Such a stage moves nobody: a vehicle stands at its line and none of its streams passes. What holds the
    head does not matter: a full exit, two vehicles each in the lane the other needs, a permitted turn whose
    gap never comes (the streams it yields to are green in the same stage; while they cross, the stage moves
    someone). The loops' own counters are read, not the movements' departures: a loop under a head standing
    `stuck_on_s` is taken as faulty and the estimate then models departures the loop does not see
    (grid_joined_pairs, BENCHMARKS.md, issue 9, K session 51). Example: stage 0 serves E_T (lane E_0) and E_L
    permitted (lane E_1) with `stall_s` 30, green 40 s: E_1's loop occupied without a count for 31 s, E_0's
    empty 35 s: E_T and E_L hold no pressure; a vehicle over E_0 10 s ago: the stage is kept."""
    served = layout.serves[cur]
    n = len(served)
    none = np.zeros(n, dtype=bool)
    if not served.any() or green_elapsed_s < layout.params.startup_lost_s + stall_s - 1e-9:
        return none
    lanes = (layout.lane_uses & served[:, None]).any(axis=0)
    stop = layout.lane_stop[lanes]
    if (stop < 0).any():
        return none
    h = est.health
    standing = h.on_s[stop] >= stall_s - 1e-9
    if not standing.any() or not (standing | (h.silent_s[stop] >= stall_s - 1e-9)).all():
        return none
    out: np.ndarray = served.copy()
    return out


def stuck_lanes(
    prev: np.ndarray | None,
    layout: Layout,
    est: Estimate,
    cur: int,
    green_elapsed_s: float,
    in_green: bool,
    now_s: float,
    stall_s: float,
    gap_s: float,
    yield_lanes_c: np.ndarray,
) -> np.ndarray:
    """(lanes,) `[max_pressure] stage_stall_lanes`: per lane, when its stuck head began standing on the stop-line
    loop (nan: not stuck). A lane becomes stuck in the green of phase `cur` (`in_green`, green `green_elapsed_s`
    >= the start-up loss + `stall_s`) when `cur` serves it, its stop-line loop has been fully occupied without a
    count for `stall_s` (DetectorHealth.on_s), and where a movement on it is served permitted only, every lane of
    the streams it yields to (`yield_lanes_c`, Statics.yield_lanes[cur]) has a stop-line loop that counted nobody
    for `gap_s` now (a gap the head does not take). It stays stuck, red or green, while the same head stands (the
    loop occupied without a count since then, `prev`'s time); a count or a gap ends it. The streams are
    Statics.yield_lanes, not the right of way (given_way_lanes), as in update_boxed: they guard the reading; a right
    turn held by walkers, whom no loop counts, would read stuck."""
    n = len(layout.lanes)
    stop = layout.lane_stop
    has = stop >= 0
    on = np.where(has, est.health.on_s[np.maximum(stop, 0)], 0.0)
    start = now_s - on
    out = np.full(n, np.nan) if prev is None or len(prev) != n else prev.copy()
    same = has & (on > 0.0) & (start <= out + 1.5)  # nan compares False: not stuck
    out = np.where(same, out, np.nan)
    if not in_green or green_elapsed_s < layout.params.startup_lost_s + stall_s - 1e-9:
        return out
    uses = layout.lane_uses
    served = layout.serves[cur]
    new = (uses & served[:, None]).any(axis=0) & has & (on >= stall_s - 1e-9) & np.isnan(out)
    if not new.any():
        return out
    silent = np.where(has, est.health.silent_s[np.maximum(stop, 0)], 0.0)
    gap = has & ((on >= gap_s - 1e-9) | (silent >= gap_s - 1e-9))
    for m in np.flatnonzero(served & ~layout.protected[cur]):
        ylanes = yield_lanes_c[m]
        if ylanes.any() and not gap[ylanes].all():
            new &= ~uses[m]  # its head may wait for a gap in a stream still crossing
    return np.where(new, start, out)


def yield_blocked_lanes(
    layout: Layout, est: Estimate, cur: int, green_elapsed_s: float, block_s: float, yield_lanes_c: np.ndarray
) -> np.ndarray:
    """(lanes,) bool, `[max_pressure] yield_block_s` (`block_s`): lanes phase `cur` serves, green
    `green_elapsed_s` >= the start-up loss + `block_s`, whose stop-line loop has been fully occupied without a
    count for `block_s` (DetectorHealth.on_s: a head standing on it, nobody crossing), on which a movement `cur`
    serves permitted only ('g') yields to a stream that crosses at its saturation flow now: a lane of the streams
    it yields to (`yield_lanes_c`, Statics.yield_lanes[cur]) whose stop-line loop has been neither silent nor
    fully occupied without a count for as long as one saturation headway of that lane (3,600 s / the lane's
    saturation flow, Layout.lane_sat_prior_pcu_h: 2 s at 1,800 PCU/h).

    Such a lane waits for a gap the green's own streams deny: on a lane shared by a permitted left and the
    through, a left-turner at the head (or inside the junction) holds everyone behind it while the opposing
    stream passes at headways no turner takes; its queue does not discharge while that lasts. Once the opposing
    stream leaves one headway free the gap is coming and the lane counts again (a stream that merely passed
    within a few seconds is not read as denying it: ingolstadt7's 32564122, A session 53). Example: phase 0
    serves N's one lane (N_L permitted, N_T, N_R) and S's (1,800 PCU/h); N's loop occupied without a count for
    6 s, S's counted a vehicle 1 s ago: with `block_s` 5 N's lane is blocked; S's loop silent 2 s: it is not."""
    n = len(layout.lanes)
    none = np.zeros(n, dtype=bool)
    if green_elapsed_s < layout.params.startup_lost_s + block_s - 1e-9:
        return none
    permitted = layout.serves[cur] & ~layout.protected[cur]
    if not permitted.any():
        return none
    stop = layout.lane_stop
    has = stop >= 0
    at = np.maximum(stop, 0)
    on = np.where(has, est.health.on_s[at], 0.0)
    silent = np.where(has, est.health.silent_s[at], 0.0)
    headway_s = 3600.0 / np.maximum(layout.lane_sat_prior_pcu_h, 1.0)
    dense = has & (on < headway_s - 1e-9) & (silent < headway_s - 1e-9)
    standing = has & (on >= block_s - 1e-9)
    out = none
    for m in np.flatnonzero(permitted):
        ylanes = yield_lanes_c[m]
        if ylanes.any() and dense[ylanes].any():
            out = out | (standing & layout.lane_uses[m])
    return out


def stuck_drop_pcu(layout: Layout, est: Estimate, stuck: np.ndarray) -> np.ndarray | None:
    """(movements,) PCU to add to each movement's queue: minus the part of each stuck lane's queue (stuck_lanes,
    not nan) the estimator gives it. None where no lane is stuck."""
    lanes = ~np.isnan(stuck)
    if not lanes.any():
        return None
    lane_pcu = est.lanes.queue_pcu + est.lanes.hidden_pcu
    taken = np.where(layout.lane_uses & lanes[None, :], layout.lane_share * lane_pcu[None, :], 0.0)
    out: np.ndarray = -taken.sum(axis=1)
    return out


class Look(NamedTuple):
    """What one junction's tick reads, as the rules that weigh its phases take it (decide_held after the state's
    tracking, stage_view): `held_pcu`, the queue held upstream per movement (`pull_upstream`; None: none). A
    NamedTuple rather than a frozen dataclass: built once a junction and tick."""

    state: MaxPressureState
    layout: Layout
    est: Estimate
    signal: SignalView
    now_s: float
    network: NetworkView | None
    held_pcu: np.ndarray | None


class MaxPressurePolicy(Policy):
    name = "max_pressure"

    def __init__(self, params: MaxPressureParams | None = None) -> None:
        """`params`: config.toml's section for this policy; None: the defaults."""
        self.params = params if params is not None else MaxPressureParams()
        # Varaiya's downstream queues, the exits' room and the queues held upstream come from the neighbours'
        # estimates (core NetworkView); only the first two read the learnt links
        self.uses_network = (
            self.params.downstream_weight > 0
            or self.params.exit_room
            or self.params.exit_room_held
            or self.params.pull_upstream
            or self.params.spill_entry_once
            or self.params.stall_s > 0
        )
        # exit_room_held_direct reads the exit edges only: the core need not learn the links for it (learning them
        # would also move the stall rule's exits, exits_held, to the learnt ones: ingolstadt21, G session 46)
        self.reads_links = (
            self.params.downstream_weight > 0
            or self.params.exit_room
            or (self.params.exit_room_held and not self.params.exit_room_held_direct)
        )
        # how long the far light stays red (exits_held, held_exit_ratio)
        self.reads_signals = self.params.stall_s > 0 or self.params.exit_room_held

    def cannot_serve(self, layout: Layout) -> str:
        return acyclic_refusal(layout)

    def lacks_yields_to(self, layout: Layout) -> str:
        """With `yield_block_s` on (the only rule that reads `yields_to`: given_way_lanes), where a movement the
        rule can read as waiting (served permitted with protected streams of another approach, yield_lanes) has
        no `yields_to`: the rule then reads every such stream as one it gives way to, the older reading that cut
        a right turn waiting only for walkers (docs/policies.md)."""
        if self.params.yield_block_s <= 0:
            return ""
        reads = np.asarray(yield_lanes(layout).any(axis=(0, 2)))
        if not any(mv.yields_to is None and reads[m] for m, mv in enumerate(layout.junction.movements)):
            return ""
        return "[max_pressure] yield_block_s reads them as giving way to every protected stream of another approach"

    def network_decision(self, layouts: Mapping[str, Layout]) -> NetworkDecision | None:
        """decide() for all `layouts` in one numpy pass (policies/max_pressure_net.py); None with
        Varaiya's downstream term, `exit_room` or `exit_room_held` without `exit_room_held_direct` on (they
        read the learnt links; with `exit_room_held_direct` the pass leaves to decide() only the junctions
        where the rule can act, NetPressure.held_at) or
        `program_order_share` / `whole_change` / `lead_in` / `program_order_saturated` / `spill_plan_red` /
        `spill_plan_green` / `head_block_s` / `spill_entry_once` on (the pass does not apply them; with
        `head_block_unshared_only`, only where a junction has a lane no stage serves whole, with
        `head_block_past_city_green` too any lane
        head_of_line.mixed_lanes finds: elsewhere the rule finds no block), and None
        for a subclass that overrides decide() (the pass computes this class's decide, not the
        override). With `pull_upstream` the pass reads the queues held upstream from its own
        estimates, with `stall_s` the neighbours' lights from its own signal views: `layouts` must be
        the whole network the core's NetworkView covers."""
        from controller.core.policies.max_pressure_net import NetPressure  # it builds on this module

        p = self.params
        if (
            type(self).decide is not MaxPressurePolicy.decide
            or p.program_order_share > 0
            or p.whole_change
            or p.lead_in
            or p.program_order_saturated
            or p.gap_out_s > 0
            or p.spill_plan_red
            or p.spill_plan_green
            or (
                p.head_block_s > 0
                and (not p.head_block_unshared_only or _any_head_read(layouts, p.head_block_past_city_green))
            )
            or (p.exit_room_held and not p.exit_room_held_direct)
            or p.spill_entry_once
            or p.stage_stall_s > 0
            or p.inner_link_room
            or any(lay.params.permitted_gap_acceptance for lay in layouts.values())  # the pass reads Statics.service
        ):
            return None
        return NetPressure.build(self, layouts)

    def init(self, layout: Layout, now_s: float) -> MaxPressureState:
        p = self.params
        longest_red_s = plan_red_s(layout.junction) if p.spill_plan_red else None
        statics = build_statics(layout, p.permitted_sat_ratio, p.switch_service_s)
        hold = None
        if p.spill_plan_green:
            hold = GreenHold(
                plan_green_s(layout.junction, layout.protected), np.full(len(layout.junction.movements), np.nan)
            )
        return MaxPressureState(statics, plan_red_s=longest_red_s, hold=hold)

    def decide(
        self,
        state: MaxPressureState,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None = None,
    ) -> tuple[MaxPressureState, PhaseWish | None]:
        return self.decide_paired(state, layout, est, signal, now_s, network, None)

    def decide_paired(
        self,
        state: MaxPressureState,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None,
        partner: StageView | None,
    ) -> tuple[MaxPressureState, PhaseWish | None]:
        """decide(); a pair's leader weighs each stage by its own pressure plus its follower's,
        and leaves its stage through one that clears the turners in either junction (`partner`,
        the follower's StageView on the leader's stages, core/pairs.py)."""
        held = (
            upstream_held_pcu(layout, est, network, self.params.pull_chains)
            if self.params.pull_upstream and signal is not None
            else None
        )
        return self.decide_held(state, layout, est, signal, now_s, network, partner, held)

    def decide_held(
        self,
        state: MaxPressureState,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None,
        partner: StageView | None,
        held_pcu: np.ndarray | None,
    ) -> tuple[MaxPressureState, PhaseWish | None]:
        """decide_paired() with the queue held upstream (`pull_upstream`: phases.upstream_held_pcu,
        per movement) given: the network pass (max_pressure_net) computes it for every junction at
        once. None: none."""
        if signal is None:
            return state, None
        cur = signal.phase
        stuck = self._stuck(state, layout, est, signal, now_s)
        if stuck is not None:
            state = replace(state, stuck_from_s=stuck)
        state = self._track_every_tick(state, layout, est, signal, now_s)
        if signal.in_intergreen:
            return state, PhaseWish(cur)
        prev_dep_pcu, unseen_base = state.last_dep_pcu, state.unseen_base_pcu
        state = self._track_box(state, layout, est, cur, now_s)
        if self.params.head_block_s > 0:
            state = self._track_heads(state, layout, est, signal, now_s, prev_dep_pcu)
        if signal.green_elapsed_s < layout.junction.phases[cur].min_green_s:
            return state, PhaseWish(cur)
        drop = stuck_drop_pcu(layout, est, stuck) if stuck is not None else None
        if self.params.inner_link_room:  # the vehicles no loop sees (inner_links.unseen_step)
            state, drop = _with_unseen(state, layout, est, now_s, cur, unseen_base, drop)
        look = Look(state, layout, est, signal, now_s, network, held_pcu)
        stalled = self._stalls(look)
        ratio = (self._exit_ratio(look),)  # the exits' room, read once for both sums of _yield_blocked
        v = self._pressures(look, stalled, drop, ratio)
        if self.params.yield_block_s > 0:
            v = self._yield_blocked(look, stalled, drop, v, ratio)
        if partner is not None:
            v = v + partner.pressures_pcu2_s
        if state.hold is not None:
            held = self._held_wish(state.hold, layout, est, signal, now_s, v, state, partner)
            if held is not None:
                return state, held
        due = self._due(state, layout, est, signal, now_s, v)
        if due >= 0:
            return state, PhaseWish(self.via_clearance(state, layout, est, cur, due, v, partner))
        best = int(v.argmax())
        if v[best] <= v[cur]:
            return state, PhaseWish(stay_phase(state.statics, layout.junction, signal))
        best = self._whole_change_target(look, stalled, drop, ratio, v, best, partner)
        if self.params.program_order_saturated:
            sat, st, p = saturated_phases(layout, est, cur), state.statics, self.params
            share, disjoint = p.program_order_saturated_share, p.program_order_saturated_disjoint
            best = saturated_successor(v, sat, cur, best, st.service, share, st.intergreen_s, disjoint)
        best = program_successor(v, cur, best, self.params.program_order_share)
        best = lead_in(layout.junction, state.statics.intergreen_s, cur, best) if self.params.lead_in else best
        return state, PhaseWish(self.via_clearance(state, layout, est, cur, best, v, partner))

    def _due(
        self, state: MaxPressureState, layout: Layout, est: Estimate, signal: SignalView, now_s: float, v: np.ndarray
    ) -> int:
        """A phase due before the pressures' choice, or -1: `spill_plan_red`'s (_spill_due), else one greening a
        crossing red for its program's longest red (walkers_due)."""
        if state.plan_red_s is not None:
            due = self._spill_due(state.plan_red_s, state, layout, est, signal, now_s, v)
            if due >= 0:
                return due
        return walkers_due(state.statics, signal, now_s, v)

    def _whole_change_target(
        self,
        look: Look,
        stalled: np.ndarray | None,
        drop: np.ndarray | None,
        ratio: tuple[np.ndarray | None],
        v: np.ndarray,
        best: int,
        partner: StageView | None,
    ) -> int:
        """`whole_change`: leaving the phase in force (some phase's pressure `v` above its own), the phase with the
        highest pressure per second of its whole change (phase_pressures with change_useful) among those whose
        pressure `v` is above the phase in force's: the switch goes where it would go with the key off or to
        another phase it would also leave for, never back to the phase in force. `best` (the highest `v`) with the
        key off or for a pair's leader (`partner`: its pressures hold the follower's, weighed per switch)."""
        if not self.params.whole_change or partner is not None:
            return best
        cur = look.signal.phase
        useful = change_useful(look.layout, look.state.statics.intergreen_s, cur, self.params.switch_service_s)
        w = self._pressures(look, stalled, drop, ratio, useful)
        return int(np.where(v > v[cur], w, -np.inf).argmax())

    def _track_every_tick(
        self, state: MaxPressureState, layout: Layout, est: Estimate, signal: SignalView, now_s: float
    ) -> MaxPressureState:
        """What decide_held keeps of every tick, intergreens and minimum greens included."""
        if state.plan_red_s is not None and self.params.spill_plan_red_served:  # a green ends as its yellow starts
            state = replace(state, greens=track_greens(state.greens, est.departures_pcu, _green_now(signal, now_s)))
        if state.hold is not None:  # a green's start, kept across the phases that keep it green
            state = replace(state, hold=track_green_from(state.hold, _green_now(signal, now_s), now_s))
        if self.params.inner_link_room:  # what was sent within the clearance is on its way over (inner_links)
            state = replace(state, unseen_sent=track_sent(state.unseen_sent, layout, est, now_s))
        return state

    def _stalls(self, look: Look) -> np.ndarray | None:
        """(movements,) the movements of the phase in force that hold no pressure this tick: `stall_s`'s
        (stalled_movements where the exit is held, _held_stalls), `gap_out_s`'s (gapped_out) and
        `stage_stall_s`'s (stage_stalled); None with none of the keys on."""
        state, layout, est, signal, now_s, network, _ = look
        cur, p = signal.phase, self.params
        stalled = None
        if p.stall_s > 0 and state.last_dep_s is not None and network is not None:
            stalled = stalled_movements(
                layout, est, cur, signal.green_elapsed_s, state.last_dep_s, now_s, p.stall_s, state.statics.full_green
            )
            if stalled.any():
                stalled = self._held_stalls(look, stalled)
        if p.gap_out_s > 0:
            gapped = gapped_out(layout, est, cur, p.gap_out_s)
            stalled = gapped if stalled is None else stalled | gapped
        if p.stage_stall_s > 0:
            dead = stage_stalled(layout, est, cur, signal.green_elapsed_s, p.stage_stall_s)
            stalled = dead if stalled is None else stalled | dead
        return stalled

    def _yield_blocked(
        self,
        look: Look,
        stalled: np.ndarray | None,
        drop: np.ndarray | None,
        v: np.ndarray,
        ratio: tuple[np.ndarray | None] | None = None,
    ) -> np.ndarray:
        """`yield_block_s`: the pressures `v` with the phase in force's own weighed without the lanes whose head
        waits for a gap its green denies (yield_blocked_lanes; their share of each movement's queue, as
        stuck_drop_pcu takes it); the other phases' as they are (the lane is served once the green ends).
        `ratio`: _pressures' (the exit ratios `v` was weighed with, when the caller has them)."""
        layout, est, signal = look.layout, look.est, look.signal
        p, cur = self.params, signal.phase
        st = look.state.statics
        yl = (st.yield_lanes if st.given_way is None else st.given_way)[cur]
        blocked = yield_blocked_lanes(layout, est, cur, signal.green_elapsed_s, p.yield_block_s, yl)
        more = stuck_drop_pcu(layout, est, np.where(blocked, look.now_s, np.nan))
        if more is None:
            return v
        shift = more if drop is None else drop + more
        own = self._pressures(look, stalled, shift, ratio)
        out = v.copy()
        out[cur] = own[cur]
        return out

    def _stuck(
        self, state: MaxPressureState, layout: Layout, est: Estimate, signal: SignalView, now_s: float
    ) -> np.ndarray | None:
        """With `stage_stall_lanes` (and `stage_stall_s` > 0): stuck_lanes after this tick; None otherwise."""
        p = self.params
        if p.stage_stall_s <= 0 or not p.stage_stall_lanes:
            return None
        cur, g_s, green = signal.phase, signal.green_elapsed_s, not signal.in_intergreen
        yl = state.statics.yield_lanes[cur]
        return stuck_lanes(
            state.stuck_from_s, layout, est, cur, g_s, green, now_s, p.stage_stall_s, p.clearance_gap_s, yl
        )

    def _held_stalls(self, look: Look, stalled: np.ndarray) -> np.ndarray:
        """`stalled` (stalled_movements) where the exit is held (exits_held) for longer than the way
        back here: through the phase the pressures with those movements stalled would serve instead,
        its intergreens and the longer of its minimum green and the time its queue takes to clear
        (switch_back_s). Where the phase in force still wins, the quickest way back through any phase.
        `look.network` must be given."""
        layout, network, now_s = look.layout, look.network, look.now_s
        assert network is not None  # _stalls and the network pass call this with the network only
        cur, ig = look.signal.phase, look.state.statics.intergreen_s
        fc = self.params if self.params.stall_red_forecast else None
        red: np.ndarray = stalled & exits_held(layout, network, now_s, 0.0, fc)
        if not red.any():
            return red
        v = self._pressures(look, red)
        best = int(v.argmax())
        via = best if v[best] > v[cur] else None
        back_s = switch_back_s(layout, ig, cur, look.est, via)
        out: np.ndarray = red & exits_held(layout, network, now_s, back_s, fc)
        return out

    def _held_wish(
        self,
        hold: GreenHold,
        layout: Layout,
        est: Estimate,
        signal: SignalView,
        now_s: float,
        v: np.ndarray,
        state: MaxPressureState,
        partner: StageView | None,
    ) -> PhaseWish | None:
        """`spill_plan_green`: while a movement the phase in force serves protected has its spill past the room
        (a whole vehicle on some lane, spill_red.whole_spill_pcu) and has been green less than the program's
        longest green for it (spill_red.held_green), the
        highest-pressure phase among those that keep every such movement green protected (spill_red.keep_phases;
        the phase in force unless another's pressure is higher); None: no movement held (the rules go on; the hold
        comes before `spill_plan_red`'s due red)."""
        cur = signal.phase
        held = held_green(hold, layout.protected[cur], whole_spill_pcu(layout, est), now_s, signal.green_elapsed_s)
        if not held.any():
            return None
        best = int(np.where(keep_phases(layout.protected, held), v, -np.inf).argmax())
        if v[best] <= v[cur]:
            return PhaseWish(cur)
        return PhaseWish(self.via_clearance(state, layout, est, cur, best, v, partner))

    def _spill_due(
        self,
        longest_red_s: np.ndarray,
        state: MaxPressureState,
        layout: Layout,
        est: Estimate,
        signal: SignalView,
        now_s: float,
        v: np.ndarray,
    ) -> int:
        """`spill_plan_red`: the phase serving a movement whose spill reaches its link's head and that has
        been red as long as the city's program holds it red (policies/spill_red.py), or -1; with
        `spill_plan_red_served`, only a movement a green is seen to serve (spill_red.served), by a phase
        serving it protected; with `spill_plan_red_turns_off`, only the spill past the road beyond the room
        that leads only into the approach (spill_red.turn_off_room_pcu)."""
        n = len(layout.junction.movements)
        red_s = now_s - np.asarray(signal.red_since_s, dtype=float) if signal.red_since_s else np.zeros(n)
        beyond = turn_off_room_pcu(layout.junction, layout.lanes) if self.params.spill_plan_red_turns_off else None
        blocking = blocking_queue_pcu(layout, est, beyond)
        if not self.params.spill_plan_red_served:
            return due_phase(state.statics.service, signal.phase, blocking, red_s, longest_red_s, v)
        eligible = served(layout, est, state.greens)
        return due_phase(
            state.statics.service, signal.phase, blocking, red_s, longest_red_s, v, eligible, layout.protected
        )

    def stage_view(
        self,
        state: MaxPressureState,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None = None,
    ) -> StageView | None:
        """phase_pressures with the policy's parameters, and per target the clearance phases
        leaving the phase in force needs (clearance_detours)."""
        if signal is None:
            return None
        cur, st = signal.phase, state.statics
        detours = tuple(
            tuple(clearance_detours(st.clearance[cur], layout, cur, k, state.boxed)) if len(state.boxed) else ()
            for k in range(len(layout.junction.phases))
        )
        held = upstream_held_pcu(layout, est, network, self.params.pull_chains) if self.params.pull_upstream else None
        return StageView(self._pressures(Look(state, layout, est, signal, now_s, network, held)), detours)

    def _pressures(
        self,
        look: Look,
        stalled: np.ndarray | None = None,
        drop: np.ndarray | None = None,
        ratio: tuple[np.ndarray | None] | None = None,
        useful: np.ndarray | None = None,
    ) -> np.ndarray:
        """phase_pressures with this policy's parameters; `stalled`: the movements that hold no pressure this tick
        (_stalls; None: none); `drop`: PCU to add to each movement's queue besides head_drop_pcu's (stuck_drop_pcu;
        None: none); `ratio`: (_exit_ratio(look),) when the caller has it (None: read here); `useful`: the switch
        factor (change_useful; None: switch_useful's)."""
        state, layout, est, signal, now_s, network, held_pcu = look
        p = self.params
        down = p.downstream_weight * network.downstream_queue_pcu(layout.junction.id) if network is not None else None
        shift = head_drop_pcu(layout, est, state.head_waits) if state.head_waits is not None else None
        if drop is not None:
            shift = drop if shift is None else shift + drop
        exit_ratio = self._exit_ratio(look) if ratio is None else ratio[0]
        once = entry_once_lanes(layout, network) if p.spill_entry_once and network is not None else None
        if once is not None and p.spill_entry_once_held:
            once = entry_once_held(once, layout, est, network)
        inner = inner_link_ratio(layout, est) if p.inner_link_room else None
        return phase_pressures(
            state.statics,
            layout,
            est,
            signal,
            now_s,
            p.switch_service_s,
            p.wait_scale_s,
            down,
            p.arrival_s,
            exit_ratio,
            held_pcu,
            p.spill_room,
            p.spill_reach,
            stalled,
            shift,
            once,
            inner,
            useful,
        )

    def _exit_ratio(self, look: Look) -> np.ndarray | None:
        """_pressures' exit ratio per movement: exit_room's (the exits' discharge, direct) or exit_room_held's
        (held_exit_ratio); None with neither key on or without a NetworkView."""
        p, network = self.params, look.network
        if p.exit_room and network is not None:
            return lane_fifo_ratio(look.layout, exit_rate_ratio(look.layout, look.est, network, direct=True))
        if p.exit_room_held and network is not None:
            return held_exit_ratio(look.layout, look.est, network, look.now_s, p.exit_room_held_direct)
        return None

    def _track_box(
        self, state: MaxPressureState, layout: Layout, est: Estimate, cur: int, now_s: float
    ) -> MaxPressureState:
        """One tick of phase `cur`'s green: a new green starts with an empty box. A phase that
        serves no movement permitted only keeps it empty all its green (update_boxed adds only
        permitted movements), so its box is not updated. With `stall_s`, also when each movement
        last sent a vehicle over its stop line (`now_s`)."""
        dep, st = est.departures_pcu, state.statics
        last_s = None
        if self.params.stall_s > 0 or self.params.head_block_s > 0:
            if state.last_dep_s is None or state.last_dep_pcu is None or len(state.last_dep_s) != len(dep):
                last_s = np.full(len(dep), now_s)
            else:
                last_s = np.where(dep > state.last_dep_pcu, now_s, state.last_dep_s)
        if state.phase != cur or state.last_dep_pcu is None:
            no_box = np.zeros(len(dep), dtype=bool)
            return _ticked(state, phase=cur, last_dep_pcu=dep, boxed=no_box, last_dep_s=last_s)
        if st.has_permitted is not None and not st.has_permitted[cur]:
            return _ticked(state, phase=cur, last_dep_pcu=dep, last_dep_s=last_s)
        boxed = update_boxed(
            state.boxed,
            layout,
            st.yield_lanes[cur],
            st.permitted[cur] if st.permitted is not None else layout.serves[cur] & ~layout.protected[cur],
            dep > state.last_dep_pcu,
            est,
            self.params.clearance_gap_s,
        )
        return _ticked(state, phase=cur, last_dep_pcu=dep, boxed=boxed, last_dep_s=last_s)

    def _track_heads(
        self,
        state: MaxPressureState,
        layout: Layout,
        est: Estimate,
        signal: SignalView,
        now_s: float,
        prev_dep_pcu: np.ndarray | None,
    ) -> MaxPressureState:
        """With `head_block_s`: the shared lanes blocked at their head after this tick of the green
        (head_of_line: blocked_heads, update_head_waits); `prev_dep_pcu`, the departures seen last
        tick (None: none, nothing departed)."""
        dep = est.departures_pcu
        known = prev_dep_pcu is not None and len(prev_dep_pcu) == len(dep)
        departed = dep > prev_dep_pcu if known else np.zeros(len(dep), dtype=bool)
        found = None
        if state.last_dep_s is not None:
            p = self.params
            found = blocked_heads(
                layout,
                est,
                signal.phase,
                signal.green_elapsed_s,
                state.last_dep_s,
                now_s,
                p.head_block_s,
                p.head_block_unshared_only,
                p.head_block_past_city_green,
            )
        return _ticked(
            state, last_dep_pcu=dep, head_waits=update_head_waits(state.head_waits, layout, est, departed, found)
        )

    def via_clearance(
        self,
        state: MaxPressureState,
        layout: Layout,
        est: Estimate,
        cur: int,
        target: int,
        v: np.ndarray,
        partner: StageView | None = None,
    ) -> int:
        """The target, or a protected phase for permitted movements the target would cut off
        while they may stand in the junction (update_boxed); for a pair's leader, in either
        junction (`partner`'s detours: one both need if there is one, else any either needs). With
        `tail_stage` and no detour, at a junction whose loops have counted a cyclist: the program's tail stage
        of `cur` when it keeps such a movement green."""
        detours = clearance_detours(state.statics.clearance[cur], layout, cur, target, state.boxed)
        if partner is not None and partner.detours[target]:
            need = partner.detours[target]
            detours = [p for p in detours if p in need] or [*detours, *need]
        if detours:
            return max(detours, key=lambda p: v[p])
        if self.params.tail_stage and target != cur and _cyclists(est):
            tail = tail_stage(layout.junction, cur)
            if tail is not None and tail != target and len(state.boxed):
                kept = cut_off(layout, cur, target, state.boxed) & layout.serves[tail]
                return tail if kept.any() else target
        return target

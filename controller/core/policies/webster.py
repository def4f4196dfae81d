"""`webster`: fixed-time plans recomputed every period from the previous period's counts, in
step with the city's own cycle.

Contract. Every `period_s` the policy sends one CycleWish for the junction, offset at its base
offset (the city program's: where phase 0's green begins in its cycle). With `keep_offsets`
(off by default: a regression on the bundled city, docs/policies.md) the plan is in whole
seconds (the roadside changes stage on whole seconds) and goes out when phase 0 next turns green
(or at once without a status, or when phase 0 has not shown for a reference cycle), and at
every start of phase 0 the policy keeps the offset (controller/core/policies/offsets.py; with
`green_window_offsets`, off by default, the offset that keeps the plan's green windows where the
city's plan put them, offsets.window_offset_s, not phase 0's start at the base offset):
when phase 0 turned green more than the status' resolution off the offset, that cycle runs
shortened or lengthened, within the junction's limits and by at most offsets.STEP_RATIO of the
cycle, and the next the steady plan (meant to keep fixed's green waves). With
`carry_green_remainders` (off by default) the steady plan keeps its fractional greens and each
cycle's whole seconds carry the rounding's remainders to the next (offsets.carried_whole_seconds):
over cycles each phase shows its planned green and the cycle its planned length; without it the
plan is rounded once per period, the same way every cycle. With `offsets_need_neighbour` (off by
default) a junction without a signalised neighbour keeps no offset and runs as with keep_offsets
off. Without keep_offsets the roadside shows each fractional green to the next whole second: the
cycle runs up to a second a phase longer than planned (more green, no offset kept). The plan:
- cycle: the base program's cycle C (the city's plan, within the junction's cycle bounds), or
  C / k for the largest whole k that keeps it at least Webster's (1958) cycle
  C0 = (1.5 L + 5) / (1 - Y) (L = per phase the larger of `lost_time_per_phase_s` and its
  intergreen, Y the sum of the phases' critical flow ratios, capped at `max_flow_ratio`), the
  minimum cycle and the minimum greens
  with their intergreens (and, with `fit_capacity`, on by default: in which every movement's
  capacity green, below, raised from the minimum greens, fits; capacity_fits);
  the base cycle C itself (k = 1) after a period in which some phase
  ended its green with a residual queue, and while some phase is held (below) when
  `hold_short_phases`. A junction
  thus keeps its neighbours' common cycle (a light one runs k cycles per common cycle, double
  cycling, phase 0 at the city's offset) and its cycle never exceeds the city's (but with
  `lone_cycle_max_s`, below, at a lone junction no split serves): Webster's own
  C0 per junction breaks the coordination and grows without bound as Y -> 1, and every red
  with it.
- greens: each movement needs, summed over the phases serving it, the larger of
  - its capacity green: C x q / s / `max_flow_ratio` + `lost_time_per_phase_s` (Webster's
    effective green at the target degree of saturation, plus its lost time), and
  - its storage green: C - storage_pcu / q, so that the queue it builds over its red
    (q x red) fits its storage (the model's, up to its advance loops); a longer red spills
    the queue onto the link before and locks the junction upstream (core/spillback.py).
  Phases start at their minimum green and are raised, largest need first, the deficit going
  to the serving phase with the longest base green (the city's main stage for the movement;
  within max_green_s). Where the
  raised greens do not fit the cycle, no split keeps every storage red: the capacity needs
  alone are used, and where those do not fit either, their parts above the minimum greens
  are scaled down alike.
  The green left over is shared in proportion to the base program's greens (the city's split).
- the green where a movement is unopposed (`credit_unopposed`, on by default: docs/policies.md):
  its needs are met first from the greens of the phases where it yields ('g', or switched off,
  'o') while no movement of another approach edge has a green link (unopposed_service), and from
  the seconds of the program's own transitions between consecutive phases in which a link of it
  yields while no link of another approach's movements is green or yellow
  (unopposed_transition_s: an all-red with the turn switched off); only the rest raises the
  phases serving it. Nothing it gives way to is released there, so it discharges as if
  protected; a model that counts 'o' as no service buys such a turn a green it already has,
  from the stages beside it.
- the spare green to the city's plan (`slack_to_city`, off by default: docs/policies.md): in a
  plan at the base cycle after a period in which no phase ran short (below), the green left
  over once every movement's need is met first raises each phase below its city green toward
  it, in proportion to the shortfall; the period's counts move green only as far as a measured
  need requires, and where every need fits the city's plan, that plan is sent. A period's
  count is a few dozen vehicles per movement and lags the demand by a period: the spare shared
  by the counts follows their noise, and a phase cut in a lull meets the next surge short.
  Not in a divided cycle (the city runs no plan at C / k) nor after a short phase (its flow is
  capped by its own green, and the split by the needs serves the loaded phases).
- a lull that lasted (`divide_after_periods` = n; 1, the last period alone, by default): a divided
  cycle C / k only where it fits (common_cycle_s) the flows of each of the last n periods, per
  movement the largest (divided_flow_pcu_h); the split is still the last period's. A period's
  count lags the demand by a period: a half cycle chosen from one period's lull commits the next
  period to half the capacity per lost time, a surge after the lull (a burst on a one-lane side
  street) meets it, and its queue is what the base cycle must then drain before the next lull
  halves it again. At the start, the periods there are.
- a short phase keeps the city's green (`short_keeps_city`): a phase that ended the period's
  greens with a mean residual queue of at least `residual_queue_pcu` gets at least its green
  in the city's split in the next plan (whose cycle is the base cycle, below): its departures
  were capped by its own green, so its measured flow is a lower bound of its demand, and
  Webster's split of it would cut it again. For that plan only (no memory).
- a short phase keeps its green (`keep_green_residual_pcu` = r > 0; 0, off, by default): a phase
  that ended the period's greens with a mean free residual queue of at least r PCU (the queue
  left at its green ends times (1 - the lane's exit blockage): a queue standing behind a full exit
  is short of exit room, not of green, and more green for it lets nothing through and fills the
  junction it feeds; green_short_phases) is not cut below
  its share of the green time in the plan in force (the last plan sent; the city's before the
  first) in the next plan (keep_short_greens): its departures were capped by that green, so its
  count is a lower bound of its demand, and Webster's split of the capped counts cuts exactly
  the phase whose queue grows, giving the green to phases that cleared theirs. The green
  restored comes from the phases that cleared their queues (down to their minimum greens: their
  counts may read high, a queue left at a green's end is direct), none from another short phase;
  the split is otherwise Webster's (no spare is added to the kept green), and where every phase
  ran short it stands. For that plan only (no memory). r is
  above `residual_queue_pcu`: a queue of a few PCU is left at random by a green near capacity
  (Webster's overflow, x^2 / (2 (1 - x)), 4 PCU at x = 0.9) and is no sign of a capped count; a
  queue of r is one the green does not serve.
- the city's split as the prior (`city_split`, off by default): the base greens' parts above the
  minimums scaled to the cycle are sent as they are while they give every movement its capacity
  green and no phase ended its greens of the period with a residual queue (below); a movement
  whose loops are blind then needs at least the green the city's split gives it.
- platoons (`platoon_fit`, off by default): at a junction with a signalised neighbour upstream a
  divided cycle C / k also needs every movement's capacity green of a whole base cycle to fit
  one short cycle's green (common_cycle_s).
- demand q per movement: the larger of the period's arrivals (advance loops) and departures
  (stop lines), plus the queue standing upstream of the advance loops (spilled over, unseen by
  the arrival count) spread over the period, times (1 - the exit blockage the estimator
  measured): green given to a movement whose exit is full releases nothing.
- residual queue: at each end of a phase's green (the roadside's status leaves the phase) the
  largest queue the estimator holds on the lanes that turn red (between the loops and spilled
  over the advance loop). When, over a period, some phase's mean residual reaches
  `residual_queue_pcu`, the next plan runs the base cycle: the flows were measured under the
  plan in force, and a half cycle short of green caps its own departures (Y reads low exactly
  where the half cycle lacks capacity); a queue left at the end of green says so directly.
- a divided cycle cut short (`divided_cycle_ends` = n > 0; 0, off, by default: docs/policies.md
  says where it loses): while a plan of C / k (k > 1) is in force, once one phase has
  ended n greens in a row with a residual queue of at least `residual_queue_pcu`, the city's
  plan (its greens at the reference cycle, city_plan_s) is sent at once and runs to the
  period's end, and the period's plan then runs the base cycle: a demand rise within a period
  otherwise meets up to a period of a short cycle that cannot serve it, and the queue it builds
  is what the base cycle (or do no harm's fixed plan) must then drain. The city's plan, not
  Webster's split of the part period's counts: those are few, and the hidden queue spread over
  a short time reads as a large flow.
- saturated phases (with `hold_short_phases`, off by default): a phase whose mean residual
  reaches `residual_queue_pcu` over a period discharged at saturation through its greens: its
  demand is unknown, at least what it served, and the flows measured under the plan in force
  are capped by its own green (Webster's split would give the green it had back, less any
  under-count). It is held: its floor in the next
  plans is its base green (the city's), not its minimum, and the plans run the base cycle; it
  stays held, at the phase's flow ratio y (the largest q / s of its movements) of the period it
  ran short, while its y does not fall below that (demand at least as high as when its green
  was short), so that a held green that clears its queue is not cut again the period after.
  Only the phases that clear their queues give green to the others.
- re-plans spread over the period (`replan_spread` = f in (0, 1]; 0, off, by default): a junction's
  first period lasts period_s x (1 + f x (u - 1/2)), u in [0, 1) fixed by its id (first_period_s),
  and every later one period_s, so the junctions of a network re-plan on different ticks instead
  of all on the same one (at f = 1 evenly over the period): a service's tick then computes about
  one period's share of the plans, not all of them at once (the tick's latency, issue 12). The
  plans are Webster's of each junction's own periods; what changes is when each junction's
  periods start and end, hence the counts each plan is made of. The lights of a short-link group
  (core/pairs.py short_groups: joined by a link a minimum green fills, their programs on one
  cycle; `with_short_groups`) take u from the group's first id and re-plan on the same ticks:
  each plan starts from the phase in force, so two lights the city runs on one timeline stay on
  one only if both change plan at once (one light on a new cycle beside the other on the old
  fills the link between them: RESCO ingolstadt21's 15.3 m pair locked at seeds 1-3 with u per
  light, BENCHMARKS.md, K session 29).
- an oversaturated lone junction (`lone_cycle_max_s` > 0; 150 s by default, 0 off: docs/policies.md):
  after a period in which every phase that ended a green ended its greens with a mean residual
  queue of at least `residual_queue_pcu` (no_green_to_spare: no phase cleared its queue, so no
  split serves the demand), or while the plan in force runs longer than the reference cycle
  (oversaturated: a phase that clears its queue under the long cycle does not under the short
  one), a junction without a signalised neighbour shares the shortfall at one
  degree of saturation (equal_saturation_needs_s: each movement's green less its lost time in
  proportion to its flow ratio, Webster's g = (C - L) y / Y, not the needs above the minimum greens
  scaled alike, which cuts the light phases most), and where its lanes' flow ratios
  (lane_shared_layout: a shared lane's flow ratio is the time its movements take at their own
  rates, not each movement's over an equal part of the lane) sum to `max_flow_ratio` or more, it
  runs the longest cycle it may, `lone_cycle_max_s` within its cycle_max_s (lone_cycle_s):
  Webster's C0 grows without bound as Y nears 1, and the longest cycle, the least lost time per
  hour, serves the most. A junction with a signalised neighbour keeps the common cycle.
- a coordinated junction retimed as an engineer would (`coordinated_retime`, off by default:
  docs/policies.md): at a junction with a signalised neighbour the plan is the city's cycle and
  greens (city_split_s at the reference cycle: no divided cycle), changed only where the demand
  requires (retimed_greens_s): each movement's green must hold its capacity need at
  `max_flow_ratio`; where the city's greens do that they are sent as they are, else the greens
  that do with the least green moved (a linear program, each phase's change weighted by 1 / its
  city green), and where no split does, the city's greens (the junction lacks capacity, not a
  split; its counts, capped by the greens in force, read their split back). A blind movement
  keeps its city green. The flows are smoothed over periods
  (smoothed_flow_pcu_h, time constant `retime_window_s`): a period's count is a few dozen
  vehicles, and a lull is not a new demand; a movement whose phase ended its greens with a residual
  queue keeps at least its period's flow (its count is capped by its green). The other keys'
  split rules do not act there.
- the retime chosen from evidence (`retime_on_evidence`, with coordinated_retime; off by default:
  docs/policies.md): at a coordinated junction the plan is Webster's own (as without
  coordinated_retime) until, at a period's end after one of its plans was shown, the fixed-time
  replay (shadow.py: do no harm's point-queue model, [harm] window_s, run by the policy for the
  junction) puts the city's program at less delay per PCU than the greens shown
  (retime_chosen); from then on the retime plans it. Whether the city's plan fits the measured
  demand is judged per junction from what the loops measured, not per network.
The safety gate checks the plan (bounds, max red) as for any cycle plan.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np

from controller.core import shadow
from controller.core.estimation import Estimate, Layout
from controller.core.frozen import copier
from controller.core.harm import HarmParams, replay_program
from controller.core.network import NetworkView
from controller.core.params import MaxPressureParams, WebsterParams
from controller.core.policies import NetworkDecision, Policy
from controller.core.policies.offsets import (
    aligned,
    carried_whole_seconds,
    offset_error_s,
    transition_greens_s,
    whole_seconds,
    window_offset_s,
)
from controller.core.policies.phases import primary_phases
from controller.core.policies.requirements import actuated_refusal, coupled_refusal, cyclic_refusal
from controller.core.safety import DECISION_PERIOD_S, SignalView, cycle_length_s
from controller.core.spillback import upstream_queue_pcu
from controller.model import OFF_YIELD, CycleWish, Intersection, SignalStatus

_T = TypeVar("_T")
# a computation that waits on green_floors_s calls, and on the needs and the spare's split (Ask)
FloorSteps = Generator["Ask", np.ndarray, _T]

OPPOSING_GREEN = "GgO"  # a link in one of these moves (SUMO's 'O': signal off, the link has the right of way)


@dataclass(frozen=True)
class Credit:
    """Where a movement discharges unopposed beyond the phases serving it (`credit_unopposed`):
    nothing it gives way to is released, so it discharges as if protected."""

    phases: np.ndarray  # (phases, movements) bool: it yields there, unopposed (unopposed_service)
    transition_s: np.ndarray  # (movements,) s per cycle in the program's transitions (unopposed_transition_s)
    # green_floors_s' index of the layout with these phases counted (unopposed_credit builds it; None:
    # green_floors_s builds it at each call). It holds what it was built from: green_floors_s refuses it
    # for a layout of other serving phases or base greens (FloorIndex.built_for)
    floors: FloorIndex | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FloorIndex:
    """What green_floors_s reads of a layout (and a credit), per movement, as Python tuples: a
    function of the layout alone, built once (Layout.derived, unopposed_credit)."""

    serving: tuple[tuple[int, ...], ...]  # the phases serving it, longest base green first (ties: lowest index)
    counting: tuple[tuple[int, ...], ...]  # the phases whose greens count toward its need, in index order
    always: tuple[bool, ...]  # counted in every phase: it needs nothing
    # what it was built from (built_for): the layout's serving phases and junction model (its base greens)
    serves: np.ndarray = field(compare=False)
    junction: Intersection = field(compare=False)

    @staticmethod
    def build(layout: Layout, counted: np.ndarray) -> FloorIndex:
        """The index of `layout` with `counted` (phases, movements) bool: the phases counted."""
        base_s = [p.base_green_s for p in layout.junction.phases]
        by_base = sorted(range(len(base_s)), key=lambda k: (-base_s[k], k))  # longest base green first
        serves, counts = layout.serves.T.tolist(), counted.T.tolist()  # per movement, per phase
        always = [bool(counted[:, m].all()) for m in range(counted.shape[1])]
        return FloorIndex(
            serving=tuple(tuple(k for k in by_base if row[k]) for row in serves),
            counting=tuple(tuple(k for k, c in enumerate(row) if c) for row in counts),
            always=tuple(always),
            serves=layout.serves,
            junction=layout.junction,
        )

    def built_for(self, layout: Layout) -> bool:
        """Whether this is `layout`'s index: built from its serving phases and its phases' base greens, the
        same objects (the layout itself, or a copy of it such as lane_shared_layout's) or equal values."""
        if self.serves is layout.serves and self.junction is layout.junction:
            return True
        base_s = [p.base_green_s for p in layout.junction.phases]
        return np.array_equal(self.serves, layout.serves) and [p.base_green_s for p in self.junction.phases] == base_s


def _served_floors(layout: Layout) -> FloorIndex:
    """green_floors_s' index without a credit (Layout.derived)."""
    return FloorIndex.build(layout, layout.serves)


@dataclass(frozen=True)
class WebsterState:
    period_start_s: float
    arrivals_pcu: np.ndarray | None
    departures_pcu: np.ndarray | None
    steady_s: tuple[float, ...] | None = None  # the last period's greens (phases in index order)
    due_s: float | None = None  # when they were computed: sent at the next start of phase 0
    sent_s: tuple[float, ...] | None = None  # the greens of the plan last sent
    cycle_start_s: float | None = None  # when phase 0 last turned green, as the roadside reports it
    green_phase: int | None = None  # the phase green at the last decision (None: intergreen, no status)
    residual_pcu: tuple[float, ...] = ()  # per phase: residual queues at this period's green ends, summed
    green_ends: tuple[int, ...] = ()  # per phase: green ends counted this period
    held_y: tuple[float, ...] = ()  # per phase: flow ratio at which it last ran short of green (0: not held)
    short_run: tuple[int, ...] = ()  # per phase: its last green ends in a row with a residual queue (this period)
    divided: bool = False  # the plan in force runs a divided cycle C / k (k > 1)
    cut: bool = False  # this period's divided cycle was ended early: the city's plan runs to the period's end
    past_flows: tuple[np.ndarray, ...] = ()  # the flows (PCU/h) of the periods before this one, the latest last
    plan_s: tuple[float, ...] | None = None  # the greens of the plan in force (last sent; None: the city's program)
    free_residual_pcu: tuple[float, ...] = ()  # per phase: this period's residuals where the exit was free, summed
    carry_s: tuple[float, ...] = ()  # per phase: green the whole-second rounding owes it (carry_green_remainders)
    smooth_pcu_h: np.ndarray | None = None  # the smoothed flows (PCU/h) up to this period (coordinated_retime)
    program: shadow.Program | None = None  # the replay's program of the junction (retime_on_evidence)
    replay: shadow.Replay | None = None  # the city's program and the greens shown, replayed (retime_on_evidence)
    retimed: bool = False  # the replay found the city's program better: the retime plans the junction


# dataclasses.replace(state, **changes) without its per-call introspection: a decision's state is copied
# a few times per junction and re-plan (issue 12)
evolved = copier(WebsterState)
_BLANK = WebsterState(0.0, None, None)  # every other field its default (all immutable: None, (), False)


def _new_state(
    period_start_s: float, arrivals_pcu: np.ndarray | None, departures_pcu: np.ndarray | None, **given: Any
) -> WebsterState:
    """WebsterState(period_start_s, arrivals_pcu, departures_pcu, **given), built as an `evolved` copy
    of a state with the defaults."""
    return evolved(
        _BLANK, period_start_s=period_start_s, arrivals_pcu=arrivals_pcu, departures_pcu=departures_pcu, **given
    )


@dataclass(frozen=True)
class ReplayModel:
    """The fixed-time replay's model for `retime_on_evidence`: do no harm's (`harm`: its discharge and
    evidence window, [harm]) with a permitted turn's share of its saturation flow (`permitted_ratio`,
    [max_pressure] permitted_sat_ratio), built as step.Core builds its own (harm.replay_program)."""

    harm: HarmParams = HarmParams()
    permitted_ratio: float = MaxPressureParams().permitted_sat_ratio

    def program(self, layout: Layout) -> shadow.Program:
        return replay_program(layout, self.harm, self.permitted_ratio)


def reference_cycle_s(layout: Layout) -> float:
    """The base program's cycle within the junction's cycle bounds (s)."""
    return layout.derived(_reference_cycle_s)


def _reference_cycle_s(layout: Layout) -> float:
    """reference_cycle_s, computed (Layout.derived)."""
    return reference_cycle_s_of(layout.junction)


def common_cycle_s(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    full_cycle: bool = False,
    fit_capacity: bool = False,
    platoon_fit: bool = False,
    credit: Credit | None = None,
) -> float:
    """common_cycle_steps' cycle (s), its green_floors_s calls answered at once."""
    fits = (fit_capacity, platoon_fit)
    return solved(
        common_cycle_steps(layout, flow_pcu_h, lost_time_per_phase_s, max_flow_ratio, full_cycle, fits, credit)
    )


def common_cycle_steps(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    full_cycle: bool,
    fits: tuple[bool, bool],
    credit: Credit | None,
) -> FloorSteps[float]:
    """The reference cycle C (reference_cycle_s) divided by the largest whole k that keeps C / k
    at least Webster's cycle C0 = (1.5 L + 5) / (1 - Y), the junction's minimum cycle and its
    minimum greens with the intergreens: a lightly loaded junction runs two (or k) cycles per
    base cycle and stays in step with its neighbours (double cycling); a loaded one runs the
    base cycle, never longer. L, the cycle's lost time, counts per phase the larger of
    `lost_time_per_phase_s` and the intergreen after it (a phase loses its start-up time and
    the part of its intergreen not driven through, about the whole intergreen: HCM's
    t_L = l1 + yellow + all-red - e with l1 ~ e). `full_cycle`: C itself (k = 1).
    `fit_capacity`: also the largest k whose cycle holds the capacity greens (capacity_fits).
    `platoon_fit`, at a junction with a signalised neighbour upstream (Intersection.upstream):
    also the largest k whose cycle holds, in each green, the capacity green of a whole base
    cycle (capacity_fits of k x the flows at C / k): its arrivals come as platoons, one per
    common cycle from each upstream signal, and a short green that cannot serve a platoon
    leaves its tail for the next short cycle; an isolated junction's random arrivals spread.
    `credit`: green_floors_s'."""
    fit_capacity, platoon_fit = fits
    j = layout.junction
    ref_s = reference_cycle_s(layout)
    if full_cycle:
        return ref_s
    total_y = min(flow_ratio_sum(layout, flow_pcu_h), max_flow_ratio)
    intergreens_s, least_s = layout.derived(_cycle_terms_s)
    lost_s = sum(max(lost_time_per_phase_s, i_s) for i_s in intergreens_s)
    c0_s = max((1.5 * lost_s + 5.0) / (1.0 - total_y), j.cycle_min_s, least_s, 1e-9)
    k = max(int(ref_s // c0_s), 1)
    platoons = platoon_fit and len(j.upstream) > 0
    while (fit_capacity or platoons) and k > 1:
        q_pcu_h = flow_pcu_h * k if platoons else flow_pcu_h
        if (yield from capacity_fits_steps(layout, q_pcu_h, ref_s / k, lost_time_per_phase_s, max_flow_ratio, credit)):
            break
        k -= 1
    return ref_s / k


def _cycle_terms_s(layout: Layout) -> tuple[tuple[float, ...], float]:
    """common_cycle_s' terms of the layout alone (Layout.derived): the intergreens after each phase
    in index order, and the minimum greens with them summed (s)."""
    j = layout.junction
    return j.cycle_intergreens_s(), j.min_cycle_s()


def capacity_fits(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    cycle_s: float,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    credit: Credit | None = None,
) -> bool:
    """True when every movement's capacity green at `cycle_s` (movement_needs_s), raised from the
    phases' minimum greens (green_floors_s), fits the cycle with its intergreens: Webster's C0
    knows the lost time but not the minimum greens, and a short cycle whose other phases hold
    their minimums leaves a loaded phase less than its capacity green. `credit`: green_floors_s'."""
    return solved(capacity_fits_steps(layout, flow_pcu_h, cycle_s, lost_time_per_phase_s, max_flow_ratio, credit))


def capacity_fits_steps(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    cycle_s: float,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    credit: Credit | None,
) -> FloorSteps[bool]:
    """capacity_fits, its green_floors_s call yielded (FloorAsk)."""
    lo, hi = layout.derived(_green_range_s)
    capacity_s, _ = yield NeedsAsk(layout, flow_pcu_h, cycle_s, lost_time_per_phase_s, max_flow_ratio)
    total_s = cycle_s - layout.derived(_cycle_intergreens_s)
    floors_s = yield FloorAsk(layout, capacity_s, lo, hi, credit)
    return float(floors_s.sum()) <= total_s + 1e-9


def lone_cycle_s(
    layout: Layout, flow_pcu_h: np.ndarray, cycle_s: float, max_flow_ratio: float, max_cycle_s: float
) -> float:
    """`cycle_s`, or at a lone junction (no signalised neighbour: Intersection.upstream and
    .downstream empty) whose flow ratios (the largest per phase, as common_cycle_s; from its lanes,
    lane_shared_layout) sum to `max_flow_ratio` or more, the longest cycle it may run: `max_cycle_s`
    within its cycle_max_s (`lone_cycle_max_s`). Webster (1958): C0 = (1.5 L + 5) / (1 - Y) grows
    without bound as Y nears 1; where Y reaches the target degree of saturation no cycle serves
    every movement at it, and the longest cycle, the least lost time per hour, serves the most. A
    junction with a signalised neighbour keeps the common cycle: a cycle of its own drifts across
    the neighbour's green waves."""
    j = layout.junction
    bound_s = min(max_cycle_s, j.cycle_max_s)
    if j.upstream or j.downstream or bound_s <= cycle_s:
        return cycle_s
    shared_pcu_h = lane_shared_sat_pcu_h(layout, flow_pcu_h)  # lane_shared_layout's, without the copy
    return bound_s if _flow_ratio_sum(layout, flow_pcu_h, shared_pcu_h) >= max_flow_ratio else cycle_s


def flow_ratio_sum(layout: Layout, flow_pcu_h: np.ndarray) -> float:
    """Y: over the phases, the largest flow ratio q / s among the movements each serves first
    (phases.primary_phases, as common_cycle_s)."""
    return _flow_ratio_sum(layout, flow_pcu_h, layout.sat_flow_pcu_h)


def _flow_ratio_sum(layout: Layout, flow_pcu_h: np.ndarray, sat_pcu_h: np.ndarray) -> float:
    """flow_ratio_sum of `layout` with the saturation flows `sat_pcu_h`: the phases each movement is
    charged to read only its serving phases and base greens, not its saturation flows."""
    largest = np.zeros(len(layout.junction.phases))  # each phase's max(initial=0.0), its movements in order
    np.maximum.at(largest, layout.derived(_charged_phases), flow_pcu_h / sat_pcu_h)
    return sum(largest.tolist())


def _charged_phases(layout: Layout) -> np.ndarray:
    """primary_phases(layout, protected_first=False), computed (Layout.derived); read-only."""
    out = primary_phases(layout, protected_first=False)
    out.setflags(write=False)
    return out


def lane_shared_layout(layout: Layout, flow_pcu_h: np.ndarray) -> Layout:
    """`layout` with each movement's saturation flow as its lanes serve it at `flow_pcu_h`: the
    model's prior gives each movement on a shared lane an equal part of the lane's rate (sim/
    netmovements.py), so a through lane shared with a light right turn reads as half a lane for the
    through; here a lane's flow ratio is the time its movements' flows take at their own per-lane
    rates, y_lane = sum over them of q_m,lane / s_m,lane (a movement's flow spread evenly over its
    lanes), and a movement's is its busiest lane's (HCM's shared-lane flow ratio). A movement alone
    on its lanes keeps its prior; one without flow too."""
    return replace(layout, sat_flow_pcu_h=lane_shared_sat_pcu_h(layout, flow_pcu_h))


def lane_shared_sat_pcu_h(layout: Layout, flow_pcu_h: np.ndarray) -> np.ndarray:
    """(movements,) lane_shared_layout's saturation flows."""
    share = layout.lane_uses.astype(float)
    lanes_per_movement = layout.movement_lane_count
    per_lane_rate = layout.sat_flow_pcu_h / np.maximum(layout.lane_share.sum(axis=1), 1e-12)
    lane_y = (share * (flow_pcu_h / lanes_per_movement / per_lane_rate)[:, None]).sum(axis=0)
    y = np.where(layout.lane_uses, lane_y[None, :], 0.0).max(axis=1, initial=0.0)
    sat: np.ndarray = np.where((flow_pcu_h > 0) & (y > 0), flow_pcu_h / np.maximum(y, 1e-12), layout.sat_flow_pcu_h)
    return sat


def equal_saturation_needs_s(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    cycle_s: float,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    credit: Credit | None = None,
) -> np.ndarray:
    """(movements,) the capacity greens (movement_needs_s) at the least degree of saturation x >=
    `max_flow_ratio` whose greens, raised from the minimum greens (green_floors_s), fit `cycle_s`
    with its intergreens: where the demand exceeds the capacity, every movement's need at one x,
    the shortfall shared in proportion to the flow ratios (Webster's g = (C - L) y / Y), not the
    needs above the minimum greens scaled alike (which cuts the light movements most). The needs at
    `max_flow_ratio` where they fit, or where no x makes them fit (the minimum greens and lost times
    alone do not)."""
    return solved(equal_saturation_steps(layout, flow_pcu_h, cycle_s, lost_time_per_phase_s, max_flow_ratio, credit))


def equal_saturation_steps(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    cycle_s: float,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    credit: Credit | None,
) -> FloorSteps[np.ndarray]:
    """equal_saturation_needs_s, yielded whole (SaturationAsk: a region's searches are answered together)."""
    needs: np.ndarray = yield SaturationAsk(layout, flow_pcu_h, cycle_s, lost_time_per_phase_s, max_flow_ratio, credit)
    return needs


def equal_saturation_search(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    cycle_s: float,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    credit: Credit | None,
) -> FloorSteps[np.ndarray]:
    """equal_saturation_needs_s' search, junction by junction: x bisected between `max_flow_ratio`
    and 64 times it, 40 rounds, each a green_floors_s call yielded (FloorAsk). SaturationAsk.answer
    runs it; webster_net.saturation_needs_all runs it for many junctions at once, to the bit."""
    lo, hi = layout.derived(_green_range_s)
    total_s = cycle_s - layout.derived(_cycle_intergreens_s)

    def needs_s(x: float) -> np.ndarray:
        return movement_needs_s(layout, flow_pcu_h, cycle_s, lost_time_per_phase_s, x)[0]

    def fits(x: float) -> FloorSteps[bool]:
        floors_s = yield FloorAsk(layout, needs_s(x), lo, hi, credit)
        return float(floors_s.sum()) <= total_s + 1e-9

    low_x, high_x = max_flow_ratio, 64.0 * max_flow_ratio
    if (yield from fits(low_x)) or not (yield from fits(high_x)):
        return needs_s(max_flow_ratio)
    for _ in range(40):  # x to 64 x 2^-40: far below a second of green
        mid_x = (low_x + high_x) / 2.0
        low_x, high_x = (low_x, mid_x) if (yield from fits(mid_x)) else (mid_x, high_x)
    return needs_s(high_x)


def movement_needs_s(
    layout: Layout, flow_pcu_h: np.ndarray, cycle_s: float, lost_time_per_phase_s: float, max_flow_ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """(capacity, storage): per movement, the least green (s) it needs per cycle, summed over the
    phases serving it: Webster's capacity green at `max_flow_ratio` plus the lost time, and the
    green that keeps its red-time queue within its storage (module docstring); 0 without demand."""
    q_pcu_s = flow_pcu_h / 3600.0
    has = q_pcu_s > 0
    capacity_s = np.where(has, cycle_s * flow_pcu_h / layout.sat_flow_pcu_h / max_flow_ratio + lost_time_per_phase_s, 0)
    storage_s = np.where(has, cycle_s - layout.storage_pcu / np.maximum(q_pcu_s, 1e-12), 0.0)
    return np.maximum(capacity_s, 0.0), np.maximum(storage_s, 0.0)


def green_floors_s(
    layout: Layout, needs_s: np.ndarray, lo: np.ndarray, hi: np.ndarray, credit: Credit | None = None
) -> np.ndarray:
    """(phases,) greens from `lo` raised until every movement's need is met by the phases
    serving it (largest need first; a deficit goes to the serving phase with the longest base
    green, the city's main stage for it, then the next), within `hi`. A movement green in every
    phase needs nothing. `credit` (`credit_unopposed`): the greens of the phases where a movement
    is unopposed (Credit.phases) and its unopposed seconds in the cycle's transitions
    (Credit.transition_s) count toward its need first; the deficit still goes to the phases
    serving it. Raises ValueError for a credit whose index (Credit.floors) is another layout's, built from
    other serving phases or base greens: a credit belongs to the layout unopposed_credit built it from."""
    return raised_floors_s(floor_index(layout, credit), owed_needs_s(needs_s, credit), lo, hi)


def floor_index(layout: Layout, credit: Credit | None) -> FloorIndex:
    """green_floors_s' index of `layout` with `credit` (its own, kept; raises ValueError for a credit
    built from another layout)."""
    if credit is None:
        return layout.derived(_served_floors)
    if credit.floors is None:
        return FloorIndex.build(layout, layout.serves | credit.phases)
    if not credit.floors.built_for(layout):
        raise ValueError(
            f"junction {layout.junction.id}: the credit's floor index was built for a layout of other serving "
            "phases or base greens; build the credit from this layout (unopposed_credit)"
        )
    return credit.floors


def owed_needs_s(needs_s: np.ndarray, credit: Credit | None) -> np.ndarray:
    """(movements,) what green_floors_s raises the floors for: the needs less `credit`'s unopposed seconds."""
    return needs_s if credit is None else np.maximum(needs_s - credit.transition_s, 0.0)


def raised_floors_s(index: FloorIndex, owed_s: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """green_floors_s' greens from `lo` raised for `owed_s` (owed_needs_s) through `index` (floor_index)."""
    serving, counting, always = index.serving, index.counting, index.always
    owed, top = owed_s.tolist(), [float(h) for h in hi]
    g = [float(x) for x in lo]  # Python floats: the same IEEE doubles as numpy's, without its per-item cost
    for m in np.argsort(-owed_s).tolist():
        if owed[m] <= 0 or always[m]:
            continue
        deficit = owed[m] - _summed([g[k] for k in counting[m]])
        for k in serving[m]:
            if deficit <= 1e-9:
                break
            add = min(deficit, top[k] - g[k])
            g[k] += add
            deficit -= add
    return np.array(g, dtype=float)


def _summed(values: list[float]) -> float:
    """sum(values) to the last bit as numpy sums the same floats as an array: in order for fewer
    than 8 (numpy's pairwise summation is sequential there), by numpy itself from 8 on."""
    return float(sum(values)) if len(values) < 8 else float(np.sum(np.array(values, dtype=float)))


@dataclass(frozen=True)
class FloorAsk:
    """One green_floors_s call a re-plan waits on (the `..._steps` generators below yield it and are
    sent its greens): a junction alone answers it at once (solved); a region's re-plans are answered
    together, grouped by floor index (webster_net.FloorAnswers), to the same bits."""

    layout: Layout
    needs_s: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    credit: Credit | None

    def floors_s(self) -> np.ndarray:
        return green_floors_s(self.layout, self.needs_s, self.lo, self.hi, self.credit)

    def answer(self) -> np.ndarray:
        return self.floors_s()


@dataclass(frozen=True)
class NeedsAsk:
    """One movement_needs_s call a re-plan waits on, answered as a (2, movements) array: its capacity
    and storage needs (a region's are answered together, grouped by movement count, to the same bits)."""

    layout: Layout
    flow_pcu_h: np.ndarray
    cycle_s: float
    lost_time_per_phase_s: float
    max_flow_ratio: float

    def answer(self) -> np.ndarray:
        needs = movement_needs_s(
            self.layout, self.flow_pcu_h, self.cycle_s, self.lost_time_per_phase_s, self.max_flow_ratio
        )
        return np.array(needs)


@dataclass(frozen=True)
class SplitAsk:
    """One spare_split_s call a re-plan waits on (demand_split_s' last step; a region's are answered
    together, grouped by phase count, to the same bits)."""

    greens_s: np.ndarray
    hi: np.ndarray
    share: np.ndarray
    total_s: float

    def answer(self) -> np.ndarray:
        return spare_split_s(self.greens_s, self.hi, self.share, self.total_s)


@dataclass(frozen=True)
class SaturationAsk:
    """One equal_saturation_needs_s call a re-plan waits on, answered as its capacity needs
    (movements,): a junction alone runs its search (equal_saturation_search, 42 green_floors_s calls
    at most); a region's are answered together, grouped by floor index, all rows' bisections in
    step (webster_net.FloorAnswers), to the same bits."""

    layout: Layout
    flow_pcu_h: np.ndarray
    cycle_s: float
    lost_time_per_phase_s: float
    max_flow_ratio: float
    credit: Credit | None

    def answer(self) -> np.ndarray:
        return solved(
            equal_saturation_search(
                self.layout, self.flow_pcu_h, self.cycle_s, self.lost_time_per_phase_s, self.max_flow_ratio, self.credit
            )
        )


Ask = FloorAsk | NeedsAsk | SplitAsk | SaturationAsk  # what a `..._steps` generator yields and waits on


def solved(steps: Generator[Ask, np.ndarray, _T]) -> _T:
    """The value of a `..._steps` generator, each ask it yields answered at once (its answer())."""
    try:
        ask = next(steps)
        while True:
            ask = steps.send(ask.answer())
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def webster_greens(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    full_cycle: bool = False,
    held: np.ndarray | None = None,
    fit_capacity: bool = False,
    platoon_fit: bool = False,
    city_split: bool = False,
    blind: np.ndarray | None = None,
    slack_to_city: bool = False,
    short: np.ndarray | None = None,
    cycle_flow_pcu_h: np.ndarray | None = None,
    kept_share: np.ndarray | None = None,
    credit: Credit | None = None,
    lone_cycle_max_s: float = 0.0,
    spare_above_minimum: bool = False,
) -> tuple[float, tuple[float, ...]]:
    """(cycle_s, greens_s per phase in index order): the common cycle (the base cycle with
    `full_cycle`, common_cycle_s) and Webster's split of it (demand_split_s). `held` (phases,)
    bool: those phases' floors start at their base greens (held_floors_s), not their minimum
    greens. `fit_capacity`, `platoon_fit`: common_cycle_s's. `city_split`: the city's split
    (city_split_s) is the prior: sent as it is while it gives every movement its capacity green
    and no phase is short (not `full_cycle`, which a `held` phase sets): the period's flows then show no need to
    move from it; and a `blind` movement (movements,) bool, whose demand the loops cannot
    measure, needs at least the green the city's split gives it. `slack_to_city`: at the base
    cycle, and unless `full_cycle` (a phase ran short), the green left over after the needs goes
    first toward the city's split (demand_split_s' prior); `short` (phases,) bool: those phases'
    floors are their greens in the city's split. `cycle_flow_pcu_h` (movements): the flows the
    cycle is chosen from (common_cycle_s), when not `flow_pcu_h` (divided_flow_pcu_h).
    `kept_share` (phases): the short phases' shares of the green time in the plan in force, 0 for
    the others (keep_green_residual_pcu): those phases are not cut below their share of this plan's
    green time (keep_short_greens). `credit` (`credit_unopposed`), `lone_cycle_max_s`: cycle_and_needs_s'.
    `spare_above_minimum`: the spare green in proportion to the base greens above the minimums (spare_shares)."""
    q_cycle = flow_pcu_h if cycle_flow_pcu_h is None else cycle_flow_pcu_h
    plan = GreensAsked(
        full_cycle, (fit_capacity, platoon_fit), city_split, slack_to_city, lone_cycle_max_s, spare_above_minimum
    )
    return solved(
        webster_greens_steps(
            layout,
            flow_pcu_h,
            lost_time_per_phase_s,
            max_flow_ratio,
            plan,
            (held, blind, short, q_cycle, kept_share),
            credit,
        )
    )


@dataclass(frozen=True)
class GreensAsked:
    """webster_greens' switches (its arguments of the same names; `fits`: fit_capacity, platoon_fit)."""

    full_cycle: bool
    fits: tuple[bool, bool]
    city_split: bool
    slack_to_city: bool
    lone_cycle_max_s: float
    spare_above_minimum: bool = False


def webster_greens_steps(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    plan: GreensAsked,
    masks: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray | None],
    credit: Credit | None,
) -> FloorSteps[tuple[float, tuple[float, ...]]]:
    """webster_greens, its green_floors_s calls yielded (FloorAsk); `masks`: its held, blind, short,
    cycle flows (given: `flow_pcu_h` where it has none) and kept_share."""
    held, blind, short, q_cycle, kept_share = masks
    full_cycle, city_split, slack_to_city = plan.full_cycle, plan.city_split, plan.slack_to_city
    cycle_s, capacity_s, storage_s = yield from cycle_and_needs_steps(
        layout,
        flow_pcu_h,
        q_cycle,
        lost_time_per_phase_s,
        max_flow_ratio,
        full_cycle,
        plan.fits,
        credit,
        plan.lone_cycle_max_s,
    )
    total_s = max(cycle_s - layout.derived(_cycle_intergreens_s), 0.0)
    lo, hi = layout.derived(_green_range_s)
    if city_split:
        city_s, capacity_s = city_split_sent(layout, total_s, lo, hi, capacity_s, blind, full_cycle, credit)
        if city_s is not None:
            return cycle_s, tuple(float(g) for g in city_s)
    prior_s = city_split_s(layout, total_s, lo, hi) if slack_to_city or short is not None else None
    if held is not None:
        lo = held_floors_s(layout, held, lo, hi, total_s)
    if short is not None and prior_s is not None:
        lo = np.where(short, np.maximum(lo, prior_s), lo)
    # the city's plan as the prior: only at its own cycle, and while no phase ran short
    use = slack_to_city and not full_cycle and cycle_s >= reference_cycle_s(layout) - 1e-6
    greens = yield from demand_split_steps(
        layout, capacity_s, storage_s, lo, hi, total_s, prior_s if use else None, credit, plan.spare_above_minimum
    )
    if kept_share is not None and (kept_share > 0).any():
        kept_s = np.where(kept_share > 0, np.clip(kept_share * total_s, lo, hi), 0.0)
        greens = keep_short_greens(greens, kept_s, lo)
    return cycle_s, tuple(float(g) for g in greens)


def cycle_and_needs_s(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    cycle_flow_pcu_h: np.ndarray,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    full_cycle: bool,
    fits: tuple[bool, bool],
    credit: Credit | None,
    lone_cycle_max_s: float,
) -> tuple[float, np.ndarray, np.ndarray]:
    """(cycle_s, capacity needs, storage needs) of webster_greens: common_cycle_s' cycle from
    `cycle_flow_pcu_h` (`fits`: its fit_capacity and platoon_fit) and movement_needs_s at it; with
    `lone_cycle_max_s` > 0 (the policy passes it where the junction is oversaturated: no phase cleared
    its queue, or a long plan is in force) and `full_cycle` at a lone junction, lone_cycle_s' cycle and
    equal_saturation_needs_s' capacity needs (the needs at `max_flow_ratio` where they fit); `credit`:
    green_floors_s' (and city_split_sent's, in webster_greens)."""
    return solved(
        cycle_and_needs_steps(
            layout,
            flow_pcu_h,
            cycle_flow_pcu_h,
            lost_time_per_phase_s,
            max_flow_ratio,
            full_cycle,
            fits,
            credit,
            lone_cycle_max_s,
        )
    )


def cycle_and_needs_steps(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    cycle_flow_pcu_h: np.ndarray,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    full_cycle: bool,
    fits: tuple[bool, bool],
    credit: Credit | None,
    lone_cycle_max_s: float,
) -> FloorSteps[tuple[float, np.ndarray, np.ndarray]]:
    """cycle_and_needs_s, its green_floors_s calls yielded (FloorAsk)."""
    cycle_s = yield from common_cycle_steps(
        layout, cycle_flow_pcu_h, lost_time_per_phase_s, max_flow_ratio, full_cycle, fits, credit
    )
    j = layout.junction
    lone = lone_cycle_max_s > 0 and full_cycle and not (j.upstream or j.downstream)
    if lone:
        cycle_s = lone_cycle_s(layout, cycle_flow_pcu_h, cycle_s, max_flow_ratio, lone_cycle_max_s)
    capacity_s, storage_s = yield NeedsAsk(layout, flow_pcu_h, cycle_s, lost_time_per_phase_s, max_flow_ratio)
    if lone:
        capacity_s = yield from equal_saturation_steps(
            layout, flow_pcu_h, cycle_s, lost_time_per_phase_s, max_flow_ratio, credit
        )
    return cycle_s, capacity_s, storage_s


def retimed_greens_s(
    layout: Layout,
    flow_pcu_h: np.ndarray,
    lost_time_per_phase_s: float,
    max_flow_ratio: float,
    credit: Credit | None = None,
    blind: np.ndarray | None = None,
) -> tuple[float, tuple[float, ...]]:
    """(cycle_s, greens_s) of `coordinated_retime`: the reference cycle and the city's greens
    (city_split_s), changed as little as the demand requires. Each movement's green (summed over
    the phases serving it, with `credit`'s unopposed greens and seconds, as green_floors_s counts
    it) must hold its capacity need at `max_flow_ratio` (movement_needs_s: C q / s / x + the lost
    time); a `blind` movement, whose demand the loops cannot see, at least its green in the city's
    plan. Where the city's greens meet every need they are sent as they are; else the greens that
    meet them with the least green moved (each phase's change weighted by 1 / its city green: a
    long stage gives a second before a short one). Where no split meets them (or the solver
    fails), the city's greens: the junction lacks capacity, not a split, and its counts, capped by
    the greens in force, read their own split back (sharing the excess at one degree of saturation
    lost on Bologna pasubio, BENCHMARKS.md, W session 34)."""
    j = layout.junction
    cycle_s = reference_cycle_s(layout)
    lo, hi = layout.derived(_green_range_s)
    city_s = city_split_s(layout, max(cycle_s - layout.derived(_cycle_intergreens_s), 0.0), lo, hi)
    counted = (layout.serves | credit.phases) if credit is not None else layout.serves
    own = ~layout.serves.all(axis=0) & counted.any(axis=0)
    served_s = credit.transition_s if credit is not None else np.zeros(len(j.movements))
    loaded = own & (flow_pcu_h > 0)
    kept = own & (blind if blind is not None else np.zeros(len(j.movements), dtype=bool))
    need_s = movement_needs_s(layout, flow_pcu_h, cycle_s, lost_time_per_phase_s, max_flow_ratio)[0]
    counts = counted.astype(float)
    if bool((counts.T @ city_s + served_s >= need_s - 1e-9)[loaded].all()):
        return cycle_s, tuple(float(g) for g in city_s)
    floor_s = np.where(kept, counts.T @ city_s, 0.0)
    owed_s = np.where(loaded, need_s - served_s, 0.0)
    moved = least_moved_greens_s(counts, np.maximum(owed_s, floor_s), loaded | kept, city_s, lo, hi)
    return cycle_s, tuple(float(g) for g in (moved if moved is not None else city_s))


def least_moved_greens_s(
    counted: np.ndarray, need_s: np.ndarray, rows: np.ndarray, city_s: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray | None:
    """(phases,) the greens within [lo, hi], summing to the city's, that give each movement in `rows`
    at least its `need_s` through `counted` (phases, movements) with the least change from `city_s`,
    each phase's change weighted by 1 / its city green (a linear program: HiGHS, deterministic); None
    where none does."""
    from scipy.optimize import linprog  # here: 0.3 s of a start without the key

    n = len(city_s)
    weight = 1.0 / np.maximum(city_s, 1.0)
    cost = np.concatenate([np.zeros(n), weight])
    eye = np.eye(n)
    cover = np.hstack([-counted[:, rows].T, np.zeros((int(rows.sum()), n))])
    a_ub = np.vstack([cover, np.hstack([eye, -eye]), np.hstack([-eye, -eye])])
    b_ub = np.concatenate([-need_s[rows], city_s, -city_s])
    a_eq = np.concatenate([np.ones(n), np.zeros(n)])[None, :]
    bounds = [(float(a), float(b)) for a, b in zip(lo, hi)] + [(0.0, None)] * n
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[float(city_s.sum())], bounds=bounds, method="highs")
    if res.status != 0:
        return None
    out: np.ndarray = np.clip(res.x[:n], lo, hi)
    return out


def smoothed_flow_pcu_h(
    past_pcu_h: np.ndarray | None, flow_pcu_h: np.ndarray, elapsed_s: float, window_s: float, short: np.ndarray
) -> np.ndarray:
    """(movements,) the flows `coordinated_retime` plans from: an exponential average of the periods'
    flows with time constant `window_s` (a period's count is a few dozen vehicles, and a lull is not
    a new demand); a `short` movement (one whose phase ended its greens with a residual queue: its
    count is capped by its green, a lower bound of its demand) at least its period's flow."""
    if past_pcu_h is None or past_pcu_h.shape != flow_pcu_h.shape:
        return flow_pcu_h
    weight = 1.0 - float(np.exp(-elapsed_s / window_s))
    out: np.ndarray = past_pcu_h + weight * (flow_pcu_h - past_pcu_h)
    out = np.where(short, np.maximum(out, flow_pcu_h), out)
    return out


def city_split_sent(
    layout: Layout,
    total_s: float,
    lo: np.ndarray,
    hi: np.ndarray,
    capacity_s: np.ndarray,
    blind: np.ndarray | None,
    full_cycle: bool,
    credit: Credit | None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """(the city's split of `total_s` if it is sent as it is, else None; the capacity needs) for
    webster_greens' `city_split`: a `blind` movement needs at least the green the split credits it
    with (credited_greens_s, with `credit`), and the split is sent when no phase ran short (not
    `full_cycle`) and it credits every movement with its capacity need (serves_needs)."""
    city_s = city_split_s(layout, total_s, lo, hi)
    if blind is not None:
        capacity_s = np.where(blind, np.maximum(capacity_s, credited_greens_s(layout, city_s, credit)), capacity_s)
    sent = not full_cycle and serves_needs(layout, city_s, capacity_s, credit)
    return (city_s if sent else None), capacity_s


def keep_short_greens(greens_s: np.ndarray, kept_s: np.ndarray, floors_s: np.ndarray) -> np.ndarray:
    """(phases,) `greens_s` with each phase whose `kept_s` > 0 (a short phase) raised to it, the
    green taken from the others (the phases that cleared their queues) above their `floors_s` (their
    minimum greens), in proportion to that room; where the room does not cover the raises, they are
    scaled down alike. A short phase gives none: Webster's split raised it on its own capped count,
    and another short phase's queue is no reason to cut it. The sum is kept."""
    short = kept_s > 0
    need = np.where(short, np.maximum(kept_s - greens_s, 0.0), 0.0)
    room = np.where(short, 0.0, np.maximum(greens_s - floors_s, 0.0))
    take = min(float(need.sum()), float(room.sum()))
    if take <= 1e-9:
        return greens_s
    out: np.ndarray = greens_s + need * (take / float(need.sum())) - room * (take / float(room.sum()))
    return out


def demand_split_s(
    layout: Layout,
    capacity_s: np.ndarray,
    storage_s: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    total_s: float,
    prior_s: np.ndarray | None = None,
    credit: Credit | None = None,
    above_minimum: bool = False,
) -> np.ndarray:
    """(phases,) `total_s` of green split from the movements' needs (movement_needs_s): the
    floors within [lo, hi] (from the capacity and storage needs; from the capacity needs alone
    when those do not fit, then scaled down above `lo` when these do not either), the rest in
    proportion to the base greens (a phase at its maximum passes its share on); with
    `above_minimum` (`[webster] spare_above_minimum`) in proportion to the base greens above the
    minimum greens (spare_shares). `prior_s` (phases; the city's split): the rest first raises each
    phase below it toward it, in proportion to the shortfall, and only what is left then goes in
    those proportions. `credit`: green_floors_s'."""
    return solved(demand_split_steps(layout, capacity_s, storage_s, lo, hi, total_s, prior_s, credit, above_minimum))


def demand_split_steps(
    layout: Layout,
    capacity_s: np.ndarray,
    storage_s: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    total_s: float,
    prior_s: np.ndarray | None,
    credit: Credit | None,
    above_minimum: bool = False,
) -> FloorSteps[np.ndarray]:
    """demand_split_s, its green_floors_s calls and its spare's split yielded (FloorAsk, SplitAsk)."""
    floors = yield FloorAsk(layout, np.maximum(capacity_s, storage_s), lo, hi, credit)
    if floors.sum() > total_s:  # the storage reds cannot all be kept: no split keeps them
        floors = yield FloorAsk(layout, capacity_s, lo, hi, credit)
    if floors.sum() > total_s and floors.sum() > lo.sum():
        scale = max(total_s - lo.sum(), 0.0) / (floors.sum() - lo.sum())
        floors = lo + (floors - lo) * scale
    greens: np.ndarray = floors.copy()
    if prior_s is not None:  # the spare goes first to the phases below the city's split, toward it
        below_s = np.maximum(np.minimum(prior_s, hi) - greens, 0.0)
        left_s = max(total_s - float(greens.sum()), 0.0)
        if below_s.sum() > 1e-9:
            greens = greens + below_s * min(left_s / float(below_s.sum()), 1.0)
    out: np.ndarray = yield SplitAsk(greens, hi, spare_shares(layout, above_minimum), total_s)
    return out


def spare_split_s(greens_s: np.ndarray, hi: np.ndarray, share: np.ndarray, total_s: float) -> np.ndarray:
    """(phases,) demand_split_s' last step: what `greens_s` leave of `total_s` handed out in the
    proportions `share` (_base_shares) among the phases below `hi`, a phase at its maximum passing
    its share on (at most one round per phase)."""
    greens = greens_s
    for _ in range(len(greens_s)):
        left = total_s - greens.sum()
        room = hi - greens
        open_ = room > 1e-9
        if left <= 1e-9 or not open_.any():
            break
        w = np.where(open_, share, 0.0)
        w = w / w.sum() if w.sum() > 0 else open_ / open_.sum()
        greens = greens + np.minimum(w * left, room)
    return greens


def spare_shares(layout: Layout, above_minimum: bool) -> np.ndarray:
    """(phases,) the proportions demand_split_s hands the spare green out in: the base greens
    (_base_shares), or with `above_minimum` (`[webster] spare_above_minimum`) the base greens above the
    minimum greens (_above_minimum_shares); read-only, per layout (Layout.derived).

    Why above the minimum: the floors the spare goes on already hold every phase's minimum green, so
    shares of the whole base green count the minimum twice and move green toward the phases whose
    city green is near their minimum. With no need above the minimums, the shares above them give
    the city's own split at its cycle (city_split_s), the base shares do not: a 27 / 8 / 27 / 8 s
    program with 7 s minimums got 22 / 11 / 25 / 11 s from light counts."""
    return layout.derived(_above_minimum_shares if above_minimum else _base_shares)


def _above_minimum_shares(layout: Layout) -> np.ndarray:
    """(phases,) spare_shares' proportions with `above_minimum`: each phase's base green less its minimum
    green (green_range_s' lower bound, at least 0) over their sum; the base shares where none is above
    its minimum (Layout.derived); read-only."""
    lo, _ = layout.derived(_green_range_s)
    above = np.maximum(np.array([p.base_green_s for p in layout.junction.phases]) - lo, 0.0)
    if above.sum() <= 1e-9:
        return layout.derived(_base_shares)
    out: np.ndarray = above / above.sum()
    out.setflags(write=False)
    return out


def _base_shares(layout: Layout) -> np.ndarray:
    """(phases,) demand_split_s' base proportions: each phase's base green (at least 0) over their
    sum, equal shares where they sum to 0 (Layout.derived); read-only."""
    n = len(layout.junction.phases)
    base = np.array([max(p.base_green_s, 0.0) for p in layout.junction.phases])
    out: np.ndarray = base / base.sum() if base.sum() > 0 else np.full(n, 1.0 / n)
    out.setflags(write=False)
    return out


def city_split_s(layout: Layout, total_s: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(phases,) the city's split of `total_s` of green: each phase's base green above its
    minimum (`lo`) scaled alike so that the greens sum to `total_s`, within [lo, hi]; the base
    greens themselves when `total_s` is the base program's green time."""
    base = np.clip(np.array([p.base_green_s for p in layout.junction.phases]), lo, hi)
    above = base - lo
    room_s = max(total_s - float(lo.sum()), 0.0)
    scale = room_s / float(above.sum()) if above.sum() > 1e-9 else 0.0
    out: np.ndarray = np.minimum(lo + above * scale, hi)
    return out


def city_plan_s(layout: Layout) -> np.ndarray:
    """(phases,) the city's greens at the reference cycle (city_split_s of its green time)."""
    total_s = max(reference_cycle_s(layout) - layout.derived(_cycle_intergreens_s), 0.0)
    return city_split_s(layout, total_s, *layout.derived(_green_range_s))


def _whole_greens(layout: Layout, greens_s: tuple[float, ...]) -> tuple[float, ...]:
    """`greens_s` in whole seconds within each phase's minimum and maximum (whole_seconds): the plans
    sent at phase 0's start (keep_offsets) run as the roadside shows them."""
    return tuple(float(g) for g in whole_seconds(greens_s, *_green_bounds_s(layout.junction)))


def green_range_s(j: Intersection) -> tuple[np.ndarray, np.ndarray]:
    """(phases,) each phase's minimum green and its maximum, at least the minimum."""
    lo = np.array([p.min_green_s for p in j.phases])
    return lo, np.maximum(np.array([p.max_green_s for p in j.phases]), lo)


def _green_range_s(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """green_range_s of the layout's junction (Layout.derived), read-only."""
    lo, hi = green_range_s(layout.junction)
    lo.setflags(write=False)
    hi.setflags(write=False)
    return lo, hi


def _cycle_intergreens_s(layout: Layout) -> float:
    """cycle_intergreens_s of the layout's junction (Layout.derived)."""
    return cycle_intergreens_s(layout.junction)


def cycle_intergreens_s(j: Intersection) -> float:
    """The intergreens of one cycle, the phases in index order (Intersection.intergreen_s)."""
    return float(sum(j.cycle_intergreens_s()))


def _green_bounds_s(j: Intersection) -> tuple[np.ndarray, np.ndarray]:
    """(phases,) each phase's minimum and maximum green."""
    return np.array([p.min_green_s for p in j.phases]), np.array([p.max_green_s for p in j.phases])


def movement_greens_s(layout: Layout, greens_s: np.ndarray) -> np.ndarray:
    """(movements,) the green each movement gets per cycle from `greens_s` (phases), summed over
    the phases serving it."""
    out: np.ndarray = layout.serves.T.astype(float) @ np.asarray(greens_s, dtype=float)
    return out


def credited_greens_s(layout: Layout, greens_s: np.ndarray, credit: Credit | None = None) -> np.ndarray:
    """(movements,) the green each movement is credited with from `greens_s` (phases): a movement
    protected ('G' only) in some phase its protected greens alone (a permitted turn discharges
    only through the gaps of the stream it yields to), any other every green serving it; with
    `credit` (Credit), also the greens of the phases and the transitions' seconds where it is
    unopposed (nothing it yields to is released: it discharges as if protected)."""
    g = np.asarray(greens_s, dtype=float)
    protected, serves = layout.protected, layout.serves
    if credit is not None:
        protected, serves = protected | credit.phases, serves | credit.phases
    out: np.ndarray = np.where(layout.protected.any(axis=0), protected.T.astype(float) @ g, serves.T.astype(float) @ g)
    if credit is not None:
        out = out + credit.transition_s
    return out


def unopposed_service(layout: Layout) -> np.ndarray:
    """(phases, movements) bool: the phases in which a movement yields ('g' or switched off, 'o',
    on a link of it, and not served protected there) while no movement of another approach edge
    has a link that moves ('G', 'g', or 'O': off with the right of way): nothing it gives way to is
    released, so it discharges as if protected. The model has no conflict points inside the
    junction: every stream of another approach is taken to oppose it (as max_pressure.yield_lanes
    does); crossings and the approach's own streams are not."""
    j = layout.junction
    out = np.zeros(layout.serves.shape, dtype=bool)
    for k, ph in enumerate(j.phases):
        yielding = {i for i, c in enumerate(ph.state) if c in ("g", OFF_YIELD)}
        green_edges = _edges_moving(j, ph.state, OPPOSING_GREEN)
        for i, m in enumerate(j.movements):
            opposed = bool(green_edges - {m.from_edge})
            out[k, i] = bool(yielding.intersection(m.links)) and not layout.protected[k, i] and not opposed
    return out


def unopposed_transition_s(layout: Layout, green: bool = False) -> np.ndarray:
    """(movements,) seconds per cycle (phases in index order) in which the program's own transitions
    (Intersection.transitions) let a movement discharge unopposed: a link of it yielding ('g', 'o')
    while no link of a movement of another approach edge is green or yellow (an all-red with the
    turn switched off: nothing it gives way to moves); with `green` (`credit_transition_green`) also
    a link of it green ('G') there. 0 for a change without a program transition (the derived yellow
    and all-red serve no one)."""
    j = layout.junction
    n = len(j.phases)
    out = np.zeros(len(j.movements))
    for k in range(n):
        t = j.transition(k, (k + 1) % n)
        if t is None:
            continue
        for state, d_s in zip(t.states, t.durations_s):
            out += d_s * _discharges_in(j, state, green)
    return out


def _discharges_in(j: Intersection, state: str, green: bool = False) -> np.ndarray:
    """(movements,) bool: in signal `state`, a link of the movement yields ('g', 'o') while no link of
    another approach edge's movements is green, yellow or off with the right of way ('O'); with
    `green`, or a link of it is 'G'."""
    moving = _edges_moving(j, state, OPPOSING_GREEN + "Yy")
    out = np.zeros(len(j.movements), dtype=bool)
    for i, m in enumerate(j.movements):
        yields = any(state[li] in ("g", OFF_YIELD) for li in m.links)
        protected = green and any(state[li] == "G" for li in m.links)
        out[i] = protected or (yields and not (moving - {m.from_edge}))
    return out


def _edges_moving(j: Intersection, state: str, letters: str) -> set[str]:
    """The approach edges of the movements with a link in one of `letters` in signal `state`."""
    return {m.from_edge for m in j.movements if any(state[li] in letters for li in m.links)}


def unopposed_credit(layout: Layout, transition_green: bool = False) -> Credit:
    """The Credit of `credit_unopposed`: unopposed_service and unopposed_transition_s (with
    `transition_green`, `credit_transition_green`: a transition's green links too)."""
    phases = unopposed_service(layout)
    floors = FloorIndex.build(layout, layout.serves | phases)
    return Credit(phases, unopposed_transition_s(layout, transition_green), floors)


def serves_needs(layout: Layout, greens_s: np.ndarray, needs_s: np.ndarray, credit: Credit | None = None) -> bool:
    """True when `greens_s` (phases) credit every movement (credited_greens_s, with `credit`) with
    at least its need (movements, s); a movement green in every phase needs nothing."""
    own = ~layout.serves.all(axis=0)
    got_s = credited_greens_s(layout, greens_s, credit)
    return bool((got_s[own] + 1e-9 >= needs_s[own]).all())


def held_floors_s(layout: Layout, held: np.ndarray, lo: np.ndarray, hi: np.ndarray, total_s: float) -> np.ndarray:
    """(phases,) the least greens: `lo`, raised to the base green (within `hi`) for each `held`
    phase; where the raises do not fit `total_s` with the other phases' `lo`, they are scaled
    down alike."""
    base = np.array([p.base_green_s for p in layout.junction.phases])
    raise_s = np.where(held, np.clip(base, lo, hi) - lo, 0.0)
    room_s = max(total_s - float(lo.sum()), 0.0)
    if raise_s.sum() > room_s:
        raise_s = raise_s * room_s / raise_s.sum()
    out: np.ndarray = lo + raise_s
    return out


def plan_shares(state: WebsterState, layout: Layout) -> np.ndarray:
    """(phases,) each phase's share of the green time in the plan in force (WebsterState.plan_s;
    the city's plan, city_plan_s, before the first)."""
    n = len(layout.junction.phases)
    plan = np.array(state.plan_s) if state.plan_s is not None and len(state.plan_s) == n else city_plan_s(layout)
    out: np.ndarray = plan / max(float(plan.sum()), 1e-9)
    return out


def phase_flow_ratios(layout: Layout, flow_pcu_h: np.ndarray) -> np.ndarray:
    """(phases,) per phase the largest flow ratio q / s among the movements it serves (a
    movement green in every phase aside)."""
    ratio = flow_pcu_h / layout.sat_flow_pcu_h
    own = layout.serves & ~layout.serves.all(axis=0)
    return np.array([float(ratio[own[k]].max(initial=0.0)) for k in range(len(layout.junction.phases))])


def held_flow_ratios(
    state: WebsterState, layout: Layout, flow_pcu_h: np.ndarray, short: np.ndarray
) -> tuple[float, ...]:
    """Per phase, after this period, the flow ratio at which it is held (0: not held; module
    docstring, saturated phases): a phase short this period (`short`: short_phases) is held at
    its flow ratio y now; a held phase stays held at its old ratio while y does not fall below it."""
    n = len(layout.junction.phases)
    y = phase_flow_ratios(layout, flow_pcu_h)
    old = np.array(state.held_y) if len(state.held_y) == n else np.zeros(n)
    kept = (old > 0) & (y >= old)
    return tuple(float(v) for v in np.where(short, np.maximum(y, 1e-9), np.where(kept, old, 0.0)))


def first_period_s(params: WebsterParams, junction: str, group: tuple[str, ...] = ()) -> float:
    """The length of a junction's first period (module docstring, `replan_spread`): period_s x
    (1 + f x (u - 1/2)), u in [0, 1) from the CRC-32 of its id (the same in every process and
    region, unlike Python's hash of a string), or of its short-link group's first id (`group`:
    pairs.short_groups' for the junction, () for none), f = replan_spread (0: period_s)."""
    f = params.replan_spread
    if f <= 0:
        return params.period_s
    u = zlib.crc32((group[0] if group else junction).encode()) / 2**32
    return params.period_s * (1.0 + f * (u - 0.5))


def period_flow_pcu_h(layout: Layout, state: WebsterState, est: Estimate, elapsed_s: float) -> np.ndarray:
    """(movements,) the period's demand (module docstring): arrivals or departures, whichever is
    larger, plus the hidden upstream queue over the period, times (1 - exit blockage)."""
    assert state.arrivals_pcu is not None and state.departures_pcu is not None
    arrived = est.arrivals_pcu - state.arrivals_pcu
    departed = est.departures_pcu - state.departures_pcu
    seen_pcu = np.maximum(arrived, departed) + upstream_queue_pcu(layout, est)
    flow_pcu_h: np.ndarray = np.maximum(seen_pcu, 0.0) * 3600.0 / elapsed_s * np.clip(1.0 - est.block, 0.0, 1.0)
    return flow_pcu_h


def divided_flow_pcu_h(flow_pcu_h: np.ndarray, past_flows: tuple[np.ndarray, ...]) -> np.ndarray:
    """(movements,) the flows a divided cycle must serve (module docstring, a lull that lasted): per
    movement the largest of this period's (`flow_pcu_h`) and the periods' before (`past_flows`)."""
    out: np.ndarray = flow_pcu_h
    for q in past_flows:
        if q.shape == flow_pcu_h.shape:
            out = np.maximum(out, q)
    return out


@dataclass(frozen=True)
class GreenEnd:
    """What track_green_ends counts of a phase whose green ended: whether a lane it greens turned red
    (its green time 0), the largest queue (between the loops and spilled over the advance loop) on
    those lanes, and the largest of those queues times (1 - the lane's exit blockage) (0 without one)."""

    ended: bool
    residual_pcu: float
    free_pcu: float


def green_end(layout: Layout, est: Estimate, phase: int) -> GreenEnd:
    """GreenEnd of `phase`'s green, from the lanes' state in `est`."""
    ended = layout.lane_green[phase] & (est.lanes.green_s <= 0.0)
    if not ended.any():
        return GreenEnd(False, 0.0, 0.0)
    left_pcu = est.lanes.queue_pcu[ended] + est.lanes.hidden_pcu[ended]
    free_pcu = (left_pcu * np.clip(1.0 - est.lanes.block[ended], 0.0, 1.0)).max()
    return GreenEnd(True, float(left_pcu.max()), float(free_pcu))


def track_green_ends(
    state: WebsterState,
    layout: Layout,
    est: Estimate,
    signal: SignalView | None,
    residual_queue_pcu: float = float("inf"),
    end: GreenEnd | None = None,
) -> WebsterState:
    """`state` with the green end seen now, if any, counted (module docstring, residual queue):
    the phase green at the last decision is no longer green; its residual is the largest queue
    (between the loops and spilled over the advance loop) on its lanes that turned red; its free
    residual the largest of those queues times (1 - the lane's exit blockage), the part a longer
    green would have let through (green_end). Its run of green ends in a row with a residual of at
    least `residual_queue_pcu` grows by one, or falls to 0 below it. `end`: green_end of that phase
    if the caller has it (webster_net.green_ends_all computes many together, to the bit), else
    computed here."""
    n = len(layout.junction.phases)
    now_green = None if signal is None or signal.in_intergreen else signal.phase
    if now_green == state.green_phase and len(state.residual_pcu) == n:
        return state  # no green ended: nothing to count (most ticks)
    prev = state.green_phase
    if (prev is None or prev == now_green or not 0 <= prev < n) and _sized(state, n):
        return evolved(state, green_phase=now_green)  # a green began (after an intergreen): the sums as they are
    sums = list(state.residual_pcu) if len(state.residual_pcu) == n else [0.0] * n
    counts = list(state.green_ends) if len(state.green_ends) == n else [0] * n
    runs = list(state.short_run) if len(state.short_run) == n else [0] * n
    free = list(state.free_residual_pcu) if len(state.free_residual_pcu) == n else [0.0] * n
    if prev is not None and prev != now_green and 0 <= prev < n:
        end = end if end is not None else green_end(layout, est, prev)
        if end.ended:
            residual = end.residual_pcu
            free[prev] += end.free_pcu
            sums[prev] += residual
            runs[prev] = runs[prev] + 1 if residual >= residual_queue_pcu else 0
            counts[prev] += 1
    return evolved(
        state,
        green_phase=now_green,
        residual_pcu=tuple(sums),
        green_ends=tuple(counts),
        short_run=tuple(runs),
        free_residual_pcu=tuple(free),
    )


def green_ended(state: WebsterState, layout: Layout, signal: SignalView | None) -> int | None:
    """The phase whose green end track_green_ends counts now (its green_end read), or None."""
    prev = state.green_phase
    now_green = None if signal is None or signal.in_intergreen else signal.phase
    if prev is None or prev == now_green or not 0 <= prev < len(layout.junction.phases):
        return None
    return prev


def _sized(state: WebsterState, n: int) -> bool:
    """track_green_ends' per-phase sums all of `n` phases (none to start afresh)."""
    return len(state.residual_pcu) == len(state.green_ends) == len(state.short_run) == len(state.free_residual_pcu) == n


def short_phase(state: WebsterState, phase: int, residual_queue_pcu: float) -> bool:
    """`phase` ended its greens of the period with a mean residual queue of at least
    `residual_queue_pcu` (module docstring)."""
    if len(state.green_ends) <= phase or state.green_ends[phase] == 0:
        return False
    return state.residual_pcu[phase] / state.green_ends[phase] >= residual_queue_pcu


def green_short_phases(state: WebsterState, n_phases: int, residual_pcu: float) -> np.ndarray:
    """(phases,) bool: the phases whose mean free residual (track_green_ends: the queue left at
    their green ends where the exit was free) over the period reaches `residual_pcu`: short of
    green, not of exit room (module docstring, a short phase keeps its green)."""
    if len(state.free_residual_pcu) != n_phases or len(state.green_ends) != n_phases:
        return np.zeros(n_phases, dtype=bool)
    ends = np.array(state.green_ends, dtype=float)
    out: np.ndarray = (ends > 0) & (np.array(state.free_residual_pcu) >= residual_pcu * np.maximum(ends, 1.0))
    return out


def short_phases(state: WebsterState, n_phases: int, residual_queue_pcu: float) -> np.ndarray:
    """(phases,) bool: short_phase for every phase."""
    return np.array([short_phase(state, k, residual_queue_pcu) for k in range(n_phases)], dtype=bool)


def no_green_to_spare(state: WebsterState, n_phases: int, residual_queue_pcu: float) -> bool:
    """Every phase that ended a green in the period ended its greens short (short_phase: a mean
    residual queue of at least `residual_queue_pcu`), and one did at least: no phase cleared its
    queue, so no split of the cycle serves the demand; the junction, not a phase, lacks capacity.
    (A phase whose lanes all stay green into the next counts no green end.)"""
    if len(state.green_ends) != n_phases:
        return False
    ended = [k for k, ends in enumerate(state.green_ends) if ends > 0]
    return bool(ended) and all(short_phase(state, k, residual_queue_pcu) for k in ended)


def oversaturated(state: WebsterState, layout: Layout, residual_queue_pcu: float) -> bool:
    """The junction lacks capacity, not a split (`lone_cycle_max_s`): no phase cleared its queue
    over the period (no_green_to_spare), or the plan in force runs longer than the reference cycle
    (a longer cycle chosen for that): it stays long while its lanes' flow ratios hold at
    max_flow_ratio (lone_cycle_s), since a phase that clears its queue under the long cycle does not
    under the short one, whose first period rebuilds the queues. Only at a lone junction (no
    signalised neighbour, as lone_cycle_s): one with a neighbour keeps the common cycle, and its
    plan is not made a full-cycle plan for it (with `hold_short_phases` the full cycle is otherwise
    decided by the held phases alone)."""
    j = layout.junction
    n = len(j.phases)
    if j.upstream or j.downstream:
        return False
    if no_green_to_spare(state, n, residual_queue_pcu):
        return True
    if state.plan_s is None or len(state.plan_s) != n:
        return False
    return sum(state.plan_s) + layout.derived(_cycle_intergreens_s) > reference_cycle_s(layout) + 1.0


def retime_chosen(retimed: bool, replay: shadow.Replay | None) -> bool:
    """`retime_on_evidence`: the retime plans the junction from the first period end at which the
    fixed-time replay (shadow.gains, over its evidence window) puts the city's program at less delay
    per PCU than the greens shown (webster's own plans): the city's plan fits the measured demand
    better than Webster's split of it. It stays chosen (`retimed`): the replay then compares the
    city's program with its own retime, not with Webster's split."""
    if retimed:
        return True
    if replay is None:
        return False
    g = shadow.gains(replay)
    return g.delay_fixed_s < g.delay_controlled_s


def signal_status(j: Intersection, signal: SignalView | None, now_s: float) -> SignalStatus | None:
    """The roadside's status as the replay reads it (shadow.controlled_phase: the phase and whether
    it is in an intergreen) from the policy's SignalView."""
    if signal is None:
        return None
    return SignalStatus(j.id, now_s, signal.phase, signal.in_intergreen, signal.green_elapsed_s, "", 0, "adaptive")


class WebsterPolicy(Policy):
    name = "webster"

    def __init__(self, params: WebsterParams | None = None, replay: ReplayModel | None = None) -> None:
        """`params`: config.toml's section for this policy; None: the defaults. `params.keep_offsets`:
        plans in whole seconds, sent at phase 0's start, with offset transitions (module
        docstring); off (the default), each period's plan goes out at once and the roadside runs
        it from the phase in force. `params.hold_short_phases`: saturated phases are held (module
        docstring); off (the default: it costs the bundled city, docs/policies.md), a phase
        short of green makes only the next plan run the base cycle. `params.city_split`,
        `params.platoon_fit`, `params.slack_to_city`: webster_greens' (the city's split as the
        prior; a divided cycle only where one green serves a common cycle's platoon; the spare
        green toward the city's split). `params.short_keeps_city`: the phases short of green in
        the period (short_phase) keep their city green in the next plan; `params.keep_green_residual_pcu`:
        the phases with that mean residual keep their share of the plan in force (plan_shares);
        `params.green_window_offsets`: with keep_offsets, phase 0's offset keeps the green windows
        (offsets.window_offset_s); `params.carry_green_remainders`: with keep_offsets, each cycle's
        whole-second greens carry the rounding's remainders (_cycle_greens);
        `params.offsets_need_neighbour`: with keep_offsets, only where a signalised neighbour is
        (_keeps_offset). `replay`: the fixed-time replay's model for `params.retime_on_evidence`
        (ReplayModel; None: its defaults)."""
        self.params = params if params is not None else WebsterParams()
        self.replay = replay if replay is not None else ReplayModel()
        self.groups: Mapping[str, tuple[str, ...]] = {}  # with_short_groups: the lights that re-plan on one tick
        self.keep_offsets = self.params.keep_offsets
        self.residual_queue_pcu = self.params.residual_queue_pcu
        self.hold_short_phases = self.params.hold_short_phases
        # id(layout) -> (that layout, its unopposed_credit): a function of the layout and
        # params alone, computed once (init) instead of at every re-plan (_credit)
        self._credits: dict[int, tuple[Layout, Credit]] = {}

    def _credit(self, layout: Layout) -> Credit:
        """unopposed_credit(layout, credit_transition_green), computed once per layout object and
        kept read-only (the same arrays serve every later re-plan of the junction)."""
        kept = self._credits.get(id(layout))
        if kept is not None:  # the entry holds its layout: no other object takes that id meanwhile
            return kept[1]
        credit = unopposed_credit(layout, self.params.credit_transition_green)
        credit.phases.setflags(write=False)
        credit.transition_s.setflags(write=False)
        self._credits[id(layout)] = (layout, credit)
        return credit

    def with_short_groups(self, groups: Mapping[str, tuple[str, ...]]) -> WebsterPolicy:
        """This policy with the network's short-link groups (Policy.with_short_groups): with
        `replan_spread`, a group's lights take their first period from its first id, so they
        re-plan on the same ticks, as with the spread off (module docstring)."""
        out = WebsterPolicy(self.params, self.replay)
        out.groups = dict(groups)
        return out

    def _period_s(self, state: WebsterState, jid: str) -> float:
        """The length of the junction's period in progress: its first (first_period_s, by its
        short-link group's first id where it has one) until its first plan, then period_s."""
        if state.plan_s is not None:
            return self.params.period_s
        return first_period_s(self.params, jid, self.groups.get(jid, ()))

    def _held(
        self, state: WebsterState, layout: Layout, flow_pcu_h: np.ndarray, short: np.ndarray
    ) -> tuple[tuple[float, ...], bool, np.ndarray | None]:
        """(held_y, full cycle, held phases or None) for the next plan (module docstring); `short`:
        this period's short phases (short_phases)."""
        if not self.hold_short_phases:
            return (), bool(short.any()), None
        held_y = held_flow_ratios(state, layout, flow_pcu_h, short)
        held = np.array(held_y) > 0
        return held_y, bool(held.any()), held

    def _cut_divided(self, state: WebsterState) -> bool:
        """The divided cycle in force ends now, not at the period's end (`divided_cycle_ends`): some
        phase ended its last that many greens in a row with a residual queue of at least
        `residual_queue_pcu`. The short cycle lacks capacity where its own greens cap the flows
        that would show it, and a period of it builds the queue the base cycle must then drain;
        the city's plan runs to the period's end (the counts of a part period, with the hidden
        queue spread over it, would split the base cycle by noise), whose plan runs the base cycle."""
        ends = self.params.divided_cycle_ends
        if ends <= 0 or not state.divided:
            return False
        return max(state.short_run, default=0) >= ends

    def _period_flows(
        self, state: WebsterState, layout: Layout, est: Estimate, elapsed_s: float, flow_pcu_h: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(the period's flows, period_flow_pcu_h (`flow_pcu_h` where the caller computed them); the
        smoothed flows after it, smoothed_flow_pcu_h, where `coordinated_retime` plans the junction
        (one with a signalised neighbour), else None)."""
        if flow_pcu_h is None:
            flow_pcu_h = period_flow_pcu_h(layout, state, est, elapsed_s)
        j = layout.junction
        if not self.params.coordinated_retime or not (j.upstream or j.downstream):
            return flow_pcu_h, None
        short = short_phases(state, len(j.phases), self.residual_queue_pcu)
        capped = layout.serves[short].any(axis=0)
        window_s = self.params.retime_window_s
        return flow_pcu_h, smoothed_flow_pcu_h(state.smooth_pcu_h, flow_pcu_h, elapsed_s, window_s, capped)

    def _retimes(self, state: WebsterState) -> bool:
        """The retime plans this period's end at a coordinated junction (`coordinated_retime`): always,
        or with `retime_on_evidence` once the replay chose it (retime_chosen), judged only after a
        plan of webster's own was shown (before it the city's program ran on both sides)."""
        if not self.params.retime_on_evidence:
            return True
        return retime_chosen(state.retimed, state.replay if state.plan_s is not None else None)

    def _observe(
        self, state: WebsterState, layout: Layout, est: Estimate, signal: SignalView | None, now_s: float
    ) -> WebsterState:
        """With `retime_on_evidence` at a coordinated junction not yet retimed: the fixed-time replay
        (shadow.advance: the city's program and the greens the status reports, under the measured
        arrivals) advanced to `now_s`, started empty at the first call."""
        j, p = layout.junction, self.params
        if not (p.coordinated_retime and p.retime_on_evidence) or state.retimed or not (j.upstream or j.downstream):
            return state
        program = state.program if state.program is not None else self.replay.program(layout)
        if state.replay is None:
            fed_pcu = est.departures_pcu + est.queue_pcu
            return evolved(state, program=program, replay=shadow.start(program, len(j.movements), now_s, fed_pcu))
        status = signal_status(j, signal, now_s)
        return evolved(
            state, replay=shadow.advance(program, state.replay, est, status, now_s, self.replay.harm.window_s)
        )

    def _plan(
        self,
        state: WebsterState,
        layout: Layout,
        est: Estimate,
        flow_pcu_h: np.ndarray,
        smooth_pcu_h: np.ndarray | None = None,
    ) -> FloorSteps[tuple[float, tuple[float, ...], tuple[float, ...], tuple[np.ndarray, ...]]]:
        """(cycle_s, greens_s, held_y, past_flows) of the plan at a period's end from its flows
        `flow_pcu_h` (module docstring; webster_greens); with `smooth_pcu_h` (_period_flows:
        `coordinated_retime` at a junction with a signalised neighbour) retimed_greens_s' plan of them."""
        short = short_phases(state, len(layout.junction.phases), self.residual_queue_pcu)
        held_y, full, held = self._held(state, layout, flow_pcu_h, short)
        credit = self._credit(layout) if self.params.credit_unopposed else None
        lost_s, max_y = self.params.lost_time_per_phase_s, self.params.max_flow_ratio
        if smooth_pcu_h is not None:
            cycle_s, greens = retimed_greens_s(layout, smooth_pcu_h, lost_s, max_y, credit, est.blind)
            return cycle_s, greens, held_y, ()
        full = full or state.cut
        fit, plat, city = self.params.fit_capacity, self.params.platoon_fit, self.params.city_split
        slack, keep_city = self.params.slack_to_city, short if self.params.short_keeps_city else None
        keep = self.params.divide_after_periods - 1  # the periods before this one a divided cycle must fit
        past = state.past_flows[-keep:] if keep > 0 else ()
        q_cycle = divided_flow_pcu_h(flow_pcu_h, past)
        keep_pcu = self.params.keep_green_residual_pcu
        n = len(layout.junction.phases)
        kept = plan_shares(state, layout) * green_short_phases(state, n, keep_pcu) if keep_pcu > 0 else None
        over = self.params.lone_cycle_max_s > 0 and oversaturated(state, layout, self.residual_queue_pcu)
        lone_s = self.params.lone_cycle_max_s if over else 0.0
        full = full or over
        asked = GreensAsked(full, (fit, plat), city, slack, lone_s, self.params.spare_above_minimum)
        cycle_s, greens = yield from webster_greens_steps(
            layout, flow_pcu_h, lost_s, max_y, asked, (held, est.blind, keep_city, q_cycle, kept), credit
        )
        return cycle_s, greens, held_y, ((*past, flow_pcu_h)[-keep:] if keep > 0 else ())

    def cannot_serve(self, layout: Layout) -> str:
        """Also refuses a junction coupled to another light (requirements.coupled_refusal): a plan of
        its own at each stops vehicles inside the other junction and locks both."""
        kept = actuated_refusal(layout) if self.params.keep_actuated else ""
        return cyclic_refusal(layout) or coupled_refusal(layout) or kept

    def network_decision(self, layouts: Mapping[str, Layout]) -> NetworkDecision | None:
        """decide() for all `layouts` in one pass, their re-plans' green floors answered together
        (policies/webster_net.py, to the bit); None for a subclass that overrides decide() (the pass
        computes this class's decide)."""
        from controller.core.policies.webster_net import NetWebster  # it builds on this module

        if type(self).decide is not WebsterPolicy.decide:
            return None
        return NetWebster(self, layouts)

    def init(self, layout: Layout, now_s: float) -> WebsterState:
        if self.params.credit_unopposed:
            self._credit(layout)  # at start-up, not in the first re-plan's tick
        return WebsterState(now_s, None, None)

    def decide(
        self,
        state: WebsterState,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None = None,
    ) -> tuple[WebsterState, CycleWish | None]:
        due = self.replan_due(state, layout, est, signal, now_s)
        if not isinstance(due, WebsterState):
            return due
        return solved(self.replan_steps(due, layout, est, signal, now_s))

    def replan_due(
        self,
        state: WebsterState,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        end: GreenEnd | None = None,
    ) -> WebsterState | tuple[WebsterState, CycleWish | None]:
        """decide() up to the period's end: its (state, wish) where no plan is due now, else the state
        replan_steps plans from. `end`: track_green_ends' (green_end of green_ended's phase), if the
        caller has it."""
        if state.arrivals_pcu is None:
            return WebsterState(now_s, est.arrivals_pcu, est.departures_pcu), None
        state = track_green_ends(state, layout, est, signal, self.residual_queue_pcu, end)
        state = self._observe(state, layout, est, signal, now_s)
        elapsed_s = now_s - state.period_start_s
        period_s = self._period_s(state, layout.junction.id)
        if self._cut_divided(state):
            city_s = tuple(float(g) for g in city_plan_s(layout))
            state = evolved(state, divided=False, cut=True, plan_s=city_s)
            if not self._keeps_offset(layout.junction):
                n, offset_s = len(layout.junction.phases), layout.junction.base_offset_s
                return state, CycleWish(tuple(range(n)), city_s, offset_s)
            state = evolved(state, steady_s=_whole_greens(layout, city_s), due_s=now_s)
        if elapsed_s >= period_s:
            return state
        return self._send(state, layout.junction, signal, now_s)

    def replan_steps(
        self,
        state: WebsterState,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        flow_pcu_h: np.ndarray | None = None,
    ) -> FloorSteps[tuple[WebsterState, CycleWish | None]]:
        """decide() from the period's end on (replan_due gave `state`), its green_floors_s calls
        yielded; `flow_pcu_h`: period_flow_pcu_h of the period ending now, if the caller has it (the
        region's pass computes them together, to the bit), else computed here."""
        elapsed_s = now_s - state.period_start_s
        flow_pcu_h, smooth = self._period_flows(state, layout, est, elapsed_s, flow_pcu_h)
        retimed = smooth is not None and self._retimes(state)
        plan = self._plan(state, layout, est, flow_pcu_h, smooth if retimed else None)
        cycle_s, greens, held_y, past = yield from plan
        divided = cycle_s < reference_cycle_s(layout) - 1e-6
        if not self._keeps_offset(layout.junction):
            n, offset_s = len(layout.junction.phases), layout.junction.base_offset_s
            fresh = _fresh_state(state, est, now_s, greens, held_y, divided, past, smooth, retimed)
            return fresh, CycleWish(tuple(range(n)), greens, offset_s)
        if not self.params.carry_green_remainders:
            greens = _whole_greens(layout, greens)  # as the roadside shows them
        state = evolved(
            state,
            period_start_s=now_s,
            arrivals_pcu=est.arrivals_pcu,
            departures_pcu=est.departures_pcu,
            steady_s=greens,
            due_s=now_s,
            residual_pcu=(),
            free_residual_pcu=(),
            green_ends=(),
            held_y=held_y,
            short_run=(),
            plan_s=greens,
            divided=divided,
            cut=False,
            past_flows=past,
            smooth_pcu_h=smooth,
            retimed=retimed,
        )
        return self._send(state, layout.junction, signal, now_s)

    def _send(
        self, state: WebsterState, j: Intersection, signal: SignalView | None, now_s: float
    ) -> tuple[WebsterState, CycleWish | None]:
        """The plan to send now, if any (module docstring, offsets): at each start of phase 0 the
        steady greens, or this cycle's transition toward the offset, when they differ from the
        plan in force or a new period's are due; the steady greens at once when overdue."""
        steady_s = state.steady_s
        if steady_s is None:
            return state, None
        start_s = _phase0_start_s(signal, now_s)
        new_cycle = start_s is not None and (
            state.cycle_start_s is None or abs(start_s - state.cycle_start_s) > DECISION_PERIOD_S + 0.5
        )
        if start_s is not None:
            state = evolved(state, cycle_start_s=start_s)
        order = tuple(range(len(j.phases)))
        if new_cycle and start_s is not None:
            cycle_s = cycle_length_s(j, order, steady_s)
            error_s = offset_error_s(start_s, self._offset_s(j, steady_s), cycle_s)
            # a transition only from a fresh start: a phase 0 first seen past its minimum green (a
            # local program resting in it) is already longer than a plan may make it
            fresh = now_s - start_s <= j.phases[0].min_green_s
            in_force_s = self._offset_s(j, state.sent_s) if state.sent_s is not None else j.base_offset_s
            if _await_aligned_start(state, j, start_s, now_s, cycle_s, self._offset_s(j, steady_s), in_force_s):
                return state, None
            shown_s, carry_s = self._cycle_greens(j, steady_s, state.carry_s)
            state = evolved(state, carry_s=carry_s)
            greens = transition_greens_s(j, shown_s, error_s) if fresh else shown_s
            if state.due_s is None and state.sent_s is not None and np.allclose(greens, state.sent_s, atol=1e-3):
                return state, None
        elif _overdue(state, signal, now_s, reference_cycle_s_of(j)):
            greens, carry_s = self._cycle_greens(j, steady_s, state.carry_s)
            state = evolved(state, carry_s=carry_s)
        else:
            return state, None
        return evolved(state, due_s=None, sent_s=greens), CycleWish(order, greens, self._offset_s(j, steady_s))

    def _keeps_offset(self, j: Intersection) -> bool:
        """`keep_offsets`, and with `offsets_need_neighbour` only at a junction with a signalised
        neighbour (Intersection.upstream or .downstream): a lone junction has no green wave to keep,
        and runs each plan at once, from the phase in force, as with keep_offsets off."""
        if not self.keep_offsets:
            return False
        return bool(j.upstream or j.downstream) or not self.params.offsets_need_neighbour

    def _cycle_greens(
        self, j: Intersection, steady_s: tuple[float, ...], carry_s: tuple[float, ...]
    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(the greens of the cycle starting now, the carry after it): the steady plan's, already in
        whole seconds; with `carry_green_remainders` its fractional greens rounded with the
        remainders carried from cycle to cycle (offsets.carried_whole_seconds)."""
        if not self.params.carry_green_remainders:
            return steady_s, carry_s
        n = len(j.phases)
        owed = carry_s if len(carry_s) == n else (0.0,) * n
        out, carry = carried_whole_seconds(steady_s, owed, *_green_bounds_s(j))
        return tuple(float(g) for g in out), tuple(float(c) for c in carry)

    def _offset_s(self, j: Intersection, greens_s: tuple[float, ...]) -> float:
        """Where phase 0 of a plan of `greens_s` turns green on the common clock: the base offset,
        or with `green_window_offsets` the one that keeps the green windows where the city's plan
        put them (offsets.window_offset_s)."""
        return window_offset_s(j, greens_s) if self.params.green_window_offsets else j.base_offset_s


def _fresh_state(
    state: WebsterState,
    est: Estimate,
    now_s: float,
    greens_s: tuple[float, ...],
    held_y: tuple[float, ...],
    divided: bool,
    past: tuple[np.ndarray, ...],
    smooth: np.ndarray | None,
    retimed: bool,
) -> WebsterState:
    """The state of a new period whose plan (`greens_s`) goes out at once (keep_offsets off): the period's
    sums start afresh; the phase in force, the memories (held_y, past flows, smoothed flows) and the
    replay (retime_on_evidence) carry over."""
    return _new_state(
        now_s,
        est.arrivals_pcu,
        est.departures_pcu,
        green_phase=state.green_phase,
        held_y=held_y,
        plan_s=greens_s,
        divided=divided,
        past_flows=past,
        smooth_pcu_h=smooth,
        program=state.program,
        replay=state.replay,
        retimed=retimed,
    )


def _await_aligned_start(
    state: WebsterState,
    j: Intersection,
    start_s: float,
    now_s: float,
    cycle_s: float,
    offset_s: float,
    in_force_offset_s: float,
) -> bool:
    """A new period's plan whose cycle (`cycle_s`) differs from the plan in force waits for a
    start of phase 0 at its offset: when double cycling ends (C / 2 -> C), one start in two of
    the short cycle is half a long cycle off, and a transition from it would cut up to three
    cycles' greens by STEP_RATIO each; the plan in force, in step with its own cycle, reaches
    an aligned start within one cycle of the new plan (that long at most)."""
    if state.due_s is None or state.sent_s is None or now_s - state.due_s >= cycle_s:
        return False
    order = tuple(range(len(j.phases)))
    in_force_s = cycle_length_s(j, order, state.sent_s)
    if abs(in_force_s - cycle_s) <= DECISION_PERIOD_S:
        return False
    in_step = aligned(offset_error_s(start_s, in_force_offset_s, in_force_s))
    return in_step and not aligned(offset_error_s(start_s, offset_s, cycle_s))


def _overdue(state: WebsterState, signal: SignalView | None, now_s: float, ref_s: float) -> bool:
    """The steady plan goes out now: it is due and there is no status, or phase 0 has not shown
    for a reference cycle since; or a transition plan is in force and phase 0 has not started
    for two (the roadside would repeat the transition every cycle)."""
    if state.due_s is not None:
        return signal is None or now_s - state.due_s >= ref_s
    last_s = state.cycle_start_s if state.cycle_start_s is not None else now_s
    return state.sent_s != state.steady_s and now_s - last_s >= 2 * ref_s


def _phase0_start_s(signal: SignalView | None, now_s: float) -> float | None:
    """When phase 0's green in force began, None when phase 0 is not green."""
    if signal is None or signal.in_intergreen or signal.phase != 0:
        return None
    return now_s - signal.green_elapsed_s


def reference_cycle_s_of(j: Intersection) -> float:
    """The base program's cycle within the junction's cycle bounds (s)."""
    return min(max(j.base_cycle_s(), j.cycle_min_s), j.cycle_max_s)

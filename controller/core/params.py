"""The policies' parameters: one frozen dataclass per policy, the one place their defaults live.

config.toml has one section per policy ([webster], [max_pressure], [schedule], [scats]); it
documents each field, and controller/config.py validates the section into the dataclass below
by field name (a key missing from the file keeps the default here). A policy's constructor takes
its dataclass and nothing else (webster also do no harm's replay model: webster.ReplayModel).

The Protocols at the end say which sections the core reads: `PolicyConfig` (make_policy),
`LayoutConfig` (estimation.Layout.build) and `CoreConfig` (step.Core). The application's Config
provides them all; the core never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from controller.core.estimation import EstimationParams
    from controller.core.harm import HarmParams


@dataclass(frozen=True)
class WebsterParams:
    """Webster (1958) cycle plans, config.toml [webster]."""

    period_s: float = 300.0  # plans are recomputed from the counts of the last period this long
    lost_time_per_phase_s: float = 3.0  # start-up + clearance lost time per phase; a floor: a longer intergreen counts
    max_flow_ratio: float = 0.9  # cap on Y, the sum of critical flow ratios (< 1: the formula diverges at 1)
    keep_offsets: bool = False  # plans in whole seconds from phase 0's start, moved to the city's offset (policies.md)
    residual_queue_pcu: float = 3.0  # mean queue left on a phase's lanes at its green ends over a period that
    # returns the junction from a half to the full base cycle (policies.md)
    hold_short_phases: bool = False  # such a phase held at its base green while its demand stands (policies.md)
    fit_capacity: bool = True  # a divided cycle C / k only where the capacity greens fit it (policies.md)
    city_split: bool = False  # the city's split sent while it serves every movement (policies.md)
    platoon_fit: bool = False  # a divided cycle only where one green serves a common cycle's platoon (policies.md)
    divided_cycle_ends: int = 0  # a phase's green ends in a row with a residual queue (residual_queue_pcu) that end a
    # divided cycle at once for the city's plan, not at the period's end; 0: off (policies.md)
    slack_to_city: bool = False  # at the base cycle, after a period without a short phase, the green left over after
    # the movements' needs raises the phases below their city greens toward them first (policies.md)
    short_keeps_city: bool = False  # a phase that ended the period's greens with a residual queue (residual_queue_pcu)
    # keeps at least its city green in the next plan (policies.md)
    divide_after_periods: int = 1  # a divided cycle C / k only where it fits the flows of each of the last this many
    # periods (per movement the largest): a lull must last, the counts lag the demand by a period (policies.md)
    keep_green_residual_pcu: float = 0.0  # a phase that ended the period's greens with a mean free residual queue
    # (left where the exit was free) of at least this (PCU) is not cut below its share of the plan in force: its
    # count is capped by that green; 0: off (policies.md)
    replan_spread: float = 0.0  # f in (0, 1]: a junction's first period lasts period_s x (1 + f x (u - 1/2)), u in
    # [0, 1) from its id, so the junctions re-plan on different ticks, not all on one (the tick's latency); 0: off
    green_window_offsets: bool = False  # with keep_offsets: phase 0 starts where the plan's green windows, weighted
    # by the city's greens, sit closest to the city's, not at the base offset itself (policies.md)
    carry_green_remainders: bool = False  # with keep_offsets: each cycle's whole-second greens carry what rounding
    # took or gave into the next cycle, so each phase gets its fractional green over cycles (policies.md)
    offsets_need_neighbour: bool = False  # with keep_offsets: only a junction with a signalised neighbour keeps its
    # offset; a lone one runs each plan at once from the phase in force, as with keep_offsets off (policies.md)
    spare_above_minimum: bool = False  # the green left once every movement's need is met is shared in proportion to
    # the phases' base greens above their minimum greens, not to their base greens (webster.spare_shares)
    keep_actuated: bool = True  # refuse a light whose own program is vehicle-actuated (Intersection.actuated): it
    # keeps its gap-out, which a fixed cycle would replace (requirements.actuated_refusal)
    credit_unopposed: bool = True  # a movement's needs are met first from where it yields ('o' or 'g') while no
    # stream of another approach is green, in stages and in the program's transitions: unopposed, it discharges
    # as if protected (webster.unopposed_credit)
    credit_transition_green: bool = False  # with credit_unopposed (alone it does nothing): a transition's seconds in
    # which a link of the movement stays green ('G') count toward its needs too (webster.unopposed_transition_s)
    lone_cycle_max_s: float = 150.0  # at a junction without a signalised neighbour where no phase cleared its queue
    # over the period, or while a longer cycle is in force: the shortfall shared at one degree of saturation, and
    # where its lanes' flow ratios sum to max_flow_ratio or more, this cycle (within the junction's cycle_max_s)
    # (webster.lone_cycle_s, webster.oversaturated); 0: off
    coordinated_retime: bool = False  # at a junction with a signalised neighbour: the city's cycle and greens, moved
    # only as far as every movement's degree of saturation (smoothed flows) needs to stay under max_flow_ratio; the
    # city's greens where no split does (webster.retimed_greens_s); off: Webster's split of the period's counts
    retime_window_s: float = 600.0  # with coordinated_retime: time constant of the smoothed flows (s): a period's
    # count is a few dozen vehicles and a lull is not a new demand (webster.smoothed_flow_pcu_h)
    retime_on_evidence: bool = False  # with coordinated_retime: Webster's own plan at a coordinated junction until
    # the fixed-time replay (shadow.py, do no harm's model and [harm] window_s) estimates the city's program at
    # less delay than the greens shown; from then on the retime (webster.retime_chosen); off: the retime always


@dataclass(frozen=True)
class MaxPressureParams:
    """Acyclic max-pressure with switching loss (Varaiya 2013), config.toml [max_pressure];
    also the `adaptive` policy's."""

    switch_service_s: float = 2.0  # service a switch is credited with, against its intergreen + start-up loss
    wait_scale_s: float = 60.0  # a movement red this long counts its queue twice
    permitted_sat_ratio: float = 0.4  # share of its saturation flow a permitted (yielding) turn discharges
    downstream_weight: float = 0.0  # weight of Varaiya's downstream queue (learnt coupling); 0: exit blockage only
    arrival_s: float = 0.0  # seconds of measured arrival flow (halved) added to each queue; 0: the queue alone
    clearance_gap_s: float = 4.0  # a permitted turn that crossed is out of the junction once the streams it
    # yields to and its own stop line show no vehicle for this long
    program_order_share: float = 0.0  # leaving the phase in force, the phase the junction's program runs next
    # is chosen over the highest pressure while it has at least this share of it (and more than the phase
    # in force): the program's own rotation of stages, with its short transitions; 0: off
    whole_change: bool = False  # leaving the phase in force, the target is the phase with the highest pressure per
    # second of its whole change: each movement it starts credited with the phase's minimum green (at least
    # switch_service_s) against the change's intergreen and start-up loss (change_useful); whether to leave is
    # decided as before, with switch_service_s. False: the target is the highest pressure
    lead_in: bool = False  # leaving the phase in force for a phase whose change holds some links longer than others
    # (pair intergreens), the policy enters first a phase of a strict subset of its greens entered sooner through
    # which the target's whole green starts no later (lead_in): the program's own lead-in; False: straight there
    program_order_saturated: bool = False  # leaving the phase in force for a phase serving a queue that
    # reaches past its advance loop, the policy serves instead the first such phase in the program's order
    # after the phase in force, where that order loses less to intergreens (saturated_successor); False: the
    # highest pressure
    program_order_saturated_share: float = 0.5  # with program_order_saturated: a saturated phase is served
    # before the highest pressure only while its pressure is at least this share of it (saturated_successor)
    program_order_saturated_disjoint: bool = False  # with program_order_saturated: a phase is served before the
    # highest only where neither it nor a phase it leads into without an intergreen serves protected a movement the
    # highest serves protected (saturated_successor, shares_ahead); False: no such condition
    gap_out_s: float = 0.0  # at a junction without a signalised neighbour, a movement the phase in force serves
    # protected whose every lane's stop-line loop has been empty this long holds no pressure (gapped_out): its
    # standing queue is served, and what the estimate still counts arrives at the arrival rate (SUMO actuated's
    # gap-out); 0: off
    yield_block_s: float = 10.0  # a lane the phase in force serves, on which a movement it serves permitted only
    # (yielding) has its head on the stop-line loop, occupied without a count this long, while a stream it yields to
    # (green protected in the same phase) crosses its stop-line loop at its saturation headway, counts nothing in
    # that phase's own pressure (yield_blocked_lanes): the head waits for a gap this green's own streams deny; 0: off
    exit_room: bool = False  # a movement's rate is also slowed to the room left on the neighbour approach its
    # exit feeds (phases.exit_rate_ratio): a full exit gives it no pressure
    exit_room_held: bool = True  # exit_room's slowing only where the exit is held: the neighbour approach the
    # movement's exit feeds is not a short link and its light shows red to it, by the stage it reports, with some
    # of its red left (held_exit_ratio): a green's worth is what the link takes before its far light drains it;
    # an exit its far light serves, or whose light reported no stage, counts whole. With exit_room on, exit_room's
    # slowing applies to every exit and this key is not read
    exit_room_held_direct: bool = True  # with exit_room_held: only where the movement's exit edge is itself the
    # held approach (phases.direct_exits, and the learnt exit, if any, the same): every vehicle of the movement
    # joins that link; a learnt exit reached over roads that merge and diverge takes only part of it
    inner_link_room: bool = False  # a movement whose exit is a link ending at an approach of its own light (a joined
    # light's inner link, directly or over unsignalised nodes, with an advance loop on every lane of that approach)
    # keeps, in a stage that does not drain that approach, only the share of its rate the room left on the link can
    # take (policies/inner_links.py): a full inner link has no pressure there; False: such a link is free room
    pull_upstream: bool = False  # a movement's queue also counts what the upstream lights hold for its approach
    # beyond the room left on it (phases.upstream_held_pcu): a full link's green also frees the light before it
    pull_chains: bool = False  # with pull_upstream, also over links of several unsignalised edges
    # (Movement.reach_edge, sim/netlinks.py), the room on them the whole chain's storage (phases.held_feeds)
    spill_room: bool = False  # the queue past a lane's advance loop counts once more only beyond what its link
    # stores upstream of the loop (spillback.blocking_queue_pcu): until it reaches the junction at the link's
    # head it holds no traffic but its own; False: all of it (spillback.upstream_queue_pcu)
    spill_entry_once: bool = False  # at a junction a controlled neighbour feeds directly (phases.held_feeds), the
    # queue past an advance loop on a network entry (Detector.at_entry: Layout.lane_adv_room_pcu inf) counts once:
    # beyond that loop only vehicles waiting to enter stand, no junction, no other stream; a link's backlog waits at
    # the light before it and is never seen past its loop (spillback.entry_once_lanes)
    spill_entry_once_held: bool = False  # with spill_entry_once, the entry's spill counts once only while a
    # controlled neighbour holds a queue for one of the junction's links beyond its room (phases.upstream_held_pcu
    # above 0 somewhere; max_pressure.entry_once_held): the unseen backlog it is weighed against stands there
    spill_reach: bool = False  # the part of the queue past a lane's advance loop beyond what its link stores
    # upstream of the loop (spillback.blocking_queue_pcu) counts once more again: it stands across the junction
    # at the link's head and also holds the streams that pass there
    stall_s: float = 5.0  # a movement the phase in force serves protected, queued, whose head has stood on its
    # stop-line loop with nobody crossing for this long past the green's start-up loss, on a lane showing 'G' on
    # every link (full_green_lanes) whose exits include a controlled neighbour's approach that is not a short link
    # and whose light, by the stage it reports, shows red to it (stalled_movements, exits_held), no longer holds
    # the green: it waits for room on a link its far light is not draining, and the green it holds is lost time;
    # 0: off (config.toml's comment says why it is on)
    stage_stall_s: float = 0.0  # the phase in force, past its minimum green, under which every stop-line loop of
    # the lanes it serves has for this long been either fully occupied without a count (a head standing, nobody
    # crossing) or empty, at least one occupied: the stage moves nobody, whatever holds the head; its movements hold
    # no pressure that tick (stage_stalled); 0: off
    stage_stall_lanes: bool = False  # with stage_stall_s, also a lane alone: one the phase in force serves whose
    # stop-line loop has been fully occupied without a count for stage_stall_s of the green (where a movement on it
    # yields, with a gap of clearance_gap_s in every stream it yields to now) is stuck while that head stands, red
    # or green: its queue counts 0 in every phase's pressure (stuck_lanes, stuck_drop_pcu)
    stall_red_forecast: bool = False  # with stall_s, the far light is taken to run these pressures too: its red
    # for the waited movements lasts until their pressure there beats its stage's (phases.overtake_s, from its
    # estimate in the NetworkView), not only its minimum green and intergreen; false: that lower bound
    spill_plan_red: bool = False  # a movement red whose queue stands past its advance loop beyond what its link
    # stores upstream of the loop (spillback.blocking_queue_pcu: it holds streams at the link's head no loop of
    # this light sees) is served next once it has been red as long as the city's program holds it red in one
    # cycle (policies/spill_red.py); False: the pressures alone
    spill_plan_red_served: bool = False  # with spill_plan_red, only a spill a green is seen to serve is due: every
    # lane's stop-line loop occupied now, the movement's last green passed someone over its stop line, and a phase
    # serves it protected, the phase chosen (spill_red.served); False: every spill past its room
    spill_plan_red_turns_off: bool = False  # with spill_plan_red, only the spill past the road beyond the room
    # that still leads only into the approach, before a lane that also turns off it, is due
    # (Detector.room_to_turn_off_pcu; not known: 0): until then the queue holds only this light's traffic
    # (spill_red.turn_off_room_pcu); False: all the spill past the room
    spill_plan_green: bool = False  # a movement the phase in force serves protected whose queue stands past its
    # advance loop beyond what its link stores upstream of the loop keeps its green until it has lasted the city's
    # program's longest protected green for it in one cycle, or its spill clears: past the minimum green only the
    # phases that keep it green protected are chosen (policies/spill_red.py plan_green_s); False: the pressures alone
    head_block_s: float = 4.0  # a lane shared by movements the phase in force serves protected and movements it
    # leaves red, whose stop-line loop is occupied with none of the served movements on it crossing for this long
    # past the green's start-up loss, is blocked by a head waiting for a red movement: until the lane's loop
    # empties or a movement on it crosses, the served movements' part of its queue is dropped from their queues
    # (policies/head_of_line.py head_drop_pcu); 0: off
    head_block_unshared_only: bool = True  # with head_block_s, only a lane no stage serves whole: no phase
    # serves both a movement the head may wait for and every movement the green serves on the lane
    # (head_of_line.unshared_lanes); False: every such shared lane
    head_block_past_city_green: bool = False  # with head_block_unshared_only, every shared lane too once the phase in
    # force has run longer than the city's green for it (base_green_s; head_of_line.read_lanes); False: off
    tail_stage: bool = True  # at a junction whose loops have counted a cyclist, leaving a phase the program ends
    # with a stage of its own (entered without a transition, a strict subset of its greens, left through one: a
    # crossing's clearance) while a permitted turn may stand in the junction and the target would cut it off, the
    # policy goes through that stage first (max_pressure.tail_stage, via_clearance); on since session 60; False: off


@dataclass(frozen=True)
class ScheduleParams:
    """Rolling-horizon cluster scheduling (SURTRAC), config.toml [schedule]."""

    horizon_s: float = 90.0  # look-ahead of the schedule
    cluster_gap_s: float = 4.0  # arrivals further apart than this start a new cluster
    max_clusters: int = 3  # per phase; the latest clusters are merged beyond it
    max_expansions: int = 400_000  # (state, next cluster) steps the programme evaluates per replan at most:
    # beyond, each level keeps its least-delay states only (a beam); exact up to 6 phases at 3 clusters. 0: no bound
    replan_s: float = 1.0  # the schedule is recomputed at most this often once min green is served
    steady_s: float = 30.0  # arrivals at the advance loops' flow are anticipated this far ahead (where not predicted)
    cluster_max_s: float = 10.0  # a stream of arrivals is cut into clusters of at most this duration
    wait_scale_s: float = 30.0  # a queue's delay weighs 1 + waited / wait_scale_s
    min_rate_ratio: float = 0.3  # exit blockage slows the planned discharge to no less than this share
    stall_s: float = 5.0  # a queued movement that has not discharged for this long in its green no longer holds it
    stall_head_on_loop: bool = False  # with stall_s, only where a vehicle stands on one of its stop-line loops (or
    # a lane has none it can read): a queue still on its way to an empty stop line is not blocked (policies.md)
    stall_after_travel: bool = False  # with stall_s, a queue whose vehicles passed the advance loop less than the
    # zone's travel time ago (its stop-line loops empty) is an arrival due then, not a stall (policies.md)
    stall_after_travel_split_junction: bool = False  # stall_after_travel's rule at the junctions where the split
    # made parts only (schedule.split_parts: a movement sharing its edge and turn with one other stages green;
    # policies.md)
    stall_clock_after_travel: bool = False  # with stall_s, a movement's clock starts no earlier than its queue
    # could reach the stop line: the zone's travel time after the queue appeared on its lane, or when a vehicle was
    # first on the lane's stop-line loop since, if earlier (policies.md)
    permitted_sat_ratio: float = 0.4  # share of its saturation flow a permitted (yielding) turn discharges
    clearance_min_pcu: float = 0.5  # a permitted turn with this queue will need its protected phase
    clearance_gap_s: float = 4.0  # as MaxPressureParams.clearance_gap_s
    saturation_floor: bool = True  # a phase whose approach is full is held to its base green while its stop
    # lines are occupied (policies.md)
    floor_after_overflow: bool = True  # only a lane its last green left full to its advance loop (an overflow
    # queue), with more storage than that green's minimum discharges, makes its phase full (policies.md)
    permitted_rest: bool = False  # a permitted turn's queue beyond what its green can pass before its maximum
    # is charged to its protected phase (policies.md)
    change_loses_capacity: bool = False  # a change leaving a phase whose standing queue fills its approach is
    # charged the capacity it loses, (change + start-up) x its rate, as delay to the horizon's end (policies.md)
    permitted_tail: bool = True  # the part of a permitted turn's standing queue left once the phase's other
    # movements have discharged is a job of its own, the phase's last (policies.md)
    exit_tail: bool = True  # the same for a movement whose exit cannot take its queue (the room on the
    # neighbour approach it feeds is less than its queue, exit_rate_ratio < 1) (policies.md)
    box_short_pcu: float = 0.0  # a permitted turn of the green phase standing in the junction (crossed its
    # stop line, no gap seen since) with its queue behind stalled, on an approach storing at most this many
    # PCU between its loops, ends the green (after the minimum, before any floor): the light changes to the
    # phase serving it protected. 0: off (policies.md)
    wait_kept_in_green: bool = False  # a standing queue keeps, through its green, the wait weight it had when
    # that green began (without it the weight falls to 1 at the green's start) (policies.md)
    crossing_stages: bool = False  # a change into a stage goes to its crossing stage (the same vehicle greens and a
    # crossing it keeps red) when that crossing would reach max_red_s before the stage is green again (policies.md)
    lead_in_stages: bool = True  # a change goes through a phase greening only links of the target when
    # that is quicker than the direct intergreen (the program's lead-in stage), never where the program has
    # its own transition for that change (policies.md)
    watch_actuated_crossings: bool = False  # a light on a vehicle-actuated program with a stage whose minimum green is
    # its crossings' pedestrian minimum keeps its program while those stages' greens that ended in the last
    # `actuated_watch_s` ran, on average, shorter than their minimums; judged at the end of each such green, taken
    # over for good at the first where they did not (policies.md)
    actuated_watch_s: float = 180.0  # how far back the watch reads the program's greens (s of the roadside's status)


@dataclass(frozen=True)
class ScatsParams:
    """Cycle-by-cycle degree-of-saturation adaptation (SCATS), config.toml [scats]."""

    ds_target: float = 0.9  # degree of saturation the critical phase is run at
    cycle_step_s: float = 6.0  # largest cycle change per cycle
    split_step_s: float = 4.0  # largest green change per phase per cycle
    offsets: bool = True  # green waves: offsets after the main upstream neighbour
    marry_flow_pcu_h: float = 600.0  # links carrying this much are married (common cycle, offsets)
    marry_cycle_diff_s: float = 10.0  # ... when the cycles the two junctions want differ by at most this
    empty_gap_s: float = 1.0  # stop-line loop empty longer than this in a green: wasted green (DS)
    gap_out_s: float = 3.0  # a phase ends early when its stop-line loops have been empty this long (0: never)
    keep_actuated: bool = False  # refuse a light whose own program is vehicle-actuated (Intersection.actuated)
    keep_actuated_crossings: bool = True  # with keep_actuated off: refuse such a light only where a stage's
    # minimum green is its crossings' pedestrian minimum (requirements.actuated_crossing_refusal); with
    # `watch_actuated_crossings` such a light is watched instead and kept while that minimum binds
    keep_shorter_city_cycle: bool = True  # refuse a light on a fixed-time program whose cycle is shorter than
    # its stages at their minimum greens with the intergreens (requirements.shorter_city_cycle_refusal)
    own_cycle_now: bool = False  # the cycle starting now is the longest of the junction's own wish, made at
    # this cycle's start, and the wishes of the others in its married subsystem (False: the subsystem's longest
    # wish at the last coordination, where the junction's own is a cycle old)
    keep_extending_actuated: bool = False  # a vehicle-actuated program is watched `actuated_watch_s` first; one
    # whose greens ran on average `actuated_extension_s` or more beyond their stages' minimum greens tracks
    # its demand and keeps running (no plan); one held at its minimums is taken over
    actuated_watch_s: float = 180.0  # how long the program is watched (s of the roadside's status)
    actuated_extension_s: float = 1.0  # mean green beyond the minimum green from which the program extends
    watch_actuated_crossings: bool = True  # with keep_actuated_crossings: such a light is not refused but watched
    # on its program in windows of `actuated_watch_s`; it keeps its program while its crossing stages ran, on
    # average, shorter than their pedestrian minimums (the minimum a cycle must give them binds), and is taken
    # over at the first window where they did not
    ds_mean_cycles: float = 1.0  # the DS the splits and the cycle are chosen from: an exponential mean over this
    # many cycles (the newest cycle weighs 1 / ds_mean_cycles; 1: the last cycle alone)
    webster_cycle: bool = False  # the cycle moves toward Webster's delay-minimising C0 = (1.5 L + 5) / (1 - Y), Y
    # the sum over the phases of their movements' largest flow ratio q / s over the last cycle (discharge plus the
    # change of the queue left, at the learnt saturation flows), L the intergreens
    # (False: toward the cycle that runs every phase at ds_target)
    webster_flow_cycles: float = 1.0  # with webster_cycle: Y is formed from each movement's arrival flow averaged
    # over this many cycles (an exponential mean, the newest cycle weighing 1 / webster_flow_cycles; 1: the last
    # cycle alone), as Webster's flows are a period's mean, not one cycle's platoon
    webster_ds_floor: bool = False  # with webster_cycle: C0 no shorter than the cycle whose greens hold every phase
    # at DS 1 (each phase's green times its DS, at least its minimum, averaged over webster_flow_cycles cycles)
    city_split_at_minimums: bool = False  # where no phase needs more than its minimum green (every DS low), the
    # splits move toward the city's program's proportions (its base greens) instead of every phase's minimum, at a
    # junction whose program splits its shortest cycle otherwise than the minimums do (scats.city_split_departs)


class PolicyConfig(Protocol):
    """The sections `make_policy` reads (controller.config.Config provides them)."""

    @property
    def webster(self) -> WebsterParams: ...

    @property
    def max_pressure(self) -> MaxPressureParams: ...

    @property
    def schedule(self) -> ScheduleParams: ...

    @property
    def scats(self) -> ScatsParams: ...

    @property
    def harm(self) -> HarmParams: ...  # webster's replay (retime_on_evidence): do no harm's model


class PcuFactors(Protocol):
    """config.toml [pcu]: passenger-car units per vehicle class."""

    def factor(self, vehicle_class: str) -> float: ...


class JamSpacing(Protocol):
    """config.toml [detectors]: what the estimator reads of it."""

    @property
    def vehicle_spacing_m(self) -> float: ...  # jam spacing of one PCU, for lane storage


class LayoutConfig(Protocol):
    """The sections estimation.Layout.build reads."""

    @property
    def estimation(self) -> EstimationParams: ...

    @property
    def detectors(self) -> JamSpacing: ...

    @property
    def pcu(self) -> PcuFactors: ...


class FeedTiming(Protocol):
    """config.toml [service]: what the core reads of it."""

    @property
    def feed_stale_s(self) -> float: ...  # a junction whose feed is older than this gets no command


class PlanTiming(Protocol):
    """config.toml [roadside]: what the core reads of it."""

    @property
    def plan_ttl_s(self) -> float: ...  # a command expires this long after it was sent

    @property
    def refresh_s(self) -> float: ...  # the command in force is re-sent this often


class CoreConfig(LayoutConfig, PolicyConfig, Protocol):
    """The sections step.Core reads: the estimator's (links), the service's and roadside's
    timing, do no harm, and [max_pressure].permitted_sat_ratio for the fixed-time shadow."""

    @property
    def service(self) -> FeedTiming: ...

    @property
    def roadside(self) -> PlanTiming: ...

    @property
    def harm(self) -> HarmParams: ...

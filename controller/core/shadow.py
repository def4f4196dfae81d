"""The fixed-time shadow: a point-queue replay of the junction's own program under the measured
arrivals, beside the same replay of the greens actually shown. Pure, deterministic.

The controller cannot run the city's fixed-time plan beside its own. It replays both, per
movement, with the SAME arrivals and the SAME discharge model, the two sides differing only in
the green timeline, so that the model's bias cancels in their comparison:

- arrivals a(t) (PCU): from the estimate, cumulative arrivals A(t) = D(t) + Q(t), departures
  over the stop line (`Estimate.departures_pcu`) plus the queue standing (`Estimate.queue_pcu`,
  hidden queue upstream of a blocked advance loop included). The stop line counts what left;
  the queue what is still there. Unlike the advance loop's counts, this stays right while a
  standing queue covers the advance loop. A(t) may step back when the estimator corrects its
  queue: a(t) is the rise of A above the highest A already fed, so nothing is fed twice.
  A vehicle is counted where it enters the zone between the loops, and needs the zone's
  length over the advance loops' measured speed to reach the stop line: its arrival at the
  stop line, where the point queue stands, is delayed by that travel time (per movement, whole
  ticks, at most TRANSIT_MAX_TICKS). Without it every vehicle would be charged its free travel
  through the zone as delay, on both sides, and the ratio pulled toward 1.
- discharge: at the learnt saturation flow (`Estimate.sat_flow_pcu_h`) times (1 - the exit
  blockage the estimator measures, `Estimate.block`: spill-back from downstream slows any green),
  times `permitted_ratio`
  in a phase that serves the movement only with permissive links ('g', or switched off, 'o', with
  [estimation] off_is_permitted: its drivers yield as at an unsignalled junction), as the
  policies assume,
  from `startup_lost_s` after the green's onset until `extension_s` after its end, into the
  intergreen (HCM's effective green g = G - l1 + e, the yellow's usable part). With
  `shared_lanes` ([harm] shared_lane_queue) the movements a shared lane links discharge as one
  queue (lane_groups, pooled_served): a lane is one stream, in lane order.
- fixed side: the base program of the junction model (phases in index order with their
  `base_green_s`, the derived intergreen between consecutive phases) or, with [harm]
  program_timeline, the junction's `program_timeline` (the city's program as the roadside
  reports it, its own transitions: docs/import.md rule 10), at the position
  (t - base_offset_s) mod base cycle, t the start of the second the status reports (SUMO's own
  program stands there: a positive offset delays it); after a roadside hand-back the local
  program may run shifted from it.
- controlled side: the phase the roadside status reports green (nothing in its intergreens).
- with [harm] upstream_arrivals the fixed side's arrivals are the measured ones plus what the
  neighbours upstream discharged on their fixed sides beyond their controlled sides (`inflow_pcu`
  of advance, from netshadow.inflow_pcu; fixed_arrivals); the controlled side keeps the measured.
- with [harm] measured_queue_floor the controlled side's queue is at least the estimator's less what
  is still in transit to the stop line (floor_controlled): its greens did not discharge a queue the
  loops still measure standing.
- with [harm] block_profile the fixed side's exit blockage, where its green is not the one shown at
  the same age, is the stop-line loops' standing by the age of the green, learnt under the greens
  shown (learn_profile), read at its own green's age (profile_block); a green's age runs through a
  second blocked whole (serve's `green`).

Each side is a vertical (point) queue per movement, q' = max(0, q + a - c). Its delay is the
integral of the queue (PCU s); the delay per PCU of a side is the integral over the arrivals,
both summed with exponential forgetting of time constant `window_s` (the evidence window).
Because the queue is bounded by nothing but the discharge, oversaturation shows as a growing
integral, not as a formula that explodes at x = q/c > 1.

    Program.build(layout, permitted_ratio, startup_lost_s, extension_s)     once per junction
    start(program, now_s) -> Replay                      empty queues
    advance(program, replay, est, status, now_s, window_s) -> Replay     every tick
    gains(replay) -> Gains                              the two sides over the window
    restart_evidence(replay) -> Replay                  forget the sums, align the queues

Below the replay, `ShadowState` (`initial`, `observe`, `base_green_share`) follows the signal
timing as shown: per movement, the share of time green and the interval between green onsets
(exponentially averaged), for the metrics' degree of saturation and cycle gauges.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.model import Intersection, SignalStatus

if TYPE_CHECKING:
    from controller.core.netshadow import NetworkProgram

TRANSIT_MAX_TICKS = 60  # longest travel from an advance loop to the stop line (ticks), as estimation.py
AGE_BINS = 60  # [harm] block_profile: a green's age in whole seconds, 0 .. AGE_BINS - 1 (older: the last)


@dataclass(frozen=True)
class Gains:
    """One junction (or a network) over the evidence window; delays per PCU, flows PCU/h.

    delay_fixed_s / delay_controlled_s: mean delay per arriving PCU of the replayed fixed plan /
    of the greens shown; throughput_*: PCU discharged per hour by each side; demand_pcu_h: the
    measured arrivals per hour; queue_*_pcu: the replayed queues now (a backlog one side carries
    and the other not is delay still to come); span_s: the evidence window's weight in seconds
    (grows to window_s after a restart)."""

    delay_fixed_s: float
    delay_controlled_s: float
    throughput_fixed_pcu_h: float
    throughput_controlled_pcu_h: float
    demand_pcu_h: float
    queue_fixed_pcu: float = 0.0
    queue_controlled_pcu: float = 0.0
    span_s: float = 0.0

    @property
    def delay_gain(self) -> float:
        """1 - delay_controlled / delay_fixed; 0 when the fixed side has no delay."""
        return 1.0 - self.delay_controlled_s / self.delay_fixed_s if self.delay_fixed_s > 0 else 0.0

    @property
    def throughput_gain(self) -> float:
        f = self.throughput_fixed_pcu_h
        return self.throughput_controlled_pcu_h / f - 1.0 if f > 0 else 0.0


def approaches(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """(movements,) each movement's approach (movements from one edge), numbered from 0 in
    order of first appearance, and (approaches,) the PCU the approach's lanes hold between the
    loops (Layout.lane_storage_pcu, each lane once; at least 1)."""
    edges = list(dict.fromkeys(m.from_edge for m in layout.junction.movements))
    approach = np.array([edges.index(m.from_edge) for m in layout.junction.movements], dtype=int)
    on = layout.lane_share > 0
    storage = [float(layout.lane_storage_pcu[on[approach == k].any(axis=0)].sum()) for k in range(len(edges))]
    return approach, np.maximum(np.array(storage, dtype=float), 1.0)


def approach_room_pcu(layout: Layout, approach: np.ndarray) -> np.ndarray:
    """(approaches,) the PCU each approach's own road stores upstream of its advance loops
    (Layout.lane_adv_room_pcu over the approach's lanes, each lane once: back to the first node
    where other streams merge or cross; inf where a loop's lane is a network entry, 0 without an
    advance loop). `approach`: (movements,) as `approaches` numbers them. A queue past the loops
    that stays within this room holds no traffic but the approach's own ([harm] spill_room)."""
    on = layout.lane_share > 0
    n = int(approach.max()) + 1 if len(approach) else 0
    room = [float(layout.lane_adv_room_pcu[on[approach == k].any(axis=0)].sum()) for k in range(n)]
    return np.array(room, dtype=float)


def lane_groups(lane_share: np.ndarray) -> np.ndarray | None:
    """(movements,) the group of each movement: movements linked by sharing a lane (`lane_share`,
    (movements, lanes) > 0), transitively, numbered 0.. in order of first movement; None when no
    lane is shared (every movement its own group)."""
    on = lane_share > 0
    if not (on.sum(axis=0) > 1).any():
        return None
    group = np.arange(on.shape[0])
    changed = True
    while changed:  # a movement takes the smallest group of any movement on any of its lanes
        lane_min = np.where(on, group[:, None], on.shape[0]).min(axis=0)
        new = np.minimum(group, np.where(on, lane_min[None, :], on.shape[0]).min(axis=1))
        changed = bool((new != group).any())
        group = new
    out: np.ndarray = np.unique(group, return_inverse=True)[1].astype(int)
    return out


def own_lanes_ratio(lane_share: np.ndarray) -> np.ndarray:
    """(movements,) the lanes a movement uses over its shares of them (`lane_share`, (movements,
    lanes)): its capacity (its shares of its lanes' saturation flow) times this is what its own
    lanes pass when none of its lane mates waits. 1 for a movement alone in its lanes."""
    on = lane_share > 0
    out: np.ndarray = on.sum(axis=1) / np.maximum(lane_share.sum(axis=1), 1e-12)
    return np.where(on.any(axis=1), out, 1.0)


def exit_block_lanes(layout: Layout) -> np.ndarray | None:
    """(movements, lanes): the weights that make a movement's exit blockage the mean of its
    lanes' measured blockage (LaneState.block, as Estimate.block), a lane whose blockage is its
    own head of line counted as no blockage (weight 0, still in the divisor: a movement's blockage
    measured on one lane of two is halved); None when the junction has no such lane.

    The estimator learns a lane's blockage in the phases that serve every movement on it that they
    serve at all with protected green (Layout.lane_protected), and there the head vehicle standing
    on the stop-line loop reads as spill-back from downstream. On a lane shared by movements that
    such a phase does not all serve (a through beside a protected left, in the left's stage) the
    head vehicle that stands is a lane mate waiting at its red: the lane's own head of line, not
    an exit blocked. Applied as an exit blockage it slows every green of the lane's movements,
    those that serve them all included. With shared_lane_queue the pooled queue (pooled_served)
    already gives such a lane only its green movements' share of its flow."""
    on = layout.lane_share > 0
    users = on.astype(float)
    all_served = (layout.serves.astype(float) @ users) >= users.sum(axis=0)  # (phases, lanes)
    head_of_line = (layout.lane_protected & ~all_served).any(axis=0)
    if not head_of_line.any():
        return None
    out: np.ndarray = (on & ~head_of_line[None, :]) / np.maximum(on.sum(axis=1, keepdims=True), 1)
    return out


def replay_block(program: Program | None, est: Estimate, now: bool = False) -> np.ndarray:
    """(movements,) the exit blockage the replay discharges with: Estimate.block, or with
    Program.block_lanes its lanes' measured blockage without their head of line; with `now`
    ([harm] block_now) Estimate.block_now, the last period's (the lanes' means: head_of_line's
    weights are not applied to it)."""
    if now:
        return est.block_now
    if program is None or program.block_lanes is None:
        return est.block
    out: np.ndarray = program.block_lanes @ est.lanes.block
    return out


def pooled_served(
    waiting_pcu: np.ndarray, capacity_pcu: np.ndarray, group: np.ndarray, own_ratio: np.ndarray
) -> np.ndarray:
    """(rows, movements): what each movement discharges (PCU) when the movements of one lane group
    that have capacity this interval (`capacity_pcu` > 0: served by the phase) discharge as one
    queue: a shared lane is one stream in lane order, so the group's movements leave at most at
    its summed capacity (what its lanes give), each in proportion to what waits of it (FIFO on
    average), and none beyond what its own lanes give it: its capacity x `own_ratio`
    (own_lanes_ratio), the whole of its lanes at its own rate. What a capped movement leaves of
    the group's capacity goes to the others in the same proportion (a group is linked
    transitively: a turn sharing one lane of a two-lane through never discharges on the other).
    A movement without capacity discharges nothing, whatever its lane mates do (it waits at the
    head of its lane: its own turn is red). Movements alone in their group: min(waiting_pcu,
    capacity_pcu), exactly."""
    rows, n = waiting_pcu.shape
    n_g = int(group.max()) + 1 if n else 0
    key = np.where(capacity_pcu > 0, group[None, :], n_g + np.arange(n)[None, :]) + (n_g + n) * np.arange(rows)[:, None]
    flat, size = key.ravel(), (n_g + n) * rows
    left_g = np.bincount(flat, capacity_pcu.ravel(), minlength=size)  # the group's capacity not yet used
    limit = np.minimum(waiting_pcu, capacity_pcu * own_ratio[None, :])
    served = np.zeros_like(waiting_pcu)
    for _ in range(int(np.bincount(group).max()) if n else 0):  # a pass after the first follows a cap
        open_ = served < limit
        wait = np.where(open_, waiting_pcu - served, 0.0)
        wait_g = np.bincount(flat, wait.ravel(), minlength=size)
        share = np.divide(wait, wait_g[key], out=np.zeros_like(wait), where=wait_g[key] > 0)
        want = share * np.minimum(wait_g, left_g)[key]
        capped = open_ & (want >= limit - served)
        give = np.where(capped, limit - served, np.where(open_, want, 0.0))
        served = np.where(capped, limit, served + give)
        left_g = np.maximum(left_g - np.bincount(flat, give.ravel(), minlength=size), 0.0)
        if not (capped & (want > give)).any():  # no cap bound: the proportional split stands
            break
    alone = (np.bincount(flat, minlength=size) == 1)[key]
    out: np.ndarray = np.where(alone, np.minimum(waiting_pcu, capacity_pcu), served)
    return out


def spill_pcu(queue_pcu: np.ndarray, approach: np.ndarray, storage_pcu: np.ndarray) -> float:
    """PCU of the queues (movements,) standing beyond their approach's storage: upstream of the
    approach, where they hold traffic that never crosses this signal (core/spillback.py)."""
    return float(spill_by_approach(queue_pcu[None, :], approach, storage_pcu).sum())


def spill_by_approach(queue_pcu: np.ndarray, approach: np.ndarray, storage_pcu: np.ndarray) -> np.ndarray:
    """(rows, approaches): per row of `queue_pcu` (rows, movements), the PCU of each approach's
    queue (its movements' summed) standing beyond its storage, in one bincount over all rows."""
    rows, n = queue_pcu.shape[0], len(storage_pcu)
    index = (approach[None, :] + n * np.arange(rows)[:, None]).ravel()
    q = np.bincount(index, queue_pcu.ravel(), minlength=rows * n).reshape(rows, n)
    out: np.ndarray = np.maximum(q - storage_pcu, 0.0)
    return out


@dataclass(frozen=True)
class Program:
    """Static replay data of one junction: the base program as segments of one cycle, and the
    discharge rate factor of each phase for each movement."""

    cycle_s: float
    offset_s: float
    ends_s: tuple[float, ...]  # end of each segment within the cycle, increasing, last = cycle_s
    phases: tuple[int, ...]  # the green phase of each segment, -1 for an intergreen
    service_or_red: np.ndarray  # (phases + 1, movements): 1 protected, permitted_ratio permissive, 0 not
    #                             served; the last row, index -1, all 0: an intergreen
    startup_lost_s: float  # HCM l1: no discharge this long after a green's onset
    extension_s: float  # HCM e: discharge goes on this long into the intergreen
    zone_m: np.ndarray  # (movements,) mean distance from the advance loops to the stop-line loops
    lane_zone_m: np.ndarray  # (lanes,)
    lane_mean: np.ndarray  # (movements, lanes): mean over a movement's lanes
    approach: np.ndarray | None = None  # (movements,) the movement's approach (its from edge), 0..
    approach_storage_pcu: np.ndarray | None = None  # (approaches,) PCU its lanes hold between the loops
    # (movements,) the movement's lane group (movements linked by a shared lane, numbered 0..), for
    # their discharge as one queue (serve); None: every movement its own queue
    lane_group: np.ndarray | None = None
    own_lanes_ratio: np.ndarray | None = None  # (movements,) shadow.own_lanes_ratio, with lane_group
    # (movements, lanes) the weights of the lanes' measured blockage in each movement's (exit_block_lanes);
    # None: the estimator's Estimate.block
    block_lanes: np.ndarray | None = None
    # (approaches,) approach_room_pcu ([harm] spill_room): the spill charge counts only the queue beyond the
    # approach's storage and this room; None: beyond its storage
    approach_room_pcu: np.ndarray | None = None

    @property
    def no_transit(self) -> bool:
        return not self.zone_m.any()

    @staticmethod
    def base_segments(junction: Intersection) -> tuple[tuple[int, float], ...]:
        """The base program from base_offset_s as (phase, seconds) segments: the phases in index
        order with their base_green_s, each followed by the derived intergreen to the next
        (-1); segments of 0 s left out."""
        j, out = junction, []
        n = len(j.phases)
        for k, p in enumerate(j.phases):
            out.append((k, p.base_green_s))
            out.append((-1, j.intergreen_s(k, (k + 1) % n) if n > 1 else 0.0))
        return tuple((k, s) for k, s in out if s > 0)

    @staticmethod
    def build(
        layout: Layout,
        permitted_ratio: float,
        startup_lost_s: float,
        extension_s: float,
        shared_lanes: bool = False,
        program_timeline: bool = False,
        head_of_line: bool = False,
        spill_room: bool = False,
    ) -> Program:
        """The junction's replay data; `shared_lanes` ([harm] shared_lane_queue): movements that
        share a lane discharge as one queue (lane_groups); `program_timeline` ([harm]
        program_timeline): the fixed side runs the junction's `program_timeline` (the city's
        program as the roadside reports it) where it has one, else its base program;
        `head_of_line` ([harm] head_of_line): a lane's measured blockage counts in its movements'
        discharge only where it is an exit blockage (exit_block_lanes); `spill_room` ([harm]
        spill_room): the approaches' own road upstream of their advance loops (approach_room_pcu)."""
        j = layout.junction
        segments = j.program_timeline if program_timeline and j.program_timeline else Program.base_segments(j)
        ends, phases, t = [], [], 0.0
        for k, seg_s in segments:
            t += seg_s
            ends.append(t)
            phases.append(k)
        if t <= 0:  # no base program: the fixed side is all red (cannot happen with a valid model)
            ends, phases, t = [1.0], [-1], 1.0
        service = np.where(layout.protected, 1.0, np.where(layout.serves, permitted_ratio, 0.0))
        service = np.vstack([service, np.zeros((1, len(j.movements)))])
        on = (layout.lane_share > 0).astype(float)
        lane_mean = on / np.maximum(on.sum(axis=1, keepdims=True), 1.0)
        approach, storage = approaches(layout)
        groups = lane_groups(layout.lane_share) if shared_lanes else None
        return Program(
            t,
            j.base_offset_s,
            tuple(ends),
            tuple(phases),
            service,
            startup_lost_s,
            extension_s,
            lane_mean @ layout.lane_zone_m,
            layout.lane_zone_m,
            lane_mean,
            approach,
            storage,
            groups,
            own_lanes_ratio(layout.lane_share) if groups is not None else None,
            exit_block_lanes(layout) if head_of_line else None,
            approach_room_pcu(layout, approach) if spill_room else None,
        )

    def transit_ticks(self, est: Estimate, dt: float) -> np.ndarray:
        """Per movement, whole ticks from the advance loop to the stop line at the speed the
        advance loops measure (estimation.py's default before any vehicle passed)."""
        if self.no_transit:
            return np.zeros(len(self.zone_m), dtype=int)
        speed = np.maximum(est.lanes.adv_speed_mps, 1.0)
        travel_s = self.lane_mean @ (self.lane_zone_m / speed)
        ticks: np.ndarray = np.minimum(np.rint(travel_s / max(dt, 1e-9)), TRANSIT_MAX_TICKS - 1).astype(int)
        return ticks

    def segment_at(self, t_s: float) -> int:
        """The index into `phases` of the segment the program shows during the second starting at
        t_s, on its own clock from its offset."""
        pos = (t_s - self.offset_s) % self.cycle_s
        return min(bisect.bisect_right(self.ends_s, pos), len(self.phases) - 1)

    def phase_at(self, t_s: float) -> int:
        """The fixed side's green phase during the second starting at t_s (base program or
        program timeline), -1 in an intergreen."""
        return self.phases[self.segment_at(t_s)]


@dataclass(frozen=True)
class Side:
    """Virtual queues and the sums over the evidence window: per movement for one side, or
    stacked (2, movements) for both, row FIXED and row CONTROLLED (how Replay keeps them)."""

    queue_pcu: np.ndarray
    green_s: np.ndarray  # time since the movement's green onset; 0 when red
    red_s: np.ndarray  # time since its green ended (inf before any green)
    rate_pcu_s: np.ndarray  # discharge rate of its last green
    delay_pcu_s: np.ndarray  # forgetting sum of queue x seconds
    served_pcu: np.ndarray  # forgetting sum of PCU discharged

    @staticmethod
    def empty(shape: tuple[int, ...]) -> Side:
        z = np.zeros(shape)
        return Side(z, z, np.full(shape, np.inf), z, z, z)

    def row(self, k: int) -> Side:
        return Side(*(getattr(self, f.name)[k] for f in fields(Side)))


FIXED, CONTROLLED = 0, 1


@dataclass(frozen=True)
class Replay:
    t_s: float
    fed_pcu: np.ndarray  # (movements,) cumulative arrivals fed so far (the highest A(t) seen)
    arrived_pcu: np.ndarray  # (movements,) forgetting sum of arrivals since the last restart
    span_s: float  # forgetting sum of seconds since the last restart
    agree_s: float  # ... of seconds the two sides showed the same phase
    sides: Side  # (2, movements): FIXED, CONTROLLED
    pending_pcu: np.ndarray  # (TRANSIT_MAX_TICKS, movements) ring: counted, not yet at the stop line
    head: int = 0  # the ring's row that reaches the stop line at the next tick
    demand_pcu: float = 0.0  # forgetting sum of arrivals, never restarted (demand shifts)
    demand_s: float = 0.0  # ... of seconds
    held_pcu: float = 0.0  # forgetting sum of the PCU standing at the last restart (their wait is in the sums)
    # [harm] upstream_arrivals (netshadow.Inflow; None: off, or nothing yet): the fixed side's arrivals
    # beyond the measured ones, counted at the advance loops and not yet at the stop line
    # (TRANSIT_MAX_TICKS, movements, the ring of pending_pcu); the PCU the fixed side still owes
    # (movements, <= 0: more left its upstream's controlled side than its fixed side, fixed_arrivals);
    # and the last interval's discharge of the fixed side less the controlled side's (movements,),
    # which the neighbours downstream are sent
    extra_pcu: np.ndarray | None = None
    owed_pcu: np.ndarray | None = None
    outflow_pcu: np.ndarray | None = None
    # [harm] blocked_discharge (None: off, or nothing yet): (3, movements) the stop-line loops' cumulative
    # departures at the last tick, and the forgetting sums of the blocked-discharge fit (learn_blocked)
    blocked_fit: np.ndarray | None = None
    # [harm] block_profile (None: off, or nothing yet): (2 x AGE_BINS, movements) the forgetting sums, per age of
    # the green in whole seconds, of the seconds the stop-line loops' standing was read under the greens shown and
    # of that standing x those seconds (learn_profile)
    block_profile: np.ndarray | None = None

    @property
    def fixed(self) -> Side:
        return self.sides.row(FIXED)

    @property
    def controlled(self) -> Side:
        return self.sides.row(CONTROLLED)

    @property
    def demand_pcu_h(self) -> float:
        """Measured arrivals per hour over the window, continuous across restarts."""
        return self.demand_pcu / self.demand_s * 3600.0 if self.demand_s > 0 else 0.0

    @property
    def agreement(self) -> float:
        """Share of the window in which the signal showed what the base program shows (1 under
        the city's own plan when the model of that plan is right)."""
        return self.agree_s / self.span_s if self.span_s > 0 else 1.0


def start(program: Program, n_movements: int, now_s: float, arrived_pcu: np.ndarray | None = None) -> Replay:
    """An empty replay at now_s; `arrived_pcu`: cumulative arrivals already counted (not fed)."""
    fed = np.zeros(n_movements) if arrived_pcu is None else np.asarray(arrived_pcu, dtype=float)
    return Replay(
        now_s,
        fed,
        np.zeros(n_movements),
        0.0,
        0.0,
        Side.empty((2, n_movements)),
        np.zeros((TRANSIT_MAX_TICKS, n_movements)),
    )


def serve(
    s: Side,
    arrivals: np.ndarray,
    rate: np.ndarray,
    program: Program | NetworkProgram,
    dt: float | np.ndarray,
    keep: float | np.ndarray,
    green: np.ndarray | None = None,
) -> Side:
    """One interval of dt seconds, both sides at once; `rate` (2, movements): the discharge rate
    each side's signal gives (0 when red). Arrivals join; a green discharges after its start-up
    loss, a green just ended for its extension. `dt` and `keep` are one number for one
    junction, or per movement for the network's replay (netshadow); the program gives the
    start-up loss and extension per movement either way. `green` (2, movements; [harm]
    block_profile): the movements each side's signal serves, whatever their rate (a second blocked
    whole neither ends the green nor restarts it: its age runs on); None: where `rate` > 0."""
    green = rate > 0 if green is None else green
    green_s = np.where(green, s.green_s + dt, 0.0)
    red_s = np.where(green, 0.0, np.where(s.green_s > 0, dt, s.red_s + dt))
    last_rate = np.where(green, rate, s.rate_pcu_s)
    usable_s = np.where(green, green_s - program.startup_lost_s, program.extension_s - red_s + dt)
    capacity = last_rate * np.minimum(np.maximum(usable_s, 0.0), dt)
    waiting = s.queue_pcu + arrivals
    if program.lane_group is None or program.own_lanes_ratio is None:
        served = np.minimum(waiting, capacity)
    else:  # [harm] shared_lane_queue: a shared lane's movements as one queue
        served = pooled_served(waiting, capacity, program.lane_group, program.own_lanes_ratio)
    queue = waiting - served
    return Side(queue, green_s, red_s, last_rate, s.delay_pcu_s * keep + queue * dt, s.served_pcu * keep + served)


def measured_floor_pcu(queue_pcu: np.ndarray, blind: np.ndarray, pending_pcu: np.ndarray) -> np.ndarray:
    """(movements,) the least queue the controlled side's replay holds at the stop line ([harm]
    measured_queue_floor): the estimator's queue (`queue_pcu`, Estimate.queue_pcu: between the
    loops and hidden upstream, measured under the greens shown) less what the replay still has in
    transit to the stop line (`pending_pcu`, the ring (TRANSIT_MAX_TICKS, movements): counted, not
    yet at the point queue); 0 on a movement without loops (`blind`: its queue is a prior, not a
    measurement). May be negative (no floor)."""
    out: np.ndarray = np.where(blind, 0.0, queue_pcu - pending_pcu.sum(axis=0))
    return out


def floor_controlled(sides: Side, floor_pcu: np.ndarray, dt: float | np.ndarray) -> Side:
    """`sides` after one interval of `dt` s with the controlled side's queue lifted to at least
    `floor_pcu` (measured_floor_pcu), its delay sum by the lift x dt and its served sum less the
    lift; the fixed side as it is.

    The controlled side replays the greens actually shown, and the stop-line loops count what
    those greens passed: a queue the loops still measure standing has not been discharged. Where
    the replay's discharge is faster than the street's (a blocked exit: the point queue leaves at
    the saturation flow x (1 - the blockage) where SUMO's blocked lane lets a vehicle go only as
    the queue ahead moves), the replay empties a queue that stands: the PCU the loops measure
    beyond it are put back. A replayed queue at or above the measured one is unchanged (the
    replay's slower discharge, its phantom, is the model's own on both sides and is left alone)."""
    lift = np.maximum(floor_pcu - sides.queue_pcu[CONTROLLED], 0.0)
    if not lift.any():
        return sides
    queue, delay, served = sides.queue_pcu.copy(), sides.delay_pcu_s.copy(), sides.served_pcu.copy()
    queue[CONTROLLED] += lift
    delay[CONTROLLED] += lift * dt
    served[CONTROLLED] -= lift
    return replace(sides, queue_pcu=queue, delay_pcu_s=delay, served_pcu=served)


@dataclass(frozen=True)
class BlockedFit:
    """[harm] blocked_discharge's bounds and evidence (HarmParams.blocked_fit builds it from config.toml:
    the defaults live there). `evidence_z`: beta leaves its prior (1) only as far as its estimate lies
    beyond this many standard errors of the fit (shrunk toward 1 otherwise: blocked_ratio);
    `min_blocked_s`: the seconds of measured blockage (the blockage x the usable green, summed over
    the queued protected greens the fit reads, forgotten as the fit) before beta may leave 1;
    `ratio_max`: the most one unit of measured blockage may take, in units of the flow it measures
    (beta <= ratio_max); `share_max`: the largest share of the saturation flow a scaled blockage takes
    (a green keeps some discharge; serve reads a rate of 0 as red)."""

    evidence_z: float
    min_blocked_s: float
    ratio_max: float
    share_max: float


# rows of the blocked-discharge fit (learn_blocked): the stop-line loops' cumulative count at the last tick,
# then forgetting sums over the queued protected greens read: c the model's capacity (s u), x its blocked
# part (b s u), y the count; n the intervals; the seconds of blockage (b u)
FIT_DEPARTED, FIT_CC, FIT_CX, FIT_XX, FIT_CY, FIT_XY, FIT_YY, FIT_N, FIT_BLOCKED_S = range(9)


def blocked_ratio(fit: np.ndarray | None, bounds: BlockedFit | None) -> np.ndarray | None:
    """(movements,) beta: how much of the flow one unit of measured exit blockage takes, as the stop-line
    loops show it ([harm] blocked_discharge; learn_blocked); 1 (the replay's own model) unless they show
    otherwise beyond their error. None: off (`fit` or `bounds` None).

    The counts y of the queued protected greens are fitted, by least squares through 0, as
    y = a c - d x (c = s u the model's capacity, x = b c its blocked part): `a` the street's unblocked
    discharge over the model's (the saturation flow's own error, apart), d = a beta. beta = d / a, its
    standard error se by the delta method from the residual variance. It is shrunk toward 1 by the
    positive-part factor max(0, 1 - (z se / (beta - 1))^2) (z = `bounds.evidence_z`: 1 until the fit's
    residual beats the prior's by z^2 residual variances), held at 1 until `bounds.min_blocked_s` of
    blockage have been seen or where c and x are (near) collinear (a constant blockage cannot be told
    from the saturation flow's error), and bounded to [0, `bounds.ratio_max`]."""
    if fit is None or bounds is None:
        return None
    _, beta_hat, se = blocked_fit_terms(fit)
    ok = np.isfinite(se) & (fit[FIT_BLOCKED_S] >= bounds.min_blocked_s)
    gap = np.where(ok, beta_hat - 1.0, 0.0)
    shrink = 1.0 - (bounds.evidence_z * np.where(ok, se, 0.0)) ** 2 / np.where(gap != 0.0, gap * gap, 1.0)
    weight = np.where(ok & (gap != 0.0), np.maximum(shrink, 0.0), 0.0)
    out: np.ndarray = np.clip(1.0 + weight * gap, 0.0, bounds.ratio_max)
    return out


def blocked_fit_terms(fit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(movements,) each: the fit's `a` (the street's unblocked discharge over the model's), its own beta
    (d / a) and beta's standard error (delta method; inf where the fit cannot tell: fewer than 3 intervals,
    the capacity and its blocked part (near) collinear, or a <= 0) (blocked_ratio)."""
    cc, cx, xx, cy, xy, yy, n = (fit[k] for k in (FIT_CC, FIT_CX, FIT_XX, FIT_CY, FIT_XY, FIT_YY, FIT_N))
    det = cc * xx - cx * cx
    ok = (det > 1e-6 * cc * xx) & (n > 2.0)
    safe = np.where(ok, det, 1.0)
    a = np.where(ok, (xx * cy - cx * xy) / safe, 1.0)
    d = np.where(ok, (cx * cy - cc * xy) / safe, 1.0)  # y = a c - d x
    ok &= a > 0
    a = np.where(ok, a, 1.0)
    var = np.maximum(yy - a * cy + d * xy, 0.0) / np.maximum(n - 2.0, 1.0)  # residual variance of one interval
    var_a, var_d, cov = var * xx / safe, var * cc / safe, var * cx / safe  # cov(a, d): y = a c - d x
    beta = np.where(ok, d / a, 1.0)
    var_beta = np.maximum(var_d + beta**2 * var_a - 2.0 * beta * cov, 0.0) / a**2
    return a, beta, np.where(ok, np.sqrt(var_beta), np.inf)


def scaled_block(block: np.ndarray, beta: np.ndarray | None, share_max: float) -> np.ndarray:
    """The exit blockage a side discharges with: its measured (or, on the fixed side, explained)
    `block` x `beta` (blocked_ratio), at least 0 and at most `share_max` (BlockedFit.share_max; or
    `block` where that is more); `block` itself without beta."""
    if beta is None:
        return block
    out: np.ndarray = np.minimum(np.maximum(block * beta, 0.0), np.maximum(block, share_max))
    return out


def learn_blocked(
    fit: np.ndarray | None,
    departures_pcu: np.ndarray,
    sat_flow_pcu_h: np.ndarray,
    queue_pcu: np.ndarray,
    blind: np.ndarray,
    block: np.ndarray,
    service: np.ndarray,
    green_s: np.ndarray,
    startup_lost_s: float | np.ndarray,
    dt: float | np.ndarray,
    keep: float | np.ndarray,
) -> np.ndarray:
    """The blocked-discharge fit after one interval ([harm] blocked_discharge): (9, movements), the
    stop-line loops' cumulative departures now and the forgetting sums blocked_ratio fits (FIT_*).

    The replay discharges a protected green at the saturation flow s x (1 - b), b the measured exit
    blockage (`block`, the controlled side's: replay_block). Where the exit is blocked a lane lets a
    vehicle go only as the queue ahead moves, and the street's discharge differs from that. The fit
    reads the intervals in which the controlled side shows the movement a protected green (`service`
    1; its usable part u after the start-up loss, `green_s` the time since the onset before this
    interval) and the loops see a queue standing (Estimate.queue_pcu >= 1 PCU, where the estimator
    learns the blockage), blocked or not (the unblocked ones measure the saturation flow's own error):
    the model's capacity c = s u, its blocked part x = b c and the stop-line loop's count y. A movement
    without loops (`blind`) learns nothing; the first interval has no count."""
    last = blocked_fit_or_new(fit, len(block))
    counted = departures_pcu - last[FIT_DEPARTED]
    usable = np.minimum(np.maximum(green_s + dt - startup_lost_s, 0.0), dt)
    use = (service == 1.0) & (usable > 0) & (queue_pcu >= 1.0) & ~blind & np.isfinite(counted)
    c = np.where(use, sat_flow_pcu_h / 3600.0 * usable, 0.0)
    x = np.where(use, block, 0.0) * c
    y = np.where(use, counted, 0.0)
    terms = (c * c, c * x, x * x, c * y, x * y, y * y, use.astype(float), np.where(use, block * usable, 0.0))
    return np.stack([departures_pcu.astype(float), *(last[k + 1] * keep + t for k, t in enumerate(terms))])


def age_bin(green_s: np.ndarray) -> np.ndarray:
    """The profile's row (block_profile) of a green `green_s` old: its whole seconds, at most AGE_BINS - 1."""
    out: np.ndarray = np.minimum(np.floor(green_s), AGE_BINS - 1).astype(int)
    return out


def learn_profile(
    profile: np.ndarray | None,
    standing: np.ndarray,
    service_c: np.ndarray,
    age_c_s: np.ndarray,
    startup_lost_s: float | np.ndarray,
    queue_pcu: np.ndarray,
    blind: np.ndarray,
    dt: float | np.ndarray,
    keep: float | np.ndarray,
) -> np.ndarray:
    """[harm] block_profile: the profile of the exit blockage by the age of the green, learnt from the greens shown.

    Per movement, over the intervals in which the controlled side shows it a protected green (`service_c` 1) past its
    start-up loss, whose age at the interval's start is `age_c_s` (s), and the loops see a queue standing
    (`queue_pcu` >= 1 PCU, where the estimator reads the blockage; not `blind`), the seconds and the stop-line loops'
    standing x the seconds (`standing`: Estimate.block_now, the share of the last period the loop stood) are added to
    the row of that age (age_bin). Every row forgets at `keep` ((2 x AGE_BINS, movements), a new one when
    `profile` is None). A blockage builds as the green discharges into the exit (the exit fills): its profile by
    age is what the fixed side reads at its own green's age (profile_block)."""
    n = len(standing)
    use = (service_c == 1.0) & (age_c_s + dt - startup_lost_s > 0) & (queue_pcu >= 1.0) & ~blind
    out: np.ndarray = (np.zeros((2 * AGE_BINS, n)) if profile is None else profile) * keep
    rows, cols = age_bin(age_c_s), np.arange(n)
    out[rows, cols] += np.where(use, dt, 0.0)
    out[AGE_BINS + rows, cols] += np.where(use, standing * dt, 0.0)
    return out


def profile_block(
    profile: np.ndarray | None, age_f_s: np.ndarray, green_f: np.ndarray, same: np.ndarray, block: np.ndarray
) -> np.ndarray:
    """(movements,) [harm] block_profile: the exit blockage the fixed side's green meets, before the spill rule.

    Where the fixed side shows the movement a green (`green_f`) of another age than the controlled side's (`same`:
    both green, of the same age) its blockage is the profile's mean standing at its own green's age `age_f_s`
    (learn_profile), where that age has been read; elsewhere the blockage measured under the greens shown (`block`,
    the controlled side's): under the city's plan both sides stay equal."""
    if profile is None:
        return block
    rows, cols = age_bin(age_f_s), np.arange(len(block))
    seen, stood = profile[rows, cols], profile[AGE_BINS + rows, cols]
    read = np.divide(stood, seen, out=np.zeros_like(block), where=seen > 0)
    out: np.ndarray = np.where(green_f & ~same & (seen > 0), read, block)
    return out


def controlled_phase(status: SignalStatus | None) -> int:
    """The green phase the roadside reports, -1 in its intergreens or without a status."""
    if status is None or status.in_intergreen:
        return -1
    return status.phase


def _to_stop_line(
    program: Program, replay: Replay, counted: np.ndarray, est: Estimate, dt: float, ring: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Queue the PCU counted this tick for their transit; return those reaching the stop line
    now, the ring and its new head. `ring`: another ring than the replay's pending_pcu, on the
    same head (the fixed side's extra arrivals)."""
    pending = (replay.pending_pcu if ring is None else ring).copy()
    rows = (replay.head + program.transit_ticks(est, dt)) % TRANSIT_MAX_TICKS
    pending[rows, np.arange(len(counted))] += counted
    arrivals = pending[replay.head].copy()
    pending[replay.head] = 0.0
    return arrivals, pending, (replay.head + 1) % TRANSIT_MAX_TICKS


def fixed_arrivals(arrivals: np.ndarray, extra_pcu: np.ndarray, owed_pcu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fixed side's arrivals at the stop line ([harm] upstream_arrivals) and what it still
    owes: the measured `arrivals` plus the `extra_pcu` its signalised neighbours' fixed sides sent
    beyond their controlled sides (negative where they sent less), plus `owed_pcu` (<= 0) carried
    from before; never below 0, the shortfall carried (the cumulative sum is kept)."""
    total = arrivals + extra_pcu + owed_pcu
    return np.maximum(total, 0.0), np.minimum(total, 0.0)


def outflow_pcu(queue_pcu: np.ndarray, arrivals: np.ndarray, sides: Side) -> np.ndarray:
    """(movements,) the interval's discharge of the fixed side less the controlled side's, from
    the queues before (`queue_pcu`, (2, movements)), the arrivals fed ((2, movements)) and the
    sides after: what the fixed plan would have sent downstream beyond what the greens shown sent."""
    served = queue_pcu + arrivals - sides.queue_pcu
    out: np.ndarray = served[FIXED] - served[CONTROLLED]
    return out


def advance(
    program: Program,
    replay: Replay,
    est: Estimate,
    status: SignalStatus | None,
    now_s: float,
    window_s: float,
    block_fixed: np.ndarray | None = None,
    inflow_pcu: np.ndarray | None = None,
    queue_floor: bool = False,
    blocked: BlockedFit | None = None,
    block_now: bool = False,
    block_profile: bool = False,
) -> Replay:
    """Replay the interval since the last call (ending at now_s) on both sides: the controlled side at the signal
    `status` reports, the fixed side at the base program at the interval's start, both fed the arrivals the estimate
    added. `block_fixed` (movements,): the fixed side's exit blockage (netshadow.fixed_block; None: replay_block's).
    `inflow_pcu` ([harm] upstream_arrivals, netshadow.inflow_pcu): the fixed side's extra arrivals, counted at the
    advance loops (fixed_arrivals). The keys, as in the module's docstring: `queue_floor` ([harm]
    measured_queue_floor: floor_controlled), `blocked` ([harm] blocked_discharge's bounds: discharge_rates),
    `block_now` ([harm] block_now: Estimate.block_now on both sides, replay_block), `block_profile` ([harm]
    block_profile: without `block_fixed` the fixed side's blockage by its green's age, _by_age)."""
    dt = now_s - replay.t_s
    if dt <= 0:
        return replay
    fed = np.maximum(replay.fed_pcu, est.departures_pcu + est.queue_pcu)
    arrivals, pending, head = _to_stop_line(program, replay, fed - replay.fed_pcu, est, dt)
    fed_both, extra, owed = _fed_both(program, replay, arrivals, inflow_pcu, est, dt)
    block = replay_block(program, est, block_now)
    keep = math.exp(-dt / window_s)
    # the status read at now_s: the signal one tick earlier, a program there at its position one tick before (SUMO)
    p_fixed = program.phase_at(now_s - 2.0 * dt)
    p_ctrl = controlled_phase(status)
    service = program.service_or_red[[p_fixed, p_ctrl]]
    block_fixed, profile, green = _by_age(program, replay, est, service, block, block_fixed, dt, keep, block_profile)
    sat_pcu_s = discharge_rates(est.sat_flow_pcu_h, block, block_fixed, replay.blocked_fit, blocked)
    rate = service * sat_pcu_s
    fit = _learn_blocked(program, replay, est, block, p_ctrl, dt, keep) if blocked else None
    sides = serve(replay.sides, fed_both, rate, program, dt, keep, green)
    if queue_floor:
        sides = floor_controlled(sides, measured_floor_pcu(est.queue_pcu, est.blind, pending), dt)
    return Replay(
        t_s=now_s,
        fed_pcu=fed,
        arrived_pcu=replay.arrived_pcu * keep + arrivals,
        span_s=replay.span_s * keep + dt,
        agree_s=replay.agree_s * keep + (dt if p_fixed == p_ctrl else 0.0),
        sides=sides,
        pending_pcu=pending,
        head=head,
        demand_pcu=replay.demand_pcu * keep + float(sum(arrivals.tolist())),  # sequential, as netshadow's sums
        demand_s=replay.demand_s * keep + dt,
        held_pcu=replay.held_pcu * keep,
        extra_pcu=extra,
        owed_pcu=owed,
        outflow_pcu=None if extra is None else outflow_pcu(replay.sides.queue_pcu, fed_both, sides),
        blocked_fit=fit,
        block_profile=profile,
    )


def _by_age(
    program: Program,
    replay: Replay,
    est: Estimate,
    service: np.ndarray,
    block: np.ndarray,
    block_fixed: np.ndarray | None,
    dt: float,
    keep: float,
    on: bool,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """[harm] block_profile for one junction's interval (both sides' `service`, (2, movements)): the fixed side's
    blockage (`block_fixed` as given, else read by its green's age from the measured `block`: profile_block), the
    profile learnt (learn_profile) and both sides' greens (serve's `green`); `on` false: `block_fixed`, None, None."""
    if not on:
        return block_fixed, None, None
    green, age = service > 0, replay.sides.green_s
    if block_fixed is None:
        same = green[FIXED] & green[CONTROLLED] & (age[FIXED] == age[CONTROLLED])
        block_fixed = profile_block(replay.block_profile, age[FIXED], green[FIXED], same, block)
    measured = (est.queue_pcu, est.blind, dt, keep)
    lost_s = program.startup_lost_s
    profile = learn_profile(
        replay.block_profile, est.block_now, service[CONTROLLED], age[CONTROLLED], lost_s, *measured
    )
    return block_fixed, profile, green


def discharge_rates(
    sat_flow_pcu_h: np.ndarray,
    block: np.ndarray,
    block_fixed: np.ndarray | None,
    fit: np.ndarray | None,
    bounds: BlockedFit | None = None,
) -> np.ndarray:
    """The saturation flow (PCU/s) x (1 - the exit blockage: spill-back from downstream slows the
    discharge, whichever side's green): (movements,) for both sides with `block`, or (2, movements)
    with the fixed side's own `block_fixed`; with a blocked-discharge `fit` and its `bounds` ([harm]
    blocked_discharge) each side's blockage scaled by the movement's blocked_ratio (scaled_block)."""
    beta = blocked_ratio(fit, bounds)
    share_max = 0.0 if bounds is None else bounds.share_max
    sat_pcu_s = sat_flow_pcu_h / 3600.0 * (1.0 - scaled_block(block, beta, share_max))
    if block_fixed is None:
        return sat_pcu_s
    return np.stack([sat_flow_pcu_h / 3600.0 * (1.0 - scaled_block(block_fixed, beta, share_max)), sat_pcu_s])


def _learn_blocked(
    program: Program, replay: Replay, est: Estimate, block: np.ndarray, p_ctrl: int, dt: float, keep: float
) -> np.ndarray:
    """learn_blocked for one junction's replay over one interval, its controlled side at `p_ctrl`."""
    measured = (est.departures_pcu, est.sat_flow_pcu_h, est.queue_pcu, est.blind)
    service_c, green_s = program.service_or_red[p_ctrl], replay.sides.green_s[CONTROLLED]
    return learn_blocked(replay.blocked_fit, *measured, block, service_c, green_s, program.startup_lost_s, dt, keep)


def blocked_fit_or_new(fit: np.ndarray | None, n: int) -> np.ndarray:
    """The blocked-discharge fit, or a new one (no count yet, no evidence)."""
    return np.vstack([np.full(n, np.nan), np.zeros((FIT_BLOCKED_S, n))]) if fit is None else fit


def _fed_both(
    program: Program, replay: Replay, arrivals: np.ndarray, inflow_pcu: np.ndarray | None, est: Estimate, dt: float
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The arrivals both sides are fed this interval: the measured `arrivals` alone (movements,),
    or with `inflow_pcu` ([harm] upstream_arrivals) (2, movements), the fixed side's through its
    own transit ring and what it owes (fixed_arrivals); and that ring and what is owed then."""
    if inflow_pcu is None:
        return arrivals, None, None
    n = len(arrivals)
    ring = replay.extra_pcu if replay.extra_pcu is not None else np.zeros((TRANSIT_MAX_TICKS, n))
    now_extra, extra, _ = _to_stop_line(program, replay, inflow_pcu, est, dt, ring)
    a_fixed, owed = fixed_arrivals(arrivals, now_extra, np.zeros(n) if replay.owed_pcu is None else replay.owed_pcu)
    return np.stack([a_fixed, arrivals]), extra, owed


def restart_evidence(replay: Replay) -> Replay:
    """Forget the sums, and start the fixed side from the controlled side's queues: from here on
    the evidence measures only what the two timelines do differently (after a change of mode).
    The PCU standing now wait on in the delay sums: they count among the window's PCU (held_pcu,
    pcu_in_window), as an arrival now would."""
    c = replay.sides

    def both(a: np.ndarray) -> np.ndarray:
        return np.stack([a[CONTROLLED], a[CONTROLLED]])

    z = np.zeros_like(c.queue_pcu)
    return replace(
        replay,
        arrived_pcu=np.zeros_like(replay.arrived_pcu),
        span_s=0.0,
        agree_s=0.0,
        sides=Side(both(c.queue_pcu), both(c.green_s), both(c.red_s), both(c.rate_pcu_s), z, z),
        held_pcu=float(c.queue_pcu[CONTROLLED].sum()),
        extra_pcu=None,  # upstream_arrivals: the fixed side starts from the controlled side's arrivals too
        owed_pcu=None,
        outflow_pcu=None,
    )


def pcu_in_window(replay: Replay) -> float:
    """The PCU whose wait the delay sums hold (forgetting-weighted): those arrived since the last
    restart and those already standing at it (held_pcu), and never fewer than either side's
    queue now (each of those PCU stands in the window now, at full weight). The sums integrate
    both sides' queues, the inherited queue included; dividing by the arrivals alone gives, when
    a queue stands and nothing new arrives (a lock), a delay per PCU without bound (1.8e14 s/PCU
    on ingolstadt21), more than any PCU can have waited in the window."""
    standing = float(replay.sides.queue_pcu.sum(axis=1).max())
    return max(float(replay.arrived_pcu.sum()) + replay.held_pcu, standing)


def gains(replay: Replay) -> Gains:
    """The two sides of one junction over the evidence window (delays per PCU of pcu_in_window,
    the demand from the arrivals alone)."""
    arrived = float(replay.arrived_pcu.sum())
    s = replay.sides  # rows FIXED and CONTROLLED summed at once: each row's sum is its own `.sum()` to the bit
    queue, delay, served = (_row_sums(a) for a in (s.queue_pcu, s.delay_pcu_s, s.served_pcu))
    present = max(arrived + replay.held_pcu, _standing(s.queue_pcu, queue))  # pcu_in_window's, its sums taken once
    per_h = 3600.0 / replay.span_s if replay.span_s > 0 else 0.0
    return Gains(
        delay_fixed_s=delay[FIXED] / present if present > 0 else 0.0,
        delay_controlled_s=delay[CONTROLLED] / present if present > 0 else 0.0,
        throughput_fixed_pcu_h=served[FIXED] * per_h,
        throughput_controlled_pcu_h=served[CONTROLLED] * per_h,
        demand_pcu_h=arrived * per_h,
        queue_fixed_pcu=queue[FIXED],
        queue_controlled_pcu=queue[CONTROLLED],
        span_s=replay.span_s,
    )


def _row_sums(rows: np.ndarray) -> list[float]:
    """Each row's sum of a (2, movements) array as floats, as each row's own `.sum()` gives it:
    one reduction along the movements where each row is contiguous (numpy then sums each row in
    the same pairwise order); row by row otherwise (a reduction along strided rows, e.g. of a
    Fortran-ordered array, runs down the columns: another order, other bits)."""
    if _rows_contiguous(rows):
        out: list[float] = rows.sum(axis=1).tolist()
        return out
    return [float(row.sum()) for row in rows]


def _rows_contiguous(rows: np.ndarray) -> bool:
    return bool(rows.strides[1] == rows.itemsize)


def _standing(queue_pcu: np.ndarray, sums: list[float]) -> float:
    """pcu_in_window's `float(queue_pcu.sum(axis=1).max())` to the bit from the rows' sums
    (_row_sums): where the rows are contiguous those are its sums, and of two the larger as numpy's
    maximum takes it (a NaN in either gives NaN; of two equal, the first); elsewhere its own call."""
    if not _rows_contiguous(queue_pcu):
        return float(queue_pcu.sum(axis=1).max())
    a, b = sums
    return a if a >= b or a != a else b


def delay_controlled_s(replay: Replay) -> float:
    """gains(replay).delay_controlled_s to the bit (the same operations), without the other figures:
    what the heartbeat's junction table shows of every junction (operators.junction_table)."""
    present = pcu_in_window(replay)
    return float(replay.sides.delay_pcu_s[CONTROLLED].sum()) / present if present > 0 else 0.0


def total(gains_by_junction: list[Gains] | tuple[Gains, ...]) -> Gains:
    """Network figures: delays weighted by each junction's demand (a mean delay per PCU of the
    network), flows and queues summed, the shortest span."""
    g = list(gains_by_junction)
    demand = sum(x.demand_pcu_h for x in g)

    def w(attr: str) -> float:
        return sum(x.demand_pcu_h * getattr(x, attr) for x in g) / demand if demand > 0 else 0.0

    return Gains(
        delay_fixed_s=w("delay_fixed_s"),
        delay_controlled_s=w("delay_controlled_s"),
        throughput_fixed_pcu_h=sum(x.throughput_fixed_pcu_h for x in g),
        throughput_controlled_pcu_h=sum(x.throughput_controlled_pcu_h for x in g),
        demand_pcu_h=demand,
        queue_fixed_pcu=sum(x.queue_fixed_pcu for x in g),
        queue_controlled_pcu=sum(x.queue_controlled_pcu for x in g),
        span_s=min((x.span_s for x in g), default=0.0),
    )


# -- The signal timing as shown: green shares and intervals between green onsets ------------------
# For the metrics' degree of saturation and cycle gauges (controller/adapters/metrics.py).


def base_green_share(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Per movement under the base program: the share of the cycle it is green, and the mean
    interval between its green onsets (s). A movement green in two stages separated by an
    intergreen has two onsets per cycle — counted the way `observe` sees the roadside status,
    where an intergreen is not green."""
    j = layout.junction
    n = len(j.phases)
    cycle_s = j.base_cycle_s()
    share = np.zeros(len(j.movements))
    onsets = np.zeros(len(j.movements))
    served = layout.serves  # as `observe` reads the status
    for k, p in enumerate(j.phases):
        prev = (k - 1) % n
        for i in range(len(j.movements)):
            if served[k, i]:
                share[i] += p.base_green_s
                continuing = n > 1 and served[prev, i] and j.intergreen_s(prev, k) == 0
                onsets[i] += 0 if continuing else 1
    return share / cycle_s, cycle_s / np.maximum(onsets, 1)


@dataclass(frozen=True)
class ShadowState:
    t_s: float
    green_share: np.ndarray  # EWMA of "this movement is green now"
    cycle_s: np.ndarray  # EWMA of the interval between green onsets
    last_onset_s: np.ndarray
    was_green: np.ndarray


def initial(layout: Layout, now_s: float) -> ShadowState:
    """The base program's green shares and onset intervals, at `now_s`."""
    share, cycle_s = base_green_share(layout)
    n = len(share)
    return ShadowState(now_s, share, cycle_s, np.full(n, np.nan), np.zeros(n, dtype=bool))


def observe(
    state: ShadowState, layout: Layout, status: SignalStatus | None, now_s: float, window_s: float
) -> ShadowState:
    """Fold the signal state of the last interval into the green shares and cycles."""
    if status is None:
        return replace(state, t_s=now_s)
    dt = max(now_s - state.t_s, 0.0)
    # layout.serves[phase]: the movements j.served_movements(phase) names, as a mask, and with
    # [estimation] off_is_permitted those on a link switched off ('o') there
    green = np.zeros(len(state.was_green), dtype=bool) if status.in_intergreen else layout.serves[status.phase]
    alpha = min(1.0, dt / window_s)
    share = (1 - alpha) * state.green_share + alpha * green
    onset = green & ~state.was_green
    interval = now_s - state.last_onset_s
    valid = onset & np.isfinite(interval)
    cycle = np.where(valid, (1 - 0.2) * state.cycle_s + 0.2 * interval, state.cycle_s)
    last = np.where(onset, now_s, state.last_onset_s)
    return ShadowState(now_s, share, cycle, last, green)

"""`schedule`: rolling-horizon, schedule-driven control in the spirit of SURTRAC
(Xie, Smith & Barlow, ICAPS 2012; Smith et al. 2013).

Each junction turns what it knows of the traffic over the coming seconds into *clusters* per
phase (SURTRAC's jobs): the queue standing at the stop line (arrived now), then the vehicles
expected at the stop line, grouped where they are `cluster_gap_s` apart and cut every
`cluster_max_s` (a steady stream is not one indivisible job). Expected arrivals come from

- the neighbours: the departures of the upstream junctions already on their way here, each
  shifted by the learnt link travel time (core NetworkView; SURTRAC's "outflows sent to the
  downstream neighbours", here read from the neighbours' own detector feed by the core), over
  the travel time they cover;
- the advance loops' arrival flow, over `steady_s` seconds where the upstream departures do
  not predict them (network entries, and beyond the travel time): the queue a red phase will
  have grown when it is served (SURTRAC's anticipated queue), and what extending a green lets
  through. Without it the programme charged only the vehicles already seen and held greens for
  predicted platoons while the other phases' queues grew unseen.

A forward dynamic programme then orders the clusters (Xie, Smith & Barlow 2012): the state is
how many clusters of each phase have been served and which phase is green; a cluster served
from time t costs its vehicles' waiting until t (arrivals spread over the cluster, discharge at
saturation once queued: `Cluster.job`) and lasts until its queued part has discharged or
its last vehicle has arrived; a switch costs the intergreen plus the start-up loss, and the
permitted-turn clearance phase (as max_pressure) when the policy will insert one; every green
lasts at least its minimum and at most its maximum. The schedule with the least total delay
wins; only its first step is applied (extend the current phase, or change to the phase of its
first cluster), recomputed every `replan_s` once min green is served.

Service: the learnt saturation flow, slowed by the exit blockage: the blockage the estimator
measured at the own stop line, or, where the exit is learnt (NetworkView), the room left on the
neighbour approach it feeds against the queue that would enter it (`exit_rate_ratio`), whichever
is the slower; no lower than `min_rate_ratio`. The part of a standing queue spilled upstream of
the advance loops is charged twice in its delay, as max_pressure counts it
(core/spillback.py): it also holds the link before the approach.
A movement is charged to the green phase when that phase serves it (a permitted turn at
`permitted_sat_ratio`), else to its primary phase: among the phases that green all its links
(`full_service`), a protected one, else the longest in the base program.
A queued movement of the green phase with no vehicle over the stop line for `stall_s` (past the
start-up loss) is blocked — its head waits for another phase on a shared lane, or for space
downstream — and no longer holds the green: without that rule a phantom half-PCU on a shared
lane kept a protected-left phase green to its maximum, every cycle. With `[schedule] stall_head_on_loop`
(off by default), only where a vehicle stands on one of its stop-line loops (or a lane of it has no stop-line
loop it can read: `head_on_stop_loop`): a queue the estimator counts from the advance loop while its vehicles
are still on their way to an empty stop line crosses nothing yet, and is not a blocked head. Without it, one
vehicle passing the advance loop after a quiet start of the green made its movement "blocked", and a stage
whose only demand it was ended at once. With `[schedule] stall_after_travel` (off), such a queue is instead an
arrival due when its first vehicle reaches the stop line at the advance loop's speed (`due_s`), and the movement
stalls once a vehicle is overdue at the empty stop line; with `[schedule] stall_after_travel_split_junction` (off),
the same at the junctions where `[timing] split_movements_by_green` made parts only (`split_parts`), main's rule at
the others. A standing queue's delay is weighted by how long it has waited (1 + red / `wait_scale_s`); its service
time is not. Clusters are capped at `max_clusters` per phase by merging the latest (least certain) ones: the programme
has prod(clusters + 1) x phases states.

Permitted tail (`standing_clusters`; `[schedule] permitted_tail`): a standing queue's cluster
lasts until its slowest movement has discharged. Where that is a permitted turn of the phase (a
yielding 'g' link, at `permitted_sat_ratio`), the cluster ends when the phase's other movements
have discharged, holding what every movement passes by then; the rest of the permitted queues is
a cluster of its own, the phase's last (after its arrivals). Whole, a few turning vehicles
filtering through the gaps made the through queue a job past the maximum green, which the
programme served after every other phase's and so left the through phase at each minimum green.
With `[schedule] exit_tail`, a movement whose exit cannot take its standing queue (the room left
on the neighbour approach it feeds is less than that queue, `exit_rate_ratio` < 1: its planned
rate is slowed to that room) is split the same way: whole, a turn held by its exit makes its
phase's standing queue a job past the maximum green, and the programme serves the phase, through
movement and all, at its minimum green after every other phase's.

Saturation floor (`full_floors_s`; with `[schedule] saturation_floor`, on with `floor_after_overflow`;
alone, off: config.toml and docs/policies.md say why): a phase one of whose protected movements has a lane queued
up to its advance loop or beyond (the estimator's lane queue at the storage between the loops,
or a hidden queue), with more queue than the phase's minimum green discharges at saturation,
has the city's own green for that stage (`base_green_s`, within its minimum and maximum) as its
floor: once green, it is held that long while a vehicle stands on one of its stop-line loops
(released once all of them have been empty for `stall_s`), and the programme counts that floor
as the phase's minimum green. Such a queue is longer than the loops can show, so a schedule of
their queues alone switched such phases at their minimum greens, each switch losing an
intergreen of capacity (SURTRAC bounds the same loss by extending a phase while its queue
discharges). A head vehicle held by a blocked exit keeps the floor, as the city's plan keeps
that green. A floor never exceeds what the city's plan gives the stage. With
`[schedule] floor_after_overflow`, only a lane whose last green ended with it still full and
whose storage that green's minimum would not empty counts (`update_overflow`: an overflow queue,
the green did not clear it): a queue that reaches the advance loop and is cleared by one green,
or a storage a few vehicles fill, is no sign of saturation.

Capacity lost by a change (`lost_rate_pcu_s`; with `[schedule] change_loses_capacity`, off by
default): a change that leaves a phase before its standing queue is served, while that queue
fills its approach to the advance loops or beyond, loses (intergreen + start-up loss) x the
phase's saturation flow of capacity for good; the programme charges those vehicles as waiting
from the change to the horizon's end. Without it the horizon sees only the delay a change
postpones, and on a saturated junction Smith's rule serves a short, long-waited queue first and
plans to come back: a minimum-green ping-pong.

Wait kept through the green (`[schedule] wait_kept_in_green`, off by default): a standing queue's
weight `1 + red / wait_scale_s` reads the movement's red time, which is 0 from the first second of
its green. With the key, the movements of the green phase keep the red time they had when that
green began, so a long-waited queue discharging slower than the phases it held back (one lane
against two) is not left at its minimum green as soon as it is served.

Lead-in stages (`lead_in`; `[schedule] lead_in_stages`): a change goes through a phase that greens
only links of the target when both intergreens and that phase's minimum green are shorter than
the direct intergreen: the city's program starting a stage with part of it (a program transition
into it, then 0 s), where the model's direct change derives a yellow and the longest all-red. Never
where the program has its own transition for the change: that one is the city's.

Crossing stages (`crossing_stages`; `[schedule] crossing_stages`, off): the programme plans the vehicle movements, each
charged to the stage of its longest base green, which may be a crossing stage's twin showing the same vehicle links
with the crossing red (a city's plan giving the walk less green than the twin): then the gate alone brings the
crossing, at its maximum red, into whatever stage is green. With the key, a change into such a twin goes to the
crossing stage instead when a crossing it greens would reach its maximum red before the twin is green again
(`crossing_due`): the crossing rides on a green the vehicles get anyway, without a change of its own.

A light on a vehicle-actuated program (`watch_actuated_crossings`, off): where a stage's minimum green is its
crossings' pedestrian minimum, every green the policy gives that stage lasts that long, while the city's program
ends it at a gap. Such a light stays on its program, watched, while those stages' greens that ended in the last
`actuated_watch_s` ran on average shorter than their minimums; at the end of the first such green after which they
did not, the policy takes it over for good.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field, replace

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.network import NetworkView
from controller.core.params import ScheduleParams
from controller.core.policies import Policy
from controller.core.policies.gap_acceptance import YieldFoes, permitted_service
from controller.core.policies.max_pressure import build_statics, clearance_detours, update_boxed
from controller.core.policies.phases import exit_rate_ratio, primary_phases
from controller.core.policies.requirements import acyclic_refusal, coupled_refusal, crossing_held_stages
from controller.core.safety import DECISION_PERIOD_S, SignalView
from controller.core.spillback import upstream_queue_pcu
from controller.model import Intersection, PhaseWish


@dataclass(frozen=True)
class ScheduleStatics:
    intergreen_s: np.ndarray  # (phases, phases)
    primary: np.ndarray  # (movements,) phase index
    rate_pcu_s: np.ndarray  # (movements,) protected discharge rate prior
    min_green_s: np.ndarray
    max_green_s: np.ndarray
    edges: tuple[tuple[str, np.ndarray], ...]  # approach edge -> movement indices
    clearance: tuple[tuple[int, ...], ...]
    permitted: np.ndarray  # (phases, movements) bool
    yield_lanes: np.ndarray  # (phases, movements, lanes): max_pressure.Statics.yield_lanes
    gap_foes: YieldFoes | None = None  # max_pressure.Statics.gap_foes ([estimation] permitted_gap_acceptance)
    crossing_stage: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # (phases,) crossing_stages
    crossing_green: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))  # (crossings, phases)
    watched: tuple[int, ...] = ()  # the stages `watch_actuated_crossings` watches (_watched_stages)


@dataclass(frozen=True)
class ScheduleState:
    statics: ScheduleStatics
    planned_s: float = float("-inf")  # when the current plan was made
    next_phase: int = -1  # the plan's next phase (-1: extend the current one)
    switch_at_s: float = float("inf")  # when the plan switches to it
    phase: int = -1
    last_dep_pcu: np.ndarray | None = None  # cumulative departures seen at the last tick (None: none yet)
    # set with last_dep_pcu, at the first green seen:
    last_dep_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per movement: when it last
    # discharged (or its green began)
    boxed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (movements,) permitted
    # turns that may stand in the junction
    floor_s: float = 0.0  # the current green is held this long while its stop lines are occupied
    # (full_floors_s at its start; 0 once released)
    overflow: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (lanes,) the lane was
    # still full (full_lanes) when its last green ended (update_overflow)
    red_seen_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (movements,) red time at the
    # last tick (`wait_kept_in_green`)
    held_red_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (movements,) red time the green
    # phase's movements had when its green began (`wait_kept_in_green`; 0 for the others)
    queued_since_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (lanes,) when the lane's queue went
    # from none to some (inf: none now; `stall_clock_after_travel`)
    next_green_s: float = 0.0  # the standing queue's service (s, with the start-up loss) of the phase the plan
    # changes to (`crossing_stages`)
    head_seen_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (lanes,) when a vehicle was first on the
    # lane's stop-line loop since its queue appeared (inf: not since, or no queue; `stall_clock_after_travel`)
    # `watch_actuated_crossings`: the city's actuated program watched
    watch_greens: tuple[tuple[float, float], ...] = ()  # the watched greens seen whole: (end s, green - its minimum s)
    watch_open: tuple[float, float] | None = None  # the watched green under way, seen from its start: (start s, min s)
    watch_phase: int = -2  # the phase green at the last tick (-1: an intergreen; -2: no tick seen yet)
    taken: bool = False  # the watch has handed the light over, for good


@dataclass(frozen=True)
class Cluster:
    """Vehicles expected at the stop line of one phase, served as a unit (SURTRAC's job)."""

    arrival_s: float  # when its first vehicle reaches the stop line, from now
    count_pcu: float
    service_s: float  # time to discharge it all at saturation (queued)
    end_s: float | None = None  # when its last vehicle arrives (None: all at arrival_s, a queue)
    cost_pcu: float | None = None  # PCU its delay is charged for (the count weighted by waiting so far)

    @property
    def job(self) -> tuple[float, float, float, float, float]:
        """(arrival, last arrival, service, PCU charged, span correction) for the schedule's
        programme: served from a green starting at start (>= arrival), it has crossed at
        max(start + service, last arrival) and has waited cost x max(0, start - arrival - span
        correction) vehicle-seconds (uniform arrivals over [arrival, end], discharge at saturation
        once served: the vehicle at arrival + x waits start - arrival - x (1 - service / span))."""
        end = self.arrival_s if self.end_s is None else self.end_s
        cost = self.count_pcu if self.cost_pcu is None else self.cost_pcu
        adj = 0.0 if self.end_s is None else max(0.0, self.end_s - self.arrival_s - self.service_s) / 2.0
        return self.arrival_s, end, self.service_s, cost, adj


class SchedulePolicy(Policy):
    name = "schedule"
    uses_network = True

    def __init__(self, params: ScheduleParams | None = None) -> None:
        """`params`: config.toml's section for this policy; None: the defaults. `params.permitted_rest`:
        what a permitted turn of the green phase cannot pass before that green's maximum is
        charged to its protected phase (`permitted_rest_pcu`); False: all of it to the green phase."""
        self.params = params if params is not None else ScheduleParams()
        self.permitted_rest = self.params.permitted_rest

    def cannot_serve(self, layout: Layout) -> str:
        """Also refuses a junction coupled to another light (requirements.coupled_refusal): a plan of
        its own at each stops vehicles inside the other junction and locks both."""
        return acyclic_refusal(layout) or coupled_refusal(layout)

    def watches_first(self, layout: Layout) -> str:
        """Why a light is left on its vehicle-actuated program at first (`watch_actuated_crossings`: its crossing
        stages watched, window after window); '' for a light not so watched."""
        watched = self._watched_stages(layout)
        if not watched:
            return ""
        return (
            f"{layout.junction.source}: a vehicle-actuated program whose stages {', '.join(map(str, watched))} carry "
            f"their crossings' pedestrian minimum greens: kept on it while those stages run shorter than their "
            f"minimums over the last {self.params.actuated_watch_s:g} s ([schedule] watch_actuated_crossings)"
        )

    def _watched_stages(self, layout: Layout) -> tuple[int, ...]:
        """The stages carrying their crossings' pedestrian minimum greens of a vehicle-actuated light the watch
        leaves on its program while they bind; () for a light not so watched."""
        if self.params.watch_actuated_crossings and layout.junction.actuated:
            return crossing_held_stages(layout)
        return ()

    def _watch_crossings(
        self, state: ScheduleState, layout: Layout, signal: SignalView | None, now_s: float
    ) -> tuple[ScheduleState, bool]:
        """A light the watch leaves on the city's actuated program (`_watched_stages`, found at init: the statics'
        `watched`) keeps it while the greens of those stages that ended in the last `actuated_watch_s` (each seen
        from its start to its end) ran on average shorter than their minimum greens: every green the policy gives
        such a stage lasts at least that minimum, longer than the program's, which ends it at a gap. Judged at the
        end of each such green; at the first where they ran at least that long, the policy takes the light over for
        good. True while the policy waits; False for a light not watched."""
        watched = state.statics.watched
        if signal is None or state.taken or not watched:
            return state, False
        phase = -1 if signal.in_intergreen else signal.phase
        if phase == state.watch_phase:
            return state, True
        greens = state.watch_greens
        if state.watch_open is not None:  # a watched green seen whole ended at this tick
            greens = (*greens, (now_s, now_s - state.watch_open[0] - state.watch_open[1]))
        greens = tuple(g for g in greens if g[0] > now_s - self.params.actuated_watch_s)
        opens = phase in watched and state.watch_phase != -2  # a tick before this one showed another phase
        opened = (now_s, layout.junction.phases[phase].min_green_s) if opens else None
        state = replace(state, watch_greens=greens, watch_open=opened, watch_phase=phase)
        if greens and sum(extra_s for _, extra_s in greens) >= 0.0:
            return replace(state, taken=True), False
        return state, True

    def init(self, layout: Layout, now_s: float) -> ScheduleState:
        j = layout.junction
        mp = build_statics(layout, self.params.permitted_sat_ratio)
        by_edge: dict[str, list[int]] = {}
        for i, m in enumerate(j.movements):
            by_edge.setdefault(m.from_edge, []).append(i)
        return ScheduleState(
            ScheduleStatics(
                intergreen_s=mp.intergreen_s,
                primary=primary_phases(replace(layout, serves=full_service(layout)), protected_first=True),
                rate_pcu_s=layout.sat_flow_pcu_h / 3600.0,
                min_green_s=np.array([p.min_green_s for p in j.phases]),
                max_green_s=np.array([p.max_green_s for p in j.phases]),
                edges=tuple((e, np.array(ix)) for e, ix in by_edge.items()),
                clearance=mp.clearance,
                permitted=layout.serves & ~layout.protected,
                yield_lanes=mp.yield_lanes,
                gap_foes=mp.gap_foes,
                crossing_stage=crossing_stages(j),
                crossing_green=np.array(
                    [[bool(ph.green_links().intersection(c.links)) for ph in j.phases] for c in j.crossings], dtype=bool
                ).reshape(len(j.crossings), len(j.phases)),
                watched=self._watched_stages(layout),
            ),
            overflow=np.zeros(len(layout.lanes), dtype=bool),
        )

    # -- clusters -----------------------------------------------------------------------------
    def arrivals(self, st: ScheduleStatics, layout: Layout, est: Estimate, network: NetworkView | None) -> np.ndarray:
        """(movements, horizon) PCU expected at the stop line in each coming second: the upstream
        departures on their way where the exit feeding the approach is learnt, over the link
        travel time they cover; beyond it, and on approaches without a learnt upstream (network
        entries), the arrival flow measured at the advance loops, over the first `steady_s`
        seconds (SURTRAC's anticipated arrivals)."""
        h = int(self.params.horizon_s)
        flow_pcu_s = est.flow_pcu_h / 3600.0
        out = np.zeros((len(flow_pcu_s), h))
        out[:, : min(h, int(self.params.steady_s))] = flow_pcu_s[:, None]
        if network is None:
            return out
        jid = layout.junction.id
        cover = _coverage_s(network, jid)
        for edge, ix in st.edges:
            c = min(cover.get(edge, 0), h)
            if c <= 0:
                continue
            pred = network.inflow_pcu(jid, edge, c)
            f = est.flow_pcu_h[ix]
            share = f / f.sum() if f.sum() > 0 else np.full(len(ix), 1.0 / len(ix))
            out[ix, :c] = share[:, None] * pred[None, :]
        return out

    def clusters(
        self,
        st: ScheduleStatics,
        layout: Layout,
        est: Estimate,
        arr: np.ndarray,
        rate: np.ndarray,
        weight: np.ndarray | None = None,
        primary: np.ndarray | None = None,
        hidden_pcu: np.ndarray | None = None,
        rest_pcu: np.ndarray | None = None,
        home_rate: np.ndarray | None = None,
        exit_held: np.ndarray | None = None,
    ) -> list[list[Cluster]]:
        """Per phase, its clusters in arrival order: the standing queue (arrived now; its delay
        weighted by how long its movements have waited already, 1 + red / wait_scale_s: waiting
        is not free; the part of it standing upstream of the advance loops, `hidden_pcu`, charged
        twice: it also holds the link before the approach, core/spillback.py), then the arrivals
        grouped where they are `cluster_gap_s` apart and cut every `cluster_max_s` (a steady flow
        is not one indivisible job), the latest merged beyond `max_clusters`. `rest_pcu`: the part
        of a movement's queue charged to its home phase (`st.primary`, at `home_rate` PCU/s there)
        instead of `primary` (`permitted_rest_pcu`). `exit_held`: its exit cannot take its queue
        (`exit_rate_ratio` < 1); with `exit_tail` split off as a permitted turn's tail."""
        weight = np.ones(len(rate)) if weight is None else weight
        hidden_pcu = np.zeros(len(rate)) if hidden_pcu is None else hidden_pcu
        primary = st.primary if primary is None else primary
        rest_pcu = np.zeros(len(rate)) if rest_pcu is None else rest_pcu
        home_rate = rate if home_rate is None else home_rate
        held = np.zeros(len(rate), dtype=bool) if exit_held is None else exit_held & self.params.exit_tail
        queue, r_all = est.queue_pcu - rest_pcu, np.maximum(rate, 1e-3)
        out: list[list[Cluster]] = []
        for k in range(len(layout.junction.phases)):
            ms = np.flatnonzero(primary == k)
            ns = np.flatnonzero((st.primary == k) & (primary != k) & (rest_pcu > 0))
            if len(ms) + len(ns) == 0:
                out.append([])
                continue
            cl: list[Cluster] = []
            tail: list[Cluster] = []
            if queue[ms].sum() + rest_pcu[ns].sum() >= 0.5:
                ix, home = np.concatenate([ms, ns]), np.arange(len(ms) + len(ns)) >= len(ms)  # home: the rest
                cl, tail = standing_clusters(
                    np.where(home, rest_pcu[ix], queue[ix]),
                    np.where(home, np.maximum(home_rate[ix], 1e-3), r_all[ix]),
                    weight[ix],
                    np.where(home, 0.0, hidden_pcu[ix]),
                    (st.permitted[k, ix] & self.params.permitted_tail | held[ix]) & ~home,
                )
            per_s = arr[ms]  # (ms, horizon)
            groups = self._arrival_groups(per_s.sum(axis=0))
            while len(groups) > max(self.params.max_clusters - len(cl) - len(tail), 1):  # merge the latest
                (a, _), (_, b) = groups[-2], groups[-1]
                groups[-2:] = [(a, b)]
            for a, b in groups:
                n = per_s[:, a : b + 1].sum(axis=1)
                if n.sum() >= 0.2:
                    cl.append(Cluster(float(a + 1), float(n.sum()), float(np.max(n / r_all[ms])), float(b + 1)))
            out.append(cl + tail)
        return out

    def _arrival_groups(self, tot: np.ndarray) -> list[tuple[int, int]]:
        """[first second, last second] of each group of the arrivals `tot` (PCU per second): a gap
        over `cluster_gap_s` or a group `cluster_max_s` long starts a new one."""
        groups: list[tuple[int, int]] = []
        start, last = -1, -1
        for t in np.flatnonzero(tot > 1e-9):
            if start >= 0 and (t - last > self.params.cluster_gap_s or t - start >= self.params.cluster_max_s):
                groups.append((start, last))
                start = -1
            if start < 0:
                start = int(t)
            last = int(t)
        if start >= 0:
            groups.append((start, last))
        return groups

    # -- the programme ------------------------------------------------------------------------
    def plan(
        self,
        st: ScheduleStatics,
        clusters: list[list[Cluster]],
        cur: int,
        elapsed_s: float,
        startup_s: float,
        via: list[list[int]] | None = None,
        lost_flow_pcu_s: float = 0.0,
    ) -> tuple[int, float]:
        """(phase of the first cluster served, when it starts) of the least-delay schedule: a forward
        dynamic programme over (clusters served per phase, last phase), keeping per state the least
        delay (ties: the earliest finish; Xie, Smith & Barlow 2012), served counts packed in one integer
        (mixed radix). `via[a][b]` >= 0: the clearance phase a change a -> b inserts (its intergreens and
        minimum green count). `lost_flow_pcu_s` (PCU/s, `lost_rate_pcu_s`): a change leaving `cur` before
        its standing queue is served loses that for good; charged as waiting to the horizon's end."""
        n_p = len(clusters)
        lost_s, horizon_s = lost_flow_pcu_s, self.params.horizon_s
        counts = [len(c) for c in clusters]
        if (total := sum(counts)) == 0:
            return cur, 0.0
        stride = [math.prod(c + 1 for c in counts[:k]) for k in range(n_p)]
        jobs = [[c.job for c in cl] for cl in clusters]
        min_g, max_g = st.min_green_s.tolist(), st.max_green_s.tolist()
        phases = [k for k in range(n_p) if counts[k]]
        change = _change_s(st.intergreen_s.tolist(), min_g, via)
        width = beam_width(self.params.max_expansions, total, len(phases))
        # state key: served * n_p + last -> (delay, finish, green start of last, first phase, first start)
        frontier = {cur: (0.0, 0.0, -elapsed_s, -1, 0.0)}
        for _level in range(total):
            nxt: dict[int, tuple[float, float, float, int, float]] = {}
            for key, (delay, finish, green0, first, first_t) in frontier.items():
                served, last = divmod(key, n_p)
                for k in phases:
                    i = (served // stride[k]) % (counts[k] + 1)
                    if i >= counts[k]:
                        continue
                    arr, end_arr, service, cost, adj = jobs[k][i]
                    if k == last:
                        g0, start, base = green0, (finish if finish > arr else arr), delay
                    else:
                        leave = max(finish, green0 + min_g[last])
                        g0 = leave + change[last][k]
                        start = max(g0 + startup_s, arr)
                        lost = 0.0 if served else lost_s * (g0 + startup_s - leave)  # cur left unserved
                        base = delay + lost * max(horizon_s - leave, 0.0) if lost else delay
                    end = max(start + service, end_arr, g0 + min_g[k])
                    if k == last and start > g0 and end - g0 > max_g[k] + 1e-9:
                        continue  # would run past max green: must switch first
                    wait = start - arr - adj
                    d = base + cost * wait if wait > 0 else base
                    nk = (served + stride[k]) * n_p + k
                    old = nxt.get(nk)
                    if old is None or d < old[0] or (d == old[0] and end < old[1]):
                        nxt[nk] = (d, end, g0, first if first >= 0 else k, first_t if first >= 0 else start)
            if not nxt:
                break
            frontier = _prune(nxt, width)
        d, _, _, first, first_t = min(frontier.values(), key=lambda v: (v[0], v[1]))
        return (cur, 0.0) if first < 0 else (first, first_t)

    def decide(
        self,
        state: ScheduleState,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None = None,
    ) -> tuple[ScheduleState, PhaseWish | None]:
        state, on_program = self._watch_crossings(state, layout, signal, now_s)
        if signal is None or on_program:
            return state, None
        cur = signal.phase
        st = state.statics
        state = self._track_queues(state, est, now_s)
        held = state.held_red_s
        if self.params.wait_kept_in_green:
            red_now = now_s - np.asarray(signal.red_since_s, dtype=float)
            if state.phase != cur and not signal.in_intergreen:
                seen = state.red_seen_s if len(state.red_seen_s) == len(red_now) else np.zeros(len(red_now))
                held = np.where(layout.serves[cur], seen, 0.0)
            state = replace(state, red_seen_s=red_now)
        if signal.in_intergreen:
            return state, PhaseWish(cur)
        if state.phase != cur or state.last_dep_pcu is None:
            overflow = state.overflow
            if self.params.saturation_floor and self.params.floor_after_overflow:
                overflow = update_overflow(overflow, layout, est, state.phase, cur)
            state = replace(
                state,
                overflow=overflow,
                phase=cur,
                planned_s=float("-inf"),
                last_dep_pcu=est.departures_pcu,
                last_dep_s=np.full(len(est.queue_pcu), now_s),
                boxed=np.zeros(len(est.queue_pcu), dtype=bool),
                floor_s=float(self._floors_s(layout, est, overflow)[cur]) if self.params.saturation_floor else 0.0,
                held_red_s=held,
            )
        moved = est.departures_pcu > state.last_dep_pcu
        boxed = update_boxed(
            state.boxed, layout, st.yield_lanes[cur], st.permitted[cur], moved, est, self.params.clearance_gap_s
        )
        state = replace(
            state, last_dep_pcu=est.departures_pcu, last_dep_s=np.where(moved, now_s, state.last_dep_s), boxed=boxed
        )
        if signal.green_elapsed_s < st.min_green_s[cur]:
            return state, PhaseWish(cur)
        if (clear := self._box_clearance(state, layout, est, signal, now_s)) >= 0:
            return replace(state, planned_s=now_s, next_phase=-1, switch_at_s=float("inf")), PhaseWish(clear)
        if signal.green_elapsed_s < state.floor_s:
            if _stop_lines_occupied(layout, est, cur, self.params.stall_s):
                return state, PhaseWish(cur)
            state = replace(state, floor_s=0.0)  # its stop lines emptied: the floor is released
        if now_s - state.planned_s >= self.params.replan_s:
            state = self._replan(state, layout, est, signal, now_s, network)
        if state.next_phase >= 0 and now_s >= state.switch_at_s:
            return state, PhaseWish(self._switch_target(state, layout, est, signal, now_s))
        return state, PhaseWish(cur)

    def _switch_target(
        self, state: ScheduleState, layout: Layout, est: Estimate, signal: SignalView, now_s: float
    ) -> int:
        """The phase wished at the plan's change: its next phase, or with `crossing_stages` that phase's crossing
        stage where a crossing is due (crossing_due), through the clearance or lead-in the change takes (_via)."""
        st, nxt = state.statics, state.next_phase
        if self.params.crossing_stages and crossing_due(st, layout, signal, now_s, nxt, state.next_green_s):
            nxt = int(st.crossing_stage[nxt])
        return self._via_clearance(state, layout, est, signal.phase, nxt)

    def _box_clearance(
        self, state: ScheduleState, layout: Layout, est: Estimate, signal: SignalView, now_s: float
    ) -> int:
        """The phase serving protected a permitted turn of the green phase that stands in the junction
        (`state.boxed`: crossed its stop line, no gap seen since) while its queue behind has not moved
        for `stall_s` past the start-up loss, on an approach storing at most `box_short_pcu` between its
        loops; -1: none (or `box_short_pcu` 0: off).

        Why: on a short link the queue behind a turner waiting inside the junction reaches the
        previous light at once. There it stops the stream that feeds the far side of the link, and
        the turners of that light waiting for a gap in it stand in their junction too: each light's
        turner waits on the other's queue. The green of the stream it yields to passes nothing more
        than it feeds into the link; its protected phase lets it out."""
        p, st, cur = self.params, state.statics, signal.phase
        if p.box_short_pcu <= 0.0 or not state.boxed.any():
            return -1
        since_s = now_s - np.maximum(state.last_dep_s, now_s - signal.green_elapsed_s + layout.params.startup_lost_s)
        stood = state.boxed & st.permitted[cur] & (est.queue_pcu > 0) & (since_s >= p.stall_s)
        stood &= layout.storage_pcu <= p.box_short_pcu
        if not stood.any():
            return -1
        protect = [k for k in st.clearance[cur] if layout.protected[k][stood].all()]
        return protect[0] if protect else -1

    def _track_queues(self, state: ScheduleState, est: Estimate, now_s: float) -> ScheduleState:
        """With `stall_clock_after_travel`: when each lane's queue appeared (queued_since_s) and when a vehicle was
        first on its stop-line loop since (head_seen_s); without it, `state` as it is."""
        if not self.params.stall_clock_after_travel:
            return state
        since = queued_since_s(state.queued_since_s, est, now_s)
        return replace(state, queued_since_s=since, head_seen_s=head_seen_s(state.head_seen_s, since, est, now_s))

    def _replan(
        self,
        state: ScheduleState,
        layout: Layout,
        est: Estimate,
        signal: SignalView,
        now_s: float,
        network: NetworkView | None,
    ) -> ScheduleState:
        """The least-delay schedule from now: the phase to switch to (now) or none (keep)."""
        st, cur = state.statics, signal.phase
        sat_pcu_h, block = est.sat_flow_pcu_h, est.block
        # a blocked exit slows the discharge (the blockage seen at the own stop line in the last
        # green, or the room left on the neighbour approach the exit feeds), but it may clear:
        # never below `min_rate_ratio` of the saturation flow
        exit_ratio = exit_rate_ratio(layout, est, network)
        free = np.minimum(1.0 - block, exit_ratio)
        rate = sat_pcu_h * np.maximum(free, self.params.min_rate_ratio) / 3600.0
        arr = self.arrivals(st, layout, est, network)
        red_s = now_s - np.asarray(signal.red_since_s, dtype=float)
        if len(state.held_red_s) == len(red_s):  # wait_kept_in_green: the wait its green began with
            red_s = np.maximum(red_s, state.held_red_s)
        # a movement the green phase serves is served by it, whichever its primary; a
        # permitted (yielding) one at `permitted_sat_ratio` of its rate (with `permitted_gap_acceptance`, at the
        # share the flow it gives way to leaves it: gap_acceptance.permitted_service)
        primary = np.where(layout.serves[cur], cur, st.primary)
        # ... unless it stands (_stalled): its queue no longer holds the green; it waits for its own phase.
        stalled, est, arr = self._stalled(state, layout, est, signal, now_s, arr)
        primary = np.where(stalled, np.where(st.primary == cur, -1, st.primary), primary)
        home_rate = rate
        share = np.where(st.permitted, self.params.permitted_sat_ratio, 1.0)
        if st.gap_foes is not None:
            share = permitted_service(layout, est, st.gap_foes, share)
        rate = rate * share[np.maximum(primary, 0), np.arange(len(rate))]
        # what a permitted turn cannot pass through the gaps before this green must end waits
        # for its protected phase
        room_s = max(float(st.max_green_s[cur] - signal.green_elapsed_s), 0.0)
        rest = None
        if self.permitted_rest:
            rest = permitted_rest_pcu(st, layout, est.queue_pcu, cur, primary, rate, room_s)
        weight = 1.0 + np.maximum(red_s, 0.0) / self.params.wait_scale_s
        hidden = upstream_queue_pcu(layout, est)
        cl = self.clusters(st, layout, est, arr, rate, weight, primary, hidden, rest, home_rate, exit_ratio < 1.0)
        via = self._vias(state, layout, est, cur)
        # a full approach's phase, once green, is held to its floor: the programme knows it
        st_plan = st
        if self.params.saturation_floor:
            floors = self._floors_s(layout, est, state.overflow)
            floors[cur] = state.floor_s
            st_plan = replace(st, min_green_s=np.maximum(st.min_green_s, floors))
        lost = lost_rate_pcu_s(layout, est, cl[cur], cur, primary, rate) if self.params.change_loses_capacity else 0.0
        first, _ = self.plan(st_plan, cl, cur, signal.green_elapsed_s, layout.params.startup_lost_s, via, lost)
        if first == cur or first < 0:
            state = replace(state, planned_s=now_s, next_phase=-1, switch_at_s=float("inf"))
        else:
            # switch now; the plan's first green of `first` comes after the intergreen
            need = layout.params.startup_lost_s + standing_s(cl[first])
            state = replace(state, planned_s=now_s, next_phase=first, switch_at_s=now_s, next_green_s=need)
        return state

    def _stalled(
        self, state: ScheduleState, layout: Layout, est: Estimate, signal: SignalView, now_s: float, arr: np.ndarray
    ) -> tuple[np.ndarray, Estimate, np.ndarray]:
        """(movements,) bool: those the green phase serves that stand: queued, and nothing crossed for `stall_s`
        of this green past the start-up loss (the head waits for another phase on a shared lane, or for space
        downstream; `stall_head_on_loop`: a head on its stop-line loop, _head). With `stall_after_travel`, a
        queue still on its way is not: it arrives when it reaches the stop line (_on_its_way); with
        `stall_after_travel_split_junction`, the same at a junction with parts `split_movements_by_green` made
        (split_parts) only. With `stall_clock_after_travel`, the clock starts no earlier than the queue can have
        reached the stop line or was seen on its stop-line loop (reachable_s).
        Returns (stalled, the estimate, the arrivals `arr`), the last two as _on_its_way leaves them."""
        cur = signal.phase
        start = np.maximum(state.last_dep_s, now_s - signal.green_elapsed_s + layout.params.startup_lost_s)
        if self.params.stall_clock_after_travel:
            start = np.maximum(start, reachable_s(layout, est, state.queued_since_s, state.head_seen_s))
        since = now_s - start
        stalled = layout.serves[cur] & (est.queue_pcu > 0) & (since >= self.params.stall_s) & self._head(layout, est)
        if self.params.stall_after_travel:
            return self._on_its_way(layout, est, arr, stalled)
        if self.params.stall_after_travel_split_junction and layout.derived(split_parts).any():
            return self._on_its_way(layout, est, arr, stalled)
        return stalled, est, arr

    def _head(self, layout: Layout, est: Estimate) -> np.ndarray:
        """(movements,) bool: where `stall_s`'s rule may call a movement blocked: with `stall_head_on_loop`,
        head_on_stop_loop; without it, everywhere."""
        if self.params.stall_head_on_loop:
            return head_on_stop_loop(layout, est)
        return np.ones(len(est.queue_pcu), dtype=bool)

    def _on_its_way(
        self, layout: Layout, est: Estimate, arr: np.ndarray, stalled: np.ndarray
    ) -> tuple[np.ndarray, Estimate, np.ndarray]:
        """`[schedule] stall_after_travel`: of the `stalled` movements, those whose queue is still on its way
        (every stop-line loop of theirs empty, a vehicle due at one: `due_s`) are not stalled; their queue
        leaves the standing queue and arrives (in `arr`) when the first of those vehicles is due.
        Returns (stalled, the estimate with those queues taken out, arrivals)."""
        due = due_s(layout, est)
        way = stalled & ~head_on_stop_loop(layout, est) & np.isfinite(due)
        if not way.any():
            return stalled, est, arr
        arr, queue = arr.copy(), est.queue_pcu.copy()
        at = np.clip(np.ceil(due[way]).astype(int) - 1, 0, arr.shape[1] - 1)
        arr[np.flatnonzero(way), at] += queue[way]
        queue[way] = 0.0
        return stalled & ~way, replace(est, queue_pcu=queue), arr

    def _floors_s(self, layout: Layout, est: Estimate, overflow: np.ndarray) -> np.ndarray:
        """full_floors_s with this policy's parameters: `overflow` (update_overflow) with
        `floor_after_overflow`."""
        p = self.params
        return full_floors_s(layout, est, overflow if p.floor_after_overflow else None)

    def _vias(self, state: ScheduleState, layout: Layout, est: Estimate, cur: int) -> list[list[int]]:
        """[a][b]: the clearance phase the schedule will take from a to b (-1: none): from the
        current phase as it stands, from later ones wherever the permitted turns carry traffic."""
        st, n_p = state.statics, len(layout.junction.phases)
        later = (est.flow_pcu_h > 0) | (est.queue_pcu >= self.params.clearance_min_pcu)
        now_waiting = self._waiting(state, est)
        via = [
            [self._via(st, layout, a, b, now_waiting if a == cur else later) for b in range(n_p)] for a in range(n_p)
        ]
        return [[-1 if v == b else v for b, v in enumerate(row)] for row in via]

    def _waiting(self, state: ScheduleState, est: Estimate) -> np.ndarray:
        """Permitted turns that may stand inside the junction (max_pressure.update_boxed)."""
        return state.boxed

    def _via(self, st: ScheduleStatics, layout: Layout, cur: int, target: int, waiting: np.ndarray) -> int:
        """The target, or a phase serving protected the permitted movements of `cur` it would cut
        off while some of them may wait inside the junction (as max_pressure); else, with
        `lead_in_stages`, the target's lead-in (`lead_in`)."""
        detours = clearance_detours(st.clearance[cur], layout, cur, target, waiting)
        if detours:
            return detours[0]
        return lead_in(st, layout, cur, target) if self.params.lead_in_stages else target

    def _via_clearance(self, state: ScheduleState, layout: Layout, est: Estimate, cur: int, target: int) -> int:
        return self._via(state.statics, layout, cur, target, self._waiting(state, est))


def crossing_stages(j: Intersection) -> np.ndarray:
    """(phases,) per phase, its crossing stage: the phase showing every vehicle link as it does (the same state letter)
    and greening signalised crossings (`Intersection.crossings`) it keeps red, the one greening most of them (ties: the
    lowest index); -1 where there is none, and everywhere without crossings. A change from a phase to its crossing
    stage stops no vehicle: the crossing joins a green the vehicles have already.

    Example: SUMO's program ends a crossing stage with its twin, the vehicles still green and the walk red (the
    crossing's clearance): "gGGgrrrrgGGgrrrrrGrG" then "gGGgrrrrgGGgrrrrrrrr"; the second's crossing stage is the
    first, the first has none."""
    out = np.full(len(j.phases), -1)
    cross = frozenset(link for c in j.crossings for link in c.links)
    if not cross:
        return out
    vehicle = [i for i in range(j.n_links) if i not in cross]
    shown = ["".join(ph.state[i] for i in vehicle) for ph in j.phases]
    for k, ph in enumerate(j.phases):
        most = 0
        for c, other in enumerate(j.phases):
            n = len((other.green_links() - ph.green_links()) & cross)
            if c != k and shown[c] == shown[k] and n > most:
                out[k], most = c, n
    return out


def standing_s(clusters: list[Cluster]) -> float:
    """Seconds of saturated discharge the standing queue (the clusters arrived now, `standing_clusters`) of a phase's
    `clusters` takes; 0 without one."""
    return float(sum(c.service_s for c in clusters if c.arrival_s == 0.0 and c.end_s is None))


def crossing_due(st: ScheduleStatics, layout: Layout, signal: SignalView, now_s: float, k: int, green_s: float) -> bool:
    """A change into phase `k` goes to its crossing stage instead (`crossing_stages`, `[schedule] crossing_stages`):
    that stage greens a crossing `k` keeps red which would reach `max_red_s` before `k` is green again, taken as its
    red now (`signal.crossing_red_since_s`) plus `k`'s green (`green_s`, the standing queue's service, at least `k`'s
    minimum), the red `k`'s movements have had so far (what the other stages took: as long again before `k` returns)
    and two of the junction's longest intergreens (into and out of `k`). False without a crossing stage.

    Why: where the programme serves the crossing stage's twin (the stage of the vehicles' longest base green), the
    gate brings the crossing at its maximum red, into whatever stage is green: a change of its own, the crossing
    stage's minimum green (the walk) against the queues of the stage it cut short. Here the walk rides on a green
    the vehicles get anyway, at the last such green before the maximum red; no earlier, as every walk slows the
    turns that yield to it."""
    twin = int(st.crossing_stage[k]) if len(st.crossing_stage) else -1
    if twin < 0 or len(signal.crossing_red_since_s) != len(st.crossing_green):
        return False
    joins = st.crossing_green[:, twin] & ~st.crossing_green[:, k]
    crossing_red = now_s - np.asarray(signal.crossing_red_since_s, dtype=float)
    served = layout.serves[k]
    red = float((now_s - np.asarray(signal.red_since_s, dtype=float))[served].max()) if served.any() else 0.0
    green = max(green_s, float(st.min_green_s[k]))
    wait_s = green + red + 2.0 * float(st.intergreen_s.max())
    return bool((joins & (crossing_red + wait_s >= layout.junction.max_red_s)).any())


def head_on_stop_loop(layout: Layout, est: Estimate) -> np.ndarray:
    """(movements,) bool: a vehicle stands on a stop-line loop of one of the movement's lanes, or a lane of it
    has no stop-line loop it can read (`stop_empty_s` is 0 there: a missing or untrusted loop is never counted
    empty), so that a head waiting there cannot be ruled out. False: every one of its stop-line loops read
    empty in the last period: the queue the estimator holds has not reached the stop line (still between the
    loops, on its way), and no head stands there (`[schedule] stall_head_on_loop`)."""
    occupied = np.asarray(est.lanes.stop_empty_s <= 0.0, dtype=bool)
    out: np.ndarray = np.any(layout.lane_uses & occupied[None, :], axis=1)
    return out


def queued_since_s(prev: np.ndarray, est: Estimate, now_s: float) -> np.ndarray:
    """(lanes,) when each lane's queue (between the loops) went from none to some: `prev`'s time where the lane
    stays queued, now where its queue appears, inf where it has none (`[schedule] stall_clock_after_travel`)."""
    queued = est.lanes.queue_pcu > 0
    if len(prev) != len(queued):
        prev = np.full(len(queued), np.inf)
    out: np.ndarray = np.where(queued, np.minimum(prev, now_s), np.inf)
    return out


def head_seen_s(prev: np.ndarray, since_s: np.ndarray, est: Estimate, now_s: float) -> np.ndarray:
    """(lanes,) when a vehicle was first on each lane's stop-line loop since the lane's queue appeared (`since_s`,
    queued_since_s): `prev`'s time where it was seen already, now where the loop is occupied in this period (a lane
    without a working stop-line loop reads occupied: `stop_empty_s` 0), inf where the lane has no queue or its loop
    has stood empty since the queue appeared (`[schedule] stall_clock_after_travel`)."""
    if len(prev) != len(since_s):
        prev = np.full(len(since_s), np.inf)
    seen = np.where(est.lanes.stop_empty_s <= 0.0, np.minimum(prev, now_s), prev)
    out: np.ndarray = np.where(np.isfinite(since_s), seen, np.inf)
    return out


def reachable_s(layout: Layout, est: Estimate, since_s: np.ndarray, seen_s: np.ndarray) -> np.ndarray:
    """(movements,) the earliest time a vehicle of the movement's queue can have reached its stop line: over its
    lanes with a queue, when that queue appeared (`since_s`, queued_since_s) plus the zone's travel time (the
    distance between the loops / the speed the advance loop measures, at least 1 m/s, as due_s; 0 on a lane without
    an advance loop: its queue is counted at the stop line), or when a vehicle was seen on the lane's stop-line loop
    since (`seen_s`, head_seen_s: a head standing there, on a shared lane behind another phase's vehicle or before a
    full exit, is at the stop line whatever the travel time), whichever is earlier; -inf where none of its lanes has
    a queue since a known time (stall_s's clock as without `[schedule] stall_clock_after_travel`)."""
    if len(since_s) != len(layout.lanes):
        return np.full(len(est.queue_pcu), -np.inf)
    travel = np.where(layout.lane_adv >= 0, layout.lane_zone_m / np.maximum(est.lanes.adv_speed_mps, 1.0), 0.0)
    lane_at = since_s + travel if len(seen_s) != len(since_s) else np.minimum(since_s + travel, seen_s)
    at = np.where(layout.lane_uses, lane_at[None, :], np.inf).min(axis=1)
    out: np.ndarray = np.where(np.isfinite(at), at, -np.inf)
    return out


def split_parts(layout: Layout) -> np.ndarray:
    """(movements,) bool: the parts `[timing] split_movements_by_green` made (sim/netmovements.py): a movement
    that shares its approach edge (`from_edge`) and turn with another movement that a different set of stages
    greens. Fixed by the junction model (Layout.derived). All False where no (edge, turn) has two movements green
    in different stages: where the split found nothing to split, but for a lane class's own movement
    (`bicycle_lane_movements`) that other stages green than its edge's car movement (fkk_in_delay's gneJ21)."""
    ms = layout.junction.movements
    green = layout.serves_green.T  # (movements, phases)
    out = np.zeros(len(ms), dtype=bool)
    for i, m in enumerate(ms):
        out[i] = any(
            (o.from_edge, o.turn) == (m.from_edge, m.turn) and (green[j] != green[i]).any() for j, o in enumerate(ms)
        )
    return out


def due_s(layout: Layout, est: Estimate, tick_s: float = DECISION_PERIOD_S) -> np.ndarray:
    """(movements,) seconds until the first vehicle on its way reaches the stop line, inf where none is on its way.

    Per lane with a working advance loop: the travel time is the distance between the loops / the speed that loop
    measures (`adv_speed_mps`, at least 1 m/s, as the estimator's in-transit count); `adv_recent_pcu`'s rows are
    `tick_s` apart, row 0 this tick. A vehicle that passed less than the travel time ago is on its way, due at the
    travel time less the time since it passed; the lane's due time is its earliest such vehicle's. A vehicle due a
    tick or more ago while the stop-line loop has been empty since (`stop_empty_s`) is overdue: it has not come, and
    the vehicles behind it will not pass it (it stands between the loops, or it left the lane), so the lane has
    nobody on its way. A movement is on its way when one of its lanes is and none of them has a vehicle overdue."""
    recent = est.lanes.adv_recent_pcu
    n_m = len(est.queue_pcu)
    if not len(layout.lanes) or not recent.shape[0]:
        return np.full(n_m, np.inf)
    travel = layout.lane_zone_m / np.maximum(est.lanes.adv_speed_mps, 1.0)
    ago = np.arange(recent.shape[0])[:, None] * tick_s  # (rows, 1): seconds since the row's tick
    working = (layout.lane_adv >= 0) & ~est.health.faulty[np.maximum(layout.lane_adv, 0)]
    passed = (recent > 0) & working[None, :]
    seen = passed & (ago < travel[None, :])
    late = ago - travel[None, :]
    overdue = (passed & (late >= tick_s) & (late <= est.lanes.stop_empty_s[None, :])).any(axis=0)
    first = np.where(seen, ago, -np.inf).max(axis=0)  # the earliest passage still within the travel time
    lane_due = np.where(np.isfinite(first), np.maximum(travel - first, tick_s), np.inf)
    due = np.where(layout.lane_uses, lane_due[None, :], np.inf).min(axis=1)
    out: np.ndarray = np.where((layout.lane_uses & overdue[None, :]).any(axis=1), np.inf, due)
    return out


def beam_width(max_expansions: int, levels: int, phases: int) -> int:
    """States the programme keeps per level so that it evaluates at most `max_expansions` (state,
    next cluster) steps: `levels` clusters in all, each state tried with each of `phases` phases.
    0: no bound (`max_expansions` 0). Never below 1."""
    if max_expansions <= 0:
        return 0
    return max(1, max_expansions // max(levels * phases, 1))


def _prune(
    frontier: dict[int, tuple[float, float, float, int, float]], width: int
) -> dict[int, tuple[float, float, float, int, float]]:
    """The `width` states of least delay (ties: the earliest finish, then the key), all when
    `width` is 0 or not exceeded. States of one level have served the same number of clusters."""
    if not width or len(frontier) <= width:
        return frontier
    kept = heapq.nsmallest(width, frontier.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[0]))
    return dict(kept)


def lead_in(st: ScheduleStatics, layout: Layout, cur: int, target: int) -> int:
    """The phase the change cur -> target goes through (target: none): a phase greening only links
    the target greens, reached and left sooner than the target directly (both intergreens and its
    minimum green below the direct intergreen). A city's program often starts a stage that way:
    RiLSA_example3's east stage begins with its through movements alone during the west yellow
    (3 s), then adds the protected left (0 s); straight from west to the whole east stage the
    model derives 3 s of yellow and 7 s of all-red.

    None where the program has a transition of its own for cur -> target (`Junction.transition`):
    that change is the city's, with what it clears, which the model's derived times do not know.
    Bologna acosta's 221 keeps its south approach's second stop line (links 0-2, past an 8 m
    internal link) green 4 s into the change, which empties that link; through the lead-in stage
    (a derived 4 s yellow of both stop lines, 2 s, then 0 s) the change was 2 s shorter without that
    clearance, and acosta's delay grew (BENCHMARKS.md, B session 33)."""
    if cur == target or layout.junction.transition(cur, target) is not None:
        return target
    phases, ig, min_g = layout.junction.phases, st.intergreen_s, st.min_green_s
    goal = phases[target].green_links()
    best, best_s = target, float(ig[cur][target])
    for c, ph in enumerate(phases):
        if c in (cur, target) or not ph.green_links() or not ph.green_links() <= goal:
            continue
        via_s = float(ig[cur][c] + min_g[c] + ig[c][target])
        if via_s < best_s - 1e-9:
            best, best_s = c, via_s
    return best


def permitted_rest_pcu(
    st: ScheduleStatics,
    layout: Layout,
    queue_pcu: np.ndarray,
    cur: int,
    primary: np.ndarray,
    rate_pcu_s: np.ndarray,
    room_s: float,
) -> np.ndarray:
    """(movements,) PCU of each permitted turn charged to the green phase `cur` (`primary`) that
    its gaps cannot pass before that green reaches its maximum, `room_s` from now, at its
    permitted discharge rate `rate_pcu_s`: that part waits for the phase that serves it protected
    (its home, `st.primary`) and is charged there. 0 for every other movement, and for a
    permitted turn no phase serves protected (it has no better phase to wait for).

    Why: charged whole to the green phase, a permitted queue longer than the green can pass
    makes that phase's standing-queue cluster outlast its maximum green; the programme may not
    extend a green for such a cluster but may serve it whole in a later one, so it switches away
    at every minimum green."""
    n = len(queue_pcu)
    home = st.primary
    waits = (primary == cur) & st.permitted[cur] & (home != cur) & layout.protected[home, np.arange(n)]
    out: np.ndarray = np.where(waits, np.maximum(queue_pcu - rate_pcu_s * room_s, 0.0), 0.0)
    return out


def full_service(layout: Layout) -> np.ndarray:
    """(phases, movements) bool: the phase serves every link of the movement (green, 'G' or 'g',
    or switched off, 'o', with `off_is_permitted`: Phase.served_links); for a movement no phase
    serves whole, the phases that green any of its links (Layout.serves).

    The phase a movement's demand is charged to (its primary) is chosen among these. A phase that
    greens only some of its links (its lanes turn to different exits, grouped as one movement)
    leaves the vehicles bound for the others waiting: charged to that phase, their queue is
    dropped once it stalls there (it is the green phase's own), and the phase that would
    discharge it is never chosen."""
    j = layout.junction
    off = layout.params.off_is_permitted
    full = np.array(
        [[bool(m.links) and set(m.links) <= ph.served_links(off) for m in j.movements] for ph in j.phases], dtype=bool
    ).reshape(len(j.phases), len(j.movements))
    served_whole = np.asarray(full.any(axis=0), dtype=bool)
    out: np.ndarray = np.where(served_whole[None, :], full, layout.serves)
    return out


def standing_clusters(
    queue_pcu: np.ndarray, rate_pcu_s: np.ndarray, weight: np.ndarray, hidden_pcu: np.ndarray, permitted: np.ndarray
) -> tuple[list[Cluster], list[Cluster]]:
    """([head], [tail] or []): the standing queue of one phase's movements as clusters arrived now.
    `queue_pcu`, `rate_pcu_s` (the planned discharge rate), `weight` (waiting so far), `hidden_pcu` (the
    part spilled upstream of the advance loops, charged twice, in the head) and `permitted` (the
    phase serves the movement as a yielding 'g' turn, at `permitted_sat_ratio` of its rate; with
    `exit_tail`, also a movement its exit cannot take, SchedulePolicy.clusters): one entry per
    movement. The head lasts until the last movement that is not permitted has discharged
    (q / r) and holds what every movement discharges by then; the tail, the rest of the permitted
    turns' queues, lasts to the last of them and is served after the phase's arrivals (the
    programme serves a phase's clusters in order). Without a non-permitted queue, or with the
    permitted ones done by then (within 1 s), one cluster: the whole queue, to its last movement.

    Why: whole, the cluster lasts until its slowest movement has discharged. A few vehicles of a
    permitted turn filtering through the gaps (a left sharing the through's lane) made the
    through phase's queue a job past its maximum green: the programme may not extend a
    green for such a job, served it after every other phase's (Smith's rule: the least PCU per
    second of service last), and left the through phase at each minimum green. The through
    vehicles are out by the head's end; what is left is a job of its own."""
    service = queue_pcu / rate_pcu_s
    done = ~permitted & (queue_pcu > 0)
    head_s = float(np.max(service[done])) if done.any() else 0.0
    last_s = float(np.max(service))
    if head_s <= 0.0 or last_s <= head_s + 1.0:
        return [Cluster(0.0, float(queue_pcu.sum()), last_s, None, float((queue_pcu + hidden_pcu) @ weight))], []
    head = np.minimum(queue_pcu, rate_pcu_s * head_s)
    rest = queue_pcu - head
    out = Cluster(0.0, float(head.sum()), head_s, None, float((head + hidden_pcu) @ weight))
    if rest.sum() < 0.2:
        return [out], []
    return [out], [Cluster(0.0, float(rest.sum()), last_s - head_s, None, float(rest @ weight))]


def _coverage_s(network: NetworkView, junction: str) -> dict[str, int]:
    """Per approach edge of `junction`: how far ahead (s) the upstream departures predict its
    arrivals, the longest learnt travel time of the exits feeding it (0: not learnt)."""
    out: dict[str, int] = {}
    for u in network.layouts[junction].junction.upstream:
        for c in network.state.mapping.get(u, ()):
            if c is not None and c.junction == junction:
                out[c.edge] = max(out.get(c.edge, 0), int(c.travel_s))
    return out


def _change_s(ig: list[list[float]], min_g: list[float], via: list[list[int]] | None) -> list[list[float]]:
    """[a][b]: the time from leaving phase a to the green of phase b: the intergreen, or, through a
    clearance phase v = via[a][b] >= 0, both intergreens and v's minimum green."""
    n_p = len(min_g)
    return [
        [
            ig[a][b] if via is None or via[a][b] < 0 else ig[a][via[a][b]] + min_g[via[a][b]] + ig[via[a][b]][b]
            for b in range(n_p)
        ]
        for a in range(n_p)
    ]


def full_floors_s(layout: Layout, est: Estimate, overflow: np.ndarray | None = None) -> np.ndarray:
    """(phases,) the green floor of each phase: its base green (the city's own, within its
    minimum and maximum) where a movement it serves protected has a lane whose queue fills the
    storage up to the advance loop or stands beyond it, and more queue than the phase's minimum
    green discharges at its saturation flow; else 0. `overflow` (lanes,): only a lane its last green
    left full counts (update_overflow).

    Such a queue cannot be discharged in a short green, and the loops no longer measure it (the
    queue beyond them is estimated from the arrival flow, which the standing queue itself
    holds down): a schedule built on what they see alternates short greens, each switch losing
    an intergreen of capacity. The city's green is the capacity its plan gives that stage."""
    j = layout.junction
    full = full_movements(layout, est, overflow)
    base = np.array([min(max(p.base_green_s, p.min_green_s), p.max_green_s) for p in j.phases])
    out: np.ndarray = np.where(full.any(axis=1), base, 0.0)
    return out


def full_movements(layout: Layout, est: Estimate, overflow: np.ndarray | None = None) -> np.ndarray:
    """(phases, movements) bool: the movement is served protected by the phase, has a lane whose
    queue fills the storage up to the advance loop or stands beyond it (the estimator's lane queue,
    its hidden queue), and more queue than the phase's minimum green discharges at its saturation
    flow (a one-vehicle lane is full with one vehicle: no sign of saturation). `overflow` (lanes,):
    only a lane its last green left full counts (update_overflow)."""
    full_lane = full_lanes(layout, est)
    if overflow is not None:
        full_lane = full_lane & overflow
    full_mov = (layout.lane_share > 0) @ full_lane.astype(float) > 0
    service_s = est.queue_pcu * 3600.0 / np.maximum(est.sat_flow_pcu_h, 1.0)
    min_g = np.array([p.min_green_s for p in layout.junction.phases])
    out: np.ndarray = layout.protected & full_mov[None, :] & (service_s[None, :] > min_g[:, None])
    return out


def full_lanes(layout: Layout, est: Estimate) -> np.ndarray:
    """(lanes,) bool: the lane's queue fills its storage up to the advance loop (within half a PCU)
    or stands beyond it (a hidden queue of half a PCU or more)."""
    lanes = est.lanes
    out: np.ndarray = (lanes.queue_pcu >= layout.lane_storage_pcu - 0.5) | (lanes.hidden_pcu >= 0.5)
    return out


def update_overflow(overflow: np.ndarray, layout: Layout, est: Estimate, ended: int, started: int) -> np.ndarray:
    """(lanes,) `overflow` with the lanes whose green ended (green in phase `ended`, not in
    `started`; none for `ended` < 0) set to whether their green left an overflow queue: the lane is
    full now (full_lanes) and its storage between the loops takes longer than `ended`'s minimum
    green to discharge at the lane's saturation flow.

    A queue that reaches the advance loop and is cleared by its green is a platoon the storage
    cannot hold; one its green leaves at the loop is longer than the green serves (a cycle
    failure). On a storage the minimum green empties, a vehicle or two arriving at the end of the
    green fill it: no sign of saturation."""
    if ended < 0:
        return overflow
    ended_lanes = layout.lane_green[ended] & ~layout.lane_green[started]
    storage_s = layout.lane_storage_pcu * 3600.0 / np.maximum(layout.lane_sat_prior_pcu_h, 1.0)
    long_lane = storage_s > layout.junction.phases[ended].min_green_s
    out: np.ndarray = np.where(ended_lanes, full_lanes(layout, est) & long_lane, overflow)
    return out


def lost_rate_pcu_s(
    layout: Layout, est: Estimate, clusters: list[Cluster], phase: int, primary: np.ndarray, rate_pcu_s: np.ndarray
) -> float:
    """PCU/s a change away from `phase` (its `clusters`) loses for good while its standing queue is
    queued to its advance loops (`full_movements`): the planned discharge rate of its full
    movements (those charged to it, `primary`); 0 with no standing-queue cluster or no full
    movement. The programme charges it for the phase in force only: the only one a change can
    leave before it has served anything (SchedulePolicy.plan).

    Such a queue is longer than the green can discharge before the demand behind it arrives: the
    intergreen and start-up loss of a change made before it is served are seconds of capacity
    the approach never gets back (Webster 1958: capacity = saturation flow x effective green,
    lost time is lost to every vehicle behind it). The horizon's clusters only see the delay the
    change postpones, so the programme charges it (SchedulePolicy.plan)."""
    if not clusters or clusters[0].end_s is not None:  # no standing queue
        return 0.0
    ms = full_movements(layout, est)[phase] & (primary == phase)
    return float(rate_pcu_s[ms].sum())


def _stop_lines_occupied(layout: Layout, est: Estimate, phase: int, empty_s: float) -> bool:
    """Some lane green in `phase` has had a vehicle on its stop-line loop within `empty_s` (a
    lane without a working stop-line loop counts as occupied)."""
    return bool(np.any(layout.lane_green[phase] & (est.lanes.stop_empty_s < empty_s)))

"""`scats`: cycle-by-cycle adaptation on the degree of saturation, in the manner of SCATS.

Measured from the stop-line loops over each cycle, per phase k (Sims & Dobinson 1980):

    DS_k = max over the lanes of the movements charged to k of (g - wasted) / g
           + max over those movements of (PCU still queued when k's green ended) / (s_m x g)

where g is the green the lane was shown and `wasted` the green seconds in which its stop-line
loop had been empty for longer than `empty_gap_s` (the space-time gap beyond the normal gap
between vehicles in a saturated discharge). The second term is the demand the loop cannot show:
the green the queue left over would have needed (DS > 1: oversaturated).

- cycle: each phase needs g_k x DS_k / `ds_target` of green (at least its minimum); the cycle
  moves toward the lost time (the intergreens) plus those needs, by at most `cycle_step_s` per
  cycle, within the junction's cycle bounds. (C x DS_max / target would lengthen the cycle for a
  phase held at its minimum green, which a longer cycle does not give more green.)
- splits: each phase's green toward its need, so that degrees of saturation equalise, by at
  most `split_step_s` per phase per cycle; a phase does not grow while a more saturated one
  needs more than its maximum green, and the cycle then grows no further than the greens
  (`_splits`): the time would go to the phase that needs it less;
- married subsystems and offsets (`coordinate`, every `coordinate_period_s` over the network):
  a junction marries its main upstream neighbour (the one sending it most traffic) when that
  link carries at least `marry_flow_pcu_h` and the cycles the two want differ by at most
  `marry_cycle_diff_s`; a subsystem runs the longest cycle any of its junctions wants (as of the
  last coordination; with `own_cycle_now`, a junction's own wish as made at its cycle's start). Each
  married junction's first phase should turn green when the upstream's actually did, plus the
  position of the upstream green feeding it, the learnt travel time, minus the position of its
  own green: a green wave along the heavy flows. That target is a time (modulo the common
  cycle), not `now mod C`: the cycle changes from cycle to cycle. The roadside runs plans from
  its current phase and does not re-align offsets, so the policy keeps the offset itself: once
  a cycle, when its first phase turns green, it stretches or shortens that cycle's greens by at
  most `split_step_s` toward the target (transitions spread over several cycles), in proportion
  to the splits (stretching does not go to the short phases), within their limits.

- a new cycle is recognised from the phase sequence: the first green of a phase whose index is
  not above the last phase seen green (the order wrapped around), whatever the reported elapsed
  time, so a cycle whose first phase is skipped or gapped out (SUMO's NEMA and actuated
  programs before the first plan) still ends; the first green seen at all starts the first
  cycle, whichever phase it is. The cycle's start is then placed where its first phase would
  have turned green (the current green's start less its position in the cycle).

- gap-out (`gap_out_s`): within the cycle, a phase ends early once past its minimum green with
  no queue on its movements and their stop-line loops empty for `gap_out_s`, as SCATS local
  controllers do; the plan of the cycle under way is re-sent with that green cut. A new cycle
  is therefore recognised by its first phase turning green, whatever the cycle's length.

- coupled junctions (`Intersection.coupled`: lights joined by a road shorter than one vehicle,
  sim/netneighbours.py) are refused and stay on the city's programs, which run them as one: a
  cycle of its own at each (its own cycle length, splits and gap-outs) stops vehicles between
  them, inside the other junction, and locks both.

- a light on a vehicle-actuated program with `keep_actuated_crossings` (requirements.py): where a
  stage's minimum green is the pedestrian minimum of its crossings, the cycle runs every such stage
  that long each cycle, whether or not anyone crosses, while the city's program ends a green at a
  gap; the light keeps its program (`keep_actuated`: every actuated light). With
  `watch_actuated_crossings` such a light is not refused but watched on its program, in windows of
  `actuated_watch_s`: it keeps it while its crossing stages ran, on average, shorter than their pedestrian
  minimums (the minimum binds: a cycle would spend more than the program does), and scats takes it over for
  good at the first window where they ran at least that long (the program's greens then exceed what the
  crossings need, e.g. a delay-based program held at its maximum).

- a light on a vehicle-actuated program with `keep_extending_actuated`: the program is watched for
  `actuated_watch_s` before the first plan; where its greens ran on average `actuated_extension_s` or
  more beyond their stages' minimum greens, it extends them with its demand, which a planned cycle
  with its gap-out does not match, and it keeps running (no plan is sent); where it is held at its
  minimums (light demand), scats takes over: its longer planned greens, ended early by gap-out, serve
  such demand better.

- a lane's stop-line loop is read for a phase only when every movement using the lane is green
  in it (`_lanes_all_green`): on a lane shared with a movement held at red, e.g. a through lane
  also carrying a left turn during the left's protected phase, a vehicle standing on the loop
  may be waiting for its own green, so its occupancy is not green used by the phase. Such a
  phase's DS is then its movements' discharge in its green plus the queue left at its end, over
  their capacity in that green.

- with `webster_cycle`, the cycle moves (by at most `cycle_step_s`, within its bounds) toward Webster's
  delay-minimising cycle C0 = (1.5 L + 5) / (1 - Y) instead of the one running every phase at `ds_target`,
  Y the sum over the phases of the largest flow ratio q / s among their movements, q their arrivals over the
  cycle (discharge in green plus the change of the queue left at its end), L the intergreens
  (`webster_cycle_s`, `cycle_flow_ratio_sum`). With `webster_flow_cycles` above 1 each movement's arrival flow
  is an exponential mean over that many cycles before Y is formed (`_cycle_mean`): where arrivals come in platoons
  from signals upstream one cycle's Y swings (0.05-1.00 on RESCO cologne1), and C0, convex in Y, with it. With
  `webster_ds_floor` C0 is floored at the cycle whose greens would hold every phase at DS 1 (each phase's green
  times its DS, at least its minimum, averaged over the same cycles, plus the intergreens): Webster's formula,
  made for undersaturated junctions with random arrivals, does not know the queues a shorter cycle leaves.
  The first cycle measured (from the first green seen, part way into the program's cycle) starts neither mean:
  its arrivals are not a cycle's (RiLSA r1: Y 0.11 against 0.41-0.76 after), and held the means low for cycles.

- with `ds_mean_cycles` above 1, the DS the splits and the cycle are chosen from is an exponential mean
  over that many cycles (`_cycle_mean`), as SCATS votes its split plans over cycles rather than following
  one cycle's measurement.

Each movement is charged to its primary phase (protected, else longest base green). Until a
cycle has been measured the network's own program timing is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.network import NetworkView
from controller.core.params import ScatsParams
from controller.core.policies import Policy
from controller.core.policies.phases import primary_phases
from controller.core.policies.requirements import (
    actuated_crossing_refusal,
    actuated_refusal,
    coupled_refusal,
    crossing_held_stages,
    cyclic_refusal,
    shorter_city_cycle_refusal,
)
from controller.core.policies.webster import lane_shared_layout
from controller.core.safety import DECISION_PERIOD_S, SignalView
from controller.model import CycleWish, Intersection


@dataclass(frozen=True)
class ScatsState:
    primary: np.ndarray  # (movements,) phase charged
    intergreen_s: tuple[float, ...]  # order[i] -> order[i+1]
    cycle_s: float
    greens_s: tuple[float, ...]  # per phase, index order
    offset_s: float
    desired_cycle_s: float
    green_given_s: np.ndarray  # (phases,) green shown this measurement cycle
    dep_green_pcu: np.ndarray  # (movements,) discharged while its phase was green
    residual_pcu: np.ndarray  # (movements,) queued when its phase's green ended
    lane_green_s: np.ndarray  # (lanes,) green shown to the lane this measurement cycle
    lane_wasted_s: np.ndarray  # (lanes,) of it, with the stop-line loop in a long gap
    last_dep_pcu: np.ndarray | None = None
    last_phase: int = -1
    last_green: bool = False
    last_served: int = -1  # the last phase seen green (-1: none yet)
    cycle_start_s: float | None = None  # when the first phase last turned green (None: never seen)
    measured: bool = False
    plan_greens_s: tuple[float, ...] | None = None  # the greens sent for the cycle under way
    gapped_phase: int = -1  # the phase ended early (gap-out) in this cycle's plan
    watch: ProgramWatch | None = None  # the city's actuated program watched before a takeover
    kept: bool = False  # the program extends its greens with the demand: it keeps running, no plan
    ds_mean: np.ndarray | None = None  # (phases,) the DS the last splits were chosen from (None: none yet)
    queued_before_pcu: np.ndarray | None = None  # (movements,) residual_pcu of the cycle before (None: none yet)
    flow_mean_pcu_h: np.ndarray | None = None  # (movements,) arrival flows averaged over cycles (webster_flow_cycles)
    need_mean_s: np.ndarray | None = None  # (phases,) green each phase needs at DS 1, averaged alike (webster_ds_floor)
    last_tick_s: float | None = None  # when the last tick was measured (None: none yet)
    watched: tuple[int, ...] = ()  # the stages `watch_actuated_crossings` watches (_watched_stages, found at init)


@dataclass(frozen=True)
class ProgramWatch:
    """The city's vehicle-actuated program as the roadside reports it, before scats takes over
    (`keep_extending_actuated`; `watch_actuated_crossings`: its crossing stages' greens only): the greens
    it ran, their seconds and their stages' minimum greens.
    Only greens seen from their start to their end count: the watch starts and ends mid-green, and
    such a part of a green, counted against its whole minimum, would read short. A green's seconds are
    the time from the tick it was first seen green to the tick it was first seen ended, whatever the
    tick's period. Example: greens of 12, 5 and 9 s at stages of minimum 5 s extend (26 - 15) / 3 = 3.7 s."""

    start_s: float
    greens: int = 0
    green_s: float = 0.0
    min_green_s: float = 0.0
    last_phase: int = -2  # the phase green at the last tick (-1: an intergreen; -2: no tick seen yet)
    open_from_s: float | None = None  # when the green under way was first seen (None: none, or not seen from its start)
    open_min_s: float = 0.0  # ... its stage's minimum green

    def seen(self, signal: SignalView, min_green_s: float, now_s: float, counts: bool = True) -> ProgramWatch:
        """The tick at `now_s` folded in; `counts`: a green starting now is one the watch reads (False: only
        its start and end are seen, e.g. a stage without crossings)."""
        if not signal.in_intergreen and signal.phase == self.last_phase:
            return self
        closed = self._closed(now_s)
        if signal.in_intergreen:
            return replace(closed, last_phase=-1)
        started = counts and self.last_phase != -2  # a tick before this one showed another phase or an intergreen
        return replace(
            closed,
            last_phase=signal.phase,
            open_from_s=now_s if started else None,
            open_min_s=min_green_s if started else 0.0,
        )

    def _closed(self, now_s: float) -> ProgramWatch:
        """The green under way ended by `now_s`: folded in if it was seen from its start."""
        if self.open_from_s is None:
            return self
        return replace(
            self,
            greens=self.greens + 1,
            green_s=self.green_s + (now_s - self.open_from_s),
            min_green_s=self.min_green_s + self.open_min_s,
            open_from_s=None,
            open_min_s=0.0,
        )

    def extension_s(self) -> float:
        """The mean green the program ran beyond its stages' minimum greens, over the greens seen
        whole (s; 0 with none seen)."""
        return (self.green_s - self.min_green_s) / self.greens if self.greens else 0.0


@dataclass(frozen=True)
class Advice:
    cycle_s: float  # the longest cycle wanted in the junction's married subsystem
    offset_s: float | None  # when its first phase should turn green (s, any multiple of the cycle
    # away); None: the junction leads its subsystem (keeps its own rhythm)
    others_cycle_s: float = 0.0  # the longest cycle wanted by the other junctions of its subsystem (0: none)


def _positions(greens: tuple[float, ...], ig: tuple[float, ...]) -> np.ndarray:
    """Start of each phase's green within the cycle (index order, phase 0 at 0)."""
    pos = np.zeros(len(greens))
    for k in range(1, len(greens)):
        pos[k] = pos[k - 1] + greens[k - 1] + ig[k - 1]
    return pos


class ScatsPolicy(Policy):
    name = "scats"
    uses_network = True
    coordinate_period_s: float | None = 10.0  # married cycles and offsets are recomputed this often

    def __init__(self, params: ScatsParams | None = None) -> None:
        """`params`: config.toml's section for this policy; None: the defaults."""
        self.params = params if params is not None else ScatsParams()

    def cannot_serve(self, layout: Layout) -> str:
        """Also refuses a junction coupled to another light (module doc), and with its keys a light on a
        vehicle-actuated program: every such light (`keep_actuated`), or one whose stages carry pedestrian
        minimum greens (`keep_actuated_crossings`, unless `watch_actuated_crossings` watches it instead); with
        `keep_shorter_city_cycle` a light on a fixed-time program whose cycle is shorter than its stages at their
        minimum greens (requirements.shorter_city_cycle_refusal)."""
        kept = actuated_refusal(layout) if self.params.keep_actuated else ""
        crossings = self.params.keep_actuated_crossings and not self.params.watch_actuated_crossings
        kept = kept or (actuated_crossing_refusal(layout) if crossings else "")
        kept = kept or (shorter_city_cycle_refusal(layout) if self.params.keep_shorter_city_cycle else "")
        return cyclic_refusal(layout) or coupled_refusal(layout) or kept

    def watches_first(self, layout: Layout) -> str:
        """Why a light is left on its vehicle-actuated program at first: `watch_actuated_crossings` (its
        crossing stages watched, window after window) or `keep_extending_actuated` (one watch)."""
        p = self.params
        watched = self._watched_stages(layout)
        if watched:
            stages = ", ".join(str(k) for k in watched)
            return (
                f"{layout.junction.source}: a vehicle-actuated program whose stages {stages} carry their crossings' "
                f"pedestrian minimum greens: kept on it while those stages run shorter than their minimums, judged "
                f"every {p.actuated_watch_s:g} s ([scats] watch_actuated_crossings)"
            )
        if p.keep_extending_actuated and layout.junction.actuated:
            return (
                f"{layout.junction.source}: a vehicle-actuated program: watched {p.actuated_watch_s:g} s, kept if its "
                f"greens ran {p.actuated_extension_s:g} s or more past their minimums ([scats] keep_extending_actuated)"
            )
        return ""

    def init(self, layout: Layout, now_s: float) -> ScatsState:
        j = layout.junction
        n = len(j.phases)
        ig = j.cycle_intergreens_s()
        greens = tuple(p.base_green_s for p in j.phases)
        cycle_s = j.base_cycle_s()
        return ScatsState(
            primary_phases(layout, protected_first=True),
            ig,
            cycle_s,
            greens,
            j.base_offset_s % max(cycle_s, 1e-9),
            cycle_s,
            np.zeros(n),
            np.zeros(len(j.movements)),
            np.zeros(len(j.movements)),
            np.zeros(len(layout.lanes)),
            np.zeros(len(layout.lanes)),
            watched=self._watched_stages(layout),
        )

    # -- network-level: married cycles and offsets ------------------------------------------------
    def coordinate(self, network: NetworkView, states: Mapping[str, Any], now_s: float) -> dict[str, Advice]:
        """Per junction run by scats: the cycle of its married subsystem and, when it follows a
        married upstream neighbour, when its first phase should turn green (module doc). A light
        left on its actuated program (`keep_extending_actuated`: watched, or kept; `watch_actuated_crossings`:
        watched) runs no scats
        cycle: its wish is its initial one, never adapted, and it marries no neighbour."""
        states = {j: s for j, s in states.items() if not _on_program(s)}
        main_up = _main_upstream(network, states)
        root = self._subsystems(network, states, main_up)
        wants = {j: s.desired_cycle_s for j, s in states.items() if isinstance(s, ScatsState)}
        cycles, others = _subsystem_cycles(wants, root)
        # Offsets along a tree: heaviest junctions first, each after its main upstream.
        advice: dict[str, Advice] = {}
        order = sorted(network.layouts, key=lambda j: -float(network.estimates[j].flow_pcu_h.sum()))
        placed: set[str] = set()
        for j in order:
            s = states.get(j)
            if not isinstance(s, ScatsState):
                continue
            up = main_up.get(j) if self.params.offsets else None
            off = None
            if (
                up is not None
                and up.junction in placed
                and self._marries(states, j, up)
                and states[up.junction].cycle_start_s is not None
            ):
                off = _offset_after(states[up.junction], s, up, states[up.junction].cycle_start_s)
            placed.add(j)
            advice[j] = Advice(cycles.get(root[j], s.cycle_s), off, others[j])
        return advice

    def _marries(self, states: Mapping[str, Any], j: str, up: _Upstream) -> bool:
        """Married: the main upstream link carries at least `marry_flow_pcu_h` and the cycles the
        two junctions want differ by at most `marry_cycle_diff_s`."""
        return (
            up.flow_pcu_h >= self.params.marry_flow_pcu_h
            and abs(states[up.junction].desired_cycle_s - states[j].desired_cycle_s) <= self.params.marry_cycle_diff_s
        )

    def _subsystems(
        self, network: NetworkView, states: Mapping[str, Any], main_up: Mapping[str, _Upstream]
    ) -> dict[str, str]:
        """Per junction, the root of its married subsystem (itself without offsets): junctions
        chained by married main upstream links (the arterials), by union-find."""
        parent = {j: j for j in network.layouts}

        def find(a: str) -> str:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for j, up in main_up.items():
            if self._marries(states, j, up):
                parent[find(up.junction)] = find(j)
        return {j: find(j) if self.params.offsets else j for j in network.layouts}

    # -- per junction ------------------------------------------------------------------------------
    def decide(
        self,
        state: ScatsState,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None = None,
    ) -> tuple[ScatsState, CycleWish | None]:
        """Measure this tick's green; at the start of a cycle adapt cycle and splits and send the
        cycle's plan; within a cycle, gap-out (module doc)."""
        if signal is None:
            return state, None
        if state.watched:
            state, waiting = self._watch_crossings(state, layout, state.watched, signal, now_s)
            if waiting:
                return state, None
        elif self.params.keep_extending_actuated and layout.junction.actuated:
            state, waiting = self._watch_program(state, layout, signal, now_s)
            if waiting:
                return state, None
        state, starting = self._measure(state, layout, est, signal, now_s)
        if not starting:
            return self._gap_out(state, layout, est, signal, not signal.in_intergreen)
        start_s = _cycle_start_s(state, signal, now_s)
        if state.cycle_start_s is None:
            return self._wish(replace(state, cycle_start_s=start_s), layout, network, now_s, signal)
        cycle_seen_s = start_s - state.cycle_start_s
        state = replace(state, cycle_start_s=start_s)
        shortest_s = layout.junction.min_cycle_s()
        if cycle_seen_s < 0.5 * shortest_s:  # the same cycle seen again (a late status), not a new one
            return state, None
        return self._wish(self._adapt(state, layout, est), layout, network, now_s, signal)

    def _watch_program(
        self, state: ScatsState, layout: Layout, signal: SignalView, now_s: float
    ) -> tuple[ScatsState, bool]:
        """Before a takeover, the city's actuated program is watched for `actuated_watch_s`; if its greens
        then ran `actuated_extension_s` or more beyond their minimums on average, it tracks its demand and
        is kept for good (module doc). True while scats waits (watching, or the program kept)."""
        if state.kept:
            return state, True
        if state.cycle_start_s is not None:  # taken over
            return state, False
        watch = state.watch if state.watch is not None else ProgramWatch(now_s)
        if now_s - watch.start_s < self.params.actuated_watch_s:
            min_green_s = layout.junction.phases[signal.phase].min_green_s
            return replace(state, watch=watch.seen(signal, min_green_s, now_s)), True
        kept = watch.extension_s() >= self.params.actuated_extension_s
        return replace(state, watch=watch, kept=kept), kept

    def _watched_stages(self, layout: Layout) -> tuple[int, ...]:
        """The stages carrying pedestrian minimum greens of an actuated light left on its program while they
        bind (`keep_actuated_crossings` with `watch_actuated_crossings`); () for a light not so watched."""
        p = self.params
        if p.keep_actuated_crossings and p.watch_actuated_crossings and layout.junction.actuated:
            return crossing_held_stages(layout)
        return ()

    def _watch_crossings(
        self, state: ScatsState, layout: Layout, watched: tuple[int, ...], signal: SignalView, now_s: float
    ) -> tuple[ScatsState, bool]:
        """The city's actuated program keeps a light whose stages `watched` carry its crossings' pedestrian minimums
        while, window after window of `actuated_watch_s`, those stages' greens (seen whole) ran on average
        shorter than their minimums: a cycle would give each that minimum every cycle, more than the program
        spends. At the first window where they ran at least that long (or none was seen whole: the light is
        kept), scats takes over for good: the watch that read so is kept, and reads so at every later tick.
        True while scats waits."""
        if state.cycle_start_s is not None:
            return state, False
        watch = state.watch if state.watch is not None else ProgramWatch(now_s)
        if now_s - watch.start_s >= self.params.actuated_watch_s:
            if watch.greens and watch.extension_s() >= 0.0:
                return replace(state, watch=watch), False
            watch = ProgramWatch(now_s)  # they bind (or none was seen whole): the next window
        held = signal.phase in watched
        min_green_s = layout.junction.phases[signal.phase].min_green_s
        return replace(state, watch=watch.seen(signal, min_green_s, now_s, counts=held)), True

    def _measure(
        self, state: ScatsState, layout: Layout, est: Estimate, signal: SignalView, now_s: float
    ) -> tuple[ScatsState, bool]:
        """Fold the tick at `now_s` into the cycle's measurements: green shown per phase and lane,
        wasted green, discharge in green, queue left at the end of a green. A tick seen green counts
        the seconds since the tick measured before it (the departures counted since then are charged
        to its phase alike), whatever the tick's period, but no further back than that green began (its
        elapsed time, and one decision period: a tick stands for the period before it): a gap in the
        measured ticks (a stale feed, a decision that raised) is not charged to the phase seen green
        after it; the first tick measured, with none before it, counts one decision period
        (DECISION_PERIOD_S). True when a new cycle begins: the first tick of a green whose phase index
        is not above the last phase seen green (the order wrapped around), or the first green seen at
        all (module doc); recognised by the change, not by the reported elapsed time, which depends on
        when the status arrived."""
        dep = est.departures_pcu
        last_dep = state.last_dep_pcu if state.last_dep_pcu is not None else dep
        tick_s = now_s - state.last_tick_s if state.last_tick_s is not None else DECISION_PERIOD_S
        green_now = not signal.in_intergreen
        given, dep_green, residual = state.green_given_s, state.dep_green_pcu, state.residual_pcu
        lane_green, lane_wasted = state.lane_green_s, state.lane_wasted_s
        if green_now:
            k = signal.phase
            tick_s = min(tick_s, signal.green_elapsed_s + DECISION_PERIOD_S)  # a gap: only this green's part
            given = given.copy()
            given[k] += tick_s
            on = layout.lane_green[k] & (layout.lane_stop >= 0)
            lane_green = lane_green + on * tick_s
            lane_wasted = lane_wasted + (on & (est.lanes.stop_empty_s > self.params.empty_gap_s + 1e-9)) * tick_s
            charged = state.primary == k
            dep_green = dep_green + np.where(charged, dep - last_dep, 0.0)
        if state.last_green and (not green_now or signal.phase != state.last_phase):
            residual = np.where(state.primary == state.last_phase, est.queue_pcu, residual)
        new_green = green_now and not (state.last_green and state.last_phase == signal.phase)
        starting = new_green and (state.last_served < 0 or signal.phase <= state.last_served)
        state = replace(
            state,
            last_dep_pcu=dep,
            last_tick_s=now_s,
            last_phase=signal.phase,
            last_green=green_now,
            last_served=signal.phase if green_now else state.last_served,
            green_given_s=given,
            dep_green_pcu=dep_green,
            residual_pcu=residual,
            lane_green_s=lane_green,
            lane_wasted_s=lane_wasted,
        )
        return state, starting

    def _adapt(self, state: ScatsState, layout: Layout, est: Estimate) -> ScatsState:
        """At the end of a measured cycle: the desired cycle and the splits toward equal degrees
        of saturation (module doc); the measurements restart."""
        j = layout.junction
        n, n_l = len(j.phases), len(layout.lanes)
        given = state.green_given_s
        ds = _cycle_mean(state.ds_mean, _degrees_of_saturation(state, layout, est), self.params.ds_mean_cycles)
        c0 = state.cycle_s
        lost_s = sum(state.intergreen_s)
        # The green each phase needs to run at the target DS (at least its minimum), summed with
        # the lost time: the cycle that, with splits equalising DS, brings every phase to target.
        # (The max DS alone would lengthen the cycle for a phase held at its minimum green, which
        # a longer cycle does not give more green: the other phases would only run emptier.)
        mins = np.array([p.min_green_s for p in j.phases])
        shown = np.where(given > 0, given, np.array(state.greens_s))
        need = np.maximum(mins, shown * ds / self.params.ds_target)
        g0 = np.array(state.greens_s)
        want = self._wanted_s(j, g0, need, shown, mins, lost_s)
        maxs = np.array([p.max_green_s for p in j.phases])
        greens, held = _splits(g0, want, need, ds, maxs, self.params.split_step_s)
        desired = lost_s + float(need.sum())
        flow_mean, need_mean = state.flow_mean_pcu_h, state.need_mean_s
        if self.params.webster_cycle:
            cycles = self.params.webster_flow_cycles
            flow_mean = _cycle_mean(flow_mean, cycle_arrivals_pcu_h(state, lost_s + float(shown.sum())), cycles)
            y = flow_ratio_sum(state.primary, layout, est, flow_mean)
            desired = webster_cycle_s(y, lost_s, lost_s + float(mins.sum()))
            if self.params.webster_ds_floor:  # the shortest cycle that holds every phase at DS 1
                need_mean = _cycle_mean(need_mean, np.maximum(mins, shown * ds), cycles)
                desired = max(desired, lost_s + float(need_mean.sum()))
            if not state.measured:  # the first cycle seen began part way into the program's: its arrivals
                flow_mean, need_mean = None, None  # are not a cycle's, and would hold the means low for cycles
        if held:  # the cycle grows no further than the greens it has to hold
            desired = min(desired, lost_s + float(greens.sum()))
        desired = float(np.clip(desired, c0 - self.params.cycle_step_s, c0 + self.params.cycle_step_s))
        desired = float(np.clip(desired, j.cycle_min_s, j.cycle_max_s))
        return replace(
            state,
            desired_cycle_s=desired,
            measured=True,
            ds_mean=ds,
            green_given_s=np.zeros(n),
            dep_green_pcu=np.zeros_like(state.dep_green_pcu),
            residual_pcu=np.zeros_like(state.residual_pcu),
            queued_before_pcu=state.residual_pcu,
            flow_mean_pcu_h=flow_mean,
            need_mean_s=need_mean,
            lane_green_s=np.zeros(n_l),
            lane_wasted_s=np.zeros(n_l),
            greens_s=tuple(float(x) for x in greens),
        )

    def _wanted_s(
        self,
        j: Intersection,
        g0_s: np.ndarray,
        need_s: np.ndarray,
        shown_s: np.ndarray,
        mins_s: np.ndarray,
        lost_s: float,
    ) -> np.ndarray:
        """Per phase, the green the splits move toward (s): its green `g0_s` scaled by its need over the green it
        was shown (equal degrees of saturation). With `city_split_at_minimums`, where no phase needs more than its
        minimum green and the city's program splits the shortest cycle otherwise than the minimums do
        (`city_split_departs`), the city's program's base greens scaled to the sum of `g0_s` instead: at light
        demand every need is its minimum, and the minimums' proportions are not the city's (a 25 / 5 / 6 s program
        with 18.33 / 5 / 6 s minimums gives its through stage 30 % of the cycle at its minimums, 33 % at the city's
        split). Example: greens 20 / 10 s, needs 15 / 10 s, shown 20 / 10 s: 15 / 10 s."""
        if (
            self.params.city_split_at_minimums
            and bool((need_s <= mins_s + 1e-9).all())
            and city_split_departs(j, mins_s, lost_s)
        ):
            base = np.array([max(p.base_green_s, 0.0) for p in j.phases])
            out: np.ndarray = base * float(g0_s.sum()) / float(base.sum())
            return out
        want: np.ndarray = g0_s * np.maximum(need_s / np.maximum(shown_s, 1e-9), 0.05)
        return want

    def _wish(
        self, state: ScatsState, layout: Layout, network: NetworkView | None, now_s: float, signal: SignalView
    ) -> tuple[ScatsState, CycleWish]:
        """The cycle plan for the cycle starting now: the married cycle, the splits scaled into it,
        and this cycle's greens stretched or shortened toward the offset."""
        j = layout.junction
        adv: Advice | None = network.advice.get(j.id) if network is not None else None
        cycle = state.desired_cycle_s
        if adv is not None:  # the advice is the last coordination's: its own wish there is a cycle old
            cycle = max(cycle, adv.others_cycle_s) if self.params.own_cycle_now else adv.cycle_s
        # it keeps an offset to an upstream neighbour, or leads (its own rhythm)
        offset = adv.offset_s if adv is not None and adv.offset_s is not None else None
        follows = offset is not None
        offset = offset if offset is not None else state.offset_s
        ig = sum(state.intergreen_s)
        mins = np.array([p.min_green_s for p in j.phases])
        maxs = np.array([p.max_green_s for p in j.phases])
        g = np.array(state.greens_s)
        g = np.clip(g * max(cycle - ig, mins.sum()) / max(g.sum(), 1e-9), mins, maxs)
        cycle = float(g.sum() + ig)
        state = replace(state, greens_s=tuple(float(x) for x in g), cycle_s=cycle, offset_s=offset % cycle)
        # Offset keeping: phase 0 turned green at cycle_start; it should have at `offset` (mod C).
        this = g.copy()
        if follows:
            start_s = _cycle_start_s(state, signal, now_s)
            late = (start_s - offset) % cycle
            shift = -late if late <= cycle / 2 else cycle - late  # < 0: shorten this cycle; > 0: stretch it
            shift = float(np.clip(shift, -self.params.split_step_s, self.params.split_step_s))
            # As a cycle-length change, in proportion to the splits: stretching gives the time to
            # the phases that use it, not to the short ones furthest from their maximum.
            room_s = (this - mins) if shift < 0 else np.minimum(this, maxs - this)
            if room_s.sum() > 0:
                this = this + shift * room_s / room_s.sum()
        else:
            state = replace(state, offset_s=_cycle_start_s(state, signal, now_s) % cycle)  # it leads: its own rhythm
        state = replace(state, plan_greens_s=tuple(float(x) for x in this), gapped_phase=-1)
        return state, CycleWish(tuple(range(len(j.phases))), tuple(float(x) for x in this), offset % cycle)

    def _gap_out(
        self, state: ScatsState, layout: Layout, est: Estimate, signal: SignalView, green_now: bool
    ) -> tuple[ScatsState, CycleWish | None]:
        """SCATS local controllers end a phase early when its traffic has gone (gap-out): past its
        minimum green, no queue on its movements and every stop-line loop on their lanes empty for
        `gap_out_s`. The unused time is not spent: the phase's green in this cycle's plan is cut to
        what it has had (the next cycle's offset keeping absorbs the early start)."""
        if (
            self.params.gap_out_s <= 0
            or not green_now
            or state.plan_greens_s is None
            or state.gapped_phase == signal.phase
        ):
            return state, None
        j, k = layout.junction, signal.phase
        planned = state.plan_greens_s[k]
        if signal.green_elapsed_s < j.phases[k].min_green_s or signal.green_elapsed_s >= planned - 1.0:
            return state, None
        charged = state.primary == k
        lanes_k = layout.lane_green[k] & (layout.lane_share[charged].sum(axis=0) > 0) & (layout.lane_stop >= 0)
        if not lanes_k.any() or (layout.lane_share[charged].sum(axis=0) > 0)[layout.lane_stop < 0].any():
            return state, None  # a lane without a loop: its traffic cannot be seen to have gone
        if float(est.queue_pcu[charged].max(initial=0.0)) >= 0.5:
            return state, None
        if float(est.lanes.stop_empty_s[lanes_k].min()) < self.params.gap_out_s - 1e-9:
            return state, None
        greens = list(state.plan_greens_s)
        greens[k] = max(j.phases[k].min_green_s, float(signal.green_elapsed_s))
        state = replace(state, plan_greens_s=tuple(greens), gapped_phase=k)
        return state, CycleWish(tuple(range(len(j.phases))), tuple(greens), state.offset_s)


@dataclass(frozen=True)
class _Upstream:
    """A junction's main upstream neighbour: the one sending it most traffic (learnt exits)."""

    junction: str
    travel_s: int  # learnt link travel time
    up_phase: int  # the upstream's phase feeding the link
    phase: int  # this junction's phase receiving it (the primary of most of the approach's flow)
    flow_pcu_h: float  # carried by the link


def _main_upstream(network: NetworkView, states: Mapping[str, Any]) -> dict[str, _Upstream]:
    """Per junction, the upstream neighbour (with the phases at both ends) sending it the most
    flow over the learnt exits; flows of exits with the same neighbour and phases add up."""
    layouts = network.layouts
    main_up: dict[str, _Upstream] = {}
    for u in layouts:
        su = states.get(u)
        if not isinstance(su, ScatsState):
            continue
        flow_u = network.estimates[u].flow_pcu_h
        for m, c in enumerate(network.exits(u)):
            if c is None or c.junction not in layouts:
                continue
            sj = states.get(c.junction)
            if not isinstance(sj, ScatsState):
                continue
            ix = network.links.edge_movements[c.junction][c.edge]
            j_phase = int(
                np.bincount(
                    sj.primary[ix],
                    weights=network.estimates[c.junction].flow_pcu_h[ix] + 1e-6,
                    minlength=len(sj.greens_s),
                ).argmax()
            )
            cand = _Upstream(u, c.travel_s, int(su.primary[m]), j_phase, float(flow_u[m]))
            best = main_up.get(c.junction)
            if best is not None and replace(best, flow_pcu_h=0.0) == replace(cand, flow_pcu_h=0.0):
                main_up[c.junction] = replace(best, flow_pcu_h=best.flow_pcu_h + cand.flow_pcu_h)
            elif best is None or cand.flow_pcu_h > best.flow_pcu_h:
                main_up[c.junction] = cand
    return main_up


def _on_program(state: Any) -> bool:
    """A scats junction left on the city's actuated program: watched before a takeover (either key's watch),
    or kept."""
    return isinstance(state, ScatsState) and (state.kept or (state.watch is not None and state.cycle_start_s is None))


def _subsystem_cycles(
    wants_s: Mapping[str, float], root: Mapping[str, str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Per subsystem root, the longest cycle any of its junctions wants; per junction, the longest the
    others of its subsystem want (0.0 when it is alone). Example: wants {a: 60, b: 70, c: 50}, all one
    subsystem rooted at a: ({a: 70}, {a: 70, b: 60, c: 70})."""
    top: dict[str, list[tuple[float, str]]] = {}  # per root, its two longest wishes
    for j, want_s in wants_s.items():
        top[root[j]] = sorted([*top.get(root[j], []), (want_s, j)], reverse=True)[:2]
    cycles = {r: t[0][0] for r, t in top.items()}
    others = {j: next((w for w, k in top[root[j]] if k != j), 0.0) for j in wants_s}
    return cycles, others


def city_split_departs(j: Intersection, mins_s: np.ndarray, lost_s: float) -> bool:
    """Whether the city's program splits the junction's shortest cycle otherwise than its minimum greens do: its
    base greens and the minimums `mins_s`, each scaled to the greens of that cycle (`cycle_min_s` less the
    intergreens `lost_s`, at least the minimums' sum: where every need is its minimum the cycle heads there), differ
    by a tick (DECISION_PERIOD_S) or more in some phase. Where they do not, the city's proportions are the
    minimums' and `city_split_at_minimums` has nothing to restore. Example: base 30 / 6 / 30 / 6 s, minimums
    7 / 5 / 7 / 5 s (24 s): 10 / 2 / 10 / 2 against 7 / 5 / 7 / 5 s: True; base 42 / 41 s, minimums 7 / 7 s:
    7.08 / 6.92 against 7 / 7 s: False."""
    base = np.array([max(p.base_green_s, 0.0) for p in j.phases])
    if base.sum() <= 1e-9 or mins_s.sum() <= 1e-9:
        return False
    greens_s = max(j.cycle_min_s - lost_s, float(mins_s.sum()))
    apart = base * greens_s / float(base.sum()) - mins_s * greens_s / float(mins_s.sum())
    return bool((np.abs(apart) >= DECISION_PERIOD_S - 1e-9).any())


def _splits(
    g0_s: np.ndarray, want_s: np.ndarray, need_s: np.ndarray, ds: np.ndarray, max_s: np.ndarray, step_s: float
) -> tuple[np.ndarray, bool]:
    """Per phase, the next cycle's green: toward the wanted green by at most `step_s`; a phase
    does not grow while a more saturated one (higher DS) needs more than its maximum green: the
    time would go to the phase that needs it less, and the cycle would only grow longer for it
    (a junction with every phase at its maximum would run equal greens whatever their DS). True
    when some phase was held so. Example: needs 144 and 97 s against maxima of 60 s, greens 60
    and 44 s: they stay 60 and 44 s (before: 60 and 48, then 52, ... 60)."""
    greens = np.clip(want_s, g0_s - step_s, g0_s + step_s)
    short = need_s > max_s + 1e-9
    held = np.array([bool((short & (ds > ds[k] + 1e-9)).any()) for k in range(len(ds))])
    out: np.ndarray = np.minimum(np.where(held, np.minimum(greens, g0_s), greens), max_s)
    return out, bool(held.any())


def webster_cycle_s(y_sum: float, lost_s: float, least_s: float) -> float:
    """Webster's (1958, Road Research Technical Paper 39) delay-minimising cycle C0 = (1.5 L + 5) / (1 - Y) (s),
    `y_sum` Y, the sum over the phases of their critical flow ratios q / s, `lost_s` L, the cycle's lost time; at
    least `least_s` (the minimum greens with the intergreens). Y at 1 or above (oversaturated) gives 1e6 s: the
    caller bounds it to the junction's longest cycle. Example: Y 0.6, L 12 s: C0 = (18 + 5) / 0.4 = 57.5 s."""
    c0_s = (1.5 * lost_s + 5.0) / (1.0 - y_sum) if y_sum < 1.0 - 1e-6 else 1e6
    return max(c0_s, least_s)


def cycle_flow_ratio_sum(state: ScatsState, layout: Layout, est: Estimate, cycle_s: float) -> float:
    """Y over the cycle just measured (`cycle_s` long): over the phases, the largest flow ratio q / s among the
    movements charged to each (`state.primary`), q their arrivals over the cycle (`cycle_arrivals_pcu_h`), s as in
    `flow_ratio_sum`. Example: through movements discharging 8 PCU per 40 s cycle (720 PCU/h at 1,800: 0.4) and
    lefts 1.8 PCU (160 PCU/h at 1,600: 0.1), each on lanes of their own, no queue: 0.4 + 0.1 per pair of phases."""
    return flow_ratio_sum(state.primary, layout, est, cycle_arrivals_pcu_h(state, cycle_s))


def cycle_arrivals_pcu_h(state: ScatsState, cycle_s: float) -> np.ndarray:
    """Per movement, its arrival flow over the cycle just measured (`cycle_s` long, PCU/h): its discharge in its
    green plus the change of the queue left at the end of its green (stop-line loops, as the DS), at least 0.
    Example: 8 PCU discharged in a 40 s cycle, the queue left 2 PCU against 1 the cycle before: 9 x 90 = 810."""
    before = state.queued_before_pcu if state.queued_before_pcu is not None else np.zeros_like(state.residual_pcu)
    arrived = np.maximum(state.dep_green_pcu + state.residual_pcu - before, 0.0)
    out: np.ndarray = arrived * 3600.0 / max(cycle_s, 1.0)
    return out


def flow_ratio_sum(primary: np.ndarray, layout: Layout, est: Estimate, q_pcu_h: np.ndarray) -> float:
    """Y: over the phases, the largest flow ratio q / s among the movements charged to each (`primary`), a
    movement's flow ratio its busiest lane's, the time the lane's movements' flows `q_pcu_h` take at their own
    per-lane saturation flows (webster.lane_shared_layout, HCM's shared-lane flow ratio: the model gives a
    movement on a shared lane a part of the lane's rate), at the learnt saturation flows. Example: a through
    movement of 720 PCU/h on two lanes of 1,800 (0.2) charged to phase 0, one of 360 on one lane (0.2) and a
    left of 160 at 1,600 (0.1) charged to phase 1: 0.2 + 0.2."""
    shared = lane_shared_layout(replace(layout, sat_flow_pcu_h=est.sat_flow_pcu_h), q_pcu_h)
    ratio = q_pcu_h / np.maximum(shared.sat_flow_pcu_h, 1e-6)
    return sum(float(ratio[primary == k].max(initial=0.0)) for k in range(len(layout.junction.phases)))


def _cycle_mean(mean: np.ndarray | None, new: np.ndarray, cycles: float) -> np.ndarray:
    """An exponential mean over `cycles` cycles, the newest cycle's value weighing 1 / `cycles`; the first cycle
    measured, or `cycles` 1, that cycle alone. The DS the splits and the cycle are chosen from
    (`ds_mean_cycles`): a lightly used stage's one-cycle DS swings with the arrivals of one cycle (0.52, 1.13,
    1.76, 0.88 in consecutive cycles), and the greens would follow it by `split_step_s` each cycle; likewise
    the arrival flows Webster's Y is formed from and the greens at DS 1 (`webster_flow_cycles`). Example: a
    mean of 1.0 and a cycle of 0.4 over 3 cycles: 0.8."""
    if mean is None or cycles <= 1.0 or mean.shape != new.shape:
        return new
    out: np.ndarray = mean + (new - mean) / cycles
    return out


def _cycle_start_s(state: ScatsState, signal: SignalView, now_s: float) -> float:
    """When the cycle under way began: when its first phase turned green, or would have, when the
    cycle began at a later phase (the current green's start less its position in the cycle)."""
    greens = state.plan_greens_s if state.plan_greens_s is not None else state.greens_s
    return now_s - signal.green_elapsed_s - float(_positions(greens, state.intergreen_s)[signal.phase])


def _offset_after(su: ScatsState, s: ScatsState, up: _Upstream, up_cycle_start_s: float) -> float:
    """When the junction's first phase should turn green: after the upstream's, as it actually
    ran, by the upstream green's position, the travel time and the junction's own green's
    position. An absolute time (mod the common cycle), not a phase of the clock: the cycle
    length changes from cycle to cycle, so `now mod C` means nothing."""
    pos_u, pos_j = _positions(su.greens_s, su.intergreen_s), _positions(s.greens_s, s.intergreen_s)
    return up_cycle_start_s + float(pos_u[up.up_phase]) + up.travel_s - float(pos_j[up.phase])


def _lanes_all_green(layout: Layout) -> np.ndarray:
    """(phases, lanes) bool: every movement using the lane is green in the phase. Only there does
    the lane's stop-line loop tell the phase's use of its green: on a lane shared with a movement
    held at red (a through lane that also carries a protected left turn, in the left's phase), a
    vehicle standing on the loop may be waiting for its own green, and those behind it with it."""
    red_on_lane = ((~layout.serves).astype(float) @ layout.lane_uses.astype(float)) > 0
    out: np.ndarray = layout.lane_green & ~red_on_lane
    return out


def _degrees_of_saturation(state: ScatsState, layout: Layout, est: Estimate) -> np.ndarray:
    """Per phase, over the cycle just measured: the space-time DS (SCATS), (g - wasted) / g on the
    lanes of the movements charged to it whose every movement it shows green (`_lanes_all_green`),
    plus the green the queue left at the end of its green would have needed at saturation flow;
    by discharge over capacity where no such lane was measured."""
    n = len(layout.junction.phases)
    given, residual = state.green_given_s, state.residual_pcu
    lane_green, lane_wasted = state.lane_green_s, state.lane_wasted_s
    sat_pcu_h = est.sat_flow_pcu_h
    cap = sat_pcu_h / 3600.0 * np.maximum(given[state.primary], 1.0)
    ds_m = (state.dep_green_pcu + residual) / np.maximum(cap, 1e-6)
    ds = np.array([ds_m[state.primary == k].max(initial=0.0) for k in range(n)])
    lane_ds = np.where(lane_green > 0, (lane_green - lane_wasted) / np.maximum(lane_green, 1.0), -1.0)
    left_m = residual / np.maximum(sat_pcu_h / 3600.0 * np.maximum(given[state.primary], 1.0), 1e-6)
    readable = _lanes_all_green(layout)
    for k in range(n):
        lanes_k = readable[k] & (layout.lane_share[state.primary == k].sum(axis=0) > 0) & (lane_green > 0)
        if lanes_k.any():
            ds[k] = float(lane_ds[lanes_k].max()) + float(left_m[state.primary == k].max(initial=0.0))
    return ds

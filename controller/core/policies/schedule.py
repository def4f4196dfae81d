"""`schedule`: rolling-horizon, schedule-driven control in the spirit of SURTRAC
(Xie, Smith & Barlow, ICAPS 2012; Smith et al. 2013).

Each junction turns what it knows of the traffic over the next `horizon_s` seconds into
*clusters* per phase: the queue standing at the stop line (arrived now), then the vehicles
expected at the stop line, grouped in time. Expected arrivals come from

- the neighbours: the departures of the upstream junctions already on their way here, each
  shifted by the learnt link travel time (core NetworkView; SURTRAC's "outflows sent to the
  downstream neighbours", here read from the neighbours' own detector feed by the core);
- the advance loops, for the steady arrival flow of approaches without a learnt upstream
  (network entries), and beyond what the upstream departures cover.

A forward dynamic programme then orders the clusters (SURTRAC's formulation): the state is how
many clusters of each phase have been served and which phase is green; serving the next
cluster of a phase costs its vehicles' waiting, a switch costs the intergreen plus the start-up
loss, every green lasts at least its minimum and at most its maximum. The schedule with the least
total delay wins; only its first step is applied (extend the current phase, or change to the
phase of its next cluster), and it is recomputed at the next decision point.

Replanning: at every tick once the current phase has served its minimum green (before that the
only possible decision is to stay), at most every `replan_s` seconds in between. The amortised
cost per junction per tick is measured by the benchmark.

Each movement is charged to its primary phase (the one serving it protected, else longest in
the base program). Clusters are capped at `max_clusters` per phase by merging the closest ones:
the programme has prod(clusters + 1) x phases states.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.policies.max_pressure import build_statics
from controller.core.safety import SignalView
from controller.model import PhaseWish


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


@dataclass(frozen=True)
class ScheduleState:
    statics: ScheduleStatics
    planned_s: float = float("-inf")  # when the current plan was made
    next_phase: int = -1  # the plan's next phase (-1: extend the current one)
    switch_at_s: float = float("inf")  # when the plan switches to it
    phase: int = -1
    dep_at_green_pcu: np.ndarray | None = None


def primary_phases(layout: Layout) -> np.ndarray:
    j = layout.junction
    out = np.zeros(len(j.movements), dtype=int)
    for i in range(len(j.movements)):
        serving = [k for k in range(len(j.phases)) if layout.serves[k, i]]
        out[i] = max(serving, key=lambda k: (layout.protected[k, i], j.phases[k].base_green_s, -k))
    return out


@dataclass(frozen=True)
class Cluster:
    arrival_s: float  # when its first vehicle reaches the stop line, from now
    count_pcu: float
    service_s: float  # time to discharge it at saturation


class SchedulePolicy:
    name = "schedule"
    uses_network = True

    def __init__(self, horizon_s: float = 90.0, cluster_gap_s: float = 4.0, max_clusters: int = 3,
                 replan_s: float = 2.0, permitted_sat_ratio: float = 0.4, clearance_min_pcu: float = 0.5,
                 steady_s: float = 0.0, wait_scale_s: float = 60.0, min_rate_ratio: float = 0.3) -> None:
        self.steady_s = steady_s
        self.wait_scale_s = wait_scale_s
        self.min_rate_ratio = min_rate_ratio
        self.horizon_s = horizon_s
        self.cluster_gap_s = cluster_gap_s
        self.max_clusters = max_clusters
        self.replan_s = replan_s
        self.permitted_sat_ratio = permitted_sat_ratio
        self.clearance_min_pcu = clearance_min_pcu

    def init(self, layout: Layout, now_s: float) -> ScheduleState:
        j = layout.junction
        mp = build_statics(layout, self.permitted_sat_ratio)
        by_edge: dict[str, list[int]] = {}
        for i, m in enumerate(j.movements):
            by_edge.setdefault(m.from_edge, []).append(i)
        return ScheduleState(ScheduleStatics(
            intergreen_s=mp.intergreen_s, primary=primary_phases(layout), rate_pcu_s=layout.sat_flow_pcu_h / 3600.0,
            min_green_s=np.array([p.min_green_s for p in j.phases]),
            max_green_s=np.array([p.max_green_s for p in j.phases]),
            edges=tuple((e, np.array(ix)) for e, ix in by_edge.items()), clearance=mp.clearance,
            permitted=layout.serves & ~layout.protected))

    # -- clusters -----------------------------------------------------------------------------
    def arrivals(self, st: ScheduleStatics, layout: Layout, est: Estimate, network) -> np.ndarray:
        """(movements, horizon) PCU expected at the stop line in each coming second: the upstream
        departures on their way where the exit feeding the approach is learnt; elsewhere the
        steady arrival flow, over the first `steady_s` seconds only (beyond, the schedule would
        plan for vehicles nobody has seen)."""
        h = int(self.horizon_s)
        flow = est.flow_pcu_h / 3600.0
        out = np.zeros((len(flow), h))
        steady = min(h, int(self.steady_s))
        out[:, :steady] = flow[:, None]
        if network is None:
            return out
        jid = layout.junction.id
        for edge, ix in st.edges:
            pred = network.inflow_pcu(jid, edge, h)
            if float(pred.sum()) <= 0:
                continue
            f = est.flow_pcu_h[ix]
            share = f / f.sum() if f.sum() > 0 else np.full(len(ix), 1.0 / len(ix))
            out[ix] = share[:, None] * pred[None, :]
        return out

    def clusters(self, st: ScheduleStatics, layout: Layout, est: Estimate, arr: np.ndarray,
                 rate: np.ndarray, weight: np.ndarray | None = None) -> list[list[Cluster]]:
        """Per phase, its clusters in arrival order. The standing queue's count is weighted by how
        long its movements have waited already (1 + red / wait_scale_s): waiting is not free."""
        weight = np.ones(len(rate)) if weight is None else weight
        n_p = len(layout.junction.phases)
        out: list[list[Cluster]] = []
        for k in range(n_p):
            ms = np.flatnonzero(st.primary == k)
            if len(ms) == 0:
                out.append([])
                continue
            cl: list[list[float]] = []  # [arrival, per-movement counts...]
            q = est.queue_pcu[ms]
            if q.sum() >= 0.5:
                cl.append([0.0, *(q * weight[ms])])
            per_s = arr[ms]  # (ms, horizon)
            tot = per_s.sum(axis=0)
            start, acc, last = None, np.zeros(len(ms)), -1e9
            for t in range(per_s.shape[1]):
                if tot[t] <= 1e-9:
                    continue
                if start is not None and t - last > self.cluster_gap_s:
                    cl.append([float(start), *acc])
                    start, acc = None, np.zeros(len(ms))
                if start is None:
                    start = t + 1
                acc = acc + per_s[:, t]
                last = t
            if start is not None:
                cl.append([float(start), *acc])
            cl = [c for c in cl if sum(c[1:]) >= 0.2]
            while len(cl) > self.max_clusters:  # merge the pair of neighbours closest in time
                gaps = [cl[i + 1][0] - cl[i][0] for i in range(len(cl) - 1)]
                i = int(np.argmin(gaps))
                merged = [cl[i][0], *(np.array(cl[i][1:]) + np.array(cl[i + 1][1:]))]
                cl[i:i + 2] = [merged]
            r = np.maximum(rate[ms], 1e-3)
            out.append([Cluster(c[0], float(sum(c[1:])), float(np.max(np.array(c[1:]) / r))) for c in cl])
        return out

    # -- the programme ------------------------------------------------------------------------
    def plan(self, st: ScheduleStatics, clusters: list[list[Cluster]], cur: int, elapsed_s: float,
             startup_s: float) -> tuple[int, float]:
        """(phase of the first cluster served, when it starts) of the least-delay schedule."""
        n_p = len(clusters)
        counts = tuple(len(c) for c in clusters)
        start_state = (tuple(0 for _ in range(n_p)), cur)
        # value: (delay, finish time, green start of the last phase, first phase, first start)
        best = {start_state: (0.0, 0.0, -elapsed_s, -1, 0.0)}
        frontier = [start_state]
        total = sum(counts)
        for _level in range(total):
            nxt: dict = {}
            for served, last in frontier:
                delay, finish, green0, first, first_t = best[(served, last)]
                for k in range(n_p):
                    i = served[k]
                    if i >= counts[k]:
                        continue
                    c = clusters[k][i]
                    if k == last:
                        start = max(finish, c.arrival_s)
                        g0 = green0
                    else:
                        leave = max(finish, green0 + st.min_green_s[last])
                        g0 = leave + st.intergreen_s[last, k]
                        start = max(g0 + startup_s, c.arrival_s)
                    end = max(start + c.service_s, g0 + st.min_green_s[k])
                    if end - g0 > st.max_green_s[k] + 1e-9 and k == last and start > g0:
                        continue  # would run past max green: must switch first
                    d = delay + c.count_pcu * (start - c.arrival_s)
                    key = (served[:k] + (i + 1,) + served[k + 1:], k)
                    f = first if first >= 0 else k
                    ft = first_t if first >= 0 else start
                    val = (d, end, g0, f, ft)
                    old = nxt.get(key)
                    if old is None or (d, end) < old[:2]:
                        nxt[key] = val
            if not nxt:
                break
            best.update(nxt)
            frontier = list(nxt)
        finals = [best[s] for s in frontier] if total else []
        if not finals:
            return cur, 0.0
        d, _, _, first, first_t = min(finals, key=lambda v: (v[0], v[1]))
        return first, first_t

    def decide(self, state: ScheduleState, layout: Layout, est: Estimate, signal: SignalView | None,
               now_s: float, network=None):
        if signal is None:
            return state, None
        cur = signal.phase
        st = state.statics
        if signal.in_intergreen:
            return state, PhaseWish(cur)
        if state.phase != cur or state.dep_at_green_pcu is None:
            state = replace(state, phase=cur, dep_at_green_pcu=est.departures_pcu, planned_s=float("-inf"))
        if signal.green_elapsed_s < st.min_green_s[cur]:
            return state, PhaseWish(cur)
        if now_s - state.planned_s >= self.replan_s:
            sat = est.sat_flow_pcu_h if est.sat_flow_pcu_h is not None else layout.sat_flow_pcu_h
            block = est.block if est.block is not None else 0.0
            # a blocked exit slows the discharge, but the blockage was seen during the last green
            # and may be gone: never below `min_rate_ratio` of the saturation flow
            rate = sat * np.maximum(1.0 - block, self.min_rate_ratio) / 3600.0
            arr = self.arrivals(st, layout, est, network)
            red_s = now_s - np.asarray(signal.red_since_s, dtype=float)
            cl = self.clusters(st, layout, est, arr, rate, weight=1.0 + np.maximum(red_s, 0.0) / self.wait_scale_s)
            first, first_t = self.plan(st, cl, cur, signal.green_elapsed_s, layout.params.startup_lost_s)
            if first == cur or first < 0:
                state = replace(state, planned_s=now_s, next_phase=-1, switch_at_s=float("inf"))
            else:
                # switch now; the plan's first green of `first` comes after the intergreen
                state = replace(state, planned_s=now_s, next_phase=first, switch_at_s=now_s)
        if state.next_phase >= 0 and now_s >= state.switch_at_s:
            target = self._via_clearance(state, layout, est, cur, state.next_phase)
            return state, PhaseWish(target)
        return state, PhaseWish(cur)

    def _via_clearance(self, state: ScheduleState, layout: Layout, est: Estimate, cur: int, target: int) -> int:
        st = state.statics
        options = st.clearance[cur]
        if not options:
            return target
        discharged = est.departures_pcu - state.dep_at_green_pcu
        waiting = (discharged > 0) | (est.queue_pcu >= self.clearance_min_pcu)
        cut = st.permitted[cur] & ~layout.serves[target] & waiting
        if not cut.any():
            return target
        fitting = [p for p in options if layout.protected[p][cut].all()] or list(options)
        return fitting[0]

"""The do-no-harm replay of shadow.py run over many junctions at once (numpy, pure).

Every junction's movements are concatenated into one `NetworkProgram`; one tick advances all
junctions' replays (`shadow.advance`) by one pass of element-wise operations over those long
arrays, instead of one pass per junction. What is per junction by nature stays per junction:
the base program's phase at the tick (a bisection) and the interval's forgetting factor. Every
other operation is element-wise or a sequential sum within a junction (np.bincount, as
shadow.advance sums), so each junction's new Replay is bit for bit the one shadow.advance gives
(tests/unit/test_netshadow.py); the transit
time from the advance loops (shadow.Program.transit_ticks, a mean over a movement's lanes) is
summed lane by lane rather than by a matrix product, which can differ in the last bit of the
seconds, not in the whole ticks they are rounded to (but at an exact half tick).

The replays handed back are views into the network arrays, cut when a field is read
(ReplayCut, SideCut: controller/core/cuts.py); the estimates' arrays are read back from the
estimator's network arrays when every junction's are cut from them. For the do-no-harm test,
`queue_charges` sums every junction's replayed queues and its spill beyond the approaches in
one pass (harm.Charge). `ReplayCache` remembers the last
tick's network arrays and views: when the next tick is given exactly those views back (no
junction restarted its evidence or started anew), it goes on from the network arrays without
concatenating them again. Nothing is mutated in place: every tick makes new arrays.

Spill-back between junctions (`Spill`, `fixed_block`): the exit blockage the estimator measures
slows the controlled side's discharge as it was measured; the fixed side keeps of it only what
its own replay of the neighbours' approaches explains. This is the one place where a junction's
replay depends on its neighbours' (their last tick's queues), so it lives here; shadow.advance
takes the fixed side's blockage as an argument.

The fixed side's arrivals from its neighbours (`Inflow`, `inflow_pcu`; [harm] upstream_arrivals):
where a movement's exit edge is another junction's approach, what its fixed side discharged
beyond its controlled side (the last interval's, Replay.outflow_pcu) is sent to that approach's
fixed side, counted at its advance loops (shadow.fixed_arrivals): the city's plan upstream would
have sent other traffic, at other times. The controlled sides keep the measured arrivals.

Example: `net = NetworkProgram.build(programs, Spill.build(layouts, links))`, `cache =
ReplayCache()`, then every tick
`replays = advance_all(net, replays, estimates, statuses, now_s, window_s, cache)`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from controller.core.cuts import Cut, Joined, joined_field, record_of
from controller.core.estimation import Estimate, Layout, LinkLayout
from controller.core.netestimate import lanes_of
from controller.core.shadow import (
    AGE_BINS,
    CONTROLLED,
    FIXED,
    TRANSIT_MAX_TICKS,
    BlockedFit,
    Program,
    Replay,
    Side,
    advance,
    approach_room_pcu,
    approaches,
    blocked_fit_or_new,
    controlled_phase,
    discharge_rates,
    fixed_arrivals,
    floor_controlled,
    learn_blocked,
    learn_profile,
    measured_floor_pcu,
    outflow_pcu,
    profile_block,
    replay_block,
    serve,
    spill_by_approach,
)
from controller.model import SignalStatus

_SIDE_FIELDS = tuple(f.name for f in fields(Side))


@dataclass(frozen=True)
class Spill:
    """The links between junctions, for the exit blockage of the fixed side (fixed_block).

    An approach is one junction's movements from one edge; its storage is the PCU its lanes hold
    between the two loops (Layout.lane_storage_pcu, each lane once). A movement whose exit edge
    (Movement.to_edge) is another junction's approach feeds that approach alone; any other
    movement feeds the neighbours' approaches its exit faces (estimation.LinkLayout: `downstream`
    junctions of the model, approach headings; every approach of the neighbour when a heading is
    unknown)."""

    mov_approach: np.ndarray  # (movements,) network approach of each movement (its from edge)
    approach_storage_pcu: np.ndarray  # (approaches,)
    feed_movement: np.ndarray  # (pairs,) network movement ...
    feed_approach: np.ndarray  # (pairs,) ... and a neighbour's approach its exit feeds
    approach_junction: np.ndarray  # (approaches,) junction position
    # (lanes,) network approach of each lane (the network's lanes as NetworkProgram.lane_start
    # numbers them), -1 for a lane no movement uses
    lane_approach: np.ndarray | None = None
    approach_start: np.ndarray | None = None  # (junctions + 1,) first approach of each junction
    # (approaches,) shadow.approach_room_pcu ([harm] spill_room): the spill charge (queue_charges) counts
    # only the queue beyond the approach's storage and this room; None: beyond its storage
    approach_room_pcu: np.ndarray | None = None

    @staticmethod
    def build(layouts: Mapping[str, Layout], links: LinkLayout, spill_room: bool = False) -> Spill:
        """`layouts` in the network's order (NetworkProgram.build's programs); `spill_room`: with
        approach_room_pcu."""
        index: dict[tuple[str, str], int] = {}
        mov_approach: list[np.ndarray] = []
        storage: list[np.ndarray] = []
        room: list[np.ndarray] = []
        approach_junction: list[np.ndarray] = []
        lane_approach: list[np.ndarray] = []
        offset = 0
        for jid, lay in layouts.items():
            local, st = approaches(lay)
            index.update({(jid, m.from_edge): offset + int(k) for m, k in zip(lay.junction.movements, local)})
            mov_approach.append(local + offset)
            on = lay.lane_share > 0  # a lane is on one edge: the approach of any movement using it
            lane_approach.append(np.where(on.any(axis=0), local[np.argmax(on, axis=0)] + offset, -1))
            storage.append(st)
            room.append(approach_room_pcu(lay, local))
            offset += len(st)
            approach_junction.append(np.full(len(st), len(approach_junction)))
        by_edge = {edge: (jid, k) for (jid, edge), k in index.items()}
        pairs: list[tuple[int, int]] = []
        start = 0
        for jid, lay in layouts.items():
            groups, targets, allowed = links.groups[jid], links.targets[jid], links.allowed[jid]
            for i, m in enumerate(lay.junction.movements):
                exact = by_edge.get(m.to_edge) if m.to_edge else None
                if exact is not None and exact[0] != jid:
                    pairs.append((start + i, exact[1]))
                    continue
                exit_k = int(np.argmax(groups[:, i])) if groups.size else 0
                pairs += [(start + i, index[t]) for ti, t in enumerate(targets) if allowed[exit_k, ti] and t in index]
            start += len(lay.junction.movements)
        return Spill(
            np.concatenate(mov_approach) if mov_approach else np.zeros(0, dtype=int),
            np.concatenate(storage) if storage else np.zeros(0),
            np.array([p[0] for p in pairs], dtype=int),
            np.array([p[1] for p in pairs], dtype=int),
            np.concatenate(approach_junction).astype(int) if approach_junction else np.zeros(0, dtype=int),
            np.concatenate(lane_approach).astype(int) if lane_approach else np.zeros(0, dtype=int),
            np.concatenate(([0], np.cumsum([len(x) for x in storage]))).astype(int),
            (np.concatenate(room) if room else np.zeros(0)) if spill_room else None,
        )


def fixed_block(spill: Spill, queue_pcu: np.ndarray, block: np.ndarray) -> np.ndarray:
    """(movements,) the exit blockage of the fixed side, from the one measured (`block`, under
    the greens shown) and both sides' replayed queues (`queue_pcu`, (2, movements), rows FIXED
    and CONTROLLED, the last tick's).

    Spill-back from a neighbour blocks a movement when the neighbour's approach it feeds is full.
    The fill of an approach on a side is its replayed queue over its storage (at most 1); a
    movement's fill is the mean fill of the approaches it may feed (0 when it feeds none; one
    approach when the model gives its exit edge, else the headings often leave several
    candidates: the mean compares both sides over the same ones). The measured
    blockage is explained by the neighbour up to the fill under the greens shown, f_c; the fixed
    side keeps the unexplained part and the explained part only as far as its own replay fills
    the neighbour: block x min(1, 1 - f_c + f_f). Without this the fixed side would be charged
    the spill-back the policy caused. A movement that feeds no modelled neighbour keeps
    `block` (a blockage from an unsignalised junction is not the policy's to answer for)."""
    f_fixed, f_controlled = (fills(spill, queue_pcu[side], len(block)) for side in (0, 1))
    out: np.ndarray = block * np.minimum(1.0, 1.0 - f_controlled + f_fixed)
    return out


@dataclass(frozen=True)
class Inflow:
    """The links along which a junction's fixed side is fed its neighbours' fixed-side discharge
    ([harm] upstream_arrivals): a movement whose exit edge (Movement.to_edge) is another
    junction's approach feeds that approach. Only such links: an exit that reaches the next
    signal through unsignalised nodes (or whose edge is unknown) feeds no modelled approach, and
    that approach keeps its measured arrivals, as the network's entries do."""

    mov_approach: np.ndarray  # (movements,) network approach of each movement (its from edge)
    feed_movement: np.ndarray  # (pairs,) network movement ...
    feed_approach: np.ndarray  # (pairs,) ... and the approach its exit edge is

    @staticmethod
    def build(layouts: Mapping[str, Layout]) -> Inflow:
        """`layouts` in the network's order (NetworkProgram.build's programs)."""
        by_edge: dict[str, tuple[str, int]] = {}
        mov_approach: list[np.ndarray] = []
        offset = 0
        for jid, lay in layouts.items():
            local, storage = approaches(lay)
            for m, k in zip(lay.junction.movements, local):
                by_edge.setdefault(m.from_edge, (jid, offset + int(k)))
            mov_approach.append(local + offset)
            offset += len(storage)
        pairs: list[tuple[int, int]] = []
        start = 0
        for jid, lay in layouts.items():
            for i, m in enumerate(lay.junction.movements):
                target = by_edge.get(m.to_edge) if m.to_edge else None
                if target is not None and target[0] != jid:
                    pairs.append((start + i, target[1]))
            start += len(lay.junction.movements)
        return Inflow(
            np.concatenate(mov_approach).astype(int) if mov_approach else np.zeros(0, dtype=int),
            np.array([p[0] for p in pairs], dtype=int),
            np.array([p[1] for p in pairs], dtype=int),
        )


def inflow_pcu(inflow: Inflow, outflow_pcu: np.ndarray, flow_pcu_h: np.ndarray) -> np.ndarray:
    """(movements,) what each movement's fixed side is sent beyond its measured arrivals: the
    fixed side's discharge less the controlled side's (`outflow_pcu`, per upstream movement, the
    last interval's: shadow.outflow_pcu) of the movements whose exit is its approach, summed per
    approach and split among the approach's movements as its measured arrival flows split
    (`flow_pcu_h`, Estimate.flow_pcu_h; equally while they are all 0). 0 on an approach no
    modelled movement feeds."""
    n_a = int(inflow.mov_approach.max()) + 1 if len(inflow.mov_approach) else 0
    sent = np.bincount(inflow.feed_approach, outflow_pcu[inflow.feed_movement], minlength=n_a)
    flow = np.maximum(flow_pcu_h, 0.0)
    per_approach = np.bincount(inflow.mov_approach, flow, minlength=n_a)[inflow.mov_approach]
    count = np.bincount(inflow.mov_approach, minlength=n_a)[inflow.mov_approach]
    share = np.where(per_approach > 0, flow / np.where(per_approach > 0, per_approach, 1.0), 1.0 / count)
    out: np.ndarray = sent[inflow.mov_approach] * share
    return out


def plan_block(observed: np.ndarray, share: np.ndarray, rule: np.ndarray) -> np.ndarray:
    """(movements,) the fixed side's exit blockage with [harm] plan_block: the blockage measured
    while the city's program ran (`observed`), in the `share` the evidence for it makes (0..1,
    harm.plan_blocks), and the fixed side's blockage as without it (`rule`: fixed_block's, or the
    one measured under the policy) for the rest; `rule` itself where there is no evidence.

    The fixed side asks how the city's program would discharge; where it ran, the loops measured
    that. A blockage its greens do not meet (a progression whose greens move the queues they feed)
    is then not charged to it because the policy's greens met it."""
    out: np.ndarray = np.where(share > 0.0, share * observed + (1.0 - share) * rule, rule)
    return out


def fills(spill: Spill, queue_pcu: np.ndarray, n_movements: int) -> np.ndarray:
    """(movements,) one side's fill of the approaches each movement feeds: the mean over them of
    the approach's queue (`queue_pcu`, per movement) over its storage, at most 1; 0 for a
    movement that feeds none."""
    count = np.maximum(np.bincount(spill.feed_movement, minlength=n_movements), 1)
    q = np.bincount(spill.mov_approach, queue_pcu, minlength=len(spill.approach_storage_pcu))
    fill = np.minimum(q / spill.approach_storage_pcu, 1.0)
    out: np.ndarray = np.bincount(spill.feed_movement, fill[spill.feed_approach], minlength=n_movements) / count
    return out


@dataclass(frozen=True)
class NetworkProgram:
    """Several junctions' Programs concatenated: movements in junction order. The service
    table holds every junction's `service_or_red` flattened, one after the other."""

    programs: tuple[Program, ...]
    mov_start: np.ndarray  # (junctions + 1,) first movement of each junction
    mov_junction: np.ndarray  # (movements,) junction position
    mov_local: np.ndarray  # (movements,) movement index within its junction
    service_table: np.ndarray  # flat: per junction its (phases + 1, movements) service_or_red
    table_start: np.ndarray  # (junctions,) where each junction's rows start in service_table
    red_row: np.ndarray  # (junctions,) the row of the all-red (intergreen) service, phases
    startup_lost_s: np.ndarray  # (movements,) the junction's Program.startup_lost_s
    extension_s: np.ndarray  # (movements,) the junction's Program.extension_s
    mov_count: np.ndarray  # (movements,) movements of the movement's junction
    lane_start: np.ndarray  # (junctions + 1,) first lane of each junction (Program.lane_zone_m)
    lane_zone_m: np.ndarray  # (lanes,) every junction's Program.lane_zone_m
    pair_movement: np.ndarray  # (pairs,) network movement of each (movement, lane) of lane_mean > 0
    pair_lane: np.ndarray  # (pairs,) its network lane
    pair_weight: np.ndarray  # (pairs,) its lane_mean entry
    transit: np.ndarray  # (junctions,) bool: not Program.no_transit
    spill: Spill | None = None  # the links between junctions; None: the fixed side keeps Estimate.block
    lane_group: np.ndarray | None = None  # (movements,) Program.lane_group over the network; None: none
    own_lanes_ratio: np.ndarray | None = None  # (movements,) Program.own_lanes_ratio (1 where none), with lane_group
    block_lanes: bool = False  # some junction's Program.block_lanes is set (shadow.replay_block)
    # [harm] upstream_arrivals: the links along which the fixed sides are fed their neighbours'
    # fixed-side discharge; None: every fixed side is fed the measured arrivals
    inflow: Inflow | None = None
    clocks: ProgramClocks | None = None  # every junction's Program clock, for phases_at; None: Program.phase_at each

    @staticmethod
    def build(programs: Sequence[Program], spill: Spill | None = None, inflow: Inflow | None = None) -> NetworkProgram:
        progs = tuple(programs)
        n_m = np.array([p.service_or_red.shape[1] for p in progs], dtype=int)
        mov_start = np.concatenate(([0], np.cumsum(n_m))).astype(int)
        mov_junction = np.repeat(np.arange(len(progs)), n_m)
        sizes = np.array([p.service_or_red.size for p in progs], dtype=int)
        table = [p.service_or_red.ravel() for p in progs]
        n_l = np.array([len(p.lane_zone_m) for p in progs], dtype=int)
        lane_start = np.concatenate(([0], np.cumsum(n_l))).astype(int)
        pairs = [
            (mov_start[k] + m, lane_start[k] + lane, p.lane_mean[m, lane])
            for k, p in enumerate(progs)
            for m, lane in zip(*np.nonzero(p.lane_mean))
        ]
        pm, pl, pw = (np.array([x[i] for x in pairs], dtype=t) for i, t in ((0, int), (1, int), (2, float)))
        return NetworkProgram(
            programs=progs,
            mov_start=mov_start,
            mov_junction=mov_junction,
            mov_local=np.concatenate([np.arange(k) for k in n_m]).astype(int) if progs else np.zeros(0, dtype=int),
            service_table=np.concatenate(table) if table else np.zeros(0),
            table_start=np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(int),
            red_row=np.array([p.service_or_red.shape[0] - 1 for p in progs], dtype=int),
            startup_lost_s=np.repeat([p.startup_lost_s for p in progs], n_m).astype(float),
            extension_s=np.repeat([p.extension_s for p in progs], n_m).astype(float),
            mov_count=np.repeat(n_m, n_m),
            lane_start=lane_start,
            lane_zone_m=np.concatenate([p.lane_zone_m for p in progs]) if progs else np.zeros(0),
            pair_movement=pm,
            pair_lane=pl,
            pair_weight=pw,
            transit=np.array([not p.no_transit for p in progs], dtype=bool),
            spill=spill,
            lane_group=_lane_groups(progs),
            own_lanes_ratio=_own_lanes_ratios(progs),
            block_lanes=any(p.block_lanes is not None for p in progs),
            inflow=inflow,
            clocks=ProgramClocks.build(progs),
        )

    def service_index(self, phases: Sequence[int]) -> np.ndarray:
        """(movements,) index into service_table of each junction's row for `phases` (-1: the
        all-red row), the shadow's `service_or_red[phase]`."""
        rows = np.array(phases, dtype=int)
        rows = np.where(rows < 0, self.red_row, rows)
        mj = self.mov_junction
        out: np.ndarray = self.table_start[mj] + rows[mj] * self.mov_count + self.mov_local
        return out

    def transit_ticks(self, ests: Sequence[Estimate], dts: Sequence[float], lanes: Joined | None = None) -> np.ndarray:
        """(movements,) Program.transit_ticks of every junction: whole ticks from the advance
        loops to the stop line, the mean over a movement's lanes summed lane by lane. `lanes`:
        the estimates' lanes joined (cuts.Joined), when the caller has them."""
        if not self.transit.any():
            return np.zeros(len(self.mov_junction), dtype=int)
        lanes = lanes if lanes is not None else Joined(lanes_of(ests))
        speed = np.maximum(lanes("adv_speed_mps"), 1.0)
        per_lane_s = self.lane_zone_m / speed
        travel_s = np.bincount(
            self.pair_movement, self.pair_weight * per_lane_s[self.pair_lane], minlength=len(self.mov_junction)
        )
        dt = np.maximum(np.array(dts, dtype=float), 1e-9)[self.mov_junction]
        ticks = np.minimum(np.rint(travel_s / dt), TRANSIT_MAX_TICKS - 1).astype(int)
        out: np.ndarray = np.where(self.transit[self.mov_junction], ticks, 0)
        return out


@dataclass(frozen=True)
class ProgramClocks:
    """Every junction's Program clock over the network, for phases_at: its offset_s and cycle_s (junctions,),
    its segments' ends_s padded with inf (junctions, the most segments) and their phases (padded with -1)."""

    offset_s: np.ndarray
    cycle_s: np.ndarray
    ends_s: np.ndarray
    phases: np.ndarray
    last: np.ndarray  # (junctions,) each junction's last segment, len(Program.phases) - 1

    @staticmethod
    def build(programs: Sequence[Program]) -> ProgramClocks:
        width = max((len(p.ends_s) for p in programs), default=0)
        ends = np.full((len(programs), width), np.inf)
        phases = np.full((len(programs), width), -1, dtype=int)
        for k, p in enumerate(programs):
            ends[k, : len(p.ends_s)] = p.ends_s
            phases[k, : len(p.phases)] = p.phases
        return ProgramClocks(
            np.array([p.offset_s for p in programs], dtype=float),
            np.array([p.cycle_s for p in programs], dtype=float),
            ends,
            phases,
            np.array([len(p.phases) - 1 for p in programs], dtype=int),
        )


def phases_at(net: NetworkProgram, t_s: Sequence[float]) -> list[int]:
    """Program.phase_at of every junction of `net`, each at its own t_s, over the junctions at once: the same
    float operations (Python's float % is numpy's remainder), bisect_right as the count of segment ends at or
    before the position (the ends ascend), the last segment at most. Junction by junction where a time or a
    clock is not finite (bisect's answer for a nan is not that count)."""
    c = net.clocks
    t = np.array(t_s, dtype=float)
    if c is None or not (np.isfinite(t).all() and np.isfinite(c.offset_s).all() and (c.cycle_s > 0).all()):
        return [p.phase_at(x) for p, x in zip(net.programs, t_s)]
    pos = np.remainder(t - c.offset_s, c.cycle_s)
    seg = np.minimum((c.ends_s <= pos[:, None]).sum(axis=1), c.last)
    out: list[int] = c.phases[np.arange(len(seg)), seg].tolist()
    return out


def _lane_groups(programs: Sequence[Program]) -> np.ndarray | None:
    """Every junction's Program.lane_group, numbered apart over the network (a junction without
    one: each movement its own group); None when no junction has one."""
    if all(p.lane_group is None for p in programs):
        return None
    parts, offset = [], 0
    for p in programs:
        n = p.service_or_red.shape[1]
        g = np.arange(n) if p.lane_group is None else p.lane_group
        parts.append(g + offset)
        offset += int(g.max()) + 1 if n else 0
    return np.concatenate(parts).astype(int)


def _own_lanes_ratios(programs: Sequence[Program]) -> np.ndarray | None:
    """Every junction's Program.own_lanes_ratio over the network (1 for a junction without lane
    groups); None when no junction has lane groups."""
    if all(p.lane_group is None for p in programs):
        return None
    parts = [np.ones(p.service_or_red.shape[1]) if p.own_lanes_ratio is None else p.own_lanes_ratio for p in programs]
    return np.concatenate(parts).astype(float)


@dataclass(frozen=True)
class _NetReplay:
    """Every junction's Replay arrays concatenated (movements in junction order)."""

    fed_pcu: np.ndarray
    arrived_pcu: np.ndarray
    sides: Side  # (2, movements)
    pending_pcu: np.ndarray  # (TRANSIT_MAX_TICKS, movements)
    # Replay.extra_pcu, owed_pcu, outflow_pcu ([harm] upstream_arrivals; None: off)
    extra_pcu: np.ndarray | None = None
    owed_pcu: np.ndarray | None = None
    outflow_pcu: np.ndarray | None = None
    blocked_fit: np.ndarray | None = None  # Replay.blocked_fit ([harm] blocked_discharge; None: off)
    block_profile: np.ndarray | None = None  # Replay.block_profile ([harm] block_profile; None: off)


class ReplayCache:
    """The last tick's network arrays and the per-junction views made of them (a memo: the
    result of advance_all is the same with or without it), and what the views were given (not
    cut): their time, their scalars (span_s, agree_s, demand_pcu, demand_s, held_pcu: (5,
    junctions)) and heads, which the next tick then reads here rather than from each view."""

    def __init__(self) -> None:
        self.views: tuple[Replay, ...] = ()
        self.net: _NetReplay | None = None
        self.t_s = 0.0
        self.scalars: np.ndarray | None = None
        self.heads: list[int] = []
        # do no harm's cumulative-sum tests as arrays, with the records they are read into (harm.observe_all)
        self.tests: object | None = None

    def lookup(self, replays: Sequence[Replay], blocked: bool = False, profile: bool = False) -> _NetReplay | None:
        """The last tick's network arrays when `replays` are its views (with `blocked`: and it kept the
        blocked-discharge fits; with `profile`: the blockage profiles); None otherwise."""
        if self.net is None or len(replays) != len(self.views) or (blocked and self.net.blocked_fit is None):
            return None
        if profile and self.net.block_profile is None:
            return None
        if all(map(operator.is_, replays, self.views)):
            return self.net
        return None

    def keep(self, views: Sequence[Replay], net: _NetReplay, t_s: float, scalars: np.ndarray, heads: list[int]) -> None:
        """A tick's views, their network arrays, and what the views were given (their time, scalars, heads)."""
        self.views, self.net = tuple(views), net
        self.t_s, self.scalars, self.heads = t_s, scalars, heads

    def given(self, n: int) -> tuple[list[float], np.ndarray, list[int]]:
        """_given of the last tick's `n` views, kept: each view's t_s (the tick's time: _split gives each the
        same), their _scalars and their heads. ValueError before a tick is kept."""
        if self.scalars is None:
            raise ValueError("ReplayCache.given: no tick kept")
        return [self.t_s] * n, self.scalars, self.heads


def _concat(
    replays: Sequence[Replay], inflow: bool = False, blocked: bool = False, profile: bool = False
) -> _NetReplay:
    """The replays' arrays joined; with `inflow` ([harm] upstream_arrivals) their fixed sides'
    extra arrivals too (zeros where a replay has none yet); with `blocked` ([harm] blocked_discharge)
    their blocked-discharge fits (a new one where a replay has none yet); with `profile` ([harm]
    block_profile) their blockage profiles (zeros where a replay has none yet)."""
    extra = owed = outflow = fit = prof = None
    if profile:
        prof = np.concatenate([_or(r.block_profile, (2 * AGE_BINS, len(r.fed_pcu))) for r in replays], axis=1)
    if blocked:
        fit = np.concatenate([blocked_fit_or_new(r.blocked_fit, len(r.fed_pcu)) for r in replays], axis=1)
    if inflow:
        extra = np.concatenate([_or(r.extra_pcu, r.pending_pcu.shape) for r in replays], axis=1)
        owed = _cat([_or(r.owed_pcu, r.fed_pcu.shape) for r in replays])
        outflow = _cat([_or(r.outflow_pcu, r.fed_pcu.shape) for r in replays])
    return _NetReplay(
        np.concatenate([r.fed_pcu for r in replays]),
        np.concatenate([r.arrived_pcu for r in replays]),
        Side(*(np.concatenate([getattr(r.sides, f) for r in replays], axis=1) for f in _SIDE_FIELDS)),
        np.concatenate([r.pending_pcu for r in replays], axis=1),
        extra,
        owed,
        outflow,
        fit,
        prof,
    )


def _or(a: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape) if a is None else a


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0)


def _joined(records: Sequence[object], name: str) -> np.ndarray:
    """Every junction's field `name` of `records` (estimates or their lanes), concatenated: the
    estimator's network array itself when the records are all cut from it, in order
    (cuts.joined_field)."""
    whole = joined_field(records, name)
    return whole if whole is not None else _cat([getattr(x, name) for x in records])


def advance_all(
    net: NetworkProgram,
    replays: Sequence[Replay],
    ests: Sequence[Estimate],
    statuses: Sequence[SignalStatus | None],
    now_s: float,
    window_s: float,
    cache: ReplayCache | None = None,
    plan: tuple[np.ndarray, np.ndarray] | None = None,
    queue_floor: bool = False,
    blocked: BlockedFit | None = None,
    lanes: Joined | None = None,
    block_now: bool = False,
    block_profile: bool = False,
) -> list[Replay]:
    """shadow.advance for every junction of `net` (replays, estimates and statuses in its
    order), as one pass over the network's movements, the fixed side's exit blockage from
    fixed_block when `net.spill` is set, and with `plan` ((movements,) twice: the blockage
    measured under the city's program and its share, harm.plan_blocks) from plan_block. A
    junction whose interval is empty (now_s not after its replay's t_s) makes every junction go through
    shadow.advance. `queue_floor`: [harm] measured_queue_floor's floor (shadow.floor_controlled);
    `blocked`: [harm] blocked_discharge's bounds (shadow.BlockedFit, scaled_block, learn_blocked; None: off);
    `lanes`: the estimates' lanes joined (cuts.Joined), when the caller has them; `block_now`: [harm]
    block_now (the last period's blockage, Estimate.block_now, on both sides; shadow.replay_block); `block_profile`:
    [harm] block_profile (the fixed side's blockage read by the age of its green, shadow.profile_block, before
    fixed_block's rule; the profile learnt under the greens shown, shadow.learn_profile)."""
    if not replays:
        return []
    known = cache.lookup(replays, blocked is not None, block_profile) if cache is not None else None
    t_s, old, old_heads = cache.given(len(replays)) if cache is not None and known is not None else _given(replays)
    dts = [now_s - t for t in t_s]
    nr = known if known is not None else _concat(replays, net.inflow is not None, blocked is not None, block_profile)
    joined = Joined(ests)  # the estimates' network arrays, their source found once
    sent = _sent(net, nr, joined)
    block = _measured_block(net, ests, joined, block_now)
    p_fixed, p_ctrl, service = _services(net, statuses, dts, now_s)
    block_fixed = _fixed_block(net, nr, block, service, plan, block_profile)
    if min(dts) <= 0:
        keys = (queue_floor, blocked, block_now, block_profile)
        return _one_by_one(net, replays, ests, statuses, now_s, window_s, block_fixed, sent, *keys)
    dt_j, keep_j = np.array(dts), np.array(forgetting_factors(dts, window_s))
    dt, keep = dt_j[net.mov_junction], keep_j[net.mov_junction]
    fed = np.maximum(nr.fed_pcu, joined("departures_pcu") + joined("queue_pcu"))
    ticks = net.transit_ticks(ests, dts, lanes)
    arrivals, pending, heads = _to_stop_line(net, old_heads, nr.pending_pcu, fed - nr.fed_pcu, ticks)
    fed_both, extra, owed = _fed_both(net, old_heads, nr, arrivals, sent, ticks)
    rate = service * discharge_rates(joined("sat_flow_pcu_h"), block, block_fixed, nr.blocked_fit, blocked)
    fit = _learn_blocked(net, nr, joined, block, service[CONTROLLED], dt, keep) if blocked else None
    profile = _learn_profile(net, nr, joined, service[CONTROLLED], dt, keep) if block_profile else None
    sides = serve(nr.sides, fed_both, rate, net, dt, keep, service > 0 if block_profile else None)
    if queue_floor:
        floor = measured_floor_pcu(joined("queue_pcu"), joined("blind"), pending)
        sides = floor_controlled(sides, floor, dt)
    arrived = nr.arrived_pcu * keep + arrivals
    outflow = None if extra is None else outflow_pcu(nr.sides.queue_pcu, fed_both, sides)
    out_net = _NetReplay(fed, arrived, sides, pending, extra, owed, outflow, fit, profile)
    out, scalars = _split(net, old, out_net, arrivals, now_s, dt_j, keep_j, p_fixed, p_ctrl, heads)
    if cache is not None:
        cache.keep(out, out_net, now_s, scalars, heads)
    return out


def _services(
    net: NetworkProgram, statuses: Sequence[SignalStatus | None], dts: Sequence[float], now_s: float
) -> tuple[list[int], list[int], np.ndarray]:
    """Each junction's fixed-side phase (its program one tick before the status read at now_s, as shadow.advance)
    and controlled phase, and both sides' service of every movement (2, movements) this interval."""
    p_fixed = phases_at(net, [now_s - 2.0 * d for d in dts])
    p_ctrl = [controlled_phase(s) for s in statuses]
    service = net.service_table[np.stack([net.service_index(p_fixed), net.service_index(p_ctrl)])]
    return p_fixed, p_ctrl, service


def _fixed_block(
    net: NetworkProgram,
    nr: _NetReplay,
    block: np.ndarray,
    service: np.ndarray,
    plan: tuple[np.ndarray, np.ndarray] | None,
    profile: bool,
) -> np.ndarray | None:
    """(movements,) the fixed side's exit blockage from the measured `block`: with `profile` ([harm] block_profile)
    first read by the age of its green (shadow.profile_block; `service` (2, movements) both sides' this interval),
    then fixed_block's rule where `net.spill` is set, then plan_block's with `plan`; None: the measured, as it is."""
    rule: np.ndarray | None = None
    if profile:
        green, age = service > 0, nr.sides.green_s
        same = green[FIXED] & green[CONTROLLED] & (age[FIXED] == age[CONTROLLED])
        rule = profile_block(nr.block_profile, age[FIXED], green[FIXED], same, block)
    if net.spill is not None:
        rule = fixed_block(net.spill, nr.sides.queue_pcu, block if rule is None else rule)
    if plan is not None:
        rule = plan_block(plan[0], plan[1], block if rule is None else rule)
    return rule


def _learn_profile(
    net: NetworkProgram, nr: _NetReplay, joined: Joined, service: np.ndarray, dt: np.ndarray, keep: np.ndarray
) -> np.ndarray:
    """shadow.learn_profile over the network (the estimates' arrays `joined`; `service` the controlled side's)."""
    measured = (joined("queue_pcu"), joined("blind"), dt, keep)
    age = nr.sides.green_s[CONTROLLED]
    return learn_profile(nr.block_profile, joined("block_now"), service, age, net.startup_lost_s, *measured)


def _measured_block(net: NetworkProgram, ests: Sequence[Estimate], joined: Joined, block_now: bool) -> np.ndarray:
    """(movements,) the measured exit blockage the replays discharge with (shadow.replay_block over the network):
    Estimate.block_now with [harm] block_now, else Estimate.block, or its lanes' without their head of line."""
    if block_now:
        return joined("block_now")
    if net.block_lanes:
        return np.concatenate([replay_block(p, e) for p, e in zip(net.programs, ests)])
    return joined("block")


def _one_by_one(
    net: NetworkProgram,
    replays: Sequence[Replay],
    ests: Sequence[Estimate],
    statuses: Sequence[SignalStatus | None],
    now_s: float,
    window_s: float,
    block_fixed: np.ndarray | None,
    sent: np.ndarray | None,
    queue_floor: bool = False,
    blocked: BlockedFit | None = None,
    block_now: bool = False,
    block_profile: bool = False,
) -> list[Replay]:
    """advance_all junction by junction (shadow.advance), each with its part of the network's
    `block_fixed` and `sent` (None: none), `queue_floor`, `blocked`, `block_now` and `block_profile`."""
    st = net.mov_start.tolist()
    parts = [None if block_fixed is None else block_fixed[st[k] : st[k + 1]] for k in range(len(replays))]
    sends = [None if sent is None else sent[st[k] : st[k + 1]] for k in range(len(replays))]
    return [
        advance(p, r, e, s, now_s, window_s, b, x, queue_floor, blocked, block_now, block_profile)
        for p, r, e, s, b, x in zip(net.programs, replays, ests, statuses, parts, sends)
    ]


def _learn_blocked(
    net: NetworkProgram,
    nr: _NetReplay,
    joined: Joined,
    block: np.ndarray,
    service: np.ndarray,
    dt: np.ndarray,
    keep: np.ndarray,
) -> np.ndarray:
    """shadow.learn_blocked over the network (the estimates' arrays `joined`)."""
    dep, sat, queue, blind = (joined(f) for f in ("departures_pcu", "sat_flow_pcu_h", "queue_pcu", "blind"))
    green_s = nr.sides.green_s[CONTROLLED]
    return learn_blocked(nr.blocked_fit, dep, sat, queue, blind, block, service, green_s, net.startup_lost_s, dt, keep)


def _sent(net: NetworkProgram, nr: _NetReplay, joined: Joined) -> np.ndarray | None:
    """[harm] upstream_arrivals: what the neighbours' fixed sides sent each movement's beyond the
    measured arrivals this interval (inflow_pcu, from the last interval's outflow; the estimates'
    arrays `joined`); None: off."""
    if net.inflow is None or nr.outflow_pcu is None:
        return None
    return inflow_pcu(net.inflow, nr.outflow_pcu, joined("flow_pcu_h"))


def _fed_both(
    net: NetworkProgram,
    heads: Sequence[int],
    nr: _NetReplay,
    arrivals: np.ndarray,
    sent: np.ndarray | None,
    ticks: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """shadow._fed_both over the network: the measured `arrivals`, or with `sent` both sides'
    (2, movements), the fixed side's through its transit ring and what it owes; the ring, owed.
    `heads`: each junction's replay's head (Replay.head)."""
    if sent is None or nr.extra_pcu is None or nr.owed_pcu is None:
        return arrivals, None, None
    now_extra, extra, _ = _to_stop_line(net, heads, nr.extra_pcu, sent, ticks)
    a_fixed, owed = fixed_arrivals(arrivals, now_extra, nr.owed_pcu)
    return np.stack([a_fixed, arrivals]), extra, owed


def hidden_by_movement(net: NetworkProgram, ests: Sequence[Estimate], lanes: Joined | None = None) -> np.ndarray:
    """hidden_pcu as one (movements,) array over the network (`lanes`: the estimates' lanes
    joined, cuts.Joined, when the caller has them)."""
    hidden = (lanes if lanes is not None else Joined(lanes_of(ests)))("hidden_pcu")
    out: np.ndarray = np.bincount(
        net.pair_movement, net.pair_weight * hidden[net.pair_lane], minlength=len(net.mov_junction)
    )
    return out


def hidden_by_approach(spill: Spill, ests: Sequence[Estimate]) -> np.ndarray:
    """(approaches,) the estimator's hidden queue (PCU upstream of the advance loops) of each
    approach over the network, its lanes' summed, each lane once (Spill.lane_approach)."""
    hidden = _joined(lanes_of(ests), "hidden_pcu")
    n_a = len(spill.approach_storage_pcu)
    lane_approach = spill.lane_approach if spill.lane_approach is not None else np.full(len(hidden), -1)
    used = lane_approach >= 0
    out: np.ndarray = np.bincount(lane_approach[used], hidden[used], minlength=n_a)
    return out


def replayed_queues(replays: Sequence[Replay], cache: ReplayCache | None = None) -> np.ndarray:
    """(2, movements) both sides' replayed queues of every junction (the last advance_all's
    network array when `replays` are its views)."""
    known = cache.lookup(replays) if cache is not None else None
    if known is not None:
        return known.sides.queue_pcu
    return np.concatenate([r.sides.queue_pcu for r in replays], axis=1)


def queue_charges(
    net: NetworkProgram,
    queue_pcu: np.ndarray,
    hidden_pcu: np.ndarray | None,
    measured_spill_pcu: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per junction, for the do-no-harm test (harm.accumulate), (2, junctions) twice: each side's
    replayed queues summed (`queue_pcu`, (2, movements)), and the PCU of them standing beyond
    their approach's storage on the approaches where the loops see a hidden queue (`hidden_pcu`,
    (movements,); harm.spill_charge_pcu; zeros without `net.spill` or `hidden_pcu`), the
    controlled side's at least `measured_spill_pcu` (approaches,) where the fixed side's does not
    overrun (harm.measured_spill). Sums are sequential, in movement and approach order: what
    harm.spill_charge_pcu and harm's own sums give one junction at a time."""
    n_j = len(net.programs)
    sums = np.stack([np.bincount(net.mov_junction, q, minlength=n_j) for q in queue_pcu])
    spill = np.zeros_like(sums)
    if net.spill is not None and hidden_pcu is not None:
        sp = net.spill
        over = measured_over(spill_by_approach(queue_pcu, sp.mov_approach, charged_from_pcu(sp)), measured_spill_pcu)
        seen = np.bincount(sp.mov_approach, hidden_pcu, minlength=len(sp.approach_storage_pcu)) > 0
        spill = np.stack([np.bincount(sp.approach_junction, np.where(seen, o, 0.0), minlength=n_j) for o in over])
    return sums, spill


def charged_from_pcu(spill: Spill) -> np.ndarray:
    """(approaches,) the queue beyond which the spill charge counts (queue_charges): the approach's
    storage, and with [harm] spill_room the room of its own road upstream of the advance loops
    (Spill.approach_room_pcu: within it the spill holds no traffic but the approach's own)."""
    if spill.approach_room_pcu is None:
        return spill.approach_storage_pcu
    out: np.ndarray = spill.approach_storage_pcu + spill.approach_room_pcu
    return out


def measured_over(over_pcu: np.ndarray, measured_spill_pcu: np.ndarray | None) -> np.ndarray:
    """(2, approaches) each side's queue beyond its approaches' storage (`over_pcu`, rows FIXED
    and CONTROLLED, the replay's), the controlled side's at least the one measured under its
    greens (`measured_spill_pcu`: the estimator's hidden queue, its growth since the policy took
    over, harm.spill_growth_pcu) on the approaches the fixed side keeps within their storage:
    there the fixed plan would not have built a queue beyond the loops, so what the policy added
    there is its own. None: `over_pcu` as it is."""
    if measured_spill_pcu is None:
        return over_pcu
    controlled = np.where(over_pcu[0] > 0, over_pcu[1], np.maximum(over_pcu[1], measured_spill_pcu))
    return np.stack([over_pcu[0], controlled])


def _to_stop_line(
    net: NetworkProgram, heads: Sequence[int], pending_pcu: np.ndarray, counted: np.ndarray, ticks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """shadow._to_stop_line over the network: every junction's ring with its own head (`heads`: each junction's
    replay's, Replay.head)."""
    cols = np.arange(len(counted))
    pending = pending_pcu.copy()
    new_heads = [(h + 1) % TRANSIT_MAX_TICKS for h in heads]
    if heads and list(heads).count(heads[0]) == len(heads):  # one head (the replays advanced together)
        head = heads[0]  # (the same for every junction: its row is the (head, column) entries)
        pending[(head + ticks) % TRANSIT_MAX_TICKS, cols] += counted
        arrivals = pending[head].copy()
        pending[head] = 0.0
        return arrivals, pending, new_heads
    head_m = np.array(heads, dtype=int)[net.mov_junction]
    pending[(head_m + ticks) % TRANSIT_MAX_TICKS, cols] += counted
    arrivals = pending[head_m, cols]  # (a copy: fancy indexing)
    pending[head_m, cols] = 0.0
    return arrivals, pending, new_heads


class SideCut(Cut, Side):
    """One junction's Side (2, its movements) cut from the network's, field by field when read."""

    COLUMNS_LAST = frozenset(_SIDE_FIELDS)


class ReplayCut(Cut, Replay):
    """One junction's Replay: its scalars given, its arrays (and its Side, a SideCut) cut from
    the network's when read."""

    COLUMNS_LAST = frozenset({"pending_pcu", "extra_pcu", "blocked_fit", "block_profile"})
    NESTED: ClassVar[Mapping[str, type[Cut]]] = {"sides": SideCut}


def _given(replays: Sequence[Replay]) -> tuple[list[float], np.ndarray, list[int]]:
    """What advance_all reads of each replay besides its arrays: its t_s, its _scalars, its head."""
    return [r.t_s for r in replays], _scalars(replays), [r.head for r in replays]


def _scalars(replays: Sequence[Replay]) -> np.ndarray:
    """(5, junctions) the replays' span_s, agree_s, demand_pcu, demand_s and held_pcu (_split's `old`)."""
    n = len(replays)
    return np.array([(r.span_s, r.agree_s, r.demand_pcu, r.demand_s, r.held_pcu) for r in replays]).reshape(n, 5).T


def _split(
    net: NetworkProgram,
    old: np.ndarray,
    nr: _NetReplay,
    arrivals: np.ndarray,
    now_s: float,
    dt: np.ndarray,
    keep: np.ndarray,
    p_fixed: list[int],
    p_ctrl: list[int],
    heads: list[int],
) -> tuple[list[Replay], np.ndarray]:
    """Each junction's new Replay, its arrays views into the network's (cut when read), and its
    scalars as _scalars gives them. Its scalars are brought up from the old ones (`old`: _scalars
    of the replays advanced) over every junction at once (`dt`, `keep`: (junctions,)), the same
    float operations as shadow.advance's, in the same order."""
    n = old.shape[1]
    totals = np.bincount(net.mov_junction, arrivals, minlength=n)  # per junction, sequential sums
    agreed = np.where(np.array(p_fixed) == np.array(p_ctrl), dt, 0.0)
    span, agree, demand, demand_s = (
        old[0] * keep + dt,
        old[1] * keep + agreed,
        old[2] * keep + totals,
        old[3] * keep + dt,
    )
    held = old[4] * keep
    starts = net.mov_start.tolist()
    # what every junction's record holds alike (cuts.cut_of's fields: its source, the fields given), copied into
    # each one's __dict__ with the fields of its own: cut_of's record, without a call and its keywords per junction
    alike: dict[str, object] = {
        "_src": nr,
        "t_s": now_s,
        **(_NO_INFLOW if nr.extra_pcu is None else {}),
        **(_NO_FIT if nr.blocked_fit is None else {}),
        **(_NO_PROFILE if nr.block_profile is None else {}),
    }
    out: list[Replay] = []
    for a, b, sp, ag, hd, dp, ds, hp in zip(
        starts, starts[1:], span.tolist(), agree.tolist(), heads, demand.tolist(), demand_s.tolist(), held.tolist()
    ):
        d = alike.copy()
        d["_at"], d["span_s"], d["agree_s"], d["head"] = slice(a, b), sp, ag, hd
        d["demand_pcu"], d["demand_s"], d["held_pcu"] = dp, ds, hp
        out.append(record_of(ReplayCut, d))
    return out, np.stack([span, agree, demand, demand_s, held])


def forgetting_factors(dts: Sequence[float], window_s: float) -> list[float]:
    """math.exp(-dt / window_s) of each dt (the forgetting factors of shadow.advance and of do no
    harm's accumulate), computed once per distinct dt (a tick's intervals are mostly one)."""
    n = len(dts)
    if n and isinstance(dts, list) and dts.count(dts[0]) == n:  # one interval (every junction ticked together)
        return [math.exp(-dts[0] / window_s)] * n  # (what the memo gives each: the value of the first equal)
    memo: dict[float, float] = {}
    out = []
    for d in dts:
        k = memo.get(d)
        if k is None:
            k = memo[d] = math.exp(-d / window_s)
        out.append(k)
    return out


_NO_INFLOW: dict[str, object] = {"extra_pcu": None, "owed_pcu": None, "outflow_pcu": None}  # given, not cut
_NO_FIT: dict[str, object] = {"blocked_fit": None}
_NO_PROFILE: dict[str, object] = {"block_profile": None}

"""The estimator of estimation.py run over many junctions at once (numpy, pure).

Every junction's loops and lanes are concatenated into one `NetworkLayout`; one tick's detector
readings of all junctions are folded in by one pass of the lane update (estimation._health,
_lane_signals, _lanes), of the borrowing of lanes without a working loop and of the lanes ->
movements shares (estimation._borrow, movement_arrays) over those long arrays, instead of one
pass per junction (_lanes, or its loops compiled by numba once a process warmed them up: lanerows.py, the
same floats). Per junction remain only the cut of each junction's Estimate out of the
network arrays (views) and a loop's reference count (the mean of the other loops of its
junction). Every operation is element-wise or a sequential sum in a fixed order within a
junction (estimation.LaneMaps), so each junction's estimate is bit for bit the one
estimation.update gives.

Readings come either as Snapshots (the JSON feed, validated by core/feed.py) or as one
`DetectorFrame` for the whole network (in-process runs, validated by core/feedarrays.py).

Example: `net = NetworkLayout.build(layouts)`, then every tick
`estimates = update_all(net, estimates, readings_for(net, snapshots, estimates), greens, 1.0)`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from controller.core.cuts import Cut, Fields, cut_at, joined_source
from controller.core.estimation import (
    LANE_ROW_FIELDS,
    DetectorHealth,
    Estimate,
    EstimationParams,
    HealthCut,
    LaneCut,
    LaneIndex,
    LaneMaps,
    LaneState,
    Layout,
    MovementArrays,
    _borrow,
    _health,
    _lane_signals,
    _Readings,
    _sat_estimate,
    block_now_lanes,
    counts_pcu,
    movement_arrays,
    own_shares,
)
from controller.core.estimation import update as estimation_update
from controller.core.feedarrays import DetectorFrame, FrameLayout
from controller.core.lanerows import update_lanes
from controller.model import VEHICLE_CLASSES, Snapshot

_HEALTH_FIELDS = ("on_s", "silent_s", "ref_veh", "missing_s", "implausible", "faulty")


@dataclass(frozen=True)
class NetworkLayout:
    """Several junctions' Layouts (sharing one EstimationParams and PCU factors, each with at
    least one loop) concatenated: loops in junction order, then lanes in junction order. Loop
    and lane indices (det_pair, lane_stop, lane_adv) are network-wide."""

    jids: tuple[str, ...]
    layouts: tuple[Layout, ...]
    params: EstimationParams
    pcu_by_class: dict[str, float]
    det_start: np.ndarray  # (junctions + 1,) first loop of each junction
    lane_start: np.ndarray  # (junctions + 1,) first lane of each junction
    det_junction: np.ndarray  # (loops,) junction position
    det_others: np.ndarray  # (loops,) other loops of the junction, at least 1
    det_is_stop: np.ndarray  # (loops,) bool
    det_pair: np.ndarray
    lane_stop: np.ndarray
    lane_adv: np.ndarray
    lane_storage_pcu: np.ndarray
    lane_zone_m: np.ndarray
    lane_sat_prior_pcu_h: np.ndarray
    lane_approach: np.ndarray  # (lanes,) each junction's Layout.lane_approach, numbered on over the network
    lane_hidden_cap_pcu: np.ndarray  # (lanes,) each junction's Layout.lane_hidden_cap_pcu
    det_share: np.ndarray  # (loops,) each junction's Layout.det_share
    det_group: np.ndarray  # (loops,) each junction's Layout.det_group, network-wide
    det_lane: np.ndarray  # (loops,) each junction's Layout.det_lane, network-wide
    green_table: np.ndarray  # flat: per junction its (phases + 1, lanes) lane_green, last row all red
    protected_table: np.ndarray  # idem for lane_protected
    table_start: np.ndarray  # (junctions,) where each junction's rows start in the tables
    lane_junction: np.ndarray  # (lanes,) junction position
    lane_local: np.ndarray  # (lanes,) lane index within its junction
    det_offset: dict[str, int]  # junction -> its first loop
    bounds: tuple[tuple[int, int, int, int], ...]  # per junction: its lanes a:b and loops da:db
    mov_bounds: tuple[tuple[int, int], ...]  # per junction: its movements m:n
    maps: LaneMaps  # lanes -> movements and borrowing neighbours over the network

    @staticmethod
    def build(layouts: Mapping[str, Layout]) -> NetworkLayout:
        """Raises ValueError when the layouts do not share their parameters or PCU factors, or
        one has no loop (estimation.update handles those one by one)."""
        jids = tuple(layouts)
        lays = tuple(layouts[j] for j in jids)
        if not lays or any(not lay.det_index for lay in lays):
            raise ValueError("NetworkLayout needs junctions with at least one loop each")
        if any(lay.params != lays[0].params or lay.pcu_by_class != lays[0].pcu_by_class for lay in lays):
            raise ValueError("NetworkLayout needs junctions sharing estimation parameters and PCU factors")
        n_d = np.array([len(lay.det_index) for lay in lays])
        n_l = np.array([len(lay.lanes) for lay in lays])
        det_start = np.concatenate(([0], np.cumsum(n_d)))
        lane_start = np.concatenate(([0], np.cumsum(n_l)))
        mov_start = np.cumsum([0, *(len(lay.junction.movements) for lay in lays)]).tolist()

        def shifted(arrays: list[np.ndarray], starts: np.ndarray) -> np.ndarray:
            return np.concatenate([np.where(a >= 0, a + s, -1) for a, s in zip(arrays, starts)]).astype(int)

        ext_green = [np.vstack([lay.lane_green, np.zeros((1, len(lay.lanes)), dtype=bool)]) for lay in lays]
        ext_prot = [np.vstack([lay.lane_protected, np.zeros((1, len(lay.lanes)), dtype=bool)]) for lay in lays]
        sizes = np.array([g.size for g in ext_green])
        return NetworkLayout(
            jids=jids,
            layouts=lays,
            params=lays[0].params,
            pcu_by_class=dict(lays[0].pcu_by_class),
            det_start=det_start,
            lane_start=lane_start,
            det_junction=np.repeat(np.arange(len(lays)), n_d),
            det_others=np.repeat(np.maximum(n_d - 1, 1), n_d),
            det_is_stop=np.concatenate([lay.det_is_stop for lay in lays]),
            det_pair=shifted([lay.det_pair for lay in lays], det_start),
            lane_stop=shifted([lay.lane_stop for lay in lays], det_start),
            lane_adv=shifted([lay.lane_adv for lay in lays], det_start),
            lane_storage_pcu=np.concatenate([lay.lane_storage_pcu for lay in lays]),
            lane_zone_m=np.concatenate([lay.lane_zone_m for lay in lays]),
            lane_sat_prior_pcu_h=np.concatenate([lay.lane_sat_prior_pcu_h for lay in lays]),
            lane_approach=_approaches(lays),
            lane_hidden_cap_pcu=np.concatenate([lay.lane_hidden_cap_pcu for lay in lays]),
            det_share=np.concatenate([lay.det_share for lay in lays]),
            det_group=shifted([lay.det_group for lay in lays], det_start),
            det_lane=shifted([lay.det_lane for lay in lays], lane_start),
            green_table=np.concatenate([g.ravel() for g in ext_green]),
            protected_table=np.concatenate([g.ravel() for g in ext_prot]),
            table_start=np.concatenate(([0], np.cumsum(sizes)[:-1])),
            lane_junction=np.repeat(np.arange(len(lays)), n_l),
            lane_local=np.concatenate([np.arange(k) for k in n_l]),
            det_offset={j: int(s) for j, s in zip(jids, det_start[:-1])},
            bounds=tuple(
                (int(lane_start[k]), int(lane_start[k + 1]), int(det_start[k]), int(det_start[k + 1]))
                for k in range(len(lays))
            ),
            mov_bounds=tuple(itertools.pairwise(mov_start)),
            maps=LaneMaps.concat([lay.maps for lay in lays]),
        )

    @cached_property
    def lane_index(self) -> LaneIndex:
        """The loop indices the lane update reads every period (estimation.LaneIndex), derived once."""
        return LaneIndex.of(self)

    @cached_property
    def _row_terms(self) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
        """lane_rows' terms that depend on the layout alone: per junction its all-red row (its
        phase count), per lane the start of its junction's table plus its own position, and its
        junction's lane count."""
        lj = self.lane_junction
        return (
            tuple(len(lay.junction.phases) for lay in self.layouts),
            self.table_start[lj] + self.lane_local,
            np.diff(self.lane_start)[lj],
        )

    @cached_property
    def cut_slices(self) -> tuple[tuple[slice, slice, slice], ...]:
        """Per junction, the slices of its lanes, loops and movements in the network arrays
        (bounds, mov_bounds), made once for the cuts of every tick (_cut)."""
        return tuple(
            (slice(a, b), slice(da, db), slice(i, j)) for (a, b, da, db), (i, j) in zip(self.bounds, self.mov_bounds)
        )

    def lane_rows(self, green_phases: Sequence[int | None]) -> np.ndarray:
        """(lanes,) index into green_table / protected_table for each junction's green phase
        (None: the all-red row): its junction's table start + the phase's row x the junction's
        lane count + the lane's position (integers)."""
        red, base, width = self._row_terms
        rows = np.array([r if g is None else g for r, g in zip(red, green_phases)])
        out: np.ndarray = base + rows[self.lane_junction] * width
        return out


_CLASS_COLUMN = {c: k for k, c in enumerate(VEHICLE_CLASSES)}


@dataclass(frozen=True)
class NetworkReadings:
    """One period of every loop of a NetworkLayout (a loop absent from the feed: not `seen`),
    and which junctions sent a reading this period (`fresh`: junction position -> t_s)."""

    pcu: np.ndarray
    veh: np.ndarray
    occ: np.ndarray
    spd: np.ndarray
    seen: np.ndarray
    # vehicles over each junction's stop lines by class (junctions, VEHICLE_CLASSES) and the classes
    # a reading named (a count of 0 included); classes outside VEHICLE_CLASSES by junction position
    stop_veh: np.ndarray
    stop_named: np.ndarray
    fresh: dict[int, float]
    stop_other: Mapping[int, Mapping[str, int]] = field(default_factory=dict)

    @property
    def stop_counts(self) -> dict[int, dict[str, int]]:
        """Junction position -> vehicles over its stop lines by class, of the junctions whose
        readings named a class over a stop line."""
        out: dict[int, dict[str, int]] = {}
        for k in np.flatnonzero(np.logical_or.reduce(self.stop_named, axis=1)).tolist():
            row, named = self.stop_veh[k].tolist(), self.stop_named[k].tolist()
            out[k] = {c: n for c, n, x in zip(VEHICLE_CLASSES, row, named) if x}
        for k, other in self.stop_other.items():
            out.setdefault(k, {}).update(other)
        return out


def readings_from_snapshots(net: NetworkLayout, snaps: Mapping[str, Snapshot]) -> NetworkReadings:
    """The snapshots (at most one per junction of net) as network-wide arrays, PCU summed by
    class in the order estimation._read sums them (same floats)."""
    n = int(net.det_start[-1])
    pcu, veh, occ = np.zeros(n), np.zeros(n), np.zeros(n)
    spd = np.full(n, -1.0)
    seen = np.zeros(n, dtype=bool)
    factor = net.pcu_by_class
    stop_veh = np.zeros((len(net.jids), len(VEHICLE_CLASSES)), dtype=np.int64)
    stop_named = np.zeros(stop_veh.shape, dtype=bool)
    other: dict[int, dict[str, int]] = {}
    fresh: dict[int, float] = {}
    pos = {j: k for k, j in enumerate(net.jids)}
    for jid, snap in snaps.items():
        k = pos[jid]
        fresh[k] = snap.t_s
        off, index = net.det_offset[jid], net.layouts[k].det_index
        for rd in snap.readings:
            i = index.get(rd.detector)
            if i is None:
                continue
            i += off
            seen[i] = True
            occ[i] = rd.occupancy
            spd[i] = rd.speed_mps
            if rd.counts:
                pcu[i] = counts_pcu(rd.counts, factor)
                veh[i] = sum(c_n for _, c_n in rd.counts)
                if net.det_is_stop[i]:
                    for c, c_n in rd.counts:
                        col = _CLASS_COLUMN.get(c)
                        if col is None:
                            crossed = other.setdefault(k, {})
                            crossed[c] = crossed.get(c, 0) + c_n
                        else:
                            stop_veh[k, col] += c_n
                            stop_named[k, col] = True
    return NetworkReadings(pcu, veh, occ, spd, seen, stop_veh, stop_named, fresh, other)


def update_all(
    net: NetworkLayout,
    estimates: Mapping[str, Estimate],
    r: NetworkReadings,
    green_phases: Mapping[str, int | None],
    period_s: float,
    cache: StateCache | None = None,
) -> dict[str, Estimate]:
    """The new estimate of every junction that sent a reading (r.fresh), as estimation.update
    would fold it in: one period of period_s seconds, each junction's lanes green as its
    `green_phases` entry says (absent or None: all red). Junctions not fresh are left out.
    `cache`: a memo of the network arrays the last call cut the junctions' lanes and loops from."""
    ests = [estimates[j] for j in net.jids]
    L, h = _network_state(ests, cache)
    readings = own_shares(net.lane_index, _Readings(r.pcu, r.veh, r.occ, r.spd, r.seen, None), L.dep_flow_pcu_h)
    totals = np.add.reduceat(readings.veh, net.det_start[:-1])
    health, usable = _health(net, h, readings, period_s, (totals[net.det_junction] - readings.veh) / net.det_others)
    rows = net.lane_rows([green_phases.get(j) for j in net.jids])
    sig = _lane_signals(net, L, readings, health.faulty, usable, net.green_table[rows], net.protected_table[rows])
    lanes, arr, dep = update_lanes(net, L, readings, sig, period_s, net.params.flow_window_s)
    now = block_now_lanes(L, sig, lanes.block)
    lanes, movements = _movements(net, lanes, arr, dep, sig.stop_alive | sig.adv_alive, now)
    out, tick = _cut(net, ests, r, lanes, health, movements, cache)
    if cache is not None:
        cache.remember(net, out, tick)
    return out


def _movements(
    net: NetworkLayout, lanes: LaneState, arr: np.ndarray, dep: np.ndarray, measured: np.ndarray, now: np.ndarray
) -> tuple[LaneState, MovementArrays]:
    """estimation._to_movements over the network: lanes without a working loop borrow, then
    lanes are shared out to movements, in one pass of sparse sums (the floats of each junction
    alone: LaneMaps)."""
    lanes, arr, dep = _borrow(net.maps, net.lane_storage_pcu, lanes, arr, dep, measured)
    prior = net.lane_sat_prior_pcu_h
    ratio = _sat_estimate(lanes.sat_pcu, lanes.sat_s, prior, net.params) / prior  # element-wise
    return lanes, movement_arrays(net.maps, lanes, arr, dep, measured, ratio, now)


def _cut(
    net: NetworkLayout,
    ests: Sequence[Estimate],
    r: NetworkReadings,
    lanes: LaneState,
    health: DetectorHealth,
    m: MovementArrays,
    cache: StateCache | None,
) -> tuple[dict[str, Estimate], _Tick]:
    """Every fresh junction's new Estimate, its arrays views of the network's cut when read
    (EstimateCut; its lanes (a LaneCut), its loops' health and its vehicles over the stop lines
    made when first read: _Tick), and the tick's network record. The cumulative arrivals and
    departures are added over the network: the previous estimates' arrays (the last tick's
    network array when they are all cut from it), plus this period's."""
    known = cache.known(ests) if cache is not None else None  # the last tick's records, all of them
    joined = None if known is not None else joined_source(ests)  # one walk of the estimates for both fields
    before_arr = known.moves.arrivals_pcu if known is not None else _movement_field(ests, "arrivals_pcu", joined)
    before_dep = known.moves.departures_pcu if known is not None else _movement_field(ests, "departures_pcu", joined)
    cumulative = MovementArrays(
        before_arr + m.arrivals_pcu,
        before_dep + m.departures_pcu,
        m.flow_pcu_h,
        m.queue_pcu,
        m.sat_flow_pcu_h,
        m.block,
        m.block_now,
        m.blind,
    )
    tick = _Tick(net.cut_slices, cumulative, lanes, health, _crossed(known, ests, r))
    out: dict[str, Estimate] = {}
    jids, slices = net.jids, net.cut_slices
    counted = r.stop_counts if tick.crossed is None else None  # kept by record: every junction's own sum
    for k, t_s in r.fresh.items():
        movements_at = slices[k][2]
        fields: dict[str, object] = {"t_s": t_s, "last_feed_t_s": t_s, "_tick": tick, "_k": k}
        if counted is not None:  # a class outside VEHICLE_CLASSES: the sums kept by record (estimation.update's)
            crossed = ests[k].crossed_by_class
            fields["crossed_by_class"] = crossed if k not in counted else _merged(crossed, counted[k])
        out[jids[k]] = cut_at(EstimateCut, cumulative, movements_at, fields)
    return out, tick


def _merged(crossed: tuple[tuple[str, int], ...], counted: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    """A junction's vehicles over its stop lines with this period's added (estimation.update's sum)."""
    before = dict(crossed)
    for c, n in counted.items():
        before[c] = before.get(c, 0) + n
    return tuple(sorted(before.items()))


@dataclass(frozen=True)
class Crossed:
    """Every junction's vehicles over its stop lines by class, kept over the network from tick to
    tick: its Estimate.crossed_by_class when these sums began (`base`), and per class what was
    counted since and whether a reading named the class (a count of 0 included). A junction's
    tuple is made when read (`of`): the base itself while no reading named a class, else the
    base with the sums added, sorted by class (what adding each period's counts to the tuple, as
    estimation.update does, gives)."""

    base: tuple[tuple[tuple[str, int], ...], ...]
    veh: np.ndarray  # (junctions, VEHICLE_CLASSES) int64
    named: np.ndarray  # (junctions, VEHICLE_CLASSES) bool

    def of(self, k: int) -> tuple[tuple[str, int], ...]:
        named = self.named[k].tolist()
        if not any(named):
            return self.base[k]
        return _merged(self.base[k], {c: n for c, n, x in zip(VEHICLE_CLASSES, self.veh[k].tolist(), named) if x})


def _crossed(known: _Tick | None, ests: Sequence[Estimate], r: NetworkReadings) -> Crossed | None:
    """This tick's Crossed: the last tick's (`known`) or one begun from the estimates' tuples, with
    this period's counts added; None when a reading names a class outside VEHICLE_CLASSES (the
    estimates keep their own sums: _cut), and the next tick begins again from the tuples."""
    if r.stop_other:
        return None
    before = known.crossed if known is not None else None
    if before is None:
        z = np.zeros((len(ests), len(VEHICLE_CLASSES)), dtype=np.int64)
        before = Crossed(tuple(e.crossed_by_class for e in ests), z, z != 0)
    if not r.stop_named.any():
        return before
    return Crossed(before.base, before.veh + r.stop_veh, before.named | r.stop_named)


@dataclass(frozen=True)
class _Tick:
    """What one update_all's Estimates are cut from: the junctions' slices, the cumulative
    movement arrays, the network's lanes and loops, the stop-line sums (None: kept by record)."""

    slices: tuple[tuple[slice, slice, slice], ...]
    moves: MovementArrays
    lanes: LaneState
    health: DetectorHealth
    crossed: Crossed | None


class EstimateCut(Cut, Estimate):
    """One junction's Estimate: its scalars given, its movement arrays cut from the network's
    (MovementArrays, arrivals and departures cumulative) when read (cuts.py); its lanes (a
    LaneCut), its loops' health and its vehicles over the stop lines made from its tick's network
    record (`_tick`, at junction position `_k`) when first read: the network passes read every
    junction's lanes as the network's arrays (lanes_of), the metrics the health every few
    seconds."""


class _FromTick:
    """A field of an EstimateCut made from its _Tick when first read, then kept (like cuts._Lazy:
    the instance's own value wins once stored)."""

    __slots__ = ("make", "name")

    def __init__(self, name: str, make: Callable[[_Tick, int], object]) -> None:
        self.name, self.make = name, make

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        d = obj.__dict__
        tick = d.get("_tick")
        if tick is None:
            raise AttributeError(self.name)
        value = d[self.name] = self.make(tick, d["_k"])
        return value


def _lanes_of(tick: _Tick, k: int) -> LaneState:
    return cut_at(LaneCut, tick.lanes, tick.slices[k][0])


def _health_of(tick: _Tick, k: int) -> DetectorHealth:
    return cut_at(HealthCut, tick.health, tick.slices[k][1])


def _crossed_of(tick: _Tick, k: int) -> tuple[tuple[str, int], ...]:
    if tick.crossed is None:  # _cut set every fresh junction's own
        raise AttributeError("crossed_by_class")
    return tick.crossed.of(k)


EstimateCut.lanes = _FromTick("lanes", _lanes_of)  # type: ignore[assignment]
EstimateCut.health = _FromTick("health", _health_of)  # type: ignore[assignment]


def lanes_of(ests: Sequence[Estimate]) -> Sequence[LaneState]:
    """The estimates' lanes, in order: when they are the EstimateCuts of one update_all's junctions,
    all and in its order, a cuts.Fields that knows their source (the network's LaneState, whose
    arrays are their fields joined) without making any junction's LaneCut; else each one's lanes."""
    tick = _one_tick(ests)
    if tick is None:
        return [x.lanes for x in ests]
    return Fields(ests, "lanes", (tick.lanes, tick.slices[-1][0].stop))


def healths_of(ests: Sequence[Estimate]) -> Sequence[DetectorHealth]:
    """The estimates' loops' health, in order, as lanes_of gives their lanes: a cuts.Fields that knows
    its source (the network's DetectorHealth) without making any junction's HealthCut, when they are
    the EstimateCuts of one update_all's junctions, all and in its order; else each one's health."""
    tick = _one_tick(ests)
    if tick is None:
        return [x.health for x in ests]
    return Fields(ests, "health", (tick.health, tick.slices[-1][1].stop))


def _one_tick(ests: Sequence[Estimate]) -> _Tick | None:
    """The update_all record `ests` are the EstimateCuts of, all its junctions and in its order; else None."""
    tick: _Tick | None = None
    for k, e in enumerate(ests):
        d = e.__dict__
        t = d.get("_tick")
        if t is None or d["_k"] != k or (tick is not None and t is not tick) or type(e) is not EstimateCut:
            return None
        tick = t
    if tick is None or len(ests) != len(tick.slices):
        return None
    return tick


EstimateCut.crossed_by_class = _FromTick("crossed_by_class", _crossed_of)  # type: ignore[assignment]


def _movement_field(ests: Sequence[Estimate], name: str, joined: tuple[object, int] | None) -> np.ndarray:
    """Every junction's movement array `name` concatenated (the network array itself when the
    estimates are all cut from one, in order: `joined`, their cuts.joined_source; as
    cuts.joined_field reads it)."""
    if joined is not None:
        whole: np.ndarray = getattr(joined[0], name)
        if whole.shape[-1] == joined[1]:
            return whole
    return np.concatenate([getattr(e, name) for e in ests])


class StateCache:
    """The last update_all's network record (_Tick) and the Estimates it made, in junction order
    (a memo: update_all gives the same with or without it). Where the next call's estimates are
    exactly those records (every junction fresh last time), the network arrays are used again
    instead of concatenating the junctions' back; else, field by field, where the estimates
    still hold the very arrays cut from them (a lane field a junction borrowed into is not)."""

    def __init__(self) -> None:
        self.records: tuple[Estimate, ...] = ()
        self.tick: _Tick | None = None

    def remember(self, net: NetworkLayout, out: Mapping[str, Estimate], tick: _Tick) -> None:
        if len(out) != len(net.jids):  # a junction not fresh keeps arrays of its own
            self.records, self.tick = (), None
            return
        self.records = tuple(out[j] for j in net.jids)
        self.tick = tick

    def known(self, ests: Sequence[Estimate]) -> _Tick | None:
        """The last tick's record when `ests` are the very Estimates it made, in order."""
        if self.tick is None or len(ests) != len(self.records):
            return None
        return self.tick if all(e is rec for e, rec in zip(ests, self.records)) else None

    def whole(self, ests: Sequence[Estimate]) -> tuple[LaneState | None, DetectorHealth | None]:
        """The network LaneState when every estimate holds the very LaneState cut from it (then
        every lane field is that array's), else None; the same for the DetectorHealth."""
        tick = self.known(ests)
        if tick is not None:
            return tick.lanes, tick.health
        if self.tick is None or len(ests) != len(self.records):
            return None, None
        lanes_same = all(e.lanes is rec.lanes for e, rec in zip(ests, self.records))
        health_same = all(e.health is rec.health for e, rec in zip(ests, self.records))
        return (self.tick.lanes if lanes_same else None), (self.tick.health if health_same else None)

    def field(self, ests: Sequence[Estimate], kind: str, name: str) -> np.ndarray | None:
        """The network array of `kind` ("lanes" or "health") field `name`, when every estimate
        holds the very array cut from it; else None."""
        if self.tick is None or len(ests) != len(self.records):
            return None
        for e, rec in zip(ests, self.records):
            if getattr(getattr(e, kind), name) is not getattr(getattr(rec, kind), name):
                return None
        out: np.ndarray = getattr(self.tick.lanes if kind == "lanes" else self.tick.health, name)
        return out


def _network_state(ests: Sequence[Estimate], cache: StateCache | None) -> tuple[LaneState, DetectorHealth]:
    """Every junction's lanes and loops as network arrays (junction order)."""
    whole = cache.whole(ests) if cache is not None else (None, None)
    if whole[0] is not None and whole[1] is not None:
        return whole[0], whole[1]

    def cat(kind: str, name: str, axis: int = 0) -> np.ndarray:
        known = cache.field(ests, kind, name) if cache is not None else None
        if known is not None:
            return known
        return np.concatenate([getattr(getattr(e, kind), name) for e in ests], axis=axis)

    L = whole[0] or LaneState(
        **{f: cat("lanes", f) for f in LANE_ROW_FIELDS}, adv_recent_pcu=cat("lanes", "adv_recent_pcu", 1)
    )
    h = whole[1] or DetectorHealth(**{f: cat("health", f) for f in _HEALTH_FIELDS})
    return L, h


def _approaches(lays: Sequence[Layout]) -> np.ndarray:
    """The junctions' Layout.lane_approach concatenated, each numbered on from the last's."""
    out, start = [], 0
    for lay in lays:
        out.append(lay.lane_approach + start)
        start += int(lay.lane_approach.max()) + 1 if len(lay.lane_approach) else 0
    return np.concatenate(out).astype(int) if out else np.zeros(0, dtype=int)


def network_layout(layouts: Mapping[str, Layout]) -> NetworkLayout | None:
    """The NetworkLayout of the junctions with loops, or None when there are none or they do
    not share parameters (then every junction is updated on its own)."""
    with_loops = {j: lay for j, lay in layouts.items() if lay.det_index}
    try:
        return NetworkLayout.build(with_loops)
    except ValueError:
        return None


def fold(
    net: NetworkLayout | None,
    layouts: Mapping[str, Layout],
    estimates: Mapping[str, Estimate],
    snaps: Mapping[str, Sequence[Snapshot]],
    green_phases: Mapping[str, int | None],
    frames: Sequence[tuple[NetworkReadings, float]] = (),
    cache: StateCache | None = None,
) -> dict[str, Estimate]:
    """Every junction's estimate with this tick's readings folded in, as successive
    estimation.update calls would give: first the `frames` ((readings, period_s), readings of
    junctions of `net`), then the snapshots in their order: the k-th snapshots of all junctions
    of `net` in one update_all per period length, the junctions outside `net` one by one.
    `cache`: update_all's memo, kept from tick to tick."""
    out = dict(estimates)
    if net is not None:
        for readings, period_s in frames:
            out.update(update_all(net, out, readings, green_phases, period_s, cache))
    rounds: dict[tuple[int, float], dict[str, Snapshot]] = {}
    in_net = set(net.jids) if net is not None else set()
    for jid, seq in snaps.items():
        lay = layouts.get(jid)
        if lay is None:
            continue
        if jid not in in_net:
            for s in seq:
                out[jid] = estimation_update(lay, out[jid], s, green_phases.get(jid))
            continue
        for k, s in enumerate(seq):
            rounds.setdefault((k, s.period_s), {})[jid] = s
    for (_k, period_s), batch in sorted(rounds.items(), key=lambda kv: kv[0][0]):
        if net is not None:  # always: rounds only hold junctions of net
            out.update(update_all(net, out, readings_from_snapshots(net, batch), green_phases, period_s, cache))
    return out


@dataclass(frozen=True)
class FrameIndex:
    """Where the junctions and loops of a feedarrays.FrameLayout sit in a NetworkLayout (-1:
    outside it). Build once per pair of layouts."""

    net_junction: np.ndarray  # (frame junctions,)
    net_loop: np.ndarray  # (frame loops,)
    loop_junction: np.ndarray  # (frame loops,) frame junction position
    is_stop: np.ndarray  # (frame loops,) bool: a stop-line loop of a junction of net
    # the frame's loops are the network's, in its order (frame loop i is network loop i)
    same_loops: bool
    # the vehicle classes in the order estimation._read sums their PCU: (column, PCU factor)
    pcu_order: tuple[tuple[int, float], ...]
    # every junction accepted: the network positions of the frame's junctions of net, in frame
    # order (NetworkReadings.fresh's keys); the frame's stop-line rows, and where each frame
    # junction's begin among them ((frame junctions + 1,))
    fresh_all: tuple[int, ...]
    stop_rows: np.ndarray
    stop_start: np.ndarray

    @staticmethod
    def build(net: NetworkLayout, layout: FrameLayout) -> FrameIndex:
        pos = {j: k for k, j in enumerate(net.jids)}
        net_junction = np.array([pos.get(j, -1) for j in layout.junctions], dtype=int)
        sizes = np.diff(layout.det_start)
        loop_junction = np.repeat(np.arange(len(layout.junctions)), sizes)
        net_loop = np.full(len(layout.detectors), -1, dtype=int)
        for i, (k, did) in enumerate(zip(loop_junction, layout.detectors)):
            nk = net_junction[k]
            if nk >= 0:
                local = net.layouts[nk].det_index.get(did)
                net_loop[i] = -1 if local is None else net.det_start[nk] + local
        is_stop = np.zeros(len(net_loop), dtype=bool)
        is_stop[net_loop >= 0] = net.det_is_stop[net_loop[net_loop >= 0]]
        same = len(net_loop) == int(net.det_start[-1]) and bool(np.array_equal(net_loop, np.arange(len(net_loop))))
        order = sorted(range(len(VEHICLE_CLASSES)), key=lambda k: VEHICLE_CLASSES[k])
        pcu_order = tuple((c, net.pcu_by_class.get(VEHICLE_CLASSES[c], 1.0)) for c in order)
        fresh_all = tuple(int(nk) for nk in net_junction if nk >= 0)
        stop_rows = np.flatnonzero(is_stop)
        stop_start = np.searchsorted(stop_rows, np.asarray(layout.det_start, dtype=int))
        return FrameIndex(
            net_junction, net_loop, loop_junction, is_stop, same, pcu_order, fresh_all, stop_rows, stop_start
        )


def readings_from_frame(
    net: NetworkLayout, index: FrameIndex, frame: DetectorFrame, accepted: np.ndarray
) -> NetworkReadings:
    """The accepted junctions' readings of a frame as network-wide arrays, PCU summed by class
    in the order estimation._read sums them (same floats). When the frame carries the
    network's loops in its order and every junction is accepted (the in-process feed), the
    frame's arrays are copied whole instead of scattered (the same values)."""
    n = int(net.det_start[-1])
    if index.same_loops and bool(np.logical_and.reduce(accepted)):
        counts = frame.counts
        pcu, veh = _pcu_rows(index, counts), np.add.reduce(counts, axis=1).astype(float)
        occ, spd = np.array(frame.occupancy, dtype=float), np.array(frame.speed_mps, dtype=float)
        seen = np.ones(n, dtype=bool)
        # the index's stop-line rows (the frame's layout is the index's) and its junctions' keys
        stop_veh = _stop_counts(net, index, counts[index.stop_rows], index.stop_start)
        fresh_all = dict.fromkeys(index.fresh_all, frame.t_s)
        return NetworkReadings(pcu, veh, occ, spd, seen, stop_veh, stop_veh != 0, fresh_all)
    take = accepted[index.loop_junction] & (index.net_loop >= 0)
    at = index.net_loop[take]
    counts = frame.counts[take]
    pcu, veh, occ = np.zeros(n), np.zeros(n), np.zeros(n)
    spd = np.full(n, -1.0)
    seen = np.zeros(n, dtype=bool)
    pcu[at], veh[at], occ[at], spd[at], seen[at] = (
        _pcu_rows(index, counts),
        counts.sum(axis=1),
        frame.occupancy[take],
        frame.speed_mps[take],
        True,
    )
    rows = np.flatnonzero(take & index.is_stop)
    stop_veh = _stop_counts(net, index, frame.counts[rows], np.searchsorted(rows, frame.layout.det_start))
    fresh = {int(nk): frame.t_s for nk in index.net_junction[accepted & (index.net_junction >= 0)]}
    return NetworkReadings(pcu, veh, occ, spd, seen, stop_veh, stop_veh != 0, fresh)


def _stop_counts(net: NetworkLayout, index: FrameIndex, rows: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Vehicles over the stop lines by junction (network position) and class ((junctions of net,
    VEHICLE_CLASSES)): `rows` the frame's stop-line rows (loops, classes) in frame order, `start`
    (frame junctions + 1,) where each frame junction's begin among them. Running sums (integers:
    exact in any order; np.add.at gave the same, slower). A frame junction outside net has no
    stop-line row (FrameIndex.is_stop)."""
    running = np.zeros((len(rows) + 1, len(VEHICLE_CLASSES)), dtype=np.int64)
    np.cumsum(rows, axis=0, out=running[1:])
    by_junction = running[start[1:]] - running[start[:-1]]
    out = np.zeros((len(net.jids), len(VEHICLE_CLASSES)), dtype=np.int64)
    inside = index.net_junction >= 0
    out[index.net_junction[inside]] = by_junction[inside]
    return out


def _pcu_rows(index: FrameIndex, counts: np.ndarray) -> np.ndarray:
    """PCU per row of `counts` (rows, classes): the classes' counts x their factors summed in
    index.pcu_order, from 0 (estimation._read's order and floats)."""
    out = np.zeros(len(counts))
    for c, factor in index.pcu_order:
        out = out + counts[:, c] * factor
    return out

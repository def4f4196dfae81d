"""The metrics' junction figures for a group of junctions at once, over concatenated arrays.

ServiceMetrics (metrics.py) refreshes every junction once per `update_s`, all in the same
tick or staggered (`[metrics] stagger`): the junctions due in the same tick form a group. Their
figures come from one pass of numpy operations over the group's movements and lanes (sums
per junction by `np.bincount` over a junction index)
instead of some thirty small operations per junction. The formulas are metrics.py's: queue,
the approaches' traffic (`approach_traffic`, Edie), the fixed plan's
service of the measured demand, the advance loops' spot speed. Sums are taken in another
order than per junction (last-bit differences in the exported floats, not in any decision:
the metrics feed nothing back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from controller.core.cuts import Joined
from controller.core.estimation import Estimate
from controller.core.netestimate import lanes_of


class JunctionShape(Protocol):
    """What a junction's bookkeeping (metrics._Junction) holds of its own statics."""

    watched: np.ndarray  # (lanes,) bool: lanes with an advance loop and a length
    mov_watched: np.ndarray  # (movements,) share of the movement's lanes that are watched
    mov_weights: np.ndarray  # (movements, lanes) share-weighted means over watched lanes
    length_m: np.ndarray  # (movements,) approach length, ≥ zone
    zone_m: np.ndarray  # (movements,) zone between the loops, ≥ 0
    upstream_m: np.ndarray  # (movements,) length - zone
    counted: np.ndarray  # (lanes,) bool: departures measured
    fixed_capacity_counted_pcu_s: np.ndarray  # (counted lanes,) the fixed plan's capacity, PCU/s
    adv_lanes: np.ndarray  # (lanes,) bool: lanes with an advance loop


@dataclass(frozen=True)
class GroupStatics:
    """A group's statics concatenated in group order (built once per group of junctions)."""

    k: int
    mov_seg: np.ndarray  # (movements,) position in the group of each movement's junction
    watched_idx: np.ndarray  # lanes watched, and their junction
    watched_seg: np.ndarray
    mov_watched: np.ndarray
    w_mov: np.ndarray  # non-zero entries of the junctions' mov_weights: movement, lane, weight
    w_lane: np.ndarray
    w: np.ndarray
    length_m: np.ndarray
    zone_m: np.ndarray
    upstream_m: np.ndarray
    counted_idx: np.ndarray  # lanes counted, and their junction
    counted_seg: np.ndarray
    capacity_pcu_s: np.ndarray
    adv_idx: np.ndarray  # lanes with an advance loop, and their junction
    adv_seg: np.ndarray
    adv_n: np.ndarray  # (k,) advance lanes per junction

    @staticmethod
    def build(shapes: Sequence[JunctionShape]) -> GroupStatics:
        k = len(shapes)
        n_mov = [len(s.mov_watched) for s in shapes]
        n_lane = [len(s.watched) for s in shapes]
        mov_off = np.concatenate([[0], np.cumsum(n_mov)]).astype(np.int64)
        lane_off = np.concatenate([[0], np.cumsum(n_lane)]).astype(np.int64)
        lane_seg = np.repeat(np.arange(k), n_lane)
        rows, cols, ws = [], [], []
        for i, s in enumerate(shapes):
            r, c = np.nonzero(s.mov_weights)
            rows.append(r + mov_off[i])
            cols.append(c + lane_off[i])
            ws.append(s.mov_weights[r, c])

        def cat(name: str, dtype: type = float) -> np.ndarray:
            return np.concatenate([np.asarray(getattr(s, name), dtype=dtype) for s in shapes] or [np.zeros(0)])

        watched_idx = np.flatnonzero(cat("watched", bool))
        counted_idx = np.flatnonzero(cat("counted", bool))
        adv_idx = np.flatnonzero(cat("adv_lanes", bool))
        return GroupStatics(
            k,
            np.repeat(np.arange(k), n_mov),
            watched_idx,
            lane_seg[watched_idx],
            cat("mov_watched"),
            np.concatenate(rows or [np.zeros(0, np.int64)]).astype(np.int64),
            np.concatenate(cols or [np.zeros(0, np.int64)]).astype(np.int64),
            np.concatenate(ws or [np.zeros(0)]),
            cat("length_m"),
            cat("zone_m"),
            cat("upstream_m"),
            counted_idx,
            lane_seg[counted_idx],
            cat("fixed_capacity_counted_pcu_s"),
            adv_idx,
            lane_seg[adv_idx],
            np.bincount(lane_seg[adv_idx], minlength=k),
        )


@dataclass(frozen=True)
class GroupFigures:
    """Per junction of the group (arrays of k): the refresh's figures. The traffic and service
    terms are the interval's increments of metrics.CUM (0 where `valid` was False)."""

    queue_pcu: np.ndarray
    departed_pcu: np.ndarray  # cumulative, as it stands
    arrived_pcu: np.ndarray
    distance_pcu_m: np.ndarray
    time_pcu_s: np.ndarray
    delay_pcu_s: np.ndarray
    demand_pcu: np.ndarray
    served_pcu: np.ndarray
    fixed_served_pcu: np.ndarray
    fixed_short_pcu: np.ndarray
    speed_mps: np.ndarray  # the advance loops' flow-weighted spot speed (nan: no advance loop)
    speed_weight: np.ndarray


def group_figures(
    g: GroupStatics,
    ests: Sequence[Estimate],
    last_arrivals_pcu: Sequence[np.ndarray],
    valid: np.ndarray,
    dt_s: np.ndarray,
) -> GroupFigures:
    """The group's figures from each junction's estimate and its arrivals at its last refresh
    (`valid`: that last refresh exists, with the same movements, and the junction watches some
    approach), over `dt_s` seconds since that refresh."""
    k, seg = g.k, g.mov_seg

    def per_junction(seg_ids: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.bincount(seg_ids, weights=x, minlength=k)

    # the estimates' arrays joined: the network's own when they are the cuts of one tick, all and in order
    # (no junction's cut made; cuts.Joined), else concatenated; the same floats either way
    joined, joined_lanes = Joined(ests), Joined(lanes_of(ests))
    mov = {name: joined(name) for name in _MOVEMENT_FIELDS}
    lanes = {name: joined_lanes(name) for name in _LANE_FIELDS}
    a = np.maximum((mov["arrivals_pcu"] - np.concatenate(last_arrivals_pcu)) * g.mov_watched, 0.0)
    held = (lanes["queue_pcu"] + lanes["hidden_pcu"])[g.watched_idx]
    held_pcu_s = np.maximum(per_junction(g.watched_seg, held), 0.0) * np.maximum(dt_s, 0.0)
    speed_mps = np.bincount(g.w_mov, weights=g.w * lanes["adv_speed_mps"][g.w_lane], minlength=len(seg))
    v = np.maximum(speed_mps, 1.0)
    served = np.maximum(lanes["dep_flow_pcu_h"][g.counted_idx], 0.0) / 3600.0
    q = np.maximum(np.maximum(lanes["flow_pcu_h"][g.counted_idx], 0.0) / 3600.0, served)
    c, cs = g.capacity_pcu_s, g.counted_seg
    adv_speed_mps, adv_flow_pcu_h = lanes["adv_speed_mps"][g.adv_idx], lanes["flow_pcu_h"][g.adv_idx]
    weight = per_junction(g.adv_seg, adv_flow_pcu_h)
    flow_weighted = per_junction(g.adv_seg, adv_flow_pcu_h * adv_speed_mps) / np.where(weight > 0, weight, 1.0)
    plain = per_junction(g.adv_seg, adv_speed_mps) / np.maximum(g.adv_n, 1)
    return GroupFigures(
        per_junction(seg, mov["queue_pcu"]),
        per_junction(seg, mov["departures_pcu"]),
        np.where(valid, per_junction(seg, a), 0.0),
        np.where(valid, per_junction(seg, a * g.length_m), 0.0),
        np.where(valid, held_pcu_s + per_junction(seg, a * (g.upstream_m / v)), 0.0),
        np.where(valid, held_pcu_s - per_junction(seg, a * (g.zone_m / v)), 0.0),
        per_junction(cs, q) * dt_s,
        per_junction(cs, served) * dt_s,
        per_junction(cs, np.minimum(q, c)) * dt_s,
        per_junction(cs, np.maximum(q - c, 0.0)) * dt_s,
        np.where(g.adv_n == 0, np.nan, np.where(weight > 0, flow_weighted, plain)),
        np.where(weight > 0, weight, 0.0),
    )


_MOVEMENT_FIELDS = ("queue_pcu", "arrivals_pcu", "departures_pcu")
_LANE_FIELDS = ("queue_pcu", "hidden_pcu", "adv_speed_mps", "dep_flow_pcu_h", "flow_pcu_h")


def saturation_ratio(flow_pcu_h: np.ndarray, sat_flow_pcu_h: np.ndarray, green_share: np.ndarray) -> float:
    """The degree of saturation x = q/(λs) of a junction's critical movement (Webster 1958; HCM):
    per movement, the flow q over its capacity, λ its measured green share (clipped to
    [0.001, 1]) times its saturation flow s (PCU/h), the capacity at least 1e-6 PCU/h; the
    largest of them (NaN if one is), 0 for a junction without movements."""
    if not len(flow_pcu_h):
        return 0.0
    x = flow_pcu_h / np.maximum(np.clip(green_share, 1e-3, 1.0) * sat_flow_pcu_h, 1e-6)
    out = np.full(1, -np.inf)
    np.maximum.at(out, np.zeros(len(x), dtype=np.intp), x)  # in movement order, as the group refresh took it
    return float(out[0])

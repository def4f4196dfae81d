"""Traffic state per movement, from detector counts only (numpy, pure).

Counts on a lane shared by several movements are split equally between them: the detectors
cannot tell turning intentions apart. Arrivals are counted at the advance loops, departures at
the stop-line loops (input-output counting), both in PCU with the class factors of config.toml.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from controller.model import VEHICLE_CLASSES, Intersection, Snapshot

if TYPE_CHECKING:
    from controller.config import Config


@dataclass(frozen=True)
class Layout:
    """Index arrays of one junction, computed once at start-up."""

    junction: Intersection
    det_index: dict[str, int]
    adv_share: np.ndarray  # (movements, detectors): share of a detector's PCU that is a movement's arrival
    stop_share: np.ndarray  # (movements, detectors): ... a movement's departure
    storage_pcu: np.ndarray
    sat_flow_pcu_h: np.ndarray
    pcu_by_class: dict[str, float]
    stop_detectors: frozenset[str]

    @staticmethod
    def build(junction: Intersection, cfg: "Config") -> "Layout":
        dets = junction.detectors
        det_index = {d.id: i for i, d in enumerate(dets)}
        users: dict[str, int] = {}
        for m in junction.movements:
            for lane in m.lanes:
                users[lane] = users.get(lane, 0) + 1
        n_m, n_d = len(junction.movements), len(dets)
        adv, stop = np.zeros((n_m, n_d)), np.zeros((n_m, n_d))
        for i, m in enumerate(junction.movements):
            for j, d in enumerate(dets):
                if d.lane in m.lanes:
                    (adv if d.kind == "advance" else stop)[i, j] = 1.0 / users[d.lane]
        return Layout(
            junction=junction, det_index=det_index, adv_share=adv, stop_share=stop,
            storage_pcu=np.array([m.storage_pcu for m in junction.movements]),
            sat_flow_pcu_h=np.array([m.sat_flow_pcu_h for m in junction.movements]),
            pcu_by_class={c: cfg.pcu.factor(c) for c in VEHICLE_CLASSES},
            stop_detectors=frozenset(d.id for d in dets if d.kind == "stop"),
        )


@dataclass(frozen=True)
class Estimate:
    """Per-movement state. Arrays are never mutated: each update returns new ones."""

    t_s: float
    arrivals_pcu: np.ndarray  # cumulative since start
    departures_pcu: np.ndarray  # cumulative since start
    flow_pcu_h: np.ndarray  # arrival flow, exponentially averaged
    queue_pcu: np.ndarray
    crossed_by_class: tuple[tuple[str, int], ...]  # vehicles over the stop lines, cumulative
    last_feed_t_s: float | None = None

    @staticmethod
    def empty(layout: Layout, t_s: float) -> "Estimate":
        z = np.zeros(len(layout.junction.movements))
        return Estimate(t_s, z, z, z, z, tuple((c, 0) for c in VEHICLE_CLASSES))


def update(layout: Layout, est: Estimate, snap: Snapshot, flow_window_s: float) -> Estimate:
    """Fold one detector message into the estimate."""
    pcu = np.zeros(len(layout.det_index))
    crossed = None
    factor = layout.pcu_by_class
    for r in snap.readings:
        if not r.counts:
            continue
        pcu[layout.det_index[r.detector]] = sum(factor[c] * n for c, n in r.counts)
        if r.detector in layout.stop_detectors:
            crossed = crossed if crossed is not None else dict(est.crossed_by_class)
            for c, n in r.counts:
                crossed[c] = crossed.get(c, 0) + n
    arr = layout.adv_share @ pcu
    dep = layout.stop_share @ pcu
    alpha = min(1.0, snap.period_s / flow_window_s)
    flow = (1 - alpha) * est.flow_pcu_h + alpha * arr * (3600.0 / snap.period_s)
    queue = np.clip(est.queue_pcu + arr - dep, 0.0, layout.storage_pcu)
    return replace(
        est, t_s=snap.t_s, arrivals_pcu=est.arrivals_pcu + arr, departures_pcu=est.departures_pcu + dep,
        flow_pcu_h=flow, queue_pcu=queue,
        crossed_by_class=est.crossed_by_class if crossed is None else tuple(sorted(crossed.items())),
        last_feed_t_s=snap.t_s,
    )

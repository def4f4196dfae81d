"""Calibration of a rebuilt scenario: the GEH statistic of its loop counts against the recorded ones.

GEH = sqrt(2 (M - C)^2 / (M + C)), M the modelled and C the counted flow in vehicles per hour
(UK DMRB, TA 46/97; SUMO's tools/detector/validate.py computes the same). The usual acceptance
criterion of a calibrated model: GEH < 5 for at least 85 % of the hourly counts.

Counts are compared per counting site (the loops of one kind of one junction approach, summed) and per period
of one hour and of 15 minutes from the window's start, as flows (veh/h); a period cut short by
the window's end is scaled to an hourly flow over its actual length. Loop-periods with no vehicle in
either are left out (trivially equal).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from controller.model import VEHICLE_CLASSES, Detector, Intersection

GEH_OK = 5.0
TARGET_SHARE = 0.85
NOT_COUNTED = ""  # count_sites' site of a shared loop's other rows: their vehicles are its first row's


def geh(modelled_veh_h: float, counted_veh_h: float) -> float:
    total = modelled_veh_h + counted_veh_h
    return 0.0 if total <= 0 else math.sqrt(2.0 * (modelled_veh_h - counted_veh_h) ** 2 / total)


@dataclass(frozen=True)
class GehRow:
    detector: str  # the counting site (edge:kind), or the loop
    period_start_s: float
    period_s: float
    counted_veh_h: float
    modelled_veh_h: float

    @property
    def geh(self) -> float:
        return geh(self.modelled_veh_h, self.counted_veh_h)


@dataclass
class GehResult:
    hourly: list[GehRow] = field(default_factory=list)
    quarter: list[GehRow] = field(default_factory=list)

    @staticmethod
    def _share(rows: list[GehRow]) -> float:
        return sum(r.geh < GEH_OK for r in rows) / len(rows) if rows else float("nan")

    @property
    def hourly_share(self) -> float:
        return self._share(self.hourly)

    @property
    def quarter_share(self) -> float:
        return self._share(self.quarter)

    @property
    def hourly_n(self) -> int:
        return len(self.hourly)

    @property
    def quarter_n(self) -> int:
        return len(self.quarter)

    def as_dict(self) -> dict[str, float | int | list[dict[str, str | float]]]:
        """geh.json's body."""

        def rows(rs: list[GehRow]) -> list[dict[str, str | float]]:
            return [
                {
                    "detector": r.detector,
                    "period_start_s": r.period_start_s,
                    "period_s": r.period_s,
                    "counted_veh_h": round(r.counted_veh_h, 1),
                    "modelled_veh_h": round(r.modelled_veh_h, 1),
                    "geh": round(r.geh, 2),
                }
                for r in rs
            ]

        return {
            "geh_ok": GEH_OK,
            "target_share": TARGET_SHARE,
            "hourly_share": self.hourly_share,
            "hourly_n": self.hourly_n,
            "quarter_share": self.quarter_share,
            "quarter_n": self.quarter_n,
            "hourly": rows(self.hourly),
            "quarter": rows(self.quarter),
        }


def count_sites(junctions: Mapping[str, Intersection]) -> dict[str, str]:
    """Loop id -> its counting site: the approach edge of the lane it measures for (`lane`, not
    the lane it sits on) and its kind (stop line or advance). The loops of one site are summed, as
    a count station sums its lanes: which lane a vehicle takes is the driver model's choice, not
    demand. An approach that widens into turning pockets has its advance loops partly upstream
    of the widening (on the edge before) and partly on it; they are one cross-section of the
    approach, so one site."""
    dets = [d for j in junctions.values() for d in j.detectors]
    once = {d.id for d in counted_once(dets)}
    return {d.id: f"{d.lane.rsplit('_', 1)[0]}:{d.kind}" if d.id in once else NOT_COUNTED for d in dets}


def counted_once(detectors: Iterable[Detector]) -> Iterator[Detector]:
    """The loops, each once: a loop past a split (sim/loops.py, [detectors] advance_past_split) has a row for each
    lane it counts for, at one place (`at_lane`, `pos_m`; `shared_by` > 1), and each row counts every vehicle over
    it: its first row stands for the loop."""
    seen: set[tuple[str, float]] = set()
    for d in detectors:
        if d.shared_by > 1:
            if (d.at_lane, d.pos_m) in seen:
                continue
            seen.add((d.at_lane, d.pos_m))
        yield d


def _per_period(
    det: pa.Table, from_s: float, to_s: float, period_s: float, sites: Mapping[str, str]
) -> dict[tuple[str, int], int]:
    if det.num_rows == 0:
        return {}
    start = det["t_s"].to_numpy() - det["period_s"].to_numpy().astype(float)
    keep = (start >= from_s - 1e-9) & (start < to_s)
    k = np.floor((start - from_s) / period_s + 1e-9).astype(int)
    loops = det["detector"].cast(pa.string()).to_numpy(zero_copy_only=False)
    names = np.array([sites.get(d, d) for d in loops], dtype=object)
    keep &= names != NOT_COUNTED
    veh = sum(det[c].to_numpy().astype(np.int64) for c in VEHICLE_CLASSES)
    out: dict[tuple[str, int], int] = {}
    for name, kk, n in zip(names[keep], k[keep], veh[keep]):
        key = (str(name), int(kk))
        out[key] = out.get(key, 0) + int(n)
    for name in np.unique(names[names != NOT_COUNTED]):  # loops that counted nothing in a period still count 0
        for kk in range(math.ceil((to_s - from_s) / period_s)):
            out.setdefault((str(name), kk), 0)
    return out


def compare_counts(
    counted: pa.Table, modelled: pa.Table, from_s: float, to_s: float, sites: Mapping[str, str] | None = None
) -> GehResult:
    """GEH per counting site (`sites`: loop -> site, count_sites(); each loop alone when None),
    hourly and per 15 min, of modelled against counted readings (same clock)."""
    result = GehResult()
    sites = sites or {}
    for period_s, rows in ((3600.0, result.hourly), (900.0, result.quarter)):
        c = _per_period(counted, from_s, to_s, period_s, sites)
        m = _per_period(modelled, from_s, to_s, period_s, sites)
        for (det, k), n_counted in sorted(c.items()):
            n_model = m.get((det, k), 0)
            if n_counted == 0 and n_model == 0:
                continue
            start = from_s + k * period_s
            length = min(period_s, to_s - start)
            scale = 3600.0 / length
            rows.append(GehRow(det, start, length, n_counted * scale, n_model * scale))
    return result

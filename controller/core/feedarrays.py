"""The in-process detector feed: one period of many junctions' loops as arrays, validated by
the rules of the JSON feed (core/feedrules.py): the rules on the frame's time and period once
for the frame, the loops' readings as arrays over every loop (a junction found breaking a rule
is then walked loop by loop for the JSON path's reason).

A `DetectorFrame` stands for one detector message per junction of its `FrameLayout`, all read
at the same time `t_s` over the same `period_s`: a junction whose reading breaks a rule is
refused with the reason the JSON message would have been refused for, and the others are kept.
Pure (numpy).

Example: `layout = FrameLayout.build({"J1": ("J1_N_stop", "J1_N_adv")})`, then each second
`frame = DetectorFrame(layout, t_s, 1.0, counts, occupancy, speed_mps)` and
`check = check_frame(frame, junctions, last_t_s, now_s, max_future_s, check_layout(layout, junctions))`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from controller.core import feedrules as rules
from controller.errors import FeedError
from controller.model import VEHICLE_CLASSES, DetectorReading, Intersection, Snapshot


@dataclass(frozen=True)
class FrameLayout:
    """Which loops a frame carries: the junctions in order, each with its loops (ids)."""

    junctions: tuple[str, ...]
    det_start: np.ndarray  # (junctions + 1,) first loop of each junction
    detectors: tuple[str, ...]

    @staticmethod
    def build(loops: Mapping[str, Sequence[str]]) -> FrameLayout:
        sizes = [len(ds) for ds in loops.values()]
        return FrameLayout(
            tuple(loops),
            np.concatenate(([0], np.cumsum(sizes, dtype=int))).astype(int),
            tuple(d for ds in loops.values() for d in ds),
        )


@dataclass(frozen=True)
class DetectorFrame:
    """One period of every loop of `layout`: counts by class (columns in VEHICLE_CLASSES order,
    vehicles that entered the loop in the period), occupancy (0..1) and mean speed (m/s, -1
    when none passed)."""

    layout: FrameLayout
    t_s: float
    period_s: float
    counts: np.ndarray  # (loops, classes) integers
    occupancy: np.ndarray  # (loops,)
    speed_mps: np.ndarray  # (loops,)


@dataclass(frozen=True)
class FrameCheck:
    """Which junctions of a frame are accepted (bool per junction of its layout), and why each
    refused one was refused."""

    accepted: np.ndarray
    refused: tuple[tuple[str, FeedError], ...]


def check_layout(layout: FrameLayout, junctions: Mapping[str, Intersection]) -> dict[int, FeedError]:
    """The refusals that hold for every frame of the layout (junction position -> error): an
    unknown junction, or a loop the junction does not have. Compute once per layout."""
    out: dict[int, FeedError] = {}
    for k, jid in enumerate(layout.junctions):
        junction = junctions.get(jid)
        if junction is None:
            out[k] = FeedError("unknown_junction", jid[:40])
            continue
        known = junction.detector_ids
        for did in layout.detectors[layout.det_start[k] : layout.det_start[k + 1]]:
            if did not in known:
                out[k] = FeedError("unknown_detector", str(did)[:60])
                break
    return out


def check_frame(
    frame: DetectorFrame,
    junctions: Mapping[str, Intersection],
    last_t_s: Mapping[str, float],
    now_s: float,
    max_future_s: float,
    static: Mapping[int, FeedError],
    present: np.ndarray | None = None,
) -> FrameCheck:
    """Each junction's reading in the frame checked as decode_detector_message checks a JSON
    message: known junction and loops (`static`, from check_layout), time, period, then each
    loop's counts, occupancy and speed (the first rule broken gives the reason). `present` (bool
    per junction, default all): the junctions the frame carries a reading of; the others are
    neither accepted nor refused."""
    layout = frame.layout
    n_j = len(layout.junctions)
    errors: dict[int, FeedError] = dict(static)
    for k, exc in _time_errors(frame, last_t_s, now_s, max_future_s).items():
        errors.setdefault(k, exc)
    if len(errors) < n_j:
        for k in _bad_junctions(frame):
            if k not in errors:
                errors[k] = _loop_error(frame, k)
    accepted = np.ones(n_j, dtype=bool) if present is None else present.copy()
    if present is not None:
        errors = {k: exc for k, exc in errors.items() if present[k]}
    accepted[list(errors)] = False
    return FrameCheck(accepted, tuple((layout.junctions[k], errors[k]) for k in sorted(errors)))


def _time_errors(
    frame: DetectorFrame, last_t_s: Mapping[str, float], now_s: float, max_future_s: float
) -> dict[int, FeedError]:
    """Per junction position, the first of the rules on t and period_s its reading breaks, in
    the order decode_detector_message checks them: t a number, not in the future, after the
    junction's last accepted t, then period_s. All but the third hold or fail for the whole
    frame (one t, one period), so they are checked once."""
    n_j = len(frame.layout.junctions)
    try:
        rules.check_number("t", frame.t_s)
        rules.check_time(frame.t_s, None, now_s, max_future_s)
    except FeedError as exc:
        return dict.fromkeys(range(n_j), exc)
    out: dict[int, FeedError] = {}
    t_s = frame.t_s
    for k, jid in enumerate(frame.layout.junctions):
        last = last_t_s.get(jid)
        if last is not None and t_s <= last:
            try:
                rules.check_time(t_s, last, now_s, max_future_s)
            except FeedError as exc:
                out[k] = exc
    try:
        rules.check_period(frame.period_s)
    except FeedError as exc:
        for k in range(n_j):
            out.setdefault(k, exc)
    return out


def _bad_junctions(frame: DetectorFrame) -> list[int]:
    """Junction positions with a loop reading outside the rules (vectorised screen)."""
    counts, occ, spd = frame.counts, frame.occupancy, frame.speed_mps
    starts = frame.layout.det_start
    if counts.dtype.kind not in "iu":  # every junction with a loop: its counts are not integers
        return [k for k in range(len(starts) - 1) if starts[k + 1] > starts[k]]
    lo_o, hi_o = rules.OCCUPANCY_RANGE
    lo_s, hi_s = rules.SPEED_RANGE_MPS
    top = rules.max_count(frame.period_s)
    ok = (occ >= lo_o) & (occ <= hi_o) & (spd >= lo_s) & (spd <= hi_s)
    # the counts loop by loop only when some count of the frame is out of range: two reductions
    # over the whole array screen it (most frames), a loop's row never needed
    if counts.size and not (counts.min() >= 0 and counts.max() <= top):
        ok &= ((counts >= 0) & (counts <= top)).all(axis=1)
    bad_loops = np.flatnonzero(~ok)
    if not len(bad_loops):
        return []
    return sorted({int(k) - 1 for k in np.searchsorted(starts, bad_loops, side="right")})


def _loop_error(frame: DetectorFrame, k: int) -> FeedError:
    """The first rule junction k's loops break, walking them in order as the JSON path does."""
    top = rules.max_count(frame.period_s)
    a, b = int(frame.layout.det_start[k]), int(frame.layout.det_start[k + 1])
    try:
        for i in range(a, b):
            did = frame.layout.detectors[i]
            for cls, n in zip(VEHICLE_CLASSES, frame.counts[i].tolist()):
                if n:
                    rules.check_count(did, cls, n, top)
            rules.check_occupancy(frame.occupancy[i].item())
            rules.check_speed(frame.speed_mps[i].item())
    except FeedError as exc:
        return exc
    return FeedError("wrong_type", f"junction {frame.layout.junctions[k][:40]}: counts must be integers")


def snapshot(frame: DetectorFrame, k: int) -> Snapshot:
    """Junction k's reading as the Snapshot the JSON path would have built (archive, and
    junctions whose estimate is updated one by one)."""
    layout = frame.layout
    a, b = int(layout.det_start[k]), int(layout.det_start[k + 1])
    readings = []
    for i in range(a, b):
        pairs = tuple(sorted((c, n) for c, n in zip(VEHICLE_CLASSES, frame.counts[i].tolist()) if n))
        readings.append(
            DetectorReading(layout.detectors[i], pairs, float(frame.occupancy[i]), float(frame.speed_mps[i]))
        )
    return Snapshot(layout.junctions[k], frame.t_s, frame.period_s, tuple(readings))


def counted_by_class(frame: DetectorFrame, accepted: np.ndarray, junction: str, vehicle_class: str) -> list[str]:
    """The loops of `junction` in the frame (if there and accepted) that counted a vehicle of `vehicle_class`."""
    lay = frame.layout
    if junction not in lay.junctions:
        return []
    k = lay.junctions.index(junction)
    if not accepted[k]:
        return []
    a, b = int(lay.det_start[k]), int(lay.det_start[k + 1])
    hit = np.nonzero(frame.counts[a:b, VEHICLE_CLASSES.index(vehicle_class)] > 0)[0]
    return [lay.detectors[a + i] for i in hit.tolist()]

"""Builders shared by the array-feed tests: two junctions' frame layout, frames with one bad value,
and the refusal reasons of the array path checked against the JSON path's."""

from __future__ import annotations

import numpy as np

from controller.core.feed import decode_detector_message
from controller.core.feedarrays import DetectorFrame, FrameLayout, check_frame, check_layout
from controller.core.messages import encode_detector_message
from controller.errors import FeedError
from controller.junctions import parse_intersection
from controller.model import VEHICLE_CLASSES
from tests.junction_fixtures import two_phase_raw


def frame_junctions():
    out = {}
    for jid in ("A", "B"):
        raw = two_phase_raw()
        raw["id"] = jid
        out[jid] = parse_intersection(raw, f"{jid}.toml")
    return out


JS = frame_junctions()


LAYOUT = FrameLayout.build({jid: [d.id for d in j.detectors] for jid, j in JS.items()})


N_LOOPS = len(LAYOUT.detectors)


def make_frame(
    t_s: float = 10.0, period_s: float = 1.0, counts=None, occ=None, spd=None, layout=LAYOUT
) -> DetectorFrame:
    n = len(layout.detectors)
    return DetectorFrame(
        layout,
        t_s,
        period_s,
        np.zeros((n, len(VEHICLE_CLASSES)), dtype=np.int64) if counts is None else counts,
        np.full(n, 0.2) if occ is None else occ,
        np.full(n, 5.0) if spd is None else spd,
    )


def json_reason(frame: DetectorFrame, k: int, last: dict, now_s: float) -> str | None:
    a, b = frame.layout.det_start[k], frame.layout.det_start[k + 1]
    dets = {
        frame.layout.detectors[i]: (
            {c: int(n) for c, n in zip(VEHICLE_CLASSES, frame.counts[i]) if n},
            float(frame.occupancy[i]),
            float(frame.speed_mps[i]),
        )
        for i in range(a, b)
    }
    payload = encode_detector_message(frame.layout.junctions[k], frame.t_s, frame.period_s, dets)
    try:
        decode_detector_message(payload, JS, last, now_s, 5.0)
    except FeedError as exc:
        return exc.reason
    return None


def refusal_reasons(frame: DetectorFrame, last: dict | None = None, now_s: float = 10.0) -> list[str | None]:
    last = last or {}
    check = check_frame(frame, JS, last, now_s, 5.0, check_layout(frame.layout, JS))
    refused = dict(check.refused)
    got = [refused[j].reason if j in refused else None for j in frame.layout.junctions]
    assert [not a for a in check.accepted] == [r is not None for r in got]
    if all(j in JS for j in frame.layout.junctions) and len(set(frame.layout.detectors)) == len(frame.layout.detectors):
        assert got == [json_reason(frame, k, last, now_s) for k in range(len(got))]  # the JSON path agrees
    return got


def bad_frame(column: str, value: float, loop: int = 9) -> DetectorFrame:
    f = make_frame()
    getattr(f, column)[loop] = value
    return f

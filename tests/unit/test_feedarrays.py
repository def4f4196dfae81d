"""The array feed refuses what the JSON feed refuses, for the same reason, junction by junction,
and what it accepts reads as the JSON path's snapshot (same estimator input, bit for bit)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from controller.config import Config
from controller.core import netestimate
from controller.core.estimation import Layout
from controller.core.feed import decode_detector_message
from controller.core.feedarrays import DetectorFrame, FrameLayout, check_frame, check_layout, snapshot
from controller.core.messages import encode_detector_message
from controller.errors import FeedError
from controller.junctions import parse_intersection
from controller.model import VEHICLE_CLASSES
from tests.junction_fixtures import two_phase_raw


def _junctions():
    out = {}
    for jid in ("A", "B"):
        raw = two_phase_raw()
        raw["id"] = jid
        out[jid] = parse_intersection(raw, f"{jid}.toml")
    return out


JS = _junctions()
LAYOUT = FrameLayout.build({jid: [d.id for d in j.detectors] for jid, j in JS.items()})
N_LOOPS = len(LAYOUT.detectors)


def _frame(t_s: float = 10.0, period_s: float = 1.0, counts=None, occ=None, spd=None, layout=LAYOUT) -> DetectorFrame:
    n = len(layout.detectors)
    return DetectorFrame(
        layout,
        t_s,
        period_s,
        np.zeros((n, len(VEHICLE_CLASSES)), dtype=np.int64) if counts is None else counts,
        np.full(n, 0.2) if occ is None else occ,
        np.full(n, 5.0) if spd is None else spd,
    )


def _json_reason(frame: DetectorFrame, k: int, last: dict, now_s: float) -> str | None:
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


def _reasons(frame: DetectorFrame, last: dict | None = None, now_s: float = 10.0) -> list[str | None]:
    last = last or {}
    check = check_frame(frame, JS, last, now_s, 5.0, check_layout(frame.layout, JS))
    refused = dict(check.refused)
    got = [refused[j].reason if j in refused else None for j in frame.layout.junctions]
    assert [not a for a in check.accepted] == [r is not None for r in got]
    if all(j in JS for j in frame.layout.junctions) and len(set(frame.layout.detectors)) == len(frame.layout.detectors):
        assert got == [_json_reason(frame, k, last, now_s) for k in range(len(got))]  # the JSON path agrees
    return got


def _bad(column: str, value: float, loop: int = 9) -> DetectorFrame:
    f = _frame()
    getattr(f, column)[loop] = value
    return f


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (_bad("occupancy", 1.5), "out_of_range"),
        (_bad("occupancy", math.nan), "not_finite"),
        (_bad("speed_mps", 200.0), "out_of_range"),
        (_bad("speed_mps", -math.inf), "not_finite"),
        (_bad("counts", -1), "negative_count"),
        (_bad("counts", 21), "implausible_count"),
    ],
)
def test_a_bad_loop_refuses_its_junction_only_for_the_json_reason(frame, reason):
    assert _reasons(frame) == [None, reason]  # loop 9 is B's


def test_time_and_period_rules_are_the_json_ones():
    assert _reasons(_frame(t_s=16.0)) == ["future_timestamp"] * 2
    assert _reasons(_frame(), last={"A": 10.0}) == ["stale_timestamp", None]
    assert _reasons(_frame(period_s=0.0)) == ["out_of_range"] * 2
    assert _reasons(_frame(t_s=math.nan)) == ["not_finite"] * 2


def test_unknown_junction_or_loop_is_refused():
    layout = FrameLayout.build({"A": ["N_stop", "bogus"], "Z": ["N_stop"], "B": ["N_stop"]})
    assert _reasons(_frame(layout=layout)) == ["unknown_detector", "unknown_junction", None]


def test_float_counts_are_refused_as_the_json_path_refuses_them():
    counts = np.zeros((N_LOOPS, len(VEHICLE_CLASSES)))
    counts[3, 0] = 1.5
    assert _reasons(_frame(counts=counts)) == ["wrong_type", "wrong_type"]


def test_accepted_frame_reads_as_the_json_snapshots_bit_for_bit():
    rng = random.Random(3)
    net = netestimate.NetworkLayout.build({jid: Layout.build(j, Config()) for jid, j in JS.items()})
    for t in range(1, 50):
        counts = np.array([[rng.choice((0, 0, 1, 2)) for _ in VEHICLE_CLASSES] for _ in range(N_LOOPS)])
        frame = _frame(
            float(t),
            1.0,
            counts,
            np.array([rng.random() for _ in range(N_LOOPS)]),
            np.array([rng.choice((-1.0, rng.uniform(0, 20))) for _ in range(N_LOOPS)]),
        )
        accepted = np.array([True, rng.random() < 0.5])
        snaps = {}
        for k, jid in enumerate(LAYOUT.junctions):
            a, b = LAYOUT.det_start[k], LAYOUT.det_start[k + 1]
            dets = {
                LAYOUT.detectors[i]: (
                    {c: int(n) for c, n in zip(VEHICLE_CLASSES, counts[i]) if n},
                    float(frame.occupancy[i]),
                    float(frame.speed_mps[i]),
                )
                for i in range(a, b)
            }
            decoded = decode_detector_message(encode_detector_message(jid, float(t), 1.0, dets), JS, {}, 100.0, 1.0)
            assert snapshot(frame, k) == decoded
            if accepted[k]:
                snaps[jid] = decoded
        a = netestimate.readings_from_frame(net, netestimate.FrameIndex.build(net, LAYOUT), frame, accepted)
        b = netestimate.readings_from_snapshots(net, snaps)
        for name in ("pcu", "veh", "occ", "spd", "seen"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert a.stop_counts == b.stop_counts and a.fresh == b.fresh

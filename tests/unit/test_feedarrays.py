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
from controller.core.feedarrays import FrameLayout, snapshot
from controller.core.messages import encode_detector_message
from controller.model import VEHICLE_CLASSES
from tests.frame_fixtures import JS, LAYOUT, N_LOOPS, bad_frame, make_frame, refusal_reasons


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (bad_frame("occupancy", 1.5), "out_of_range"),
        (bad_frame("occupancy", math.nan), "not_finite"),
        (bad_frame("speed_mps", 200.0), "out_of_range"),
        (bad_frame("speed_mps", -math.inf), "not_finite"),
        (bad_frame("counts", -1), "negative_count"),
        (bad_frame("counts", 21), "implausible_count"),
    ],
)
def test_a_bad_loop_refuses_its_junction_only_for_the_json_reason(frame, reason):
    assert refusal_reasons(frame) == [None, reason]  # loop 9 is B's


def test_time_and_period_rules_are_the_json_ones():
    assert refusal_reasons(make_frame(t_s=16.0)) == ["future_timestamp"] * 2
    assert refusal_reasons(make_frame(), last={"A": 10.0}) == ["stale_timestamp", None]
    assert refusal_reasons(make_frame(period_s=0.0)) == ["out_of_range"] * 2
    assert refusal_reasons(make_frame(t_s=math.nan)) == ["not_finite"] * 2


def test_unknown_junction_or_loop_is_refused():
    layout = FrameLayout.build({"A": ["N_stop", "bogus"], "Z": ["N_stop"], "B": ["N_stop"]})
    assert refusal_reasons(make_frame(layout=layout)) == ["unknown_detector", "unknown_junction", None]


def test_float_counts_are_refused_as_the_json_path_refuses_them():
    counts = np.zeros((N_LOOPS, len(VEHICLE_CLASSES)))
    counts[3, 0] = 1.5
    assert refusal_reasons(make_frame(counts=counts)) == ["wrong_type", "wrong_type"]


def test_accepted_frame_reads_as_the_json_snapshots_bit_for_bit():
    rng = random.Random(3)
    net = netestimate.NetworkLayout.build({jid: Layout.build(j, Config()) for jid, j in JS.items()})
    for t in range(1, 50):
        counts = np.array([[rng.choice((0, 0, 1, 2)) for _ in VEHICLE_CLASSES] for _ in range(N_LOOPS)])
        frame = make_frame(
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

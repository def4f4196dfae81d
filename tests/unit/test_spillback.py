"""Spill-back past the approach (controller/core/spillback.py), from the estimator's own feed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import EstimationParams, Layout
from controller.core.spillback import blocking_queue_pcu, upstream_queue_pcu
from tests.estimate_fixtures import Feed, N, reading


def test_no_queue_upstream_while_the_advance_loop_runs_free():
    f = Feed()
    for _ in range(30):  # red, a queue forms between the loops but never reaches the advance loop
        f.step(
            reading("N_adv", {"car": 1} if int(f.t) % 3 == 0 else {}, 0.2, 12.0),
            reading("N_stop", {}, 1.0, 0.0),
            green=1,
        )
    assert f.q() > 0
    assert upstream_queue_pcu(f.lay, f.est) == pytest.approx(0.0)


def test_the_queue_beyond_a_standing_advance_loop_is_the_upstream_part():
    f = Feed(cfg=Config(estimation=EstimationParams(flow_window_s=30.0)))
    f.spill_past_the_advance_loop()
    up = upstream_queue_pcu(f.lay, f.est)
    storage = float(f.lay.lane_storage_pcu[0])
    assert up[N] > 0 and up[N] == pytest.approx(f.q() - storage)
    assert up.sum() == pytest.approx(up[N])  # only the standing approach


def test_the_blocking_part_is_the_queue_beyond_the_room_upstream_of_the_advance_loop():
    """N's advance loop sits 20 m into its lane: the first 20 / 7.5 PCU past it stand on the
    approach's own link and hold no one else; a loop at the lane's start has no such room."""
    f = Feed(cfg=Config(estimation=EstimationParams(flow_window_s=30.0)))
    f.spill_past_the_advance_loop()
    lane = f.lay.lanes.index("eN_0")
    room = float(f.lay.lane_adv_room_pcu[lane])
    assert room == pytest.approx(20.0 / Config().detectors.vehicle_spacing_m)
    up = upstream_queue_pcu(f.lay, f.est)
    assert up[N] > room  # the spill reaches past the room
    blocking = blocking_queue_pcu(f.lay, f.est)
    assert blocking[N] == pytest.approx(up[N] - room)
    at_start = replace(f.lay, lane_adv_room_pcu=np.zeros_like(f.lay.lane_adv_room_pcu))
    assert blocking_queue_pcu(at_start, f.est) == pytest.approx(up)
    roomy = replace(f.lay, lane_adv_room_pcu=np.full_like(f.lay.lane_adv_room_pcu, up[N] + 1.0))
    assert blocking_queue_pcu(roomy, f.est) == pytest.approx(0.0 * up)


def test_a_spill_past_a_loop_on_a_network_entry_blocks_no_one():
    """An advance loop whose lane is fed only from the network's entry (Detector.at_entry): its
    room is unbounded, the queue past it waits to enter, and none of it stands across a junction."""
    f = Feed(cfg=Config(estimation=EstimationParams(flow_window_s=30.0)))
    f.spill_past_the_advance_loop()
    dets = tuple(replace(d, at_entry=d.id == "N_adv") for d in f.lay.junction.detectors)
    lay = Layout.build(replace(f.lay.junction, detectors=dets), Config(estimation=EstimationParams(flow_window_s=30.0)))
    assert np.isinf(lay.lane_adv_room_pcu[lay.lanes.index("eN_0")])
    assert upstream_queue_pcu(lay, f.est)[N] > 0
    assert blocking_queue_pcu(lay, f.est) == pytest.approx(0.0 * upstream_queue_pcu(lay, f.est))


def test_the_room_reads_the_approachs_own_road_past_the_loops_lane():
    """An advance loop with `room_m` (import-net: the road upstream of it that carries only the
    approach's traffic, back to the first merge): the room is that road, not the loop's position on
    its lane; the spill counts past the link's head only beyond it."""
    cfg = Config(estimation=EstimationParams(flow_window_s=30.0))
    f = Feed(cfg=cfg)
    f.spill_past_the_advance_loop()
    up = upstream_queue_pcu(f.lay, f.est)
    room_m = (up[N] - 1.0) * cfg.detectors.vehicle_spacing_m
    dets = tuple(replace(d, room_m=room_m) if d.id == "N_adv" else d for d in f.lay.junction.detectors)
    lay = Layout.build(replace(f.lay.junction, detectors=dets), cfg)
    assert lay.lane_adv_room_pcu[lay.lanes.index("eN_0")] == pytest.approx(up[N] - 1.0)
    assert blocking_queue_pcu(lay, f.est)[N] == pytest.approx(1.0)
    assert blocking_queue_pcu(f.lay, f.est)[N] == pytest.approx(up[N] - 20.0 / cfg.detectors.vehicle_spacing_m)

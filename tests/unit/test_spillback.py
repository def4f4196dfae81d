"""Spill-back past the approach (controller/core/spillback.py), from the estimator's own feed."""

from __future__ import annotations

import pytest

from controller.config import Config
from controller.core.estimation import EstimationParams
from controller.core.spillback import upstream_queue_pcu
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

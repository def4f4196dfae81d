"""metrics_group.group_figures: the figures of a group of junctions refreshed together equal,
to the last bits of a sum, each junction's own (metrics.py's formulas, junction by junction:
queue, approach_traffic, the fixed plan's service, the advance loops' spot speed), on the
bundled city's junction models and random estimates; a junction whose last refresh is missing
adds no traffic. saturation_ratio (read off the shadow when collected) equals the formula."""

from __future__ import annotations

import math
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest

from controller.adapters.metrics import _Junction, approach_traffic
from controller.adapters.metrics_group import GroupFigures, GroupStatics, group_figures, saturation_ratio
from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.junctions import load_intersections

CITY = Path(__file__).resolve().parents[2] / "intersections" / "city"


def _estimate(rng: np.random.Generator, lay: Layout) -> Estimate:
    est = Estimate.empty(lay, 0.0)
    n, nl = len(est.queue_pcu), len(est.lanes.hidden_pcu)
    lanes = replace(
        est.lanes,
        queue_pcu=rng.exponential(3.0, nl),
        hidden_pcu=rng.exponential(1.0, nl) * (rng.random(nl) < 0.3),
        adv_speed_mps=rng.uniform(0.0, 15.0, nl),
        dep_flow_pcu_h=rng.uniform(-10.0, 900.0, nl),
        flow_pcu_h=rng.uniform(0.0, 900.0, nl) * (rng.random(nl) < 0.9),
    )
    return replace(
        est,
        queue_pcu=rng.exponential(5.0, n),
        flow_pcu_h=rng.uniform(0.0, 1500.0, n),
        sat_flow_pcu_h=rng.uniform(1200.0, 2000.0, n),
        arrivals_pcu=rng.uniform(100.0, 200.0, n),
        departures_pcu=rng.uniform(50.0, 150.0, n),
        lanes=lanes,
    )


def _saturation(est: Estimate, share: np.ndarray) -> float:
    cap = np.clip(share, 1e-3, 1.0) * est.sat_flow_pcu_h
    return float(np.max(est.flow_pcu_h / np.maximum(cap, 1e-6))) if len(est.flow_pcu_h) else 0.0


def _one(j: _Junction, est: Estimate, last: np.ndarray | None, dt: float) -> list[float]:
    """metrics.py's per-junction formulas (before the group refresh)."""
    lanes = est.lanes
    if j.watched.any() and last is not None:
        w = j.watched
        counted = float(np.sum(lanes.queue_pcu[w] + lanes.hidden_pcu[w]))
        speed = j.mov_weights @ lanes.adv_speed_mps
        arrived = (est.arrivals_pcu - last) * j.mov_watched
        t = approach_traffic(arrived, j.mov_len_m, j.mov_zone_m, speed, counted, dt)
        traffic = [t.arrived_pcu, t.distance_pcu_m, t.time_pcu_s, t.delay_pcu_s]
    else:
        traffic = [0.0] * 4
    k = j.counted
    served = np.maximum(lanes.dep_flow_pcu_h[k], 0.0) / 3600.0
    q = np.maximum(np.maximum(lanes.flow_pcu_h[k], 0.0) / 3600.0, served)
    c = j.fixed_capacity_pcu_h[k] / 3600.0
    service = [float(x.sum()) * dt for x in (q, served, np.minimum(q, c), np.maximum(q - c, 0.0))]
    adv = j.adv_lanes
    flow, spd = lanes.flow_pcu_h[adv], lanes.adv_speed_mps[adv]
    wsum = float(flow.sum())
    speed_mps = math.nan if not adv.any() else (float(flow @ spd / wsum) if wsum > 0 else float(np.mean(spd)))
    return [float(np.sum(est.queue_pcu)), float(np.sum(est.departures_pcu)), *traffic, *service, speed_mps]


# GroupFigures' figures in the order _one gives them (speed_weight only weighs speed_mps)
FIELDS = tuple(f.name for f in fields(GroupFigures) if f.name != "speed_weight")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_group_figures_equal_each_junctions_own(seed: int) -> None:
    rng = np.random.default_rng(seed)
    junctions = [_Junction(Layout.build(j, Config())) for j in load_intersections(CITY).values()]
    for size in (1, 4, len(junctions)):
        group = [junctions[i] for i in rng.choice(len(junctions), size, replace=False)]
        ests = [_estimate(rng, j.layout) for j in group]
        shares = [rng.uniform(0.0, 1.0, len(e.queue_pcu)) for e in ests]
        lasts = [e.arrivals_pcu - rng.uniform(0.0, 5.0, len(e.arrivals_pcu)) for e in ests]
        valid = rng.random(size) < 0.8
        dts = rng.uniform(0.0, 10.0, size)
        fig = group_figures(
            GroupStatics.build(group),
            ests,
            [last if ok else e.arrivals_pcu for last, ok, e in zip(lasts, valid, ests)],
            valid,
            dts,
        )
        for i, j in enumerate(group):
            want = _one(j, ests[i], lasts[i] if valid[i] else None, float(dts[i]))
            got = [float(getattr(fig, name)[i]) for name in FIELDS]
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9, err_msg=j.layout.junction.id)
            if not valid[i]:
                assert got[2:6] == [0.0, 0.0, 0.0, 0.0]
            e = ests[i]
            assert saturation_ratio(e.flow_pcu_h, e.sat_flow_pcu_h, shares[i]) == _saturation(e, shares[i])


def test_saturation_ratio_is_nan_if_a_movement_is_and_0_without_movements() -> None:
    flow, sat = np.array([100.0, np.nan, 900.0]), np.array([1800.0, 1800.0, 1800.0])
    with np.errstate(invalid="ignore"):
        assert math.isnan(saturation_ratio(flow, sat, np.full(3, 0.5)))
    assert saturation_ratio(flow[[0, 2]], sat[[0, 2]], np.array([0.5, 0.0])) == 900.0 / (1e-3 * 1800.0)
    assert saturation_ratio(np.zeros(0), np.zeros(0), np.zeros(0)) == 0.0

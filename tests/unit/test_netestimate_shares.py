"""The lanes -> movements shares over the whole network (estimation.LaneMaps, movement_arrays)
give, bit for bit, each junction's own estimate (estimation.update), on the bundled city's
junction models (movements over one to three lanes and more, lanes shared by two movements), over
random feeds with faults and missing loops; and the sparse sums are the junction's matrix
products up to the summation order."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from controller.config import Config
from controller.core import netestimate
from controller.core.estimation import Estimate, Layout
from controller.junctions import load_intersections
from controller.model import Snapshot
from tests.estimate_fixtures import fold_both_ways, random_snapshot

CITY = Path(__file__).resolve().parents[2] / "intersections" / "city"


def test_network_shares_equal_junction_by_junction_on_the_city() -> None:
    rng = random.Random(11)
    js = load_intersections(CITY)
    layouts = {jid: Layout.build(j, Config()) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None
    assert max(int(lay.lane_uses.sum(axis=1).max()) for lay in layouts.values()) >= 3
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    got = dict(ref)
    for tick in range(1, 120):
        snaps: dict[str, list[Snapshot]] = {jid: [random_snapshot(rng, j, float(tick))] for jid, j in js.items()}
        greens = {jid: rng.choice((None, *range(len(j.phases)))) for jid, j in js.items()}
        got = fold_both_ways(net, layouts, ref, got, snaps, greens)
    assert any(e.queue_pcu.sum() > 0 for e in got.values())


def test_sparse_sums_are_the_matrix_products_up_to_the_summation_order() -> None:
    """LaneMaps.shared / summed against lane_share @ x and lane_uses @ x: equal within a few ulps
    (the matrix product sums in BLAS's order, the sparse sums lane by lane), exactly equal where
    every movement has at most two lanes with power-of-two shares."""
    rng = np.random.default_rng(5)
    js = load_intersections(CITY)
    exact_seen = other_seen = 0
    for j in js.values():
        lay = Layout.build(j, Config())
        two = bool((lay.lane_uses.sum(axis=1) <= 2).all())
        powers = bool(np.isin(lay.lane_share[lay.lane_share > 0], (1.0, 0.5, 0.25)).all())
        exact = two and powers
        for _ in range(20):
            x = rng.random(len(lay.lanes)) * 10.0 ** rng.integers(-3, 4)
            dense, sparse = lay.lane_share @ x, lay.maps.shared(x)
            np.testing.assert_allclose(sparse, dense, rtol=1e-14, atol=0.0)
            np.testing.assert_allclose(lay.maps.summed(x), lay.lane_uses.astype(float) @ x, rtol=1e-14, atol=0.0)
            assert not exact or np.array_equal(sparse, dense), j.id
        exact_seen += exact
        other_seen += not exact
    assert exact_seen and other_seen  # both kinds of junction on the city

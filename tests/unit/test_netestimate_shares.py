"""netestimate.MovementShares: the lanes -> movements products over the whole network give, bit
for bit, each junction's own matrix products, on the bundled city's junction models (movements
over one to three lanes and more, lanes shared by two movements): the junctions whose shares allow it go
through the network sums, the others through estimation._to_movements, and every estimate
equals estimation.update's, junction by junction, over random feeds with faults and missing
loops."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from controller.config import Config
from controller.core import netestimate
from controller.core.estimation import Estimate, Layout
from controller.junctions import load_intersections
from controller.model import Snapshot
from tests.unit.test_netestimate import _snapshot, fold_both_ways

CITY = Path(__file__).resolve().parents[2] / "intersections" / "city"


def test_network_shares_equal_junction_products_on_the_city() -> None:
    rng = random.Random(11)
    js = load_intersections(CITY)
    layouts = {jid: Layout.build(j, Config()) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None
    exact = net.shares.exact
    assert exact.any() and not exact.all()  # both paths are exercised
    assert max(int(lay.lane_uses.sum(axis=1).max()) for lay in layouts.values()) >= 3
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    got = dict(ref)
    for tick in range(1, 120):
        snaps: dict[str, list[Snapshot]] = {jid: [_snapshot(rng, j, float(tick))] for jid, j in js.items()}
        greens = {jid: rng.choice((None, *range(len(j.phases)))) for jid, j in js.items()}
        got = fold_both_ways(net, layouts, ref, got, snaps, greens)
    assert any(e.queue_pcu.sum() > 0 for e in got.values())


def test_exact_only_where_any_summation_order_gives_the_same_floats() -> None:
    """A movement over three lanes, or with a share of 1/3, keeps its junction's own product."""
    js = load_intersections(CITY)
    layouts = [Layout.build(j, Config()) for j in js.values()]
    net = netestimate.network_layout({lay.junction.id: lay for lay in layouts})
    assert net is not None
    for lay, ok in zip(net.layouts, net.shares.exact):
        lanes_per_movement = lay.lane_uses.sum(axis=1)
        values = lay.lane_share[lay.lane_share > 0]
        expected = bool((lanes_per_movement <= 2).all() and np.isin(values, (1.0, 0.5, 0.25, 0.125)).all())
        assert ok == expected, lay.junction.id

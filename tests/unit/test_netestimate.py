"""netestimate: all junctions in one pass give, bit for bit, the estimates of estimation.update
junction by junction (random feeds with faults, missing loops, lanes borrowing, junctions
without loops, zero or two messages in a tick)."""

from __future__ import annotations

import random

import pytest

from controller.config import Config
from controller.core import estimation, netestimate
from controller.core.estimation import Estimate, Layout
from controller.model import Snapshot
from tests.estimate_fixtures import fold_both_ways, mixed_junctions, random_snapshot


def test_one_pass_over_all_junctions_equals_junction_by_junction():
    rng = random.Random(7)
    js = mixed_junctions()
    layouts = {jid: Layout.build(j, Config()) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None and set(net.jids) == {"A", "B", "C", "D"}  # E has no loop
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    got = dict(ref)
    for tick in range(1, 400):
        snaps: dict[str, list[Snapshot]] = {}
        for jid, j in js.items():
            n = rng.choice((0, 1, 1, 1, 1, 2))
            snaps[jid] = [random_snapshot(rng, j, tick - 0.5 + 0.5 * k) for k in range(n)]
        greens = {jid: rng.choice((None, 0, 1)) for jid in js}
        got = fold_both_ways(net, layouts, ref, got, snaps, greens)
    assert any(e.health.faulty.any() for e in got.values())  # the feed did exercise the faults
    assert got["C"].lanes.queue_pcu[1] > 0 or got["C"].lanes.flow_pcu_h[1] > 0  # and the borrowing


def test_network_layout_refuses_junctions_without_loops_or_with_other_parameters():
    js = mixed_junctions()
    with pytest.raises(ValueError, match="at least one loop"):
        netestimate.NetworkLayout.build({"E": Layout.build(js["E"], Config())})
    other = Config(estimation=estimation.EstimationParams(flow_window_s=60.0))
    with pytest.raises(ValueError, match="sharing estimation parameters"):
        netestimate.NetworkLayout.build({"A": Layout.build(js["A"], Config()), "B": Layout.build(js["B"], other)})


def test_counts_pcu_weighs_each_class_sums_in_the_message_order_and_weighs_an_unnamed_class_as_a_car():
    """estimation.counts_pcu, the one PCU sum of a loop's counts that the junction's read and the network's share."""
    assert estimation.counts_pcu((("car", 3), ("bus", 1)), {"car": 1.0, "bus": 2.0}) == 5.0
    assert estimation.counts_pcu((("tram", 2),), {"car": 1.0}) == 2.0
    weights = {"a": 0.1, "b": 0.2, "c": 0.3}
    assert estimation.counts_pcu((("a", 1), ("b", 1), ("c", 1)), weights) == (0.1 + 0.2) + 0.3
    assert estimation.counts_pcu((("c", 1), ("b", 1), ("a", 1)), weights) == (0.3 + 0.2) + 0.1

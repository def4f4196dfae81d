"""netestimate.StateCache: update_all going on from the last tick's network arrays gives, bit for
bit, what concatenating every junction's lanes and loops again gives (ticks where every junction
sends one message, where one is silent or sends two, and where lanes borrow: the borrowing runs
over the network arrays too, so a lane borrowed into does not defeat the memo)."""

from __future__ import annotations

import random

from controller.config import Config
from controller.core import netestimate
from controller.core.estimation import Estimate, Layout
from controller.model import Snapshot
from tests.estimate_fixtures import assert_same_estimate, mixed_junctions, random_snapshot


def test_going_on_from_the_cached_network_arrays_equals_concatenating_them_again():
    rng = random.Random(3)
    js = {jid: j for jid, j in mixed_junctions().items() if jid in ("A", "B", "D")}
    layouts = {jid: Layout.build(j, Config()) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None
    cache = netestimate.StateCache()
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    got = dict(ref)
    hits = queue_hits = blind = 0
    for tick in range(1, 300):
        snaps: dict[str, list[Snapshot]] = {}
        for jid, j in js.items():
            n = rng.choice((0, 2)) if tick % 17 == 0 else 1
            snaps[jid] = [random_snapshot(rng, j, tick - 0.5 + 0.5 * k) for k in range(n)]
        greens = {jid: rng.choice((None, 0, 1)) for jid in js}
        hits += cache.field([got[j] for j in net.jids], "lanes", "green_s") is not None
        queue_hits += cache.field([got[j] for j in net.jids], "lanes", "queue_pcu") is not None
        ref = netestimate.fold(net, layouts, ref, snaps, greens)
        got = netestimate.fold(net, layouts, got, snaps, greens, cache=cache)
        for jid in js:
            assert_same_estimate(got[jid], ref[jid])
        blind += any(e.blind.any() for e in got.values())
    assert 50 < hits < 298  # the memo served some ticks, and some went without it
    assert queue_hits == hits  # a lane borrowed into keeps the network array too
    assert blind > hits // 2  # lanes without a working loop (borrowing) on many of those ticks

"""An EstimateCut's lanes are made when first read (netestimate._lanes_of), the same LaneState the fold
cut before; netestimate.lanes_of hands the network passes every junction's lanes as the fold's network
LaneState (a cuts.Fields that knows its source) without making one, only for the EstimateCuts of one
fold, all and in its order; anything else gets each estimate's own lanes."""

from __future__ import annotations

import random

import numpy as np
import pytest

from controller.config import Config
from controller.core import estimation, netestimate
from controller.core.cuts import Fields, Joined, joined_source
from controller.core.estimation import Estimate, Layout
from controller.model import Snapshot
from tests.estimate_fixtures import mixed_junctions, random_snapshot


def _fold(ticks: int) -> tuple[netestimate.NetworkLayout, dict[str, Estimate]]:
    rng = random.Random(5)
    js = {jid: j for jid, j in mixed_junctions().items() if jid in ("A", "B", "D")}
    layouts = {jid: Layout.build(j, Config()) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None
    est = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    for tick in range(1, ticks + 1):
        snaps: dict[str, list[Snapshot]] = {jid: [random_snapshot(rng, j, tick - 0.5)] for jid, j in js.items()}
        est = netestimate.fold(net, layouts, est, snaps, {jid: rng.choice((None, 0, 1)) for jid in js})
    return net, est


def test_a_fold_s_lanes_are_made_when_read_as_the_cut_of_the_network_lanes():
    net, est = _fold(5)
    ests = [est[j] for j in net.jids]
    tick = ests[0].__dict__["_tick"]
    for k, e in enumerate(ests):
        assert "lanes" not in e.__dict__  # not made by the fold
        lanes = e.lanes
        assert isinstance(lanes, estimation.LaneCut) and e.lanes is lanes  # made once, then kept
        at = tick.slices[k][0]
        for f in ("queue_pcu", "hidden_pcu", "green_s", "stop_empty_s"):
            assert np.array_equal(getattr(lanes, f), getattr(tick.lanes, f)[at])
        assert np.array_equal(lanes.adv_recent_pcu, tick.lanes.adv_recent_pcu[:, at])


def test_lanes_of_one_fold_in_order_knows_the_source_without_making_a_junction_s_lanes():
    net, est = _fold(4)
    ests = [est[j] for j in net.jids]
    got = netestimate.lanes_of(ests)
    assert isinstance(got, Fields) and len(got) == len(ests)
    assert not any("lanes" in e.__dict__ for e in ests)
    tick = ests[0].__dict__["_tick"]
    assert joined_source(got) == (tick.lanes, tick.slices[-1][0].stop)
    assert Joined(got)("hidden_pcu") is tick.lanes.hidden_pcu
    assert not any("lanes" in e.__dict__ for e in ests)
    # read one by one, they are each estimate's lanes, and joined they give the source's arrays
    assert [x is e.lanes for x, e in zip(got, ests)] == [True] * len(ests)
    assert np.array_equal(np.concatenate([x.queue_pcu for x in got]), tick.lanes.queue_pcu)


@pytest.mark.parametrize(("read", "field"), [(netestimate.lanes_of, "lanes"), (netestimate.healths_of, "health")])
def test_anything_else_reads_each_estimate_s_own_record(read, field):
    """lanes_of and its twin healths_of, given records that are not one fold's in order, read each record's
    own lanes / health."""
    net, est = _fold(3)
    ests = [est[j] for j in net.jids]
    older = _fold(2)[1]
    cases = {
        "reversed": ests[::-1],
        "a part": ests[:-1],
        "one of another fold": [older[net.jids[0]], *ests[1:]],
        "a plain Estimate": [Estimate.empty(Layout.build(mixed_junctions()["A"], Config()), 0.0), *ests[1:]],
    }
    for name, records in cases.items():
        got = read(records)
        assert not isinstance(got, Fields), name
        assert [x is getattr(e, field) for x, e in zip(got, records)] == [True] * len(records), name


def test_lanes_of_sliced_gives_each_estimate_s_lanes_of_the_slice():
    """A cuts.Fields is a Sequence: a slice of it is the slice's records' lanes, in order (R, session 54: a slice
    answered by an empty list passed the tests)."""
    net, est = _fold(3)
    ests = [est[j] for j in net.jids]
    got = netestimate.lanes_of(ests)
    assert isinstance(got, Fields)
    part = got[1:]
    assert len(part) == len(ests) - 1 and all(x is e.lanes for x, e in zip(part, ests[1:]))
    assert len(got[::-1]) == len(ests) and got[::-1][0] is ests[-1].lanes


def test_healths_of_one_fold_in_order_knows_the_source_without_making_a_junction_s_health():
    """netestimate.healths_of, lanes_of's twin for the loops' health (max_pressure_net's yield_block_s pass reads
    the network's on_s through it): the fold's network DetectorHealth, no junction's HealthCut made."""
    net, est = _fold(4)
    ests = [est[j] for j in net.jids]
    got = netestimate.healths_of(ests)
    assert isinstance(got, Fields) and len(got) == len(ests)
    tick = ests[0].__dict__["_tick"]
    assert joined_source(got) == (tick.health, tick.slices[-1][1].stop)
    assert Joined(got)("on_s") is tick.health.on_s
    assert not any("health" in e.__dict__ for e in ests)
    assert [x is e.health for x, e in zip(got, ests)] == [True] * len(ests)
    assert np.array_equal(np.concatenate([x.on_s for x in got]), tick.health.on_s)

"""netestimate: an Estimate's loop health and its vehicles over the stop lines are made when first
read, from the tick's network record (netestimate._Tick, Crossed), not in the tick. Read at once
or read many ticks later, they are, bit for bit and type for type, what estimation.update gives
junction by junction: through a silent junction and an estimate begun again (the memo begun again), a class named with a
count of 0 (into a tuple without it), a class outside VEHICLE_CLASSES (the sums kept by record that tick), a tuple begun
in its own order (Estimate.empty's, not sorted: kept as it is until a class is named), and the
frame feed's path. The tick itself makes neither field."""

from __future__ import annotations

import random
from dataclasses import fields, replace

import numpy as np
import pytest

from controller.config import Config
from controller.core import estimation, netestimate
from controller.core.estimation import Estimate, Layout
from controller.core.feedarrays import DetectorFrame, FrameLayout
from controller.model import VEHICLE_CLASSES, DetectorReading, Intersection, Snapshot
from tests.estimate_fixtures import assert_same_estimate, mixed_junctions, random_reading


def _network() -> tuple[dict[str, Intersection], dict[str, Layout], netestimate.NetworkLayout]:
    js = {jid: j for jid, j in mixed_junctions().items() if jid in ("A", "B", "D")}
    layouts = {jid: Layout.build(j, Config()) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None
    return js, layouts, net


def _reading(rng: random.Random, det: str, tick: int) -> DetectorReading:
    rd = random_reading(rng, det)
    if rng.random() < 0.1:  # a class named with a count of 0 (it enters the tuple as 0)
        rd = rd._replace(counts=(*rd.counts, (rng.choice(VEHICLE_CLASSES), 0)))
    if tick % 61 == 0 and rng.random() < 0.5:  # a class the estimator has no column for
        rd = rd._replace(counts=(*rd.counts, ("tram", 1)))
    return rd


def _quiet(rd: DetectorReading, jid: str, tick: int, rng: random.Random) -> DetectorReading:
    """For their first 40 ticks D counts nothing (its tuple stays Estimate.empty's, in its own
    order) and B (whose tuple begins empty) only names classes with a count of 0."""
    if jid == "D" and tick <= 40:
        return rd._replace(counts=())
    if jid == "B" and tick <= 40:
        return rd._replace(counts=((rng.choice(VEHICLE_CLASSES), 0),) if rng.random() < 0.2 else ())
    return rd


def _snapshots(rng: random.Random, js: dict[str, Intersection], tick: int) -> dict[str, list[Snapshot]]:
    snaps: dict[str, list[Snapshot]] = {}
    for jid, j in js.items():
        n = rng.choice((0, 2)) if tick % 17 == 0 else 1  # now and then silent, or two messages
        snaps[jid] = [
            Snapshot(
                jid,
                tick - 0.5 + 0.5 * k,
                1.0,
                tuple(_quiet(_reading(rng, d.id, tick), jid, tick, rng) for d in j.detectors),
            )
            for k in range(n)
        ]
    return snaps


def _same_sums(a: tuple[tuple[str, int], ...], b: tuple[tuple[str, int], ...]) -> None:
    assert a == b
    assert [type(n) for _, n in a] == [type(n) for _, n in b]


def test_fields_read_late_equal_the_junction_by_junction_update() -> None:
    rng = random.Random(5)
    js, layouts, net = _network()
    cache = netestimate.StateCache()
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    ref["B"] = replace(ref["B"], crossed_by_class=())  # a class named with 0 enters its tuple
    got = dict(ref)
    kept: list[tuple[dict[str, Estimate], dict[str, Estimate]]] = []
    known = unsorted = other = 0
    for tick in range(1, 400):
        snaps = _snapshots(rng, js, tick)
        greens = {jid: rng.choice((None, 0, 1)) for jid in js}
        if tick == 100:  # A's estimate begun again (a restore): not the record the memo made
            ref["A"] = got["A"] = Estimate.empty(layouts["A"], tick - 1.0)
        known += cache.known([got[j] for j in net.jids]) is not None
        for jid, seq in snaps.items():
            for s in seq:
                ref[jid] = estimation.update(layouts[jid], ref[jid], s, greens[jid])
        got = netestimate.fold(net, layouts, got, snaps, greens, cache=cache)
        other += any(c == "tram" for e in ref.values() for c, _ in e.crossed_by_class)
        if tick % 17:  # one message each: the tick made neither field (two update_all in a tick may read the first's)
            for e in got.values():
                assert "health" not in e.__dict__
                assert "crossed_by_class" not in e.__dict__ or e.__dict__["_tick"].crossed is None
        unsorted += any(list(e.crossed_by_class) != sorted(e.crossed_by_class) for e in ref.values())
        kept.append((dict(ref), dict(got)))
    assert known > 200  # the network's record went on from tick to tick
    assert unsorted > 0 and other > 0
    for ref_t, got_t in kept:  # read only now, hundreds of ticks later
        for jid in js:
            assert_same_estimate(got_t[jid], ref_t[jid])
            _same_sums(got_t[jid].crossed_by_class, ref_t[jid].crossed_by_class)


def test_a_frame_feeds_the_same_sums() -> None:
    rng = random.Random(8)
    js, layouts, net = _network()
    fl = FrameLayout.build({jid: [d.id for d in j.detectors] for jid, j in js.items()})
    index = netestimate.FrameIndex.build(net, fl)
    cache = netestimate.StateCache()
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    got = dict(ref)
    kept = []
    for tick in range(1, 200):
        n = len(fl.detectors)
        counts = np.array([[rng.choice((0, 0, 0, 1, 2)) for _ in VEHICLE_CLASSES] for _ in range(n)], dtype=np.int64)
        occ, spd = np.array([rng.random() for _ in range(n)]), np.full(n, 4.0)
        frame = DetectorFrame(fl, float(tick), 1.0, counts, occ, spd)
        accepted = np.array([rng.random() > 0.05 for _ in fl.junctions])
        greens = {jid: rng.choice((None, 0, 1)) for jid in js}
        r = netestimate.readings_from_frame(net, index, frame, accepted)
        for k, jid in enumerate(fl.junctions):
            if accepted[k]:
                a, b = fl.det_start[k], fl.det_start[k + 1]
                readings = tuple(
                    DetectorReading(
                        fl.detectors[i],
                        tuple(sorted((c, int(x)) for c, x in zip(VEHICLE_CLASSES, counts[i]) if x)),
                        float(occ[i]),
                        float(spd[i]),
                    )
                    for i in range(a, b)
                )
                ref[jid] = estimation.update(
                    layouts[jid], ref[jid], Snapshot(jid, float(tick), 1.0, readings), greens[jid]
                )
        got = netestimate.fold(net, layouts, got, {}, greens, [(r, 1.0)], cache)
        kept.append((dict(ref), dict(got)))
    for ref_t, got_t in kept:
        for jid in js:
            assert_same_estimate(got_t[jid], ref_t[jid])
            _same_sums(got_t[jid].crossed_by_class, ref_t[jid].crossed_by_class)


def test_the_readings_stop_counts_name_what_they_counted() -> None:
    _js, _layouts, net = _network()
    a_stop = next(d.id for d in net.layouts[0].junction.detectors if d.kind == "stop")
    snap = Snapshot("A", 1.0, 1.0, (DetectorReading(a_stop, (("bus", 0), ("car", 2), ("tram", 1)), 0.1, 3.0),))
    r = netestimate.readings_from_snapshots(net, {"A": snap})
    assert r.stop_counts == {0: {"bus": 0, "car": 2, "tram": 1}}
    assert r.stop_other == {0: {"tram": 1}}


def test_a_cut_without_its_tick_has_no_such_field() -> None:
    _js, layouts, _net = _network()
    e = Estimate.empty(layouts["A"], 0.0)
    src = estimation.MovementArrays(**{f.name: getattr(e, f.name) for f in fields(estimation.MovementArrays)})
    cut = netestimate.cut_at(netestimate.EstimateCut, src, slice(0, len(e.queue_pcu)), {"t_s": 0.0})
    with pytest.raises(AttributeError):
        _ = cut.health
    with pytest.raises(AttributeError):
        _ = cut.crossed_by_class

"""netestimate: all junctions in one pass give, bit for bit, the estimates of estimation.update
junction by junction (random feeds with faults, missing loops, lanes borrowing, junctions
without loops, zero or two messages in a tick)."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core import estimation, netestimate
from controller.core.estimation import Estimate, Layout
from controller.junctions import parse_intersection
from controller.model import VEHICLE_CLASSES, DetectorReading, Intersection, Snapshot
from tests.junction_fixtures import two_lane_north_raw, two_phase, two_phase_raw


def _named(jid: str, raw: dict) -> Intersection:
    raw["id"] = jid
    return parse_intersection(raw, f"{jid}.toml")


def _two_lane(jid: str, own_movement: bool) -> Intersection:
    return _named(jid, two_lane_north_raw("N_L" if own_movement else "N_T"))


def _junctions() -> dict[str, Intersection]:
    no_adv = two_phase_raw()
    no_adv["detectors"] = [d for d in no_adv["detectors"] if d["id"] not in ("N_adv", "E_stop")]
    js = [
        _named("A", two_phase_raw()),
        _named("B", no_adv),
        _two_lane("C", False),
        _two_lane("D", True),
        replace(two_phase(), id="E", detectors=()),
    ]
    return {j.id: j for j in js}


def _reading(rng: random.Random, det: str) -> DetectorReading:
    kind = rng.random()
    if kind < 0.05:  # stuck on
        return DetectorReading(det, (), 1.0, 0.0)
    if kind < 0.08:  # implausible
        return DetectorReading(det, (("car", 9),), 0.5, 5.0)
    counts = {c: rng.choice((0, 0, 0, 1, 2)) for c in rng.sample(VEHICLE_CLASSES, 2)}
    pairs = tuple(sorted((c, n) for c, n in counts.items() if n))
    occ = rng.choice((0.0, rng.random(), 1.0))
    return DetectorReading(det, pairs, occ, rng.choice((-1.0, rng.uniform(0.0, 15.0))))


def _snapshot(rng: random.Random, j: Intersection, t_s: float) -> Snapshot:
    dets = [d.id for d in j.detectors if rng.random() > 0.03]  # now and then a loop is missing
    return Snapshot(j.id, t_s, 1.0, tuple(_reading(rng, d) for d in dets))


def _same(a: Estimate, b: Estimate) -> None:
    for f in dataclasses.fields(Estimate):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, (estimation.LaneState, estimation.DetectorHealth)):
            for g in dataclasses.fields(x):
                assert np.array_equal(getattr(x, g.name), getattr(y, g.name)), (f.name, g.name)
        elif isinstance(x, np.ndarray):
            assert np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def fold_both_ways(
    net: netestimate.NetworkLayout,
    layouts: dict[str, Layout],
    ref: dict[str, Estimate],
    got: dict[str, Estimate],
    snaps: dict[str, list[Snapshot]],
    greens: dict[str, int | None],
) -> dict[str, Estimate]:
    """One tick both ways: `ref` updated in place junction by junction (estimation.update), `got`
    folded over the network (netestimate.fold) and returned; every junction's two estimates are
    asserted equal, bit for bit."""
    for jid, seq in snaps.items():
        for s in seq:
            ref[jid] = estimation.update(layouts[jid], ref[jid], s, greens[jid])
    got = netestimate.fold(net, layouts, got, snaps, greens)
    for jid in ref:
        _same(got[jid], ref[jid])
    return got


def test_one_pass_over_all_junctions_equals_junction_by_junction():
    rng = random.Random(7)
    js = _junctions()
    layouts = {jid: Layout.build(j, Config()) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None and set(net.jids) == {"A", "B", "C", "D"}  # E has no loop
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    got = dict(ref)
    for tick in range(1, 400):
        snaps: dict[str, list[Snapshot]] = {}
        for jid, j in js.items():
            n = rng.choice((0, 1, 1, 1, 1, 2))
            snaps[jid] = [_snapshot(rng, j, tick - 0.5 + 0.5 * k) for k in range(n)]
        greens = {jid: rng.choice((None, 0, 1)) for jid in js}
        got = fold_both_ways(net, layouts, ref, got, snaps, greens)
    assert any(e.health.faulty.any() for e in got.values())  # the feed did exercise the faults
    assert got["C"].lanes.queue_pcu[1] > 0 or got["C"].lanes.flow_pcu_h[1] > 0  # and the borrowing


def test_network_layout_refuses_junctions_without_loops_or_with_other_parameters():
    js = _junctions()
    with pytest.raises(ValueError, match="at least one loop"):
        netestimate.NetworkLayout.build({"E": Layout.build(js["E"], Config())})
    other = Config(estimation=estimation.EstimationParams(flow_window_s=60.0))
    with pytest.raises(ValueError, match="sharing estimation parameters"):
        netestimate.NetworkLayout.build({"A": Layout.build(js["A"], Config()), "B": Layout.build(js["B"], other)})

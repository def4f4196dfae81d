"""A frame carrying the network's loops in its order, every junction accepted (the in-process
feed), is read by copying its arrays whole: the same NetworkReadings, bit for bit and dtype for
dtype, as the scatter of the general path; the stop-line counts by running sums equal
np.add.at's."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core import netestimate
from controller.core.estimation import Layout
from controller.core.feedarrays import DetectorFrame, FrameLayout
from controller.junctions import parse_intersection
from controller.model import VEHICLE_CLASSES
from tests.junction_fixtures import two_lane_north_raw, two_phase_raw


def _junctions():
    out = {}
    for jid, raw in (("A", two_phase_raw()), ("B", two_lane_north_raw("N_L")), ("C", two_phase_raw())):
        raw["id"] = jid
        out[jid] = parse_intersection(raw, f"{jid}.toml")
    return out


JS = _junctions()
NET = netestimate.NetworkLayout.build({jid: Layout.build(j, Config()) for jid, j in JS.items()})


def _layout(order: tuple[str, ...], extra: bool = False) -> FrameLayout:
    loops = {jid: [d.id for d in JS[jid].detectors] for jid in order}
    if extra:  # a loop the network does not know, on the first junction
        loops[order[0]] = [*loops[order[0]], "unknown_loop"]
    return FrameLayout.build(loops)


def _frame(rng: random.Random, layout: FrameLayout, t_s: float) -> DetectorFrame:
    n = len(layout.detectors)
    counts = np.array([[rng.choice((0, 0, 0, 1, 2, 3)) for _ in VEHICLE_CLASSES] for _ in range(n)], dtype=np.int64)
    occ = np.array([rng.choice((0.0, rng.random(), 1.0)) for _ in range(n)])
    spd = np.array([rng.choice((-1.0, rng.uniform(0, 20))) for _ in range(n)])
    return DetectorFrame(layout, t_s, 1.0, counts, occ, spd)


def _np_add_at_stop_counts(index: netestimate.FrameIndex, frame: DetectorFrame, accepted: np.ndarray) -> dict:
    """The stop-line counts as the earlier code summed them (np.add.at)."""
    take = accepted[index.loop_junction] & (index.net_loop >= 0)
    by_junction = np.zeros((len(frame.layout.junctions), len(VEHICLE_CLASSES)), dtype=np.int64)
    stop = take & index.is_stop
    np.add.at(by_junction, index.loop_junction[stop], frame.counts[stop])
    return {
        int(index.net_junction[k]): {c: int(x) for c, x in zip(VEHICLE_CLASSES, row) if x}
        for k, row in enumerate(by_junction.tolist())
        if any(row)
    }


def _same(a: netestimate.NetworkReadings, b: netestimate.NetworkReadings) -> None:
    for name in ("pcu", "veh", "occ", "spd", "seen"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name
    assert a.stop_counts == b.stop_counts and a.fresh == b.fresh


def test_the_index_knows_when_the_frame_carries_the_network_loops_in_order():
    assert netestimate.FrameIndex.build(NET, _layout(NET.jids)).same_loops
    assert not netestimate.FrameIndex.build(NET, _layout(tuple(reversed(NET.jids)))).same_loops
    assert not netestimate.FrameIndex.build(NET, _layout(NET.jids, extra=True)).same_loops
    assert not netestimate.FrameIndex.build(NET, _layout(NET.jids[:2])).same_loops


def test_whole_copy_equals_the_scatter_bit_for_bit():
    rng = random.Random(7)
    layout = _layout(NET.jids)
    index = netestimate.FrameIndex.build(NET, layout)
    scatter = replace(index, same_loops=False)  # the general path on the same index
    whole = 0
    for t in range(1, 200):
        frame = _frame(rng, layout, float(t))
        accepted = np.array([rng.random() < 0.8 for _ in NET.jids])
        whole += bool(accepted.all())
        a = netestimate.readings_from_frame(NET, index, frame, accepted)
        _same(a, netestimate.readings_from_frame(NET, scatter, frame, accepted))
        assert a.stop_counts == _np_add_at_stop_counts(index, frame, accepted)
    assert 50 < whole < 150  # both paths taken


def test_other_layouts_read_their_stop_counts_as_np_add_at():
    rng = random.Random(11)
    for layout in (_layout(tuple(reversed(NET.jids))), _layout(NET.jids, extra=True), _layout(NET.jids[1:])):
        index = netestimate.FrameIndex.build(NET, layout)
        for t in range(1, 60):
            frame = _frame(rng, layout, float(t))
            accepted = np.array([rng.random() < 0.8 for _ in layout.junctions])
            r = netestimate.readings_from_frame(NET, index, frame, accepted)
            assert r.stop_counts == _np_add_at_stop_counts(index, frame, accepted)

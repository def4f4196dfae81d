"""The estimator fold's shortcuts give what the plain numpy they replace gives, bit for bit: the
transit sums row by row (np.cumsum along the rows), np.clip's ufunc called directly (np.clip), the
loop indices derived once (LaneIndex), the table rows from precomputed terms (the formula per
tick), the cuts from kept slices (cut_of), and the frame's counts screened whole before any loop's
row (the per-loop check)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from controller.config import Config
from controller.core import estimation, feedarrays, netestimate
from controller.core.cuts import cut_at, cut_of
from controller.core.estimation import LaneCut, LaneIndex, LaneState, Layout
from controller.core.feedarrays import DetectorFrame
from controller.model import VEHICLE_CLASSES
from tests.estimate_fixtures import mixed_junctions
from tests.frame_fixtures import LAYOUT, N_LOOPS, make_frame


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def _net() -> netestimate.NetworkLayout:
    layouts = {jid: Layout.build(j, Config()) for jid, j in mixed_junctions().items()}
    net = netestimate.network_layout(layouts)
    assert net is not None
    return net


@pytest.mark.parametrize("seed", range(6))
def test_transit_sums_row_by_row_are_numpys_cumsum(seed):
    rng = np.random.default_rng(seed)
    net = _net()
    n_l = len(net.lane_stop)
    for _ in range(40):
        recent = rng.choice([0.0, 0.5, 1.0, 1.0 / 3.0, 2.7, 1e-17, 1e16], size=(estimation.TRANSIT_HISTORY_TICKS, n_l))
        speed = rng.choice([0.0, 0.3, 1.0, 4.2, 13.9, 30.0], size=n_l)
        dt = float(rng.choice([1.0, 0.5, 0.2]))
        got = estimation._in_transit(net, recent, speed, dt)
        travel = np.ceil(net.lane_zone_m / np.maximum(speed, 1.0) / max(dt, 1e-9)).astype(int)
        upto = np.clip(travel, 0, estimation.TRANSIT_HISTORY_TICKS - 1)
        want = np.cumsum(recent, axis=0)[upto, np.arange(n_l)]
        assert _bits(got) == _bits(want)


def test_transit_reaches_the_whole_history():
    # a zone long enough for 60 ticks at the slowest speed: every row summed
    recent = np.random.default_rng(3).random((estimation.TRANSIT_HISTORY_TICKS, 3))
    lay = _Lanes(np.array([10_000.0, 0.0, 35.0]))
    got = estimation._in_transit(lay, recent, np.array([1.0, 5.0, 7.0]), 1.0)
    want = np.cumsum(recent, axis=0)[[estimation.TRANSIT_HISTORY_TICKS - 1, 0, 5], [0, 1, 2]]
    assert _bits(got) == _bits(want)


class _Lanes:
    """The few _LaneArrays fields _in_transit reads, for lanes of given zone lengths."""

    def __init__(self, zone_m: np.ndarray) -> None:
        self.lane_zone_m = zone_m
        self.lane_stop = self.lane_adv = np.arange(len(zone_m))
        self.det_pair = np.full(len(zone_m), -1)
        self.det_share = np.ones(len(zone_m))  # no loop shared by a split's lanes
        self.det_group = np.full(len(zone_m), -1)  # (the rows of such a loop; none here)
        self.lane_index = LaneIndex.of(self)  # type: ignore[arg-type]


SPECIAL = [-0.0, 0.0, np.nan, -np.inf, np.inf, 1.0, -1.0, 5e-324, -5e-324, 2.5]


@pytest.mark.parametrize("size", [1, 5, 17, 258])
def test_the_clip_ufunc_is_np_clip(size):
    for x, lo, hi in itertools.product(SPECIAL, repeat=3):
        a, b, c = np.full(size, x), np.full(size, lo), np.full(size, hi)
        assert _bits(estimation._clip(a, b, c)) == _bits(np.clip(a, b, c))
        assert _bits(estimation._clip(a, lo, c)) == _bits(np.clip(a, lo, c))
    ints = np.arange(-5, 70)
    assert _bits(estimation._clip(ints, 0, 59)) == _bits(np.clip(ints, 0, 59))
    assert estimation._clip(ints, 0, 59).dtype == np.clip(ints, 0, 59).dtype


def test_lane_index_is_the_layouts_own_indices():
    net = _net()
    for lay in (net, *net.layouts):
        ix = lay.lane_index
        assert ix is lay.lane_index  # derived once per layout object
        assert np.array_equal(ix.has_stop, lay.lane_stop >= 0) and np.array_equal(ix.has_adv, lay.lane_adv >= 0)
        assert np.array_equal(ix.stop_at, np.maximum(lay.lane_stop, 0))
        assert np.array_equal(ix.adv_at, np.maximum(lay.lane_adv, 0))
        assert np.array_equal(ix.has_pair, lay.det_pair >= 0)
        assert np.array_equal(ix.pair_at, np.maximum(lay.det_pair, 0))
        assert np.array_equal(ix.positions, np.arange(len(lay.lane_stop)))
    assert (net.lane_stop < 0).any() and (net.det_pair < 0).any()  # the masks do mask something


def test_lane_rows_are_the_per_tick_formula():
    net = _net()
    rng = random.Random(5)
    n_l = np.diff(net.lane_start)[net.lane_junction]
    for _ in range(200):
        greens = [rng.choice([None, *range(len(lay.junction.phases))]) for lay in net.layouts]
        rows = np.array([len(lay.junction.phases) if g is None else g for lay, g in zip(net.layouts, greens)])
        want = net.table_start[net.lane_junction] + rows[net.lane_junction] * n_l + net.lane_local
        assert np.array_equal(net.lane_rows(greens), want)
    # every junction's green and all-red rows read the lanes' own flags
    for k, lay in enumerate(net.layouts):
        a, b = net.bounds[k][:2]
        for g in [None, *range(len(lay.junction.phases))]:
            greens = [None] * len(net.layouts)
            greens[k] = g
            row = net.green_table[net.lane_rows(greens)][a:b]
            assert np.array_equal(row, np.zeros(b - a, bool) if g is None else lay.lane_green[g])


def test_cut_at_is_cut_of():
    lanes = LaneState(*(np.arange(9.0) * (k + 1) for k in range(14)), adv_recent_pcu=np.arange(27.0).reshape(3, 9))
    a, b = cut_at(LaneCut, lanes, slice(2, 6)), cut_of(LaneCut, lanes, 2, 6)
    for name in LaneState.__dataclass_fields__:
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert np.array_equal(a.adv_recent_pcu, lanes.adv_recent_pcu[:, 2:6])
    known = cut_at(LaneCut, lanes, slice(0, 3), {"queue_pcu": np.ones(3)})
    assert np.array_equal(known.queue_pcu, np.ones(3)) and np.array_equal(known.flow_pcu_h, lanes.flow_pcu_h[:3])


def test_the_cuts_of_a_fold_read_each_junctions_part():
    net = _net()
    slices = net.cut_slices
    for k, ((a, b, da, db), (i, j)) in enumerate(zip(net.bounds, net.mov_bounds)):
        assert slices[k] == (slice(a, b), slice(da, db), slice(i, j))


def _per_loop_bad(frame: DetectorFrame) -> list[int]:
    """_bad_junctions' answer as every loop's row checked (the screen's reference)."""
    from controller.core import feedrules as rules

    c, occ, spd = frame.counts, frame.occupancy, frame.speed_mps
    top = rules.max_count(frame.period_s)
    ok = ((c >= 0) & (c <= top)).all(axis=1) & (occ >= 0.0) & (occ <= 1.0) & (spd >= -1.0) & (spd <= 100.0)
    starts = frame.layout.det_start
    return sorted({int(k) - 1 for k in np.searchsorted(starts, np.flatnonzero(~ok), side="right")})


def test_the_whole_frame_screen_finds_the_loops_rows_check():
    rng = np.random.default_rng(11)
    n_c = len(VEHICLE_CLASSES)
    seen_bad = 0
    for _ in range(300):
        counts = rng.integers(0, 3, size=(N_LOOPS, n_c)) * (rng.random((N_LOOPS, n_c)) < 0.2)
        for _bad in range(rng.integers(0, 3)):  # a few out-of-range counts, each in some loop
            counts[rng.integers(N_LOOPS), rng.integers(n_c)] = rng.choice([-1, 20, 21, 40, -7])
        occ = rng.choice([0.0, 0.3, 1.0, 1.2], size=N_LOOPS, p=[0.4, 0.4, 0.15, 0.05])
        period = float(rng.choice([1.0, 2.0]))
        frame = make_frame(period_s=period, counts=counts.astype(np.int64), occ=occ)
        got = feedarrays._bad_junctions(frame)
        assert got == _per_loop_bad(frame)
        seen_bad += bool(got)
    assert 30 < seen_bad < 290  # both kinds of frame were screened
    empty = make_frame(counts=np.zeros((N_LOOPS, 0), dtype=np.int64))
    assert feedarrays._bad_junctions(empty) == []
    assert LAYOUT.junctions  # the fixture's layout is the one screened

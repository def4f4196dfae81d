"""estimation.LaneCut / HealthCut: one junction's part of a network record, each field a view
of the network array cut when first read."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pytest

from controller.core.cuts import cut_of, joined_field
from controller.core.estimation import DetectorHealth, HealthCut, LaneCut, LaneState


def _network_lanes(n: int) -> LaneState:
    rng = np.random.default_rng(2)
    values = [rng.random(n) for _ in range(14)]
    return LaneState(*values, rng.random((60, n)))


def test_fields_are_the_network_arrays_cut_and_stay_the_same_arrays() -> None:
    net = _network_lanes(9)
    cut = cut_of(LaneCut, net, 3, 7)
    assert isinstance(cut, LaneState)
    for f in dataclasses.fields(LaneState):
        whole = getattr(net, f.name)
        part = getattr(cut, f.name)
        expected = whole[:, 3:7] if whole.ndim == 2 else whole[3:7]
        assert np.array_equal(part, expected) and np.shares_memory(part, whole), f.name
        assert getattr(cut, f.name) is part  # read twice: the same array
    health = DetectorHealth(*(np.arange(5.0) + k for k in range(5)), np.array([0, 1, 0, 1, 1], dtype=bool))
    h = cut_of(HealthCut, health, 1, 4)
    assert isinstance(h, DetectorHealth) and h.faulty.tolist() == [True, False, True]


def test_unknown_fields_copies_and_replace() -> None:
    cut = cut_of(LaneCut, _network_lanes(6), 2, 5)
    with pytest.raises(AttributeError):
        _ = cut.no_such_field  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cut.queue_pcu = np.zeros(3)  # type: ignore[misc]
    other = dataclasses.replace(cut, queue_pcu=np.ones(3))
    assert np.array_equal(other.queue_pcu, np.ones(3)) and np.array_equal(other.block, cut.block)
    for twin in (copy.deepcopy(cut), pickle.loads(pickle.dumps(cut))):
        assert np.array_equal(twin.flow_pcu_h, cut.flow_pcu_h)
        assert np.array_equal(twin.adv_recent_pcu, cut.adv_recent_pcu)


def test_joined_field_gives_the_network_array_back_only_for_a_whole_ordered_cover() -> None:
    net = _network_lanes(9)
    cuts = [cut_of(LaneCut, net, a, b) for a, b in ((0, 2), (2, 2), (2, 9))]
    assert joined_field(cuts, "queue_pcu") is net.queue_pcu
    assert joined_field(cuts, "adv_recent_pcu") is net.adv_recent_pcu
    assert joined_field(cuts[:2], "queue_pcu") is None  # not the whole network
    assert joined_field(cuts[::-1], "queue_pcu") is None  # not in order
    other = cut_of(LaneCut, _network_lanes(9), 2, 9)
    assert joined_field([cuts[0], cuts[1], other], "queue_pcu") is None  # another source
    plain = LaneState.empty(2)
    assert joined_field([plain], "queue_pcu") is None and joined_field([], "queue_pcu") is None

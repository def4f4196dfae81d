"""The compiled lane update (controller/core/lanerows.py) against estimation._lanes, its reference: the same
floats, bit for bit, on random lanes under every option of the lane update (E, session 68; issue 12)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields, replace

import numpy as np
import pytest

from controller.core import lanerows
from controller.core.estimation import (
    TRANSIT_HISTORY_TICKS,
    EstimationParams,
    LaneIndex,
    LaneState,
    _lanes,
    _LaneSignals,
    _Readings,
)


@dataclass(frozen=True)
class _Lanes:
    """What the lane update reads of a layout (estimation._LaneArrays), random."""

    params: EstimationParams
    lane_index: LaneIndex
    lane_storage_pcu: np.ndarray
    lane_zone_m: np.ndarray
    lane_sat_prior_pcu_h: np.ndarray
    lane_approach: np.ndarray
    lane_hidden_cap_pcu: np.ndarray


def _sparse(rng: np.random.Generator, n: int, scale: float, zeros: float = 0.4) -> np.ndarray:
    """Random values with many exact zeros (the rule's thresholds at 0 are crossed both ways)."""
    return np.where(rng.random(n) < zeros, 0.0, rng.random(n) * scale)


def _case(rng: np.random.Generator, params: EstimationParams, n: int = 40) -> tuple[object, ...]:
    """A random (layout, lanes, readings, signals) of n lanes over 2 n loops."""
    m = 2 * n
    stop = np.where(rng.random(n) < 0.8, rng.integers(0, m, n), -1)
    adv = np.where(rng.random(n) < 0.7, rng.integers(0, m, n), -1)
    ix = LaneIndex(
        stop >= 0,
        adv >= 0,
        np.maximum(stop, 0),
        np.maximum(adv, 0),
        np.zeros(m, bool),
        np.zeros(m, int),
        np.arange(n),
        None,
    )
    lay = _Lanes(
        params,
        ix,
        rng.random(n) * 12,
        rng.random(n) * 150,
        1200 + rng.random(n) * 900,
        rng.integers(0, 6, n),
        rng.random(n) * 30,
    )
    scales = {
        "queue_pcu": 12,
        "hidden_pcu": 8,
        "flow_pcu_h": 900,
        "dep_flow_pcu_h": 900,
        "green_s": 20,
        "stop_empty_s": 150,
        "adv_standing_s": 6,
        "adv_speed_mps": 14,
        "sat_pcu": 50,
        "sat_s": 90,
        "block": 1,
        "count_stop_pcu": 60,
        "count_adv_pcu": 60,
        "flow_seen": 1,
    }
    recent = _sparse(rng, TRANSIT_HISTORY_TICKS * n, 2, 0.7).reshape(TRANSIT_HISTORY_TICKS, n) * (rng.random(n) < 0.7)
    L = LaneState(*(_sparse(rng, n, scales[f.name]) for f in fields(LaneState)[:-1]), recent)
    veh = np.where(rng.random(m) < 0.4, 0.0, rng.integers(0, 4, m).astype(float))
    r = _Readings(
        veh * (0.8 + rng.random(m)),
        veh,
        np.where(rng.random(m) < 0.3, 0.0, rng.random(m)),
        np.where(rng.random(m) < 0.3, -1.0, rng.random(m) * 15),
        rng.random(m) < 0.9,
        None,
    )
    sig = _LaneSignals(*(rng.random(n) < q for q in (0.7, 0.6, 0.8, 0.7, 0.5, 0.4, 0.2, 0.2)))
    return lay, L, r, sig


OPTIONS = (
    "hidden_queue_balance",
    "flow_mean_observed",
    "hidden_clear_at_advance",
    "hidden_clear_gap",
    "hidden_room_at_light",
)


def _same(a: LaneState, b: LaneState) -> list[str]:
    return [f.name for f in fields(LaneState) if getattr(a, f.name).tobytes() != getattr(b, f.name).tobytes()]


@pytest.mark.parametrize("mode", ["off", "blind", "scale"])
def test_the_compiled_lane_update_gives_lanes_floats_under_every_option(mode):
    rng = np.random.default_rng(68)
    for on in itertools.product((False, True), repeat=len(OPTIONS)):
        params = replace(EstimationParams(), advance_undercount=mode, undercount_min_pcu=5.0, **dict(zip(OPTIONS, on)))
        for dt in (1.0, 0.5, 2.0, 3.0):
            lay, L, r, sig = _case(rng, params)
            want, got = _lanes(lay, L, r, sig, dt, 300.0), lanerows.lanes_compiled(lay, L, r, sig, dt, 300.0)
            assert _same(want[0], got[0]) == [], (mode, on, dt)
            assert want[1].tobytes() == got[1].tobytes() and want[2].tobytes() == got[2].tobytes()


def test_the_network_pass_with_the_compiled_lane_update_equals_junction_by_junction(monkeypatch):
    """netestimate's pass over real junctions, the compiled loops in use (as after warm_up), against
    estimation.update junction by junction (numpy's _lanes): the same estimates to the bit
    (test_netestimate's feed). And the loops compiled at the start (compile_lanes) are the only forms
    the pass calls: a warmed-up process compiles nothing in a tick."""
    lanerows.compile_lanes()
    monkeypatch.setattr(lanerows, "_use", [True])
    called = []
    monkeypatch.setattr(lanerows, "lanes_compiled", lambda *a: called.append(1) or compiled(*a))
    from tests.unit.test_netestimate import test_one_pass_over_all_junctions_equals_junction_by_junction as same

    same()
    assert called and [len(k.signatures) for k in lanerows.kernels()] == [1, 1, 1, 1]


compiled = lanerows.lanes_compiled

"""The re-plan tick's shortcuts give the plans of the code they replace, to the last bit (issue 12,
the re-plan tick at 2,500 junctions a region): webster's green_floors_s on Python floats, its
unopposed credit computed once per layout (WebsterPolicy._credit), and the gate's max_red_s with
each phase's movements and intergreens read once. The references below are the former code,
copied as it was."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import WebsterParams
from controller.core.policies.webster import (
    Credit,
    WebsterPolicy,
    _summed,
    green_floors_s,
    green_range_s,
    unopposed_credit,
)
from controller.core.safety import max_red_s
from controller.junctions import load_intersections, parse_intersection
from controller.model import Intersection
from tests.junction_fixtures import two_phase_raw

CFG = Config()
ROOT = Path(__file__).resolve().parents[2]


def reference_green_floors_s(
    layout: Layout, needs_s: np.ndarray, lo: np.ndarray, hi: np.ndarray, credit: Credit | None = None
) -> np.ndarray:
    """green_floors_s as it was before the re-plan tick's cut (9be01f9)."""
    serves = layout.serves
    counted = serves if credit is None else serves | credit.phases
    owed_s = needs_s if credit is None else np.maximum(needs_s - credit.transition_s, 0.0)
    base_s = [p.base_green_s for p in layout.junction.phases]
    g = lo.astype(float).copy()
    for m in np.argsort(-owed_s):
        ks = np.flatnonzero(serves[:, m])
        if owed_s[m] <= 0 or counted[:, m].all():
            continue
        deficit = owed_s[m] - float(g[counted[:, m]].sum())
        for k in sorted(ks, key=lambda k: (-base_s[k], k)):
            if deficit <= 1e-9:
                break
            add = min(deficit, hi[k] - g[k])
            g[k] += add
            deficit -= add
    return g


def reference_max_red_s(j: Intersection, order: tuple[int, ...], greens_s: tuple[float, ...]) -> dict[str, float]:
    """safety.max_red_s as it was before the re-plan tick's cut (9be01f9)."""
    n = len(order)
    out = {}
    for m in j.movements:
        served = [m.id in j.served_movements(p) for p in order]
        if not any(served):
            out[m.id] = math.inf
            continue
        start = served.index(True)
        longest = run = 0.0
        for k in range(1, n + 1):
            prev, i = (start + k - 1) % n, (start + k) % n
            if not (served[prev] and served[i]):
                run += j.intergreen_s(order[prev], order[i])
            if served[i]:
                longest, run = max(longest, run), 0.0
            else:
                run += greens_s[i]
        out[m.id] = longest
    return out


def nine_phases() -> Layout:
    """two_phase's junction with nine phases: N+S green in eight of them (odd minimum and base
    greens, base greens that tie), E+W in the last: a movement counted in eight phases, where numpy's sum stops being a
    sum in order (_summed's second branch)."""
    raw = two_phase_raw()
    rng = random.Random(9)
    raw["phases"] = [
        {
            "state": "GrGr" if k < 8 else "rGrG",
            "min_green_s": round(rng.uniform(3.0, 9.0), 3),
            "max_green_s": 60.0,
            "base_green_s": rng.choice((15.0, 20.0, 20.0, 27.5)),  # ties: the phase order breaks them
        }
        for k in range(9)
    ]
    raw["cycle_max_s"] = 600.0
    raw["max_red_s"] = 600.0
    return Layout.build(parse_intersection(raw, "nine_phases.toml"), CFG)


def layouts() -> list[Layout]:
    city = load_intersections(ROOT / "intersections" / "city")
    return [Layout.build(j, CFG) for _, j in sorted(city.items())] + [nine_phases()]


@pytest.mark.parametrize("length", range(13))
def test_summed_is_numpys_sum_to_the_bit(length):
    rng = np.random.default_rng(length)
    for _ in range(400):
        values = (rng.uniform(0.0, 60.0, length) * 10.0 ** rng.integers(-3, 3, length)).tolist()
        assert _summed(values).hex() == float(np.array(values).sum()).hex()


def test_green_floors_are_the_former_code_s_to_the_bit():
    """Random needs (some 0, some above any green), with and without the unopposed credit, on the
    city's 20 junctions and a nine-phase one."""
    rng = np.random.default_rng(12)
    raised = 0
    for lay in layouts():
        lo, hi = green_range_s(lay.junction)
        n_mov = len(lay.junction.movements)
        for credit in (None, unopposed_credit(lay), unopposed_credit(lay, True)):
            for _ in range(60):
                needs = rng.uniform(0.0, 80.0, n_mov) * (rng.random(n_mov) < 0.8)
                got = green_floors_s(lay, needs, lo, hi, credit)
                want = reference_green_floors_s(lay, needs, lo, hi, credit)
                assert got.dtype == want.dtype and got.shape == want.shape
                assert [g.hex() for g in got.tolist()] == [w.hex() for w in want.tolist()]
                raised += bool((got > lo).any())
    assert raised > 1000  # the needs raise floors: the comparison is not of `lo` with itself


def test_max_red_is_the_former_code_s_to_the_bit():
    rng = random.Random(56)
    for lay in layouts():
        j = lay.junction
        n = len(j.phases)
        for _ in range(30):
            order = tuple(rng.sample(range(n), n))
            greens = tuple(rng.uniform(j.phases[k].min_green_s, 60.0) for k in order)
            got, want = max_red_s(j, order, greens), reference_max_red_s(j, order, greens)
            assert list(got) == list(want)
            assert [v.hex() for v in got.values()] == [v.hex() for v in want.values()]


@pytest.mark.parametrize("transition_green", [False, True])
def test_the_credit_is_computed_once_per_layout_and_equals_a_fresh_one(transition_green):
    policy = WebsterPolicy(WebsterParams(credit_unopposed=True, credit_transition_green=transition_green))
    lay = layouts()[0]
    first = policy._credit(lay)
    fresh = unopposed_credit(lay, transition_green)
    assert np.array_equal(first.phases, fresh.phases) and np.array_equal(first.transition_s, fresh.transition_s)
    assert policy._credit(lay) is first  # kept
    with pytest.raises(ValueError):
        first.transition_s[0] = 1.0  # read-only: no caller can change what later re-plans read
    other = Layout.build(lay.junction, CFG)  # another layout object: its own credit
    assert policy._credit(other) is not first

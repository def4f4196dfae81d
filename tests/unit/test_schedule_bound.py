"""`[schedule] max_expansions`: the programme's search is bounded on junctions of many stages (a
joined cluster of 20 stages took minutes per replan: F's fuzz, session 29) and exact on the
junctions of up to 6 phases at 3 clusters."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies import schedule
from controller.core.policies.schedule import Cluster, SchedulePolicy, ScheduleStatics, beam_width
from tests.junction_fixtures import two_phase

CFG = Config()


def statics(n: int) -> ScheduleStatics:
    """A two-phase junction's statics widened to n phases: 5 s intergreens, 5-60 s greens."""
    st = SchedulePolicy().init(Layout.build(two_phase(), CFG), 0.0).statics
    ig = np.full((n, n), 5.0)
    np.fill_diagonal(ig, 0.0)
    return replace(st, intergreen_s=ig, min_green_s=np.full(n, 5.0), max_green_s=np.full(n, 60.0))


def clusters(n: int, per_phase: int, seed: int) -> list[list[Cluster]]:
    rng = random.Random(seed)

    def one(k: int) -> Cluster:
        return Cluster(rng.uniform(0.0, 30.0) + 10.0 * k, rng.uniform(0.5, 6.0), rng.uniform(2.0, 12.0))

    return [[one(k) for k in range(per_phase)] for _ in range(n)]


def widest_level(n: int, per_phase: int) -> int:
    """The most states one level of the whole programme can hold: served-count vectors of one sum,
    each with any served phase as the last one."""
    by_level: dict[int, int] = {}
    for v in itertools.product(range(per_phase + 1), repeat=n):
        by_level[sum(v)] = by_level.get(sum(v), 0) + max(1, sum(1 for x in v if x))
    return max(by_level.values())


def test_the_default_bound_keeps_six_phases_at_three_clusters_exact():
    default = ScheduleParams().max_expansions
    assert beam_width(default, 6 * 3, 6) >= widest_level(6, 3)
    bounded, exact = SchedulePolicy(), SchedulePolicy(ScheduleParams(max_expansions=0))
    st = statics(6)
    for seed in range(6):
        cl = clusters(6, 3, seed)
        assert bounded.plan(st, cl, cur=seed % 6, elapsed_s=12.0, startup_s=2.0) == exact.plan(
            st, cl, cur=seed % 6, elapsed_s=12.0, startup_s=2.0
        )


def test_beam_width():
    assert beam_width(0, 60, 20) == 0  # no bound
    assert beam_width(400_000, 60, 20) == 333
    assert beam_width(10, 60, 20) == 1  # never below one state


def test_twenty_phases_are_searched_within_the_bound(monkeypatch: pytest.MonkeyPatch):
    n, per_phase = 20, 3
    kept: list[int] = []
    prune = schedule._prune

    def counting(frontier, width):  # type: ignore[no-untyped-def]
        out = prune(frontier, width)
        kept.append(len(out))
        return out

    monkeypatch.setattr(schedule, "_prune", counting)
    cl = clusters(n, per_phase, 7)
    p = SchedulePolicy(ScheduleParams(max_expansions=50_000))
    first, start_s = p.plan(statics(n), cl, cur=0, elapsed_s=30.0, startup_s=2.0)  # without the bound: hours
    assert 0 <= first < n and start_s >= 0.0
    # each level expands its kept states once per phase: the first level one state
    assert kept and n * (1 + sum(kept[:-1])) <= 50_000
    assert max(kept) == beam_width(50_000, sum(len(c) for c in cl), n)

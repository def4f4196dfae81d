"""The field's entry count (sim/field.py, SumoField._count_entries) with its shortcut (a loop
holding the same vehicles as the step before counts nothing) gives the counts and stop-line
crossings of the plain set difference, a loop two junctions share included."""

from __future__ import annotations

import random

import pytest

from sim.field import SumoField

LOOPS = ("a", "b", "s", "c", "s")  # "s": a stop-line loop two junctions share, listed twice
STOP = {"s", "c"}


def _reference(steps: list[list[tuple[int, tuple[str, ...]]]], cls_of: dict[str, str]) -> tuple[list, dict]:
    """The count before the shortcut: per loop id, the vehicles on it the step before as a set,
    updated in place."""
    on_loop: dict[str, frozenset[str]] = {}
    crossed: dict[str, dict[str, int]] = {"j1": {}, "j2": {}}
    owner = ("j1", "j1", "j1", "j2", "j2")
    out = []
    for hits in steps:
        counted: dict[int, dict[str, int]] = {}
        now_on: set[str] = set()
        for i, ids in hits:
            did = LOOPS[i]
            now_on.add(did)
            before = on_loop.get(did, frozenset())
            counts: dict[str, int] = {}
            for vid in ids:
                if vid not in before:
                    counts[cls_of[vid]] = counts.get(cls_of[vid], 0) + 1
            on_loop[did] = frozenset(ids)
            if counts:
                counted[i] = counts
                if did in STOP:
                    for c, n in counts.items():
                        crossed[owner[i]][c] = crossed[owner[i]].get(c, 0) + n
        for did in [d for d in on_loop if d not in now_on]:
            del on_loop[did]
        out.append(counted)
    return out, crossed


def _field(cls_of: dict[str, str]) -> SumoField:
    f = object.__new__(SumoField)
    f.crossed = {"j1": {}, "j2": {}}
    owner = ("j1", "j1", "j1", "j2", "j2")
    f._loops = tuple((did, did in STOP, f.crossed[owner[i]]) for i, did in enumerate(LOOPS))
    f._on_loop = {}
    f._class_of_vehicle = lambda vid, did: cls_of[vid]  # type: ignore[method-assign]
    return f


@pytest.mark.parametrize("seed", range(5))
def test_entry_counts_equal_the_set_difference(seed: int) -> None:
    rng = random.Random(seed)
    vehicles = [f"v{k}" for k in range(12)]
    cls_of = {v: rng.choice(["car", "bus", "truck"]) for v in vehicles}
    steps = []
    on: dict[str, tuple[str, ...]] = {}
    for _ in range(300):
        for did in set(LOOPS):
            r = rng.random()
            if r < 0.3:
                on[did] = ()
            elif r < 0.6:
                on[did] = tuple(rng.sample(vehicles, rng.randint(1, 3)))
            # else: the same vehicles stay (the shortcut)
        steps.append([(i, on[did]) for i, did in enumerate(LOOPS) if on.get(did)])
    want, want_crossed = _reference(steps, cls_of)
    f = _field(cls_of)
    got = [f._count_entries(hits) for hits in steps]
    assert got == want
    assert f.crossed == want_crossed
    assert any(want)  # the random feed did count vehicles


def test_sub_steps_aggregate_into_the_second() -> None:
    """A step length of 0.5 s (sim/simulate.py step_to_end): the loops are read after each of
    the second's two SUMO steps, and the second the service sees has each vehicle counted once
    (in the step it enters), the occupancy the mean over the steps, the speed the mean over the
    steps with a vehicle (-1 without one). Then a second of one step reads as before."""
    import numpy as np

    cls_of = {"v1": "car", "v2": "bus", "v3": "car"}
    f = _field(cls_of)
    f._substeps = []
    n = len(LOOPS)

    def arrays(occ: dict[int, float], speed: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
        o, s = np.zeros(n), np.full(n, -1.0)
        for i, v in occ.items():
            o[i] = v
        for i, v in speed.items():
            s[i] = v
        return o, s

    script = [  # (hits, occupancy, speed) of each SUMO step
        ([(0, ("v1",))], *arrays({0: 0.4}, {0: 5.0})),  # v1 enters loop a
        ([(0, ("v1",)), (1, ("v2",))], *arrays({0: 1.0, 1: 0.2}, {0: 3.0, 1: 6.0})),  # v1 stays, v2 enters b
        ([(3, ("v3",))], *arrays({3: 0.5}, {3: 7.0})),  # the next second, one step: v3 on c
    ]
    steps = iter(script)

    def read_step():
        hits, occ, speed = next(steps)
        return f._count_entries(hits), occ, speed

    f._read_step = read_step  # type: ignore[method-assign]
    f.sample_substep()
    counted, occ, speed = f._read_loops()
    assert counted == {1: {"bus": 1}} | {0: {"car": 1}}
    assert occ.tolist() == [0.7, 0.1, 0.0, 0.0, 0.0]
    assert speed.tolist() == [4.0, 6.0, -1.0, -1.0, -1.0]
    counted, occ, speed = f._read_loops()  # no sub-step sampled: the step itself
    assert counted == {3: {"car": 1}}
    assert occ.tolist() == [0.0, 0.0, 0.0, 0.5, 0.0]
    assert speed.tolist() == [-1.0, -1.0, -1.0, 7.0, -1.0]
    assert f.crossed == {"j1": {}, "j2": {"car": 1}}

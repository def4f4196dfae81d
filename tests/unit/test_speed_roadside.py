"""The roadside simulator's per-tick shortcuts (sim/roadside.py) give what the direct
computations give: the max-red check from a per-(phase, next phase) table, the intergreen
signal states from a table, the status key without building the status."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

import sim.roadside as roadside
from controller.core.safety import GateMemo, stage_intergreen_s
from controller.junctions import load_intersections, parse_intersection
from controller.model import GREEN, Intersection, PhaseCommand
from sim.roadside import RoadsideController, _Stage
from tests.junction_fixtures import four_phase_raw, two_phase

CITY = Path(__file__).resolve().parents[2] / "intersections" / "city"


def four_phase() -> Intersection:
    return parse_intersection(four_phase_raw(), "four_phase.toml")


def _models() -> list[Intersection]:
    return [two_phase(), four_phase(), *load_intersections(CITY).values()]


def _late_reference(rc: RoadsideController, cur: int, nxt: int, now_s: float) -> int | None:
    """_late_movement as written before its table: every term computed at every call."""
    j, worst, worst_wait, memo = rc.j, None, -1.0, GateMemo()
    for i, phases in enumerate(rc._movement_phases):
        if not phases or cur in phases or nxt in phases:
            continue
        waited_s = now_s - rc._last_green_s[i]
        if nxt == cur:
            more_s = 1.0 + min(stage_intergreen_s(j, cur, p, memo) for p in phases) - 1.0
        else:
            more_s = (
                stage_intergreen_s(j, cur, nxt, memo)
                + math.ceil(j.phases[nxt].min_green_s - 1e-9)
                + min(stage_intergreen_s(j, nxt, p, memo) for p in phases)
                - 1.0
            )
        if waited_s + more_s > j.max_red_s + 1e-9 and waited_s > worst_wait:
            worst, worst_wait = i, waited_s
    return worst


def _state_reference(j: Intersection, st: _Stage) -> str:
    to_green = frozenset() if st.to_flash else j.phases[st.phase].green_links()
    out = []
    for i, ch in enumerate(j.phases[st.from_phase].state):
        if ch in GREEN and i in to_green:
            out.append(ch)
        elif st.kind == "yellow" and ch in GREEN:
            out.append("y")
        else:
            out.append("r")
    return "".join(out)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_late_movement_equals_the_direct_computation(seed: int) -> None:
    rng = random.Random(seed)
    for j in _models():
        rc = RoadsideController(j, backup_s=30.0)
        n = len(j.phases)
        for _ in range(300):
            now_s = 1000.0 + rng.randint(0, 200)
            rc._last_green_s = [now_s - rng.choice([0, 1, 5, 30, 60, 89, 90, 100, 130]) for _ in rc._last_green_s]
            cur, nxt = rng.randrange(n), rng.randrange(n)
            assert rc._late_movement(cur, nxt, now_s) == _late_reference(rc, cur, nxt, now_s), (j.id, cur, nxt)


def test_late_movement_asks_the_intergreens_once_per_pair_of_phases(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counted(*a: object, **k: object) -> float:
        calls.append(a[1:3])
        return stage_intergreen_s(*a, **k)

    monkeypatch.setattr(roadside, "stage_intergreen_s", counted)
    rc = RoadsideController(four_phase(), backup_s=30.0)
    rc._last_green_s = [0.0] * len(rc._last_green_s)
    rc._late_movement(0, 1, 50.0)
    first = len(calls)
    assert first > 0
    for t in range(51, 80):
        rc._late_movement(0, 1, float(t))
    assert len(calls) == first  # the table answers from then on


def test_intergreen_states_equal_the_direct_computation() -> None:
    for j in _models():
        rc = RoadsideController(j, backup_s=30.0)
        n = len(j.phases)
        for kind in ("yellow", "allred"):
            for a in range(n):
                for b in range(n):
                    for to_flash in (False, True):
                        rc.stage = _Stage(kind, b, a, 0.0, to_flash)
                        want = _state_reference(j, rc.stage)
                        assert rc._state(0.0) == want
                        assert rc._state(0.0) == want  # from the table the second time


def test_status_key_equals_the_status_fields() -> None:
    rng = random.Random(4)
    rc = RoadsideController(four_phase(), backup_s=10.0)
    seq = 0
    for t in range(400):
        if rng.random() < 0.15:
            seq += 1
            rc.receive(PhaseCommand("J", f"p{seq}", seq, rng.randrange(4), 1.0, float(t), t + 20.0), float(t))
        rc.tick(float(t), 0 if rc.mode == "local" else None, 3.0)
        st = rc.status(float(t))
        assert rc.status_key() == (st.phase, st.in_intergreen, st.mode, st.plan_id, st.seq, st.faults, st.program)

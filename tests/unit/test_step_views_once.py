"""step.Core builds each junction's SignalView once a tick (step._views): where the policy reads the
signals (`reads_signals`), the network pass and the per-junction decisions take the NetworkView's
views. Each view passed is the junction's own (equal to _view of its own status and red times), and
the tick's states and results equal those of the former code, which built a view for each use."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core import step as step_mod
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.step import Core, CoreState, TickResult, _view
from controller.junctions import load_intersections
from controller.model import DetectorReading, SignalStatus, Snapshot
from tests.junction_fixtures import timed_junction

ROOT = Path(__file__).resolve().parents[2]
# the city's 20 junctions and a pair (A and B name each other: decided together, core/pairs.py, outside the pass)
CITY = {
    **load_intersections(ROOT / "intersections" / "city"),
    "A": timed_junction("A", paired=("B",)),
    "B": timed_junction("B", paired=("A",)),
}
FIELDS = ("command", "sent_s", "seq", "plans", "stale", "policy_state", "status", "red_since_s")


def _snapshot(jid: str, detectors: list[str], t: float, k: int) -> Snapshot:
    on = (int(t) + k) % 3 != 0
    readings = tuple(
        DetectorReading(d, (("car", 1 + (i + k) % 2),) if on else (), 0.3 if on else 0.0, 6.0 if on else -1.0)
        for i, d in enumerate(detectors)
    )
    return Snapshot(jid, t, 1.0, readings)


def _status(jid: str, phases: int, t: int, k: int) -> SignalStatus:
    at = (t + 4 * k) % (12 * phases)  # each phase 12 s, the last second an intergreen; staggered
    return SignalStatus(jid, float(t), at // 12, at % 12 == 11, float(at % 12), "p", 0, "adaptive")


def _same(a: object, b: object, where: str = "") -> None:
    """Equal to the bit: dataclasses field by field, containers item by item, arrays by dtype and bytes."""
    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{k}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, float) and a != a:
        assert b != b, where
    else:
        assert a == b, where


def _same_runs(
    fast: list[tuple[CoreState, TickResult]], other: list[tuple[CoreState, TickResult]], fields: tuple[str, ...]
) -> int:
    """Asserts the two runs' results and the junction states' `fields` equal at every tick; the plans sent."""
    plans = 0
    for t, ((s_fast, r_fast), (s_other, r_other)) in enumerate(zip(fast, other, strict=True), 1):
        _same(r_fast, r_other, f"t={t} result")
        plans += r_other.new_plans
        for jid, js in s_other.junctions.items():
            for f in fields:
                _same(getattr(s_fast.junctions[jid], f), getattr(js, f), f"t={t} {jid}.{f}")
    return plans


def _former_views(jids, jss, now_s, network):  # the code before _views: a view built for each use
    return [_view(js.status, js.red_since_s, now_s) for js in jss]


def _run(seconds: int, monkeypatch: pytest.MonkeyPatch, spy: list | None = None) -> list[tuple[CoreState, TickResult]]:
    cfg = Config()
    core = Core({j: Layout.build(x, cfg) for j, x in CITY.items()}, make_policy("adaptive", cfg), cfg)
    assert core.reads_signals and core.net_decision is not None and core.pairs
    if spy is not None:
        nd = core.net_decision
        decide_all = type(nd).decide_all

        def seen(self, states, estimates, views, now_s):
            spy.append((now_s, list(self.jids), list(views)))
            return decide_all(self, states, estimates, views, now_s)

        monkeypatch.setattr(type(nd), "decide_all", seen)
    state, out = core.initial_state(0.0), []
    for t in range(1, seconds + 1):
        snaps = [_snapshot(j, [d.id for d in x.detectors], float(t), k) for k, (j, x) in enumerate(CITY.items())]
        statuses = [_status(j, len(x.phases), t, k) for k, (j, x) in enumerate(CITY.items())]
        state, result = core.step(state, snaps, statuses, float(t))
        out.append((state, result))
    return out


def test_each_view_of_the_pass_is_the_junctions_own_and_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    monkeypatch.setattr(step_mod, "_view", lambda *a: built.append(a) or _view(*a))
    spy: list = []
    out = _run(40, monkeypatch, spy)
    assert len(spy) == 40 and len(built) == 40 * len(CITY)  # once per junction per tick
    phases_seen = set()
    for (now_s, jids, views), (state, _) in zip(spy, out, strict=True):
        for jid, v in zip(jids, views, strict=True):
            js = state.junctions[jid]  # its status and red times as the tick read them
            assert v == _view(js.status, js.red_since_s, now_s), (now_s, jid)
            phases_seen.add((jid, None if v is None else v.phase))
    assert len({p for _, p in phases_seen}) >= 3  # the junctions' views differ: a view of another would show


def test_states_and_results_equal_the_former_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _run(60, monkeypatch)
    monkeypatch.setattr(step_mod, "_views", _former_views)
    former = _run(60, monkeypatch)
    plans = _same_runs(fast, former, FIELDS)
    assert plans > 20  # the policy decided: the comparison is not of empty ticks

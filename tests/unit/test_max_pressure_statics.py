"""max_pressure's switching factor T / (T + L_mk) kept per phase in force (Statics.useful) gives
phase_pressures bit for bit the pressures it derives on each call, on the bundled city's
junction models, every phase in force, random estimates and red times; the permitted-only
movements per phase (Statics.permitted) are those the layout says."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy, build_statics, phase_pressures
from controller.core.safety import SignalView
from controller.junctions import load_intersections

CITY = Path(__file__).resolve().parents[2] / "intersections" / "city"


def _random_estimate(rng: np.random.Generator, lay: Layout) -> Estimate:
    est = Estimate.empty(lay, 0.0)
    n, lanes = len(est.queue_pcu), len(est.lanes.hidden_pcu)
    return replace(
        est,
        queue_pcu=rng.exponential(5.0, n),
        flow_pcu_h=rng.uniform(0.0, 1500.0, n),
        sat_flow_pcu_h=rng.uniform(1200.0, 2000.0, n),
        block=rng.uniform(0.0, 0.5, n) * (rng.random(n) < 0.3),
        lanes=replace(est.lanes, hidden_pcu=rng.exponential(2.0, lanes) * (rng.random(lanes) < 0.3)),
    )


def test_kept_factor_gives_the_same_pressures_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    p = MaxPressureParams()
    layouts = [Layout.build(j, Config()) for j in load_intersections(CITY).values()]
    checked = 0
    for lay in layouts:
        kept = build_statics(lay, p.permitted_sat_ratio, p.switch_service_s)
        bare = build_statics(lay, p.permitted_sat_ratio)
        assert kept.useful is not None and bare.useful is None
        assert kept.permitted is not None and (kept.permitted == (lay.serves & ~lay.protected)).all()
        moves = len(lay.junction.movements)
        for cur in range(len(lay.junction.phases)):
            for _ in range(5):
                est = _random_estimate(rng, lay)
                view = SignalView(cur, False, 12.0, tuple(rng.uniform(0.0, 100.0, moves).tolist()))
                args = (lay, est, view, 100.0, p.switch_service_s, p.wait_scale_s, None, p.arrival_s)
                a, b = phase_pressures(kept, *args), phase_pressures(bare, *args)
                assert a.tobytes() == b.tobytes(), (lay.junction.id, cur)
                checked += 1
    assert checked > 100


def test_another_switch_service_than_kept_derives_its_own_factor() -> None:
    lay = Layout.build(next(iter(load_intersections(CITY).values())), Config())
    p = MaxPressureParams()
    kept = build_statics(lay, p.permitted_sat_ratio, 2.0)
    bare = build_statics(lay, p.permitted_sat_ratio)
    est = _random_estimate(np.random.default_rng(1), lay)
    view = SignalView(0, False, 12.0, tuple(50.0 for _ in lay.junction.movements))
    a = phase_pressures(kept, lay, est, view, 100.0, 7.0, 60.0)
    b = phase_pressures(bare, lay, est, view, 100.0, 7.0, 60.0)
    c = phase_pressures(kept, lay, est, view, 100.0, 2.0, 60.0)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)  # the factor matters: a stale one would be seen


def test_box_of_a_phase_without_permitted_turns_is_not_updated_and_stays_the_same() -> None:
    """Statics.has_permitted: _track_box skips update_boxed in a phase that serves no movement
    permitted only (its box stays empty all its green); every tick's box equals the one the
    update on every tick gives (has_permitted None), on the city's models, random departures and
    stop-line gaps, greens of random lengths."""
    rng = np.random.default_rng(11)
    p = MaxPressureParams()
    policy = MaxPressurePolicy(p)
    layouts = [Layout.build(j, Config()) for j in load_intersections(CITY).values()]
    skipped = boxed_seen = 0
    for lay in layouts:
        fast = policy.init(lay, 0.0)
        slow = replace(fast, statics=replace(fast.statics, has_permitted=None))
        assert fast.statics.has_permitted is not None
        n, lanes = len(lay.junction.movements), len(lay.lanes)
        dep = np.zeros(n)
        phase = 0
        for t in range(120):
            if rng.random() < 0.1:
                phase = int(rng.integers(len(lay.junction.phases)))
            dep = dep + (rng.random(n) < 0.4)
            est = replace(
                Estimate.empty(lay, 0.0),
                departures_pcu=dep,
                lanes=replace(Estimate.empty(lay, 0.0).lanes, stop_empty_s=rng.choice([0.0, 1.0, 5.0], lanes)),
            )
            fast = policy._track_box(fast, lay, est, phase, float(t))
            slow = policy._track_box(slow, lay, est, phase, float(t))
            assert fast.phase == slow.phase and fast.last_dep_pcu is slow.last_dep_pcu
            assert fast.boxed.tolist() == slow.boxed.tolist(), (lay.junction.id, phase)
            skipped += not fast.statics.has_permitted[phase]
            boxed_seen += bool(fast.boxed.any())
    assert skipped > 100 and boxed_seen > 100  # both paths were exercised


def test_has_permitted_is_whether_the_phase_serves_a_permitted_only_movement() -> None:
    for j in load_intersections(CITY).values():
        lay = Layout.build(j, Config())
        st = build_statics(lay, 0.4)
        assert st.has_permitted == tuple(bool((lay.serves[c] & ~lay.protected[c]).any()) for c in range(len(j.phases)))


def test_a_state_one_tick_on_is_dataclasses_replace_and_carries_every_field():
    """_ticked copies MaxPressureState's __dict__ with the fields changed: it must equal
    dataclasses.replace (the class a frozen dataclass without __post_init__ or an init=False field),
    carry every field it is not given (a field added to the class is not dropped, the bug behind
    session 55's red test, where the state was built field by field), and refuse a field the class
    has not, as replace does."""
    import dataclasses

    import pytest

    from controller.core.policies.max_pressure import MaxPressureState, _ticked

    assert not hasattr(MaxPressureState, "__post_init__")
    assert all(f.init for f in dataclasses.fields(MaxPressureState))
    state = MaxPressureState(**{f.name: object() for f in dataclasses.fields(MaxPressureState)})
    dep, boxed = np.arange(3.0), np.zeros(3, bool)
    for changes in ({}, {"phase": 2}, {"phase": 2, "last_dep_pcu": dep, "boxed": boxed}, {"head_waits": None}):
        built, usual = _ticked(state, **changes), dataclasses.replace(state, **changes)
        assert type(built) is MaxPressureState and vars(built).keys() == vars(usual).keys()
        assert all(getattr(built, k) is getattr(usual, k) for k in vars(usual))
    with pytest.raises(TypeError, match="no field"):
        _ticked(state, phase=2, box=boxed)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.phase = 3  # type: ignore[misc]

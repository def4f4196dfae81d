"""The junction gauges the metrics' refresh sets go to the registry through a collector read at
scrape time (controller/adapters/metrics.py, _JunctionGauges): the same series as Gauge
children, and no Gauge set per junction per refresh."""

from __future__ import annotations

import math

import pytest
from prometheus_client import Gauge, generate_latest

from controller.adapters.metrics import JUNCTION_GAUGES, PREFIX, THROUGHPUT_BY_CLASS
from controller.core.step import TickResult
from controller.model import VEHICLE_CLASSES
from tests.metrics_fixtures import core_state, exporter, value

JUNCTION_NAMES = {f"{PREFIX}_{name}" for _key, name, _doc in JUNCTION_GAUGES} | {f"{PREFIX}_{THROUGHPUT_BY_CLASS[0]}"}


def test_every_junction_series_exists_from_the_start_as_a_gauge() -> None:
    _m, reg, js = exporter("J1", "J2")
    fams = {f.name: f for f in reg.collect() if f.name in JUNCTION_NAMES}
    assert set(fams) == JUNCTION_NAMES
    for fam in fams.values():
        assert fam.type == "gauge"
        want = {("J1",), ("J2",)}
        if fam.name.endswith(THROUGHPUT_BY_CLASS[0]):
            want = {(j, c) for j in ("J1", "J2") for c in VEHICLE_CLASSES}
        assert {tuple(s.labels.values()) for s in fam.samples} == want
    for jid, j in js.items():
        assert value(reg, f"{PREFIX}_junction_cycle_seconds", junction=jid) == j.base_cycle_s()
        assert value(reg, f"{PREFIX}_junction_queue_pcu", junction=jid) == 0.0
    text = generate_latest(reg).decode()
    assert '# TYPE tsc_junction_queue_pcu gauge\ntsc_junction_queue_pcu{junction="J1"} 0.0' in text


def test_a_refresh_sets_no_gauge_child_and_the_registry_reads_its_values(monkeypatch: pytest.MonkeyPatch) -> None:
    m, reg, js = exporter("J1", "J2")
    sets: list[str] = []
    plain_set = Gauge.set

    def counted(self: Gauge, v: float) -> None:
        sets.append(self._name)
        plain_set(self, v)

    monkeypatch.setattr(Gauge, "set", counted)
    for t in range(12):  # every junction refreshed at least twice (update_s 5 s)
        m.tick_done(core_state(js, float(t)), TickResult(), float(t), 1e-3)
    assert m.updates >= 4
    assert not JUNCTION_NAMES & set(sets)
    for jid in js:
        delay = value(reg, f"{PREFIX}_junction_delay_seconds", junction=jid)
        assert delay is not None and math.isnan(delay)  # no harm state: n/a, as a Gauge set to NaN
        assert value(reg, f"{PREFIX}_junction_queue_pcu", junction=jid) == 0.0


def test_a_shadow_moved_in_time_is_replace_of_its_clock() -> None:
    import dataclasses

    from controller.adapters.metrics import _at
    from controller.core import shadow
    from controller.core.estimation import Layout
    from tests.junction_fixtures import two_phase
    from tests.metrics_fixtures import CFG

    s = shadow.initial(Layout.build(two_phase(), CFG), 3.0)
    moved, want = _at(s, 17.5), dataclasses.replace(s, t_s=17.5)
    assert type(moved) is type(want) and moved.t_s == 17.5
    for f in dataclasses.fields(want):
        if f.name != "t_s":
            assert getattr(moved, f.name) is getattr(want, f.name), f.name


def test_the_cycle_gauge_is_the_median_taken_when_collected() -> None:
    import numpy as np

    m, reg, js = exporter("J1")
    j = m._j["J1"]
    base = js["J1"].base_cycle_s()
    for src, want in (
        (np.array([80.0, np.nan, 60.0, 90.0]), 80.0),
        (np.array([80.0, 61.0, np.nan, 60.0, 90.0]), float(np.median([80.0, 61.0, 60.0, 90.0]))),
        (np.array([np.nan, np.nan]), base),
        (72.5, 72.5),
    ):
        j.cycle_from = src
        assert value(reg, f"{PREFIX}_junction_cycle_seconds", junction="J1") == want


# -- the shadow's figures, folded when collected ------------------------------------------------
def _exposition(reg) -> list[str]:
    """The registry's text without the wall-clock figures and the series' creation times."""
    wall = ("tsc_tick_duration_seconds", "tsc_metrics_update_seconds")
    text = generate_latest(reg).decode()
    return [line for line in text.splitlines() if not line.startswith(wall) and "_created" not in line]


def _drive(m, js, t: int, rng, *, missing: bool = True) -> dict:
    """One tick: a light changing stage (through intergreens), a status now and then missing, a
    cycle plan in force at times, random flows. Returns what each junction was given."""

    from controller.model import CyclePlan
    from tests.metrics_fixtures import status

    per = {}
    for k, (jid, j) in enumerate(js.items()):
        phase = int((t // (7 + 5 * k)) % 2)
        n = len(j.movements)
        est = {"flow_pcu_h": rng.uniform(0.0, 900.0, n), "sat_flow_pcu_h": rng.uniform(1500.0, 1900.0, n)}
        fields: dict = {"estimate": est}
        if t % 9 or not missing:  # every ninth second the roadside's status is missing
            fields["status"] = status(jid, float(t), phase, intergreen=t % (7 + 5 * k) < 2)
        if (t // 50) % 3 == 2:
            fields["command"] = CyclePlan(jid, "p", 1, (0, 1), (30.0, 30.0), 70.0, 0.0, 0.0, 1e9)
        per[jid] = fields
    m.tick_done(core_state(js, float(t), **per), TickResult(), float(t), 1e-3)
    return per


@pytest.mark.parametrize(("stagger", "bound"), [(False, None), (True, None), (False, 7)])
def test_the_shadows_figures_are_the_same_whenever_the_registry_is_collected(
    stagger: bool, bound: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One exporter collected after every tick (its shadows folded at once, as before they were
    deferred), one collected only at a few instants: the same exposition at those instants,
    degree of saturation and measured cycle included, bit for bit; also when the exporter folds
    by itself, past `bound` notes waiting."""
    import numpy as np

    import controller.adapters.metrics as metrics

    if bound is not None:
        monkeypatch.setattr(metrics, "MAX_PENDING_FOLDS", bound)

    every, reg_every, js = exporter("J1", "J2", "J3", update_s=5.0, gain_window_s=120.0, stagger=stagger)
    rare, reg_rare, _ = exporter("J1", "J2", "J3", update_s=5.0, gain_window_s=120.0, stagger=stagger)
    rng_every, rng_rare = np.random.default_rng(7), np.random.default_rng(7)
    instants = {3, 64, 65, 151, 299}
    compared = 0
    for t in range(300):
        _drive(every, js, t, rng_every)
        _drive(rare, js, t, rng_rare)
        seen = _exposition(reg_every)
        if t in instants:
            assert _exposition(reg_rare) == seen, t
            compared += 1
    assert compared == len(instants)
    sat = value(reg_rare, f"{PREFIX}_junction_degree_of_saturation_ratio", junction="J2")
    cycle = value(reg_rare, f"{PREFIX}_junction_cycle_seconds", junction="J2")
    assert sat is not None and sat > 0 and cycle is not None and cycle != js["J2"].base_cycle_s()


def test_a_tick_goes_on_while_a_collection_folds_the_shadows_and_the_exposition_is_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A collection holds the exporter's lock only to take the signal states noted and copy the
    values; the shadows are folded after (ServiceMetrics.collected). A tick made while they fold,
    from another thread, does not wait for the fold, and both that collection and the next give,
    bit for bit, what an exporter collected between the same ticks gives (refresh ticks, plans
    and missing statuses included)."""
    import threading

    import numpy as np

    from controller.core import shadow

    rare, reg_rare, js = exporter("J1", "J2", "J3", update_s=5.0, gain_window_s=120.0)
    ref, reg_ref, _ = exporter("J1", "J2", "J3", update_s=5.0, gain_window_s=120.0)
    rng_rare, rng_ref = np.random.default_rng(11), np.random.default_rng(11)
    observe = shadow.observe
    during: list[threading.Thread] = []

    def tick_inside(*args, **kwargs):  # the first fold of a collection lets the next tick run
        if not during:
            th = threading.Thread(target=_drive, args=(rare, js, t + 1, rng_rare))
            during.append(th)
            th.start()
            th.join(timeout=10)
        return observe(*args, **kwargs)

    monkeypatch.setattr(shadow, "observe", tick_inside)
    instants = {19, 54, 99, 102, 149, 230}  # refreshes every 5 s (t + 1 at 20, 55, 100, 150), a plan over 100-149
    t, compared = 0, 0
    _drive(rare, js, 0, rng_rare)
    while t < 240:
        _drive(ref, js, t, rng_ref)
        if t in instants:
            monkeypatch.setattr(shadow, "observe", observe)
            before = _exposition(reg_ref)
            monkeypatch.setattr(shadow, "observe", tick_inside)
            during.clear()
            got = _exposition(reg_rare)  # tick t + 1 of `rare` runs inside it
            assert len(during) == 1, t
            finished = not during[0].is_alive()
            during[0].join()
            assert finished, f"t={t}: the tick waited for the fold"
            assert got == before, t
            compared += 1
        elif t + 1 < 240:
            _drive(rare, js, t + 1, rng_rare)
        t += 1
    monkeypatch.setattr(shadow, "observe", observe)
    _drive(ref, js, 240, rng_ref)
    _drive(rare, js, 240, rng_rare)
    assert _exposition(reg_rare) == _exposition(reg_ref)
    assert compared == len(instants)


def test_the_degree_of_saturation_reads_the_shadow_as_shadow_observe_every_tick_leaves_it_at_the_refresh() -> None:
    """The definition: `shadow.observe` called every tick (the exporter folds a run of the same
    signal state in one call: equal to rounding), read at the last refresh (every update_s).
    A status is given every tick: over a missing one the exporter decays the shares, as it
    did before it deferred the folds, where `shadow.observe` only moves the clock."""
    import numpy as np

    from controller.adapters.metrics_group import saturation_ratio
    from controller.core import shadow
    from controller.core.estimation import Layout
    from tests.metrics_fixtures import CFG

    m, reg, js = exporter("J1", "J2", update_s=5.0, gain_window_s=120.0)
    rng = np.random.default_rng(3)
    lay = {jid: Layout.build(j, CFG) for jid, j in js.items()}
    ref = {jid: shadow.initial(lay[jid], 0.0) for jid in js}
    at_refresh = {}
    for t in range(233):
        given = _drive(m, js, t, rng, missing=False)
        for jid, fields in given.items():
            ref[jid] = shadow.observe(ref[jid], lay[jid], fields.get("status"), float(t), 120.0)
            if t % 5 == 0:
                at_refresh[jid] = (fields["estimate"], ref[jid].green_share)
        if t in (4, 5, 61, 232):
            for jid in js:
                est, share = at_refresh[jid]
                want = saturation_ratio(est["flow_pcu_h"], est["sat_flow_pcu_h"], share)
                got = value(reg, f"{PREFIX}_junction_degree_of_saturation_ratio", junction=jid)
                assert got == pytest.approx(want, rel=1e-9), (t, jid)


def test_the_shadow_is_folded_only_when_the_registry_is_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run nobody scrapes makes no `shadow.observe` call; a collection makes them all; past
    MAX_PENDING_FOLDS notes the exporter folds them itself."""
    import numpy as np

    import controller.adapters.metrics as metrics
    from controller.core import shadow

    calls = []
    observe = shadow.observe

    def counted(*args, **kwargs):
        calls.append(args[3])
        return observe(*args, **kwargs)

    monkeypatch.setattr(shadow, "observe", counted)
    m, reg, js = exporter("J1", "J2", update_s=5.0)
    rng = np.random.default_rng(1)
    for t in range(120):
        _drive(m, js, t, rng)
    assert calls == []
    assert value(reg, f"{PREFIX}_junction_degree_of_saturation_ratio", junction="J1") > 0
    assert len(calls) > 20
    monkeypatch.setattr(metrics, "MAX_PENDING_FOLDS", 10)
    folded = len(calls)
    for t in range(120, 240):
        _drive(m, js, t, rng)
    assert len(calls) > folded  # folded without a collection
    assert m._pending_folds <= 11


def test_the_fold_at_a_collection_counts_in_the_metrics_own_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import numpy as np

    m, reg, js = exporter("J1", update_s=5.0)
    rng = np.random.default_rng(2)
    for t in range(60):
        _drive(m, js, t, rng)
    before = value(reg, f"{PREFIX}_metrics_update_seconds_total")
    clock = iter([100.0, 107.5])
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    m.settle()
    monkeypatch.undo()
    assert value(reg, f"{PREFIX}_metrics_update_seconds_total") == pytest.approx(before + 7.5)

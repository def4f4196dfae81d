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

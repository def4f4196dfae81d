"""controller/adapters/metrics.py: the Prometheus exporter, each test with its own registry.

Naming follows Prometheus (prefix, base units, `_total` counters, `_seconds` durations, only the
junction and class dimensions plus bounded enumerations); counts and gauges mean what
docs/metrics.md says; the network delay gain is the demand-weighted shadow estimate of
controller/core/shadow.py and moves with the signal; the approach speed is a journey speed (vehicle-
distance over vehicle-time, Edie), not the loops' spot speed; the throughput gain is measured PCU
over the fixed plan's estimated service, n/a while that plan serves the whole demand; gauges
refresh every `update_s` of service time, not every tick; the HTTP endpoint serves exactly the
registry it was given.
"""

from __future__ import annotations

import ast
import re
import socket
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import prometheus_client
import pytest
import tomli_w
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from controller.adapters.metrics import (
    FEED_REJECT_REASONS,
    MODES,
    MetricsServer,
    ServiceMetrics,
    approach_traffic,
    junction_mode,
    lane_lengths_m,
    throughput_gain,
)
from controller.config import MetricsConfig, load_config
from controller.core import shadow
from controller.core.estimation import Estimate, LaneState, Layout
from controller.core.messages import encode_detector_message, encode_status
from controller.core.step import CoreState, TickResult
from controller.errors import AdapterError, ConfigError
from controller.model import CyclePlan, Refusal
from controller.service import ControllerService
from tests.junction_fixtures import two_phase
from tests.metrics_fixtures import CFG, core_state, exporter, junctions, status, value

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_LABELS = {"junction", "class", "reason", "kind", "mode", "le"}
GAUGE_UNITS = ("_pcu", "_seconds", "_ratio", "_per_second")
# a count of loops; an enumeration; info series (1, the reason a junction was refused at start, or its decision
# raised, as a label)
UNITLESS_GAUGES = {"tsc_detectors_faulty", "tsc_junction_mode", "tsc_junction_refused_info", "tsc_junction_failed_info"}


# -- naming -------------------------------------------------------------------------------------
def test_every_metric_follows_the_prometheus_naming_rules():
    m, reg, js = exporter("J1", "J2")
    m.tick_done(core_state(js, 0.0), TickResult(), 0.0, 0.002)
    families = list(reg.collect())
    assert len(families) >= 30
    for fam in families:
        assert fam.name.startswith("tsc_"), fam.name
        labels = {k for s in fam.samples for k in s.labels}
        assert labels <= ALLOWED_LABELS, f"{fam.name}: labels {labels - ALLOWED_LABELS}"
        if fam.type == "counter":
            assert {s.name for s in fam.samples} <= {f"{fam.name}_total", f"{fam.name}_created"}
        elif fam.type == "histogram":
            assert fam.name.endswith("_seconds"), fam.name
        else:
            assert fam.type == "gauge", fam.name
            assert fam.name.endswith(GAUGE_UNITS) or fam.name in UNITLESS_GAUGES, f"{fam.name}: no unit suffix"


def test_no_global_registry_is_touched_and_exporters_are_independent():
    before = {f.name for f in prometheus_client.REGISTRY.collect()}
    a, reg_a, _ = exporter("J1")
    _b, reg_b, _ = exporter("J1")  # same names, another registry: no "Duplicated timeseries"
    a.message_rejected("malformed_json")
    assert value(reg_a, "tsc_feed_messages_rejected_total", reason="malformed_json") == 1
    assert value(reg_b, "tsc_feed_messages_rejected_total", reason="malformed_json") == 0
    assert {f.name for f in prometheus_client.REGISTRY.collect()} == before


def test_a_non_registry_is_refused_at_construction():
    with pytest.raises(TypeError, match="CollectorRegistry"):
        ServiceMetrics(None, {}, CFG)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="update_s"):
        ServiceMetrics(CollectorRegistry(), {}, CFG, params=MetricsConfig(update_s=0.0))


def test_the_reject_reasons_cover_every_reason_the_validation_gives():
    reasons = set()
    for path in (ROOT / "controller" / "core" / "feed.py", ROOT / "controller" / "service.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "FeedError"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                reasons.add(node.args[0].value)
    assert reasons, "no FeedError reasons found: the scan is broken"
    assert reasons <= set(FEED_REJECT_REASONS), f"undeclared reasons: {reasons - set(FEED_REJECT_REASONS)}"


# -- feed messages through the service ------------------------------------------------------------
def test_messages_received_and_rejected_by_reason_through_the_service():
    reg = CollectorRegistry()
    js = {"J": two_phase()}
    m = ServiceMetrics(reg, js, CFG)
    svc = ControllerService(js, CFG, "fixed", publish=lambda cmd, payload: None, metrics=m)
    for r in FEED_REJECT_REASONS:  # every reason exists, at 0, before the first bad message
        assert value(reg, "tsc_feed_messages_rejected_total", reason=r) == 0
    svc.advance_clock(1.0)
    svc.on_detectors(encode_detector_message("J", 1.0, 1.0, {"N_stop": ({"car": 1}, 0.1, 8.0)}))
    svc.on_detectors(b"{not json")
    svc.on_detectors(encode_detector_message("K", 1.0, 1.0, {}))
    svc.on_detectors(encode_detector_message("J", 1.0, 1.0, {}), junction="J")  # same t again: stale
    svc.on_status(encode_status(status("J", 1.0, 0)))
    svc.tick(1.0)
    assert value(reg, "tsc_feed_messages_received_total", kind="detectors") == 4
    assert value(reg, "tsc_feed_messages_received_total", kind="status") == 1
    assert value(reg, "tsc_feed_messages_rejected_total", reason="malformed_json") == 1
    assert value(reg, "tsc_feed_messages_rejected_total", reason="unknown_junction") == 1
    assert value(reg, "tsc_feed_messages_rejected_total", reason="stale_timestamp") == 1
    assert value(reg, "tsc_tick_duration_seconds_count") == 1
    assert value(reg, "tsc_service_time_seconds") == 1.0
    assert sum(svc.rejected.values()) == 3


# -- plans ----------------------------------------------------------------------------------------
def plan(seq: int, plan_id: str = "J-webster-1") -> CyclePlan:
    return CyclePlan("J", plan_id, seq, (0, 1), (30.0, 25.0), 65.0, 0.0, 0.0, 20.0)


def test_plans_computed_refused_pushed_and_acknowledged():
    m, reg, js = exporter()
    get = lambda name: value(reg, f"tsc_plans_{name}_total", junction="J")  # noqa: E731
    m.tick_done(core_state(js, 1.0), TickResult(commands=(plan(1),), new_plans=1), 1.0, 0.001)
    assert (get("computed"), get("pushed"), get("acknowledged")) == (1, 1, 0)
    # A refresh of the plan in force (same id, next seq) is pushed, not computed anew.
    m.tick_done(core_state(js, 2.0), TickResult(commands=(plan(2),)), 2.0, 0.001)
    assert (get("computed"), get("pushed")) == (1, 2)
    # The roadside reports seq 2: that plan is acknowledged; seq 1 was superseded, not acknowledged.
    st = {"J": {"status": status("J", 3.0, 0, seq=2)}}
    m.tick_done(core_state(js, 3.0, **st), TickResult(), 3.0, 0.001)
    m.tick_done(core_state(js, 4.0, **st), TickResult(), 4.0, 0.001)  # the same report again
    assert get("acknowledged") == 1
    m.tick_done(core_state(js, 5.0), TickResult(refusals=(Refusal("J", "min green"),)), 5.0, 0.001)
    assert (get("computed"), get("refused_by_gate")) == (2, 1)
    # Reserved for the twin: declared at 0, counted when the twin calls.
    assert (get("validated"), get("rejected_by_twin")) == (0, 0)
    m.plan_validated("J")
    m.plan_rejected_by_twin("J")
    assert (get("validated"), get("rejected_by_twin")) == (1, 1)


# -- modes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "stale, reported, mode",
    [
        (True, None, "fallback"),
        (False, None, "fallback"),
        (False, "local", "fallback"),
        (False, "adaptive", "adaptive"),
        (True, "adaptive", "fallback"),
    ],
)
def test_junction_mode(stale, reported, mode):
    assert junction_mode(stale, reported) == mode
    assert junction_mode(stale, reported, "policy") == mode


@pytest.mark.parametrize(
    "stale, reported, harm_mode",
    [(False, "adaptive", "policy"), (True, None, None), (False, "local", "fixed"), (True, "local", "fixed")],
)
def test_an_override_in_force_is_manual_whatever_the_roadside_says(stale, reported, harm_mode):
    assert junction_mode(stale, reported, harm_mode, manual=True) == "manual"


def _only(mode: str) -> dict[str, float]:
    """The mode gauges of a junction in `mode`: 1 for it, 0 for every other."""
    return {k: float(k == mode) for k in MODES}


def test_mode_gauge_and_fallback_count():
    m, reg, js = exporter()
    modes = lambda: {k: value(reg, "tsc_junction_mode", junction="J", mode=k) for k in MODES}  # noqa: E731
    assert modes() == _only("fallback")  # before the first tick
    m.tick_done(core_state(js, 1.0, J={"stale": True}), TickResult(), 1.0, 0.001)
    assert value(reg, "tsc_junction_fallbacks_total", junction="J") == 0  # starting in fallback is no fallback
    m.tick_done(core_state(js, 2.0, J={"status": status("J", 2.0, 0)}), TickResult(), 2.0, 0.001)
    assert modes() == _only("adaptive")
    m.tick_done(core_state(js, 3.0, J={"status": status("J", 3.0, 0), "stale": True}), TickResult(), 3.0, 0.001)
    assert modes() == _only("fallback")
    assert value(reg, "tsc_junction_fallbacks_total", junction="J") == 1
    # An operator's override (TickResult.manual, filled by core/override.apply): the roadside
    # still says "adaptive" (it runs our plans), the gauge says manual.
    m.tick_done(core_state(js, 4.0, J={"status": status("J", 4.0, 0)}), TickResult(manual=("J",)), 4.0, 0.001)
    assert modes() == _only("manual")
    m.tick_done(core_state(js, 5.0, J={"status": status("J", 5.0, 0)}), TickResult(), 5.0, 0.001)
    assert modes() == _only("adaptive")
    assert value(reg, "tsc_junction_fallbacks_total", junction="J") == 1


def _failed_infos(reg: CollectorRegistry) -> list[tuple[str, str]]:
    return [
        (s.labels["junction"], s.labels["reason"])
        for f in reg.collect()
        if f.name == "tsc_junction_failed_info"
        for s in f.samples
    ]


def test_a_junction_whose_decision_raised_reads_mode_failed_with_its_reason():
    """TickResult.failed (step.Core._failed: the core withdrew J1's plan, its roadside goes back to
    its own program): J1 reads mode failed, not what its roadside's last status says, and
    tsc_junction_failed_info carries the reason up to the exception's message (what failed, its type
    and place: a message that changes, here a count, makes no new series), one series per junction
    while it fails; a new type or place replaces the series; decided again, the series goes and the
    mode follows the roadside."""
    m, reg, js = exporter("J1", "J2")
    modes = lambda jid: {k: value(reg, "tsc_junction_mode", junction=jid, mode=k) for k in MODES}  # noqa: E731
    here, there = "policy webster failed: ValueError at webster.py:1", "policy webster failed: KeyError at x.py:2"
    why, why_again, other = f"{here}: 3 PCU", f"{here}: 4 PCU", f"{there}: b"
    fields = lambda t: {j: {"status": status(j, t, 0)} for j in ("J1", "J2")}  # noqa: E731
    for t, failed, want in (
        (1.0, (), []),
        (2.0, (("J1", why),), [("J1", here)]),
        (3.0, (("J1", why_again),), [("J1", here)]),
        (4.0, (("J1", other),), [("J1", there)]),
        (5.0, (), []),
    ):
        m.tick_done(core_state(js, t, **fields(t)), TickResult(failed=failed), t, 0.001)
        assert modes("J1") == {k: float(k == ("failed" if failed else "adaptive")) for k in MODES}, t
        assert modes("J2") == {k: float(k == "adaptive") for k in MODES}, t
        assert _failed_infos(reg) == want, t
    # an operator's override in force wins (its commands replace the policy's)
    m.tick_done(core_state(js, 6.0, **fields(6.0)), TickResult(failed=(("J1", why),), manual=("J1",)), 6.0, 0.001)
    assert modes("J1") == {k: float(k == "manual") for k in MODES}
    assert _failed_infos(reg) == [("J1", here)]


def test_a_junction_refused_at_start_is_mode_refused_with_its_reason_through_the_service():
    """The service refuses J2 at start (its roadside's program shows no green: controller/
    stagecheck.py) and tells the exporter: J2 reads mode refused = 1 and every other mode 0, for
    the whole run, its reason on tsc_junction_refused_info; its estimates read NaN (not
    estimated), its counts 0; J1 is served as usual."""
    reg = CollectorRegistry()
    js = junctions("J1", "J2")
    m = ServiceMetrics(reg, js, CFG)
    svc = ControllerService(
        js, CFG, "webster", publish=lambda cmd, payload: None, metrics=m, programs={"J2": ("OOOO",)}
    )
    why = svc.refused["J2"]
    assert set(svc.refused) == {"J2"} and "phases[0].state" in why
    modes = lambda jid: {k: value(reg, "tsc_junction_mode", junction=jid, mode=k) for k in MODES}  # noqa: E731
    for t in (1.0, 2.0, 3.0):
        svc.advance_clock(t)
        svc.on_detectors(
            encode_detector_message("J1", t, 1.0, {d.id: ({"car": 1}, 0.2, 5.0) for d in js["J1"].detectors})
        )
        svc.on_status(encode_status(status("J1", t, 0)))
        svc.tick(t)
        assert modes("J2") == {k: float(k == "refused") for k in MODES}
    assert modes("J1") == {k: float(k == "adaptive") for k in MODES}
    assert value(reg, "tsc_junction_refused_info", junction="J2", reason=why) == 1
    infos = [s for f in reg.collect() if f.name == "tsc_junction_refused_info" for s in f.samples]
    assert [s.labels["junction"] for s in infos] == ["J2"]  # one series per refused junction, none for J1
    assert np.isnan(value(reg, "tsc_junction_queue_pcu", junction="J2"))
    assert np.isnan(value(reg, "tsc_junction_delay_gain_ratio", junction="J2"))
    assert value(reg, "tsc_junction_queue_pcu", junction="J1") == 0.0
    assert value(reg, "tsc_detectors_faulty", junction="J2") == 0.0
    assert value(reg, "tsc_junction_throughput_vehicles_per_second", junction="J2", **{"class": "car"}) == 0.0
    assert value(reg, "tsc_junction_fallbacks_total", junction="J2") == 0


def test_do_no_harm_mode_switches_and_gains_come_from_the_core():
    """When the core keeps a do-no-harm state per junction (`harm`: mode, switches, the shadow's
    gains), the exporter shows its mode, counts its switches and exports its gains."""
    import dataclasses
    from types import SimpleNamespace

    m, reg, js = exporter(update_s=1.0)
    gains = shadow.Gains(40.0, 50.0, 900.0, 880.0, 1000.0)  # fixed 40 s/PCU, the policy 50
    for t, (mode, switches) in enumerate((("policy", 0), ("fixed", 1), ("fixed", 1), ("policy", 1), ("fixed", 2))):
        state = core_state(
            js, float(t), J={"status": status("J", float(t), 0, mode="local" if mode == "fixed" else "adaptive")}
        )
        base = state.junctions["J"]
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        fields["harm"] = SimpleNamespace(mode=mode, switches=switches, gains=gains)
        state = replace(state, junctions={"J": SimpleNamespace(**fields)})
        m.tick_done(state, TickResult(), float(t), 1e-3)
        assert value(reg, "tsc_junction_mode", junction="J", mode="fixed" if mode == "fixed" else "adaptive") == 1
    assert value(reg, "tsc_junction_harm_switches_total", junction="J") == 2
    assert value(reg, "tsc_junction_fallbacks_total", junction="J") == 0  # a deliberate switch, not a fallback
    assert value(reg, "tsc_junction_delay_gain_ratio", junction="J") == pytest.approx(1 - 50.0 / 40.0)
    assert value(reg, "tsc_network_fixed_time_delay_seconds") == pytest.approx(40.0)


# -- per-junction gauges --------------------------------------------------------------------------
def _queue_gauges(m, reg, js) -> list[tuple[float, float]]:
    """21 ticks of one service second each, both junctions' queues t PCU per movement at tick t:
    the queue gauge of J1 and J2 after each."""
    seen = []
    for t in range(21):
        q = np.full(4, float(t))
        state = core_state(js, t, J1={"estimate": {"queue_pcu": q}}, J2={"estimate": {"queue_pcu": q}})
        m.tick_done(state, TickResult(), float(t), 0.001)
        seen.append(
            (value(reg, "tsc_junction_queue_pcu", junction="J1"), value(reg, "tsc_junction_queue_pcu", junction="J2"))
        )
    return seen


def test_junction_gauges_refresh_every_update_s_of_service_time_not_every_tick():
    m, reg, js = exporter("J1", "J2", update_s=5.0, stagger=True)
    seen = _queue_gauges(m, reg, js)
    # 2 junctions x (t = 0, 5, 10, 15, 20) for J1, staggered by 2.5 s for J2 (t = 2.5.., i.e. 3, 8, ...)
    assert m.updates == 9
    assert [s[0] for s in seen[:11]] == [0] * 5 + [20] * 5 + [40]
    assert [s[1] for s in seen[:9]] == [0] * 3 + [12] * 5 + [32]


def test_junction_gauges_refresh_all_together_without_stagger():
    """[metrics] stagger = false (the default): every junction refreshed in the same tick, every
    update_s of service time, as one group."""
    m, reg, js = exporter("J1", "J2", update_s=5.0)
    seen = _queue_gauges(m, reg, js)
    assert m.updates == 10  # 2 junctions x (t = 0, 5, 10, 15, 20)
    assert [s[0] for s in seen[:11]] == [0] * 5 + [20] * 5 + [40]
    assert [s[1] for s in seen] == [s[0] for s in seen]
    assert list(m._groups) == [("J1", "J2")]  # one group: their figures from one pass


def test_throughput_by_class_is_per_second_of_service_time():
    m, reg, js = exporter(update_s=10.0, throughput_window_s=100.0)
    for t in range(201):
        crossed = (("bus", t // 20), ("car", t), ("motorcycle", 0), ("truck", 0))
        m.tick_done(core_state(js, t, J={"estimate": {"crossed_by_class": crossed}}), TickResult(), float(t), 1e-3)
    car = value(reg, "tsc_junction_throughput_vehicles_per_second", junction="J", **{"class": "car"})
    bus = value(reg, "tsc_junction_throughput_vehicles_per_second", junction="J", **{"class": "bus"})
    assert car == pytest.approx(1.0) and bus == pytest.approx(0.05)
    assert value(reg, "tsc_junction_throughput_vehicles_per_second", junction="J", **{"class": "truck"}) == 0
    assert value(reg, "tsc_network_throughput_vehicles_per_second") == pytest.approx(1.05)


def test_detector_faults_gauge_and_onsets():
    m, reg, js = exporter(update_s=1.0)
    lay = Layout.build(js["J"], CFG)
    health = Estimate.empty(lay, 0.0).health
    faulty = np.zeros(len(lay.det_index), dtype=bool)
    for t, idx in enumerate(([], [0], [0, 3], [3], [3])):
        f = faulty.copy()
        f[idx] = True
        m.tick_done(core_state(js, t, J={"estimate": {"health": replace(health, faulty=f)}}), TickResult(), t, 1e-3)
    assert value(reg, "tsc_detectors_faulty", junction="J") == 1
    assert value(reg, "tsc_detector_faults_total", junction="J") == 2


def test_cycle_is_the_plan_in_force_else_the_measured_one():
    m, reg, js = exporter(update_s=1.0)
    base = js["J"].base_cycle_s()
    assert value(reg, "tsc_junction_cycle_seconds", junction="J") == base
    m.tick_done(core_state(js, 0.0, J={"command": replace(plan(1), cycle_s=80.0)}), TickResult(), 0.0, 1e-3)
    assert value(reg, "tsc_junction_cycle_seconds", junction="J") == 80.0
    # Acyclic control: the measured interval between green onsets (here a 40 s cycle).
    for t in range(1, 800):
        phase = 0 if (t % 40) < 20 else 1
        m.tick_done(core_state(js, t, J={"status": status("J", t, phase)}), TickResult(), float(t), 1e-3)
    assert value(reg, "tsc_junction_cycle_seconds", junction="J") == pytest.approx(40.0, rel=0.05)


# -- the gain -------------------------------------------------------------------------------------
def with_harm(state: CoreState, gains: dict) -> CoreState:
    """The core state with a do-no-harm state per junction carrying the given shadow gains."""
    import dataclasses
    from types import SimpleNamespace

    out = {}
    for jid, js in state.junctions.items():
        fields = {f.name: getattr(js, f.name) for f in dataclasses.fields(js)}
        fields["harm"] = SimpleNamespace(mode="policy", switches=0, gains=gains[jid])
        out[jid] = SimpleNamespace(**fields)
    return replace(state, junctions=out)


def test_network_gain_is_the_demand_weighted_total_of_the_cores_shadow_and_moves_with_it():
    m, reg, js = exporter("A", "B", update_s=1.0, gain_window_s=300.0)  # both fresh at the end
    flows = {"A": np.array([200.0, 700.0, 200.0, 700.0]), "B": np.array([500.0, 100.0, 500.0, 100.0])}
    gains_seen = []
    for t in range(1201):
        # the core's replay: the policy 10 % better than fixed at first, 20 % worse after 600 s
        ctrl = 30.0 if t < 600 else 48.0
        g = {
            "A": shadow.Gains(40.0, ctrl, 1750.0, 1750.0, 1800.0),
            "B": shadow.Gains(20.0, 20.0, 1200.0, 1200.0, 1200.0),
        }
        cycle = (30, 25) if t < 600 else (20, 40)
        pos = t % (sum(cycle) + 10)
        phase = 0 if pos < cycle[0] + 5 else 1
        inter = cycle[0] <= pos < cycle[0] + 5 or pos >= sum(cycle) + 5
        state = core_state(
            js,
            t,
            **{
                jid: {
                    "status": status(jid, t, phase, intergreen=inter),
                    "estimate": {"flow_pcu_h": flows[jid], "lanes": replace(LaneState.empty(4), flow_pcu_h=flows[jid])},
                }
                for jid in js
            },
        )
        m.tick_done(with_harm(state, g), TickResult(), float(t), 1e-3)
        if t % 100 == 0:
            gains_seen.append(value(reg, "tsc_network_delay_gain_ratio"))
    tot = shadow.total([g["A"], g["B"]])
    assert value(reg, "tsc_network_delay_seconds") == pytest.approx((1800 * 48.0 + 1200 * 20.0) / 3000, rel=1e-12)
    assert value(reg, "tsc_network_delay_seconds") == pytest.approx(tot.delay_controlled_s, rel=1e-12)
    assert value(reg, "tsc_network_fixed_time_delay_seconds") == pytest.approx(tot.delay_fixed_s, rel=1e-12)
    assert value(reg, "tsc_network_delay_gain_ratio") == pytest.approx(tot.delay_gain, rel=1e-12)
    for jid in js:
        assert value(reg, "tsc_junction_delay_gain_ratio", junction=jid) == pytest.approx(g[jid].delay_gain)
    assert max(gains_seen) - min(gains_seen) > 0.05, gains_seen  # the gauge follows the core's shadow
    # The run report: service-time means of the same figures.
    run = m.report()["run"]
    assert (
        tot.delay_gain
        < run["delay_gain"]
        < shadow.total([shadow.Gains(40.0, 30.0, 0, 0, 1800.0), shadow.Gains(20.0, 20.0, 0, 0, 1200.0)]).delay_gain
    )
    # A degree of saturation per junction, from the green actually given.
    assert value(reg, "tsc_junction_degree_of_saturation_ratio", junction="A") > 0


NETWORK_GAUGES = (
    "tsc_network_delay_gain_ratio",
    "tsc_network_delay_seconds",
    "tsc_network_fixed_time_delay_seconds",
    "tsc_network_demand_pcu_per_second",
    "tsc_network_throughput_vehicles_per_second",
    "tsc_network_throughput_pcu_per_second",
    "tsc_network_fixed_time_throughput_pcu_per_second",
    "tsc_network_approach_speed_meters_per_second",
    "tsc_network_measured_delay_seconds",
    "tsc_network_loop_speed_meters_per_second",
)


def _traffic(js: dict, t: int) -> CoreState:
    """A steady state per junction, another for each (A, B, ...): the shadow's gains, arrivals,
    a queue between the loops, the advance loops' speed, the stop-line crossings."""
    per, gains = {}, {}
    for k, (jid, j) in enumerate(js.items()):
        n = len(j.movements)
        q = 0.1 * (k + 1)  # PCU/s a lane
        flow = np.full(n, q * 3600.0)
        lanes = replace(
            LaneState.empty(n),
            queue_pcu=np.full(n, 2.0 + 3 * k),
            adv_speed_mps=np.full(n, 12.0 - 4 * k),
            flow_pcu_h=flow,
            dep_flow_pcu_h=0.9 * flow,
        )
        crossed = (("bus", 0), ("car", (k + 1) * t), ("motorcycle", 0), ("truck", 0))
        est = {
            "arrivals_pcu": np.full(n, q * t),
            "departures_pcu": np.full(n, 0.9 * q * t),
            "lanes": lanes,
            "flow_pcu_h": flow,
            "crossed_by_class": crossed,
        }
        per[jid] = {"estimate": est, "status": status(jid, t, 0 if t % 60 < 30 else 1)}
        gains[jid] = shadow.Gains(40.0 - 15 * k, 30.0 + 10 * k, 1000.0, 1000.0, 1800.0 - 600 * k)
    return with_harm(core_state(js, float(t), **per), gains)


def test_network_gauges_cover_a_taken_region_s_junctions_until_it_is_handed_back():
    """An instance that has taken a region over (ServiceMetrics.share, controller/takeover.py)
    controls both regions' junctions: its tsc_network_* gauges read what one exporter of all of
    them reads; handed back (leave), what one of its own junctions alone reads."""
    params = {"update_s": 5.0, "throughput_window_s": 300.0}
    both, reg_both, js = exporter("A", "B", **params)
    alone, reg_alone, _ = exporter("A", **params)
    own, reg, _ = exporter("A", **params)
    taken = own.share({"B": js["B"]}, CFG)

    def tick(t: int, *, shared: bool = True) -> None:
        state = _traffic(js, t)
        a, b = (replace(state, junctions={jid: state.junctions[jid]}) for jid in ("A", "B"))
        both.tick_done(state, TickResult(), float(t), 1e-3)
        alone.tick_done(a, TickResult(), float(t), 1e-3)
        if shared:  # as Failover.tick, but the taken node first: B's refresh is in A's network figures
            taken.tick_done(b, TickResult(), float(t), 1e-3)
        own.tick_done(a, TickResult(), float(t), 1e-3)

    for t in range(601):
        tick(t)
    for name in NETWORK_GAUGES:
        got, want, a_only = value(reg, name), value(reg_both, name), value(reg_alone, name)
        assert got == pytest.approx(want, rel=1e-9), name
        assert a_only != pytest.approx(want, rel=1e-3), f"{name}: B changes nothing, the test cannot fail"
    assert value(reg, "tsc_network_throughput_vehicles_per_second") == pytest.approx(3.0)  # A 1 car/s, B 2
    taken.leave()
    for t in range(601, 611):
        tick(t, shared=False)
    for name in NETWORK_GAUGES:
        assert value(reg, name) == pytest.approx(value(reg_alone, name), rel=1e-9), name


def test_without_a_shadow_in_the_core_state_the_gains_are_not_a_number():
    m, reg, js = exporter(update_s=1.0)
    for t in range(3):
        m.tick_done(core_state(js, float(t), J={"status": status("J", float(t), 0)}), TickResult(), float(t), 1e-3)
    assert np.isnan(value(reg, "tsc_junction_delay_gain_ratio", junction="J"))
    assert value(reg, "tsc_network_delay_gain_ratio") == 0.0  # no demand: no delay either way


# -- approach speed and measured delay --------------------------------------------------------------
def test_approach_traffic_by_hand():
    """One 100 m lane, loops 80 m apart, 10 PCU in 100 s at 10 m/s."""
    one = lambda x: np.array([x])  # noqa: E731
    # Free flow: the zone holds q·zone/v = 0.1 × 80 / 10 = 0.8 PCU: the journey speed is v, no delay.
    t = approach_traffic(one(10.0), one(100.0), one(80.0), one(10.0), counted_pcu=0.8, dt_s=100.0)
    assert t.distance_pcu_m / t.time_pcu_s == pytest.approx(10.0)
    assert t.delay_pcu_s == pytest.approx(0.0, abs=1e-9)
    # A standing queue of 8 PCU between the loops: 800 PCU-s there + 10 × 20 m / 10 m/s upstream.
    t = approach_traffic(one(10.0), one(100.0), one(80.0), one(10.0), counted_pcu=8.0, dt_s=100.0)
    assert t.time_pcu_s == pytest.approx(820.0)
    assert t.distance_pcu_m / t.time_pcu_s == pytest.approx(1000.0 / 820.0)
    assert t.delay_pcu_s / t.arrived_pcu == pytest.approx((800.0 - 80.0) / 10.0)


def test_lane_length_is_read_off_the_loops():
    lay = Layout.build(two_phase(), CFG)
    assert list(lane_lengths_m(lay)) == [100.0] * 4  # stop loop at pos 98 m, 2 m from the stop line


def feed_traffic(
    m,
    js,
    seconds: int,
    *,
    q_pcu_s: float,
    queue_pcu: float,
    adv_speed_mps: float,
    departed_pcu_s: np.ndarray | None = None,
    flow_pcu_h: np.ndarray | None = None,
    dep_flow_pcu_h: np.ndarray | None = None,
):
    """Every lane of every junction (two_phase: one lane per movement): q_pcu_s arriving,
    queue_pcu counted between the loops, the advance loops' moving vehicles at adv_speed_mps;
    cumulative departures at departed_pcu_s; the estimator's advance-loop flow_pcu_h and
    stop-line dep_flow_pcu_h."""
    for t in range(seconds + 1):
        per = {}
        for jid, j in js.items():
            n = len(j.movements)
            flow = flow_pcu_h if flow_pcu_h is not None else np.full(n, q_pcu_s * 3600.0)
            lanes = replace(
                LaneState.empty(n),
                queue_pcu=np.full(n, queue_pcu),
                adv_speed_mps=np.full(n, adv_speed_mps),
                flow_pcu_h=flow,
            )
            if dep_flow_pcu_h is not None:  # two_phase: one lane per movement, same order
                lanes = replace(lanes, dep_flow_pcu_h=dep_flow_pcu_h)
            est = {"arrivals_pcu": np.full(n, q_pcu_s * t), "lanes": lanes, "flow_pcu_h": flow}
            if departed_pcu_s is not None:
                est["departures_pcu"] = departed_pcu_s * t
            per[jid] = {"estimate": est}
        m.tick_done(core_state(js, float(t), **per), TickResult(), float(t), 1e-3)


def test_speed_is_a_journey_speed_not_the_loops_spot_speed():
    # 4 lanes of 100 m, zone 78 m; 0.1 PCU/s each; 5 PCU queued between the loops; 12 m/s at the loops.
    m, reg, js = exporter(update_s=5.0, throughput_window_s=300.0)
    feed_traffic(m, js, 600, q_pcu_s=0.1, queue_pcu=5.0, adv_speed_mps=12.0)
    per_lane_time = 5.0 + 0.1 * (100.0 - 78.0) / 12.0  # PCU-s per s on each lane
    speed = 0.1 * 100.0 / per_lane_time  # 1.93 m/s
    assert value(reg, "tsc_junction_approach_speed_meters_per_second", junction="J") == pytest.approx(speed, rel=0.01)
    assert value(reg, "tsc_network_approach_speed_meters_per_second") == pytest.approx(speed, rel=0.01)
    # The figure the overview showed before: the spot speed of the vehicles crossing the loops.
    assert value(reg, "tsc_network_loop_speed_meters_per_second") == pytest.approx(12.0)
    delay = (5.0 - 0.1 * 78.0 / 12.0) / 0.1  # 43.5 s per PCU over the stop line
    assert value(reg, "tsc_junction_measured_delay_seconds", junction="J") == pytest.approx(delay, rel=0.01)
    assert value(reg, "tsc_network_measured_delay_seconds") == pytest.approx(delay, rel=0.01)
    run = m.report()["run"]
    assert run["speed_kmh"] == pytest.approx(speed * 3.6, rel=0.02)
    assert run["loop_speed_kmh"] == pytest.approx(12.0 * 3.6)
    assert run["measured_delay_s"] == pytest.approx(delay, rel=0.02)


def test_free_flow_reads_the_loop_speed_and_no_delay():
    m, reg, _ = exporter(update_s=5.0)
    js = m_junctions = {"J": two_phase()}  # noqa: F841
    feed_traffic(m, js, 300, q_pcu_s=0.2, queue_pcu=0.2 * 78.0 / 12.0, adv_speed_mps=12.0)
    assert value(reg, "tsc_network_approach_speed_meters_per_second") == pytest.approx(12.0, rel=1e-6)
    assert value(reg, "tsc_network_measured_delay_seconds") == pytest.approx(0.0, abs=1e-6)


# -- throughput gain -------------------------------------------------------------------------------
def test_throughput_gain_is_measured_service_over_the_fixed_plans_estimated_service():
    # Base program 30 s / 25 s in a 65 s cycle at 1800 PCU/h: N/S capacity 830.8, E/W 692.3 PCU/h.
    cap_ns = 1800 * 30 / 65  # E/W (692.3) stays above its demand of 500
    demand = np.array([1000.0, 500.0, 1000.0, 500.0])  # N, E, S, W: N/S above the fixed plan's capacity
    fixed_served = 2 * cap_ns + 2 * 500.0
    departed = np.array([950.0, 500.0, 950.0, 500.0]) / 3600.0  # the policy serves 950 PCU/h of N/S
    m, reg, js = exporter(update_s=5.0, throughput_window_s=300.0)
    feed_traffic(
        m,
        js,
        900,
        q_pcu_s=0.1,
        queue_pcu=1.0,
        adv_speed_mps=12.0,
        departed_pcu_s=departed,
        flow_pcu_h=demand,
        dep_flow_pcu_h=departed * 3600.0,
    )
    gain = 2900.0 / fixed_served - 1.0  # +9.0 %
    assert value(reg, "tsc_junction_throughput_gain_ratio", junction="J") == pytest.approx(gain, rel=1e-6)
    assert value(reg, "tsc_network_throughput_gain_ratio") == pytest.approx(gain, rel=1e-6)
    assert value(reg, "tsc_network_throughput_pcu_per_second") == pytest.approx(2900.0 / 3600.0)
    assert m.report()["run"]["throughput_gain"] == pytest.approx(gain, rel=1e-3)
    assert throughput_gain(1000.0, 1000.0, 0.5, 1000.5) is None  # the fixed plan serves it all: n/a


def test_throughput_gain_demand_is_never_below_what_crossed_the_stop_line():
    # E/W advance loops miss vehicles (100 PCU/h) while 600 PCU/h cross the stop line: the fixed
    # plan would have served those 600 too (capacity 692), so serving them is no gain.
    cap_ns = 1800 * 30 / 65
    flows = np.array([1000.0, 100.0, 1000.0, 100.0])
    dep = np.array([cap_ns, 600.0, cap_ns, 600.0])
    m, reg, js = exporter(update_s=5.0, throughput_window_s=300.0)
    feed_traffic(
        m,
        js,
        900,
        q_pcu_s=0.1,
        queue_pcu=1.0,
        adv_speed_mps=12.0,
        departed_pcu_s=dep / 3600.0,
        flow_pcu_h=flows,
        dep_flow_pcu_h=dep,
    )
    assert value(reg, "tsc_network_throughput_gain_ratio") == pytest.approx(0.0, abs=1e-9)
    assert throughput_gain(1100.0, 1000.0, 200.0, 1200.0) == pytest.approx(0.1)


# -- the endpoint ---------------------------------------------------------------------------------
def test_http_endpoint_serves_the_registry_it_was_given():
    m, reg, js = exporter()
    m.tick_done(core_state(js, 0.0), TickResult(), 0.0, 0.003)
    with MetricsServer(reg, 0) as server:
        body = urllib.request.urlopen(server.url, timeout=5).read().decode()
    names = {f.name for f in text_string_to_metric_families(body)}
    assert {"tsc_tick_duration_seconds", "tsc_network_delay_gain_ratio", "tsc_junction_queue_pcu"} <= names
    assert not any(n.startswith(("python_", "process_")) for n in names)  # the private registry only


def test_endpoint_on_a_busy_port_is_a_fatal_adapter_error_naming_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(AdapterError, match=f"127.0.0.1:{port}") as exc:
            MetricsServer(CollectorRegistry(), port)
        assert exc.value.fatal
    with pytest.raises(ValueError, match="0..65535"):
        MetricsServer(CollectorRegistry(), 70000)


# -- config ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, bad, message",
    [
        ("update_s", 0.0, "metrics.update_s"),
        ("gain_window_s", -1.0, "metrics.gain_window_s"),
        ("port", 70000, "metrics.port"),
        ("port", "x", "metrics.port"),
    ],
)
def test_config_names_a_bad_metrics_value(tmp_path, key, bad, message):
    p = tmp_path / "config.toml"
    p.write_text(tomli_w.dumps({"metrics": {key: bad}}))
    with pytest.raises(ConfigError, match=message):
        load_config(p)


def test_bundled_config_sets_every_metrics_key():
    import dataclasses
    import tomllib

    raw = tomllib.loads((ROOT / "config.toml").read_text())["metrics"]
    assert set(raw) == {f.name for f in dataclasses.fields(MetricsConfig)}
    cfg = load_config(ROOT / "config.toml")
    assert ServiceMetrics(CollectorRegistry(), {}, cfg).params == cfg.metrics


# -- dashboards and docs agree with the exporter --------------------------------------------------
def exported_sample_names() -> set[str]:
    m, reg, js = exporter("J1")
    m.tick_done(core_state(js, 0.0), TickResult(), 0.0, 0.001)
    return {s.name for fam in reg.collect() for s in fam.samples} | {fam.name for fam in reg.collect()}


def test_dashboards_only_query_exported_metrics_and_are_well_formed():
    import json

    names = exported_sample_names()
    paths = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
    assert {p.stem for p in paths} >= {"tsc-overview", "tsc-junction", "tsc-health"}
    for path in paths:
        dash = json.loads(path.read_text())
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for p in dash["panels"]:
            assert p["datasource"]["uid"] == "${datasource}", f"{path.name}: {p['title']}"
            assert p["targets"], f"{path.name}: {p['title']} has no query"
            for t in p["targets"]:
                for used in re.findall(r"\btsc_\w+", t["expr"]):
                    assert used in names, f"{path.name}: {p['title']}: {used} is not exported"
        variables = {v["name"] for v in dash["templating"]["list"]}
        assert "datasource" in variables
        if path.stem == "tsc-junction":
            assert "junction" in variables
            assert all('junction=~"$junction"' in t["expr"] for p in dash["panels"] for t in p["targets"])


def test_docs_describe_every_metric():
    doc = (ROOT / "docs" / "metrics.md").read_text()
    _m, reg, _ = exporter("J1")
    for fam in reg.collect():
        shown = f"{fam.name}_total" if fam.type == "counter" else fam.name
        assert f"`{shown}`" in doc, f"docs/metrics.md does not describe {shown}"
    for reason in FEED_REJECT_REASONS:
        assert f"`{reason}`" in doc

"""Issue 14's wiring: [validation] enabled needs a network file that exists; the live service
feeds a RecentCounts from the detector messages it accepts and gives the operators' desk a gate."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from controller.adapters.metrics import ServiceMetrics
from controller.adapters.mqtt import MqttSettings
from controller.config import load_config
from controller.core.validation import ValidationParams
from controller.errors import ConfigError
from controller.live import ServiceNode
from controller.model import VEHICLE_CLASSES, CycleWish
from sim import twin
from tests import twin_fakes
from tests.service_fixtures import CFG, JUNCTIONS, feed

NET = Path(__file__).resolve().parents[2] / "sim" / "scenarios" / "spider" / "spider.net.xml"


@pytest.mark.parametrize("network", ["", "missing.net.xml"])
def test_enabled_validation_without_an_existing_network_is_refused(tmp_path, network):
    p = tmp_path / "c.toml"
    p.write_text(f'[validation]\nenabled = true\nnetwork = "{network}"\n')
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(p) in str(err.value) and "validation.network" in str(err.value)
    if network:
        assert "missing.net.xml" in str(err.value)


def test_enabled_validation_with_a_network_beside_the_config_loads(tmp_path):
    (tmp_path / "city.net.xml").write_text("<net/>")
    p = tmp_path / "c.toml"
    p.write_text('[validation]\nenabled = true\nnetwork = "city.net.xml"\n')
    assert load_config(p).validation.enabled


def test_enabled_validation_refuses_a_missing_additional_file(tmp_path):
    (tmp_path / "city.net.xml").write_text("<net/>")
    (tmp_path / "tls.add.xml").write_text("<additional/>")
    p = tmp_path / "c.toml"
    p.write_text(
        '[validation]\nenabled = true\nnetwork = "city.net.xml"\nadditional_files = ["tls.add.xml", "gone.add.xml"]\n'
    )
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert "validation.additional_files" in str(err.value) and "gone.add.xml" in str(err.value)


@pytest.mark.parametrize(
    "value, files, warned",
    [
        ('["tls.add.xml", "more.add.xml"]', ("tls.add.xml", "more.add.xml"), False),
        ('"tls.add.xml, more.add.xml"', ("tls.add.xml", "more.add.xml"), True),
        ('""', (), False),
    ],
)
def test_additional_files_is_a_list_and_the_comma_string_still_loads(tmp_path, caplog, value, files, warned):
    """The TOML list; the comma-separated string session 21 shipped loads too, with a warning
    (not its empty default, which every config copy of session 21 carries)."""
    for name in ("tls.add.xml", "more.add.xml"):
        (tmp_path / name).write_text("<additional/>")
    p = tmp_path / "c.toml"
    p.write_text(f"[validation]\nadditional_files = {value}\n")
    with caplog.at_level("WARNING"):
        assert load_config(p).validation.additional_files == files
    assert ("a list is expected" in caplog.text) == warned


@pytest.mark.parametrize("value", ["[1, 2]", '["a.xml", ""]', "7"])
def test_additional_files_that_are_not_names_are_refused(tmp_path, value):
    p = tmp_path / "c.toml"
    p.write_text(f"[validation]\nadditional_files = {value}\n")
    with pytest.raises(ConfigError, match="validation.additional_files"):
        load_config(p)


def test_disabled_validation_needs_no_network(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[validation]\nenabled = false\nnetwork = "missing.net.xml"\n')
    assert not load_config(p).validation.enabled


# -- the live service's wiring -------------------------------------------------------------
def _node(validation: ValidationParams, lockstep: bool = False):
    from controller.live import ServiceNode

    cfg = dataclasses.replace(CFG, validation=validation)
    metrics = ServiceMetrics(CollectorRegistry(), JUNCTIONS, cfg)
    return ServiceNode(
        cfg,
        JUNCTIONS,
        MqttSettings.from_config(cfg.broker, "wiring-test"),
        start_s=0.0,
        lockstep=lockstep,
        metrics=metrics,
    ), metrics


def test_enabled_validation_gives_the_desk_a_gate_and_the_service_a_counts_window():
    node, metrics = _node(ValidationParams(enabled=True, network=str(NET), window_s=120.0, horizon_s=300.0, seed=7))
    dv = node.desk.validation
    assert dv is not None and dv.gate.predict is twin.predict and dv.gate.metrics is metrics
    assert dv.make_request.net_file == str(NET) and dv.make_request.recent is node.service.recent
    node.service.advance_clock(1.0)
    node.service.on_detectors(feed("J1", 1.0, cars=2))
    node.service.advance_clock(2.0)
    node.service.on_detectors(feed("J1", 2.0, cars=3))
    node.service.on_detectors(b"not json")  # refused: never counted
    loops = [d.id for d in JUNCTIONS["J1"].detectors]
    car = VEHICLE_CLASSES.index("car")
    assert {loop: c[car] for loop, c in node.service.recent.totals(2.0).items()} == dict.fromkeys(loops, 5)
    wish = CycleWish((0, 1), (20.0, 20.0), 0.0)
    req = dv.make_request(JUNCTIONS["J1"], wish, None, {}, 2.0)
    assert req.candidate == {"J1": wish} and req.incumbent == {} and req.window_s == 120.0
    assert req.horizon_s == 300.0 and req.seed == 7 and set(req.counts) == set(loops)


def test_disabled_validation_and_lockstep_replays_build_no_gate():
    node, _ = _node(ValidationParams())
    assert node.desk.validation is None and node.service.recent is None
    node, _ = _node(ValidationParams(enabled=True, network=str(NET)), lockstep=True)
    assert node.desk is None and node.service.recent is None


def test_the_gate_counts_its_verdicts_and_times_its_twin_in_the_service_metrics():
    from controller.validation import ValidationGate
    from tests import twin_fakes
    from tests.junction_fixtures import two_phase

    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry, {"J": two_phase()}, CFG)
    gate = ValidationGate(
        ValidationParams(enabled=True, timeout_s=20.0), twin_fakes.predict_from_request, metrics=metrics
    )
    cand, inc = CycleWish((0, 1), (20.0, 35.0)), CycleWish((0, 1), (30.0, 25.0))
    gate.validate(two_phase(), cand, inc, {"incumbent": {"J": 100.0}, "candidate": {"J": 300.0}}, "alice", 5.0)
    gate.validate(two_phase(), cand, inc, {"incumbent": {"J": 100.0}, "candidate": {"J": 90.0}}, "alice", 6.0)
    gate.validate(two_phase(), CycleWish((0, 1), (2.0, 25.0)), inc, {}, "alice", 7.0)  # safety gate: no twin
    sample = registry.get_sample_value
    assert sample("tsc_plans_rejected_by_twin_total", {"junction": "J"}) == 1.0
    assert sample("tsc_plans_validated_total", {"junction": "J"}) == 1.0
    assert sample("tsc_twin_run_duration_seconds_count") == 2.0
    assert 0 < sample("tsc_twin_run_duration_seconds_sum") < 40
    helps = {m.name: m.documentation for m in registry.collect()}
    for name in ("tsc_plans_validated", "tsc_plans_rejected_by_twin", "tsc_twin_run_duration_seconds"):
        assert "twin" in helps[name] and "reserved" not in helps[name].lower()


def test_the_live_twin_runs_the_citys_programs_and_vehicle_types(tmp_path):
    """[validation] additional_files: the tlLogic and vType files among them go to both twins
    (the plan twin's and the policy twin's requests), so their `fixed` is the city's program."""
    tls, vtypes, other = tmp_path / "tls.add.xml", tmp_path / "vtypes.add.xml", tmp_path / "loops.add.xml"
    tls.write_text('<additional><tlLogic id="J1" programID="city" offset="0" type="static"/></additional>')
    vtypes.write_text('<additional><vType id="bus" vClass="bus"/></additional>')
    other.write_text("<additional/>")
    names = tuple(str(f) for f in (tls, vtypes, other))
    node, _ = _node(ValidationParams(enabled=True, network=str(NET), additional_files=names))
    dv = node.desk.validation
    for maker in (dv.make_request, dv.make_policy_request):
        assert maker.programs == (str(tls),) and maker.vtype_files == (str(vtypes),)


def test_a_nodes_metrics_reach_the_desks_gate_by_the_protocols_declared_methods():
    """The desk's gate counts its verdicts in the node's metrics by NodeMetrics (controller/live.py:
    Observer and TwinMetrics), not found by probing the object (STYLE: a capability is declared,
    not discovered): an observer built from exactly the protocol's declared methods is the gate's,
    and hears plan_validated and twin_ran for a candidate the twin passes."""
    from controller.live import NodeMetrics
    from tests.junction_fixtures import two_phase

    protocols = [c for c in NodeMetrics.__mro__ if getattr(c, "_is_protocol", False)]
    declared = {n for c in protocols for n, v in vars(c).items() if callable(v) and not n.startswith("_")}
    heard: list = []

    def recorder(name: str):
        return lambda self, *args, **kwargs: heard.append((name, args))

    DeclaredOnly = type("DeclaredOnly", (), {name: recorder(name) for name in declared})
    metrics = DeclaredOnly()
    cfg = dataclasses.replace(CFG, validation=ValidationParams(enabled=True, network=str(NET), timeout_s=20.0))
    node = ServiceNode(cfg, JUNCTIONS, MqttSettings.from_config(cfg.broker, "wiring-test"), metrics=metrics)
    gate = node.desk.validation.gate
    assert {"plan_validated", "plan_rejected_by_twin", "twin_ran", "tick_done"} <= declared
    assert gate.metrics is metrics
    gate.predict = twin_fakes.predict_from_request
    cand, inc = CycleWish((0, 1), (20.0, 35.0)), CycleWish((0, 1), (30.0, 25.0))
    gate.validate(two_phase(), cand, inc, {"incumbent": {"J": 100.0}, "candidate": {"J": 90.0}}, "alice", 6.0)
    assert ("plan_validated", ("J",)) in heard and [n for n, _ in heard].count("twin_ran") == 1


def test_the_service_metrics_implement_every_method_a_node_reports_by():
    """ServiceMetrics (what `run` gives its node) has each NodeMetrics method with the protocol's
    parameters, so no report of the node or its desk's gate is lost."""
    import inspect

    from controller.live import NodeMetrics

    protocols = [c for c in NodeMetrics.__mro__ if getattr(c, "_is_protocol", False)]
    declared = {n: v for c in protocols for n, v in vars(c).items() if callable(v) and not n.startswith("_")}
    assert len(declared) >= 8
    for name, method in declared.items():
        params = list(inspect.signature(method).parameters)
        assert list(inspect.signature(getattr(ServiceMetrics, name)).parameters) == params, name

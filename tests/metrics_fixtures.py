"""Builders shared by the metrics tests: an exporter on a fresh registry, a core state, a status
and a metric's value read back."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import CollectorRegistry

from controller.adapters.metrics import ServiceMetrics
from controller.config import Config, MetricsConfig
from controller.core.estimation import Estimate, Layout
from controller.core.step import CoreState, JunctionState
from controller.junctions import parse_intersection
from controller.model import SignalStatus
from tests.junction_fixtures import two_phase, two_phase_raw

CFG = Config()


def exporter(*ids: str, **params) -> tuple[ServiceMetrics, CollectorRegistry, dict]:
    reg = CollectorRegistry()
    js = junctions(*ids) if ids else {"J": two_phase()}
    return ServiceMetrics(reg, js, CFG, params=MetricsConfig(**params) if params else None), reg, js


def value(reg: CollectorRegistry, name: str, **labels) -> float | None:
    return reg.get_sample_value(name, labels)


def core_state(js: dict, t_s: float, **per_junction) -> CoreState:
    """per_junction: jid -> dict of JunctionState fields (estimate given as a dict of Estimate fields)."""
    out = {}
    for jid, j in js.items():
        lay = Layout.build(j, CFG)
        fields = dict(per_junction.get(jid, {}))
        est = replace(Estimate.empty(lay, t_s), **fields.pop("estimate", {}))
        out[jid] = JunctionState(est, None, **{"stale": False, **fields})
    return CoreState(t_s, out)


def status(jid: str, t_s: float, phase: int, mode: str = "adaptive", seq: int = 0, intergreen: bool = False):
    return SignalStatus(jid, t_s, phase, intergreen, 0.0, "p", seq, mode)


def junctions(*ids: str) -> dict:
    out = {}
    for jid in ids:
        raw = two_phase_raw()
        raw["id"] = jid
        for d in raw["detectors"]:
            d["id"] = f"{jid}_{d['id']}"
        out[jid] = parse_intersection(raw, f"<{jid}>")
    return out

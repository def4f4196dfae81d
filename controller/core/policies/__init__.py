"""Policies behind one Protocol, in a registry by name.

A policy sees the junction layout, the estimate from the detectors and the signal's reported
state; it returns a *wish* (CycleWish or PhaseWish) or None to keep what is in force. Only the
safety gate (core/safety.py) turns a wish into a command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol

from controller.core.estimation import Estimate, Layout
from controller.core.safety import SignalView
from controller.model import Wish

if TYPE_CHECKING:
    from controller.config import Config


class Policy(Protocol):
    name: str

    def init(self, layout: Layout, now_s: float) -> Any:
        """The policy's state for one junction."""

    def decide(self, state: Any, layout: Layout, est: Estimate, signal: SignalView | None,
               now_s: float) -> tuple[Any, Wish | None]:
        """New state, and a wish or None (keep the command in force / send nothing)."""


def _fixed(cfg: "Config") -> Policy:
    from controller.core.policies.fixed import FixedPolicy
    return FixedPolicy()


def _webster(cfg: "Config") -> Policy:
    from controller.core.policies.webster import WebsterPolicy
    return WebsterPolicy(cfg.webster.period_s, cfg.webster.lost_time_per_phase_s, cfg.webster.max_flow_ratio)


def _max_pressure(cfg: "Config") -> Policy:
    from controller.core.policies.max_pressure import MaxPressurePolicy
    c = cfg.max_pressure
    return MaxPressurePolicy(c.switch_service_s, c.wait_scale_s, c.permitted_sat_ratio, c.clearance_min_pcu,
                             c.downstream_weight)


REGISTRY: dict[str, Callable[["Config"], Policy]] = {"fixed": _fixed, "webster": _webster, "max_pressure": _max_pressure}


def make_policy(name: str, cfg: "Config") -> Policy:
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    return factory(cfg)

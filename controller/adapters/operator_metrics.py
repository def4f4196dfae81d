"""Prometheus metrics of what operators watch and do: the phase and plan in force at each
junction (from its roadside status), the overrides in force, and the operators' actions.

A companion of controller/adapters/metrics.py (the traffic figures), in the same registry,
refreshed every `update_s` of service time by the live service (controller/live.py).

    tsc_junction_phase{junction}                      green phase in force (or being changed to); -1 no status
    tsc_junction_in_intergreen{junction}              1 during a yellow / all-red
    tsc_junction_plan_info{junction,plan_id,roadside_mode}   1 for the plan the roadside reports in force
    tsc_junction_override_seconds{junction,operator,action}  seconds left of the override in force
    tsc_operator_actions_total{action,accepted}       override messages answered
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge

if TYPE_CHECKING:
    from controller.service import ControllerService

PREFIX = "tsc"


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry, update_s: float) -> None:
        r = registry
        self.phase = Gauge(
            f"{PREFIX}_junction_phase",
            "Green phase in force (or being changed to), from the roadside status; -1 before any status.",
            ["junction"],
            registry=r,
        )
        self.intergreen = Gauge(
            f"{PREFIX}_junction_in_intergreen",
            "1 while the roadside shows a yellow or all-red.",
            ["junction"],
            registry=r,
        )
        self.plan = Gauge(
            f"{PREFIX}_junction_plan_info",
            "1 for the plan the roadside reports in force ('local': its own program) and the roadside's mode.",
            ["junction", "plan_id", "roadside_mode"],
            registry=r,
        )
        self.override = Gauge(
            f"{PREFIX}_junction_override_seconds",
            "Seconds left of the operator override in force.",
            ["junction", "operator", "action"],
            registry=r,
        )
        self.actions = Counter(
            f"{PREFIX}_operator_actions",
            "Operator override messages answered, by action and whether they were accepted.",
            ["action", "accepted"],
            registry=r,
        )
        self.update_s = update_s
        self._next_s = float("-inf")
        self._plan_labels: dict[str, tuple[str, str]] = {}
        self._override_labels: dict[str, tuple[str, str]] = {}
        self._answers_seen = 0

    def update(self, service: ControllerService, now_s: float) -> None:
        """Refresh from the service's state (every update_s of service time; actions every call)."""
        desk = service.desk
        if desk is not None:
            answers = desk.answers_total
            for a in desk.answers[len(desk.answers) - min(len(desk.answers), answers - self._answers_seen) :]:
                self.actions.labels(a.action, "true" if a.accepted else "false").inc()
            self._answers_seen = answers
        if now_s < self._next_s:
            return
        self._next_s = now_s + self.update_s
        for jid, js in service.state.junctions.items():
            st = js.status
            self.phase.labels(jid).set(st.phase if st is not None else -1)
            self.intergreen.labels(jid).set(1 if st is not None and st.in_intergreen else 0)
            labels = (st.plan_id, st.mode) if st is not None else ("none", "none")
            self._relabel(self.plan, self._plan_labels, jid, labels, 1.0)
        active = desk.active if desk is not None else {}
        for jid in list(self._override_labels):
            if jid not in active:
                self.override.remove(jid, *self._override_labels.pop(jid))
        for jid, ov in active.items():
            self._relabel(
                self.override, self._override_labels, jid, (ov.operator, ov.action), max(0.0, ov.until_s - now_s)
            )

    @staticmethod
    def _relabel(
        gauge: Gauge, seen: dict[str, tuple[str, str]], jid: str, labels: tuple[str, str], value: float
    ) -> None:
        old = seen.get(jid)
        if old is not None and old != labels:
            gauge.remove(jid, *old)
        seen[jid] = labels
        gauge.labels(jid, *labels).set(value)

"""summary.json's controller parts that every way of running `simulate` reports alike (in process,
the service in a process of its own, via MQTT on the field's thread, forked or sharded into regions):
`junction_control` (junction_summary) and `decision_cost` (ControllerService.decision_cost, merged
over a sharded run's regions by merged_decision_cost). A module of its own, light to import: a
region's process (sim/mqtt_regions.py, spawned) builds its part without importing sim/simulate.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from controller.service import ControllerService


def junction_summary(service: ControllerService) -> dict[str, dict[str, Any]]:
    """Per controlled junction at the end of the run: plans sent, the do-no-harm state (mode,
    switches to the fixed plan, the last reason, the replay's delays per PCU), and, for a junction
    whose decision raised, the ticks it was left on its own program for it, the first one's time and
    reason (failed_ticks, failed_first_t_s, failed_reason). The mode of a junction whose decision
    raised at the last tick is `failed`, as in the metrics and `ctl status` (its roadside runs its own
    program whatever do no harm's mode says). A region's node reports the junctions it owns (not its halo)."""
    reports = service.core.report(service.state)
    failing = dict(service.last_result.failed)
    out = {}
    for jid, js in service.state.junctions.items():
        if jid in service.observed:  # a region's halo: another region's node reports it
            continue
        entry: dict[str, Any] = {"plans": js.plans}
        r = reports.get(jid)
        if r is not None:
            entry.update(
                mode=r.mode,
                harm_switches=r.switches,
                harm_reason=r.reason,
                delay_fixed_s=round(r.delay_fixed_s, 2),
                delay_controlled_s=round(r.delay_controlled_s, 2),
            )
        if jid in service.failures:  # its decision raised: left on its own program those ticks
            ticks, first_s, reason = service.failures[jid]
            entry.update(failed_ticks=ticks, failed_first_t_s=first_s, failed_reason=reason)
        if jid in failing:
            entry["mode"] = "failed"
        out[jid] = entry
    return out


def summary_parts(service: ControllerService) -> dict[str, Any]:
    """summary.json's `junction_control` and `decision_cost` of one service (a node's, a region's)."""
    return {"junction_control": junction_summary(service), "decision_cost": service.decision_cost()}


def merged_decision_cost(costs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One `decision_cost` over several nodes' (a sharded run's regions, each in a process of its
    own): their core seconds and junctions summed (a region's halo counted too: its node estimates
    it), the ticks of the node that ticked most, and the microseconds per junction per tick over
    those sums. One node's is returned as it is."""
    if len(costs) == 1:
        return dict(costs[0])
    core_s = sum(c["core_step_s"] for c in costs)
    ticks = max((c["ticks"] for c in costs), default=0)
    junctions = sum(c["junctions"] for c in costs)
    per = core_s / (ticks * junctions) if ticks and junctions else 0.0
    return {
        "core_step_s": round(core_s, 4),
        "ticks": ticks,
        "junctions": junctions,
        "us_per_junction_tick": round(per * 1e6, 2),
    }

"""The policy in force validated again (issue 14): on a schedule and when the measured demand moves.

An acyclic policy (max_pressure, schedule, adaptive) decides every second; its decisions cannot
be simulated one by one. What the gate validates is the policy with its parameters, over the
twin's horizon, against the fixed plan (sim/twin_policy.py). That verdict holds for the demand it
was made on, so `Revalidation` repeats it, one region at a time (a junction and its upstream and
downstream neighbours, the region of the twin's request):

- on a schedule: a region is due `[validation] revalidate_s` after its last check (0: never);
- on a demand shift: a region is due as soon as its measured demand (the sum over its junctions
  of the do-no-harm replay's demand, PCU/h over `[harm] window_s`) has moved by more than
  `[validation] revalidate_shift` (a share; 0: never) since its last check. The reference is taken once the
  replay's window is full (a filling window is no shift), and only above `[harm]
  min_demand_pcu_h` per junction (near-empty junctions are never judged).

One region is checked at a time, oldest check first. The verdict is audited (kind `verdict`,
actor `revalidation`). Rejected (the twin predicts the policy worse than the fixed plan by more
than the margin): each junction of the region runs its fixed plan (the junction model's base
program, as an override of actor `revalidation` through the same safety gate) for
`revalidate_s`, or until a later check of the region passes; an operator's override is never
replaced. Unvalidated (the twin failed or timed out): nothing changes, the region is tried again
at its next due time. The policy `fixed` is never re-validated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.core.override import Override
from controller.core.step import Core, CoreState
from controller.core.validation import PolicyChoice, Verdict, safety_refusal
from controller.model import CycleWish, Intersection
from controller.validation import DeskValidation, Pending, all_queues

log = logging.getLogger(__name__)

ACTOR = "revalidation"
LOOK_EVERY_S = 10.0  # how often the regions due are looked for (a pass over every junction)


def region(core: Core, jid: str) -> tuple[str, ...]:
    """The junction and its declared upstream and downstream neighbours that the core serves."""
    j = core.layouts[jid].junction
    return tuple(i for i in dict.fromkeys((jid, *j.upstream, *j.downstream)) if i in core.layouts)


def base_plan(j: Intersection) -> CycleWish:
    """The junction's fixed plan: its model's base program."""
    return CycleWish(tuple(p.index for p in j.phases), tuple(p.base_green_s for p in j.phases), j.base_offset_s)


@dataclass
class Revalidation:
    """Not thread-safe: the service's tick thread calls tick."""

    validation: DeskValidation
    first_s: dict[str, float] = field(default_factory=dict)  # junction -> first seen
    last_s: dict[str, float] = field(default_factory=dict)  # junction -> its region's last check
    ref_pcu_h: dict[str, float] = field(default_factory=dict)  # junction -> its region's demand then
    pending: tuple[str, Pending] | None = None
    checks: int = 0
    looked_s: float = float("-inf")

    def demand_pcu_h(self, core: Core, state: CoreState, jid: str) -> float:
        hs = [state.junctions[i].harm for i in region(core, jid)]
        return float(sum(h.replay.demand_pcu_h for h in hs if h is not None))

    def due(self, core: Core, state: CoreState, now_s: float) -> tuple[str, str] | None:
        """(junction, why) of the region to check now, oldest check first; None: none is due."""
        params = self.validation.gate.params
        floor_pcu_h, window_s = core.harm.min_demand_pcu_h, core.harm.window_s
        found: list[tuple[float, str, str]] = []
        for jid in sorted(core.layouts):
            first = self.first_s.setdefault(jid, now_s)
            last = self.last_s.setdefault(jid, now_s)
            demand = self.demand_pcu_h(core, state, jid)
            ref = self.ref_pcu_h.get(jid)
            if ref is None and now_s - first >= window_s and demand >= floor_pcu_h * len(region(core, jid)):
                self.ref_pcu_h[jid] = ref = demand
            if params.revalidate_s > 0 and now_s - last >= params.revalidate_s:
                found.append((last, jid, f"scheduled: {now_s - last:.0f} s since the last check"))
            elif ref is not None and params.revalidate_shift > 0 and abs(demand - ref) > params.revalidate_shift * ref:
                found.append((last, jid, f"demand {ref:.0f} -> {demand:.0f} PCU/h since the last check"))
        return (min(found)[1], min(found)[2]) if found else None

    def tick(
        self, core: Core, state: CoreState, now_s: float, policy: PolicyChoice, active: Mapping[str, Override]
    ) -> tuple[list[Override], list[str]]:
        """(fixed-plan overrides to put in force, junctions whose revalidation override ends)."""
        params = self.validation.gate.params
        off = params.revalidate_s <= 0 and params.revalidate_shift <= 0
        if off or policy.name == "fixed" or self.validation.make_policy_request is None:
            return [], []
        if self.pending is None:
            if now_s - self.looked_s >= LOOK_EVERY_S:
                self.looked_s = now_s
                self._start(core, state, now_s, policy)
            return [], []
        jid, pending = self.pending
        if pending.candidate != policy:  # another policy in force since: this verdict is not its
            self.validation.gate.cancel(pending)
            self.pending = None
            return [], []
        verdict = self.validation.gate.poll(pending, now_s)
        if verdict is None:
            return [], []
        self.pending = None
        return self._outcome(core, jid, verdict, now_s, active)

    def _start(self, core: Core, state: CoreState, now_s: float, policy: PolicyChoice) -> None:
        found = self.due(core, state, now_s)
        if found is None:
            return
        jid, why = found
        for i in region(core, jid):  # checked now, whatever the verdict
            self.last_s[i] = now_s
            self.ref_pcu_h.pop(i, None)
            if now_s - self.first_s.get(i, now_s) >= core.harm.window_s:
                self.ref_pcu_h[i] = self.demand_pcu_h(core, state, i)
        log.warning("revalidation junction=%s policy=%s: %s", jid, policy.describe(), why)
        queues = all_queues(core, state)
        gate, fixed = self.validation.gate, PolicyChoice("fixed")
        try:
            assert self.validation.make_policy_request is not None
            request = self.validation.make_policy_request(jid, policy, fixed, queues, now_s)
        except Exception as exc:  # no twin: recorded, tried again at the next due time
            log.exception("revalidation request failed junction=%s", jid)
            gate.fail(jid, ACTOR, policy, fixed, f"no twin request: {exc}", now_s)
            return
        out = gate.start_checked(jid, policy, fixed, request, ACTOR, now_s, "")
        if isinstance(out, Pending):
            self.pending = (jid, out)
            self.checks += 1

    def _outcome(
        self, core: Core, jid: str, verdict: Verdict, now_s: float, active: Mapping[str, Override]
    ) -> tuple[list[Override], list[str]]:
        members = region(core, jid)
        for i in members:  # the next scheduled check counts from this verdict
            self.last_s[i] = now_s
        if verdict.passed:  # back to the policy where a rejection had put the fixed plan
            return [], [i for i in members if i in active and active[i].operator == ACTOR]
        if verdict.outcome != "rejected":
            return [], []
        hold_s = self.validation.gate.params.revalidate_s or core.harm.hold_s
        out = []
        for i in members:
            if i in active and active[i].operator != ACTOR:
                continue  # an operator's override stays
            j = core.layouts[i].junction
            wish = base_plan(j)
            why = safety_refusal(j, wish, now_s)
            if why:
                log.warning("revalidation junction=%s fixed plan refused by the safety gate: %s", i, why)
                continue
            out.append(Override(i, ACTOR, "plan", f"revalidation-{self.checks}", now_s, now_s + hold_s, wish))
        log.warning(
            "revalidation junction=%s rejected the policy: region %s on its fixed plan for %.0f s",
            jid,
            ",".join(o.junction for o in out),
            hold_s,
        )
        return out, []

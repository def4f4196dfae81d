"""A virtual roadside controller: what a junction's signal cabinet does, without SUMO.

It keeps its own local safety whatever the centre says: every green lasts at least its minimum,
every change runs the yellow and all-red intergreen derived from the junction model, and a plan
that breaks the junction's limits is refused with a reason in the status. Without fresh plans
for `backup_s` it reverts to local control (the network's own program, run by SUMO).

The field adapter (sim/field.py) feeds it SUMO's program state while local and applies the
signal state string it returns while adaptive.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.core.safety import phase_conflict
from controller.model import GREEN, Command, CyclePlan, Intersection, PhaseCommand, SignalStatus


@dataclass(frozen=True)
class _Stage:
    kind: str  # "green" | "yellow" | "allred"
    phase: int  # green: the phase; intergreen: the phase being changed to
    from_phase: int
    start_s: float


class RoadsideController:
    def __init__(self, junction: Intersection, backup_s: float) -> None:
        self.j = junction
        self.backup_s = backup_s
        self.mode = "local"
        self.plan: Command | None = None
        self.last_seq = -1
        self.last_rx_s = float("-inf")
        self.faults: list[str] = []
        # Until the first reading of SUMO's program (follow_local) the stage is unknown: it is
        # then set from the program, its phase and the time already spent in it.
        self.stage = _Stage("green", 0, 0, 0.0)
        self._synced = False
        self.cycle_pos = 0  # index into a cycle plan's phase_order
        self._green_sets = [p.green_links() for p in junction.phases]

    # -- plans in ------------------------------------------------------------------------
    def receive(self, cmd: Command, now_s: float) -> str:
        """Accept a plan, or return the reason it was refused ('' when accepted).
        Re-sent plans (same or lower seq) are ignored: plans are idempotent by seq."""
        if cmd.junction != self.j.id:
            return self._refuse(f"plan for junction {cmd.junction}")
        if cmd.seq <= self.last_seq:
            return ""
        why = self._check(cmd)
        if why:
            return self._refuse(why)
        self.last_seq = cmd.seq
        self.last_rx_s = now_s
        if isinstance(cmd, CyclePlan) and not (isinstance(self.plan, CyclePlan) and self.plan.plan_id == cmd.plan_id):
            self.cycle_pos = cmd.phase_order.index(self.stage.phase) if self.stage.phase in cmd.phase_order else 0
        self.plan = cmd
        self.faults = [f for f in self.faults if not f.startswith("refused")]
        return ""

    def _refuse(self, why: str) -> str:
        self.faults = [f for f in self.faults if not f.startswith("refused")] + [f"refused: {why}"]
        return why

    def _check(self, cmd: Command) -> str:
        n = len(self.j.phases)
        if isinstance(cmd, PhaseCommand):
            if not 0 <= cmd.phase < n:
                return f"phase {cmd.phase} not in 0..{n - 1}"
            return phase_conflict(self.j, cmd.phase)
        if len(cmd.phase_order) != len(cmd.greens_s) or not cmd.phase_order:
            return "phase order and greens differ in length"
        for p, g in zip(cmd.phase_order, cmd.greens_s):
            if not 0 <= p < n:
                return f"phase {p} not in 0..{n - 1}"
            if g < self.j.phases[p].min_green_s - 1e-6:
                return f"phase {p} green {g} s < min {self.j.phases[p].min_green_s} s"
            why = phase_conflict(self.j, p)
            if why:
                return why
        return ""

    # -- one second ----------------------------------------------------------------------
    def follow_local(self, phase: int | None, spent_s: float, now_s: float) -> None:
        """While local, track which green stage SUMO's own program shows: `phase` (None in the
        program's intergreens), shown for `spent_s` already. The first call sets the stage from
        the program whatever it was; later calls restart the stage clock only when the stage
        changes (a program phase split into sub-phases with one signal state is one stage)."""
        first = not self._synced
        self._synced = True
        if phase is not None:
            if first or self.stage.kind != "green" or self.stage.phase != phase:
                self.stage = _Stage("green", phase, phase, now_s - max(spent_s, 0.0))
        elif first or self.stage.kind == "green":
            start_s = now_s - max(spent_s, 0.0) if first else now_s
            self.stage = _Stage("yellow", self.stage.phase, self.stage.phase, start_s)

    def wants_control(self, now_s: float) -> bool:
        fresh = self.plan is not None and now_s <= self.plan.expires_s and now_s - self.last_rx_s <= self.backup_s
        if not fresh and self.plan is not None and now_s - self.last_rx_s > self.backup_s:
            self.plan = None
        return fresh

    def tick(self, now_s: float, local_phase: int | None, local_spent_s: float) -> str | None:
        """The signal state to show for the next second, or None to leave SUMO's program on."""
        if self.mode == "local":
            self.follow_local(local_phase, local_spent_s, now_s)
            if self.wants_control(now_s) and self.stage.kind == "green":
                self.mode = "adaptive"
            else:
                return None
        elif not self.wants_control(now_s) and self.stage.kind == "green":
            self.mode = "local"  # hand back during a green: the field resumes the program there
            return None
        self._advance(now_s)
        return self._state()

    def _advance(self, now_s: float) -> None:
        st, j = self.stage, self.j
        if st.kind == "yellow" and now_s - st.start_s >= j.yellow_s:
            all_red_s = j.all_red_between_s(st.from_phase, st.phase)
            st = _Stage("allred", st.phase, st.from_phase, now_s) if all_red_s > 0 else _Stage("green", st.phase, st.phase, now_s)
        if st.kind == "allred" and now_s - st.start_s >= j.all_red_between_s(st.from_phase, st.phase):
            st = _Stage("green", st.phase, st.phase, now_s)
        if st.kind == "green":
            nxt = self._next_phase(st, now_s)
            if nxt != st.phase and now_s - st.start_s >= j.phases[st.phase].min_green_s:
                if j.intergreen_s(st.phase, nxt) > 0:
                    st = _Stage("yellow", nxt, st.phase, now_s)
                else:
                    st = _Stage("green", nxt, nxt, now_s)
        self.stage = st

    def _next_phase(self, st: _Stage, now_s: float) -> int:
        plan = self.plan
        if isinstance(plan, PhaseCommand):
            return plan.phase
        if isinstance(plan, CyclePlan):
            order = plan.phase_order
            k = self.cycle_pos if order[self.cycle_pos % len(order)] == st.phase else (
                order.index(st.phase) if st.phase in order else -1)
            if k < 0:
                self.cycle_pos = 0
                return order[0]
            if now_s - st.start_s >= plan.greens_s[k]:
                self.cycle_pos = (k + 1) % len(order)
                return order[self.cycle_pos]
            self.cycle_pos = k
        return st.phase

    def _state(self) -> str:
        st = self.stage
        to_green = self._green_sets[st.phase]
        if st.kind == "green":
            return self.j.phases[st.phase].state
        src = self.j.phases[st.from_phase].state
        out = []
        for i, ch in enumerate(src):
            keep = ch in GREEN and i in to_green
            if keep:
                out.append(ch)
            elif st.kind == "yellow" and ch in GREEN:
                out.append("y")
            else:
                out.append("r")
        return "".join(out)

    def status(self, now_s: float) -> SignalStatus:
        st = self.stage
        plan = self.plan
        return SignalStatus(
            junction=self.j.id, t_s=now_s, phase=st.phase, in_intergreen=st.kind != "green",
            time_in_phase_s=max(0.0, now_s - st.start_s), plan_id=plan.plan_id if plan else "local",
            seq=max(self.last_seq, 0), mode=self.mode, faults=tuple(self.faults),
        )

    def green_phase(self) -> int | None:
        return self.stage.phase if self.stage.kind == "green" else None

"""A virtual roadside controller: what a junction's signal cabinet does, without SUMO.

It keeps its own local safety whatever the centre says:
- it applies only plans its PlanGuard admits (controller/roadside_agent.py: signature, (epoch,
  seq) identity, validity window, finite values, the junction's limits), and reports the reason
  of a refusal in its status (`faults`: "refused: <reason>");
- every green lasts at least its minimum, every change runs the yellow and all-red intergreen
  derived from the junction model (the links green in the stage left and not in the stage
  entered yellow, then red; with `[roadside] keep_off_through_intergreen` a link off, 'o' or
  'O', in both stages keeps that letter, as the city's own programs do), or, for a change the
  junction carries a program transition for (`Intersection.transitions`, `[timing]
  program_transitions`), that transition's own states for their seconds;
- a plan that would hold a green past its maximum, or keep a movement red past `max_red_s`
  (for instance a hold re-sent again and again), is overridden: the roadside changes to the
  phase serving the movement that has waited longest and says so in `faults` ("limit: ...");
  a plan's own all-red (`all_red_s`) is shown before its phase's green only, cut where it would
  keep a movement red past `max_red_s` (also a "limit: ..." fault).
  A green cut at its maximum is reported only when the plan does not end it itself within one
  decision period (the service's gate cuts it at the same second; its plan may arrive a step
  later);
- a flash plan runs the sequence of the reference agent (controller/roadside_agent.py): the
  green's minimum, yellow and all-red, then 'o' on every link; out of it, the all-red
  `flash_exit_all_red_s`, then a green. The status shows the flash as an intergreen (no green
  in force) of the phase green before it.
Every rule here reads the junction's signalised crossings as movements (`Intersection.red_bounded`): the max-red
override, the longest wait, which green is due for the hand-back, and the admission's check (docs/security.md).
Without fresh plans for `backup_s` it reverts to local control (the network's own program,
run by SUMO), at a green that is due: one whose phase served, when it began, the movement
that had waited longest. Until one shows it runs that rule itself (after each minimum green,
the phase serving the movement that waited longest), so the program resumes where no other
movement is closer to its maximum red.

The field adapter (sim/field.py) feeds it SUMO's program state while local and applies the
signal state string it returns while adaptive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from controller.core.messages import PlanMessage
from controller.core.safety import DECISION_PERIOD_S, GateMemo, stage_intergreen_s
from controller.core.signing import JunctionKeys
from controller.model import (
    GREEN,
    Command,
    CyclePlan,
    FlashCommand,
    Intersection,
    Mode,
    PhaseCommand,
    SignalStatus,
    Transition,
)
from controller.roadside_agent import Admission, PlanGuard, flash_exit_all_red_s, flash_state

DEFAULT_MAX_SKEW_S = 2.0  # the simulated field's own; not read from config.toml [security] clock_skew_s
DEFAULT_MAX_VALIDITY_S = 300.0  # config.toml [security] plan_max_validity_s


@dataclass(frozen=True)
class _Stage:
    kind: str  # "green" | "yellow" | "allred" | "transition" | "flash" | "clear" (the all-red out of flash)
    phase: int  # green: the phase; intergreen, transition, clear: the phase being changed to; flash: the last green
    from_phase: int
    start_s: float
    to_flash: bool = False  # a yellow or all-red leading into flash
    # the plan's all-red for this change (PhaseCommand.all_red_s: at least that much before the green; 0: the
    # junction's own); after a program transition, the all-red added to it (`added`)
    all_red_s: float = 0.0
    added: bool = False


class RoadsideController:
    """`keys`: the junction's plan keys; None accepts unsigned plans (in-process replays only)."""

    def __init__(
        self,
        junction: Intersection,
        backup_s: float,
        keys: JunctionKeys | None = None,
        *,
        max_skew_s: float = DEFAULT_MAX_SKEW_S,
        max_validity_s: float = DEFAULT_MAX_VALIDITY_S,
        keep_off_through_intergreen: bool = True,  # config.toml [roadside] keep_off_through_intergreen
    ) -> None:
        junction = junction.red_bounded  # the crossings' maximum red kept as the movements' (Intersection.crossings)
        self.j = junction
        self.keep_off_through_intergreen = keep_off_through_intergreen  # config.toml [roadside]
        self.backup_s = backup_s
        self.guard = PlanGuard(junction, keys, max_skew_s=max_skew_s, max_validity_s=max_validity_s)
        self._gate_memo = GateMemo()  # the gate's derived model data, for stage_intergreen_s
        self.mode: Mode = "local"
        self.plan: Command | None = None
        self.last_rx_s = float("-inf")
        self.faults: list[str] = []
        # the city's program in force, reported in the status where the field knows it (sim/field.py: a light a
        # WAUT switches); "" reports none
        self.program = ""
        # Until the first reading of SUMO's program (follow_local) the stage is unknown: it is
        # then set from the program, its phase and the time already spent in it.
        self.stage = _Stage("green", 0, 0, 0.0)
        self._synced = False
        self.cycle_pos = 0  # index into a cycle plan's phase_order
        self._green_sets = [p.green_links() for p in junction.phases]
        self._movement_phases = [
            tuple(k for k in range(len(junction.phases)) if m.id in junction.served_movements(k))
            for m in junction.movements
        ]
        self._last_green_s: list[float] = [0.0] * len(junction.movements)  # per movement, set at the first reading
        # per phase: the movements it serves (positions), for _mark_green
        self._served_by = tuple(
            tuple(i for i, ph in enumerate(self._movement_phases) if k in ph) for k in range(len(junction.phases))
        )
        # per (phase in force, next phase): the movements _late_movement weighs and the red each
        # would still wait beyond now (static: from the model alone), built on first use
        self._red_ahead: dict[tuple[int, int], tuple[tuple[int, float], ...]] = {}
        # the same for _clear_within_max_red, of every movement the change does not keep green
        self._red_through: dict[tuple[int, int], tuple[tuple[int, float], ...]] = {}
        self._intergreen_states: dict[tuple[str, int, int, bool], str] = {}  # _state of each intergreen stage
        self._limit_s: float | None = None  # when the last limit fault was raised
        self._cut: tuple[str, int, float] | None = None  # a max-green cut not reported yet: (what, phase, when)
        self._overridden: Command | None = None  # the plan a max-red override set aside
        self._due: tuple[int, float, bool] = (-1, 0.0, False)  # (phase, start) of the green stage, and if it is due

    @property
    def last_seq(self) -> int:
        return self.guard.seq

    @property
    def epoch(self) -> int:
        return self.guard.epoch

    def set_keys(self, keys: JunctionKeys | None) -> None:
        """Provision (or rotate) the cabinet's plan keys."""
        self.guard.rekey(keys)

    # -- plans in ------------------------------------------------------------------------
    def receive(self, cmd: Command, now_s: float, epoch: int = 0) -> str:
        """A plan handed over in process: '' when applied, else the reason it was refused
        (always refused when the roadside holds keys: it must come signed, receive_message)."""
        return self._take(self.guard.admit_unsigned(cmd, epoch, now_s), now_s)

    def receive_message(
        self, payload: bytes, now_s: float, offset_s: float = 0.0, *, clock_s: float | None = None
    ) -> str:
        """A plan message as received: '' when applied, else the reason it was refused.
        offset_s: subtracted from the plan's times (a demo field on a shifted clock).
        clock_s: the cabinet's clock, where it is not the simulated now_s: a live field whose
        SUMO runs behind the clock (a loaded machine) checks the plan's validity window against
        the clock, as a real cabinet would, and applies the plan at the simulated now_s."""
        check_s = now_s if clock_s is None else clock_s
        return self._take(self.guard.admit(payload, check_s, offset_s), now_s)

    def _take(self, adm: Admission, now_s: float) -> str:
        if adm.plan is None:
            return self._refuse(adm.reason)
        self._apply(adm.plan, now_s)
        return ""

    def _apply(self, msg: PlanMessage, now_s: float) -> None:
        cmd = msg.command
        self.last_rx_s = now_s
        if isinstance(cmd, CyclePlan) and not (isinstance(self.plan, CyclePlan) and self.plan.plan_id == cmd.plan_id):
            self.cycle_pos = cmd.phase_order.index(self.stage.phase) if self.stage.phase in cmd.phase_order else 0
        self.plan = cmd
        self.faults = [f for f in self.faults if not f.startswith("refused")]
        if self._cut is not None and not (isinstance(cmd, PhaseCommand) and cmd.phase == self._cut[1]):
            self._cut = None  # the plan ends that green itself: the cut was the plan's, no fault

    def _refuse(self, why: str) -> str:
        self.faults = [f for f in self.faults if not f.startswith("refused")] + [f"refused: {why}"]
        return why

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

    def reads_spent(self, local_phase: int | None) -> bool:
        """Whether `tick(now_s, local_phase, spent_s)` reads spent_s: only in local mode where
        follow_local starts a stage from the program (its first reading, or another green
        showing); otherwise the caller may pass any value and skip asking SUMO for it."""
        if self.mode != "local":
            return False
        if not self._synced:
            return True
        return local_phase is not None and (self.stage.kind != "green" or self.stage.phase != local_phase)

    def wants_control(self, now_s: float) -> bool:
        fresh = self.plan is not None and now_s <= self.plan.expires_s and now_s - self.last_rx_s <= self.backup_s
        if not fresh and self.plan is not None and now_s - self.last_rx_s > self.backup_s:
            self.plan = None
        return fresh

    def tick(self, now_s: float, local_phase: int | None, local_spent_s: float) -> str | None:
        """The signal state to show for the next second, or None to leave SUMO's program on."""
        if self.mode == "local":
            first = not self._synced
            self.follow_local(local_phase, local_spent_s, now_s)
            if first:
                self._last_green_s = [now_s] * len(self._last_green_s)
            if self.wants_control(now_s) and self.stage.kind == "green":
                self.mode = "adaptive"
            else:
                self._mark_green(now_s)
                return None
        elif not self.wants_control(now_s) and self._may_hand_back(now_s):
            self.mode = "local"  # hand back during a due green: the field resumes the program there
            return None
        self._advance(now_s)
        self._mark_green(now_s)
        self._report_cut(now_s)
        self._expire_limit_fault(now_s)
        return self._state(now_s)

    def _may_hand_back(self, now_s: float) -> bool:
        """Back to local control only in a due green (`_mark_green`) short of its maximum: the
        program resumes that green for what is left of it (sim/field.py), so it never runs past
        max green, and then follows its own order from the movement that had waited longest."""
        st = self.stage
        due = self._due[:2] == (st.phase, st.start_s) and self._due[2]
        return st.kind == "green" and due and now_s - st.start_s < self.j.phases[st.phase].max_green_s

    def _mark_green(self, now_s: float) -> None:
        """Record the seconds each movement was green; at the first second of a green stage,
        whether it is due: its phase serves a movement that waited at least as long as every
        movement it does not serve."""
        st = self.stage
        if st.kind == "green" and self._due[:2] != (st.phase, st.start_s):
            served = self._movement_phases
            waits = [(now_s - last, st.phase in served[i]) for i, last in enumerate(self._last_green_s) if served[i]]
            due = (
                max((w for w, mine in waits if mine), default=0.0)
                >= max((w for w, mine in waits if not mine), default=0.0) - 1e-9
            )
            self._due = (st.phase, st.start_s, due)
        if st.kind == "flash":  # every movement may go, yielding
            self._last_green_s = [now_s] * len(self._last_green_s)
        elif st.kind == "green":
            last = self._last_green_s
            for i in self._served_by[st.phase]:
                last[i] = now_s

    def _advance(self, now_s: float) -> None:
        st, j = self.stage, self.j
        if st.kind in ("flash", "clear"):
            st = self._advance_flash(st, now_s)
        if st.kind == "transition" and now_s - st.start_s >= self._transition(st).total_s - 1e-9:
            more_s = st.all_red_s - self.j.all_red_between_s(st.from_phase, st.phase)
            if more_s > 1e-9:  # the plan asks more all-red than the transition ends with
                st = replace(st, kind="allred", start_s=now_s, all_red_s=more_s, added=True)
            else:
                st = self._after_intergreen(st, now_s)
        if st.kind == "yellow" and now_s - st.start_s >= j.yellow_s:
            if self._all_red_s(st) > 0:
                st = replace(st, kind="allred", start_s=now_s)
            else:
                st = self._after_intergreen(st, now_s)
        if st.kind == "allred" and now_s - st.start_s >= self._all_red_s(st):
            st = self._after_intergreen(st, now_s)
        if st.kind == "green":
            st = self._advance_green(st, now_s)
        self.stage = st

    def _transition(self, st: _Stage) -> Transition:
        tr = self.j.transition(st.from_phase, st.phase)
        if tr is None:  # a transition stage is only entered where the model has one (_advance_green)
            raise AssertionError(f"no program transition {st.from_phase} -> {st.phase} at {self.j.id}")
        return tr

    def _all_red_s(self, st: _Stage) -> float:
        if st.to_flash:
            return self.j.all_red_s
        if st.added:
            return st.all_red_s
        return max(self.j.all_red_between_s(st.from_phase, st.phase), st.all_red_s)

    def _after_intergreen(self, st: _Stage, now_s: float) -> _Stage:
        if st.to_flash and not self._flashing(now_s):  # the flash ended before it began
            return _Stage("clear", self._exit_phase(st.from_phase), st.from_phase, now_s)
        if st.to_flash:
            return _Stage("flash", st.from_phase, st.from_phase, now_s)
        return _Stage("green", st.phase, st.phase, now_s)

    def _advance_green(self, st: _Stage, now_s: float) -> _Stage:
        j = self.j
        min_done = now_s - st.start_s >= j.phases[st.phase].min_green_s
        if self._flashing(now_s):
            return _Stage("yellow", st.phase, st.phase, now_s, to_flash=True) if min_done else st
        nxt = self._keep_limits(st, self._next_phase(st, now_s), now_s)
        if nxt != st.phase and min_done:
            plan = self.plan
            clear_s = plan.all_red_s if isinstance(plan, PhaseCommand) and plan.phase == nxt else 0.0
            if clear_s > 0:
                clear_s = self._clear_within_max_red(st.phase, nxt, clear_s, now_s)
            if j.transition(st.phase, nxt) is not None:  # the city's program's own states
                return _Stage("transition", nxt, st.phase, now_s, all_red_s=clear_s)
            if j.intergreen_s(st.phase, nxt) > 0:
                return _Stage("yellow", nxt, st.phase, now_s, all_red_s=clear_s)
            return _Stage("green", nxt, nxt, now_s)
        return st

    def _clear_within_max_red(self, cur: int, nxt: int, asked_s: float, now_s: float) -> float:
        """The plan's all-red for the change `cur` -> `nxt` now (PhaseCommand.all_red_s, [timing] cyclist_clearance),
        cut to what keeps every movement's red within max_red_s, in whole seconds (at least the junction's own): the
        gate sized it against the maximum reds at its decision, the change may come later, and the admission checks
        only that it is at most max_red_s. A movement `nxt` serves waits for its green through it; one it does not,
        through it and `nxt`'s minimum green as well (_late_movement's count). A cut is a limit fault."""
        own_s = self.j.all_red_between_s(cur, nxt)
        if asked_s <= own_s:
            return asked_s
        ahead = self._red_through.get((cur, nxt))
        if ahead is None:
            ahead = self._red_through[(cur, nxt)] = self._red_through_of(cur, nxt)
        room_s, worst, last = math.inf, -1, self._last_green_s
        for i, more_s in ahead:
            left_s = self.j.max_red_s - (now_s - last[i]) - more_s
            if left_s < room_s:
                room_s, worst = left_s, i
        extra_s = asked_s - own_s
        if extra_s <= room_s + 1e-9:
            return asked_s
        cut_s = own_s + max(0.0, math.floor(room_s + 1e-9))
        who = self.j.movements[worst].id
        self._limit(f"max red: all-red {asked_s:g} s cut to {cut_s:g} s for movement {who}", now_s)
        return cut_s

    def _red_through_of(self, cur: int, nxt: int) -> tuple[tuple[int, float], ...]:
        """For _clear_within_max_red: (position, seconds of red still ahead, the junction's own all-red counted) of
        each movement some phase serves and not both `cur` and `nxt` (those stay green through the change)."""
        j, memo, out = self.j, self._gate_memo, []
        into_s = stage_intergreen_s(j, cur, nxt, memo)
        for i, phases in enumerate(self._movement_phases):
            if not phases or (cur in phases and nxt in phases):
                continue
            if nxt in phases:  # green after the intergreen (red from the second after its last green)
                out.append((i, into_s - 1.0))
            else:
                back_s = min(stage_intergreen_s(j, nxt, p, memo) for p in phases)
                out.append((i, into_s + math.ceil(j.phases[nxt].min_green_s - 1e-9) + back_s - 1.0))
        return tuple(out)

    def _flashing(self, now_s: float) -> bool:
        """A flash plan in force (admitted, not expired, not superseded)."""
        return isinstance(self.plan, FlashCommand) and now_s <= self.plan.expires_s

    def _advance_flash(self, st: _Stage, now_s: float) -> _Stage:
        """Flash until the flash plan ends, then the all-red out of it, then the green of the
        phase the plan in force at the end of the all-red asks for (every link is red: any
        phase may start; the one green before the flash without a plan)."""
        if st.kind == "flash" and not self._flashing(now_s):
            return _Stage("clear", self._exit_phase(st.phase), st.phase, now_s)
        if st.kind == "clear" and now_s - st.start_s >= flash_exit_all_red_s(self.j):
            phase = self._exit_phase(st.from_phase)
            return _Stage("green", phase, phase, now_s)
        return st

    def _exit_phase(self, before: int) -> int:
        plan = self.plan
        if isinstance(plan, PhaseCommand):
            return plan.phase
        if isinstance(plan, CyclePlan):
            return plan.phase_order[self.cycle_pos % len(plan.phase_order)]
        return before

    def _keep_limits(self, st: _Stage, nxt: int, now_s: float) -> int:
        """The plan's next phase, unless following it breaks a hard limit: holding the green past
        its maximum, or a movement's red past max_red_s (held one more period, or after the
        minimum green of a phase that does not serve it: counted with the intergreens, as the
        roadside shows them). Then the phase serving the movement that waited longest, and the
        plan is set aside until the next one (going back to it, a stale command, may trap two
        movements near their max red). When no switch keeps every movement within max_red_s
        (an infeasible max red), the phase serving the movement that waited longest of all."""
        j = self.j
        if len(j.phases) < 2 or now_s - st.start_s < j.phases[st.phase].min_green_s:
            return nxt
        late = self._late_movement(st.phase, nxt, now_s)
        if late is not None:
            waited_s = now_s - self._last_green_s[late]
            self._limit(f"max red: movement {j.movements[late].id} red {waited_s:.0f} s", now_s)
            self._overridden = self.plan
            if not any(self._late_movement(st.phase, k, now_s) is None for k in range(len(j.phases)) if k != st.phase):
                return self._longest_waiting_phase(st.phase, now_s)  # max red cannot be kept: serve the longest wait
            return self._longest_waiting_phase(st.phase, now_s, among=self._movement_phases[late])
        age_s = now_s - st.start_s
        if nxt == st.phase and age_s >= j.phases[st.phase].max_green_s:
            self._cut = (f"max green: phase {st.phase} ended after {age_s:.0f} s", st.phase, now_s)
            return self._longest_waiting_phase(st.phase, now_s)
        return nxt

    def _late_movement(self, cur: int, nxt: int, now_s: float) -> int | None:
        """The movement that waited longest among those whose red would exceed max_red_s if the
        roadside went to `nxt` now (None when none would). A movement last green at second L is
        red from L + 1; a phase entered now shows its green after the intergreen."""
        ahead = self._red_ahead.get((cur, nxt))
        if ahead is None:
            ahead = self._red_ahead[(cur, nxt)] = self._red_ahead_of(cur, nxt)
        worst, worst_wait, limit_s, last = None, -1.0, self.j.max_red_s + 1e-9, self._last_green_s
        for i, more_s in ahead:
            waited_s = now_s - last[i]
            if waited_s + more_s > limit_s and waited_s > worst_wait:
                worst, worst_wait = i, waited_s
        return worst

    def _red_ahead_of(self, cur: int, nxt: int) -> tuple[tuple[int, float], ...]:
        """For _late_movement: (position, seconds of red still ahead) of each movement that
        neither `cur` nor `nxt` serves (and some phase does), going from `cur` to `nxt` now."""
        j, memo, out = self.j, self._gate_memo, []
        for i, phases in enumerate(self._movement_phases):
            if not phases or cur in phases or nxt in phases:
                continue
            if nxt == cur:  # held one more period
                more_s = 1.0 + min(stage_intergreen_s(j, cur, p, memo) for p in phases) - 1.0
            else:  # through nxt's minimum green first
                more_s = (
                    stage_intergreen_s(j, cur, nxt, memo)
                    + math.ceil(j.phases[nxt].min_green_s - 1e-9)
                    + min(stage_intergreen_s(j, nxt, p, memo) for p in phases)
                    - 1.0
                )
            out.append((i, more_s))
        return tuple(out)

    def _longest_waiting_phase(self, exclude: int, now_s: float, among: tuple[int, ...] | None = None) -> int:
        """The phase (of `among`, default all but `exclude`) serving the movement that waited longest."""
        best, best_wait = exclude, -1.0
        for k in among if among is not None else range(len(self.j.phases)):
            if k == exclude:
                continue
            wait = max(
                (now_s - self._last_green_s[i] for i, ph in enumerate(self._movement_phases) if k in ph), default=0.0
            )
            if wait > best_wait:
                best, best_wait = k, wait
        return best

    def _limit(self, what: str, now_s: float) -> None:
        self.faults = [f for f in self.faults if not f.startswith("limit")] + [f"limit: {what}"]
        self._limit_s = now_s

    def _report_cut(self, now_s: float) -> None:
        """A max-green cut becomes a fault when the plan has not ended that green itself within
        one decision period (a plan admitted since, for another phase, clears it: _apply)."""
        if self._cut is not None and now_s - self._cut[2] >= DECISION_PERIOD_S - 1e-9:
            what, _, cut_s = self._cut
            self._cut = None
            self._limit(what, cut_s)

    def _expire_limit_fault(self, now_s: float) -> None:
        """A limit fault is reported for max_red_s after it happened."""
        if self._limit_s is not None and now_s - self._limit_s > self.j.max_red_s:
            self.faults = [f for f in self.faults if not f.startswith("limit")]
            self._limit_s = None

    def _next_phase(self, st: _Stage, now_s: float) -> int:
        plan = self.plan
        if plan is None or plan is self._overridden or now_s > plan.expires_s:
            # lapsed or expired (on the way back to local control, _may_hand_back), or set aside
            # by a max-red override until the next plan: the longest wait
            return self._longest_waiting_phase(st.phase, now_s)
        if isinstance(plan, PhaseCommand):
            return plan.phase
        if isinstance(plan, CyclePlan):
            order = plan.phase_order
            k = (
                self.cycle_pos
                if order[self.cycle_pos % len(order)] == st.phase
                else (order.index(st.phase) if st.phase in order else -1)
            )
            if k < 0:
                self.cycle_pos = 0
                return order[0]
            if now_s - st.start_s >= plan.greens_s[k]:
                self.cycle_pos = (k + 1) % len(order)
                return order[self.cycle_pos]
            self.cycle_pos = k
        return st.phase

    def _state(self, now_s: float) -> str:
        st = self.stage
        if st.kind == "green":
            return self.j.phases[st.phase].state
        if st.kind == "transition":
            return self._transition(st).state_at(now_s - st.start_s)
        if st.kind == "flash":
            return flash_state(self.j)
        if st.kind == "clear":
            return "r" * self.j.n_links
        key = (st.kind, st.from_phase, st.phase, st.to_flash)
        state = self._intergreen_states.get(key)
        if state is None:
            state = self._intergreen_states[key] = self._intergreen_state(st)
        return state

    def _intergreen_state(self, st: _Stage) -> str:
        """The signal state of a yellow or all-red stage (from its phases alone). With
        `keep_off_through_intergreen`, a link switched off ('o' or 'O') in both the phase left
        and the phase entered keeps that letter: it never had a green to clear, and the city's
        own programs keep it off through their transitions (not into flash: every link clears)."""
        to_green = frozenset() if st.to_flash else self._green_sets[st.phase]
        src = self.j.phases[st.from_phase].state
        dst = self.j.phases[st.phase].state if self.keep_off_through_intergreen and not st.to_flash else ""
        early = frozenset() if st.to_flash else self._early_links(st.from_phase, st.phase)
        entered = self.j.phases[st.phase].state
        out = []
        for i, ch in enumerate(src):
            if i in early:
                out.append(entered[i])
                continue
            keep = ch in GREEN and i in to_green
            if keep or (ch in "oO" and dst[i : i + 1] == ch):
                out.append(ch)
            elif st.kind == "yellow" and ch in GREEN:
                out.append("y")
            else:
                out.append("r")
        return "".join(out)

    def _early_links(self, from_phase: int, to_phase: int) -> frozenset[int]:
        """The links `to_phase` starts that show their green from the start of the intergreen:
        those whose clearance (the junction's `clearance_s`, `[timing] program_clearances`)
        from every link the change stops is 0, as the city's program starts them with the
        yellow of those links or keeps them protected together (docs/import.md, rule 5). None
        without clearances: every link `to_phase` starts waits for the intergreen's end."""
        if not self.j.clearance_s:
            return frozenset()
        zero = {(i, k) for i, k, s in self.j.clearance_s if s <= 0.0}
        before, after = self._green_sets[from_phase], self._green_sets[to_phase]
        stopped, started = before - after, after - before
        if not stopped:
            return frozenset()
        return frozenset(k for k in started if all((i, k) in zero for i in stopped))

    def status(self, now_s: float) -> SignalStatus:
        phase, in_intergreen, mode, plan_id, seq, faults, program = self.status_key()
        return SignalStatus(
            junction=self.j.id,
            t_s=now_s,
            phase=phase,
            in_intergreen=in_intergreen,
            time_in_phase_s=max(0.0, now_s - self.stage.start_s),
            plan_id=plan_id,
            seq=seq,
            mode=mode,
            faults=faults,
            program=program,
        )

    def status_key(self) -> tuple[int, bool, Mode, str, int, tuple[str, ...], str]:
        """What of `status()` changes other than the clock: (phase, in_intergreen, mode, plan_id,
        seq, faults, program); status() is built from it."""
        plan = self.plan
        return (
            self.stage.phase,
            self.stage.kind != "green",
            self.mode,
            plan.plan_id if plan else "local",
            max(self.last_seq, 0),
            tuple(self.faults),
            self.program,
        )

    def status_epoch(self) -> int:
        """The epoch of the plan `status().seq` belongs to (0 before any plan)."""
        return max(self.epoch, 0)

    def green_phase(self) -> int | None:
        return self.stage.phase if self.stage.kind == "green" else None

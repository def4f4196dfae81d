"""Reference roadside agent: what a signal cabinet checks before it applies a plan.

This is the part a cabinet vendor ports. It is pure (no clock, no I/O): the cabinet passes its
own time. `PlanGuard.admit` takes the plan message as received on
`tsc/v1/{site}/{junction}/plan` and returns the plan to apply, or the reason it was refused
(reported by the cabinet in `status.faults` as "refused: <reason>"). In order:

1. signature: HMAC-SHA256 with the cabinet's own key, by key id (current or previous key);
   unsigned, unknown key id and bad signature are refused (core/signing.py);
2. well-formed: JSON, version, types, every number finite (core/messages.decode_plan);
3. addressed to this junction;
4. identity: plans are ordered by (epoch, seq). A newer epoch (the controller restarted) is
   accepted and restarts the sequence; an older epoch, or a seq not above the last accepted
   one in the same epoch, is a replay and refused;
5. validity window: refused when expired, when `valid_from` is more than `max_skew_s` ahead
   of the cabinet's clock, or when the window is longer than `max_validity_s`;
6. the junction's hard limits (`check_limits`): phases that exist and green no conflicting
   movements, greens within [min, max], cycle within its bounds, every movement served and
   none red longer than `max_red_s` over the cycle, holds no longer than the maximum green.

Only an admitted plan moves the identity forward: a refused plan (expired, forged, ...) can
never lock the junction out of later plans.

While running a plan the cabinet still enforces min green, intergreens, max green and max red
on its own (sim/roadside.py shows how); this module decides what to accept, and the signal
sequence of flashing operation (a `flash` plan, model.FlashCommand):

- into flash: the green in force keeps its minimum green, then its yellow (`yellow_s`, the links
  that were green) and the all-red (`all_red_s`, every link red; skipped when 0), then every
  link flashes yellow (`flash_state`, SUMO's letter 'o');
- out of flash (the flash plan expired, or a newer plan of another kind was admitted): every
  link red for `flash_exit_all_red_s`, then the green of the phase the new plan asks for (the
  phase green before the flash when there is none, and local control resumes from there).

Example:
    >>> guard = PlanGuard(junction, keys, max_skew_s=2.0, max_validity_s=300.0)  # doctest: +SKIP
    >>> guard.admit(payload, now_s=1795721509.0)  # doctest: +SKIP
    Admission(plan=PlanMessage(...), reason='')
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from controller.core.messages import PlanMessage, decode_plan
from controller.core.safety import max_red_s, phase_conflict
from controller.core.signing import JunctionKeys
from controller.errors import FeedError
from controller.model import Command, FlashCommand, Intersection, PhaseCommand

LIMIT_TOLERANCE_S = 0.01  # plans carry times rounded to the millisecond
FLASHING = "o"  # SUMO's signal letter for flashing yellow ("off, blinking": drivers yield)


def flash_state(j: Intersection) -> str:
    """The signal state of flashing operation: every link flashing yellow."""
    return FLASHING * j.n_links


def flash_exit_all_red_s(j: Intersection) -> float:
    """The all-red between flashing operation and the first green: a full intergreen of the
    junction (yellow_s + all_red_s), or the longest the junction keeps from the end of a link's green to the start
    of a conflicting one's where longer (a crossing's clearance, a conflicting pair's `pair_intergreen_s`:
    Intersection.clearance_pairs). A driver may enter on flashing yellow at any moment, as at the very start of
    a yellow, and gets the same clearance time before a conflicting green."""
    return max(j.yellow_s + j.all_red_s, max(j.clearance_pairs[1].values(), default=0.0))


@dataclass(frozen=True)
class Admission:
    plan: PlanMessage | None  # None when refused
    reason: str = ""  # why it was refused; "" when admitted


def check_limits(j: Intersection, cmd: Command) -> str:
    """'' when the command respects the junction's hard limits, else the first violation. A
    flash plan has none to break: the sequence into and out of it is the cabinet's own. A cycle's
    maximum red is checked over `j.red_bounded` (its signalised crossings as movements, as every
    maximum-red rule of the cabinet reads them: docs/security.md); the other checks are the same
    with or without them (a crossing lists no conflict)."""
    n, tol = len(j.phases), LIMIT_TOLERANCE_S
    if isinstance(cmd, FlashCommand):
        return ""  # no timing in it: the cabinet runs the intergreens into and out of flash itself
    if isinstance(cmd, PhaseCommand):
        if not 0 <= cmd.phase < n:
            return f"phase {cmd.phase} not in 0..{n - 1}"
        if not 0.0 <= cmd.hold_s <= j.phases[cmd.phase].max_green_s + tol:
            return f"hold {cmd.hold_s:g} s outside 0..max green {j.phases[cmd.phase].max_green_s:g} s"
        if not 0.0 <= cmd.all_red_s <= j.max_red_s:
            return f"all-red {cmd.all_red_s:g} s outside 0..max red {j.max_red_s:g} s"
        return phase_conflict(j, cmd.phase)
    if len(cmd.phase_order) != len(cmd.greens_s) or not cmd.phase_order:
        return "phase order and greens differ in length"
    if len(set(cmd.phase_order)) != len(cmd.phase_order):
        return f"phase order {list(cmd.phase_order)} repeats a phase"
    for p, g in zip(cmd.phase_order, cmd.greens_s):
        if not 0 <= p < n:
            return f"phase {p} not in 0..{n - 1}"
        ph = j.phases[p]
        if g < ph.min_green_s - tol:
            return f"phase {p} green {g:g} s < min {ph.min_green_s:g} s"
        if g > ph.max_green_s + tol:
            return f"phase {p} green {g:g} s > max {ph.max_green_s:g} s"
        why = phase_conflict(j, p)
        if why:
            return why
    if not j.cycle_min_s - tol <= cmd.cycle_s <= j.cycle_max_s + tol:
        return f"cycle {cmd.cycle_s:g} s outside [{j.cycle_min_s:g}, {j.cycle_max_s:g}] s"
    reds = max_red_s(j.red_bounded, cmd.phase_order, cmd.greens_s)  # its crossings too
    worst = max(reds, key=lambda m: reds[m]) if reds else None
    if worst is not None and reds[worst] > j.max_red_s + tol:
        return f"movement {worst} red {reds[worst]:g} s > max red {j.max_red_s:g} s"
    return ""


class PlanGuard:
    """One junction's plan admission. `keys` None turns the signature check off: only for an
    in-process replay, where no message crosses a network."""

    def __init__(
        self, junction: Intersection, keys: JunctionKeys | None, *, max_skew_s: float, max_validity_s: float
    ) -> None:
        self.junction = junction
        self.keys: JunctionKeys | None = None
        self.rekey(keys)
        self.max_skew_s = max_skew_s
        self.max_validity_s = max_validity_s
        self.epoch = -1  # identity of the last admitted plan
        self.seq = -1

    def rekey(self, keys: JunctionKeys | None) -> None:
        """Provision (or rotate) the cabinet's keys; the plan identity is kept."""
        if keys is not None and keys.junction != self.junction.id:
            raise ValueError(f"keys of junction {keys.junction!r} given to junction {self.junction.id!r}")
        self.keys = keys

    def admit(self, payload: bytes, now_s: float, offset_s: float = 0.0) -> Admission:
        """The plan message as received. `offset_s` is subtracted from its times (a demo field
        whose clock runs offset from the service's); now_s is the cabinet's clock."""
        if self.keys is not None:
            why = self.keys.verify(payload)
            if why:
                return Admission(None, why)
        try:
            msg = decode_plan(payload)
        except FeedError as exc:
            return Admission(None, f"malformed plan ({exc.reason}: {exc.detail})")
        if offset_s:
            c = msg.command
            msg = PlanMessage(
                replace(c, valid_from_s=c.valid_from_s - offset_s, expires_s=c.expires_s - offset_s), msg.epoch
            )
        return self._admit(msg, now_s)

    def admit_unsigned(self, cmd: Command, epoch: int, now_s: float) -> Admission:
        """A plan handed over in process (no message): refused when signatures are required."""
        if self.keys is not None:
            return Admission(None, "unsigned plan")
        return self._admit(PlanMessage(cmd, epoch), now_s)

    def _admit(self, msg: PlanMessage, now_s: float) -> Admission:
        cmd, j = msg.command, self.junction
        if cmd.junction != j.id:
            return Admission(None, f"plan for junction {cmd.junction[:40]}")
        if msg.epoch < self.epoch:
            return Admission(None, f"replayed: epoch {msg.epoch} older than {self.epoch}")
        if msg.epoch == self.epoch and cmd.seq <= self.seq:
            return Admission(None, f"replayed: seq {cmd.seq} <= {self.seq} in epoch {msg.epoch}")
        if now_s > cmd.expires_s:
            return Admission(None, f"expired {now_s - cmd.expires_s:.1f} s ago")
        if cmd.valid_from_s > now_s + self.max_skew_s:
            return Admission(None, f"not valid before {cmd.valid_from_s - now_s:.1f} s from now")
        if cmd.expires_s - cmd.valid_from_s > self.max_validity_s:
            return Admission(None, f"validity {cmd.expires_s - cmd.valid_from_s:.0f} s > {self.max_validity_s:g} s")
        why = check_limits(j, cmd)
        if why:
            return Admission(None, why)
        self.epoch, self.seq = msg.epoch, cmd.seq
        return Admission(msg)

"""The safety gate: the only way from a policy's wish to a command.

Hard constraints, all from the junction model (intersections/<name>/<tls>.toml):
- minimum green per phase (which includes pedestrian minimums) and maximum green;
- yellow and all-red intergreens between phases (derived per link, Intersection.intergreen_s);
- no conflicting greens inside a phase;
- maximum red for every movement (no starvation);
- cycle bounds.
A wish that can be brought inside the constraints by clipping is clipped and the clip is
reported; one that cannot is refused with the reason. The roadside controller checks again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

from controller.model import CyclePlan, CycleWish, Intersection, PhaseCommand, PhaseWish


@dataclass(frozen=True)
class GateOutcome:
    command: CyclePlan | PhaseCommand | None
    refused: str = ""  # reason when command is None
    clipped: tuple[str, ...] = ()  # what was changed to make the wish safe


@dataclass(frozen=True)
class SignalView:
    """What the gate must know of the signal for acyclic commands (from roadside status)."""

    phase: int
    in_intergreen: bool
    green_elapsed_s: float  # time the current phase has been green; 0 during an intergreen
    red_since_s: tuple[float, ...]  # per movement: when it was last green (now if green now)


def phase_conflict(j: Intersection, phase: int) -> str:
    """'' if the phase's greens are conflict-free, else a description."""
    served = j.served_movements(phase)
    for a, b in combinations(served, 2):
        if b in j.movement(a).conflicts:
            return f"phase {phase} greens conflicting movements {a} and {b}"
    return ""


def cycle_length_s(j: Intersection, order: tuple[int, ...], greens_s: tuple[float, ...]) -> float:
    n = len(order)
    return sum(greens_s) + sum(j.intergreen_s(order[i], order[(i + 1) % n]) for i in range(n))


def max_red_s(j: Intersection, order: tuple[int, ...], greens_s: tuple[float, ...]) -> dict[str, float]:
    """Longest red per movement over one cycle, in seconds. Intergreens count as red unless
    the movement stays green across them (conservative: yellow is counted as red)."""
    n = len(order)
    out = {}
    for m in j.movements:
        served = [m.id in j.served_movements(p) for p in order]
        if not any(served):
            out[m.id] = math.inf
            continue
        start = served.index(True)
        longest = run = 0.0
        for k in range(1, n + 1):
            prev, i = (start + k - 1) % n, (start + k) % n
            if not (served[prev] and served[i]):
                run += j.intergreen_s(order[prev], order[i])
            if served[i]:
                longest, run = max(longest, run), 0.0
            else:
                run += greens_s[i]
        out[m.id] = longest
    return out


def _fit(greens: list[float], lo: list[float], hi: list[float], target_sum: float) -> list[float] | None:
    """Move greens within [lo, hi], in proportion to each one's room, to sum to target_sum."""
    if target_sum < sum(lo) - 1e-9 or target_sum > sum(hi) + 1e-9:
        return None
    excess = sum(greens) - target_sum
    room = [(g - low) if excess > 0 else (h - g) for g, low, h in zip(greens, lo, hi)]
    total = sum(room)
    if total <= 0:
        return list(greens) if abs(excess) < 1e-9 else None
    return [min(h, max(low, g - excess * r / total)) for g, low, h, r in zip(greens, lo, hi, room)]


def gate_cycle(j: Intersection, wish: CycleWish, *, plan_id: str, seq: int, now_s: float,
               ttl_s: float) -> GateOutcome:
    order, greens = tuple(wish.phase_order), tuple(wish.greens_s)
    n = len(j.phases)
    if not order or len(order) != len(greens):
        return GateOutcome(None, "phase order and greens must be non-empty and of equal length")
    if any(not isinstance(p, int) or not 0 <= p < n for p in order) or len(set(order)) != len(order):
        return GateOutcome(None, f"phase order {list(order)} must list distinct phases of 0..{n - 1}")
    if any(not math.isfinite(g) for g in greens) or not math.isfinite(wish.offset_s):
        return GateOutcome(None, "non-finite green or offset")
    for p in order:
        why = phase_conflict(j, p)
        if why:
            return GateOutcome(None, why)
    served = {m for p in order for m in j.served_movements(p)}
    starved = [m.id for m in j.movements if m.id not in served]
    if starved:
        return GateOutcome(None, f"movements never served: {starved}")

    clipped = []
    lo = [j.phases[p].min_green_s for p in order]
    hi = [j.phases[p].max_green_s for p in order]
    g = [min(h, max(low, x)) for x, low, h in zip(greens, lo, hi)]
    if g != list(greens):
        clipped.append("greens clipped to [min_green_s, max_green_s]")
    ig = cycle_length_s(j, order, tuple(0.0 for _ in order))
    cycle = sum(g) + ig
    if cycle > j.cycle_max_s + 1e-9 or cycle < j.cycle_min_s - 1e-9:
        target = min(max(cycle, j.cycle_min_s), j.cycle_max_s) - ig
        fitted = _fit(g, lo, hi, target)
        if fitted is None:
            return GateOutcome(None, f"cannot fit cycle in [{j.cycle_min_s}, {j.cycle_max_s}] s with the phase limits")
        g = fitted
        clipped.append(f"cycle {cycle:.1f} s brought within [{j.cycle_min_s}, {j.cycle_max_s}] s")
        cycle = sum(g) + ig
    reds = max_red_s(j, order, tuple(g))
    worst = max(reds, key=reds.get)
    if reds[worst] > j.max_red_s + 1e-9:
        return GateOutcome(None, f"movement {worst} would wait {reds[worst]:.1f} s > max_red_s {j.max_red_s}")
    plan = CyclePlan(
        junction=j.id, plan_id=plan_id, seq=seq, phase_order=order, greens_s=tuple(round(x, 3) for x in g),
        cycle_s=round(cycle, 3), offset_s=round(wish.offset_s % cycle, 3), valid_from_s=now_s,
        expires_s=now_s + ttl_s,
    )
    return GateOutcome(plan, clipped=tuple(clipped))


def gate_phase(j: Intersection, wish: PhaseWish, view: SignalView, *, plan_id: str, seq: int,
               now_s: float, ttl_s: float) -> GateOutcome:
    """Acyclic command: change to or hold `wish.phase`. Enforces min/max green and max red."""
    n = len(j.phases)
    if not isinstance(wish.phase, int) or not 0 <= wish.phase < n:
        return GateOutcome(None, f"phase {wish.phase!r} not in 0..{n - 1}")
    if not math.isfinite(wish.hold_s) or wish.hold_s < 0:
        return GateOutcome(None, f"hold_s {wish.hold_s!r} must be finite and >= 0")
    why = phase_conflict(j, wish.phase)
    if why:
        return GateOutcome(None, why)
    clipped = []
    target = wish.phase
    cur = view.phase
    if view.in_intergreen:
        if target != cur:
            clipped.append("intergreen in progress: target kept")
        target = cur
    else:
        min_g, max_g = j.phases[cur].min_green_s, j.phases[cur].max_green_s
        if target != cur and view.green_elapsed_s < min_g:
            clipped.append("min green not yet served")
            target = cur
        elif target == cur and view.green_elapsed_s >= max_g:
            target = _most_starved_phase(j, view, now_s, exclude=cur)
            clipped.append("max green reached")
        # Starvation guard: a movement about to exceed max red is served next.
        if view.green_elapsed_s >= min_g:
            served_now = set(j.served_movements(cur))
            for i, m in enumerate(j.movements):
                if m.id in served_now:
                    continue
                waited = now_s - view.red_since_s[i] + j.yellow_s + j.all_red_s
                if waited >= j.max_red_s and m.id not in j.served_movements(target):
                    target = _most_starved_phase(j, view, now_s, exclude=cur)
                    clipped.append(f"movement {m.id} near max red")
                    break
    hold = wish.hold_s if target == wish.phase else 1.0
    cmd = PhaseCommand(junction=j.id, plan_id=plan_id, seq=seq, phase=target, hold_s=hold,
                       valid_from_s=now_s, expires_s=now_s + ttl_s)
    return GateOutcome(cmd, clipped=tuple(clipped))


def _most_starved_phase(j: Intersection, view: SignalView, now_s: float, exclude: int) -> int:
    """The phase serving the movement that has waited longest (ties: lowest index)."""
    best, best_wait = None, -1.0
    for k in range(len(j.phases)):
        if k == exclude:
            continue
        served = set(j.served_movements(k))
        wait = max((now_s - view.red_since_s[i] for i, m in enumerate(j.movements) if m.id in served), default=0.0)
        if wait > best_wait:
            best, best_wait = k, wait
    return exclude if best is None else best

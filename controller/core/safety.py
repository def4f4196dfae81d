"""The safety gate: the only way from a policy's wish to a command.

Hard constraints, all from the junction model (intersections/<name>/<tls>.toml):
- minimum green per phase and maximum green; a phase's minimum green must be at least its
  crossings' pedestrian minimum (`Phase.ped_min_green_s`): the loader refuses a file whose phase
  is not, and the gate refuses every wish for a model built otherwise (`pedestrian_refusal`);
- yellow and all-red intergreens between phases (derived per link, Intersection.intergreen_s);
- no conflicting greens inside a phase;
- maximum red for every movement (no starvation), and for every crossing of the model
  (`Intersection.crossings`, [timing] crossings_max_red: bounded as movements, bounded_view);
- cycle bounds.
A wish that can be brought inside the constraints by clipping is clipped and the clip is
reported; one that cannot is refused with the reason. The roadside controller checks again.

The gate keeps no state of its own: a caller that gates every tick (core/step.py) owns a
`GateMemo` and passes it in, so what the gate derives from a junction model, and the max-red
plans it found, are kept between calls. Without one (`memo=None`), each call derives what it
needs again; the outcome is the same.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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
    # per crossing of the model (Intersection.crossings): the same; read by the gate alone (bounded_view)
    crossing_red_since_s: tuple[float, ...] = ()


def bounded_view(j: Intersection, view: SignalView) -> SignalView:
    """`view` as the maximum-red rules of the gate read it, over `j.red_bounded` (the crossings as movements
    after the vehicle movements): the crossings' red times after the movements'; `view` itself for a model
    without crossings. The policies are handed `j` and `view` as they are: the crossings' rule is the gate's."""
    if not j.crossings:
        return view
    red = view.red_since_s + view.crossing_red_since_s
    return SignalView(view.phase, view.in_intergreen, view.green_elapsed_s, red)


def phase_conflict(j: Intersection, phase: int) -> str:
    """'' if the phase's greens are conflict-free, else a description."""
    pair = j.conflicting_greens(phase)
    return "" if pair is None else f"phase {phase} greens conflicting movements {pair[0]} and {pair[1]}"


def cycle_length_s(j: Intersection, order: tuple[int, ...], greens_s: tuple[float, ...]) -> float:
    n = len(order)
    return sum(greens_s) + sum(j.intergreen_s(order[i], order[(i + 1) % n]) for i in range(n))


def max_red_s(
    j: Intersection, order: tuple[int, ...], greens_s: tuple[float, ...], memo: GateMemo | None = None
) -> dict[str, float]:
    """Longest red per movement over one cycle, in seconds. Intergreens count as red unless
    the movement stays green across them (conservative: yellow is counted as red). `memo`: the
    caller's GateMemo (keeps red_walks of `j` and `order`, and which movements walk alike)."""
    distinct, walk_of = memo.cycle_form(j, order).alike if memo is not None else alike_walks(red_walks(j, order))
    longest_s = [_longest_red_s(walk, greens_s) for walk in distinct]
    return {m_id: longest_s[k] for m_id, k in walk_of}


def _longest_red_s(walk: tuple[tuple[float | None, int, bool], ...] | None, greens_s: tuple[float, ...]) -> float:
    """The longest red along one movement's walk (red_walks) under `greens_s`; inf for None (never served)."""
    if walk is None:
        return math.inf
    longest = run = 0.0
    for into_s, i, served in walk:
        if into_s is not None:
            run += into_s
        if served:
            longest, run = max(longest, run), 0.0
        else:
            run += greens_s[i]
    return longest


# per movement: (id, its walk over one cycle from the first phase serving it; None: served in none)
RedWalks = tuple[tuple[str, tuple[tuple[float | None, int, bool], ...] | None], ...]


def red_walks(j: Intersection, order: tuple[int, ...]) -> RedWalks:
    """What max_red_s reads of `j` and `order`, per movement: from the first phase of `order`
    serving it, one step per phase around the cycle, (the intergreen into that phase, or None
    when the movement stays green across it; the phase's position in `order`; whether it serves
    the movement)."""
    n = len(order)
    by_phase = [frozenset(j.served_movements(p)) for p in order]
    # into_s[i]: the intergreen into the i-th phase of `order` from the one before it
    into_s = [j.intergreen_s(order[(i - 1) % n], order[i]) for i in range(n)]
    out: list[tuple[str, tuple[tuple[float | None, int, bool], ...] | None]] = []
    for m in j.movements:
        served = [m.id in ids for ids in by_phase]
        if not any(served):
            out.append((m.id, None))
            continue
        start = served.index(True)
        walk = []
        for k in range(1, n + 1):
            prev, i = (start + k - 1) % n, (start + k) % n
            walk.append((None if served[prev] and served[i] else into_s[i], i, served[i]))
        out.append((m.id, tuple(walk)))
    return tuple(out)


# red_walks' distinct walks in first-seen order, and per movement (its id, the index of its walk)
AlikeWalks = tuple[tuple[tuple[tuple[float | None, int, bool], ...] | None, ...], tuple[tuple[str, int], ...]]


def alike_walks(walks: RedWalks) -> AlikeWalks:
    """`walks` grouped by equal walks (movements served by the same phases walk alike): max_red_s
    walks each once. Equal walks give the same longest red to the bit: their steps compare equal,
    and the only equal floats that differ (0.0 and -0.0) add alike to a run that starts at +0.0."""
    index: dict[tuple[tuple[float | None, int, bool], ...] | None, int] = {}
    walk_of = tuple((m_id, index.setdefault(walk, len(index))) for m_id, walk in walks)
    return tuple(index), walk_of


@dataclass(frozen=True)
class CycleForm:
    """What gate_cycle reads of a model `j` and a valid phase order alone (cycle_form), kept per
    pair in GateMemo: the values the gate would derive at each call."""

    alike: AlikeWalks  # alike_walks(red_walks(j, order))
    intergreens_s: float  # cycle_length_s(j, order, zero greens): the cycle's intergreens
    min_green_s: tuple[float, ...]  # per position of `order`: its phase's min_green_s
    max_green_s: tuple[float, ...]  # per position of `order`: its phase's max_green_s
    # per distinct walk of `alike`, the first movement of the model that walks it (worst_red); () when two
    # movements share an id or there is none (worst_red then reads max_red_s)
    first_movement: tuple[str, ...] = ()


def cycle_form(j: Intersection, order: tuple[int, ...], walks: RedWalks) -> CycleForm:
    """CycleForm of `j` and `order` (distinct phases of `j`: _cycle_form_refusal checks it first),
    `walks` its red_walks."""
    alike = alike_walks(walks)
    first: dict[int, str] = {}
    for m_id, k in alike[1]:
        first.setdefault(k, m_id)
    unique = len({m_id for m_id, _ in alike[1]}) == len(alike[1])
    return CycleForm(
        alike,
        cycle_length_s(j, order, tuple(0.0 for _ in order)),
        tuple(j.phases[p].min_green_s for p in order),
        tuple(j.phases[p].max_green_s for p in order),
        tuple(first[k] for k in range(len(alike[0]))) if unique else (),
    )


def worst_red(
    j: Intersection, order: tuple[int, ...], greens_s: tuple[float, ...], form: CycleForm, memo: GateMemo
) -> tuple[str, float]:
    """The movement that would wait longest over one cycle, and how long: max_red_s's largest, the first movement
    of the model with it (`form`: cycle_form of `j` and `order`). Each distinct walk is walked once and the
    first movement walking the longest is read from `form`: movements that walk alike wait alike, and the walks
    are numbered in the order of their first movements. ValueError, as max() of max_red_s's, for a model
    without movements."""
    first = form.first_movement
    if not first:
        reds = max_red_s(j, order, greens_s, memo)
        worst = max(reds, key=lambda m: reds[m])
        return worst, reds[worst]
    longest_s = [_longest_red_s(walk, greens_s) for walk in form.alike[0]]
    k = max(range(len(longest_s)), key=longest_s.__getitem__)
    return first[k], longest_s[k]


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


def gate_cycle(
    j: Intersection,
    wish: CycleWish,
    *,
    plan_id: str,
    seq: int,
    now_s: float,
    ttl_s: float,
    view: SignalView | None = None,
    memo: GateMemo | None = None,
) -> GateOutcome:
    """A cycle plan: greens clipped to [min, max], the cycle fitted into its bounds, refused when
    a movement would wait longer than max_red_s within the cycle, or (with `view`, the signal
    as it stands) before the new plan first serves it, or when `view` is of another model (a
    phase the junction has not, not one red time per movement), its crossings bounded as movements
    (bounded_view). `memo`: the caller's GateMemo (without one, a new one: one code path)."""
    memo = memo if memo is not None else GateMemo()
    if j.crossings:  # bounded as movements (Intersection.red_bounded)
        j, view = j.red_bounded, None if view is None else bounded_view(j, view)
    order, greens = tuple(wish.phase_order), tuple(wish.greens_s)
    why = _cycle_form_refusal(j, order, greens, wish.offset_s, memo) or (
        _view_mismatch(j, view) if view is not None else ""
    )
    if why:
        return GateOutcome(None, why)

    clipped = []
    form = memo.cycle_form(j, order)
    lo, hi = list(form.min_green_s), list(form.max_green_s)
    g = [min(h, max(low, float(x))) for x, low, h in zip(greens, lo, hi)]
    if g != [float(x) for x in greens]:
        clipped.append("greens clipped to [min_green_s, max_green_s]")
    ig = form.intergreens_s
    cycle = sum(g) + ig
    if cycle > j.cycle_max_s + 1e-9 or cycle < j.cycle_min_s - 1e-9:
        target = min(max(cycle, j.cycle_min_s), j.cycle_max_s) - ig
        fitted = _fit(g, lo, hi, target)
        if fitted is None:
            return GateOutcome(None, f"cannot fit cycle in [{j.cycle_min_s}, {j.cycle_max_s}] s with the phase limits")
        g = fitted
        clipped.append(f"cycle {cycle:.1f} s brought within [{j.cycle_min_s}, {j.cycle_max_s}] s")
        cycle = sum(g) + ig
    worst, worst_s = worst_red(j, order, tuple(g), form, memo)
    if worst_s > j.max_red_s + 1e-9:
        return GateOutcome(None, f"movement {worst} would wait {worst_s:.1f} s > max_red_s {j.max_red_s}")
    why = _first_wait_refusal(j, order, tuple(g), view, now_s, memo) if view is not None else ""
    if why:
        return GateOutcome(None, why)
    plan = CyclePlan(
        junction=j.id,
        plan_id=plan_id,
        seq=seq,
        phase_order=order,
        greens_s=tuple(round(x, 3) for x in g),
        cycle_s=round(cycle, 3),
        offset_s=round(wish.offset_s % cycle, 3),
        valid_from_s=now_s,
        expires_s=now_s + ttl_s,
    )
    return GateOutcome(plan, clipped=tuple(clipped))


def pedestrian_refusal(j: Intersection) -> str:
    """Why no wish for the model `j` is safe for pedestrians ('' when every one may be): a phase whose
    minimum green is shorter than the pedestrian minimum of the crossings it greens (walk plus
    clearance, `Phase.ped_min_green_s`), which every green of that phase must last. The loader refuses
    such a file (controller/junctions.py); a model built in code is checked here."""
    for p in j.phases:
        if p.ped_min_green_s > p.min_green_s:
            return (
                f"phase {p.index}: min_green_s {p.min_green_s:g} s is below the pedestrian minimum of its crossings "
                f"(ped_min_green_s {p.ped_min_green_s:g} s)"
            )
    return ""


def _cycle_form_refusal(
    j: Intersection, order: tuple[int, ...], greens: tuple[float, ...], offset_s: float, memo: GateMemo
) -> str:
    """Why a cycle wish is malformed or unsafe whatever its timing ('' when it is not): its order
    and greens, finite values, conflicting greens, a movement never served, a model whose minimum
    greens do not hold its pedestrian minimums. The model's checks are read from `memo` (its
    _Static and red_walks of `j`), the one place they are derived, with or without the caller's memo."""
    n = len(j.phases)
    if not order or len(order) != len(greens):
        return "phase order and greens must be non-empty and of equal length"
    bad_index = any(isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < n for p in order)
    if bad_index or len(set(order)) != len(order):
        return f"phase order {list(order)} must list distinct phases of 0..{n - 1}"
    if any(not _finite(g) for g in greens) or not _finite(offset_s):
        return "non-finite green or offset"
    return memo.form_refusal(j, order)


def _order_refusal(j: Intersection, order: tuple[int, ...], memo: GateMemo) -> str:
    """_cycle_form_refusal's checks of the model and a valid `order` alone (kept in GateMemo)."""
    st = memo.static(j)
    why = next((st.conflict[p] for p in order if st.conflict[p]), "")
    starved = [m_id for m_id, walk in memo.walks(j, order) if walk is None]
    return why or (f"movements never served: {starved}" if starved else st.pedestrian)


def _view_mismatch(j: Intersection, view: SignalView) -> str:
    """Why the signal as it stands cannot be the junction's ('' when it can): a phase outside its
    phases, or not one red time per movement (a status of another model: no wait can be counted)."""
    if not 0 <= view.phase < len(j.phases) or len(view.red_since_s) != len(j.movements):
        return "signal status does not match the junction model"
    return ""


def _first_wait_refusal(
    j: Intersection, order: tuple[int, ...], greens: tuple[float, ...], view: SignalView, now_s: float, memo: GateMemo
) -> str:
    """Why the plan would keep a movement red past max_red_s before it first serves it, counted
    from when the signal as it stands (`view`) made it red ('' when none would)."""
    first = first_green_at(j, order, greens, view, memo)
    red_since_s, limit_s = view.red_since_s, j.max_red_s + 1e-9
    for i, t in enumerate(first):
        if t is not None and t > 0:
            wait = now_s - red_since_s[i] + t
            if wait > limit_s:
                return (
                    f"movement {j.movements[i].id} would wait {wait:.1f} s > max_red_s {j.max_red_s} "
                    "before the new plan serves it"
                )
    return ""


def first_green_s(
    j: Intersection, order: tuple[int, ...], greens_s: tuple[float, ...], view: SignalView, memo: GateMemo | None = None
) -> dict[str, float]:
    """Seconds from now until each movement is first green if the roadside switches to this
    cycle plan now (it finishes the green in force, or its intergreen, then follows the order
    from there; sim/roadside.py). 0 for movements green now. By movement id: first_green_at's."""
    first = first_green_at(j, order, greens_s, view, memo if memo is not None else GateMemo())
    return {m.id: t for m, t in zip(j.movements, first) if t is not None}


def first_green_at(
    j: Intersection, order: tuple[int, ...], greens_s: tuple[float, ...], view: SignalView, memo: GateMemo
) -> list[float | None]:
    """first_green_s per movement in `j.movements`' order (None: the plan never serves it), the
    movements each phase serves read from `memo`'s _Static of `j`."""
    st = memo.static(j)
    served = st.served_at
    cur = view.phase
    out: list[float | None] = [None] * len(j.movements)
    if view.in_intergreen:
        t = st.intergreen_left_s  # at most what is left of it
        elapsed = 0.0
    else:
        t, elapsed = 0.0, view.green_elapsed_s
        for i in served[cur]:
            out[i] = 0.0
    if cur in order:
        k = order.index(cur)
        for i in served[cur]:
            if out[i] is None:
                out[i] = t
        t += _whole(max(greens_s[k], j.phases[cur].min_green_s)) - elapsed
    else:
        k = -1
        t += max(0.0, _whole(j.phases[cur].min_green_s) - elapsed)
    t = max(t, 0.0)
    prev = cur
    for step in range(1, len(order) + 1):
        i = (k + step) % len(order)
        p = order[i]
        t += stage_intergreen_s(j, prev, p, memo)
        for m in served[p]:
            if out[m] is None:
                out[m] = t
        t += _whole(greens_s[i])
        prev = p
    return out


# The core decides once a second, on 1 Hz detector and status messages (the field contract,
# docs/mqtt.md); the one place this period is written. A deadline must still be met if the
# switch comes one decision later. Roadside stages last whole periods (a zero yellow still shows
# for one), so the plans below round every stage up.
DECISION_PERIOD_S = 1.0


def _whole(x_s: float) -> float:
    return math.ceil(x_s / DECISION_PERIOD_S - 1e-9) * DECISION_PERIOD_S


def stage_intergreen_s(j: Intersection, a: int, b: int, memo: GateMemo | None = None) -> float:
    """The intergreen a -> b as a roadside with whole-period stages shows it (from `memo`'s
    table of the model's pairs of phases when given)."""
    if memo is None or not (0 <= a < len(j.phases) and 0 <= b < len(j.phases)):
        return _stage_intergreen_s(j, a, b)  # what the model says (also of indices out of range)
    return memo.static(j).intergreen_s[a][b]


def _stage_intergreen_s(j: Intersection, a: int, b: int) -> float:
    if j.intergreen_s(a, b) <= 0:
        return 0.0
    if j.transition(a, b) is not None:  # the program's own states, run as one stage
        return max(_whole(j.intergreen_s(a, b)), DECISION_PERIOD_S)
    return max(_whole(j.yellow_s), DECISION_PERIOD_S) + _whole(j.all_red_between_s(a, b))


def gate_phase(
    j: Intersection,
    wish: PhaseWish,
    view: SignalView,
    *,
    plan_id: str,
    seq: int,
    now_s: float,
    ttl_s: float,
    memo: GateMemo | None = None,
) -> GateOutcome:
    """Acyclic command: change to or hold `wish.phase`.

    Enforced: no leaving a phase before its minimum green, no holding it past its maximum, no
    change during an intergreen (the roadside runs it out), and the maximum red of every
    movement. For the last, the gate keeps a feasible service plan at all times: serving the
    waiting movements in earliest-deadline order, each phase for its minimum green after its
    intergreen, every one must turn green before `max_red_s`. The wish is followed while such a
    plan still exists after it (one decision period later); otherwise the plan's first phase is
    commanded now. This holds whenever max_red_s leaves room for one round of minimum greens.
    `memo`: the caller's GateMemo (the model's derived data and the plans found), if any."""
    target = phase_target(j, wish, view, now_s=now_s, memo=memo)
    return phase_outcome(j, target, plan_id=plan_id, seq=seq, now_s=now_s, ttl_s=ttl_s)


def phase_outcome(
    j: Intersection,
    target: tuple[int, float, tuple[str, ...]] | str,
    *,
    plan_id: str,
    seq: int,
    now_s: float,
    ttl_s: float,
) -> GateOutcome:
    """gate_phase's outcome from phase_target's answer: the PhaseCommand (valid from now_s for
    ttl_s), or the refusal."""
    if isinstance(target, str):
        return GateOutcome(None, target)
    phase, hold, clipped = target
    cmd = PhaseCommand(
        junction=j.id, plan_id=plan_id, seq=seq, phase=phase, hold_s=hold, valid_from_s=now_s, expires_s=now_s + ttl_s
    )
    return GateOutcome(cmd, clipped=clipped)


def phase_target(
    j: Intersection, wish: PhaseWish, view: SignalView, *, now_s: float, memo: GateMemo | None = None
) -> tuple[int, float, tuple[str, ...]] | str:
    """gate_phase's decision without its command: (phase, hold_s, clipped) of the PhaseCommand
    gate_phase would build for the same arguments, or the reason it would refuse (a str). For a
    caller that drops a command repeating the one in force (core/step.py) and need not build it. The
    crossings of `j` are bounded as movements (bounded_view)."""
    memo = memo if memo is not None else GateMemo()
    if j.crossings:  # bounded as movements (Intersection.red_bounded)
        j, view = j.red_bounded, bounded_view(j, view)
    lean = memo._leans.get(id(j))  # memo.lean(j) once the wish is checked (its lookup inline)
    if lean is not None and lean.model is not j:
        lean = None
    n = len(j.phases) if lean is None else lean.n
    phase, hold_s = wish.phase, wish.hold_s
    if isinstance(phase, bool) or not isinstance(phase, int) or not 0 <= phase < n:
        return f"phase {phase!r} not in 0..{n - 1}"
    if not _finite(hold_s) or hold_s < 0:
        return f"hold_s {hold_s!r} must be finite and >= 0"
    if lean is None:
        lean = memo.lean(j)
    if not 0 <= view.phase < n or len(view.red_since_s) != lean.movements:
        return _view_mismatch(j, view)
    at = lean.at
    why = at[phase][0]
    if why:
        return why
    clipped: list[str] = []
    target = _green_target(j, phase, view, now_s, memo, lean, clipped)
    hold = min(float(hold_s), at[target][2]) if target == phase else 1.0
    return target, hold, tuple(clipped) if clipped else ()


def _green_target(
    j: Intersection, target: int, view: SignalView, now_s: float, memo: GateMemo, lean: _Lean, clipped: list[str]
) -> int:
    """The phase gate_phase commands for a wish of `target` (its rules; each change said in
    `clipped`): the phase in force during its intergreen or before its minimum green, another
    past its maximum green, the first phase of a feasible service plan when the wish leaves none.
    `lean`: memo.lean(j)."""
    cur = view.phase
    if view.in_intergreen:
        if target != cur:
            clipped.append("intergreen in progress: target kept")
        return cur
    elapsed = view.green_elapsed_s
    _, min_g, max_g, red_of = lean.at[cur]
    if target != cur and elapsed < min_g:
        clipped.append("min green not yet served")
        target = cur
    if target == cur and elapsed >= max_g and lean.n > 1:
        target = _most_starved_phase(j, view, now_s, exclude=cur)
        clipped.append("max green reached")
    if red_of is not None:  # some movement is red: its deadline must stay reachable
        st = lean.static
        if target == cur:
            ok = _feasible(j, view, cur, now_s + max(min_g - elapsed, DECISION_PERIOD_S), None, memo, st, lean)
        else:
            ok = _feasible(j, view, cur, now_s, target, memo, st, lean)
        if not ok and elapsed >= min_g:
            deadlines = _deadlines(j, view, cur, st)
            plan = _plan(j, deadlines, cur, now_s, None, st)
            urgent = plan[0] if plan else _edf_candidates(j, deadlines, st)[0]
            if urgent != target:
                clipped.append(f"max red: movement {min(deadlines, key=lambda m: deadlines[m])} served next")
                target = urgent
    return target


@dataclass(frozen=True, slots=True)
class _Static:
    """What the gate derives from a junction model alone, once per model object (GateMemo)."""

    unserved: str  # '' when every movement is green in some phase, else why no maximum red can be kept
    pedestrian: str  # '' when every phase's minimum green holds its pedestrian minimum, else pedestrian_refusal's why
    conflict: tuple[str, ...]  # per phase: phase_conflict's answer
    red_when: tuple[tuple[tuple[int, str], ...], ...]  # per phase: (position, id) of the movements it does not serve
    intergreen_s: tuple[tuple[float, ...], ...]  # stage_intergreen_s for every ordered pair of phases
    serving: dict[str, tuple[int, ...]]  # movement id -> the phases serving it, in index order
    served_at: tuple[tuple[int, ...], ...]  # per phase: the positions in j.movements of the movements it serves
    # per phase: red_since_s -> the values of its red_when movements (one value, or a tuple of them)
    red_of: tuple[Callable[[tuple[float, ...]], object], ...]
    refusal: tuple[str, ...]  # per phase: why no wish of it is safe (conflict, else unserved, else pedestrian), or ''
    min_green_s: tuple[float, ...]  # per phase: j.phases[k].min_green_s
    max_green_s: tuple[float, ...]  # per phase: j.phases[k].max_green_s
    served_ids: tuple[tuple[str, ...], ...]  # per phase: j.served_movements(k)
    min_green_whole_s: tuple[float, ...]  # per phase: _whole(min_green_s), its green in a plan
    # the most an intergreen in progress may still run: the longest of intergreen_s, and at least yellow_s + all_red_s
    # and the longest program transition (a pair's or a crossing's clearance may make a change longer than those)
    intergreen_left_s: float


@dataclass(frozen=True, slots=True)
class _Lean:
    """What phase_target reads of a model at every call, in one place (GateMemo.lean): the model's
    _Static spread over many objects, and a gate that runs for every junction every second waits
    on memory more than it computes."""

    model: Intersection
    static: _Static  # GateMemo.static(model)
    n: int  # len(model.phases)
    movements: int  # len(model.movements)
    # per phase: (why no wish of it is safe or '': _Static.refusal, its min_green_s, its max_green_s,
    # _Static.red_of of it where some movement is red in it, else None)
    at: tuple[tuple[str, float, float, Callable[[tuple[float, ...]], object] | None], ...]
    # the plans _feasible kept (GateMemo.keep), at found_at(cur, first): n (n + 1) of them
    found: list[_Found | None]

    def found_at(self, cur: int, first: int | None) -> int:
        """The place in `found` of the plan leaving phase `cur` with `first` first (None: any); -1
        for phases the model has not."""
        n = self.n
        if not 0 <= cur < n or (first is not None and not 0 <= first < n):
            return -1
        return cur * (n + 1) + (0 if first is None else first + 1)


class GateMemo:
    """The gate's memory across calls, owned by the caller that gates every tick (one per core)
    and passed to gate_phase / gate_cycle: per junction model object, what the gate derives from
    it alone (_Static), and what phase_target reads of it at every call, in one record (_Lean);
    per (model, phase order), max_red_s' walks around the cycle (red_walks, for gate_cycle) and
    what gate_cycle reads of the pair alone (CycleForm: the walks grouped alike, the cycle's
    intergreens, the phases' green bounds; the form check's reason, once asked); per (model, phase
    left, first phase), the max-red plan the search last found (_Found, for _feasible; in the
    model's _Lean). It only saves work: every outcome is the one a new memo gives.

    Bounded, and sized from the models it serves (`models`, e.g. a core's junctions): each kind holds
    what they can ask of it (one _Static, one _Lean and one phase order per model, a plan per phase
    left and first phase or none: n (n + 1) for n phases) plus MEMO_MAX entries more (models replaced
    over a long life, other orders); past that, the kind starts again. Without `models`, MEMO_MAX of
    each."""

    MEMO_MAX = 4096

    def __init__(self, models: Iterable[Intersection] = ()) -> None:
        self._statics: dict[int, tuple[Intersection, _Static]] = {}  # id(model) -> (model, derived)
        self._leans: dict[int, _Lean] = {}  # id(model) -> what phase_target reads of it
        # plans kept: in their model's _Lean.found, or here for phases it has not (id(model), cur, first)
        self._found: dict[tuple[int, int, int | None], _Found] = {}
        self._found_kept = 0  # plans kept, both places
        self._walks: dict[tuple[int, tuple[int, ...]], tuple[Intersection, RedWalks]] = {}
        # (id(model), order) -> (model, its CycleForm, _order_refusal's reason or None until asked)
        self._forms: dict[tuple[int, tuple[int, ...]], tuple[Intersection, CycleForm, list[str | None]]] = {}
        phases = [len(j.phases) for j in models]
        self.statics_max = self.walks_max = self.MEMO_MAX + len(phases)  # entries of each kind kept at most
        self.found_max = self.MEMO_MAX + sum(n * (n + 1) for n in phases)

    def static(self, j: Intersection) -> _Static:
        """The gate's static data of `j` (derived on first use, kept while `j` is the same object)."""
        known = self._statics.get(id(j))
        if known is not None and known[0] is j:
            return known[1]
        out = _derive_static(j)
        if len(self._statics) >= self.statics_max:
            self._statics.clear()
        self._statics[id(j)] = (j, out)
        return out

    def lean(self, j: Intersection) -> _Lean:
        """phase_target's _Lean of `j` (derived on first use, kept while `j` is the same object)."""
        known = self._leans.get(id(j))
        if known is not None and known.model is j:
            return known
        st = self.static(j)
        at = tuple(
            (st.refusal[k], st.min_green_s[k], st.max_green_s[k], st.red_of[k] if st.red_when[k] else None)
            for k in range(len(j.phases))
        )
        n = len(j.phases)
        out = _Lean(j, st, n, len(j.movements), at, [None] * (n * (n + 1)))
        if len(self._leans) >= self.statics_max:
            self._leans.clear()
            self._found_kept = len(self._found)
        self._leans[id(j)] = out
        return out

    def walks(self, j: Intersection, order: tuple[int, ...]) -> RedWalks:
        """red_walks(j, order) (derived on first use, kept while `j` is the same object)."""
        known = self._walks.get((id(j), order))
        if known is not None and known[0] is j:
            return known[1]
        out = red_walks(j, order)
        if len(self._walks) >= self.walks_max:
            self._walks.clear()
        self._walks[(id(j), order)] = (j, out)
        return out

    def _form(self, j: Intersection, order: tuple[int, ...]) -> tuple[Intersection, CycleForm, list[str | None]]:
        known = self._forms.get((id(j), order))
        if known is not None and known[0] is j:
            return known
        reason: list[str | None] = [None]
        out = (j, cycle_form(j, order, self.walks(j, order)), reason)
        if len(self._forms) >= self.walks_max:
            self._forms.clear()
        self._forms[(id(j), order)] = out
        return out

    def cycle_form(self, j: Intersection, order: tuple[int, ...]) -> CycleForm:
        """cycle_form(j, order) (derived on first use, kept while `j` is the same object)."""
        return self._form(j, order)[1]

    def form_refusal(self, j: Intersection, order: tuple[int, ...]) -> str:
        """_order_refusal(j, order) (derived on first use, kept while `j` is the same object)."""
        kept = self._form(j, order)[2]
        why = kept[0]
        if why is None:
            why = kept[0] = _order_refusal(j, order, self)
        return why

    def found(self, j: Intersection, cur: int, first: int | None) -> _Found | None:
        """The plan last found for model `j` leaving `cur` with `first` first (None: none kept)."""
        lean = self._leans.get(id(j))
        at = -1 if lean is None or lean.model is not j else lean.found_at(cur, first)
        if at >= 0:
            return lean.found[at]  # type: ignore[union-attr]
        known = self._found.get((id(j), cur, first))
        return known if known is not None and known.model is j else None

    def keep(self, cur: int, first: int | None, found: _Found) -> None:
        if self._found_kept >= self.found_max:
            for lean in self._leans.values():
                lean.found[:] = [None] * len(lean.found)
            self._found.clear()
            self._found_kept = 0
        lean = self.lean(found.model)
        at = lean.found_at(cur, first)
        if at >= 0:
            self._found_kept += lean.found[at] is None
            lean.found[at] = found
        else:
            key = (id(found.model), cur, first)
            self._found_kept += key not in self._found
            self._found[key] = found


def _derive_static(j: Intersection) -> _Static:
    """What the gate derives from the model `j` alone."""
    n = len(j.phases)
    served = {m for k in range(n) for m in j.served_movements(k)}
    missing = [m.id for m in j.movements if m.id not in served]
    unserved = f"movement {missing[0]} is green in no phase: its maximum red cannot be kept" if missing else ""
    red_when = []
    for k in range(n):
        green = set(j.served_movements(k))
        red_when.append(tuple((i, m.id) for i, m in enumerate(j.movements) if m.id not in green))
    inter = tuple(tuple(_stage_intergreen_s(j, a, b) for b in range(n)) for a in range(n))
    longest = [max(row) for row in inter]
    serving: dict[str, tuple[int, ...]] = {}
    for k in range(n):
        for m in dict.fromkeys(j.served_movements(k)):
            serving[m] = (*serving.get(m, ()), k)
    served_at = tuple(
        tuple(i for i, m in enumerate(j.movements) if m.id in set(j.served_movements(k))) for k in range(n)
    )
    red_of = tuple(operator.itemgetter(*(i for i, _m in red)) if red else _nothing for red in red_when)
    conflict = tuple(phase_conflict(j, k) for k in range(n))
    pedestrian = pedestrian_refusal(j)
    return _Static(
        unserved,
        pedestrian,
        conflict,
        tuple(red_when),
        inter,
        serving,
        served_at,
        red_of,
        tuple(why or unserved or pedestrian for why in conflict),
        tuple(p.min_green_s for p in j.phases),
        tuple(p.max_green_s for p in j.phases),
        tuple(j.served_movements(k) for k in range(n)),
        tuple(_whole(p.min_green_s) for p in j.phases),
        max(max(_whole(j.yellow_s), DECISION_PERIOD_S) + _whole(j.all_red_s), _whole(j.longest_transition_s), *longest),
    )


def _nothing(_red_since_s: tuple[float, ...]) -> object:
    return ()


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _deadlines(j: Intersection, view: SignalView, cur: int, st: _Static) -> dict[str, float]:
    """When each movement not green now must be green again at the latest (`st`: j's _Static)."""
    red_since_s, max_red_s = view.red_since_s, j.max_red_s
    return {mid: red_since_s[i] + max_red_s for i, mid in st.red_when[cur]}


def _edf_candidates(j: Intersection, pending: dict[str, float], st: _Static) -> list[int]:
    """Phases serving the most urgent pending movement: those serving more pending movements
    first, then by the deadlines they cover, then the lowest index."""
    first = min(pending, key=lambda m: (pending[m], m))
    cands = []
    served_ids = st.served_ids
    for k in st.serving.get(first, ()):
        served = [pending[m] for m in served_ids[k] if m in pending]
        cands.append((-len(served), sorted(served), k))
    return [k for *_, k in sorted(cands)]


PLAN_SEARCH_NODES = 200  # bound on the search below; past it the gate acts as if no plan existed
# _Found.latest_s is checked this far inside the plan's slack, which sums from 0 rather than from the leave time
LATEST_MARGIN_S = 1e-6


def _plan(
    j: Intersection, deadlines: dict[str, float], cur: int, leave_s: float, first: int | None, st: _Static
) -> list[int] | None:
    """A service order meeting every deadline, leaving `cur` at leave_s and starting with
    `first` if given: each phase shown for its minimum green after its intergreen (rounded to
    whole decision periods). Depth-first over the phases serving the most urgent movement at
    each step; None when there is none. `st`: j's _Static."""

    budget = [PLAN_SEARCH_NODES]
    intergreens = st.intergreen_s  # stage_intergreen_s of every pair of phases
    served_ids, greens_s = st.served_ids, st.min_green_whole_s  # per phase: what it serves, its green in the plan
    depth_max = len(j.phases) + len(deadlines)

    def search(pending: dict[str, float], t: float, prev: int, forced: int | None, depth: int) -> list[int] | None:
        if not pending:
            return []
        budget[0] -= 1
        if budget[0] < 0 or depth > depth_max or min(pending.values()) < t - 1e-9:
            return None
        for p in [forced] if forced is not None else _edf_candidates(j, pending, st):
            start = t + intergreens[prev][p]
            served = [m for m in served_ids[p] if m in pending]
            if (not served and forced is None) or any(start > pending[m] + 1e-9 for m in served):
                continue
            rest = {m: d for m, d in pending.items() if m not in served}
            tail = search(rest, start + greens_s[p], p, None, depth + 1)  # noqa: F821 (ruff reads the `del` below)
            if tail is not None:
                return [p, *tail]
        return None

    try:
        return search(dict(deadlines), leave_s, cur, first, 0)
    finally:  # `search` refers to itself (a cycle): emptied, it is freed now, not by the garbage collector
        del search


def _feasible(
    j: Intersection,
    view: SignalView,
    cur: int,
    leave_s: float,
    first: int | None,
    memo: GateMemo,
    st: _Static,
    lean: _Lean | None = None,
) -> bool:
    """`_plan(j, _deadlines(j, view, cur, st), cur, leave_s, first, st) is not None`, without the
    search when it is sure: the plan `_plan` last found (kept in `memo`) for the same junction,
    phase, first phase and deadlines (the same red_since_s of the movements red in `cur`),
    leaving no later than `leave_s`, still meets every deadline from `leave_s` (_Found.meets).

    Exact, not a heuristic: `_plan`'s candidates depend on the deadlines alone, and leaving
    later only delays every start (float addition is monotone), so the nodes its search visits
    before that plan are among those it visited then (no more of the node budget used), and the
    subtrees it tried first still fail; it reaches that plan, or another, and finds a plan.
    `st`: memo.static(j); `lean`: memo.lean(j) if at hand (cur and first phases of j)."""
    red_since_s = st.red_of[cur](view.red_since_s)
    at = -1 if lean is None else lean.found_at(cur, first)
    known = lean.found[at] if at >= 0 else memo.found(j, cur, first)  # type: ignore[union-attr]
    if known is not None and known.red_since_s == red_since_s and known.meets(leave_s):
        return True
    deadlines = _deadlines(j, view, cur, st)
    plan = _plan(j, deadlines, cur, leave_s, first, st)
    if plan is not None:
        memo.keep(cur, first, _Found.of(j, st, red_since_s, deadlines, cur, leave_s, plan))
    return plan is not None


@dataclass(frozen=True, slots=True)
class _Found:
    """A plan `_plan` found, leaving at leave_s, with per phase of it what its search checked:
    (intergreen before it, the earliest deadline it serves + 1e-9, the earliest deadline
    pending when it is chosen, its minimum green in whole periods). `latest_s`: a leave time
    at which `meets` was checked true when the plan was kept (-inf if none was), so that any
    leave time from leave_s to it meets without the check (`meets` is monotone)."""

    model: Intersection
    red_since_s: object  # of the movements red in the phase left (_Static.red_of)
    leave_s: float
    steps: tuple[tuple[float, float, float, float], ...]
    latest_s: float = -math.inf

    @staticmethod
    def of(
        j: Intersection,
        st: _Static,
        red_since_s: object,
        deadlines: dict[str, float],
        cur: int,
        leave_s: float,
        plan: list[int],
    ) -> _Found:
        intergreens, served_ids, greens_s = st.intergreen_s, st.served_ids, st.min_green_whole_s
        pending, prev, steps = dict(deadlines), cur, []
        for p in plan:
            served = [m for m in served_ids[p] if m in pending]
            serve_by = min((pending[m] + 1e-9 for m in served), default=math.inf)
            steps.append((intergreens[prev][p], serve_by, min(pending.values()), greens_s[p]))
            pending = {m: d for m, d in pending.items() if m not in served}
            prev = p
        checked = tuple(steps)
        latest_s = _slack_s(checked) - LATEST_MARGIN_S
        kept = latest_s >= leave_s and _accepts(checked, latest_s)
        return _Found(j, red_since_s, leave_s, checked, latest_s if kept else -math.inf)

    def meets(self, leave_s: float) -> bool:
        """Whether `_plan`'s search, leaving at leave_s (no earlier than this plan's), accepts
        this plan node by node (`accepts`). Exact without the check up to `latest_s`: `accepts`
        is monotone in leave_s (a later leave only delays each start: float addition is
        monotone, and each comparison, once failed, stays failed), and it held at latest_s."""
        if leave_s < self.leave_s:
            return False
        if leave_s <= self.latest_s:
            return True
        return _accepts(self.steps, leave_s)


def _accepts(steps: tuple[tuple[float, float, float, float], ...], leave_s: float) -> bool:
    """The search's checks of a plan's nodes (_Found.steps) leaving at leave_s: the same float
    operations and comparisons, in the same order (which phases serve what, and the depth, do
    not depend on the time)."""
    t = leave_s
    for intergreen_s, serve_by, earliest, green_s in steps:
        if earliest < t - 1e-9:
            return False
        start = t + intergreen_s
        if start > serve_by:
            return False
        t = start + green_s
    return True


def _slack_s(steps: tuple[tuple[float, float, float, float], ...]) -> float:
    """About the latest leave time a plan (_Found.steps) still meets every deadline from (its sums
    from 0 round apart from _accepts' sums from the leave time: _Found.of checks it before keeping it)."""
    out, t = math.inf, 0.0
    for intergreen_s, serve_by, earliest, green_s in steps:
        out = min(out, earliest + 1e-9 - t, serve_by - intergreen_s - t)
        t += intergreen_s + green_s
    return out


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


def cyclist_all_red_s(
    j: Intersection, view: SignalView, target: int, seen_s: tuple[float, ...], now_s: float, memo: GateMemo
) -> float:
    """The all-red a change from the phase in force to `target` must show for the cyclists ([timing]
    cyclist_clearance; 0: the junction's own suffices). `seen_s`: per movement, when a bicycle was last counted over
    a stop-line loop of its lanes (-inf: never; (): none known). A movement the target does not serve, with
    `cyclist_clear_s` (its longest path a bicycle may take through the junction at a cyclist's speed) and a conflict
    the target serves, may still have that cyclist inside for its crossing time from the count: the conflicting green
    waits for it, past the yellow, as the intergreen (sized for motor vehicles) does not. Whichever change stopped
    the movement: this one, or one before it toward a stage it does not conflict with (its cyclist still inside when
    a later change starts a conflicting green); a count that came after the movement's last green and its yellow
    (`view.red_since_s` + the yellow + one period) is a cyclist held at its red over the loop, not one inside. Only
    where the extension leaves every movement's maximum red reachable (the change, delayed by it, in _feasible; the
    crossings' too: bounded_view); else 0."""
    cur = view.phase
    if not seen_s or view.in_intergreen or target == cur:
        return 0.0
    if j.crossings:  # bounded as movements (Intersection.red_bounded); a crossing has no cyclist_clear_s
        j, view = j.red_bounded, bounded_view(j, view)
    crossed = set(j.served_movements(target))
    held_after_s = _whole(j.yellow_s) + DECISION_PERIOD_S  # after its last green: a count of a cyclist held at red
    clear_until_s = max(
        (
            seen_s[i] + m.cyclist_clear_s
            for i, m in enumerate(j.movements)
            if m.cyclist_clear_s > 0
            and m.id not in crossed
            and crossed & set(m.conflicts)
            and seen_s[i] <= view.red_since_s[i] + held_after_s
        ),
        default=-math.inf,
    )
    left_s = clear_until_s - now_s - max(_whole(j.yellow_s), DECISION_PERIOD_S)  # after the yellow
    if left_s <= 0:
        return 0.0
    all_red_s = _whole(left_s)
    own_s = _whole(j.all_red_between_s(cur, target))
    if all_red_s <= own_s:
        return 0.0
    lean = memo.lean(j)
    delayed_s = now_s + all_red_s - own_s
    if lean.at[cur][3] is not None and not _feasible(j, view, cur, delayed_s, target, memo, lean.static, lean):
        return 0.0
    return all_red_s

"""Two lights on one short link decided as one program (`Intersection.paired`, docs/import.md).

Contract. A pair is two junctions that name each other, and no other light, in `paired` (the
import's, with [detectors] pair_one_program: joined by a link shorter than what one minimum green
sends, sim/netneighbours.py) and whose base programs run one timeline (`stage_map`): the same
number of stages, the same cycle, and each stage of one green from the same second to the same
second as a stage of the other, in the programs' own order. Timed apart, the link's lanes (one or
two vehicles each) fill and the turners waiting inside both junctions lock them (BENCHMARKS.md,
issue 9, G session 14); the city runs such a pair as one program, and so does the core: the
lower id leads, its policy's wish is the pair's decision, and `follow` maps it onto the
follower's stages (same order on the common timeline, same greens, same hold). That decision is
taken on both lights' loops: an acyclic policy that weighs stages (`Policy.stage_view`,
max-pressure) decides the leader's stage on the two lights' pressures summed over the common
timeline, and leaves a stage through one that clears the turners standing in either junction
(`partner_view`: the follower's StageView on the leader's stages); a cyclic one's
plan gives each stage the larger of the two lights' greens (`joint_cycle`: the pair's cycle and
splits cover both lights' needs). The gate checks
each light's wish on its own, with its own limits. When do no harm sends either light to the
city's program, each is sent its own base program as a cycle plan (`base_wish`) at the same tick
(the roadside runs a cycle plan from the phase in force, so the two keep one timeline only as far
as they already stood on one); withdrawn, each roadside would hand back to its program at its own
next due green, and the two programs would run apart. If the gate refuses that plan, the light is
withdrawn as any light in fixed mode. A follower whose leader decided nothing (its feed stale)
takes its own policy's wish.

Example: A's stages 38 / 6 / 37 s and B's 38 / 6 / 37 s, both from offset 0 with 3 s yellows:
stage_map(A, B) = (0, 1, 2), and A's PhaseWish(1, 6.0) is B's PhaseWish(1, 6.0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from controller.core.shadow import Program
from controller.model import Command, CyclePlan, CycleWish, Intersection, PhaseWish, Wish

TIMELINE_TOLERANCE_S = 0.5  # half the roadside's one-second resolution


@dataclass(frozen=True)
class Pair:
    """A follower light run on its leader's decisions: the leader's stage k is the follower's
    `stage_map[k]`; `offset_shift_s`: the follower's base offset less the leader's."""

    leader: str
    follower: str
    stage_map: tuple[int, ...]
    offset_shift_s: float


def _starts_s(j: Intersection) -> list[float]:
    """When each stage's green begins in the base program's cycle (s, from the cycle's 0)."""
    n, t_s, out = len(j.phases), j.base_offset_s, []
    for k, p in enumerate(j.phases):
        out.append(t_s % j.base_cycle_s())
        t_s += p.base_green_s + j.intergreen_s(k, (k + 1) % n)
    return out


def _circular_gap_s(a_s: float, b_s: float, cycle_s: float) -> float:
    d = (a_s - b_s) % cycle_s
    return min(d, cycle_s - d)


def stage_map(a: Intersection, b: Intersection, tol_s: float = TIMELINE_TOLERANCE_S) -> tuple[int, ...] | None:
    """b's stage for each of a's stages when the two base programs run one timeline (module doc),
    else None. A program that does not run its stages in index order (program_timeline) has no
    common timeline here."""
    n = len(a.phases)
    if n < 2 or n != len(b.phases) or a.program_timeline or b.program_timeline:
        return None
    cycle_s = a.base_cycle_s()
    if abs(cycle_s - b.base_cycle_s()) > tol_s:
        return None
    sa, sb = _starts_s(a), _starts_s(b)
    for r in range(n):
        m = tuple((k + r) % n for k in range(n))
        if all(
            abs(a.phases[k].base_green_s - b.phases[m[k]].base_green_s) <= tol_s
            and _circular_gap_s(sa[k], sb[m[k]], cycle_s) <= tol_s
            for k in range(n)
        ):
            return m
    return None


def find(junctions: Mapping[str, Intersection]) -> dict[str, Pair]:
    """The pairs among `junctions` (module doc), by follower id."""
    out: dict[str, Pair] = {}
    for jid, j in junctions.items():
        other = junctions.get(j.paired[0]) if len(j.paired) == 1 else None
        if other is None or other.paired != (jid,) or jid < other.id:
            continue
        m = stage_map(other, j)
        if m is not None:
            out[jid] = Pair(other.id, jid, m, j.base_offset_s - other.base_offset_s)
    return out


def follow(wish: Wish | None, pair: Pair) -> Wish | None:
    """The leader's wish as the follower's (module doc); None stays None."""
    if isinstance(wish, PhaseWish):
        return PhaseWish(pair.stage_map[wish.phase], wish.hold_s)
    if isinstance(wish, CycleWish):
        order = tuple(pair.stage_map[k] for k in wish.phase_order)
        return CycleWish(order, wish.greens_s, wish.offset_s + pair.offset_shift_s)
    return None


@dataclass(frozen=True, eq=False)  # holds arrays: compared by identity
class StageView:
    """What a pair light's policy weighs per stage: `pressures_pcu2_s[k]`, what serving stage k
    next is worth (max-pressure's pressure); `detours[k]`, the stages one of which must come
    before k (turners that may stand in the junction and k would cut off: max-pressure's
    clearance), () when none is needed."""

    pressures_pcu2_s: np.ndarray
    detours: tuple[tuple[int, ...], ...]


def partner_view(follower: StageView, pair: Pair) -> StageView:
    """The follower's StageView on the leader's stages (the leader's stage k is the follower's
    stage_map[k])."""
    m = pair.stage_map
    leader_of = {f: k for k, f in enumerate(m)}
    detours = tuple(tuple(leader_of[d] for d in follower.detours[m[k]]) for k in range(len(m)))
    return StageView(follower.pressures_pcu2_s[list(m)], detours)


def joint_cycle(lead: CycleWish, follower: CycleWish | None, pair: Pair) -> CycleWish:
    """The pair's cycle plan from both lights' wishes: the leader's order and offset, each stage's
    green the larger of the leader's and the follower's for that stage (mapped by stage_map), so
    the cycle covers the larger need of each stage; the leader's wish when the follower has none.
    Example: A (20, 30) s and B (40, 15) s on stages mapped (0, 1): (40, 30) s."""
    if follower is None:
        return lead
    green_f = dict(zip(follower.phase_order, follower.greens_s))
    greens = tuple(max(g, green_f.get(pair.stage_map[k], 0.0)) for k, g in zip(lead.phase_order, lead.greens_s))
    return CycleWish(lead.phase_order, greens, lead.offset_s)


def base_wish(j: Intersection) -> CycleWish:
    """The junction's base program (the city's, in index order) as a cycle wish: what a pair runs
    when do no harm sends either light to the city's program. Sent to both lights at one tick it
    keeps them on one timeline, where each roadside handing back to its own program would not."""
    return CycleWish(tuple(range(len(j.phases))), tuple(p.base_green_s for p in j.phases), j.base_offset_s)


def in_force(wish: Wish | None, command: Command | None) -> bool:
    """The cycle wish is the cycle plan in force (same order and greens, to the millisecond)."""
    return (
        isinstance(wish, CycleWish)
        and isinstance(command, CyclePlan)
        and tuple(wish.phase_order) == command.phase_order
        and all(abs(a - b) < 1e-3 for a, b in zip(wish.greens_s, command.greens_s))
    )


def one_cycle(a: Intersection, b: Intersection, tol_s: float = TIMELINE_TOLERANCE_S) -> bool:
    """The two lights' base programs run the same cycle (within tol_s): the city timed them for
    each other. Programs of different cycles (85 s and 90 s, say) drift through every offset to
    each other, and holding them together keeps no timing."""
    return abs(a.base_cycle_s() - b.base_cycle_s()) <= tol_s


def short_groups(links: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """The lights joined by short links, grouped: per light, every light reachable from it over
    `links` (pairs of light ids, either direction), itself included, in id order. A light on no
    link has no group. Do no harm holds a group on the city's plan as one ([harm]
    short_pair_together): its programs are timed for each other, and one light on its program
    beside the other on a policy's cycle fills the link between them (docs/harm.md).
    Example: links (A, B), (C, B), (D, E): {A, B, C: (A, B, C); D, E: (D, E)}."""
    adjacent: dict[str, set[str]] = {}
    for a, b in links:
        if a != b:
            adjacent.setdefault(a, set()).add(b)
            adjacent.setdefault(b, set()).add(a)
    out: dict[str, tuple[str, ...]] = {}
    for start in adjacent:
        if start in out:
            continue
        seen, todo = {start}, [start]
        while todo:
            for n in adjacent[todo.pop()] - seen:
                seen.add(n)
                todo.append(n)
        group = tuple(sorted(seen))
        out.update(dict.fromkeys(group, group))
    return out


def held(groups: Mapping[str, tuple[str, ...]], fixed: Iterable[str]) -> dict[str, str]:
    """The lights held on the city's plan by their group (short_groups): each light not in
    `fixed` (do no harm's fixed mode) whose group has a light in it, with the first such light
    (by id). Example: groups of (A, B) and (C, D), fixed {B}: {A: B}."""
    on_plan = sorted(set(fixed))
    out: dict[str, str] = {}
    for jid in on_plan:
        for other in groups.get(jid, ()):
            out.setdefault(other, jid)
    for jid in on_plan:
        out.pop(jid, None)
    return out


def program_wish(program: Program, now_s: float) -> PhaseWish:
    """The stage the city's program shows at now_s on its own clock (the do-no-harm replay's
    fixed side: base program or program timeline, from its offset), or in one of its transitions
    the stage it goes to: what a short group held on the city's plan is sent ([harm]
    short_pair_together), so that its lights keep the offsets the city gave them to each other (a
    roadside handed back resumes its program from the stage showing, shifted from its clock).
    Example: stages 30 s / 25 s with 5 s intergreens from offset 0: 10 s -> stage 0, 32 s
    (intergreen) -> stage 1, 62 s -> stage 0."""
    n, k = len(program.phases), program.segment_at(now_s)
    for i in range(n):
        phase = program.phases[(k + i) % n]
        if phase >= 0:
            return PhaseWish(phase, 1.0)
    return PhaseWish(0, 1.0)  # a program of transitions only (not a valid model)

"""What a policy needs of a junction model before it can control it.

Each policy's `cannot_serve(layout)` (the Policy protocol) answers from these checks, once per
junction before the run: '' when the policy can send that junction plans the safety gate will
accept, else one line naming what is missing. A refused junction stays on its own program.

    acyclic_refusal(Layout.build(a junction whose program has one green stage))
    -> 'one distinct green stage (1 phase(s), same greens): nothing to choose between'

- acyclic policies (max_pressure, adaptive, schedule) choose among the junction's green stages:
  at least two distinct ones, each free of conflicting greens (the gate refuses a conflicting one), and every
  movement green in at least one of them (the gate must be able to end any movement's red);
- cyclic policies (webster, scats) run every stage in index order each cycle: the same, and the
  gate must accept that cycle at the stages' minimum greens (cycle bounds, maximum red);
- the policies that time each light on its own (webster, scats, schedule) also refuse a light
  coupled to another by a road shorter than one vehicle (`coupled_refusal`);
- webster and scats, each with its `keep_actuated` key, also refuse a light whose own program is
  vehicle-actuated (`Intersection.actuated`: SUMO's actuated, delay_based, NEMA or self-organising; `actuated_refusal`).
- scats with `keep_actuated_crossings` refuses such a light only where a stage's minimum green is the
  pedestrian minimum of the crossings it greens (`actuated_crossing_refusal`);
- scats with `keep_shorter_city_cycle` refuses a light on a fixed-time program whose cycle is shorter than
  the cycle of all its stages at their minimum greens (`shorter_city_cycle_refusal`).
"""

from __future__ import annotations

from controller.core.estimation import Layout
from controller.core.safety import gate_cycle, phase_conflict
from controller.model import CycleWish


def acyclic_refusal(layout: Layout) -> str:
    """'' when an acyclic policy can serve the junction, else why not."""
    j = layout.junction
    if len({p.green_links() for p in j.phases}) < 2:
        return f"one distinct green stage ({len(j.phases)} phase(s), same greens): nothing to choose between"
    for k in range(len(j.phases)):
        why = phase_conflict(j, k)
        if why:
            return why
    never = [m.id for i, m in enumerate(j.movements) if not layout.serves[:, i].any()]
    if never:
        return f"movements green in no stage: {', '.join(never)}"
    return ""


def cyclic_refusal(layout: Layout) -> str:
    """'' when a cyclic policy (all stages in index order) can serve the junction, else why not."""
    why = acyclic_refusal(layout)
    if why:
        return why
    j = layout.junction
    n = len(j.phases)
    wish = CycleWish(tuple(range(n)), tuple(p.min_green_s for p in j.phases), 0.0)
    outcome = gate_cycle(j, wish, plan_id="check", seq=0, now_s=0.0, ttl_s=1.0)
    if outcome.command is None:
        return f"the cycle of its {n} stages at their minimum greens is refused by the safety gate: {outcome.refused}"
    return ""


def coupled_refusal(layout: Layout) -> str:
    """'' unless the junction is coupled to other lights (`Intersection.coupled`); then why a
    policy running its own cycle at each light cannot serve it."""
    coupled = layout.junction.coupled
    if not coupled:
        return ""
    return (
        f"joined to light(s) {', '.join(coupled)} by a road shorter than one vehicle (or, with [detectors] "
        "coupled_by_min_green, than the queue its shortest green sends): a queue at one's "
        "stop line stands inside the other, so they run only as one program (their own)"
    )


def actuated_refusal(layout: Layout) -> str:
    """'' unless the city's program is vehicle-actuated (`Intersection.actuated`); then why a
    policy timing a fixed cycle leaves the light on it."""
    if not layout.junction.actuated:
        return ""
    return (
        "the city's program is vehicle-actuated (gap-out): a fixed cycle would replace it, "
        "which a cycle-by-cycle split cannot match; it keeps its own program"
    )


def crossing_held_stages(layout: Layout) -> tuple[int, ...]:
    """The stages whose minimum green is the pedestrian minimum of the crossings they green (walk + crossing
    length / walking speed, `Phase.ped_min_green_s`): a cycle must give each that long, every cycle."""
    return tuple(
        p.index for p in layout.junction.phases if p.ped_min_green_s > 0.0 and p.min_green_s <= p.ped_min_green_s + 1e-9
    )


def shorter_city_cycle_refusal(layout: Layout) -> str:
    """'' unless the city's program is fixed-time (not `actuated`) and its cycle (`base_cycle_s`) is shorter
    than `Intersection.min_cycle_s`; then why a cyclic policy leaves the light on it. The model asks more of every
    cycle than the program gives (a stage's minimum green above its program green: a crossing's pedestrian
    minimum, walk + length / walking speed, where the program gives the crossing less; intergreens the
    program does not run), so every cycle the policy can send is longer than the city's, whatever the
    demand: its stages' fixed minimums then weigh on light traffic. An actuated program's cycle is not its
    base cycle (actuated_crossing_refusal, the watch)."""
    j = layout.junction
    if j.actuated:
        return ""
    shortest_s, city_s = j.min_cycle_s(), j.base_cycle_s()
    if shortest_s <= city_s + 1e-6:
        return ""
    held = [str(p.index) for p in j.phases if p.min_green_s > p.base_green_s + 1e-6]
    why = f"stage(s) {', '.join(held)} have minimum greens above the program's" if held else "the intergreens"
    return (
        f"the shortest cycle of its stages at their minimum greens ({shortest_s:.1f} s) is longer than the "
        f"city's program's ({city_s:.1f} s; {why}): every cycle would be longer than the city's; it keeps its "
        "own program"
    )


def actuated_crossing_refusal(layout: Layout) -> str:
    """'' unless the city's program is vehicle-actuated and a stage's minimum green is the pedestrian
    minimum of the crossings it greens (walk + crossing length / walking speed, `Phase.ped_min_green_s`);
    then why a cyclic policy leaves the light on it. The city's program ends such a green at a gap (a
    stage with no traffic runs its own minimum, down to 1 s) and clears its crossings in an interval of
    their own; a cycle runs every stage, each at least its pedestrian minimum, whether or not anyone
    crosses (no push buttons are read): its shortest cycle is longer than the city's, every cycle."""
    j = layout.junction
    if not j.actuated:
        return ""
    held = crossing_held_stages(layout)
    if not held:
        return ""
    return (
        f"the city's program is vehicle-actuated (gap-out) and stage(s) {', '.join(map(str, held))} carry "
        "pedestrian minimum greens: a fixed cycle would run each at that minimum every cycle, whether or not "
        "anyone crosses; it keeps its own program"
    )

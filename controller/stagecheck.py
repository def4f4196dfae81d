"""Does the roadside's own program show every stage of the junction model? Pure.

The roadside reports which stage is green by matching the signal it shows to a stage of the
junction model: a phase of its program with no yellow whose green links (G, g) are exactly a
stage's green links shows that stage (the first such stage); any other phase reads as an
intergreen. A stage no phase of the program shows is therefore never reported while the roadside
runs its program (at the start, after a fall-back, in do-no-harm's fixed mode), and the phases
of the program that shows its greens instead read as intergreens: the service then counts the
movements they serve as red while they flow. Their red time grows past `max_red_s`, so the gate
refuses every plan, and the do-no-harm replay charges the policy for greens it never saw. The
roadside hands back to its program only at a stage the program shows, too.

So a junction file whose stages are not all shown by the program the roadside runs (a green set
edited by hand, a stage added) cannot be served: `unshown_stages` names each such stage by its
file and field, and the service leaves the junction on its own program (controller/service.py).

    unshown_stages(junction, program_states) -> ((field, reason), ...)    () when all are shown

Example: a stage "GGrr" whose program shows "GGGr" then "rrrG": phases[0].state is named.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.model import GREEN, Intersection

_YELLOW = frozenset("yY")


def shown_stage(j: Intersection, state: str) -> int | None:
    """The stage of `j` a program phase showing `state` reports: the first whose green links are
    the phase's, when the phase shows no yellow; None (an intergreen) otherwise."""
    if _YELLOW.intersection(state):
        return None
    greens = frozenset(i for i, c in enumerate(state) if c in GREEN)
    return next((p.index for p in j.phases if p.green_links() == greens), None)


def unshown_stages(j: Intersection, program_states: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Per stage of `j` that no phase of the program (`program_states`: the signal state of each
    of its phases, in order) shows: (field, reason), the field named as in the junction file
    (`phases[k].state`). () when every stage is shown, or when the program is not known (no
    states, or states of another length than the junction's links: nothing to compare)."""
    states = [s for s in program_states if len(s) == j.n_links]
    if not states or len(states) != len(program_states):
        return ()
    shown = {shown_stage(j, s) for s in states}
    greens = [s for s in states if not _YELLOW.intersection(s) and GREEN.intersection(s)]
    out = []
    for p in j.phases:
        if p.index in shown:
            continue
        why = f"stage {p.index} {p.state!r} is shown by no phase of the roadside's program"
        if greens:
            why += f" (its greens: {', '.join(repr(s) for s in dict.fromkeys(greens))})"
        else:
            why += " (it shows no green at all: the light is off or flashing, e.g. SUMO's tls.all-off)"
        out.append((f"phases[{p.index}].state", why))
    return tuple(out)

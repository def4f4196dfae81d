"""Import, stages: a traffic light's program -> the green stages of its junction model.

The stages themselves come from sim/netprogram.py (sub-phases merged, one stage per green link
set). Here: whether the program can be controlled at all, and each stage's TOML table with its
timing limits (docs/import.md, "Stages and intergreens"):
- min_green_s = max(min(config, program's green, program's own minimum), pedestrian minimum),
  the program's own minimum being an actuated program's minDur (sim/netprogram.py, at least
  1 s): the city runs that green, so the gate must accept it;
- max_green_s = max(config, program's green, pedestrian minimum): the program stays valid
  under the gate;
- pedestrian minimum = walk time + crossing length / walking speed, over the crossings the
  stage greens; with [timing] ped_min_from_program, each crossing's at most the shortest green
  the program gives that crossing (the city's plan is the approved one: its walk and its
  clearance, the red after the crossing's green, carry its pedestrians' safety).

A model whose stages at their minimum greens alone take longer than the longest cycle cannot run
the city's stages within its own limits: the light is not controllable (`check_minimum_cycle`).
This happens where a program keeps a crossing green across several short stages (signal-group
programs that start and end groups one by one): each stage then carries the whole pedestrian
minimum the program spreads over its run. sim/netimport.py then reads the program once more with its
staggered starts merged (netprogram.staggered_starts), kept only where no change into a merged green
starts a link sooner after a conflicting one's green than the program does (check_staggered_clearances).
"""

from __future__ import annotations

import math
from typing import Any

import sumolib

from controller.config import TimingConfig
from controller.model import Intersection
from sim import netprogram


class NotControllable(Exception):
    """This traffic light cannot be controlled safely; the message says why (it stays on its
    own program)."""


def is_pedestrian(in_lane: sumolib.net.lane.Lane, out_lane: sumolib.net.lane.Lane) -> bool:
    """A connection of a crossing or walking area, not a vehicle link."""
    return (
        in_lane.getEdge().getFunction() in ("crossing", "walkingarea") or out_lane.getEdge().getFunction() == "crossing"
    )


class CycleTooLong(NotControllable):
    """The stages at their minimum greens take longer than the longest cycle (check_minimum_cycle)."""


def checked_stage_plan(
    tl: sumolib.net.TLS, program: netprogram.Program, merge_staggered: bool = False
) -> tuple[netprogram.StagePlan, int]:
    """The program's stage plan (`merge_staggered`: netprogram.stage_plan's) and its number of links. Raises
    NotControllable when the program does not fit the network's links, shows a vehicle link green only beside
    yellows, or has fewer than two green stages."""
    try:
        plan = netprogram.stage_plan(program, merge_staggered)
    except ValueError as exc:
        raise NotControllable(f"program {program.program_id!r} ({program.source}): {exc}") from None
    n_links = len(program.phases[0].state)
    top = max((link for _, _, link in tl.getConnections()), default=-1)
    if top >= n_links:
        raise NotControllable(
            f"program {program.program_id!r} ({program.source}) has {n_links} links, "
            f"the network's connections use link {top}"
        )
    vehicle_links = {link for a, b, link in tl.getConnections() if not is_pedestrian(a, b)}
    stranded = plan.transition_only & vehicle_links
    if stranded:
        raise NotControllable(
            f"program {program.program_id!r} ({program.source}) shows links {sorted(stranded)} "
            "green only beside yellows, in no green stage: the junction model could never serve them"
        )
    if len(plan.stages) < 2:
        raise NotControllable(
            f"program {program.program_id!r} ({program.source}) has {len(plan.stages)} "
            "green stage(s): nothing to switch between"
        )
    return plan, n_links


def phase_table(
    stage: netprogram.Stage,
    crossing_m: dict[int, float],
    t: TimingConfig,
    floor_green_s: float | None = None,
    crossing_green_s: dict[int, float] | None = None,
) -> dict[str, Any]:
    """A green stage with its limits; the network's own program must stay valid under the
    gate, so the limits widen to include it. `crossing_m`: crossing length by link index.
    `floor_green_s`: a green of the program below its base green that the minimum green also
    stays within (netprogram.aligned_greens_s without the program's clearances).
    `crossing_green_s` ([timing] ped_min_from_program): by crossing link, the shortest green the
    program gives it (netprogram.shortest_green_s), which its pedestrian minimum does not exceed."""
    base = stage.base_green_s
    cap = crossing_green_s or {}
    walk = [
        min(t.ped_walk_s + length / t.ped_speed_mps, cap.get(i, math.inf))
        for i, length in crossing_m.items()
        if stage.state[i] in "Gg"
    ]
    ped_min = round(max(walk, default=0.0), 2)
    own_min = max(stage.min_green_s, 1.0) if stage.min_green_s is not None else base
    floor = base if floor_green_s is None else min(base, floor_green_s)
    phase: dict[str, Any] = {
        "state": stage.state,
        "min_green_s": max(min(t.min_green_s, floor, own_min), ped_min),
        "max_green_s": max(t.max_green_s, base, ped_min),
        "base_green_s": base,
    }
    if ped_min:
        phase["ped_min_green_s"] = ped_min
    return phase


def check_minimum_cycle(phases: list[dict[str, Any]], cycle_max_s: float) -> None:
    """Raises CycleTooLong when the stages' minimum greens add up to more than the longest
    cycle (intergreens not even counted), naming the stages whose minimum exceeds the program's
    own green."""
    shortest_s = sum(p["min_green_s"] for p in phases)
    if shortest_s <= cycle_max_s:
        return
    above = [i for i, p in enumerate(phases) if p["min_green_s"] > p["base_green_s"]]
    why = (
        f"; stages {above} have pedestrian minimums above the program's own greens (the program keeps "
        "those crossings green across stages, a stage model cannot)"
        if above
        else ""
    )
    raise CycleTooLong(
        f"its {len(phases)} stages at their minimum greens alone take {shortest_s:.0f} s, "
        f"more than the longest cycle of {cycle_max_s:g} s{why}"
    )


def check_staggered_clearances(j: Intersection, program: netprogram.Program) -> None:
    """Raises NotControllable where the model with the program's staggered starts merged (netprogram.stage_plan
    with `merge_staggered`) would start a link sooner after a conflicting one's green than the program does: for
    every change into a green the starts were merged into, every link it stops and every link it starts that the
    program never shows green together (a conflict the program keeps apart), the junction's intergreen of that
    change (the program's own transition where the loader kept it, else the derived one) must be at least the
    program's time from the end of the first's green to the start of the second's where the program goes from one
    to the other directly (no stage of the model between). The program started those links one by one to keep
    those times (docs/import.md rule 12)."""
    phases = netprogram.merge_runs(program.phases)
    leads = netprogram.staggered_starts(phases)
    greens = [p.green_links() for p in j.phases]
    merged = [m for m, g in enumerate(greens) if any(lead < g for lead in leads)]
    gaps = netprogram.direct_gaps_s(phases, set(greens))
    for m in merged:
        for x in range(len(greens)):
            if x == m:
                continue
            ig = j.intergreen_s(x, m)
            for i in sorted(greens[x] - greens[m]):
                for k in sorted(greens[m] - greens[x]):
                    need = gaps.get((i, k))
                    if need is not None and need > ig + 1e-9:
                        raise NotControllable(
                            f"with its staggered starts merged, the change from stage {x} to stage {m} would start "
                            f"link {k} {ig:g} s after link {i}'s green where the program keeps {need:g} s"
                        )

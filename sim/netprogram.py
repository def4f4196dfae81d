"""Signal programs as SUMO runs them -> green stages and intergreens (pure, no SUMO process).

Which program: SUMO loads the network's programs first, then the additional files in the order
given; the last program loaded for a traffic light becomes the active one. `active_programs`
reproduces that order, so the junction model describes the program SUMO actually runs (the
baseline, and what sim/field.py reads back with trafficlight.getProgram).

Signal letters (SUMO): 'G' protected green, 'g' permissive green, 's' green right-turn arrow
(stop first, then go: right turn on red), 'u' red+yellow (before green), 'y'/'Y' yellow,
'r' red, 'o' off-blinking (yield), 'O' off (no signal, always free).

Stages: consecutive phases with one signal state are one phase (their durations summed; the
wrap from the last phase to the first included). A stage is a phase with a 'G' or 'g' link and
no 'y', 'Y' or 'u' link; a phase mixing green with yellow is a transition. Stages are told
apart by their set of green links (how sim/field.py recognises them at run time): a set the
program serves twice a cycle is one stage whose base green is the sum of both.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from controller.errors import NetworkError

STAGE_GREEN = frozenset("Gg")
YELLOW = frozenset("yYu")
# Letters kept in a stage's state as they are; every other letter shows red in the stage.
_KEPT = frozenset("GgsoO")
# A link in one of these in every phase is never stopped by the signal: not a controlled movement.
_FREE = frozenset("GgoO")


@dataclass(frozen=True)
class ProgramPhase:
    duration_s: float
    state: str


@dataclass(frozen=True)
class Program:
    """One tlLogic: where it came from (a file, for messages), its id and phases."""

    tls: str
    program_id: str
    offset_s: float
    phases: tuple[ProgramPhase, ...]
    source: str


@dataclass(frozen=True)
class Stage:
    state: str  # letters of _KEPT kept, everything else 'r'
    base_green_s: float


@dataclass(frozen=True)
class StagePlan:
    """What the junction model needs from a program."""

    stages: tuple[Stage, ...]
    yellow_s: float  # longest run of yellow any link shows (0 when none)
    all_red_s: float  # longest run of phases with no green and no yellow (0 when none)
    cycle_s: float
    free_links: frozenset[int]  # green or off in every phase: not controlled
    never_green: frozenset[int]  # never 'G'/'g' in any stage: no controlled movement
    transition_only: frozenset[int]  # green in some phase, but in no stage (only mixed with yellow)


def net_program(tl, net_path: str) -> Program | None:
    """The program a network file makes active for a sumolib TLS: the last one it lists."""
    programs = tl.getPrograms()
    if not programs:
        return None
    program_id = list(programs)[-1]
    prog = programs[program_id]
    phases = tuple(ProgramPhase(float(p.duration), p.state) for p in prog.getPhases())
    return Program(tl.getID(), program_id, float(prog.getOffset() or 0.0), phases, net_path)


def additional_programs(files: list[Path]) -> dict[str, Program]:
    """The last tlLogic per traffic light in the additional files, read in order (SUMO's rule)."""
    out: dict[str, Program] = {}
    for fp in files:
        try:
            root = ET.parse(fp).getroot()
        except FileNotFoundError:
            raise NetworkError(str(fp), "-", "additional file not found") from None
        except ET.ParseError as exc:
            raise NetworkError(str(fp), "-", f"malformed XML: {exc}") from None
        for k, tl in enumerate(root.iter("tlLogic")):
            tid = tl.get("id")
            if not tid:
                raise NetworkError(str(fp), f"tlLogic[{k}].id", "missing")
            phases = []
            for i, ph in enumerate(tl.iter("phase")):
                try:
                    phases.append(ProgramPhase(float(ph.get("duration", "")), ph.get("state", "")))
                except ValueError:
                    raise NetworkError(
                        str(fp), f"tlLogic[{tid}].phase[{i}].duration", f"not a number: {ph.get('duration')!r}"
                    ) from None
            out[tid] = Program(
                tid, tl.get("programID", ""), float(tl.get("offset", "0") or 0.0), tuple(phases), str(fp)
            )
    return out


def active_programs(net, net_path: str, additional: list[Path]) -> dict[str, Program | None]:
    """The program SUMO starts each traffic light of a sumolib net with: the last tlLogic for it
    in the additional files (loaded in order after the network), else the network's."""
    from_files = additional_programs(additional)
    return {tl.getID(): from_files.get(tl.getID()) or net_program(tl, net_path) for tl in net.getTrafficLights()}


def merge_runs(phases: tuple[ProgramPhase, ...]) -> list[ProgramPhase]:
    """Consecutive phases with the same state as one phase (cyclic: the last joins the first)."""
    merged: list[ProgramPhase] = []
    for ph in phases:
        if merged and merged[-1].state == ph.state:
            merged[-1] = ProgramPhase(merged[-1].duration_s + ph.duration_s, ph.state)
        else:
            merged.append(ph)
    if len(merged) > 1 and merged[0].state == merged[-1].state:
        last = merged.pop()
        merged[0] = ProgramPhase(merged[0].duration_s + last.duration_s, last.state)
    return merged


def is_stage(state: str) -> bool:
    return any(c in STAGE_GREEN for c in state) and not any(c in YELLOW for c in state)


def _longest_run(phases: list[ProgramPhase], hit) -> float:
    """Longest cyclic run of consecutive phases for which hit(phase) holds."""
    n = len(phases)
    if all(hit(p) for p in phases):
        return sum(p.duration_s for p in phases)
    best = 0.0
    for start in range(n):
        if hit(phases[start]) and not hit(phases[start - 1]):
            run, k = 0.0, start
            while hit(phases[k % n]):
                run += phases[k % n].duration_s
                k += 1
            best = max(best, run)
    return best


def stage_plan(program: Program) -> StagePlan:
    """Stages, intergreens and link classes of a program. Raises ValueError on a malformed one."""
    if not program.phases:
        raise ValueError("program has no phases")
    n_links = len(program.phases[0].state)
    if any(len(p.state) != n_links for p in program.phases):
        raise ValueError("phases have different numbers of links")
    odd = sorted({c for p in program.phases for c in p.state} - set("GgsuyYroO"))
    if odd:
        raise ValueError(f"unknown signal letters {odd}")
    phases = merge_runs(program.phases)
    by_green: dict[frozenset[int], list] = {}
    for ph in phases:
        if is_stage(ph.state):
            green = frozenset(i for i, c in enumerate(ph.state) if c in STAGE_GREEN)
            if green in by_green:
                by_green[green][1] += ph.duration_s
            else:
                by_green[green] = [ph.state, ph.duration_s]
    free = frozenset(i for i in range(n_links) if all(p.state[i] in _FREE for p in phases))
    stages = tuple(Stage("".join(c if c in _KEPT else "r" for c in st), dur) for st, dur in by_green.values())
    greens = set().union(*by_green) if by_green else set()
    ever = {i for p in phases for i, c in enumerate(p.state) if c in STAGE_GREEN}
    yellow_s = max((_longest_run(phases, lambda p, i=i: p.state[i] in "yY") for i in range(n_links)), default=0.0)
    all_red_s = _longest_run(phases, lambda p: not any(c in STAGE_GREEN or c in "yY" for c in p.state))
    return StagePlan(
        stages=stages,
        yellow_s=yellow_s,
        all_red_s=all_red_s,
        cycle_s=sum(p.duration_s for p in phases),
        free_links=free,
        never_green=frozenset(range(n_links)) - greens,
        transition_only=frozenset(ever - greens - free),
    )

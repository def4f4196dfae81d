"""What a junction model keeps of the programs a `<WAUT>` puts in force during a run (docs/import.md,
"Time-of-day programs"): the model describes one program, so each program the run will see is set beside
it (its stages, cycle and intergreen), for the message `simulate` gives at start. Offline: sumolib's
network and the additional files SUMO loads, no SUMO process."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import sumolib

from controller.model import GREEN, Intersection, ProgramTiming
from sim import netprogram

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgramInForce:
    """One program of a light's timetable (Waut.timetable) as the import would read it."""

    from_s: float
    program_id: str
    readable: str  # "" when read; else why not (SUMO's `off`, not a program the junction model can take)
    same_stages: bool = False  # its green stages are the model's (the same green links, in any order)
    cycle_s: float = 0.0
    yellow_s: float = 0.0
    all_red_s: float = 0.0

    def describe(self) -> str:
        """For messages: 'static' from 300 s (the model's stages, cycle 90 s, yellow 3 + all-red 0 s)."""
        head = f"{self.program_id!r} from {self.from_s:g} s"
        if self.readable:
            return f"{head} ({self.readable})"
        stages = "the model's stages" if self.same_stages else "other stages than the model's"
        return f"{head} ({stages}, cycle {self.cycle_s:g} s, yellow {self.yellow_s:g} + all-red {self.all_red_s:g} s)"


def programs_in_force(
    net: sumolib.net.Net,
    net_path: str,
    files: list[Path],
    junctions: dict[str, Intersection],
    timetables: dict[str, tuple[tuple[float, str], ...]],
) -> dict[str, list[ProgramInForce]]:
    """By light of `timetables` (Waut.timetable: (from_s, program id)) that `junctions` models, each program
    of its timetable set beside its model: read as the import reads a program (netstages.checked_stage_plan),
    its green stages compared with the model's phases as sets of green links."""
    lights = {tl.getID() for tl in net.getTrafficLights()}
    if not any(tid in junctions and tid in lights for tid in timetables):
        return {}
    # the network's NEMA programs and the files' programs, read once for every light
    sources = _Sources(net_path, files, netprogram.NemaLogics(net_path), netprogram.read_additional(files))
    out = {}
    for tid, timetable in timetables.items():
        if tid in junctions and tid in lights:
            model = {p.green_links() for p in junctions[tid].phases}
            out[tid] = [_in_force(net.getTLS(tid), sources, model, at) for at in timetable]
    return out


@dataclass(frozen=True)
class _Sources:
    net_path: str
    files: list[Path]
    nema: netprogram.NemaLogics
    read: netprogram.AdditionalRead


def _in_force(tl: sumolib.net.TLS, src: _Sources, model: set[frozenset[int]], at: tuple[float, str]) -> ProgramInForce:
    """One program of the timetable beside the model; never an error (the message only names it)."""
    from sim import netstages  # the import's modules load only where a WAUT switches a light (test_cli_imports)

    from_s, program_id = at
    try:
        program = netprogram.program_named(tl, src.net_path, src.files, program_id, src.nema, src.read)
        if program is None:
            return ProgramInForce(from_s, program_id, "no such program: SUMO's 'off', no signal shown")
        plan, _ = netstages.checked_stage_plan(tl, program)
    except netstages.NotControllable as exc:
        return ProgramInForce(from_s, program_id, f"not a program the model can take: {exc}")
    except Exception as exc:  # a message never stops a run: the import and SUMO report the file's errors
        return ProgramInForce(from_s, program_id, f"not read: {type(exc).__name__}: {exc}")
    stages = {frozenset(i for i, c in enumerate(st.state) if c in GREEN) for st in plan.stages}
    return ProgramInForce(from_s, program_id, "", stages == model, plan.cycle_s, plan.yellow_s, plan.all_red_s)


class OtherPrograms:
    """For the import: each program a light's WAUT may put in force, other than the one its model describes, as
    the junction file's `programs` (its longest yellow and all-red, netprogram.stage_plan): the model's intergreens
    must cover them (controller/junctions.py). Every program the WAUT names, whatever the run's begin and end (the
    import knows neither end). The network's NEMA programs and the files' programs are read at the first light
    that has one."""

    def __init__(self, net_path: str, files: list[Path]) -> None:
        self.net_path, self.files = net_path, files
        self.wauts = netprogram.waut_schedules(files)
        self._read: tuple[netprogram.NemaLogics, netprogram.AdditionalRead] | None = None
        # (light, program id) -> the program's stage plan and offset, as `of` read them (for `with_greens`)
        self._plans: dict[tuple[str, str], tuple[netprogram.StagePlan, float]] = {}
        self._phases: dict[str, list[tuple[netprogram.ProgramPhase, ...]]] = {}  # light -> its other programs' phases

    def of(self, tl: sumolib.net.TLS, own_id: str) -> tuple[ProgramTiming, ...]:
        """The programs of tl's WAUT but `own_id`, in the WAUT's order (SUMO's `off`, no signal, left out).
        Raises ValueError naming the WAUT and the program when one cannot be read as a program."""
        waut = self.wauts.get(tl.getID())
        if waut is None:
            return ()
        if self._read is None:
            self._read = (netprogram.NemaLogics(self.net_path), netprogram.read_additional(self.files))
        out = []
        for pid in dict.fromkeys([waut.start_program, *(s.program_id for s in waut.switches)]):
            program = netprogram.program_named(tl, self.net_path, self.files, pid, *self._read) if pid else None
            if pid == own_id or program is None:
                continue
            try:
                plan = netprogram.stage_plan(program)
            except ValueError as exc:
                raise ValueError(f"program {pid!r} of {waut.describe()}: {exc}") from None
            self._plans[(tl.getID(), pid)] = (plan, program.offset_s)
            self._phases.setdefault(tl.getID(), []).append(program.phases)
            out.append(ProgramTiming(pid, plan.yellow_s, plan.all_red_s))
        return tuple(out)

    def phases_of(self, tl_id: str) -> list[tuple[netprogram.ProgramPhase, ...]]:
        """The phases of each program `of` read for tl_id (its pair intergreens count too, netimport)."""
        return self._phases.get(tl_id, [])

    def with_greens(
        self,
        tl_id: str,
        timings: tuple[ProgramTiming, ...],
        model: netprogram.StagePlan,
        yellow_s: float,
        all_red_s: float,
    ) -> tuple[ProgramTiming, ...]:
        """`timings` (of's, for tl_id) with each program's base greens and offset in the model's stages
        (program_greens, with the junction's `yellow_s` / `all_red_s`); a program whose stages are not the model's
        keeps none (do-no-harm replays the static program while it is in force), named in the import's log."""
        out = []
        for p in timings:
            plan, offset_s = self._plans[(tl_id, p.program_id)]
            found = program_greens(plan, offset_s, model, yellow_s, all_red_s)
            if isinstance(found, str):
                log.warning(
                    "junction=%s program=%s: %s; do-no-harm replays the static program while it is in force",
                    tl_id,
                    p.program_id,
                    found,
                )
                out.append(p)
            else:
                out.append(replace(p, greens_s=found[0], offset_s=found[1]))
        return tuple(out)


def program_greens(
    plan: netprogram.StagePlan, offset_s: float, model: netprogram.StagePlan, yellow_s: float, all_red_s: float
) -> tuple[tuple[float, ...], float] | str:
    """Another program's base greens in the model's stages and where the model's stage 0 starts in its cycle (the
    static program's base_offset_s rule), mapped as the import maps the static program: its stages' base greens
    run its timeline with the model's intergreens (netprogram.aligned_greens_s, without its own clearances and
    transitions, as a WAUT light's model has none); its stages must show the model's stages' green links, each
    once, in the model's cyclic order. Else why not (for the log)."""
    mine = [_green(st) for st in model.stages]
    theirs = [_green(st) for st in plan.stages]
    n = len(mine)
    if len(theirs) != n or len(set(theirs)) != n or set(theirs) != set(mine):
        return f"its {len(theirs)} stages do not show the {n} stages' green links of the model"
    r = theirs.index(mine[0])
    if any(theirs[(r + k) % n] != mine[k] for k in range(n)):
        return "its stages run in another order than the model's"
    greens = netprogram.aligned_greens_s(replace(plan, clearance_s=(), transitions=()), yellow_s, all_red_s)
    start_s = plan.first_green_s + sum(plan.spans_s[:r]) if len(plan.spans_s) == n else plan.first_green_s
    offset = round((offset_s + start_s) % max(plan.cycle_s, 1e-9), 3)
    return tuple(greens[(r + k) % n] for k in range(n)), offset


def _green(stage: netprogram.Stage) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(stage.state) if c in netprogram.STAGE_GREEN)

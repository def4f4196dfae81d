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

Actuated programs (type "actuated", "delay_based", or self-organising: SELF_ORGANISING_TYPES): a
phase's `minDur` is the city's own minimum green for it, which SUMO may run every cycle; a stage
keeps the shortest of those of its greens (the sum over the sub-phases of one green), and
sim/netstages.py lowers the model's minimum green to it. Static programs' `minDur` is ignored, as SUMO ignores it.

NEMA dual-ring programs (type="NEMA"): each phase is one ring's movement group, and SUMO shows
the union of one phase of each ring, with yellow and red drawn from the phases' `yellow` and `red`
attributes (no phase of the program holds them). `nema_cycle` rewrites such a program into the
fixed-time cycle it stands for: within each barrier group, the i-th phase of ring 1 beside the
i-th of ring 2 (the shorter ring's last phase running on), each pair shown for the longer of its
phases' maximum greens (min(duration, maxDur): the split of SUMO's coordinated NEMA mode), then
its yellow and its red. Those unions are what SUMO shows and sim/field.py reads back.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.errors import NetworkError
from sim.sumo import sumo_time_s
from sim.xmlfiles import UNREADABLE_XML, open_xml, readable_roots

if TYPE_CHECKING:  # sumolib has no type information: this reads as Any, and names what is passed
    from sumolib.net import TLS, Net

STAGE_GREEN = frozenset("Gg")
YELLOW = frozenset("yYu")
# Letters kept in a stage's state as they are; every other letter shows red in the stage.
_KEPT = frozenset("GgsoO")
# A link in one of these in every phase is never stopped by the signal: not a controlled movement.
_FREE = frozenset("GgoO")
_OFF = frozenset("oO")


# SUMO's self-organising programs (the SOTL family, swarm, and its high-level `deterministic`): they switch from
# their own detectors between each phase's minDur and maxDur; the durations written are not what runs
SELF_ORGANISING_TYPES = frozenset(
    {"sotl_phase", "sotl_platoon", "sotl_request", "sotl_wave", "sotl_marching", "swarm", "deterministic"}
)
ACTUATED_TYPES = frozenset({"actuated", "delay_based"}) | SELF_ORGANISING_TYPES
# Programs SUMO extends and ends from its own detectors (gap-out, time loss, NEMA's rings): `Program.actuated`
VEHICLE_ACTUATED_TYPES = ACTUATED_TYPES | {"nema"}


@dataclass(frozen=True)
class ProgramPhase:
    duration_s: float
    state: str
    min_dur_s: float | None = None  # an actuated program's minDur (None: the phase runs its duration)


@dataclass(frozen=True)
class Program:
    """One tlLogic: where it came from (a file, for messages), its id and phases."""

    tls: str
    program_id: str
    offset_s: float
    phases: tuple[ProgramPhase, ...]
    source: str
    unusable: str = ""  # why the program cannot be read as stages (a malformed NEMA program)
    actuated: bool = False  # SUMO runs it vehicle-actuated (type actuated, delay_based, NEMA or self-organising)


@dataclass(frozen=True)
class Stage:
    state: str  # letters of _KEPT kept, everything else 'r'
    base_green_s: float
    min_green_s: float | None = None  # the program's own minimum (actuated programs), None: none


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
    spans_s: tuple[float, ...] = ()  # per stage: its greens plus the transitions that follow them
    first_green_s: float = 0.0  # where stage 0's green begins in the program's cycle (< 0: before 0)
    # (i, j, s): the program's intergreen from link i to link j where shorter than yellow_s +
    # all_red_s (link_clearances_s)
    clearance_s: tuple[tuple[int, int, float], ...] = ()
    # (i, s): a pedestrian crossing i's clearance where longer than yellow_s + all_red_s (crossing_clearances_s;
    # set by the importer, which knows the crossings)
    crossing_clearance_s: tuple[tuple[int, float], ...] = ()
    # (i, k, s): the program's intergreen of two conflicting vehicle links where longer than the change would run
    # without it (sim/netimport.py _with_pair_intergreens; pair_intergreens_s)
    pair_intergreen_s: tuple[tuple[int, int, float], ...] = ()
    # the program's own transitions (program_transitions): (from stage, to stage, its phases)
    transitions: tuple[tuple[int, int, tuple[ProgramPhase, ...]], ...] = ()
    # per stage (index order): from its first green to the next stage's green after it
    segments_s: tuple[float, ...] = ()


def net_program(tl: TLS, net_path: str, program_id: str | None, nema: NemaLogics) -> Program | None:
    """The program a network file makes active for a sumolib TLS: the last one it lists, or the
    one named `program_id` (a NEMA program as its fixed-time cycle, `nema_cycle`, read from the
    file: sumolib drops the phases' yellow and red). `nema`: the file's NEMA programs, read once for
    every light of an import (the caller's: none is read here)."""
    programs = tl.getPrograms()
    if not programs:
        return None
    program_id = list(programs)[-1] if program_id is None else program_id
    prog = programs[program_id]
    if str(prog.getType()).lower() == "off":
        return off_program(tl.getID(), program_id, net_path)
    if str(prog.getType()).upper() == "NEMA":
        elem = nema.get(tl.getID(), program_id)
        if elem is not None:
            return _read_tl_logic(elem, net_path)
    actuated = str(prog.getType()).lower() in ACTUATED_TYPES
    listed = prog.getPhases()
    zero = next((i for i, p in enumerate(listed) if float(p.duration) == 0), None)
    if zero is not None:  # SUMO refuses the network ("Duration of phase i ... is zero")
        raise NetworkError(
            net_path,
            f"tlLogic[{tl.getID()}] programID {program_id!r} phase[{zero}].duration",
            "0: SUMO refuses a phase of duration 0; give it a duration or remove it",
        )
    order = phase_cycle([tuple(p.next or ()) for p in listed])
    phases = tuple(
        ProgramPhase(float(listed[k].duration), listed[k].state, _min_dur(listed[k].minDur, actuated)) for k in order
    )
    return Program(tl.getID(), program_id, float(prog.getOffset() or 0.0), phases, net_path, actuated=actuated)


def off_program(tls: str, program_id: str, source: str) -> Program:
    """A program of type `off`: SUMO shows no signal, the junction runs on its right of way. Unusable as
    stages: the junction stays on it."""
    why = "type 'off' (no signal shown: SUMO runs the junction on its right of way)"
    return Program(tls, program_id, 0.0, (), source, unusable=why)


def phase_cycle(nexts: list[tuple[int, ...]]) -> list[int]:
    """The indices of the phases a program runs in its cycle. Each phase's successor is its `next`
    or, without one, the phase after it (a `next` out of range is followed as SUMO's default, SUMO
    itself refusing such a program at load). A phase no successor leads back to (a transition the
    city keeps for another program's use, or a lead-in) is not in it: SUMO never runs it in the
    cycle (only at the start, where the offset, taken over every phase's duration, may place the
    light in it: session 30, BENCHMARKS.md).
    - Without any `next`: every phase in order.
    - One successor each: from phase 0, successor after successor; the loop that closes is the
      cycle, in the order SUMO runs it.
    - An actuated program listing several `next` indices for a phase (alternatives: the first when
      no vehicle calls, the others on a call): every phase reachable from phase 0 through any of
      them that can come back to itself, in file order: a stage served only on a call is a stage
      of the junction."""
    n = len(nexts)
    if not any(nexts):
        return list(range(n))
    succ = [[i for i in listed if 0 <= i < n] or [(k + 1) % n] for k, listed in enumerate(nexts)]
    if any(len(s) > 1 for s in succ):
        reach = [_reachable(succ, s) for s in succ]
        from0 = {0} | reach[0]
        return [k for k in range(n) if k in from0 and k in reach[k]]
    seen: dict[int, int] = {}
    path: list[int] = []
    k = 0
    while k not in seen:
        seen[k] = len(path)
        path.append(k)
        k = succ[k][0]
    return path[seen[k] :]


def _reachable(succ: list[list[int]], start: list[int]) -> set[int]:
    """The phases reachable from the phases `start` through the successor lists `succ`, `start` included."""
    found, todo = set(start), list(start)
    while todo:
        for j in succ[todo.pop()]:
            if j not in found:
                found.add(j)
                todo.append(j)
    return found


class NemaLogics:
    """The NEMA <tlLogic> elements of a network file by (id, programID), read in one pass at the first
    look-up whatever the number of lights (a network without NEMA programs is not read again). One per
    import: it holds the file as it was then."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._found: dict[tuple[str, str], ET.Element] | None = None

    def get(self, tls: str, program_id: str) -> ET.Element | None:
        """The last NEMA <tlLogic> of id `tls` and programID `program_id`, None where the file has none."""
        if self._found is None:
            self._found = _nema_logics(self.path)
        return self._found.get((tls, program_id))


def _nema_logics(path: str) -> dict[tuple[str, str], ET.Element]:
    """The NEMA <tlLogic> elements of a file by (id, programID), the last of each; one pass over
    the file."""
    found: dict[tuple[str, str], ET.Element] = {}
    with open_xml(path) as source:
        for _, elem in ET.iterparse(source, events=("end",)):
            if elem.tag == "tlLogic" and (elem.get("type") or "").upper() == "NEMA":
                found[(elem.get("id", ""), elem.get("programID", ""))] = elem
            elif elem.tag not in ("tlLogic", "phase", "param", "condition", "assignment", "function"):
                elem.clear()
    return found


def _read_tl_logic(tl: ET.Element, source: str) -> Program:
    """A <tlLogic> element as a Program (NEMA: its fixed-time cycle; a NEMA program whose rings
    do not fit is `unusable`, the junction stays on it). Raises NetworkError naming the file and
    the field on a duration that is not a number."""
    tid = tl.get("id", "")
    phases, nexts = [], []
    for i, ph in enumerate(tl.iter("phase")):
        try:
            min_dur = _min_dur(ph.get("minDur"), (tl.get("type") or "").lower() in ACTUATED_TYPES)
            phases.append(ProgramPhase(seconds(ph.get("duration", "")), ph.get("state", ""), min_dur))
        except ValueError:
            raise NetworkError(
                source, f"tlLogic[{tid}].phase[{i}].duration", f"not a number or time: {ph.get('duration')!r}"
            ) from None
        if phases[-1].duration_s == 0:  # SUMO refuses the program at load ("Duration of phase i ... is zero")
            raise NetworkError(
                source,
                f"tlLogic[{tid}] programID {tl.get('programID', '')!r} phase[{i}].duration",
                "0: SUMO refuses a phase of duration 0; give it a duration or remove it",
            )
        try:
            nexts.append(tuple(int(x) for x in (ph.get("next") or "").split()))
        except ValueError:
            raise NetworkError(
                source, f"tlLogic[{tid}].phase[{i}].next", f"not phase indices: {ph.get('next')!r}"
            ) from None
    offset_s = seconds(tl.get("offset", "0") or "0")
    actuated = (tl.get("type") or "").lower() in VEHICLE_ACTUATED_TYPES
    cycle = tuple(phases) if (tl.get("type") or "").upper() == "NEMA" else tuple(phases[k] for k in phase_cycle(nexts))
    program = Program(tid, tl.get("programID", ""), offset_s, cycle, source, actuated=actuated)
    if (tl.get("type") or "").upper() == "NEMA":
        try:
            return replace(program, phases=nema_cycle(tl))
        except ValueError as exc:
            return replace(program, unusable=f"NEMA program: {exc}")
    return program


def _ring(params: dict[str, str], key: str) -> list[int]:
    text = params.get(key, "")
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise ValueError(f"param {key} is not a list of phase numbers: {text!r}") from None


def _union_state(states: list[str]) -> str:
    """The state two rings show together: per link the most permissive letter of the members."""
    rank = {c: i for i, c in enumerate("GgsoOuyYr")}
    return "".join(min(cs, key=lambda c: rank.get(c, len(rank))) for cs in zip(*states))


def nema_cycle(tl: ET.Element) -> tuple[ProgramPhase, ...]:
    """A NEMA dual-ring <tlLogic> as the fixed-time cycle it stands for (module doc): per pair
    of concurrent phases a green, a yellow and a red phase. Raises ValueError when the rings or
    the phase names do not fit."""
    params = {p.get("key", ""): p.get("value", "") for p in tl.iter("param")}
    by_name: dict[int, ET.Element] = {}
    for ph in tl.iter("phase"):
        try:
            by_name[int(ph.get("name", ""))] = ph
        except ValueError:
            raise ValueError(f"phase without a NEMA phase number as its name: {ph.get('name')!r}") from None
    rings = [[n for n in _ring(params, k) if n != 0] for k in ("ring1", "ring2") if k in params]
    if not rings or not any(rings):
        raise ValueError("no ring1/ring2 params")
    missing = sorted({n for r in rings for n in r} - set(by_name))
    if missing:
        raise ValueError(f"rings name phases {missing} that the program does not have")
    barrier = set(_ring(params, "barrier2Phases"))
    groups: list[list[list[int]]] = [[], []]  # per barrier group, per ring, its phases in order
    for r in rings:
        cut = next((i + 1 for i, n in enumerate(r) if n in barrier), len(r))
        groups[0].append(r[:cut])
        groups[1].append(r[cut:])
    out: list[ProgramPhase] = []
    for group in groups:
        for i in range(max((len(r) for r in group), default=0)):
            members = [by_name[r[min(i, len(r) - 1)]] for r in group if r]
            out.extend(_nema_pair(members))
    return tuple(out)


def _nema_pair(members: list[ET.Element]) -> list[ProgramPhase]:
    """Green, yellow and red of the phases shown together (their longest of each)."""

    def attr(ph: ET.Element, key: str, default: float) -> float:
        value = ph.get(key)
        return seconds(value) if value not in (None, "") else default

    state = _union_state([ph.get("state", "") for ph in members])
    green_s = max(min(attr(ph, "duration", 0.0), attr(ph, "maxDur", math.inf)) for ph in members)
    yellow_s = max(attr(ph, "yellow", 0.0) for ph in members)
    red_s = max(attr(ph, "red", 0.0) for ph in members)
    out = [ProgramPhase(green_s, state)]
    if yellow_s > 0:
        out.append(ProgramPhase(yellow_s, "".join("y" if c in STAGE_GREEN else "r" for c in state)))
    if red_s > 0:
        out.append(ProgramPhase(red_s, "r" * len(state)))
    return out


def additional_programs(files: list[Path]) -> dict[str, Program]:
    """The last tlLogic per traffic light in the additional files, read in order (SUMO's rule)."""
    return _read_additional(files)[0]


def _read_additional(
    files: list[Path],
) -> tuple[dict[str, Program], dict[tuple[str, str], Program], dict[tuple[str, str], float]]:
    """Per light the active program of the files; every program they load by (id, programID); and
    the offsets they set on programs they do not load (the network's, by (id, programID)).

    A tlLogic with no phase whose (id, programID) is already loaded sets that program's offset
    (tools/tlsCoordinator.py writes such files): SUMO 1.28 shifts that program and keeps the active
    one active (checked with libsumo, N session 50). SUMO refuses one naming a program it has not loaded."""
    out: dict[str, Program] = {}
    loaded: dict[tuple[str, str], Program] = {}
    net_offsets: dict[tuple[str, str], float] = {}
    for fp in files:
        try:
            with open_xml(fp) as source:
                root = ET.parse(source).getroot()
        except FileNotFoundError:
            raise NetworkError(str(fp), "-", "additional file not found") from None
        except UNREADABLE_XML as exc:  # a truncated or corrupt gzip file among them
            raise NetworkError(str(fp), "-", f"malformed XML: {exc}") from None
        for k, tl in enumerate(root.iter("tlLogic")):
            tid = tl.get("id")
            if not tid:
                raise NetworkError(str(fp), f"tlLogic[{k}].id", "missing")
            key = (tid, tl.get("programID", ""))
            if (tl.get("type") or "").lower() == "off":  # a program of its own, with no phase
                loaded[key] = out[tid] = off_program(tid, key[1], str(fp))
                continue
            if tl.find("phase") is None:  # modifies a loaded program's offset
                offset = _offset_s(tl, str(fp), k)
                if key in loaded:
                    if offset is not None:
                        loaded[key] = replace(loaded[key], offset_s=offset)
                        if out[tid].program_id == key[1]:
                            out[tid] = loaded[key]
                    continue
                if offset is not None:  # the network's program (SUMO refuses a program it has not loaded)
                    net_offsets[key] = offset
                continue
            loaded[key] = out[tid] = _read_tl_logic(tl, str(fp))
    return out, loaded, net_offsets


def _offset_s(tl: ET.Element, source: str, k: int) -> float | None:
    value = tl.get("offset")
    if value is None:
        return None
    try:
        return seconds(value)
    except ValueError:
        raise NetworkError(source, f"tlLogic[{k}].offset", f"not a number or time: {value!r}") from None


def _with_net_offset(program: Program | None, net_offsets: dict[tuple[str, str], float]) -> Program | None:
    if program is None or (program.tls, program.program_id) not in net_offsets:
        return program
    return replace(program, offset_s=net_offsets[(program.tls, program.program_id)])


@dataclass(frozen=True)
class WautSwitch:
    at_s: float  # the WAUT's refTime + the switch's time, modulo its period when it has one (SUMO's rule)
    program_id: str


@dataclass(frozen=True)
class Waut:
    """SUMO's `<WAUT>`: the time-of-day programs of the lights its `<wautJunction>`s name.

    What SUMO 1.28 runs (MSTLLogicControl; checked against libsumo: tests/contract/test_waut.py):
    at the begin, `start_program`, or, when a switch lies at or before the begin, the program of
    the switch listed just before the first switch after the begin (the last switch's when none
    is after it); from that switch on, the switches in file order, each at its `at_s` plus the
    periods run so far (`period_s` added each time the list starts over; 0: no period, once), a
    switch whose time is not ahead of the one before ending them. A light the controller drives
    (TraCI's state) is not switched."""

    waut_id: str
    source: str
    start_program: str
    switches: tuple[WautSwitch, ...]
    period_s: float = 0.0

    def program_at(self, begin_s: float, t_s: float) -> str:
        """The program in force for the second from t_s in a run begun at begin_s: after every
        switch at or before t_s (a switch at t_s runs as that second's step starts)."""
        program, first = self._at_begin(begin_s)
        if first is None:
            return program
        index, when_s, offset_s = first, self.switches[first].at_s, 0.0
        while when_s <= t_s:
            program = self.switches[index].program_id
            index += 1
            if index == len(self.switches):
                if self.period_s <= 0:
                    break
                index, offset_s = 0, offset_s + self.period_s
            next_s = offset_s + self.switches[index].at_s
            if next_s <= when_s:  # SUMO drops the switching once its next time is not ahead
                break
            when_s = next_s
        return program

    def _at_begin(self, begin_s: float) -> tuple[str, int | None]:
        """The program SUMO loads the light with, and the index of the first switch it runs."""
        later = [k for k, s in enumerate(self.switches) if s.at_s > begin_s]
        if not later:
            return (self.switches[-1].program_id if self.switches else self.start_program), None
        first = min(later, key=lambda k: self.switches[k].at_s)
        return (self.start_program if first == 0 else self.switches[first - 1].program_id), first

    def timetable(self, begin_s: float, end_s: float) -> tuple[tuple[float, str], ...]:
        """The programs in force over a run from begin_s to end_s: (from_s, program) for the
        begin's (program_at) and each later change, in time order (program_at's rules: a switch
        to the program already in force is no change)."""
        out = [(begin_s, self.program_at(begin_s, begin_s))]
        times = sorted({s.at_s + k * self.period_s for s in self.switches for k in range(self._periods(end_s))})
        for t_s in (t for t in times if begin_s < t < end_s):
            program = self.program_at(begin_s, t_s)
            if program != out[-1][1]:
                out.append((t_s, program))
        return tuple(out)

    def _periods(self, end_s: float) -> int:
        """How many times the switch list may start over before end_s (1 without a period)."""
        return 1 if self.period_s <= 0 else int(end_s // self.period_s) + 1

    def describe(self) -> str:
        """For messages: WAUT w (file): starts 'p', to 'q' at 300 s."""
        switches = ", ".join(f"to {s.program_id!r} at {s.at_s:g} s" for s in self.switches)
        every = f", every {self.period_s:g} s" if self.period_s > 0 else ""
        return f"WAUT {self.waut_id} ({self.source}): starts {self.start_program!r}, {switches}{every}"


def seconds(text: str | float) -> float:
    """A SUMO time value in seconds, as SUMO reads one (sim.sumo.sumo_time_s: a number, or h:m:s / d:h:m:s,
    "0:00:27" is 27; sumolib's numbers pass as they are). Raises ValueError otherwise."""
    return sumo_time_s(text) if isinstance(text, str) else float(text)


def _time_s(text: str | None, source: str, field: str) -> float:
    """A SUMO time attribute in seconds (`seconds`; none: 0). Raises NetworkError naming the file and
    the field otherwise."""
    try:
        return seconds(text or "0")
    except ValueError:
        raise NetworkError(source, field, f"not a time: {text!r}") from None


def waut_schedules(files: list[Path]) -> dict[str, Waut]:
    """Per traffic light, the WAUT of the additional files (in SUMO's loading order) that a
    `<wautJunction>` makes switch its program during a run (the last such one). Unreadable files
    are left to the readers that raise; a time that is not one raises NetworkError."""
    wauts: dict[str, Waut] = {}
    out: dict[str, Waut] = {}
    for fp, root in readable_roots(files):
        for w in root.iter("WAUT"):
            wid, src = w.get("id", ""), str(fp)
            ref_s = _time_s(w.get("refTime"), src, f"WAUT[{wid}].refTime")
            period_s = _time_s(w.get("period"), src, f"WAUT[{wid}].period")
            switches = []
            for k, sw in enumerate(w.iter("wautSwitch")):
                at_s = ref_s + _time_s(sw.get("time"), src, f"WAUT[{wid}].wautSwitch[{k}].time")
                switches.append(WautSwitch(at_s % period_s if period_s > 0 else at_s, sw.get("to", "")))
            wauts[wid] = Waut(wid, src, w.get("startProg", ""), tuple(switches), period_s)
        for j in root.iter("wautJunction"):
            if j.get("wautID") in wauts:
                out[j.get("junctionID", "")] = wauts[j.get("wautID", "")]
    return out


AdditionalRead = tuple[dict[str, Program], dict[tuple[str, str], Program], dict[tuple[str, str], float]]


def read_additional(files: list[Path]) -> AdditionalRead:
    """The programs of the additional files, read once for several program_named calls (_read_additional)."""
    return _read_additional(files)


def program_named(
    tl: TLS, net_path: str, files: list[Path], program_id: str, nema: NemaLogics, read: AdditionalRead | None = None
) -> Program | None:
    """A sumolib TLS's program `program_id` as SUMO loads it: the last tlLogic of that id in the
    additional files, else the network's (with an offset the files set on it); None when neither
    has it (SUMO's own 'off'). `nema`: as net_program's; `read`: the files' read_additional, else read here."""
    _, loaded, net_offsets = read if read is not None else _read_additional(files)
    if (tl.getID(), program_id) in loaded:
        return loaded[(tl.getID(), program_id)]
    if program_id not in tl.getPrograms():
        return None
    return _with_net_offset(net_program(tl, net_path, program_id, nema), net_offsets)


def active_programs(
    net: Net, net_path: str, additional: list[Path], begin_s: float | None = None
) -> dict[str, Program | None]:
    """The program SUMO starts each traffic light of a sumolib net with: the last tlLogic for it
    in the additional files (loaded in order after the network), else the network's; with
    `begin_s`, for a light a WAUT switches, the program its WAUT has in force at the begin
    (Waut.program_at) where the files hold it."""
    from_files, _, net_offsets = _read_additional(additional)
    nema = NemaLogics(net_path)  # the network's NEMA programs, read once for every light
    out = {
        tl.getID(): from_files.get(tl.getID()) or _with_net_offset(net_program(tl, net_path, None, nema), net_offsets)
        for tl in net.getTrafficLights()
    }
    if begin_s is None:
        return out
    for tid, waut in waut_schedules(additional).items():
        program_id = waut.program_at(begin_s, begin_s)
        loaded = out.get(tid)
        if loaded is not None and loaded.program_id != program_id:
            in_force = program_named(net.getTLS(tid), net_path, additional, program_id, nema)
            out[tid] = in_force or loaded
    return out


def _min_dur(value: Any, actuated: bool) -> float | None:
    """A phase's minDur as the program's minimum, for an actuated program that gives one."""
    try:
        v = seconds(value) if actuated and value not in (None, "") else -1.0
    except (TypeError, ValueError):
        return None
    return v if v >= 0 and math.isfinite(v) else None


def _joined(a: ProgramPhase, b: ProgramPhase) -> ProgramPhase:
    """Two consecutive phases of one state as one: durations summed, and minimums (a phase
    without one runs its duration)."""
    mins = None
    if a.min_dur_s is not None or b.min_dur_s is not None:
        mins = (a.min_dur_s if a.min_dur_s is not None else a.duration_s) + (
            b.min_dur_s if b.min_dur_s is not None else b.duration_s
        )
    return ProgramPhase(a.duration_s + b.duration_s, a.state, mins)


def merge_runs(phases: tuple[ProgramPhase, ...]) -> list[ProgramPhase]:
    """Consecutive phases with the same state as one phase (cyclic: the last joins the first)."""
    merged: list[ProgramPhase] = []
    for ph in phases:
        if merged and merged[-1].state == ph.state:
            merged[-1] = _joined(merged[-1], ph)
        else:
            merged.append(ph)
    if len(merged) > 1 and merged[0].state == merged[-1].state:
        last = merged.pop()
        merged[0] = _joined(last, merged[0])
    return merged


def _shorter(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _never_stopped(letters: Iterable[str]) -> bool:
    """A link the signal never controls: green or off in every phase, but not off in some and
    green in others. Such a link (a left turn the city switches off, yielding on 'o', and
    protects in a stage of its own: SUMO's RiLSA_example4) is a controlled movement: its
    protected green is a stage the policies must be able to see the demand for."""
    seen = set(letters)
    return seen <= _FREE and not (seen & _OFF and seen & STAGE_GREEN)


def is_stage(state: str) -> bool:
    return any(c in STAGE_GREEN for c in state) and not any(c in YELLOW for c in state)


def _shows_yellow(link: int) -> Callable[[ProgramPhase], bool]:
    """Whether a phase shows `link` yellow."""
    return lambda p: p.state[link] in "yY"


def shortest_green_s(phases: tuple[ProgramPhase, ...], link: int) -> float | None:
    """The shortest green the program gives `link` in its cycle: over each cyclic run of
    consecutive phases showing it 'G' or 'g', their seconds, a phase counted at its minDur where
    it has one (an actuated program may end it there), else at its duration. None where the link
    is green in every phase or in none ([timing] ped_min_from_program, sim/netstages.py)."""
    hit = [p.state[link] in STAGE_GREEN for p in phases]
    if all(hit) or not any(hit):
        return None
    n, runs = len(phases), []
    for start in range(n):
        if hit[start] and not hit[start - 1]:
            run, k = 0.0, start
            while hit[k % n]:
                p = phases[k % n]
                run += p.duration_s if p.min_dur_s is None else p.min_dur_s
                k += 1
            runs.append(run)
    return min(runs)


def _longest_run(phases: list[ProgramPhase], hit: Callable[[ProgramPhase], bool]) -> float:
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


def _greens_of(state: str) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(state) if c in STAGE_GREEN)


def staggered_starts(phases: list[ProgramPhase]) -> frozenset[frozenset[int]]:
    """The green link sets of `phases` (merged) that only ever lead into a larger green: each phase showing
    the set (and no yellow) is followed, with no yellow ('y', 'Y') and no link stopped on the way, by a green
    phase showing the set and more links (a signal-group plan starting its groups one by one, SUMO's
    game_fokr_bs). stage_plan with `merge_staggered` reads such a phase as part of the change into that green
    (the program's own transition, red-amber 'u' phases included), not as a stage of its own."""
    n = len(phases)
    lead: set[frozenset[int]] = set()
    other: set[frozenset[int]] = set()
    for k, ph in enumerate(phases):
        if not is_stage(ph.state):
            continue
        green = _greens_of(ph.state)
        nxt = next((m for m in range(1, n) if is_stage(phases[(k + m) % n].state)), None)
        between = [phases[(k + m) % n] for m in range(1, nxt or 1)]
        ok = (
            nxt is not None
            and green < _greens_of(phases[(k + nxt) % n].state)
            and not any(c in "yY" for p in between for c in p.state)
            and all(green <= _greens_of(p.state) for p in between)
        )
        (lead if ok else other).add(green)
    return frozenset(lead - other)


def stage_plan(program: Program, merge_staggered: bool = False) -> StagePlan:
    """Stages, intergreens and link classes of a program. Raises ValueError on a malformed one.
    `merge_staggered`: the green sets that only lead into a larger one (staggered_starts) are no stages;
    their phases belong to the program's change into the larger green."""
    if program.unusable:
        raise ValueError(program.unusable)
    if not program.phases:
        raise ValueError("program has no phases")
    n_links = len(program.phases[0].state)
    if any(len(p.state) != n_links for p in program.phases):
        raise ValueError("phases have different numbers of links")
    odd = sorted({c for p in program.phases for c in p.state} - set("GgsuyYroO"))
    if odd:
        raise ValueError(f"unknown signal letters {odd}")
    phases = merge_runs(program.phases)
    leads = staggered_starts(phases) if merge_staggered else frozenset()
    by_green: dict[frozenset[int], list[Any]] = {}  # [state, summed duration, shortest minimum]
    for ph in phases:
        if is_stage(ph.state) and (green := _greens_of(ph.state)) not in leads:
            if green in by_green:
                by_green[green][1] += ph.duration_s
                by_green[green][2] = _shorter(by_green[green][2], ph.min_dur_s)
            else:
                by_green[green] = [ph.state, ph.duration_s, ph.min_dur_s]
    free = frozenset(i for i in range(n_links) if _never_stopped(p.state[i] for p in phases))
    stages = tuple(Stage("".join(c if c in _KEPT else "r" for c in st), dur, mn) for st, dur, mn in by_green.values())
    greens = set().union(*by_green) if by_green else set()
    ever = {i for p in phases for i, c in enumerate(p.state) if c in STAGE_GREEN}
    yellow_s = max((_longest_run(phases, _shows_yellow(i)) for i in range(n_links)), default=0.0)
    all_red_s = _longest_run(phases, lambda p: not any(c in STAGE_GREEN or c in "yY" for c in p.state))
    spans, first = _timeline(program.phases, list(by_green))
    clearances = link_clearances_s(phases, yellow_s + all_red_s, list(by_green), yellow_s)
    transitions, segments = program_transitions(phases, list(by_green))
    return StagePlan(
        stages=stages,
        yellow_s=yellow_s,
        all_red_s=all_red_s,
        cycle_s=sum(p.duration_s for p in phases),
        free_links=free,
        never_green=frozenset(range(n_links)) - greens,
        transition_only=frozenset(ever - greens - free),
        spans_s=spans,
        first_green_s=first,
        clearance_s=clearances,
        transitions=transitions,
        segments_s=segments,
    )


def link_clearances_s(
    phases: list[ProgramPhase], limit_s: float, stage_greens: list[frozenset[int]], yellow_s: float | None = None
) -> tuple[tuple[int, int, float], ...]:
    """The program's intergreen matrix: per ordered pair of links (i, j) that a change between
    two stages stops and starts, the shortest time the program leaves from the end of i's green
    to the start of j's green, 0 when the two are ever protected ('G') together; only the pairs it runs
    in less than limit_s (its longest yellow + all-red, the junction's uniform intergreen),
    sorted. Those are the signal groups' clearances the city itself keeps (the RiLSA's
    intergreen times): a pair the program never runs that closely keeps the uniform one.

    yellow_s: the junction's yellow, which the model shows every stopped link. Where the program
    gives i a shorter yellow and then an all-red before j starts, the time is read as yellow_s
    plus that all-red: the all-red clears the last vehicle that entered on i's yellow, so a
    longer yellow does not shorten it (a j started within i's yellow, or after a green of i that
    ends without a yellow, keeps the program's time)."""
    pairs = {(i, j) for a in stage_greens for b in stage_greens for i in a - b for j in b - a}
    links = {i for pair in pairs for i in pair}
    t, starts = 0.0, []
    for ph in phases:
        starts.append(t)
        t += ph.duration_s
    cycle_s = t
    if cycle_s <= 0:
        return ()
    green = [frozenset(i for i, c in enumerate(ph.state) if c in STAGE_GREEN) & links for ph in phases]
    ends = {i: [k for k in range(len(phases)) if i in green[k - 1] and i not in green[k]] for i in links}
    begins = {j: [starts[k] for k in range(len(phases)) if j in green[k] and j not in green[k - 1]] for j in links}
    # protected together ('G' both, neither yields): no clearance between them; a permissive
    # 'g' shown with a 'G' still needs the gap the program keeps before they are both protected
    together = [frozenset(i for i, c in enumerate(ph.state) if c == "G") & links for ph in phases]
    out = []
    for i, j in sorted(pairs):
        if any(i in g and j in g for g in together):
            out.append((i, j, 0.0))
            continue
        gaps = [_model_gap_s(phases, k, i, (b - starts[k]) % cycle_s, yellow_s) for k in ends[i] for b in begins[j]]
        gap = min(gaps, default=limit_s)
        if gap < limit_s:
            out.append((i, j, round(gap, 3)))
    return tuple(out)


def crossing_clearances_s(
    phases: tuple[ProgramPhase, ...], crossings: Iterable[int], limit_s: float
) -> tuple[tuple[int, float], ...]:
    """A pedestrian crossing's clearance as the program keeps it: per crossing link, the shortest time from the end
    of its green to the end of the intergreen that follows (the red a crossing shows after its green while the
    vehicles it went with keep theirs, then their yellow and all-red: the walkers' flashing don't-walk), or to the
    start of a link the program never shows green with it before that (a link green with it somewhere, the
    crossing's own next green among them, needs no clearance from it: a scramble's all-red into its crossings'
    next green is no clearance); a phase counted at its minDur where it has one. Only those above limit_s (the
    junction's yellow_s + all_red_s, which every change runs already), sorted (docs/import.md rule 7)."""
    phases = tuple(ProgramPhase(p.duration_s if p.min_dur_s is None else p.min_dur_s, p.state) for p in phases)
    green = [frozenset(i for i, c in enumerate(p.state) if c in STAGE_GREEN) for p in phases]
    out = []
    for i in sorted(set(crossings)):
        ends = [k for k in range(len(phases)) if i in green[k - 1] and i not in green[k]]
        together = frozenset().union(*(g for g in green if i in g))
        gaps = [_clearance_after_s(phases, green, k, i, together) for k in ends]
        gap = min((g for g in gaps if g < math.inf), default=0.0)
        if gap > limit_s + 1e-9:
            out.append((i, round(gap, 3)))
    return tuple(out)


def _clearance_after_s(
    phases: tuple[ProgramPhase, ...], green: list[frozenset[int]], k: int, crossing: int, together: frozenset[int]
) -> float:
    """From the start of phase k to the first phase after it that starts a link not in `together` (the links green
    with the crossing somewhere), or that is a stage (greens and no yellow) after a phase with a yellow or no green
    (the end of the first intergreen); inf where the crossing is green again first (crossing_clearances_s)."""
    n, t, cleared = len(phases), 0.0, False
    for step in range(n):
        at = (k + step) % n
        ph = phases[at]
        if crossing in green[at]:
            return math.inf
        if (green[at] - green[at - 1]) - together or (cleared and is_stage(ph.state)):
            return t
        cleared = cleared or not is_stage(ph.state)
        t += ph.duration_s
    return t


def _model_gap_s(phases: list[ProgramPhase], k: int, link: int, gap_s: float, yellow_s: float | None) -> float:
    """The time from the end of `link`'s green (phase k) to another link's start `gap_s` later,
    as the model runs it with its yellow_s: the program's all-red after the link's own yellow
    kept whole (link_clearances_s). A green that ends without a yellow (into 'o', yield: the
    link still goes, giving way; RiLSA_example4's left turn) keeps the program's time."""
    own_yellow_s, n = 0.0, len(phases)
    for step in range(n):
        ph = phases[(k + step) % n]
        if ph.state[link] not in "yY":
            break
        own_yellow_s += ph.duration_s
    if yellow_s is None or own_yellow_s <= 0 or gap_s <= own_yellow_s or own_yellow_s >= yellow_s:
        return gap_s
    return gap_s - own_yellow_s + yellow_s


def direct_gaps_s(
    phases: list[ProgramPhase],
    stages: Collection[frozenset[int]],
    yellow_s: float | None = None,
    conflict: Callable[[int, int], bool] | None = None,
) -> dict[tuple[int, int], float]:
    """Per ordered pair of links the program never shows green together, the shortest time from the end of the
    first's green to the start of the second's where no phase showing one of `stages` (green link sets) lies
    between (the program's intergreen of that pair; pairs it never runs directly are left out). `yellow_s`: the
    junction's, read as _model_gap_s reads a shorter own yellow (None: the program's time as it is). `conflict`:
    only pairs it names, and only where the second starts after the last green of a link it names with the
    second (pair_intergreens_s)."""
    n = len(phases)
    green = [_greens_of(p.state) for p in phases]
    stage = [not any(c in "yYu" for c in p.state) and g in stages for p, g in zip(phases, green)]
    together = {(a, b) for g in green for a in g for b in g}
    out: dict[tuple[int, int], float] = {}
    for k in range(n):
        for i in green[k - 1] - green[k]:  # phase k is the first without i's green
            t, since = 0.0, frozenset[int]()
            for step in range(n):
                at = (k + step) % n
                if i in green[at]:
                    break  # i green again: what follows is not this change
                starts = green[at] - green[at - 1]
                for b in starts:
                    if (i, b) in together or (conflict and not _last_foe(conflict, i, b, since - green[at], starts)):
                        continue
                    out[(i, b)] = min(_model_gap_s(phases, k, i, t, yellow_s), out.get((i, b), math.inf))
                if stage[at]:
                    break  # the model's next stage: the change ends here
                t, since = t + phases[at].duration_s, since | green[at]
    return out


def _last_foe(
    conflict: Callable[[int, int], bool], i: int, b: int, held: frozenset[int], starts: frozenset[int]
) -> bool:
    """i and b conflict, and no link green after i's end that ended before b's start (`held`) conflicts with b or
    with a link starting with it (`starts`): else that link held their start, and i's longer time is an early
    cut-off, the plan's structure (pair_intergreens_s)."""
    return conflict(i, b) and not any(conflict(j, s) for j in held for s in starts)


def pair_intergreens_s(
    phases: tuple[ProgramPhase, ...], conflict: Callable[[int, int], bool], yellow_s: float, lead_max_s: float
) -> dict[tuple[int, int], float]:
    """The program's intergreen per pair of conflicting links (docs/import.md rule 5): for each ordered pair (i, k)
    that `conflict` names (SUMO's foes) and the program never shows green together, the shortest time it keeps
    from the end of i's green to the start of k's where it goes from one to the other directly: no stage between
    (a staggered start, staggered_starts, no longer than `lead_max_s`, the configured minimum green, is part of
    the change into the green it leads to; a longer one is a green of its own, which the model's stage runs at
    its minimum green, and the time across it the plan's order), and no link still green after i's end that
    conflicts with k or with a link starting with k (then their start waited for that link, and i's longer
    time is an early cut-off, the plan's structure; that link's pairs count). A phase green only on links green
    throughout (a free right turn) is red for the others, no stage (Bologna pasubio 218's 7 s before its next
    green). Read with the junction's `yellow_s` as link_clearances_s reads it (_model_gap_s)."""
    merged = merge_runs(phases)
    greens = [_greens_of(p.state) for p in merged]
    free = frozenset.intersection(*greens) if greens else frozenset()  # green throughout: a phase of them alone is red
    long_s = {g for g, p in zip(greens, merged) if p.duration_s > lead_max_s + 1e-9}
    stages = {g for g, p in zip(greens, merged) if is_stage(p.state) and g - free}
    stages -= staggered_starts(merged) - long_s
    gaps = direct_gaps_s(merged, stages, yellow_s, conflict)
    return {(i, k): round(s, 3) for (i, k), s in sorted(gaps.items())}


_Occurrence = tuple[int, list[ProgramPhase], list[ProgramPhase]]  # (stage, its green's phases, the phases after)


def _occurrences(phases: list[ProgramPhase], keys: list[frozenset[int]]) -> list[_Occurrence]:
    """The program's cycle from a green of stage 0 as the stages' greens in order, each with the
    phases that follow it up to the next green ([] with fewer than two stages)."""
    labels = [keys.index(k) if (k := _green_key(p.state, keys)) is not None else -1 for p in phases]
    starts = [i for i in range(len(phases)) if labels[i] == 0 and labels[i - 1] != 0]
    if len(keys) < 2 or not starts:
        return []
    occ: list[_Occurrence] = []
    for lab, ph in zip(labels[starts[0] :] + labels[: starts[0]], phases[starts[0] :] + phases[: starts[0]]):
        if lab >= 0 and not (occ and occ[-1][0] == lab and not occ[-1][2]):
            occ.append((lab, [], []))
        (occ[-1][1] if lab >= 0 else occ[-1][2]).append(ph)
    return occ


def _transition_ok(run: list[ProgramPhase], a: frozenset[int], b: frozenset[int]) -> bool:
    """A run of phases the roadside may show as the change a -> b: it greens only links of a or
    b, keeps green in every phase each link green in both stages (the model serves such a link
    through the change: the estimator, the coupled-road rules and the twin count it as served),
    and its last phase shows no green on a link the change stops."""
    greens = [frozenset(i for i, c in enumerate(p.state) if c in STAGE_GREEN) for p in run]
    kept = a & b
    return bool(run) and all(kept <= g <= a | b for g in greens) and not greens[-1] & (a - b)


def program_transitions(
    phases: list[ProgramPhase], keys: list[frozenset[int]]
) -> tuple[tuple[tuple[int, int, tuple[ProgramPhase, ...]], ...], tuple[float, ...]]:
    """The program's own transitions between stages (`keys`: the stages' green link sets, in
    index order; `phases` merged), and per stage the seconds from its first green to the next
    stage's green after it (they add up to the cycle).

    For each stage k and the next in index order (the model's cycle), the phases from the end of
    k's first green to the next green of k + 1: the city's transition, which may hold a stage the
    program serves twice (Bologna 218: a yellow, then 2 s of a stage whose links are green in
    both); then each change the program makes from one green to the next, where not already
    given. A run is kept only where it greens no link but those of the two stages and ends with
    no green on a link the change stops, and that keeps green each link green in both stages
    (`_transition_ok`); an empty one (no transition phase) is left to the model."""
    occ = _occurrences(phases, keys)
    if not occ:
        return (), ()
    n, m = len(keys), len(occ)
    first: dict[int, int] = {}
    for i, (lab, _, _) in enumerate(occ):
        first.setdefault(lab, i)
    out: dict[tuple[int, int], tuple[ProgramPhase, ...]] = {}
    segments = []
    for k in range(n):
        nxt, i = (k + 1) % n, first[k]
        run = list(occ[i][2])
        for step in range(1, m + 1):
            lab, green, after = occ[(i + step) % m]
            if lab == nxt:
                break
            run += green + after
        segments.append(sum(p.duration_s for p in occ[i][1] + run))
        if _transition_ok(run, keys[k], keys[nxt]):
            out[(k, nxt)] = tuple(run)
    if abs(sum(segments) - sum(p.duration_s for p in phases)) > 1e-6:
        return (), ()  # the stages' first greens not in index order: the model's cycle is not the program's
    for i, (a, _, after) in enumerate(occ):
        b = occ[(i + 1) % m][0]
        if a != b and (a, b) not in out and _transition_ok(after, keys[a], keys[b]):
            out[(a, b)] = tuple(after)
    return tuple((a, b, run) for (a, b), run in sorted(out.items())), tuple(segments)


def _green_key(state: str, keys: Collection[frozenset[int]]) -> frozenset[int] | None:
    """The stage (of `keys`) a phase shows, None for a transition."""
    if not is_stage(state):
        return None
    green = _greens_of(state)
    return green if green in keys else None


def _timeline(phases: tuple[ProgramPhase, ...], keys: list[frozenset[int]]) -> tuple[tuple[float, ...], float]:
    """Per stage (in `keys` order) the time from each of its greens to the next stage's green,
    summed over the cycle (they add up to the cycle), and where stage 0's first green begins
    (walking back over the phases of the same state that wrap around from the cycle's end)."""
    if not keys:
        return (), 0.0
    index = {k: i for i, k in enumerate(keys)}
    spans = [0.0] * len(keys)
    ks = [_green_key(p.state, index) for p in phases]
    last = next(k for k in reversed(ks) if k is not None)  # the stage running as the cycle wraps
    for p, k in zip(phases, ks):
        last = k if k is not None else last
        spans[index[last]] += p.duration_s
    start = next(i for i, k in enumerate(ks) if k == keys[0])
    first = sum(p.duration_s for p in phases[:start])
    if start == 0:
        back = len(phases) - 1
        while back > 0 and phases[back].state == phases[0].state:
            first -= phases[back].duration_s
            back -= 1
    return tuple(spans), first


def aligned_greens_s(
    plan: StagePlan, yellow_s: float, all_red_s: float, crossing_links: frozenset[int] = frozenset()
) -> tuple[float, ...]:
    """Per stage, the base green that makes the junction model's base program (stages in index
    order, each followed by the intergreen the model derives, controller/model.py) run SUMO's
    timeline: each stage's span less the model's intergreen to the next stage, at least 1 s (the
    seconds that adds come off the longest greens). With the stages in the program's order every
    green then starts when SUMO's does (up to those seconds) and the base cycle is the program's,
    whatever the program's own transitions (partial yellows, greens kept into a transition,
    all-reds of their own lengths). `crossing_links`: the junction file's (a change stopping only those and starting
    nothing is immediate, controller/model.py stops_crossings_only)."""
    from controller.model import crossing_pairs_s, derived_intergreen_s, stops_crossings_only

    if len(plan.spans_s) != len(plan.stages):
        return tuple(st.base_green_s for st in plan.stages)
    greens = [frozenset(i for i, c in enumerate(st.state) if c in STAGE_GREEN) for st in plan.stages]
    n = len(greens)
    clearances = {(i, j): s for i, j, s in plan.clearance_s}
    walkers = crossing_pairs_s(greens, plan.crossing_clearance_s)
    for i, k, s in plan.pair_intergreen_s:  # as Intersection.clearance_pairs reads them
        walkers[(i, k)] = max(s, walkers.get((i, k), 0.0))
    own = {(a, b): sum(p.duration_s for p in run) for a, b, run in plan.transitions}
    spans = plan.spans_s
    if own and len(plan.segments_s) == n:
        spans = plan.segments_s  # the model's cycle order, with the program's transitions (rule 11)
    raw = []
    for k, span in enumerate(spans):
        pair = (greens[k], greens[(k + 1) % n])
        ig, _ = (
            derived_intergreen_s(*pair, yellow_s, all_red_s, clearances, walkers)
            if n > 1 and not stops_crossings_only(*pair, crossing_links)
            else (0.0, 0.0)
        )
        raw.append(span - own.get((k, (k + 1) % n), ig))
    out = [max(1.0, g) for g in raw]
    # the seconds a clamped stage adds come off the longest greens, so the cycle stays SUMO's
    excess = sum(o - g for o, g in zip(out, raw))
    for k in sorted(range(n), key=lambda i: -out[i]):
        take = min(excess, out[k] - 1.0)
        out[k] -= take
        excess -= take
    return tuple(round(g, 3) for g in out)


def roadside_timeline(program: Program, plan: StagePlan) -> tuple[tuple[int, float], ...]:
    """The program's cycle as the roadside reports it (sim/field.py reads SUMO's state back): per
    run of phases, the index of the stage whose green link set it shows when it shows no yellow
    ('y', 'Y'), else -1 (a transition, an all-red), with its seconds; from where stage 0's green
    begins (`plan.first_green_s`, where the junction's base_offset_s applies), consecutive runs of
    one index joined. The do-no-harm replay's fixed side runs it ([harm] program_timeline): the
    city's transitions with their own lengths, where the base program has one uniform intergreen
    (docs/import.md, rule 8)."""
    greens = [frozenset(i for i, c in enumerate(st.state) if c in STAGE_GREEN) for st in plan.stages]
    labelled = []
    for ph in program.phases:
        shown = frozenset(i for i, c in enumerate(ph.state) if c in STAGE_GREEN)
        stage = greens.index(shown) if shown in greens and not any(c in "yY" for c in ph.state) else -1
        labelled.append((stage, ph.duration_s))
    cycle_s = sum(d for _, d in labelled)
    if cycle_s <= 0:
        return ()
    start_s, t, head, tail = plan.first_green_s % cycle_s, 0.0, [], []
    for stage, d in labelled:  # split the cycle where stage 0's green begins
        before = min(max(start_s - t, 0.0), d)
        tail.append((stage, before))
        head.append((stage, d - before))
        t += d
    out: list[tuple[int, float]] = []
    for stage, d in head + tail:
        if round(d, 3) <= 0:  # a split at float noise from a run's end (decimal durations) is none
            continue
        if out and out[-1][0] == stage:
            out[-1] = (stage, out[-1][1] + d)
        else:
            out.append((stage, d))
    return tuple((stage, round(float(d), 3)) for stage, d in out)

"""SUMO as the city's field devices.

Every simulated second it reads each junction's induction loops (counts by vehicle class from
the vehicle's SUMO vClass, a bicycle its own class since session 49; one the feed has no class for
counted as a car and its vehicle type named in a warning; occupancy, mean speed) into the
detector message of the MQTT
contract, runs one virtual roadside controller per junction (sim/roadside.py) that applies the
controller's plans to SUMO's traffic light, and reports each roadside status. It also keeps the
evaluation's ground truth (vehicles over each junction's stop lines, by class), which never
goes to the controller.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from controller.core.feedarrays import DetectorFrame, FrameLayout
from controller.core.messages import DetectorMessageFormat, encode_body, status_body
from controller.model import GREEN, VEHICLE_CLASSES, Command, Intersection, derived_intergreen_s
from controller.stagecheck import shown_stage
from sim.netprogram import Waut, phase_cycle
from sim.roadside import RoadsideController

# the feed's vehicle class of each SUMO vClass a loop can see (anything else counts as a car)
FEED_CLASS_OF_VCLASS = {
    "passenger": "car",
    "private": "car",
    "taxi": "car",
    "evehicle": "car",
    "bus": "bus",
    "coach": "bus",
    "trolleybus": "bus",
    "truck": "truck",
    "trailer": "truck",
    "delivery": "truck",
    "motorcycle": "motorcycle",
    "moped": "motorcycle",
    "bicycle": "bicycle",
}
# vClasses the feed counts as a car without naming them: car-sized, they differ from `passenger` only
# in the lanes SUMO lets them use (`ignoring` may use any: Bologna's whole demand is of that class).
# Not in FEED_CLASS_OF_VCLASS: the replay's demand (sim/replay_demand.py) keeps its own cars `passenger`.
CAR_SIZED_VCLASSES = frozenset({"ignoring", "hov", "emergency", "authority", "vip"})


_CLASS_COLUMN = {c: k for k, c in enumerate(VEHICLE_CLASSES)}

log = logging.getLogger(__name__)


def vehicle_class(sumo_vclass: str) -> str:
    return FEED_CLASS_OF_VCLASS.get(sumo_vclass, "car")


# SUMO's aggregation interval of the generated loops, whose interval output goes to no file
# (nothing reads it). SUMO keeps every vehicle a loop saw since its interval began and walks them
# all in each last-step getter the field asks every step (MSInductLoop::collectVehiclesOnDet):
# over a day-long interval a read grew with the vehicles passed since the start (BENCHMARKS.md,
# issue 12, V session 39). A reset every minute keeps that walk short, for one interval line per
# loop a minute written to NUL; the last-step readings are the same for any interval
# (tests/contract/test_field_reads.py).
LOOP_PERIOD_S = 60


def write_detector_file(
    junctions: Mapping[str, Intersection], path: Path, loop_length_m: float, period_s: int = LOOP_PERIOD_S
) -> Path:
    """The induction loops of the junction TOMLs as a SUMO additional file, each on the SUMO
    lane it sits on (`at_lane`), with its own length when shorter than loop_length_m, aggregated
    by SUMO over `period_s` into no file (LOOP_PERIOD_S). The city's own loops (`city = true`)
    are already in the scenario and are left out; a loop shared by two junctions is written
    once."""
    root = ET.Element("additional")
    written: set[str] = set()
    for j in junctions.values():
        for d in j.detectors:
            if d.city or d.id in written:
                continue
            written.add(d.id)
            length = loop_length_m if d.length_m is None else d.length_m
            ET.SubElement(
                root,
                "inductionLoop",
                id=d.id,
                lane=d.at_lane,
                pos=f"{d.pos_m:.2f}",
                length=f"{length:.2f}",
                period=str(period_s),
                file="NUL",
            )
    ET.indent(root)
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


class SumoField:
    """The field side of one running SUMO simulation (libsumo or traci module passed in)."""

    def __init__(
        self,
        api: ModuleType,
        junctions: Mapping[str, Intersection],
        backup_s: float,
        status_every_s: float = 10.0,
        *,
        keep_off_through_intergreen: bool = True,  # config.toml [roadside]: sim/roadside.py (its default)
        wauts: Mapping[str, Waut] | None = None,
        begin_s: float = 0.0,
    ) -> None:
        """`wauts`: per light, the WAUT of the scenario's files that switches its program during
        the run (sim/netprogram.py waut_schedules), and `begin_s` the run's begin: a hand-back
        resumes the program the WAUT has in force at that time (SUMO does not switch a light
        TraCI drives), not the one in force at the start."""
        self.api = api
        self.junctions = dict(junctions)
        self.roadside = {
            jid: RoadsideController(j, backup_s, keep_off_through_intergreen=keep_off_through_intergreen)
            for jid, j in self.junctions.items()
        }
        self.crossed: dict[str, dict[str, int]] = {jid: {} for jid in self.junctions}
        self.refusals = 0
        self._local_map: dict[str, dict[str, int | None]] = {}  # program phase state -> our phase
        self._program: dict[str, str] = {}
        self._wauts = {jid: w for jid, w in (wauts or {}).items() if jid in self.junctions}
        self._begin_s = begin_s
        self._applied: dict[str, str | None] = dict.fromkeys(self.junctions)
        self._keep_off = keep_off_through_intergreen
        # per junction entering a program through an intergreen (_resume_program): (since, how)
        self._entries: dict[str, tuple[float, ProgramEntry]] = {}
        self._class_of_type: dict[str, str] = {}
        self._status_sent: dict[str, tuple[tuple[object, ...], float]] = {}  # (status_key, when sent)
        self.status_every_s = status_every_s
        for jid in self.junctions:
            self._program[jid] = api.trafficlight.getProgram(jid)
            self._local_map[jid] = {}
        self.subscribe()

    def program_states(self) -> dict[str, tuple[str, ...]]:
        """Per junction, the signal state of each phase of the program SUMO runs for it (the one
        in force at the start): what its roadside controller reports stages from (_local_phase).
        () where those are not the states it shows: a NEMA program shows its two rings' phases
        combined (nothing to check against: controller/stagecheck.py)."""
        tl, nema = self.api.trafficlight, self.api.constants.TRAFFICLIGHT_TYPE_NEMA
        out = {}
        for jid, program in self._program.items():
            logic = next((lg for lg in tl.getAllProgramLogics(jid) if lg.programID == program), None)
            out[jid] = tuple(ph.state for ph in logic.phases) if logic is not None and logic.type != nema else ()
        return out

    # -- detectors -------------------------------------------------------------------------
    def _class_of_vehicle(self, vid: str, detector: str) -> str:
        try:
            type_id = self.api.vehicle.getTypeID(vid)
        except self.api.TraCIException:  # arrived within the step: the loop still knows its type
            type_id = next(v[4] for v in self.api.inductionloop.getVehicleData(detector) if v[0] == vid)
        cls = self._class_of_type.get(type_id)
        if cls is None:
            vclass = self.api.vehicletype.getVehicleClass(type_id)
            cls = self._class_of_type[type_id] = vehicle_class(vclass)
            if vclass not in FEED_CLASS_OF_VCLASS and vclass not in CAR_SIZED_VCLASSES:
                log.warning(
                    "vehicle type=%s vClass=%s crossed loop=%s: the feed has no class for it (%s); its loops"
                    " count it as a car",
                    type_id,
                    vclass,
                    detector,
                    ", ".join(VEHICLE_CLASSES),
                )
        return cls

    def subscribe(self) -> None:
        """How the loops are read every step. Through traci (a socket), one batched read per
        step: subscriptions. In-process libsumo has no socket to save, and its subscriptions
        cost more in the step than three direct getter calls per loop (BENCHMARKS.md, E8): it
        reads them directly."""
        self._loop_ids = tuple(dict.fromkeys(d.id for j in self.junctions.values() for d in j.detectors))
        self._direct = getattr(self.api, "__name__", "") == "libsumo"
        # libsumo's compiled getter itself, without the Python wrapper around it: asked of every
        # loop every step (city, 516 loops: about a third less time than through the wrapper)
        # (and the same for occupancy and speed, asked of the loops that had a vehicle)
        compiled_lib = getattr(self.api, "_libsumo", None)
        il = self.api.inductionloop

        def getter(name: str) -> Any:
            compiled = getattr(compiled_lib, f"inductionloop_{name}", None)
            return compiled if self._direct and compiled is not None else getattr(il, name)

        def tl_getter(name: str) -> Any:  # the same for the traffic lights' getters asked every step
            compiled = getattr(compiled_lib, f"trafficlight_{name}", None)
            return compiled if self._direct and compiled is not None else getattr(self.api.trafficlight, name)

        self._tl_state = tl_getter("getRedYellowGreenState")
        self._tl_next_switch = tl_getter("getNextSwitch")
        self._tl_phase_duration = tl_getter("getPhaseDuration")
        self._ids_getter = getter("getLastStepVehicleIDs")
        self._occ_getter = getter("getLastStepOccupancy")
        self._speed_getter = getter("getLastStepMeanSpeed")
        tc = self.api.constants
        self._vars = (tc.LAST_STEP_VEHICLE_ID_LIST, tc.LAST_STEP_OCCUPANCY, tc.LAST_STEP_MEAN_SPEED)
        if not self._direct:
            for did in self._loop_ids:
                self.api.inductionloop.subscribe(did, self._vars)
        self._on_loop: dict[str, tuple[str, ...]] = {}  # by loop id: the vehicles on it the step before
        self._substeps: list[tuple[dict[int, dict[str, int]], np.ndarray, np.ndarray]] = []  # sample_substep
        self._loops = tuple(
            (d.id, d.kind == "stop", self.crossed[jid]) for jid, j in self.junctions.items() for d in j.detectors
        )
        self._loop_dids = tuple(did for did, _, _ in self._loops)
        loop_ids = {jid: [d.id for d in j.detectors] for jid, j in self.junctions.items()}
        self.frame_layout = FrameLayout.build(loop_ids)
        self.message_format = DetectorMessageFormat.build(loop_ids)  # the messages' text around the readings

    def _loop_values(self) -> dict[str, tuple[tuple[str, ...], float, float]]:
        """Through traci: every loop's last step from its subscription, (vehicle ids, occupancy
        %, mean speed m/s or -1). Through libsumo _read_loops reads the getters itself."""
        il = self.api.inductionloop
        iv, ov, sv = self._vars
        return {did: (r[iv], r[ov], r[sv]) for did, r in il.getAllSubscriptionResults().items()}

    def sample_substep(self) -> None:
        """Read the loops after a SUMO step that ends inside the second (a step length under
        1 s: sim/simulate.py step_to_end); the next read (detector_frame, detector_messages,
        loop_readings) aggregates them with its own step into the second the service sees."""
        self._substeps.append(self._read_step())

    def _read_loops(self) -> tuple[dict[int, dict[str, int]], np.ndarray, np.ndarray]:
        """The second that just ended: its last step, with the sub-steps sampled before it
        (sample_substep) if any, aggregated (aggregate_substeps)."""
        last = self._read_step()
        if not self._substeps:
            return last
        steps, self._substeps = [*self._substeps, last], []
        return aggregate_substeps(steps)

    def _read_step(self) -> tuple[dict[int, dict[str, int]], np.ndarray, np.ndarray]:
        """The step that just ended, per loop of each junction in order (junctions, then their
        detectors): the counts by class of the loops that counted a vehicle (by position),
        and every loop's occupancy 0..1 and mean speed m/s (or -1). A vehicle is counted once,
        in the step it enters the loop (ids on the loop now that were not there before)."""
        n = len(self._loops)
        occ, speed = np.zeros(n), np.full(n, -1.0)
        if self._direct:
            # libsumo: SUMO derives all three from the vehicles on the loop during the step:
            # with none, occupancy is 0 and speed -1 (checked on every loop and step of the
            # bundled city, 1,800 s), so those two are asked only of loops that had a vehicle
            # (one compiled call per loop per step: libsumo has no vector getter over loops, and its
            # subscriptions cost more inside the step than they save; BENCHMARKS.md, issue 12); the
            # getter mapped over the ids (the iteration in C) and the loops with vehicles kept
            getter, occ_of, speed_of, dids = self._ids_getter, self._occ_getter, self._speed_getter, self._loop_dids
            hits = [(i, ids) for i, ids in enumerate(map(getter, dids)) if ids]
            for i, _ids in hits:
                did = dids[i]
                occ[i], speed[i] = occ_of(did), speed_of(did)
        else:
            values = self._loop_values()
            hits = []
            for i, did in enumerate(self._loop_dids):
                ids, occ[i], speed[i] = values[did]
                if ids:
                    hits.append((i, ids))
        counted = self._count_entries(hits)
        occ /= 100.0
        return counted, np.where(occ <= 1.0, occ, 1.0), np.where(speed >= 0, speed, -1.0)

    def _count_entries(self, hits: list[tuple[int, tuple[str, ...]]]) -> dict[int, dict[str, int]]:
        """The counts by class of the loops with vehicles (`hits`: (position, ids), in position
        order) of the vehicles not on the loop the step before; the loops' stop-line crossings
        are added to their junction's. The loops without vehicles are forgotten."""
        before_on = self._on_loop
        now_on: dict[str, tuple[str, ...]] = {}
        counted: dict[int, dict[str, int]] = {}
        for i, ids in hits:
            did, is_stop, crossed = self._loops[i]
            # a loop two junctions share is listed twice: its vehicles count at its first position
            before = now_on.get(did)
            if before is None:
                before = before_on.get(did, ())
            now_on[did] = ids
            if ids == before:  # the same vehicles still on the loop: nothing entered
                continue
            counts: dict[str, int] = {}
            for vid in ids:
                if vid not in before:
                    cls = self._class_of_vehicle(vid, did)
                    counts[cls] = counts.get(cls, 0) + 1
            if counts:
                counted[i] = counts
                if is_stop:
                    for cls, c_n in counts.items():
                        crossed[cls] = crossed.get(cls, 0) + c_n
        self._on_loop = now_on
        return counted

    def detector_messages(self, t_s: float, step_s: float = 1.0) -> list[tuple[str, bytes]]:
        """One message per junction (MQTT contract) for the step that just ended at t_s."""
        counted, occ, speed = self._read_loops()
        return self.message_format.encode(t_s, step_s, counted, occ.tolist(), speed.tolist())

    def detector_frame(self, t_s: float, step_s: float = 1.0) -> DetectorFrame:
        """The same readings as detector_messages, as one array frame (core/feedarrays.py) for
        an in-process controller: no JSON."""
        return frame_of(self.frame_layout, t_s, step_s, *self._read_loops())

    def loop_readings(self) -> tuple[dict[int, dict[str, int]], np.ndarray, np.ndarray]:
        """The step that just ended as detector_frame reads it, before the frame is built (the
        counts by class of the loops that counted a vehicle, every loop's occupancy and speed):
        what sim/service_process.py pipes to its service, which builds the frame (frame_of)."""
        return self._read_loops()

    # -- roadside --------------------------------------------------------------------------
    def receive(self, cmd: Command, t_s: float) -> str:
        rc = self.roadside.get(cmd.junction)
        if rc is None:
            return f"unknown junction {cmd.junction}"
        why = rc.receive(cmd, t_s)
        if why:
            self.refusals += 1
        return why

    def _local_phase(self, jid: str) -> int | None:
        """Which of our green phases SUMO's own program is showing (None in its intergreens)."""
        state = self._tl_state(jid)
        cache = self._local_map[jid]
        if state not in cache:
            cache[state] = shown_stage(self.junctions[jid], state)  # the rule the start-up stage check applies
        return cache[state]

    def actuate(self, t_s: float) -> list[bytes]:
        """`actuate_bodies`, each status encoded as its message."""
        return [encode_body(body) for body in self.actuate_bodies(t_s)]

    def actuate_bodies(self, t_s: float) -> list[dict[str, Any]]:
        """Run every roadside controller for the coming second; return the status messages'
        JSON objects (messages.status_body) of those whose status changed (phase, mode, plan, program,
        faults) or was last sent status_every_s ago (status is retained state, not a per-second
        feed)."""
        tl = self.api.trafficlight
        statuses = []
        for jid in self._wauts:  # the status names the program the WAUT has in force (sent when it changes)
            self.roadside[jid].program = self._program_in_force(jid, t_s)
        for jid, rc in self.roadside.items():
            local = rc.mode == "local"
            phase = self._local_phase(jid) if local else None
            # the time the program's phase has shown, asked of SUMO only where the roadside reads it
            spent = (
                (t_s - self._tl_next_switch(jid) + self._tl_phase_duration(jid))
                if local and rc.reads_spent(phase)
                else 0.0
            )
            state = rc.tick(t_s, phase, spent)
            if state is None:
                if self._applied[jid] is not None:
                    self._applied[jid] = None
                    self._resume_program(jid, rc.green_phase(), rc.status(t_s).time_in_phase_s, t_s)
                elif self._entries and jid in self._entries:
                    self._enter_program(jid, t_s)
            elif state != self._applied[jid]:
                self._entries.pop(jid, None)  # the roadside took the light back during an entry
                tl.setRedYellowGreenState(jid, state)
                self._applied[jid] = state
            key = rc.status_key()  # the status itself is built only when it is sent
            last = self._status_sent.get(jid)
            if last is None or last[0] != key or t_s - last[1] >= self.status_every_s:
                self._status_sent[jid] = (key, t_s)
                statuses.append(status_body(rc.status(t_s), rc.status_epoch()))
        return statuses

    def _program_in_force(self, jid: str, t_s: float) -> str:
        """The program the city runs at jid from t_s: its WAUT's (Waut.program_at), else the one
        it ran at the start."""
        waut = self._wauts.get(jid)
        return self._program[jid] if waut is None else waut.program_at(self._begin_s, t_s)

    def _resume_program(self, jid: str, phase: int | None, green_s: float, t_s: float) -> None:
        """Back to local control at t_s, in the program in force then (_program_in_force),
        continuing the green that is showing (no cut, no intergreen skipped) for what is left of
        it: the program's green (its phases in a row showing those greens, a split green being
        one), at most the phase's max_green_s, less the `green_s` the roadside already showed it,
        at least 1 s. Then the program's own order. A program with no phase showing that green
        (a WAUT's other program) is entered through an intergreen (program_entry), run from
        this second by _enter_program."""
        tl = self.api.trafficlight
        program = self._program_in_force(jid, t_s)
        logic = (
            None if phase is None else next((lg for lg in tl.getAllProgramLogics(jid) if lg.programID == program), None)
        )
        if phase is None or logic is None:  # logic None: SUMO's own 'off', which it builds when switched to
            tl.setProgram(jid, program)
            return
        green = self.junctions[jid].phases[phase].green_links()
        # only the phases of the program's cycle: a phase it never comes back to (a lead-in, one
        # kept for another program) would leave the light outside its cycle (sim/netprogram.py)
        cycle = phase_cycle([tuple(ph.next or ()) for ph in logic.phases])
        states = [ph.state for ph in logic.phases]
        durations_s = [float(ph.duration) for ph in logic.phases]
        run = _green_run(states, durations_s, cycle, green)
        if run is not None:
            last, program_green_s = run
            tl.setProgram(jid, program)
            tl.setPhase(jid, last)
            max_green_s = self.junctions[jid].phases[phase].max_green_s
            tl.setPhaseDuration(jid, max(1.0, min(program_green_s, max_green_s) - green_s))
            return
        entry = program_entry(self.junctions[jid], phase, green_s, program, states, durations_s, cycle, self._keep_off)
        if entry is None:
            tl.setProgram(jid, program)
            log.warning(
                "junction=%s program=%s: no phase of the program's cycle shows a green; switched to it from the"
                " green in force (links %s) with no intergreen",
                jid,
                program,
                sorted(green),
            )
            return
        log.info(
            "junction=%s program=%s: no phase of the program's cycle shows the green in force (links %s);"
            " entered through an intergreen at its phase %d, %g s after the hand-back (with any hold to minimum green)",
            jid,
            program,
            sorted(green),
            entry.phase,
            entry.start_s,
        )
        self._entries[jid] = (t_s, entry)
        self._enter_program(jid, t_s)

    def _enter_program(self, jid: str, t_s: float) -> None:
        """One second of a program entry (program_entry) begun at the hand-back: the state due
        at t_s, or, once its intergreen has run, the program at the entry's phase."""
        begun_s, entry = self._entries[jid]
        since_s = t_s - begun_s
        tl = self.api.trafficlight
        if since_s >= entry.start_s - 1e-9:
            del self._entries[jid]
            tl.setProgram(jid, entry.program)
            tl.setPhase(jid, entry.phase)
            if entry.duration_s is not None:
                tl.setPhaseDuration(jid, entry.duration_s)
            return
        state = next(s for at_s, s in reversed(entry.states) if at_s <= since_s + 1e-9)
        if self._tl_state(jid) != state:
            tl.setRedYellowGreenState(jid, state)


@dataclass(frozen=True)
class ProgramEntry:
    """How a hand-back enters a program none of whose phases shows the green in force
    (program_entry): the signal `states` shown from the hand-back, each from its second
    after it, then from `start_s` after it the `program` at its phase `phase` (SUMO's index),
    for `duration_s` where set (a green that only continues links of the green in force),
    else for the program's own time."""

    program: str
    states: tuple[tuple[float, str], ...]  # (seconds after the hand-back, signal state from then)
    start_s: float
    phase: int
    duration_s: float | None = None


_NOT_GREEN_PHASE = frozenset("yu")  # a phase showing one of these is no green to enter a program at


def _greens(state: str) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(state) if c in GREEN)


def _green_run(
    states: Sequence[str], durations_s: Sequence[float], cycle: Sequence[int], green: frozenset[int]
) -> tuple[int, float] | None:
    """The first of the program's phases in its `cycle` showing exactly the links `green` green
    and no yellow, with those after it showing the same (_run_end): (the last one's index, their
    seconds); None when no phase of the cycle shows it."""
    at = next((i for i, k in enumerate(cycle) if _shows(states[k], green)), None)
    return None if at is None else _run_end(states, durations_s, cycle, at)


def _shows(state: str, green: frozenset[int]) -> bool:
    """The phase shows `green`: exactly those links green, no yellow (a red-yellow 'u' on a link
    about to start does not end the green of the others)."""
    return "y" not in state and _greens(state) == green


def _run_end(states: Sequence[str], durations_s: Sequence[float], cycle: Sequence[int], at: int) -> tuple[int, float]:
    """From position `at` of the cycle, the phases in a row showing its green (a split green
    being one): (the last one's index, their seconds)."""
    green, n, first = _greens(states[cycle[at]]), len(cycle), at
    run_s = durations_s[cycle[at]]
    while (at + 1) % n != first and _shows(states[cycle[(at + 1) % n]], green):
        at = (at + 1) % n
        run_s += durations_s[cycle[at]]
    return cycle[at], run_s


def program_entry(
    j: Intersection,
    phase: int,
    green_s: float,
    program: str,
    states: Sequence[str],
    durations_s: Sequence[float],
    cycle: Sequence[int],
    keep_off: bool = True,
) -> ProgramEntry | None:
    """How a hand-back in `phase` of `j`, green for `green_s` already, enters `program`
    (`states` and `durations_s` of its phases, `cycle` its phases' order) where none of its
    phases shows that green, as a signal cabinet changes stage:
    - the program starts at the green (a run of its phases with one green and no yellow) that
      keeps the most links of the green in force green (the fewest movements cut short; the
      first of equal ones in the cycle): no other green serves more of what the roadside judged
      due when it handed back, and every link it starts is red until the intergreen ends;
    - the green in force is held to its min_green_s, then the links it stops show yellow for
      j.yellow_s, then red for the all-red the model derives for those two greens
      (derived_intergreen_s: j.all_red_s, shorter where the program's clearances allow, longer
      where a crossing it stops keeps its clearance, none when no link starts); a link off ('o',
      'O') in both keeps its letter with `keep_off`
      (config.toml [roadside] keep_off_through_intergreen), as the roadside's intergreens do;
    - a green that starts no link continues those of the green in force: it runs for what is
      left of its program green, at most max_green_s, counted from the roadside's start (as
      _resume_program's), at least 1 s; a green that starts links runs its program time.
    None when the program's cycle shows no green at all (a flashing or dark program)."""
    in_force = j.phases[phase]
    green = in_force.green_links()
    at = _entry_green(states, cycle, green)
    if at is None:
        return None
    target = cycle[at]
    to_green = _greens(states[target])
    stopped = green - to_green
    intergreen_s, all_red_s = derived_intergreen_s(green, to_green, j.yellow_s, j.all_red_s, *j.clearance_pairs)
    hold_s = max(0.0, in_force.min_green_s - green_s) if stopped else 0.0
    shown: list[tuple[float, str]] = [(0.0, in_force.state)] if hold_s > 0 else []
    if stopped:
        shown.append((hold_s, _clearing_state(in_force.state, states[target], "y", keep_off)))
    if stopped and all_red_s > 0:
        shown.append(
            (hold_s + intergreen_s - all_red_s, _clearing_state(in_force.state, states[target], "r", keep_off))
        )
    start_s = hold_s + intergreen_s
    if to_green <= green:  # it only continues links green already: what is left of their green
        last, program_green_s = _run_end(states, durations_s, cycle, at)
        left_s = min(program_green_s, in_force.max_green_s) - green_s - start_s
        return ProgramEntry(program, tuple(shown), start_s, last, max(1.0, left_s))
    return ProgramEntry(program, tuple(shown), start_s, target)


def _entry_green(states: Sequence[str], cycle: Sequence[int], green: frozenset[int]) -> int | None:
    """program_entry's green, as a position in the cycle: the first phase of a run of green
    phases (its predecessor in the cycle shows another green or a yellow) keeping the most of
    `green`, the first of equal ones; None when no phase of the cycle shows a green."""
    n = len(cycle)

    def is_green(k: int) -> bool:
        return not _NOT_GREEN_PHASE.intersection(states[k]) and bool(_greens(states[k]))

    greens = [i for i in range(n) if is_green(cycle[i])]
    if not greens:
        return None
    starts = [
        i for i in greens if not is_green(cycle[i - 1]) or _greens(states[cycle[i - 1]]) != _greens(states[cycle[i]])
    ]
    return max(starts or greens, key=lambda i: len(_greens(states[cycle[i]]) & green))


def _clearing_state(src: str, dst: str, stopped_letter: str, keep_off: bool) -> str:
    """The state of an intergreen from `src` towards `dst`: a link green in both keeps its
    letter, one green in `src` only shows `stopped_letter` ('y' in the yellow, 'r' in the
    all-red), one off in both keeps its letter with `keep_off`, every other link is red."""
    out = []
    for a, b in zip(src, dst, strict=True):
        if a in GREEN:
            out.append(a if b in GREEN else stopped_letter)
        elif a in "oO" and keep_off and b == a:
            out.append(a)
        else:
            out.append("r")
    return "".join(out)


def aggregate_substeps(
    steps: list[tuple[dict[int, dict[str, int]], np.ndarray, np.ndarray]],
) -> tuple[dict[int, dict[str, int]], np.ndarray, np.ndarray]:
    """One second's loop readings from its SUMO steps' (each as SumoField._read_step gives it:
    counts by class of the loops that counted, occupancy 0..1, mean speed m/s or -1): the counts
    summed (a vehicle is counted once, in the step it enters), the occupancy the mean over the
    steps, the speed the mean over the steps with a vehicle on the loop (-1 if none had one)."""
    counted: dict[int, dict[str, int]] = {}
    for step_counts, _, _ in steps:
        for i, counts in step_counts.items():
            into = counted.setdefault(i, {})
            for cls, n in counts.items():
                into[cls] = into.get(cls, 0) + n
    occupancy = np.mean([occ for _, occ, _ in steps], axis=0)
    speeds = np.array([speed for _, _, speed in steps])
    seen = speeds >= 0
    seen_n = seen.sum(axis=0)
    speed_sum = np.where(seen, speeds, 0.0).sum(axis=0)
    speed_mps = np.where(seen_n > 0, speed_sum / np.maximum(seen_n, 1), -1.0)
    return counted, occupancy, speed_mps


def frame_of(
    layout: FrameLayout,
    t_s: float,
    step_s: float,
    counted: Mapping[int, Mapping[str, int]],
    occupancy: np.ndarray,
    speed_mps: np.ndarray,
) -> DetectorFrame:
    """A step's loop readings (SumoField.loop_readings) as the frame of `layout`."""
    counts = np.zeros((len(occupancy), len(VEHICLE_CLASSES)), dtype=np.int64)
    for i, c in counted.items():
        for cls, n in c.items():
            counts[i, _CLASS_COLUMN[cls]] = n
    return DetectorFrame(layout, t_s, step_s, counts, occupancy, speed_mps)

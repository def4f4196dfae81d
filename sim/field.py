"""SUMO as the city's field devices.

Every simulated second it reads each junction's induction loops (counts by vehicle class from
the vehicle's SUMO vClass, one the feed has no class for counted as a car and its vehicle type
named in a warning; occupancy, mean speed) into the detector message of the MQTT
contract, runs one virtual roadside controller per junction (sim/roadside.py) that applies the
controller's plans to SUMO's traffic light, and reports each roadside status. It also keeps the
evaluation's ground truth (vehicles over each junction's stop lines, by class), which never
goes to the controller.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from controller.core.feedarrays import DetectorFrame, FrameLayout
from controller.core.messages import DetectorMessageFormat, encode_body, status_body
from controller.model import GREEN, VEHICLE_CLASSES, Command, Intersection
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
}
# vClasses the feed counts as a car without naming them: car-sized, they differ from `passenger` only
# in the lanes SUMO lets them use (`ignoring` may use any: Bologna's whole demand is of that class).
# Not in FEED_CLASS_OF_VCLASS: the replay's demand (sim/replay_demand.py) keeps its own cars `passenger`.
CAR_SIZED_VCLASSES = frozenset({"ignoring", "hov", "emergency", "authority", "vip"})


_CLASS_COLUMN = {c: k for k, c in enumerate(VEHICLE_CLASSES)}

log = logging.getLogger(__name__)


def vehicle_class(sumo_vclass: str) -> str:
    return FEED_CLASS_OF_VCLASS.get(sumo_vclass, "car")


def write_detector_file(junctions: Mapping[str, Intersection], path: Path, loop_length_m: float) -> Path:
    """The induction loops of the junction TOMLs as a SUMO additional file, each on the SUMO
    lane it sits on (`at_lane`), with its own length when shorter than loop_length_m. The
    city's own loops (`city = true`) are already in the scenario and are left out; a loop shared
    by two junctions is written once."""
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
                period="86400",
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
        self._class_of_type: dict[str, str] = {}
        self._status_sent: dict[str, tuple[tuple, float]] = {}
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
            shown = logic is not None and logic.type != nema
            out[jid] = tuple(ph.state for ph in logic.phases) if shown else ()
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
        JSON objects (messages.status_body) of those whose status changed (phase, mode, plan,
        faults) or was last sent status_every_s ago (status is retained state, not a per-second
        feed)."""
        tl = self.api.trafficlight
        statuses = []
        for jid, rc in self.roadside.items():
            local = rc.mode == "local"
            phase = self._local_phase(jid) if local else None
            spent = (t_s - self._tl_next_switch(jid) + self._tl_phase_duration(jid)) if local else 0.0
            state = rc.tick(t_s, phase, spent)
            if state is None:
                if self._applied[jid] is not None:
                    self._resume_program(jid, rc.green_phase(), rc.status(t_s).time_in_phase_s, t_s)
                    self._applied[jid] = None
            elif state != self._applied[jid]:
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

    def _resume_program(self, jid: str, phase: int | None, green_s: float = 0.0, t_s: float | None = None) -> None:
        """Back to local control at t_s, in the program in force then (_program_in_force; the one
        of the start when t_s is None), continuing the green that is showing (no cut, no
        intergreen skipped) for what is left of it: the program's green (its phases in a row
        showing those greens, a split green being one), at most the phase's max_green_s, less
        the `green_s` the roadside already showed it, at least 1 s. Then the program's own order."""
        tl = self.api.trafficlight
        program = self._program[jid] if t_s is None else self._program_in_force(jid, t_s)
        tl.setProgram(jid, program)
        if phase is None:
            return
        green = self.junctions[jid].phases[phase].green_links()
        logic = next((lg for lg in tl.getAllProgramLogics(jid) if lg.programID == program), None)
        if logic is None:  # SUMO's own 'off', which it builds when switched to
            return

        def shows(ph) -> bool:
            return "y" not in ph.state and frozenset(i for i, c in enumerate(ph.state) if c in GREEN) == green

        # only the phases of the program's cycle: a phase it never comes back to (a lead-in, one
        # kept for another program) would leave the light outside its cycle (sim/netprogram.py)
        cycle = phase_cycle([tuple(ph.next or ()) for ph in logic.phases])
        n = len(cycle)
        for i, k in enumerate(cycle):
            if shows(logic.phases[k]):
                at, program_green_s = i, logic.phases[k].duration
                while (at + 1) % n != i and shows(logic.phases[cycle[(at + 1) % n]]):
                    at = (at + 1) % n
                    program_green_s += logic.phases[cycle[at]].duration
                tl.setPhase(jid, cycle[at])
                max_green_s = self.junctions[jid].phases[phase].max_green_s
                tl.setPhaseDuration(jid, max(1.0, min(program_green_s, max_green_s) - green_s))
                return
        log.warning(
            "junction=%s program=%s: no phase of the program's cycle shows the green in force (links %s);"
            " the program runs on from the phase SUMO holds for it, with no intergreen from that green",
            jid,
            program,
            sorted(green),
        )


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

"""The neutral data model: frozen dataclasses, no behaviour beyond derived views.

Everything the controller knows about a junction comes from an Intersection (loaded from
intersections/<name>/<tls>.toml); everything it knows about traffic comes from Snapshots of
detector readings; everything it knows about the signals comes from SignalStatus reports.
Times are seconds (`*_s`), distances metres (`*_m`), flows PCU per hour (`*_pcu_h`).

Signal states follow SUMO's per-link letters, one character per controlled link:
'G' protected green, 'g' permissive green, 'y' yellow, 'r' red; 'o' flashing yellow (FlashCommand).
A network's own program may switch a link off ('o') in a stage: its drivers yield as at an
unsignalled junction (a left turn between the oncoming platoons, protected 'G' in a stage of its
own). Such a link is no green for any safety rule (green_links, served_movements, the intergreens);
it serves its vehicles permissively (Phase.served_links), for the estimate, the policies and the
do-no-harm replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal, NamedTuple

GREEN = frozenset("Gg")
OFF_YIELD = "o"  # SUMO's "off, blinking": the signal is off, drivers yield (not 'O': off, right of way)
VEHICLE_CLASSES = ("car", "bus", "truck", "motorcycle", "bicycle")

Mode = Literal["local", "adaptive", "manual"]  # a roadside controller's mode, as its status reports it
MODES: tuple[Mode, ...] = ("local", "adaptive", "manual")
# The service's view of a junction (metrics, operators): adaptive (the roadside runs our plans),
# fallback (it runs its local plan: it says so, or its feed is stale), manual (an operator holds
# it), fixed (do no harm withdrew our plans; core/harm.py).
JunctionMode = Literal["adaptive", "fallback", "manual", "fixed"]
JUNCTION_MODES: tuple[JunctionMode, ...] = ("adaptive", "fallback", "manual", "fixed")
Turn = Literal["left", "through", "right", "uturn"]  # a movement's turn
TURNS: tuple[Turn, ...] = ("left", "through", "right", "uturn")
LoopKind = Literal["stop", "advance"]  # a loop at the stop line, or one upstream of it
LOOP_KINDS: tuple[LoopKind, ...] = ("stop", "advance")


@dataclass(frozen=True)
class Detector:
    """An induction loop measuring for one incoming lane of the junction (`lane`).

    It may sit upstream of that lane, on a lane that alone feeds it (`at_lane`, the SUMO lane
    it is on; the junction lane itself by default). `pos_m` is from the start of `at_lane`
    (SUMO's pos); `dist_to_stop_m` is how far upstream of the stop line it sits, along the path.
    `length_m` is None for the configured loop length ([detectors] loop_length_m), shorter on a
    lane too short for it. `city` marks the city's own loop, already in the scenario's files:
    it is read by its id, never written again. `at_entry`: vehicles enter the network on
    `at_lane` (nothing feeds it): a queue past the loop stands in the network's entry, not
    across a junction. `room_m` (advance loops): metres of the approach's own road upstream
    of the loop, from the loop back to the first node where other streams merge or cross, where
    that road goes on past the start of `at_lane` (an edge split, a lane added, a pocket's start:
    the importer's sim/loops.py `own_road_m`); None: `pos_m`, the loop's lane's start.
    `room_to_turn_off_pcu` (advance loops not at an entry): the PCU the road past that node stores
    while it still leads only into the approach's road, before a lane that also turns off it (a
    queue past the room holds only this junction's traffic until it is longer than that); 0 where a
    lane feeding the road there also turns off it; None: not known (a model imported without it)
    (sim/loops.py `room_to_turn_off_m`). `room_from_light` (advance loops): that road starts at a
    signalised node (sim/loops.py `own_road_from_light`): a queue standing back past the room stands
    on that light's approaches, held at its stop line and counted by its loops. `shared_by` (advance
    loops): the loop sits upstream of a split, on a lane that feeds this many lanes of the approach
    (one such row per lane, each with its own id at the same place: sim/loops.py `advance_past_split`);
    the estimator counts for `lane` its share of the lanes' departures over their stop-line loops
    (1 / shared_by while they have counted none, as a lane several movements use is shared), and
    1 / shared_by of the road from the loop to the stop line."""

    id: str
    lane: str
    kind: LoopKind
    pos_m: float
    dist_to_stop_m: float
    at_lane: str = ""
    length_m: float | None = None
    city: bool = False
    at_entry: bool = False
    room_m: float | None = None
    room_to_turn_off_pcu: float | None = None
    room_from_light: bool = False
    shared_by: int = 1

    def __post_init__(self) -> None:
        if not self.at_lane:
            object.__setattr__(self, "at_lane", self.lane)


@dataclass(frozen=True)
class Movement:
    """Vehicles from one approach making one turn, and the signal links that serve them."""

    id: str
    approach: str  # compass point the vehicles come from: N, E, S, W (NE, ... on odd angles)
    turn: Turn
    from_edge: str
    lanes: tuple[str, ...]
    links: tuple[int, ...]
    sat_flow_pcu_h: float  # whole movement, all its lanes
    storage_pcu: float  # how many PCU fit between the stop line and the advance detector(s)
    conflicts: tuple[str, ...]  # movement ids that must never be green together with this one
    to_edge: str = ""  # the edge its links lead to ("" when unknown or several)
    # where to_edge ends at an unsignalised node: the next light's approach the exit leads to over
    # unsignalised edges, the PCU the whole chain stores (exit edge to that approach's stop line), and
    # the streams joining and leaving it on the way (sim/netlinks.py); "" / 0 otherwise
    reach_edge: str = ""
    reach_storage_pcu: float = 0.0
    reach_merges: int = 0
    reach_diverges: int = 0
    # the movements some link of this one gives way to by the network's own right of way (import-net: SUMO's
    # <request response> of the junction); None when not known (a file without the field)
    yields_to: tuple[str, ...] | None = None
    # its lanes are open to buses and closed to passenger cars (import-net with [timing] bus_lane_movements): the
    # stream a turn that gives way to it crosses is a bus service's, not a car lane's
    bus_lane: bool = False
    # seconds a cyclist takes through the junction on the longest path of this movement's links its lanes let
    # bicycles take (the internal lanes' length / [timing] cyclist_speed_mps, import-net); 0: not known, or no
    # bicycle may take it. [timing] cyclist_clearance (core/safety.py cyclist_all_red_s) reads it
    cyclist_clear_s: float = 0.0


PED_PREFIX = "ped"  # a pedestrian crossing's movement id: this and its link index (crossing_movement)


def crossing_movement(link: int) -> Movement:
    """A signalised pedestrian crossing as a movement ([timing] crossings_max_red; the junction
    file's `crossings`): its one link, no lane, no detector, no conflict listed (the phases keep it
    apart from the vehicles). Kept in `Intersection.crossings`, never among its `movements`: only
    the rules of a movement's maximum red read it (Intersection.red_bounded). It carries no
    vehicle: a flow of one PCU an hour and one PCU of storage keep every sum over it finite."""
    return Movement(
        id=f"{PED_PREFIX}{link}",
        approach="",
        turn="through",
        from_edge="",
        lanes=(),
        links=(link,),
        sat_flow_pcu_h=1.0,
        storage_pcu=1.0,
        conflicts=(),
    )


@dataclass(frozen=True)
class Phase:
    """A green stage: which links are green. Intergreens are derived, never listed."""

    index: int
    state: str
    min_green_s: float
    max_green_s: float
    base_green_s: float  # with the derived intergreens, the timeline of the network's own program (docs/import.md)
    ped_min_green_s: float = 0.0  # walk + crossing clearance of the crossings it greens

    @cached_property
    def _green(self) -> frozenset[int]:
        return frozenset(i for i, c in enumerate(self.state) if c in GREEN)

    def green_links(self) -> frozenset[int]:
        return self._green

    @cached_property
    def _off_yield(self) -> frozenset[int]:
        """Links switched off in the stage ('o'): their vehicles yield to the green streams."""
        return frozenset(i for i, c in enumerate(self.state) if c == OFF_YIELD)

    def off_yield_links(self) -> frozenset[int]:
        return self._off_yield

    def served_links(self, off_is_permitted: bool) -> frozenset[int]:
        """Links whose vehicles may leave in the stage: the green ones, and with
        `off_is_permitted` those switched off ('o'), which discharge through the gaps as on a
        permissive green ('g'). For the estimate, the policies and the do-no-harm replay only;
        every safety rule reads green_links()."""
        return self._green | self._off_yield if off_is_permitted else self._green


def derived_intergreen_s(
    from_green: frozenset[int],
    to_green: frozenset[int],
    yellow_s: float,
    all_red_s: float,
    clearance_s: Mapping[tuple[int, int], float] | None = None,
    held_s: Mapping[tuple[int, int], float] | None = None,
) -> tuple[float, float]:
    """(intergreen_s, all_red_s) between two green link sets: yellow for any link that goes from
    green to red, then all-red when a link that was red turns green; 0 when no link loses its
    green. The rule of Intersection.intergreen_s, for the importer too.

    clearance_s: per ordered pair of links (i, j), the time from the end of i's green to the
    start of j's green that the junction's own program keeps (its intergreen matrix); the
    all-red is the longest such time less the yellow over the links stopped and started, and a
    pair not listed needs yellow_s + all_red_s (the junction's longest).

    held_s: per ordered pair of links (i, j), a time from the end of i's green to the start of j's that the
    program keeps longer than yellow_s + all_red_s: a pedestrian crossing's clearance (crossing_pairs_s) and the
    intergreen of two conflicting vehicle links (Intersection.pair_intergreen_s, docs/import.md rule 5); a change
    that stops i and starts j runs at least the longest of them, the rest after the yellow as all-red."""
    stopped, started = from_green - to_green, to_green - from_green
    all_red = all_red_s if started else 0.0
    if clearance_s and stopped and started:
        whole_s = yellow_s + all_red_s
        need_s = max(clearance_s.get((i, k), whole_s) for i in stopped for k in started)
        all_red = min(all_red_s, max(0.0, need_s - yellow_s))
    if held_s and stopped and started:
        longest_s = max(held_s.get((i, k), 0.0) for i in stopped for k in started)
        all_red = max(all_red, longest_s - yellow_s)
    return (yellow_s + all_red if stopped else 0.0, all_red)


def stops_crossings_only(from_green: frozenset[int], to_green: frozenset[int], crossing_links: frozenset[int]) -> bool:
    """A change that stops only links of `crossing_links` (pedestrian crossings: no yellow in SUMO) and starts
    none: the crossings go red at once, the vehicle links keep their green (the city's program's change into its
    crossing-red part), so it has no intergreen. The walkers' clearance after it is that stage's minimum green and
    the change out of it (docs/import.md rule 7)."""
    stopped = from_green - to_green
    return bool(stopped) and stopped <= crossing_links and not to_green - from_green


def crossing_pairs_s(
    greens: Sequence[frozenset[int]], clearance_s: Iterable[tuple[int, float]]
) -> dict[tuple[int, int], float]:
    """A pedestrian crossing's clearance (crossing link, seconds) as derived_intergreen_s reads it: for each link
    that no stage of `greens` (the green link sets of a junction's stages) shows green with the crossing, the pair
    (crossing, link) and the crossing's seconds. The walkers who started on its green are still on the road
    until then; a link ever green with the crossing is the program's to run beside them (docs/import.md rule 7)."""
    out: dict[tuple[int, int], float] = {}
    every = frozenset().union(*greens) if greens else frozenset()
    for i, s in clearance_s:
        beside = frozenset().union(*(g for g in greens if i in g))
        for k in sorted(every - beside):
            out[(i, k)] = s
    return out


@dataclass(frozen=True)
class Transition:
    """The city's program's own change from one stage to another (docs/import.md, rule 11): its
    signal states (SUMO's letters, one per link), each shown for its seconds, from the end of
    `from_phase`'s green to the start of `to_phase`'s. The roadside runs it instead of the
    derived yellow and all-red, and it is the intergreen of that change for every rule."""

    from_phase: int
    to_phase: int
    states: tuple[str, ...]
    durations_s: tuple[float, ...]

    @cached_property
    def total_s(self) -> float:
        return sum(self.durations_s)

    def state_at(self, elapsed_s: float) -> str:
        """The state shown `elapsed_s` after the transition began (the last one past its end)."""
        t = 0.0
        for state, d in zip(self.states, self.durations_s):
            t += d
            if elapsed_s < t - 1e-9:
                return state
        return self.states[-1]


@dataclass(frozen=True)
class ProgramTiming:
    """Another program the light may run (a `<WAUT>` of the city's files puts it in force during a run;
    docs/import.md, "Time-of-day programs"): its longest yellow and longest all-red, as the import reads
    them (sim/netprogram.py stage_plan). The junction's intergreens cover it: the loader refuses a
    change between two phases shorter than this program's (derived_intergreen_s with these two)."""

    program_id: str
    yellow_s: float
    all_red_s: float
    # the program's base green per phase of the junction (its stages show the phases' green links, in the same cyclic
    # order) and where phase 0's green starts in its cycle, as base_green_s / base_offset_s are the static program's;
    # () where its stages are not the junction's: do-no-harm replays the static program while it is in force
    greens_s: tuple[float, ...] = ()
    offset_s: float = 0.0


@dataclass(frozen=True)
class Intersection:
    id: str
    n_links: int
    movements: tuple[Movement, ...]
    phases: tuple[Phase, ...]
    detectors: tuple[Detector, ...]
    yellow_s: float
    all_red_s: float
    cycle_min_s: float
    cycle_max_s: float
    max_red_s: float
    base_offset_s: float
    upstream: tuple[str, ...] = ()
    downstream: tuple[str, ...] = ()
    # traffic lights joined to this one by a road shorter than one vehicle (sim/netneighbours.py):
    # a queue at one's stop line stands inside the other; they may not be imported
    coupled: tuple[str, ...] = ()
    # with [detectors] pair_one_program: the light joined to this one by a link shorter than what
    # one minimum green sends, whose program runs the same timeline (controller/core/pairs.py)
    paired: tuple[str, ...] = ()
    source: str = ""  # the file it was loaded from, for error messages
    # the program's intergreen matrix where shorter than yellow_s + all_red_s: (from link, to
    # link, seconds from the end of the first's green to the start of the second's); see
    # derived_intergreen_s
    clearance_s: tuple[tuple[int, int, float], ...] = ()
    # a pedestrian crossing's clearance where the program keeps it longer than yellow_s + all_red_s: (crossing
    # link, seconds from the end of its green to the next start of a link it is never green with); see
    # crossing_pairs_s
    crossing_clearance_s: tuple[tuple[int, float], ...] = ()
    # the program's intergreen of a pair of conflicting vehicle links where longer than yellow_s + all_red_s (or
    # than clearance_s's): (link stopped, link started, seconds from the end of the first's green to the start of
    # the second's); a change that stops the first and starts the second runs at least that (derived_intergreen_s)
    pair_intergreen_s: tuple[tuple[int, int, float], ...] = ()
    # the city's program as the roadside reports it, from base_offset_s: (phase index or -1 in a
    # transition, seconds) per segment; () where the base program runs it already (sim/netprogram.py
    # roadside_timeline). The do-no-harm replay's fixed side runs it with [harm] program_timeline
    program_timeline: tuple[tuple[int, float], ...] = ()
    # the program's own transitions between stages ([timing] program_transitions): a change with
    # one runs its states, and its intergreen is their length; other changes keep the derived one
    transitions: tuple[Transition, ...] = ()
    # the city's program is vehicle-actuated (SUMO's actuated, delay_based, NEMA or a self-organising one: it ends a
    # green at a gap): with [webster] / [scats] keep_actuated that policy leaves the light on it
    actuated: bool = False
    # [timing] crossings_max_red: the signalised pedestrian crossings (crossing_movement), apart from `movements`:
    # read by the rules of a movement's maximum red alone (red_bounded); () without the key
    crossings: tuple[Movement, ...] = ()
    # the other programs the light may run (a WAUT switches it): the intergreens above cover each
    programs: tuple[ProgramTiming, ...] = ()
    # the junction file's `crossing_links`: pedestrian crossings' links, which show no yellow (SUMO's go from green
    # to red); a change that stops only those and starts nothing is immediate (stops_crossings_only)
    crossing_links: frozenset[int] = frozenset()
    # the id of the program modelled (SUMO's programID), written where `programs` lists others: a status naming
    # neither it nor one of `programs` is not the light's ([harm] follow_program_in_force ignores it); "": not given
    program_id: str = ""

    @cached_property
    def red_bounded(self) -> Intersection:
        """The model every rule of a movement's maximum red reads (the gate's, the roadside's re-check, the
        loader's): its `movements` and then its `crossings` as movements of one model; itself without crossings.
        Nothing else reads the crossings: the policies, the estimate, do-no-harm and the metrics see the vehicle
        movements alone, so a plan that never keeps a crossing red past max_red_s is the same with or without."""
        if not self.crossings:
            return self
        return replace(self, movements=self.movements + self.crossings, crossings=())

    @cached_property
    def _by_id(self) -> dict[str, Movement]:
        return {m.id: m for m in reversed(self.movements)}  # reversed: the first of a repeated id wins

    def movement(self, movement_id: str) -> Movement:
        return self._by_id[movement_id]  # KeyError(movement_id) when there is none

    @cached_property
    def detector_ids(self) -> frozenset[str]:
        return frozenset(d.id for d in self.detectors)

    @cached_property
    def _served(self) -> tuple[tuple[str, ...], ...]:
        out = []
        for p in self.phases:
            green = p.green_links()
            out.append(tuple(m.id for m in self.movements if green.intersection(m.links)))
        return tuple(out)

    def served_movements(self, phase_index: int) -> tuple[str, ...]:
        """Movements with at least one green link in the phase."""
        return self._served[phase_index]

    def conflicting_greens(self, phase_index: int) -> tuple[str, str] | None:
        """The first pair of movements the phase greens together although one lists the other
        in its `conflicts` (in the order of served_movements), None when there is none."""
        return self._conflicting[phase_index]

    @cached_property
    def _conflicting(self) -> tuple[tuple[str, str] | None, ...]:
        return tuple(self._first_conflict(self._served[k]) for k in range(len(self.phases)))

    def _first_conflict(self, served: tuple[str, ...]) -> tuple[str, str] | None:
        for i, a in enumerate(served):
            conflicts = self.movement(a).conflicts
            for b in served[i + 1 :]:
                if b in conflicts:
                    return a, b
        return None

    @cached_property
    def _intergreens(self) -> tuple[tuple[tuple[float, float], ...], ...]:
        """(intergreen_s, all_red_s) for every ordered pair of phases, computed once."""
        greens = [p.green_links() for p in self.phases]
        pairs, walkers = self.clearance_pairs
        y, r = self.yellow_s, self.all_red_s
        own = {(t.from_phase, t.to_phase): t.total_s for t in self.transitions}
        return tuple(
            tuple(
                (own[(ia, ib)], max(0.0, own[(ia, ib)] - y))
                if (ia, ib) in own
                else (0.0, 0.0)
                if stops_crossings_only(a, b, self.crossing_links)
                else derived_intergreen_s(a, b, y, r, pairs, walkers)
                for ib, b in enumerate(greens)
            )
            for ia, a in enumerate(greens)
        )

    @cached_property
    def clearance_pairs(self) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], float]]:
        """`clearance_s`, and `crossing_clearance_s` with `pair_intergreen_s`, by pair of links, as
        derived_intergreen_s reads them (its `clearance_s` and `held_s`)."""
        held = crossing_pairs_s([p.green_links() for p in self.phases], self.crossing_clearance_s)
        for i, k, s in self.pair_intergreen_s:
            held[(i, k)] = max(s, held.get((i, k), 0.0))
        return ({(i, k): s for i, k, s in self.clearance_s}, held)

    @cached_property
    def _transition_of(self) -> dict[tuple[int, int], Transition]:
        return {(t.from_phase, t.to_phase): t for t in self.transitions}

    def transition(self, from_phase: int, to_phase: int) -> Transition | None:
        """The program's own transition for this change, None when the model derives it."""
        return self._transition_of.get((from_phase, to_phase))

    @cached_property
    def longest_transition_s(self) -> float:
        """The longest of the program's own transitions (0 without any)."""
        return max((t.total_s for t in self.transitions), default=0.0)

    def intergreen_s(self, from_phase: int, to_phase: int) -> float:
        """Yellow for any link that goes from green to red, then all-red when a link that was
        red turns green; 0 when no link loses its green (and between a phase and itself). A
        change with a program transition (`transitions`) takes that transition's length.

        Derived from the link states of the two phases, not from the program's order, so an
        acyclic policy may jump between any pair of phases."""
        return self._intergreens[from_phase][to_phase][0]

    def all_red_between_s(self, from_phase: int, to_phase: int) -> float:
        """All-red is needed only when a new link starts (it may conflict with one just stopped).
        A program transition: its length less yellow_s (the roadside runs its states instead)."""
        return self._intergreens[from_phase][to_phase][1]

    def cycle_intergreens_s(self) -> tuple[float, ...]:
        """The intergreen after each phase when the phases run in index order (s): phase k to k + 1,
        the last to the first."""
        n = len(self.phases)
        return tuple(self.intergreen_s(i, (i + 1) % n) for i in range(n))

    def base_cycle_s(self) -> float:
        """The city's program's cycle (s): every phase at its program green, with `cycle_intergreens_s`."""
        return sum(p.base_green_s for p in self.phases) + sum(self.cycle_intergreens_s())

    def min_cycle_s(self) -> float:
        """The shortest cycle a cyclic policy can run (s): every phase in index order at its minimum green,
        with `cycle_intergreens_s`."""
        return sum(p.min_green_s for p in self.phases) + sum(self.cycle_intergreens_s())


class DetectorReading(NamedTuple):
    """One loop's reading for one period. A NamedTuple rather than a frozen dataclass: the
    feed builds hundreds per second and tuple construction is several times cheaper."""

    detector: str
    counts: tuple[tuple[str, int], ...]  # (vehicle class, vehicles that entered in the period)
    occupancy: float  # 0..1 share of the period the loop was covered
    speed_mps: float  # mean speed of vehicles over it; -1 when none


@dataclass(frozen=True)
class Snapshot:
    """One junction's detector message, validated."""

    junction: str
    t_s: float
    period_s: float
    readings: tuple[DetectorReading, ...]


@dataclass(frozen=True)
class SignalStatus:
    """What a roadside controller reports about itself."""

    junction: str
    t_s: float
    phase: int  # the green phase in force, or the one being changed to during an intergreen
    in_intergreen: bool
    time_in_phase_s: float
    plan_id: str
    seq: int
    mode: Mode
    faults: tuple[str, ...] = ()
    # the city's program in force at the light (the id SUMO's file gives it), where the roadside knows it ("": not
    # reported): a WAUT switches it by the time of day; [harm] follow_program_in_force replays it
    program: str = ""


@dataclass(frozen=True)
class CyclePlan:
    """A fixed-time plan for the roadside controller to run until it expires."""

    junction: str
    plan_id: str
    seq: int
    phase_order: tuple[int, ...]
    greens_s: tuple[float, ...]  # one per entry of phase_order
    cycle_s: float
    offset_s: float
    valid_from_s: float
    expires_s: float


@dataclass(frozen=True)
class PhaseCommand:
    """Acyclic control: be in (or change to) `phase` and hold it for at least `hold_s`. `all_red_s` > 0: a
    change to `phase` shows at least that much all-red before its green (the gate's cyclist clearance,
    core/safety.py cyclist_all_red_s); 0: the junction's own."""

    junction: str
    plan_id: str
    seq: int
    phase: int
    hold_s: float
    valid_from_s: float
    expires_s: float
    all_red_s: float = 0.0


@dataclass(frozen=True)
class FlashCommand:
    """Flashing operation (an operator's `ctl override J --flash`): every link shows flashing
    yellow, SUMO's 'o' (drivers yield as at an unsignalled junction), until the command expires
    or another plan supersedes it. The roadside enters it from a green after that green's
    minimum, through its yellow and all-red, and leaves it through an all-red into a green stage
    (controller/roadside_agent.py)."""

    junction: str
    plan_id: str
    seq: int
    valid_from_s: float
    expires_s: float


Command = CyclePlan | PhaseCommand | FlashCommand


@dataclass(frozen=True)
class CycleWish:
    """A policy's proposal for a cycle plan; only the safety gate makes it a CyclePlan."""

    phase_order: tuple[int, ...]
    greens_s: tuple[float, ...]
    offset_s: float = 0.0


@dataclass(frozen=True)
class PhaseWish:
    """A policy's proposal for the next green phase (acyclic control)."""

    phase: int
    hold_s: float = 1.0


Wish = CycleWish | PhaseWish


@dataclass(frozen=True)
class Refusal:
    junction: str
    reason: str

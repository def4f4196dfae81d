"""Traffic state per movement, from detector readings only (numpy, pure).

What the controller can know of the traffic is what two induction loops per incoming lane say
every second: a stop-line loop and an advance loop `dist_to_stop_m` upstream, each with counts
by vehicle class, occupancy (share of the period covered) and mean speed. From those, per lane
and then per movement:

- **arrival flow** (PCU/h): exponentially averaged counts at the advance loop (class weights
  from config.toml [pcu]). While the advance loop is blocked by a standing queue its counts say
  nothing of demand, so the average is held; with the advance loop faulty the stop-line counts
  stand in (over a long window departures equal arrivals). With `flow_mean_observed` (off by
  default) it is the mean of the periods observed so far until the average's window has passed a
  few times (the EWMA from zero counts the periods before the first as empty).
- **queue** (PCU): input-output counting between the advance and the stop-line loop (arrivals
  in, departures out), bounded by the lane storage between the two loops, and corrected by
  occupancy where counting drifts:
  * the stop-line loop empty for `clear_gap_s` (no vehicle over it, green or red) means no
    queue stands at the stop line: the count is cut to the vehicles still in transit, those
    the advance loop counted within the last zone-length / advance-speed seconds (its own
    counts, kept for `TRANSIT_HISTORY_TICKS`; not an average flow, which would drop platoons);
  * a standing vehicle on the stop-line loop means at least one PCU waits;
  * the advance loop standing (occupied, slow) for `standing_s` means the queue reaches it:
    the storage is full, and vehicles that arrive meanwhile join a *hidden* queue upstream of
    the advance loop, estimated from the held arrival flow and drained by the vehicles that
    later cross the advance loop (bounded by `max_hidden_queue_pcu_lane`).
  * with `hidden_queue_balance` (off by default) the hidden queue is a balance of counts: once
    the advance loop has stood, every period in which it holds vehicles back (the advance loop
    stands, or stood the period before: stop-and-go over it keeps it growing when fewer cross
    than arrive) adds the held arrival flow and takes away what crossed the advance loop; over a
    loop that runs free it only drains, by every crossing, until it is gone (else a lane without
    a stop-line loop would keep it for good once the demand falls below the flow held); the
    arrival flow is learnt only while no hidden queue stands (the counts over the loop are then
    its discharge at up to the saturation flow, not the demand); and an empty stop-line loop
    clears it only while the advance loop is not standing.
  * with `hidden_clear_gap` (off by default) the hidden queue is gone once, in the lane's green,
    the advance loop has counted a vehicle (the queue over it moved) and then no count for
    `clear_gap_s`, and nobody is over it now (its occupancy this period is 0): a queue
    discharging over a loop leaves no gap that long, as an empty stop-line loop says the same
    of the zone between the loops.
  * with `hidden_room_at_light` (off by default) the hidden queue of a lane whose advance loop's
    own road starts at a signalised node (`Detector.room_from_light`) is at most what that road
    stores upstream of the loop (`Layout.lane_hidden_cap_pcu`: its room / the jam spacing): past
    it the queue stands on that light's approaches, held at its stop line, counted by its loops.
    On a 12 m link whose advance loop sits at its start the cap is 0.
  * with `hidden_clear_at_advance` (off by default), where the advance loop works, an empty
    stop-line loop clears only the queue between the loops: the hidden queue is gone at a gap
    over the advance loop after the queue over it moved in the lane's green (as
    `hidden_clear_gap` reads it), or once the stop-line loop has been empty and the advance loop
    has counted nobody for `TRANSIT_HISTORY_TICKS` periods. The head of a queue past the
    advance loop may be held behind it (merging into the lane at a node upstream of the loop,
    starting up) while the zone between the loops empties.
- **saturation flow** (PCU/h): learnt online from stop-line discharge during saturated green
  (lane green past the start-up loss, a queue of at least `sat_min_queue_pcu`, head vehicle
  not standing). Discharge counts and seconds are summed with forgetting (`sat_window_s`) and
  shrunk toward the junction model's prior with `sat_prior_weight_s` pseudo-seconds, then
  bounded to [`sat_min_ratio`, `sat_max_ratio`] x prior (HCM: 1/mean saturation headway).
- **exit blockage** (0..1): the share of the recent green, with a queue, during which the
  head vehicle stood on the stop-line loop: the signature of spill-back from downstream (or of
  a permitted turn waiting for gaps). Policies discount a movement's service by it.
- **detector faults**, per loop: *stuck-on* (occupancy ~1 and no count for `stuck_on_s`; with
  `stuck_on_needs_traffic`, only while the paired loop counted vehicles that must have crossed
  it: _stuck_on_with_traffic),
  *stuck-off* (no count and no occupancy for `stuck_off_s` while the paired loop on the same
  lane, or the junction's other loops on average, counted `stuck_off_ref_veh` vehicles),
  *implausible* (more vehicles in a period than `max_lane_flow_veh_h` allows, repeatedly), and
  *missing* (absent from the messages for `stuck_off_s`). A faulty loop is ignored; the lane
  degrades gracefully: without the advance loop, arrivals come from the averaged departures
  (else the held flow) into one modelled queue, still corrected by the stop-line loop (empty:
  no queue; standing vehicle: at least one PCU); without the stop-line loop, departures from
  the learnt saturation flow while green. Faults clear by themselves once the loop reads
  plausibly again.
- **lanes without a working loop** (none in the model, or all faulty) are flagged `blind` and
  borrow from nearby: the mean per-lane flow, queue, arrivals and departures of the measured
  lanes of the same movement, else of the same approach edge; with nothing measured there, a
  lane with no loop at all takes the mean per-lane demand of the junction's measured lanes
  into a modelled queue (a prior, so that it is not read as empty for ever); a lane whose loops
  failed keeps its own held flow. A junction with no loop has no estimate (all `blind`).
  docs/import.md measures how the estimate degrades.

Counts on a lane shared by several movements are split equally between them: loops cannot tell
turning intentions apart. Everything here is deterministic: the same messages give the same
estimate, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from controller.core.cuts import Cut
from controller.model import VEHICLE_CLASSES, Intersection, Snapshot


class _ClipProbe(np.ndarray):
    """An array that, handed to np.clip, returns the ufunc np.clip applies to it (NumPy's public
    `__array_ufunc__` protocol, NEP 13) instead of applying it."""

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: object, **kwargs: object) -> object:
        return ufunc if method == "__call__" else NotImplemented


def _clip_ufunc() -> Callable[..., np.ndarray]:
    """The ufunc np.clip applies (asked of np.clip itself, _ClipProbe), else np.clip: np.clip reaches
    it through a Python wrapper (numpy/_core/_methods.py) that costs about three times the clip of a
    network's lanes; the same ufunc on the same arguments, the same floats. No private name is read."""
    found = np.clip(np.zeros(1).view(_ClipProbe), 0.0, 1.0)
    return found if isinstance(found, np.ufunc) else np.clip


_clip = _clip_ufunc()

_T = TypeVar("_T")

if TYPE_CHECKING:
    from controller.core.params import LayoutConfig

FULL_OCCUPANCY = 0.99  # a loop covered for the whole period (stuck-on test)
DEFAULT_TRANSIT_SPEED_MPS = 10.0  # when the advance loop has not measured a speed yet
DEFAULT_VEHICLE_SPACING_M = 7.5  # jam spacing of one PCU without a configuration ([detectors] default)
TRANSIT_HISTORY_TICKS = 60  # advance-loop counts kept per lane: the longest transit between the loops


@dataclass(frozen=True)
class EstimationParams:
    """Parameters of the estimator and of the learnt coupling between neighbours: config.toml
    [estimation], read and validated by controller/config.py. The module doc explains each."""

    flow_window_s: float = 300.0
    clear_gap_s: float = 3.0
    standing_occupancy: float = 0.9
    standing_speed_mps: float = 1.0
    standing_s: float = 3.0
    startup_lost_s: float = 3.0
    sat_window_s: float = 1800.0
    sat_prior_weight_s: float = 60.0
    sat_min_ratio: float = 0.6
    sat_max_ratio: float = 1.25
    sat_min_queue_pcu: float = 2.0
    max_hidden_queue_pcu_lane: float = 40.0
    block_window_s: float = 30.0
    stuck_on_s: float = 300.0
    stuck_on_needs_traffic: bool = False
    stuck_off_s: float = 900.0
    stuck_off_ref_veh: float = 15.0
    max_lane_flow_veh_h: float = 3600.0
    implausible_window_s: float = 300.0
    implausible_limit: float = 3.0
    # learnt coupling between neighbours (LinkLayout)
    link_max_travel_s: float = 90.0
    link_window_s: float = 1800.0
    link_min_corr: float = 0.15
    link_min_samples_s: float = 600.0
    link_remap_s: float = 60.0
    # a link switched off in a stage ('o': its drivers yield) serves its movement permitted there,
    # as 'g' does (Layout.serves); False: it serves nothing (the model before session 14)
    off_is_permitted: bool = False
    # a permitted movement's share of its saturation flow from the flow it gives way to, as the loops measure it
    # (policies/gap_acceptance.py: HCM 2010 ch. 31 permitted left, Harders / Siegloch); False: the policies'
    # constant permitted_sat_ratio
    permitted_gap_acceptance: bool = False
    # a movement a stage greens 'g' that gives way only to bus lanes' movements (Movement.bus_lane, written by
    # import-net with [timing] bus_lane_movements) is served protected there: it filters through a bus service's
    # stream, not a car lane's queue (_yields_to_buses_only); False: permitted, as every 'g'
    bus_lane_unopposed: bool = False
    permitted_critical_gap_s: float = 4.5  # t_c: the least gap in the opposing stream a driver takes (HCM: 4.5 s)
    permitted_follow_up_s: float = 2.5  # t_f: between two drivers taking one long gap (HCM: 2.5 s)
    # don't block the box: a movement whose exit lanes the next light's loops see full to their entry
    # has that share of its queue and flow seen as not servable by the policies (core/keepclear.py)
    keep_clear: bool = False
    # no green into a lane of a short link (storing less than a minimum green sends) with no room for
    # a whole vehicle left by the queue counted on it while the light at its end gives it no protected
    # green: that share of the movements into it seen as not servable (core/keepclear.py ShortLinks)
    short_link_room: bool = False
    # no green into a road shorter than one vehicle (`coupled`) while the light at its end is red to
    # every movement leaving it; the queue waiting for it counts at that light, which keeps the road
    # open while a queue is sent into it (core/coupledexit.py)
    coupled_exit_red: bool = True
    # with coupled_exit_red: the road counts as open only while that light serves every movement
    # leaving it (as many as its stages serve at once, if none serves all): the road stores nothing,
    # the first vehicle for a movement held red stops in the box upstream; False: open while it
    # serves any of them
    coupled_exit_all: bool = True
    # the queue upstream of the advance loop as a balance of counts (module doc, _queue): once the
    # advance loop has stood it grows by the held arrival flow every period the loop holds vehicles
    # back (stands, or stood the period before) and drains by the vehicles over the advance loop
    # until gone; the arrival flow is learnt only while no hidden queue stands (not from its
    # discharge over the advance loop). False: it grows only while the
    # advance loop stands, and the flow is learnt whenever the advance loop moves
    hidden_queue_balance: bool = False
    # the queue upstream of the advance loop is gone once, in the lane's green, the advance loop has
    # counted a vehicle and then nothing for clear_gap_s (_advance_gap): the queue discharged over it.
    # False: it drains only by the vehicles counted over the advance loop, or with an empty stop-line loop
    hidden_clear_gap: bool = False
    # the arrival flow is the mean of the periods observed so far (_mean_observed): each period the advance
    # loop counts freely steps the average by alpha / (the weight the average has given observed periods,
    # 1 - (1 - alpha)^n after n), and once flow_window_s has passed a few times it is the EWMA itself.
    # False: the EWMA starts from zero, as if every period before the first had been counted empty (300 s
    # in, a lane's flow is 63 % of its demand)
    flow_mean_observed: bool = False
    # a lane whose advance loop's own road starts at a signalised node (Detector.room_from_light) holds no more
    # queue upstream of that loop than the road stores there (Layout.lane_hidden_cap_pcu): the rest stands on
    # that light's approaches, held at its stop line and counted by its loops. False: up to
    # max_hidden_queue_pcu_lane on every lane
    hidden_room_at_light: bool = False
    # where the advance loop works, an empty stop-line loop (clear_gap_s) clears the queue between the loops only, not
    # the queue past the advance loop (_cleared_at_advance): that one is gone at a gap over the advance loop after the
    # queue over it moved in the lane's green (_advance_gap), or once the stop-line loop has been empty and the
    # advance loop has counted nobody for TRANSIT_HISTORY_TICKS periods. False: the empty stop-line loop clears both
    hidden_clear_at_advance: bool = False
    # a lane capped so (lane_hidden_cap_pcu) whose queue fills its room back to the light (the advance loop
    # stood standing_s, the hidden queue at the room): the queue that light's loops count on its movements into
    # the lane's edge is added to the movements draining the lane, for the policy's decision only, less what the
    # hidden queue counts past the room (core/lightqueue.py). False: the light's queue is weighed there alone
    queue_past_room_at_light: bool = False
    # an approach whose stop-line loops count more than its advance loops, beyond what the lanes store between
    # them, has a source the advance loops do not see (_advance_undercount): "off"; "blind": its advance loops
    # are taken as not counting arrivals (as a lane without one); "scale": their counts are scaled by the
    # ratio of the approach's stop-line to advance counts
    advance_undercount: str = "blind"
    undercount_window_s: float = 600.0  # time constant of the two counts compared (exponentially discounted)
    undercount_min_pcu: float = 30.0  # the approach's stop-line count, so discounted, below which nothing is decided
    undercount_share: float = 0.1  # the advance count falls short of the stop-line count by more than this share


ADVANCE_UNDERCOUNT_MODES = ("off", "blind", "scale")  # EstimationParams.advance_undercount


class _LaneArrays(Protocol):
    """The per-loop and per-lane index arrays the lane update reads: one junction's Layout, or
    several junctions' concatenated (netestimate.NetworkLayout)."""

    @property
    def params(self) -> EstimationParams: ...
    @property
    def det_pair(self) -> np.ndarray: ...
    @property
    def lane_stop(self) -> np.ndarray: ...
    @property
    def lane_adv(self) -> np.ndarray: ...
    @property
    def lane_storage_pcu(self) -> np.ndarray: ...
    @property
    def lane_zone_m(self) -> np.ndarray: ...
    @property
    def lane_sat_prior_pcu_h(self) -> np.ndarray: ...
    @property
    def lane_approach(self) -> np.ndarray: ...
    @property
    def lane_hidden_cap_pcu(self) -> np.ndarray: ...
    @property
    def det_share(self) -> np.ndarray: ...
    @property
    def det_group(self) -> np.ndarray: ...
    @property
    def det_lane(self) -> np.ndarray: ...
    @property
    def lane_index(self) -> LaneIndex: ...


@dataclass(frozen=True)
class LaneIndex:
    """What the lane update reads of a _LaneArrays' loop indices every period, derived once
    (LaneIndex.of): which lanes have a stop-line and an advance loop, which loops a pair, their
    indices clipped at 0 (a gather from the loops' arrays; the masks tell where it means
    nothing), and every lane's position."""

    has_stop: np.ndarray  # (lanes,) bool: lane_stop >= 0
    has_adv: np.ndarray  # (lanes,) bool: lane_adv >= 0
    stop_at: np.ndarray  # (lanes,) max(lane_stop, 0)
    adv_at: np.ndarray  # (lanes,) max(lane_adv, 0)
    has_pair: np.ndarray  # (loops,) bool: det_pair >= 0
    pair_at: np.ndarray  # (loops,) max(det_pair, 0)
    positions: np.ndarray  # (lanes,) 0 .. lanes - 1
    # the advance loops shared by the lanes a split feeds (Detector.shared_by); None where there is none: every
    # loop's count is its lane's whole, and the readings are taken as read
    shared: SharedLoops | None

    @staticmethod
    def of(layout: _LaneArrays) -> LaneIndex:
        stop, adv, pair = layout.lane_stop, layout.lane_adv, layout.det_pair
        return LaneIndex(
            stop >= 0,
            adv >= 0,
            np.maximum(stop, 0),
            np.maximum(adv, 0),
            pair >= 0,
            np.maximum(pair, 0),
            np.arange(len(stop)),
            SharedLoops.of(layout) if bool(np.any(layout.det_group >= 0)) else None,
        )


@dataclass(frozen=True)
class SharedLoops:
    """The rows of advance loops on a split's feeder (Detector.shared_by > 1), each row one lane the split feeds:
    which loop rows, their lanes, their group (the rows of one loop, at one place), each row's even share (1 /
    shared_by) and the share of the group's lanes among the rows (present rows / shared_by: a lane the split feeds
    that is not the junction's keeps its even share out)."""

    rows: np.ndarray  # (k,) loop index
    lanes: np.ndarray  # (k,) lane index
    group: np.ndarray  # (k,) 0 .. groups - 1
    even: np.ndarray  # (k,) 1 / Detector.shared_by
    present: np.ndarray  # (k,) the group's rows * even

    @staticmethod
    def of(layout: _LaneArrays) -> SharedLoops:
        rows = np.flatnonzero(layout.det_group >= 0)
        group = np.unique(layout.det_group[rows], return_inverse=True)[1].ravel()
        even = layout.det_share[rows]
        return SharedLoops(rows, layout.det_lane[rows], group, even, np.bincount(group, even)[group])

    def shares(self, dep_flow_pcu_h: np.ndarray) -> np.ndarray:
        """(k,) each row's share of its loop's count: its lane's share of the group's departures over the stop line
        (LaneState.dep_flow_pcu_h, the lanes' own stop-line counts averaged), of what the rows present take; the
        even share while the group's lanes have counted none."""
        w = dep_flow_pcu_h[self.lanes]
        total = np.bincount(self.group, w, int(self.group.max()) + 1)[self.group]
        return np.where(total > 0.0, self.present * w / np.where(total > 0.0, total, 1.0), self.even)


@dataclass(frozen=True)
class Layout:
    """Index arrays of one junction, computed once at start-up.

    Lanes are the unit of measurement (one stop-line and one advance loop each); movements
    are what policies serve. `lane_share[m, l]` is the share of lane l's vehicles that belong
    to movement m (1 / number of movements using the lane)."""

    junction: Intersection
    params: EstimationParams
    det_index: dict[str, int]
    det_is_stop: np.ndarray  # (detectors,) bool
    det_lane: np.ndarray  # (detectors,) lane index
    det_pair: np.ndarray  # (detectors,) index of the other loop on the same lane, -1 if none
    lanes: tuple[str, ...]
    lane_share: np.ndarray  # (movements, lanes)
    lane_stop: np.ndarray  # (lanes,) detector index of the stop-line loop, -1 if none
    lane_adv: np.ndarray  # (lanes,) detector index of the advance loop, -1 if none
    lane_storage_pcu: np.ndarray  # (lanes,) between the two loops
    lane_zone_m: np.ndarray  # (lanes,) distance between the two loops
    lane_sat_prior_pcu_h: np.ndarray  # (lanes,)
    lane_same_movement: np.ndarray  # (lanes, lanes) bool: another lane of a movement that uses this one
    lane_same_edge: np.ndarray  # (lanes, lanes) bool: another lane on the same approach edge
    # (phases, movements) bool: the movement's vehicles may leave in the phase: it has a green link
    # there, or (params.off_is_permitted) a link switched off ('o', yielding: served permitted)
    serves: np.ndarray
    serves_green: np.ndarray  # (phases, movements) bool: it has a green link ('G'/'g') in the phase
    lane_green: np.ndarray  # (phases, lanes) bool: some movement on the lane is green
    protected: np.ndarray  # (phases, movements) bool: served with protected green only ('G', no 'g' or 'o')
    lane_protected: np.ndarray  # (phases, lanes) bool: green, and every movement served on it protected
    storage_pcu: np.ndarray  # (movements,)
    sat_flow_pcu_h: np.ndarray  # (movements,) the junction model's prior
    pcu_by_class: dict[str, float]
    stop_detectors: frozenset[str]
    # (lanes,) PCU the approach's own road stores upstream of its advance loop (Detector.room_m, back to
    # the first node where other streams merge or cross; the loop's position on the lane it sits on
    # without it; / the jam spacing): a queue past the loop reaches that node, where it holds traffic
    # this signal never serves, only beyond it; inf where the loop's lane
    # is a network entry (Detector.at_entry: beyond it, the queue waits to enter); 0 without an advance loop
    lane_adv_room_pcu: np.ndarray
    lane_approach: np.ndarray  # (lanes,) the approach (the movements' from_edge) as 0, 1, ... in order of first lane
    # (lanes,) with [estimation] hidden_room_at_light, the most PCU the hidden queue may hold: lane_adv_room_pcu where
    # the advance loop's own road starts at a signalised node (Detector.room_from_light), inf elsewhere
    lane_hidden_cap_pcu: np.ndarray
    # (detectors,) 1 / Detector.shared_by (an advance loop on a split's feeder, counting for each lane it feeds: its
    # even share), 1 elsewhere
    det_share: np.ndarray
    # (detectors,) such a loop's group: the index of its first row (the same at_lane and pos_m); -1 elsewhere
    det_group: np.ndarray

    @cached_property
    def lane_index(self) -> LaneIndex:
        """The loop indices the lane update reads every period (LaneIndex), derived once."""
        return LaneIndex.of(self)

    @cached_property
    def lane_uses(self) -> np.ndarray:
        """(movements, lanes) bool: the movement uses the lane (lane_share > 0)."""
        return self.lane_share > 0

    @cached_property
    def movement_lane_count(self) -> np.ndarray:
        """(movements,) lanes of each movement, at least 1."""
        out: np.ndarray = np.maximum(self.lane_uses.sum(axis=1), 1)
        return out

    @cached_property
    def maps(self) -> LaneMaps:
        """The junction's lanes -> movements shares and borrowing neighbours as sparse entries."""
        return LaneMaps.build(self)

    @cached_property
    def _derived(self) -> dict[Callable[[Layout], object], object]:
        return {}

    def derived(self, build: Callable[[Layout], _T]) -> _T:
        """build(self), computed at the first call with that function and kept for this layout
        object: for a quantity that is a function of the layout alone (its arrays are never
        written after `build`), which a policy would otherwise recompute at every decision.
        `build` must be a module-level function (the key), and its result must not be written."""
        memo = self._derived
        if build in memo:
            return memo[build]  # type: ignore[return-value]  # stored by this very `build`
        out = memo[build] = build(self)
        return out

    @staticmethod
    def build(junction: Intersection, cfg: LayoutConfig | None = None) -> Layout:
        """The junction's index arrays. Without a configuration: EstimationParams' defaults,
        every vehicle one PCU, a jam spacing of DEFAULT_VEHICLE_SPACING_M."""
        params = cfg.estimation if cfg is not None else EstimationParams()
        spacing_m = cfg.detectors.vehicle_spacing_m if cfg is not None else DEFAULT_VEHICLE_SPACING_M
        movements = junction.movements
        lanes = tuple(dict.fromkeys(lane for m in movements for lane in m.lanes))
        share = _lane_shares(junction, lanes)
        det = _DetectorIndex.build(junction, lanes)
        mov_storage = np.array([m.storage_pcu for m in movements])
        zone_m = np.where(
            det.lane_adv >= 0,
            np.where(det.lane_stop >= 0, np.maximum(det.adv_dist_m - det.stop_dist_m, 0.0), det.adv_dist_m),
            0.0,
        )
        # a loop on a split's feeder: the road from it (and past it) holds the queues of every lane the split feeds
        own_m = zone_m * det.lane_adv_share
        storage = np.where(zone_m > 0, np.maximum(own_m / spacing_m, 1.0), _spread_storage(mov_storage, share))
        adv_room_pcu = np.where(det.lane_adv >= 0, np.where(det.adv_at_entry, np.inf, det.adv_room_m / spacing_m), 0.0)
        # Per-lane saturation prior: the movement's per-lane-equivalent rate, averaged over the
        # movements sharing the lane.
        mov_sat = np.array([m.sat_flow_pcu_h for m in movements])
        per_lane_equiv = mov_sat / np.maximum(share.sum(axis=1), 1e-9)
        lane_sat = (share > 0).T.astype(float) @ per_lane_equiv / np.maximum((share > 0).sum(axis=0), 1)
        same_movement, same_edge = _lane_neighbours(junction, lanes, share)
        serves, serves_green, protected = _phase_service(junction, params.off_is_permitted, params.bus_lane_unopposed)
        lane_green = (serves.astype(float) @ (share > 0).astype(float)) > 0
        permitted = serves & ~protected
        lane_protected = lane_green & ~((permitted.astype(float) @ (share > 0).astype(float)) > 0)
        return Layout(
            junction=junction,
            params=params,
            det_index=det.index,
            det_is_stop=det.is_stop,
            det_lane=det.lane,
            det_pair=det.pair,
            lanes=lanes,
            lane_share=share,
            lane_stop=det.lane_stop,
            lane_adv=det.lane_adv,
            lane_storage_pcu=storage,
            lane_zone_m=zone_m,
            lane_sat_prior_pcu_h=lane_sat,
            lane_same_movement=same_movement,
            lane_same_edge=same_edge,
            serves=serves,
            serves_green=serves_green,
            lane_green=lane_green,
            protected=protected,
            lane_protected=lane_protected,
            storage_pcu=mov_storage,
            sat_flow_pcu_h=mov_sat,
            pcu_by_class={c: cfg.pcu.factor(c) if cfg is not None else 1.0 for c in VEHICLE_CLASSES},
            stop_detectors=frozenset(d.id for d in junction.detectors if d.kind == "stop"),
            lane_adv_room_pcu=adv_room_pcu,
            lane_approach=_lane_approach(junction, lanes),
            lane_hidden_cap_pcu=np.where(det.adv_from_light, adv_room_pcu, np.inf),
            det_share=det.share,
            det_group=det.group,
        )


@dataclass(frozen=True)
class LaneMaps:
    """A junction's (Layout.maps) or a network's (LaneMaps.concat) lanes -> movements shares
    and lane neighbours as sparse entries, for the sums of _to_movement_arrays and _borrow.

    Every sum over a movement's lanes (or a lane's donors) is a np.bincount over these entries,
    in entry order: a sequential sum, the same floats for one junction alone and for the same
    junction inside a network (a dense matrix product sums in BLAS's order, which depends on the
    matrix's shape)."""

    n_groups: int  # junctions (1 for one junction's maps)
    lane_group: np.ndarray  # (lanes,) junction position
    mov_rows: np.ndarray  # (entries,) movement of each entry of lane_share > 0, movement by movement ...
    mov_cols: np.ndarray  # ... its lane, in lane order
    mov_share: np.ndarray  # ... lane_share there
    mov_lane_count: np.ndarray  # (movements,) Layout.movement_lane_count
    mov_sat_prior_pcu_h: np.ndarray  # (movements,) Layout.sat_flow_pcu_h
    near_lane: np.ndarray  # (pairs,) a lane ...
    near_donor: np.ndarray  # ... another lane it may borrow from, lane by lane, donors in lane order
    near_edge: np.ndarray  # (pairs,) bool: on the same approach edge only (else: of the same movement)
    no_loop: np.ndarray  # (lanes,) bool: the lane has no loop in the model

    @staticmethod
    def build(layout: Layout) -> LaneMaps:
        rows, cols = np.nonzero(layout.lane_uses)  # row-major: a movement's lanes in lane order
        pairs = [
            (i, j, kind)
            for kind, near in enumerate((layout.lane_same_movement, layout.lane_same_edge))
            for i, j in zip(*np.nonzero(near))
        ]
        pairs.sort(key=lambda p: (p[0], p[2], p[1]))
        return LaneMaps(
            n_groups=1,
            lane_group=np.zeros(len(layout.lanes), dtype=int),
            mov_rows=rows.astype(int),
            mov_cols=cols.astype(int),
            mov_share=layout.lane_share[rows, cols],
            mov_lane_count=layout.movement_lane_count,
            mov_sat_prior_pcu_h=layout.sat_flow_pcu_h.astype(float),
            near_lane=np.array([p[0] for p in pairs], dtype=int),
            near_donor=np.array([p[1] for p in pairs], dtype=int),
            near_edge=np.array([p[2] == 1 for p in pairs], dtype=bool),
            no_loop=(layout.lane_stop < 0) & (layout.lane_adv < 0),
        )

    @staticmethod
    def concat(parts: Sequence[LaneMaps]) -> LaneMaps:
        """Several junctions' maps, lanes and movements numbered across the network in order."""
        n_l = [len(m.lane_group) for m in parts]
        n_m = [len(m.mov_lane_count) for m in parts]
        l0 = np.concatenate(([0], np.cumsum(n_l)))[:-1].astype(int)
        m0 = np.concatenate(([0], np.cumsum(n_m)))[:-1].astype(int)

        def cat(xs: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate([np.zeros(0, dtype=dtype), *xs]).astype(dtype)

        return LaneMaps(
            n_groups=len(parts),
            lane_group=cat([np.full(n, k) for k, n in enumerate(n_l)], int),
            mov_rows=cat([m.mov_rows + o for m, o in zip(parts, m0)], int),
            mov_cols=cat([m.mov_cols + o for m, o in zip(parts, l0)], int),
            mov_share=cat([m.mov_share for m in parts], float),
            mov_lane_count=cat([m.mov_lane_count for m in parts], int),
            mov_sat_prior_pcu_h=cat([m.mov_sat_prior_pcu_h for m in parts], float),
            near_lane=cat([m.near_lane + o for m, o in zip(parts, l0)], int),
            near_donor=cat([m.near_donor + o for m, o in zip(parts, l0)], int),
            near_edge=cat([m.near_edge for m in parts], bool),
            no_loop=cat([m.no_loop for m in parts], bool),
        )

    def shared(self, x: np.ndarray) -> np.ndarray:
        """(movements,) per movement the sum of lane_share x over its lanes."""
        terms = self.mov_share * x[self.mov_cols]
        out: np.ndarray = np.bincount(self.mov_rows, terms, minlength=len(self.mov_lane_count))
        return out

    def summed(self, x: np.ndarray) -> np.ndarray:
        """(movements,) per movement the sum of x over its lanes."""
        out: np.ndarray = np.bincount(self.mov_rows, x[self.mov_cols], minlength=len(self.mov_lane_count))
        return out

    def sat_flow_pcu_h(self, sat_ratio: np.ndarray) -> np.ndarray:
        """(movements,) saturation flow: the prior times the mean over the movement's lanes of
        each lane's learnt ratio to its prior."""
        out: np.ndarray = self.mov_sat_prior_pcu_h * self.summed(sat_ratio) / self.mov_lane_count
        return out


def _lane_shares(junction: Intersection, lanes: tuple[str, ...]) -> np.ndarray:
    """(movements, lanes): 1 / number of movements using the lane where the movement uses it."""
    lane_idx = {lane: i for i, lane in enumerate(lanes)}
    users = np.zeros(len(lanes))
    for m in junction.movements:
        for lane in m.lanes:
            users[lane_idx[lane]] += 1
    share = np.zeros((len(junction.movements), len(lanes)))
    for i, m in enumerate(junction.movements):
        for lane in m.lanes:
            share[i, lane_idx[lane]] = 1.0 / users[lane_idx[lane]]
    return share


@dataclass(frozen=True)
class _DetectorIndex:
    """The junction's loops as index arrays (Layout.build)."""

    index: dict[str, int]
    is_stop: np.ndarray  # (detectors,) bool
    lane: np.ndarray  # (detectors,) lane index
    pair: np.ndarray  # (detectors,) index of the other loop on the same lane, -1 if none
    lane_stop: np.ndarray  # (lanes,) detector index of the stop-line loop, -1 if none
    lane_adv: np.ndarray  # (lanes,) detector index of the advance loop, -1 if none
    stop_dist_m: np.ndarray  # (lanes,) distance of the stop-line loop to the stop line
    adv_dist_m: np.ndarray  # (lanes,) distance of the advance loop to the stop line
    # (lanes,) the road upstream of the advance loop that carries only the approach's traffic (Detector.room_m:
    # back to the first node where other streams merge or cross; its position on its lane without it), / shared_by
    adv_room_m: np.ndarray
    adv_at_entry: np.ndarray  # (lanes,) bool: the advance loop sits on a network entry lane (Detector.at_entry)
    adv_from_light: np.ndarray  # (lanes,) bool: its own road starts at a light (Detector.room_from_light)
    share: np.ndarray  # (detectors,) 1 / Detector.shared_by
    group: np.ndarray  # (detectors,) a shared loop's first row (same at_lane, pos_m), -1 for a loop not shared
    lane_adv_share: np.ndarray  # (lanes,) the share of the lane's advance loop (1 without one)

    @staticmethod
    def build(junction: Intersection, lanes: tuple[str, ...]) -> _DetectorIndex:
        lane_idx = {lane: i for i, lane in enumerate(lanes)}
        dets = junction.detectors
        n_l = len(lanes)
        lane_stop, lane_adv = np.full(n_l, -1), np.full(n_l, -1)
        stop_dist, adv_dist, adv_room = np.zeros(n_l), np.zeros(n_l), np.zeros(n_l)
        adv_entry, adv_light = np.zeros(n_l, dtype=bool), np.zeros(n_l, dtype=bool)
        det_share, adv_share = np.array([1.0 / d.shared_by for d in dets]), np.ones(n_l)
        firsts: dict[tuple[str, float], int] = {}
        group = np.array(
            [firsts.setdefault((d.at_lane, d.pos_m), i) if d.shared_by > 1 else -1 for i, d in enumerate(dets)]
        )
        for i, d in enumerate(dets):
            li = lane_idx[d.lane]
            if d.kind == "stop":
                lane_stop[li], stop_dist[li] = i, d.dist_to_stop_m
            else:
                lane_adv[li], adv_dist[li] = i, d.dist_to_stop_m
                adv_room[li] = max(d.pos_m if d.room_m is None else d.room_m, 0.0) / d.shared_by  # shared as storage
                adv_entry[li] = d.at_entry
                adv_light[li] = d.room_from_light and not d.at_entry
                adv_share[li] = det_share[i]
        return _DetectorIndex(
            {d.id: i for i, d in enumerate(dets)},
            np.array([d.kind == "stop" for d in dets], dtype=bool),
            np.array([lane_idx[d.lane] for d in dets], dtype=int),
            np.array([(lane_adv if d.kind == "stop" else lane_stop)[lane_idx[d.lane]] for d in dets], dtype=int),
            lane_stop,
            lane_adv,
            stop_dist,
            adv_dist,
            adv_room,
            adv_entry,
            adv_light,
            det_share,
            group.astype(int),
            adv_share,
        )


def _spread_storage(mov_storage_pcu: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Per lane, where the model has no advance loop: the movement's storage (from the TOML)
    spread over its lanes (the largest over the movements using the lane)."""
    out = np.zeros(share.shape[1])
    for li in range(share.shape[1]):
        on = share[:, li] > 0
        out[li] = float(np.max(mov_storage_pcu[on] / np.maximum(share[on].sum(axis=1), 1e-9)))
    return out


def _lane_neighbours(
    junction: Intersection, lanes: tuple[str, ...], share: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(lanes, lanes) bool twice: another lane of a movement that uses this one, and another lane
    on the same approach edge; those a lane without a working loop borrows its estimate from."""
    n_l = len(lanes)
    uses = share > 0
    same_movement = (uses.T.astype(int) @ uses.astype(int)) > 0
    lane_edge = [next(m.from_edge for m in junction.movements if lane in m.lanes) for lane in lanes]
    same_edge = np.array([[a == b for b in lane_edge] for a in lane_edge], dtype=bool).reshape(n_l, n_l)
    np.fill_diagonal(same_movement, False)
    np.fill_diagonal(same_edge, False)
    return same_movement, same_edge


def _lane_approach(junction: Intersection, lanes: tuple[str, ...]) -> np.ndarray:
    """(lanes,) int: each lane's approach edge (its movements' from_edge), numbered in order of first lane."""
    ids: dict[str, int] = {}
    edges = [next(m.from_edge for m in junction.movements if lane in m.lanes) for lane in lanes]
    return np.array([ids.setdefault(e, len(ids)) for e in edges], dtype=int)


def _phase_service(
    junction: Intersection, off_is_permitted: bool, bus_lane_unopposed: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(phases, movements) bool three times: the movement's vehicles may leave in the phase (a
    link of it in Phase.served_links: green, or switched off, 'o', with `off_is_permitted`); it
    has a green link there; it is served with protected green only ('G', no 'g' nor 'o'), or, with
    `bus_lane_unopposed`, with 'g' where every movement it gives way to is a bus lane's (`_yields_to_buses_only`)."""
    n_p, n_m = len(junction.phases), len(junction.movements)
    serves = np.zeros((n_p, n_m), dtype=bool)
    serves_green = np.zeros((n_p, n_m), dtype=bool)
    protected = np.zeros((n_p, n_m), dtype=bool)
    unopposed = _yields_to_buses_only(junction) if bus_lane_unopposed else [False] * n_m
    for k, ph in enumerate(junction.phases):
        green, served = ph.green_links(), ph.served_links(off_is_permitted)
        for i, m in enumerate(junction.movements):
            serves[k, i] = bool(served.intersection(m.links))
            serves_green[k, i] = bool(green.intersection(m.links))
            states = {ph.state[li] for li in m.links if li in served}
            protected[k, i] = states == {"G"} or (unopposed[i] and bool(states) and states <= {"G", "g"})
    return serves, serves_green, protected


def _yields_to_buses_only(junction: Intersection) -> list[bool]:
    """Per movement: it gives way to some movement (`yields_to`, the network's right of way) and every one it gives
    way to is a bus lane's (Movement.bus_lane: lanes closed to cars, import-net's [timing] bus_lane_movements). Such a
    'g' turn (a right turn from the car lane beside a bus lane, crossing it) filters through a bus service's
    stream, a bus every few tens of seconds, not a car lane's queue: gap acceptance leaves it most of its flow, not
    `permitted_sat_ratio` of it. False without `yields_to` or a bus lane."""
    buses = {m.id for m in junction.movements if m.bus_lane}
    return [bool(buses) and bool(m.yields_to) and set(m.yields_to or ()) <= buses for m in junction.movements]


@dataclass(frozen=True)
class DetectorHealth:
    """Per-loop fault bookkeeping (arrays over the junction's detectors)."""

    on_s: np.ndarray  # continuous time fully occupied without a count
    silent_s: np.ndarray  # continuous time without count or occupancy
    ref_veh: np.ndarray  # counted by the reference loop(s) while this one was silent (or stuck-on candidate)
    missing_s: np.ndarray  # continuous time absent from the messages
    implausible: np.ndarray  # recent implausible readings (decaying count)
    faulty: np.ndarray  # bool

    @staticmethod
    def empty(n: int) -> DetectorHealth:
        z = np.zeros(n)
        return DetectorHealth(z, z, z, z, z, np.zeros(n, dtype=bool))


@dataclass(frozen=True)
class LaneState:
    queue_pcu: np.ndarray  # between the loops
    hidden_pcu: np.ndarray  # upstream of the advance loop (spill-over)
    flow_pcu_h: np.ndarray  # arrival flow, EWMA
    dep_flow_pcu_h: np.ndarray  # departure flow, EWMA (stand-in for arrivals)
    green_s: np.ndarray  # time the lane has been green; 0 when red
    stop_empty_s: np.ndarray  # continuous time with the stop-line loop empty
    adv_standing_s: np.ndarray  # continuous time with the advance loop standing
    adv_speed_mps: np.ndarray  # speed of vehicles passing the advance loop, EWMA
    sat_pcu: np.ndarray  # discounted PCU discharged in saturated green
    sat_s: np.ndarray  # discounted seconds of saturated green
    block: np.ndarray  # exit blockage 0..1, EWMA over green with a queue
    # PCU over the stop-line / advance loop in periods both work, discounted over undercount_window_s
    # (_advance_undercount; zero with advance_undercount off)
    count_stop_pcu: np.ndarray
    count_adv_pcu: np.ndarray
    # the weight the arrival-flow average has given the periods observed, 1 - (1 - alpha)^n after n
    # (flow_mean_observed: _mean_observed; zero with it off)
    flow_seen: np.ndarray
    adv_recent_pcu: np.ndarray  # (TRANSIT_HISTORY_TICKS, lanes): advance-loop arrivals, row 0 = this tick

    @staticmethod
    def empty(n: int) -> LaneState:
        z = np.zeros(n)
        return LaneState(
            z,
            z,
            z,
            z,
            z,
            z,
            z,
            np.full(n, DEFAULT_TRANSIT_SPEED_MPS),
            z,
            z,
            z,
            z,
            z,
            z,
            np.zeros((TRANSIT_HISTORY_TICKS, n)),
        )


# LaneState's fields of one value a lane, in order (adv_recent_pcu, a tick history, aside): the rows
# netestimate joins per lane and lanerows' compiled loops read
LANE_ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LaneState) if f.name != "adv_recent_pcu")


class LaneCut(Cut, LaneState):
    """A LaneState cut from a network LaneState (lanes a:b), field by field when read (cuts.py)."""

    COLUMNS_LAST = frozenset({"adv_recent_pcu"})


class HealthCut(Cut, DetectorHealth):
    """A DetectorHealth cut from a network DetectorHealth (loops a:b), field by field when read."""


@dataclass(frozen=True)
class Estimate:
    """Per-movement state (arrays indexed like junction.movements). Never mutated: each update
    returns new arrays."""

    t_s: float
    arrivals_pcu: np.ndarray  # cumulative since start
    departures_pcu: np.ndarray  # cumulative since start
    flow_pcu_h: np.ndarray  # arrival (demand) flow
    queue_pcu: np.ndarray  # waiting between the loops plus spilled over the advance loop
    crossed_by_class: tuple[tuple[str, int], ...]  # vehicles over the stop lines, cumulative
    sat_flow_pcu_h: np.ndarray  # learnt (the junction model's prior until learnt)
    block: np.ndarray  # exit blockage 0..1
    # exit blockage 0..1 in the last period: on a lane where the blockage is measured now (queued
    # protected green, its stop-line loop usable) whether that loop stood (`stop_stand_now`), else
    # its `block`; the mean over the movement's lanes (block_now_lanes)
    block_now: np.ndarray
    blind: np.ndarray  # bool: no working loop on some lane of the movement
    lanes: LaneState
    health: DetectorHealth
    last_feed_t_s: float | None = None  # None: no message yet

    @staticmethod
    def empty(layout: Layout, t_s: float) -> Estimate:
        n_m, n_l = len(layout.junction.movements), len(layout.lanes)
        z = np.zeros(n_m)
        no_loop = (layout.lane_stop < 0) & (layout.lane_adv < 0)
        blind = ((layout.lane_share > 0) @ no_loop) > 0
        return Estimate(
            t_s,
            z,
            z,
            z,
            z,
            tuple((c, 0) for c in VEHICLE_CLASSES),
            layout.sat_flow_pcu_h.copy(),
            z,
            z,
            blind,
            LaneState.empty(n_l),
            DetectorHealth.empty(len(layout.det_index)),
        )

    def faulty_detectors(self, layout: Layout) -> tuple[str, ...]:
        """The ids of the detectors marked faulty, in the layout's order."""
        at = self.health.faulty.nonzero()[0].tolist()  # (the health array is one-dimensional)
        if not at:
            return ()
        ids = list(layout.det_index)
        return tuple([ids[i] for i in at])


@dataclass(frozen=True)
class _Readings:
    """One message as arrays over the junction's detectors."""

    pcu: np.ndarray  # PCU counted in the period
    veh: np.ndarray  # vehicles counted in the period
    occ: np.ndarray  # occupancy 0..1
    spd: np.ndarray  # mean speed, -1 when none passed
    seen: np.ndarray  # bool: the loop is in the message
    crossed: dict[str, int] | None  # vehicles over the stop lines, cumulative; None when none crossed


@dataclass(frozen=True)
class _LaneSignals:
    """What this period's readings say per lane (arrays over the junction's lanes)."""

    stop_ok: np.ndarray  # the stop-line loop's reading can be used now
    adv_ok: np.ndarray  # the advance loop's reading can be used now
    stop_alive: np.ndarray  # the lane has a stop-line loop that is not faulty
    adv_alive: np.ndarray  # the lane has an advance loop that is not faulty
    green: np.ndarray  # the lane is green now
    saturated_green: np.ndarray  # protected green past the start-up loss
    stop_stand_now: np.ndarray  # a vehicle stands on the stop-line loop
    adv_stand_now: np.ndarray  # a vehicle stands on the advance loop


def update(layout: Layout, est: Estimate, snap: Snapshot, green_phase: int | None = None) -> Estimate:
    """Fold one detector message into the estimate (parameters: layout.params).

    `green_phase`: the phase the roadside reports green now, None during an intergreen or when
    unknown (every lane then counts as red). A junction without any loop has no measurement: its
    estimate stays as it is (empty) and every movement is `blind`."""
    if not layout.det_index:
        return replace(
            est, t_s=snap.t_s, last_feed_t_s=snap.t_s, blind=np.ones(len(layout.junction.movements), dtype=bool)
        )
    dt = snap.period_s
    r = own_shares(layout.lane_index, _read(layout, snap, est.crossed_by_class), est.lanes.dep_flow_pcu_h)
    n_d = len(r.veh)
    health, usable = _health(layout, est.health, r, dt, (float(r.veh.sum()) - r.veh) / max(n_d - 1, 1))
    no_lane = np.zeros(len(layout.lanes), dtype=bool)
    green = layout.lane_green[green_phase] if green_phase is not None else no_lane
    protected = layout.lane_protected[green_phase] if green_phase is not None else no_lane
    sig = _lane_signals(layout, est.lanes, r, health.faulty, usable, green, protected)
    lanes, arr, dep = _lanes(layout, est.lanes, r, sig, dt, layout.params.flow_window_s)
    now = block_now_lanes(est.lanes, sig, lanes.block)
    return _to_movements(layout, est, snap.t_s, lanes, arr, dep, sig.stop_alive | sig.adv_alive, health, r.crossed, now)


def _to_movements(
    layout: Layout,
    est: Estimate,
    t_s: float,
    lanes: LaneState,
    arr: np.ndarray,
    dep: np.ndarray,
    measured: np.ndarray,
    health: DetectorHealth,
    crossed: dict[str, int] | None,
    block_now: np.ndarray,
) -> Estimate:
    """The junction's new estimate from its lanes' period: lanes without a working loop borrow
    (_borrow), then lanes are shared out to movements (movement_arrays; `block_now` per lane,
    block_now_lanes)."""
    lanes, arr, dep = _borrow(layout.maps, layout.lane_storage_pcu, lanes, arr, dep, measured)
    prior = layout.lane_sat_prior_pcu_h
    ratio = _sat_estimate(lanes.sat_pcu, lanes.sat_s, prior, layout.params) / prior
    m = movement_arrays(layout.maps, lanes, arr, dep, measured, ratio, block_now)
    return Estimate(
        t_s=t_s,
        arrivals_pcu=est.arrivals_pcu + m.arrivals_pcu,
        departures_pcu=est.departures_pcu + m.departures_pcu,
        flow_pcu_h=m.flow_pcu_h,
        queue_pcu=m.queue_pcu,
        crossed_by_class=est.crossed_by_class if crossed is None else tuple(sorted(crossed.items())),
        last_feed_t_s=t_s,
        sat_flow_pcu_h=m.sat_flow_pcu_h,
        block=m.block,
        block_now=m.block_now,
        blind=m.blind,
        lanes=lanes,
        health=health,
    )


@dataclass(frozen=True)
class MovementArrays:
    """One period's lanes shared out to movements (movement_arrays): arrays over the movements
    of one junction or of a network (LaneMaps)."""

    arrivals_pcu: np.ndarray  # this period's, to add to the cumulative ones
    departures_pcu: np.ndarray  # idem
    flow_pcu_h: np.ndarray
    queue_pcu: np.ndarray  # between the loops and hidden upstream
    sat_flow_pcu_h: np.ndarray  # the prior x the mean over the movement's lanes of the learnt ratio
    block: np.ndarray  # mean over the movement's lanes
    block_now: np.ndarray  # idem, of the lanes' blockage in the last period (block_now_lanes)
    blind: np.ndarray  # bool: some lane of the movement has no working loop


def movement_arrays(
    maps: LaneMaps,
    lanes: LaneState,
    arr: np.ndarray,
    dep: np.ndarray,
    measured: np.ndarray,
    sat_ratio: np.ndarray,
    block_now: np.ndarray,
) -> MovementArrays:
    """Lanes -> movements (Layout.lane_share): PCU and flows shared (a lane shared by n movements
    gives each 1/n), saturation flow and blockage (the average and the last period's, `block_now`
    per lane) averaged over the movement's lanes. Sums in lane order (LaneMaps): one junction gives
    the floats it gives inside a network."""
    n_lanes = maps.mov_lane_count
    return MovementArrays(
        arrivals_pcu=maps.shared(arr),
        departures_pcu=maps.shared(dep),
        flow_pcu_h=maps.shared(lanes.flow_pcu_h),
        queue_pcu=maps.shared(lanes.queue_pcu + lanes.hidden_pcu),
        sat_flow_pcu_h=maps.sat_flow_pcu_h(sat_ratio),
        block=maps.summed(lanes.block) / n_lanes,
        block_now=maps.summed(block_now) / n_lanes,
        blind=maps.summed((~measured).astype(float)) > 0,
    )


def counts_pcu(counts: Sequence[tuple[str, int]], factor: Mapping[str, float]) -> float:
    """A loop's counts by vehicle class in PCU: each class's count times its weight (`factor`, [pcu]; 1.0 for a class
    it does not name), summed in the message's order (the one sum _read and netestimate.readings_from_snapshots
    share, so a junction gives the floats it gives inside a network). Example: (("car", 3), ("bus", 1)) with bus 2.0:
    5.0."""
    return sum(factor.get(c, 1.0) * n for c, n in counts)


def _read(layout: Layout, snap: Snapshot, crossed_before: tuple[tuple[str, int], ...]) -> _Readings:
    """The message's readings as per-detector arrays (PCU by the configured class weights);
    loops the junction does not know are ignored."""
    n_d = len(layout.det_index)
    pcu, veh, occ = np.zeros(n_d), np.zeros(n_d), np.zeros(n_d)
    spd = np.full(n_d, -1.0)
    seen = np.zeros(n_d, dtype=bool)
    crossed = None
    factor = layout.pcu_by_class
    for rd in snap.readings:
        i = layout.det_index.get(rd.detector)
        if i is None:
            continue
        seen[i] = True
        occ[i] = rd.occupancy
        spd[i] = rd.speed_mps
        if rd.counts:
            pcu[i] = counts_pcu(rd.counts, factor)
            veh[i] = sum(n for _, n in rd.counts)
            if rd.detector in layout.stop_detectors:
                crossed = crossed if crossed is not None else dict(crossed_before)
                for c, n in rd.counts:
                    crossed[c] = crossed.get(c, 0) + n
    return _Readings(pcu, veh, occ, spd, seen, crossed)


def own_shares(ix: LaneIndex, r: _Readings, dep_flow_pcu_h: np.ndarray) -> _Readings:
    """The readings with each shared loop's counts cut to its lane's share (SharedLoops.shares, from the lanes'
    departures `dep_flow_pcu_h`): an advance loop on a split's feeder counts the vehicles of every lane the split
    feeds, so that the lanes together count each vehicle once. The readings themselves where no loop is shared."""
    sh = ix.shared
    if sh is None:
        return r
    pcu, veh = r.pcu.copy(), r.veh.copy()
    share = sh.shares(dep_flow_pcu_h)
    pcu[sh.rows] *= share
    veh[sh.rows] *= share
    return replace(r, pcu=pcu, veh=veh)


def _health(
    layout: _LaneArrays, h: DetectorHealth, r: _Readings, dt: float, others_mean: np.ndarray
) -> tuple[DetectorHealth, np.ndarray]:
    """Fault bookkeeping per loop (module doc), and which of this period's readings can be
    trusted (seen, not faulty, not implausible). `others_mean`: per loop, the mean count of the
    other loops of its junction (the reference of a loop without a pair)."""
    p = layout.params
    max_veh = dt * p.max_lane_flow_veh_h / 3600.0 + 1.0
    implausible_now = r.seen & (r.veh > max_veh)
    implausible = h.implausible * math.exp(-dt / p.implausible_window_s) + implausible_now
    on_s = np.where(r.seen & (r.occ >= FULL_OCCUPANCY) & (r.veh == 0), h.on_s + dt, 0.0)
    quiet = r.seen & (r.veh == 0) & (r.occ <= 0.0)
    silent_s = np.where(quiet, h.silent_s + dt, 0.0)
    missing_s = np.where(r.seen, 0.0, h.missing_s + dt)
    # Reference count: the paired loop on the same lane, else the junction's other loops on average.
    ix = layout.lane_index
    ref_now = np.where(ix.has_pair, r.veh[ix.pair_at], others_mean)
    if p.stuck_on_needs_traffic:
        ref_veh, stuck_on = _stuck_on_with_traffic(layout, h, r, on_s, quiet, ref_now)
    else:
        ref_veh, stuck_on = np.where(quiet, h.ref_veh + ref_now, 0.0), on_s >= p.stuck_on_s
    faulty = (
        stuck_on
        | ((silent_s >= p.stuck_off_s) & (ref_veh >= p.stuck_off_ref_veh))
        | (missing_s >= p.stuck_off_s)
        | (implausible >= p.implausible_limit)
    )
    health = DetectorHealth(on_s, silent_s, ref_veh, missing_s, implausible, faulty)
    return health, r.seen & ~faulty & ~implausible_now


def _stuck_on_with_traffic(
    layout: _LaneArrays, h: DetectorHealth, r: _Readings, on_s: np.ndarray, quiet: np.ndarray, ref_now: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(reference count, stuck-on) per loop with `stuck_on_needs_traffic`: the reference (the
    paired loop's count, else the junction's other loops' mean) is summed over a silent or a
    fully occupied spell, from its first period; a loop fully occupied without a count for
    `stuck_on_s` is stuck-on only when its reference counted, meanwhile, more than
    `stuck_off_ref_veh` vehicles beyond what the lane stores between its two loops (its storage in
    PCU taken as vehicles: a margin on the lenient side where heavy vehicles stand): vehicles
    that must have crossed it. A standing queue over both loops (a jam: nothing crosses either) is
    traffic, not a fault, and the loops that show it stay in use."""
    p = layout.params
    on_now = on_s > 0
    going_on = (quiet & (h.silent_s > 0)) | (on_now & (h.on_s > 0))
    ref_veh = np.where(going_on, h.ref_veh + ref_now, np.where(quiet | on_now, ref_now, 0.0))
    stored = np.zeros(len(r.veh))
    paired = (layout.lane_stop >= 0) & (layout.lane_adv >= 0)
    stored[layout.lane_stop[paired]] = layout.lane_storage_pcu[paired]
    stored[layout.lane_adv[paired]] = layout.lane_storage_pcu[paired]
    stuck_on = (on_s >= p.stuck_on_s) & (ref_veh >= p.stuck_off_ref_veh + stored)
    return ref_veh, stuck_on


def _lane_signals(
    layout: _LaneArrays,
    L: LaneState,
    r: _Readings,
    faulty: np.ndarray,
    usable: np.ndarray,
    green: np.ndarray,
    protected: np.ndarray,
) -> _LaneSignals:
    """Per lane: which loops work and what they show now (green, standing vehicles). `green`,
    `protected`: per lane, green now, and green with every movement on it protected (saturation
    flow and exit blockage are learnt on protected green only: a permitted turn waiting for gaps
    in the opposing flow is neither saturated nor blocked downstream)."""
    p, ix = layout.params, layout.lane_index
    has_stop, has_adv, si, ai = ix.has_stop, ix.has_adv, ix.stop_at, ix.adv_at
    stop_ok, adv_ok = has_stop & usable[si], has_adv & usable[ai]

    def standing(idx: np.ndarray) -> np.ndarray:  # occupied (almost) all period, slow or uncounted
        o, v, s = r.occ[idx], r.veh[idx], r.spd[idx]
        out: np.ndarray = (o >= p.standing_occupancy) & ((s < p.standing_speed_mps) | (v == 0))
        return out

    return _LaneSignals(
        stop_ok=stop_ok,
        adv_ok=adv_ok,
        stop_alive=has_stop & ~faulty[si],
        adv_alive=has_adv & ~faulty[ai],
        green=green,
        saturated_green=protected & (L.green_s >= p.startup_lost_s),
        stop_stand_now=stop_ok & standing(si),
        adv_stand_now=adv_ok & standing(ai),
    )


def _lanes(
    layout: _LaneArrays, L: LaneState, r: _Readings, sig: _LaneSignals, dt: float, flow_window_s: float
) -> tuple[LaneState, np.ndarray, np.ndarray]:
    """One period of every lane from its own loops: the new lane state, and the PCU that
    arrived into the lane's zone and departed over its stop line in the period."""
    p, ix = layout.params, layout.lane_index
    si, ai = ix.stop_at, ix.adv_at
    stop_pcu, adv_pcu, adv_spd = r.pcu[si], r.pcu[ai], r.spd[ai]  # each gathered once, read below
    sig, adv_pcu, count_stop, count_adv = _undercounted(layout, L, sig, stop_pcu, adv_pcu, dt)
    green_s = np.where(sig.green, L.green_s + dt, 0.0)
    adv_standing_s = np.where(sig.adv_stand_now, L.adv_standing_s + dt, 0.0)
    adv_blocked = adv_standing_s >= p.standing_s
    stop_empty_now = sig.stop_ok & (r.veh[si] == 0) & (r.occ[si] <= 0.0)
    stop_empty_s = np.where(stop_empty_now, L.stop_empty_s + dt, 0.0)

    # Arrivals into the zone between the loops, departures over the stop line (model-based,
    # from the held flow and the learnt saturation flow, where the loop does not work).
    lane_sat = _sat_estimate(L.sat_pcu, L.sat_s, layout.lane_sat_prior_pcu_h, p)
    arr = np.where(sig.adv_ok, adv_pcu, L.flow_pcu_h * dt / 3600.0)
    capacity = lane_sat * (1.0 - L.block) * dt / 3600.0
    dep = np.where(sig.stop_ok, stop_pcu, np.where(sig.green, np.minimum(L.queue_pcu + arr, capacity), 0.0))

    # Demand flow: advance counts while the loop is free; departures stand in when the
    # advance loop is dead; held otherwise (blocked advance loop or no loop at all).
    alpha = min(1.0, dt / flow_window_s)
    dep_flow = np.where(sig.stop_ok, (1 - alpha) * L.dep_flow_pcu_h + alpha * stop_pcu * 3600.0 / dt, L.dep_flow_pcu_h)
    flow_from_adv = (1 - alpha) * L.flow_pcu_h + alpha * adv_pcu * 3600.0 / dt
    free = sig.adv_ok & ~sig.adv_stand_now & ~adv_blocked
    if p.hidden_queue_balance:
        free &= L.hidden_pcu <= 0.0  # the counts over the loop are the hidden queue's discharge
    flow_seen = L.flow_seen
    if p.flow_mean_observed:
        flow_from_adv, flow_seen = _mean_observed(L.flow_pcu_h, adv_pcu * 3600.0 / dt, L.flow_seen, free, alpha)
    flow = np.where(free, flow_from_adv, np.where(~sig.adv_alive & sig.stop_alive, dep_flow, L.flow_pcu_h))
    adv_speed = np.where(
        sig.adv_ok & (r.veh[ai] > 0) & (adv_spd > p.standing_speed_mps),
        0.8 * L.adv_speed_mps + 0.2 * adv_spd,
        L.adv_speed_mps,
    )

    recent = np.empty_like(L.adv_recent_pcu)
    recent[0] = arr
    recent[1:] = L.adv_recent_pcu[:-1]
    transit = _in_transit(layout, recent, adv_speed, dt)
    cleared = stop_empty_s >= p.clear_gap_s
    hidden_cleared = cleared
    if p.hidden_clear_at_advance:
        hidden_cleared = _cleared_at_advance(sig, stop_empty_s, recent, r.occ[ai], green_s, p.clear_gap_s, dt)
    clears = (cleared, hidden_cleared)
    queue, hidden = _queue(layout, L, sig, arr, dep, flow * dt / 3600.0, adv_blocked, clears, transit)
    if p.hidden_clear_gap:
        hidden = np.where(_advance_gap(sig, recent, r.occ[ai], green_s, p.clear_gap_s, dt), 0.0, hidden)
    sat_pcu, sat_s, block = _learn(p, L, sig, stop_pcu, dt)
    measured = (queue, hidden, flow, dep_flow, green_s, stop_empty_s, adv_standing_s, adv_speed, sat_pcu, sat_s, block)
    lanes = LaneState(*measured, count_stop, count_adv, flow_seen, recent)
    return lanes, arr, dep


def _mean_observed(
    flow: np.ndarray, now: np.ndarray, seen: np.ndarray, learnt: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """[estimation] flow_mean_observed: the arrival flow `flow` stepped towards this period's `now` (PCU/h)
    where the period is `learnt`, by alpha / the weight the average has now given observed periods (`seen`,
    1 - (1 - alpha)^n after n of them): the mean of the periods observed so far, not an average with zeros
    for the periods before the first. The first period observed gives its own flow; once the weight is near 1
    (a few flow_window_s) the step is alpha, the EWMA's. Example, alpha = 1/300, a car every 5 s from the
    start (720 PCU/h): after 60 s the EWMA reads 131 PCU/h, this mean 720. Returns (flow, seen)."""
    seen_now = np.where(learnt, (1.0 - alpha) * seen + alpha, seen)
    step = alpha / np.maximum(seen_now, alpha)
    return flow + step * (now - flow), seen_now


def _advance_gap(
    sig: _LaneSignals, recent: np.ndarray, adv_occ: np.ndarray, green_s: np.ndarray, clear_gap_s: float, dt: float
) -> np.ndarray:
    """Per lane, True where the queue upstream of the advance loop is gone ([estimation] hidden_clear_gap):
    in the lane's green the loop has counted a vehicle (the queue over it moved) and then no count for
    `clear_gap_s`, nobody over it now (this period's occupancy 0; earlier occupancy is not kept), its
    reading usable: a queue discharging over a loop leaves no gap that long, so what stood beyond it has
    passed, as an empty stop-line loop says of the lane."""
    k = max(1, math.ceil(clear_gap_s / max(dt, 1e-9) - 1e-9))
    rows = np.arange(recent.shape[0])[:, None]
    green_ticks = np.floor(green_s / max(dt, 1e-9) + 1e-9)
    moved = ((rows >= k) & (rows < green_ticks[None, :]) & (recent > 0.0)).any(axis=0)
    quiet = (recent[:k] <= 0.0).all(axis=0) & (adv_occ <= 0.0)  # nobody over it, so nobody standing
    out: np.ndarray = sig.adv_ok & quiet & moved  # moved: the lane is green now
    return out


def _cleared_at_advance(
    sig: _LaneSignals,
    stop_empty_s: np.ndarray,
    recent: np.ndarray,
    adv_occ: np.ndarray,
    green_s: np.ndarray,
    clear_gap_s: float,
    dt: float,
) -> np.ndarray:
    """[estimation] hidden_clear_at_advance: per lane, True where the queue past the advance loop is gone.

    An empty stop-line loop shows that no queue stands between the loops; of a queue standing past the advance loop
    it shows nothing: that queue's head may be held upstream of the loop (vehicles merging into the lane at a node
    behind the loop, or still starting up) while the zone between the loops empties. Where the advance loop works,
    that queue is gone at a gap over it after the queue over it moved in the lane's green (_advance_gap), or once
    the stop-line loop has been empty for TRANSIT_HISTORY_TICKS periods and the advance loop has counted nobody in
    them, nobody over it now: nothing has fed the zone for that long. Without a working advance loop, the empty
    stop-line loop for `clear_gap_s` as before."""
    stop_cleared = stop_empty_s >= clear_gap_s
    gap = _advance_gap(sig, recent, adv_occ, green_s, clear_gap_s, dt)
    idle = (stop_empty_s >= TRANSIT_HISTORY_TICKS * dt) & (recent <= 0.0).all(axis=0) & (adv_occ <= 0.0)
    out: np.ndarray = np.where(sig.adv_ok, gap | idle, stop_cleared)
    return out


def _undercounted(
    layout: _LaneArrays, L: LaneState, sig: _LaneSignals, stop_pcu: np.ndarray, adv_pcu: np.ndarray, dt: float
) -> tuple[_LaneSignals, np.ndarray, np.ndarray, np.ndarray]:
    """[estimation] advance_undercount applied to one period (_advance_undercount): the lane
    signals and advance counts the lane update then reads, and the lanes' new discounted counts.
    Off: all as they are."""
    p = layout.params
    if p.advance_undercount == "off":
        return sig, adv_pcu, L.count_stop_pcu, L.count_adv_pcu
    count_stop, count_adv, short, ratio = _advance_undercount(layout, L, sig, stop_pcu, adv_pcu, dt)
    if p.advance_undercount == "blind":  # its counts are not the arrivals; a vehicle standing on it still stands
        return (
            replace(sig, adv_ok=sig.adv_ok & ~short, adv_alive=sig.adv_alive & ~short),
            adv_pcu,
            count_stop,
            count_adv,
        )
    return sig, np.where(short, adv_pcu * ratio, adv_pcu), count_stop, count_adv


def _advance_undercount(
    layout: _LaneArrays, L: LaneState, sig: _LaneSignals, stop_pcu: np.ndarray, adv_pcu: np.ndarray, dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An approach whose advance loops miss vehicles its stop-line loops count ([estimation]
    advance_undercount): a source between them (a driveway, vehicles inserted downstream of the
    loop) that the advance loops cannot see. Returns the lanes' new discounted counts, per lane
    whether its approach under-counts, and the approach's ratio of stop-line to advance counts.

    Per approach, not per lane (a lane change between the loops moves a vehicle from one lane's
    count to another's, not out of the approach's): each lane's PCU over its stop-line and its
    advance loop, in periods where both work, discounted over `undercount_window_s`, summed over
    the approach. Between the two loops a lane holds at most its storage, so over any window the
    stop-line count can exceed the advance count by at most the approach's storage (a queue
    building between them makes the advance count lead, not lag). An approach under-counts when
    its stop-line count, at least `undercount_min_pcu`, exceeds the advance count by more than
    that storage plus `undercount_share` of the stop-line count (the loops' own miscounts); only
    an approach whose every lane has both loops is judged (a lane without an advance loop feeds
    the stop-line count unseen)."""
    p, ix = layout.params, layout.lane_index
    both = ix.has_stop & ix.has_adv
    ok = sig.stop_ok & sig.adv_ok
    keep = math.exp(-dt / p.undercount_window_s)
    count_stop = L.count_stop_pcu * keep + np.where(ok, stop_pcu, 0.0)
    count_adv = L.count_adv_pcu * keep + np.where(ok, adv_pcu, 0.0)
    g = layout.lane_approach
    n = int(g.max()) + 1 if len(g) else 0
    stop_a, adv_a = np.bincount(g, count_stop, n), np.bincount(g, count_adv, n)
    store_a = np.bincount(g, layout.lane_storage_pcu, n)
    judged = np.bincount(g, (~both).astype(float), n) == 0
    short = judged & (stop_a >= p.undercount_min_pcu) & (stop_a - adv_a > store_a + p.undercount_share * stop_a)
    ratio = stop_a / np.maximum(adv_a, 1.0)
    return count_stop, count_adv, short[g], ratio[g]


def _in_transit(layout: _LaneArrays, recent: np.ndarray, adv_speed: np.ndarray, dt: float) -> np.ndarray:
    """PCU in transit between the loops: what entered the zone within its travel time (whole
    ticks, this one included), read off the lane's recent arrivals. A lane without advance loop
    has no zone: only this period's arrivals."""
    travel_ticks = np.ceil(layout.lane_zone_m / np.maximum(adv_speed, 1.0) / max(dt, 1e-9)).astype(int)
    upto = _clip(travel_ticks, 0, TRANSIT_HISTORY_TICKS - 1)
    if not len(upto):
        return np.zeros(0)
    # the running sums down the rows (np.cumsum's along axis 0: each row the one above plus its
    # own, the same additions in the same order), only as far as the longest transit, one row
    # at a time: np.cumsum along the first axis walks each lane's column apart (slower)
    rows = int(upto.max()) + 1
    running = np.empty((rows, recent.shape[1]))
    running[0] = recent[0]
    for k in range(1, rows):
        np.add(running[k - 1], recent[k], out=running[k])
    out: np.ndarray = running[upto, layout.lane_index.positions]  # each lane's row `upto`
    return out


def _queue(
    layout: _LaneArrays,
    L: LaneState,
    sig: _LaneSignals,
    arr: np.ndarray,
    dep: np.ndarray,
    demand_pcu: np.ndarray,
    adv_blocked: np.ndarray,
    clears: tuple[np.ndarray, np.ndarray],
    transit_pcu: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Queue (PCU, within the lane's storage) and hidden queue (upstream of it) after one period.
    `clears`: per lane, the queue between the loops cleared (the stop-line loop empty for `clear_gap_s`), and the
    hidden queue cleared (the same, or with `hidden_clear_at_advance` _cleared_at_advance's reading).

    Counted where the advance loop works: input-output between the loops, the hidden queue
    growing by the demand while the advance loop is blocked and drained by the vehicles that
    cross it afterwards (they come from that queue first). Modelled without a working advance
    loop (the zone cannot be told from upstream): one queue, its overflow beyond the storage
    counted as hidden. Both are then corrected by the stop-line loop: empty for `clear_gap_s`,
    no queue stands (cut to the vehicles in transit, hidden queue gone); a standing vehicle on
    it, at least one PCU waits. A blocked advance loop fills the storage."""
    p = layout.params
    storage = layout.lane_storage_pcu
    cleared, hidden_cleared = clears
    counted = _clip(L.queue_pcu + arr - dep, 0.0, storage)
    if p.hidden_queue_balance:  # every arrival joins a hidden queue held back, every crossing leaves it
        held = adv_blocked | ((L.hidden_pcu > 0.0) & (sig.adv_stand_now | (L.adv_standing_s > 0.0)))
        counted_hidden = np.where(held, L.hidden_pcu + demand_pcu - arr, L.hidden_pcu - arr)
        counted_hidden = np.maximum(counted_hidden, 0.0)
    else:
        counted_hidden = np.where(adv_blocked, L.hidden_pcu + demand_pcu, np.maximum(L.hidden_pcu - arr, 0.0))
    counted_hidden = np.where(sig.adv_ok, counted_hidden, L.hidden_pcu)
    modelled = L.queue_pcu + L.hidden_pcu + arr - dep
    queue = np.where(sig.adv_alive, counted, _clip(modelled, 0.0, storage))
    hidden = np.where(sig.adv_alive, counted_hidden, np.maximum(modelled - storage, 0.0))
    queue = np.where(cleared, np.minimum(queue, transit_pcu), queue)
    queue = np.where(sig.stop_stand_now, np.maximum(queue, np.minimum(1.0, storage)), queue)
    queue = np.where(adv_blocked, storage, queue)
    if p.hidden_queue_balance:  # an empty stop line says nothing beyond an advance loop that stands
        hidden_cleared = hidden_cleared & ~(adv_blocked | sig.adv_stand_now)
    hidden = np.where(hidden_cleared, 0.0, np.minimum(hidden, p.max_hidden_queue_pcu_lane))
    if p.hidden_room_at_light:
        hidden = np.minimum(hidden, layout.lane_hidden_cap_pcu)
    return queue, hidden


def _learn(
    p: EstimationParams, L: LaneState, sig: _LaneSignals, stop_pcu: np.ndarray, dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Saturation flow (discharged PCU and seconds of saturated green, head vehicle moving,
    with forgetting) and exit blockage (share of the queued green during which the head
    vehicle stood), per lane."""
    learn = (
        sig.saturated_green & sig.stop_ok & (L.queue_pcu + L.hidden_pcu >= p.sat_min_queue_pcu) & ~sig.stop_stand_now
    )
    forget = np.where(learn, math.exp(-dt / p.sat_window_s), 1.0)
    sat_pcu = np.where(learn, L.sat_pcu * forget + stop_pcu, L.sat_pcu)
    sat_s = np.where(learn, L.sat_s * forget + dt, L.sat_s)
    b_alpha = min(1.0, dt / p.block_window_s)
    block = np.where(_queued_green(L, sig), (1 - b_alpha) * L.block + b_alpha * sig.stop_stand_now, L.block)
    return sat_pcu, sat_s, block


def _queued_green(L: LaneState, sig: _LaneSignals) -> np.ndarray:
    """Per lane: the exit blockage is measured this period (protected green past the start-up
    loss, the stop-line loop usable, a queue of at least 1 PCU before it)."""
    out: np.ndarray = sig.saturated_green & sig.stop_ok & (L.queue_pcu >= 1.0)
    return out


def block_now_lanes(L: LaneState, sig: _LaneSignals, block: np.ndarray) -> np.ndarray:
    """Per lane, the exit blockage in the period just read (Estimate.block_now): 1 or 0 where it
    is measured now (_queued_green: the stop-line loop stood all period, `sig.stop_stand_now`, or
    not), the lane's average `block` (LaneState.block after the period) elsewhere. `L`: the lanes
    before the period. Not lagged: `block` averages the standing over `block_window_s` of queued
    green, and a blockage that grows through a green is read late by it."""
    out: np.ndarray = np.where(_queued_green(L, sig), sig.stop_stand_now.astype(float), block)
    return out


def _borrow(
    maps: LaneMaps, storage_pcu: np.ndarray, lanes: LaneState, arr: np.ndarray, dep: np.ndarray, measured: np.ndarray
) -> tuple[LaneState, np.ndarray, np.ndarray]:
    """A lane without a working loop takes what is measured nearby (per junction: `maps` of
    one junction, or of a network, junction by junction).

    1. From the measured lanes of the same movement(s), else of the same approach edge: their
       mean per-lane arrival flow, queue (with its hidden part, split again at this lane's own
       storage), arrivals and departures.
    2. Nothing measured on its movement or edge, and no loop in the model at all: the mean
       per-lane arrival flow of the junction's measured lanes is its demand, and its queue stays
       modelled (that demand in, the saturation flow out while green). A prior, not a
       measurement: without it the lane would read 0 for ever and never be asked for.
    3. Otherwise (its loops failed) it keeps its own model, from its own held flow.

    Means are sequential sums in lane order (LaneMaps) over their count."""
    if measured.all():
        return lanes, arr, dep
    n_l = len(measured)
    i, j, edge = maps.near_lane, maps.near_donor, maps.near_edge
    ok = measured[j] & ~measured[i]
    n_movement = np.bincount(i, ok & ~edge, minlength=n_l)
    n_edge = np.bincount(i, ok & edge, minlength=n_l)
    use = ok & np.where(edge, n_movement[i] == 0, True)  # the same approach edge only without a movement donor
    n = np.where(n_movement > 0, n_movement, n_edge)
    borrow = ~measured & (n > 0)
    i, j = i[use], j[use]
    w = 1.0 / n[i]

    def mean(x: np.ndarray) -> np.ndarray:  # per lane, its donors' mean
        out: np.ndarray = np.bincount(i, w * x[j], minlength=n_l)
        return out

    g = maps.lane_group
    n_measured = np.bincount(g, measured, minlength=maps.n_groups)
    group_mean = np.bincount(g, np.where(measured, lanes.flow_pcu_h, 0.0), minlength=maps.n_groups) / np.maximum(
        n_measured, 1
    )
    prior = maps.no_loop & ~borrow & (n_measured > 0)[g]
    flow = np.where(prior, group_mean[g], lanes.flow_pcu_h)
    total = mean(lanes.queue_pcu + lanes.hidden_pcu)
    queue = np.where(borrow, np.minimum(total, storage_pcu), lanes.queue_pcu)
    hidden = np.where(borrow, np.maximum(total - storage_pcu, 0.0), lanes.hidden_pcu)
    flow = np.where(borrow, mean(lanes.flow_pcu_h), flow)
    return (
        replace(lanes, queue_pcu=queue, hidden_pcu=hidden, flow_pcu_h=flow),
        np.where(borrow, mean(arr), arr),
        np.where(borrow, mean(dep), dep),
    )


def _sat_estimate(sat_pcu: np.ndarray, sat_s: np.ndarray, prior: np.ndarray, p: EstimationParams) -> np.ndarray:
    """Shrinkage estimate of the saturation flow (PCU/h) from discharged PCU over saturated
    seconds, with the prior worth `sat_prior_weight_s` seconds; bounded around the prior."""
    est = (sat_pcu * 3600.0 + prior * p.sat_prior_weight_s) / (sat_s + p.sat_prior_weight_s)
    out: np.ndarray = _clip(est, prior * p.sat_min_ratio, prior * p.sat_max_ratio)
    return out


# -- coupling between neighbouring junctions ----------------------------------------------------
#
# The junction model names each junction's up- and downstream neighbours, but not which exit
# feeds which neighbour approach, nor how long the link takes to drive. Both are learnt from the
# detector feed: the departures over a junction's stop lines reappear, a travel time later, as
# arrivals at the advance loops of one approach of one downstream neighbour. Movements leaving
# in the same direction (from their approach and turn) share an exit and are learnt together;
# the candidates are the neighbour approaches facing that direction (+-45 degrees, from the
# approach compass points of the model). The lagged cross-covariance of the two count series
# peaks at the right approach and at the travel time.

_COMPASS_DEG = {"N": 0.0, "NE": 45.0, "E": 90.0, "SE": 135.0, "S": 180.0, "SW": 225.0, "W": 270.0, "NW": 315.0}
_TURN_DEG = {"through": 0.0, "right": 90.0, "left": -90.0, "uturn": 180.0}


def exit_heading_deg(approach: str, turn: str) -> float | None:
    """Direction of travel after the junction (0 = north, clockwise), None if unknown."""
    a = _COMPASS_DEG.get(approach.upper())
    if a is None:
        return None
    return (a + 180.0 + _TURN_DEG.get(turn, 0.0)) % 360.0


@dataclass(frozen=True)
class LinkLayout:
    """Static index arrays of the network coupling, built once from the junction layouts."""

    params: EstimationParams  # the link_* fields
    junctions: tuple[str, ...]
    groups: dict[str, np.ndarray]  # J -> (exits, movements) 0/1: movements leaving the same way
    targets: dict[str, tuple[tuple[str, str], ...]]  # J -> ((downstream J', approach edge at J'), ...)
    allowed: dict[str, np.ndarray]  # J -> (exits, targets) bool: the approach faces the exit
    edge_movements: dict[str, dict[str, np.ndarray]]  # J' -> approach edge -> movement indices

    @cached_property
    def _derived(self) -> dict[tuple[Callable[..., object], int], tuple[Layout, object]]:
        return {}

    def derived(self, layout: Layout, build: Callable[[Layout, LinkLayout], _T]) -> _T:
        """build(layout, self), computed at the first call with that function and that layout object and
        kept for this link layout (Layout.derived's memo for a quantity of a junction's layout and the
        network's links alone, never written after `build`: a policy would otherwise recompute it at every
        decision). `build` must be a module-level function (the key)."""
        key = (build, id(layout))
        hit = self._derived.get(key)
        if hit is not None and hit[0] is layout:  # the layout kept with it: its id is not another's
            return hit[1]  # type: ignore[return-value]  # stored by this very `build`
        out = build(layout, self)
        self._derived[key] = (layout, out)
        return out

    @staticmethod
    def build(layouts: dict[str, Layout], params: EstimationParams = EstimationParams()) -> LinkLayout:
        edge_movements, edge_deg = {}, {}
        for jid, lay in layouts.items():
            by_edge: dict[str, list[int]] = {}
            for i, m in enumerate(lay.junction.movements):
                by_edge.setdefault(m.from_edge, []).append(i)
                edge_deg[(jid, m.from_edge)] = _COMPASS_DEG.get(m.approach.upper())
            edge_movements[jid] = {e: np.array(ix, dtype=int) for e, ix in by_edge.items()}
        groups, targets, allowed = {}, {}, {}
        for jid, lay in layouts.items():
            ms = lay.junction.movements
            heads = [exit_heading_deg(m.approach, m.turn) for m in ms]
            keys = list(dict.fromkeys(h if h is not None else f"?{i}" for i, h in enumerate(heads)))
            g = np.zeros((len(keys), len(ms)))
            for i, h in enumerate(heads):
                g[keys.index(h if h is not None else f"?{i}"), i] = 1.0
            tg = tuple((d, e) for d in lay.junction.downstream if d in layouts and d != jid for e in edge_movements[d])
            ok = np.ones((len(keys), len(tg)), dtype=bool)
            for gi, key in enumerate(keys):
                if isinstance(key, str):
                    continue
                for ti, (d, e) in enumerate(tg):
                    deg = edge_deg[(d, e)]
                    if deg is not None:
                        diff = abs((deg - (key + 180.0)) % 360.0)
                        ok[gi, ti] = min(diff, 360.0 - diff) <= 45.0 + 1e-9
            groups[jid], targets[jid], allowed[jid] = g, tg, ok
        return LinkLayout(params, tuple(layouts), groups, targets, allowed, edge_movements)

    @property
    def lags(self) -> int:
        """Lags kept per departure history: 0 .. link_max_travel_s whole seconds."""
        return int(self.params.link_max_travel_s) + 1


@dataclass(frozen=True)
class Coupling:
    """What is known of one movement's exit: the neighbour approach it feeds and the travel time."""

    junction: str
    edge: str
    travel_s: int
    corr: float


@dataclass(frozen=True)
class LinkState:
    t_s: float
    samples_s: float
    last_dep: dict[str, np.ndarray]  # cumulative departures seen last tick, per junction
    last_arr: dict[str, np.ndarray]  # cumulative arrivals seen last tick, per junction
    hist: dict[str, np.ndarray]  # J -> (movements, lags): departures, lag 0 = this tick
    cross: dict[str, np.ndarray]  # J -> (exits, targets, lags): E[dep(t - lag) * arr(t)]
    dep_mean: dict[str, np.ndarray]  # J -> (exits,)
    dep_sq: dict[str, np.ndarray]
    arr_mean: dict[str, np.ndarray]  # J -> (targets,)
    arr_sq: dict[str, np.ndarray]
    mapping: dict[str, tuple[Coupling | None, ...]]  # J -> per movement
    mapped_s: float = float("-inf")

    @staticmethod
    def empty(links: LinkLayout, layouts: dict[str, Layout], t_s: float) -> LinkState:
        L = links.lags
        n_m = {j: len(layouts[j].junction.movements) for j in links.junctions}
        n_g = {j: links.groups[j].shape[0] for j in links.junctions}
        n_t = {j: len(links.targets[j]) for j in links.junctions}

        def z(*shape: int) -> np.ndarray:
            return np.zeros(shape)

        return LinkState(
            t_s,
            0.0,
            {j: z(n_m[j]) for j in n_m},
            {j: z(n_m[j]) for j in n_m},
            {j: z(n_m[j], L) for j in n_m},
            {j: z(n_g[j], n_t[j], L) for j in n_m},
            {j: z(n_g[j]) for j in n_m},
            {j: z(n_g[j]) for j in n_m},
            {j: z(n_t[j]) for j in n_m},
            {j: z(n_t[j]) for j in n_m},
            {j: (None,) * n_m[j] for j in n_m},
        )


def update_links(
    links: LinkLayout, state: LinkState, estimates: dict[str, Estimate], dt_s: float, now_s: float
) -> LinkState:
    """Fold one tick of every junction's departures and arrivals into the covariances."""
    p = links.params
    a = min(1.0, dt_s / p.link_window_s)
    arr_now = {}
    last_arr, last_dep = dict(state.last_arr), dict(state.last_dep)
    for j in links.junctions:
        est = estimates[j]
        arr_now[j] = est.arrivals_pcu - state.last_arr[j]
        last_arr[j] = est.arrivals_pcu
    hist, cross, dm, dq, am, aq = (
        dict(x) for x in (state.hist, state.cross, state.dep_mean, state.dep_sq, state.arr_mean, state.arr_sq)
    )
    for j in links.junctions:
        est = estimates[j]
        d = est.departures_pcu - state.last_dep[j]
        last_dep[j] = est.departures_pcu
        h = np.empty_like(state.hist[j])
        h[:, 1:] = state.hist[j][:, :-1]
        h[:, 0] = d
        hist[j] = h
        tg = links.targets[j]
        if not tg:
            continue
        g = links.groups[j]
        gh = g @ h  # (exits, lags)
        arr = np.array([arr_now[dj][links.edge_movements[dj][e]].sum() for dj, e in tg])
        cross[j] = (1 - a) * state.cross[j] + a * gh[:, None, :] * arr[None, :, None]
        dm[j] = (1 - a) * state.dep_mean[j] + a * gh[:, 0]
        dq[j] = (1 - a) * state.dep_sq[j] + a * gh[:, 0] ** 2
        am[j] = (1 - a) * state.arr_mean[j] + a * arr
        aq[j] = (1 - a) * state.arr_sq[j] + a * arr * arr
    out = LinkState(
        now_s, state.samples_s + dt_s, last_dep, last_arr, hist, cross, dm, dq, am, aq, state.mapping, state.mapped_s
    )
    if now_s - state.mapped_s >= p.link_remap_s and out.samples_s >= p.link_min_samples_s:
        out = replace(out, mapping={j: _map(links, out, j) for j in links.junctions}, mapped_s=now_s)
    return out


def _map(links: LinkLayout, s: LinkState, j: str) -> tuple[Coupling | None, ...]:
    tg = links.targets[j]
    g = links.groups[j]
    n_m = int(g.shape[1])
    if not tg:
        return (None,) * n_m
    # The averages start from zero: unbias them (all share one weight sequence) before
    # combining, or independent series look correlated early on.
    b = 1.0 - math.exp(-s.samples_s / links.params.link_window_s)
    dm, am = s.dep_mean[j] / b, s.arr_mean[j] / b
    cov = s.cross[j] / b - dm[:, None, None] * am[None, :, None]
    sd = np.sqrt(np.maximum(s.dep_sq[j] / b - dm**2, 0.0))
    sa = np.sqrt(np.maximum(s.arr_sq[j] / b - am**2, 0.0))
    corr = cov / np.maximum(sd[:, None, None] * sa[None, :, None], 1e-12)
    corr = np.where(links.allowed[j][:, :, None], corr, -np.inf)
    # A mapping once learnt is kept while no candidate clears the threshold (congestion blurs
    # the platoons; the exits do not move).
    out: list[Coupling | None] = list(s.mapping.get(j, (None,) * n_m))
    for gi in range(g.shape[0]):
        k = int(np.argmax(corr[gi]))
        t, lag = divmod(k, corr.shape[2])
        c = float(corr[gi, t, lag])
        if c >= links.params.link_min_corr:
            for m in np.flatnonzero(g[gi]):
                out[m] = Coupling(tg[t][0], tg[t][1], lag, c)
    return tuple(out)


def predicted_inflow_pcu(
    links: LinkLayout, state: LinkState, junction: str, edge: str, horizon_s: int, upstream: tuple[str, ...]
) -> np.ndarray:
    """Arrivals expected at one approach of `junction` in each of the next horizon_s seconds, from
    the upstream departures already on their way (each shifted by its learnt travel time)."""
    out = np.zeros(horizon_s)
    for u in upstream:
        mapping = state.mapping.get(u)
        if not mapping:
            continue
        for m, c in enumerate(mapping):
            if c is None or c.junction != junction or c.edge != edge:
                continue
            # departed k seconds ago (lag k) arrives travel_s - k seconds from now: slot travel_s - k - 1
            k = np.arange(0, min(c.travel_s, state.hist[u].shape[1]))
            slot = c.travel_s - k - 1
            ok = (slot >= 0) & (slot < horizon_s)
            np.add.at(out, slot[ok], state.hist[u][m, k[ok]])
    return out

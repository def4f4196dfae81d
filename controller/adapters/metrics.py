"""Prometheus metrics of the controller service (prometheus-client), and their HTTP endpoint.

`ServiceMetrics` is the service's observer (controller.service.Observer): the service calls it
for every feed message it receives or rejects and after every tick. Everything goes into the
`CollectorRegistry` passed in — there is no global registry, so every test, every simulated run
and the live service each build their own. docs/metrics.md lists every metric with its unit.

What is done when (the cost per stage: sim/bench_breakdown.py):
- every tick: the tick-duration histogram, the plan counters (a few commands), mode changes,
  plan acknowledgements, and the signal state for the measured green shares and cycles — noted
  once per change of signal state (_ShadowFolds), folded into controller/core/shadow.py only when
  the registry is collected (a scrape; at most MAX_PENDING_FOLDS notes wait for one);
- every `update_s` of service time (5 s by default), all junctions in the same tick (or, with
  `[metrics] stagger`, spread over the interval): the per-junction gauges (queue, delay,
  throughput by class, degree of saturation, cycle, speed, detector faults) and the network
  figures. The junctions due in the same tick are refreshed together, their figures from one
  pass over their arrays (metrics_group.py). Nothing is done per detector. The degree of
  saturation and the measured cycle, which only the exposition reads, are computed when the
  registry is collected, from the shadow as it stood at the last refresh: a run nobody scrapes
  (`simulate` without --metrics-port) never folds the shadow.

Traffic figures (docs/metrics.md defines them; sim/bench_metrics.py measures them against SUMO):
- approach speed: space-mean (journey) speed over the watched approaches by Edie's definition,
  vehicle-distance over vehicle-time, the time read off the vehicles the estimator counts
  between the loops; not the spot speed of the vehicles that cross a loop (`approach_traffic`);
- measured delay: the time spent on the watched approaches beyond free flow, per PCU that
  arrived on them (per junction passed, not per trip);
- throughput gain: PCU measured over the stop lines against what the fixed-time plan is
  estimated to serve of the same demand; not a number (n/a) while that plan serves it all.

Time: every rate and window here runs on the service clock passed to `tick_done` (`now_s`), so a
simulated run — replayed faster than real time — exports its figures in simulated time: a
throughput of 0.5 vehicles/s means 0.5 per simulated second. Only the tick duration (and the
metrics' own cost) are wall-clock: they describe the process, not the traffic.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from controller.adapters.metrics_group import GroupFigures, GroupStatics, group_figures, saturation_ratio
from controller.core import shadow
from controller.core.estimation import Estimate, Layout
from controller.errors import AdapterError
from controller.model import JUNCTION_MODES, VEHICLE_CLASSES, CyclePlan, Intersection, SignalStatus

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from controller.config import Config, MetricsConfig
    from controller.core.step import CoreState, JunctionState, TickResult

log = logging.getLogger(__name__)

_M = TypeVar("_M", Gauge, Counter)
_Make = Callable[..., _M]  # (name, doc, labels=()) -> the metric, in the exporter's registry

PREFIX = "tsc"
# Every reason core/feed.py and service.py give a FeedError (tests/contract/test_metrics.py checks
# the list against the source). Pre-declared so that "rejected by reason" exists, at 0, before the
# first bad message: an absent series and a zero are not the same thing to an alert.
FEED_REJECT_REASONS = (
    "oversize",
    "malformed_json",
    "wrong_type",
    "bad_version",
    "not_finite",
    "out_of_range",
    "unknown_junction",
    "unknown_detector",
    "unknown_class",
    "negative_count",
    "implausible_count",
    "future_timestamp",
    "stale_timestamp",
    "topic_mismatch",
    "forbidden_mode",
)
MESSAGE_KINDS = ("detectors", "status")
# The mode gauge's values: junction_mode's, and `refused`, a junction the service refused at start
# (controller/service.py: a stage its program never shows, or the policy cannot serve it), which
# stays on its own program for the whole run (junctions_refused). `failed` is junction_mode's too:
# a junction whose decision raised this tick (TickResult.failed), left on its own program.
MODES = (*JUNCTION_MODES, "refused", "failed")
# Tick durations of a 20-junction city are milliseconds; a tick near its 1 s period is an alarm.
TICK_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
TWIN_BUCKETS_S = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)  # validation twin runs (issue 14: <= 3 s)
MAX_PENDING_ACKS = 64  # plans pushed and not yet seen in a roadside status, per junction
# Signal-state notes (_ShadowFolds) waiting for a collection, over all junctions: past this the
# exporter folds them itself (~30 MB at the bound: each note keeps its SignalStatus alive; a 900 s
# run of the bundled city notes ~10,000).
MAX_PENDING_FOLDS = 100_000

# The junction gauges the refresh sets (every update_s; all together, or staggered with [metrics]
# stagger), labelled by junction: (key, name without the prefix, help). Their values live in plain
# lists (_Junction.gauges, in this order) and reach the registry through _JunctionGauges when it is
# collected (a scrape, the run report, a test), instead of a Gauge child's locked set at every
# refresh. `cycle` starts at the base program's cycle, the others at 0, as Gauge children would.
JUNCTION_GAUGES = (
    ("detectors_faulty", "detectors_faulty", "Induction loops currently judged faulty."),
    ("queue", "junction_queue_pcu", "Estimated queue on all approaches, PCU."),
    (
        "delay",
        "junction_delay_seconds",
        "Modelled mean delay per PCU under the control given (controlled side of the gain, controller/core/shadow.py).",
    ),
    (
        "measured_delay",
        "junction_measured_delay_seconds",
        "Measured delay per PCU over the stop lines: vehicles present beyond free flow / arrival flow (Little's law).",
    ),
    (
        "fixed_delay",
        "junction_fixed_time_delay_seconds",
        "Estimated mean delay per PCU had the fixed-time plan run (shadow).",
    ),
    ("delay_gain", "junction_delay_gain_ratio", "1 - delay / fixed-time delay."),
    (
        "throughput_gain",
        "junction_throughput_gain_ratio",
        "PCU measured over the stop lines / the fixed-time plan's estimated service of the same demand - 1; NaN (n/a) "
        "while that plan serves it all.",
    ),
    ("saturation", "junction_degree_of_saturation_ratio", "Degree of saturation q/(λs) of the critical movement."),
    ("cycle", "junction_cycle_seconds", "Cycle length in force (plan, else measured)."),
    (
        "speed",
        "junction_approach_speed_meters_per_second",
        "Space-mean (journey) speed over the watched approaches: vehicle-distance / vehicle-time (Edie).",
    ),
)
_G = {key: k for k, (key, _name, _doc) in enumerate(JUNCTION_GAUGES)}
_G_FAULTY, _G_QUEUE, _G_DELAY, _G_MEASURED, _G_FIXED, _G_GAIN, _G_TGAIN, _G_SAT, _G_CYCLE, _G_SPEED = (
    _G[k]
    for k in (
        "detectors_faulty",
        "queue",
        "delay",
        "measured_delay",
        "fixed_delay",
        "delay_gain",
        "throughput_gain",
        "saturation",
        "cycle",
        "speed",
    )
)
# The junction gauges a junction refused at start has no figure for (NaN): its estimates, not its counts.
_NOT_ESTIMATED = (_G_QUEUE, _G_DELAY, _G_MEASURED, _G_FIXED, _G_GAIN, _G_TGAIN, _G_SAT, _G_SPEED)
# ServiceMetrics' counters labelled by junction alone (attribute names): each junction's children made at start.
_JUNCTION_COUNTERS = (
    "detector_faults",
    "plans_computed",
    "plans_refused",
    "plans_pushed",
    "plans_acked",
    "plans_validated",
    "plans_twin_rejected",
    "fallbacks",
    "harm_switches",
)
THROUGHPUT_BY_CLASS = (
    "junction_throughput_vehicles_per_second",
    "Vehicles over the stop lines per second of service time, by class.",
)


def junction_mode(
    stale: bool, status_mode: str | None, harm_mode: str | None = None, *, manual: bool = False, failed: bool = False
) -> str:
    """manual: an operator's override is in force (TickResult.manual; it wins over the rest, as
    its commands replace the policy's); failed: its decision raised this tick (TickResult.failed:
    the policy's or the gate's, controller/core/step.py), so the core withdrew its plan and the
    roadside runs its own program, whatever its status still says; adaptive: the roadside runs
    our plans; fallback: it runs its local plan (it says so, or its feed is stale so we send
    nothing); fixed: do no harm withdrew our plans, the policy being estimated worse than the
    city's fixed plan (the core's harm mode, controller/core/harm.py, or a light held on that plan
    by its short-link group), so the roadside runs that plan. `status_mode` is the roadside's own
    (local | adaptive: a roadside cannot claim manual, core/feed.py)."""
    if manual:
        return "manual"
    if failed:
        return "failed"
    if harm_mode == "fixed" and not stale:
        return "fixed"
    if stale or status_mode != "adaptive":
        return "fallback"
    return "adaptive"


# The fixed-time plan "cannot serve the demand" when it is estimated to leave at least this share
# of it unserved: below, a throughput gain is not a number (n/a), not a misleading 0.
SATURATED_SHORTFALL = 0.01
# Cumulative per-junction quantities behind the windowed rates and the run figures (PCU): counts
# as they stand, and integrals over service time (e.g. time_pcu_s: vehicle-seconds on the approaches).
CUM = (
    "crossed_veh",
    "departed_pcu",
    "arrived_pcu",
    "distance_pcu_m",
    "time_pcu_s",
    "delay_pcu_s",
    "demand_pcu",
    "served_pcu",
    "fixed_served_pcu",
    "fixed_short_pcu",
)
_C = {name: k for k, name in enumerate(CUM)}
_ARRIVED, _DISTANCE, _TIME, _DELAY = (_C[n] for n in ("arrived_pcu", "distance_pcu_m", "time_pcu_s", "delay_pcu_s"))
_DEMAND, _SERVED, _FIXED_SERVED, _FIXED_SHORT = (
    _C[n] for n in ("demand_pcu", "served_pcu", "fixed_served_pcu", "fixed_short_pcu")
)


@dataclass(frozen=True)
class ApproachTraffic:
    """Traffic on watched approaches over an interval, from the detector feed only. Additive.

    arrived_pcu: PCU counted over the advance loops.
    distance_pcu_m: PCU-metres travelled over the approaches by them (arrivals × approach length).
    time_pcu_s: PCU-seconds spent on the approaches.
    delay_pcu_s: PCU-seconds spent beyond free flow (may be < 0 over a short interval, not over
        a cycle).
    """

    arrived_pcu: float = 0.0
    distance_pcu_m: float = 0.0
    time_pcu_s: float = 0.0
    delay_pcu_s: float = 0.0


def approach_traffic(
    arrived_pcu: np.ndarray,
    length_m: np.ndarray,
    zone_m: np.ndarray,
    speed_mps: np.ndarray,
    counted_pcu: float,
    dt_s: float,
) -> ApproachTraffic:
    """Edie's (1963) generalised definitions over the approaches for one interval of `dt_s`
    seconds: space-mean speed = distance travelled / time spent, the time spent read off the
    vehicles present (vehicle-seconds = vehicles present × duration; Little's law).

    Per movement (arrays, weighted by the movement's share of watched lanes): PCU counted over
    its advance loops in the interval, approach length L (m, to the stop line), length of the zone
    between its loops (m), speed v (m/s) of the moving vehicles at its advance loops — free flow
    over the part of the approach upstream of the loop, which no loop watches. `counted_pcu`: the
    vehicles the estimator counts between the loops, queued or moving, plus its spill-over queue
    upstream of the advance loop, now. Then, with a = arrivals:
        distance = Σ a·L,   time = counted·dt + Σ a·(L − zone)/v,   delay = counted·dt − Σ a·zone/v.
    Speeds below 1 m/s are taken as 1 m/s (a loop that has seen no moving vehicle yet)."""
    return _ApproachShape.of(length_m, zone_m).traffic(arrived_pcu, speed_mps, counted_pcu, dt_s)


@dataclass(frozen=True)
class _ApproachShape:
    """approach_traffic's lengths per movement, clipped once: zone ≥ 0, length ≥ zone (m)."""

    length_m: np.ndarray
    zone_m: np.ndarray
    upstream_m: np.ndarray  # length - zone: the part of the approach no loop watches

    @staticmethod
    def of(length_m: np.ndarray, zone_m: np.ndarray) -> _ApproachShape:
        zone = np.maximum(np.asarray(zone_m, dtype=float), 0.0)
        length = np.maximum(np.asarray(length_m, dtype=float), zone)
        return _ApproachShape(length, zone, length - zone)

    def traffic(
        self, arrived_pcu: np.ndarray, speed_mps: np.ndarray, counted_pcu: float, dt_s: float
    ) -> ApproachTraffic:
        """approach_traffic over these lengths."""
        a = np.maximum(np.asarray(arrived_pcu, dtype=float), 0.0)
        v = np.maximum(np.asarray(speed_mps, dtype=float), 1.0)
        held_pcu_s = max(float(counted_pcu), 0.0) * max(dt_s, 0.0)
        return ApproachTraffic(
            float(a.sum()),
            float(a @ self.length_m),
            held_pcu_s + float(a @ (self.upstream_m / v)),
            held_pcu_s - float(a @ (self.zone_m / v)),
        )


def lane_lengths_m(layout: Layout) -> np.ndarray:
    """Per lane of `layout`: the length of its watched approach, from the start of the lane its
    farthest loop sits on (the lane itself, or a lane upstream that alone feeds it: `at_lane`) to
    the stop line — that loop's pos from its lane's start plus its distance to the stop line;
    0 where no loop measures for the lane."""
    out = np.zeros(len(layout.lanes))
    for d in layout.junction.detectors:
        li = layout.lanes.index(d.lane) if d.lane in layout.lanes else -1
        if li >= 0:
            out[li] = max(out[li], d.pos_m + d.dist_to_stop_m)
    return out


def fixed_capacity_pcu_h(layout: Layout) -> np.ndarray:
    """Per lane, the capacity c = s·g/C of the junction's own fixed-time program (HCM): g the base
    greens of the phases in which some movement of the lane is green, plus the intergreens
    between two consecutive phases that both green it (its links stay green while others turn
    yellow), C the base cycle, s the lane's saturation flow in the junction model (PCU/h). Per
    lane, not per movement: the loops count lanes, and a shared lane's count split between its
    movements would put a departure under a movement that was red."""
    j = layout.junction
    n = len(j.phases)
    green = layout.lane_green.astype(float)  # (phases, lanes)
    g = np.array([p.base_green_s for p in j.phases], dtype=float) @ green
    for k in range(n if n > 1 else 0):
        g += j.intergreen_s(k, (k + 1) % n) * green[k] * green[(k + 1) % n]
    capacity_pcu_h: np.ndarray = np.clip(g / max(j.base_cycle_s(), 1e-9), 0.0, 1.0) * layout.lane_sat_prior_pcu_h
    return capacity_pcu_h


def ratio_or_none(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def throughput_gain(
    served_pcu: float, fixed_served_pcu: float, fixed_short_pcu: float, demand_pcu: float
) -> float | None:
    """Measured PCU over the stop lines / the fixed-time plan's estimated service of the same
    demand − 1; None (n/a) while the fixed plan is estimated to serve it all (shortfall below
    SATURATED_SHORTFALL of the demand): both would then serve the demand, and the figure would
    only measure the queue's change."""
    if demand_pcu <= 0 or fixed_served_pcu <= 0 or fixed_short_pcu < SATURATED_SHORTFALL * demand_pcu:
        return None
    return served_pcu / fixed_served_pcu - 1.0


def _at(state: shadow.ShadowState, t_s: float) -> shadow.ShadowState:
    """`dataclasses.replace(state, t_s=t_s)` built field by field (ShadowState is a plain frozen
    dataclass: no __post_init__, every field in __init__), without replace's per-call field
    introspection: the exporter moves its shadows' clocks thousands of times a run."""
    return shadow.ShadowState(t_s, state.green_share, state.cycle_s, state.last_onset_s, state.was_green)


class _ShadowFolds:
    """A junction's shadow (controller/core/shadow.py: the measured green shares and cycles,
    which only the exposition reads) and the `shadow.observe` calls noted on it but not yet
    made. `settle` makes them in the order noted, on the same arguments, so the shadow read is,
    bit for bit, the one the calls made when noted would have given. `clock_s`: the clock the
    shadow has once they are made."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.state = shadow.initial(layout, 0.0)
        self.clock_s = 0.0
        self.calls: list[tuple[float, SignalStatus, float]] = []  # (the shadow's clock before, status, now_s)
        self.refresh_at: int | None = None  # calls noted before the last refresh; None: none since settled

    def note(self, start_s: float, status: SignalStatus, now_s: float) -> None:
        """`shadow.observe` of `status` at `now_s`, on the shadow with its clock at `start_s`."""
        self.calls.append((start_s, status, now_s))
        self.clock_s = now_s

    def settle(self, window_s: float) -> shadow.ShadowState | None:
        """Make the calls noted; returns the shadow as it stood at the last refresh noted since
        the last settle (None if there was none)."""
        return self.fold(*self.take(), window_s)

    def take(self) -> tuple[list[tuple[float, SignalStatus, float]], int | None]:
        """The calls noted and the last refresh's mark among them, handed over (none left noted)."""
        taken = (self.calls, self.refresh_at)
        self.calls, self.refresh_at = [], None
        return taken

    def fold(
        self, calls: list[tuple[float, SignalStatus, float]], mark: int | None, window_s: float
    ) -> shadow.ShadowState | None:
        """Make `calls` (taken in the order noted, every take folded in the order taken) on the
        shadow; returns the shadow as it stood at `mark` (None without one)."""
        state, at_refresh = self.state, None
        for k, (start_s, status, now_s) in enumerate(calls):
            if k == mark:
                at_refresh = state
            state = shadow.observe(_at(state, start_s), self.layout, status, now_s, window_s)
        if mark == len(calls):
            at_refresh = state
        self.state = state
        return at_refresh


class _Junction:
    """Per-junction bookkeeping of the exporter (plain mutable state, owned by one exporter)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        lane_len_m = lane_lengths_m(layout)
        self.watched = (layout.lane_adv >= 0) & (lane_len_m > 0)  # lanes with an advance loop and a length
        # Per movement: the share of its lanes that are watched, and share-weighted means over them.
        on = layout.lane_share * self.watched
        self.mov_watched = on.sum(axis=1) / np.maximum(layout.lane_share.sum(axis=1), 1e-12)
        self.mov_weights = on / np.maximum(on.sum(axis=1, keepdims=True), 1e-12)  # (movements, lanes)
        self.mov_len_m = self.mov_weights @ lane_len_m
        self.mov_zone_m = self.mov_weights @ layout.lane_zone_m
        shape = _ApproachShape.of(self.mov_len_m, self.mov_zone_m)
        self.length_m, self.zone_m, self.upstream_m = shape.length_m, shape.zone_m, shape.upstream_m
        self.any_watched = bool(self.watched.any())
        self.last_arrivals_pcu: np.ndarray | None = None
        self.fixed_capacity_pcu_h = fixed_capacity_pcu_h(layout)  # per lane
        # Lanes whose departures are measured: the throughput figures count only these, so a lane
        # without a stop-line loop (its demand borrowed by the estimator) is not read as unserved.
        self.counted = layout.lane_stop >= 0
        self.fixed_capacity_counted_pcu_s = self.fixed_capacity_pcu_h[self.counted] / 3600.0
        self.cum = np.zeros(len(CUM))
        self.cum_t_s: float | None = None
        self.cum_t0_s: float | None = None
        self.rates = np.zeros(len(CUM))  # over the last throughput_window_s, per second
        self.folds = _ShadowFolds(layout)  # its clock is set at the service's first tick
        # The signal state not yet folded into the shadow: its last status and when it was seen.
        self.held: SignalStatus | None = None
        self.held_key: tuple[int, bool] | None = None
        self.held_t_s = 0.0
        self.held_keep = 1.0  # product of the EWMA's (1 - step) over the ticks not yet folded
        self.c: dict[str, Counter] = {}  # this junction's metric children (counters), by attribute name
        self.gauges = [0.0] * len(JUNCTION_GAUGES)  # JUNCTION_GAUGES' values, exported by _JunctionGauges
        # what the cycle gauge reads, as the last refresh left it: the plan's cycle (s), or the
        # shadow's intervals between green onsets, their median taken only when it is collected
        self.cycle_from: float | np.ndarray = float(layout.junction.base_cycle_s())
        # the shadow's intervals at the last refresh folded: the cycle gauge's source while
        # cycle_measured (set by the fold alone, which may run beside a tick: ServiceMetrics.collected)
        self.cycle_shadow: np.ndarray | None = None
        # what the last refresh left for the figures read off the shadow when it is collected
        # (_settle): the estimate's flows and saturation flows (PCU/h), and whether the cycle
        # gauge reads the shadow's (no plan in force)
        self.saturation_in: tuple[np.ndarray, np.ndarray] = (np.zeros(0), np.zeros(0))
        self.cycle_measured = False
        self.by_class = [0.0] * len(VEHICLE_CLASSES)  # throughput by class, veh/s (VEHICLE_CLASSES order)
        self.modes: dict[str, Gauge] = {}
        self.mode: str | None = None
        self.harm_switches = 0  # the core's count of do-no-harm switches, as last seen
        self.mode_in: tuple[object, ...] | None = None  # what decided the mode gauges last (_each_tick)
        self.last_plan_id: str | None = None
        self.pending: list[int] = []  # seqs pushed, not yet reported by the roadside
        self.faulty = np.zeros(len(layout.det_index), dtype=bool)
        self.crossed: deque[tuple[float, dict[str, int], np.ndarray]] = deque()
        self.adv_lanes = layout.lane_adv >= 0
        self.gains: shadow.Gains | None = None  # the core's shadow at the last refresh (None: n/a)
        self.refreshed = False  # refreshed at least once
        self.throughput_veh_s = 0.0
        self.speed_mps = math.nan
        self.speed_weight = 0.0
        self.next_update_s = math.inf

    def settle(self, window_s: float) -> None:
        """Fold the signal states noted into the shadow (_ShadowFolds) and set what the last
        refresh read off it: the degree of saturation of the critical movement q/(λs), λ the
        shadow's green share, and the cycle gauge's intervals (when no plan was in force)."""
        self.apply(self.folds.settle(window_s), self.saturation_in)

    def apply(self, at_refresh: shadow.ShadowState | None, saturation_in: tuple[np.ndarray, np.ndarray]) -> None:
        """What a fold gives the gauges: the degree of saturation of the critical movement at
        the refresh's flows (`saturation_in`), and the shadow's intervals for the cycle gauge.
        Writes only what no tick writes (the saturation's slot, cycle_shadow)."""
        if at_refresh is None:
            return
        flow, sat_flow = saturation_in
        self.gauges[_G_SAT] = saturation_ratio(flow, sat_flow, at_refresh.green_share)
        self.cycle_shadow = at_refresh.cycle_s

    def copies(self) -> tuple[list[float], list[float]]:
        """Copies of the gauges' and the throughput by class's values as they are now."""
        return list(self.gauges), list(self.by_class)

    def cycle_s(self, measured: bool, cycle_from: float | np.ndarray) -> float:
        """The cycle gauge's value: the plan's cycle, else the median of the measured intervals
        between green onsets over movements (np.median's value), else the base program's.
        `measured`, `cycle_from`: the junction's cycle_measured and cycle_from at the reading."""
        src = self.cycle_shadow if measured and self.cycle_shadow is not None else cycle_from
        if isinstance(src, float):
            return src
        c = np.sort(src[np.isfinite(src)])
        n = len(c)
        if not n:
            return float(self.layout.junction.base_cycle_s())
        return float(c[n // 2]) if n % 2 else float((c[n // 2 - 1] + c[n // 2]) / 2.0)


class _JunctionGauges:
    """The junction gauges (JUNCTION_GAUGES, THROUGHPUT_BY_CLASS) as a prometheus-client
    collector: each junction's values as the last refresh left them, read when the registry is
    collected; the same families, series, labels and values Gauge children would export.
    The values, the figures read off the shadows completed, come from `collected`
    (ServiceMetrics.collected): the state between two ticks."""

    def __init__(self, collected: Callable[[], list[tuple[str, list[float], list[float]]]]) -> None:
        self._collected = collected

    def describe(self) -> list[GaugeMetricFamily]:
        return self._families([])

    def collect(self) -> list[GaugeMetricFamily]:
        return self._families(self._collected())  # the families built without holding a tick

    @staticmethod
    def _families(values: list[tuple[str, list[float], list[float]]]) -> list[GaugeMetricFamily]:
        out = []
        for k, (_key, name, doc) in enumerate(JUNCTION_GAUGES):
            fam = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=["junction"])
            for jid, gauges, _by_class in values:
                fam.add_metric([jid], gauges[k])
            out.append(fam)
        name, doc = THROUGHPUT_BY_CLASS
        fam = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=["junction", "class"])
        for jid, _gauges, by_class in values:
            for cls, v in zip(VEHICLE_CLASSES, by_class, strict=True):
                fam.add_metric([jid, cls], v)
        out.append(fam)
        return out


class ServiceMetrics:
    """The service's metrics in `registry`. Thread-safe to scrape while the service ticks."""

    def __init__(
        self,
        registry: CollectorRegistry,
        junctions: Mapping[str, Intersection],
        cfg: Config,
        *,
        params: MetricsConfig | None = None,
        within: ServiceMetrics | None = None,
        collected: bool = True,
    ) -> None:
        """`params`: the [metrics] figures' cadence and windows, cfg.metrics by default. `within`:
        another exporter of `registry` whose families this one's junctions join (`share`).
        `collected` False: nothing will collect `registry` (a `simulate` run without a metrics
        endpoint), so only the run report (`report`) is read: the ticks and refreshes compute what it
        reads and leave the series only the exposition reads (counters, modes, the junction gauges,
        the signal states noted for the shadows) as they start. The report is the same, bit for bit."""
        if not isinstance(registry, CollectorRegistry):
            raise TypeError(f"registry must be a prometheus_client.CollectorRegistry, got {type(registry).__name__}")
        self.registry = registry
        self.params = params or cfg.metrics
        for name in ("update_s", "gain_window_s", "throughput_window_s"):
            v = getattr(self.params, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"metrics {name} must be a finite number > 0, got {v!r}")
        self._j = {jid: _Junction(Layout.build(j, cfg)) for jid, j in junctions.items()}
        # the junctions refreshed in one tick, by their ids: their statics concatenated
        self._groups: dict[tuple[str, ...], GroupStatics] = {}
        self._started = False
        self.updates = 0  # per-junction refreshes done
        self._last_network_s: float | None = None
        self._failing: dict[str, str] = {}  # junction -> failure_label: the series on tsc_junction_failed_info
        self._run = _RunTotals()
        self._last_network: dict[str, float | None] = {}
        self._lock = threading.Lock()  # a tick against a collection (_JunctionGauges)
        # the shadows' folds (taken under _lock, made under this one alone: a tick need not wait
        # for them); taken under _lock before _lock is released, so the folds go in the order taken
        self._fold_lock = threading.Lock()
        self._pending_folds = 0  # signal states noted in the shadows and not yet folded (_ShadowFolds)
        self._shares: tuple[ServiceMetrics, ...] = ()  # the exporters in this one's families (share)
        self._share_lock = threading.Lock()
        self._within = within
        self._refused: dict[str, str] = {}  # junction -> reason: the series on tsc_junction_refused_info
        self.collected_ = collected  # False: only `report` is read (the exposition never is)
        if within is None:
            self._declare(registry)
        else:
            self._join(within)
        self._init_children()

    def share(self, junctions: Mapping[str, Intersection], cfg: Config) -> ServiceMetrics:
        """The exporter of another service of this process (a region taken over, controller/
        takeover.py) in this one's families: its junctions' series beside this one's, under the
        same names and labels (`junction`), and the service-wide series (feed messages, ticks,
        plans' twin runs, the metrics' own cost) counted together, as one instance's; the
        tsc_network_* gauges, this exporter's, cover its junctions too (everything the instance
        controls now), and the shared one computes no network figures of its own. `leave` takes
        its junctions' series out again, and out of the network figures from their next refresh."""
        if self._within is not None:
            raise ValueError("a shared exporter cannot be shared again: share the one that declared the families")
        return ServiceMetrics(self.registry, junctions, cfg, params=self.params, within=self)

    def _join(self, within: ServiceMetrics) -> None:
        """`within`'s metrics for this exporter's (share); the network gauges are `within`'s alone
        (its `_network` reads this exporter's junctions, this one's never runs)."""
        for name, metric in list(vars(within).items()):
            if isinstance(metric, (Counter, Gauge, Histogram)) and not name.startswith("net_"):
                setattr(self, name, metric)
        with within._share_lock:
            within._shares = (*within._shares, self)

    def leave(self) -> None:
        """A shared exporter's junctions leave the families (the region handed back, its own
        instance reporting them again): their series go, and its junction gauges are no longer
        collected. The service-wide series keep what it counted."""
        within = self._within
        if within is None:
            raise ValueError("only a shared exporter (share) can leave")
        with within._share_lock:
            within._shares = tuple(s for s in within._shares if s is not self)
        with self._lock:
            for jid in self._j:
                for name in _JUNCTION_COUNTERS:
                    getattr(self, name).remove(jid)
                for m in MODES:
                    self.mode.remove(jid, m)
            for jid, label in self._failing.items():
                self.failed_info.remove(jid, label)
            for jid, why in self._refused.items():
                self.refused_info.remove(jid, why)
            self._failing, self._refused = {}, {}

    def _collected_all(self) -> list[tuple[str, list[float], list[float]]]:
        """`collected`, and that of every exporter sharing this one's families (share)."""
        values = self.collected()
        for other in self._shares:
            values += other.collected()
        return values

    # -- declaration --------------------------------------------------------------------------
    def _declare(self, r: CollectorRegistry) -> None:
        """Every metric, in `r` (docs/metrics.md)."""

        def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
            return Gauge(f"{PREFIX}_{name}", doc, list(labels), registry=r)

        def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
            return Counter(f"{PREFIX}_{name}", doc, list(labels), registry=r)

        self._declare_service(r, gauge, counter)
        self._declare_junctions(gauge, counter)
        # the junction gauges the refresh sets (JUNCTION_GAUGES)
        r.register(_JunctionGauges(self._collected_all))
        self._declare_network(gauge)

    def _declare_service(self, r: CollectorRegistry, gauge: _Make[Gauge], counter: _Make[Counter]) -> None:
        """Feed, detectors, ticks and plans."""
        J = ["junction"]
        self.received = counter(
            "feed_messages_received", "Field messages received, by kind (detectors, status).", ["kind"]
        )
        self.rejected = counter(
            "feed_messages_rejected", "Field messages dropped by validation, by reason.", ["reason"]
        )
        self.feed_late = counter(
            "feed_late_junctions",
            "Junctions whose detector message of a second was not in when its tick started at the latest "
            "([service] tick_wait_max_s, `run`): the tick went on without it.",
        )
        self.detector_faults = counter(
            "detector_faults", "Loops that turned faulty (stuck-on, stuck-off, implausible, missing).", J
        )
        self.tick_duration = Histogram(
            f"{PREFIX}_tick_duration_seconds",
            "Wall-clock duration of one control tick (estimation, policy, safety gate, publishing).",
            buckets=TICK_BUCKETS_S,
            registry=r,
        )
        self.metrics_cost = counter("metrics_update_seconds", "Wall-clock seconds spent updating these metrics.")
        self.service_time = gauge("service_time_seconds", "The service clock (simulated seconds in a replay).")
        self.plans_computed = counter("plans_computed", "New plan decisions brought to the safety gate.", J)
        self.plans_refused = counter("plans_refused_by_gate", "Plan decisions the safety gate refused.", J)
        self.plans_pushed = counter("plans_pushed", "Plan messages published to the roadside (new and refreshed).", J)
        self.plans_acked = counter("plans_acknowledged", "Pushed plans whose seq the roadside status reported.", J)
        self.plans_validated = counter(
            "plans_validated", "Candidate plans the validation gate's SUMO twin passed (docs/validation.md).", J
        )
        self.plans_twin_rejected = counter(
            "plans_rejected_by_twin",
            "Candidate plans the validation gate's SUMO "
            "twin predicted worse than the plans in force by more than the margin.",
            J,
        )
        self.twin_run = Histogram(
            f"{PREFIX}_twin_run_duration_seconds",
            "Wall-clock time of one validation by "
            "the SUMO twin, from its start to its verdict (worker, scenario, incumbent and "
            "candidate runs; failures and timeouts included).",
            buckets=TWIN_BUCKETS_S,
            registry=r,
        )

    def _declare_junctions(self, gauge: _Make[Gauge], counter: _Make[Counter]) -> None:
        """Per junction: traffic, gains, cycle, mode."""
        J = ["junction"]
        self.mode = gauge(
            "junction_mode",
            "1 for the junction's current mode (adaptive, fallback, manual, fixed, refused, failed).",
            ["junction", "mode"],
        )
        self.failed_info = gauge(
            "junction_failed_info",
            "1 for a junction whose decision raised this tick, labelled with the reason; it is left on its own "
            "program and decided again next tick.",
            ["junction", "reason"],
        )
        self.refused_info = gauge(
            "junction_refused_info",
            "1 for a junction refused at start, labelled with the reason; it stays on its own program for the run.",
            ["junction", "reason"],
        )
        self.fallbacks = counter("junction_fallbacks", "Changes from adaptive or manual control to fallback.", J)
        self.harm_switches = counter(
            "junction_harm_switches",
            "Do no harm: switches back to the fixed plan, the "
            "policy being estimated worse than it (controller/core/harm.py).",
            J,
        )

    def _declare_network(self, gauge: _Make[Gauge]) -> None:
        """The network's figures."""
        self.net_delay_gain = gauge("network_delay_gain_ratio", "Network delay gain over fixed-time (demand-weighted).")
        self.net_throughput_gain = gauge(
            "network_throughput_gain_ratio",
            "PCU measured over the stop lines / "
            "the fixed-time plans' estimated service of the same demand - 1; NaN "
            "(n/a) while they serve it all.",
        )
        self.net_delay = gauge(
            "network_delay_seconds",
            "Modelled demand-weighted mean delay per PCU under the control given (the shadow's model).",
        )
        self.net_measured_delay = gauge(
            "network_measured_delay_seconds",
            "Measured delay per PCU per junction passed (Little's law over all watched approaches).",
        )

        self.net_fixed_delay = gauge(
            "network_fixed_time_delay_seconds", "Demand-weighted mean delay per PCU under the fixed-time shadow."
        )
        self.net_served = gauge("network_throughput_pcu_per_second", "PCU measured over the stop lines, PCU/s.")
        self.net_fixed_served = gauge(
            "network_fixed_time_throughput_pcu_per_second",
            "What the fixed-time plans are estimated to serve of the measured demand, PCU/s.",
        )
        self.net_demand = gauge("network_demand_pcu_per_second", "Measured arrival demand, PCU/s.")
        self.net_crossings = gauge(
            "network_throughput_vehicles_per_second", "Stop-line crossings of all junctions per second of service time."
        )
        self.net_speed = gauge(
            "network_approach_speed_meters_per_second",
            "Space-mean (journey) speed over all watched approaches: vehicle-distance / vehicle-time (Edie).",
        )
        self.net_loop_speed = gauge(
            "network_loop_speed_meters_per_second",
            "Flow-weighted spot speed of the "
            "moving vehicles over the advance loops (about free flow; not a journey speed).",
        )

    def _init_children(self) -> None:
        """Create every labelled series up front (at 0) and cache the hot ones."""
        self._received = {k: self.received.labels(kind=k) for k in MESSAGE_KINDS}
        self._rejected = {r: self.rejected.labels(reason=r) for r in FEED_REJECT_REASONS}
        if not self.collected_:  # nothing reads the junctions' series, nor counts into them (_tick_done)
            return
        for jid, j in self._j.items():
            j.c = {n: getattr(self, n).labels(junction=jid) for n in _JUNCTION_COUNTERS}
            j.modes = {m: self.mode.labels(junction=jid, mode=m) for m in MODES}
            j.modes["fallback"].set(1.0)

    # -- the service's observer ---------------------------------------------------------------
    def junctions_refused(self, refused: Mapping[str, str]) -> None:
        """At start, the junctions the service refused (junction id -> reason, ControllerService.
        refused): mode `refused` for the run (the core never ticks them, so nothing sets it again)
        and the reason on tsc_junction_refused_info. Their estimates (queue, delays, gains,
        saturation, speed) read NaN, not estimated; their counts (faulty loops, throughput by
        class) stay 0, so that sums over junctions stay defined. A junction not exported here (a
        region's halo) is skipped."""
        for jid, why in refused.items():
            j = self._j.get(jid)
            if j is None:
                continue
            self._set_mode(j, "refused", 0)
            self.refused_info.labels(junction=jid, reason=why).set(1.0)
            self._refused[jid] = why
            for k in _NOT_ESTIMATED:
                j.gauges[k] = math.nan

    def message_received(self, kind: str, count: int = 1) -> None:
        """`count` field messages of `kind` arrived (an in-process frame stands for one per junction)."""
        child = self._received.get(kind)
        (child or self.received.labels(kind=kind)).inc(count)

    def junctions_late(self, count: int) -> None:
        """A live tick started at its latest without `count` junctions' detector messages of its second."""
        self.feed_late.inc(count)

    def message_rejected(self, reason: str) -> None:
        child = self._rejected.get(reason)
        if child is None:  # a reason added to the feed validation later: counted all the same
            child = self._rejected[reason] = self.rejected.labels(reason=reason)
        child.inc()

    def plan_validated(self, junction: str) -> None:
        """The validation gate's twin ran a plan and found it fit to push."""
        self.plans_validated.labels(junction=junction).inc()

    def plan_rejected_by_twin(self, junction: str) -> None:
        """The validation gate's twin ran a plan and refused it."""
        self.plans_twin_rejected.labels(junction=junction).inc()

    def twin_ran(self, seconds: float) -> None:
        """One twin validation took `seconds` of wall-clock time from its start to its verdict."""
        self.twin_run.observe(seconds)

    def tick_done(self, state: CoreState, result: TickResult, now_s: float, duration_s: float) -> None:
        """After each tick: the core's new state, what the tick produced, the service time and
        the tick's wall-clock duration."""
        with self._lock:
            self._tick_done(state, result, now_s, duration_s)

    def settle(self) -> None:
        """Fold every junction's shadow up to now and set the figures the last refresh reads off
        it (_Junction.settle). The registry's collection does it (under the exporter's lock);
        nothing else reads the shadows. Its time counts in the metrics' own cost."""
        t0 = time.perf_counter()
        self._settle_all()
        self.metrics_cost.inc(time.perf_counter() - t0)

    def _settle_all(self) -> None:
        w = self.params.gain_window_s
        with self._fold_lock:
            for j in self._j.values():
                j.settle(w)
        self._pending_folds = 0

    def collected(self) -> list[tuple[str, list[float], list[float]]]:
        """The junction gauges' values at a collection, (junction, JUNCTION_GAUGES' values,
        throughput by class): what `settle` then reading every junction under the exporter's
        lock gives, bit for bit, but the lock held only to take the signal states noted and
        copy the values; the shadows folded after, under the folds' own lock, so that a tick
        waits for the copy and not for the fold. Its time counts in the metrics' own cost."""
        t0 = time.perf_counter()
        w = self.params.gain_window_s
        with self._lock:
            taken = [
                (
                    jid,
                    j,
                    j.folds.take(),
                    j.saturation_in,
                    j.cycle_measured,
                    j.cycle_from,
                    list(j.gauges),
                    list(j.by_class),
                )
                for jid, j in self._j.items()
            ]
            self._pending_folds = 0
            self._fold_lock.acquire()  # before a tick can take again: takes are folded in their order
        try:
            values = []
            for jid, j, (calls, mark), saturation_in, measured, cycle_from, gauges, by_class in taken:
                j.apply(j.folds.fold(calls, mark, w), saturation_in)
                gauges[_G_SAT] = j.gauges[_G_SAT]
                gauges[_G_CYCLE] = j.cycle_s(measured, cycle_from)
                values.append((jid, gauges, by_class))
        finally:
            self._fold_lock.release()
        self.metrics_cost.inc(time.perf_counter() - t0)
        return values

    def _tick_done(self, state: CoreState, result: TickResult, now_s: float, duration_s: float) -> None:
        t0 = time.perf_counter()
        if not self._started:
            self._started = True
            n = max(len(self._j), 1)
            # [metrics] stagger: the refreshes spread over update_s (a little work every tick), or
            # every junction in one pass at each update_s (one group: fewer, larger numpy passes)
            stagger = self.params.stagger
            for k, j in enumerate(self._j.values()):
                j.folds.clock_s = now_s
                j.next_update_s = now_s + self.params.update_s * k / n if stagger else now_s
        if self.collected_:
            self.tick_duration.observe(duration_s)
            self.service_time.set(now_s)
            self._count_plans(result)
            due = self._each_tick(state, result, now_s)
        else:  # only the report is read: nothing the exposition alone reads
            due = self._due(state, now_s)
        if due:
            self._refresh(due, now_s)
        # The network figures once per update_s (each junction's part was refreshed within it);
        # a shared exporter's junctions are in those of the exporter it shares (`_network`).
        if (
            due
            and self._within is None
            and (self._last_network_s is None or now_s - self._last_network_s >= self.params.update_s)
        ):
            self._network(now_s)
        if self._pending_folds > MAX_PENDING_FOLDS:  # nobody collects: bound what waits for it
            self._settle_all()
        self.metrics_cost.inc(time.perf_counter() - t0)

    def _each_tick(
        self, state: CoreState, result: TickResult, now_s: float
    ) -> list[tuple[str, _Junction, JunctionState]]:
        """Per junction, every tick: plan acknowledgements, the signal state folded for the
        online gain (_observe), the mode gauges (set only when what decides them changed:
        _set_mode would change nothing otherwise; a light of TickResult.fixed reads fixed, as
        Core.report shows it). Returns the junctions due for a refresh."""
        due: list[tuple[str, _Junction, JunctionState]] = []
        manual, fixed, failed = set(result.manual), set(result.fixed), dict(result.failed)
        if failed or self._failing:
            self._failure_info(failed)
        for jid, js in state.junctions.items():
            j = self._j.get(jid)
            if j is None:
                continue
            status = js.status
            if status is not None and j.pending and status.seq >= j.pending[0]:
                if status.seq in j.pending:
                    j.c["plans_acked"].inc()
                j.pending = [s for s in j.pending if s > status.seq]
            self._observe(j, status, now_s)
            harm_state = js.harm
            status_mode = status.mode if status is not None else None
            harm_mode, switches = (harm_state.mode, harm_state.switches) if harm_state is not None else (None, 0)
            if jid in fixed:  # on the city's plan: its own verdict, or held there by its short-link group
                harm_mode = "fixed"
            mode_in = (js.stale, status_mode, harm_mode, jid in manual, switches, jid in failed)
            if mode_in != j.mode_in:
                j.mode_in = mode_in
                mode = junction_mode(js.stale, status_mode, harm_mode, manual=jid in manual, failed=jid in failed)
                self._set_mode(j, mode, switches)
            if now_s >= j.next_update_s:
                due.append((jid, j, js))
        return due

    def _due(self, state: CoreState, now_s: float) -> list[tuple[str, _Junction, JunctionState]]:
        """The junctions due for a refresh, in _each_tick's order (without `collected_`: nothing else done)."""
        known = self._j
        return [
            (jid, j, js)
            for jid, js in state.junctions.items()
            if (j := known.get(jid)) is not None and now_s >= j.next_update_s
        ]

    def _count_plans(self, result: TickResult) -> None:
        """Plans pushed, computed and refused in this tick; sequence numbers awaiting an ack."""
        for cmd in result.commands:
            j = self._j.get(cmd.junction)
            if j is None:
                continue
            j.c["plans_pushed"].inc()
            if cmd.plan_id != j.last_plan_id:
                j.last_plan_id = cmd.plan_id
                j.c["plans_computed"].inc()
            j.pending.append(cmd.seq)
            del j.pending[:-MAX_PENDING_ACKS]
        for refusal in result.refusals:
            j = self._j.get(refusal.junction)
            if j is not None:
                j.c["plans_computed"].inc()
                j.c["plans_refused"].inc()

    def _failure_info(self, failed: Mapping[str, str]) -> None:
        """tsc_junction_failed_info: one series per junction whose decision raised this tick
        (TickResult.failed), labelled with its reason without the exception's message
        (failure_label); a series goes when its junction is decided again or that label changes
        (the new label gets a series)."""
        labels = {jid: failure_label(reason) for jid, reason in failed.items() if jid in self._j}
        for jid, label in self._failing.items():
            if labels.get(jid) != label:
                self.failed_info.remove(jid, label)
        for jid, label in labels.items():
            if self._failing.get(jid) != label:
                self.failed_info.labels(junction=jid, reason=label).set(1.0)
        self._failing = labels

    @staticmethod
    def _set_mode(j: _Junction, mode: str, switches: int) -> None:
        """The junction's mode gauge, its fallback count and its do-no-harm switch count."""
        if switches > j.harm_switches:
            j.c["harm_switches"].inc(switches - j.harm_switches)
        j.harm_switches = max(j.harm_switches, switches)
        if mode != j.mode:
            if mode == "fallback" and j.mode is not None:
                j.c["fallbacks"].inc()
            for m, child in j.modes.items():
                child.set(1.0 if m == mode else 0.0)
            j.mode = mode

    def _observe(self, j: _Junction, status: SignalStatus | None, now_s: float) -> None:
        """Note the signal state for the shadow (controller/core/shadow.py) as a call of
        `shadow.observe` every tick would fold it, but only once per run of the same signal
        state: at a change, the run of the old state (`_catch_up`), then the first tick of the
        new one, which records its green onsets. In between, only the EWMA's decay is
        multiplied up. The calls are made when the shadow is read (_ShadowFolds)."""
        if status is None:  # nothing to fold: time passes (shadow.observe does the same)
            j.folds.clock_s = now_s
            return
        key = (status.phase, status.in_intergreen)
        w = self.params.gain_window_s
        if key != j.held_key:
            self._catch_up(j)
            j.folds.note(j.folds.clock_s, status, now_s)
            self._pending_folds += 1
            j.held_key = key
        else:
            j.held_keep *= 1.0 - min(1.0, (now_s - j.held_t_s) / w)
        j.held, j.held_t_s = status, now_s

    def _catch_up(self, j: _Junction) -> None:
        """Fold the held state's ticks since the last fold in one `shadow.observe` call, its
        interval chosen so that the one EWMA step equals the per-tick steps it replaces."""
        if j.held is None or j.held_keep >= 1.0:
            return
        w = self.params.gain_window_s
        span_s = w * (1.0 - j.held_keep)  # observe's step is min(1, dt / window)
        j.folds.note(j.held_t_s - span_s, j.held, j.held_t_s)
        self._pending_folds += 1
        j.held_keep = 1.0

    # -- every update_s, all junctions together (or staggered over the interval: [metrics] stagger) --
    def _refresh(self, due: list[tuple[str, _Junction, JunctionState]], now_s: float) -> None:
        """Refresh the gauges of the junctions due this tick from the core's estimates, their
        figures computed together (metrics_group.py); the shadows' at their next collection (none
        without a collection: `collected_`)."""
        key = tuple(jid for jid, _j, _js in due)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= 4 * max(len(self._j), 1):  # the stagger moved: start again
                self._groups.clear()
            group = self._groups[key] = GroupStatics.build([j for _jid, j, _js in due])
        ests, lasts, valid, dts = [], [], [], []
        for _jid, j, js in due:
            j.next_update_s = max(j.next_update_s + self.params.update_s, now_s + 1e-9)
            if self.collected_:
                self._catch_up(j)
                j.folds.refresh_at = len(j.folds.calls)
            est = js.estimate
            arrivals = np.asarray(est.arrivals_pcu, dtype=float)
            last, j.last_arrivals_pcu = j.last_arrivals_pcu, arrivals
            ok = j.any_watched and last is not None and last.shape == arrivals.shape
            ests.append(est)
            lasts.append(last if ok and last is not None else arrivals)
            valid.append(ok)
            dts.append(0.0 if j.cum_t_s is None else max(now_s - j.cum_t_s, 0.0))
        fig = group_figures(group, ests, lasts, np.array(valid), np.array(dts))
        for i, (_jid, j, js) in enumerate(due):
            self._update_junction(j, js, fig, i, now_s)

    def _update_junction(self, j: _Junction, js: JunctionState, fig: GroupFigures, i: int, now_s: float) -> None:
        """Refresh one junction's figures: its figures are the group's `i`th (group_figures). What the
        run report and the network figures read, then (`collected_`) its gauges and fault counts."""
        self.updates += 1
        est = js.estimate
        g = self._gains(j, js)
        j.gains = g
        j.refreshed = True
        self._accumulate(j, est, fig, i, now_s)
        j.throughput_veh_s = self._throughput(j, dict(est.crossed_by_class), now_s)
        j.speed_mps, j.speed_weight = float(fig.speed_mps[i]), float(fig.speed_weight[i])
        if self.collected_:
            self._gauges(j, js, g, fig.queue_pcu[i])

    def _gauges(self, j: _Junction, js: JunctionState, g: shadow.Gains | None, queue_pcu: float) -> None:
        """The junction gauges the exposition alone reads (and its fault counts), at a refresh."""
        est = js.estimate
        v = j.gauges
        v[_G_QUEUE] = float(queue_pcu)
        v[_G_DELAY] = math.nan if g is None else float(g.delay_controlled_s)
        v[_G_FIXED] = math.nan if g is None else float(g.delay_fixed_s)
        v[_G_GAIN] = math.nan if g is None else float(g.delay_gain)
        # the degree of saturation, and the cycle when no plan is in force, read off the shadow
        # as it stands now, when collected (_Junction.settle): acyclic control and the
        # roadside's own plan have a cycle too (the median of the shadow's onset intervals)
        # (copies: the estimate's arrays as they are now, whatever the estimator does with them later)
        j.saturation_in = (np.array(est.flow_pcu_h, dtype=float), np.array(est.sat_flow_pcu_h, dtype=float))
        cmd = js.command
        if isinstance(cmd, CyclePlan) and not js.stale:
            j.cycle_from, j.cycle_measured = float(cmd.cycle_s), False
        else:
            j.cycle_measured = True
        self._faults(j, est)
        r = j.rates
        speed_mps = ratio_or_none(r[_C["distance_pcu_m"]], r[_C["time_pcu_s"]])
        delay_s = ratio_or_none(r[_C["delay_pcu_s"]], r[_C["arrived_pcu"]])
        gain = throughput_gain(
            r[_C["served_pcu"]], r[_C["fixed_served_pcu"]], r[_C["fixed_short_pcu"]], r[_C["demand_pcu"]]
        )
        v[_G_SPEED] = math.nan if speed_mps is None else float(speed_mps)
        v[_G_MEASURED] = math.nan if delay_s is None else float(max(delay_s, 0.0))
        v[_G_TGAIN] = math.nan if gain is None else float(gain)

    @staticmethod
    def _gains(j: _Junction, js: JunctionState) -> shadow.Gains | None:
        """The fixed-time shadow's figures: the core's own (its do-no-harm replay, `js.harm`);
        None (n/a) from a core state without one."""
        return js.harm.gains if js.harm is not None else None

    @staticmethod
    def _accumulate(j: _Junction, est: Estimate, fig: GroupFigures, i: int, now_s: float) -> None:
        """Add this refresh to the junction's cumulative quantities (CUM): counts as they stand,
        rates integrated over the time since the last refresh (the group's `i`th figures).

        The fixed program's service of the measured demand, per lane: Σ min(q, c), its shortfall
        Σ (q − c)⁺. Demand: the advance loop's flow, never below the stop-line flow (what
        departed had arrived; an advance loop that misses vehicles joining below it understates
        it). Served: the stop-line flow, smoothed as the demand is (the same lag on both sides).
        The traffic on the approaches: `approach_traffic`."""
        if j.cum_t0_s is None:
            j.cum_t0_s = now_s
        j.cum_t_s = now_s
        cum = j.cum
        cum[_C["departed_pcu"]] = float(fig.departed_pcu[i])
        cum[_C["crossed_veh"]] = float(sum(n for _, n in est.crossed_by_class))
        for k_cum, add in (
            (_ARRIVED, fig.arrived_pcu[i]),
            (_DISTANCE, fig.distance_pcu_m[i]),
            (_TIME, fig.time_pcu_s[i]),
            (_DELAY, fig.delay_pcu_s[i]),
            (_DEMAND, fig.demand_pcu[i]),
            (_SERVED, fig.served_pcu[i]),
            (_FIXED_SERVED, fig.fixed_served_pcu[i]),
            (_FIXED_SHORT, fig.fixed_short_pcu[i]),
        ):
            cum[k_cum] += float(add)

    def _network(self, now_s: float) -> None:
        """The network figures from the latest refresh of every junction this instance controls
        now: its own, and those of the regions it has taken over (the exporters sharing its
        families, `share`); the shadow's delays demand-weighted, the measured figures summed over
        junctions before any ratio is taken."""
        dt_s = 0.0 if self._last_network_s is None else now_s - self._last_network_s
        self._last_network_s = now_s
        refreshed = [j for j in self._j.values() if j.refreshed]
        for other in self._shares:  # their refreshes are theirs: taken under their lock
            with other._lock:
                refreshed += [j for j in other._j.values() if j.refreshed]
        tot = shadow.total([j.gains for j in refreshed if j.gains is not None])
        demand_pcu_h, delay_ctrl, delay_fixed = tot.demand_pcu_h, tot.delay_controlled_s, tot.delay_fixed_s
        delay_gain = tot.delay_gain
        rates = np.zeros(len(CUM))
        crossings = speed_num = speed_den = 0.0
        for j in refreshed:
            crossings += j.throughput_veh_s
            rates += j.rates
            if j.speed_weight > 0:
                speed_num += j.speed_mps * j.speed_weight
                speed_den += j.speed_weight
        loop_speed = speed_num / speed_den if speed_den > 0 else math.nan
        m = measured_figures(rates, 1.0)
        for gauge, key, scale in (
            (self.net_throughput_gain, "throughput_gain", 1.0),
            (self.net_speed, "speed_kmh", 1 / 3.6),
            (self.net_measured_delay, "measured_delay_s", 1.0),
            (self.net_served, "throughput_pcu_h", 1 / 3600.0),
            (self.net_fixed_served, "throughput_fixed_pcu_h", 1 / 3600.0),
        ):
            value = m[key]
            gauge.set(math.nan if value is None else value * scale)
        self.net_delay_gain.set(delay_gain)
        self.net_delay.set(delay_ctrl)
        self.net_fixed_delay.set(delay_fixed)
        self.net_demand.set(demand_pcu_h / 3600.0)
        self.net_crossings.set(crossings)
        self.net_loop_speed.set(loop_speed)
        self._last_network = {
            "delay_s": delay_ctrl,
            "delay_fixed_s": delay_fixed,
            "delay_gain": delay_gain,
            "demand_pcu_h": demand_pcu_h,
            "loop_speed_kmh": loop_speed * 3.6 if math.isfinite(loop_speed) else None,
            **m,
        }
        self._run.add(tot, loop_speed, dt_s)

    def _faults(self, j: _Junction, est: Estimate) -> None:
        faulty = np.asarray(est.health.faulty, dtype=bool)
        if faulty.shape != j.faulty.shape:
            return
        new = int(np.count_nonzero(faulty & ~j.faulty))
        if new:
            j.c["detector_faults"].inc(new)
        j.faulty = faulty
        j.gauges[_G_FAULTY] = float(np.count_nonzero(faulty))

    def _throughput(self, j: _Junction, crossed: dict[str, int], now_s: float) -> float:
        """Vehicles over the stop lines per second of service time, by class, over the last
        throughput_window_s (less at the start of a run); the junction's cumulative quantities
        (CUM) likewise turned into rates (`j.rates`). Returns the all-class vehicle total."""
        hist = j.crossed
        hist.append((now_s, crossed, j.cum.copy()))
        window_s = self.params.throughput_window_s
        while len(hist) > 1 and hist[1][0] <= now_s - window_s:
            hist.popleft()
        t_old, old, old_cum = hist[0]
        span_s = now_s - t_old
        j.rates = (j.cum - old_cum) / span_s if span_s > 0 else np.zeros(len(CUM))
        total = 0.0
        by_class = j.by_class
        for k, cls in enumerate(VEHICLE_CLASSES):
            rate_veh_s = (crossed.get(cls, 0) - old.get(cls, 0)) / span_s if span_s > 0 else 0.0
            by_class[k] = float(rate_veh_s)
            total += rate_veh_s
        return total

    # -- the run report -----------------------------------------------------------------------
    def report(self) -> dict[str, object]:
        """The network figures of the dashboard's overview: over the whole run and at the last
        update. Plain JSON types; None where a figure is not defined (n/a). The measured run
        figures are this exporter's own junctions' (a replay's: no replay takes a region over)."""
        cum = sum((j.cum for j in self._j.values()), np.zeros(len(CUM)))
        spans = [j.cum_t_s - j.cum_t0_s for j in self._j.values() if j.cum_t_s is not None and j.cum_t0_s is not None]
        run = self._run.figures()
        run.update(measured_figures(cum, max(spans, default=0.0)))
        return {"updates": self.updates, "run": run, "last": dict(self._last_network)}


def measured_figures(cum: np.ndarray, span_s: float) -> dict[str, float | None]:
    """The measured network figures from quantities summed over junctions (CUM order): cumulative
    ones over `span_s` of service time, or per-second rates with span_s = 1. None: undefined."""
    c = {name: float(cum[k]) for k, name in enumerate(CUM)}
    per_h = 3600.0 / span_s if span_s > 0 else 0.0
    speed_mps = ratio_or_none(c["distance_pcu_m"], c["time_pcu_s"])
    delay_s = ratio_or_none(c["delay_pcu_s"], c["arrived_pcu"])
    return {
        "speed_kmh": None if speed_mps is None else speed_mps * 3.6,
        "measured_delay_s": None if delay_s is None else max(delay_s, 0.0),
        "crossings_veh_h": c["crossed_veh"] * per_h if span_s > 0 else None,
        "throughput_pcu_h": c["departed_pcu"] * per_h if span_s > 0 else None,
        "throughput_fixed_pcu_h": c["fixed_served_pcu"] * per_h if span_s > 0 else None,
        "throughput_gain": throughput_gain(
            c["served_pcu"], c["fixed_served_pcu"], c["fixed_short_pcu"], c["demand_pcu"]
        ),
    }


class _RunTotals:
    """Integrals over service time of the shadow's network figures, for the run report."""

    def __init__(self) -> None:
        self.t_s = 0.0
        self.sums = dict.fromkeys(("demand", "delay_ctrl", "delay_fixed"), 0.0)
        self.speed_t_s = 0.0
        self.speed_sum = 0.0

    def add(self, net: shadow.Gains, loop_speed_mps: float, dt: float) -> None:
        """Integrate the network figures `net` (shadow.total) over `dt` seconds of service time."""
        if dt <= 0:
            return
        self.t_s += dt
        d = net.demand_pcu_h
        for k, v in (("demand", d), ("delay_ctrl", d * net.delay_controlled_s), ("delay_fixed", d * net.delay_fixed_s)):
            self.sums[k] += v * dt
        if math.isfinite(loop_speed_mps):
            self.speed_t_s += dt
            self.speed_sum += loop_speed_mps * dt

    def figures(self) -> dict[str, float | None]:
        s, t = self.sums, self.t_s
        if t <= 0:
            return {"service_s": 0.0}
        delay = s["delay_ctrl"] / s["demand"] if s["demand"] > 0 else 0.0
        fixed = s["delay_fixed"] / s["demand"] if s["demand"] > 0 else 0.0
        run = shadow.Gains(
            delay_fixed_s=fixed,
            delay_controlled_s=delay,
            throughput_fixed_pcu_h=0.0,
            throughput_controlled_pcu_h=0.0,
            demand_pcu_h=s["demand"] / t,
        )
        return {
            "service_s": t,
            "demand_pcu_h": run.demand_pcu_h,
            "delay_s": delay,
            "delay_fixed_s": fixed,
            "delay_gain": run.delay_gain,
            "loop_speed_kmh": self.speed_sum / self.speed_t_s * 3.6 if self.speed_t_s > 0 else None,
        }


class MetricsServer:
    """GET /metrics of one registry, served from a daemon thread until `close()`."""

    def __init__(self, registry: CollectorRegistry, port: int, addr: str = "127.0.0.1") -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"metrics port must be an integer in 0..65535, got {port!r}")
        try:
            httpd, self._thread = start_http_server(port, addr=addr, registry=registry)
        except OSError as exc:
            raise AdapterError(
                f"metrics endpoint: cannot listen on {addr}:{port}: {exc.strerror or exc}", fatal=True
            ) from None
        self._httpd: WSGIServer | None = httpd
        self.addr = addr
        self.port = int(httpd.server_address[1])
        log.info("metrics endpoint up url=%s", self.url)

    @property
    def url(self) -> str:
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def failure_label(reason: str) -> str:
    """tsc_junction_failed_info's `reason`: a failure's reason (step._failure_reason: "WHAT failed:
    TYPE at FILE:LINE: MESSAGE") up to its message. What failed, the exception's type and the place
    it was raised are bounded by the code; the message can carry a number that changes every tick,
    and a label that changes makes a new series each time (the log and `ctl status` keep the whole
    reason)."""
    return ": ".join(reason.split(": ", 2)[:2])

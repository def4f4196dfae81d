"""Score one SUMO run: delay, speed and throughput, by the public RL-benchmark convention.

Sources are SUMO's own outputs of the run:

- tripinfo (``--tripinfo-output F --tripinfo-output.write-unfinished``): one ``<tripinfo>`` per
  vehicle that was inserted. Vehicles still driving at the end carry ``arrival="-1.00"`` and
  ``vaporized="end"`` (SUMO 1.28 also writes a few with ``vaporized=""``, so ``arrival`` is the
  test). Vehicles removed early (TraCI, calibrator, ...) carry their removal time as
  ``arrival`` and a non-empty ``vaporized`` ("traci", ...). With
  ``--tripinfo-output.write-undeparted`` never-inserted vehicles appear too, with
  ``depart="-1"``; they are skipped here, because the statistics file already accounts for them.
- statistics (``--statistic-output F``): ``<vehicles loaded inserted running waiting>`` and
  ``<vehicleTripStatistics departDelayWaiting>``, the mean depart delay (s) of the vehicles never
  inserted. SUMO computes it only when write-unfinished is on (else it writes -1), and averages
  it over every vehicle not inserted whose desired depart is <= the end time; ``waiting`` counts
  only those due by the last executed step. The few due within the final step (depart delay
  ~0 s) make the two sets differ slightly; we take ``waiting x departDelayWaiting`` as given.

Convention (fixed; see the module functions for the formulas):

- delay (s/veh) = mean of ``timeLoss + departDelay`` over inserted and waiting vehicles;
- speed (km/h) = total routeLength / total duration of arrived vehicles x 3.6;
- throughput (veh/h) = arrived vehicles per hour of simulated time; per junction, the stop-line
  crossings counted by the caller, per hour, by vehicle class.

Persons and containers (``personinfo``/``containerinfo``) are ignored.
"""

from __future__ import annotations

import json
import logging
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.errors import DefinitionError

log = logging.getLogger(__name__)

SECONDS_PER_HOUR = 3600.0
MS_TO_KMH = 3.6


class EvaluationError(DefinitionError):
    """A run output (tripinfo or statistics) is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class TripTotals:
    """Sums over the ``<tripinfo>`` elements of inserted vehicles (seconds, metres)."""

    arrived: int
    unfinished: int  # still in the network at the end (arrival < 0)
    removed: int  # left early without arriving (vaporized by TraCI, calibrator, ...)
    time_loss_s: float  # sum of timeLoss over inserted vehicles
    depart_delay_s: float  # sum of departDelay over inserted vehicles
    arrived_route_length_m: float
    arrived_duration_s: float

    @property
    def inserted(self) -> int:
        return self.arrived + self.unfinished + self.removed


@dataclass(frozen=True)
class RunStatistics:
    """The parts of SUMO's statistic-output this module needs (counts; seconds)."""

    loaded: int
    inserted: int
    running: int
    waiting: int
    depart_delay_waiting_s: float  # mean over never-inserted vehicles; -1 if SUMO did not compute it
    teleports: int = 0  # <teleports total>: every vehicle SUMO moved, whatever the cause
    teleports_stuck: int = 0  # jam + yield + wrongLane: stuck too long (only with --time-to-teleport > 0)


# ---------------------------------------------------------------------------- pure formulas


def per_hour(count: float, duration_s: float) -> float:
    """Rate in 1/h of ``count`` events over ``duration_s`` seconds."""
    return count * SECONDS_PER_HOUR / duration_s


def space_mean_speed_kmh(route_length_m: float, duration_s: float) -> float:
    """Total distance / total travel time (m/s) x 3.6; 0.0 when nothing was timed."""
    if duration_s <= 0.0:
        return 0.0
    return route_length_m / duration_s * MS_TO_KMH


def mean_delay_parts_s(trips: TripTotals, stats: RunStatistics) -> tuple[float, float]:
    """(mean time loss, mean depart delay) in s/veh over inserted + waiting vehicles.

    Waiting vehicles contribute no time loss and ``departDelayWaiting`` each as depart delay.
    Their sum is the benchmark delay. No vehicles at all gives (0.0, 0.0).
    """
    vehicles = trips.inserted + stats.waiting
    if vehicles == 0:
        return 0.0, 0.0
    waiting_delay_s = stats.waiting * stats.depart_delay_waiting_s if stats.waiting else 0.0
    return trips.time_loss_s / vehicles, (trips.depart_delay_s + waiting_delay_s) / vehicles


def junction_rates(junction_counts: Mapping[str, Mapping[str, int]], duration_s: float) -> dict[str, dict[str, Any]]:
    """Stop-line crossings per junction and vehicle class -> veh/h, plus the junction total."""
    rates: dict[str, dict[str, Any]] = {}
    for junction, by_class in junction_counts.items():
        for vclass, count in by_class.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(
                    f"junction {junction}: class {vclass}: count must be a non-negative int, got {count!r}"
                )
        rates[str(junction)] = {
            "veh_h": per_hour(sum(by_class.values()), duration_s),
            "by_class_veh_h": {str(c): per_hour(n, duration_s) for c, n in by_class.items()},
        }
    return rates


def summarise(
    trips: TripTotals,
    stats: RunStatistics,
    *,
    duration_s: float,
    junction_counts: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, Any]:
    """The summary.json dict from parsed totals. Pure: no files, no SUMO."""
    time_loss_s, depart_delay_s = mean_delay_parts_s(trips, stats)
    return {
        "delay_s": time_loss_s + depart_delay_s,
        "speed_kmh": space_mean_speed_kmh(trips.arrived_route_length_m, trips.arrived_duration_s),
        "throughput_veh_h": per_hour(trips.arrived, duration_s),
        "duration_s": duration_s,
        "vehicles": {
            "loaded": stats.loaded,
            "inserted": stats.inserted,
            "arrived": trips.arrived,
            "running": stats.running,
            "waiting": stats.waiting,
        },
        "mean_time_loss_s": time_loss_s,
        "mean_depart_delay_s": depart_delay_s,
        "junctions": junction_rates(junction_counts or {}, duration_s),
        "teleports": stats.teleports,
    }


# ---------------------------------------------------------------------------- file readers


def _number(path: Path, element: ET.Element, attr: str, where: str) -> float:
    raw = element.get(attr)
    if raw is None:
        raise EvaluationError(path, f"{where}.{attr}", "attribute missing")
    try:
        value = float(raw)
    except ValueError:
        raise EvaluationError(path, f"{where}.{attr}", f"not a number: {raw!r}") from None
    if not math.isfinite(value):
        raise EvaluationError(path, f"{where}.{attr}", f"not finite: {raw!r}")
    return value


def read_tripinfo(path: str | Path) -> TripTotals:
    """Stream a tripinfo file into :class:`TripTotals` (constant memory; 20k trips is fine)."""
    path = Path(path)
    arrived = unfinished = removed = 0
    time_loss_s = depart_delay_s = length_m = duration_s = 0.0
    root: ET.Element | None = None
    try:
        for event, element in ET.iterparse(path, events=("start", "end")):
            if root is None:
                root = element
                if root.tag != "tripinfos":
                    raise EvaluationError(path, "root", f"expected <tripinfos>, found <{root.tag}>")
                continue
            if event != "end" or element.tag not in ("tripinfo", "personinfo", "containerinfo"):
                continue
            if element.tag == "tripinfo":
                where = f"tripinfo[id={element.get('id', '?')}]"
                if _number(path, element, "depart", where) >= 0.0:  # -1: never inserted
                    time_loss_s += _number(path, element, "timeLoss", where)
                    depart_delay_s += _number(path, element, "departDelay", where)
                    if _number(path, element, "arrival", where) < 0.0:
                        unfinished += 1
                    elif element.get("vaporized", ""):
                        removed += 1
                    else:
                        arrived += 1
                        length_m += _number(path, element, "routeLength", where)
                        duration_s += _number(path, element, "duration", where)
            root.clear()  # drop finished top-level elements; keeps memory flat
    except FileNotFoundError:
        raise EvaluationError(path, "file", "not found") from None
    except ET.ParseError as exc:
        raise EvaluationError(path, "xml", f"malformed: {exc}") from None
    if root is None:
        raise EvaluationError(path, "xml", "empty document")
    return TripTotals(arrived, unfinished, removed, time_loss_s, depart_delay_s, length_m, duration_s)


def read_statistics(path: str | Path) -> RunStatistics:
    """Read the ``<vehicles>`` counts and ``departDelayWaiting`` from a statistic-output file."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise EvaluationError(path, "file", "not found") from None
    except ET.ParseError as exc:
        raise EvaluationError(path, "xml", f"malformed: {exc}") from None
    if root.tag != "statistics":
        raise EvaluationError(path, "root", f"expected <statistics>, found <{root.tag}>")
    vehicles = root.find("vehicles")
    if vehicles is None:
        raise EvaluationError(path, "vehicles", "element missing")
    counts = {}
    for attr in ("loaded", "inserted", "running", "waiting"):
        value = _number(path, vehicles, attr, "vehicles")
        if value < 0 or value != int(value):
            raise EvaluationError(path, f"vehicles.{attr}", f"not a count: {vehicles.get(attr)!r}")
        counts[attr] = int(value)
    trip_stats = root.find("vehicleTripStatistics")
    if trip_stats is None:
        raise EvaluationError(path, "vehicleTripStatistics", "element missing (was --tripinfo-output set?)")
    waiting_delay_s = _number(path, trip_stats, "departDelayWaiting", "vehicleTripStatistics")
    if counts["waiting"] > 0 and waiting_delay_s < 0.0:
        raise EvaluationError(
            path,
            "vehicleTripStatistics.departDelayWaiting",
            f"{waiting_delay_s} with {counts['waiting']} vehicles waiting;"
            " run SUMO with --tripinfo-output.write-unfinished",
        )
    teleports = root.find("teleports")
    total = 0.0 if teleports is None else _number(path, teleports, "total", "teleports")
    if total < 0 or total != int(total):
        raise EvaluationError(path, "teleports.total", f"not a count: {total:g}")
    stuck = total  # without the split (older SUMO) every teleport counts as stuck, as before
    if teleports is not None and all(teleports.get(a) is not None for a in ("jam", "yield", "wrongLane")):
        # the rest of the total are collisions (--collision.action teleport)
        stuck = sum(_number(path, teleports, a, "teleports") for a in ("jam", "yield", "wrongLane"))
    if stuck < 0 or stuck != int(stuck) or stuck > total:
        raise EvaluationError(
            path, "teleports", f"jam + yield + wrongLane {stuck:g} is not a count within total {total:g}"
        )
    return RunStatistics(
        depart_delay_waiting_s=waiting_delay_s, teleports=int(total), teleports_stuck=int(stuck), **counts
    )


def _check_same_run(tripinfo_path: Path, trips: TripTotals, stats: RunStatistics) -> None:
    """Both files must describe the same vehicles, else the mean silently drops some."""
    if trips.inserted != stats.inserted or trips.unfinished != stats.running:
        raise EvaluationError(
            tripinfo_path,
            "tripinfo",
            f"{trips.inserted} inserted / {trips.unfinished} unfinished vehicles, but the"
            f" statistics report inserted={stats.inserted} running={stats.running};"
            " same run? written with --tripinfo-output.write-unfinished?",
        )
    if trips.removed:
        log.warning(
            "vehicles removed before arrival count=%d file=%s; in delay, not in speed/throughput",
            trips.removed,
            tripinfo_path,
        )
    if stats.teleports_stuck:  # the convention (module docstring) runs SUMO with --time-to-teleport -1
        log.warning(
            "vehicles teleported count=%d stuck=%d file=%s: SUMO ran with --time-to-teleport > 0, so the delay"
            " leaves out the time they skipped (the convention's delay runs with -1)",
            stats.teleports,
            stats.teleports_stuck,
            tripinfo_path,
        )
    elif stats.teleports:  # SUMO moves colliding vehicles (--collision.action teleport) whatever --time-to-teleport
        log.warning(
            "vehicles teleported count=%d file=%s: after collisions (SUMO's --collision.action teleport, which"
            " --time-to-teleport -1 does not stop), not jams; the delay leaves out the time they skipped",
            stats.teleports,
            tripinfo_path,
        )


# ---------------------------------------------------------------------------- entry points


def evaluate(
    tripinfo_path: str | Path,
    statistics_path: str | Path,
    *,
    begin_s: float,
    end_s: float,
    junction_counts: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, Any]:
    """Score a run from its tripinfo and statistics files; returns the summary.json dict.

    ``begin_s``/``end_s`` bound the simulated period (s) used for the per-hour rates.
    ``junction_counts`` maps junction id -> vehicle class -> stop-line crossings in that period.
    """
    duration_s = float(end_s) - float(begin_s)
    if not duration_s > 0.0:
        raise ValueError(f"end_s ({end_s}) must be after begin_s ({begin_s})")
    trips = read_tripinfo(tripinfo_path)
    stats = read_statistics(statistics_path)
    _check_same_run(Path(tripinfo_path), trips, stats)
    return summarise(trips, stats, duration_s=duration_s, junction_counts=junction_counts)


def write_summary(summary: Mapping[str, Any], path: str | Path) -> None:
    """Write the summary as pretty JSON with sorted keys (stable diffs between runs)."""
    Path(path).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")

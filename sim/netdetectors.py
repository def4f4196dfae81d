"""Import, detectors: the loops of a junction's incoming lanes, and each lane's queue storage.

Placement rules are in sim/loops.py (docs/import.md, "Detector layout"): a generated stop-line
and advance loop per lane, or the city's own loops from the scenario's additional files. A
lane's queue storage runs from the stop line to its advance loop; without one, along its
upstream chain up to [detectors] advance_dist_m.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sumolib

from controller.config import Config
from controller.errors import NetworkError
from sim import loops

DETECTOR_SOURCES = ("generated", "city")


@dataclass(frozen=True)
class LoopSource:
    """Where a network's loops come from: generated (`detectors == "generated"`) or the city's
    loops by the lane they sit on; `taken_ids` are the detector ids in use (the city's loops
    first): generated ids must differ. `generated` adds the ids it writes to `taken_ids`."""

    placement: loops.Placement
    detectors: str
    city_by_lane: dict[str, list[loops.CityLoop]]
    taken_ids: set[str]


def check_source(net_path: str, detectors: str) -> None:
    """Raises NetworkError unless `detectors` is one of DETECTOR_SOURCES."""
    if detectors not in DETECTOR_SOURCES:
        raise NetworkError(net_path, "detectors", f"must be one of {DETECTOR_SOURCES}, got {detectors!r}")


def loop_source(net: sumolib.net.Net, cfg: Config, additional: list[Path], detectors: str) -> LoopSource:
    """The loop source of one import: the city's loops read from the additional files (raises
    NetworkError for an unreadable one)."""
    city = loops.read_city_loops(additional, net)
    by_lane: dict[str, list[loops.CityLoop]] = {}
    for loop in city:
        by_lane.setdefault(loop.lane, []).append(loop)
    d = cfg.detectors
    placement = loops.Placement(
        d.stop_setback_m,
        d.advance_dist_m,
        d.loop_length_m,
        d.vehicle_spacing_m,
        d.stop_loop_before_split,
        d.turn_back_is_fringe,
        d.advance_clear_of_start,
        d.advance_past_split,
    )
    return LoopSource(placement, detectors, by_lane, {loop.id for loop in city})


def junction_loops(
    net: sumolib.net.Net, tid: str, lanes: list[str], src: LoopSource
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Loop tables for the junction's lanes, and each lane's queue storage length (m): up to
    its advance loop, or along its upstream chain up to the advance distance when it has none.
    With the city's loops, a junction the city has no loop for gets generated ones (the
    estimator needs at least one loop per junction)."""
    p = src.placement
    per_lane = {}
    if src.detectors == "city":
        per_lane = {lane_id: loops.city(net.getLane(lane_id), p, src.city_by_lane) for lane_id in lanes}
    if not any(per_lane.values()):
        per_lane = {lane_id: loops.generated(tid, net.getLane(lane_id), p, src.taken_ids) for lane_id in lanes}
    out, storage_m = [], {}
    for lane_id, tables in per_lane.items():
        for t in tables:
            if t["kind"] == "advance":
                _own_road(t, net.getLane(t.get("at_lane", lane_id)), p)
        out.extend(tables)
        # a split's feeder's loop: the road from it is shared by the lanes it feeds (loops._past_split)
        adv = [d["dist_to_stop_m"] / d.get("shared_by", 1) for d in tables if d["kind"] == "advance"]
        chain = loops.upstream_chain(net.getLane(lane_id), p.advance_dist_m, p.turn_back_is_fringe)
        storage_m[lane_id] = adv[0] if adv else min(chain[-1].offset_m + chain[-1].length_m, p.advance_dist_m)
    return out, storage_m


def _own_road(t: dict[str, Any], at_lane: Any, p: loops.Placement) -> None:
    """An advance loop's room upstream on the approach's own road (loops.own_road_m): `room_m`,
    from the loop to the first node where other streams merge or cross, where that road goes past
    the start of the loop's lane (without it the room is `pos_m`); `at_entry` where it leads back
    to a network entry; else `room_to_turn_off_pcu`, the PCU the road past it stores before a lane
    that also turns off it (loops.room_to_turn_off_m / vehicle_spacing_m), and `room_from_light`
    where that road starts at a signalised node (loops.own_road_from_light; written only then)."""
    if t.get("at_entry"):
        return
    up = loops.own_road_m(at_lane, p.turn_back_is_fringe)
    if up is None:
        t["at_entry"] = True
        return
    beyond_m = loops.room_to_turn_off_m(at_lane, p.turn_back_is_fringe) or 0.0
    t["room_to_turn_off_pcu"] = round(beyond_m / p.vehicle_spacing_m, 2)
    if loops.own_road_from_light(at_lane, p.turn_back_is_fringe):
        t["room_from_light"] = True
    if up > 0:
        t["room_m"] = round(t["pos_m"] + up, 2)

"""Checkpoints of the learnt state, so a restart resumes where the last run left off. Pure.

What is learnt, and kept:
- per lane, the saturation flow's evidence (LaneState.sat_pcu, sat_s: discounted PCU discharged
  in saturated green, and those seconds), keyed by junction id and lane id;
- per movement, the learnt coupling to a neighbour (LinkState.mapping: which approach of which
  downstream junction its exit feeds, the travel time, the correlation), keyed by junction id and
  movement id. Only for policies that learn the coupling (CoreState.links is not None);
- per light with `[harm] follow_program_in_force`, the city's program its do-no-harm replay runs
  (JunctionState.program), by its id, where it is not the static one: a restart replays it at once,
  not the static program until the next status names it. Optional: a checkpoint without it (or from
  before it) restores the static program.

Everything is keyed by ids, never by positions: after an edit of the junction models a restore
drops only what no longer matches (a junction or lane gone, a movement gone, a coupling whose
target approach is no longer a candidate) and names it in the returned list of skipped items.
The rest of the state (queues, flows, detector health, covariances) is not kept: it describes
the traffic of the moment, and restarts from the feed.

`learnt(core, state)` gives plain JSON-able data with a format version; `restore(core, state,
data)` puts it into a state (normally a fresh one) with dataclasses.replace. Data that is not a
checkpoint of this version, or carries non-finite or negative figures, raises CheckpointError
and nothing is restored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from controller.core import estimation
from controller.core.estimation import Coupling, Estimate, Layout
from controller.core.harm import FollowedProgram
from controller.core.step import Core, CoreState, program_replayed

FORMAT = "tsc-learnt-state"
VERSION = 1


class CheckpointError(ValueError):
    """The data is not a checkpoint this code can restore (what is wrong is in the message)."""


@dataclass(frozen=True)
class Restored:
    state: CoreState
    skipped: tuple[str, ...]  # what the checkpoint held that the current models no longer match
    lanes: int  # lanes whose saturation evidence was restored
    couplings: int  # movements whose coupling was restored


def learnt(core: Core, state: CoreState) -> dict[str, Any]:
    """The learnt state as JSON-able data: {"format", "version", "t_s", "junctions", "links"}."""
    junctions: dict[str, Any] = {}
    for jid, lay in core.layouts.items():
        lanes = state.junctions[jid].estimate.lanes
        junctions[jid] = {
            "lanes": {lane: [float(lanes.sat_pcu[i]), float(lanes.sat_s[i])] for i, lane in enumerate(lay.lanes)}
        }
        if state.junctions[jid].program.replayed:
            junctions[jid]["program"] = state.junctions[jid].program.replayed
    links: dict[str, Any] = {}
    if state.links is not None:
        for jid, mapping in state.links.mapping.items():
            movements = core.layouts[jid].junction.movements
            links[jid] = {
                movements[m].id: {
                    "junction": c.junction,
                    "edge": c.edge,
                    "travel_s": int(c.travel_s),
                    "corr": float(c.corr),
                }
                for m, c in enumerate(mapping)
                if c is not None
            }
    return {"format": FORMAT, "version": VERSION, "t_s": float(state.t_s), "junctions": junctions, "links": links}


def restore(core: Core, state: CoreState, data: Any) -> Restored:
    """`state` with the learnt state of `data` (from `learnt`, possibly of other junction models)
    put back. Raises CheckpointError on data that is not a valid checkpoint of this version."""
    _check_header(data)
    skipped: list[str] = []
    junctions = dict(state.junctions)
    n_lanes = 0
    for jid, saved in _table(data, "junctions").items():
        lay = core.layouts.get(jid)
        if lay is None:
            skipped.append(f"junction {jid}: not in the junction models")
            continue
        est, n, gone = _restore_lanes(
            lay, junctions[jid].estimate, _table(saved, f"junctions.{jid}.lanes", "lanes"), jid
        )
        junctions[jid] = replace(junctions[jid], estimate=est)
        n_lanes += n
        skipped += gone
        if "program" in saved:
            program, why = _restore_program(core, jid, saved["program"])
            junctions[jid] = replace(junctions[jid], program=program)
            skipped += why
    links, n_couplings, gone = _restore_links(core, state.links, _table(data, "links"))
    skipped += gone
    return Restored(replace(state, junctions=junctions, links=links), tuple(skipped), n_lanes, n_couplings)


def _check_header(data: Any) -> None:
    if not isinstance(data, Mapping):
        raise CheckpointError(f"checkpoint: must be a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint: format is {data.get('format')!r}, expected {FORMAT!r}")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint: version {data.get('version')!r} is not supported (this code reads version {VERSION})"
        )


def _table(data: Any, where: str, key: str | None = None) -> Mapping[str, Any]:
    value = data.get(key or where) if isinstance(data, Mapping) else None
    if not isinstance(value, Mapping):
        raise CheckpointError(f"checkpoint: {where} must be a JSON object, got {type(value).__name__}")
    return value


def _figure(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise CheckpointError(f"checkpoint: {where} must be a finite number >= 0, got {value!r}")
    return float(value)


def _restore_lanes(lay: Layout, est: Estimate, saved: Mapping[str, Any], jid: str) -> tuple[Estimate, int, list[str]]:
    """The estimate with the saved lanes' saturation evidence, its movements' saturation flow
    recomputed from it; (estimate, lanes restored, lanes skipped)."""
    index = {lane: i for i, lane in enumerate(lay.lanes)}
    sat_pcu, sat_s = est.lanes.sat_pcu.copy(), est.lanes.sat_s.copy()
    skipped, n = [], 0
    for lane, pair in saved.items():
        where = f"junctions.{jid}.lanes.{lane}"
        if not isinstance(pair, list) or len(pair) != 2:
            raise CheckpointError(f"checkpoint: {where} must be [sat_pcu, sat_s], got {pair!r}")
        pcu, secs = _figure(pair[0], f"{where}[0]"), _figure(pair[1], f"{where}[1]")
        i = index.get(lane)
        if i is None:
            skipped.append(f"junction {jid} lane {lane}: not in the junction model")
            continue
        sat_pcu[i], sat_s[i] = pcu, secs
        n += 1
    lanes = replace(est.lanes, sat_pcu=sat_pcu, sat_s=sat_s)
    prior = lay.lane_sat_prior_pcu_h
    ratio = estimation._sat_estimate(sat_pcu, sat_s, prior, lay.params) / prior
    sat_flow = lay.maps.sat_flow_pcu_h(ratio)  # as estimation.movement_arrays
    return replace(est, lanes=lanes, sat_flow_pcu_h=sat_flow), n, skipped


def _restore_links(
    core: Core, links: estimation.LinkState | None, saved: Mapping[str, Any]
) -> tuple[estimation.LinkState | None, int, list[str]]:
    """The link state with the saved couplings whose movement still exists and whose target is
    still one of its candidates; (links, couplings restored, couplings skipped)."""
    if links is None:
        n = sum(len(m) for m in saved.values() if isinstance(m, Mapping))
        return None, 0, ([f"coupling of {n} movement(s): the policy does not learn it"] if n else [])
    mapping = dict(links.mapping)
    skipped, n = [], 0
    for jid, moves in saved.items():
        lay = core.layouts.get(jid)
        moves = _table({"m": moves}, f"links.{jid}", "m")
        if lay is None:
            skipped.append(f"coupling of junction {jid}: not in the junction models")
            continue
        index = {m.id: i for i, m in enumerate(lay.junction.movements)}
        out = list(mapping.get(jid, (None,) * len(index)))
        for mid, c in moves.items():
            coupling = _coupling(c, f"links.{jid}.{mid}")
            i = index.get(mid)
            if i is None:
                skipped.append(f"coupling of junction {jid} movement {mid}: not in the junction model")
            elif (coupling.junction, coupling.edge) not in core.links.targets.get(
                jid, ()
            ) or coupling.travel_s >= core.links.lags:
                skipped.append(
                    f"coupling of junction {jid} movement {mid}: {coupling.junction}/{coupling.edge} "
                    f"at {coupling.travel_s} s is no longer a candidate"
                )
            else:
                out[i] = coupling
                n += 1
        mapping[jid] = tuple(out)
    return replace(links, mapping=mapping), n, skipped


def _restore_program(core: Core, jid: str, name: Any) -> tuple[FollowedProgram, list[str]]:
    """The program the light's replay runs, from the checkpoint's `program` (its id): it, where the Core follows the
    light ([harm] follow_program_in_force) and its file gives that program's base greens; else the static one, the
    program named as skipped."""
    if not isinstance(name, str) or not name:
        raise CheckpointError(f"checkpoint: junctions.{jid}.program must be a program id, got {name!r}")
    if jid not in core.follows:
        return FollowedProgram(), [f"junction {jid} program {name}: [harm] follow_program_in_force is off"]
    if program_replayed(core.layouts[jid].junction, name) != name:
        return FollowedProgram(), [f"junction {jid} program {name}: no such program with base greens in its file"]
    return FollowedProgram(name), []


def _coupling(c: Any, where: str) -> Coupling:
    if not isinstance(c, Mapping) or not isinstance(c.get("junction"), str) or not isinstance(c.get("edge"), str):
        raise CheckpointError(f"checkpoint: {where} must be {{junction, edge, travel_s, corr}}, got {c!r}")
    travel = c.get("travel_s")
    if isinstance(travel, bool) or not isinstance(travel, int) or travel < 0:
        raise CheckpointError(f"checkpoint: {where}.travel_s must be an integer >= 0, got {travel!r}")
    corr = c.get("corr")
    if isinstance(corr, bool) or not isinstance(corr, (int, float)) or not math.isfinite(corr):
        raise CheckpointError(f"checkpoint: {where}.corr must be a finite number, got {corr!r}")
    return Coupling(c["junction"], c["edge"], travel, float(corr))


__all__ = ["FORMAT", "VERSION", "CheckpointError", "Restored", "learnt", "restore"]

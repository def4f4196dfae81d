"""Phase rules shared by the policies."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.keepclear import fills_in_one_green
from controller.core.network import NetworkView


def primary_phases(layout: Layout, *, protected_first: bool) -> np.ndarray:
    """Per movement, the phase its demand is charged to: among the phases serving it, the one
    with the longest base green (ties: the lowest index); with `protected_first`, a phase serving
    it protected ('G' only) before any serving it permitted. Every movement must be served by
    some phase (the junction model guarantees it)."""
    j = layout.junction
    out = np.zeros(len(j.movements), dtype=int)
    for i in range(len(j.movements)):
        serving = [k for k in range(len(j.phases)) if layout.serves[k, i]]
        if protected_first:
            out[i] = max(serving, key=lambda k: (layout.protected[k, i], j.phases[k].base_green_s, -k))
        else:
            out[i] = max(serving, key=lambda k: (j.phases[k].base_green_s, -k))
    return out


def exit_room_pcu(layout: Layout, network: NetworkView | None, direct: bool = False) -> np.ndarray:
    """(movements,) PCU of room left on the approach each movement's exit feeds, as its
    neighbour's loops see it: the lane storage between that approach's loops less its queue
    (between the loops and spilled upstream of the advance loop), never below 0; +inf where the
    exit is not learnt, leaves the controlled network, or there is no `network`. With `direct`, an
    exit not learnt is the neighbour approach the movement's exit edge is, where it is one
    (`direct_exits`). A movement can discharge that many PCU at saturation before its exit
    stands back into the junction."""
    n = len(layout.junction.movements)
    out = np.full(n, np.inf)
    if network is None:
        return out
    learnt = network.exits(layout.junction.id)
    statics = direct_exits(layout, network) if direct else (None,) * n
    for i, d in enumerate(statics):
        c = learnt[i] if i < len(learnt) else None
        target = (c.junction, c.edge) if c is not None else d
        if target is None or target[0] not in network.estimates:
            continue
        down = network.layouts[target[0]]
        ix = network.links.edge_movements[target[0]][target[1]]
        lanes = down.lane_uses[ix].any(axis=0)
        ls = network.estimates[target[0]].lanes
        stored = float((ls.queue_pcu[lanes] + ls.hidden_pcu[lanes]).sum())
        out[i] = max(float(down.lane_storage_pcu[lanes].sum()) - stored, 0.0)
    return out


def exit_rate_ratio(layout: Layout, est: Estimate, network: NetworkView | None, direct: bool = False) -> np.ndarray:
    """(movements,) share of its saturation flow each movement's queue can discharge into its
    exit, 0..1: 1 while the room left on the neighbour approach it feeds (exit_room_pcu, with
    `direct`) holds its whole queue (at least 1 PCU), else room / queue (the rest waits for the
    neighbour to discharge); 1 where the exit is not known or leaves the controlled network."""
    room = exit_room_pcu(layout, network, direct)
    ratio = np.where(np.isfinite(room), room / np.maximum(est.queue_pcu, 1.0), 1.0)
    out: np.ndarray = np.clip(ratio, 0.0, 1.0)
    return out


def upstream_held_pcu(layout: Layout, est: Estimate, network: NetworkView | None) -> np.ndarray:
    """(movements,) PCU the upstream junctions hold for each movement's approach beyond the room
    left on it: per approach edge, the queues (between the loops and spilled upstream) of the
    neighbours' movements whose exit edge it is (held_feeds), less the approach's lane storage
    between its loops left by its own queue, never below 0, shared equally among the approach's
    movements. 0 without `network` or where no controlled neighbour feeds the approach.
    max_pressure_net computes the same for every junction at once (its `_Pull`)."""
    j = layout.junction
    out = np.zeros(len(j.movements))
    if network is None or j.id not in network.links.edge_movements:
        return out
    approaches = network.links.edge_movements[j.id]
    for edge, sources in held_feeds(layout, network.layouts, network.links.edge_movements):
        q = 0.0
        for u, m in sources:
            if u in network.estimates:
                q += float(network.estimates[u].queue_pcu[m])
        ix = approaches[edge]
        lanes = layout.lane_uses[ix].any(axis=0)
        stored = float((est.lanes.queue_pcu[lanes] + est.lanes.hidden_pcu[lanes]).sum())
        room = max(float(layout.lane_storage_pcu[lanes].sum()) - stored, 0.0)
        out[ix] += max(q - room, 0.0) / len(ix)
    return out


EdgeMovements = Mapping[str, Mapping[str, np.ndarray]]  # junction -> approach edge -> movement indices


def held_feeds(
    layout: Layout, layouts: Mapping[str, Layout], edge_movements: EdgeMovements
) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """The static part of upstream_held_pcu: per approach edge of `layout`'s junction that a
    controlled upstream neighbour feeds directly (direct_exits), in the order first fed, the
    neighbours' movements (junction, movement index) whose exit edge it is, in the order of the
    junction's upstream list and of their movements. `edge_movements`: per junction of `layouts`,
    its approach edges' movement indices (estimation.LinkLayout.edge_movements). A neighbour does
    not pull over a short link (keepclear.fills_in_one_green: any lane of the approach stores less
    than the neighbour's shortest minimum green sends into it): that link refills within seconds
    of its green, and its own rules (keepclear.ShortLinks) own it (ingolstadt21's 12.1 m pair,
    BENCHMARKS.md, issue 9, A session 35)."""
    j = layout.junction
    out: dict[str, list[tuple[str, int]]] = {}
    if j.id not in edge_movements:
        return ()
    for u in j.upstream:
        if u not in layouts:
            continue
        min_green_s = min(p.min_green_s for p in layouts[u].junction.phases)
        for m, d in enumerate(_direct_exits(layouts[u], edge_movements)):
            if d is None or d[0] != j.id or not len(edge_movements[j.id][d[1]]):
                continue
            if not _short_approach(layout, edge_movements, d[1], min_green_s):
                out.setdefault(d[1], []).append((u, m))
    return tuple((edge, tuple(src)) for edge, src in out.items())


def _short_approach(layout: Layout, edge_movements: EdgeMovements, edge: str, min_green_s: float) -> bool:
    """Whether any lane of the approach `edge` of `layout`'s junction stores (between its loops)
    fewer PCU than `min_green_s` sends into it at its saturation flow (keepclear.fills_in_one_green)."""
    ix = edge_movements[layout.junction.id].get(edge)
    if ix is None or not len(ix):
        return False
    lanes = layout.lane_uses[ix].any(axis=0)
    return bool(
        fills_in_one_green(layout.lane_storage_pcu[lanes], layout.lane_sat_prior_pcu_h[lanes], min_green_s).any()
    )


def direct_exits(layout: Layout, network: NetworkView) -> tuple[tuple[str, str] | None, ...]:
    """Per movement: (neighbour junction, approach edge) where the movement's exit edge is itself
    an approach of a downstream junction of the network (the link between two lights, read from
    the network, not learnt), else None."""
    return _direct_exits(layout, network.links.edge_movements)


def _direct_exits(layout: Layout, edge_movements: EdgeMovements) -> tuple[tuple[str, str] | None, ...]:
    down = [d for d in layout.junction.downstream if d in edge_movements]
    out: list[tuple[str, str] | None] = []
    for m in layout.junction.movements:
        hit = [d for d in down if m.to_edge in edge_movements[d]]
        out.append((hit[0], m.to_edge) if hit else None)
    return tuple(out)


def lane_fifo_ratio(layout: Layout, ratio: np.ndarray) -> np.ndarray:
    """(movements,) each movement's `ratio` lowered to the lowest of the movements sharing one of
    its lanes: a lane discharges first in, first out, so a head vehicle bound for a full exit
    holds every vehicle behind it, whatever their turn."""
    uses = layout.lane_uses
    lane_min = np.where(uses, ratio[:, None], np.inf).min(axis=0, initial=np.inf)
    out: np.ndarray = np.minimum(ratio, np.where(uses, lane_min[None, :], np.inf).min(axis=1, initial=np.inf))
    return out

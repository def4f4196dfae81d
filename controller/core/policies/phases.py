"""Phase rules shared by the policies."""

from __future__ import annotations

import numpy as np

from controller.core.estimation import Layout
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


def exit_room_pcu(layout: Layout, network: NetworkView | None) -> np.ndarray:
    """(movements,) PCU of room left on the approach each movement's exit feeds, as its
    neighbour's loops see it: the lane storage between that approach's loops less its queue
    (between the loops and spilled upstream of the advance loop), never below 0; +inf where the
    exit is not learnt, leaves the controlled network, or there is no `network`. A movement can
    discharge that many PCU at saturation before its exit stands back into the junction."""
    n = len(layout.junction.movements)
    out = np.full(n, np.inf)
    if network is None:
        return out
    for i, c in enumerate(network.exits(layout.junction.id)):
        if c is None or c.junction not in network.estimates:
            continue
        down = network.layouts[c.junction]
        ix = network.links.edge_movements[c.junction][c.edge]
        lanes = down.lane_uses[ix].any(axis=0)
        ls = network.estimates[c.junction].lanes
        stored = float((ls.queue_pcu[lanes] + ls.hidden_pcu[lanes]).sum())
        out[i] = max(float(down.lane_storage_pcu[lanes].sum()) - stored, 0.0)
    return out

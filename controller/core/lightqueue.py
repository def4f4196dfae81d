"""A link full back to the light it leaves: its queue past the room stands at that light. Pure.

A lane whose advance loop's own road starts at a traffic light (`Detector.room_from_light`)
stores upstream of its loop at most the road's room over the jam spacing
(`Layout.lane_hidden_cap_pcu`; 0 for a loop at the start of a link from a light). Once its queue
fills that room back to the light (the advance loop has stood for `standing_s`, as the estimator
reads "the queue reaches the advance loop", and the hidden queue upstream of it is at the room),
what waits for the lane beyond stands on the light's own approaches, held at its stop line by the
full link, and that light's loops count it: it is the light's queue on its movements into the link.

[estimation] queue_past_room_at_light adds that queue to the movements that drain the lane, for
the policy's decision only (keepclear.seen_by_policy, as keep_clear adds the queue held before a
full lane and coupled_exit_red the queue waiting to enter a road that stores nothing), less what
the lane's hidden queue already counts past the room (with `hidden_room_at_light` off the
estimator's hidden queue grows past the room from the held arrival flow: those same vehicles).
The light's queue is spread over the link's lanes by the arrival flow measured on them (equally
with none), and a lane's share over its movements by lane share.

Reading: the network model (the light's movements whose exit edge is the lane's edge, or leads to
it over unsignalised edges where no stream joins or leaves: Movement.reach_edge), the lane's
own loops (its estimate's `adv_standing_s` and hidden queue) and the light's estimate of its
queues; never the simulator's truth. A light whose detector feed is stale is not read.

Example: ingolstadt21's 12.1 m link -174800513 from the light 243641585 to gneJ257, gneJ257's
advance loops at its start (room 0). Its advance loop stands; 243641585 counts 6 PCU on its
movements into the link: gneJ257's movement off the link weighs its 1.35 PCU between the loops
plus those 6, and is drawn to serve the link that 243641585 cannot send into (BENCHMARKS.md,
issue 9, K session 49: with the hidden queue held at 0 it weighed the 1.35 alone, and the pair
locked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.keepclear import touched
from controller.model import Movement


@dataclass(frozen=True)
class FedLink:
    """One approach edge of a junction with lanes whose hidden queue is capped at a room from a
    light: the edge's lanes (indices in the junction's Layout), which of them are capped, the
    light that feeds the edge and its movements into it."""

    lanes: np.ndarray  # (k,) the edge's lane indices
    capped: np.ndarray  # (k,) bool: a finite lane_hidden_cap_pcu (room_from_light) and an advance loop
    light: str
    feeds: np.ndarray  # (movements of `light`,) bool: exits onto the edge


@dataclass(frozen=True)
class LightFed:
    """Per junction, its approach edges fed by a controlled light with capped lanes (built once)."""

    links: Mapping[str, tuple[FedLink, ...]]

    @staticmethod
    def build(layouts: Mapping[str, Layout]) -> LightFed:
        """Every junction's fed links in `layouts` (the network model only: the movements' exit
        edges, the approach lanes and their advance loops' room from a light)."""
        into: dict[str, list[tuple[str, np.ndarray]]] = {}  # approach edge -> (light, its movements onto it)
        for jid, lay in layouts.items():
            to = [_approach(m) for m in lay.junction.movements]
            for edge in dict.fromkeys(e for e in to if e):
                into.setdefault(edge, []).append((jid, np.array([e == edge for e in to], dtype=bool)))
        links = {}
        for jid, lay in layouts.items():
            by_edge: dict[str, dict[str, None]] = {}
            for mov in lay.junction.movements:
                by_edge.setdefault(mov.from_edge, {}).update(dict.fromkeys(mov.lanes))
            out = []
            for edge, lanes in by_edge.items():
                ix = np.array([lay.lanes.index(lane) for lane in lanes], dtype=int)
                capped = np.isfinite(lay.lane_hidden_cap_pcu[ix]) & (lay.lane_adv[ix] >= 0)
                if not capped.any():
                    continue
                out += [FedLink(ix, capped, light, feeds) for light, feeds in into.get(edge, ()) if light != jid]
            if out:
                links[jid] = tuple(out)
        return LightFed(links)


def _approach(m: Movement) -> str:
    """The next light's approach edge a movement's vehicles all reach: its exit edge, or where that
    ends at an unsignalised node, the approach it leads to (Movement.reach_edge) when no stream
    joins or leaves on the way (the road from the light is one stream); "" otherwise."""
    if m.reach_edge:
        return m.reach_edge if m.reach_merges == 0 and m.reach_diverges == 0 else ""
    return m.to_edge


def held_at_light(
    lf: LightFed, layouts: Mapping[str, Layout], estimates: Mapping[str, Estimate], stale: frozenset[str] = frozenset()
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per junction touched: (movements,) twice, as keepclear.blocked_shares: no share blocked
    (zeros), and the PCU waiting at the light before a lane full back to it, on the movements
    that drain the lane (module doc). A light in `stale` is not read. Junctions untouched are
    left out."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    arrays = partial(touched, out, layouts)
    for jid, links in lf.links.items():
        lay, ls = layouts[jid], estimates[jid].lanes
        for link in links:
            if link.light in stale:
                continue
            ix = link.lanes
            cap, hidden = lay.lane_hidden_cap_pcu[ix], ls.hidden_pcu[ix]
            full = link.capped & (ls.adv_standing_s[ix] >= lay.params.standing_s - 1e-9) & (hidden >= cap - 1e-9)
            if not full.any():
                continue
            waiting = float(estimates[link.light].queue_pcu[link.feeds].sum())
            if waiting <= 0.0:
                continue
            flow = ls.flow_pcu_h[ix]
            weight = flow if flow.sum() > 0 else np.ones(len(ix))
            past_room = np.where(full, np.maximum(hidden - np.where(full, cap, 0.0), 0.0), 0.0)
            add = np.where(full, np.maximum(waiting * weight / weight.sum() - past_room, 0.0), 0.0)
            if add.sum() <= 0.0:
                continue
            arrays(jid)[1][:] += lay.lane_share[:, ix] @ add
    return out

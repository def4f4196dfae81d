"""A link inside one light, read as an exit: its room left (`[max_pressure] inner_link_room`). Pure.

A joined light (one program for several nodes) sends movements onto links that end at an approach of
the same light: directly (`Movement.to_edge` is that approach) or over unsignalised nodes
(`Movement.reach_edge`, sim/netlinks.py: a chain). The rules that read an exit's room
(`exit_room_held`, `stall_s`, `keep_clear`, `coupled_exit_red`) read only exits into another light: to
them such a link is free room. Once it is full, a green into it moves no one, and the vehicles sent
stand in the box they leave (or an unsignalised node's), across its other streams (held-out
rand_tight_clusters_hw: node 16's SW2_T over node 82 onto node 14's one-lane approach -83, 8.9 PCU;
BENCHMARKS.md, issue 9, K sessions 53-54).

Reading (the light's own loops on the approach: its queue between the loops and past its advance loop,
`Estimate.lanes`): the room left is the link's storage (the approach's between its loops plus what its road
stores upstream of the advance loop; for a chain at least `reach_storage_pcu`) less that queue, never below 0,
and none while an advance loop of the approach has stood `[estimation] standing_s` where that loop stands at the
link's entry (its road upstream stores less than one car, `Layout.lane_adv_room_pcu`: the queue reaches the
entry), or, on a lane without an advance loop (a road of a few metres inside the light), while its stop-line
loop is occupied; a link of several lanes is full only when every lane of it reads full (the model does not know
which lane a movement enters, and the room is the sum over its lanes: ingolstadt21's cluster_1757124350, a
three-lane link of 23.8 PCU read full with nothing stored by the occupied stop-line loop of a lane without an
advance loop; K session 56). A loop with road behind it that stood says only that the queue passed it: the room
left there is the storage less the queue, its hidden part included (Bologna pasubio's node 232: 16 PCU a lane
behind the loop, 79 PCU on the link, read full with 15 PCU on it; K session 56). In a stage that *drains* the
link (it serves as many of the approach's movements as any stage does: a head may be bound for any of them, as
`coupled_exit_all` reads a road) the link empties as it fills, and the movement counts whole. In any other stage
its rate is slowed to the share the room can take of what the stage's minimum green sends of it (the least a
switch commits to: its saturation flow for that time, at most its queue; room over that, at least 1 PCU, at most
1), as `exit_room_held` slows a movement into a held exit; a link with room for a minimum green's worth is no
limit yet (the next decision can end the stage before it fills: pasubio's node 230, NW_T at 3,600 PCU/h into a
13.9 PCU link, a 4 s stage; its queue of 15 PCU over 12 PCU of room cut it, K session 56), and a lane's
movements all take the lowest share among them (phases.lane_fifo_ratio: first in, first out). The gate's maximum
red is untouched: a movement into a full link is still served by its deadline.

Example: SW2_T (queue 12 PCU, 1,800 PCU/h) into a chain of 8.9 PCU whose approach holds 7.9 PCU: room 1 PCU,
so in a stage leaving that approach red with a 4 s minimum green (2 PCU of SW2_T) SW2_T weighs 1/2 of its
rate; in a stage serving the approach, whole; once the approach's advance loop (at the link's entry) has stood
3 s, nothing in a stage leaving it red.

The vehicles no loop sees (`unseen_step`): an approach that only a stop-line loop watches (no advance
loop: a road of a few metres inside the light) and that the light's own movements feed directly. A
vehicle sent onto it while its stage is red waits before its stop line; where the road is shorter than
the vehicle it stands in the box it came through, short of the loop, across that box's other streams,
and no loop counts it (board rand_tight_clusters: node 193's through from -213 onto the 0.2 m road -194
waits in 193's box for 171's red, and 194's left turn stands behind it; K session 55). Counted instead:
what the feeding movements sent over their stop lines less what crossed the approach's stop line, less
the queue its loops see, is added to the approach's movements' queues (shared evenly). The count
restarts at none when it goes below none (the turning shares that split a shared lane's crossings are
estimates) and when a stage serving all the approach's movements is green with its stop-line loop
empty for `[estimation] standing_s`: a vehicle waiting there would have crossed it. What the feeding movements
sent within the light's clearance (its yellow and all-red, the time it gives a vehicle past the stop line to clear
the box: `sent_lag_s`) is still on its way over, not waiting, and is not counted (held-out
rand_tight_clusters_hc seed 1: a car that crossed node 65's stop line at 19 s, in node 64's box, reached the 0.2 m
road 78 at 22 s and crossed on, but was read as waiting from 19 s; K session 56); the sends are kept that long
(`SentLog`, `track_sent`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.policies.phases import lane_fifo_ratio


@dataclass(frozen=True)
class InnerLinks:
    """The movements of one junction whose exit is an inner link (built once per layout: `inner_links`)."""

    movements: np.ndarray  # (k,) movement indices
    lanes: np.ndarray  # (k, lanes) bool: the link's approach lanes
    storage_pcu: np.ndarray  # (k,) what the link stores, to the approach's stop line
    drains: np.ndarray  # (phases, k) bool: the phase serves as many of the approach's movements as any phase


def inner_target(layout: Layout, movement: int) -> np.ndarray | None:
    """(movements,) bool: the movements of the approach that `movement`'s exit reaches inside its own light
    (a chain's `reach_edge`, else its `to_edge`); None where there is none."""
    movs = layout.junction.movements
    mov = movs[movement]
    to = mov.reach_edge or mov.to_edge
    if not to or to == mov.from_edge:
        return None
    drain = np.array([m.from_edge == to for m in movs], dtype=bool)
    if not drain.any():
        return None
    return drain


def inner_links(layout: Layout) -> InnerLinks:
    """The junction's inner links (the network model only: exit edges, `reach_edge` and
    `reach_storage_pcu`, the approach's lanes, loops and the stages that serve it);
    `layout.derived(inner_links)` keeps it."""
    n_l, n_p = len(layout.lanes), len(layout.junction.phases)
    room = layout.lane_storage_pcu + np.where(np.isfinite(layout.lane_adv_room_pcu), layout.lane_adv_room_pcu, 0.0)
    found: list[tuple[int, np.ndarray, float, np.ndarray]] = []
    for i, mov in enumerate(layout.junction.movements):
        drain = inner_target(layout, i)
        if drain is None:
            continue
        lanes = layout.lane_uses[drain].any(axis=0)
        served = layout.serves[:, drain].sum(axis=1)
        storage = max(mov.reach_storage_pcu, float(room[lanes].sum()))
        found.append((i, lanes, storage, served >= max(served.max(), 1)))
    return InnerLinks(
        np.array([f[0] for f in found], dtype=int),
        np.array([f[1] for f in found], dtype=bool).reshape(len(found), n_l),
        np.array([f[2] for f in found], dtype=float),
        np.array([f[3] for f in found], dtype=bool).reshape(len(found), n_p).T,
    )


_VEHICLE_PCU = 1.0  # one car: a road upstream of the advance loop that stores less holds no queue of its own

_COUNT_MIN_PCU = 0.05  # below this the count is the turning shares' rounding, not a vehicle


@dataclass(frozen=True)
class UnseenLinks:
    """The approaches of one junction only a stop-line loop watches and its own movements feed directly
    (built once per layout: `unseen_links`)."""

    feeds: np.ndarray  # (k, movements) bool: the movements whose exit edge is the approach
    outs: np.ndarray  # (k, movements) bool: the approach's movements
    lanes: np.ndarray  # (k, lanes) bool: the approach's lanes


def unseen_links(layout: Layout) -> UnseenLinks:
    """The junction's approaches without an advance loop fed by its own movements (the network model
    only); `layout.derived(unseen_links)` keeps it."""
    movs = layout.junction.movements
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for edge in sorted({m.to_edge for m in movs if m.to_edge}):
        outs = np.array([m.from_edge == edge for m in movs], dtype=bool)
        if not outs.any():
            continue
        lanes = layout.lane_uses[outs].any(axis=0)
        feeds = np.array([m.to_edge == edge and not m.reach_edge for m in movs], dtype=bool)
        if (layout.lane_adv[lanes] < 0).all() and feeds.any():
            found.append((feeds, outs, lanes))
    n_m, n_l = len(movs), len(layout.lanes)
    return UnseenLinks(
        np.array([f[0] for f in found], dtype=bool).reshape(len(found), n_m),
        np.array([f[1] for f in found], dtype=bool).reshape(len(found), n_m),
        np.array([f[2] for f in found], dtype=bool).reshape(len(found), n_l),
    )


@dataclass(frozen=True)
class SentLog:
    """What the movements feeding each approach of `unseen_links` had sent (cumulative PCU) at the last ticks,
    oldest first, back to the newest at least `sent_lag_s` old."""

    t_s: np.ndarray  # (n,)
    sent_pcu: np.ndarray  # (n, k)


def sent_lag_s(layout: Layout) -> float:
    """The light's clearance, yellow and all-red: the time it gives a vehicle past its stop line to clear the box."""
    return layout.junction.yellow_s + layout.junction.all_red_s


def track_sent(log: SentLog | None, layout: Layout, est: Estimate, now_s: float) -> SentLog | None:
    """`log` with this tick's sends added and the entries no longer needed dropped; None without an approach of
    `unseen_links`."""
    links = layout.derived(unseen_links)
    if not len(links.outs):
        return None
    sent = links.feeds @ est.departures_pcu
    if log is None:
        return SentLog(np.array([now_s]), sent[None, :])
    t_s, sent_pcu = np.append(log.t_s, now_s), np.vstack([log.sent_pcu, sent[None, :]])
    old = np.flatnonzero(t_s <= now_s - sent_lag_s(layout) + 1e-9)
    first = int(old[-1]) if len(old) else 0
    return SentLog(t_s[first:], sent_pcu[first:])


def in_transit_pcu(log: SentLog | None, layout: Layout, now_s: float) -> np.ndarray | None:
    """Per approach of `unseen_links`, what its feeding movements sent within `sent_lag_s` (since the log's newest
    entry that old, else its oldest); None without a log."""
    if log is None:
        return None
    old = np.flatnonzero(log.t_s <= now_s - sent_lag_s(layout) + 1e-9)
    then = log.sent_pcu[int(old[-1]) if len(old) else 0]
    out: np.ndarray = log.sent_pcu[-1] - then
    return out


def unseen_step(
    base_pcu: np.ndarray | None, layout: Layout, est: Estimate, phase: int, transit_pcu: np.ndarray | None = None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One tick of the unseen count (the module doc): (the new base, None without such an approach;
    per movement the PCU to add to its queue, None where nothing is unseen). `base_pcu`: per approach of
    `unseen_links`, the count's zero (None: 0); `phase`: the stage green now; `transit_pcu`: per approach, what
    was sent within the clearance (in_transit_pcu), not counted as waiting (None: none)."""
    links = layout.derived(unseen_links)
    if not len(links.outs):
        return None, None
    dep = est.departures_pcu
    base = np.zeros(len(links.outs)) if base_pcu is None else base_pcu
    count = links.feeds @ dep - links.outs @ dep - base
    served = (links.outs & ~layout.serves[phase][None, :]).sum(axis=1) == 0 if phase >= 0 else np.zeros(len(base), bool)
    empty = (np.where(links.lanes, est.lanes.stop_empty_s[None, :], np.inf) >= layout.params.standing_s).all(axis=1)
    restart = (count < 0.0) | (served & empty)
    base = np.where(restart, base + count, base)
    count = np.where(restart, 0.0, count)
    waiting = count if transit_pcu is None else np.maximum(count - transit_pcu, 0.0)  # not those on their way
    unseen = waiting - links.lanes @ (est.lanes.queue_pcu + est.lanes.hidden_pcu)  # less what its loops see
    if not (unseen > _COUNT_MIN_PCU).any():
        return base, None
    unseen = np.where(unseen > _COUNT_MIN_PCU, unseen, 0.0)
    return base, (unseen / links.outs.sum(axis=1)) @ links.outs


def inner_link_ratio(layout: Layout, est: Estimate) -> np.ndarray | None:
    """(phases, movements) share of its rate each movement keeps in each phase (the module doc): 1 but for a
    movement into an inner link in a phase that does not drain it, there the room left over what the phase's
    minimum green sends of it at its saturation flow, at most its queue (0..1), lowered over each lane to its
    lowest (first in, first out). None where the junction has no inner link."""
    links = layout.derived(inner_links)
    if not len(links.movements):
        return None
    ls = est.lanes
    stored = links.lanes @ (ls.queue_pcu + ls.hidden_pcu)
    stood = ls.adv_standing_s >= layout.params.standing_s - 1e-9
    at_entry = layout.lane_adv_room_pcu < _VEHICLE_PCU  # the advance loop stands at the link's entry
    # no advance loop (a road of a few metres): full while the stop line's loop is occupied
    entry_full = np.where(layout.lane_adv >= 0, stood & at_entry, ls.stop_empty_s <= 0.0)
    full = (links.lanes & ~entry_full[None, :]).sum(axis=1) == 0  # every lane of the link reads full
    room = np.where(full, 0.0, np.maximum(links.storage_pcu - stored, 0.0))
    min_green_s = np.array([ph.min_green_s for ph in layout.junction.phases])
    sat_pcu_s = est.sat_flow_pcu_h[links.movements] / 3600.0
    sends = np.minimum(est.queue_pcu[links.movements][None, :], sat_pcu_s[None, :] * min_green_s[:, None])
    share = np.clip(room[None, :] / np.maximum(sends, 1.0), 0.0, 1.0)  # (phases, k)
    out = np.ones((len(layout.junction.phases), len(layout.junction.movements)))
    out[:, links.movements] = np.where(links.drains, 1.0, share)
    for k in np.flatnonzero((out < 1.0).any(axis=1)):
        out[k] = lane_fifo_ratio(layout, out[k])
    return out

"""`max_pressure`'s decision for every junction of a network in one numpy pass. Pure.

Contract: `NetPressure.decide_all(states, estimates, signals, now_s)` gives, per junction, the
(state, wish) that `MaxPressurePolicy.decide(state, layout, est, signal, now_s)` gives, bit for bit
(tests/unit/test_max_pressure_net.py); the junction-by-junction code in max_pressure.py is the
reference. The junctions' movements, lanes and (junction, phase) rows are concatenated once
(`NetPressure.build`); each tick then costs a fixed number of numpy calls over the network
instead of a dozen small ones per junction:
- the box of permitted turns (max_pressure.update_boxed): boolean element-wise, its per-movement
  "any lane" a scatter of the (movement, lane) pairs;
- the pressures (max_pressure.phase_pressures): element-wise over the network's movements, then
  per (junction, phase) row the sum over the junction's movements in numpy's own order, which
  depends on the row's length: one np.add.reduce over the stacked rows of the junctions with as
  many movements, or all rows padded to one width with that order replayed (core/rowsums.py),
  whichever takes fewer numpy calls on the network;
- the queue spilled upstream (spillback.upstream_queue_pcu, a matrix product summed in BLAS's
  order): a movement with one lane hiding a queue gets share x queue (the product's one term
  that is not an exact zero); a junction with a movement over two such lanes gets its own product;
- with [max_pressure] pull_upstream, the queue the upstream lights hold for each approach beyond
  the room left on it (phases.upstream_held_pcu; `_Pull`): the neighbours' queues summed per
  approach by one bincount in the reference's order, the approach's lanes summed left to right
  (numpy's order for fewer than 8 entries; an approach of 8 lanes or more is summed on its own); with
  pull_chains also over links of several unsignalised edges, the room the chain's storage;
- with [max_pressure] stall_s, the green that moves no one (max_pressure.stalled_movements,
  `_Stall`): when each movement last sent a vehicle over its stop line, and the movements standing
  in their green, element-wise over the network, kept only where some exit on their lanes can be
  held (a controlled neighbour's approach that is not a short link: exits_held's static part);
  where one is found at a junction the pass decides, the reference's _held_stalls reads the
  neighbours' lights (exits_held) in the NetworkView the core gives decide() (`_CoreView.view`), and
  the pressures drop those movements' queues;
- with [max_pressure] exit_room_held and exit_room_held_direct, the exit's room where its far light
  holds it (max_pressure.held_exit_ratio, `_Held`): it can act only on a movement whose exit edge is a
  controlled neighbour's approach that is not a short link (`_CoreView.static_holds`, a static set), and
  only where the room left on that approach (to the link's head) is less than the movement's queue (at
  least 1 PCU): the rooms summed over the network, with a margin over the sums' rounding; at a junction
  with such a movement the reference's held_exit_ratio gives its ratios (with the core's NetworkView),
  elsewhere they are 1 (the free rate min(1 - blockage, 1), phase_pressures' own);
- with [max_pressure] yield_block_s, a permitted head blocked by its own green (max_pressure.yield_blocked_lanes,
  `_Yield`): it can mark only a lane a movement the phase in force serves permitted only (yielding to some stream)
  uses, whose stop-line loop has stood `yield_block_s` in a green of at least the start-up loss + `yield_block_s`;
  a junction with such a lane is decided by the reference (it reads the yielded-to streams), elsewhere the rule
  leaves the pressures as they are;
- the stage choice: argmax over the (junctions, phases) pressures (the first highest, a NaN
  first), kept unless higher than the phase in force's.
Per junction remain reading its state and signal view and building its new state and wish; a
switch through a clearance phase (max_pressure.via_clearance, a few ticks in a hundred) and the
neighbours' lights read for a movement standing in its green (stall_s: max_pressure._held_stalls)
are the reference's own code; a junction whose state or view does not fit its model (constants
other than the policy's, a phase out of range) is decided by the reference (with stall_s, with
the NetworkView).

Not covered (the caller decides these junctions with decide or decide_paired): Varaiya's
downstream term, exit_room and exit_room_held without exit_room_held_direct ([max_pressure]
downstream_weight > 0, exit_room, exit_room_held: they read the learnt links, no pass is built), a
pair's leader (its follower's pressures added), an estimate the keep-clear rules changed. With
pull_upstream the junctions given to `build` are the whole network: a neighbour outside them is not
read; so with stall_s and exit_room_held, whose NetworkView the pass builds from its own estimates
and signal views (the links not learnt, as the core leaves them for this policy).

Example: `net = policy.network_decision(layouts)`, then every tick
`decided = net.decide_all([states...], [estimates...], [views...], now_s)`, in `net.jids` order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from controller.core.cuts import joined_source
from controller.core.estimation import Estimate, Layout, LinkLayout, LinkState
from controller.core.netestimate import healths_of, lanes_of
from controller.core.network import NetworkView
from controller.core.policies.max_pressure import (
    Look,
    MaxPressurePolicy,
    MaxPressureState,
    Statics,
    _ticked,
    build_statics,
    full_green_lanes,
    held_exit_ratio,
    stay_phase,
    walkers_due,
)
from controller.core.policies.phases import exit_targets, held_feeds, lane_fifo_ratio, short_exits
from controller.core.rowsums import RaggedRows
from controller.core.safety import SignalView
from controller.model import PhaseWish


@dataclass(frozen=True)
class _Rows:
    """The (junction, phase) rows of the junctions with one number of movements, stacked."""

    at: np.ndarray  # (R,) flat position of each row in the (junctions, most phases) pressures
    junction: np.ndarray  # (R,) junction position
    service: np.ndarray  # (R, movements) Statics.service
    movements: np.ndarray  # (R, movements) network movement index
    useful: np.ndarray  # (U, movements) the junctions' Statics.useful, (phase in force, phase) rows
    useful_at: np.ndarray  # (R,) row of `useful` with phase 0 in force
    useful_step: np.ndarray  # (R,) rows of `useful` per phase in force (the junction's phases)


@dataclass(frozen=True)
class _Padded:
    """All (junction, phase) rows at once, padded to one width (rowsums.RaggedRows): for networks
    whose junctions have many different numbers of movements (one reduction per number otherwise)."""

    rows: RaggedRows
    at: np.ndarray  # (R,) flat position of each row in the (junctions, most phases) pressures
    junction: np.ndarray  # (R,)
    service: np.ndarray  # (R, width) Statics.service, 0 past the junction's movements
    movements: np.ndarray  # (R, width) network movement index; past them, the index of a 0 weight
    useful: np.ndarray  # (U, width) the junctions' Statics.useful, (phase in force, phase) rows, 0 past
    useful_at: np.ndarray  # (R,)
    useful_step: np.ndarray  # (R,)

    def sums(self, weight: np.ndarray, cur: np.ndarray) -> np.ndarray | None:
        """(R,) phase_pressures' row sums, None when a product is negative (rowsums)."""
        useful = self.useful[self.useful_at + cur[self.junction] * self.useful_step]
        return self.rows.sums(self.service * np.concatenate((weight, _NO_WEIGHT))[self.movements] * useful)


_NO_WEIGHT = np.zeros(1)


@dataclass(frozen=True)
class _Box:
    """Index arrays of the box of permitted turns (update_boxed) over the network."""

    permitted: np.ndarray  # flat (junction, phase, movement): served permitted only
    mov_base: np.ndarray  # (movements,) its entry in `permitted` with phase 0 in force
    mov_step: np.ndarray  # (movements,) entries per phase in force (the junction's movements)
    has_permitted: np.ndarray  # (junctions, most phases) Statics.has_permitted
    yield_junction: np.ndarray  # (pairs,) Statics.yield_lanes as (junction, phase, movement, lane)
    yield_phase: np.ndarray
    yield_movement: np.ndarray  # network movement index
    yield_lane: np.ndarray  # network lane index
    own_movement: np.ndarray  # (pairs,) the movements' own lanes (lane_share > 0)
    own_lane: np.ndarray
    own_share: np.ndarray  # (pairs,) lane_share


@dataclass(frozen=True)
class _Pull:
    """Index arrays of the queue held upstream (phases.upstream_held_pcu) over the network: one
    group per approach a controlled neighbour feeds directly (phases.held_feeds)."""

    feed_movement: np.ndarray  # (feeds,) network movement index of a neighbour's movement feeding an approach
    feed_group: np.ndarray  # (feeds,) its approach, in held_feeds' order
    lanes: np.ndarray  # (groups, <= 7) network lane index of the approach's lanes, in order; past them, n_lanes
    long: tuple[tuple[int, np.ndarray], ...]  # (group, lane indices) of an approach of 8 lanes or more
    storage_pcu: np.ndarray  # (groups,) the approach's lane storage between its loops, summed as the reference
    # does, or its chain's (pull_chains) where that is more
    movement: np.ndarray  # (approach movements,) network movement index
    movement_group: np.ndarray  # (approach movements,) its approach
    n_movements: np.ndarray  # (groups,) the approach's movements
    size: int  # movements of the network

    @staticmethod
    def build(lays: Sequence[Layout], mov_start: np.ndarray, lane_start: np.ndarray, chains: bool) -> _Pull | None:
        """None where no controlled neighbour feeds an approach (directly, or with `chains` over
        unsignalised edges: phases.held_feeds) (the held queue is 0)."""
        jids = [lay.junction.id for lay in lays]
        by_id = dict(zip(jids, lays))
        pos = {j: k for k, j in enumerate(jids)}
        edges = LinkLayout.build(by_id).edge_movements
        f_mov: list[int] = []
        f_grp: list[int] = []
        lanes: list[np.ndarray] = []
        storage: list[float] = []
        mov: list[np.ndarray] = []
        mov_grp: list[np.ndarray] = []
        for k, lay in enumerate(lays):
            for edge, sources, reach_pcu in held_feeds(lay, by_id, edges, chains):
                g = len(lanes)
                f_mov.extend(int(mov_start[pos[u]]) + m for u, m in sources)
                f_grp.extend([g] * len(sources))
                ix = edges[lay.junction.id][edge]
                on = lay.lane_uses[ix].any(axis=0)
                lanes.append(np.flatnonzero(on) + lane_start[k])
                storage.append(max(float(lay.lane_storage_pcu[on].sum()), reach_pcu))
                mov.append(ix + mov_start[k])
                mov_grp.append(np.full(len(ix), g))
        if not lanes:
            return None
        n_lanes = int(lane_start[-1])
        # rows of at most 7 entries: numpy sums a row of 8 or more pairwise, not left to right (the
        # reference's order for an approach of fewer than 8 lanes); wider approaches are summed on their own
        short = [x for x in lanes if len(x) < 8]
        table = np.full((len(lanes), max((len(x) for x in short), default=1)), n_lanes)
        for g, x in enumerate(lanes):
            if len(x) < 8:
                table[g, : len(x)] = x
        return _Pull(
            np.array(f_mov, dtype=int),
            np.array(f_grp, dtype=int),
            table,
            tuple((g, x) for g, x in enumerate(lanes) if len(x) >= 8),
            np.array(storage),
            np.concatenate(mov).astype(int),
            np.concatenate(mov_grp).astype(int),
            np.array([len(x) for x in mov]),
            int(mov_start[-1]),
        )

    def held_pcu(self, queue: np.ndarray, lane_queue: np.ndarray, lane_hidden: np.ndarray) -> np.ndarray:
        """(movements,) phases.upstream_held_pcu of every junction, bit for bit: `queue` the
        network's Estimate.queue_pcu, `lane_queue` / `lane_hidden` its LaneState.queue_pcu / hidden_pcu."""
        q = np.bincount(self.feed_group, weights=queue[self.feed_movement], minlength=len(self.storage_pcu))
        stored_l = np.concatenate((lane_queue + lane_hidden, _NO_WEIGHT))
        # rows of fewer than 8 entries (zeros past an approach's lanes): numpy sums them left to right
        stored = np.add.reduce(stored_l[self.lanes], axis=1)
        for g, x in self.long:
            stored[g] = float(stored_l[x].sum())
        room = np.maximum(self.storage_pcu - stored, 0.0)
        per = np.maximum(q - room, 0.0) / self.n_movements
        out = np.zeros(self.size)
        out[self.movement] = per[self.movement_group]
        return out


@dataclass(frozen=True)
class _CoreView:
    """The network's links as the core gives them to a policy that does not learn them (`reads_links`
    False: step.Core._coordinate), for the NetworkView of the reference's rules that read the neighbours'
    lights and estimates ([max_pressure] stall_s: _held_stalls; exit_room_held with exit_room_held_direct:
    held_exit_ratio), and which movements have an exit those rules can read as held (`static_holds`)."""

    links: LinkLayout  # the network's (its edge_movements)
    link_state: LinkState  # empty: the links are not learnt

    @staticmethod
    def build(lays: Sequence[Layout]) -> _CoreView:
        by_id = {lay.junction.id: lay for lay in lays}
        links = LinkLayout.build(by_id)
        return _CoreView(links, LinkState.empty(links, by_id, 0.0))

    def static_view(self, lays: Sequence[Layout]) -> NetworkView:
        """A NetworkView of the junctions `lays` for what does not change: their exits (phases.exit_targets
        reads only whether a neighbour has an estimate: every junction has one in the core's view)."""
        by_id = {lay.junction.id: lay for lay in lays}
        return NetworkView(
            self.links, self.link_state, {j: Estimate.empty(lay, 0.0) for j, lay in by_id.items()}, by_id
        )

    def static_holds(self, lays: Sequence[Layout]) -> list[np.ndarray]:
        """Per junction, (movements,) bool: the movement's exit edge is a controlled neighbour's approach
        (phases.exit_targets, direct, the links not learnt) that is not a short link (short_exits): the
        only movements whose exit exits_held or held_exit_ratio (with `exit_room_held_direct`) can read as
        held, whatever the estimates and signals; before first in, first out (lane_fifo_ratio)."""
        net = self.static_view(lays)
        out: list[np.ndarray] = []
        for lay in lays:
            target = np.array([t is not None for t in exit_targets(lay, net, direct=True)], dtype=bool)
            out.append(target & ~short_exits(lay, net, direct=True))
        return out

    def view(
        self, net: NetPressure, estimates: Sequence[Estimate], signals: Sequence[SignalView | None]
    ) -> NetworkView:
        """The NetworkView the core gives decide() for a policy that does not learn the links
        (step.Core._coordinate): every junction's estimate (`net.jids` order), the stage each reports
        and its SignalView."""
        return NetworkView(
            self.links,
            self.link_state,
            dict(zip(net.jids, estimates)),
            dict(zip(net.jids, net.layouts)),
            phases={j: None if v is None else v.phase for j, v in zip(net.jids, signals)},
            signals=dict(zip(net.jids, signals)),
        )


@dataclass(frozen=True)
class _Held:
    """With [max_pressure] exit_room_held and exit_room_held_direct: the movements whose exit the rule can read
    as held (_CoreView.static_holds), and the approach each feeds, to find where held_exit_ratio can be below 1."""

    movement: np.ndarray  # (H,) network movement index
    junction: np.ndarray  # (H,) its junction position
    group: np.ndarray  # (H,) the neighbour approach its exit edge is
    unbounded: np.ndarray  # (H,) that approach's room is not finite (held_link_room_pcu: a road with no head)
    lanes: np.ndarray  # (approach lanes,) network lane index of each approach's lanes
    lane_group: np.ndarray  # (approach lanes,) its approach
    cap_pcu: np.ndarray  # (groups,) the approach's storage to the link's head, summed as held_link_room_pcu sums it
    margin_pcu: np.ndarray  # (groups,) 1e-9 x (1 + cap_pcu, 0 where not finite): with 1e-9 x the stored PCU, the margin

    @staticmethod
    def build(lays: Sequence[Layout], mov_start: np.ndarray, lane_start: np.ndarray, core: _CoreView) -> _Held:
        net = core.static_view(lays)
        pos = {lay.junction.id: k for k, lay in enumerate(lays)}
        targets: dict[tuple[str, str], int] = {}
        mov: list[int] = []
        jun: list[int] = []
        grp: list[int] = []
        for k, (lay, static) in enumerate(zip(lays, core.static_holds(lays))):
            for i, t in enumerate(exit_targets(lay, net, direct=True)):
                if t is not None and static[i]:
                    mov.append(int(mov_start[k]) + i)
                    jun.append(k)
                    grp.append(targets.setdefault(t, len(targets)))
        lanes: list[np.ndarray] = []
        lane_grp: list[np.ndarray] = []
        cap: list[float] = []
        for g, (jid, edge) in enumerate(targets):
            down = lays[pos[jid]]
            on = down.lane_uses[core.links.edge_movements[jid][edge]].any(axis=0)
            lanes.append(np.flatnonzero(on) + lane_start[pos[jid]])
            lane_grp.append(np.full(int(on.sum()), g))
            cap.append(float((down.lane_storage_pcu[on] + down.lane_adv_room_pcu[on]).sum()))
        caps = np.array(cap, dtype=float)
        group = np.array(grp, dtype=int)
        return _Held(
            np.array(mov, dtype=int),
            np.array(jun, dtype=int),
            group,
            ~np.isfinite(caps)[group],
            np.concatenate(lanes).astype(int) if lanes else np.zeros(0, dtype=int),
            np.concatenate(lane_grp).astype(int) if lane_grp else np.zeros(0, dtype=int),
            caps,
            1e-9 * (1.0 + np.abs(np.where(np.isfinite(caps), caps, 0.0))),
        )

    def junctions(self, queue: np.ndarray, lane_queue: np.ndarray, lane_hidden: np.ndarray) -> list[int]:
        """The junction positions (in order) where held_exit_ratio can give a movement less than 1 this tick:
        one of `movement` whose approach's room (cap_pcu less its lanes' queue and hidden queue, `lane_queue` /
        `lane_hidden` the network's LaneState fields) is not at least its queue (`queue`, the network's
        Estimate.queue_pcu; at least 1 PCU) by a margin over the sums' rounding (summed here in another order
        than held_link_room_pcu's), or not finite where the approach is bounded (a NaN). Elsewhere the room is at
        least that queue, so room / queue is at least 1, clipped to 1, held or not, and lane_fifo_ratio keeps
        ratios of 1; an unbounded approach's room is not judged (1)."""
        if not len(self.movement):
            return []
        x = lane_queue[self.lanes] + lane_hidden[self.lanes]
        n = len(self.cap_pcu)
        stored = np.bincount(self.lane_group, weights=x, minlength=n)
        size = np.bincount(self.lane_group, weights=np.abs(x), minlength=n)
        room = (self.cap_pcu - stored - (self.margin_pcu + 1e-9 * size))[self.group]
        ok = self.unbounded | (room >= np.maximum(queue[self.movement], 1.0))
        if np.logical_and.reduce(ok):
            return []
        return sorted(set(self.junction[~ok].tolist()))


@dataclass(frozen=True)
class _Stall:
    """With [max_pressure] stall_s > 0, the stall rule's constants over the network: what
    max_pressure.stalled_movements reads of each junction's model, and which movements exits_held can
    ever mark (its static part)."""

    protected: np.ndarray  # flat (junction, phase, movement) Layout.protected, indexed as _Box.permitted
    full_green: np.ndarray  # flat (junction, phase, lane) Statics.full_green
    lane_base: np.ndarray  # (lanes,) its entry in `full_green` with phase 0 in force
    lane_step: np.ndarray  # (lanes,) entries per phase in force (the junction's lanes)
    startup_s: np.ndarray  # (movements,) the junction's start-up lost time (LayoutParams.startup_lost_s)
    # (movements,) some movement sharing a lane with it (or itself) has an exit onto a controlled neighbour's
    # approach that is not a short link (_CoreView.static_holds, lane_fifo_ratio): exits_held is False
    # wherever this is, whatever the estimates and signals
    can_hold: np.ndarray

    @staticmethod
    def build(lays: Sequence[Layout], statics: Sequence[Statics], n_p: np.ndarray, core: _CoreView) -> _Stall:
        can_hold: list[np.ndarray] = []
        full: list[np.ndarray] = []
        for lay, st, static in zip(lays, statics, core.static_holds(lays)):
            can_hold.append(lane_fifo_ratio(lay, np.where(static, 0.0, 1.0)) < 1.0)
            full.append((st.full_green if st.full_green is not None else full_green_lanes(lay)).reshape(-1))
        n_l = np.array([len(lay.lanes) for lay in lays])
        base = np.concatenate(([0], np.cumsum(n_p * n_l)[:-1]))
        lane_start = np.concatenate(([0], np.cumsum(n_l)[:-1]))
        n_m = [len(lay.junction.movements) for lay in lays]
        return _Stall(
            np.concatenate([lay.protected.reshape(-1) for lay in lays]),
            np.concatenate(full),
            np.repeat(base, n_l) + np.arange(int(n_l.sum())) - np.repeat(lane_start, n_l),
            np.repeat(n_l, n_l),
            np.repeat([lay.params.startup_lost_s for lay in lays], n_m).astype(float),
            np.concatenate(can_hold),
        )

    def candidates(
        self,
        net: NetPressure,
        tick: _Tick,
        mov: Mapping[str, np.ndarray],
        stop_empty: np.ndarray,
        last_s: np.ndarray,
        now_s: float,
        stall_s: float,
    ) -> np.ndarray:
        """(movements,) max_pressure.stalled_movements of every junction with its phase in force
        `tick.cur`, element for element, and only where exits_held can mark (`can_hold`): `mov` the
        network's Estimate fields, `stop_empty` its LaneState.stop_empty_s, `last_s` when each movement
        last sent a vehicle over its stop line."""
        b, j_m = net.box, net.mov_junction
        cur_m = tick.cur[j_m]
        since = now_s - np.maximum(last_s, now_s - tick.elapsed_s[j_m] + self.startup_s)
        full = self.full_green[self.lane_base + tick.cur[net.lane_junction] * self.lane_step]
        standing = np.zeros(len(j_m), dtype=bool)
        standing[b.own_movement[((stop_empty <= 0.0) & full)[b.own_lane]]] = True
        out: np.ndarray = (
            self.protected[b.mov_base + cur_m * b.mov_step]
            & (mov["queue_pcu"] > 0.0)
            & ~mov["blind"]
            & standing
            & (since >= stall_s)
            & self.can_hold
        )
        return out


@dataclass(frozen=True)
class _Yield:
    """With [max_pressure] yield_block_s > 0, where max_pressure.yield_blocked_lanes can find a lane: a lane that
    a movement the phase in force serves permitted only, yielding to some stream (Statics.yield_lanes), uses, whose
    stop-line loop has stood `block_s` in a green of at least the start-up loss + `block_s`. The junctions with
    one are decided by the reference (decide_held, which reads the yielded-to streams); elsewhere the rule leaves
    the pressures as they are."""

    block_s: float
    after_s: np.ndarray  # (junctions,) the start-up lost time (LayoutParams.startup_lost_s) + block_s
    lane_base: np.ndarray  # (lanes,) its entry in `can` with phase 0 in force
    lane_step: np.ndarray  # (lanes,) entries per phase in force (the junction's lanes)
    can: np.ndarray  # flat (junction, phase, lane) bool: yield_blocked_lanes can mark the lane in that phase
    stop: np.ndarray  # (lanes,) the lane's stop-line loop in the network's detectors (junctions' in order), -1 none

    @staticmethod
    def build(lays: Sequence[Layout], statics: Sequence[Statics], n_p: np.ndarray, block_s: float) -> _Yield:
        can: list[np.ndarray] = []
        stop: list[np.ndarray] = []
        det = 0
        for lay, st in zip(lays, statics):
            given = st.yield_lanes if st.given_way is None else st.given_way
            yields = (given.any(axis=2) & lay.serves & ~lay.protected).astype(int)  # (phases, movements)
            can.append(((yields @ lay.lane_uses.astype(int) > 0) & (lay.lane_stop >= 0)).reshape(-1))
            stop.append(np.where(lay.lane_stop >= 0, lay.lane_stop + det, -1))
            det += len(lay.det_index)
        n_l = np.array([len(lay.lanes) for lay in lays])
        base = np.concatenate(([0], np.cumsum(n_p * n_l)[:-1]))
        lane_start = np.concatenate(([0], np.cumsum(n_l)[:-1]))
        return _Yield(
            block_s,
            np.array([lay.params.startup_lost_s + block_s for lay in lays], dtype=float),
            np.repeat(base, n_l) + np.arange(int(n_l.sum())) - np.repeat(lane_start, n_l),
            np.repeat(n_l, n_l),
            np.concatenate(can),
            np.concatenate(stop),
        )

    def junctions(self, net: NetPressure, tick: _Tick, estimates: Sequence[Estimate]) -> frozenset[int]:
        """The junction positions where yield_blocked_lanes can mark a lane this tick (`tick.cur`, `tick.elapsed_s`;
        the loops' DetectorHealth.on_s from `estimates`): a superset (the yielded-to streams are not read, the
        thresholds taken 1e-6 s early), so the reference decides every junction where the rule acts."""
        j_l = net.lane_junction
        lanes = self.can[self.lane_base + tick.cur[j_l] * self.lane_step] & (tick.elapsed_s >= self.after_s - 1e-6)[j_l]
        if not lanes.any():
            return frozenset()
        (on_s,) = _joined(healths_of(estimates), ("on_s",))
        lanes[lanes] = on_s[self.stop[lanes]] >= self.block_s - 1e-6
        return frozenset(j_l[lanes].tolist())


@dataclass(frozen=True)
class _Tick:
    """What the pass reads of the junctions' states and signal views this tick."""

    cur: np.ndarray  # (junctions,) phase in force (0 without a view)
    elapsed_s: np.ndarray  # (junctions,) green elapsed (0 without a view)
    reset: np.ndarray  # (junctions,) bool: a new green (or no departures seen yet): the box empties
    red_since_s: np.ndarray  # (movements,)
    last_dep: np.ndarray  # (movements,) departures seen last tick (0 where none)
    boxed: np.ndarray  # (movements,) last tick's box (False where none)
    reference: frozenset[int]  # junctions the reference decides (a state or view this pass cannot read)
    # (movements,) with stall_s: when each last sent a vehicle over its stop line (MaxPressureState.last_dep_s),
    # now where not known (_track_box); None: stall_s 0
    last_dep_s: np.ndarray | None = None


def _boxed_state(
    state: MaxPressureState, phase: int, dep: np.ndarray, boxed: np.ndarray, last_s: np.ndarray | None
) -> MaxPressureState:
    """decide's state after this tick's box (max_pressure._track_box): the phase, departures, box and
    last departures given. The other tracked fields stay `state`'s: None, as the keys that fill them
    keep the pass off (network_decision); no head is read blocked (head_waits None)."""
    return _ticked(state, phase=phase, last_dep_pcu=dep, boxed=boxed, last_dep_s=last_s, head_waits=None)


@dataclass(frozen=True)
class NetPressure:
    """max-pressure's constants of many junctions, concatenated (`build`; junction order `jids`)."""

    policy: MaxPressurePolicy
    jids: tuple[str, ...]
    layouts: tuple[Layout, ...]
    statics: tuple[Statics, ...]
    spans: tuple[tuple[int, int], ...]  # per junction its movements m0:m1
    n_phases: tuple[int, ...]
    mov_junction: np.ndarray  # (movements,) junction position
    lane_junction: np.ndarray  # (lanes,) junction position
    lane_start: np.ndarray  # (junctions + 1,) first lane of each junction
    min_green_s: np.ndarray  # (junctions, most phases); inf past a junction's phases
    lane_weight: np.ndarray  # (movements,)
    groups: tuple[_Rows, ...]
    padded: _Padded | None  # all rows in one pass where that takes fewer numpy calls than `groups`
    box: _Box
    pull: _Pull | None  # with pull_upstream, where a neighbour feeds an approach directly
    stay: tuple[PhaseWish, ...]  # PhaseWish(k) for every phase k (wishes are immutable: one each)
    no_phase: np.ndarray  # (junctions, most phases) -inf: the pressures before a tick's are written
    # per junction position, the constants of its last state, found equal to its own (_adopt): a
    # cache decide_all rewrites (the dataclass freezes its fields, not this list's content); it
    # saves a comparison, never changes a decision
    seen: list[Statics] = field(default_factory=list)
    # (lanes,) Layout.lane_adv_room_pcu with [max_pressure] spill_room or spill_reach (spillback.blocking_queue_pcu),
    # else None
    lane_room_pcu: np.ndarray | None = None
    stall: _Stall | None = None  # with [max_pressure] stall_s > 0
    # with stall_s > 0 or exit_room_held: the links of the core's NetworkView, for the reference's rules that read it
    core: _CoreView | None = None
    held: _Held | None = None  # with exit_room_held (and exit_room_held_direct)
    yielded: _Yield | None = None  # with [max_pressure] yield_block_s > 0

    @staticmethod
    def build(policy: MaxPressurePolicy, layouts: Mapping[str, Layout], pad: bool | None = None) -> NetPressure | None:
        """None when the pass does not apply: no junction, Varaiya's downstream term, exit_room or
        exit_room_held without exit_room_held_direct on (they read the learnt links), or a junction without
        movements, lanes or phases. `pad`: sum the pressures' rows padded to one
        width (True), one reduction per number of movements (False), or whichever takes fewer
        numpy calls (None)."""
        p = policy.params
        lays = tuple(layouts.values())
        if not lays or p.downstream_weight > 0 or p.exit_room or (p.exit_room_held and not p.exit_room_held_direct):
            return None
        if any(not lay.junction.movements or not lay.lanes or not lay.junction.phases for lay in lays):
            return None
        statics = tuple(build_statics(lay, p.permitted_sat_ratio, p.switch_service_s) for lay in lays)
        n_m = np.array([len(lay.junction.movements) for lay in lays])
        n_p = np.array([len(lay.junction.phases) for lay in lays])
        mov_start = np.concatenate(([0], np.cumsum(n_m)))
        lane_start = np.concatenate(([0], np.cumsum([len(lay.lanes) for lay in lays])))
        width = int(n_p.max())
        min_green = np.full((len(lays), width), np.inf)
        for k, lay in enumerate(lays):
            min_green[k, : n_p[k]] = [ph.min_green_s for ph in lay.junction.phases]
        groups = _groups(statics, n_m, n_p, mov_start, width)
        core = _CoreView.build(lays) if p.stall_s > 0 or p.exit_room_held else None
        return NetPressure(
            policy,
            tuple(layouts),
            lays,
            statics,
            tuple(zip(mov_start[:-1].tolist(), mov_start[1:].tolist())),
            tuple(n_p.tolist()),
            np.repeat(np.arange(len(lays)), n_m),
            np.repeat(np.arange(len(lays)), np.diff(lane_start)),
            lane_start,
            min_green,
            np.concatenate([st.lane_weight for st in statics]),
            groups,
            _padded(statics, n_m, n_p, mov_start, width, len(groups), pad),
            _box_index(lays, statics, n_m, n_p, mov_start, lane_start, width),
            _Pull.build(lays, mov_start, lane_start, p.pull_chains) if p.pull_upstream else None,
            tuple(PhaseWish(k) for k in range(width)),
            np.full((len(lays), width), -np.inf),
            list(statics),
            np.concatenate([lay.lane_adv_room_pcu for lay in lays]) if p.spill_room or p.spill_reach else None,
            _Stall.build(lays, statics, n_p, core) if p.stall_s > 0 and core is not None else None,
            core,
            _Held.build(lays, mov_start, lane_start, core) if p.exit_room_held and core is not None else None,
            _Yield.build(lays, statics, n_p, p.yield_block_s) if p.yield_block_s > 0 else None,
        )

    def decide_all(
        self,
        states: Sequence[MaxPressureState],
        estimates: Sequence[Estimate],
        signals: Sequence[SignalView | None],
        now_s: float,
    ) -> list[tuple[MaxPressureState, PhaseWish | None]]:
        """Per junction (in `jids` order), decide's new state and wish."""
        tick = self._read(states, signals, now_s)
        p = self.policy.params
        names = _FIELDS if p.arrival_s > 0 else _FIELDS[:-1]
        if self.stall is not None:
            names = (*names, "blind")
        mov = dict(zip(names, _joined(estimates, names)))
        lane_names = _LANE_FIELDS if self.pull is not None or self.held is not None else _LANE_FIELDS[:-1]
        lanes = dict(zip(lane_names, _joined(lanes_of(estimates), lane_names)))
        boxed = self._boxes(tick, mov["departures_pcu"], lanes["stop_empty_s"])
        held = None
        if p.pull_upstream:
            held = (
                np.zeros(len(self.mov_junction))
                if self.pull is None
                else self.pull.held_pcu(mov["queue_pcu"], lanes["queue_pcu"], lanes["hidden_pcu"])
            )
        dep = mov["departures_pcu"]
        last_s = stalled = network = None
        if self.stall is not None and tick.last_dep_s is not None:  # max_pressure._track_box's last_dep_s
            last_s = np.where(dep > tick.last_dep, now_s, tick.last_dep_s)
            stalled, network = self._stalls(tick, states, estimates, signals, mov, lanes, boxed, last_s, held, now_s)
        ratio = None
        if self.held is not None:
            ratio, network = self._held_ratio(tick, estimates, signals, mov, lanes, network, now_s)
        ref = tick.reference if self.yielded is None else tick.reference | self.yielded.junctions(self, tick, estimates)
        if network is None and ref and self.core is not None:
            network = self.core.view(self, estimates, signals)
        v = self._pressures(tick, mov, self._spilled(lanes["hidden_pcu"]), now_s, held, stalled, ratio)
        j = np.arange(len(v))
        best = v.argmax(axis=1)  # the first highest; a NaN first, as decide's argmax
        go = ~(v[j, best] <= v[j, tick.cur]) & ~(tick.elapsed_s < self.min_green_s[j, tick.cur])
        go_l, best_l, spans, policy, stay = go.tolist(), best.tolist(), self.spans, self.policy, self.stay
        out: list[tuple[MaxPressureState, PhaseWish | None]] = []
        for k, (state, est, view) in enumerate(zip(states, estimates, signals)):
            if view is None:
                out.append((state, None))
            elif k in ref:
                mine = None if held is None else held[spans[k][0] : spans[k][1]]
                out.append(policy.decide_held(state, self.layouts[k], est, view, now_s, network, None, mine))
            elif view.in_intergreen:
                out.append((state, stay[view.phase]))
            else:
                cur = view.phase
                m0, m1 = spans[k]
                since = None if last_s is None else last_s[m0:m1]
                new = _boxed_state(state, cur, dep[m0:m1], boxed[m0:m1], since)
                out.append((new, self._wish(k, new, est, view, v[k, : self.n_phases[k]], go_l[k], best_l[k], now_s)))
        return out

    def _wish(
        self, k: int, state: MaxPressureState, est: Estimate, view: SignalView, v: np.ndarray, go: bool, best: int,
        now_s: float,
    ) -> PhaseWish:  # fmt: skip
        """The wish of junction `k` (decided by this pass, not in an intergreen), as decide_held wishes: past the
        minimum green a phase greening a crossing due (max_pressure.walkers_due), else with `go` (a phase's pressure
        above the one in force) `best`, else the phase in force or its walker tail (max_pressure.stay_phase). `v`
        (phases,) its pressures."""
        cur, past_min = view.phase, view.green_elapsed_s >= self.min_green_s[k, view.phase]
        target = walkers_due(state.statics, view, now_s, v) if past_min else -1
        if target < 0 and go:
            target = best
        if target >= 0:
            return PhaseWish(self.policy.via_clearance(state, self.layouts[k], est, cur, target, v))
        if not past_min:
            return self.stay[cur]
        return self.stay[stay_phase(state.statics, self.layouts[k].junction, view)]

    def _read(self, states: Sequence[MaxPressureState], views: Sequence[SignalView | None], now_s: float) -> _Tick:
        """The tick's signal views and last states as network arrays; a junction whose state or
        view does not fit its model goes to the reference (and reads as without a view)."""
        cur: list[int] = []
        elapsed: list[float] = []
        reset: list[bool] = []
        red: list[float] = []
        last: list[np.ndarray] = []
        boxed: list[np.ndarray] = []
        reference: list[int] = []
        last_s: list[np.ndarray] | None = [] if self.stall is not None else None
        seen, spans, n_phases = self.seen, self.spans, self.n_phases
        for k, (state, view) in enumerate(zip(states, views)):
            m0, m1 = spans[k]
            dep = state.last_dep_pcu
            if last_s is not None:  # _track_box: now where the last departures are not known
                prev = state.last_dep_s
                known = prev is not None and dep is not None and len(prev) == m1 - m0
                last_s.append(prev if prev is not None and known else np.full(m1 - m0, now_s))
            fits = dep is None or (len(dep) == m1 - m0 and len(state.boxed) == m1 - m0)
            if view is not None and not (
                fits
                and (state.statics is seen[k] or self._adopt(k, state.statics))
                and 0 <= view.phase < n_phases[k]
                and len(view.red_since_s) == m1 - m0
            ):
                reference.append(k)
                view = None
            if view is None:
                cur.append(0)
                elapsed.append(0.0)
                reset.append(True)
                red.extend([now_s] * (m1 - m0))
            else:
                cur.append(view.phase)
                elapsed.append(view.green_elapsed_s)
                reset.append(dep is None or state.phase != view.phase)
                red.extend(view.red_since_s)
            if dep is None or not fits:
                last.append(np.zeros(m1 - m0))
                boxed.append(np.zeros(m1 - m0, dtype=bool))
            else:
                last.append(dep)
                boxed.append(state.boxed)
        return _Tick(
            np.array(cur),
            np.array(elapsed),
            np.array(reset),
            np.array(red, dtype=float),
            np.concatenate(last),
            np.concatenate(boxed),
            frozenset(reference),
            None if last_s is None else np.concatenate(last_s),
        )

    def _stalls(
        self,
        tick: _Tick,
        states: Sequence[MaxPressureState],
        estimates: Sequence[Estimate],
        signals: Sequence[SignalView | None],
        mov: Mapping[str, np.ndarray],
        lanes: Mapping[str, np.ndarray],
        boxed: np.ndarray,
        last_s: np.ndarray,
        held: np.ndarray | None,
        now_s: float,
    ) -> tuple[np.ndarray | None, NetworkView | None]:
        """(movements,) the movements whose queue the stall rule drops this tick (decide_held's
        `stalled` after _held_stalls), None where it marks none, and the NetworkView built for it
        (None: none was needed). The candidates are found over the network (_Stall.candidates);
        exits_held, reading the neighbours' signals and estimates, runs only at a junction with one,
        decided by this pass (a view, no intergreen, its minimum green past), through the reference's
        own _held_stalls with the NetworkView the core gives decide()."""
        stall = self.stall
        if stall is None:
            return None, None
        cand = stall.candidates(self, tick, mov, lanes["stop_empty_s"], last_s, now_s, self.policy.params.stall_s)
        if not np.logical_or.reduce(cand):
            return None, None
        out = np.zeros(len(cand), dtype=bool)
        network = None
        dep = mov["departures_pcu"]
        for k in sorted(set(self.mov_junction[cand].tolist())):
            view = signals[k]
            if view is None or k in tick.reference or view.in_intergreen:
                continue
            if view.green_elapsed_s < self.min_green_s[k, view.phase]:
                continue
            m0, m1 = self.spans[k]
            if network is None:
                assert self.core is not None  # build() gives the stall rule only with a core
                network = self.core.view(self, estimates, signals)
            state = _boxed_state(states[k], view.phase, dep[m0:m1], boxed[m0:m1], last_s[m0:m1])
            mine = None if held is None else held[m0:m1]
            look = Look(state, self.layouts[k], estimates[k], view, now_s, network, mine)
            out[m0:m1] = self.policy._held_stalls(look, cand[m0:m1])
        return out, network

    def _held_ratio(
        self,
        tick: _Tick,
        estimates: Sequence[Estimate],
        signals: Sequence[SignalView | None],
        mov: Mapping[str, np.ndarray],
        lanes: Mapping[str, np.ndarray],
        network: NetworkView | None,
        now_s: float,
    ) -> tuple[np.ndarray | None, NetworkView | None]:
        """(movements,) exit_room_held's exit ratios (max_pressure.held_exit_ratio, direct), None where every one
        is 1, and the NetworkView (built here where none was and one is needed). The reference's held_exit_ratio
        runs only at a junction where one can be below 1 (_Held.junctions), decided by this pass (a view, no
        intergreen, its minimum green past: decide_held reads no pressures otherwise), with the NetworkView the
        core gives decide()."""
        held, core = self.held, self.core
        if held is None or core is None:
            return None, network
        ks = held.junctions(mov["queue_pcu"], lanes["queue_pcu"], lanes["hidden_pcu"])
        if not ks:
            return None, network
        out = np.ones(len(self.mov_junction))
        for k in ks:
            view = signals[k]
            if view is None or k in tick.reference or view.in_intergreen:
                continue
            if view.green_elapsed_s < self.min_green_s[k, view.phase]:
                continue
            if network is None:
                network = core.view(self, estimates, signals)
            m0, m1 = self.spans[k]
            out[m0:m1] = held_exit_ratio(self.layouts[k], estimates[k], network, now_s, True)
        return out, network

    def _adopt(self, k: int, statics: Statics) -> bool:
        """Whether a junction's state holds constants equal to the pass's (a state built by the
        policy's init, or restored, is compared once; then known by identity)."""
        if not _same_statics(statics, self.statics[k]):
            return False
        self.seen[k] = statics
        return True

    def _boxes(self, tick: _Tick, dep: np.ndarray, stop_empty: np.ndarray) -> np.ndarray:
        """(movements,) every junction's box after this tick (max_pressure._track_box): empty on
        a new green, kept through a phase with no permitted-only movement, else update_boxed.
        `dep`: the departures (movements), `stop_empty`: the lanes' LaneState.stop_empty_s."""
        b, j_m = self.box, self.mov_junction
        cur_m = tick.cur[j_m]
        grown = tick.boxed | (b.permitted[b.mov_base + cur_m * b.mov_step] & (dep > tick.last_dep))
        if np.logical_or.reduce(grown):  # else nothing to clear (update_boxed's early return); ndarray.any's reduction
            gap = stop_empty >= self.policy.params.clearance_gap_s - 1e-9
            # still boxed: some stream yielded to shows no gap, or someone waits at its own stop line
            held = np.zeros(len(grown), dtype=bool)
            held[b.yield_movement[(b.yield_phase == tick.cur[b.yield_junction]) & ~gap[b.yield_lane]]] = True
            held[b.own_movement[~(stop_empty > 0)[b.own_lane]]] = True
            grown &= held
        keeps = ~b.has_permitted[np.arange(len(tick.cur)), tick.cur][j_m]
        out: np.ndarray = np.where(keeps, tick.boxed, grown) & ~tick.reset[j_m]
        return out

    def _pressures(
        self,
        tick: _Tick,
        mov: Mapping[str, np.ndarray],
        upstream: np.ndarray,
        now_s: float,
        held: np.ndarray | None = None,
        stalled: np.ndarray | None = None,
        exit_ratio: np.ndarray | None = None,
    ) -> np.ndarray:
        """(junctions, most phases) phase_pressures of every junction with its phase in force
        `tick.cur`, from the network's movement arrays `mov` (Estimate's fields), the queue
        spilled upstream, the queue held upstream (pull_upstream; None: off), the movements
        the stall rule marks (`stalled`: no queue; None: none) and, with exit_room_held, the exit
        ratios (_held_ratio; None: 1); -inf past a junction's phases."""
        p = self.policy.params
        x = mov["queue_pcu"]
        if p.arrival_s > 0:
            x = x + mov["flow_pcu_h"] / 3600.0 * p.arrival_s / 2.0
        x = x + upstream
        if held is not None:
            x = x + held
        if stalled is not None:
            x = np.where(stalled, 0.0, x)
        free = 1.0 - mov["block"]
        if p.exit_room_held:  # phase_pressures with held_exit_ratio's ratios (1 where it acts on none: still the min)
            free = np.minimum(free, 1.0 if exit_ratio is None else exit_ratio)
        rate = mov["sat_flow_pcu_h"] * free / 3600.0
        red_s = now_s - tick.red_since_s
        weight = rate * x * self.lane_weight * (1.0 + np.maximum(red_s, 0.0) / p.wait_scale_s)
        v = self.no_phase.copy()
        flat = v.reshape(-1)
        sums = None if self.padded is None else self.padded.sums(weight, tick.cur)
        if sums is not None and self.padded is not None:
            flat[self.padded.at] = sums
            return v
        for g in self.groups:
            useful = g.useful[g.useful_at + tick.cur[g.junction] * g.useful_step]
            flat[g.at] = np.add.reduce(g.service * weight[g.movements] * useful, axis=1)
        return v

    def _spilled(self, hidden: np.ndarray) -> np.ndarray:
        """(movements,) what phase_pressures adds to the queues for the lanes' `hidden` queues: their
        share (`_upstream`), with spill_room only beyond the room upstream of the advance loops, with
        spill_reach plus that part once more (the reference's sums, in its order)."""
        if self.lane_room_pcu is None:
            return self._upstream(hidden)
        p = self.policy.params
        blocking = self._upstream(np.maximum(hidden - self.lane_room_pcu, 0.0))
        up = blocking if p.spill_room else self._upstream(hidden)
        out: np.ndarray = up + blocking if p.spill_reach else up
        return out

    def _upstream(self, hidden: np.ndarray) -> np.ndarray:
        """(movements,) spillback.upstream_queue_pcu of every junction (`hidden`: the lanes'
        hidden_pcu; with spill_room, beyond the room: blocking_queue_pcu). A movement with one lane
        hiding a queue gets share x queue, the product's only
        term other than exact zeros, which BLAS's sum then returns as it is; a junction with a
        movement over two such lanes (or a queue not finite) gets its own product (BLAS's order)."""
        out = np.zeros(len(self.mov_junction))
        if not np.logical_or.reduce(hidden):
            return out
        b = self.box
        term = b.own_share * hidden[b.own_lane]
        hit = term != 0
        out[b.own_movement[hit]] = term[hit]
        terms = np.bincount(b.own_movement[hit], minlength=len(out))
        odd = self.mov_junction[terms > 1].tolist() + self.lane_junction[~np.isfinite(hidden)].tolist()
        for k in sorted(set(odd)):
            m0, m1 = self.spans[k]
            out[m0:m1] = self.layouts[k].lane_share @ hidden[self.lane_start[k] : self.lane_start[k + 1]]
        return out


def _same_statics(a: Statics, b: Statics) -> bool:
    """Whether two junctions' constants are equal."""
    for name in Statics.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and np.array_equal(x, y)):
                return False
        elif x != y and not (isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y)):
            return False
    return True


# the Estimate's and LaneState's fields the pass reads (flow_pcu_h only with [max_pressure] arrival_s)
_FIELDS = ("departures_pcu", "queue_pcu", "sat_flow_pcu_h", "block", "flow_pcu_h")
_LANE_FIELDS = ("stop_empty_s", "hidden_pcu", "queue_pcu")  # queue_pcu only with pull_upstream and a fed approach


def _joined(records: Sequence[object], names: Sequence[str]) -> list[np.ndarray]:
    """The records' fields `names` over the network: the arrays they are all cut from (cuts.py),
    else joined."""
    known = joined_source(records)
    if known is not None:
        whole = [getattr(known[0], n) for n in names]
        if all(a.shape[-1] == known[1] for a in whole):
            return whole
    return [np.concatenate([getattr(r, n) for r in records]) for n in names]


def _groups(
    statics: Sequence[Statics], n_m: np.ndarray, n_p: np.ndarray, mov_start: np.ndarray, width: int
) -> tuple[_Rows, ...]:
    """The pressure rows grouped by the junctions' number of movements (one reduction each)."""
    out = []
    for m in sorted(set(n_m.tolist())):
        ks = [k for k in range(len(statics)) if n_m[k] == m]
        out.append(
            _Rows(
                np.concatenate([k * width + np.arange(n_p[k]) for k in ks]),
                np.repeat(np.array(ks), n_p[ks]),
                np.vstack([statics[k].service for k in ks]),
                np.vstack([np.tile(np.arange(mov_start[k], mov_start[k + 1]), (n_p[k], 1)) for k in ks]),
                np.vstack([_useful(statics[k]).reshape(-1, m) for k in ks]),
                _useful_at(n_p[ks]),
                np.repeat(n_p[ks], n_p[ks]),
            )
        )
    return tuple(out)


# numpy calls a tick, counted in the pass (S, session 22): one reduction per number of movements
# costs about CALLS_PER_GROUP; the padded sums PADDED_CALLS, plus CALLS_PER_BLOCK per pairwise
# block of rowsums.RaggedRows and one per column of its tail
CALLS_PER_GROUP = 8
PADDED_CALLS = 20
CALLS_PER_BLOCK = 3


def _padded(
    statics: Sequence[Statics],
    n_m: np.ndarray,
    n_p: np.ndarray,
    mov_start: np.ndarray,
    width: int,
    groups: int,
    pad: bool | None,
) -> _Padded | None:
    """The rows padded to one width: with `pad` None where that costs fewer numpy calls a tick
    than the `groups` reductions, one per number of movements (about 8 calls each), with `pad`
    True always (rows of at most rowsums.PAIRWISE_BLOCK movements); None otherwise."""
    lengths = np.repeat(n_m, n_p)
    rows = RaggedRows.build(lengths) if pad is not False else None
    padded_calls = PADDED_CALLS + CALLS_PER_BLOCK * len(rows.blocks) + rows.tail.shape[1] if rows is not None else 0
    if rows is None or (pad is None and CALLS_PER_GROUP * groups <= padded_calls):
        return None
    w, n_mov = rows.width, int(n_m.sum())
    service = np.zeros((len(lengths), w))
    movements = np.full((len(lengths), w), n_mov)
    useful = np.zeros((int((n_p**2).sum()), w))
    r = u0 = 0
    for k, st in enumerate(statics):
        m, p = int(n_m[k]), int(n_p[k])
        service[r : r + p, :m] = st.service
        movements[r : r + p, :m] = np.arange(mov_start[k], mov_start[k + 1])
        useful[u0 : u0 + p * p, :m] = _useful(st).reshape(-1, m)
        r, u0 = r + p, u0 + p * p
    junction = np.repeat(np.arange(len(statics)), n_p)
    at = junction * width + np.concatenate([np.arange(p) for p in n_p])
    return _Padded(rows, at, junction, service, movements, useful, _useful_at(n_p), np.repeat(n_p, n_p))


def _useful_at(n_p: np.ndarray) -> np.ndarray:
    """Where each junction's `useful` rows start in their stack (a (phases x phases) block per
    junction, in order), one row per phase: the row of phase 0 in force."""
    out: list[int] = []
    u0 = 0
    for p in n_p.tolist():
        out.extend(range(u0, u0 + p))
        u0 += p * p
    return np.array(out, dtype=int)


def _useful(st: Statics) -> np.ndarray:
    if st.useful is None:  # build_statics with switch_service_s always keeps it
        raise ValueError("max-pressure constants without the switching factor")
    return st.useful


def _box_index(
    lays: Sequence[Layout],
    statics: Sequence[Statics],
    n_m: np.ndarray,
    n_p: np.ndarray,
    mov_start: np.ndarray,
    lane_start: np.ndarray,
    width: int,
) -> _Box:
    """The box's index arrays (Statics.permitted, has_permitted, yield_lanes; the movements'
    lanes) over the network."""
    permitted: list[np.ndarray] = []
    has_permitted = np.zeros((len(lays), width), dtype=bool)
    yj: list[np.ndarray] = []
    yp: list[np.ndarray] = []
    ym: list[np.ndarray] = []
    yl: list[np.ndarray] = []
    om: list[np.ndarray] = []
    ol: list[np.ndarray] = []
    share: list[np.ndarray] = []
    for k, (lay, st) in enumerate(zip(lays, statics)):
        perm = st.permitted if st.permitted is not None else lay.serves & ~lay.protected
        permitted.append(perm.reshape(-1))
        has_permitted[k, : n_p[k]] = perm.any(axis=1) if st.has_permitted is None else st.has_permitted
        c, m, lane = np.nonzero(st.yield_lanes)
        yj.append(np.full(len(c), k))
        yp.append(c)
        ym.append(m + mov_start[k])
        yl.append(lane + lane_start[k])
        m2, lane2 = np.nonzero(lay.lane_share > 0)
        om.append(m2 + mov_start[k])
        ol.append(lane2 + lane_start[k])
        share.append(lay.lane_share[m2, lane2])
    sizes = n_p * n_m
    base = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    cat = np.concatenate
    return _Box(
        cat(permitted),
        np.repeat(base, n_m) + np.arange(int(n_m.sum())) - np.repeat(mov_start[:-1], n_m),
        np.repeat(n_m, n_m),
        has_permitted,
        cat(yj).astype(int),
        cat(yp).astype(int),
        cat(ym).astype(int),
        cat(yl).astype(int),
        cat(om).astype(int),
        cat(ol).astype(int),
        cat(share).astype(float),
    )

"""Phase rules shared by the policies."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from controller.core.estimation import Estimate, Layout, LinkLayout
from controller.core.keepclear import fills_in_one_green
from controller.core.network import NetworkView
from controller.core.params import MaxPressureParams
from controller.core.policies.spill_red import plan_red_s
from controller.core.safety import SignalView


def primary_phases(layout: Layout, *, protected_first: bool) -> np.ndarray:
    """Per movement, the phase its demand is charged to: among the phases serving it, the one
    with the longest base green (ties: the one greening fewest of the junction's `crossing_links`,
    then the lowest index: a crossing stage and its crossing-red twin show the vehicles alike, and
    the crossing's minimum is the walkers'); with `protected_first`, a phase serving it protected
    ('G' only) before any serving it permitted. Every movement must be served by some phase (the
    junction model guarantees it)."""
    j = layout.junction
    out = np.zeros(len(j.movements), dtype=int)
    walks = [len(p.green_links() & j.crossing_links) for p in j.phases]
    for i in range(len(j.movements)):
        serving = [k for k in range(len(j.phases)) if layout.serves[k, i]]
        if protected_first:
            out[i] = max(serving, key=lambda k: (layout.protected[k, i], j.phases[k].base_green_s, -walks[k], -k))
        else:
            out[i] = max(serving, key=lambda k: (j.phases[k].base_green_s, -walks[k], -k))
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
    for i, target in enumerate(exit_targets(layout, network, direct)):
        if target is None:
            continue
        down = network.layouts[target[0]]
        ix = network.links.edge_movements[target[0]][target[1]]
        lanes = down.lane_uses[ix].any(axis=0)
        ls = network.estimates[target[0]].lanes
        stored = float((ls.queue_pcu[lanes] + ls.hidden_pcu[lanes]).sum())
        out[i] = max(float(down.lane_storage_pcu[lanes].sum()) - stored, 0.0)
    return out


def exit_targets(layout: Layout, network: NetworkView, direct: bool = False) -> tuple[tuple[str, str] | None, ...]:
    """Per movement, the neighbour approach (junction, edge) its exit feeds, as exit_room_pcu reads
    it: the learnt exit, else with `direct` the approach its exit edge is (`direct_exits`); None
    where there is none or the neighbour has no estimate."""
    n = len(layout.junction.movements)
    learnt = network.exits(layout.junction.id)
    statics = direct_exits(layout, network) if direct else (None,) * n
    out: list[tuple[str, str] | None] = []
    for i, d in enumerate(statics):
        c = learnt[i] if i < len(learnt) else None
        target = (c.junction, c.edge) if c is not None else d
        out.append(target if target is not None and target[0] in network.estimates else None)
    return tuple(out)


def short_exits(layout: Layout, network: NetworkView, direct: bool = False) -> np.ndarray:
    """(movements,) bool: the neighbour approach the movement's exit feeds (exit_targets) is a short
    link: one of its lanes stores (between its loops) fewer PCU than this junction's shortest
    minimum green sends into it (_short_approach, keepclear.fills_in_one_green). Its head stands
    at every green; the link's own rules (keepclear.ShortLinks) own it."""
    min_green_s = min(p.min_green_s for p in layout.junction.phases)
    edges = network.links.edge_movements
    return np.array(
        [
            t is not None and t[0] in edges and _short_approach(network.layouts[t[0]], edges, t[1], min_green_s)
            for t in exit_targets(layout, network, direct)
        ],
        dtype=bool,
    )


def exit_red(layout: Layout, network: NetworkView, direct: bool = False) -> np.ndarray:
    """(movements,) bool: the light at the neighbour approach the movement's exit feeds (exit_targets)
    shows red to the lanes a vehicle from it waits for, by the stage its roadside controller reports
    (NetworkView.phases: in force, or the one it is changing to): the stage serves (green or
    yielding) none of that approach's movements using a lane its loops see full (its queue spilled
    past the advance loop, or standing to the lane's storage), or, with no lane seen full, none of
    the approach's movements. False where there is no such neighbour or it has reported no stage:
    the link may be draining, and a head standing on it then moves within the green."""
    out = np.zeros(len(layout.junction.movements), dtype=bool)
    for i, target in enumerate(exit_targets(layout, network, direct)):
        phase = network.phases.get(target[0]) if target is not None else None
        if target is None or phase is None:
            continue
        out[i] = not bool(network.layouts[target[0]].serves[phase][_waited(network, target)].any())
    return out


def _waited(network: NetworkView, target: tuple[str, str]) -> np.ndarray:
    """The movements of the neighbour approach `target` (junction, edge) a vehicle joining it waits
    for (exit_red): those using a lane its loops see full, or all of the approach's when none is."""
    down = network.layouts[target[0]]
    ix = network.links.edge_movements[target[0]][target[1]]
    ls = network.estimates[target[0]].lanes
    storage = down.lane_storage_pcu
    full = (ls.hidden_pcu > 0.0) | ((storage > 0.0) & (ls.queue_pcu >= storage - 1e-9))
    on_full = down.lane_uses[ix][:, full].any(axis=1)
    out: np.ndarray = ix[on_full] if on_full.any() else ix
    return out


def exit_red_left_s(
    layout: Layout, network: NetworkView, now_s: float, direct: bool = False, pressures: MaxPressureParams | None = None
) -> np.ndarray:
    """(movements,) s: how long the light at the neighbour approach each movement's exit feeds
    (exit_targets) will still show red to the movements a vehicle from it waits for (exit_red), from
    what its roadside controller reports (NetworkView.signals, the gate's SignalView: the stage in
    force or the one it is changing to, how long it has been green, when each movement was last
    green) and its junction model; never the simulator's signal state. At least the rest of the
    stage's minimum green (all of it during an intergreen) and the intergreen to the nearest stage
    serving one of them; more where the city's program holds one of them red longer than it has
    been red (spill_red.plan_red_s: its longest red there, less the red so far; the least over
    them). 0 where there is no such neighbour, it has reported nothing, or its stage serves one.
    With `pressures` (`[max_pressure] stall_red_forecast`: the max_pressure parameters, one configuration
    for every light): the neighbour runs the pressures too, and holds its stage at least until the waited
    movements' pressure there beats its own, from its estimate in the NetworkView (red_left_s,
    overtake_s)."""
    out = np.zeros(len(layout.junction.movements))
    for i, target in enumerate(exit_targets(layout, network, direct)):
        view = network.signals.get(target[0]) if target is not None else None
        if target is None or view is None:
            continue
        down, waited = network.layouts[target[0]], _waited(network, target)
        if down.serves[view.phase][waited].any():
            continue
        est = network.estimates.get(target[0]) if pressures is not None else None
        out[i] = red_left_s(down, view, waited, now_s, est, pressures)
    return out


def red_left_s(
    layout: Layout,
    view: SignalView,
    waited: np.ndarray,
    now_s: float,
    est: Estimate | None = None,
    pressures: MaxPressureParams | None = None,
) -> float:
    """s the light `view` shows will keep every movement in `waited` (indices, none served by the
    stage `view.phase`) red: the rest of that stage's minimum green plus the least intergreen to a
    stage serving one of them (a lower bound, whatever the policy there), or, where larger, the
    least over them of the program's longest red (spill_red.plan_red_s) less how long each has been
    red (`view.red_since_s`: when last green; none known: red from now). With that light's estimate
    `est` and the max_pressure parameters `pressures`, the stage is held for the longer of its minimum
    green left and the time the waited movements' pressure takes to beat its own there (overtake_s:
    an adaptive neighbour holds a red longer than its program, BENCHMARKS.md, issue 9, G session 42).
    inf where no stage serves any of them."""
    j = layout.junction
    p = view.phase
    serving = [q for q in range(len(j.phases)) if layout.serves[q][waited].any()]
    if not serving:
        return math.inf
    elapsed_s = 0.0 if view.in_intergreen else view.green_elapsed_s
    since = np.asarray(view.red_since_s, dtype=float)[waited] if len(view.red_since_s) else np.full(len(waited), now_s)
    hold_s = max(j.phases[p].min_green_s - elapsed_s, 0.0)
    ig_s = min(j.intergreen_s(p, q) for q in serving)
    if est is not None and pressures is not None:
        hold_s = max(hold_s, overtake_s(layout, est, p, waited, now_s - since, ig_s, pressures))
    lower_s = hold_s + ig_s
    program_s = float((layout.derived(_plan_red_s)[waited] - (now_s - since)).min())
    return max(lower_s, program_s)


def _plan_red_s(layout: Layout) -> np.ndarray:
    """spill_red.plan_red_s of the layout's junction (a function of its model alone: Layout.derived keeps it)."""
    out = plan_red_s(layout.junction)
    out.flags.writeable = False
    return out


def overtake_s(
    layout: Layout,
    est: Estimate,
    phase: int,
    waited: np.ndarray,
    red_s: np.ndarray,
    intergreen_s: float,
    pressures: MaxPressureParams,
) -> float:
    """s from now until the pressure of the movements in `waited` (indices, red for `red_s`, `intergreen_s`
    from their green) at a light running max_pressure beats the pressure of the movements its stage
    `phase` serves protected, from its estimate `est`, in whole seconds, as max_pressure weighs them
    (`pressures`: its parameters) without its other terms: the learnt saturation flow x the queue; the
    stage's queue falls at its saturation flow less its arrivals, the waited queue grows by its arrivals,
    weighs 1 + (time red) / `wait_scale_s` and is discounted by the switch, T / (T + intergreen +
    start-up loss), T = `switch_service_s`. At most the light's starvation bound (`max_red_s`) less the
    longest red so far among them: its gate serves them by then. Example (test_max_pressure_stall): 12
    PCU in force against 8 PCU waited, red 60 s, all at 1,800 PCU/h, no arrivals, T 2 s, intergreen 5 s
    and start-up loss 3 s: the waited weigh 8 x (2 + t / 60) x 0.2 against 12 - 0.5 t, from t = 17 s."""
    bound_s = max(layout.junction.max_red_s - float(np.max(red_s, initial=0.0)), 0.0)
    t = np.arange(0.0, math.floor(bound_s) + 1.0)[:, None]
    sat = est.sat_flow_pcu_h / 3600.0
    flow = est.flow_pcu_h / 3600.0
    served = np.flatnonzero(layout.protected[phase])
    in_force = (sat[served] * np.maximum(est.queue_pcu[served] - (sat[served] - flow[served]) * t, 0.0)).sum(axis=1)
    w = 1.0 + (red_s[None, :] + t) / pressures.wait_scale_s
    useful = pressures.switch_service_s / (pressures.switch_service_s + intergreen_s + layout.params.startup_lost_s)
    waiting = (sat[waited] * (est.queue_pcu[waited] + flow[waited] * t) * w).sum(axis=1) * useful
    beats = np.flatnonzero(waiting > in_force)
    return float(t[beats[0], 0]) if len(beats) else bound_s


def exit_rate_ratio(layout: Layout, est: Estimate, network: NetworkView | None, direct: bool = False) -> np.ndarray:
    """(movements,) share of its saturation flow each movement's queue can discharge into its
    exit, 0..1: 1 while the room left on the neighbour approach it feeds (exit_room_pcu, with
    `direct`) holds its whole queue (at least 1 PCU), else room / queue (the rest waits for the
    neighbour to discharge); 1 where the exit is not known or leaves the controlled network."""
    room = exit_room_pcu(layout, network, direct)
    ratio = np.where(np.isfinite(room), room / np.maximum(est.queue_pcu, 1.0), 1.0)
    out: np.ndarray = np.clip(ratio, 0.0, 1.0)
    return out


def upstream_held_pcu(layout: Layout, est: Estimate, network: NetworkView | None, chains: bool = False) -> np.ndarray:
    """(movements,) PCU the upstream junctions hold for each movement's approach beyond the room
    left on it: per approach edge, the queues (between the loops and spilled upstream) of the
    neighbours' movements whose exit edge it is (held_feeds; with `chains`, also those whose exit
    leads to it over unsignalised edges, Movement.reach_edge), less the room its own queue leaves
    on it (the approach's lane storage between its loops, or the whole chain's storage where that
    is more, Movement.reach_storage_pcu), never below 0, shared equally among the approach's
    movements. 0 without `network` or where no controlled neighbour feeds the approach.
    max_pressure_net computes the same for every junction at once (its `_Pull`)."""
    j = layout.junction
    out = np.zeros(len(j.movements))
    if network is None or j.id not in network.links.edge_movements:
        return out
    approaches = network.links.edge_movements[j.id]
    for edge, sources, reach_pcu in held_feeds(layout, network.layouts, network.links.edge_movements, chains):
        q = 0.0
        for u, m in sources:
            if u in network.estimates:
                q += float(network.estimates[u].queue_pcu[m])
        ix = approaches[edge]
        lanes = layout.lane_uses[ix].any(axis=0)
        stored = float((est.lanes.queue_pcu[lanes] + est.lanes.hidden_pcu[lanes]).sum())
        room = max(max(float(layout.lane_storage_pcu[lanes].sum()), reach_pcu) - stored, 0.0)
        out[ix] += max(q - room, 0.0) / len(ix)
    return out


EdgeMovements = Mapping[str, Mapping[str, np.ndarray]]  # junction -> approach edge -> movement indices


def held_feeds(
    layout: Layout, layouts: Mapping[str, Layout], edge_movements: EdgeMovements, chains: bool = False
) -> tuple[tuple[str, tuple[tuple[str, int], ...], float], ...]:
    """The static part of upstream_held_pcu: per approach edge of `layout`'s junction that a
    controlled upstream neighbour feeds directly (direct_exits), or with `chains` over unsignalised
    edges (chain_exits), in the order first fed: the neighbours' movements (junction, movement
    index) feeding it, in the order of the junction's upstream list and of their movements, and the
    chain's storage (PCU; the least of its feeds', the stretch they share; 0 where a feed is
    direct). `edge_movements`: per junction of `layouts`, its approach edges' movement indices
    (estimation.LinkLayout.edge_movements). A neighbour does not pull over a short link
    (keepclear.fills_in_one_green: any lane of a direct approach stores less than the neighbour's
    shortest minimum green sends into it; a chain, its whole storage less than that green sends
    into all the approach's lanes): that link refills within seconds of its green, and its own
    rules (keepclear.ShortLinks) own it (ingolstadt21's 12.1 m pair, BENCHMARKS.md, issue 9, A
    session 35)."""
    j = layout.junction
    out: dict[str, list[tuple[str, int]]] = {}
    reach: dict[str, float] = {}
    if j.id not in edge_movements:
        return ()
    for u in j.upstream:
        if u not in layouts:
            continue
        min_green_s = min(p.min_green_s for p in layouts[u].junction.phases)
        direct = _direct_exits(layouts[u], edge_movements)
        chained = chain_exits(layouts[u], edge_movements) if chains else (None,) * len(direct)
        for m, (d, c) in enumerate(zip(direct, chained)):
            # (approach edge, chain storage or 0 where direct, whether the link is short)
            if d is not None:
                to = (d[1], 0.0, _short_approach(layout, edge_movements, d[1], min_green_s)) if d[0] == j.id else None
            elif c is not None and c[0] == j.id and len(edge_movements[j.id][c[1]]):
                to = (c[1], c[2], _short_chain(layout, edge_movements, c[1], c[2], min_green_s))
            else:
                to = None
            if to is None or to[2] or not len(edge_movements[j.id][to[0]]):
                continue
            out.setdefault(to[0], []).append((u, m))
            reach[to[0]] = min(reach.get(to[0], np.inf), to[1])
    return tuple((edge, tuple(src), float(reach[edge])) for edge, src in out.items())


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


def _short_chain(
    layout: Layout, edge_movements: EdgeMovements, edge: str, storage_pcu: float, min_green_s: float
) -> bool:
    """Whether a chain of `storage_pcu` into the approach `edge` stores fewer PCU than `min_green_s`
    sends into all the approach's lanes at their saturation flows (keepclear.fills_in_one_green)."""
    lanes = layout.lane_uses[edge_movements[layout.junction.id][edge]].any(axis=0)
    sat = float(layout.lane_sat_prior_pcu_h[lanes].sum())
    return bool(fills_in_one_green(np.array([storage_pcu]), np.array([sat]), min_green_s)[0])


def chain_exits(layout: Layout, edge_movements: EdgeMovements) -> tuple[tuple[str, str, float] | None, ...]:
    """Per movement: (neighbour junction, approach edge, the chain's storage in PCU) where the
    movement's exit leads over unsignalised edges to an approach of a downstream junction of the
    network (Movement.reach_edge, sim/netlinks.py), else None."""
    down = [d for d in layout.junction.downstream if d in edge_movements]
    out: list[tuple[str, str, float] | None] = []
    for m in layout.junction.movements:
        hit = [d for d in down if m.reach_edge and m.reach_edge in edge_movements[d]]
        out.append((hit[0], m.reach_edge, m.reach_storage_pcu) if hit else None)
    return tuple(out)


def direct_exits(layout: Layout, network: NetworkView) -> tuple[tuple[str, str] | None, ...]:
    """Per movement: (neighbour junction, approach edge) where the movement's exit edge is itself
    an approach of a downstream junction of the network (the link between two lights, read from
    the network, not learnt), else None."""
    return network.links.derived(layout, _direct_exits_of)


def _direct_exits_of(layout: Layout, links: LinkLayout) -> tuple[tuple[str, str] | None, ...]:
    """direct_exits of a layout over the network's links: static (LinkLayout.derived keeps it)."""
    return _direct_exits(layout, links.edge_movements)


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

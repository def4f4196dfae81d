"""The estimator's lane update (estimation._lanes) lane by lane in loops compiled by numba: the same floats.

estimation._lanes steps every lane of the network one period in some sixty numpy calls over the lanes'
arrays, each a few microseconds on a city's few hundred lanes: most of its cost is the calls, not the
arithmetic (BENCHMARKS.md, issue 12, E, session 68). Here the same rule runs as three loops over the lanes,
compiled by numba (`lanes_compiled`, the signature of estimation._lanes).

The same floats, bit for bit: every value is the same IEEE operations in the same order as the numpy
expression it stands for (no sum reordered, numba without fastmath; the exponentials are Python's
math.exp, computed once outside the loops as _lanes computes them), np.minimum / np.maximum / np.clip
as numpy gives them for a nan (the nan kept). estimation._lanes stays the reference: tests compare the
two on random lanes under every option of the lane update (tests/unit/test_lanerows.py).

Compiled once per process (`kernels`, about a second or more; numba imported only then): netestimate
uses this form only once `use_compiled` is set, by the adapters' warm_up (controller/adapters/
compile_cache.py), which loads the loops from numba's disk cache; a process that never warms up runs
estimation._lanes, the same floats. numba is computation: no I/O here (the disk cache is the adapter's).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from controller.core.estimation import (
    LANE_ROW_FIELDS,
    TRANSIT_HISTORY_TICKS,
    LaneState,
    _LaneArrays,
    _LaneSignals,
    _Readings,
)

# rows of the lanes' state in (and out of) the loops: LaneState's fields in order, then arr and dep (out)
_STATE = LANE_ROW_FIELDS
Q, H, FLOW, DEP_FLOW, GREEN, STOP_EMPTY, ADV_STAND, ADV_SPEED, SAT_PCU, SAT_S, BLOCK, C_STOP, C_ADV, SEEN = range(14)
ARR, DEP, TRANSIT = 14, 15, 16  # rows of the out array beyond the state (TRANSIT: scratch, not returned)
# rows of the signals (bool): _LaneSignals' fields in order
STOP_OK, ADV_OK, STOP_ALIVE, ADV_ALIVE, IS_GREEN, SAT_GREEN, STOP_STAND, ADV_STAND_NOW = range(8)
_SIGNALS = (
    "stop_ok",
    "adv_ok",
    "stop_alive",
    "adv_alive",
    "green",
    "saturated_green",
    "stop_stand_now",
    "adv_stand_now",
)
# rows of the lanes' fixed arrays (float): storage, zone length, saturation-flow prior, hidden room at the light
STORAGE, ZONE, PRIOR, HIDDEN_CAP = range(4)
# the scalars (float): see _scalars
(
    DT,
    DT_POS,
    ALPHA,
    ONE_M_ALPHA,
    KEEP_UNDER,
    UNDER_MIN,
    UNDER_SHARE,
    STANDING_S,
    STANDING_SPEED,
    SAT_W,
    SAT_MIN_R,
    SAT_MAX_R,
    CLEAR_GAP,
    GAP_ROWS,
    IDLE_S,
    MAX_HIDDEN,
    SAT_MIN_Q,
    SAT_KEEP,
    B_ALPHA,
    ONE_M_B_ALPHA,
) = range(20)
# the options (bool): see _options
BALANCE, MEAN_OBSERVED, CLEAR_AT_ADVANCE, CLEAR_GAP_OPT, ROOM_AT_LIGHT, BLIND, SCALE = range(7)

ADV_PCU, GAP = 17, 18  # scratch rows of the out array: the advance PCU the update reads; _advance_gap (1.0 or 0.0)
_OUT_ROWS = 19
# rows of the loops' readings (float) and of the lanes' loop indices (int)
PCU, VEH, OCC, SPD = range(4)
STOP_AT, ADV_AT, APPROACH, HAS_STOP, HAS_ADV = range(5)


def undercount_rows(
    state: np.ndarray,
    loops: np.ndarray,
    sig: np.ndarray,
    index: np.ndarray,
    fixed: np.ndarray,
    recent: np.ndarray,
    s: np.ndarray,
    opt: np.ndarray,
    out: np.ndarray,
) -> None:
    """estimation._undercounted: the lanes' discounted counts (out's C_STOP, C_ADV), the advance PCU the
    update reads (out's ADV_PCU), and with "blind" the lanes of an approach that under-counts taken as without
    a working advance loop (sig's ADV_OK, ADV_ALIVE). The approaches' sums in lane order (np.bincount's)."""
    n = state.shape[1]
    on = opt[BLIND] or opt[SCALE]
    n_app = 0
    for i in range(n):
        n_app = max(n_app, index[APPROACH, i] + 1)
    stop_a, adv_a, store_a, open_a = np.zeros(n_app), np.zeros(n_app), np.zeros(n_app), np.zeros(n_app)
    for i in range(n):
        stop_pcu, adv_pcu = loops[PCU, index[STOP_AT, i]], loops[PCU, index[ADV_AT, i]]
        out[ADV_PCU, i] = adv_pcu
        if not on:
            out[C_STOP, i], out[C_ADV, i] = state[C_STOP, i], state[C_ADV, i]
            continue
        ok = sig[STOP_OK, i] and sig[ADV_OK, i]
        out[C_STOP, i] = state[C_STOP, i] * s[KEEP_UNDER] + (stop_pcu if ok else 0.0)
        out[C_ADV, i] = state[C_ADV, i] * s[KEEP_UNDER] + (adv_pcu if ok else 0.0)
        g = index[APPROACH, i]
        stop_a[g] += out[C_STOP, i]
        adv_a[g] += out[C_ADV, i]
        store_a[g] += fixed[STORAGE, i]
        open_a[g] += 0.0 if index[HAS_STOP, i] != 0 and index[HAS_ADV, i] != 0 else 1.0
    if not on:
        return
    for i in range(n):
        g = index[APPROACH, i]
        over = stop_a[g] - adv_a[g] > store_a[g] + s[UNDER_SHARE] * stop_a[g]
        if not (open_a[g] == 0 and stop_a[g] >= s[UNDER_MIN] and over):
            continue
        if opt[BLIND]:
            sig[ADV_OK, i] = False
            sig[ADV_ALIVE, i] = False
        else:
            out[ADV_PCU, i] = out[ADV_PCU, i] * (stop_a[g] / np.maximum(adv_a[g], 1.0))


def flow_rows(
    state: np.ndarray,
    loops: np.ndarray,
    sig: np.ndarray,
    index: np.ndarray,
    fixed: np.ndarray,
    recent: np.ndarray,
    s: np.ndarray,
    opt: np.ndarray,
    out: np.ndarray,
) -> None:
    """_lanes' timers, arrivals, departures, flows and advance speed of every lane (out's rows), and this
    period's arrivals as row 0 of `recent`."""
    dt, alpha, keep = s[DT], s[ALPHA], s[ONE_M_ALPHA]
    for i in range(state.shape[1]):
        si, ai = index[STOP_AT, i], index[ADV_AT, i]
        stop_pcu, adv_pcu, stop_ok, adv_ok = loops[PCU, si], out[ADV_PCU, i], sig[STOP_OK, i], sig[ADV_OK, i]
        out[GREEN, i] = state[GREEN, i] + dt if sig[IS_GREEN, i] else 0.0
        out[ADV_STAND, i] = state[ADV_STAND, i] + dt if sig[ADV_STAND_NOW, i] else 0.0
        empty_now = stop_ok and loops[VEH, si] == 0 and loops[OCC, si] <= 0.0
        out[STOP_EMPTY, i] = state[STOP_EMPTY, i] + dt if empty_now else 0.0
        prior = fixed[PRIOR, i]
        est = (state[SAT_PCU, i] * 3600.0 + prior * s[SAT_W]) / (state[SAT_S, i] + s[SAT_W])
        lane_sat = np.minimum(np.maximum(est, prior * s[SAT_MIN_R]), prior * s[SAT_MAX_R])
        arr = adv_pcu if adv_ok else state[FLOW, i] * dt / 3600.0
        capacity = lane_sat * (1.0 - state[BLOCK, i]) * dt / 3600.0
        dep = stop_pcu if stop_ok else (np.minimum(state[Q, i] + arr, capacity) if sig[IS_GREEN, i] else 0.0)
        dep_flow = keep * state[DEP_FLOW, i] + alpha * stop_pcu * 3600.0 / dt if stop_ok else state[DEP_FLOW, i]
        from_adv = keep * state[FLOW, i] + alpha * adv_pcu * 3600.0 / dt
        free = adv_ok and not sig[ADV_STAND_NOW, i] and not out[ADV_STAND, i] >= s[STANDING_S]
        if opt[BALANCE]:
            free = free and state[H, i] <= 0.0
        seen = state[SEEN, i]
        if opt[MEAN_OBSERVED]:  # _mean_observed
            seen = (1.0 - alpha) * seen + alpha if free else seen
            from_adv = state[FLOW, i] + alpha / np.maximum(seen, alpha) * (adv_pcu * 3600.0 / dt - state[FLOW, i])
        out[SEEN, i] = seen
        if free:
            out[FLOW, i] = from_adv
        else:
            out[FLOW, i] = dep_flow if not sig[ADV_ALIVE, i] and sig[STOP_ALIVE, i] else state[FLOW, i]
        moving = adv_ok and loops[VEH, ai] > 0 and loops[SPD, ai] > s[STANDING_SPEED]
        out[ADV_SPEED, i] = 0.8 * state[ADV_SPEED, i] + 0.2 * loops[SPD, ai] if moving else state[ADV_SPEED, i]
        out[ARR, i], out[DEP, i], out[DEP_FLOW, i] = arr, dep, dep_flow
        recent[0, i] = arr


def learn_rows(
    state: np.ndarray,
    loops: np.ndarray,
    sig: np.ndarray,
    index: np.ndarray,
    fixed: np.ndarray,
    recent: np.ndarray,
    s: np.ndarray,
    opt: np.ndarray,
    out: np.ndarray,
) -> None:
    """_in_transit (out's TRANSIT: the arrivals of the lane's travel time between the loops, summed down
    `recent` as np.cumsum would), _advance_gap (out's GAP, with either option that reads it) and _learn (out's
    SAT_PCU, SAT_S, BLOCK) of every lane."""
    last, gaps = recent.shape[0] - 1, opt[CLEAR_AT_ADVANCE] or opt[CLEAR_GAP_OPT]
    for i in range(state.shape[1]):
        out[GAP, i] = 0.0
        if gaps and sig[ADV_OK, i]:
            green_ticks = np.floor(out[GREEN, i] / s[DT_POS] + 1e-9)
            moved, quiet = False, loops[OCC, index[ADV_AT, i]] <= 0.0
            for row in range(last + 1):
                if row < s[GAP_ROWS]:
                    quiet = quiet and recent[row, i] <= 0.0
                elif row < green_ticks and recent[row, i] > 0.0:
                    moved = True
            out[GAP, i] = 1.0 if quiet and moved else 0.0
        ticks = np.ceil(fixed[ZONE, i] / np.maximum(out[ADV_SPEED, i], 1.0) / s[DT_POS])
        upto = 0  # as numpy's astype(int) then clip: a nan or a float past int64 is the least int64, so 0
        if ticks > 0 and ticks < 9.2e18:
            upto = min(int(ticks), last)
        running = recent[0, i]
        for k in range(1, upto + 1):
            running = running + recent[k, i]
        out[TRANSIT, i] = running
        queued_green = sig[SAT_GREEN, i] and sig[STOP_OK, i]
        learn = queued_green and state[Q, i] + state[H, i] >= s[SAT_MIN_Q] and not sig[STOP_STAND, i]
        if learn:
            out[SAT_PCU, i] = state[SAT_PCU, i] * s[SAT_KEEP] + loops[PCU, index[STOP_AT, i]]
            out[SAT_S, i] = state[SAT_S, i] * s[SAT_KEEP] + s[DT]
        else:
            out[SAT_PCU, i], out[SAT_S, i] = state[SAT_PCU, i], state[SAT_S, i]
        out[BLOCK, i] = state[BLOCK, i]
        if queued_green and state[Q, i] >= 1.0:
            stand = 1.0 if sig[STOP_STAND, i] else 0.0
            out[BLOCK, i] = s[ONE_M_B_ALPHA] * state[BLOCK, i] + s[B_ALPHA] * stand


def queue_rows(
    state: np.ndarray,
    loops: np.ndarray,
    sig: np.ndarray,
    index: np.ndarray,
    fixed: np.ndarray,
    recent: np.ndarray,
    s: np.ndarray,
    opt: np.ndarray,
    out: np.ndarray,
) -> None:
    """_lanes' clearing of the queues (_cleared_at_advance, _advance_gap) and _queue: out's Q and H."""
    for i in range(state.shape[1]):
        adv_ok, adv_occ, stop_empty = sig[ADV_OK, i], loops[OCC, index[ADV_AT, i]], out[STOP_EMPTY, i]
        gap = out[GAP, i] > 0.0
        cleared = stop_empty >= s[CLEAR_GAP]
        hidden_cleared = cleared
        if opt[CLEAR_AT_ADVANCE] and adv_ok:
            idle = stop_empty >= s[IDLE_S] and adv_occ <= 0.0
            for row in range(recent.shape[0]):
                idle = idle and recent[row, i] <= 0.0
            hidden_cleared = gap or idle
        arr, dep, storage, hidden_was = out[ARR, i], out[DEP, i], fixed[STORAGE, i], state[H, i]
        blocked, stand_now = out[ADV_STAND, i] >= s[STANDING_S], sig[ADV_STAND_NOW, i]
        counted = np.minimum(np.maximum(state[Q, i] + arr - dep, 0.0), storage)
        if opt[BALANCE]:
            held = blocked or (hidden_was > 0.0 and (stand_now or state[ADV_STAND, i] > 0.0))
            counted_hidden = np.maximum(
                hidden_was + out[FLOW, i] * s[DT] / 3600.0 - arr if held else hidden_was - arr, 0.0
            )
        else:
            demand = out[FLOW, i] * s[DT] / 3600.0
            counted_hidden = hidden_was + demand if blocked else np.maximum(hidden_was - arr, 0.0)
        counted_hidden = counted_hidden if adv_ok else hidden_was
        modelled = state[Q, i] + hidden_was + arr - dep
        if sig[ADV_ALIVE, i]:
            queue, hidden = counted, counted_hidden
        else:
            queue, hidden = np.minimum(np.maximum(modelled, 0.0), storage), np.maximum(modelled - storage, 0.0)
        queue = np.minimum(queue, out[TRANSIT, i]) if cleared else queue
        queue = np.maximum(queue, np.minimum(1.0, storage)) if sig[STOP_STAND, i] else queue
        queue = storage if blocked else queue
        if opt[BALANCE]:
            hidden_cleared = hidden_cleared and not (blocked or stand_now)
        hidden = 0.0 if hidden_cleared else np.minimum(hidden, s[MAX_HIDDEN])
        hidden = np.minimum(hidden, fixed[HIDDEN_CAP, i]) if opt[ROOM_AT_LIGHT] else hidden
        out[Q, i], out[H, i] = queue, 0.0 if opt[CLEAR_GAP_OPT] and gap else hidden


_LOOPS = (undercount_rows, flow_rows, learn_rows, queue_rows)  # in this order: each reads what the ones before wrote


@functools.lru_cache(maxsize=16)
def _scalars(p: Any, dt: float, flow_window_s: float) -> np.ndarray:
    """The scalars the loops read (the names above), each computed as _lanes computes it (Python floats);
    kept per (params, period, window): the loops do not write them."""
    alpha, b_alpha = min(1.0, dt / flow_window_s), min(1.0, dt / p.block_window_s)
    gap_rows = max(1, math.ceil(p.clear_gap_s / max(dt, 1e-9) - 1e-9))
    under = (math.exp(-dt / p.undercount_window_s), p.undercount_min_pcu, p.undercount_share)
    standing = (p.standing_s, p.standing_speed_mps)
    sat = (p.sat_prior_weight_s, p.sat_min_ratio, p.sat_max_ratio)
    clear = (p.clear_gap_s, gap_rows, TRANSIT_HISTORY_TICKS * dt, p.max_hidden_queue_pcu_lane, p.sat_min_queue_pcu)
    learn = (math.exp(-dt / p.sat_window_s), b_alpha, 1 - b_alpha)
    return np.array((dt, max(dt, 1e-9), alpha, 1 - alpha, *under, *standing, *sat, *clear, *learn), dtype=float)


@functools.lru_cache(maxsize=16)
def _options(p: Any) -> np.ndarray:
    """The options the loops read (the names above): [estimation]'s keys of the lane update."""
    mode = p.advance_undercount
    keys = (p.hidden_queue_balance, p.flow_mean_observed, p.hidden_clear_at_advance, p.hidden_clear_gap)
    return np.array((*keys, p.hidden_room_at_light, mode == "blind", mode not in ("off", "blind")), dtype=bool)


_LAYOUTS: dict[int, tuple[_LaneArrays, np.ndarray, np.ndarray]] = {}  # by id: the layout (its id kept), index, fixed


def _layout_rows(layout: _LaneArrays) -> tuple[np.ndarray, np.ndarray]:
    """The layout's loop indices and fixed arrays as the loops read them (rows above), stacked once per layout
    (the last few kept)."""
    kept = _LAYOUTS.get(id(layout))
    if kept is not None and kept[0] is layout:
        return kept[1], kept[2]
    ix = layout.lane_index
    index = np.stack((ix.stop_at, ix.adv_at, layout.lane_approach, ix.has_stop, ix.has_adv)).astype(np.intp)
    lanes = (layout.lane_storage_pcu, layout.lane_zone_m, layout.lane_sat_prior_pcu_h, layout.lane_hidden_cap_pcu)
    fixed = np.stack(lanes).astype(float)
    if len(_LAYOUTS) >= 8:
        _LAYOUTS.clear()
    _LAYOUTS[id(layout)] = (layout, index, fixed)
    return index, fixed


def lanes_compiled(
    layout: _LaneArrays, L: LaneState, r: _Readings, sig: _LaneSignals, dt: float, flow_window_s: float
) -> tuple[LaneState, np.ndarray, np.ndarray]:
    """estimation._lanes(layout, L, r, sig, dt, flow_window_s), its floats, by the compiled loops (kernels):
    the arrays they read stacked into a few (fresh, so of the one type each loop was compiled for)."""
    index, fixed = _layout_rows(layout)
    n = index.shape[1]
    state = np.stack([getattr(L, name) for name in _STATE]).astype(float, copy=False)
    loops = np.stack((r.pcu, r.veh, r.occ, r.spd)).astype(float, copy=False)
    sig_rows = np.stack([getattr(sig, name) for name in _SIGNALS]).astype(bool, copy=False)
    recent = np.empty((TRANSIT_HISTORY_TICKS, n))
    recent[1:] = L.adv_recent_pcu[:-1]
    out = np.empty((_OUT_ROWS, n))
    scalars, options = _scalars(layout.params, dt, flow_window_s), _options(layout.params)
    for loop in kernels():
        loop(state, loops, sig_rows, index, fixed, recent, scalars, options, out)
    rows = dict(zip(_STATE, out))
    return LaneState(**rows, adv_recent_pcu=recent), out[ARR], out[DEP]


@functools.cache
def kernels() -> tuple[Callable[..., None], ...]:
    """The four loops compiled by numba (imported here only), once per process, each at its first call:
    lanes_compiled's argument types are one per loop (compile_lanes compiles them). No disk cache here (I/O):
    the adapters' warm_up gives them numba's (controller/adapters/compile_cache.py)."""
    import numba

    return tuple(numba.njit(loop) for loop in _LOOPS)


def compile_lanes() -> None:
    """Compile (or load) the loops now, for the argument types lanes_compiled gives them, rather than in a
    tick: two lanes of zeros through every loop, under every option (the loops read them, not their types)."""
    n = 2
    state, loops, fixed, out = np.zeros((len(_STATE), n)), np.zeros((4, n)), np.zeros((4, n)), np.zeros((_OUT_ROWS, n))
    sig, index = np.zeros((len(_SIGNALS), n), dtype=bool), np.zeros((5, n), dtype=np.intp)
    recent, s, opt = np.zeros((TRANSIT_HISTORY_TICKS, n)), np.ones(20), np.ones(7, dtype=bool)
    for loop in kernels():
        loop(state, loops, sig, index, fixed, recent, s, opt, out)


_use: list[bool] = [False]


def use_compiled(on: bool = True) -> None:
    """From now on in this process, netestimate's lane update runs the compiled loops (`on`) or
    estimation._lanes: the same floats either way. Set by the adapters' warm_up once the loops are loaded."""
    _use[0] = on


def update_lanes(
    layout: _LaneArrays, L: LaneState, r: _Readings, sig: _LaneSignals, dt: float, flow_window_s: float
) -> tuple[LaneState, np.ndarray, np.ndarray]:
    """The lane update netestimate runs (estimation._lanes' arguments and floats): lanes_compiled once
    use_compiled() was called in this process, else estimation._lanes."""
    from controller.core.estimation import _lanes

    return (lanes_compiled if _use[0] else _lanes)(layout, L, r, sig, dt, flow_window_s)

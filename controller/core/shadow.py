"""Online estimate of the gain over fixed-time control, from the detector feed only.

Both sides are computed with the same delay model under the same measured demand, so the model's
bias cancels in the ratio:

- demand q (PCU/h) per movement: the arrival flow measured at the advance loops (estimation.py);
- fixed-time side (the "shadow"): the network's own program — each movement's green share λ and
  the base cycle C of the junction's TOML;
- controlled side: the green share λ each movement actually received (EWMA of roadside status)
  and the mean interval between its green onsets as its cycle (on the fixed side likewise: the
  base cycle over the movement's green onsets per cycle);
- delay per PCU: Webster's uniform term C(1−λ)²/(2(1−min(x,1)λ)) plus the HCM 2000 incremental
  term 900T[(x−1)+√((x−1)²+4x/(cT))] (T = analysis period in h, c = λs capacity), x = q/(λs);
- throughput: Σ min(q, c) — what each side could discharge of the measured demand.

gain_delay = 1 − delay_controlled / delay_fixed; gain_throughput = thru_controlled / thru_fixed − 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from controller.core.estimation import Layout
from controller.model import SignalStatus


def movement_delay_s(q_pcu_h: np.ndarray, s_pcu_h: np.ndarray, green_share: np.ndarray, cycle_s: np.ndarray,
                     analysis_h: float) -> np.ndarray:
    """Mean delay per PCU (s) for each movement: Webster (1958) uniform + HCM 2000 incremental."""
    lam = np.clip(green_share, 1e-3, 1.0)
    cap = lam * s_pcu_h
    x = q_pcu_h / np.maximum(cap, 1e-6)
    uniform = cycle_s * (1 - lam) ** 2 / (2 * (1 - np.minimum(x, 1.0) * lam) + 1e-9)
    incremental = 900 * analysis_h * ((x - 1) + np.sqrt((x - 1) ** 2 + 4 * x / np.maximum(cap * analysis_h, 1e-6)))
    return uniform + incremental


def base_green_share(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Per movement under the base program: the share of the cycle it is green, and the mean
    interval between its green onsets (s). A movement green in two stages separated by an
    intergreen has two onsets per cycle — counted the way `observe` sees the roadside status,
    where an intergreen is not green."""
    j = layout.junction
    n = len(j.phases)
    cycle_s = j.base_cycle_s()
    share = np.zeros(len(j.movements))
    onsets = np.zeros(len(j.movements))
    served = [set(j.served_movements(k)) for k in range(n)]
    for k, p in enumerate(j.phases):
        prev = (k - 1) % n
        for i, m in enumerate(j.movements):
            if m.id in served[k]:
                share[i] += p.base_green_s
                continuing = n > 1 and m.id in served[prev] and j.intergreen_s(prev, k) == 0
                onsets[i] += 0 if continuing else 1
    return share / cycle_s, cycle_s / np.maximum(onsets, 1)


@dataclass(frozen=True)
class ShadowState:
    t_s: float
    green_share: np.ndarray  # EWMA of "this movement is green now"
    cycle_s: np.ndarray  # EWMA of the interval between green onsets
    last_onset_s: np.ndarray
    was_green: np.ndarray


@dataclass(frozen=True)
class Gains:
    delay_fixed_s: float  # per PCU, shadow of the fixed-time plan under measured demand
    delay_controlled_s: float  # per PCU, same model with the greens actually given
    throughput_fixed_pcu_h: float
    throughput_controlled_pcu_h: float
    demand_pcu_h: float

    @property
    def delay_gain(self) -> float:
        return 1.0 - self.delay_controlled_s / self.delay_fixed_s if self.delay_fixed_s > 0 else 0.0

    @property
    def throughput_gain(self) -> float:
        f = self.throughput_fixed_pcu_h
        return self.throughput_controlled_pcu_h / f - 1.0 if f > 0 else 0.0


def initial(layout: Layout, now_s: float) -> ShadowState:
    share, cycle_s = base_green_share(layout)
    n = len(share)
    return ShadowState(now_s, share, cycle_s, np.full(n, np.nan), np.zeros(n, dtype=bool))


def observe(state: ShadowState, layout: Layout, status: SignalStatus | None, now_s: float,
            window_s: float) -> ShadowState:
    """Fold the signal state of the last interval into the green shares and cycles."""
    if status is None:
        return replace(state, t_s=now_s)
    dt = max(now_s - state.t_s, 0.0)
    j = layout.junction
    served = set() if status.in_intergreen else set(j.served_movements(status.phase))
    green = np.array([m.id in served for m in j.movements])
    alpha = min(1.0, dt / window_s)
    share = (1 - alpha) * state.green_share + alpha * green
    onset = green & ~state.was_green
    interval = now_s - state.last_onset_s
    valid = onset & np.isfinite(interval)
    cycle = np.where(valid, (1 - 0.2) * state.cycle_s + 0.2 * interval, state.cycle_s)
    last = np.where(onset, now_s, state.last_onset_s)
    return ShadowState(now_s, share, cycle, last, green)


def gains(state: ShadowState, layout: Layout, flow_pcu_h: np.ndarray, analysis_h: float = 0.25) -> Gains:
    s = layout.sat_flow_pcu_h
    base_share, base_cycle_s = base_green_share(layout)
    q = np.maximum(flow_pcu_h, 0.0)
    d_fixed = movement_delay_s(q, s, base_share, base_cycle_s, analysis_h)
    d_ctrl = movement_delay_s(q, s, state.green_share, state.cycle_s, analysis_h)
    total_q = float(q.sum())
    weight = q / total_q if total_q > 0 else np.full_like(q, 1.0 / max(len(q), 1))
    return Gains(
        delay_fixed_s=float(weight @ d_fixed), delay_controlled_s=float(weight @ d_ctrl),
        throughput_fixed_pcu_h=float(np.minimum(q, base_share * s).sum()),
        throughput_controlled_pcu_h=float(np.minimum(q, np.clip(state.green_share, 0, 1) * s).sum()),
        demand_pcu_h=total_q,
    )

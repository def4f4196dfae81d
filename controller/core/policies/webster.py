"""`webster`: fixed-time plans recomputed every period from the previous period's counts.

Webster (1958): optimal cycle C0 = (1.5 L + 5) / (1 - Y), with L the lost time per cycle and
Y the sum of the phases' critical flow ratios y = q / s; green split in proportion to y.
Y is capped (Webster's formula diverges as Y -> 1) and the cycle clipped to the junction's
bounds by the safety gate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.network import NetworkView
from controller.core.params import WebsterParams
from controller.core.policies import Policy
from controller.core.policies.phases import primary_phases
from controller.core.policies.requirements import cyclic_refusal
from controller.core.safety import SignalView
from controller.model import CycleWish


@dataclass(frozen=True)
class WebsterState:
    period_start_s: float
    arrivals_pcu: np.ndarray | None
    departures_pcu: np.ndarray | None


def webster_greens(
    layout: Layout, flow_pcu_h: np.ndarray, lost_time_per_phase_s: float, max_flow_ratio: float
) -> tuple[float, tuple[float, ...]]:
    """(cycle_s, greens_s per phase in index order) by Webster's method."""
    j = layout.junction
    n = len(j.phases)
    ratio = flow_pcu_h / layout.sat_flow_pcu_h
    primary = primary_phases(layout, protected_first=False)
    y = np.array([ratio[primary == k].max(initial=0.0) for k in range(n)])
    total_y = float(y.sum())
    if total_y > max_flow_ratio:
        y *= max_flow_ratio / total_y
        total_y = max_flow_ratio
    lost_s = n * lost_time_per_phase_s
    cycle_s = (1.5 * lost_s + 5.0) / (1.0 - total_y)
    intergreens_s = sum(j.intergreen_s(k, (k + 1) % n) for k in range(n))
    cycle_s = min(max(cycle_s, j.cycle_min_s), j.cycle_max_s)
    green_total_s = max(cycle_s - intergreens_s, 0.0)
    if total_y <= 0:
        share = np.full(n, 1.0 / n)
    else:
        share = y / total_y
    return cycle_s, tuple(float(g) for g in share * green_total_s)


class WebsterPolicy(Policy):
    name = "webster"

    def __init__(self, params: WebsterParams | None = None) -> None:
        """`params`: config.toml's section for this policy; None: the defaults."""
        self.params = params if params is not None else WebsterParams()

    def cannot_serve(self, layout: Layout) -> str:
        return cyclic_refusal(layout)

    def init(self, layout: Layout, now_s: float) -> WebsterState:
        return WebsterState(now_s, None, None)

    def decide(
        self,
        state: WebsterState,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None = None,
    ) -> tuple[WebsterState, CycleWish | None]:
        if state.arrivals_pcu is None:
            return WebsterState(now_s, est.arrivals_pcu, est.departures_pcu), None
        elapsed_s = now_s - state.period_start_s
        if elapsed_s < self.params.period_s:
            return state, None
        # Demand seen in the period: arrivals at the advance loops, or departures when a queue
        # spilling over the advance loop hides arrivals (whichever is larger).
        arrived = est.arrivals_pcu - state.arrivals_pcu
        departed = est.departures_pcu - state.departures_pcu
        flow_pcu_h = np.maximum(arrived, departed) * 3600.0 / elapsed_s
        _, greens = webster_greens(layout, flow_pcu_h, self.params.lost_time_per_phase_s, self.params.max_flow_ratio)
        n = len(layout.junction.phases)
        wish = CycleWish(tuple(range(n)), greens, layout.junction.base_offset_s)
        return WebsterState(now_s, est.arrivals_pcu, est.departures_pcu), wish

"""Spill-back past the approach: the part of a movement's queue that stands upstream. Pure.

The estimator counts a queue between the stop-line and the advance loop, and, once the advance
loop stands (the approach's storage is full), a *hidden* queue upstream of it
(estimation.py: `LaneState.hidden_pcu`). A hidden queue stands on the link before the
approach, often across the unsignalised junction at its head: it holds there traffic that never
crosses this signal (other turns at that junction, a merge, the network's entries). A policy
that weighs only the vehicles in its own queue under-serves a short approach whose queue has
spilled back: the cost of that queue falls on streams the junction does not see.

`upstream_queue_pcu` returns that part per movement, so that a policy can count it once more
in its weight (each hidden PCU: itself, and the traffic it holds upstream), the rule of
SCOOT/SCATS "exit-blocking" seen from the upstream side: a queue that reaches the upstream
junction is served before it blocks it.

Example: a 34 m approach (storage 4.5 PCU per lane) with its advance loop standing and 6 PCU
estimated upstream of it: `Estimate.queue_pcu` says 10.5 for the lane, this function 6, and a
policy counting both weighs the lane as 16.5.

`blocking_queue_pcu` is the part of it that stands past the link's head: a queue past an advance loop
that still stands on the approach's own link holds no traffic but its own.
"""

from __future__ import annotations

import numpy as np

from controller.core.estimation import Estimate, Layout


def upstream_queue_pcu(layout: Layout, est: Estimate) -> np.ndarray:
    """(movements,) PCU of each movement's queue standing upstream of its advance loops (the
    hidden queue, split between the movements sharing a lane as the estimator splits it);
    already included in `est.queue_pcu`."""
    out: np.ndarray = layout.lane_share @ est.lanes.hidden_pcu
    return out


def blocking_queue_pcu(layout: Layout, est: Estimate, beyond_pcu: np.ndarray | None = None) -> np.ndarray:
    """(movements,) the part of `upstream_queue_pcu` that reaches the junction at the head of each
    lane's link: per lane, the hidden queue beyond what the link stores upstream of the advance
    loop (`lane_spill_pcu`), split between the movements as the estimator splits it. A queue past the
    advance loop of a 333 m entry whose loop stands 80 m from the stop line holds no one but itself until
    it is 33 PCU long; past a loop at the start of a 34 m exit of a ring it stands in the ring at once
    ([max_pressure] spill_room). `beyond_pcu` (lanes,): PCU more of room past the link's head per lane
    (None: none)."""
    out: np.ndarray = layout.lane_share @ lane_spill_pcu(layout, est, beyond_pcu)
    return out


def lane_spill_pcu(layout: Layout, est: Estimate, beyond_pcu: np.ndarray | None = None) -> np.ndarray:
    """(lanes,) PCU of each lane's hidden queue beyond what its link stores upstream of the advance loop
    (`Layout.lane_adv_room_pcu`, plus `beyond_pcu` where given), never below 0: the one reading of a
    spill past the link's head that blocking_queue_pcu and spill_red.whole_spill_pcu split."""
    room = layout.lane_adv_room_pcu if beyond_pcu is None else layout.lane_adv_room_pcu + beyond_pcu
    out: np.ndarray = np.maximum(est.lanes.hidden_pcu - room, 0.0)
    return out

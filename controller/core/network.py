"""What a policy that coordinates junctions sees of the network: NetworkView (read-only).

The core builds it each tick for policies with `uses_network` (core/policies/__init__.py),
after every junction's estimate is updated, so all see the same tick: the learnt coupling
between neighbours (estimation.LinkState: which exit feeds which neighbour approach, and the
travel time), every junction's estimate and layout, the arrivals already on their way, each
light's stage as its roadside controller reports it (its status; never the simulator's signal
state), with `reads_signals` also how long that stage has been in force and when each movement was
last green (the gate's SignalView), and the advice of the policy's own `coordinate()`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from controller.core import estimation
from controller.core.estimation import Estimate, Layout
from controller.core.safety import SignalView


@dataclass(frozen=True)
class NetworkView:
    """Read-only view of the neighbourhood for policies that coordinate junctions."""

    links: estimation.LinkLayout
    state: estimation.LinkState
    estimates: Mapping[str, Estimate]
    layouts: Mapping[str, Layout]
    advice: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # from the policy's coordinate()
    # per junction, the stage its roadside controller reports (SignalStatus.phase: the one in force, or the
    # one it is changing to during an intergreen); None or absent: no status yet
    phases: Mapping[str, int | None] = dataclasses.field(default_factory=dict)
    # for a policy with `reads_signals`: per junction, the gate's SignalView of its light now (the reported
    # stage, how long it has been green, when each movement was last green); None or absent: no status yet
    signals: Mapping[str, SignalView | None] = dataclasses.field(default_factory=dict)

    def exits(self, junction: str) -> tuple[estimation.Coupling | None, ...]:
        """Per movement of `junction`: the neighbour approach its vehicles join, if learnt."""
        return self.state.mapping.get(junction, ())

    def inflow_pcu(self, junction: str, edge: str, horizon_s: int) -> np.ndarray:
        """Arrivals expected at one approach of `junction` over the next horizon_s seconds."""
        return estimation.predicted_inflow_pcu(
            self.links, self.state, junction, edge, horizon_s, self.layouts[junction].junction.upstream
        )

    def downstream_queue_pcu(self, junction: str) -> np.ndarray:
        """Per movement of `junction`: Varaiya's downstream queue, the queues of the movements
        of the neighbour approach it feeds weighted by their shares of that approach's flow (PCU);
        0 where the exit is not learnt or leaves the controlled network."""
        exits = self.exits(junction)
        q = np.zeros(len(self.layouts[junction].junction.movements))
        for i, c in enumerate(exits):
            if c is None:
                continue
            ix = self.links.edge_movements[c.junction][c.edge]
            e = self.estimates[c.junction]
            f = e.flow_pcu_h[ix]
            share = f / f.sum() if f.sum() > 0 else np.full(len(ix), 1.0 / len(ix))
            q[i] = float(share @ e.queue_pcu[ix])
        return q

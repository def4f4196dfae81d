"""`fixed`: the network's own programs. The controller sends nothing; roadside runs locally."""

from __future__ import annotations

from typing import Any

from controller.core.estimation import Estimate, Layout
from controller.core.network import NetworkView
from controller.core.policies import Policy
from controller.core.safety import SignalView
from controller.model import Wish


class FixedPolicy(Policy):
    name = "fixed"
    runs_own_program = True

    def cannot_serve(self, layout: Layout) -> str:
        return ""  # it serves every junction by leaving it on its own program

    def init(self, layout: Layout, now_s: float) -> Any:
        return None

    def decide(
        self,
        state: Any,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None = None,
    ) -> tuple[Any, Wish | None]:
        return state, None

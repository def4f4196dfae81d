"""`fixed`: the network's own programs. The controller sends nothing; roadside runs locally."""

from __future__ import annotations

from typing import Any


class FixedPolicy:
    name = "fixed"

    def init(self, layout, now_s: float) -> Any:
        return None

    def decide(self, state, layout, est, signal, now_s: float):
        return state, None

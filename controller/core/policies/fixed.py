"""`fixed`: the network's own programs. The controller sends nothing; roadside runs locally."""

from __future__ import annotations

from typing import Any


class FixedPolicy:
    name = "fixed"

    def cannot_serve(self, layout) -> str:
        return ""  # it serves every junction by leaving it on its own program

    def init(self, layout, now_s: float) -> Any:
        return None

    def decide(self, state, layout, est, signal, now_s: float):
        return state, None

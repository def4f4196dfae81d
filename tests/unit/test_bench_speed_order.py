"""sim.bench_speed's rounds alternate their order (ABBA): a tree timed second in every round would
always run after the first (its page cache warm, the load of the round's end), an order bias."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import bench_speed


def test_the_rounds_alternate_the_order_of_the_variants(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(bench_speed, "_timed", lambda cmd, cwd: (ran.append(cmd[0]), (1.0, 0.5))[1])
    todo = {name: ([name], Path()) for name in ("sumo", "head", "base")}
    times, cpus, loads = bench_speed._rounds(todo, 4)
    assert ran == ["sumo", "head", "base", "base", "head", "sumo", "sumo", "head", "base", "base", "head", "sumo"]
    # the figures stay filed under their variant, in round order, whatever the order they ran in
    assert times == {k: [1.0] * 4 for k in todo} and cpus == {k: [0.5] * 4 for k in todo} and len(loads) == 5

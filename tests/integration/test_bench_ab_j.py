"""sim/bench_ab_j.py times what it claims: on a short city run under adaptive it records the core's network pass
(max_pressure's decide_all), every tick, and its replay of the recorded inputs gives the run's wishes, by the pass
and by decide() (before session 61 it recorded decide(), which the pass bypasses, and timed nothing). The base tree
is this one: both sides the same code, the same output."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sumo")

from sim import bench_ab_j

ROOT = Path(__file__).resolve().parents[2]
END_S = 20


def test_the_network_pass_is_recorded_every_tick_and_replays_the_run(capsys) -> None:
    assert bench_ab_j.main(["--base", str(ROOT), "--rounds", "1", "--end", str(END_S)]) == 0
    out = capsys.readouterr().out
    assert f"recorded: {END_S} network passes over 20 junctions, {20 * END_S} views" in out
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in out.splitlines() if line.startswith("| ")}
    assert {"max_pressure's pass (decide_all)", "max_pressure decide", "step _view"} <= set(rows)

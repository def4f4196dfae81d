"""The replay's GEH target on a window of a recording (issue 13's path): record the spider under its
own programs, rebuild a window from the recording alone, replay it. A module of its own, apart from
tests/integration/test_replay.py's tests of one shared recording: the slow pass (--dist loadfile) runs
it on the other worker at the same time (BENCHMARKS.md, F session 65)."""

from __future__ import annotations

import json

import pytest

from sim import bench_replay_geh
from tests.integration.test_replay import SPIDER, cli

FIXED_RECORD_S = 600  # the spider recorded from 0 under its own programs ...
FIXED_FROM_S = 300  # ... and replayed from here (a window of one 300 s sampler interval at least)


@pytest.mark.timeout(1260)  # its two commands' own limits (300 + 900 s): it took 682 s at load 30-40, over the 600 s
def test_a_replayed_window_meets_the_geh_target(tmp_path):
    """The issue's path: record a network under its own programs, rebuild a window of it from the
    recording alone (--from after the start: the lead and the queue estimate before it) and replay
    it; GEH < 5 for at least 85 % of the counting sites' hourly flows (the spider gives 88 % of 144:
    at 80 % the test missed counting each loop as its own site, 83 %, and a rebuilt clock 60 s late,
    83 %). On the bundled city (this test's network before session 64, 73 s of CPU against about 32):
    `python -m sim.bench_replay_geh` (BENCHMARKS.md, docs/replay.md).

    Each site's count over the window is scaled to an hourly flow (x12 for 300 s) before GEH is taken
    (sim/replay_geh.py), stricter than GEH on the window's raw counts. Recorded under `fixed`, so
    the calibration run is the recorded one (sim.replay_recorded) and the replay runs SUMO once."""
    done = cli(*bench_replay_geh.record_args(SPIDER, tmp_path, FIXED_RECORD_S))
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "replay"
    done = cli(*bench_replay_geh.replay_args(tmp_path, FIXED_FROM_S, FIXED_RECORD_S), timeout_s=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Calibration run: recorded. Replay of [300, 600)" in (out / "report.html").read_text()
    geh = json.loads((out / "geh.json").read_text())
    assert geh["hourly_n"] > 100, geh["hourly_n"]  # sites: the spider's loops of one kind on one edge
    assert bench_replay_geh.TARGET == 0.85  # the acceptance figure (docs/replay.md): not lowered here
    assert geh["hourly_share"] >= bench_replay_geh.TARGET, geh["hourly_share"]
    assert all(r["period_s"] == FIXED_RECORD_S - FIXED_FROM_S for r in geh["hourly"])
    ratio = bench_replay_geh.modelled_over_counted(geh)
    assert ratio is not None and 0.8 < ratio < 1.2, ratio

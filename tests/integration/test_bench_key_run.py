"""sim.bench_key on real runs: a corpus network, 120 s, seeds 1-2, a key on against off and a named
perturbation, run from a checkout given by --tree (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import bench_key as bk
from sim.scenarios.corpus.build import ensure_built
from tests.scenarios import cache_dir

pytestmark = pytest.mark.slow


def test_a_key_judged_on_a_corpus_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ensure_built(cache_dir("tsc_corpus"), "rand_plain")
    argv = ["--set", "max_pressure.wait_scale_s=30", "--scenario", f"{cfg}:120", "--seeds", "1-2"]
    argv += ["--perturb", "ws61:max_pressure.wait_scale_s=61", "--tree", str(Path(bk.ROOT))]
    argv += ["--jobs", "2", "--out", str(tmp_path), "--per-seed"]
    assert bk.main(argv) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| rand_plain | ")]
    assert len(rows) == 4 and rows[0].startswith("| rand_plain | 1-2 | ")  # the table, the floor's, a row per seed
    assert "Verdict: " in out
    runs = sorted(tmp_path.glob("runs/*/adaptive-*/rand_plain/seed*/summary.json"))
    assert len(runs) == 6  # off, on and ws61, two seeds
    assert rows[1].startswith("| rand_plain | ws61 | 1-2 | ")
    assert bk.main(argv) == 0  # reused: nothing runs again
    assert "0 runs (6 reused, 0 imported)" in capsys.readouterr().err

"""sim/bench_tick_read.py, a second's detector messages read by two trees' feedbatch (issue 12): it
checks the trees' frames to the bit before timing, and prints one row per part."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim.bench_tick_read as bench_tick_read

ROOT = Path(__file__).resolve().parents[2]


def test_a_tree_against_itself_reads_the_same_frames_and_prints_both_parts(capsys):
    bench_tick_read.main(["--base", str(ROOT), "--size", "12", "--rounds", "2", "--block", "5"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "12 messages of 2995 bytes; the trees' frames the same to the bit"
    assert [row.split(" | ")[0] for row in out[3:]] == ["| read", "| split"]


def test_another_trees_frames_that_differ_stop_the_bench(monkeypatch):
    """A tree whose frames differ (here: every message read as not plain) is refused before timing."""
    base = bench_tick_read.load_feedbatch(ROOT)
    monkeypatch.setattr(base, "read_message", lambda payload, jid, layout: (jid, None))
    monkeypatch.setattr(bench_tick_read, "load_feedbatch", lambda tree: base)
    with pytest.raises(SystemExit, match="frames differ"):
        bench_tick_read.main(["--base", str(ROOT), "--size", "4", "--rounds", "1"])

"""sim.scenarios.common's build helpers, shared by the board's and the messy networks' builders: a tool's
failure in one line, and a folder built whole or not at all."""

from __future__ import annotations

import sys

import pytest

from sim.scenarios.common import error_line, staged, sumo_home, sumo_tool, tool_failure


def test_a_run_failure_reads_as_the_tools_name_and_its_error_line():
    out = "/opt/sumo/bin/netgenerate failed:\nSuccess.\n\nWarning: odd\nError: unknown option 'x'\nQuitting.\n"
    assert tool_failure(SystemExit(out)) == "netgenerate failed: Error: unknown option 'x'"
    assert tool_failure(SystemExit("/usr/bin/python3 failed:\nstep 1\nboom  \n\n")) == "python3 failed: boom"
    assert tool_failure(SystemExit("cannot locate SUMO")) == "a generator failed: cannot locate SUMO"
    assert error_line(" \n\n") == "no output"


def test_a_folder_is_moved_into_place_whole_and_replaces_an_unfinished_one(tmp_path):
    final = tmp_path / "out" / "net"
    final.mkdir(parents=True)
    (final / "left.txt").write_text("a build that never finished")

    def make(d):
        d.mkdir()
        (d / "net.sumocfg").write_text("<configuration/>")

    staged(final, make)
    assert sorted(p.name for p in final.iterdir()) == ["net.sumocfg"]
    assert [p.name for p in final.parent.iterdir()] == ["net"]  # no temporary sibling left


def test_a_failing_build_leaves_nothing(tmp_path):
    final = tmp_path / "out" / "net"

    def make(d):
        d.mkdir()
        (d / "half.xml").write_text("<net")
        raise RuntimeError("the tool failed")

    with pytest.raises(RuntimeError, match="the tool failed"):
        staged(final, make)
    assert list(final.parent.iterdir()) == []


def test_a_tool_beside_the_interpreter_is_taken_before_sumo_homes(tmp_path, monkeypatch):
    """The wheel puts SUMO's binaries in the venv's bin, beside the interpreter: sumo_tool takes that one; a tool
    not there comes from SUMO_HOME's bin."""
    (tmp_path / "netconvert").write_text("")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert sumo_tool("netconvert") == str(tmp_path / "netconvert")
    assert sumo_tool("netgenerate") == str(sumo_home() / "bin" / "netgenerate")

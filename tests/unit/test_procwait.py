"""tests/procwait.py: a subprocess is waited on while it works, however long, and called stuck (killed with
the processes it started, named with its stderr) once none of them has spent CPU for idle_s."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests import procwait

pytestmark = pytest.mark.skipif(not procwait.PROC.is_dir(), reason="no /proc: nothing to measure")


def _popen(*cmd: str) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_process_that_works_is_waited_on_past_idle_s() -> None:
    busy = _popen(sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 5: pass\nprint('done')")
    short = _popen("sh", "-c", "sleep 0.5; echo slept")  # idle, but gone before idle_s
    assert procwait.finish({"busy": busy, "short": short}, idle_s=3.0, poll_s=0.2) == {
        "busy": ("done\n", ""),
        "short": ("slept\n", ""),
    }


def test_a_child_that_works_keeps_its_parent_waited_on() -> None:
    """The parent only waits; its child (as SUMO's broker or a controller process) does the work."""
    child = f'{sys.executable} -c "import time\nt = time.time()\nwhile time.time() - t < 5: pass"'
    parent = _popen("sh", "-c", f"{child}; echo done")
    assert procwait.finish({"parent": parent}, idle_s=3.0, poll_s=0.2) == {"parent": ("done\n", "")}


def test_a_process_that_waits_for_nothing_is_stuck_and_killed_with_its_children() -> None:
    stuck = _popen("sh", "-c", "echo waiting for a message >&2; sleep 60; echo never")
    t0 = time.monotonic()
    with pytest.raises(AssertionError, match="stuck: no CPU spent in 1 s, still running: stuck; waiting for a message"):
        procwait.finish({"stuck": stuck}, idle_s=1.0, poll_s=0.2)
    assert time.monotonic() - t0 < 20  # its `sleep` killed too: the pipes closed, not read until it ends
    assert stuck.returncode == -9

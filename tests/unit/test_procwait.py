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


def test_until_waits_while_the_process_works_and_fails_fast_when_it_idles_or_ends(tmp_path) -> None:
    """procwait.until: a start-up that works past idle_s is waited for; one that waits without working, or
    ends, fails at once, naming it and what was waited for."""
    flag = tmp_path / "up"
    busy = f"import time\nt = time.time()\nwhile time.time() - t < 3: pass\nopen({str(flag)!r}, 'w').write('up')"
    works = _popen(sys.executable, "-c", busy + "\ntime.sleep(30)")
    try:
        procwait.until(flag.exists, {"the service": works}, "its start", idle_s=1.5, poll_s=0.2)
    finally:
        works.kill()
        works.communicate()
    idle = _popen("sleep", "30")
    t0 = time.monotonic()
    try:
        with pytest.raises(AssertionError, match="the service: no CPU spent in 1 s while waiting for its start: stuck"):
            procwait.until(lambda: False, {"the service": idle}, "its start", idle_s=1.0, poll_s=0.2)
        assert time.monotonic() - t0 < 10
    finally:
        idle.kill()
        idle.communicate()
    gone = _popen("sh", "-c", "exit 3")
    with pytest.raises(AssertionError, match=r"the service ended \(exit 3\) before its start"):
        procwait.until(lambda: False, {"the service": gone}, "its start")

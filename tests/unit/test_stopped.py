"""tests/live_fixtures.py Stopped, the live tests' clean-up of the processes they start: a process that ignores
SIGTERM is killed and fails the test by its name, with its log's tail; an error of the test stays its failure
(test_restart's `p.wait(10)` in a finally replaced the real failure with its TimeoutExpired, session 54)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live_fixtures import Stopped

# writes a line to its log once its SIGTERM handling is set, then sleeps
CHILD = """
import signal, sys, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("child up, SIGTERM " + sys.argv[1] + "d", flush=True)
time.sleep(60)
"""


def child(tmp_path: Path, how: str) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"{how}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, how], stdout=out)
    deadline = time.monotonic() + 60
    while b"child up" not in log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.02)
    return proc, log


def test_a_process_that_ignores_sigterm_is_killed_and_fails_the_test_by_name_with_its_log(tmp_path):
    proc, log = child(tmp_path, "ignore")
    with pytest.raises(pytest.fail.Exception) as failed, Stopped(within_s=0.5) as procs:
        procs.add("the stubborn one", proc, log)
    assert "the stubborn one" in str(failed.value) and "child up, SIGTERM ignored" in str(failed.value)
    assert proc.poll() is not None  # killed


def test_an_error_in_the_block_stays_the_failure_with_the_late_stop_noted(tmp_path):
    proc, log = child(tmp_path, "ignore")
    with pytest.raises(ValueError, match="the test's own failure") as failed, Stopped(within_s=0.5) as procs:
        procs.add("the stubborn one", proc, log)
        raise ValueError("the test's own failure")
    assert any("the stubborn one" in note for note in failed.value.__notes__)
    assert proc.poll() is not None


def test_a_process_that_stops_on_sigterm_passes(tmp_path):
    proc, log = child(tmp_path, "obey")
    with Stopped(within_s=30) as procs:
        assert procs.add("the polite one", proc, log) is proc
    assert proc.returncode == -15  # ended by the SIGTERM, nothing raised

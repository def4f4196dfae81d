"""`run` stops at SIGTERM whatever its main thread is doing (controller/live.py stop_on_signals; DESIGN.md, restart
safety). Python runs a signal's handler in the main thread between two bytecodes, also inside `Event.wait` while the
thread holds the event's lock: a handler that called `stop.set()` waited there for that lock for ever, and the process
ignored SIGTERM. Found looking for why tests/integration/test_restart.py's controller once took over 10 s to stop
(session 54). Each test that can hang runs in a process of its own."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from controller import live
from controller.live import stop_on_signals

ROOT = Path(__file__).resolve().parents[2]

# The main thread in and out of stop.wait as fast as it can, so that most signals find it holding the event's lock
# or about to take it; each round a thread sends SIGTERM (SIGINT every other round) to it 1 ms in. With
# `stop.set()` in the handler about half the rounds hung (session 55).
SPIN = """
import signal, threading
from controller.live import stop_on_signals

main = threading.main_thread().ident
for k in range({rounds}):
    stop = threading.Event()
    with stop_on_signals(stop):
        sig = signal.SIGTERM if k % 2 == 0 else signal.SIGINT
        threading.Timer(0.001, signal.pthread_kill, (main, sig)).start()
        while not stop.is_set():
            stop.wait(0)
print("stopped", k + 1)
"""


def test_a_signal_stops_a_main_thread_that_waits_on_stop_over_and_over() -> None:
    rounds = 40
    done = subprocess.run(
        [sys.executable, "-c", SPIN.format(rounds=rounds)], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and done.stdout.split() == ["stopped", str(rounds)], done.stderr[-2000:]


def test_the_handlers_before_come_back_and_a_stop_set_inside_stays_set() -> None:
    stop = threading.Event()
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_on_signals(stop):
        assert signal.getsignal(signal.SIGTERM) not in before
        signal.raise_signal(signal.SIGTERM)
        assert stop.wait(5)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert not [t for t in threading.enumerate() if t.name == "stop-on-signals"]


def _signal_self(stop: threading.Event) -> None:
    """A forked child: SIGTERM to itself; exit 0 if its own copy of `stop` is then set."""
    signal.raise_signal(signal.SIGTERM)
    sys.exit(0 if stop.wait(5) else 1)


def test_a_signal_to_a_child_forked_inside_stops_the_child_and_not_the_parent() -> None:
    """A child forked inside keeps the handler: it sets its own copy of `stop`, and does not write to the pipe it
    shares with the parent, whose watcher would stop the parent (R, session 55: the child's branch dropped
    survived the tests above)."""
    stop = threading.Event()
    with stop_on_signals(stop):
        child = multiprocessing.get_context("fork").Process(target=_signal_self, args=(stop,))
        child.start()
        child.join(10)
        assert child.exitcode == 0
        assert not stop.wait(0.5)


def test_the_start_up_compile_is_not_waited_for_once_stopped(monkeypatch) -> None:
    """controller/live.py warm_up_until: `run`'s start-up compile (warm_up) in a thread, waited for until `stop`.
    Called in the main thread, as before, a SIGTERM during it waited for the compile (7-8 s under load)."""
    release = threading.Event()
    monkeypatch.setattr(live, "warm_up", lambda policy: release.wait(30))
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    t0 = time.monotonic()
    try:
        assert not live.warm_up_until("webster", stop)
        assert time.monotonic() - t0 < 5
    finally:
        release.set()


def test_the_start_up_compile_is_waited_for_and_its_error_raised(monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(live, "warm_up", calls.append)
    assert live.warm_up_until("webster", threading.Event()) and calls == ["webster"]

    def broken(policy: str) -> None:
        raise RuntimeError("no compiler")

    monkeypatch.setattr(live, "warm_up", broken)
    with pytest.raises(RuntimeError, match="no compiler"):
        live.warm_up_until("webster", threading.Event())

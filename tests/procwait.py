"""Waiting on a test's subprocesses by their progress, not by a flat time.

A flat `communicate(timeout=...)` fails a run that is only slow: on a machine at load 20 four 600 s runs of
a grid take minutes, and the same wait that passes at load 2 fails there (CI risk). What a stuck run does
instead is wait without working: a lockstep waiting for a message that will not come, a process waiting
for one that died. So a process here is waited on for as long as its process tree (it and every process it
started: SUMO in process, the broker, a controller of its own) spends CPU time; it is called stuck when
none of them has spent any for `idle_s` while it runs. On a loaded machine a runnable process still gets the
CPU many times a second, so a minute without any is not load. (A process that polls while it waits spends
some: it is bounded by the test's pytest timeout only, kept as the backstop.)

Linux's /proc only: elsewhere nothing can be measured and every wait is taken for progress (the test's
pytest timeout is then the only bound)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from subprocess import Popen
from typing import Any

IDLE_S = 60.0  # a process tree that spent no CPU in this long, still running, is stuck
PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds: user + system, its own and its reaped children's) of process `pid`, None when
    it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": the name may hold spaces
    ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime (fields 14-17 of proc(5))
    return int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> dict[int, float]:
    """The process `pid` and every living descendant of it: {pid: CPU seconds}; {} when it is gone."""
    stats = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
    tree: dict[int, float] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in stats and p not in tree:
            tree[p] = stats[p][1]
            todo += [c for c, (parent, _) in stats.items() if parent == p]
    return tree


def tree_cpu_s(pid: int) -> float:
    """The CPU seconds the process `pid` and every living descendant of it have spent (0 when it is gone)."""
    return sum(_tree(pid).values())


def _kill_tree(proc: Popen[str]) -> None:
    """The process and its descendants killed: a child left running (a broker, SUMO) would hold the pipes
    open, and reading them would wait for it."""
    pids = list(_tree(proc.pid)) if PROC.is_dir() else [proc.pid]
    for pid in pids:
        with contextlib.suppress(OSError):  # gone in between
            os.kill(pid, signal.SIGKILL)


def finish(procs: Mapping[str, Popen[str]], idle_s: float = IDLE_S, poll_s: float = 1.0) -> dict[str, tuple[str, str]]:
    """Each process's (stdout, stderr) once it has exited, read while it runs (no pipe fills). Waits as long as
    the processes work; one whose tree has spent no CPU for `idle_s` while running is killed with the others
    and an AssertionError names it, with the end of its stderr."""
    got: dict[str, tuple[str, str]] = {}
    readers = [threading.Thread(target=lambda n=n, p=p: got.__setitem__(n, p.communicate())) for n, p in procs.items()]
    for th in readers:
        th.start()
    stuck = None
    try:
        stuck = _watch(procs, readers, idle_s, poll_s)
    finally:
        for p in procs.values():
            if p.poll() is None:
                _kill_tree(p)
        for th in readers:
            th.join()
    assert stuck is None, f"{stuck}: no CPU spent in {idle_s:.0f} s, still running: stuck; {got[stuck][1][-2000:]}"
    return got


def _watch(
    procs: Mapping[str, Popen[str]], readers: list[threading.Thread], idle_s: float, poll_s: float
) -> str | None:
    """Until every reader is done: None; the name of the first process found stuck, then at once. A tree works
    when one of its processes has spent CPU since the last look or a process has joined it (one that leaves it,
    exited or handed to init, takes its seconds along: the tree's total may fall while it works)."""
    # per process: its tree last seen ({pid: CPU s}), and when it last worked
    seen: dict[str, tuple[dict[int, float], float]] = {name: ({}, time.monotonic()) for name in procs}
    while any(th.is_alive() for th in readers):
        time.sleep(poll_s)
        for name, p in procs.items():
            if p.poll() is not None or not PROC.is_dir():
                continue
            seen[name] = _look(p.pid, *seen[name])
            if time.monotonic() - seen[name][1] > idle_s:
                return name
    return None


def _look(pid: int, before: dict[int, float], worked_s: float) -> tuple[dict[int, float], float]:
    """The tree of process `pid` now, and when it last worked: now, if one of its processes has spent CPU since
    `before` (the tree last seen) or joined it, else `worked_s` as it was."""
    tree, now = _tree(pid), time.monotonic()
    return tree, now if any(cpu > before.get(p, -1.0) for p, cpu in tree.items()) else worked_s


def until(
    pred: Callable[[], bool], procs: Mapping[str, Popen[Any]], what: str, idle_s: float = IDLE_S, poll_s: float = 1.0
) -> None:
    """Until pred() is true (asked every 50 ms), for as long as the processes work (looked at every `poll_s`): one
    that ended, or whose tree has spent no CPU for `idle_s`, fails with an AssertionError naming it and `what` was
    waited for. For a start-up (a service's imports and warm-up: 15-20 s of wall time at load 25-35, under 2 s
    near idle), waited on before a flat deadline that counts the service's own ticks."""
    seen: dict[str, tuple[dict[int, float], float]] = {name: ({}, time.monotonic()) for name in procs}
    looked = time.monotonic()
    while not pred():
        time.sleep(0.05)
        ended = next((name for name, p in procs.items() if p.poll() is not None), None)
        if ended is not None and not pred():
            raise AssertionError(f"{ended} ended (exit {procs[ended].returncode}) before {what}")
        if time.monotonic() - looked < poll_s or not PROC.is_dir():
            continue
        looked = time.monotonic()
        for name, p in procs.items():
            seen[name] = _look(p.pid, *seen[name])
            if time.monotonic() - seen[name][1] > idle_s:
                raise AssertionError(f"{name}: no CPU spent in {idle_s:.0f} s while waiting for {what}: stuck")

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
from collections.abc import Mapping
from pathlib import Path
from subprocess import Popen

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
            tree, now = _tree(p.pid), time.monotonic()
            before, worked_s = seen[name]
            if any(cpu > before.get(pid, -1.0) for pid, cpu in tree.items()):
                worked_s = now
            elif now - worked_s > idle_s:
                return name
            seen[name] = (tree, worked_s)
    return None

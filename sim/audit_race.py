"""Two controller processes on one audit store (docs/deployment.md, "Audit store"): one appends
plans in batches (an instance running), the other begins epochs (an instance starting, or a
taker). Prints how many begin_epoch calls SQLite refused.

    python -m sim.audit_race [--calls 200]

With a deferred transaction in AuditStore.batch, begin_epoch's read-then-insert is refused at
once ("database is locked", no busy wait) whenever the writer committed in between; with
`BEGIN IMMEDIATE` none is. Exit status 1 when any was refused.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from controller.adapters.audit import AuditStore


def refused_epochs(path: Path, calls: int) -> tuple[int, str]:
    """(begin_epoch calls refused, the last error) while another connection appends batches."""
    writer, starter = AuditStore(path), AuditStore(path)
    stop, writing = threading.Event(), threading.Event()

    def write() -> None:
        while not stop.is_set():
            with writer.batch():
                for k in range(20):
                    writer.append("plan", "J1", "controller/running", {"k": k}, 1.0)
            writing.set()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    writing.wait(10)
    refused, last = 0, ""
    try:
        for _ in range(calls):
            try:
                starter.begin_epoch("starting", time.time())
            except Exception as exc:  # sqlite3.OperationalError
                refused, last = refused + 1, f"{type(exc).__name__}: {exc}"
    finally:
        stop.set()
        thread.join(5)
        writer.close()
        starter.close()
    return refused, last


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim.audit_race", description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=200)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tsc-audit-race-") as tmp:
        refused, last = refused_epochs(Path(tmp) / "audit.sqlite", a.calls)
    print(f"begin_epoch refused {refused}/{a.calls} {last}")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())

"""Each test's CPU time, for measuring the suite on a loaded machine (wall durations there say more
of the other users than of the test). Opt in: `pytest -p tests.cpu_times` with
TSC_TEST_CPU=PREFIX writes PREFIX.WORKER.json per process (each pytest-xdist worker, or "main"):
{"rows": [[node id, own CPU s, children's CPU s, wall s], ...], "self": s, "children": s}.
A test's row includes its fixtures' set-up (a module-scoped run is charged to the module's first
test). Children's CPU is the waited-for subprocesses' (SUMO, `simulate`, brokers), as getrusage
counts it. Each row is also appended to PREFIX.WORKER.jsonl as its test ends, so that a run stopped before
its end (a loaded machine) leaves the rows of the tests it ran. `python -m tests.cpu_times PREFIX [N]` sums
the rows per module (the corpus per network), a worker's .jsonl where it has no .json."""

from __future__ import annotations

import collections
import json
import os
import resource
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

_rows: list[tuple[str, float, float, float]] = []


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    own0, children0 = _cpu()
    wall0 = time.monotonic()
    yield
    own1, children1 = _cpu()
    row = (item.nodeid, round(own1 - own0, 3), round(children1 - children0, 3), round(time.monotonic() - wall0, 3))
    _rows.append(row)
    prefix = os.environ.get("TSC_TEST_CPU")
    if prefix:
        with Path(f"{prefix}.{_worker()}.jsonl").open("a") as out:
            out.write(json.dumps(row) + "\n")


def pytest_sessionstart(session: pytest.Session) -> None:
    prefix = os.environ.get("TSC_TEST_CPU")
    if prefix:  # this run's rows only
        Path(f"{prefix}.{_worker()}.jsonl").unlink(missing_ok=True)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_sessionfinish(session: pytest.Session) -> None:
    prefix = os.environ.get("TSC_TEST_CPU")
    if not prefix:
        return
    own, children = _cpu()
    Path(f"{prefix}.{_worker()}.json").write_text(json.dumps({"rows": _rows, "self": own, "children": children}))


def unit(nodeid: str) -> str:
    """A row's module; for the corpus, the module and the network (as tests/conftest.py schedules it)."""
    from tests.conftest import work_unit

    return work_unit(nodeid)


def table(prefix: str, top: int = 40) -> str:
    """The rows of PREFIX.*.json summed per module, the most CPU first."""
    rows: list[Any] = []
    for path in sorted(Path(prefix).parent.glob(Path(prefix).name + ".*.json")):
        rows += json.loads(path.read_text())["rows"]
    for path in sorted(Path(prefix).parent.glob(Path(prefix).name + ".*.jsonl")):
        if not path.with_suffix(".json").exists():  # a run stopped before its end
            rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    per: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    for nodeid, own, children, wall in rows:
        acc = per[unit(nodeid)]
        acc[0], acc[1], acc[2], acc[3] = acc[0] + own, acc[1] + children, acc[2] + wall, acc[3] + 1
    lines = [f"{len(rows)} tests: own CPU {sum(r[1] for r in rows):.1f} s, children {sum(r[2] for r in rows):.1f} s"]
    lines.append(f"{'module':<72} {'tests':>5} {'own s':>8} {'child s':>8} {'wall s':>8}")
    for name, (own, children, wall, n) in sorted(per.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:top]:
        lines.append(f"{name[-72:]:<72} {n:>5.0f} {own:>8.1f} {children:>8.1f} {wall:>8.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40))

"""Junctions for the live tests (broker, service, roadsides): built from TOML dicts, the way
`run` and `field` load intersections/<name>/<tls>.toml, so a test can also write them to disk.

    >>> cross("J1").phases[0].state
    'GGrr'
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controller.errors import AdapterError
from controller.junctions import parse_intersection
from controller.model import Intersection
from sim.broker import TlsFiles, find_mosquitto

APPROACHES = {"N": "GGrr", "S": "GGrr", "E": "rrGG", "W": "rrGG"}  # link k serves approach k


def cross_toml(jid: str) -> dict[str, Any]:
    """Four arms, through movements only, two phases (N-S, E-W): min green 7 s, max green 60 s,
    yellow 3 s, all-red 1 s, max red 120 s; a stop-line and an advance loop per arm."""
    movements, detectors = [], []
    for k, a in enumerate(APPROACHES):
        movements.append(
            {
                "id": f"{a}_T",
                "approach": a,
                "turn": "through",
                "from_edge": f"{jid}_{a}",
                "lanes": [f"{jid}_{a}_0"],
                "links": [k],
                "sat_flow_pcu_h": 1800.0,
                "storage_pcu": 10.0,
                "conflicts": ["E_T", "W_T"] if a in "NS" else ["N_T", "S_T"],
            }
        )
        for kind, pos in (("stop", 99.0), ("advance", 20.0)):
            detectors.append(
                {
                    "id": f"{jid}_{a}_{kind}",
                    "kind": kind,
                    "lane": f"{jid}_{a}_0",
                    "pos_m": pos,
                    "dist_to_stop_m": 100.0 - pos,
                }
            )
    return {
        "id": jid,
        "n_links": 4,
        "yellow_s": 3.0,
        "all_red_s": 1.0,
        "cycle_min_s": 30.0,
        "cycle_max_s": 120.0,
        "max_red_s": 120.0,
        "movements": movements,
        "detectors": detectors,
        "phases": [
            {"state": "GGrr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
            {"state": "rrGG", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
        ],
    }


def cross(jid: str) -> Intersection:
    """cross_toml(jid) parsed as `run` parses a junction file."""
    return parse_intersection(cross_toml(jid), f"<{jid}>")


def skip_without_mosquitto() -> None:
    """At a test module's top: skip the module when Mosquitto is not installed (a developer
    without it still runs the rest; under `make test` tests/unit/test_system_deps.py fails by
    name instead)."""
    try:
        find_mosquitto()
    except AdapterError:
        pytest.skip("mosquitto is not installed (make system-deps)", allow_module_level=True)


def wait_until(pred: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Whether pred() came true within timeout_s (polled every 5 ms; once more at the end).

    >>> wait_until(lambda: True), wait_until(lambda: False, timeout_s=0.01)
    (True, False)
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


class Stopped:
    """The processes a test starts, stopped when its `with` block ends: SIGTERM to each still
    running (the last started first), SIGKILL to any still running `within_s` later. An error raised
    in the block stays the test's failure (which processes ignored SIGTERM noted on it); without
    one, a process that ignored SIGTERM fails the test by its name, with its log's tail.

        with Stopped() as procs:
            controller = procs.add("the controller", subprocess.Popen(...), tmp_path / "controller.log")
            ...
        assert controller.returncode == 0
    """

    def __init__(self, within_s: float = 10.0) -> None:
        self.within_s = within_s
        self.procs: list[tuple[str, subprocess.Popen, Path | None]] = []

    def add(self, name: str, proc: subprocess.Popen, log: Path | None = None) -> subprocess.Popen:
        """`proc`, stopped at the block's end; `log`: the file its output goes to (else its stderr, if a pipe)."""
        self.procs.append((name, proc, log))
        return proc

    def __enter__(self) -> Stopped:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        late = self.stop()
        if late and exc is not None:
            exc.add_note("\n".join(late))  # the block's own error is raised, as it came
        elif late:
            pytest.fail("\n".join(late), pytrace=False)

    def stop(self) -> list[str]:
        """Stop every process; for each that did not end within `within_s` of SIGTERM (then killed),
        its name, pid and log's tail."""
        for _, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        deadline_s = time.monotonic() + self.within_s
        late = []
        for name, proc, log in reversed(self.procs):
            try:
                proc.wait(max(0.0, deadline_s - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                tail = _log_tail(proc, log)
                late.append(
                    f"{name} (pid {proc.pid}) ignored SIGTERM for {self.within_s:g} s (killed); its log ends:\n{tail}"
                )
        return late


def _log_tail(proc: subprocess.Popen, log: Path | None, chars: int = 2000) -> str:
    """The last `chars` of a killed process's log file, or of its stderr when that is a pipe."""
    if log is not None or proc.stderr is None:
        proc.wait()
        return log.read_text(errors="replace")[-chars:] if log is not None else "(no log kept)"
    _, err = proc.communicate()
    text = err.decode(errors="replace") if isinstance(err, bytes) else err
    return text[-chars:]


class Inbox:
    """An MQTT client's on_message that keeps every (topic, payload) and lets a test wait for
    them: the one the live tests share.

    >>> box = Inbox()
    >>> box("t/a", b"1")
    >>> box.wait_for(1)
    [('t/a', b'1')]
    >>> box.snapshot()
    [('t/a', b'1')]
    >>> box.wait_until(lambda got: len(got) > 1, timeout_s=0.01)
    False
    """

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._cv = threading.Condition()

    def __call__(self, topic: str, payload: bytes) -> None:
        with self._cv:
            self.messages.append((topic, payload))
            self._cv.notify_all()

    def snapshot(self) -> list[tuple[str, bytes]]:
        """A copy of the messages so far, taken under the lock the client thread appends with."""
        with self._cv:
            return list(self.messages)

    def wait_for(self, n: int, timeout_s: float = 5.0) -> list[tuple[str, bytes]]:
        """The messages once there are at least n (or as they are after timeout_s)."""
        with self._cv:
            self._cv.wait_for(lambda: len(self.messages) >= n, timeout_s)
            return list(self.messages)

    def wait_until(self, pred: Callable[[list[tuple[str, bytes]]], bool], timeout_s: float = 5.0) -> bool:
        """Whether pred(messages) came true within timeout_s."""
        with self._cv:
            return self._cv.wait_for(lambda: pred(self.messages), timeout_s)


def throwaway_certs(folder: Path) -> TlsFiles:
    folder.mkdir(parents=True)
    run = lambda *a: subprocess.run(["openssl", *a], cwd=folder, check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=tsc-test-ca",
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    )
    return TlsFiles(folder / "ca.crt", folder / "server.crt", folder / "server.key")

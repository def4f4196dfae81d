"""`simulate`'s controller service in a second process, while SUMO runs in the run's.

The field (SUMO, its loops, the roadside controllers) stays in the run's process; each second's
loop readings and roadside statuses are piped to a forked child that runs the same
ControllerService as InProcessLoop, with the same calls in the same order, and hands back at the
end what the run's summary reads (plans sent, feed rejected, the run report, the junctions' modes).
The trips and the summary's controller figures are the in-process run's
(tests/integration/test_service_process.py).

Under the city's own programs (`fixed`: `Policy.runs_own_program`, no plan, no withdrawal) the run
does not wait for the child: the child's whole second (checking the frame, estimating, the
do-no-harm replay, the metrics) goes on while SUMO steps, and the run pipes BATCH_S seconds in one
message (one write and one wake-up of the child instead of BATCH_S). Each second goes as its loop
readings with only the loops that read something other than nothing (occupancy 0, speed -1) named
(`_sparse`): the child rebuilds the same arrays bit for bit (`_dense`). Under a policy that sends
plans the run waits, every second, for that second's commands (lockstep): the child sends them as
soon as the tick has handed them over, and its bookkeeping and metrics of that tick go on while the
run applies them, actuates the roadsides and steps SUMO.

Used when nothing reads the service during the run: no metrics endpoint (its registry would be in
the child), no recording (its archive writer thread), no validation twin (it runs in the tick).
Elsewhere `simulate` runs InProcessLoop.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import traceback
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from controller.adapters.metrics import ServiceMetrics
from controller.config import Config
from controller.core.feedarrays import FrameLayout
from controller.errors import AdapterError
from controller.model import Command, Intersection
from controller.service import ControllerService, Recorder
from sim.field import SumoField, frame_of
from sim.junction_control import junction_summary

ANSWER_WAIT_S = 120.0  # the child is at most a few seconds behind (the pipe's buffer holds a few)
# under `fixed`, the simulated seconds piped to the child in one message: fewer writes and wake-ups
# (the child's work and its order unchanged; an error in the child is read at the next batch)
BATCH_S = 16
_NO_SPEED_BITS = np.array(-1.0).view(np.int64)  # a loop's speed with no vehicle (sim/field.py _read_loops)


# a second's loop readings as piped: (counts by loop and class, loops, positions, occupancies, speeds as bytes)
Sparse = tuple[dict[int, dict[str, int]], int, bytes, bytes, bytes]


def _sparse(counted: dict[int, dict[str, int]], occupancy: np.ndarray, speed_mps: np.ndarray) -> Sparse:
    """A second's loop readings (SumoField.loop_readings) for the pipe: the counts, the number of
    loops, and the positions, occupancies and speeds (as bytes) of the loops whose occupancy is not
    0.0 or whose speed is not -1.0, compared bit for bit (a -0.0 or a NaN is sent as it is)."""
    at = np.flatnonzero((occupancy.view(np.int64) != 0) | (speed_mps.view(np.int64) != _NO_SPEED_BITS))
    return counted, len(occupancy), at.tobytes(), occupancy[at].tobytes(), speed_mps[at].tobytes()


def _dense(n: int, at: bytes, occupancy: bytes, speed_mps: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The arrays `_sparse` was given, bit for bit."""
    where = np.frombuffer(at, dtype=np.intp)
    occ, speed = np.zeros(n), np.full(n, -1.0)
    occ[where] = np.frombuffer(occupancy)
    speed[where] = np.frombuffer(speed_mps)
    return occ, speed


class ServiceProcessLoop:
    """A ClosedLoop (sim/simulate.py) whose controller runs in a forked child (not with a recorder)."""

    metrics_apart = True  # the child builds the service's metrics; `run` builds none in the run's process

    def __init__(
        self,
        field: SumoField,
        junctions: dict[str, Intersection],
        cfg: Config,
        policy: str,
        begin_s: float,
        *,
        metrics: ServiceMetrics | None = None,
        archive: Recorder | None = None,
    ) -> None:
        if archive is not None:
            raise ValueError("ServiceProcessLoop runs the service without a recorder (its writer is a thread)")
        self.field = field
        self._lockstep = policy != "fixed"  # the run waits for each second's commands
        self.plans_sent = 0
        self.rejected: Mapping[str, int] = {}
        self._result: dict[str, Any] = {}
        self._answered = False
        self._statuses: list[dict[str, Any]] = []
        self._pending: list[tuple[Any, ...]] = []  # seconds not yet piped (under `fixed`: up to BATCH_S)
        ctx = multiprocessing.get_context("fork")  # the child needs no import and never touches SUMO
        self._conn, child = ctx.Pipe()
        # the child closes its copy of the parent's end first: when the run dies without close()
        # (a kill, a crash), the child's recv then sees end-of-file and it ends, not waits for ever
        args = (child, self._conn, field.frame_layout, junctions, cfg, policy, begin_s, field.program_states())
        self._proc = ctx.Process(target=_serve, args=args, name="tsc-service", daemon=True)
        self._proc.start()
        child.close()

    def start(self, begin_s: float) -> None:
        self._statuses = self.field.actuate_bodies(begin_s)

    def second(self, t_s: float) -> None:
        # the readings, not the frame: the child builds it (sim/field.py frame_of)
        self._pending.append((t_s, *_sparse(*self.field.loop_readings()), self._statuses))
        if self._lockstep or len(self._pending) >= BATCH_S:
            if not self._lockstep and self._conn.poll():  # under `fixed` it writes only at the end, or failing
                self._read_answer()
            try:
                self._send_pending()
            except (BrokenPipeError, ConnectionResetError):
                self._read_answer()
        if self._lockstep:
            commands = self._commands()
            self.plans_sent += len(commands)  # for the progress line; the child's count at the end
            for cmd in commands:  # in the order the service handed them over
                self.field.receive(cmd, t_s)
        self._statuses = self.field.actuate_bodies(t_s)

    def _commands(self) -> list[Command]:
        """This second's commands, from the child (its error, or its end, raised)."""
        kind: str
        body: Any  # the child's message: its commands, its error, or nothing
        try:
            ready = self._conn.poll(ANSWER_WAIT_S)
            kind, body = self._conn.recv() if ready else ("late", None)
        except (EOFError, ConnectionResetError):
            kind, body = "ended", None
        if kind == "commands":
            commands: list[Command] = body
            return commands
        self._answered = True
        self._conn.close()
        self._proc.join(5.0)
        if kind == "error":
            raise AdapterError(f"the controller service's process failed:\n{body}")
        self._proc.kill()
        raise AdapterError(f"the controller service's process did not answer within {ANSWER_WAIT_S:g} s ({kind})")

    def close(self) -> None:
        """The end of the run: the child's figures, read once (an error in the child is raised)."""
        if self._answered:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # an ended child's answer waits
            self._send_pending()
            self._conn.send(None)
        self._read_answer()

    def _send_pending(self) -> None:
        """The seconds not yet piped, in one message (none: nothing sent)."""
        if self._pending:
            batch, self._pending = self._pending, []
            self._conn.send(batch)

    def _read_answer(self) -> None:
        """The child's answer: its figures (kept), or its error (raised)."""
        self._answered = True
        try:
            if not self._conn.poll(ANSWER_WAIT_S):
                self._proc.kill()
                raise AdapterError(f"the controller service's process did not answer within {ANSWER_WAIT_S:g} s")
            kind, body = self._conn.recv()
        except (EOFError, ConnectionResetError):
            self._proc.join(5.0)
            raise AdapterError(f"the controller service's process ended (exit code {self._proc.exitcode})") from None
        finally:
            self._conn.close()
        self._proc.join(5.0)
        if kind == "error":
            raise AdapterError(f"the controller service's process failed:\n{body}")
        self._result = body
        self.plans_sent = body["plans_sent"]
        self.rejected = body["rejected"]

    def summary(self) -> dict[str, Any]:
        return {k: self._result[k] for k in ("decision_cost", "refused", "junction_control", "online_gains")}


def _serve(
    conn: Connection,
    parent_end: Connection,
    layout: FrameLayout,
    junctions: dict[str, Intersection],
    cfg: Config,
    policy: str,
    begin_s: float,
    programs: dict[str, tuple[str, ...]],
) -> None:
    """The child: every second piped in (in batches under `fixed`), as InProcessLoop.second feeds
    its service; under a policy that sends plans, each tick's commands sent back once handed over
    (before the tick's metrics); at the end (None), the figures the run's summary reads. The run's end of the pipe is
    closed first, so that a run that dies leaves the child an end-of-file, and a Ctrl-C is the
    run's to report."""
    parent_end.close()
    try:
        metrics = ServiceMetrics(CollectorRegistry(), junctions, cfg, collected=False)  # only its report is read
        handed: list[Command] = []
        service = ControllerService(
            junctions,
            cfg,
            policy,
            start_s=begin_s,
            metrics=metrics,
            hand_over=handed.append,
            programs=programs,
            handed_over=None if policy == "fixed" else lambda: _send_commands(conn, handed),
        )
        while (batch := conn.recv()) is not None:
            for t_s, counted, n, at, occ_bytes, speed_bytes, statuses in batch:
                occupancy, speed_mps = _dense(n, at, occ_bytes, speed_bytes)
                service.advance_clock(t_s)
                service.on_detector_frame(frame_of(layout, t_s, 1.0, counted, occupancy, speed_mps))
                for body in statuses:
                    service.on_status_body(body)
                service.tick(t_s)
                if handed and policy == "fixed":
                    raise RuntimeError(f"under `fixed` the service handed the field a command: {handed[0]}")
        conn.send(("done", _figures(service, metrics)))
    except (EOFError, KeyboardInterrupt):
        pass  # the run ended without close() (killed, or interrupted: it reports that itself)
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _send_commands(conn: Connection, handed: list[Command]) -> None:
    """A tick's commands to the run, in the order handed over (the list emptied for the next)."""
    conn.send(("commands", handed[:]))
    handed.clear()


def _figures(service: ControllerService, metrics: ServiceMetrics) -> dict[str, Any]:
    """What InProcessLoop.summary and the run report give, from the child's service."""
    return {
        "decision_cost": service.decision_cost(),
        "refused": dict(service.refused),
        "junction_control": junction_summary(service),
        "plans_sent": service.plans_sent,
        "rejected": dict(service.rejected),
        "online_gains": metrics.report(),
    }

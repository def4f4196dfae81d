"""A tick's metrics run where the caller chooses (ControllerService `defer`), and the in-process
loop's MetricsThread runs them beside the run and has them done before the service hears anything
new (sim/simulate.py, `[service] simulate_metrics_thread`)."""

from __future__ import annotations

import threading

import pytest

from controller.core.step import TickResult
from controller.service import ControllerService
from sim.simulate import MetricsThread
from tests.junction_fixtures import two_phase
from tests.metrics_fixtures import CFG


class _Metrics:
    """The service's metrics observer, recording each tick_done and the thread it ran on."""

    def __init__(self) -> None:
        self.ticks: list[tuple[float, object, str]] = []

    def junctions_refused(self, refused) -> None:
        pass

    def tick_done(self, state, result, now_s: float, elapsed_s: float) -> None:
        self.ticks.append((now_s, state, threading.current_thread().name))


def _service(metrics: _Metrics, defer=None) -> ControllerService:
    return ControllerService(
        {"J": two_phase()},
        CFG,
        "fixed",
        metrics=metrics,  # type: ignore[arg-type]
        hand_over=lambda cmd: None,
        defer=defer,
    )


def test_the_ticks_metrics_go_to_defer_with_that_ticks_state(monkeypatch: pytest.MonkeyPatch) -> None:
    deferred: list = []
    metrics = _Metrics()
    svc = _service(metrics, deferred.append)
    monkeypatch.setattr(svc.core, "step", lambda state, *a: (state, TickResult()))
    svc.tick(10.0)
    state_10 = svc.state
    svc.tick(11.0)
    assert metrics.ticks == [] and len(deferred) == 2  # nothing ran yet: the caller runs them
    for work in deferred:
        work()
    assert [(t, s) for t, s, _ in metrics.ticks] == [(10.0, state_10), (11.0, svc.state)]


def test_without_defer_the_metrics_run_in_the_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = _Metrics()
    svc = _service(metrics)
    monkeypatch.setattr(svc.core, "step", lambda state, *a: (state, TickResult()))
    svc.tick(10.0)
    assert [(t, name) for t, _, name in metrics.ticks] == [(10.0, threading.current_thread().name)]


def test_the_metrics_thread_runs_apart_in_order_and_raises_on_wait() -> None:
    metrics = _Metrics()
    tail = MetricsThread()
    svc = _service(metrics, tail.submit)
    for t in (1.0, 2.0, 3.0):
        svc.tick(t)
    tail.wait()
    assert [t for t, _, _ in metrics.ticks] == [1.0, 2.0, 3.0]
    # apart: a work the caller does not wait on runs on the worker (not on the caller's thread)
    started, names = threading.Event(), []
    tail.submit(lambda: (names.append(threading.current_thread().name), started.set()))
    assert started.wait(30.0)
    tail.wait()
    assert names and names[0] != threading.current_thread().name and names[0].startswith("tick-metrics")

    def fails() -> None:
        raise RuntimeError("metrics failed")

    tail.submit(fails)
    with pytest.raises(RuntimeError, match="metrics failed"):
        tail.wait()
    tail.wait()  # reported once
    tail.submit(fails)
    with pytest.raises(RuntimeError, match="metrics failed"):
        tail.close()


def test_work_the_worker_has_not_begun_is_run_by_the_caller() -> None:
    """No core free for the worker: waiting takes the work back and runs it at once, once."""
    from concurrent.futures import Future

    class NeverStarted:
        def submit(self, work):
            return Future()  # queued, not begun: cancel() succeeds

        def shutdown(self, wait: bool) -> None:
            pass

    tail = MetricsThread()
    tail._pool.shutdown(wait=True)
    tail._pool = NeverStarted()  # type: ignore[assignment]
    ran: list[str] = []
    tail.submit(lambda: ran.append(threading.current_thread().name))
    tail.submit(lambda: ran.append(threading.current_thread().name))  # waits for (runs) the first
    assert ran == [threading.current_thread().name] and tail.taken_back == 1
    tail.close()
    assert ran == [threading.current_thread().name] * 2 and tail.taken_back == 2

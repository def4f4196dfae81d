"""Clocks round named functions, for the benchmarks that time a run by part (sim/bench_tick.py,
sim/bench_breakdown.py): each wrapped function adds, per call, each clock's time to its label.

    timers = Timers(cpu=time.thread_time)
    timers.wrap("controller.core.step:Core", "_observe", "observe")   # False: no such function here
    ...                                                               # the run
    timers.totals["cpu"]["observe"]                                   # seconds, all calls
    timers.calls["observe"]                                           # outer calls (0: never ran)
    timers.unwrap()                                                   # the functions as they were

A call made while another call of the same label runs (a re-entrant call, or a second function under
the same label called by the first) is counted once, in the outer call. A wrapper costs about a
microsecond a call, so a part called thousands of times a tick reads a little high.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

_INHERITED = object()  # a class's function found on a base class, not in the class's own __dict__


def target(spec: str) -> Any:
    """The module or class `spec` ("module" or "module:Class") names; None where it is missing (an
    older tree without the module or the class)."""
    module, _, cls = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(obj, cls, None) if cls else obj


class Timers:
    """Per clock (a name: a function of no argument giving seconds), per label, the seconds added up
    by the calls of the functions wrapped (`totals[clock][label]`; a label wrapped reads 0.0 before
    its first call), and per label the calls counted (`calls[label]`, the outer ones: a label that
    reads 0 after a run timed nothing, e.g. a function the run no longer calls)."""

    def __init__(self, **clocks: Callable[[], float]) -> None:
        if not clocks:
            raise ValueError("Timers needs at least one clock, e.g. Timers(cpu=time.thread_time)")
        self.clocks = clocks
        self.totals: dict[str, dict[str, float]] = {name: {} for name in clocks}
        self.calls: dict[str, int] = {}
        self._depth: dict[str, int] = {}
        self._wrapped: list[tuple[Any, str, Any]] = []

    def wrap(self, spec: str, attr: str, label: str) -> bool:
        """Time `attr` of the module or class `spec` (target) under `label`; False, and nothing
        wrapped, where the tree has no such function."""
        owner = target(spec)
        fn = getattr(owner, attr, None) if owner is not None else None
        if fn is None:
            return False
        for totals in self.totals.values():
            totals.setdefault(label, 0.0)
        self.calls.setdefault(label, 0)
        self._depth.setdefault(label, 0)
        # as it stands in the module or class, or _INHERITED (from a base class): unwrap deletes the wrapper
        raw = vars(owner).get(attr, _INHERITED)
        self._wrapped.append((owner, attr, raw))
        if isinstance(raw, staticmethod):  # a staticmethod or classmethod stays one, called as before
            setattr(owner, attr, staticmethod(self._timed(raw.__func__, label)))
        elif isinstance(raw, classmethod):
            setattr(owner, attr, classmethod(self._timed(raw.__func__, label)))
        else:
            setattr(owner, attr, self._timed(fn, label))
        return True

    def unwrap(self) -> None:
        """Every function wrapped put back, the last wrapped first."""
        while self._wrapped:
            owner, attr, fn = self._wrapped.pop()
            if fn is _INHERITED:
                delattr(owner, attr)
            else:
                setattr(owner, attr, fn)

    def reset(self) -> None:
        """Every label's seconds back to 0.0 and its calls to 0 (between runs)."""
        for totals in self.totals.values():
            for label in totals:
                totals[label] = 0.0
        for label in self.calls:
            self.calls[label] = 0

    def labels(self) -> list[str]:
        """The labels wrapped, in the order they were first wrapped."""
        return list(self._depth)

    def _timed(self, fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        depth, calls, clocks = self._depth, self.calls, list(self.clocks.items())
        totals = [(self.totals[name], clock) for name, clock in clocks]

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if depth[label]:
                return fn(*args, **kwargs)
            depth[label] += 1
            calls[label] += 1
            started = [clock() for _, clock in totals]
            try:
                return fn(*args, **kwargs)
            finally:
                for (sums, clock), t0 in zip(totals, started, strict=True):
                    sums[label] += clock() - t0
                depth[label] -= 1

        return timed

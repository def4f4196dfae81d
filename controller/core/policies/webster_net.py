"""`webster`'s decide() over a region's junctions in one pass (Policy.network_decision; issue 12).

Contract: `NetWebster.decide_all(states, estimates, signals, now_s)` gives, per junction of `jids`,
the (state, wish) WebsterPolicy.decide gives, to the last bit. The junctions whose period ends now
re-plan together: each re-plan is a generator (WebsterPolicy.replan_steps) that yields the
green_floors_s calls it waits on (webster.FloorAsk); the calls of one round are answered together,
those on one floor index (the same serving and counted phases per movement) as (junctions,
movements) arrays (raised_floors_all), with the same float operations in the same order per
junction as green_floors_s, and every other step runs as decide() runs it.

Example: `net = policy.network_decision(layouts)`, then every tick
`decided = net.decide_all([states...], [estimates...], [views...], now_s)`, in `net.jids` order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from controller.core.estimation import Estimate, Layout
from controller.core.policies.webster import (
    FloorAsk,
    FloorIndex,
    FloorSteps,
    WebsterPolicy,
    WebsterState,
    floor_index,
    owed_needs_s,
    raised_floors_s,
)
from controller.core.safety import SignalView
from controller.model import CycleWish

# green_floors_s sums the counted greens in order below 8 items (webster._summed), as numpy does; an
# index that counts 8 phases or more for a movement is answered junction by junction
_MAX_COUNTED = 7


@dataclass(frozen=True)
class PaddedIndex:
    """A FloorIndex as (movements, k) arrays, each row's phases first and padded with phase 0
    (`*_on` False there): what raised_floors_all gathers per junction by movement."""

    counting: np.ndarray  # (movements, c) int: the counted phases, in index order
    counting_on: np.ndarray  # (movements, c) bool
    serving: np.ndarray  # (movements, s) int: the serving phases, longest base green first
    serving_on: np.ndarray  # (movements, s) bool
    always: np.ndarray  # (movements,) bool: counted in every phase

    @staticmethod
    def build(index: FloorIndex) -> PaddedIndex:
        counting, counting_on = _padded(index.counting)
        serving, serving_on = _padded(index.serving)
        return PaddedIndex(counting, counting_on, serving, serving_on, np.array(index.always, dtype=bool))


def _padded(rows: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, widest) phase indices padded with 0, and where they are real."""
    width = max((len(r) for r in rows), default=0)
    out = np.zeros((len(rows), width), dtype=np.intp)
    on = np.zeros((len(rows), width), dtype=bool)
    for m, r in enumerate(rows):
        out[m, : len(r)] = r
        on[m, : len(r)] = True
    return out, on


def raised_floors_all(
    pad: PaddedIndex, owed_s: np.ndarray, order: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """(junctions, phases) raised_floors_s of each row: `owed_s` (junctions, movements) what each
    movement is owed (owed_needs_s), `order` each row's np.argsort(-owed_s), `lo` and `hi` (junctions,
    phases). Per junction the same IEEE operations in the same order as raised_floors_s: the counted
    greens summed in index order from 0 (fewer than 8: _MAX_COUNTED), `min(deficit, room)` as the
    room where it is less, the serving phases raised in turn until the deficit is at most 1e-9."""
    rows = np.arange(owed_s.shape[0])
    g = np.array(lo, dtype=float)
    top = np.array(hi, dtype=float)
    for r in range(owed_s.shape[1]):
        m = order[:, r]
        owed = owed_s[rows, m]
        act = ~(owed <= 0) & ~pad.always[m]
        if not act.any():
            continue
        counted = np.zeros(len(rows))
        ks, on = pad.counting[m], pad.counting_on[m]
        for c in range(ks.shape[1]):
            counted = np.where(on[:, c], counted + g[rows, ks[:, c]], counted)
        deficit = owed - counted
        ks, on = pad.serving[m], pad.serving_on[m]
        for c in range(ks.shape[1]):
            run = act & on[:, c] & ~(deficit <= 1e-9)
            if not run.any():
                break
            k = ks[:, c]
            gk = g[rows, k]
            room = top[rows, k] - gk
            add = np.where(room < deficit, room, deficit)
            g[rows, k] = np.where(run, gk + add, gk)
            deficit = np.where(run, deficit - add, deficit)
    return g


class FloorAnswers:
    """answer(): green_floors_s for many FloorAsks at once; the padded indices kept per index value."""

    def __init__(self) -> None:
        self._canon: dict[FloorIndex, tuple[FloorIndex, PaddedIndex | None]] = {}
        self._by_id: dict[int, tuple[FloorIndex, FloorIndex, PaddedIndex | None]] = {}

    def _padded(self, index: FloorIndex) -> tuple[FloorIndex, PaddedIndex | None]:
        """(the first index equal to `index`, its PaddedIndex or None: answered one by one)."""
        kept = self._by_id.get(id(index))
        if kept is not None and kept[0] is index:
            return kept[1], kept[2]
        canon = self._canon.get(index)
        if canon is None:
            wide = max((len(c) for c in index.counting), default=0) > _MAX_COUNTED
            canon = self._canon.setdefault(index, (index, None if wide else PaddedIndex.build(index)))
        self._by_id[id(index)] = (index, *canon)  # holds `index`: its id is not reused meanwhile
        return canon

    def answer(self, asks: Sequence[FloorAsk]) -> list[np.ndarray]:
        """Per ask, green_floors_s(ask.layout, ask.needs_s, ask.lo, ask.hi, ask.credit), to the bit."""
        out: list[np.ndarray] = [_NONE] * len(asks)
        groups: dict[int, tuple[FloorIndex, PaddedIndex, list[int]]] = {}
        for i, ask in enumerate(asks):
            index = floor_index(ask.layout, ask.credit)
            canon, pad = self._padded(index)
            if pad is None:
                out[i] = raised_floors_s(index, owed_needs_s(ask.needs_s, ask.credit), ask.lo, ask.hi)
                continue
            groups.setdefault(id(canon), (canon, pad, []))[2].append(i)
        for canon, pad, members in groups.values():
            if len(members) == 1:
                ask = asks[members[0]]
                out[members[0]] = raised_floors_s(canon, owed_needs_s(ask.needs_s, ask.credit), ask.lo, ask.hi)
                continue
            owed_s = owed_needs_all([asks[i] for i in members])
            lo = np.array([asks[i].lo for i in members], dtype=float)
            hi = np.array([asks[i].hi for i in members], dtype=float)
            floors = raised_floors_all(pad, owed_s, np.argsort(-owed_s, axis=1), lo, hi)
            for row, i in enumerate(members):
                out[i] = floors[row]
        return out


_NONE = np.zeros(0)  # (a place in FloorAnswers.answer's list not yet answered)


def owed_needs_all(asks: Sequence[FloorAsk]) -> np.ndarray:
    """(asks, movements) owed_needs_s of each ask, to the bit: its needs less its credit's unopposed
    seconds, floored at 0 (its needs as they are without a credit)."""
    needs_s = np.array([a.needs_s for a in asks], dtype=float)
    credited = [a.credit is not None for a in asks]
    if not any(credited):
        return needs_s
    zero = np.zeros(needs_s.shape[1])
    transition_s = np.array([a.credit.transition_s if a.credit is not None else zero for a in asks], dtype=float)
    out: np.ndarray = np.where(np.array(credited)[:, None], np.maximum(needs_s - transition_s, 0.0), needs_s)
    return out


class NetWebster:
    """WebsterPolicy.decide over `jids` in one pass (module docstring)."""

    def __init__(self, policy: WebsterPolicy, layouts: Mapping[str, Layout]) -> None:
        self.policy = policy
        self._layouts = tuple(layouts.values())
        self._jids = tuple(layouts)
        self._answers = FloorAnswers()

    @property
    def jids(self) -> tuple[str, ...]:
        return self._jids

    def decide_all(
        self,
        states: Sequence[WebsterState],
        estimates: Sequence[Estimate],
        signals: Sequence[SignalView | None],
        now_s: float,
    ) -> list[tuple[WebsterState, CycleWish | None]]:
        policy = self.policy
        out: list[tuple[WebsterState, CycleWish | None] | None] = [None] * len(self._jids)
        running: list[tuple[int, FloorSteps[tuple[WebsterState, CycleWish | None]], FloorAsk]] = []
        for i, (state, lay, est, view) in enumerate(zip(states, self._layouts, estimates, signals)):
            due = policy.replan_due(state, lay, est, view, now_s)
            if not isinstance(due, WebsterState):
                out[i] = due
                continue
            steps = policy.replan_steps(due, lay, est, view, now_s)
            try:
                running.append((i, steps, next(steps)))
            except StopIteration as done:
                out[i] = done.value
        while running:
            floors = self._answers.answer([ask for _, _, ask in running])
            waiting = []
            for (i, steps, _), floors_s in zip(running, floors):
                try:
                    waiting.append((i, steps, steps.send(floors_s)))
                except StopIteration as done:
                    out[i] = done.value
            running = waiting
        return [o for o in out if o is not None]

"""step.Core._steady's conditions one by one (tests/unit/test_step_steady.py runs them on the city; these
are the ones its run never reaches): a junction the pass wished something for (max_pressure's pass restates
its stay every tick with the state it was given), one marked stale from the tick before, one whose do-no-harm
verdict is a new state without a switch (the charges brought up to the replay's time, harm.accumulate), one
whose verdict raises, and a pair's two lights are each left to Core._junction (or _pair), which moves or names
them; a steady junction is steady because none of these holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest

from controller.config import Config
from controller.core import harm
from controller.core.step import Core, JunctionState
from controller.model import PhaseWish
from tests.unit import test_step_steady as steady_run
from tests.unit.test_step_steady import _run


def _tick(monkeypatch: pytest.MonkeyPatch, groups: bool = True) -> tuple[Core, Mapping[str, JunctionState], dict, str]:
    """The core after 15 s of tests/unit/test_step_steady.py's city under webster, the pass's decisions
    at 15 s, and a junction _steady takes as it stands. `groups` False: [harm] short_pair_together off."""
    if not groups:
        cfg = Config()
        monkeypatch.setattr(
            steady_run, "Config", lambda: replace(cfg, harm=replace(cfg.harm, short_pair_together=False))
        )
    cores: list[Core] = []
    state = _run("webster", 15, True, monkeypatch, cores=cores)[-1][0]
    core, now_s = cores[0], 15.0
    decided = core._decide_network(state.junctions, now_s)
    steady = core._steady(state.junctions, decided, now_s, {}, {})
    assert steady
    return core, state.junctions, decided, next(iter(steady))


@pytest.fixture
def tick(monkeypatch: pytest.MonkeyPatch) -> tuple[Core, Mapping[str, JunctionState], dict, str]:
    return _tick(monkeypatch)


def _steady(core: Core, junctions: Mapping[str, JunctionState], decided: dict) -> set[str]:
    return set(core._steady(junctions, decided, 15.0, {}, {}))


def test_a_wish_with_the_state_unchanged_is_not_steady(tick) -> None:
    core, junctions, decided, jid = tick
    pstate, _wish, view = decided[jid]
    assert jid not in _steady(core, junctions, {**decided, jid: (pstate, PhaseWish(0), view)})


def test_a_junction_marked_stale_is_not_steady(tick) -> None:
    core, junctions, decided, jid = tick
    assert jid not in _steady(core, {**junctions, jid: replace(junctions[jid], stale=True)}, decided)


def test_a_verdict_that_moves_the_state_without_a_switch_is_not_steady(tick, monkeypatch) -> None:
    core, junctions, decided, jid = tick
    monkeypatch.setattr(harm, "decide", lambda hs, now_s, params: (replace(hs, excess_s=hs.excess_s + 1.0), None))
    assert jid not in _steady(core, junctions, decided)


def test_a_verdict_that_raises_is_left_to_the_junction_s_own_path(tick, monkeypatch) -> None:
    core, junctions, decided, _jid = tick

    def raises(hs, now_s, params):
        raise ValueError("a verdict that cannot be reached")

    monkeypatch.setattr(harm, "decide", raises)
    assert _steady(core, junctions, decided) == set()  # no exception: _junction names it (_failed)


@pytest.mark.parametrize("light", ["A", "B"])
def test_neither_light_of_a_pair_is_steady(monkeypatch, light) -> None:
    """No short-link group ([harm] short_pair_together off) holds the pair's lights too."""
    core, junctions, decided, _jid = _tick(monkeypatch, groups=False)
    assert not core.groups and core.pairs
    js = replace(junctions[light], command=None, stale=False)  # nothing in force, nothing to refresh
    pstate, _wish, view = decided[light]
    seen = {**junctions, light: replace(js, policy_state=pstate)}  # the pass kept the state it was given
    assert light not in _steady(core, seen, {**decided, light: (pstate, None, view)})
    core._not_steady = frozenset()  # as if it were no pair's: steady, so the pair is what keeps it out
    assert light in _steady(core, seen, {**decided, light: (pstate, None, view)})


def test_a_verdict_that_turns_the_junction_down_is_reached_once(tick, monkeypatch) -> None:
    """_junction's _guard takes the verdict _steady reached for the same state object at the same time (harm.decide
    is pure), and records its mode change; another time or another state is judged again."""
    core, junctions, decided, jid = tick
    calls: list[float] = []

    def switch(hs, now_s, params):
        calls.append(now_s)
        return replace(hs, mode="fixed", excess_s=hs.excess_s + 1.0), "lost"

    monkeypatch.setattr(harm, "decide", switch)
    assert jid not in _steady(core, junctions, decided)
    n, changes = len(calls), []
    hs = core._guard(jid, junctions[jid], 15.0, changes)
    assert len(calls) == n and hs is core._verdicts[jid][2] and hs.mode == "fixed"
    assert [(c.junction, c.mode, c.reason) for c in changes] == [(jid, "fixed", "lost")]
    core._guard(jid, junctions[jid], 16.0, [])
    core._guard(jid, replace(junctions[jid], harm=replace(junctions[jid].harm)), 15.0, [])
    assert calls[n:] == [16.0, 15.0]

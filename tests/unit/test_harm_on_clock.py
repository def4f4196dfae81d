"""Do no harm's hand-back on the program's own clock ([harm] on_clock, step.py _on_program): a
junction in fixed mode is sent the stage its program shows on its own clock (pairs.program_wish),
as a short group's light is, instead of being withdrawn (the roadside would resume its program
from the stage showing, shifted from its clock, and lose the offsets the city gave its lights)."""

from __future__ import annotations

import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.harm import HarmParams
from controller.core.pairs import program_wish
from controller.core.step import Core
from controller.model import PhaseCommand, SignalStatus, Snapshot
from tests.junction_fixtures import timed_junction
from tests.unit.test_harm_pairs import _fixed, _Stub


def _run(on_clock: bool) -> tuple[dict[str, list[tuple[float, int]]], list[tuple[int, list[str]]], Core]:
    """45 ticks of a policy that wants stage 1 at both lights (the statuses show stage 0); at t = 5
    do no harm sends B to its plan for 100 s. A and B share no short link and are not paired.
    Per light, when it was sent a phase command and which phase; per tick the lights on their plans."""
    lays = {j: Layout.build(timed_junction(j)) for j in ("A", "B")}  # stages 30 / 25 s, offset 0
    cfg = Config(harm=HarmParams(on_clock=on_clock))
    core = Core({j: Layout.build(lay.junction, cfg) for j, lay in lays.items()}, _Stub(), cfg)  # type: ignore[abstract]
    state, sent, fixed = core.initial_state(0.0), {j: [] for j in lays}, []
    for t in range(1, 46):
        if t == 5:
            state = _fixed(state, "B", 5.0, 100.0)
        snaps = [Snapshot(j, float(t), 1.0, ()) for j in lays]
        statuses = [SignalStatus(j, float(t), 0, False, 10.0 + t, "", 0, "local") for j in lays]
        state, result = core.step(state, snaps, statuses, float(t))
        for c in result.commands:
            assert isinstance(c, PhaseCommand)
            sent[c.junction].append((float(t), c.phase))
        fixed.append((t, sorted(result.fixed)))
    return sent, fixed, core


def test_a_junction_on_the_city_plan_is_sent_its_programs_stage_on_its_own_clock():
    sent, fixed, core = _run(True)
    assert dict(fixed)[5] == dict(fixed)[45] == ["B"]  # B alone: A has no short link to it
    assert sent["B"][0] == (1.0, 1)  # the policy's stage before
    clock = {t: program_wish(core.programs["B"], float(t)).phase for t in range(5, 46)}
    assert {clock[t] for t in range(5, 30)} == {0} and {clock[t] for t in range(35, 46)} == {1}
    after = [(t, p) for t, p in sent["B"] if t >= 5]
    assert after[0] == (5.0, 0)  # the program's stage 0 at once (the policy had stage 1 in force)
    assert all(p == clock[int(t)] for t, p in after)  # every command the stage of the program's clock
    assert 1 in {p for _, p in after}  # ... which moved on to stage 1 on its own
    assert {p for t, p in sent["A"] if t >= 5} == {1}  # A stays with its policy


@pytest.mark.parametrize("on_clock", [False])
def test_without_the_key_a_junction_on_the_city_plan_is_withdrawn(on_clock):
    sent, fixed, _ = _run(on_clock)
    assert dict(fixed)[5] == dict(fixed)[45] == ["B"]
    assert [t for t, _ in sent["B"] if t >= 5] == [5.0]  # withdrawn: its command re-sent once, expiring
    assert 0 not in {p for _, p in sent["B"]}  # never sent the program's stage

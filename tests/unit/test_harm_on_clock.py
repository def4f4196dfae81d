"""Do no harm's hand-back on the program's own clock ([harm] on_clock, step.py _on_clock, _on_program):
a junction in fixed mode beside a neighbour in fixed mode too (a movement of one exits onto the
other's approach) is sent the stage its program shows on its own clock (pairs.program_wish), as a
short group's light is, instead of being withdrawn: the roadside would resume its program from the
stage showing, shifted from its clock, and the two lights would lose the offsets the city gave them.
A light on its plan alone among lights the policy runs is withdrawn, as without the key."""

from __future__ import annotations

import dataclasses

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.harm import HarmParams
from controller.core.pairs import program_wish
from controller.core.step import Core, _plan_neighbours
from controller.model import PhaseCommand, SignalStatus, Snapshot
from tests.estimate_fixtures import short_link_layouts
from tests.junction_fixtures import timed_junction
from tests.unit.test_harm_pairs import _fixed, _Stub

Sent = dict[str, list[tuple[float, int]]]


def _run(lays: dict[str, Layout], on_clock: bool, forced: tuple[str, ...]) -> tuple[Sent, dict[int, list[str]], Core]:
    """45 ticks of a policy that wants stage 1 at every light (the statuses show stage 0); at t = 5
    do no harm sends the lights `forced` to their plans for 100 s. Short groups off, so that only
    on_clock can send a light its program. Per light, when it was sent a phase command and which
    phase; per tick the lights on their plans."""
    cfg = Config(harm=HarmParams(on_clock=on_clock, short_pair_together=False))
    core = Core({j: Layout.build(lay.junction, cfg) for j, lay in lays.items()}, _Stub(), cfg)  # type: ignore[abstract]
    state, sent, fixed = core.initial_state(0.0), {j: [] for j in lays}, {}
    for t in range(1, 46):
        for jid in forced if t == 5 else ():
            state = _fixed(state, jid, 5.0, 100.0)
        snaps = [Snapshot(j, float(t), 1.0, ()) for j in lays]
        statuses = [SignalStatus(j, float(t), 0, False, 10.0 + t, "", 0, "local") for j in lays]
        state, result = core.step(state, snaps, statuses, float(t))
        for c in result.commands:
            assert isinstance(c, PhaseCommand)
            sent[c.junction].append((float(t), c.phase))
        fixed[t] = sorted(result.fixed)
    return sent, fixed, core


def _on_its_clock(sent: Sent, core: Core, jid: str) -> bool:
    """From t = 5 every command to `jid` is the stage its program shows on its own clock, the first at t = 5."""
    after = [(t, p) for t, p in sent[jid] if t >= 5]
    clock = core.programs[jid]
    return bool(after) and after[0][0] == 5.0 and all(p == program_wish(clock, t).phase for t, p in after)


def test_neighbours_on_the_plan_are_found_along_a_movement_onto_the_others_approach():
    lays = short_link_layouts()  # J's north exit is K's north approach
    assert _plan_neighbours(lays) == {"J": frozenset({"K"}), "K": frozenset({"J"})}
    apart = {j: Layout.build(timed_junction(j)) for j in ("A", "B")}  # the same edge names, no exit onto the other
    assert _plan_neighbours(apart) == {"A": frozenset(), "B": frozenset()}


def test_two_neighbours_on_the_plan_are_sent_their_programs_stages_on_their_own_clocks():
    lays = short_link_layouts()
    sent, fixed, core = _run(lays, True, ("J", "K"))
    assert fixed[5] == fixed[45] == ["J", "K"]
    assert sent["J"][0] == (1.0, 1) and sent["K"][0] == (1.0, 1)  # the policy's stage before
    for jid in ("J", "K"):
        assert _on_its_clock(sent, core, jid), (jid, sent[jid])
        assert {p for t, p in sent[jid] if t >= 5} == {program_wish(core.programs[jid], t).phase for t in range(5, 46)}


def test_a_light_on_the_plan_beside_neighbours_on_the_policy_is_withdrawn():
    sent, fixed, _ = _run(short_link_layouts(), True, ("K",))
    assert fixed[5] == fixed[45] == ["K"]
    assert [t for t, _ in sent["K"] if t >= 5] == [5.0]  # withdrawn: its command re-sent once, expiring
    assert {p for t, p in sent["J"] if t >= 5} == {1}  # J stays with its policy


def test_without_the_key_neighbours_on_the_plan_are_withdrawn():
    sent, fixed, _ = _run(short_link_layouts(), False, ("J", "K"))
    assert fixed[5] == fixed[45] == ["J", "K"]
    for jid in ("J", "K"):
        assert [t for t, _ in sent[jid] if t >= 5] == [5.0]
        assert 0 not in {p for _, p in sent[jid]}  # never sent the program's stage 0


def test_a_cluster_s_own_inner_link_makes_no_neighbour():
    """A joined cluster (one light over several nodes) has movements that exit onto its own approaches
    (its inner links): that is not a neighbour on the plan, so a cluster on its plan alone is withdrawn
    (R, session 49)."""
    j = timed_junction("A")
    inner = dataclasses.replace(j.movements[0], to_edge=j.movements[1].from_edge)  # N_T leads onto E's approach
    cluster = dataclasses.replace(j, movements=(inner, *j.movements[1:]))
    assert _plan_neighbours({"A": Layout.build(cluster)}) == {"A": frozenset()}

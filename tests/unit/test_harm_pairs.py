"""Do no harm and a short pair ([harm] short_pair_together, controller/core/pairs.py short_groups,
step.py _group_guard): when one light on a short link goes to the city's plan, the other goes with
it at the same tick, and both leave it together."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core import shadow
from controller.core.estimation import Layout
from controller.core.harm import HarmParams
from controller.core.pairs import held, program_wish, short_groups
from controller.core.policies import Policy
from controller.core.step import Core, CoreState
from controller.model import CyclePlan, PhaseCommand, PhaseWish, SignalStatus, Snapshot
from controller.operators import junction_table
from tests.estimate_fixtures import short_link_layouts
from tests.junction_fixtures import timed_junction


def test_lights_on_short_links_are_grouped_and_held_by_a_light_in_fixed_mode():
    groups = short_groups([("A", "B"), ("C", "B"), ("D", "E")])
    assert groups["A"] == groups["C"] == ("A", "B", "C") and groups["E"] == ("D", "E") and "F" not in groups
    assert held(groups, ["B"]) == {"A": "B", "C": "B"}
    assert held(groups, ["A", "B", "C"]) == {}
    assert held(groups, []) == {}


class _Stub(Policy):
    """Every light wants its stage 1 now (the statuses show stage 0)."""

    name = "stub"
    runs_own_program = False
    uses_network = False
    coordinate_period_s = None

    def cannot_serve(self, layout: Layout) -> str:
        return ""

    def init(self, layout: Layout, now_s: float) -> None:
        return None

    def decide(self, state, layout, est, signal, now_s, network=None):
        return state, PhaseWish(1, 1.0)


def _fixed(state: CoreState, jid: str, now_s: float, hold_s: float) -> CoreState:
    """`jid` sent to the city's plan by do no harm at `now_s`, for `hold_s`."""
    js = state.junctions[jid]
    hs = replace(js.harm, mode="fixed", since_s=now_s, hold_s=hold_s, relapses=0)
    return replace(state, junctions={**state.junctions, jid: replace(js, harm=hs)})


Sent = dict[str, list[tuple[float, int]]]
BASE_PLAN = -2


def _sent(c: object, lay: Layout) -> int:
    """A PhaseCommand's phase; BASE_PLAN for a cycle plan of the junction's base greens (what a
    pair is sent on the city's plan, pairs.base_wish); -1 for anything else."""
    if isinstance(c, PhaseCommand):
        return c.phase
    base = tuple(p.base_green_s for p in lay.junction.phases)
    return BASE_PLAN if isinstance(c, CyclePlan) and c.greens_s == base else -1


def _run(
    lays: dict[str, Layout],
    together: bool,
    far: str,
    holds_s: dict[str, float] | None = None,
    silent: frozenset[str] = frozenset(),
) -> tuple[Sent, list, list, dict]:
    """20 ticks of the stub; at t = 5 do no harm sends `far` to its plan for 10 s (it returns at
    t = 15), or each light of `holds_s` for its hold. Per light, when it was sent a command and its
    phase (_sent); per tick the lights on their plans, the changes of mode, and the
    mode at t = 10 as Core.report and the operators' table (`ctl status`) show it, which must agree.
    The lights of `silent` send detector readings at t = 1 only (their feed stale from t = 7)."""
    cfg = Config(harm=HarmParams(short_pair_together=together))
    core = Core({j: Layout.build(lay.junction, cfg) for j, lay in lays.items()}, _Stub(), cfg)  # type: ignore[abstract]
    state, sent, fixed, changes, report = core.initial_state(0.0), {j: [] for j in lays}, [], [], {}
    for t in range(1, 21):
        for jid, hold_s in (holds_s or {far: 10.0}).items() if t == 5 else ():
            state = _fixed(state, jid, 5.0, hold_s)
        snaps = [Snapshot(j, float(t), 1.0, ()) for j in lays if t == 1 or j not in silent]
        statuses = [SignalStatus(j, float(t), 0, False, 10.0 + t, "", 0, "local") for j in lays]
        state, result = core.step(state, snaps, statuses, float(t))
        for c in result.commands:
            sent[c.junction].append((float(t), _sent(c, lays[c.junction])))
        fixed.append((t, sorted(result.fixed)))
        changes += [(c.junction, c.t_s, c.mode) for c in result.mode_changes]
        if t == 10:
            report = {j: r.mode for j, r in core.report(state).items()}
            table = junction_table(core, state, None, {}, float(t))
            shown = {j: table[j]["mode"] for j in report}
            # a stale feed, or the roadside's local plan otherwise, reads fallback
            assert shown == {j: "fixed" if m == "fixed" and j not in silent else "fallback" for j, m in report.items()}
    return sent, fixed, changes, report


@pytest.mark.parametrize(
    "lays",
    [
        short_link_layouts(),  # J's north exit is K's 15 m north approach (keepclear.ShortLinks)
        {
            "A": Layout.build(timed_junction("A", paired=("B",))),
            "B": Layout.build(timed_junction("B", (35.0, 20.0), ("A",))),
        },
    ],
    ids=["short-link", "paired-unaligned"],
)
def test_a_light_goes_to_the_city_plan_and_back_with_its_short_link_partner(lays):
    """The stub wants stage 1 at both lights; their programs show stage 0 from 0 to 30 s."""
    near, far = sorted(lays)
    sent, fixed, changes, report = _run(lays, True, far)
    assert sent[near][0] == (1.0, 1)  # under the policy before
    # from t = 5 both run their programs on its clock: stage 0, sent at that tick
    for x in (near, far):
        assert (5.0, 0) in sent[x] and {p for t, p in sent[x] if 5 <= t < 15} == {0}, x
    assert dict(fixed)[5] == dict(fixed)[14] == [near, far]
    assert report == {near: "fixed", far: "fixed"}
    # at t = 15 the far light's hold is over: both back to the policy at that tick
    assert dict(fixed)[15] == [] and (15.0, 1) in sent[near] and (15.0, 1) in sent[far]
    assert (near, 15.0, "policy") in changes and (far, 15.0, "policy") in changes


def test_a_light_whose_own_hold_ends_while_its_partner_is_fixed_is_not_logged_back():
    """J's own hold (5 s) ends at t = 10, K's (15 s) at t = 20: J stays on the plan with K until
    t = 20, and no change of mode says it went back to the policy before it did."""
    sent, fixed, changes, _ = _run(short_link_layouts(), True, "K", {"J": 5.0, "K": 15.0})
    assert dict(fixed)[10] == dict(fixed)[19] == ["J", "K"] and dict(fixed)[20] == []
    assert [c for c in changes if c[0] == "J" and c[2] == "policy"] == [("J", 20.0, "policy")]
    assert ("J", 10.0, "fixed") in changes  # its own hold over, held still (said so)
    assert {p for t, p in sent["J"] if 10 <= t < 20} == {0}  # and sent its program's stage meanwhile


def test_without_the_key_a_light_stays_on_the_policy_beside_its_partner_on_the_plan():
    lays = short_link_layouts()
    sent, fixed, _, report = _run(lays, False, "K")
    assert dict(fixed)[5] == ["K"] and report == {"J": "policy", "K": "fixed"}
    assert [t for t, p in sent["J"] if 6 <= t < 15 and p == 1]  # J kept its policy's stage
    assert [t for t, _ in sent["K"] if 5 <= t < 15] == [5.0]  # K withdrawn: its command re-sent once, expiring


@pytest.mark.parametrize("paired", [(), ("A",)], ids=["no-short-link", "programs-of-two-cycles"])
def test_a_light_on_no_short_link_or_on_another_cycle_is_not_held(paired):
    """B's stages 30 / 30 s against A's 30 / 25 s: two cycles, never timed for each other."""
    b = timed_junction("B", (30.0, 30.0), paired) if paired else timed_junction("B")
    lays = {"A": Layout.build(timed_junction("A", paired=("B",) if paired else ())), "B": Layout.build(b)}
    sent, fixed, _, _ = _run(lays, True, "B")
    assert dict(fixed)[5] == ["B"] and [t for t, _ in sent["B"] if 5 <= t < 15] == [5.0]


def _program(offset_s: float) -> shadow.Program:
    """Stages 30 s / 25 s with 5 s intergreens (program_wish's docstring example)."""
    z = np.zeros(1)
    return shadow.Program(
        65.0, offset_s, (30.0, 35.0, 60.0, 65.0), (0, -1, 1, -1), np.zeros((3, 1)), 0.0, 0.0, z, z, np.ones((1, 1))
    )


def test_program_wish_is_the_stage_the_program_shows_on_its_own_clock():
    p = _program(0.0)
    assert [program_wish(p, t).phase for t in (10.0, 32.0, 40.0, 62.0, 65.0 + 10.0)] == [0, 1, 1, 0, 0]
    assert [program_wish(p, t).phase for t in (10.0, 32.0, 62.0)] == [p.phase_at(10.0), 1, 0]  # one clock
    shifted = _program(20.0)  # the same program from offset 20 s: every answer 20 s later
    assert [program_wish(shifted, t + 20.0).phase for t in (10.0, 32.0, 40.0, 62.0)] == [0, 1, 1, 0]
    assert program_wish(shifted, 10.0).phase == 1  # 10 s is the previous cycle's 55th second


def _three() -> dict[str, Layout]:
    """A and B a pair (they name each other, one timeline: pairs.find); C names B only (no pair),
    one cycle with it: the three make one short-link group."""
    js = {
        "A": timed_junction("A", paired=("B",)),
        "B": timed_junction("B", paired=("A",)),
        "C": timed_junction("C", paired=("B",)),
    }
    return {j: Layout.build(x) for j, x in js.items()}


def test_a_pair_goes_to_the_city_plan_with_a_third_light_of_its_group():
    """C in fixed mode from t = 5 to 15 holds the pair A-B (decided as one, step.py short_pair_junctions) on its
    programs' stage 0, both lights, and both come back with it."""
    sent, fixed, changes, report = _run(_three(), True, "C")
    assert sent["A"][0] == (1.0, 1) and sent["B"][0] == (1.0, 1)
    for x in ("A", "B"):
        assert (5.0, BASE_PLAN) in sent[x] and {p for t, p in sent[x] if 5 <= t < 15} == {BASE_PLAN}, x
        assert (15.0, 1) in sent[x] and (x, 15.0, "policy") in changes, x
    assert dict(fixed)[5] == dict(fixed)[14] == ["A", "B", "C"] and dict(fixed)[15] == []
    assert report == {"A": "fixed", "B": "fixed", "C": "fixed"}


def test_a_pair_light_alone_is_held_while_its_partner_feed_is_stale():
    """A (the pair's leader) falls silent: from t = 7 B decides alone (step.py _solo); C's hold
    (t = 5 to 15) keeps B on its base program all the same, and B's policy resumes at t = 15."""
    sent, fixed, changes, _ = _run(_three(), True, "C", silent=frozenset({"A"}))
    assert {p for t, p in sent["B"] if 5 <= t < 15} == {BASE_PLAN} and (15.0, 1) in sent["B"]
    assert "B" in dict(fixed)[10] and ("B", 15.0, "policy") in changes

"""Two lights on one short link decided as one program (controller/core/pairs.py, [detectors]
pair_one_program): the import pairs them only where their programs run one timeline; the core
sends the follower its leader's plan on the same stages; an unaligned pair is left alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.pairs import Pair, StageView, find, follow, joint_cycle, partner_view, stage_map
from controller.core.policies import Policy
from controller.core.policies.max_pressure import MaxPressurePolicy
from controller.core.safety import SignalView
from controller.core.step import Core
from controller.junctions import load_intersections, parse_intersection
from controller.model import CyclePlan, CycleWish, Intersection, PhaseCommand, PhaseWish, SignalStatus, Snapshot
from sim.netimport import import_network
from tests.junction_fixtures import four_phase_raw, timed_junction, two_phase_raw
from tests.netbuild import pair_net

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = load_config(ROOT / "config.toml")
ON = replace(SHIPPED, detectors=replace(SHIPPED.detectors, pair_one_program=True))


def test_programs_on_one_timeline_map_stage_to_stage():
    a, b = timed_junction("A"), timed_junction("B")
    assert stage_map(a, b) == (0, 1)
    # B lists its stages the other way round, from its offset: A's stage 0 (0-30 s of 65 s) is
    # B's stage 1, A's stage 1 (35-60 s) B's stage 0
    raw = two_phase_raw()
    raw["id"], raw["base_offset_s"], raw["phases"] = "B", 35.0, raw["phases"][::-1]
    assert stage_map(a, parse_intersection(raw, "B.toml")) == (1, 0)
    assert stage_map(a, timed_junction("B", (35.0, 20.0))) is None  # same cycle, other switch times
    assert stage_map(a, timed_junction("B", (30.0, 30.0))) is None  # another cycle


def test_a_pair_is_two_lights_naming_each_other_on_one_timeline():
    js = {"A": timed_junction("A", paired=("B",)), "B": timed_junction("B", paired=("A",))}
    (pair,) = find(js).values()
    assert (pair.leader, pair.follower, pair.stage_map) == ("A", "B", (0, 1))
    assert follow(PhaseWish(1, 4.0), pair) == PhaseWish(1, 4.0)
    assert follow(CycleWish((0, 1), (20.0, 30.0)), pair) == CycleWish((0, 1), (20.0, 30.0), 0.0)
    assert follow(None, pair) is None
    unaligned = {"A": js["A"], "B": timed_junction("B", (35.0, 20.0), paired=("A",))}
    assert find(unaligned) == {}
    one_sided = {"A": js["A"], "B": timed_junction("B")}
    assert find(one_sided) == {}


class _Stub(Policy):
    """A policy timing each light from its own id: A (20, 30) s, B (40, 15) s; or acyclic, A
    phase 1 and B phase 0."""

    name = "stub"
    runs_own_program = False
    uses_network = False
    coordinate_period_s = None

    def __init__(self, acyclic: bool) -> None:
        self.acyclic = acyclic

    def cannot_serve(self, layout: Layout) -> str:
        return ""

    def init(self, layout: Layout, now_s: float) -> None:
        return None

    def decide(self, state, layout, est, signal, now_s, network=None):
        jid = layout.junction.id
        if self.acyclic:
            return state, PhaseWish(1 if jid == "A" else 0, 1.0)
        return state, CycleWish((0, 1), (20.0, 30.0) if jid == "A" else (40.0, 15.0))


@pytest.fixture(params=[True, False], ids=["short_pair_together", "apart"])
def together(request) -> bool:
    """[harm] short_pair_together both ways: on (shipped), the group's hold also keeps B in fixed
    mode; off, the pair's own fixed-mode logic alone must."""
    return request.param


def _commands(b: Intersection, acyclic: bool, fixed_from_s: float = 99.0, *, together: bool) -> dict[str, list]:
    """Ten ticks of the stub over A (paired with B) and `b`: the new commands per light. From
    `fixed_from_s` on, B is in do no harm's fixed mode, on a hold: with [harm] short_pair_together
    the group's guard judges B before it decides, and a fixed mode without a hold would end there
    at once."""
    cfg = Config()
    cfg = replace(cfg, harm=replace(cfg.harm, short_pair_together=together))
    a = timed_junction("A", paired=("B",))
    core = Core({x.id: Layout.build(x, cfg) for x in (a, b)}, _Stub(acyclic), cfg)  # type: ignore[arg-type]
    state, out = core.initial_state(0.0), {"A": [], "B": []}
    for t in range(1, 11):
        if t >= fixed_from_s:
            js = state.junctions["B"]
            hs = replace(js.harm, mode="fixed", since_s=fixed_from_s, hold_s=100.0)
            state = replace(state, junctions={**state.junctions, "B": replace(js, harm=hs)})
        snaps = [Snapshot(x, float(t), 1.0, ()) for x in ("A", "B")]
        statuses = [SignalStatus(x, float(t), 0, False, 10.0 + t, "", 0, "local") for x in ("A", "B")]
        state, result = core.step(state, snaps, statuses, float(t))
        for c in result.commands:
            out[c.junction].append(c)
    return out


def test_a_cyclic_pair_runs_the_larger_green_of_each_stage_at_both_lights(together):
    """A wishes (20, 30) s, B (40, 15) s: the pair's plan covers both lights' needs, (40, 30) s,
    at both (the leader's alone, (20, 30) s, would starve B's stage 0)."""
    out = _commands(timed_junction("B", paired=("A",)), acyclic=False, together=together)
    plans = {
        x: {(c.phase_order, c.greens_s, c.cycle_s) for c in cs if isinstance(c, CyclePlan)} for x, cs in out.items()
    }
    assert plans["B"] == plans["A"] == {((0, 1), (40.0, 30.0), 80.0)}
    pair = Pair("A", "B", (1, 0), 0.0)  # B lists the stages the other way round
    assert joint_cycle(CycleWish((0, 1), (20.0, 30.0), 5.0), CycleWish((0, 1), (40.0, 15.0)), pair) == CycleWish(
        (0, 1), (20.0, 40.0), 5.0
    )
    assert joint_cycle(CycleWish((0, 1), (20.0, 30.0)), None, pair) == CycleWish((0, 1), (20.0, 30.0))


class _Weighing(_Stub):
    """An acyclic stub weighing stages as max-pressure does: A (0, 1), B (5, 0); alone A wants
    its stage 1, B its stage 0."""

    def stage_view(self, state, layout, est, signal, now_s, network=None):
        return StageView(np.array([0.0, 1.0]) if layout.junction.id == "A" else np.array([5.0, 0.0]), ((), ()))

    def decide_paired(self, state, layout, est, signal, now_s, network, partner):
        v = self.stage_view(state, layout, est, signal, now_s).pressures_pcu2_s
        v = v if partner is None else v + partner.pressures_pcu2_s
        return state, PhaseWish(int(v.argmax()), 1.0)


def test_an_acyclic_pair_takes_the_stage_of_the_larger_summed_pressure():
    """The leader decides on both lights' pressures (A's 0 + B's 5 on stage 0, 1 + 0 on stage 1):
    both lights show stage 0, where the leader alone would have asked for its stage 1."""
    cfg = Config()
    a, b = timed_junction("A", paired=("B",)), timed_junction("B", paired=("A",))
    core = Core({x.id: Layout.build(x, cfg) for x in (a, b)}, _Weighing(True), cfg)
    state, out = core.initial_state(0.0), {"A": set(), "B": set()}
    for t in range(1, 6):
        snaps = [Snapshot(x, float(t), 1.0, ()) for x in ("A", "B")]
        statuses = [SignalStatus(x, float(t), 1, False, 10.0 + t, "", 0, "local") for x in ("A", "B")]
        state, result = core.step(state, snaps, statuses, float(t))
        for c in result.commands:
            out[c.junction].add(c.phase)
    assert out == {"A": {0}, "B": {0}}


class _Failing(_Weighing):
    """_Weighing whose decisions raise for both lights from 3 s to 5 s."""

    def _check(self, now_s: float) -> None:
        if 3.0 <= now_s <= 5.0:
            raise ValueError("a fault")

    def decide(self, state, layout, est, signal, now_s, network=None):
        self._check(now_s)
        return super().decide(state, layout, est, signal, now_s, network)

    def decide_paired(self, state, layout, est, signal, now_s, network, partner):
        self._check(now_s)
        return super().decide_paired(state, layout, est, signal, now_s, network, partner)


def test_a_pair_whose_decision_raises_is_left_on_its_program_with_both_lights():
    """Core.step's catch (DESIGN.md, safety): a pair's decision that raises names both lights in
    TickResult.failed and leaves both on their program (one program for both); once it decides
    again both get plans (R, session 41: the leader alone withdrawn passed test_step_failure.py,
    which has no pair)."""
    cfg = Config()
    a, b = timed_junction("A", paired=("B",)), timed_junction("B", paired=("A",))
    core = Core({x.id: Layout.build(x, cfg) for x in (a, b)}, _Failing(True), cfg)
    state, failed, sent = core.initial_state(0.0), {}, {}
    for t in range(1, 8):
        snaps = [Snapshot(x, float(t), 1.0, ()) for x in ("A", "B")]
        statuses = [SignalStatus(x, float(t), 1, False, 10.0 + t, "", 0, "local") for x in ("A", "B")]
        state, result = core.step(state, snaps, statuses, float(t))
        assert set(state.junctions) == {"A", "B"}
        failed[t] = sorted(j for j, _ in result.failed)
        sent[t] = sorted({c.junction for c in result.commands})
    assert failed == {1: [], 2: [], 3: ["A", "B"], 4: ["A", "B"], 5: ["A", "B"], 6: [], 7: []}
    # each light's command in force re-sent once at 3 s, expiring (withdrawn); plans again at 6 s
    assert sent == {1: ["A", "B"], 2: [], 3: ["A", "B"], 4: [], 5: [], 6: ["A", "B"], 7: []}


def test_a_pair_left_on_its_program_by_a_network_stage_that_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """Core._all_failed (a stage run for the whole network raises, here the estimator's fold, from 3 s
    to 5 s): both lights of the pair named and withdrawn as one program, the leader with its follower;
    decided again after."""
    from controller.core import step as step_module

    real = step_module.netestimate.fold

    def fold(*args, **kw):
        if 3.0 <= now[0] <= 5.0:
            raise ValueError("a fault in the fold")
        return real(*args, **kw)

    now = [0.0]
    monkeypatch.setattr(step_module.netestimate, "fold", fold)
    cfg = Config()
    a, b = timed_junction("A", paired=("B",)), timed_junction("B", paired=("A",))
    core = Core({x.id: Layout.build(x, cfg) for x in (a, b)}, _Weighing(True), cfg)
    state, failed, sent = core.initial_state(0.0), {}, {}
    for t in range(1, 8):
        now[0] = float(t)
        snaps = [Snapshot(x, float(t), 1.0, ()) for x in ("A", "B")]
        statuses = [SignalStatus(x, float(t), 1, False, 10.0 + t, "", 0, "local") for x in ("A", "B")]
        state, result = core.step(state, snaps, statuses, float(t))
        assert list(state.junctions) == list(core.layouts)
        failed[t] = sorted(j for j, _ in result.failed)
        sent[t] = sorted({c.junction for c in result.commands})
    assert failed == {1: [], 2: [], 3: ["A", "B"], 4: ["A", "B"], 5: ["A", "B"], 6: [], 7: []}
    assert sent == {1: ["A", "B"], 2: [], 3: ["A", "B"], 4: [], 5: [], 6: ["A", "B"], 7: []}


def test_max_pressure_adds_the_partners_pressures_to_its_own():
    """MaxPressurePolicy.decide_paired: 10 PCU on A's stage 1 alone makes it leave stage 0; the
    follower's pressures mapped onto A's stages, heavier on stage 0, keep it."""
    lay = Layout.build(timed_junction("A"), Config())
    policy = MaxPressurePolicy()
    state = policy.init(lay, 0.0)
    est = replace(Estimate.empty(lay, 0.0), queue_pcu=np.array([0.0, 10.0, 0.0, 10.0]))
    view = SignalView(0, False, 20.0, (100.0, 50.0, 100.0, 50.0))
    own = policy.stage_view(state, lay, est, view, 100.0)
    assert own is not None and own.pressures_pcu2_s[1] > own.pressures_pcu2_s[0]
    assert policy.decide(state, lay, est, view, 100.0)[1] == PhaseWish(1)
    partner = StageView(np.array([own.pressures_pcu2_s[1] * 2.0, 0.0]), ((), ()))
    assert policy.decide_paired(state, lay, est, view, 100.0, None, partner)[1] == PhaseWish(0)
    assert policy.decide_paired(state, lay, est, view, 100.0, None, None)[1] == PhaseWish(1)
    view_b = StageView(np.array([1.0, 2.0, 3.0]), ((), (2,), (0, 1)))
    mapped = partner_view(view_b, Pair("A", "B", (1, 2, 0), 0.0))  # A's stage k is B's (1, 2, 0)[k]
    assert mapped.pressures_pcu2_s.tolist() == [2.0, 3.0, 1.0]
    assert mapped.detours == ((1,), (2, 0), ())  # B's detour stage 2 is A's 1, B's 0 and 1 A's 2 and 0


def test_max_pressure_leaves_a_stage_through_the_followers_clearance():
    """Four-phase lagging lefts: the leader (A) wants to leave its stage 0 for stage 2 with no
    turner of its own in the box; its follower has permitted left turners that may stand in its
    box, which stage 2 would cut off and its stage 1 clears: the pair goes to stage 1 first."""
    lay = Layout.build(parse_intersection(four_phase_raw(), "A.toml"), Config())
    policy = MaxPressurePolicy()
    state = policy.init(lay, 0.0)
    n = len(lay.junction.movements)
    queue = np.where(lay.serves[2], 20.0, 0.0)
    est = replace(Estimate.empty(lay, 0.0), queue_pcu=queue, departures_pcu=np.zeros(n))
    view = SignalView(0, False, 20.0, tuple(50.0 for _ in range(n)))
    state, alone = policy.decide(state, lay, est, view, 100.0)
    assert alone == PhaseWish(2)
    boxed = replace(state, boxed=lay.serves[0] & ~lay.protected[0])  # the follower's box, on its own stages
    follower = policy.stage_view(boxed, lay, est, view, 100.0)
    assert follower is not None and follower.detours[2] == (1,)
    partner = StageView(np.zeros(len(lay.junction.phases)), follower.detours)
    assert policy.decide_paired(state, lay, est, view, 100.0, None, partner)[1] == PhaseWish(1)


def test_the_follower_shows_its_leaders_stage(together):
    out = _commands(timed_junction("B", paired=("A",)), acyclic=True, together=together)
    assert {c.phase for c in out["B"] if isinstance(c, PhaseCommand)} == {c.phase for c in out["A"]} == {1}


@pytest.mark.parametrize("acyclic", [False, True])
def test_an_unaligned_pair_is_timed_light_by_light(acyclic, together):
    out = _commands(timed_junction("B", (35.0, 20.0), paired=("A",)), acyclic, together=together)
    if acyclic:
        assert {c.phase for c in out["B"]} == {0}  # its own wish
    else:
        assert {c.greens_s for c in out["B"]} == {(40.0, 15.0)}


@pytest.mark.parametrize(("link_m", "paired"), [(15.0, True), (40.0, False)])
def test_the_import_pairs_lights_a_min_green_queue_apart_only_with_the_key(tmp_path, link_m, paired):
    assert not SHIPPED.detectors.pair_one_program  # shipped off
    for cfg, want, name in ((SHIPPED, False, "off"), (ON, paired, "on")):
        (tmp_path / name).mkdir()
        import_network(pair_net(tmp_path / name, link_m), tmp_path / name / "j", cfg)
        js = load_intersections(tmp_path / name / "j")
        assert stage_map(js["A"], js["B"]) is not None  # netconvert gives both the same program
        assert js["A"].paired == (("B",) if want else ())
        assert js["B"].paired == (("A",) if want else ())


@pytest.mark.parametrize("acyclic", [False, True])
def test_a_pair_with_a_light_in_fixed_mode_runs_its_base_programs_as_one_plan(acyclic, together):
    out = _commands(timed_junction("B", paired=("A",)), acyclic, fixed_from_s=6.0, together=together)
    for x in ("A", "B"):
        last = out[x][-1]
        assert isinstance(last, CyclePlan) and (last.phase_order, last.greens_s) == ((0, 1), (30.0, 25.0)), x
        assert last.valid_from_s == 6.0, x  # both at the same tick, sent once


def test_in_fixed_mode_each_light_runs_its_own_base_program(together):
    """Both lights go to their base programs as cycle plans, each its own (B's greens differ from
    A's within the timeline's tolerance: A's, clipped by B's gate, would never match B's plan in
    force, and a new plan would go out every tick)."""
    out = _commands(timed_junction("B", (30.4, 24.6), paired=("A",)), acyclic=True, fixed_from_s=3.0, together=together)
    plans_b = [c for c in out["B"] if isinstance(c, CyclePlan)]
    assert plans_b and {c.greens_s for c in plans_b} == {(30.4, 24.6)}
    assert {c.greens_s for c in out["A"] if isinstance(c, CyclePlan)} == {(30.0, 25.0)}
    assert len({c.plan_id for c in plans_b}) == 1  # one plan, refreshed, not a new one each tick


def test_a_follower_whose_leader_has_no_feed_follows_its_own_policy():
    """A's feed stops after the first tick: once it is stale A decides nothing, and B takes its own
    policy's wish (phase 0) instead of holding A's last one (phase 1) until a maximum forces it."""
    cfg = Config()
    a, b = timed_junction("A", paired=("B",)), timed_junction("B", paired=("A",))
    core = Core({x.id: Layout.build(x, cfg) for x in (a, b)}, _Stub(True), cfg)  # type: ignore[arg-type]
    state, phases_b = core.initial_state(0.0), []
    for t in range(1, 16):
        snaps = [Snapshot(x, float(t), 1.0, ()) for x in (("A", "B") if t == 1 else ("B",))]
        statuses = [SignalStatus(x, float(t), 0, False, 10.0 + t, "", 0, "local") for x in ("A", "B")]
        state, result = core.step(state, snaps, statuses, float(t))
        phases_b += [(t, c.phase) for c in result.commands if c.junction == "B" and isinstance(c, PhaseCommand)]
    assert phases_b[0][1] == 1  # A's wish while A has a feed
    assert any(p == 0 for t, p in phases_b if t > 1 + cfg.service.feed_stale_s)

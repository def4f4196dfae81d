"""`[timing] crossings_max_red`: a pedestrian crossing is kept red no longer than `max_red_s`, as a movement.

The junction file's `crossings` (its signalised crossings' links) make each crossing a movement
(controller.model.crossing_movement) kept in the model's `crossings`, apart from its `movements`: the gate's maximum
red, the roadside's own check and the loader's read them (Intersection.red_bounded), the policies and the estimate do
not. Without them a policy that alternates two crossing-less twins of the crossing's stage (schedule on
single_scramble_hw, session 60: the north-south crossing never green in 900 s) keeps the crossing red for ever."""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from typing import Any

import pytest

from controller.config import Config
from controller.core import override
from controller.core.estimation import Layout
from controller.core.override import Override
from controller.core.policies import Policy
from controller.core.safety import GateMemo, SignalView, cyclist_all_red_s, gate_cycle, gate_phase
from controller.core.safety_rows import CycleRows
from controller.core.step import Core
from controller.errors import JunctionError
from controller.junctions import checked_max_red, load_intersections, parse_intersection
from controller.model import CyclePlan, CycleWish, Intersection, PhaseCommand, PhaseWish, SignalStatus
from controller.roadside_agent import check_limits
from sim.netimport import import_network
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase_raw
from tests.unit import test_crossings_from_program as mb
from tests.unit.test_harm import Field

MAX_RED_S = 90.0


def scramble(crossings: list[int] | None) -> Intersection:
    """two_phase with a crossing (link 4) green with N/S in phase 2 (its pedestrian minimum 10 s) and phase 0 the
    same vehicles without it (the crossing-less twin); `crossings` written as the importer writes them, or not."""
    return parse_intersection(scramble_raw(crossings), "scramble.toml")


def scramble_raw(crossings: list[int] | None) -> dict[str, Any]:
    """scramble's junction file as a table, before the loader reads it."""
    raw = two_phase_raw()
    raw.update(n_links=5, max_red_s=MAX_RED_S)
    ns, ew = raw["phases"]
    raw["phases"] = [
        {**ns, "state": "GrGrr"},
        {**ew, "state": "rGrGr"},
        {**ns, "state": "GrGrG", "min_green_s": 10.0, "ped_min_green_s": 10.0},
    ]
    if crossings is not None:
        raw["crossings"] = crossings
    return raw


def crossing_reds_s(j: Intersection, end_s: int = 1200) -> list[float]:
    """The crossing's reds (s) when a policy alternates the twins 0 and 1 every 20 s of green and never asks for
    phase 2, every wish through gate_phase, the signal run as the roadside runs it (intergreen, then the green)."""
    memo, cur, green_from, ig_until, last_switch = GateMemo(), 0, 0.0, -1.0, 0.0
    red_since, crossing_red_since = [0.0] * len(j.movements), [0.0] * len(j.crossings)
    crossing_red_from: float | None = 0.0
    reds = []
    for now in range(end_s):
        t = float(now)
        in_ig = t < ig_until
        if not in_ig:
            for i in j.served_movements(cur):
                red_since[[m.id for m in j.movements].index(i)] = t
            for k, c in enumerate(j.crossings):
                if j.phases[cur].green_links().intersection(c.links):
                    crossing_red_since[k] = t
            if j.phases[cur].state == "GrGrG" and crossing_red_from is not None:
                reds.append(t - crossing_red_from)
                crossing_red_from = None
        view = SignalView(cur, in_ig, 0.0 if in_ig else t - green_from, tuple(red_since), tuple(crossing_red_since))
        wish = (0 if t - last_switch < 20 else 1) if cur == 0 else (1 if t - last_switch < 20 else 0)
        out = gate_phase(j, PhaseWish(wish, 5.0), view, plan_id="p", seq=now, now_s=t, ttl_s=20.0, memo=memo)
        assert out.command is not None, out.refused
        nxt = out.command.phase
        if nxt != cur and not in_ig:
            if j.phases[cur].state == "GrGrG":
                crossing_red_from = t
            ig_until = t + j.intergreen_s(cur, nxt)
            green_from, last_switch, cur = ig_until, t, nxt
    if crossing_red_from is not None:
        reds.append(end_s - crossing_red_from)
    return reds


def test_with_crossings_a_policy_that_never_asks_for_the_crossing_gets_it_by_max_red():
    j = scramble([4])
    assert [c.id for c in j.crossings] == ["ped4"] and j.crossings[0].links == (4,)
    assert "ped4" not in [m.id for m in j.movements] and [m.id for m in j.red_bounded.movements][-1] == "ped4"
    reds = crossing_reds_s(j)
    assert len(reds) >= 10  # the crossing is served again and again, the policy never asking for it
    assert max(reds) <= MAX_RED_S + 1e-9


def test_without_crossings_the_crossing_waits_the_whole_run():
    assert crossing_reds_s(scramble(None)) == [1200.0]


@pytest.mark.parametrize("bad", [[0], [5], [4, 4]])
def test_the_loader_refuses_a_crossing_that_serves_a_movement_is_no_link_or_is_repeated(bad):
    with pytest.raises(JunctionError) as err:
        scramble(bad)
    assert err.value.field == "crossings"


def test_the_loader_refuses_a_crossing_no_phase_greens():
    raw = two_phase_raw()
    raw.update(n_links=5, crossings=[4])
    raw["phases"] = [{**p, "state": p["state"] + "r"} for p in raw["phases"]]
    with pytest.raises(JunctionError, match="green in some phase"):
        parse_intersection(raw, "never.toml")


def test_a_cycle_of_the_twins_alone_is_refused_by_the_gate_and_by_the_roadside():
    """The one rule at both ends: a cycle plan of the two crossing-less twins leaves the crossing never green."""
    plan = CyclePlan("J", "c1", 1, (0, 1), (30.0, 30.0), 70.0, 0.0, 0.0, 120.0)
    for crossings, refused in (([4], True), (None, False)):
        j = scramble(crossings)
        out = gate_cycle(j, CycleWish((0, 1), (30.0, 30.0), 0.0), plan_id="c1", seq=1, now_s=0.0, ttl_s=120.0)
        assert (out.command is None) == refused and ("ped4" in out.refused) == refused
        assert ("ped4" in RoadsideController(j, backup_s=30.0).receive(plan, 0.0)) == refused
        assert ("ped4" in check_limits(j, plan)) == refused  # a field cabinet's check of the model as loaded


midblock = mb.midblock  # netconvert's mid-block crossing, the fixture


def test_the_importer_writes_the_crossings_only_with_the_key(midblock, tmp_path):
    """netconvert's mid-block crossing (link 4): `crossings = [4]` and the movement ped4 with the key, none without."""
    for on in (True, False):
        cfg = replace(mb.CFG, timing=replace(mb.CFG.timing, crossings_max_red=on))
        out = tmp_path / str(on)
        import_network(midblock, out, cfg)
        (j,) = load_intersections(out).values()
        table = tomllib.loads((out / "m.toml").read_text())
        assert (table.get("crossings") == [4]) == on and [c.id for c in j.crossings] == (["ped4"] if on else [])
        assert "ped4" not in [m.id for m in j.movements]  # the vehicle movements, the same both ways


def test_on_as_shipped_the_importer_writes_the_crossings_and_the_vehicle_movements_stay(midblock, tmp_path):
    """The flip (session 61): config.toml and the dataclass both on; the shipped import of netconvert's mid-block
    crossing names it (`crossings = [4]`, the model's crossing ped4), its vehicle movements those of the key off."""
    assert Config().timing.crossings_max_red and mb.CFG.timing.crossings_max_red
    off = tmp_path / "off"
    import_network(midblock, tmp_path / "on", mb.CFG)
    import_network(midblock, off, replace(mb.CFG, timing=replace(mb.CFG.timing, crossings_max_red=False)))
    (on_j,), (off_j,) = (load_intersections(tmp_path / d).values() for d in ("on", "off"))
    assert tomllib.loads((tmp_path / "on" / "m.toml").read_text())["crossings"] == [4]
    assert [c.id for c in on_j.crossings] == ["ped4"] and not off_j.crossings
    assert on_j.movements == off_j.movements and on_j.phases == off_j.phases


def test_with_crossing_red_is_clearance_too_the_junction_is_kept(midblock, tmp_path):
    """Both keys: the crossing is named in `crossing_links` (its red its clearance) and is the movement ped4; the
    loader's `crossing_links` rule (no link of a vehicle movement) does not read ped4 as one."""
    t = replace(mb.CFG.timing, crossings_max_red=True, crossing_red_is_clearance=True)
    import_network(midblock, tmp_path, replace(mb.CFG, timing=t))
    (j,) = load_intersections(tmp_path).values()
    table = tomllib.loads((tmp_path / "m.toml").read_text())
    assert table["crossings"] == table["crossing_links"] == [4] and j.crossings[0].links == (4,)
    assert j.intergreen_s(0, 1) == 3.0 and j.intergreen_s(1, 0) == 5.0  # the program's transitions kept


class Twins(Policy):
    """Asks for the crossing-less twins 0 and 1 in turn, 25 s each (or, `with_crossing`, 0, 1 and the crossing's
    stage 2), never for the crossing; records the lengths of what it is handed: the
    movements of its model and the red times of its signal view."""

    name = "twins"

    def __init__(self, with_crossing: bool = False) -> None:
        self.stages = (0, 1, 2) if with_crossing else (0, 1)
        self.seen: set[tuple[int, int]] = set()

    def init(self, layout, now_s):
        return None

    def decide(self, state, layout, est, signal, now_s):
        self.seen.add((len(layout.junction.movements), -1 if signal is None else len(signal.red_since_s)))
        return state, PhaseWish(self.stages[int(now_s // 25) % len(self.stages)], 5.0)


def closed_loop_greens(j: Intersection, policy: Policy, seconds: int = 1200) -> list[int | None]:
    """The green stage the roadside showed each second when the Core runs `policy` on `j` (point queues: test_harm's
    Field), do no harm judging nothing within the run."""
    cfg = Config()
    cfg = replace(cfg, harm=replace(cfg.harm, min_policy_s=10.0 * seconds))
    core, field = (
        Core({"J": Layout.build(j, cfg)}, policy, cfg),
        Field(j, dict.fromkeys(("N_T", "S_T", "E_T", "W_T"), 0.1)),
    )
    state, status, shown = core.initial_state(0.0), field.rc.status(0.0), []
    for t in range(1, seconds + 1):
        state, result = core.step(state, [field.traffic(float(t))], [status], float(t))
        status = field.answer(result.commands, float(t))
        shown.append(field.rc.green_phase())
    return shown


def reds_of_stage(shown: list[int | None], stage: int) -> list[int]:
    """The runs of seconds `shown` is not `stage` (the crossing's reds: the first from the start, the last to the
    end)."""
    reds, run = [], 0
    for g in shown:
        if g != stage:
            run += 1
        elif run:
            reds.append(run)
            run = 0
    return [*reds, run] if run else reds


def test_in_the_core_the_gate_serves_the_crossing_by_its_own_red_and_the_policy_never_sees_it():
    """Through core/step.py (the crossings' red times kept apart, JunctionState.crossing_red_since_s) and the real
    roadside: the crossing is served about once every max_red_s, each red near it and none past it (its red time
    kept: a crossing counted red from the start would be served at every chance); the policy is handed the four
    vehicle movements and their four red times only."""
    policy = Twins()
    reds = reds_of_stage(closed_loop_greens(scramble([4]), policy), 2)
    assert len(reds) >= 8 and max(reds) <= MAX_RED_S
    assert min(reds[1:-1]) >= MAX_RED_S - 30.0
    assert policy.seen == {(4, 4)}
    assert reds_of_stage(closed_loop_greens(scramble(None), Twins()), 2) == [1200]


def test_a_policy_that_serves_the_crossing_runs_the_same_with_or_without_it():
    """The crossing's rule moves nothing where the policy keeps the crossing within max_red_s itself: the same
    stages to the second with and without `crossings`."""
    on, off = (closed_loop_greens(scramble(c), Twins(with_crossing=True)) for c in ([4], None))
    assert on == off and max(reds_of_stage(on, 2)) < MAX_RED_S


def test_the_loader_refuses_a_phase_whose_minimum_keeps_the_crossing_red_past_max_red():
    """checked_max_red bounds the crossings too: a stage greening every vehicle (none conflicting here) and not the
    crossing, its minimum green past max_red_s, is refused naming the crossing; without `crossings` it loads."""
    for crossings in ([4], None):
        raw = two_phase_raw()
        raw.update(n_links=5, max_red_s=MAX_RED_S)
        for m in raw["movements"]:
            m["conflicts"] = []
        ns, ew = raw["phases"]
        raw["phases"] = [
            {**ns, "state": "GrGrG", "min_green_s": 10.0, "ped_min_green_s": 10.0},
            {**ew, "state": "GGGGr", "min_green_s": MAX_RED_S + 10.0, "max_green_s": MAX_RED_S + 20.0},
        ]
        if crossings is not None:
            raw["crossings"] = crossings
        j = parse_intersection(raw, "long.toml")
        if crossings is None:
            assert checked_max_red(j, "long.toml") is j
            continue
        with pytest.raises(JunctionError, match="movement ped4 red") as err:
            checked_max_red(j, "long.toml")
        assert err.value.field == "max_red_s"


def test_the_gate_s_rows_refuse_a_cycle_of_the_twins_as_gate_cycle_does():
    """safety_rows.CycleRows (a tick's cycle wishes gated as arrays, from MIN_ROWS of one form) bounds the crossings
    as gate_cycle does: the twins' cycle refused naming the crossing, a cycle serving it planned."""
    j, n = scramble([4]), CycleRows.MIN_ROWS + 1
    for order, refused in (((0, 1), True), ((0, 1, 2), False)):
        wish = CycleWish(order, tuple(20.0 for _ in order), 0.0)
        outs = CycleRows([j]).gate([(j, wish, f"c{k}", k, None) for k in range(n)], 0.0, 120.0, GateMemo())
        assert all((o.command is None) == refused and ("ped4" in o.refused) == refused for o in outs)


def test_the_roadside_itself_serves_the_crossing_when_the_plans_never_do():
    """sim/roadside.py's own check (a field cabinet's): acyclic commands of the twins 0 and 1 alone, taken past the
    gate, still give the crossing its stage by max_red_s, with a limit fault naming it; without `crossings`, never."""
    for crossings in ([4], None):
        rc = RoadsideController(scramble(crossings), backup_s=30.0)
        rc.tick(0.0, 0, 0.0)
        shown, faults = [], set()
        for t in range(1, 600):
            twin = (t // 25) % 2
            rc.receive(PhaseCommand("J", f"p{t}", t, twin, 5.0, float(t), float(t) + 20.0), float(t))
            rc.tick(float(t), 0, 0.0)  # the program would show phase 0 (read only while local)
            shown.append(rc.green_phase())
            faults.update(rc.status(float(t)).faults)
        reds = reds_of_stage(shown, 2)
        if crossings is None:
            assert reds == [599]
            continue
        assert len(reds) >= 5 and max(reds) <= MAX_RED_S and any("movement ped4" in f for f in faults), reds


def test_an_operator_s_hold_is_cut_by_the_crossing_s_maximum_red():
    """core/override.py gates a hold with the junction's crossing red times too (its SignalView): phase 0 held, the
    crossing red since 0 s, the gate keeps the hold at 80 s and serves the crossing's stage at max_red_s."""
    j = scramble([4])
    js = Core({"J": Layout.build(j)}, Twins(), Config()).initial_state(0.0).junctions["J"]
    assert js.crossing_red_since_s == (0.0,)
    ov = Override("J", "op", "hold", "r1", 0.0, 600.0, PhaseWish(0, 600.0))
    phases = []
    for now in (80.0, MAX_RED_S):
        status = SignalStatus("J", now, 0, False, 30.0, "p", 1, "adaptive")
        out = override.gate(ov, j, replace(js, status=status, red_since_s=(now, 50.0, now, 50.0)), now, 1.0)
        assert out.command is not None, out.refused
        phases.append((out.command.phase, "ped4" in "".join(out.clipped)))
    assert phases == [(0, False), (2, True)]


def test_a_cyclist_s_all_red_is_not_given_past_the_crossing_s_maximum_red():
    """[timing] cyclist_clearance's extension (safety.cyclist_all_red_s) is kept only where every maximum red stays
    reachable, the crossings' too: at 60 s, N_T's cyclist counted at 59 s (30 s to cross), the change to E/W would
    wait 26 s more and the crossing, red since 0 s, would then wait past 90 s; without `crossings` the 26 s is given."""
    got = []
    for crossings in ([4], None):
        raw = scramble_raw(crossings)
        raw["movements"][0]["cyclist_clear_s"] = 30.0
        j = parse_intersection(raw, "cyclist.toml")
        view = SignalView(0, False, 20.0, (60.0, 40.0, 60.0, 40.0), (0.0,) if crossings else ())
        got.append(cyclist_all_red_s(j, view, 1, (59.0, -math.inf, -math.inf, -math.inf), 60.0, GateMemo()))
    assert got == [0.0, 26.0]

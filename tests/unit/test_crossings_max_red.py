"""`[timing] crossings_max_red`: a pedestrian crossing is kept red no longer than `max_red_s`, as a movement.

The junction file's `crossings` (its signalised crossings' links) make each crossing a movement of the model
(controller.model.crossing_movement), so the gate's maximum red, the roadside's own check and the loader's read the
one rule for it. Without them a policy that alternates two crossing-less twins of the crossing's stage (schedule on
single_scramble_hw, session 60: the north-south crossing never green in 900 s) keeps the crossing red for ever."""

from __future__ import annotations

import tomllib
from dataclasses import replace

import pytest

from controller.core.safety import GateMemo, SignalView, gate_cycle, gate_phase
from controller.errors import JunctionError
from controller.junctions import load_intersections, parse_intersection
from controller.model import CyclePlan, CycleWish, Intersection, PhaseWish
from sim.netimport import import_network
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase_raw
from tests.unit import test_crossings_from_program as mb

MAX_RED_S = 90.0


def scramble(crossings: list[int] | None) -> Intersection:
    """two_phase with a crossing (link 4) green with N/S in phase 2 (its pedestrian minimum 10 s) and phase 0 the
    same vehicles without it (the crossing-less twin); `crossings` written as the importer writes them, or not."""
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
    return parse_intersection(raw, "scramble.toml")


def crossing_reds_s(j: Intersection, end_s: int = 1200) -> list[float]:
    """The crossing's reds (s) when a policy alternates the twins 0 and 1 every 20 s of green and never asks for
    phase 2, every wish through gate_phase, the signal run as the roadside runs it (intergreen, then the green)."""
    memo, cur, green_from, ig_until, last_switch = GateMemo(), 0, 0.0, -1.0, 0.0
    red_since = [0.0] * len(j.movements)
    crossing_red_from: float | None = 0.0
    reds = []
    for now in range(end_s):
        t = float(now)
        in_ig = t < ig_until
        if not in_ig:
            for i in j.served_movements(cur):
                red_since[[m.id for m in j.movements].index(i)] = t
            if j.phases[cur].state == "GrGrG" and crossing_red_from is not None:
                reds.append(t - crossing_red_from)
                crossing_red_from = None
        view = SignalView(cur, in_ig, 0.0 if in_ig else t - green_from, tuple(red_since))
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
    assert [m.id for m in j.movements][-1] == "ped4" and j.movement("ped4").links == (4,)
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


midblock = mb.midblock  # netconvert's mid-block crossing, the fixture


def test_the_importer_writes_the_crossings_only_with_the_key(midblock, tmp_path):
    """netconvert's mid-block crossing (link 4): `crossings = [4]` and the movement ped4 with the key, none without."""
    for on in (True, False):
        cfg = replace(mb.CFG, timing=replace(mb.CFG.timing, crossings_max_red=on))
        out = tmp_path / str(on)
        import_network(midblock, out, cfg)
        (j,) = load_intersections(out).values()
        table = tomllib.loads((out / "m.toml").read_text())
        assert (table.get("crossings") == [4]) == on and ("ped4" in [m.id for m in j.movements]) == on


def test_with_crossing_red_is_clearance_too_the_junction_is_kept(midblock, tmp_path):
    """Both keys: the crossing is named in `crossing_links` (its red its clearance) and is the movement ped4; the
    loader's `crossing_links` rule (no link of a vehicle movement) does not read ped4 as one."""
    t = replace(mb.CFG.timing, crossings_max_red=True, crossing_red_is_clearance=True)
    import_network(midblock, tmp_path, replace(mb.CFG, timing=t))
    (j,) = load_intersections(tmp_path).values()
    table = tomllib.loads((tmp_path / "m.toml").read_text())
    assert table["crossings"] == table["crossing_links"] == [4] and j.movement("ped4").links == (4,)
    assert j.intergreen_s(0, 1) == 3.0 and j.intergreen_s(1, 0) == 5.0  # the program's transitions kept

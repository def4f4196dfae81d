"""`[timing] cyclist_clearance`: a cyclist counted over a stop line lately gets its crossing time before a conflicting
green (fkk_in_delay's gneJ21: a bicycle's left takes 66 m through the box, about 16 s at 4 m/s, against the 6 s
intergreen sized for motor vehicles). The importer writes each movement's `cyclist_clear_s` (its longest path a
bicycle may take through the junction, over `cyclist_speed_mps`); the gate extends the all-red of a change that
stops such a movement (core/safety.py cyclist_all_red_s); the plan carries it (`all_red_s`) and the roadside shows it.

The junction: tests/junction_fixtures.py's two-phase one (N/S through, then E/W through; 3 s yellow, 2 s all-red),
N_T with a cyclist's crossing time of 16 s."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from controller.core.messages import decode_command, encode_command
from controller.core.safety import GateMemo, SignalView, cyclist_all_red_s
from controller.errors import JunctionError
from controller.junctions import parse_intersection
from controller.model import Intersection, PhaseCommand
from controller.roadside_agent import check_limits
from sim.netmovements import add_cyclist_clear, internal_paths_m
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase_raw


def _junction(clear_s: float = 16.0, max_red_s: float = 120.0) -> Intersection:
    raw = two_phase_raw()
    raw["movements"][0]["cyclist_clear_s"] = clear_s  # N_T
    raw["max_red_s"] = max_red_s
    return parse_intersection(raw, "cyclists.toml")


def _view(j: Intersection, now_s: float, red_for_s: float = 20.0) -> SignalView:
    """Phase 0 (N_T, S_T) green for 20 s; E_T and W_T red for `red_for_s`."""
    served = set(j.served_movements(0))
    return SignalView(0, False, 20.0, tuple(now_s if m.id in served else now_s - red_for_s for m in j.movements))


def _all_red(j: Intersection, seen_s: float | None, now_s: float = 100.0, on: int = 0, **kw: float) -> float:
    """The all-red of the change 0 -> 1 at `now_s`, a bicycle counted at `seen_s` on movement `on`'s lane."""
    seen = tuple(seen_s if i == on and seen_s is not None else -math.inf for i in range(len(j.movements)))
    return cyclist_all_red_s(j, _view(j, now_s, **kw), 1, seen, now_s, GateMemo())


def test_a_cyclist_counted_lately_gets_its_crossing_time_before_the_conflicting_green() -> None:
    j = _junction()
    # counted at 99 s: the cross street's green no sooner than 115 s; the yellow ends at 103 s
    assert _all_red(j, 99.0) == 12.0
    assert _all_red(j, 90.5) == 4.0  # whole seconds, rounded up
    # the junction's own 2 s all-red suffices, no bicycle, or one on a movement without a crossing time
    assert _all_red(j, 88.0) == 0.0
    assert _all_red(j, None) == 0.0
    assert _all_red(j, 99.0, on=2) == 0.0  # S_T
    assert cyclist_all_red_s(j, _view(j, 100.0), 1, (), 100.0, GateMemo()) == 0.0  # no light's count kept
    assert _all_red(_junction(clear_s=0.0), 99.0) == 0.0


def test_no_extension_for_a_change_that_keeps_the_movement_or_during_an_intergreen() -> None:
    j = _junction()
    seen = (99.0, -math.inf, -math.inf, -math.inf)
    view = _view(j, 100.0)
    assert cyclist_all_red_s(j, view, 0, seen, 100.0, GateMemo()) == 0.0
    during = SignalView(0, True, 0.0, view.red_since_s)
    assert cyclist_all_red_s(j, during, 1, seen, 100.0, GateMemo()) == 0.0


def test_the_maximum_red_wins_over_the_extension() -> None:
    j = _junction(max_red_s=60.0)
    assert _all_red(j, 99.0, red_for_s=40.0) == 12.0
    # E_T red 50 s: with 12 s of all-red it would wait 50 + 3 + 12 > 60 s
    assert _all_red(j, 99.0, red_for_s=50.0) == 0.0


def _shown(all_red_s: float) -> list[str]:
    j = _junction()
    rc = RoadsideController(j, backup_s=1e6, max_validity_s=1e6)
    assert rc.receive(PhaseCommand("J", "p1", 1, 0, 1.0, 0.0, 1e6), 0.0) == ""
    for t in range(20):
        rc.tick(float(t), 0, float(t))
    assert rc.receive(PhaseCommand("J", "p2", 2, 1, 1.0, 20.0, 1e6, all_red_s=all_red_s), 20.0) == ""
    return [rc.tick(float(t), None, 0.0) or "" for t in range(20, 45)]


def test_the_roadside_shows_the_all_red_the_plan_asks_for() -> None:
    assert _shown(0.0).count("rrrr") == 2  # the junction's own
    states = _shown(10.0)
    assert states[:3] == ["yryr"] * 3
    assert states[3:13] == ["rrrr"] * 10
    assert states[13] == "rGrG"


def test_the_plan_message_carries_it_and_the_roadside_checks_it() -> None:
    j = _junction()
    cmd = PhaseCommand("J", "p", 3, 1, 1.0, 0.0, 10.0, all_red_s=12.0)
    assert decode_command(encode_command(cmd)) == cmd
    plain = PhaseCommand("J", "p", 3, 1, 1.0, 0.0, 10.0)
    assert b"all_red_s" not in encode_command(plain)  # a plan without it reads as before
    assert decode_command(encode_command(plain)) == plain
    assert check_limits(j, cmd) == ""
    assert "all-red 121 s outside 0..max red 120 s" in check_limits(
        j, PhaseCommand("J", "p", 3, 1, 1.0, 0.0, 10.0, 121.0)
    )


def test_the_loader_reads_the_crossing_time_and_refuses_a_negative_one() -> None:
    assert _junction().movements[0].cyclist_clear_s == 16.0
    assert _junction().movements[1].cyclist_clear_s == 0.0
    with pytest.raises(JunctionError, match="cyclist_clear_s"):
        _junction(clear_s=-1.0)


NET = """<net>
  <edge id=":J_0" function="internal"><lane id=":J_0_0" index="0" length="35.0" shape="0,0 1,1"/></edge>
  <edge id=":J_5" function="internal"><lane id=":J_5_0" index="0" length="31.0" shape="0,0 1,1"/></edge>
  <edge id=":J_1" function="internal"><lane id=":J_1_0" index="0" length="12.0" shape="0,0 1,1"/></edge>
  <edge id="a"><lane id="a_0" index="0" length="100.0" shape="0,0 1,1"/></edge>
  <connection from="a" to="b" fromLane="0" toLane="0" via=":J_0_0" tl="J" linkIndex="0" dir="l" state="o"/>
  <connection from=":J_0" to="b" fromLane="0" toLane="0" via=":J_5_0" dir="l" state="m"/>
  <connection from=":J_5" to="b" fromLane="0" toLane="0" dir="l" state="M"/>
</net>
"""


class _Lane:
    def __init__(self, lid: str, bicycles: bool) -> None:
        self.lid, self.bicycles = lid, bicycles
        self.out: list[_Conn] = []

    def getID(self) -> str:
        return self.lid

    def allows(self, vclass: str) -> bool:
        return self.bicycles if vclass == "bicycle" else True

    def getOutgoing(self) -> list[_Conn]:
        return self.out


class _Conn:
    def __init__(self, to: _Lane, link: int, via: str) -> None:
        self.to, self.link, self.via = to, link, via

    def getToLane(self) -> _Lane:
        return self.to

    def getTLLinkIndex(self) -> int:
        return self.link

    def getViaLaneID(self) -> str:
        return self.via


class _Light:
    def __init__(self, links: list[tuple[_Lane, _Lane, int]]) -> None:
        self.links = links

    def getConnections(self) -> list[tuple[_Lane, _Lane, int]]:
        return self.links


def test_the_importer_reads_the_path_through_the_box_and_times_it(tmp_path: Path) -> None:
    net = tmp_path / "j.net.xml"
    net.write_text(NET)
    paths = internal_paths_m(net)
    assert paths == {":J_0_0": 66.0, ":J_5_0": 31.0, ":J_1_0": 12.0}  # a left waiting inside: both parts
    bike, car, out = _Lane("a_1", True), _Lane("a_2", False), _Lane("b_0", True)
    bike.out.append(_Conn(out, 0, ":J_0_0"))
    car.out.append(_Conn(out, 1, ":J_1_0"))
    tables: list[dict[str, Any]] = [{"links": [0], "lanes": ["a_1"]}, {"links": [1], "lanes": ["a_2"]}]
    add_cyclist_clear(tables, _Light([(bike, out, 0), (car, out, 1)]), paths, 4.0)  # type: ignore[arg-type]
    assert tables[0]["cyclist_clear_s"] == 16.5
    assert "cyclist_clear_s" not in tables[1]  # no bicycle may take it


def _core_seen(feed: str, counts: dict[str, int], clear_s: float = 16.0) -> tuple[float, ...]:
    """Core.step at 10 s with one message (`feed` "snapshot") or frame ("frame") in which N_stop counted `counts`:
    the junction's cyclist_seen_s after it."""
    import numpy as np

    from controller.config import Config
    from controller.core.estimation import Layout
    from controller.core.feedarrays import DetectorFrame, FrameLayout
    from controller.core.policies import make_policy
    from controller.core.step import Core
    from controller.model import VEHICLE_CLASSES, DetectorReading, Snapshot

    cfg, j = Config(), _junction(clear_s)
    core = Core({j.id: Layout.build(j, cfg)}, make_policy("adaptive", cfg), cfg)
    state = core.initial_state(0.0)
    ids = [d.id for d in j.detectors]
    if feed == "snapshot":
        readings = tuple(DetectorReading(d, tuple(counts.items()) if d == "N_stop" else (), 0.0, -1.0) for d in ids)
        state, _ = core.step(state, [Snapshot(j.id, 10.0, 1.0, readings)], [], 10.0)
    else:
        grid = np.zeros((len(ids), len(VEHICLE_CLASSES)), dtype=int)
        for c, n in counts.items():
            grid[ids.index("N_stop"), VEHICLE_CLASSES.index(c)] = n
        frame = DetectorFrame(FrameLayout.build({j.id: ids}), 10.0, 1.0, grid, np.zeros(len(ids)), -np.ones(len(ids)))
        state, _ = core.step(state, [], [], 10.0, frames=[(frame, np.ones(1, dtype=bool))])
    return state.junctions[j.id].cyclist_seen_s


@pytest.mark.parametrize("feed", ["snapshot", "frame"])
def test_the_core_times_a_bicycle_over_a_stop_line_per_movement_of_its_lane(feed: str) -> None:
    never = -math.inf
    assert _core_seen(feed, {"bicycle": 1}) == (10.0, never, never, never)  # N_stop is on N_T's lane alone
    assert _core_seen(feed, {"car": 2}) == (never,) * 4
    assert _core_seen(feed, {"bicycle": 1}, clear_s=0.0) == ()  # no movement with a crossing time: not kept


def test_no_extension_toward_a_stage_that_crosses_no_stopped_cyclist() -> None:
    raw = two_phase_raw()
    raw["movements"][0]["cyclist_clear_s"] = 16.0  # N_T
    raw["phases"].append({"state": "rrGr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 10.0})
    j = parse_intersection(raw, "s_only.toml")  # phase 2: S_T alone, which N_T does not conflict with
    seen = (99.0, -math.inf, -math.inf, -math.inf)
    assert cyclist_all_red_s(j, _view(j, 100.0), 2, seen, 100.0, GateMemo()) == 0.0
    assert cyclist_all_red_s(j, _view(j, 100.0), 1, seen, 100.0, GateMemo()) == 12.0


def test_a_cyclist_on_a_movement_stopped_one_change_earlier_still_gets_its_crossing_time() -> None:
    """R's finding (session 61): N_T's bicycle counted at 99 s, N_T stopped at 100 s toward phase 1 (S_T alone,
    which N_T does not conflict with: no extension then), phase 1 green from 105 s, and at 112 s (its minimum green
    done) the change to E/W, which N_T conflicts with. The cyclist has 30 s to cross, so is inside until 129 s: the
    E/W green waits for it (yellow to 115 s, then 14 s of all-red) although this change does not stop N_T."""
    raw = two_phase_raw()
    raw["movements"][0]["cyclist_clear_s"] = 30.0  # N_T
    ns, ew = raw["phases"]
    raw["phases"] = [ns, {**ns, "state": "rrGr"}, ew]
    j = parse_intersection(raw, "stopped_before.toml")
    seen = (99.0, -math.inf, -math.inf, -math.inf)
    at_stop = SignalView(0, False, 20.0, (100.0, 80.0, 100.0, 80.0))
    assert cyclist_all_red_s(j, at_stop, 1, seen, 100.0, GateMemo()) == 0.0  # toward S_T alone: none needed
    later = SignalView(1, False, 7.0, (100.0, 72.0, 112.0, 72.0))
    assert cyclist_all_red_s(j, later, 2, seen, 112.0, GateMemo()) == 14.0
    assert cyclist_all_red_s(j, later, 2, seen, 112.0 + 16.0, GateMemo()) == 0.0  # it is out by then
    assert cyclist_all_red_s(j, later, 0, seen, 112.0, GateMemo()) == 0.0  # back to N_T's own green: none


def test_the_plan_s_all_red_is_shown_only_before_the_plan_s_own_phase() -> None:
    """sim/roadside.py gives a change the plan's `all_red_s` only when it goes to the plan's phase (`plan.phase ==
    nxt`): the gate sized it for that change alone, and checked the maximum reds with it there. Phase 0 held by a plan
    that came with 12 s of all-red; E_T and W_T red since 0 s reach max_red_s 40 s, so the roadside itself changes
    to phase 1 (a max-red override): through the junction's own 2 s of all-red, E_T green again at 41 s (red from 1 s:
    40 s). Given the plan's 12 s there (session 61's surviving mutant: the comparison dropped), E_T would be red
    50 s."""
    rc = RoadsideController(_junction(max_red_s=40.0), backup_s=1e6, max_validity_s=1e6)
    assert rc.receive(PhaseCommand("J", "p1", 1, 0, 1.0, 0.0, 1e6, all_red_s=12.0), 0.0) == ""
    states = [rc.tick(float(t), 0, float(t)) or "" for t in range(60)]
    ew = states.index("rGrG")
    assert states[ew - 5 : ew] == ["yryr"] * 3 + ["rrrr"] * 2
    assert ew == 41 and any("limit: max red: movement E_T" in f for f in rc.status(float(ew)).faults)


def _asked(all_red_s: float, max_red_s: float) -> tuple[list[str], tuple[str, ...]]:
    """Phase 0 (N/S) from 0 s; at 25 s a plan for phase 1 (E/W, red since 0 s) with `all_red_s`: the states shown
    from 25 s and the faults at 60 s."""
    rc = RoadsideController(_junction(max_red_s=max_red_s), backup_s=1e6, max_validity_s=1e6)
    assert rc.receive(PhaseCommand("J", "p1", 1, 0, 1.0, 0.0, 1e6), 0.0) == ""
    for t in range(25):
        rc.tick(float(t), 0, float(t))
    assert rc.receive(PhaseCommand("J", "p2", 2, 1, 1.0, 25.0, 1e6, all_red_s=all_red_s), 25.0) == ""
    return [rc.tick(float(t), None, 0.0) or "" for t in range(25, 60)], rc.status(60.0).faults


def test_the_roadside_cuts_a_plan_s_all_red_that_would_keep_a_movement_red_past_max_red() -> None:
    """The admission checks only that `all_red_s` is at most max_red_s; the cabinet keeps max red itself (its
    second line: the gate sized the all-red at its decision, the change may come later). E/W red since 0 s, the
    change at 25 s: 30 s of all-red would show their green at 58 s, red 57 s against max_red_s 40; the roadside shows
    13 s (green at 41 s, red 40 s) and says so. Within the limit it shows what the plan asks."""
    states, faults = _asked(30.0, 40.0)
    assert states[:3] == ["yryr"] * 3 and states[3:16] == ["rrrr"] * 13 and states[16] == "rGrG"
    assert "limit: max red: all-red 30 s cut to 13 s for movement E_T" in faults
    states, faults = _asked(13.0, 40.0)
    assert states[3:16] == ["rrrr"] * 13 and states[16] == "rGrG" and not faults
    states, faults = _asked(30.0, 120.0)
    assert states[3:33] == ["rrrr"] * 30 and states[33] == "rGrG" and not faults


def test_a_bicycle_counted_after_its_movement_s_green_and_yellow_is_held_at_red_not_inside() -> None:
    """A stop-line loop counts a cyclist that rolls over it to wait at the red line (SUMO's loop 2 m before it): N_T
    last green at 100 s, its yellow to 103 s; a count up to 104 s (one period late) may be a cyclist that entered on
    the yellow, one at 105 s is held at its red and gets no all-red at the change to E/W at 112 s. N_T stopped by
    this change (green now) keeps every count, as before."""
    raw = two_phase_raw()
    raw["movements"][0]["cyclist_clear_s"] = 30.0  # N_T
    ns, ew = raw["phases"]
    raw["phases"] = [ns, {**ns, "state": "rrGr"}, ew]
    j = parse_intersection(raw, "held.toml")
    later = SignalView(1, False, 7.0, (100.0, 72.0, 112.0, 72.0))

    def asked(seen_s: float) -> float:
        return cyclist_all_red_s(j, later, 2, (seen_s, -math.inf, -math.inf, -math.inf), 112.0, GateMemo())

    assert asked(104.0) == 19.0 and asked(105.0) == 0.0 and asked(111.0) == 0.0
    assert _all_red(_junction(), 99.0) == 12.0  # green now: counted at 99 s, it may be inside


def test_the_roadside_s_all_red_cut_counts_the_target_s_minimum_green_for_a_movement_it_does_not_serve() -> None:
    """R's review (session 62): the cut's room for a movement the plan's phase does not serve counts that phase's
    minimum green and the intergreen after it too (_red_through_of); with that term dropped every test passed.
    Phases: N/S (0), E_T alone (1), W_T alone (2); max_red_s 60. At 25 s a plan for phase 1 asks 30 s of all-red:
    W_T, red since 0 s, can be green no sooner than the yellow (3 s), the all-red, phase 1's 7 s and its 5 s
    intergreen later, so the all-red is cut to 21 s (W_T green at 61 s, red 60 s). The roadside, left on phase 1,
    then changes to W_T's phase itself at its maximum red."""
    raw = two_phase_raw()
    raw["max_red_s"] = 60.0
    ns, ew = raw["phases"]
    raw["phases"] = [ns, {**ew, "state": "rGrr"}, {**ew, "state": "rrrG"}]
    rc = RoadsideController(parse_intersection(raw, "three.toml"), backup_s=1e6, max_validity_s=1e6)
    assert rc.receive(PhaseCommand("J", "p1", 1, 0, 1.0, 0.0, 1e6), 0.0) == ""
    for t in range(25):
        rc.tick(float(t), 0, float(t))
    assert rc.receive(PhaseCommand("J", "p2", 2, 1, 1.0, 25.0, 1e6, all_red_s=30.0), 25.0) == ""
    states, faults = [], set()
    for t in range(25, 90):
        states.append(rc.tick(float(t), None, 0.0) or "")
        faults.update(rc.status(float(t)).faults)
    assert states[:3] == ["yryr"] * 3 and states[3:24] == ["rrrr"] * 21 and states[24] == "rGrr"
    assert "limit: max red: all-red 30 s cut to 21 s for movement W_T" in faults
    w_green_s = 25 + next(k for k, s in enumerate(states) if s[3] == "G")
    assert w_green_s - 1 <= 60  # W_T red from 1 s (its last green 0 s) to its green: within max_red_s


def test_the_roadside_cuts_a_plan_s_all_red_to_whole_seconds_within_max_red() -> None:
    """The cut rounds the room down (R's review, session 62: rounding it up passed every test): max_red_s 40.5, E_T red
    since 0 s, the change at 25 s: 13 s of all-red (green at 41 s, red 40 s), not 14 (red 41 s, past 40.5)."""
    states, faults = _asked(30.0, 40.5)
    assert states[3:16] == ["rrrr"] * 13 and states[16] == "rGrG"
    assert "limit: max red: all-red 30 s cut to 13 s for movement E_T" in faults

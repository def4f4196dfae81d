"""No green into a road that stores no vehicle while the light at its end is red to it
(controller/core/coupledexit.py, [estimation] coupled_exit_red)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.coupledexit import CoupledExits, held_shares, keeps_open, merged
from controller.core.estimation import Estimate, EstimationParams, Layout
from controller.core.policies import make_policy
from controller.core.step import Core
from controller.junctions import parse_intersection
from controller.model import DetectorReading, Intersection, PhaseCommand, SignalStatus, Snapshot
from tests.junction_fixtures import two_phase_raw


def _pair(coupled: bool = True) -> tuple[Intersection, Intersection]:
    """J's north approach leaves over `link` (J's N_T exit), a 0.2 m road that is K's north
    approach (K's N_T, served in K's phase 0); `coupled`: the import lists each in the other's
    `coupled`. K's loops on the road sit at its start."""
    j = two_phase_raw()
    j["movements"][0]["to_edge"] = "link"
    k = two_phase_raw()
    k["id"] = "K"
    k["movements"][0].update(from_edge="link", lanes=["link_0"], storage_pcu=1.0)
    for d in k["detectors"]:
        if d["id"].startswith("N_"):
            d["lane"] = "link_0"
            d["pos_m"], d["dist_to_stop_m"] = 0.0, 0.2
        d["id"] = "K_" + d["id"]
    if coupled:
        j["coupled"], k["coupled"] = ["K"], ["J"]
    return parse_intersection(j, "J.toml"), parse_intersection(k, "K.toml")


def _layouts(coupled: bool = True) -> dict[str, Layout]:
    return {j.id: Layout.build(j) for j in _pair(coupled)}


def _estimates(lays: dict[str, Layout]) -> dict[str, Estimate]:
    ests = {jid: Estimate.empty(lay, 0.0) for jid, lay in lays.items()}
    ests["J"] = replace(ests["J"], queue_pcu=np.full(4, 3.0))
    return ests


def test_a_movement_into_a_coupled_road_is_held_while_the_next_light_is_red_to_it():
    lays = _layouts()
    ce = CoupledExits.build(lays)
    assert [(e.movement, e.junction) for e in ce.exits["J"]] == [(0, "K")] and "K" not in ce.exits
    assert [(j, e.movement) for j, e in ce.into["K"]] == [("J", 0)] and "J" not in ce.into
    shares = held_shares(ce, lays, _estimates(lays), {"J": 0, "K": 1})  # K shows E/W: red to the road
    assert shares["J"][0].tolist() == [1.0, 0.0, 0.0, 0.0] and shares["J"][1].tolist() == [0.0] * 4
    # J's 3 PCU waiting to enter the road count at K's north movement, which leaves it
    assert shares["K"][0].tolist() == [0.0] * 4 and shares["K"][1].tolist() == [3.0, 0.0, 0.0, 0.0]


def test_green_at_the_next_light_holds_nothing_and_the_queue_still_counts_there():
    lays = _layouts()
    shares = held_shares(CoupledExits.build(lays), lays, _estimates(lays), {"J": 0, "K": 0})
    assert "J" not in shares  # untouched
    assert shares["K"][1].tolist() == [3.0, 0.0, 0.0, 0.0]


def test_no_status_of_the_next_light_holds_nothing():
    lays = _layouts()
    assert held_shares(CoupledExits.build(lays), lays, _estimates(lays), {"J": 0, "K": None}) == {}


def test_a_road_to_a_light_not_coupled_is_not_watched():
    assert CoupledExits.build(_layouts(coupled=False)).exits == {}


def test_two_readings_merge_by_the_larger_share_and_the_summed_queue():
    a = {"J": (np.array([0.3, 0.0]), np.array([1.0, 0.0]))}
    b = {"J": (np.array([1.0, 0.0]), np.array([0.5, 2.0])), "K": (np.zeros(2), np.ones(2))}
    out = merged(a, b)
    assert out["J"][0].tolist() == [1.0, 0.0] and out["J"][1].tolist() == [1.5, 2.0]
    assert out["K"][1].tolist() == [1.0, 1.0]


def _reading(det: str, occupied: bool, count: int = 0) -> DetectorReading:
    counts = (("car", count),) if count else ()
    return DetectorReading(det, counts, 1.0 if occupied else (0.3 if count else 0.0), 0.0 if occupied else 10.0)


def _run(coupled_exit_red: bool, deaf: str = "") -> list[int]:
    """40 s: J shows its E/W phase (1) with nothing on E/W, while a queue builds on its north
    approach, whose exit is the 0.2 m road to K; K shows its E/W phase (1), red to the road,
    with a queue on its east approach. The phases J is commanded to."""
    cfg = Config(estimation=EstimationParams(coupled_exit_red=coupled_exit_red))
    core = Core({x.id: Layout.build(x, cfg) for x in _pair()}, make_policy("adaptive", cfg), cfg)
    return _drive(core, north_arriving=True, shown_phase=1, watched="J", deaf=deaf)


def _drive(core: Core, north_arriving: bool, shown_phase: int, watched: str, deaf: str = "") -> list[int]:
    """40 s of the pair under `core`: both lights report `shown_phase`; a queue builds on K's east
    approach; J's north approach has a vehicle arriving each second and its stop loop occupied
    from 6 s (`north_arriving`), or a vehicle held on its stop loop throughout. `deaf`: a light
    whose loops stop after the first second (its status still reports). The phases `watched` is
    commanded to."""
    state, phases = core.initial_state(0.0), []
    for t in range(1, 41):
        sj = [_reading(f"{a}_{kind}", False) for a in "ESW" for kind in ("stop", "adv")]
        sj += [_reading("N_adv", False, int(north_arriving)), _reading("N_stop", t > 5 or not north_arriving)]
        sk = [_reading(f"K_{a}_{kind}", False) for a in "NSW" for kind in ("stop", "adv")]
        sk += [_reading("K_E_adv", False, 1), _reading("K_E_stop", t > 5)]
        snaps = [Snapshot(x, float(t), 1.0, tuple(r)) for x, r in (("J", sj), ("K", sk)) if x != deaf or t == 1]
        statuses = [SignalStatus(x, float(t), shown_phase, False, float(t), "", 0, "local") for x in ("J", "K")]
        state, result = core.step(state, snaps, statuses, float(t))
        phases += [c.phase for c in result.commands if isinstance(c, PhaseCommand) and c.junction == watched]
    return phases


def test_no_green_is_given_into_a_coupled_road_the_next_light_is_red_to():
    assert 0 in _run(coupled_exit_red=False)  # the north queue wins the green, the next light red or not
    assert 0 not in _run(coupled_exit_red=True)


def test_the_next_light_keeps_the_road_open_while_a_queue_is_sent_into_it():
    lays = _layouts()
    ce, ests = CoupledExits.build(lays), _estimates(lays)
    assert keeps_open(ce, "K", 0, 1, lays, ests, {"J": 0})  # J serves its north queue into the road
    assert not keeps_open(ce, "K", 0, 1, lays, ests, {"J": 1})  # J sends nothing into it
    assert not keeps_open(ce, "K", 1, 0, lays, ests, {"J": 0})  # K opens the road, it does not close it
    assert not keeps_open(ce, "J", 0, 1, lays, ests, {"K": 0})  # nothing enters J over a coupled road
    empty = {**ests, "J": replace(ests["J"], queue_pcu=np.zeros(4))}
    assert not keeps_open(ce, "K", 0, 1, lays, empty, {"J": 0})  # no queue waits to enter


def _run_k(coupled_exit_red: bool, deaf: str = "") -> list[int]:
    """40 s: J shows its N/S phase (0), sending its north queue (a vehicle held at the stop line)
    into the 0.2 m road to K; K shows its N/S phase (0), serving the road, with nothing on it and a
    queue building on its east approach that outweighs J's queue. The phases K is commanded to."""
    cfg = Config(estimation=EstimationParams(coupled_exit_red=coupled_exit_red))
    core = Core({x.id: Layout.build(x, cfg) for x in _pair()}, make_policy("adaptive", cfg), cfg)
    return _drive(core, north_arriving=False, shown_phase=0, watched="K", deaf=deaf)


def test_the_next_light_does_not_close_a_coupled_road_a_queue_is_sent_into():
    assert 1 in _run_k(coupled_exit_red=False)  # the east queue wins the green: the road closes on J's queue
    assert 1 not in _run_k(coupled_exit_red=True)


def test_the_next_light_on_a_stale_feed_still_holds_the_road():
    """K's loops last reported more than [service] feed_stale_s ago (the core no longer commands
    it, it runs its own plan) but its status still comes: the red it shows still holds the road,
    as with a fresh feed (the review of session 20: a light on its own plan is when the hold
    matters most)."""
    assert 0 not in _run(coupled_exit_red=True)  # K's feed fresh, its status red to the road: held throughout
    assert 0 not in _run(coupled_exit_red=True, deaf="K")


def test_the_queue_of_a_light_upstream_on_a_stale_feed_is_not_added_to_the_next_light():
    """J's loops are old: its queue waiting to enter the road is not put on K's movements leaving it."""
    lays = _layouts()
    ce, ests = CoupledExits.build(lays), _estimates(lays)
    assert held_shares(ce, lays, ests, {"J": 0, "K": 0})["K"][1].sum() > 0.0
    assert "K" not in held_shares(ce, lays, ests, {"J": 0, "K": 0}, frozenset({"J"}))
    assert not keeps_open(ce, "K", 0, 1, lays, ests, {"J": 0}, frozenset({"J"}))


def test_a_light_upstream_on_a_stale_feed_keeps_no_road_open():
    """J's loops last reported more than [service] feed_stale_s ago (its queue reading is old): K
    is not kept on the road for it, the east queue wins as with no coupled light."""
    assert 1 not in _run_k(coupled_exit_red=True)  # J's feed fresh: K kept on the road throughout
    assert 1 in _run_k(coupled_exit_red=True, deaf="J")


def _layouts_with_turn(turn_states: tuple[str, str] = ("GrGrG", "rGrGG")) -> dict[str, Layout]:
    """As `_pair`, with a right turn off the road at K (link 4, `N_R`) lit as `turn_states` gives
    K's two phases: by default the N/S phase (0) serves both of the road's movements, the E/W
    phase (1) the turn only (a vehicle for the through stops on the road, in J's box)."""
    j = two_phase_raw()
    j["movements"][0]["to_edge"] = "link"
    k = two_phase_raw()
    k["id"], k["n_links"] = "K", 5
    k["phases"][0]["state"], k["phases"][1]["state"] = turn_states
    k["movements"][0].update(from_edge="link", lanes=["link_0"], storage_pcu=1.0)
    k["movements"].append(dict(k["movements"][0], id="N_R", turn="right", links=[4], conflicts=[]))
    for d in k["detectors"]:
        if d["id"].startswith("N_"):
            d["lane"] = "link_0"
            d["pos_m"], d["dist_to_stop_m"] = 0.0, 0.2
        d["id"] = "K_" + d["id"]
    j["coupled"], k["coupled"] = ["K"], ["J"]
    return {x.id: Layout.build(x) for x in (parse_intersection(j, "J.toml"), parse_intersection(k, "K.toml"))}


def _queued(lays: dict[str, Layout]) -> dict[str, Estimate]:
    ests = {jid: Estimate.empty(lay, 0.0) for jid, lay in lays.items()}
    return {**ests, "J": replace(ests["J"], queue_pcu=np.full(4, 3.0))}


def test_a_coupled_road_is_open_only_while_every_movement_off_it_is_served():
    lays = _layouts_with_turn()
    ests = _queued(lays)
    any_, all_ = CoupledExits.build(lays), CoupledExits.build(lays, all_movements=True)
    # K's E/W phase serves the turn off the road, not its through
    assert "J" not in held_shares(any_, lays, ests, {"J": 0, "K": 1})
    assert held_shares(all_, lays, ests, {"J": 0, "K": 1})["J"][0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert "J" not in held_shares(all_, lays, ests, {"J": 0, "K": 0})
    # K leaving its N/S phase (both) for E/W (the turn only) while J sends its queue into the road
    assert not keeps_open(any_, "K", 0, 1, lays, ests, {"J": 0})
    assert keeps_open(all_, "K", 0, 1, lays, ests, {"J": 0})


def test_a_road_whose_movements_no_stage_serves_together_is_open_in_each_of_them():
    lays = _layouts_with_turn(("GrGrr", "rGrGG"))  # the through in phase 0, the turn in phase 1
    ests = _queued(lays)
    all_ = CoupledExits.build(lays, all_movements=True)
    assert "J" not in held_shares(all_, lays, ests, {"J": 0, "K": 1})
    assert not keeps_open(all_, "K", 0, 1, lays, ests, {"J": 0})


def _run_turn(coupled_exit_all: bool) -> list[int]:
    """As `_run_k` with `_layouts_with_turn`'s K: K's E/W phase (1) serves the turn off the road
    but not its through. The phases K is commanded to."""
    cfg = Config(estimation=EstimationParams(coupled_exit_red=True, coupled_exit_all=coupled_exit_all))
    lays = {jid: Layout.build(lay.junction, cfg) for jid, lay in _layouts_with_turn().items()}
    return _drive(Core(lays, make_policy("adaptive", cfg), cfg), north_arriving=False, shown_phase=0, watched="K")


def test_the_next_light_keeps_every_movement_off_the_road_open_with_coupled_exit_all():
    assert 1 in _run_turn(coupled_exit_all=False)  # the E/W phase serves the turn: counted as open
    assert 1 not in _run_turn(coupled_exit_all=True)

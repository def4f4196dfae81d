"""Don't block the box (controller/core/keepclear.py, [estimation] keep_clear): a movement whose
exit lane the next light's loops see full to its entry is seen blocked by the policies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, EstimationParams, Layout
from controller.core.keepclear import KeepClear, ShortLinks, blocked_shares, room_shares, seen_by_policy
from controller.core.policies import make_policy
from controller.core.step import Core
from controller.model import DetectorReading, PhaseCommand, SignalStatus, Snapshot
from tests.estimate_fixtures import short_link_layouts, short_pair_junctions


def _layouts(adv_pos_m: float = 0.0) -> dict[str, Layout]:
    return {j.id: Layout.build(j) for j in short_pair_junctions(adv_pos_m)}


def _standing(lay: Layout, lane: str, standing_s: float, stop_empty_s: float = 0.0, green_s: float = 10.0) -> Estimate:
    est = Estimate.empty(lay, 0.0)
    li = lay.lanes.index(lane)
    adv, stop, green = est.lanes.adv_standing_s.copy(), est.lanes.stop_empty_s.copy(), est.lanes.green_s.copy()
    adv[li], stop[li], green[li] = standing_s, stop_empty_s, green_s
    return replace(est, lanes=replace(est.lanes, adv_standing_s=adv, stop_empty_s=stop, green_s=green))


def test_an_exit_lane_full_to_its_entry_blocks_the_movement_that_feeds_it():
    lays = _layouts()
    kc = KeepClear.build(lays, 7.5, 3.0)
    assert [(e.movement, e.junction) for e in kc.exits["J"]] == [(0, "K")] and "K" not in kc.exits
    ests = {"J": Estimate.empty(lays["J"], 0.0), "K": _standing(lays["K"], "link_0", 4.0)}
    ests["J"] = replace(ests["J"], queue_pcu=np.full(4, 3.0), flow_pcu_h=np.full(4, 600.0))
    shares = blocked_shares(kc, lays, ests)
    assert shares["J"][0].tolist() == [1.0, 0.0, 0.0, 0.0] and shares["J"][1].tolist() == [0.0] * 4
    # J's 3 PCU waiting to enter the full lane are held behind K's north movement, which drains it
    assert shares["K"][0].tolist() == [0.0] * 4 and shares["K"][1].tolist() == [3.0, 0.0, 0.0, 0.0]
    seen = seen_by_policy(lays["J"], ests["J"], shares["J"])
    assert seen.queue_pcu.tolist() == [0.0, 3.0, 3.0, 3.0] and seen.flow_pcu_h.tolist() == [0.0, 600.0, 600.0, 600.0]
    assert ests["J"].queue_pcu.tolist() == [3.0] * 4  # the estimate kept is not changed
    assert seen_by_policy(lays["K"], ests["K"], shares["K"]).queue_pcu.tolist() == [3.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "standing_s, stop_empty_s, green_s",
    [(2.0, 0.0, 10.0), (4.0, 1.0, 10.0), (30.0, 0.0, 0.0), (30.0, 0.0, 5.0)],
    ids=["not stood long enough", "stop line empty", "full at its red", "green not yet past the start-up"],
)
def test_a_lane_not_seen_full_blocks_nothing(standing_s, stop_empty_s, green_s):
    lays = _layouts()
    kc = KeepClear.build(lays, 7.5, 3.0)
    ests = {"J": Estimate.empty(lays["J"], 0.0), "K": _standing(lays["K"], "link_0", standing_s, stop_empty_s, green_s)}
    assert blocked_shares(kc, lays, ests) == {}


def test_an_advance_loop_with_room_upstream_of_it_is_not_watched():
    # 20 m into the lane: a standing queue there still leaves two vehicles' room at the entry
    assert KeepClear.build(_layouts(adv_pos_m=20.0), 7.5, 3.0).exits == {}


def _reading(det: str, occupied: bool, count: int = 0) -> DetectorReading:
    counts = (("car", count),) if count else ()
    return DetectorReading(det, counts, 1.0 if occupied else (0.3 if count else 0.0), 0.0 if occupied else 10.0)


def _run(keep_clear: bool) -> list[int]:
    """40 s: J shows its E/W phase (1) with nothing on E/W, while a queue builds on its north
    approach; K's north approach (J's north exit) stands full from its entry through K's green
    for it. The phases J is commanded to."""
    cfg = Config(estimation=EstimationParams(keep_clear=keep_clear))
    j, k = short_pair_junctions()
    core = Core({x.id: Layout.build(x, cfg) for x in (j, k)}, make_policy("adaptive", cfg), cfg)
    return _phases_at_j(core, lambda t: [_reading("K_N_adv", True), _reading("K_N_stop", True)], k_phase=0)


def _phases_at_j(core: Core, k_north: Callable[[int], list[DetectorReading]], k_phase: int) -> list[int]:
    """40 s of J's north queue wanting its green (J shows E/W with nothing on it) while K shows
    `k_phase` and its north loops read `k_north(t)`. The phases J is commanded to."""
    state, phases = core.initial_state(0.0), []
    for t in range(1, 41):
        sj = [_reading(f"{a}_{kind}", False) for a in "ESW" for kind in ("stop", "adv")]
        sj += [_reading("N_adv", False, 1), _reading("N_stop", t > 5)]
        sk = [_reading(f"K_{a}_{kind}", False) for a in "ESW" for kind in ("stop", "adv")] + k_north(t)
        snaps = [Snapshot("J", float(t), 1.0, tuple(sj)), Snapshot("K", float(t), 1.0, tuple(sk))]
        shown = (("J", 1), ("K", k_phase))
        statuses = [SignalStatus(x, float(t), p, False, float(t), "", 0, "local") for x, p in shown]
        state, result = core.step(state, snaps, statuses, float(t))
        phases += [c.phase for c in result.commands if isinstance(c, PhaseCommand) and c.junction == "J"]
    return phases


def test_no_green_is_given_into_a_full_exit():
    assert 0 in _run(keep_clear=False)  # the north queue wins the green, its exit full or not
    assert 0 not in _run(keep_clear=True)


# [estimation] short_link_room (keepclear.ShortLinks): a short link with no room for a whole vehicle


def _queued(lay: Layout, lane: str, queue_pcu: float) -> Estimate:
    est = Estimate.empty(lay, 0.0)
    q = est.lanes.queue_pcu.copy()
    q[lay.lanes.index(lane)] = queue_pcu
    return replace(est, lanes=replace(est.lanes, queue_pcu=q))


def _short_links(lays: dict[str, Layout]) -> ShortLinks:
    return ShortLinks.build(KeepClear.build(lays, 7.5, 3.0), lays, 7.5)


def test_a_short_link_with_no_room_at_its_far_red_blocks_the_movement_into_it():
    lays = short_link_layouts()
    sl = _short_links(lays)
    assert [(e.movement, e.junction) for e in sl.exits["J"]] == [(0, "K")] and sl.storage_pcu["K"][0] == 2.0
    ests = {"J": Estimate.empty(lays["J"], 0.0), "K": _queued(lays["K"], "link_0", 1.5)}
    # K shows its E/W stage: nothing leaves the link, and 1.5 of its 2 PCU leave no whole vehicle's room
    shares = room_shares(sl, lays, ests, {"J": 0, "K": 1})
    assert shares["J"][0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert room_shares(sl, lays, ests, {"J": 0, "K": 0}) == {}  # K's protected green drains it
    assert room_shares(sl, lays, ests, {"J": 0, "K": None}) == {}  # no status: not read
    assert room_shares(sl, lays, ests, {"J": 0, "K": 1}, frozenset({"K"})) == {}  # stale feed: not read
    room = {"J": ests["J"], "K": _queued(lays["K"], "link_0", 0.9)}  # room for one more vehicle
    assert room_shares(sl, lays, room, {"J": 0, "K": 1}) == {}


def test_a_link_storing_what_one_minimum_green_sends_is_not_short():
    assert _short_links(short_link_layouts(link_m=30.0)).exits == {}  # 4 PCU against 3.5 (7 s at 1,800 PCU/h)


def _run_short(short_link_room: bool) -> list[int]:
    """40 s: J's north queue wants its green (J shows E/W with nothing on it) into a 15 m link to
    K, K shows its E/W stage (red to the link) and two cars stand on the link: counted in over its
    advance loop, none out over its stop line. The phases J is commanded to."""
    cfg = Config(estimation=EstimationParams(short_link_room=short_link_room))
    lays = short_link_layouts()
    core = Core({x: Layout.build(lays[x].junction, cfg) for x in ("J", "K")}, make_policy("adaptive", cfg), cfg)
    return _phases_at_j(
        core, lambda t: [_reading("K_N_adv", False, 1 if t in (2, 4) else 0), _reading("K_N_stop", t > 4)], k_phase=1
    )


def test_no_green_is_given_into_a_short_link_with_no_room():
    assert 0 in _run_short(short_link_room=False)  # the north queue wins the green, the link full or not
    assert 0 not in _run_short(short_link_room=True)

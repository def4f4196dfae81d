"""A link full back to the light it leaves weighs the queue waiting at that light
(controller/core/lightqueue.py, [estimation] queue_past_room_at_light)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, EstimationParams, Layout
from controller.core.lightqueue import LightFed, held_at_light
from controller.core.policies import make_policy
from controller.core.step import Core
from controller.junctions import parse_intersection
from controller.model import DetectorReading, Intersection, PhaseCommand, SignalStatus, Snapshot
from tests.junction_fixtures import two_phase_raw

LINK_M = 12.1  # ingolstadt21's -174800513: K's advance loop at its start, room 0 past it


def _pair(from_light: bool = True, reach: dict | None = None) -> tuple[Intersection, Intersection]:
    """J's north approach leaves over `link` (J's N_T exit), a 12.1 m road that is K's north
    approach (K's N_T, served in K's phase 0); K's advance loop on it sits at its start, marked
    `room_from_light` (`from_light`) as import-net marks a loop whose road starts at a light.
    `reach`: J's N_T exits onto another edge, `road`, that leads to `link` over an unsignalised
    node (these Movement.reach_* fields)."""
    j = two_phase_raw()
    j["movements"][0]["to_edge"] = "link"
    if reach is not None:
        j["movements"][0].update(to_edge="road", reach_edge="link", reach_storage_pcu=3.0, **reach)
    k = two_phase_raw()
    k["id"] = "K"
    k["movements"][0].update(from_edge="link", lanes=["link_0"], storage_pcu=1.6)
    for d in k["detectors"]:
        if d["id"] == "N_adv":
            d.update(lane="link_0", pos_m=0.0, dist_to_stop_m=LINK_M, room_from_light=from_light)
        elif d["id"] == "N_stop":
            d.update(lane="link_0", pos_m=LINK_M - 2.0, dist_to_stop_m=2.0)
        d["id"] = "K_" + d["id"]
    return parse_intersection(j, "J.toml"), parse_intersection(k, "K.toml")


def _layouts(from_light: bool = True, cap: bool = True, reach: dict | None = None) -> dict[str, Layout]:
    cfg = Config(estimation=EstimationParams(hidden_room_at_light=cap, queue_past_room_at_light=True))
    return {x.id: Layout.build(x, cfg) for x in _pair(from_light, reach)}


def _estimates(lays: dict[str, Layout], standing_s: float = 30.0, hidden: float = 0.0) -> dict[str, Estimate]:
    """J: 6 PCU on its movement into the link. K: the link's lane (0) has its advance loop standing
    for `standing_s`, `hidden` PCU upstream of it."""
    ests = {jid: Estimate.empty(lay, 0.0) for jid, lay in lays.items()}
    ests["J"] = replace(ests["J"], queue_pcu=np.array([6.0, 1.0, 0.0, 0.0]))
    ls = ests["K"].lanes
    stood, hid = ls.adv_standing_s.copy(), ls.hidden_pcu.copy()
    stood[0], hid[0] = standing_s, hidden
    ests["K"] = replace(ests["K"], lanes=replace(ls, adv_standing_s=stood, hidden_pcu=hid))
    return ests


def test_the_link_is_found_from_the_network_model():
    lays = _layouts()
    lf = LightFed.build(lays)
    assert list(lf.links) == ["K"]
    (link,) = lf.links["K"]
    assert link.light == "J" and link.lanes.tolist() == [0] and link.capped.tolist() == [True]
    assert link.feeds.tolist() == [True, False, False, False]
    assert float(lays["K"].lane_hidden_cap_pcu[0]) == 0.0  # the loop at the link's start: no room
    assert LightFed.build(_layouts(from_light=False)).links == {}  # a road not from a light: no cap, not read


def test_a_road_of_several_edges_from_the_light_is_followed_where_no_stream_joins_or_leaves():
    (link,) = LightFed.build(_layouts(reach={"reach_merges": 0, "reach_diverges": 0})).links["K"]
    assert link.light == "J" and link.feeds.tolist() == [True, False, False, False]
    assert LightFed.build(_layouts(reach={"reach_merges": 1, "reach_diverges": 0})).links == {}
    assert LightFed.build(_layouts(reach={"reach_merges": 0, "reach_diverges": 1})).links == {}


def test_the_queue_at_the_light_counts_on_the_movement_off_a_link_full_back_to_it():
    lays = _layouts()
    out = held_at_light(LightFed.build(lays), lays, _estimates(lays))
    assert list(out) == ["K"]
    assert out["K"][0].tolist() == [0.0] * 4  # nothing is seen blocked
    assert out["K"][1].tolist() == [6.0, 0.0, 0.0, 0.0]  # J's 6 PCU for the link, at K's movement off it


def test_nothing_is_added_before_the_advance_loop_has_stood():
    lays = _layouts()
    standing_s = lays["K"].params.standing_s
    assert held_at_light(LightFed.build(lays), lays, _estimates(lays, standing_s=standing_s - 1.0)) == {}
    assert held_at_light(LightFed.build(lays), lays, _estimates(lays, standing_s=standing_s))["K"][1][0] == 6.0


def test_what_the_hidden_queue_counts_past_the_room_is_not_counted_twice():
    lays = _layouts(cap=False)  # the estimator's hidden queue grows past the room: 4 of the 6 are there
    out = held_at_light(LightFed.build(lays), lays, _estimates(lays, hidden=4.0))
    assert out["K"][1].tolist() == [pytest.approx(2.0), 0.0, 0.0, 0.0]
    assert held_at_light(LightFed.build(lays), lays, _estimates(lays, hidden=7.0)) == {}


def test_a_light_with_a_stale_feed_is_not_read():
    lays = _layouts()
    assert held_at_light(LightFed.build(lays), lays, _estimates(lays), stale=frozenset({"J"})) == {}


def _reading(det: str, occupied: bool, count: int = 0) -> DetectorReading:
    counts = (("car", count),) if count else ()
    return DetectorReading(det, counts, 1.0 if occupied else (0.3 if count else 0.0), 0.0 if occupied else 10.0)


def _run(key: bool, end_s: int = 40, j_until_s: int = 40) -> list[int]:
    """40 s (`end_s`): K shows its E/W phase (1), a queue building on its east approach (a car every
    other second); the link stands full on both K's loops (nobody leaves it at K's red); at J a car a
    second arrives for the link and stands at J's stop line, J showing its N/S phase (0); J's
    detector feed stops after `j_until_s`. The phases K is commanded to."""
    cfg = Config(estimation=EstimationParams(hidden_room_at_light=True, queue_past_room_at_light=key))
    core = Core({x.id: Layout.build(x, cfg) for x in _pair()}, make_policy("adaptive", cfg), cfg)
    state, phases = core.initial_state(0.0), []
    for t in range(1, end_s + 1):
        sj = [_reading(f"{a}_{kind}", False) for a in "ESW" for kind in ("stop", "adv")]
        sj += [_reading("N_adv", False, 1), _reading("N_stop", t > 3)]
        sk = [_reading(f"K_{a}_{kind}", False) for a in "SW" for kind in ("stop", "adv")]
        sk += [_reading("K_N_adv", True), _reading("K_N_stop", True)]
        sk += [_reading("K_E_adv", False, t % 2), _reading("K_E_stop", t > 5)]
        snaps = [Snapshot(x, float(t), 1.0, tuple(r)) for x, r in (("J", sj), ("K", sk)) if x == "K" or t <= j_until_s]
        statuses = [SignalStatus(x, float(t), ph, False, float(t), "", 0, "local") for x, ph in (("J", 0), ("K", 1))]
        state, result = core.step(state, snaps, statuses, float(t))
        phases += [c.phase for c in result.commands if isinstance(c, PhaseCommand) and c.junction == "K"]
    return phases


def test_the_light_at_the_links_end_serves_the_link_its_feeder_cannot_send_into():
    assert 0 not in _run(key=False)  # the link's 1.6 PCU lose to the east queue: J's queue waits on
    assert 0 in _run(key=True)  # J's queue for the link weighs at K: K serves the link


def _roomy(room_m: float = 14.0, lanes: int = 1) -> dict[str, Layout]:
    """As _pair, but K's advance loops sit `room_m` into the link (it stores room_m over the jam
    spacing upstream of them), on `lanes` lanes of the link (link_0, link_1, ...), one movement."""
    j, k = two_phase_raw(), two_phase_raw()
    j["movements"][0]["to_edge"] = "link"
    k["id"] = "K"
    names = [f"link_{i}" for i in range(lanes)]
    k["movements"][0].update(from_edge="link", lanes=names, storage_pcu=4.0 * lanes)
    k["detectors"] = [d for d in k["detectors"] if not d["id"].startswith("N_")]
    for lane in names:
        adv = {"id": f"{lane}_adv", "lane": lane, "kind": "advance", "pos_m": room_m, "dist_to_stop_m": 20.0}
        stop = {"id": f"{lane}_stop", "lane": lane, "kind": "stop", "pos_m": room_m + 18.0, "dist_to_stop_m": 2.0}
        k["detectors"] += [{**adv, "room_from_light": True}, stop]
    cfg = Config(estimation=EstimationParams(queue_past_room_at_light=True))
    return {x.id: Layout.build(x, cfg) for x in (parse_intersection(j, "J.toml"), parse_intersection(k, "K.toml"))}


def _lanes_at(lays: dict[str, Layout], hidden: list[float], flow: list[float] | None = None) -> dict[str, Estimate]:
    """J: 6 PCU on its movement into the link. K: every link lane's advance loop standing, these
    hidden PCU and arrival flows on lanes 0, 1, ..."""
    ests = _estimates(lays)
    ls = ests["K"].lanes
    stood, hid, fl = ls.adv_standing_s.copy(), ls.hidden_pcu.copy(), ls.flow_pcu_h.copy()
    for i, h in enumerate(hidden):
        stood[i], hid[i] = 30.0, h
        fl[i] = 0.0 if flow is None else flow[i]
    ests["K"] = replace(ests["K"], lanes=replace(ls, adv_standing_s=stood, hidden_pcu=hid, flow_pcu_h=fl))
    return ests


def test_a_link_with_room_adds_nothing_until_its_hidden_queue_fills_the_room():
    lays = _roomy()  # R, session 50: the room's two conditions, with a room above 0
    room = float(lays["K"].lane_hidden_cap_pcu[0])
    assert 1.0 < room < 6.0
    lf = LightFed.build(lays)
    assert held_at_light(lf, lays, _lanes_at(lays, [room - 0.5])) == {}  # the room not full: J's queue not yet here
    out = held_at_light(lf, lays, _lanes_at(lays, [room + 1.0]))  # 1 PCU past the room is counted there already
    assert out["K"][1].tolist() == [pytest.approx(5.0), 0.0, 0.0, 0.0]


def test_the_lights_queue_is_spread_over_the_links_lanes_by_their_flow():
    lays = _roomy(lanes=2)  # R, session 50
    room = float(lays["K"].lane_hidden_cap_pcu[0])
    lf = LightFed.build(lays)
    out = held_at_light(lf, lays, _lanes_at(lays, [room, room], flow=[600.0, 1200.0]))
    assert out["K"][1].tolist() == [pytest.approx(6.0), 0.0, 0.0, 0.0]
    # lane 0's share is 2 PCU, but 3 are past its room already: it adds nothing, and takes nothing from lane 1's 4
    out = held_at_light(lf, lays, _lanes_at(lays, [room + 3.0, room], flow=[600.0, 1200.0]))
    assert out["K"][1].tolist() == [pytest.approx(4.0), 0.0, 0.0, 0.0]
    # lane 1 past its room by 1: of its 4, 3 are added
    out = held_at_light(lf, lays, _lanes_at(lays, [room, room + 1.0], flow=[600.0, 1200.0]))
    assert out["K"][1].tolist() == [pytest.approx(5.0), 0.0, 0.0, 0.0]


def test_the_queue_of_a_light_whose_feed_went_stale_is_not_weighed_in_the_core():
    """R, session 50: J's feed stops at 15 s (stale from 21 s, [service] feed_stale_s 5): its last
    queue is not weighed at K, which then decides as without the key; with J's feed live K serves
    the link by 40 s."""
    assert 0 in _run(key=True, end_s=40)
    stale = _run(key=True, end_s=80, j_until_s=15)
    assert 0 not in stale[:8] and stale == _run(key=False, end_s=80, j_until_s=15)

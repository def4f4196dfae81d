"""The hidden queue of a lane whose advance loop's own road starts at a light is at most what that
road stores upstream of the loop ([estimation] hidden_room_at_light, Detector.room_from_light): past
it the queue stands on that light's approaches, held at its stop line and counted by its loops."""

from __future__ import annotations

import random

import numpy as np
import pytest

from controller.config import Config
from controller.core import netestimate
from controller.core.estimation import DEFAULT_VEHICLE_SPACING_M, Estimate, EstimationParams, Layout
from controller.model import DetectorReading, Snapshot
from tests.estimate_fixtures import Feed, fold_both_ways, mixed_junctions, named_junction, random_snapshot, reading
from tests.junction_fixtures import two_phase_raw

ADV_POS_M = 20.0  # two_phase's advance loops sit 20 m from their lane's start: the room is 20 m


def _raw(from_light: bool, room_m: float | None) -> dict:
    raw = two_phase_raw()
    for d in raw["detectors"]:
        if d["id"] == "N_adv":
            d["room_from_light"] = from_light
            if room_m is not None:
                d["room_m"] = room_m
    return raw


def _junction(from_light: bool, room_m: float | None):
    return named_junction("J", _raw(from_light, room_m))


def _spilled(from_light: bool, cap: bool, red_s: int, room_m: float | None = None) -> Feed:
    """N's queue reaches its advance loop and stands there for 40 + `red_s` s of red (`room_m`: N's
    advance loop's Detector.room_m; None: its position on its lane)."""
    f = Feed(_junction(from_light, room_m), Config(estimation=EstimationParams(hidden_room_at_light=cap)))
    f.spill_past_the_advance_loop()
    for _ in range(red_s):
        f.step(reading("N_adv", {}, 1.0, 0.0), reading("N_stop", {}, 1.0, 0.0), green=1)
    return f


def _hidden(f: Feed, lane: str = "eN_0") -> float:
    return float(f.est.lanes.hidden_pcu[f.lay.lanes.index(lane)])


def test_the_hidden_queue_of_a_road_from_a_light_stops_at_the_roads_room():
    room_pcu = ADV_POS_M / DEFAULT_VEHICLE_SPACING_M
    capped = _spilled(from_light=True, cap=True, red_s=120)
    assert _hidden(capped) == pytest.approx(room_pcu)  # 2.67 PCU: the road's 20 m, not the held flow's growth
    assert float(capped.lay.lane_hidden_cap_pcu[capped.lay.lanes.index("eN_0")]) == pytest.approx(room_pcu)
    free = _spilled(from_light=True, cap=False, red_s=120)
    assert _hidden(free) > 3.0 * room_pcu  # key off: it grows by the held flow (about 16 PCU here)


def test_a_road_from_an_unsignalised_node_keeps_its_hidden_queue_with_the_key():
    on, off = _spilled(from_light=False, cap=True, red_s=120), _spilled(from_light=False, cap=False, red_s=120)
    assert _hidden(on) == _hidden(off) > 3.0 * ADV_POS_M / DEFAULT_VEHICLE_SPACING_M
    assert np.isinf(on.lay.lane_hidden_cap_pcu).all()


def test_a_hidden_queue_under_the_room_is_not_touched():
    room_m = 200.0  # the road from the light stores 26.7 PCU past the loop
    on = _spilled(from_light=True, cap=True, red_s=120, room_m=room_m)
    off = _spilled(from_light=True, cap=False, red_s=120, room_m=room_m)
    assert 3.0 * ADV_POS_M / DEFAULT_VEHICLE_SPACING_M < _hidden(off) < room_m / DEFAULT_VEHICLE_SPACING_M
    assert _hidden(on) == _hidden(off)


def test_the_flag_must_be_a_boolean():
    from controller.errors import JunctionError

    raw = two_phase_raw()
    raw["detectors"][1]["room_from_light"] = "yes"
    with pytest.raises(JunctionError, match="room_from_light"):
        named_junction("J", raw)


def test_one_pass_over_the_network_equals_junction_by_junction_with_the_cap():
    rng = random.Random(5)
    js = mixed_junctions()
    raw = two_phase_raw()
    for d in raw["detectors"]:
        if d["kind"] == "advance":
            d["room_from_light"] = True
    js["F"] = named_junction("F", raw)
    cfg = Config(estimation=EstimationParams(hidden_room_at_light=True))
    layouts = {jid: Layout.build(j, cfg) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None
    assert np.isfinite(net.lane_hidden_cap_pcu).sum() == 4
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    got = dict(ref)
    for tick in range(1, 300):
        snaps: dict[str, list[Snapshot]] = {jid: [random_snapshot(rng, j, float(tick))] for jid, j in js.items()}
        got = fold_both_ways(net, layouts, ref, got, snaps, {jid: rng.choice((None, 0, 1)) for jid in js})


def test_the_network_fold_caps_the_hidden_queue_where_it_binds():
    """The random feed above seldom builds a hidden queue past a cap, so a wrong cap in the network's
    layout (netestimate) would pass it: here N's queue spills past its advance loop at three junctions,
    each with its own cap (a 20 m road from a light, 200 m from a light, not from a light), folded both
    ways; the first is held at its room, the others grow past it (R, session 49)."""
    js = {}
    for jid, from_light, room_m in (("P", True, None), ("Q", True, 200.0), ("U", False, None)):
        js[jid] = named_junction(jid, _raw(from_light, room_m))
    cfg = Config(estimation=EstimationParams(hidden_room_at_light=True))
    layouts = {jid: Layout.build(j, cfg) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    got = dict(ref)
    dets = {jid: tuple(d.id for d in j.detectors) for jid, j in js.items()}

    def tick(t: float, adv: DetectorReading, stop: DetectorReading, green: int) -> None:
        nonlocal got
        snaps = {jid: [_snap(jid, t, dets[jid], adv, stop)] for jid in js}
        got = fold_both_ways(net, layouts, ref, got, snaps, dict.fromkeys(js, green))

    t = 0.0
    for _ in range(120):  # as Feed.spill_past_the_advance_loop, then 120 s more of red
        t += 1.0
        odd = int(t - 1.0) % 2
        tick(
            t,
            reading("N_adv", {} if odd else {"car": 1}, 0.3, 12.0),
            reading("N_stop", {"car": 1} if odd else {}, 0.3, 10.0),
            0,
        )
    for _ in range(160):
        t += 1.0
        tick(t, reading("N_adv", {}, 1.0, 0.0), reading("N_stop", {}, 1.0, 0.0), 1)
    hidden = {jid: float(got[jid].lanes.hidden_pcu[layouts[jid].lanes.index("eN_0")]) for jid in js}
    room_pcu = ADV_POS_M / DEFAULT_VEHICLE_SPACING_M
    assert hidden["P"] == pytest.approx(room_pcu)
    assert hidden["U"] > 3.0 * room_pcu and hidden["Q"] == hidden["U"]


def _snap(jid: str, t: float, dets: tuple[str, ...], *readings: DetectorReading) -> Snapshot:
    given = {r.detector for r in readings}
    return Snapshot(jid, t, 1.0, tuple(readings) + tuple(reading(d) for d in dets if d not in given))

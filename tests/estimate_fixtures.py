"""Builders shared by the estimator, replay and policy tests: junction sets, random feeds, estimates
set by hand, bit-for-bit comparers of estimates and replays, and a step-by-step feed (`Feed`)."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core import estimation, netestimate, shadow
from controller.core.estimation import Estimate, Layout
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import VEHICLE_CLASSES, DetectorReading, Intersection, Snapshot
from tests.junction_fixtures import two_lane_north_raw, two_phase, two_phase_raw


def named_junction(jid: str, raw: dict) -> Intersection:
    raw["id"] = jid
    return parse_intersection(raw, f"{jid}.toml")


def two_lane_junction(jid: str, own_movement: bool) -> Intersection:
    return named_junction(jid, two_lane_north_raw("N_L" if own_movement else "N_T"))


def mixed_junctions() -> dict[str, Intersection]:
    no_adv = two_phase_raw()
    no_adv["detectors"] = [d for d in no_adv["detectors"] if d["id"] not in ("N_adv", "E_stop")]
    js = [
        named_junction("A", two_phase_raw()),
        named_junction("B", no_adv),
        two_lane_junction("C", False),
        two_lane_junction("D", True),
        replace(two_phase(), id="E", detectors=()),
    ]
    return {j.id: j for j in js}


def random_reading(rng: random.Random, det: str) -> DetectorReading:
    kind = rng.random()
    if kind < 0.05:  # stuck on
        return DetectorReading(det, (), 1.0, 0.0)
    if kind < 0.08:  # implausible
        return DetectorReading(det, (("car", 9),), 0.5, 5.0)
    counts = {c: rng.choice((0, 0, 0, 1, 2)) for c in rng.sample(VEHICLE_CLASSES, 2)}
    pairs = tuple(sorted((c, n) for c, n in counts.items() if n))
    occ = rng.choice((0.0, rng.random(), 1.0))
    return DetectorReading(det, pairs, occ, rng.choice((-1.0, rng.uniform(0.0, 15.0))))


def random_snapshot(rng: random.Random, j: Intersection, t_s: float) -> Snapshot:
    dets = [d.id for d in j.detectors if rng.random() > 0.03]  # now and then a loop is missing
    return Snapshot(j.id, t_s, 1.0, tuple(random_reading(rng, d) for d in dets))


def assert_same_estimate(a: Estimate, b: Estimate) -> None:
    for f in dataclasses.fields(Estimate):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, (estimation.LaneState, estimation.DetectorHealth)):
            for g in dataclasses.fields(x):
                assert np.array_equal(getattr(x, g.name), getattr(y, g.name)), (f.name, g.name)
        elif isinstance(x, np.ndarray):
            assert np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def fold_both_ways(
    net: netestimate.NetworkLayout,
    layouts: dict[str, Layout],
    ref: dict[str, Estimate],
    got: dict[str, Estimate],
    snaps: dict[str, list[Snapshot]],
    greens: dict[str, int | None],
) -> dict[str, Estimate]:
    """One tick both ways: `ref` updated in place junction by junction (estimation.update), `got`
    folded over the network (netestimate.fold) and returned; every junction's two estimates are
    asserted equal, bit for bit."""
    for jid, seq in snaps.items():
        for s in seq:
            ref[jid] = estimation.update(layouts[jid], ref[jid], s, greens[jid])
    got = netestimate.fold(net, layouts, got, snaps, greens)
    for jid in ref:
        assert_same_estimate(got[jid], ref[jid])
    return got


def ring_chained(js: dict) -> dict:
    """The junctions in a ring, each downstream of the one before (for the spill-back links)."""
    ids = list(js)
    return {
        jid: dataclasses.replace(j, downstream=(ids[(k + 1) % len(ids)],), upstream=(ids[k - 1],))
        for k, (jid, j) in enumerate(js.items())
    }


def estimate_with_queues(lay: Layout, queues: dict[str, float]) -> Estimate:
    ids = [m.id for m in lay.junction.movements]
    e = Estimate.empty(lay, 0.0)
    q = np.array([queues.get(i, 0.0) for i in ids])
    return replace(e, queue_pcu=q, departures_pcu=np.zeros(len(ids)), last_feed_t_s=0.0)


def stop_line_estimate(
    lay: Layout,
    queue: dict[str, float],
    departed: dict[str, float],
    hidden: dict[str, float] | None = None,
    stop_empty_s: float = 0.0,
) -> Estimate:
    """Queues per movement (each on its own lane, as in two_phase), cumulative departures, the
    time every stop-line loop has been empty."""
    ids = [m.id for m in lay.junction.movements]
    vec = lambda d: np.array([float(d.get(i, 0.0)) for i in ids])  # noqa: E731
    lane_of = {m.id: lay.lanes.index(m.lanes[0]) for m in lay.junction.movements}
    lane_q, lane_h = np.zeros(len(lay.lanes)), np.zeros(len(lay.lanes))
    for mid, q in queue.items():
        lane_q[lane_of[mid]] = q
    for mid, h in (hidden or {}).items():
        lane_h[lane_of[mid]] = h
    e = Estimate.empty(lay, 0.0)
    return replace(
        e,
        queue_pcu=vec(queue) + vec(hidden or {}),
        departures_pcu=vec(departed),
        lanes=replace(e.lanes, queue_pcu=lane_q, hidden_pcu=lane_h, stop_empty_s=np.full(len(lay.lanes), stop_empty_s)),
        last_feed_t_s=0.0,
    )


def signal_view(lay: Layout, phase: int, elapsed_s: float, now_s: float, red_for_s: float) -> SignalView:
    served = set(lay.junction.served_movements(phase))
    return SignalView(
        phase, False, elapsed_s, tuple(now_s if m.id in served else now_s - red_for_s for m in lay.junction.movements)
    )


def short_pair_junctions(adv_pos_m: float = 0.0) -> tuple[Intersection, Intersection]:
    """J's north approach leaves over `link` (J's N_T exit), a 15 m road that is K's north
    approach; K's advance loop on it sits `adv_pos_m` from the road's start."""
    j = two_phase_raw()
    j["movements"][0]["to_edge"] = "link"
    k = two_phase_raw()
    k["id"] = "K"
    k["movements"][0].update(from_edge="link", lanes=["link_0"])
    for d in k["detectors"]:
        if d["id"].startswith("N_"):
            d["lane"] = "link_0"
            d["pos_m"], d["dist_to_stop_m"] = (28.0, 2.0) if d["kind"] == "stop" else (adv_pos_m, 30.0 - adv_pos_m)
        d["id"] = "K_" + d["id"]
    return parse_intersection(j, "J.toml"), parse_intersection(k, "K.toml")


def short_link_layouts(link_m: float = 15.0) -> dict[str, Layout]:
    """`short_pair_junctions` with the link `link_m` long: K's loops see it whole (advance loop at its start)."""
    j, k = short_pair_junctions()
    dets = [
        replace(d, pos_m=link_m - 2.0, dist_to_stop_m=2.0)
        if d.id == "K_N_stop"
        else replace(d, pos_m=0.0, dist_to_stop_m=link_m)
        if d.id == "K_N_adv"
        else d
        for d in k.detectors
    ]
    return {x.id: Layout.build(x) for x in (j, replace(k, detectors=tuple(dets)))}


def shared_lane_layout() -> Layout:
    """two_phase with N's one lane shared by N_T and a new N_L (k = 2), and W_T on two lanes: its
    own eW_0 and eW_1, which it shares with W_L (k = 2 on one lane of two)."""
    raw = two_phase_raw()
    raw["n_links"] = 6
    for p in raw["phases"]:
        p["state"] += p["state"][0] + p["state"][1]  # N_L with N_T, W_L with W_T
    mv = {m["id"]: m for m in raw["movements"]}
    mv["N_T"]["sat_flow_pcu_h"] = 900.0  # the lane's 1800 split in two, as the importer does
    mv["W_T"]["lanes"] = ["eW_0", "eW_1"]
    raw["movements"] += [
        {**mv["N_T"], "id": "N_L", "turn": "left", "links": [4]},
        {**mv["W_T"], "id": "W_L", "turn": "left", "lanes": ["eW_1"], "links": [5], "sat_flow_pcu_h": 900.0},
    ]
    for m in raw["movements"]:
        if m["id"] in ("E_T",):
            m["conflicts"] = m["conflicts"] + ["N_L"]
        if m["id"] in ("N_T", "S_T"):
            m["conflicts"] = m["conflicts"] + ["W_L"]
    raw["movements"][-2]["conflicts"] = ["E_T", "W_T", "W_L"]
    raw["movements"][-1]["conflicts"] = ["N_T", "S_T", "N_L"]
    for m in raw["movements"]:
        if m["id"] == "W_T":
            m["conflicts"] = m["conflicts"] + ["N_L"]
    raw["detectors"] += [{"id": "W1_stop", "lane": "eW_1", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0}]
    return Layout.build(parse_intersection(raw, "shared.toml"), Config())


def assert_same_replay(a: shadow.Replay, b: shadow.Replay) -> None:
    for f in dataclasses.fields(shadow.Replay):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, shadow.Side):
            for g in dataclasses.fields(shadow.Side):
                assert np.array_equal(getattr(x, g.name), getattr(y, g.name)), (f.name, g.name)
        elif isinstance(x, np.ndarray):
            assert np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


N = 0  # movement index of N_T in two_phase(): phase 0 serves N_T and S_T


def reading(det: str, counts: dict | None = None, occ: float = 0.0, speed: float = -1.0) -> DetectorReading:
    return DetectorReading(det, tuple(sorted((counts or {}).items())), occ, speed)


class Feed:
    """Drives one junction's estimate second by second."""

    def __init__(self, junction=None, cfg: Config | None = None) -> None:
        self.j = junction or two_phase()
        self.lay = Layout.build(self.j, cfg or Config())
        self.est = Estimate.empty(self.lay, 0.0)
        self.t = 0.0
        self.dets = tuple(d.id for d in self.j.detectors)

    def step(self, *readings: DetectorReading, green: int | None = None, drop: tuple[str, ...] = ()) -> Estimate:
        self.t += 1.0
        s = snap(self.t, *readings, all_dets=tuple(d for d in self.dets if d not in drop))
        self.est = estimation.update(self.lay, self.est, s, green_phase=green)
        return self.est

    def q(self, movement: int = N) -> float:
        return float(self.est.queue_pcu[movement])

    def spill_past_the_advance_loop(self) -> Estimate:
        """120 s of N/S green with one car every 2 s served as it comes, then 40 s of red: N's
        queue reaches its advance loop and stands there (spill-back past the approach)."""
        for _ in range(120):
            self.step(
                reading("N_adv", {"car": 1} if int(self.t) % 2 == 0 else {}, 0.3, 12.0),
                reading("N_stop", {"car": 1} if int(self.t) % 2 == 1 else {}, 0.3, 10.0),
                green=0,
            )
        for _ in range(40):
            self.step(reading("N_adv", {}, 1.0, 0.0), reading("N_stop", {}, 1.0, 0.0), green=1)
        return self.est


def snap(t: float, *readings: DetectorReading, all_dets: tuple[str, ...] = ()) -> Snapshot:
    given = {r.detector for r in readings}
    quiet = tuple(reading(d) for d in all_dets if d not in given)
    return Snapshot("J", t, 1.0, tuple(readings) + quiet)

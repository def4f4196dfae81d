"""webster's network pass (policies/webster_net.py) gives decide()'s states and wishes to the last bit:
the green floors of many re-plans answered as (junctions, movements) arrays, and a region's plans
with the pass and junction by junction (issue 12, the re-plan tick over a region's junctions at once)."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import controller.core.policies.webster_net as webster_net
from controller.config import Config
from controller.core.estimation import Estimate, Layout
from controller.core.messages import encode_detector_message, encode_status
from controller.core.params import WebsterParams
from controller.core.policies.webster import (
    Credit,
    FloorAsk,
    FloorIndex,
    NeedsAsk,
    SaturationAsk,
    SplitAsk,
    WebsterPolicy,
    WebsterState,
    green_floors_s,
    green_range_s,
    movement_needs_s,
    period_flow_pcu_h,
    raised_floors_s,
    spare_split_s,
    unopposed_credit,
)
from controller.junctions import load_intersections, parse_intersection
from controller.model import Intersection, SignalStatus
from controller.service import ControllerService
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_replan_exact import nine_phases

CFG = Config()
ROOT = Path(__file__).resolve().parents[2]


def city() -> dict[str, Intersection]:
    return dict(sorted(load_intersections(ROOT / "intersections" / "city").items()))


def random_asks(rng: np.random.Generator, lay: Layout, count: int) -> list[FloorAsk]:
    """`count` asks on `lay`: needs with ties and zeros (whole multiples of 5 s half the time), floors
    raised at random (held_floors_s-like) and some above their maxima (a deficit met, then a phase
    whose room is negative), the credits webster passes
    (none, unopposed, with the transitions) and random ones (with their index and without)."""
    lo0, hi0 = green_range_s(lay.junction)
    n_ph, n_mov = lay.serves.shape
    credits: list[Credit | None] = [None, unopposed_credit(lay), unopposed_credit(lay, True)]
    phases = rng.random((n_ph, n_mov)) < 0.3
    transition_s = rng.uniform(0.0, 6.0, n_mov) * (rng.random(n_mov) < 0.3)
    credits += [Credit(phases, transition_s, FloorIndex.build(lay, lay.serves | phases)), Credit(phases, transition_s)]
    asks = []
    for k in range(count):
        if rng.random() < 0.5:
            needs = rng.integers(0, 8, n_mov) * 5.0
        else:
            needs = rng.uniform(0.0, 80.0, n_mov) * (rng.random(n_mov) < 0.8)
        lo = np.where(rng.random(n_ph) < 0.3, lo0 + rng.uniform(0.0, 30.0, n_ph), lo0)
        lo = np.where(rng.random(n_ph) < 0.1, hi0 + 2.0, lo)  # above its maximum: a negative room
        asks.append(FloorAsk(lay, needs, lo, hi0, credits[k % len(credits)]))
    return asks


def rows_answered(monkeypatch, name: str) -> list[int]:
    """webster_net.`name` (raised_floors_all, saturation_needs_all: a PaddedIndex, then one row per
    junction) wrapped for the test: the list returned gets each call's number of rows."""
    rows: list[int] = []
    real = getattr(webster_net, name)

    def spy(pad, many, *rest):
        rows.append(len(many))
        return real(pad, many, *rest)

    monkeypatch.setattr(webster_net, name, spy)
    return rows


def test_floor_answers_are_green_floors_s_to_the_bit(monkeypatch):
    """The city's 20 junctions (each also built again: an equal index of another object), and a
    nine-phase one (a movement counted in eight phases: answered one by one), asked together."""
    rng = np.random.default_rng(41)
    lays = [Layout.build(j, CFG) for j in city().values()]
    lays += [Layout.build(j.junction, CFG) for j in lays] + [nine_phases()]
    asks = [ask for lay in lays for ask in random_asks(rng, lay, 40)]
    order = rng.permutation(len(asks))
    asks = [asks[i] for i in order]
    batched = rows_answered(monkeypatch, "raised_floors_all")
    got = webster_net.FloorAnswers().answer(asks)
    raised = 0
    for ask, floors in zip(asks, got, strict=True):
        want = green_floors_s(ask.layout, ask.needs_s, ask.lo, ask.hi, ask.credit)
        assert floors.shape == want.shape and floors.dtype == want.dtype
        assert [g.hex() for g in floors.tolist()] == [w.hex() for w in want.tolist()]
        raised += bool((want > ask.lo).any())
    assert raised > len(asks) // 2  # the needs raise floors: not `lo` compared with itself
    assert sum(batched) > len(asks) - 80  # all but the nine-phase junction's answered as arrays
    assert max(batched) >= 60  # a junction's copy shares its group


def seven_phases() -> Layout:
    """two_phase's junction with seven phases: N+S green in six of them (minimum greens of three
    decimals), E+W in the last: a movement counted in six phases, the most raised_floors_all sums."""
    raw = two_phase_raw()
    rng = random.Random(7)
    raw["phases"] = [
        {
            "state": "GrGr" if k < 6 else "rGrG",
            "min_green_s": round(rng.uniform(3.0, 9.0), 3),
            "max_green_s": 60.0,
            "base_green_s": rng.choice((15.0, 20.0, 27.5)),
        }
        for k in range(7)
    ]
    raw["cycle_max_s"] = 600.0
    raw["max_red_s"] = 600.0
    return Layout.build(parse_intersection(raw, "seven_phases.toml"), CFG)


def test_greens_counted_over_six_phases_are_summed_in_their_order():
    """A movement counted in six phases with floors of many decimals: the counted greens summed in
    index order, as green_floors_s sums them (another order rounds otherwise)."""
    lay = seven_phases()
    lo0, hi = green_range_s(lay.junction)
    n_ph, n_mov = lay.serves.shape
    rng = np.random.default_rng(6)
    asks = []
    for _ in range(300):
        lo = lo0 + rng.uniform(0.0, 7.0, n_ph) * 1.1
        asks.append(FloorAsk(lay, rng.uniform(0.0, 120.0, n_mov) * 1.3, lo, hi, None))
    got = webster_net.FloorAnswers().answer(asks)
    for ask, floors in zip(asks, got, strict=True):
        want = green_floors_s(ask.layout, ask.needs_s, ask.lo, ask.hi, ask.credit)
        assert [g.hex() for g in floors.tolist()] == [w.hex() for w in want.tolist()]


def test_a_raised_floor_above_its_maximum_and_nan_are_answered_as_one_by_one():
    """Rows whose floors start above their maxima (the room negative: the deficit grows), a need
    that is nan, and a floor and a maximum that are nan (min(deficit, room) keeps the deficit where the
    room is nan), next to ordinary rows."""
    lay = Layout.build(next(iter(city().values())), CFG)
    lo, hi = green_range_s(lay.junction)
    n_mov = len(lay.junction.movements)
    rng = np.random.default_rng(5)
    asks = [FloorAsk(lay, rng.uniform(0.0, 60.0, n_mov), lo, hi, None) for _ in range(8)]
    asks[1] = replace(asks[1], lo=hi + 3.0)
    asks[2] = replace(asks[2], needs_s=np.where(np.arange(n_mov) == 1, np.nan, asks[2].needs_s))
    asks[3] = replace(asks[3], lo=np.where(np.arange(len(lo)) == 0, np.nan, lo))
    asks[4] = replace(asks[4], hi=np.where(np.arange(len(hi)) == 0, np.nan, hi))  # the first serving phase
    got = webster_net.FloorAnswers().answer(asks)
    for ask, floors in zip(asks, got, strict=True):
        want = green_floors_s(ask.layout, ask.needs_s, ask.lo, ask.hi, ask.credit)
        assert [g.hex() for g in floors.tolist()] == [w.hex() for w in want.tolist()]


def region(copies: int) -> dict[str, Intersection]:
    """The city's junctions, each `copies` times under new ids (detectors renamed, no neighbours)."""
    out = {}
    for k in range(copies):
        for j in city().values():
            jid = f"{j.id}_{k}"
            dets = tuple(replace(d, id=f"{jid}.{d.id}") for d in j.detectors)
            out[jid] = replace(j, id=jid, upstream=(), downstream=(), detectors=dets)
    return out


def run_region(
    params: WebsterParams, seed: int, ticks: int, js: dict[str, Intersection] | None = None, statuses: bool = False
) -> tuple[str, int, object]:
    """(a digest of every command sent and of the final policy states, the plans sent, the core's
    network pass) for a region of the city's junctions under random counts every second (`js`:
    these junctions instead); with `statuses`, each junction's roadside status too (random_statuses)."""
    js = region(3) if js is None else js
    sent: list[tuple[object, bytes]] = []
    cfg = replace(CFG, service=replace(CFG.service, policy="webster"), webster=params)
    svc = ControllerService(js, cfg, "webster", publish=lambda c, p: sent.append((c, p)), start_s=1000.0)
    rng = random.Random(seed)
    shown: dict[str, tuple[int, bool, float]] = {}
    for r in range(ticks):
        t = 1001.0 + r
        svc.advance_clock(t)
        hot = rng.random()
        msgs = []
        for jid, j in js.items():
            dets = {
                d.id: ({"car": rng.randint(0, int(1 + 6 * hot)), "bus": rng.randint(0, 1)}, round(rng.random(), 2), 1.0)
                for d in j.detectors
            }
            msgs.append((jid, encode_detector_message(jid, t, 1.0, dets)))
        svc.on_detector_batch(msgs)
        if statuses:
            for st in random_statuses(rng, js, t, shown):
                svc.on_status(encode_status(st), junction=st.junction)
        svc.tick(t)
    h = hashlib.sha256()
    for c, p in sent:
        h.update(repr(c).encode())
        h.update(p)
    for jid in sorted(svc.state.junctions):
        h.update(repr(svc.state.junctions[jid].policy_state).encode())
    return h.hexdigest(), len(sent), svc.core.net_decision


KEYS = [
    WebsterParams(period_s=5.0, replan_spread=1.0),
    WebsterParams(period_s=7.0, hold_short_phases=True, city_split=True, slack_to_city=True, short_keeps_city=True),
    WebsterParams(
        period_s=6.0, keep_offsets=True, divide_after_periods=2, keep_green_residual_pcu=1.0, platoon_fit=True
    ),
]


@pytest.mark.parametrize("params", KEYS, ids=["spread", "held_city", "offsets"])
def test_a_region_s_plans_with_the_network_pass_are_decide_s_junction_by_junction(monkeypatch, params):
    """The same commands and final policy states (repr: every float to the bit) with the pass as
    junction by junction (network_decision None), over 40 seconds of random counts at 60 junctions."""
    batched = rows_answered(monkeypatch, "raised_floors_all")
    digest, plans, net = run_region(params, 7, 40)
    assert isinstance(net, webster_net.NetWebster) and plans > 100
    assert batched and max(batched) > 1  # re-plans answered together
    monkeypatch.setattr(WebsterPolicy, "network_decision", lambda self, layouts: None)
    alone, plans_alone, net_alone = run_region(params, 7, 40)
    assert net_alone is None
    assert (digest, plans) == (alone, plans_alone)


def random_statuses(
    rng: random.Random, js: dict[str, Intersection], t: float, shown: dict[str, tuple[int, bool, float]]
) -> list[SignalStatus]:
    """A status per junction (some skip a second): its phase held or moved on (to the next phase,
    or any), through intergreens, so that green ends come at random seconds; `shown` keeps each
    junction's (phase, in intergreen, since)."""
    out = []
    for jid, j in js.items():
        phase, between, since = shown.get(jid, (0, False, t))
        roll = rng.random()
        if roll < 0.15:
            phase, between, since = (phase + 1) % len(j.phases), True, t
        elif roll < 0.2:
            phase, between, since = rng.randrange(len(j.phases)), rng.random() < 0.5, t
        elif between and roll < 0.6:
            between, since = False, t
        shown[jid] = (phase, between, since)
        if rng.random() < 0.9:
            out.append(SignalStatus(jid, t, phase, between, t - since, "", 0, "adaptive"))
    return out


NEIGHBOURED = [
    WebsterParams(period_s=9.0, replan_spread=1.0),
    WebsterParams(period_s=8.0, coordinated_retime=True, retime_on_evidence=True, divided_cycle_ends=1),
    WebsterParams(period_s=6.0, keep_offsets=True, carry_green_remainders=True, lone_cycle_max_s=0.0),
]


@pytest.mark.parametrize("params", NEIGHBOURED, ids=["spread", "retime_cut", "offsets"])
def test_the_pass_under_roadside_statuses_is_decide_junction_by_junction(monkeypatch, params):
    """The city itself (its junctions' neighbours: the replay of retime_on_evidence) with statuses
    whose green phases change at random seconds (green ends counted, divided cycles cut): the pass,
    which skips replan_due where a junction's state and green phase are the ones it kept
    (webster_net.QuietStates), gives decide()'s commands and states junction by junction."""
    calls = []
    real = WebsterPolicy.replan_due

    def counted(self, *args):
        calls.append(1)
        return real(self, *args)

    monkeypatch.setattr(WebsterPolicy, "replan_due", counted)
    digest, plans, net = run_region(params, 11, 60, city(), statuses=True)
    assert isinstance(net, webster_net.NetWebster) and plans > 20
    skipped = 60 * len(city()) - len(calls)
    monkeypatch.setattr(WebsterPolicy, "network_decision", lambda self, layouts: None)
    alone, plans_alone, net_alone = run_region(params, 11, 60, city(), statuses=True)
    assert net_alone is None
    assert (digest, plans) == (alone, plans_alone)
    assert skipped > 100 or params.keep_offsets  # with keep_offsets every state has steady greens: none skipped


def test_a_subclass_that_overrides_decide_is_decided_junction_by_junction():
    class Other(WebsterPolicy):
        def decide(self, state, layout, est, signal, now_s, network=None):
            return super().decide(state, layout, est, signal, now_s, network)

    lays = {j.id: Layout.build(j, CFG) for j in city().values()}
    assert Other().network_decision(lays) is None
    assert isinstance(WebsterPolicy().network_decision(lays), webster_net.NetWebster)


def hexes(a: np.ndarray) -> list[str]:
    return [float(x).hex() for x in np.asarray(a, dtype=float).ravel().tolist()]


def needs_asks(rng: np.random.Generator, lays: list[Layout], count: int) -> list[NeedsAsk]:
    """NeedsAsks on `lays`: flows with zeros, tiny values (a storage red of 1e12 s), nan and inf,
    cycles, lost times and flow ratios of many decimals (and a ratio of 0: capacity needs of inf)."""
    asks = []
    for k in range(count):
        lay = lays[k % len(lays)]
        n_mov = len(lay.junction.movements)
        flow = rng.uniform(0.0, 1800.0, n_mov) * (rng.random(n_mov) < 0.8)
        flow = np.where(rng.random(n_mov) < 0.05, 1e-13, flow)
        flow = np.where(rng.random(n_mov) < 0.03, np.nan, flow)
        flow = np.where(rng.random(n_mov) < 0.02, np.inf, flow)
        x = 0.0 if k % 97 == 5 else rng.uniform(0.5, 1.0)
        asks.append(NeedsAsk(lay, flow, rng.uniform(30.0, 150.0), rng.uniform(0.0, 5.0), x))
    return asks


def test_needs_answered_together_are_movement_needs_s_to_the_bit():
    rng = np.random.default_rng(12)
    lays = [Layout.build(j, CFG) for j in city().values()]
    asks = needs_asks(rng, lays, 600)
    with np.errstate(all="ignore"):
        got = webster_net.FloorAnswers().answer(asks)
        for ask, both in zip(asks, got, strict=True):
            want = movement_needs_s(
                ask.layout, ask.flow_pcu_h, ask.cycle_s, ask.lost_time_per_phase_s, ask.max_flow_ratio
            )
            assert both.shape == (2, len(want[0]))
            assert hexes(both[0]) == hexes(want[0]) and hexes(both[1]) == hexes(want[1])


def split_asks(rng: np.random.Generator, count: int) -> list[SplitAsk]:
    """SplitAsks of 2 to 10 phases: greens below, at and above their maxima, shares of many
    decimals and all 0 (equal shares among the open phases), totals the greens already exceed, nan
    greens and totals: rows that leave the loop at every round."""
    asks = []
    for k in range(count):
        n = 2 + k % 9
        hi = rng.uniform(10.0, 60.0, n) * 1.01
        greens = np.minimum(rng.uniform(3.0, 50.0, n) * 1.3, hi + (rng.random(n) < 0.1) * 2.0)
        greens = np.where(rng.random(n) < 0.2, hi, greens)  # at the maximum: closed
        share = rng.random(n) * (rng.random(n) < 0.8)
        if k % 11 == 3:
            share = np.zeros(n)
        share = share / share.sum() if share.sum() > 0 else share
        total_s = float(greens.sum()) * rng.uniform(0.8, 2.5)
        if k % 53 == 7:
            greens = np.where(np.arange(n) == 0, np.nan, greens)
        if k % 61 == 9:
            total_s = math.nan
        asks.append(SplitAsk(greens, hi, share, total_s))
    return asks


def test_spare_splits_answered_together_are_spare_split_s_to_the_bit():
    rng = np.random.default_rng(13)
    asks = split_asks(rng, 900)
    rounds = []
    with np.errstate(all="ignore"):
        for ask in asks:
            want = spare_split_s(ask.greens_s, ask.hi, ask.share, ask.total_s)
            rounds.append(int((want != ask.greens_s).sum()))
        got = webster_net.FloorAnswers().answer(asks)
        for ask, greens in zip(asks, got, strict=True):
            want = spare_split_s(ask.greens_s, ask.hi, ask.share, ask.total_s)
            assert hexes(greens) == hexes(want)
    assert sum(r > 0 for r in rounds) > 600  # the spare is handed out, not the greens compared with themselves


def test_a_spare_left_after_several_rounds_is_split_as_one_by_one():
    """Rows that leave the loop at different rounds (a phase reaching its maximum passes its share on)."""
    hi = np.array([12.0, 50.0, 13.0, 60.0])
    asks = [
        SplitAsk(np.array([10.0, 20.0, 10.0, 20.0]), hi, np.array([0.4, 0.1, 0.4, 0.1]), total_s)
        for total_s in (60.0, 70.0, 61.0, 134.999, 200.0, 59.0)
    ]
    got = webster_net.FloorAnswers().answer(asks)
    for ask, greens in zip(asks, got, strict=True):
        assert hexes(greens) == hexes(spare_split_s(ask.greens_s, ask.hi, ask.share, ask.total_s))


def test_period_flows_computed_together_are_period_flow_pcu_h_to_the_bit():
    """The city's junctions, each built twice, under random cumulative counts, hidden queues and
    blockages (some outside [0, 1]), periods of many decimals; a junction alone of its movement count
    and one without the period's start sums get None (the re-plan computes its own)."""
    rng = np.random.default_rng(14)
    lays = [Layout.build(j, CFG) for j in city().values()]
    lays += [Layout.build(lay.junction, CFG) for lay in lays]
    periods = []
    for k in range(300):
        lay = lays[k % len(lays)]
        n_mov, n_lanes = len(lay.junction.movements), lay.lane_share.shape[1]
        est = Estimate.empty(lay, 2000.0)
        lanes = replace(est.lanes, hidden_pcu=rng.uniform(0.0, 9.0, n_lanes) * (rng.random(n_lanes) < 0.3))
        est = replace(
            est,
            arrivals_pcu=rng.uniform(100.0, 900.0, n_mov),
            departures_pcu=rng.uniform(100.0, 900.0, n_mov),
            block=rng.uniform(-0.2, 1.2, n_mov) * (rng.random(n_mov) < 0.5),
            lanes=lanes,
        )
        start = WebsterState(
            rng.uniform(1000.0, 1995.0),
            est.arrivals_pcu - rng.uniform(0.0, 60.0, n_mov),
            rng.uniform(0.0, 800.0, n_mov),
        )
        periods.append((start, lay, est))
    periods.append((WebsterState(1000.0, None, None), lays[0], periods[0][2]))
    got = webster_net.period_flows_all(periods, 2000.0)
    assert got[-1] is None and sum(g is not None for g in got) == 300
    for (state, lay, est), flow in zip(periods[:-1], got, strict=False):
        want = period_flow_pcu_h(lay, state, est, 2000.0 - state.period_start_s)
        assert flow is not None and hexes(flow) == hexes(want)
    alone = webster_net.period_flows_all(periods[:1], 2000.0)
    assert alone == [None]


def test_asks_of_every_kind_in_one_round_get_their_own_answers():
    rng = np.random.default_rng(15)
    lays = [Layout.build(j, CFG) for j in city().values()]
    mixed = [*random_asks(rng, lays[0], 30), *needs_asks(rng, lays, 40), *split_asks(rng, 50)]
    asks = [mixed[i] for i in rng.permutation(len(mixed))]
    with np.errstate(all="ignore"):
        got = webster_net.FloorAnswers().answer(asks)
        for ask, answer in zip(asks, got, strict=True):
            assert hexes(answer) == hexes(ask.answer())


def ten_phases() -> Layout:
    """two_phase's junction with ten phases, N+S green in the first five and E+W in the last five
    (minimum greens of three decimals, tied base greens): floors of ten phases, whose sum numpy
    does not take in order, and no movement counted in eight (not answered one by one)."""
    raw = two_phase_raw()
    rng = random.Random(10)
    raw["phases"] = [
        {
            "state": "GrGr" if k < 5 else "rGrG",
            "min_green_s": round(rng.uniform(2.0, 6.0), 3),
            "max_green_s": round(rng.uniform(20.0, 40.0), 1),
            "base_green_s": rng.choice((10.0, 12.5, 12.5)),
        }
        for k in range(10)
    ]
    raw["cycle_max_s"] = 600.0
    raw["max_red_s"] = 600.0
    return Layout.build(parse_intersection(raw, "ten_phases.toml"), CFG)


def saturation_asks(rng: np.random.Generator, lays: list[Layout], count: int) -> list[SaturationAsk]:
    """SaturationAsks on `lays`: flows of many decimals with zeros and some tiny; cycles from below
    the minimum greens with their intergreens (no x fits: the needs at max_flow_ratio) to long
    (the needs at max_flow_ratio fit) and between (the search bisects); lost times, ratios and the
    credits webster passes (none, unopposed, with the transitions) and random ones."""
    credits: list[list[Credit | None]] = []
    for lay in lays:
        n_ph, n_mov = lay.serves.shape
        phases = rng.random((n_ph, n_mov)) < 0.3
        transition_s = rng.uniform(0.0, 6.0, n_mov) * (rng.random(n_mov) < 0.3)
        other = Credit(phases, transition_s, FloorIndex.build(lay, lay.serves | phases))
        credits.append([None, unopposed_credit(lay), unopposed_credit(lay, True), other])
    asks = []
    for k in range(count):
        lay = lays[k % len(lays)]
        n_ph, n_mov = lay.serves.shape
        flow = rng.uniform(0.0, 2400.0, n_mov) * (rng.random(n_mov) < 0.85) * rng.choice((0.05, 0.3, 1.0))
        flow = np.where(rng.random(n_mov) < 0.05, 1e-9, flow)
        lo, _ = green_range_s(lay.junction)
        fixed_s = float(lo.sum()) + sum(lay.junction.intergreen_s(p, (p + 1) % n_ph) for p in range(n_ph))
        cycle_s = fixed_s * (rng.uniform(0.6, 1.0) if k % 5 == 0 else rng.uniform(1.0, 4.0))
        x = rng.uniform(0.6, 1.0)
        asks.append(SaturationAsk(lay, flow, cycle_s, rng.uniform(0.0, 5.0), x, credits[k % len(lays)][k % 4]))
    return asks


def search_end(ask: SaturationAsk) -> str:
    """Where the ask's search ends: its needs at max_flow_ratio fit, or at 64 times it they do not
    (no x fits), or it bisects."""
    lay = ask.layout
    lo, hi = green_range_s(lay.junction)
    n = len(lo)
    total_s = ask.cycle_s - sum(lay.junction.intergreen_s(k, (k + 1) % n) for k in range(n))

    def fits(x: float) -> bool:
        needs = movement_needs_s(lay, ask.flow_pcu_h, ask.cycle_s, ask.lost_time_per_phase_s, x)[0]
        return float(green_floors_s(lay, needs, lo, hi, ask.credit).sum()) <= total_s + 1e-9

    if fits(ask.max_flow_ratio):
        return "fits at the ratio"
    return "never fits" if not fits(64.0 * ask.max_flow_ratio) else "bisected"


def test_saturation_searches_answered_together_are_the_search_s_to_the_bit(monkeypatch):
    """Many junctions' equal_saturation searches in step (webster_net.saturation_needs_all): each
    row's capacity needs are its own search's (SaturationAsk.answer, junction by junction), every
    element to the bit; rows whose search ends at its first round, at its second and after 40."""
    rng = np.random.default_rng(16)
    lays = [Layout.build(j, CFG) for j in city().values()]
    lays += [Layout.build(lay.junction, CFG) for lay in lays] + [seven_phases(), ten_phases(), nine_phases()]
    asks = saturation_asks(rng, lays, 1500)
    batched = rows_answered(monkeypatch, "saturation_needs_all")
    got = webster_net.FloorAnswers().answer(asks)
    ends = {"fits at the ratio": 0, "never fits": 0, "bisected": 0}
    for ask, needs in zip(asks, got, strict=True):
        want = ask.answer()
        assert needs.shape == want.shape and needs.dtype == want.dtype
        assert hexes(needs) == hexes(want)
        ends[search_end(ask)] += 1
    assert min(ends.values()) > 150, ends
    assert sum(batched) > len(asks) - 100 and max(batched) > 40  # all but the nine-phase junction's in step


def test_lone_junctions_oversaturated_under_statuses_plan_as_junction_by_junction(monkeypatch):
    """The city's junctions without neighbours, loaded, with roadside statuses: phases end their
    greens with residual queues, so lone_cycle_max_s shares the shortfall at one degree of
    saturation (equal_saturation_needs_s), the region's searches answered together; the same
    commands and final states as junction by junction."""
    batched = rows_answered(monkeypatch, "saturation_needs_all")
    params = WebsterParams(period_s=6.0, replan_spread=1.0, lone_cycle_max_s=150.0)
    digest, plans, net = run_region(params, 5, 50, region(2), statuses=True)
    assert isinstance(net, webster_net.NetWebster) and plans > 100
    assert sum(batched) > 40 and max(batched) > 1  # the searches ran, in step
    monkeypatch.setattr(WebsterPolicy, "network_decision", lambda self, layouts: None)
    alone, plans_alone, net_alone = run_region(params, 5, 50, region(2), statuses=True)
    assert net_alone is None
    assert (digest, plans) == (alone, plans_alone)


def former_raised_floors_all(pad, owed_s, order, lo, hi):
    """raised_floors_all as numpy array operations per movement rank (before E, session 49, made it a
    compiled loop per row): the reference its compiled form is checked against."""
    n, width = lo.shape
    g = np.array(lo, dtype=float)
    flat = g.reshape(-1)
    top = np.array(hi, dtype=float).reshape(-1)
    base = np.arange(n) * width
    owed_ranked = np.take_along_axis(owed_s, order, axis=1)
    acting = ~(owed_ranked <= 0) & ~pad.always[order]
    for r in np.flatnonzero(acting.any(axis=0)).tolist():
        m = order[:, r]
        act = acting[:, r]
        counted = np.zeros(n)
        ks, on = pad.counting[m], pad.counting_on[m]
        for c in range(ks.shape[1]):
            counted = np.where(on[:, c], counted + flat[base + ks[:, c]], counted)
        deficit = owed_ranked[:, r] - counted
        ks, on = pad.serving[m], pad.serving_on[m]
        for c in range(ks.shape[1]):
            run = act & on[:, c] & ~(deficit <= 1e-9)
            if not run.any():
                break
            at = base + ks[:, c]
            gk = flat[at]
            room = top[at] - gk
            add = np.where(room < deficit, room, deficit)
            flat[at] = np.where(run, gk + add, gk)
            deficit = np.where(run, deficit - add, deficit)
    return g


def random_padded(rng: np.random.Generator, n_mov: int, n_ph: int) -> webster_net.PaddedIndex:
    """A PaddedIndex of random rows: each movement counted in 1-7 phases and served by 1-4 of them (in
    any order, some none), some counted in every phase."""

    def rows(most: int, least: int) -> tuple[tuple[int, ...], ...]:
        return tuple(
            tuple(rng.permutation(n_ph)[: rng.integers(least, min(most, n_ph) + 1)].tolist()) for _ in range(n_mov)
        )

    counting, counting_on = webster_net._padded(rows(7, 1))
    serving, serving_on = webster_net._padded(rows(4, 0))
    return webster_net.PaddedIndex(counting, counting_on, serving, serving_on, rng.random(n_mov) < 0.1)


def nan_as_one(a: np.ndarray) -> bytes:
    """`a`'s bytes with every nan made numpy's nan (its sign and payload dropped)."""
    return np.where(np.isnan(a), np.nan, a).tobytes()


def test_floors_raised_compiled_are_raised_floors_s_to_the_bit():
    """raised_floors_all (raise_rows compiled) on 300 random indices of 2-12 phases and 1-16
    movements, 1-60 rows each: owed seconds with ties (whole multiples of 5), zeros, negatives, nan,
    inf and 1e-9 (on zero floors: a deficit of exactly 1e-9 is met); floors above their maxima (a
    negative room), nan floors and maxima. Every row is
    raised_floors_s' (junction by junction) and the former numpy form's to the bit, but for a nan's
    sign: an operation on two nans gives one of them, which one is the compiler's (numpy, Python and
    numba differ), and no comparison sees it. Many rows are raised, many past a capped first serving
    phase, and some nans are made."""
    rng = np.random.default_rng(49)
    raised = capped = rows = nans = 0
    for _ in range(300):
        n_ph, n_mov, n = int(rng.integers(2, 13)), int(rng.integers(1, 17)), int(rng.integers(1, 61))
        pad = random_padded(rng, n_mov, n_ph)
        index = SimpleNamespace(
            counting=tuple(tuple(k[on].tolist()) for k, on in zip(pad.counting, pad.counting_on)),
            serving=tuple(tuple(k[on].tolist()) for k, on in zip(pad.serving, pad.serving_on)),
            always=tuple(pad.always.tolist()),
        )
        owed = np.where(
            rng.random((n, n_mov)) < 0.4, rng.integers(-1, 9, (n, n_mov)) * 5.0, rng.uniform(-5, 90, (n, n_mov))
        )
        odd = rng.random((n, n_mov))
        owed = np.where(odd < 0.02, np.nan, np.where(odd > 0.99, np.inf, np.where(odd > 0.97, 1e-9, owed)))
        lo = rng.uniform(0.0, 20.0, (n, n_ph)) * (rng.random((n, n_ph)) < 0.9) * (rng.random((n, 1)) < 0.8)
        hi = lo + rng.uniform(-3.0, 50.0, (n, n_ph))
        odd = rng.random((n, n_ph))
        lo, hi = np.where(odd < 0.01, np.nan, lo), np.where(odd > 0.99, np.nan, hi)
        order = np.argsort(-owed, axis=1)
        got = webster_net.raised_floors_all(pad, owed, order, lo, hi)
        assert got.shape == (n, n_ph) and got.dtype == np.float64 and got.flags.c_contiguous
        for i in range(n):
            assert nan_as_one(got[i]) == nan_as_one(raised_floors_s(index, owed[i], lo[i], hi[i]))
        with np.errstate(invalid="ignore"):  # inf - inf in the former form's rows of the branch not taken
            former = former_raised_floors_all(pad, owed, order, lo, hi)
        assert nan_as_one(got) == nan_as_one(former)
        nans += int(np.isnan(got).sum() - np.isnan(lo).sum())
        rows += n
        raised += int((got > lo).any(axis=1).sum())
        capped += int(((got >= hi) & (got > lo)).any(axis=1).sum())
    assert raised > rows // 2 and capped > rows // 4 and nans > 0, (rows, raised, capped, nans)


def test_floors_raised_compiled_meet_a_deficit_just_above_1e9_as_raised_floors_s_does():
    """A deficit just above raised_floors_s' 1e-9 (2e-9 ... 1e-5 s owed on zero floors, or on top of what
    the counting phases give) is raised by the compiled loop as junction by junction: the random owed
    seconds above never fall between 1e-9 and 1e-6, so the loop's tolerance read as 1e-6 passed them
    (R, session 49). Some rows are raised by less than 1e-6 s in all."""
    rng = np.random.default_rng(4949)
    tiny_rows = 0
    for _ in range(100):
        n_ph, n_mov, n = int(rng.integers(2, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 31))
        pad = random_padded(rng, n_mov, n_ph)
        index = SimpleNamespace(
            counting=tuple(tuple(k[on].tolist()) for k, on in zip(pad.counting, pad.counting_on)),
            serving=tuple(tuple(k[on].tolist()) for k, on in zip(pad.serving, pad.serving_on)),
            always=tuple(pad.always.tolist()),
        )
        lo = rng.integers(0, 4, (n, n_ph)) * 5.0 * (rng.random((n, 1)) < 0.5)  # half the rows all zero
        hi = lo + rng.uniform(0.0, 30.0, (n, n_ph))
        tiny = rng.choice([2e-9, 1e-8, 1e-7, 5e-7, 9.9e-7, 1e-5], (n, n_mov))
        counted = np.array([[lo[i, list(index.counting[m])].sum() for m in range(n_mov)] for i in range(n)])
        owed = np.where(rng.random((n, n_mov)) < 0.5, tiny, counted + tiny)
        order = np.argsort(-owed, axis=1)
        got = webster_net.raised_floors_all(pad, owed, order, lo, hi)
        for i in range(n):
            assert nan_as_one(got[i]) == nan_as_one(raised_floors_s(index, owed[i], lo[i], hi[i]))
        step = got - lo
        tiny_rows += int(((step > 0) & (step < 1e-6)).any(axis=1).sum())
    assert tiny_rows > 50, tiny_rows


def test_a_period_s_first_tick_is_known_without_replan_due(monkeypatch):
    """A junction re-planned a tick ago (its four per-phase sums empty) and shown the same green phase
    before its period's end is given track_green_ends' copy with the sums sized by QuietStates, without
    replan_due; the plans and states stay decide()'s junction by junction (the tests above, "spread")."""
    fresh: list[bool] = []
    real = WebsterPolicy.replan_due

    def counted(self, state, *args):
        fresh.append(state.arrivals_pcu is not None and state.residual_pcu == () and state.green_ends == ())
        return real(self, state, *args)

    monkeypatch.setattr(WebsterPolicy, "replan_due", counted)
    _digest, plans, net = run_region(KEYS[0], 7, 40)
    assert isinstance(net, webster_net.NetWebster) and plans > 100
    # before: one call with the sums empty for every re-plan (about one a plan); now only where due at once
    assert sum(fresh) < 0.1 * plans, (sum(fresh), plans)

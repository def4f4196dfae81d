"""The arrival flow as the mean of the periods observed so far ([estimation] flow_mean_observed): the
EWMA from zero counts the periods before the first as empty, so at the start a lane's flow, and the
hidden queue it grows, read a fraction of the demand; the mean of the periods counted reads the demand
at once and becomes the EWMA once its window has passed a few times."""

from __future__ import annotations

import random

import numpy as np

from controller.config import Config
from controller.core import netestimate
from controller.core.estimation import Estimate, EstimationParams, Layout
from controller.model import Snapshot
from tests.estimate_fixtures import Feed, N, fold_both_ways, mixed_junctions, random_snapshot, reading

EVERY_S = 5  # one car every 5 s: 720 PCU/h


def _feed(on: bool) -> Feed:
    return Feed(cfg=Config(estimation=EstimationParams(flow_mean_observed=on)))


def _free(f: Feed, seconds: int) -> None:
    """Free flow over both loops, served as it comes (flow_window_s 300: alpha 1/300)."""
    for _ in range(seconds):
        car = {"car": 1} if int(f.t) % EVERY_S == 0 else {}
        f.step(reading("N_adv", car, 0.1, 12.0), reading("N_stop", car, 0.1, 10.0), green=0)


def _flow(f: Feed) -> float:
    return float(f.est.lanes.flow_pcu_h[0])


def test_the_flow_reads_the_demand_from_the_first_minute():
    flows = {}
    for on in (False, True):
        f = _feed(on)
        _free(f, 60)
        flows[on] = _flow(f)
    assert 120.0 < flows[False] < 140.0  # 720 x (1 - (299/300)^60) = 131
    assert 690.0 < flows[True] < 750.0  # 12 cars in 60 s, the latest weighing a little more


def test_after_a_few_windows_the_mean_is_the_ewma():
    flows = {}
    for on in (False, True):
        f = _feed(on)
        _free(f, 3000)
        flows[on] = _flow(f)
    assert abs(flows[True] - flows[False]) < 0.001 * flows[False]
    assert abs(flows[True] - 720.0) < 30.0


def test_a_standing_advance_loop_teaches_nothing_and_the_hidden_queue_grows_by_the_mean():
    hidden, seen = {}, {}
    for on in (False, True):
        f = _feed(on)
        _free(f, 60)
        before = float(f.est.lanes.flow_seen[0])
        for _ in range(60):  # red: the queue stands over both loops, nothing counted
            f.step(reading("N_adv", {}, 1.0, 0.0), reading("N_stop", {}, 1.0, 0.0), green=1)
        seen[on] = (before, float(f.est.lanes.flow_seen[0]))
        hidden[on] = float(f.est.lanes.hidden_pcu[0])
    assert seen[False] == (0.0, 0.0)
    assert seen[True][0] > 0.0 and seen[True][1] == seen[True][0]  # held while the loop stands
    assert hidden[True] > 3.0 * hidden[False] > 0.0  # 720 against 131 PCU/h held, less what the storage took
    assert float(f.est.queue_pcu[N]) > 0.0


def test_one_pass_over_the_network_equals_junction_by_junction_with_the_mean():
    rng = random.Random(11)
    js = mixed_junctions()
    cfg = Config(estimation=EstimationParams(flow_mean_observed=True))
    layouts = {jid: Layout.build(j, cfg) for jid, j in js.items()}
    net = netestimate.network_layout(layouts)
    assert net is not None
    ref = {jid: Estimate.empty(lay, 0.0) for jid, lay in layouts.items()}
    got = dict(ref)
    for tick in range(1, 300):
        snaps: dict[str, list[Snapshot]] = {jid: [random_snapshot(rng, j, float(tick))] for jid, j in js.items()}
        got = fold_both_ways(net, layouts, ref, got, snaps, {jid: rng.choice((None, 0, 1)) for jid in js})
    seen = np.concatenate([e.lanes.flow_seen for e in got.values()])
    assert (seen > 0.0).any() and (seen < 1.0).all()

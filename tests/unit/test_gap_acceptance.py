"""[estimation] permitted_gap_acceptance: a permitted ('g') movement planned at the share of its saturation flow the
flow it gives way to leaves it (HCM 2010 ch. 31 permitted left, gap acceptance; policies/gap_acceptance.py), by
max_pressure (adaptive) and schedule; the constant permitted_sat_ratio where the opposing stream is not known.

The junction: tests/junction_fixtures.py's four-phase one, N_L and S_L permitted ('g') in the N/S through phase 0,
protected in phase 1; N_L gives way to S_T by the network's right of way (`yields_to`)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Estimate, EstimationParams, Layout
from controller.core.params import MaxPressureParams, ScheduleParams
from controller.core.policies.gap_acceptance import YieldFoes, gap_rate_veh_s, opposing_flow_pcu_h, permitted_service
from controller.core.policies.max_pressure import MaxPressurePolicy, build_statics, phase_pressures
from controller.core.policies.schedule import SchedulePolicy
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.estimate_fixtures import estimate_with_queues
from tests.junction_fixtures import four_phase_raw

ON = Config(estimation=EstimationParams(permitted_gap_acceptance=True))


def _layout(cfg: Config, yields_to: list[str] | None = ["S_T"], shared: bool = False) -> Layout:  # noqa: B006
    raw = four_phase_raw(shared_left_lane=shared)
    if yields_to is not None:
        next(m for m in raw["movements"] if m["id"] == "N_L")["yields_to"] = yields_to
    return Layout.build(parse_intersection(raw, "four_phase.toml"), cfg)


def _ix(lay: Layout, mid: str) -> int:
    return [m.id for m in lay.junction.movements].index(mid)


def _hcm_pcu_h(v_veh_h: float) -> float:
    """HCM's permitted-left saturation flow per lane, t_c 4.5 s, t_f 2.5 s (veh/h)."""
    v = v_veh_h / 3600.0
    return 3600.0 * v * math.exp(-4.5 * v) / (1.0 - math.exp(-2.5 * v))


def _n_l_share(lay: Layout, flow: dict[str, float], queue: dict[str, float] | None = None, blind: str = "") -> float:
    """The share phase 0 serves N_L at: N_L's part of phase 0's pressure over phase 1's (which serves it protected
    and nothing else queued), with N_L 10 PCU queued, phase 2 in force (both start N_L after the same intergreen),
    the other movements' `flow` (PCU/h) and `queue` (PCU) as given, `blind` a movement without a working loop."""
    p = MaxPressureParams()
    n_l = _ix(lay, "N_L")
    est = Estimate.empty(lay, 0.0)
    f, q, b = np.zeros(len(est.queue_pcu)), np.zeros(len(est.queue_pcu)), np.zeros(len(est.queue_pcu), dtype=bool)
    for mid, v in flow.items():
        f[_ix(lay, mid)] = v
    for mid, v in (queue or {}).items():
        q[_ix(lay, mid)] = v
    b[[_ix(lay, blind)] if blind else []] = True
    st = build_statics(lay, p.permitted_sat_ratio, p.switch_service_s)
    view = SignalView(2, False, 20.0, tuple(0.0 for _ in q))

    def pressures(n_l_pcu: float) -> np.ndarray:
        e = replace(est, flow_pcu_h=f, queue_pcu=np.where(np.arange(len(q)) == n_l, n_l_pcu, q), blind=b)
        return phase_pressures(st, lay, e, view, 20.0, p.switch_service_s, p.wait_scale_s)

    with_n_l, without = pressures(10.0), pressures(0.0)
    return float((with_n_l[0] - without[0]) / (with_n_l[1] - without[1]))


def test_the_gap_formula_is_hcms_permitted_left() -> None:
    v = np.array([0.0, 600.0, 1250.0]) / 3600.0
    got = gap_rate_veh_s(v, 4.5, 2.5) * 3600.0
    assert got[0] == pytest.approx(1440.0, rel=1e-6)  # 1 / t_f: no opposing stream
    assert got[1:] == pytest.approx([_hcm_pcu_h(600.0), _hcm_pcu_h(1250.0)])
    assert got[1] == pytest.approx(831.7, abs=0.1) and got[2] == pytest.approx(451.6, abs=0.1)


def test_max_pressure_serves_the_permitted_left_at_the_share_its_opposing_flow_leaves() -> None:
    """S_T arriving at 600 PCU/h, no queue: N_L (one lane, 1,600 PCU/h) at 830 / 1,600 of its rate; S_T queued: the
    stream discharges at its saturation flow (1,800) and N_L passes 265 PCU/h; key off: 0.4 whatever S_T does."""
    on = _layout(ON)
    assert _n_l_share(on, {"S_T": 600.0}) == pytest.approx(_hcm_pcu_h(600.0) / 1600.0, rel=1e-3)
    standing = _n_l_share(on, {"S_T": 600.0}, {"S_T": 5.0})
    assert standing == pytest.approx(_hcm_pcu_h(1800.0) / 1600.0, rel=1e-3)
    off = _layout(Config())
    assert _n_l_share(off, {"S_T": 600.0}) == pytest.approx(MaxPressureParams().permitted_sat_ratio)
    assert _n_l_share(off, {"S_T": 600.0}, {"S_T": 5.0}) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("yields_to", "blind", "share"),
    [
        (None, "", 0.4),  # a file without `yields_to`: not known
        ([], "", 0.4),  # gives way only to what no loop counts (walkers)
        (["S_T"], "S_T", 0.4),  # the stream it gives way to has no working loop
        (["E_T"], "", 1440.0 / 1600.0),  # a stream phase 0 holds red opposes nothing: 1 / t_f
    ],
)
def test_the_constant_stays_where_the_opposing_stream_is_not_known(
    yields_to: list[str] | None, blind: str, share: float
) -> None:
    lay = _layout(ON, yields_to)
    assert _n_l_share(lay, {"S_T": 600.0, "E_T": 600.0}, blind=blind) == pytest.approx(share, rel=1e-3)


def test_schedule_keeps_the_through_green_the_unopposed_left_clears_within_its_maximum() -> None:
    """Phase 0 green 7 s of its 60 s maximum; N_T 8 PCU, N_L 12 PCU on its own lane, nothing on S_T (no queue, no
    arrivals): unopposed, N_L passes 1,440 veh/h (1 / t_f), 12 PCU in 30 s, so phase 0 holds. Key off, at 0.4 of
    its rate (640 PCU/h), the whole cluster lasts 67.5 s, past the maximum, and the schedule (permitted_tail off)
    leaves phase 0 at once."""
    for cfg, kept in ((ON, True), (Config(), False)):
        lay = _layout(cfg)
        ids = [m.id for m in lay.junction.movements]
        est = estimate_with_queues(lay, {"N_T": 8.0, "N_L": 12.0, "E_T": 2.0, "W_T": 2.0})
        view = SignalView(0, False, 7.0, tuple(93.0 if lay.serves[0, i] else 60.0 for i in range(len(ids))))
        p = SchedulePolicy(ScheduleParams(permitted_tail=False))
        s, wish = p.decide(p.init(lay, 0.0), lay, est, view, 100.0)
        assert wish is not None and (wish.phase == 0) is kept and (s.next_phase == -1) is kept


def test_the_network_pass_steps_aside_for_the_key() -> None:
    """max_pressure_net's pass reads Statics.service as built: with the key on the junctions decide one by one
    (phase_pressures reads the opposing flow), with it off the pass runs."""
    p = MaxPressurePolicy(MaxPressureParams())
    assert p.network_decision({"J": _layout(ON)}) is None
    assert p.network_decision({"J": _layout(Config())}) is not None


def test_a_standing_queue_opposes_at_its_unblocked_saturation_flow_from_one_pcu() -> None:
    """opposing_flow_pcu_h: a stream with a queue of one PCU or more at its stop line discharges at its saturation
    flow less the exit blockage the estimator measures (half blocked: half of it); under one PCU, its arrival flow."""
    lay = _layout(ON)
    est = Estimate.empty(lay, 0.0)
    n = len(est.queue_pcu)
    sat = est.sat_flow_pcu_h
    queue = np.where(np.arange(n) % 2 == 0, 1.0, 0.99)
    e = replace(est, queue_pcu=queue, flow_pcu_h=np.full(n, 300.0), block=np.full(n, 0.5))
    assert opposing_flow_pcu_h(e) == pytest.approx(np.where(queue >= 1.0, sat * 0.5, 300.0))


def test_the_share_is_per_lane_and_at_most_the_whole_rate() -> None:
    """A left on the lane it shares with the through (half of that lane) passes the gaps on that half: half the
    share of a left on its own lane. Unopposed, on a left whose learnt saturation flow (1,000 PCU/h) is under
    what one lane passes with no stream to cross (1 / t_f: 1,440 veh/h), the share is the whole rate, 1."""
    own, shared = _layout(ON), _layout(ON, shared=True)
    assert _n_l_share(shared, {"S_T": 600.0}) == pytest.approx(0.5 * _n_l_share(own, {"S_T": 600.0}), rel=1e-9)
    n_l = _ix(own, "N_L")
    est = Estimate.empty(own, 0.0)
    slow = replace(est, sat_flow_pcu_h=np.where(np.arange(len(est.queue_pcu)) == n_l, 1000.0, est.sat_flow_pcu_h))
    service = np.where(own.serves & ~own.protected, 0.4, own.serves.astype(float))
    out = permitted_service(own, slow, YieldFoes.build(own), service)
    assert out[0, n_l] == 1.0 and service[0, n_l] == 0.4

"""A link the city's program switches off in a stage ('o': its drivers yield, as at an
unsignalled junction) serves its movement permitted there, as 'g' does, with `[estimation]
off_is_permitted`: the layout's masks, max-pressure's pressures and the do-no-harm replay read it;
every safety rule (served_movements, the conflicts, the intergreens) still reads green only.

The junction: tests/junction_fixtures.py's four-phase one with the N/S left turns switched off
('o') in the N/S through phase 0 instead of permissive ('g'), protected ('G') in phase 1 (SUMO's
RiLSA_example4 shape; before session 14 the model counted them served in phase 1 only)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config
from controller.core import shadow
from controller.core.estimation import Estimate, EstimationParams, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import build_statics, phase_pressures, switch_useful
from controller.core.policies.schedule import full_service
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from controller.model import Intersection, SignalStatus
from tests.junction_fixtures import four_phase_raw

ON = Config(estimation=EstimationParams(off_is_permitted=True))
OFF = Config(estimation=EstimationParams(off_is_permitted=False))


def _junction(phase2: str = "rrGgrrGg") -> Intersection:
    raw = four_phase_raw()
    raw["phases"][0]["state"] = "GorrGorr"  # N_T, S_T green; N_L, S_L switched off (yield)
    raw["phases"][2]["state"] = phase2
    return parse_intersection(raw, "four_phase_off.toml")


def _ix(lay: Layout, mid: str) -> int:
    return [m.id for m in lay.junction.movements].index(mid)


def test_the_serves_mask_counts_an_off_link_as_permitted():
    on, off = Layout.build(_junction(), ON), Layout.build(_junction(), OFF)
    n_l = _ix(on, "N_L")
    assert on.serves[0, n_l] and not on.protected[0, n_l] and not on.serves_green[0, n_l]
    assert on.serves[1, n_l] and on.protected[1, n_l] and on.serves_green[1, n_l]
    assert not off.serves[0, n_l] and off.serves[1, n_l]  # the model before: phase 1 only
    # the left lane (eN_1) counts as green in phase 0 for the estimator, not as protected
    lane = on.lanes.index("eN_1")
    assert on.lane_green[0, lane] and not on.lane_protected[0, lane] and not off.lane_green[0, lane]
    # the safety view does not change: phase 0 greens N_T and S_T only, no conflict
    j = on.junction
    assert "N_L" not in j.served_movements(0) and j.conflicting_greens(0) is None
    assert j.phases[0].served_links(False) == j.phases[0].green_links() == frozenset({0, 4})
    assert j.phases[0].served_links(True) == frozenset({0, 1, 4, 5})
    # schedule's full service and its primary (protected first) stay the protected phase
    assert full_service(on)[0, n_l] and full_service(on)[1, n_l] and not full_service(off)[0, n_l]


def test_max_pressure_sees_the_off_turn_in_its_through_phase():
    """Only N_L queued (10 PCU), phase 2 in force: phases 0 and 1 start it after the same
    intergreen, phase 0 at the permitted ratio of phase 1's pressure; without the rule, 0."""
    p = MaxPressureParams()
    for cfg, ratio in ((ON, p.permitted_sat_ratio), (OFF, 0.0)):
        lay = Layout.build(_junction(), cfg)
        est = Estimate.empty(lay, 0.0)
        q = np.zeros(len(lay.junction.movements))
        q[_ix(lay, "N_L")] = 10.0
        est = replace(est, queue_pcu=q)
        st = build_statics(lay, p.permitted_sat_ratio, p.switch_service_s)
        view = SignalView(2, False, 20.0, tuple(0.0 for _ in q))
        v = phase_pressures(st, lay, est, view, 20.0, p.switch_service_s, p.wait_scale_s)
        assert v[1] > 0 and v[0] == pytest.approx(ratio * v[1])


def test_an_off_link_starts_again_after_an_intergreen():
    """The roadside shows an off link red through the intergreen (sim/roadside.py): from one
    phase to another that both switch N_L off, N_L pays the intergreen and the start-up loss;
    within the phase in force it pays nothing."""
    lay = Layout.build(_junction(phase2="roGgroGg"), ON)  # N_L also off in phase 2 (a test shape)
    n_l, t = _ix(lay, "N_L"), 2.0
    ig = np.array([[lay.junction.intergreen_s(a, b) for b in range(4)] for a in range(4)])
    useful = switch_useful(lay, ig, 0, t)
    assert useful[0, n_l] == 1.0
    assert ig[0, 2] > 0 and useful[2, n_l] == pytest.approx(t / (t + ig[0, 2] + lay.params.startup_lost_s))
    n_t = _ix(lay, "N_T")
    assert useful[0, n_t] == 1.0 and useful[2, n_t] < 1.0


def _replay_served(cfg: Config, phase: int) -> float:
    """PCU of N_L the replay's controlled side discharges in 13 s of `phase` from 10 PCU."""
    lay = Layout.build(_junction(), cfg)
    prog = replace(shadow.Program.build(lay, 0.4, 2.0, 2.0), zone_m=np.zeros(len(lay.junction.movements)))
    n_l = _ix(lay, "N_L")
    rp = shadow.start(prog, len(lay.junction.movements), 0.0)
    a = np.zeros(len(lay.junction.movements))
    a[n_l] = 10.0
    est = replace(Estimate.empty(lay, 0.0), departures_pcu=np.zeros_like(a), queue_pcu=a)
    for k in range(13):
        st = SignalStatus("J", k + 1.0, phase, False, 0.0, "p", 1, "adaptive")
        rp = shadow.advance(prog, rp, est, st, k + 1.0, 1e9)
    return float(rp.controlled.served_pcu[n_l])


def test_the_replay_discharges_an_off_turn_at_the_permitted_ratio():
    # 2 s lost (the arrival tick counts as the green's first second), then 11 s at 0.4 x 1600 PCU/h
    assert _replay_served(ON, 0) == pytest.approx(11 * 0.4 * 1600 / 3600)
    assert _replay_served(OFF, 0) == 0.0
    assert _replay_served(ON, 1) == pytest.approx(11 * 1600 / 3600)  # protected: the whole rate


def test_the_base_green_share_counts_the_off_stage_as_observe_does():
    lay = Layout.build(_junction(), ON)
    n_l = _ix(lay, "N_L")
    share, _ = shadow.base_green_share(lay)
    j = lay.junction
    assert share[n_l] == pytest.approx((j.phases[0].base_green_s + j.phases[1].base_green_s) / j.base_cycle_s())
    st = shadow.observe(
        shadow.initial(lay, 0.0), lay, SignalStatus("J", 1.0, 0, False, 0.0, "p", 1, "adaptive"), 1.0, 1.0
    )
    assert st.was_green[n_l]

"""`schedule`: a permitted turn standing in the junction with its queue behind stalled, on a short
approach, ends the green for the phase that serves it protected (`[schedule] box_short_pcu`;
docs/policies.md)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy
from controller.core.safety import SignalView
from controller.junctions import parse_intersection
from tests.estimate_fixtures import estimate_with_queues
from tests.junction_fixtures import four_phase_raw

CFG = Config()


def _layout(n_l_storage_pcu: float) -> Layout:
    raw = four_phase_raw()
    for m in raw["movements"]:
        if m["id"] == "N_L":
            m["storage_pcu"] = n_l_storage_pcu
    return Layout.build(parse_intersection(raw, "four_phase.toml"), CFG)


def _wish(lay: Layout, params: ScheduleParams, last_dep_s: float) -> int:
    """Phase 0 (N/S through, permitted lefts) green for 20 s of its 60 s maximum, at 100 s; N_L crossed
    its stop line (it may stand inside the junction: its stop-line loops and the through lanes it
    yields to occupied throughout), 1 PCU queued behind it, its last departure at `last_dep_s`; N_T
    and S_T 8 PCU each; no arrivals. The phase wished."""
    ids = [m.id for m in lay.junction.movements]
    est = estimate_with_queues(lay, {"N_T": 8.0, "S_T": 8.0, "N_L": 1.0})
    p = SchedulePolicy(params)
    view = SignalView(0, False, 20.0, tuple(0.0 if lay.serves[0, i] else 80.0 for i in range(len(ids))))
    state, _ = p.decide(p.init(lay, 0.0), lay, est, view, 100.0)  # the first tick of this green seen
    n_l = np.array([i == "N_L" for i in ids])
    state = replace(state, boxed=n_l, last_dep_s=np.where(n_l, last_dep_s, 100.0), planned_s=100.0)
    _, wish = p.decide(state, lay, est, view, 100.0)
    assert wish is not None
    return wish.phase


def test_a_turner_standing_in_the_junction_on_a_short_approach_gets_its_protected_phase():
    """N_L's approach stores 1.5 PCU: standing 6 s (past stall_s = 5 s), it ends phase 0's green for
    phase 1, which serves N_L protected. Off (0), or on a 10-PCU approach, or stalled for less than
    stall_s, phase 0 stays green (its through queues are the programme's first job)."""
    on = ScheduleParams(box_short_pcu=2.0)
    assert _wish(_layout(1.5), on, last_dep_s=94.0) == 1
    assert _wish(_layout(1.5), ScheduleParams(), last_dep_s=94.0) == 0
    assert _wish(_layout(10.0), on, last_dep_s=94.0) == 0
    assert _wish(_layout(1.5), on, last_dep_s=97.0) == 0

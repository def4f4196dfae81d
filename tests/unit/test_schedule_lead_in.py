"""`schedule`, `[schedule] lead_in_stages`: a change goes through a stage that greens only links of
the target when that is quicker than the direct change (the program's lead-in stage; issue 9,
RiLSA_example3: its east stage starts with the through movements in the west yellow, 3 s, then
adds the protected left, 0 s; straight from west to the whole east stage: 3 s + 7 s)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import ScheduleParams
from controller.core.policies.schedule import SchedulePolicy, lead_in
from controller.junctions import parse_intersection
from sim.netprogram import Program, ProgramPhase, aligned_greens_s, stage_plan
from tests.junction_fixtures import RILSA_3

CFG = Config()


def _junction_raw() -> dict[str, Any]:
    """The junction file the importer writes for RILSA_3 (one movement per link, conflicting where
    no stage greens both), with the program's transitions."""
    program = Program("J", "0", 0.0, tuple(ProgramPhase(float(d), s) for d, s in RILSA_3), "test")
    plan = replace(stage_plan(program), clearance_s=())
    greens = aligned_greens_s(plan, plan.yellow_s, plan.all_red_s)
    sets = [frozenset(i for i, c in enumerate(st.state) if c in "Gg") for st in plan.stages]
    links = sorted(set().union(*sets))
    together = {(i, k) for g in sets for i in g for k in g}
    movement = {"approach": "N", "turn": "through", "sat_flow_pcu_h": 1800.0, "storage_pcu": 10.0}
    return {
        "id": "J",
        "n_links": 12,
        "yellow_s": plan.yellow_s,
        "all_red_s": plan.all_red_s,
        "cycle_min_s": 30.0,
        "cycle_max_s": 150.0,
        "max_red_s": 150.0,
        "phases": [
            {"state": st.state, "min_green_s": min(7.0, g), "max_green_s": 60.0, "base_green_s": g}
            for st, g in zip(plan.stages, greens)
        ],
        "movements": [
            movement
            | {
                "id": f"m{i}",
                "from_edge": f"e{i}",
                "lanes": [f"e{i}_0"],
                "links": [i],
                "conflicts": [f"m{k}" for k in links if k != i and (i, k) not in together],
            }
            for i in links
        ],
        "detectors": [
            {"id": f"d{i}", "lane": f"e{i}_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0} for i in links
        ],
        "transitions": [
            {
                "from_phase": a,
                "to_phase": b,
                "states": [p.state for p in run],
                "durations_s": [p.duration_s for p in run],
            }
            for a, b, run in plan.transitions
        ],
    }


def test_the_east_stage_is_entered_through_its_lead_in():
    lay = Layout.build(parse_intersection(_junction_raw(), "J.toml"), CFG)
    st = SchedulePolicy().init(lay, 0.0).statics
    w, e1, e2, ns = range(4)
    assert [lay.junction.phases[k].state for k in (e1, e2)] == ["rrrGGorrrrrr", "rrrGGGrrrrrr"]
    assert (st.intergreen_s[w][e1], st.intergreen_s[e1][e2], st.intergreen_s[w][e2]) == (3.0, 0.0, 10.0)
    assert lead_in(st, lay, w, e2) == e1  # 3 + 2 + 0 s against 10 s
    assert lead_in(st, lay, ns, e2) == e2  # NS -> E1 is no quicker (derived 10 s): straight on
    assert lead_in(st, lay, w, ns) == ns  # no stage greens only NS links
    # the policy takes it only with the key
    on, off = SchedulePolicy(ScheduleParams(lead_in_stages=True)), SchedulePolicy(ScheduleParams(lead_in_stages=False))
    nobody = np.zeros(len(lay.junction.movements), dtype=bool)  # no permitted turn waits in the box
    assert on._via(st, lay, w, e2, nobody) == e1
    assert off._via(st, lay, w, e2, nobody) == e2


def test_no_lead_in_where_the_program_has_its_own_change():
    """Where the program changes a -> b itself (its transition), that change is the city's (Bologna
    acosta's 221: a second stop-line bar kept green 4 s to empty the link between the bars): the
    change goes straight to b, never through the lead-in stage the model's derived times favour."""
    raw = _junction_raw()
    w, e2 = 0, 2  # west, the whole east stage (E1, its lead-in, is 1)
    own = {"from_phase": w, "to_phase": e2, "states": ["rrrrrorrryyy", "rrrrrorrrrrr"], "durations_s": [3.0, 5.0]}
    raw["transitions"] = [*raw["transitions"], own]
    lay = Layout.build(parse_intersection(raw, "J.toml"), CFG)
    st = SchedulePolicy().init(lay, 0.0).statics
    assert st.intergreen_s[w][e2] == 8.0  # the program's 8 s, longer than through E1 (3 + 2 + 0 s)
    assert lead_in(st, lay, w, e2) == e2
    on = SchedulePolicy(ScheduleParams(lead_in_stages=True))
    nobody = np.zeros(len(lay.junction.movements), dtype=bool)
    assert on._via(st, lay, w, e2, nobody) == e2

"""webster: the green a movement gets where it is unopposed (controller/core/policies/webster.py,
unopposed_service and `[webster] credit_unopposed`; issue 9, RiLSA_example4's S left)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies.webster import (
    Credit,
    credited_greens_s,
    green_floors_s,
    unopposed_credit,
    unopposed_service,
    unopposed_transition_s,
    webster_greens,
)
from controller.junctions import parse_intersection
from tests.junction_fixtures import flows, two_phase_raw

CFG = Config()
ROOT = Path(__file__).resolve().parents[2]


def left_flows_on() -> Layout:
    return Layout.build(parse_intersection(left_flows_on_raw(), "left_flows_on.toml"), CFG)


def left_flows_on_raw() -> dict:
    """two_phase's four throughs and a left S_L from eS on a lane of its own (link 4), in four
    stages as RiLSA_example4's south approach: N+S throughs with the left switched off ('o',
    opposed by N_T), the S protected stage (S_T and S_L 'G'), S alone (S_T green, the left 'o':
    nothing of another approach green), then E+W (the left red)."""
    raw = two_phase_raw()
    raw["n_links"] = 5
    raw["movements"].append(
        {
            "id": "S_L",
            "approach": "S",
            "turn": "left",
            "from_edge": "eS",
            "lanes": ["eS_1"],
            "links": [4],
            "sat_flow_pcu_h": 1600.0,
            "storage_pcu": 10.0,
            "conflicts": ["E_T", "W_T"],
        }
    )
    raw["detectors"] += [
        {"id": "SL_stop", "lane": "eS_1", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0},
        {"id": "SL_adv", "lane": "eS_1", "kind": "advance", "pos_m": 20.0, "dist_to_stop_m": 80.0},
    ]
    raw["phases"] = [
        {"state": "GrGro", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 20.0},
        {"state": "rrGrG", "min_green_s": 5.0, "max_green_s": 60.0, "base_green_s": 5.0},
        {"state": "rrGro", "min_green_s": 6.0, "max_green_s": 60.0, "base_green_s": 6.0},
        {"state": "rGrGr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 30.0},
    ]
    return raw


def test_a_left_switched_off_is_unopposed_only_where_no_other_approach_is_green():
    """S_L ('o') in the S-alone stage: only its own approach green, unopposed; in the N+S stage N_T
    is green: opposed. Where it is protected ('G') it is served, not credited."""
    lay = left_flows_on()
    ids = [m.id for m in lay.junction.movements]
    got = unopposed_service(lay)
    assert got[:, ids.index("S_L")].tolist() == [False, False, True, False]
    assert not np.delete(got, ids.index("S_L"), axis=1).any()


def test_the_unopposed_green_counts_toward_the_need_before_the_protected_stage_is_raised():
    """S_L needs 12 s; its protected stage holds 5 s (its minimum), the S-alone stage 6 s. Without
    the credit the protected stage is raised to 12 s; with it only to 12 - 6 = 6 s."""
    lay = left_flows_on()
    needs = flows(lay, {"S_L": 12.0})
    lo = np.array([p.min_green_s for p in lay.junction.phases])
    hi = np.array([p.max_green_s for p in lay.junction.phases])
    assert green_floors_s(lay, needs, lo, hi).tolist() == pytest.approx([7.0, 12.0, 6.0, 7.0])
    assert green_floors_s(lay, needs, lo, hi, unopposed_credit(lay)).tolist() == pytest.approx([7.0, 6.0, 6.0, 7.0])


def test_the_credit_leaves_the_main_stages_their_green():
    """At the 79 s base cycle (61 s of green) a left of 200 PCU/h needs 79 x 200 / 1600 / 0.9 + 3 =
    14.0 s. Without the credit its protected stage alone gives it; with it the S-alone stage's 6 s
    count too, and the N+S and E+W stages keep the 6 s more of the cycle."""
    lay = left_flows_on()
    q = flows(lay, {"N_T": 250.0, "S_T": 250.0, "E_T": 400.0, "W_T": 400.0, "S_L": 200.0})
    need_s = 79.0 * 200.0 / 1600.0 / 0.9 + 3.0
    cycle_s, plain = webster_greens(lay, q, 3.0, 0.9, True)
    _, credited = webster_greens(lay, q, 3.0, 0.9, True, credit=unopposed_credit(lay))
    assert cycle_s == pytest.approx(79.0)
    assert sum(credited) == pytest.approx(sum(plain)) == pytest.approx(61.0)
    assert plain[1] >= need_s - 1e-6
    assert credited[1] + credited[2] >= need_s - 1e-6
    assert credited[1] < plain[1] - 3.0
    assert credited[0] > plain[0] and credited[3] > plain[3]


def test_credited_greens_count_the_unopposed_stage_for_a_protected_movement():
    """city_split's check (credited_greens_s): S_L, protected in stage 1, is credited with stage
    2's green too where the credit is given."""
    lay = left_flows_on()
    g = np.array([20.0, 5.0, 6.0, 30.0])
    i = [m.id for m in lay.junction.movements].index("S_L")
    assert credited_greens_s(lay, g)[i] == pytest.approx(5.0)
    assert credited_greens_s(lay, g, unopposed_credit(lay))[i] == pytest.approx(11.0)


@pytest.mark.parametrize("on", [False, True])
def test_credit_unopposed_is_switched_by_config_toml(tmp_path, on):
    """`[webster] credit_unopposed` reaches the policy's params; on by default and as shipped."""
    from controller.config import load_config
    from controller.core.policies import make_policy

    p = tmp_path / "c.toml"
    p.write_text(f"[webster]\ncredit_unopposed = {'true' if on else 'false'}\n")
    assert make_policy("webster", load_config(p)).params.credit_unopposed is on
    assert make_policy("webster", CFG).params.credit_unopposed is True
    assert make_policy("webster", load_config(ROOT / "config.toml")).params.credit_unopposed is True


@pytest.mark.parametrize("on", [False, True])
def test_the_policy_credits_the_unopposed_green_only_with_the_key(on):
    """A period's counts through WebsterPolicy.decide: with `credit_unopposed` the plan is
    webster_greens' with the credit, without it the plan as before."""
    from dataclasses import replace

    from controller.core.estimation import Estimate
    from controller.core.params import WebsterParams
    from controller.core.policies.webster import WebsterPolicy

    lay = left_flows_on()
    policy = WebsterPolicy(WebsterParams(credit_unopposed=on))
    est = Estimate.empty(lay, 0.0)
    s, _ = policy.decide(policy.init(lay, 0.0), lay, est, None, 0.0)
    q = flows(lay, {"N_T": 250.0, "S_T": 250.0, "E_T": 400.0, "W_T": 400.0, "S_L": 200.0})
    counted = est.arrivals_pcu + q * 300.0 / 3600.0
    _, wish = policy.decide(s, lay, replace(est, arrivals_pcu=counted), None, 300.0)
    assert wish is not None
    credit = unopposed_credit(lay) if on else None
    assert wish.greens_s == pytest.approx(webster_greens(lay, q, 3.0, 0.9, fit_capacity=True, credit=credit)[1])
    assert (wish.greens_s[1] < 10.0) is on


def with_transitions() -> Layout:
    """left_flows_on with the program's own transitions, as RiLSA_example4's: N+S -> S protected
    with N_T yellow 3 s (S_T green, the left 'o'), then 4 s with only S_T green and the left 'o';
    E+W -> N+S with E/W yellow 3 s, then an all-red of 2 s with the left 'o'."""
    raw = left_flows_on_raw()
    raw["transitions"] = [
        {"from_phase": 0, "to_phase": 1, "states": ["yrGro", "rrGro"], "durations_s": [3.0, 4.0]},
        {"from_phase": 3, "to_phase": 0, "states": ["ryryr", "rrrro"], "durations_s": [3.0, 2.0]},
    ]
    return Layout.build(parse_intersection(raw, "with_transitions.toml"), CFG)


def test_a_transition_credits_its_unopposed_seconds():
    """In N+S -> S protected N_T's yellow opposes the left for 3 s, the 4 s after (S_T green, of its
    own approach) credit it. In E+W -> N+S the 2 s all-red do; E/W's yellow credits no one. A green
    link ('G', S_T's) in a transition is not credited: the key counts unopposed yielding alone."""
    lay = with_transitions()
    ids = [m.id for m in lay.junction.movements]
    got = dict(zip(ids, unopposed_transition_s(lay).tolist()))
    assert got == pytest.approx({"N_T": 0.0, "E_T": 0.0, "S_T": 0.0, "W_T": 0.0, "S_L": 6.0})
    assert unopposed_transition_s(left_flows_on()).tolist() == [0.0] * 5


def test_the_transition_seconds_count_toward_the_need_first():
    """S_L needs 12 s: with 6 s in the transitions and the S-alone stage's 6 s, its protected
    stage keeps its 5 s minimum."""
    lay = with_transitions()
    needs = flows(lay, {"S_L": 12.0})
    lo = np.array([p.min_green_s for p in lay.junction.phases])
    hi = np.array([p.max_green_s for p in lay.junction.phases])
    credit = unopposed_credit(lay)
    assert isinstance(credit, Credit)
    assert green_floors_s(lay, needs, lo, hi, credit).tolist() == pytest.approx(lo.tolist())
    assert green_floors_s(lay, flows(lay, {"S_L": 20.0}), lo, hi, credit)[1] == pytest.approx(8.0)


def test_a_transition_green_link_is_credited_only_with_credit_transition_green():
    """S_T stays 'G' through N+S -> S protected (7 s): credited with `credit_transition_green`, not
    without; the left's unopposed seconds are the same either way."""
    lay = with_transitions()
    ids = [m.id for m in lay.junction.movements]
    got = dict(zip(ids, unopposed_transition_s(lay, green=True).tolist()))
    assert got == pytest.approx({"N_T": 0.0, "E_T": 0.0, "S_T": 7.0, "W_T": 0.0, "S_L": 6.0})
    assert unopposed_credit(lay, True).transition_s.tolist() == pytest.approx([0.0, 0.0, 7.0, 0.0, 6.0])


def test_credit_transition_green_is_read_from_config_toml(tmp_path):
    """Off by default and as shipped."""
    from controller.config import load_config
    from controller.core.policies import make_policy

    p = tmp_path / "c.toml"
    p.write_text("[webster]\ncredit_transition_green = true\n")
    assert make_policy("webster", load_config(p)).params.credit_transition_green is True
    assert make_policy("webster", load_config(ROOT / "config.toml")).params.credit_transition_green is False


@pytest.mark.parametrize("on", [False, True])
def test_the_policy_credits_a_transition_green_only_with_the_key(on):
    """WebsterPolicy.decide passes `credit_transition_green` on: S_T heavy (700 PCU/h) and 'G' for 7 s
    in the N+S -> S transition. Without the key N+S is raised to 27 s for it; with it N+S keeps about
    22 s, the rest going to E+W."""
    from dataclasses import replace

    from controller.core.estimation import Estimate
    from controller.core.params import WebsterParams
    from controller.core.policies.webster import WebsterPolicy

    lay = with_transitions()
    policy = WebsterPolicy(WebsterParams(credit_transition_green=on))
    est = Estimate.empty(lay, 0.0)
    s, _ = policy.decide(policy.init(lay, 0.0), lay, est, None, 0.0)
    q = flows(lay, {"N_T": 250.0, "S_T": 700.0, "E_T": 400.0, "W_T": 400.0, "S_L": 200.0})
    _, wish = policy.decide(s, lay, replace(est, arrivals_pcu=est.arrivals_pcu + q * 300.0 / 3600.0), None, 300.0)
    assert wish is not None
    credit = unopposed_credit(lay, on)
    assert wish.greens_s == pytest.approx(webster_greens(lay, q, 3.0, 0.9, fit_capacity=True, credit=credit)[1])
    assert (wish.greens_s[0] < 25.0) is on


def test_a_link_off_with_the_right_of_way_opposes_the_yielding_left():
    """N_T's link switched off with the right of way ('O': no signal, priority) moves like a green:
    in the S-alone stage and in the E+W -> N+S all-red S_L gives way to it, so neither is credited."""
    raw = left_flows_on_raw()
    raw["phases"][2]["state"] = "OrGro"
    raw["transitions"] = [{"from_phase": 3, "to_phase": 0, "states": ["ryryr", "Orrro"], "durations_s": [3.0, 2.0]}]
    lay = Layout.build(parse_intersection(raw, "off_priority.toml"), CFG)
    ids = [m.id for m in lay.junction.movements]
    assert not unopposed_service(lay)[:, ids.index("S_L")].any()
    assert unopposed_transition_s(lay)[ids.index("S_L")] == 0.0


def test_a_movement_counted_by_every_phase_through_its_credit_needs_nothing_more():
    """two_phase with N_T credited in phase 1 (unopposed there: nothing it gives way to released), so
    counted by both phases while served by phase 0 alone: like a movement green in every phase, it raises
    no green (green_floors_s skips a movement every phase counts, not only one every phase serves),
    whatever it needs. Without the credit its 100 s raise phase 0 to its 60 s maximum."""
    lay = Layout.build(parse_intersection(two_phase_raw(), "two_phase.toml"), CFG)
    ids = [m.id for m in lay.junction.movements]
    lo = np.array([p.min_green_s for p in lay.junction.phases])
    hi = np.array([p.max_green_s for p in lay.junction.phases])
    unopposed = np.zeros_like(lay.serves)
    unopposed[1, ids.index("N_T")] = True
    credit = Credit(unopposed, np.zeros(len(ids)))
    needs = flows(lay, {"N_T": 100.0})
    assert not lay.serves[:, ids.index("N_T")].all() and (lay.serves | credit.phases)[:, ids.index("N_T")].all()
    assert green_floors_s(lay, needs, lo, hi).tolist() == pytest.approx([60.0, 7.0])
    assert green_floors_s(lay, needs, lo, hi, credit).tolist() == pytest.approx(lo.tolist())

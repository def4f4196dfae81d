"""A light `scats` leaves on its actuated program (`[scats] keep_extending_actuated`: watched before
a takeover, or kept for good) runs no scats cycle: its wish stays the initial one, never adapted. It
must not marry a neighbour, or its frozen wish would set the neighbour's cycle for good."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.core.params import ScatsParams
from controller.core.policies.scats import ProgramWatch, ScatsPolicy
from tests.unit.test_policies import estimate, two_junction_network


def advice_cycles(k_on_program: bool) -> dict[str, float]:
    """J feeds K (700 PCU/h on its N_T, above marry_flow_pcu_h); J wants 60 s, K's wish is 66 s."""
    lay_j, net = two_junction_network(room_pcu=5.0)
    net = replace(net, estimates={**net.estimates, "J": estimate(lay_j, flow={"N_T": 700.0})})
    p = ScatsPolicy(ScatsParams(keep_extending_actuated=True))
    s_j = replace(p.init(lay_j, 0.0), desired_cycle_s=60.0)
    s_k = replace(p.init(net.layouts["K"], 0.0), desired_cycle_s=66.0)
    if k_on_program:
        s_k = replace(s_k, watch=ProgramWatch(0.0), kept=True)
    return {j: a.cycle_s for j, a in p.coordinate(net, {"J": s_j, "K": s_k}, 200.0).items()}


def test_two_scats_lights_marry_and_share_the_longer_cycle():
    assert advice_cycles(k_on_program=False) == {"J": pytest.approx(66.0), "K": pytest.approx(66.0)}


def test_a_light_kept_on_its_program_marries_no_neighbour():
    assert advice_cycles(k_on_program=True) == {"J": pytest.approx(60.0)}

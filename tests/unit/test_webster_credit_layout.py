"""A webster Credit belongs to the layout unopposed_credit built it from: its floor index (Credit.floors,
green_floors_s' per-movement phases) is that layout's, and green_floors_s refuses it for a layout of other
serving phases or base greens (ValueError naming the junction) instead of reading a wrong index silently.
The layout itself, a copy with other saturation flows (lane_shared_layout) and an equal layout built again
take it and give one answer."""

from __future__ import annotations

import numpy as np
import pytest

from controller.core.estimation import Layout
from controller.core.policies.webster import Credit, green_floors_s, lane_shared_layout, unopposed_credit
from controller.junctions import parse_intersection
from tests.junction_fixtures import flows
from tests.unit.test_webster_unopposed import CFG, left_flows_on_raw


def layout(**base_green_s: float) -> Layout:
    """left_flows_on (S_T served in stages 0 (base green 20 s), 1 (5 s) and 2 (6 s), S_L protected in 1 and
    unopposed in 2) with the base greens of the stages named `p<k>` replaced."""
    raw = left_flows_on_raw()
    for name, green_s in base_green_s.items():
        raw["phases"][int(name[1:])]["base_green_s"] = green_s
    return Layout.build(parse_intersection(raw, "left_flows_on.toml"), CFG)


def floors(lay: Layout, credit: Credit | None, **needs_s: float) -> list[float]:
    lo = np.array([p.min_green_s for p in lay.junction.phases])
    hi = np.array([p.max_green_s for p in lay.junction.phases])
    return green_floors_s(lay, flows(lay, needs_s), lo, hi, credit).tolist()


def test_a_credit_serves_its_layout_a_copy_of_it_and_an_equal_layout_alike():
    """S_T needs 40 s (first: the largest need): 18 s in its three stages' minimums, the 22 s short to the
    stage of the longest base green serving it (stage 0); S_L 12 s: 6 s unopposed in stage 2, 1 s more to its
    protected stage 1."""
    lay = layout()
    credit = unopposed_credit(lay)
    want = floors(lay, credit, S_T=40.0, S_L=12.0)
    assert want == pytest.approx([29.0, 6.0, 6.0, 7.0])
    shared = lane_shared_layout(lay, flows(lay, {"S_T": 600.0, "S_L": 100.0}))
    assert shared is not lay and shared.serves is lay.serves
    assert floors(shared, credit, S_T=40.0, S_L=12.0) == want
    again = layout()
    assert again.serves is not lay.serves and again.junction is not lay.junction
    assert floors(again, credit, S_T=40.0, S_L=12.0) == want


def test_a_credit_is_refused_for_a_layout_of_other_base_greens():
    """Stage 1's base green 30 s: S_T's deficit goes to stage 1 first with this layout's own credit; the
    credit of the 20 / 5 / 6 s layout would send it to stage 0 (its index orders the stages by its base
    greens): refused, not read."""
    lay, other = layout(), layout(p1=30.0)
    assert floors(other, unopposed_credit(other), S_T=40.0, S_L=12.0) == pytest.approx([7.0, 27.0, 6.0, 7.0])
    with pytest.raises(ValueError, match="junction J: the credit's floor index was built for a layout of other"):
        floors(other, unopposed_credit(lay), S_T=40.0, S_L=12.0)


def test_a_credit_is_refused_for_a_layout_of_other_serving_phases():
    """A layout whose stage 2 greens N_T instead of S_T (S_L opposed there): the credit of left_flows_on
    would count S_T's need in stage 2 and S_L's unopposed green there."""
    lay = layout()
    raw = left_flows_on_raw()
    raw["phases"][2]["state"] = "Grrro"
    other = Layout.build(parse_intersection(raw, "left_flows_on.toml"), CFG)
    assert not np.array_equal(other.serves, lay.serves)
    with pytest.raises(ValueError, match="junction J: "):
        floors(other, unopposed_credit(lay), S_T=40.0)


def test_a_credit_built_by_hand_without_an_index_is_indexed_for_the_layout_it_is_given():
    """Credit(phases, transition_s) carries no index: green_floors_s builds the one of the layout given."""
    lay, other = layout(), layout(p1=30.0)
    own = unopposed_credit(other)
    by_hand = Credit(own.phases, own.transition_s)
    assert floors(other, by_hand, S_T=40.0, S_L=12.0) == floors(other, own, S_T=40.0, S_L=12.0)
    assert floors(lay, by_hand, S_T=40.0, S_L=12.0) == floors(lay, unopposed_credit(lay), S_T=40.0, S_L=12.0)

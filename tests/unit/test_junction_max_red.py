"""A junction file whose `max_red_s` no plan can keep (controller/junctions.py checked_max_red): a phase
keeps the movements it does not serve red for its minimum green and the intergreens into and out of it.
Where that phase is the only one serving some movement, every plan runs it: the file is refused at load,
naming the file, the junction and the field. Where other phases serve its movements too, webster and
scats would refuse the junction at start, but the acyclic policies' gate would still run the phase and
break max_red_s without a word: refused too. A model built in code is not checked (the gate's own
tests build such models on purpose)."""

from __future__ import annotations

import copy

import pytest
import tomli_w

from controller.core.estimation import Layout
from controller.core.policies.requirements import acyclic_refusal, cyclic_refusal
from controller.errors import JunctionError
from controller.junctions import intersections_from_tables, load_intersection, load_intersections, parse_intersection
from tests.junction_fixtures import two_phase_raw

# two_phase: yellow 3 s, all-red 2 s, so 5 s into and out of each phase: a phase of min green g keeps the
# other's movements red g + 10 s; max_red_s 120 s
LONG = {"state": "GrGr", "min_green_s": 115.0, "max_green_s": 130.0, "base_green_s": 115.0}


def _raw(*, long_only: bool) -> dict:
    """two_phase with phase 0 (N/S) at min green 115 s (red 125 s > 120 s for E/W); with `long_only` false,
    a third phase serving N/S at the usual 7 s, so the long phase can be left out."""
    raw = two_phase_raw()
    raw["cycle_max_s"] = 300.0  # the cycle's bound out of the way: max_red_s alone binds
    long = copy.deepcopy(LONG)
    if long_only:
        raw["phases"][0] = long
    else:
        raw["phases"].append(long)
    return raw


def _write(tmp_path, raw: dict, name: str = "J.toml"):
    path = tmp_path / name
    path.write_text(tomli_w.dumps(raw))
    return path


def test_a_max_red_no_plan_can_keep_is_refused_naming_the_file_the_junction_and_the_field(tmp_path) -> None:
    path = _write(tmp_path, _raw(long_only=True))
    with pytest.raises(JunctionError) as err:
        load_intersection(path)
    e = err.value
    assert e.path == str(path) and e.field == "max_red_s"
    assert "junction J" in e.problem and "phase 0" in e.problem and "_T red at least 125 s" in e.problem
    assert "the only one serving N_T" in e.problem
    with pytest.raises(JunctionError, match="max_red_s: junction J"):
        load_intersections(tmp_path)
    with pytest.raises(JunctionError, match="max_red_s: junction J"):
        intersections_from_tables([(path, _raw(long_only=True))])


def test_the_bound_counts_the_intergreens_either_side(tmp_path) -> None:
    raw = _raw(long_only=True)
    raw["max_red_s"] = 125.0  # exactly the phase's red: a plan at its minimum keeps it
    assert load_intersection(_write(tmp_path, raw)).max_red_s == 125.0
    raw["max_red_s"] = 124.5
    with pytest.raises(JunctionError, match="max_red_s"):
        load_intersection(_write(tmp_path, raw))


def test_a_phase_other_phases_can_stand_in_for_is_refused_too(tmp_path) -> None:
    path = _write(tmp_path, _raw(long_only=False))
    with pytest.raises(JunctionError) as err:
        load_intersection(path)
    assert err.value.field == "max_red_s" and err.value.path == str(path)
    assert "junction J" in err.value.problem and "no plan may run phase 2" in err.value.problem
    # webster and scats would refuse the junction at start, the acyclic policies would serve it (and their
    # gate, on 5cf219e, commands phase 2 after E/W's green: E/W red 125 s > 120 s, without a word)
    lay = Layout.build(parse_intersection(_raw(long_only=False), "in_code.toml"))
    assert "max_red_s" in cyclic_refusal(lay) and acyclic_refusal(lay) == ""


def test_a_model_built_in_code_is_not_checked() -> None:
    j = parse_intersection(_raw(long_only=True), "in_code.toml")
    assert j.phases[0].min_green_s == 115.0 and j.max_red_s == 120.0

"""The bounds of the intergreens that cover every program a `<WAUT>` may put in force (H, session 64; the rule:
tests/unit/test_waut_intergreens.py): the program a WAUT starts with counts as much as the ones it switches to,
a longer yellow is covered as a longer all-red is, and the loader checks the change in both directions."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.errors import JunctionError
from controller.junctions import parse_intersection
from controller.model import ProgramTiming
from sim.netimport import import_network
from tests.junction_fixtures import two_phase_raw
from tests.netbuild import additional, cross_net, tl_logic
from tests.unit.test_waut_intergreens import CFG, _one, _phases, _waut, _with_all_red


@pytest.fixture(scope="module")
def cross(tmp_path_factory) -> Path:
    return cross_net(tmp_path_factory.mktemp("cross"))


def _timings(j) -> list[ProgramTiming]:
    """The programs listed, their intergreens alone (base greens: tests/unit/test_waut_program_greens.py)."""
    return [ProgramTiming(p.program_id, p.yellow_s, p.all_red_s) for p in j.programs]


def _with_yellow(phases: list[tuple[float, str]], yellow_s: float) -> list[tuple[float, str]]:
    """The program with yellows of yellow_s, the difference taken off the green before each (same cycle)."""
    out: list[tuple[float, str]] = []
    for d, s in phases:
        if "y" in s:
            out[-1] = (out[-1][0] - (yellow_s - d), out[-1][1])
            out.append((yellow_s, s))
        else:
            out.append((d, s))
    return out


def test_the_program_a_waut_starts_with_is_covered(cross, tmp_path):
    """'night' (2 s all-red) runs from the begin until the WAUT's switch to 'day' (loaded last, none): the model
    runs night's all-red, as it does when night is switched to."""
    tid, phases = _phases(cross)
    night = tl_logic(tid, "night", _with_all_red(phases, 2.0))
    add = additional(tmp_path, "w.add.xml", f"{night}\n{tl_logic(tid, 'day', phases)}\n{_waut(tid, 'night', 'day')}")
    import_network(cross, tmp_path / "w", CFG, additional=[add])
    j = _one(tmp_path / "w")
    assert _timings(j) == [ProgramTiming("night", 3.0, 2.0)]
    assert (j.yellow_s, j.all_red_s) == (3.0, 2.0)


def test_a_longer_yellow_of_another_program_is_the_junction_s(cross, tmp_path):
    tid, phases = _phases(cross)
    night = tl_logic(tid, "night", _with_yellow(phases, 4.0))
    add = additional(tmp_path, "w.add.xml", f"{night}\n{tl_logic(tid, 'day', phases)}\n{_waut(tid, 'day', 'night')}")
    result = import_network(cross, tmp_path / "w", CFG, additional=[add])
    assert result.skipped == ()
    j = _one(tmp_path / "w")
    assert _timings(j) == [ProgramTiming("night", 4.0, 0.0)]
    n = len(j.phases)
    assert j.yellow_s == 4.0
    assert all(j.intergreen_s(a, b) >= 4.0 for a in range(n) for b in range(n) if a != b)


def test_the_loader_checks_the_change_back_as_well():
    """The program's own change 1 -> 0 runs 3 s (0 -> 1 the derived 5 s); 'night' needs 4 s both ways."""
    raw = two_phase_raw()  # yellow 3 + all-red 2
    raw["transitions"] = [{"from_phase": 1, "to_phase": 0, "states": ["ryry"], "durations_s": [3.0]}]
    raw["programs"] = [{"id": "night", "yellow_s": 3.0, "all_red_s": 1.0}]
    with pytest.raises(JunctionError) as err:
        parse_intersection(raw, "J.toml")
    assert err.value.field == "transitions[0]" and "the change 1 -> 0 lasts 3 s" in err.value.problem

"""A light a `<WAUT>` switches: its junction file lists each other program the WAUT may put in force
(`programs`: its longest yellow and all-red), and its intergreens, which every rule reads, cover each of them
(docs/import.md, "Time-of-day programs"). Before session 64 the model had the intergreens of the program loaded
last alone: on the messy network nema_waut 3 s where the city's NEMA program in force until 300 s runs 5 s."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import JunctionError
from controller.junctions import load_intersections, parse_intersection
from controller.model import ProgramTiming
from sim.netimport import import_network, read_net
from tests.junction_fixtures import two_phase_raw
from tests.netbuild import additional, cross_net, tl_logic

CFG = load_config(Path(__file__).resolve().parents[2] / "config.toml")


@pytest.fixture(scope="module")
def cross(tmp_path_factory) -> Path:
    return cross_net(tmp_path_factory.mktemp("cross"))


def _phases(net: Path) -> tuple[str, list[tuple[float, str]]]:
    tl = read_net(net).getTrafficLights()[0]
    return tl.getID(), [(float(p.duration), p.state) for p in tl.getPrograms()["0"].getPhases()]


def _with_all_red(phases: list[tuple[float, str]], all_red_s: float) -> list[tuple[float, str]]:
    """The program with an all-red of all_red_s after each yellow, taken off the green before it (same cycle)."""
    out: list[tuple[float, str]] = []
    for d, s in phases:
        if "y" in s:
            out[-1] = (out[-1][0] - all_red_s, out[-1][1])
            out += [(d, s), (all_red_s, "r" * len(s))]
        else:
            out.append((d, s))
    return out


def _waut(tid: str, start: str, to: str) -> str:
    return (
        f'<WAUT id="w" refTime="0" startProg="{start}"><wautSwitch time="300" to="{to}"/></WAUT>'
        f'<wautJunction wautID="w" junctionID="{tid}"/>'
    )


def _one(out: Path):
    (j,) = load_intersections(out).values()
    return j


def test_the_intergreens_cover_the_program_a_waut_switches_to(cross, tmp_path):
    """The program loaded last has no all-red; the WAUT's 'night', in force from 300 s, 2 s: the model runs 2 s of
    all-red after every yellow, lists 'night', and its base greens keep the loaded program's cycle."""
    tid, phases = _phases(cross)
    cycle_s = sum(d for d, _ in phases)
    night = tl_logic(tid, "night", _with_all_red(phases, 2.0))
    add = additional(tmp_path, "w.add.xml", f"{night}\n{tl_logic(tid, 'day', phases)}\n{_waut(tid, 'day', 'night')}")
    import_network(cross, tmp_path / "plain", CFG)
    plain = _one(tmp_path / "plain")
    import_network(cross, tmp_path / "w", CFG, additional=[add])
    j = _one(tmp_path / "w")
    assert (plain.all_red_s, plain.programs, plain.program_id) == (0.0, (), "")
    assert j.program_id == "day"  # the program loaded last, modelled: a status naming it names the static program
    # 'night' runs the model's stages, its spans the loaded program's: its base greens are the model's (session 65)
    greens = tuple(p.base_green_s for p in j.phases)
    assert j.programs == (ProgramTiming("night", 3.0, 2.0, greens, j.base_offset_s),)
    assert (j.yellow_s, j.all_red_s) == (3.0, 2.0)
    n = len(j.phases)
    assert all(j.intergreen_s(a, b) >= 5.0 for a in range(n) for b in range(n) if a != b)
    assert j.base_cycle_s() == pytest.approx(cycle_s)


def test_a_waut_whose_other_programs_are_shorter_changes_nothing_but_the_list(cross, tmp_path):
    """'day' (loaded last, 2 s all-red) switched to the network's own program (no all-red): the model is the one
    without a WAUT, with 'night' listed; SUMO's 'off' (no program of that id) is not listed."""
    tid, phases = _phases(cross)
    day = tl_logic(tid, "day", _with_all_red(phases, 2.0))
    alone = additional(tmp_path, "a.add.xml", day)
    waut = additional(tmp_path, "w.add.xml", f"{day}\n{_waut(tid, 'off', '0')}")
    import_network(cross, tmp_path / "a", CFG, additional=[alone])
    import_network(cross, tmp_path / "w", CFG, additional=[waut])
    a, w = _one(tmp_path / "a"), _one(tmp_path / "w")
    greens = tuple(p.base_green_s for p in w.phases)
    assert w.programs == (ProgramTiming("0", 3.0, 0.0, greens, w.base_offset_s),)
    assert w.program_id == "day"  # the modelled program named beside the list (session 66), only there
    assert a == replace(w, programs=(), program_id="", source=a.source)


def test_a_program_of_the_waut_that_cannot_be_read_leaves_the_light_on_its_own(cross, tmp_path):
    tid, phases = _phases(cross)
    n_links = len(phases[0][1])
    bad = tl_logic(tid, "bad", [(30.0, "G" * n_links), (3.0, "y" * (n_links - 1))])  # phases of unequal lengths
    add = additional(tmp_path, "w.add.xml", f"{bad}\n{tl_logic(tid, 'day', phases)}\n{_waut(tid, 'day', 'bad')}")
    result = import_network(cross, tmp_path / "w", CFG, additional=[add])
    assert result.written == ()
    ((skipped, why),) = result.skipped
    assert skipped == tid and "a program its WAUT may switch it to: program 'bad' of WAUT w" in why


def _error(raw: dict) -> JunctionError:
    with pytest.raises(JunctionError) as err:
        parse_intersection(raw, "J.toml")
    assert str(err.value).startswith("J.toml: ")
    return err.value


def test_the_loader_reads_programs_and_refuses_intergreens_that_do_not_cover_them():
    raw = two_phase_raw()  # yellow 3 + all-red 2
    raw["programs"] = [{"id": "night", "yellow_s": 3.0, "all_red_s": 2.0}, {"id": "early", "yellow_s": 2.0}]
    assert parse_intersection(raw, "J.toml").programs == (
        ProgramTiming("night", 3.0, 2.0),
        ProgramTiming("early", 2.0, 0.0),
    )
    raw["programs"][1]["all_red_s"] = 3.5
    e = _error(raw)
    assert e.field == "all_red_s" and "program 'early' (programs[1]) 5.5 s" in e.problem
    assert "the change 0 -> 1 lasts 5 s" in e.problem and "cover every program" in e.problem
    raw["programs"][1].update(all_red_s=0.0, yellow_s=4.0)
    assert _error(raw).field == "programs[1].yellow_s"
    raw["programs"][1].update(yellow_s=2.0, id="night")
    assert _error(raw).field == "programs[1].id"


def test_a_program_transition_shorter_than_another_program_s_change_is_named():
    raw = two_phase_raw()
    raw["transitions"] = [{"from_phase": 0, "to_phase": 1, "states": ["yryr"], "durations_s": [3.0]}]
    assert parse_intersection(raw, "J.toml").intergreen_s(0, 1) == 3.0
    raw["programs"] = [{"id": "night", "yellow_s": 3.0, "all_red_s": 1.0}]
    assert _error(raw).field == "transitions[0]"


def test_clearances_shorter_than_another_program_s_change_are_named():
    raw = two_phase_raw()
    raw["clearance_s"] = {"0>1": 3.0, "0>3": 3.0, "2>1": 3.0, "2>3": 3.0}
    raw["programs"] = [{"id": "night", "yellow_s": 3.0, "all_red_s": 1.0}]
    assert _error(raw).field == "clearance_s"

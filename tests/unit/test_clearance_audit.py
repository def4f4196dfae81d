"""sim/clearance_audit finds a conflicting pair started sooner after the other's green than the pair's
table (through a short stage between, the path it names) or than yellow + all-red, and passes a sequence
that keeps both floors exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from controller.errors import DefinitionError
from sim.clearance_audit import audit, shorter_than_reference, write_additional
from tests.junction_fixtures import two_phase_raw

# links: 0 N_T, 1 E_T, 2 S_T, 3 W_T; N and E conflict (the table keeps 0>1 at 9 s, the change is 3 + 2 s)
SAFE = ["GrGr"] * 10 + ["yryr"] * 3 + ["rrrr"] * 6 + ["rGrG"] * 10 + ["ryry"] * 3 + ["rrrr"] * 2 + ["GrGr"] * 5
# 0 -> 2 -> 1: N ends at 10, the short stage S+W, E starts at 16 (6 s); then E ends at 26, N starts at 29 (3 s)
SHORT = ["GrGr"] * 10 + ["yrGr"] * 3 + ["rrGG"] * 3 + ["rGrG"] * 10 + ["ryry"] * 3 + ["GrGr"] * 5


def junction_folder(tmp_path: Path) -> Path:
    raw = two_phase_raw()
    for m in raw["movements"]:
        m["conflicts"] = {"N_T": ["E_T"], "E_T": ["N_T"]}.get(m["id"], [])
    raw["phases"].append({"state": "rrGG", "min_green_s": 3.0, "max_green_s": 60.0, "base_green_s": 3.0})
    raw["pair_intergreen_s"] = {"0>1": 9.0}
    folder = tmp_path / "intersections"
    folder.mkdir()
    (folder / "J.toml").write_text(tomli_w.dumps(raw))
    return folder


def states_file(tmp_path: Path, states: list[str]) -> Path:
    rows = "".join(f'<tlsState time="{t}.00" id="J" phase="0" state="{s}"/>' for t, s in enumerate(states))
    path = tmp_path / "states.xml"
    path.write_text(f"<tlsStates>{rows}</tlsStates>")
    return path


def test_a_sequence_keeping_both_floors_exactly_is_not_short(tmp_path):
    seen, short = audit(states_file(tmp_path, SAFE), junction_folder(tmp_path))
    assert {(c.link_ended, c.link_started): c.clearance_s for c in seen} == {(0, 1): 9.0, (1, 0): 5.0}
    assert short == []


def test_a_short_stage_between_and_a_short_change_are_found(tmp_path):
    seen, short = audit(states_file(tmp_path, SHORT), junction_folder(tmp_path))
    found = {(s.floor, s.seen.link_ended, s.seen.link_started): (s.short_s, s.seen.path) for s in short}
    assert found == {("table", 0, 1): (3.0, (0, 2, 1)), ("change", 1, 0): (2.0, (1, 0))}
    by_pair = {(c.link_ended, c.link_started): (c.clearance_s, c.end_s, c.start_s) for c in seen}
    assert by_pair == {(0, 1): (6.0, 10.0, 16.0), (1, 0): (3.0, 26.0, 29.0)}


def test_errors_name_the_file(tmp_path):
    folder = junction_folder(tmp_path)
    bad = tmp_path / "bad.xml"
    bad.write_text("<tlsStates><tlsState")
    with pytest.raises(DefinitionError, match="bad.xml"):
        audit(bad, folder)
    with pytest.raises(DefinitionError, match="states.xml"):
        audit(states_file(tmp_path, ["GrG"] * 3), folder)


def test_the_additional_file_saves_every_light_of_the_network(tmp_path):
    net = tmp_path / "n.net.xml"
    net.write_text('<net><tlLogic id="A"/><tlLogic id="B"/><tlLogic id="A" programID="1"/></net>')
    text = write_additional(net, tmp_path / "s.xml", tmp_path / "a.add.xml").read_text()
    assert text.count("SaveTLSStates") == 2 and 'source="A"' in text and 'source="B"' in text


def test_the_reference_keeps_only_what_the_city_never_ran_as_short(tmp_path):
    _seen, short = audit(states_file(tmp_path, SHORT), junction_folder(tmp_path))
    ref = tmp_path / "fixed.json"
    ref.write_text('{"seen": [{"junction": "J", "link_ended": 1, "link_started": 0, "clearance_s": 3.0}]}')
    kept = shorter_than_reference(short, ref)
    assert [(s.floor, s.seen.link_ended) for s in kept] == [("table", 0)]  # 1>0 at 3 s: the city's own
    ref.write_text("{}")
    with pytest.raises(DefinitionError, match="fixed.json"):
        shorter_than_reference(short, ref)

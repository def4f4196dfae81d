"""Loading junction TOMLs: every inconsistency is an error naming the file and the field."""

from __future__ import annotations

import math

import pytest
import tomli_w

from controller.errors import JunctionError
from controller.junctions import intersections_from_tables, load_intersection, load_intersections, parse_intersection
from tests.junction_fixtures import two_phase, two_phase_raw


def test_valid_junction_loads_with_derived_views():
    j = two_phase()
    assert [p.index for p in j.phases] == [0, 1]
    assert j.served_movements(0) == ("N_T", "S_T")
    assert j.intergreen_s(0, 1) == 5.0 and j.intergreen_s(1, 1) == 0.0
    assert j.base_cycle_s() == 30 + 25 + 2 * 5


def _timeline(phases: list, durations_s: list) -> dict:
    return {"phases": phases, "durations_s": durations_s}


def _error(raw: dict) -> JunctionError:
    with pytest.raises(JunctionError) as err:
        parse_intersection(raw, "J.toml")
    assert str(err.value).startswith("J.toml: ")
    return err.value


def test_conflicting_greens_in_one_phase():
    raw = two_phase_raw()
    raw["phases"][0]["state"] = "GGGr"
    e = _error(raw)
    assert e.field == "phases[0].state" and "conflicting greens" in e.problem


def test_movement_never_served():
    raw = two_phase_raw()
    raw["phases"][1]["state"] = "rGrr"
    e = _error(raw)
    assert e.field == "movements[3]" and "W_T" in e.problem


def test_min_green_above_max():
    raw = two_phase_raw()
    raw["phases"][1]["min_green_s"] = 70.0
    assert _error(raw).field == "phases[1].min_green_s"


def test_unknown_lane_in_detector():
    raw = two_phase_raw()
    raw["detectors"][3]["lane"] = "nowhere_0"
    e = _error(raw)
    assert e.field == "detectors[3].lane" and "nowhere_0" in e.problem


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda r: r.pop("id"), "id"),
        (lambda r: r.update(n_links="four"), "n_links"),
        (lambda r: r["phases"][0].update(state="GrG"), "phases[0].state"),
        (lambda r: r["phases"][0].update(state="GyGr"), "phases[0].state"),
        (lambda r: r["movements"][0].update(links=[9]), "movements[0].links"),
        (lambda r: r["movements"][0].update(turn="sideways"), "movements[0].turn"),
        (lambda r: r["movements"][0].update(conflicts=["X_T"]), "movements[0].conflicts"),
        (lambda r: r["movements"][1].update(id="N_T"), "movements.id"),
        (lambda r: r["movements"][0].update(sat_flow_pcu_h=float("nan")), "movements[0].sat_flow_pcu_h"),
        (lambda r: r["detectors"][0].update(kind="radar"), "detectors[0].kind"),
        (lambda r: r.update(yellow_s=-1.0), "yellow_s"),
        (lambda r: r.update(cycle_min_s=200.0), "cycle_min_s"),
        (lambda r: r.update(phases=[]), "phases"),
        (lambda r: r["phases"][0].update(ped_min_green_s=9.0), "phases[0].min_green_s"),
        (lambda r: r.update(detectors=[]), "detectors"),
        (lambda r: r["detectors"][1].update(kind="stop"), "detectors[1].kind"),
        (lambda r: r["detectors"][0].update(at_lane=""), "detectors[0].at_lane"),
        (lambda r: r["detectors"][0].update(length_m=0.0), "detectors[0].length_m"),
        (lambda r: r["detectors"][0].update(city="yes"), "detectors[0].city"),
        (lambda r: r.update(program_timeline=[0, 30.0]), "program_timeline"),
        (lambda r: r.update(program_timeline={"durations_s": [30.0]}), "program_timeline.phases"),
        (lambda r: r.update(program_timeline=_timeline([0, 2], [30.0, 5.0])), "program_timeline.phases"),
        (lambda r: r.update(program_timeline=_timeline([0, True], [30.0, 5.0])), "program_timeline.phases"),
        (lambda r: r.update(program_timeline={"phases": [0, -1]}), "program_timeline.durations_s"),
        (lambda r: r.update(program_timeline=_timeline([0, -1], [30.0])), "program_timeline.durations_s"),
        (lambda r: r.update(program_timeline=_timeline([0, -1], [30.0, 0])), "program_timeline.durations_s"),
        (lambda r: r.update(program_timeline=_timeline([0, -1], [30.0, math.inf])), "program_timeline.durations_s"),
        (lambda r: r.update(actuated="yes"), "actuated"),
    ],
)
def test_each_bad_field_is_named(mutate, field):
    raw = two_phase_raw()
    mutate(raw)
    assert _error(raw).field == field


def test_detector_on_an_upstream_lane_and_city_loops():
    raw = two_phase_raw()
    raw["detectors"][1].update(at_lane="up_0", pos_m=150.0, dist_to_stop_m=80.0, length_m=0.5)
    raw["detectors"][2].update(city=True)
    j = parse_intersection(raw, "J.toml")
    adv, stop = j.detectors[1], j.detectors[0]
    assert (adv.lane, adv.at_lane, adv.pos_m, adv.length_m, adv.city) == ("eN_0", "up_0", 150.0, 0.5, False)
    assert (stop.at_lane, stop.length_m) == ("eN_0", None)  # defaults: on its own lane, configured length
    assert j.detectors[2].city


def test_every_stage_letter_sumo_keeps_in_a_stage():
    raw = two_phase_raw()
    raw["phases"][0]["state"], raw["phases"][1]["state"] = "GsGo", "sGOG"
    j = parse_intersection(raw, "J.toml")  # 's', 'o' and 'O' are kept as SUMO shows them
    assert [p.green_links() for p in j.phases] == [frozenset({0, 2}), frozenset({1, 3})]


def test_conflicts_are_made_symmetric():
    raw = two_phase_raw()
    raw["movements"][0]["conflicts"] = ["E_T"]  # W_T written only on W's side
    j = parse_intersection(raw, "J.toml")
    assert j.movement("N_T").conflicts == ("E_T", "W_T")


def test_malformed_toml_names_the_file(tmp_path):
    p = tmp_path / "J.toml"
    p.write_text('id = "J"\nn_links = [\n')
    with pytest.raises(JunctionError, match=r"J\.toml: -: malformed TOML"):
        load_intersection(p)


def test_folder_checks_neighbours_and_duplicates(tmp_path):
    raw = two_phase_raw()
    raw["upstream"] = ["K"]
    (tmp_path / "J.toml").write_text(tomli_w.dumps(raw))
    with pytest.raises(JunctionError, match="unknown neighbour junction 'K'"):
        load_intersections(tmp_path)
    raw["upstream"] = []
    (tmp_path / "J.toml").write_text(tomli_w.dumps(raw))
    (tmp_path / "J2.toml").write_text(tomli_w.dumps(raw))
    with pytest.raises(JunctionError, match="also defined in"):
        load_intersections(tmp_path)


def test_models_from_tables_are_the_folder_read_back(tmp_path):
    """intersections_from_tables: load_intersections' models, checks and file-name order, without the TOML."""
    a, b = two_phase_raw(), two_phase_raw()
    a["id"], b["id"] = "Z", "A"  # ids sort the other way round from their files' names
    a["downstream"], b["upstream"] = ["A"], ["Z"]
    files = [(tmp_path / "b.toml", b), (tmp_path / "a.toml", a)]
    for fp, raw in files:
        fp.write_text(tomli_w.dumps(raw))
    back = load_intersections(tmp_path)
    mem = intersections_from_tables(files)
    assert list(mem) == list(back) == ["Z", "A"]
    assert [repr(j) for j in mem.values()] == [repr(j) for j in back.values()]
    b["upstream"] = ["K"]
    with pytest.raises(JunctionError, match="unknown neighbour junction 'K'"):
        intersections_from_tables(files)
    b["upstream"], b["id"] = [], "Z"
    with pytest.raises(JunctionError, match=r"b\.toml: id: junction 'Z' also defined in .*a\.toml"):
        intersections_from_tables(files)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(JunctionError, match="no junction TOML files"):
        load_intersections(tmp_path)


def test_the_program_timeline_loads_as_phase_and_seconds_pairs():
    raw = two_phase_raw()
    raw["program_timeline"] = {"phases": [0, -1, 1, -1], "durations_s": [32, 3.0, 23.0, 7.0]}
    j = parse_intersection(raw, "J.toml")
    assert j.program_timeline == ((0, 32.0), (-1, 3.0), (1, 23.0), (-1, 7.0))
    assert two_phase().program_timeline == ()  # none written: the base program runs the city's


@pytest.mark.parametrize(
    "where, field",
    [
        ((), "base_ofset_s"),  # a misspelt optional key: ignored before session 59 (U), its default used
        (("phases", 1), "max_gren_s"),
        (("movements", 2), "storage"),
        (("detectors", 0), "room_m_"),
        (("program_timeline",), "phase"),
    ],
)
def test_a_key_the_loader_does_not_know_is_refused_naming_it(where, field):
    raw = two_phase_raw()
    raw["program_timeline"] = _timeline([0, -1, 1, -1], [30.0, 5.0, 25.0, 5.0])
    table = raw
    for step in where:
        table = table[step]
    table[field] = 1.0
    e = _error(raw)
    prefix = ".".join(w if isinstance(w, str) else f"[{w}]" for w in where).replace(".[", "[")
    assert e.field == (f"{prefix}.{field}" if prefix else field), e
    assert "unknown key" in e.problem


def test_every_key_import_net_writes_is_known():
    """The bundled city's files (import-net's output) load with the unknown-key check."""
    from pathlib import Path

    assert len(load_intersections(Path(__file__).resolve().parents[2] / "intersections" / "city")) == 20


def test_a_folder_named_like_a_junction_file_is_named(tmp_path):
    """A folder `J2.toml` beside the junction files was an IsADirectoryError traceback."""
    (tmp_path / "J.toml").write_text(tomli_w.dumps(two_phase_raw()))
    (tmp_path / "J2.toml").mkdir()
    with pytest.raises(JunctionError, match=r"J2\.toml: -: cannot be read: Is a directory"):
        load_intersections(tmp_path)

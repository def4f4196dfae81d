"""Signal programs -> green stages: what SUMO runs, merged sub-phases, every signal letter,
joined clusters, and junctions left on their own program with the reason."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load_config
from controller.junctions import load_intersections
from controller.model import Intersection, Phase, Transition
from sim import netprogram, netstages
from sim.netimport import SKIPPED_FILE, import_network, read_net, read_skipped
from sim.netprogram import Program, ProgramPhase, active_programs, stage_plan
from tests.netbuild import WALK, additional, cluster_net, cross_net, netconvert, node_xml, tl_logic
from tests.scenarios import grid_net, netgenerate

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")
# cross_net's 12 links: 0-2 from N, 3-5 from E, 6-8 from S, 9-11 from W
NS, EW = "GGgrrrGGgrrr", "rrrGGgrrrGGg"


def _y(state: str) -> str:
    return state.replace("G", "y").replace("g", "y")


def _program(*phases: tuple[float, str]) -> Program:
    return Program("J", "p", 0.0, tuple(ProgramPhase(d, s) for d, s in phases), "test")


# -- pure: stage_plan -------------------------------------------------------------------------


def test_sub_phases_with_one_state_are_one_stage_wrapping_the_cycle():
    plan = stage_plan(_program((10, NS), (5, NS), (3, _y(NS)), (20, EW), (2, _y(EW)), (1, _y(EW)), (7, NS)))
    assert [(s.state, s.base_green_s) for s in plan.stages] == [(NS, 22.0), (EW, 20.0)]
    assert plan.yellow_s == 3.0 and plan.all_red_s == 0.0 and plan.cycle_s == 48.0


def test_a_stage_served_twice_a_cycle_is_one_phase():
    plan = stage_plan(
        _program(
            (10, NS), (3, _y(NS)), (2, "r" * 12), (20, EW), (3, _y(EW)), (15, NS), (3, _y(NS)), (5, EW), (3, _y(EW))
        )
    )
    assert [(s.state, s.base_green_s) for s in plan.stages] == [(NS, 25.0), (EW, 25.0)]
    assert plan.all_red_s == 2.0


def test_green_mixed_with_yellow_is_a_transition():
    lagging = "GGgrrrrrrrrr"  # N keeps its green while S goes yellow, then N alone
    plan = stage_plan(_program((20, NS), (3, "GGgrrryyyrrr"), (10, lagging), (3, _y(lagging)), (20, EW), (3, _y(EW))))
    assert [s.state for s in plan.stages] == [NS, lagging, EW]
    assert not plan.transition_only
    # a link green only beside a yellow (here link 11) could never be served by a stage
    ew = EW[:11] + "r"
    odd = stage_plan(_program((20, NS), (3, "yyyrrryyyrrG"), (20, ew), (3, _y(ew))))
    assert odd.transition_only == frozenset({11})


def test_every_signal_letter():
    # link 0: 's' (right on red) then 'G'; 1: 'u' before green; 2: always 'O'; 3: always red;
    # 4: blinking 'o' in one phase; 5: green in every phase (never stopped)
    plan = stage_plan(_program((20, "GrOrog"), (3, "yrOrrg"), (2, "suOrrg"), (20, "GGOrrG"), (3, "syOrrg")))
    assert [s.state for s in plan.stages] == ["GrOrog", "GGOrrG"]
    assert plan.free_links == frozenset({2, 5}) and plan.never_green == frozenset({2, 3, 4})
    assert plan.yellow_s == 3.0


def test_one_phase_program_and_malformed_programs():
    assert len(stage_plan(_program((60, NS))).stages) == 1
    with pytest.raises(ValueError, match="different numbers of links"):
        stage_plan(_program((10, NS), (10, "GGr")))
    with pytest.raises(ValueError, match="unknown signal letters"):
        stage_plan(_program((10, NS), (10, "x" * 12)))


# -- on networks ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cross(tmp_path_factory) -> Path:
    return cross_net(tmp_path_factory.mktemp("cross"))


def _one(out: Path):
    (j,) = load_intersections(out).values()
    return j


def test_program_from_additional_files_last_loaded_wins(cross, tmp_path):
    first = additional(tmp_path, "a.add.xml", tl_logic("C", "first", [(30, NS), (3, _y(NS)), (30, EW), (3, _y(EW))]))
    second = additional(
        tmp_path,
        "b.add.xml",
        tl_logic("C", "utopia", [(40, NS), (4, _y(NS)), (1, "r" * 12), (20, EW), (4, _y(EW)), (1, "r" * 12)], 7),
    )
    import_network(cross, tmp_path / "ab", CFG, additional=[first, second])
    j = _one(tmp_path / "ab")
    assert [(p.state, p.base_green_s) for p in j.phases] == [(NS, 40.0), (EW, 20.0)]
    assert (j.yellow_s, j.all_red_s, j.base_offset_s) == (4.0, 1.0, 7.0)
    import_network(cross, tmp_path / "ba", CFG, additional=[second, first])
    assert [p.base_green_s for p in _one(tmp_path / "ba").phases] == [30.0, 30.0]
    import_network(cross, tmp_path / "net", CFG)  # without: the network's own program
    net_program = next(iter(read_net(cross).getTrafficLights()[0].getPrograms().values()))
    assert [p.base_green_s for p in _one(tmp_path / "net").phases] == [
        float(p.duration) for p in net_program.getPhases() if "y" not in p.state
    ]


def test_a_program_with_times_written_as_h_m_s_imports_as_with_seconds(cross, tmp_path):
    """SUMO reads a time attribute as seconds or h:m:s / d:h:m:s (string2time): a city's program written
    '0:00:40' runs 40 s. The import stopped the whole run on it ("not a number"; H, session 61)."""

    def logic(t: dict[str, str], kind: str = "actuated") -> str:
        rows = [("green_ns", NS), ("yellow", _y(NS)), ("green_ew", EW), ("yellow", _y(EW))]
        body = "\n".join(
            f'    <phase duration="{t[k]}" state="{s}"'
            + (f' minDur="{t["min"]}" maxDur="{t["max"]}"' if "g" in k else "")
            + "/>"
            for k, s in rows
        )
        return f'  <tlLogic id="C" type="{kind}" programID="city" offset="{t["off"]}">\n{body}\n  </tlLogic>'

    times = {"green_ns": "40", "yellow": "4", "green_ew": "20", "min": "5", "max": "60", "off": "75"}
    hms = {"green_ns": "0:00:40", "yellow": "00:00:04", "green_ew": "0:0:20", "min": "0:00:05", "max": "0:01:00"}
    hms["off"] = "0:00:01:15"  # d:h:m:s
    for name, t in (("sec", times), ("hms", hms)):
        import_network(cross, tmp_path / name, CFG, additional=[additional(tmp_path, f"{name}.add.xml", logic(t))])
    sec, h = _one(tmp_path / "sec"), _one(tmp_path / "hms")
    assert [(p.base_green_s, p.min_green_s) for p in h.phases] == [(40.0, 5.0), (20.0, 5.0)]
    assert (h.yellow_s, h.base_offset_s) == (4.0, 7.0)  # 75 s modulo the 68 s cycle
    assert replace(h, source=sec.source) == sec  # every other field the same


def test_free_and_never_green_links_are_not_movements(cross, tmp_path):
    # link 11 (W, left) never stopped ('O'), link 5 (E, left) never green, link 9 right on red ('s')
    a, b = "GGgrrrGGgrrO", "rrrGGrrrrGGO"
    prog = tl_logic("C", "p", [(20, a[:9] + "s" + a[10:]), (3, _y(a)[:9] + "s" + "rO"), (20, b), (3, _y(b)[:11] + "O")])
    import_network(cross, tmp_path / "j", CFG, additional=[additional(tmp_path, "p.add.xml", prog)])
    j = _one(tmp_path / "j")
    links = {i for m in j.movements for i in m.links}
    assert links == set(range(12)) - {5, 11}
    assert [p.state for p in j.phases] == ["GGgrrrGGgsrO", "rrrGGrrrrGGO"]


def test_joined_cluster_is_one_junction(tmp_path):
    net = cluster_net(tmp_path)
    import_network(net, tmp_path / "j", CFG)
    j = _one(tmp_path / "j")
    assert j.id == "J"
    edges = {m.from_edge for m in j.movements}
    assert {"W_A", "E_B", "A_B", "B_A", "AN_A", "BS_B"} <= edges
    # the link inside the cluster: its loops stay on it (the walk stops at the cluster's own signal)
    inner = {d.kind: d for d in j.detectors if d.lane == "A_B_0"}
    assert set(inner) == {"stop", "advance"} and all(d.at_lane == "A_B_0" for d in inner.values())
    served = {m for k in range(len(j.phases)) for m in j.served_movements(k)}
    assert served == {m.id for m in j.movements}


def test_uncontrollable_junctions_are_skipped_with_the_reason(tmp_path):
    net = grid_net(tmp_path, "g", n=2)
    tls = sorted(t.getID() for t in read_net(net).getTrafficLights())
    n_links = {
        t.getID(): len(next(iter(t.getPrograms().values())).getPhases()[0].state)
        for t in read_net(net).getTrafficLights()
    }
    one, short = tls[0], tls[1]
    odd = tls[2]
    ns = "G" * (n_links[odd] // 2) + "r" * (n_links[odd] - n_links[odd] // 2)
    ew = "".join("r" if c == "G" else "G" for c in ns)[:-1] + "r"
    body = "\n".join(
        [
            tl_logic(one, "x", [(60, "G" * n_links[one])]),
            tl_logic(short, "x", [(30, "G" * 3), (30, "r" * 3)]),
            tl_logic(odd, "x", [(30, ns), (3, "y" + ns[1:-1] + "g"), (30, ew), (3, ew.replace("G", "y"))]),
        ]
    )
    result = import_network(net, tmp_path / "j", CFG, additional=[additional(tmp_path, "x.add.xml", body)])
    reasons = dict(result.skipped)
    assert set(reasons) == {one, short, odd}
    assert "green only beside yellows" in reasons[odd]
    assert "1 green stage" in reasons[one] and "x.add.xml" in reasons[one]
    assert "link" in reasons[short]
    junctions = load_intersections(tmp_path / "j")
    assert set(junctions) == set(tls) - {one, short, odd}
    assert all(one not in j.upstream + j.downstream for j in junctions.values())
    assert dict(read_skipped(tmp_path / "j")) == reasons
    assert (tmp_path / "j" / SKIPPED_FILE).read_text().count("\n") == 4


def test_a_rail_signal_is_named_as_one_and_the_road_light_imports(tmp_path):
    """A rail signal has no signal program (SUMO switches it from the track blocks): it is
    skipped as a rail signal, not as a traffic light whose program is missing."""
    nodes = node_xml(
        {"C": (0, 0, "traffic_light"), "W": (-200, 0, "priority"), "E": (200, 0, "priority")}
        | {"N": (0, 60, "priority"), "S": (0, -200, "priority")}
        | {"R0": (-300, 100, "priority"), "RS": (0, 100, "rail_signal"), "R1": (300, 100, "priority")}
    )
    road = [
        f'  <edge id="{a}{b}" from="{a}" to="{b}" numLanes="1" speed="13.9"/>'
        for a, b in ("WC", "CE", "EC", "CW", "NC", "CN", "SC", "CS")
    ]
    rail = [
        f'  <edge id="{a}{b}" from="{a}" to="{b}" speed="30" allow="rail"/>' for a, b in (("R0", "RS"), ("RS", "R1"))
    ]
    net = netconvert(tmp_path, "rail", nodes, "<edges>\n" + "\n".join(road + rail) + "\n</edges>\n")
    result = import_network(net, tmp_path / "j", CFG)
    reasons = dict(result.skipped)
    assert "a rail signal" in reasons["RS"] and "without a program" not in reasons["RS"]
    assert set(reasons) == {"RS"} and set(load_intersections(tmp_path / "j")) == {"C"}


def test_all_skipped_writes_no_junction_and_removes_a_stale_one(cross, tmp_path):
    import_network(cross, tmp_path / "j", CFG)
    assert (tmp_path / "j" / "C.toml").is_file()
    body = tl_logic("C", "x", [(60, NS)])
    result = import_network(cross, tmp_path / "j", CFG, additional=[additional(tmp_path, "x.add.xml", body)])
    assert not result.written and [tid for tid, _ in result.skipped] == ["C"]
    assert not list((tmp_path / "j").glob("*.toml"))
    assert "1 green stage" in dict(read_skipped(tmp_path / "j"))["C"]


def test_simulate_prepare_imports_with_the_scenario_files_and_logs_skipped(tmp_path, caplog):
    from sim.simulate import SimulateRequest, prepare

    net = grid_net(tmp_path, "g", n=2)
    tls = sorted(t.getID() for t in read_net(net).getTrafficLights())
    n_links = len(next(iter(read_net(net).getTrafficLights()[0].getPrograms().values())).getPhases()[0].state)
    tl0 = read_net(net).getTrafficLights()[0].getID()
    add = additional(tmp_path, "one.add.xml", tl_logic(tl0, "x", [(60, "G" * n_links)]))
    cfg_file = tmp_path / "g.sumocfg"
    cfg_file.write_text(
        f'<configuration><input><net-file value="{net.name}"/>'
        f'<additional-files value="{add.name}"/></input></configuration>'
    )
    with caplog.at_level("WARNING"):
        _, junctions, args = prepare(SimulateRequest(cfg_file, tmp_path / "out"), CFG)
    assert set(junctions) == set(tls) - {tl0}
    assert any(tl0 in r.getMessage() and "green stage" in r.getMessage() for r in caplog.records)
    files = args[args.index("--additional-files") + 1].split(",")
    assert files[0] == str(add) and files[-1].endswith("detectors.add.xml")
    # the user's --additional-files add to the config's, for the import too: its program still runs at tl0
    mine = additional(tmp_path, "mine.add.xml", "")
    _, junctions, _ = prepare(SimulateRequest(cfg_file, tmp_path / "out2", sumo_args=("-a", str(mine))), CFG)
    assert set(junctions) == set(tls) - {tl0}


# -- NEMA dual-ring programs ------------------------------------------------------------------

_NEMA = """<tlLogic id="J" type="NEMA" programID="0" offset="0">
    <phase duration="90" state="rrrrrrrrrrrGrrrr" minDur="5" maxDur="50" yellow="3" red="2" name="1"/>
    <phase duration="90" state="GGGgrrrrrrrrrrrr" minDur="5" maxDur="40" yellow="3" red="2" name="2"/>
    <phase duration="90" state="rrrGrrrrrrrrrrrr" minDur="5" maxDur="20" yellow="4" red="1" name="5"/>
    <phase duration="90" state="rrrrrrrrGGGgrrrr" minDur="5" maxDur="45" yellow="3" red="2" name="6"/>
    <phase duration="90" state="rrrrrrrrrrrrrrrG" minDur="5" maxDur="15" yellow="3" red="2" name="3"/>
    <phase duration="90" state="rrrrGGGgrrrrrrrr" minDur="5" maxDur="30" yellow="3" red="2" name="4"/>
    <phase duration="90" state="rrrrrrrGrrrrrrrr" minDur="5" maxDur="15" yellow="3" red="2" name="7"/>
    <phase duration="90" state="rrrrrrrrrrrrGGGg" minDur="5" maxDur="30" yellow="3" red="2" name="8"/>
    <param key="barrier2Phases" value="2,6"/>
    <param key="barrierPhases" value="4,8"/>
    <param key="ring1" value="1,2,3,4"/>
    <param key="ring2" value="5,6,7,8"/>
</tlLogic>"""


def test_nema_program_is_the_union_of_its_rings_with_yellow_and_red(tmp_path):
    """SUMO's NEMA controller shows one phase of each ring at once (here 1+5, 2+6, 3+7, 4+8) and
    draws yellow and red from attributes: the stages are those unions, the intergreens the
    attributes, each green the longer maximum green of the pair."""
    add = tmp_path / "nema.add.xml"
    add.write_text(f"<additional>{_NEMA}</additional>")
    from sim.netprogram import additional_programs

    plan = stage_plan(additional_programs([add])["J"])
    assert [(s.state, s.base_green_s) for s in plan.stages] == [
        ("rrrGrrrrrrrGrrrr", 50.0),
        ("GGGgrrrrGGGgrrrr", 45.0),
        ("rrrrrrrGrrrrrrrG", 15.0),
        ("rrrrGGGgrrrrGGGg", 30.0),
    ]
    assert plan.yellow_s == 4.0 and plan.all_red_s == 2.0
    assert plan.cycle_s == 50 + 45 + 15 + 30 + (4 + 3 * 3) + 4 * 2  # each pair: the longer yellow and red


def test_nema_rings_of_unequal_length_and_a_malformed_program(tmp_path):
    import xml.etree.ElementTree as ET

    from sim.netprogram import nema_cycle

    # ring 2 has no phase 5 (0): phase 6 runs beside both 1 and 2
    tl = ET.fromstring(_NEMA.replace('value="5,6,7,8"', 'value="0,6,7,8"'))
    greens = [p.state for p in nema_cycle(tl) if "G" in p.state]
    assert greens[:2] == ["rrrrrrrrGGGGrrrr", "GGGgrrrrGGGgrrrr"]
    add = tmp_path / "bad.add.xml"
    add.write_text("<additional>" + _NEMA.replace('value="1,2,3,4"', 'value="1,2,9,4"') + "</additional>")
    from sim.netprogram import additional_programs

    with pytest.raises(ValueError, match="rings name phases \\[9\\]"):
        stage_plan(additional_programs([add])["J"])


# -- the base program runs SUMO's timeline ----------------------------------------------------


def _like_bologna_210():
    """Three stages (a, b, c) and a program shaped like Bologna 210's: b split into seven
    phases of one state, and transitions of 10, 3 and 6 s."""
    a, b, c = "GGgrrrrrGGgrrrGGrrrr", "rrrGGGGgrrrGGgrrGGGG", "rrrGGGGGrrrrrrrrrrrr"
    prog = _program(
        (34, a), (5, "yyyrrrrrGGgrrrGGrrrr"), (3, "rrrrrrrryyyrrryyrrrr"), (2, "r" * 20),
        (1, b), (1, b), (5, b), (3, b), (2, b), (10, b), (5, b), (3, "rrrGGGGgrrryyyrryyyy"),
        (4, c), (1, c), (5, c), (3, "rrryyyyyrrrrrrrrrrrr"), (3, "r" * 20),
    )  # fmt: skip
    return a, b, c, prog


def test_base_greens_absorb_the_programs_own_transitions():
    """Bologna-like program (acosta 210): a green kept 5 s into the next transition, partial
    yellows, all-reds of 2 and 3 s, a transition of 3 s between overlapping stages. The model
    derives one intergreen per pair (yellow 5, then the all-red the program itself keeps between
    the links stopped and started: 3 s into b, none into c, 3 s into a, where the program's 3 s
    yellow and 3 s all-red leave 6 s, but the model's yellow is 5 s and the all-red after it is
    kept whole); the base greens take the rest of each span so that the base cycle is SUMO's
    90 s and every green starts when SUMO's does."""
    from controller.model import derived_intergreen_s
    from sim.netprogram import aligned_greens_s

    a, b, c, prog = _like_bologna_210()
    plan = replace(stage_plan(prog), transitions=())  # [timing] program_transitions off
    assert plan.spans_s == (44.0, 30.0, 16.0) and plan.first_green_s == 0.0
    greens = aligned_greens_s(plan, plan.yellow_s, plan.all_red_s)
    sets = [frozenset(i for i, ch in enumerate(s) if ch in "Gg") for s in (a, b, c)]
    clear = {(i, j): s for i, j, s in plan.clearance_s}
    igs = [derived_intergreen_s(sets[k], sets[(k + 1) % 3], plan.yellow_s, plan.all_red_s, clear)[0] for k in range(3)]
    assert igs == [8.0, 5.0, 8.0] and greens == (36.0, 25.0, 8.0)
    uniform = [derived_intergreen_s(sets[k], sets[(k + 1) % 3], plan.yellow_s, plan.all_red_s)[0] for k in range(3)]
    assert uniform == [8.0, 5.0, 8.0]  # without the program's own clearances
    assert sum(greens) + sum(igs) == plan.cycle_s == 90.0


def test_stage_zero_starts_where_the_program_shows_it():
    """A program that begins in the middle of its first green (the cycle wraps into it) or with
    a transition: stage 0's green starts before or after the cycle's 0."""
    wrapped = stage_plan(_program((10, NS), (3, _y(NS)), (20, EW), (3, _y(EW)), (15, NS)))
    assert wrapped.first_green_s == -15.0 and wrapped.spans_s == (28.0, 23.0)
    late = stage_plan(_program((3, _y(EW)), (25, NS), (3, _y(NS)), (20, EW)))
    assert late.first_green_s == 3.0 and late.spans_s == (28.0, 23.0)


def test_a_stage_shorter_than_the_models_intergreen_keeps_the_cycle():
    """A 3 s stage followed by a 3 s transition, where the model derives yellow 3 + all-red 3:
    its base green is 1 s, and the second it adds comes off the longest green."""
    from sim.netprogram import aligned_greens_s

    short = "GrrrrrrrrrrG"  # link 0 and 11: a short stage between NS and EW
    plan = stage_plan(
        _program((30, NS), (3, _y(NS)), (3, "r" * 12), (3, short), (3, _y(short)), (20, EW), (3, _y(EW)), (3, "r" * 12))
    )
    uniform = replace(plan, clearance_s=(), transitions=())  # the program's own clearance short -> EW is 3 s
    greens = aligned_greens_s(uniform, 3.0, 3.0)
    assert greens == (29.0, 1.0, 20.0)  # spans 36, 6, 26 less intergreens 6, 6, 6; 1 s off NS
    assert sum(greens) + 3 * 6.0 == plan.cycle_s
    assert aligned_greens_s(plan, 3.0, 3.0) == (30.0, 3.0, 20.0)  # intergreens 6, 3, 6


def test_a_nema_network_imports_its_ring_unions(tmp_path):
    """netconvert --tls.default-type NEMA writes single-ring phases; the model's stages are the
    unions SUMO shows (one phase of each ring), each a green set of the network's program."""
    net = cross_net(tmp_path, "nema", None, "--tls.default-type", "NEMA")
    out = tmp_path / "j"
    import_network(net, out, CFG)
    j = _one(out)
    sumo_phases = [p.state for p in read_net(net).getTLS("C").getPrograms()["0"].getPhases()]
    greens = lambda s: frozenset(i for i, c in enumerate(s) if c in "Gg")  # noqa: E731
    for phase in j.phases:  # each stage is the union of two single-ring phases of the program
        parts = [greens(s) for s in sumo_phases if greens(s) and greens(s) <= greens(phase.state)]
        assert len(parts) == 2 and parts[0] | parts[1] == greens(phase.state), phase.state
    assert len(j.phases) >= 2 and j.all_red_s > 0


def _ripple(vehicle: list[int], crossings: list[int], n_links: int, last_s: float) -> list[tuple[float, str]]:
    """A signal-group program's half cycle: the vehicle links start one by one (1 s steps) while
    the crossings stay green throughout, then a yellow."""
    phases = []
    for k in range(1, len(vehicle) + 1):
        on = set(vehicle[:k]) | set(crossings)
        phases.append((last_s if k == len(vehicle) else 1.0, "".join("G" if i in on else "r" for i in range(n_links))))
    phases.append((3.0, "".join("y" if i in vehicle else "r" for i in range(n_links))))
    return phases


def _ripple_net(tmp_path: Path) -> tuple[Path, int, list[tuple[float, str]]]:
    net = cross_net(tmp_path, "xped", None, *WALK)
    tl = read_net(net).getTrafficLights()[0]
    n_links = len(next(iter(tl.getPrograms().values())).getPhases()[0].state)
    assert n_links == 16  # 12 vehicle links, crossings 12-15 (12 and 14 cross N/S, 13 and 15 E/W)
    ns = _ripple([0, 1, 2, 6, 7, 8], [13, 15], n_links, 20.0)
    ew = _ripple([3, 4, 5, 9, 10, 11], [12, 14], n_links, 20.0)
    # the crossings show the yellow too (else the loader refuses the program's transitions: a crossing's red straight
    # after its green, [timing] crossing_red_is_clearance off)
    ns[-1] = (3.0, "".join("y" if i in (13, 15) else c for i, c in enumerate(ns[-1][1])))
    ew[-1] = (3.0, "".join("y" if i in (12, 14) else c for i, c in enumerate(ew[-1][1])))
    return net, n_links, ns + ew


def test_staggered_starts_merge_into_the_green_they_lead_to(tmp_path):
    """A program that keeps its crossings green over many 1 s stages (signal groups started one by one, SUMO's
    game_fokr_bs): read stage by stage, each stage carries the whole pedestrian minimum and the stages' minimum
    greens alone exceed the longest cycle (12 stages: refused before session 65). The importer then reads each
    staggered start as part of the program's change into the green it leads to: two stages, each the program's
    whole green, and the program's own transition runs the starts one by one (docs/import.md rule 12)."""
    net, _, phases = _ripple_net(tmp_path)
    prog = _program(*phases)
    assert len(stage_plan(prog).stages) == 12
    merged = stage_plan(prog, merge_staggered=True)
    assert [st.state for st in merged.stages] == [phases[5][1], phases[12][1]]
    assert [(a, b, len(run)) for a, b, run in merged.transitions] == [(0, 1, 6), (1, 0, 6)]
    slow_walk = replace(CFG, timing=replace(CFG.timing, ped_walk_s=10.0))  # 15.3 s a crossing
    body = tl_logic("C", "groups", phases)
    result = import_network(net, tmp_path / "j", slow_walk, additional=[additional(tmp_path, "g.add.xml", body)])
    assert result.skipped == ()
    (j,) = load_intersections(tmp_path / "j").values()
    assert [p.state for p in j.phases] == [phases[5][1], phases[12][1]]
    into_ew = j.transition(0, 1)
    assert into_ew is not None and into_ew.states == tuple(s for _, s in phases[6:12])
    # the change into the merged green is the program's: yellow 3 s, then its links start one a second
    assert j.intergreen_s(0, 1) == pytest.approx(3.0 + 5.0)
    assert j.phases[0].min_green_s >= 15.3 and j.phases[1].min_green_s >= 15.3
    # without the program's transitions and without [timing] pair_intergreens (on by default since session 67)
    # every link of the merged green would start after the derived 3 s, where the program starts link 4 a second
    # later than link 3: refused, naming the pair
    derived = replace(slow_walk, timing=replace(slow_walk.timing, program_transitions=False, pair_intergreens=False))
    result = import_network(net, tmp_path / "d", derived, additional=[additional(tmp_path, "g.add.xml", body)])
    reason = dict(result.skipped)["C"]
    assert "12 stages at their minimum greens" in reason, reason
    assert "with its staggered starts merged, the change from stage 1 to stage 0 would start link 1 3 s" in reason
    assert "where the program keeps 4 s" in reason
    # with [timing] pair_intergreens the derived change keeps each conflicting pair's intergreen (pair_intergreen_s,
    # docs/import.md rule 5): the light imports, every link starting once the last pair allows
    paired = replace(derived, timing=replace(derived.timing, pair_intergreens=True))
    result = import_network(net, tmp_path / "p", paired, additional=[additional(tmp_path, "g.add.xml", body)])
    assert result.skipped == ()
    (jd,) = load_intersections(tmp_path / "p").values()
    assert jd.transitions == () and jd.pair_intergreen_s
    held = {(i, k): s for i, k, s in jd.pair_intergreen_s}
    assert held[(1, 11)] == 8.0  # link 1's 3 s yellow, then EW's links start a second apart: link 11 the sixth
    for a, b in ((0, 1), (1, 0)):
        stopped = jd.phases[a].green_links() - jd.phases[b].green_links()
        started = jd.phases[b].green_links() - jd.phases[a].green_links()
        need = max(held.get((i, k), 3.0) for i in stopped for k in started)
        assert jd.intergreen_s(a, b) == pytest.approx(need) and need > 3.0


def test_crossings_green_across_short_stages_leave_the_light_on_its_program(tmp_path):
    """Where even the stages with their staggered starts merged cannot run within the longest cycle (a walk of
    70 s: two stages of 75 s at their minimums), the light stays on its program, and the reason names both
    readings."""
    net, n_links, phases = _ripple_net(tmp_path)
    plain = _ripple([0, 1, 2, 6, 7, 8], [], n_links, 20.0)[-2:] + _ripple([3, 4, 5, 9, 10, 11], [], n_links, 20.0)[-2:]
    ok = import_network(
        net, tmp_path / "ok", CFG, additional=[additional(tmp_path, "ok.add.xml", tl_logic("C", "p", plain))]
    )
    assert ok.skipped == ()  # the same links in two plain stages import
    slow_walk = replace(CFG, timing=replace(CFG.timing, ped_walk_s=70.0))
    body = tl_logic("C", "groups", phases)
    result = import_network(net, tmp_path / "j", slow_walk, additional=[additional(tmp_path, "g.add.xml", body)])
    reasons = dict(result.skipped)
    assert set(reasons) == {"C"}
    assert "12 stages at their minimum greens" in reasons["C"], reasons["C"]
    assert "pedestrian minimums above the program's own greens" in reasons["C"]
    assert "with its staggered starts merged: its 2 stages at their minimum greens" in reasons["C"]
    assert not (tmp_path / "j" / "C.toml").exists()


def test_a_green_that_stops_a_link_or_is_served_on_its_own_is_no_staggered_start():
    """Only a green that every time leads, with no yellow and no link stopped, into a larger green merges: a
    lagging left after a yellow, a green served also on its own elsewhere in the cycle, and a green followed by
    one that swaps a link stay stages."""
    a, ab, b = "GGrrrrrrrrrr", "GGGrrrrrrrrr", "rrrGGrrrrrrr"
    assert netprogram.staggered_starts(
        netprogram.merge_runs(_program((1, a), (10, ab), (3, _y(ab)), (20, b), (3, _y(b))).phases)
    ) == {frozenset({0, 1})}
    with_yellow = _program((5, a), (2, "GGurrrrrrrrr"), (10, ab), (3, _y(ab)), (20, b), (3, _y(b)))
    assert netprogram.staggered_starts(list(with_yellow.phases)) == {frozenset({0, 1})}  # 'u' is no stop
    stops = _program((5, a), (2, "yGrrrrrrrrrr"), (10, ab), (3, _y(ab)), (20, b), (3, _y(b)))  # link 0 stops, restarts
    assert netprogram.staggered_starts(list(stops.phases)) == frozenset()
    twice = _program((5, a), (10, ab), (3, _y(ab)), (20, a), (3, _y(a)), (20, b), (3, _y(b)))
    assert netprogram.staggered_starts(list(twice.phases)) == frozenset()
    swap = _program((5, "GGrrrrrrrrrr"), (10, "rGGrrrrrrrrr"), (3, "ryyrrrrrrrrr"), (20, b), (3, _y(b)))
    assert netprogram.staggered_starts(list(swap.phases)) == frozenset()


def test_every_change_into_a_merged_green_is_checked_not_only_the_first():
    """Two merged greens, each with a staggered start a second before its green (link 1 after link 0, link 3 after
    link 2): the change into stage 0 keeps the program's transition (4 s, its start included), the change into
    stage 1 has the derived 3 s yellow alone, a second short of the program's time from link 0's green to link 3's.
    Only the second merged green's change is short: refused, naming the pair (R's mutant N14a-3, only the first
    merged green checked, passed it)."""
    a, b = "GGrrrrrrrrrr", "rrGGrrrrrrrr"
    prog = _program((1, "Grrrrrrrrrrr"), (20, a), (3, _y(a)), (1, "rrGrrrrrrrrr"), (20, b), (3, _y(b)))
    assert netprogram.staggered_starts(list(prog.phases)) == {frozenset({0}), frozenset({2})}
    into_a = Transition(1, 0, (_y(b), "Grrrrrrrrrrr"), (3.0, 1.0))
    phases = tuple(Phase(k, s, 5.0, 60.0, 20.0) for k, s in enumerate((a, b)))
    j = Intersection("J", 12, (), phases, (), 3.0, 0.0, 30.0, 120.0, 120.0, 0.0, transitions=(into_a,))
    assert (j.intergreen_s(1, 0), j.intergreen_s(0, 1)) == (4.0, 3.0)
    with pytest.raises(netstages.NotControllable) as refused:
        netstages.check_staggered_clearances(j, prog)
    assert (
        "the change from stage 0 to stage 1 would start link 3 3 s after link 0's green where the program keeps 4 s"
        in str(refused.value)
    )
    # with the program's transition into stage 1 too, both changes keep the program's times
    into_b = Transition(0, 1, (_y(a), "rrGrrrrrrrrr"), (3.0, 1.0))
    netstages.check_staggered_clearances(replace(j, transitions=(into_a, into_b)), prog)


# -- the program's timeline as the roadside reports it (the replay's fixed side) ---------------


def test_the_timeline_keeps_uneven_transitions_and_a_stage_served_twice():
    """Bologna 218-like: stage b served twice a cycle (7 s mid-cycle, 2 s again after stage c's
    yellow), transitions of 3 s and none; and 210-like transitions of 10, 3 and 6 s (a green kept
    into the next transition, partial yellows, all-reds). Each run of phases is the stage the
    roadside reports (its green set, no yellow) or -1, from stage 0's green."""
    from sim.netprogram import roadside_timeline

    a, b, c = "GGgrrrrrrrrr", "rrrrrrrrrGGG", "rrrGGgGGgrrr"
    prog = _program((44, a), (3, _y(a)), (7, b), (3, "rrrrrrrrryyy"), (26, c), (3, _y(c)), (2, b), (2, "r" * 12))
    plan = stage_plan(prog)
    assert [st.base_green_s for st in plan.stages] == [44.0, 9.0, 26.0]  # b's two greens: one stage
    timeline = roadside_timeline(prog, plan)
    assert timeline == ((0, 44.0), (-1, 3.0), (1, 7.0), (-1, 3.0), (2, 26.0), (-1, 3.0), (1, 2.0), (-1, 2.0))
    a, b, c, prog = _like_bologna_210()
    timeline = roadside_timeline(prog, stage_plan(prog))
    assert timeline == ((0, 34.0), (-1, 10.0), (1, 27.0), (-1, 3.0), (2, 10.0), (-1, 6.0))


def test_the_timeline_starts_where_stage_zero_does():
    """A cycle that wraps into stage 0's green, or begins with a transition: the timeline begins
    at stage 0's green (first_green_s, where base_offset_s applies) and covers the cycle once."""
    from sim.netprogram import roadside_timeline

    wrapped = _program((10, NS), (3, _y(NS)), (20, EW), (2, _y(EW)), (15, NS))
    assert roadside_timeline(wrapped, stage_plan(wrapped)) == ((0, 25.0), (-1, 3.0), (1, 20.0), (-1, 2.0))
    late = _program((3, _y(EW)), (25, NS), (4, _y(NS)), (20, EW))
    assert roadside_timeline(late, stage_plan(late)) == ((0, 25.0), (-1, 4.0), (1, 20.0), (-1, 3.0))


def test_decimal_durations_that_wrap_into_stage_zero_keep_the_junction(cross, tmp_path):
    """Durations of one decimal whose cycle wraps into stage 0's green: where the cycle is split
    lies a float's noise from a phase's end (12.0 + 3.3 + 10.4 + 3.2), which rounded to a 0.0 s
    run the junction file refuses, and the import skipped the light (found by R, session 15)."""
    phases = [(12.0, NS), (3.3, _y(NS)), (10.4, EW), (3.2, _y(EW)), (35.1, NS)]
    import_network(
        cross, tmp_path / "d", CFG, additional=[additional(tmp_path, "d.add.xml", tl_logic("C", "d", phases))]
    )
    j = _one(tmp_path / "d")
    assert [k for k, _ in j.program_timeline] == [0, -1, 1, -1]
    assert all(s > 0 for _, s in j.program_timeline) and sum(s for _, s in j.program_timeline) == pytest.approx(64.0)


def test_transitions_the_junction_file_refuses_leave_the_base_greens_of_the_derived_intergreens(cross, tmp_path):
    """A junction whose program transitions the loader refuses (here N's yellow, 2 s, is shorter
    than the junction's yellow_s, 3 s: R's review, session 23) is imported as without the key:
    the base greens follow the derived intergreens, not the refused transitions' lengths (Bologna
    acosta and joined 210 kept base greens 34 / 27 / 10 against intergreens 8 / 5 / 8: a 92-s base
    cycle for the city's 90-s program)."""
    prog = tl_logic("C", "p", [(30, NS), (2, _y(NS)), (3, "r" * 12), (25, EW), (3, _y(EW)), (2, "r" * 12)])
    files = [additional(tmp_path, "p.add.xml", prog)]
    import_network(cross, tmp_path / "off", CFG, additional=files)
    off = _one(tmp_path / "off")
    on_cfg = replace(CFG, timing=replace(CFG.timing, program_transitions=True))
    import_network(cross, tmp_path / "on", on_cfg, additional=files)
    on = _one(tmp_path / "on")
    assert on.transitions == () and on.yellow_s == 3.0
    assert on.phases == off.phases and on.base_cycle_s() == off.base_cycle_s()
    assert (tmp_path / "on" / "C.toml").read_text() == (tmp_path / "off" / "C.toml").read_text()


def test_a_timeline_the_junction_file_refuses_is_dropped_not_the_junction(cross, tmp_path):
    """Whatever goes wrong in a program_timeline, the light stays controlled: the table is
    dropped (the replay's fixed side runs the base program); any other refusal still skips it."""
    import tomllib

    from controller.errors import JunctionError
    from sim.netimport import _parsed

    phases = [(30, NS), (4, _y(NS)), (30, EW), (3, _y(EW))]
    import_network(
        cross, tmp_path / "t", CFG, additional=[additional(tmp_path, "t.add.xml", tl_logic("C", "t", phases))]
    )
    table = tomllib.loads((tmp_path / "t" / "C.toml").read_text())
    table["program_timeline"]["durations_s"][0] = 0.0
    assert _parsed(table, "C").program_timeline == () and "program_timeline" not in table
    table["max_red_s"] = -1.0
    with pytest.raises(JunctionError):
        _parsed(table, "C")


def test_the_junction_file_has_a_timeline_only_where_the_base_program_differs(cross, tmp_path):
    """Uniform transitions (the base program runs the city's): no program_timeline, the file as
    before. Uneven ones (4 s after N/S, 1 s yellow + 6 s all-red after E/W), offset 17 s and a
    cycle that begins inside E/W's green: the timeline from stage 0's green, base_offset_s
    the program's offset plus where that green begins."""
    uniform = additional(tmp_path, "u.add.xml", tl_logic("C", "u", [(30, NS), (3, _y(NS)), (30, EW), (3, _y(EW))]))
    import_network(cross, tmp_path / "u", CFG, additional=[uniform])
    j = _one(tmp_path / "u")
    assert j.program_timeline == () and "program_timeline" not in (tmp_path / "u" / "C.toml").read_text()
    phases = [(5, EW), (1, _y(EW)), (6, "r" * 12), (40, NS), (4, _y(NS)), (15, EW)]
    uneven = additional(tmp_path, "v.add.xml", tl_logic("C", "v", phases, 17))
    import_network(cross, tmp_path / "v", CFG, additional=[uneven])
    j = _one(tmp_path / "v")
    assert [p.state for p in j.phases] == [EW, NS] and j.base_offset_s == 17.0 - 15.0
    assert j.program_timeline == ((0, 20.0), (-1, 7.0), (1, 40.0), (-1, 4.0))
    assert sum(s for _, s in j.program_timeline) == j.base_cycle_s() == 71.0


def test_program_transitions_are_written_only_with_the_key(cross, tmp_path):
    """[timing] program_transitions (docs/import.md rule 11): the junction file keeps the
    program's own transitions (here S kept green 3 s into N's yellow, 6 s against the model's 3
    s yellow and 2 s all-red) and the base greens are the program's own; without the key the
    file has none and the model's intergreens stand."""
    kept = "yyyrrrGGgrrr"  # N yellow, S still green
    s_yellow = "rrrrrryyyrrr"
    prog = tl_logic("C", "p", [(30, NS), (3, kept), (3, s_yellow), (25, EW), (3, _y(EW)), (2, "r" * 12)])
    files = [additional(tmp_path, "p.add.xml", prog)]
    off_cfg = replace(CFG, timing=replace(CFG.timing, program_transitions=False))
    import_network(cross, tmp_path / "off", off_cfg, additional=files)
    off = _one(tmp_path / "off")
    assert off.transitions == () and off.intergreen_s(0, 1) == 5.0
    assert [p.base_green_s for p in off.phases] == [31.0, 25.0]
    on_cfg = replace(CFG, timing=replace(CFG.timing, program_transitions=True))
    import_network(cross, tmp_path / "on", on_cfg, additional=files)
    on = _one(tmp_path / "on")
    zero_one = on.transition(0, 1)
    assert zero_one is not None and zero_one.states == (kept, s_yellow) and zero_one.durations_s == (3.0, 3.0)
    assert on.intergreen_s(0, 1) == 6.0 and on.intergreen_s(1, 0) == 5.0
    assert [p.base_green_s for p in on.phases] == [30.0, 25.0] and on.base_cycle_s() == 66.0


def test_a_phase_no_next_leads_to_is_not_in_the_cycle(cross, tmp_path):
    """SUMO follows a phase's `next`: a phase the cycle never comes back to (a transition the
    city keeps for another use) is never run. The importer read the phases in file order, so
    a 99 s green after the last phase made stage 0's base green 130 s instead of 31 s (the
    session-30 fuzz on the city). Both readers (the network's program, an additional file's)."""
    from sim.netprogram import additional_programs

    rows = [(31, NS), (3, _y(NS)), (20, EW), (3, _y(EW))]
    body = "\\n".join(f'    <phase duration="{d}" state="{s}"/>' for d, s in rows[:-1])
    body += (
        f'\\n    <phase duration="3" state="{_y(EW)}" next="0"/>\\n    <phase duration="99" state="{NS}" name="never"/>'
    )
    add = additional(
        tmp_path, "next.add.xml", f'  <tlLogic id="C" type="static" programID="n" offset="0">\\n{body}\\n  </tlLogic>'
    )
    plain = additional(tmp_path, "plain.add.xml", tl_logic("C", "p", rows))
    assert additional_programs([add])["C"].phases == additional_programs([plain])["C"].phases
    import_network(cross, tmp_path / "next", CFG, additional=[add])
    import_network(cross, tmp_path / "plain", CFG, additional=[plain])
    j, p = _one(tmp_path / "next"), _one(tmp_path / "plain")
    assert [ph.base_green_s for ph in j.phases] == [ph.base_green_s for ph in p.phases] == [31.0, 20.0]
    assert j.cycle_max_s == p.cycle_max_s
    # the network's own program, read by sumolib, with the same phases
    net_next = cross_net(tmp_path, "cross_next", None, "--tllogic-files", str(add))
    assert 'next="0"' in net_next.read_text()
    import_network(net_next, tmp_path / "net_next", CFG)
    assert [ph.base_green_s for ph in _one(tmp_path / "net_next").phases] == [31.0, 20.0]


def test_the_cycle_follows_next_from_phase_0():
    from sim.netprogram import phase_cycle

    assert phase_cycle([(), (), ()]) == [0, 1, 2]
    assert phase_cycle([(), (0,), ()]) == [0, 1]  # 2 never runs
    assert phase_cycle([(1,), (2,), (1,)]) == [1, 2]  # 0 leads in, once
    assert phase_cycle([(), (9,), ()]) == [0, 1, 2]  # out of range: the phase after
    assert phase_cycle([(2, 1), (), (0,)]) == [0, 1, 2]  # an actuated list: 1 is served on a call
    assert phase_cycle([(1, 2), (2,), (1,)]) == [1, 2]  # 0 leads in, once, whichever index it takes
    assert phase_cycle([(2, 3), (0,), (0,), (1,)]) == [0, 1, 2, 3]  # 1 only through the call to 3


# -- offsets set by a tlLogic with no phase (tools/tlsCoordinator.py's output) -------------------


def test_a_tlLogic_without_phases_sets_the_offset_of_a_loaded_program(cross, tmp_path):
    """tlsCoordinator writes `<tlLogic id programID offset/>`: SUMO shifts that program and keeps
    the active one active (libsumo, N session 50). The import read it as a program with no phases and
    left every coordinated light on its own program (`program has no phases`)."""
    from sim.netprogram import NemaLogics, active_programs, program_named

    webster = additional(
        tmp_path, "w.add.xml", tl_logic("C", "webster", [(30, NS), (3, _y(NS)), (30, EW), (3, _y(EW))])
    )
    offsets = additional(
        tmp_path,
        "o.add.xml",
        '<tlLogic id="C" programID="webster" offset="11"/><tlLogic id="C" programID="0" offset="5"/>',
    )
    net = read_net(cross)
    (active,) = active_programs(net, str(cross), [webster, offsets]).values()
    assert (active.program_id, active.offset_s, len(active.phases)) == ("webster", 11.0, 4)
    named = program_named(net.getTLS("C"), str(cross), [webster, offsets], "0", NemaLogics(cross))
    assert named is not None and named.offset_s == 5.0
    (own,) = active_programs(net, str(cross), [offsets]).values()  # the network's program, shifted
    assert (own.program_id, own.offset_s) == ("0", 5.0) and own.phases
    (plain,) = active_programs(net, str(cross), [webster]).values()
    assert plain.offset_s == 0.0
    result = import_network(cross, tmp_path / "coord", CFG, additional=[webster, offsets])
    assert not result.skipped and len(result.written) == 1


def test_an_offset_that_is_not_a_number_names_the_file_and_field(cross, tmp_path):
    from controller.errors import NetworkError
    from sim.netprogram import active_programs

    bad = additional(tmp_path, "bad.add.xml", '<tlLogic id="C" programID="0" offset="soon"/>')
    with pytest.raises(NetworkError, match=r"bad\.add\.xml.*tlLogic\[0\]\.offset.*not a number"):
        active_programs(read_net(cross), str(cross), [bad])


def test_an_offset_on_a_loaded_program_that_is_not_active_leaves_the_active_one(cross, tmp_path):
    """R, session 50: SUMO shifts the program named and keeps the active one active; the offset on
    an earlier-loaded program must not make it the active one."""
    from sim.netprogram import NemaLogics, active_programs, program_named

    plans = tl_logic("C", "webster", [(30, NS), (3, _y(NS)), (30, EW), (3, _y(EW))])
    plans += tl_logic("C", "late", [(20, NS), (3, _y(NS)), (20, EW), (3, _y(EW))])
    loaded = additional(tmp_path, "w.add.xml", plans)
    offsets = additional(tmp_path, "o.add.xml", '<tlLogic id="C" programID="webster" offset="11"/>')
    net = read_net(cross)
    (active,) = active_programs(net, str(cross), [loaded, offsets]).values()
    assert (active.program_id, active.offset_s) == ("late", 0.0)
    named = program_named(net.getTLS("C"), str(cross), [loaded, offsets], "webster", NemaLogics(cross))
    assert named is not None and named.offset_s == 11.0


def _nema_grid(tmp_path: Path) -> Path:
    """A 2 x 2 grid whose four lights netgenerate writes as NEMA programs."""
    return netgenerate(
        tmp_path,
        "nemagrid",
        "--grid",
        "--grid.number",
        "2",
        "--grid.attach-length",
        "100",
        "--default-junction-type",
        "traffic_light",
        "--tls.default-type",
        "NEMA",
    )


def test_the_import_reads_a_network_s_nema_programs_once_for_all_its_lights(tmp_path, monkeypatch):
    """The NEMA <tlLogic> elements (which sumolib reads without their yellow and red) are read from the network file
    in one pass per import (netprogram.NemaLogics), not once per light."""
    net = _nema_grid(tmp_path)
    calls: list[str] = []
    real = netprogram._nema_logics
    monkeypatch.setattr(netprogram, "_nema_logics", lambda path, *rest: calls.append(str(path)) or real(path, *rest))
    import_network(net, tmp_path / "j", CFG)
    assert len(read_net(net).getTrafficLights()) > 1 and calls == [str(net)]


def test_a_nema_light_a_waut_switches_is_read_in_the_import_s_one_pass(tmp_path, monkeypatch):
    """The program a WAUT has in force at the begin (`[timing] waut_program_at_begin`), where it is the network's NEMA
    program and not the one loaded last, comes from the same reading of the network file as every other light's
    (program_named is handed the import's NemaLogics): one pass, and the NEMA cycle with its yellow and red."""
    net = _nema_grid(tmp_path)
    sumo_net = read_net(net)
    tid = sumo_net.getTrafficLights()[0].getID()
    n_links = len(sumo_net.getTLS(tid).getPrograms()["0"].getPhases()[0].state)
    waut = '<WAUT id="day" startProg="0" refTime="0"><wautSwitch time="600" to="alt"/></WAUT>'
    waut += f'<wautJunction wautID="day" junctionID="{tid}"/>'
    alt = additional(tmp_path, "alt.add.xml", tl_logic(tid, "alt", [(30, "G" * n_links), (3, "y" * n_links)]) + waut)
    own = active_programs(sumo_net, str(net), [])[tid]  # the network's NEMA program, as its cycle
    calls: list[str] = []
    real = netprogram._nema_logics
    monkeypatch.setattr(netprogram, "_nema_logics", lambda path, *rest: calls.append(str(path)) or real(path, *rest))
    assert active_programs(sumo_net, str(net), [alt])[tid] != own  # the one loaded last: alt
    calls.clear()
    in_force = active_programs(sumo_net, str(net), [alt], begin_s=0.0)
    assert in_force[tid] == own and own is not None and any("y" in p.state for p in own.phases)
    assert calls == [str(net)]


def test_the_nema_programs_are_read_as_the_file_is_now_even_at_the_same_modification_time(tmp_path):
    """No reading is kept between imports (no module-level cache): a network written again at the same path within
    the file system's clock step is read anew."""
    net = _nema_grid(tmp_path)
    sumo_net = read_net(net)
    before = active_programs(sumo_net, str(net), [])
    tree, mtime_ns = ET.parse(net), net.stat().st_mtime_ns
    for tl in tree.getroot().iter("tlLogic"):
        for ph in tl.iter("phase"):
            for key in ("duration", "maxDur"):  # a NEMA phase's green: its duration within its maxDur
                if ph.get(key) is not None:
                    ph.set(key, str(float(ph.get(key, "0")) + 7.0))
    tree.write(net)
    os.utime(net, ns=(net.stat().st_atime_ns, mtime_ns))
    after = active_programs(sumo_net, str(net), [])
    assert before.keys() == after.keys() and any(before[k] != after[k] for k in before)


def test_programs_in_a_file_an_index_file_includes_are_the_ones_imported(cross, tmp_path):
    """SUMO loads the elements of an additional file's `<include href>` in its place (a city's programs in a
    file an index file names, relative to it). The import read the index alone and modelled the network's own
    program while SUMO ran the city's (H, session 61). SUMO itself is still given the index only."""
    from sim.importnet import import_sources
    from sim.simulate import SimulateRequest, prepare

    (tmp_path / "progs").mkdir()
    additional(
        tmp_path / "progs", "city.add.xml", tl_logic("C", "city", [(40, NS), (4, _y(NS)), (20, EW), (4, _y(EW))], 9)
    )
    index = additional(tmp_path, "index.add.xml", '  <include href="progs/city.add.xml"/>')
    _, files, _ = import_sources(cross, str(index))
    assert files == [index, (tmp_path / "progs" / "city.add.xml").resolve()]
    import_network(cross, tmp_path / "j", CFG, additional=files)
    j = _one(tmp_path / "j")
    assert [p.base_green_s for p in j.phases] == [40.0, 20.0] and j.base_offset_s == 9.0
    cfg_file = tmp_path / "c.sumocfg"
    cfg_file.write_text(
        f'<configuration><input><net-file value="{cross}"/><additional-files value="{index.name}"/></input>'
        "</configuration>"
    )
    _, junctions, args = prepare(SimulateRequest(cfg_file, tmp_path / "out"), CFG)
    assert [p.base_green_s for p in junctions["C"].phases] == [40.0, 20.0]
    assert args[args.index("--additional-files") + 1].split(",")[0] == str(index)


@pytest.mark.parametrize(("red_s", "yellow_s", "all_red_s"), [(3.0, 3.0, 0.0), (5.0, 3.0, 2.0), (2.0, 3.0, 0.0)])
def test_a_program_without_yellow_clears_with_its_red_not_the_red_on_top_of_a_yellow(
    tmp_path, red_s, yellow_s, all_red_s
):
    """Greens straight to red, then an all-red (the messy no_yellow's programs): the model shows the configured
    yellow (3 s) as part of the program's red, the change lasting the longer of the two (3 s red: 3 s; 5 s: 3 s
    yellow and 2 s all-red; 2 s: the 3 s yellow), where until session 65 it ran the yellow and then the whole red
    (6 s where the city changes in 3 s); the base cycle stays the program's."""
    net = cross_net(tmp_path, "x", None)
    red = "r" * 12
    body = tl_logic("C", "noyellow", [(30.0, NS), (red_s, red), (30.0, EW), (red_s, red)])
    result = import_network(net, tmp_path / "j", CFG, additional=[additional(tmp_path, "n.add.xml", body)])
    assert result.skipped == ()
    (j,) = load_intersections(tmp_path / "j").values()
    assert (j.yellow_s, j.all_red_s) == (yellow_s, all_red_s)
    assert j.intergreen_s(0, 1) == max(red_s, 3.0)
    assert j.base_cycle_s() == pytest.approx(60.0 + 2 * red_s)


def test_a_program_with_its_yellow_keeps_yellow_and_all_red_added(tmp_path):
    """The rule 5 reading of a program that shows its yellow is unchanged: its yellow, then its all-red."""
    net = cross_net(tmp_path, "x", None)
    red = "r" * 12
    body = tl_logic("C", "y", [(30.0, NS), (3.0, _y(NS)), (2.0, red), (30.0, EW), (3.0, _y(EW)), (2.0, red)])
    import_network(net, tmp_path / "j", CFG, additional=[additional(tmp_path, "y.add.xml", body)])
    (j,) = load_intersections(tmp_path / "j").values()
    assert (j.yellow_s, j.all_red_s, j.intergreen_s(0, 1)) == (3.0, 2.0, 5.0)

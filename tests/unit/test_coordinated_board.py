"""sim.scenarios.coordinated: the held-out board with coordinated city plans. Its recipes are the corpus'
with new seeds, Webster's zero-second greens are left out as a city would, and (slow) one small network
builds with the coordinated plan SUMO runs: Webster's phases shifted by tlsCoordinator's offsets."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from sim.scenarios import coordinated
from sim.scenarios.corpus.catalogue import CORPUS


def test_recipes_are_new_draws_nobody_tuned_on():
    known = coordinated.recipes()
    seeds = {n.seed for n in CORPUS}
    assert len(known) == len(coordinated.DRAWN) + len(coordinated.NEW)
    for name, (net, kind) in known.items():
        assert name.endswith("_hc") and net.name == name
        assert net.seed not in seeds and net.seed > coordinated.SEED_SHIFT  # no corpus, _h, _h2 or _hw seed
        assert kind in ("coordinated", "actuated", "own NEMA")
    corpus = {n.name: n for n in CORPUS}
    assert known["t_corridor_hc"][0].demand.veh_h == int(corpus["t_corridor"].demand.veh_h * 1.3)
    assert known["grid_actuated_hc"][1] == "actuated" and known["arterial8_actuated_hc"][1] == "actuated"


def test_a_zero_second_green_is_left_out_with_its_yellow():
    text = """<additional><tlLogic id="J" type="static" programID="webster" offset="0">
        <phase duration="20" state="GGrr"/><phase duration="4" state="yyrr"/>
        <phase duration="0" state="rrGr"/><phase duration="4" state="rryr"/>
        <phase duration="0" state="rrrG"/><phase duration="3" state="rrrr"/>
        <phase duration="10" state="rrrG"/><phase duration="4" state="rrry"/>
    </tlLogic></additional>"""
    phases = [
        (p.get("duration"), p.get("state")) for p in ET.fromstring(coordinated._drop_zero_greens(text)).iter("phase")
    ]
    # the first zero green goes with its yellow; the second is followed by an all-red, which stays
    assert phases == [("20", "GGrr"), ("4", "yyrr"), ("3", "rrrr"), ("10", "rrrG"), ("4", "rrry")]
    # a yellow that kept a link green into the dropped stage yellows it (red comes next)
    kept = """<additional><tlLogic id="J" type="static" programID="webster" offset="0">
        <phase duration="20" state="GGgr"/><phase duration="4" state="yyGr"/>
        <phase duration="0" state="rrGr"/><phase duration="4" state="rryr"/>
        <phase duration="10" state="rrrG"/><phase duration="4" state="rrry"/>
    </tlLogic></additional>"""
    states = [p.get("state") for p in ET.fromstring(coordinated._drop_zero_greens(kept)).iter("phase")]
    assert states == ["GGgr", "yyyr", "rrrG", "rrry"]


@pytest.mark.slow
def test_a_small_network_builds_with_the_coordinated_plan_sumo_runs(tmp_path):
    import os

    import traci

    from sim.scenarios.common import sumo_home

    net, kind = coordinated.recipes()["t_corridor_hc"]
    assert kind == "coordinated"
    cfg = coordinated.build_hc(net, kind, tmp_path / net.name)
    adds = re.search(r'<additional-files value="([^"]+)"', cfg.read_text()).group(1).split(",")
    assert adds[-2:] == ["t_corridor_hc_webster.add.xml", "t_corridor_hc_offsets.add.xml"]
    offsets = {
        t.get("id"): float(t.get("offset")) for t in ET.parse(tmp_path / net.name / adds[-1]).getroot().iter("tlLogic")
    }
    assert len(offsets) == 4 and any(v != 0 for v in offsets.values())
    traci.start([os.path.join(sumo_home(), "bin", "sumo"), "-c", str(cfg), "--no-step-log"], label="hc")
    try:
        for tl, offset in offsets.items():
            assert traci.trafficlight.getProgram(tl) == "webster"
            logic = next(p for p in traci.trafficlight.getAllProgramLogics(tl) if p.programID == "webster")
            cycle = sum(p.duration for p in logic.phases)
            k = traci.trafficlight.getPhase(tl)
            into = (
                sum(p.duration for p in logic.phases[:k])
                + logic.phases[k].duration
                - traci.trafficlight.getNextSwitch(tl)
            )
            assert into == pytest.approx((-offset) % cycle, abs=1e-6)
    finally:
        traci.close()

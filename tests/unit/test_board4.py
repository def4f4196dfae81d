"""sim.scenarios.board4: the fourth held-out board. Its seeds are none of the other boards', a demand profile
reaches randomTrips as one rate per slice, and one network (the OSM-like one, built by hand here) builds:
one light per crossing from the signal nodes on its approaches."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim.scenarios import board4, coordinated
from sim.scenarios.corpus.catalogue import CORPUS


def test_every_network_is_a_new_draw_with_its_own_name_and_seed():
    nets = [b.net for b in board4.BOARD4]
    assert len({n.name for n in nets}) == len(nets) == 36
    assert len({n.seed for n in nets}) == len(nets)
    taken = {n.seed + shift for n in CORPUS for shift in (0, 1000, 2000, 3000, coordinated.SEED_SHIFT)}
    taken |= {n.seed + coordinated.SEED_SHIFT for n in coordinated.NEW}
    assert not taken & {n.seed for n in nets}
    assert not {n.name for n in nets} & {n.name for n in CORPUS}
    for b in board4.BOARD4:
        assert b.net.begin_s + b.net.demand_s + 300 == 900
        assert not b.profile or min(b.profile) > 0


def test_the_coordinated_draws_are_the_same_networks_with_the_citys_plan():
    known = board4.by_name()
    drawn = [n for n in known if n.endswith("_c")]
    assert len(known) == 86 and len(drawn) == 25
    assert not {*board4.OWN_PROGRAMS, *board4.NO_PLAN} - {b.net.name for b in board4.BOARD4}  # no stale name
    for name in drawn:
        c, own = known[name], known[name.removesuffix("_c")]
        assert c.plan == "coordinated" and own.plan == "" and own.net.name not in board4.OWN_PROGRAMS + board4.NO_PLAN
        assert dataclasses.replace(c.net, name=own.net.name) == own.net and c.profile == own.profile
        heavy = known[f"{own.net.name}_ch"]
        assert heavy.plan == "coordinated" and heavy.net.demand.veh_h == round(own.net.demand.veh_h * 2.5)
        assert dataclasses.replace(heavy.net, name=own.net.name, demand=own.net.demand) == own.net


def test_a_profile_gives_randomtrips_one_rate_per_slice_and_class(monkeypatch, tmp_path):
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], cwd: Path | None = None) -> None:
        calls.append(cmd)
        Path(cmd[cmd.index("-r") + 1]).write_text("<routes>\n</routes>\n", encoding="utf-8")

    monkeypatch.setattr(board4, "run", fake_run)
    b = board4.by_name()["grid_rise_fall"]
    b = dataclasses.replace(b, net=dataclasses.replace(b.net, demand=dataclasses.replace(b.net.demand, veh_h=1000)))
    board4._profiled_trips(b, tmp_path, 600)
    assert len(calls) == len(b.net.demand.classes) == 2
    for cmd, (_, share) in zip(calls, b.net.demand.classes):
        k = cmd.index("--insertion-rate")
        rates = [float(r) for r in cmd[k + 1 : k + 1 + len(b.profile)]]
        assert rates == pytest.approx([1000 * share * m for m in b.profile], abs=0.06)
        assert cmd[k + 1 + len(b.profile)].startswith("--")
    assert (tmp_path / "grid_rise_fall.rou.xml").is_file()


def test_the_osm_like_network_builds_one_light_per_crossing(tmp_path):
    b = board4.by_name()["osm_guess_signals"]
    cfg = board4.build4(b, tmp_path / b.net.name)
    root = ET.parse(cfg.with_name(f"{b.net.name}.net.xml")).getroot()
    lights = {t.get("id") for t in root.iter("tlLogic")}
    assert len(lights) == 6  # 3 x 2 crossings, each one light made of the signal nodes around it
    assert all(t.startswith("GS_") for t in lights)
    assert '<step-length value="1"/>' in cfg.read_text(encoding="utf-8")
    assert ET.parse(cfg.with_name(f"{b.net.name}.rou.xml")).getroot().find("vehicle") is not None

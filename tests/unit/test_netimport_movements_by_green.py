"""`[timing] split_movements_by_green` (sim/netmovements.py movements): an (incoming edge, turn)
group whose links the program greens in different stages is split, so that a stage serves all of
a movement or none of it (on as shipped since session 50). Off, the group is one movement, as before."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load_config
from sim import netimport, netmovements
from sim.netimport import read_net
from sim.netmovements import Conn, add_conflicts, movements
from tests.netbuild import cross_net

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "config.toml")
ON = replace(CFG, timing=replace(CFG.timing, split_movements_by_green=True))
OFF = replace(CFG, timing=replace(CFG.timing, split_movements_by_green=False))

# From E (edge E0C): a partial left 'L' on lanes 0 and 1 (link 0, one grouped signal) and a left 'l'
# on lane 2 (link 1); a through from W (link 2). As held-out rand_allred_grouped_hw's junction 63
# (session 48): stage 0 greens links 0 and 1 (the left permitted), stage 1 link 1 alone (protected
# left), stage 2 the through from W.
CONNS = [
    Conn("E0C", "E0C_0", 50.0, "L", 0),
    Conn("E0C", "E0C_1", 50.0, "L", 0),
    Conn("E0C", "E0C_2", 50.0, "l", 1),
    Conn("W1C", "W1C_0", 50.0, "s", 2),
]
STATES = ["Ggr", "rGr", "rrG"]
STORAGE_M = {c.lane: 50.0 for c in CONNS}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return read_net(cross_net(tmp_path_factory.mktemp("cross")))


def _by_links(tables):
    return {tuple(m["links"]): m for m in tables}


def test_off_the_lefts_are_one_movement_that_a_stage_serves_in_part(net):
    assert CFG.timing.split_movements_by_green  # on as shipped (session 50)
    tables = movements(net, CONNS, OFF, STORAGE_M, STATES)
    assert sorted(_by_links(tables)) == [(0, 1), (2,)]
    assert tables == movements(net, CONNS, OFF, STORAGE_M)  # the states change nothing without the key


def test_on_each_movement_is_green_in_the_same_stages_on_all_its_links(net):
    tables = movements(net, CONNS, ON, STORAGE_M, STATES)
    by = _by_links(tables)
    assert sorted(by) == [(0,), (1,), (2,)]
    assert by[(0,)]["lanes"] == ["E0C_0", "E0C_1"] and by[(1,)]["lanes"] == ["E0C_2"]
    assert by[(0,)]["id"] != by[(1,)]["id"] and {by[(0,)]["turn"], by[(1,)]["turn"]} == {"left"}
    assert by[(0,)]["sat_flow_pcu_h"] == 2 * CFG.saturation.left_pcu_h_lane
    for m in tables:  # a stage greens all of a movement's links or none
        for st in STATES:
            assert len({st[k] in "Gg" for k in m["links"]}) == 1
    phases = [{"state": s} for s in STATES]
    add_conflicts(tables, phases)
    assert by[(0,)]["conflicts"] == [by[(2,)]["id"]]  # never green with W's through
    assert by[(1,)]["conflicts"] == [by[(2,)]["id"]]


def test_on_links_green_in_the_same_stages_stay_one_movement(net):
    same = ["Ggr", "rrG"]  # links 0 and 1 always green together
    assert sorted(_by_links(movements(net, CONNS, ON, STORAGE_M, same))) == [(0, 1), (2,)]


def test_the_import_hands_the_stages_states_to_movements(tmp_path, monkeypatch):
    """netimport builds a light's movements with its stages' signal states (the key's only input
    there): without them the key would split nothing at import, whatever the unit above says."""
    path = cross_net(tmp_path)
    got: list[list[str] | None] = []
    real = netmovements.movements

    def spy(net_, conns, cfg, storage_m, phase_states=None):
        got.append(phase_states)
        return real(net_, conns, cfg, storage_m, phase_states)

    monkeypatch.setattr(netmovements, "movements", spy)
    tables, _ = netimport.junction_tables(read_net(path), ON, str(path))
    assert tables and len(got) == len(tables)
    for table, states in zip(tables, got, strict=True):
        assert states == [ph["state"] for ph in table["phases"]] and states

"""[roadside] keep_off_through_intergreen: in a yellow or all-red between two stages, a link the
city's program switches off ('o', drivers yield) in both the stage left and the stage entered
keeps 'o' (RiLSA programs keep a left turn on 'o' through every transition); a link that turns
'G' in the stage entered, and every link into flash, is red through the intergreen as before.

The junction: tests/junction_fixtures.py's four-phase one with the N/S left turns (links 1, 5)
switched off in the N/S through phase 0 and in the E/W through phase 2, protected in phase 1."""

from __future__ import annotations

from pathlib import Path

from controller.junctions import parse_intersection
from controller.model import FlashCommand, Intersection, PhaseCommand
from sim.roadside import RoadsideController
from tests.junction_fixtures import four_phase_raw


def _junction() -> Intersection:
    raw = four_phase_raw()
    raw["phases"][0]["state"] = "GorrGorr"
    raw["phases"][2]["state"] = "roGgroGg"
    return parse_intersection(raw, "four_phase_off.toml")


def _cmd(phase: int, seq: int, t: float) -> PhaseCommand:
    return PhaseCommand("J", f"p{seq}", seq, phase, 1.0, t, t + 100.0)


def _change(keep: bool, to_phase: int) -> list[str]:
    """The states shown from t=0 in phase 0, told at t=10 to go to `to_phase`."""
    rc = RoadsideController(_junction(), backup_s=30.0, keep_off_through_intergreen=keep)
    rc.receive(_cmd(0, 1, 0.0), 0.0)
    out = [rc.tick(float(t), 0 if rc.mode == "local" else None, float(t)) for t in range(10)]
    cmd = FlashCommand("J", "f2", 2, 10.0, 10.0 + 100.0) if to_phase < 0 else _cmd(to_phase, 2, 10.0)
    rc.receive(cmd, 10.0)
    return out + [rc.tick(float(t), None, 0.0) for t in range(10, 30)]


def _intergreen(states: list[str], green: str) -> list[str]:
    """The states between phase 0's green and `green`'s."""
    return [s for s in states[: states.index(green)] if s != "GorrGorr"]


def test_an_off_link_in_both_stages_keeps_off_through_the_yellow_and_the_all_red():
    j = _junction()
    assert j.yellow_s > 0 and j.all_red_between_s(0, 2) > 0
    on, off = _change(True, 2), _change(False, 2)
    assert on[:10] == off[:10] == ["GorrGorr"] * 10
    ig_on, ig_off = _intergreen(on, "roGgroGg"), _intergreen(off, "roGgroGg")
    n_yellow, n_red = round(j.yellow_s), round(j.all_red_between_s(0, 2))
    assert ig_on == ["yorryorr"] * n_yellow + ["rorrrorr"] * n_red  # the turn never stopped
    assert ig_off == ["yrrryrrr"] * n_yellow + ["rrrrrrrr"] * n_red  # the roadside as before
    assert "roGgroGg" in on and "roGgroGg" in off


def test_an_off_link_that_turns_green_and_every_link_into_flash_are_red_through_the_intergreen():
    j = _junction()
    on, off = _change(True, 1), _change(False, 1)
    assert on == off  # 'o' -> 'G' (the protected stage): the intergreen clears it as before
    assert "yrrryrrr" in on and "rGrrrGrr" in on
    assert "o" not in "".join(s for s in on[10:] if s != "rGrrrGrr")
    flash_on, flash_off = _change(True, -1), _change(False, -1)
    assert flash_on == flash_off and "o" * j.n_links in flash_on  # into flash: every link cleared first
    assert "rrrrrrrr" in flash_on


def test_the_key_loads_from_config_toml_and_reaches_the_roadside(tmp_path):
    from controller.config import load_config

    p = tmp_path / "c.toml"
    p.write_text("[roadside]\nkeep_off_through_intergreen = true\n")
    assert load_config(p).roadside.keep_off_through_intergreen
    root = Path(__file__).resolve().parents[2]
    assert load_config(root / "config.toml").roadside.keep_off_through_intergreen  # shipped on (session 17)
    assert load_config(None).roadside.keep_off_through_intergreen  # and on by default
    p.write_text("[roadside]\nkeep_off_through_intergreen = false\n")
    assert not load_config(p).roadside.keep_off_through_intergreen

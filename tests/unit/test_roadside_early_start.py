"""`[timing] program_clearances`: a link the stage entered starts, whose clearance (the junction's
`clearance_s`) from every link the change stops is 0, shows its green from the start of the
yellow, as the city's program starts it with their yellow (Bologna pasubio 219 and 231, RiLSA_example3
A -> B); the others wait for the end of the intergreen as before, and without clearances nothing
changes. The junction: tests/junction_fixtures.py's four-phase one, changing from the N/S through
phase 0 (links 0, 1, 4, 5) to the E/W through phase 2 (links 2, 3, 6, 7)."""

from __future__ import annotations

from controller.junctions import parse_intersection
from controller.model import Intersection, PhaseCommand
from sim.roadside import RoadsideController
from tests.junction_fixtures import four_phase_raw


def _junction(clearances: dict[str, float]) -> Intersection:
    raw = four_phase_raw()
    if clearances:
        raw["clearance_s"] = clearances
    return parse_intersection(raw, "four_phase.toml")


def _cmd(phase: int, seq: int, t: float) -> PhaseCommand:
    return PhaseCommand("J", f"p{seq}", seq, phase, 1.0, t, t + 100.0)


def _intergreen(j: Intersection) -> list[str]:
    """The states shown between phase 0's green and phase 2's, told at t=10 to change."""
    rc = RoadsideController(j, backup_s=30.0)
    rc.receive(_cmd(0, 1, 0.0), 0.0)
    states = [rc.tick(float(t), 0 if rc.mode == "local" else None, float(t)) for t in range(10)]
    rc.receive(_cmd(2, 2, 10.0), 10.0)
    states += [rc.tick(float(t), None, 0.0) for t in range(10, 30)]
    green_0, green_2 = j.phases[0].state, j.phases[2].state
    return [s for s in states[: states.index(green_2)] if s != green_0]


def test_a_link_the_program_starts_with_the_yellow_shows_its_green_through_the_intergreen():
    zero = {f"{i}>{k}": 0.0 for i in (0, 1, 4, 5) for k in (2, 6)}  # E/W through (2, 6), not their left turns
    j = _junction(zero)
    n_yellow, n_red = round(j.yellow_s), round(j.all_red_between_s(0, 2))
    assert n_yellow > 0 and n_red > 0  # the left turns (3, 7) still need the all-red
    assert _intergreen(j) == ["yyGryyGr"] * n_yellow + ["rrGrrrGr"] * n_red


def test_without_a_zero_clearance_from_every_stopped_link_the_intergreen_is_as_before():
    before = _intergreen(_junction({}))
    n_yellow, n_red = round(_junction({}).yellow_s), round(_junction({}).all_red_between_s(0, 2))
    assert before == ["yyrryyrr"] * n_yellow + ["rrrrrrrr"] * n_red
    partial = {f"{i}>{k}": 0.0 for i in (0, 1, 4) for k in (2, 6)}  # link 5 -> 2, 6 not listed
    assert _intergreen(_junction(partial)) == before

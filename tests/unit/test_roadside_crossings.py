"""The roadside's own rules read the combined model (`Intersection.red_bounded`: the vehicle movements, then the
signalised crossings), every one of them: each is a maximum-red rule (DESIGN.md: "maximum red for any movement (no
starvation)"), and with `[timing] crossings_max_red` a crossing is bounded as a movement is (docs/security.md,
section 3, the cabinet's own limits). A crossing has no detector and the roadside reads none: to its rules every
movement, a crossing too, waits from its last green.

- the max-red override (test_crossings_max_red: the roadside serves the crossing when the plans never do);
- the longest-wait rule (a green cut at its maximum, a plan set aside, plans lapsed): the phase serving the movement
  that waited longest, a crossing among them;
- the hand-back to the local program only at a due green: one whose phase serves the movement that waited longest,
  a crossing among them, so the program resumes where no crossing is nearer its maximum red than the stage it takes;
- the admission's check (roadside_agent.check_limits: a cycle's max red over the model with its crossings;
  test_crossings_max_red: the twins' cycle refused).

Each test here runs the same junction without `crossings` too: the roadside given the vehicle model alone (what a
roadside built on `junction` rather than `junction.red_bounded` would read) takes the other way."""

from __future__ import annotations

from controller.model import PhaseCommand
from sim.roadside import RoadsideController
from tests.unit.test_crossings_max_red import scramble


def _changes(states: list[str]) -> list[tuple[int, str]]:
    """(second, state) where the shown state changes."""
    return [(t, s) for t, s in enumerate(states) if t == 0 or s != states[t - 1]]


def _cut_at_max_green(crossings: list[int] | None) -> list[tuple[int, str]]:
    """The program shows phase 0 at 0 s; a plan holds phase 1 (E/W) from 12 s until the roadside cuts it at its
    60 s maximum green, at 72 s: N/S were last green at 6 s, the crossing (phase 2 alone) never since 0 s."""
    rc = RoadsideController(scramble(crossings), backup_s=200.0)
    assert rc.receive(PhaseCommand("J", "p1", 1, 1, 60.0, 0.0, 200.0), 0.0) == ""
    states = [rc.tick(float(t), 0 if rc.mode == "local" else None, float(t)) or "local" for t in range(95)]
    assert "limit: max green: phase 1 ended after 60 s" in rc.status(94.0).faults
    return _changes(states)[4:7]


def test_a_green_cut_at_its_maximum_goes_to_the_phase_serving_the_crossing_that_waited_longest() -> None:
    assert _cut_at_max_green([4]) == [(72, "ryryr"), (75, "rrrrr"), (77, "GrGrG")]  # the crossing's stage
    assert _cut_at_max_green(None) == [(72, "ryryr"), (75, "rrrrr"), (77, "GrGrr")]  # N/S alone: a tie, phase 0


def _hand_back(crossings: list[int] | None) -> list[str]:
    """The program shows phase 1 at 0 s; plans: phase 0 (green 12-19 s), then phase 1 (green from 24 s), and none
    after 12 s, so they lapse at 28 s (backup 15 s) in phase 1's green. When it began, E/W had waited 17 s, N/S 5 s
    and the crossing (phase 2 alone) 24 s."""
    rc = RoadsideController(scramble(crossings), backup_s=15.0)
    assert rc.receive(PhaseCommand("J", "p1", 1, 0, 1.0, 0.0, 100.0), 0.0) == ""
    states = []
    for t in range(50):
        if t == 12:
            assert rc.receive(PhaseCommand("J", "p2", 2, 1, 1.0, 12.0, 100.0), 12.0) == ""
        states.append(rc.tick(float(t), 1 if rc.mode == "local" else None, float(t)) or "local")
    return states


def test_the_hand_back_waits_for_a_green_serving_the_crossing_that_waited_longest() -> None:
    """With the crossing, phase 1's green is not due: the roadside keeps control past the lapse, runs the
    longest-wait rule itself (after the minimum green, phase 2) and hands back there, so the program resumes at the
    crossing's stage. The vehicle model alone counts that green due and hands back in it at once."""
    states = _hand_back([4])
    assert states[24:31] == ["rGrGr"] * 7 and states[31:36] == ["ryryr"] * 3 + ["rrrrr"] * 2
    assert states[36] == "GrGrG" and set(states[37:]) == {"local"}
    plain = _hand_back(None)
    assert plain[24:28] == ["rGrGr"] * 4 and set(plain[28:]) == {"local"}

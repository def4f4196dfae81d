"""SumoField._resume_program (sim/field.py): the hand-back to the city's program continues the
green showing in a phase of the program's cycle, never in a phase the cycle does not come back to."""

from __future__ import annotations

from types import SimpleNamespace

from sim.field import SumoField


class FakeTrafficLight:
    def __init__(self, phases: list[SimpleNamespace]) -> None:
        self.phases = phases
        self.calls: list[tuple] = []

    def setProgram(self, jid: str, program_id: str) -> None:
        self.calls.append(("program", program_id))

    def getAllProgramLogics(self, jid: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(programID="city", phases=self.phases)]

    def setPhase(self, jid: str, index: int) -> None:
        self.calls.append(("phase", index))

    def setPhaseDuration(self, jid: str, duration_s: float) -> None:
        self.calls.append(("duration", duration_s))


def _phase(duration_s: float, state: str, nxt: tuple[int, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(duration=duration_s, state=state, next=nxt)


def _resume(phases: list[SimpleNamespace], green_links: frozenset[int], max_green_s: float, green_s: float) -> list:
    """The calls SumoField._resume_program makes on a light of one stage showing `green_links`."""
    tl = FakeTrafficLight(phases)
    stage = SimpleNamespace(green_links=lambda: green_links, max_green_s=max_green_s)
    field = SimpleNamespace(
        api=SimpleNamespace(trafficlight=tl), _program={"J": "city"}, junctions={"J": SimpleNamespace(phases=[stage])}
    )
    SumoField._resume_program(field, "J", 0, green_s=green_s)  # type: ignore[arg-type]
    return tl.calls


def test_hand_back_resumes_in_the_cycle_not_in_a_lead_in():
    # phase 0 shows the same green as phase 4 but is a lead-in: 0 -> 1 -> 2 -> 3 -> 4 -> 1
    phases = [_phase(99.0, "Gr"), _phase(3.0, "yr"), _phase(20.0, "rG"), _phase(3.0, "ry"), _phase(31.0, "Gr", (1,))]
    assert _resume(phases, frozenset({0}), 60.0, 10.0) == [("program", "city"), ("phase", 4), ("duration", 21.0)]


def test_hand_back_without_next_continues_the_green_in_file_order():
    phases = [_phase(30.0, "Gr"), _phase(3.0, "yr"), _phase(20.0, "rG"), _phase(3.0, "ry")]
    assert _resume(phases, frozenset({1}), 15.0, 5.0) == [("program", "city"), ("phase", 2), ("duration", 10.0)]


def test_a_lapsed_plan_hands_back_at_its_own_second():
    """The roadside's hand-back (its tick gives no state) resumes the program in force at that
    second (a WAUT may have switched it since the start: tests/contract/test_waut.py), so the
    field passes the second to _resume_program; without it the program of the start resumes."""
    calls: list[tuple] = []
    rc = SimpleNamespace(
        mode="policy",
        tick=lambda t_s, phase, spent: None,
        green_phase=lambda: 0,
        status=lambda t_s: SimpleNamespace(time_in_phase_s=7.0),
        status_key=lambda: "k",
    )
    field = SimpleNamespace(
        api=SimpleNamespace(trafficlight=None),
        roadside={"J": rc},
        _applied={"J": "Gr"},
        _status_sent={"J": ("k", 1200.0)},
        status_every_s=1e9,
        _resume_program=lambda *args: calls.append(args),
    )
    assert SumoField.actuate_bodies(field, 1234.0) == []  # type: ignore[arg-type]
    assert calls == [("J", 0, 7.0, 1234.0)] and field._applied == {"J": None}


def test_a_program_without_the_green_in_force_is_named(caplog):
    """A program in force (a WAUT's night program) with no phase showing the green the roadside
    hands back: the program is switched to and the junction named in a warning, not left silent
    (R, session 33)."""
    phases = [_phase(30.0, "GGrr"), _phase(3.0, "yyrr"), _phase(20.0, "rrGG"), _phase(3.0, "rryy")]
    with caplog.at_level("WARNING", logger="sim.field"):
        assert _resume(phases, frozenset({0, 2}), 60.0, 5.0) == [("program", "city")]
    assert "junction=J program=city" in caplog.text and "[0, 2]" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="sim.field"):
        _resume(phases, frozenset({0, 1}), 60.0, 5.0)
    assert caplog.text == ""

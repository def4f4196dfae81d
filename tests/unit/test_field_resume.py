"""SumoField._resume_program (sim/field.py): the hand-back to the city's program continues the
green showing in a phase of the program's cycle, never in a phase the cycle does not come back to;
into a program with no phase showing that green it goes through an intergreen (program_entry;
the states SUMO shows: tests/contract/test_waut.py)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from sim.field import ProgramEntry, SumoField, program_entry
from tests.junction_fixtures import two_phase


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
        api=SimpleNamespace(trafficlight=tl),
        _program_in_force=lambda jid, t_s: "city",
        _keep_off=True,
        junctions={"J": SimpleNamespace(phases=[stage])},
    )
    SumoField._resume_program(field, "J", 0, green_s, 100.0)  # type: ignore[arg-type]
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
        _wauts={},
        status_every_s=1e9,
        _resume_program=lambda *args: calls.append(args),
    )
    assert SumoField.actuate_bodies(field, 1234.0) == []  # type: ignore[arg-type]
    assert calls == [("J", 0, 7.0, 1234.0)] and field._applied == {"J": None}


def test_a_program_showing_no_green_is_named(caplog):
    """A program in force (a WAUT's) with no green at all to enter at: switched to, and the
    junction named in a warning (R, session 33), not left silent."""
    phases = [_phase(30.0, "oooo"), _phase(3.0, "rrrr")]
    with caplog.at_level("WARNING", logger="sim.field"):
        assert _resume(phases, frozenset({0, 2}), 60.0, 5.0) == [("program", "city")]
    assert "junction=J program=city" in caplog.text and "[0, 2]" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="sim.field"):
        _resume([_phase(30.0, "GGrr"), _phase(3.0, "yyrr")], frozenset({0, 1}), 60.0, 5.0)
    assert caplog.text == ""


def _entry(program: list[tuple[float, str]], green_s: float, **junction: object) -> ProgramEntry | None:
    """program_entry from two_phase's stage 0 ('GrGr': links 0 and 2; min green 7 s, max 60 s,
    yellow 3 s, all-red 2 s), green for `green_s`, into `program` ((seconds, state) per phase)."""
    j = replace(two_phase(), **junction)  # type: ignore[arg-type]
    states, durations_s = [st for _, st in program], [d for d, _ in program]
    return program_entry(j, 0, green_s, "evening", states, durations_s, list(range(len(program))))


SPLIT = [(20.0, "Grrr"), (3.0, "yrrr"), (20.0, "rrGr"), (3.0, "rryr"), (30.0, "rGrG"), (3.0, "ryry")]


@pytest.mark.parametrize(
    ("program", "green_s", "expected"),
    [
        # N alone keeps the most (the first of N alone and S alone): S clears, nothing starts (no
        # all-red); N's green goes on for what is left of the program's 20 s after 10 + 3 s
        (SPLIT, 10.0, ProgramEntry("evening", ((0.0, "Gryr"),), 3.0, 0, 7.0)),
        # 2 s into the green in force: it is held to its minimum (7 s) first
        (SPLIT, 2.0, ProgramEntry("evening", ((0.0, "GrGr"), (5.0, "Gryr")), 8.0, 0, 10.0)),
        # nothing kept: both clear, yellow then all-red, and E/W start for the program's own time
        ([(30.0, "rGrG"), (3.0, "ryry")], 10.0, ProgramEntry("evening", ((0.0, "yryr"), (3.0, "rrrr")), 5.0, 0)),
        # the green in force and one more link: nothing stops, no intergreen
        ([(3.0, "ryry"), (30.0, "GrGG"), (3.0, "yryy")], 10.0, ProgramEntry("evening", (), 0.0, 1)),
        # the same 2 s into the green in force: nothing stops, so nothing is held to its minimum
        ([(3.0, "ryry"), (30.0, "GrGG"), (3.0, "yryy")], 2.0, ProgramEntry("evening", (), 0.0, 1)),
        # a split green (two phases with one green) across the cycle's end (phases 4, 0): entered
        # at its first phase (4), not at 0, and N goes on for what is left of their 10 + 10 s
        (
            [(10.0, "Grrr"), (3.0, "yrrr"), (30.0, "rGrG"), (3.0, "ryry"), (10.0, "Grrr")],
            10.0,
            ProgramEntry("evening", ((0.0, "Gryr"),), 3.0, 0, 7.0),
        ),
    ],
)
def test_a_program_without_the_green_in_force_is_entered_through_an_intergreen(program, green_s, expected):
    assert _entry(program, green_s) == expected


def test_the_entry_takes_the_junctions_own_intergreen():
    """yellow_s and all_red_s are the junction model's (the safety gate's): no constant of the field."""
    entry = _entry([(30.0, "rGrG"), (3.0, "ryry")], 10.0, yellow_s=4.0, all_red_s=1.0)
    assert entry == ProgramEntry("evening", ((0.0, "yryr"), (4.0, "rrrr")), 5.0, 0)
    assert _entry([(30.0, "oooo")], 10.0) is None  # no green to enter at


def test_a_continued_green_stops_at_its_max_green():
    """What is left of a continued green counts to the stage's max_green_s when the program's is
    longer: N green 2 s, held 5 s, yellow 3 s for S, then 15 - 10 s, not 20 - 10 s."""
    j = two_phase()
    short = replace(j.phases[0], max_green_s=15.0)
    assert _entry(SPLIT, 2.0, phases=(short, j.phases[1])) == ProgramEntry(
        "evening", ((0.0, "GrGr"), (5.0, "Gryr")), 8.0, 0, 5.0
    )


@pytest.mark.parametrize(("keep_off", "yellow"), [(True, "Gryo"), (False, "Gryr")])
def test_a_link_off_in_both_keeps_its_letter_with_keep_off(keep_off, yellow):
    """W switched off ('o') in the stage in force and in the green entered: it stays off through
    the yellow with [roadside] keep_off_through_intergreen, as the roadside's intergreens do."""
    j = two_phase()
    stage = replace(j.phases[0], state="GrGo")
    program = [(20.0, "Grro"), (3.0, "yrro"), (30.0, "rGrG"), (3.0, "ryry")]
    states, durations_s = [st for _, st in program], [d for d, _ in program]
    entry = program_entry(
        replace(j, phases=(stage, j.phases[1])), 0, 10.0, "evening", states, durations_s, [0, 1, 2, 3], keep_off
    )
    assert entry == ProgramEntry("evening", ((0.0, yellow),), 3.0, 0, 7.0)


def test_a_take_back_during_an_entry_ends_it():
    """The roadside takes the light back while the field enters a program through an intergreen
    (a new plan): the entry is dropped, so that after a later hand-back into a program showing the
    green no stale entry jumps the light to its phase with no intergreen (R, session 34)."""
    ticks = iter([None, "rGrG", None, None])  # hand-back, take-back, hand-back again, local
    resumed: list[float] = []
    entered: list[float] = []
    shown: list[str] = []
    rc = SimpleNamespace(
        mode="policy",
        tick=lambda t_s, phase, spent: next(ticks),
        green_phase=lambda: 0,
        status=lambda t_s: SimpleNamespace(time_in_phase_s=9.0),
        status_key=lambda: "k",
    )
    field = SimpleNamespace(
        api=SimpleNamespace(trafficlight=SimpleNamespace(setRedYellowGreenState=lambda jid, st: shown.append(st))),
        roadside={"J": rc},
        _applied={"J": "GrGr"},
        _entries={},
        _status_sent={"J": ("k", 0.0)},
        _wauts={},
        status_every_s=1e9,
        _enter_program=lambda jid, t_s: entered.append(t_s),
    )

    def resume(jid: str, phase: int, green_s: float, t_s: float) -> None:
        resumed.append(t_s)
        if t_s == 100.0:  # the first hand-back enters its program through an intergreen
            field._entries[jid] = (t_s, ProgramEntry("evening", ((0.0, "yryr"),), 3.0, 1))

    field._resume_program = resume
    for t_s in (100.0, 101.0, 102.0, 103.0):
        SumoField.actuate_bodies(field, t_s)  # type: ignore[arg-type]
    assert resumed == [100.0, 102.0] and shown == ["rGrG"]
    assert field._entries == {} and entered == []

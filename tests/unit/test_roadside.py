"""The virtual roadside controller keeps local safety whatever it is told."""

from controller.model import CyclePlan, PhaseCommand
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase


def cmd(phase: int, seq: int, t: float, ttl: float = 20.0) -> PhaseCommand:
    return PhaseCommand("J", f"p{seq}", seq, phase, 1.0, t, t + ttl)


def run(rc: RoadsideController, t0: int, t1: int) -> list[str]:
    return [rc.tick(float(t), 0 if rc.mode == "local" else None, float(t)) or "local" for t in range(t0, t1)]


def test_change_runs_min_green_then_yellow_then_all_red():
    rc = RoadsideController(two_phase(), backup_s=30.0)
    assert rc.receive(cmd(0, 1, 0.0), 0.0) == ""
    states = run(rc, 0, 3)  # takes over in phase 0
    assert states == ["GrGr"] * 3
    rc.receive(cmd(1, 2, 3.0), 3.0)
    states = run(rc, 3, 20)
    # phase 0 began at t=0 (local spent 0): min green 7 s, then 3 s yellow, 2 s all-red
    assert states[:4] == ["GrGr"] * 4
    assert states[4:7] == ["yryr"] * 3
    assert states[7:9] == ["rrrr"] * 2
    assert set(states[9:]) == {"rGrG"}


def test_violating_plan_is_refused_with_reason_and_ignored():
    rc = RoadsideController(two_phase(), backup_s=30.0)
    bad = CyclePlan("J", "c1", 1, (0, 1), (3.0, 30.0), 43.0, 0.0, 0.0, 60.0)
    why = rc.receive(bad, 0.0)
    assert "min" in why and rc.plan is None
    assert any(f.startswith("refused") for f in rc.status(0.0).faults)
    assert rc.receive(cmd(7, 2, 0.0), 0.0).startswith("phase 7")


def test_repeated_seq_is_idempotent_and_old_seq_ignored():
    rc = RoadsideController(two_phase(), backup_s=30.0)
    rc.receive(cmd(1, 5, 0.0), 0.0)
    rc.receive(cmd(0, 4, 1.0), 1.0)  # older: ignored
    assert rc.plan.phase == 1 and rc.last_seq == 5


def test_falls_back_to_local_without_plans():
    rc = RoadsideController(two_phase(), backup_s=10.0)
    rc.receive(cmd(0, 1, 0.0, ttl=100.0), 0.0)
    run(rc, 0, 5)
    assert rc.mode == "adaptive"
    states = run(rc, 5, 15)
    assert rc.mode == "local" and states[-1] == "local"


def test_stage_clock_starts_from_the_program_at_the_first_reading():
    """A scenario that begins at 25,200 s in the program's phase 0, 4 s into it: the status says
    4 s (not 25,200), and the clock restarts only when the program changes stage."""
    rc = RoadsideController(two_phase(), backup_s=30.0)
    assert rc.tick(25_200.0, 0, 4.0) is None
    st = rc.status(25_200.0)
    assert (st.phase, st.in_intergreen, st.time_in_phase_s) == (0, False, 4.0)
    rc.tick(25_201.0, 0, 5.0)
    assert rc.status(25_201.0).time_in_phase_s == 5.0
    rc.tick(25_230.0, None, 0.0)  # the program's yellow
    rc.tick(25_235.0, 1, 1.0)
    st = rc.status(25_235.0)
    assert (st.phase, st.time_in_phase_s) == (1, 1.0)


def test_a_plan_taken_over_at_a_late_start_keeps_the_green_already_shown():
    rc = RoadsideController(two_phase(), backup_s=30.0)
    rc.tick(25_200.0, 0, 4.0)
    rc.receive(cmd(1, 1, 25_201.0), 25_201.0)
    states = [rc.tick(float(t), 0, float(t) - 25_196.0) for t in range(25_201, 25_206)]
    # phase 0 has been green since 25,196: min green (7 s) ends at 25,203, then the yellow
    assert states == ["GrGr", "GrGr", "yryr", "yryr", "yryr"]

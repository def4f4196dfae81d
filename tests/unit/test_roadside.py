"""The virtual roadside controller keeps local safety whatever it is told."""

import random

from controller.junctions import parse_intersection
from controller.model import CyclePlan, FlashCommand, Intersection, PhaseCommand
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


def flash(seq: int, t: float, ttl: float = 20.0) -> FlashCommand:
    return FlashCommand("J", f"f{seq}", seq, t, t + ttl)


def test_into_flash_through_yellow_and_all_red_and_out_of_it_through_all_red_when_it_expires():
    rc = RoadsideController(two_phase(), backup_s=30.0)
    rc.receive(cmd(0, 1, 0.0), 0.0)
    run(rc, 0, 3)  # phase 0 green since t=0
    assert rc.receive(flash(2, 3.0, ttl=27.0), 3.0) == ""  # expires at t=30
    states = run(rc, 3, 20)
    # phase 0 keeps its min green (7 s), then its yellow (3 s) and all-red (2 s), then flashes
    assert states[:4] == ["GrGr"] * 4 and states[4:7] == ["yryr"] * 3 and states[7:9] == ["rrrr"] * 2
    assert set(states[9:]) == {"oooo"}
    st = rc.status(19.0)
    assert (st.plan_id, st.mode, st.in_intergreen, st.phase) == ("f2", "adaptive", True, 0)
    states = run(rc, 20, 40)
    # flashing up to its expiry (t=30), then all-red for a full intergreen (yellow + all-red,
    # 5 s), then the phase green before the flash, and back to local control in that green
    assert states[:11] == ["oooo"] * 11 and states[11:16] == ["rrrr"] * 5
    assert states[16] == "GrGr" and states[17] == "local" and rc.mode == "local"
    assert not rc.faults


def test_out_of_flash_through_all_red_into_the_next_plans_phase():
    rc = RoadsideController(two_phase(), backup_s=30.0)
    rc.receive(cmd(0, 1, 0.0), 0.0)
    run(rc, 0, 8)  # min green served: the flash starts at once
    rc.receive(flash(2, 8.0, ttl=100.0), 8.0)
    states = run(rc, 8, 20)
    assert states[:3] == ["yryr"] * 3 and states[3:5] == ["rrrr"] * 2 and set(states[5:]) == {"oooo"}
    rc.receive(cmd(1, 3, 20.0), 20.0)  # released: the policy's plan supersedes the flash
    states = run(rc, 20, 40)
    assert states[:5] == ["rrrr"] * 5 and set(states[5:]) == {"rGrG"}  # min green, then held
    assert not rc.faults


def test_a_plan_arriving_during_the_all_red_out_of_flash_chooses_the_first_green():
    rc = RoadsideController(two_phase(), backup_s=30.0)
    rc.receive(cmd(0, 1, 0.0), 0.0)
    run(rc, 0, 8)
    rc.receive(flash(2, 8.0, ttl=12.0), 8.0)  # expires at t=20: the all-red begins at t=21
    run(rc, 8, 22)
    rc.receive(cmd(1, 3, 22.0), 22.0)  # the policy's plan, a second into the all-red
    states = run(rc, 22, 30)
    assert states[:4] == ["rrrr"] * 4 and set(states[4:]) == {"rGrG"}


def test_a_flash_arriving_during_an_intergreen_waits_for_the_next_green_and_its_minimum():
    rc = RoadsideController(two_phase(), backup_s=30.0)
    rc.receive(cmd(1, 1, 0.0), 0.0)
    states = run(rc, 0, 8)  # phase 0 (local, since t=0) to phase 1: yellow from t=7
    assert states[7] == "yryr"
    rc.receive(flash(2, 8.0, ttl=100.0), 8.0)
    states = run(rc, 8, 30)
    # yellow to t=9, all-red t=10-11, phase 1 green t=12-18 (min 7 s), yellow, all-red, flash
    assert states[:2] == ["yryr"] * 2 and states[2:4] == ["rrrr"] * 2 and states[4:11] == ["rGrG"] * 7
    assert states[11:14] == ["ryry"] * 3 and states[14:16] == ["rrrr"] * 2 and set(states[16:]) == {"oooo"}


def test_a_green_the_plan_itself_ends_at_max_green_is_no_fault():
    """The service's gate and the roadside cut a held green at the same second; the gate's
    switch may reach the roadside one step later. That is the plan's own change, not a fault."""
    rc = RoadsideController(two_phase(), backup_s=100.0)
    rc.receive(PhaseCommand("J", "h1", 1, 0, 60.0, 0.0, 200.0), 0.0)
    states = run(rc, 0, 61)
    assert states[59] == "GrGr" and states[60] == "yryr"  # cut at 60 s by the roadside
    rc.receive(PhaseCommand("J", "g2", 2, 1, 1.0, 61.0, 200.0), 61.0)  # the gate's switch, a step later
    states = run(rc, 61, 120)
    assert "rGrG" in states
    assert not any(f.startswith("limit") for f in rc.status(120.0).faults)


def test_a_green_cut_at_max_green_against_the_plan_is_reported():
    rc = RoadsideController(two_phase(), backup_s=100.0)
    rc.receive(PhaseCommand("J", "h1", 1, 0, 60.0, 0.0, 200.0), 0.0)
    run(rc, 0, 61)
    assert not any(f.startswith("limit") for f in rc.status(60.0).faults)  # one step of tolerance
    rc.receive(PhaseCommand("J", "h2", 2, 0, 60.0, 61.0, 200.0), 61.0)  # the plan still holds phase 0
    run(rc, 61, 62)
    assert "limit: max green: phase 0 ended after 60 s" in rc.status(61.0).faults


def three_phase(max_red_s: float = 120.0) -> Intersection:
    """Movements A, B, C, each served by its own phase (0, 1, 2): min green 5 s, yellow 3 s, all-red 1 s."""
    raw = {
        "id": "J",
        "n_links": 3,
        "yellow_s": 3.0,
        "all_red_s": 1.0,
        "cycle_min_s": 1.0,
        "cycle_max_s": 120.0,
        "max_red_s": max_red_s,
        "movements": [
            {
                "id": f"{a}_T",
                "approach": a,
                "turn": "through",
                "from_edge": f"e{a}",
                "lanes": [f"e{a}_0"],
                "links": [i],
                "sat_flow_pcu_h": 1800.0,
                "storage_pcu": 10.0,
            }
            for i, a in enumerate("NES")
        ],
        "phases": [
            {"state": s, "min_green_s": 5.0, "max_green_s": 30.0, "base_green_s": 10.0} for s in ("Grr", "rGr", "rrG")
        ],
        "detectors": [{"id": "eN_0_stop", "lane": "eN_0", "kind": "stop", "pos_m": 98.0, "dist_to_stop_m": 2.0}],
    }
    return parse_intersection(raw, "three.toml")


def test_hand_back_waits_for_a_green_serving_the_longest_wait():
    """Plans lapse in a green whose phase did not serve the movement that had waited longest:
    the roadside itself changes to the phase serving it (after the minimum green) and hands
    back to the program only there, so the program goes on from the movement nearest max red."""
    rc = RoadsideController(three_phase(), backup_s=10.0)
    rc.receive(cmd(1, 1, 0.0, ttl=100.0), 0.0)
    states = run(rc, 0, 9)  # phase 0 (local, since t=0) to phase 1: green at t=9
    rc.receive(cmd(0, 2, 9.0, ttl=100.0), 9.0)  # back to phase 0 (green at t=18); S_T red since t=0
    states = run(rc, 9, 40)
    assert states[:9] == ["rGr"] * 5 + ["ryr"] * 3 + ["rrr"] and states[9:11] == ["Grr"] * 2
    # the plan lapses at t=20 in phase 0 (not due): its minimum green, yellow, all-red, then phase 2
    assert states[11:14] == ["Grr"] * 3 and states[14:17] == ["yrr"] * 3 and states[17] == "rrr"
    assert states[18] == "rrG" and set(states[19:]) == {"local"}  # handed back in phase 2's green


def test_an_infeasible_max_red_serves_the_longest_wait_in_turn():
    """max_red_s 1 s cannot be kept: every change is a max-red override, and it goes to the
    phase serving the movement that waited longest, whatever the plan asks, so all are served."""
    rc = RoadsideController(three_phase(max_red_s=1.0), backup_s=100.0)
    rc.receive(PhaseCommand("J", "h1", 1, 2, 5.0, 0.0, 200.0), 0.0)
    states = run(rc, 0, 60)
    greens = [s for s in states if "G" in s]
    assert {"Grr", "rGr", "rrG"} <= set(greens)
    assert any(f.startswith("limit: max red") for f in rc.status(59.0).faults)


def test_spent_is_read_only_where_reads_spent_says():
    """The field asks SUMO for the time the program's phase has shown only where
    `reads_spent` says the tick reads it (sim/field.py actuate_bodies): a roadside given a
    wrong value everywhere else shows and reports what one given the true value every second
    does, through the program's greens and intergreens, plans taken over and withdrawn."""
    rng = random.Random(7)
    told, asked = RoadsideController(two_phase(), backup_s=5.0), RoadsideController(two_phase(), backup_s=5.0)
    program = [0] * 12 + [None] * 3 + [1] * 9 + [None] * 4  # the program's stages, second by second
    seq, reads = 0, 0
    for t in range(2_000, 2_600):
        at = (t - 2_000) % len(program)
        phase = program[at] if told.mode == "local" else None
        spent = float(at - program.index(program[at])) + 0.5  # into its stage
        if rng.random() < 0.04:
            seq += 1
            plan = cmd(rng.randrange(2), seq, float(t), ttl=rng.choice((3.0, 30.0)))
            assert told.receive(plan, float(t)) == asked.receive(plan, float(t))
        needed = asked.reads_spent(phase)
        reads += needed
        assert told.tick(float(t), phase, spent) == asked.tick(float(t), phase, spent if needed else 9_999.0)
        assert told.status(float(t)) == asked.status(float(t))
    assert 20 < reads < 200  # read at the stage changes only (and once at the start)

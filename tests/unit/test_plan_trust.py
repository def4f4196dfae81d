"""Signed plans and the roadside's own checks (controller/roadside_agent.py, sim/roadside.py).

One test per refusal: unsigned, forged, expired, not yet valid, replayed, non-finite; a newer
epoch restarts the sequence; and the roadside's hard limits (min and max green, intergreens,
max red) hold whatever it is sent."""

from __future__ import annotations

import json

import pytest

from controller.adapters.keys import new_keyring
from controller.core.messages import decode_plan, encode_command
from controller.core.signing import Keyring, derive_junction_key
from controller.junctions import parse_intersection
from controller.model import CyclePlan, FlashCommand, PhaseCommand
from controller.roadside_agent import PlanGuard, check_limits
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase, two_phase_raw

RING = Keyring.from_masters({"k2": b"\x02" * 32, "k1": b"\x01" * 32})  # k2 current, k1 previous


def hold(phase: int, seq: int, t: float, *, ttl: float = 20.0, hold_s: float = 5.0) -> PhaseCommand:
    return PhaseCommand("J", f"p{seq}", seq, phase, hold_s, t, t + ttl)


def signed(cmd, epoch: int = 7, ring: Keyring = RING) -> bytes:
    return encode_command(cmd, epoch, ring.sign)


def roadside(**kw) -> RoadsideController:
    return RoadsideController(two_phase(), backup_s=30.0, keys=RING.for_junction("J"), **kw)


def run(rc: RoadsideController, t0: int, t1: int) -> list[str]:
    return [rc.tick(float(t), 0 if rc.mode == "local" else None, float(t)) or "local" for t in range(t0, t1)]


def refusal(rc: RoadsideController) -> str:
    return next(f for f in rc.status(0.0).faults if f.startswith("refused"))


# -- signatures ----------------------------------------------------------------------------
def test_a_signed_plan_is_applied_and_its_identity_kept():
    rc = roadside()
    assert rc.receive_message(signed(hold(1, 3, 0.0)), 0.0) == ""
    assert (rc.epoch, rc.last_seq, rc.plan.phase) == (7, 3, 1)
    assert json.loads(signed(hold(1, 3, 0.0)))["kid"] == "k2"


def test_unsigned_plan_is_refused_with_the_reason_in_status():
    rc = roadside()
    assert rc.receive_message(encode_command(hold(1, 1, 0.0), 7), 0.0) == "unsigned plan"
    assert rc.receive(hold(1, 1, 0.0), 0.0) == "unsigned plan"  # handed over without a message
    assert rc.plan is None and refusal(rc) == "refused: unsigned plan"


def test_forged_plans_are_refused():
    rc = roadside()
    good = signed(hold(0, 1, 0.0))
    tampered = good.replace(b'"phase":0', b'"phase":1')
    assert rc.receive_message(tampered, 0.0) == "bad signature"
    other_master = Keyring.from_masters({"k2": b"\x09" * 32})
    assert rc.receive_message(signed(hold(0, 1, 0.0), ring=other_master), 0.0) == "bad signature"
    # a cabinet's own key signs for no other junction: J2's key on J's plan
    j2_ring = Keyring.from_masters({"k2": derive_junction_key(b"\x02" * 32, "J2")})
    assert rc.receive_message(signed(hold(0, 1, 0.0), ring=j2_ring), 0.0) == "bad signature"
    unknown = Keyring.from_masters({"k9": b"\x02" * 32})
    assert rc.receive_message(signed(hold(0, 1, 0.0), ring=unknown), 0.0) == "unknown key id 'k9'"
    assert rc.plan is None and rc.last_seq == -1


def test_rotation_the_previous_key_is_still_accepted():
    rc = roadside()
    previous = Keyring.from_masters({"k1": b"\x01" * 32})
    assert rc.receive_message(signed(hold(0, 1, 0.0), ring=previous), 0.0) == ""


def test_expired_plan_is_refused_and_does_not_advance_the_sequence():
    """The lockout of issue 11: seq 10^9 with an expiry already past put J13 on local plans."""
    rc = roadside()
    why = rc.receive_message(signed(hold(1, 10**9, 0.0, ttl=20.0)), 100.0)
    assert why.startswith("expired") and rc.last_seq == -1
    assert rc.receive_message(signed(hold(1, 1, 100.0)), 100.0) == ""


def test_not_yet_valid_plan_is_refused():
    rc = roadside(max_skew_s=2.0)
    eleven_days_s = 11 * 86400.0
    why = rc.receive_message(signed(hold(1, 1, eleven_days_s)), 0.0)
    assert why.startswith("not valid before") and rc.plan is None
    assert rc.receive_message(signed(hold(1, 2, 1.5)), 0.0) == ""  # within the clock skew


def test_a_field_behind_its_clock_checks_validity_on_the_clock_and_applies_at_its_own_time():
    """A live field on a loaded machine: SUMO at 100 s while the cabinet's clock reads 105 s. A
    plan the service stamped at 105 s is valid on the clock; it is applied at SUMO's 100 s."""
    rc = roadside(max_skew_s=2.0)
    assert rc.receive_message(signed(hold(1, 1, 105.0)), 100.0).startswith("not valid before")
    assert rc.receive_message(signed(hold(1, 2, 105.0)), 100.0, clock_s=105.0) == ""
    assert rc.last_rx_s == 100.0 and rc.plan is not None and rc.plan.seq == 2
    why = rc.receive_message(signed(hold(1, 3, 80.0)), 100.0, clock_s=105.0)
    assert why.startswith("expired")  # ttl 20 s: expired on the clock, though not at SUMO's time


def test_overlong_validity_window_is_refused():
    rc = roadside(max_validity_s=300.0)
    assert rc.receive_message(signed(hold(1, 1, 0.0, ttl=3600.0)), 0.0).startswith("validity 3600 s")


def test_replayed_plans_are_refused():
    rc = roadside()
    first, second = signed(hold(1, 5, 0.0)), signed(hold(0, 6, 1.0))
    assert rc.receive_message(first, 0.0) == "" and rc.receive_message(second, 1.0) == ""
    assert rc.receive_message(first, 2.0).startswith("replayed: seq 5")
    assert rc.receive_message(second, 2.0).startswith("replayed: seq 6")
    assert rc.plan.phase == 0 and refusal(rc).startswith("refused: replayed")


def test_a_newer_epoch_restarts_the_sequence_an_older_one_is_refused():
    """A controller restart: the new run's seq 1 is accepted after the old run's seq 37."""
    rc = roadside()
    assert rc.receive_message(signed(hold(1, 37, 0.0), epoch=7), 0.0) == ""
    assert rc.receive_message(signed(hold(0, 1, 1.0), epoch=8), 1.0) == ""
    assert (rc.epoch, rc.last_seq) == (8, 1)
    assert rc.receive_message(signed(hold(1, 38, 2.0), epoch=7), 2.0).startswith("replayed: epoch 7")


def test_non_finite_plans_are_refused():
    rc = roadside()
    for bad in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        body = encode_command(hold(1, 1, 0.0), 7).replace(b'"hold_s":5.0', b'"hold_s":' + bad)
        why = rc.receive_message(RING.sign(body, "J"), 0.0)
        assert why.startswith("malformed plan (not_finite"), (bad, why)
    cyc = CyclePlan("J", "c", 2, (0, 1), (20.0, 20.0), 50.0, 0.0, 0.0, 20.0)
    body = encode_command(cyc, 7).replace(b'"greens_s":[20.0,20.0]', b'"greens_s":[NaN,20.0]')
    assert rc.receive_message(RING.sign(body, "J"), 0.0).startswith("malformed plan (not_finite")
    assert rc.plan is None


def test_plan_for_another_junction_is_refused():
    rc = RoadsideController(two_phase(), backup_s=30.0)  # unsigned mode: the check still applies
    other = PhaseCommand("K", "p", 1, 0, 5.0, 0.0, 20.0)
    assert rc.receive(other, 0.0) == "plan for junction K"


def test_keys_of_another_junction_are_not_accepted_by_the_guard():
    with pytest.raises(ValueError, match="keys of junction"):
        PlanGuard(two_phase(), RING.for_junction("K"), max_skew_s=1.0, max_validity_s=60.0)


def test_bad_keyrings_are_refused_at_construction():
    with pytest.raises(ValueError, match="at least 16"):
        Keyring.from_masters({"k": b"short"})
    with pytest.raises(ValueError, match="key id"):
        Keyring.from_masters({"bad id!": bytes(32)})
    with pytest.raises(ValueError, match="no plan key"):
        Keyring.from_masters({})


def test_signed_payload_decodes_like_an_unsigned_one():
    msg = decode_plan(signed(hold(1, 3, 0.0), epoch=12))
    assert msg.epoch == 12 and msg.command == hold(1, 3, 0.0)
    assert len(new_keyring().masters["k1"]) == 32


# -- hard limits at admission ----------------------------------------------------------------
def test_limits_at_admission_min_max_green_cycle_and_hold():
    j = two_phase()
    ok = CyclePlan("J", "c", 1, (0, 1), (20.0, 20.0), 50.0, 0.0, 0.0, 20.0)
    assert check_limits(j, ok) == ""
    assert "< min 7" in check_limits(j, CyclePlan("J", "c", 1, (0, 1), (3.0, 30.0), 43.0, 0.0, 0.0, 20.0))
    assert "> max 60" in check_limits(j, CyclePlan("J", "c", 1, (0, 1), (61.0, 30.0), 101.0, 0.0, 0.0, 20.0))
    assert "cycle 200 s outside" in check_limits(j, CyclePlan("J", "c", 1, (0, 1), (20.0, 20.0), 200.0, 0.0, 0.0, 1.0))
    assert "repeats" in check_limits(j, CyclePlan("J", "c", 1, (0, 0), (20.0, 20.0), 50.0, 0.0, 0.0, 1.0))
    assert "hold 90 s" in check_limits(j, hold(0, 1, 0.0, hold_s=90.0))


def test_cycle_plan_starving_a_movement_is_refused():
    raw = two_phase_raw()
    raw["max_red_s"] = 40.0
    j = parse_intersection(raw, "t.toml")
    plan = CyclePlan("J", "c", 1, (0, 1), (50.0, 20.0), 80.0, 0.0, 0.0, 20.0)
    assert check_limits(j, plan) == "movement E_T red 60 s > max red 40 s"  # 50 s green + 2 intergreens


def test_a_signed_flash_plan_is_admitted_and_checked_like_every_plan():
    rc = roadside()
    fl = FlashCommand("J", "J-manual-alice-f1", 4, 0.0, 20.0)
    payload = signed(fl)
    assert json.loads(payload)["kind"] == "flash" and decode_plan(payload).command == fl
    assert check_limits(two_phase(), fl) == ""
    assert rc.receive_message(encode_command(fl, 7), 0.0) == "unsigned plan"
    assert rc.receive_message(payload.replace(b'"expires":20.0', b'"expires":99.0'), 0.0) == "bad signature"
    assert rc.receive_message(signed(FlashCommand("J", "f", 5, 0.0, 20.0)), 21.0).startswith("expired")
    assert rc.receive_message(payload, 0.0) == "" and rc.plan == fl
    assert rc.receive_message(payload, 1.0).startswith("replayed")


# -- hard limits while running ---------------------------------------------------------------
def test_a_hold_resent_again_and_again_ends_at_max_green():
    """Issue 11: re-sending a hold six times kept J22 on one phase for 145 s (max green 60 s)."""
    rc = roadside()
    states = []
    for t in range(150):
        if t % 5 == 0:  # a fresh, validly signed hold of phase 0 every 5 s
            assert rc.receive_message(signed(hold(0, t + 1, float(t), hold_s=60.0)), float(t)) == ""
        states.append(rc.tick(float(t), 0 if rc.mode == "local" else None, float(t)) or "local")
    runs, cur, n = [], states[0], 0
    for s in states:
        if s == cur:
            n += 1
        else:
            runs.append((cur, n))
            cur, n = s, 1
    greens_of_0 = [n for s, n in [*runs, (cur, n)] if s == "GrGr"]
    assert max(greens_of_0) <= 60 and len(greens_of_0) >= 2
    assert "yryr" in states  # it left through the intergreen
    assert any(f.startswith("limit: max green") for f in rc.status(150.0).faults)


def test_max_red_is_kept_against_a_hold():
    raw = two_phase_raw()
    raw["max_red_s"] = 40.0  # below max green: the red of E/W binds first
    rc = RoadsideController(parse_intersection(raw, "t.toml"), backup_s=100.0, keys=RING.for_junction("J"))
    rc.receive_message(signed(hold(0, 1, 0.0, ttl=200.0, hold_s=60.0)), 0.0)
    states = run(rc, 0, 60)
    first_change = states.index("yryr")
    # E/W counted green at t=0 (the first reading), red from t=1; yellow 3 s + all-red 2 s after
    green_again = states.index("rGrG")
    assert green_again == first_change + 5 and green_again - 1 == 40  # red exactly max_red_s, not more
    assert any(f.startswith("limit: max red: movement E_T") for f in rc.status(60.0).faults)


def test_intergreen_and_min_green_hold_against_an_immediate_change():
    rc = roadside()
    rc.receive_message(signed(hold(0, 1, 0.0)), 0.0)
    run(rc, 0, 2)
    rc.receive_message(signed(hold(1, 2, 2.0)), 2.0)
    states = run(rc, 2, 20)
    # phase 0 green since t=0 (min 7 s), then yellow 3 s and all-red 2 s
    assert states[:5] == ["GrGr"] * 5 and states[5:8] == ["yryr"] * 3 and states[8:10] == ["rrrr"] * 2
    assert states[10] == "rGrG"


def test_max_red_is_kept_against_plans_alternating_between_other_phases():
    """After a restart the service does not know how long a movement has been red: the roadside
    does. Here W_T is green only in phase 2 and the plan alternates phases 0 and 1."""
    from sim.restart_check import check_states

    raw = two_phase_raw()
    raw["max_red_s"] = 60.0
    raw["phases"] = [
        {"state": "GrGr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 20.0},
        {"state": "rGrr", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 10.0},
        {"state": "rrrG", "min_green_s": 7.0, "max_green_s": 60.0, "base_green_s": 10.0},
    ]
    raw["movements"][3]["conflicts"] = ["N_T", "S_T"]
    raw["movements"][1]["conflicts"] = ["N_T", "S_T"]
    j = parse_intersection(raw, "three.toml")
    rc = RoadsideController(j, backup_s=100.0)
    states = []
    for t in range(300):  # every second: change to the other of phases 0 and 1 (as soon as min green allows)
        other = 1 if rc.stage.phase == 0 else 0
        rc.receive(PhaseCommand("J", f"a{t}", t + 1, other, 7.0, float(t), t + 20.0), float(t))
        states.append(rc.tick(float(t), 0 if rc.mode == "local" else None, float(t)) or "GrGr")
    found = check_states(j, states)
    assert found["long_red"] == [] and found["conflict"] == [] and found["short_intergreen"] == []
    assert "rrrG" in states  # W_T was served, by the roadside
    assert any(f.startswith("limit: max red: movement W_T") for f in rc.faults)


def test_a_plan_lapsing_at_max_green_is_not_handed_back_in_that_green():
    rc = RoadsideController(two_phase(), backup_s=100.0, keys=RING.for_junction("J"))
    rc.receive_message(signed(hold(0, 1, 0.0, ttl=60.5, hold_s=60.0)), 0.0)
    states = [rc.tick(float(t), 0 if rc.mode == "local" else None, float(t)) for t in range(80)]
    assert states[59] == "GrGr" and states[60] == "yryr"  # the roadside ends the green at 60 s itself
    assert states[65] == "rGrG" and states[66] is None and rc.mode == "local"  # hands back in the next green

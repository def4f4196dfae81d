"""The roadside's admission of plans at the edges of each rule (controller/roadside_agent.py,
controller/core/signing.py): a value exactly at a limit, a millisecond past it, and the parts of
a payload the signature binds. test_plan_trust.py has one test per refusal; mutation testing
(docs/policies.md §3, "The gate's tests under mutation") showed which comparisons those tests could
not tell from their neighbours (> from >=, a tolerance dropped). Each test states the property.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from controller.core.messages import encode_command
from controller.core.signing import SIG_HEX_LEN, JunctionKeys, Keyring, derive_junction_key
from controller.junctions import parse_intersection
from controller.model import CyclePlan, FlashCommand, Intersection, PhaseCommand
from controller.roadside_agent import LIMIT_TOLERANCE_S, PlanGuard, check_limits, flash_exit_all_red_s
from tests.junction_fixtures import two_phase, two_phase_raw

RING = Keyring.from_masters({"k2": b"\x02" * 32, "k1": b"\x01" * 32})
TOL = LIMIT_TOLERANCE_S


def hold(phase: int, seq: int, t: float, *, ttl: float = 20.0, hold_s: float = 5.0, jid: str = "J") -> PhaseCommand:
    return PhaseCommand(jid, f"p{seq}", seq, phase, hold_s, t, t + ttl)


def guard(*, skew: float = 2.0, validity: float = 300.0, keys: JunctionKeys | None = None) -> PlanGuard:
    return PlanGuard(two_phase(), keys, max_skew_s=skew, max_validity_s=validity)


def admitted(g: PlanGuard, cmd: PhaseCommand | CyclePlan | FlashCommand, now_s: float, epoch: int = 1) -> str:
    return g.admit_unsigned(cmd, epoch, now_s).reason


# -- the validity window ---------------------------------------------------------------------------


def test_a_plan_is_valid_up_to_and_including_its_expiry():
    assert admitted(guard(), hold(1, 1, 0.0, ttl=20.0), 20.0) == ""
    assert admitted(guard(), hold(1, 1, 0.0, ttl=20.0), 20.001) == "expired 0.0 s ago"


def test_a_plan_may_start_up_to_the_clock_skew_ahead_not_more():
    assert admitted(guard(skew=2.0), hold(1, 1, 12.0), 10.0) == ""
    assert admitted(guard(skew=2.0), hold(1, 1, 12.001), 10.0) == "not valid before 2.0 s from now"


def test_a_validity_window_up_to_the_maximum_is_admitted_not_longer():
    assert admitted(guard(validity=300.0), hold(1, 1, 10.0, ttl=300.0), 10.0) == ""
    assert admitted(guard(validity=300.0), hold(1, 1, 10.0, ttl=300.001), 10.0) == "validity 300 s > 300 s"


def test_a_shifted_field_clock_moves_both_ends_of_the_window():
    """offset_s (a demo field on a shifted clock) is taken off valid_from and expires alike."""
    keys = RING.for_junction("J")
    payload = encode_command(hold(1, 1, 1000.0, ttl=20.0), 3, RING.sign)
    assert guard(keys=keys).admit(payload, 5.0).reason == "not valid before 995.0 s from now"
    adm = guard(keys=keys).admit(payload, 5.0, offset_s=1000.0)
    assert adm.reason == "" and (adm.plan.command.valid_from_s, adm.plan.command.expires_s) == (0.0, 20.0)
    assert guard(keys=keys).admit(payload, 21.0, offset_s=1000.0).reason == "expired 1.0 s ago"


# -- identity --------------------------------------------------------------------------------------


def test_the_next_seq_is_admitted_the_same_seq_is_a_replay():
    g = guard()
    assert admitted(g, hold(1, 5, 0.0), 0.0) == ""
    assert admitted(g, hold(0, 5, 0.0), 0.0) == "replayed: seq 5 <= 5 in epoch 1"
    assert admitted(g, hold(0, 6, 0.0), 0.0) == "" and (g.epoch, g.seq) == (1, 6)


def test_a_refused_plan_leaves_the_identity_where_it_was():
    """A plan refused for its limits (not only for its window) does not move (epoch, seq)."""
    g = guard()
    assert admitted(g, hold(1, 5, 0.0), 0.0) == ""
    assert admitted(g, hold(0, 9, 0.0, hold_s=61.0), 0.0).startswith("hold 61 s")
    assert admitted(g, hold(0, 9, 0.0, ttl=999.0), 0.0).startswith("validity")
    assert admitted(g, hold(0, 9, 0.0), 0.0, epoch=2) == "" and (g.epoch, g.seq) == (2, 9)


def test_a_plan_for_another_junction_is_refused_naming_it_at_most_40_characters():
    assert admitted(guard(), hold(0, 1, 0.0, jid="K" * 60), 0.0) == "plan for junction " + "K" * 40


# -- the junction's hard limits --------------------------------------------------------------------


def cyc(order: tuple[int, ...], greens: tuple[float, ...], cycle_s: float) -> CyclePlan:
    return CyclePlan("J", "c", 1, order, greens, cycle_s, 0.0, 0.0, 20.0)


def three_phase() -> Intersection:
    """two_phase with a third phase that greens N_T with E_T (conflicting movements: a model
    the parser refuses, as a cabinet may hold one the centre never checked)."""
    j = two_phase()
    return replace(j, phases=(*j.phases, replace(j.phases[0], state="GGrr")))


def test_a_phase_command_names_an_existing_phase_and_holds_0_to_max_green():
    j = two_phase()
    assert check_limits(j, hold(1, 1, 0.0)) == ""
    assert check_limits(j, hold(2, 1, 0.0)) == "phase 2 not in 0..1"
    assert check_limits(j, hold(-1, 1, 0.0)) == "phase -1 not in 0..1"
    assert check_limits(j, hold(0, 1, 0.0, hold_s=0.0)) == ""
    assert check_limits(j, hold(0, 1, 0.0, hold_s=-0.5)).startswith("hold -0.5 s outside")
    assert check_limits(j, hold(0, 1, 0.0, hold_s=60.0 + TOL)) == ""
    assert check_limits(j, hold(0, 1, 0.0, hold_s=60.0 + 2 * TOL)) == "hold 60.02 s outside 0..max green 60 s"


def test_a_phase_greening_conflicting_movements_is_refused_in_either_kind_of_plan():
    j = three_phase()
    assert check_limits(j, hold(2, 1, 0.0)) == "phase 2 greens conflicting movements N_T and E_T"
    assert check_limits(j, cyc((0, 1, 2), (20.0, 20.0, 20.0), 75.0)).startswith("phase 2 greens conflicting")


def test_cycle_greens_within_their_limits_give_or_take_the_tolerance():
    j = two_phase()
    assert check_limits(j, cyc((0, 1), (7.0 - TOL, 60.0 + TOL), 77.0)) == ""
    assert check_limits(j, cyc((0, 1), (7.0 - 2 * TOL, 30.0), 47.0)) == "phase 0 green 6.98 s < min 7 s"
    assert check_limits(j, cyc((0, 1), (30.0, 60.0 + 2 * TOL), 100.0)) == "phase 1 green 60.02 s > max 60 s"


def test_a_cycle_within_its_bounds_give_or_take_the_tolerance():
    j = two_phase()
    assert check_limits(j, cyc((0, 1), (10.0, 10.0), 30.0 - TOL)) == ""
    assert check_limits(j, cyc((0, 1), (50.0, 50.0), 120.0 + TOL)) == ""
    assert check_limits(j, cyc((0, 1), (10.0, 10.0), 30.0 - 2 * TOL)) == "cycle 29.98 s outside [30, 120] s"
    assert check_limits(j, cyc((0, 1), (50.0, 50.0), 120.0 + 2 * TOL)) == "cycle 120.02 s outside [30, 120] s"


def test_a_cycle_plan_lists_each_phase_once_with_one_green_each():
    j = two_phase()
    assert check_limits(j, cyc((0, 1), (20.0,), 50.0)) == "phase order and greens differ in length"
    assert check_limits(j, cyc((), (), 50.0)) == "phase order and greens differ in length"
    assert check_limits(j, cyc((0, 2), (20.0, 20.0), 50.0)) == "phase 2 not in 0..1"
    assert check_limits(j, cyc((-1, 0), (20.0, 20.0), 50.0)) == "phase -1 not in 0..1"


def test_a_cycle_plan_keeps_every_red_within_max_red_give_or_take_the_tolerance():
    """Max red 40 s: a 30 s green plus two 5 s intergreens keeps the other movements red 40 s."""
    raw = two_phase_raw()
    raw["max_red_s"] = 40.0
    j = parse_intersection(raw, "t.toml")
    assert check_limits(j, cyc((0, 1), (30.0 + TOL / 2, 30.0), 70.0)) == ""
    assert check_limits(j, cyc((0, 1), (30.0 + 2 * TOL, 30.0), 70.0)) == "movement E_T red 40.02 s > max red 40 s"


def test_a_cycle_plan_leaving_a_movement_unserved_is_refused():
    assert check_limits(two_phase(), cyc((0,), (20.0,), 30.0)) == "movement E_T red inf s > max red 120 s"


def test_a_flash_exit_clears_for_a_full_intergreen():
    assert flash_exit_all_red_s(two_phase()) == 5.0  # yellow 3 s + all-red 2 s


# -- signatures --------------------------------------------------------------------------------------


def test_a_junction_key_is_the_documented_derivation():
    """HMAC-SHA256(master, "tsc/v1/plan-key/" + junction) (docs/security.md): a cabinet provisioned
    by another implementation of the derivation holds the same key."""
    import hashlib
    import hmac

    want = hmac.new(b"\x02" * 32, b"tsc/v1/plan-key/J\xc3\xa9", hashlib.sha256).digest()
    assert derive_junction_key(b"\x02" * 32, "Jé") == want and len(want) == 32


def test_the_signature_binds_the_key_id_and_the_whole_body():
    """Changing any byte before the signature (the key id included) or the signature itself is
    a bad signature, never an accepted plan; the wire tail is `,"kid":"k2","sig":"<64 hex>"}`."""
    keys = RING.for_junction("J")
    signed = RING.sign(b'{"v":1,"junction":"J"}', "J")
    assert signed.endswith(b'"}') and signed[-SIG_HEX_LEN - 2 : -2].isalnum() and b',"kid":"k2","sig":"' in signed
    assert keys.verify(signed) == ""
    assert keys.verify(signed.replace(b'"k2"', b'"k1"')) == "bad signature"  # the previous key id: other key
    for i in range(len(signed) - 2):
        if signed[i : i + 1] in b'",:{}':
            continue
        flipped = signed[:i] + bytes([signed[i] ^ 0x01]) + signed[i + 1 :]
        assert keys.verify(flipped) != "", (i, flipped)


def test_a_payload_without_a_well_formed_signature_tail_is_unsigned():
    keys = RING.for_junction("J")
    signed = RING.sign(b'{"v":1,"junction":"J"}', "J")
    assert keys.verify(signed[:-1]) == "unsigned plan"  # the closing brace cut
    assert keys.verify(signed[:-2] + b"x}") == "unsigned plan"  # the closing quote replaced
    assert keys.verify(signed.replace(b',"sig":"', b',"sog":"')) == "unsigned plan"
    assert keys.verify(b'{"v":1}') == "unsigned plan"  # shorter than a signature tail
    assert keys.verify(signed[-SIG_HEX_LEN - 10 :]) == "unsigned plan"  # the tail alone, nothing signed
    no_kid = signed.replace(b',"kid":"k2"', b"")
    assert keys.verify(no_kid) == "unsigned plan (no key id before the signature)"
    non_ascii = signed[: -SIG_HEX_LEN - 2] + "é".encode() * (SIG_HEX_LEN // 2) + b'"}'
    assert keys.verify(non_ascii) == "bad signature"


def test_only_a_non_empty_json_object_can_be_signed():
    for body in (b"", b"{}", b"[1]", b'{"a":1'):
        with pytest.raises(ValueError, match="^only a non-empty JSON object can be signed$"):
            RING.sign(body, "J")
    assert RING.sign(b'{"a":1}', "J").startswith(b'{"a":1,"kid":"k2","sig":"')


def test_the_current_key_signs_and_defaults_to_the_first():
    assert Keyring.from_masters({"a": bytes(16), "b": bytes(16)}).current == "a"
    ring = Keyring.from_masters({"a": bytes(16), "b": b"\x01" * 16}, current="b")
    signed = ring.sign(b'{"v":1}', "J")
    assert (
        b'"kid":"b"' in signed and JunctionKeys("J", {"b": derive_junction_key(b"\x01" * 16, "J")}).verify(signed) == ""
    )
    with pytest.raises(ValueError, match="current key id 'c'"):
        Keyring("c", {"a": bytes(16)})


def test_a_keyring_needs_a_key():
    with pytest.raises(ValueError, match="^no plan key$"):
        Keyring.from_masters({})


def test_key_ids_and_master_lengths_at_their_limits():
    Keyring.from_masters({"A" * 32: bytes(16)})  # 32 characters, 16 bytes: accepted
    with pytest.raises(ValueError, match="key id"):
        Keyring.from_masters({"A" * 33: bytes(16)})
    with pytest.raises(ValueError, match="15 bytes, at least 16"):
        Keyring.from_masters({"k": bytes(15)})


# -- a controller run's trust: keys, audit trail, epoch (controller/adapters/trust.py) --------------


def trust_config(tmp_path, *, audit: str = "audit.sqlite", keys_file: str = "", required: bool = False):  # type: ignore[no-untyped-def]
    from controller.config import AuditConfig, Config, SecurityConfig

    sec = SecurityConfig(plan_keys_file=keys_file, plan_keys_env="", require_signed=required)
    return Config(security=sec, audit=AuditConfig(path=audit), source=str(tmp_path / "config.toml"))


def test_the_audit_trail_lies_relative_to_the_config_file(tmp_path):
    from dataclasses import replace as with_

    from controller.adapters.trust import audit_path

    cfg = trust_config(tmp_path, audit="out/a.sqlite")
    assert audit_path(cfg) == tmp_path.resolve() / "out" / "a.sqlite"
    assert audit_path(trust_config(tmp_path, audit="/var/a.sqlite")) == Path("/var/a.sqlite")
    assert audit_path(with_(cfg, source="<defaults>")) == Path("out/a.sqlite")  # built in: from the working folder
    assert audit_path(trust_config(tmp_path, audit="")) is None


def test_each_run_opens_a_newer_epoch_in_its_audit_trail(tmp_path):
    """A restart's plans must outrank the last run's at every roadside: its epoch is above every
    recorded one, even when the wall clock went back."""
    from controller.adapters.audit import boot_epoch
    from controller.adapters.trust import open_trust

    cfg = trust_config(tmp_path)
    first = open_trust(cfg, 5000.7)
    assert first.epoch == boot_epoch(5000.7) == 5000 and first.signer is None and first.audit is not None
    first.close()
    second = open_trust(cfg, 10.0)  # the clock went back
    assert second.epoch == 5001
    second.close()
    assert (tmp_path / "audit.sqlite").is_file()


def test_without_a_trail_the_epoch_is_the_boot_time(tmp_path):
    from controller.adapters.trust import open_trust

    t = open_trust(trust_config(tmp_path, audit=""), 1234.9)
    assert (t.epoch, t.audit) == (1234, None)
    t.close()  # nothing to close


def test_a_run_signs_with_its_keys_and_refuses_to_start_without_them(tmp_path):
    """Keys first: a required key that is missing stops the start before the trail is written."""
    from controller.adapters.trust import open_trust
    from controller.errors import ConfigError

    with pytest.raises(ConfigError, match="no plan key"):
        open_trust(trust_config(tmp_path, required=True), 100.0)
    assert not (tmp_path / "audit.sqlite").exists()
    (tmp_path / "keys").write_text("k7 " + "07" * 32 + "\n")
    t = open_trust(trust_config(tmp_path, keys_file=str(tmp_path / "keys"), required=True), 100.0)
    ring = Keyring.from_masters({"k7": b"\x07" * 32})
    assert t.signer is not None and ring.for_junction("J").verify(t.signer(b'{"v":1}', "J")) == ""
    t.close()

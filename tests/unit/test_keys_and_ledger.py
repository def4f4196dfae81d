"""Plan keys from a file or the environment (controller/adapters/keys.py), and the service's
ledger of plans pushed and acknowledged (controller/ledger.py)."""

from __future__ import annotations

import dataclasses

import pytest

from controller.adapters.audit import AuditStore
from controller.adapters.keys import load_keyring, parse_key_env
from controller.adapters.keys import main as keys_main
from controller.config import Config, SecurityConfig
from controller.core.feed import RoadsideReport
from controller.errors import ConfigError
from controller.ledger import PlanLedger, plan_record
from controller.model import CyclePlan, FlashCommand, PhaseCommand, SignalStatus

A, B = "aa" * 32, "bb" * 32


def cfg_with(tmp_path, **security) -> Config:
    src = tmp_path / "config.toml"
    src.write_text("")
    return dataclasses.replace(Config(), security=SecurityConfig(**security), source=str(src))


def test_key_file_first_key_signs_all_verify(tmp_path, monkeypatch):
    (tmp_path / "keys").write_text(f"# plan keys\n2026b {B}\n2026a {A}  # previous\n")
    monkeypatch.delenv("TSC_PLAN_KEYS", raising=False)
    ring = load_keyring(cfg_with(tmp_path, plan_keys_file="keys"))  # relative to the config file
    assert ring.current == "2026b" and set(ring.masters) == {"2026a", "2026b"}


def test_key_env_is_read_when_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEYS", f"k2:{B},k1:{A}")
    ring = load_keyring(cfg_with(tmp_path, plan_keys_env="MY_KEYS"))
    assert ring.current == "k2" and ring.masters["k1"] == bytes.fromhex(A)


@pytest.mark.parametrize(
    "text, match",
    [
        (f"k1 {A} extra\n", "line 1"),
        ("k1 nothex\n", "not hexadecimal"),
        (f"k1 {A}\nk1 {B}\n", "twice"),
        ("k1 abcd\n", "at least 16"),
        ("\n# nothing\n", "no plan key"),
    ],
)
def test_bad_key_files_name_the_file_and_the_problem(tmp_path, text, match):
    (tmp_path / "keys").write_text(text)
    with pytest.raises(ConfigError, match=match) as exc:
        load_keyring(cfg_with(tmp_path, plan_keys_file="keys"))
    assert "keys" in str(exc.value)


def test_missing_keys_are_an_error_unless_not_required(tmp_path, monkeypatch):
    monkeypatch.delenv("TSC_PLAN_KEYS", raising=False)
    with pytest.raises(ConfigError, match="security.plan_keys_file"):
        load_keyring(cfg_with(tmp_path))
    assert load_keyring(cfg_with(tmp_path, require_signed=False)) is None
    with pytest.raises(ConfigError, match="plan_keys_file"):
        load_keyring(cfg_with(tmp_path, plan_keys_file="absent"))
    with pytest.raises(ConfigError, match="key_id:hex"):
        parse_key_env("no-colon", "X")


def test_derive_prints_the_cabinet_keys_only(tmp_path, monkeypatch, capsys):
    conf = tmp_path / "config.toml"
    conf.write_text('[security]\nplan_keys_file = "keys"\n')
    (tmp_path / "keys").write_text(f"k2 {B}\nk1 {A}\n")
    assert keys_main(["derive", "--config", str(conf), "--junction", "J12"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "k2" and lines[2] == "k1" and A not in lines and B not in lines


def _report(seq: int, epoch: int, mode: str = "adaptive", faults: tuple[str, ...] = ()) -> RoadsideReport:
    return RoadsideReport(SignalStatus("J", 0.0, 0, False, 1.0, "p", seq, mode, faults), epoch)


def _cmd(seq: int) -> PhaseCommand:
    return PhaseCommand("J", f"p{seq}", seq, 0, 5.0, 0.0, 20.0)


def test_ledger_acknowledgement_needs_this_runs_epoch():
    led = PlanLedger(epoch=9, actor="controller/c", ack_timeout_s=2.0)
    led.pushed(_cmd(1), 10.0)
    led.reported(_report(seq=37, epoch=8), 10.5)  # the previous run's seq 37: not an ack of seq 1
    assert led.unacknowledged(12.0) == ["J"]
    led.reported(_report(seq=1, epoch=9), 12.5)
    assert led.unacknowledged(13.0) == [] and led.acked == 1
    led.pushed(_cmd(2), 13.0)
    assert led.unacknowledged(14.9) == []  # not yet ack_timeout_s old


def test_ledger_writes_plans_acks_refusals_and_modes_to_the_audit_store():
    store = AuditStore(":memory:")
    led = PlanLedger(epoch=9, actor="controller/c", ack_timeout_s=2.0, audit=store)
    with led.tick():
        led.pushed(_cmd(1), 10.0)
        led.mode_changed("J", "fallback", "policy worse than the fixed plan", 10.0)
    led.reported(_report(seq=0, epoch=0, mode="local", faults=("refused: bad signature",)), 10.5)
    led.reported(_report(seq=0, epoch=0, mode="local", faults=("refused: bad signature",)), 11.0)  # no change
    led.reported(_report(seq=1, epoch=9), 11.5)
    kinds = [(r.kind, r.actor) for r in store.query()]
    assert kinds == [
        ("plan", "controller/c"),
        ("mode", "controller/c"),
        ("refusal", "roadside/J"),
        ("mode", "roadside/J"),
        ("ack", "roadside/J"),
        ("mode", "roadside/J"),
    ]
    assert store.query(kind="plan")[0].payload["epoch"] == 9


def test_the_audit_record_of_each_plan_kind():
    common = {"epoch": 3, "seq": 5, "plan_id": "p", "valid_from": 1.0, "expires": 21.0}
    assert plan_record(FlashCommand("J", "p", 5, 1.0, 21.0), 3) == {**common, "kind": "flash"}
    assert plan_record(PhaseCommand("J", "p", 5, 1, 4.0, 1.0, 21.0), 3) == {
        **common,
        "kind": "next_phase",
        "phase": 1,
        "hold_s": 4.0,
    }
    assert plan_record(CyclePlan("J", "p", 5, (0, 1), (20.0, 20.0), 50.0, 0.0, 1.0, 21.0), 3)["kind"] == "cycle"

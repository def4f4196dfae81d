"""The in-process loop (sim/simulate.py, InProcessLoop) hands the field the command the service
published, not its payload decoded again: that is the same command, field by field and type by
type, for every kind of command and any finite values of their types."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.messages import decode_command, encode_command
from controller.model import CyclePlan, FlashCommand, PhaseCommand

T = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)
S = st.floats(min_value=0.0, max_value=600.0, allow_nan=False, allow_infinity=False)
ID = st.text(alphabet="abcJ0123456789_-:.", min_size=1, max_size=20)
SEQ = st.integers(0, 2**40)


@st.composite
def commands(draw: st.DrawFn) -> CyclePlan | PhaseCommand | FlashCommand:
    jid, pid, seq, t0 = draw(ID), draw(ID), draw(SEQ), draw(T)
    t1 = t0 + draw(S)
    kind = draw(st.sampled_from(["phase", "cycle", "flash"]))
    if kind == "phase":
        return PhaseCommand(jid, pid, seq, draw(st.integers(0, 7)), draw(S), t0, t1)
    if kind == "flash":
        return FlashCommand(jid, pid, seq, t0, t1)
    n = draw(st.integers(1, 6))
    order = tuple(draw(st.permutations(range(n))))
    greens = tuple(draw(st.lists(S, min_size=n, max_size=n)))
    return CyclePlan(jid, pid, seq, order, greens, draw(S), draw(S), t0, t1)


@settings(max_examples=300, deadline=None)
@given(cmd=commands(), epoch=st.integers(0, 2**31))
def test_a_command_decoded_from_its_payload_is_the_command(cmd, epoch: int) -> None:
    back = decode_command(encode_command(cmd, epoch))
    assert back == cmd
    assert repr(back) == repr(cmd)  # the same types too (int and float, tuple and list)


def test_in_process_plans_are_handed_over_without_a_message(monkeypatch) -> None:
    """ControllerService(hand_over=...): the commands a tick sends, in order, and no message
    encoded; with an archive the messages are built for it and the commands still handed over.
    With publish, every command goes out with its message."""
    import controller.service as service_mod
    from controller.core.step import TickResult
    from controller.service import ControllerService
    from tests.junction_fixtures import two_phase
    from tests.metrics_fixtures import CFG

    cmds = [PhaseCommand("J", f"p{k}", k, k % 2, 1.0, 10.0, 30.0) for k in range(1, 4)]
    encoded: list[object] = []
    monkeypatch.setattr(service_mod, "encode_command", lambda c, *a: encoded.append(c) or b"{}")

    class Archive:
        def __init__(self) -> None:
            self.plans: list[object] = []

        def plan(self, cmd, payload, sent_s) -> None:
            self.plans.append((cmd, payload))

    def run(archive: Archive | None, in_process: bool) -> tuple[list, list]:
        published, handed = [], []
        way = {"hand_over": handed.append} if in_process else {"publish": lambda c, p: published.append(c)}
        svc = ControllerService({"J": two_phase()}, CFG, "fixed", archive=archive, **way)  # type: ignore[arg-type]
        monkeypatch.setattr(svc.core, "step", lambda state, *a: (state, TickResult(commands=tuple(cmds))))
        svc.tick(10.0)
        return published, handed

    assert run(None, in_process=True) == ([], cmds) and encoded == []
    archive = Archive()
    assert run(archive, in_process=True) == ([], cmds) and encoded == cmds
    assert archive.plans == [(c, b"{}") for c in cmds]
    encoded.clear()
    assert run(None, in_process=False) == (cmds, []) and encoded == cmds


def test_the_service_takes_one_way_out() -> None:
    """publish or hand_over, exactly one: with neither a plan would go nowhere, with both twice."""
    import pytest

    from controller.service import ControllerService
    from tests.junction_fixtures import two_phase
    from tests.metrics_fixtures import CFG

    with pytest.raises(ValueError, match="publish .* or hand_over"):
        ControllerService({"J": two_phase()}, CFG, "fixed")
    with pytest.raises(ValueError, match="publish .* or hand_over"):
        ControllerService({"J": two_phase()}, CFG, "fixed", publish=lambda c, p: None, hand_over=lambda c: None)


def test_the_in_process_loop_hands_each_command_to_the_field_at_the_loop_s_time(monkeypatch) -> None:
    """InProcessLoop: every command the service sends reaches the field's roadside controllers with the loop's time
    (field.receive); with plans_to_field False (sim/replay_recorded.py sends its own) none does. Without it a run's
    plans could be dropped and only a whole-scenario run would notice (R, session 58)."""
    from controller.core.step import TickResult
    from sim.simulate import InProcessLoop
    from tests.junction_fixtures import two_phase
    from tests.metrics_fixtures import CFG

    cmds = [PhaseCommand("J", f"p{k}", k, k % 2, 1.0, 10.0, 30.0) for k in range(1, 4)]

    class Field:
        def __init__(self) -> None:
            self.got: list[tuple[object, float]] = []

        def program_states(self) -> dict[str, tuple[str, ...]]:
            return {}

        def receive(self, cmd, now_s: float) -> None:
            self.got.append((cmd, now_s))

    for to_field in (True, False):
        field = Field()
        loop = InProcessLoop(field, {"J": two_phase()}, CFG, "fixed", 0.0, plans_to_field=to_field)  # type: ignore[arg-type]
        monkeypatch.setattr(loop.service.core, "step", lambda state, *a: (state, TickResult(commands=tuple(cmds))))
        loop.now_s = 10.0
        loop.service.tick(10.0)
        assert field.got == ([(c, 10.0) for c in cmds] if to_field else [])

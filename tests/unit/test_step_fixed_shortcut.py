"""step.Core under the fixed policy: the per-junction shortcut (no command in force, not withdrawn:
nothing to gate or send) reaches the same states and results as the full decision path."""

from __future__ import annotations

from dataclasses import replace

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.policies.fixed import FixedPolicy
from controller.core.policies.webster import WebsterPolicy
from controller.core.step import Core, CoreState, TickResult
from controller.model import DetectorReading, PhaseCommand, SignalStatus, Snapshot
from tests.junction_fixtures import timed_junction, two_phase

FIELDS = ("command", "sent_s", "seq", "plans", "stale", "policy_state", "status", "red_since_s")


def _snapshot(jid: str, detectors: list[str], t: float) -> Snapshot:
    on = int(t) % 3 == 0
    readings = tuple(
        DetectorReading(d, (("car", 1),) if on else (), 0.2 if on else 0.0, 8.0 if on else -1.0) for d in detectors
    )
    return Snapshot(jid, t, 1.0, readings)


def _run(silent: bool) -> list[tuple[CoreState, TickResult]]:
    """60 s of ticks: a feed gap (stale, then fresh again) and an operator's command put in force
    and taken back, as override.apply does; `silent` False forces the full path."""
    cfg = Config()
    j = two_phase()
    core = Core({j.id: Layout.build(j, cfg)}, make_policy("fixed", cfg), cfg)
    assert core.silent
    core.silent = silent
    dets = [d.id for d in j.detectors]
    state, out = core.initial_state(0.0), []
    for t in range(1, 61):
        snaps = [] if 12 <= t < 25 else [_snapshot(j.id, dets, float(t))]  # a gap beyond feed_stale_s
        status = SignalStatus(j.id, float(t), (t // 20) % 2, False, float(t % 20), "", 0, "local")
        state, result = core.step(state, snaps, [status], float(t))
        js = state.junctions[j.id]
        if t == 30:  # an override's command in force: refreshed by the core like the policy's
            cmd = PhaseCommand(j.id, "op-1", js.seq + 1, 0, 10.0, float(t), float(t) + 20.0)
            state = replace(state, junctions={j.id: replace(js, command=cmd, sent_s=float(t), seq=cmd.seq)})
        if t == 45:  # the override released
            state = replace(state, junctions={j.id: replace(js, command=None)})
        if t == 50:  # do-no-harm's fixed mode, as a policy swapped out may leave it: reported each tick
            state = replace(state, junctions={j.id: replace(js, command=None, harm=replace(js.harm, mode="fixed"))})
        out.append((state, result))
    return out


def test_the_fixed_policy_shortcut_gives_the_full_paths_states_and_results() -> None:
    fast, full = _run(True), _run(False)
    stale_ticks = refreshes = fixed_ticks = 0
    for (s_fast, r_fast), (s_full, r_full) in zip(fast, full, strict=True):
        for jid, js in s_full.junctions.items():
            other = s_fast.junctions[jid]
            assert [getattr(other, f) for f in FIELDS] == [getattr(js, f) for f in FIELDS]
            assert other.harm is js.harm or other.harm.mode == js.harm.mode
        assert r_fast == r_full
        stale_ticks += bool(r_full.stale)
        refreshes += len(r_full.commands)
        fixed_ticks += bool(r_full.fixed)
    assert stale_ticks > 0 and refreshes > 0 and fixed_ticks > 0  # every exception to the shortcut was exercised


def test_the_core_reads_the_policys_declared_capability_not_its_name():
    """Core.silent and Core.guarded follow Policy.runs_own_program: a policy running the city's
    program under another name is silent and unguarded; one merely named "fixed" is neither."""

    class CityProgram(FixedPolicy):
        name = "city_program"

    class NamedFixed(WebsterPolicy):
        name = "fixed"

    cfg = Config()
    j = two_phase()
    layouts = {j.id: Layout.build(j, cfg)}
    own = Core(layouts, CityProgram(), cfg)
    assert own.silent and not own.guarded
    named = Core(layouts, NamedFixed(cfg.webster), cfg)
    assert not named.silent and named.guarded


def test_quiet_junctions_are_passed_in_one_pass_without_the_per_junction_path(monkeypatch) -> None:
    """Under the fixed policy a junction with a fresh feed, no command in force and not in fixed mode
    has its state from Core._quiet (one pass over the network) and never enters Core._junction; the
    exceptions (a stale feed, an override's command, fixed mode) still do, with the same results."""
    seen: list[float] = []
    through = Core._junction

    def counted(self, jid, lay, updated, network, now_s, *rest, **kw):
        seen.append(now_s)
        return through(self, jid, lay, updated, network, now_s, *rest, **kw)

    monkeypatch.setattr(Core, "_junction", counted)
    fast = _run(True)
    assert not [t for t in seen if t < 12]  # fresh, nothing in force: the quiet pass alone
    ran = {int(t) for t in seen}
    assert {24, 31, 44, 51, 60} <= ran  # stale, the command in force, fixed mode: the full path
    assert not ran & {26, 27, 28, 29, 30, 46, 47, 48, 49, 50}  # fresh again, nothing in force: quiet
    full = _run(False)
    assert [s.junctions for s, _ in fast] and all(
        [getattr(a.junctions[j], f) for j in a.junctions for f in FIELDS]
        == [getattr(b.junctions[j], f) for j in b.junctions for f in FIELDS]
        and ra == rb
        for (a, ra), (b, rb) in zip(fast, full, strict=True)
    )


def test_a_short_link_pair_under_the_fixed_policy_keeps_both_lights() -> None:
    """[detectors] pair_one_program: a pair's leader decides its follower too (Core._pair), so
    neither light takes the quiet pass; with it, the follower was left out of the tick's states
    (a KeyError) and the tick failed. Both lights come out as without the quiet pass."""
    cfg = Config()
    a, b = timed_junction("A", paired=("B",)), timed_junction("B", paired=("A",))
    runs = []
    for quiet in (True, False):
        core = Core({x.id: Layout.build(x, cfg) for x in (a, b)}, make_policy("fixed", cfg), cfg)
        assert core.pairs and core.silent
        if not quiet:
            core._quiet = lambda updated, now_s: {}  # type: ignore[method-assign]
        state, out = core.initial_state(0.0), []
        for t in range(1, 9):
            if t == 4:  # the leader in do-no-harm's fixed mode: the pair runs its programs as one (_pair)
                js = state.junctions["A"]
                hs = replace(js.harm, mode="fixed", since_s=4.0, hold_s=100.0)
                state = replace(state, junctions={**state.junctions, "A": replace(js, harm=hs)})
            snaps = [Snapshot(x, float(t), 1.0, ()) for x in ("A", "B")]
            statuses = [SignalStatus(x, float(t), 0, False, 10.0 + t, "", 0, "local") for x in ("A", "B")]
            state, result = core.step(state, snaps, statuses, float(t))
            out.append(([getattr(state.junctions[j], f) for j in ("A", "B") for f in FIELDS], result))
        runs.append(out)
    assert runs[0] == runs[1]

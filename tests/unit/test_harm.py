"""Do no harm: the switch to the fixed plan and back, in closed loop on a hand-built junction.

The city is a point queue per movement of the two-phase junction (tests/junction_fixtures.py):
vehicles arrive at a steady rate (one PCU each), cross the advance loop and join the queue; one
leaves every 2 s of green (1800 PCU/h) after 2 s of start-up; the loops report counts, and
standing vehicles as full occupancy. The roadside controller is the real one (sim/roadside.py);
its local program is the base program, re-anchored at a hand-back to the green showing, as the
field does with SUMO's program.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core import estimation, harm, netshadow, shadow
from controller.core.estimation import Estimate, Layout
from controller.core.harm import HarmParams
from controller.core.policies import Policy, make_policy
from controller.core.step import Core
from controller.errors import ConfigError, JunctionError
from controller.junctions import parse_intersection
from controller.model import DetectorReading, PhaseWish, SignalStatus, Snapshot
from sim.roadside import RoadsideController
from tests.junction_fixtures import two_phase, two_phase_raw

# one timed return after a first loss (the default, 0, waits for a demand shift from the first loss:
# test_by_default_a_loss_is_held_until_the_demand_shifts)
# max_losses = 0 (no limit) here: the tests of returns see every return (test_a_junction_that_lost_twice_stays)
# evidence_from_first_command off here: these tests time the verdict from the start (WrongPhase's wait
# counted as under the policy); the key's own test is test_a_junction_whose_first_command_comes_late_...
FAST = HarmParams(
    window_s=300.0,
    min_policy_s=300.0,
    hold_s=300.0,
    hold_max_s=1200.0,
    timed_returns=1,
    max_losses=0,
    evidence_from_first_command=False,
)
ON_FIRST = replace(FAST, evidence_from_first_command=True)
NS_HEAVY = {"N_T": 0.1, "S_T": 0.1, "E_T": 0.05, "W_T": 0.05}  # PCU/s; the base program serves 0.21 N/S
EW_HEAVY = {"N_T": 0.05, "S_T": 0.05, "E_T": 0.17, "W_T": 0.17}


class WrongPhase(Policy):
    """After `warmup_s` of sending nothing (the base program runs, the estimator learns the
    demand), serves E/W whatever the queues say: only the safety gate's max green and max red
    get N/S a minimum green now and then."""

    name = "wrong_phase"

    def __init__(self, warmup_s: float = 200.0) -> None:
        self.warmup_s = warmup_s

    def init(self, layout, now_s):
        return None

    def decide(self, state, layout, est, signal, now_s):
        return state, (PhaseWish(1, 5.0) if now_s > self.warmup_s else None)


class Field:
    """One junction of point queues, its loops and its roadside controller (see module doc)."""

    STORAGE_PCU = 10

    def __init__(self, junction, rates_pcu_s: dict[str, float]) -> None:
        self.j = junction
        self.ids = [m.id for m in junction.movements]
        self.rates = np.array([rates_pcu_s[i] for i in self.ids])
        self.rc = RoadsideController(junction, backup_s=30.0)
        self.program = shadow.Program.build(Layout.build(junction), 0.4, 0.0, 0.0)
        self.anchor_s = 0.0  # the local program's position is (t - anchor) mod cycle
        n = len(self.ids)
        self.queue, self.acc, self.dep, self.green_s = np.zeros(n, int), np.zeros(n), np.zeros(n), np.zeros(n)
        self.signal_phase: int | None = 0  # green phase shown for the coming second

    def _local(self, t: float) -> tuple[int | None, float]:
        """The local program's green phase at t and the time spent in it; like SUMO's, at t
        it shows the position it had at t - 1."""
        pos = (t - 1.0 - self.anchor_s) % self.program.cycle_s
        k = next(i for i, e in enumerate(self.program.ends_s) if pos < e)
        start = self.program.ends_s[k - 1] if k else 0.0
        ph = self.program.phases[k]
        return (ph if ph >= 0 else None), pos - start

    def traffic(self, t: float) -> Snapshot:
        """The second ending at t under the signal set at t - 1; the detector message for it."""
        served = set(self.j.served_movements(self.signal_phase)) if self.signal_phase is not None else set()
        green = np.array([i in served for i in self.ids])
        self.green_s = np.where(green, self.green_s + 1, 0)
        self.acc += self.rates
        arrived = self.acc >= 1.0
        self.acc[arrived] -= 1.0
        blocked = self.queue >= self.STORAGE_PCU
        self.queue += arrived
        self.dep = np.where(green & (self.green_s > 2) & (self.queue > 0), self.dep + 0.5, 0.0)
        left = self.dep >= 1.0
        self.dep[left] -= 1.0
        self.queue -= left
        readings = []
        for k, ap in enumerate(i[0] for i in self.ids):
            if blocked[k]:
                adv = DetectorReading(f"{ap}_adv", (), 1.0, 0.0)
            else:
                adv = DetectorReading(
                    f"{ap}_adv",
                    (("car", 1),) if arrived[k] else (),
                    0.1 if arrived[k] else 0.0,
                    10.0 if arrived[k] else -1.0,
                )
            if left[k]:
                stop = DetectorReading(f"{ap}_stop", (("car", 1),), 0.3, 5.0)
            elif self.queue[k] > 0:
                stop = DetectorReading(f"{ap}_stop", (), 1.0, 0.0)
            else:
                stop = DetectorReading(f"{ap}_stop", (), 0.0, -1.0)
            readings += [adv, stop]
        return Snapshot(self.j.id, t, 1.0, tuple(readings))

    def actuate(self, t: float) -> None:
        was_adaptive = self.rc.mode == "adaptive"
        local_phase, spent = self._local(t)
        if self.rc.mode == "local":
            state = self.rc.tick(t, local_phase, spent)
        else:
            state = self.rc.tick(t, None, 0.0)
        if state is None:
            if was_adaptive:  # hand-back: the program resumes at the green showing
                ph = self.rc.green_phase()
                k = self.program.phases.index(ph)
                self.anchor_s = t - 1.0 - (self.program.ends_s[k - 1] if k else 0.0)
                local_phase, _ = self._local(t)
            self.signal_phase = local_phase
        else:
            self.signal_phase = self.rc.green_phase()

    def answer(self, commands, t: float) -> SignalStatus:
        """The roadside takes the tick's commands, the field moves one second (actuate), and the status the
        core reads next tick."""
        for cmd in commands:
            self.rc.receive(cmd, t)
        self.actuate(t)
        return self.rc.status(t)


def closed_loop(policy, rates, seconds: int, params: HarmParams = FAST, *, rates_after=None, change_at=None):
    """Run `seconds` of the loop; returns the per-second log and the core's last state."""
    j = two_phase()
    # a 60 s arrival-flow average: the measured demand is settled before the policy acts
    cfg = replace(Config(), harm=params, estimation=replace(Config().estimation, flow_window_s=60.0))
    core = Core({"J": Layout.build(j, cfg)}, policy, cfg)
    field = Field(j, rates)
    state = core.initial_state(0.0)
    log = []
    status = field.rc.status(0.0)
    for t in range(1, seconds + 1):
        if change_at is not None and t == change_at:
            field.rates = np.array([rates_after[i] for i in field.ids])
        snap = field.traffic(float(t))
        state, result = core.step(state, [snap], [status], float(t))
        status = field.answer(result.commands, float(t))
        log.append((t, result, state.junctions["J"].harm, field.rc.mode))
    return log, state, core


def changes(log):
    return [(t, c.mode, c.reason) for t, r, _, _ in log for c in r.mode_changes]


def test_a_policy_worse_than_the_fixed_plan_goes_back_to_it_after_the_window():
    log, state, _ = closed_loop(WrongPhase(), NS_HEAVY, 590)
    ch = changes(log)
    assert ch and ch[0][1] == "fixed" and "worse than the fixed plan" in ch[0][2]
    t_switch = ch[0][0]
    assert FAST.min_policy_s <= t_switch <= FAST.min_policy_s + 60
    # the withdrawal: the command in force re-sent once, expiring at the next tick
    r = log[t_switch - 1][1]
    assert len(r.commands) == 1 and r.commands[0].expires_s == t_switch + 1.0 and r.fixed == ("J",)
    # then nothing is sent, and the roadside runs its own program again
    held = log[t_switch : t_switch + int(FAST.hold_s) - 1]
    assert all(not r.commands for t, r, _, _ in held)
    modes = [m for _, _, _, m in held]
    assert modes[-1] == "local" and modes.index("local") < 80
    assert state.junctions["J"].harm.mode == "fixed" and state.junctions["J"].harm.switches == 1


def test_a_junction_whose_first_command_comes_late_is_judged_only_from_it():
    """[harm] evidence_from_first_command: WrongPhase sends nothing for 400 s (the city's program
    runs), then loses. Off, that wait counts as under the policy: judged as soon as the loss adds
    up, before min_policy_s after the first command, and an uncommanded state would not be. On,
    the evidence and min_policy_s start at the first command: nothing charged before it, no
    verdict before min_policy_s after it, and a verdict still comes."""
    off, _, _ = closed_loop(WrongPhase(warmup_s=400.0), NS_HEAVY, 900)
    t_off = changes(off)[0][0]
    assert t_off < 400 + FAST.min_policy_s
    losing = replace(off[t_off - 2][2], excess_s=10.0)  # the tick before the verdict, the sum at its budget
    assert harm.decide(losing, float(t_off), FAST)[0].mode == "fixed"
    assert harm.decide(replace(losing, commanded=False), float(t_off), FAST) == (replace(losing, commanded=False), None)
    log, _, _ = closed_loop(WrongPhase(warmup_s=400.0), NS_HEAVY, 900, ON_FIRST)
    first = next(t for t, r, _, _ in log if r.commands)
    assert 400 < first <= 402
    before = [hs for t, _, hs, _ in log if t < first]
    assert all(not hs.commanded and hs.excess_s == 0.0 and hs.since_s == 0.0 for hs in before)
    hs = log[first - 1][2]
    assert hs.commanded and hs.since_s == first and hs.excess_s == 0.0 and hs.mode == "policy"
    ch = changes(log)
    assert ch and ch[0][1] == "fixed" and first + FAST.min_policy_s <= ch[0][0] <= first + FAST.min_policy_s + 120


def test_a_junction_not_yet_commanded_is_not_judged_for_the_network():
    """network_verdict passes over a junction the policy has not commanded yet."""
    j = two_phase()
    program = shadow.Program.build(Layout.build(j), 0.4, 0.0, 0.0)
    lost = replace(harm.initial(program, len(j.movements), 0.0), mode="fixed")
    waiting = harm.initial(program, len(j.movements), 0.0, commanded=False)
    assert harm.network_verdict({"A": lost, "B": waiting}, 1000.0, ON_FIRST) == {}
    assert set(harm.network_verdict({"A": lost, "B": harm.first_command(waiting, 0.0)}, 1000.0, ON_FIRST)) == {"B"}


def test_a_policy_better_than_the_fixed_plan_stays():
    log, state, core = closed_loop(make_policy("max_pressure", Config()), EW_HEAVY, 1200)
    assert changes(log) == []
    rep = core.report(state)["J"]
    assert rep.mode == "policy" and rep.delay_gain > 0.2 and rep.switches == 0


def test_it_comes_back_after_the_hold_and_a_relapse_doubles_the_hold():
    # two timed returns allowed (the default, 1, keeps a repeat offender fixed: next test)
    log, _state, _ = closed_loop(WrongPhase(), NS_HEAVY, 2000, replace(FAST, timed_returns=2))
    ch = changes(log)
    assert [m for _, m, _ in ch[:4]] == ["fixed", "policy", "fixed", "policy"]
    (t1, _, _), (t2, _, why2), (t3, _, _), (t4, _, _) = ch[:4]
    assert t2 - t1 == pytest.approx(FAST.hold_s, abs=1) and "hold" in why2
    assert t3 - t2 >= FAST.min_policy_s  # judged again on fresh evidence only
    assert t4 - t3 == pytest.approx(2 * FAST.hold_s, abs=1)
    # while back under the policy its commands go out again
    assert any(r.commands for t, r, _, _ in log if t2 < t < t3)


def test_a_repeat_offender_stays_on_the_fixed_plan():
    """Lost, came back once on the timer, lost again: no more timed returns (timed_returns = 1)."""
    log, state, _ = closed_loop(WrongPhase(), NS_HEAVY, 2600)
    ch = changes(log)
    assert [m for _, m, _ in ch] == ["fixed", "policy", "fixed"]
    assert "hold" in ch[1][2]
    hs = state.junctions["J"].harm
    assert hs.mode == "fixed" and hs.relapses == 2 and hs.demand_ref_pcu_h > 0
    assert all(not r.commands for t, r, _, _ in log if t > ch[2][0])


def test_a_repeat_offender_comes_back_when_the_demand_turns():
    """The same repeat offender, but the demand falls by half at 1,500 s: it is tried again, the
    reason names the shift, measured against the demand when its hold ended."""
    lighter = {k: 0.5 * v for k, v in NS_HEAVY.items()}
    log, _, _ = closed_loop(WrongPhase(), NS_HEAVY, 2600, rates_after=lighter, change_at=1500)
    ch = changes(log)
    assert [m for _, m, _ in ch[:4]] == ["fixed", "policy", "fixed", "policy"]
    assert ch[2][0] < 1500 < ch[3][0] and "demand changed by -" in ch[3][2]


def test_a_junction_that_lost_twice_stays_on_the_fixed_plan_when_the_demand_turns():
    """max_losses = 2: the repeat offender above, the same demand shift at 1,500 s, stays on the
    city's plan: lost, back on the timer, lost again, and no return after that. The shipped
    default is 0 (no limit: a junction comes back when the evidence turns, docs/harm.md)."""
    assert HarmParams().max_losses == 0 and load_config("config.toml").harm.max_losses == 0
    lighter = {k: 0.5 * v for k, v in NS_HEAVY.items()}
    params = replace(FAST, max_losses=2)
    log, state, _ = closed_loop(WrongPhase(), NS_HEAVY, 2600, params, rates_after=lighter, change_at=1500)
    assert [m for _, m, _ in changes(log)] == ["fixed", "policy", "fixed"]
    hs = state.junctions["J"].harm
    assert hs.mode == "fixed" and hs.relapses == 2
    # two losses are not enough for max_losses = 3: it comes back on the shift, as without a limit
    params = replace(FAST, max_losses=3)
    log, _, _ = closed_loop(WrongPhase(), NS_HEAVY, 2600, params, rates_after=lighter, change_at=1500)
    assert [m for _, m, _ in changes(log)][:4] == ["fixed", "policy", "fixed", "policy"]


def test_harm_whole_numbers_are_checked():
    with pytest.raises(ValueError, match="max_losses must be a whole number"):
        HarmParams(max_losses=1.5)
    with pytest.raises(ValueError, match="timed_returns must be a whole number"):
        HarmParams(timed_returns=0.5)


def test_by_default_a_loss_is_held_until_the_demand_shifts():
    """timed_returns = 0 (config.toml): no return on the timer at all; back when the demand moves."""
    assert HarmParams().timed_returns == 0 and load_config("config.toml").harm.timed_returns == 0
    params = replace(FAST, timed_returns=0)
    log, _, _ = closed_loop(WrongPhase(), NS_HEAVY, 1400, params)
    assert [m for _, m, _ in changes(log)] == ["fixed"]
    lighter = {k: 0.5 * v for k, v in NS_HEAVY.items()}
    log, _, _ = closed_loop(WrongPhase(), NS_HEAVY, 1400, params, rates_after=lighter, change_at=800)
    ch = changes(log)
    assert [m for _, m, _ in ch[:2]] == ["fixed", "policy"] and "demand changed by -" in ch[1][2]


def test_a_large_loss_is_judged_sooner_than_a_small_one():
    """The cumulative-sum test: the excess beyond the margin reaches its budget sooner the larger it is
    (with the evidence floor min_policy_s out of the way)."""
    params = replace(FAST, min_policy_s=10.0)
    t_switch = {}
    for name, ns in (("small", 0.07), ("large", 0.14)):
        rates = {"N_T": ns, "S_T": ns, "E_T": 0.05, "W_T": 0.05}
        log, _, _ = closed_loop(WrongPhase(warmup_s=100.0), rates, 900, params)
        ch = changes(log)
        assert ch and ch[0][1] == "fixed", name
        t_switch[name] = ch[0][0] - 100
    assert t_switch["large"] < t_switch["small"] < params.window_s * 2


def test_the_fixed_policy_is_never_switched_and_shows_no_gain():
    log, state, core = closed_loop(make_policy("fixed", Config()), NS_HEAVY, 700)
    assert changes(log) == []
    rep = core.report(state)["J"]
    assert rep.delay_gain == pytest.approx(0.0, abs=1e-9) and rep.agreement == pytest.approx(1.0, abs=1e-3)


def test_disabled_it_never_switches():
    log, _, _ = closed_loop(WrongPhase(), NS_HEAVY, 650, replace(FAST, enabled=False))
    assert changes(log) == []


def test_low_demand_is_never_judged():
    quiet = dict.fromkeys(NS_HEAVY, 0.01)  # 36 PCU/h per movement, 144 at the junction
    log, _, _ = closed_loop(WrongPhase(), quiet, 650, replace(FAST, min_demand_pcu_h=200.0))
    assert changes(log) == []


def test_network_totals_and_reports_come_from_the_core_state():
    _log, state, core = closed_loop(WrongPhase(), NS_HEAVY, 400)
    g, n_fixed = core.network(state)
    assert n_fixed == 1 and g.demand_pcu_h > 0
    assert harm.report(state.junctions["J"].harm).mode == "fixed"


def test_config_harm_section(tmp_path):
    cfg = load_config("config.toml")
    assert isinstance(cfg.harm, HarmParams) and cfg.harm.enabled
    bad = tmp_path / "c.toml"
    bad.write_text("[harm]\nhold_s = 900.0\nhold_max_s = 600.0\n")
    with pytest.raises(ConfigError, match="harm.hold_max_s"):
        load_config(bad)
    bad.write_text("[harm]\nwindow_s = 0.0\n")
    with pytest.raises(ConfigError, match="harm.window_s"):
        load_config(bad)
    bad.write_text("[harm]\nnetwork_share = 1.5\n")
    with pytest.raises(ConfigError, match="harm.network_share"):
        load_config(bad)
    bad.write_text("[harm]\nmargin = -0.1\n")
    with pytest.raises(ConfigError, match="harm.margin"):
        load_config(bad)


def closed_loop_validated(policy, seconds: int, on_due, params: HarmParams = FAST):
    """closed_loop with `[harm] validate_return`: `on_due(core, state, t)` is called at every tick
    where the report says a return is due, and returns the new state."""
    j = two_phase()
    params = replace(params, validate_return=True)
    cfg = replace(Config(), harm=params, estimation=replace(Config().estimation, flow_window_s=60.0))
    core = Core({"J": Layout.build(j, cfg)}, policy, cfg)
    field = Field(j, NS_HEAVY)
    state = core.initial_state(0.0)
    log = []
    status = field.rc.status(0.0)
    for t in range(1, seconds + 1):
        state, result = core.step(state, [field.traffic(float(t))], [status], float(t))
        if core.report(state)["J"].return_due:
            state = on_due(core, state, t)
        status = field.answer(result.commands, float(t))
        log.append((t, result, state.junctions["J"].harm, field.rc.mode))
    return log, state, core


def test_validate_return_holds_a_due_return_until_approved():
    due_at: list[int] = []

    def approve_after_60s(core, state, t):
        if not due_at:
            due_at.append(t)
            rep = core.report(state)["J"]
            assert rep.mode == "fixed" and "hold" in rep.return_reason
        return core.approve_return(state, "J") if t - due_at[0] >= 60 else state

    log, _, _ = closed_loop_validated(WrongPhase(), 1300, approve_after_60s)
    ch = changes(log)
    (t1, m1, _), (t2, m2, why2) = ch[:2]
    assert (m1, m2) == ("fixed", "policy") and due_at[0] - t1 == pytest.approx(FAST.hold_s, abs=1)
    # back to the policy at the tick after the approval, not at the hold's end
    assert t2 == due_at[0] + 61 and "return approved" in why2
    # while it waited: fixed mode, nothing sent
    assert all(h.mode == "fixed" and not r.commands for t, r, h, _ in log if due_at[0] <= t <= due_at[0] + 60)


def test_validate_return_rejected_counts_as_a_relapse():
    rejected: list[int] = []

    def reject(core, state, t):
        rejected.append(t)
        return core.reject_return(state, "J", "twin: 12% worse")

    # timed returns after each rejection (the default, 1, would then wait for a demand shift)
    log, state, core = closed_loop_validated(WrongPhase(), 1400, reject, replace(FAST, timed_returns=5))
    ch = changes(log)
    assert [m for _, m, _ in ch] == ["fixed"]  # never back to the policy
    t1 = ch[0][0]
    # due after the hold, rejected; due again after the doubled hold, then after 4x (capped at hold_max_s)
    assert rejected[0] - t1 == pytest.approx(FAST.hold_s, abs=1)
    assert rejected[1] - rejected[0] == pytest.approx(2 * FAST.hold_s, abs=1)
    hs = state.junctions["J"].harm
    assert hs.mode == "fixed" and hs.reason == "return rejected: twin: 12% worse" and hs.switches == 1
    assert not core.report(state)["J"].return_due


def test_approve_or_reject_without_a_due_return_is_an_error():
    _log, state, core = closed_loop(WrongPhase(), NS_HEAVY, 100)  # in policy mode, nothing due
    with pytest.raises(ValueError, match="junction 'J'.*no return to the policy is due"):
        core.approve_return(state, "J")
    with pytest.raises(ValueError, match="junction 'J'.*no return to the policy is due"):
        core.reject_return(state, "J", "x")
    with pytest.raises(ValueError, match="junction 'K'"):
        core.approve_return(state, "K")


def test_config_validate_return(tmp_path):
    assert load_config("config.toml").harm.validate_return is False
    bad = tmp_path / "c.toml"
    bad.write_text("[harm]\nvalidate_return = 1\n")
    with pytest.raises(ConfigError, match="harm.validate_return"):
        load_config(bad)


def test_network_verdict_sends_the_rest_of_the_network_back_when_a_share_lost():
    program = shadow.Program.build(Layout.build(two_phase()), 0.4, 2.0, 2.0)
    base = harm.initial(program, 4, 0.0)
    params = replace(FAST, network_share=0.5)
    states = {
        "A": replace(base, mode="fixed", since_s=500.0),
        "B": replace(base, mode="fixed", since_s=600.0),
        "C": base,  # under the policy since 0 s
        "D": replace(base, since_s=900.0),  # back under the policy 100 s ago: not yet judged
    }
    out = harm.network_verdict(states, 1000.0, params)
    assert set(out) == {"C"}
    hs, why = out["C"]
    assert hs.mode == "fixed" and hs.switches == 1 and hs.since_s == 1000.0 and hs.hold_s == params.hold_s
    assert why == "the policy lost at 2 of 4 junctions (network_share 50%)"
    assert harm.network_verdict({**states, "B": base}, 1000.0, params) == {}  # 1 of 4 < 50 %
    assert harm.network_verdict(states, 1000.0, replace(params, network_share=0.0)) == {}  # off
    assert harm.network_verdict(states, 1000.0, replace(params, enabled=False)) == {}


# --- spill-back between junctions (netshadow.fixed_block) ---------------------------------------


def _spill_run(spill_back: bool, spill_until_s: int, seconds: int, params: HarmParams = FAST):
    """Two copies of the two-phase junction, A upstream of B. A shows exactly its base program
    (its own timeline is the fixed plan's); B's policy shows N/S green only while t <
    spill_until_s, so B's E/W queues stand far beyond their storage, and A's exits into B are
    blocked 90 % of their green (the estimator's exit blockage). Then B shows its base program
    and the blockage ends. Returns A's mode changes [(t, mode, reason)]."""
    a = replace(two_phase(), id="A", downstream=("B",))
    b = replace(two_phase(), id="B", upstream=("A",))
    layouts = {j.id: Layout.build(j, Config()) for j in (a, b)}
    programs = [shadow.Program.build(lay, 0.4, 2.0, 2.0) for lay in layouts.values()]
    spill = netshadow.Spill.build(layouts, estimation.LinkLayout.build(layouts)) if spill_back else None
    net = netshadow.NetworkProgram.build(programs, spill)
    states = [harm.initial(p, 4, 0.0) for p in programs]
    cum = {"A": np.zeros(4), "B": np.zeros(4)}
    rates = {"A": np.full(4, 0.1), "B": np.full(4, 0.12)}
    out = []
    for k in range(1, seconds + 1):
        t = float(k)
        spilling = t < spill_until_s
        ests, statuses = [], []
        for (jid, lay), prog in zip(layouts.items(), programs):
            cum[jid] = cum[jid] + rates[jid]
            block = np.full(4, 0.9 if (jid == "A" and spilling) else 0.0)
            e = Estimate.empty(lay, t)
            ests.append(replace(e, departures_pcu=np.zeros(4), queue_pcu=cum[jid].copy(), block=block))
            phase = 0 if (jid == "B" and spilling) else prog.phase_at(t - 2.0)
            statuses.append(SignalStatus(jid, t, max(phase, 0), phase < 0, 0.0, "p", 1, "policy"))
        states = harm.observe_all(net, states, ests, statuses, t, params)
        hs, why = harm.decide(states[0], t, params)
        states[0] = hs
        if why is not None:
            out.append((t, hs.mode, why))
    return out


def test_a_junction_blocked_by_the_policys_spill_back_goes_back_to_its_fixed_plan():
    """A's own greens are the fixed plan's: without the links between junctions both sides of its
    replay are blocked alike and it is never judged. With them, the fixed side keeps only the
    blockage its own replay of B explains (B's fixed plan serves E/W: little), A's replay reads
    the policy worse, and A goes to its fixed plan while the spill-back lasts."""
    assert _spill_run(False, 10_000, 1500) == []
    ch = _spill_run(True, 10_000, 1500)
    assert ch[0][1] == "fixed" and "policy worse than the fixed plan" in ch[0][2]
    assert FAST.min_policy_s <= ch[0][0] < 600


def test_it_comes_back_when_the_spill_back_is_gone_and_stays():
    """The same, but B is served again from 500 s, during A's hold: A comes back when the hold
    ends (FAST: one timed return) and, the blockage gone, stays under the policy; with the
    spill-back still there it loses again after its return."""
    ch = _spill_run(True, 500, 3000)
    assert [m for _, m, _ in ch] == ["fixed", "policy"]
    assert ch[0][0] < 500 < ch[1][0]
    relapse = _spill_run(True, 10_000, 3000)
    assert [m for _, m, _ in relapse] == ["fixed", "policy", "fixed"]


def test_the_fixed_block_keeps_what_the_fixed_replay_explains():
    """fixed_block by hand: a movement feeding one approach of storage 10 PCU, full on the
    controlled side (fill 1), 3 PCU on the fixed side (fill 0.3): 0.9 x (1 - 1 + 0.3) = 0.27; a
    movement feeding nothing keeps its blockage; the fixed side fuller than the controlled: kept."""
    spill = netshadow.Spill(
        np.array([0, 1, 2]), np.array([10.0, 10.0, 10.0]), np.array([0]), np.array([2]), np.array([0, 0, 0])
    )
    q = np.array([[0.0, 0.0, 3.0], [0.0, 0.0, 25.0]])
    assert netshadow.fixed_block(spill, q, np.array([0.9, 0.5, 0.0])) == pytest.approx([0.27, 0.5, 0.0])
    q_fuller = np.array([[0.0, 0.0, 9.0], [0.0, 0.0, 4.0]])
    assert netshadow.fixed_block(spill, q_fuller, np.array([0.9, 0.5, 0.0])) == pytest.approx([0.9, 0.5, 0.0])


def test_queues_beyond_the_approach_storage_count_once_more_in_the_sum():
    """accumulate by hand: the policy's replayed queue on N_T stands 30 PCU (storage of the N
    approach about 10 PCU: 20 beyond), the fixed plan's 5. With spill_back the 20 PCU beyond the
    storage count once more; without, not."""
    lay = Layout.build(two_phase(), Config())
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    storage = float(prog.approach_storage_pcu[prog.approach[0]])
    assert 5.0 < storage < 30.0 and len(prog.approach_storage_pcu) == 4
    hs = harm.initial(prog, 4, 0.0)
    q = np.zeros((2, 4))
    q[shadow.CONTROLLED, 0], q[shadow.FIXED, 0] = 30.0, 5.0
    seen = np.array([20.0, 0.0, 0.0, 0.0])  # the loops see a queue beyond N's storage: it is charged
    replay = replace(hs.replay, t_s=10.0, sides=replace(hs.replay.sides, queue_pcu=q))
    hs = replace(hs, replay=replay, measured_hidden_pcu=seen)
    params = replace(FAST, margin=0.2, margin_s=1.0, min_demand_pcu_h=3600.0)  # demand: 1 PCU/s
    rate = {True: 30.0 + (30.0 - storage) - 1.2 * 5.0 - 1.0, False: 30.0 - 1.2 * 5.0 - 1.0}
    for spill_back in (True, False):
        got = harm.accumulate(hs, replace(params, spill_back=spill_back)).excess_s
        assert got == pytest.approx(rate[spill_back] * 10.0 / (1.0 * params.window_s))


def test_the_spill_charge_counts_only_where_the_loops_see_a_hidden_queue():
    """spill_charge_pcu by hand, approaches of storage 10 PCU: N's replayed queues stand 30
    (fixed) and 40 (controlled) PCU, 20 and 30 beyond; E's 16 and 4 (fixed: 6 beyond). The
    estimator holds a hidden queue (upstream of the advance loop) on N: N's spill is charged in
    full on both sides, however short the hidden queue; none on E: the fixed side's 6 PCU there
    are not charged. No hidden queue anywhere: nothing. No measurement yet: nothing."""
    approach, storage = np.array([0, 1, 2, 3]), np.full(4, 10.0)
    q = np.array([[30.0, 16.0, 0.0, 0.0], [40.0, 4.0, 0.0, 0.0]])  # rows FIXED, CONTROLLED

    def charge(hidden: list[float] | None) -> tuple[float, float]:
        return harm.spill_charge_pcu(q, None if hidden is None else np.array(hidden), approach, storage)

    assert charge([0.5, 0.0, 0.0, 0.0]) == pytest.approx((20.0, 30.0))
    assert charge([0.5, 2.0, 0.0, 0.0]) == pytest.approx((26.0, 30.0))
    assert charge([0.0, 0.0, 0.0, 0.0]) == (0.0, 0.0)
    assert charge(None) == (0.0, 0.0)


def _room_junction() -> Layout:
    """two_phase with N's advance loop at its lane's start (pos 0: no room, a queue past it stands
    across the node behind it), E's on a network entry (at_entry: a queue past it waits to enter,
    holding no one), W's 250 m into its lane (33.3 PCU of its own road before the node), S's 20 m
    (2.7 PCU)."""
    raw = two_phase_raw()
    for d in raw["detectors"]:
        if d["id"] == "N_adv":
            d["pos_m"] = 0.0
        elif d["id"] == "E_adv":
            d["at_entry"] = True
        elif d["id"] == "W_adv":
            d["pos_m"] = 250.0
    return Layout.build(parse_intersection(raw, "room.toml"), Config())


def test_the_spill_room_charges_only_the_spill_past_the_approachs_own_road():
    """[harm] spill_room: every approach's replayed queue stands 20 PCU (fixed) and 40 (controlled)
    beyond its storage, and the loops see a hidden queue on each. Without the key all of it is
    charged (80 and 160 PCU). With it, only what stands beyond the approach's own road upstream of
    its advance loops: N's in full (no room), E's none (a network entry), W's 40 - 33.3 on the
    controlled side alone, S's 2.7 PCU less on each side. One junction (charge_of) and the network
    pass (netshadow.queue_charges) agree."""
    lay = _room_junction()
    links = estimation.LinkLayout.build({"J": lay})
    hidden = np.full(4, 1.0)
    got = {}
    for key in (False, True):
        prog = shadow.Program.build(lay, 0.4, 2.0, 2.0, spill_room=key)
        hs = harm.initial(prog, 4, 0.0)
        beyond = np.array([[20.0], [40.0]])
        q = prog.approach_storage_pcu[prog.approach][None, :] + beyond  # rows FIXED, CONTROLLED
        hs = replace(
            hs, replay=replace(hs.replay, sides=replace(hs.replay.sides, queue_pcu=q)), measured_hidden_pcu=hidden
        )
        alone = harm.charge_of(hs, replace(FAST, spill_back=True, spill_room=key)).spill_pcu
        net = netshadow.NetworkProgram.build([prog], netshadow.Spill.build({"J": lay}, links, spill_room=key))
        _, spill = netshadow.queue_charges(net, q, hidden)
        assert alone == (float(spill[0, 0]), float(spill[1, 0]))
        got[key] = alone
    room = {m.id: float(lay.lane_adv_room_pcu[lay.lanes.index(m.lanes[0])]) for m in lay.junction.movements}
    assert room["N_T"] == 0.0 and room["E_T"] == np.inf and room["W_T"] > 33.0 and 2.0 < room["S_T"] < 3.0
    assert got[False] == pytest.approx((80.0, 160.0))
    fixed = 20.0 + (20.0 - room["S_T"])
    controlled = 40.0 + (40.0 - room["W_T"]) + (40.0 - room["S_T"])
    assert got[True] == pytest.approx((fixed, controlled))


def test_the_hidden_queue_of_each_movement_is_the_mean_over_its_lanes():
    """netshadow.hidden_by_movement: over the network, the estimator's lane hidden queues
    averaged over each movement's lanes (two_phase: one lane per movement), junction after junction."""
    lay = Layout.build(two_phase(), Config())
    net = netshadow.NetworkProgram.build([shadow.Program.build(lay, 0.4, 2.0, 2.0)] * 2)
    e = Estimate.empty(lay, 0.0)
    ests = [replace(e, lanes=replace(e.lanes, hidden_pcu=np.array(h))) for h in ([0, 3.0, 0, 0], [1.0, 0, 0, 2.0])]
    flat = netshadow.hidden_by_movement(net, ests)
    st = net.mov_start.tolist()
    got = [flat[st[k] : st[k + 1]] for k in range(len(ests))]
    lanes = [lay.lanes.index(m.lanes[0]) for m in lay.junction.movements]
    assert [list(g) for g in got] == [[[0, 3.0, 0, 0][k] for k in lanes], [[1.0, 0, 0, 2.0][k] for k in lanes]]


def _unseen_spill_run(seen: bool, spill_back: bool = True) -> list:
    """One two-phase junction whose replay overruns its storage on both sides: N_T arrives at 0.3
    PCU/s, more than either timeline discharges in the replay (the fixed plan gives N/S 30 s of
    65, the policy 28 s), E_T at 0.14. The policy's N queue grows a little faster than the fixed
    plan's (within the margin), its E queue is shorter. The arrivals fed are the same in both
    runs (departures + queue); `seen`: the estimator holds a hidden queue of 1 PCU on every lane
    (the loops see a queue beyond the approach); else none (the real approach discharges what
    the replay cannot: the replay's queue is its own error). Returns the mode changes."""
    lay = Layout.build(two_phase(), Config())
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    net = netshadow.NetworkProgram.build([prog])
    hs, cum, out = harm.initial(prog, 4, 0.0), np.zeros(4), []
    params = replace(FAST, spill_back=spill_back)
    for k in range(1, 1501):
        t = float(k)
        cum = cum + np.array([0.3, 0.14, 0.0, 0.0])
        queue = np.minimum(cum, 2.0)
        e0 = Estimate.empty(lay, t)
        lanes = replace(e0.lanes, hidden_pcu=np.full(4, 1.0 if seen else 0.0))
        e = replace(e0, departures_pcu=cum - queue, queue_pcu=queue, block=np.zeros(4), lanes=lanes)
        pos = (t - 2.0) % 65.0  # the policy: N/S 28 s, intergreen 5, E/W 27 s, intergreen 5
        phase, ig = (0, pos >= 28.0) if pos < 33.0 else (1, pos >= 60.0)
        (hs,) = harm.observe_all(net, [hs], [e], [SignalStatus("J", t, phase, ig, 0.0, "p", 1, "policy")], t, params)
        hs, why = harm.decide(hs, t, params)
        if why is not None:
            out.append((t, hs.mode, why))
    return out


def test_a_spill_both_replays_overrun_but_no_loop_sees_is_not_charged_to_the_policy():
    """The false-verdict shape (Bologna joined, junction 273 under adaptive): a short approach
    whose replayed queue overruns its storage on both sides while the loops measure almost
    none. Counted once more on both sides, the policy's slightly longer replayed queue there
    became a verdict. The spill charge now needs a queue the loops see beyond the approach (a
    hidden queue): no verdict, as without the charge; when they see one, the same replay is a
    verdict."""
    assert _unseen_spill_run(seen=False) == []
    assert _unseen_spill_run(seen=False, spill_back=False) == []
    ch = _unseen_spill_run(seen=True)
    assert ch[0][1] == "fixed" and "policy worse than the fixed plan" in ch[0][2]


def test_a_movement_with_a_known_exit_edge_feeds_that_approach_alone():
    """Movement.to_edge (the importer's exit edge) links a movement exactly to the neighbour's
    approach from that edge; without it, or when no modelled approach starts there, the
    movement keeps the approaches its heading faces. The fill is that approach's alone."""
    b0 = replace(two_phase(), id="B", upstream=("A",))
    b = replace(b0, movements=tuple(replace(m, from_edge="b" + m.from_edge) for m in b0.movements))
    a0 = replace(two_phase(), id="A", downstream=("B",))
    exits = {"N_T": "beE", "E_T": "beS", "W_T": "nowhere"}
    a = replace(a0, movements=tuple(replace(m, to_edge=exits.get(m.id, "")) for m in a0.movements))
    layouts = {j.id: Layout.build(j, Config()) for j in (a, b)}
    links = estimation.LinkLayout.build(layouts)
    spill = netshadow.Spill.build(layouts, links)
    approach_of = dict(zip((m.from_edge for m in b.movements), spill.mov_approach[4:]))
    feeds = {
        m.id: sorted(int(k) for i, k in zip(spill.feed_movement, spill.feed_approach) if i == n)
        for n, m in enumerate(a.movements)
    }
    assert feeds["N_T"] == [approach_of["beE"]] and feeds["E_T"] == [approach_of["beS"]]
    plain = netshadow.Spill.build({"A": Layout.build(a0, Config()), "B": layouts["B"]}, links)
    pairs = list(zip(plain.feed_movement, plain.feed_approach))
    plain_feeds = {n: sorted(int(k) for i, k in pairs if i == n) for n in range(4)}
    assert feeds["S_T"] == plain_feeds[2] and feeds["W_T"] == plain_feeds[3]  # the heading's candidates
    assert plain_feeds[0] != feeds["N_T"]  # the heading alone would not have picked it
    queue = np.zeros(8)
    queue[4 + [m.from_edge for m in b.movements].index("beE")] = 2 * b.movements[0].storage_pcu
    fill = netshadow.fills(spill, queue, 8)
    assert fill[0] == 1.0 and fill[1] == 0.0


def test_the_junction_file_carries_the_exit_edge_when_given():
    raw = two_phase_raw()
    assert all(m.to_edge == "" for m in parse_intersection(raw, "j.toml").movements)  # old files load
    raw["movements"][0]["to_edge"] = "out7"
    assert parse_intersection(raw, "j.toml").movements[0].to_edge == "out7"
    raw["movements"][0]["to_edge"] = ""
    with pytest.raises(JunctionError, match=r"j.toml.*to_edge"):
        parse_intersection(raw, "j.toml")


@pytest.mark.parametrize("policy", ["adaptive", "fixed", "webster"])
def test_a_network_without_a_controllable_junction_steps(policy):
    """Every signal of a network left on its own program (import-net's skipped.txt): the core
    still ticks, with nothing to estimate, replay or send (corpus roundabout_merges crashed in
    the network-wide replay on an empty concatenation)."""
    cfg = Config()
    core = Core({}, make_policy(policy, cfg), cfg)
    state = core.initial_state(0.0)
    for t in (1.0, 2.0, 3.0):
        state, result = core.step(state, [], [], t)
        assert result.commands == ()
    assert state.junctions == {}


def _held(demand_pcu_h: float, hidden_pcu: float) -> harm.HarmState:
    """A repeat offender in fixed mode since 0 s, its 300 s hold over, its demand 1,000 PCU/h when
    the hold ended and `demand_pcu_h` now, `hidden_pcu` of hidden queue on its last movement."""
    lay = Layout.build(two_phase())
    n = len(lay.junction.movements)
    hs = harm.initial(shadow.Program.build(lay, 0.4, 0.0, 0.0), n, 0.0)
    replay = replace(hs.replay, demand_pcu=demand_pcu_h / 3600.0 * 900.0, demand_s=900.0)
    hidden = np.zeros(n)
    hidden[-1] = hidden_pcu
    return replace(
        hs, replay=replay, mode="fixed", hold_s=300.0, relapses=2, demand_ref_pcu_h=1000.0, measured_hidden_pcu=hidden
    )


def test_a_fall_of_the_demand_under_an_overrun_approach_brings_no_return():
    """fall_needs_room: a demand 40 % down while a lane holds a hidden queue (the loops count what
    the jam lets through) keeps the junction on its plan; the same fall with every approach free,
    or a rise under the jam, brings it back. Off (the default), the fall brings it back either way."""
    assert not HarmParams().fall_needs_room and not load_config("config.toml").harm.fall_needs_room
    on = replace(FAST, timed_returns=0, fall_needs_room=True)
    assert harm.decide(_held(600.0, 3.0), 400.0, on)[1] is None
    assert harm.overrun(_held(600.0, 3.0)) and not harm.overrun(_held(600.0, 0.0))
    back = harm.decide(_held(600.0, 0.0), 400.0, on)
    assert back[0].mode == "policy" and "demand changed by -40%" in str(back[1])
    assert harm.decide(_held(1500.0, 3.0), 400.0, on)[0].mode == "policy"
    off = replace(on, fall_needs_room=False)
    assert harm.decide(_held(600.0, 3.0), 400.0, off)[0].mode == "policy"


@pytest.mark.parametrize("key", ["fall_needs_room", "shared_lane_queue", "head_of_line", "measured_queue_bound"])
def test_harm_switches_are_true_or_false(tmp_path, key):
    bad = tmp_path / "c.toml"
    bad.write_text(f"[harm]\n{key} = 1\n")
    with pytest.raises(ConfigError, match=f"harm.{key}"):
        load_config(bad)
    assert getattr(load_config("config.toml").harm, key) is False  # shipped off


def test_evidence_from_first_command_is_true_or_false_and_ships_off(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[harm]\nevidence_from_first_command = 1\n")
    with pytest.raises(ConfigError, match="harm.evidence_from_first_command"):
        load_config(bad)
    assert load_config("config.toml").harm.evidence_from_first_command is False


def test_the_measured_spill_stands_for_the_policys_queue_beyond_the_loops():
    """spill_charge_pcu with measured_spill, approaches of storage 10 PCU. N: both replays within
    the storage (5 fixed, 8 controlled), the estimator holds 12 PCU beyond the advance loops: the
    controlled side is charged those 12 (the fixed plan, by its own replay, would not have built
    them), the fixed side nothing. E: the fixed replay overruns (16: 6 beyond), the estimator
    holds 7: nothing is added (the approach overruns under the city's plan too: as before). A
    controlled replay beyond the measured one keeps its own (N at 25: 15)."""
    approach, storage = np.array([0, 1, 2, 3]), np.full(4, 10.0)
    q = np.array([[5.0, 16.0, 0.0, 0.0], [8.0, 4.0, 0.0, 0.0]])  # rows FIXED, CONTROLLED
    hidden, measured = np.array([1.0, 1.0, 0.0, 0.0]), np.array([12.0, 7.0, 0.0, 0.0])
    assert harm.spill_charge_pcu(q, hidden, approach, storage) == pytest.approx((6.0, 0.0))
    assert harm.spill_charge_pcu(q, hidden, approach, storage, measured) == pytest.approx((6.0, 12.0))
    q[1, 0] = 25.0
    assert harm.spill_charge_pcu(q, hidden, approach, storage, measured) == pytest.approx((6.0, 15.0))


def _hidden_run(params: HarmParams, hidden_n_pcu: float, from_s: float = 60.0) -> tuple[list, harm.HarmState]:
    """One two-phase junction, both replays well within the storage: N_T and E_T arrive at 0.1
    PCU/s, the policy gives N/S 28 s of 65 (the fixed plan 30 s), and the estimator holds
    `hidden_n_pcu` beyond N's advance loop from `from_s` on (its lane only; from the first tick
    when `from_s` <= 1). Returns the mode changes in 1,200 s and the last state."""
    lay = Layout.build(two_phase(), Config())
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    spill = netshadow.Spill.build({"J": lay}, estimation.LinkLayout.build({"J": lay}))
    net = netshadow.NetworkProgram.build([prog], spill)
    n_lane = lay.lanes.index(next(m for m in lay.junction.movements if m.id == "N_T").lanes[0])
    hidden = np.zeros(len(lay.lanes))
    hidden[n_lane] = hidden_n_pcu
    hs, cum, out = harm.initial(prog, 4, 0.0), np.zeros(4), []
    for k in range(1, 1201):
        t = float(k)
        cum = cum + np.array([0.1, 0.1, 0.0, 0.0])
        queue = np.minimum(cum, 2.0)
        e0 = Estimate.empty(lay, t)
        lanes = replace(e0.lanes, hidden_pcu=hidden if t >= from_s else np.zeros(len(lay.lanes)))
        e = replace(e0, departures_pcu=cum - queue, queue_pcu=queue, block=np.zeros(4), lanes=lanes)
        pos = (t - 2.0) % 65.0
        phase, ig = (0, pos >= 28.0) if pos < 33.0 else (1, pos >= 60.0)
        (hs,) = harm.observe_all(net, [hs], [e], [SignalStatus("J", t, phase, ig, 0.0, "p", 1, "policy")], t, params)
        hs, why = harm.decide(hs, t, params)
        if why is not None:
            out.append((t, hs.mode, why))
    return out, hs


def test_a_queue_the_loops_see_beyond_the_approach_is_charged_to_the_policy():
    """[harm] measured_spill: the policy's replay is near the fixed plan's and within the
    approach's storage, but from 60 s under the policy the estimator holds 15 PCU beyond N's
    advance loop. Without the key nothing is charged (the replay shows no spill: no verdict);
    with it the controlled side carries those 15 PCU once more and the policy is judged. With no
    hidden queue the key changes nothing."""
    on = replace(FAST, measured_spill=True)
    assert _hidden_run(FAST, 15.0)[0] == []
    changes_on, _ = _hidden_run(on, 15.0)
    assert changes_on and changes_on[0][1] == "fixed" and "policy worse than the fixed plan" in changes_on[0][2]
    assert _hidden_run(on, 0.0)[0] == []
    _, hs = _hidden_run(replace(on, enabled=False), 15.0)
    assert hs.measured_spill_pcu is not None and list(hs.measured_spill_pcu) == pytest.approx([15.0, 0.0, 0.0, 0.0])
    assert hs.spill_base_pcu is not None and list(hs.spill_base_pcu) == pytest.approx([0.0, 0.0, 0.0, 0.0])


def test_a_queue_the_policy_inherited_beyond_the_loops_is_not_charged():
    """measured_spill charges only the hidden queue's growth since the policy took over. The
    same 15 PCU beyond N's advance loop, standing from the first tick (before the start: its
    baseline), charge nothing: no verdict. Built under the policy (from 60 s) they send the
    junction to its plan; back after the hold with the 15 PCU still standing (inherited from
    the fixed plan: the baseline at the return), the policy is not judged again."""
    on = replace(FAST, measured_spill=True)
    assert _hidden_run(on, 15.0, from_s=0.0)[0] == []
    changes, hs = _hidden_run(on, 15.0)
    assert [m for _, m, _ in changes] == ["fixed", "policy"]
    assert hs.spill_base_pcu is not None and list(hs.spill_base_pcu) == pytest.approx([15.0, 0.0, 0.0, 0.0])


def test_the_measured_spill_charged_is_its_growth_since_the_takeover():
    """spill_growth_pcu and charge_of by hand: a baseline of 15 PCU on N (and 0 on E). N at 25
    is charged 10 above its baseline, at 5 (shrunk below it) nothing; E at 7 all of its 7. In
    charge_of, approaches of the two-phase junction, both replays empty: the controlled side's
    spill is the growth summed; without a baseline yet (the first measurement is it) nothing."""
    base = np.array([15.0, 0.0, 0.0, 0.0])
    assert harm.spill_growth_pcu(np.array([25.0, 7.0, 0.0, 0.0]), base) == pytest.approx([10.0, 7.0, 0.0, 0.0])
    assert harm.spill_growth_pcu(np.array([5.0, 0.0, 0.0, 0.0]), base) == pytest.approx([0.0, 0.0, 0.0, 0.0])
    lay = Layout.build(two_phase(), Config())
    hs = harm.initial(shadow.Program.build(lay, 0.4, 2.0, 2.0), 4, 0.0)
    seen = np.array([1.0, 1.0, 0.0, 0.0])  # hidden queues on N and E
    a_n, a_e = int(hs.approach[0]), int(hs.approach[1])
    measured, base_a = np.zeros(4), np.zeros(4)
    measured[a_n], measured[a_e], base_a[a_n] = 25.0, 7.0, 15.0
    hs = replace(hs, measured_hidden_pcu=seen, measured_spill_pcu=measured, spill_base_pcu=base_a)
    on = replace(FAST, measured_spill=True)
    assert harm.charge_of(hs, on).spill_pcu == pytest.approx((0.0, 17.0))
    assert harm.charge_of(replace(hs, spill_base_pcu=None), on).spill_pcu == (0.0, 0.0)  # no baseline: it is now
    assert harm.charge_of(hs, FAST).spill_pcu == (0.0, 0.0)


class ServeNS(Policy):
    """Serves N/S whatever the queues say (the movement a lock holds, in test_a_lock_...)."""

    name = "serve_ns"

    def init(self, layout, now_s):
        return None

    def decide(self, state, layout, est, signal, now_s):
        return state, PhaseWish(0, 5.0)


class LockedField(Field):
    """Field, but from `lock_s` on N_T's exit is full: its greens discharge nothing, its queue
    stands on the stop-line loop."""

    lock_s = 100.0

    def traffic(self, t: float) -> Snapshot:
        if t >= self.lock_s:
            self.green_s[self.ids.index("N_T")] = -(10**9)  # never past the start-up loss: nothing leaves
        return super().traffic(t)


def _lock_run(lock_green_s: float, seconds: int, locked: bool = True) -> list:
    params = replace(FAST, lock_green_s=lock_green_s)
    log, _ = _lock_run_with(LockedField if locked else Field, params, NS_HEAVY, seconds)
    return log


def test_a_lock_sends_the_junction_to_its_fixed_plan_within_the_bound():
    """A movement shown green with a queue at its stop line and nothing leaving: the replay cannot
    judge it before min_policy_s (300 s here); the lock rule does, once lock_green_s of such green
    has been shown (the policy serves N/S from 0 s, the exit locks at 100 s)."""
    got = changes(_lock_run(30.0, 250))
    assert len(got) == 1
    t, mode, reason = got[0]
    assert mode == "fixed" and reason.startswith("a lock: movement 0 stood 30 s at a protected green")
    assert 130 <= t <= 160  # 30 s of N/S green after 100 s; the gate's E/W minimum greens add a little
    assert changes(_lock_run(0.0, 250)) == []  # off (the shipped default): no verdict before min_policy_s


def test_no_lock_is_seen_where_the_green_discharges():
    """The same policy and demand without the lock: every green moves a vehicle, nothing stands."""
    log = _lock_run(10.0, 400, locked=False)
    assert changes(log) == []
    assert max(float(hs.standing_green_s.max()) for _, _, hs, _ in log) < 10.0


def test_standing_green_counts_protected_green_with_a_queue_and_no_departure():
    s, dep = np.array([5.0, 5.0, 5.0, 5.0, 5.0]), np.array([2.0, 2.0, 2.0, 2.0, 2.0])
    new_dep = np.array([2.0, 3.0, 2.0, 2.0, 2.0])  # movement 1 discharged a vehicle
    queue = np.array([1.0, 1.0, 0.0, 1.0, 1.0])  # movement 2's queue cleared
    # movement 3: no lane of it protected green with a vehicle on its stop loop
    at_line = np.array([True, True, True, False, True])
    out = harm.standing_green_s(s, dep, new_dep, queue, at_line, 2.0)
    assert out.tolist() == [7.0, 0.0, 0.0, 5.0, 7.0]


def test_harm_lock_green_s_is_refused_when_negative(tmp_path):
    with pytest.raises(ValueError, match="lock_green_s"):
        HarmParams(lock_green_s=-1.0)
    bad = tmp_path / "c.toml"
    for text in ("[harm]\nlock_green_s = -1\n", '[harm]\nlock_green_s = "60"\n'):
        bad.write_text(text)
        with pytest.raises(ConfigError, match=r"harm.lock_green_s: must be (>= 0|a finite number)"):
            load_config(bad)
    bad.write_text("[harm]\nlock_green_s = 60\n")
    assert load_config(bad).harm.lock_green_s == 60


class LockedBoth(LockedField):
    """LockedField, with S_T's exit full from `lock_s` on too: both streams of the N/S phase stand
    at their green (a box lock holds several movements)."""

    def traffic(self, t: float) -> Snapshot:
        if t >= self.lock_s:
            self.green_s[self.ids.index("S_T")] = -(10**9)
        return super().traffic(t)


def _lock_run_with(
    field_cls: type[Field], params: HarmParams, rates: dict[str, float], seconds: int
) -> tuple[list, list]:
    """_lock_run with a field class, params and demand of the test's; also the field's queues
    (PCU per movement, the test's truth) every second."""
    j = two_phase()
    cfg = replace(Config(), harm=params, estimation=replace(Config().estimation, flow_window_s=60.0))
    core = Core({"J": Layout.build(j, cfg)}, ServeNS(), cfg)
    field = field_cls(j, rates)
    state, status, log, queues = core.initial_state(0.0), field.rc.status(0.0), [], []
    for t in range(1, seconds + 1):
        state, result = core.step(state, [field.traffic(float(t))], [status], float(t))
        status = field.answer(result.commands, float(t))
        log.append((t, result, state.junctions["J"].harm, field.rc.mode))
        queues.append(field.queue.copy())
    return log, queues


def test_a_box_lock_of_two_movements_sends_the_junction_to_its_plan():
    """lock_movements = 2: both N/S streams stand at their green from 100 s (nothing leaves, a
    vehicle on each stop-line loop): the junction goes to its plan once both have stood
    lock_green_s, with both named in the reason; the replay alone would wait for min_policy_s."""
    params = replace(FAST, lock_green_s=30.0, lock_movements=2)
    got = changes(_lock_run_with(LockedBoth, params, NS_HEAVY, 250)[0])
    assert len(got) == 1
    t, mode, reason = got[0]
    # movements 0 and 2: N_T and S_T
    assert mode == "fixed" and reason.startswith("a lock: movements 0, 2 stood 30-30 s at a protected green")
    assert "lock_movements 2" in reason
    assert 130 <= t <= 160


def test_one_movement_standing_is_not_a_box_lock():
    """lock_movements = 2: N_T alone stands at its green (its exit full), S_T discharges beside
    it: no verdict (with lock_movements = 1 the same run is judged locked)."""
    params = replace(FAST, lock_green_s=30.0, lock_movements=2)
    assert changes(_lock_run_with(LockedField, params, NS_HEAVY, 250)[0]) == []
    one = changes(_lock_run_with(LockedField, replace(params, lock_movements=1), NS_HEAVY, 250)[0])
    assert [m for _, m, _ in one] == ["fixed"]


def test_a_long_queue_at_red_is_not_a_lock():
    """The policy serves N/S whatever the queues say, so E/W's heavy queues stand on their
    stop-line loops through long reds (a vehicle on the loop, none crossing): red adds nothing,
    and every E/W green discharges, so no movement is ever judged standing and the junction is
    not judged before min_policy_s."""
    params = replace(FAST, lock_green_s=10.0, lock_movements=2)
    log, queues = _lock_run_with(Field, params, EW_HEAVY, 290)
    assert changes(log) == []
    ew = [k for k, m in enumerate(two_phase().movements) if m.id in ("E_T", "W_T")]
    assert len(ew) == 2
    assert max(float(hs.standing_green_s[ew].max()) for _, _, hs, _ in log) < 10.0
    # the E/W queues did stand at red for long: the test has a red queue to ignore
    assert max(int(q[ew].min()) for q in queues) >= 5


def test_harm_lock_movements_is_a_whole_number_of_at_least_one(tmp_path):
    assert HarmParams().lock_movements == 1 and load_config("config.toml").harm.lock_movements == 1
    for bad_value in (0, 1.5):
        with pytest.raises(ValueError, match="lock_movements"):
            HarmParams(lock_movements=bad_value)
    bad = tmp_path / "c.toml"
    bad.write_text("[harm]\nlock_movements = 0\n")
    with pytest.raises(ConfigError, match=r"harm.lock_movements: must be > 0"):
        load_config(bad)


def _phantom_state(blind: bool = False) -> tuple[harm.HarmState, HarmParams]:
    """One two-phase junction whose replay holds a phantom on N_T: 50 PCU under the greens shown
    and 40 under the fixed plan, where the estimator measures 10 (the street's queue under the
    greens shown). E_T: 5 PCU controlled, 4 fixed, 6 measured (no phantom). Demand 1 PCU/s."""
    lay = Layout.build(two_phase(), Config())
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    hs = harm.initial(prog, 4, 0.0)
    q = np.zeros((2, 4))
    q[shadow.CONTROLLED, :2], q[shadow.FIXED, :2] = (50.0, 5.0), (40.0, 4.0)
    measured = np.array([np.inf if blind else 10.0, 6.0, 0.0, 0.0])
    replay = replace(hs.replay, t_s=10.0, sides=replace(hs.replay.sides, queue_pcu=q))
    params = replace(FAST, margin=0.2, margin_s=1.0, min_demand_pcu_h=3600.0, spill_back=False)
    return replace(hs, replay=replay, measured_queue_pcu=measured), params


def test_a_phantom_on_both_sides_does_not_widen_the_margin():
    """accumulate by hand, [harm] measured_queue_bound: N_T's replayed queue stands 40 PCU above
    the measured one under the greens shown; the same discharge model runs the fixed side, so
    both sides are relieved of those 40 PCU (controlled 50 -> 10, fixed 40 -> 0). Left in, the
    phantom's 20 % (8 PCU) would widen the margin: the policy's 11 PCU more than the fixed plan
    barely count (55 - 1.2 x 44 - 1 = 1.2 PCU); left out, 15 - 1.2 x 4 - 1 = 9.2 PCU do."""
    hs, params = _phantom_state()
    assert harm.trim_pcu(hs.replay.sides.queue_pcu, hs.measured_queue_pcu)[:, :2].tolist() == [[40.0, 0.0], [40.0, 0.0]]
    rate = {False: 55.0 - 1.2 * 44.0 - 1.0, True: 15.0 - 1.2 * 4.0 - 1.0}
    for bound in (False, True):
        got = harm.accumulate(hs, replace(params, measured_queue_bound=bound))
        assert got.excess_s == pytest.approx(rate[bound] * 10.0 / params.window_s)
        assert got.trim_pcu_s == pytest.approx((40.0 * 10.0, 40.0 * 10.0) if bound else (0.0, 0.0))


def test_a_movement_without_loops_keeps_its_replayed_queue():
    """A blind movement (no loop: Estimate.blind) has no measured queue: nothing is left out."""
    hs, params = _phantom_state(blind=True)
    on = replace(params, measured_queue_bound=True)
    assert harm.accumulate(hs, on).excess_s == pytest.approx(harm.accumulate(hs, params).excess_s)
    assert harm.accumulate(hs, on).trim_pcu_s == (0.0, 0.0)


def test_the_loops_bound_the_replay_only_where_they_see_room():
    """measured_bound_pcu: the estimator's queue bounds the controlled side's replay where the
    movement has loops and no hidden queue; a hidden queue (a jam beyond the advance loop, which
    the estimator holds only up to its bound) or no loop: no bound."""
    got = harm.measured_bound_pcu(
        np.array([10.0, 6.0, 3.0, 0.0]), np.array([False, False, True, False]), np.array([0.0, 2.0, 0.0, 0.0])
    )
    assert got.tolist() == [10.0, np.inf, np.inf, 0.0]


def test_the_window_leaves_the_phantom_out_of_both_sides():
    """window_delays_s: the PCU s left out (trim_pcu_s) come off each side's delay per PCU over
    the window, as the spill's PCU s come on; never below 0."""
    hs, _ = _phantom_state()
    hs = replace(hs, replay=replace(hs.replay, arrived_pcu=np.array([10.0, 10.0, 0.0, 0.0])))
    d_f, d_c = harm.window_delays_s(hs)
    trimmed = replace(hs, trim_pcu_s=(100.0, 40.0))
    assert harm.window_delays_s(trimmed) == pytest.approx((max(d_f - 5.0, 0.0), max(d_c - 2.0, 0.0)))


def test_a_queue_inherited_at_the_restart_does_not_widen_the_margin():
    """The window's delays per PCU count the 10 PCU standing at the last restart (held_pcu) with
    the 20 arrived since: 270 and 200 PCU s give 9.0 against 6.67 s/PCU. margin_s is earned per
    arrival, so the verdict is the sums': 270 > 1.2 x 200 + 1.0 x 20 = 260, worse (as 13.5
    against 10.0 s per arrived PCU was). Spread over all 30 PCU, the 1 s/PCU would pass it
    (9.0 <= 1.2 x 6.67 + 1.0)."""
    hs, params = _phantom_state()
    sides = replace(
        hs.replay.sides,
        queue_pcu=np.zeros((2, 4)),
        delay_pcu_s=np.array([[100.0, 100.0, 0.0, 0.0], [135.0, 135.0, 0.0, 0.0]]),
    )
    replay = replace(hs.replay, arrived_pcu=np.array([10.0, 10.0, 0.0, 0.0]), held_pcu=10.0, sides=sides)
    hs = replace(hs, replay=replay, excess_s=params.excess_budget_s, since_s=0.0)
    assert harm.window_delays_s(hs) == pytest.approx((200.0 / 30.0, 9.0))
    params = replace(params, min_demand_pcu_h=0.0)
    assert "worse than the fixed plan" in (harm._worse(hs, params.min_policy_s, params) or "")
    # one of those seconds paused by an outage (harm.resume): not yet min_policy_s under the policy (R, session 44)
    assert harm._worse(replace(hs, paused_s=1.0), params.min_policy_s, params) is None
    lighter = replace(
        hs, replay=replace(replay, sides=replace(sides, delay_pcu_s=sides.delay_pcu_s * [[1.0], [259.0 / 270.0]]))
    )
    assert harm._worse(lighter, params.min_policy_s, params) is None


def test_the_network_pass_leaves_out_what_the_junction_alone_does():
    """observe_all's trim (every junction at once) is charge_of's for the junction alone: the
    estimator measures no queue on N_T and E_T (all departed) while the replay of the greens shown
    holds one through their reds."""
    lay = Layout.build(two_phase(), Config())
    prog = shadow.Program.build(lay, 0.4, 2.0, 2.0)
    net = netshadow.NetworkProgram.build([prog])
    params = replace(FAST, measured_queue_bound=True, spill_back=False)
    hs, cum = harm.initial(prog, 4, 0.0), np.zeros(4)
    trims = []
    for k in range(1, 301):
        t = float(k)
        cum = cum + np.array([0.1, 0.1, 0.0, 0.0])
        e = replace(Estimate.empty(lay, t), departures_pcu=cum.copy(), block=np.zeros(4))
        pos = (t - 2.0) % 65.0
        phase, ig = (0, pos >= 28.0) if pos < 33.0 else (1, pos >= 60.0)
        (hs,) = harm.observe_all(net, [hs], [e], [SignalStatus("J", t, phase, ig, 0.0, "p", 1, "policy")], t, params)
        assert hs.charge is not None
        alone = harm.charge_of(replace(hs, charge=None), params)
        assert alone.trim_pcu == pytest.approx(hs.charge.trim_pcu)
        trims.append(hs.charge.trim_pcu[shadow.CONTROLLED])
    assert max(trims) > 0.0


def _sums(replay: shadow.Replay, t_s: float, k: float) -> shadow.Replay:
    """`replay` at `t_s` with every evidence sum and queue set from `k` (each state its own digits)."""
    sides = replace(
        replay.sides,
        queue_pcu=replay.sides.queue_pcu + 3 * k,
        delay_pcu_s=replay.sides.delay_pcu_s + 4 * k,
        served_pcu=replay.sides.served_pcu + 5 * k,
    )
    return replace(
        replay,
        t_s=t_s,
        span_s=100.0 * k,
        agree_s=60.0 * k,
        held_pcu=k,
        arrived_pcu=replay.arrived_pcu + 2 * k,
        sides=sides,
    )


def test_resume_keeps_the_evidence_from_before_the_outage_and_pauses_its_seconds():
    """harm.resume in policy mode (R, session 44: the spill, trim and lock sums and the spill base were
    untested): `after` is the state observed over the outage; the evidence sums are `before`'s, the
    spill the outage grew is added to the base (not the policy's), the outage's seconds are paused."""
    program = shadow.Program.build(Layout.build(two_phase()), 0.4, 2.0, 2.0)
    start = harm.initial(program, 4, 0.0)
    before = replace(
        start,
        replay=_sums(start.replay, 120.0, 1.0),
        excess_s=7.0,
        spill_pcu_s=(1.0, 2.0),
        trim_pcu_s=(3.0, 4.0),
        standing_green_s=np.array([5.0, 0.0, 6.0, 0.0]),
        measured_spill_pcu=np.array([1.0, 2.0]),
        spill_base_pcu=np.array([0.5, 0.5]),
    )
    after = replace(
        before,
        replay=_sums(start.replay, 321.0, 10.0),
        excess_s=70.0,
        spill_pcu_s=(10.0, 20.0),
        trim_pcu_s=(30.0, 40.0),
        standing_green_s=np.array([50.0, 0.0, 60.0, 0.0]),
        measured_spill_pcu=np.array([4.0, 2.5]),
    )
    out = harm.resume(after, 321.0, before)
    assert (out.mode, out.since_s, out.excess_s, out.excess_t_s) == ("policy", 0.0, 7.0, 321.0)
    assert (out.replay.t_s, out.replay.span_s, out.replay.agree_s, out.replay.held_pcu) == (321.0, 100.0, 60.0, 1.0)
    np.testing.assert_array_equal(out.replay.arrived_pcu, before.replay.arrived_pcu)
    np.testing.assert_array_equal(out.replay.sides.delay_pcu_s, before.replay.sides.delay_pcu_s)
    np.testing.assert_array_equal(out.replay.sides.served_pcu, before.replay.sides.served_pcu)
    np.testing.assert_array_equal(out.replay.sides.queue_pcu, after.replay.sides.queue_pcu)  # the queues go on
    assert (out.spill_pcu_s, out.trim_pcu_s) == ((1.0, 2.0), (3.0, 4.0))
    np.testing.assert_array_equal(out.standing_green_s, [5.0, 0.0, 6.0, 0.0])
    np.testing.assert_array_equal(out.spill_base_pcu, [3.5, 1.0])  # 0.5 + the outage's 3.0 and 0.5
    assert out.paused_s == 201.0 and harm.policy_s(out, 400.0) == 199.0
    again = harm.resume(replace(out, replay=replace(out.replay, t_s=331.0)), 331.0, out)
    assert again.paused_s == 211.0  # a second outage adds its seconds
    restarted = harm.resume(after, 321.0)  # nothing from before: the evidence restarts, as at a change of mode
    assert harm.resume(after, 321.0, replace(before, since_s=50.0)).since_s == 321.0  # before: another mode's
    assert (restarted.since_s, restarted.excess_s, restarted.spill_pcu_s, restarted.paused_s) == (
        321.0,
        0.0,
        (0.0, 0.0),
        0.0,
    )
    fixed = replace(after, mode="fixed")
    assert harm.resume(fixed, 321.0, replace(before, mode="fixed")) is fixed


def test_the_time_under_the_policy_leaves_the_paused_seconds_out():
    """policy_s, not now - since_s, decides whether the network's verdict may take a junction (min_policy_s)
    and whether its relapses are forgiven (hold_max_s) (R, session 44: neither was tested with seconds paused)."""
    program = shadow.Program.build(Layout.build(two_phase()), 0.4, 2.0, 2.0)
    base = harm.initial(program, 4, 0.0)
    params = replace(FAST, network_share=0.5)
    lost = replace(base, mode="fixed", since_s=500.0)
    blinked = replace(base, paused_s=900.0)  # under the policy since 0 s, 900 of them paused: 100 s at 1000 s
    assert harm.network_verdict({"A": lost, "C": blinked}, 1000.0, params) == {}
    assert set(harm.network_verdict({"A": lost, "C": replace(blinked, paused_s=600.0)}, 1000.0, params)) == {"C"}
    # 1,500 s since the mode began, 1,000 under the policy: below hold_max_s (1,200), the relapses stand
    relapsed = replace(base, relapses=2, paused_s=500.0)
    ((after, _),) = harm.network_verdict({"A": lost, "C": relapsed}, 1500.0, params).values()
    assert (after.relapses, after.hold_s) == (3, 1200.0)
    ((forgiven, _),) = harm.network_verdict({"A": lost, "C": replace(relapsed, paused_s=0.0)}, 1500.0, params).values()
    assert (forgiven.relapses, forgiven.hold_s) == (1, 300.0)

"""The closed loop the safety tests run, and the checks they make on the signal it shows.

`run_chain` drives one junction second by second: detector feed -> core step (policy, safety
gate) -> the virtual roadside controller (sim/roadside.py) -> the signal shown, with the
junction's own program (as SUMO runs it, `LocalProgram`) while the roadside is local.
`check_sequence` checks that signal against the junction model (tests/unit/test_safety_*.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import combinations, pairwise

from hypothesis import HealthCheck, Phase, settings

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.policies import Policy
from controller.core.step import Core
from controller.model import GREEN, Intersection
from sim.roadside import RoadsideController
from tests.junction_strategies import TICK_S, Feed, starvation_bound_s, whole_s

EPS = 1e-6


def chain_settings(examples: int) -> settings:
    """Hypothesis settings for closed-loop examples: deterministic, and no shrinking (an example
    runs minutes of simulated time and shrinking a failure took over five minutes; a failure is
    reported with the example as drawn)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# webster's first plan comes after one period: inside a short run
CFG = replace(Config(), webster=replace(Config().webster, period_s=60.0))


class LocalProgram:
    """The junction's own fixed-time program as SUMO runs it while the roadside is local: every
    stage in index order for its minimum green, then a yellow for the links that stop and the
    all-red, in whole ticks. `resume(phase, now_s, green_s)` is sim/field.py's hand-back: the
    program continues that green for what is left of it (its duration, at most the phase's max
    green, less the `green_s` already shown, at least a tick), then its own order."""

    def __init__(self, j: Intersection) -> None:
        self.segments: list[tuple[str, int | None, float]] = []  # (state, green phase or None, seconds)
        n = len(j.phases)
        self.max_green_s = [p.max_green_s for p in j.phases]
        for k, p in enumerate(j.phases):
            self.segments.append((p.state, k, whole_s(p.min_green_s)))
            nxt = (k + 1) % n
            if j.intergreen_s(k, nxt) > 0:
                keep = j.phases[nxt].green_links()
                yellow = "".join(
                    ch if (ch in GREEN and i in keep) else ("y" if ch in GREEN else "r") for i, ch in enumerate(p.state)
                )
                self.segments.append((yellow, None, max(whole_s(j.yellow_s), TICK_S)))
                if j.all_red_between_s(k, nxt) > 0:
                    all_red = "".join(ch if (ch in GREEN and i in keep) else "r" for i, ch in enumerate(p.state))
                    self.segments.append((all_red, None, whole_s(j.all_red_between_s(k, nxt))))
        self.pos, self.start_s = 0, 0.0

    def advance(self, now_s: float) -> None:
        while now_s - self.start_s >= self.segments[self.pos][2]:
            self.start_s += self.segments[self.pos][2]
            self.pos = (self.pos + 1) % len(self.segments)

    def resume(self, phase: int | None, now_s: float, green_s: float) -> None:
        if phase is not None:
            self.pos = next(i for i, s in enumerate(self.segments) if s[1] == phase)
            duration_s = self.segments[self.pos][2]
            left_s = max(TICK_S, min(duration_s, self.max_green_s[phase]) - green_s)
            self.start_s = now_s + left_s - duration_s

    @property
    def state(self) -> str:
        return self.segments[self.pos][0]

    def phase_and_spent(self, now_s: float) -> tuple[int | None, float]:
        return self.segments[self.pos][1], now_s - self.start_s


@dataclass
class Run:
    """What one junction showed, second by second, and what the chain said."""

    shown: list[str] = field(default_factory=list)
    central: list[bool] = field(default_factory=list)  # the roadside (not the program) chose the signal
    commands: int = 0
    refusals: int = 0
    overrides: list[str] = field(default_factory=list)  # the roadside's "limit: ..." faults: it had to step in


def run_chain(j: Intersection, policy: Policy, feed: Feed, duration_s: int) -> Run:
    """The closed loop for `duration_s` seconds: feed -> core (policy, gate) -> roadside -> shown."""
    core = Core({j.id: Layout.build(j, CFG)}, policy, CFG)
    state = core.initial_state(0.0)
    rc = RoadsideController(j, backup_s=CFG.roadside.backup_s)
    local = LocalProgram(j)
    status = rc.status(0.0)
    run = Run()
    for t in range(1, duration_s + 1):
        now = float(t)
        state, result = core.step(state, feed.snapshots(j, now), [status], now)
        for r in result.refusals:
            assert r.reason, "a refusal without a reason"
        run.refusals += len(result.refusals)
        for cmd in result.commands:
            assert rc.receive(cmd, now) == "", "the roadside refused what the gate let out"
        run.commands += len(result.commands)
        local.advance(now)
        phase, spent = local.phase_and_spent(now) if rc.mode == "local" else (None, 0.0)
        shown = rc.tick(now, phase, spent)
        if shown is None and run.central and run.central[-1]:
            local.resume(rc.green_phase(), now, rc.status(now).time_in_phase_s)  # hand-back (sim/field.py)
        run.shown.append(local.state if shown is None else shown)
        run.central.append(shown is not None)
        status = rc.status(now)
        run.overrides.extend(f for f in status.faults if f.startswith("limit") and f not in run.overrides)
    return run


def phase_of(j: Intersection, state: str) -> int | None:
    """The green stage a signal state shows, or None for an intergreen state."""
    return next((k for k, p in enumerate(j.phases) if p.state == state), None)


def check_no_conflicting_greens(j: Intersection, run: Run) -> None:
    """No movement green while a conflicting one is green or yellow."""
    for t, s in enumerate(run.shown, start=1):
        lit = {
            m.id: "green" if any(s[i] in GREEN for i in m.links) else "yellow"
            for m in j.movements
            if any(s[i] in GREEN or s[i] == "y" for i in m.links)
        }
        for a, b in combinations(lit, 2):
            if b in j.movement(a).conflicts and "green" in (lit[a], lit[b]):
                raise AssertionError(f"t={t}: {a} {lit[a]} with conflicting {b} {lit[b]} ({s})")


@dataclass
class Stretch:
    """Consecutive seconds showing one green stage (`phase`), or one intergreen (phase None)."""

    phase: int | None
    first_t: int  # index into Run.shown
    seconds: int
    central: bool  # the roadside chose the signal throughout
    ended_centrally: bool = False  # the change that ended it was the roadside's


def stretches(j: Intersection, run: Run) -> list[Stretch]:
    out: list[Stretch] = []
    for t, (s, central) in enumerate(zip(run.shown, run.central)):
        k = phase_of(j, s)
        if out and out[-1].phase == k:
            out[-1].seconds += 1
            out[-1].central = out[-1].central and central
            continue
        if out:
            out[-1].ended_centrally = central
        out.append(Stretch(k, t, 1, central))
    return out


def check_intergreens(j: Intersection, run: Run) -> None:
    """Between two green stages: at least the model's intergreen, its yellow and its all-red;
    none where the model has none."""
    seq = stretches(j, run)
    for prev, cur, nxt in zip(seq, seq[1:], seq[2:]):
        if cur.phase is not None or prev.phase is None or nxt.phase is None:
            continue
        a, b, n, at = prev.phase, nxt.phase, cur.seconds, cur.first_t + 1
        yellow = sum("y" in s for s in run.shown[cur.first_t : cur.first_t + n])
        assert n >= j.intergreen_s(a, b) - EPS, f"t={at}: intergreen {a}->{b} {n} s < {j.intergreen_s(a, b)} s"
        assert yellow >= min(j.yellow_s, n) - EPS, f"t={at}: yellow {yellow} s < {j.yellow_s} s"
        assert n - yellow >= j.all_red_between_s(a, b) - EPS, (
            f"t={at}: all-red {n - yellow} s < {j.all_red_between_s(a, b)} s"
        )
    for prev, cur in pairwise(seq):
        if prev.phase is not None and cur.phase is not None:
            assert j.intergreen_s(prev.phase, cur.phase) == 0.0, (
                f"t={cur.first_t + 1}: green {prev.phase} -> {cur.phase} with no intergreen"
            )


def check_greens(j: Intersection, run: Run) -> None:
    """A green ended by the roadside lasted its minimum; one chosen by the roadside throughout
    lasted at most its maximum, plus the tick a decision takes. (The first and last stretch
    are cut by the run.)"""
    for st in stretches(j, run)[1:-1]:
        if st.phase is None:
            continue
        p, at = j.phases[st.phase], st.first_t + 1
        if st.ended_centrally:
            assert st.seconds >= p.min_green_s - EPS, (
                f"t={at}: phase {st.phase} green {st.seconds} s < min {p.min_green_s} s"
            )
        if st.central:
            assert st.seconds <= p.max_green_s + TICK_S + EPS, (
                f"t={at}: phase {st.phase} green {st.seconds} s > max {p.max_green_s} s"
            )


def check_max_red(j: Intersection, run: Run) -> None:
    """No movement red (yellow counted as red) longer than max_red_s plus a tick, or than the
    starvation bound where max_red_s is below it."""
    bound = max(j.max_red_s, starvation_bound_s(j))
    for m in j.movements:
        red = 0
        for t, s in enumerate(run.shown, start=1):
            red = 0 if any(s[i] in GREEN for i in m.links) else red + 1
            assert red <= bound + TICK_S + EPS, f"t={t}: {m.id} red {red} s > {bound} s (max_red_s {j.max_red_s})"


def check_sequence(j: Intersection, run: Run, max_red: bool = True) -> None:
    """No conflicting greens, intergreens, min/max green and, with `max_red`, max red (module
    doc of the tests; on a junction whose max_red_s is below the starvation bound, that bound).
    Callers pass max_red=False where it is not promised: an infeasible junction under a
    policy, and feeds with gaps (the gate plans on stale readings; module doc of
    tests/unit/test_safety_properties.py)."""
    check_no_conflicting_greens(j, run)
    check_intergreens(j, run)
    check_greens(j, run)
    if max_red:
        check_max_red(j, run)

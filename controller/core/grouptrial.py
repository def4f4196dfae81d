"""A group of lights on the city's plan, tried against the policy by what it serves ([harm] group_trial).

Contract. A group is a set of neighbouring lights (a movement of one exits onto an approach of
the other: step._plan_neighbours) whose programs run one cycle (within pairs.TIMELINE_TOLERANCE_S):
the city timed them for each other, so their plan is worth what its offsets give, which no
per-light verdict can build (BENCHMARKS.md, issue 9, G sessions 49-50). The group is a unit: the
policy runs it, or every light runs its own program on its own clock (pairs.program_wish, through
the gate). What decides is what the stop-line loops count: the crossings of the group's stop lines
in PCU (Estimate.departures_pcu, summed over its lights), a rate over whole cycles of its program.

The schedule, in cycles C of the group's program (`params`: HarmParams):
- the side kept (first: the policy) is counted over the `group_trial_cycles` cycles before a trial
  is due (the first from one cycle after the start, to leave the network's filling out);
- the plan is tried only where the policy's wait at the loops (Little: the group's queue at its
  loops, PCU-seconds, over the PCU crossed) exceeds the least the plan's own greens can give
  (Webster 1958's uniform delay at no load, C (1 - g/C)^2 / 2 per movement, weighted by the PCU
  each crossed): elsewhere no timing of the plan can serve the traffic with less waiting, and the
  window is counted again; and only where the group held, on average over that window, at least
  `group_trial_hidden_pcu` PCU upstream of its advance loops (the estimator's hidden queue: demand
  its loops cannot count; where none waits there the policy serves what arrives, and a trial only
  costs); and, with `group_trial_green`, only where the plan's greens give the group's
  lanes at least the green lane-seconds a second the policy showed them over that window (the roadside's
  status: green_lanes): a plan that shows less green can cross more only by crossing more a green
  second, and where it shows much less (a short cycle, its intergreens a large share of it) a trial
  only costs what it loses while it runs, which on an oversaturated group is never made up; and,
  with `group_trial_min_degree`, only where the policy's window crossed at least that fraction of
  what its green could cross (the degree of saturation of the green shown: the PCU crossed over the
  saturation flow of the lanes green, by the roadsides' statuses, integrated: Count.degree): where
  the group's green stands mostly unused, its lanes empty or blocked at their exits, the green is
  not what limits its crossings, and a plan that times the same green otherwise has nothing to win;
- a trial hands the group to the other side at once (the plan on its clocks, or the policy); its
  first cycle is not counted (it serves the queues the other side left, and the plan's lights jump
  to their clocks); after one cycle counted, the side on trial is ended early if it serves
  significantly less; after `group_trial_cycles` cycles counted the plan is kept only if it served
  significantly more than the policy, else the policy is (the service's own side wins a tie);
- "significantly": the difference of the two rates beyond `group_trial_z` standard errors, each
  count taken as a Poisson count (variance = the count);
- the side not kept is tried again after `group_trial_retry_cycles` cycles, doubled after each trial
  it loses in a row (a change of demand is caught; a side that keeps losing costs ever less).

Example: a group of cycle 90 s, 2 cycles, z = 2: the policy counted 300 PCU from 90 to 270 s
(100 PCU/min); the plan runs from 270 s and counts 370 PCU from 360 to 540 s (123.3 PCU/min); the
difference, 23.3 PCU/min, is beyond 2 x sqrt(300 + 370) / 3 min = 17.3 PCU/min: the plan is kept,
and the policy tried again at 540 + 900 = 1,440 s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from controller.core.pairs import TIMELINE_TOLERANCE_S, short_groups
from controller.core.shadow import Program

Side = Literal["policy", "plan"]


@dataclass(frozen=True)
class Group:
    """Neighbouring lights whose programs run one cycle (`cycle_s`); `name`: its first light's id."""

    name: str
    lights: tuple[str, ...]
    cycle_s: float


def find(neighbours: Mapping[str, frozenset[str]], cycles_s: Mapping[str, float]) -> tuple[Group, ...]:
    """The groups of lights joined through neighbours (`neighbours`: per light, the lights it feeds
    or is fed by) whose programs' cycles (`cycles_s`, s) are one (within TIMELINE_TOLERANCE_S), of
    two lights or more, in order of their names. A light in none is left to the policy and do no harm."""
    links = [
        (a, b)
        for a, near in neighbours.items()
        for b in near
        if a in cycles_s and b in cycles_s and abs(cycles_s[a] - cycles_s[b]) <= TIMELINE_TOLERANCE_S
    ]
    comps = sorted(set(short_groups(links).values()))
    return tuple(Group(g[0], g, cycles_s[g[0]]) for g in comps)


def green_lanes(program: Program, lane_green: np.ndarray) -> float:
    """The lanes the program's greens show green, on average over its cycle (green lane-seconds a
    second); `lane_green` (phases, lanes): a lane is green in the phase (Layout.lane_green)."""
    starts = np.concatenate(([0.0], np.asarray(program.ends_s[:-1])))
    lengths_s = np.asarray(program.ends_s) - starts
    lit = np.asarray([lane_green[k].sum() if k >= 0 else 0.0 for k in program.phases], dtype=float)
    return float(lengths_s @ lit / program.cycle_s)


def uniform_wait_s(program: Program) -> np.ndarray:
    """Per movement, the least mean wait (s) the program's greens give a vehicle arriving at random:
    Webster's (1958) uniform delay at no load, C (1 - lambda)^2 / 2, lambda the movement's share of
    the cycle served (a permissive second at its service ratio)."""
    starts = np.concatenate(([0.0], np.asarray(program.ends_s[:-1])))
    lengths_s = np.asarray(program.ends_s) - starts
    served = program.service_or_red[np.asarray(program.phases)]  # (segments, movements); -1: the zero row
    share = np.clip(lengths_s @ served / program.cycle_s, 0.0, 1.0)
    out: np.ndarray = program.cycle_s * (1.0 - share) ** 2 / 2.0
    return out


@dataclass(frozen=True)
class Count:
    """Stop-line crossings counted over a window: `pcu` in `s` seconds; `queue_pcu_s`: the group's
    queue at its loops (Estimate.queue_pcu, summed) integrated over the window; `floor_pcu_s`: the
    plan's least wait (uniform_wait_s) of each PCU crossed, summed; `hidden_pcu_s`: the group's hidden
    queue (upstream of its advance loops, LaneState.hidden_pcu, summed) integrated over the window;
    `green_lane_s`: the group's lanes green (the roadside's status) integrated over the window
    ([harm] group_trial_green; 0: not measured); `green_sat_pcu`: the saturation flow of the lanes
    green integrated over the window, the PCU the green shown could cross ([harm] group_trial_min_degree;
    0: not measured)."""

    pcu: float
    s: float
    queue_pcu_s: float = 0.0
    floor_pcu_s: float = 0.0
    hidden_pcu_s: float = 0.0
    green_lane_s: float = 0.0
    green_sat_pcu: float = 0.0

    @property
    def degree(self) -> float:
        """The degree of saturation of the green shown: the PCU crossed over what it could cross (inf: not measured)."""
        return self.pcu / self.green_sat_pcu if self.green_sat_pcu > 0 else math.inf

    @property
    def pcu_min(self) -> float:
        return 60.0 * self.pcu / self.s if self.s > 0 else 0.0

    @property
    def wait_s(self) -> float:
        """The mean wait at the loops of a PCU crossed (Little: the queue's PCU-seconds over the PCU crossed)."""
        return self.queue_pcu_s / self.pcu if self.pcu > 0 else math.inf

    @property
    def floor_s(self) -> float:
        """The least mean wait the plan's greens could give the PCU crossed (uniform_wait_s, weighted)."""
        return self.floor_pcu_s / self.pcu if self.pcu > 0 else math.inf

    def text(self) -> str:
        green = f"; green {self.green_lane_s / self.s:.1f} lanes" if self.green_lane_s > 0 and self.s > 0 else ""
        green += f", degree {self.degree:.2f}" if self.green_sat_pcu > 0 else ""
        hidden = self.hidden_pcu_s / self.s if self.s > 0 else 0
        return (
            f"{self.pcu_min:.1f} PCU/min (wait at the loops {self.wait_s:.0f} s/PCU, the plan's least "
            f"{self.floor_s:.0f}; hidden {hidden:.1f} PCU{green}) over {self.s:.0f} s"
        )


@dataclass(frozen=True)
class TrialState:
    """One group's trial: who runs it now (`running`), who won the last comparison (`kept`), since
    when, the window counted now (from `mark_s`, the crossings then `mark_pcu`; inf: not begun), the
    kept side's last count (`kept_count`), when the other side is tried next, the trials it lost in
    a row, and why the group runs what it runs (for the report)."""

    running: Side
    kept: Side
    since_s: float
    mark_s: float
    mark_pcu: float
    next_trial_s: float
    kept_count: Count | None = None
    losses: int = 0
    why: str = ""
    t_s: float = math.nan  # the last tick's time (nan: none yet)
    queue_pcu_s: float = 0.0  # the group's queue at its loops integrated since the start (PCU-seconds)
    mark_queue_pcu_s: float = 0.0  # ... at mark_s
    mark_floor_pcu_s: float = 0.0  # the crossings' floor_pcu_s (cumulative) at mark_s
    hidden_total_pcu_s: float = 0.0  # the group's hidden queue integrated since the start (PCU-seconds)
    mark_hidden_pcu_s: float = 0.0  # ... at mark_s
    green_total_lane_s: float = 0.0  # the group's lanes green integrated since the start (lane-seconds)
    mark_green_lane_s: float = 0.0  # ... at mark_s
    green_sat_total_pcu: float = 0.0  # the saturation flow of the lanes green integrated since the start (PCU)
    mark_green_sat_pcu: float = 0.0  # ... at mark_s


def start(group: Group, now_s: float, cycles: float) -> TrialState:
    """The policy runs the group; it is counted from one cycle after now, the plan tried after `cycles` more."""
    return TrialState("policy", "policy", now_s, math.inf, 0.0, now_s + (cycles + 1.0) * group.cycle_s)


SETTLE_CYCLES = 1.0  # a trial's first cycle, not counted: the queues the other side left, the jump to the clocks


def _other(side: Side) -> Side:
    return "plan" if side == "policy" else "policy"


def better(a: Count, b: Count, z: float) -> int:
    """+1: `a` crossed significantly more a second than `b` (beyond z standard errors of the difference,
    each a Poisson count); -1: significantly less; 0: neither."""
    if a.s <= 0 or b.s <= 0:
        return 0
    diff = a.pcu / a.s - b.pcu / b.s
    se = math.sqrt(max(a.pcu, 0.0) / a.s**2 + max(b.pcu, 0.0) / b.s**2)
    if diff > z * se:
        return 1
    if -diff > z * se:
        return -1
    return 0


def advance(
    st: TrialState,
    group: Group,
    crossed_pcu: float,
    floor_pcu_s: float,
    queue_pcu: float,
    now_s: float,
    cycles: float,
    retry_cycles: float,
    z: float,
    hidden_pcu: float = 0.0,
    hidden_min_pcu: float = 0.0,
    green_lanes_now: float = 0.0,
    plan_green_lanes: float = math.inf,
    green_sat_pcu_s_now: float = 0.0,
    min_degree: float = 0.0,
) -> tuple[TrialState, str | None]:
    """The group's trial state at now_s, given its stop-line crossings so far (PCU, cumulative), the
    plan's least wait of each (s, summed: uniform_wait_s, cumulative) and its queue at the loops now
    (PCU), and the reason when a trial begins or ends this tick (None: neither). `hidden_pcu`: its
    hidden queue now (PCU); a trial of the plan needs at least `hidden_min_pcu` of it on average.
    `green_lanes_now`: its lanes green now (the roadside's status); a trial of the plan needs the policy's
    window to have shown no more green lanes on average than `plan_green_lanes` (the plan's: green_lanes;
    inf: no gate).
    `green_sat_pcu_s_now`: the saturation flow of those lanes (PCU/s); a trial of the plan needs the
    policy's window to have crossed at least `min_degree` of it integrated (Count.degree; 0: no gate)."""
    dt_s = 0.0 if math.isnan(st.t_s) else max(now_s - st.t_s, 0.0)
    st = replace(
        st,
        t_s=now_s,
        queue_pcu_s=st.queue_pcu_s + queue_pcu * dt_s,
        hidden_total_pcu_s=st.hidden_total_pcu_s + hidden_pcu * dt_s,
        green_total_lane_s=st.green_total_lane_s + green_lanes_now * dt_s,
        green_sat_total_pcu=st.green_sat_total_pcu + green_sat_pcu_s_now * dt_s,
    )
    hid, green, sat = st.hidden_total_pcu_s, st.green_total_lane_s, st.green_sat_total_pcu
    gates = (hidden_min_pcu, plan_green_lanes, min_degree)
    nxt, why = _advance(st, group, crossed_pcu, floor_pcu_s, now_s, cycles, retry_cycles, z, gates)
    if nxt.hidden_total_pcu_s != hid or nxt.green_total_lane_s != green or nxt.green_sat_total_pcu != sat:
        nxt = replace(nxt, hidden_total_pcu_s=hid, green_total_lane_s=green, green_sat_total_pcu=sat)
    return nxt, why


def _advance(
    st: TrialState,
    group: Group,
    crossed_pcu: float,
    floor_pcu_s: float,
    now_s: float,
    cycles: float,
    retry_cycles: float,
    z: float,
    gates: tuple[float, float, float],
) -> tuple[TrialState, str | None]:
    c = group.cycle_s
    if st.running == st.kept:
        return _while_kept(st, group, crossed_pcu, floor_pcu_s, now_s, cycles, gates)
    kept = st.kept_count
    if kept is None:  # not reached: a trial begins with the kept side's count (_while_kept)
        return st, None
    if math.isinf(st.mark_s):  # its settling cycle
        if now_s >= st.since_s + SETTLE_CYCLES * c:
            st = _marked(st, now_s, crossed_pcu, floor_pcu_s)
        return st, None
    on_trial = _count(st, crossed_pcu, floor_pcu_s, now_s)
    return _on_trial(st, kept, group, on_trial, now_s, cycles, retry_cycles, z)


def _while_kept(
    st: TrialState,
    group: Group,
    crossed_pcu: float,
    floor_pcu_s: float,
    now_s: float,
    cycles: float,
    gates: tuple[float, float, float] = (0.0, math.inf, 0.0),
) -> tuple[TrialState, str | None]:
    """The side kept runs: counted over the cycles before the trial due, which then begins; a trial
    of the plan only where the policy's wait exceeds the plan's least (Count.floor_s), the group held
    `gates[0]` PCU hidden on average, showed no more green lanes on average than the plan's
    `gates[1]` (green_lanes) and used its green at a degree of at least `gates[2]` (Count.degree),
    else the window is counted again."""
    c = group.cycle_s
    if math.isinf(st.mark_s) and now_s >= st.next_trial_s - cycles * c:
        st = _marked(st, now_s, crossed_pcu, floor_pcu_s)
    if now_s < st.next_trial_s or math.isinf(st.mark_s) or now_s <= st.mark_s:
        return st, None
    kept = _count(st, crossed_pcu, floor_pcu_s, now_s)
    hidden_min_pcu, plan_green, min_degree = gates
    gated = kept.wait_s <= kept.floor_s or kept.hidden_pcu_s < hidden_min_pcu * kept.s
    gated = gated or kept.green_lane_s > plan_green * kept.s or kept.degree < min_degree
    if st.kept == "policy" and gated:
        return replace(_marked(st, now_s, crossed_pcu, floor_pcu_s), next_trial_s=now_s + cycles * c), None
    trial = _other(st.kept)
    why = f"{_title(group)}: {_name(trial)} on trial; {_name(st.kept)} crossed {kept.text()}"
    return TrialState(trial, st.kept, now_s, math.inf, 0.0, math.inf, kept, st.losses, why, now_s, st.queue_pcu_s), why


def _on_trial(
    st: TrialState,
    kept: Count,
    group: Group,
    on_trial: Count,
    now_s: float,
    cycles: float,
    retry_cycles: float,
    z: float,
) -> tuple[TrialState, str | None]:
    """A side on trial, counted `on_trial` so far against the side kept's `kept`: ended early after one
    cycle where it serves significantly less, decided after `cycles`; the side kept again."""
    c = group.cycle_s
    if on_trial.s < c:
        return st, None
    if better(on_trial, kept, z) >= 0 and on_trial.s < cycles * c:
        return st, None
    plan, policy = (on_trial, kept) if st.running == "plan" else (kept, on_trial)
    winner: Side = "plan" if better(plan, policy, z) > 0 else "policy"
    losses = 0 if winner == st.running else st.losses + 1
    retry_s = retry_cycles * c * (2.0 ** max(losses - 1, 0))
    why = f"{_title(group)}: {_name(winner)} kept; the plan crossed {plan.text()}, the policy {policy.text()}"
    nxt = TrialState(winner, winner, now_s, math.inf, 0.0, now_s + retry_s, None, losses, why, now_s, st.queue_pcu_s)
    return nxt, why


def _title(group: Group) -> str:
    return f"group {group.name} ({len(group.lights)} lights, cycle {group.cycle_s:.0f} s)"


def _marked(st: TrialState, now_s: float, crossed_pcu: float, floor_pcu_s: float) -> TrialState:
    """A window counted from now_s."""
    return replace(
        st,
        mark_s=now_s,
        mark_pcu=crossed_pcu,
        mark_queue_pcu_s=st.queue_pcu_s,
        mark_floor_pcu_s=floor_pcu_s,
        mark_hidden_pcu_s=st.hidden_total_pcu_s,
        mark_green_lane_s=st.green_total_lane_s,
        mark_green_sat_pcu=st.green_sat_total_pcu,
    )


def _count(st: TrialState, crossed_pcu: float, floor_pcu_s: float, now_s: float) -> Count:
    """The window counted since st.mark_s."""
    return Count(
        crossed_pcu - st.mark_pcu,
        now_s - st.mark_s,
        st.queue_pcu_s - st.mark_queue_pcu_s,
        floor_pcu_s - st.mark_floor_pcu_s,
        st.hidden_total_pcu_s - st.mark_hidden_pcu_s,
        st.green_total_lane_s - st.mark_green_lane_s,
        st.green_sat_total_pcu - st.mark_green_sat_pcu,
    )


def _name(side: Side) -> str:
    return "the city's plan on its clocks" if side == "plan" else "the policy"

"""Do no harm: per junction, back to the city's fixed plan when the policy is estimated worse.

Every tick the junction's fixed-time shadow (controller/core/shadow.py) replays, under the
measured arrivals, the city's own program beside the greens actually shown (observe_all: every
junction in one pass, controller/core/netshadow.py). The replay sees spill-back between
junctions (`spill_back`): the controlled side discharges with the exit blockage the estimator
measures; the fixed side keeps of it only what its own replay of the neighbours' approaches
explains (netshadow.fixed_block), so a policy whose queues fill its neighbours' approaches and
block the junctions upstream is charged that blockage, and the fixed plan is not. From the
replay, a junction is in one of two modes:

- "policy": the policy's commands go out. A cumulative-sum test runs on the two replayed queues:
      S = max(0, S + (q_controlled - (1 + margin) q_fixed - margin_s x demand) dt / (demand x window_s)),
  the delay the greens shown cost beyond what the fixed plan would have cost plus the margin (the
  estimate's own error), per PCU of one window's demand, summed while it keeps accruing. When S
  reaches `excess_budget_s` and the policy is also worse beyond the margin over the evidence
  window (delay_controlled > delay_fixed x (1 + margin) + margin_s: still losing now), with at
  least `min_policy_s` under the policy and a measured demand of at least `min_demand_pcu_h`, the
  junction switches to "fixed". A large loss is caught in minutes, a small sustained one (above
  the margin) later, a loss within the margin never.
- "fixed": the core withdraws control (step.py: the command in force is re-sent once, expiring
  at the next tick, then nothing), so the roadside controller runs its local program, the
  city's plan. The policy is still asked to decide (its state stays current); its wishes are not
  sent. Both sides of the replay now show the same plan, so the replay can give no evidence for
  coming back. The junction is held fixed for `hold_s` (doubled after each relapse, a switch to
  fixed after a return, up to `hold_max_s`). After the hold, a junction that has lost at most
  `timed_returns` times in a row goes back to the policy (default 0: none does). The others
  record their demand when the hold ended (the replay's arrivals, measured under the fixed plan)
  and go back only when that demand has moved by more than `demand_shift` (a share): the
  evidence that the conditions the policy lost in have changed. A junction that has lost
  `max_losses` times in a row (> 0; default 0, no limit) stays on the city's plan. A policy that stays in force
  for `hold_max_s` is forgiven its relapses.
- The network: when at least `network_share` of the junctions are in fixed mode, the policy
  has lost at most of them and is judged for the network: every other junction that has been
  under it for `min_policy_s` goes to fixed too (network_verdict; step.py on the last tick's
  modes), each as after a verdict of its own.
- With `validate_return`, a return that falls due waits in fixed mode (`return_due`) until the
  adapter calls `approve` (back at the next tick) or `reject` (a relapse: a new, doubled hold).

At each change of mode the evidence restarts (shadow.restart_evidence, S = 0): the next verdict
rests only on what the policy did since it took over. With `evidence_from_first_command` it
starts, and min_policy_s counts, from the policy's first command to the junction (first_command):
before it the city's own program runs, not the policy's doing, and nothing is charged or judged.

Example: window_s 900, excess_budget_s 5, demand 3,600 PCU/h (1 PCU/s): S reaches 5 s/PCU after
4,500 PCU s of excess. A policy whose replayed queue stands 16 PCU above 1.2x the fixed plan's
(and 1 PCU for margin_s) is switched after 4,500 / 15 = 300 s, with the reason "policy worse
than the fixed plan: 5.0 s/PCU of delay beyond the margin in 300 s, 40% over the window (...)",
and stays fixed until its demand moves by 30 % from what it is when the 900 s hold ends.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Literal

import numpy as np

from controller.core import netestimate, netshadow, shadow
from controller.core.cuts import Joined, record_of
from controller.core.estimation import Estimate, EstimationParams, Layout
from controller.core.frozen import copier
from controller.model import SignalStatus

Mode = Literal["policy", "fixed"]


@dataclass(frozen=True)
class HarmParams:
    """config.toml [harm], validated by controller/config.py. Physical meanings in the module doc
    and in config.toml."""

    enabled: bool = True
    window_s: float = 900.0  # time constant of the evidence (forgetting sums of the replay)
    margin: float = 0.2  # the policy may cost this share more delay than the fixed plan ...
    margin_s: float = 1.0  # ... plus this many seconds per PCU, before its excess counts
    excess_budget_s: float = 5.0  # judged worse once its excess adds up to this per PCU of one window's demand
    min_policy_s: float = 300.0  # evidence gathered under the policy before it is judged
    min_demand_pcu_h: float = 100.0  # below this measured demand a junction is never judged
    hold_s: float = 900.0  # time in fixed mode before the policy is tried again ...
    hold_max_s: float = 3600.0  # ... doubled after each relapse, up to this
    timed_returns: int = 0  # returns on the hold's timer before a repeat offender waits for a demand shift
    demand_shift: float = 0.3  # a repeat offender comes back when the demand changed by this share since its hold
    # after this many verdicts in a row against the policy (relapses), the junction stays on the
    # city's plan: no return on a demand shift either (0: no limit)
    max_losses: int = 0
    # the replay's discharge (shadow.py), HCM's effective green g = G - l1 + e
    startup_lost_s: float = 2.0  # l1: start-up lost time at a green's onset
    extension_s: float = 2.0  # e: discharge goes on this long into the yellow
    # a return to the policy waits in fixed mode (JunctionReport.return_due) until the adapter
    # calls approve (back to the policy) or reject (a relapse: the hold doubles)
    validate_return: bool = False
    # the policy judged for the network: when at least this share of the guarded junctions are in
    # fixed mode, the others follow (each after min_policy_s under the policy); 0: never
    network_share: float = 0.5
    # the fixed side's exit blockage from its own replay of the neighbours' approaches
    # (netshadow.fixed_block); false: the blockage measured under the policy, on both sides
    spill_back: bool = True
    # a fall of the demand brings a repeat offender back only while no lane of the junction holds
    # a hidden queue (an approach overrun: the loops count what the jam lets through, not demand)
    fall_needs_room: bool = False
    # the replay discharges the movements that share a lane as one queue (shadow.pooled_served);
    # false: each movement its own point queue, its arrivals and saturation flow its share of the lane's
    shared_lane_queue: bool = False
    # the replay discharges without the blockage measured on a lane whose movements the phase it is
    # learnt in does not all serve (a lane mate at red at its head: head of line, not an exit
    # blocked; shadow.exit_block_lanes); false: every lane's, as the estimator's Estimate.block
    head_of_line: bool = False
    # with spill_back: on an approach the fixed side's replay keeps within its storage, the
    # controlled side's queue beyond the approach is at least the growth of the estimator's hidden
    # queue there since the policy took over (measured under the greens shown, upstream of the
    # advance loops; what stood there when it took over is not its doing: spill_growth_pcu)
    measured_spill: bool = False
    # with spill_back: the spill charge counts a side's queue only beyond its approach's storage and the
    # room of the approach's own road upstream of its advance loops (shadow.approach_room_pcu: back to the
    # first node where other streams merge or cross; unbounded at a network entry): within that room
    # the spill holds no traffic but the approach's own, whose wait the queue already counts. false:
    # beyond the storage
    spill_room: bool = False
    # the fixed side runs the junction's program_timeline (the city's program with its own
    # transitions, as the roadside reports it) where the junction file has one; false: the base program
    program_timeline: bool = True
    # a lock: a movement that stood this many seconds at a protected green (a vehicle on its stop-line
    # loop, none crossing; summed since one last crossed: standing_green_s) sends its junction to
    # the city's plan at once (the replay cannot see a lock: it starves the arrivals of both
    # sides alike). 0: off
    lock_green_s: float = 0.0
    # ... when at least this many of the junction's movements have each stood lock_green_s so at
    # once (a box lock holds several streams; one movement standing can be a slow exit). 1: one
    lock_movements: int = 1
    # the lights joined by a short link (one a minimum green fills: keepclear.ShortLinks, or a
    # `paired` light) go to the city's plan together and leave it together: while one of them is
    # in fixed mode the others are held on their own programs too (pairs.short_groups, step.py)
    short_pair_together: bool = True
    # a junction in fixed mode beside a neighbour in fixed mode too (a movement of one exits onto the other's
    # approach: step._plan_neighbours) is sent the stage its program shows on its own clock (pairs.program_wish,
    # through the gate), as a short group's light is, so that the two keep the offsets the city gave them; false
    # (and a light on its plan alone): withdrawn, the roadside resumes its program from the stage showing, shifted
    on_clock: bool = False
    # the loops bound the replay: on a movement with loops that see room (no hidden queue), the
    # controlled side's replayed queue above the estimator's (Estimate.queue_pcu, measured under the
    # greens shown) is the replay's own error (its discharge slower than the street's), and the same
    # discharge model runs the fixed side: the cumulative sum and the window leave that excess out of
    # the controlled side and as much of the fixed side's queue (trim_pcu). false: the replay's queues
    # are charged as replayed
    measured_queue_bound: bool = False
    # a junction's evidence and its min_policy_s start at the policy's first command to it
    # (first_command): before it the city's own program runs, which is not the policy's doing, so
    # no verdict and no charge; false (as shipped): from the start (the core's first tick)
    evidence_from_first_command: bool = False
    # the fixed side's exit blockage per movement from what the estimator measured while the city's
    # program ran at the junction (fixed mode, or before the policy's first command): its blockage at
    # a queued protected green, once the movement has had one blockage window ([estimation]
    # block_window_s) of queued green under the program (the estimator's reading then no longer
    # carries the policy's), forgotten over window_s; in proportion to that evidence (one blockage
    # window's worth: in full), the spill_back rule (or, without it, the blockage measured under the
    # policy) for the rest (plan_blocks). false: the spill_back rule alone
    plan_block: bool = False
    # the fixed side's arrivals at an approach a signalised neighbour feeds (a movement of its whose
    # exit edge is the approach) are the measured ones plus what the neighbour's fixed side
    # discharged towards it beyond its controlled side, counted at the advance loops a tick later
    # (netshadow.Inflow, shadow.fixed_arrivals): the city's plan upstream would have sent other
    # traffic, at other times. false: the measured arrivals on both sides
    upstream_arrivals: bool = False
    # the loops floor the controlled side's replay: per movement with loops, its queue is at least
    # the estimator's (Estimate.queue_pcu, measured under the greens shown) less what the replay still
    # has in transit to the stop line (shadow.floor_controlled): the greens shown did not discharge a
    # queue the loops still measure (the replay's blocked discharge is faster than a blocked lane's).
    # false: the controlled side as replayed
    measured_queue_floor: bool = False
    # the loops calibrate the blocked discharge on both sides: per movement, how much of the flow one unit
    # of measured exit blockage takes, fitted from the stop-line loops' counts under the controlled side's
    # queued protected greens with the saturation flow's own error apart (shadow.learn_blocked,
    # blocked_ratio: beta, 1 without strong evidence), and each side discharges at s x (1 - beta x its own
    # blockage) (shadow.scaled_block: the measured on the controlled side, the explained on the fixed
    # side). false: s x (1 - the blockage)
    blocked_discharge: bool = False
    # blocked_discharge's evidence and bounds (shadow.BlockedFit, blocked_ratio): beta leaves 1 only as far
    # as the fit's estimate lies beyond this many standard errors (shrunk toward 1 otherwise) ...
    blocked_evidence_z: float = 2.0
    # ... and only after this many seconds of measured blockage under the queued protected greens it
    # reads (the blockage x the usable green, forgotten over window_s)
    blocked_min_s: float = 60.0
    # beta at most this: a second of measured blockage takes at most this many seconds of the street's
    # discharge (itself, and a restart of the queue behind it as long)
    blocked_ratio_max: float = 2.0
    # a scaled blockage takes at most this share of the saturation flow (a green keeps some discharge)
    blocked_share_max: float = 0.99
    # both sides discharge with the exit blockage of the last period (Estimate.block_now: on a lane at a queued
    # protected green, whether its stop-line loop stood; elsewhere the average), on the fixed side through the same
    # spill_back rule: the estimator's average over block_window_s of queued green lags a blockage that grows through
    # a green. false: the average (Estimate.block)
    block_now: bool = False
    # the fixed side's exit blockage, where its green is not the one shown at the same age, is the stop-line loops'
    # standing by the age of the green (learnt per movement under the queued protected greens shown), read at its own
    # green's age, before the spill_back rule; a green's age runs through a second blocked whole. false: the
    # blockage measured under the greens shown this second
    block_profile: bool = False
    # neighbouring lights whose programs run one cycle are a group (core/grouptrial.py): the group is run by the
    # policy or, every light at once, by the city's plan on its clocks (pairs.program_wish, through the gate),
    # whichever its stop-line loops count crossing more PCU a minute over whole cycles; the side not kept is tried
    # again on a schedule. false: each light judged on its own, as above
    group_trial: bool = True
    # group_trial: the cycles of its program over which each side is counted (a trial: the side on trial; the
    # side kept: the cycles before a trial)
    group_trial_cycles: float = 3.0
    # group_trial: the cycles after a trial before the side not kept is tried again, doubled after each trial
    # it loses in a row
    group_trial_retry_cycles: float = 10.0
    # group_trial: a side wins only by more than this many standard errors of the difference of the two
    # rates (each count a Poisson count); the policy wins a tie
    group_trial_z: float = 2.0
    # group_trial: the plan is tried only where the group held at least this many PCU upstream of its advance
    # loops on average over the policy's window (the estimator's hidden queue: demand its loops cannot count)
    group_trial_hidden_pcu: float = 1.0
    # group_trial: the plan is tried only where its greens show the group's lanes at least as much green (lanes
    # green, on average over its cycle) as the policy showed them over its window (the roadside's status).
    # false: no such gate
    group_trial_green: bool = True
    # group_trial: the plan is tried only where the policy's window crossed at least this fraction of the PCU its
    # green could cross (the degree of saturation of the green shown: the PCU crossed over the lanes green, by the
    # roadsides' statuses, at their saturation flows, integrated): where less, the group's green stands mostly
    # unused (its lanes empty, or blocked at their exits) and is not what limits its crossings. 0: no such gate
    group_trial_min_degree: float = 0.5
    # where a light's status names the city's program in force (a WAUT switches it) and the junction file gives
    # that program's base greens (`programs`), the replay's fixed side runs it once the status has named it for one
    # cycle of it; the mode and the evidence go on (step.Core._follow_programs). false: the static program
    follow_program_in_force: bool = False

    @property
    def blocked_fit(self) -> shadow.BlockedFit | None:
        """blocked_discharge's bounds for the replay (shadow.advance, netshadow.advance_all); None: off."""
        if not self.blocked_discharge:
            return None
        return shadow.BlockedFit(
            self.blocked_evidence_z, self.blocked_min_s, self.blocked_ratio_max, self.blocked_share_max
        )

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in (
                "enabled",
                "validate_return",
                "spill_back",
                "fall_needs_room",
                "shared_lane_queue",
                "head_of_line",
                "measured_spill",
                "spill_room",
                "program_timeline",
                "short_pair_together",
                "on_clock",
                "measured_queue_bound",
                "evidence_from_first_command",
                "plan_block",
                "upstream_arrivals",
                "measured_queue_floor",
                "blocked_discharge",
                "block_now",
                "block_profile",
                "group_trial",
                "group_trial_green",
                "follow_program_in_force",
            ):
                if not isinstance(v, bool):
                    raise ValueError(f"harm {f.name} must be true or false, got {v!r}")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"harm {f.name} must be a finite number >= 0, got {v!r}")
        if self.window_s <= 0:
            raise ValueError(f"harm window_s must be > 0, got {self.window_s!r}")
        if self.lock_movements < 1:
            raise ValueError(f"harm lock_movements must be >= 1, got {self.lock_movements!r}")
        if self.group_trial_cycles < 1 or self.group_trial_retry_cycles < self.group_trial_cycles:
            raise ValueError(
                "harm group_trial_cycles must be >= 1 and group_trial_retry_cycles >= it, got "
                f"{self.group_trial_cycles!r}, {self.group_trial_retry_cycles!r}"
            )
        if self.blocked_ratio_max < 1:
            raise ValueError(f"harm blocked_ratio_max must be >= 1 (the prior), got {self.blocked_ratio_max!r}")
        if not 0 < self.blocked_share_max < 1:
            raise ValueError(f"harm blocked_share_max must be > 0 and < 1, got {self.blocked_share_max!r}")
        for name in ("timed_returns", "max_losses", "lock_movements"):
            if getattr(self, name) != int(getattr(self, name)):
                raise ValueError(f"harm {name} must be a whole number, got {getattr(self, name)!r}")


def replay_program(layout: Layout, params: HarmParams, permitted_ratio: float) -> shadow.Program:
    """The junction's fixed-time replay data under do no harm's model (`params`: its discharge,
    shared lanes, program timeline and head of line) with a permitted turn's share of its
    saturation flow (`permitted_ratio`, [max_pressure] permitted_sat_ratio): the one build for
    step.Core and webster's `retime_on_evidence`."""
    return shadow.Program.build(
        layout,
        permitted_ratio,
        params.startup_lost_s,
        params.extension_s,
        params.shared_lane_queue,
        params.program_timeline,
        params.head_of_line,
        params.spill_room,
    )


@dataclass(frozen=True)
class Charge:
    """The queues accumulate charges one junction for one replay (charge_of): (FIXED, CONTROLLED)
    PCU, each side's replayed queues summed, and of them the PCU standing beyond their
    approach's storage where the loops see an approach overrun (spill_charge_pcu; 0 without
    spill_back), and the PCU of the queues left out as the replay's own error (trim_pcu; 0
    without measured_queue_bound)."""

    replay: shadow.Replay  # the replay it is for (accumulate compares the object)
    queue_pcu: tuple[float, float]
    spill_pcu: tuple[float, float]
    trim_pcu: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class HarmState:
    """One junction's mode and its evidence (the replay)."""

    replay: shadow.Replay
    mode: Mode = "policy"
    since_s: float = 0.0  # when the current mode began
    reason: str = ""  # why the last switch happened
    switches: int = 0  # switches to fixed
    relapses: int = 0  # switches to fixed since the policy last stayed in force hold_max_s
    hold_s: float = 0.0  # the hold of the current fixed mode
    demand_ref_pcu_h: float = 0.0  # a repeat offender: the replay's demand when its hold ended (0: not yet)
    excess_s: float = 0.0  # policy mode: the cumulative-sum test (s of excess delay per PCU of a window's demand)
    excess_t_s: float = 0.0  # the replay time it was last brought up to
    return_due: bool = False  # fixed mode: a return is due and waits for approve / reject (validate_return)
    return_reason: str = ""  # why the return is (or was last) due
    approved: bool = False  # the return was approved: the junction goes back to the policy at its next tick
    approach: np.ndarray | None = None  # (movements,) shadow.Program.approach, for the spill-back charge
    # policy mode, spill_back: forgetting sums (window_s) of the PCU s each side's queues stood beyond
    # their approaches' storage since the last change of mode, (FIXED, CONTROLLED)
    spill_pcu_s: tuple[float, float] = (0.0, 0.0)
    approach_storage_pcu: np.ndarray | None = None  # (approaches,) shadow.Program.approach_storage_pcu
    approach_room_pcu: np.ndarray | None = None  # (approaches,) shadow.Program.approach_room_pcu (spill_room)
    # (movements,) the estimator's hidden queue (upstream of the advance loops) at the replay's time
    # (observe_all; None: not measured yet): where the loops see an approach overrun (spill_charge_pcu)
    measured_hidden_pcu: np.ndarray | None = None
    # (approaches,) the estimator's hidden queue per approach, each lane once (observe_all, with
    # measured_spill; None: not measured): the controlled side's spill it measures (spill_charge_pcu)
    measured_spill_pcu: np.ndarray | None = None
    # (approaches,) measured_spill_pcu when the junction last changed mode (the policy took over),
    # or when first measured (the start): the queue it inherited, which spill_growth_pcu leaves out
    spill_base_pcu: np.ndarray | None = None
    # what accumulate charges for `replay`, computed by observe_all for every junction at once
    # (None, or computed for another replay: accumulate computes it)
    charge: Charge | None = None
    # (movements,) lock_green_s: the seconds each movement stood at a protected green since a
    # vehicle last crossed its stop line (standing_green_s; 0 at each change of mode), and the
    # estimator's cumulative departures they were last compared with. None: not measured
    standing_green_s: np.ndarray | None = None
    standing_dep_pcu: np.ndarray | None = None
    # measured_queue_bound: (movements,) the estimator's queue at the replay's time (measured_bound_pcu:
    # inf on a blind movement or one with a hidden queue: no bound; None: not measured), and forgetting
    # sums (window_s) of the PCU s each side's queues were left out since the last change of mode
    # (trim_pcu), (FIXED, CONTROLLED)
    measured_queue_pcu: np.ndarray | None = None
    trim_pcu_s: tuple[float, float] = (0.0, 0.0)
    # policy mode: the policy has sent the junction a command (False only with
    # evidence_from_first_command, until first_command): before it, no verdict and no charge
    commanded: bool = True
    # plan_block: (movements,) forgetting sums (window_s) of the exit blockage x s and of the s of
    # queued protected green measured while the city's program ran at the junction (plan_evidence),
    # and the s of queued green since the program last took over (reset at each change of mode:
    # the estimator's blockage reading carries the policy's for one blockage window). None: none yet
    plan_block_s: np.ndarray | None = None
    plan_green_s: np.ndarray | None = None
    plan_settle_s: np.ndarray | None = None
    # policy mode: the seconds since the mode began that a failure left the junction on its own
    # program (resume): paused, they count neither as time under the policy nor in the evidence
    paused_s: float = 0.0
    # fixed mode, [harm] follow_program_in_force: a city's program the replay has followed since the verdict
    # (program_followed; "": none): the verdict was against another program, so once the hold is over the
    # return does not wait for a demand shift (_back)
    program_shift: str = ""
    # policy mode, [harm] follow_program_in_force: while the status names a program the replay does not run yet (the
    # one-cycle wait of follow_named), when it first named it: no verdict on the fixed side's evidence, and once the
    # replay follows that program the evidence is re-based on it (program_window). None: no window
    named_s: float | None = None
    named_until_s: float = -math.inf  # the last window's end (opened + a cycle of the program named)
    named_excess_s: float = 0.0  # the cumulative-sum test when the window opened (what _rebased parks)
    # [harm] follow_program_in_force: the city's program the replay's fixed side runs (step.JunctionState.program's
    # `replayed`, "": the static one; program_followed), and the one the evidence restarted on last (_rebased, _switch)
    program: str = ""
    evidence_of: str = ""
    # policy mode: the cumulative-sum test gathered against each program the replay followed since the policy took
    # over and no longer runs, (program, excess_s): resumed when the replay follows it again (_rebased), so a status
    # that keeps changing programs restarts no program's evidence. (): none
    parked: tuple[tuple[str, float], ...] = ()
    # the programs the fixed side ran at the verdicts of this streak of losses (relapses; _to_fixed, reject): a hold
    # ends at a change to another program (_back). (): none known
    lost_to: tuple[str, ...] = ()

    @property
    def gains(self) -> shadow.Gains:
        """Both sides of the replay over the evidence window (since the last change of mode)."""
        return shadow.gains(self.replay)


# dataclasses.replace(state, **changes) without its per-call introspection: observe_all and accumulate
# call it per junction per tick
_evolve = copier(HarmState)


@dataclass(frozen=True)
class FollowedProgram:
    """[harm] follow_program_in_force, one light: the city's program its replay's fixed side runs ("": the static
    one). Part of the core's state (step.JunctionState.program, kept by the checkpoint), so that the replay the Core
    builds for it (step.Core._sync_programs) is the state's: a tick that fails keeps the program with the state, and
    a restart resumes it without a new status."""

    replayed: str = ""
    named: str = ""  # a program other than `replayed` the status names, waiting to be followed (follow_named)
    named_s: float = 0.0  # since when the status has named it
    ignored: str = ""  # the last name a status gave that is not the light's (reported once)


@dataclass(frozen=True)
class ModeChange:
    """A switch of one junction, for the service's log and the metrics."""

    junction: str
    t_s: float
    mode: Mode
    reason: str
    gains: shadow.Gains


@dataclass(frozen=True)
class JunctionReport:
    """What a junction's do-no-harm state says, in plain values (for status, metrics, summaries)."""

    mode: Mode
    reason: str
    switches: int
    since_s: float
    delay_fixed_s: float  # per PCU over the window, replayed fixed plan
    delay_controlled_s: float  # per PCU over the window, the greens shown
    delay_gain: float  # 1 - controlled / fixed
    demand_pcu_h: float
    agreement: float  # share of the window the signal showed the base program's phase
    return_due: bool = False  # fixed mode: a return to the policy is due and waits for approve / reject
    return_reason: str = ""  # why it is due ("" when none is)


def initial(program: shadow.Program, n_movements: int, now_s: float, commanded: bool = True) -> HarmState:
    """A junction's state at the start, in policy mode. `commanded` False (evidence_from_first_command):
    not judged until the policy's first command to it (first_command)."""
    return HarmState(
        shadow.start(program, n_movements, now_s),
        since_s=now_s,
        excess_t_s=now_s,
        approach=program.approach,
        approach_storage_pcu=program.approach_storage_pcu,
        approach_room_pcu=program.approach_room_pcu,
        commanded=commanded,
    )


def first_command(state: HarmState, now_s: float) -> HarmState:
    """The policy's first command to the junction (evidence_from_first_command): its evidence and
    its time under the policy (min_policy_s) start now, as at a change of mode (_switch: the replay
    restarts from the queues standing now). Until now the city's own program ran, as SUMO or the
    roadside showed it, which the replay would have judged against the imported program as if it
    were the policy's. The state as it was once commanded."""
    if state.commanded:
        return state
    return replace(_switch(state, state.mode, now_s, state.reason), commanded=True)


def resume(state: HarmState, now_s: float, before: HarmState | None = None) -> HarmState:
    """The junction decided again after a failure left it on its own program (step.Core._failed: its
    decision or a stage run for the whole network raised; DESIGN.md, safety). Meanwhile its roadside
    ran the city's program, not the policy's, and after an estimator's outage the replay crossed the
    outage in one interval: those seconds are evidence for neither side. In policy mode the evidence
    pauses over them: `state` is the junction's with its replay advanced over the outage (to now),
    `before` its state before (its replay at the outage's start: the last tick decided). The replay's
    queues and learning go on from `state` (the counterfactual's queues are state, not evidence);
    its evidence sums (delay, discharge, arrivals, span, agreement: shadow.Side, Replay), the
    cumulative-sum test, the spill and trim sums and the lock's standing seconds are `before`'s, not
    forgotten over the outage nor added to, and the outage's seconds are paused (paused_s): the time
    under the policy (policy_s: min_policy_s, network_verdict, the relapses' forgiveness) leaves them
    out, while since_s stays the mode's start. A junction that fails every other tick is thus judged
    on the seconds between, after min_policy_s of them. Without `before` in policy mode since the
    same start, the evidence restarts now, as at a change of mode (_switch). In fixed mode the
    roadside ran the city's program as fixed mode does: unchanged."""
    if state.mode != "policy":
        return state
    if before is None or before.mode != "policy" or before.since_s != state.since_s:
        return _switch(state, "policy", now_s, state.reason)
    base = state.spill_base_pcu
    if base is not None and state.measured_spill_pcu is not None and before.measured_spill_pcu is not None:
        base = base + (state.measured_spill_pcu - before.measured_spill_pcu)  # the outage's growth is not the policy's
    return _evolve(
        state,
        replay=_paused(before.replay, state.replay),
        excess_s=before.excess_s,
        excess_t_s=state.replay.t_s,
        spill_pcu_s=before.spill_pcu_s,
        trim_pcu_s=before.trim_pcu_s,
        spill_base_pcu=base,
        standing_green_s=before.standing_green_s,
        charge=None,
        paused_s=state.paused_s + max(0.0, state.replay.t_s - before.replay.t_s),
    )


def _paused(before: shadow.Replay, after: shadow.Replay) -> shadow.Replay:
    """`after` (the replay advanced over an outage) with `before`'s evidence sums: the window
    paused over the outage (no forgetting, nothing added), the queues, the arrivals fed and in
    transit, the demand and what the replay learns going on."""
    b, a = before.sides, after.sides
    sides = replace(a, delay_pcu_s=b.delay_pcu_s, served_pcu=b.served_pcu)
    return replace(
        after,
        arrived_pcu=before.arrived_pcu,
        span_s=before.span_s,
        agree_s=before.agree_s,
        held_pcu=before.held_pcu,
        sides=sides,
    )


def policy_s(state: HarmState, now_s: float) -> float:
    """Policy mode: the seconds under the policy since the mode began, the outages paused (resume)."""
    return now_s - state.since_s - state.paused_s


def observe_all(
    net: netshadow.NetworkProgram,
    states: Sequence[HarmState],
    ests: Sequence[Estimate],
    statuses: Sequence[SignalStatus | None],
    now_s: float,
    params: HarmParams,
    cache: netshadow.ReplayCache | None = None,
    judged: Sequence[bool] | None = None,
    block_window_s: float = EstimationParams.block_window_s,
) -> list[HarmState]:
    """Every junction's replay advanced by the interval ending at now_s (every tick, stale or not), in `net`'s
    order: one pass over the network's movements (netshadow.advance_all, the same floats as shadow.advance junction
    by junction; the fixed side's exit blockage from the neighbours' replays when `net.spill` is set;
    measured_queue_floor's floor). A network without a junction has nothing to advance. `judged`: per junction,
    whether decide() runs for it this tick (step.Core: its feed not stale); a judged junction in policy mode gets
    its cumulative-sum test brought up to the replay's time here (accumulate, in the same record: decide's
    accumulate then finds nothing to add), which is what decide would have done first (a switch to fixed mode before
    it, network_verdict's, restarts the test: _switch). plan_block: plan_blocks (block_window_s the estimator's)."""
    if not states:
        return []
    pb = plan_blocks(states, block_window_s) if params.plan_block else None
    old, keys = [s.replay for s in states], (params.measured_queue_floor, params.blocked_fit)
    lanes = Joined(netestimate.lanes_of(ests))  # the estimates' lanes over the network, their source found once
    now = (params.block_now, params.block_profile)
    replays = netshadow.advance_all(net, old, ests, statuses, now_s, params.window_s, cache, pb, *keys, lanes, *now)
    hidden_net = netshadow.hidden_by_movement(net, ests, lanes)
    st = net.mov_start.tolist()
    sp = net.spill if params.spill_back and params.measured_spill else None  # the links measured_spill reads
    own, base, growth = _measured_spill(sp, states, ests)
    queues = netshadow.replayed_queues(replays, cache)
    sums, spill = netshadow.queue_charges(net, queues, hidden_net if params.spill_back else None, growth)
    bound, trims = _trims(net, ests, queues, hidden_net) if params.measured_queue_bound else (None, None)
    known = net.spill is not None or not params.spill_back  # else charge_of computes it junction by junction
    judge = [False] * len(states) if judged is None or not params.enabled else judged
    charged = (sums, spill, None if bound is None else trims)
    charges, excess, tests = _charged(states, replays, *charged, known, judge, params, cache)
    measured = params.lock_green_s > 0 or params.plan_block  # _measured has something to add
    out = []
    # every sequence one entry per junction (_charged's and _measured_spill's contract): a wrong length raises
    for k, (s, r, charge, ex, a, b, o, ob) in enumerate(
        zip(states, replays, charges, excess, st[:-1], st[1:], own, base, strict=True)
    ):
        d = s.__dict__.copy()  # _evolve, its fields known: a copy of the state's, changed (one store a field)
        d["replay"] = r
        d["measured_hidden_pcu"] = hidden_net[a:b]
        d["charge"] = charge
        d["measured_spill_pcu"], d["spill_base_pcu"] = o, ob
        if measured:
            d.update(_measured(s, net.programs[k], ests[k], statuses[k], now_s, params, block_window_s))
        if bound is not None:
            d["measured_queue_pcu"] = bound[a:b]
        if ex is not None:
            d["excess_s"], d["excess_t_s"], d["spill_pcu_s"] = ex[0], ex[1], ex[2]
            if ex[3] is not None:
                d["trim_pcu_s"] = ex[3]
        out.append(record_of(HarmState, d))
    if cache is not None and tests is not None:
        cache.tests = tests.kept(out)
    return out


def _charged(
    states: Sequence[HarmState],
    replays: Sequence[shadow.Replay],
    sums: np.ndarray,
    spill: np.ndarray,
    trims: np.ndarray | None,
    known: bool,
    judge: Sequence[bool],
    params: HarmParams,
    cache: netshadow.ReplayCache | None,
) -> tuple[Sequence[Charge | None], Sequence[_Excess | None], _TestArrays | None]:
    """observe_all's Charges (_charges; `known` False: None each, charge_of computes them junction by
    junction), its tests brought up (_excess_all; None each where not, and without `known`), and the tests as
    arrays as its records will hold them (None: not known), read from what `cache` kept (_TestArrays.of; taken
    out of it: observe_all keeps them again with its records). `sums`, `spill`, `trims` (2, junctions):
    queue_charges' and _trims' (None: no trim). The Charges and the tests: one entry per junction, in `states`'
    order (observe_all zips them strictly)."""
    read = _TestArrays.of(states, cache.tests if cache is not None else None)  # the states' tests as arrays
    if cache is not None:
        cache.tests = None
    if not known:
        return [None] * len(states), [None] * len(states), read
    spill = np.where(read.spilt & params.spill_back, spill, 0.0)  # (0.0, 0.0) where the junction has no approaches
    excess, tests = _excess_all(
        read, replays, sums, spill, np.zeros_like(sums) if trims is None else trims, judge, params, cache
    )
    # a Charge where accumulate may read it: in policy mode, commanded, its test not brought up to its replay here
    needed = [j and x is None for j, x in zip(read.judgeable.tolist(), excess)]
    if not any(needed):  # every test brought up here (or not judged): no Charge to make
        return [None] * len(states), excess, tests
    return _charges(replays, sums, spill, trims, needed), excess, tests


def _charges(
    replays: Sequence[shadow.Replay],
    sums: np.ndarray,
    spill: np.ndarray,
    trims: np.ndarray | None,
    needed: Sequence[bool] | None = None,
) -> list[Charge | None]:
    """observe_all's Charge of each junction's replay, made as observe_all's loop reads it: (2, junctions) each
    side's queues summed, their spill charged and their trim (rows FIXED, CONTROLLED; None: no trim, (0.0, 0.0)).
    `needed`: per junction, whether to make it (else None: a junction whose test observe_all brought up to its
    replay, so accumulate finds nothing to add, or one that leaves policy mode or is first commanded only
    through _switch, which restarts the replay: no accumulate reads its Charge); None: every one. One entry per
    junction of `replays`."""
    n = len(replays)
    trimmed = [(0.0, 0.0)] * n if trims is None else zip(*trims.tolist())
    wanted = [True] * n if needed is None else needed
    return [
        record_of(Charge, {"replay": r, "queue_pcu": q, "spill_pcu": s, "trim_pcu": t}) if w else None
        for r, q, s, t, w in zip(replays, zip(*sums.tolist()), zip(*spill.tolist()), trimmed, wanted, strict=True)
    ]


class _TestArrays:
    """What _excess_all reads of the states' cumulative-sum tests, over the junctions as arrays: whether each is
    in policy mode and commanded (`judgeable`), whether it has approaches (`spilt`: HarmState.approach and
    approach_storage_pcu set) and (6, junctions) `values`: excess_t_s, excess_s, spill_pcu_s (2 rows) and
    trim_pcu_s (2 rows), float64 as np.array gives them. Kept (ReplayCache.tests) with the records observe_all
    returned (`states`, the values in them): the next tick reads there the states it is given back, the same
    objects, and from the record only the others."""

    __slots__ = ("judgeable", "spilt", "states", "values")

    def __init__(
        self, states: Sequence[HarmState], judgeable: np.ndarray, spilt: np.ndarray, values: np.ndarray
    ) -> None:
        self.states, self.judgeable, self.spilt, self.values = tuple(states), judgeable, spilt, values

    @staticmethod
    def of(states: Sequence[HarmState], kept: object) -> _TestArrays:
        """The arrays of `states`: from `kept` (the last tick's _TestArrays, or None) for each state that is the
        record kept at its place, from the state itself for the others."""
        n = len(states)
        if isinstance(kept, _TestArrays) and len(kept.states) == n:
            other = [k for k, (a, b) in enumerate(zip(states, kept.states)) if a is not b]
            if len(other) < n:
                out = _TestArrays(states, kept.judgeable.copy(), kept.spilt.copy(), kept.values.copy())
                if other:
                    fresh = _TestArrays.read([states[k] for k in other])
                    out.judgeable[other], out.spilt[other] = fresh.judgeable, fresh.spilt
                    out.values[:, other] = fresh.values
                return out
        return _TestArrays.read(states)

    @staticmethod
    def read(states: Sequence[HarmState]) -> _TestArrays:
        """The arrays read from each state."""
        n = len(states)
        mode, commanded, excess_t_s, excess_s, spill_s, trim_s, approach, storage = zip(*map(_TEST_FIELDS, states))
        judgeable = np.array([m == "policy" and bool(c) for m, c in zip(mode, commanded)], dtype=bool)
        spilt = np.array([a is not None and s is not None for a, s in zip(approach, storage)], dtype=bool)
        sums = np.array((spill_s, trim_s), dtype=float).reshape(2, n, 2).transpose(0, 2, 1).reshape(4, n)
        values = np.concatenate((np.array((excess_t_s, excess_s), dtype=float).reshape(2, n), sums))
        return _TestArrays(states, judgeable, spilt, values)

    def kept(self, records: Sequence[HarmState]) -> _TestArrays:
        """These arrays as kept with `records` (the states they are now the values of)."""
        return _TestArrays(records, self.judgeable, self.spilt, self.values)


# what _TestArrays.read reads of each state
_TEST_FIELDS = operator.attrgetter(
    "mode", "commanded", "excess_t_s", "excess_s", "spill_pcu_s", "trim_pcu_s", "approach", "approach_storage_pcu"
)

# _excess_all's new excess_s, excess_t_s, spill_pcu_s and trim_pcu_s of one junction (None: trim_pcu_s not changed)
_Excess = tuple[float, float, tuple[float, float], "tuple[float, float] | None"]


def _excess_all(
    tests: _TestArrays,
    replays: Sequence[shadow.Replay],
    sums: np.ndarray,
    spill: np.ndarray,
    trims: np.ndarray,
    judge: Sequence[bool],
    params: HarmParams,
    cache: netshadow.ReplayCache | None = None,
) -> tuple[Sequence[_Excess | None], _TestArrays | None]:
    """_excess of every junction observe_all brings its test up (judged, in policy mode,
    commanded, its replay newer than its test), over the junctions at once (`tests`: the states'
    tests as arrays; `sums`, `spill`, `trims`: (2, junctions) what their Charges hold): the same float
    operations in the same order as _excess's (max(a, b) as `b if b > a else a`; the spill and
    trim sums element-wise, each product and sum rounded as Python rounds it), each
    junction's forgetting factor by math.exp. None for the others. With them, `tests` as the records
    will hold them (None: not known). A junction with no demand to divide by (min_demand_pcu_h 0) sends
    every one through _excess (which raises as it did)."""
    n = len(replays)
    t_s = np.array([r.t_s for r in replays], dtype=float)
    dt = t_s - tests.values[0]
    due = np.array(judge, dtype=bool) & tests.judgeable & (dt > 0)
    if not due.any():
        return [None] * n, tests
    demand_h = _demands_pcu_h(replays, cache)
    demand_pcu_s = np.where(params.min_demand_pcu_h > demand_h, params.min_demand_pcu_h, demand_h) / 3600.0
    if (demand_pcu_s[due] == 0.0).any():
        return _excess_each(tests.states, replays, sums, spill, trims, due, params), None
    q_fixed = sums[shadow.FIXED] + spill[shadow.FIXED] - trims[shadow.FIXED]
    q_controlled = sums[shadow.CONTROLLED] + spill[shadow.CONTROLLED] - trims[shadow.CONTROLLED]
    rate = q_controlled - (1.0 + params.margin) * q_fixed - params.margin_s * demand_pcu_s
    keep = np.zeros(n)
    keep[due] = netshadow.forgetting_factors(dt[due].tolist(), params.window_s)
    old = tests.values
    new = old.copy()
    with np.errstate(all="ignore"):  # the junctions not due may hold anything
        grown = old[1] + rate * dt / (demand_pcu_s * params.window_s)
        new[0] = np.where(due, t_s, old[0])
        new[1] = np.where(due, np.where(grown > 0.0, grown, 0.0), old[1])
        for k in (0, 1):
            new[2 + k] = np.where(due, old[2 + k] * keep + spill[k] * dt, old[2 + k])
    trimmed = _trims_kept(old, new, trims, keep, dt, due)
    t_new, e_new, sp0, sp1 = new[:4].tolist()
    rows_all = zip(e_new, t_new, zip(sp0, sp1), trimmed)
    return [row if d else None for row, d in zip(rows_all, due.tolist())], _TestArrays(
        tests.states, tests.judgeable, tests.spilt, new
    )


def _excess_each(
    states: Sequence[HarmState],
    replays: Sequence[shadow.Replay],
    sums: np.ndarray,
    spill: np.ndarray,
    trims: np.ndarray,
    due: np.ndarray,
    params: HarmParams,
) -> list[_Excess | None]:
    """_excess_all's rows junction by junction: _excess of each `due` one with a charge, None for the others."""
    charges = _charges(replays, sums, spill, trims)
    rows = [
        _excess(s, r, c, r.t_s - s.excess_t_s, params) if d and c is not None else None
        for s, r, c, d in zip(states, replays, charges, due.tolist())
    ]
    return [None if x is None else _row(x) for x in rows]


def _trims_kept(
    old: np.ndarray, new: np.ndarray, trims: np.ndarray, keep: np.ndarray, dt: np.ndarray, due: np.ndarray
) -> Iterable[tuple[float, float] | None]:
    """_excess_all's trim sums (rows 4-5 of the tests' values `old`), forgotten by `keep` and grown by `trims` x `dt`,
    written into `new` for each `due` junction where either side trims now or held a trim; per junction its two
    sums where they changed, None where not (trim_pcu_s not changed)."""
    if not (trims.any() or old[4:].any()):
        return itertools.repeat(None)
    with np.errstate(all="ignore"):  # the junctions not due may hold anything
        tr = [old[4 + k] * keep + trims[k] * dt for k in (0, 1)]
    changed = (trims != 0.0).any(axis=0) | (old[4:] != 0.0).any(axis=0)
    for k in (0, 1):
        new[4 + k] = np.where(due & changed, tr[k], old[4 + k])
    return (x if c else None for x, c in zip(zip(*new[4:].tolist()), changed.tolist()))


def _demands_pcu_h(replays: Sequence[shadow.Replay], cache: netshadow.ReplayCache | None) -> np.ndarray:
    """(junctions,) each replay's demand_pcu_h (Replay.demand_pcu_h's operations), from the scalars the cache
    kept when the replays are the views it kept, else read from each."""
    if cache is not None and cache.scalars is not None and cache.lookup(replays) is not None:
        demand, demand_s = cache.scalars[2], cache.scalars[3]
        with np.errstate(all="ignore"):
            out: np.ndarray = np.where(demand_s > 0, demand / demand_s * 3600.0, 0.0)
        return out
    return np.array([r.demand_pcu_h for r in replays], dtype=float)


def _row(excess: dict[str, object]) -> _Excess:
    """_excess's dict as _excess_all's tuple (None: trim_pcu_s not changed)."""
    e = excess
    return e["excess_s"], e["excess_t_s"], e["spill_pcu_s"], e.get("trim_pcu_s")  # type: ignore[return-value]


def _measured(
    state: HarmState,
    program: shadow.Program,
    est: Estimate,
    status: SignalStatus | None,
    now_s: float,
    params: HarmParams,
    block_window_s: float,
) -> dict[str, object]:
    """observe_all's per-junction figures from the loops this tick, as the keys ask: lock_green_s's
    standing times (_standing), plan_block's evidence (plan_evidence)."""
    out: dict[str, object] = {}
    if params.lock_green_s > 0:
        out.update(_standing(state, program, est, status, now_s))
    if params.plan_block:
        out.update(plan_evidence(state, program, est, status, now_s, params.window_s, block_window_s))
    return out


def on_plan(state: HarmState) -> bool:
    """Whether the city's own program runs at the junction: fixed mode, or before the policy's
    first command (evidence_from_first_command)."""
    return state.mode == "fixed" or not state.commanded


def plan_evidence(
    state: HarmState,
    program: shadow.Program,
    est: Estimate,
    status: SignalStatus | None,
    now_s: float,
    window_s: float,
    block_window_s: float,
) -> dict[str, np.ndarray]:
    """plan_block: the state's plan_block_s, plan_green_s and plan_settle_s brought to now_s ({}
    while there is nothing to keep). Every sum forgets over `window_s`. While the city's program
    runs (on_plan), a movement at a protected green of the phase `status` reports, with a queue (the
    estimator's, at least 1 PCU: where the estimator learns the blockage), adds the interval to its
    settle time; once that exceeds `block_window_s` (the estimator's blockage is an average over
    that much queued green, so before it still carries the policy's), the interval counts: the
    blockage the replay discharges with (shadow.replay_block) x s, and s."""
    n = len(est.queue_pcu)
    if state.plan_green_s is None and not on_plan(state):
        return {}
    dt = max(now_s - state.replay.t_s, 0.0)
    keep = math.exp(-dt / window_s)
    sums = (np.zeros(n) if state.plan_block_s is None else state.plan_block_s) * keep
    green = (np.zeros(n) if state.plan_green_s is None else state.plan_green_s) * keep
    if not on_plan(state):
        return {"plan_block_s": sums, "plan_green_s": green}
    served = program.service_or_red[shadow.controlled_phase(status)] >= 1.0
    queued = served & (est.queue_pcu >= 1.0)
    settle = (np.zeros(n) if state.plan_settle_s is None else state.plan_settle_s) + np.where(queued, dt, 0.0)
    counted = queued & (settle > block_window_s)
    return {
        "plan_block_s": sums + np.where(counted, shadow.replay_block(program, est) * dt, 0.0),
        "plan_green_s": green + np.where(counted, dt, 0.0),
        "plan_settle_s": settle,
    }


def plan_blocks(states: Sequence[HarmState], block_window_s: float) -> tuple[np.ndarray, np.ndarray] | None:
    """plan_block over the network's movements (states in its order): the exit blockage measured
    under the city's program (plan_evidence: its mean over the counted queued green) and the share
    of the fixed side's blockage it makes (the counted seconds over one blockage window,
    `block_window_s`, at most 1; 0 without evidence). None when no junction has any evidence yet
    (netshadow.advance_all: the fixed side's blockage as without the key, bit for bit)."""
    if all(s.plan_green_s is None for s in states):
        return None
    observed, share = [], []
    for s in states:
        green = s.plan_green_s if s.plan_green_s is not None else np.zeros(len(s.replay.fed_pcu))
        summed = s.plan_block_s if s.plan_block_s is not None else np.zeros(len(green))
        observed.append(np.where(green > 0.0, summed / np.maximum(green, 1e-12), 0.0))
        share.append(np.minimum(green / block_window_s, 1.0))
    return np.concatenate(observed), np.concatenate(share)


def _trims(
    net: netshadow.NetworkProgram, ests: Sequence[Estimate], queues: np.ndarray, hidden_pcu: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """measured_queue_bound over the network: per movement the bound (measured_bound_pcu), and
    (2, junctions) the PCU each side's queues leave out (trim_pcu summed; rows FIXED, CONTROLLED)."""
    bound = measured_bound_pcu(
        np.concatenate([e.queue_pcu for e in ests]), np.concatenate([e.blind for e in ests]), hidden_pcu
    )
    n_j = len(net.programs)
    sums = np.stack([np.bincount(net.mov_junction, t, minlength=n_j) for t in trim_pcu(queues, bound)])
    return bound, sums


def _standing(
    state: HarmState, program: shadow.Program, est: Estimate, status: SignalStatus | None, now_s: float
) -> dict[str, np.ndarray]:
    """lock_green_s: the state's standing_green_s and standing_dep_pcu brought to now_s, the
    interval's signal the one `status` reports (as the replay's controlled side reads it)."""
    dt = max(now_s - state.replay.t_s, 0.0)
    prev_s = state.standing_green_s
    prev_dep = state.standing_dep_pcu
    if prev_s is None or prev_dep is None:  # the first measurement: nothing stood yet
        prev_s, prev_dep = np.zeros(len(est.queue_pcu)), est.departures_pcu
    uses = program.lane_mean > 0.0  # (movements, lanes)
    served = program.service_or_red[shadow.controlled_phase(status)] >= 1.0
    # a lane whose every movement has protected green: its head vehicle may go, whatever it wants
    lane_free = uses.any(axis=0) & ~(uses & ~served[:, None]).any(axis=0)
    # ... and a vehicle stands on (or crossed) its stop-line loop now (stop_empty_s 0)
    at_line = (uses & (lane_free & (est.lanes.stop_empty_s <= 0.0))[None, :]).any(axis=1)
    return {
        "standing_green_s": standing_green_s(prev_s, prev_dep, est.departures_pcu, est.queue_pcu, at_line, dt),
        "standing_dep_pcu": est.departures_pcu,
    }


def standing_green_s(
    prev_s: np.ndarray,
    prev_dep_pcu: np.ndarray,
    dep_pcu: np.ndarray,
    queue_pcu: np.ndarray,
    at_line: np.ndarray,
    dt_s: float,
) -> np.ndarray:
    """(movements,) seconds each movement stood at a protected green: a lane of it green with
    every movement on the lane protected, a vehicle on its stop-line loop (`at_line`), a queue
    waiting (`queue_pcu` > 0, the estimator's), and nothing crossed its stop line (the cumulative
    departures `dep_pcu` did not rise over `prev_dep_pcu`); summed over its greens since a
    vehicle last crossed it or its queue last cleared (then 0). Red and intergreen add nothing
    and clear nothing: a lock holds across the cycle.

    A protected green with a vehicle waiting discharges it within the start-up lost time plus
    one headway (about 4 s) unless the exit is full; summed over several greens with none
    crossing, the exit has not moved for that long: the movement is locked (a short link filled
    between two lights that block each other, or a box blocked). A lane with a permitted turn on
    it, or with a movement on red, is not counted: its head vehicle may wait for gaps or for its
    own green by design."""
    departed = dep_pcu > prev_dep_pcu
    waiting = queue_pcu > 0.0
    grown = prev_s + np.where(at_line & waiting, dt_s, 0.0)
    out: np.ndarray = np.where(departed | ~waiting, 0.0, grown)
    return out


def advance_replays(
    net: netshadow.NetworkProgram,
    states: Sequence[HarmState],
    ests: Sequence[Estimate],
    statuses: Sequence[SignalStatus | None],
    now_s: float,
    params: HarmParams,
    cache: netshadow.ReplayCache | None = None,
) -> list[HarmState]:
    """observe_all's replays alone, for a policy that runs the city's own program (`fixed`: not
    guarded, step.Core): both sides advanced as observe_all advances them (under `fixed` the fixed
    side is the check of the junction model's program against the one the roadside runs: agreement,
    and a gain of the plan over itself of 0 when they match; docs/harm.md). What observe_all adds
    for a verdict (each side's queue and spill charges, the measured hidden queue) is not computed:
    no verdict is taken (neither decide nor network_verdict runs unguarded); a swap to a guarded
    policy computes it at its first tick (observe_all replaces the state's charge)."""
    if not states:
        return []
    replays = netshadow.advance_all(
        net,
        [s.replay for s in states],
        ests,
        statuses,
        now_s,
        params.window_s,
        cache,
        queue_floor=params.measured_queue_floor,
        blocked=params.blocked_fit,
        block_now=params.block_now,
        block_profile=params.block_profile,
    )
    out = []
    for s, r in zip(states, replays):
        d = s.__dict__.copy()  # _evolve(s, replay=r), its field known: once per junction and tick
        d["replay"] = r
        out.append(record_of(HarmState, d))
    return out


def _measured_spill(
    sp: netshadow.Spill | None, states: Sequence[HarmState], ests: Sequence[Estimate]
) -> tuple[Sequence[np.ndarray | None], Sequence[np.ndarray | None], np.ndarray | None]:
    """measured_spill (`sp`: the network's links, None without the key): per junction the
    estimator's hidden queue per approach now and its baseline (HarmState.spill_base_pcu; now,
    where none was taken yet), and over the network the growth charged (spill_growth_pcu).
    Without `sp` (or its approaches' numbering): nothing measured."""
    if sp is None or sp.approach_start is None:
        return [None] * len(states), [None] * len(states), None
    hidden = netshadow.hidden_by_approach(sp, ests)
    a_st = sp.approach_start.tolist()
    own = [hidden[a_st[k] : a_st[k + 1]] for k in range(len(states))]
    base = [o if s.spill_base_pcu is None else s.spill_base_pcu for o, s in zip(own, states)]
    return own, base, spill_growth_pcu(hidden, np.concatenate(base))


def spill_growth_pcu(measured_pcu: np.ndarray, base_pcu: np.ndarray) -> np.ndarray:
    """(approaches,) the hidden queue the policy built: what the estimator holds beyond the
    advance loops now (`measured_pcu`) above what it held when the policy took over the junction
    (`base_pcu`, HarmState.spill_base_pcu), 0 where less. A queue inherited from the fixed plan
    or from before the start is not the policy's doing; a queue that shrinks below what it
    inherited charges nothing."""
    out: np.ndarray = np.maximum(measured_pcu - base_pcu, 0.0)
    return out


def charge_of(state: HarmState, params: HarmParams) -> Charge:
    """What accumulate charges for the state's replay, one junction alone (observe_all computes
    the same floats for every junction at once: sequential sums in movement and approach order)."""
    replay = state.replay
    if state.charge is not None and state.charge.replay is replay:
        return state.charge
    q = replay.sides.queue_pcu
    rows = np.zeros(q.shape[1], dtype=int)
    sums = (float(np.bincount(rows, q[0], minlength=1)[0]), float(np.bincount(rows, q[1], minlength=1)[0]))
    spill = (0.0, 0.0)
    if params.spill_back and state.approach is not None and state.approach_storage_pcu is not None:
        measured = None
        if params.measured_spill and state.measured_spill_pcu is not None:
            base = state.measured_spill_pcu if state.spill_base_pcu is None else state.spill_base_pcu
            measured = spill_growth_pcu(state.measured_spill_pcu, base)
        storage = state.approach_storage_pcu
        if state.approach_room_pcu is not None:  # spill_room: beyond the approach's own road too
            storage = storage + state.approach_room_pcu
        spill = spill_charge_pcu(q, state.measured_hidden_pcu, state.approach, storage, measured)
    trim = (0.0, 0.0)
    if params.measured_queue_bound and state.measured_queue_pcu is not None:
        t = trim_pcu(q, state.measured_queue_pcu)
        trim = (float(np.bincount(rows, t[0], minlength=1)[0]), float(np.bincount(rows, t[1], minlength=1)[0]))
    return Charge(replay, sums, spill, trim)


def measured_bound_pcu(queue_pcu: np.ndarray, blind: np.ndarray, hidden_pcu: np.ndarray) -> np.ndarray:
    """(movements,) the queue the loops bound the controlled side's replay by (trim_pcu): the
    estimator's (Estimate.queue_pcu), where they see room; inf (no bound) on a movement without
    loops (Estimate.blind) and on one whose lanes hold a hidden queue (upstream of an advance loop
    that stands, or beyond a full lane: netshadow.hidden_by_movement): the estimator's hidden queue
    is bounded ([estimation] max_hidden_queue_pcu_lane), the replay's is not, and a jam beyond the
    loops is where the replay's longer queue is the street's."""
    out: np.ndarray = np.where(blind | (hidden_pcu > 0.0), np.inf, queue_pcu)
    return out


def trim_pcu(queue_pcu: np.ndarray, measured_pcu: np.ndarray) -> np.ndarray:
    """(2, movements) rows FIXED and CONTROLLED: the PCU of each side's replayed queue
    (`queue_pcu`, (2, movements)) left out as the replay's own error ([harm] measured_queue_bound).

    The controlled side replays the greens actually shown under the measured arrivals; the
    estimator measures the queue those greens left (`measured_pcu`: Estimate.queue_pcu, between the
    loops and hidden upstream; inf on a movement without loops). What the controlled side holds above
    it is a queue the street does not hold: the replay's discharge is slower than the street's there
    (a saturation flow, a permitted share or a blockage it gets wrong), and the same discharge model
    runs the fixed side, so the fixed side carries the same error where it holds that much. Both
    sides are relieved of it: the controlled side down to the measured queue, the fixed side by as
    many PCU (down to 0). Left in, such a phantom inflates both sides alike, and the margin, a share
    of the fixed side, grows with it until no real loss crosses it. A replayed queue at or below the
    measured one leaves nothing out."""
    excess = np.maximum(queue_pcu[shadow.CONTROLLED] - measured_pcu, 0.0)
    out = np.empty_like(queue_pcu)
    out[shadow.CONTROLLED] = excess
    out[shadow.FIXED] = np.minimum(queue_pcu[shadow.FIXED], excess)
    return out


def spill_charge_pcu(
    queue_pcu: np.ndarray,
    hidden_pcu: np.ndarray | None,
    approach: np.ndarray,
    storage_pcu: np.ndarray,
    measured_spill_pcu: np.ndarray | None = None,
) -> tuple[float, float]:
    """(fixed, controlled): the PCU of each side's replayed queues (`queue_pcu`, (2, movements))
    standing beyond their approach's storage, on the approaches where the loops see a queue
    beyond it.

    A queue stands beyond an approach only where the approach overruns. The estimator says where:
    a hidden queue (`hidden_pcu`, per movement: upstream of an advance loop that stands, or of a
    full lane) on any of the approach's lanes. There both sides' replayed spill is charged in
    full (its length is the replay's: the estimator's hidden queue is bounded). Elsewhere
    nothing is charged, whatever the replay says: a replayed queue beyond an approach the loops
    see with room left is the replay's own error (a discharge slower than the approach's), and
    the same discharge model runs the fixed side. Without a measurement: (0, 0).

    `measured_spill_pcu` ((approaches,), [harm] measured_spill): the growth of the estimator's
    hidden queue of each approach (each lane once) since the policy took over (spill_growth_pcu).
    On an approach the fixed side's replay keeps within its storage, the controlled side's queue
    beyond it is at least that (netshadow.measured_over): the hidden queue was built under the
    greens shown, the fixed plan would not have built it, and the replay's own discharge (faster
    than the approach's) may have lost it."""
    if hidden_pcu is None:
        return 0.0, 0.0
    over = netshadow.measured_over(shadow.spill_by_approach(queue_pcu, approach, storage_pcu), measured_spill_pcu)
    seen = np.bincount(approach, hidden_pcu, minlength=len(storage_pcu)) > 0
    rows = np.zeros(len(storage_pcu), dtype=int)  # sequential sums, as netshadow.queue_charges
    fixed = np.bincount(rows, np.where(seen, over[shadow.FIXED], 0.0), minlength=1)[0]
    controlled = np.bincount(rows, np.where(seen, over[shadow.CONTROLLED], 0.0), minlength=1)[0]
    return float(fixed), float(controlled)


def accumulate(state: HarmState, params: HarmParams) -> HarmState:
    """The cumulative-sum test brought up to the replay's time: the excess delay of the greens
    shown over the fixed plan beyond the margin, per PCU of one window's demand,
    S = max(0, S + (q_c - (1 + margin) q_f - margin_s x demand) dt / (demand x window_s)),
    q the two replayed queues now (PCU), demand the replay's (PCU/s, at least min_demand_pcu_h),
    dt the time since the last update (observe_all for the junctions it judges, decide otherwise,
    in policy mode: once a tick, whichever comes first).
    With `spill_back`, each side's q counts once more the PCU of its queues standing beyond
    their approach's storage, on the approaches the loops see overrun (spill_charge_pcu):
    upstream of the approach they hold traffic that never crosses this signal, a cost the
    junction's own queue does not carry.
    Each PCU s of excess weighs by the demand when it happened: a surplus gathered in the peak
    does not grow into a verdict when the demand falls."""
    dt = state.replay.t_s - state.excess_t_s
    if dt <= 0:
        return state
    return _evolve(state, **_excess(state, state.replay, charge_of(state, params), dt, params))


def _excess(
    state: HarmState, replay: shadow.Replay, charge: Charge, dt: float, params: HarmParams
) -> dict[str, object]:
    """accumulate's new excess_s, excess_t_s and spill_pcu_s: `state`'s test brought up to
    `replay`'s time (dt > 0 seconds after it), `charge` what the queues of `replay` charge."""
    spill, trim = charge.spill_pcu, charge.trim_pcu
    q_fixed = charge.queue_pcu[shadow.FIXED] + spill[shadow.FIXED] - trim[shadow.FIXED]
    q_controlled = charge.queue_pcu[shadow.CONTROLLED] + spill[shadow.CONTROLLED] - trim[shadow.CONTROLLED]
    demand_pcu_s = max(replay.demand_pcu_h, params.min_demand_pcu_h) / 3600.0
    rate = q_controlled - (1.0 + params.margin) * q_fixed - params.margin_s * demand_pcu_s
    excess_s = max(0.0, state.excess_s + rate * dt / (demand_pcu_s * params.window_s))
    keep = math.exp(-dt / params.window_s)
    sums = (state.spill_pcu_s[0] * keep + spill[0] * dt, state.spill_pcu_s[1] * keep + spill[1] * dt)
    out: dict[str, object] = {"excess_s": excess_s, "excess_t_s": replay.t_s, "spill_pcu_s": sums}
    if trim != (0.0, 0.0) or state.trim_pcu_s != (0.0, 0.0):
        out["trim_pcu_s"] = (state.trim_pcu_s[0] * keep + trim[0] * dt, state.trim_pcu_s[1] * keep + trim[1] * dt)
    return out


def window_delays_s(state: HarmState) -> tuple[float, float]:
    """(fixed, controlled) delay per PCU over the evidence window, each side's PCU s beyond its
    approaches' storage counted once more (spill_pcu_s; 0 without spill_back) and its PCU s left
    out as the replay's own error (trim_pcu_s; 0 without measured_queue_bound); per PCU of the
    window (shadow.pcu_in_window: the queue standing at the restart too), as the gains."""
    g = state.gains
    pcu = shadow.pcu_in_window(state.replay)
    if pcu <= 0:
        return g.delay_fixed_s, g.delay_controlled_s
    (sf, sc), (tf, tc) = state.spill_pcu_s, state.trim_pcu_s
    return (max(g.delay_fixed_s + (sf - tf) / pcu, 0.0), max(g.delay_controlled_s + (sc - tc) / pcu, 0.0))


def decide(state: HarmState, now_s: float, params: HarmParams) -> tuple[HarmState, str | None]:
    """The mode for this tick, and the reason when it changed (None when it did not)."""
    if not params.enabled:
        return state, None
    if state.mode == "policy":
        if not state.commanded:  # the city's own program runs: no charge, no verdict (first_command)
            return state, None
        state = accumulate(state, params)
        # a window of program_window: the fixed side runs a program the city no longer runs, the verdict waits
        why = _locked(state, params) or (_worse(state, now_s, params) if state.named_s is None else None)
        if why is None:
            return state, None
        return _to_fixed(state, now_s, why, params), why
    if state.approved:
        why = f"{state.return_reason}; return approved"
        return _switch(replace(state, approved=False), "policy", now_s, why), why
    if state.return_due:
        return state, None
    offender = state.relapses > params.timed_returns
    if offender and state.demand_ref_pcu_h <= 0 and now_s - state.since_s >= state.hold_s:
        state = replace(state, demand_ref_pcu_h=max(state.replay.demand_pcu_h, 1e-9))
    why = _back(state, now_s, params)
    if why is None:
        return state, None
    if params.validate_return:
        return replace(state, return_due=True, return_reason=why), None
    return _switch(replace(state, return_reason=why), "policy", now_s, why), why


def _to_fixed(state: HarmState, now_s: float, why: str, params: HarmParams) -> HarmState:
    """A verdict against the policy: a loss (relapses; forgiven after hold_max_s in force), the
    hold it earns, and the switch."""
    relapses = 0 if policy_s(state, now_s) >= params.hold_max_s else state.relapses
    hold = min(params.hold_s * 2.0**relapses, params.hold_max_s)
    lost = _lost_to(state if relapses else replace(state, lost_to=()), state.evidence_of, state.program)
    fixed = replace(
        state, switches=state.switches + 1, relapses=relapses + 1, hold_s=hold, demand_ref_pcu_h=0.0, lost_to=lost
    )
    return _switch(fixed, "fixed", now_s, why)


def _lost_to(state: HarmState, *programs: str) -> tuple[str, ...]:
    """state.lost_to with `programs` the policy lost against (a verdict's evidence: the program it restarted on and
    the one the fixed side runs, which differ when the replay followed a program within window_s of a restart)."""
    return state.lost_to + tuple(p for p in dict.fromkeys(programs) if p not in state.lost_to)


def network_verdict(
    states: Mapping[str, HarmState], now_s: float, params: HarmParams
) -> dict[str, tuple[HarmState, str]]:
    """The policy judged for the network (network_share > 0): when at least that share of the
    junctions given is in fixed mode, every other junction that has been under the policy for
    min_policy_s goes to fixed too, as after a verdict of its own. Returns the junctions switched,
    with their new state and the reason; {} when none is."""
    if not params.enabled or params.network_share <= 0 or not states:
        return {}
    n_fixed = sum(s.mode == "fixed" for s in states.values())
    if n_fixed < params.network_share * len(states):
        return {}
    why = f"the policy lost at {n_fixed} of {len(states)} junctions (network_share {params.network_share:.0%})"
    return {
        jid: (_to_fixed(s, now_s, why, params), why)
        for jid, s in states.items()
        if s.mode == "policy" and s.commanded and policy_s(s, now_s) >= params.min_policy_s
    }


def approve(state: HarmState) -> HarmState:
    """A due return approved (validate_return): the junction goes back to the policy at its next
    tick (decide records the ModeChange, reason "<why it was due>; return approved").
    ValueError when no return is due."""
    if state.mode != "fixed" or not state.return_due:
        raise ValueError(f"no return to the policy is due (mode {state.mode}, return_due {state.return_due})")
    return replace(state, return_due=False, approved=True)


def reject(state: HarmState, reason: str, now_s: float, params: HarmParams) -> HarmState:
    """A due return rejected (validate_return): it counts as a relapse (a loss). The junction stays
    fixed for a new hold, doubled as after a relapse (up to hold_max_s), measured from now_s; a
    repeat offender then waits for a demand shift. ValueError when no return is due."""
    if state.mode != "fixed" or not state.return_due:
        raise ValueError(f"no return to the policy is due (mode {state.mode}, return_due {state.return_due})")
    hold = min(params.hold_s * 2.0**state.relapses, params.hold_max_s)
    return replace(
        state,
        since_s=now_s,
        hold_s=hold,
        relapses=state.relapses + 1,
        return_due=False,
        reason=f"return rejected: {reason}",
        demand_ref_pcu_h=0.0,
        program_shift="",  # the twin judged the policy under the program in force: a new change is needed
        lost_to=_lost_to(state, state.program),
    )


def _worse(state: HarmState, now_s: float, params: HarmParams) -> str | None:
    """Why the policy is judged worse than the fixed plan, or None: at least min_policy_s under
    the policy, a demand of at least min_demand_pcu_h, the cumulative excess at its budget, and
    the policy worse beyond the margin over the evidence window too (window_delays_s: still losing now)."""
    if policy_s(state, now_s) < params.min_policy_s:
        return None
    demand = state.replay.demand_pcu_h
    if demand < params.min_demand_pcu_h or state.excess_s < params.excess_budget_s:
        return None
    d_fixed, d_controlled = window_delays_s(state)
    if d_controlled <= d_fixed * (1.0 + params.margin) + _window_margin_s(state, params):
        return None
    worse = d_controlled / d_fixed - 1.0 if d_fixed > 0 else math.inf
    return (
        f"policy worse than the fixed plan: {state.excess_s:.1f} s/PCU of delay beyond the margin in "
        f"{policy_s(state, now_s):.0f} s, {worse:.0%} over the window ({d_controlled:.1f} vs "
        f"{d_fixed:.1f} s/PCU at {demand:.0f} PCU/h)"
    )


def _window_margin_s(state: HarmState, params: HarmParams) -> float:
    """margin_s over the window's delays per PCU: earned by each PCU arrived since the last
    restart, spread over the window's PCU (shadow.pcu_in_window, the queue standing at the restart
    too). The verdict is the sums' (controlled <= (1 + margin) x fixed + margin_s x arrived), so a
    queue inherited at a change of mode lowers both delays per PCU without widening the margin."""
    pcu = shadow.pcu_in_window(state.replay)
    return params.margin_s * float(state.replay.arrived_pcu.sum()) / pcu if pcu > 0 else params.margin_s


def _locked(state: HarmState, params: HarmParams) -> str | None:
    """Why the junction is locked under the policy, or None (lock_green_s 0: never): at least
    lock_movements movements that have each stood at least lock_green_s at a protected green, a
    vehicle on its stop-line loop and none crossing (standing_green_s). The replay cannot judge
    it: the vehicles the lock holds stand upstream of the loops or in the boxes, both sides are
    fed the same starved arrivals and slowed by the same measured blockage, and the lock reads
    fast. A queue at red adds nothing (standing_green_s): a long red is not a lock."""
    standing = state.standing_green_s
    if params.lock_green_s <= 0 or standing is None or not len(standing):
        return None
    stood = np.flatnonzero(standing >= params.lock_green_s)
    if len(stood) < max(params.lock_movements, 1):
        return None
    if params.lock_movements <= 1:
        k = int(np.argmax(standing))
        return (
            f"a lock: movement {k} stood {standing[k]:.0f} s at a protected green with none crossing its stop "
            f"line (lock_green_s {params.lock_green_s:.0f})"
        )
    ids = ", ".join(str(int(k)) for k in stood)
    return (
        f"a lock: movements {ids} stood {float(standing[stood].min()):.0f}-{float(standing[stood].max()):.0f} s "
        f"at a protected green with none crossing their stop lines (lock_green_s {params.lock_green_s:.0f}, "
        f"lock_movements {params.lock_movements})"
    )


def _back(state: HarmState, now_s: float, params: HarmParams) -> str | None:
    """Why the policy is tried again, or None. Never before the hold is over, and never once the
    junction has lost max_losses times in a row (> 0): its returns cost it each time and the
    policy lost again each time, so it stays on the city's plan. Otherwise at once while
    the junction has lost at most timed_returns times in a row; a repeat offender waits for its
    demand (the replay's, measured under the fixed plan) to move by more than demand_shift from
    what it was when the hold ended; with fall_needs_room a fall counts only while no approach is
    overrun (overrun), or for a change of the city's program in force since the verdict (program_shift)."""
    if 0 < params.max_losses <= state.relapses:
        return None
    if state.program_shift and state.lost_to and state.program not in state.lost_to:
        lost = ", ".join(repr(p) if p else "the static program" for p in state.lost_to)
        return f"the city's program {state.program_shift!r} in force, the policy judged worse against {lost} only"
    if now_s - state.since_s < state.hold_s:
        return None
    if state.relapses <= params.timed_returns:
        return f"hold of {state.hold_s:.0f} s over"
    if state.program_shift and not state.lost_to:
        return (
            f"hold of {state.hold_s:.0f} s over, the city's program {state.program_shift!r} in force since the verdict"
        )
    d0, d = state.demand_ref_pcu_h, state.replay.demand_pcu_h
    if d0 <= 0 or abs(d - d0) <= params.demand_shift * d0:
        return None
    if d < d0 and params.fall_needs_room and overrun(state):
        return None
    return f"demand changed by {d / d0 - 1.0:+.0%} since the hold ended ({d0:.0f} -> {d:.0f} PCU/h)"


def overrun(state: HarmState) -> bool:
    """Whether some lane of the junction holds a hidden queue now (the estimator's, upstream of
    an advance loop that stands or of a full lane; HarmState.measured_hidden_pcu). There the
    arrivals the loops count are what the jam lets through (the hidden queue is bounded, the
    discharge held by the queue ahead): a lower bound of the demand, so a fall read there is not a
    fall of the demand."""
    hidden = state.measured_hidden_pcu
    return hidden is not None and bool((hidden > 0).any())


def program_followed(state: HarmState, named: str, replayed: str) -> HarmState:
    """The replay follows the city's program `named` from now (follow_named; `replayed`: what it runs for it, "" the
    static program). In fixed mode (program_shift) the hold ends at once where the verdicts of this streak of losses
    were all against other programs (lost_to; through the twin with validate_return, as any return): the evidence
    was against a plan the city no longer runs, and the light now runs one the policy was not judged against.
    Otherwise the hold stays (a status returning to a program the policy lost against ends none: each program ends
    at most one hold per streak, each loss doubling the next). In policy mode the evidence is re-based
    (program_window)."""
    if state.mode == "fixed":
        return replace(state, program=replayed, program_shift=named)
    return replace(state, program=replayed)


def follow_named(
    followed: FollowedProgram, named: str, target: str | None, wait_s: float, now_s: float
) -> FollowedProgram:
    """[harm] follow_program_in_force: the program a light's replay runs once its status names `named` in force at
    now_s. `target`: what the replay runs for that name (step.program_replayed: the program, or "" for the static
    one); None for a name that is not the light's (neither its static program nor one of its `programs`): ignored,
    kept as `ignored` (the caller reports a new one). A program other than the one replayed is followed once the
    status has named it for wait_s (a cycle of it): a status that alternates names faster moves nothing. Nothing
    else changes: not the mode (a hold on the city's plan ends by its own rules, through the twin with
    validate_return), nor the evidence (under the policy its fixed side has run the program in force at each
    second: the one before, then this one). "" (a roadside that does not say): no change."""
    if not named:
        return followed
    if target is None:
        return followed if followed.ignored == named else replace(followed, ignored=named)
    if target == followed.replayed:
        return replace(followed, named="", named_s=0.0) if followed.named else followed
    if followed.named != named:
        followed = replace(followed, named=named, named_s=now_s)
    if now_s - followed.named_s < wait_s:
        return followed
    return FollowedProgram(target, ignored=followed.ignored)


def program_window(
    state: HarmState, waiting: bool, followed: bool, wait_s: float, now_s: float, params: HarmParams
) -> HarmState:
    """[harm] follow_program_in_force, policy mode: the window between the status naming a program the replay does
    not run yet (`waiting`: follow_named's one-cycle wait) and the replay following it (`followed`, this tick). In it
    the fixed side still runs the program before, which the city no longer runs: the verdict waits (decide). Once
    the replay follows the new program the evidence is re-based on it, as at a change of mode (_rebased): the
    evidence against a program the city no longer runs, the window's and what came before, is not evidence against
    the plan the light would now go to. A window that ends otherwise (the status names the program replayed again; or
    a cycle of the program named, `wait_s`, has passed: the status changed names meanwhile) is counted, as it was
    gathered, and the verdict waits no longer. A window opens at most once per window_s after the last one's end, so
    a status changing programs every cycle re-bases the evidence once per window_s at most. In fixed mode, and when
    a change of mode closed it: nothing."""
    if state.mode != "policy":
        return state
    if state.named_s is not None:
        if followed:
            return _rebased(state)
        if not waiting or now_s > state.named_until_s:
            return _evolve(state, named_s=None)
        return state
    if waiting and not followed and now_s >= state.named_until_s + params.window_s:
        return _evolve(state, named_s=now_s, named_until_s=now_s + wait_s, named_excess_s=state.excess_s)
    return state


def _rebased(state: HarmState) -> HarmState:
    """program_window's re-base: the evidence restarts (shadow.restart_evidence: the fixed side, now on the program
    followed, from the controlled side's queues; the cumulative-sum test, the spill and trim sums at zero, the
    measured spill standing now the baseline), as at a change of mode, the mode and its time (since_s) kept. The
    cumulative-sum test as the window opened is not lost but parked with the program it was gathered against
    (evidence_of), and the one gathered against the program followed, if the replay ran it before under the policy,
    resumes: a status that keeps changing programs (R, session 67) delays a verdict but cannot keep it from being
    reached."""
    parked = dict(state.parked)
    if state.named_excess_s > 0:  # the window's own evidence is for neither program
        parked[state.evidence_of] = state.named_excess_s
    resumed = parked.pop(state.program, 0.0)
    out = replace(_evidence_restarted(state), charge=None, named_s=None, parked=tuple(sorted(parked.items())))
    return replace(out, excess_s=resumed) if resumed else out


def _evidence_restarted(state: HarmState) -> HarmState:
    """The state with its evidence restarted (_rebased and _switch): the fixed side from the controlled side's
    queues, the cumulative-sum test, the spill and trim sums at zero, the measured spill standing now the
    baseline."""
    return replace(
        state,
        replay=shadow.restart_evidence(state.replay),
        excess_s=0.0,
        excess_t_s=state.replay.t_s,
        spill_pcu_s=(0.0, 0.0),
        trim_pcu_s=(0.0, 0.0),
        spill_base_pcu=state.measured_spill_pcu,
        evidence_of=state.program,
    )


def _switch(state: HarmState, mode: Mode, now_s: float, reason: str) -> HarmState:
    """The change of mode: the evidence restarts, and the hidden queue standing now becomes the
    baseline measured_spill charges growth above (the policy's from here on)."""
    return replace(
        _evidence_restarted(state),
        mode=mode,
        since_s=now_s,
        reason=reason,
        plan_settle_s=None,
        paused_s=0.0,
        standing_green_s=None if state.standing_green_s is None else np.zeros_like(state.standing_green_s),
        program_shift="",
        named_s=None,
        parked=(),
    )


def report(state: HarmState) -> JunctionReport:
    g = state.gains
    return JunctionReport(
        state.mode,
        state.reason,
        state.switches,
        state.since_s,
        g.delay_fixed_s,
        g.delay_controlled_s,
        g.delay_gain,
        state.replay.demand_pcu_h,
        state.replay.agreement,
        state.return_due,
        state.return_reason if state.return_due else "",
    )


def network(states: Iterable[HarmState]) -> tuple[shadow.Gains, int]:
    """Network totals (shadow.total: delays demand-weighted) and the number of junctions in
    fixed mode."""
    states = list(states)
    return shadow.total([s.gains for s in states]), sum(s.mode == "fixed" for s in states)


def reports(states: Mapping[str, HarmState]) -> dict[str, JunctionReport]:
    return {jid: report(s) for jid, s in states.items()}

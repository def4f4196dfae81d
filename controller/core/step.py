"""One control tick: step(state, snapshots, statuses, now_s) -> (state, result). Pure.

Per junction: fold the detector snapshots into the estimate, read the roadside status, ask
the policy for a wish, pass it through the safety gate, and re-send the plan in force often
enough that the roadside controller does not fall back. A junction whose feed went stale gets
no commands: its roadside controller reverts to its local plan after its backup time.

Do no harm (controller/core/harm.py, docs/harm.md): every junction's fixed-time shadow replays
the city's program beside the greens shown. A junction whose policy is estimated worse than that
program for a sustained window goes to mode "fixed": the command in force is re-sent once,
expiring at the next tick (a withdrawal), then nothing is sent, and the roadside controller runs
its local program. The policy still decides every tick, so it comes back with a current state.
The `fixed` policy itself is never switched. TickResult.mode_changes says who switched and why;
`Core.report(state)` and `Core.network(state)` give the figures per junction and for the network.

Policies that coordinate junctions (`uses_network = True`) also get a NetworkView
(core/network.py), its learnt links updated each tick for those that read them (`reads_links`),
each light's SignalView for those that read them (`reads_signals`).
All estimates are updated before any policy decides, so every junction sees the same tick.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from controller.core import (
    coupledexit,
    estimation,
    feedarrays,
    grouptrial,
    harm,
    keepclear,
    lightqueue,
    netestimate,
    netshadow,
    pairs,
    shadow,
)
from controller.core.cuts import record_of
from controller.core.estimation import Estimate, Layout
from controller.core.feed import make_plan_id
from controller.core.feedarrays import DetectorFrame, FrameLayout
from controller.core.frozen import copier
from controller.core.harm import FollowedProgram
from controller.core.network import NetworkView
from controller.core.params import CoreConfig
from controller.core.policies import Policy
from controller.core.safety import (
    DECISION_PERIOD_S,
    GateMemo,
    GateOutcome,
    SignalView,
    cyclist_all_red_s,
    gate_cycle,
    phase_outcome,
    phase_target,
)
from controller.core.safety_rows import CycleRows
from controller.model import (
    Command,
    CycleWish,
    Intersection,
    PhaseCommand,
    PhaseWish,
    Refusal,
    SignalStatus,
    Snapshot,
    Wish,
)

_STATIC_PROGRAM = FollowedProgram()  # JunctionState.program's default


@dataclass(frozen=True)
class JunctionState:
    estimate: Estimate
    policy_state: Any
    command: Command | None = None  # the command in force, as last sent
    sent_s: float = float("-inf")
    seq: int = 0
    plans: int = 0
    status: SignalStatus | None = None
    red_since_s: tuple[float, ...] = ()
    stale: bool = True
    harm: harm.HarmState | None = None  # mode (policy | fixed) and the fixed-time shadow
    own_wish: Wish | None = None  # a pair follower's own policy's last cycle wish (core/pairs.py joint_cycle)
    failed: bool = False  # left on its own program by a failure last tick (_failed): harm.resume when observed
    # per movement, when a bicycle was last counted over a stop-line loop of its lanes (-inf: never), kept only at a
    # light with a movement's cyclist_clear_s ([timing] cyclist_clearance; safety.cyclist_all_red_s); (): none
    cyclist_seen_s: tuple[float, ...] = ()
    # per crossing of the model (Intersection.crossings), when it was last green: the gate's alone (SignalView)
    crossing_red_since_s: tuple[float, ...] = ()
    # [harm] follow_program_in_force: the city's program the replay's fixed side runs (Core._follow_programs)
    program: FollowedProgram = _STATIC_PROGRAM


@dataclass(frozen=True)
class CoreState:
    t_s: float
    junctions: Mapping[str, JunctionState]
    links: estimation.LinkState | None = None  # learnt coupling between neighbours (network policies)
    advice: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # last coordinate() result
    advice_t_s: float = float("-inf")
    # [harm] group_trial: per group (by name), who runs it and its count (core/grouptrial.py); {}: none begun
    trials: Mapping[str, grouptrial.TrialState] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class TickResult:
    commands: tuple[Command, ...] = ()
    new_plans: int = 0  # commands that carry a new decision (not refreshes)
    refusals: tuple[Refusal, ...] = ()
    clips: tuple[tuple[str, str], ...] = ()  # (junction, what the gate changed)
    stale: tuple[str, ...] = ()  # junctions without a fresh feed (left to their local plan)
    fixed: tuple[str, ...] = ()  # junctions in mode "fixed" (do no harm: left to their local plan)
    mode_changes: tuple[harm.ModeChange, ...] = ()  # switches of mode this tick, with their reason
    manual: tuple[str, ...] = ()  # junctions under an operator's override (filled by override.apply)
    # (junction, reason): its decision raised this tick (the policy's or the gate's); left on its own program
    failed: tuple[tuple[str, str], ...] = ()
    network_failed: str = ""  # why the policy's network pass raised this tick ("": it did not, or has none)
    # (junction, what): [harm] follow_program_in_force, a program the replay follows from this tick, or a name a
    # status gave that is not the light's (ignored; once per name in a row)
    programs: tuple[tuple[str, str], ...] = ()


@dataclass
class _TickLog:
    """What one tick produced, accumulated junction by junction (becomes the TickResult)."""

    commands: list[Command] = dataclasses.field(default_factory=list)
    new_plans: int = 0
    refusals: list[Refusal] = dataclasses.field(default_factory=list)
    clips: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    stale: list[str] = dataclasses.field(default_factory=list)
    fixed: list[str] = dataclasses.field(default_factory=list)
    mode_changes: list[harm.ModeChange] = dataclasses.field(default_factory=list)
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    network_failed: str = ""
    programs: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # network-wide: never undone

    def result(self) -> TickResult:
        return TickResult(
            tuple(self.commands),
            self.new_plans,
            tuple(self.refusals),
            tuple(self.clips),
            tuple(self.stale),
            tuple(self.fixed),
            tuple(self.mode_changes),
            failed=tuple(self.failed),
            network_failed=self.network_failed,
            programs=tuple(self.programs),
        )

    def mark(self) -> tuple[int, ...]:
        """Where the log stands (undo): new_plans and the lengths of _lists(), in its order (once per
        junction and tick: written out, without a generator)."""
        return (
            self.new_plans,
            len(self.commands),
            len(self.refusals),
            len(self.clips),
            len(self.stale),
            len(self.fixed),
            len(self.mode_changes),
            len(self.failed),
        )

    def undo(self, mark: tuple[int, ...]) -> None:
        """Back to `mark`: what was logged since is dropped (a junction whose decision raised)."""
        self.new_plans = mark[0]
        for x, n in zip(self._lists(), mark[1:], strict=True):
            del x[n:]

    def _lists(self) -> tuple[list[Any], ...]:
        return (self.commands, self.refusals, self.clips, self.stale, self.fixed, self.mode_changes, self.failed)


class Core:
    """Static wiring of the pure core: junction layouts, one policy, timing parameters."""

    def __init__(self, layouts: Mapping[str, Layout], policy: Policy, cfg: CoreConfig) -> None:
        self.layouts = dict(layouts)
        policy, short_groups = _with_short_groups(policy, self.layouts, cfg)
        self.policy = policy
        self.uses_network: bool = policy.uses_network
        self.learns_links: bool = policy.uses_network and policy.reads_links
        self.reads_signals: bool = policy.uses_network and policy.reads_signals
        self.coordinate_period_s: float | None = policy.coordinate_period_s
        self.links = estimation.LinkLayout.build(self.layouts, cfg.estimation)
        self.net = netestimate.network_layout(self.layouts)  # all junctions' estimates in one pass
        self._frame_index: dict[int, tuple[FrameLayout, netestimate.FrameIndex]] = {}  # memo by frame layout
        self._state_cache = netestimate.StateCache()  # memo of the last tick's network lane arrays
        # the safety gate's memory of models and plans found (any gate call here), sized for these junctions
        self.gate_memo = GateMemo(lay.junction for lay in self.layouts.values())
        # the tick's cycle wishes of the network pass gated together (_gate_due)
        self.cycle_rows = CycleRows([lay.junction for lay in self.layouts.values()])
        self.feed_stale_s = cfg.service.feed_stale_s
        self.plan_ttl_s = cfg.roadside.plan_ttl_s
        self.refresh_s = cfg.roadside.refresh_s
        self.harm = cfg.harm
        self.block_window_s = cfg.estimation.block_window_s  # [harm] plan_block reads the estimator's blockage
        self.guarded = not policy.runs_own_program  # the city's program is what the others are judged against
        # the city's program wishes nothing: a junction with no command in force (no override) and not
        # withdrawn has nothing to gate or send (_junction's shortcut, the same state it would reach)
        self.silent = policy.runs_own_program
        self._init_programs(cfg)
        spill = netshadow.Spill.build(self.layouts, self.links, cfg.harm.spill_room) if cfg.harm.spill_back else None
        inflow = netshadow.Inflow.build(self.layouts) if cfg.harm.upstream_arrivals else None
        self.shadow_net = netshadow.NetworkProgram.build([self.programs[jid] for jid in self.layouts], spill, inflow)
        self._replay_cache = netshadow.ReplayCache()  # memo of the last tick's network replay arrays
        # per junction, per phase: the positions of the movements the phase serves (for the red times)
        self._served = {jid: _served_positions(lay.junction) for jid, lay in self.layouts.items()}
        self._crossings_served = _crossings_served(self.layouts)  # JunctionState.crossing_red_since_s's
        self._wire_exits(cfg)  # the exits' readings the [estimation] keys turn on (_exits_full)
        # lights on one short link decided as one program (core/pairs.py): at the leader, the follower's policy first
        self.pairs = pairs.find({jid: lay.junction for jid, lay in self.layouts.items()})
        self._followers = {p.leader: p.follower for p in self.pairs.values()}
        # [harm] short_pair_together: lights on a short link go to and leave the city's plan together
        self.groups = short_groups if self.guarded and cfg.harm.short_pair_together else {}
        self.clock_neighbours = _plan_neighbours(self.layouts) if self.guarded and cfg.harm.on_clock else {}
        self._init_trial_groups(cfg)
        # the lights _steady leaves to _junction: a pair's (decided together), a short group's (judged together)
        self._not_steady = frozenset(self.pairs) | frozenset(self._followers) | frozenset(self.groups)
        # the do-no-harm verdicts _steady reached for the junctions it turned down, per junction: (state judged,
        # time, verdict, reason); _guard takes one given the same state object at the same time (harm.decide is pure)
        self._verdicts: dict[str, tuple[harm.HarmState, float, harm.HarmState, str | None]] = {}
        self._cyclists = _cyclist_lights(self.layouts)  # [timing] cyclist_clearance: always through _junction
        self._not_steady |= frozenset(self._cyclists)
        # the policy's decide() for every junction in one pass, where it has one (not with learnt links); the
        # pass covers every junction (max_pressure's pull_upstream reads the neighbours' estimates from it)
        in_pass = self.net.jids if self.net is not None else tuple(self.layouts)
        covers = set(in_pass) == set(self.layouts) or not self.uses_network
        self.net_decision = (
            None if self.learns_links or not covers else policy.network_decision({j: self.layouts[j] for j in in_pass})
        )

    def _init_programs(self, cfg: CoreConfig) -> None:
        """The do-no-harm replay's fixed side per junction (`programs`: the static program's), and with [harm]
        follow_program_in_force the lights whose file lists other programs (a WAUT switches them: `_follow`) with
        the program each replays ("": the static one; _follow_programs)."""
        self._permitted_ratio = cfg.max_pressure.permitted_sat_ratio
        self.programs = {
            jid: harm.replay_program(lay, cfg.harm, self._permitted_ratio) for jid, lay in self.layouts.items()
        }
        on = cfg.harm.follow_program_in_force
        self.follows = tuple(jid for jid, lay in self.layouts.items() if on and lay.junction.programs)
        self._built = ("",) * len(self.follows)  # the programs `programs` and shadow_net run for `follows`
        self._program_memo = {(jid, ""): self.programs[jid] for jid in self.follows}  # (junction, program): replay's

    def _sync_programs(self, junctions: Mapping[str, JunctionState]) -> None:
        """`programs` and the network replay (shadow_net) run, for each light followed, the program its state
        replays (JunctionState.program): the state's, not the Core's, so a tick that failed after a switch (its
        state not kept) or a restart (the checkpoint's) is replayed on the program of the state given."""
        want = tuple(junctions[jid].program.replayed for jid in self.follows)
        if want == self._built:
            return
        for jid, name in zip(self.follows, want, strict=True):
            self.programs[jid] = self._replay_of(jid, name)
        self._built = want
        net, programs = self.shadow_net, [self.programs[k] for k in self.layouts]
        self.shadow_net = netshadow.NetworkProgram.build(programs, net.spill, net.inflow)
        self._replay_cache = netshadow.ReplayCache()

    def _follow_programs(
        self, updated: dict[str, JunctionState], now_s: float, events: list[tuple[str, str]]
    ) -> dict[str, JunctionState]:
        """[harm] follow_program_in_force: each light's replay follows the program its status names in force once
        named for a cycle of it (harm.follow_named: its base greens and offset from the junction file's `programs`,
        the static program's where the file gives none or names it); a name that is not the light's is ignored.
        Neither the mode nor the evidence changes. Each program followed, and each new name ignored, goes to
        `events`. No clock: the status says what, the tick when."""
        out = updated
        for jid in self.follows:
            js = updated[jid]
            named = js.status.program if js.status is not None else ""
            followed = js.program
            if named:
                target = program_replayed(self.layouts[jid].junction, named)
                followed = harm.follow_named(js.program, named, target, self._wait_s(jid, target), now_s)
            if followed.ignored != js.program.ignored:
                events.append((jid, f"the status names a program {named!r} that is not the light's: ignored"))
            hs = js.harm
            moved = followed.replayed != js.program.replayed
            if moved:
                since = f"named in force since {js.program.named_s:g} s"
                events.append((jid, f"the replay follows the city's program {named!r} ({since})"))
                hs = hs if hs is None else harm.program_followed(hs, named, followed.replayed)
            elif hs is not None and hs.program != followed.replayed:  # a state not built here (a restart's)
                hs = replace(hs, program=followed.replayed, evidence_of=followed.replayed)
            if hs is not None:  # the window before the replay follows a program named: harm.program_window
                waiting = self._wait_s(jid, program_replayed(self.layouts[jid].junction, followed.named))
                hs = harm.program_window(hs, bool(followed.named), moved, waiting, now_s, self.harm)
            if followed == js.program and hs is js.harm:
                continue
            out = dict(updated) if out is updated else out
            out[jid] = _evolve(js, program=followed, harm=hs)
        if out is not updated:
            self._sync_programs(out)
        return out

    def _wait_s(self, jid: str, target: str | None) -> float:
        """What a status naming a program waits before the replay follows it (harm.follow_named): a cycle of the
        program replayed for it (`target`, step.program_replayed: "" the static one); 0 for a name not the light's."""
        return self._replay_of(jid, target).cycle_s if target is not None else 0.0

    def _replay_of(self, jid: str, name: str) -> shadow.Program:
        """The replay's program for light `jid` running program `name` ("": the static one), built once."""
        key = (jid, name)
        if key not in self._program_memo:
            lay = _with_program(self.layouts[jid], name)
            self._program_memo[key] = harm.replay_program(lay, self.harm, self._permitted_ratio)
        return self._program_memo[key]

    def _wire_exits(self, cfg: CoreConfig) -> None:
        """The readings of the exits and the links that _exits_full merges, each built where its
        [estimation] key is on (None off)."""
        # [estimation] keep_clear: exits the next light's loops see full are blocked for the policies
        est_p = cfg.estimation
        self.keep_clear = (
            keepclear.KeepClear.build(self.layouts, cfg.detectors.vehicle_spacing_m, est_p.standing_s)
            if est_p.keep_clear
            else None
        )
        # [estimation] short_link_room: no green into a short link with no room for a whole vehicle, its far end shut
        self.short_links = _short_links(self.layouts, cfg) if est_p.short_link_room else None
        # [estimation] coupled_exit_red: no green into a road that stores no vehicle while the next light is red to it
        coupled = (
            coupledexit.CoupledExits.build(self.layouts, est_p.coupled_exit_all) if est_p.coupled_exit_red else None
        )
        self.coupled_exits = coupled if coupled is not None and coupled.exits else None  # None: off, or no coupled road
        # [estimation] queue_past_room_at_light: a link full back to the light it leaves weighs that light's queue
        fed = lightqueue.LightFed.build(self.layouts) if est_p.queue_past_room_at_light else None
        self.light_fed = fed if fed is not None and fed.links else None  # None: off, or no such link

    def initial_state(self, now_s: float) -> CoreState:
        return CoreState(
            now_s,
            {
                jid: JunctionState(
                    Estimate.empty(lay, now_s),
                    self.policy.init(lay, now_s),
                    red_since_s=tuple(now_s for _ in lay.junction.movements),
                    crossing_red_since_s=tuple(now_s for _ in lay.junction.crossings),
                    harm=harm.initial(self.programs[jid], len(lay.junction.movements), now_s, self._commanded),
                )
                for jid, lay in self.layouts.items()
            },
            estimation.LinkState.empty(self.links, self.layouts, now_s) if self.uses_network else None,
        )

    def step(
        self,
        state: CoreState,
        snapshots: Sequence[Snapshot],
        statuses: Sequence[SignalStatus],
        now_s: float,
        frames: Sequence[tuple[DetectorFrame, np.ndarray]] = (),
    ) -> tuple[CoreState, TickResult]:
        """One tick: update every junction from this tick's messages, coordinate the network (if
        the policy does), then per junction decide, gate and send or refresh. Deterministic.
        `frames`: validated array feeds (core/feedarrays.py) with the junctions accepted in each,
        folded in before the snapshots."""
        if frames:
            snapshots = [*self._frame_snapshots(frames), *snapshots]
        try:
            updated = self._observe(state, snapshots, statuses, now_s, frames)
        except Exception as exc:  # no estimate this tick: every junction left on its own program
            return self._all_failed(state, state.junctions, now_s, _failure_reason("the estimator", exc))
        log, observed = _TickLog(), updated  # the guards switch modes in a copy: a failure keeps `observed`
        stage = f"policy {self.policy.name}'s coordination"
        try:  # network-wide stages before any decision: one raising leaves every junction on its own program
            links, network, advice, advice_t = self._coordinate(state, updated, now_s)
            stage = "do no harm's network guard"
            updated = self._network_guard(dict(updated), now_s, log)
            held = self._group_guard(state, updated, now_s, log.mode_changes) if self.groups else {}
            stage = "do no harm's group trial"
            trials, on_plan = self._group_trials(state, updated, now_s, log.mode_changes)
            held = {**held, **on_plan} if on_plan else held
            stage = "the exits' reading"
            blocked = self._exits_full(updated, now_s)
        except Exception as exc:
            return self._all_failed(state, observed, now_s, _failure_reason(stage, exc))
        try:
            decided = self._decide_network(updated, now_s, network)
        except Exception as exc:  # the junctions decide one by one: the one that raises is named there
            decided, log.network_failed = {}, _failure_reason(f"policy {self.policy.name}", exc)
        gated, quiet = self._gate_due(updated, decided, now_s), self._unchanged(updated, decided, now_s, blocked, held)
        out_states: dict[str, JunctionState] = {}
        for jid, lay in self.layouts.items():
            if jid in quiet:  # nothing to decide, gate or send (_unchanged)
                out_states[jid] = quiet[jid]
                continue
            if jid in self.pairs and jid not in self._followers:
                continue  # a pair's follower: decided with its leader (_pair)
            mark = log.mark()
            try:
                if jid in self._followers:  # a pair's leader: the pair decided on both lights' loops (_pair)
                    out_states.update(self._pair(jid, updated, network, now_s, log, blocked, held))
                else:
                    pre, g = decided.get(jid), gated.get(jid)
                    js = self._junction(jid, lay, updated, network, now_s, log, blocked.get(jid), pre, jid in held, g)
                    out_states[jid] = js
            except Exception as exc:  # one junction's fault must not stop the tick for all (DESIGN.md, safety)
                log.undo(mark)
                out_states.update(
                    self._failed(jid, updated, now_s, log, _failure_reason(f"policy {self.policy.name}", exc))
                )
        if self.pairs:
            out_states = {jid: out_states[jid] for jid in self.layouts}
        return CoreState(now_s, out_states, links, advice, advice_t, trials), log.result()

    def _quiet(self, updated: Mapping[str, JunctionState], now_s: float) -> dict[str, JunctionState]:
        """Under a policy that runs the city's own program (`silent`), the junctions with nothing to
        decide, gate or send this tick, in one pass: a fresh feed, no command in force, not in fixed
        mode, not on a short link's pair; each with the state _decide's shortcut gives it (the same
        object, or marked not stale). The others go through _junction (a stale feed, a command to
        withdraw or refresh, a pair). {} under any other policy."""
        if not self.silent:
            return {}
        stale_s, followers, leaders = self.feed_stale_s, self.pairs, self._followers
        return {
            jid: _evolve(js, stale=False) if js.stale else js
            for jid, js in updated.items()
            if js.command is None
            and (js.harm is None or js.harm.mode != "fixed")
            and jid not in followers
            and jid not in leaders  # a leader decides its follower too (_pair)
            and not _feed_stale(js.estimate, now_s, stale_s)
        }

    def _unchanged(
        self,
        updated: Mapping[str, JunctionState],
        decided: Mapping[str, _Decided],
        now_s: float,
        blocked: Mapping[str, tuple[np.ndarray, np.ndarray]],
        held: Mapping[str, str],
    ) -> dict[str, JunctionState]:
        """The junctions with nothing to decide, gate or send this tick, and their states: _quiet's under
        a policy that runs the city's program, _steady's under the others."""
        return self._quiet(updated, now_s) if self.silent else self._steady(updated, decided, now_s, blocked, held)

    def _steady(
        self,
        updated: Mapping[str, JunctionState],
        decided: Mapping[str, _Decided],
        now_s: float,
        blocked: Mapping[str, tuple[np.ndarray, np.ndarray]],
        held: Mapping[str, str],
    ) -> dict[str, JunctionState]:
        """Under a policy with a network pass, the junctions whose tick changes nothing but the policy state,
        in one pass: the pass wished nothing, the feed fresh and not stale before, no phase held in force
        (nothing for the gate to watch) and no refresh due, in policy mode with do no harm's verdict
        (harm.decide) the state it was given and no switch; not on a short link's pair or group, held on the
        plan, or seen blocked. _junction would log nothing and return the same object, or, where the pass
        gave a new policy state (webster's sums after a re-plan), a copy with that state alone changed
        (_decide's): so does this pass. A verdict that raises is left to _junction, which names it; one that
        turns the junction down is kept for _junction's _guard (self._verdicts), not reached twice."""
        skip, stale_s, refresh_s = self._not_steady, self.feed_stale_s, self.refresh_s
        guarded, params = self.guarded, self.harm
        out: dict[str, JunctionState] = {}
        verdicts = self._verdicts = {}  # the junctions turned down on their verdict: _guard takes it (once a tick)
        for jid, (pstate, wish, _view) in decided.items():
            js = updated[jid]
            if wish is not None or js.stale or jid in skip:
                continue
            cmd = js.command
            if cmd is not None and (isinstance(cmd, PhaseCommand) or now_s - js.sent_s >= refresh_s):
                continue
            if jid in blocked or jid in held or _feed_stale(js.estimate, now_s, stale_s):
                continue
            hs = js.harm
            if hs is not None and hs.mode != "policy":
                continue
            if hs is not None and guarded:
                try:
                    verdict, why = harm.decide(hs, now_s, params)
                except Exception:
                    continue
                if verdict is not hs or why is not None:
                    verdicts[jid] = (hs, now_s, verdict, why)
                    continue
            out[jid] = js if pstate is js.policy_state else _evolve(js, policy_state=pstate)
        return out

    def _coordinate(
        self, state: CoreState, updated: Mapping[str, JunctionState], now_s: float
    ) -> tuple[estimation.LinkState | None, NetworkView | None, Mapping[str, Any], float]:
        """For network policies: the learnt links updated with every junction's estimate, the
        NetworkView, and the policy's coordinate() advice (recomputed every coordinate_period_s,
        from the policy states of the last tick). (links, None, {}, -inf) for the others; the links
        as they stand for a policy that does not read them (`reads_links` False)."""
        if not self.uses_network:
            return state.links, None, {}, float("-inf")
        estimates = {jid: js.estimate for jid, js in updated.items()}
        links = state.links or estimation.LinkState.empty(self.links, self.layouts, now_s)
        if self.learns_links:
            links = estimation.update_links(self.links, links, estimates, max(now_s - state.t_s, 1e-3), now_s)
        signals = (
            {j: _view(js.status, js.red_since_s, now_s, js.crossing_red_since_s) for j, js in updated.items()}
            if self.reads_signals
            else {}
        )
        phases = _reported_phases(updated)
        network = NetworkView(self.links, links, estimates, self.layouts, phases=phases, signals=signals)
        if self.coordinate_period_s is None:
            return links, network, {}, float("-inf")
        advice, advice_t = state.advice, state.advice_t_s
        if now_s - advice_t >= self.coordinate_period_s:
            advice = self.policy.coordinate(network, {jid: js.policy_state for jid, js in updated.items()}, now_s)
            advice_t = now_s
        return links, replace(network, advice=advice), advice, advice_t

    def _decide_network(
        self, updated: Mapping[str, JunctionState], now_s: float, network: NetworkView | None = None
    ) -> dict[str, _Decided]:
        """Per junction of the policy's network pass (Policy.network_decision), its decide()
        result and the signal view it saw, this tick; {} without a pass. _decide takes it where
        it would call decide() itself: not at a pair's leader, nor where keep-clear changed the
        estimate. The views are the NetworkView's where it has them (`reads_signals`: _views)."""
        nd = self.net_decision
        if nd is None:
            return {}
        jss = [updated[j] for j in nd.jids]
        views = _views(nd.jids, jss, now_s, network)
        out = nd.decide_all([js.policy_state for js in jss], [js.estimate for js in jss], views, now_s)
        return {jid: (pstate, wish, view) for jid, (pstate, wish), view in zip(nd.jids, out, views)}

    def _gate_due(
        self, updated: Mapping[str, JunctionState], decided: Mapping[str, _Decided], now_s: float
    ) -> dict[str, Gated]:
        """The cycle wishes of the network pass gated together (safety_rows.CycleRows: gate_cycle's
        outcomes, to the bit), each kept with what it was gated for: _gate takes it where it gates
        the same wish and view (the same objects) with the same seq and plan id, and gates any other
        itself. {} where the pass raised: each junction's gate then raises on its own (_junction)."""
        items, jids = [], []
        for jid, (_pstate, wish, view) in decided.items():
            if isinstance(wish, CycleWish):
                js = updated[jid]
                items.append((self.layouts[jid].junction, wish, self._plan_id(jid, js), js.seq + 1, view))
                jids.append(jid)
        if len(items) < CycleRows.MIN_ROWS:
            return {}
        try:
            outcomes = self.cycle_rows.gate(items, now_s, self.plan_ttl_s, self.gate_memo)
        except Exception:  # each junction is then gated alone: a fault is named there (_junction)
            return {}
        return {jid: Gated(w, view, seq, pid, o) for jid, (_j, w, pid, seq, view), o in zip(jids, items, outcomes)}

    def _exits_full(
        self, updated: Mapping[str, JunctionState], now_s: float
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """[estimation] keep_clear: per junction touched by an exit seen full, the share of each
        movement's exit seen full and the PCU held upstream of what it drains
        (core/keepclear.py); with [estimation] coupled_exit_red, also the movements into a road to a
        coupled light that light is red to, and the queue waiting for it (core/coupledexit.py);
        with [estimation] short_link_room, the lanes of a short link with no room left
        (keepclear.ShortLinks); with [estimation] queue_past_room_at_light, the queue at the light
        before a lane full back to it (core/lightqueue.py); {} with the keys off."""
        if (
            self.keep_clear is None
            and self.coupled_exits is None
            and self.short_links is None
            and self.light_fed is None
        ):
            return {}
        estimates = {j: js.estimate for j, js in updated.items()}
        full = {} if self.keep_clear is None else keepclear.blocked_shares(self.keep_clear, self.layouts, estimates)
        if self.coupled_exits is None and self.short_links is None and self.light_fed is None:
            return full
        phases, stale = self._coupled_reading(updated, now_s)
        if self.light_fed is not None:
            full = coupledexit.merged(full, lightqueue.held_at_light(self.light_fed, self.layouts, estimates, stale))
        if self.short_links is not None:
            room = keepclear.room_shares(self.short_links, self.layouts, estimates, phases, stale)
            full = coupledexit.merged(full, room)
        if self.coupled_exits is None:
            return full
        held = coupledexit.held_shares(self.coupled_exits, self.layouts, estimates, phases, stale)
        return coupledexit.merged(full, held)

    def _coupled_reading(
        self, updated: Mapping[str, JunctionState], now_s: float
    ) -> tuple[dict[str, int | None], frozenset[str]]:
        """What the coupled-road rules read of a neighbour: each light's stage from its status (None
        without one: the rule acts as with no neighbour), and the lights whose detector feed is older
        than [service] feed_stale_s, whose queue readings are old and are not read. A stale light's
        status still is: a light left to its own plan still shows its stage, and a red it shows
        still holds the road (the status is retained state, sent on change and every few seconds)."""
        phases = _reported_phases(updated)
        stale = frozenset(j for j, js in updated.items() if _feed_stale(js.estimate, now_s, self.feed_stale_s))
        return phases, stale

    def _junction(
        self,
        jid: str,
        lay: Layout,
        updated: Mapping[str, JunctionState],
        network: NetworkView | None,
        now_s: float,
        log: _TickLog,
        blocked: tuple[np.ndarray, np.ndarray] | None = None,
        pre: _Decided | None = None,
        held: bool = False,
        gated: Gated | None = None,
    ) -> JunctionState:
        """One junction's decision this tick: nothing on a stale feed; the policy decides in
        every mode; in fixed mode the command in force is withdrawn; else the wish goes through
        the gate and the result is sent, or the command in force refreshed. `blocked`: the
        share of each movement's exit seen full and the PCU held behind what it drains (keep_clear);
        `pre`: the policy's decision from the network pass (_decide_network); `held`: on the city's
        plan with its short-link group (_group_guard, _on_program); `gated`: the pass's cycle wish
        gated with the tick's others (_gate_due), for _gate."""
        decided = self._decide(jid, lay, updated, network, now_s, log, blocked, pre=pre)
        if isinstance(decided, JunctionState):
            return decided
        js, wish, view, _ = decided
        if self.coupled_exits is not None and jid in self.coupled_exits.into:
            wish = self._keep_coupled_open(jid, wish, view, updated, now_s)
        if held or (jid in self.groups and _in_fixed_mode(js)) or self._on_clock(jid, js, updated):
            return self._on_program(jid, lay, js, view, now_s, log)
        return self._dispatch(jid, lay, js, wish, view, now_s, log, gated=gated)

    def _on_program(
        self, jid: str, lay: Layout, js: JunctionState, view: SignalView | None, now_s: float, log: _TickLog
    ) -> JunctionState:
        """A light of a short group on the city's plan ([harm] short_pair_together): sent the stage
        its program shows now on its own clock (pairs.program_wish), through the gate, so that the
        group's lights keep the offsets the city gave them; refused, withdrawn (_dispatch)."""
        wish: PhaseWish | None = pairs.program_wish(self.programs[jid], now_s)
        if wish is not None and isinstance(js.command, PhaseCommand) and js.command.phase == wish.phase:
            wish = None  # in force: refreshed
        return self._dispatch(jid, lay, js, wish, view, now_s, log, fixed=True)

    def _on_clock(self, jid: str, js: JunctionState, updated: Mapping[str, JunctionState]) -> bool:
        """[harm] on_clock: the junction is on the city's plan and so is a neighbour it feeds or is fed by
        (their last tick's modes): the two are sent their programs' stages on their own clocks
        (_on_program), so that they keep the offsets the city gave them. A light on its plan alone
        among lights run by the policy has no offset to keep and is withdrawn, as without the key."""
        if not self.clock_neighbours or not _in_fixed_mode(js):
            return False
        return any(_in_fixed_mode(updated[n]) for n in self.clock_neighbours[jid])

    def _keep_coupled_open(
        self, jid: str, wish: Wish | None, view: SignalView | None, updated: Mapping[str, JunctionState], now_s: float
    ) -> Wish | None:
        """[estimation] coupled_exit_red: the phase in force instead of a wish that would close a
        coupled road a light upstream is sending a queue into (coupledexit.keeps_open); the gate's
        maximum green and maximum red still apply."""
        if self.coupled_exits is None or view is None or view.in_intergreen:
            return wish
        if not isinstance(wish, PhaseWish) or wish.phase == view.phase:
            return wish
        phases, stale = self._coupled_reading(updated, now_s)
        estimates = {j: js.estimate for j, js in updated.items()}
        ce = self.coupled_exits
        if coupledexit.keeps_open(ce, jid, view.phase, wish.phase, self.layouts, estimates, phases, stale):
            return PhaseWish(view.phase)
        return wish

    def _decide(
        self,
        jid: str,
        lay: Layout,
        updated: Mapping[str, JunctionState],
        network: NetworkView | None,
        now_s: float,
        log: _TickLog,
        blocked: tuple[np.ndarray, np.ndarray] | None,
        partner: pairs.StageView | None = None,
        pre: _Decided | None = None,
    ) -> JunctionState | tuple[JunctionState, Wish | None, SignalView | None, Estimate]:
        """The junction's state, final on a stale feed (or silent), else with the policy's wish,
        the signal view and the estimate the policy saw. `partner`: a pair leader's follower's
        StageView on the leader's stages (Policy.decide_paired); `pre`: the network pass's
        decide() result and view, taken unless keep-clear changed the estimate (`blocked`)."""
        js = updated[jid]
        est = js.estimate
        if _feed_stale(est, now_s, self.feed_stale_s):
            log.stale.append(jid)
            return _evolve(js, command=None, stale=True)
        if self.silent and js.command is None and (js.harm is None or js.harm.mode != "fixed"):
            return _evolve(js, stale=False) if js.stale else js
        view = _views((jid,), (js,), now_s, network)[0] if pre is None else pre[2]
        hs = js.harm if jid in self.groups else self._guard(jid, js, now_s, log.mode_changes)  # (_group_guard)
        if blocked is not None:
            est = keepclear.seen_by_policy(lay, est, blocked)
        if pre is not None and blocked is None and partner is None:
            pstate, wish = pre[0], pre[1]
        elif jid in self._followers:
            pstate, wish = self.policy.decide_paired(js.policy_state, lay, est, view, now_s, network, partner)
        elif network is not None:
            pstate, wish = self.policy.decide(js.policy_state, lay, est, view, now_s, network=network)
        else:
            pstate, wish = self.policy.decide(js.policy_state, lay, est, view, now_s)
        if pstate is not js.policy_state or js.stale or hs is not js.harm:  # one copy for the mode and the policy
            js = _evolve(js, policy_state=pstate, stale=False, harm=hs)
        return js, wish, view, est

    def _dispatch(
        self,
        jid: str,
        lay: Layout,
        js: JunctionState,
        wish: Wish | None,
        view: SignalView | None,
        now_s: float,
        log: _TickLog,
        fixed: bool | None = None,
        gated: Gated | None = None,
    ) -> JunctionState:
        """The decided wish to the roadside: in fixed mode the command in force is withdrawn; else
        the wish goes through the gate and is sent, or the command in force refreshed. `fixed`
        given (a pair light, _pair): the wish is the pair's, in fixed mode its base program, which
        goes through the gate too (None: already in force); refused, the light is withdrawn.
        `gated`: the network pass's outcome for its cycle wish, for _gate."""
        if fixed is None:
            if js.harm is not None and js.harm.mode == "fixed":  # the policy's wish is not sent
                log.fixed.append(jid)
                return self._withdraw(js, now_s, log.commands)
        elif fixed:
            log.fixed.append(jid)
            if wish is not None:  # the base program not yet in force: the gate's verdict on it
                outcome = self._gate(jid, lay, js, wish, view, now_s, log.refusals)
                if outcome is None or outcome.command is None:  # refused: control handed back
                    if outcome is not None:
                        log.refusals.append(Refusal(jid, outcome.refused))
                    return self._withdraw(js, now_s, log.commands)
                return self._send(jid, js, outcome, now_s, log)
        # no wish and no phase held in force: nothing to gate (_gate's outcome is None), not called
        no_gate = wish is None and not isinstance(js.command, PhaseCommand)
        outcome = None if no_gate else self._gate(jid, lay, js, wish, view, now_s, log.refusals, gated)
        sent = self._send(jid, js, outcome, now_s, log)
        if sent.plans > js.plans and sent.harm is not None and not sent.harm.commanded:
            return _evolve(sent, harm=harm.first_command(sent.harm, now_s))  # evidence_from_first_command
        return sent

    @property
    def _commanded(self) -> bool:
        """A junction's do-no-harm state starts as commanded unless [harm] evidence_from_first_command:
        then its evidence starts at the policy's first command to it (harm.first_command)."""
        return not self.harm.evidence_from_first_command

    def _pair(
        self,
        leader: str,
        updated: Mapping[str, JunctionState],
        network: NetworkView | None,
        now_s: float,
        log: _TickLog,
        blocked: Mapping[str, tuple[np.ndarray, np.ndarray]],
        held: Mapping[str, str],
    ) -> dict[str, JunctionState]:
        """A pair decided on both lights' loops (core/pairs.py): the follower's policy decides
        first (its state stays current); the leader's decides with the follower's StageView
        (Policy.decide_paired: its pressures added, its clearance respected); a cycle plan takes
        the larger green per stage of both lights' wishes (pairs.joint_cycle); the follower gets
        the leader's wish mapped. Each light's wish goes through its own gate (_dispatch)."""
        follower = self._followers[leader]
        pair, lf, ll = self.pairs[follower], self.layouts[follower], self.layouts[leader]
        f = self._decide(follower, lf, updated, network, now_s, log, blocked.get(follower))
        partner: pairs.StageView | None = None
        if not isinstance(f, JunctionState):
            js_f, wish_f, view_f, est_f = f
            if isinstance(wish_f, CycleWish):
                js_f = _evolve(js_f, own_wish=wish_f)
                f = (js_f, wish_f, view_f, est_f)
            v = self.policy.stage_view(js_f.policy_state, lf, est_f, view_f, now_s, network)
            partner = None if v is None else pairs.partner_view(v, pair)
        d = self._decide(leader, ll, updated, network, now_s, log, blocked.get(leader), partner)
        if isinstance(d, JunctionState):  # the leader decided nothing (stale): the follower alone
            solo = f if isinstance(f, JunctionState) else self._solo(follower, f, now_s, log, follower in held)
            return {leader: d, follower: solo}
        js_l, wish_l, view_l, _ = d
        if isinstance(wish_l, CycleWish) and not isinstance(f, JunctionState):
            own = f[0].own_wish
            wish_l = pairs.joint_cycle(wish_l, own if isinstance(own, CycleWish) else None, pair)
        # either light on the city's program, as observed this tick or after this tick's verdict
        fixed = any(_in_fixed_mode(x) for x in (js_l, updated[follower], f if isinstance(f, JunctionState) else f[0]))
        fixed = fixed or leader in held or follower in held
        out_l = pairs.base_wish(ll.junction) if fixed else wish_l
        out_l = _unless_in_force(out_l, js_l, fixed)
        out = {leader: self._dispatch(leader, ll, js_l, out_l, view_l, now_s, log, fixed)}
        if isinstance(f, JunctionState):
            out[follower] = f
            return out
        js_f, _, view_f, _ = f
        out_f = pairs.base_wish(lf.junction) if fixed else pairs.follow(wish_l, pair)
        out_f = _unless_in_force(out_f, js_f, fixed)
        out[follower] = self._dispatch(follower, lf, js_f, out_f, view_f, now_s, log, fixed)
        return out

    def _solo(
        self,
        jid: str,
        decided: tuple[JunctionState, Wish | None, SignalView | None, Estimate],
        now_s: float,
        log: _TickLog,
        held: bool = False,
    ) -> JunctionState:
        """A pair light whose partner decided nothing this tick (its feed stale): its own wish, or
        in fixed mode (or `held`, _group_guard) its base program (_dispatch)."""
        js, wish, view, _ = decided
        fixed = _in_fixed_mode(js) or held
        out = pairs.base_wish(self.layouts[jid].junction) if fixed else wish
        return self._dispatch(jid, self.layouts[jid], js, _unless_in_force(out, js, fixed), view, now_s, log, fixed)

    def _gate(
        self,
        jid: str,
        lay: Layout,
        js: JunctionState,
        wish: Wish | None,
        view: SignalView | None,
        now_s: float,
        refusals: list[Refusal],
        gated: Gated | None = None,
    ) -> GateOutcome | None:
        """The gate's outcome for the wish (None: no wish, or a PhaseCommand that would repeat the
        command in force, which is not built: _send would drop it). With an acyclic command in force and
        no accepted wish, the hold of that phase is gated too: the roadside holds its phase until
        told otherwise, so max green and max red are watched even when the policy is silent or
        refused; a switch the gate forces replaces the outcome (the refusal is recorded). `gated`: a
        cycle wish gated with the tick's others (_gate_due), taken only for this very wish and view (the
        same objects), seq and plan id; any other cycle wish goes through gate_cycle."""
        seq, ttl_s, memo = js.seq + 1, self.plan_ttl_s, self.gate_memo
        in_force = js.command if isinstance(js.command, PhaseCommand) else None
        outcome: GateOutcome | None = None
        if isinstance(wish, CycleWish):
            plan_id = self._plan_id(jid, js)
            g = gated
            if g is not None and g.wish is wish and g.view is view and g.seq == seq and g.plan_id == plan_id:
                outcome = g.outcome  # gated with the tick's others (_gate_due)
            else:
                outcome = gate_cycle(
                    lay.junction, wish, plan_id=plan_id, seq=seq, now_s=now_s, ttl_s=ttl_s, view=view, memo=memo
                )
        elif wish is not None and view is None:
            outcome = GateOutcome(None, "no roadside status yet: acyclic command withheld")
        elif wish is not None and view is not None:
            target = phase_target(lay.junction, wish, view, now_s=now_s, memo=memo)
            if in_force is not None and not isinstance(target, str) and target[0] == in_force.phase:
                return None  # it repeats the command in force: nothing new to send (_same_decision)
            plan_id = self._plan_id(jid, js)
            outcome = phase_outcome(lay.junction, target, plan_id=plan_id, seq=seq, now_s=now_s, ttl_s=ttl_s)
        if (outcome is None or outcome.command is None) and in_force is not None and view is not None:
            keep = phase_target(lay.junction, PhaseWish(in_force.phase, in_force.hold_s), view, now_s=now_s, memo=memo)
            if not isinstance(keep, str) and keep[0] != in_force.phase:
                if outcome is not None:
                    refusals.append(Refusal(jid, outcome.refused))
                plan_id = self._plan_id(jid, js)
                outcome = phase_outcome(lay.junction, keep, plan_id=plan_id, seq=seq, now_s=now_s, ttl_s=ttl_s)
        if jid in self._cyclists and outcome is not None and view is not None:
            return _cyclist_clearance(lay.junction, js, view, outcome, now_s, memo)
        return outcome

    def _plan_id(self, jid: str, js: JunctionState) -> str:
        """The id of the junction's next new plan."""
        return make_plan_id(jid, self.policy.name, str(js.plans + 1))

    def _send(
        self, jid: str, js: JunctionState, outcome: GateOutcome | None, now_s: float, log: _TickLog
    ) -> JunctionState:
        """Send the gated command if it carries a new decision; otherwise record the refusal (if
        any) and re-send the command in force every refresh_s, so the roadside does not fall back."""
        if outcome is not None and outcome.command is not None and _same_decision(outcome.command, js.command):
            outcome = None  # an acyclic policy restates its wish every tick; the roadside already has it
        if outcome is not None and outcome.command is not None:
            log.commands.append(outcome.command)
            log.new_plans += 1
            log.clips.extend((jid, c) for c in outcome.clipped)
            return _evolve(js, command=outcome.command, sent_s=now_s, seq=js.seq + 1, plans=js.plans + 1)
        if outcome is not None:
            log.refusals.append(Refusal(jid, outcome.refused))
        if js.command is not None and now_s - js.sent_s >= self.refresh_s:
            cmd = replace(js.command, seq=js.seq + 1, valid_from_s=now_s, expires_s=now_s + self.plan_ttl_s)
            log.commands.append(cmd)
            return _evolve(js, command=cmd, sent_s=now_s, seq=js.seq + 1)
        return js

    def _frame_snapshots(self, frames: Sequence[tuple[DetectorFrame, np.ndarray]]) -> list[Snapshot]:
        """The accepted frame readings of junctions outside the network pass (no loop), as snapshots."""
        in_net = set(self.net.jids) if self.net is not None else set()
        return [
            feedarrays.snapshot(f, k)
            for f, accepted in frames
            for k, jid in enumerate(f.layout.junctions)
            if accepted[k] and jid in self.layouts and jid not in in_net
        ]

    def _frame_readings(
        self, frames: Sequence[tuple[DetectorFrame, np.ndarray]]
    ) -> list[tuple[netestimate.NetworkReadings, float]]:
        if self.net is None:
            return []
        out = []
        for frame, accepted in frames:
            known = self._frame_index.get(id(frame.layout))
            if known is None or known[0] is not frame.layout:  # memo per layout object
                known = self._frame_index[id(frame.layout)] = (
                    frame.layout,
                    netestimate.FrameIndex.build(self.net, frame.layout),
                )
            out.append((netestimate.readings_from_frame(self.net, known[1], frame, accepted), frame.period_s))
        return out

    def _observe(
        self,
        state: CoreState,
        snapshots: Sequence[Snapshot],
        statuses: Sequence[SignalStatus],
        now_s: float,
        frames: Sequence[tuple[DetectorFrame, np.ndarray]] = (),
    ) -> dict[str, JunctionState]:
        """Every junction's estimate, signal status, red times and do-no-harm replay, updated
        with this tick's messages (before any policy decides)."""
        snaps: dict[str, list[Snapshot]] = {}
        for s in snapshots:
            snaps.setdefault(s.junction, []).append(s)
        latest_status = {s.junction: s for s in statuses}
        now_status: dict[str, SignalStatus | None] = {}
        greens: dict[str, int | None] = {}
        before: dict[str, Estimate] = {}
        for jid, js in state.junctions.items():
            st = now_status[jid] = latest_status.get(jid, js.status)
            # The status read this tick describes the signal during the period the detector
            # messages cover: the estimator learns from green time only.
            greens[jid] = st.phase if st is not None and not st.in_intergreen else None
            before[jid] = js.estimate
        estimates = netestimate.fold(
            self.net, self.layouts, before, snaps, greens, self._frame_readings(frames), self._state_cache
        )
        harms = self._observe_harm(state, estimates, now_status, now_s)
        updated: dict[str, JunctionState] = {}
        for jid, hs in harms.items():
            js = state.junctions[jid]
            d = js.__dict__.copy()  # _evolve's copy, its fields known: once per junction and tick
            status = d["status"] = now_status[jid]
            if status is not None and not status.in_intergreen:  # else _red_since keeps the red times
                d["red_since_s"] = _red_since(self._served[jid], status, js.red_since_s, now_s)
                if js.crossing_red_since_s:
                    crossing = self._crossings_served[jid]
                    d["crossing_red_since_s"] = _red_since(crossing, status, js.crossing_red_since_s, now_s)
            if js.failed:  # its roadside ran its own program: evidence for neither side (harm.resume)
                hs = harm.resume(hs, now_s, js.harm) if self.guarded else hs  # js.harm: before the outage
                d["failed"] = False
            d["estimate"], d["harm"] = estimates[jid], hs
            if jid in self._cyclists:
                d["cyclist_seen_s"] = self._cyclists_seen(jid, js, snaps.get(jid, ()), frames, now_s)
            updated[jid] = record_of(JunctionState, d)
        return updated

    def _cyclists_seen(
        self,
        jid: str,
        js: JunctionState,
        snaps: Sequence[Snapshot],
        frames: Sequence[tuple[DetectorFrame, np.ndarray]],
        now_s: float,
    ) -> tuple[float, ...]:
        """The junction's JunctionState.cyclist_seen_s after this tick's readings (messages and frames)."""
        by_loop = self._cyclists[jid]
        seen = list(js.cyclist_seen_s) or [-math.inf] * len(self.layouts[jid].junction.movements)
        counted = [rd.detector for s in snaps for rd in s.readings if dict(rd.counts).get("bicycle", 0) > 0]
        for frame, accepted in frames:
            counted += feedarrays.counted_by_class(frame, accepted, jid, "bicycle")
        for det in counted:
            for i in by_loop.get(det, ()):
                seen[i] = now_s
        return tuple(seen)

    def _observe_harm(
        self,
        state: CoreState,
        estimates: Mapping[str, Estimate],
        statuses: Mapping[str, SignalStatus | None],
        now_s: float,
    ) -> dict[str, harm.HarmState]:
        """Every junction's do-no-harm replay advanced to now_s (harm.observe_all: one pass over
        the network's movements; harm.advance_replays, the replays alone, under a policy that runs
        the city's own program: no verdict is taken), on the programs the state's lights follow (_sync_programs:
        a failed tick's switch is not kept)."""
        if self.follows:
            self._sync_programs(state.junctions)
        states = {
            jid: js.harm
            or harm.initial(self.programs[jid], len(self.layouts[jid].junction.movements), state.t_s, self._commanded)
            for jid, js in state.junctions.items()
        }
        ests = [estimates[jid] for jid in self.layouts]
        args = (self.shadow_net, [states[jid] for jid in self.layouts], ests, [statuses[jid] for jid in self.layouts])
        if not self.guarded:
            return dict(zip(self.layouts, harm.advance_replays(*args, now_s, self.harm, self._replay_cache)))
        # every junction whose feed is not stale is judged this tick (_decide, _group_guard: harm.decide)
        judged = _feeds_fresh(ests, now_s, self.feed_stale_s)
        out = harm.observe_all(*args, now_s, self.harm, self._replay_cache, judged, self.block_window_s)
        return dict(zip(self.layouts, out))

    def _network_guard(
        self, updated: dict[str, JunctionState], now_s: float, log: _TickLog
    ) -> dict[str, JunctionState]:
        """`[harm] network_share`: the policy judged for the network (harm.network_verdict), on the
        modes of the last tick; the junctions it switches are recorded. First, with [harm]
        follow_program_in_force, each replay follows the program in force (_follow_programs)."""
        if self.follows:
            updated = self._follow_programs(updated, now_s, log.programs)
        mode_changes = log.mode_changes
        if not self.guarded or self.harm.network_share <= 0:
            return updated
        states = {jid: js.harm for jid, js in updated.items() if js.harm is not None}
        switched = harm.network_verdict(states, now_s, self.harm)
        for jid, (hs, why) in switched.items():
            mode_changes.append(harm.ModeChange(jid, now_s, "fixed", why, states[jid].gains))
            updated[jid] = _evolve(updated[jid], harm=hs)
        return updated

    def _group_guard(
        self, state: CoreState, updated: dict[str, JunctionState], now_s: float, mode_changes: list[harm.ModeChange]
    ) -> dict[str, str]:
        """`[harm] short_pair_together`: every light of a short-link group judged (_guard) before any
        decides, then the lights held on the city's plan because another of their group is in fixed
        mode (pairs.held: held light -> the light in fixed mode); a light held or released while its
        own mode stays is recorded as a change of mode too. A stale light is not judged (_decide)."""
        for jid in self.groups:
            js = updated[jid]
            if not _feed_stale(js.estimate, now_s, self.feed_stale_s):
                hs = self._guard(jid, js, now_s, mode_changes)
                if hs is not js.harm:
                    updated[jid] = _evolve(js, harm=hs)
        before = pairs.held(self.groups, [j for j in self.groups if _in_fixed_mode(state.junctions[j])])
        now = pairs.held(self.groups, [j for j in self.groups if _in_fixed_mode(updated[j])])
        for jid in self.groups:
            own_before, own_now = _in_fixed_mode(state.junctions[jid]), _in_fixed_mode(updated[jid])
            if own_before and not own_now and jid in now:  # its own hold over, held still: not back
                _held_still(mode_changes, jid, now[jid])
                continue
            if own_before != own_now or (jid in before) == (jid in now):
                continue  # its own switch is recorded by _guard
            hs = updated[jid].harm
            if hs is None:  # not guarded: no replay, no mode
                continue
            if jid in now:
                why = _held_by(now[jid])
            else:
                why = f"{before[jid]}, on a short link to it, back to the policy"
            mode_changes.append(harm.ModeChange(jid, now_s, "fixed" if jid in now else "policy", why, hs.gains))
        return now

    def _init_trial_groups(self, cfg: CoreConfig) -> None:
        """[harm] group_trial: neighbouring lights whose programs run one cycle, run as one by the policy or
        the plan (grouptrial.find; none without the key), each light's plan's least waits, per group the
        lanes its plan shows green on average ([harm] group_trial_green; inf: no gate), and whether the lanes
        green are measured (that key or [harm] group_trial_min_degree)."""
        self.trial_groups = (
            grouptrial.find(_plan_neighbours(self.layouts), {jid: p.cycle_s for jid, p in self.programs.items()})
            if self.guarded and cfg.harm.enabled and cfg.harm.group_trial
            else ()
        )
        self._uniform_wait = {
            j: grouptrial.uniform_wait_s(self.programs[j]) for g in self.trial_groups for j in g.lights
        }
        self._plan_green = {
            g.name: sum(grouptrial.green_lanes(self.programs[j], self.layouts[j].lane_green) for j in g.lights)
            if cfg.harm.group_trial_green
            else math.inf
            for g in self.trial_groups
        }
        self._measure_green = cfg.harm.group_trial_green or cfg.harm.group_trial_min_degree > 0

    def _group_trials(
        self, state: CoreState, updated: Mapping[str, JunctionState], now_s: float, mode_changes: list[harm.ModeChange]
    ) -> tuple[Mapping[str, grouptrial.TrialState], dict[str, str]]:
        """`[harm] group_trial`: every group's trial advanced with its lights' stop-line crossings
        (grouptrial.advance), and the lights of the groups the city's plan runs (light -> group), sent
        their programs' stages on their clocks (_on_program, as a light held by its short group). A
        trial's start and its verdict are a mode change of each of the group's lights (the verdict's
        mode the same when the side on trial is kept), with the counts that decided it."""
        if not self.trial_groups:
            return state.trials, {}
        h, trials, on_plan = self.harm, {}, {}
        for g in self.trial_groups:
            st = state.trials.get(g.name) or grouptrial.start(g, state.t_s, h.group_trial_cycles)
            ests = [updated[j].estimate for j in g.lights]
            crossed = float(sum(float(e.departures_pcu.sum()) for e in ests))
            floor = float(sum(float(self._uniform_wait[j] @ e.departures_pcu) for j, e in zip(g.lights, ests)))
            queue = float(sum(float(e.queue_pcu.sum()) for e in ests))
            args = (h.group_trial_cycles, h.group_trial_retry_cycles, h.group_trial_z)
            hidden = float(sum(float(e.lanes.hidden_pcu.sum()) for e in ests))
            lanes_now, sat_now = self._green_lanes(g, updated)
            st, why = grouptrial.advance(
                st,
                g,
                crossed,
                floor,
                queue,
                now_s,
                *args,
                hidden_pcu=hidden,
                hidden_min_pcu=h.group_trial_hidden_pcu,
                green_lanes_now=lanes_now,
                plan_green_lanes=self._plan_green[g.name],
                green_sat_pcu_s_now=sat_now,
                min_degree=h.group_trial_min_degree,
            )
            trials[g.name] = st
            if st.running == "plan":
                on_plan.update(dict.fromkeys(g.lights, g.name))
            if why is None:
                continue
            for j in g.lights:
                hs = updated[j].harm
                if hs is not None:
                    mode_changes.append(harm.ModeChange(j, now_s, "fixed" if j in on_plan else "policy", why, hs.gains))
        return trials, on_plan

    def _green_lanes(self, g: grouptrial.Group, updated: Mapping[str, JunctionState]) -> tuple[float, float]:
        """[harm] group_trial_green / group_trial_min_degree: the group's lanes green now by its roadsides'
        statuses (a light in an intergreen, or with no status: none), and their saturation flow (PCU/s, the
        lanes' priors: Layout.lane_sat_prior_pcu_h); 0, 0 without either key."""
        if not self._measure_green:
            return 0.0, 0.0
        n = sat_pcu_s = 0.0
        for j in g.lights:
            st, lay = updated[j].status, self.layouts[j]
            if st is not None and not st.in_intergreen and 0 <= st.phase < len(lay.lane_green):
                n += float(lay.lane_green[st.phase].sum())
                sat_pcu_s += float(lay.lane_sat_prior_pcu_h[lay.lane_green[st.phase]].sum()) / 3600.0
        return n, sat_pcu_s

    def _guard(
        self, jid: str, js: JunctionState, now_s: float, mode_changes: list[harm.ModeChange]
    ) -> harm.HarmState | None:
        """The junction's do-no-harm state for this tick (harm.decide: its mode); a switch is
        recorded. The state as it was when the core does not guard (the fixed policy)."""
        if not self.guarded or js.harm is None:
            return js.harm
        kept = self._verdicts.get(jid)
        if kept is not None and kept[0] is js.harm and kept[1] == now_s:  # reached by _steady this tick
            hs, why = kept[2], kept[3]
        else:
            hs, why = harm.decide(js.harm, now_s, self.harm)
        if why is not None:
            mode_changes.append(harm.ModeChange(jid, now_s, hs.mode, why, js.harm.gains))
        return hs

    def _all_failed(
        self, state: CoreState, updated: Mapping[str, JunctionState], now_s: float, reason: str
    ) -> tuple[CoreState, TickResult]:
        """A network-wide stage raised before any decision (the estimator's update, the policy's
        coordination, do no harm's network guard, the exits' reading: DESIGN.md, safety): no junction
        can be decided, so every one is left on its own program as if its own decision had raised
        (_failed), named with the stage's reason. `updated`: the junctions as far as the tick got (the
        last tick's when the estimator raised: this tick's readings are not folded in). The learnt
        links and the coordination's advice stay the last tick's; everything is tried again next tick."""
        log = _TickLog()
        out: dict[str, JunctionState] = {}
        for jid in self.layouts:
            if jid not in self.pairs or jid in self._followers:  # a pair's follower goes with its leader
                out.update(self._failed(jid, updated, now_s, log, reason))
        out = {jid: out[jid] for jid in self.layouts}
        return CoreState(now_s, out, state.links, state.advice, state.advice_t_s, state.trials), log.result()

    def _failed(
        self, jid: str, updated: Mapping[str, JunctionState], now_s: float, log: _TickLog, reason: str
    ) -> dict[str, JunctionState]:
        """A junction whose decision raised (the policy's or the gate's: DESIGN.md, safety): what it
        logged this tick is dropped, its command in force withdrawn as in fixed mode (_withdraw: the
        roadside goes back to its own program), and it is named with the reason in TickResult.failed.
        Its policy state stays the last tick's; it is decided again next tick. A pair's leader takes its
        follower with it (one program for both lights)."""
        follower = self._followers.get(jid)
        out = {}
        for j in (jid,) if follower is None else (jid, follower):
            log.failed.append((j, reason))
            out[j] = _evolve(self._withdraw(updated[j], now_s, log.commands), failed=True)
        return out

    def _withdraw(self, js: JunctionState, now_s: float, commands: list[Command]) -> JunctionState:
        """Fixed mode: the command in force, if any, is re-sent once expiring at the next decision
        (the roadside hands back to its program at its next green); then nothing is sent."""
        if js.command is None:
            return js
        commands.append(replace(js.command, seq=js.seq + 1, valid_from_s=now_s, expires_s=now_s + DECISION_PERIOD_S))
        return _evolve(js, command=None, sent_s=now_s, seq=js.seq + 1)

    def release(
        self, state: CoreState, junction_ids: Iterable[str], now_s: float
    ) -> tuple[CoreState, tuple[Command, ...]]:
        """The commands in force at `junction_ids` withdrawn as in fixed mode (each re-sent once,
        expiring at the next decision: the roadside hands back to its own program at its next
        green). For a change to the fixed policy, which sends nothing of its own: a command the
        former policy left in force would otherwise be refreshed for as long as the service runs."""
        commands: list[Command] = []
        junctions = dict(state.junctions)
        for jid in junction_ids:
            js = junctions.get(jid)
            if js is not None and js.command is not None:
                junctions[jid] = self._withdraw(js, now_s, commands)
        return replace(state, junctions=junctions), tuple(commands)

    def approve_return(self, state: CoreState, junction_id: str) -> CoreState:
        """`[harm] validate_return`: the junction's due return (JunctionReport.return_due) is
        approved; it goes back to the policy at its next tick (a ModeChange in that TickResult).
        ValueError naming the junction when it is unknown or no return is due."""
        return self._set_harm(state, junction_id, harm.approve)

    def reject_return(self, state: CoreState, junction_id: str, reason: str) -> CoreState:
        """`[harm] validate_return`: the junction's due return is rejected: it stays on its fixed
        plan, counted as a relapse (the hold doubles, up to hold_max_s, from the state's time).
        ValueError naming the junction when it is unknown or no return is due."""
        return self._set_harm(state, junction_id, lambda hs: harm.reject(hs, reason, state.t_s, self.harm))

    def _set_harm(
        self, state: CoreState, junction_id: str, change: Callable[[harm.HarmState], harm.HarmState]
    ) -> CoreState:
        js = state.junctions.get(junction_id)
        if js is None or js.harm is None:
            raise ValueError(f"junction {junction_id!r}: not controlled by this core")
        try:
            hs = change(js.harm)
        except ValueError as e:
            raise ValueError(f"junction {junction_id!r}: {e}") from None
        return replace(state, junctions={**state.junctions, junction_id: replace(js, harm=hs)})

    def report(self, state: CoreState) -> dict[str, harm.JunctionReport]:
        """Per junction: mode, reason of the last switch, switches, and the shadow's figures; a
        light held on the city's plan by its short-link group (_group_guard) or by its group's trial
        ([harm] group_trial) reports fixed mode (_held_on_plan)."""
        out = {jid: harm.report(js.harm) for jid, js in state.junctions.items() if js.harm is not None}
        for jid, why in self._held_on_plan(state).items():
            if jid in out:
                out[jid] = replace(out[jid], mode="fixed", reason=why)
        return out

    def shown_modes(self, state: CoreState, jids: Iterable[str] | None = None) -> dict[str, ShownMode]:
        """Per junction: report(state)'s mode, reason and delay_controlled_s, to the bit, without its
        other figures (operators.junction_table shows only these, of every junction, every heartbeat).
        jids: those junctions' alone (the heartbeat's table built a share at a time)."""
        states = state.junctions.items() if jids is None else ((j, state.junctions[j]) for j in jids)
        out = {
            jid: ShownMode(js.harm.mode, js.harm.reason, shadow.delay_controlled_s(js.harm.replay))
            for jid, js in states
            if js.harm is not None
        }
        for jid, why in self._held_on_plan(state).items():
            if jid in out:
                out[jid] = out[jid]._replace(mode="fixed", reason=why)
        return out

    def _held_on_plan(self, state: CoreState) -> dict[str, str]:
        """The lights report and shown_modes show in fixed mode although their own mode may not be, with
        the reason shown: held by their short-link group, then (over it) by their group's trial of the plan."""
        fixed = [j for j in self.groups if _in_fixed_mode(state.junctions[j])]
        out = {jid: _held_by(by) for jid, by in pairs.held(self.groups, fixed).items()}
        for g in self.trial_groups:  # [harm] group_trial: a group the city's plan runs
            st = state.trials.get(g.name)
            if st is not None and st.running == "plan":
                out.update(dict.fromkeys(g.lights, st.why))
        return out

    def network(self, state: CoreState) -> tuple[shadow.Gains, int]:
        """Network totals of the shadow (delays demand-weighted) and the junctions in fixed mode."""
        return harm.network(js.harm for js in state.junctions.values() if js.harm is not None)


class ShownMode(NamedTuple):
    """A junction's mode as Core.report shows it, and its controlled delay (Core.shown_modes)."""

    mode: str
    reason: str
    delay_controlled_s: float


# a junction's decide() result from the policy's network pass, and the signal view it saw
_Decided = tuple[Any, Wish | None, SignalView | None]


class Gated(NamedTuple):
    """A cycle wish of the network pass gated with the tick's others (Core._gate_due), with what it
    was gated for: Core._gate takes `outcome` only for this very wish and view, seq and plan id."""

    wish: CycleWish
    view: SignalView | None
    seq: int
    plan_id: str
    outcome: GateOutcome


# dataclasses.replace(js, **changes) without its per-call introspection: several times per junction per tick
_evolve = copier(JunctionState)


def _held_by(by: str) -> str:
    """Why a light is on the city's plan although its own mode is not fixed (_group_guard)."""
    return f"held on the city's plan with {by}, on a short link to it, in fixed mode"


def program_replayed(j: Intersection, named: str) -> str | None:
    """The program the replay's fixed side runs while the status names `named` in force: it, where the junction
    file gives its base greens (`programs`); "" (the static program) for the static program's id (`program_id`)
    or a program whose stages are not the junction's; None for a name that is neither (not the light's: a
    faulty or spoofed status). A file that names no static program (written before session 66): any name not
    in `programs` is taken for the static one."""
    for p in j.programs:
        if p.program_id == named:
            return named if p.greens_s else ""
    return "" if named and (named == j.program_id or not j.program_id) else None


def _with_program(lay: Layout, program_id: str) -> Layout:
    """The layout whose junction runs `program_id`'s base greens and offset (no roadside timeline); itself for ""."""
    if not program_id:
        return lay
    p = next(p for p in lay.junction.programs if p.program_id == program_id)
    j = lay.junction
    phases = tuple(replace(ph, base_green_s=g) for ph, g in zip(j.phases, p.greens_s, strict=True))
    return replace(lay, junction=replace(j, phases=phases, base_offset_s=p.offset_s, program_timeline=()))


def _held_still(mode_changes: list[harm.ModeChange], jid: str, by: str) -> None:
    """_group_guard: `jid`'s own return to the policy, recorded by _guard this tick, rewritten as
    what it is: it stays on the city's plan, held there by `by` in its group."""
    for k in range(len(mode_changes) - 1, -1, -1):
        c = mode_changes[k]
        if c.junction == jid and c.mode == "policy":
            mode_changes[k] = replace(c, mode="fixed", reason=f"{c.reason}; {_held_by(by)}")
            return


def _failure_reason(what: str, exc: Exception) -> str:
    """One line: what failed (`policy P`, a stage of the tick), the exception's type, where it was
    raised (file:line) and its message."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = "" if tb is None else f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
    return f"{what} failed: {type(exc).__name__}{where}: {exc}"


def _in_fixed_mode(js: JunctionState) -> bool:
    """Do no harm has the junction on the city's program."""
    return js.harm is not None and js.harm.mode == "fixed"


def _plan_neighbours(layouts: Mapping[str, Layout]) -> dict[str, frozenset[str]]:
    """Per junction, the junctions joined to it by a movement whose exit edge is the other's approach
    (either way): the lights whose offsets to it the city's plan times ([harm] on_clock)."""
    by_edge = {m.from_edge: jid for jid, lay in layouts.items() for m in lay.junction.movements}
    near: dict[str, set[str]] = {jid: set() for jid in layouts}
    for jid, lay in layouts.items():
        for m in lay.junction.movements:
            other = by_edge.get(m.to_edge) if m.to_edge else None
            if other is not None and other != jid:
                near[jid].add(other)
                near[other].add(jid)
    return {jid: frozenset(n) for jid, n in near.items()}


def _unless_in_force(wish: Wish | None, js: JunctionState, fixed: bool) -> Wish | None:
    """A pair light's wish, None in fixed mode when its base program is the plan in force already."""
    return None if fixed and pairs.in_force(wish, js.command) else wish


def _short_links(layouts: Mapping[str, Layout], cfg: CoreConfig) -> keepclear.ShortLinks | None:
    """The short links (keepclear.ShortLinks) of [estimation] short_link_room and [harm]
    short_pair_together, None where there is none."""
    spacing_m = cfg.detectors.vehicle_spacing_m
    links = keepclear.ShortLinks.build(
        keepclear.KeepClear.build(layouts, spacing_m, cfg.estimation.standing_s), layouts, spacing_m
    )
    return links if links.exits else None


def _with_short_groups(
    policy: Policy, layouts: Mapping[str, Layout], cfg: CoreConfig
) -> tuple[Policy, dict[str, tuple[str, ...]]]:
    """The lights on short links whose programs run one cycle (_short_groups; none for the city's
    own program, which uses them nowhere), and the policy given them (Policy.with_short_groups:
    webster's replan_spread re-plans a group on one tick); [harm] short_pair_together's groups."""
    groups = {} if policy.runs_own_program else _short_groups(layouts, cfg)
    return policy.with_short_groups(groups), groups


def _short_groups(layouts: Mapping[str, Layout], cfg: CoreConfig) -> dict[str, tuple[str, ...]]:
    """[harm] short_pair_together's groups (pairs.short_groups) over the short links
    (keepclear.ShortLinks, whatever [estimation] short_link_room says) and the `paired` lights,
    between lights whose programs run one cycle (pairs.one_cycle)."""
    short = _short_links(layouts, cfg)
    links = [] if short is None else [(jid, ex.junction) for jid, exs in short.exits.items() for ex in exs]
    links += [(jid, p) for jid, lay in layouts.items() for p in lay.junction.paired if p in layouts]
    return pairs.short_groups((a, b) for a, b in links if pairs.one_cycle(layouts[a].junction, layouts[b].junction))


def _served_positions(j: Intersection) -> tuple[tuple[int, ...], ...]:
    """Per phase of the junction, the positions (in its movements) of the movements it serves."""
    out = []
    for k in range(len(j.phases)):
        green = set(j.served_movements(k))
        out.append(tuple(i for i, m in enumerate(j.movements) if m.id in green))
    return tuple(out)


def _crossings_served(layouts: Mapping[str, Layout]) -> dict[str, tuple[tuple[int, ...], ...]]:
    """Per junction with crossings, per phase, the positions (in its crossings) of the crossings it greens:
    those of its red_bounded model past the vehicle movements."""
    out = {}
    for jid, lay in layouts.items():
        j, n = lay.junction, len(lay.junction.movements)
        if j.crossings:
            out[jid] = tuple(tuple(i - n for i in at if i >= n) for at in _served_positions(j.red_bounded))
    return out


def _red_since(
    served: tuple[tuple[int, ...], ...], status: SignalStatus | None, prev: tuple[float, ...], now_s: float
) -> tuple[float, ...]:
    """Per movement, when it was last green: now for those the status shows green (`served`:
    per phase, the positions of the movements it serves)."""
    if status is None or status.in_intergreen:
        return prev
    out = list(prev)
    for i in served[status.phase]:
        out[i] = now_s
    return tuple(out)


def _reported_phases(updated: Mapping[str, JunctionState]) -> dict[str, int | None]:
    """Per junction, the stage its last status reports (SignalStatus.phase); None without one."""
    return {j: None if js.status is None else js.status.phase for j, js in updated.items()}


def _view(
    status: SignalStatus | None, red_since: tuple[float, ...], now_s: float, crossing_red_since: tuple[float, ...] = ()
) -> SignalView | None:
    """The gate's SignalView of the junction now (None without a status; `crossing_red_since`: its
    crossings', JunctionState.crossing_red_since_s). Built field by field
    (SignalView has no __post_init__; the frozen dataclass's __init__ sets each field through
    object.__setattr__): once per junction per tick (_views)."""
    if status is None:
        return None
    elapsed = 0.0 if status.in_intergreen else status.time_in_phase_s + max(0.0, now_s - status.t_s)
    view: SignalView = object.__new__(SignalView)
    d = view.__dict__
    d["phase"], d["in_intergreen"], d["green_elapsed_s"], d["red_since_s"], d["crossing_red_since_s"] = (
        status.phase,
        status.in_intergreen,
        elapsed,
        red_since,
        crossing_red_since,
    )
    return view


def _views(
    jids: Sequence[str], jss: Sequence[JunctionState], now_s: float, network: NetworkView | None
) -> list[SignalView | None]:
    """The gate's SignalView of each junction now: the one the tick's NetworkView holds (built once
    per junction per tick by _coordinate, for a policy that `reads_signals`: the same status and red
    times), else built here (_view)."""
    signals = network.signals if network is not None else None
    if signals:
        return [signals[j] for j in jids]
    return [_view(js.status, js.red_since_s, now_s, js.crossing_red_since_s) for js in jss]


def _same_decision(new: Command, old: Command | None) -> bool:
    """A PhaseCommand that repeats the one in force (same phase) carries no new decision."""
    return isinstance(new, PhaseCommand) and isinstance(old, PhaseCommand) and new.phase == old.phase


def _cyclist_lights(layouts: Mapping[str, Layout]) -> dict[str, dict[str, tuple[int, ...]]]:
    """The lights with a movement's cyclist_clear_s ([timing] cyclist_clearance: their bicycle counts read, their
    changes gated for them, _gate), each with, per stop-line loop, the positions of the movements using its lane."""
    return {
        jid: {
            d.id: tuple(i for i, m in enumerate(lay.junction.movements) if d.lane in m.lanes)
            for d in lay.junction.detectors
            if d.kind == "stop"
        }
        for jid, lay in layouts.items()
        if any(m.cyclist_clear_s > 0 for m in lay.junction.movements)
    }


def _cyclist_clearance(
    j: Intersection, js: JunctionState, view: SignalView, outcome: GateOutcome, now_s: float, memo: GateMemo
) -> GateOutcome:
    """The outcome with the all-red its change needs for a cyclist counted lately (safety.cyclist_all_red_s)."""
    cmd = outcome.command
    if not isinstance(cmd, PhaseCommand):
        return outcome
    all_red_s = cyclist_all_red_s(j, view, cmd.phase, js.cyclist_seen_s, now_s, memo)
    return replace(outcome, command=replace(cmd, all_red_s=all_red_s)) if all_red_s > 0 else outcome


def _feed_stale(est: Estimate, now_s: float, stale_s: float) -> bool:
    """Whether a junction's detector feed is stale: none yet, or its last reading older than
    `stale_s` ([service] feed_stale_s): the core stops commanding it (`_decide`), and the
    coupled-road rules do not read its queues."""
    return est.last_feed_t_s is None or now_s - est.last_feed_t_s > stale_s


def _feeds_fresh(ests: Sequence[Estimate], now_s: float, stale_s: float) -> list[bool]:
    """not _feed_stale(est, now_s, stale_s) for each estimate (the one test, so the two agree)."""
    return [not _feed_stale(e, now_s, stale_s) for e in ests]

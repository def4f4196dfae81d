"""The controller service: drain the feed -> core.step -> safety-gated commands -> sinks.

Transport-agnostic: the MQTT adapter and the in-process simulation both call `on_detectors`,
`on_status` and `tick`. Commands leave through one of two callables passed in: `publish` (a
transport: the command and its encoded message) or `hand_over` (in process, sim/simulate.py: the
command itself, no message built unless an archive keeps it). A bad message
is dropped and counted by reason; a warning per reason is logged at most once a minute.
An optional `metrics` observer (controller/adapters/metrics.py) hears of every message and tick;
an optional `archive` recorder (controller/adapters/archive.py) gets every valid message and plan sent;
an optional `recent` window (controller/validation.py RecentCounts, [validation] enabled) gets every
valid detector message, for the validation twin's demand.

Plans carry this run's `epoch` (docs/security.md: it grows at every start, so roadsides accept
the new run's plans after a restart) and, with a `signer`, an HMAC signature. The `ledger`
(controller/ledger.py) follows which plans the roadsides acknowledged and, with an `audit`
store, records plans, acknowledgements, roadside refusals and mode changes.

At construction, given the signal states of the program each roadside runs (`programs`, where
the caller knows them: simulate does), a junction with a stage that program never shows is
refused (controller/stagecheck.py: its status could not report that stage, so its movements
would read as red while they flow), named with its file and field. Then the policy is asked,
junction by junction, whether it can serve it (Policy.cannot_serve). A junction refused is
logged once with the reason, kept out of the core (no estimate, no plans: its roadside stays
on the junction's own program) and listed in `refused` (junction id -> reason). Its feed is
still validated. So is the feed of `observed` junctions (a region's halo,
controller/regions.py): estimated, never sent a plan (another instance runs them). Every
policy needs the roadside's status to act: a served junction that has reported none
`roadside.backup_s` after the start is named in a warning, once; so is one whose roadside
reports an intergreen longer than the junction's `max_red_s` (it shows signal states the model
has no stage for). The gate's
refusals are logged when a junction's reason changes; one refused for the same reason for longer
than a cycle (its cycle_max_s) without a plan sent is named in a warning, once per spell.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from controller.config import Config
from controller.core import checkpoint, feedarrays, statusread
from controller.core.checkpoint import Restored  # `checkpoint` in the class body is its method
from controller.core.estimation import Layout
from controller.core.feed import RoadsideReport, check_status, decode_detector_message
from controller.core.feedarrays import DetectorFrame, FrameLayout, check_frame, check_layout
from controller.core.messages import Signer, encode_command
from controller.core.policies import Policy, make_policy
from controller.core.step import Core, CoreState, TickResult
from controller.errors import FeedError
from controller.ledger import AuditSink, PlanLedger
from controller.model import Command, Intersection, SignalStatus, Snapshot
from controller.stagecheck import unshown_stages

if TYPE_CHECKING:  # feedbatch (the messages' batch read) is imported by the transports that read messages
    from controller.core import feedbatch
    from controller.operators import OperatorDesk

log = logging.getLogger(__name__)

Publish = Callable[[Command, bytes], None]
HandOver = Callable[[Command], None]


class Observer(Protocol):
    """What the service reports as it runs (the Prometheus exporter implements it)."""

    def message_received(self, kind: str, count: int = 1) -> None:
        """`count` field messages arrived: kind is "detectors" or "status"."""

    def message_rejected(self, reason: str) -> None:
        """It failed validation (FeedError.reason)."""

    def tick_done(self, state: CoreState, result: TickResult, now_s: float, duration_s: float) -> None:
        """After a tick at service time now_s that took duration_s of wall-clock time."""

    def junctions_refused(self, refused: Mapping[str, str]) -> None:
        """At construction: the junctions refused for the whole run (junction id -> reason)."""

    def junctions_late(self, count: int) -> None:
        """`run`'s live tick ([service] tick_wait_max_s) started at its latest without `count` junctions'
        detector messages of its second (controller/live.py ServiceNode.gather). An observer with no use
        for it does nothing."""


class Recorder(Protocol):
    """Where valid field messages and sent plans are archived (controller/adapters/archive.py).
    Calls must not block: the service calls them on the tick's thread."""

    def detectors(self, snap: Snapshot, recv_s: float) -> None: ...

    def status(self, st: SignalStatus, recv_s: float) -> None: ...

    def plan(self, cmd: Command, payload: bytes, sent_s: float) -> None: ...


class CountsWindow(Protocol):
    """The recent loop counts the validation twin projects (controller/validation.py RecentCounts)."""

    def add(self, snapshot: Snapshot) -> None: ...


def _log_group(jids: Sequence[str], what: str, why: str = "", many: str | None = None) -> None:
    """`junction=J <what><why>` as a warning for one junction; `junctions=A,B,C <many><why>` for up to
    three (a pair's two lights); for more (a stage run for the whole network raised: 5,000 lines at
    5,000 junctions otherwise) `<N> junctions <many><why>`, one warning, each junction's line at debug
    level. `many`: `what` for several (default `what`)."""
    if len(jids) == 1:
        log.warning("junction=%s %s%s", jids[0], what, why)
    elif 1 < len(jids) <= 3:
        log.warning("junctions=%s %s%s", ",".join(jids), many or what, why)
    elif jids:
        log.warning("%d junctions %s%s (each at debug level)", len(jids), many or what, why)
        for jid in jids:
            log.debug("junction=%s %s%s", jid, what, why)


def _served_core(
    junctions: Mapping[str, Intersection], policy: str, cfg: Config, programs: Mapping[str, Sequence[str]]
) -> tuple[Core, dict[str, str]]:
    """The core over the junctions the service can serve, and the ones it cannot (junction id ->
    why), each named in a warning: a junction with a stage its roadside's program never shows
    (`programs`: junction id -> the signal states of that program's phases; stagecheck.py), then
    one `policy` refuses. What the policy says of the junctions it serves follows (_warn_in_force)."""
    refused = {jid: why for jid, j in junctions.items() if (why := _unshown_stage(j, programs.get(jid, ())))}
    for jid, why in refused.items():
        log.warning("junction=%s cannot be served: %s: it stays on its own program", jid, why)
    chosen = make_policy(policy, cfg)
    layouts = {jid: Layout.build(j, cfg) for jid, j in junctions.items() if jid not in refused}
    by_policy = {jid: why for jid, lay in layouts.items() if (why := chosen.cannot_serve(lay))}
    for jid, why in by_policy.items():
        log.warning("policy=%s refuses junction=%s reason=%s: it stays on its own program", chosen.name, jid, why)
    refused.update(by_policy)
    served = {jid: lay for jid, lay in layouts.items() if jid not in refused}
    _warn_in_force(served, chosen)
    return Core(served, chosen, cfg), refused


def _warn_in_force(served: Mapping[str, Layout], chosen: Policy) -> None:
    """What the service says of a policy as it goes in force at the junctions it serves, at start and at a
    switch (ControllerService.set_policy): the junctions it watches on their own program first
    (Policy.watches_first), then the movements without `yields_to` it would read (_warn_unknown_yields)."""
    for jid, lay in served.items():
        if why := chosen.watches_first(lay):
            log.warning("policy=%s watches junction=%s on its own program first: %s", chosen.name, jid, why)
    _warn_unknown_yields(served, chosen)


def _warn_unknown_yields(served: Mapping[str, Layout], chosen: Policy) -> None:
    """Name the served junctions where `chosen` would read a movement's `yields_to` their file does not give
    (Policy.lacks_yields_to; a file imported before import-net wrote it, or a network without a right of way),
    one warning per reading the policy falls back on."""
    fallback: dict[str, list[str]] = {}
    for jid, lay in served.items():
        if why := chosen.lacks_yields_to(lay):
            fallback.setdefault(why, []).append(jid)
    for why, jids in fallback.items():
        _log_group(
            jids,
            "has movements without `yields_to`",
            f": {why}; run import-net again to write the network's right of way",
            many="have movements without `yields_to`",
        )


def _unshown_stage(j: Intersection, program_states: Sequence[str]) -> str:
    """Why the junction cannot be served on its roadside's program ('' when it can): its file,
    the field of each stage the program never shows, and why that locks the service out."""
    unshown = unshown_stages(j, program_states)
    if not unshown:
        return ""
    named = "; ".join(f"{field}: {why}" for field, why in unshown)
    return (
        f"{j.source}: {named}: the roadside's status can never report it, and a program phase showing no stage "
        "reads as an intergreen: its movements would count as red while they flow, every plan refused past max_red_s"
    )


@dataclass(frozen=True)
class _Refusing:
    """A junction's spell of refusals for one reason (ControllerService._log_refusals)."""

    key: str  # the reason, its figures dropped (_reason_key)
    since_s: float  # the spell's first refusal
    plans: int  # the junction's plans sent when the spell began (a plan sent ends it)
    warned: bool  # the spell's warning given


class ControllerService:
    _policy_due: tuple[str, Config] | None = None  # set_policy: swapped in at the next tick
    _batch_layout: feedbatch.BatchLayout | None = None  # on_detector_batch's frames, built at first use
    _failing: tuple[tuple[str, str], ...] = ()  # the last tick's TickResult.failed (_log_failures)
    _network_failed = ""  # the last tick's TickResult.network_failed (_log_failures)
    # True (a live node that gathers, in its idle time: ServiceNode._idle_share): each tick keeps the state it
    # replaced in `retired` for the node to free; False: it is freed as the tick ends, after its plans are out
    retire_in_idle = False
    retired: CoreState | None = None  # the state the last tick replaced, not yet freed (retire_in_idle)

    def __init__(
        self,
        junctions: Mapping[str, Intersection],
        cfg: Config,
        policy: str,
        publish: Publish | None = None,
        start_s: float = 0.0,
        warn_every_s: float = 60.0,
        metrics: Observer | None = None,
        archive: Recorder | None = None,
        desk: OperatorDesk | None = None,
        epoch: int = 0,
        signer: Signer | None = None,
        audit: AuditSink | None = None,
        recent: CountsWindow | None = None,
        observed: Collection[str] = (),
        hand_over: HandOver | None = None,
        programs: Mapping[str, Sequence[str]] | None = None,
        handed_over: Callable[[], None] | None = None,  # called once a tick's commands are out (_tick)
        defer: Callable[[Callable[[], None]], None] | None = None,  # runs each tick's metrics (_tick; None: in it)
    ) -> None:
        if (publish is None) == (hand_over is None):
            raise ValueError("ControllerService: give publish (a transport) or hand_over (in process), one of them")
        self.publish, self.hand_over, self._handed_over, self._defer = publish, hand_over, handed_over, defer
        self.junctions = dict(junctions)
        self.observed = frozenset(observed)  # a region's halo (controller/regions.py): read, never sent plans
        self.epoch, self.signer = epoch, signer
        self.ledger = PlanLedger(epoch, f"controller/{cfg.service.instance}", cfg.security.ack_timeout_s, audit)
        self._max_future_s = cfg.security.clock_skew_s
        self.metrics, self.archive = metrics, archive
        self.recent = recent  # the validation twin's recent counts: every valid detector message
        self.desk = desk  # operator overrides (controller/operators.py), applied after the policy
        self.cfg = cfg
        # refused: junction id -> why (a stage its roadside's program never shows, or the policy's reason)
        self.core, self.refused = _served_core(self.junctions, policy, cfg, programs or {})
        if metrics is not None:
            metrics.junctions_refused(self.refused)  # mode `refused`, with the reason, for the whole run
        self.state = self.core.initial_state(start_s)
        self.rejected: Counter[str] = Counter()
        self.received = 0
        self.plans_sent = 0
        self.ticks = 0
        self.core_step_s = 0.0  # wall-clock seconds spent in core.step, summed over ticks
        self.last_result = TickResult()
        self._snaps: list[Snapshot] = []
        self._statuses: list[SignalStatus] = []
        self._frames: list[tuple[DetectorFrame, np.ndarray]] = []  # in-process feed, with the junctions accepted
        self._frame_static: dict[int, tuple[FrameLayout, dict[int, FeedError]]] = {}  # check_layout per layout
        self._last_t: dict[str, float] = {}
        self._status_t: dict[str, float] = {}  # last accepted status time per junction
        self._now_s = start_s
        self._warned_s: dict[str, float] = {}
        self._warn_every_s = warn_every_s
        self._start_s = start_s
        self._awaiting_status = set(self.core.layouts)  # served junctions not yet heard from
        self._unknown_stage_warned: set[str] = set()
        self._refusing: dict[str, _Refusing] = {}  # junction -> its spell of gate refusals (_log_refusals)
        self.failures: dict[str, tuple[int, float, str]] = {}  # junction -> (ticks raised, first t_s, reason)
        self._audit = audit  # learnt-state checkpoints go there every cfg.audit.checkpoint_s (0: never)
        self._checkpoint_t_s = start_s

    def _reject(self, exc: FeedError) -> None:
        self.rejected[exc.reason] += 1
        if self.metrics is not None:
            self.metrics.message_rejected(exc.reason)
        last = self._warned_s.get(exc.reason)
        if last is None or self._now_s - last >= self._warn_every_s:
            self._warned_s[exc.reason] = self._now_s
            log.warning(
                "feed message dropped reason=%s detail=%s count=%d", exc.reason, exc.detail, self.rejected[exc.reason]
            )

    def on_detectors(self, payload: bytes, junction: str | None = None) -> None:
        """`junction`: the one the transport says sent it (its topic); the body must agree."""
        self.received += 1
        if self.metrics is not None:
            self.metrics.message_received("detectors")
        try:
            snap = decode_detector_message(payload, self.junctions, self._last_t, self._now_s, self._max_future_s)
            if junction is not None and snap.junction != junction:
                raise FeedError("topic_mismatch", f"{snap.junction[:40]} on {junction[:40]}'s topic")
        except FeedError as exc:
            self._reject(exc)
            return
        self._last_t[snap.junction] = snap.t_s
        self._snaps.append(snap)
        if self.archive is not None:
            self.archive.detectors(snap, self._now_s)
        if self.recent is not None:
            self.recent.add(snap)

    def read_detector_message(self, payload: bytes, junction: str | None = None) -> feedbatch.Read:
        """One detector message read ahead of its batch (feedbatch.read_message: parsed, and its
        readings as columns when plain), for on_detector_batch's `reads`: a caller may read each
        message as it arrives, while it waits for the rest. Changes nothing: no count, no check
        against the clock or the junction's last message (those are the batch's)."""
        from controller.core import feedbatch

        return feedbatch.read_message(payload, junction, self._layout())

    def on_detector_batch(
        self, messages: Sequence[tuple[str | None, bytes]], reads: Sequence[feedbatch.Read] | None = None
    ) -> None:
        """Many detector messages at once, (the junction its topic names or None, payload) in
        arrival order: the same acceptances, refusals and readings as on_detectors on each in
        turn, decoded as arrays where a message has its junction's plain shape (core/feedbatch.py)
        and one by one otherwise. reads: each message's read_detector_message, made as it
        arrived (None: read here)."""
        from controller.core import feedbatch

        batch = feedbatch.split_batch(messages, self._layout(), reads)
        for frame, present in batch.frames:
            self.on_detector_frame(frame, present)
        for i in batch.rest:
            junction, payload = messages[i]
            self.on_detectors(payload, junction=junction)

    def _layout(self) -> feedbatch.BatchLayout:
        if self._batch_layout is None:
            from controller.core import feedbatch

            self._batch_layout = feedbatch.BatchLayout.build(self.junctions)
        return self._batch_layout

    def on_detector_frame(self, frame: DetectorFrame, present: np.ndarray | None = None) -> None:
        """The in-process feed: one frame stands for a detector message from each junction of
        its layout (`present`: of those marked, default all), checked by the same rules as
        on_detectors (core/feedrules.py). A junction refused is counted by reason as a refused
        message; the others go to the next tick."""
        n = len(frame.layout.junctions) if present is None else int(np.count_nonzero(present))
        self.received += n
        if self.metrics is not None and n:
            self.metrics.message_received("detectors", n)
        static = self._frame_static.get(id(frame.layout))
        if static is None or static[0] is not frame.layout:  # memo per layout object
            static = self._frame_static[id(frame.layout)] = (frame.layout, check_layout(frame.layout, self.junctions))
        check = check_frame(frame, self.junctions, self._last_t, self._now_s, self._max_future_s, static[1], present)
        for _jid, exc in check.refused:
            self._reject(exc)
        accepted = [int(k) for k in np.flatnonzero(check.accepted)]
        for k in accepted:
            self._last_t[frame.layout.junctions[k]] = frame.t_s
        self._frames.append((frame, check.accepted))
        if self.archive is not None or self.recent is not None:
            for k in accepted:
                snap = feedarrays.snapshot(frame, k)
                if self.archive is not None:
                    self.archive.detectors(snap, self._now_s)
                if self.recent is not None:
                    self.recent.add(snap)

    def on_status(self, payload: bytes, junction: str | None = None) -> None:
        """A roadside status message; `junction`: the one its topic names (the body must agree)."""
        self._status(statusread.decode_status_report, payload, junction)

    def on_status_body(self, body: dict[str, Any], junction: str | None = None) -> None:
        """A roadside status handed over in process as its message's JSON object
        (messages.status_body): on_status's checks and effects without the JSON (feed.check_status)."""
        self._status(check_status, body, junction)

    def _status(self, read: Callable[..., RoadsideReport], raw: Any, junction: str | None) -> None:
        """One status through `read` (statusread.decode_status_report or check_status: the same checks), then
        its effects, or its refusal counted with the reason."""
        if self.metrics is not None:
            self.metrics.message_received("status")
        try:
            report = read(raw, self.junctions, self._now_s, self._status_t, self._max_future_s)
            _check_topic(report.status.junction, junction)
        except FeedError as exc:
            self._reject(exc)
            return
        self._take_status(report)

    def _take_status(self, report: RoadsideReport) -> None:
        status = report.status
        self._status_t[status.junction] = status.t_s
        self._statuses.append(status)
        self.ledger.reported(report, self._now_s)
        if self.archive is not None:
            self.archive.status(status, self._now_s)

    def tick(self, now_s: float) -> TickResult:
        with self.ledger.tick():
            return self._tick(now_s)

    def set_policy(self, name: str, cfg: Config) -> None:
        """Run policy `name` with `cfg` (its parameters) from the next tick on, at every junction
        the service serves. ValueError for an unknown policy or one that cannot serve one of them
        (nothing changes then). Estimates, commands in force and do-no-harm states are kept;
        each junction's policy state starts afresh. As it goes in force, the service says of it what
        it says at start (_warn_in_force), once."""
        chosen = make_policy(name, cfg)
        refused = {jid: why for jid, lay in self.core.layouts.items() if (why := chosen.cannot_serve(lay))}
        if refused:
            named = ", ".join(f"{j} ({w})" for j, w in sorted(refused.items()))
            raise ValueError(f"policy {name} cannot serve {named}")
        self._policy_due = (name, cfg)

    def _swap_policy(self, now_s: float) -> tuple[Command, ...]:
        """The policy due goes in force; to `fixed`, the commands the former one left in force
        are withdrawn (Core.release), except an operator's override: returned to be sent."""
        assert self._policy_due is not None
        name, cfg = self._policy_due
        self._policy_due = None
        chosen = make_policy(name, cfg)
        core = Core(self.core.layouts, chosen, cfg)
        fresh = core.initial_state(now_s)
        junctions = {
            jid: replace(js, policy_state=fresh.junctions[jid].policy_state, own_wish=None)
            for jid, js in self.state.junctions.items()
        }
        links = self.state.links if self.state.links is not None else fresh.links
        self.core, self.cfg = core, cfg
        self.state = replace(self.state, junctions=junctions, links=links, advice={}, advice_t_s=float("-inf"))
        log.warning("policy=%s in force from t=%.0f", name, now_s)
        _warn_in_force(core.layouts, chosen)
        if not core.silent:
            return ()
        held = set(self.desk.active) if self.desk is not None else set()
        self.state, released = core.release(self.state, [j for j in junctions if j not in held], now_s)
        return released

    def _tick(self, now_s: float) -> TickResult:
        t0 = time.perf_counter()
        self._now_s = now_s
        released = self._swap_policy(now_s) if self._policy_due is not None else ()
        snaps, statuses, frames = self._snaps, self._statuses, self._frames
        self._snaps, self._statuses, self._frames = [], [], []
        self.retired = None  # one the node had no idle moment to free (an overrun): freed now, as before
        # The state this tick replaces is freed after the tick's plans are out (at the tick's end, or in the node's
        # idle time: retire_in_idle), not as the step returns: freeing a region's records is milliseconds of
        # reference counting (BENCHMARKS.md, issue 12, E, session 62) no plan needs to wait for.
        retired = self.state
        t_step = time.perf_counter()
        self.state, result = self.core.step(self.state, snaps, statuses, now_s, frames)
        if released:  # the former policy's commands, withdrawn on a change to fixed
            result = replace(result, commands=released + result.commands)
        if self.desk is not None:  # overrides replace the policy's commands, through the same gate
            self.state, result = self.desk.apply(self.core, self.state, result, now_s)
        self.core_step_s += time.perf_counter() - t_step  # decision cost: estimation + policy + gate
        self.ticks += 1
        self._log_refusals(result, now_s)
        if result.failed or self._failing or result.network_failed or self._network_failed:
            self._log_failures(result, now_s)
        for change in result.mode_changes:  # do no harm: rare, and what an operator must see
            if change.junction in self.observed:
                continue
            log.warning("do-no-harm junction=%s mode=%s reason=%s", change.junction, change.mode, change.reason)
            self.ledger.mode_changed(change.junction, change.mode, change.reason, now_s)
        for jid, what in result.programs:  # [harm] follow_program_in_force: a WAUT's switch, or a name ignored (once)
            log.warning("do-no-harm junction=%s program: %s", jid, what)
        commands = [c for c in result.commands if c.junction not in self.observed] if self.observed else result.commands
        for cmd in commands:
            self._send(cmd, now_s)
        self.plans_sent += len(commands)
        if self._handed_over is not None:  # before the bookkeeping and metrics: a caller waiting may go on
            self._handed_over()
        self.last_result = result
        if self._awaiting_status:
            self._check_statuses(now_s)
        self._check_stages()
        if self._audit is not None and 0 < self.cfg.audit.checkpoint_s <= now_s - self._checkpoint_t_s:
            self.checkpoint(now_s)
        if self.metrics is not None:
            done = functools.partial(self.metrics.tick_done, self.state, result, now_s, time.perf_counter() - t0)
            if self._defer is None:
                done()
            else:
                self._defer(done)
        if self.retire_in_idle:
            self.retired = retired
        return result

    def decision_cost(self) -> dict[str, float | int]:
        """The run's cost of deciding (summary.json `decision_cost`): wall seconds in core.step
        summed over the ticks, and per junction per tick in microseconds."""
        per = self.core_step_s / (self.ticks * len(self.junctions)) if self.ticks and self.junctions else 0.0
        return {
            "core_step_s": round(self.core_step_s, 4),
            "ticks": self.ticks,
            "junctions": len(self.junctions),
            "us_per_junction_tick": round(per * 1e6, 2),
        }

    def _log_refusals(self, result: TickResult, now_s: float) -> None:
        """The gate's refusals: logged when a junction's reason changes (its figures aside), not
        every tick; a junction refused for the same reason longer than one cycle (its cycle_max_s)
        without a plan sent in between is named in a warning, once per such spell. A spell ends
        with a plan sent, another reason, or a tick the policy did not hold the junction (on its
        fixed plan, its feed stale, or under an operator's override): what the gate refused after
        it is a new spell. (Not a gap in time: webster asks once per period_s, 300 s.)"""
        refused = set()
        for refusal in result.refusals:
            jid, key = refusal.junction, _reason_key(refusal.reason)
            refused.add(jid)
            js, lay = self.state.junctions.get(jid), self.core.layouts.get(jid)
            plans = js.plans if js is not None else 0
            known = self._refusing.get(jid)
            if known is None or known.key != key or known.plans != plans:
                log.info("safety gate refused junction=%s reason=%s", jid, refusal.reason)
                self._refusing[jid] = _Refusing(key, now_s, plans, False)
                continue
            if known.warned or lay is None or now_s - known.since_s <= lay.junction.cycle_max_s:
                continue
            log.warning(
                "junction=%s no new plan for %.0f s (> cycle_max_s %.0f s): the safety gate refused every one; "
                "reason=%s",
                jid,
                now_s - known.since_s,
                lay.junction.cycle_max_s,
                refusal.reason,
            )
            self._refusing[jid] = replace(known, warned=True)
        if self._refusing:
            for jid in (*result.fixed, *result.stale, *result.manual):
                if jid not in refused:
                    self._refusing.pop(jid, None)

    def _log_failures(self, result: TickResult, now_s: float) -> None:
        """Junctions whose decision raised (left on their own program this tick, Core._failed): a
        warning when a junction's reason changes, not every tick; one when it is decided again; each
        counted in `failures` (summary.json's junction_control). Junctions that change to one reason
        together (a stage run for the whole network raised: every junction, one reason) make one
        warning with their count, each junction at debug level (_log_group). The same for the
        policy's network pass (TickResult.network_failed), whose junctions then decide one by one."""
        failing, before = dict(result.failed), dict(self._failing)
        changed: dict[str, list[str]] = {}
        for jid, reason in failing.items():
            if before.get(jid) != reason:
                changed.setdefault(reason, []).append(jid)
            ticks, first_s, first = self.failures.get(jid, (0, now_s, reason))
            self.failures[jid] = (ticks + 1, first_s, first)
        for reason, jids in changed.items():
            t = f" t={now_s:.0f}"
            _log_group(jids, f"left on its own program{t}", f": {reason}", f"left on their own programs{t}")
        _log_group(sorted(before.keys() - failing.keys()), f"decided again t={now_s:.0f}")
        self._failing = result.failed
        if result.network_failed != self._network_failed:
            if result.network_failed:
                why = result.network_failed
                log.warning("network pass failed t=%.0f, junctions decided one by one: %s", now_s, why)
            else:
                log.warning("network pass decides again t=%.0f", now_s)
        self._network_failed = result.network_failed

    def _send(self, cmd: Command, now_s: float) -> None:
        """The field takes the command: as a message (`publish`) or, in process, as it is
        (`hand_over`: the message is built only for the archive)."""
        in_process_only = self.hand_over is not None and self.archive is None
        payload = b"" if in_process_only else encode_command(cmd, self.epoch, self.signer)
        self.ledger.pushed(cmd, now_s)
        if self.hand_over is not None:
            self.hand_over(cmd)
        elif self.publish is not None:
            self.publish(cmd, payload)
        if self.archive is not None:
            self.archive.plan(cmd, payload, now_s)

    def _check_statuses(self, now_s: float) -> None:
        heard = {jid for jid in self._awaiting_status if self.state.junctions[jid].status is not None}
        self._awaiting_status -= heard
        if self._awaiting_status and now_s - self._start_s >= self.cfg.roadside.backup_s:
            since = f"{now_s - self._start_s:.0f} s after start: the policy cannot act on"
            _log_group(
                sorted(self._awaiting_status),
                f"no roadside status {since} it",
                many=f"have no roadside status {since} them",
            )
            self._awaiting_status = set()

    def _check_stages(self) -> None:
        for jid, lay in self.core.layouts.items():
            st = self.state.junctions[jid].status
            if (
                st is not None
                and st.in_intergreen
                and st.time_in_phase_s > lay.junction.max_red_s
                and jid not in self._unknown_stage_warned
            ):
                self._unknown_stage_warned.add(jid)
                log.warning(
                    "junction=%s roadside in an intergreen for %.0f s > max_red_s: it shows no stage of the "
                    "junction model, the policy cannot act on it",
                    jid,
                    st.time_in_phase_s,
                )

    def checkpoint(self, now_s: float) -> None:
        """Save the learnt state (core/checkpoint.py) to the audit store, if there is one. A failed
        write is logged, never raised: the next one comes checkpoint_s later."""
        self._checkpoint_t_s = now_s
        if self._audit is None:
            return
        from controller.adapters import checkpoints  # sqlite3: only where there is a store

        try:
            checkpoints.save(
                self._audit,
                self.cfg.service.site,
                self.cfg.service.instance,
                checkpoint.learnt(self.core, self.state),
                now_s,
            )
        except Exception as exc:  # sqlite3 errors: the store is full, locked too long ...
            log.warning("checkpoint of the learnt state not saved: %s", exc)

    def resume(self, data: object, source: str) -> Restored | None:
        """Put a checkpoint's learnt state (core/checkpoint.py) into the state, before the first
        tick; logs what it restored and what it skipped. Data it cannot read is logged and
        ignored (the run starts fresh): None."""
        try:
            restored = checkpoint.restore(self.core, self.state, data)
        except checkpoint.CheckpointError as exc:
            log.warning("%s: not restored, the learnt state starts fresh: %s", source, exc)
            return None
        self.state = restored.state
        log.info(
            "%s: learnt state restored: %d lanes' saturation flow, %d couplings; skipped %d: %s",
            source,
            restored.lanes,
            restored.couplings,
            len(restored.skipped),
            "; ".join(restored.skipped) or "-",
        )
        return restored

    def unacknowledged(self) -> list[str]:
        """Junctions whose plans the roadside has not acknowledged for security.ack_timeout_s."""
        return self.ledger.unacknowledged(self._now_s)

    def advance_clock(self, now_s: float) -> None:
        """Let the validators know the time before a tick's messages arrive."""
        self._now_s = now_s


def _reason_key(reason: str) -> str:
    """A refusal's reason without its figures: "movement W_R would wait 320.0 s > max_red_s 150.0"
    and the same at 621.0 s are one reason; digits within a name (W_R2, J11) are kept."""
    return re.sub(r"(?<![\w.])\d+(\.\d+)?", "#", reason)


def _check_topic(body_junction: str, topic_junction: str | None) -> None:
    """FeedError when the transport names a junction (its topic) other than the body's."""
    if topic_junction is not None and body_junction != topic_junction:
        raise FeedError("topic_mismatch", f"{body_junction[:40]} on {topic_junction[:40]}'s topic")

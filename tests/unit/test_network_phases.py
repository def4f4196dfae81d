"""The core's NetworkView carries the stage each light's roadside controller reports (NetworkView.phases,
Core._coordinate from the statuses; None for a light with no status yet). `[max_pressure] stall_s` reads it
(exits_held, phases.exit_red): built without it, the rule never finds an exit held and never acts. R, session
41: the view built without `phases` passed the fast suite.) And, for a policy that `reads_signals` (stall_s
on: how long the far light stays red, phases.exit_red_left_s), each light's SignalView (NetworkView.signals)."""

from __future__ import annotations

import random

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy
from controller.core.safety import SignalView
from controller.core.step import Core
from controller.model import SignalStatus
from tests.estimate_fixtures import mixed_junctions, random_snapshot, ring_chained


class _Recording(MaxPressurePolicy):
    """max_pressure that records, per decision, the stages its NetworkView reports."""

    def __init__(self, params: MaxPressureParams) -> None:
        super().__init__(params)
        self.seen: list[dict[str, int | None]] = []
        self.signals: list[dict[str, SignalView | None]] = []

    def decide(self, state, layout, est, signal, now_s, network=None):
        assert network is not None
        self.seen.append(dict(network.phases))
        self.signals.append(dict(network.signals))
        return super().decide(state, layout, est, signal, now_s, network)


def test_the_network_view_carries_the_stages_the_roadsides_report():
    cfg = Config()
    js = ring_chained(mixed_junctions())
    policy = _Recording(MaxPressureParams(stall_s=5.0))
    assert policy.uses_network and policy.network_decision({}) is None  # decided junction by junction
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, policy, cfg)
    state, rng = core.initial_state(0.0), random.Random(3)
    silent = next(iter(js))  # a light that has reported nothing
    reported = {jid: k % 2 for k, jid in enumerate(js) if jid != silent}
    for t in (1.0, 2.0):
        snaps = [random_snapshot(rng, j, t) for j in js.values()]
        statuses = [SignalStatus(jid, t, p, False, 10.0 + t, "", 0, "local") for jid, p in reported.items()]
        state, _ = core.step(state, snaps, statuses, t)
    assert policy.seen
    assert all(seen == {**reported, silent: None} for seen in policy.seen)


def _signals_seen(params: MaxPressureParams) -> list[dict[str, SignalView | None]]:
    """Two ticks of five junctions, one silent, the others reporting stage k % 2 in force for 10 s at
    their status's time t, read at t + 0.5: the signals each decision's NetworkView carried."""
    cfg = Config()
    js = ring_chained(mixed_junctions())
    policy = _Recording(params)
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, policy, cfg)
    state, rng = core.initial_state(0.0), random.Random(3)
    silent = next(iter(js))
    reported = {jid: k % 2 for k, jid in enumerate(js) if jid != silent}
    for t in (1.0, 2.0):
        snaps = [random_snapshot(rng, j, t) for j in js.values()]
        statuses = [SignalStatus(jid, t, p, False, 10.0, "", 0, "local") for jid, p in reported.items()]
        state, _ = core.step(state, snaps, statuses, t + 0.5)
        for jid, p in reported.items():
            assert all(seen.get(jid) is None or seen[jid].phase == p for seen in policy.signals)
    return policy.signals


def test_the_network_view_carries_each_lights_signal_view_for_a_policy_that_reads_them():
    """stall_s on (reads_signals): every decision's NetworkView carries each reporting light's SignalView,
    its stage and how long it has been green (time in phase at the status's time plus the 0.5 s since),
    and None for the silent light; a network policy that does not read them (pull_upstream) gets none."""
    seen = _signals_seen(MaxPressureParams(stall_s=5.0))
    assert seen
    for signals in seen:
        assert sum(v is None for v in signals.values()) == 1 and len(signals) == 5
        assert all(v.green_elapsed_s == 10.5 and not v.in_intergreen for v in signals.values() if v is not None)
    alone = MaxPressureParams(pull_upstream=True, stall_s=0.0, exit_room_held=False)  # exit_room_held reads them too
    assert MaxPressurePolicy(alone).uses_network
    off = _signals_seen(alone)
    assert off and all(signals == {} for signals in off)

"""The core's NetworkView carries the stage each light's roadside controller reports (NetworkView.phases,
Core._coordinate from the statuses; None for a light with no status yet). `[max_pressure] stall_s` reads it
(exits_held, phases.exit_red): built without it, the rule never finds an exit held and never acts. R, session
41: the view built without `phases` passed the fast suite."""

from __future__ import annotations

import random

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import MaxPressurePolicy
from controller.core.step import Core
from controller.model import SignalStatus
from tests.estimate_fixtures import mixed_junctions, random_snapshot, ring_chained


class _Recording(MaxPressurePolicy):
    """max_pressure that records, per decision, the stages its NetworkView reports."""

    def __init__(self, params: MaxPressureParams) -> None:
        super().__init__(params)
        self.seen: list[dict[str, int | None]] = []

    def decide(self, state, layout, est, signal, now_s, network=None):
        assert network is not None
        self.seen.append(dict(network.phases))
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

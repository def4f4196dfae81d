"""Policies behind one Protocol, in a registry by name.

A policy sees the junction layout, the estimate from the detectors and the signal's reported
state; it returns a *wish* (CycleWish or PhaseWish) or None to keep what is in force. Only the
safety gate (core/safety.py) turns a wish into a command.

A policy that cannot serve a junction says so before the run (`cannot_serve`, with the reason):
the junction then stays on its own program. One that accepted a junction must act on it.

Acyclic policies restate their wish every tick (the core sends a command only when it changes).
Policies that coordinate junctions set `uses_network = True` and receive `network=` (the core's
NetworkView, core/network.py: neighbours' estimates, the learnt exit -> approach coupling and
travel times, the arrivals on their way); those that also set `coordinate_period_s` get their
`coordinate(network, states, now_s)` called over the whole network that often, its result in
`network.advice`. One that reads only the neighbours' estimates and the network's layouts (not
the learnt coupling) sets `reads_links = False`: the core then does not learn the links (its
NetworkView's `state` stays empty), and may decide it in one network pass (`network_decision`).

    fixed         the network's own programs (nothing sent)
    webster       Webster (1958) cycle plans per period from the counts
    max_pressure  acyclic, Varaiya (2013) pressure with switching loss
    schedule      rolling-horizon cluster scheduling by dynamic programming (SURTRAC)
    scats         cycle-by-cycle DS adaptation, married cycles and offsets (SCATS)
    adaptive      the default: the best measured (BENCHMARKS.md)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from controller.core.estimation import Estimate, Layout
from controller.core.network import NetworkView
from controller.core.pairs import StageView
from controller.core.params import PolicyConfig
from controller.core.safety import SignalView
from controller.model import Wish


class NetworkDecision(Protocol):
    """A policy's decide() over many junctions in one pass (Policy.network_decision): per
    junction of `jids`, the (state, wish) decide(state, layout, est, signal, now_s) gives, without
    a pair's partner; for a policy with `uses_network` (and not `reads_links`), with the core's
    NetworkView, whose estimates are `estimates`."""

    @property
    def jids(self) -> tuple[str, ...]: ...

    def decide_all(
        self, states: Sequence[Any], estimates: Sequence[Estimate], signals: Sequence[SignalView | None], now_s: float
    ) -> Sequence[tuple[Any, Wish | None]]: ...


class Policy(Protocol):
    """A control policy. Policies declare the protocol (`class X(Policy)`) and so inherit the
    defaults of its capabilities: `runs_own_program` and `uses_network` False, no `coordinate`."""

    name: str
    # the city's own programs: wishes nothing, and is what do no harm judges the others against
    runs_own_program: bool = False
    uses_network: bool = False  # decide() gets the core's NetworkView as `network=`
    # with uses_network: decide() reads the view's learnt links (False: the core does not learn them)
    reads_links: bool = True
    # with uses_network: decide() reads each light's SignalView in the view (NetworkView.signals: its stage,
    # how long it has been in force, when each movement was last green); False: the core leaves it empty
    reads_signals: bool = False
    coordinate_period_s: float | None = None  # not None: coordinate() is called this often

    def cannot_serve(self, layout: Layout) -> str:
        """'' when the policy can control this junction, else why not, in one line naming what
        the junction model lacks (policies/requirements.py). Asked once per junction before the
        run; the service leaves a refused junction on its own program and says so."""
        ...

    def watches_first(self, layout: Layout) -> str:
        """'' unless the policy, serving this junction, leaves it on its own program at first and
        watches that program before it acts (it may never act); then why, in one line. Asked once
        per served junction before the run; the service says so, as it does for a refusal."""
        return ""

    def lacks_yields_to(self, layout: Layout) -> str:
        """'' unless the policy, serving this junction, would read a movement's `yields_to` (the network's right
        of way, written by import-net) that the junction's file does not give; then what it reads in its place,
        in one line. Asked once per served junction before the run; the service names those junctions in a
        warning (a file imported before import-net wrote the field: run it again)."""
        return ""

    def init(self, layout: Layout, now_s: float) -> Any:
        """The policy's state for one junction."""
        ...

    def decide(
        self,
        state: Any,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None = None,
    ) -> tuple[Any, Wish | None]:
        """New state, and a wish or None (keep the command in force / send nothing). `network`
        is given to policies with `uses_network` (None otherwise)."""
        ...

    def stage_view(
        self,
        state: Any,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None = None,
    ) -> StageView | None:
        """Per stage, what the policy weighs serving it next and the stages that must come first
        (core/pairs.py StageView), for a pair of lights decided on both lights' loops; None: the
        policy weighs no stages (the pair then takes its leader's wish, or for a cycle plan the
        larger green per stage of both lights' wishes)."""
        return None

    def decide_paired(
        self,
        state: Any,
        layout: Layout,
        est: Estimate,
        signal: SignalView | None,
        now_s: float,
        network: NetworkView | None,
        partner: StageView | None,
    ) -> tuple[Any, Wish | None]:
        """decide() for a pair's leader, with its follower's stage_view on the leader's stages
        (None: the follower has none this tick); a policy that weighs no stages decides alone."""
        return self.decide(state, layout, est, signal, now_s, network=network)

    def with_short_groups(self, groups: Mapping[str, tuple[str, ...]]) -> Policy:
        """This policy for a network whose lights on short links form `groups` (per light, the
        lights of its group in id order: pairs.short_groups over the links of [harm]
        short_pair_together, between programs that run one cycle), built once per core; the
        default ignores them (webster: the group's lights re-plan on one tick, `replan_spread`)."""
        return self

    def network_decision(self, layouts: Mapping[str, Layout]) -> NetworkDecision | None:
        """decide() for all these junctions at once (a NetworkDecision over them, in their order),
        built once per core; None: the policy decides junction by junction."""
        return None

    def coordinate(self, network: NetworkView, states: Mapping[str, Any], now_s: float) -> Mapping[str, Any]:
        """Advice per junction over the whole network, from every junction's policy state of
        the last tick; the core passes it to decide() as `network.advice`. Called every
        `coordinate_period_s` when that is not None (and the policy uses the network)."""
        return {}


def _fixed(cfg: PolicyConfig) -> Policy:
    from controller.core.policies.fixed import FixedPolicy

    return FixedPolicy()


def _webster(cfg: PolicyConfig) -> Policy:
    from controller.core.policies.webster import ReplayModel, WebsterPolicy

    return WebsterPolicy(cfg.webster, ReplayModel(cfg.harm, cfg.max_pressure.permitted_sat_ratio))


def _max_pressure(cfg: PolicyConfig) -> Policy:
    from controller.core.policies.max_pressure import MaxPressurePolicy

    return MaxPressurePolicy(cfg.max_pressure)


def _schedule(cfg: PolicyConfig) -> Policy:
    from controller.core.policies.schedule import SchedulePolicy

    return SchedulePolicy(cfg.schedule)


def _scats(cfg: PolicyConfig) -> Policy:
    from controller.core.policies.scats import ScatsPolicy

    return ScatsPolicy(cfg.scats)


def _adaptive(cfg: PolicyConfig) -> Policy:
    from controller.core.policies.adaptive import AdaptivePolicy

    return AdaptivePolicy(cfg.max_pressure)


REGISTRY: dict[str, Callable[[PolicyConfig], Policy]] = {
    "fixed": _fixed,
    "webster": _webster,
    "max_pressure": _max_pressure,
    "schedule": _schedule,
    "scats": _scats,
    "adaptive": _adaptive,
}


class UnknownPolicyError(ValueError):
    """A policy name that is not registered (the message names the known ones)."""


def make_policy(name: str, cfg: PolicyConfig) -> Policy:
    """The policy registered under `name`, built from its section of `cfg`; UnknownPolicyError
    (a ValueError) naming the known policies for an unknown name."""
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise UnknownPolicyError(f"unknown policy {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    return factory(cfg)

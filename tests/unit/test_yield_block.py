"""[max_pressure] yield_block_s (A session 53; board4's grid_saturated_ch, BENCHMARKS.md issue 9): a lane the phase
in force serves, on which a movement it serves permitted only has its head on the stop-line loop, occupied without a
count that long, while a stream it yields to crosses at its saturation headway, counts nothing in the phase in force's
own pressure (yield_blocked_lanes): the head waits for a gap that green's own streams deny."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import (
    Look,
    MaxPressurePolicy,
    given_way_lanes,
    yield_blocked_lanes,
    yield_lanes,
)
from controller.core.policies.max_pressure_net import NetPressure
from controller.core.safety import SignalView
from controller.errors import ConfigError, JunctionError
from controller.junctions import parse_intersection
from tests.junction_fixtures import four_phase_raw, shared_left_raw
from tests.unit.test_max_pressure_net import mixed_junctions

BLOCK_S = 5.0


def _layout(left_protected: bool = False) -> Layout:
    """two_phase with N_L in N_T's lane eN_0, permitted ('g') in phase 0 (N/S), yielding to S_T; with
    `left_protected` it is 'G' (it yields to nobody)."""
    raw = shared_left_raw()
    if left_protected:
        raw["phases"][0]["state"] = raw["phases"][0]["state"][:-1] + "G"
    return Layout.build(parse_intersection(raw, "yield.toml"), Config())


def _est(lay: Layout, on_s: dict[str, float], silent_s: dict[str, float], queue: dict[str, float]) -> Estimate:
    """Each approach's stop-line loop fully occupied without a count for on_s[ap], or silent for silent_s[ap]
    (others 0: counting now); each lane's queue between the loops queue[ap] PCU, shared to its movements."""
    est = Estimate.empty(lay, 0.0)
    on, silent = np.zeros(len(est.health.on_s)), np.zeros(len(est.health.on_s))
    lane_q = np.zeros(len(lay.lanes))
    for ap in "NESW":
        k = lay.lanes.index(f"e{ap}_0")
        on[lay.lane_stop[k]] = on_s.get(ap, 0.0)
        silent[lay.lane_stop[k]] = silent_s.get(ap, 0.0)
        lane_q[k] = queue.get(ap, 0.0)
    mov_q = (lay.lane_share * lane_q[None, :]).sum(axis=1)
    health = dataclasses.replace(est.health, on_s=on, silent_s=silent)
    lanes = dataclasses.replace(est.lanes, queue_pcu=lane_q)
    return dataclasses.replace(est, health=health, lanes=lanes, queue_pcu=mov_q)


def _blocked(lay: Layout, est: Estimate, phase: int = 0, green_s: float = 20.0) -> list[str]:
    yl = yield_lanes(lay)[phase]
    out = yield_blocked_lanes(lay, est, phase, green_s, BLOCK_S, yl)
    return [lane for lane, b in zip(lay.lanes, out) if b]


def test_a_lane_whose_permitted_head_stands_while_the_stream_it_yields_to_crosses_is_blocked() -> None:
    lay = _layout()
    q = {"N": 6.0, "S": 1.0}
    # S's lane: 1,800 PCU/h, a saturation headway of 2 s
    assert _blocked(lay, _est(lay, {"N": 6.0}, {}, q)) == ["eN_0"]  # S counting now: it crosses
    assert _blocked(lay, _est(lay, {"N": 6.0}, {"S": 1.9}, q)) == ["eN_0"]  # S silent 1.9 s: within one headway
    assert _blocked(lay, _est(lay, {"N": 6.0}, {"S": 2.0}, q)) == []  # S silent one headway: a gap is coming
    assert _blocked(lay, _est(lay, {"N": 6.0, "S": 2.0}, {}, q)) == []  # S's head stands too: nobody crosses
    assert _blocked(lay, _est(lay, {"N": 4.9}, {}, q)) == []  # not standing long enough
    # the green younger than the start-up loss + block_s: not yet
    startup = lay.params.startup_lost_s
    assert _blocked(lay, _est(lay, {"N": 6.0}, {}, q), green_s=startup + BLOCK_S - 0.1) == []
    assert _blocked(lay, _est(lay, {"N": 6.0}, {}, q), green_s=startup + BLOCK_S) == ["eN_0"]


def test_no_block_without_a_permitted_movement_on_the_lane() -> None:
    lay = _layout()
    q = {"E": 6.0, "W": 1.0}
    assert _blocked(lay, _est(lay, {"E": 60.0}, {}, q), phase=1) == []  # phase 1 serves nothing permitted
    protected = _layout(left_protected=True)
    assert _blocked(protected, _est(protected, {"N": 60.0}, {}, {"N": 6.0})) == []
    # S's own head standing: S_T is protected, only N_L yields
    assert _blocked(lay, _est(lay, {"S": 60.0}, {}, {"S": 6.0})) == []


def _wish(block_s: float, lay: Layout, est: Estimate) -> int:
    policy = MaxPressurePolicy(MaxPressureParams(yield_block_s=block_s, stall_s=0.0, head_block_s=0.0))
    # phase 0 green 20 s (past its 7 s minimum); E and W red for 20 s
    signal = SignalView(0, False, 20.0, (100.0, 80.0, 100.0, 80.0, 100.0))
    _, w = policy.decide(policy.init(lay, 0.0), lay, est, signal, 100.0)
    assert w is not None
    return w.phase


def test_decide_leaves_a_green_whose_queue_waits_behind_a_blocked_permitted_head() -> None:
    """N's lane holds 8 PCU behind a left-turner whose head has stood 6 s while S_T crosses; E and W hold 3 PCU
    each, red 20 s: the switch's loss keeps phase 0 on the pressures (N's 8 PCU). With the key N's lane counts
    nothing in phase 0's own pressure and phase 1 is served; at 10 s the head has not stood long enough; with S
    silent (a gap) it is not blocked."""
    lay = _layout()
    q = {"N": 8.0, "S": 1.0, "E": 3.0, "W": 3.0}
    est = _est(lay, {"N": 6.0}, {}, q)
    assert _wish(0.0, lay, est) == 0
    assert _wish(BLOCK_S, lay, est) == 1
    assert _wish(10.0, lay, est) == 0
    assert _wish(BLOCK_S, lay, _est(lay, {"N": 6.0}, {"S": 2.0}, q)) == 0


def test_the_other_phases_weigh_the_blocked_lane_as_before() -> None:
    """The drop is the phase in force's alone: with phase 1 in force, a blocked lane of phase 1 leaves phase 0's
    pressure as it was (here nothing of phase 1 is permitted, so nothing is blocked and the pressures are equal)."""
    lay = _layout()
    est = _est(lay, {"N": 6.0}, {}, {"N": 8.0, "S": 1.0, "E": 3.0, "W": 3.0})
    on = MaxPressurePolicy(MaxPressureParams(yield_block_s=BLOCK_S, stall_s=0.0, head_block_s=0.0))
    off = MaxPressurePolicy(MaxPressureParams(yield_block_s=0.0, stall_s=0.0, head_block_s=0.0))
    signal = SignalView(0, False, 20.0, (100.0, 80.0, 100.0, 80.0, 100.0))
    st_on, st_off = on.init(lay, 0.0), off.init(lay, 0.0)
    v_off = off._pressures(Look(st_off, lay, est, signal, 100.0, None, None))
    v_on = on._yield_blocked(Look(st_on, lay, est, signal, 100.0, None, None), None, None, v_off)
    assert v_on[1] == v_off[1]
    assert v_on[0] < v_off[0]


def test_the_network_pass_carries_the_rule_with_the_key_on() -> None:
    """The pass sends the junctions where the rule can act to decide() (max_pressure_net._Yield; A session 55;
    test_max_pressure_net.test_the_pass_applies_yield_block_as_each_junction_alone)."""
    layouts = {jid: Layout.build(j, Config()) for jid, j in mixed_junctions(2).items()}
    on = MaxPressurePolicy(MaxPressureParams(yield_block_s=5.0)).network_decision(layouts)
    assert isinstance(on, NetPressure) and on.yielded is not None and on.yielded.block_s == 5.0
    off = MaxPressurePolicy(MaxPressureParams(yield_block_s=0.0)).network_decision(layouts)
    assert isinstance(off, NetPressure) and off.yielded is None


def _given_way_layout(yields_to: list[str] | None) -> Layout:
    """shared_left with N_L's `yields_to` written (import-net reads the network's right of way): ["S_T"], the
    oncoming through; [], no stream of the junction (as a right turn that gives way to the walkers on the crossing
    it turns over); None: not written (not known)."""
    raw = shared_left_raw()
    if yields_to is not None:
        raw["movements"][-1]["yields_to"] = yields_to
    return Layout.build(parse_intersection(raw, "yield.toml"), Config())


@pytest.mark.parametrize(("yields_to", "blocked", "wish"), [(None, ["eN_0"], 1), (["S_T"], ["eN_0"], 1), ([], [], 0)])
def test_only_a_stream_the_turn_gives_way_to_by_the_right_of_way_blocks_its_lane(
    yields_to: list[str] | None, blocked: list[str], wish: int
) -> None:
    """single_scramble_h (A session 56): a right-turner stood in the junction for the walkers on the crossing of
    the scramble's walk stage while the oncoming through's loop counted one car, and the rule, reading the right
    turn as yielding to every protected stream of another approach, cut the walk. The rule reads the streams the
    movement gives way to by the network's right of way (Movement.yields_to, given_way_lanes) where known: N's
    head standing 6 s while S_T crosses blocks N's lane where N_L gives way to S_T (or where that is not known)
    and not where it gives way to none of the streams phase 0 serves protected; the decision follows."""
    lay = _given_way_layout(yields_to)
    q = {"N": 8.0, "S": 1.0, "E": 3.0, "W": 3.0}
    est = _est(lay, {"N": 6.0}, {}, q)
    out = yield_blocked_lanes(lay, est, 0, 20.0, BLOCK_S, given_way_lanes(lay)[0])
    assert [lane for lane, b in zip(lay.lanes, out) if b] == blocked
    assert _wish(BLOCK_S, lay, est) == wish
    assert _wish(0.0, lay, est) == 0
    # the network pass sends the junction to decide() only where the rule can mark the lane
    on = MaxPressurePolicy(MaxPressureParams(yield_block_s=BLOCK_S)).network_decision({"J": lay})
    assert isinstance(on, NetPressure) and on.yielded is not None
    assert bool(on.yielded.can.any()) == bool(blocked)


def test_given_way_lanes_are_yield_lanes_but_for_a_movement_giving_way_to_none_of_the_streams() -> None:
    """Not known (None) or giving way to S_T: yield_lanes; giving way to no stream of the junction: none. A movement
    that gives way to some of the streams keeps them all (A session 56: the stricter reading lost pasubio)."""
    lay = _given_way_layout(None)
    assert (given_way_lanes(lay) == yield_lanes(lay)).all()
    n_l = [m.id for m in lay.junction.movements].index("N_L")
    assert yield_lanes(lay)[0, n_l].any()
    assert (given_way_lanes(_given_way_layout(["S_T"])) == yield_lanes(lay)).all()
    # E_T is served in phase 1 only: in phase 0 N_L gives way to none of the streams crossing
    assert not given_way_lanes(_given_way_layout(["E_T"]))[0, n_l].any()
    assert not given_way_lanes(_given_way_layout([])).any()


def test_a_junction_file_refuses_yields_to_an_unknown_movement_naming_the_file_and_field() -> None:
    raw = shared_left_raw()
    raw["movements"][-1]["yields_to"] = ["X_T"]
    with pytest.raises(JunctionError, match=r"yield\.toml.*movements\[4\]\.yields_to"):
        parse_intersection(raw, "yield.toml")


def test_the_shipped_policy_leaves_a_green_whose_head_has_stood_10_s_behind_a_permitted_turner() -> None:
    """On as shipped (10 s since session 56): with every other key as shipped, N's lane (8 PCU behind a head on its
    stop-line loop, occupied without a count 11 s, while S_T crosses) counts nothing in phase 0's pressure and phase
    1 is served; with the key set to 0, or the head standing 9 s, phase 0 is kept."""
    lay = _layout()
    q = {"N": 8.0, "S": 1.0, "E": 3.0, "W": 3.0}
    signal = SignalView(0, False, 20.0, (100.0, 80.0, 100.0, 80.0, 100.0))

    def wish(params: MaxPressureParams, on_s: float) -> int:
        policy = MaxPressurePolicy(params)
        _, w = policy.decide(policy.init(lay, 0.0), lay, _est(lay, {"N": on_s}, {}, q), signal, 100.0)
        assert w is not None
        return w.phase

    assert wish(MaxPressureParams(), 11.0) == 1
    assert wish(MaxPressureParams(), 9.0) == 0
    assert wish(dataclasses.replace(MaxPressureParams(), yield_block_s=0.0), 11.0) == 0


def test_config_reads_the_key_and_refuses_a_negative_time_naming_the_file_and_key(tmp_path: Path) -> None:
    assert load_config(Path(__file__).resolve().parents[2] / "config.toml").max_pressure.yield_block_s == 10.0
    assert MaxPressureParams().yield_block_s == 10.0
    cfg = tmp_path / "c.toml"
    cfg.write_text("[max_pressure]\nyield_block_s = 5.0\n")
    assert load_config(cfg).max_pressure.yield_block_s == 5.0
    cfg.write_text("[max_pressure]\nyield_block_s = -1.0\n")
    with pytest.raises(ConfigError, match=r"c\.toml.*max_pressure\.yield_block_s"):
        load_config(cfg)


# R session 53 (review): the lagging-left program, where a later phase serves the blocked lane's left protected.
def _four_phase_est(lay: Layout, on_s: dict[str, float], queue: dict[str, float]) -> Estimate:
    """four_phase (shared left lane): lane `l`'s stop-line loop fully occupied without a count for on_s[l]
    (others counting now); each lane's queue queue[l] PCU, shared to its movements."""
    est = Estimate.empty(lay, 0.0)
    on = np.zeros(len(est.health.on_s))
    lane_q = np.zeros(len(lay.lanes))
    for k, lane in enumerate(lay.lanes):
        on[lay.lane_stop[k]] = on_s.get(lane, 0.0)
        lane_q[k] = queue.get(lane, 0.0)
    mov_q = (lay.lane_share * lane_q[None, :]).sum(axis=1)
    health = dataclasses.replace(est.health, on_s=on, silent_s=np.zeros(len(on)))
    return dataclasses.replace(
        est, health=health, lanes=dataclasses.replace(est.lanes, queue_pcu=lane_q), queue_pcu=mov_q
    )


def test_only_the_lane_of_the_permitted_movement_is_blocked_and_only_in_the_phase_in_force() -> None:
    """four_phase with the left in the through's inner lane: phase 0 serves N_T on eN_0 and eN_1 protected and
    N_L on eN_1 permitted; phase 1 serves N_L protected. With both N lanes standing while S_T crosses, only eN_1
    (N_L's) is blocked: eN_0 carries no permitted movement. Phase 1, which serves N_L protected, weighs eN_1 as
    before; only phase 0's own pressure loses it."""
    lay = Layout.build(parse_intersection(four_phase_raw(shared_left_lane=True), "four.toml"), Config())
    est = _four_phase_est(lay, {"eN_0": 6.0, "eN_1": 6.0}, {"eN_0": 4.0, "eN_1": 8.0, "eS_0": 1.0, "eE_0": 3.0})
    assert _blocked(lay, est) == ["eN_1"]
    on = MaxPressurePolicy(MaxPressureParams(yield_block_s=BLOCK_S, stall_s=0.0, head_block_s=0.0))
    off = MaxPressurePolicy(MaxPressureParams(yield_block_s=0.0, stall_s=0.0, head_block_s=0.0))
    signal = SignalView(0, False, 20.0, (100.0,) * 8)
    v_off = off._pressures(Look(off.init(lay, 0.0), lay, est, signal, 100.0, None, None))
    v_on = on._yield_blocked(Look(on.init(lay, 0.0), lay, est, signal, 100.0, None, None), None, None, v_off)
    assert v_on[0] < v_off[0]
    assert v_off[1] > 0 and v_on[1] == v_off[1]
    assert (v_on[2:] == v_off[2:]).all()


def test_a_movement_giving_way_only_to_its_own_approach_waits_for_no_stream_the_loops_see() -> None:
    """given_way_lanes reads the streams of another approach: N_L giving way only to N_T (its own approach, green
    protected in phase 0, in the same lane) gives way to none of them, and has no yield lanes in phase 0."""
    n_l = [m.id for m in _given_way_layout(None).junction.movements].index("N_L")
    assert yield_lanes(_given_way_layout(None))[0, n_l].any()
    assert not given_way_lanes(_given_way_layout(["N_T"]))[0, n_l].any()


class _Exits:
    """A NetworkView's stand-in for _pressures: no queue downstream (downstream_weight 0 reads it anyway)."""

    def __init__(self, n_movements: int) -> None:
        self.n = n_movements

    def downstream_queue_pcu(self, junction: str) -> np.ndarray:
        return np.zeros(self.n)


def test_decide_held_reads_the_exits_room_once_for_both_sums_of_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """With exit_room_held on, decide_held weighs the phases twice where yield_block_s acts (all of them, then the
    phase in force's own without the blocked lane): the exit ratios held_exit_ratio gives are read once (issue 12,
    session 65) and the sums are those of reading them for each (`ratio` given or not: the same bits)."""
    from controller.core.policies import max_pressure

    lay = _layout()
    est = _est(lay, {"N": 6.0}, {}, {"N": 8.0, "S": 1.0, "E": 3.0, "W": 3.0})
    ratio = np.linspace(0.3, 1.0, len(lay.junction.movements))
    calls = []

    def held(*args: object) -> np.ndarray:
        calls.append(args)
        return ratio.copy()

    monkeypatch.setattr(max_pressure, "held_exit_ratio", held)
    keys = {"yield_block_s": BLOCK_S, "stall_s": 0.0, "head_block_s": 0.0, "exit_room_held": True}
    policy = MaxPressurePolicy(dataclasses.replace(MaxPressureParams(), **keys))  # type: ignore[arg-type]
    signal = SignalView(0, False, 20.0, (100.0, 80.0, 100.0, 80.0, 100.0))
    look = Look(policy.init(lay, 0.0), lay, est, signal, 100.0, _Exits(len(ratio)), None)  # type: ignore[arg-type]
    given = (policy._exit_ratio(look),)
    v = policy._pressures(look)
    assert v.tobytes() == policy._pressures(look, None, None, given).tobytes()
    both = policy._yield_blocked(look, None, None, v), policy._yield_blocked(look, None, None, v, given)
    assert both[0].tobytes() == both[1].tobytes() and both[0][0] < v[0]  # the rule acts
    calls.clear()
    _state, wish = policy.decide_held(look.state, lay, est, signal, 100.0, look.network, None, None)
    assert len(calls) == 1 and wish is not None

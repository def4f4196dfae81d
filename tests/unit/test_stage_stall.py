"""[max_pressure] stage_stall_s and stage_stall_lanes (K session 51; grid_joined_pairs' lane-swap deadlock,
BENCHMARKS.md, issue 9, G session 50): a stage whose stop-line loops have all, for that long, either stood
occupied without a count or stayed empty, one standing, moves nobody and holds no pressure (stage_stalled); with
stage_stall_lanes a lane whose head stood that long in its green, with a gap in the streams it yields to, is stuck
while that head stands, red or green, and its queue counts nowhere (stuck_lanes, stuck_drop_pcu). Both read the
loops' own counters (DetectorHealth.on_s / silent_s), also on a lane with a permitted ('g') link, which `stall_s`
skips."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from controller.config import Config, load_config
from controller.core.estimation import Estimate, Layout
from controller.core.params import MaxPressureParams
from controller.core.policies.max_pressure import (
    Look,
    MaxPressurePolicy,
    stage_stalled,
    stuck_drop_pcu,
    stuck_lanes,
    yield_lanes,
)
from controller.core.safety import SignalView
from controller.errors import ConfigError
from controller.junctions import parse_intersection
from tests.junction_fixtures import two_phase_raw
from tests.unit.test_max_pressure_net import mixed_junctions

STALL_S = 30.0
NOW_S = 100.0


def _layout(permitted: bool = False, left: bool = False, no_stop: str = "") -> Layout:
    """two_phase: phase 0 serves N_T and S_T ('G'; with `permitted`, 'g'), phase 1 E_T and W_T. With `left`, N's
    lane also carries N_L (link 4), yielding ('g') to S_T in phase 0. `no_stop`: an approach whose lane has no
    stop-line loop."""
    raw = two_phase_raw()
    if permitted:
        raw["phases"][0]["state"] = "grgr"
    if left:
        raw["n_links"] = 5
        raw["phases"][0]["state"] += "g"
        raw["phases"][1]["state"] += "r"
        raw["movements"].append({**raw["movements"][0], "id": "N_L", "turn": "left", "links": [4], "conflicts": []})
    if no_stop:
        raw["detectors"] = [d for d in raw["detectors"] if d["id"] != f"{no_stop}_stop"]
    return Layout.build(parse_intersection(raw, "stall.toml"), Config())


def _est(
    lay: Layout, on_s: dict[str, float], silent_s: dict[str, float], queue: dict[str, float] | None = None
) -> Estimate:
    """Each approach's stop-line loop fully occupied without a count for on_s[ap], or silent for silent_s[ap]
    (others 0: counting now); each lane's queue between the loops queue[ap] PCU, shared to its movements."""
    est = Estimate.empty(lay, 0.0)
    on, silent = np.zeros(len(est.health.on_s)), np.zeros(len(est.health.on_s))
    lane_q = np.zeros(len(lay.lanes))
    for ap in "NESW":
        k = lay.lanes.index(f"e{ap}_0")
        if lay.lane_stop[k] >= 0:
            on[lay.lane_stop[k]] = on_s.get(ap, 0.0)
            silent[lay.lane_stop[k]] = silent_s.get(ap, 0.0)
        lane_q[k] = (queue or {}).get(ap, 0.0)
    mov_q = (lay.lane_share * lane_q[None, :]).sum(axis=1)
    health = dataclasses.replace(est.health, on_s=on, silent_s=silent)
    lanes = dataclasses.replace(est.lanes, queue_pcu=lane_q)
    return dataclasses.replace(est, health=health, lanes=lanes, queue_pcu=mov_q)


def _stage(lay: Layout, on_s: dict[str, float], silent_s: dict[str, float], green_s: float = 60.0) -> list[bool]:
    return [bool(x) for x in stage_stalled(lay, _est(lay, on_s, silent_s), 0, green_s, STALL_S)]


def test_a_stage_whose_loops_all_stood_or_stayed_empty_that_long_one_standing_is_stalled_whole() -> None:
    lay = _layout()
    assert [m.id for m in lay.junction.movements] == ["N_T", "E_T", "S_T", "W_T"]
    # N's head stood 31 s without a count, S's loop empty 35 s: both of phase 0's movements; E and W are red
    assert _stage(lay, {"N": 31.0}, {"S": 35.0}) == [True, False, True, False]
    # yielding ('g') heads that stand as long with nobody crossing anywhere in the stage: stalled all the same
    assert _stage(_layout(permitted=True), {"N": 31.0}, {"S": 35.0}) == [True, False, True, False]
    assert _stage(lay, {"N": 31.0, "S": 40.0}, {}) == [True, False, True, False]


def test_each_condition_unmet_alone_leaves_the_stage_held() -> None:
    lay = _layout()
    none = [False] * 4
    startup_s = lay.params.startup_lost_s
    assert _stage(lay, {"N": 31.0}, {"S": 29.0}) == none  # S's loop counted a vehicle 29 s ago: the stage moves
    assert _stage(lay, {"N": 31.0}, {}) == none  # S's loop counting now
    assert _stage(lay, {"N": 29.0}, {"S": 35.0}) == none  # N's head has stood 29 s only
    assert _stage(lay, {}, {"N": 35.0, "S": 35.0}) == none  # nobody stands: nothing to serve at the line
    assert _stage(lay, {"N": 31.0}, {"S": 35.0}, green_s=startup_s + STALL_S - 1.0) == none  # 29 s of the green
    assert _stage(lay, {"N": 31.0}, {"S": 35.0}, green_s=startup_s + STALL_S) == [True, False, True, False]
    # a lane of the stage without a stop-line loop: what crosses there is not seen
    blind = _layout(no_stop="S")
    assert [bool(x) for x in stage_stalled(blind, _est(blind, {"N": 31.0}, {}), 0, 60.0, STALL_S)] == none
    # E's and W's heads stand, but phase 0 does not serve them
    assert _stage(lay, {"E": 60.0, "W": 60.0}, {"N": 35.0, "S": 35.0}) == none


def _stuck(
    lay: Layout,
    prev: np.ndarray | None,
    on_s: dict[str, float],
    silent_s: dict[str, float],
    now_s: float = NOW_S,
    cur: int = 0,
    in_green: bool = True,
    green_s: float = 60.0,
) -> np.ndarray:
    est = _est(lay, on_s, silent_s)
    yl = yield_lanes(lay)[cur]
    return stuck_lanes(prev, lay, est, cur, green_s, in_green, now_s, STALL_S, 4.0, yl)


def test_a_lane_whose_head_stood_that_long_in_its_green_stays_stuck_while_that_head_stands() -> None:
    lay = _layout()
    n, s = lay.lanes.index("eN_0"), lay.lanes.index("eS_0")
    first = _stuck(lay, None, {"N": 31.0}, {})  # S's loop counting: S moves, N's head stands
    assert first[n] == NOW_S - 31.0 and all(math.isnan(first[k]) for k in range(4) if k != n)
    # a red for N (phase 1 in force) 20 s later: the same head still stands: still stuck
    red = _stuck(lay, first, {"N": 51.0}, {}, now_s=NOW_S + 20.0, cur=1, green_s=15.0)
    assert red[n] == NOW_S - 31.0
    # its loop counted (the head left) or showed a gap: no longer stuck
    assert math.isnan(_stuck(lay, red, {}, {}, now_s=NOW_S + 21.0, cur=1)[n])
    assert math.isnan(_stuck(lay, red, {}, {"N": 1.0}, now_s=NOW_S + 21.0, cur=1)[n])
    # another head standing 3 s (the first left unseen between two reads): not the same head
    assert math.isnan(_stuck(lay, red, {"N": 3.0}, {}, now_s=NOW_S + 40.0, cur=1)[n])
    # not found in a red, nor before stall_s of its green, nor while standing less long
    assert math.isnan(_stuck(lay, None, {"N": 60.0}, {}, cur=1)[n])
    assert math.isnan(_stuck(lay, None, {"N": 31.0}, {}, green_s=lay.params.startup_lost_s + 29.0)[n])
    assert math.isnan(_stuck(lay, None, {"N": 29.0}, {})[n])
    assert math.isnan(_stuck(lay, None, {"N": 31.0}, {}, in_green=False)[n])
    assert math.isnan(first[s])


def test_a_lane_with_a_yielding_movement_is_stuck_only_with_a_gap_in_the_streams_it_yields_to() -> None:
    """N's lane carries N_T ('G') and N_L, yielding ('g') to S_T in phase 0: its head may wait for a gap in S's
    stream. While S's loop counts, N's lane is not stuck; with S's loop empty (or standing) for the clearance gap
    (4 s) and the head not gone, it is."""
    lay = _layout(left=True)
    n = lay.lanes.index("eN_0")
    assert math.isnan(_stuck(lay, None, {"N": 40.0}, {})[n])
    assert math.isnan(_stuck(lay, None, {"N": 40.0}, {"S": 3.0})[n])
    assert _stuck(lay, None, {"N": 40.0}, {"S": 4.0})[n] == NOW_S - 40.0
    assert _stuck(lay, None, {"N": 40.0, "S": 5.0}, {})[n] == NOW_S - 40.0


def test_a_stuck_lane_queue_is_taken_from_every_movement_on_it() -> None:
    lay = _layout(left=True)
    assert [m.id for m in lay.junction.movements] == ["N_T", "E_T", "S_T", "W_T", "N_L"]
    est = _est(lay, {}, {}, queue={"N": 6.0, "S": 2.0})
    stuck = np.full(len(lay.lanes), np.nan)
    assert stuck_drop_pcu(lay, est, stuck) is None
    stuck[lay.lanes.index("eN_0")] = 50.0
    drop = stuck_drop_pcu(lay, est, stuck)
    assert drop is not None and drop.tolist() == pytest.approx([-3.0, 0.0, 0.0, 0.0, -3.0])


def _policy(stage_s: float, lanes: bool = False) -> MaxPressurePolicy:
    return MaxPressurePolicy(
        MaxPressureParams(stage_stall_s=stage_s, stage_stall_lanes=lanes, stall_s=0.0, head_block_s=0.0)
    )


def _wish(policy: MaxPressurePolicy, state, lay: Layout, est: Estimate, phase: int, green_s: float, t: float):
    red = tuple(t if lay.serves[phase, i] else t - green_s for i in range(len(lay.junction.movements)))
    state, wish = policy.decide(state, lay, est, SignalView(phase, False, green_s, red), t)
    assert wish is not None
    return state, wish.phase


def test_decide_leaves_a_stage_that_moves_nobody() -> None:
    """N_T holds 8 PCU behind a head standing at the line since 50 s, S's loop empty, E and W 1 PCU each, red
    since 50 s (phase 0 green since then): on the pressures phase 0 keeps its green; with stage_stall_s 30 it is
    left once the head has stood 30 s (after the start-up loss), with the key off never. The same with N_T and
    S_T yielding ('g')."""
    for permitted in (False, True):
        lay = _layout(permitted)
        for key, switch_at in ((0.0, None), (STALL_S, 50 + lay.params.startup_lost_s + STALL_S)):
            policy = _policy(key)
            state = policy.init(lay, 0.0)
            phases = []
            for t in range(60, 101):
                est = _est(lay, {"N": t - 50.0}, {"S": t - 50.0}, queue={"N": 8.0, "E": 1.0, "W": 1.0})
                state, ph = _wish(policy, state, lay, est, 0, t - 50.0, float(t))
                phases.append(ph)
            if switch_at is None:
                assert set(phases) == {0}
            else:
                k = math.ceil(switch_at) - 60
                assert set(phases[:k]) == {0} and set(phases[k:]) == {1}, (permitted, phases)


def test_with_stage_stall_lanes_a_stuck_lane_draws_no_green_back_while_its_head_stands() -> None:
    """N_T's 8 PCU stand behind a head that has not moved for 40 s while S_T's lane still discharges (1 PCU, its
    loop counting): the stage moves someone, stage_stall_s alone keeps it; with stage_stall_lanes N's queue counts
    nowhere and phase 1 (E and W, 2 PCU each, red 40 s) is served. Then, phase 1 in force 20 s, the same head still
    standing: the memory keeps N's queue out, phase 1 holds; a policy that had not seen the stall takes the green
    back for N's 8 PCU."""
    lay = _layout()
    q = {"N": 8.0, "S": 1.0, "E": 2.0, "W": 2.0}
    est = _est(lay, {"N": 40.0}, {}, queue=q)
    assert _wish(_policy(STALL_S), _policy(STALL_S).init(lay, 0.0), lay, est, 0, 45.0, NOW_S)[1] == 0
    on = _policy(STALL_S, lanes=True)
    state, ph = _wish(on, on.init(lay, 0.0), lay, est, 0, 45.0, NOW_S)
    assert ph == 1
    later = _est(lay, {"N": 70.0}, {}, queue={**q, "E": 1.0, "W": 1.0})
    assert _wish(on, state, lay, later, 1, 20.0, NOW_S + 30.0)[1] == 1
    assert _wish(on, on.init(lay, 0.0), lay, later, 1, 20.0, NOW_S + 30.0)[1] == 0


def test_the_network_pass_is_not_used_with_the_key_on() -> None:
    layouts = {jid: Layout.build(j, Config()) for jid, j in mixed_junctions(2).items()}
    assert MaxPressurePolicy(MaxPressureParams(stage_stall_s=30.0)).network_decision(layouts) is None
    assert MaxPressurePolicy(MaxPressureParams(stage_stall_s=0.0)).network_decision(layouts) is not None


def test_config_ships_the_keys_off_reads_them_and_refuses_a_negative_time_naming_the_file_and_key(
    tmp_path: Path,
) -> None:
    shipped = load_config(Path(__file__).resolve().parents[2] / "config.toml").max_pressure
    assert shipped.stage_stall_s == 0.0 and shipped.stage_stall_lanes is False
    cfg = tmp_path / "c.toml"
    cfg.write_text("[max_pressure]\nstage_stall_s = 30.0\nstage_stall_lanes = true\n")
    got = load_config(cfg).max_pressure
    assert got.stage_stall_s == 30.0 and got.stage_stall_lanes is True
    cfg.write_text("[max_pressure]\nstage_stall_s = -1.0\n")
    with pytest.raises(ConfigError, match=r"c\.toml.*max_pressure\.stage_stall_s"):
        load_config(cfg)


# -- R, session 51 (review): mutations of the landed rules that every test above let pass ----------------------
def test_a_lane_without_a_stop_line_loop_reads_no_other_loop() -> None:
    """A stage with a loopless lane is never stalled, even when every loop of the junction stands (the missing
    loop's index, -1, must not read the last loop's health)."""
    blind = _layout(no_stop="S")
    est = _est(blind, {"N": 31.0}, {})
    standing = dataclasses.replace(est.health, on_s=np.full(len(est.health.on_s), 31.0))
    est = dataclasses.replace(est, health=standing)
    assert not stage_stalled(blind, est, 0, 60.0, STALL_S).any()


def test_the_stage_stall_keeps_the_other_rules_stalls() -> None:
    """With gap_out_s and stage_stall_s on, a movement gapped out (N_T: its loop empty 5 s, no queue) holds no
    pressure though the stage is not stalled (S's loop counting): the two rules' stalls add up."""
    lay = _layout()
    est = _est(lay, {}, {"N": 5.0})
    n = lay.lanes.index("eN_0")
    empty_s = np.zeros(len(lay.lanes))
    empty_s[n] = 5.0
    est = dataclasses.replace(est, lanes=dataclasses.replace(est.lanes, stop_empty_s=empty_s))
    policy = MaxPressurePolicy(MaxPressureParams(stage_stall_s=STALL_S, gap_out_s=3.0, stall_s=0.0, head_block_s=0.0))
    red = tuple(NOW_S if lay.serves[0, i] else NOW_S - 60.0 for i in range(len(lay.junction.movements)))
    signal = SignalView(0, False, 60.0, red)
    stalled = policy._stalls(Look(policy.init(lay, 0.0), lay, est, signal, NOW_S, None, None))
    assert stalled is not None and stalled.tolist() == [True, False, False, False]


def test_stage_stall_lanes_alone_is_off() -> None:
    """stage_stall_lanes acts only with stage_stall_s > 0: with 0 the stuck head's queue still draws the green."""
    lay = _layout()
    est = _est(lay, {"N": 40.0}, {}, queue={"N": 8.0, "S": 1.0, "E": 2.0, "W": 2.0})
    lanes_only = MaxPressurePolicy(
        MaxPressureParams(stage_stall_s=0.0, stage_stall_lanes=True, stall_s=0.0, head_block_s=0.0)
    )
    assert _wish(lanes_only, lanes_only.init(lay, 0.0), lay, est, 0, 45.0, NOW_S)[1] == 0


def test_a_stuck_lane_hidden_queue_is_taken_too() -> None:
    """The queue taken from a stuck lane is all the estimator gives it: between the loops and past the advance loop."""
    lay = _layout(left=True)
    est = _est(lay, {}, {}, queue={"N": 6.0})
    hidden = np.zeros(len(lay.lanes))
    hidden[lay.lanes.index("eN_0")] = 2.0
    est = dataclasses.replace(est, lanes=dataclasses.replace(est.lanes, hidden_pcu=hidden))
    stuck = np.full(len(lay.lanes), np.nan)
    stuck[lay.lanes.index("eN_0")] = 50.0
    drop = stuck_drop_pcu(lay, est, stuck)
    assert drop is not None and drop.tolist() == pytest.approx([-4.0, 0.0, 0.0, 0.0, -4.0])


def test_a_stuck_lane_drop_adds_to_the_head_block_drop(monkeypatch: pytest.MonkeyPatch) -> None:
    """With head_block_s on (main's default) and stage_stall_lanes, the queue each movement loses is both rules'
    drops summed, not the stuck lanes' alone (_pressures' `shift`)."""
    from controller.core.policies import max_pressure

    lay = _layout()
    head, stuck = np.array([-1.0, 0.0, -2.0, 0.0]), np.array([-3.0, 0.0, 0.0, -4.0])
    seen: list[np.ndarray] = []
    monkeypatch.setattr(max_pressure, "head_drop_pcu", lambda layout, est, waits: head)
    monkeypatch.setattr(max_pressure, "phase_pressures", lambda *args: seen.append(args[14]) or np.zeros(2))
    policy = MaxPressurePolicy(MaxPressureParams(stage_stall_s=STALL_S, stage_stall_lanes=True))
    state = dataclasses.replace(policy.init(lay, 0.0), head_waits=np.zeros(len(lay.lanes)))
    red = tuple(NOW_S for _ in lay.junction.movements)
    look = Look(state, lay, _est(lay, {}, {}), SignalView(0, False, 60.0, red), NOW_S, None, None)
    policy._pressures(look, None, stuck)
    assert seen[0].tolist() == [-4.0, 0.0, -2.0, -4.0]

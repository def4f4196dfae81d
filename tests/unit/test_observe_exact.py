"""Do no harm's ordinary tick over the junctions at once gives the records of the code it replaces, to
the last bit (issue 12, 5,000 junctions through Mosquitto, session 40): observe_all's cumulative-sum
test brought up over every judged junction at once (harm._excess_all) and its charges built as
arrays (harm._charges); the network replay's per-junction scalars brought up as arrays, each
junction's Side cut only when read (netshadow._split, cuts.Cut.NESTED) and the estimates' network
arrays found once a tick (cuts.Joined). The references below are the former code, copied as it was
(1d83979)."""

from __future__ import annotations

import copy
import dataclasses
import math
import random
from collections.abc import Sequence

import numpy as np
import pytest

from controller.config import Config
from controller.core import cuts, harm, netshadow, shadow
from controller.core.estimation import Layout
from controller.core.policies import make_policy
from controller.core.step import Core
from controller.model import SignalStatus
from tests.estimate_fixtures import mixed_junctions, random_snapshot, ring_chained


def reference_observe_all(
    net: netshadow.NetworkProgram,
    states: Sequence[harm.HarmState],
    ests: Sequence[object],
    statuses: Sequence[SignalStatus | None],
    now_s: float,
    params: harm.HarmParams,
    cache: netshadow.ReplayCache | None = None,
    judged: Sequence[bool] | None = None,
    block_window_s: float = 30.0,
) -> list[harm.HarmState]:
    """harm.observe_all as it was (6c5d5e0): a Charge and the test's _excess junction by junction."""
    if not states:
        return []
    pb = harm.plan_blocks(states, block_window_s) if params.plan_block else None
    old, keys = [s.replay for s in states], (params.measured_queue_floor, params.blocked_fit)
    replays = netshadow.advance_all(net, old, ests, statuses, now_s, params.window_s, cache, pb, *keys)  # type: ignore[arg-type]
    hidden_net = netshadow.hidden_by_movement(net, ests)  # type: ignore[arg-type]
    st = net.mov_start.tolist()
    sp = net.spill if params.spill_back and params.measured_spill else None
    own, base, growth = harm._measured_spill(sp, states, ests)  # type: ignore[arg-type]
    queues = netshadow.replayed_queues(replays, cache)
    sums, spill = netshadow.queue_charges(net, queues, hidden_net if params.spill_back else None, growth)
    sums_j, spill_j = sums.T.tolist(), spill.T.tolist()
    bound, trim_j = None, None
    if params.measured_queue_bound:
        bound, trims = harm._trims(net, ests, queues, hidden_net)  # type: ignore[arg-type]
        trim_j = trims.T.tolist()
    known = net.spill is not None or not params.spill_back
    judge = [False] * len(states) if judged is None or not params.enabled else judged
    out = []
    for k, (s, r) in enumerate(zip(states, replays)):
        charge = None
        if known:
            spilt = params.spill_back and s.approach is not None and s.approach_storage_pcu is not None
            trim = (0.0, 0.0) if trim_j is None else (trim_j[k][0], trim_j[k][1])
            charge = harm.Charge(r, tuple(sums_j[k]), tuple(spill_j[k]) if spilt else (0.0, 0.0), trim)  # type: ignore[arg-type]
        hidden = hidden_net[st[k] : st[k + 1]]
        changes = harm._measured(s, net.programs[k], ests[k], statuses[k], now_s, params, block_window_s)  # type: ignore[arg-type]
        if bound is not None:
            changes["measured_queue_pcu"] = bound[st[k] : st[k + 1]]
        if judge[k] and charge is not None and s.mode == "policy" and s.commanded and r.t_s - s.excess_t_s > 0:
            changes.update(reference_excess(s, r, charge, r.t_s - s.excess_t_s, params))
        out.append(
            dataclasses.replace(
                s,
                replay=r,
                measured_hidden_pcu=hidden,
                measured_spill_pcu=own[k],
                spill_base_pcu=base[k],
                charge=charge,
                **changes,  # type: ignore[arg-type]
            )
        )
    return out


def reference_excess(
    state: harm.HarmState, replay: shadow.Replay, charge: harm.Charge, dt: float, params: harm.HarmParams
) -> dict[str, object]:
    """harm._excess as it was (1d83979)."""
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


def reference_split(
    net: netshadow.NetworkProgram,
    old: np.ndarray,
    nr: object,
    arrivals: np.ndarray,
    now_s: float,
    dt: np.ndarray,
    keep: np.ndarray,
    p_fixed: list[int],
    p_ctrl: list[int],
    heads: list[int],
) -> tuple[list[shadow.Replay], np.ndarray]:
    """netshadow._split as it was (1d83979): each junction's scalars in Python floats, its Side cut at once.
    Since session 46 (D) _split is given the old replays' scalars (netshadow._scalars: read from the replays, or
    kept by the ReplayCache from the last tick) rather than the replays, and hands back the new ones too: `old` is
    read here as the replays' fields were."""
    dts, keeps = dt.tolist(), keep.tolist()
    starts = net.mov_start.tolist()
    fields = ("span_s", "agree_s", "demand_pcu", "demand_s", "held_pcu")
    replays = [dict(zip(fields, row)) for row in old.T.tolist()]
    totals = np.bincount(net.mov_junction, arrivals, minlength=len(replays)).tolist()
    out: list[shadow.Replay] = []
    for k, r in enumerate(replays):
        a, b = starts[k], starts[k + 1]
        d, kp = dts[k], keeps[k]
        out.append(
            cuts.cut_of(
                netshadow.ReplayCut,
                nr,
                a,
                b,
                t_s=now_s,
                span_s=r["span_s"] * kp + d,
                agree_s=r["agree_s"] * kp + (d if p_fixed[k] == p_ctrl[k] else 0.0),
                sides=cuts.cut_of(netshadow.SideCut, nr.sides, a, b),  # type: ignore[attr-defined]
                head=heads[k],
                demand_pcu=r["demand_pcu"] * kp + totals[k],
                demand_s=r["demand_s"] * kp + d,
                held_pcu=r["held_pcu"] * kp,
                **netshadow._NO_INFLOW if nr.extra_pcu is None else {},  # type: ignore[attr-defined]
                **netshadow._NO_FIT if nr.blocked_fit is None else {},  # type: ignore[attr-defined]
                **netshadow._NO_PROFILE if nr.block_profile is None else {},  # type: ignore[attr-defined]
            )
        )
    return out, netshadow._scalars(out)


def same(a: object, b: object, where: str = "") -> None:
    """a and b the same to the last bit: records field by field, arrays element by element (nan
    where nan), floats by their bits; the same types of scalar."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(b).__mro__[-2:] == type(a).__mro__[-2:] and dataclasses.is_dataclass(b), where
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
        if a.dtype.kind == "f":  # -0.0 against 0.0
            assert np.array_equal(np.signbit(a), np.signbit(b)), where
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert type(b) is float, (where, type(b))
        assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b)), (
            where,
            a,
            b,
        )
    else:
        assert a == b, (where, a, b)


def same_state(a: harm.HarmState | None, b: harm.HarmState | None, where: str = "") -> None:
    """same(a, b) for the former code's record `a` and observe_all's `b`, but for the Charge observe_all leaves
    out since session 47 (harm._charges' `needed`) where no accumulate can read it: a junction whose test it
    brought up to its replay (accumulate then finds nothing to add: the record itself back), or one not in policy
    mode or not commanded (it gets there only through harm._switch, which restarts the replay the Charge is
    for). Elsewhere the Charge is there and the same."""
    if a is not None and b is not None and b.charge is None and a.charge is not None:
        brought_up = b.mode == "policy" and b.commanded and b.excess_t_s == b.replay.t_s
        assert brought_up or b.mode != "policy" or not b.commanded, where
        if brought_up:
            assert harm.accumulate(b, harm.HarmParams()) is b, where
        b = dataclasses.replace(b, charge=a.charge)
    same(a, b, where)


KEYS = {
    "shipped": {},
    "queue_bound": {"measured_queue_bound": True},
    "measured_spill": {"measured_spill": True},
    "no_spill_back": {"spill_back": False},
    "lock_and_plan_block": {"lock_green_s": 6.0, "plan_block": True, "measured_queue_floor": True},
    "upstream_blocked": {"upstream_arrivals": True, "blocked_discharge": True, "shared_lane_queue": True},
    "first_command": {"evidence_from_first_command": True, "margin": 0.5},
}

STALE = ("B", 30, 60)  # this junction's feed stops for 30 s (stale after feed_stale_s)


def _run(keys: dict[str, object], observe: object, split: object) -> list[tuple[object, dict[str, object]]]:
    """200 s of random feeds and statuses at five junctions in a ring under max-pressure, do no harm
    quick to judge; per tick the TickResult and every junction's HarmState."""
    cfg = Config()
    harm_cfg = dataclasses.replace(
        cfg.harm, min_policy_s=20.0, excess_budget_s=0.0, margin=0.0, margin_s=0.0, hold_s=30.0, network_share=0.6
    )
    cfg = dataclasses.replace(cfg, harm=dataclasses.replace(harm_cfg, **keys))  # type: ignore[arg-type]
    js = ring_chained(mixed_junctions())
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, make_policy("max_pressure", cfg), cfg)
    rng = random.Random(7)
    state, out = core.initial_state(0.0), []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(harm, "observe_all", observe)
        mp.setattr(netshadow, "_split", split)
        for t in range(1, 201):
            jid_off, t0, t1 = STALE
            snaps = [
                random_snapshot(rng, j, float(t)) for jid, j in js.items() if not (jid == jid_off and t0 <= t < t1)
            ]
            statuses = [
                SignalStatus(jid, float(t), (t // (9 + k) + k) % 2, t % (9 + k) < 3, float(t % 9), "", 0, "adaptive")
                for k, jid in enumerate(js)
            ]
            state, result = core.step(state, snaps, statuses, float(t))
            out.append((result, {jid: s.harm for jid, s in state.junctions.items()}))
    return out


@pytest.mark.parametrize("name", sorted(KEYS))
def test_observe_all_gives_the_former_records(name: str) -> None:
    ref = _run(KEYS[name], reference_observe_all, reference_split)
    new = _run(KEYS[name], harm.observe_all, netshadow._split)
    changes = [c for r, _ in new for c in r.mode_changes]
    if name != "first_command":  # verdicts taken: the test ran through its paths
        assert {c.mode for c in changes} == {"fixed", "policy"}, name
    for t, ((ra, sa), (rb, sb)) in enumerate(zip(ref, new, strict=True)):
        assert ra == rb, (name, t)
        for jid, a in sa.items():
            same_state(a, sb[jid], f"{name} t={t + 1} {jid}")


def test_the_tests_brought_up_at_once_are_many() -> None:
    """The shortcut is taken (not a fallback to _excess junction by junction): observe_all brings
    tests up through _excess_all, and _excess is not called."""
    counts = {"rows": 0, "one": 0}
    excess_all, excess = harm._excess_all, harm._excess

    def rows(*a: object, **k: object) -> tuple[list[object], object]:
        out = excess_all(*a, **k)  # type: ignore[arg-type]
        counts["rows"] += sum(r is not None for r in out[0])
        return out  # type: ignore[return-value]

    def one(*a: object, **k: object) -> dict[str, object]:
        counts["one"] += 1
        return excess(*a, **k)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(harm, "_excess_all", rows)
        mp.setattr(harm, "_excess", one)
        _run({}, harm.observe_all, netshadow._split)
    assert counts["rows"] > 100 and counts["one"] == 0


def test_no_demand_to_divide_by_raises_as_before() -> None:
    """min_demand_pcu_h 0 and a junction without demand: the former _excess divided by zero; so does
    the shortcut (through _excess), rather than writing inf or nan into the test."""
    cfg = Config()
    params = dataclasses.replace(cfg.harm, min_demand_pcu_h=0.0)
    js = ring_chained(mixed_junctions())
    lays = {jid: Layout.build(j, cfg) for jid, j in js.items()}
    core = Core(lays, make_policy("max_pressure", cfg), dataclasses.replace(cfg, harm=params))
    state = core.initial_state(0.0)
    states = [s.harm for s in state.junctions.values()]
    ests = [s.estimate for s in state.junctions.values()]
    assert all(s is not None for s in states)
    with pytest.raises(ZeroDivisionError):
        harm.observe_all(core.shadow_net, states, ests, [None] * len(states), 1.0, params, judged=[True] * len(states))  # type: ignore[arg-type]
    with pytest.raises(ZeroDivisionError):
        reference_observe_all(
            core.shadow_net, states, ests, [None] * len(states), 1.0, params, judged=[True] * len(states)
        )  # type: ignore[arg-type]


def test_a_replays_side_is_cut_when_read_and_kept() -> None:
    """ReplayCut.sides (Cut.NESTED): a SideCut of the network's Side over the junction's movements,
    made at the first read, the same object at the next; replace() reads it."""
    n = 7
    side = shadow.Side(*(np.arange(2 * n, dtype=float).reshape(2, n) + 10.0 * i for i in range(6)))
    nr = netshadow._NetReplay(np.arange(n, dtype=float), np.arange(n, dtype=float), side, np.zeros((3, n)))
    scalars = {
        "t_s": 1.0,
        "span_s": 1.0,
        "agree_s": 1.0,
        "head": 0,
        "demand_pcu": 0.0,
        "demand_s": 0.0,
        "held_pcu": 0.0,
    }
    r = cuts.cut_of(
        netshadow.ReplayCut, nr, 2, 5, **scalars, **netshadow._NO_INFLOW, **netshadow._NO_FIT, **netshadow._NO_PROFILE
    )
    assert "sides" not in r.__dict__
    s = r.sides
    assert isinstance(s, netshadow.SideCut) and r.sides is s
    for f in dataclasses.fields(shadow.Side):
        assert np.array_equal(getattr(s, f.name), getattr(side, f.name)[:, 2:5]), f.name
    plain = dataclasses.replace(r, head=1)
    assert plain.head == 1 and np.array_equal(plain.sides.queue_pcu, side.queue_pcu[:, 2:5])


def test_joined_is_joined_field_or_the_concatenation() -> None:
    """cuts.Joined: the source's array when the records are cut from it whole and in order (the
    same object), the records' arrays joined otherwise."""
    n = 6
    side = shadow.Side(*(np.arange(2 * n, dtype=float).reshape(2, n) + i for i in range(6)))
    nr = netshadow._NetReplay(np.arange(n, dtype=float) * 2.0, np.arange(n, dtype=float), side, np.zeros((3, n)))
    whole = [cuts.cut_of(netshadow.ReplayCut, nr, a, b, t_s=0.0) for a, b in ((0, 2), (2, 5), (5, 6))]
    assert cuts.Joined(whole)("fed_pcu") is nr.fed_pcu
    part = whole[:2]
    assert cuts.Joined(part)("fed_pcu") is not nr.fed_pcu
    assert np.array_equal(cuts.Joined(part)("fed_pcu"), nr.fed_pcu[:5])
    shuffled = [whole[1], whole[0], whole[2]]
    assert np.array_equal(
        cuts.Joined(shuffled)("fed_pcu"), np.concatenate([nr.fed_pcu[2:5], nr.fed_pcu[:2], nr.fed_pcu[5:]])
    )
    assert len(cuts.Joined([])("fed_pcu")) == 0


def test_the_forgetting_factors_are_math_exps_of_each_interval() -> None:
    """netshadow.forgetting_factors (computed once per distinct interval): math.exp(-dt / window)
    of each interval, in order, whatever the order of repeats."""
    dts = [1.0, 2.5, 1.0, 31.0, 2.5, 0.1 + 0.2, 0.3]
    expected = [math.exp(-d / 900.0) for d in dts]
    assert netshadow.forgetting_factors(dts, 900.0) == expected
    for one in ([0.1 + 0.2] * 5, [1.0], [], (2.5, 2.5)):  # one interval for every junction (a list: one exp)
        assert netshadow.forgetting_factors(one, 900.0) == [math.exp(-d / 900.0) for d in one]


def test_a_junction_without_approaches_is_charged_no_spill() -> None:
    """A state without its approaches (HarmState.approach None: built by hand) is charged no spill,
    (0.0, 0.0), in its Charge and in its test, as before; its neighbours keep theirs. A test holding a
    trim from before forgets it when nothing is trimmed this tick."""
    cfg = Config()
    params = dataclasses.replace(cfg.harm, min_policy_s=20.0, excess_budget_s=0.0, margin=0.0, margin_s=0.0)
    js = ring_chained(mixed_junctions())
    core = Core(
        {jid: Layout.build(j, cfg) for jid, j in js.items()},
        make_policy("max_pressure", cfg),
        dataclasses.replace(cfg, harm=params),
    )
    rng = random.Random(3)
    state = core.initial_state(0.0)
    for t in range(1, 16):
        statuses = [
            SignalStatus(jid, float(t), (t // 9 + k) % 2, t % 9 < 3, float(t % 9), "", 0, "x")
            for k, jid in enumerate(js)
        ]
        state, _ = core.step(state, [random_snapshot(rng, j, float(t)) for j in js.values()], statuses, float(t))
    states = [s.harm for s in state.junctions.values()]
    assert all(s is not None for s in states)
    states = [dataclasses.replace(s, approach=None) if k == 2 else s for k, s in enumerate(states)]  # type: ignore[arg-type]
    # a junction whose test still holds a trim from before (measured_queue_bound's, none this tick): it is forgotten
    k = next(k for k, s in enumerate(states) if k != 2 and s is not None and s.mode == "policy" and s.commanded)
    states[k] = dataclasses.replace(states[k], trim_pcu_s=(1.5, 2.5))  # type: ignore[arg-type]
    ests = [s.estimate for s in state.junctions.values()]
    sts = [s.status for s in state.junctions.values()]
    args = (core.shadow_net, states, ests, sts, 16.0, params)
    charges = netshadow.queue_charges

    def spilling(*a: object, **k: object) -> tuple[np.ndarray, np.ndarray]:  # every junction's queues spill a tenth
        sums, _ = charges(*a, **k)  # type: ignore[arg-type]
        return sums, sums * 0.1 + 0.5

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(netshadow, "queue_charges", spilling)
        new = harm.observe_all(*args, judged=[True] * len(states))  # type: ignore[arg-type]
        ref = reference_observe_all(*args, judged=[True] * len(states))  # type: ignore[arg-type]
        charged = harm.observe_all(*args)  # type: ignore[arg-type]  # none judged: every Charge made (_charges)
    assert charged[2].charge is not None and charged[2].charge.spill_pcu == (0.0, 0.0)
    assert 0.0 < new[k].trim_pcu_s[0] < 1.5 and 0.0 < new[k].trim_pcu_s[1] < 2.5
    assert any(s.charge is not None and s.charge.spill_pcu != (0.0, 0.0) for s in charged), "no spill charged at all"
    for j, (a, b) in enumerate(zip(ref, new, strict=True)):
        same_state(a, b, f"junction {j}")


def _ring_core(params: harm.HarmParams, seconds: int) -> tuple[Core, object, list[object], list[SignalStatus]]:
    """Five junctions in a ring under max-pressure, do no harm quick to judge (`params`), `seconds` of random
    feeds: the core, its state, the last estimates and statuses."""
    cfg = dataclasses.replace(Config(), harm=params)
    js = ring_chained(mixed_junctions())
    core = Core({jid: Layout.build(j, cfg) for jid, j in js.items()}, make_policy("max_pressure", cfg), cfg)
    rng = random.Random(11)
    state = core.initial_state(0.0)
    statuses: list[SignalStatus] = []
    for t in range(1, seconds + 1):
        statuses = [
            SignalStatus(jid, float(t), (t // (9 + k) + k) % 2, t % (9 + k) < 3, float(t % 9), "", 0, "x")
            for k, jid in enumerate(js)
        ]
        state, _ = core.step(state, [random_snapshot(rng, j, float(t)) for j in js.values()], statuses, float(t))
    ests = [s.estimate for s in state.junctions.values()]  # type: ignore[attr-defined]
    return core, state, ests, statuses


def _varied(states: list[harm.HarmState], rng: random.Random) -> list[harm.HarmState]:
    """`states` with some replaced by new records of other tests: another mode, not commanded, without
    approaches, other excess, spill and trim sums (-0.0 among them), an older test time."""
    out = list(states)
    changes: list[dict[str, object]] = [
        {"mode": "fixed"},
        {"commanded": False},
        {"approach": None},
        {"approach_storage_pcu": None},
        {"excess_s": rng.uniform(0.0, 9.0), "spill_pcu_s": (rng.uniform(0.0, 5.0), -0.0)},
        {"trim_pcu_s": (rng.uniform(0.0, 3.0), rng.uniform(0.0, 3.0)), "excess_t_s": 3.0},
        {"trim_pcu_s": (-0.0, 0.0)},
    ]
    for k in rng.sample(range(len(out)), min(len(out), rng.randrange(1, 4))):
        out[k] = dataclasses.replace(out[k], **rng.choice(changes))  # type: ignore[arg-type]
    return out


def test_the_tests_as_arrays_are_each_states_fields() -> None:
    """harm._TestArrays (do no harm's cumulative-sum tests as arrays): read from the states, or from the
    last tick's arrays for the states that are the records kept (the same objects) and from the others
    themselves, every element is the state's own field, to the bit (-0.0 kept), on states varied at random
    (mode, commanded, approaches, excess, spill and trim sums, the test's time)."""
    params = dataclasses.replace(Config().harm, min_policy_s=20.0, excess_budget_s=0.0, margin=0.0, margin_s=0.0)
    core, state, _, _ = _ring_core(params, 30)
    records = [s.harm for s in state.junctions.values()]  # type: ignore[attr-defined]
    kept = core._replay_cache.tests
    assert isinstance(kept, harm._TestArrays) and all(a is b for a, b in zip(kept.states, records, strict=True))
    rng = random.Random(4)
    for _ in range(40):
        states = _varied(records, rng)
        for got in (harm._TestArrays.of(states, kept), harm._TestArrays.read(states)):
            for k, s in enumerate(states):
                assert got.judgeable[k] == (s.mode == "policy" and s.commanded), k
                assert got.spilt[k] == (s.approach is not None and s.approach_storage_pcu is not None), k
                row = (s.excess_t_s, s.excess_s, *s.spill_pcu_s, *s.trim_pcu_s)
                same(tuple(got.values[:, k].tolist()), tuple(float(x) for x in row), f"{k}")


@pytest.mark.parametrize("name", ["shipped", "queue_bound"])
def test_observe_all_reading_the_kept_tests_gives_the_former_records(name: str) -> None:
    """observe_all given the last tick's records back with some replaced (harm._TestArrays.of: the kept
    arrays where the state is the record kept, the state's own fields elsewhere) gives the former code's
    records, to the bit, and keeps its new tests' arrays with the records it returns (each the record's)."""
    params = dataclasses.replace(
        Config().harm, min_policy_s=20.0, excess_budget_s=0.0, margin=0.0, margin_s=0.0, **KEYS[name]
    )
    rng = random.Random(9)
    for seconds in (12, 25):
        core, state, ests, statuses = _ring_core(params, seconds)
        records = [s.harm for s in state.junctions.values()]  # type: ignore[attr-defined]
        for variant in range(12):
            states = _varied(records, rng)  # type: ignore[arg-type]
            if variant == 0:  # a test whose trim is -0.0 beside one with a trim: -0.0 kept where nothing is trimmed
                states[0] = dataclasses.replace(states[0], trim_pcu_s=(-0.0, 0.0))  # type: ignore[arg-type]
                states[1] = dataclasses.replace(states[1], trim_pcu_s=(1.0, 2.0))  # type: ignore[arg-type]
            cache = copy.copy(core._replay_cache)  # observe_all replaces what it keeps: each variant from the tick's
            args = (core.shadow_net, states, ests, statuses, seconds + 1.0, params)
            new = harm.observe_all(*args, cache=cache, judged=[True] * len(states))  # type: ignore[arg-type]
            ref = reference_observe_all(*args, judged=[True] * len(states))  # type: ignore[arg-type]
            where = f"{name} {seconds} s variant {variant}"
            for j, (a, b) in enumerate(zip(ref, new, strict=True)):
                same_state(a, b, f"{where} junction {j}")
            kept = cache.tests
            assert isinstance(kept, harm._TestArrays) and all(a is b for a, b in zip(kept.states, new, strict=True))
            for k, s in enumerate(new):
                row = (s.excess_t_s, s.excess_s, *s.spill_pcu_s, *s.trim_pcu_s)
                same(tuple(kept.values[:, k].tolist()), tuple(float(x) for x in row), f"{where} kept {k}")


def test_observe_all_reads_the_tests_its_cache_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """observe_all hands _TestArrays.of the arrays its cache kept at the last tick (ReplayCache.tests), the
    same object: lost (None), every tick would read every state's fields again, and nothing else would tell."""
    params = dataclasses.replace(Config().harm, min_policy_s=20.0, excess_budget_s=0.0, margin=0.0, margin_s=0.0)
    core, state, ests, statuses = _ring_core(params, 12)
    records = [s.harm for s in state.junctions.values()]  # type: ignore[attr-defined]
    cache = copy.copy(core._replay_cache)
    kept = cache.tests
    assert isinstance(kept, harm._TestArrays)
    seen: list[object] = []
    of = harm._TestArrays.of
    monkeypatch.setattr(harm._TestArrays, "of", staticmethod(lambda states, k: seen.append(k) or of(states, k)))
    args = (core.shadow_net, records, ests, statuses, 13.0, params)
    harm.observe_all(*args, cache=cache, judged=[True] * len(records))  # type: ignore[arg-type]
    assert len(seen) == 1 and seen[0] is kept

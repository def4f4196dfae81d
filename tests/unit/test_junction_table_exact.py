"""operators.junction_table (the heartbeat's junction table, every junction, every heartbeat_s) reads
Core.shown_modes and the lean Estimate.faulty_detectors: its rows equal, to the bit, those of the
former code kept here (Core.report's full reports, the detectors' ids by np.flatnonzero), on the
city's junctions and a short-link pair under every mode a row shows: the policy's, fixed (with its
reason), held on the city's plan by its pair, failed, manual, fallback (a stale feed, no status yet,
the roadside's local plan), refused; with faulty loops and queues standing."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from controller.config import Config
from controller.core.estimation import Layout
from controller.core.override import Override
from controller.core.policies import make_policy
from controller.core.step import Core, CoreState
from controller.junctions import load_intersections
from controller.model import DetectorReading, Intersection, PhaseWish, SignalStatus, Snapshot
from controller.operators import _mode, junction_table
from tests.estimate_fixtures import short_link_layouts
from tests.junction_fixtures import timed_junction

ROOT = Path(__file__).resolve().parents[2]
JUNCTIONS = {
    **load_intersections(ROOT / "intersections" / "city"),
    "A": timed_junction("A", paired=("B",)),  # a pair on one cycle: one short-link group
    "B": timed_junction("B", paired=("A",)),
}


def _former_table(core: Core, state: CoreState, desk: Any, refused: Any, now_s: float, failed: Any = None) -> dict:
    """operators.junction_table as it was before Core.shown_modes (main 4c518c4), its faults read
    as Estimate.faulty_detectors read them then."""
    out: dict[str, dict[str, Any]] = {}
    active = desk.active if desk is not None else {}
    reports = core.report(state)
    for jid, lay in core.layouts.items():
        js = state.junctions[jid]
        est, st, ov = js.estimate, js.status, active.get(jid)
        report = reports.get(jid)
        mode, why = _mode(core, js, ov, report, now_s)
        if failed and jid in failed and mode != "manual":
            mode, why = "failed", failed[jid]
        faults = list(st.faults) if st is not None else []
        ids = list(lay.det_index)
        faults += [f"detector {d} faulty" for d in tuple(ids[i] for i in np.flatnonzero(est.health.faulty))]
        out[jid] = {
            "mode": mode,
            "why": why,
            "override": None
            if ov is None
            else {"operator": ov.operator, "action": ov.action, "until": ov.until_s, "plan_id": ov.plan_id},
            "plan_sent": js.command.plan_id if js.command is not None else None,
            "roadside_mode": st.mode if st is not None else None,
            "plan": st.plan_id if st is not None else None,
            "phase": st.phase if st is not None else None,
            "in_intergreen": st.in_intergreen if st is not None else None,
            "time_in_phase_s": round(st.time_in_phase_s + max(0.0, now_s - st.t_s), 1) if st is not None else None,
            "queue_pcu": round(float(est.queue_pcu.sum()), 1),
            "delay_s_pcu": _finite(report.delay_controlled_s) if report is not None else None,
            "faults": faults,
            "feed_age_s": round(now_s - est.last_feed_t_s, 1) if est.last_feed_t_s is not None else None,
            "status_age_s": round(now_s - st.t_s, 1) if st is not None else None,
        }
    for jid, why in refused.items():
        out[jid] = {"mode": "refused", "why": why}
    return out


def _finite(x: float) -> float | None:
    return round(x, 1) if math.isfinite(x) else None


def _snapshot(jid: str, detectors: list[str], t: int, k: int) -> Snapshot:
    on = (t + k) % 3 != 0
    if k % 4 == 1:  # a loop never heard: marked faulty after a while
        detectors = detectors[1:]
    return Snapshot(
        jid,
        float(t),
        1.0,
        tuple(
            DetectorReading(d, (("car", 1 + (i + k) % 3),) if on else (), 0.4 if on else 0.0, 4.0 if on else -1.0)
            for i, d in enumerate(detectors)
        ),
    )


def _status(jid: str, phases: int, t: int, k: int) -> SignalStatus:
    at = (t + 5 * k) % (11 * phases)
    mode = "local" if k % 7 == 3 else "adaptive"  # the roadside's own plan at some
    faults = ("lamp 3 out",) if k % 6 == 2 else ()
    return SignalStatus(jid, float(t) - (k % 3), at // 11, at % 11 == 10, float(at % 11), "p", 0, mode, faults=faults)


def _states(
    policy: str, cfg: Config | None = None, junctions: dict[str, Intersection] = JUNCTIONS
) -> list[tuple[Core, CoreState, float]]:
    cfg = cfg or Config()
    core = Core({j: Layout.build(x, cfg) for j, x in junctions.items()}, make_policy(policy, cfg), cfg)
    assert core.groups  # A and B held together
    state, out = core.initial_state(0.0), []
    jids = list(junctions)
    for t in range(1, 91):
        snaps = [
            _snapshot(j, [d.id for d in x.detectors], t, k)
            for k, (j, x) in enumerate(junctions.items())
            if not (k % 5 == 4 and t > 50)  # stale from 50 s at some
        ]
        statuses = [_status(j, len(x.phases), t, k) for k, (j, x) in enumerate(junctions.items()) if k % 9 != 8]
        state, _ = core.step(state, snaps, statuses, float(t))
        if t in (30, 60):  # do no harm's fixed mode at a few, A among them (B then held with it)
            fixed = {j: state.junctions[j] for j in (jids[2], jids[11], "A")}
            state = replace(
                state,
                junctions={
                    **state.junctions,
                    **{
                        j: replace(js, harm=replace(js.harm, mode="fixed", reason=f"worse at {t}"))
                        for j, js in fixed.items()
                    },
                },
            )
        if t % 10 == 0 or t > 85:
            out.append((core, state, float(t) + 0.4))
    return out


@pytest.mark.parametrize("policy", ["adaptive", "webster"])
def test_the_table_equals_the_former_codes_to_the_bit(policy: str) -> None:
    jids = list(JUNCTIONS)
    ov = Override(jids[5], "alice", "hold", "r1", 10.0, 400.0, PhaseWish(1, 30.0))
    desk = SimpleNamespace(active={ov.junction: ov})
    failed = {jids[7]: "policy x failed: ValueError at y.py:1: injected", jids[5]: "also failed"}
    refused = {"Z9": "no cycle"}
    shown = set()
    faulty = 0
    for core, state, now_s in _states(policy):
        for args in ((None, {}, None), (desk, refused, failed)):
            got = junction_table(core, state, args[0], args[1], now_s, args[2])
            want = _former_table(core, state, args[0], args[1], now_s, args[2])
            assert json.dumps(got) == json.dumps(want)  # the bytes the table's pages carry
            assert got == want
            shown |= {(r["mode"], r["why"].split(" ")[0]) for r in got.values()}
            faulty += sum(any(f.startswith("detector") for f in r.get("faults", ())) for r in got.values())
    modes = {m for m, _ in shown}
    assert {"adaptive", "fixed", "failed", "manual", "fallback", "refused"} <= modes, shown
    assert ("fixed", "held") in shown and ("fixed", "worse") in shown  # held by its pair, and its own
    assert faulty > 0


def test_shown_modes_are_the_reports_mode_reason_and_controlled_delay() -> None:
    delays = set()
    for core, state, _ in _states("adaptive"):
        full, lean = core.report(state), core.shown_modes(state)
        assert list(full) == list(lean)
        for jid, r in full.items():
            got = lean[jid]
            assert (got.mode, got.reason) == (r.mode, r.reason)
            assert np.float64(got.delay_controlled_s).tobytes() == np.float64(r.delay_controlled_s).tobytes()
            delays.add(round(r.delay_controlled_s, 3))
    assert len(delays) > 10  # the delays differ between junctions and ticks: a wrong one would show


def test_a_group_on_trial_of_the_plan_shows_as_the_report_says() -> None:
    """[harm] group_trial: the lights of a group the city's plan runs show fixed with the trial's reason
    (Core.report's), the other groups' and lights' rows as they were."""
    from controller.core import grouptrial

    cfg = Config()
    cfg = replace(cfg, harm=replace(cfg.harm, group_trial=True))
    # J and K on a short link, one cycle: one group (the city's lights are no one's neighbours)
    junctions = {**JUNCTIONS, **{j: lay.junction for j, lay in short_link_layouts().items()}}
    core, state, now_s = _states("adaptive", cfg, junctions)[-1]
    assert len(core.trial_groups) == 1
    g = core.trial_groups[0]
    before = junction_table(core, state, None, {}, now_s)
    on_plan = replace(grouptrial.start(g, 0.0, 3.0), running="plan", why="trial: the plan crossed 12 % more")
    state = replace(state, trials={g.name: on_plan})
    got = junction_table(core, state, None, {}, now_s)
    assert json.dumps(got) == json.dumps(_former_table(core, state, None, {}, now_s))
    assert {got[j]["mode"] for j in g.lights} == {"fixed"} and {got[j]["why"] for j in g.lights} == {on_plan.why}
    assert {j: r for j, r in got.items() if j not in g.lights} == {j: r for j, r in before.items() if j not in g.lights}
    assert any(before[j]["why"] != on_plan.why for j in g.lights)

"""The do-no-harm estimate (controller/core/shadow.py) against SUMO's truth, per junction.

    python -m sim.harm_check SUMOCFG --out DIR [--policy NAME] [--config config.toml]
                             [--force-fixed J1,J2 [--force-fixed-from S]] [--fixed-until S] [--against OTHER_DIR]
                             [--trace-s N]
                             [--trace-junction J1,J2]
                             [-- SUMO ARGS...]

One `simulate` run (sim/simulate.py, in process) that also reads, every second, the core's replay
(both sides' virtual queues, PCU) and SUMO's truth on each junction's approach lanes (the lanes of
its movements): halting vehicles (< 0.1 m/s) and time loss (vehicles x (1 - v/v_max)). Their
integrals over the run go to DIR/harm_check.json with the core's per-junction report and every
switch of mode. `--force-fixed` puts junctions in fixed mode for the whole run (the counterfactual
the switch acts on); with `--force-fixed-from S` from the simulation's second S on (a hand-back at
a set time, held). `--fixed-until S` starts the policy over the city's running program: every
junction in fixed mode until S, the simulation's clock (absolute: a scenario that begins
at 25,200 s takes 25,500 for 300 s in), then back to the policy as after a hand-back (a junction's first
return), and the integrals from S on (a fixed run to compare with takes the same S). `--against`
compares with a run of the fixed plan (its DIR): per junction the replay's gain and the truth's
(time loss and halting of the two runs), and the network's trip delay from both summaries; then
each side of the replay over its own truth (replayed PCU s over SUMO's time loss veh s: the fixed
side's truth is the fixed run's, and the fixed run's own ratio is the model's scale), which names
the side the replay gets wrong. `--trace-s N` prints every N s, per junction, the exit blockage
measured and the fixed side's, the fill of the neighbours' approaches on both sides and the two
replayed queues (docs/harm.md §1a); `--trace-junction` adds, for the junctions named, one line per
approach: its storage, the two replayed queues, the estimator's queue (and of it the hidden queue
beyond the advance loops, each lane once) and the blockage, the cumulative sum and the window's
delays, and SUMO's halting vehicles on the approach and on the two links before it (where a queue
beyond the storage stands), and a second line of SUMO's ground truth of its demand: per approach
over the last N s, the vehicles inserted with the approach edge on their route and those entering
the edge (veh/h), the vehicles in the network with it still ahead, then the replay's demand and the
return rule's reference (PCU/h) and SUMO's insertion backlog (whether a measured fall of the demand
is a fall of the traffic or a jam's throttled counts).
`--per-approach` adds, per junction and approach (its from edge), the integrals of the two replayed
queues and of the estimator's queue (PCU s), SUMO's halting vehicles and time loss on the approach's
lanes, that time loss split into vehicles standing (< 0.1 m/s) and moving (the crawl), and at the end
the controlled side's cumulative discharge against the PCU its stop-line loops counted
(Estimate.departures_pcu); with `--against`, a line per approach of both runs (where a side's missing
delay is: the queue, the crawl, the discharge).
A measurement, not a test: docs/harm.md records its figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from controller.config import load_config
from controller.core import harm, netshadow, shadow
from controller.core.step import Core, CoreState, JunctionState
from controller.model import Intersection
from sim.simulate import InProcessLoop, SimulateRequest, run


def _harm(js: JunctionState, jid: str) -> harm.HarmState:
    """A junction's do-no-harm state: harm_check runs with [harm] on, so every junction has one."""
    if js.harm is None:
        raise RuntimeError(f"harm_check: junction {jid} has no do-no-harm state ([harm] off?)")
    return js.harm


# per junction, per approach (its from edge), the integrals of --per-approach
Approaches = dict[str, dict[str, dict[str, float]]]


class _Loop(InProcessLoop):
    """The in-process loop, plus the per-second integrals of the replay and of SUMO's lanes."""

    force_fixed: tuple[str, ...] = ()
    force_from_s: float = 0.0  # the force_fixed junctions held from then on (the simulation's clock); 0: all run
    fixed_until_s: float = 0.0  # every junction on the city's program until then, the integrals from then on
    trace_s: int = 0  # print the spill-back figures every this many seconds (0: never)
    trace_junctions: tuple[str, ...] = ()  # ... and these junctions' approaches, one line each
    per_approach: bool = False  # integrals per approach too (_Approaches)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # InProcessLoop's, as a LoopFactory is called
        super().__init__(*args, **kwargs)
        api = self.field.api
        self.lanes = {
            jid: sorted({lane for m in j.movements for lane in m.lanes}) for jid, j in self.field.junctions.items()
        }
        self.vmax = {lane: api.lane.getMaxSpeed(lane) for ls in self.lanes.values() for lane in ls}
        self.sums = {
            jid: dict.fromkeys(
                ("replay_fixed_pcu_s", "replay_controlled_pcu_s", "halting_veh_s", "time_loss_veh_s"), 0.0
            )
            for jid in self.lanes
        }
        self.changes: list[dict[str, str | float]] = []
        self.feeders = _feeders(api, self.field.junctions, self.trace_junctions) if self.trace_junctions else {}
        # ground truth of each traced approach's demand (diagnosis only, never the controller's):
        # vehicles inserted whose route takes the approach edge, and vehicles entering the edge
        self.edges = {e for per in self.feeders.values() for e in per}
        self.inserted = dict.fromkeys(self.edges, 0)
        self.entered = dict.fromkeys(self.edges, 0)
        self.on_edge: dict[str, set[str]] = {e: set() for e in self.edges}
        self.approaches = _Approaches(self.service.core) if self.per_approach else None
        forced_now = set(self.force_fixed) if self.force_from_s <= 0 else set()
        held = forced_now | (set(self.lanes) if self.fixed_until_s > 0 else set())
        self._hold(held, float("inf"))
        self.released = self.fixed_until_s <= 0
        self.forced = self.force_from_s <= 0

    def _hold(self, jids: set[str], hold_s: float) -> None:
        """The junctions `jids` in fixed mode (since now) for `hold_s` (inf: all run)."""
        st = self.service.state
        for jid in sorted(jids):
            js = st.junctions[jid]
            hs = replace(_harm(js, jid), mode="fixed", hold_s=hold_s, since_s=self.now_s)
            st = replace(st, junctions={**st.junctions, jid: replace(js, harm=hs)})
        self.service.state = st

    def second(self, t_s: float) -> None:
        super().second(t_s)
        api = self.field.api
        if not self.forced and t_s >= self.force_from_s:  # as a verdict would, at that second, for good
            self._hold(set(self.force_fixed), float("inf"))
            self.forced = True
        if not self.released:
            if t_s < self.fixed_until_s:
                return
            # the hold over: each junction not forced goes back to the policy at its next tick
            # (harm.decide: a first loss's return), as after a hand-back
            st = self.service.state
            free = set(self.lanes) - set(self.force_fixed)
            self.service.state = replace(
                st,
                junctions={
                    **st.junctions,
                    **{j: replace(st.junctions[j], harm=replace(_harm(st.junctions[j], j), hold_s=0.0)) for j in free},
                },
            )
            self.released = True
        if self.edges:
            self._count_truth(api)
        if self.trace_s and int(t_s) % self.trace_s == 0:
            print(f"t={t_s:.0f} {spill_trace(self.service.core, self.service.state)}", file=sys.stderr, flush=True)
            for jid in self.trace_junctions:
                line = approach_trace(self.service.core, self.service.state, jid)
                truth = " ".join(
                    f"{e}:{sum(api.lane.getLastStepHaltingNumber(x) for x in own)}"
                    f"+{sum(api.lane.getLastStepHaltingNumber(x) for x in up)}"
                    for e, (own, up) in self.feeders[jid].items()
                )
                print(f"t={t_s:.0f} {line} | SUMO halting on / before: {truth}", file=sys.stderr)
                print(f"t={t_s:.0f} {jid} truth {self._truth_line(api, jid)}", file=sys.stderr)
            if self.edges:
                self.inserted = dict.fromkeys(self.edges, 0)
                self.entered = dict.fromkeys(self.edges, 0)
        for c in self.service.last_result.mode_changes:
            self.changes.append({"junction": c.junction, "t_s": c.t_s, "mode": c.mode, "reason": c.reason})
        if self.approaches is not None:
            self.approaches.second(api, self.service.state, self.vmax)
        for jid, js in self.service.state.junctions.items():
            acc, rp = self.sums[jid], _harm(js, jid).replay
            acc["replay_fixed_pcu_s"] += float(rp.fixed.queue_pcu.sum())
            acc["replay_controlled_pcu_s"] += float(rp.controlled.queue_pcu.sum())
            for lane in self.lanes[jid]:
                acc["halting_veh_s"] += api.lane.getLastStepHaltingNumber(lane)
                n = api.lane.getLastStepVehicleNumber(lane)
                if n:
                    acc["time_loss_veh_s"] += n * max(0.0, 1.0 - api.lane.getLastStepMeanSpeed(lane) / self.vmax[lane])

    def _count_truth(self, api: ModuleType) -> None:
        """Per traced approach edge, this second: vehicles inserted with the edge on their route,
        and vehicles new on the edge (SUMO's ground truth, for diagnosis)."""
        for vid in api.simulation.getDepartedIDList():
            for e in set(api.vehicle.getRoute(vid)) & self.edges:
                self.inserted[e] += 1
        for e in self.edges:
            now = set(api.edge.getLastStepVehicleIDs(e))
            self.entered[e] += len(now - self.on_edge[e])
            self.on_edge[e] = now

    def _truth_line(self, api: ModuleType, jid: str) -> str:
        """Per approach of jid over the last trace interval, in veh/h: inserted with the edge on
        their route / entering the edge; then vehicles in the network with the edge still ahead,
        the harm state's demand now and at its reference (PCU/h), and SUMO's insertion backlog."""
        ahead = dict.fromkeys(self.feeders[jid], 0)
        for vid in api.vehicle.getIDList():
            route, i = api.vehicle.getRoute(vid), api.vehicle.getRouteIndex(vid)
            for e in set(route[i + 1 :]) & ahead.keys():
                ahead[e] += 1
        per_h = 3600.0 / self.trace_s
        parts = " ".join(
            f"{e}:{self.inserted[e] * per_h:.0f}/{self.entered[e] * per_h:.0f} ahead {ahead[e]}" for e in ahead
        )
        hs = _harm(self.service.state.junctions[jid], jid)
        return (
            f"{parts} | demand {hs.replay.demand_pcu_h:.0f} ref {hs.demand_ref_pcu_h:.0f} PCU/h "
            f"| pending {len(api.simulation.getPendingVehicles())}"
        )

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        core, st = self.service.core, self.service.state
        out["harm_check"] = {
            "junctions": {jid: {**self.sums[jid], **asdict(r)} for jid, r in core.report(st).items()},
            "changes": self.changes,
        }
        if self.approaches is not None:
            out["harm_check"]["per_approach"] = self.approaches.result(self.service.state)
        out["harm_check"]["blocked_ratio"] = blocked_ratios(st, core.harm.blocked_fit)
        out["harm_check"]["blocked_ratio_raw"] = blocked_ratios(st, core.harm.blocked_fit, raw=True)
        out["harm_check"]["blocked_fit"] = blocked_fits(st)
        return out


def blocked_ratios(state: CoreState, bounds: shadow.BlockedFit | None, raw: bool = False) -> dict[str, list[float]]:
    """[harm] blocked_discharge: per junction, the beta (shadow.blocked_ratio) of each movement the
    loops have taught (a blocked queued protected green seen); with `raw` the fit's own estimate
    (no evidence needed, no upper bound; still at least 0): what the prior held back. Empty lists with the key off."""
    if bounds is not None and raw:
        bounds = shadow.BlockedFit(0.0, 0.0, float("inf"), bounds.share_max)
    out: dict[str, list[float]] = {}
    for jid, js in state.junctions.items():
        fit = _harm(js, jid).replay.blocked_fit
        beta = shadow.blocked_ratio(fit, bounds)
        taught = None if fit is None else fit[shadow.FIT_BLOCKED_S] > 0
        out[jid] = [] if beta is None or taught is None else [round(float(b), 3) for b in beta[taught]]
    return out


def blocked_fits(state: CoreState) -> dict[str, list[list[float]]]:
    """[harm] blocked_discharge: per junction and movement taught, the fit's a (the street's unblocked
    discharge over the model's), its own beta, beta's standard error and the seconds of blockage read
    (shadow.blocked_fit_terms)."""
    out: dict[str, list[list[float]]] = {}
    for jid, js in state.junctions.items():
        fit = _harm(js, jid).replay.blocked_fit
        if fit is None:
            continue
        a, beta, se = shadow.blocked_fit_terms(fit)
        taught = fit[shadow.FIT_BLOCKED_S] > 0
        rows = zip(a[taught], beta[taught], se[taught], fit[shadow.FIT_BLOCKED_S][taught])
        out[jid] = [[round(float(v), 3) for v in row] for row in rows]
    return out


class _Approaches:
    """Per junction and approach (its movements from one edge), the per-second integrals of
    --per-approach: the replay's two queues and the estimator's queue (PCU s), SUMO's halting
    vehicles and time loss on the approach's lanes, the time loss of vehicles standing (< 0.1 m/s)
    and moving (veh s); and at the end the controlled side's cumulative discharge (the PCU that
    reached its stop line, fed less in transit, less its queue) and the stop-line loops' count."""

    KEYS = ("replay_controlled_pcu_s", "replay_fixed_pcu_s", "estimate_pcu_s", "halting_veh_s", "time_loss_veh_s")

    def __init__(self, core: Core) -> None:
        self.index: dict[str, tuple[np.ndarray, list[str], dict[str, list[str]]]] = {}
        for jid, lay in core.layouts.items():
            approach, _ = shadow.approaches(lay)
            edges = list(dict.fromkeys(m.from_edge for m in lay.junction.movements))
            lanes = {e: sorted({x for m in lay.junction.movements if m.from_edge == e for x in m.lanes}) for e in edges}
            self.index[jid] = (approach, edges, lanes)
        self.sums = {
            jid: {e: dict.fromkeys((*self.KEYS, "standing_loss_veh_s", "moving_loss_veh_s"), 0.0) for e in ix[1]}
            for jid, ix in self.index.items()
        }

    def second(self, api: ModuleType, state: CoreState, vmax: dict[str, float]) -> None:
        for jid, (approach, edges, lanes) in self.index.items():
            js = state.junctions[jid]
            q, est = _harm(js, jid).replay.sides.queue_pcu, js.estimate.queue_pcu
            for a, e in enumerate(edges):
                m, acc = approach == a, self.sums[jid][e]
                acc["replay_controlled_pcu_s"] += float(q[shadow.CONTROLLED][m].sum())
                acc["replay_fixed_pcu_s"] += float(q[shadow.FIXED][m].sum())
                acc["estimate_pcu_s"] += float(est[m].sum())
                for lane in lanes[e]:
                    acc["halting_veh_s"] += api.lane.getLastStepHaltingNumber(lane)
                    for vid in api.lane.getLastStepVehicleIDs(lane):
                        v = api.vehicle.getSpeed(vid)
                        loss = max(0.0, 1.0 - v / vmax[lane])
                        acc["time_loss_veh_s"] += loss
                        acc["standing_loss_veh_s" if v < 0.1 else "moving_loss_veh_s"] += loss

    def result(self, state: CoreState) -> Approaches:
        out: Approaches = {}
        for jid, (approach, edges, _) in self.index.items():
            js = state.junctions[jid]
            rp = _harm(js, jid).replay
            reached = rp.fed_pcu - rp.pending_pcu.sum(axis=0)
            served = reached - rp.sides.queue_pcu[shadow.CONTROLLED]
            out[jid] = {
                e: {
                    **self.sums[jid][e],
                    "served_controlled_pcu": float(served[approach == a].sum()),
                    "stop_line_pcu": float(js.estimate.departures_pcu[approach == a].sum()),
                }
                for a, e in enumerate(edges)
            }
        return out


def spill_trace(core: Core, state: CoreState) -> str:
    """Per junction, means over its movements: the measured exit blockage / the fixed side's
    (netshadow.fixed_block), the fill of the approaches they feed under the policy / the fixed
    plan, and the two replayed queues (PCU, controlled / fixed)."""
    net = core.shadow_net
    if net.spill is None:
        return "(spill_back off)"
    jids = list(core.layouts)
    q = np.concatenate([_harm(state.junctions[j], j).replay.sides.queue_pcu for j in jids], axis=1)
    block = measured_block(core, state, jids)
    fixed_block = fixed_side_block(core, state, q, block)
    fills = [netshadow.fills(net.spill, q[side], len(block)) for side in (shadow.CONTROLLED, shadow.FIXED)]
    parts = []
    for k, j in enumerate(jids):
        m = slice(net.mov_start[k], net.mov_start[k + 1])
        parts.append(
            f"{j}: block {block[m].mean():.2f}/{fixed_block[m].mean():.2f} fill {fills[0][m].mean():.2f}/"
            f"{fills[1][m].mean():.2f} q {q[shadow.CONTROLLED][m].sum():.0f}/{q[shadow.FIXED][m].sum():.0f}"
        )
    return " | ".join(parts)


def measured_block(core: Core, state: CoreState, jids: list[str]) -> np.ndarray:
    """(movements,) the measured exit blockage the replay discharges with: Estimate.block, or with [harm]
    block_now the last second's (Estimate.block_now)."""
    name = "block_now" if core.harm.block_now else "block"
    return np.concatenate([getattr(state.junctions[j].estimate, name) for j in jids])


def fixed_side_block(core: Core, state: CoreState, q: np.ndarray, block: np.ndarray) -> np.ndarray:
    """(movements,) the fixed side's exit blockage as netshadow.advance_all gives it (from the
    last tick's queues `q` and the measured blockage `block`): spill_back's rule, and with [harm]
    plan_block the blockage measured under the city's program as far as there is evidence."""
    net = core.shadow_net
    out = netshadow.fixed_block(net.spill, q, block) if net.spill is not None else block
    if core.harm.plan_block:
        plan = harm.plan_blocks([_harm(state.junctions[j], j) for j in core.layouts], core.block_window_s)
        out = out if plan is None else netshadow.plan_block(plan[0], plan[1], out)
    return out


def _feeders(
    api: ModuleType, junctions: Mapping[str, Intersection], jids: tuple[str, ...]
) -> dict[str, dict[str, tuple[list[str], list[str]]]]:
    """Per traced junction and approach edge: its lanes, and the lanes two links upstream of them
    (the links before the approach, where a queue beyond its storage stands)."""
    into: dict[str, set[str]] = {}
    for lane in api.lane.getIDList():
        if not lane.startswith(":"):
            for link in api.lane.getLinks(lane):
                into.setdefault(link[0], set()).add(lane)
    out = {}
    for jid in jids:
        per: dict[str, tuple[list[str], list[str]]] = {}
        for m in junctions[jid].movements:
            own = {f"{m.from_edge}_{k}" for k in range(api.edge.getLaneNumber(m.from_edge))}
            up1: set[str] = set().union(*(into.get(x, set()) for x in own)) - own
            up2: set[str] = set().union(*(into.get(x, set()) for x in up1)) - own - up1
            per[m.from_edge] = (sorted(own), sorted(up1 | up2))
        out[jid] = per
    return out


def approach_trace(core: Core, state: CoreState, jid: str) -> str:
    """One junction, per approach (its from edge): storage (PCU), the replayed queue controlled /
    fixed (PCU), the estimator's queue and its hidden part (PCU), the measured exit blockage / the
    fixed side's (means over its movements); then the cumulative sum (s/PCU), the window's delays
    with the spill charge (controlled / fixed, s/PCU) and the mode."""
    net, jids = core.shadow_net, list(core.layouts)
    q = np.concatenate([_harm(state.junctions[j], j).replay.sides.queue_pcu for j in jids], axis=1)
    block = measured_block(core, state, jids)
    fb = fixed_side_block(core, state, q, block)
    k = jids.index(jid)
    m = slice(net.mov_start[k], net.mov_start[k + 1])
    hs = _harm(state.junctions[jid], jid)
    lay = core.layouts[jid]
    approach, storage = shadow.approaches(lay)
    edges = list(dict.fromkeys(mv.from_edge for mv in lay.junction.movements))
    qc, qf, b, f = q[shadow.CONTROLLED][m], q[shadow.FIXED][m], block[m], fb[m]
    qe = state.junctions[jid].estimate.queue_pcu
    on = lay.lane_share > 0  # the estimator's hidden queue per approach, each lane once
    lane_approach = np.where(on.any(axis=0), approach[np.argmax(on, axis=0)], -1)
    hidden = state.junctions[jid].estimate.lanes.hidden_pcu
    parts = [
        f"{e}:{storage[a]:.0f} q {qc[approach == a].sum():.1f}/{qf[approach == a].sum():.1f} "
        f"est {qe[approach == a].sum():.1f} hidden {hidden[lane_approach == a].sum():.1f} "
        f"b {b[approach == a].mean():.2f}/{f[approach == a].mean():.2f}"
        for a, e in enumerate(edges)
    ]
    d_f, d_c = harm.window_delays_s(hs)
    return f"{jid} S {hs.excess_s:.2f} win {d_c:.1f}/{d_f:.1f} {hs.mode} | " + " | ".join(parts)


# per junction, the integrals harm_check.json keeps (the _Loop's sums, the report's figures)
Sums = Mapping[str, Mapping[str, float]]


def _ratio(x: float, y: float) -> float:
    return x / y if y > 0 else float("nan")


def _gain(x: float, y: float) -> float:
    return 1.0 - x / y if y > 0 else float("nan")


def _total(sums: Sums, key: str) -> float:
    return sum(v[key] for v in sums.values())


def compare(run_dir: Path, fixed_dir: Path) -> list[str]:
    """Per junction and for the network: the replay's gain and SUMO's, a run against a fixed one;
    then each side of the replay against its own truth (side_ratios)."""
    a, f = (json.loads((d / "summary.json").read_text()) for d in (run_dir, fixed_dir))
    ja, jf = a["harm_check"]["junctions"], f["harm_check"]["junctions"]
    gain, tot = _gain, _total
    lines = [f"{'junction':10s} {'replay':>7s} {'timeloss':>8s} {'halting':>8s}"]
    errors = []
    for jid in sorted(ja):
        x, y = ja[jid], jf[jid]
        g = (
            gain(x["replay_controlled_pcu_s"], x["replay_fixed_pcu_s"]),
            gain(x["time_loss_veh_s"], y["time_loss_veh_s"]),
            gain(x["halting_veh_s"], y["halting_veh_s"]),
        )
        errors.append(g[0] - g[1])
        lines.append(f"{jid:10s} {g[0]:+7.2f} {g[1]:+8.2f} {g[2]:+8.2f}")
    lines.append(
        f"{'network':10s} {gain(tot(ja, 'replay_controlled_pcu_s'), tot(ja, 'replay_fixed_pcu_s')):+7.2f} "
        f"{gain(tot(ja, 'time_loss_veh_s'), tot(jf, 'time_loss_veh_s')):+8.2f} "
        f"{gain(tot(ja, 'halting_veh_s'), tot(jf, 'halting_veh_s')):+8.2f}   trip delay "
        f"{a['delay_s']:.1f} vs {f['delay_s']:.1f} s/veh: {gain(a['delay_s'], f['delay_s']):+.2f}"
    )
    lines.append(
        f"replay - time loss per junction: mean {statistics.mean(errors):+.3f}, "
        f"MAE {statistics.mean(map(abs, errors)):.3f}, worst {max(map(abs, errors)):.3f}"
    )
    lines += side_ratios(ja, jf)
    pa, pf = a["harm_check"].get("per_approach"), f["harm_check"].get("per_approach")
    return lines + (approach_lines(pa, pf) if pa and pf else [])


def approach_lines(pa: Approaches, pf: Approaches) -> list[str]:
    """--per-approach of a policy run (`pa`) against a fixed run (`pf`), per junction and approach:
    the controlled side's replayed PCU s over SUMO's time loss (veh s) in each run (under fixed: the
    model's scale), the time loss of the policy run (standing / moving), the estimator's PCU s, and
    the controlled side's discharge against the stop-line count (PCU, policy run)."""
    ratio = _ratio
    lines = [
        f"{'junction':10s} {'approach':16s} {'scale':>5s} {'ctrl':>5s} {'loss':>7s} {'stand':>7s} {'move':>6s} "
        f"{'estimate':>8s} {'served':>6s} {'counted':>7s}"
    ]
    for jid in sorted(pa):
        for e, x in pa[jid].items():
            y = pf[jid][e]
            lines.append(
                f"{jid:10s} {e:16s} {ratio(y['replay_controlled_pcu_s'], y['time_loss_veh_s']):5.2f} "
                f"{ratio(x['replay_controlled_pcu_s'], x['time_loss_veh_s']):5.2f} {x['time_loss_veh_s']:7.0f} "
                f"{x['standing_loss_veh_s']:7.0f} {x['moving_loss_veh_s']:6.0f} {x['estimate_pcu_s']:8.0f} "
                f"{x['served_controlled_pcu']:6.0f} {x['stop_line_pcu']:7.0f}"
            )
    return lines


def side_ratios(ja: Sums, jf: Sums) -> list[str]:
    """Each side of the replay against its own truth, per junction: replayed queue PCU s over SUMO's
    time loss veh s on the approach lanes. `under fixed`: the fixed run's replay over its truth (both
    sides are the city's program there: the model's own scale); `fixed side`: the policy run's
    replay of the city's program over the fixed run's truth; `controlled`: the policy run's replay
    of its greens over its truth. A side whose ratio departs from `under fixed` is the side the
    replay gets wrong (the fixed side's truth is the fixed run's, under its own arrivals)."""
    ratio = _ratio
    head = f"{'junction':10s} {'under fixed':>11s} {'fixed side':>10s} {'controlled':>10s}"
    lines = [f"{head}   (replay PCU s / time loss veh s)"]
    rows = {jid: (ja[jid], jf[jid]) for jid in sorted(ja)}
    keys = ("replay_fixed_pcu_s", "replay_controlled_pcu_s", "time_loss_veh_s")
    rows["network"] = ({k: _total(ja, k) for k in keys}, {k: _total(jf, k) for k in keys})
    for jid, (x, y) in rows.items():
        lines.append(
            f"{jid:10s} {ratio(y['replay_controlled_pcu_s'], y['time_loss_veh_s']):11.2f} "
            f"{ratio(x['replay_fixed_pcu_s'], y['time_loss_veh_s']):10.2f} "
            f"{ratio(x['replay_controlled_pcu_s'], x['time_loss_veh_s']):10.2f}"
        )
    return lines


def get_options(argv: list[str]) -> argparse.Namespace:
    """The command line before `--` (the SUMO arguments after it are main's)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sumocfg", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--policy", default="adaptive")
    ap.add_argument("--config", default="config.toml")
    ap.add_argument("--force-fixed", default="", help="junctions held in fixed mode all run (comma-separated)")
    ap.add_argument(
        "--force-fixed-from",
        type=float,
        default=0.0,
        help="with --force-fixed: hold those junctions from S on (the simulation's clock, absolute), not all run",
    )
    ap.add_argument(
        "--fixed-until",
        type=float,
        default=0.0,
        help="every junction on the city's program until S (the simulation's clock, absolute), integrals from S",
    )
    ap.add_argument("--against", type=Path, help="a harm_check run of the fixed plan to compare with")
    ap.add_argument("--trace-s", type=int, default=0, help="print the spill-back figures every N s (stderr)")
    ap.add_argument("--per-approach", action="store_true", help="integrals per approach too (slower: per vehicle)")
    ap.add_argument(
        "--trace-junction", default="", help="with --trace-s: per approach of these junctions (comma-separated)"
    )
    return ap.parse_args(argv)


def loop_class(args: argparse.Namespace, base: type[_Loop] = _Loop) -> type[_Loop]:
    """`base` (the loop main runs) with the command line's forced, held and traced junctions set."""
    forced = tuple(j for j in args.force_fixed.split(",") if j)
    traced = tuple(j for j in args.trace_junction.split(",") if j)
    return type(
        "Loop",
        (base,),
        {
            "force_fixed": forced,
            "force_from_s": max(args.force_fixed_from, 0.0),
            "fixed_until_s": max(args.fixed_until, 0.0),
            "trace_s": max(args.trace_s, 0),
            "trace_junctions": traced,
            "per_approach": args.per_approach,
        },
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    sumo_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = get_options(argv[: argv.index("--")] if "--" in argv else argv)
    cfg = load_config(args.config)
    summary = run(
        SimulateRequest(args.sumocfg, args.out, args.policy, tuple(sumo_args)),
        cfg,
        loop_factory=loop_class(args),
        progress=lambda line: print(line, file=sys.stderr),
    )
    (args.out / "harm_check.json").write_text(json.dumps(summary["harm_check"], indent=1))
    for c in summary["harm_check"]["changes"]:
        print(f"{c['t_s']:.0f} {c['junction']} -> {c['mode']}: {c['reason']}")
    print(f"{args.policy}: trip delay {summary['delay_s']:.1f} s/veh")
    for key, what in (("blocked_ratio_raw", "the fit's own"), ("blocked_ratio", "as applied")):
        taught = {j: b for j, b in summary["harm_check"][key].items() if b}
        if taught:
            print(
                f"blocked discharge, beta of the movements taught ({what}): "
                + ", ".join(f"{j} {np.median(b):.2f} ({min(b):.2f}-{max(b):.2f}, {len(b)})" for j, b in taught.items())
            )
    if args.against:
        print("\n".join(compare(args.out, args.against)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

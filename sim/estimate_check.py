"""How well the estimated lane queues follow SUMO's truth, with fewer and fewer loops.

    python -m sim.estimate_check SUMOCFG [--end 900] [--detectors generated|city] [-- SUMO ARGS]

One SUMO run under the scenario's own signal programs: the estimate is passive, so the same
detector readings feed every layout at once. Layouts, from the imported junction models:
`full` (as imported), `stop` (advance loops removed), `advance` (stop-line loops removed),
`none` (no loop, but on one lane per junction). Errors are grouped by what loops a lane has
in the layout; a lane without loop by where its estimate comes from (`lane_kind`). Truth per junction
lane: SUMO's halting vehicles (< 0.1 m/s) on the lane and
on the lanes that alone feed it (its unambiguous upstream chain, sim/loops.py), up to three
advance distances upstream. Printed per layout and kind of lane: the mean true queue, the mean
absolute error and the mean bias of the lane queue (estimated PCU minus halting vehicles), over
every lane and second after the warm-up.
A measurement, not a test: docs/import.md records its figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from controller.config import load_config
from controller.core import estimation
from controller.core.feed import decode_detector_message
from controller.junctions import load_intersections
from controller.model import GREEN, Intersection, Snapshot
from sim import loops
from sim.field import SumoField, write_detector_file
from sim.netimport import import_network, read_net
from sim.passthrough import split_sumo_args
from sim.simulate import step_second, substeps_per_second
from sim.sumo import SumoConfig, load_api

if TYPE_CHECKING:  # sumolib has no type information: Net reads as Any, and names what is passed
    from sumolib.net import Net

# (layout, lane kind) -> per junction-second, its lanes' errors and true queues stacked (2, lanes)
Errors = dict[tuple[str, str], list[np.ndarray]]
# (layout, lane kind) -> mae_veh, bias_veh, truth_veh, samples, lanes
Summary = dict[tuple[str, str], dict[str, float]]
LAYOUTS = {"full": ("stop", "advance"), "stop": ("stop",), "advance": ("advance",), "none": ()}


def layouts(junctions: dict[str, Intersection]) -> dict[str, dict[str, Intersection]]:
    """The junction models with only the loops of each layout's kinds. `none` keeps the loops
    of the junction's first lane (a junction needs one loop to be estimated at all) and
    removes every other."""
    out: dict[str, dict[str, Intersection]] = {}
    for name, kinds in LAYOUTS.items():
        out[name] = {}
        for jid, j in junctions.items():
            first = j.movements[0].lanes[0]
            keep = tuple(d for d in j.detectors if d.kind in kinds or (not kinds and d.lane == first))
            out[name][jid] = replace(j, detectors=keep or j.detectors)
    return out


def lane_kind(layout: estimation.Layout) -> list[str]:
    """What loops each lane has: 'stop+advance', 'stop', 'advance', or none of its own:
    'none<-movement' (borrows from a lane of the same movement with a loop), 'none<-edge' (from
    a lane of the same approach edge), 'none' (nothing measured nearby: estimate 0)."""
    names = {(True, True): "stop+advance", (True, False): "stop", (False, True): "advance"}
    has = (layout.lane_stop >= 0) | (layout.lane_adv >= 0)
    out = []
    for li, (s, a) in enumerate(zip(layout.lane_stop, layout.lane_adv)):
        if has[li]:
            out.append(names[bool(s >= 0), bool(a >= 0)])
        elif (layout.lane_same_movement[li] & has).any():
            out.append("none<-movement")
        else:
            out.append("none<-edge" if (layout.lane_same_edge[li] & has).any() else "none")
    return out


def _phase_of(state: str, j: Intersection) -> int | None:
    if any(c in "yYu" for c in state):
        return None
    greens = frozenset(i for i, c in enumerate(state) if c in GREEN)
    return next((p.index for p in j.phases if p.green_links() == greens), None)


def measure(sumocfg: Path, end_s: float, detectors: str, warmup_s: float, sumo_args: tuple[str, ...]) -> Summary:
    cfg = load_config(Path(__file__).resolve().parent.parent / "config.toml")
    scfg = SumoConfig(sumocfg)
    work = Path(tempfile.mkdtemp(prefix="estimate_check_"))
    additional = scfg.files("additional-files")
    import_network(scfg.net_file, work / "j", cfg, additional, detectors)
    full = load_intersections(work / "j")
    variants = layouts(full)
    lays = {v: {jid: estimation.Layout.build(j, cfg) for jid, j in js.items()} for v, js in variants.items()}
    ests = {v: {jid: estimation.Estimate.empty(lay, 0.0) for jid, lay in ls.items()} for v, ls in lays.items()}
    chains = upstream_lanes(read_net(scfg.net_file), lays["full"], 3 * cfg.detectors.advance_dist_m)
    det = write_detector_file(full, work / "det.add.xml", cfg.detectors.loop_length_m)
    api = load_api(True)
    api.start(sumo_command(scfg, [*additional, det], end_s, sumo_args))
    kinds = {v: {jid: np.array(lane_kind(lay)) for jid, lay in ls.items()} for v, ls in lays.items()}
    err: Errors = {}
    try:
        keep_off = cfg.roadside.keep_off_through_intergreen
        field = SumoField(api, full, cfg.roadside.backup_s, keep_off_through_intergreen=keep_off)
        last: dict[str, float] = {}
        t = api.simulation.getTime()
        substeps = substeps_per_second(api, sumocfg)  # under 1 s: the loops aggregated per second, as simulate
        while t < end_s:
            t, _ = step_second(api, field, substeps)
            halting: dict[str, int] = {}  # lane -> SUMO's halting vehicles this second
            for jid, payload in field.detector_messages(t):
                snap = decode_detector_message(payload, full, last, t, cfg.security.clock_skew_s)
                last[jid] = t
                phase = _phase_of(api.trafficlight.getRedYellowGreenState(jid), full[jid])
                for v, js in variants.items():
                    keep = js[jid].detector_ids
                    sub = Snapshot(jid, snap.t_s, snap.period_s, tuple(r for r in snap.readings if r.detector in keep))
                    ests[v][jid] = estimation.update(lays[v][jid], ests[v][jid], sub, green_phase=phase)
                if t < warmup_s:
                    continue
                truth = np.array(
                    [
                        sum(halting.setdefault(ln, api.lane.getLastStepHaltingNumber(ln)) for ln in chains[jid][lane])
                        for lane in lays["full"][jid].lanes
                    ]
                )
                for v in variants:
                    add_errors(err, v, ests[v][jid], kinds[v][jid], truth)
    finally:
        api.close()
    return summary(err, kinds)


def upstream_lanes(net: Net, lays: dict[str, estimation.Layout], reach_m: float) -> dict[str, dict[str, list[str]]]:
    """Per junction and lane of its layout, the lane and those upstream of it within `reach_m`
    (loops.upstream_chain; only the lanes are read, so its fringe flag is moot): where SUMO's halting
    vehicles count as that lane's queue."""
    return {
        jid: {lane: [h.lane for h in loops.upstream_chain(net.getLane(lane), reach_m, False)] for lane in lay.lanes}
        for jid, lay in lays.items()
    }


def sumo_command(scfg: SumoConfig, additional: list[Path], end_s: float, sumo_args: tuple[str, ...]) -> list[str]:
    """The SUMO run of the check: the scenario with the loops added, no teleporting."""
    return [
        "sumo",
        "-c",
        str(scfg.path),
        "--additional-files",
        ",".join(map(str, additional)),
        "--end",
        str(end_s),
        "--no-step-log",
        "true",
        "--time-to-teleport",
        "-1",
        *sumo_args,
    ]


def add_errors(err: Errors, variant: str, est: estimation.Estimate, kinds: np.ndarray, truth: np.ndarray) -> None:
    """One junction's estimate against the truth (vehicles per lane), the error and the truth
    added under (variant, lane kind)."""
    e = est.lanes.queue_pcu + est.lanes.hidden_pcu - truth
    for k in set(kinds):
        on = kinds == k
        err.setdefault((variant, k), []).append(np.stack([e[on], truth[on]]))


def summary(err: Errors, kinds: dict[str, dict[str, np.ndarray]]) -> Summary:
    """Per (variant, lane kind): mean absolute error and bias of the queue estimate (veh), the
    mean true queue, the samples and the lanes of that kind."""
    out: Summary = {}
    for key, rows in sorted(err.items(), key=lambda kv: (list(LAYOUTS).index(kv[0][0]), kv[0][1])):
        e, truth = np.concatenate(rows, axis=1)
        n_lanes = sum(int(np.sum(ks == key[1])) for ks in kinds[key[0]].values())
        out[key] = {
            "mae_veh": float(np.mean(np.abs(e))),
            "bias_veh": float(np.mean(e)),
            "truth_veh": float(np.mean(truth)),
            "samples": int(e.size),
            "lanes": n_lanes,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    argv, sumo_args = split_sumo_args(argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sumocfg", type=Path)
    ap.add_argument("--end", type=float, default=900.0)
    ap.add_argument("--warmup", type=float, default=120.0)
    ap.add_argument("--detectors", choices=("generated", "city"), default="generated")
    args = ap.parse_args(argv)
    res = measure(args.sumocfg, args.end, args.detectors, args.warmup, sumo_args)
    print(f"{args.sumocfg}  loops: {args.detectors}  end {args.end:g} s")
    print(
        f"{'layout':<9}{'lanes with':<16}{'halting veh/lane':>17}{'MAE veh/lane':>14}{'bias veh/lane':>15}"
        f"{'lanes':>7}{'samples':>10}"
    )
    for (v, k), r in res.items():
        print(
            f"{v:<9}{k:<16}{r['truth_veh']:>17.2f}{r['mae_veh']:>14.2f}{r['bias_veh']:>+15.2f}{r['lanes']:>7}{r['samples']:>10}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

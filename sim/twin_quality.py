"""Prediction quality of the validation twin (issue 14, deliverable 6): SUMO as the field, the
twin's predicted delay per junction over the next horizon against what the field then measured.

    .venv/bin/python -m sim.twin_quality SUMOCFG --out DIR [--at 900 --at 1800 ...] [--horizon 900]
        [--window 300] [--policy fixed] [--meso] [--en-route] [--city-vtypes] [--seed 1] [--reuse-field]

`--meso`, `--en-route`, `--city-vtypes`: the twin's options (sim/twin.py TwinRequest mesoscopic,
en_route, vtype_files); `--reuse-field` runs only the twin again on the field already in DIR.

1. The field: `simulate` (in process, `--policy`, recording the controller's feeds and plans,
   sim/simulate.py) up to the last instant plus the horizon, with SUMO edgeData of every edge
   over [T, T + horizon] for each instant T (the instants `--at`, one horizon apart or more).
2. At each T, what the controller knew, from the recording only (never SUMO's state): the
   loops' counts by class over (T - window, T], the service's estimator run over the recorded
   feed before T (sim/replay_demand.py estimated_queues), and the cycle plans in force at T
   (none under `fixed`: the network's own programs, which the twin loads from the scenario's
   additional files). The twin (sim/twin.py) predicts each junction's delay over the horizon.
3. The field's measured delay per junction over the same interval: the same sum of time loss
   over the same approach edges (twin.approach_lanes, twin.read_prediction), from the field's
   edgeData. Same unit: vehicle-seconds per junction over the horizon.

Printed and written to DIR/quality.json: per instant and junction, predicted and measured; over
all pairs, Pearson's r, the mean absolute error (veh-s), the relative error (sum |p - m| /
sum m) and the ratio of the totals (sum p / sum m).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
import pyarrow as pa
import sumolib

from controller.adapters.archive import read_archive, site_root
from controller.config import Config, load_config
from controller.core.messages import decode_command
from controller.core.validation import ValidationParams
from controller.errors import FeedError
from controller.junctions import load_intersections
from controller.model import VEHICLE_CLASSES, CyclePlan, CycleWish, Intersection
from controller.validation import incumbent_wish
from sim import twin
from sim.replay_demand import estimated_queues
from sim.simulate import SimulateRequest, run
from sim.sumo import SumoConfig

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class QualityRequest:
    sumocfg: Path
    out_dir: Path
    at_s: tuple[float, ...]  # instants T (field clock), at least horizon_s apart
    horizon_s: float = ValidationParams.horizon_s
    window_s: float = 300.0  # shorter than [validation] window_s: BENCHMARKS.md compares both
    policy: str = "fixed"
    mesoscopic: bool = False
    seed: int = ValidationParams.seed
    reuse_field: bool = False  # a field run already in out_dir (same instants) is used again
    en_route: bool = False  # TwinRequest.en_route
    city_vtypes: bool = False  # the twin's vehicle types are the scenario's (TwinRequest.vtype_files)


def check(req: QualityRequest) -> None:
    """The instants must be increasing, at least one horizon apart and after one window."""
    if not req.at_s:
        raise ValueError("--at: give at least one instant")
    if req.horizon_s <= 0 or req.window_s <= 0:
        raise ValueError(f"--horizon and --window must be > 0, got {req.horizon_s:g} and {req.window_s:g}")
    if req.at_s[0] < req.window_s:
        raise ValueError(f"--at {req.at_s[0]:g}: the first instant must be at least one window ({req.window_s:g} s) in")
    gaps = np.diff(req.at_s)
    if (gaps < req.horizon_s).any():
        raise ValueError(f"--at {list(req.at_s)}: instants must increase by at least the horizon ({req.horizon_s:g} s)")


def program_files(scfg: SumoConfig) -> tuple[str, ...]:
    """The scenario's additional files that define signal programs (tlLogic)."""
    out = []
    for path in scfg.files("additional-files"):
        with open(path, "rb") as f:
            if b"<tlLogic" in f.read():
                out.append(str(Path(path).resolve()))
    return tuple(out)


def vtype_files(req: QualityRequest) -> tuple[str, ...]:
    """The scenario's route and additional files, when the twin is to use its vehicle types."""
    if not req.city_vtypes:
        return ()
    scfg = SumoConfig(req.sumocfg)
    return tuple(str(p) for key in ("route-files", "additional-files") for p in scfg.files(key))


def write_field_edgedata(path: Path, output: Path, at_s: Sequence[float], horizon_s: float) -> Path:
    """edgeData of every edge, one interval [T, T + horizon] per instant."""
    root = ET.Element("additional")
    for k, t in enumerate(at_s):
        ET.SubElement(
            root, "edgeData", id=f"field_{k}", file=str(output), begin=f"{t:g}", end=f"{t + horizon_s:g}"
        ).set("excludeEmpty", "true")
    path.write_bytes(ET.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return path


def run_field(req: QualityRequest, cfg: Config, scfg: SumoConfig) -> tuple[Path, Path]:
    """The field run (recorded); returns its edgeData file and the archive's site folder."""
    field = req.out_dir / "field"
    field.mkdir(parents=True, exist_ok=True)
    edgedata = field / "edgedata.xml"
    meandata = write_field_edgedata(field / "edgedata.add.xml", edgedata, req.at_s, req.horizon_s)
    adds = [str(Path(p).resolve()) for p in scfg.files("additional-files")] + [str(meandata)]
    if req.reuse_field and (field / "summary.json").exists():
        return edgedata, site_root(req.out_dir / "archive")
    end_s = req.at_s[-1] + req.horizon_s
    args = ("--end", f"{end_s:g}", "--additional-files", ",".join(adds))
    sim_req = SimulateRequest(req.sumocfg, field, req.policy, args, record=req.out_dir / "archive")
    run(sim_req, cfg)
    return edgedata, site_root(req.out_dir / "archive")


def window_counts(det: pa.Table, t_s: float, window_s: float) -> dict[str, tuple[int, ...]]:
    """Loop -> vehicles per class counted in (t_s - window_s, t_s]."""
    t = det["t_s"].to_numpy()
    keep = (t > t_s - window_s) & (t <= t_s)
    names = det["detector"].cast(pa.string()).to_numpy(zero_copy_only=False)[keep]
    counts = np.stack([det[c].to_numpy()[keep].astype(np.int64) for c in VEHICLE_CLASSES], axis=1)
    out: dict[str, np.ndarray] = {}
    for name, c in zip(names, counts):
        out[name] = out.get(name, 0) + c
    return {str(k): tuple(int(x) for x in v) for k, v in out.items()}


def plans_in_force(site: Path, t_s: float) -> dict[str, CycleWish]:
    """Junction -> the last cycle plan sent before t_s that is still valid at t_s."""
    table = read_archive(site, "plans", None, t_s)
    out: dict[str, CycleWish] = {}
    for payload in table["payload"].to_pylist():
        try:
            cmd = decode_command(payload)
        except FeedError:
            continue
        wish = incumbent_wish(cmd) if isinstance(cmd, CyclePlan) and cmd.expires_s > t_s else None
        if wish is None:
            out.pop(cmd.junction, None)
        else:
            out[cmd.junction] = wish
    return out


def known_at(
    site: Path, t_s: float, req: QualityRequest, junctions: Mapping[str, Intersection], cfg: Config
) -> tuple[dict[str, tuple[int, ...]], dict[str, float], dict[str, CycleWish]]:
    """What the controller knew at t_s (from the recording): counts, estimated queues (the
    estimator run over the recorded feed of the [replay] warmup_s before t_s), plans."""
    since_s = max(0.0, t_s - cfg.replay.warmup_s)
    det = read_archive(site, "detectors", since_s, t_s + 1e-6)
    status = read_archive(site, "status", since_s, t_s + 1e-6)
    counts = window_counts(det, t_s, req.window_s)
    queues = estimated_queues(junctions, det, status, cfg) if det.num_rows else {}
    return counts, queues, plans_in_force(site, t_s)


def measured(edgedata: Path, approaches: Mapping[str, frozenset[str]]) -> list[dict[str, float]]:
    """Per interval of the field's edgeData (in file order): junction -> time loss (veh-s)."""
    out = []
    for iv in twin.meandata_intervals(edgedata):
        loss = {k: v[0] for k, v in iv.items()}
        out.append({jid: sum(loss.get(k, 0.0) for k in twin.approach_keys(lanes)) for jid, lanes in approaches.items()})
    return out


class Stats(TypedDict):
    """stats' figures over the (predicted, measured) pairs."""

    pairs: int
    pearson_r: float
    mean_abs_error_veh_s: float
    relative_error: float
    total_ratio: float


class TwinAt(TypedDict):
    """predict_at's: per junction the twin's time loss (veh-s), build_scenario's counts, the plans in force, the
    queues seeded (PCU)."""

    delay_s: Mapping[str, float]
    info: dict[str, int]
    plans: int
    queued_pcu: float


class Row(TypedDict):
    at_s: float
    junction: str
    predicted_veh_s: int
    measured_veh_s: int


class Quality(Stats):
    """evaluate_quality's report (quality.json)."""

    scenario: str
    policy: str
    mesoscopic: bool
    en_route: bool
    city_vtypes: bool
    horizon_s: float
    window_s: float
    at_s: list[float]
    rows: list[Row]


def stats(pairs: Sequence[tuple[float, float]]) -> Stats:
    """Pearson r, mean absolute error (veh-s), relative error sum|p-m|/sum m, ratio sum p/sum m."""
    p = np.array([a for a, _ in pairs], dtype=float)
    m = np.array([b for _, b in pairs], dtype=float)
    r = float(np.corrcoef(p, m)[0, 1]) if len(p) > 1 and p.std() > 0 and m.std() > 0 else math.nan
    return {
        "pairs": len(p),
        "pearson_r": round(r, 3),
        "mean_abs_error_veh_s": round(float(np.abs(p - m).mean()), 1),
        "relative_error": round(float(np.abs(p - m).sum() / max(m.sum(), 1e-9)), 3),
        "total_ratio": round(float(p.sum() / max(m.sum(), 1e-9)), 3),
    }


def predict_at(
    req: QualityRequest,
    cfg: Config,
    site: Path,
    t_s: float,
    net: sumolib.net.Net,
    junctions: Mapping[str, Intersection],
    programs: tuple[str, ...],
) -> TwinAt:
    """The twin's prediction per junction over [t_s, t_s + horizon] from what was known at t_s."""
    counts, queues, plans = known_at(site, t_s, req, junctions, cfg)
    treq = twin.TwinRequest(
        str(SumoConfig(req.sumocfg).net_file),
        tuple(junctions[k] for k in sorted(junctions)),
        counts,
        req.window_s,
        queues,
        plans,
        {},
        str(req.out_dir / "twin"),
        horizon_s=req.horizon_s,
        seed=req.seed,
        mesoscopic=req.mesoscopic,
        programs=programs,
        en_route=req.en_route,
        vtype_files=vtype_files(req),
    )
    routes, info = twin.build_scenario(treq, net)
    pred = twin.run_plans(treq, net, routes, {"incumbent": plans})["incumbent"]
    return {"delay_s": pred.delay_s, "info": info, "plans": len(plans), "queued_pcu": round(sum(queues.values()), 1)}


def evaluate_quality(req: QualityRequest, cfg: Config) -> Quality:
    """Run the field, then the twin at every instant; the pairs and their statistics."""
    check(req)
    scfg = SumoConfig(req.sumocfg)
    edgedata, site = run_field(req, cfg, scfg)
    junctions = load_intersections(req.out_dir / "field" / "intersections")
    net = sumolib.net.readNet(str(scfg.net_file), withInternal=False)
    approaches = {jid: twin.approach_lanes(net, j) for jid, j in junctions.items()}
    field = measured(edgedata, approaches)
    programs = program_files(scfg)
    rows: list[Row] = []
    pairs: list[tuple[float, float]] = []
    for t_s, meas in zip(req.at_s, field):
        pred = predict_at(req, cfg, site, t_s, net, junctions, programs)
        for jid in sorted(junctions):
            p, m = pred["delay_s"].get(jid, 0.0), meas.get(jid, 0.0)
            if p or m:
                pairs.append((p, m))
                rows.append({"at_s": t_s, "junction": jid, "predicted_veh_s": round(p), "measured_veh_s": round(m)})
        log.info("T=%g: %s", t_s, pred["info"])
    return {
        "scenario": str(req.sumocfg),
        "policy": req.policy,
        "mesoscopic": req.mesoscopic,
        "en_route": req.en_route,
        "city_vtypes": req.city_vtypes,
        "horizon_s": req.horizon_s,
        "window_s": req.window_s,
        "at_s": list(req.at_s),
        **stats(pairs),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> Quality:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sumocfg", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--at", type=float, action="append", help="instant T (s, field clock); repeat")
    ap.add_argument("--horizon", type=float, default=QualityRequest.horizon_s)
    ap.add_argument("--window", type=float, default=QualityRequest.window_s)
    ap.add_argument("--policy", default="fixed")
    ap.add_argument("--meso", action="store_true", help="mesoscopic twin runs")
    ap.add_argument("--seed", type=int, default=QualityRequest.seed)
    ap.add_argument("--en-route", action="store_true", help="twin: the counted flow also on its way at T")
    ap.add_argument("--city-vtypes", action="store_true", help="twin: the scenario's vehicle types")
    ap.add_argument("--reuse-field", action="store_true", help="use the field run already in --out")
    ap.add_argument("--config", type=Path, default=ROOT / "config.toml")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    at = tuple(args.at or (900.0, 1800.0, 2700.0))
    req = QualityRequest(
        args.sumocfg,
        args.out,
        at,
        args.horizon,
        args.window,
        args.policy,
        args.meso,
        args.seed,
        reuse_field=args.reuse_field,
        en_route=args.en_route,
        city_vtypes=args.city_vtypes,
    )
    out = evaluate_quality(req, load_config(args.config))
    (args.out / "quality.json").write_text(json.dumps(out, indent=1))
    print("| T (s) | junction | predicted (veh-s) | measured (veh-s) |")
    print("|---:|---|---:|---:|")
    for r in out["rows"]:
        print(f"| {r['at_s']:g} | {r['junction']} | {r['predicted_veh_s']} | {r['measured_veh_s']} |")
    print({k: v for k, v in out.items() if k != "rows"})
    return out


if __name__ == "__main__":
    main()

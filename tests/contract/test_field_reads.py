"""sim.field against the real SUMO: libsumo's direct getters (occupancy and speed asked only of
loops that had a vehicle) read exactly what traci's subscriptions read, loop by loop and second
by second, on the bundled city's first 240 s; the frame carries what the JSON messages carry.
The generated loops' aggregation interval (LOOP_PERIOD_S, reset by SUMO) changes no reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sumo")

from controller.config import Config
from controller.junctions import load_intersections
from controller.model import VEHICLE_CLASSES
from sim.field import LOOP_PERIOD_S, SumoField, write_detector_file
from sim.netimport import import_network
from sim.sumo import SumoConfig, load_api, sumo_binary

CITY = Path(__file__).resolve().parents[2] / "sim/scenarios/city/city.sumocfg"
END_S = 240


def _frames(api, junctions: dict, loops: Path, *sumo_args: str, ids: list | None = None) -> list:
    """Every second's frame or messages (alternately); `ids`: given, every SUMO step's vehicle
    ids of every loop (the getter the field reads) are appended to it."""
    scfg = SumoConfig(CITY)
    adds = ",".join([str(p) for p in scfg.files("additional-files")] + [str(loops)])
    binary = "sumo" if api.__name__ == "libsumo" else sumo_binary()
    api.start(
        [
            binary,
            "-c",
            str(CITY),
            "--additional-files",
            adds,
            "--no-step-log",
            "true",
            "--seed",
            "1",
            "--end",
            str(END_S),
            *sumo_args,
        ]
    )
    try:
        field = SumoField(api, junctions, 60.0)
        assert field._direct == (api.__name__ == "libsumo")
        substeps = round(1.0 / api.simulation.getDeltaT())
        out = []
        for t in range(1, END_S):
            for _ in range(substeps - 1):
                api.simulationStep()
                field.sample_substep()
                if ids is not None:
                    ids.append([api.inductionloop.getLastStepVehicleIDs(d) for d in field._loop_dids])
            api.simulationStep()
            if ids is not None:
                ids.append([api.inductionloop.getLastStepVehicleIDs(d) for d in field._loop_dids])
            if t % 2:
                out.append(("frame", field.detector_frame(float(t))))
            else:
                out.append(("json", field.detector_messages(float(t))))
        return out
    finally:
        api.close()


def _as_rows(kind: str, item, junctions: dict) -> list[tuple]:
    if kind == "frame":
        f = item
        return [
            (f.layout.detectors[i], tuple(int(n) for n in f.counts[i]), float(f.occupancy[i]), float(f.speed_mps[i]))
            for i in range(len(f.layout.detectors))
        ]
    rows = []
    for _jid, payload in item:
        for did, d in json.loads(payload)["detectors"].items():
            rows.append((did, tuple(d["counts"].get(c, 0) for c in VEHICLE_CLASSES), d["occupancy"], d["speed_mps"]))
    return rows


def test_direct_getters_read_what_subscriptions_read(tmp_path):
    cfg = Config()
    scfg = SumoConfig(CITY)
    import_network(scfg.net_file, tmp_path / "j", cfg, scfg.files("additional-files"), "generated")
    junctions = load_intersections(tmp_path / "j")
    loops = write_detector_file(junctions, tmp_path / "loops.add.xml", cfg.detectors.loop_length_m)
    direct = _frames(load_api(prefer_libsumo=True), junctions, loops)
    subscribed = _frames(load_api(prefer_libsumo=False), junctions, loops)
    assert len(direct) == len(subscribed) == END_S - 1
    moved = 0
    for (kind, a), (_, b) in zip(direct, subscribed):
        ra, rb = _as_rows(kind, a, junctions), _as_rows(kind, b, junctions)
        assert ra == rb
        moved += sum(sum(r[1]) for r in ra)
    assert moved > 100  # vehicles did cross the loops
    assert np.isfinite([r[2] for r in ra]).all()


def _city_junctions(tmp_path: Path) -> dict:
    cfg = Config()
    scfg = SumoConfig(CITY)
    import_network(scfg.net_file, tmp_path / "j", cfg, scfg.files("additional-files"), "generated")
    return load_intersections(tmp_path / "j")


@pytest.mark.parametrize("sumo_args", [(), ("--step-length", "0.5")], ids=["1s", "substeps"])
def test_the_loops_interval_changes_no_reading(tmp_path, sumo_args):
    """SUMO resets a loop at the end of each aggregation interval; the field's last-step reads
    (vehicle ids, occupancy, speed, and the counts made of them) must not see it. The loops
    written with the field's interval, and with one of 7 s (34 resets in the run), read every
    second exactly what they read over one interval longer than the run, with SUMO stepping
    whole seconds and half seconds (the field aggregating the sub-steps); every loop's vehicle
    ids are the same at every step too (an interval of one 1 s step loses some of the vehicles
    that left the loop in the step before: the ids differ from the 43rd second, though no count,
    occupancy or speed of the city's first 240 s does)."""
    junctions = _city_junctions(tmp_path)
    length_m = Config().detectors.loop_length_m
    api = load_api(prefer_libsumo=True)
    ids: dict[int, list] = {}
    frames = {
        period_s: _frames(
            api,
            junctions,
            write_detector_file(junctions, tmp_path / f"{period_s}.add.xml", length_m, period_s),
            *sumo_args,
            ids=ids.setdefault(period_s, []),
        )
        for period_s in (86_400, LOOP_PERIOD_S, 7)
    }
    steps_per_s = round(1 / float(sumo_args[1])) if sumo_args else 1
    assert len(ids[86_400]) == (END_S - 1) * steps_per_s
    assert ids[86_400] == ids[LOOP_PERIOD_S] == ids[7]
    assert f'period="{LOOP_PERIOD_S}"' in (tmp_path / f"{LOOP_PERIOD_S}.add.xml").read_text()
    assert LOOP_PERIOD_S < END_S  # the run crosses the field's own resets
    moved = 0
    for (kind, a), (_, b), (_, c) in zip(*frames.values(), strict=True):
        ra = _as_rows(kind, a, junctions)
        assert ra == _as_rows(kind, b, junctions) == _as_rows(kind, c, junctions)
        moved += sum(sum(r[1]) for r in ra)
    assert moved > 100

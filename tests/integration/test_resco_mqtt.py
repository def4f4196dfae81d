"""`simulate --via-mqtt` against the in-process run on a real network with long junction ids:
RESCO's ingolstadt7 (sim/scenarios/resco.py), whose joined clusters have ids of up to 166
characters, under `adaptive` for 300 s from the scenario's begin (16:00).

Over a private Mosquitto the closed loop must give the same trips (every tripinfo attribute) and
the same summary figures as in-process, as on the grid of test_via_mqtt.py; and the roadside's
status echo of every plan must reach the controller on both paths (no feed message rejected):
plan ids built from a long junction id once ran past the status limit and the echo was dropped
as out_of_range, on both paths alike, so the identity alone would not see it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sim.commands import simulate_command
from tests.live_fixtures import skip_without_mosquitto
from tests.procwait import finish
from tests.scenarios import ROOT, resco_root, run_figures, sumocfg_begin_s, trips

skip_without_mosquitto()

NET = "ingolstadt7"
RUN_S = 300
LONG_ID = 100  # characters: a junction id this long is what the test is about


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The in-process and the --via-mqtt run of ingolstadt7 under adaptive, side by side."""
    cfg = resco_root() / NET / f"{NET}.sumocfg"
    end = f"{sumocfg_begin_s(cfg) + RUN_S:.0f}"
    work = tmp_path_factory.mktemp("resco_mqtt")
    outs = {"in_process": work / "in_process", "mqtt": work / "mqtt"}
    options = {"in_process": (), "mqtt": ("--via-mqtt",)}
    procs = {
        name: subprocess.Popen(
            simulate_command(cfg, out, "adaptive", options=options[name], sumo_args=("--end", end)),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, out in outs.items()
    }
    done = finish(procs)  # as long as they work (tests/procwait.py): slow at load 20, not stuck
    for name, p in procs.items():
        assert p.returncode == 0, f"{NET} {name}: {done[name][1][-2000:]}"
    return outs


@pytest.mark.timeout(1200)  # a backstop: the runs are waited on while they work (a stuck one fails in a minute)
def test_via_mqtt_gives_the_in_process_trips_with_long_junction_ids(runs):
    ref, via = runs["in_process"], runs["mqtt"]
    ref_summary = json.loads((ref / "summary.json").read_text())
    via_summary = json.loads((via / "summary.json").read_text())
    control = ref_summary["junction_control"]
    long_ids = [j for j in control if len(j) > LONG_ID]
    assert long_ids, f"{NET}: no controlled junction id over {LONG_ID} characters ({sorted(map(len, control))})"
    assert all(control[j]["plans"] > 0 for j in long_ids), {j[:40]: control[j] for j in long_ids}
    ref_trips = trips(ref / "tripinfo.xml")
    assert len(ref_trips) > 200
    assert trips(via / "tripinfo.xml") == ref_trips
    assert run_figures(via_summary) == run_figures(ref_summary)
    for name, s in (("in_process", ref_summary), ("mqtt", via_summary)):
        assert s["controller"]["feed_rejected"] == {}, f"{NET} {name}: roadside messages rejected"
        assert s["controller"]["plans_refused_by_roadside"] == 0, name
    transport = via_summary["transport"]
    assert transport["mode"] == "mqtt-lockstep"
    assert transport["controller"]["ticks"] == RUN_S
    assert transport["controller"]["rejected"] == {}
    assert transport["field"]["plans_received"] == via_summary["controller"]["plans_sent"] > 0

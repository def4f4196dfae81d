"""Sharding (controller/regions.py, issue 12): two controller instances, each owning a region of
the bundled city, through one real Mosquitto, drive the city exactly as one instance does.

The two instances share nothing but the broker: each has its own process, client and service,
subscribes to its own junctions and its halo only, and sends plans to its own junctions only.
Under `adaptive` (max_pressure, which decides from the junction's own estimate) nothing crosses
the border, so every trip must be identical to the single instance's (the in-process run, which
test_via_mqtt.py already ties to the one-instance via-MQTT run).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("sumo")

from controller.config import RegionsConfig, load_config
from controller.junctions import load_intersections
from controller.regions import plan_regions
from sim.commands import simulate_command
from sim.simulate import SimulateRequest
from tests.live_fixtures import skip_without_mosquitto
from tests.procwait import finish
from tests.scenarios import trips

skip_without_mosquitto()

ROOT = Path(__file__).resolve().parents[2]
CITY = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
END_S = 300


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a backstop for a hang in process: the reference run is waited on while it works
def test_two_instances_sharding_the_city_give_the_same_trips_as_one(tmp_path):
    from sim.mqtt_run import run_via_mqtt

    reference = subprocess.Popen(
        simulate_command(CITY, tmp_path / "one", "adaptive", sumo_args=("--end", str(END_S))),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cfg = replace(load_config(None), regions=RegionsConfig(count=2))
    req = SimulateRequest(CITY, tmp_path / "two", "adaptive", sumo_args=("--end", str(END_S)))
    summary = run_via_mqtt(req, cfg, progress=lambda line: None)
    _out, err = finish({"reference": reference})["reference"]  # as long as it works (tests/procwait.py)
    assert reference.returncode == 0, err[-2000:]

    one = trips(tmp_path / "one" / "tripinfo.xml")
    assert len(one) > 150
    assert trips(tmp_path / "two" / "tripinfo.xml") == one
    single = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert summary["controller"]["plans_sent"] == single["controller"]["plans_sent"]
    # summary.json carries the in-process run's keys (and the transport): each junction's control from
    # the region that owns it, the decision cost over both regions
    assert set(summary) - {"transport"} == set(single)
    assert summary["junction_control"] == single["junction_control"]
    assert summary["decision_cost"]["ticks"] == END_S and summary["decision_cost"]["core_step_s"] > 0

    junctions = load_intersections(tmp_path / "two" / "intersections")
    plan = plan_regions(cfg, junctions)
    owned = {r.name: set(r.owned) for r in plan.regions}
    halo = {r.name: set(r.halo) for r in plan.regions}
    assert sorted(owned) == ["r0", "r1"] and not owned["r0"] & owned["r1"]
    assert len(owned["r0"] | owned["r1"]) == 20 and abs(len(owned["r0"]) - len(owned["r1"])) <= 1
    assert halo["r0"] and halo["r0"] <= owned["r1"] and halo["r1"] <= owned["r0"]  # border neighbours
    regions = summary["transport"]["regions"]
    for name in ("r0", "r1"):
        stats = regions[name]
        assert stats["error"] == ""
        # each instance subscribed to its own and its halo's feeds only, and heard nothing else; the
        # field's packed seconds went per region (sim/detectors/NAME: its own and its halo junctions')
        level = {t.split("/")[3] for t in stats["subscriptions"] if t.endswith(("/detectors", "/status"))}
        assert level == owned[name] | halo[name]
        assert [t for t in stats["subscriptions"] if "/sim/detectors" in t] == [f"tsc/v1/city/sim/detectors/{name}"]
        assert summary["transport"]["field"]["feed_packed"]
        assert stats["received"] == END_S * len(owned[name] | halo[name])
        assert stats["unrouted"] == 0 and stats["rejected"] == {}
        assert stats["plans_sent"] > 0

"""`simulate` on the bundled city with one junction file edited by hand so that a stage no longer
matches any phase of the program SUMO runs (controller/stagecheck.py): that junction is named at
start with its file and field, stays on its own program (no plan), and the run goes on for the
others. Without the check a cycle policy's plans for it are refused past max_red_s for the whole
run (webster, 700 s: 0 plans, BENCHMARKS.md "Issue 9, a junction the service cannot serve is
named"), with nothing above an info line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from controller.config import Config
from sim.netimport import import_network
from tests.live_fixtures import skip_without_mosquitto
from tests.scenarios import ROOT, simulate_command

CITY = ROOT / "sim" / "scenarios" / "city"
EDITED = ("rrrrGGGGgrrrrGGGGg", "rrrrGGGGrrrrrGGGGr")  # J11's stage 0: its permitted lefts taken out


def test_a_junction_with_a_stage_its_program_never_shows_is_named_and_the_run_goes_on(tmp_path: Path) -> None:
    inter = tmp_path / "intersections"
    import_network(CITY / "city.net.xml", inter, Config(), [CITY / "city.add.xml"])
    j11 = inter / "J11.toml"
    text = j11.read_text()
    assert f'{{ state = "{EDITED[0]}"' in text
    j11.write_text(text.replace(f'{{ state = "{EDITED[0]}"', f'{{ state = "{EDITED[1]}"'))
    out = tmp_path / "run"
    cmd = simulate_command(
        CITY / "city.sumocfg", out, "adaptive", options=("--intersections", str(inter)), sumo_args=("--end", "120")
    )
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    why = summary["refused"]["J11"]
    assert str(j11) in why and "phases[0].state" in why and EDITED[1] in why
    assert "junction=J11 cannot be served" in done.stderr
    control = summary["junction_control"]
    assert "J11" not in control and len(control) == 19
    assert sum(c["plans"] for c in control.values()) > 0


def test_via_mqtt_the_summary_names_the_refused_junction_too(tmp_path: Path) -> None:
    """The via-MQTT replay's summary.json carries the same `refused` as the in-process run."""
    skip_without_mosquitto()
    inter = tmp_path / "intersections"
    import_network(CITY / "city.net.xml", inter, Config(), [CITY / "city.add.xml"])
    j11 = inter / "J11.toml"
    j11.write_text(j11.read_text().replace(f'{{ state = "{EDITED[0]}"', f'{{ state = "{EDITED[1]}"'))
    out = tmp_path / "run"
    options = ("--intersections", str(inter), "--via-mqtt")
    cmd = simulate_command(CITY / "city.sumocfg", out, "adaptive", options=options, sumo_args=("--end", "60"))
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["refused"]) == ["J11"] and "phases[0].state" in summary["refused"]["J11"]
    assert summary["transport"]["controller"]["refused"] == summary["refused"]

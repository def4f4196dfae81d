"""sim.evaluate against the real SUMO 1.28: a 2x2 signalised grid, overloaded on purpose.

Demand is far above capacity, so at the end of the 300 s run some vehicles are still driving
(unfinished) and many were never inserted (waiting). evaluate() must agree with a recomputation
that reads the same files by another route (sumolib's regex reader, minidom).
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.dom import minidom

import pytest

sumo = pytest.importorskip("sumo")
sumolib_xml = pytest.importorskip("sumolib.xml")

from sim.evaluate import evaluate  # noqa: E402
from tests.scenarios import run_tool  # noqa: E402

END_S = 300
TRIPS_END_S = 250  # all trips due before the last step, so loaded == inserted + waiting


@pytest.fixture(scope="module")
def sumo_run(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("eval_sumo")
    home = Path(sumo.SUMO_HOME)
    _grid(home, work)
    _random_trips(home, work)
    _run_sumo(home, work)
    return {"tripinfo": work / "tripinfo.xml", "statistics": work / "statistics.xml"}


def _grid(home: Path, work: Path) -> None:
    """work/net.net.xml: netgenerate's 2 x 2 grid of lights, 200 m blocks, 100 m approaches, seed 1."""
    run_tool(
        [
            str(home / "bin" / "netgenerate"),
            "--grid",
            "--grid.number",
            "2",
            "--grid.length",
            "200",
            "--grid.attach-length",
            "100",
            "--default-junction-type",
            "traffic_light",
            "--seed",
            "1",
            "-o",
            "net.net.xml",
        ],
        work,
    )


def _random_trips(home: Path, work: Path) -> None:
    """work/trips.xml: randomTrips.py on the grid, one trip every 0.3 s from 0 to TRIPS_END_S, seed 1."""
    run_tool(
        [
            sys.executable,
            str(home / "tools" / "randomTrips.py"),
            "-n",
            "net.net.xml",
            "-o",
            "trips.xml",
            "-b",
            "0",
            "-e",
            str(TRIPS_END_S),
            "-p",
            "0.3",
            "--seed",
            "1",
        ],
        work,
    )


def _run_sumo(home: Path, work: Path) -> None:
    """SUMO on the grid and trips to END_S (no teleport, seed 1): work/tripinfo.xml (with the unfinished) and
    work/statistics.xml."""
    run_tool(
        [
            str(home / "bin" / "sumo"),
            "-n",
            "net.net.xml",
            "-r",
            "trips.xml",
            "-b",
            "0",
            "-e",
            str(END_S),
            "--time-to-teleport",
            "-1",
            "--seed",
            "1",
            "--no-step-log",
            "--tripinfo-output",
            "tripinfo.xml",
            "--tripinfo-output.write-unfinished",
            "--statistic-output",
            "statistics.xml",
        ],
        work,
    )


def _independent_figures(tripinfo: Path, statistics: Path) -> dict:
    """Recompute the convention with sumolib's line-regex reader and minidom."""
    trips = list(
        sumolib_xml.parse_fast(
            str(tripinfo), "tripinfo", ["id", "depart", "departDelay", "arrival", "duration", "routeLength", "timeLoss"]
        )
    )
    stats = minidom.parse(str(statistics))
    vehicles = stats.getElementsByTagName("vehicles")[0]
    waiting = int(vehicles.getAttribute("waiting"))
    waiting_delay_s = float(stats.getElementsByTagName("vehicleTripStatistics")[0].getAttribute("departDelayWaiting"))

    departed = [t for t in trips if float(t.depart) >= 0]
    arrived = [t for t in departed if float(t.arrival) >= 0]
    total_delay_s = sum(float(t.timeLoss) + float(t.departDelay) for t in departed)
    total_delay_s += waiting * waiting_delay_s
    return {
        "delay_s": total_delay_s / (len(departed) + waiting),
        "speed_kmh": 3.6 * sum(float(t.routeLength) for t in arrived) / sum(float(t.duration) for t in arrived),
        "throughput_veh_h": len(arrived) / END_S * 3600,
        "arrived": len(arrived),
        "unfinished": len(departed) - len(arrived),
        "loaded": int(vehicles.getAttribute("loaded")),
        "inserted": int(vehicles.getAttribute("inserted")),
        "waiting": waiting,
    }


def test_scenario_is_overloaded_as_intended(sumo_run):
    expected = _independent_figures(sumo_run["tripinfo"], sumo_run["statistics"])
    assert expected["arrived"] > 0
    assert expected["unfinished"] > 0
    assert expected["waiting"] > 0


def test_evaluate_agrees_with_independent_recomputation(sumo_run):
    summary = evaluate(
        sumo_run["tripinfo"], sumo_run["statistics"], begin_s=0, end_s=END_S, junction_counts={"A0": {"passenger": 30}}
    )
    expected = _independent_figures(sumo_run["tripinfo"], sumo_run["statistics"])

    assert summary["delay_s"] == pytest.approx(expected["delay_s"], rel=1e-9)
    assert summary["speed_kmh"] == pytest.approx(expected["speed_kmh"], rel=1e-9)
    assert summary["throughput_veh_h"] == pytest.approx(expected["throughput_veh_h"])
    assert summary["delay_s"] == pytest.approx(summary["mean_time_loss_s"] + summary["mean_depart_delay_s"])
    assert summary["junctions"]["A0"]["veh_h"] == pytest.approx(30 / END_S * 3600)

    vehicles = summary["vehicles"]
    assert vehicles["arrived"] == expected["arrived"]
    assert vehicles["running"] == expected["unfinished"]
    assert vehicles["loaded"] == expected["loaded"] == vehicles["inserted"] + vehicles["waiting"]
    assert vehicles["arrived"] + vehicles["running"] == vehicles["inserted"]


def test_delay_is_plausible(sumo_run):
    summary = evaluate(sumo_run["tripinfo"], sumo_run["statistics"], begin_s=0, end_s=END_S)
    # Overloaded: vehicles queue for the network and at the signals, but nobody waits longer
    # than the run itself.
    assert 0.0 < summary["mean_time_loss_s"] < END_S
    assert 0.0 < summary["mean_depart_delay_s"] < END_S
    assert 0.0 < summary["delay_s"] < END_S  # departDelay + timeLoss <= time since due
    assert 0.0 < summary["speed_kmh"] < 50 * 1.2 * 1.3  # urban limit x speedFactor spread, loose

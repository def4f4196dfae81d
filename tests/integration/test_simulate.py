"""`simulate` end to end on a small grid: outputs, plausible values, figures recomputed."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim.commands import simulate_command
from tests.scenarios import HOME, run_tool, scenario, trips

ROOT = Path(__file__).resolve().parents[2]


def simulate(cfg: Path, out: Path, policy: str, *sumo_args: str) -> subprocess.CompletedProcess:
    cmd = simulate_command(cfg, out, policy, sumo_args=sumo_args)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def runs(small_grid, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("sim")
    result = {}
    for policy in ("fixed", "webster", "actuated"):
        done = simulate(small_grid, out / policy, policy)
        assert done.returncode == 0, done.stderr
        result[policy] = out / policy
    return result


@pytest.mark.parametrize("policy", ["fixed", "webster", "actuated"])
def test_writes_three_outputs_with_plausible_values(runs, policy):
    d = runs[policy]
    for name in ("tripinfo.xml", "statistics.xml", "summary.json"):
        assert (d / name).stat().st_size > 0, name
    s = json.loads((d / "summary.json").read_text())
    assert s["policy"] == policy
    assert 0 < s["delay_s"] < 600
    assert 5 < s["speed_kmh"] < 60
    assert s["vehicles"]["arrived"] > 100
    assert s["duration_s"] == 600
    assert len(s["junctions"]) == 9 and all(j["veh_h"] > 0 for j in s["junctions"].values())


def test_webster_actually_sends_plans(runs):
    s = json.loads((runs["webster"] / "summary.json").read_text())
    assert s["controller"]["plans_sent"] > 0 and s["controller"]["plans_refused_by_roadside"] == 0
    fixed = json.loads((runs["fixed"] / "summary.json").read_text())
    assert fixed["controller"]["plans_sent"] == 0


def test_summary_says_per_junction_what_the_controller_did(runs):
    """Nothing skipped or refused on the grid; every junction got webster's plans, and each one's
    do-no-harm mode and replayed delays are reported."""
    s = json.loads((runs["webster"] / "summary.json").read_text())
    assert s["skipped"] == {} and s["refused"] == {}
    control = s["junction_control"]
    assert set(control) == set(s["junctions"])
    for jid, c in control.items():
        assert c["plans"] > 0, jid
        assert c["mode"] in ("policy", "fixed") and c["delay_fixed_s"] >= 0, jid


def test_summary_recomputed_independently(runs):
    """The convention (DESIGN.md), recomputed from SUMO's own files by a second route."""
    d = runs["fixed"]
    trips = [t.attrib for t in ET.parse(d / "tripinfo.xml").getroot().iter("tripinfo")]
    stats = ET.parse(d / "statistics.xml").getroot()
    waiting = int(stats.find("vehicles").get("waiting"))
    waiting_delay = float(stats.find("vehicleTripStatistics").get("departDelayWaiting"))
    arrived = [t for t in trips if float(t["arrival"]) >= 0]
    delay = (sum(float(t["timeLoss"]) + float(t["departDelay"]) for t in trips) + waiting * waiting_delay) / (
        len(trips) + waiting
    )
    speed = 3.6 * sum(float(t["routeLength"]) for t in arrived) / sum(float(t["duration"]) for t in arrived)
    s = json.loads((d / "summary.json").read_text())
    assert s["delay_s"] == pytest.approx(delay, rel=1e-9)
    assert s["speed_kmh"] == pytest.approx(speed, rel=1e-9)
    assert s["throughput_veh_h"] == pytest.approx(len(arrived) * 3600 / 600, rel=1e-9)
    assert s["vehicles"]["arrived"] == len(arrived)


def test_arguments_after_double_dash_go_to_sumo_and_win(small_grid, tmp_path):
    done = simulate(small_grid, tmp_path / "short", "fixed", "--end", "300", "--seed", "7")
    assert done.returncode == 0, done.stderr
    s = json.loads((tmp_path / "short" / "summary.json").read_text())
    assert s["duration_s"] == 300


def test_sumo_arguments_by_their_synonyms_make_ours_give_way(small_grid, tmp_path):
    """`-a` is SUMO's `--additional-files`, `-e` its `--end`, `--seed=7` one argument: before,
    the user's `-a` beside ours made SUMO refuse to start ("already set")."""
    edges = tmp_path / "edges.xml"
    extra = tmp_path / "extra.add.xml"
    extra.write_text(f'<additional><edgeData id="e" file="{edges}"/></additional>')
    done = simulate(small_grid, tmp_path / "syn", "fixed", "-a", str(extra), "-e", "120", "--seed=7")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "syn" / "summary.json").read_text())["duration_s"] == 120
    assert ET.parse(edges).getroot().find("interval") is not None


def test_a_half_second_step_runs_fixed_as_plain_sumo_and_adaptive_sends_plans(small_grid, tmp_path):
    """A step length of 0.5 s: SUMO stepped to each second in two steps, the loops aggregated.
    Under fixed every trip is plain sumo's at 0.5 s; adaptive's plans reach the roadside and are
    applied. Before, 0.5 was refused (the whole network gave no result)."""
    args = ("--step-length", "0.5", "--end", "300", "--seed", "3")
    done = simulate(small_grid, tmp_path / "fixed", "fixed", *args)
    assert done.returncode == 0, done.stderr
    plain = tmp_path / "plain.xml"
    cmd = [str(HOME / "bin" / "sumo"), "-c", str(small_grid), *args, "--time-to-teleport", "-1"]
    cmd += ["--tripinfo-output", str(plain), "--tripinfo-output.write-unfinished", "true", "--no-step-log", "true"]
    ran = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert trips(tmp_path / "fixed" / "tripinfo.xml") == trips(plain)
    done = simulate(small_grid, tmp_path / "adaptive", "adaptive", *args)
    assert done.returncode == 0, done.stderr
    s = json.loads((tmp_path / "adaptive" / "summary.json").read_text())
    assert s["controller"]["plans_sent"] > 0 and s["controller"]["plans_refused_by_roadside"] == 0
    assert s["duration_s"] == 300 and s["refused"] == {}


@pytest.mark.parametrize(
    "args, needle",
    [
        (["/nonexistent.sumocfg", "--policy", "fixed"], "nonexistent.sumocfg"),
        (["{cfg}", "--policy", "warp_drive"], "unknown policy"),
        (["{cfg}", "--policy", "fixed", "--", "--no-such-sumo-option"], "SUMO"),
        (["{cfg}", "--policy", "fixed", "--", "--tripinfo", "t.xml"], "--tripinfo-output: not accepted"),
    ],
)
def test_failures_exit_non_zero_with_one_line_reason(small_grid, tmp_path, args, needle):
    args = [a.format(cfg=small_grid) for a in args]
    cmd = [
        sys.executable,
        str(ROOT / "run_controller.py"),
        "simulate",
        args[0],
        "--out",
        str(tmp_path / "o"),
        *args[1:],
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and needle in last


def test_sumo_refusing_to_start_is_named_by_its_own_reason_first(small_grid, tmp_path):
    """A program 'off' with phases, loaded last: SUMO refuses to start. libsumo's exception says
    only "Process Error", which ended the one error line after the whole command line; SUMO's
    reason was only on the line before. The error line starts with SUMO's reason and names the
    configuration."""
    net = small_grid.parent / ET.parse(small_grid).getroot().find("./input/net-file").get("value")
    tls = ET.parse(net).getroot().find("tlLogic")
    states = [p.get("state") for p in tls.findall("phase")]
    cfg = tmp_path / "off.sumocfg"
    off = tmp_path / "off.add.xml"
    off.write_text(
        f'<additional><tlLogic id="{tls.get("id")}" programID="off" type="static" offset="0">'
        f'<phase duration="60" state="{"O" * len(states[0])}"/></tlLogic></additional>'
    )
    cfg.write_text(
        small_grid.read_text()
        .replace(f'value="{net.name}"', f'value="{net}"')
        .replace("<input>", f'<input><additional-files value="{off}"/>')
        .replace('<route-files value="', f'<route-files value="{small_grid.parent}/')
    )
    done = simulate(cfg, tmp_path / "o", "fixed", "--end", "60")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: SUMO did not start: The off program for TLS '{tls.get('id')}' has phases. ({cfg};")
    assert "Process Error" not in last


def test_network_without_detectors_gets_them(runs):
    add = runs["fixed"] / "detectors.add.xml"
    loops = ET.parse(add).getroot().findall("inductionLoop")
    tomls = list((runs["fixed"] / "intersections").glob("*.toml"))
    assert len(tomls) == 9 and len(loops) >= 9 * 8


def test_an_error_in_the_metrics_thread_stops_the_run_and_leaves_no_thread(small_grid, tmp_path, monkeypatch):
    """[service] simulate_metrics_thread: a tick's metrics that raise on the tick-metrics thread
    stop the in-process run with that error at the next second (InProcessLoop waits for them),
    SUMO is closed, and no tick-metrics thread is left behind. (Work the worker has not begun
    when the run waits is run by the caller, by design, under load: from 30 s the metrics raise
    only on the worker, so the error is the thread's.)"""
    import threading

    from controller.adapters.metrics import ServiceMetrics
    from controller.config import load_config
    from sim.simulate import SimulateRequest, run

    cfg = load_config(ROOT / "config.toml")
    assert cfg.service.simulate_metrics_thread  # the shipped default is the case under test
    ran_on: list[str] = []
    tick_done = ServiceMetrics.tick_done

    def failing(self, state, result, now_s, duration_s):
        name = threading.current_thread().name
        if now_s >= 30.0 and name.startswith("tick-metrics"):
            ran_on.append(name)
            raise RuntimeError(f"metrics failed on {name}")
        tick_done(self, state, result, now_s, duration_s)

    monkeypatch.setattr(ServiceMetrics, "tick_done", failing)
    req = SimulateRequest(small_grid, tmp_path / "o", "adaptive", prefer_libsumo=False)  # traci: SUMO apart
    with pytest.raises(RuntimeError, match="metrics failed on tick-metrics"):
        run(req, cfg, progress=lambda line: None)
    assert len(ran_on) == 1  # the run stopped at the first error
    assert not [t for t in threading.enumerate() if t.name.startswith("tick-metrics")]
    assert not (tmp_path / "o" / "summary.json").exists()  # a failed run writes no summary


@pytest.mark.parametrize("policy", ["fixed", "adaptive"])
def test_network_without_traffic_lights_runs_with_nothing_to_control(tmp_path, policy):
    """Any SUMO scenario runs: a network with no traffic light at all (F's fuzz, session 29: spider
    networks whose junctions netgenerate joined) runs SUMO alone, as one whose lights are all skipped."""
    net = tmp_path / "plain.net.xml"
    run_tool([str(HOME / "bin" / "netgenerate"), "--grid", "--grid.number", "2", "-o", str(net)], tmp_path)
    cfg = scenario(tmp_path, net, end_s=300, period_s=4.0)
    done = simulate(cfg, tmp_path / policy, policy)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / policy / "summary.json").read_text())
    assert summary["junctions_controlled"] == 0 and summary["controller"]["plans_sent"] == 0
    assert summary["vehicles"]["inserted"] > 0 and summary["delay_s"] >= 0.0

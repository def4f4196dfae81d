"""`simulate --via-mqtt` against the in-process run, on a 3x3 signalised grid built here.

Lockstep through a private Mosquitto must reproduce the in-process closed loop exactly: same
seed, same trips (every tripinfo attribute), same summary figures (the `simulate` command's: the
controller in a process of its own, its run report included) — also when the broker is restarted
twice during the replay (the controller on the field's thread). The real-time mode is checked for
plans flowing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import tomli_w

sumo = pytest.importorskip("sumo")

from controller.adapters.compile_cache import warm_up  # noqa: E402
from controller.config import load_config  # noqa: E402
from sim.commands import simulate_command  # noqa: E402
from sim.simulate import SimulateRequest  # noqa: E402
from tests.live_fixtures import skip_without_mosquitto  # noqa: E402
from tests.procwait import finish  # noqa: E402
from tests.scenarios import run_figures, run_tool, trips  # noqa: E402

skip_without_mosquitto()

ROOT = Path(__file__).resolve().parents[2]
END_S = 600
LAG_S = 6.0  # test_realtime_mode_applies_plans_as_they_arrive: SUMO behind the clock in its slow stretches
# pytest's bound on a test that builds the runs: only a backstop for a hang in process, the subprocesses are
# waited on while they work (tests/procwait.py: a run that stops working fails within a minute)
BACKSTOP_S = 1200
SLOW_TICK_S = 8.0  # test_lockstep_waits_out_a_tick_longer_than_its_timeout: twice the field's timeout_s there


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("mqtt_grid")
    _grid_and_trips(Path(sumo.SUMO_HOME), work)
    _grid_configs(work)
    return {
        "dir": work,
        "sumocfg": work / "grid.sumocfg",
        "config": work / "config.toml",
        "config_forked": work / "config_forked.toml",
        "config_unpacked": work / "config_unpacked.toml",
    }


def _grid_and_trips(home: Path, work: Path) -> None:
    """work/grid.net.xml (netgenerate's 3 x 3 grid, every junction a light, seed 1) and work/trips.xml
    (randomTrips.py, one trip every 1.5 s to a minute before END_S, seed 1)."""
    run_tool(
        [
            str(home / "bin" / "netgenerate"),
            "--grid",
            "--grid.number",
            "3",
            "--grid.length",
            "200",
            "--grid.attach-length",
            "100",
            "--tls.guess",
            "--tls.guess.threshold",
            "0",
            "--seed",
            "1",
            "-o",
            "grid.net.xml",
        ],
        work,
    )
    run_tool(
        [
            sys.executable,
            str(home / "tools" / "randomTrips.py"),
            "-n",
            "grid.net.xml",
            "-o",
            "trips.xml",
            "-b",
            "0",
            "-e",
            str(END_S - 60),
            "-p",
            "1.5",
            "--seed",
            "1",
        ],
        work,
    )


def _grid_configs(work: Path) -> None:
    """work/grid.sumocfg (seed 1, to END_S) and the service's configs: webster every 60 s (config.toml), the
    controller in a process of its own (config_forked.toml), the feed one message per junction
    (config_unpacked.toml)."""
    (work / "grid.sumocfg").write_text(
        '<configuration><input><net-file value="grid.net.xml"/><route-files value="trips.xml"/></input>'
        f'<time><begin value="0"/><end value="{END_S}"/></time>'
        '<random_number><seed value="1"/></random_number></configuration>'
    )
    # A short Webster period so plans change several times per junction in 600 s.
    cfg = {"service": {"site": "grid"}, "webster": {"period_s": 60.0}}
    (work / "config.toml").write_text(tomli_w.dumps(cfg))
    # the same with the CLI's replay controller in a process of its own ([service]
    # simulate_second_process, off by default); run_via_mqtt's default (the broker-restart test)
    # stays on the field's thread either way
    cfg["service"]["simulate_second_process"] = True
    (work / "config_forked.toml").write_text(tomli_w.dumps(cfg))
    # the field's detector messages on the devices' own topics, one per junction ([service]
    # simulate_feed_pack off; on by default: a second's messages in one on sim/detectors)
    cfg["service"] = {"site": "grid", "simulate_feed_pack": False}
    (work / "config_unpacked.toml").write_text(tomli_w.dumps(cfg))


def _simulate(grid, out: Path, *extra: str, config: str = "config") -> subprocess.Popen:
    cmd = simulate_command(grid["sumocfg"], out, "webster", config=grid[config], options=extra)
    return subprocess.Popen(cmd, cwd=grid["dir"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def reference_and_mqtt(grid) -> dict[str, Path]:
    """The in-process run and the --via-mqtt runs of the same scenario (default: the controller on
    the field's thread; forked: in a process of its own), side by side."""
    outs = {name: grid["dir"] / name for name in ("in_process", "mqtt", "mqtt_forked", "mqtt_unpacked")}
    procs = {
        "in_process": _simulate(grid, outs["in_process"]),
        "mqtt": _simulate(grid, outs["mqtt"], "--via-mqtt"),
        "mqtt_forked": _simulate(grid, outs["mqtt_forked"], "--via-mqtt", config="config_forked"),
        "mqtt_unpacked": _simulate(grid, outs["mqtt_unpacked"], "--via-mqtt", config="config_unpacked"),
    }
    done = finish(procs)  # as long as they work: four 600 s runs take minutes at load 20 (tests/procwait.py)
    for name, p in procs.items():
        assert p.returncode == 0, f"{name}: {done[name][1][-2000:]}"
    return outs


@pytest.mark.timeout(BACKSTOP_S)
@pytest.mark.parametrize("variant", ["mqtt", "mqtt_forked", "mqtt_unpacked"])
def test_lockstep_via_mqtt_reproduces_the_in_process_run(reference_and_mqtt, variant):
    ref, via = reference_and_mqtt["in_process"], reference_and_mqtt[variant]
    ref_trips, via_trips = trips(ref / "tripinfo.xml"), trips(via / "tripinfo.xml")
    assert len(ref_trips) > 300
    assert via_trips == ref_trips
    ref_summary = json.loads((ref / "summary.json").read_text())
    via_summary = json.loads((via / "summary.json").read_text())
    assert run_figures(via_summary) == run_figures(ref_summary)
    # the in-process run's keys (and the transport); the same decisions, so the same control per junction
    assert set(via_summary) - {"transport"} == set(ref_summary)
    assert via_summary["junction_control"] == ref_summary["junction_control"]
    assert via_summary["decision_cost"]["ticks"] == END_S and via_summary["decision_cost"]["junctions"] == 9
    transport = via_summary["transport"]
    assert transport["mode"] == "mqtt-lockstep"
    # [service] simulate_second_process: in a process of its own, else on the field's thread
    assert transport["controller_process"] == (variant == "mqtt_forked")
    # the detector messages at the contract's QoS 0 when the field serves the controller's connection
    # (sent again after a reconnect), at QoS 1 to a controller in a process of its own
    assert transport["field"]["feed_qos"] == (1 if variant == "mqtt_forked" else 0)
    # [service] simulate_feed_pack (on): a second's detector messages in one, to either controller
    assert transport["field"]["feed_packed"] == (variant != "mqtt_unpacked")
    assert transport["controller"]["unrouted"] == 0
    # [service] simulate_metrics_thread (on): on the field's thread its tick metrics run beside the step
    assert transport["metrics_thread"] == (variant != "mqtt_forked")
    assert transport["controller"]["ticks"] == END_S
    assert transport["metrics_works"] == (0 if variant == "mqtt_forked" else END_S)  # every tick's metrics went there
    assert transport["field"]["plans_received"] == via_summary["controller"]["plans_sent"]
    # The plans really changed: Webster re-planned every 60 s at 9 junctions.
    assert via_summary["controller"]["plans_sent"] > 9 * (END_S // 60 - 1)
    assert via_summary["controller"]["feed_rejected"] == {}


@pytest.mark.timeout(BACKSTOP_S)  # may build reference_and_mqtt (four 600 s runs)
def test_broker_restarts_during_a_replay_change_nothing(grid, reference_and_mqtt, tmp_path):
    from sim.mqtt_run import run_via_mqtt

    restarts: list[threading.Thread] = []

    def chaos(loop, t_s: float) -> None:
        if t_s in (150.0, 400.0):  # restart while the next second's messages are in flight
            th = threading.Thread(target=lambda: (time.sleep(0.002), loop.broker.restart(down_s=0.3)))
            th.start()
            restarts.append(th)

    req = SimulateRequest(grid["sumocfg"], tmp_path / "out", "webster")
    summary = run_via_mqtt(req, load_config(grid["config"]), after_second=chaos, progress=lambda line: None)
    for th in restarts:
        th.join()
    assert len(restarts) == 2
    transport = summary["transport"]
    assert not transport["controller_process"]  # on the field's thread
    assert transport["controller"]["reconnects"] == 2
    assert transport["field"]["reconnects"] >= 2 * 9
    # at QoS 0 what the restart lost in flight came again (without it the lockstep waits for ever)
    assert transport["field"]["feed_qos"] == 0
    assert transport["field"]["feed_resent"] >= 1
    assert transport["field"]["plans_received"] >= summary["controller"]["plans_sent"]
    assert trips(tmp_path / "out" / "tripinfo.xml") == trips(reference_and_mqtt["in_process"] / "tripinfo.xml")


@pytest.mark.timeout(BACKSTOP_S)
def test_lockstep_waits_out_a_tick_longer_than_its_timeout(grid, tmp_path, monkeypatch):
    """The field's lockstep wait (timeout_s) is for the other side: a tick of the controller on the field's own
    thread longer than timeout_s does not stop the replay; the wait starts again after it (session 67: at load
    35 the first re-plan tick, compiling webster's loop, took over a minute and the replay stopped at t=61,
    "still waiting for ticked"). That compile is made before the first second now (warm_up, as `run` does)."""
    from controller import live
    from sim import mqtt_run

    warmed: list[str] = []
    monkeypatch.setattr(mqtt_run, "warm_up", lambda policy: warmed.append(policy) or warm_up(policy))
    slow: list[float] = []
    tick = live.ServiceNode._tick

    def slow_tick(node: live.ServiceNode, t_s: float) -> None:
        if t_s == 61.0:  # webster's first re-plan tick
            time.sleep(SLOW_TICK_S)
            slow.append(t_s)
        tick(node, t_s)

    monkeypatch.setattr(live.ServiceNode, "_tick", slow_tick)
    req = SimulateRequest(grid["sumocfg"], tmp_path / "out", "webster", sumo_args=("--end", "80"))
    summary = mqtt_run.run_via_mqtt(
        req, load_config(grid["config"]), timeout_s=SLOW_TICK_S / 2, progress=lambda line: None
    )
    assert slow == [61.0]
    assert warmed == ["webster"]  # the compile before the first second, not in the tick at 61
    assert summary["transport"]["controller"]["ticks"] == 80
    assert summary["transport"]["field"]["reconnects"] == 0


@pytest.mark.wallclock  # 10x real time: make test-slow runs it alone
@pytest.mark.timeout(180)
def test_realtime_mode_applies_plans_as_they_arrive(grid, tmp_path, monkeypatch):
    """Real time at 10x: every plan the field's devices receive is handed to its roadside in the
    field's next second, and none is refused, also while SUMO runs behind the clock as on a loaded
    machine. Here the field is held behind the clock in two stretches of 15 s (each second ends no
    sooner than LAG_S after its time on the clock; on a loaded machine it may end later), so plans
    stamped on the clock come while SUMO is 4-5 s behind it, more than the cabinet's 2 s of skew.
    Judged on SUMO's time the cabinet refused them as not yet valid (sessions 57-58, at load 16-20,
    with plans of a first re-plan tick that compiled webster's loop and expired on the way). The
    controller's feed_stale_s is widened to 60 s so that it keeps planning on the late feed (at its
    5 s it leaves a junction whose feed is that late to its local plan, and sends nothing)."""
    from sim import mqtt_run

    warmed: list[str] = []
    monkeypatch.setattr(mqtt_run, "warm_up", lambda policy: warmed.append(policy) or warm_up(policy))

    def slow_field(loop: mqtt_run.MqttLoop, t_s: float) -> None:
        if (30 <= t_s < 45 or 90 <= t_s < 105) and loop.clock is not None:
            time.sleep(max(0.0, loop.clock.wall_until(loop.offset_s + t_s + LAG_S)))

    cfg = load_config(grid["config"])
    cfg = replace(cfg, service=replace(cfg.service, feed_stale_s=60.0))
    req = SimulateRequest(grid["sumocfg"], tmp_path / "rt", "webster", sumo_args=("--end", "150"))
    wall0 = time.monotonic()
    summary = mqtt_run.run_via_mqtt(req, cfg, realtime_factor=0.1, after_second=slow_field, progress=lambda line: None)
    wall_s = time.monotonic() - wall0
    assert wall_s >= 150 * 0.1  # paced, not as fast as possible
    transport, field = summary["transport"], summary["transport"]["field"]
    assert transport["mode"] == "mqtt-realtime"
    # the first re-plan tick does not compile webster's loop (at 10x its plans expired on the way)
    assert warmed == ["webster"]
    sent = summary["controller"]["plans_sent"]
    assert sent > 0
    # each plan that came handed to its roadside, and none refused: at most the last tick's plans
    # (one per junction) still on their way when the field stopped
    assert field["plans_applied"] == field["plans_received"] >= sent - 9, (sent, field)
    assert summary["controller"]["plans_refused_by_roadside"] == 0, (sent, field)
    assert field["lag_max_s"] > 2.0, (sent, field)  # plans came while SUMO was more than the skew behind
    assert summary["controller"]["feed_rejected"] == {}
    assert (tmp_path / "rt" / "tripinfo.xml").exists()

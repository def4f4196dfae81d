"""`run_controller.py field` against `run_controller.py run` through a provisioned Mosquitto, as an
operator would start them (docs/operators.md): separate processes, credentials from the files
broker-setup writes, signed plans, a clock 20 times real time. The field applies the service's
plans (none refused) and writes its evaluation at the end of the scenario."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from controller.config import Config
from sim.broker import CREDENTIALS_DIR, Broker, free_port, provision
from sim.netimport import import_network
from tests.live_fixtures import Stopped, skip_without_mosquitto
from tests.procwait import finish

pytest.importorskip("sumo")
skip_without_mosquitto()

pytestmark = [pytest.mark.timeout(600), pytest.mark.wallclock]  # 20x real time: run alone; a backstop (procwait)
ROOT = Path(__file__).resolve().parents[2]
SPEED = 20.0
END_S = 120


def test_field_and_service_as_separate_processes(small_grid, tmp_path):
    inter, junctions, broker = _provisioned(small_grid, tmp_path)
    conf = _service_config(tmp_path, inter, broker.port)
    env = {**os.environ, "TSC_PLAN_KEYS": _plan_key()}
    creds = str(tmp_path / "broker" / CREDENTIALS_DIR)
    cli = [sys.executable, str(ROOT / "run_controller.py"), "--config", str(conf)]
    # a process that ignores SIGTERM fails the test; an error in the block stays the failure
    with Stopped() as procs:
        broker_cmd = [broker.binary, "-c", str(broker.conf_path)]
        procs.add("mosquitto", subprocess.Popen(broker_cmd, stderr=subprocess.DEVNULL))
        time.sleep(0.3)
        log = tmp_path / "service.log"  # a file, not a pipe: a pipe nobody reads fills and stalls the service
        with open(log, "wb") as err:
            service = subprocess.Popen(
                [*cli, "run", "--credentials", creds, "--speed", str(SPEED)], env=env, stdout=err, stderr=err
            )
        procs.add("the service (run)", service, log)
        field_args = ["--out", str(tmp_path / "field"), "--intersections", str(inter), "--credentials", creds]
        field = subprocess.Popen(
            [*cli, "field", str(small_grid), *field_args, "--speed", str(SPEED), "--", "--end", str(END_S)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _out, field_err = finish({"the field": field})["the field"]  # while it works: slow under load, not stuck
        assert field.returncode == 0, field_err[-2000:]
        summary = json.loads((tmp_path / "field" / "summary.json").read_text())
        transport = summary["transport"]["field"]
        assert transport["plans_received"] > len(junctions)  # every junction got plans, refreshed
        assert transport["plans_refused"] == 0, field_err[-2000:]
        assert summary["transport"]["realtime_factor"] == pytest.approx(1 / SPEED)
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=15)
        text = log.read_text()
        assert service.returncode == 0, text[-2000:]
        assert "signed=True" in text and "service stopped" in text


def _provisioned(small_grid: Path, tmp_path: Path) -> tuple[Path, list[str], Broker]:
    """The grid's junction files (imported into tmp_path/intersections), their ids, and a Mosquitto
    provisioned for them (tmp_path/broker: an operator, alice), not started."""
    inter = tmp_path / "intersections"
    import_network(Path(str(small_grid).replace(".sumocfg", ".net.xml")), inter, Config(), [])
    from controller.junctions import load_intersections

    junctions = sorted(load_intersections(inter))
    broker = provision(
        tmp_path / "broker",
        Config(),
        junctions,
        operators=["alice"],
        monitors=[],
        host="127.0.0.1",
        port=free_port(),
        repo_root=ROOT,
    )
    return inter, junctions, broker


def _service_config(tmp_path: Path, inter: Path, broker_port: int) -> Path:
    """The service's config.toml: the junction files, max_pressure, the broker, a free metrics port, an audit store."""
    conf = tmp_path / "config.toml"
    conf.write_text(
        tomli_w.dumps(
            {
                "service": {"intersections": str(inter), "policy": "max_pressure"},
                "broker": {"host": "127.0.0.1", "port": broker_port},
                "metrics": {"port": free_port()},
                "audit": {"path": str(tmp_path / "audit.sqlite")},
            }
        )
    )
    return conf


def _plan_key() -> str:
    """A new plan-signing key as TSC_PLAN_KEYS takes it (controller.adapters.keys new)."""
    return (
        subprocess.run(
            [sys.executable, "-m", "controller.adapters.keys", "new", "k1"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .replace(" ", ":")
    )

"""The parts a kill-and-check script shares (sim/restart_check.py): its command line, the SUMO
side of the run (states output, field command) and the service's config. No SUMO run, no broker process."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from controller.config import load_config
from sim.broker import Broker
from sim.restart_check import ROOT, StatesRun, check_parser, service_config, wait_field_end, write_plan_keys


def test_the_parser_takes_each_scripts_defaults_and_requires_out():
    p = check_parser("sim.x", "What it checks.\n\nMore.", end_s=300.0, kill_at_s=120.0, killed="region r0")
    a = p.parse_args(["--out", "/tmp/x"])
    assert (a.end, a.kill_at, a.speed) == (300.0, 120.0, 10.0)
    assert a.sumocfg == ROOT / "sim/scenarios/city/city.sumocfg"
    assert p.description == "What it checks." and p.prog == "python -m sim.x"
    with pytest.raises(SystemExit):
        p.parse_args([])


def test_the_states_run_writes_its_states_output_after_the_scenarios_additional_files(tmp_path: Path):
    a = check_parser("sim.x", "", end_s=260.0, kill_at_s=100.0, killed="it").parse_args(["--out", str(tmp_path / "o")])
    run = StatesRun.prepare(a)
    assert run.out == (tmp_path / "o").resolve() and run.out.is_dir()
    assert len(run.junctions) == len(list(a.intersections.glob("*.toml")))
    *scenario, states = run.additional
    assert scenario and all(Path(f).is_file() for f in scenario)
    assert Path(states).is_file() and str(run.states_path) in Path(states).read_text()
    args = run.field_args(a, ["--speed", "10"])
    assert args[:2] == ["field", str(a.sumocfg)] and args[args.index("--") + 1 :][:2] == ["--end", "260.0"]
    assert args[-1] == ",".join(run.additional)


def test_the_service_config_loads_with_the_brokers_site_and_the_written_key(tmp_path: Path):
    broker = Broker(tmp_path / "broker", "check", port=1883, binary="mosquitto")  # not started: address, site
    keys = write_plan_keys(tmp_path, "k1")
    assert keys.read_text().startswith("k1 ") and keys.stat().st_mode & 0o777 == 0o600
    conf = tmp_path / "config.toml"
    conf.write_text(tomli_w.dumps(service_config(tmp_path, broker, ROOT / "intersections/city", "ctl-x", keys)))
    cfg = load_config(conf)
    assert (cfg.service.site, cfg.service.instance, cfg.broker.port) == ("check", "ctl-x", 1883)
    assert cfg.security.plan_keys_file == str(keys) and tomllib.loads(conf.read_text())["metrics"]["port"] == 0


class _Field:
    """A field process that writes one simulated second to the states file each time it is polled, says
    "service up" in the service's log at second `up_at`, and ends after `end` seconds (never: end None)."""

    def __init__(self, states: Path, log: Path, up_at: int, end: int | None, write: bool = True) -> None:
        self.states, self.log, self.up_at, self.end, self.write, self.t = states, log, up_at, end, write, 0

    def poll(self) -> int | None:
        if self.end is not None and self.t >= self.end:
            return 0
        if self.write:
            with self.states.open("a") as f:
                f.write(f'<tlsState time="{self.t:.2f}" id="J" state="Gr"/>\n')
            if self.t == self.up_at:
                self.log.write_text("INFO controller.live service up site=restart\n")
            self.t += 1
        return None


def test_the_field_is_waited_on_while_it_writes_seconds_and_the_new_service_is_seen_up(tmp_path: Path):
    states, log = tmp_path / "tls_states.xml", tmp_path / "service2.log"
    up_at_s = wait_field_end(states, _Field(states, log, up_at=5, end=40), log, poll_s=0.0)
    assert up_at_s == 5.0
    never_up = tmp_path / "never.log"
    assert wait_field_end(states, _Field(states, never_up, up_at=99, end=80), tmp_path / "x.log", poll_s=0.0) is None


def test_a_field_that_writes_no_second_is_stuck(tmp_path: Path):
    states, log = tmp_path / "tls_states.xml", tmp_path / "service2.log"
    with pytest.raises(RuntimeError, match="stuck"):
        wait_field_end(states, _Field(states, log, up_at=0, end=None, write=False), log, stuck_s=0.3, poll_s=0.05)

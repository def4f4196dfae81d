"""`simulate` with the service in a second process (sim/service_process.py) against the service in
the run's process (InProcessLoop): the same trips and the same controller figures in summary.json
(its timings aside), on the bundled city, under the city's own programs and under a policy that
sends plans (the run waits for them each second); an error in the child stops the run with the
child's traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.config import load_config
from controller.errors import AdapterError
from sim.service_process import ServiceProcessLoop
from sim.simulate import InProcessLoop, SimulateRequest, run
from tests.scenarios import ROOT

CITY = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
TIMINGS = {"wall_s", "core_step_s", "us_per_junction_tick"}


def _untimed(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _untimed(v) for k, v in obj.items() if k not in TIMINGS}
    return obj


def _run(tmp_path: Path, name: str, loop_factory, policy: str = "fixed") -> dict:
    cfg = load_config(ROOT / "config.toml")
    req = SimulateRequest(CITY, tmp_path / name, policy, ("--end", "240", "--seed", "1"))
    run(req, cfg, loop_factory=loop_factory)
    return json.loads((tmp_path / name / "summary.json").read_text())


def _trips(path: Path) -> list[str]:
    text = (path / "tripinfo.xml").read_text()
    return [line for line in text.splitlines() if "<tripinfo " in line]


@pytest.mark.parametrize("policy", ["fixed", "adaptive"])
def test_the_service_in_a_second_process_gives_the_same_trips_and_figures(tmp_path: Path, policy: str) -> None:
    here = _run(tmp_path, "in_process", InProcessLoop, policy)
    there = _run(tmp_path, "process", ServiceProcessLoop, policy)
    assert _trips(tmp_path / "in_process") == _trips(tmp_path / "process") != []
    assert here["online_gains"] and here["junction_control"] and here["decision_cost"]["ticks"] > 200
    assert (here["controller"]["plans_sent"] > 100) == (policy == "adaptive")
    assert _untimed(there) == _untimed(here)


class _Failing(ServiceProcessLoop):
    """A frame the child cannot read: its error must reach the run."""

    sent_bad = False

    def second(self, t_s: float) -> None:
        if self.sent_bad:
            super().second(t_s)  # reads the child's error as soon as it is there
            return
        self._conn.send([(t_s, {0: {"car": 1}}, None, None, None, None, [])])
        self.sent_bad = True


def test_an_error_in_the_service_process_stops_the_run_with_its_traceback(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="the controller service's process failed"):
        _run(tmp_path, "failing", _Failing)


class _FailingAfterPlans(ServiceProcessLoop):
    """Under a policy that sends plans, the child fails after some seconds: the run, waiting for
    that second's commands, must stop with the child's error (not wait for ever)."""

    seconds = 0

    def second(self, t_s: float) -> None:
        self.seconds += 1
        if self.seconds == 30:
            self._conn.send([(t_s, {0: {"car": 1}}, None, None, None, None, [])])
            self._commands()
        super().second(t_s)


def test_an_error_in_the_service_process_stops_a_run_waiting_for_plans(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="the controller service's process failed"):
        _run(tmp_path, "failing", _FailingAfterPlans, "adaptive")


def test_a_recorder_is_refused() -> None:
    with pytest.raises(ValueError, match="without a recorder"):
        ServiceProcessLoop(None, {}, load_config(ROOT / "config.toml"), "adaptive", 0.0, archive=object())  # type: ignore[arg-type]


class _NoField:
    """What the loop reads of the field before the first second."""

    frame_layout = None

    def program_states(self) -> dict:
        return {}


def test_the_service_process_ends_when_the_run_dies_without_closing() -> None:
    """The run's end of the pipe gone (a killed run closes it with its process): the child sees
    end-of-file and ends, instead of waiting for ever as an orphan."""
    loop = ServiceProcessLoop(_NoField(), {}, load_config(ROOT / "config.toml"), "fixed", 0.0)  # type: ignore[arg-type]
    loop._conn.close()
    loop._proc.join(20.0)
    alive = loop._proc.is_alive()
    loop._proc.kill()
    assert not alive and loop._proc.exitcode == 0


def test_the_run_builds_no_metrics_of_its_own_when_its_service_runs_apart(tmp_path: Path, monkeypatch) -> None:
    """The child builds the service's metrics and reports them: the run's process builds none."""
    import sim.simulate

    built: list[object] = []

    class _Counted(sim.simulate.ServiceMetrics):  # type: ignore[misc, valid-type]
        def __init__(self, *a: object, **kw: object) -> None:
            built.append(self)
            super().__init__(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(sim.simulate, "ServiceMetrics", _Counted)
    cfg = load_config(ROOT / "config.toml")
    req = SimulateRequest(CITY, tmp_path / "apart", "fixed", ("--end", "30"))
    summary = run(req, cfg, loop_factory=ServiceProcessLoop)
    assert summary["online_gains"]["updates"] > 0 and built == []
    run(SimulateRequest(CITY, tmp_path / "here", "fixed", ("--end", "30")), cfg, loop_factory=InProcessLoop)
    assert len(built) == 1

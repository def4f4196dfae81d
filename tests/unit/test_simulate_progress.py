"""simulate's progress line: `arrived=` counts the vehicles arrived since the run began, over every
SUMO step (a step length under 1 s included), not the last step's arrivals."""

from __future__ import annotations

from types import SimpleNamespace

from sim.simulate import step_to_end


def test_the_progress_line_counts_the_runs_arrivals() -> None:
    clock = {"t": 100.0, "steps": 0}
    arrivals = [1, 0, 2, 0, 0, 3, 1, 0, 4, 0, 0, 0]  # per SUMO step of 0.5 s: 11 over the run

    def step() -> None:
        clock["steps"] += 1
        clock["t"] += 0.5

    sim = SimpleNamespace(
        getTime=lambda: clock["t"],
        getDeltaT=lambda: 0.5,
        getArrivedNumber=lambda: arrivals[clock["steps"] - 1],
        getMinExpectedNumber=lambda: 1,
    )
    api = SimpleNamespace(simulationStep=step, simulation=sim, vehicle=SimpleNamespace(getIDCount=lambda: 7))
    field = SimpleNamespace(sample_substep=lambda: None)
    loop = SimpleNamespace(plans_sent=3, second=lambda t: None)
    lines: list[str] = []
    progress = SimpleNamespace(update=lambda done, detail: lines.append(detail()))
    req = SimpleNamespace(sumocfg="c.sumocfg")
    assert step_to_end(api, loop, field, req, progress, (100.0, 106.0), 0.0) == 106.0
    arrived = [int(x.split("arrived=")[1].split()[0]) for x in lines]
    assert arrived == [1, 3, 6, 7, 11, 11], lines  # the run's, second by second
    assert lines[-1].startswith("t=106/106 s  running=7 arrived=11 plans=3 ")

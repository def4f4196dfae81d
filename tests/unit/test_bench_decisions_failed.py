"""sim/bench.py on runs in which a junction's decision raised (summary.json's junction_control counts
`failed_ticks`: the core left that junction on its own program, controller/core/step.py): the run
finished, but its figures are not the policy's. The bench says so loudly: its policy's row is marked,
the runs are named under the tables with the junction, the ticks and the reason, and it exits 1.
The simulations are faked (run_all, collect, the network import): only the report and exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import bench

ROOT = Path(__file__).resolve().parents[2]
CITY = ROOT / "sim" / "scenarios" / "city" / "city.sumocfg"
REASON = "policy webster failed: ValueError at webster.py:501: junction J: a credit from a foreign layout"


def _data(failing: bool) -> dict:
    """policy -> seed -> {summary, bins}: webster's seed 2 with J failing 400 ticks from 250 s if `failing`."""
    out: dict = {}
    for k, policy in enumerate(("fixed", "webster", "actuated", "delay_based")):
        for seed in (1, 2):
            control = {"J": {"plans": 3}, "K": {"plans": 4}}
            if failing and policy == "webster" and seed == 2:
                control["J"].update(failed_ticks=400, failed_first_t_s=250.0, failed_reason=REASON)
            summary = {"delay_s": 40.0 + k, "speed_kmh": 30.0, "throughput_veh_h": 900.0, "junction_control": control}
            bins = {"J": {0.0: {"crossed": 10.0, "time_loss_s": 50.0 + k, "waiting_s": 0.0, "sampled_s": 60.0}}}
            out.setdefault(policy, {})[seed] = {"summary": summary, "bins": bins}
    return out


def _main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data: dict) -> int:
    import controller.junctions
    import sim.netimport

    monkeypatch.setattr(bench, "run_all", lambda *a, **k: [])
    monkeypatch.setattr(bench, "collect", lambda runs, chains: data)
    monkeypatch.setattr(bench, "approach_edges", lambda net, js: {})
    monkeypatch.setattr(sim.netimport, "import_net", lambda *a, **k: None)
    monkeypatch.setattr(controller.junctions, "load_intersections", lambda d: {})
    args = ["--scenario", str(CITY), "--policies", "webster", "--seeds", "2", "--out", str(tmp_path)]
    return bench.main(args)


def test_a_run_whose_decision_raised_fails_the_bench_and_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(monkeypatch, tmp_path, _data(failing=True)) == 1
    out, err = capsys.readouterr()
    assert "| webster (a decision raised) |" in out
    assert "| fixed |" in out and "| actuated |" in out  # the others unmarked
    assert f"- webster/seed2: J (400 ticks from 250 s: {REASON})" in out
    assert "webster/seed1" not in out
    assert "error: a junction's decision raised in 1 run(s)" in err


def test_a_bench_without_any_raised_decision_passes_unmarked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(monkeypatch, tmp_path, _data(failing=False)) == 0
    out, err = capsys.readouterr()
    assert "| webster |" in out and "raised" not in out and "raised" not in err


def test_decisions_failed_lists_every_failing_junction_of_every_run() -> None:
    data = _data(failing=True)
    data["fixed"][1]["summary"]["junction_control"]["K"].update(
        failed_ticks=2, failed_first_t_s=10.0, failed_reason="r"
    )
    assert bench.decisions_failed(data) == [
        "fixed/seed1: K (2 ticks from 10 s: r)",
        f"webster/seed2: J (400 ticks from 250 s: {REASON})",
    ]
    assert bench.decisions_failed({"fixed": {1: {"summary": {}}}}) == []  # a summary without junction_control

"""`make demo`'s end (sim/demo.py): SUMO's figures against fixed-time, the online ones, the
outputs, and where Prometheus and Grafana are; the simulations replaced by stubs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim import demo


def _summary(policy: str, delay_s: float) -> dict[str, Any]:
    return {
        "policy": policy,
        "delay_s": delay_s,
        "speed_kmh": 20.0,
        "throughput_veh_h": 6850.0,
        "vehicles": {"arrived": 14842, "running": 0, "waiting": 0},
        "online_gains": {"run": {"service_s": 7795.0, "delay_gain": 0.5, "throughput_gain": None}},
    }


class _Run:
    """A finished `simulate` that wrote its summary.json (delay 150 s under fixed, 60 s otherwise)."""

    def __init__(self, cmd: list[str], **_: Any) -> None:
        out = Path(cmd[cmd.index("--out") + 1])
        policy = cmd[cmd.index("--policy") + 1]
        out.mkdir(parents=True)
        (out / "summary.json").write_text(json.dumps(_summary(policy, 150.0 if policy == "fixed" else 60.0)))
        self.returncode = 0

    def poll(self) -> int:
        return self.returncode


def test_the_demo_ends_with_the_comparison_the_outputs_and_where_grafana_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo.subprocess, "Popen", _Run)
    monkeypatch.setattr(demo.time, "sleep", lambda _s: None)
    assert demo.main(["--policies", "fixed,adaptive", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "07:00–09:10" in out  # the run's horizon: 7,800 s, not the demand's two hours
    adaptive = next(line for line in out.splitlines() if line.startswith("adaptive") and "60.0" in line)
    assert "0.40" in adaptive.split()  # delay × against fixed-time
    assert "+50.0%" in out  # the online delay gain
    assert f"outputs in {tmp_path / 'demo'}/<policy>/" in out
    assert "`make live`" in out and "grafana/README.md" in out


def test_sumo_arguments_name_the_horizon() -> None:
    text = demo.summary_text([_summary("fixed", 150.0)], Path("out"), "--end 900", 12.0)
    assert "City, --end 900 " in text
    assert "12 s of wall time" in text

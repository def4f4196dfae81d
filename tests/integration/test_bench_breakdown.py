"""sim/bench_breakdown.py times what it claims: on a 3x3 grid under adaptive, in process and via MQTT,
every stage the run goes through is called (a stage whose function the run no longer calls reads 0
calls), and no module the run has loaded holds a stage's function under its own name, where the
wrapper would not see the calls (the run is imported before the timers are installed)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

sumo = pytest.importorskip("sumo")

from sim import bench_breakdown as bb  # noqa: E402
from sim.timers import target  # noqa: E402
from tests.live_fixtures import skip_without_mosquitto  # noqa: E402
from tests.scenarios import grid_net, scenario  # noqa: E402

skip_without_mosquitto()

ROOT = Path(__file__).resolve().parents[2]
# stages the grid's adaptive run does not reach: older trees' functions, another policy's pass, the
# in-process read (via MQTT) or the transport (in process), decide() where the pass decides for all
NOT_HERE = {"policy decide (max_pressure, no pass)", "pressures", "permitted-turn box", "webster's pass (decide_all)"}
IN_PROCESS_ONLY = {"field: read loops into a frame", "service: check the frame"}


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("breakdown")
    return scenario(work, grid_net(work), end_s=180, period_s=2.0)


def _calls(capsys, *argv: str) -> dict[str, str]:
    assert bb.main(["--config", str(ROOT / "config.toml"), *argv]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    return {row[0].removeprefix("| ").replace("&nbsp;", " ").strip(): row[3] for row in rows[1:]}


@pytest.mark.parametrize("via_mqtt", [False, True], ids=["in_process", "via_mqtt"])
def test_every_stage_the_run_goes_through_is_called(grid, capsys, via_mqtt) -> None:
    extra = ("--via-mqtt",) if via_mqtt else ()
    calls = _calls(capsys, str(grid), "--policy", "adaptive", "--deep", *extra, "--", "--seed", "1")
    skip = NOT_HERE | (IN_PROCESS_ONLY if via_mqtt else set())
    stages = bb.VIA_MQTT * via_mqtt + bb.STAGES + bb.DEEP + bb.DEEP_NET
    wrapped = {lab.strip() for spec, name, lab in stages if target(spec) is not None and hasattr(target(spec), name)}
    never = sorted(lab for lab in wrapped - skip if calls[lab] == "0")
    assert never == [], f"stages timed but never called: {never}"
    assert calls["whole run (after imports)"] == "-"
    assert calls["core step (all junctions)"] == calls["policy: the network pass (every junction's decision)"]


def test_no_loaded_module_binds_a_stage_function_past_its_wrapper() -> None:
    for module in ("sim.mqtt_run", "sim.simulate"):  # what bench_breakdown imports before the timers
        importlib.import_module(module)

    stale = []
    for spec, name, label in bb.VIA_MQTT + bb.STAGES + bb.DEEP + bb.DEEP_NET:
        owner = target(spec)
        fn = getattr(owner, name, None)
        if fn is None or ":" in spec:  # a class's method is looked up on the class: always the wrapper
            continue
        own = {spec, getattr(fn, "__module__", spec)}  # the stage's module, and where it is defined
        for mod_name, mod in list(sys.modules.items()):
            if mod_name.startswith(("controller", "sim")) and mod_name not in own:
                stale += [f"{mod_name}.{k} ({label.strip()})" for k, v in vars(mod).items() if v is fn]
    assert stale == []

"""What a run pays to start: building the command line imports no MQTT client. Every
`run_controller.py` command builds the whole parser (every subcommand's options), and an
in-process `simulate` (what sim.bench and sim.bench_speed time) talks to no broker: paho and the
MQTT adapter are imported by the commands that connect (ctl, run, field, --via-mqtt), when they
run (BENCHMARKS.md, issue 12, session 25: ~45 ms of CPU a run at load ~10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def loaded_after_parsing(names: tuple[str, ...], then: str = "") -> tuple[str, str]:
    """Which of `names` a new interpreter has loaded once it has built the command line (a `simulate`'s)
    and run the code `then`: (the sorted list as printed, its stdout and stderr for the assertion)."""
    code = (
        "import sys, run_controller\n"
        "run_controller.build_parser().parse_args(['simulate', 'x.sumocfg', '--out', 'o'])\n"
        f"{then}print(sorted(m for m in {names!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip(), out.stdout + out.stderr


def test_building_the_parser_imports_no_mqtt_client():
    names, why = loaded_after_parsing(("paho.mqtt.client", "controller.adapters.mqtt"))
    assert names == "[]", why


def test_an_in_process_simulate_imports_no_progress_bar_and_no_multiprocessing():
    """tqdm draws a bar on a terminal only, and multiprocessing serves a service in a second process
    (`fixed`, `simulate_second_process`): a run in process (the benchmarks') imports neither."""
    then = (
        "import sim.cli, sim.simulate, sim.progress\n"
        "sim.progress.Progress('adaptive', 900.0, 900.0, bar=False).update(1.0, str)\n"
    )
    names, why = loaded_after_parsing(("tqdm", "multiprocessing"), then)
    assert names == "[]", why


def test_simulate_loads_neither_the_audit_store_nor_the_message_batch_read():
    """The service's checkpoints go to an audit store (sqlite3) and its detector messages are read in
    batches (feedbatch, orjson) only where there is a store or a broker: `simulate`'s service, in the
    run's process or its forked child, has neither, and its modules load neither. max_pressure's
    module loads with a policy that is one (make_policy), not with the service."""
    names = ("sqlite3", "controller.adapters.audit", "controller.adapters.checkpoints")
    names += ("controller.core.feedbatch", "controller.core.policies.max_pressure")
    loaded, why = loaded_after_parsing(names, "import sim.cli, sim.simulate, sim.service_process\n")
    assert loaded == "[]", why


def test_a_simulate_whose_import_is_cached_loads_not_the_import(tmp_path):
    """The import cache's hit (sim/netcache.py) writes the junction files without the network: the
    import's modules (sim.netimport, sim.netstages, ...) and tomli_w are loaded only by a run that
    imports. sumolib itself comes with libsumo all the same (traci.main imports sumolib.miscutils,
    which loads the package), after prepare: the split saves the import's own modules only
    (BENCHMARKS.md, issue 12, session 57)."""
    code = (
        "import sys\nfrom pathlib import Path\n"
        "import run_controller\n"
        "run_controller.build_parser().parse_args(['simulate', 'x.sumocfg', '--out', 'o'])\n"
        "from controller.config import load_config\nimport sim.cli\nfrom sim.simulate import SimulateRequest, prepare\n"
        f"req = SimulateRequest(Path('sim/scenarios/city/city.sumocfg'), Path({str(tmp_path / 'out')!r}), 'fixed')\n"
        "prepare(req, load_config('config.toml'))\n"
        "print(sorted(m for m in ('sim.netimport', 'sim.netstages', 'tomli_w') if m in sys.modules))\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = [sys.executable, "-c", code]
    first = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    assert first.stdout.strip() == "['sim.netimport', 'sim.netstages', 'tomli_w']", first.stdout + first.stderr
    second = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    assert second.stdout.strip() == "[]", second.stdout + second.stderr


def test_the_command_line_starts_numpy_with_one_blas_thread():
    """OpenBLAS starts a thread per core as numpy loads, which spins waiting for matrix products no
    command makes: `run_controller.py` asks for one (its own OPENBLAS_NUM_THREADS unless the user set
    one). Counted as the process's threads once the parser (which imports numpy) is built."""
    if (os.cpu_count() or 1) < 2 or not Path("/proc/self/task").is_dir():
        pytest.skip("one core (OpenBLAS starts no thread of its own), or no /proc to count threads in")
    code = (
        "import atexit, os, runpy, sys\n"
        "atexit.register(lambda: print('threads', len(os.listdir('/proc/self/task'))))\n"
        "sys.argv = ['run_controller.py', 'simulate', '--help']\n"
        "runpy.run_path('run_controller.py', run_name='__main__')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "threads 1", out.stdout[-300:] + out.stderr
    user = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={**env, "OPENBLAS_NUM_THREADS": "2"}
    )
    assert user.stdout.strip().splitlines()[-1] == "threads 2", user.stdout[-300:] + user.stderr

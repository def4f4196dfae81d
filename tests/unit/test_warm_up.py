"""A live service compiles webster's floors' loop at its start (controller/adapters/compile_cache.py warm_up,
webster_net.compile_raise_rows), for the very argument types a network pass gives it: its first
re-plan tick then compiles nothing (numba, about a second: in a 60 s bench run that tick's plans
were the whole p99; T, session 50). Each compiling case in a fresh process: numba's compiled forms
are per process. Then that `run` and bench_mqtt's controllers call it (nothing compiled there), and
that `run --region` hands its metrics to the failover."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# a pass's call after the warm-up: random indices padded as PaddedIndex.build pads them, owed seconds
# and bounds as raised_floors_all's callers give them; prints the signatures compiled before and after it
CASE = """
import numpy as np
from controller.core.policies import webster_net as w
from controller.live import warm_up
warm_up(POLICY)
compiled = w._compiled_raise_rows()
before = len(compiled.signatures)
rng = np.random.default_rng(7)
rows = tuple(tuple(sorted(rng.choice(4, size=rng.integers(1, 4), replace=False).tolist())) for _ in range(5))
counting, counting_on = w._padded(rows)
serving, serving_on = w._padded(tuple(r[::-1] for r in rows))
pad = w.PaddedIndex(counting, counting_on, serving, serving_on, np.array([False] * 5))
owed = rng.uniform(-5, 30, size=(3, 5))
got = w.raised_floors_all(pad, owed, np.argsort(-owed, axis=1), np.full((3, 4), 5.0), np.full((3, 4), 60.0))
print(before, len(compiled.signatures))
"""


def compiled_before_and_after(policy: str) -> list[int]:
    code = CASE.replace("POLICY", repr(policy))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return [int(x) for x in out.stdout.split()]


def test_a_webster_service_compiles_at_its_start_what_its_first_pass_calls():
    assert compiled_before_and_after("webster") == [1, 1]  # compiled at the start, nothing more at the pass


def test_another_policy_compiles_nothing_at_its_start():
    assert compiled_before_and_after("adaptive") == [0, 1]  # (its first floors-together call would compile)


# under every policy warm_up loads the estimator's compiled lane update (lanerows) and the estimator uses it from then
# on; prints the loops' signatures compiled and whether the estimator's pass runs them (E, session 68)
LANES = """
from controller.core import lanerows
from controller.live import warm_up
before = lanerows._use[0]
warm_up("adaptive")
print(before, lanerows._use[0], [len(k.signatures) for k in lanerows.kernels()])
"""


def test_every_policy_warms_the_estimators_compiled_lane_update_up_and_uses_it():
    out = subprocess.run([sys.executable, "-c", LANES], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "[1,", "1,", "1,", "1]"]


# -- numba's disk cache (warm_up, compile_cache.compile_cache_dir): a later process loads what an earlier one compiled -
# warm_up, then raise_rows compiled (or loaded) against raise_rows run by Python on random rows; prints the
# compiled loop's cache hits and misses and whether the two agree to the bit
CACHED = """
import logging
import numpy as np
from controller.core.policies import webster_net as w
from controller.live import warm_up
logging.basicConfig(level=logging.INFO)
warm_up("webster")
compiled = w._compiled_raise_rows()
rng = np.random.default_rng(11)
rows = tuple(tuple(sorted(rng.choice(4, size=rng.integers(1, 4), replace=False).tolist())) for _ in range(5))
pad = w.PaddedIndex(*w._padded(rows), *w._padded(tuple(r[::-1] for r in rows)), np.array([False] * 5))
owed = rng.uniform(-5, 30, size=(3, 5))
args = (pad.counting, pad.counting_on, pad.serving, pad.serving_on, pad.always, owed, np.argsort(-owed, axis=1))
hi, lo = np.full((3, 4), 60.0), rng.uniform(5, 20, size=(3, 4))
by_python, by_numba = lo.copy(), lo.copy()
w.raise_rows(*args, hi, by_python)
compiled(*args, hi, by_numba)
stats = compiled.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()), by_python.tobytes() == by_numba.tobytes())
"""


def warmed_up(cache_dir: Path) -> tuple[list[str], str]:
    """CACHED in a fresh process with NUMBA_CACHE_DIR=cache_dir: ([hits, misses, same bits], its log)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    out = subprocess.run([sys.executable, "-c", CACHED], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.split(), out.stderr


def test_a_second_process_loads_the_compiled_loop_the_first_saved(tmp_path):
    """The first process compiles and saves (a miss), the second loads (a hit): the same bits as Python's."""
    assert warmed_up(tmp_path)[0] == ["0", "1", "True"]
    assert len(list(tmp_path.glob("tsc-*/*/webster_net.raise_rows-*.nbc"))) == 1  # a folder per text
    assert warmed_up(tmp_path)[0] == ["1", "0", "True"]


def test_a_broken_or_unwritable_cache_is_done_without(tmp_path):
    """A cache index that cannot be read, or a cache folder that cannot be made, is logged and the loop
    compiled as without a cache: the service starts."""
    warmed_up(tmp_path)
    for index in tmp_path.glob("tsc-*/*/*.nbi"):
        index.write_bytes(b"garbage")
    got, log = warmed_up(tmp_path)
    assert got == ["0", "1", "True"] and "compile cache in" in log and "not used" in log
    (tmp_path / "a_file").write_text("")
    got, log = warmed_up(tmp_path / "a_file")
    assert got == ["0", "1", "True"] and "no compile cache" in log


# -- who calls it: `run` and bench_mqtt's controllers, once set up and before the heap is frozen --------
def calls_recorded(monkeypatch, module, stop_at: str | None = None) -> list:
    """warm_up, freeze_heap and run_realtime in `module` replaced by recorders (nothing compiled, the
    test process's heap left alone); `stop_at`: that one raises StopHere once recorded."""
    calls: list = []

    def recorder(name: str):
        def record(*args, **kwargs):
            calls.append((name, args[:1]))
            if name == stop_at:
                raise StopHere

        return record

    for name in ("warm_up", "freeze_heap", "run_realtime"):
        if hasattr(module, name):
            monkeypatch.setattr(module, name, recorder(name))
    return calls


class StopHere(Exception):
    pass


def test_run_warms_its_policy_up_before_it_freezes_the_heap_and_ticks(monkeypatch):
    """live.main (`run_controller.py run`): warm_up(the node's policy), then freeze_heap, then the
    real-time loop. Never connected (no broker), the ticking replaced by a recorder."""
    import dataclasses

    from controller import live
    from controller.adapters.mqtt import MqttClient
    from controller.config import Config
    from tests.junction_fixtures import two_phase

    calls = calls_recorded(monkeypatch, live)
    monkeypatch.setattr(live, "load_intersections", lambda path: {"J": two_phase()})
    monkeypatch.setattr(live.ServiceNode, "start", lambda self, wait=True, serving=True: self)
    monkeypatch.setattr(MqttClient, "wait_connected", lambda self, timeout_s, stop=None: None)
    cfg = Config()
    cfg = dataclasses.replace(
        cfg,
        service=dataclasses.replace(cfg.service, policy="webster"),
        metrics=dataclasses.replace(cfg.metrics, port=0),
        audit=dataclasses.replace(cfg.audit, path=""),
        security=dataclasses.replace(cfg.security, require_signed=False, plan_keys_env=""),
    )
    assert live.main(cfg) == 0
    assert [name for name, _ in calls] == ["warm_up", "freeze_heap", "run_realtime"]
    assert calls[0] == ("warm_up", ("webster",))


def test_bench_mqtts_controllers_warm_their_policy_up_as_run_does(monkeypatch, tmp_path):
    """sim/bench_mqtt.py controller_process: warm_up(its policy, webster), then freeze_heap (stopped
    there: the rest is the bench's run). Never connected."""
    from controller.live import ServiceNode
    from sim import bench_mqtt
    from tests.junction_fixtures import two_phase

    calls = calls_recorded(monkeypatch, bench_mqtt, stop_at="freeze_heap")
    monkeypatch.setattr(bench_mqtt, "city_junction", lambda workdir, cfg: two_phase())
    monkeypatch.setattr(ServiceNode, "start", lambda self, wait=True: self)
    region = bench_mqtt.bench_regions(bench_mqtt.replicate(two_phase(), 2), 1)[0].name
    spec = {"workdir": str(tmp_path), "n": 2, "k": 1, "region": region, "host": "127.0.0.1", "port": 1}
    with pytest.raises(StopHere):
        bench_mqtt.controller_process({**spec, "password": "", "pump": False})
    assert calls == [("warm_up", ("webster",)), ("freeze_heap", ())]


def test_run_with_a_region_hands_its_metrics_to_the_failover(monkeypatch):
    """live.main with `--region` builds its Failover with the node's own ServiceMetrics, so that a
    region it takes over reports on this instance's /metrics (b1ae2eb). Dropping `metrics=` from the
    call left every other test green (R, session 51). Stopped at the Failover: never connected."""
    import dataclasses

    from controller import live, takeover
    from controller.config import Config, RegionsConfig

    seen: dict = {}

    def failover(node, *args, **kwargs):
        seen["node_metrics"], seen["metrics"] = node.service.metrics, kwargs.get("metrics")
        raise StopHere

    monkeypatch.setattr(takeover, "Failover", failover)
    cfg = Config()
    cfg = dataclasses.replace(
        cfg,
        regions=RegionsConfig(count=2, lease_s=15.0),
        metrics=dataclasses.replace(cfg.metrics, port=0),
        audit=dataclasses.replace(cfg.audit, path=""),
        security=dataclasses.replace(cfg.security, require_signed=False, plan_keys_env=""),
    )
    with pytest.raises(StopHere):
        live.main(cfg, region="r0")
    assert isinstance(seen["metrics"], live.ServiceMetrics)
    assert seen["metrics"] is seen["node_metrics"]

import sys
from collections import OrderedDict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests import the project's packages from the checkout
    sys.path.insert(0, str(ROOT))

from tests.scenarios import grid_net, scenario  # noqa: E402


def _pin_hypothesis_constants() -> None:
    """Make derandomized Hypothesis examples independent of what else the process imported.

    Hypothesis (6.170 here) sometimes draws a number from a pool of the literal constants found in
    every non-test module loaded in the process (sys.modules), and rescans the pool whenever
    sys.modules grows. The same derandomized test then draws other examples when another test
    module imported, say, sim.loops first: an example set, and any share measured over it,
    changed with test order (tests/unit/test_hypothesis_determinism.py). The pool of local
    constants is pinned empty; Hypothesis's own constants (boundaries, NaN, ...) still apply."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # hypothesis not installed, or a layout without the pool
        return
    if hasattr(providers, "_get_local_constants"):
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty


_pin_hypothesis_constants()

CORPUS = "test_corpus.py"  # tests/integration/test_corpus.py: split by network over the workers


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "wallclock: paces a run in real time or waits on wall-clock deadlines (brokers, failover, "
        "restarts, scrapes); make test-slow runs these alone, serially, after the parallel pass",
    )


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown when it is not installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`--dist loadfile` (make test-slow) with the corpus split by network. A module stays on one
    worker: its tests share its module-scoped fixtures (one SUMO run, one broker, one RabbitMQ
    cluster), which two workers would each make. The corpus (tests/integration/test_corpus.py),
    the largest module of the slow part, would then run on one worker: there a network is the
    unit, its runs together (they build the network into the shared cache, and two workers
    building the same one would replace its folder under each other's run). Not xdist_group
    marks with `--dist loadgroup`: pytest-xdist 3.8 tags the node id pytest 9 no longer reads,
    so every group was split (checked on a module of four tests: two per worker)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class CorpusByNetwork(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _assign_work_unit(self, node: object) -> None:
            started_first(self.workqueue)
            super()._assign_work_unit(node)

    return CorpusByNetwork(config, log)


# Work units of one long test each. pytest-xdist hands out the units with the most tests first, so these came
# last, when one of them could leave the other worker idle to the end of the pass; they are handed out first
# (each a whole scenario or two: tests/cpu_times.py, BENCHMARKS.md, F session 65). Only the order: a name
# missing from the run is passed over.
STARTED_FIRST = (
    "tests/integration/test_replay_geh.py",
    "tests/integration/test_bench_key_run.py",
    "tests/integration/test_sharding.py",
    "tests/integration/test_twin_policy.py",
)


def started_first(workqueue: OrderedDict[str, object]) -> None:
    """Move the first unit of STARTED_FIRST still waiting in `workqueue` (pytest-xdist's, by unit) to its front."""
    first = next((u for u in STARTED_FIRST if u in workqueue), None)
    if first is not None:
        workqueue.move_to_end(first, last=False)


def work_unit(nodeid: str) -> str:
    """The module of a test id; for the corpus, the module and the network (ids "NET-POLICY")."""
    module, _, test = nodeid.partition("::")
    if Path(module).name == CORPUS and "[" in test:
        return f"{module}[{test.split('[', 1)[1].rsplit('-', 1)[0]}]"
    return module


@pytest.fixture(scope="session")
def small_grid(tmp_path_factory) -> Path:
    """A 3x3 signalised grid with left-turn lanes and 10 minutes of random demand (.sumocfg)."""
    work = tmp_path_factory.mktemp("small_grid")
    return scenario(work, grid_net(work), end_s=600, period_s=1.0)


@pytest.fixture
def clients():
    """The MQTT clients (controller.adapters.mqtt.MqttClient) a test opens: append each one;
    all are closed after the test."""
    made: list = []
    yield made
    for c in made:
        c.close(flush_s=0.2)


@pytest.fixture(autouse=True, scope="session")
def _cache_out_of_home(tmp_path_factory: pytest.TempPathFactory):
    """What the code caches (sim/sumo.py's table of SUMO's option names) goes to a folder of the
    test session, not the user's ~/.cache; subprocesses inherit it."""
    import os

    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg_cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(autouse=True)
def _collector_on_after():
    """Python's garbage collector on again after each test: a gathering live node keeps CPython's
    automatic collections off while it runs (controller/live.py IdleCollector), and a test that ticks
    one without closing it must not leave them off for the tests after it in the process."""
    import gc

    yield
    if not gc.isenabled():
        gc.enable()

import sys
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

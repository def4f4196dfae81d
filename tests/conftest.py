import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests import the project's packages from the checkout
    sys.path.insert(0, str(ROOT))

from tests.scenarios import grid_net, scenario  # noqa: E402


@pytest.fixture(scope="session")
def small_grid(tmp_path_factory) -> Path:
    """A 3x3 signalised grid with left-turn lanes and 10 minutes of random demand (.sumocfg)."""
    work = tmp_path_factory.mktemp("small_grid")
    return scenario(work, grid_net(work), end_s=600, period_s=1.0)

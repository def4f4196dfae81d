"""How `make test-slow` shares the slow part between two workers (tests/conftest.py): a module is
one unit of work (its module-scoped runs are made once), except the corpus, split by network with
the runs of a network together (they share the network built into the cache); the long units of one
test each handed out first."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from tests.conftest import STARTED_FIRST, started_first, work_unit

ROOT = Path(__file__).resolve().parents[2]

CORPUS = "tests/integration/test_corpus.py::test_runs_600_s_without_error"


def test_a_module_is_one_unit_of_work():
    sim = "tests/integration/test_simulate.py"
    assert work_unit(f"{sim}::test_writes_three_outputs_with_plausible_values[fixed]") == sim
    assert work_unit(f"{sim}::test_webster_actually_sends_plans") == sim
    assert work_unit("tests/unit/test_safety_properties.py::Case::test_x") == "tests/unit/test_safety_properties.py"


def test_the_corpus_is_one_unit_per_network():
    units = {
        work_unit(f"{CORPUS}[{net}-{policy}]")
        for net, policy in [
            ("corpus/grid_x", "adaptive"),
            ("corpus/grid_x", "delay_based"),
            ("resco/cologne1", "adaptive"),
            ("resco/cologne1", "max_pressure"),
            ("bologna/acosta", "adaptive"),
        ]
    }
    assert len(units) == 3 and all(u.startswith("tests/integration/test_corpus.py[") for u in units)


def test_the_long_units_of_one_test_are_handed_out_first():
    """pytest-xdist's queue (the units with most tests first) is handed out from its front: STARTED_FIRST's
    units waiting come first, in their order, the others after them as they were; each names a module."""
    assert all((ROOT / u).is_file() for u in STARTED_FIRST)
    queue = OrderedDict.fromkeys(["tests/integration/test_simulate.py", STARTED_FIRST[2], "a.py", STARTED_FIRST[0]])
    handed = []
    while queue:
        started_first(queue)
        handed.append(queue.popitem(last=False)[0])
    assert handed == [STARTED_FIRST[0], STARTED_FIRST[2], "tests/integration/test_simulate.py", "a.py"]

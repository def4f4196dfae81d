"""How `make test-slow` shares the slow part between two workers (tests/conftest.py): a module is
one unit of work (its module-scoped runs are made once), except the corpus, split by network with
the runs of a network together (they share the network built into the cache)."""

from __future__ import annotations

from tests.conftest import work_unit

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

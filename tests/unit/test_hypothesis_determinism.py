"""Derandomized Hypothesis tests draw the same examples whatever the process imported before
(tests/conftest.py `_pin_hypothesis_constants`): a measured share over the examples, such as
tests/unit/test_safety_gate.py's central-control share, must not depend on test order."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.junction_strategies import feeds, junctions, wishes
from tests.safety_chain import chain_settings


def _drawn(n_examples: int) -> list[str]:
    """The examples test_whatever_the_policy_says_the_signal_shown_stays_safe draws, as text."""
    out: list[str] = []

    @chain_settings(n_examples)
    @given(st.data())
    def one(data: st.DataObject) -> None:
        j = data.draw(junctions())
        script = data.draw(st.lists(st.tuples(wishes(j), st.integers(1, 40)), min_size=1, max_size=30))
        out.append(repr((j, script, data.draw(feeds(300)))))

    one()
    return out


def test_a_module_imported_in_between_does_not_change_the_derandomized_examples(tmp_path: Path) -> None:
    before = _drawn(25)
    # a non-test module with constants in the ranges the strategies draw (floats, feed seeds)
    name = "tsc_constants_probe"
    (tmp_path / f"{name}.py").write_text(
        "PROBE = (123456, 654321, 4000000000, 37.25, 212.5, 399.75, -41.5, 7.125, 1e6, 0.375)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module(name)
        after = _drawn(25)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
    assert len(before) == 25
    assert after == before, next(i for i, (a, b) in enumerate(zip(before, after)) if a != b)

"""step._evolve: the same JunctionState as dataclasses.replace, without its introspection."""

from __future__ import annotations

import dataclasses

import pytest

from controller.core import step
from controller.core.step import JunctionState


def test_evolve_equals_replace_and_leaves_the_original() -> None:
    js = JunctionState(estimate=None, policy_state=("p", 1), seq=3)  # type: ignore[arg-type]
    new = step._evolve(js, seq=4, stale=False, red_since_s=(1.0, 2.0))
    assert new == dataclasses.replace(js, seq=4, stale=False, red_since_s=(1.0, 2.0))
    assert (js.seq, js.stale, js.red_since_s) == (3, True, ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.seq = 5  # type: ignore[misc]


def test_evolve_refuses_an_unknown_field() -> None:
    js = JunctionState(estimate=None, policy_state=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sequence"):
        step._evolve(js, sequence=1)

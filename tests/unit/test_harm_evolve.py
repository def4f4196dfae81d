"""harm._evolve: the field-dict copy that stands in for dataclasses.replace on HarmState."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from controller.core import harm


def _state() -> harm.HarmState:
    replay = object()  # _evolve copies fields and never looks inside them
    return harm.HarmState(replay, since_s=3.0, approach=np.array([0, 1]), spill_pcu_s=(1.0, 2.0))  # type: ignore[arg-type]


def test_evolve_equals_replace() -> None:
    s = _state()
    changes = {"excess_s": 4.5, "excess_t_s": 10.0, "spill_pcu_s": (0.5, 0.25), "mode": "fixed"}
    new = harm._evolve(s, **changes)
    ref = dataclasses.replace(s, **changes)
    assert type(new) is harm.HarmState
    for f in dataclasses.fields(harm.HarmState):
        assert getattr(new, f.name) is getattr(ref, f.name), f.name
    assert s.excess_s == 0.0 and s.mode == "policy"  # the original is untouched


def test_evolve_is_still_frozen() -> None:
    new = harm._evolve(_state(), excess_s=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.excess_s = 2.0  # type: ignore[misc]


def test_evolve_rejects_unknown_field() -> None:
    with pytest.raises(TypeError, match="HarmState has no field \\['excess'\\]"):
        harm._evolve(_state(), excess=1.0)


def test_harm_state_has_no_validation_that_replace_would_run() -> None:
    """_evolve skips __init__: valid only while HarmState has no __post_init__ and no init=False field."""
    assert not hasattr(harm.HarmState, "__post_init__")
    assert all(f.init for f in dataclasses.fields(harm.HarmState))

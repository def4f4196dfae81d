"""controller/core/frozen.py: copier(kind) builds what dataclasses.replace builds, refuses an unknown
field by name, and refuses a class a plain copy of the fields would get wrong; the three states the core
copies on its hot path (step.JunctionState, harm.HarmState, webster.WebsterState) go through it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from controller.core import frozen, harm, step
from controller.core.policies import webster


@dataclass(frozen=True)
class _Rec:
    a: float
    b: tuple[float, ...] = ()
    c: np.ndarray | None = None
    d: str = "x"


def _same(a: object, b: object) -> None:
    """The same class, the same field names in the same order, each the very same object."""
    assert type(a) is type(b)
    assert list(vars(a)) == list(vars(b))
    for name in vars(a):
        assert getattr(a, name) is getattr(b, name), name


def test_a_copy_is_what_replace_builds_and_leaves_the_original() -> None:
    copy = frozen.copier(_Rec)
    rec = _Rec(1.0, (2.0, 3.0), np.arange(3.0))
    changes: dict[str, Any] = {"b": (4.0,), "d": "y"}
    new = copy(rec, **changes)
    _same(new, dataclasses.replace(rec, **changes))
    assert new == dataclasses.replace(rec, **changes) and new is not rec
    assert (rec.b, rec.d) == ((2.0, 3.0), "x")
    _same(copy(rec), dataclasses.replace(rec))
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.a = 2.0  # type: ignore[misc]


def test_an_unknown_field_is_refused_naming_the_class_and_the_field() -> None:
    copy = frozen.copier(_Rec)
    with pytest.raises(TypeError, match=r"^_Rec has no field \['bb'\]$"):
        copy(_Rec(1.0), a=2.0, bb=1)
    with pytest.raises(TypeError, match=r"\['e', 'f'\]"):
        copy(_Rec(1.0), f=1, e=2)


def test_a_class_a_plain_copy_gets_wrong_is_refused() -> None:
    @dataclass(frozen=True)
    class Checked:
        a: float

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True)
    class Derived:
        a: float
        b: float = field(init=False, default=0.0)

    @dataclass(frozen=True)
    class Listed:
        a: list[int] = field(default_factory=list)

    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: float

    class Plain:
        pass

    for kind, why in (
        (Checked, "Checked has a __post_init__"),
        (Derived, r"Derived\.b is init=False"),
        (Listed, r"Listed\.a has a default_factory"),
        (Slotted, "Slotted has __slots__"),
        (Plain, "Plain is not a dataclass"),
    ):
        with pytest.raises(TypeError, match=why):
            frozen.copier(kind)


def test_the_core_states_are_copied_by_it() -> None:
    js = step.JunctionState(estimate=None, policy_state=("p", 1), seq=3)  # type: ignore[arg-type]
    _same(step._evolve(js, seq=4, red_since_s=(1.0,)), dataclasses.replace(js, seq=4, red_since_s=(1.0,)))
    hs = harm.HarmState(object(), since_s=3.0, spill_pcu_s=(1.0, 2.0))  # type: ignore[arg-type]
    _same(harm._evolve(hs, excess_s=4.5, mode="fixed"), dataclasses.replace(hs, excess_s=4.5, mode="fixed"))
    ws = webster.WebsterState(12.0, np.ones(3), np.zeros(3), green_phase=1)
    _same(webster.evolved(ws, green_phase=0), dataclasses.replace(ws, green_phase=0))
    arr, dep = np.ones(2), np.zeros(2)
    _same(webster._new_state(5.0, arr, dep, retimed=True), webster.WebsterState(5.0, arr, dep, retimed=True))
    with pytest.raises(TypeError, match=r"WebsterState has no field \['retimd'\]"):
        webster._new_state(5.0, arr, dep, retimd=True)
    with pytest.raises(TypeError, match="multiple values"):  # as the constructor refuses it
        webster._new_state(5.0, arr, dep, period_start_s=6.0)  # type: ignore[misc]

"""A fast copy of a frozen dataclass with some fields changed: what `dataclasses.replace` builds.

`dataclasses.replace(obj, **changes)` looks the class's fields up on every call, then runs the
class's `__init__`, which sets each field through `object.__setattr__`. The core copies its
per-junction states several times a junction and tick (issue 12), so:

    evolve = copier(JunctionState)          # once, at import: the class is checked here
    new = evolve(js, seq=js.seq + 1)        # == dataclasses.replace(js, seq=js.seq + 1)

The copy is a new object whose `__dict__` is the old one's updated with the changes: the very
object `replace` builds while the class has no `__post_init__`, no `init=False` field, no
`default_factory` and no `__slots__`. `copier` refuses a class that has any of them (TypeError,
naming the class and what it has), and the copy refuses an unknown field name as `replace` does
(TypeError, naming the class and the field). The copy is frozen as the original is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


def copyable_fields(kind: type) -> frozenset[str]:
    """The field names of `kind`, a dataclass a plain copy of the `__dict__` rebuilds as its
    `__init__` would; TypeError naming what stands in the way."""
    if not dataclasses.is_dataclass(kind):
        raise TypeError(f"{kind.__name__} is not a dataclass")
    if hasattr(kind, "__post_init__"):
        raise TypeError(f"{kind.__name__} has a __post_init__: a copy of its fields would skip it")
    if "__slots__" in vars(kind):
        raise TypeError(f"{kind.__name__} has __slots__: its fields are not in a __dict__")
    for f in dataclasses.fields(kind):
        if not f.init:
            raise TypeError(f"{kind.__name__}.{f.name} is init=False: replace would not copy it")
        if f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{kind.__name__}.{f.name} has a default_factory")
    return frozenset(f.name for f in dataclasses.fields(kind))


def copier(kind: type[_T]) -> Callable[..., _T]:
    """`copy(obj, **changes)`: `dataclasses.replace(obj, **changes)` for instances of `kind`
    (checked once here, copyable_fields), without the per-call introspection. An unknown field
    name raises TypeError naming `kind` and the field."""
    names = copyable_fields(kind)
    name = kind.__name__
    new_object = object.__new__

    def copy(obj: _T, /, **changes: Any) -> _T:
        if not changes.keys() <= names:
            raise TypeError(f"{name} has no field {sorted(changes.keys() - names)}")
        new: _T = new_object(kind)
        values = new.__dict__
        values.update(obj.__dict__)
        values.update(changes)
        return new

    copy.__doc__ = f"dataclasses.replace(obj, **changes) for a {name} (frozen.copier)."
    return copy

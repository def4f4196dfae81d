"""Records cut from network records field by field, when a field is first read (pure).

The network passes (netestimate.py, netshadow.py) compute every junction's arrays as one long
array per field; each junction then gets its own record (a LaneState, a Side, a Replay ...)
whose fields are views of its part. Most fields of most junctions are not read in most ticks,
so a `Cut` record slices a field only when it is read, then keeps the view: a field read twice
is the same array, and the values never change (the network arrays are never written after the
pass). A Cut is an instance of the record's own class (isinstance holds, dataclasses.fields,
replace, copy and pickle work); `dataclasses.replace` on it gives an ordinary record.

Example: `class LaneCut(Cut, LaneState)`; `cut_of(LaneCut, network_lanes, a, b)` is the LaneState
of lanes a:b, `joined_field(cuts, "queue_pcu")` the network array again when `cuts` are all of
one network record's junctions, in order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

_C = TypeVar("_C", bound="Cut")
_R = TypeVar("_R")


class Cut:
    """Mixin: the record's fields are read from `_src` (a record of the same fields over the
    network), cut to `_at` (a slice) along their last axis for the fields named in
    COLUMNS_LAST, along their first otherwise. Fields set when the cut is made are kept as
    given. Each dataclass field of the record gets a `_Lazy` descriptor on the Cut class: the
    first read cuts and stores the view in the instance, which later reads find directly."""

    COLUMNS_LAST: ClassVar[frozenset[str]] = frozenset()
    # fields that are records themselves: the field is a Cut of the given kind of the source's
    # record, over the same entries, made when first read (a Replay's Side: netshadow.ReplayCut)
    NESTED: ClassVar[Mapping[str, type[Cut]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            nested = cls.NESTED.get(f.name)
            lazy = _Lazy(f.name, f.name in cls.COLUMNS_LAST) if nested is None else _LazyCut(f.name, nested)
            setattr(cls, f.name, lazy)


class _Lazy:
    """A non-data descriptor: the instance's own value (its __dict__) wins once stored. The field's view of the
    source's entries `_at` is cut (`_cut`) at the first read and stored."""

    __slots__ = ("columns", "name")

    def __init__(self, name: str, columns: bool) -> None:
        self.name, self.columns = name, columns

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        d = obj.__dict__
        if "_src" not in d:
            raise AttributeError(self.name)
        value = self._cut(getattr(d["_src"], self.name), d["_at"])
        d[self.name] = value
        return value

    def _cut(self, whole: Any, at: slice) -> Any:
        """The entries `at` of the source's field `whole`: along its last axis (COLUMNS_LAST) or its first."""
        return whole[(slice(None), at) if self.columns else at]


class _LazyCut(_Lazy):
    """_Lazy for a field that is a record (Cut.NESTED): its Cut over the same entries."""

    __slots__ = ("kind",)

    def __init__(self, name: str, kind: type[Cut]) -> None:
        super().__init__(name, False)
        self.kind = kind

    def _cut(self, whole: Any, at: slice) -> Any:
        return cut_of(self.kind, whole, at.start, at.stop)


def cut_of(kind: type[_C], src: object, a: int, b: int, **known: object) -> _C:
    """A `kind` record of `src`'s entries a:b, its fields views cut when read; `known`: fields
    given now (not cut from `src`)."""
    out: _C = object.__new__(kind)
    d = out.__dict__
    d["_src"], d["_at"] = src, slice(a, b)
    d.update(known)
    return out


def record_of(kind: type[_R], fields: dict[str, Any]) -> _R:
    """A `kind` record whose fields are `fields`, the dict itself its __dict__ (a frozen dataclass without
    __post_init__ or init=False fields: what its __init__ would build from them, without the call and a
    setattr per field). The caller hands the dict over: it must not change it after."""
    out: _R = object.__new__(kind)
    object.__setattr__(out, "__dict__", fields)
    return out


def cut_at(kind: type[_C], src: object, at: slice, known: dict[str, object] | None = None) -> _C:
    """cut_of with its slice made already (`at`: entries a:b; a caller cutting the same entries
    every tick keeps the slices), and the fields given now in a dict (`known`)."""
    out: _C = object.__new__(kind)
    d = out.__dict__
    d["_src"] = src
    d["_at"] = at
    if known is not None:
        d.update(known)
    return out


class Fields(Sequence[Any]):
    """The field `name` of each of `records` (each read when indexed), and the record they are
    all cut from with their end (`source`: joined_source's answer, known to the maker without reading
    them: netestimate.lanes_of)."""

    def __init__(self, records: Sequence[object], name: str, source: tuple[object, int]) -> None:
        self.records, self.name, self.source = records, name, source

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [getattr(r, self.name) for r in self.records[k]]
        return getattr(self.records[k], self.name)


def joined_field(records: Sequence[object], name: str) -> np.ndarray | None:
    """The network array `records`' field `name` is cut from, when they are Cuts of one source
    record covering it whole, in order (then concatenating their fields would give it back);
    else None."""
    known = joined_source(records)
    if known is None:
        return None
    whole: np.ndarray = getattr(known[0], name)
    return whole if whole.shape[-1] == known[1] else None


class Joined:
    """joined_field for several fields of the same records, their source found once; a field
    whose source array does not cover them (or of records not cut from one source) is
    concatenated from the records."""

    def __init__(self, records: Sequence[object]) -> None:
        self.records = records
        self.known = joined_source(records)

    def __call__(self, name: str) -> np.ndarray:
        if self.known is not None:
            whole: np.ndarray = getattr(self.known[0], name)
            if whole.shape[-1] == self.known[1]:
                return whole
        arrays = [getattr(x, name) for x in self.records]
        return np.concatenate(arrays) if arrays else np.zeros(0)


def joined_source(records: Sequence[object]) -> tuple[object, int] | None:
    """(source, end) when `records` are Cuts of one source record covering its entries 0:end,
    in order (a field of the source whose last axis has `end` entries is then the records' fields
    joined); else None. A Fields knows its own."""
    if isinstance(records, Fields):
        return records.source
    src, end = None, 0
    for r in records:
        d = r.__dict__
        at = d.get("_at")
        if at is None or at.start != end or (src is not None and d["_src"] is not src):
            return None
        src, end = d["_src"], at.stop
    return None if src is None else (src, end)

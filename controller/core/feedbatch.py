"""A tick's detector messages decoded together (the MQTT path): the JSON messages of many
junctions turned into the arrays of the in-process feed (core/feedarrays.py), so that both feeds
are checked by the same code (`check_frame`, the rules of core/feedrules.py).

`split_batch` parses every message (orjson) and puts into a `DetectorFrame` each one that has
the plain shape of its junction's message: a JSON object of version MESSAGE_VERSION naming a
junction of the layout (the one its topic names), numbers for `t` and `period_s`, the junction's
own loops in the order of its model (`Intersection.detectors`), each with a counts object of
known classes and integer counts within [0, max_count(period_s)] and numbers for occupancy and
speed. A junction's k-th plain message of the batch is in layer k (its first in layer 0), and
the messages of a layer with the same (t, period_s) share a frame; the frames go layer by layer
(a tick that takes two seconds of every junction, after a late start or an overrun, validates two
frames, not 1 + the second seconds one by one at many times the cost: BENCHMARKS.md, T, session 54). Every other
message is left to `decode_detector_message` (core/feed.py), one by one, which gives the reason it
is refused, or reads it: malformed JSON (or JSON orjson does not read exactly as the json module:
NaN, numbers beyond the float range, a byte-order mark), a wrong type or an out-of-range count
anywhere, an unknown junction, other loops or another order, a group too small to be a frame
(MIN_FRAME_SHARE), and every later message of a junction with one of those.

Guarantee: checking each frame with `check_frame(..., present=)`, in order, and then decoding the
`rest` one by one in arrival order accepts and refuses the same messages, for the same reasons,
with the same readings, as decode_detector_message on every message in arrival order: a junction's
messages keep their order (its k-th in layer k, after its earlier ones; once one is left to the
one-by-one path, the later ones after it), and junctions do not depend on one another. Values
of a count are not in the frame's rules' order (classes), so a message with a bad count goes one
by one: its reason names the first bad count in its own order.

Each message is read alone first (`read_message`: parsed and, when plain, its readings as flat
columns), a pure function of the message, the junction its topic names and the layout: a caller
may read each message as it arrives and hand the reads to split_batch with the batch (`reads`),
which then groups them as it would have read them (the same frames and the same rest).

A read first tries msgspec's decoder typed with the plain shape (`_read_typed`: the types, the
classes and the loops' three readings checked in C while parsing, a loop's counts read as one
count per class, absent ones 0), which takes only a subset of what the general read calls plain:
an ASCII message that msgspec reads into that shape, of version MESSAGE_VERSION, naming its
topic's junction of the layout, with its loops in model order and every count within [0, top].
Anything else goes to the general read (orjson, then the columns per loop), which says whether it
is plain. On the messages both take, both give the same frame (tests/unit/test_feedbatch.py).
The typed read bounds every count by SMALL_COUNT first (max_count of a one-second period), so
that its counts column is one byte a count (array "B") in place of a 64-bit integer, and a
period of a second or more needs no check of the counts after parsing; a message with a count
past it is decoded again without the bound (the same read, with 64-bit counts).

Pure (orjson and msgspec are parsers).

Example: `layout = BatchLayout.build(junctions)` once, then each tick
`batch = split_batch([(jid, payload), ...], layout)`, or with each message read as it arrived,
`split_batch(messages, layout, [read_message(payload, jid, layout) for jid, payload in messages])`.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import is_, itemgetter
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson
from msgspec.structs import astuple

from controller.core import feedrules as rules
from controller.core.feed import MAX_PAYLOAD_BYTES  # a larger message is refused there
from controller.core.feedarrays import DetectorFrame, FrameLayout
from controller.core.messages import MESSAGE_VERSION
from controller.model import VEHICLE_CLASSES, Intersection

# A (t, period_s) group becomes a frame when it holds at least this share of the layout's
# junctions: a frame's checks and estimation pass cost the whole layout's arrays, so a few
# stragglers with their own timestamps are cheaper one by one.
MIN_FRAME_SHARE = 1 / 64

_NUMBER_TYPES = frozenset({int, float})
_DICT = frozenset({dict})
_INT = frozenset({int})
_CLASS_COLUMN = {c: k for k, c in enumerate(VEHICLE_CLASSES)}
_LOOP_FIELDS = itemgetter("counts", "occupancy", "speed_mps")  # a loop's readings, in _columns' order
_EMPTY: dict[str, Any] = {}
_INT64_MAX = 2**63 - 1


_Count = Annotated[int, msgspec.Meta(ge=0)]


class _Counts(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """A loop's counts as _read_typed decodes them: one integer >= 0 per class (VEHICLE_CLASSES), absent 0."""

    car: _Count = 0
    bus: _Count = 0
    truck: _Count = 0
    motorcycle: _Count = 0
    bicycle: _Count = 0


class _Loop(msgspec.Struct, gc=False):
    """A loop's readings as _read_typed decodes them (other keys ignored, as the general read does). Their
    order is _read_typed's: it reads a loop as the tuple of its fields (msgspec.structs.astuple)."""

    occupancy: float
    speed_mps: float
    counts: _Counts = msgspec.field(default_factory=_Counts)


class _Message(msgspec.Struct, gc=False):
    """A detector message as _read_typed decodes it (other keys ignored, as the general read does)."""

    v: int
    junction: str
    t: float
    period_s: float
    detectors: Mapping[str, _Loop]  # (a dict: Mapping for the subclass below)


if _Counts.__struct_fields__ != VEHICLE_CLASSES:  # a loop's counts column per class, in the classes' order
    raise TypeError(f"feedbatch._Counts's fields {_Counts.__struct_fields__} are not VEHICLE_CLASSES {VEHICLE_CLASSES}")
_DECODE = msgspec.json.Decoder(_Message).decode

# The counts of most messages (a period of at least a second): each fits a byte.
SMALL_COUNT = int(rules.max_count(1.0))
if not 0 < SMALL_COUNT <= 255:
    raise TypeError(f"feedbatch.SMALL_COUNT {SMALL_COUNT} does not fit a byte")
_SmallCount = Annotated[int, msgspec.Meta(ge=0, le=SMALL_COUNT)]


class _SmallCounts(_Counts, forbid_unknown_fields=True, frozen=True, gc=False):
    """_Counts with every count at most SMALL_COUNT (the fields in _Counts' order)."""

    car: _SmallCount = 0
    bus: _SmallCount = 0
    truck: _SmallCount = 0
    motorcycle: _SmallCount = 0
    bicycle: _SmallCount = 0


class _SmallLoop(_Loop, gc=False):
    counts: _SmallCounts = msgspec.field(default_factory=_SmallCounts)


class _SmallMessage(_Message, gc=False):
    detectors: Mapping[str, _SmallLoop]


if _SmallCounts.__struct_fields__ != _Counts.__struct_fields__:
    raise TypeError(f"feedbatch._SmallCounts's fields {_SmallCounts.__struct_fields__} are not _Counts'")
_DECODE_SMALL = msgspec.json.Decoder(_SmallMessage).decode

# (array is not subscriptable at run time before Python 3.12: the names are for the type checker)
_Columns = tuple["array[int]", "array[int]", "array[int]", "array[float]", "array[float]"]
# read_message's result: (the junction, ((t, period_s), junction position, loop columns) or None); the loop
# columns: count entries per loop, their classes, the counts (64-bit; one byte each from the typed read),
# occupancy, speed
Read = tuple[str | None, tuple[tuple[float, float], int, _Columns] | None]


@dataclass(frozen=True)
class BatchLayout:
    """The frame layout of a batch: every junction with its loops in the order of its model."""

    frame: FrameLayout
    position: Mapping[str, int]  # junction id -> position in frame.junctions
    loops: tuple[tuple[str, ...], ...]  # per position, the loop ids in message order
    # per position, the per-loop and class columns of its loops with a count of every class (the
    # typed read's: one pair per number of loops, shared, never written)
    every_class: tuple[tuple[array[int], array[int]], ...]

    @staticmethod
    def build(junctions: Mapping[str, Intersection]) -> BatchLayout:
        loops = {jid: tuple(d.id for d in j.detectors) for jid, j in junctions.items()}
        frame = FrameLayout.build(loops)
        n = len(VEHICLE_CLASSES)
        shared = {k: (_ints(repeat(n, k)), _ints(list(range(n)) * k)) for k in set(map(len, loops.values()))}
        return BatchLayout(
            frame,
            {jid: k for k, jid in enumerate(frame.junctions)},
            tuple(loops.values()),
            tuple(shared[len(ids)] for ids in loops.values()),
        )


@dataclass(frozen=True)
class DetectorBatch:
    """What split_batch made of a batch: frames with the junctions each carries (`present`, bool
    per junction of the layout), and the positions in the batch of the messages to decode one by
    one, in arrival order, after the frames."""

    frames: tuple[tuple[DetectorFrame, np.ndarray], ...]
    rest: tuple[int, ...]


@dataclass
class _Group:
    """The plain messages of one (t, period_s): batch index and junction position of each, and
    their loops' readings as flat columns (_columns), message after message: each message's
    columns as they are, joined into arrays by _frame."""

    index: list[int]
    position: list[int]
    per_loop: list[array[int]]
    classes: list[array[int]]
    values: list[array[int]]
    occupancy: list[array[float]]
    speed: list[array[float]]

    def add(self, i: int, position: int, columns: _Columns) -> None:
        self.index.append(i)
        self.position.append(position)
        self.per_loop.append(columns[0])
        self.classes.append(columns[1])
        self.values.append(columns[2])
        self.occupancy.append(columns[3])
        self.speed.append(columns[4])


def split_batch(
    messages: Sequence[tuple[str | None, bytes]], layout: BatchLayout, reads: Sequence[Read] | None = None
) -> DetectorBatch:
    """messages: (the junction its topic names, or None; payload) in arrival order. reads: each
    message's read_message with this layout, made before (as it arrived); None: read here.
    ValueError when reads are not one per message."""
    if reads is not None and len(reads) != len(messages):
        raise ValueError(f"split_batch: {len(reads)} reads for {len(messages)} messages")
    groups, rest = _group(messages, layout, reads)
    frames = []
    min_size = MIN_FRAME_SHARE * len(layout.frame.junctions)
    alone: set[int] = set()  # junctions (positions) with a message left one by one: their later ones too
    for (_layer, t, period), group in sorted(groups.items(), key=lambda kv: kv[0][0]):  # a layer's in arrival order
        if alone.intersection(group.position):
            group = _without(group, alone, rest)
        if len(group.index) < min_size:
            rest.extend(group.index)
            alone.update(group.position)
        else:
            frames.append(_frame(layout, t, period, group))
    return DetectorBatch(tuple(frames), tuple(sorted(rest)))


def _without(group: _Group, alone: set[int], rest: list[int]) -> _Group:
    """The group without the messages of junctions in `alone` (their batch positions added to `rest`)."""
    keep = [m for m, position in enumerate(group.position) if position not in alone]
    rest.extend(i for m, i in enumerate(group.index) if group.position[m] in alone)
    out = _Group([], [], [], [], [], [], [])
    for m in keep:
        columns = (group.per_loop[m], group.classes[m], group.values[m], group.occupancy[m], group.speed[m])
        out.add(group.index[m], group.position[m], columns)
    return out


def _group(
    messages: Sequence[tuple[str | None, bytes]], layout: BatchLayout, reads: Sequence[Read] | None
) -> tuple[dict[tuple[int, float, float], _Group], list[int]]:
    """The plain messages by (layer, t, period_s), a junction's k-th in layer k, and the others
    (batch positions). A junction whose message is left to the one-by-one path keeps all its later
    messages there."""
    groups: dict[tuple[int, float, float], _Group] = {}
    rest: list[int] = []
    layers: dict[str, int] = {}  # junction -> its plain messages so far (the layer of its next)
    left: set[str] = set()  # junctions with a message left to the one-by-one path
    unknown = False  # a message named no junction (no topic, unreadable body): all later ones are left
    for i, (topic_jid, payload) in enumerate(messages):
        jid, plain = read_message(payload, topic_jid, layout) if reads is None else reads[i]
        if unknown or plain is None or jid in left:
            rest.append(i)
            unknown = unknown or jid is None
            if jid is not None:
                left.add(jid)
            continue
        assert jid is not None
        layer = layers[jid] = layers.get(jid, -1) + 1
        (t, period), position, columns = plain
        group = groups.get((layer, t, period))
        if group is None:
            group = groups[(layer, t, period)] = _Group([], [], [], [], [], [], [])
        group.add(i, position, columns)
    return groups, rest


def read_message(payload: bytes, topic_jid: str | None, layout: BatchLayout) -> Read:
    """(the junction the message is about, ((t, period_s), junction position, loop columns))
    when the message is plain, else (that junction or None, None). The parsed message is dropped
    here: only flat columns stay (thousands of parsed messages kept alive slow the garbage
    collector down more than the parsing costs). Pure: the same message, topic and layout give
    the same read, whenever it is made."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return topic_jid, None
    typed = _read_typed(payload, topic_jid, layout)
    return typed if typed is not None else _read_parsed(payload, topic_jid, layout)


def _read_typed(payload: bytes, topic_jid: str | None, layout: BatchLayout) -> Read | None:
    """read_message of a message msgspec decodes into the plain shape (module docstring); None
    for any other (the general read says what it is). ASCII only: msgspec does not check the
    UTF-8 of keys it skips, orjson refuses a message with invalid UTF-8 anywhere.

    First with every count at most SMALL_COUNT (_DECODE_SMALL: the counts then fit a byte each, a
    column of bytes, array "B", in place of a 64-bit integer per count); a message that does not
    decode so for its types or a count (a ValidationError) is decoded again without that bound."""
    if not payload.isascii():
        return None
    try:
        msg = _DECODE_SMALL(payload)
    except msgspec.ValidationError:  # (a DecodeError: the JSON reads, its shape or a count does not)
        return _read_typed_wide(payload, topic_jid, layout)
    except (msgspec.DecodeError, RecursionError):  # deep nesting recurses
        return None
    position = _position(msg, topic_jid, layout)
    if position is None:
        return None
    # each loop as its fields' tuple (_Loop's order), then a column per field: one pass in C over the loops
    occupancy, speed, counts = zip(*map(astuple, msg.detectors.values())) if msg.detectors else ((), (), ())
    values = bytes(chain.from_iterable(map(astuple, counts)))  # (_Counts' fields are VEHICLE_CLASSES, in order)
    top = rules.max_count(msg.period_s)
    if values and top < SMALL_COUNT and max(values) > top:  # (a period under a second; >= 0: msgspec's)
        return None
    per_loop, classes = layout.every_class[position]
    return msg.junction, (
        (msg.t, msg.period_s),
        position,
        (per_loop, classes, array("B", values), array("d", occupancy), array("d", speed)),
    )


def _read_typed_wide(payload: bytes, topic_jid: str | None, layout: BatchLayout) -> Read | None:
    """_read_typed for a message with a count past SMALL_COUNT (or that the typed read does not
    take): the counts as 64-bit integers (the typed read before SMALL_COUNT, ASCII check included)."""
    if not payload.isascii():
        return None
    try:
        msg = _DECODE(payload)
    except (msgspec.DecodeError, RecursionError):  # (a ValidationError is a DecodeError; deep nesting recurses)
        return None
    position = _position(msg, topic_jid, layout)
    if position is None:
        return None
    occupancy, speed, counts = zip(*map(astuple, msg.detectors.values())) if msg.detectors else ((), (), ())
    values = list(chain.from_iterable(map(astuple, counts)))
    if values and max(values) > min(rules.max_count(msg.period_s), _INT64_MAX):  # (>= 0: msgspec's)
        return None
    per_loop, classes = layout.every_class[position]
    return msg.junction, (
        (msg.t, msg.period_s),
        position,
        (per_loop, classes, _ints(values), array("d", occupancy), array("d", speed)),
    )


def _position(msg: _Message, topic_jid: str | None, layout: BatchLayout) -> int | None:
    """The position of a typed message's junction in the layout; None unless the message is of
    MESSAGE_VERSION, names its topic's junction (when a topic names one) and lists that junction's
    loops in model order."""
    jid = msg.junction
    position = layout.position.get(jid)
    if (
        msg.v != MESSAGE_VERSION
        or position is None
        or (topic_jid is not None and jid != topic_jid)
        or tuple(msg.detectors) != layout.loops[position]
    ):
        return None
    return position


def _read_parsed(payload: bytes, topic_jid: str | None, layout: BatchLayout) -> Read:
    """read_message by orjson and the columns per loop: any message."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return topic_jid, None
    if type(obj) is not dict or obj.get("v") != MESSAGE_VERSION:
        return topic_jid, None
    jid = obj.get("junction")
    if type(jid) is not str or (topic_jid is not None and jid != topic_jid):
        return topic_jid, None
    position = layout.position.get(jid)
    t: Any = obj.get("t")
    period: Any = obj.get("period_s")
    dets: Any = obj.get("detectors")
    if (
        position is None
        or type(t) not in _NUMBER_TYPES
        or type(period) not in _NUMBER_TYPES
        or type(dets) is not dict
        or tuple(dets) != layout.loops[position]
    ):
        return jid, None
    columns = _columns(list(dets.values()), rules.max_count(period))
    if columns is None:
        return jid, None
    return jid, ((float(t), float(period)), position, columns)


def _frame(layout: BatchLayout, t_s: float, period_s: float, group: _Group) -> tuple[DetectorFrame, np.ndarray]:
    """The group's frame over the whole layout, and which junctions it carries."""
    fl = layout.frame
    positions = np.asarray(group.position, dtype=np.intp)
    sizes = np.diff(fl.det_start)[positions]
    first = np.cumsum(sizes) - sizes  # each message's first loop among the group's
    occupancy, speed = _joined(group.occupancy, np.float64), _joined(group.speed, np.float64)
    rows = np.repeat(fl.det_start[positions] - first, sizes) + np.arange(len(occupancy))
    n, k = len(fl.detectors), len(VEHICLE_CLASSES)
    counts = np.zeros((n, k), dtype=np.int64)
    every = layout.every_class
    if all(map(is_, group.classes, [every[p][1] for p in group.position])):  # typed reads alone (their columns)
        counts[rows] = _joined_counts(group.values, k * len(rows)).reshape(-1, k)
    else:
        _scatter(counts, rows, group)
    occ, spd = np.zeros(n), np.full(n, -1.0)
    occ[rows] = occupancy
    spd[rows] = speed
    present = np.zeros(len(fl.junctions), dtype=bool)
    present[positions] = True
    return DetectorFrame(fl, t_s, period_s, counts, occ, spd), present


def _scatter(counts: np.ndarray, rows: np.ndarray, group: _Group) -> None:
    """The group's counts written into `counts` (loops x classes) at its loops' `rows`, entry by entry
    (by rows when every loop counts every class in order)."""
    k = counts.shape[1]
    per_loop, classes = _joined(group.per_loop, np.int64), _joined(group.classes, np.int64)
    values = _joined_counts(group.values, len(classes))
    if len(classes) == k * len(rows) and (per_loop == k).all() and (classes.reshape(-1, k) == np.arange(k)).all():
        counts[rows] = values.reshape(-1, k)  # every loop counts every class in order: by rows
    else:
        counts[np.repeat(rows, per_loop), classes] = values


def _joined(parts: list[array[Any]], dtype: type[np.generic]) -> np.ndarray:
    """The messages' columns of one kind end to end, as one array (of their own machine type)."""
    return np.frombuffer(b"".join(parts), dtype=dtype)


def _joined_counts(parts: list[array[int]], n: int) -> np.ndarray:
    """The messages' count columns end to end (n entries): a typed read's one byte a count (array
    "B"), another's 64-bit integers (array "q"). All of one byte when the joined bytes are n."""
    joined = b"".join(parts)
    if len(joined) == n:  # every column with an entry is of bytes (an empty one adds nothing)
        return np.frombuffer(joined, dtype=np.uint8)
    return np.concatenate([np.frombuffer(p, dtype=np.uint8 if p.typecode == "B" else np.int64) for p in parts])


def _columns(loops: list[Any], top: float) -> _Columns | None:
    """One message's loops as flat columns: the number of count entries of each loop, the class
    column and the count of every entry (64-bit integers), each loop's occupancy and speed (64-bit
    floats, as numpy reads a JSON number's int or float); None unless every loop is an object
    whose counts are an object of known classes with integer counts within [0, top] and whose
    occupancy and speed are JSON numbers (their ranges are check_frame's)."""
    if loops and set(map(type, loops)) != _DICT:
        return None
    try:  # every loop with all three keys (the roadside's message): read in C, not per loop in Python
        counts, occupancy, speed = zip(*map(_LOOP_FIELDS, loops))
    except (KeyError, ValueError):  # a key missing (counts default to none), or no loops
        counts = tuple(d.get("counts", _EMPTY) for d in loops)
        occupancy = tuple(d.get("occupancy") for d in loops)
        speed = tuple(d.get("speed_mps") for d in loops)
    if not (
        set(map(type, counts)) <= _DICT
        and set(map(type, occupancy)) <= _NUMBER_TYPES
        and set(map(type, speed)) <= _NUMBER_TYPES
    ):
        return None
    classes = list(map(_CLASS_COLUMN.get, chain.from_iterable(counts), repeat(-1)))
    values = list(chain.from_iterable(map(dict.values, counts)))
    top = min(top, _INT64_MAX)
    if values and not (set(map(type, values)) <= _INT and min(classes) >= 0 and 0 <= min(values) <= max(values) <= top):
        return None
    return _ints(map(len, counts)), _ints(classes), _ints(values), array("d", occupancy), array("d", speed)


def _ints(values: Iterable[int]) -> array[int]:
    """64-bit signed integers (the frame's counts; _columns checked the range)."""
    return array("q", values)

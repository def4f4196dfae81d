"""Every field of a junction file, set alone to a bad value of its type (a string for a number or a switch, a number
for a string, a list or a table, a negative or non-finite number, a fraction or a switch for a count, an empty string,
list or array of tables), is refused at load by a JunctionError naming the file and the field (or the field above
it: a list's own name for a bad entry), never accepted and never another exception; as config.toml's keys are
(test_config_walk.py). The fields are the loader's own schema (junctions.keys_read: every key it looks for, in
every table it opens), drawn from two files: the bundled city's J00 and netconvert's mid-block crossing imported with
every crossing key on (crossing_links, crossings, transitions, ped_min_green_s). A field either file lacks is
written with the loader's default, so a new optional field is walked without a word here; one without a default
that neither file gives takes its value from EXAMPLES (the test names it until it has one), as do the fields
walked deeper than their default (an entry of clearance_s, program_timeline's lists). Each field once, where it
first appears (session 61: 1,508 cases on eight files of the machine's junction files, all refused so)."""

from __future__ import annotations

import copy
import math
import re
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from controller.config import load_config
from controller.errors import JunctionError
from controller.junctions import keys_read, parse_intersection
from sim.netimport import import_network
from tests.netbuild import midblock_net

ROOT = Path(__file__).resolve().parents[2]
Path_ = tuple[str | int, ...]


def _bad_values(v: Any) -> list[tuple[str, Any]]:
    """(what is wrong, a value) for a field whose good value is `v`."""
    if isinstance(v, bool):
        return [("a string", "yes"), ("a number", 1)]
    if isinstance(v, int):
        return [("a string", "5"), ("negative", -1), ("a fraction", 1.5), ("a switch", True)]
    if isinstance(v, float):
        return [
            ("a string", "5"),
            ("negative", -1.0),
            ("not finite", math.nan),
            ("infinite", math.inf),
            ("a switch", True),
        ]
    if isinstance(v, str):
        return [("a number", 5), ("a list", ["a"]), ("empty", "")]
    if isinstance(v, dict):
        return [("a number", 5), ("a list", [1])]
    assert isinstance(v, list), v
    if v and all(isinstance(x, dict) for x in v):
        return [("a number", 5), ("empty", []), ("not tables", [1])]
    if all(isinstance(x, str) for x in v):
        return [("a number", 5), ("a string", "a"), ("numbers", [1, 2])]
    if all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return [("a number", 5), ("strings", ["a"]), ("negative", [-2]), ("switches", [True])]
    return [("a number", 5), ("strings", ["a"]), ("negative", [-1.0]), ("not finite", [math.nan])]


def _fields(table: dict[str, Any], name: str = "", path: Path_ = ()) -> Iterator[tuple[str, Path_]]:
    """(the field's name as the loader writes it, `movements[0].lanes`; its path in the table), each field."""
    for key, v in table.items():
        nm = f"{name}.{key}" if name else key
        yield nm, (*path, key)
        if isinstance(v, dict):
            yield from _fields(v, nm, (*path, key))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                yield from _fields(x, f"{nm}[{i}]", (*path, key, i))


def _at(table: Any, path: Path_) -> Any:
    for p in path:
        table = table[p]
    return table


# the fields no walked file gives whose default does not walk them: no default (program_timeline, read only where
# given; a loop's room and length, which import-net writes where it knows them) or an empty one (clearance_s: {}),
# in the city's J00 (they fit its links and phases), by the table the loader names them in, at its first row
EXAMPLES: dict[str, dict[str, Any]] = {
    "": {
        "clearance_s": {"0>4": 2.0},
        "pair_intergreen_s": {"0>4": 9.0},
        "program_timeline": {"phases": [0, -1, 1, -1, 2, -1, 3, -1], "durations_s": [31, 5, 6, 5, 31, 5, 6, 5]},
        "programs": [{"id": "evening", "yellow_s": 3.0, "all_red_s": 2.0}],
        "program_id": "day",
    },
    "detectors[]": {"length_m": 1.5, "room_m": 120.0, "room_to_turn_off_pcu": 3.0},
}


def _row(table: dict[str, Any], shape: str) -> dict[str, Any]:
    """The first row of the table named `shape` ('' the file's root, 'movements[]' its first movement)."""
    if not shape:
        return table
    name, _, rest = shape.partition(".")
    row = table[name.removesuffix("[]")]
    row = row[0] if name.endswith("[]") else row
    return _row(row, rest) if rest else row


def _with_every_field(
    table: dict[str, Any], path: str, examples: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], set[str]]:
    """`table` with the `examples` fields and, for every field the loader looks for that the table lacks, its
    default where it has one (at the first row of its table); and the fields still without a value (dotted,
    `detectors[].room_m`)."""
    out = copy.deepcopy(table)
    for shape, fields in examples.items():
        _row(out, shape).update(copy.deepcopy(fields))
    missing = set()
    for shape, keys in keys_read(out, path).items():
        row = _row(out, shape)
        for key, default in keys.items():
            if key in row:
                continue
            if default is ...:
                missing.add(f"{shape}.{key}" if shape else key)
            else:
                row[key] = copy.deepcopy(default)
    return out, missing


@pytest.fixture(scope="module")
def midblock(tmp_path_factory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("walk")
    cfg = load_config(ROOT / "config.toml")
    keys = {"crossing_red_is_clearance": True, "ped_min_from_program": True, "crossings_max_red": True}
    import_network(midblock_net(d), d / "j", replace(cfg, timing=replace(cfg.timing, **keys)))
    return tomllib.loads((d / "j" / "m.toml").read_text())


def _within(field: str, above: str) -> bool:
    """`field` is `above` or a field inside it (`movements[0].lanes` in `movements[0]`, in `movements`)."""
    return field == above or field.startswith((f"{above}.", f"{above}["))


def _walk(table: dict[str, Any], path: str) -> tuple[int, list[str]]:
    """The cases tried, and each one not refused so: accepted, another field named, another exception."""
    parse_intersection(table, path)  # as it is: read
    seen, tried, wrong = set(), 0, []
    for name, at in _fields(table):
        if (shape := re.sub(r"\[\d+\]", "[]", name)) in seen:
            continue
        seen.add(shape)
        for what, value in _bad_values(_at(table, at)):
            bad = copy.deepcopy(table)
            _at(bad, at[:-1])[at[-1]] = value
            tried += 1
            try:
                parse_intersection(bad, path)
                wrong.append(f"{name} {what}: accepted")
            except JunctionError as e:
                if e.path != path or not (_within(e.field, name) or _within(name, e.field)):
                    wrong.append(f"{name} {what}: {e}")
                elif not str(e).startswith(f"{path}: {e.field}: "):
                    wrong.append(f"{name} {what}: the message {e}")
            except Exception as e:  # what the walk is for: any other exception is a fault
                wrong.append(f"{name} {what}: {type(e).__name__}: {e}")
    return tried, wrong


@pytest.fixture(scope="module")
def walked(midblock: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The two files with every field: (table, its path)."""
    city = tomllib.loads((ROOT / "intersections" / "city" / "J00.toml").read_text())
    return [
        (_with_every_field(city, "intersections/city/J00.toml", EXAMPLES)[0], "intersections/city/J00.toml"),
        (_with_every_field(midblock, "m.toml", {})[0], "m.toml"),
    ]


def test_every_field_the_loader_reads_has_a_value_in_a_walked_file(midblock: dict[str, Any]) -> None:
    """What the walk derives from the loader: each key it looks for, in each table, is in a walked file (a field
    without a default that neither file gives is named here, to be given in EXAMPLES)."""
    city = tomllib.loads((ROOT / "intersections" / "city" / "J00.toml").read_text())
    (c, city_missing), (m, mid_missing) = _with_every_field(city, "J00", EXAMPLES), _with_every_field(midblock, "m", {})
    assert city_missing & mid_missing == set()
    known = {
        f"{shape}.{key}" if shape else key for t in (c, m) for shape, keys in keys_read(t, "-").items() for key in keys
    }
    assert {"program_timeline.phases", "detectors[].room_m", "movements[].cyclist_clear_s", "paired"} <= known
    # EXAMPLES names only fields the loader reads (a field dropped from the loader is dropped here)
    assert {f"{shape}.{key}" if shape else key for shape, keys in EXAMPLES.items() for key in keys} <= known


def test_every_field_of_the_city_s_junction_file_with_every_optional_one(walked: list[Any]) -> None:
    table, path = walked[0]
    assert {"paired", "actuated", "program_timeline"} <= set(table)
    assert {"bus_lane", "cyclist_clear_s"} <= set(table["movements"][0])
    tried, wrong = _walk(table, path)
    assert tried > 150 and wrong == []


def test_every_field_of_an_imported_crossing_with_the_crossing_keys(
    midblock: dict[str, Any], walked: list[Any]
) -> None:
    assert {"crossing_links", "crossings", "transitions"} <= set(midblock)
    table, path = walked[1]
    tried, wrong = _walk(table, path)
    assert tried > 100 and wrong == []

"""Every field of a junction file, set alone to a bad value of its type (a string for a number or a switch, a number
for a string, a list or a table, a negative or non-finite number, a fraction or a switch for a count, an empty string,
list or array of tables), is refused at load by a JunctionError naming the file and the field (or the field above
it: a list's own name for a bad entry), never accepted and never another exception; as config.toml's keys are
(test_config_walk.py). The fields are drawn from two files: the bundled city's J00 with the optional fields it
lacks (clearance_s, paired, coupled, program_timeline, actuated, bus_lane), and netconvert's mid-block crossing
imported with every crossing key on (crossing_links, crossings, transitions, ped_min_green_s), so a field the
importer writes later is walked too. Each field once, where it first appears (session 61: 1,508 cases on eight
files of the machine's junction files, all refused so)."""

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
from controller.junctions import parse_intersection
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


def _city_with_the_optional_fields() -> dict[str, Any]:
    t = tomllib.loads((ROOT / "intersections" / "city" / "J00.toml").read_text())
    t |= {"clearance_s": {"0>4": 2.0}, "paired": ["J01"], "coupled": ["J10"], "actuated": False}
    t["program_timeline"] = {"phases": [0, -1, 1, -1, 2, -1, 3, -1], "durations_s": [31, 5, 6, 5, 31, 5, 6, 5]}
    t["movements"][0]["bus_lane"] = False
    t["movements"][0]["cyclist_clear_s"] = 16.5  # [timing] cyclist_clearance
    return t


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


def test_every_field_of_the_city_s_junction_file_with_its_optional_ones() -> None:
    tried, wrong = _walk(_city_with_the_optional_fields(), "intersections/city/J00.toml")
    assert tried > 150 and wrong == []


def test_every_field_of_an_imported_crossing_with_the_crossing_keys(midblock) -> None:
    assert {"crossing_links", "crossings", "transitions"} <= set(midblock)
    tried, wrong = _walk(midblock, "m.toml")
    assert tried > 100 and wrong == []

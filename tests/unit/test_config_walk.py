"""Every key of every config.toml section, set alone to a bad value of its type (a string for a number,
a number for a string or a switch, a negative or non-finite number, a fraction for an integer, a malformed
table), is refused at load by a ConfigError naming the file, the section and the key; so are an unknown
section, an unknown key and an unknown policy name. The cases are drawn from the Config dataclasses, so a
key added later is walked too."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from controller.config import Config, ConfigError, load_config


def _bad_values(want: Any) -> list[tuple[str, Any]]:
    """(what is wrong, a value) for a field of type `want`."""
    if want is bool:
        return [("a string", "yes"), ("a number", 1)]
    if want is int:
        return [("a string", "5"), ("negative", -1), ("a fraction", 1.5), ("a switch", True)]
    if want is float:
        return [("a string", "5"), ("negative", -1.0), ("not finite", float("nan")), ("a switch", True)]
    if want is str:
        return [("a number", 5), ("a list", ["a"])]
    if want == tuple[str, ...]:
        return [("a number", 5), ("numbers", [1, 2])]
    if want == dict[str, list[str]]:
        return [("a number", 5), ("a string", "r0"), ("not lists", {"r0": "J1"}), ("numbers", {"r0": [1]})]
    raise AssertionError(f"no bad values for type {want!r}: add them here")


def _cases() -> list[Any]:
    cases = []
    for section, cls in typing.get_type_hints(Config).items():
        if section == "source":
            continue
        for f in dataclasses.fields(cls):
            for what, value in _bad_values(typing.get_type_hints(cls)[f.name]):
                cases.append(pytest.param(section, f.name, value, id=f"{section}.{f.name}-{what}"))
    return cases


@pytest.mark.parametrize("section, key, value", _cases())
def test_a_bad_value_of_each_key_is_named_with_the_file_the_section_and_the_key(
    tmp_path: Path, section: str, key: str, value: Any
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps({section: {key: value}}))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.path == str(path)
    assert err.value.field.startswith(f"{section}.{key}")  # regions.named.r0: the entry within the table
    assert str(err.value).startswith(f"{path}: {section}.{key}")


@pytest.mark.parametrize(
    "raw, field, words",
    [
        ({"nosuch": {"a": 1}}, "nosuch", "unknown section"),
        ({"timing": {"nosuch_s": 1}}, "timing.nosuch_s", "unknown key"),
        ({"timing": 5}, "timing", "must be a table"),
        ({"service": {"policy": "max_presure"}}, "service.policy", "unknown policy 'max_presure'; known: adaptive"),
        ({"service": {"policy": "actuated"}}, "service.policy", "unknown policy"),  # simulate's baseline, not a policy
        ({"regions": {"named": {"r0": ["J1"], "r1": "J2"}}}, "regions.named.r1", "must be a list of names"),
    ],
)
def test_unknown_sections_keys_and_policies_are_named(tmp_path: Path, raw: dict, field: str, words: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(raw))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.path == str(path) and err.value.field == field and words in err.value.problem


def test_every_policy_and_a_region_table_load(tmp_path: Path) -> None:
    from controller.core.policies import REGISTRY

    for name in REGISTRY:
        path = tmp_path / f"{name}.toml"
        path.write_text(tomli_w.dumps({"service": {"policy": name}, "regions": {"named": {"r0": ["J1"]}}}))
        cfg = load_config(path)
        assert cfg.service.policy == name and cfg.regions.named == {"r0": ["J1"]}
